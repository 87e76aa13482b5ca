/*
 * test_cache.c - what is kept between processes and requests so that a
 * request costs what it uses: the parsed config kept in datadir/cache
 * (cfgcache.c: used only for the same arguments and an unchanged file,
 * never for --check, never when damaged or not ours), the mime.types
 * index (mime.c), and the object index (config.c, pipeline.c), which
 * must match exactly what a walk of every object matches.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <time.h>

#include "internal.h"
#include "unit.h"

static char tmpdir[] = "/tmp/ihttpd-test-cache.XXXXXX";
static char conf_path[sizeof(tmpdir) + 16], data_dir[sizeof(tmpdir) + 16];
static char *args[16];
static int nargs;

static void
reset(void)
{
	int i;

	config_free();
	mime_free();
	memset(&cfg, 0, sizeof(cfg));
	for (i = 0; i < nargs; i++)
		free(args[i]);
	nargs = 0;
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL || fputs(text, fp) == EOF || fclose(fp) == EOF) {
		perror(path);
		exit(2);
	}
}

/* Wait until files written now are old enough to be cached (2 s). */
static void
settle(void)
{
	struct timespec ts = { 2, 200 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

/* config_load of -c conf_path --datadir data_dir and the extra options. */
static int
load(const char *extra, ...)
{
	va_list ap;
	const char *a;
	int check_only;

	reset();
	args[nargs++] = strdup("ihttpd");
	args[nargs++] = strdup("-c");
	args[nargs++] = strdup(conf_path);
	args[nargs++] = strdup("--datadir");
	args[nargs++] = strdup(data_dir);
	va_start(ap, extra);
	for (a = extra; a != NULL && nargs < 14; a = va_arg(ap, const char *))
		args[nargs++] = strdup(a);
	va_end(ap);
	args[nargs] = NULL;
	return config_load(nargs, args, &check_only);
}

/* The newest snapshot's path, or "" when none is there. */
static void
snapshot_path(char *out, size_t len)
{
	char dir[sizeof(data_dir) + 8], p[sizeof(dir) + 260];
	struct dirent *e;
	struct stat st;
	struct timespec newest = { 0, 0 };
	DIR *d;

	out[0] = '\0';
	snprintf(dir, sizeof(dir), "%s/cache", data_dir);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "config-", 7) != 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (stat(p, &st) == 0 && (st.st_mtim.tv_sec > newest.tv_sec ||
		    (st.st_mtim.tv_sec == newest.tv_sec &&
		    st.st_mtim.tv_nsec > newest.tv_nsec))) {
			newest = st.st_mtim;
			snprintf(out, len, "%s", p);
		}
	}
	closedir(d);
}

static const char conf_a[] =
    "docroot /srv/a\n"
    "server_tokens alpha\n"
    "<Object ppath=\"/p\">\n"
    "  Service fn=hello greeting=\"from the file\"\n"
    "</Object>\n"
    "<Object regex=\"\\.x$\">\n"
    "  ObjectType fn=force-type type=text/x\n"
    "</Object>\n";

