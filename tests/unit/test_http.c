/*
 * test_http.c - src/http.c: the head parser (every input against a guard
 * page), head-end detection, path normalisation, the chunked decoder and
 * the status table.
 */
#include <stdint.h>

#include "internal.h"
#include "unit.h"

/* ---- http_parse_head ------------------------------------------------ */

static struct {
	char		*buf;
	size_t		 len;
	struct head	 hd;
	struct header	 h[DEF_MAX_HEADERS];
} P;

/* Parse s (len bytes) from a guarded copy; P.hd holds the result. */
static int
parse_len(const char *s, size_t len, int maxh)
{
	guarded_free(P.buf, P.len);
	P.buf = guarded_copy(s, len);
	P.len = len;
	memset(&P.hd, 0, sizeof(P.hd));
	P.hd.h = P.h;
	P.hd.maxh = maxh;
	return http_parse_head(P.buf, len, &P.hd);
}

static int
parse(const char *s)
{
	return parse_len(s, strlen(s), DEF_MAX_HEADERS);
}

/* The value of header `name` in P, or NULL. */
static const char *
hval(const char *name)
{
	int i;

	for (i = 0; i < P.hd.nh; i++)
		if (strcmp(P.hd.h[i].name, name) == 0)
			return P.hd.h[i].value;
	return NULL;
}

#define H11(extra)	"GET / HTTP/1.1\r\nHost: h\r\n" extra "\r\n"

