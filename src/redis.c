/*
 * redis.c - the Redis side of the stores (DESIGN: "one interface and two
 * stores"): sessions, Digest nonce counts and the Digest secret, and
 * rate-limit buckets, when nodes behind one balancer must share them.
 * Through hiredis, one connection per process, made on first use and
 * kept (a prefork worker, a kept-alive connection); it is never inherited
 * by a CGI child (close-on-exec).
 *
 * Bounded: connecting and every answer have redis_timeout.  A Redis that
 * is down, refuses, or does not answer in time fails the request's store
 * (store.c: the 500 goes out as 503 with Retry-After) and drops the
 * connection; the next request tries again, so service comes back with
 * Redis.  Within one request a failure is not retried, so a request
 * waits at most one redis_timeout for a dead Redis, however many store
 * operations it makes.  The file store is never used instead.
 *
 * Every change that must not be lost to a concurrent one is one Lua
 * script, which Redis runs atomically: a session is written only by the
 * request that holds its lock (a token in a key of its own, with a
 * time-out), or, when that lock timed out, only if nobody changed the
 * session since it was read (its version) - so of two nodes updating one
 * session at once, neither update is lost.  Scripts read Redis's own
 * clock (TIME), so nodes whose clocks differ share one time line -
 * except the Digest nonce counts, which compare the nonces' own times
 * (made by the nodes' clocks, which Digest needs in step anyway).
 * (A single Redis or a primary with replicas; the keys of one script are
 * not placed for Redis Cluster.)
 */
#include <sys/random.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "internal.h"

static redisContext *rc;
/* The request a failure happened in (its connection and number): it is
 * not tried again, so one request waits one redis_timeout at most. */
static const struct conn *failed_c;
static unsigned failed_nreq;

static int
failed_here(const struct ih_request *r)
{
	return r != NULL && r->c == failed_c && r->c->nreq == failed_nreq;
}

static void
failed_now(const struct ih_request *r)
{
	failed_c = r != NULL ? r->c : NULL;
	failed_nreq = r != NULL ? r->c->nreq : 0;
}

/* host:port, [v6]:port, or a unix socket path (/..., unix:/...). */
static redisContext *
connect_to(const char *addr, struct timeval tv)
{
	char host[256];
	const char *colon;
	size_t hl;
	long long port;

	if (strncmp(addr, "unix:", 5) == 0)
		addr += 5;
	if (addr[0] == '/')
		return redisConnectUnixWithTimeout(addr, tv);
	if (addr[0] == '[') {
		const char *e = strchr(addr, ']');

		if (e == NULL || e[1] != ':')
			return NULL;
		hl = (size_t)(e - addr - 1);
		addr++;
		colon = e + 1;
	} else {
		if ((colon = strrchr(addr, ':')) == NULL)
			return NULL;
		hl = (size_t)(colon - addr);
	}
	if (hl == 0 || hl >= sizeof(host) ||
	    str_to_ll(colon + 1, 1, 65535, &port) == -1)
		return NULL;
	memcpy(host, addr, hl);
	host[hl] = '\0';
	return redisConnectWithTimeout(host, (int)port, tv);
}

/* --check: is redis_address one connect_to understands?  0 or -1. */
int
redis_address_ok(const char *addr)
{
	const char *colon, *p = addr;
	long long port;

	if (strncmp(p, "unix:", 5) == 0)
		p += 5;
	if (p[0] == '/')
		return 0;
	if (p[0] == '[') {
		if ((colon = strchr(p, ']')) == NULL || colon[1] != ':')
			return -1;
		colon++;
	} else if ((colon = strrchr(p, ':')) == NULL || colon == p)
		return -1;
	return str_to_ll(colon + 1, 1, 65535, &port);
}

static void
drop(void)
{
	if (rc != NULL)
		redisFree(rc);
	rc = NULL;
}

