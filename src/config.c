/*
 * config.c - the config model: built-in defaults, the config file (global
 * `key value` lines, <Object> blocks of phase directives, Init lines) and
 * `--key value` options, applied in that order so that the command line
 * wins.  Every error names FILE:LINE (or the option) and, for a misspelt
 * key or function, the nearest known name; the server never runs with a
 * half-read config.  `--check` also compiles every regex and checks the
 * files the config names.
 *
 * The file is read once into memory and parsed in place; strings point
 * into that copy.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "internal.h"

struct config cfg;

enum ktype { K_STR, K_INT, K_SIZE, K_LIST, K_ZONES, K_ENUM, K_ERRPAGE,
	K_MULTI, K_MULTIC };

struct key {
	const char	*name;
	enum ktype	 type;
	size_t		 off;
	const char	*def;		/* NULL: unset */
	long long	 min, max;
	const char	*help;
	const char	*choices;	/* K_ENUM: "a|b|c", stored as 0, 1, 2 */
};

#define ONOFF	"off|on"

#define O(f)	offsetof(struct config, f)

/* Sorted by name: looked up with bsearch. */
static const struct key keys[] = {
	{ "access_log", K_STR, O(access_log), "stderr", 0, 0,
	    "access log: FILE, stderr, syslog or off", NULL },
	{ "allow", K_MULTI, O(allow), NULL, 0, 0,
	    "peers allowed: POSIX regexes on the address (repeatable)", NULL },
	{ "background", K_ENUM, O(background), "off", 0, 0,
	    "standalone: detach (fork, setsid, stdio to /dev/null)", ONOFF },
	{ "body_min_rate", K_SIZE, O(body_min_rate), "2k", 1, 1024 * 1024 * 1024,
	    "slowest body upload given time: body_timeout + size/rate s", NULL },
	{ "body_timeout", K_INT, O(body_timeout), "30", 1, 3600,
	    "seconds a request body may stall before 408", NULL },
	{ "cgi_max_header", K_SIZE, O(cgi_max_header), "16k", 256,
	    1024 * 1024, "largest header block a CGI script may print before "
	    "502", NULL },
	{ "cgi_pass_env", K_LIST, O(cgi_pass_env), NULL, 0, 0,
	    "variables of the server's environment passed to CGI scripts",
	    NULL },
	{ "cgi_path", K_STR, O(cgi_path), "/usr/local/bin:/usr/bin:/bin", 0, 0,
	    "PATH of CGI scripts", NULL },
	{ "cgi_rlimit_as", K_SIZE, O(cgi_rlimit_as), "0", 0, LLONG_MAX / 2,
	    "address space of a CGI script (k, m, g; 0: no limit)", NULL },
	{ "cgi_rlimit_cpu", K_INT, O(cgi_rlimit_cpu), "0", 0, 86400,
	    "CPU seconds of a CGI script (0: no limit)", NULL },
	{ "cgi_rlimit_nproc", K_INT, O(cgi_rlimit_nproc), "0", 0, 1000000,
	    "processes of the CGI scripts' user (0: no limit)", NULL },
	{ "cgi_strict", K_ENUM, O(cgi_strict), "on", 0, 0,
	    "refuse a CGI script that is group- or world-writable, or in "
	    "such a directory: on or off", ONOFF },
	{ "cgi_timeout", K_INT, O(cgi_timeout), "60", 1, 86400,
	    "seconds a CGI script may go without output before it is killed "
	    "(504)", NULL },
	{ "charset", K_STR, O(charset), NULL, 0, 0,
	    "charset parameter added to text/* types", NULL },
	{ "chroot", K_STR, O(chroot), NULL, 0, 0,
	    "standalone: workers chroot here (docroot and datadir inside it)",
	    NULL },
	{ "cidr_allow", K_MULTIC, O(cidr_allow), NULL, 0, 0,
	    "peers allowed: IPv4/IPv6 CIDR blocks (repeatable)", NULL },
	{ "cidr_deny", K_MULTIC, O(cidr_deny), NULL, 0, 0,
	    "peers denied: IPv4/IPv6 CIDR blocks (repeatable)", NULL },
	{ "datadir", K_STR, O(datadir), "/var/lib/ihttpd", 0, 0,
	    "directory for server state (Digest secret and nonce counts)",
	    NULL },
	{ "debug", K_ZONES, O(debug), NULL, 0, 0,
	    "debug zones: INIT,PROC,REQ,RESP,AUTH,FILE,READ,SEND,ALL", NULL },
	{ "debug_log", K_STR, O(debug_log), "stderr", 0, 0,
	    "where debug lines go: FILE, stderr or syslog", NULL },
	{ "default_type", K_STR, O(default_type), "application/octet-stream",
	    0, 0, "type of a file whose extension is unknown", NULL },
	{ "deny", K_MULTI, O(deny), NULL, 0, 0,
	    "peers denied: POSIX regexes on the address (repeatable)", NULL },
	{ "digest_legacy", K_ENUM, O(digest_legacy), "off", 0, 0,
	    "accept RFC 2069 Digest (no qop, no replay check): on or off",
	    ONOFF },
	{ "docroot", K_STR, O(docroot), "/var/www/html", 0, 0,
	    "directory files are served from", NULL },
	{ "error_log", K_STR, O(error_log), "stderr", 0, 0,
	    "error log: FILE, stderr, syslog or off", NULL },
	{ "error_page", K_ERRPAGE, O(error_pages), NULL, 0, 0,
	    "\"CODE /path\": serve /path as the page for CODE (repeatable)",
	    NULL },
	{ "file_cache_valid", K_INT, O(file_cache_valid), "1", 0, 3600,
	    "seconds an open file is served before its path is opened and "
	    "checked again (0: no open-file cache)", NULL },
	{ "forwarded_for", K_ENUM, O(forwarded_for), "off", 0, 0,
	    "the peer from X-Forwarded-For or Forwarded (RFC 7239) sent by "
	    "trusted_proxies: off, x-forwarded-for or forwarded",
	    "off|x-forwarded-for|forwarded" },
	{ "graceful_timeout", K_INT, O(graceful_timeout), "30", 1, 86400,
	    "standalone: seconds QUIT waits for requests in flight", NULL },
	{ "group", K_STR, O(group), NULL, 0, 0,
	    "standalone: group the workers run as (default: user's)", NULL },
	{ "gzip_static", K_ENUM, O(gzip_static), "off", 0, 0,
	    "send FILE.br or FILE.gz when the client accepts it: on or off",
	    ONOFF },
	{ "header_timeout", K_INT, O(header_timeout), "15", 1, 3600,
	    "seconds to read a request head before 408", NULL },
	{ "hsts", K_STR, O(hsts), "off", 0, 0,
	    "TLS responses: Strict-Transport-Security, off or \"SECONDS "
	    "[includeSubDomains] [preload]\"", NULL },
	{ "idle_exit", K_INT, O(idle_exit), "60", 1, 86400,
	    "wait mode (inetd wait, fd 0 listening): exit after idle seconds",
	    NULL },
	{ "index", K_LIST, O(index), "index.html index.htm", 0, 0,
	    "index files tried for a directory, in order", NULL },
	{ "keepalive_requests", K_INT, O(keepalive_requests), "100", 1,
	    1000000, "requests served on one connection", NULL },
	{ "keepalive_timeout", K_INT, O(keepalive_timeout), "5", 0, 3600,
	    "seconds a connection may idle between requests", NULL },
	{ "listen_backlog", K_INT, O(listen_backlog), "511", 1, 65535,
	    "standalone: connections queued by the kernel before accept",
	    NULL },
	{ "listing", K_ENUM, O(listing), "off", 0, 0,
	    "HTML listing of a directory without an index: on or off",
	    ONOFF },
	{ "lock_timeout", K_INT, O(lock_timeout), "10", 1, 3600,
	    "seconds to wait for a session or nonce lock before 503", NULL },
	{ "log_level", K_INT, O(log_level), "2", 0, 4,
	    "error log detail: 0 errors .. 4 debug", NULL },
	{ "magic", K_ENUM, O(magic), "off", 0, 0,
	    "type unknown extensions by content (libmagic): on or off",
	    ONOFF },
	{ "max_body", K_SIZE, O(max_body), "10m", 0, LLONG_MAX / 2,
	    "largest request body (k, m, g suffixes) before 413", NULL },
	{ "max_field", K_SIZE, O(max_field), "64k", 1, 1024 * 1024,
	    "largest multipart field kept in memory before 413", NULL },
	{ "max_form", K_SIZE, O(max_form), "1m", 1, 1024 * 1024,
	    "largest urlencoded body parsed into parameters before 413",
	    NULL },
	{ "max_header_size", K_SIZE, O(max_header_size), "16k", 256,
	    1024 * 1024, "largest request head in bytes before 431", NULL },
	{ "max_headers", K_INT, O(max_headers), "100", 1, 10000,
	    "most header fields in a request before 431", NULL },
	{ "max_parts", K_INT, O(max_parts), "1000", 1, 1000000,
	    "most parts in a multipart/form-data body before 413", NULL },
	{ "max_ranges", K_INT, O(max_ranges), "16", 1, 1000,
	    "most ranges in one request; above it the whole file is sent",
	    NULL },
	{ "max_request_line", K_SIZE, O(max_request_line), "8k", 64,
	    1024 * 1024, "longest request line in bytes before 414", NULL },
	{ "max_requests", K_INT, O(max_requests), "1000", 1, 1000000000,
	    "standalone: connections a worker serves before it is replaced",
	    NULL },
	{ "max_servers", K_INT, O(max_servers), "50", 1, 4096,
	    "standalone: most workers (or fork children) at once", NULL },
	{ "max_sessions", K_INT, O(max_sessions), "10000", 1, 100000000,
	    "most live sessions in the store; a new one past it gets 503",
	    NULL },
	{ "max_spare_servers", K_INT, O(max_spare_servers), "10", 1, 4096,
	    "prefork: idle workers above this are stopped", NULL },
	{ "mimetypes", K_STR, O(mimetypes), NULL, 0, 0,
	    "mime.types file (default: the table built in from "
	    "conf/mime.types)", NULL },
	{ "min_servers", K_INT, O(min_servers), "5", 0, 4096,
	    "prefork: workers started, and never fewer", NULL },
	{ "min_spare_servers", K_INT, O(min_spare_servers), "2", 0, 4096,
	    "prefork: idle workers below this start more", NULL },
	{ "nonce_slots", K_INT, O(nonce_slots), "16384", 256, 16777216,
	    "live Digest nonces the replay table tracks (fixed-size file)",
	    NULL },
	{ "nonce_store", K_ENUM, O(nonce_store), "files", 0, 0,
	    "where Digest nonce counts (and the secret) live: files or redis",
	    "files|redis" },
	{ "nonce_ttl", K_INT, O(nonce_ttl), "300", 10, 86400,
	    "seconds a Digest nonce stays fresh (then stale=true)", NULL },
	{ "pid_file", K_STR, O(pid_file), NULL, 0, 0,
	    "standalone: write the master's pid here (created exclusively)",
	    NULL },
	{ "port", K_MULTI, O(ports), NULL, 0, 0,
	    "standalone: listen on PORT, HOST:PORT, [V6]:PORT, *:PORT, "
	    "unix:/path, 0 or scan (repeatable)", NULL },
	{ "proxy_protocol", K_ENUM, O(proxy_protocol), "off", 0, 0,
	    "inetd and pipe mode (and sockets passed without a spec) expect "
	    "a PROXY header from trusted_proxies: on or off", ONOFF },
	{ "rate_limit", K_STR, O(rate_limit), NULL, 0, 0,
	    "per-client requests: \"N/s burst M\" (or N/m), 429 beyond; "
	    "off", NULL },
	{ "rate_limit_slots", K_INT, O(rate_limit_slots), "8192", 64,
	    16777216,
	    "per-client rate-limit buckets kept per machine (fixed-size table)",
	    NULL },
	{ "rate_limit_store", K_ENUM, O(rate_limit_store), "local", 0, 0,
	    "rate-limit buckets shared by this machine (local) or by every "
	    "node (redis)", "local|redis" },
	{ "redis_address", K_STR, O(redis_address), "127.0.0.1:6379", 0, 0,
	    "Redis server: HOST:PORT, [V6]:PORT or a unix socket path", NULL },
	{ "redis_password_file", K_STR, O(redis_password_file), NULL, 0, 0,
	    "a file holding the Redis password (AUTH), or USER PASSWORD",
	    NULL },
	{ "redis_prefix", K_STR, O(redis_prefix), "ihttpd:", 0, 0,
	    "prefix of every Redis key the server uses", NULL },
	{ "redis_timeout", K_INT, O(redis_timeout), "500", 1, 60000,
	    "ms for connecting to Redis and for each answer, then 503", NULL },
	{ "remote_addr", K_STR, O(remote_addr), NULL, 0, 0,
	    "peer address reported when stdin is not a socket", NULL },
	{ "reverse_lookups", K_ENUM, O(reverse_lookups), "off", 0, 0,
	    "match allow/deny on the peer's name too: off, on or double" ,
	    "off|on|double" },
	{ "send_min_rate", K_SIZE, O(send_min_rate), "2k", 1, 1024 * 1024 * 1024,
	    "slowest reader a response is given time for: send_timeout + "
	    "size/rate s", NULL },
	{ "send_timeout", K_INT, O(send_timeout), "60", 1, 3600,
	    "seconds a client may stall reading the response", NULL },
	{ "serialize", K_ENUM, O(serialize), "epoll", 0, 0,
	    "standalone: workers take turns at accept: epoll, flock or none",
	    "epoll|flock|none" },
	{ "server_name", K_STR, O(server_name), NULL, 0, 0,
	    "SERVER_NAME for handlers (default: Host, else local address)",
	    NULL },
	{ "server_tokens", K_STR, O(server_tokens), NULL, 0, 0,
	    "text appended to the Server header", NULL },
	{ "session_cookie", K_STR, O(session_cookie), "ihttpd_session", 0, 0,
	    "name of the session cookie", NULL },
	{ "session_store", K_ENUM, O(session_store), "files", 0, 0,
	    "where sessions live: files (datadir) or redis", "files|redis" },
	{ "session_ttl", K_INT, O(session_ttl), "3600", 10, 31536000,
	    "seconds a session lives after its last use", NULL },
	{ "sessions", K_ENUM, O(sessions), "off", 0, 0,
	    "server-side sessions for handlers: on or off",
	    ONOFF },
	{ "standalone", K_ENUM, O(standalone), "off", 0, 0,
	    "listen and serve as a daemon (see port, type): on or off", ONOFF },
	{ "symlinks", K_ENUM, O(symlinks), "beneath", 0, 0,
	    "follow symlinks: off, owner (same owner) or beneath docroot" ,
	    "off|owner|beneath" },
	{ "tls", K_ENUM, O(tls), "off", 0, 0,
	    "inetd and pipe mode (and sockets passed without a spec) speak "
	    "TLS: on or off", ONOFF },
	{ "tls_ca", K_STR, O(tls_ca), NULL, 0, 0,
	    "CA certificates (PEM) client certificates are verified against",
	    NULL },
	{ "tls_cert", K_STR, O(tls_cert), NULL, 0, 0,
	    "the server's certificate chain (PEM, leaf first)", NULL },
	{ "tls_ciphers", K_STR, O(tls_ciphers), TLS_CIPHERS, 0, 0,
	    "TLS 1.2 cipher list (OpenSSL syntax)", NULL },
	{ "tls_ciphersuites", K_STR, O(tls_ciphersuites), TLS_SUITES, 0, 0,
	    "TLS 1.3 cipher suites (OpenSSL syntax)", NULL },
	{ "tls_key", K_STR, O(tls_key), NULL, 0, 0,
	    "the private key of tls_cert (PEM; default: in tls_cert)", NULL },
	{ "tls_protocols", K_LIST, O(tls_protocols), "TLSv1.2 TLSv1.3", 0, 0,
	    "TLS versions offered: TLSv1, TLSv1.1, TLSv1.2, TLSv1.3", NULL },
	{ "tls_sni", K_MULTI, O(tls_sni), NULL, 0, 0,
	    "\"NAME CERT KEY\": another certificate, for SNI name NAME "
	    "(*.domain too; repeatable)", NULL },
	{ "tls_ticket_lifetime", K_INT, O(tls_ticket_lifetime), "3600", 10,
	    604800, "seconds a session ticket resumes; its key rotates as "
	    "often", NULL },
	{ "tls_verify_client", K_ENUM, O(tls_verify_client), "off", 0, 0,
	    "client certificates (checked against tls_ca): off, optional or "
	    "on", "off|optional|on" },
	{ "trusted_proxies", K_MULTIC, O(trusted_proxies), NULL, 0, 0,
	    "balancers whose PROXY headers and forwarded-for addresses are "
	    "believed: CIDR blocks (repeatable)", NULL },
	{ "type", K_ENUM, O(type), "prefork", 0, 0,
	    "standalone: single, fork, preforksimple or prefork",
	    "single|fork|preforksimple|prefork" },
	{ "unix_mode", K_STR, O(unix_mode), "0660", 0, 0,
	    "standalone: permissions of a unix:/path socket (octal)", NULL },
	{ "user", K_STR, O(user), NULL, 0, 0,
	    "standalone: user the workers run as (started as root)", NULL },
};
#define NKEYS	(sizeof(keys) / sizeof(keys[0]))
_Static_assert(NKEYS <= CONFIG_NKEYS,
    "key_file/key_line need room for every key");

