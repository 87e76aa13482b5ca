/*
 * files.c - the file service: confinement to docroot, directories (301 to
 * the slashed URL, index files, an optional listing), types, validators
 * and preconditions (RFC 9110 sections 8.8, 13), ranges (section 14, with
 * multipart/byteranges), precompressed variants, and sending (head and a
 * small body in one writev; sendfile(2) to sockets, read/write blocks
 * otherwise).
 *
 * Confinement: every open is relative to a descriptor of docroot.  Where
 * the kernel has openat2, RESOLVE_BENEATH (plus RESOLVE_NO_SYMLINKS for
 * `symlinks off`) does the work; otherwise, and always for `symlinks
 * owner`, a component-by-component walk with O_NOFOLLOW resolves links
 * itself and refuses any that leave docroot, absolute ones included.  The
 * path was decoded and normalised once (http.c); dot-files are refused
 * here except under /.well-known/.  The Host header never reaches a path.
 */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#ifdef __has_include
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define HAVE_OPENAT2 1
#endif
#endif

#include "internal.h"

#define MAX_LINKS	40

static int docroot_fd = -1;

int
files_open_docroot(void)
{
	if (docroot_fd == -1)
		docroot_fd = open(cfg.docroot, O_PATH | O_DIRECTORY |
		    O_CLOEXEC);
	return docroot_fd;
}

static int open_walk(int base, const char *rel, int flags, int *links);

/* Re-open a resolved directory path (no links in it) from base. */
static int
reopen_dir(int base, const char *done)
{
	int links = MAX_LINKS;	/* none may be followed */

	return *done == '\0' ? openat(base, ".", O_PATH | O_DIRECTORY |
	    O_CLOEXEC) : open_walk(base, done, O_PATH | O_DIRECTORY, &links);
}

/*
 * `symlinks owner`: follow a link only when it and its target have the
 * same owner (the target resolved beneath docroot on its own).  1 yes,
 * 0 no, -1 with errno when the target cannot be resolved beneath.
 */
