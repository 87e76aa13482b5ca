/*
 * status.c - `Service fn=status`: the server's status page, read from the
 * scoreboard (board.c), so that it shows the one process in inetd and
 * pipe mode and every worker in the standalone daemon.  Three forms of
 * the same snapshot: an HTML page (self-contained, no script), JSON
 * (`?json`, or Accept: application/json) and the Prometheus text
 * exposition format (`?prometheus`).  GET and HEAD only; never cached.
 * The board holds requests without their query strings; every string
 * from it is escaped for the form it goes into.  Who may see the page is
 * the config's business (PathCheck fn=acl): nothing exposes it by itself.
 */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

enum { FMT_HTML, FMT_JSON, FMT_PROM };

/* Per state: its name (JSON, Prometheus), grid letter and colour. */
static const struct {
	const char	*name;
	char		 letter;
	const char	*colour;
} states[BS_NSTATES] = {
	[BS_EMPTY] =	 { "empty",	'.', "#eeeeee" },
	[BS_STARTING] =	 { "starting",	'S', "#f3d37a" },
	[BS_IDLE] =	 { "idle",	'_', "#b9e4b4" },
	[BS_READING] =	 { "reading",	'R', "#8fb4e3" },
	[BS_WRITING] =	 { "writing",	'W', "#f0a35e" },
	[BS_KEEPALIVE] = { "keepalive",	'K', "#c6a4d8" },
	[BS_CLOSING] =	 { "closing",	'C', "#e38b8b" },
};

/* One copy of the board, taken slot by slot. */
struct snap {
	struct board_slot *slot;
	int		 nslots;
	int		 count[BS_NSTATES];
	unsigned long long requests, conns, bytes;
	int64_t		 now_ms, uptime_ms;
	double		 rate;		/* requests a second since start */
};

static const char *
state_name(int st)
{
	return st >= 0 && st < BS_NSTATES ? states[st].name : "unknown";
}

static const char *
type_name(int type)
{
	switch (type) {
	case SRV_SINGLE:	return "single";
	case SRV_FORK:		return "fork";
	case SRV_PREFORKSIMPLE:	return "preforksimple";
	case SRV_PREFORK:	return "prefork";
	default:		return "inetd";
	}
}

/* Reading and on: in the middle of a connection. */
static int
is_busy(int st)
{
	return st >= BS_READING && st < BS_NSTATES;
}

static int
take_snap(struct ih_request *r, struct snap *sn)
{
	int i;

	memset(sn, 0, sizeof(*sn));
	sn->nslots = board_nslots();
	sn->slot = arena_alloc(r->a, (size_t)sn->nslots * sizeof(*sn->slot));
	if (sn->slot == NULL)
		return -1;
	sn->now_ms = now_real_ms();
	for (i = 0; i < sn->nslots; i++) {
		struct board_slot *s = &sn->slot[i];

		board_read(i, s);
		if (s->state < 0 || s->state >= BS_NSTATES)
			s->state = BS_EMPTY;
		sn->count[s->state]++;
		sn->requests += s->requests;
		sn->conns += s->conns;
		sn->bytes += s->bytes;
	}
	sn->requests += __atomic_load_n(&board->done_requests, __ATOMIC_RELAXED);
	sn->conns += __atomic_load_n(&board->done_conns, __ATOMIC_RELAXED);
	sn->bytes += __atomic_load_n(&board->done_bytes, __ATOMIC_RELAXED);
	sn->uptime_ms = sn->now_ms > board->start_ms ?
	    sn->now_ms - board->start_ms : 0;
	sn->rate = sn->uptime_ms > 0 ?
	    (double)sn->requests * 1000.0 / (double)sn->uptime_ms : 0.0;
	return 0;
}

static long long
secs_since(const struct snap *sn, int64_t ms)
{
	return ms > 0 && sn->now_ms > ms ? (sn->now_ms - ms) / 1000 : 0;
}

/* ---- HTML ------------------------------------------------------------ */

static void
html_uptime(struct ih_request *r, int64_t ms)
{
	long long s = ms / 1000;

	if (s >= 86400)
		ih_printf(r, "%lldd ", s / 86400);
	ih_printf(r, "%02lld:%02lld:%02lld", s / 3600 % 24, s / 60 % 60,
	    s % 60);
}