static const char *const phase_names[IH_NPHASES] = { "Init", "AuthTrans",
	"NameTrans", "PathCheck", "ObjectType", "Service", "AddLog" };

extern const struct ih_function __start_ih_functions[];
extern const struct ih_function __stop_ih_functions[];

static const char *err_file;
static int err_line;
/* Where each key was last set (file and line), for --check messages. */
static const char *key_file[CONFIG_NKEYS];
static int key_line[CONFIG_NKEYS];
static int errors;

static void at_key(const char *);
static int asks_more(int, char **);
static int key_set(const char *);
static void hsts_parse(void);

static void __attribute__((format(printf, 1, 2)))
cerr(const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	config_log_at(err_file, err_line, msg);
	errors++;
}

/* A config error at FILE:LINE (line 0: the file alone), logged. */
void
config_log_at(const char *file, int line, const char *msg)
{
	if (line > 0)
		ih_log(IH_LOG_ERR, "%s:%d: %s", file, line, msg);
	else
		ih_log(IH_LOG_ERR, "%s: %s", file, msg);
}

static int
key_cmp(const void *k, const void *e)
{
	return strcmp(k, ((const struct key *)e)->name);
}

/* The nearest name in a list, for "did you mean"; NULL when none is close. */
static const char *
nearest(const char *name, const char *(*at)(size_t), size_t n)
{
	const char *best = NULL;
	int bestd = 99;
	size_t i;

	for (i = 0; i < n; i++) {
		int d = edit_distance(name, at(i));
		if (d < bestd) {
			bestd = d;
			best = at(i);
		}
	}
	return bestd <= 3 && bestd * 3 <= (int)strlen(name) + 3 ? best : NULL;
}

