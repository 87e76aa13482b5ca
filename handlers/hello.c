/*
 * hello - the smallest handler: a greeting from its directive argument.
 *
 *	<Object path="/hello">
 *	  Service fn=hello greeting="Hello from ihttpd"
 *	</Object>
 */
#include "ihttpd.h"

static int
hello_service(struct ih_request *r, const struct ih_args *args)
{
	const char *greeting = ih_arg(args, "greeting");

	ih_set_type(r, "text/plain; charset=utf-8");
	ih_printf(r, "%s\n", greeting != NULL ? greeting : "Hello, world!");
	return IH_PROCEED;
}
IH_FUNCTION("hello", IH_PH(IH_SERVICE), hello_service, NULL);
