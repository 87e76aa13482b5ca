/*
 * form.c - parameters from the body: application/x-www-form-urlencoded
 * (the URL Standard's rules: '+' is a space, %XX a byte, a bad escape is
 * 400) and multipart/form-data (RFC 7578, RFC 2046 section 5.1) read as
 * a stream: a part's bytes are handed out as they arrive, never the whole
 * body at once.  ih_parse_body builds on the stream: small fields become
 * parameters (max_field), file parts are spooled to unlinked temporary
 * files in datadir, so nothing is left behind even if the process dies.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "internal.h"

#define MP_BUF		32768	/* stream buffer; a delimiter is < 80 */
#define MP_HEAD_MAX	8192	/* one part's header block: 431-ish 400 */
#define MP_PREAMBLE	16384	/* bytes before the first delimiter */

enum { MP_START, MP_HEADERS, MP_BODY, MP_AFTER, MP_END, MP_ERROR };

struct multipart {
	char	 delim[80];	/* "\r\n--" boundary */
	size_t	 dlen;
	char	*buf;
	size_t	 len, pos;
	int	 state;
	int	 eof;
	long long parts;	/* counted against max_parts */
};

int
form_kv_add(struct arena *a, struct kvlist *l, const char *k, const char *v)
{
	if (k == NULL || v == NULL)
		return -1;
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 16;
		struct kv *n = arena_alloc(a, ncap * sizeof(*n));

		if (n == NULL)
			return -1;
		if (l->n > 0)
			memcpy(n, l->v, l->n * sizeof(*n));
		l->v = n;
		l->cap = ncap;
	}
	l->v[l->n].k = k;
	l->v[l->n++].v = v;
	return 0;
}

/*
 * Decode one urlencoded component.  Returns 0 with *out in the arena, or
 * 400 for a '%' that does not start two hex digits, 500 out of memory.
 */
int
form_urldecode(struct arena *a, const char *s, size_t n, char **out)
{
	char *o;
	size_t i;

	if ((*out = o = arena_alloc(a, n + 1)) == NULL)
		return 500;
	for (i = 0; i < n; i++) {
		int hi, lo;

		if (s[i] == '+')
			*o++ = ' ';
		else if (s[i] == '%') {
			if (i + 2 >= n)
				return 400;
			hi = hexval((unsigned char)s[i + 1]);
			lo = hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return 400;
			*o++ = (char)(hi * 16 + lo);
			i += 2;
		} else
			*o++ = s[i];
	}
	*o = '\0';
	return 0;
}

/* name=value&... into l (repeated names kept in order).  0 or status. */
int
form_parse_urlencoded(struct arena *a, struct kvlist *l, const char *s,
    size_t n)
{
	const char *end = s + n;

	while (s < end) {
		const char *amp = memchr(s, '&', (size_t)(end - s)), *eq;
		size_t len = amp != NULL ? (size_t)(amp - s) : (size_t)(end - s);
		char *k, *v;
		int rc;

		if (len > 0) {
			eq = memchr(s, '=', len);
			if ((rc = form_urldecode(a, s, eq != NULL ?
			    (size_t)(eq - s) : len, &k)) != 0)
				return rc;
			if (eq != NULL)
				rc = form_urldecode(a, eq + 1,
				    len - (size_t)(eq - s) - 1, &v);
			else
				v = (char *)(uintptr_t)"";
			if (rc != 0)
				return rc;
			if (form_kv_add(a, l, k, v) == -1)
				return 500;
		}
		s += len + (amp != NULL);
	}
	return 0;
}

/*
 * A parameter of a header value: `; name=value` or `; name="quoted"`,
 * case-insensitive name (RFC 9110 5.6.6).  Quoted values are skipped
 * whole while looking for the next ';'.  In the arena, or NULL.
 */
