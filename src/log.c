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
unsigned log_debug_zones;

/* Is fd 2 the same socket as fd 0 (inetd's dup of the connection)? */
static int
stderr_client(void)
{
	struct stat s0, s2;

	if (stderr_is_client == -1)
		stderr_is_client = fstat(0, &s0) == 0 && fstat(2, &s2) == 0 &&
		    S_ISSOCK(s0.st_mode) && s0.st_dev == s2.st_dev &&
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
		if (stderr_client())
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

static void
vlogline(struct target *t, int prio, const char *tag, const char *fmt,
    va_list ap)
{
	char line[2048], stamp[80];
	time_t now = now_real();
	struct tm tm;
	int n = 0, m;

	if (t->kind != T_SYSLOG) {
		utc_tm(now, &tm);
		snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02dZ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		n = snprintf(line, sizeof(line), "%s ihttpd[%d]: %s: ", stamp,
		    (int)getpid(), tag);
	}
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		return;
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	/* One line each: control bytes in details become '?'. */
	for (m = 0; m < n; m++)
		if ((unsigned char)line[m] < 0x20)
			line[m] = '?';
	line[n++] = '\n';
	emit(t, prio, line, (size_t)n);
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

/* Append s to the line, bytes outside printable ASCII, " and \ as \xNN. */
static size_t
esc(char *out, size_t o, size_t cap, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	if (s == NULL || *s == '\0')
		s = "-";
	for (; *s != '\0' && o + 5 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else
			out[o++] = (char)c;
	}
	return o;
}

/*
 * One combined-format line for a request, whatever became of it
 * (malformed, denied, timed out): peer, user, time, request line,
 * status, body bytes, Referer, User-Agent.
 */
void
log_access(struct ih_request *r)
{
	static const char mons[12][4] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	char line[4096], bytes[24];
	time_t t = r->t_start ? r->t_start : now_real();
	struct tm tm;
	size_t o, cap = sizeof(line) - 2;

	if (acc.kind == T_OFF)
		return;
	utc_tm(t, &tm);
	o = esc(line, 0, cap, r->c->peer);
	o += (size_t)snprintf(line + o, cap - o, " - ");
	o = esc(line, o, cap, r->remote_user);
	if (r->body_sent > 0)
		snprintf(bytes, sizeof(bytes), "%llu", r->body_sent);
	else
		strcpy(bytes, "-");
	o += (size_t)snprintf(line + o, cap - o,
	    " [%02d/%s/%04d:%02d:%02d:%02d +0000] \"", tm.tm_mday,
	    mons[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	    tm.tm_sec);
	o = esc(line, o, cap, r->reqline);
	o += (size_t)snprintf(line + o, cap - o, "\" %d %s \"", r->status,
	    bytes);
	o = esc(line, o, cap, r->hd.nh > 0 ? ih_header(r, "Referer") : NULL);
	o += (size_t)snprintf(line + o, cap - o, "\" \"");
	o = esc(line, o, cap, r->hd.nh > 0 ? ih_header(r, "User-Agent") :
	    NULL);
	if (o > cap - 2)
		o = cap - 2;
	line[o++] = '"';
	line[o++] = '\n';
	emit(&acc, LOG_INFO, line, o);
}
