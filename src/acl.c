/*
 * acl.c - who may connect, and who may reach a path: allow/deny by POSIX
 * regex on the peer address (and on its name with reverse_lookups; with
 * `double` the name must resolve back to the address), cidr_allow and
 * cidr_deny for IPv4 and IPv6 (an IPv4-mapped IPv6 peer is reported, and
 * matched, as IPv4 by conn.c).  Net::Server's rule: a deny wins; with any
 * allow rule a peer must match one.  The global rules run before a byte
 * of the request is read; `PathCheck fn=acl` applies the same per object.
 * Nothing is compiled and no DNS is asked unless the config has rules.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct acl {
	regex_t		*allow, *deny;
	size_t		 nallow, ndeny;
	struct cidr	*callow, *cdeny;
	size_t		 ncallow, ncdeny;
};

/* "a.b.c.d[/n]" or "x:y::z[/n]".  0, or -1 when malformed. */
int
acl_parse_cidr(const char *s, struct cidr *c)
{
	char buf[64], *slash;
	long long bits;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, buf, c->addr) == 1) {
		c->family = AF_INET;
		c->bits = 32;
	} else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
		c->family = AF_INET6;
		c->bits = 128;
	} else
		return -1;
	if (slash != NULL) {
		if (str_to_ll(slash, 0, c->bits, &bits) == -1)
			return -1;
		c->bits = (int)bits;
	}
	return 0;
}

static int
cidr_match(const struct cidr *c, int family, const unsigned char *a)
{
	int full = c->bits / 8, rest = c->bits % 8;

	if (c->family != family)
		return 0;
	if (memcmp(c->addr, a, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((c->addr[full] ^ a[full]) & (0xff << (8 - rest))) == 0;
}

static void
acl_free(struct acl *acl)
{
	size_t i;

	for (i = 0; i < acl->nallow; i++)
		regfree(&acl->allow[i]);
	for (i = 0; i < acl->ndeny; i++)
		regfree(&acl->deny[i]);
	free(acl->allow);
	free(acl->deny);
	free(acl->callow);
	free(acl->cdeny);
	memset(acl, 0, sizeof(*acl));
}

/* Compile regexes anchored whole (^(...)$), as Net::Server anchors. */
static int
compile_list(char **v, size_t n, regex_t **out, size_t *nout, char *err,
    size_t len)
{
	size_t i;

	*nout = 0;
	if (n == 0)
		return 0;
	if ((*out = calloc(n, sizeof(**out))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		char *pat;
		int rc;

		if (asprintf(&pat, "^(%s)$", v[i]) == -1)
			return -1;
		rc = regcomp(&(*out)[i], pat, REG_EXTENDED | REG_NOSUB |
		    REG_ICASE);
		free(pat);
		if (rc != 0) {
			snprintf(err, len, "bad regex '%s'", v[i]);
			return -1;
		}
		(*nout)++;
	}
	return 0;
}

static int
parse_list(char **v, size_t n, struct cidr **out, size_t *nout, char *err,
    size_t len)
{
	size_t i;

	*nout = 0;
	if (n == 0)
		return 0;
	if ((*out = calloc(n, sizeof(**out))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (acl_parse_cidr(v[i], &(*out)[i]) == -1) {
			snprintf(err, len, "bad CIDR block '%s'", v[i]);
			return -1;
		}
		(*nout)++;
	}
	return 0;
}

static int
acl_build(struct acl *acl, const struct strlist *allow,
    const struct strlist *deny, const struct strlist *callow,
    const struct strlist *cdeny, char *err, size_t len)
{
	memset(acl, 0, sizeof(*acl));
	if (compile_list(allow->v, allow->n, &acl->allow, &acl->nallow, err,
	    len) == -1 || compile_list(deny->v, deny->n, &acl->deny,
	    &acl->ndeny, err, len) == -1 || parse_list(callow->v, callow->n,
	    &acl->callow, &acl->ncallow, err, len) == -1 ||
	    parse_list(cdeny->v, cdeny->n, &acl->cdeny, &acl->ncdeny, err,
	    len) == -1) {
		acl_free(acl);
		return -1;
	}
	return 0;
}

static int
re_any(const regex_t *re, size_t n, const char *addr, const char *host)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (regexec(&re[i], addr, 0, NULL, 0) == 0 ||
		    (host != NULL && regexec(&re[i], host, 0, NULL, 0) == 0))
			return 1;
	return 0;
}

static int
cidr_any(const struct cidr *c, size_t n, int family, const unsigned char *a)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (cidr_match(&c[i], family, a))
			return 1;
	return 0;
}

/*
 * The decision for one peer: 1 allowed, 0 denied.  A deny rule wins;
 * with any allow rule the peer must match one.  An address that does not
 * parse matches no CIDR rule.  An unknown peer ("", an AF_UNIX socket
 * without launcher variables) cannot be shown to pass any rule, not even
 * to escape a deny: with any rule at all it is refused.
 */
static int
acl_decide(const struct acl *acl, const char *addr, const char *host)
{
	unsigned char a[16];
	int family = 0;

	if (*addr == '\0')
		return acl->nallow + acl->ncallow + acl->ndeny + acl->ncdeny == 0;
	if (inet_pton(AF_INET, addr, a) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, addr, a) == 1)
		family = AF_INET6;
	if (re_any(acl->deny, acl->ndeny, addr, host))
		return 0;
	if (family != 0 && cidr_any(acl->cdeny, acl->ncdeny, family, a))
		return 0;
	if (acl->nallow == 0 && acl->ncallow == 0)
		return 1;
	if (re_any(acl->allow, acl->nallow, addr, host))
		return 1;
	return family != 0 && cidr_any(acl->callow, acl->ncallow, family, a);
}

/*
 * The peer's name for regex rules: reverse_lookups on asks PTR; double
 * also requires the name to resolve back to the address.  NULL if none.
 */
static char *
peer_name(struct arena *a, const char *addr)
{
	struct sockaddr_storage ss;
	struct addrinfo hints, *res, *ai;
	char host[NI_MAXHOST];
	socklen_t sl;
	int ok = 0;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr)
	    == 1) {
		ss.ss_family = AF_INET;
		sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, addr,
	    &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		sl = sizeof(struct sockaddr_in6);
	} else
		return NULL;
	if (getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), NULL,
	    0, NI_NAMEREQD) != 0)
		return NULL;
	if (cfg.reverse_lookups != RLOOKUP_DOUBLE)
		return arena_strdup(a, host);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return NULL;
	for (ai = res; ai != NULL && !ok; ai = ai->ai_next) {
		char num[INET6_ADDRSTRLEN];

		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, num, sizeof(num),
		    NULL, 0, NI_NUMERICHOST) == 0 && strcmp(num, addr) == 0)
			ok = 1;
	}
	freeaddrinfo(res);
	return ok ? arena_strdup(a, host) : NULL;
}