static int
owner_ok(int base, int dfd, const char *name, const char *done,
    const char *target, int *links)
{
	struct stat ls, ts;
	char *joined;
	int fd, ok;

	if (fstatat(dfd, name, &ls, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	if (asprintf(&joined, "%s%s%s", done, *done ? "/" : "", target) == -1)
		return -1;
	fd = open_walk(base, joined, O_PATH, links);
	free(joined);
	if (fd == -1)
		return -1;
	ok = fstat(fd, &ts) == 0 && ts.st_uid == ls.st_uid;
	close(fd);
	return ok;
}

/*
 * The checked fallback: resolve rel beneath base (docroot, or a CGI
 * directory) one component at a time.  `..` may not climb above base; a
 * symlink is followed only as the policy allows, and never when
 * absolute.  Fails with EXDEV for a path that would leave base, ELOOP
 * for a refused link.
 */
static int
open_walk(int base, const char *rel, int flags, int *links)
{
	char pending[PATH_MAX], done[PATH_MAX], name[NAME_MAX + 1];
	size_t dlen = 0;
	int dfd, fd = -1, err = 0;

	if (strlen(rel) >= sizeof(pending)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(pending, rel);
	done[0] = '\0';
	if ((dfd = openat(base, ".", O_PATH | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		return -1;
	for (;;) {
		char *p = pending, target[PATH_MAX];
		size_t n;
		int last, ok;
		ssize_t tl;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n > NAME_MAX) {
			err = ENAMETOOLONG;
			break;
		}
		memcpy(name, p, n);
		name[n] = '\0';
		memmove(pending, p + n, strlen(p + n) + 1);
		last = pending[strspn(pending, "/")] == '\0';
		/* "name/" at the end must be a directory, as openat2 has it. */
		if (last && pending[0] == '/')
			flags |= O_DIRECTORY;
		if (n == 0 || strcmp(name, ".") == 0) {
			if (!last)
				continue;
			fd = openat(dfd, ".", flags | O_CLOEXEC);
			err = fd == -1 ? errno : 0;
			break;
		}
		if (strcmp(name, "..") == 0) {
			char *slash;

			if (dlen == 0) {
				err = EXDEV;	/* above docroot */
				break;
			}
			slash = strrchr(done, '/');
			dlen = slash != NULL ? (size_t)(slash - done) : 0;
			done[dlen] = '\0';
			close(dfd);
			if ((dfd = reopen_dir(base, done)) == -1) {
				err = errno;
				break;
			}
			if (last) {
				fd = openat(dfd, ".", flags | O_CLOEXEC);
				err = fd == -1 ? errno : 0;
				break;
			}
			continue;
		}
		fd = openat(dfd, name, (last ? flags : O_PATH | O_DIRECTORY) |
		    O_NOFOLLOW | O_CLOEXEC);
		tl = -1;
		if (fd == -1 && (errno == ELOOP || errno == ENOTDIR)) {
			int oe = errno;

			tl = readlinkat(dfd, name, target, sizeof(target) - 1);
			errno = oe;
		}
		if (tl > 0) {
			target[tl] = '\0';
			if (cfg.symlinks == SYMLINKS_OFF ||
			    ++*links > MAX_LINKS) {
				err = ELOOP;
				break;
			}
			if (target[0] == '/') {
				err = EXDEV;
				break;
			}
			if (cfg.symlinks == SYMLINKS_OWNER &&
			    (ok = owner_ok(base, dfd, name, done, target,
			    links)) != 1) {
				err = ok == 0 ? EACCES : errno;
				break;
			}
			if (tl + 1 + strlen(pending) >= sizeof(pending)) {
				err = ENAMETOOLONG;
				break;
			}
			/* Splice the link's text in front of the rest. */
			memmove(pending + tl + 1, pending, strlen(pending) + 1);
			memcpy(pending, target, (size_t)tl);
			pending[tl] = '/';
			if (last)
				pending[tl] = '\0';
			continue;
		}
		if (fd == -1) {
			err = errno;
			break;
		}
		if (last)
			break;
		close(dfd);
		dfd = fd;
		fd = -1;
		if (dlen + n + 2 >= sizeof(done)) {
			err = ENAMETOOLONG;
			break;
		}
		if (dlen > 0)
			done[dlen++] = '/';
		memcpy(done + dlen, name, n + 1);
		dlen += n;
	}
	close(dfd);
	if (err != 0) {
		if (fd != -1)
			close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/*
 * Open a path relative to the directory base ("" is base itself), never
 * resolving outside it, with the `symlinks` policy.  The descriptor is
 * close-on-exec.  -1 with errno (EXDEV, ELOOP: it would leave base or
 * take a refused link).  IHTTPD_NO_OPENAT2 in the environment forces
 * the walk.
 */
int
files_open_at(int base, const char *rel, int flags)
{
	int links = 0;
#ifdef HAVE_OPENAT2
	static int no_openat2 = -1;
	struct open_how how;
	int fd;

	if (no_openat2 == -1)
		no_openat2 = getenv("IHTTPD_NO_OPENAT2") != NULL;
	if (!no_openat2 && cfg.symlinks != SYMLINKS_OWNER) {
		memset(&how, 0, sizeof(how));
		how.flags = (unsigned long long)(flags | O_CLOEXEC);
		how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
		if (cfg.symlinks == SYMLINKS_OFF)
			how.resolve |= RESOLVE_NO_SYMLINKS;
		fd = (int)syscall(SYS_openat2, base, *rel ? rel : ".",
		    &how, sizeof(how));
		if (fd != -1 || errno != ENOSYS)
			return fd;
		no_openat2 = 1;
	}
#endif
	return open_walk(base, rel, flags, &links);
}

/* A docroot-relative path, confined to docroot. */
static int
open_beneath(const char *rel, int flags)
{
	return files_open_at(docroot_fd, rel, flags);
}

/*
 * The open-file cache, for processes that serve more than one request
 * (keep-alive, standalone workers): up to FCACHE_N files, each kept open
 * with its stat and validators and used for file_cache_valid seconds
 * before its path is opened and checked again, as nginx's
 * open_file_cache_valid.  A file replaced, removed or made unreadable is
 * seen within that time; what is sent is always read from the file when
 * it is sent.  A file changed in place within the window keeps its old
 * length and validators until then: one cut short answers 500 and is
 * dropped from the cache.
 */
/* A file's validators, and its Last-Modified and ETag header lines. */
struct valid {
	char		 etag[64];
	char		 hdrs[128];
	size_t		 hlen;
};

#define FCACHE_N	32
struct fcache {
	char		*rel;		/* NULL: a free slot */
	uint32_t	 hash;
	int		 fd, busy;	/* busy: in use by the request */
	struct stat	 st;
	int64_t		 until;		/* mono_ms the entry is good until */
	uint64_t	 used;		/* for least recently used */
	struct valid	 v;		/* v.hlen 0: not made yet */
	int		 typed;		/* type: by extension, NULL unknown */
	const char	*type;
	int		 no_variant;	/* gzip_static: no .br or .gz found */
};
static struct fcache fcache[FCACHE_N];
static struct fcache *fcache_last;	/* the one file_open gave last */
static uint64_t fcache_tick;

static void
fcache_drop(struct fcache *e)
{
	close(e->fd);
	free(e->rel);
	e->rel = NULL;
}

/* The entry whose descriptor is fd, or NULL. */
static struct fcache *
fcache_of(int fd)
{
	size_t i;

	if (fcache_last != NULL && fcache_last->rel != NULL &&
	    fcache_last->fd == fd)
		return fcache_last;
	for (i = 0; fcache_tick > 0 && i < FCACHE_N; i++)
		if (fcache[i].rel != NULL && fcache[i].fd == fd)
			return &fcache[i];
	return NULL;
}

/*
 * Open a docroot-relative path with its stat, through the cache: the fd
 * (give it back with file_close), or -1 with errno.
 */
static int
file_open(const char *rel, struct stat *st)
{
	uint32_t h = fnv1a32(rel, strlen(rel));
	int64_t now = mono_ms();
	struct fcache *e, *slot = NULL;
	size_t i;
	int fd;

	/* (fcache_tick 0: nothing cached yet; a one-request process, as
	 * under inetd, touches no more of the table than one entry) */
	for (i = 0; cfg.file_cache_valid > 0 && fcache_tick > 0 &&
	    i < FCACHE_N; i++) {
		e = &fcache[i];
		if (e->rel == NULL || e->hash != h || strcmp(e->rel, rel) != 0)
			continue;
		if (now < e->until && !e->busy) {
			e->busy = 1;
			e->used = ++fcache_tick;
			*st = e->st;
			fcache_last = e;
			return e->fd;
		}
		if (!e->busy)
			fcache_drop(e);		/* expired: open it again */
		break;
	}
	if ((fd = open_beneath(rel, O_RDONLY | O_NONBLOCK)) == -1)
		return -1;
	if (fstat(fd, st) == -1) {
		close(fd);
		errno = EIO;
		return -1;
	}
	if (cfg.file_cache_valid <= 0 || !S_ISREG(st->st_mode))
		return fd;
	for (i = 0; i < FCACHE_N; i++) {
		e = &fcache[i];
		if (e->rel == NULL || fcache_tick == 0) {
			slot = e;
			break;
		}
		if (!e->busy && (slot == NULL || e->used < slot->used))
			slot = e;
	}
	if (slot == NULL)
		return fd;
	if (slot->rel != NULL)
		fcache_drop(slot);
	if ((slot->rel = strdup(rel)) == NULL)
		return fd;
	slot->hash = h;
	slot->fd = fd;
	slot->busy = 1;
	slot->st = *st;
	slot->until = now + cfg.file_cache_valid * 1000;
	slot->used = ++fcache_tick;
	slot->v.hlen = 0;
	slot->typed = slot->no_variant = 0;
	fcache_last = slot;
	return fd;
}

/* Done with a descriptor from file_open (or any other: closed). */
static void
file_close(int fd)
{
	struct fcache *e = fcache_of(fd);

	if (e != NULL)
		e->busy = 0;
	else
		close(fd);
}

/* The status for a failed confined open, and why (for the error log). */
int
files_open_status(int err, const char **why)
{
	switch (err) {
	case ENOENT: case ENOTDIR: case ENAMETOOLONG:
		*why = "no such file";
		return 404;
	case EACCES: case EPERM:
		*why = "permission denied (or link owner differs)";
		return 403;
	case EXDEV: case ELOOP:
		*why = "path or symlink leaves docroot, or symlink refused";
		return 404;
	}
	*why = "open failed";
	return 500;
}

/* RFC 9110 8.8.3: a strong validator from inode, size and mtime in ns. */
static void
make_etag(const struct stat *st, char *out, size_t len)
{
	struct sbuf b;

	sb_init(&b, out, len);
	sb_put(&b, "\"", 1);
	sb_hex(&b, (unsigned long long)st->st_ino);
	sb_put(&b, "-", 1);
	sb_hex(&b, (unsigned long long)st->st_size);
	sb_put(&b, "-", 1);
	sb_hex(&b, (unsigned long long)st->st_mtim.tv_sec * 1000000000ULL +
	    (unsigned long long)st->st_mtim.tv_nsec);
	sb_put(&b, "\"", 1);
}

static void
set_type(struct ih_request *r, const char *name, int fd, off_t size)
{
	struct fcache *e = fcache_of(fd);
	const char *t;

	if (r->ctype != NULL)
		return;
	if (e != NULL && e->typed)
		t = e->type;
	else {
		t = mime_by_ext(name);
		if (e != NULL) {
			e->type = t;
			e->typed = 1;
		}
	}
	if (t == NULL && cfg.magic && size > 0 &&
	    (t = mime_by_magic(r->a, fd)) != NULL)
		resp_add_header_raw(r, "X-Content-Type-Options", "nosniff");
	if (t == NULL)
		t = cfg.default_type;
	if (cfg.charset != NULL && strncmp(t, "text/", 5) == 0 &&
	    strchr(t, ';') == NULL) {
		const char *tc = arena_cat(r->a, t, "; charset=");

		t = tc != NULL ? arena_cat(r->a, tc, cfg.charset) : NULL;
	}
	r->ctype = t;
}

/* Is a content-coding acceptable (RFC 9110 12.5.3)?  q=0 refuses it. */
static int
accepts_encoding(const char *ae, const char *coding)
{
	const char *p = ae;
	int star = -1;
	size_t cl = strlen(coding);

	while (p != NULL && *p != '\0') {
		const char *tok, *q;
		size_t tl;
		int ok = 1;

		p += strspn(p, " \t,");
		tok = p;
		tl = strcspn(p, " \t;,");
		p += strcspn(p, ",");
		q = memchr(tok, ';', (size_t)(p - tok));
		if (q != NULL) {
			q = strcasestr(q, "q=");
			if (q != NULL && q < p && q[2] == '0' &&
			    strspn(q + 3, ".0") == (size_t)strcspn(q + 3,
			    " \t,"))
				ok = 0;
		}
		if (tl == cl && strncasecmp(tok, coding, cl) == 0)
			return ok;
		if (tl == 1 && *tok == '*')
			star = ok;
	}
	return star == 1;
}

/*
 * gzip_static: the first of FILE.br and FILE.gz that the client accepts
 * and that is a regular file no older than FILE.  Returns its fd (st
 * replaced) or -1; *any is set when a variant exists at all (Vary).
 */
static int
open_variant(struct ih_request *r, const char *file, struct stat *st,
    const char **coding, int *any)
{
	static const char *const ext[] = { ".br", ".gz" };
	static const char *const enc[] = { "br", "gzip" };
	const char *ae = ih_header(r, "Accept-Encoding");
	size_t i;

	for (i = 0; i < 2; i++) {
		struct stat vs;
		char *v = arena_cat(r->a, file, ext[i]);
		int fd;

		if (v == NULL || (fd = open_beneath(v, O_RDONLY |
		    O_NONBLOCK)) == -1)
			continue;
		if (fstat(fd, &vs) == 0 && S_ISREG(vs.st_mode) &&
		    vs.st_mtime >= st->st_mtime) {
			*any = 1;
			if (ae != NULL && accepts_encoding(ae, enc[i])) {
				*st = vs;
				*coding = enc[i];
				return fd;
			}
		}
		close(fd);
	}
	return -1;
}

/* Send [off, off+len) of fd with the head: one writev when small. */
static int
send_region(struct ih_request *r, int fd, off_t off, off_t len)
{
	if (r->method_head || len == 0) {
		if (resp_send_head(r, len) == -1)
			return IH_EXIT;
		resp_done(r, 0);
		return IH_PROCEED;
	}
	if (len <= FILE_BLOCK) {
		char *buf = arena_alloc(r->a, (size_t)len);

		if (buf == NULL)
			goto big;	/* a full arena: no copy needed */
		if (pread(fd, buf, (size_t)len, off) != len) {
			struct fcache *e = fcache_of(fd);

			if (e != NULL)
				e->until = 0;	/* changed in place: open again */
			return ih_error(r, 500, "short read of a file");
		}
		r->obuf = buf;
		r->olen = (size_t)len;
		return resp_finish(r) == -1 ? IH_EXIT : IH_PROCEED;
	}
big:
	if (resp_send_head(r, len) == -1)
		return IH_EXIT;
	resp_done(r, conn_sendfile(r->c, fd, off, len));
	return r->rstate == RS_DONE ? IH_PROCEED : IH_EXIT;
}

/* RFC 9110 14.6: multipart/byteranges, length computed up front. */
static int
send_multipart(struct ih_request *r, int fd, const struct stat *st,
    const struct range *rg, int n)
{
	char boundary[48], **parts;
	long long total = 0;
	const char *type = r->ctype;
	int i;

	snprintf(boundary, sizeof(boundary), "ihttpd-%llx-%llx",
	    (unsigned long long)st->st_ino,
	    (unsigned long long)st->st_mtim.tv_nsec ^ (unsigned long long)n);
	if ((parts = arena_alloc(r->a, (size_t)n * sizeof(*parts))) == NULL)
		return ih_error(r, 500, "out of memory");
	for (i = 0; i < n; i++) {
		parts[i] = arena_printf(r->a, "\r\n--%s\r\nContent-Type: %s\r\n"
		    "Content-Range: bytes %lld-%lld/%lld\r\n\r\n", boundary,
		    type, rg[i].start, rg[i].end, (long long)st->st_size);
		if (parts[i] == NULL)
			return ih_error(r, 500, "out of memory");
		total += (long long)strlen(parts[i]) + rg[i].end -
		    rg[i].start + 1;
	}
	total += (long long)strlen(boundary) + 8;	/* \r\n--B--\r\n */
	r->ctype = arena_printf(r->a, "multipart/byteranges; boundary=%s",
	    boundary);
	r->status = 206;
	if (r->ctype == NULL || resp_send_head(r, total) == -1)
		return IH_EXIT;
	for (i = 0; i < n; i++) {
		if (conn_write(r->c, parts[i], strlen(parts[i])) == -1 ||
		    conn_sendfile(r->c, fd, rg[i].start, rg[i].end -
		    rg[i].start + 1) == -1) {
			resp_done(r, -1);
			return IH_EXIT;
		}
	}
	resp_done(r, conn_write(r->c, "\r\n--", 4) == -1 ||
	    conn_write(r->c, boundary, strlen(boundary)) == -1 ||
	    conn_write(r->c, "--\r\n", 4) == -1 ? -1 : 0);
	return r->rstate == RS_DONE ? IH_PROCEED : IH_EXIT;
}

/*
 * Serve an open regular file: type, precompressed variant, validators,
 * preconditions, ranges.  Takes ownership of fd.
 */
/* The validators of an open file: made once for a cached one. */
static void
validators(int fd, const struct stat *st, struct valid *v)
{
	struct fcache *e = fcache_of(fd);
	char lm[30];
	struct sbuf b;

	if (e != NULL && e->v.hlen > 0) {
		*v = e->v;
		return;
	}
	make_etag(st, v->etag, sizeof(v->etag));
	http_date(st->st_mtim.tv_sec, lm);
	sb_init(&b, v->hdrs, sizeof(v->hdrs));
	sb_lit(&b, "Last-Modified: ");
	sb_puts(&b, lm);
	sb_lit(&b, "\r\nETag: ");
	sb_puts(&b, v->etag);
	sb_lit(&b, "\r\n");
	v->hlen = b.len;
	if (e != NULL)
		e->v = *v;
}

static int
serve_file(struct ih_request *r, int fd, struct stat *st, const char *file)
{
	struct fcache *e = fcache_of(fd);
	char cr[80];
	const char *coding = NULL, *range;
	struct range *rg;
	struct valid v;
	int any = 0, use_range = 1, n, rc, vfd;

	set_type(r, file, fd, st->st_size);
	if (cfg.gzip_static && !r->errpage && (e == NULL || !e->no_variant)) {
		if ((vfd = open_variant(r, file, st, &coding, &any)) != -1) {
			file_close(fd);
			fd = vfd;	/* a variant: never cached */
		} else if (e != NULL && !any)
			e->no_variant = 1;	/* until the entry expires */
	}
	validators(fd, st, &v);
	if (r->errpage) {
		r->status = r->errpage;
		rc = send_region(r, fd, 0, st->st_size);
		file_close(fd);
		return rc;
	}
	resp_add_headers(r, v.hdrs, v.hlen);
	if (any)
		resp_add_header_raw(r, "Vary", "Accept-Encoding");
	switch (cond_evaluate(r, v.etag, st->st_mtime, &use_range)) {
	case 304:
		file_close(fd);
		r->status = 304;
		r->ctype = NULL;
		r->rstate = RS_READY;
		return IH_PROCEED;
	case 412:
		file_close(fd);
		return ih_error(r, 412, "precondition failed");
	}
	if (coding != NULL)
		resp_add_header_raw(r, "Content-Encoding", coding);
	resp_add_headers(r, "Accept-Ranges: bytes\r\n", 22);
	r->status = 200;
	range = ih_header(r, "Range");
	if (range != NULL && use_range && strcmp(r->hd.method, "GET") == 0) {
		rg = arena_alloc(r->a, (size_t)cfg.max_ranges * sizeof(*rg));
		n = rg == NULL ? 0 : range_parse(range, st->st_size, rg,
		    (int)cfg.max_ranges);
		if (n == -1) {
			file_close(fd);
			snprintf(cr, sizeof(cr), "bytes */%lld",
			    (long long)st->st_size);
			resp_add_header_raw(r, "Content-Range", cr);
			return ih_error(r, 416, "range not satisfiable");
		}
		if (n == 1) {
			snprintf(cr, sizeof(cr), "bytes %lld-%lld/%lld",
			    rg[0].start, rg[0].end, (long long)st->st_size);
			resp_add_header_raw(r, "Content-Range", cr);
			r->status = 206;
			rc = send_region(r, fd, rg[0].start, rg[0].end -
			    rg[0].start + 1);
			file_close(fd);
			return rc;
		}
		if (n > 1) {
			rc = send_multipart(r, fd, st, rg, n);
			file_close(fd);
			return rc;
		}
	}
	rc = send_region(r, fd, 0, st->st_size);
	file_close(fd);
	return rc;
}

/* A dot-file or one beneath a dot-directory (not /.well-known/): 1. */
int
files_is_dotfile(const char *path)
{
	const char *p = path;

	while ((p = strchr(p, '/')) != NULL) {
		if (p[1] == '.') {
			/* /.well-known itself, or what is below it */
			if (p == path && strncmp(p, "/.well-known", 12) == 0 &&
			    (p[12] == '\0' || p[12] == '/')) {
				p += 12;
				continue;
			}
			return 1;
		}
		p++;
	}
	return 0;
}

struct entry {
	char		*name;
	int		 dir;
	long long	 size;
	time_t		 mtime;
};

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name,
	    ((const struct entry *)b)->name);
}

/*
 * `listing on`: an HTML index of a directory, names escaped and sorted.
 * Entries live in malloc'd memory, not the capped request arena, so a
 * large directory is listed whole.
 */
static int
send_listing(struct ih_request *r, int dfd)
{
	struct entry *e = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	int rc = IH_PROCEED;
	DIR *d;

	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return ih_error(r, 500, "cannot list directory");
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;	/* dot-files are never served */
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct entry *ne = realloc(e, ncap * sizeof(*ne));

			if (ne == NULL)
				break;
			e = ne;
			cap = ncap;
		}
		if ((e[n].name = strdup(de->d_name)) == NULL)
			break;
		e[n].dir = S_ISDIR(st.st_mode);
		e[n].size = st.st_size;
		e[n].mtime = st.st_mtime;
		n++;
	}
	if (de != NULL) {
		rc = ih_error(r, 500, "out of memory listing a directory");
		goto done;
	}
	if (n > 0)
		qsort(e, n, sizeof(*e), entry_cmp);
	r->status = 200;
	ih_set_type(r, "text/html; charset=utf-8");
	ih_puts(r, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	    "<title>Index of ");
	ih_write_html(r, r->path);
	ih_puts(r, "</title></head>\n<body>\n<h1>Index of ");
	ih_write_html(r, r->path);
	ih_puts(r, "</h1>\n<table>\n<tr><th>Name</th><th>Size</th>"
	    "<th>Modified (UTC)</th></tr>\n");
	if (strcmp(r->path, "/") != 0)
		ih_puts(r, "<tr><td><a href=\"../\">../</a></td><td>-</td>"
		    "<td></td></tr>\n");
	for (i = 0; i < n; i++) {
		char when[80], href[3 * NAME_MAX + 1];
		struct tm tm;

		url_encode_buf(href, sizeof(href), e[i].name);
		utc_tm(e[i].mtime, &tm);
		snprintf(when, sizeof(when), "%04d-%02d-%02d %02d:%02d",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min);
		/* "./" keeps a name like "javascript:x" a relative path. */
		ih_puts(r, "<tr><td><a href=\"./");
		ih_write_html(r, href);
		ih_puts(r, e[i].dir ? "/\">" : "\">");
		ih_write_html(r, e[i].name);
		ih_puts(r, e[i].dir ? "/" : "");
		if (e[i].dir)
			ih_printf(r, "</a></td><td>-</td><td>%s</td></tr>\n",
			    when);
		else
			ih_printf(r, "</a></td><td>%lld</td><td>%s</td></tr>\n",
			    e[i].size, when);
	}
	ih_puts(r, "</table>\n</body></html>\n");
	r->is_handler = 1;
done:
	closedir(d);
	for (i = 0; i < n; i++)
		free(e[i].name);
	free(e);
	return rc;
}

/*
 * The first index file of the directory r->file names: its descriptor,
 * with *st, its docroot-relative name and its URL path.  -1 when there
 * is none, -2 out of memory.
 */
static int
index_open(struct ih_request *r, struct stat *st, const char **file,
    const char **url)
{
	size_t i;
	int fd;

	for (i = 0; i < cfg.nindex; i++) {
		char *f = arena_cat(r->a, r->file, cfg.index[i]);

		if (f == NULL)
			return -2;
		if ((fd = open_beneath(f, O_RDONLY | O_NONBLOCK)) == -1)
			continue;
		if (fstat(fd, st) == 0 && S_ISREG(st->st_mode)) {
			*file = f;
			if ((*url = arena_cat(r->a, r->path,
			    cfg.index[i])) == NULL) {
				close(fd);
				return -2;
			}
			return fd;
		}
		close(fd);
	}
	return -1;
}

/* A directory: 301 to the slashed URL, the first index file, a listing. */
static int
serve_directory(struct ih_request *r)
{
	struct stat st;
	const char *f, *u;
	int fd;

	if (r->path[strlen(r->path) - 1] != '/') {
		char *enc = url_encode_path(r->a, r->path);
		char *loc = enc == NULL ? NULL : arena_printf(r->a, "%s/%s%s",
		    enc, *r->hd.query ? "?" : "", r->hd.query);

		if (r->errpage)
			return ih_error(r, 404, "error page is a directory");
		return loc == NULL ? ih_error(r, 500, "out of memory") :
		    ih_redirect(r, 301, loc);
	}
	if ((fd = index_open(r, &st, &f, &u)) == -2)
		return ih_error(r, 500, "out of memory");
	if (fd >= 0) {
		/* a script is run for its directory, never sent as source */
		if (!pipeline_runs_cgi(u))
			return serve_file(r, fd, &st, f);
		close(fd);
		return r->errpage ? ih_error(r, 404, "index file of an error "
		    "page is a CGI script") : pipeline_index_script(r, u);
	}
	if (cfg.listing && !r->errpage) {
		fd = open_beneath(r->file, O_RDONLY | O_DIRECTORY);
		if (fd != -1)
			return send_listing(r, fd);
	}
	return ih_error(r, 403, "directory without index");
}

/*
 * Serve r->file (docroot-relative).  GET and HEAD; OPTIONS gets Allow;
 * other methods 405 (an error page is served whatever the method).
 * Returns a result code; the status is set on ABORTED.
 */
int
files_service(struct ih_request *r)
{
	struct stat st;
	const char *m = r->hd.method, *why;
	int fd, rc;

	if (!r->errpage && strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
		const char *f, *u;

		/* a directory's index script takes every method */
		if (pipeline_runs_cgi(NULL) && r->file != NULL &&
		    !r->hd.asterisk && r->path[strlen(r->path) - 1] == '/' &&
		    !files_is_dotfile(r->path) && files_open_docroot() != -1 &&
		    (fd = index_open(r, &st, &f, &u)) >= 0) {
			close(fd);
			if (pipeline_runs_cgi(u))
				return pipeline_index_script(r, u);
		}
		resp_add_header_raw(r, "Allow", "GET, HEAD, OPTIONS");
		if (strcmp(m, "OPTIONS") == 0) {
			r->status = 200;
			return IH_PROCEED;
		}
		return ih_error(r, 405, "method not allowed for a file");
	}
	if (r->file == NULL || r->hd.asterisk)
		return ih_error(r, 404, "no file mapped");
	if (files_is_dotfile(r->path))
		return ih_error(r, 404, "dot-file refused");
	if (files_open_docroot() == -1)
		return ih_error(r, 500, "cannot open docroot");
	if ((fd = file_open(r->file, &st)) == -1) {
		if (errno == EIO)
			return ih_error(r, 500, "fstat failed");
		rc = files_open_status(errno, &why);
		ih_debug(IH_DBG_FILE, "%s: %s", r->file, strerror(errno));
		return ih_error(r, rc, why);
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return serve_directory(r);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return ih_error(r, 403, "not a regular file");
	}
	return serve_file(r, fd, &st, r->file);
}