static const char *
key_at(size_t i)
{
	return keys[i].name;
}

static const char *
fn_at(size_t i)
{
	return __start_ih_functions[i].name;
}

static const char *
phase_at(size_t i)
{
	return phase_names[i];
}

static size_t
nfunctions(void)
{
	return (size_t)(__stop_ih_functions - __start_ih_functions);
}

/* The registered function of this name, or NULL. */
const struct ih_function *
config_find_function(const char *name)
{
	const struct ih_function *f;

	for (f = __start_ih_functions; f < __stop_ih_functions; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

static int
parse_zones(const char *v, long long *out)
{
	static const char *const zones[] = { "INIT", "PROC", "REQ", "RESP",
	    "AUTH", "FILE", "READ", "SEND" };
	char buf[256], *tok, *save;
	long long z = 0;
	size_t i;

	if (strlen(v) >= sizeof(buf))
		return -1;
	strcpy(buf, v);
	for (tok = strtok_r(buf, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save)) {
		if (strcasecmp(tok, "ALL") == 0) {
			z |= IH_DBG_ALL;
			continue;
		}
		for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
			if (strcasecmp(tok, zones[i]) == 0)
				break;
		if (i == sizeof(zones) / sizeof(zones[0]))
			return -1;
		z |= 1LL << i;
	}
	*out = z;
	return 0;
}

/* Split a value into whitespace-separated words (in place). */
static int
set_list(const struct key *k, char *v)
{
	char **list, *w, *save;
	size_t n = 0;

	list = arena_alloc(&cfg.mem, (strlen(v) / 2 + 2) * sizeof(*list));
	if (list == NULL)
		return -1;
	for (w = strtok_r(v, " \t", &save); w != NULL;
	    w = strtok_r(NULL, " \t", &save))
		list[n++] = w;
	list[n] = NULL;
	*(char ***)((char *)&cfg + k->off) = list;
	if (k->off == O(index))
		cfg.nindex = n;
	return 0;
}

/* The position of v in "a|b|c", or -1. */
static int
choice_index(const char *choices, const char *v)
{
	const char *p = choices;
	size_t vl = strlen(v);
	int i;

	for (i = 0; *p != '\0'; i++) {
		size_t n = strcspn(p, "|");

		if (n == vl && strncmp(p, v, n) == 0)
			return i;
		p += n + (p[n] == '|');
	}
	return -1;
}

/* A repeatable key: every line (and option) adds its words. */
static void
add_multi(struct strlist *l, char *v, const char *sep)
{
	char *w, *save, **n;
	size_t words = 0, i;

	for (i = 0; v[i] != '\0'; i++)
		words += strchr(sep, v[i]) == NULL && (i == 0 ||
		    strchr(sep, v[i - 1]) != NULL);
	const char **files;
	int *lines;

	n = arena_alloc(&cfg.mem, (l->n + words + 1) * sizeof(*n));
	files = arena_alloc(&cfg.mem, (l->n + words + 1) * sizeof(*files));
	lines = arena_alloc(&cfg.mem, (l->n + words + 1) * sizeof(*lines));
	if (n == NULL || files == NULL || lines == NULL) {
		cerr("out of memory");
		return;
	}
	if (l->n > 0) {
		memcpy(n, l->v, l->n * sizeof(*n));
		memcpy(files, l->file, l->n * sizeof(*files));
		memcpy(lines, l->line, l->n * sizeof(*lines));
	}
	l->v = n;
	l->file = files;
	l->line = lines;
	for (w = strtok_r(v, sep, &save); w != NULL;
	    w = strtok_r(NULL, sep, &save)) {
		l->file[l->n] = err_file;
		l->line[l->n] = err_line;
		l->v[l->n++] = w;
	}
	l->v[l->n] = NULL;
}

/* error_page CODE /path: later lines for the same code win. */
static void
add_error_page(char *v)
{
	char *path = v + strcspn(v, " \t");
	struct errpage *n;
	long long code;
	size_t i;

	if (*path != '\0')
		*path++ = '\0';
	path += strspn(path, " \t");
	if (str_to_ll(v, 400, 599, &code) == -1 || *path != '/' ||
	    strpbrk(path, " \t?#") != NULL) {
		cerr("error_page: expected CODE /path with CODE 400-599");
		return;
	}
	for (i = 0; i < cfg.nerror_pages; i++)
		if (cfg.error_pages[i].status == code) {
			cfg.error_pages[i].path = path;
			return;
		}
	if ((n = arena_alloc(&cfg.mem, (cfg.nerror_pages + 1) *
	    sizeof(*n))) == NULL)
		return;
	if (cfg.nerror_pages > 0)
		memcpy(n, cfg.error_pages, cfg.nerror_pages * sizeof(*n));
	n[cfg.nerror_pages].status = (int)code;
	n[cfg.nerror_pages].path = path;
	cfg.error_pages = n;
	cfg.nerror_pages++;
}

/* Set one key from text; the text must outlive cfg (arena or argv). */
static void
set_key(const struct key *k, char *v)
{
	void *field = (char *)&cfg + k->off;
	long long x;

	key_file[k - keys] = err_file;
	key_line[k - keys] = err_line;

	switch (k->type) {
	case K_STR:
		*(char **)field = v;
		break;
	case K_INT:
		if (str_to_ll(v, k->min, k->max, &x) == -1) {
			cerr("%s: '%s' is not a whole number from %lld to %lld",
			    k->name, v, k->min, k->max);
			return;
		}
		*(long long *)field = x;
		break;
	case K_SIZE:
		if (str_to_size(v, k->max, &x) == -1 || x < k->min) {
			cerr("%s: '%s' is not a size from %lld to %lld bytes "
			    "(k, m, g suffixes allowed)", k->name, v, k->min,
			    k->max);
			return;
		}
		*(long long *)field = x;
		break;
	case K_LIST:
		if (set_list(k, v) == -1)
			cerr("%s: out of memory", k->name);
		break;
	case K_ENUM:
		if ((x = choice_index(k->choices, v)) < 0) {
			char list[96], *bar;

			/* "a|b|c" reads "a, b or c" */
			snprintf(list, sizeof(list), "%s", k->choices);
			while ((bar = strchr(list, '|')) != NULL) {
				if (strchr(bar + 1, '|') == NULL) {
					memmove(bar + 4, bar + 1, strlen(bar));
					memcpy(bar, " or ", 4);
				} else {
					memmove(bar + 2, bar + 1, strlen(bar));
					memcpy(bar, ", ", 2);
				}
			}
			cerr("%s: '%s' is not %s", k->name, v, list);
			return;
		}
		*(long long *)field = x;
		break;
	case K_ERRPAGE:
		add_error_page(v);
		break;
	case K_MULTI:
	case K_MULTIC: {
		struct strlist *l = (struct strlist *)field;
		size_t first = l->n, i;

		/* Regexes may hold commas; CIDR lists may use them. */
		add_multi(l, v, k->type == K_MULTIC ? " \t," : " \t");
		for (i = first; k->type == K_MULTIC && i < l->n; i++) {
			struct cidr cd;

			if (acl_parse_cidr(l->v[i], &cd) == -1)
				cerr("%s: '%s' is not an IPv4 or IPv6 CIDR "
				    "block", k->name, l->v[i]);
		}
		if (k->off == O(tls_sni) && (l->n - first) != 3)
			cerr("tls_sni: give NAME CERT KEY (%zu words given)",
			    l->n - first);
		for (i = first; k->off == O(ports) && i < l->n; i++) {
			struct listen_spec ls;
			char why[128];

			if (listen_parse(l->v[i], &ls, why, sizeof(why)) == -1)
				cerr("port: '%s': %s", l->v[i], why);
		}
		break;
	}
	case K_ZONES:
		if (parse_zones(v, &x) == -1) {
			cerr("debug: '%s' is not a list of INIT, PROC, REQ, "
			    "RESP, AUTH, FILE, READ, SEND, ALL", v);
			return;
		}
		*(long long *)field = x;
		break;
	}
}

static const struct key *
find_key(const char *name)
{
	const struct key *k = bsearch(name, keys, NKEYS, sizeof(keys[0]),
	    key_cmp);
	const char *near;

	if (k == NULL) {
		near = nearest(name, key_at, NKEYS);
		if (near != NULL)
			cerr("unknown key '%s' (did you mean '%s'?)", name,
			    near);
		else
			cerr("unknown key '%s'", name);
	}
	return k;
}

static void
set_defaults(void)
{
	size_t i;

	err_file = "defaults";
	err_line = 0;
	for (i = 0; i < NKEYS; i++)
		if (keys[i].def != NULL)
			set_key(&keys[i], arena_strdup(&cfg.mem, keys[i].def));
}

/*
 * Read one token starting at *p: a bare word, or a "quoted string" with
 * \" and \\ escapes (unquoted in place).  For key=value, the value part may
 * be quoted.  Returns the token or NULL at the end of the line; sets *bad
 * on an unterminated quote.
 */
static char *
token(char **p, int *bad)
{
	char *s = *p, *start, *o;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0') {
		*p = s;
		return NULL;
	}
	start = o = s;
	while (*s != '\0' && *s != ' ' && *s != '\t') {
		if (*s == '"') {
			s++;
			while (*s != '"') {
				if (*s == '\0') {
					*bad = 1;
					*p = s;
					return NULL;
				}
				if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
					s++;
				*o++ = *s++;
			}
			s++;
		} else
			*o++ = *s++;
	}
	if (*s != '\0')
		s++;
	*o = '\0';
	*p = s;
	return start;
}

/* A quote-aware copy of the rest of a line as one value. */
static char *
rest_value(char *p, int *bad)
{
	char *v;
	size_t n;

	while (*p == ' ' || *p == '\t')
		p++;
	n = strlen(p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		p[--n] = '\0';
	if (*p == '"') {
		v = p;
		if (token(&v, bad) != p || *bad || *v != '\0') {
			*bad = 1;
			return NULL;
		}
	}
	return p;
}

static int
prefix_segments(const char *p, size_t n)
{
	size_t i;
	int segs = 0;

	/* Each '/' after the first closes a segment. */
	for (i = 1; i < n; i++)
		segs += p[i] == '/';
	return segs;
}

/*
 * A regex fixes the segments of its '^'-anchored literal prefix; with
 * alternatives at the top level (a|b), only what every one fixes.
 */
static int
regex_depth(const char *p)
{
	int best = -1, parens = 0;
	const char *alt = p;

	for (;; p++) {
		if (*p == '\\' && p[1] != '\0') {
			p++;
			continue;
		}
		if (*p == '[') {
			/* A bracket expression: ']' first is literal. */
			p += p[1] == '^' ? 2 : 1;
			if (*p == ']')
				p++;
			while (*p != '\0' && *p != ']')
				p++;
			if (*p == '\0')
				return 0;
			continue;
		}
		if (*p == '(')
			parens++;
		else if (*p == ')' && parens > 0)
			parens--;
		else if (*p == '\0' || (*p == '|' && parens == 0)) {
			int d = 0;

			if (*alt == '^') {
				size_t n = strcspn(alt + 1,
				    ".[]()*+?{}|^$\\");

				/* "^/docs/+" or "^/a/?": a quantifier makes the last
				 * literal byte optional or repeatable. */
				if (n > 0 && alt[1 + n] != '\0' &&
				    strchr("*+?{", alt[1 + n]) != NULL)
					n--;
				d = prefix_segments(alt + 1, n);
			}
			if (best == -1 || d < best)
				best = d;
			if (*p == '\0')
				return best;
			alt = p + 1;
		}
	}
}

/*
 * How many leading path segments an object fixes, doubled, plus one for
 * an exact path: the rank of specificity that decides which object's
 * AuthTrans directives guard a request (pipeline.c).  A ppath fixes its
 * whole segments ("/" none, "/a/b" two); a wildcard ppath and a regex
 * anchored with '^' fix the whole segments of their literal prefix
 * ("/a/x*" and "^/a/.+\.txt$": one); an unanchored regex fixes none,
 * and a regex with alternatives what the least specific one fixes.
 */
static int
object_depth(const struct object *o)
{
	const char *p = o->pattern;
	size_t n = o->litlen;
	int segs;

	if (o->kind == OBJ_REGEX)
		return regex_depth(p) * 2;
	segs = prefix_segments(p, n);
	/* A path or plain ppath ends on a whole segment. */
	if (!o->wild && n > 1 && p[n - 1] != '/')
		segs++;
	return segs * 2 + (o->kind == OBJ_PATH);
}

static struct object *
new_object(enum obj_kind kind, char *pattern, size_t *cap)
{
	struct object *o;

	if (cfg.nobjs == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		struct object *n = arena_alloc(&cfg.mem, ncap * sizeof(*n));
		if (n == NULL)
			return NULL;
		if (cfg.nobjs > 0)
			memcpy(n, cfg.objs, cfg.nobjs * sizeof(*n));
		cfg.objs = n;
		*cap = ncap;
	}
	o = &cfg.objs[cfg.nobjs++];
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	o->pattern = pattern;
	o->plen = strlen(pattern);
	o->litlen = o->plen;
	if (kind == OBJ_PPATH && strpbrk(pattern, "*?[") != NULL) {
		o->wild = 1;
		o->litlen = strcspn(pattern, "*?[\\");
	}
	o->depth = object_depth(o);
	o->file = err_file;
	o->line = err_line;
	return o;
}

/*
 * A regex that is a plain literal, perhaps anchored (`\.news$`), is
 * matched with string compares instead of regcomp: most configs need no
 * regex engine at start-up.
 */
static void
regex_literal(struct object *o)
{
	const char *p = o->pattern;
	size_t n = o->plen;
	char *lit, *w;

	o->lit_start = o->lit_end = 0;
	if (n > 0 && p[0] == '^') {
		o->lit_start = 1;
		p++;
		n--;
	}
	if (n > 0 && p[n - 1] == '$' && (n < 2 || p[n - 2] != '\\')) {
		o->lit_end = 1;
		n--;
	}
	if ((lit = w = arena_alloc(&cfg.mem, n + 1)) == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\\') {
			if (i + 1 == n || isalnum((unsigned char)p[i + 1]) ||
			    strchr("<>`'", p[i + 1]) != NULL)
				return;	/* \d, \w, \<, \>...: a real regex */
			*w++ = p[++i];
		} else if (strchr(".[]()*+?{}|^$", p[i]) != NULL)
			return;
		else
			*w++ = p[i];
	}
	*w = '\0';
	o->lit = lit;
	o->re_state = 1;
}

static int
regex_compile(struct object *o)
{
	int rc;

	if (o->re_state == 2)
		return 0;
	rc = regcomp(&o->re, o->pattern, REG_EXTENDED | REG_NOSUB);

	if (rc != 0) {
		char msg[128];

		regerror(rc, &o->re, msg, sizeof(msg));
		err_file = o->file;
		err_line = o->line;
		cerr("regex \"%s\": %s", o->pattern, msg);
		o->re_state = 3;
		return -1;
	}
	o->re_state = 2;
	return 0;
}

/* Does a regex object match path?  Compiles on first use. */
int
object_regex_match(struct object *o, const char *path)
{
	size_t pl, ll;

	if (o->re_state == 0 && regex_compile(o) == -1)
		return 0;
	if (o->re_state == 2)
		return regexec(&o->re, path, 0, NULL, 0) == 0;
	if (o->re_state != 1)
		return 0;
	pl = strlen(path);
	ll = strlen(o->lit);
	if (o->lit_start && o->lit_end)
		return strcmp(path, o->lit) == 0;
	if (o->lit_start)
		return strncmp(path, o->lit, ll) == 0;
	if (o->lit_end)
		return pl >= ll && strcmp(path + pl - ll, o->lit) == 0;
	return strstr(path, o->lit) != NULL;
}

static int
phase_of(const char *word)
{
	int i;

	for (i = 0; i < IH_NPHASES; i++)
		if (strcmp(word, phase_names[i]) == 0)
			return i;
	return -1;
}

/* Parse `Phase fn=name key=value ...` into d. */
static void
parse_directive(struct directive *d, int phase, char *rest)
{
	char *tok, *eq, *keysv[64], *valsv[64];
	const char *fname = NULL, *near;
	size_t n = 0, i;
	int bad = 0;
	char msg[256] = "";

	d->phase = phase;
	d->file = err_file;
	d->line = err_line;
	while ((tok = token(&rest, &bad)) != NULL) {
		if ((eq = strchr(tok, '=')) == NULL || eq == tok) {
			cerr("'%s' is not key=value", tok);
			return;
		}
		*eq = '\0';
		if (strcmp(tok, "fn") == 0) {
			fname = eq + 1;
			continue;
		}
		if (n == 64) {
			cerr("too many arguments");
			return;
		}
		keysv[n] = tok;
		valsv[n++] = eq + 1;
	}
	if (bad) {
		cerr("unterminated quoted string");
		return;
	}
	if (fname == NULL) {
		cerr("%s needs fn=NAME", phase_names[phase]);
		return;
	}
	if ((d->fn = config_find_function(fname)) == NULL) {
		near = nearest(fname, fn_at, nfunctions());
		if (near != NULL)
			cerr("unknown function '%s' (did you mean '%s'?)",
			    fname, near);
		else
			cerr("unknown function '%s'", fname);
		return;
	}
	if ((d->fn->phases & IH_PH(phase)) == 0) {
		cerr("function '%s' cannot run in %s", fname,
		    phase_names[phase]);
		return;
	}
	d->args.n = n;
	d->args.key = arena_alloc(&cfg.mem, (n + 1) * sizeof(char *));
	d->args.val = arena_alloc(&cfg.mem, (n + 1) * sizeof(char *));
	if (d->args.key == NULL || d->args.val == NULL) {
		cerr("out of memory");
		return;
	}
	for (i = 0; i < n; i++) {
		d->args.key[i] = keysv[i];
		d->args.val[i] = valsv[i];
	}
	if (d->fn->check != NULL && d->fn->check(&d->args, msg,
	    sizeof(msg)) == -1)
		cerr("%s: %s", fname, msg);
}

static struct directive *
add_directive(struct directive **list, size_t *n, size_t *cap)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4;
		struct directive *d = arena_alloc(&cfg.mem, ncap * sizeof(*d));
		if (d == NULL)
			return NULL;
		if (*n > 0)
			memcpy(d, *list, *n * sizeof(*d));
		*list = d;
		*cap = ncap;
	}
	memset(&(*list)[*n], 0, sizeof(**list));
	return &(*list)[(*n)++];
}

