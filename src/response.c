/*
 * response.c - the response side of the handler API: status, headers,
 * body, framing (RFC 9112 section 6: Content-Length when the body fits the
 * buffer, chunked for HTTP/1.1 or close-delimited for HTTP/1.0 when it
 * does not), HEAD without a body, the automatic headers (Date, Server,
 * Content-Type, framing, Connection) and the one error-page writer.
 */
#include <sys/uio.h>

#include <unistd.h>

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#define RH_MAX	16384		/* handler-added header bytes */

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

/*
 * Format the head.  clen >= 0: Content-Length; -1: the body length is
 * unknown (chunked for 1.1, close-delimited for 1.0); -2: no body at all
 * (1xx, 204, 304).  Returns the head in the arena, or NULL.
 */
static char *
build_head(struct ih_request *r, long long clen, size_t *len)
{
	struct conn *c = r->c;
	const char *ctype = r->ctype, *conn_hdr = "";
	char framing[64] = "";
	size_t cap;
	char *h;
	int n;

	if (r->hd.version == 10 && !r->hd.conn_keepalive)
		c->closing = 1;
	if (r->hd.conn_close || c->nreq >= (unsigned)cfg.keepalive_requests)
		c->closing = 1;
	/* A body nobody read is drained after the response if it is small. */
	if (!r->body_done && !r->hd.chunked && r->body_left > DRAIN_MAX)
		c->closing = 1;
	if (clen >= 0)
		snprintf(framing, sizeof(framing), "Content-Length: %lld\r\n",
		    clen);
	else if (clen == -1 && r->hd.version == 11) {
		snprintf(framing, sizeof(framing),
		    "Transfer-Encoding: chunked\r\n");
		r->chunked_out = 1;
	} else if (clen == -1) {
		r->close_delim = 1;
		c->closing = 1;
	}
	if (c->closing)
		conn_hdr = "Connection: close\r\n";
	else if (r->hd.version == 10)
		conn_hdr = "Connection: keep-alive\r\n";
	if (ctype == NULL && clen != -2 && (r->is_handler || r->status >= 300))
		ctype = "text/html";
	cap = 256 + r->rhlen + (ctype != NULL ? strlen(ctype) : 0) +
	    (cfg.server_tokens != NULL ? strlen(cfg.server_tokens) : 0);
	if ((h = arena_alloc(r->a, cap)) == NULL)
		return NULL;
	n = snprintf(h, cap, "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: ihttpd/%s"
	    "%s%s\r\n%.*s%s%s%s%s%s\r\n", r->status, http_reason(r->status),
	    date_now(), IHTTPD_VERSION, cfg.server_tokens != NULL ? " " : "",
	    cfg.server_tokens != NULL ? cfg.server_tokens : "",
	    (int)r->rhlen, r->rh != NULL ? r->rh : "",
	    ctype != NULL ? "Content-Type: " : "", ctype != NULL ? ctype : "",
	    ctype != NULL ? "\r\n" : "", framing, conn_hdr);
	if (n < 0 || (size_t)n >= cap)
		return NULL;
	*len = (size_t)n;
	ih_debug(IH_DBG_RESP, "status %d, %s", r->status,
	    clen >= 0 ? "length" : clen == -1 ? (r->chunked_out ? "chunked" :
	    "close-delimited") : "no body");
	return h;
}

/*
 * Send the head alone (a file body follows by sendfile, or chunks).
 * clen as for build_head.  0 or -1 (connection lost).
 */
int
resp_send_head(struct ih_request *r, long long clen)
{
	size_t len;
	char *h;
	struct iovec iov[1];

	if (r->head_sent)
		return 0;
	if ((h = build_head(r, clen, &len)) == NULL) {
		r->c->closing = 1;
		return -1;
	}
	r->head_sent = 1;
	iov[0].iov_base = h;
	iov[0].iov_len = len;
	return conn_writev(r->c, iov, 1);
}

/* Send a body piece with the framing chosen by the head. */
static int
send_body(struct ih_request *r, const void *buf, size_t n)
{
	char pre[24];
	struct iovec iov[3];

	if (n == 0 || r->method_head)
		return 0;
	r->body_sent += n;
	if (!r->chunked_out) {
		iov[0].iov_base = (void *)(uintptr_t)buf;
		iov[0].iov_len = n;
		return conn_writev(r->c, iov, 1);
	}
	iov[0].iov_base = pre;
	iov[0].iov_len = (size_t)snprintf(pre, sizeof(pre), "%zx\r\n", n);
	iov[1].iov_base = (void *)(uintptr_t)buf;
	iov[1].iov_len = n;
	iov[2].iov_base = (void *)(uintptr_t)"\r\n";
	iov[2].iov_len = 2;
	return conn_writev(r->c, iov, 3);
}

int
ih_flush(struct ih_request *r)
{
	int rc;

	if (r->finished)
		return -1;
	if (!r->head_sent && resp_send_head(r, -1) == -1)
		return -1;
	rc = send_body(r, r->obuf, r->olen);
	r->olen = 0;
	return rc;
}

