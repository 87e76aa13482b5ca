/*
 * internal.h - the server's own header: shared types, every limit in one
 * block, and prototypes grouped by the file that defines them.  Handlers
 * include ihttpd.h only.
 */
#ifndef IHTTPD_INTERNAL_H
#define IHTTPD_INTERNAL_H

#include <sys/types.h>
#include <sys/stat.h>

#include <regex.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ihttpd.h"

/*
 * Limits.  Each configurable one has a key of the same name (config.c
 * holds the defaults and ranges); the status it triggers is beside it.
 */
#define DEF_MAX_REQUEST_LINE	8192	/* 414 */
#define DEF_MAX_HEADER_SIZE	16384	/* 431: whole head, line included */
#define DEF_MAX_HEADERS		100	/* 431 */
#define DEF_MAX_BODY		"10m"	/* 413 */
#define DEF_HEADER_TIMEOUT	15	/* s to read a head: 408 */
#define DEF_KEEPALIVE_TIMEOUT	5	/* s idle between requests: close */
#define DEF_BODY_TIMEOUT	30	/* s without body progress: 408 */
#define DEF_SEND_TIMEOUT	60	/* s without send progress: close */
#define DEF_KEEPALIVE_REQUESTS	100
#define OBUF_SIZE		16384	/* response body buffer */
#define FILE_BLOCK		65536	/* read/write block for files */
#define MAX_CHUNK_EXT		4096	/* chunk-ext + trailers: 400 / 431 */
#define ARENA_BLOCK		16384
#define ARENA_MAX		(4 * 1024 * 1024)	/* per request */
#define CONFIG_MAX		(512 * 1024)	/* config file: an error past it */
#define CONFIG_MEM_MAX		(16 * 1024 * 1024)	/* all of a parsed config */
#define MAX_OBJECTS_MATCHED	64
#define MAX_LOCAL_REDIRECTS	10	/* CGI Location: /path in a row: 500 */
#define CGI_STDERR_MAX		65536	/* stderr bytes logged a request */
#define CGI_ARGS_MAX		64	/* RFC 3875 4.4 search words */
#define DRAIN_MAX		65536	/* unread body drained to keep alive */
#define RH_MAX			16384	/* handler-added header bytes */
#define TYPE_MAX		512	/* a Content-Type a handler may set */
#define TOKENS_MAX		256	/* server_tokens */
#define HEAD_MAX		(RH_MAX + TYPE_MAX + TOKENS_MAX + 640)

/* ---- util.c --------------------------------------------------------- */

struct arena {
	struct arena_block	*head;
	size_t			 total;
	size_t			 max;	/* 0: ARENA_MAX */
	/* set: one fixed region instead of malloc'ed blocks (cfgcache.c) */
	char			*fixed;
	size_t			 fixed_used, fixed_cap;
};
struct arena_block {
	struct arena_block	*next;
	size_t			 size, used;
	char			 data[] __attribute__((aligned(16)));
};
void	*arena_alloc_slow(struct arena *, size_t);
/*
 * n bytes from the arena, 16-byte aligned; NULL when the arena would pass
 * ARENA_MAX (the caller answers 500) or malloc fails.  Inline: the room
 * left in the newest block, else arena_alloc_slow.
 */
static inline void *
arena_alloc(struct arena *a, size_t n)
{
	struct arena_block *b = a->head;
	size_t r = (n + 15) & ~(size_t)15;

	if (b != NULL && a->fixed == NULL && n <= ARENA_BLOCK &&
	    b->size - b->used >= r) {
		void *p = b->data + b->used;

		b->used += r;
		return p;
	}
	return arena_alloc_slow(a, n);
}
char	*arena_strdup(struct arena *, const char *);
char	*arena_strndup(struct arena *, const char *, size_t);
char	*arena_cat(struct arena *, const char *, const char *);
uint32_t fnv1a32(const void *, size_t);
uint64_t fnv1a64(const void *, size_t);
char	*arena_printf(struct arena *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 arena_reset(struct arena *);

/*
 * A bounded text buffer: appends clamp at cap - 1 bytes and set `trunc`,
 * so no append can run past the end; the text is always NUL-terminated.
 */
struct sbuf {
	char	*p;
	size_t	 len, cap;
	int	 trunc;
};
void	 sb_init(struct sbuf *, char *buf, size_t cap);
void	 sb_put_slow(struct sbuf *, const char *, size_t);
/* Append n bytes; what does not fit is dropped and `trunc` set. */
static inline void
sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->cap - b->len > n) {	/* len < cap always holds */
		memcpy(b->p + b->len, s, n);
		b->len += n;
		b->p[b->len] = '\0';
	} else
		sb_put_slow(b, s, n);
}
void	 sb_puts(struct sbuf *, const char *);
/* sb_puts for a string literal: its length is known at compile time */
#define sb_lit(b, s)	sb_put((b), "" s, sizeof(s) - 1)
void	 sb_printf(struct sbuf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 sb_num(struct sbuf *, unsigned long long);
void	 sb_hex(struct sbuf *, unsigned long long);
void	 sb_esc(struct sbuf *, const char *, size_t max, int how);
#define ESC_QUOTE	1	/* '"' and '\\' too: a quoted log field */
#define ESC_BARE	2	/* ' ', '[', ']' too: an unquoted log field */

mode_t	 stdio_type(int fd);	/* S_IFMT of fd 0-2, asked once; else 0 */
/* fd is one of 0-2 and known not to be a socket */
#define stdio_not_socket(fd)	(stdio_type(fd) != 0 && \
	stdio_type(fd) != S_IFSOCK)