/* `<Object path="/x">`: kind and pattern, or -1. */
static int
parse_object_open(char *s, enum obj_kind *kind, char **pattern)
{
	char *p, *eq, *tok;
	int bad = 0;
	size_t n = strlen(s);

	if (n == 0 || s[n - 1] != '>')
		return -1;
	s[n - 1] = '\0';
	p = s + strlen("<Object");
	if ((tok = token(&p, &bad)) == NULL || bad || token(&p, &bad) != NULL)
		return -1;
	if ((eq = strchr(tok, '=')) == NULL)
		return -1;
	*eq = '\0';
	if (strcmp(tok, "path") == 0)
		*kind = OBJ_PATH;
	else if (strcmp(tok, "ppath") == 0)
		*kind = OBJ_PPATH;
	else if (strcmp(tok, "regex") == 0)
		*kind = OBJ_REGEX;
	else
		return -1;
	*pattern = eq + 1;
	return **pattern == '\0' ? -1 : 0;
}

static void
parse_file(char *buf)
{
	char *line, *next, *w, *rest;
	struct object *cur = NULL;
	size_t objcap = 0, dircap = 0, initcap = 0, topcap = 0;
	size_t *curcap = NULL;
	int bad;

	for (line = buf, err_line = 1; line != NULL; line = next, err_line++) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line[strcspn(line, "\r")] = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		for (size_t tl = strlen(line); tl > 0 && (line[tl - 1] == ' ' ||
		    line[tl - 1] == '\t'); tl--)
			line[tl - 1] = '\0';
		if (*line == '\0' || *line == '#')
			continue;
		if (strncmp(line, "<Object", 7) == 0 &&
		    (line[7] == ' ' || line[7] == '\t')) {
			enum obj_kind kind;
			char *pattern;

			if (cur != NULL) {
				cerr("<Object> inside <Object> (missing "
				    "</Object>?)");
				continue;
			}
			if (parse_object_open(line, &kind, &pattern) == -1) {
				cerr("expected <Object path=\"/x\">, "
				    "<Object ppath=\"/x/\"> or "
				    "<Object regex=\"...\">");
				continue;
			}
			if (kind != OBJ_REGEX && pattern[0] != '/') {
				cerr("object path must start with '/'");
				continue;
			}
			if (kind == OBJ_PPATH && strpbrk(pattern, "*?[") ==
			    NULL) {
				size_t pl = strlen(pattern);
				while (pl > 1 && pattern[pl - 1] == '/')
					pattern[--pl] = '\0';
			}
			if ((cur = new_object(kind, pattern, &objcap)) == NULL) {
				cerr("out of memory");
				return;
			}
			dircap = 0;
			curcap = &dircap;
			if (kind == OBJ_REGEX)
				regex_literal(cur);
			continue;
		}
		if (strcmp(line, "</Object>") == 0) {
			if (cur == NULL)
				cerr("</Object> without <Object>");
			cur = NULL;
			continue;
		}
		rest = line;
		bad = 0;
		w = token(&rest, &bad);
		if (w == NULL)
			continue;
		int phase = phase_of(w);
		if (phase == IH_INIT) {
			struct directive *d;

			if (cur != NULL) {
				cerr("Init belongs at the top level, outside "
				    "<Object>");
				continue;
			}
			d = add_directive(&cfg.inits, &cfg.ninits, &initcap);
			if (d != NULL)
				parse_directive(d, phase, rest);
			continue;
		}
		if (phase > 0) {
			struct object *o = cur;
			struct directive *d;

			if (o == NULL) {
				/* Top-level directives: an implicit ppath "/". */
				size_t i;

				for (i = 0; i < cfg.nobjs; i++)
					if (cfg.objs[i].kind == OBJ_PPATH &&
					    cfg.objs[i].line == 0)
						o = &cfg.objs[i];
				if (o == NULL) {
					int line_no = err_line;

					err_line = 0;
					o = new_object(OBJ_PPATH,
					    arena_strdup(&cfg.mem, "/"),
					    &objcap);
					err_line = line_no;
					if (o == NULL)
						return;
					topcap = 0;
				}
				d = add_directive(&o->dirs, &o->ndirs, &topcap);
			} else
				d = add_directive(&o->dirs, &o->ndirs, curcap);
			if (d != NULL)
				parse_directive(d, phase, rest);
			if (phase == IH_AUTHTRANS)
				o->protects = 1;
			continue;
		}
		if (cur != NULL) {
			const char *near = nearest(w, phase_at, IH_NPHASES);
			if (near != NULL)
				cerr("unknown phase '%s' (did you mean '%s'?)",
				    w, near);
			else
				cerr("unknown phase '%s' inside <Object>", w);
			continue;
		}
		const struct key *k = find_key(w);
		if (k == NULL)
			continue;
		char *v = rest_value(rest, &bad);
		if (bad || v == NULL)
			cerr("%s: unterminated quoted string", w);
		else if (*v == '\0')
			cerr("%s needs a value", w);
		else
			set_key(k, v);
	}
	if (cur != NULL) {
		err_line = cur->line;
		cerr("<Object> is never closed");
	}
}

