/*
 * test_form.c - src/form.c: urlencoded decoding and parsing (every input
 * from a guarded copy, so a read past the given length faults),
 * form_boundary, the streaming multipart reader driven through a request
 * built by hand (the body whole in the connection buffer, or trickled
 * through a pipe into a tiny buffer so every fill is short), and
 * ih_parse_body on top of it: parameters, spooled uploads, limits, and
 * body parameters kept apart from the CGI-style variables.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>

#include "internal.h"
#include "unit.h"

#define BND	"XyZzy"
#define CT	"multipart/form-data; boundary=" BND
#define DL	"\r\n--" BND		/* the delimiter */
#define CD	"Content-Disposition: form-data; "
#define MPBUF	32768			/* form.c's stream buffer */

static char datadir[] = "/tmp/ihttpd-test-form.XXXXXX";
static struct arena A;

/* ---- form_urldecode ---------------------------------------------------- */

/* Decode s (len bytes, guarded: no NUL after it). */
static int
dec(const char *s, size_t len, char **out)
{
	char *g = guarded_copy(s, len);
	int rc = form_urldecode(&A, g, len, out);

	guarded_free(g, len);
	return rc;
}

static void
test_urldecode(void)
{
	char *o;

	CHECK(dec("a+b%20c", 7, &o) == 0 && strcmp(o, "a b c") == 0,
	    "urldecode: '+' and %%20 are spaces");
	CHECK(dec("%41%62%2B%2b", 12, &o) == 0 && strcmp(o, "Ab++") == 0,
	    "urldecode: %%XX in either case");
	CHECK(dec("%e2%82%AC", 9, &o) == 0 && strcmp(o, "\xe2\x82\xac") == 0,
	    "urldecode: UTF-8 bytes");
	CHECK(dec("", 0, &o) == 0 && strcmp(o, "") == 0, "urldecode: empty");
	CHECK(dec("plain", 5, &o) == 0 && strcmp(o, "plain") == 0,
	    "urldecode: no escapes");
	CHECK(dec("%00x%01", 7, &o) == 0 && o[0] == '\0' && o[1] == 'x' &&
	    o[2] == '\x01' && o[3] == '\0', "urldecode: %%00 and %%01 allowed");
	CHECK_INT(dec("%zz", 3, &o), 400, "urldecode: %%zz is 400");
	CHECK_INT(dec("%4g", 3, &o), 400, "urldecode: %%4g is 400");
	CHECK_INT(dec("%4", 2, &o), 400, "urldecode: %%4 at the end is 400");
	CHECK_INT(dec("%", 1, &o), 400, "urldecode: lone %% is 400");
	CHECK_INT(dec("abc%", 4, &o), 400, "urldecode: trailing %% is 400");
	CHECK_INT(dec("%%41", 4, &o), 400, "urldecode: %%%%41 is 400");
	CHECK_INT(dec("%41", 2, &o), 400,
	    "urldecode: %%4 of \"%%41\" cut at n=2 is 400 (n is honoured)");
	arena_reset(&A);
}

/* ---- form_parse_urlencoded --------------------------------------------- */

static struct kvlist KV;

static int
pu(const char *s, size_t len)
{
	char *g = guarded_copy(s, len);
	int rc;

	memset(&KV, 0, sizeof(KV));
	rc = form_parse_urlencoded(&A, &KV, g, len);
	guarded_free(g, len);
	return rc;
}

#define PU(s)	pu(s, sizeof(s) - 1)

static int
kv_is(size_t i, const char *k, const char *v)
{
	return i < KV.n && strcmp(KV.v[i].k, k) == 0 &&
	    strcmp(KV.v[i].v, v) == 0;
}

static void
test_urlencoded(void)
{
	CHECK(PU("a=1&b=2&a=3") == 0 && KV.n == 3 && kv_is(0, "a", "1") &&
	    kv_is(1, "b", "2") && kv_is(2, "a", "3"),
	    "urlencoded: repeated names kept, in order");
	CHECK(PU("a+b=c+d%26e") == 0 && KV.n == 1 && kv_is(0, "a b", "c d&e"),
	    "urlencoded: names and values decoded");
	CHECK(PU("a=") == 0 && KV.n == 1 && kv_is(0, "a", ""),
	    "urlencoded: empty value");
	CHECK(PU("a") == 0 && KV.n == 1 && kv_is(0, "a", ""),
	    "urlencoded: name without '=' has an empty value");
	CHECK(PU("=b") == 0 && KV.n == 1 && kv_is(0, "", "b"),
	    "urlencoded: empty name kept (URL Standard)");
	CHECK(PU("a=b=c") == 0 && KV.n == 1 && kv_is(0, "a", "b=c"),
	    "urlencoded: value split at the first '='");
	CHECK(PU("&&") == 0 && KV.n == 0, "urlencoded: '&&' gives nothing");
	CHECK(pu("", 0) == 0 && KV.n == 0, "urlencoded: empty input");
	CHECK(PU("&a=1&&b=2&") == 0 && KV.n == 2 && kv_is(0, "a", "1") &&
	    kv_is(1, "b", "2"), "urlencoded: empty pairs skipped");
	CHECK(PU("k=%00%01v") == 0 && KV.n == 1 && KV.v[0].v[0] == '\0' &&
	    KV.v[0].v[1] == '\x01' && KV.v[0].v[2] == 'v',
	    "urlencoded: %%00 allowed in a value (bytes kept)");
	CHECK(PU("a=x\0y&b=2") == 0 && KV.n == 2 && kv_is(1, "b", "2"),
	    "urlencoded: raw NUL does not end the input");
	CHECK_INT(PU("a=%zz"), 400, "urlencoded: bad escape in a value: 400");
	CHECK_INT(PU("%zz=1"), 400, "urlencoded: bad escape in a name: 400");
	CHECK_INT(PU("a=1&b=%4"), 400, "urlencoded: %%4 at the end: 400");
	CHECK_INT(PU("a=%"), 400, "urlencoded: trailing %%: 400");
	CHECK_INT(PU("a%=1"), 400, "urlencoded: %% before '=': 400");
	CHECK_INT(pu("a=%41", 4), 400, "urlencoded: length honoured (a=%%4)");
	arena_reset(&A);
}

