/*
 * ratelimit.c - per-client token buckets shared by every process of one
 * machine (inetd children, prefork workers), so that a client is limited
 * by what it did, not by which process it reached.  The caller names the
 * client (any bytes: an address, a user) and says how fast its bucket
 * refills; this file keeps the buckets.  Deciding what to limit, and what
 * to answer (429 with Retry-After), is the caller's.
 *
 * The table is one file of fixed size, datadir/ratelimit/buckets, mapped
 * shared for the life of the process: a header, then rate_limit_slots
 * buckets in sets of RL_WAYS.  A key is hashed with HMAC-SHA256 under a
 * random secret kept in the header, so that a client cannot aim keys at
 * one set to push others out; 8 bytes of the hash choose the set, 16 more
 * name the bucket in it.  It is auth.c's hmac_sha256 with the secret's
 * two padded blocks hashed once per mapping, not once per key: a short
 * key costs two SHA-256 compressions instead of four.  A take looks at
 * one set only: O(1), and a file that never grows.  A set that is full
 * gives up a bucket that has refilled to full (it loses nothing: a new
 * one starts full too), else its least recently used one.
 *
 * Locking: a process-shared robust pthread mutex per set, inside the
 * mapping.  Uncontended, taking and releasing it is an atomic
 * instruction each and no system call (an OFD lock would be two fcntl a
 * take); glibc 2.36 has pthreads in libc.a and registers the robust list
 * at start and after fork in a static binary too, so the kernel releases
 * a set whose holder dies (the next taker gets EOWNERDEAD) - a process
 * killed inside cannot wedge the table.  The set it held may be half
 * written, and is emptied: its clients start full again.  Waits are
 * bounded by lock_timeout.  A lock that is still not granted then has no
 * live holder we can wait for (a mutex left locked in the file by a
 * machine that crashed, a damaged file, a stopped process): the table is
 * made anew and the take retried on it, rather than failing every later
 * take of that set.
 *
 * A table is made whole in a temporary file beside it, then link()ed into
 * place (a process that loses that race uses the winner's) or, when the
 * one there is damaged, of another layout, another slot count, or not
 * ours, rename()d over it - under the old file's whole-file OFD lock
 * (store_lock), so that of the processes that find it wanting at once
 * one makes the new table and the rest use it.  A process that has the
 * old one mapped finds out within a second (rl_take compares the path's
 * inode at most once a second of its clock) and moves over; until then
 * it counts in the old table.  Nothing is fsync'ed: a table lost or torn
 * by a crash fails the header check and is made anew, and its clients
 * start full.
 *
 * Layout (native byte order and struct layout; the header records the
 * sizes and byte order, and a table of another build is replaced):
 *
 *	header	struct rl_head, RL_HEAD bytes
 *	set	struct rl_set, RL_SET bytes: the mutex, a bit per entry in
 *		use, RL_WAYS entries {tag, tokens, last take, when full}
 */
#define OPENSSL_API_COMPAT 0x10100000L	/* SHA256_Init & co., as auth.c */
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "internal.h"

#define RL_WAYS		8	/* buckets a set */
#define RL_TAG		16
#define RL_HEAD		128
#define RL_SET		384
#define RL_VERSION	1
#define RL_RECHECK_MS	1000	/* how often a mapped table is looked up */
#define RL_MAX_MS	(INT64_MAX / 4)	/* times are clamped to [0, this] */
#define RL_EPS		1e-9	/* tokens: what rounding of sums may lose */

static const char rl_magic[16] = "ihttpd rl table\n";

struct rl_head {
	char		 magic[16];
	uint32_t	 order;		/* 0x01020304 */
	uint32_t	 version;
	uint32_t	 head_size, set_size, entry_size, ways;
	uint32_t	 mutex_size;
	uint32_t	 zero;
	uint64_t	 slots;		/* rate_limit_slots it was made for */
	uint64_t	 sets;
	unsigned char	 secret[32];	/* the HMAC key; random, per table */
	unsigned char	 pad[RL_HEAD - 96];
};

struct rl_entry {
	unsigned char	 tag[RL_TAG];
	double		 tokens;	/* after the last take */
	int64_t		 last_ms;	/* the last take: refill base, LRU */
	int64_t		 full_ms;	/* when it will have refilled to full */
};

