/*
 * nonce.c - the Digest nonce-count table: the highest nc each live nonce
 * has used, so that an Authorization captured and sent again is refused
 * by every process (RFC 7616 3.3, 5.6).  auth.c owns the nonces (they are
 * stateless: a time and an HMAC) and gives this file a key per nonce - a
 * keyed hash, so that nobody can aim nonces at one bucket - and the
 * nonce's time in milliseconds.
 *
 * The table is one file of fixed size, datadir/nonces/digest.table, in
 * NC_BLOCK-byte blocks: a header, then buckets of NC_SLOTS slots.  A
 * request reads and writes one bucket with pread/pwrite, under a
 * byte-range lock of that bucket only (store_lock): O(1) time, a file
 * that never grows, and requests for different nonces do not wait for
 * each other.  The file is allocated whole when it is made
 * (posix_fallocate), so a full file system is an error then, not later.
 *
 * Forgetting keeps it bounded, and is done so that it cannot be outrun:
 * a slot whose nonce is past nonce_ttl is free, and a bucket full of
 * live nonces drops its oldest.  Each bucket keeps a watermark, the
 * newest time of a nonce it ever dropped; a nonce not in its bucket
 * whose time is not above the watermark may have been seen before, so
 * it is refused as stale (the client retries with a fresh nonce without
 * asking its user).  The header's floor does the same for the whole
 * table: a table made anew - missing, damaged, of another layout, or
 * made while the clock was far ahead - refuses every nonce older than
 * itself (and than the file it replaces), never accepting a replay
 * because counts were lost; a nonce dated ahead of the clock is stale
 * as well, so that a clock stepped back cannot bring one in again.  A
 * valid table keeps the size it was made with; nonce_slots sizes new
 * ones.
 *
 * Layout (native byte order; the header records it):
 *
 *	header	"ihttpd nc table\n", u32 0x01020304, u32 NC_BLOCK,
 *		u32 NC_SLOT, u32 NC_SLOTS, u64 nonce_slots, u64 buckets,
 *		i64 floor (ms), zeros to NC_BLOCK
 *	bucket	i64 watermark (ms), zeros to NC_SLOT; then NC_SLOTS slots
 *	slot	i64 nonce time (ms; 0: empty), u32 nc, u32 0,
 *		16 bytes of the nonce's key
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static const char nc_magic[16] = "ihttpd nc table\n";

static int64_t
get64(const unsigned char *p)
{
	int64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void
put64(unsigned char *p, int64_t v)
{
	memcpy(p, &v, sizeof(v));
}

static uint32_t
get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void
put32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

/* Buckets for cfg.nonce_slots slots, rounded up. */
static uint64_t
nc_buckets(void)
{
	uint64_t slots = cfg.nonce_slots > 0 ? (uint64_t)cfg.nonce_slots : 1;

	return (slots + NC_SLOTS - 1) / NC_SLOTS;
}

/* The size the table must have for the configuration. */
off_t
nonce_table_size(void)
{
	return (off_t)NC_BLOCK * (off_t)(1 + nc_buckets());
}

static void
header_make(unsigned char *h, int64_t slots, uint64_t buckets,
    int64_t floor)
{
	memset(h, 0, NC_BLOCK);
	memcpy(h, nc_magic, sizeof(nc_magic));
	put32(h + 16, 0x01020304);
	put32(h + 20, NC_BLOCK);
	put32(h + 24, NC_SLOT);
	put32(h + 28, NC_SLOTS);
	put64(h + 32, slots);
	put64(h + 40, (int64_t)buckets);
	put64(h + 48, floor);
}

/*
 * Does fd hold a table of this layout?  1 yes (*floor and *buckets set),
 * 0 no (another layout or byte order, a size that does not match its
 * header, a floor too far ahead of the clock, not a table), -1 error.  A
 * table keeps the size it was made with: nonce_slots sizes new tables
 * only, so servers sharing a datadir never remake each other's.
 */
static int
header_ok(int fd, int64_t *floor, uint64_t *buckets)
{
	unsigned char h[NC_BLOCK], want[NC_BLOCK];
	struct stat st;
	uint64_t b;
	ssize_t n;

	if (fstat(fd, &st) == -1)
		return -1;
	if (!S_ISREG(st.st_mode))
		return 0;
	if ((n = pread(fd, h, NC_BLOCK, 0)) == -1)
		return -1;
	if (n != NC_BLOCK)
		return 0;
	b = (uint64_t)get64(h + 40);
	header_make(want, get64(h + 32), b, get64(h + 48));
	if (memcmp(h, want, NC_BLOCK) != 0 || b == 0 || b > (1ULL << 32) ||
	    (uint64_t)st.st_size != (uint64_t)NC_BLOCK * (1 + b))
		return 0;
	/*
	 * A floor ahead of the clock (the clock was ahead when the table was
	 * made) would refuse every nonce until that date: the table is made
	 * anew instead.  Nonces recorded then are dated ahead too, and stay
	 * stale until the clock reaches them (nonce_count).
	 */
	if (get64(h + 48) > now_real_ms() + 60000) {
		ih_log(IH_LOG_WARN, "nonce table: made %lld s ahead of the "
		    "clock: made anew", (long long)((get64(h + 48) -
		    now_real_ms()) / 1000));
		return 0;
	}
	*floor = get64(h + 48);
	*buckets = b;
	return 1;
}

