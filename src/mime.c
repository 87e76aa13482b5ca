/*
 * mime.c - the type of a file by its extension.  A lookup is a bisection
 * of a sorted table of (extension, type) pairs, never a scan of a file:
 *
 * - with `mimetypes` unset, the table built into the binary from
 *   conf/mime.types (src/mimegen.awk, at build time): nothing is read;
 * - with `mimetypes FILE`, FILE (`type ext ext ...` lines, '#' comments)
 *   made into the same kind of table on the first lookup.  A process
 *   that serves one request (inetd) would pay for parsing the whole
 *   file every time, so the table is kept in datadir/cache/ as a compact
 *   index, written once and then mapped, and made again when the file's
 *   inode, size, modification or change time changes.  When datadir
 *   cannot be used the table is made in memory: correct, only slower.
 *
 * Extensions are compared in lower case; for an extension that several
 * lines name, the first line wins.
 *
 * With `magic on`, a file whose extension is unknown is typed by content
 * (libmagic, MAGIC_MIME_TYPE); its database is loaded on the first such
 * file, never at start-up.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <magic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "mime_builtin.h"

#define EXT_MAX		32	/* longer extensions are never looked up */

/*
 * A table: n pairs of offsets into str, each of a NUL-terminated
 * extension and its type, sorted by extension (strcmp order).
 */
struct mime_table {
	const uint32_t	(*ent)[2];
	uint32_t	 n;
	const char	*str;
	uint32_t	 strsize;	/* str ends in NUL: offsets below it */
};

/*
 * The cached index of a mime.types file: this header, then the n pairs,
 * then the strings.  The source's identity decides whether it is still
 * good; every offset is checked before the table is used.
 */
#define IDX_MAGIC	"ihttpd-mime-2\n"
struct mime_idx_head {
	char		magic[16];
	uint64_t	dev, ino, size;
	int64_t		mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
	uint32_t	n, strsize;
};

static struct mime_table table;
static int table_loaded;
static void *table_map;		/* a mapped index, or NULL */
static size_t table_map_len;
static char *table_mem;		/* a table made in memory, or NULL */