/* ---- form_boundary ----------------------------------------------------- */

static void
test_boundary(void)
{
	char ct[256], b70[71], b71[72];

	CHECK_STR(form_boundary(&A, "multipart/form-data; boundary=abc"), "abc",
	    "boundary: unquoted");
	CHECK_STR(form_boundary(&A, "multipart/form-data; boundary=\"a b:c\""),
	    "a b:c", "boundary: quoted, with space and ':'");
	CHECK_STR(form_boundary(&A, "Multipart/Form-Data; BOUNDARY=xyz"), "xyz",
	    "boundary: type and parameter name in any case");
	CHECK_STR(form_boundary(&A,
	    "multipart/form-data; charset=utf-8;boundary=q"), "q",
	    "boundary: after another parameter, no space");
	CHECK_STR(form_boundary(&A,
	    "multipart/form-data; xboundary=1; boundary=2"), "2",
	    "boundary: a longer parameter name does not match");
	CHECK_STR(form_boundary(&A, "multipart/form-data; boundary=abc; x=y"),
	    "abc", "boundary: ends at ';'");
	CHECK(form_boundary(&A, "multipart/form-data") == NULL,
	    "boundary: missing: NULL");
	CHECK(form_boundary(&A, "multipart/form-data; charset=x") == NULL,
	    "boundary: other parameter only: NULL");
	CHECK(form_boundary(&A, "multipart/form-data; boundary=") == NULL,
	    "boundary: empty: NULL");
	CHECK(form_boundary(&A, "multipart/form-data; boundary=\"\"") == NULL,
	    "boundary: empty quoted: NULL");
	CHECK(form_boundary(&A, "multipart/form-data; boundary=\"abc") == NULL,
	    "boundary: unterminated quote: NULL");
	memset(b70, 'b', 70);
	b70[70] = '\0';
	memset(b71, 'b', 71);
	b71[71] = '\0';
	snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%s", b70);
	CHECK_STR(form_boundary(&A, ct), b70, "boundary: 70 chars allowed");
	snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%s", b71);
	CHECK(form_boundary(&A, ct) == NULL, "boundary: 71 chars: NULL");
	snprintf(ct, sizeof(ct), "multipart/form-data; boundary=\"%s\"", b71);
	CHECK(form_boundary(&A, ct) == NULL, "boundary: 71 quoted: NULL");
	CHECK(form_boundary(&A, "multipart/form-data; boundary=\"a\tb\"") ==
	    NULL, "boundary: HTAB: NULL");
	CHECK(form_boundary(&A, "multipart/form-data; boundary=a\x01z") == NULL,
	    "boundary: control byte: NULL");
	CHECK(form_boundary(&A, "multipart/form-data; boundary=a\x7fz") == NULL,
	    "boundary: DEL: NULL");
	CHECK(form_boundary(&A, "multipart/form-data; boundary=a\xc3\xa9") ==
	    NULL, "boundary: non-ASCII: NULL");
	CHECK(form_boundary(&A, "multipart/mixed; boundary=abc") == NULL,
	    "boundary: multipart/mixed: NULL");
	CHECK(form_boundary(&A, "text/plain; boundary=abc") == NULL,
	    "boundary: text/plain: NULL");
	CHECK(form_boundary(&A, NULL) == NULL, "boundary: no type: NULL");
	CHECK(form_boundary(&A, "multipart/form-datax; boundary=abc") == NULL,
	    "boundary: type multipart/form-datax is another type: NULL");
	CHECK_STR(form_boundary(&A,
	    "multipart/form-data; x=\"; boundary=evil\"; boundary=good"), "good",
	    "boundary: a ';' inside a quoted value does not start a parameter");
	arena_reset(&A);
}

/* ---- a request built by hand ------------------------------------------- */

static struct ih_request R;
static struct conn C;
static struct header H[2];
static char *gbody;
static size_t gblen;
static int piped;
static char hn_ct[] = "Content-Type", hv_ct[512], m_post[] = "POST";
static char query[256];

static void
req_end(void)
{
	form_cleanup(&R);
	if (gbody != NULL)
		guarded_free(gbody, gblen);
	gbody = NULL;
	if (piped) {
		close(C.in);
		free(C.ibuf);
		piped = 0;
	}
	memset(&R, 0, sizeof(R));
	memset(&C, 0, sizeof(C));
	arena_reset(&A);
}

