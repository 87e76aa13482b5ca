/*
 * response.c - the response side of the handler API: status, headers,
 * body, framing (RFC 9112 section 6: Content-Length when the body fits the
 * buffer, chunked for HTTP/1.1 or close-delimited for HTTP/1.0 when it
 * does not), HEAD without a body, the automatic headers (Date, Server,
 * Content-Type, framing, Connection) and the one error-page writer.
 *
 * A response's progress is one state (enum resp_state in internal.h).
 * The head and the buffered body live in buffers of the connection, so
 * an error page can be written however full the request's arena is.
 * Byte counts for the log come from what the connection really wrote.
 */
#include <sys/uio.h>

#include <unistd.h>

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

static const char *
date_now(void)
{
	static char date[30];
	static time_t last = -1;
	time_t t = now_real();

	if (t != last) {
		http_date(t, date);
		last = t;
	}
	return date;
}

/*
 * "HTTP/1.1 CODE REASON", Date and Server: the start of every head, made
 * again only when the second or the status changes.
 */
static char start[128 + TOKENS_MAX];
static size_t start_len;

static void
head_start(int status)
{
	static time_t last = -1;
	static int last_status;
	time_t t = now_real();
	struct sbuf b;

	if (t == last && status == last_status)
		return;
	sb_init(&b, start, sizeof(start));
	sb_lit(&b, "HTTP/1.1 ");
	sb_num(&b, (unsigned)status);
	sb_put(&b, " ", 1);
	sb_puts(&b, http_reason(status));
	sb_lit(&b, "\r\nDate: ");
	sb_put(&b, date_now(), 29);
	sb_lit(&b, "\r\nServer: ihttpd/" IHTTPD_VERSION);
	if (cfg.server_tokens != NULL) {
		sb_put(&b, " ", 1);
		sb_puts(&b, cfg.server_tokens);
	}
	sb_put(&b, "\r\n", 2);
	start_len = b.len;
	last = t;
	last_status = status;
}

/* Statuses after which the request's framing cannot be trusted. */
static int
breaks_framing(int status)
{
	switch (status) {
	case 400: case 408: case 411: case 413: case 414: case 431:
	case 501: case 505:
		return 1;
	}
	return 0;
}

static int
head_out(const struct ih_request *r)
{
	return r->head_len > 0;
}

/*
 * Before a head goes out, settle a request body nobody has started to
 * read.  A client told to wait for 100 Continue that never got one may
 * or may not send its body, so none of what follows can be taken for
 * body bytes: the connection closes after this response (RFC 9110
 * 10.1.1; Apache does the same).  A chunked body is read now, bounded,
 * so that malformed framing is answered 400 and a good body leaves the
 * connection usable - unless a session is open: its lock must not wait
 * on a client, and the session belongs to the handler until the request
 * ends, so then the connection closes instead.  A Content-Length body is
 * drained after the response and after the session's lock is released
 * (serve.c), or closes the connection when larger than DRAIN_MAX.
 * Returns 0, or -1 with the status to answer set.
 */
static int
commit_body(struct ih_request *r, int final)
{
	if (r->body_done || r->body_started || r->c->closing)
		return 0;
	/*
	 * A handler that streams before it reads may still read the body:
	 * it is not settled now.  Only a client waiting for a 100 that can
	 * no longer come (the head is out) leaves the framing unknown.
	 */
	if (!final) {
		if (r->hd.expect_continue)
			r->c->closing = 1;
		return 0;
	}
	if (r->hd.expect_continue || (!r->hd.chunked && r->body_left >
	    DRAIN_MAX) || (r->hd.chunked && sess_locked(r))) {
		r->c->closing = 1;
		return 0;
	}
	if (!r->hd.chunked)
		return 0;	/* drained after the answer, the lock released */
	return request_discard(r, DRAIN_MAX) == -1 ? -1 : 0;
}

/*
 * Format the head into the connection's head buffer.  clen >= 0:
 * Content-Length; -1: the body length is unknown (chunked for 1.1,
 * close-delimited for 1.0); -2: no body at all (1xx, 204, 304).
 * Returns the head's length, 0 when it does not fit.
 */
