/*
 * ihttpd.h - the one header a handler includes: the public handler API.
 *
 * A handler is a function compiled into the binary (handlers/NAME.c) and
 * named in the config as `Phase fn=NAME key=value ...`.  It registers itself
 * with one IH_FUNCTION line in its own file; the config resolves the name
 * when it loads, and at request time dispatch is one pointer call.
 *
 * A phase function returns one of the ih_result codes (NSAPI's):
 *   IH_PROCEED   done; in AuthTrans, NameTrans and Service this ends the phase
 *   IH_NOACTION  not for me; the next directive of the phase runs
 *   IH_ABORTED   the request failed; the status set by ih_error() is sent
 *   IH_EXIT      drop the connection without another byte
 *
 * Strings returned by the request accessors live until the request ends;
 * a handler never frees them.
 */
#ifndef IHTTPD_H
#define IHTTPD_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

#define IHTTPD_VERSION "0.1.0"

enum ih_result { IH_PROCEED = 0, IH_NOACTION, IH_ABORTED, IH_EXIT };

enum ih_phase {
	IH_INIT = 0,		/* once per process, before the first request */
	IH_AUTHTRANS,		/* credentials: 401 challenge or 403 */
	IH_NAMETRANS,		/* URL to file or handler, redirects */
	IH_PATHCHECK,		/* per-object checks; every directive runs */
	IH_OBJECTTYPE,		/* Content-Type; every directive runs */
	IH_SERVICE,		/* produce the response */
	IH_ADDLOG,		/* after the response; every directive runs */
	IH_NPHASES
};
#define IH_PH(p)	(1u << (p))

struct ih_request;		/* opaque: one request on one connection */
struct ih_args;			/* a directive's key=value arguments */

typedef int (*ih_func)(struct ih_request *, const struct ih_args *);
/* Config-time argument check: 0, or -1 with a message in err. */
typedef int (*ih_check)(const struct ih_args *, char *err, size_t errlen);

struct ih_function {
	const char	*name;		/* as used after fn= */
	unsigned	 phases;	/* IH_PH() bits it may run in */
	ih_func		 fn;
	ih_check	 check;		/* may be NULL */
};

/*
 * Register a function in one line, in the file that defines it:
 *	IH_FUNCTION("hello", IH_PH(IH_SERVICE), hello_service, NULL);
 * The entry goes into a linker set that the config searches by name.
 */
#define IH_FUNCTION(name_, phases_, fn_, check_)			\
	static const struct ih_function ih_fn_entry_##fn_		\
	__attribute__((used, section("ih_functions"),			\
	    aligned(sizeof(void *)))) = { name_, phases_, fn_, check_ }

/*
 * An authentication lookup (Net::HTTPServer's contract), named by
 * `lookup=NAME` in auth-basic and auth-digest.  Given the request path
 * and a user name it answers 200 with the password copied into pw
 * (allowed), 401 (no such user), or 403 with the password (known but
 * forbidden: the password is still checked, so a wrong one gets 401 and
 * nobody learns which users exist).  Register it in one line:
 *	IH_LOOKUP("demo-users", demo_users);
 */
typedef int (*ih_lookup_fn)(const char *path, const char *user, char *pw,
    size_t pwlen);

struct ih_lookup {
	const char	*name;
	ih_lookup_fn	 fn;
};

#define IH_LOOKUP(name_, fn_)						\
	static const struct ih_lookup ih_lookup_entry_##fn_		\
	__attribute__((used, section("ih_lookups"),			\
	    aligned(sizeof(void *)))) = { name_, fn_ }

/* Directive arguments: the value of key, or NULL when absent. */
const char	*ih_arg(const struct ih_args *, const char *key);
/* The i-th argument (0-based); NULL past the end. */
const char	*ih_arg_at(const struct ih_args *, size_t i, const char **key);

/* ---- The request ---------------------------------------------------- */

const char	*ih_method(const struct ih_request *);	/* "GET" */
const char	*ih_target(const struct ih_request *);	/* raw request-target */
const char	*ih_path(const struct ih_request *);	/* decoded, normalised */
const char	*ih_query(const struct ih_request *);	/* raw, "" when none */
int		 ih_version(const struct ih_request *);	/* 10 or 11 */
/* The pattern of the config object whose directive is running. */
const char	*ih_object(const struct ih_request *);