int	 str_to_ll(const char *, long long min, long long max, long long *);
int	 str_to_size(const char *, long long max, long long *);
int	 str_casecmp_n(const char *, const char *, size_t);
extern const unsigned char tchar_table[256];
/* A token character (RFC 9110 5.6.2)?  c: an unsigned char, or EOF. */
static inline int
is_tchar(int c)
{
	return c >= 0 && c < 256 && tchar_table[c];
}
size_t	 html_escape(char *dst, size_t cap, const char *src);
int64_t	 mono_ms(void);
time_t	 now_real(void);
int64_t	 now_real_ms(void);
void	 clock_setup(void);
void	 http_date(time_t, char out[30]);
void	 utc_tm(time_t, struct tm *);
time_t	 utc_timegm(const struct tm *);
int	 hexval(int);
void	 hex_encode(char *out, const unsigned char *in, size_t n);
int	 edit_distance(const char *, const char *);
ssize_t	 write_full(int fd, const void *, size_t);
char	*url_encode_path(struct arena *, const char *);
void	 url_encode_buf(char *, size_t, const char *);
size_t	 url_b64_encode(const unsigned char *, size_t, char *, size_t);

/* ---- http.c --------------------------------------------------------- */

struct header {
	char	*name;
	char	*value;
};

/* The parsed head of a request; slices point into the read buffer. */
struct head {
	char		*method;
	char		*target;
	int		 version;	/* 10 or 11 */
	struct header	*h;
	int		 nh;
	int		 maxh;
	char		*host;		/* absolute-form authority or Host */
	char		*path_raw;	/* origin-form path part of target */
	const char	*query;		/* after '?', "" when none */
	long long	 clen;		/* -1 when absent */
	int		 chunked;
	int		 conn_close;
	int		 conn_keepalive;
	int		 expect_continue;
	int		 has_if;	/* a header named If-...: cond.c */
	const char	*referer, *user_agent;	/* the first of each: the log */
	int		 asterisk;	/* OPTIONS * */
};

int	 http_parse_head(char *buf, size_t len, struct head *);
size_t	 http_find_head_end(const char *buf, size_t len, size_t from);
int	 http_normalize_path(const char *in, size_t len, char *out,
	    size_t cap);
int	 http_method_known(const char *);
const char *http_reason(int status);
size_t	 http_status_count(void);
int	 http_status_at(size_t i);

struct chunked {
	int		 state;
	uint64_t	 left;		/* bytes left in the current chunk */
	size_t		 extlen;	/* bytes of chunk-ext/trailer seen */
	int		 digits;
};
/*
 * Decode chunked framing from in[0..*inlen) into out[0..outcap).  On
 * return *inlen holds the bytes consumed.  Returns bytes written to out,
 * with st->state == CH_DONE at the end, or -1 malformed, -2 trailers or
 * extensions too long.
 */
ssize_t	 http_chunked_decode(struct chunked *, const char *in,
	    size_t *inlen, char *out, size_t outcap);
#define CH_DONE	99

/* ---- config.c ------------------------------------------------------- */

struct ih_args {
	size_t	  n;
	char	**key;
	char	**val;
};

struct directive {
	int			 phase;
	const struct ih_function *fn;
	struct ih_args		 args;
	const char		*file;
	int			 line;
};

enum obj_kind { OBJ_PATH, OBJ_PPATH, OBJ_REGEX };

struct object {
	enum obj_kind	 kind;
	char		*pattern;
	size_t		 plen;
	/* ppath with NSAPI wildcards (*, ?, [...]): matched by fnmatch */
	int		 wild;
	size_t		 litlen;	/* literal prefix length, for ordering */
	/* path segments the object fixes (x2, +1 exact): AuthTrans rank */
	int		 depth;
	int		 protects;	/* has an AuthTrans directive */
	/* regex: a literal fast path, else regcomp on first use */
	int		 re_state;	/* 0 unknown, 1 literal, 2 compiled */
	int		 lit_start, lit_end;	/* ^ and $ anchors */
	char		*lit;
	regex_t		 re;
	struct directive *dirs;
	size_t		 ndirs;
	const char	*file;
	int		 line;
};

