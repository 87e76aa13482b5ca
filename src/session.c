/*
 * session.c - server-side sessions.  The id is 128 bits from the kernel's
 * CSPRNG, base64url, sent as `Path=/; HttpOnly; SameSite=Lax`; an id the
 * server did not issue (no file) or one past session_ttl is never adopted,
 * so a planted id fixes nothing.  A session exists only once a handler
 * stores a value: a request without a cookie of a live session creates
 * nothing on disk and sends no cookie, so requests alone cannot fill the
 * store, and at most max_sessions live at once.
 *
 * The store is one file per session, datadir/sessions/ID (0600, in a 0700
 * directory), length-prefixed key/value records that are only ever parsed
 * as data.  Every change is written through at once, to a temporary file
 * renamed over the old one: a failed write (a full disk) leaves the last
 * good state and is reported to the caller.
 *
 * Locking: one file, datadir/sessions/.lock, made once and never removed,
 * holds an OFD byte-range lock per session at a byte chosen by hashing
 * its id (store_lock: bounded by lock_timeout, then 503), taken when the
 * session is loaded or made and held until the request ends; concurrent
 * requests of one session therefore run one after another and no update
 * is lost.  Two sessions share a byte with odds of 1 in 2^32, which only
 * serialises them.  Byte 0 is held while a session is made (count, then
 * store), so max_sessions is exact.  A crash leaves no lock behind (the
 * kernel drops the locks of a dead process) and destroy or expiry removes
 * one file.
 */
#include <sys/random.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "internal.h"

#define SID_LEN		22		/* 16 bytes, base64url, no padding */
#define SESS_KEY_MAX	256
#define SESS_VAL_MAX	(64 * 1024)
#define SESS_TOTAL_MAX	(256 * 1024)
#define SESS_MAGIC	"ihttpd-session 1\n"
#define SESS_LOCKFILE	".lock"
#define LOCK_CREATE	0		/* the byte held while making one */
#define LOCK_SLOTS	(1ULL << 32)	/* bytes 1..2^32: one per id hash */
#define TMP_LEN		(1 + SID_LEN + 7)	/* ".ID.XXXXXX" */
#define SWEEP_FULL_EVERY 10		/* s between sweeps of a full store */

/* One creation in this many sweeps the store; 0: only a full store is
 * swept (the unit tests, which must know when a sweep happens). */
unsigned sess_collect_one_in = 100;

enum sess_state {
	S_NONE = 0,	/* no session (yet): the first set makes one */
	S_LIVE,		/* loaded or made; its byte locked */
	S_DESTROYED,	/* gone for the rest of the request */
	S_FAILED	/* the store failed: NULL / -1 from now on */
};

struct skv {
	char	*key;
	char	*val;
	size_t	 vlen;
};

struct session {
	char		 id[SID_LEN + 1];	/* "" unless S_LIVE */
	enum sess_state	 state;
	int		 lock_fd;	/* datadir/sessions/.lock, or -1 */
	int		 held;		/* bytes locked on lock_fd */
	off_t		 slot;		/* the byte locked for id, 0 none */
	int		 fresh;		/* its id was issued by this request */
	int		 err;		/* errno of the failure (S_FAILED) */
	struct skv	*v;
	size_t		 n, cap;
	size_t		 total;
	/* session_store redis */
	char		 token[SID_LEN + 1];	/* our lock's value */
	long long	 version;	/* of the data as read or written */
};

static int save(struct session *, const char *id);

