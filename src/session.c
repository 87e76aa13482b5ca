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
 * Read a store file: SESS_MAGIC, then per record "KLEN VLEN\n" KEY VALUE
 * "\n".  A file that does not parse is treated as no session.  0 or -1.
 */
static int
load(struct session *s, int fd)
{
	struct stat st;
	char *buf, *p, *end;
	int rc = -1;

	if (fstat(fd, &st) == -1 || st.st_size > 2 * SESS_TOTAL_MAX)
		return -1;
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		return -1;
	if (pread(fd, buf, (size_t)st.st_size, 0) != st.st_size)
		goto out;
	end = buf + st.st_size;
	if ((size_t)st.st_size < strlen(SESS_MAGIC) ||
	    memcmp(buf, SESS_MAGIC, strlen(SESS_MAGIC)) != 0)
		goto out;
	for (p = buf + strlen(SESS_MAGIC); p < end;) {
		unsigned long kl, vl;
		char *nl, *q;

		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			goto out;
		*nl = '\0';
		kl = strtoul(p, &q, 10);
		if (*q != ' ')
			goto out;
		vl = strtoul(q + 1, &q, 10);
		if (*q != '\0' || kl > SESS_KEY_MAX || vl > SESS_VAL_MAX ||
		    (size_t)(end - nl - 1) < kl + vl + 1 ||
		    nl[1 + kl + vl] != '\n')
			goto out;
		if (put(s, nl + 1, kl, nl + 1 + kl, vl) == -1)
			goto out;
		p = nl + 1 + kl + vl + 1;
	}
	rc = 0;
out:
	free(buf);
	return rc;
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
	    r->c->tls != NULL ? "; Secure" : "", expire ? "; Max-Age=0" : "");
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
	if (cookie_id(r, sent, 0) != NULL && store_dir_trusted("sessions") ==
	    -1) {
		fail(r, s, "session store");
		return NULL;
	}
	for (k = 0; k < 4 && (id = cookie_id(r, sent, k)) != NULL; k++)
		switch (try_load(r, s, id)) {
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
	char path[4096], tmp[4096], head[64], t[TMP_LEN + 1];
	size_t i;
	int fd, bad, e;
	FILE *fp;

	snprintf(t, sizeof(t), ".%s.XXXXXX", id);
	if (sess_path(path, sizeof(path), id) == -1 ||
	    sess_path(tmp, sizeof(tmp), t) == -1)
		return -1;
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		return -1;
	if ((fp = fdopen(fd, "w")) == NULL) {
		e = errno;
		close(fd);
		unlink(tmp);
		errno = e;
		return -1;
	}
	errno = 0;
	fputs(SESS_MAGIC, fp);
	for (i = 0; i < s->n; i++) {
		snprintf(head, sizeof(head), "%zu %zu\n", strlen(s->v[i].key),
		    s->v[i].vlen);
		fputs(head, fp);
		fputs(s->v[i].key, fp);
		fwrite(s->v[i].val, 1, s->v[i].vlen, fp);
		fputc('\n', fp);
	}
	bad = fflush(fp) != 0 || ferror(fp);
	e = errno;
	if (fclose(fp) != 0 && !bad) {
		bad = 1;
		e = errno;
	}
	if (bad || rename(tmp, path) == -1) {
		if (!bad)
			e = errno;
		unlink(tmp);
		errno = e != 0 ? e : EIO;
		return -1;
	}
	return 0;
}

/* Store a change of a live session at once, or make the session. */
static int
commit(struct ih_request *r, struct session *s)
{
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
	if (s->state == S_LIVE) {
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
	if (s->lock_fd != -1)
		close(s->lock_fd);
	clear(s);
	free(s->v);
	free(s);
	r->sess = NULL;
}