enum { SYMLINKS_OFF, SYMLINKS_OWNER, SYMLINKS_BENEATH };

struct errpage {
	int		 status;
	char		*path;
};

/*
 * The objects by pattern, so that matching a path costs lookups of its
 * prefixes, not a walk of every object: path and plain ppath objects are
 * in a hash table of their patterns (chains of object indices, +1, 0
 * ending), the others (regex, ppath with wildcards, ppath "/") in scan.
 */
struct objindex {
	uint32_t	 mask;		/* buckets - 1, a power of two less 1 */
	uint32_t	*bucket;
	uint32_t	*next;		/* per object */
	uint32_t	*hash;		/* per object */
	uint32_t	*scan;
	size_t		 nscan;
};

struct strlist {
	char		**v;
	size_t		 n;
	const char	**file;		/* where each entry was set */
	int		*line;
};

enum { RLOOKUP_OFF, RLOOKUP_ON, RLOOKUP_DOUBLE };

/* `type`, in the order of its choices; SRV_INETD is inetd and pipe mode. */
enum { SRV_INETD = -1, SRV_SINGLE, SRV_FORK, SRV_PREFORKSIMPLE, SRV_PREFORK };
/* `tls_verify_client` */
enum { FWD_OFF, FWD_XFF, FWD_FORWARDED };
enum { STORE_FILES = 0, STORE_REDIS = 1 };
#define STORE_LOCAL	STORE_FILES
enum { TLS_VERIFY_OFF, TLS_VERIFY_OPTIONAL, TLS_VERIFY_ON };
/* Mozilla's "intermediate" profile (server side TLS, version 5.7) */
#define TLS_CIPHERS	"ECDHE-ECDSA-AES128-GCM-SHA256:" \
	"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" \
	"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:" \
	"ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:" \
	"DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
#define TLS_SUITES	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:" \
	"TLS_CHACHA20_POLY1305_SHA256"
#define TLS_GROUPS	"X25519:P-256:P-384"
/* `serialize`: how workers take turns at accept */
enum { SER_EPOLL, SER_FLOCK, SER_NONE };

struct config {
	char		*docroot;
	char		**index;
	size_t		 nindex;
	char		*mimetypes;
	char		*default_type;
	char		*charset;
	char		*server_name;
	char		*server_tokens;
	char		*access_log;
	char		*error_log;
	long long	 log_level;
	long long	 debug;
	char		*debug_log;
	char		*remote_addr;
	long long	 keepalive_requests;
	long long	 keepalive_timeout;
	long long	 header_timeout;
	long long	 body_timeout;
	long long	 body_min_rate;
	long long	 lock_timeout;
	long long	 send_timeout;
	long long	 send_min_rate;
	long long	 max_request_line;
	long long	 max_header_size;
	long long	 max_headers;
	long long	 max_body;
	long long	 max_ranges;
	long long	 max_parts;
	long long	 listing;	/* bool */
	long long	 magic;		/* bool */
	long long	 gzip_static;	/* bool */
	long long	 symlinks;	/* SYMLINKS_* */
	struct errpage	*error_pages;
	size_t		 nerror_pages;
	struct strlist	 allow, deny, cidr_allow, cidr_deny;
	long long	 reverse_lookups;	/* RLOOKUP_* */
	char		*datadir;
	long long	 digest_legacy;		/* bool */
	long long	 nonce_ttl;
	long long	 nonce_slots;
	long long	 rate_limit_slots;	/* ratelimit.c */
	long long	 max_form;
	long long	 max_field;
	long long	 sessions;		/* bool */
	long long	 session_ttl;
	long long	 max_sessions;
	char		*session_cookie;
	/* standalone (daemon.c, listen.c) */
	long long	 standalone;		/* bool */
	struct strlist	 ports;
	long long	 type;			/* SRV_* */
	long long	 listen_backlog;
	char		*unix_mode;
	long long	 min_servers, min_spare_servers, max_spare_servers;
	long long	 max_servers, max_requests;
	long long	 serialize;		/* SER_* */
	long long	 graceful_timeout;
	long long	 file_cache_valid;	/* files.c open-file cache */
	long long	 idle_exit;
	char		*pid_file;
	long long	 background;		/* bool */
	char		*chroot;
	char		*user;
	char		*group;
	/* TLS (tls.c) */
	long long	 tls;			/* bool */
	char		*tls_cert, *tls_key, *tls_ca;
	char		**tls_protocols;		/* NULL-terminated */
	char		*tls_ciphers, *tls_ciphersuites;
	long long	 tls_verify_client;	/* TLS_VERIFY_* */
	struct strlist	 tls_sni;		/* NAME CERT KEY, in threes */
	long long	 tls_ticket_lifetime;
	char		*hsts;
	char		*hsts_value;		/* the header's value, or NULL */
	/* CGI (cgi.c) */
	long long	 cgi_timeout;
	long long	 cgi_max_header;
	long long	 cgi_rlimit_cpu, cgi_rlimit_as, cgi_rlimit_nproc;
	long long	 cgi_strict;		/* bool */
	char		*cgi_path;
	char		**cgi_pass_env;		/* NULL-terminated, or NULL */
	/* beyond one machine (proxy.c, redis.c, limits.c) */
	long long	 proxy_protocol;	/* bool */
	struct strlist	 trusted_proxies;
	long long	 forwarded_for;		/* FWD_* */
	long long	 session_store, nonce_store;	/* STORE_* */
	long long	 rate_limit_store;	/* STORE_LOCAL, STORE_REDIS */
	char		*redis_address, *redis_prefix, *redis_password_file;
	long long	 redis_timeout;		/* ms */
	char		*rate_limit;
	double		 rl_rate, rl_burst;	/* rate_limit parsed; 0: off */

