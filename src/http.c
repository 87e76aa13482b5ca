/*
 * http.c - HTTP/1.1 message syntax, with no I/O: the request head (RFC 9112
 * sections 2-3, 5, 6), the request-target path (RFC 3986 section 5.2.4,
 * decoded exactly once), chunked transfer coding (RFC 9112 section 7.1)
 * and the status table (RFC 9110 section 15).
 *
 * The head parser works in place on a complete head (ending in an empty
 * line) that the caller has already read into its buffer: it NUL-terminates
 * the slices it hands out and never reads past len.  It returns 0 or the
 * HTTP status to answer with (400, 414, 417, 431, 501, 505).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

static const struct status {
	int		 code;
	const char	*reason;
} statuses[] = {
	{ 100, "Continue" },
	{ 101, "Switching Protocols" },
	{ 200, "OK" },
	{ 201, "Created" },
	{ 202, "Accepted" },
	{ 203, "Non-Authoritative Information" },
	{ 204, "No Content" },
	{ 205, "Reset Content" },
	{ 206, "Partial Content" },
	{ 300, "Multiple Choices" },
	{ 301, "Moved Permanently" },
	{ 302, "Found" },
	{ 303, "See Other" },
	{ 304, "Not Modified" },
	{ 307, "Temporary Redirect" },
	{ 308, "Permanent Redirect" },
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 406, "Not Acceptable" },
	{ 408, "Request Timeout" },
	{ 409, "Conflict" },
	{ 410, "Gone" },
	{ 411, "Length Required" },
	{ 412, "Precondition Failed" },
	{ 413, "Content Too Large" },
	{ 414, "URI Too Long" },
	{ 415, "Unsupported Media Type" },
	{ 416, "Range Not Satisfiable" },
	{ 417, "Expectation Failed" },
	{ 421, "Misdirected Request" },
	{ 422, "Unprocessable Content" },
	{ 426, "Upgrade Required" },
	{ 429, "Too Many Requests" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" },
	{ 501, "Not Implemented" },
	{ 502, "Bad Gateway" },
	{ 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" },
	{ 505, "HTTP Version Not Supported" },
};

static int
status_cmp(const void *key, const void *elem)
{
	return *(const int *)key - ((const struct status *)elem)->code;
}

/* The reason phrase of a status; "Unknown" for one not in the table. */
const char *
http_reason(int code)
{
	const struct status *s = bsearch(&code, statuses,
	    sizeof(statuses) / sizeof(statuses[0]), sizeof(statuses[0]),
	    status_cmp);

	return s != NULL ? s->reason : "Unknown";
}

size_t
http_status_count(void)
{
	return sizeof(statuses) / sizeof(statuses[0]);
}

int
http_status_at(size_t i)
{
	return statuses[i].code;
}

/* Methods of RFC 9110 section 9 plus PATCH; others are answered 501. */
int
http_method_known(const char *m)
{
	static const char *const known[] = { "GET", "HEAD", "POST", "PUT",
	    "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH" };
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(m, known[i]) == 0)
			return 1;
	return 0;
}

/*
 * Find the end of a head in buf[0..len), looking at new bytes from
 * `from` on (callers pass the previous len, so nothing is rescanned twice).
 * Returns the length of the head including its empty line, or 0.
 * Lines may end in CRLF or, tolerated by RFC 9112 section 2.2, LF.
 */
size_t
http_find_head_end(const char *buf, size_t len, size_t from)
{
	const char *p;
	size_t i = from > 2 ? from - 2 : 0;

	while (i < len && (p = memchr(buf + i, '\n', len - i)) != NULL) {
		size_t nl = (size_t)(p - buf);

		if (nl + 1 < len && buf[nl + 1] == '\n')
			return nl + 2;
		if (nl + 2 < len && buf[nl + 1] == '\r' && buf[nl + 2] == '\n')
			return nl + 3;
		i = nl + 1;
	}
	return 0;
}

/* Split off the next line; NULL at the end.  Bare CR inside is an error. */
static char *
next_line(char **cur, char *end, int *bad)
{
	char *line = *cur, *nl;

	if (line >= end)
		return NULL;
	if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL) {
		*bad = 1;
		return NULL;
	}
	*cur = nl + 1;
	if (nl > line && nl[-1] == '\r')
		nl--;
	*nl = '\0';
	/*
	 * A bare CR left in the line is refused by the check of whatever
	 * part holds it (method and names take tokens only; targets and
	 * values no controls); a NUL by http_parse_head before any line.
	 */
	return line;
}