static void
req_init(const char *ctype, long long clen)
{
	req_end();
	C.in = C.out = -1;
	strcpy(C.peer, "192.0.2.1");
	R.c = &C;
	R.a = &A;
	R.hd.h = H;
	R.hd.method = m_post;
	R.hd.query = query;
	R.hd.version = 11;
	R.hd.clen = clen;
	R.body_left = clen;
	R.status = 200;
	if (ctype != NULL) {
		snprintf(hv_ct, sizeof(hv_ct), "%s", ctype);
		H[0].name = hn_ct;
		H[0].value = hv_ct;
		R.hd.nh = 1;
	}
}

/* A POST whose whole body is in the connection buffer (guarded). */
static void
req_body(const char *ctype, const char *body, size_t len)
{
	req_init(ctype, (long long)len);
	gbody = guarded_copy(body, len);
	gblen = len;
	C.ibuf = gbody;
	C.icap = C.ilen = len;
	C.eof = 1;
}

/*
 * A POST whose body comes through a pipe into a connection buffer of icap
 * bytes, so that no fill brings more than icap bytes.  clen may claim more
 * than len (a body cut short).
 */
static void
req_pipe(const char *ctype, const char *body, size_t len, size_t icap,
    long long clen)
{
	int p[2];

	req_init(ctype, clen);
	if (len > 60000 || pipe(p) == -1 || write_full(p[1], body, len) !=
	    (ssize_t)len) {
		perror("req_pipe");
		abort();
	}
	close(p[1]);
	C.in = p[0];
	C.ibuf = malloc(icap);
	C.icap = icap;
	piped = 1;
}

/* Append bytes to S, non-printable ones as \xNN. */
static char S[300000];
static size_t slen;

static void
s_add(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && slen + 5 < sizeof(S); i++) {
		unsigned char c = (unsigned char)p[i];

		if (c >= 0x20 && c < 0x7f)
			S[slen++] = (char)c;
		else
			slen += (size_t)snprintf(S + slen, sizeof(S) - slen,
			    "\\x%02x", c);
	}
	S[slen] = '\0';
}

static void
s_str(const char *s)
{
	s_add(s, strlen(s));
}

/*
 * Walk every part with reads of `step` bytes into a buffer of exactly
 * that size (guarded: a write past it faults).  S becomes
 * "name(filename){type}=[data]" per part; returns ih_part_next's final
 * value, or -1 when a read failed.
 */
static int
walk(size_t step)
{
	struct ih_part p;
	char *g = guarded_copy(NULL, step);
	int rc;

	slen = 0;
	S[0] = '\0';
	while ((rc = ih_part_next(&R, &p)) == 1) {
		ssize_t n;

		s_str(p.name);
		if (p.filename != NULL) {
			s_str("(");
			s_str(p.filename);
			s_str(")");
		}
		if (p.type != NULL) {
			s_str("{");
			s_str(p.type);
			s_str("}");
		}
		s_str("=[");
		while ((n = ih_part_read(&R, g, step)) > 0) {
			if ((size_t)n > step) {
				s_str("<OVERLONG READ>");
				break;
			}
			s_add(g, (size_t)n);
		}
		if (n < 0) {
			rc = -1;
			break;
		}
		s_str("]");
	}
	guarded_free(g, step);
	return rc;
}

#define TWO_PARTS							\
	"--" BND "\r\n"							\
	CD "name=\"a\"\r\n\r\n"						\
	"1"								\
	DL "\r\n"							\
	CD "name=\"f\"; filename=\"x.txt\"\r\n"				\
	"Content-Type: text/plain\r\n\r\n"				\
	"hello\r\nworld"						\
	DL "--\r\n"
#define TWO_WANT	"a=[1]f(x.txt){text/plain}=[hello\\x0d\\x0aworld]"

/* Parse body whole (step) and expect rc, S and status. */
static void
mp_case(const char *body, size_t len, size_t step, int want_rc,
    const char *want, int want_status, const char *what)
{
	int rc;

	req_body(CT, body, len);
	rc = walk(step);
	if (!CHECK(rc == want_rc && (want == NULL || strcmp(S, want) == 0) &&
	    R.status == want_status, "multipart: %s", what))
		printf("#   rc %d status %d S \"%s\"\n", rc, R.status, S);
}

#define MP(body, step, rc, want, st, what)				\
	mp_case(body, sizeof(body) - 1, step, rc, want, st, what)