/* datadir/sessions/NAME in out (nothing is created); 0, or -1. */
static int
sess_path(char *out, size_t len, const char *name)
{
	int n = snprintf(out, len, "%s/sessions/%s", cfg.datadir, name);

	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int
valid_id(const char *s, size_t n)
{
	size_t i;

	if (n != SID_LEN)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

/*
 * The k-th well-formed session id the client sent in Cookie (a browser
 * may send several of one name, from other paths), or NULL.
 */
static const char *
cookie_id(struct ih_request *r, char *out, int k)
{
	const char *name, *v;
	size_t i, nl = strlen(cfg.session_cookie);

	for (i = 0; (v = ih_header_at(r, i, &name)) != NULL; i++) {
		const char *p = v;

		if (strcasecmp(name, "Cookie") != 0)
			continue;
		while (*p != '\0') {
			size_t len;

			p += strspn(p, " \t;");
			len = strcspn(p, ";");
			if (len > nl && strncmp(p, cfg.session_cookie, nl) == 0 &&
			    p[nl] == '=' && valid_id(p + nl + 1, len - nl - 1) &&
			    k-- == 0) {
				memcpy(out, p + nl + 1, SID_LEN);
				out[SID_LEN] = '\0';
				return out;
			}
			p += len;
		}
	}
	return NULL;
}

static int
put(struct session *s, const char *k, size_t kl, const char *v, size_t vl)
{
	size_t i;
	char *nv;

	if (kl == 0 || kl > SESS_KEY_MAX || vl > SESS_VAL_MAX)
		return -1;
	for (i = 0; i < s->n; i++)
		if (strlen(s->v[i].key) == kl && memcmp(s->v[i].key, k, kl) == 0)
			break;
	if (s->total - (i < s->n ? s->v[i].vlen : 0) + vl > SESS_TOTAL_MAX)
		return -1;
	if ((nv = malloc(vl + 1)) == NULL)
		return -1;
	memcpy(nv, v, vl);
	nv[vl] = '\0';
	if (i == s->n) {
		if (s->n == s->cap) {
			size_t ncap = s->cap ? s->cap * 2 : 8;
			struct skv *n = realloc(s->v, ncap * sizeof(*n));

			if (n == NULL) {
				free(nv);
				return -1;
			}
			s->v = n;
			s->cap = ncap;
		}
		if ((s->v[i].key = strndup(k, kl)) == NULL) {
			free(nv);
			return -1;
		}
		s->v[i].val = NULL;
		s->v[i].vlen = 0;
		s->n++;
	}
	s->total = s->total - s->v[i].vlen + vl;
	free(s->v[i].val);
	s->v[i].val = nv;
	s->v[i].vlen = vl;
	return 0;
}

/*
 * A stored session: SESS_MAGIC, then per record "KLEN VLEN\n" KEY VALUE
 * "\n", only ever parsed as data.  0, or -1 when it does not parse (no
 * session).  buf must have a byte past len to spare.
 */
static int
decode(struct session *s, char *buf, size_t len)
{
	char *p, *end = buf + len;

	if (len < strlen(SESS_MAGIC) ||
	    memcmp(buf, SESS_MAGIC, strlen(SESS_MAGIC)) != 0)
		return -1;
	for (p = buf + strlen(SESS_MAGIC); p < end;) {
		unsigned long kl, vl;
		char *nl, *q;

		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return -1;
		*nl = '\0';
		kl = strtoul(p, &q, 10);
		if (*q != ' ')
			return -1;
		vl = strtoul(q + 1, &q, 10);
		if (*q != '\0' || kl > SESS_KEY_MAX || vl > SESS_VAL_MAX ||
		    (size_t)(end - nl - 1) < kl + vl + 1 ||
		    nl[1 + kl + vl] != '\n')
			return -1;
		if (put(s, nl + 1, kl, nl + 1 + kl, vl) == -1)
			return -1;
		p = nl + 1 + kl + vl + 1;
	}
	return 0;
}

/* Read a store file and decode it.  0 or -1. */
static int
load(struct session *s, int fd)
{
	struct stat st;
	char *buf;
	int rc = -1;

	if (fstat(fd, &st) == -1 || st.st_size > 2 * SESS_TOTAL_MAX)
		return -1;
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		return -1;
	if (pread(fd, buf, (size_t)st.st_size, 0) == st.st_size)
		rc = decode(s, buf, (size_t)st.st_size);
	free(buf);
	return rc;
}

/* The session's data as it is stored (decode's format), malloc'ed. */
static char *
encode(const struct session *s, size_t *len)
{
	/* (sb_ keeps a byte for a NUL: one more than the data) */
	size_t i, cap = strlen(SESS_MAGIC) + s->total + s->n *
	    (SESS_KEY_MAX + 2 * 21 + 3) + 1;
	struct sbuf b;
	char *buf;

	if ((buf = malloc(cap)) == NULL)
		return NULL;
	sb_init(&b, buf, cap);
	sb_puts(&b, SESS_MAGIC);
	for (i = 0; i < s->n; i++) {
		size_t kl = strlen(s->v[i].key);

		sb_num(&b, (unsigned long long)kl);
		sb_put(&b, " ", 1);
		sb_num(&b, (unsigned long long)s->v[i].vlen);
		sb_put(&b, "\n", 1);
		sb_put(&b, s->v[i].key, kl);
		sb_put(&b, s->v[i].val, s->v[i].vlen);
		sb_put(&b, "\n", 1);
	}
	if (b.trunc) {		/* cannot be: cap counts every byte */
		free(buf);
		errno = EOVERFLOW;
		return NULL;
	}
	*len = b.len;
	return buf;
}

static void
clear(struct session *s)
{
	while (s->n > 0) {
		s->n--;
		free(s->v[s->n].key);
		free(s->v[s->n].val);
	}
	s->total = 0;
}

/*
 * The store failed this request: logged, the request marked (its 500
 * becomes 503), and the session unusable until the request ends; what is
 * on disk keeps its last good state.  Returns -1 with errno kept.
 */
static int
fail(struct ih_request *r, struct session *s, const char *what)
{
	int e = errno;

	store_failed(r, what);
	clear(s);
	s->id[0] = '\0';
	s->state = S_FAILED;
	s->err = e;
	errno = e;
	return -1;
}

/* The lock byte of an id: FNV-1a, so that ids spread over LOCK_SLOTS. */
static off_t
slot_of(const char *id)
{
	return (off_t)(1 + fnv1a64(id, strlen(id)) % LOCK_SLOTS);
}

/* Is the lock descriptor still the lock file at its path? */
static int
lock_current(const struct session *s)
{
	char path[4096];
	struct stat a, b;

	return s->lock_fd != -1 && sess_path(path, sizeof(path),
	    SESS_LOCKFILE) == 0 && fstat(s->lock_fd, &a) == 0 &&
	    stat(path, &b) == 0 && a.st_ino == b.st_ino &&
	    a.st_dev == b.st_dev && a.st_nlink > 0;
}

/*
 * Lock byte off of datadir/sessions/.lock, opening (and the first time
 * making) the file on first use.  It is opened per request, never
 * inherited: an OFD lock belongs to the open file, and a descriptor shared
 * across fork would let two processes hold the same byte.  0, or -1.
 */
static int
lock_byte(struct session *s, off_t off)
{
	char path[4096];
	int tries;

	if (sess_path(path, sizeof(path), SESS_LOCKFILE) == -1)
		return -1;
	for (tries = 0; tries < 3; tries++) {
		if (s->lock_fd == -1 && (s->lock_fd = store_open(path,
		    O_RDWR | O_CREAT, 0600)) == -1)
			return -1;
		if (store_lock(s->lock_fd, off, 1) == -1)
			return -1;
		/*
		 * The lock file removed or replaced meanwhile (a tmp cleaner):
		 * a lock on it excludes nobody.  With no other byte held yet,
		 * take the one at the path now; else give up on this request.
		 */
		if (lock_current(s)) {
			s->held++;
			return 0;
		}
		store_unlock(s->lock_fd, off, 1);
		if (s->held > 0)
			break;
		close(s->lock_fd);
		s->lock_fd = -1;
	}
	errno = EAGAIN;
	return -1;
}

/* Release a byte lock_byte took (off 0 is "none" for s->slot). */
static void
unlock_byte(struct session *s, off_t off)
{
	if (s->lock_fd != -1 && off > 0) {
		store_unlock(s->lock_fd, off, 1);
		s->held--;
	}
}

/* Release the creation byte (byte 0, which unlock_byte cannot name). */
static void
unlock_create(struct session *s)
{
	if (s->lock_fd != -1) {
		store_unlock(s->lock_fd, LOCK_CREATE, 1);
		s->held--;
	}
}

static int
set_cookie(struct ih_request *r, const char *value, int expire)
{
	char attrs[128];

	/* over TLS the cookie must never travel in clear text after */
	snprintf(attrs, sizeof(attrs), "Path=/; HttpOnly; SameSite=Lax%s%s",
	    r->c->https ? "; Secure" : "", expire ? "; Max-Age=0" : "");
	return ih_set_cookie(r, cfg.session_cookie, value, attrs);
}

/* A fresh id from the kernel's CSPRNG in out.  0 or -1. */
static int
new_id(char *out)
{
	unsigned char raw[16];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw) ||
	    url_b64_encode(raw, sizeof(raw), out, SID_LEN + 1) != SID_LEN) {
		if (errno == 0)
			errno = EIO;
		return -1;
	}
	return 0;
}