static size_t
build_head(struct ih_request *r, long long clen)
{
	struct conn *c = r->c;
	const char *ctype = r->ctype;
	struct sbuf b;

	if (r->hd.version == 10 && !r->hd.conn_keepalive)
		c->closing = 1;
	if (r->hd.conn_close || c->nreq >= (unsigned)cfg.keepalive_requests ||
	    serve_stopping || conn_others_waiting())
		c->closing = 1;
	if (clen >= 0)
		r->framing = FR_LENGTH;
	else if (clen == -1 && r->hd.version == 11)
		r->framing = FR_CHUNKED;
	else if (clen == -1) {
		r->framing = FR_CLOSE;
		c->closing = 1;
	} else
		r->framing = FR_NOBODY;
	if (ctype == NULL && clen != -2 && (r->is_handler || r->status >= 300))
		ctype = "text/html";
	sb_init(&b, c->hbuf, HEAD_MAX);
	head_start(r->status);
	sb_put(&b, start, start_len);
	if (r->rhlen > 0)
		sb_put(&b, r->rh, r->rhlen);
	/* RFC 6797 7.2: never over plain HTTP (TLS here or at the balancer) */
	if (c->https && cfg.hsts_value != NULL) {
		sb_lit(&b, "Strict-Transport-Security: ");
		sb_puts(&b, cfg.hsts_value);
		sb_put(&b, "\r\n", 2);
	}
	if (ctype != NULL) {
		sb_lit(&b, "Content-Type: ");
		sb_puts(&b, ctype);
		sb_put(&b, "\r\n", 2);
	}
	if (r->framing == FR_LENGTH) {
		sb_lit(&b, "Content-Length: ");
		sb_num(&b, (unsigned long long)clen);
		sb_put(&b, "\r\n", 2);
	}
	else if (r->framing == FR_CHUNKED)
		sb_lit(&b, "Transfer-Encoding: chunked\r\n");
	if (c->closing)
		sb_lit(&b, "Connection: close\r\n");
	else if (r->hd.version == 10)
		sb_lit(&b, "Connection: keep-alive\r\n");
	sb_lit(&b, "\r\n");
	if (b.trunc)
		return 0;	/* the limits in internal.h make this unreachable */
	ih_debug(IH_DBG_RESP, "status %d, %s", r->status,
	    r->framing == FR_LENGTH ? "length" : r->framing == FR_CHUNKED ?
	    "chunked" : r->framing == FR_CLOSE ? "close-delimited" : "no body");
	return b.len;
}

/*
 * Write the head, then n iovecs of body (may be 0).  The state becomes
 * RS_STREAMING; the caller finishes.  final: the whole response is known
 * (no handler will read the body after this).  0 or -1 (connection lost,
 * or the request body failed and its error page went out instead).
 */
static int
write_head(struct ih_request *r, long long clen, struct iovec *body, int n,
    int final)
{
	struct iovec iov[3];
	size_t hlen;
	int i;

	if (commit_body(r, final) == -1) {
		r->rhlen = 0;	/* the staged response's headers go with it */
		resp_error_page(r, r->status);
		return -1;
	}
	if ((hlen = build_head(r, clen)) == 0) {
		r->c->closing = 1;
		resp_drop(r);
		return -1;
	}
	iov[0].iov_base = r->c->hbuf;
	iov[0].iov_len = hlen;
	for (i = 0; i < n && i < 2; i++)
		iov[1 + i] = body[i];
	conn_send_begin(r->c);
	r->out_start = r->c->bytes_out;
	r->head_len = hlen;
	r->rstate = RS_STREAMING;
	return conn_writev(r->c, iov, 1 + i);
}

/*
 * Send the head alone (a file body follows by sendfile, or chunks).
 * clen as for build_head.  0 or -1 (stop: nothing more may be sent).
 */
int
resp_send_head(struct ih_request *r, long long clen)
{
	if (head_out(r))
		return r->rstate == RS_STREAMING ? 0 : -1;
	return write_head(r, clen, NULL, 0, 1);
}

/* The sending of a body that went out in one piece is over: rc 0 ok. */
void
resp_done(struct ih_request *r, int rc)
{
	r->rstate = rc == 0 && !r->c->broken ? RS_DONE : RS_DROPPED;
	if (r->rstate == RS_DROPPED)
		r->c->closing = 1;
}

/* The response is abandoned: nothing more goes out, the connection ends. */
void
resp_drop(struct ih_request *r)
{
	if (r->rstate != RS_DONE)
		r->rstate = RS_DROPPED;
	r->c->closing = 1;
}