static void
test_multipart_basic(void)
{
	static const size_t steps[] = { 1, 2, 3, 7, 64, 4096, 100000 };
	static const size_t caps[] = { 1, 2, 3, 5, 13, 64, 1024 };
	struct ih_part p;
	char buf[16];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		char what[64];

		snprintf(what, sizeof(what), "two parts, reads of %zu", steps[i]);
		MP(TWO_PARTS, steps[i], 0, TWO_WANT, 200, what);
	}
	CHECK(ih_part_next(&R, &p) == 0, "multipart: after the end, next: 0");
	CHECK(ih_part_read(&R, buf, sizeof(buf)) == 0,
	    "multipart: after the end, read: 0");

	/* Every fill short: the body trickles into a tiny buffer. */
	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		req_pipe(CT, TWO_PARTS, sizeof(TWO_PARTS) - 1, caps[i],
		    sizeof(TWO_PARTS) - 1);
		rc = walk(caps[i] + 1);
		if (!CHECK(rc == 0 && strcmp(S, TWO_WANT) == 0 && R.status ==
		    200, "multipart: two parts, fills of %zu bytes", caps[i]))
			printf("#   rc %d status %d S \"%s\"\n", rc, R.status, S);
	}

	/* Skipping a part unread: ih_part_next drains it. */
	req_body(CT, TWO_PARTS, sizeof(TWO_PARTS) - 1);
	CHECK(ih_part_next(&R, &p) == 1 && strcmp(p.name, "a") == 0 &&
	    ih_part_next(&R, &p) == 1 && strcmp(p.name, "f") == 0 &&
	    ih_part_read(&R, buf, 3) == 3 && memcmp(buf, "hel", 3) == 0 &&
	    ih_part_next(&R, &p) == 0, "multipart: unread parts are skipped");

	MP("--" BND "\r\n" CD "name=\"bin\"\r\n\r\n" "\0\r\0\n\r\r\n\xff-" DL
	    "--", 1, 0, "bin=[\\x00\\x0d\\x00\\x0a\\x0d\\x0d\\x0a\\xff-]", 200,
	    "binary data with NUL, CR and LF kept exactly");
	MP("--" BND "\r\n" CD "name=\"e\"\r\n\r\n" DL "--", 5, 0, "e=[]", 200,
	    "empty part data");
	MP("--" BND "\r\n" "content-disposition: FORM-DATA; NAME=\"a\"\r\n"
	    "CONTENT-TYPE: x/y\r\n\r\nv" DL "--", 64, 0, "a{x/y}=[v]", 200,
	    "header and parameter names in any case");
	MP("--" BND "\r\n" CD "name=a\r\n\r\nv" DL "--", 64, 0, "a=[v]", 200,
	    "unquoted name");
	MP("--" BND "\r\n" CD "name=\"a%22b\"\r\n\r\nv" DL "--", 64, 0,
	    "a%22b=[v]", 200, "percent-encoded quote in a name kept as sent");
	MP("--" BND "\r\n" CD "name=\"a\"\r\nX-Other: 1\r\n\r\nv" DL "--", 64,
	    0, "a=[v]", 200, "unknown part headers ignored");
	MP("--" BND "\r\n" CD "filename=\"a; name=evil\"; name=\"real\"\r\n\r\n"
	    "v" DL "--", 64, 0, "real(a; name=evil)=[v]", 200,
	    "a ';' inside a quoted filename does not start a parameter");

	/* Not multipart at all, or no boundary. */
	req_body("text/plain", "x", 1);
	CHECK(ih_part_next(&R, &p) == -1 && R.status == 415,
	    "multipart: text/plain: -1, 415");
	req_body("multipart/form-data", "x", 1);
	CHECK(ih_part_next(&R, &p) == -1 && R.status == 400,
	    "multipart: no boundary: -1, 400");
	req_body(NULL, "x", 1);
	CHECK(ih_part_next(&R, &p) == -1 && R.status == 415,
	    "multipart: no Content-Type: -1, 415");
	req_body(CT, "", 0);
	CHECK(ih_part_read(&R, buf, sizeof(buf)) == 0,
	    "multipart: read before any part: 0");
}