static int
is_tmp(const char *name)
{
	return strlen(name) == TMP_LEN && name[0] == '.' &&
	    valid_id(name + 1, SID_LEN) && name[1 + SID_LEN] == '.';
}

/* "ID.lock": a per-session lock file of the layout before .lock. */
static int
is_old_lock(const char *name)
{
	return strlen(name) == SID_LEN + 5 && valid_id(name, SID_LEN) &&
	    strcmp(name + SID_LEN, ".lock") == 0;
}

/*
 * One pass over the store's names: the number of sessions in it.  With
 * sweep, each entry is also stat'ed, and expired sessions, temporaries a
 * crash left behind and the ID.lock files of the older layout (older
 * than session_ttl) are removed and not counted; .lock is never touched.  -1 when the directory cannot be read.
 */
static long
scan(const char *dir, int sweep, int lock_fd, off_t own)
{
	struct dirent *de;
	time_t now = now_real();
	long n = 0;
	DIR *d;
	int dfd;

	if ((d = opendir(dir)) == NULL)
		return -1;
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		int sid = valid_id(de->d_name, strlen(de->d_name));
		off_t slot = sid ? slot_of(de->d_name) : 0;
		struct stat st;

		if (!sid && !is_tmp(de->d_name) && !is_old_lock(de->d_name))
			continue;
		/*
		 * An expired session goes only under its own byte, taken
		 * without waiting: a request that holds it may be saving it
		 * anew this very moment, and a busy session is not expired.
		 */
		if (sweep && (slot == 0 || (slot != own &&
		    store_trylock(lock_fd, slot, 1) == 0))) {
			int gone = fstatat(dfd, de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
			    st.st_mtime + cfg.session_ttl < now &&
			    unlinkat(dfd, de->d_name, 0) == 0;

			if (slot != 0)
				store_unlock(lock_fd, slot, 1);
			if (gone)
				continue;
		}
		n += sid;
	}
	closedir(d);
	return n;
}