static void
html_head(struct ih_request *r)
{
	int i;

	ih_puts(r, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\"><title>ihttpd status</title>\n<style>\n"
	    "body{font:15px/1.4 system-ui,sans-serif;margin:2em;color:#222}\n"
	    "table{border-collapse:collapse}\n"
	    "th,td{padding:.2em .8em;text-align:left;vertical-align:top}\n"
	    ".kv th{font-weight:normal;color:#555}\n"
	    ".busy th{border-bottom:1px solid #999}\n"
	    ".busy td{border-bottom:1px solid #ddd}\n"
	    ".grid{display:flex;flex-wrap:wrap;max-width:44em;gap:2px}\n"
	    ".c{display:inline-block;width:1.4em;text-align:center;"
	    "font:13px/1.4 monospace;border-radius:2px}\n"
	    ".legend span.c{margin:0 .3em 0 1em}\n");
	for (i = 0; i < BS_NSTATES; i++)
		ih_printf(r, ".s%d{background:%s}\n", i, states[i].colour);
	ih_puts(r, "</style></head>\n<body>\n<h1>ihttpd status</h1>\n");
}

static void
html_summary(struct ih_request *r, const struct snap *sn)
{
	ih_printf(r, "<table class=\"kv\">\n"
	    "<tr><th>Server</th><td>ihttpd/%s</td></tr>\n"
	    "<tr><th>Type</th><td>%s</td></tr>\n"
	    "<tr><th>Master pid</th><td>%ld</td></tr>\n"
	    "<tr><th>Uptime</th><td>", IHTTPD_VERSION, type_name(board->type),
	    (long)board->master);
	html_uptime(r, sn->uptime_ms);
	ih_printf(r, "</td></tr>\n"
	    "<tr><th>Requests</th><td>%llu (%.2f a second)</td></tr>\n"
	    "<tr><th>Bytes sent</th><td>%llu</td></tr>\n"
	    "<tr><th>Connections</th><td>%llu</td></tr>\n"
	    "<tr><th>Workers</th><td>max_servers %d, slots %d, "
	    "spawned %llu, exited %llu, restarts %d</td></tr>\n"
	    "</table>\n", sn->requests, sn->rate, sn->bytes, sn->conns,
	    board->max_servers, sn->nslots, board->spawned, board->exited,
	    board->restarts);
}

/* One cell per slot, its letter in its state's colour; a legend. */
static void
html_grid(struct ih_request *r, const struct snap *sn)
{
	const struct board_slot *s;
	int i;

	ih_puts(r, "<h2>Scoreboard</h2>\n<p class=\"legend\">");
	for (i = 0; i < BS_NSTATES; i++)
		ih_printf(r, "<span class=\"c s%d\">%c</span>%s: %d\n", i,
		    states[i].letter, states[i].name, sn->count[i]);
	ih_puts(r, "</p>\n<div class=\"grid\">\n");
	for (i = 0; i < sn->nslots; i++) {
		s = &sn->slot[i];
		ih_printf(r, "<span class=\"c s%d\" title=\"slot %d", s->state,
		    i);
		if (s->state != BS_EMPTY)
			ih_printf(r, ": pid %ld, %s, %llu requests",
			    (long)s->pid, state_name(s->state), s->requests);
		ih_printf(r, "\">%c</span>\n", states[s->state].letter);
	}
	ih_puts(r, "</div>\n");
}

static void
html_busy(struct ih_request *r, const struct snap *sn)
{
	const struct board_slot *s;
	int i, n = 0;

	ih_puts(r, "<h2>Busy workers</h2>\n");
	for (i = 0; i < sn->nslots; i++) {
		s = &sn->slot[i];
		if (!is_busy(s->state))
			continue;
		if (n++ == 0)
			ih_puts(r, "<table class=\"busy\">\n<tr><th>Slot</th>"
			    "<th>PID</th><th>State</th><th>Seconds</th>"
			    "<th>Requests</th><th>Peer</th><th>Request</th>"
			    "</tr>\n");
		ih_printf(r, "<tr><td>%d</td><td>%ld</td><td>%s</td>"
		    "<td>%lld</td><td>%llu</td><td>", i, (long)s->pid,
		    state_name(s->state), secs_since(sn, s->since_ms),
		    s->requests);
		ih_write_html(r, s->peer);
		ih_puts(r, "</td><td>");
		ih_write_html(r, s->req);
		ih_puts(r, "</td></tr>\n");
	}
	ih_puts(r, n > 0 ? "</table>\n" : "<p>None.</p>\n");
}