static char *
header_param(struct arena *a, const char *v, const char *name)
{
	size_t nl = strlen(name);
	const char *p = v;

	/* The media type or disposition itself comes first. */
	p += strcspn(p, ";\"");
	while (*p == ';') {
		const char *pn, *val;
		size_t pl, vl;
		int quoted;

		p++;
		p += strspn(p, " \t");
		pn = p;
		p += strcspn(p, "=; \t");
		pl = (size_t)(p - pn);
		p += strspn(p, " \t");
		if (*p != '=') {
			p += strcspn(p, ";");
			continue;
		}
		p++;
		p += strspn(p, " \t");
		/*
		 * No backslash escapes: browsers send a file name such as
		 * C:\x\y.txt as it is and percent-encode quotes (RFC 7578
		 * 4.2), and a boundary cannot hold a backslash.
		 */
		if ((quoted = *p == '"')) {
			val = ++p;
			p += strcspn(p, "\"");
			if (*p != '"')
				return NULL;	/* unterminated */
			vl = (size_t)(p - val);
			p++;
		} else {
			val = p;
			p += strcspn(p, "; \t");
			vl = (size_t)(p - val);
		}
		if (pl == nl && strncasecmp(pn, name, nl) == 0)
			return arena_strndup(a, val, vl);
		p += strcspn(p, ";");
		(void)quoted;
	}
	return NULL;
}

