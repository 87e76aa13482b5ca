/*
 * limits.c - per-client rate limits: `rate_limit N/s burst M` for every
 * request, before any handler runs, and `PathCheck fn=rate-limit rate=N/s
 * burst=M` for one object's paths.  A client is its peer address as the
 * peer was decided (conn.c, proxy.c: after a PROXY header, after a
 * trusted X-Forwarded-For), never something it says about itself.
 *
 * A limit is a token bucket: burst requests at once, then rate a second;
 * a request that finds no token gets 429 with Retry-After (the seconds
 * until one is there).  Buckets are shared by every process of this
 * machine (ratelimit.c: one small mapped table, which inetd mode needs,
 * where each connection is a new process), or by every node through
 * Redis (rate_limit_store redis).  A store that fails answers 503, never
 * "no limit".
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/*
 * "N/s", "N/m" or "N/h" (N may have a fraction) as tokens a second.
 * 0 or -1.
 */
static int
parse_rate(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || !(v > 0) || v > 1e9 || *end != '/')
		return -1;
	if (strcmp(end, "/s") == 0)
		*out = v;
	else if (strcmp(end, "/m") == 0)
		*out = v / 60;
	else if (strcmp(end, "/h") == 0)
		*out = v / 3600;
	else
		return -1;
	return *out >= 1e-6 ? 0 : -1;
}

/*
 * A limit from its parts: rate as parse_rate reads it, burst a whole
 * number of requests (NULL: the requests of one second, at least 1).
 * 0, or -1 with err.
 */
int
limits_parse(const char *rate, const char *burst, double *r, double *b,
    char *err, size_t len)
{
	long long n;

	if (rate == NULL || parse_rate(rate, r) == -1) {
		snprintf(err, len, "rate '%s' is not N/s, N/m or N/h",
		    rate != NULL ? rate : "");
		return -1;
	}
	if (burst == NULL) {
		*b = ceil(*r) >= 1 ? ceil(*r) : 1;
		return 0;
	}
	if (str_to_ll(burst, 1, 1000000000, &n) == -1) {
		snprintf(err, len, "burst '%s' is not a number from 1", burst);
		return -1;
	}
	*b = (double)n;
	return 0;
}

/* The global key's value: "off", or "N/s [burst M]".  0 or -1 (err). */
int
limits_parse_global(const char *v, double *r, double *b, char *err,
    size_t len)
{
	char copy[128], *w[4], *save, *t;
	int n = 0;

	*r = *b = 0;
	if (v == NULL || strcmp(v, "off") == 0)
		return 0;
	if (strlen(v) >= sizeof(copy)) {
		snprintf(err, len, "too long");
		return -1;
	}
	strcpy(copy, v);
	for (t = strtok_r(copy, " \t", &save); t != NULL;
	    t = strtok_r(NULL, " \t", &save))
		if (n < 4)
			w[n++] = t;
		else
			n = 5;
	if (n == 1)
		return limits_parse(w[0], NULL, r, b, err, len);
	if (n == 3 && strcmp(w[1], "burst") == 0)
		return limits_parse(w[0], w[2], r, b, err, len);
	snprintf(err, len, "'%s' is not off or \"N/s [burst M]\"", v);
	return -1;
}

/*
 * Take a token for this request from the bucket of scope and its peer.
 * IH_NOACTION when there was one; else IH_ABORTED with 429 and
 * Retry-After, or the store's 503.
 */
static int
take(struct ih_request *r, const char *scope, double rate, double burst)
{
	char key[160], ra[24];
	struct sbuf b;
	int64_t retry = 0;
	int ok;

	sb_init(&b, key, sizeof(key));
	sb_puts(&b, scope);
	sb_put(&b, ":", 1);
	sb_puts(&b, r->c->peer[0] != '\0' ? r->c->peer : "-");
	if (cfg.rate_limit_store == STORE_REDIS)
		ok = redis_rate_take(r, key, b.len, rate, burst, &retry);
	else if ((ok = rl_take(key, b.len, rate, burst, now_real_ms(),
	    &retry)) == -1)
		store_failed(r, "rate-limit table");
	if (ok == -1)
		return ih_error(r, 500, "rate-limit store");
	if (ok == 1)
		return IH_NOACTION;
	sb_init(&b, ra, sizeof(ra));
	sb_num(&b, (unsigned long long)((retry + 999) / 1000));
	ra[b.len < sizeof(ra) ? b.len : sizeof(ra) - 1] = '\0';
	resp_add_header_raw(r, "Retry-After", ra);
	ih_log(IH_LOG_INFO, "%s: over the rate limit (%s)", conn_who(r->c),
	    scope);
	return ih_error(r, 429, "over the rate limit");
}

/* rate_limit, for every request before its phases run. */
int
limits_global(struct ih_request *r)
{
	if (cfg.rl_rate <= 0)
		return IH_NOACTION;
	return take(r, "g", cfg.rl_rate, cfg.rl_burst);
}

static int
rate_fn_check(const struct ih_args *args, char *err, size_t len)
{
	const char *k;
	double r, b;
	size_t i;

	for (i = 0; ih_arg_at(args, i, &k) != NULL; i++)
		if (strcmp(k, "rate") != 0 && strcmp(k, "burst") != 0) {
			snprintf(err, len, "unknown argument '%s' (rate, burst)",
			    k);
			return -1;
		}
	return limits_parse(ih_arg(args, "rate"), ih_arg(args, "burst"), &r,
	    &b, err, len);
}

/*
 * PathCheck rate-limit rate=N/s [burst=M]: a bucket per client for the
 * paths of this directive's object.  Its scope names the directive's
 * object and limit, so objects (and processes, and nodes) agree on it
 * without sharing memory.
 */
static int
rate_fn(struct ih_request *r, const struct ih_args *args)
{
	const char *rate = ih_arg(args, "rate"), *burst = ih_arg(args, "burst");
	char scope[40], err[96];
	struct sbuf b;
	double rt, bu;
	uint64_t h;

	if (limits_parse(rate, burst, &rt, &bu, err, sizeof(err)) == -1)
		return ih_error(r, 500, "rate-limit: bad arguments");
	h = fnv1a64(rate, strlen(rate)) ^ (burst != NULL ?
	    fnv1a64(burst, strlen(burst)) * 31 : 0);
	if (r->cur_obj != NULL)
		h ^= fnv1a64(r->cur_obj->pattern, strlen(r->cur_obj->pattern)) *
		    1099511628211ULL;
	sb_init(&b, scope, sizeof(scope));
	sb_lit(&b, "p");
	sb_hex(&b, h);
	scope[b.len] = '\0';
	if (take(r, scope, rt, bu) != IH_NOACTION)
		return IH_ABORTED;
	return IH_NOACTION;
}
IH_FUNCTION("rate-limit", IH_PH(IH_PATHCHECK), rate_fn, rate_fn_check);
