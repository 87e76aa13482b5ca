/*
 * test_config.c - src/config.c: defaults, the config file (globals, quoted
 * values, the three object kinds, directives, Init, top-level
 * directives), precedence of file and options, every error returning -1,
 * object order and the regex matcher with its literal fast path.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>

#include "internal.h"
#include "unit.h"

/* Registered only in this binary: Init is a phase no shipped fn allows. */
static int
test_init(struct ih_request *r, const struct ih_args *a)
{
	(void)r;
	(void)a;
	return IH_PROCEED;
}
IH_FUNCTION("test-init", IH_PH(IH_INIT), test_init, NULL);

static int
test_svc_check(const struct ih_args *a, char *err, size_t len)
{
	if (ih_arg(a, "bad") != NULL) {
		snprintf(err, len, "bad argument");
		return -1;
	}
	return 0;
}

static int
test_svc(struct ih_request *r, const struct ih_args *a)
{
	(void)r;
	(void)a;
	return IH_PROCEED;
}
IH_FUNCTION("test-svc", IH_PH(IH_SERVICE) | IH_PH(IH_PATHCHECK), test_svc,
    test_svc_check);

static char tmpdir[] = "/tmp/ihttpd-test-config.XXXXXX";
static char conf_path[sizeof(tmpdir) + 16];
static char *args[32];
static int nargs;

static void
reset(void)
{
	int i;

	config_free();
	memset(&cfg, 0, sizeof(cfg));
	for (i = 0; i < nargs; i++)
		free(args[i]);
	nargs = 0;
}

static void
write_conf(const char *text)
{
	FILE *fp = fopen(conf_path, "w");

	if (fp == NULL || fputs(text, fp) == EOF || fclose(fp) == EOF) {
		perror(conf_path);
		exit(2);
	}
}

/*
 * Load with the config text (NULL: no -c) and the options that follow,
 * up to a NULL.  Returns config_load's result.
 */
static int
load(const char *text, ...)
{
	va_list ap;
	const char *a;
	int check_only;

	reset();
	args[nargs++] = strdup("ihttpd");
	if (text != NULL) {
		write_conf(text);
		args[nargs++] = strdup("-c");
		args[nargs++] = strdup(conf_path);
	}
	va_start(ap, text);
	while ((a = va_arg(ap, const char *)) != NULL && nargs < 30)
		args[nargs++] = strdup(a);
	va_end(ap);
	args[nargs] = NULL;
	return config_load(nargs, args, &check_only);
}

static struct object *
obj(const char *pattern)
{
	size_t i;

	for (i = 0; i < cfg.nobjs; i++)
		if (strcmp(cfg.objs[i].pattern, pattern) == 0)
			return &cfg.objs[i];
	return NULL;
}

static void
test_defaults(void)
{
	int rc = load(NULL, NULL);

	CHECK_INT(rc, 0, "defaults load");
	CHECK_STR(cfg.docroot, "/var/www/html", "default docroot");
	CHECK(cfg.nindex == 2 && strcmp(cfg.index[0], "index.html") == 0 &&
	    strcmp(cfg.index[1], "index.htm") == 0 && cfg.index[2] == NULL,
	    "default index list");
	CHECK_INT(cfg.max_body, 10 * 1024 * 1024, "default max_body 10m");
	CHECK_INT(cfg.max_header_size, DEF_MAX_HEADER_SIZE,
	    "default max_header_size");
	CHECK_INT(cfg.max_request_line, DEF_MAX_REQUEST_LINE,
	    "default max_request_line");
	CHECK_INT(cfg.max_headers, DEF_MAX_HEADERS, "default max_headers");
	CHECK_INT(cfg.keepalive_requests, DEF_KEEPALIVE_REQUESTS,
	    "default keepalive_requests");
	CHECK_INT(cfg.header_timeout, DEF_HEADER_TIMEOUT,
	    "default header_timeout");
	CHECK_INT(cfg.log_level, 2, "default log_level");
	CHECK(cfg.mimetypes == NULL && cfg.charset == NULL, "unset keys NULL");
	CHECK_STR(cfg.default_type, "application/octet-stream",
	    "default default_type");
	CHECK(cfg.nobjs == 0 && cfg.ninits == 0, "no objects, no Init");
}