static void
test_config_cache(void)
{
	char snap[512];
	struct stat st;
	int fd;

	write_file(conf_path, conf_a);
	CHECK_INT(load(NULL), 0, "a fresh file parses");
	CHECK(cfgcache_source() == NULL, "parsed, not mapped");
	snapshot_path(snap, sizeof(snap));
	CHECK_STR(snap, "", "a file changed within 2 s is not cached yet");

	settle();
	CHECK_INT(load(NULL), 0, "the settled file parses");
	snapshot_path(snap, sizeof(snap));
	CHECK(snap[0] != '\0', "and is kept in datadir/cache");
	CHECK(stat(snap, &st) == 0 && (st.st_mode & 0777) == 0600,
	    "the snapshot is 0600");

	CHECK_INT(load(NULL), 0, "the same arguments load");
	CHECK(cfgcache_source() != NULL, "from the snapshot");
	CHECK_STR(cfg.docroot, "/srv/a", "its docroot");
	CHECK_STR(cfg.server_tokens, "alpha", "its server_tokens");
	CHECK_INT(cfg.nobjs, 2, "its objects");
	CHECK(cfg.nobjs == 2 && cfg.objs[1].ndirs == 1 &&
	    strcmp(cfg.objs[1].dirs[0].fn->name, "hello") == 0 &&
	    strcmp(ih_arg(&cfg.objs[1].dirs[0].args, "greeting"),
	    "from the file") == 0, "its directives and their arguments");
	CHECK(cfg.file != NULL && strcmp(cfg.file, conf_path) == 0,
	    "the file name it was read from");
	CHECK(object_regex_match(&cfg.objs[0], "/a.x") &&
	    !object_regex_match(&cfg.objs[0], "/a.y"),
	    "a regex object matches after the load");
	CHECK(arena_strdup(&cfg.mem, "more") != NULL,
	    "the region takes more allocations");

	CHECK_INT(load("--server_tokens", "beta", NULL), 0,
	    "other arguments");
	CHECK(cfgcache_source() == NULL, "are parsed");
	CHECK_STR(cfg.server_tokens, "beta", "and win");

	CHECK_INT(load("--check", NULL), 0, "--check");
	CHECK(cfgcache_source() == NULL, "always parses");

	/* The same size, another content: the times tell them apart. */
	write_file(conf_path, "docroot /srv/b\nserver_tokens gamma\n"
	    "<Object ppath=\"/p\">\n  Service fn=hello greeting=\"from the "
	    "edit\"\n</Object>\n<Object regex=\"\\.x$\">\n  ObjectType "
	    "fn=force-type type=text/x\n</Object>\n");
	CHECK_INT(load(NULL), 0, "an edited file");
	CHECK(cfgcache_source() == NULL, "is parsed again");
	CHECK_STR(cfg.docroot, "/srv/b", "with its new value");

	/* A damaged snapshot: any byte of the head, or cut short. */
	settle();
	CHECK_INT(load(NULL), 0, "settled again");
	CHECK_INT(load(NULL), 0, "and mapped");
	CHECK(cfgcache_source() != NULL, "(from the snapshot)");
	snapshot_path(snap, sizeof(snap));
	if ((fd = open(snap, O_WRONLY)) != -1) {
		CHECK(pwrite(fd, "X", 1, 3) == 1, "damage the magic");
		close(fd);
	}
	CHECK_INT(load(NULL), 0, "a damaged snapshot");
	CHECK(cfgcache_source() == NULL, "is parsed over");
	CHECK_STR(cfg.docroot, "/srv/b", "to the same config");
	CHECK_INT(load(NULL), 0, "rewritten");
	CHECK(cfgcache_source() != NULL, "and mapped again");
	/* (replaced, as anything in datadir must be: a file this process
	 * has mapped is never cut in place) */
	{
		char tmp[sizeof(snap) + 8];
		int in = open(snap, O_RDONLY), out;
		static char buf[16384 + 8];

		snprintf(tmp, sizeof(tmp), "%s.cut", snap);
		out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		CHECK(in != -1 && out != -1 && read(in, buf, sizeof(buf)) ==
		    (ssize_t)sizeof(buf) && write(out, buf, sizeof(buf)) ==
		    (ssize_t)sizeof(buf) && rename(tmp, snap) == 0,
		    "cut it short");
		if (in != -1)
			close(in);
		if (out != -1)
			close(out);
	}
	CHECK_INT(load(NULL), 0, "a short snapshot");
	CHECK(cfgcache_source() == NULL, "is parsed over too");
	CHECK_INT(load(NULL), 0, "rewritten");
	CHECK(chmod(snap, 0622) == 0, "make it group-writable");
	CHECK_INT(load(NULL), 0, "a snapshot others may write");
	CHECK(cfgcache_source() == NULL, "is never used");

	/* A config with an error is never kept. */
	write_file(conf_path, "docroot /srv/c\nnosuchkey 1\n");
	settle();
	CHECK_INT(load(NULL), -1, "an error");
	CHECK_INT(load(NULL), -1, "is an error again: never cached");
	reset();
}

static void
test_mime_index(void)
{
	char types[sizeof(tmpdir) + 16], idx[512];
	struct dirent *e;
	DIR *d;

	reset();
	CHECK_STR(mime_by_ext("a.html"), "text/html", "built in: html");
	CHECK_STR(mime_by_ext("A.CSS"), "text/css", "built in: case");
	CHECK(mime_by_ext("a.nosuchext") == NULL, "built in: unknown");
	CHECK(mime_by_ext("README") == NULL, "no extension");

	snprintf(types, sizeof(types), "%s/mime.types", tmpdir);
	write_file(types, "# comment line with ext1\n"
	    "application/x-one\text1 Ext2\n"
	    "application/x-two\text2 ext3\n"
	    "text/html\thtml\n");
	settle();
	reset();
	cfg.mimetypes = types;
	cfg.datadir = data_dir;
	CHECK_STR(mime_by_ext("f.ext1"), "application/x-one",
	    "a named file");
	CHECK_STR(mime_by_ext("f.EXT2"), "application/x-one",
	    "the first line wins, case folded");
	CHECK_STR(mime_by_ext("f.ext3"), "application/x-two", "second line");
	CHECK(mime_by_ext("f.txt") == NULL, "the built-in table is not used");
	idx[0] = '\0';
	snprintf(idx, sizeof(idx), "%s/cache", data_dir);
	if ((d = opendir(idx)) != NULL) {
		while ((e = readdir(d)) != NULL)
			if (strncmp(e->d_name, "mime-", 5) == 0)
				snprintf(idx, sizeof(idx), "%s/cache/%s",
				    data_dir, e->d_name);
		closedir(d);
	}
	CHECK(strstr(idx, "/mime-") != NULL, "its index is kept");

	/* The kept index answers the next process. */
	mime_free();
	CHECK_STR(mime_by_ext("f.ext3"), "application/x-two",
	    "from the index");
	/* A damaged index: an offset past the strings. */
	{
		int fd = open(idx, O_WRONLY);
		uint32_t bad[2] = { 0xfffffff0u, 0xfffffff0u };

		CHECK(fd != -1 && pwrite(fd, bad, sizeof(bad), 80) ==
		    (ssize_t)sizeof(bad), "damage an entry");
		if (fd != -1)
			close(fd);
	}
	mime_free();
	(void)mime_by_ext("f.ext1");
	(void)mime_by_ext("f.ext2");
	(void)mime_by_ext("f.zzz");
	CHECK(1, "a damaged index answers without reading out of bounds");

	/* A changed file: its index is made again. */
	write_file(types, "application/x-new\text1\n");
	mime_free();
	CHECK_STR(mime_by_ext("f.ext1"), "application/x-new",
	    "an edited file is read again");
	cfg.mimetypes = NULL;
	cfg.datadir = NULL;
	mime_free();
}