static void
test_multipart_delims(void)
{
	/* Prefixes of the delimiter inside data are data. */
	MP("--" BND "\r\n" CD "name=\"d\"\r\n\r\n"
	    "<\r\n--XyZz!\r\n--Xy\r\n\r\n---XyZzy--XyZzy\r\n-->"
	    DL "--", 1, 0,
	    "d=[<\\x0d\\x0a--XyZz!\\x0d\\x0a--Xy\\x0d\\x0a\\x0d\\x0a---XyZzy"
	    "--XyZzy\\x0d\\x0a-->]", 200,
	    "delimiter prefixes and '--BND' without CRLF inside data");
	MP("--" BND "\r\n" CD "name=\"d\"\r\n\r\n" "a\r\n--XyZz" DL "--",
	    3, 0, "d=[a\\x0d\\x0a--XyZz]", 200,
	    "data ending in a delimiter prefix right before the delimiter");
	MP("--" BND "\r\n" CD "name=\"d\"\r\n\r\n" "a\r\r\n" DL "--",
	    2, 0, "d=[a\\x0d\\x0d\\x0a]", 200,
	    "data ending in CR CR LF before the delimiter");
	/* The whole delimiter followed by other bytes starts a line that is
	 * not a delimiter line (RFC 2046 5.1.1: sender's error): refused. */
	MP("--" BND "\r\n" CD "name=\"d\"\r\n\r\n" "a" DL "Z\r\nmore" DL "--",
	    64, -1, NULL, 400, "full delimiter then other bytes: 400");

	/* Preamble and epilogue. */
	MP("This is the preamble.\r\nIt has --" BND " in it.\r\n" TWO_PARTS,
	    7, 0, TWO_WANT, 200, "preamble before the first delimiter");
	MP("\r\n" TWO_PARTS, 7, 0, TWO_WANT, 200, "CRLF before the first "
	    "delimiter");
	MP("--" BND "\r\n" CD "name=\"a\"\r\n\r\n1" DL "--\r\nThe epilogue."
	    DL "\r\n" CD "name=\"ghost\"\r\n\r\nx" DL "--\r\n", 5, 0, "a=[1]",
	    200, "epilogue after the last delimiter, even one with a part in "
	    "it, is ignored");
	MP("--" BND "--\r\n", 5, 0, "", 200, "no parts at all: 0");
	/* RFC 2046 5.1.1: receivers MUST handle transport padding. */
	MP("--" BND " \t\r\n" CD "name=\"a\"\r\n\r\n1" DL "  \r\n" CD
	    "name=\"b\"\r\n\r\n2" DL "-- \r\n", 5, 0, "a=[1]b=[2]", 200,
	    "transport padding (blanks) after delimiters");

	/* Cut short. */
	MP("--" BND "\r\n" CD "name=\"a\"\r\n\r\nvalue", 1, -1, NULL, 400,
	    "no delimiter after the data: -1, 400");
	MP("--" BND "\r\n" CD "name=\"a\"\r\n\r\nvalue" DL, 64, -1, NULL, 400,
	    "final delimiter without '--': -1, 400");
	MP("--" BND "\r\n" CD "name=\"a\"\r\n\r\nvalue" DL "-", 64, -1, NULL,
	    400, "final delimiter with one '-': -1, 400");
	MP("--" BND "\r\n" CD "name=\"a\"\r\n\r\nvalue" DL "\r\n", 64, -1,
	    NULL, 400, "delimiter then nothing: -1, 400");
	MP("--" BND "\r\n" CD "name=\"a\"\r\n", 64, -1, NULL, 400,
	    "headers cut short: -1, 400");
	MP("--" BND, 64, -1, NULL, 400, "only the first delimiter: -1, 400");
	MP("", 64, -1, NULL, 400, "empty body: -1, 400");
	MP("no boundary here at all\r\n", 64, -1, NULL, 400,
	    "no delimiter: -1, 400");
	MP("--" BND "X\r\n" CD "name=\"a\"\r\n\r\n1" DL "--", 64, -1, NULL,
	    400, "first delimiter followed by other bytes: -1, 400");

	/* Bad part headers. */
	MP("--" BND "\r\n" CD "filename=\"x\"\r\n\r\nv" DL "--", 64, -1, NULL,
	    400, "Content-Disposition without name: 400");
	MP("--" BND "\r\n" "Content-Type: text/plain\r\n\r\nv" DL "--", 64, -1,
	    NULL, 400, "no Content-Disposition: 400");
	MP("--" BND "\r\n" "Content-Disposition: attachment; name=\"a\"\r\n\r\n"
	    "v" DL "--", 64, -1, NULL, 400, "disposition not form-data: 400");
	MP("--" BND "\r\n" "no colon here\r\n\r\nv" DL "--", 64, -1, NULL, 400,
	    "header line without ':': 400");
	MP("--" BND "\r\n\r\nv" DL "--", 64, -1, NULL, 400,
	    "part without headers: 400");

	/* File names are labels: the base name only. */
	MP("--" BND "\r\n" CD "name=\"f\"; filename=\"../../etc/passwd\"\r\n\r\n"
	    "v" DL "--", 64, 0, "f(passwd)=[v]", 200, "filename ../../etc/passwd: "
	    "base name");
	MP("--" BND "\r\n" CD "name=\"f\"; filename=\"/abs/dir/a.txt\"\r\n\r\n"
	    "v" DL "--", 64, 0, "f(a.txt)=[v]", 200, "absolute filename: base "
	    "name");
	MP("--" BND "\r\n" CD "name=\"f\"; filename=\"C:\\Users\\x\\b.txt\"\r\n"
	    "\r\nv" DL "--", 64, 0, "f(b.txt)=[v]", 200, "Windows path "
	    "(backslashes as sent, RFC 7578 4.2): base name");
	MP("--" BND "\r\n" CD "name=\"f\"; filename=\"a\\b/c\\d\"\r\n\r\nv"
	    DL "--", 64, 0, "f(d)=[v]", 200, "mixed separators: after the last");
	MP("--" BND "\r\n" CD "name=\"f\"; filename=a/b/c\r\n\r\nv" DL "--", 64,
	    0, "f(c)=[v]", 200, "unquoted filename with a path: base name");
	MP("--" BND "\r\n" CD "name=\"f\"; filename=\"\"\r\n\r\nv" DL "--", 64,
	    0, "f()=[v]", 200, "empty filename kept as empty (a file part)");
}

/* Preamble and header-size limits. */
static void
test_multipart_limits(void)
{
	char *body = malloc(70000);
	size_t n;
	int rc;

	n = 0;
	memset(body, 'p', 10000);
	n += 10000;
	n += (size_t)sprintf(body + n, DL "\r\n" CD "name=\"a\"\r\n\r\n1" DL
	    "--");
	mp_case(body, n, 64, 0, "a=[1]", 200, "10000-byte preamble accepted");
	memset(body, 'p', 40000);
	n = 40000;
	n += (size_t)sprintf(body + n, DL "\r\n" CD "name=\"a\"\r\n\r\n1" DL
	    "--");
	mp_case(body, n, 64, -1, NULL, 400, "40000-byte preamble: 400");
	req_pipe(CT, body, n, 512, (long long)n);
	rc = walk(64);
	CHECK(rc == -1 && R.status == 400,
	    "multipart: 40000-byte preamble through short fills: 400");

	/* A part header block of ~10000 bytes: whole or trickled, the same. */
	n = (size_t)sprintf(body, "--" BND "\r\n" CD "name=\"a\"\r\nX-Pad: ");
	memset(body + n, 'x', 10000);
	n += 10000;
	n += (size_t)sprintf(body + n, "\r\n\r\nv" DL "--");
	req_pipe(CT, body, n, 256, (long long)n);
	rc = walk(64);
	CHECK(rc == -1 && R.status == 400,
	    "multipart: 10000-byte part header block through short fills: 400");
	mp_case(body, n, 64, -1, NULL, 400,
	    "10000-byte part header block in one buffer: 400 as well");

	/* max_parts: the part past it is refused with 413 (issue 8, 11). */
	cfg.max_parts = 3;
	n = (size_t)sprintf(body, "--" BND "\r\n" CD "name=\"a\"\r\n\r\n1"
	    DL "\r\n" CD "name=\"b\"\r\n\r\n2" DL "\r\n" CD "name=\"c\"\r\n"
	    "\r\n3" DL "--");
	mp_case(body, n, 64, 0, "a=[1]b=[2]c=[3]", 200,
	    "max_parts 3: three parts pass");
	n = (size_t)sprintf(body, "--" BND "\r\n" CD "name=\"a\"\r\n\r\n1"
	    DL "\r\n" CD "name=\"b\"\r\n\r\n2" DL "\r\n" CD "name=\"c\"\r\n"
	    "\r\n3" DL "\r\n" CD "name=\"d\"\r\n\r\n4" DL "--");
	mp_case(body, n, 64, -1, NULL, 413, "max_parts 3: a fourth part: 413");
	cfg.max_parts = 1000;
	free(body);
}

