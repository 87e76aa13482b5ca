/*
 * login, logout - a form login kept in the session: the user and
 * password are checked through an authentication lookup (the contract
 * of auth-basic/auth-digest: 200 allowed, 401 unknown or wrong, 403
 * forbidden), and the login lives in the server-side session.  Only a
 * successful login makes a session: showing the form, a refused login
 * and a logout without a session store nothing and set no cookie.
 *
 *	<Object path="/login">
 *	  Service fn=login lookup=demo-users
 *	</Object>
 *	<Object path="/logout">
 *	  Service fn=logout
 *	</Object>
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ihttpd.h"

static int
login_check(const struct ih_args *a, char *err, size_t len)
{
	if (ih_arg(a, "lookup") == NULL) {
		snprintf(err, len, "needs lookup=NAME");
		return -1;
	}
	return 0;
}

static void
page(struct ih_request *r, const char *user, const char *msg)
{
	ih_set_type(r, "text/html; charset=utf-8");
	ih_puts(r, "<!DOCTYPE html>\n<html><head><title>Login</title></head>"
	    "\n<body>\n<h1>Login</h1>\n");
	if (msg != NULL) {
		ih_puts(r, "<p><strong>");
		ih_write_html(r, msg);
		ih_puts(r, "</strong></p>\n");
	}
	if (user != NULL) {
		ih_puts(r, "<p>You are logged in as <b>");
		ih_write_html(r, user);
		ih_puts(r, "</b>. <a href=\"/logout\">Log out</a></p>\n");
	} else
		ih_puts(r, "<form method=\"post\" action=\"/login\">\n"
		    "<label>User <input name=\"user\"></label>\n"
		    "<label>Password <input name=\"password\" "
		    "type=\"password\"></label>\n<button>Log in</button>\n"
		    "</form>\n");
	ih_puts(r, "<p><a href=\"/\">Home</a></p>\n</body></html>\n");
}

/*
 * Is name one of the query's parameters?  ih_param_at lists the query's
 * parameters first, one per non-empty '&'-separated piece.
 */
static int
query_has(struct ih_request *r, const char *name)
{
	const char *q = ih_query(r), *k;
	size_t n = 0, i;

	for (; *q != '\0'; q++)
		if (*q != '&' && (q == ih_query(r) || q[-1] == '&'))
			n++;
	for (i = 0; i < n && ih_param_at(r, i, &k) != NULL; i++)
		if (strcmp(k, name) == 0)
			return 1;
	return 0;
}

static int
login_service(struct ih_request *r, const struct ih_args *args)
{
	const char *user, *pw;
	int st;

	/*
	 * The form's body is read before the session is touched, so that its
	 * lock never waits on a slow client.
	 */
	if (strcmp(ih_method(r), "POST") == 0 &&
	    (st = ih_parse_body(r)) != 0)
		return ih_error(r, st, "login form refused");
	/* NULL with errno 0: nobody is logged in on this browser. */
	if (ih_session_id(r) == NULL && errno != 0)
		return ih_error(r, 500, "login needs sessions on and a usable "
		    "datadir");
	if (strcmp(ih_method(r), "POST") != 0) {
		page(r, ih_session_get(r, "user", NULL), NULL);
		return IH_PROCEED;
	}
	/*
	 * A password belongs in the body: in a query string it would be in
	 * every access log and proxy log on the way.  Refused, so that a form
	 * that puts it there fails at once instead of working and leaking.
	 */
	if (query_has(r, "password"))
		return ih_error(r, 400, "a password in the query string "
		    "(it belongs in the body)");
	user = ih_param(r, "user");
	pw = ih_param(r, "password");
	if (user == NULL || pw == NULL || *user == '\0')
		return ih_error(r, 400, "login form without user or password");
	st = ih_check_password(r, ih_arg(args, "lookup"), user, pw);
	if (st == 200) {
		/* A new id at login: one planted before it is worthless. */
		if (ih_session_renew(r) == -1 ||
		    ih_session_set(r, "user", user, strlen(user)) == -1)
			return ih_error(r, 500, "cannot store the login");
		return ih_redirect(r, 303, "/login");
	}
	ih_set_status(r, 403);	/* 401 would need a WWW-Authenticate */
	page(r, NULL, st == 403 ? "That user may not log in." :
	    "Wrong user or password.");
	return IH_PROCEED;
}
IH_FUNCTION("login", IH_PH(IH_SERVICE), login_service, login_check);

static int
logout_service(struct ih_request *r, const struct ih_args *args)
{
	(void)args;
	/* Without a session there is nothing to end: just the redirect. */
	if (ih_session_destroy(r) == -1)
		return ih_error(r, 500, "cannot end the session");
	return ih_redirect(r, 303, "/login");
}
IH_FUNCTION("logout", IH_PH(IH_SERVICE), logout_service, NULL);