/*
 * The object index against a walk of every object: the same objects, in
 * the same order, for paths at and around every pattern.
 */
static void
test_object_index(void)
{
	static const char *const paths[] = {
		"/", "/a", "/a/", "/a/b", "/a/b/c", "/ab", "/a/bc", "/b",
		"/b/", "/b/x", "/c/d/e", "/c/d", "/c", "/x.cgi", "/a/x.cgi",
		"/docs", "/docs/", "/docs//x", "/docs/x/y", "/w1", "/w12",
		"/w1/z", "/exact", "/exact/", "/exact/more", "/dup", "/dup/x",
		"*", "/a//b", "/trail/", "/trail", "/trail//", "/trail/x",
	};
	struct ih_request r;
	const struct object *walk[MAX_OBJECTS_MATCHED];
	struct objindex *ix;
	size_t i;
	int n1, n2, same = 1, k;

	write_file(conf_path,
	    "docroot /srv\n"
	    "<Object ppath=\"/\">\n  PathCheck fn=acl cidr_allow=\"::1\"\n"
	    "</Object>\n"
	    "<Object ppath=\"/a\">\n  Service fn=hello\n</Object>\n"
	    "<Object ppath=\"/a/b\">\n  Service fn=hello\n</Object>\n"
	    "<Object path=\"/a/b\">\n  Service fn=hello\n</Object>\n"
	    "<Object path=\"/exact\">\n  Service fn=hello\n</Object>\n"
	    "<Object ppath=\"/docs\">\n  Service fn=hello\n</Object>\n"
	    "<Object ppath=\"/dup\">\n  Service fn=hello\n</Object>\n"
	    "<Object ppath=\"/dup\">\n  Service fn=hello greeting=2\n"
	    "</Object>\n"
	    "<Object ppath=\"/trail/\">\n  Service fn=hello\n</Object>\n"
	    "<Object ppath=\"/w*\">\n  Service fn=hello\n</Object>\n"
	    "<Object regex=\"\\.cgi$\">\n  Service fn=hello\n</Object>\n"
	    "<Object regex=\"^/c/\">\n  Service fn=hello\n</Object>\n");
	CHECK_INT(load(NULL), 0, "objects of every kind");
	CHECK(cfg.objindex != NULL, "are indexed");
	ix = cfg.objindex;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		memset(&r, 0, sizeof(r));
		r.path = (char *)(uintptr_t)paths[i];
		cfg.objindex = NULL;		/* the walk */
		pipeline_match(&r);
		n1 = (int)r.nobjs;
		memcpy(walk, r.objs, sizeof(walk));
		cfg.objindex = ix;		/* the index */
		memset(&r, 0, sizeof(r));
		r.path = (char *)(uintptr_t)paths[i];
		pipeline_match(&r);
		n2 = (int)r.nobjs;
		if (n1 != n2)
			same = 0;
		for (k = 0; same && k < n1; k++)
			if (walk[k] != r.objs[k])
				same = 0;
		if (!same) {
			printf("# %s: walk %d objects, index %d\n", paths[i],
			    n1, n2);
			break;
		}
	}
	CHECK(same, "the index matches what the walk matches, in order");
	reset();
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(conf_path, sizeof(conf_path), "%s/t.conf", tmpdir);
	snprintf(data_dir, sizeof(data_dir), "%s/data", tmpdir);

	if (cfgcache_enabled())
		test_config_cache();
	else
		unit_diag("a position-independent build: no config cache");
	test_mime_index();
	test_object_index();
	reset();
	{
		char cmd[sizeof(tmpdir) + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			unit_diag("could not remove the test directory");
	}
	return unit_done();
}
