/*
 * counter - how many times this browser has been here, kept in its
 * server-side session (`sessions on`).  The first visit's set makes the
 * session (and its cookie); concurrent requests of one session are
 * serialised by the session lock, so no visit is lost.  A store that is
 * full or busy past lock_timeout gets 503 with Retry-After.
 *
 *	<Object path="/counter">
 *	  Service fn=counter
 *	</Object>
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ihttpd.h"

static int
counter_service(struct ih_request *r, const struct ih_args *args)
{
	const char *v;
	char buf[32];
	unsigned long long visits = 0;

	(void)args;
	/* NULL with errno 0: no session yet, the set below makes one. */
	if (ih_session_id(r) == NULL && errno != 0)
		return ih_error(r, 500, "counter needs sessions on and a "
		    "working session store");
	if ((v = ih_session_get(r, "visits", NULL)) != NULL)
		visits = strtoull(v, NULL, 10);
	visits++;
	snprintf(buf, sizeof(buf), "%llu", visits);
	if (ih_session_set(r, "visits", buf, strlen(buf)) == -1)
		return ih_error(r, 500, "cannot store the visit count");
	ih_set_type(r, "text/plain; charset=utf-8");
	ih_printf(r, "visits: %llu\n", visits);
	return IH_PROCEED;
}
IH_FUNCTION("counter", IH_PH(IH_SERVICE), counter_service, NULL);
