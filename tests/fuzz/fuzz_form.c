/*
 * fuzz_form.c - libFuzzer driver for src/form.c.  The first byte picks
 * the mode and seeds the read sizes:
 *
 *   0  form_parse_urlencoded on the rest (an exact-size heap copy), checked
 *      against a reference decoder: same status, same pairs in order.
 *   1  the streaming multipart reader: byte 2's low bits give a boundary
 *      length, the boundary follows, then the body.  The body is walked
 *      once from a connection buffer holding all of it with large reads,
 *      and once trickled through a pipe into a tiny connection buffer
 *      with small, exactly sized read buffers (ASan catches a write past
 *      them).  Both walks must agree on every part's name, file name,
 *      type and bytes, the final result and the status.
 *   2  ih_parse_body on the same kind of input (multipart, or urlencoded
 *      when byte 2 is odd), with small max_form/max_field; parameters and
 *      spooled uploads are read back, then form_cleanup.
 *
 * Requests are built by hand as the unit tests do; LeakSanitizer checks
 * that form_cleanup frees what the reader took.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static uint32_t rng;

static uint32_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static struct arena A;
static char datadir[] = "/tmp/ihttpd-fuzz-form.XXXXXX";
static int ready;

static void
setup(void)
{
	if (ready)
		return;
	ready = 1;
	memset(&cfg, 0, sizeof(cfg));
	if (mkdtemp(datadir) == NULL)
		abort();
	cfg.datadir = datadir;
	cfg.body_timeout = 5;
	cfg.max_body = 1LL << 30;
	cfg.max_form = 1024;
	cfg.max_field = 256;
}

/* ---- mode 0: urlencoded against a reference ---------------------------- */

static int
hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode s[0..n) into out (NUL-terminated); 0 or 400. */
static int
ref_decode(const uint8_t *s, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			if (n - i < 3 || hex(s[i + 1]) < 0 || hex(s[i + 2]) < 0)
				return 400;
			out[o++] = (char)(hex(s[i + 1]) * 16 + hex(s[i + 2]));
			i += 2;
		} else
			out[o++] = s[i] == '+' ? ' ' : (char)s[i];
	}
	out[o] = '\0';
	return 0;
}

static void
urlencoded(const uint8_t *in, size_t n)
{
	struct kvlist l = { NULL, 0, 0 };
	char *copy = malloc(n > 0 ? n : 1), *k = malloc(n + 1),
	    *v = malloc(n + 1);
	size_t pos = 0, idx = 0;
	int rc, want = 0;

	memcpy(copy, in, n);
	rc = form_parse_urlencoded(&A, &l, copy, n);
	if (rc != 0 && rc != 400)
		abort();
	/* The reference walk. */
	while (pos < n) {
		const uint8_t *amp = memchr(in + pos, '&', n - pos), *eq;
		size_t len = amp != NULL ? (size_t)(amp - (in + pos)) : n - pos;

		if (len > 0) {
			eq = memchr(in + pos, '=', len);
			if (ref_decode(in + pos, eq != NULL ?
			    (size_t)(eq - (in + pos)) : len, k) != 0 ||
			    (eq != NULL && ref_decode(eq + 1, len -
			    (size_t)(eq - (in + pos)) - 1, v) != 0)) {
				want = 400;
				break;
			}
			if (eq == NULL)
				v[0] = '\0';
			if (rc == 0 && (idx >= l.n || l.v[idx].k == NULL ||
			    l.v[idx].v == NULL || strcmp(l.v[idx].k, k) != 0 ||
			    strcmp(l.v[idx].v, v) != 0))
				abort();	/* pairs differ */
			idx++;
		}
		pos += len + (amp != NULL);
	}
	if (rc != want || (rc == 0 && idx != l.n))
		abort();
	free(v);
	free(k);
	free(copy);
}

/* ---- a request built by hand ------------------------------------------- */

static struct ih_request R;
static struct conn C;
static struct header H[1];
static char hn[] = "Content-Type", m_post[] = "POST", query[] = "";
static char ctype[256];

static void
req_init(long long clen)
{
	memset(&R, 0, sizeof(R));
	memset(&C, 0, sizeof(C));
	C.in = C.out = -1;
	R.c = &C;
	R.a = &A;
	R.hd.h = H;
	R.hd.method = m_post;
	R.hd.query = query;
	R.hd.version = 11;
	R.hd.clen = clen;
	R.body_left = clen;
	R.status = 200;
	H[0].name = hn;
	H[0].value = ctype;
	R.hd.nh = 1;
}

/* The whole body in the connection buffer (an exact-size copy). */
static void
req_whole(const uint8_t *body, size_t len)
{
	req_init((long long)len);
	C.ibuf = malloc(len > 0 ? len : 1);
	memcpy(C.ibuf, body, len);
	C.icap = C.ilen = len;
	C.eof = 1;
}

/* The body through a pipe into a connection buffer of icap bytes. */
static int
req_pipe(const uint8_t *body, size_t len, size_t icap)
{
	int p[2];

	req_init((long long)len);
	if (pipe(p) == -1)
		return -1;
	if (write_full(p[1], body, len) != (ssize_t)len) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	close(p[1]);
	C.in = p[0];
	C.ibuf = malloc(icap);
	C.icap = icap;
	return 0;
}

static void
req_end(void)
{
	form_cleanup(&R);
	if (C.in != -1)
		close(C.in);
	free(C.ibuf);
	memset(&R, 0, sizeof(R));
	memset(&C, 0, sizeof(C));
	arena_reset(&A);
}