/* The table's type for a lower-case extension, or NULL. */
static const char *
table_find(const struct mime_table *t, const char *ext)
{
	uint32_t lo = 0, hi = t->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c;

		/* A damaged index file: an offset out of the strings. */
		if (t->ent[mid][0] >= t->strsize || t->ent[mid][1] >= t->strsize)
			return NULL;
		c = strcmp(ext, t->str + t->ent[mid][0]);
		if (c == 0)
			return t->str + t->ent[mid][1];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

struct pair {
	const char	*ext, *type;
	size_t		 seq;		/* order in the file: first wins */
};

static int
pair_cmp(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	int c = strcmp(x->ext, y->ext);

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * Make the index of a mime.types text (text is changed: words are cut
 * in place and extensions lowered) for source st: a malloc'ed block of
 * *len bytes laid out as struct mime_idx_head, pairs, strings.  NULL
 * when out of memory.
 */
void *
mime_index_make(char *text, const struct stat *st, size_t *len)
{
	struct pair *pv = NULL, *np;
	size_t n = 0, cap = 0, i, k, strsize = 0, off;
	char *line, *next, *w, *save, *type, *blk;
	struct mime_idx_head h;
	uint32_t (*ent)[2];

	for (line = text; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((type = strtok_r(line, " \t\r", &save)) == NULL ||
		    *type == '#' || strlen(type) > TYPE_MAX)
			continue;
		while ((w = strtok_r(NULL, " \t\r", &save)) != NULL) {
			size_t wl = strlen(w);

			if (wl >= EXT_MAX || strchr(w, '#') != NULL)
				continue;
			for (k = 0; k < wl; k++)
				w[k] = (char)tolower((unsigned char)w[k]);
			if (n == cap) {
				cap = cap ? cap * 2 : 256;
				if ((np = realloc(pv, cap * sizeof(*pv))) ==
				    NULL) {
					free(pv);
					return NULL;
				}
				pv = np;
			}
			pv[n].ext = w;
			pv[n].type = type;
			pv[n].seq = n;
			n++;
		}
	}
	if (n > 0)
		qsort(pv, n, sizeof(*pv), pair_cmp);
	/* Keep the first of each extension. */
	for (i = 0, k = 0; i < n; i++)
		if (k == 0 || strcmp(pv[k - 1].ext, pv[i].ext) != 0)
			pv[k++] = pv[i];
	n = k;
	for (i = 0; i < n; i++)
		strsize += strlen(pv[i].ext) + strlen(pv[i].type) + 2;
	if (n > UINT32_MAX / 2 || strsize > UINT32_MAX) {
		free(pv);
		return NULL;
	}
	*len = sizeof(h) + n * sizeof(*ent) + strsize;
	if ((blk = malloc(*len)) == NULL) {
		free(pv);
		return NULL;
	}
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, IDX_MAGIC, sizeof(IDX_MAGIC) - 1);
	h.dev = (uint64_t)st->st_dev;
	h.ino = (uint64_t)st->st_ino;
	h.size = (uint64_t)st->st_size;
	h.mtime_sec = st->st_mtim.tv_sec;
	h.mtime_nsec = st->st_mtim.tv_nsec;
	h.ctime_sec = st->st_ctim.tv_sec;
	h.ctime_nsec = st->st_ctim.tv_nsec;
	h.n = (uint32_t)n;
	h.strsize = (uint32_t)strsize;
	memcpy(blk, &h, sizeof(h));
	ent = (uint32_t (*)[2])(void *)(blk + sizeof(h));
	off = 0;
	for (i = 0; i < n; i++) {
		char *str = blk + sizeof(h) + n * sizeof(*ent);
		size_t el = strlen(pv[i].ext) + 1, tl = strlen(pv[i].type) + 1;

		ent[i][0] = (uint32_t)off;
		memcpy(str + off, pv[i].ext, el);
		ent[i][1] = (uint32_t)(off + el);
		memcpy(str + off + el, pv[i].type, tl);
		off += el + tl;
	}
	free(pv);
	return blk;
}

/*
 * Point t at an index block of len bytes made for source st: 0, or -1
 * when it is not one (another source, or a damaged or foreign file).
 */
static int
index_use(struct mime_table *t, const void *blk, size_t len,
    const struct stat *st)
{
	const struct mime_idx_head *h = blk;
	const uint32_t (*ent)[2];
	const char *str;
	size_t need;

	if (len < sizeof(*h) || memcmp(h->magic, IDX_MAGIC,
	    sizeof(IDX_MAGIC) - 1) != 0 || h->dev != (uint64_t)st->st_dev ||
	    h->ino != (uint64_t)st->st_ino ||
	    h->size != (uint64_t)st->st_size ||
	    h->mtime_sec != st->st_mtim.tv_sec ||
	    h->mtime_nsec != st->st_mtim.tv_nsec ||
	    h->ctime_sec != st->st_ctim.tv_sec ||
	    h->ctime_nsec != st->st_ctim.tv_nsec)
		return -1;
	need = sizeof(*h) + (size_t)h->n * sizeof(*ent) + h->strsize;
	if (h->n > UINT32_MAX / 2 || need != len ||
	    (h->strsize > 0 && ((const char *)blk)[len - 1] != '\0'))
		return -1;
	ent = (const void *)((const char *)blk + sizeof(*h));
	str = (const char *)blk + sizeof(*h) + (size_t)h->n * sizeof(*ent);
	/* Offsets are checked where they are used (table_find): a lookup
	 * stays a bisection, never a walk of the whole index. */
	t->ent = ent;
	t->n = h->n;
	t->str = str;
	t->strsize = h->strsize;
	return 0;
}

/*
 * The type of a lower-case extension in an index block made for source
 * st (what the server maps from datadir/cache), or NULL: unknown, or not
 * an index for st.  For tests and the fuzz driver.
 */
const char *
mime_index_find(const void *blk, size_t len, const struct stat *st,
    const char *ext)
{
	struct mime_table t;

	if (index_use(&t, blk, len, st) == -1)
		return NULL;
	return table_find(&t, ext);
}

/*
 * datadir/cache/mime-HASH for a mime.types path; 0, or -1.  With make,
 * the directories are made (quietly: the cache is only a speed-up).
 */
static int
index_path(const char *src, char *out, size_t len, int make)
{
	char dir[PATH_MAX];
	const char *why;
	int n;

	if (cfg.datadir == NULL)
		return -1;
	if (make && store_dir_try(NULL, "cache", dir, sizeof(dir), &why) == -1) {
		ih_debug(IH_DBG_FILE, "mimetypes: no index kept: datadir "
		    "%s/cache: %s", cfg.datadir, why != NULL ? why :
		    strerror(errno));
		return -1;
	}
	n = snprintf(out, len, "%s/cache/mime-%016llx", cfg.datadir,
	    (unsigned long long)fnv1a64(src, strlen(src)));
	return n > 0 && (size_t)n < len ? 0 : -1;
}

/* Map the cached index for source st: 0 with the table set, or -1. */
static int
index_map(const char *ipath, const struct stat *st)
{
	struct stat ist;
	void *p;
	int fd;

	if ((fd = open(ipath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	/* Ours alone, as everything else in datadir. */
	if (fstat(fd, &ist) == -1 || !store_file_ours(&ist) ||
	    ist.st_size < (off_t)sizeof(struct mime_idx_head) ||
	    ist.st_size > 64 * 1024 * 1024) {
		close(fd);
		return -1;
	}
	p = mmap(NULL, (size_t)ist.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	if (index_use(&table, p, (size_t)ist.st_size, st) == -1) {
		munmap(p, (size_t)ist.st_size);
		return -1;
	}
	table_map = p;
	table_map_len = (size_t)ist.st_size;
	return 0;
}

/* Keep the index for the next process. */
static void
index_store(const char *ipath, const void *blk, size_t len)
{
	if (store_replace(ipath, blk, len, NULL, 0) == -1) {
		ih_log(IH_LOG_WARN, "mimetypes: cannot write the index %s: %s",
		    ipath, strerror(errno));
		return;
	}
	ih_debug(IH_DBG_FILE, "mimetypes: wrote the index %s", ipath);
}

/* The table for cfg.mimetypes: mapped, else made (and stored). */
static void
load_file(const char *path)
{
	char ipath[PATH_MAX], *text = NULL;
	struct stat st, fst;
	size_t len;
	ssize_t got = 0, k;
	void *blk;
	int fd = -1;

	if (stat(path, &st) == 0 && index_path(path, ipath, sizeof(ipath),
	    0) == 0 && index_map(ipath, &st) == 0)
		return;
	/* Made from the file as opened: its identity goes in the index. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &fst) == -1 || !S_ISREG(fst.st_mode) ||
	    fst.st_size > 16 * 1024 * 1024) {
		ih_log(IH_LOG_ERR, "mimetypes %s: cannot read: %s", path,
		    fd == -1 ? strerror(errno) : "not a regular file under "
		    "16 MiB");
		goto out;
	}
	if ((text = malloc((size_t)fst.st_size + 1)) == NULL)
		goto nomem;
	while (got < fst.st_size && (k = read(fd, text + got,
	    (size_t)(fst.st_size - got))) > 0)
		got += k;
	text[got] = '\0';
	if ((blk = mime_index_make(text, &fst, &len)) == NULL)
		goto nomem;
	if (index_use(&table, blk, len, &fst) == -1) {
		free(blk);
		goto out;
	}
	table_mem = blk;
	/* Not a file cut short while it was read, nor one just changed. */
	if (got == fst.st_size && !file_fresh(&fst) && index_path(path,
	    ipath, sizeof(ipath), 1) == 0)
		index_store(ipath, blk, len);
	goto out;
nomem:
	ih_log(IH_LOG_ERR, "mimetypes %s: out of memory", path);
out:
	free(text);
	if (fd != -1)
		close(fd);
}

static const struct mime_table *
load_types(void)
{
	if (!table_loaded) {
		table_loaded = 1;
		table.ent = builtin_ent;
		table.n = BUILTIN_N;
		table.str = builtin_str;
		table.strsize = sizeof(builtin_str);
		if (cfg.mimetypes != NULL)
			load_file(cfg.mimetypes);
	}
	return &table;
}

/*
 * The type for a file name by its last extension, as a string in the
 * arena, or NULL when the extension is unknown (or there is none).
 */
const char *
mime_by_ext(const char *name)
{
	const char *base = strrchr(name, '/'), *dot;
	char ext[EXT_MAX];
	size_t n, i;

	base = base != NULL ? base + 1 : name;
	if ((dot = strrchr(base, '.')) == NULL || dot == base)
		return NULL;
	n = strlen(dot + 1);
	if (n == 0 || n >= sizeof(ext))
		return NULL;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)dot[1 + i];
		if (c <= ' ' || c == '#')
			return NULL;
		ext[i] = (char)tolower(c);
	}
	ext[n] = '\0';
	return table_find(load_types(), ext);
}

static magic_t magic_cookie;
static int magic_failed;

/* The type of an open file by its content, or NULL. */
const char *
mime_by_magic(struct arena *a, int fd)
{
	const char *t;
	size_t bytes = 65536;

	if (magic_failed)
		return NULL;
	if (magic_cookie == NULL) {
		magic_cookie = magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS |
		    MAGIC_NO_CHECK_ELF | MAGIC_NO_CHECK_TAR);
		if (magic_cookie == NULL || magic_load(magic_cookie, NULL) != 0) {
			ih_log(IH_LOG_ERR, "magic: cannot load the database: %s",
			    magic_cookie != NULL ? magic_error(magic_cookie) :
			    "out of memory");
			magic_failed = 1;
			return NULL;
		}
		magic_setparam(magic_cookie, MAGIC_PARAM_BYTES_MAX, &bytes);
		ih_debug(IH_DBG_FILE, "magic database loaded");
	}
	if ((t = magic_descriptor(magic_cookie, fd)) == NULL)
		return NULL;
	return arena_strdup(a, t);
}

/*
 * Standalone start-up: the type table, and the magic database when
 * `magic on`, loaded before the first fork (shared, and beyond a chroot's
 * reach afterwards).
 */
void
mime_preload(void)
{
	struct arena a = { 0 };

	(void)load_types();
	if (cfg.magic)
		(void)mime_by_magic(&a, -1);
	arena_reset(&a);
	free(a.head);
}

void
mime_free(void)
{
	if (table_map != NULL)
		munmap(table_map, table_map_len);
	free(table_mem);
	table_map = NULL;
	table_mem = NULL;
	table_loaded = 0;
	if (magic_cookie != NULL)
		magic_close(magic_cookie);
	magic_cookie = NULL;
}