static int
parse_version(const char *v, int *version)
{
	if (strncmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' ||
	    v[6] != '.' || v[7] < '0' || v[7] > '9' || v[8] != '\0')
		return 400;
	if (v[5] != '1')
		return 505;
	*version = v[7] == '0' ? 10 : 11;
	return 0;
}

/*
 * Bytes by class, one lookup each: HOST_OK may appear in a Host (RFC 3986
 * reg-name, IPv4 or IP-literal, with an optional port); TARGET_BAD never
 * in a request-target (controls, space, DEL and above, and the ones RFC
 * 3986 has no room for); VALUE_BAD never in a field value.
 */
#define HOST_OK		1
#define TARGET_BAD	2
#define VALUE_BAD	4	/* in a field value: controls but HTAB, DEL */
static const unsigned char byte_class[256] = {
	[0 ... 0x08] = TARGET_BAD | VALUE_BAD, ['\t'] = TARGET_BAD,
	[0x0a ... 0x1f] = TARGET_BAD | VALUE_BAD, [' '] = TARGET_BAD,
	[0x7f] = TARGET_BAD | VALUE_BAD, [0x80 ... 0xff] = TARGET_BAD,
	['#'] = TARGET_BAD, ['"'] = TARGET_BAD, ['<'] = TARGET_BAD,
	['>'] = TARGET_BAD, ['\\'] = TARGET_BAD, ['^'] = TARGET_BAD,
	['`'] = TARGET_BAD, ['{'] = TARGET_BAD, ['|'] = TARGET_BAD,
	['}'] = TARGET_BAD,
	['a' ... 'z'] = HOST_OK, ['A' ... 'Z'] = HOST_OK,
	['0' ... '9'] = HOST_OK, ['-'] = HOST_OK, ['.'] = HOST_OK,
	['_'] = HOST_OK, ['~'] = HOST_OK, ['!'] = HOST_OK, ['$'] = HOST_OK,
	['&'] = HOST_OK, ['\''] = HOST_OK, ['('] = HOST_OK, [')'] = HOST_OK,
	['*'] = HOST_OK, ['+'] = HOST_OK, [','] = HOST_OK, [';'] = HOST_OK,
	['='] = HOST_OK, [':'] = HOST_OK, ['['] = HOST_OK, [']'] = HOST_OK,
	['%'] = HOST_OK,
};

/* RFC 3986 host: reg-name, IPv4 or IP-literal, with an optional port. */
static int
valid_host(const char *h)
{
	for (; *h != '\0'; h++)
		if ((byte_class[(unsigned char)*h] & HOST_OK) == 0)
			return 0;
	return 1;
}

/* Comma-separated list members, trimmed; returns the next or NULL. */
static const char *
list_next(const char **cur, size_t *len)
{
	const char *p = *cur, *e;

	while (*p == ' ' || *p == '\t' || *p == ',')
		p++;
	if (*p == '\0')
		return NULL;
	for (e = p; *e != '\0' && *e != ','; e++)
		;
	*cur = e;
	while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*len = (size_t)(e - p);
	return p;
}

static int
parse_content_length(const char *v, long long *clen)
{
	const char *cur = v, *m;
	size_t n;
	int got = 0;

	while ((m = list_next(&cur, &n)) != NULL) {
		long long x = 0;
		size_t i;

		if (n == 0)
			return 400;
		for (i = 0; i < n; i++) {
			if (m[i] < '0' || m[i] > '9')
				return 400;
			if (x > (1LL << 58))
				return 413;
			x = x * 10 + (m[i] - '0');
		}
		/* Repeated identical values are one value (RFC 9110 8.6). */
		if (*clen != -1 && *clen != x)
			return 400;
		*clen = x;
		got = 1;
	}
	return got ? 0 : 400;	/* an empty field is no length */
}

/*
 * RFC 9112 6.1 and 6.3: chunked must be the final coding and appear once
 * (else the length cannot be known: 400); any other coding before it is
 * one this server does not implement (501).
 */
static int
parse_transfer_encoding(const char *v, struct head *hd)
{
	const char *cur = v, *m;
	size_t n;
	int other = 0, last_chunked = 0;

	while ((m = list_next(&cur, &n)) != NULL) {
		last_chunked = n == 7 && str_casecmp_n(m, "chunked", 7) == 0;
		if (last_chunked) {
			if (hd->chunked)
				return 400;	/* chunked twice */
			hd->chunked = 1;
		} else
			other = 1;
	}
	if (!last_chunked)
		return 400;
	return other ? 501 : 0;
}

