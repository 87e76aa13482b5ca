/*
 * pipeline.c - matching config objects to a request and running the six
 * phases (AuthTrans, NameTrans, PathCheck, ObjectType, Service, AddLog),
 * NSAPI style.  Objects match most specific first: exact `path`, then
 * `regex` in file order, then `ppath` by whole segments, longest first;
 * the built-in defaults (docroot mapping, the file service, the access
 * log) run last, and only when no configured directive did their job.
 * Also the small built-in functions: document-root, redirect, force-type,
 * send-file and common-log.
 */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/*
 * `/foo` matches /foo, /foo/ and /foo/bar, never /foobar; "/" all.  With
 * NSAPI wildcards the whole path must match the pattern: `*` any run of
 * bytes ('/' too, as in obj.conf), `?` one byte, `[...]` a set.
 */
static int
ppath_match(const struct object *o, const char *path)
{
	if (o->wild)
		return fnmatch(o->pattern, path, 0) == 0;
	if (o->plen == 1)
		return 1;
	return strncmp(path, o->pattern, o->plen) == 0 &&
	    (path[o->plen] == '\0' || path[o->plen] == '/');
}

static const char too_many_objects[] = "more objects match this path "
    "than MAX_OBJECTS_MATCHED (64): none runs";

/*
 * The objects matching path, in specificity order, into objs (room for
 * MAX_OBJECTS_MATCHED).  Returns how many, or -1 when more match.
 */
static int
match_one(struct object *o, const char *path)
{
	switch (o->kind) {
	case OBJ_PATH:
		return strcmp(path, o->pattern) == 0;
	case OBJ_PPATH:
		return ppath_match(o, path);
	default:
		return object_regex_match(o, path);
	}
}

/* Add object i to the sorted set idx of *n (no duplicates); -1 if full. */
static int
add_match(uint32_t *idx, size_t *n, uint32_t i)
{
	size_t k = *n;

	if (*n == MAX_OBJECTS_MATCHED)
		return -1;
	while (k > 0 && idx[k - 1] > i)
		k--;
	if (k > 0 && idx[k - 1] == i)
		return 0;
	memmove(idx + k + 1, idx + k, (*n - k) * sizeof(*idx));
	idx[k] = i;
	(*n)++;
	return 0;
}

/*
 * The objects matching path, in specificity order, into objs (room for
 * MAX_OBJECTS_MATCHED).  Returns how many, or -1 when more match.
 * Through cfg.objindex: path and plain ppath objects are looked up by
 * each prefix of the path that ends before a '/' or at its end (where a
 * ppath may match), the rest are tried one by one; the cost grows with
 * the path's depth, not with the number of objects.
 */
static int
match_path(const char *path, const struct object **objs)
{
	const struct objindex *ix = cfg.objindex;
	uint32_t idx[MAX_OBJECTS_MATCHED];
	size_t i, n = 0, k;

	if (ix == NULL) {	/* objects set up by hand (unit tests) */
		for (i = 0; i < cfg.nobjs; i++) {
			if (!match_one(&cfg.objs[i], path))
				continue;
			if (n == MAX_OBJECTS_MATCHED)
				return -1;
			objs[n++] = &cfg.objs[i];
		}
		return (int)n;
	}
	for (i = 0; i < ix->nscan; i++)
		if (match_one(&cfg.objs[ix->scan[i]], path) &&
		    add_match(idx, &n, ix->scan[i]) == -1)
			return -1;
	for (k = 1; path[k - 1] != '\0'; k++) {
		uint32_t h, j;

		if (path[k] != '/' && path[k] != '\0')
			continue;
		h = fnv1a32(path, k);
		for (j = ix->bucket[h & ix->mask]; j != 0; j = ix->next[j - 1]) {
			const struct object *o = &cfg.objs[j - 1];

			if (ix->hash[j - 1] != h || o->plen != k ||
			    memcmp(o->pattern, path, k) != 0 ||
			    (o->kind == OBJ_PATH && path[k] != '\0'))
				continue;
			if (add_match(idx, &n, j - 1) == -1)
				return -1;
		}
	}
	for (i = 0; i < n; i++)
		objs[i] = &cfg.objs[idx[i]];
	return (int)n;
}