	struct object	*objs;
	size_t		 nobjs;
	struct objindex	*objindex;	/* config.c: objects by pattern */
	struct directive *inits;
	size_t		 ninits;
	const char	*file;		/* -c FILE, or NULL */
	struct arena	 mem;
};

extern struct config cfg;

int	 config_load(int argc, char **argv, int *check_only);
int	 config_check(void);
const char *config_where(const char *key, int *line);
void	 config_log_at(const char *file, int line, const char *msg);
const struct ih_function *config_find_function(const char *);
int	 object_regex_match(struct object *, const char *path);
void	 config_free(void);
#define CONFIG_NKEYS	128	/* room for every key (config.c checks) */
const char *config_default(const char *key);
const char *config_arg(int argc, char **argv, const char *key);
const struct stat *config_file_read(void);	/* as opened, or NULL */
void	 config_marks_save(void *);	/* where each key was set */
void	 config_marks_load(const void *);
/* cfgcache.c: the parsed config kept for the next process */
int	 cfgcache_load(int argc, char **argv);
void	 cfgcache_begin(void);
void	 cfgcache_store(int argc, char **argv);
void	 cfgcache_end(void);
const char *cfgcache_source(void);	/* the snapshot loaded, or NULL */
int	 cfgcache_enabled(void);
int	 file_fresh(const struct stat *);	/* too new to cache by its times */
void	 config_preload(void);
void	 config_usage(FILE *);

/* ---- tls.c ---------------------------------------------------------- */

#define TLS_RECORD	16384	/* plaintext per record (RFC 8446 5.1) */

struct conn;
int	 tls_version(const char *);
int	 tls_check(void);
int	 tls_setup(int lazy);
int	 tls_tickets_init(void);
int	 tls_tickets_refresh(void);
int	 tls_name_match(const char *pattern, const char *name);
int	 tls_tickets_due(void);
void	 tls_cleanup(void);
void	 tls_nodump(void);
int	 tls_start(struct conn *);
int	 tls_pending(const struct conn *);
ssize_t	 tls_read(struct conn *, void *, size_t);
ssize_t	 tls_write(struct conn *, const void *, size_t);
ssize_t	 tls_sendfile(struct conn *, int fd, off_t off, size_t len);
int	 tls_ktls(const struct conn *);
void	 tls_end(struct conn *, int notify);
int	 tls_wait(struct conn *, int want_write, int64_t ms);

/* ---- conn.c --------------------------------------------------------- */

struct conn {
	int		 in, out;
	int		 in_socket, out_socket;
	char		 peer[64];
	char		 peer_log[68];	/* peer escaped for the log (log.c) */
	size_t		 peer_log_len;	/* 0: not made yet */
	char		 peer_port[8];
	char		 local[64];
	char		 local_port[8];
	char		*ibuf;
	size_t		 icap, ilen, ipos;	/* buffer, filled, consumed */
	/* The response's head and body buffers belong to the connection,
	 * not the request arena: an error page can always be built. */
	char		*hbuf;		/* HEAD_MAX */
	char		*obuf;		/* OBUF_SIZE */
	int		 eof;
	int		 closing;	/* no further request on it */
	int		 broken;	/* a write failed: send nothing more */
	int		 idle;		/* waiting for the next request */
	int64_t		 send_start;	/* this response's head (mono ms) */
	unsigned long long send_base;	/* bytes_out then */
	int		 sndtimeo_short;	/* SO_SNDTIMEO cut to the deadline */
	unsigned	 nreq;
	unsigned long long bytes_out;
	char		*peer_host;	/* reverse_lookups: looked up once */
	int		 peer_host_done;
	/* TLS (tls.c): set once the handshake is done */
	void		*tls;		/* SSL *, or NULL: plain */
	int		 tls_want_write;	/* the last TLS read wants POLLOUT */
	char		*tbuf;		/* TLS_RECORD: writes gathered here */
	const char	*tls_proto, *tls_cipher;
	char		*tls_client_dn;	/* RFC 2253, or NULL */
	const char	*tls_client_verify;	/* SUCCESS, NONE */
	/* PROXY protocol (proxy.c) and forwarded headers (serve.c) */
	int		 proxied;	/* a PROXY header was accepted */
	int		 https;		/* TLS here, or at the balancer (v2) */
	char		 proxy_addr[64];	/* the balancer's address */
	char		 pp_proto[32], pp_cipher[64];	/* its TLS, if told */
	char		 conn_peer[64];	/* the peer before X-Forwarded-For */
	char		 conn_peer_port[8];
};

