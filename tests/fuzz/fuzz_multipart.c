/*
 * fuzz_multipart.c - libFuzzer driver for multipart/form-data with the
 * upload spool, through the real connection layer.  The first byte picks
 * the framing (Content-Length, or chunked with chunks of a size the
 * second byte gives) and the seed of the read sizes; the rest is the body
 * of a request with boundary "B".  The body is read twice, from a memfd
 * through ih_read:
 *
 *   - ih_parse_body: plain fields become parameters, file parts are
 *     spooled to unlinked files in datadir (O_TMPFILE), max_parts and
 *     max_field small;
 *   - the streaming walk, ih_part_next/ih_part_read with read sizes that
 *     change on every call.
 *
 * Both must agree on the result, the status and, part by part, the names
 * and bytes: each spooled file read back from its descriptor equals what
 * the walk read.  form_cleanup must close every descriptor it opened (the
 * lowest free descriptor must not rise) and leave nothing named in
 * datadir (looked at now and then).
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define MAXP	8

static char shm_dir[] = "/dev/shm/ihttpd-fuzz-mp.XXXXXX";
static char tmp_dir[] = "/tmp/ihttpd-fuzz-mp.XXXXXX";
static char *datadir;
static uint32_t rng;

struct part {
	char	*name, *filename;
	char	*data;
	size_t	 len;
};

struct walk {
	int	 rc, status;
	size_t	 n;
	struct part p[MAXP + 2];
};

/* The private datadir goes when the run ends (libFuzzer exits). */
static void
remove_state(void)
{
	char cmd[sizeof(shm_dir) + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", datadir);
	(void)system(cmd);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* tmpfs: the spool's files cost no disk I/O; /tmp if none. */
	if ((datadir = mkdtemp(shm_dir)) == NULL &&
	    (datadir = mkdtemp(tmp_dir)) == NULL)
		abort();
	atexit(remove_state);
	memset(&cfg, 0, sizeof(cfg));
	cfg.datadir = datadir;
	cfg.body_timeout = 5;
	cfg.body_min_rate = 2048;
	cfg.max_body = 1 << 20;
	cfg.max_form = 4096;
	cfg.max_field = 300;
	cfg.max_parts = MAXP;
	cfg.lock_timeout = 1;
	return 0;
}

static uint32_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

/* The lowest free descriptor: it rises when one leaks. */
static int
open_fds(void)
{
	int fd = dup(0);

	if (fd == -1)
		abort();
	close(fd);
	return fd;
}

static struct arena A;
static struct conn C;
static struct ih_request R;
static struct header H[1];
static char hn[] = "Content-Type", hv[] = "multipart/form-data; boundary=B";
static char m_post[] = "POST", empty[] = "";

/* A request whose body (framed as chosen) arrives through a memfd. */
static void
req_start(const uint8_t *body, size_t n, int chunked, size_t csize)
{
	int fd = memfd_create("mp", MFD_CLOEXEC);
	size_t off;

	if (fd == -1)
		abort();
	if (!chunked) {
		if (n > 0 && write_full(fd, body, n) != (ssize_t)n)
			abort();
	} else {
		/* Framed in memory, written at once: one syscall, not three
		 * a chunk (chunks may be one byte). */
		size_t cap = n + (n / csize + 1) * 24 + 8, len = 0;
		char *framed = malloc(cap);

		if (framed == NULL)
			abort();
		for (off = 0; off < n; off += csize) {
			size_t k = n - off < csize ? n - off : csize;

			len += (size_t)snprintf(framed + len, cap - len,
			    "%zx\r\n", k);
			memcpy(framed + len, body + off, k);
			len += k;
			memcpy(framed + len, "\r\n", 2);
			len += 2;
		}
		memcpy(framed + len, "0\r\n\r\n", 5);
		len += 5;
		if (write_full(fd, framed, len) != (ssize_t)len)
			abort();
		free(framed);
	}
	lseek(fd, 0, SEEK_SET);
	memset(&C, 0, sizeof(C));
	memset(&R, 0, sizeof(R));
	C.in = fd;
	C.out = -1;
	C.icap = 256 + next() % 4096;
	if ((C.ibuf = malloc(C.icap)) == NULL)
		abort();
	R.c = &C;
	R.a = &A;
	R.hd.h = H;
	H[0].name = hn;
	H[0].value = hv;
	R.hd.nh = 1;
	R.hd.method = m_post;
	R.hd.query = empty;
	R.hd.version = 11;
	R.hd.chunked = chunked;
	R.hd.clen = chunked ? -1 : (long long)n;
	R.body_left = chunked ? 0 : (long long)n;
	R.body_done = !chunked && n == 0;
	R.status = 200;
}

static void
req_end(void)
{
	form_cleanup(&R);
	close(C.in);
	free(C.ibuf);
	arena_reset(&A);
}

static char *
dup0(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static void
walk_free(struct walk *w)
{
	size_t i;

	for (i = 0; i < w->n; i++) {
		free(w->p[i].name);
		free(w->p[i].filename);
		free(w->p[i].data);
	}
}

static void
append(struct part *p, const char *b, size_t n)
{
	if ((p->data = realloc(p->data, p->len + n + 1)) == NULL)
		abort();
	memcpy(p->data + p->len, b, n);
	p->len += n;
}

/* The streaming walk; parts past MAXP + 1 are not kept (cannot occur). */
static void
stream(struct walk *w)
{
	struct ih_part part;
	int rc;

	memset(w, 0, sizeof(*w));
	while ((rc = ih_part_next(&R, &part)) == 1) {
		struct part *p = &w->p[w->n];
		ssize_t k;

		if (w->n == MAXP + 1)
			abort();	/* max_parts let one too many through */
		p->name = dup0(part.name);
		p->filename = dup0(part.filename);
		for (;;) {
			size_t sz = 1 + next() % 700;
			char *buf = malloc(sz);

			k = ih_part_read(&R, buf, sz);
			if (k > (ssize_t)sz)
				abort();
			if (k > 0)
				append(p, buf, (size_t)k);
			free(buf);
			if (k <= 0)
				break;
		}
		w->n++;
		if (k < 0) {
			rc = -1;
			break;
		}
	}
	w->rc = rc;
	w->status = rc < 0 ? R.status : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct ih_upload *u;
	struct walk w;
	size_t i, fields = 0, files = 0;
	int fds, st, chunked;
	size_t csize;

	if (size < 2)
		return 0;
	chunked = data[0] & 1;
	csize = 1 + data[1];
	fds = open_fds();

	rng = 0x9e3779b9u ^ data[0] ^ (uint32_t)size << 8;
	req_start(data + 2, size - 2, chunked, csize);
	stream(&w);
	req_end();

	rng = 0x9e3779b9u ^ data[0] ^ (uint32_t)size << 8;
	req_start(data + 2, size - 2, chunked, csize);
	st = ih_parse_body(&R);
	if (st != 0 && st != 400 && st != 413 && st != 500)
		abort();
	/*
	 * 413 from a field over max_field is ih_parse_body's own limit; an
	 * empty Content-Length body is no parameters to it, and no
	 * multipart at all (400) to the walk.
	 */
	if (st == 0 && w.rc != 0 && (chunked || size > 2))
		abort();	/* the walk failed where the spool did not */
	if (st == 0 && w.rc == 0) {
		for (i = 0; i < w.n; i++) {
			const struct part *p = &w.p[i];

			if (p->filename == NULL) {
				const char *k, *v = ih_param_at(&R, fields++,
				    &k);

				if (v == NULL || strcmp(k, p->name) != 0 ||
				    strlen(v) != strnlen(p->data != NULL ?
				    p->data : "", p->len) || (p->len > 0 &&
				    memcmp(v, p->data, strlen(v)) != 0))
					abort();
				continue;
			}
			/* Both saw the file name as a label, never a path. */
			if ((u = ih_upload_at(&R, files++)) == NULL ||
			    strcmp(u->name, p->name) != 0 ||
			    strcmp(u->filename, p->filename) != 0 ||
			    strchr(u->filename, '/') != NULL ||
			    strchr(u->filename, '\\') != NULL ||
			    u->size != (long long)p->len)
				abort();
			{
				char *back = malloc(p->len + 1);

				if (pread(u->fd, back, p->len + 1, 0) !=
				    (ssize_t)p->len || (p->len > 0 &&
				    memcmp(back, p->data, p->len) != 0))
					abort();	/* spooled bytes differ */
				free(back);
			}
		}
		if (ih_upload_at(&R, files) != NULL ||
		    ih_param_at(&R, fields, NULL) != NULL)
			abort();
	}
	req_end();
	walk_free(&w);
	if (open_fds() != fds)
		abort();	/* a descriptor outlived its request */
	if ((rng & 255) == 0) {
		DIR *d = opendir(datadir);
		struct dirent *de;

		if (d == NULL)
			abort();
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.' && strcmp(de->d_name,
			    "uploads") != 0)
				abort();	/* a named spool file stayed */
		closedir(d);
	}
	return 0;
}
