/*
 * test_cgi.c - src/cgi.c: the end of a script's header block (LF and
 * CRLF, split across reads), the block's fields parsed with the server's
 * rules (Status, Content-Type, Location, Content-Length; fields the
 * server owns dropped; folding, bare lines, control bytes, bad codes
 * refused), each against a guard page; and the HTTP_ variable a request
 * header becomes (Proxy, credentials checked by the server and names
 * with '_' never do).
 */
#include <fcntl.h>

#include "internal.h"
#include "unit.h"

static struct arena A;
static struct conn C;
static struct ih_request R;

static void
start(void)
{
	int in, out;

	if (C.ibuf != NULL)
		conn_free(&C);
	arena_reset(&A);
	memset(&R, 0, sizeof(R));
	if ((in = open("/dev/null", O_RDONLY)) == -1 ||
	    (out = open("/dev/null", O_WRONLY)) == -1 ||
	    conn_init(&C, in, out) == -1) {
		perror("start");
		abort();
	}
	R.c = &C;
	R.a = &A;
	R.hd.query = "";
	R.status = 200;
}

/* Parse block (its length, blank line included, found first); the
 * bytes sit against a guard page. */
static int
parse(const char *block, struct cgi_head *h, const char **why)
{
	size_t n = strlen(block), end;
	char *g = guarded_copy(block, n);

	start();
	*why = NULL;
	end = cgi_head_end(g, n, 0);
	if (end == 0) {
		*why = "(no end)";
		return -2;
	}
	return cgi_head_parse(&R, "/t", g, end, h, why);
}

/* The handler headers R holds now, for comparing. */
static const char *
rh(void)
{
	return R.rhlen > 0 ? arena_strndup(&A, R.rh, R.rhlen) : "";
}

static void
test_end(void)
{
	CHECK_INT(cgi_head_end("A: b\n\nbody", 10, 0), 6, "LF block: ends "
	    "after the blank line");
	CHECK_INT(cgi_head_end("A: b\r\n\r\nbody", 12, 0), 8, "CRLF block");
	CHECK_INT(cgi_head_end("A: b\r\n\nbody", 11, 0), 7, "CRLF then LF");
	CHECK_INT(cgi_head_end("A: b\n\r\nx", 8, 0), 7, "LF then CRLF");
	CHECK_INT(cgi_head_end("A: b\r\n", 6, 0), 0, "incomplete: 0");
	CHECK_INT(cgi_head_end("A: b\n", 5, 0), 0, "one line: 0");
	CHECK_INT(cgi_head_end("A: b\n\r", 6, 0), 0, "CR of the blank line "
	    "only: 0");
	/* the blank line completed by a later read: scanning from old-2 */
	CHECK_INT(cgi_head_end("A: b\r\n\r\n", 8, 4), 8, "split: found from "
	    "two before the old end");
	CHECK_INT(cgi_head_end("A: b\n\n", 6, 4), 6, "split LF: found");
}