extern int conn_standalone;	/* accepted by the daemon, not launched */
extern int conn_yield;		/* single: close when another client waits */
int	 conn_others_waiting(void);
int	 conn_init(struct conn *, int in, int out);
void	 conn_free(struct conn *);
const char *conn_who(const struct conn *);
ssize_t	 conn_fill(struct conn *, int64_t deadline);
int	 conn_write(struct conn *, const void *, size_t);
void	 conn_send_begin(struct conn *);
struct iovec;
int	 conn_writev(struct conn *, struct iovec *, int);
int	 conn_sendfile(struct conn *, int fd, off_t off, off_t len);
void	 conn_compact(struct conn *);
void	 conn_linger(struct conn *);
void	 conn_reset(struct conn *);

/* ---- request state (pipeline.c, response.c, ...) -------------------- */

struct kv {
	const char	*k;
	const char	*v;
};

struct kvlist {
	struct kv	*v;
	size_t		 n, cap;
};

/*
 * Where a response stands; every call that completes or sends one moves
 * it forward, and the pipeline stops running phases once it leaves
 * RS_OPEN, in whatever phase that happened.
 */
enum resp_state {
	RS_OPEN,	/* nothing decided yet */
	RS_READY,	/* status, headers and body staged; resp_finish sends */
	RS_STREAMING,	/* the head is out, body pieces follow */
	RS_DONE,	/* complete on the wire */
	RS_DROPPED	/* ended without a complete response (EXIT, lost peer) */
};

/* How the body is delimited (RFC 9112 6.3), once the head is built. */
enum framing { FR_NONE, FR_LENGTH, FR_CHUNKED, FR_CLOSE, FR_NOBODY };

struct ih_request {
	struct conn	*c;
	struct arena	*a;
	struct head	 hd;
	char		*reqline;	/* the raw request line, for the log */
	char		*target_raw;	/* the request-target as sent */
	char		*path;		/* decoded, normalised */
	int		 method_head;
	time_t		 t_start;
	/* body */
	long long	 body_left;	/* Content-Length bytes still unread */
	long long	 body_total;
	int		 body_started, body_done;
	struct chunked	 ch;
	/* dispatch */
	const struct object *objs[MAX_OBJECTS_MATCHED];
	size_t		 nobjs;
	int		 objs_overflow;	/* more matched: fail, never drop */
	const struct object *cur_obj;
	char		*file;		/* docroot-relative, "" for the root */
	const char	*ctype;
	int		 type_guessed;
	struct kvlist	 vars, params;
	int		 vars_ready, params_ready;
	int		 body_parsed;	/* ih_parse_body's status + 1 */
	int		 query_status;	/* 0, or 400 for a bad escape */
	struct multipart *mp;
	struct ih_upload *uploads;
	size_t		 nuploads, uploads_cap;
	struct session	*sess;
	const char	*remote_user, *auth_type;
	int		 store_failed;	/* a store timed out or failed: 503 */
	int64_t		 body_deadline;	/* the whole body's, from its first read */
	/* response */
	enum resp_state	 rstate;
	enum framing	 framing;
	int		 status;	/* the status sent (or to send) */
	int		 late_status;	/* a failure after the head went out */
	char		*rh;		/* handler headers, "Name: v\r\n"... */
	size_t		 rhlen, rhcap;
	char		*obuf;		/* the connection's, or a file's bytes */
	size_t		 olen;
	int		 errpage;	/* serving error_page for this status */
	int		 redirects;	/* CGI local redirects so far */
	const char	*orig_method;	/* before a local redirect made it GET */
	int		 creds_seen;	/* the server's auth read Authorization */
	const char	*nc_done;	/* Digest "nonce nc" counted already */
	int		 is_handler;
	unsigned long long out_start;	/* c->bytes_out when the head began */
	size_t		 head_len;	/* bytes of head; 0 until one is sent */
	unsigned long long overhead;	/* chunk framing in bytes_out */
	const char	*detail;
};

/* ---- response.c ----------------------------------------------------- */

