/*
 * mime.c - the type of a file by its extension, from a mime.types file
 * (`type ext ext ...` lines, '#' comments).  The file is not parsed at
 * start-up: the first lookup maps it and searches it for the extension as
 * a whole word (strstr runs many bytes per step), so a 1,800-line
 * /etc/mime.types costs a request only a scan, and a request that serves
 * no file costs nothing.  Extensions are compared in lower case.
 *
 * With `magic on`, a file whose extension is unknown is typed by content
 * (libmagic, MAGIC_MIME_TYPE); its database is loaded on the first such
 * file, never at start-up.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <ctype.h>
#include <stdlib.h>
#include <fcntl.h>
#include <magic.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#ifndef IHTTPD_SYSCONFDIR
#define IHTTPD_SYSCONFDIR "/usr/local/etc/ihttpd"
#endif

static const char *types_buf;		/* NUL-terminated file contents */
static int types_loaded;

/* Used when no mime.types file can be read at all. */
static const char builtin_types[] =
    "text/html html htm\n"
    "text/plain txt\n"
    "text/css css\n"
    "text/javascript js mjs\n"
    "application/json json\n"
    "image/png png\n"
    "image/jpeg jpg jpeg\n"
    "image/gif gif\n"
    "image/svg+xml svg\n"
    "image/x-icon ico\n";

static const char *
load_types(void)
{
	const char *path = cfg.mimetypes;
	struct stat st;
	void *p;
	int fd;

	if (types_loaded)
		return types_buf;
	types_loaded = 1;
	types_buf = builtin_types;
	/* Default: the system's table, else the one installed with us. */
	if (path == NULL) {
		path = "/etc/mime.types";
		if (access(path, R_OK) == -1)
			path = IHTTPD_SYSCONFDIR "/mime.types";
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (cfg.mimetypes != NULL)
			ih_log(IH_LOG_ERR, "mimetypes %s: cannot open", path);
		return types_buf;
	}
	/*
	 * A mapping ends in zero bytes up to the page end, which terminate
	 * the string; a file of an exact page multiple has no such tail and
	 * is skipped (none of the usual files is).
	 */
	if (fstat(fd, &st) == 0 && st.st_size > 0 &&
	    st.st_size < 16 * 1024 * 1024) {
		if (st.st_size % sysconf(_SC_PAGESIZE) != 0) {
			p = mmap(NULL, (size_t)st.st_size, PROT_READ,
			    MAP_PRIVATE | MAP_POPULATE, fd, 0);
		} else if ((p = malloc((size_t)st.st_size + 1)) != NULL) {
			/* No zero tail to end the string: read a copy. */
			if (read(fd, p, (size_t)st.st_size) == st.st_size)
				((char *)p)[st.st_size] = '\0';
			else {
				free(p);
				p = MAP_FAILED;
			}
		} else
			p = MAP_FAILED;
		if (p != MAP_FAILED && memchr(p, '\0', (size_t)st.st_size) ==
		    NULL)
			types_buf = p;
	}
	close(fd);
	return types_buf;
}

/*
 * The type for a file name by its last extension, as a string in the
 * arena, or NULL when the extension is unknown (or there is none).
 */
const char *
mime_by_ext(struct arena *a, const char *name)
{
	static char last_ext[32], last_buf[128];
	static const char *last_type;
	const char *base = strrchr(name, '/'), *dot, *buf, *p;
	char ext[32];
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
	if (last_type != NULL && strcmp(ext, last_ext) == 0)
		return last_type;

	buf = load_types();
	for (p = buf; (p = strstr(p, ext)) != NULL; p += n) {
		const char *ls, *te;

		if (p == buf || (p[-1] != ' ' && p[-1] != '\t') ||
		    (p[n] != '\0' && p[n] != ' ' && p[n] != '\t' &&
		    p[n] != '\n' && p[n] != '\r'))
			continue;
		for (ls = p; ls > buf && ls[-1] != '\n'; ls--)
			;
		while (*ls == ' ' || *ls == '\t')
			ls++;
		if (*ls == '#' || ls == p)
			continue;
		for (te = ls; *te != ' ' && *te != '\t' && *te != '\n' &&
		    *te != '\0'; te++)
			;
		if (te >= p || (size_t)(te - ls) > TYPE_MAX)
			continue;	/* no type, or one too long to send */
		if ((size_t)(te - ls) < sizeof(last_buf)) {
			memcpy(last_ext, ext, n + 1);
			memcpy(last_buf, ls, (size_t)(te - ls));
			last_buf[te - ls] = '\0';
			last_type = last_buf;
		}
		return arena_strndup(a, ls, (size_t)(te - ls));
	}
	return NULL;
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
	struct arena a = { NULL, 0 };

	(void)load_types();
	if (cfg.magic)
		(void)mime_by_magic(&a, -1);
	arena_reset(&a);
	free(a.head);
}

void
mime_free(void)
{
	if (magic_cookie != NULL)
		magic_close(magic_cookie);
	magic_cookie = NULL;
}