/* Send a body piece with the framing chosen by the head. */
static int
send_body(struct ih_request *r, const void *buf, size_t n)
{
	char pre[24];
	struct iovec iov[3];
	struct sbuf b;

	if (n == 0 || r->method_head || r->framing == FR_NOBODY)
		return 0;
	if (r->framing != FR_CHUNKED) {
		iov[0].iov_base = (void *)(uintptr_t)buf;
		iov[0].iov_len = n;
		return conn_writev(r->c, iov, 1);
	}
	iov[0].iov_base = pre;
	sb_init(&b, pre, sizeof(pre));
	sb_hex(&b, n);
	sb_put(&b, "\r\n", 2);
	iov[0].iov_len = b.len;
	iov[1].iov_base = (void *)(uintptr_t)buf;
	iov[1].iov_len = n;
	iov[2].iov_base = (void *)(uintptr_t)"\r\n";
	iov[2].iov_len = 2;
	r->overhead += iov[0].iov_len + 2;
	return conn_writev(r->c, iov, 3);
}

int
ih_flush(struct ih_request *r)
{
	int rc;

	if (r->rstate >= RS_DONE)
		return -1;
	/* 1xx, 204 and 304 have no body, however much is written. */
	if (!head_out(r) && write_head(r, r->status < 200 || r->status ==
	    204 || r->status == 304 ? -2 : -1, NULL, 0, 0) == -1)
		return -1;
	rc = send_body(r, r->obuf, r->olen);
	r->olen = 0;
	if (rc == -1)
		resp_drop(r);
	return rc;
}

int
ih_write(struct ih_request *r, const void *buf, size_t n)
{
	if (r->rstate >= RS_DONE || r->c->broken)
		return -1;
	if (r->rstate == RS_OPEN)
		r->rstate = RS_READY;	/* a body: this is the response */
	if (r->obuf == NULL)
		r->obuf = r->c->obuf;
	if (r->olen + n <= OBUF_SIZE) {
		memcpy(r->obuf + r->olen, buf, n);
		r->olen += n;
		return 0;
	}
	if (ih_flush(r) == -1)
		return -1;
	r->obuf = r->c->obuf;
	if (n <= OBUF_SIZE) {
		memcpy(r->obuf, buf, n);
		r->olen = n;
		return 0;
	}
	if (send_body(r, buf, n) == -1) {
		resp_drop(r);
		return -1;
	}
	return 0;
}

int
ih_puts(struct ih_request *r, const char *s)
{
	return ih_write(r, s, strlen(s));
}