static void
test_globals(void)
{
	int rc;

	rc = load("# a comment\n"
	    "   # an indented comment\n"
	    "\n"
	    "\t\n"
	    "docroot /srv/www\n"
	    "index a.html  b.html\tc.htm\n"
	    "charset \"utf-8\"\n"
	    "server_tokens \"(hello world)\"\n"
	    "default_type \"text/x \\\"q\\\" \\\\ b\"\n"
	    "server_name my host  \n"
	    "max_body 2k\n"
	    "max_header_size 32K\n"
	    "max_request_line 1m\n"
	    "keepalive_timeout 0\n"
	    "debug REQ, resp\n"
	    "mimetypes\t/etc/mime.types\t\n"
	    "log_level 3\r\n"
	    "  body_timeout   45", NULL);
	CHECK_INT(rc, 0, "globals load");
	CHECK_STR(cfg.docroot, "/srv/www", "docroot from the file");
	CHECK(cfg.nindex == 3 && strcmp(cfg.index[2], "c.htm") == 0 &&
	    cfg.index[3] == NULL, "index list split on SP and HTAB");
	CHECK_STR(cfg.charset, "utf-8", "quoted value unquoted");
	CHECK_STR(cfg.server_tokens, "(hello world)", "quoted value with a "
	    "space");
	CHECK_STR(cfg.default_type, "text/x \"q\" \\ b", "\\\" and \\\\ "
	    "escapes");
	CHECK_STR(cfg.server_name, "my host", "bare value: rest of the line, "
	    "trailing space trimmed");
	CHECK_INT(cfg.max_body, 2048, "2k");
	CHECK_INT(cfg.max_header_size, 32768, "32K");
	CHECK_INT(cfg.max_request_line, 1024 * 1024, "1m at the maximum");
	CHECK_INT(cfg.keepalive_timeout, 0, "0 at the minimum");
	CHECK_INT(cfg.debug, IH_DBG_REQ | IH_DBG_RESP, "debug zones, any case");
	CHECK_STR(cfg.mimetypes, "/etc/mime.types", "HTAB separator, "
	    "trailing HTAB trimmed");
	CHECK_INT(cfg.log_level, 3, "CRLF line end");
	CHECK_INT(cfg.body_timeout, 45, "last line without LF, indented");
	CHECK_INT(cfg.header_timeout, DEF_HEADER_TIMEOUT,
	    "keys not in the file keep their default");

	rc = load("debug ALL\n", NULL);
	CHECK(rc == 0 && cfg.debug == IH_DBG_ALL, "debug ALL");
	rc = load(NULL, "--index", "", NULL);
	CHECK(rc == 0 && cfg.nindex == 0 && cfg.index == NULL,
	    "--index \"\": no index files");
}