/*
 * Parts around the stream buffer's size, so that delimiters and their
 * prefixes straddle a refill.  The data ends in a delimiter prefix.
 */
static void
test_multipart_straddle(void)
{
	static const char head[] = "--" BND "\r\n" CD "name=\"big\"\r\n\r\n";
	size_t hl = sizeof(head) - 1, total, L, bad = 0, tried = 0;
	char *body = malloc(2 * MPBUF + 4096), *data = malloc(2 * MPBUF);
	char *got = malloc(2 * MPBUF + 16), step[4096];

	for (L = 0; L < 2 * MPBUF; L++)
		data[L] = (char)('a' + L % 26);
	for (L = MPBUF - hl - 90; L < MPBUF - hl + 20; L++) {
		size_t gl = 0, k;
		struct ih_part p;
		ssize_t n;
		int rc;

		tried++;
		memcpy(data + L - 8, "\r\n--XyZz", 8);	/* a prefix at the end */
		memcpy(body, head, hl);
		memcpy(body + hl, data, L);
		total = hl + L;
		memcpy(body + total, DL "\r\n" CD "name=\"z\"\r\n\r\nZ" DL "--",
		    sizeof(DL "\r\n" CD "name=\"z\"\r\n\r\nZ" DL "--") - 1);
		total += sizeof(DL "\r\n" CD "name=\"z\"\r\n\r\nZ" DL "--") - 1;
		req_body(CT, body, total);
		rc = ih_part_next(&R, &p);
		k = 1 + L % 4000;
		while (rc == 1 && (n = ih_part_read(&R, step, k)) > 0) {
			memcpy(got + gl, step, (size_t)n);
			gl += (size_t)n;
		}
		if (rc != 1 || gl != L || memcmp(got, data, L) != 0 ||
		    ih_part_next(&R, &p) != 1 || strcmp(p.name, "z") != 0 ||
		    ih_part_read(&R, step, 10) != 1 || ih_part_next(&R, &p) !=
		    0) {
			if (bad++ == 0)
				printf("#   first failure at data length %zu "
				    "(got %zu)\n", L, gl);
		}
		for (k = L - 8; k < L; k++)
			data[k] = (char)('a' + k % 26);
	}
	CHECK(bad == 0, "multipart: %zu part sizes around the %d-byte buffer "
	    "(delimiter straddling a refill): all exact", tried, MPBUF);

	/* A part far larger than the buffer, trickled in odd-sized reads. */
	memset(body, 0, 1);
	total = (size_t)sprintf(body, "--" BND "\r\n" CD "name=\"big\"\r\n\r\n");
	for (L = 0; L < 2 * MPBUF; L++)
		data[L] = (char)(L % 7 == 0 ? '\r' : L % 11 == 0 ? '\n' :
		    L % 13 == 0 ? '-' : 'q');
	memcpy(body + total, data, 2 * MPBUF);
	total += 2 * MPBUF;
	memcpy(body + total, DL "--", sizeof(DL "--") - 1);
	total += sizeof(DL "--") - 1;
	{
		struct ih_part p;
		size_t gl = 0;
		ssize_t n;

		req_body(CT, body, total);
		CHECK(ih_part_next(&R, &p) == 1, "multipart: 64 KiB part starts");
		while ((n = ih_part_read(&R, step, 999)) > 0) {
			memcpy(got + gl, step, (size_t)n);
			gl += (size_t)n;
		}
		CHECK(n == 0 && gl == 2 * MPBUF && memcmp(got, data, gl) == 0,
		    "multipart: 64 KiB of CR/LF/'-'-laden data exact");
		CHECK_INT(ih_part_next(&R, &p), 0, "multipart: then the end");
	}
	free(got);
	free(data);
	free(body);
}

/* A body that ends before its Content-Length: 400 from the transport. */
static void
test_multipart_transport(void)
{
	static const char part[] = "--" BND "\r\n" CD "name=\"a\"\r\n\r\n12345";
	int rc;

	req_pipe(CT, part, sizeof(part) - 1, 16, sizeof(part) - 1 + 100);
	rc = walk(4);
	CHECK(rc == -1 && R.status == 400 && C.closing,
	    "multipart: connection closes mid-part: -1, 400, closing");
}

