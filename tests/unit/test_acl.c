/*
 * test_acl.c - src/acl.c: CIDR parsing (IPv4, IPv6, prefix bounds, junk),
 * the connection ACL through acl_check_peer with rules loaded by
 * config_load (deny wins, any allow rule must match, anchored
 * case-insensitive regexes, IPv6, prefixes off byte boundaries, no rules,
 * bad rules fail closed) and PathCheck fn=acl.
 */
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdint.h>

#include "internal.h"
#include "unit.h"

/* ---- acl_parse_cidr -------------------------------------------------- */

static void
valid(const char *s, int family, int bits, const char *addr)
{
	struct cidr c;
	unsigned char want[16];
	int rc;

	memset(&c, 0x5a, sizeof(c));
	rc = acl_parse_cidr(s, &c);
	memset(want, 0, sizeof(want));
	inet_pton(family, addr, want);
	CHECK(rc == 0 && c.family == family && c.bits == bits &&
	    memcmp(c.addr, want, family == AF_INET ? 4 : 16) == 0 &&
	    (family == AF_INET6 || memcmp(c.addr + 4, "\0\0\0\0\0\0\0\0\0\0"
	    "\0\0", 12) == 0), "cidr \"%s\": family %d, /%d (rc %d, bits %d)",
	    s, family == AF_INET ? 4 : 6, bits, rc, c.bits);
}

static void
invalid(const char *s, const char *what)
{
	struct cidr c;
	char shown[80];
	size_t i, o = 0;

	for (i = 0; s[i] != '\0' && o + 5 < sizeof(shown); i++)
		if (s[i] >= ' ' && s[i] <= '~')
			shown[o++] = s[i];
		else
			o += (size_t)sprintf(shown + o, "\\x%02x",
			    (unsigned char)s[i]);
	shown[o] = '\0';
	CHECK_INT(acl_parse_cidr(s, &c), -1, "cidr \"%s\" rejected: %s",
	    shown, what);
}

static void
test_parse_cidr(void)
{
	char longs[200];

	valid("10.0.0.0/8", AF_INET, 8, "10.0.0.0");
	valid("192.168.1.1", AF_INET, 32, "192.168.1.1");
	valid("192.168.1.1/32", AF_INET, 32, "192.168.1.1");
	valid("0.0.0.0/0", AF_INET, 0, "0.0.0.0");
	valid("255.255.255.255/31", AF_INET, 31, "255.255.255.255");
	valid("10.0.0.0/08", AF_INET, 8, "10.0.0.0");
	valid("::/0", AF_INET6, 0, "::");
	valid("::1", AF_INET6, 128, "::1");
	valid("::1/128", AF_INET6, 128, "::1");
	valid("2001:db8::/32", AF_INET6, 32, "2001:db8::");
	valid("2001:DB8:0:0:0:0:0:1/127", AF_INET6, 127, "2001:db8::1");
	valid("fe80::/10", AF_INET6, 10, "fe80::");
	valid("::ffff:10.0.0.0/104", AF_INET6, 104, "::ffff:10.0.0.0");
	/* Host bits below the prefix are accepted and ignored on match. */
	valid("10.1.2.3/8", AF_INET, 8, "10.1.2.3");
	valid("2001:db8::1/32", AF_INET6, 32, "2001:db8::1");

	invalid("10.0.0.0/33", "/33 on IPv4");
	invalid("::/129", "/129 on IPv6");
	invalid("10.0.0.0/-1", "negative prefix");
	invalid("10.0.0.0/+8", "signed prefix");
	invalid("10.0.0.0/", "empty prefix");
	invalid("10.0.0.0/ 8", "space in prefix");
	invalid("10.0.0.0/8 ", "trailing space");
	invalid("10.0.0.0/8/8", "two slashes");
	invalid("10.0.0.0/0x8", "hex prefix");
	invalid("10.0.0.0/99999999999999999999999", "huge prefix");
	invalid("/8", "no address");
	invalid("", "empty");
	invalid("junk", "junk");
	invalid("10.0.0", "three octets");
	invalid("10.0.0.0.0", "five octets");
	invalid("256.0.0.0", "octet 256");
	invalid(" 10.0.0.0", "leading space");
	invalid("10.0.0.0\n", "newline");
	invalid("2001:db8:::/32", "bad IPv6");
	invalid("2001:db8::/32%eth0", "zone after prefix");
	invalid("fe80::1%eth0", "zone id");
	invalid("localhost", "host name");
	memset(longs, '1', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	invalid(longs, "200 characters");
	memcpy(longs, "10.0.0.0/", 9);
	memset(longs + 9, '0', 54);
	longs[63] = '8';
	longs[64] = '\0';
	invalid(longs, "64 characters, too long for its buffer");
}

/* ---- acl_check_peer ------------------------------------------------- */

static struct arena A;
static char *args[32];
static int nargs;

/* Load options (up to NULL), rebuilding the global ACL; config_load's rc. */
static int
load(const char *first, ...)
{
	va_list ap;
	const char *a;
	int i, check_only;

	acl_cleanup();
	config_free();
	memset(&cfg, 0, sizeof(cfg));
	for (i = 0; i < nargs; i++)
		free(args[i]);
	nargs = 0;
	args[nargs++] = strdup("ihttpd");
	va_start(ap, first);
	for (a = first; a != NULL && nargs < 30; a = va_arg(ap, const char *))
		args[nargs++] = strdup(a);
	va_end(ap);
	args[nargs] = NULL;
	return config_load(nargs, args, &check_only);
}

/* 0 allowed, 403 denied. */
static int
peer(const char *addr)
{
	struct conn c;

	memset(&c, 0, sizeof(c));
	snprintf(c.peer, sizeof(c.peer), "%s", addr);
	return acl_check_peer(&c, &A);
}

#define ALLOW(addr, what)	CHECK_INT(peer(addr), 0, "%s: %s allowed", \
				    what, addr)