/*
 * Room for one more session?  Called with the creation byte held.  The
 * common case reads names only (getdents: some 30 bytes an entry, about
 * a millisecond for 10,000 sessions); one creation in sess_collect_one_in, and
 * every one that finds the store full, sweeps it as well (a stat per
 * entry) so that expired sessions make room.  0, or -1 with errno
 * (EDQUOT: max_sessions live sessions).
 */
static int
room(const char *dir, int lock_fd, off_t own)
{
	unsigned short dice = 1;
	struct stat st;
	long n;

	if (getrandom(&dice, sizeof(dice), GRND_NONBLOCK) != sizeof(dice))
		dice = 1;
	if ((n = scan(dir, sess_collect_one_in != 0 &&
	    dice % sess_collect_one_in == 0, lock_fd, own)) == -1)
		return -1;
	/*
	 * A full store is swept at once, but at most every SWEEP_FULL_EVERY
	 * seconds (the time of the last sweep is the lock file's mtime):
	 * a flood against a full store costs a name count per request, not
	 * a stat of every session under the creation lock.
	 */
	if (n >= cfg.max_sessions && (fstat(lock_fd, &st) == -1 ||
	    st.st_mtime + SWEEP_FULL_EVERY <= now_real() ||
	    st.st_mtime > now_real())) {
		if ((n = scan(dir, 1, lock_fd, own)) == -1)
			return -1;
		(void)futimens(lock_fd, NULL);
	}
	if (n >= cfg.max_sessions) {
		errno = EDQUOT;
		return -1;
	}
	return 0;
}

/*
 * Make the session the first stored value creates: a new id, its byte
 * locked, its store file written with s's data, then its cookie queued.
 * The file exists before the cookie can reach the client, so a second
 * request carrying it finds the session and waits for this one.  0 or
 * -1 (the store failed: r is marked).
 */
static int
create(struct ih_request *r, struct session *s)
{
	char dir[4096], id[SID_LEN + 1];
	off_t slot = 0;
	int held = 0;

	if (store_dir("sessions", dir, sizeof(dir)) == -1)
		goto err;
	if (lock_byte(s, LOCK_CREATE) == -1)
		goto err;
	held = 1;
	if (room(dir, s->lock_fd, s->slot) == -1 || new_id(id) == -1)
		goto err;
	if (lock_byte(s, slot_of(id)) == -1)
		goto err;
	slot = slot_of(id);
	if (save(s, id) == -1)
		goto err;
	if (set_cookie(r, id, 0) == -1) {
		/* Not for want of room: never stored without its cookie. */
		char path[4096];

		if (sess_path(path, sizeof(path), id) == 0)
			unlink(path);
		errno = EINVAL;
		goto err;
	}
	unlock_create(s);
	memcpy(s->id, id, sizeof(s->id));
	s->slot = slot;
	s->state = S_LIVE;
	s->fresh = 1;
	ih_debug(IH_DBG_REQ, "session %.6s... made", s->id);
	return 0;
err:
	{
		int e = errno;

		if (slot != 0)
			unlock_byte(s, slot);
		if (held)
			unlock_create(s);
		errno = e;
	}
	return fail(r, s, errno == EDQUOT ? "new session: max_sessions "
	    "reached" : "new session");
}

/*
 * Adopt the session named id if its store file exists, is younger than
 * session_ttl and parses.  1 loaded (its byte locked), 0 not adopted (no
 * file, expired, corrupt: nothing is made or kept for it), -1 the store
 * failed (r marked).
 */
static int
try_load(struct ih_request *r, struct session *s, const char *id)
{
	char path[4096];
	struct stat st;
	time_t now;
	off_t slot = slot_of(id);
	int fd, ok;

	/* No file for an id we never issued: not even a lock is taken. */
	if (sess_path(path, sizeof(path), id) == -1 ||
	    lstat(path, &st) == -1 || !S_ISREG(st.st_mode))
		return 0;
	if (lock_byte(s, slot) == -1)
		return fail(r, s, "session lock");
	if ((fd = store_open(path, O_RDONLY, 0)) == -1) {
		if (errno == ENOENT || errno == ELOOP || errno == EINVAL) {
			/* Destroyed or renewed while we waited. */
			unlock_byte(s, slot);
			return 0;
		}
		unlock_byte(s, slot);
		return fail(r, s, "session load");
	}
	now = now_real();
	ok = fstat(fd, &st) == 0 && st.st_mtime + cfg.session_ttl >= now &&
	    load(s, fd) == 0;
	close(fd);
	if (!ok) {
		/* An expired file is dead: remove it while we hold its byte. */
		if (st.st_mtime + cfg.session_ttl < now)
			unlink(path);
		clear(s);
		unlock_byte(s, slot);
		return 0;
	}
	/* Sliding expiry: a visit keeps it alive. */
	if (st.st_mtime + cfg.session_ttl / 4 < now)
		utimensat(AT_FDCWD, path, NULL, 0);
	memcpy(s->id, id, sizeof(s->id));
	s->slot = slot;
	s->state = S_LIVE;
	ih_debug(IH_DBG_REQ, "session %.6s... loaded", s->id);
	return 1;
}

