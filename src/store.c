/*
 * store.c - what the on-disk stores (Digest secret, nonce counts,
 * sessions, upload spools) share: one subdirectory of datadir each, so an
 * administrator can give each its own file system and one filling up
 * cannot starve the others, and short byte-range locks with a deadline.
 * A store that cannot answer in time marks the request: the handler's
 * 500 becomes 503 with Retry-After (ih_error), never a hang and never a
 * silent fall-back to another store.
 *
 * Locks are open-file-description locks (F_OFD_SETLK): they belong to the
 * open file, not the process, so they work between the processes of
 * inetd mode and between threads alike, and close(2) releases them.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/*
 * A store's directory must be ours alone: a directory (datadir itself
 * may be reached through a link, its subdirectories may not), owned by
 * the user we run as, writable by nobody else, or anyone who can write
 * there could plant a session or replace the Digest secret.
 */
static int
dir_ours(const char *path, int follow, const char **why)
{
	struct stat st;

	if ((follow ? stat(path, &st) : lstat(path, &st)) == -1) {
		*why = strerror(errno);
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		*why = "not a directory";
	else if (st.st_uid != geteuid())
		*why = "owned by another user";
	else if ((st.st_mode & 022) != 0)
		*why = "writable by group or others (chmod 700)";
	else
		return 0;
	errno = EPERM;
	return -1;
}

/*
 * store_dir in base (datadir, or NULL for cfg.datadir) for a cache, which
 * works without it: nothing is logged, and *why (else errno) says what
 * failed.
 */
int
store_dir_try(const char *base, const char *sub, char *out, size_t len,
    const char **why)
{
	int n;

	*why = NULL;
	if (base == NULL)
		base = cfg.datadir;
	if (base == NULL) {
		*why = "not set";
		return -1;
	}
	if (mkdir(base, 0700) == -1 && errno != EEXIST)
		return -1;
	if (dir_ours(base, 1, why) == -1)
		return -1;
	n = snprintf(out, len, "%s%s%s", base, sub != NULL ? "/" : "",
	    sub != NULL ? sub : "");
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (sub != NULL && mkdir(out, 0700) == -1 && errno != EEXIST)
		return -1;
	if (sub != NULL && dir_ours(out, 0, why) == -1)
		return -1;
	return 0;
}

/*
 * datadir/SUB (SUB may be NULL for datadir itself), both created mode
 * 0700 when missing, and refused when another user could write there;
 * the path is written to out.  0, or -1 with errno (logged once per
 * process).
 */
int
store_dir(const char *sub, char *out, size_t len)
{
	static int logged;
	const char *why;

	if (store_dir_try(NULL, sub, out, len, &why) == 0)
		return 0;
	if (!logged++)
		ih_log(IH_LOG_ERR, "datadir %s%s%s: %s", cfg.datadir,
		    sub != NULL ? "/" : "", sub != NULL ? sub : "",
		    why != NULL ? why : strerror(errno));
	return -1;
}

/*
 * The check of store_dir without creating anything: 0 when datadir/SUB
 * is ours alone or does not exist yet (then it holds nothing to trust),
 * -1 with errno (logged) when it exists and another user could write
 * there.
 */
int
store_dir_trusted(const char *sub)
{
	char path[4096];
	const char *why = NULL;
	struct stat st;
	int n;

	n = snprintf(path, sizeof(path), "%s/%s", cfg.datadir, sub);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (lstat(path, &st) == -1 && errno == ENOENT)
		return 0;
	if (dir_ours(cfg.datadir, 1, &why) == 0 && dir_ours(path, 0,
	    &why) == 0)
		return 0;
	ih_log(IH_LOG_ERR, "datadir %s: %s", path, why);
	return -1;
}

/* A cache file we may trust: a regular file, ours, writable by us alone. */
int
store_file_ours(const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_uid == geteuid() &&
	    (st->st_mode & 022) == 0;
}

/*
 * Replace path with the bytes a then b (b may be NULL), 0600, atomically:
 * written to a new file beside it, on disk (fsync), then renamed over it,
 * so that a reader, or a process that has the old one mapped, sees the
 * old file or the new one whole.  0, or -1 with errno.
 */
int
store_replace(const char *path, const void *a, size_t alen, const void *b,
    size_t blen)
{
	char tmp[PATH_MAX + 8];
	int fd, n, e;

	n = snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		return -1;
	if (write_full(fd, a, alen) == -1 || (b != NULL &&
	    write_full(fd, b, blen) == -1) || fsync(fd) == -1) {
		e = errno;
		close(fd);
		unlink(tmp);
		errno = e;
		return -1;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		e = errno;
		unlink(tmp);
		errno = e;
		return -1;
	}
	return 0;
}

/*
 * Open a file of a store: never through a symbolic link, never a FIFO
 * or device (which could block or be anything), close-on-exec.  flags
 * and mode as for open(2).  The fd, or -1 with errno.
 */
int
store_open(const char *path, int flags, mode_t mode)
{
	struct stat st;
	int fd;

	if ((fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
	    mode)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

/* store_lock without waiting: 0, or -1 (EAGAIN: held by another). */
int
store_trylock(int fd, off_t off, off_t len)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = off;
	fl.l_len = len;
	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	if (errno == EACCES)
		errno = EAGAIN;
	return -1;
}

/*
 * An exclusive lock on bytes [off, off + len) of fd (len 0: to the end),
 * waited for at most `lock_timeout` seconds.  Returns 0, or -1 with errno
 * (ETIMEDOUT when the deadline passed, the lock still held by another).
 */
int
store_lock(int fd, off_t off, off_t len)
{
	int64_t deadline = mono_ms() + cfg.lock_timeout * 1000;
	long wait_us = 200;

	for (;;) {
		struct timespec ts;

		if (store_trylock(fd, off, len) == 0)
			return 0;
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		if (mono_ms() >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		/* Back off: 0.2 ms doubling to 20 ms, so a brief hold costs
		 * little and a long one costs no CPU. */
		ts.tv_sec = 0;
		ts.tv_nsec = wait_us * 1000;
		nanosleep(&ts, NULL);
		if (wait_us < 20000)
			wait_us *= 2;
	}
}

void
store_unlock(int fd, off_t off, off_t len)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_UNLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = off;
	fl.l_len = len;
	(void)fcntl(fd, F_OFD_SETLK, &fl);
}

/*
 * A store could not serve this request (a lock not granted in time, a
 * full or unwritable datadir): logged once with what failed, and the
 * request marked so that its 500 goes out as 503 with Retry-After.
 * r may be NULL (an Init function).
 */
void
store_failed(struct ih_request *r, const char *what)
{
	ih_log(IH_LOG_ERR, "%s%s%s: %s", r != NULL ? conn_who(r->c) : "",
	    r != NULL ? ": " : "", what, errno == ETIMEDOUT ?
	    "lock not granted within lock_timeout" : strerror(errno));
	if (r != NULL)
		r->store_failed = 1;
}
