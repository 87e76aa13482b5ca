/*
 * serve.c - the request loop every mode ends in: serve_connection reads
 * request heads on one connection within their deadlines (RFC 9112
 * section 2.2: empty lines before a request are skipped), parses them,
 * runs the pipeline, releases the request's locks, drains what the
 * handler left unread, and goes on until the connection closes, idles
 * out or reaches keepalive_requests.  The connection ACL runs before the
 * first byte is read.  inetd, pipe and (later) every standalone
 * personality call it the same way: the loop cannot tell them apart.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

volatile sig_atomic_t serve_stopping;
int serve_tls;
int serve_proxy;

/* Answer a request that never reached the pipeline (bad head, timeout). */
static void
early_error(struct ih_request *r, int status, const char *detail)
{
	/* Even a malformed HEAD gets no body (RFC 9110 9.3.2). */
	if (r->reqline != NULL && strncmp(r->reqline, "HEAD ", 5) == 0)
		r->method_head = 1;
	resp_set_error(r, status, detail);
	r->c->closing = 1;
	resp_error_page(r, status);
	log_access(r);
}

/*
 * Read the next request head into the connection buffer.  Returns its
 * length, 0 when the connection ended quietly (EOF or keep-alive idle
 * before a byte), or -status for an error to answer.
 */
static long
read_head(struct conn *c, const char **why)
{
	int64_t deadline;
	size_t scanned = 0, end, lead = 0;
	int waiting;

	/*
	 * What was consumed is dropped when nothing follows it, or once it
	 * fills half the buffer: a pipelined burst is not moved down the
	 * buffer request by request.
	 */
	if (c->ipos == c->ilen || c->ipos >= c->icap / 2)
		conn_compact(c);
	/*
	 * Idle between requests: keepalive_timeout.  Once a byte of the next
	 * head is here - already, when it came with the last request - the
	 * head has header_timeout from now.
	 */
	while (c->ipos + lead < c->ilen && (c->ibuf[c->ipos + lead] == '\r' ||
	    c->ibuf[c->ipos + lead] == '\n'))
		lead++;
	waiting = c->nreq > 0 && c->ipos + lead == c->ilen;
	deadline = mono_ms() + (waiting ? cfg.keepalive_timeout :
	    cfg.header_timeout) * 1000;
	for (;;) {
		char *base = c->ibuf + c->ipos;
		size_t have = c->ilen - c->ipos, skip = 0;
		const char *nl;
		ssize_t n;

		/* RFC 9112 2.2: empty lines before a request are skipped. */
		while (skip < have && (base[skip] == '\n' ||
		    (base[skip] == '\r' && skip + 1 < have &&
		    base[skip + 1] == '\n')))
			skip += base[skip] == '\r' ? 2 : 1;
		if (skip > 0) {
			c->ipos += skip;
			base += skip;
			have -= skip;
			scanned = 0;
		}
		end = http_find_head_end(base, have, scanned);
		scanned = have;
		nl = memchr(base, '\n', end > 0 ? end : have);
		/* The line's length without its CRLF. */
		if ((nl == NULL && have > (size_t)cfg.max_request_line + 1) ||
		    (nl != NULL && nl - base - (nl > base && nl[-1] ==
		    '\r') > cfg.max_request_line)) {
			*why = "request line too long";
			return -414;
		}
		if ((end > 0 ? end : have) > (size_t)cfg.max_header_size) {
			*why = "request head too large";
			return -431;
		}
		if (end > 0)
			return (long)end;
		if (c->eof) {
			if (have == 0)
				return 0;
			*why = "connection closed inside the head";
			return -400;
		}
		/* Room to read into: move the partial head down first. */
		if (c->ilen == c->icap && c->ipos > 0)
			conn_compact(c);
		c->idle = waiting && have == 0;
		n = conn_fill(c, deadline);
		c->idle = 0;
		if (n == -3) {
			*why = "request head too large";
			return nl == NULL ? -414 : -431;
		}
		if (n == -2) {
			if (have == 0 && waiting)
				return 0;	/* keep-alive idle: just close */
			*why = "timed out reading the head";
			return -408;
		}
		if (n == -1) {
			*why = "read error";
			return have == 0 ? 0 : -400;
		}
		if (n > 0 && waiting && have == 0) {
			/* The next request began: now the head deadline. */
			waiting = 0;
			deadline = mono_ms() + cfg.header_timeout * 1000;
		}
	}
}

