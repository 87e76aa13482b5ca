/*
 * news - a handler for a regex object: shows which path it was matched
 * for and by which pattern.
 *
 *	<Object regex="\.news$">
 *	  Service fn=news
 *	</Object>
 */
#include "ihttpd.h"

static int
news_service(struct ih_request *r, const struct ih_args *args)
{
	const char *title = ih_arg(args, "title");

	ih_set_type(r, "text/html; charset=utf-8");
	ih_puts(r, "<!DOCTYPE html>\n<html><head><title>News</title></head>\n"
	    "<body>\n<h1>");
	ih_write_html(r, title != NULL ? title : "News");
	ih_puts(r, "</h1>\n<p>You asked for <code>");
	ih_write_html(r, ih_path(r));
	ih_puts(r, "</code>, matched by the pattern <code>");
	ih_write_html(r, ih_object(r));
	ih_puts(r, "</code>.</p>\n<p><a href=\"/\">Home</a></p>\n"
	    "</body></html>\n");
	return IH_PROCEED;
}
IH_FUNCTION("news", IH_PH(IH_SERVICE), news_service, NULL);
