/*
 * test_util.c - src/util.c (numbers, dates, escaping, edit distance, URL
 * encoding, the arena) and src/mime.c (types by extension).
 */
#include <limits.h>
#include <stdint.h>

#include "internal.h"
#include "unit.h"

static void
test_str_to_ll(void)
{
	static const struct {
		const char	*s;
		long long	 min, max;
		int		 rc;
		long long	 v;
	} cases[] = {
		{ "0", 0, 10, 0, 0 },
		{ "123", 0, 1000, 0, 123 },
		{ "00012", 0, 100, 0, 12 },
		{ "10", 0, 10, 0, 10 },
		{ "11", 0, 10, -1, 0 },
		{ "-5", -10, 10, 0, -5 },
		{ "-0", -10, 10, 0, 0 },
		{ "-11", -10, 10, -1, 0 },
		{ "-5", 0, 10, -1, 0 },
		{ "+5", 0, 10, -1, 0 },
		{ " 5", 0, 10, -1, 0 },
		{ "5 ", 0, 10, -1, 0 },
		{ "", 0, 10, -1, 0 },
		{ "-", -10, 10, -1, 0 },
		{ "12a", 0, 100, -1, 0 },
		{ "0x10", 0, 100, -1, 0 },
		{ "1e3", 0, 10000, -1, 0 },
		{ "9223372036854775807", 0, LLONG_MAX, 0, LLONG_MAX },
		{ "9223372036854775808", 0, LLONG_MAX, -1, 0 },
		{ "99999999999999999999", 0, LLONG_MAX, -1, 0 },
		{ "-9223372036854775807", LLONG_MIN, 0, 0, -LLONG_MAX },
		{ "-9223372036854775808", LLONG_MIN, 0, 0, LLONG_MIN },
		{ "-9223372036854775809", LLONG_MIN, 0, -1, 0 },
	};
	size_t i;
	long long v;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = 4242;
		rc = str_to_ll(cases[i].s, cases[i].min, cases[i].max, &v);
		CHECK(rc == cases[i].rc && (rc == 0 ? v == cases[i].v :
		    v == 4242), "str_to_ll(\"%s\", %lld, %lld) = %d (%lld)",
		    cases[i].s, cases[i].min, cases[i].max, cases[i].rc,
		    cases[i].v);
	}
}

static void
test_str_to_size(void)
{
	static const struct {
		const char	*s;
		long long	 max;
		int		 rc;
		long long	 v;
	} cases[] = {
		{ "0", 100, 0, 0 },
		{ "1024", 2048, 0, 1024 },
		{ "1k", LLONG_MAX, 0, 1024 },
		{ "1K", LLONG_MAX, 0, 1024 },
		{ "2m", LLONG_MAX, 0, 2 * 1024 * 1024 },
		{ "2M", LLONG_MAX, 0, 2 * 1024 * 1024 },
		{ "3g", LLONG_MAX, 0, 3LL * 1024 * 1024 * 1024 },
		{ "0k", LLONG_MAX, 0, 0 },
		{ "2k", 2048, 0, 2048 },
		{ "2k", 2047, -1, 0 },
		{ "1t", LLONG_MAX, -1, 0 },
		{ "1kb", LLONG_MAX, -1, 0 },
		{ "1kk", LLONG_MAX, -1, 0 },
		{ "k", LLONG_MAX, -1, 0 },
		{ "", LLONG_MAX, -1, 0 },
		{ "-1k", LLONG_MAX, -1, 0 },
		{ " 1k", LLONG_MAX, -1, 0 },
		{ "1.5k", LLONG_MAX, -1, 0 },
		{ "9007199254740991k", LLONG_MAX, 0, 9007199254740991LL * 1024 },
		{ "9007199254740992k", LLONG_MAX, -1, 0 },
		{ "8589934591g", LLONG_MAX, 0, 8589934591LL << 30 },
		{ "8589934592g", LLONG_MAX, -1, 0 },
		{ "9223372036854775807", LLONG_MAX, 0, LLONG_MAX },
		{ "9223372036854775807k", LLONG_MAX, -1, 0 },
		{ "0000000000000000000000000000001k", LLONG_MAX, -1, 0 },
	};
	size_t i;
	long long v;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = 4242;
		rc = str_to_size(cases[i].s, cases[i].max, &v);
		CHECK(rc == cases[i].rc && (rc == 0 ? v == cases[i].v :
		    v == 4242), "str_to_size(\"%s\", %lld) = %d (%lld)",
		    cases[i].s, cases[i].max, cases[i].rc, cases[i].v);
	}
}

