/*
 * request.c - the request side of the handler API: the parsed head,
 * CGI-style variables (RFC 3875 section 4.1 names), query parameters
 * (application/x-www-form-urlencoded rules), and the body as a stream
 * (Content-Length or chunked beneath, RFC 9112 section 6; Expect:
 * 100-continue answered on the first read, RFC 9110 section 10.1.1).
 * Variables and parameters are separate tables built on first use: a
 * parameter can never pose as REMOTE_USER.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

const char *
ih_method(const struct ih_request *r)
{
	return r->hd.method;
}

const char *
ih_target(const struct ih_request *r)
{
	return r->target_raw;
}

const char *
ih_path(const struct ih_request *r)
{
	return r->path;
}

const char *
ih_query(const struct ih_request *r)
{
	return r->hd.query;
}

int
ih_version(const struct ih_request *r)
{
	return r->hd.version;
}

const char *
ih_object(const struct ih_request *r)
{
	return r->cur_obj != NULL ? r->cur_obj->pattern : NULL;
}

const char *
ih_header(const struct ih_request *r, const char *name)
{
	int c0 = name[0] | 0x20;	/* names are tokens: ASCII */
	int i;

	for (i = 0; i < r->hd.nh; i++)
		if ((r->hd.h[i].name[0] | 0x20) == c0 &&
		    strcasecmp(r->hd.h[i].name, name) == 0)
			return r->hd.h[i].value;
	return NULL;
}

const char *
ih_header_at(const struct ih_request *r, size_t i, const char **name)
{
	if (i >= (size_t)r->hd.nh)
		return NULL;
	if (name != NULL)
		*name = r->hd.h[i].name;
	return r->hd.h[i].value;
}

static const char *
kv_get(const struct kvlist *l, const char *k)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].k, k) == 0)
			return l->v[i].v;
	return NULL;
}

/* SERVER_NAME: the configured name, else Host without its port. */
static const char *
server_name(struct ih_request *r)
{
	const char *h = r->hd.host;
	const char *end;

	if (cfg.server_name != NULL)
		return cfg.server_name;
	if (h == NULL || *h == '\0')
		return r->c->local;
	if (*h == '[')
		end = strchr(h, ']') != NULL ? strchr(h, ']') + 1 : h +
		    strlen(h);
	else
		end = strchr(h, ':') != NULL ? strchr(h, ':') : h + strlen(h);
	return arena_strndup(r->a, h, (size_t)(end - h));
}

/* Build the CGI-style variables once. */
void
request_vars(struct ih_request *r)
{
	struct kvlist *l = &r->vars;
	struct arena *a = r->a;
	const char *v;

	if (r->vars_ready)
		return;
	r->vars_ready = 1;
	form_kv_add(a, l, "SERVER_SOFTWARE", "ihttpd/" IHTTPD_VERSION);
	form_kv_add(a, l, "SERVER_NAME", server_name(r));
	form_kv_add(a, l, "SERVER_PORT", r->c->local_port);
	form_kv_add(a, l, "SERVER_ADDR", r->c->local);
	form_kv_add(a, l, "SERVER_PROTOCOL", r->hd.version == 10 ? "HTTP/1.0" :
	    "HTTP/1.1");
	form_kv_add(a, l, "REMOTE_ADDR", r->c->peer);
	form_kv_add(a, l, "REMOTE_PORT", r->c->peer_port);
	form_kv_add(a, l, "REQUEST_METHOD", r->hd.method);
	form_kv_add(a, l, "REQUEST_URI", r->target_raw);
	form_kv_add(a, l, "SCRIPT_NAME", r->path);
	form_kv_add(a, l, "QUERY_STRING", r->hd.query);
	form_kv_add(a, l, "DOCUMENT_ROOT", cfg.docroot);
	if ((v = ih_header(r, "Content-Type")) != NULL)
		form_kv_add(a, l, "CONTENT_TYPE", v);
	if (r->hd.clen >= 0)
		form_kv_add(a, l, "CONTENT_LENGTH", arena_printf(a, "%lld",
		    r->hd.clen));
	if (r->remote_user != NULL)
		form_kv_add(a, l, "REMOTE_USER", r->remote_user);
	if (r->auth_type != NULL)
		form_kv_add(a, l, "AUTH_TYPE", r->auth_type);
	/* what the connection is, never what an absolute target claims */
	if (r->c->tls != NULL) {
		form_kv_add(a, l, "HTTPS", "on");
		form_kv_add(a, l, "SSL_PROTOCOL", r->c->tls_proto);
		form_kv_add(a, l, "SSL_CIPHER", r->c->tls_cipher);
		if (r->c->tls_client_verify != NULL)
			form_kv_add(a, l, "SSL_CLIENT_VERIFY",
			    r->c->tls_client_verify);
		if (r->c->tls_client_dn != NULL)
			form_kv_add(a, l, "SSL_CLIENT_S_DN",
			    r->c->tls_client_dn);
	} else if (r->c->https) {
		/* TLS ended at a balancer that said so (PROXY v2) */
		form_kv_add(a, l, "HTTPS", "on");
		if (r->c->pp_proto[0] != '\0')
			form_kv_add(a, l, "SSL_PROTOCOL", r->c->pp_proto);
		if (r->c->pp_cipher[0] != '\0')
			form_kv_add(a, l, "SSL_CIPHER", r->c->pp_cipher);
	}
}

