/*
 * cfgcache.c - the parsed configuration kept for the next process.  In
 * inetd mode every connection is a new process, and parsing the config
 * file again each time costs as much as the request, and more for a
 * large file.  So the result of a parse is kept: a snapshot of `cfg` and
 * of the one memory region everything it points to lives in, written to
 * DATADIR/cache/config-HASH after a parse without errors, and mapped back
 * by the next process started with the same arguments.
 *
 * Pointers stay valid because nothing is moved: the region is always at
 * the same address (REGION_ADDR; cfg.mem allocates from it while the file
 * is parsed), and pointers into the program itself (defaults, function
 * tables) are valid because the snapshot is used only by the very same
 * binary: its build ID, the addresses of cfg and of a function, and the
 * size of struct config must all match.  A position-independent build
 * moves the program at every start, so there the cache is off.
 *
 * A snapshot is used only when every input of the parse is the same: the
 * same argument list, byte for byte, and a config file with the same
 * device, inode, size, mtime and ctime.  Anything else (a changed file,
 * another option, a damaged snapshot, a region address already taken)
 * means a parse, as without the cache.  --check always parses.
 *
 * DATADIR is the one known before the file is read: --datadir on the
 * command line, else the built-in default.  When it cannot be used (not
 * ours, not writable), every start parses, which is correct, only slower.
 */
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <elf.h>
#include <link.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#if defined(__PIE__) || defined(__pie__)
#define CACHE_ON	0
#else
#define CACHE_ON	1
#endif

#define REGION_ADDR	((char *)0x3e0000000000ULL)
#define REGION_CAP	((size_t)CONFIG_MEM_MAX)
#define HEAD_SIZE	16384	/* the head: this struct, cfg, key marks */
#define ARGS_MAX	4096	/* longer argument lists are not cached */
#define MAGIC		"ihttpd-config-1\n"
#define FRESH_S		2	/* see file_fresh */

struct snap_head {
	char		magic[16];
	unsigned char	build_id[32];
	uint64_t	cfg_addr, code_addr, region_addr, cfg_size;
	uint64_t	region_used;
	/* the config file (cfg.file), when there is one */
	uint64_t	dev, ino, size;
	int64_t		mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
	uint32_t	args_len;
	char		args[ARGS_MAX];	/* argv[1..], each NUL-terminated */
};

_Static_assert(sizeof(struct snap_head) + sizeof(struct config) +
    CONFIG_NKEYS * (sizeof(const char *) + sizeof(int)) <= HEAD_SIZE,
    "the snapshot head must hold cfg and the key marks");

static int region_mapped;	/* REGION_ADDR is ours (parse or load) */
static char loaded_from[PATH_MAX];	/* the snapshot cfg came from, or "" */

/* The GNU build ID of this program, from its program headers. */
static size_t
build_id(unsigned char out[32])
{
	const ElfW(Phdr) *ph = (const void *)getauxval(AT_PHDR);
	size_t n = getauxval(AT_PHNUM), i;

	for (i = 0; ph != NULL && i < n; i++) {
		const char *p, *end;

		if (ph[i].p_type != PT_NOTE)
			continue;
		/* A static, non-PIE program runs at its link addresses. */
		p = (const char *)ph[i].p_vaddr;
		end = p + ph[i].p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const void *)p;
			size_t nsz = (nh->n_namesz + 3) & ~(size_t)3;
			size_t dsz = (nh->n_descsz + 3) & ~(size_t)3;
			const char *desc = p + sizeof(*nh) + nsz;

			if (desc + dsz > end)
				break;
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    memcmp(p + sizeof(*nh), "GNU", 4) == 0 &&
			    nh->n_descsz > 0 && nh->n_descsz <= 32) {
				memcpy(out, desc, nh->n_descsz);
				return nh->n_descsz;
			}
			p = desc + dsz;
		}
	}
	return 0;
}

/*
 * The head every snapshot for this program and these arguments starts
 * with (the file's identity is filled in later), and the snapshot's path
 * in path.  0, or -1 when the cache cannot be used at all.
 */
static int
make_head(struct snap_head *h, int argc, char **argv, char *path,
    size_t plen)
{
	const char *dir = NULL;
	size_t len = 0, n;
	struct sbuf b;
	int k;

	/* The unused tail of args is never written or compared. */
	memset(h, 0, offsetof(struct snap_head, args));
	memcpy(h->magic, MAGIC, sizeof(h->magic));
	if (build_id(h->build_id) == 0)
		return -1;
	h->cfg_addr = (uintptr_t)&cfg;
	h->code_addr = (uintptr_t)&config_load;
	h->region_addr = (uintptr_t)REGION_ADDR;
	h->cfg_size = sizeof(struct config);
	for (k = 1; k < argc; k++) {
		n = strlen(argv[k]) + 1;
		if (len + n > sizeof(h->args))
			return -1;
		memcpy(h->args + len, argv[k], n);
		len += n;
	}
	dir = config_arg(argc, argv, "datadir");
	h->args_len = (uint32_t)len;
	if (dir == NULL)
		dir = config_default("datadir");
	if (dir == NULL)
		return -1;
	sb_init(&b, path, plen);
	sb_puts(&b, dir);
	sb_lit(&b, "/cache/config-");
	sb_hex(&b, fnv1a64(h->args, len));
	return b.trunc ? -1 : 0;
}