static void
test_http_date(void)
{
	static const struct {
		time_t		 t;
		const char	*s;
	} cases[] = {
		{ 0, "Thu, 01 Jan 1970 00:00:00 GMT" },
		{ 784111777, "Sun, 06 Nov 1994 08:49:37 GMT" },
		{ 951782400, "Tue, 29 Feb 2000 00:00:00 GMT" },
		{ 1795507200, "Tue, 24 Nov 2026 08:00:00 GMT" },
		{ 4102444799, "Thu, 31 Dec 2099 23:59:59 GMT" },
	};
	char out[31];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(out, 'X', sizeof(out));
		http_date(cases[i].t, out);
		CHECK(out[29] == '\0' && strcmp(out, cases[i].s) == 0 &&
		    out[30] == 'X', "http_date(%lld) = %s", (long long)cases[i].t,
		    cases[i].s);
	}
}

static void
test_html_escape(void)
{
	static const char all[] = "a&b<c>d\"e'f";
	static const char esc[] = "a&amp;b&lt;c&gt;d&quot;e&#39;f";
	char *g;
	size_t n, cap;
	int ok;

	g = guarded_copy(NULL, 64);
	n = html_escape(g, 64, all);
	CHECK(n == strlen(esc) && strcmp(g, esc) == 0,
	    "all five characters escaped");
	guarded_free(g, 64);

	ok = 1;
	for (cap = 1; cap <= sizeof(esc) + 1; cap++) {
		g = guarded_copy(NULL, cap);
		memset(g, 'X', cap);
		n = html_escape(g, cap, all);
		if (n != strlen(esc) || strlen(g) != (cap - 1 < n ? cap - 1 :
		    n) || strncmp(g, esc, strlen(g)) != 0)
			ok = 0;
		guarded_free(g, cap);
	}
	CHECK(ok, "truncation at every cap: a terminated prefix, full length "
	    "returned, no write past cap");
	n = html_escape(NULL, 0, "<>");
	CHECK_INT(n, 8, "cap 0: nothing written, length returned");
	g = guarded_copy(NULL, 1);
	n = html_escape(g, 1, "");
	CHECK(n == 0 && g[0] == '\0', "empty string");
	guarded_free(g, 1);
	g = guarded_copy(NULL, 32);
	n = html_escape(g, 32, "plain text \xc3\xa9");
	CHECK(strcmp(g, "plain text \xc3\xa9") == 0 && n == 13,
	    "other bytes unchanged");
	guarded_free(g, 32);
}

static void
test_edit_distance(void)
{
	char l[80];

	CHECK_INT(edit_distance("", ""), 0, "'' vs ''");
	CHECK_INT(edit_distance("abc", "abc"), 0, "equal");
	CHECK_INT(edit_distance("ABC", "abc"), 0, "case-insensitive");
	CHECK_INT(edit_distance("", "abc"), 3, "'' vs abc");
	CHECK_INT(edit_distance("abc", ""), 3, "abc vs ''");
	CHECK_INT(edit_distance("kitten", "sitting"), 3, "kitten/sitting");
	CHECK_INT(edit_distance("flaw", "lawn"), 2, "flaw/lawn");
	CHECK_INT(edit_distance("docroot", "docrot"), 1, "one deletion");
	CHECK_INT(edit_distance("helo", "hello"), 1, "one insertion");
	CHECK_INT(edit_distance("ab", "ba"), 2, "transposition is 2");
	memset(l, 'a', 62);
	l[62] = '\0';
	CHECK_INT(edit_distance(l, "a"), 61, "62 bytes still measured");
	memset(l, 'a', 70);
	l[70] = '\0';
	CHECK_INT(edit_distance(l, "a"), 99, "long names: 99");
	CHECK_INT(edit_distance("a", l), 99, "long second name: 99");
}