/* Is a Content-Type this media type (parameters aside)? */
int
form_is_type(const char *ct, const char *type)
{
	size_t n = strlen(type);

	return ct != NULL && strncasecmp(ct, type, n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

/* The boundary of a multipart/form-data type (RFC 2046 5.1.1), or NULL. */
const char *
form_boundary(struct arena *a, const char *ct)
{
	char *b;
	size_t i;

	if (!form_is_type(ct, "multipart/form-data"))
		return NULL;
	if ((b = header_param(a, ct, "boundary")) == NULL)
		return NULL;
	if (strlen(b) == 0 || strlen(b) > 70)
		return NULL;
	for (i = 0; b[i] != '\0'; i++)
		if ((unsigned char)b[i] < 0x20 || (unsigned char)b[i] > 0x7e)
			return NULL;
	return b;
}

static int
mp_fail(struct ih_request *r, int status, const char *why)
{
	if (r->mp != NULL)
		r->mp->state = MP_ERROR;
	resp_set_error(r, status, why);
	return -1;
}

/* More bytes into the stream buffer.  0, or -1 (status set). */
static int
mp_fill(struct ih_request *r)
{
	struct multipart *m = r->mp;
	ssize_t n;

	if (m->pos > 0) {
		memmove(m->buf, m->buf + m->pos, m->len - m->pos);
		m->len -= m->pos;
		m->pos = 0;
	}
	if (m->eof || m->len == MP_BUF)
		return 0;
	n = ih_read(r, m->buf + m->len, MP_BUF - m->len);
	if (n < 0) {
		m->state = MP_ERROR;
		return -1;
	}
	if (n == 0)
		m->eof = 1;
	m->len += (size_t)n;
	return 0;
}

static int
mp_start(struct ih_request *r)
{
	const char *b;
	struct multipart *m;

	if (r->mp != NULL)
		return 0;
	b = form_boundary(r->a, ih_header(r, "Content-Type"));
	if (b == NULL)
		return mp_fail(r, form_is_type(ih_header(r, "Content-Type"),
		    "multipart/form-data") ? 400 : 415,
		    "not multipart/form-data with a boundary");
	if ((m = arena_alloc(r->a, sizeof(*m))) == NULL ||
	    (m->buf = malloc(MP_BUF)) == NULL)
		return mp_fail(r, 500, "out of memory");
	m->dlen = (size_t)snprintf(m->delim, sizeof(m->delim), "\r\n--%s", b);
	m->len = m->pos = 0;
	m->state = MP_START;
	m->eof = 0;
	m->parts = 0;
	r->mp = m;
	return 0;
}

/* Parse one part's header block at buf[pos..end). */
static int
mp_headers(struct ih_request *r, struct ih_part *part, const char *h,
    size_t n)
{
	char *block = arena_strndup(r->a, h, n), *line, *next;

	memset(part, 0, sizeof(*part));
	if (block == NULL)
		return mp_fail(r, 500, "out of memory");
	for (line = block; line != NULL && *line != '\0'; line = next) {
		char *colon, *v;

		if ((next = strstr(line, "\r\n")) != NULL) {
			*next = '\0';
			next += 2;
		}
		if ((colon = strchr(line, ':')) == NULL)
			return mp_fail(r, 400, "multipart header without ':'");
		*colon = '\0';
		v = colon + 1 + strspn(colon + 1, " \t");
		if (strcasecmp(line, "Content-Disposition") == 0) {
			if (strncasecmp(v, "form-data", 9) != 0)
				return mp_fail(r, 400, "part is not form-data");
			part->name = header_param(r->a, v, "name");
			part->filename = header_param(r->a, v, "filename");
		} else if (strcasecmp(line, "Content-Type") == 0)
			part->type = arena_strdup(r->a, v);
	}
	if (part->name == NULL)
		return mp_fail(r, 400, "part without a name");
	if (part->filename != NULL) {
		/* A client's file name is a label, never a path. */
		const char *base = strrchr(part->filename, '/');
		const char *bs = strrchr(part->filename, '\\');

		if (bs != NULL && (base == NULL || bs > base))
			base = bs;
		if (base != NULL)
			part->filename = base + 1;
		/* Not even a path component: "." and ".." become "_". */
		if (strcmp(part->filename, ".") == 0 ||
		    strcmp(part->filename, "..") == 0)
			part->filename = "_";
	}
	return 0;
}

ssize_t
ih_part_read(struct ih_request *r, void *out, size_t n)
{
	struct multipart *m = r->mp;

	if (m == NULL || m->state != MP_BODY || n == 0)
		return m != NULL && m->state == MP_ERROR ? -1 : 0;
	for (;;) {
		char *d = memmem(m->buf + m->pos, m->len - m->pos, m->delim,
		    m->dlen);
		size_t avail;

		if (d != NULL) {
			avail = (size_t)(d - (m->buf + m->pos));
			if (avail == 0) {
				m->pos += m->dlen;
				m->state = MP_AFTER;
				return 0;
			}
		} else {
			/* Keep what could be the start of a delimiter. */
			avail = m->len - m->pos >= m->dlen ?
			    m->len - m->pos - (m->dlen - 1) : 0;
			if (avail == 0) {
				if (m->eof)
					return mp_fail(r, 400,
					    "multipart body cut short");
				if (mp_fill(r) == -1)
					return -1;
				continue;
			}
		}
		if (avail > n)
			avail = n;
		memcpy(out, m->buf + m->pos, avail);
		m->pos += avail;
		return (ssize_t)avail;
	}
}

int
ih_part_next(struct ih_request *r, struct ih_part *part)
{
	struct multipart *m;
	char skip[4096];

	if (mp_start(r) == -1)
		return -1;
	m = r->mp;
	if (m->state == MP_START) {
		/* The first delimiter has no CRLF before it (RFC 2046). */
		for (;;) {
			char *d;

			if (m->len - m->pos >= m->dlen - 2 &&
			    memcmp(m->buf + m->pos, m->delim + 2, m->dlen - 2) ==
			    0) {
				m->pos += m->dlen - 2;
				m->state = MP_AFTER;
				break;
			}
			d = memmem(m->buf + m->pos, m->len - m->pos, m->delim,
			    m->dlen);
			if (d != NULL) {
				m->pos = (size_t)(d - m->buf) + m->dlen;
				m->state = MP_AFTER;
				break;
			}
			if (m->len >= MP_PREAMBLE || m->eof)
				return mp_fail(r, 400, "no multipart boundary");
			if (mp_fill(r) == -1)
				return -1;
		}
	}
	while (m->state == MP_BODY) {
		ssize_t n = ih_part_read(r, skip, sizeof(skip));

		if (n < 0)
			return -1;
	}
	if (m->state == MP_END)
		return 0;
	if (m->state != MP_AFTER)
		return -1;
	while (m->len - m->pos < 2 && !m->eof)
		if (mp_fill(r) == -1)
			return -1;
	if (m->len - m->pos >= 2 && memcmp(m->buf + m->pos, "--", 2) == 0) {
		m->state = MP_END;
		return 0;	/* the epilogue is drained with the body */
	}
	/* RFC 2046 5.1.1: transport padding (blanks) before the CRLF. */
	for (;;) {
		while (m->pos < m->len && (m->buf[m->pos] == ' ' ||
		    m->buf[m->pos] == '\t'))
			m->pos++;
		if (m->len - m->pos >= 2 || m->eof)
			break;
		if (mp_fill(r) == -1)
			return -1;
	}
	if (m->len - m->pos < 2 || memcmp(m->buf + m->pos, "\r\n", 2) != 0)
		return mp_fail(r, 400, "bad multipart delimiter line");
	m->pos += 2;
	for (;;) {
		char *end = memmem(m->buf + m->pos, m->len - m->pos, "\r\n\r\n",
		    4);

		if (end == NULL && m->len - m->pos >= 2 &&
		    memcmp(m->buf + m->pos, "\r\n", 2) == 0)
			end = m->buf + m->pos - 2;	/* no headers at all */
		if (end != NULL) {
			size_t hl = end >= m->buf + m->pos ?
			    (size_t)(end - (m->buf + m->pos)) : 0;

			if (hl > MP_HEAD_MAX)
				return mp_fail(r, 400,
				    "multipart headers too long");

			if (++m->parts > cfg.max_parts)
				return mp_fail(r, 413, "more multipart parts "
				    "than max_parts");
			if (mp_headers(r, part, m->buf + m->pos, hl) == -1)
				return -1;
			m->pos += hl + (end >= m->buf + m->pos ? 4 : 2);
			m->state = MP_BODY;
			return 1;
		}
		if (m->len - m->pos > MP_HEAD_MAX)
			return mp_fail(r, 400, "multipart headers too long");
		if (m->eof)
			return mp_fail(r, 400, "multipart body cut short");
		if (mp_fill(r) == -1)
			return -1;
	}
}

/* An unlinked temporary file in datadir/uploads (a spooled part, a CGI
 * body): its fd, close-on-exec, or -1. */
int
form_spool_file(void)
{
	char dir[4096], tmp[4096];
	int fd, n;

	/* Its own subdirectory: a full session store cannot stop uploads,
	 * nor a flood of uploads the sessions. */
	if (store_dir("uploads", dir, sizeof(dir)) == -1)
		return -1;
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd != -1 || (errno != EOPNOTSUPP && errno != EISDIR &&
	    errno != EINVAL))
		return fd;
	n = snprintf(tmp, sizeof(tmp), "%s/.upload.XXXXXX", dir);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* Close-on-exec like O_TMPFILE: no child inherits an upload. */
	if ((fd = mkostemp(tmp, O_CLOEXEC)) != -1)
		unlink(tmp);
	return fd;
}

/* Keep a spooled part; the table grows by doubling (linear in parts). */
static int
add_upload(struct ih_request *r, const struct ih_part *part, int fd,
    long long size)
{
	struct ih_upload *n = r->uploads;

	if (r->nuploads == r->uploads_cap) {
		size_t ncap = r->uploads_cap ? r->uploads_cap * 2 : 8;

		if ((n = arena_alloc(r->a, ncap * sizeof(*n))) == NULL)
			return -1;
		if (r->nuploads > 0)
			memcpy(n, r->uploads, r->nuploads * sizeof(*n));
		r->uploads_cap = ncap;
	}
	n[r->nuploads].name = part->name;
	n[r->nuploads].filename = part->filename;
	n[r->nuploads].type = part->type;
	n[r->nuploads].fd = fd;
	n[r->nuploads].size = size;
	r->uploads = n;
	r->nuploads++;
	return 0;
}

static int
parse_multipart(struct ih_request *r)
{
	struct ih_part part;
	char *buf = malloc(16384);
	int rc, status = 0;

	if (buf == NULL)
		return 500;
	while ((rc = ih_part_next(r, &part)) == 1) {
		long long size = 0;
		ssize_t n;
		int fd = -1;

		if (part.filename != NULL && (fd = form_spool_file()) == -1) {
			store_failed(r, "upload spool");	/* 503 */
			status = 500;
			break;
		}
		if (fd == -1) {
			/* A field: in memory, up to max_field. */
			char *v = NULL, *nv, *kept;

			while ((n = ih_part_read(r, buf, 16384)) > 0) {
				if (size + n > cfg.max_field) {
					status = 413;
					break;
				}
				if ((nv = realloc(v, (size_t)(size + n) + 1)) ==
				    NULL) {
					status = 500;
					break;
				}
				v = nv;
				memcpy(v + size, buf, (size_t)n);
				size += n;
			}
			if (status == 0 && n < 0)
				status = r->status >= 400 ? r->status : 400;
			/* The request arena is capped: too many fields, 413. */
			if (status == 0 && ((kept = arena_strndup(r->a, v != NULL ?
			    v : "", (size_t)size)) == NULL ||
			    form_kv_add(r->a, &r->params, part.name, kept) == -1))
				status = 413;
			free(v);
			if (status != 0)
				break;
			continue;
		}
		while ((n = ih_part_read(r, buf, 16384)) > 0) {
			if (write_full(fd, buf, (size_t)n) == -1) {
				store_failed(r, "upload spool");  /* ENOSPC */
				n = -2;
				break;
			}
			size += n;
		}
		if (n == -1) {
			close(fd);
			status = r->status >= 400 ? r->status : 400;
			break;
		}
		if (n == -2 || add_upload(r, &part, fd, size) == -1) {
			close(fd);
			status = 500;
			break;
		}
		lseek(fd, 0, SEEK_SET);
	}
	free(buf);
	if (status == 0 && rc < 0)
		status = r->status >= 400 ? r->status : 400;
	if (status == 0) {
		/* Anything after the closing delimiter is the epilogue. */
		char sink[4096];

		while (ih_read(r, sink, sizeof(sink)) > 0)
			;
	}
	return status;
}

int
ih_parse_body(struct ih_request *r)
{
	const char *ct = ih_header(r, "Content-Type");
	int status = 0;

	if (r->body_parsed)
		return r->body_parsed - 1;
	/* The parameter table starts with the query's (set up first). */
	request_query_params(r);
	status = r->query_status;
	if (status != 0 || r->body_done || (r->hd.clen <= 0 && !r->hd.chunked))
		;
	else if (form_is_type(ct, "application/x-www-form-urlencoded")) {
		char *body = NULL, *nb;
		size_t len = 0, cap = 0;
		ssize_t n;

		if (r->hd.clen > cfg.max_form)
			status = 413;
		while (status == 0) {
			if (len + 8192 > cap) {
				cap = cap ? cap * 2 : 16384;
				if ((nb = realloc(body, cap)) == NULL) {
					status = 500;
					break;
				}
				body = nb;
			}
			if ((n = ih_read(r, body + len, 8192)) < 0) {
				status = r->status >= 400 ? r->status : 400;
				break;
			}
			if (n == 0)
				break;
			len += (size_t)n;
			if (len > (size_t)cfg.max_form)
				status = 413;
		}
		if (status == 0)
			status = form_parse_urlencoded(r->a, &r->params,
			    body != NULL ? body : "", len);
		free(body);
	} else if (form_is_type(ct, "multipart/form-data"))
		status = parse_multipart(r);
	else
		status = 415;
	r->body_parsed = status + 1;
	if (status != 0)
		resp_set_error(r, status, r->detail != NULL && r->status ==
		    status ? r->detail : "request body parameters refused");
	return status;
}

const struct ih_upload *
ih_upload_at(struct ih_request *r, size_t i)
{
	return i < r->nuploads ? &r->uploads[i] : NULL;
}

/* At the end of a request: spooled files and the stream buffer go. */
void
form_cleanup(struct ih_request *r)
{
	size_t i;

	for (i = 0; i < r->nuploads; i++)
		if (r->uploads[i].fd != -1)
			close(r->uploads[i].fd);
	r->nuploads = 0;
	if (r->mp != NULL) {
		free(r->mp->buf);
		r->mp = NULL;
	}
}