int	 resp_send_head(struct ih_request *, long long clen);
int	 resp_finish(struct ih_request *);
void	 resp_done(struct ih_request *, int rc);
void	 resp_drop(struct ih_request *);
void	 resp_error_page(struct ih_request *, int status);
unsigned long long resp_body_bytes(const struct ih_request *);
int	 resp_log_status(const struct ih_request *);
int	 resp_add_headers(struct ih_request *, const char *lines, size_t len);
int	 resp_add_header_raw(struct ih_request *, const char *name,
	    const char *value);
int	 resp_set_error(struct ih_request *, int status, const char *detail);

/* ---- pipeline.c ----------------------------------------------------- */

int	 pipeline_run(struct ih_request *);
void	 run_inits(void);
void	 pipeline_match(struct ih_request *);
int	 builtin_document_root(struct ih_request *, const struct ih_args *);
int	 files_service_fn(struct ih_request *, const struct ih_args *);
int	 pipeline_error_page(struct ih_request *, int status);
int	 pipeline_redirect(struct ih_request *, const char *target);
int	 pipeline_index_script(struct ih_request *, const char *path);
int	 pipeline_runs_cgi(const char *path);
void	 request_vars(struct ih_request *);
void	 request_query_params(struct ih_request *);

/* ---- files.c -------------------------------------------------------- */

int	 files_open_docroot(void);
int	 files_open_at(int base, const char *rel, int flags);
int	 files_open_status(int err, const char **why);
int	 files_is_dotfile(const char *path);
int	 files_service(struct ih_request *);

/* ---- cgi.c --------------------------------------------------------- */

struct cgi_head {
	int		 status;	/* Status:, or 0 */
	const char	*location;	/* Location:, or NULL */
	long long	 clen;		/* Content-Length:, or -1 */
};

/* The config's fn=cgi directives, in order: start with both at 0. */
struct cgi_iter {
	size_t	 obj, dir;
};

const struct directive *cgi_next(struct cgi_iter *, const struct object **);
int	 cgi_is(const struct directive *);
void	 cgi_preload(void);
void	 cgi_cleanup(void);
void	 cgi_abort(void);
size_t	 cgi_head_end(const char *, size_t len, size_t from);
int	 cgi_head_parse(struct ih_request *, const char *name, char *,
	    size_t len, struct cgi_head *, const char **why);
char	*cgi_http_var(struct ih_request *, const char *header);

/* ---- mime.c --------------------------------------------------------- */

const char *mime_by_ext(const char *name);
const char *mime_by_magic(struct arena *, int fd);
void	 mime_free(void);
/* the index of a mime.types text (text is cut in place), and a lookup in
 * one: for tests */
void	*mime_index_make(char *text, const struct stat *, size_t *len);
const char *mime_index_find(const void *, size_t, const struct stat *,
	    const char *ext);
void	 mime_preload(void);

/* ---- cond.c -------------------------------------------------------- */

struct range {
	long long	 start, end;	/* inclusive */
};

int	 http_parse_date(const char *, time_t *);
int	 cond_etag_match(const char *list, const char *etag, int weak);
int	 range_parse(const char *spec, long long size, struct range *, int max);
int	 cond_evaluate(const struct ih_request *, const char *etag, time_t,
	    int *use_range);

/* ---- acl.c --------------------------------------------------------- */

struct cidr {
	int		 family;
	unsigned char	 addr[16];
	int		 bits;
};

int	 acl_parse_cidr(const char *, struct cidr *);
int	 acl_check_peer(struct conn *, struct arena *);
int	 acl_check_regex(const char *, char *err, size_t len);
void	 acl_cleanup(void);
int	 acl_preload(void);
int	 acl_trusted_proxy(const char *addr);

/* ---- auth.c -------------------------------------------------------- */

struct dparams {
	char	*username, *realm, *nonce, *uri, *response, *algorithm;
	char	*cnonce, *opaque, *qop, *nc, *userhash;
};

const struct ih_lookup *auth_find_lookup(const char *);
ssize_t	 auth_b64_decode(const char *, size_t, unsigned char *, size_t);
int	 auth_apr1(const char *pw, const char *hash, char *out);
int	 auth_htpasswd_match(const char *pw, const char *hash);
long long auth_hash_cost(const char *hash);
int	 auth_htpasswd_find(const char *path, const char *user, char *out,
	    char *decoy, size_t cap);
int	 auth_nonce_verify(const char *realm, const char *nonce, int64_t *);
int	 auth_nc_check(const char *nonce, unsigned long nc);
int	 auth_preload(void);
int	 auth_digest_parse(struct arena *, const char *, struct dparams *);
int	 auth_digest_response(const char *alg, const char *ha1hex,
	    const char *nonce, const char *nc, const char *cnonce,
	    const char *qop, const char *method, const char *uri, char *out);

/* ---- nonce.c ------------------------------------------------------- */