static void
send_html(struct ih_request *r, const struct snap *sn)
{
	ih_set_type(r, "text/html; charset=utf-8");
	html_head(r);
	html_summary(r, sn);
	html_grid(r, sn);
	html_busy(r, sn);
	ih_puts(r, "</body></html>\n");
}

/* ---- JSON ------------------------------------------------------------ */

/*
 * The length of the valid UTF-8 sequence at p (RFC 3629: no overlong
 * forms, surrogates or code points past U+10FFFF), or 0.
 */
static size_t
utf8_len(const unsigned char *p)
{
	uint32_t c;
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		c = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		c = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		c = p[0] & 0x07;
	} else
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)	/* also stops at the NUL */
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
	    (n == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return n;
}

/*
 * A JSON string (RFC 8259 7): '"', '\\' and control bytes escaped, valid
 * UTF-8 passed through, and each byte of an invalid sequence (a request
 * line may hold any octet, and the board cuts text mid-character) sent
 * as U+FFFD, as Go's encoding/json does: the output is always valid.
 */
static void
json_str(struct ih_request *r, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	ih_puts(r, "\"");
	while (*p != '\0') {
		if (*p == '"' || *p == '\\') {
			ih_printf(r, "\\%c", *p);
			p++;
		} else if (*p < 0x20 || *p == 0x7f) {
			ih_printf(r, "\\u%04x", *p);
			p++;
		} else if ((n = utf8_len(p)) == 0) {
			ih_puts(r, "\\ufffd");
			p++;
		} else {
			ih_write(r, p, n);
			p += n;
		}
	}
	ih_puts(r, "\"");
}

static void
json_slot(struct ih_request *r, const struct snap *sn, int i)
{
	const struct board_slot *s = &sn->slot[i];

	ih_printf(r, "{\"slot\": %d, \"pid\": %ld, \"state\": \"%s\", "
	    "\"seconds\": %lld, \"requests\": %llu, \"connections\": %llu, "
	    "\"bytes\": %llu, \"peer\": ", i, (long)s->pid,
	    state_name(s->state), secs_since(sn, s->since_ms), s->requests,
	    s->conns, s->bytes);
	json_str(r, s->peer);
	ih_puts(r, ", \"request\": ");
	json_str(r, s->req);
	ih_puts(r, "}");
}

static void
send_json(struct ih_request *r, const struct snap *sn)
{
	int i, n = 0;

	ih_set_type(r, "application/json");
	ih_puts(r, "{\"version\": ");
	json_str(r, IHTTPD_VERSION);
	ih_printf(r, ", \"type\": \"%s\", \"master_pid\": %ld, "
	    "\"start_time\": %lld, \"uptime_seconds\": %.3f, "
	    "\"requests\": %llu, \"bytes\": %llu, \"connections\": %llu, "
	    "\"requests_per_second\": %.3f, \"max_servers\": %d, "
	    "\"slots\": %d, \"spawned\": %llu, \"exited\": %llu, "
	    "\"restarts\": %d,\n \"states\": {", type_name(board->type),
	    (long)board->master, (long long)(board->start_ms / 1000),
	    (double)sn->uptime_ms / 1000.0, sn->requests, sn->bytes,
	    sn->conns, sn->rate, board->max_servers, sn->nslots,
	    board->spawned, board->exited, board->restarts);
	for (i = 0; i < BS_NSTATES; i++)
		ih_printf(r, "%s\"%s\": %d", i > 0 ? ", " : "", states[i].name,
		    sn->count[i]);
	ih_puts(r, "},\n \"workers\": [");
	for (i = 0; i < sn->nslots; i++) {
		if (sn->slot[i].state == BS_EMPTY)
			continue;
		ih_puts(r, n++ > 0 ? ",\n  " : "\n  ");
		json_slot(r, sn, i);
	}
	ih_puts(r, "]}\n");
}

/* ---- Prometheus ------------------------------------------------------ */