int
ih_printf(struct ih_request *r, const char *fmt, ...)
{
	va_list ap;
	char small[512], *p = small;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n >= sizeof(small)) {
		if ((p = malloc((size_t)n + 1)) == NULL)
			return -1;
		va_start(ap, fmt);
		vsnprintf(p, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	n = ih_write(r, p, (size_t)n);
	if (p != small)
		free(p);
	return n;
}

int
ih_write_html(struct ih_request *r, const char *s)
{
	char buf[512];
	size_t need;

	while (*s != '\0') {
		/* Escape at most ~80 source bytes at a time into buf. */
		char part[81];
		size_t n = strlen(s) > 80 ? 80 : strlen(s);

		memcpy(part, s, n);
		part[n] = '\0';
		need = html_escape(buf, sizeof(buf), part);
		if (ih_write(r, buf, need) == -1)
			return -1;
		s += n;
	}
	return 0;
}

/*
 * End the response: a buffered body goes out with Content-Length, head and
 * body in one writev; a streamed body gets its last chunk.  0 or -1.
 */
int
resp_finish(struct ih_request *r)
{
	struct iovec body[1];
	int rc = 0;

	if (r->rstate >= RS_DONE)
		return r->rstate == RS_DONE ? 0 : -1;
	if (!head_out(r)) {
		int nobody = r->status < 200 || r->status == 204 ||
		    r->status == 304;

		body[0].iov_base = r->obuf;
		body[0].iov_len = r->method_head || nobody ? 0 : r->olen;
		rc = write_head(r, nobody ? -2 : (long long)r->olen, body, 1,
		    1);
		if (rc == -1 && r->rstate >= RS_DONE)
			return r->rstate == RS_DONE ? 0 : -1;	/* error page */
	} else {
		if (r->olen > 0)
			rc = send_body(r, r->obuf, r->olen);
		if (rc == 0 && r->framing == FR_CHUNKED && !r->method_head) {
			r->overhead += 5;
			rc = conn_write(r->c, "0\r\n\r\n", 5);
		}
	}
	r->olen = 0;
	resp_done(r, rc);
	return rc;
}

/*
 * Body bytes that really reached the connection (for the log): what it
 * wrote since the head began, less the head and chunk framing.
 */
unsigned long long
resp_body_bytes(const struct ih_request *r)
{
	unsigned long long out;

	if (!head_out(r) || r->method_head)
		return 0;
	out = r->c->bytes_out - r->out_start;
	if (out <= r->head_len + r->overhead)
		return 0;
	return out - r->head_len - r->overhead;
}

/*
 * The status the access log shows: the one sent, or 444 (nginx's code
 * for "closed without a response") when the connection was dropped
 * before any head went out, so a dropped request never looks like 200.
 */
int
resp_log_status(const struct ih_request *r)
{
	/* Dropped before a byte of its head reached the connection. */
	if (r->rstate != RS_DONE && (!head_out(r) ||
	    r->c->bytes_out == r->out_start))
		return 444;
	return r->status;
}

void
ih_set_status(struct ih_request *r, int status)
{
	if (!head_out(r) && status >= 100 && status <= 999)
		r->status = status;
}

int
ih_set_type(struct ih_request *r, const char *type)
{
	const char *p;

	if (head_out(r) || strlen(type) > TYPE_MAX)
		return -1;
	for (p = type; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return -1;
	if ((r->ctype = arena_strdup(r->a, type)) == NULL)
		return -1;
	return 0;
}

/* Room for need more bytes of staged header lines, or NULL. */
static char *
head_room(struct ih_request *r, size_t need)
{
	char *p;

	if (head_out(r) || r->rhlen + need > RH_MAX)
		return NULL;
	if (r->rhlen + need > r->rhcap) {
		size_t ncap = (r->rhlen + need) * 2;
		char *n = arena_alloc(r->a, ncap);

		if (n == NULL)
			return NULL;
		if (r->rhlen > 0)
			memcpy(n, r->rh, r->rhlen);
		r->rh = n;
		r->rhcap = ncap;
	}
	p = r->rh + r->rhlen;
	r->rhlen += need;
	return p;
}

/* Append "Name: value\r\n" without the checks of ih_add_header. */
int
resp_add_header_raw(struct ih_request *r, const char *name,
    const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);
	char *p;

	if ((p = head_room(r, nl + vl + 4)) == NULL)
		return -1;
	memcpy(p, name, nl);
	memcpy(p + nl, ": ", 2);
	memcpy(p + nl + 2, value, vl);
	memcpy(p + nl + 2 + vl, "\r\n", 2);
	return 0;
}

/* Header lines already made ("Name: value\r\n" each), as they are. */
int
resp_add_headers(struct ih_request *r, const char *lines, size_t len)
{
	char *p;

	if ((p = head_room(r, len)) == NULL)
		return -1;
	memcpy(p, lines, len);
	return 0;
}

int
ih_add_header(struct ih_request *r, const char *name, const char *value)
{
	static const char *const owned[] = { "Content-Length",
	    "Transfer-Encoding", "Connection", "Date", "Server" };
	const char *p;
	size_t i;

	if (head_out(r) || *name == '\0')
		return -1;
	for (p = name; *p != '\0'; p++)
		if (!is_tchar((unsigned char)*p))
			return -1;
	for (p = value; *p != '\0'; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
			return -1;
	for (i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
		if (strcasecmp(name, owned[i]) == 0)
			return -1;
	if (strcasecmp(name, "Content-Type") == 0)
		return ih_set_type(r, value);
	return resp_add_header_raw(r, name, value);
}

int
ih_set_cookie(struct ih_request *r, const char *name, const char *value,
    const char *attrs)
{
	const char *p;
	char *v;

	if (*name == '\0' || head_out(r))
		return -1;
	for (p = name; *p != '\0'; p++)
		if (!is_tchar((unsigned char)*p))
			return -1;
	/* RFC 6265 4.1.1 cookie-octet: no CTL, space, '"', ',', ';', '\'. */
	for (p = value; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    strchr("\",;\\", *p) != NULL)
			return -1;
	for (p = attrs != NULL ? attrs : ""; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return -1;
	v = arena_printf(r->a, "%s=%s%s%s", name, value, attrs != NULL &&
	    *attrs != '\0' ? "; " : "", attrs != NULL ? attrs : "");
	return v == NULL ? -1 : resp_add_header_raw(r, "Set-Cookie", v);
}

int
ih_send_fd(struct ih_request *r, int fd, long long len)
{
	char buf[8192];
	off_t off = 0;

	if (r->rstate >= RS_DONE || len < 0)
		return -1;
	if (!head_out(r) && r->olen == 0 && len > OBUF_SIZE) {
		/* Nothing written yet: Content-Length and sendfile. */
		if (resp_send_head(r, len) == -1)
			return -1;
		resp_done(r, r->method_head ? 0 : conn_sendfile(r->c, fd, 0,
		    len));
		return r->rstate == RS_DONE ? 0 : -1;
	}
	while (off < len) {
		ssize_t n = pread(fd, buf, len - off > (off_t)sizeof(buf) ?
		    sizeof(buf) : (size_t)(len - off), off);

		if (n <= 0 || ih_write(r, buf, (size_t)n) == -1)
			return -1;
		off += n;
	}
	return 0;
}

int
ih_redirect(struct ih_request *r, int status, const char *url)
{
	if (head_out(r) || status < 300 || status > 399 ||
	    ih_add_header(r, "Location", url) == -1)
		return ih_error(r, 500, "bad redirect");
	r->status = status;
	r->ctype = "text/html";
	r->olen = 0;
	ih_puts(r, "<!DOCTYPE html>\n<html><head><title>Moved</title></head>"
	    "<body><p>Moved to <a href=\"");
	ih_write_html(r, url);
	ih_puts(r, "\">");
	ih_write_html(r, url);
	ih_puts(r, "</a>.</p></body></html>\n");
	r->rstate = RS_READY;
	return IH_PROCEED;
}

int
ih_error(struct ih_request *r, int status, const char *detail)
{
	/* A store that failed this request (store.c): unavailable, retry. */
	if (status == 500 && r->store_failed) {
		status = 503;
		resp_add_header_raw(r, "Retry-After", "5");
	}
	/* Keep what a lower layer said about the same failure. */
	if (r->detail != NULL && r->status == status && detail != NULL &&
	    strcmp(r->detail, detail) != 0) {
		const char *both = arena_printf(r->a, "%s (%s)", detail,
		    r->detail);

		if (both != NULL)
			detail = both;
	}
	resp_set_error(r, status, detail);
	return IH_ABORTED;
}

/*
 * Record an error status and its detail (for the error log).  Once the
 * head is out, the status sent stands (the log shows what the client
 * got); the failure is kept apart, for the error log.
 */
int
resp_set_error(struct ih_request *r, int status, const char *detail)
{
	if (status < 400 || status > 599)
		status = 500;
	if (head_out(r))
		r->late_status = status;
	else
		r->status = status;
	r->detail = detail;
	return status;
}

/*
 * The one error-page writer: a fixed page from the status table, never
 * any request data.  Headers a function set before failing (Allow,
 * WWW-Authenticate, Location) are kept; any body it wrote is dropped.
 * Once the head is out, an error can only close the connection.  Needs
 * nothing from the request's arena.
 */
void
resp_error_page(struct ih_request *r, int status)
{
	const char *reason = http_reason(status);
	const char *where = r->path != NULL ? r->path : r->target_raw;

	if (r->detail != NULL)
		/* Client-caused refusals (501, 505 too) are notices. */
		ih_log(status >= 500 && status != 501 && status != 505 ?
		    IH_LOG_ERR : IH_LOG_NOTICE,
		    "%s: %d %s: %s%s%s", conn_who(r->c), status, reason, r->detail,
		    where != NULL ? " for " : "", where != NULL ? where : "");
	r->detail = NULL;
	if (r->rstate >= RS_DONE)
		return;
	if (head_out(r)) {
		resp_drop(r);	/* no last chunk: the client sees it cut */
		return;
	}
	if (status < 400)
		status = 500;
	if (breaks_framing(status))
		r->c->closing = 1;
	/* An unread body whose framing fails is what gets answered. */
	if (commit_body(r, 1) == -1) {
		status = r->status;
		reason = http_reason(status);
		r->rhlen = 0;
		r->c->closing = 1;
		if (r->detail != NULL)
			ih_log(IH_LOG_NOTICE, "%s: %d %s: %s", conn_who(r->c),
			    status, reason, r->detail);
		r->detail = NULL;
	}
	if (!r->errpage && pipeline_error_page(r, status) == 0)
		return;
	r->status = status;
	r->ctype = "text/html";
	r->obuf = r->c->obuf;
	r->olen = 0;
	r->rstate = RS_READY;
	ih_printf(r, "<!DOCTYPE html>\n<html><head><title>%d %s</title>"
	    "</head>\n<body><h1>%d %s</h1></body></html>\n", status, reason,
	    status, reason);
	resp_finish(r);
}
