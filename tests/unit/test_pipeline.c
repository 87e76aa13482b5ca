/*
 * test_pipeline.c - src/pipeline.c: which config objects a path matches,
 * and in which order (exact, regex, ppath longest first, the implicit
 * top-level object last).
 */
#include "internal.h"
#include "unit.h"

static char tmpdir[] = "/tmp/ihttpd-test-pipeline.XXXXXX";
static char conf_path[sizeof(tmpdir) + 16];

static int
load(const char *text)
{
	char *argv[] = { (char *)(uintptr_t)"ihttpd", (char *)(uintptr_t)"-c",
	    conf_path, NULL };
	FILE *fp;
	int check_only;

	config_free();
	memset(&cfg, 0, sizeof(cfg));
	if ((fp = fopen(conf_path, "w")) == NULL || fputs(text, fp) == EOF ||
	    fclose(fp) == EOF) {
		perror(conf_path);
		exit(2);
	}
	return config_load(3, argv, &check_only);
}

/*
 * Match path and compare the patterns of the matched objects with want,
 * a space-separated list ("" for none).
 */
static void
match(const char *path, const char *want)
{
	struct ih_request r;
	char got[512] = "";
	size_t i, off = 0;

	memset(&r, 0, sizeof(r));
	r.path = (char *)(uintptr_t)path;
	pipeline_match(&r);
	for (i = 0; i < r.nobjs && off < sizeof(got); i++)
		off += (size_t)snprintf(got + off, sizeof(got) - off, "%s%s",
		    i > 0 ? " " : "", r.objs[i]->pattern);
	if (!CHECK(strcmp(got, want) == 0, "%s matches [%s]", path, want))
		printf("#   got [%s]\n", got);
}

int
main(void)
{
	char text[8192];
	size_t i, off = 0;
	struct ih_request r;

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(conf_path, sizeof(conf_path), "%s/t.conf", tmpdir);

	CHECK_INT(load("<Object ppath=\"/foo\">\n</Object>\n"
	    "<Object ppath=\"/foo/bar/\">\n</Object>\n"
	    "<Object path=\"/foo/bar\">\n</Object>\n"
	    "<Object regex=\"\\.cgi$\">\n</Object>\n"
	    "<Object regex=\"^/foo/[a-z]+\\.cgi$\">\n</Object>\n"
	    "NameTrans fn=document-root\n"), 0, "config loads");
	match("/foo", "/foo /");
	match("/foo/", "/foo /");
	match("/foo/bar", "/foo/bar /foo/bar /foo /");
	match("/foo/bar/", "/foo/bar /foo /");
	match("/foo/bar/baz", "/foo/bar /foo /");
	match("/foo/barx", "/foo /");
	match("/foobar", "/");
	match("/foo.html", "/");
	match("/fo", "/");
	match("/", "/");
	match("/x.cgi", "\\.cgi$ /");
	match("/foo/x.cgi", "\\.cgi$ ^/foo/[a-z]+\\.cgi$ /foo /");
	match("/foo/x1.cgi", "\\.cgi$ /foo /");
	match("/foo/bar/x.cgi", "\\.cgi$ /foo/bar /foo /");

	CHECK_INT(load("<Object ppath=\"/a\">\n</Object>\n"
	    "<Object path=\"/a/b\">\n</Object>\n"), 0,
	    "config without top-level directives");
	match("/a/b", "/a/b /a");
	match("/b", "");

	CHECK_INT(load("<Object ppath=\"/\">\n</Object>\n"
	    "<Object ppath=\"/a\">\n</Object>\n"), 0, "explicit ppath /");
	match("/anything", "/");
	match("/a/b", "/a /");

	for (i = 0; i < MAX_OBJECTS_MATCHED + 6; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
		    "<Object regex=\"^/r%zu\">\n</Object>\n", i);
	CHECK_INT(load(text), 0, "many objects load");
	memset(&r, 0, sizeof(r));
	r.path = (char *)(uintptr_t)"/r10x";
	pipeline_match(&r);
	CHECK(r.nobjs == 2 && strcmp(r.objs[0]->pattern, "^/r1") == 0 &&
	    strcmp(r.objs[1]->pattern, "^/r10") == 0, "/r10x matches ^/r1 "
	    "and ^/r10, in file order");
	off = 0;
	for (i = 0; i < MAX_OBJECTS_MATCHED + 6; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
		    "<Object ppath=\"/\">\n</Object>\n");
	CHECK_INT(load(text), 0, "more objects than MAX_OBJECTS_MATCHED");
	memset(&r, 0, sizeof(r));
	r.path = (char *)(uintptr_t)"/x";
	pipeline_match(&r);
	CHECK(r.nobjs == MAX_OBJECTS_MATCHED && r.objs_overflow, "more "
	    "matches than MAX_OBJECTS_MATCHED: the overflow is marked (the "
	    "request fails), none is silently dropped");

	/* The depth that ranks AuthTrans guards (config.c: object_depth). */
	{
		static const struct { const char *obj; int depth; } d[] = {
			{ "ppath=\"/\"", 0 },
			{ "ppath=\"/private\"", 2 },
			{ "ppath=\"/a/b/\"", 4 },
			{ "path=\"/a/b\"", 5 },
			{ "path=\"/\"", 1 },
			{ "ppath=\"/sub/*\"", 2 },
			{ "ppath=\"/su*\"", 0 },
			{ "regex=\"\\.txt$\"", 0 },
			{ "regex=\"^/private/.*\\.txt$\"", 2 },
			{ "regex=\"^/priv\"", 0 },
			{ "regex=\"^/pub/a/b/|\\.txt$\"", 0 },
			{ "regex=\"^/a/b/|^/a/c/\"", 4 },
			{ "regex=\"^/a/b/|^/c/\"", 2 },
			{ "regex=\"^/a/(b|c)/d\"", 2 },
			{ "regex=\"^/a/[|]/|^/x/y/\"", 2 },
			{ "regex=\"^/a/\\|/b/\"", 2 },
			{ "regex=\"^/docs/*\"", 0 },
			{ "regex=\"^/a/b/?\"", 2 },
			{ "regex=\"^/a/b/{0,1}x\"", 2 },
			{ "regex=\"^/a/bc+/\"", 2 },
		};

		for (i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
			snprintf(text, sizeof(text), "<Object %s>\n  AuthTrans "
			    "fn=auth-basic realm=r lookup=demo-users\n"
			    "</Object>\n", d[i].obj);
			if (load(text) != 0 || cfg.nobjs != 1) {
				CHECK(0, "depth of %s: config loads", d[i].obj);
				continue;
			}
			CHECK(cfg.objs[0].protects, "%s protects", d[i].obj);
			CHECK_INT(cfg.objs[0].depth, d[i].depth, "depth of %s",
			    d[i].obj);
		}
	}

	config_free();
	unlink(conf_path);
	rmdir(tmpdir);
	return unit_done();
}