/* The file the config was read from, as opened (cfgcache.c keeps it). */
static struct stat file_read_st;
static int file_read;

const struct stat *
config_file_read(void)
{
	return file_read ? &file_read_st : NULL;
}

static char *
read_file(const char *path)
{
	int fd;
	struct stat st;
	char *buf = NULL;
	ssize_t n;

	file_read = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1)
		goto err;
	if (st.st_size > CONFIG_MAX) {
		errno = EFBIG;	/* the config arena holds it whole */
		goto err;
	}
	if ((buf = arena_alloc(&cfg.mem, (size_t)st.st_size + 1)) == NULL)
		goto err;
	n = read(fd, buf, (size_t)st.st_size);
	if (n != st.st_size)
		goto err;
	buf[n] = '\0';
	if (memchr(buf, '\0', (size_t)n) != NULL) {
		errno = EINVAL;
		goto err;
	}
	close(fd);
	file_read_st = st;
	file_read = 1;
	return buf;
err:
	close(fd);
	return NULL;
}

static int
has_ctl(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* Order objects for matching: exact, then regex, then ppath longest first. */
static int
obj_rank(const struct object *o)
{
	return o->kind == OBJ_PATH ? 0 : o->kind == OBJ_REGEX ? 1 : 2;
}

/*
 * The order objects are matched in: rank, then longer prefix, then as
 * they came in the file (their line numbers: one file, one object per
 * line at most, the implicit top-level object at line 0).
 */
static int
obj_cmp(const void *a, const void *b)
{
	const struct object *x = a, *y = b;

	if (obj_rank(x) != obj_rank(y))
		return obj_rank(x) - obj_rank(y);
	if (x->kind == OBJ_PPATH && x->litlen != y->litlen)
		return x->litlen > y->litlen ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* In place: a second copy of every object would count twice against the
 * config's memory. */
static void
sort_objects(void)
{
	if (cfg.nobjs > 1)
		qsort(cfg.objs, cfg.nobjs, sizeof(cfg.objs[0]), obj_cmp);
}

/* Build cfg.objindex over the sorted objects (pipeline.c matches by it). */
static void
index_objects(void)
{
	struct objindex *ix;
	uint32_t nb = 16, i;

	while (nb < 2 * cfg.nobjs)
		nb *= 2;
	ix = arena_alloc(&cfg.mem, sizeof(*ix));
	if (ix == NULL || (ix->bucket = arena_alloc(&cfg.mem, nb *
	    sizeof(uint32_t))) == NULL || (ix->next = arena_alloc(&cfg.mem,
	    (cfg.nobjs + 1) * sizeof(uint32_t))) == NULL || (ix->hash =
	    arena_alloc(&cfg.mem, (cfg.nobjs + 1) * sizeof(uint32_t))) ==
	    NULL || (ix->scan = arena_alloc(&cfg.mem, (cfg.nobjs + 1) *
	    sizeof(uint32_t))) == NULL) {
		cerr("out of memory");
		return;
	}
	memset(ix->bucket, 0, nb * sizeof(uint32_t));
	ix->mask = nb - 1;
	ix->nscan = 0;
	/* Backwards, so that each chain lists its objects in match order. */
	for (i = (uint32_t)cfg.nobjs; i-- > 0;) {
		const struct object *o = &cfg.objs[i];
		uint32_t *head;

		ix->next[i] = 0;
		if (o->kind == OBJ_REGEX || (o->kind == OBJ_PPATH && (o->wild ||
		    o->plen <= 1)))
			continue;
		ix->hash[i] = fnv1a32(o->pattern, o->plen);
		head = &ix->bucket[ix->hash[i] & ix->mask];
		ix->next[i] = *head;
		*head = i + 1;
	}
	for (i = 0; i < cfg.nobjs; i++) {
		const struct object *o = &cfg.objs[i];

		if (o->kind == OBJ_REGEX || (o->kind == OBJ_PPATH && (o->wild ||
		    o->plen <= 1)))
			ix->scan[ix->nscan++] = i;
	}
	cfg.objindex = ix;
}

void
config_usage(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: ihttpd [-c FILE] [--check] [--KEY VALUE ...]\n"
	    "       ihttpd --standalone on --port SPEC [--type TYPE] "
	    "[-c FILE] [--KEY VALUE ...]\n"
	    "       ihttpd --help | --version\n\n"
	    "Serves one connection on stdin/stdout (inetd, tcpserver, systemd "
	    "Accept=yes)\nor requests piped to stdin; with --standalone on "
	    "(or a listening socket passed\nin: systemd Accept=no, inetd wait) "
	    "it listens and serves as a daemon.\n\n"
	    "  -c FILE, --config FILE  read FILE (default: built-in defaults)\n"
	    "  --check                 validate the config and exit 0 or 1\n"
	    "  -h, --help              this text\n"
	    "  -V, --version           print the version\n\n"
	    "Every config key is also an option (--key VALUE or "
	    "--key=VALUE);\nthe command line wins over the file:\n");
	for (i = 0; i < NKEYS; i++)
		fprintf(fp, "  --%-20s %s%s%s%s\n", keys[i].name, keys[i].help,
		    keys[i].def != NULL ? " [" : "",
		    keys[i].def != NULL ? keys[i].def : "",
		    keys[i].def != NULL ? "]" : "");
}

/*
 * Build cfg from defaults, the file named by -c and the options, in that
 * order.  Returns 0, 1 when the caller should exit 0 (--help, --version),
 * or -1 after logging every error.  *check_only is set for --check.
 */
int
config_load(int argc, char **argv, int *check_only)
{
	const char *file = NULL;
	char *buf;
	int i;
	struct { const struct key *k; char *v; } opts[96];
	char kname[128];
	size_t nopts = 0, j;

	*check_only = 0;
	if (!asks_more(argc, argv) && cfgcache_load(argc, argv) == 0)
		return 0;
	errors = 0;
	memset(key_file, 0, sizeof(key_file));
	memset(key_line, 0, sizeof(key_line));
	cfg.mem.max = CONFIG_MEM_MAX;
	cfgcache_begin();
	set_defaults();
	err_file = "command line";
	err_line = 0;
	for (i = 1; i < argc; i++) {
		char *a = argv[i], *v, *eq;
		const struct key *k;

		if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (++i == argc) {
				cerr("%s needs a file name", a);
				break;
			}
			file = argv[i];
			continue;
		}
		if (strncmp(a, "--config=", 9) == 0) {
			file = a + 9;
			continue;
		}
		if (strcmp(a, "--check") == 0 || strcmp(a, "-t") == 0) {
			*check_only = 1;
			continue;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			config_usage(stdout);
			return 1;
		}
		if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
			printf("ihttpd %s\n", IHTTPD_VERSION);
			return 1;
		}
		if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
			cerr("unexpected argument '%s' (see --help)", a);
			continue;
		}
		a += 2;
		/* argv stays as given: a HUP re-exec passes it on */
		if ((eq = strchr(a, '=')) != NULL) {
			snprintf(kname, sizeof(kname), "%.*s", (int)(eq - a), a);
			a = kname;
			v = eq + 1;
		} else if (i + 1 < argc)
			v = argv[++i];
		else {
			cerr("--%s needs a value", a);
			continue;
		}
		if ((k = bsearch(a, keys, NKEYS, sizeof(keys[0]),
		    key_cmp)) == NULL) {
			const char *near = nearest(a, key_at, NKEYS);
			if (near != NULL)
				cerr("unknown option '--%s' (did you mean "
				    "'--%s'?)", a, near);
			else
				cerr("unknown option '--%s' (see --help)", a);
			continue;
		}
		if (nopts == sizeof(opts) / sizeof(opts[0])) {
			cerr("too many options");
			continue;
		}
		opts[nopts].k = k;
		opts[nopts++].v = v;
	}
	if (file != NULL) {
		/* a copy: argv is elsewhere in the next process (cfgcache.c) */
		if ((cfg.file = arena_strdup(&cfg.mem, file)) == NULL)
			cfg.file = file;
		err_file = cfg.file;
		err_line = 0;
		if ((buf = read_file(file)) == NULL)
			cerr("cannot read: %s", strerror(errno));
		else
			parse_file(buf);
	}
	err_file = "command line";
	err_line = 0;
	for (j = 0; j < nopts; j++) {
		/* list values are split in place: work on a copy */
		set_key(opts[j].k, arena_strdup(&cfg.mem, opts[j].v));
	}
	if (cfg.nindex == 0 && cfg.index != NULL && cfg.index[0] == NULL)
		cfg.index = NULL;
	/* Values that end up in response headers: no control bytes. */
	if (cfg.session_cookie == NULL || *cfg.session_cookie == '\0' ||
	    strspn(cfg.session_cookie, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
	    "KLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~") !=
	    strlen(cfg.session_cookie))
		cerr("session_cookie: the name must be a token (RFC 6265)");
	hsts_parse();
	{
		char why[128];

		if (limits_parse_global(cfg.rate_limit, &cfg.rl_rate,
		    &cfg.rl_burst, why, sizeof(why)) == -1) {
			at_key("rate_limit");
			cerr("rate_limit: %s", why);
		}
	}
	for (j = 0; cfg.tls_protocols != NULL && cfg.tls_protocols[j] != NULL;
	    j++)
		if (tls_version(cfg.tls_protocols[j]) == -1) {
			at_key("tls_protocols");
			cerr("tls_protocols: '%s' is not TLSv1, TLSv1.1, TLSv1.2 "
			    "or TLSv1.3", cfg.tls_protocols[j]);
		}
	if (has_ctl(cfg.server_tokens))
		cerr("server_tokens: control characters are not allowed");
	if (cfg.server_tokens != NULL && strlen(cfg.server_tokens) > TOKENS_MAX)
		cerr("server_tokens: longer than %d bytes", TOKENS_MAX);
	if (has_ctl(cfg.default_type) || (cfg.default_type != NULL &&
	    strlen(cfg.default_type) > TYPE_MAX))
		cerr("default_type: control characters, or longer than %d "
		    "bytes", TYPE_MAX);
	if (has_ctl(cfg.default_type) || has_ctl(cfg.charset))
		cerr("default_type/charset: control characters are not allowed");
	if (cfg.charset != NULL && strlen(cfg.charset) > 64)
		cerr("charset: longer than 64 bytes");
	if (cfg.unix_mode == NULL || strspn(cfg.unix_mode, "01234567") !=
	    strlen(cfg.unix_mode) || strlen(cfg.unix_mode) > 4 ||
	    *cfg.unix_mode == '\0') {
		at_key("unix_mode");
		cerr("unix_mode: '%s' is not an octal mode such as 0660",
		    cfg.unix_mode != NULL ? cfg.unix_mode : "");
	}
	/* A default gives way to a value set; two values set must agree. */
	if (cfg.min_spare_servers > cfg.max_spare_servers) {
		if (key_set("min_spare_servers") && key_set("max_spare_servers")) {
			at_key("min_spare_servers");
			cerr("min_spare_servers (%lld) is above "
			    "max_spare_servers (%lld)", cfg.min_spare_servers,
			    cfg.max_spare_servers);
		} else if (key_set("min_spare_servers"))
			cfg.max_spare_servers = cfg.min_spare_servers;
		else
			cfg.min_spare_servers = cfg.max_spare_servers;
	}
	if (cfg.min_servers > cfg.max_servers) {
		if (key_set("min_servers")) {
			at_key("min_servers");
			cerr("min_servers (%lld) is above max_servers (%lld)",
			    cfg.min_servers, cfg.max_servers);
		} else
			cfg.min_servers = cfg.max_servers;
	}
	sort_objects();
	if (errors == 0)
		index_objects();
	if (errors > 0)
		return -1;
	if (!*check_only)
		cfgcache_store(argc, argv);
	return 0;
}