/* The peer's name, looked up once per connection (NULL when off/none). */
static const char *
conn_peer_host(struct conn *c, struct arena *a)
{
	(void)a;
	if (cfg.reverse_lookups == RLOOKUP_OFF)
		return NULL;
	if (!c->peer_host_done) {
		struct arena tmp = { 0 };
		char *h = peer_name(&tmp, c->peer);

		c->peer_host = h != NULL ? strdup(h) : NULL;
		c->peer_host_done = 1;
		arena_reset(&tmp);
		free(tmp.head);
	}
	return c->peer_host;
}

static struct acl global_acl;
static int global_state;	/* 0 not built, 1 built, -1 none, -2 broken */

/*
 * The connection ACL, before any request byte is read.  Returns 0 when
 * the peer may go on, 403 when it is denied.
 */
int
acl_check_peer(struct conn *c, struct arena *a)
{
	const char *host = NULL;
	int ok;

	if (acl_preload() == -1)
		return 403;	/* fail closed */
	if (global_state == -1)
		return 0;
	if (global_acl.nallow + global_acl.ndeny > 0)
		host = conn_peer_host(c, a);
	ok = acl_decide(&global_acl, c->peer, host);
	ih_debug(IH_DBG_AUTH, "peer %s (%s): %s", conn_who(c), host ? host : "-",
	    ok ? "allowed" : "denied");
	return ok ? 0 : 403;
}

/* Compile the global rules (once; a daemon does it before forking). */
int
acl_preload(void)
{
	char err[160];

	if (global_state != 0)
		return global_state == -2 ? -1 : 0;
	if (cfg.allow.n + cfg.deny.n + cfg.cidr_allow.n + cfg.cidr_deny.n == 0)
		global_state = -1;
	else if (acl_build(&global_acl, &cfg.allow, &cfg.deny,
	    &cfg.cidr_allow, &cfg.cidr_deny, err, sizeof(err)) == -1) {
		ih_log(IH_LOG_ERR, "access rules: %s", err);
		global_state = -2;
		return -1;
	} else
		global_state = 1;
	return 0;
}

/*
 * Is addr a balancer we take PROXY headers and forwarded-for addresses
 * from (trusted_proxies)?  An unknown peer, or an address that does not
 * parse, never is.
 */