static void
test_objects(void)
{
	const struct object *o;
	const struct directive *d;
	int rc;

	rc = load("NameTrans fn=document-root\n"
	    "<Object path=\"/hello\">\n"
	    "  Service fn=hello greeting=\"Hello, \\\"world\\\"\" x=1\n"
	    "</Object>\n"
	    "<Object regex=\"\\.news$\">\n"
	    "\tService fn=news title=\"Today's news\"\n"
	    "</Object>\n"
	    "<Object ppath=\"/old/\">\n"
	    "  NameTrans fn=redirect from=/old url-prefix=/docs/ status=301\n"
	    "</Object>\n"
	    "<Object ppath=/a/bc>\n"
	    "  ObjectType fn=force-type type=text/plain\n"
	    "  PathCheck fn=test-svc\n"
	    "  Service fn=test-svc\n"
	    "</Object>\n"
	    "Init fn=test-init k=\"v w\" z=\n"
	    "AddLog fn=common-log\n", NULL);
	CHECK_INT(rc, 0, "objects load");
	CHECK_INT(cfg.nobjs, 5, "four objects plus the implicit one");

	o = obj("/hello");
	CHECK(o != NULL && o->kind == OBJ_PATH && o->ndirs == 1, "path "
	    "object with one directive");
	if (o != NULL && o->ndirs == 1) {
		d = &o->dirs[0];
		CHECK(d->phase == IH_SERVICE && strcmp(d->fn->name, "hello") ==
		    0, "Service fn=hello resolved");
		CHECK_INT(d->args.n, 2, "two arguments");
		CHECK_STR(ih_arg(&d->args, "greeting"), "Hello, \"world\"",
		    "quoted argument with escapes");
		CHECK_STR(ih_arg(&d->args, "x"), "1", "bare argument");
		CHECK(ih_arg(&d->args, "fn") == NULL, "fn is not an argument");
		CHECK_INT(d->line, 3, "directive line number");
	}
	o = obj("\\.news$");
	CHECK(o != NULL && o->kind == OBJ_REGEX && o->ndirs == 1 &&
	    strcmp(ih_arg(&o->dirs[0].args, "title"), "Today's news") == 0,
	    "regex object");
	CHECK(o != NULL && o->re_state == 1 && o->lit_end && !o->lit_start &&
	    strcmp(o->lit, ".news") == 0, "\\.news$ is a literal suffix");
	o = obj("/old");
	CHECK(o != NULL && o->kind == OBJ_PPATH && o->plen == 4,
	    "ppath trailing slash dropped");
	o = obj("/a/bc");
	CHECK(o != NULL && o->kind == OBJ_PPATH && o->ndirs == 3 &&
	    o->dirs[0].phase == IH_OBJECTTYPE &&
	    o->dirs[1].phase == IH_PATHCHECK && o->dirs[2].phase == IH_SERVICE,
	    "unquoted object pattern, three directives in order");
	o = obj("/");
	CHECK(o != NULL && o->kind == OBJ_PPATH && o->line == 0 &&
	    o->ndirs == 2 && o->dirs[0].phase == IH_NAMETRANS &&
	    o->dirs[1].phase == IH_ADDLOG, "top-level directives before and "
	    "after objects: one implicit ppath \"/\"");
	CHECK(cfg.ninits == 1 && strcmp(cfg.inits[0].fn->name, "test-init") ==
	    0 && cfg.inits[0].phase == IH_INIT, "Init directive");
	if (cfg.ninits == 1) {
		CHECK_STR(ih_arg(&cfg.inits[0].args, "k"), "v w",
		    "Init quoted argument");
		CHECK_STR(ih_arg(&cfg.inits[0].args, "z"), "",
		    "empty argument value");
	}

	rc = load("<Object path=\"/x\">\n</Object>\n", NULL);
	CHECK(rc == 0 && cfg.nobjs == 1 && cfg.objs[0].ndirs == 0,
	    "empty object");
	rc = load("<Object\tpath=\"/x\">\n</Object>\n", NULL);
	CHECK_INT(rc, 0, "HTAB after <Object");
	rc = load("<Object path=\"/x\">   \nService fn=hello\n</Object>\n",
	    NULL);
	CHECK_INT(rc, 0, "trailing space after <Object ...> accepted (as on "
	    "every other line)");
	rc = load("<Object path=\"/x\">\nService fn=hello\n</Object>  \n",
	    NULL);
	CHECK_INT(rc, 0, "trailing space after </Object> accepted");
	rc = load("<Object path=\"/x\">\r\nService fn=hello\r\n</Object>\r\n",
	    NULL);
	CHECK_INT(rc, 0, "CRLF config");
}