/* ---- session_store redis ------------------------------------------- */

/*
 * In Redis a session is three things under redis_prefix: "s:ID", a hash
 * of its data (d, as decode reads it) and its version (v), expiring
 * session_ttl after its last use; "l:ID", its lock, whose value is the
 * holder's random token, expiring by itself (half of lock_timeout, so a
 * node killed while holding it delays others by less than they wait);
 * and "sessions", a sorted set of live ids by expiry, which makes
 * max_sessions exact across nodes.  Each step is one script.
 *
 * A write (R_SAVE) is made only by the lock's holder; if the lock timed
 * out meanwhile (a request that outlived it), only when nobody took it
 * and the version is still the one read: WATCH/MULTI's promise, in one
 * round trip.  Otherwise the request fails (503) and the other request's
 * update stands.  Keys: s, l, sessions.  ARGV: token, id, version,
 * lock ms, ttl ms, data.
 */
#define R_NOW \
	"local tm = redis.call('TIME') " \
	"local now = tm[1] * 1000 + math.floor(tm[2] / 1000) "
#define R_OWN \
	"local function own() " \
	"  local l = redis.call('GET', KEYS[2]) " \
	"  if l == ARGV[1] then return true end " \
	"  if l or redis.call('HGET', KEYS[1], 'v') ~= ARGV[3] then " \
	"    return false end " \
	"  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[4]) " \
	"  return true " \
	"end "

/* Adopt: nothing is made for an id we never issued, not even a lock. */
static const char lua_load[] = R_NOW
    "if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end "
    "if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[4]) then "
    "  return {1} end "
    "redis.call('PEXPIRE', KEYS[1], ARGV[5]) "
    "redis.call('ZADD', KEYS[3], now + ARGV[5], ARGV[2]) "
    "local d = redis.call('HMGET', KEYS[1], 'd', 'v') "
    "return {2, d[1], d[2]}";

/* Make: ARGV[6] the data, ARGV[3] the most sessions there may be. */
static const char lua_create[] = R_NOW
    "redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now) "
    "if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[3]) then "
    "  return -1 end "
    "if redis.call('EXISTS', KEYS[1]) == 1 then return -2 end "
    "redis.call('HSET', KEYS[1], 'd', ARGV[6], 'v', 1) "
    "redis.call('PEXPIRE', KEYS[1], ARGV[5]) "
    "redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[4]) "
    "redis.call('ZADD', KEYS[3], now + ARGV[5], ARGV[2]) "
    "return 1";

static const char lua_save[] = R_NOW R_OWN
    "if not own() then return 0 end "
    "if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end "
    "redis.call('HSET', KEYS[1], 'd', ARGV[6]) "
    "local v = redis.call('HINCRBY', KEYS[1], 'v', 1) "
    "redis.call('PEXPIRE', KEYS[1], ARGV[5]) "
    "redis.call('PEXPIRE', KEYS[2], ARGV[4]) "
    "redis.call('ZADD', KEYS[3], now + ARGV[5], ARGV[2]) "
    "return v";

static const char lua_destroy[] = R_OWN
    "if not own() then return 0 end "
    "redis.call('DEL', KEYS[1], KEYS[2]) "
    "redis.call('ZREM', KEYS[3], ARGV[2]) "
    "return 1";

static const char lua_unlock[] =
    "if redis.call('GET', KEYS[2]) == ARGV[1] then "
    "  redis.call('DEL', KEYS[2]) end "
    "return 1";

/*
 * Run one of the scripts for session id with s's token and version (and
 * data, when s is to be stored).  The reply, or NULL (the store failed,
 * r marked).
 */