struct rl_set {
	pthread_mutex_t	 lock;
	uint32_t	 used;		/* bit i: ent[i] holds a bucket */
	/* a cache line for the lock, the entries on the lines after it */
	struct rl_entry	 ent[RL_WAYS] __attribute__((aligned(64)));
};

_Static_assert(sizeof(struct rl_head) == RL_HEAD, "rl_head");
_Static_assert(sizeof(struct rl_set) == RL_SET, "rl_set");
_Static_assert(RL_WAYS <= 32, "used is a 32-bit mask");

/* The mapped table; NULL until the first take maps it. */
static struct rl_head *rl_map;
static size_t rl_maplen;
static struct rl_set *rl_sets;
static uint64_t rl_nsets;
static dev_t rl_dev;
static ino_t rl_ino;
static int64_t rl_checked_ms;	/* when the path was last seen to be it */
static char rl_path[PATH_MAX], rl_dir[PATH_MAX];
/* HMAC-SHA256 with the table's secret, its pads hashed once a mapping */
static SHA256_CTX rl_ictx, rl_octx;

static uint64_t
rl_sets_for(long long slots)
{
	uint64_t n = slots > 0 ? (uint64_t)slots : 1;

	return (n + RL_WAYS - 1) / RL_WAYS;
}

static void
head_make(struct rl_head *h, uint64_t slots, uint64_t sets,
    const unsigned char *secret)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, rl_magic, sizeof(h->magic));
	h->order = 0x01020304;
	h->version = RL_VERSION;
	h->head_size = RL_HEAD;
	h->set_size = RL_SET;
	h->entry_size = sizeof(struct rl_entry);
	h->ways = RL_WAYS;
	h->mutex_size = sizeof(pthread_mutex_t);
	h->slots = slots;
	h->sets = sets;
	memcpy(h->secret, secret, sizeof(h->secret));
}

/*
 * Is the file open on fd, of status st, a table of this layout for this
 * configuration?  1 yes, 0 no (not ours, another layout or slot count, a
 * size that does not match: replace it), -1 error.  Read with pread, so
 * that nothing of a short file is ever mapped.
 */
static int
head_ok(int fd, const struct stat *st)
{
	struct rl_head h, want;
	uint64_t sets = rl_sets_for(cfg.rate_limit_slots);
	ssize_t n;

	if (!store_file_ours(st))
		return 0;
	if ((uint64_t)st->st_size != RL_HEAD + sets * RL_SET)
		return 0;
	if ((n = pread(fd, &h, sizeof(h), 0)) == -1)
		return -1;
	if (n != (ssize_t)sizeof(h))
		return 0;
	head_make(&want, (uint64_t)cfg.rate_limit_slots, sets, h.secret);
	return memcmp(&h, &want, sizeof(h)) == 0;
}