/*
 * Would a request for path be served by fn=cgi (the first Service
 * directive of the objects matching it, most specific first)?  The file
 * service asks before it sends an index file: a script is never sent
 * as its source.  With path NULL: does any object run CGI?
 */
int
pipeline_runs_cgi(const char *path)
{
	const struct object *objs[MAX_OBJECTS_MATCHED];
	static int any = -1;	/* does the config run CGI at all? */
	int n, i;
	size_t j;

	if (any == -1) {
		struct cgi_iter it = { 0, 0 };

		any = cgi_next(&it, NULL) != NULL;
	}
	if (!any)
		return 0;
	if (path == NULL)
		return 1;	/* only asked whether any object runs CGI */
	n = match_path(path, objs);
	if (n == -1)
		return 1;	/* the request would fail: send nothing */
	for (i = 0; i < n; i++)
		for (j = 0; j < objs[i]->ndirs; j++)
			if (objs[i]->dirs[j].phase == IH_SERVICE)
				return cgi_is(&objs[i]->dirs[j]);
	return 0;
}

/* Collect the objects matching r->path, already in specificity order. */
void
pipeline_match(struct ih_request *r)
{
	int n = match_path(r->path, r->objs);

	/* One more would be dropped, perhaps one that asks for
	 * credentials: the request fails instead (500). */
	r->objs_overflow = n == -1;
	r->nobjs = n == -1 ? MAX_OBJECTS_MATCHED : (size_t)n;
}

/*
 * Which matched object's AuthTrans directives guard the request: the
 * most specific of those that have any, by the path segments it fixes
 * (config.c: object_depth), the match order deciding a tie.  Only its
 * directives run, so credentials for a realm that a less specific
 * object asks for never open a path that a more specific one protects
 * (a regex="\.txt$" Basic realm cannot open /private/a.txt under a
 * ppath="/private" Digest realm).  NULL when none protects.
 */
static const struct object *
guard(const struct ih_request *r)
{
	const struct object *best = NULL;
	size_t i;

	for (i = 0; i < r->nobjs; i++)
		if (r->objs[i]->protects && (best == NULL ||
		    r->objs[i]->depth > best->depth))
			best = r->objs[i];
	return best;
}

/*
 * Run one phase's directives across the matched objects.  With `first`,
 * the first PROCEED ends the phase.  Returns PROCEED, NOACTION (nothing
 * claimed it), ABORTED or EXIT; *ran counts directives run.
 */
static int
run_phase(struct ih_request *r, int phase, int first, int *ran)
{
	const struct object *only;
	size_t i, j;
	int result = IH_NOACTION;

	*ran = 0;
	if (r->nobjs == 0) {		/* no object matched: nothing to run */
		r->cur_obj = NULL;
		return IH_NOACTION;
	}
	only = phase == IH_AUTHTRANS ? guard(r) : NULL;
	for (i = 0; i < r->nobjs; i++) {
		const struct object *o = r->objs[i];

		if (only != NULL && o != only)
			continue;

		for (j = 0; j < o->ndirs; j++) {
			const struct directive *d = &o->dirs[j];
			int rc;

			if (d->phase != phase)
				continue;
			r->cur_obj = o;
			(*ran)++;
			if (phase == IH_SERVICE && d->fn->fn != files_service_fn)
				r->is_handler = 1;
			rc = d->fn->fn(r, &d->args);
			ih_debug(IH_DBG_PROC, "%s fn=%s -> %d", o->pattern,
			    d->fn->name, rc);
			if (rc == IH_ABORTED || rc == IH_EXIT)
				return rc;
			if (rc == IH_PROCEED)
				result = IH_PROCEED;
			/* A response made in any phase ends the request. */
			if ((rc == IH_PROCEED && first) || r->rstate != RS_OPEN)
				return r->rstate != RS_OPEN ? IH_PROCEED : rc;
		}
	}
	r->cur_obj = NULL;
	return result;
}

/* Turn an outcome into a response. */
static void
conclude(struct ih_request *r, int rc)
{
	if (rc == IH_EXIT) {
		resp_drop(r);	/* a response already complete stays DONE */
		return;
	}
	if (rc == IH_ABORTED) {
		resp_error_page(r, r->status >= 400 ? r->status :
		    r->late_status >= 400 ? r->late_status : 500);
		return;
	}
	if (resp_finish(r) == -1)
		r->c->closing = 1;
}