/*
 * The floor of a table made now: a millisecond after the caller saw the
 * old table missing or locked it, so that every nonce recorded in the old
 * one is older than the floor.
 */
static int64_t
floor_now(int old_fd)
{
	struct timespec ts = { 0, 1100000 };
	struct stat st;
	int64_t now, was;

	nanosleep(&ts, NULL);
	now = now_real_ms();
	/*
	 * A table replaced over an old one: every count in the old file was
	 * written by its mtime, so the floor is past that too, should the
	 * clock have stepped back since (unless that mtime is itself ahead
	 * of the clock: see header_ok).
	 */
	if (old_fd != -1 && fstat(old_fd, &st) == 0) {
		was = (int64_t)st.st_mtim.tv_sec * 1000 +
		    st.st_mtim.tv_nsec / 1000000 + 1;
		if (was > now && was <= now + 60000)
			now = was;
	}
	return now;
}

/*
 * Make a table in a temporary file beside path and put it in place:
 * link(2) when there was none (EEXIST: another process won, use its
 * table), rename(2) over a mismatched one (the caller holds that one's
 * whole-file lock).  Returns the new table's fd, or -1 with errno.
 */
static int
table_create(const char *dir, const char *path, int old_fd)
{
	int replace = old_fd != -1;
	char tmp[PATH_MAX];
	unsigned char h[NC_BLOCK];
	ssize_t n;
	int fd, e;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.digest.table.XXXXXX",
	    dir) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		return -1;
	/* Every block allocated now: ENOSPC here, never at a later pwrite. */
	if ((e = posix_fallocate(fd, 0, nonce_table_size())) != 0) {
		errno = e;
		goto err;
	}
	header_make(h, cfg.nonce_slots, nc_buckets(), floor_now(old_fd));
	if ((n = pwrite(fd, h, NC_BLOCK, 0)) != NC_BLOCK) {
		if (n >= 0)
			errno = EIO;
		goto err;
	}
	if (fsync(fd) == -1)
		goto err;
	if ((replace ? rename(tmp, path) : link(tmp, path)) == -1)
		goto err;
	if (!replace)
		unlink(tmp);
	return fd;
err:
	e = errno;
	close(fd);
	unlink(tmp);
	errno = e;
	return -1;
}

/* Is fd still the table at path (not replaced or removed)? */
static int
still_current(int fd, const char *path)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_nlink > 0;
}

/*
 * Open the table for this configuration, making it when missing and
 * remaking it when it does not fit: an fd and its floor, or -1 with
 * errno.  A remake happens under the old table's whole-file lock, which
 * waits for every bucket operation on it to end; processes that then
 * lock a bucket of the old table see it unlinked and come to the new one.
 */
