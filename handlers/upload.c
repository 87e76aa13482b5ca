/*
 * upload - takes a body or a multipart/form-data file and answers its
 * size and SHA-256, streaming: a 50 MiB upload passes through a 16 KiB
 * buffer, never into memory.  Plain fields of a form are listed too.
 *
 *	<Object path="/upload">
 *	  Service fn=upload
 *	</Object>
 */
#define OPENSSL_API_COMPAT 0x10100000L	/* SHA256_Init: no EVP fetch */
#include <string.h>
#include <strings.h>

#include <openssl/sha.h>

#include "ihttpd.h"

static void
hex(const unsigned char *d, char *out)
{
	static const char x[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 32; i++) {
		out[2 * i] = x[d[i] >> 4];
		out[2 * i + 1] = x[d[i] & 15];
	}
	out[64] = '\0';
}

/* Hash a stream (the body, or the current part) to its end. */
static int
digest(struct ih_request *r, int part, long long *size, char *out)
{
	unsigned char buf[16384], d[32];
	SHA256_CTX c;
	ssize_t n;

	SHA256_Init(&c);
	*size = 0;
	while ((n = part ? ih_part_read(r, buf, sizeof(buf)) :
	    ih_read(r, buf, sizeof(buf))) > 0) {
		SHA256_Update(&c, buf, (size_t)n);
		*size += n;
	}
	SHA256_Final(d, &c);
	hex(d, out);
	return n < 0 ? -1 : 0;
}

static int
upload_service(struct ih_request *r, const struct ih_args *args)
{
	const char *ct = ih_header(r, "Content-Type");
	char sum[65];
	long long size;

	(void)args;
	if (strcmp(ih_method(r), "POST") != 0 &&
	    strcmp(ih_method(r), "PUT") != 0) {
		ih_set_type(r, "text/html; charset=utf-8");
		ih_puts(r, "<!DOCTYPE html>\n<html><head><title>Upload</title>"
		    "</head>\n<body>\n<h1>Upload</h1>\n<form method=\"post\" "
		    "enctype=\"multipart/form-data\">\n<input type=\"file\" "
		    "name=\"file\">\n<input type=\"text\" name=\"note\">\n"
		    "<button>Send</button>\n</form>\n<p><a href=\"/\">Home</a>"
		    "</p>\n</body></html>\n");
		return IH_PROCEED;
	}
	ih_set_type(r, "text/plain; charset=utf-8");
	if (ct != NULL && strncasecmp(ct, "multipart/form-data", 19) == 0) {
		struct ih_part p;
		int rc;

		while ((rc = ih_part_next(r, &p)) == 1) {
			if (digest(r, 1, &size, sum) == -1)
				return IH_ABORTED;
			if (p.filename != NULL)
				ih_printf(r, "file %s (%s): %lld bytes, sha256 "
				    "%s\n", p.name, p.filename, size, sum);
			else
				ih_printf(r, "field %s: %lld bytes\n", p.name,
				    size);
		}
		return rc < 0 ? IH_ABORTED : IH_PROCEED;
	}
	if (digest(r, 0, &size, sum) == -1)
		return IH_ABORTED;
	ih_printf(r, "body: %lld bytes, sha256 %s\n", size, sum);
	return IH_PROCEED;
}
IH_FUNCTION("upload", IH_PH(IH_SERVICE), upload_service, NULL);