int
ih_write(struct ih_request *r, const void *buf, size_t n)
{
	if (r->finished || r->c->broken)
		return -1;
	if (r->obuf == NULL && (r->obuf = arena_alloc(r->a, OBUF_SIZE)) ==
	    NULL)
		return -1;
	if (r->olen + n <= OBUF_SIZE) {
		memcpy(r->obuf + r->olen, buf, n);
		r->olen += n;
		return 0;
	}
	if (ih_flush(r) == -1)
		return -1;
	if (n <= OBUF_SIZE) {
		memcpy(r->obuf, buf, n);
		r->olen = n;
		return 0;
	}
	return send_body(r, buf, n);
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
 * body in one writev; a chunked body gets its last chunk.  0 or -1.
 */
int
resp_finish(struct ih_request *r)
{
	struct iovec iov[2];
	size_t hlen;
	char *h;
	int rc = 0;

	if (r->finished)
		return 0;
	if (!r->head_sent) {
		int nobody = r->status < 200 || r->status == 204 ||
		    r->status == 304;

		if ((h = build_head(r, nobody ? -2 : (long long)r->olen,
		    &hlen)) == NULL) {
			r->c->closing = 1;
			r->finished = 1;
			return -1;
		}
		r->head_sent = 1;
		iov[0].iov_base = h;
		iov[0].iov_len = hlen;
		iov[1].iov_base = r->obuf;
		iov[1].iov_len = r->method_head || nobody ? 0 : r->olen;
		r->body_sent = iov[1].iov_len;
		rc = conn_writev(r->c, iov, 2);
	} else {
		if (r->olen > 0)
			rc = send_body(r, r->obuf, r->olen);
		if (rc == 0 && r->chunked_out && !r->method_head)
			rc = conn_write(r->c, "0\r\n\r\n", 5);
	}
	r->olen = 0;
	r->finished = 1;
	return rc;
}

void
ih_set_status(struct ih_request *r, int status)
{
	if (!r->head_sent && status >= 100 && status <= 999)
		r->status = status;
}

int
ih_set_type(struct ih_request *r, const char *type)
{
	const char *p;

	if (r->head_sent)
		return -1;
	for (p = type; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return -1;
	if ((r->ctype = arena_strdup(r->a, type)) == NULL)
		return -1;
	return 0;
}

/* Append "Name: value\r\n" without the checks of ih_add_header. */
int
resp_add_header_raw(struct ih_request *r, const char *name,
    const char *value)
{
	size_t need = strlen(name) + strlen(value) + 4;

	if (r->rhlen + need > RH_MAX)
		return -1;
	if (r->rhlen + need + 1 > r->rhcap) {	/* + snprintf's NUL */
		size_t ncap = (r->rhlen + need) * 2;
		char *n = arena_alloc(r->a, ncap);

		if (n == NULL)
			return -1;
		if (r->rhlen > 0)
			memcpy(n, r->rh, r->rhlen);
		r->rh = n;
		r->rhcap = ncap;
	}
	r->rhlen += (size_t)snprintf(r->rh + r->rhlen, r->rhcap - r->rhlen,
	    "%s: %s\r\n", name, value);
	return 0;
}

int
ih_add_header(struct ih_request *r, const char *name, const char *value)
{
	static const char *const owned[] = { "Content-Length",
	    "Transfer-Encoding", "Connection", "Date", "Server" };
	const char *p;
	size_t i;

	if (r->head_sent || *name == '\0')
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

	if (*name == '\0')
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
	return v == NULL || r->head_sent ? -1 :
	    resp_add_header_raw(r, "Set-Cookie", v);
}

int
ih_send_fd(struct ih_request *r, int fd, long long len)
{
	char buf[8192];
	off_t off = 0;

	if (r->finished || len < 0)
		return -1;
	if (!r->head_sent && r->olen == 0 && len > OBUF_SIZE) {
		/* Nothing written yet: Content-Length and sendfile. */
		if (resp_send_head(r, len) == -1)
			return -1;
		r->finished = 1;
		if (r->method_head)
			return 0;
		r->body_sent = (unsigned long long)len;
		return conn_sendfile(r->c, fd, 0, len);
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
	if (status < 300 || status > 399 || ih_add_header(r, "Location",
	    url) == -1)
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
	resp_set_error(r, status, detail);
	return IH_ABORTED;
}

/* Record an error status and its detail (for the error log). */
int
resp_set_error(struct ih_request *r, int status, const char *detail)
{
	if (status < 400 || status > 599)
		status = 500;
	r->status = status;
	r->detail = detail;
	return status;
}

/*
 * The one error-page writer: a fixed page from the status table, never
 * any request data.  Headers a function set before failing (Allow,
 * WWW-Authenticate, Location) are kept; any body it wrote is dropped.
 * Once the head is out, an error can only close the connection.
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
		    "%s: %d %s: %s%s%s", r->c->peer, status, reason, r->detail,
		    where != NULL ? " for " : "", where != NULL ? where : "");
	r->detail = NULL;
	if (r->head_sent) {
		r->c->closing = 1;
		r->finished = 1;	/* no last chunk: the client sees it cut */
		return;
	}
	if (breaks_framing(status))
		r->c->closing = 1;
	if (!r->errpage && pipeline_error_page(r, status) == 0)
		return;
	r->status = status;
	r->ctype = "text/html";
	r->olen = 0;
	ih_printf(r, "<!DOCTYPE html>\n<html><head><title>%d %s</title>"
	    "</head>\n<body><h1>%d %s</h1></body></html>\n", status, reason,
	    status, reason);
	resp_finish(r);
}