static void
test_precedence(void)
{
	int check_only;
	static const char file[] = "keepalive_requests 50\n"
	    "log_level 3\n"
	    "docroot /from/file\n"
	    "header_timeout 20\n"
	    "charset latin1\n";
	int rc;

	rc = load(file, NULL);
	CHECK(rc == 0 && cfg.keepalive_requests == 50 && cfg.log_level == 3,
	    "file beats defaults");
	rc = load(file, "--keepalive_requests", "7", "--log_level=4",
	    "--docroot=/from/argv", "--index", "x.html y.html", NULL);
	CHECK_INT(rc, 0, "options load");
	CHECK_INT(cfg.keepalive_requests, 7, "--key value beats the file");
	CHECK_INT(cfg.log_level, 4, "--key=value beats the file");
	CHECK_STR(cfg.docroot, "/from/argv", "string option beats the file");
	CHECK_STR(cfg.charset, "latin1", "file value kept when no option");
	CHECK(cfg.nindex == 2 && strcmp(cfg.index[1], "y.html") == 0,
	    "list option split");
	CHECK_INT(cfg.header_timeout, 20, "file beats the default");

	reset();
	write_conf(file);
	args[nargs++] = strdup("ihttpd");
	args[nargs++] = strdup("--header_timeout");
	args[nargs++] = strdup("9");
	args[nargs] = malloc(strlen(conf_path) + 10);
	snprintf(args[nargs++], strlen(conf_path) + 10, "--config=%s",
	    conf_path);
	args[nargs] = NULL;
	rc = config_load(nargs, args, &check_only);
	CHECK(rc == 0 && cfg.header_timeout == 9 && cfg.keepalive_requests ==
	    50, "option before --config=FILE still wins");

	rc = load(NULL, "--max_body", "1g", "--check", NULL);
	CHECK(rc == 0 && cfg.max_body == 1024LL * 1024 * 1024,
	    "--max_body 1g without a file");
}

struct bad {
	const char	*text;
	const char	*what;
};

static const struct bad bads[] = {
	{ "docrot /x\n", "unknown key" },
	{ "docroot\n", "key without a value" },
	{ "docroot \"\"\n", "key with an empty value" },
	{ "charset \"utf-8\n", "unterminated quote in a value" },
	{ "charset \"utf-8\" x\n", "text after a quoted value" },
	{ "max_headers 0\n", "max_headers below 1" },
	{ "max_headers 10001\n", "max_headers above 10000" },
	{ "keepalive_requests 1000001\n", "keepalive_requests too big" },
	{ "log_level 5\n", "log_level 5" },
	{ "log_level -1\n", "log_level -1" },
	{ "body_timeout abc\n", "not a number" },
	{ "body_timeout 1.5\n", "not a whole number" },
	{ "body_timeout 99999999999999999999\n", "overflow" },
	{ "max_header_size 100\n", "size below the minimum" },
	{ "max_request_line 2m\n", "size above the maximum" },
	{ "max_body -1\n", "negative size" },
	{ "max_body 10x\n", "bad size suffix" },
	{ "debug REQ,NOPE\n", "unknown debug zone" },
	{ "Service fn=nosuch\n", "unknown function" },
	{ "Service fn=helo\n", "misspelt function" },
	{ "Service\n", "directive without fn=" },
	{ "Service fn=hello junk\n", "argument not key=value" },
	{ "Service fn=hello =v\n", "argument with empty key" },
	{ "NameTrans fn=hello\n", "function in the wrong phase" },
	{ "Init fn=hello\n", "Service function in Init" },
	{ "Service fn=test-init\n", "Init function in Service" },
	{ "Service fn=test-svc bad=1\n", "function's own check refuses" },
	{ "NameTrans fn=redirect from=/a\n", "redirect without url" },
	{ "<Object path=\"/x\">\nService fn=hello\n", "unclosed object" },
	{ "<Object path=\"/x\">\n<Object path=\"/y\">\n</Object>\n",
	    "nested object" },
	{ "</Object>\n", "close without open" },
	{ "<Object path=\"x\">\n</Object>\n", "path not starting with '/'" },
	{ "<Object ppath=\"x\">\n</Object>\n", "ppath not starting with '/'" },
	{ "<Object foo=\"/x\">\n</Object>\n", "unknown object kind" },
	{ "<Object path=\"\">\n</Object>\n", "empty pattern" },
	{ "<Object path=\"/x\" path=\"/y\">\n</Object>\n", "two patterns" },
	{ "<Object path=\"/x\">\n</Object>\n<Object path=\"/x\n", "<Object "
	    "with an open quote and no '>'" },
	{ "<Object path=\"/x\"\n</Object>\n", "<Object without '>'" },
	{ "<Object path=\"/x\">\nInit fn=test-init\n</Object>\n", "Init "
	    "inside an object" },
	{ "<Object path=\"/x\">\nSevrice fn=hello\n</Object>\n",
	    "unknown phase inside an object" },
	{ "<Object path=\"/x\">\ndocroot /y\n</Object>\n", "global key inside "
	    "an object" },
	{ "<Object path=\"/x\">\nService fn=hello a=\"b\n</Object>\n",
	    "unterminated quote in a directive" },
	{ "Service fn=hello a=\"b\n", "unterminated quote, top level" },
};