static void
parse_connection(const char *v, struct head *hd)
{
	const char *cur = v, *m;
	size_t n;

	while ((m = list_next(&cur, &n)) != NULL) {
		if (n == 5 && str_casecmp_n(m, "close", 5) == 0)
			hd->conn_close = 1;
		else if (n == 10 && str_casecmp_n(m, "keep-alive", 10) == 0)
			hd->conn_keepalive = 1;
	}
}

/* Split an absolute-form target into host and path (RFC 9112 3.2.2). */
static int
absolute_form(struct head *hd)
{
	char *t = hd->target, *auth, *end;
	size_t skip;

	if (str_casecmp_n(t, "http://", 7) == 0)
		skip = 7;
	else if (str_casecmp_n(t, "https://", 8) == 0)
		skip = 8;
	else
		return 400;
	auth = t + skip;
	end = auth + strcspn(auth, "/?");
	if (end == auth)
		return 400;
	/* The authority is copied down over the scheme to terminate it. */
	memmove(t, auth, (size_t)(end - auth));
	t[end - auth] = '\0';
	hd->host = t;
	if (strchr(t, '@') != NULL || !valid_host(t))
		return 400;
	hd->path_raw = end;
	return 0;
}

/*
 * Parse a complete request head in place.  hd->h must have room for
 * hd->maxh headers.  Returns 0, or the status to answer.
 */
int
http_parse_head(char *buf, size_t len, struct head *hd)
{
	static char root[] = "/";
	char *cur = buf, *end = buf + len, *line, *sp1, *sp2, *q;
	int bad = 0, rc, nhost = 0, c0;
	const char *te = NULL;
	size_t tlen;

	hd->nh = 0;
	hd->has_if = 0;
	hd->referer = hd->user_agent = NULL;
	hd->clen = -1;
	hd->chunked = hd->conn_close = hd->conn_keepalive = 0;
	hd->expect_continue = hd->asterisk = 0;
	hd->host = NULL;
	hd->query = "";
	/* NUL has no place in a head (RFC 9110 5.5), nor can C strings see
	 * past one. */
	if (memchr(buf, '\0', len) != NULL)
		return 400;

	/* RFC 9112 2.2: ignore empty lines before the request-line. */
	while (cur < end && (*cur == '\n' || (*cur == '\r' && cur + 1 < end &&
	    cur[1] == '\n')))
		cur += *cur == '\r' ? 2 : 1;
	if ((line = next_line(&cur, end, &bad)) == NULL || bad)
		return 400;

	/* request-line = method SP request-target SP HTTP-version */
	if ((sp1 = strchr(line, ' ')) == NULL || sp1 == line)
		return 400;
	*sp1 = '\0';
	hd->method = line;
	for (q = line; *q != '\0'; q++)
		if (!is_tchar((unsigned char)*q))
			return 400;
	hd->target = sp1 + 1;
	if ((sp2 = strchr(hd->target, ' ')) == NULL || sp2 == hd->target)
		return 400;
	*sp2 = '\0';
	if ((rc = parse_version(sp2 + 1, &hd->version)) != 0)
		return rc;
	/* RFC 3986 has no room for these in a request-target. */
	for (q = hd->target; *q != '\0'; q++)
		if (byte_class[(unsigned char)*q] & TARGET_BAD)
			return 400;
	tlen = (size_t)(q - hd->target);

	for (;;) {
		char *colon, *v, *ve;

		if ((line = next_line(&cur, end, &bad)) == NULL || bad)
			return 400;
		if (*line == '\0')
			break;
		if (*line == ' ' || *line == '\t')
			return 400;	/* obs-fold: RFC 9112 5.2 */
		if ((colon = strchr(line, ':')) == NULL || colon == line)
			return 400;
		for (q = line; q < colon; q++)
			if (!is_tchar((unsigned char)*q))
				return 400;	/* also space before ':' */
		*colon = '\0';
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		for (ve = v; *ve != '\0'; ve++)
			if (byte_class[(unsigned char)*ve] & VALUE_BAD)
				return 400;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		*ve = '\0';
		if (hd->nh == hd->maxh)
			return 431;
		hd->h[hd->nh].name = line;
		hd->h[hd->nh].value = v;
		hd->nh++;

		if ((line[0] | 0x20) == 'i' && (line[1] | 0x20) == 'f' &&
		    line[2] == '-')
			hd->has_if = 1;
		/* The fields the parser acts on, by their first letter. */
		c0 = line[0] | 0x20;
		if (c0 == 'u' || c0 == 'r') {
			if (hd->user_agent == NULL &&
			    strcasecmp(line, "User-Agent") == 0)
				hd->user_agent = v;
			else if (hd->referer == NULL &&
			    strcasecmp(line, "Referer") == 0)
				hd->referer = v;
			continue;
		}
		if (c0 != 'h' && c0 != 'c' && c0 != 't' && c0 != 'e')
			continue;
		if (strcasecmp(line, "Host") == 0) {
			if (nhost++ > 0 || !valid_host(v))
				return 400;
			if (hd->host == NULL)
				hd->host = v;
		} else if (strcasecmp(line, "Content-Length") == 0) {
			if ((rc = parse_content_length(v, &hd->clen)) != 0)
				return rc;
		} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
			if (te != NULL)
				return 400;	/* split across fields */
			te = v;
		} else if (strcasecmp(line, "Connection") == 0) {
			parse_connection(v, hd);
		} else if (strcasecmp(line, "Expect") == 0 &&
		    hd->version == 11) {
			if (strcasecmp(v, "100-continue") != 0)
				return 417;
			hd->expect_continue = 1;
		}
	}
	if (cur != end)
		return 400;

	if (te != NULL) {
		/* RFC 9112 6.1: TE in 1.0, or TE with CL, is faulty framing. */
		if (hd->version == 10 || hd->clen != -1)
			return 400;
		if ((rc = parse_transfer_encoding(te, hd)) != 0)
			return rc;
	}
	if (hd->version == 11 && nhost == 0)
		return 400;	/* RFC 9112 3.2 */

	/* request-target forms: RFC 9112 3.2 */
	hd->path_raw = hd->target;
	if (hd->target[0] == '*' && tlen == 1) {
		if (strcmp(hd->method, "OPTIONS") != 0)
			return 400;
		hd->asterisk = 1;
	} else if (hd->target[0] != '/') {
		if (strcmp(hd->method, "CONNECT") == 0)
			return 501;
		/* The target is rewritten in place: keep a copy for the log. */
		if ((rc = absolute_form(hd)) != 0)
			return rc;
	}
	if ((q = strchr(hd->path_raw, '?')) != NULL) {
		*q = '\0';
		hd->query = q + 1;
	}
	if (*hd->path_raw == '\0')
		hd->path_raw = root;
	if (!http_method_known(hd->method))
		return 501;
	return 0;
}