static void
test_url_encode(void)
{
	struct arena a = { 0 };

	CHECK_STR(url_encode_path(&a, "/a b/c"), "/a%20b/c", "space");
	CHECK_STR(url_encode_path(&a, "/\xc3\xbc"), "/%C3%BC", "UTF-8 bytes");
	CHECK_STR(url_encode_path(&a, "/a?b#c%d\"e<>"),
	    "/a%3Fb%23c%25d%22e%3C%3E", "? # %% \" < >");
	CHECK_STR(url_encode_path(&a, "/-._~:@!$&'()*+,;=/AZaz09"),
	    "/-._~:@!$&'()*+,;=/AZaz09", "pchar and '/' kept");
	CHECK_STR(url_encode_path(&a, "\x01\x7f\xff"), "%01%7F%FF",
	    "control bytes and 0xff");
	CHECK_STR(url_encode_path(&a, ""), "", "empty");
	arena_reset(&a);
	free(a.head);
}

static void
test_arena(void)
{
	struct arena a = { 0 };
	char *p, *q, *first;
	size_t n, i;
	int aligned = 1;

	p = arena_alloc(&a, 1);
	q = arena_alloc(&a, 1);
	CHECK(p != NULL && q != NULL && q - p == 16, "small allocations "
	    "16 bytes apart");
	for (n = 1; n <= 200; n++) {
		p = arena_alloc(&a, n);
		if (p == NULL || ((uintptr_t)p & 15) != 0)
			aligned = 0;
		else
			memset(p, 0xa5, n);
	}
	CHECK(aligned, "every allocation 16-byte aligned");
	arena_reset(&a);
	for (i = 0; i < 3; i++) {
		p = arena_alloc(&a, ARENA_BLOCK * 2 / 3);
		if (p != NULL && ((uintptr_t)p & 15) != 0)
			aligned = 0;
	}
	CHECK(aligned, "new blocks are 16-byte aligned too");

	arena_reset(&a);
	first = arena_alloc(&a, 32);
	p = arena_alloc(&a, ARENA_BLOCK - 32);
	CHECK(p == first + 32, "fills the current block exactly");
	q = arena_alloc(&a, 16);
	CHECK(q != NULL && (q < first || q >= first + ARENA_BLOCK),
	    "grows a new block when full");
	p = arena_alloc(&a, ARENA_BLOCK * 3);
	CHECK(p != NULL, "allocation bigger than a block");
	if (p != NULL)
		memset(p, 0, ARENA_BLOCK * 3);
	CHECK(a.total >= ARENA_BLOCK * 5, "total counts every block");
	arena_reset(&a);
	CHECK(a.head != NULL && a.total == ARENA_BLOCK * 3,
	    "reset keeps only the newest block");
	p = arena_alloc(&a, 8);
	arena_reset(&a);
	q = arena_alloc(&a, 8);
	CHECK(p != NULL && p == q, "reset block reused from its start");

	arena_reset(&a);
	CHECK_STR(arena_strdup(&a, "hello"), "hello", "arena_strdup");
	CHECK_STR(arena_strndup(&a, "hello", 3), "hel", "arena_strndup");
	CHECK_STR(arena_printf(&a, "%s-%d", "x", 42), "x-42", "arena_printf");
	free(a.head);	/* reset left one block */
	memset(&a, 0, sizeof(a));

	n = 0;
	while ((p = arena_alloc(&a, 4096)) != NULL && n < 10000)
		n++;
	CHECK(p == NULL && a.total <= ARENA_MAX && n * 4096 >= ARENA_MAX -
	    ARENA_BLOCK, "ARENA_MAX caps the arena (%zu x 4096)", n);
	CHECK(arena_alloc(&a, 1) == NULL || a.total <= ARENA_MAX,
	    "still capped after the first refusal");
	CHECK(arena_strdup(&a, "x") == NULL || a.total <= ARENA_MAX,
	    "strdup past the cap fails");
	arena_reset(&a);
	free(a.head);
	memset(&a, 0, sizeof(a));

	CHECK(arena_alloc(&a, ARENA_MAX + 1) == NULL, "one allocation over "
	    "ARENA_MAX: NULL");
	p = arena_alloc(&a, ARENA_MAX);
	CHECK(p != NULL, "one allocation of exactly ARENA_MAX");
	arena_reset(&a);
	free(a.head);

}