const char *
ih_var(const struct ih_request *cr, const char *name)
{
	struct ih_request *r = (struct ih_request *)(uintptr_t)cr;

	request_vars(r);
	return kv_get(&r->vars, name);
}

const char *
ih_var_at(const struct ih_request *cr, size_t i, const char **name)
{
	struct ih_request *r = (struct ih_request *)(uintptr_t)cr;

	request_vars(r);
	if (i >= r->vars.n)
		return NULL;
	if (name != NULL)
		*name = r->vars.v[i].k;
	return r->vars.v[i].v;
}

/*
 * The query's parameters, once.  A malformed escape stops the parse
 * there (what came before is kept); ih_parse_body reports it as 400.
 */
void
request_query_params(struct ih_request *r)
{
	if (r->params_ready)
		return;
	r->params_ready = 1;
	r->query_status = form_parse_urlencoded(r->a, &r->params, r->hd.query,
	    strlen(r->hd.query));
}

/* A form body not yet touched is parsed on the first parameter asked. */
static void
params_load(struct ih_request *r)
{
	const char *ct = ih_header(r, "Content-Type");

	request_query_params(r);
	if (!r->body_parsed && !r->body_started &&
	    (form_is_type(ct, "application/x-www-form-urlencoded") ||
	    form_is_type(ct, "multipart/form-data"))) {
		int st = r->status;

		ih_parse_body(r);
		r->status = st;		/* errors: ask ih_parse_body */
		r->detail = NULL;
	}
}

const char *
ih_param(const struct ih_request *cr, const char *name)
{
	struct ih_request *r = (struct ih_request *)(uintptr_t)cr;
	size_t i;

	params_load(r);
	for (i = 0; i < r->params.n; i++)
		if (r->params.v[i].k != NULL && strcmp(r->params.v[i].k,
		    name) == 0)
			return r->params.v[i].v;
	return NULL;
}

const char *
ih_param_at(const struct ih_request *cr, size_t i, const char **name)
{
	struct ih_request *r = (struct ih_request *)(uintptr_t)cr;

	params_load(r);
	if (i >= r->params.n)
		return NULL;
	if (name != NULL)
		*name = r->params.v[i].k;
	return r->params.v[i].v;
}

/*
 * The body's whole deadline (RFC 9112 says nothing; althttpd and Apache's
 * mod_reqtimeout bound it): body_timeout, plus a second for every
 * body_min_rate bytes the body declares, or for a chunked body the bytes
 * that have arrived so far.  The clock starts at the first read.
 */