#define NC_BLOCK	512	/* header and bucket: one disk sector */
#define NC_SLOT		32
#define NC_SLOTS	(NC_BLOCK / NC_SLOT - 1)	/* 15 a bucket */
#define NONCE_ID_LEN	16
#define NONCE_KEY_LEN	(8 + NONCE_ID_LEN)	/* bucket choice, id */

enum { NONCE_ERROR = -1, NONCE_REPLAY = 0, NONCE_FRESH = 1,
    NONCE_STALE = 2 };

int	 nonce_table_ready(void);
off_t	 nonce_table_size(void);
int	 nonce_count(const unsigned char *key, int64_t t, uint32_t nc,
	    int64_t now);

/* ---- ratelimit.c -------------------------------------------------- */

/*
 * Take one token from the bucket named key (klen bytes, any bytes) that
 * refills at rate tokens/s up to burst.  now_ms: the current time in ms
 * (CLOCK_REALTIME ms since epoch, passed in for tests).
 * 1: allowed (token taken); 0: refused, *retry_ms set to the ms until a
 * token will be there (>= 1); -1: the table failed (errno set).
 */
int	 rl_take(const void *key, size_t klen, double rate, double burst,
	    int64_t now_ms, int64_t *retry_ms);
void	 rl_close(void);	/* unmap (tests; a process may just exit) */
/* tests only: lock key's set and return holding it; 0, or -1 */
int	 rl_test_hold_lock(const void *key, size_t klen, int64_t now_ms);

/* ---- form.c -------------------------------------------------------- */

int	 form_urldecode(struct arena *, const char *, size_t, char **out);
int	 form_parse_urlencoded(struct arena *, struct kvlist *, const char *,
	    size_t);
int	 form_kv_add(struct arena *, struct kvlist *, const char *,
	    const char *);
const char *form_boundary(struct arena *, const char *content_type);
int	 form_is_type(const char *content_type, const char *type);
void	 form_cleanup(struct ih_request *);
int	 form_spool_file(void);

/* ---- session.c ----------------------------------------------------- */

void	 sess_finish(struct ih_request *);
int	 sess_locked(const struct ih_request *);
extern unsigned sess_collect_one_in;

/* ---- store.c -------------------------------------------------------- */

int	 store_dir(const char *sub, char *out, size_t len);
int	 store_dir_try(const char *base, const char *sub, char *out, size_t len,
	    const char **why);
int	 store_file_ours(const struct stat *);
int	 store_replace(const char *path, const void *a, size_t alen,
	    const void *b, size_t blen);
int	 store_open(const char *path, int flags, mode_t mode);
int	 store_dir_trusted(const char *sub);
int	 store_lock(int fd, off_t off, off_t len);
int	 store_trylock(int fd, off_t off, off_t len);
void	 store_unlock(int fd, off_t off, off_t len);
void	 store_failed(struct ih_request *, const char *what);

/* ---- log.c ---------------------------------------------------------- */

int	 log_open(int check_only);
void	 log_access(struct ih_request *);
void	 log_close(void);
void	 log_detach(void);
int	 log_reopen(void);
extern unsigned log_debug_zones;
/* Inside the server, a debug line's arguments cost nothing when its zone
 * is off (the macro calls the function of the same name). */
#define ih_debug(zone, ...)	((log_debug_zones & (zone)) != 0 ? \
	ih_debug((zone), __VA_ARGS__) : (void)0)


/* ---- board.c: the scoreboard ---------------------------------------- */

/*
 * One slot per worker (prefork, preforksimple, fork children; one slot in
 * single, inetd and pipe mode), in memory shared by the master and its
 * workers.  A slot is written only by its worker (and by the master when
 * it hands the slot out or takes it back); readers (the status page)
 * copy it under its sequence counter, so a torn read is retried.
 */
enum board_state { BS_EMPTY, BS_STARTING, BS_IDLE, BS_READING, BS_WRITING,
	BS_KEEPALIVE, BS_CLOSING, BS_NSTATES };

#define BOARD_REQ	128	/* method and path of the current request */
#define BOARD_PEER	48

struct board_slot {
	unsigned	 seq;		/* odd while the worker writes it */
	pid_t		 pid;
	int		 state;		/* enum board_state */
	int64_t		 since_ms;	/* real time of the state change */
	int64_t		 started_ms;	/* when the worker started */
	unsigned long long requests, conns, bytes;
	char		 req[BOARD_REQ];
	char		 peer[BOARD_PEER];
};

struct board {
	int64_t		 start_ms;	/* the server's start (real time) */
	pid_t		 master;
	int		 type;		/* SRV_*, SRV_INETD for inetd/pipe */
	int		 nslots;
	int		 max_servers;	/* now (TTIN/TTOU move it) */
	int		 restarts;	/* HUP re-execs so far */
	/* counters of workers that have exited, slots since reused */
	unsigned long long done_requests, done_conns, done_bytes;
	unsigned long long spawned, exited;
	struct board_slot slot[];
};