/* Options after which the config is not what to serve with. */
static int
asks_more(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--check") == 0 ||
		    strcmp(argv[i], "-t") == 0 ||
		    strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--version") == 0 ||
		    strcmp(argv[i], "-V") == 0)
			return 1;
	return 0;
}

/*
 * The value the command line gives key, paired as config_load pairs
 * options and values (the last one wins), or NULL.
 */
const char *
config_arg(int argc, char **argv, const char *key)
{
	const char *found = NULL, *a, *eq;
	size_t kl = strlen(key);
	int i;

	for (i = 1; i < argc; i++) {
		a = argv[i];
		if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			i++;
			continue;
		}
		if (strncmp(a, "--", 2) != 0 || a[2] == '\0' ||
		    strncmp(a, "--config=", 9) == 0 ||
		    strcmp(a, "--check") == 0 || strcmp(a, "--help") == 0 ||
		    strcmp(a, "--version") == 0)
			continue;
		a += 2;
		if ((eq = strchr(a, '=')) != NULL) {
			if ((size_t)(eq - a) == kl && strncmp(a, key, kl) == 0)
				found = eq + 1;
		} else if (i + 1 < argc) {
			if (strcmp(a, key) == 0)
				found = argv[i + 1];
			i++;
		}
	}
	return found;
}