int
acl_trusted_proxy(const char *addr)
{
	static struct cidr *v;
	static size_t n;
	static int built;
	unsigned char a[16];
	int family;

	if (!built) {
		char err[160];

		/* --check has refused a list that does not parse. */
		if (parse_list(cfg.trusted_proxies.v, cfg.trusted_proxies.n,
		    &v, &n, err, sizeof(err)) == -1)
			n = 0;
		built = 1;
	}
	if (inet_pton(AF_INET, addr, a) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, addr, a) == 1)
		family = AF_INET6;
	else
		return 0;
	return cidr_any(v, n, family, a);
}

/* --check: does one rule's regex compile?  0 or -1 (err). */
int
acl_check_regex(const char *pat, char *err, size_t len)
{
	char *v[1] = { (char *)(uintptr_t)pat };
	regex_t *re = NULL;
	size_t n = 0;
	int rc = compile_list(v, 1, &re, &n, err, len);

	if (n == 1)
		regfree(&re[0]);
	free(re);
	return rc;
}

void
acl_cleanup(void)
{
	if (global_state == 1)
		acl_free(&global_acl);
	global_state = 0;
}

/* ---- PathCheck fn=acl ----------------------------------------------- */

/* Split an argument value into a list (a copy in the arena). */
static void
arg_list(struct arena *a, const char *v, const char *sep,
    struct strlist *l)
{
	char *copy, *w, *save;

	l->n = 0;
	l->v = NULL;
	if (v == NULL || (copy = arena_strdup(a, v)) == NULL)
		return;
	if ((l->v = arena_alloc(a, (strlen(v) / 2 + 2) * sizeof(char *))) ==
	    NULL)
		return;
	for (w = strtok_r(copy, sep, &save); w != NULL;
	    w = strtok_r(NULL, sep, &save))
		l->v[l->n++] = w;
}

static int
build_from_args(struct arena *a, const struct ih_args *args, struct acl *acl,
    char *err, size_t len)
{
	struct strlist al, dl, cal, cdl;

	arg_list(a, ih_arg(args, "allow"), " \t", &al);
	arg_list(a, ih_arg(args, "deny"), " \t", &dl);
	arg_list(a, ih_arg(args, "cidr_allow"), " \t,", &cal);
	arg_list(a, ih_arg(args, "cidr_deny"), " \t,", &cdl);
	return acl_build(acl, &al, &dl, &cal, &cdl, err, len);
}

static int
acl_fn_check(const struct ih_args *args, char *err, size_t len)
{
	struct arena a = { 0 };
	struct acl acl;
	size_t i;
	const char *k;
	int rc;

	for (i = 0; ih_arg_at(args, i, &k) != NULL; i++)
		if (strcmp(k, "allow") != 0 && strcmp(k, "deny") != 0 &&
		    strcmp(k, "cidr_allow") != 0 && strcmp(k, "cidr_deny") != 0) {
			snprintf(err, len, "unknown argument '%s' (allow, deny, "
			    "cidr_allow, cidr_deny)", k);
			return -1;
		}
	rc = build_from_args(&a, args, &acl, err, len);
	if (rc == 0)
		acl_free(&acl);
	arena_reset(&a);
	free(a.head);
	return rc;
}

/*
 * PathCheck acl allow="re ..." deny="re ..." cidr_allow="n/m ..."
 * cidr_deny="...": 403 for a peer these rules refuse.  Compiled on first
 * use and kept for the process (keep-alive requests reuse it).
 */
static int
acl_fn(struct ih_request *r, const struct ih_args *args)
{
	static struct { const struct ih_args *key; struct acl acl; } cache[16];
	struct acl tmp, *acl = NULL;
	char err[160];
	size_t i;
	int ok;

	for (i = 0; i < 16 && cache[i].key != NULL; i++)
		if (cache[i].key == args)
			acl = &cache[i].acl;
	if (acl == NULL) {
		if (build_from_args(r->a, args, &tmp, err, sizeof(err)) == -1)
			return ih_error(r, 500, "acl rules do not compile");
		if (i < 16) {
			cache[i].key = args;
			cache[i].acl = tmp;
			acl = &cache[i].acl;
		} else
			acl = &tmp;
	}
	ok = acl_decide(acl, r->c->peer, acl->nallow + acl->ndeny > 0 ?
	    conn_peer_host(r->c, r->a) : NULL);
	if (acl == &tmp)
		acl_free(&tmp);
	return ok ? IH_PROCEED : ih_error(r, 403, "peer refused by acl");
}
IH_FUNCTION("acl", IH_PH(IH_PATHCHECK), acl_fn, acl_fn_check);