#define DENY(addr, what)	CHECK_INT(peer(addr), 403, "%s: %s denied", \
				    what, addr)

static void
test_peer(void)
{
	const char *w;

	w = "no rules";
	CHECK_INT(load(NULL), 0, "%s: loads", w);
	ALLOW("10.1.2.3", w);
	ALLOW("::1", w);
	ALLOW("not-an-address", w);

	w = "cidr_allow 10/8";
	CHECK_INT(load("--cidr_allow", "10.0.0.0/8", NULL), 0, "%s: loads", w);
	ALLOW("10.1.2.3", w);
	ALLOW("10.255.255.255", w);
	DENY("11.0.0.1", w);
	DENY("9.255.255.255", w);
	DENY("::1", w);
	DENY("::ffff:10.1.2.3", w);	/* conn.c reports mapped as IPv4 */
	DENY("not-an-address", w);
	DENY("", w);

	w = "cidr_deny 10/8 only";
	CHECK_INT(load("--cidr_deny", "10.0.0.0/8", NULL), 0, "%s: loads", w);
	DENY("10.9.9.9", w);
	ALLOW("192.168.0.1", w);
	ALLOW("2001:db8::1", w);
	ALLOW("not-an-address", w);

	w = "cidr_allow 10/8, cidr_deny 10.1/16";
	CHECK_INT(load("--cidr_allow", "10.0.0.0/8", "--cidr_deny",
	    "10.1.0.0/16", NULL), 0, "%s: loads", w);
	DENY("10.1.2.3", w);
	ALLOW("10.2.0.1", w);
	ALLOW("10.0.255.255", w);
	DENY("8.8.8.8", w);

	w = "comma list and repeated option";
	CHECK_INT(load("--cidr_allow", "10.0.0.0/8,192.168.0.0/16",
	    "--cidr_allow", "172.16.0.0/12 ::1", NULL), 0, "%s: loads", w);
	ALLOW("10.0.0.1", w);
	ALLOW("192.168.77.1", w);
	ALLOW("172.31.255.255", w);
	DENY("172.32.0.0", w);
	ALLOW("::1", w);
	DENY("::2", w);

	w = "prefix off a byte boundary (10.0.0.0/9)";
	CHECK_INT(load("--cidr_allow", "10.0.0.0/9", NULL), 0, "%s: loads", w);
	ALLOW("10.127.255.255", w);
	DENY("10.128.0.0", w);

	w = "host bits set (10.1.2.3/8)";
	CHECK_INT(load("--cidr_allow", "10.1.2.3/8", NULL), 0, "%s: loads", w);
	ALLOW("10.200.0.1", w);
	DENY("11.1.2.3", w);

	w = "/32 and /0";
	CHECK_INT(load("--cidr_allow", "192.0.2.7/32", NULL), 0, "%s: loads",
	    w);
	ALLOW("192.0.2.7", w);
	DENY("192.0.2.6", w);
	CHECK_INT(load("--cidr_allow", "0.0.0.0/0", NULL), 0, "%s: loads", w);
	ALLOW("1.2.3.4", w);
	ALLOW("255.255.255.255", w);
	DENY("::1", w);

	w = "IPv6";
	CHECK_INT(load("--cidr_allow", "2001:db8::/32", "--cidr_deny",
	    "2001:db8:dead::/48", NULL), 0, "%s: loads", w);
	ALLOW("2001:db8::1", w);
	ALLOW("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", w);
	ALLOW("2001:DB8::1", w);
	DENY("2001:db8:dead::1", w);
	DENY("2001:db9::1", w);
	DENY("10.0.0.1", w);
	CHECK_INT(load("--cidr_allow", "::/0", NULL), 0, "%s ::/0: loads", w);
	ALLOW("fe80::1", w);
	DENY("127.0.0.1", w);
	CHECK_INT(load("--cidr_allow", "2001:db8::1/128", NULL), 0,
	    "%s /128: loads", w);
	ALLOW("2001:db8::1", w);
	DENY("2001:db8::", w);
	CHECK_INT(load("--cidr_allow", "fe80::/10", NULL), 0,
	    "%s /10: loads", w);
	ALLOW("febf::1", w);
	DENY("fec0::1", w);

	w = "regex allow 127\\.0\\.0\\.1";
	CHECK_INT(load("--allow", "127\\.0\\.0\\.1", NULL), 0, "%s: loads", w);
	ALLOW("127.0.0.1", w);
	DENY("127.0.0.10", w);
	DENY("127.0.0.1.5", w);
	DENY("1127.0.0.1", w);

	w = "regex alternation anchored as a whole";
	CHECK_INT(load("--allow", "10\\..*|192\\.168\\..*", NULL), 0,
	    "%s: loads", w);
	ALLOW("10.0.0.1", w);
	ALLOW("192.168.1.1", w);
	DENY("1.10.0.1", w);
	DENY("1.192.168.1", w);

	w = "regex, several patterns";
	CHECK_INT(load("--allow", "10\\.0\\.0\\.1 10\\.0\\.0\\.2", NULL), 0,
	    "%s: loads", w);
	ALLOW("10.0.0.1", w);
	ALLOW("10.0.0.2", w);
	DENY("10.0.0.3", w);

	w = "regex IPv6, case-insensitive";
	CHECK_INT(load("--allow", "2001:DB8::[0-9a-f]+", NULL), 0,
	    "%s: loads", w);
	ALLOW("2001:db8::1", w);
	ALLOW("2001:db8::abc", w);
	DENY("2001:db8::1:2", w);

	w = "regex deny beats cidr_allow 0/0";
	CHECK_INT(load("--cidr_allow", "0.0.0.0/0", "--deny", "10\\..*",
	    NULL), 0, "%s: loads", w);
	DENY("10.0.0.1", w);
	ALLOW("11.0.0.1", w);

	w = "cidr_deny beats regex allow";
	CHECK_INT(load("--allow", ".*", "--cidr_deny", "192.0.2.0/24", NULL),
	    0, "%s: loads", w);
	DENY("192.0.2.1", w);
	ALLOW("192.0.3.1", w);
	ALLOW("::1", w);

	w = "regex allow or cidr allow";
	CHECK_INT(load("--allow", "10\\.0\\.0\\.1", "--cidr_allow",
	    "192.168.0.0/16", NULL), 0, "%s: loads", w);
	ALLOW("10.0.0.1", w);
	ALLOW("192.168.3.4", w);
	DENY("10.0.0.2", w);

	w = "deny only regex";
	CHECK_INT(load("--deny", "192\\.0\\.2\\..*", NULL), 0, "%s: loads", w);
	DENY("192.0.2.9", w);
	ALLOW("192.0.20.9", w);

	w = "bad regex: fails closed";
	CHECK_INT(load("--allow", "(", "--docroot", "/", NULL), 0,
	    "%s: loads (regexes are compiled by --check)", w);
	DENY("127.0.0.1", w);
	DENY("::1", w);
	CHECK_INT(load("--deny", "10\\..* [", "--docroot", "/", NULL), 0,
	    "bad deny regex: loads");
	DENY("192.0.2.1", w);
	CHECK_INT(config_check(), 1, "config_check: one problem (bad deny "
	    "regex)");
	CHECK_INT(load("--allow", "a(", "--deny", "b[", "--docroot", "/",
	    NULL), 0, "two bad regexes: load");
	CHECK_INT(config_check(), 2, "config_check: two problems");
	CHECK_INT(load("--allow", "10\\..*", "--deny", "::1", "--docroot",
	    "/", NULL), 0, "good regexes: load");
	CHECK_INT(config_check(), 0, "config_check: no problem");
	CHECK_INT(load("--cidr_allow", "10.0.0.0/33", NULL), -1,
	    "bad CIDR refused by config_load");
	CHECK_INT(load("--cidr_deny", "10.0.0.0/8,junk", NULL), -1,
	    "junk in a CIDR list refused by config_load");

	w = "rules built once until acl_cleanup";
	CHECK_INT(load("--cidr_allow", "10.0.0.0/8", NULL), 0, "%s: loads", w);
	DENY("11.0.0.1", w);
	cfg.cidr_allow.n = 0;	/* without acl_cleanup: still the old rules */
	DENY("11.0.0.1", w);
	acl_cleanup();
	ALLOW("11.0.0.1", w);

	acl_cleanup();
	config_free();
	memset(&cfg, 0, sizeof(cfg));
}