/*
 * Run phases in order, with the built-in defaults where no directive took
 * the job: document-root for NameTrans, the file service for Service.
 * Stops at ABORTED, EXIT or a response already made; returns the result.
 */
static int
run_phases(struct ih_request *r, const int *order, size_t n)
{
	size_t p;
	int rc = IH_NOACTION, ran;

	for (p = 0; p < n; p++) {
		int phase = order[p];
		int first = phase == IH_AUTHTRANS || phase == IH_NAMETRANS ||
		    phase == IH_SERVICE;

		rc = run_phase(r, phase, first, &ran);
		if (rc == IH_ABORTED || rc == IH_EXIT || r->rstate != RS_OPEN)
			break;
		if (phase == IH_NAMETRANS && rc == IH_NOACTION)
			rc = builtin_document_root(r, NULL);
		else if (phase == IH_SERVICE && rc == IH_NOACTION)
			rc = files_service_fn(r, NULL);
		if (rc == IH_ABORTED || rc == IH_EXIT)
			break;
	}
	return rc;
}

/*
 * Run every phase for a parsed request.  The response is complete (or
 * the connection marked closing) when this returns.  Returns the final
 * result code.
 */
int
pipeline_run(struct ih_request *r)
{
	static const int order[] = { IH_AUTHTRANS, IH_NAMETRANS,
	    IH_PATHCHECK, IH_OBJECTTYPE, IH_SERVICE };
	int rc, ran;

	if (r->objs_overflow)
		rc = ih_error(r, 500, too_many_objects);
	else if ((rc = limits_global(r)) != IH_NOACTION)
		;	/* over rate_limit: 429 before any phase runs */
	else
		rc = run_phases(r, order, sizeof(order) / sizeof(order[0]));
	conclude(r, rc);
	ih_debug(IH_DBG_SEND, "status %d, %llu body bytes, %llu on the "
	    "connection", resp_log_status(r), resp_body_bytes(r),
	    r->c->bytes_out);
	ran = 0;
	if (rc != IH_EXIT)
		run_phase(r, IH_ADDLOG, 0, &ran);
	if (ran == 0)
		log_access(r);
	return rc;
}

/*
 * Serve r for another path from scratch (an error page, a CGI local
 * redirect, an index script): nothing staged stays, the objects are
 * matched again.  The caller runs the phases.
 */
static void
restart_at(struct ih_request *r, char *path, int status)
{
	r->path = path;
	r->file = NULL;
	r->ctype = NULL;
	r->olen = 0;
	r->rstate = RS_OPEN;
	r->is_handler = 0;
	r->status = status;
	pipeline_match(r);
}

/*
 * error_page CODE /path: serve /path through NameTrans, ObjectType and
 * Service with the error's status.  Loop-safe: a failure while serving it
 * (or an error page for an error page) falls back to the built-in page.
 * Returns 0 when the page was sent, -1 otherwise (nothing was sent).
 */
int
pipeline_error_page(struct ih_request *r, int status)
{
	static const int order[] = { IH_NAMETRANS, IH_OBJECTTYPE, IH_SERVICE };
	const char *page = NULL;
	char *path;
	size_t i, rhlen = r->rhlen, n;
	int rc;

	for (i = 0; i < cfg.nerror_pages; i++)
		if (cfg.error_pages[i].status == status)
			page = cfg.error_pages[i].path;
	if (page == NULL || r->c->broken || r->hd.method == NULL)
		return -1;
	n = strlen(page);
	if ((path = arena_alloc(r->a, n + 2)) == NULL ||
	    http_normalize_path(page, n, path, n + 2) != 0)
		return -1;
	r->errpage = status;
	restart_at(r, path, status);
	rc = r->objs_overflow ? IH_ABORTED : run_phases(r, order,
	    sizeof(order) / sizeof(order[0]));
	if (rc == IH_EXIT) {
		resp_drop(r);
		return 0;
	}
	/* Out already: it stands (or the connection ends). */
	if (r->rstate == RS_DONE || r->rstate == RS_STREAMING ||
	    r->rstate == RS_DROPPED || r->head_len > 0) {
		if (rc == IH_ABORTED || resp_finish(r) == -1)
			resp_drop(r);
		return 0;
	}
	/* Staged with the error's status (a redirect is no error page). */
	if (rc != IH_ABORTED && r->status == status) {
		(void)resp_finish(r);
		return 0;
	}
	/* Fall back: the built-in page, without what the attempt added. */
	ih_log(IH_LOG_NOTICE, "error_page %s for %d failed (%d%s%s); "
	    "built-in page sent", page, status, r->status,
	    r->detail != NULL ? ": " : "", r->detail != NULL ? r->detail : "");
	r->rhlen = rhlen;
	r->status = status;
	r->ctype = NULL;
	r->olen = 0;
	r->rstate = RS_OPEN;
	r->detail = NULL;
	return -1;
}