static void
test_errors(void)
{
	size_t i;
	int rc;

	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		rc = load(bads[i].text, NULL);
		CHECK_INT(rc, -1, "error: %s", bads[i].what);
	}
	rc = load(NULL, "--nosuch", "1", NULL);
	CHECK_INT(rc, -1, "error: unknown option");
	rc = load(NULL, "--log_level=9", NULL);
	CHECK_INT(rc, -1, "error: option out of range");
	rc = load(NULL, "--log_level", NULL);
	CHECK_INT(rc, -1, "error: option without a value");
	rc = load(NULL, "docroot", NULL);
	CHECK_INT(rc, -1, "error: bare argument");
	rc = load(NULL, "-c", NULL);
	CHECK_INT(rc, -1, "error: -c without a file");
	rc = load(NULL, "-c", "/nonexistent/ihttpd.conf", NULL);
	CHECK_INT(rc, -1, "error: missing config file");
	rc = load("log_level 3\n", "--log_level", "7", NULL);
	CHECK_INT(rc, -1, "error: bad option over a good file");
}

/* Config files up to 512 KiB load; a larger one is refused, honestly. */
static void
test_big_file(void)
{
	size_t sizes[2] = { 400 * 1024, 1536 * 1024 }, n, i, k;
	int rc;

	for (k = 0; k < 2; k++) {
		char *text;

		n = sizes[k];
		text = malloc(n + 32);
		for (i = 0; i + 64 <= n; i += 64) {
			memset(text + i, ' ', 63);
			text[i] = '#';
			text[i + 63] = '\n';
		}
		strcpy(text + i, "log_level 3\n");
		rc = load(text, NULL);
		if (k == 0)
			CHECK(rc == 0 && cfg.log_level == 3,
			    "a 400 KB config file loads");
		else
			CHECK_INT(rc, -1, "a 1.5 MB config file is refused "
			    "(over the 512 KiB limit)");
		free(text);
	}
}

static void
test_order(void)
{
	static const char *const want[] = { "/p", "/q", "r1", "r2", "/a/b/c",
	    "/a/b", "/a", "/z", "/" };
	size_t i;
	int ok;

	CHECK_INT(load("<Object ppath=\"/a\">\n</Object>\n"
	    "<Object regex=\"r1\">\n</Object>\n"
	    "<Object path=\"/p\">\n</Object>\n"
	    "<Object ppath=\"/a/b/c\">\n</Object>\n"
	    "AddLog fn=common-log\n"
	    "<Object regex=\"r2\">\n</Object>\n"
	    "<Object ppath=\"/a/b\">\n</Object>\n"
	    "<Object ppath=\"/z\">\n</Object>\n"
	    "<Object path=\"/q\">\n</Object>\n", NULL), 0, "order config loads");
	ok = cfg.nobjs == sizeof(want) / sizeof(want[0]);
	for (i = 0; ok && i < cfg.nobjs; i++)
		if (strcmp(cfg.objs[i].pattern, want[i]) != 0)
			ok = 0;
	CHECK(ok, "objects sorted: exact in file order, regex in file order, "
	    "ppath longest first (ties in file order)");
	if (!ok)
		for (i = 0; i < cfg.nobjs; i++)
			printf("#   %zu: %s\n", i, cfg.objs[i].pattern);
}