/* First value of a header (case-insensitive name), or NULL. */
const char	*ih_header(const struct ih_request *, const char *name);
/* Header i in arrival order; NULL past the end. */
const char	*ih_header_at(const struct ih_request *, size_t i,
		    const char **name);

/*
 * CGI-style variables (RFC 3875 names): REMOTE_ADDR, REMOTE_PORT,
 * SERVER_NAME, SERVER_PORT, SERVER_PROTOCOL, SERVER_SOFTWARE,
 * REQUEST_METHOD, REQUEST_URI, SCRIPT_NAME, QUERY_STRING, CONTENT_TYPE,
 * CONTENT_LENGTH, REMOTE_USER, AUTH_TYPE.  Client parameters can never
 * set these: they live in a separate table.
 */
const char	*ih_var(const struct ih_request *, const char *name);
const char	*ih_var_at(const struct ih_request *, size_t i,
		    const char **name);

/* Query parameters, percent-decoded; repeated names kept in order. */
const char	*ih_param(const struct ih_request *, const char *name);
const char	*ih_param_at(const struct ih_request *, size_t i,
		    const char **name);

/*
 * Read the request body as a stream: Content-Length and chunked framing
 * are handled beneath, and `Expect: 100-continue` is answered on the
 * first call.  Returns bytes read, 0 at the end of the body, or -1 on
 * error with the status already set (400, 408, 413): return IH_ABORTED.
 */
ssize_t		 ih_read(struct ih_request *, void *buf, size_t n);

/*
 * Parameters from the body.  application/x-www-form-urlencoded fields
 * join the query's parameters; multipart/form-data fields without a file
 * name do too, and file parts are spooled to unlinked temporary files in
 * datadir (ih_upload_at).  The query string is checked as well.  Called
 * by ih_param on first use (which then ignores errors); call it yourself
 * to get the status: 0, or 400 (malformed), 413 (over max_form, or a
 * field over max_field), 415 (another body type), 500.
 */
int		 ih_parse_body(struct ih_request *);

struct ih_upload {
	const char	*name;		/* the form field */
	const char	*filename;	/* as the client named it; never a path */
	const char	*type;		/* its Content-Type, or NULL */
	int		 fd;		/* read from offset 0; closed for you */
	long long	 size;
};
/* The i-th spooled file part; NULL past the end. */
const struct ih_upload *ih_upload_at(struct ih_request *, size_t i);

/*
 * Streaming multipart/form-data, for handlers that consume parts as they
 * arrive (not with ih_parse_body).  ih_part_next: 1 with *part set, 0 at
 * the end of the body, -1 with the status set (400, 413).  ih_part_read:
 * the current part's bytes, 0 at its end, -1 with the status set.
 */
struct ih_part {
	const char	*name;
	const char	*filename;	/* NULL for a plain field */
	const char	*type;
};
int		 ih_part_next(struct ih_request *, struct ih_part *);
ssize_t		 ih_part_read(struct ih_request *, void *buf, size_t n);

/*
 * Check a password through an authentication lookup (IH_LOOKUP, by name):
 * 200 allowed, 401 unknown user or wrong password, 403 forbidden (right
 * password), 500 no such lookup.  Compared in constant time.
 */
int		 ih_check_password(struct ih_request *, const char *lookup,
		    const char *user, const char *password);

/* ---- The response --------------------------------------------------- */

/* Set the status (default 200).  Ignored once the head is out. */
void		 ih_set_status(struct ih_request *, int status);
/* Set Content-Type (default text/html for handlers).  0 or -1. */
int		 ih_set_type(struct ih_request *, const char *type);
/*
 * Add a response header.  Refused (-1) when the name is not a token, the
 * value holds CR, LF or another control byte, the name is one the server
 * owns (Content-Length, Transfer-Encoding, Connection, Date, Server), or
 * the head has already been sent.
 */
int		 ih_add_header(struct ih_request *, const char *name,
		    const char *value);
/*
 * Body bytes.  Small bodies are sent with Content-Length when the handler
 * returns; a body that outgrows the buffer switches to chunked (HTTP/1.1)
 * or close-delimited (HTTP/1.0).  HEAD sends no body.  0 or -1 (the
 * connection is lost; return IH_EXIT).
 */