static int64_t
body_deadline(struct ih_request *r)
{
	long long size = r->hd.chunked ? r->body_total : r->hd.clen;
	long long rate = cfg.body_min_rate > 0 ? cfg.body_min_rate : 1;
	long long secs = size / rate;

	if (secs > 100000000)
		secs = 100000000;	/* ~3 years: no overflow below */
	return r->body_deadline + (cfg.body_timeout + secs) * 1000 +
	    size % rate * 1000 / rate;
}

/* Get more body bytes into the connection buffer.  0 or -1 (status set). */
static int
body_fill(struct ih_request *r)
{
	struct conn *c = r->c;
	int64_t idle = mono_ms() + cfg.body_timeout * 1000;
	int64_t whole = body_deadline(r);
	ssize_t n;

	conn_compact(c);
	n = conn_fill(c, idle < whole ? idle : whole);
	if (n > 0)
		return 0;
	c->closing = 1;
	if (n == -2)
		resp_set_error(r, 408, idle < whole ? "request body stalled "
		    "(body_timeout)" : "request body too slow (body_timeout + "
		    "size / body_min_rate)");
	else if (n == 0)
		resp_set_error(r, 400, "request body cut short");
	else
		resp_set_error(r, 400, "request body read failed");
	return -1;
}

ssize_t
ih_read(struct ih_request *r, void *buf, size_t n)
{
	struct conn *c = r->c;

	if (r->body_done || n == 0)
		return 0;
	if (!r->body_started) {
		r->body_started = 1;
		r->body_deadline = mono_ms();
		/* RFC 9110 10.1.1: 100 only when the body is wanted. */
		if (r->hd.expect_continue && r->head_len == 0 &&
		    conn_write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25) == -1) {
			resp_set_error(r, 400, "cannot send 100 Continue");
			return -1;
		}
	}
	for (;;) {
		size_t avail = c->ilen - c->ipos;

		if (r->hd.chunked) {
			size_t inl = avail;
			ssize_t got = 0;

			if (avail > 0)
				got = http_chunked_decode(&r->ch, c->ibuf +
				    c->ipos, &inl, buf, n);
			if (got < 0) {
				c->closing = 1;
				resp_set_error(r, 400, got == -1 ?
				    "malformed chunked body" :
				    "chunk extensions or trailers too long");
				return -1;
			}
			c->ipos += inl;
			r->body_total += got;
			if (r->body_total > cfg.max_body) {
				c->closing = 1;
				resp_set_error(r, 413, "chunked body over "
				    "max_body");
				return -1;
			}
			if (r->ch.state == CH_DONE)
				r->body_done = 1;
			if (got > 0 || r->body_done)
				return got;
		} else {
			size_t take = avail;

			if (r->body_left == 0) {
				r->body_done = 1;
				return 0;
			}
			if (take > 0) {
				if (take > n)
					take = n;
				if ((long long)take > r->body_left)
					take = (size_t)r->body_left;
				memcpy(buf, c->ibuf + c->ipos, take);
				c->ipos += take;
				r->body_left -= (long long)take;
				r->body_total += (long long)take;
				if (r->body_left == 0)
					r->body_done = 1;
				return (ssize_t)take;
			}
		}
		if (body_fill(r) == -1)
			return -1;
	}
}

/*
 * Read and discard up to max bytes of a body nobody read.  Returns 0 at
 * its end, 1 when more than max remain (stop; the connection cannot be
 * kept), -1 when its framing or reading failed (status set, closing).
 */
int
request_discard(struct ih_request *r, long long max)
{
	char buf[4096];
	long long drained = 0;

	while (!r->body_done) {
		ssize_t n = ih_read(r, buf, sizeof(buf));

		if (n < 0)
			return -1;
		if ((drained += n) > max) {
			r->c->closing = 1;
			return 1;
		}
	}
	return 0;
}

/*
 * After the response: read and discard a body nobody read, so the next
 * request on the connection starts at the right byte.  A body too large
 * to drain (DRAIN_MAX) closes the connection instead; so does one the
 * client was told to hold back (Expect: 100-continue, no 100 sent),
 * which response.c marks closing before the head went out.
 */
void
request_drain(struct ih_request *r)
{
	if (r->body_done || r->c->closing)
		return;
	(void)request_discard(r, DRAIN_MAX);
}