/* A key's built-in default, or NULL. */
const char *
config_default(const char *name)
{
	const struct key *k = bsearch(name, keys, NKEYS, sizeof(keys[0]),
	    key_cmp);

	return k != NULL ? k->def : NULL;
}

/* Where each key was set, for a snapshot of cfg (cfgcache.c). */
void
config_marks_save(void *dst)
{
	memcpy(dst, key_file, sizeof(key_file));
	memcpy((char *)dst + sizeof(key_file), key_line, sizeof(key_line));
}

void
config_marks_load(const void *src)
{
	memcpy(key_file, src, sizeof(key_file));
	memcpy(key_line, (const char *)src + sizeof(key_file),
	    sizeof(key_line));
}

/* Did the file or the command line set this key? */
static int
key_set(const char *name)
{
	const struct key *k = bsearch(name, keys, NKEYS, sizeof(keys[0]),
	    key_cmp);

	return k != NULL && key_file[k - keys] != NULL &&
	    strcmp(key_file[k - keys], "defaults") != 0;
}

/*
 * hsts: "off", or "SECONDS [includeSubDomains] [preload]", made into the
 * Strict-Transport-Security value (RFC 6797 6.1) once.
 */
static void
hsts_parse(void)
{
	char *copy, *w, *save, val[128];
	long long age = -1;
	int sub = 0, pre = 0, bad = 0;

	cfg.hsts_value = NULL;
	if (cfg.hsts == NULL || strcmp(cfg.hsts, "off") == 0 ||
	    (copy = arena_strdup(&cfg.mem, cfg.hsts)) == NULL)
		return;
	for (w = strtok_r(copy, " \t", &save); w != NULL;
	    w = strtok_r(NULL, " \t", &save)) {
		if (age == -1 && str_to_ll(w, 0, 100000000, &age) == 0)
			continue;
		if (strcasecmp(w, "includeSubDomains") == 0)
			sub = 1;
		else if (strcasecmp(w, "preload") == 0)
			pre = 1;
		else
			bad = 1;
	}
	if (bad || age < 0) {
		at_key("hsts");
		cerr("hsts: '%s' is not off or \"SECONDS [includeSubDomains] "
		    "[preload]\"", cfg.hsts);
		return;
	}
	snprintf(val, sizeof(val), "max-age=%lld%s%s", age, sub ?
	    "; includeSubDomains" : "", pre ? "; preload" : "");
	cfg.hsts_value = arena_strdup(&cfg.mem, val);
}

