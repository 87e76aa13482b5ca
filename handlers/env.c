/*
 * env - an HTML page listing the request's CGI-style variables, headers
 * and query parameters, every value HTML-escaped (Net::HTTPServer's
 * documentation shows such a page).  Parameters are listed apart from
 * the variables: /env?REMOTE_USER=admin cannot pose as a login.
 * Credentials and cookie values are never shown, cookie names are.
 */
#include <string.h>
#include <strings.h>

#include "ihttpd.h"

static void
row(struct ih_request *r, const char *k, const char *v)
{
	ih_puts(r, "<tr><th>");
	ih_write_html(r, k);
	ih_puts(r, "</th><td>");
	ih_write_html(r, v);
	ih_puts(r, "</td></tr>\n");
}

/* A Cookie row with the names only: "a=(hidden); b=(hidden)". */
static void
cookie_names(struct ih_request *r, const char *v)
{
	const char *p = v;
	int first = 1;

	ih_puts(r, "<tr><th>Cookie</th><td>");
	while (*p != '\0') {
		size_t n;
		char name[256];

		p += strspn(p, " \t;");
		if (*p == '\0')
			break;
		n = strcspn(p, "=;");
		if (n >= sizeof(name))
			n = sizeof(name) - 1;
		memcpy(name, p, n);
		name[n] = '\0';
		if (!first)
			ih_puts(r, "; ");
		ih_write_html(r, name);
		ih_puts(r, "=(hidden)");
		first = 0;
		p += strcspn(p, ";");
	}
	ih_puts(r, "</td></tr>\n");
}

static int
env_service(struct ih_request *r, const struct ih_args *args)
{
	const char *k, *v;
	size_t i;

	(void)args;
	ih_set_type(r, "text/html; charset=utf-8");
	ih_puts(r, "<!DOCTYPE html>\n<html><head><title>Request "
	    "environment</title></head>\n<body>\n<h1>Request environment"
	    "</h1>\n<h2>Variables</h2>\n<table>\n");
	for (i = 0; (v = ih_var_at(r, i, &k)) != NULL; i++)
		row(r, k, v);
	ih_puts(r, "</table>\n<h2>Headers</h2>\n<table>\n");
	/*
	 * Credentials are not shown (RFC 3875 4.1.18 keeps them from CGI),
	 * nor cookie values: a session id on this page would be readable by
	 * any script of the site, which HttpOnly exists to prevent.
	 */
	for (i = 0; (v = ih_header_at(r, i, &k)) != NULL; i++) {
		if (strcasecmp(k, "Cookie") == 0)
			cookie_names(r, v);
		else
			row(r, k, strcasecmp(k, "Authorization") == 0 ||
			    strcasecmp(k, "Proxy-Authorization") == 0 ?
			    "(hidden)" : v);
	}
	ih_puts(r, "</table>\n<h2>Parameters</h2>\n<table>\n");
	for (i = 0; (v = ih_param_at(r, i, &k)) != NULL; i++)
		row(r, k, v);
	ih_puts(r, "</table>\n<p><a href=\"/\">Home</a></p>\n</body></html>\n");
	return IH_PROCEED;
}
IH_FUNCTION("env", IH_PH(IH_SERVICE), env_service, NULL);