/* Keep the raw request line (for the log) before parsing in place. */
static void
save_request_line(struct ih_request *r, const char *head, size_t len)
{
	const char *p = head, *nl;

	while (p < head + len && (*p == '\r' || *p == '\n'))
		p++;
	if ((nl = memchr(p, '\n', len - (size_t)(p - head))) == NULL)
		return;
	if (nl > p && nl[-1] == '\r')
		nl--;
	r->reqline = arena_strndup(r->a, p, (size_t)(nl - p));
}

/* Set up one parsed request; 0 or the status to answer. */
static int
prepare(struct ih_request *r, const char **why)
{
	struct head *hd = &r->hd;
	size_t n;

	r->target_raw = r->reqline != NULL ? strchr(r->reqline, ' ') : NULL;
	if (r->target_raw != NULL) {
		char *sp;
		r->target_raw = arena_strdup(r->a, r->target_raw + 1);
		if (r->target_raw != NULL &&
		    (sp = strchr(r->target_raw, ' ')) != NULL)
			*sp = '\0';
	}
	if (r->target_raw == NULL)
		r->target_raw = hd->target;
	r->method_head = strcmp(hd->method, "HEAD") == 0;
	if (hd->asterisk)
		r->path = hd->path_raw;
	else {
		char *p;

		n = strlen(hd->path_raw);
		if ((p = arena_alloc(r->a, n + 2)) == NULL) {
			*why = "out of memory";
			return 500;
		}
		if (http_normalize_path(hd->path_raw, n, p, n + 2) != 0) {
			*why = "bad path (escape, NUL, encoded slash or ..)";
			return 400;
		}
		r->path = p;
	}
	if (hd->clen > cfg.max_body) {
		*why = "Content-Length over max_body";
		return 413;
	}
	if (hd->clen == -1 && !hd->chunked && hd->method[0] == 'P' &&
	    (strcmp(hd->method, "POST") == 0 || strcmp(hd->method, "PUT") ==
	    0 || strcmp(hd->method, "PATCH") == 0)) {
		*why = "body without Content-Length";
		return 411;
	}
	r->body_left = hd->clen > 0 ? hd->clen : 0;
	r->body_done = !hd->chunked && r->body_left == 0;
	return 0;
}

/* The scoreboard's line for a request: method and path, no query. */
static void
board_request(const struct ih_request *r)
{
	char line[BOARD_REQ];
	struct sbuf b;

	sb_init(&b, line, sizeof(line));
	sb_puts(&b, r->hd.method);
	sb_put(&b, " ", 1);
	sb_puts(&b, r->path != NULL ? r->path : "-");
	board_set(BS_WRITING, line, NULL);
}

/*
 * Serve requests on one connection until it closes, idles out or reaches
 * keepalive_requests.  Returns 0.
 */