/* ---- PathCheck fn=acl --------------------------------------------------- */

static int
pathcheck(struct ih_args *a, const char *addr)
{
	const struct ih_function *f = config_find_function("acl");
	struct ih_request r;
	struct conn c;

	if (f == NULL)
		return -100;
	memset(&r, 0, sizeof(r));
	memset(&c, 0, sizeof(c));
	snprintf(c.peer, sizeof(c.peer), "%s", addr);
	r.c = &c;
	r.a = &A;
	return f->fn(&r, a) == IH_PROCEED ? 0 : r.status;
}

static void
test_pathcheck(void)
{
	static char kal[] = "allow", kde[] = "deny", kca[] = "cidr_allow",
	    kcd[] = "cidr_deny", kx[] = "bogus";
	static char v1[] = "10.0.0.0/8, 2001:db8::/32", v2[] = "10.6.6.6";
	static char v3[] = "127\\.0\\.0\\.1 ::1", v4[] = "10.0.0.0/33";
	static char *k1[] = { kca, kcd }, *val1[] = { v1, v2 };
	static char *k2[] = { kal }, *val2[] = { v3 };
	static char *k3[] = { kca }, *val3[] = { v4 };
	static char *k4[] = { kx }, *val4[] = { v2 };
	static char *k5[] = { kde }, *val5[] = { v3 };
	static struct ih_args a1 = { 2, k1, val1 }, a2 = { 1, k2, val2 },
	    a3 = { 1, k3, val3 }, a4 = { 1, k4, val4 }, a5 = { 1, k5, val5 };
	const struct ih_function *f = config_find_function("acl");
	char err[160];

	if (!CHECK(f != NULL && f->check != NULL, "fn=acl registered"))
		return;
	CHECK_INT(f->check(&a1, err, sizeof(err)), 0, "acl check: cidr lists");
	CHECK_INT(f->check(&a2, err, sizeof(err)), 0, "acl check: regexes");
	CHECK_INT(f->check(&a3, err, sizeof(err)), -1, "acl check: /33 -1");
	CHECK_INT(f->check(&a4, err, sizeof(err)), -1,
	    "acl check: unknown argument -1");
	CHECK_INT(pathcheck(&a1, "10.1.1.1"), 0, "fn=acl: 10.1.1.1 allowed");
	CHECK_INT(pathcheck(&a1, "10.6.6.6"), 403, "fn=acl: 10.6.6.6 denied");
	CHECK_INT(pathcheck(&a1, "2001:db8::5"), 0, "fn=acl: v6 allowed");
	CHECK_INT(pathcheck(&a1, "11.1.1.1"), 403, "fn=acl: 11.1.1.1 denied");
	CHECK_INT(pathcheck(&a1, "10.1.1.1"), 0, "fn=acl: cached rules");
	CHECK_INT(pathcheck(&a2, "127.0.0.1"), 0, "fn=acl regex: allowed");
	CHECK_INT(pathcheck(&a2, "::1"), 0, "fn=acl regex: ::1 allowed");
	CHECK_INT(pathcheck(&a2, "127.0.0.12"), 403, "fn=acl regex anchored");
	CHECK_INT(pathcheck(&a5, "::1"), 403, "fn=acl deny regex: denied");
	CHECK_INT(pathcheck(&a5, "::2"), 0, "fn=acl deny regex: other ok");
	CHECK_INT(pathcheck(&a3, "10.0.0.1"), 500, "fn=acl bad rules: 500");
}

int
main(void)
{
	int i;

	test_parse_cidr();
	test_peer();
	test_pathcheck();
	arena_reset(&A);
	free(A.head);
	for (i = 0; i < nargs; i++)
		free(args[i]);
	return unit_done();
}