int		 ih_write(struct ih_request *, const void *buf, size_t n);
int		 ih_puts(struct ih_request *, const char *s);
int		 ih_printf(struct ih_request *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* Write s with & < > " ' replaced by entities. */
int		 ih_write_html(struct ih_request *, const char *s);
/* Send what is buffered now (for long-running output).  0 or -1. */
int		 ih_flush(struct ih_request *);
/*
 * Set-Cookie (RFC 6265): name a token, value cookie-octets, attrs such as
 * "Path=/; HttpOnly; SameSite=Lax" or NULL.  0 or -1 (refused).
 */
int		 ih_set_cookie(struct ih_request *, const char *name,
		    const char *value, const char *attrs);
/*
 * Send len bytes of an open file from its offset 0 as (the rest of) the
 * body: with Content-Length when nothing was written before, else
 * through the buffer.  0 or -1.
 */
int		 ih_send_fd(struct ih_request *, int fd, long long len);
/* Redirect: Location plus a short body; returns IH_PROCEED. */
int		 ih_redirect(struct ih_request *, int status, const char *url);
/*
 * Fail the request with an error page for status; detail goes to the
 * error log only, never to the client.  Returns IH_ABORTED.
 */
int		 ih_error(struct ih_request *, int status, const char *detail);

/*
 * Sessions (`sessions on`): server-side, keyed by a cookie whose id (128
 * bits from the kernel's CSPRNG) the server issued itself.  The first call
 * loads the session the client's cookie names, if it is live; nothing is
 * made until a value is stored, so a request that only reads (or a
 * client without the cookie) leaves nothing on disk and gets no cookie.
 * A loaded or made session stays locked against other requests until
 * this one ends (at most lock_timeout seconds of waiting, then the store
 * fails: 503).  Values are byte strings.  Every set, del and renew is
 * stored before it returns; when the store fails (a lock not granted in
 * time, a full disk, max_sessions reached) the call answers -1, the store
 * keeps its last good state, the request has no session from then on,
 * and ih_error(r, 500, ...) answers 503 with Retry-After.
 */
/*
 * The id of the session this request loaded or made, or NULL: with errno
 * 0 when there is none (yet: the first ih_session_set makes one), with
 * errno set when sessions are off (ENOTSUP) or the store failed.
 */
const char	*ih_session_id(struct ih_request *);
/* The value of key, NUL-terminated, len set if not NULL; NULL when the
 * key or the session is absent. */
const char	*ih_session_get(struct ih_request *, const char *key,
		    size_t *len);
/*
 * Store key=value (a key of 1 to 256 bytes, a value up to 64 KiB, 256 KiB
 * per session).  Without a session this makes one and queues its cookie,
 * so it must come before the response head goes out: after, -1.  0 or -1.
 */
int		 ih_session_set(struct ih_request *, const char *key,
		    const void *value, size_t len);
/* Remove key: 0, or -1 when it is absent or cannot be stored. */
int		 ih_session_del(struct ih_request *, const char *key);
/*
 * Give the session a new id (and cookie), keeping its data: call it when
 * a user logs in, so that an id known before the login is worth nothing.
 * Without a session, or with one this request made, nothing changes; a
 * session without data just ends.  0 or -1.
 */
int		 ih_session_renew(struct ih_request *);
/*
 * Remove the session and expire the client's cookie (a cookie is sent
 * only if the client sent one).  0, also when there was no session; -1
 * when sessions are off or the store failed.
 */
int		 ih_session_destroy(struct ih_request *);

/* ---- Logging -------------------------------------------------------- */

enum { IH_LOG_ERR = 0, IH_LOG_WARN, IH_LOG_NOTICE, IH_LOG_INFO,
	IH_LOG_DEBUG };
enum {
	IH_DBG_INIT = 1 << 0, IH_DBG_PROC = 1 << 1, IH_DBG_REQ = 1 << 2,
	IH_DBG_RESP = 1 << 3, IH_DBG_AUTH = 1 << 4, IH_DBG_FILE = 1 << 5,
	IH_DBG_READ = 1 << 6, IH_DBG_SEND = 1 << 7, IH_DBG_ALL = 0xff
};

/* An error log line at a level (shown when level <= log_level). */
void		 ih_log(int level, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* A debug line in a zone (shown when the zone is in `debug`). */
void		 ih_debug(unsigned zone, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

#endif /* IHTTPD_H */