/*
 * Decode the path of a request-target once and normalise it: percent
 * escapes decoded, "//" folded, "." and ".." segments resolved (RFC 3986
 * 5.2.4).  Refused with 400: a bad escape, NUL, an encoded '/', the bytes
 * 0xC0/0xC1 (overlong UTF-8, never valid) and ".." above the root.
 * out needs len + 2 bytes.  Returns 0 or 400.
 */
int
http_normalize_path(const char *in, size_t len, char *out, size_t cap)
{
	size_t i = 0, o = 0, seg;
	int trailing = 0;

	if (len == 0 || in[0] != '/' || cap < len + 2)
		return 400;
	out[o++] = '/';
	while (i < len) {
		while (i < len && in[i] == '/')
			i++;
		if (i == len)
			break;
		seg = o;
		trailing = 0;
		while (i < len && in[i] != '/') {
			int c = (unsigned char)in[i];

			if (c == '%') {
				int hi, lo;

				if (i + 2 >= len)
					return 400;
				hi = hexval((unsigned char)in[i + 1]);
				lo = hexval((unsigned char)in[i + 2]);
				if (hi < 0 || lo < 0)
					return 400;
				c = hi * 16 + lo;
				if (c == 0 || c == '/')
					return 400;
				i += 3;
			} else
				i++;
			if (c == 0xc0 || c == 0xc1 || c == 0)
				return 400;
			out[o++] = (char)c;
		}
		if (o - seg == 1 && out[seg] == '.') {
			o = seg;
			trailing = 1;
		} else if (o - seg == 2 && out[seg] == '.' &&
		    out[seg + 1] == '.') {
			if (seg == 1)
				return 400;	/* above the root */
			o = seg - 1;
			while (out[o - 1] != '/')
				o--;
			trailing = 1;
		} else if (i < len)
			out[o++] = '/';
	}
	if ((trailing || (len > 0 && in[len - 1] == '/')) && out[o - 1] != '/')
		out[o++] = '/';
	out[o] = '\0';
	return 0;
}