static int
map_fd(int fd, const struct stat *st)
{
	unsigned char pad[64];
	void *p;
	int i;

	p = mmap(NULL, (size_t)st->st_size, PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	rl_map = p;
	rl_maplen = (size_t)st->st_size;
	rl_sets = (struct rl_set *)(void *)((char *)p + RL_HEAD);
	rl_nsets = rl_map->sets;
	rl_dev = st->st_dev;
	rl_ino = st->st_ino;
	memset(pad, 0, sizeof(pad));
	memcpy(pad, rl_map->secret, sizeof(rl_map->secret));
	for (i = 0; i < 64; i++)
		pad[i] ^= 0x36;
	SHA256_Init(&rl_ictx);
	SHA256_Update(&rl_ictx, pad, sizeof(pad));
	for (i = 0; i < 64; i++)
		pad[i] ^= 0x36 ^ 0x5c;
	SHA256_Init(&rl_octx);
	SHA256_Update(&rl_octx, pad, sizeof(pad));
	OPENSSL_cleanse(pad, sizeof(pad));
	return 0;
}

void
rl_close(void)
{
	if (rl_map != NULL)
		munmap(rl_map, rl_maplen);
	rl_map = NULL;
	rl_sets = NULL;
	rl_maplen = 0;
	rl_nsets = 0;
	OPENSSL_cleanse(&rl_ictx, sizeof(rl_ictx));
	OPENSSL_cleanse(&rl_octx, sizeof(rl_octx));
}

/*
 * Make a table for this configuration in a temporary file and put it in
 * place: link(2) when there was none (EEXIST: another process won; the
 * caller opens its table), rename(2) over one that did not fit.  0, or
 * -1 with errno; the new table is not mapped (the caller opens the path,
 * whoever's table it holds then).
 */
static int
table_make(int replace)
{
	char tmp[PATH_MAX];
	pthread_mutexattr_t ma;
	struct rl_head *h = MAP_FAILED;
	struct rl_set *s;
	unsigned char secret[32];
	uint64_t sets = rl_sets_for(cfg.rate_limit_slots), i;
	size_t len = RL_HEAD + (size_t)sets * RL_SET;
	ssize_t n;
	int fd, e, made = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.buckets.XXXXXX",
	    rl_dir) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((n = getrandom(secret, sizeof(secret), 0)) !=
	    (ssize_t)sizeof(secret)) {
		if (n >= 0)
			errno = EIO;
		return -1;
	}
	/* mkostemp makes it 0600. */
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		goto err;
	made = 1;
	/* Every block allocated now: ENOSPC here, never a SIGBUS later. */
	if ((e = posix_fallocate(fd, 0, (off_t)len)) != 0) {
		errno = e;
		goto err;
	}
	h = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED)
		goto err;
	if ((e = pthread_mutexattr_init(&ma)) != 0) {
		errno = e;
		goto err;
	}
	if ((e = pthread_mutexattr_setpshared(&ma,
	    PTHREAD_PROCESS_SHARED)) != 0 ||
	    (e = pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST)) != 0) {
		pthread_mutexattr_destroy(&ma);
		errno = e;
		goto err;
	}
	s = (struct rl_set *)(void *)((char *)h + RL_HEAD);
	for (i = 0; i < sets; i++)
		if ((e = pthread_mutex_init(&s[i].lock, &ma)) != 0)
			break;
	pthread_mutexattr_destroy(&ma);
	if (e != 0) {
		errno = e;
		goto err;
	}
	head_make(h, (uint64_t)cfg.rate_limit_slots, sets, secret);
	munmap(h, len);
	h = MAP_FAILED;
	if (close(fd) == -1) {
		fd = -1;
		goto err;
	}
	fd = -1;
	if ((replace ? rename(tmp, rl_path) : link(tmp, rl_path)) == -1)
		goto err;
	if (!replace)
		unlink(tmp);
	OPENSSL_cleanse(secret, sizeof(secret));
	return 0;
err:
	e = errno;
	if (h != MAP_FAILED)
		munmap(h, len);
	if (fd != -1)
		close(fd);
	if (made)
		unlink(tmp);
	OPENSSL_cleanse(secret, sizeof(secret));
	errno = e;
	return -1;
}

/*
 * Replace the table that fd is open on, if rl_path still names it: under
 * its whole-file lock, so that of the processes that found it wanting at
 * once, one makes the new table and the others use that one.  0 (made,
 * or replaced meanwhile: the caller opens the path again), or -1 with
 * errno.  The lock goes with the caller's close(fd).
 */
