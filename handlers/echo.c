/*
 * echo - sends the request body back, read as a stream (Content-Length or
 * chunked beneath; `Expect: 100-continue` answered on the first read).
 * The reply is application/octet-stream with nosniff, whatever the
 * request said (echoing a client's text/html back would make this a
 * reflection page); a body that outgrows the response buffer goes out
 * chunked.  For trying clients and framing:
 *
 *	<Object path="/echo">
 *	  Service fn=echo
 *	</Object>
 */
#include "ihttpd.h"

static int
echo_service(struct ih_request *r, const struct ih_args *args)
{
	char buf[8192];
	ssize_t n;

	(void)args;
	ih_set_type(r, "application/octet-stream");
	ih_add_header(r, "X-Content-Type-Options", "nosniff");
	while ((n = ih_read(r, buf, sizeof(buf))) > 0)
		if (ih_write(r, buf, (size_t)n) == -1)
			return IH_EXIT;
	return n < 0 ? IH_ABORTED : IH_PROCEED;
}
IH_FUNCTION("echo", IH_PH(IH_SERVICE), echo_service, NULL);