/*
 * A CGI local redirect (RFC 3875 6.2.2): serve target, a path with an
 * optional query, instead of the request's own, as a GET (a HEAD stays
 * HEAD) without a body, through every phase: credentials and access
 * rules apply to the new path as to any request.  At most
 * MAX_LOCAL_REDIRECTS in a row.  Returns the result of the phases.
 */
static int
reroute(struct ih_request *r, const char *target, int as_get)
{
	static const int order[] = { IH_AUTHTRANS, IH_NAMETRANS,
	    IH_PATHCHECK, IH_OBJECTTYPE, IH_SERVICE };
	/* a Location is a URL (its path encoded, a query after '?'); an
	 * index script's path is decoded already and stays as it is */
	const char *q = as_get ? strchr(target, '?') : NULL;
	size_t n = q != NULL ? (size_t)(q - target) : strlen(target);
	char *path;

	if (++r->redirects > MAX_LOCAL_REDIRECTS)
		return ih_error(r, 500, "too many local redirects");
	if ((path = arena_alloc(r->a, n + 2)) == NULL || (q != NULL &&
	    (r->hd.query = arena_strdup(r->a, q + 1)) == NULL))
		return ih_error(r, 500, "out of memory");
	if (!as_get)
		memcpy(path, target, n + 1);
	else if (http_normalize_path(target, n, path, n + 2) != 0)
		return ih_error(r, 500, "bad local redirect path");
	ih_debug(IH_DBG_PROC, "%s to %s", as_get ? "local redirect" :
	    "index script", target);
	if (as_get) {
		if (r->orig_method == NULL)
			r->orig_method = r->hd.method;
		if (!r->method_head)
			r->hd.method = (char *)(uintptr_t)"GET";
		if (q == NULL)
			r->hd.query = "";
		r->hd.clen = -1;
		r->hd.chunked = 0;
		r->body_done = 1;
		r->body_left = 0;
	}
	r->type_guessed = 0;
	r->vars_ready = r->params_ready = 0;
	r->vars.n = r->params.n = 0;
	r->remote_user = r->auth_type = NULL;
	r->rhlen = 0;
	restart_at(r, path, 200);
	if (r->objs_overflow)
		return ih_error(r, 500, too_many_objects);
	return run_phases(r, order, sizeof(order) / sizeof(order[0]));
}

int
pipeline_redirect(struct ih_request *r, const char *target)
{
	return reroute(r, target, 1);
}

/*
 * An index file that a CGI object names: the request is served for its
 * path instead (method, query and body kept), through every phase.
 */
int
pipeline_index_script(struct ih_request *r, const char *path)
{
	return reroute(r, path, 0);
}

/* ---- built-in functions --------------------------------------------- */

/* NameTrans: map the path to a docroot-relative file name. */
int
builtin_document_root(struct ih_request *r, const struct ih_args *args)
{
	(void)args;
	r->file = r->path + 1;
	return IH_PROCEED;
}
IH_FUNCTION("document-root", IH_PH(IH_NAMETRANS), builtin_document_root,
    NULL);

static int
redirect_check(const struct ih_args *a, char *err, size_t len)
{
	const char *s = ih_arg(a, "status"), *url = ih_arg(a, "url"),
	    *pre = ih_arg(a, "url-prefix"), *p;
	long long st;

	if ((url == NULL) == (pre == NULL)) {
		snprintf(err, len, "needs url=URL or url-prefix=URL");
		return -1;
	}
	for (p = url != NULL ? url : pre; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
			snprintf(err, len, "URL holds a space or control byte");
			return -1;
		}
	if (s != NULL && (str_to_ll(s, 300, 308, &st) == -1 || st == 304 ||
	    st == 305 || st == 306)) {
		snprintf(err, len, "status must be 300-303, 307 or 308");
		return -1;
	}
	return 0;
}

