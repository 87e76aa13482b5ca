/*
 * session.c - server-side sessions.  The id is 128 bits from the kernel's
 * CSPRNG, base64url, sent as `Path=/; HttpOnly; SameSite=Lax`; an id the
 * server did not issue (no file) or one past session_ttl is never adopted:
 * a new session is made, so a planted id fixes nothing.  The store is one
 * file per session, datadir/sessions/ID (0600, in a 0700 directory),
 * length-prefixed key/value records that are only ever parsed as data,
 * replaced by write-to-temp and rename.  A lock file per session, held
 * with flock from the first access until the request ends, serialises
 * concurrent requests of one session, so no update is lost.  Expired
 * files are collected with probability 1/100 per opened session.
 */
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define SID_LEN		22		/* 16 bytes, base64url, no padding */
#define SESS_KEY_MAX	256
#define SESS_VAL_MAX	(64 * 1024)
#define SESS_TOTAL_MAX	(256 * 1024)
#define SESS_MAGIC	"ihttpd-session 1\n"

struct skv {
	char	*key;
	char	*val;
	size_t	 vlen;
};

struct session {
	char		 id[SID_LEN + 1];
	int		 lock_fd;
	int		 dirty;
	int		 destroyed;
	int		 failed;
	int		 fresh;		/* its id was issued by this request */
	struct skv	*v;
	size_t		 n, cap;
	size_t		 total;
};

static int
sess_dir(char *out, size_t len)
{
	if (mkdir(cfg.datadir, 0700) == -1 && errno != EEXIST)
		return -1;
	snprintf(out, len, "%s/sessions", cfg.datadir);
	if (mkdir(out, 0700) == -1 && errno != EEXIST)
		return -1;
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

/* Remove expired sessions, now and then (1 in 100 opens). */
static void
collect(const char *dir)
{
	unsigned short dice;
	struct dirent *de;
	time_t now = now_real();
	DIR *d;
	int dfd;

	if (getrandom(&dice, sizeof(dice), GRND_NONBLOCK) != sizeof(dice) ||
	    dice % 100 != 0)
		return;
	if ((d = opendir(dir)) == NULL)
		return;
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		/* ".ID.XXXXXX" temporaries left by a crash go by age too. */
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		size_t nl = strlen(de->d_name);

		if (nl == SID_LEN + 5 && strcmp(de->d_name + SID_LEN,
		    ".lock") == 0) {
			/* A lock goes once its session is gone. */
			char data[SID_LEN + 1];

			memcpy(data, de->d_name, SID_LEN);
			data[SID_LEN] = '\0';
			if (fstatat(dfd, data, &st, AT_SYMLINK_NOFOLLOW) == -1 &&
			    errno == ENOENT && fstatat(dfd, de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == 0 && st.st_mtime +
			    cfg.session_ttl < now)
				unlinkat(dfd, de->d_name, 0);
		} else if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
		    0 && S_ISREG(st.st_mode) && st.st_mtime + cfg.session_ttl <
		    now)
			unlinkat(dfd, de->d_name, 0);
	}
	closedir(d);
}

static int
lock_session(struct session *s, const char *dir)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s.lock", dir, s->id);
	s->lock_fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (s->lock_fd == -1)
		return -1;
	while (flock(s->lock_fd, LOCK_EX) == -1)
		if (errno != EINTR)
			return -1;
	return 0;
}

static int
set_cookie(struct ih_request *r, const char *value, int expire)
{
	char attrs[128];

	snprintf(attrs, sizeof(attrs), "Path=/; HttpOnly; SameSite=Lax%s",
	    expire ? "; Max-Age=0" : "");
	return ih_set_cookie(r, cfg.session_cookie, value, attrs);
}

static int save(struct session *);

/* A fresh id from the kernel's CSPRNG, locked, with its cookie set. */
static int
new_id(struct ih_request *r, struct session *s, const char *dir)
{
	unsigned char raw[16];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw) ||
	    url_b64_encode(raw, sizeof(raw), s->id, sizeof(s->id)) != SID_LEN ||
	    lock_session(s, dir) == -1 || set_cookie(r, s->id, 0) == -1)
		return -1;
	return 0;
}