static void
test_regex(void)
{
	static const struct {
		const char	*re, *path;
		int		 m;
	} cases[] = {
		{ "\\.news$", "/a/b.news", 1 },
		{ "\\.news$", "/b.news", 1 },
		{ "\\.news$", "/a.news/x", 0 },
		{ "\\.news$", "/news", 0 },
		{ "\\.news$", "/anews", 0 },
		{ "\\.news$", "/a.newsx", 0 },
		{ "^/a", "/a", 1 },
		{ "^/a", "/abc/d", 1 },
		{ "^/a", "/b/a", 0 },
		{ "abc", "/xabcx", 1 },
		{ "abc", "/abc", 1 },
		{ "abc", "/ab", 0 },
		{ "^/exact$", "/exact", 1 },
		{ "^/exact$", "/exact/", 0 },
		{ "^/exact$", "/x/exact", 0 },
		{ "a\\.b", "/a.b", 1 },
		{ "a\\.b", "/axb", 0 },
		{ "^/x/[0-9]+$", "/x/123", 1 },
		{ "^/x/[0-9]+$", "/x/", 0 },
		{ "^/x/[0-9]+$", "/x/12a", 0 },
		{ "^/x/[0-9]+$", "/y/1", 0 },
		{ "^/x/[0-9]+$", "/a/x/1", 0 },
		{ "b\\$", "/ab$", 1 },
		{ "b\\$", "/ab", 0 },
	};
	char text[4096];
	size_t i, n = sizeof(cases) / sizeof(cases[0]);
	int off = 0, lit_ok, rc;
	struct object *o;

	for (i = 0; i < n; i++)
		off += snprintf(text + off, sizeof(text) - (size_t)off,
		    "<Object regex=\"%s\">\n</Object>\n", cases[i].re);
	off += snprintf(text + off, sizeof(text) - (size_t)off,
	    "<Object regex=\"([\">\n</Object>\n");
	rc = load(text, "--docroot", "/", NULL);
	CHECK_INT(rc, 0, "regex objects load (an invalid regex only fails on "
	    "use or --check)");
	/* Before any match: config_check recompiles without regfree. */
	CHECK_INT(config_check(), 1, "config_check reports the invalid regex");
	rc = load(text, "--docroot", "/", NULL);
	lit_ok = 1;
	for (i = 0; i < cfg.nobjs; i++) {
		o = &cfg.objs[i];
		if ((strcmp(o->pattern, "\\.news$") == 0 ||
		    strcmp(o->pattern, "^/a") == 0 ||
		    strcmp(o->pattern, "abc") == 0 ||
		    strcmp(o->pattern, "^/exact$") == 0) && o->re_state != 1)
			lit_ok = 0;
		if (strcmp(o->pattern, "^/x/[0-9]+$") == 0 && o->re_state != 0)
			lit_ok = 0;
	}
	CHECK(lit_ok, "literal patterns take the fast path, [0-9]+ does not");
	for (i = 0; i < n; i++) {
		o = obj(cases[i].re);
		CHECK(o != NULL && object_regex_match(o, cases[i].path) ==
		    cases[i].m, "regex \"%s\" %s \"%s\"", cases[i].re,
		    cases[i].m ? "matches" : "does not match", cases[i].path);
	}
	o = obj("^/x/[0-9]+$");
	CHECK(o != NULL && o->re_state == 2, "real regex compiled on use");
	o = obj("([");
	CHECK(o != NULL && object_regex_match(o, "/([") == 0 &&
	    object_regex_match(o, "/") == 0, "invalid regex never matches");
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(conf_path, sizeof(conf_path), "%s/t.conf", tmpdir);

	test_defaults();
	test_globals();
	test_objects();
	test_precedence();
	test_errors();
	test_big_file();
	test_order();
	test_regex();

	reset();
	unlink(conf_path);
	rmdir(tmpdir);
	return unit_done();
}