/* ---- ih_parse_body ----------------------------------------------------- */

static int
dir_entries(const char *path, const char *except)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") !=
		    0 && (except == NULL || strcmp(de->d_name, except) != 0))
			n++;
	closedir(d);
	return n;
}

/* Named entries in the spool (datadir/uploads) and beside it. */
static int
datadir_entries(void)
{
	char up[sizeof(datadir) + 16];

	fmt(up, sizeof(up), "%s/uploads", datadir);
	return dir_entries(up, NULL) + dir_entries(datadir, "uploads");
}

/* The spooled file behind fd: close-on-exec, unlinked, in the spool. */
static int
spooled_apart(int fd)
{
	char link[64], target[4096], want[sizeof(datadir) + 16];
	ssize_t n;

	fmt(link, sizeof(link), "/proc/self/fd/%d", fd);
	fmt(want, sizeof(want), "%s/uploads/", datadir);
	if ((n = readlink(link, target, sizeof(target) - 1)) == -1)
		return 0;
	target[n] = '\0';
	return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0 &&
	    strncmp(target, want, strlen(want)) == 0 &&
	    strstr(target, "(deleted)") != NULL;
}

#define UE	"application/x-www-form-urlencoded"

static void
test_parse_body(void)
{
	static const char mp[] =
	    "--" BND "\r\n" CD "name=\"a\"\r\n\r\n1"
	    DL "\r\n" CD "name=\"f\"; filename=\"dir/x.txt\"\r\n"
	    "Content-Type: text/plain\r\n\r\nhello\0file"
	    DL "\r\n" CD "name=\"a\"\r\n\r\n2"
	    DL "\r\n" CD "name=\"g\"; filename=\"e\"\r\n\r\n"
	    DL "--\r\nepilogue";
	const struct ih_upload *u;
	const char *k;
	char buf[64];
	int fd;

	strcpy(query, "q=1");
	req_body(UE, "user=larry&pw=a%2Bb&q=2", 23);
	CHECK_INT(ih_parse_body(&R), 0, "parse_body: urlencoded: 0");
	CHECK_STR(ih_param(&R, "user"), "larry", "parse_body: user");
	CHECK_STR(ih_param(&R, "pw"), "a+b", "parse_body: pw decoded");
	CHECK(ih_param_at(&R, 0, &k) != NULL && strcmp(k, "q") == 0 &&
	    strcmp(ih_param_at(&R, 0, NULL), "1") == 0 &&
	    strcmp(ih_param_at(&R, 3, &k), "2") == 0 && strcmp(k, "q") == 0 &&
	    ih_param_at(&R, 4, NULL) == NULL,
	    "parse_body: query parameters first, then the body's, in order");
	CHECK(R.body_done, "parse_body: body read to its end");
	CHECK_INT(ih_parse_body(&R), 0, "parse_body: a second call: same 0");

	query[0] = '\0';
	req_body(UE, "REMOTE_USER=evil&AUTH_TYPE=x&REMOTE_ADDR=1", 42);
	CHECK_STR(ih_param(&R, "REMOTE_USER"), "evil",
	    "parse_body: ih_param parses the body on first use");
	CHECK(ih_var(&R, "REMOTE_USER") == NULL && ih_var(&R, "AUTH_TYPE") ==
	    NULL && strcmp(ih_var(&R, "REMOTE_ADDR"), "192.0.2.1") == 0,
	    "parse_body: body parameters never touch the CGI variables");

	req_body(UE, "a=%zz", 5);
	CHECK(ih_parse_body(&R) == 400 && R.status == 400,
	    "parse_body: bad escape in the body: 400");
	CHECK_INT(ih_parse_body(&R), 400, "parse_body: remembered: 400");
	req_body(UE, "a=%zz", 5);
	CHECK(ih_param(&R, "a") == NULL && R.status == 200,
	    "parse_body: ih_param ignores the error (status untouched)");
	strcpy(query, "x=%4");
	req_body(UE, "a=1", 3);
	CHECK_INT(ih_parse_body(&R), 400, "parse_body: bad escape in the "
	    "query: 400");
	query[0] = '\0';
	cfg.max_form = 16;
	req_body(UE, "a=0123456789abcdef", 18);
	CHECK_INT(ih_parse_body(&R), 413, "parse_body: Content-Length over "
	    "max_form: 413");
	req_body(UE, "a=0123456789abcd", 16);
	CHECK_INT(ih_parse_body(&R), 0, "parse_body: exactly max_form: 0");
	cfg.max_form = 1024 * 1024;
	req_body("text/plain", "a=1", 3);
	CHECK_INT(ih_parse_body(&R), 415, "parse_body: text/plain body: 415");
	req_body(NULL, "a=1", 3);
	CHECK_INT(ih_parse_body(&R), 415, "parse_body: body without a type: "
	    "415");
	req_body(NULL, "", 0);
	CHECK_INT(ih_parse_body(&R), 0, "parse_body: no body: 0");
	req_body("text/plain", "", 0);
	CHECK_INT(ih_parse_body(&R), 0, "parse_body: empty body of any type: 0");

	/* Multipart: fields become parameters, files are spooled. */
	req_body(CT, mp, sizeof(mp) - 1);
	CHECK_INT(ih_parse_body(&R), 0, "parse_body: multipart: 0");
	CHECK(ih_param_at(&R, 0, &k) != NULL && strcmp(k, "a") == 0 &&
	    strcmp(ih_param_at(&R, 0, NULL), "1") == 0 &&
	    strcmp(ih_param_at(&R, 1, &k), "2") == 0 && strcmp(k, "a") == 0 &&
	    ih_param_at(&R, 2, NULL) == NULL,
	    "parse_body: multipart fields are parameters; files are not");
	u = ih_upload_at(&R, 0);
	CHECK(u != NULL && strcmp(u->name, "f") == 0 &&
	    strcmp(u->filename, "x.txt") == 0 && u->type != NULL &&
	    strcmp(u->type, "text/plain") == 0 && u->size == 10,
	    "parse_body: upload 0: name, base file name, type, size");
	fd = u != NULL ? u->fd : -1;
	CHECK(fd != -1 && read(fd, buf, sizeof(buf)) == 10 &&
	    memcmp(buf, "hello\0file", 10) == 0,
	    "parse_body: upload 0 reads from offset 0, bytes exact");
	u = ih_upload_at(&R, 1);
	CHECK(u != NULL && strcmp(u->name, "g") == 0 && u->size == 0 &&
	    u->type == NULL, "parse_body: upload 1: empty file, no type");
	CHECK(ih_upload_at(&R, 2) == NULL, "parse_body: upload 2: NULL");
	CHECK(R.body_done, "parse_body: epilogue drained");
	CHECK_INT(datadir_entries(), 0, "parse_body: spooled files are "
	    "unlinked (datadir/uploads empty)");
	CHECK(spooled_apart(fd), "parse_body: the spooled file is "
	    "close-on-exec, in datadir/uploads, unlinked");
	form_cleanup(&R);
	CHECK(fcntl(fd, F_GETFD) == -1 && errno == EBADF,
	    "form_cleanup closes the spooled files");

	cfg.max_field = 8;
	req_body(CT, "--" BND "\r\n" CD "name=\"a\"\r\n\r\n12345678" DL "--",
	    sizeof("--" BND "\r\n" CD "name=\"a\"\r\n\r\n12345678" DL "--") - 1);
	CHECK_INT(ih_parse_body(&R), 0, "parse_body: field of max_field: 0");
	req_body(CT, "--" BND "\r\n" CD "name=\"a\"\r\n\r\n123456789" DL "--",
	    sizeof("--" BND "\r\n" CD "name=\"a\"\r\n\r\n123456789" DL "--") -
	    1);
	CHECK(ih_parse_body(&R) == 413 && R.status == 413,
	    "parse_body: field over max_field: 413");
	req_body(CT, "--" BND "\r\n" CD "name=\"a\"; filename=\"f\"\r\n\r\n"
	    "123456789" DL "--", sizeof("--" BND "\r\n" CD "name=\"a\"; "
	    "filename=\"f\"\r\n\r\n123456789" DL "--") - 1);
	CHECK(ih_parse_body(&R) == 0 && ih_upload_at(&R, 0) != NULL &&
	    ih_upload_at(&R, 0)->size == 9,
	    "parse_body: max_field does not limit files");
	cfg.max_field = 64 * 1024;

	req_body(CT, "--" BND "\r\n" CD "name=\"a\"\r\n\r\n1" DL,
	    sizeof("--" BND "\r\n" CD "name=\"a\"\r\n\r\n1" DL) - 1);
	CHECK_INT(ih_parse_body(&R), 400, "parse_body: multipart cut short: "
	    "400");
	req_body(CT, "--" BND "\r\n" CD "name=\"f\"; filename=\"x\"\r\n\r\nab",
	    sizeof("--" BND "\r\n" CD "name=\"f\"; filename=\"x\"\r\n\r\nab") -
	    1);
	CHECK(ih_parse_body(&R) == 400 && ih_upload_at(&R, 0) == NULL,
	    "parse_body: file part cut short: 400, no upload");
	CHECK_INT(datadir_entries(), 0, "parse_body: nothing left in datadir");

	/* Many large fields: the request arena is capped, 413 not 500. */
	{
		size_t big = 1024 * 1024, n = 0, i;
		char *b = malloc(6 * (big + 200));

		cfg.max_field = (long long)big;
		for (i = 0; i < 6; i++) {
			n += (size_t)sprintf(b + n, "--" BND "\r\n" CD
			    "name=\"f%zu\"\r\n\r\n", i);
			memset(b + n, 'v', big);
			n += big;
			n += (size_t)sprintf(b + n, "\r\n");
		}
		n += (size_t)sprintf(b + n, "--" BND "--");
		req_body(CT, b, n);
		CHECK_INT(ih_parse_body(&R), 413, "parse_body: six 1 MiB fields: "
		    "413 (request memory is capped)");
		free(b);
		cfg.max_field = 64 * 1024;
	}
	req_end();
}

int
main(void)
{
	if (mkdtemp(datadir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.datadir = datadir;
	cfg.body_timeout = 5;
	cfg.max_body = 100LL * 1024 * 1024;
	cfg.max_form = 1024 * 1024;
	cfg.max_field = 64 * 1024;
	cfg.max_parts = 1000;
	cfg.body_min_rate = 2048;

	test_urldecode();
	test_urlencoded();
	test_boundary();
	test_multipart_basic();
	test_multipart_delims();
	test_multipart_limits();
	test_multipart_straddle();
	test_multipart_transport();
	test_parse_body();

	arena_reset(&A);
	free(A.head);
	unit_rmtree(datadir);
	return unit_done();
}