/* AUTH from redis_password_file: "PASSWORD" or "USER PASSWORD". */
static int
auth(const char **why)
{
	char buf[512], *sp;
	const char *argv[3] = { "AUTH", buf, NULL };
	size_t len[3] = { 4, 0, 0 };
	redisReply *rep;
	ssize_t n;
	int fd, argc = 2, ok;

	if ((fd = open(cfg.redis_password_file, O_RDONLY | O_CLOEXEC)) == -1) {
		*why = "redis_password_file unreadable";
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		*why = "redis_password_file empty";
		return -1;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	len[1] = strlen(buf);
	if ((sp = strchr(buf, ' ')) != NULL) {
		*sp = '\0';
		argv[2] = sp + 1;
		len[1] = strlen(buf);
		len[2] = strlen(sp + 1);
		argc = 3;
	}
	rep = redisCommandArgv(rc, argc, argv, len);
	ok = rep != NULL && rep->type == REDIS_REPLY_STATUS;
	if (rep != NULL)
		freeReplyObject(rep);
	explicit_bzero(buf, sizeof(buf));
	if (!ok)
		*why = "AUTH refused";
	return ok ? 0 : -1;
}

/*
 * The process's connection, made when there is none.  NULL (logged, r
 * marked) when Redis cannot be reached in time.
 */
static redisContext *
get(struct ih_request *r, const char *what)
{
	struct timeval tv;
	const char *why = NULL;

	if (rc != NULL)
		return rc;
	if (failed_here(r)) {
		errno = ECONNREFUSED;
		store_failed(r, what);
		return NULL;
	}
	tv.tv_sec = (time_t)(cfg.redis_timeout / 1000);
	tv.tv_usec = (suseconds_t)(cfg.redis_timeout % 1000 * 1000);
	rc = connect_to(cfg.redis_address, tv);
	if (rc == NULL)
		why = "bad redis_address";
	else if (rc->err)
		why = rc->errstr;
	else if (redisSetTimeout(rc, tv) != REDIS_OK)
		why = "cannot set the timeout";
	else if (cfg.redis_password_file != NULL && auth(&why) == -1)
		;
	else {
		/* hiredis makes its socket without SOCK_CLOEXEC. */
		(void)fcntl(rc->fd, F_SETFD, FD_CLOEXEC);
		return rc;
	}
	ih_log(IH_LOG_ERR, "%s%sredis %s: %s", r != NULL ? conn_who(r->c) :
	    "", r != NULL ? ": " : "", cfg.redis_address, why);
	drop();
	failed_now(r);
	if (r != NULL)
		r->store_failed = 1;
	errno = EHOSTUNREACH;
	return NULL;
}

/*
 * One command, argv form (binary-safe).  The reply, which the caller
 * frees with freeReplyObject, or NULL: Redis did not answer in time, the
 * connection broke, or it answered with an error (logged, r marked).
 */
void *
redis_run(struct ih_request *r, const char *what, int argc,
    const char **argv, const size_t *len)
{
	redisReply *rep;
	redisContext *c;

	if ((c = get(r, what)) == NULL)
		return NULL;
	errno = 0;
	rep = redisCommandArgv(c, argc, argv, len);
	if (rep != NULL && rep->type != REDIS_REPLY_ERROR)
		return rep;
	ih_log(IH_LOG_ERR, "%s%s%s: redis %s: %s", r != NULL ? conn_who(r->c) :
	    "", r != NULL ? ": " : "", what, cfg.redis_address, rep != NULL ?
	    rep->str : errno == EAGAIN || errno == EWOULDBLOCK ?
	    "no answer within redis_timeout" : c->errstr[0] != '\0' ?
	    c->errstr : "no answer");
	if (rep != NULL)
		freeReplyObject(rep);
	else {
		/* The stream is out of step (a timeout): start again. */
		drop();
		failed_now(r);
	}
	if (r != NULL)
		r->store_failed = 1;
	errno = EIO;
	return NULL;
}

/*
 * EVAL script with keys (names under redis_prefix: each is kind and id)
 * and arguments.  The reply or NULL, as redis_run.
 */
void *
redis_eval(struct ih_request *r, const char *what, const char *script,
    int nkeys, const struct rstr *keys, int nargs, const struct rstr *args)
{
	const char *argv[3 + REDIS_ARGS_MAX];
	size_t len[3 + REDIS_ARGS_MAX];
	char nk[12], kb[REDIS_KEYS_MAX][REDIS_KEY_LEN];
	size_t pl = strlen(cfg.redis_prefix);
	int i, n = 0;

	if (nkeys > REDIS_KEYS_MAX || nkeys + nargs > REDIS_ARGS_MAX) {
		errno = EINVAL;
		return NULL;
	}
	snprintf(nk, sizeof(nk), "%d", nkeys);
	argv[n] = "EVAL", len[n++] = 4;
	argv[n] = script, len[n++] = strlen(script);
	argv[n] = nk, len[n++] = strlen(nk);
	for (i = 0; i < nkeys; i++) {
		if (pl + keys[i].len > REDIS_KEY_LEN) {
			errno = ENAMETOOLONG;
			return NULL;
		}
		memcpy(kb[i], cfg.redis_prefix, pl);
		memcpy(kb[i] + pl, keys[i].p, keys[i].len);
		argv[n] = kb[i], len[n++] = pl + keys[i].len;
	}
	for (i = 0; i < nargs; i++)
		argv[n] = args[i].p, len[n++] = args[i].len;
	return redis_run(r, what, n, argv, len);
}

/* An integer reply's value, or def for anything else. */
long long
redis_int(const void *reply, long long def)
{
	const redisReply *rep = reply;

	return rep != NULL && rep->type == REDIS_REPLY_INTEGER ? rep->integer :
	    def;
}

void
redis_free(void *reply)
{
	if (reply != NULL)
		freeReplyObject(reply);
}

/* Close the connection: a daemon's master before it forks, so that no
 * two workers ever share one stream. */
void
redis_close(void)
{
	drop();
}

/* ---- the Digest secret and nonce counts (auth.c) ----------------------- */

/*
 * The secret every node shares: made once by whichever node asks first
 * (SET NX), then read by all.  0, or -1 (logged, r marked).
 */
int
redis_secret(struct ih_request *r, unsigned char *out, size_t len)
{
	static const char script[] =
	    "redis.call('SET', KEYS[1], ARGV[1], 'NX') "
	    "return redis.call('GET', KEYS[1])";
	unsigned char fresh[64];
	struct rstr k = { "digest-secret", 13 }, a;
	redisReply *rep;
	int ok;

	if (len > sizeof(fresh) || getrandom(fresh, len, 0) != (ssize_t)len)
		return -1;
	a.p = (const char *)fresh;
	a.len = len;
	rep = redis_eval(r, "Digest secret", script, 1, &k, 1, &a);
	explicit_bzero(fresh, sizeof(fresh));
	if (rep == NULL)
		return -1;
	ok = rep->type == REDIS_REPLY_STRING && rep->len == len;
	if (ok)
		memcpy(out, rep->str, len);
	else {
		ih_log(IH_LOG_ERR, "redis: %sdigest-secret is not %zu bytes",
		    cfg.redis_prefix, len);
		if (r != NULL)
			r->store_failed = 1;
	}
	explicit_bzero(rep->str, rep->len);
	freeReplyObject(rep);
	errno = EIO;
	return ok ? 0 : -1;
}

/*
 * The floor below which a nonce is stale: the time the counts began.
 * A Redis that lost its data (restarted without persistence) has lost
 * the floor with the counts, and the new floor is "now": a nonce that
 * may have been counted before is then stale, never accepted twice.
 */
static const char floor_script[] =
    "redis.call('SET', KEYS[1], ARGV[1], 'NX') "
    "return tonumber(redis.call('GET', KEYS[1]))";

/* Before a challenge: the floor exists, so the nonce is above it. */
int
redis_nonce_ready(struct ih_request *r)
{
	struct rstr k = { "nc-floor", 8 }, a;
	char now[24];
	redisReply *rep;

	a.p = now;
	a.len = (size_t)snprintf(now, sizeof(now), "%lld",
	    (long long)now_real_ms());
	rep = redis_eval(r, "Digest nonce floor", floor_script, 1, &k, 1, &a);

	if (rep == NULL)
		return -1;
	freeReplyObject(rep);
	return 0;
}

/*
 * nonce_count in Redis: one key per nonce (its keyed hash), holding the
 * highest nc seen, living as long as the nonce is fresh.
 */
int
redis_nonce_count(struct ih_request *r, const unsigned char *key, int64_t t,
    uint32_t nc)
{
	static const char script[] =
	    "local now = tonumber(ARGV[4]) "
	    "redis.call('SET', KEYS[2], ARGV[4], 'NX') "
	    "local floor = tonumber(redis.call('GET', KEYS[2])) "
	    "local t, nc, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), "
	    "tonumber(ARGV[3]) "
	    "if t < floor or t > now + 1000 then return 2 end "
	    "local old = redis.call('GET', KEYS[1]) "
	    "if old and tonumber(old) >= nc then return 1 end "
	    "local left = t + ttl - now "
	    "if left < 1000 then left = 1000 end "
	    "redis.call('SET', KEYS[1], nc, 'PX', left + 60000) "
	    "return 0";
	char kname[3 + 32 + 1], ta[24], na[16], la[24], nw[24];
	struct rstr k[2], a[4];
	redisReply *rep;
	long long v;
	int i;

	memcpy(kname, "nc:", 3);
	for (i = 0; i < 16; i++) {
		kname[3 + 2 * i] = "0123456789abcdef"[key[i] >> 4];
		kname[4 + 2 * i] = "0123456789abcdef"[key[i] & 15];
	}
	k[0].p = kname, k[0].len = 3 + 32;
	k[1].p = "nc-floor", k[1].len = 8;
	a[0].p = ta, a[0].len = (size_t)snprintf(ta, sizeof(ta), "%lld",
	    (long long)t);
	a[1].p = na, a[1].len = (size_t)snprintf(na, sizeof(na), "%u", nc);
	a[2].p = la, a[2].len = (size_t)snprintf(la, sizeof(la), "%lld",
	    cfg.nonce_ttl * 1000);
	a[3].p = nw, a[3].len = (size_t)snprintf(nw, sizeof(nw), "%lld",
	    (long long)now_real_ms());
	if ((rep = redis_eval(r, "Digest nonce count", script, 2, k, 4, a)) ==
	    NULL)
		return NONCE_ERROR;
	v = redis_int(rep, -1);
	freeReplyObject(rep);
	switch (v) {
	case 0:
		return NONCE_FRESH;
	case 1:
		return NONCE_REPLAY;
	case 2:
		return NONCE_STALE;
	}
	errno = EIO;
	return NONCE_ERROR;
}

/* ---- rate limits (limits.c) ---------------------------------------------- */

/*
 * A token bucket in Redis, on Redis's clock: 1 allowed, 0 refused
 * (*retry_ms set), -1 failed (logged, r marked).
 */
int
redis_rate_take(struct ih_request *r, const void *key, size_t klen,
    double rate, double burst, int64_t *retry_ms)
{
	static const char script[] =
	    "local tm = redis.call('TIME') "
	    "local now = tm[1] * 1000 + math.floor(tm[2] / 1000) "
	    "local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2]) "
	    "local b = redis.call('HMGET', KEYS[1], 't', 'ts') "
	    "local tokens, ts = tonumber(b[1]), tonumber(b[2]) "
	    "if not tokens or not ts then tokens = burst ts = now end "
	    "if now > ts then "
	    "  tokens = math.min(burst, tokens + (now - ts) * rate / 1000) "
	    "  ts = now "
	    "end "
	    "local ok, retry = 0, 0 "
	    "if tokens >= 1 then tokens = tokens - 1 ok = 1 "
	    "else retry = math.ceil((1 - tokens) * 1000 / rate) end "
	    "redis.call('HSET', KEYS[1], 't', string.format('%.6f', tokens), "
	    "'ts', string.format('%d', ts)) "
	    "redis.call('PEXPIRE', KEYS[1], "
	    "math.ceil(burst * 1000 / rate) + 1000) "
	    "return {ok, retry}";
	char kname[3 + 128], ra[32], ba[32];
	struct rstr k, a[2];
	redisReply *rep;
	int ok = -1;

	/* (limits.c makes keys of a scope and an address: text) */
	if (klen > sizeof(kname) - 3) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(kname, "rl:", 3);
	memcpy(kname + 3, key, klen);
	k.p = kname, k.len = 3 + klen;
	a[0].p = ra, a[0].len = (size_t)snprintf(ra, sizeof(ra), "%.6f", rate);
	a[1].p = ba, a[1].len = (size_t)snprintf(ba, sizeof(ba), "%.6f", burst);
	if ((rep = redis_eval(r, "rate limit", script, 1, &k, 2, a)) == NULL)
		return -1;
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
	    rep->element[0]->type == REDIS_REPLY_INTEGER &&
	    rep->element[1]->type == REDIS_REPLY_INTEGER) {
		ok = rep->element[0]->integer == 1;
		*retry_ms = rep->element[1]->integer > 0 ?
		    rep->element[1]->integer : 1;
	} else {
		ih_log(IH_LOG_ERR, "rate limit: redis: unexpected answer");
		if (r != NULL)
			r->store_failed = 1;
	}
	freeReplyObject(rep);
	return ok;
}
