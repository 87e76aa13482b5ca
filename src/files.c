/*
 * files.c - the file service: confinement to docroot, directories (301 to
 * the slashed URL, index files, 403 without one), types, validators
 * (Last-Modified, a strong ETag) and sending (head and a small body in one
 * writev; sendfile(2) or read/write blocks for larger files).
 *
 * Confinement: every open is relative to a descriptor of docroot, through
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) where the kernel has
 * it, otherwise a component-by-component openat walk that refuses
 * symlinks.  The path was decoded and normalised once (http.c); dot-files
 * are refused here except under /.well-known/.  The Host header never
 * reaches a path.
 */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __has_include
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define HAVE_OPENAT2 1
#endif
#endif

#include "internal.h"

static int docroot_fd = -1;

int
files_open_docroot(void)
{
	if (docroot_fd == -1)
		docroot_fd = open(cfg.docroot, O_PATH | O_DIRECTORY |
		    O_CLOEXEC);
	return docroot_fd;
}

/* The checked fallback: walk each component with O_NOFOLLOW. */
static int
open_walk(const char *rel, int flags)
{
	char part[NAME_MAX + 1];
	int dfd = docroot_fd, fd;
	const char *p = rel, *slash;

	for (;;) {
		size_t n;

		slash = strchr(p, '/');
		n = slash != NULL ? (size_t)(slash - p) : strlen(p);
		if (n > NAME_MAX) {
			errno = ENAMETOOLONG;
			fd = -1;
			break;
		}
		memcpy(part, p, n);
		part[n] = '\0';
		if (slash == NULL || slash[1] == '\0') {
			fd = openat(dfd, n > 0 ? part : ".", flags | O_NOFOLLOW |
			    O_CLOEXEC);
			break;
		}
		fd = openat(dfd, part, O_PATH | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (dfd != docroot_fd)
			close(dfd);
		if (fd == -1)
			return -1;
		dfd = fd;
		p = slash + 1;
	}
	if (dfd != docroot_fd) {
		int e = errno;
		close(dfd);
		errno = e;
	}
	return fd;
}

/*
 * Open a docroot-relative path ("" is docroot itself), never resolving
 * outside docroot.  A symlink that leaves it fails with EXDEV or ELOOP.
 */
static int
open_beneath(const char *rel, int flags)
{
#ifdef HAVE_OPENAT2
	static int no_openat2 = -1;
	struct open_how how;
	int fd;

	if (no_openat2 == -1)
		no_openat2 = getenv("IHTTPD_NO_OPENAT2") != NULL;
	if (!no_openat2) {
		memset(&how, 0, sizeof(how));
		how.flags = (unsigned long long)(flags | O_CLOEXEC);
		how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
		fd = (int)syscall(SYS_openat2, docroot_fd, *rel ? rel : ".",
		    &how, sizeof(how));
		if (fd != -1 || errno != ENOSYS)
			return fd;
		no_openat2 = 1;
	}
#endif
	return open_walk(rel, flags);
}

static int
open_status(int err)
{
	switch (err) {
	case ENOENT: case ENOTDIR: case ENAMETOOLONG:
		return 404;
	case EACCES: case EPERM:
		return 403;
	case EXDEV: case ELOOP:
		return 404;	/* a link that leaves docroot: not here */
	}
	return 500;
}

/* RFC 9110 8.8.3: a strong validator from inode, size and mtime in ns. */
static void
make_etag(const struct stat *st, char *out, size_t len)
{
	snprintf(out, len, "\"%llx-%llx-%llx\"",
	    (unsigned long long)st->st_ino, (unsigned long long)st->st_size,
	    (unsigned long long)st->st_mtim.tv_sec * 1000000000ULL +
	    (unsigned long long)st->st_mtim.tv_nsec);
}

static void
set_type(struct ih_request *r, const char *name)
{
	const char *t;

	if (r->ctype != NULL)
		return;
	t = mime_by_ext(r->a, name);
	if (t == NULL)
		t = cfg.default_type;
	if (cfg.charset != NULL && strncmp(t, "text/", 5) == 0 &&
	    strchr(t, ';') == NULL)
		t = arena_printf(r->a, "%s; charset=%s", t, cfg.charset);
	r->ctype = t;
}

/* Send an open regular file: small ones in one writev with the head. */
static int
send_regular(struct ih_request *r, int fd, const struct stat *st,
    const char *name)
{
	char etag[64], lm[30];
	off_t size = st->st_size;

	set_type(r, name);
	http_date(st->st_mtim.tv_sec, lm);
	make_etag(st, etag, sizeof(etag));
	resp_add_header_raw(r, "Last-Modified", lm);
	resp_add_header_raw(r, "ETag", etag);
	r->status = 200;
	if (r->method_head || size == 0) {
		r->olen = 0;
		if (resp_send_head(r, size) == -1)
			return IH_EXIT;
		r->finished = 1;
		return IH_PROCEED;
	}
	if (size <= FILE_BLOCK) {
		char *buf = arena_alloc(r->a, (size_t)size);
		ssize_t n;

		if (buf == NULL)
			return ih_error(r, 500, "out of memory");
		n = pread(fd, buf, (size_t)size, 0);
		if (n != size)
			return ih_error(r, 500, "short read of a file");
		r->obuf = buf;
		r->olen = (size_t)size;
		/* resp_finish sends head and body with Content-Length */
		return resp_finish(r) == -1 ? IH_EXIT : IH_PROCEED;
	}
	if (resp_send_head(r, size) == -1)
		return IH_EXIT;
	r->body_sent = (unsigned long long)size;
	if (conn_sendfile(r->c, fd, 0, size) == -1)
		return IH_EXIT;
	r->finished = 1;
	return IH_PROCEED;
}

static int
is_dotfile(const char *path)
{
	if (strncmp(path, "/.well-known/", 13) == 0)
		path += 12;
	return strstr(path, "/.") != NULL;
}

/*
 * Serve r->file (docroot-relative).  GET and HEAD; OPTIONS gets Allow;
 * other methods 405.  Returns a result code; the status is set on
 * ABORTED.
 */
int
files_service(struct ih_request *r)
{
	struct stat st;
	int fd = -1, rc;
	size_t i;
	const char *m = r->hd.method;

	if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
		resp_add_header_raw(r, "Allow", "GET, HEAD, OPTIONS");
		if (strcmp(m, "OPTIONS") == 0) {
			r->status = 200;
			return IH_PROCEED;
		}
		return ih_error(r, 405, "method not allowed for a file");
	}
	if (r->file == NULL || r->hd.asterisk)
		return ih_error(r, 404, "no file mapped");
	if (is_dotfile(r->path))
		return ih_error(r, 404, "dot-file refused");
	if (files_open_docroot() == -1)
		return ih_error(r, 500, "cannot open docroot");
	if ((fd = open_beneath(r->file, O_RDONLY | O_NONBLOCK)) == -1) {
		rc = open_status(errno);
		return ih_error(r, rc, rc == 404 && (errno == EXDEV ||
		    errno == ELOOP) ? "symlink leaves docroot" :
		    rc == 404 ? "no such file" : rc == 403 ?
		    "permission denied" : "open failed");
	}
	if (fstat(fd, &st) == -1) {
		close(fd);
		return ih_error(r, 500, "fstat failed");
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		if (r->path[strlen(r->path) - 1] != '/') {
			char *loc = arena_printf(r->a, "%s/%s%s",
			    url_encode_path(r->a, r->path),
			    *r->hd.query ? "?" : "", r->hd.query);

			r->responded = 1;
			return loc == NULL ? ih_error(r, 500, "out of memory") :
			    ih_redirect(r, 301, loc);
		}
		for (i = 0; i < cfg.nindex; i++) {
			char *f = arena_printf(r->a, "%s%s", r->file,
			    cfg.index[i]);

			if (f == NULL)
				return ih_error(r, 500, "out of memory");
			fd = open_beneath(f, O_RDONLY | O_NONBLOCK);
			if (fd == -1)
				continue;
			if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
				rc = send_regular(r, fd, &st, cfg.index[i]);
				close(fd);
				return rc;
			}
			close(fd);
		}
		return ih_error(r, 403, "directory without index");
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return ih_error(r, 403, "not a regular file");
	}
	rc = send_regular(r, fd, &st, r->file);
	close(fd);
	return rc;
}