/* Where a key was set: its file (NULL when not set) and *line. */
const char *
config_where(const char *name, int *line)
{
	const struct key *k = bsearch(name, keys, NKEYS, sizeof(keys[0]),
	    key_cmp);

	*line = k != NULL ? key_line[k - keys] : 0;
	return k != NULL && key_file[k - keys] != NULL ? key_file[k - keys] :
	    "defaults";
}

/* Point error messages at the line that set a key. */
static void
at_key(const char *name)
{
	const struct key *k = bsearch(name, keys, NKEYS, sizeof(keys[0]),
	    key_cmp);

	err_file = k != NULL && key_file[k - keys] != NULL ?
	    key_file[k - keys] : "defaults";
	err_line = k != NULL ? key_line[k - keys] : 0;
}

/*
 * --check: what loading does not already prove.  Compiles every regex,
 * checks that docroot is a directory and that the files named exist.
 * Returns the number of problems found (each logged).
 */
int
config_check(void)
{
	struct stat st;
	size_t i;

	errors = 0;
	for (i = 1; i < NKEYS; i++)
		if (strcmp(keys[i - 1].name, keys[i].name) >= 0)
			cerr("internal: key table out of order at %s",
			    keys[i].name);
	for (i = 0; i < cfg.nobjs; i++)
		if (cfg.objs[i].kind == OBJ_REGEX)
			regex_compile(&cfg.objs[i]);
	/*
	 * Objects match the request path: an index file served for its
	 * directory's path never meets a path= object naming the file, so
	 * credentials asked there would not guard it.
	 */
	for (i = 0; i < cfg.nobjs; i++) {
		const struct object *o = &cfg.objs[i];
		const char *base = strrchr(o->pattern, '/');
		size_t k;

		for (k = 0; o->kind == OBJ_PATH && o->protects && base != NULL &&
		    k < cfg.nindex; k++)
			if (strcmp(base + 1, cfg.index[k]) == 0) {
				err_file = o->file;
				err_line = o->line;
				cerr("path=\"%s\" asks for credentials, but "
				    "%.*s/ serves this index file without it: "
				    "use ppath=\"%.*s\"", o->pattern,
				    (int)(base - o->pattern), o->pattern,
				    (int)(base - o->pattern > 0 ? base -
				    o->pattern : 1), o->pattern);
			}
	}
	/* fn=cgi dir=: a script is the segment below a plain ppath. */
	{
		struct cgi_iter it = { 0, 0 };
		const struct directive *d;
		const struct object *o;

		while ((d = cgi_next(&it, &o)) != NULL) {
			const char *dir = ih_arg(&d->args, "dir");

			if (dir == NULL)
				continue;
			err_file = d->file;
			err_line = d->line;
			if (o->kind != OBJ_PPATH || o->wild)
				cerr("cgi: dir= needs a ppath object without "
				    "wildcards (the script is the segment "
				    "below it)");
			if (stat(dir, &st) == -1)
				cerr("cgi: dir %s: %s", dir, strerror(errno));
			else if (!S_ISDIR(st.st_mode))
				cerr("cgi: dir %s: not a directory", dir);
		}
	}
	{
		const struct strlist *lists[2] = { &cfg.allow, &cfg.deny };
		static const char *const names[2] = { "allow", "deny" };
		char msg[160];
		size_t k, j;

		/* Each rule is reported at the line that gave it. */
		for (k = 0; k < 2; k++)
			for (j = 0; j < lists[k]->n; j++)
				if (acl_check_regex(lists[k]->v[j], msg,
				    sizeof(msg)) == -1) {
					err_file = lists[k]->file[j];
					err_line = lists[k]->line[j];
					cerr("%s: %s", names[k], msg);
				}
	}
	{
		int proxied = (int)cfg.proxy_protocol;
		struct listen_spec ls;
		char why[128];

		for (i = 0; i < cfg.ports.n; i++)
			if (listen_parse(cfg.ports.v[i], &ls, why,
			    sizeof(why)) == 0 && ls.proxy)
				proxied = 1;
		at_key(cfg.proxy_protocol ? "proxy_protocol" : "port");
		if (proxied && cfg.trusted_proxies.n == 0)
			cerr("the PROXY protocol needs trusted_proxies (the "
			    "balancers whose headers are believed)");
		at_key("forwarded_for");
		if (cfg.forwarded_for != FWD_OFF && cfg.trusted_proxies.n == 0)
			cerr("forwarded_for needs trusted_proxies (the proxies "
			    "whose word is taken)");
		if (cfg.session_store == STORE_REDIS || cfg.nonce_store ==
		    STORE_REDIS || cfg.rate_limit_store == STORE_REDIS) {
			at_key("redis_address");
			if (redis_address_ok(cfg.redis_address) == -1)
				cerr("redis_address: '%s' is not HOST:PORT, "
				    "[V6]:PORT or a socket path",
				    cfg.redis_address);
			at_key("redis_password_file");
			if (cfg.redis_password_file != NULL &&
			    access(cfg.redis_password_file, R_OK) == -1)
				cerr("redis_password_file %s: %s",
				    cfg.redis_password_file, strerror(errno));
		}
	}
	at_key("docroot");
	if (stat(cfg.docroot, &st) == -1)
		cerr("docroot %s: %s", cfg.docroot, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		cerr("docroot %s: not a directory", cfg.docroot);
	at_key("mimetypes");
	if (cfg.mimetypes != NULL && access(cfg.mimetypes, R_OK) == -1)
		cerr("mimetypes %s: %s", cfg.mimetypes, strerror(errno));
	return errors;
}

/* Compile every object's regex now (a daemon, before its first fork). */
void
config_preload(void)
{
	size_t i;

	for (i = 0; i < cfg.nobjs; i++)
		if (cfg.objs[i].kind == OBJ_REGEX && cfg.objs[i].re_state == 0)
			(void)regex_compile(&cfg.objs[i]);
}

void
config_free(void)
{
	size_t i;

	/* Only regex objects compile: with the index, only those are seen. */
	if (cfg.objindex != NULL) {
		for (i = 0; i < cfg.objindex->nscan; i++)
			if (cfg.objs[cfg.objindex->scan[i]].re_state == 2)
				regfree(&cfg.objs[cfg.objindex->scan[i]].re);
	} else
		for (i = 0; i < cfg.nobjs; i++)
			if (cfg.objs[i].re_state == 2)
				regfree(&cfg.objs[i].re);
	arena_reset(&cfg.mem);
	free(cfg.mem.head);
	cfg.mem.head = NULL;
	cfgcache_end();
}

/* ---- directive arguments (ihttpd.h) --------------------------------- */

const char *
ih_arg(const struct ih_args *a, const char *key)
{
	size_t i;

	for (i = 0; a != NULL && i < a->n; i++)
		if (strcmp(a->key[i], key) == 0)
			return a->val[i];
	return NULL;
}

const char *
ih_arg_at(const struct ih_args *a, size_t i, const char **key)
{
	if (a == NULL || i >= a->n)
		return NULL;
	if (key != NULL)
		*key = a->key[i];
	return a->val[i];
}