static int
table_open(const char *dir, const char *path, int64_t *floor,
    uint64_t *buckets)
{
	int fd, nfd, rc, tries, e;

	for (tries = 0; tries < 4; tries++) {
		if ((fd = store_open(path, O_RDWR, 0)) == -1) {
			if (errno != ENOENT)
				return -1;
			if ((fd = table_create(dir, path, -1)) == -1) {
				if (errno == EEXIST)
					continue;
				return -1;
			}
		}
		if ((rc = header_ok(fd, floor, buckets)) == 1)
			return fd;
		if (rc == -1 || store_lock(fd, 0, 0) == -1)
			goto err;
		if (!still_current(fd, path)) {
			close(fd);	/* remade meanwhile: open that one */
			continue;
		}
		ih_log(IH_LOG_NOTICE, "%s: not a nonce table of this layout: "
		    "made anew (clients get one stale challenge)", path);
		nfd = table_create(dir, path, fd);
		e = errno;
		close(fd);	/* and the lock with it */
		if (nfd == -1) {
			errno = e;
			return -1;
		}
		if ((rc = header_ok(nfd, floor, buckets)) == 1)
			return nfd;
		fd = nfd;
		if (rc == 0)
			errno = EIO;
		goto err;
	}
	errno = EAGAIN;
	return -1;
err:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

static int
table_path(char *dir, size_t dlen, char *path, size_t plen)
{
	if (store_dir("nonces", dir, dlen) == -1)
		return -1;
	if ((size_t)snprintf(path, plen, "%s/digest.table", dir) >= plen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/*
 * Make sure a table for this configuration exists (made when missing,
 * remade when it does not fit), so that nonces handed out after this
 * call are newer than its floor.  0, or -1 with errno.
 */
int
nonce_table_ready(void)
{
	char dir[PATH_MAX], path[PATH_MAX];
	uint64_t buckets;
	int64_t floor;
	int fd;

	if (table_path(dir, sizeof(dir), path, sizeof(path)) == -1 ||
	    (fd = table_open(dir, path, &floor, &buckets)) == -1)
		return -1;
	close(fd);
	return 0;
}

/*
 * The decision for one bucket b (NC_BLOCK bytes, changed in place when
 * the answer is NONCE_FRESH): id (NONCE_ID_LEN bytes) names the nonce,
 * t its time, nc the count it comes with.
 */
static int
bucket_count(unsigned char *b, const unsigned char *id, int64_t t,
    uint32_t nc, int64_t now, int64_t floor)
{
	int64_t ttl = cfg.nonce_ttl * 1000, wm = get64(b), vt = INT64_MAX, st;
	unsigned char *s, *victim = b + NC_SLOT;
	int i;

	for (i = 1; i <= NC_SLOTS; i++) {
		s = b + i * NC_SLOT;
		st = get64(s);
		if (st != 0 && st == t && memcmp(s + 16, id, NONCE_ID_LEN) == 0) {
			if (nc <= get32(s + 8))
				return NONCE_REPLAY;
			put32(s + 8, nc);
			return NONCE_FRESH;
		}
		if (st < vt) {
			vt = st;
			victim = s;
		}
	}
	if (t <= wm || t < floor)
		return NONCE_STALE;	/* perhaps dropped from here, or lost */
	/*
	 * Dated ahead of the clock: the clock stepped back since the nonce
	 * was made.  Its counts may sit in a table made before the step and
	 * lost since, which no floor taken now could cover: stale, and the
	 * client gets a nonce of the clock as it is.
	 */
	if (t > now)
		return NONCE_STALE;
	/*
	 * The slot to take: empty, else the oldest; an empty slot has time
	 * 0 and an expired nonce is older than any live one.  A newcomer
	 * older than a bucket full of live nonces is refused instead.
	 */
	if (vt != 0 && vt >= now - ttl && t < vt)
		return NONCE_STALE;
	if (vt > wm)
		put64(b, vt);	/* the dropped nonce may come back: refuse it */
	memset(victim, 0, NC_SLOT);
	put64(victim, t);
	put32(victim + 8, nc);
	memcpy(victim + 16, id, NONCE_ID_LEN);
	return NONCE_FRESH;
}

/*
 * Record nc for the nonce with this key (NONCE_KEY_LEN bytes: 8 choose
 * the bucket, NONCE_ID_LEN name the nonce) and time t (ms); now is the
 * current time (ms).  NONCE_FRESH: nc is higher than any seen for the
 * nonce, and is recorded.  NONCE_REPLAY: it is not.  NONCE_STALE: the
 * nonce is not in the table but may have been (dropped, or older than
 * the table).  NONCE_ERROR, with errno: the table could not be made,
 * read or written, or its bucket's lock was not granted within
 * lock_timeout (ETIMEDOUT).
 */
int
nonce_count(const unsigned char *key, int64_t t, uint32_t nc, int64_t now)
{
	char dir[PATH_MAX], path[PATH_MAX];
	unsigned char b[NC_BLOCK];
	uint64_t sel;
	struct stat st;
	off_t off = 0;
	uint64_t buckets = 1;
	int64_t floor = 0;
	ssize_t n;
	int fd = -1, tries, verdict, e;

	if (table_path(dir, sizeof(dir), path, sizeof(path)) == -1)
		return NONCE_ERROR;
	memcpy(&sel, key, sizeof(sel));
	for (tries = 0; tries < 4; tries++) {
		if ((fd = table_open(dir, path, &floor, &buckets)) == -1)
			return NONCE_ERROR;
		off = (off_t)NC_BLOCK * (off_t)(1 + sel % buckets);
		if (store_lock(fd, off, NC_BLOCK) == -1 || fstat(fd, &st) == -1)
			goto err;
		/* Remade while we waited: its lock protected the old one. */
		if (st.st_nlink > 0)
			break;
		close(fd);
		fd = -1;
	}
	if (fd == -1) {
		errno = EAGAIN;
		return NONCE_ERROR;
	}
	if ((n = pread(fd, b, NC_BLOCK, off)) != NC_BLOCK) {
		if (n >= 0)
			errno = EIO;
		goto err;
	}
	verdict = bucket_count(b, key + 8, t, nc, now, floor);
	if (verdict == NONCE_FRESH &&
	    (n = pwrite(fd, b, NC_BLOCK, off)) != NC_BLOCK) {
		if (n >= 0)
			errno = EIO;
		goto err;
	}
	close(fd);	/* releases the lock */
	return verdict;
err:
	e = errno;
	close(fd);
	errno = e;
	return NONCE_ERROR;
}