/*
 * Last: with the bug present, the third case hands back an 8-byte block
 * that arena_alloc then writes a 24-byte header into (ASan aborts).
 */
static void
test_arena_overflow(void)
{
	struct arena h = { 0 };
	int ok;

	/* Sizes near SIZE_MAX must not wrap the rounding or the cap. */
	ok = arena_alloc(&h, SIZE_MAX) == NULL;
	CHECK(ok, "arena_alloc(SIZE_MAX) is NULL (rounding must not wrap)");
	ok = arena_alloc(&h, SIZE_MAX - 8) == NULL;
	CHECK(ok, "arena_alloc(SIZE_MAX - 8) is NULL");
	arena_reset(&h);
	free(h.head);
	memset(&h, 0, sizeof(h));
	(void)arena_alloc(&h, 1);
	ok = arena_alloc(&h, SIZE_MAX - 15) == NULL;
	CHECK(ok, "arena_alloc(SIZE_MAX - 15) on a used arena is NULL "
	    "(total + want must not wrap)");
	arena_reset(&h);
	free(h.head);
}

static void
test_mime(void)
{
	static const struct {
		const char	*name, *type;
	} cases[] = {
		{ "index.html", "text/html" },
		{ "/a/b/INDEX.HTML", "text/html" },
		{ "x.Htm", "text/html" },
		{ "style.css", "text/css" },
		{ "app.mjs", "text/javascript" },
		{ "data.json", "application/json" },
		{ "feed.xml", "application/xml" },
		{ "notes.text", "text/plain" },
		{ "a.tar.txt", "text/plain" },
		{ "main.c", "text/x-c" },
		{ "x.unknownext", NULL },
		{ "README", NULL },
		{ "/dir.d/README", NULL },
		{ ".bashrc", NULL },
		{ "/home/u/.bashrc", NULL },
		{ "file.", NULL },
		{ "x.plain", NULL },	/* only a subtype, never an extension */
		{ "x.the", NULL },	/* only in a comment */
		{ "x.lines", NULL },
		{ "x.ht", NULL },	/* part of a word */
		{ "x.tml", NULL },
		{ "x.html ", NULL },
		{ "x.a#b", NULL },
		{ "x.0123456789012345678901234567890123", NULL },
	};
	struct arena a = { 0 };
	char cwd[4096], path[4200];
	size_t i;

	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		perror("getcwd");
		exit(2);
	}
	snprintf(path, sizeof(path), "%s/conf/mime.types", cwd);
	cfg.mimetypes = path;
	if (access(path, R_OK) != 0)
		unit_diag("conf/mime.types not found: run from the repo root");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_STR(mime_by_ext(cases[i].name), cases[i].type,
		    "mime_by_ext(\"%s\")", cases[i].name);
	CHECK_STR(mime_by_ext("again.html"), "text/html", "cached lookup");
	CHECK_STR(mime_by_ext("again.css"), "text/css", "cache replaced");
	arena_reset(&a);
	free(a.head);
	config_free();
	memset(&cfg, 0, sizeof(cfg));
}