/*
 * NameTrans redirect from=PREFIX (url=URL | url-prefix=URL) status=302.
 * With url-prefix, the rest of the path after `from` and the query are
 * appended.
 */
static int
builtin_redirect(struct ih_request *r, const struct ih_args *a)
{
	const char *from = ih_arg(a, "from"), *url = ih_arg(a, "url"),
	    *pre = ih_arg(a, "url-prefix"), *s = ih_arg(a, "status");
	const char *rest = r->path;
	long long st = 302;
	size_t fl;

	if (from != NULL) {
		fl = strlen(from);
		while (fl > 1 && from[fl - 1] == '/')
			fl--;
		if (strncmp(r->path, from, fl) != 0 || (fl > 1 &&
		    r->path[fl] != '\0' && r->path[fl] != '/'))
			return IH_NOACTION;
		rest = r->path + (fl > 1 ? fl : 0);
	}
	if (s != NULL)
		str_to_ll(s, 300, 308, &st);
	if (pre != NULL) {
		const char *enc = url_encode_path(r->a, rest);

		url = enc == NULL ? NULL : arena_printf(r->a, "%s%s%s%s", pre,
		    pre[0] != '\0' && pre[strlen(pre) - 1] == '/' &&
		    enc[0] == '/' ? enc + 1 : enc,
		    *r->hd.query != '\0' ? "?" : "", r->hd.query);
		if (url == NULL)
			return ih_error(r, 500, "out of memory");
	}
	return ih_redirect(r, (int)st, url);
}
IH_FUNCTION("redirect", IH_PH(IH_NAMETRANS), builtin_redirect,
    redirect_check);

static int
force_type_check(const struct ih_args *a, char *err, size_t len)
{
	const char *t = ih_arg(a, "type"), *p;

	if (t == NULL || *t == '\0' || strlen(t) > TYPE_MAX) {
		snprintf(err, len, "needs type=TYPE (at most %d bytes)",
		    TYPE_MAX);
		return -1;
	}
	for (p = t; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			snprintf(err, len, "type holds a control byte");
			return -1;
		}
	return 0;
}

/* ObjectType force-type type=TYPE: the type, whatever the extension. */
static int
builtin_force_type(struct ih_request *r, const struct ih_args *a)
{
	/* Most specific first: a type set by a closer object stands. */
	if (r->ctype == NULL)
		r->ctype = ih_arg(a, "type");
	return IH_PROCEED;
}
IH_FUNCTION("force-type", IH_PH(IH_OBJECTTYPE), builtin_force_type,
    force_type_check);

/* Service send-file: the file service (the default Service). */
int
files_service_fn(struct ih_request *r, const struct ih_args *a)
{
	(void)a;
	return files_service(r);
}
IH_FUNCTION("send-file", IH_PH(IH_SERVICE), files_service_fn, NULL);

/*
 * drop: close the connection without a response (nginx's `return 444`),
 * for requests not worth an answer, such as scanners' probes.  Logged
 * with status 444.
 */
static int
builtin_drop(struct ih_request *r, const struct ih_args *a)
{
	(void)r;
	(void)a;
	return IH_EXIT;
}
IH_FUNCTION("drop", IH_PH(IH_AUTHTRANS) | IH_PH(IH_NAMETRANS) |
    IH_PH(IH_PATHCHECK) | IH_PH(IH_OBJECTTYPE) | IH_PH(IH_SERVICE),
    builtin_drop, NULL);

/* AddLog common-log: one line in the combined format. */
static int
builtin_common_log(struct ih_request *r, const struct ih_args *a)
{
	(void)a;
	log_access(r);
	return IH_PROCEED;
}
IH_FUNCTION("common-log", IH_PH(IH_ADDLOG), builtin_common_log, NULL);

/* Init directives: once per process (a daemon: before its first fork). */
void
run_inits(void)
{
	size_t i;

	for (i = 0; i < cfg.ninits; i++) {
		const struct directive *d = &cfg.inits[i];

		if (d->fn->fn(NULL, &d->args) != IH_PROCEED) {
			ih_log(IH_LOG_ERR, "%s:%d: Init fn=%s failed", d->file,
			    d->line, d->fn->name);
			exit(1);
		}
	}
}