int
serve_connection(int in, int out)
{
	struct conn c;
	struct arena a = { 0 };
	struct header *hdrs = NULL;
	int unread = 1;
	unsigned long long out0 = 0;

	if (conn_init(&c, in, out) == -1) {
		ih_log(IH_LOG_ERR, "out of memory");
		return 0;
	}
	ih_debug(IH_DBG_INIT, "connection from %s:%s", conn_who(&c), c.peer_port);
	hdrs = malloc((size_t)cfg.max_headers * sizeof(*hdrs));
	/*
	 * The peer is decided once, here (DESIGN: one function for every
	 * launch path): conn_init's answer, or the PROXY header's when this
	 * connection is to start with one.  Nothing answers a balancer
	 * whose header is refused: it closes.
	 */
	if (hdrs != NULL && serve_proxy && proxy_accept(&c) == -1) {
		free(hdrs);
		hdrs = NULL;
		c.closing = c.broken = 1;	/* nothing said: no linger */
	}
	memcpy(c.conn_peer, c.peer, sizeof(c.conn_peer));
	memcpy(c.conn_peer_port, c.peer_port, sizeof(c.conn_peer_port));
	board_set(BS_READING, "", conn_who(&c));
	/*
	 * The connection ACL runs before a byte of the request is read, and
	 * before a TLS handshake: a denied peer on a TLS port is closed with
	 * no page (a plain one would be noise to a TLS client).
	 */
	if (hdrs != NULL && acl_check_peer(&c, &a) != 0) {
		struct ih_request r;

		memset(&r, 0, sizeof(r));
		r.c = &c;
		r.a = &a;
		r.hd.query = "";
		r.t_start = now_real();
		if (serve_tls) {
			ih_log(IH_LOG_INFO, "%s: peer denied by the access "
			    "rules (TLS: closed without a page)", conn_who(&c));
			resp_set_error(&r, 403, NULL);
			c.closing = c.broken = 1;
			log_access(&r);
		} else
			early_error(&r, 403, "peer denied by the access rules");
	} else if (hdrs != NULL && serve_tls) {
		if (tls_start(&c) == -1)
			c.closing = 1;
		else
			c.https = 1;
	}
	while (hdrs != NULL && !c.closing) {
		struct ih_request r;
		const char *why = NULL;
		long len;
		char *head;
		int st;

		/*
		 * A graceful stop ends keep-alive at the request boundary; a
		 * connection just accepted still gets its first request.
		 */
		if (serve_stopping && c.nreq > 0 && c.ilen == c.ipos)
			break;
		/* (no keep-alive wait when the next request is here) */
		if (c.nreq > 0 && c.ilen == c.ipos)
			board_set(BS_KEEPALIVE, "", NULL);
		memset(&r, 0, sizeof(r));
		r.c = &c;
		r.a = &a;
		r.status = 200;
		r.hd.h = hdrs;
		r.hd.maxh = (int)cfg.max_headers;
		r.hd.clen = -1;
		r.hd.query = "";
		len = read_head(&c, &why);
		if (len == 0)
			break;
		r.t_start = now_real();
		unread = 1;
		out0 = c.bytes_out;
		/* (a whole head goes on to BS_WRITING at once: board_request) */
		if (len < 0) {
			board_set(BS_READING, NULL, NULL);
			if (c.ilen > c.ipos)
				save_request_line(&r, c.ibuf + c.ipos,
				    c.ilen - c.ipos);
			early_error(&r, (int)-len, why);
			break;
		}
		c.nreq++;
		/* Parse a copy: the buffer is reused for the body. */
		if ((head = arena_strndup(&a, c.ibuf + c.ipos, (size_t)len)) ==
		    NULL) {
			early_error(&r, 500, "out of memory");
			break;
		}
		c.ipos += (size_t)len;
		save_request_line(&r, head, (size_t)len);
		/* NUL has no place in a head (RFC 9110 5.5, RFC 9112 3). */
		if (memchr(head, '\0', (size_t)len) != NULL) {
			early_error(&r, 400, "NUL byte in the request head");
			break;
		}
		ih_debug(IH_DBG_REQ, "%s: %s", conn_who(&c), r.reqline ?
		    r.reqline : "-");
		if ((st = http_parse_head(head, (size_t)len, &r.hd)) != 0) {
			r.hd.nh = 0;
			early_error(&r, st, "malformed or unsupported request "
			    "head");
			break;
		}
		if ((st = prepare(&r, &why)) != 0) {
			early_error(&r, st, why);
			break;
		}
		/* A trusted proxy's word for who the client is, and the
		 * connection rules again for that client. */
		if (cfg.forwarded_for != FWD_OFF) {
			proxy_forwarded(&r);
			if (strcmp(c.peer, c.conn_peer) != 0 &&
			    acl_check_peer(&c, &a) != 0) {
				early_error(&r, 403, "forwarded-for peer denied "
				    "by the access rules");
				break;
			}
		}
		board_request(&r);
		pipeline_match(&r);
		pipeline_run(&r);
		/* Locks go before a byte of unread body is waited for. */
		sess_finish(&r);
		request_drain(&r);
		form_cleanup(&r);
		unread = !r.body_done;
		board_count(c.bytes_out - out0);
		arena_reset(&a);
		proxy_forwarded_end(&c);
		if (c.eof && c.ilen == c.ipos)
			break;
	}
	board_set(BS_CLOSING, NULL, NULL);
	if (c.closing && (unread || c.ilen > c.ipos || c.nreq == 0))
		conn_linger(&c);
	free(hdrs);
	arena_reset(&a);
	free(a.head);
	conn_free(&c);
	return 0;
}