static void
file_identity(struct snap_head *h, const struct stat *st)
{
	h->dev = (uint64_t)st->st_dev;
	h->ino = (uint64_t)st->st_ino;
	h->size = (uint64_t)st->st_size;
	h->mtime_sec = st->st_mtim.tv_sec;
	h->mtime_nsec = st->st_mtim.tv_nsec;
	h->ctime_sec = st->st_ctim.tv_sec;
	h->ctime_nsec = st->st_ctim.tv_nsec;
}

/*
 * A file changed less than FRESH_S seconds ago may change again within
 * one tick of the file system's clock, with the same size: its times
 * would not tell the two apart (git's "racily clean" index entries).
 * Such a file is not cached yet; a later start, when it has settled, is.
 */
int
file_fresh(const struct stat *st)
{
	struct timespec now;

	if (clock_gettime(CLOCK_REALTIME, &now) == -1)
		return 1;
	return st->st_mtim.tv_sec > now.tv_sec - FRESH_S ||
	    st->st_ctim.tv_sec > now.tv_sec - FRESH_S;
}

/*
 * Before a parse: let cfg.mem allocate from the region, so that the
 * result can be kept.  Without the region (the address is taken, or the
 * cache is off) the parse goes on in malloc'ed memory, uncached.
 */
void
cfgcache_begin(void)
{
	void *p;

	loaded_from[0] = '\0';
	if (!CACHE_ON || region_mapped)
		return;
	p = mmap(REGION_ADDR - HEAD_SIZE, HEAD_SIZE + REGION_CAP,
	    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
	    MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return;
	if (p != REGION_ADDR - HEAD_SIZE) {
		munmap(p, HEAD_SIZE + REGION_CAP);
		return;
	}
	region_mapped = 1;
	cfg.mem.fixed = REGION_ADDR;
	cfg.mem.fixed_used = 0;
	cfg.mem.fixed_cap = REGION_CAP;
}

/* Give the region back (config_free, or a snapshot that did not fit). */
void
cfgcache_end(void)
{
	if (region_mapped)
		munmap(REGION_ADDR - HEAD_SIZE, HEAD_SIZE + REGION_CAP);
	region_mapped = 0;
	if (cfg.mem.fixed != NULL) {
		cfg.mem.fixed = NULL;
		cfg.mem.fixed_used = cfg.mem.fixed_cap = 0;
	}
}

/*
 * Load cfg from the snapshot for these arguments: 0, or -1 (cfg and the
 * region untouched: parse).  The whole file is mapped once, its head
 * just below the region, so that the head and the region's pages come
 * from the page cache as they are read.
 */
int
cfgcache_load(int argc, char **argv)
{
	static struct snap_head want;
	const struct snap_head *h = (const void *)(REGION_ADDR - HEAD_SIZE);
	const struct config *img = (const void *)(REGION_ADDR - HEAD_SIZE +
	    sizeof(*h));
	char path[PATH_MAX];
	struct stat st, fst;
	void *p;
	int fd;

	loaded_from[0] = '\0';
	if (!CACHE_ON || region_mapped ||
	    make_head(&want, argc, argv, path, sizeof(path)) == -1)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	/* Ours alone, as everything else in datadir; whole, or SIGBUS. */
	if (fstat(fd, &st) == -1 || !store_file_ours(&st) ||
	    st.st_size < HEAD_SIZE ||
	    (uint64_t)st.st_size > HEAD_SIZE + (uint64_t)REGION_CAP) {
		close(fd);
		return -1;
	}
	/* The head and region, then the file over their start. */
	p = mmap(REGION_ADDR - HEAD_SIZE, HEAD_SIZE + REGION_CAP, PROT_READ |
	    PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return -1;
	}
	if (p != REGION_ADDR - HEAD_SIZE || mmap(p, (size_t)st.st_size,
	    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, 0) ==
	    MAP_FAILED)
		goto miss;
	if (memcmp(h, &want, offsetof(struct snap_head, region_used)) != 0 ||
	    h->args_len != want.args_len ||
	    memcmp(h->args, want.args, want.args_len) != 0 ||
	    (uint64_t)st.st_size != HEAD_SIZE + h->region_used)
		goto miss;
	if (img->mem.fixed != REGION_ADDR ||
	    img->mem.fixed_used != h->region_used)
		goto miss;
	/* The file the snapshot was made from must be unchanged. */
	if (img->file != NULL) {
		if (stat(img->file, &fst) == -1)
			goto miss;
		file_identity(&want, &fst);
		if (h->dev != want.dev || h->ino != want.ino ||
		    h->size != want.size || h->mtime_sec != want.mtime_sec ||
		    h->mtime_nsec != want.mtime_nsec ||
		    h->ctime_sec != want.ctime_sec ||
		    h->ctime_nsec != want.ctime_nsec)
			goto miss;
	}
	close(fd);
	region_mapped = 1;
	snprintf(loaded_from, sizeof(loaded_from), "%s", path);
	cfg = *img;
	config_marks_load(img + 1);
	return 0;
miss:
	munmap(p, HEAD_SIZE + REGION_CAP);
	close(fd);
	return -1;
}

/*
 * Keep at most KEEP snapshots in dir (one per argument list ever used):
 * before a new one is written, the oldest go.
 */
#define KEEP	32
static void
prune(const char *dir)
{
	struct { char name[64]; time_t t; } old[KEEP];
	struct dirent *e;
	struct stat st;
	size_t n = 0, i, min;
	DIR *d;
	int dfd;

	if ((d = opendir(dir)) == NULL)
		return;
	dfd = dirfd(d);
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);

		if (strncmp(e->d_name, "config-", 7) != 0 ||
		    len >= sizeof(old[0].name) ||
		    fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		if (n < KEEP - 1) {
			memcpy(old[n].name, e->d_name, len + 1);
			old[n++].t = st.st_mtime;
			continue;
		}
		/* Full: drop whichever is oldest, this one or a kept one. */
		for (i = 1, min = 0; i < n; i++)
			if (old[i].t < old[min].t)
				min = i;
		if (st.st_mtime < old[min].t)
			unlinkat(dfd, e->d_name, 0);
		else {
			unlinkat(dfd, old[min].name, 0);
			memcpy(old[min].name, e->d_name, len + 1);
			old[min].t = st.st_mtime;
		}
	}
	closedir(d);
}