static redisReply *
r_call(struct ih_request *r, struct session *s, const char *script,
    const char *what, const char *id, long long arg3, int with_data)
{
	char kb[2][2 + SID_LEN + 1], a3[24], a4[24], a5[24], *data = NULL;
	struct rstr k[3], a[6];
	redisReply *rep;
	size_t dl = 0;

	snprintf(kb[0], sizeof(kb[0]), "s:%s", id);
	snprintf(kb[1], sizeof(kb[1]), "l:%s", id);
	k[0].p = kb[0], k[0].len = strlen(kb[0]);
	k[1].p = kb[1], k[1].len = strlen(kb[1]);
	k[2].p = "sessions", k[2].len = 8;
	if (with_data && (data = encode(s, &dl)) == NULL) {
		store_failed(r, what);
		return NULL;
	}
	a[0].p = s->token, a[0].len = strlen(s->token);
	a[1].p = id, a[1].len = strlen(id);
	a[2].p = a3, a[2].len = (size_t)snprintf(a3, sizeof(a3), "%lld", arg3);
	a[3].p = a4, a[3].len = (size_t)snprintf(a4, sizeof(a4), "%lld",
	    cfg.lock_timeout * 500);
	a[4].p = a5, a[4].len = (size_t)snprintf(a5, sizeof(a5), "%lld",
	    cfg.session_ttl * 1000);
	a[5].p = data != NULL ? data : "", a[5].len = dl;
	rep = redis_eval(r, what, script, 3, k, with_data ? 6 : 5, a);
	free(data);
	return rep;
}

/*
 * try_load for Redis: 1 loaded (its lock ours), 0 not adopted, -1 the
 * store failed.  A busy session is waited for, up to lock_timeout.
 */
static int
r_try_load(struct ih_request *r, struct session *s, const char *id)
{
	int64_t until = mono_ms() + cfg.lock_timeout * 1000;
	unsigned wait_us = 1000;
	redisReply *rep;
	long long what;

	if (new_id(s->token) == -1)
		return fail(r, s, "session lock token");
	for (;;) {
		if ((rep = r_call(r, s, lua_load, "session load", id, 0, 0)) ==
		    NULL)
			return fail(r, s, "session load");
		what = rep->type == REDIS_REPLY_ARRAY && rep->elements >= 1 &&
		    rep->element[0]->type == REDIS_REPLY_INTEGER ?
		    rep->element[0]->integer : -1;
		if (what != 1)
			break;
		redis_free(rep);
		if (mono_ms() >= until) {
			errno = ETIMEDOUT;
			return fail(r, s, "session lock");
		}
		usleep(wait_us);
		if (wait_us < 32000)
			wait_us *= 2;
	}
	if (what == 0) {
		redis_free(rep);
		return 0;
	}
	if (what != 2 || rep->elements != 3 ||
	    rep->element[1]->type != REDIS_REPLY_STRING ||
	    rep->element[2]->type != REDIS_REPLY_STRING ||
	    rep->element[1]->len > 2 * SESS_TOTAL_MAX) {
		redis_free(rep);
		errno = EIO;
		return fail(r, s, "session load: an unexpected answer");
	}
	s->version = strtoll(rep->element[2]->str, NULL, 10);
	/* hiredis ends every string with a NUL past its length */
	if (decode(s, rep->element[1]->str, rep->element[1]->len) == -1) {
		/* Not ours to read: not adopted, and the lock goes. */
		redis_free(rep);
		clear(s);
		redis_free(r_call(r, s, lua_unlock, "session unlock", id, 0, 0));
		return 0;
	}
	redis_free(rep);
	memcpy(s->id, id, sizeof(s->id));
	s->state = S_LIVE;
	ih_debug(IH_DBG_REQ, "session %.6s... loaded from redis", s->id);
	return 1;
}

/* Store s as a new session: a fresh id (and cookie, when cookie). */
static int
r_create(struct ih_request *r, struct session *s, long long max, int cookie)
{
	char id[SID_LEN + 1];
	redisReply *rep;
	long long v = -2;
	int tries;

	if (s->token[0] == '\0' && new_id(s->token) == -1)
		return fail(r, s, "session lock token");
	for (tries = 0; v == -2 && tries < 3; tries++) {
		if (new_id(id) == -1)
			return fail(r, s, "new session");
		if ((rep = r_call(r, s, lua_create, "new session", id, max, 1)) ==
		    NULL)
			return fail(r, s, "new session");
		v = redis_int(rep, -3);
		redis_free(rep);
	}
	if (v != 1) {
		errno = v == -1 ? EDQUOT : EIO;
		return fail(r, s, v == -1 ? "new session: max_sessions "
		    "reached" : "new session");
	}
	if (cookie && set_cookie(r, id, 0) == -1) {
		/* Never stored without its cookie. */
		s->version = 1;
		redis_free(r_call(r, s, lua_destroy, "session destroy", id, 1, 0));
		errno = EINVAL;
		return fail(r, s, "new session");
	}
	memcpy(s->id, id, sizeof(s->id));
	s->version = 1;
	s->state = S_LIVE;
	s->fresh = 1;
	ih_debug(IH_DBG_REQ, "session %.6s... made in redis", s->id);
	return 0;
}

