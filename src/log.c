/*
 * log.c - the access log (Apache's combined format, one write(2) per line
 * on an O_APPEND descriptor so concurrent processes never interleave),
 * the error log with levels, and debug zones.  Targets: a file, stderr,
 * syslog, or off (access log only).  In inetd mode standard output is the
 * client, and so is standard error when inetd dup'ed the socket there:
 * such a target falls back to syslog rather than writing into a response.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

enum { T_OFF, T_FD, T_SYSLOG };

struct target {
	int	kind;
	int	fd;
	int	own;	/* we opened fd */
};

static struct target acc = { T_OFF, -1, 0 };
static struct target err = { T_FD, 2, 0 };
static struct target dbg = { T_FD, 2, 0 };
static int stderr_is_client = -1;
static int syslog_open;
static int log_detached;	/* standard error is /dev/null now */
unsigned log_debug_zones;

/* Is fd 2 the same socket as fd 0 (inetd's dup of the connection)? */
static int
stderr_client(void)
{
	struct stat s0, s2;

	if (stderr_is_client == -1)
		stderr_is_client = stdio_type(0) == S_IFSOCK &&
		    stdio_type(2) == S_IFSOCK && fstat(0, &s0) == 0 &&
		    fstat(2, &s2) == 0 && s0.st_dev == s2.st_dev &&
		    s0.st_ino == s2.st_ino;
	return stderr_is_client;
}