/*
 * States of the chunked decoder.  RFC 9112 7.1 has only CRLF: a bare LF
 * or CR anywhere in the framing is malformed, as is whitespace after a
 * size that no ';' follows (BWS belongs before a chunk-ext only), so no
 * front end can read another end of the body than this server.
 */
enum { CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_END, CH_DATA_LF,
	CH_TR_LINE, CH_TR_FIELD, CH_TR_END_LF, CH_SIZE_WS, CH_TR_LF };

static int
chunk_line_end(struct chunked *st)
{
	st->state = st->left == 0 ? CH_TR_LINE : CH_DATA;
	st->digits = 0;
	st->extlen = 0;
	return 0;
}

ssize_t
http_chunked_decode(struct chunked *st, const char *in, size_t *inlen,
    char *out, size_t outcap)
{
	size_t i = 0, n = *inlen, o = 0;

	while (i < n && st->state != CH_DONE) {
		unsigned char c = (unsigned char)in[i];
		int v;

		switch (st->state) {
		case CH_SIZE:
			if ((v = hexval(c)) >= 0) {
				if (st->digits == 16)
					goto bad;
				st->left = st->left * 16 + (unsigned)v;
				st->digits++;
				i++;
			} else if (st->digits == 0)
				goto bad;
			else {
				/* size [BWS ";" ext] CRLF, nothing else */
				i++;
				if (c == ';')
					st->state = CH_EXT;
				else if (c == '\r')
					st->state = CH_SIZE_LF;
				else if (c == ' ' || c == '\t')
					st->state = CH_SIZE_WS;
				else
					goto bad;
			}
			break;
		case CH_SIZE_WS:
			i++;
			if (c == ';')
				st->state = CH_EXT;
			else if (c != ' ' && c != '\t')
				goto bad;
			else if (++st->extlen > MAX_CHUNK_EXT)
				goto toolong;
			break;
		case CH_EXT:
			i++;
			if (c == '\r')
				st->state = CH_SIZE_LF;
			else if ((c < 0x20 && c != '\t') || c == 0x7f)
				goto bad;	/* a bare LF too */
			else if (++st->extlen > MAX_CHUNK_EXT)
				goto toolong;
			break;
		case CH_SIZE_LF:
			if (c != '\n')
				goto bad;
			i++;
			chunk_line_end(st);
			break;
		case CH_DATA: {
			size_t take = n - i;

			if (take > st->left)
				take = (size_t)st->left;
			if (take > outcap - o)
				take = outcap - o;
			if (take == 0)
				goto out;	/* out is full */
			memcpy(out + o, in + i, take);
			o += take;
			i += take;
			st->left -= take;
			if (st->left == 0)
				st->state = CH_DATA_END;
			break;
		}
		case CH_DATA_END:
			i++;
			if (c != '\r')
				goto bad;
			st->state = CH_DATA_LF;
			break;
		case CH_DATA_LF:
			if (c != '\n')
				goto bad;
			i++;
			st->state = CH_SIZE;
			break;
		case CH_TR_LINE:
			if (c == '\r') {
				i++;
				st->state = CH_TR_END_LF;
			} else if (c == '\n')
				goto bad;
			else {
				st->state = CH_TR_FIELD;
				st->digits = 0;	/* name bytes; -1 after ':' */
			}
			break;
		case CH_TR_FIELD:
			/* A trailer field: token ":" value (RFC 9112 7.1.2). */
			i++;
			if (++st->extlen > MAX_CHUNK_EXT)
				goto toolong;
			if (c == '\r') {
				if (st->digits != -1)
					goto bad;
				st->state = CH_TR_LF;
			} else if (st->digits >= 0) {
				if (c == ':' && st->digits > 0)
					st->digits = -1;
				else if (is_tchar(c))
					st->digits++;
				else
					goto bad;
			} else if ((c < 0x20 && c != '\t') || c == 0x7f)
				goto bad;	/* bare LF, NUL, DEL, ... */
			break;
		case CH_TR_LF:
			/* A CR in a trailer ends its line, or it is bare: 400. */
			if (c != '\n')
				goto bad;
			i++;
			st->state = CH_TR_LINE;
			break;
		case CH_TR_END_LF:
			if (c != '\n')
				goto bad;
			i++;
			st->state = CH_DONE;
			break;
		default:
			goto bad;
		}
	}
out:
	*inlen = i;
	return (ssize_t)o;
bad:
	*inlen = i;
	return -1;
toolong:
	*inlen = i;
	return -2;
}