static void
test_parse_valid(void)
{
	int rc;

	rc = parse("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
	CHECK_INT(rc, 0, "simple GET parses");
	CHECK_STR(P.hd.method, "GET", "method");
	CHECK_STR(P.hd.target, "/", "target");
	CHECK_INT(P.hd.version, 11, "version 11");
	CHECK_INT(P.hd.nh, 1, "one header");
	CHECK_STR(P.hd.h[0].name, "Host", "header name");
	CHECK_STR(P.hd.h[0].value, "example.com", "header value");
	CHECK_STR(P.hd.host, "example.com", "host from Host");
	CHECK_STR(P.hd.path_raw, "/", "path_raw");
	CHECK_STR(P.hd.query, "", "empty query");
	CHECK_INT(P.hd.clen, -1, "no Content-Length: clen -1");
	CHECK(!P.hd.chunked && !P.hd.conn_close && !P.hd.conn_keepalive &&
	    !P.hd.expect_continue && !P.hd.asterisk, "flags clear");

	rc = parse("GET /a/b%20c?x=1&y=/2 HTTP/1.0\r\n\r\n");
	CHECK_INT(rc, 0, "HTTP/1.0 without Host parses");
	CHECK_INT(P.hd.version, 10, "version 10");
	CHECK(P.hd.host == NULL, "no host");
	CHECK_STR(P.hd.path_raw, "/a/b%20c", "path_raw stops at '?'");
	CHECK_STR(P.hd.query, "x=1&y=/2", "query after '?'");

	rc = parse("HEAD /x? HTTP/1.1\r\nHost: h\r\n\r\n");
	CHECK(rc == 0 && strcmp(P.hd.path_raw, "/x") == 0 &&
	    strcmp(P.hd.query, "") == 0, "empty query after '?'");

	rc = parse("GET /x HTTP/1.1\nHost: h\n\n");
	CHECK(rc == 0 && strcmp(P.hd.host, "h") == 0 &&
	    strcmp(P.hd.path_raw, "/x") == 0, "bare LF line ends");

	rc = parse("GET /x HTTP/1.1\r\nHost: h\n\r\n");
	CHECK_INT(rc, 0, "mixed CRLF and LF");

	rc = parse("\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
	CHECK(rc == 0 && strcmp(P.hd.method, "GET") == 0,
	    "empty line before the request-line ignored");

	rc = parse("GET / HTTP/1.2\r\nHost: h\r\n\r\n");
	CHECK(rc == 0 && P.hd.version == 11, "HTTP/1.2 served as 1.1");

	rc = parse("GET / HTTP/1.1\r\nHost: \t h \t\r\nX-A:v\r\n"
	    "X-Empty:   \r\nX-Mid: a  b\r\n\r\n");
	CHECK_INT(rc, 0, "OWS around values");
	CHECK_STR(hval("Host"), "h", "Host value trimmed of SP/HTAB");
	CHECK_STR(hval("X-A"), "v", "value with no OWS");
	CHECK_STR(hval("X-Empty"), "", "all-OWS value is empty");
	CHECK_STR(hval("X-Mid"), "a  b", "inner spaces kept");
	CHECK_INT(P.hd.nh, 4, "four headers");

	rc = parse("GET / HTTP/1.1\r\nHost: h\r\nX-Obs: caf\xc3\xa9\r\n\r\n");
	CHECK(rc == 0 && strcmp(hval("X-Obs"), "caf\xc3\xa9") == 0,
	    "obs-text bytes allowed in values");

	rc = parse("POST /p HTTP/1.1\r\nhost: h\r\ncontent-length: 42\r\n\r\n");
	CHECK(rc == 0 && P.hd.clen == 42 && strcmp(P.hd.host, "h") == 0,
	    "lower-case names recognised, clen 42");
	rc = parse("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
	CHECK(rc == 0 && P.hd.clen == 0, "Content-Length: 0");
	rc = parse(H11("Content-Length: 5, 5\r\n"));
	CHECK(rc == 0 && P.hd.clen == 5, "Content-Length list of equal "
	    "values is one value");
	rc = parse(H11("Content-Length: 7\r\nContent-Length: 7\r\n"));
	CHECK(rc == 0 && P.hd.clen == 7, "repeated equal Content-Length");
	rc = parse(H11("Content-Length: 00012\r\n"));
	CHECK(rc == 0 && P.hd.clen == 12, "leading zeros in Content-Length");

	rc = parse(H11("Transfer-Encoding: chunked\r\n"));
	CHECK(rc == 0 && P.hd.chunked && P.hd.clen == -1, "chunked");
	rc = parse(H11("Transfer-Encoding: Chunked \r\n"));
	CHECK(rc == 0 && P.hd.chunked, "chunked, any case");

	rc = parse(H11("Connection: close\r\n"));
	CHECK(rc == 0 && P.hd.conn_close && !P.hd.conn_keepalive,
	    "Connection: close");
	rc = parse(H11("Connection: Upgrade, Keep-Alive\r\n"));
	CHECK(rc == 0 && P.hd.conn_keepalive && !P.hd.conn_close,
	    "Connection list with keep-alive");
	rc = parse(H11("Connection: closed\r\n"));
	CHECK(rc == 0 && !P.hd.conn_close, "'closed' is not close");

	rc = parse(H11("Expect: 100-continue\r\n"));
	CHECK(rc == 0 && P.hd.expect_continue, "Expect: 100-continue");
	rc = parse(H11("Expect: 100-Continue\r\n"));
	CHECK(rc == 0 && P.hd.expect_continue, "Expect value any case");
	rc = parse("GET / HTTP/1.0\r\nExpect: whatever\r\n\r\n");
	CHECK(rc == 0 && !P.hd.expect_continue, "Expect ignored in 1.0");

	rc = parse("GET http://Example.COM:8080/p/q?z=1 HTTP/1.1\r\n"
	    "Host: other\r\n\r\n");
	CHECK_INT(rc, 0, "absolute-form parses");
	CHECK_STR(P.hd.host, "Example.COM:8080", "absolute-form authority "
	    "is the host");
	CHECK_STR(P.hd.path_raw, "/p/q", "absolute-form path");
	CHECK_STR(P.hd.query, "z=1", "absolute-form query");
	rc = parse("GET HTTPS://h HTTP/1.1\r\nHost: h\r\n\r\n");
	CHECK(rc == 0 && strcmp(P.hd.host, "h") == 0 &&
	    strcmp(P.hd.path_raw, "/") == 0, "https, no path: path '/'");
	rc = parse("GET http://h?a HTTP/1.1\r\nHost: h\r\n\r\n");
	CHECK(rc == 0 && strcmp(P.hd.path_raw, "/") == 0 &&
	    strcmp(P.hd.query, "a") == 0, "absolute-form, query, no path");
	rc = parse("GET http://[::1]:80/ HTTP/1.0\r\n\r\n");
	CHECK(rc == 0 && strcmp(P.hd.host, "[::1]:80") == 0,
	    "absolute-form IP-literal");

	rc = parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
	CHECK(rc == 0 && P.hd.asterisk, "OPTIONS * parses, asterisk set");
	CHECK_STR(P.hd.path_raw, "*", "OPTIONS * path_raw");

	rc = parse("PATCH /x HTTP/1.1\r\nHost: h\r\n\r\n");
	CHECK_INT(rc, 0, "PATCH known");
	rc = parse("DELETE /x HTTP/1.1\r\nHost: h\r\n\r\n");
	CHECK_INT(rc, 0, "DELETE known");

	rc = parse(H11(""));
	CHECK_INT(rc, 0, "H11 macro sane");
}

struct err_case {
	const char	*in;
	int		 status;
	const char	*what;
};

static const struct err_case errs[] = {
	{ "", 400, "empty input" },
	{ "\r\n", 400, "only an empty line" },
	{ "GET / HTTP/1.1\r\n\r\n", 400, "1.1 without Host" },
	{ "GET / HTTP/1.1\r\nHost: h\r\n", 400, "no empty line at the end" },
	{ "GET / HTTP/1.1\r\nHost: h", 400, "last line unterminated" },
	{ "GET / HTTP/1.1\r\nHost: h\r\n\r\nX", 400, "bytes after the head" },
	{ "GET /\r\n\r\n", 400, "HTTP/0.9 request line" },
	{ "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "two spaces" },
	{ " GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "leading space" },
	{ "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400, "trailing space" },
	{ "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, "HTAB separator" },
	{ "GET / http/1.1\r\nHost: h\r\n\r\n", 400, "lower-case HTTP" },
	{ "GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400, "version 1.10" },
	{ "GET / HTTP/11\r\nHost: h\r\n\r\n", 400, "version 11" },
	{ "GET / HTTP/1.\r\nHost: h\r\n\r\n", 400, "version 1." },
	{ "GET / HTTP/\r\nHost: h\r\n\r\n", 400, "version HTTP/" },
	{ "G@T / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "method not a token" },
	{ "GET /\r HTTP/1.1\r\nHost: h\r\n\r\n", 400, "bare CR in line" },
	{ "GET /a#f HTTP/1.1\r\nHost: h\r\n\r\n", 400, "fragment in target" },
	{ "GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n", 400, "DEL in target" },
	{ "GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400, "8-bit target" },
	{ "GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400, "* with GET" },
	{ "GET foo HTTP/1.1\r\nHost: h\r\n\r\n", 400, "relative target" },
	{ "GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, "ftp scheme" },
	{ "GET http:///p HTTP/1.1\r\nHost: h\r\n\r\n", 400, "empty authority" },
	{ "GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, "userinfo" },
	{ "GET http://a b/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, "space in URI" },
	{ "GET http://a\"b/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, "bad host" },
	{ "GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", 400, "obs-fold" },
	{ "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400, "space before colon" },
	{ "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", 400, "empty name" },
	{ "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400, "no colon" },
	{ "GET / HTTP/1.1\r\nHost: h\r\nX(y): v\r\n\r\n", 400, "name not a "
	    "token" },
	{ "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400, "bare CR in "
	    "value" },
	{ "GET / HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n", 400, "control "
	    "byte in value" },
	{ "GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n", 400, "DEL in "
	    "value" },
	{ "GET / HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n", 400, "two Hosts" },
	{ "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "Host with a space" },
	{ "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "Host with a slash" },
	{ H11("Content-Length: abc\r\n"), 400, "CL not a number" },
	{ H11("Content-Length: -1\r\n"), 400, "CL negative" },
	{ H11("Content-Length: +1\r\n"), 400, "CL with sign" },
	{ H11("Content-Length: 1 2\r\n"), 400, "CL with inner space" },
	{ H11("Content-Length: 5, 6\r\n"), 400, "CL list of two values" },
	{ H11("Content-Length: \r\n"), 400, "CL empty" },
	{ H11("Content-Length: 0x10\r\n"), 400, "CL hex" },
	{ H11("Content-Length: 1\r\nContent-Length: 2\r\n"), 400, "two CLs" },
	{ H11("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n"), 400,
	    "TE with CL" },
	{ "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
	    "TE in HTTP/1.0" },
	{ H11("Transfer-Encoding: chunked, chunked\r\n"), 400, "chunked "
	    "twice" },
	{ H11("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
	    400, "TE split across fields" },
	{ H11("Transfer-Encoding: \r\n"), 400, "TE empty" },
	{ "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", 400, "NUL in a "
	    "header value (RFC 9110 5.5)" },
	{ "GET / HTTP/1.1\0x\r\nHost: h\r\n\r\n", 400, "NUL after the "
	    "version" },
	{ H11("Expect: 100-continue, foo\r\n"), 417, "Expect list" },
	{ H11("Expect: 200-ok\r\n"), 417, "unknown expectation" },
	{ H11("Transfer-Encoding: gzip\r\n"), 400, "TE gzip: chunked not "
	    "final (RFC 9112 6.3)" },
	{ H11("Transfer-Encoding: chunked, gzip\r\n"), 400, "TE chunked, "
	    "gzip: chunked not final" },
	{ H11("Content-Length: 5\r\nContent-Length: \r\n"), 400, "a valid "
	    "and an empty Content-Length" },
	{ H11("Transfer-Encoding: gzip, chunked\r\n"), 501, "TE gzip, "
	    "chunked: unsupported coding" },
	{ H11("Transfer-Encoding: x-custom , chunked\r\n"), 501, "TE "
	    "unknown coding then chunked" },
	{ "BREW / HTTP/1.1\r\nHost: h\r\n\r\n", 501, "unknown method" },
	{ "get / HTTP/1.1\r\nHost: h\r\n\r\n", 501, "methods are case-"
	    "sensitive" },
	{ "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", 501, "CONNECT" },
	{ "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505, "HTTP/2.0" },
	{ "GET / HTTP/0.9\r\n\r\n", 505, "HTTP/0.9 version string" },
	{ "GET / HTTP/3.1\r\nHost: h\r\n\r\n", 505, "HTTP/3.1" },
};

static void
test_parse_errors(void)
{
	size_t i;
	int rc;

	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		/* The NUL cases need their real length: up to "\r\n\r\n". */
		const char *s = errs[i].in;
		size_t len = strlen(s);

		if (strstr(errs[i].what, "NUL") != NULL)
			len += strlen(s + len + 1) + 1;
		rc = parse_len(s, len, DEF_MAX_HEADERS);
		CHECK_INT(rc, errs[i].status, "%d: %s", errs[i].status,
		    errs[i].what);
	}

	rc = parse_len(H11("A: 1\r\nB: 2\r\n"), strlen(H11("A: 1\r\nB: 2\r\n")),
	    3);
	CHECK_INT(rc, 0, "3 headers with maxh 3");
	rc = parse_len(H11("A: 1\r\nB: 2\r\nC: 3\r\n"),
	    strlen(H11("A: 1\r\nB: 2\r\nC: 3\r\n")), 3);
	CHECK_INT(rc, 431, "4 headers with maxh 3: 431");
	rc = parse_len(H11(""), strlen(H11("")), 0);
	CHECK_INT(rc, 431, "1 header with maxh 0: 431");

	rc = parse(H11("Content-Length: 99999999999999999999\r\n"));
	CHECK_INT(rc, 413, "CL past 2^58: 413");
	rc = parse(H11("Content-Length: 288230376151711744\r\n"));
	CHECK(rc == 0 && P.hd.clen == 288230376151711744LL, "CL 2^58");
}

/* ---- http_find_head_end --------------------------------------------- */

/* Feed s one byte at a time; the end must show up exactly at want. */
static int
incremental_end(const char *s, size_t want)
{
	size_t len = strlen(s), n, prev = 0, end = 0;
	char *b;

	for (n = 1; n <= len; n++) {
		b = guarded_copy(s, n);
		end = http_find_head_end(b, n, prev);
		guarded_free(b, n);
		if (end != 0)
			return n == want && end == want;
		prev = n;
	}
	return want == 0;
}

static size_t
head_end(const char *s, size_t from)
{
	size_t len = strlen(s), r;
	char *b = guarded_copy(s, len);

	r = http_find_head_end(b, len, from);
	guarded_free(b, len);
	return r;
}

static void
test_head_end(void)
{
	static const char crlf[] = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
	static const char lf[] = "GET / HTTP/1.1\nHost: h\n\n";
	static const char mixed[] = "GET / HTTP/1.1\nHost: h\n\r\n";
	static const char mixed2[] = "GET / HTTP/1.1\r\nHost: h\r\n\n";

	CHECK_INT(head_end(crlf, 0), strlen(crlf), "CRLF head end");
	CHECK_INT(head_end(lf, 0), strlen(lf), "bare LF head end");
	CHECK_INT(head_end(mixed, 0), strlen(mixed), "LF CRLF head end");
	CHECK_INT(head_end(mixed2, 0), strlen(mixed2), "CRLF LF head end");
	CHECK_INT(head_end("GET / HTTP/1.1\r\nHost: h\r\n\r\nbody", 0),
	    strlen(crlf), "body after the head not counted");
	CHECK_INT(head_end("GET / HTTP/1.1\r\nHost: h\r\n", 0), 0,
	    "incomplete head: 0");
	CHECK_INT(head_end("GET / HTTP/1.1\r\nHost: h\r\n\r", 0), 0,
	    "CRLF CR: 0");
	CHECK_INT(head_end("", 0), 0, "empty: 0");
	CHECK_INT(head_end("\n", 0), 0, "lone LF: 0");
	CHECK_INT(head_end("a\r\n\r\n", 4), 5, "from inside the terminator");
	CHECK(incremental_end(crlf, strlen(crlf)), "CRLF byte by byte");
	CHECK(incremental_end(lf, strlen(lf)), "LF byte by byte");
	CHECK(incremental_end(mixed, strlen(mixed)), "LF CRLF byte by byte");
	CHECK(incremental_end(mixed2, strlen(mixed2)),
	    "CRLF LF byte by byte");
	CHECK(incremental_end("GET / HTTP/1.1\r\nHost: h\r\n", 0),
	    "byte by byte, no end");
}

/* ---- http_normalize_path -------------------------------------------- */

static int
norm(const char *in, char *res, size_t rescap)
{
	size_t len = strlen(in), cap = len + 2;
	char *ib = guarded_copy(in, len), *ob;
	int rc;

	/* The output against a guard page too: no write past cap. */
	ob = guarded_copy(NULL, cap);
	rc = http_normalize_path(ib, len, ob, cap);
	if (rc == 0 && memchr(ob, '\0', cap) != NULL)
		snprintf(res, rescap, "%s", ob);
	else if (rc == 0)
		snprintf(res, rescap, "(unterminated)");
	else
		snprintf(res, rescap, "(%d)", rc);
	guarded_free(ib, len);
	guarded_free(ob, cap);
	return rc;
}

static const struct {
	const char	*in, *out;
} norms[] = {
	{ "/", "/" },
	{ "/a/b", "/a/b" },
	{ "/a/b/", "/a/b/" },
	{ "/a//b", "/a/b" },
	{ "//a", "/a" },
	{ "///", "/" },
	{ "/a//", "/a/" },
	{ "/a/./b", "/a/b" },
	{ "/./a", "/a" },
	{ "/.", "/" },
	{ "/./", "/" },
	{ "/a/.", "/a/" },
	{ "/a/b/..", "/a/" },
	{ "/a/b/../", "/a/" },
	{ "/a/b/../c", "/a/c" },
	{ "/a/..", "/" },
	{ "/a/b/c/../../d", "/a/d" },
	{ "/a/./../b", "/b" },
	{ "/.a", "/.a" },
	{ "/..a", "/..a" },
	{ "/a..", "/a.." },
	{ "/...", "/..." },
	{ "/%41%42c", "/ABc" },
	{ "/%7e%7E", "/~~" },
	{ "/a%20b", "/a b" },
	{ "/%252e", "/%2e" },
	{ "/%252e%252e/x", "/%2e%2e/x" },
	{ "/%25", "/%" },
	{ "/a/%2e/b", "/a/b" },
	{ "/a/%2e%2e/b", "/b" },
	{ "/a/.%2e", "/" },
	{ "/%e2%82%ac", "/\xe2\x82\xac" },
	{ "/a;b=c", "/a;b=c" },
	{ "/..", "(400)" },
	{ "/../", "(400)" },
	{ "/../a", "(400)" },
	{ "/a/../..", "(400)" },
	{ "/a/../../b", "(400)" },
	{ "/./..", "(400)" },
	{ "/%2e%2e", "(400)" },
	{ "/%2E%2E/etc", "(400)" },
	{ "/a%2Fb", "(400)" },
	{ "/a%2fb", "(400)" },
	{ "/%00", "(400)" },
	{ "/a%00b", "(400)" },
	{ "/%C0%AE", "(400)" },
	{ "/%c1%9c", "(400)" },
	{ "/\xc0", "(400)" },
	{ "/%", "(400)" },
	{ "/a%", "(400)" },
	{ "/%4", "(400)" },
	{ "/%4/", "(400)" },
	{ "/%zz", "(400)" },
	{ "/%4g", "(400)" },
	{ "/%g4", "(400)" },
	{ "", "(400)" },
	{ "a", "(400)" },
	{ "a/b", "(400)" },
	{ "*", "(400)" },
};

static void
test_normalize(void)
{
	char res[256], out[8];
	size_t i;

	for (i = 0; i < sizeof(norms) / sizeof(norms[0]); i++) {
		norm(norms[i].in, res, sizeof(res));
		CHECK_STR(res, norms[i].out, "normalize \"%s\"", norms[i].in);
	}
	CHECK_INT(http_normalize_path("/abc", 4, out, 5), 400,
	    "cap below len + 2: 400");
	CHECK_INT(http_normalize_path("/abc", 4, out, 6), 0,
	    "cap len + 2 suffices");
	CHECK_INT(http_normalize_path("/ab/cd", 3, out, 5), 0,
	    "only len bytes are read");
	CHECK_STR(out, "/ab", "... and decoded");
}

/* ---- http_chunked_decode -------------------------------------------- */

struct dec {
	ssize_t	 rc;		/* last return: >= 0, -1 or -2 */
	int	 done;
	size_t	 consumed;
	size_t	 outlen;
	char	 out[8192];
};

/*
 * Feed in[0..len) in pieces of `step` bytes (0: all at once) with output
 * buffers of `ocap` bytes, re-feeding what was not consumed, like a
 * caller would.  Each piece and each output buffer sits against a guard
 * page.
 */
static void
decode(const char *in, size_t len, size_t step, size_t ocap, struct dec *d)
{
	struct chunked st;
	size_t pos = 0, avail = 0;
	int stall = 0;

	memset(&st, 0, sizeof(st));
	memset(d, 0, sizeof(*d));
	while (st.state != CH_DONE && stall < 3) {
		size_t give, n;
		char *ib, *ob;
		ssize_t r;

		if (avail == pos || step == 0)
			avail = step == 0 ? len : (avail + step > len ? len :
			    avail + step);
		give = avail - pos;
		n = give;
		ib = guarded_copy(in + pos, give);
		ob = guarded_copy(NULL, ocap);
		r = http_chunked_decode(&st, ib, &n, ob, ocap);
		if (n > give)
			r = -100;	/* consumed more than given */
		if (r > (ssize_t)ocap)
			r = -101;	/* wrote more than ocap */
		if (r > 0 && d->outlen + (size_t)r <= sizeof(d->out)) {
			memcpy(d->out + d->outlen, ob, (size_t)r);
			d->outlen += (size_t)r;
		}
		guarded_free(ib, give);
		guarded_free(ob, ocap);
		d->rc = r;
		if (r < 0)
			break;
		pos += n;
		stall = n == 0 && r == 0 ? stall + 1 : 0;
		if (pos == len && avail == len && st.state != CH_DONE)
			break;
	}
	d->done = st.state == CH_DONE;
	d->consumed = pos;
}

#define DEC(lit, step, ocap)	decode(lit, sizeof(lit) - 1, step, ocap, &d)
#define BODY	"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n"

static void
test_chunked(void)
{
	static const char body[] = BODY;
	static const char bodyx[] = BODY "GET / HTTP/1.1\r\n";
	struct dec d;
	size_t step, ocap;
	char big[6000];
	int allok;

	decode(body, strlen(body), 0, 4096, &d);
	CHECK(d.rc >= 0 && d.done, "whole body decodes to the end");
	CHECK(d.outlen == 11 && memcmp(d.out, "hello world", 11) == 0,
	    "whole body: 'hello world'");
	CHECK_INT(d.consumed, strlen(body), "whole body consumed exactly");

	decode(bodyx, strlen(bodyx), 0, 4096, &d);
	CHECK(d.done && d.consumed == strlen(body), "bytes after the body "
	    "are left unconsumed");

	allok = 1;
	for (step = 1; step <= 7; step++)
		for (ocap = 1; ocap <= 12; ocap += 3) {
			decode(body, strlen(body), step, ocap, &d);
			if (!(d.rc >= 0 && d.done && d.outlen == 11 &&
			    memcmp(d.out, "hello world", 11) == 0 &&
			    d.consumed == strlen(body)))
				allok = 0;
		}
	CHECK(allok, "any split and any output size give the same result");
	decode(body, strlen(body), 1, 4096, &d);
	CHECK(d.done && d.outlen == 11, "byte-at-a-time feeding");
	decode(body, strlen(body), 0, 1, &d);
	CHECK(d.done && d.outlen == 11 && memcmp(d.out, "hello world", 11) ==
	    0, "one-byte output buffer");

	DEC("0\r\n\r\n", 0, 16);
	CHECK(d.done && d.outlen == 0 && d.consumed == 5, "empty body");
	DEC("3;a=b;c=\"d e\"\r\nabc\r\n0;x\r\n\r\n", 0, 16);
	CHECK(d.rc >= 0 && d.done && d.outlen == 3, "chunk extensions "
	    "skipped");
	DEC("3 ;a=b\r\nabc\r\n0\r\n\r\n", 0, 16);
	CHECK(d.rc >= 0 && d.done && d.outlen == 3, "BWS before ';'");
	/* RFC 9112 7.1: CRLF only; BWS only before ';' (issue 8, 9). */
	DEC("3\nabc\n0\n\n", 0, 16);
	CHECK_INT(d.rc, -1, "bare LF after the size: -1");
	DEC("3\r\nabc\n0\r\n\r\n", 0, 16);
	CHECK_INT(d.rc, -1, "bare LF after chunk data: -1");
	DEC("3;x\nabc\r\n0\r\n\r\n", 0, 16);
	CHECK_INT(d.rc, -1, "bare LF ending an extension: -1");
	DEC("1 \r\nx\r\n0\r\n\r\n", 0, 16);
	CHECK_INT(d.rc, -1, "whitespace after the size without ';': -1");
	DEC("1\t\r\nx\r\n0\r\n\r\n", 0, 16);
	CHECK_INT(d.rc, -1, "a tab after the size without ';': -1");
	DEC("0\r\nTrailer: a\rb\r\n\r\n", 0, 16);
	CHECK_INT(d.rc, -1, "bare CR in a trailer value: -1");
	DEC("0\r\nA: 1\n\r\n", 0, 16);
	CHECK_INT(d.rc, -1, "bare LF ending a trailer: -1");
	DEC("0\r\n\n", 0, 16);
	CHECK_INT(d.rc, -1, "bare LF ending the trailer section: -1");
	DEC("3\nabc\n2 ;x\nde\n0\nTrailer: a\rb\n\n", 0, 16);
	CHECK_INT(d.rc, -1, "the review's lenient body: -1");
	DEC("0\r\nA: 1\r\nB:\r\n\r\n", 1, 16);
	CHECK(d.rc >= 0 && d.done, "trailers (one empty) fed byte by byte");
	DEC("A\r\n0123456789\r\n0\r\nA: 1\r\nB: 2\r\n\r\n", 3, 4);
	CHECK(d.rc >= 0 && d.done && d.outlen == 10, "hex size A, trailers");
	DEC("0000000000000003\r\nabc\r\n0\r\n\r\n", 0, 16);
	CHECK(d.rc >= 0 && d.done && d.outlen == 3, "16 hex digits allowed");
	DEC("3\r\nab", 0, 16);
	CHECK(d.rc >= 0 && !d.done && d.outlen == 2 && d.consumed == 5,
	    "partial body: not done, all consumed");

	DEC("3\r\nabcX\r\n0\r\n\r\n", 0, 16);
	CHECK_INT(d.rc, -1, "missing CRLF after data: -1");
	DEC("3\r\nabc\rX", 0, 16);
	CHECK_INT(d.rc, -1, "CR not followed by LF after data: -1");
	DEC("g\r\n", 0, 16);
	CHECK_INT(d.rc, -1, "non-hex size: -1");
	DEC("\r\n", 0, 16);
	CHECK_INT(d.rc, -1, "empty size: -1");
	DEC("-1\r\n", 0, 16);
	CHECK_INT(d.rc, -1, "negative size: -1");
	DEC("00000000000000001\r\nx\r\n0\r\n\r\n", 0, 16);
	CHECK_INT(d.rc, -1, "17 hex digits: -1");
	DEC("3\rX", 0, 16);
	CHECK_INT(d.rc, -1, "CR not followed by LF after size: -1");
	DEC("3;a\x01\r\n", 0, 16);
	CHECK_INT(d.rc, -1, "control byte in extension: -1");
	DEC("0\r\nX: \x01\r\n\r\n", 0, 16);
	CHECK_INT(d.rc, -1, "control byte in trailer: -1");
	DEC("0\r\nA: b\0c\r\n\r\n", 0, 16);
	CHECK_INT(d.rc, -1, "NUL in trailer: -1");
	DEC("3;a\0b\r\nabc\r\n0\r\n\r\n", 0, 16);
	CHECK_INT(d.rc, -1, "NUL in extension: -1");
	DEC("0\r\nno colon\r\n\r\n", 0, 16);
	CHECK_INT(d.rc, -1, "trailer without a colon: -1");
	DEC("0\r\n: v\r\n\r\n", 0, 16);
	CHECK_INT(d.rc, -1, "trailer with an empty name: -1");
	DEC("3 \t ;a\r\nabc\r\n0\r\n\r\n", 0, 16);
	CHECK(d.rc >= 0 && d.done && d.outlen == 3, "SP and HTAB before ';'");
	DEC("0\r\nX: \x01\r\n\r\n", 0, 16);
	CHECK_INT(d.rc, -1, "control byte in trailer: -1");
	DEC("0\r\n\rX", 0, 16);
	CHECK_INT(d.rc, -1, "CR not followed by LF ending trailers: -1");
	DEC("5z\r\nhello\r\n0\r\n\r\n", 0, 16);
	CHECK_INT(d.rc, -1, "junk after size, no ';' (RFC 9112 7.1.1): -1");
	DEC("0x5\r\nhello\r\n0\r\n\r\n", 0, 16);
	CHECK_INT(d.rc, -1, "size '0x5' is not the last chunk: -1");

	memset(big, 'a', sizeof(big));
	memcpy(big, "1;", 2);
	decode(big, sizeof(big), 0, 16, &d);
	CHECK_INT(d.rc, -2, "extension over MAX_CHUNK_EXT: -2");
	decode(big, sizeof(big), 100, 16, &d);
	CHECK_INT(d.rc, -2, "long extension fed in pieces: -2");
	memcpy(big, "0\r\nX: ", 6);
	decode(big, sizeof(big), 0, 16, &d);
	CHECK_INT(d.rc, -2, "trailers over MAX_CHUNK_EXT: -2");
	/*
	 * "1", then MAX_CHUNK_EXT - 1 bytes of extension counting the ';'
	 * (fine whether or not ';' counts), then MAX_CHUNK_EXT + 1 after the
	 * ';' (too long either way).
	 */
	memset(big, 'a', sizeof(big));
	memcpy(big, "1;", 2);
	memcpy(big + MAX_CHUNK_EXT, "\r\nx\r\n0\r\n\r\n", 10);
	decode(big, MAX_CHUNK_EXT + 10, 0, 16, &d);
	CHECK(d.rc >= 0 && d.done, "extension just under MAX_CHUNK_EXT");
	memset(big, 'a', sizeof(big));
	memcpy(big, "1;", 2);
	memcpy(big + 3 + MAX_CHUNK_EXT, "\r\nx\r\n0\r\n\r\n", 10);
	decode(big, 3 + MAX_CHUNK_EXT + 10, 0, 16, &d);
	CHECK_INT(d.rc, -2, "extension of MAX_CHUNK_EXT + 1 bytes after ';': "
	    "-2");
	memset(big, 'a', sizeof(big));
	memcpy(big, "0\r\nX:", 5);
	memcpy(big + 3 + MAX_CHUNK_EXT - 3, "\r\n\r\n", 4);
	decode(big, MAX_CHUNK_EXT + 4, 0, 16, &d);
	CHECK(d.rc >= 0 && d.done, "trailers just under MAX_CHUNK_EXT");

	DEC("FFFFFFFFFFFFFFFF\r\nabcdef", 0, 16);
	CHECK(d.rc >= 0 && !d.done && d.outlen == 6, "huge chunk size "
	    "streams");
}

/* ---- status table --------------------------------------------------- */

static void
test_status(void)
{
	size_t i, n = http_status_count();
	int sorted = 1, known = 1;

	CHECK(n > 30, "status table has entries");
	for (i = 1; i < n; i++)
		if (http_status_at(i - 1) >= http_status_at(i))
			sorted = 0;
	CHECK(sorted, "status codes strictly increasing (bsearch)");
	for (i = 0; i < n; i++)
		if (strcmp(http_reason(http_status_at(i)), "Unknown") == 0 ||
		    http_status_at(i) < 100 || http_status_at(i) > 599)
			known = 0;
	CHECK(known, "every table entry is found and in 100..599");
	CHECK_STR(http_reason(200), "OK", "reason 200");
	CHECK_STR(http_reason(404), "Not Found", "reason 404");
	CHECK_STR(http_reason(431), "Request Header Fields Too Large",
	    "reason 431");
	CHECK_STR(http_reason(505), "HTTP Version Not Supported",
	    "reason 505");
	CHECK_STR(http_reason(299), "Unknown", "unknown code");
	CHECK_STR(http_reason(-1), "Unknown", "negative code");
	CHECK(http_method_known("GET") && http_method_known("OPTIONS") &&
	    !http_method_known("get") && !http_method_known("GETX") &&
	    !http_method_known(""), "http_method_known");
}

int
main(void)
{
	test_parse_valid();
	test_parse_errors();
	guarded_free(P.buf, P.len);
	test_head_end();
	test_normalize();
	test_chunked();
	test_status();
	return unit_done();
}