static void
use_syslog(struct target *t)
{
	t->kind = T_SYSLOG;
	if (!syslog_open) {
		openlog("ihttpd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		syslog_open = 1;
	}
}

static int
open_target(struct target *t, const char *spec, const char *key,
    int allow_off)
{
	if (allow_off && strcmp(spec, "off") == 0) {
		t->kind = T_OFF;
		return 0;
	}
	if (strcmp(spec, "stdout") == 0) {
		ih_log(IH_LOG_ERR, "%s: stdout is the client connection; use "
		    "a file, stderr or syslog", key);
		return -1;
	}
	if (strcmp(spec, "syslog") == 0) {
		use_syslog(t);
		return 0;
	}
	if (strcmp(spec, "stderr") == 0) {
		if (stderr_client() || log_detached)
			use_syslog(t);
		else {
			t->kind = T_FD;
			t->fd = 2;
		}
		return 0;
	}
	t->fd = open(spec, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (t->fd == -1) {
		int e = errno;

		/* The error log itself may be the target that failed. */
		t->fd = 2;
		if (stderr_client())
			use_syslog(t);
		ih_log(IH_LOG_ERR, "%s %s: %s", key, spec, strerror(e));
		return -1;
	}
	t->kind = T_FD;
	t->own = 1;
	return 0;
}

/*
 * Open the log targets the config names.  The error log first, so that
 * problems with the others land in it.  0 or -1.
 */
int
log_open(int check_only)
{
	int rc = 0;

	if (stderr_client()) {
		use_syslog(&err);
		use_syslog(&dbg);
	}
	/* --check reports on stderr, wherever the error log would go. */
	if (check_only) {
		struct target probe = { T_OFF, -1, 0 };

		if (open_target(&probe, cfg.error_log, "error_log", 1) == -1)
			rc = -1;
		if (probe.own)
			close(probe.fd);
	} else if (open_target(&err, cfg.error_log, "error_log", 1) == -1)
		rc = -1;
	if (open_target(&acc, cfg.access_log, "access_log", 1) == -1)
		rc = -1;
	log_debug_zones = (unsigned)cfg.debug;
	if (log_debug_zones != 0 || check_only)
		if (open_target(&dbg, cfg.debug_log, "debug_log", 0) == -1)
			rc = -1;
	return rc;
}

/*
 * A background daemon's standard error goes to /dev/null: the targets
 * that were stderr move to syslog, now and at every reopen.
 */
void
log_detach(void)
{
	struct target *t[] = { &acc, &err, &dbg };
	size_t i;

	log_detached = 1;
	for (i = 0; i < 3; i++)
		if (t[i]->kind == T_FD && t[i]->fd == 2)
			use_syslog(t[i]);
}

/* USR1: open the log files again (after a rotation moved them). */
int
log_reopen(void)
{
	log_close();
	return log_open(0);
}

void
log_close(void)
{
	struct target *t[] = { &acc, &err, &dbg };
	size_t i;

	for (i = 0; i < 3; i++) {
		if (t[i]->own && t[i]->fd != -1)
			close(t[i]->fd);
		t[i]->own = 0;
		t[i]->fd = 2;
		t[i]->kind = T_FD;
	}
	if (syslog_open)
		closelog();
	syslog_open = 0;
}

static void
emit(struct target *t, int prio, const char *line, size_t len)
{
	if (t->kind == T_SYSLOG)
		syslog(prio, "%.*s", (int)(len > 0 ? len - 1 : 0), line);
	else if (t->kind == T_FD && t->fd != -1)
		(void)write_full(t->fd, line, len);
}

/*
 * One line into a target: stamp, pid and tag (not for syslog, which has
 * its own), then the message with control bytes and bytes >= 0x7f as
 * \xNN, so a decoded path cannot carry terminal escapes (C1 controls,
 * their UTF-8 forms, DEL) or a line break into the log.
 */
static void
vlogline(struct target *t, int prio, const char *tag, const char *fmt,
    va_list ap)
{
	char raw[2048], line[4096], stamp[80];
	time_t now = now_real();
	struct sbuf b;
	struct tm tm;
	int n;

	sb_init(&b, line, sizeof(line));
	if (t->kind != T_SYSLOG) {
		utc_tm(now, &tm);
		snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02dZ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		sb_printf(&b, "%s ihttpd[%d]: %s: ", stamp, (int)getpid(), tag);
	}
	if ((n = vsnprintf(raw, sizeof(raw), fmt, ap)) < 0)
		return;
	/* Room for "...\n" stays: a cut message says so. */
	sb_esc(&b, raw, sizeof(line) - b.len - 5, 0);
	if ((size_t)n >= sizeof(raw) && !b.trunc)
		sb_lit(&b, "...");
	sb_lit(&b, "\n");
	emit(t, prio, line, b.len);
}

void
ih_log(int level, const char *fmt, ...)
{
	static const char *const tags[] = { "error", "warning", "notice",
	    "info", "debug" };
	static const int prios[] = { LOG_ERR, LOG_WARNING, LOG_NOTICE,
	    LOG_INFO, LOG_DEBUG };
	va_list ap;

	if (level < 0)
		level = 0;
	if (level > 4)
		level = 4;
	if (level > cfg.log_level)
		return;
	if (err.kind == T_FD && err.fd == 2 && stderr_client())
		use_syslog(&err);
	va_start(ap, fmt);
	vlogline(&err, prios[level], tags[level], fmt, ap);
	va_end(ap);
}

#undef ih_debug	/* the function itself (internal.h wraps it) */
void
ih_debug(unsigned zone, const char *fmt, ...)
{
	static const char *const names[] = { "INIT", "PROC", "REQ", "RESP",
	    "AUTH", "FILE", "READ", "SEND" };
	va_list ap;
	unsigned i;

	if ((log_debug_zones & zone) == 0)
		return;
	for (i = 0; i < 8 && (zone & (1u << i)) == 0; i++)
		;
	va_start(ap, fmt);
	vlogline(&dbg, LOG_DEBUG, i < 8 ? names[i] : "DEBUG", fmt, ap);
	va_end(ap);
}

/*
 * Room for each field of an access line, escaped: every line holds all
 * nine fields and both pairs of quotes whatever a client sends, so a
 * long request is cut (ending in "...") and never the line.
 */
#define ALOG_PEER	64	/* struct conn's peer_log holds it */
#define ALOG_USER	256
#define ALOG_REQUEST	2048
#define ALOG_REFERER	700
#define ALOG_AGENT	700
#define ALOG_LINE	4096
_Static_assert(ALOG_PEER + ALOG_USER + ALOG_REQUEST + ALOG_REFERER + ALOG_AGENT +
    128 < ALOG_LINE, "the fixed parts of an access line need 128 bytes");

/* Two digits, zero-padded. */
static void
put_2d(struct sbuf *b, int v)
{
	char d[2] = { (char)('0' + v / 10 % 10), (char)('0' + v % 10) };

	sb_put(b, d, 2);
}

/*
 * One combined-format line for a request, whatever became of it
 * (malformed, denied, timed out, dropped): peer, user, time, request
 * line, status (444 for a connection dropped without a response), body
 * bytes actually sent, Referer, User-Agent.
 */
void
log_access(struct ih_request *r)
{
	static const char mons[12][4] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	/* " [02/Dec/2026:17:35:32 +0000] \"", made once a second */
	static char when[33];
	static time_t when_t = -1;
	char line[ALOG_LINE];
	time_t t = r->t_start ? r->t_start : now_real();
	unsigned long long bytes = resp_body_bytes(r);
	struct sbuf b;
	struct tm tm;

	if (acc.kind == T_OFF)
		return;
	if (t != when_t) {
		utc_tm(t, &tm);
		sb_init(&b, when, sizeof(when));
		sb_lit(&b, " [");
		put_2d(&b, tm.tm_mday);
		sb_put(&b, "/", 1);
		sb_put(&b, mons[tm.tm_mon], 3);
		sb_put(&b, "/", 1);
		sb_num(&b, (unsigned long long)tm.tm_year + 1900);
		sb_put(&b, ":", 1);
		put_2d(&b, tm.tm_hour);
		sb_put(&b, ":", 1);
		put_2d(&b, tm.tm_min);
		sb_put(&b, ":", 1);
		put_2d(&b, tm.tm_sec);
		sb_lit(&b, " +0000] \"");
		when_t = t;
	}
	sb_init(&b, line, sizeof(line));
	/* A peer without an address: the unspecified address, which log
	 * readers take (goaccess refuses "-" as a host). */
	if (r->c->peer_log_len == 0) {	/* once a connection */
		struct sbuf pb;

		sb_init(&pb, r->c->peer_log, sizeof(r->c->peer_log));
		sb_esc(&pb, r->c->peer[0] != '\0' ? r->c->peer : "0.0.0.0",
		    ALOG_PEER, ESC_QUOTE | ESC_BARE);
		r->c->peer_log_len = pb.len;
	}
	sb_put(&b, r->c->peer_log, r->c->peer_log_len);
	sb_lit(&b, " - ");
	sb_esc(&b, r->remote_user, ALOG_USER, ESC_QUOTE | ESC_BARE);
	sb_puts(&b, when);
	sb_esc(&b, r->reqline, ALOG_REQUEST, ESC_QUOTE);
	sb_lit(&b, "\" ");
	sb_num(&b, (unsigned long long)resp_log_status(r));
	sb_put(&b, " ", 1);
	if (bytes > 0)
		sb_num(&b, bytes);
	else
		sb_put(&b, "-", 1);
	sb_lit(&b, " \"");
	sb_esc(&b, r->hd.nh > 0 ? r->hd.referer : NULL, ALOG_REFERER,
	    ESC_QUOTE);
	sb_lit(&b, "\" \"");
	sb_esc(&b, r->hd.nh > 0 ? r->hd.user_agent : NULL,
	    ALOG_AGENT, ESC_QUOTE);
	sb_lit(&b, "\"\n");
	emit(&acc, LOG_INFO, line, b.len);
}