/* Load the client's session, or make a new one.  NULL on failure. */
static struct session *
sess_open(struct ih_request *r)
{
	char dir[4096], path[4200], sent[SID_LEN + 1];
	struct session *s;
	const char *id;
	int fd, k;

	if (r->sess != NULL)
		return r->sess->failed || r->sess->destroyed ? NULL : r->sess;
	if (!cfg.sessions || sess_dir(dir, sizeof(dir)) == -1)
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->lock_fd = -1;
	r->sess = s;
	collect(dir);
	for (k = 0; k < 4 && (id = cookie_id(r, sent, k)) != NULL; k++) {
		struct stat pre;

		memcpy(s->id, id, SID_LEN + 1);
		snprintf(path, sizeof(path), "%s/%s", dir, s->id);
		/* No file for an id we never issued: not even a lock file. */
		if (stat(path, &pre) == 0 && lock_session(s, dir) == 0 &&
		    (fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) != -1) {
			struct stat st;
			time_t now = now_real();
			int ok = fstat(fd, &st) == 0 && st.st_mtime +
			    cfg.session_ttl >= now && load(s, fd) == 0;

			close(fd);
			if (ok) {
				/* Sliding expiry: a visit keeps it alive. */
				if (st.st_mtime + cfg.session_ttl / 4 < now)
					utimensat(AT_FDCWD, path, NULL, 0);
				ih_debug(IH_DBG_REQ, "session %.6s... loaded",
				    s->id);
				return s;
			}
		}
		/* Unknown, expired or unreadable: not adopted. */
		while (s->n > 0) {
			s->n--;
			free(s->v[s->n].key);
			free(s->v[s->n].val);
		}
		s->total = 0;
		if (s->lock_fd != -1)
			close(s->lock_fd);
		s->lock_fd = -1;
	}
	if (new_id(r, s, dir) == -1) {
		s->failed = 1;
		return NULL;
	}
	s->fresh = 1;
	s->dirty = 1;
	/*
	 * Store it now, before its cookie can reach the client: a second
	 * request with that cookie then finds the file and waits on the
	 * lock instead of making a session of its own.
	 */
	if (save(s) == -1) {
		s->failed = 1;
		return NULL;
	}
	return s;
}


const char *
ih_session_id(struct ih_request *r)
{
	struct session *s = sess_open(r);

	return s != NULL ? s->id : NULL;
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

	if (s == NULL || put(s, key, strlen(key), val, len) == -1)
		return -1;
	s->dirty = 1;
	return 0;
}

int
ih_session_del(struct ih_request *r, const char *key)
{
	struct session *s = sess_open(r);
	size_t i;

	for (i = 0; s != NULL && i < s->n; i++)
		if (strcmp(s->v[i].key, key) == 0) {
			s->total -= s->v[i].vlen;
			free(s->v[i].key);
			free(s->v[i].val);
			s->v[i] = s->v[--s->n];
			s->dirty = 1;
			return 0;
		}
	return -1;
}

int
ih_session_renew(struct ih_request *r)
{
	struct session *s = sess_open(r);
	char dir[4096], path[4200];

	if (s == NULL || sess_dir(dir, sizeof(dir)) == -1)
		return -1;
	if (s->fresh)
		return 0;	/* issued by this very request: nobody knew it */
	/* The old id dies with its files; the data moves to a new id. */
	snprintf(path, sizeof(path), "%s/%s", dir, s->id);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s.lock", dir, s->id);
	unlink(path);
	if (s->lock_fd != -1)
		close(s->lock_fd);
	s->lock_fd = -1;
	if (new_id(r, s, dir) == -1 || save(s) == -1) {
		s->failed = 1;
		return -1;
	}
	s->dirty = 1;
	return 0;
}

int
ih_session_destroy(struct ih_request *r)
{
	struct session *s = sess_open(r);
	char dir[4096], path[4200];

	if (s == NULL || sess_dir(dir, sizeof(dir)) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, s->id);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s.lock", dir, s->id);
	unlink(path);
	s->destroyed = 1;
	s->dirty = 0;
	return set_cookie(r, "", 1);
}

/* Write the store file beside the old one and rename it over. */
static int
save(struct session *s)
{
	char dir[4096], path[4200], tmp[4200], head[64];
	size_t i;
	int fd, bad;
	FILE *fp;

	if (sess_dir(dir, sizeof(dir)) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, s->id);
	snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, s->id);
	if ((fd = mkstemp(tmp)) == -1)
		return -1;
	if ((fp = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(tmp);
		return -1;
	}
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
	if (fclose(fp) != 0 || bad || rename(tmp, path) == -1) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/*
 * At the end of a request: save a changed session once, release its lock,
 * free it.
 */
void
sess_finish(struct ih_request *r)
{
	struct session *s = r->sess;
	size_t i;

	if (s == NULL)
		return;
	if (s->dirty && !s->destroyed && !s->failed && save(s) == -1)
		ih_log(IH_LOG_ERR, "session store: cannot save: %s",
		    strerror(errno));
	if (s->lock_fd != -1)
		close(s->lock_fd);	/* releases the flock */
	for (i = 0; i < s->n; i++) {
		free(s->v[i].key);
		free(s->v[i].val);
	}
	free(s->v);
	free(s);
	r->sess = NULL;
}