static int
r_save(struct ih_request *r, struct session *s)
{
	redisReply *rep = r_call(r, s, lua_save, "session save", s->id,
	    s->version, 1);
	long long v;

	if (rep == NULL)
		return fail(r, s, "session save");
	v = redis_int(rep, -2);
	redis_free(rep);
	if (v <= 0) {
		errno = v == 0 ? EAGAIN : ENOENT;
		return fail(r, s, v == 0 ? "session save: its lock timed out "
		    "and another request changed it" : "session save: it "
		    "expired or was destroyed meanwhile");
	}
	s->version = v;
	return 0;
}

/* Remove session id (ours: locked, or unchanged).  0 or -1. */
static int
r_destroy(struct ih_request *r, struct session *s, const char *id)
{
	redisReply *rep = r_call(r, s, lua_destroy, "session destroy", id,
	    s->version, 0);
	long long v;

	if (rep == NULL)
		return -1;
	v = redis_int(rep, -1);
	redis_free(rep);
	if (v != 1) {
		errno = EAGAIN;
		store_failed(r, "session destroy: changed by another request");
		return -1;
	}
	return 0;
}

/*
 * The request's session state, loading the client's session on first
 * use.  NULL with errno when sessions are off (ENOTSUP) or the store
 * failed; otherwise a session that may be S_NONE (nothing is made here).
 */
static struct session *
sess_open(struct ih_request *r)
{
	char sent[SID_LEN + 1];
	struct session *s;
	const char *id;
	int k;

	if ((s = r->sess) != NULL) {
		if (s->state != S_FAILED)
			return s;
		errno = s->err;
		return NULL;
	}
	if (!cfg.sessions) {
		errno = ENOTSUP;
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->lock_fd = -1;
	r->sess = s;
	/* A store others could write is never read (nor made: store_dir). */
	if (cfg.session_store == STORE_FILES && cookie_id(r, sent, 0) != NULL &&
	    store_dir_trusted("sessions") == -1) {
		fail(r, s, "session store");
		return NULL;
	}
	for (k = 0; k < 4 && (id = cookie_id(r, sent, k)) != NULL; k++)
		switch (cfg.session_store == STORE_REDIS ? r_try_load(r, s, id) :
		    try_load(r, s, id)) {
		case 1:
			return s;
		case -1:
			return NULL;
		}
	return s;
}

/* Write the session's store file as id: a temporary beside it, renamed
 * over it.  On failure the old file is untouched.  0, or -1 with errno. */
static int
save(struct session *s, const char *id)
{
	char path[4096], tmp[4096], t[TMP_LEN + 1], *buf;
	size_t len;
	int fd, e;

	snprintf(t, sizeof(t), ".%s.XXXXXX", id);
	if (sess_path(path, sizeof(path), id) == -1 ||
	    sess_path(tmp, sizeof(tmp), t) == -1)
		return -1;
	if ((buf = encode(s, &len)) == NULL)
		return -1;
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		free(buf);
		return -1;
	}
	e = write_full(fd, buf, len) == -1 ? errno : 0;
	if (close(fd) == -1 && e == 0)
		e = errno;
	if (e != 0 || rename(tmp, path) == -1) {
		if (e == 0)
			e = errno;
		unlink(tmp);
		free(buf);
		errno = e != 0 ? e : EIO;
		return -1;
	}
	free(buf);
	return 0;
}

/* Store a change of a live session at once, or make the session. */
static int
commit(struct ih_request *r, struct session *s)
{
	if (cfg.session_store == STORE_REDIS)
		return s->state == S_NONE ? r_create(r, s, cfg.max_sessions, 1) :
		    r_save(r, s);
	if (s->state == S_NONE)
		return create(r, s);
	/*
	 * Our lock must still be on the lock file at the path: if someone
	 * removed it meanwhile, another request may hold "our" byte on the
	 * new file, and writing now could undo its update.
	 */
	if (!lock_current(s)) {
		errno = EAGAIN;
		return fail(r, s, "session save: the lock file was removed");
	}
	if (save(s, s->id) == -1)
		return fail(r, s, "session save");
	return 0;
}

const char *
ih_session_id(struct ih_request *r)
{
	struct session *s = sess_open(r);

	if (s == NULL)
		return NULL;
	if (s->state != S_LIVE) {
		errno = 0;
		return NULL;
	}
	return s->id;
}

const char *
ih_session_get(struct ih_request *r, const char *key, size_t *len)
{
	struct session *s = sess_open(r);
	size_t i;

	for (i = 0; s != NULL && i < s->n; i++)
		if (strcmp(s->v[i].key, key) == 0) {
			if (len != NULL)
				*len = s->v[i].vlen;
			return s->v[i].val;
		}
	return NULL;
}