static void
test_parse(void)
{
	struct cgi_head h;
	const char *why;

	CHECK_INT(parse("Content-Type: text/plain\n\n", &h, &why), 0,
	    "Content-Type alone: ok");
	CHECK_STR(R.ctype, "text/plain", "...the type is set");
	CHECK(h.status == 0 && h.location == NULL && h.clen == -1,
	    "...no Status, Location or length");
	CHECK_INT(parse("Status: 404 Not Found\r\nContent-Type: text/html\r\n"
	    "\r\n", &h, &why), 0, "Status with a reason, CRLF: ok");
	CHECK_INT(h.status, 404, "...status 404");
	CHECK_INT(parse("Status: 201\n\n", &h, &why), 0, "Status without a "
	    "reason: ok");
	CHECK_INT(h.status, 201, "...201");
	CHECK_INT(parse("Location: /a/b?c=d\n\n", &h, &why), 0, "Location "
	    "alone: ok");
	CHECK_STR(h.location, "/a/b?c=d", "...kept as given");
	CHECK_INT(parse("Content-Length: 12\nContent-Type: a/b\n\n", &h,
	    &why), 0, "Content-Length: ok");
	CHECK_INT(h.clen, 12, "...12");
	CHECK_INT(parse("Content-Length: 12\nContent-Length: 12\n\n", &h,
	    &why), 0, "Content-Length twice, same value: ok");
	CHECK_INT(parse("X-A: 1\nSet-Cookie: a=1\nSet-Cookie: b=2\n\n", &h,
	    &why), 0, "other fields: ok");
	CHECK_STR(rh(), "X-A: 1\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n",
	    "...passed on in order, Set-Cookie twice");
	CHECK_INT(parse("Content-Type: a/b\nConnection: close\n"
	    "Transfer-Encoding: chunked\nDate: x\nServer: y\nKeep-Alive: 1\n"
	    "Upgrade: h2c\nTrailer: X\n\n", &h, &why), 0, "fields the server "
	    "owns: ok");
	CHECK_STR(rh(), "", "...all dropped");
	CHECK_INT(parse("X-A:   padded  \t\n\n", &h, &why), 0, "value "
	    "padding: ok");
	CHECK_STR(rh(), "X-A: padded\r\n", "...trimmed both sides");

	CHECK_INT(parse("hello world\n\n", &h, &why), -1, "a line without "
	    "':': refused");
	CHECK_INT(parse(": v\n\n", &h, &why), -1, "an empty name: refused");
	CHECK_INT(parse("X A: v\n\n", &h, &why), -1, "a space in the name: "
	    "refused");
	CHECK_INT(parse("X-A: v\n continued\n\n", &h, &why), -1, "obs-fold: "
	    "refused");
	CHECK_INT(parse("X-A: a\001b\n\n", &h, &why), -1, "a control byte: "
	    "refused");
	CHECK_INT(parse("X-A: a\rb\n\n", &h, &why), -1, "a bare CR inside: "
	    "refused");
	CHECK_INT(parse("Status: 99\n\n", &h, &why), -1, "Status of two "
	    "digits: refused");
	CHECK_INT(parse("Status: 100 Continue\n\n", &h, &why), -1,
	    "Status 1xx: refused");
	CHECK_INT(parse("Status: 600\n\n", &h, &why), -1, "Status 600: "
	    "refused");
	CHECK_INT(parse("Status: 2000\n\n", &h, &why), -1, "Status of four "
	    "digits: refused");
	CHECK_INT(parse("Status: 200\nStatus: 404\n\n", &h, &why), -1,
	    "Status twice: refused");
	CHECK_INT(parse("Status: abc\n\n", &h, &why), -1, "Status not a "
	    "number: refused");
	CHECK_INT(parse("Content-Length: -1\n\n", &h, &why), -1, "negative "
	    "Content-Length: refused");
	CHECK_INT(parse("Content-Length: 1 2\n\n", &h, &why), -1,
	    "Content-Length with a space: refused");
	CHECK_INT(parse("Content-Length: 1\nContent-Length: 2\n\n", &h,
	    &why), -1, "conflicting Content-Length: refused");
	CHECK_INT(parse("Content-Length: 99999999999999999999\n\n", &h,
	    &why), -1, "Content-Length past range: refused");
	CHECK_INT(parse("Location:\n\n", &h, &why), -1, "empty Location: "
	    "refused");
	CHECK_INT(parse("Location: /a\nLocation: /b\n\n", &h, &why), -1,
	    "Location twice: refused");
	CHECK_INT(parse("Content-Type:\n\n", &h, &why), -1, "empty "
	    "Content-Type: refused");
	CHECK_INT(parse("\n\n", &h, &why), -1, "an empty block: refused");
	CHECK(why != NULL && *why != '\0', "...with a reason: %s",
	    why != NULL ? why : "(none)");
	{
		/* A NUL inside the block: counted by length, refused. */
		static const char b[] = "X-A: a\0b\n\n";
		char *g = guarded_copy(b, sizeof(b) - 1);

		start();
		CHECK_INT(cgi_head_parse(&R, "/t", g, cgi_head_end(g,
		    sizeof(b) - 1, 0), &h, &why), -1, "a NUL byte: refused");
	}
}

static void
test_vars(void)
{
	start();
	CHECK_STR(cgi_http_var(&R, "X-Foo-Bar"), "HTTP_X_FOO_BAR", "X-Foo-Bar "
	    "becomes HTTP_X_FOO_BAR");
	CHECK_STR(cgi_http_var(&R, "user-agent"), "HTTP_USER_AGENT",
	    "lower case is upper-cased");
	CHECK(cgi_http_var(&R, "Proxy") == NULL, "Proxy: never (httpoxy)");
	CHECK(cgi_http_var(&R, "proxy") == NULL, "...in any case");
	CHECK(cgi_http_var(&R, "Content-Type") == NULL &&
	    cgi_http_var(&R, "Content-Length") == NULL, "Content-Type and "
	    "-Length: their own variables only");
	CHECK(cgi_http_var(&R, "X_Foo") == NULL, "a name with '_': never (it "
	    "would pose as X-Foo)");
	CHECK(cgi_http_var(&R, "X.Foo") == NULL && cgi_http_var(&R, "X!") ==
	    NULL, "other token bytes: never");
	CHECK_STR(cgi_http_var(&R, "Authorization"), "HTTP_AUTHORIZATION",
	    "Authorization the server did not check: passed");
	R.auth_type = "Basic";
	CHECK(cgi_http_var(&R, "Authorization") == NULL, "Authorization the "
	    "server checked: never");
}

int
main(void)
{
	memset(&cfg, 0, sizeof(cfg));
	cfg.max_header_size = 16384;
	cfg.keepalive_requests = 100;
	cfg.log_level = 0;
	test_end();
	test_parse();
	test_vars();
	conn_free(&C);
	arena_reset(&A);
	free(A.head);
	return unit_done();
}