/* Can this build keep its config (not position-independent)? */
int
cfgcache_enabled(void)
{
	return CACHE_ON;
}

/* The snapshot the config came from, or NULL when it was parsed. */
const char *
cfgcache_source(void)
{
	return loaded_from[0] != '\0' ? loaded_from : NULL;
}

/*
 * After a parse without errors into the region: write the snapshot for
 * the next process (atomically: a reader sees the old one or the new).
 */
void
cfgcache_store(int argc, char **argv)
{
	static struct snap_head h;
	static char head[HEAD_SIZE];
	char path[PATH_MAX], dir[PATH_MAX], tmp[PATH_MAX + 24], *slash;
	const char *why;
	struct stat st;

	if (!region_mapped || cfg.mem.fixed != REGION_ADDR ||
	    make_head(&h, argc, argv, path, sizeof(path)) == -1)
		return;
	/*
	 * The identity is the file that was read; the path must still lead
	 * to it (a link or directory swapped during the parse would give the
	 * old content the new file's name).
	 */
	if (cfg.file != NULL) {
		const struct stat *rd = config_file_read();

		if (rd == NULL || stat(cfg.file, &st) == -1 ||
		    st.st_dev != rd->st_dev || st.st_ino != rd->st_ino ||
		    st.st_size != rd->st_size ||
		    st.st_mtim.tv_sec != rd->st_mtim.tv_sec ||
		    st.st_mtim.tv_nsec != rd->st_mtim.tv_nsec ||
		    st.st_ctim.tv_sec != rd->st_ctim.tv_sec ||
		    st.st_ctim.tv_nsec != rd->st_ctim.tv_nsec || file_fresh(rd))
			return;
		file_identity(&h, rd);
	}
	h.region_used = cfg.mem.fixed_used;
	memset(head, 0, sizeof(head));
	memcpy(head, &h, sizeof(h));
	memcpy(head + sizeof(h), &cfg, sizeof(cfg));
	config_marks_save(head + sizeof(h) + sizeof(cfg));
	/* path is DIR/cache/config-HASH: make DIR/cache (ours, 0700) */
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		return;
	*slash = '\0';
	if ((slash = strrchr(dir, '/')) == NULL)
		return;
	*slash = '\0';
	if (store_dir_try(dir, "cache", tmp, sizeof(tmp), &why) == -1) {
		ih_debug(IH_DBG_INIT, "config: not cached: %s/cache: %s", dir,
		    why != NULL ? why : strerror(errno));
		return;
	}
	prune(tmp);
	if (store_replace(path, head, sizeof(head), REGION_ADDR,
	    cfg.mem.fixed_used) == -1) {
		ih_debug(IH_DBG_INIT, "config: not cached: %s: %s", path,
		    strerror(errno));
		return;
	}
	ih_debug(IH_DBG_INIT, "config: cached in %s", path);
}