int
ih_session_set(struct ih_request *r, const char *key, const void *val,
    size_t len)
{
	struct session *s = sess_open(r);

	if (s == NULL)
		return -1;
	if (s->state == S_DESTROYED ||
	    (s->state == S_NONE && r->head_len > 0)) {
		/* No cookie can go out any more: no session can be made. */
		errno = EINVAL;
		return -1;
	}
	if (put(s, key, strlen(key), val, len) == -1) {
		errno = EINVAL;
		return -1;
	}
	return commit(r, s);
}

int
ih_session_del(struct ih_request *r, const char *key)
{
	struct session *s = sess_open(r);
	size_t i;

	for (i = 0; s != NULL && s->state == S_LIVE && i < s->n; i++)
		if (strcmp(s->v[i].key, key) == 0) {
			s->total -= s->v[i].vlen;
			free(s->v[i].key);
			free(s->v[i].val);
			s->v[i] = s->v[--s->n];
			return commit(r, s);
		}
	return -1;
}

int
ih_session_renew(struct ih_request *r)
{
	struct session *s = sess_open(r);
	char path[4096], id[SID_LEN + 1];
	off_t slot;

	if (s == NULL || s->state == S_DESTROYED)
		return -1;
	if (s->state == S_NONE || s->fresh)
		return 0;	/* nothing anyone knows the id of */
	if (cfg.session_store == STORE_REDIS) {
		long long v = s->version;

		memcpy(id, s->id, sizeof(id));
		if (s->n == 0) {
			if (r_destroy(r, s, id) == -1)
				return fail(r, s, "session renew");
			s->id[0] = '\0';
			s->state = S_NONE;
			return 0;
		}
		if (r->head_len > 0) {
			errno = EINVAL;
			return -1;
		}
		/* The new one first: a failure leaves the old as it was.
		 * (One more than max_sessions: this replaces one.) */
		if (r_create(r, s, cfg.max_sessions + 1, 1) == -1)
			return -1;
		s->version = v;
		(void)r_destroy(r, s, id);
		s->version = 1;
		return 0;
	}
	if (sess_path(path, sizeof(path), s->id) == -1)
		return fail(r, s, "session renew");
	if (s->n == 0) {
		/* Nothing to keep: the old id just ends; a set makes anew. */
		unlink(path);
		unlock_byte(s, s->slot);
		s->slot = 0;
		s->id[0] = '\0';
		s->state = S_NONE;
		return 0;
	}
	if (r->head_len > 0) {
		errno = EINVAL;
		return -1;
	}
	/* The data moves to a new id; the old file goes only once the new
	 * one is stored, so a failure leaves the session as it was. */
	if (new_id(id) == -1 || lock_byte(s, slot_of(id)) == -1)
		return fail(r, s, "session renew");
	slot = slot_of(id);
	if (save(s, id) == -1) {
		int e = errno;

		if (slot != s->slot)
			unlock_byte(s, slot);
		errno = e;
		return fail(r, s, "session renew");
	}
	unlink(path);
	if (s->slot != slot)
		unlock_byte(s, s->slot);
	memcpy(s->id, id, sizeof(s->id));
	s->slot = slot;
	s->fresh = 1;
	return set_cookie(r, s->id, 0);
}

int
ih_session_destroy(struct ih_request *r)
{
	struct session *s = sess_open(r);
	char path[4096], sent[SID_LEN + 1];
	int expire;

	if (s == NULL)
		return -1;
	if (s->state == S_DESTROYED)
		return 0;
	expire = s->state == S_LIVE || cookie_id(r, sent, 0) != NULL;
	if (s->state == S_LIVE && cfg.session_store == STORE_REDIS) {
		if (r_destroy(r, s, s->id) == -1)
			return fail(r, s, "session destroy");
	} else if (s->state == S_LIVE) {
		if (sess_path(path, sizeof(path), s->id) == -1 ||
		    (unlink(path) == -1 && errno != ENOENT))
			return fail(r, s, "session destroy");
		unlock_byte(s, s->slot);
		s->slot = 0;
	}
	clear(s);
	s->id[0] = '\0';
	s->state = S_DESTROYED;
	/* Expire the client's cookie, if it sent one; none made, none sent. */
	return expire ? set_cookie(r, "", 1) : 0;
}

/* Does the request hold a session's lock (one was loaded or made)? */
int
sess_locked(const struct ih_request *r)
{
	return r->sess != NULL && r->sess->state == S_LIVE;
}

/*
 * At the end of a request: every change is already stored, so only the
 * lock is released (closing its descriptor drops every byte it held) and
 * the session freed.
 */
void
sess_finish(struct ih_request *r)
{
	struct session *s = r->sess;

	if (s == NULL)
		return;
	if (s->state == S_LIVE && cfg.session_store == STORE_REDIS)
		redis_free(r_call(r, s, lua_unlock, "session unlock", s->id, 0,
		    0));
	if (s->lock_fd != -1)
		close(s->lock_fd);
	clear(s);
	free(s->v);
	free(s);
	r->sess = NULL;
}