static void
prom_metric(struct ih_request *r, const char *name, const char *type,
    const char *help)
{
	ih_printf(r, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The text exposition format, version 0.0.4; no per-slot series. */
static void
send_prom(struct ih_request *r, const struct snap *sn)
{
	int i;

	ih_set_type(r, "text/plain; version=0.0.4");
	prom_metric(r, "ihttpd_info", "gauge",
	    "The server's version and process model.");
	ih_printf(r, "ihttpd_info{version=\"%s\",type=\"%s\"} 1\n",
	    IHTTPD_VERSION, type_name(board->type));
	prom_metric(r, "ihttpd_uptime_seconds", "gauge",
	    "Seconds since the server started.");
	ih_printf(r, "ihttpd_uptime_seconds %.3f\n",
	    (double)sn->uptime_ms / 1000.0);
	prom_metric(r, "ihttpd_requests_total", "counter",
	    "Requests answered.");
	ih_printf(r, "ihttpd_requests_total %llu\n", sn->requests);
	prom_metric(r, "ihttpd_bytes_total", "counter",
	    "Bytes sent in responses.");
	ih_printf(r, "ihttpd_bytes_total %llu\n", sn->bytes);
	prom_metric(r, "ihttpd_connections_total", "counter",
	    "Connections accepted.");
	ih_printf(r, "ihttpd_connections_total %llu\n", sn->conns);
	prom_metric(r, "ihttpd_workers", "gauge", "Workers by state.");
	for (i = BS_STARTING; i < BS_NSTATES; i++)
		ih_printf(r, "ihttpd_workers{state=\"%s\"} %d\n",
		    states[i].name, sn->count[i]);
	prom_metric(r, "ihttpd_max_servers", "gauge",
	    "The most workers allowed now.");
	ih_printf(r, "ihttpd_max_servers %d\n", board->max_servers);
	prom_metric(r, "ihttpd_workers_spawned_total", "counter",
	    "Workers started.");
	ih_printf(r, "ihttpd_workers_spawned_total %llu\n", board->spawned);
	prom_metric(r, "ihttpd_workers_exited_total", "counter",
	    "Workers that have exited.");
	ih_printf(r, "ihttpd_workers_exited_total %llu\n", board->exited);
}

/* ---- the service ----------------------------------------------------- */

/* Does the query hold a parameter key (`key`, `key=...`)? */
static int
query_has(const char *q, const char *key)
{
	size_t kl = strlen(key), n;

	while (*q != '\0') {
		n = strcspn(q, "&");
		if (n >= kl && strncmp(q, key, kl) == 0 &&
		    (n == kl || q[kl] == '='))
			return 1;
		q += n;
		if (*q == '&')
			q++;
	}
	return 0;
}

static int
pick_format(struct ih_request *r)
{
	const char *q = ih_query(r), *accept;

	if (query_has(q, "prometheus"))
		return FMT_PROM;
	if (query_has(q, "json"))
		return FMT_JSON;
	accept = ih_header(r, "Accept");
	if (accept != NULL && strcasestr(accept, "application/json") != NULL)
		return FMT_JSON;
	return FMT_HTML;
}

static int
status_check(const struct ih_args *args, char *err, size_t len)
{
	const char *k;

	if (ih_arg_at(args, 0, &k) != NULL) {
		snprintf(err, len, "takes no arguments ('%s')", k);
		return -1;
	}
	return 0;
}

/*
 * Service status: the scoreboard as HTML, JSON or Prometheus text.  GET
 * and HEAD; other methods 405 with Allow.
 */
static int
status_service(struct ih_request *r, const struct ih_args *args)
{
	struct snap sn;
	const char *m = ih_method(r);

	(void)args;
	resp_add_header_raw(r, "Cache-Control", "no-store");
	if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
		resp_add_header_raw(r, "Allow", "GET, HEAD");
		return ih_error(r, 405, "status: method not allowed");
	}
	if (take_snap(r, &sn) == -1)
		return ih_error(r, 500, "status: out of memory");
	resp_add_header_raw(r, "Vary", "Accept");
	switch (pick_format(r)) {
	case FMT_JSON:
		send_json(r, &sn);
		break;
	case FMT_PROM:
		send_prom(r, &sn);
		break;
	default:
		send_html(r, &sn);
		break;
	}
	return IH_PROCEED;
}
IH_FUNCTION("status", IH_PH(IH_SERVICE), status_service, status_check);