extern struct board *board;	/* never NULL once board_init ran */
extern int board_me;		/* this process's slot */

int	 board_init(int nslots, int shared);
void	 board_free(void);
int	 board_claim(pid_t);	/* master: a free slot for pid, or -1 */
int	 board_find(pid_t);
void	 board_release(int slot);	/* master: fold counters, free it */
void	 board_set(int state, const char *req, const char *peer);
void	 board_count(unsigned long long bytes);	/* a request done */
void	 board_read(int slot, struct board_slot *out);
int	 board_count_state(int state);
int	 board_nslots(void);

/* ---- listen.c ------------------------------------------------------ */

#define LISTEN_SPEC_MAX	128
#define LISTENERS_MAX	32

struct listen_spec {
	char	 host[LISTEN_SPEC_MAX];	/* "" every address; unix: the path */
	int	 port;
	int	 scan, v6, unix_path, tls, proxy;
};

struct listener {
	int	 fd;
	char	 spec[LISTEN_SPEC_MAX];	/* the `port` value that made it */
	char	 name[128];		/* ADDRESS:PORT or unix:/path */
	char	 path[108];		/* a unix socket file we made */
	int	 tls, proxy, inherited;
};

struct listeners {
	struct listener	 v[LISTENERS_MAX];
	int		 n;
};

int	 listen_parse(const char *, struct listen_spec *, char *err, size_t);
int	 listen_bind(struct listeners *, const char *spec, char *err, size_t);
int	 listen_first_tls(const struct strlist *);
int	 listen_inherit(struct listeners *);
int	 listen_is_socket(int fd);
int	 listen_export(const struct listeners *, char *out, size_t len);
void	 listen_name(int fd, char *out, size_t len);
void	 listen_close(struct listeners *, int unlink_paths);

/* ---- proxy.c ------------------------------------------------------ */

#define PROXY_MAX	4096	/* the longest v2 header accepted */
enum { PROXY_LOCAL = 0, PROXY_PROXY };

struct proxy_hdr {
	int		 version;	/* 1 or 2 */
	int		 cmd;		/* PROXY_LOCAL: keep the real ends */
	int		 family;	/* AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC */
	unsigned char	 src[16], dst[16];
	unsigned	 src_port, dst_port;
	int		 ssl;		/* v2: the client spoke TLS to the sender */
	char		 ssl_version[32], ssl_cipher[64];
};

long	 proxy_parse(const unsigned char *, size_t, struct proxy_hdr *,
	    size_t *need);
int	 proxy_accept(struct conn *);
void	 proxy_forwarded(struct ih_request *);
void	 proxy_forwarded_end(struct conn *);
extern int serve_proxy;		/* the next connection starts with PROXY */

/* ---- limits.c ------------------------------------------------- */

int	 limits_parse(const char *rate, const char *burst, double *r,
	    double *b, char *err, size_t len);
int	 limits_parse_global(const char *, double *r, double *b, char *err,
	    size_t len);
int	 limits_global(struct ih_request *);

/* ---- redis.c ------------------------------------------------------ */

struct rstr {
	const char	*p;
	size_t		 len;
};
#define REDIS_KEYS_MAX	4
#define REDIS_ARGS_MAX	12
#define REDIS_KEY_LEN	256

int	 redis_address_ok(const char *);
void	*redis_run(struct ih_request *, const char *what, int argc,
	    const char **argv, const size_t *len);
void	*redis_eval(struct ih_request *, const char *what, const char *script,
	    int nkeys, const struct rstr *keys, int nargs,
	    const struct rstr *args);
long long redis_int(const void *reply, long long def);
void	 redis_free(void *reply);
void	 redis_close(void);
int	 redis_secret(struct ih_request *, unsigned char *, size_t);
int	 redis_nonce_ready(struct ih_request *);
int	 redis_nonce_count(struct ih_request *, const unsigned char *key,
	    int64_t t, uint32_t nc);
int	 redis_rate_take(struct ih_request *, const void *key, size_t klen,
	    double rate, double burst, int64_t *retry_ms);

/* ---- daemon.c ------------------------------------------------------ */

int	 daemon_wanted(void);
int	 daemon_check(void);
int	 daemon_run(int argc, char **argv);
/* fds that end a keep-alive wait when readable (single: the listeners) */
extern int conn_idle_fds[LISTENERS_MAX + 1];
extern int conn_idle_nfds;

/* ---- serve.c -------------------------------------------------------- */

int	 serve_connection(int in, int out);
/* set by a graceful stop: no new request on a kept-alive connection */
extern volatile sig_atomic_t serve_stopping;
extern int serve_tls;		/* the next connection speaks TLS */

/* ---- request.c ------------------------------------------------------ */

int	 request_discard(struct ih_request *, long long max);
void	 request_drain(struct ih_request *);

#endif /* IHTTPD_INTERNAL_H */
