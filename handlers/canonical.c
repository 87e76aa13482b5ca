/*
 * canonical-host - a NameTrans function that sends requests for any other
 * host name to one canonical name, keeping the path and query (a site
 * reached as example.org and www.example.org, or by its address, answers
 * under one name).  It finishes the response in NameTrans: no later
 * phase runs for a redirected request.
 *
 *	NameTrans fn=canonical-host name=www.example.org [status=301]
 *	    [scheme=http] [port=8080]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ihttpd.h"

static int
canonical_check(const struct ih_args *a, char *err, size_t len)
{
	const char *name = ih_arg(a, "name"), *st = ih_arg(a, "status");
	const char *scheme = ih_arg(a, "scheme"), *port = ih_arg(a, "port");
	const char *p;

	if (name == NULL || *name == '\0') {
		snprintf(err, len, "needs name=HOST");
		return -1;
	}
	for (p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.')) {
			snprintf(err, len, "name: letters, digits, '-' and '.' "
			    "only");
			return -1;
		}
	if (st != NULL && strcmp(st, "301") != 0 && strcmp(st, "302") != 0 &&
	    strcmp(st, "307") != 0 && strcmp(st, "308") != 0) {
		snprintf(err, len, "status: 301, 302, 307 or 308");
		return -1;
	}
	if (scheme != NULL && strcmp(scheme, "http") != 0 &&
	    strcmp(scheme, "https") != 0) {
		snprintf(err, len, "scheme: http or https");
		return -1;
	}
	if (port != NULL && (strlen(port) > 5 || strspn(port, "0123456789") !=
	    strlen(port) || atoi(port) < 1 || atoi(port) > 65535)) {
		snprintf(err, len, "port: 1 to 65535");
		return -1;
	}
	return 0;
}

static int
canonical_host(struct ih_request *r, const struct ih_args *args)
{
	const char *name = ih_arg(args, "name"), *host = ih_header(r, "Host");
	const char *st = ih_arg(args, "status"), *scheme = ih_arg(args,
	    "scheme"), *port = ih_arg(args, "port");
	const char *target = ih_target(r), *p;
	char url[8192];
	size_t hl = 0;
	int n;

	/* An absolute-form target names the host itself (RFC 9112 3.2.2). */
	if (target[0] != '/' && (p = strstr(target, "://")) != NULL) {
		host = p + 3;
		hl = strcspn(host, "/?");
		target = host + hl;	/* "/path?q", "?q" or "" */
	} else if (host != NULL)
		hl = strlen(host);
	/* The host without its port; the same name (any case) passes. */
	if (host != NULL) {
		size_t nl = host[0] == '[' ? strcspn(host, "]") + 1 :
		    strcspn(host, ":/?");

		if (nl > hl)
			nl = hl;
		if (nl == strlen(name) && strncasecmp(host, name, nl) == 0)
			return IH_NOACTION;
	}
	n = snprintf(url, sizeof(url), "%s://%s%s%s%s%s", scheme != NULL ?
	    scheme : "http", name, port != NULL ? ":" : "", port != NULL ?
	    port : "", target[0] != '/' ? "/" : "", target[0] == '?' ||
	    target[0] == '/' ? target : "");	/* "*": the root */
	if (n < 0 || (size_t)n >= sizeof(url))
		return ih_error(r, 414, "target too long to redirect");
	return ih_redirect(r, st != NULL ? atoi(st) : 301, url);
}
IH_FUNCTION("canonical-host", IH_PH(IH_NAMETRANS), canonical_host,
    canonical_check);