/* ---- mode 1: two walks that must agree --------------------------------- */

struct trace {
	char	*buf;
	size_t	 len, cap;
	int	 rc, status;
};

static void
t_add(struct trace *t, const void *p, size_t n)
{
	if (t->len + n > t->cap) {
		t->cap = (t->len + n) * 2 + 64;
		if ((t->buf = realloc(t->buf, t->cap)) == NULL)
			abort();
	}
	memcpy(t->buf + t->len, p, n);
	t->len += n;
}

static void
t_str(struct trace *t, const char *s)
{
	t_add(t, s != NULL ? s : "\x01(null)", strlen(s != NULL ? s : "\x01(null)") + 1);
}

/* small: read sizes from the rng, else 65536. */
static void
walk(struct trace *t, size_t bodylen, int small)
{
	struct ih_part p;
	size_t total = 0;
	int rc, parts = 0;

	memset(t, 0, sizeof(*t));
	while ((rc = ih_part_next(&R, &p)) == 1) {
		ssize_t n;

		if (p.name == NULL || ++parts > 100000)
			abort();
		/* A file name is a label: never a path. */
		if (p.filename != NULL && (strchr(p.filename, '/') != NULL ||
		    strchr(p.filename, '\\') != NULL))
			abort();
		t_add(t, "P", 1);
		t_str(t, p.name);
		t_str(t, p.filename);
		t_str(t, p.type);
		for (;;) {
			size_t want = small ? 1 + next() % 97 : 65536;
			char *b = malloc(want);

			n = ih_part_read(&R, b, want);
			if (n > (ssize_t)want)
				abort();
			if (n > 0)
				t_add(t, b, (size_t)n);
			free(b);
			if (n <= 0)
				break;
			if ((total += (size_t)n) > bodylen)
				abort();	/* more data than body */
		}
		t_add(t, "E", 1);
		if (n < 0) {
			rc = -1;
			break;
		}
	}
	if (rc != 0 && rc != -1)
		abort();
	if (rc == -1 && R.status != 400 && R.status != 413 &&
	    R.status != 415 && R.status != 500)
		abort();
	if (rc == 0 && R.status != 200)
		abort();
	/* The end is sticky. */
	if (ih_part_next(&R, &p) != rc)
		abort();
	t->rc = rc;
	t->status = R.status;
}

static void
multipart(const uint8_t *in, size_t n, uint8_t sel)
{
	size_t blen = 1 + (sel & 15), i;
	struct trace a, b;
	int o;

	if (n < blen)
		return;
	o = snprintf(ctype, sizeof(ctype), "multipart/form-data; boundary=");
	for (i = 0; i < blen; i++) {
		/* Keep the boundary usable: printable, no quote or ';'. */
		char c = (char)in[i];

		if (c <= ' ' || c >= 0x7f || c == ';' || c == '"' || c == '\\')
			c = 'a' + (char)(in[i] % 26);
		ctype[o++] = c;
	}
	ctype[o] = '\0';
	in += blen;
	n -= blen;

	req_whole(in, n);
	walk(&a, n, 0);
	req_end();
	if (req_pipe(in, n, 1 + next() % 48) == -1) {
		req_end();
		free(a.buf);
		return;
	}
	walk(&b, n, 1);
	req_end();
	if (a.rc != b.rc || a.status != b.status || a.len != b.len ||
	    (a.len > 0 && memcmp(a.buf, b.buf, a.len) != 0))
		abort();	/* the result depends on read and fill sizes */
	free(a.buf);
	free(b.buf);
}

/* ---- mode 2: ih_parse_body --------------------------------------------- */

static void
parse_body(const uint8_t *in, size_t n, uint8_t sel)
{
	const struct ih_upload *u;
	const char *k, *v;
	size_t i;
	int st;

	if (sel & 1)
		snprintf(ctype, sizeof(ctype), "application/"
		    "x-www-form-urlencoded");
	else
		snprintf(ctype, sizeof(ctype), "multipart/form-data; "
		    "boundary=%s", "B");
	req_whole(in, n);
	st = ih_parse_body(&R);
	if (st != 0 && st != 400 && st != 413 && st != 415 && st != 500)
		abort();
	if (st != 0 && R.status != st)
		abort();
	if (ih_parse_body(&R) != st)
		abort();	/* remembered */
	for (i = 0; (v = ih_param_at(&R, i, &k)) != NULL; i++)
		if (k == NULL || strlen(v) > (size_t)cfg.max_form)
			abort();
	for (i = 0; (u = ih_upload_at(&R, i)) != NULL; i++) {
		char buf[512];
		long long got = 0;
		ssize_t r;

		if (u->fd < 0 || u->size < 0 || (size_t)u->size > n ||
		    u->name == NULL || u->filename == NULL ||
		    strchr(u->filename, '/') != NULL)
			abort();
		while ((r = read(u->fd, buf, sizeof(buf))) > 0)
			got += r;
		if (got != u->size)
			abort();
	}
	req_end();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	setup();
	rng = 0x9e3779b9u ^ data[0] ^ (uint32_t)size << 8;
	switch (data[0] % 3) {
	case 0:
		urlencoded(data + 1, size - 1);
		break;
	case 1:
		multipart(data + 2, size - 2, data[1]);
		break;
	default:
		parse_body(data + 2, size - 2, data[1]);
		break;
	}
	arena_reset(&A);
	return 0;
}