/* The bounded appender: nothing passes the buffer, whatever is asked. */
static void
test_sbuf(void)
{
	char *buf = guarded_copy(NULL, 16);
	char big[64], out[64];
	struct sbuf b;
	size_t i;
	int allok;

	sb_init(&b, buf, 16);
	sb_puts(&b, "hello, ");
	sb_puts(&b, "world, and more");
	CHECK(b.len == 15 && b.trunc && strcmp(buf, "hello, world, a") == 0,
	    "sb_puts clamps at cap - 1 and says so");
	sb_printf(&b, "%d", 12345);
	CHECK(b.len == 15 && buf[15] == '\0', "sb_printf into a full buffer "
	    "writes nothing past it");
	guarded_free(buf, 16);

	/* sb_printf's wanted length never moves len past cap (finding 1). */
	buf = guarded_copy(NULL, 16);
	sb_init(&b, buf, 16);
	sb_printf(&b, "%s", "0123456789");
	sb_printf(&b, "%s", "0123456789");
	sb_printf(&b, "%s", "0123456789");
	CHECK(b.len == 15 && b.trunc && strcmp(buf, "012345678901234") == 0,
	    "three printfs of 10 into 16: 15 kept, cut, terminated");
	guarded_free(buf, 16);

	/* sb_esc: escapes whole or not at all, "..." where it cut. */
	sb_init(&b, out, sizeof(out));
	sb_esc(&b, "a\"b\\c\x9b", 64, ESC_QUOTE);
	CHECK_STR(out, "a\\x22b\\x5cc\\x9b", "sb_esc: quote, backslash, C1 "
	    "control as \\xNN");
	sb_init(&b, out, sizeof(out));
	sb_esc(&b, "a b[c]", 64, ESC_BARE);
	CHECK_STR(out, "a\\x20b\\x5bc\\x5d", "sb_esc ESC_BARE: space and "
	    "brackets too");
	sb_init(&b, out, sizeof(out));
	sb_esc(&b, NULL, 64, ESC_QUOTE);
	CHECK_STR(out, "-", "sb_esc: NULL is -");
	sb_init(&b, out, sizeof(out));
	sb_esc(&b, "abcdefghij", 10, ESC_QUOTE);
	CHECK_STR(out, "abcdefghij", "sb_esc: exactly max fits whole");
	sb_init(&b, out, sizeof(out));
	sb_esc(&b, "abcdefghijk", 10, ESC_QUOTE);
	CHECK(strcmp(out, "abcdefg...") == 0 && b.trunc, "sb_esc: one more "
	    "is cut to max with ...");
	allok = 1;
	for (i = 0; i < sizeof(big) - 1; i++)
		big[i] = (char)(i % 2 ? 0x80 : 'a');
	big[sizeof(big) - 1] = '\0';
	for (i = 3; i < 40; i++) {
		size_t k, n;

		sb_init(&b, out, sizeof(out));
		sb_esc(&b, big, i, ESC_QUOTE);
		n = strlen(out);
		if (n > i || n < 3 || strcmp(out + n - 3, "...") != 0)
			allok = 0;
		/* No escape cut in half: every \ starts \x80. */
		for (k = 0; k + 3 < n; k++)
			if (out[k] == '\\' && strncmp(out + k, "\\x80", 4) != 0)
				allok = 0;
	}
	CHECK(allok, "sb_esc: for every max, within max, ends in ..., no "
	    "escape split");
}

int
main(void)
{
	test_str_to_ll();
	test_str_to_size();
	test_http_date();
	test_html_escape();
	test_edit_distance();
	test_url_encode();
	test_arena();
	test_mime();
	test_arena_overflow();
	test_sbuf();
	return unit_done();
}
