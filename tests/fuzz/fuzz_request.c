/*
 * fuzz_request.c - libFuzzer driver for the request head: head-end
 * detection (fed whole and in two parts must agree), http_parse_head on an
 * exact-size heap copy (ASan catches any over-read) with maxh 100 and
 * with maxh 2, the invariants of a parsed head, and then
 * http_normalize_path on its path.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define MAXH	100

static void
check_parsed(struct head *hd, int maxh, const char *buf, size_t size)
{
	size_t n;
	char *out;

	if (hd->method == NULL || hd->target == NULL || hd->path_raw == NULL ||
	    hd->query == NULL)
		abort();
	if (hd->version != 10 && hd->version != 11)
		abort();
	if (hd->nh < 0 || hd->nh > maxh)
		abort();
	if (!http_method_known(hd->method))
		abort();
	if (hd->clen < -1 || (hd->chunked && hd->clen != -1))
		abort();
	if (hd->version == 11 && hd->host == NULL)
		abort();
	if (hd->asterisk ? strcmp(hd->path_raw, "*") != 0 :
	    hd->path_raw[0] != '/')
		abort();
	if (strchr(hd->path_raw, '?') != NULL)
		abort();
	/* RFC 9110 5.5: NUL is never valid in a head; accepting it lets a
	 * line of NULs pass for the empty line and truncates values. */
	if (memchr(buf, '\0', size) != NULL)
		abort();
	/* A parsed head ends at its first empty line (no leading ones). */
	if (size > 0 && buf[0] != '\r' && buf[0] != '\n') {
		char *copy = malloc(size);

		memcpy(copy, buf, size);
		if (http_find_head_end(copy, size, 0) != size)
			abort();
		free(copy);
	}
	if (hd->asterisk)
		return;
	n = strlen(hd->path_raw);
	out = malloc(n + 2);
	if (http_normalize_path(hd->path_raw, n, out, n + 2) == 0 &&
	    (out[0] != '/' || strstr(out, "//") != NULL ||
	    strstr(out, "/./") != NULL || strstr(out, "/../") != NULL))
		abort();
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size > 0 ? size : 1), *orig;
	struct header *h;
	struct head hd;
	size_t full, k;
	int rc;

	memcpy(buf, data, size);

	/* Rescanning from a previous length must find the same end. */
	full = http_find_head_end(buf, size, 0);
	if (full > size)
		abort();
	for (k = 0; k <= size; k += size / 3 + 1)
		if (http_find_head_end(buf, k, 0) == 0 &&
		    http_find_head_end(buf, size, k) != full)
			abort();

	orig = malloc(size > 0 ? size : 1);
	memcpy(orig, data, size);

	h = malloc(MAXH * sizeof(*h));
	memset(&hd, 0, sizeof(hd));
	hd.h = h;
	hd.maxh = MAXH;
	rc = http_parse_head(buf, size, &hd);
	if (rc == 0)
		check_parsed(&hd, MAXH, orig, size);
	else if (rc != 400 && rc != 413 && rc != 417 && rc != 431 &&
	    rc != 501 && rc != 505)
		abort();
	free(h);

	/* Again with room for two headers only. */
	memcpy(buf, data, size);
	h = malloc(2 * sizeof(*h));
	memset(&hd, 0, sizeof(hd));
	hd.h = h;
	hd.maxh = 2;
	if (http_parse_head(buf, size, &hd) == 0)
		check_parsed(&hd, 2, orig, size);
	free(h);
	free(orig);
	free(buf);
	return 0;
}