static int
table_replace(int fd)
{
	struct stat a, b;

	if (store_lock(fd, 0, 0) == -1 || fstat(fd, &a) == -1)
		return -1;
	if (a.st_nlink == 0 || stat(rl_path, &b) == -1 ||
	    a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		return 0;
	return table_make(1);
}

/*
 * Map the table at rl_path, making it when missing and remaking it when
 * it does not fit, or when it is still the mapped table (dev, ino) and
 * wedged is set: its locks are wedged.  0, or -1 with errno.
 */
static int
table_map(int wedged)
{
	struct stat st;
	dev_t dev = rl_dev;
	ino_t ino = rl_ino;
	int fd, tries, rc, e;

	rl_close();
	if (store_dir("ratelimit", rl_dir, sizeof(rl_dir)) == -1)
		return -1;
	if ((size_t)snprintf(rl_path, sizeof(rl_path), "%s/buckets",
	    rl_dir) >= sizeof(rl_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (tries = 0; tries < 4; tries++) {
		if ((fd = store_open(rl_path, O_RDWR, 0)) == -1) {
			if (errno == ENOENT) {
				if (table_make(0) == -1 && errno != EEXIST)
					return -1;
				continue;	/* ours or the winner's */
			}
			/* a link, FIFO, device, or a file we may not open */
			if (errno != ELOOP && errno != EINVAL &&
			    errno != EACCES && errno != EPERM)
				return -1;
			rc = 0;
		} else if (fstat(fd, &st) == -1 ||
		    (rc = head_ok(fd, &st)) == -1) {
			e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (rc == 1 && wedged && st.st_dev == dev && st.st_ino == ino)
			rc = 0;
		wedged = 0;
		if (rc == 1) {
			rc = map_fd(fd, &st);
			e = errno;
			close(fd);	/* the mapping stays */
			errno = e;
			return rc;
		}
		if (fd == -1)
			rc = table_make(1);	/* nothing to lock */
		else {
			ih_log(IH_LOG_NOTICE, "%s: not a rate-limit table of "
			    "this layout and size, or wedged: made anew",
			    rl_path);
			rc = table_replace(fd);
			e = errno;
			close(fd);
			errno = e;
		}
		if (rc == -1)
			return -1;
	}
	errno = EAGAIN;
	return -1;
}

/*
 * The mapping, looked up again when now_ms is a second or more from the
 * last look (either way: the clock may step back), so that a table
 * replaced by another process is followed.  0, or -1 with errno.
 */
static int
table_ready(int64_t now_ms)
{
	struct stat st;

	if (rl_map != NULL && now_ms >= rl_checked_ms &&
	    now_ms - rl_checked_ms < RL_RECHECK_MS)
		return 0;
	if (rl_map == NULL || stat(rl_path, &st) == -1 ||
	    st.st_dev != rl_dev || st.st_ino != rl_ino) {
		if (table_map(0) == -1)
			return -1;
	}
	rl_checked_ms = now_ms;
	return 0;
}

static void
rl_hash(const void *key, size_t klen, unsigned char out[32])
{
	SHA256_CTX c;
	unsigned char inner[32];

	c = rl_ictx;
	SHA256_Update(&c, key, klen);
	SHA256_Final(inner, &c);
	c = rl_octx;
	SHA256_Update(&c, inner, sizeof(inner));
	SHA256_Final(out, &c);
}

/*
 * Lock the set of hash h: the set, or NULL with errno (ETIMEDOUT: not
 * granted within lock_timeout; else the mutex is broken).  A set whose
 * holder died is emptied: it may have been half written, and a client
 * forgotten merely starts full.
 */
static struct rl_set *
set_lock(const unsigned char *h)
{
	struct rl_set *s;
	struct timespec ts;
	uint64_t sel;
	int e;

	memcpy(&sel, h, sizeof(sel));
	s = &rl_sets[sel % rl_nsets];
	/* Uncontended, trylock is all: no clock read, no system call. */
	if ((e = pthread_mutex_trylock(&s->lock)) == EBUSY) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += cfg.lock_timeout;
		e = pthread_mutex_clocklock(&s->lock, CLOCK_MONOTONIC, &ts);
	}
	if (e == EOWNERDEAD &&
	    (e = pthread_mutex_consistent(&s->lock)) == 0) {
		memset(s->ent, 0, sizeof(s->ent));
		s->used = 0;
		ih_log(IH_LOG_NOTICE, "%s: a process died holding a set: "
		    "its buckets are forgotten", rl_path);
	}
	if (e != 0) {
		errno = e;
		return NULL;
	}
	return s;
}

/*
 * ms for what tokens lacks of want at rate, rounded up, at least 1 (no
 * ceil(3): libm is not linked).  RL_EPS absorbs the rounding of the
 * sums of fractions (0.4 + 0.59 is a hair below 0.99), which would
 * otherwise make a retry 1 ms too late.
 */
static int64_t
ms_for(double want, double tokens, double rate)
{
	double ms = (want - RL_EPS - tokens) * 1000.0 / rate;
	int64_t r;

	if (!(ms >= 1.0))
		return 1;
	if (ms > (double)RL_MAX_MS)
		return RL_MAX_MS;
	r = (int64_t)ms;
	return (double)r < ms ? r + 1 : r;
}

/*
 * The take itself, in locked set s: the bucket tagged tag, made (full)
 * when missing.  1 allowed, 0 refused (*retry_ms set).
 */
static int
set_take(struct rl_set *s, const unsigned char *tag, double rate,
    double burst, int64_t now, int64_t *retry_ms)
{
	struct rl_entry *e = NULL, *x;
	int i, victim = 0, vrank = -1, rank;
	double t;

	for (i = 0; i < RL_WAYS; i++) {
		x = &s->ent[i];
		if ((s->used & (1u << i)) != 0 &&
		    memcmp(x->tag, tag, RL_TAG) == 0) {
			e = x;
			break;
		}
		/*
		 * The one to give up if the key is not here: an empty entry,
		 * else one refilled to full (a new bucket would start full
		 * as well: nothing is lost), else the least recently used.
		 */
		if ((s->used & (1u << i)) == 0)
			rank = 2;
		else
			rank = x->full_ms <= now;
		if (rank > vrank || (rank == vrank && rank < 2 &&
		    x->last_ms < s->ent[victim].last_ms)) {
			victim = i;
			vrank = rank;
		}
	}
	if (e == NULL) {
		e = &s->ent[victim];
		memcpy(e->tag, tag, RL_TAG);
		e->tokens = burst;
		e->last_ms = now;
		s->used |= 1u << victim;
	}
	/*
	 * Refill since the last take; a clock that stepped back refills
	 * nothing, and the bucket's clock follows the step, so that later
	 * refills count the time that really passes.  A value that is not a
	 * number or out of range (a damaged file) counts as empty.
	 */
	t = e->tokens;
	if (!(t >= 0.0))
		t = 0.0;
	if (e->last_ms < 0 || e->last_ms > RL_MAX_MS)
		e->last_ms = now;
	if (now > e->last_ms)
		t += (double)(now - e->last_ms) * rate / 1000.0;
	if (t > burst)
		t = burst;
	e->last_ms = now;
	if (t + RL_EPS >= 1.0) {
		t = t >= 1.0 ? t - 1.0 : 0.0;
		i = 1;
	} else {
		if (retry_ms != NULL)
			*retry_ms = ms_for(1.0, t, rate);
		i = 0;
	}
	e->tokens = t;
	e->full_ms = t + RL_EPS >= burst ? now : now + ms_for(burst, t, rate);
	return i;
}

/* A time in [0, RL_MAX_MS]: every difference of two fits an int64_t. */
static int64_t
clamp_ms(int64_t ms)
{
	return ms < 0 ? 0 : ms > RL_MAX_MS ? RL_MAX_MS : ms;
}

/*
 * Take one token from the bucket named key (klen bytes, any bytes) that
 * refills at rate tokens/s up to burst.  now_ms: the current time in ms
 * (CLOCK_REALTIME ms since epoch, passed in for tests).
 * 1: allowed (token taken); 0: refused, *retry_ms set to the ms until a
 * token will be there (>= 1; retry_ms may be NULL); -1: the table failed
 * (errno set: EINVAL for a rate that is not positive or a burst below 1,
 * else what the datadir or the table's lock said).  The table is mapped
 * on the first call and kept.
 */
int
rl_take(const void *key, size_t klen, double rate, double burst,
    int64_t now_ms, int64_t *retry_ms)
{
	unsigned char h[32];
	struct rl_set *s;
	int rc;

	if ((key == NULL && klen > 0) || !(rate > 0.0) || !isfinite(rate) ||
	    !(burst >= 1.0) || !isfinite(burst)) {
		errno = EINVAL;
		return -1;
	}
	now_ms = clamp_ms(now_ms);
	if (table_ready(now_ms) == -1)
		return -1;
	rl_hash(key, klen, h);
	if ((s = set_lock(h)) == NULL) {
		/* Wedged (see the top of the file): made anew, and retried. */
		ih_log(IH_LOG_ERR, "%s: a set's lock not granted within "
		    "lock_timeout (%s)", rl_path, strerror(errno));
		if (table_map(1) == -1)
			return -1;
		rl_checked_ms = now_ms;
		rl_hash(key, klen, h);
		if ((s = set_lock(h)) == NULL)
			return -1;
	}
	rc = set_take(s, h + 8, rate, burst, now_ms, retry_ms);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/*
 * Tests only: lock the set of key and return holding it, so that a test
 * child can die or stop with it held.  0, or -1 with errno.
 */
int
rl_test_hold_lock(const void *key, size_t klen, int64_t now_ms)
{
	unsigned char h[32];

	now_ms = clamp_ms(now_ms);
	if (table_ready(now_ms) == -1)
		return -1;
	rl_hash(key, klen, h);
	return set_lock(h) != NULL ? 0 : -1;
}
