/*
 * fuzz_path.c - libFuzzer driver for http_normalize_path, checked against
 * a straightforward reference (decode each segment, then resolve "." and
 * ".." with a stack) and for its own invariants: the result starts with
 * '/', never holds "//", "/./" or "/../", never ends in "/." or "/..",
 * and normalising it again changes nothing when it holds no '%'.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The reference: 0 and the path in out (cap >= len + 2), or 400. */
static int
reference(const char *in, size_t len, char *out)
{
	size_t i = 0, o, segstart[4096], nseg = 0;
	char *dec = malloc(len + 1);
	size_t dl;
	int trailing = 0;

	if (len == 0 || in[0] != '/')
		goto bad;
	o = 0;
	out[o++] = '/';
	while (i < len) {
		while (i < len && in[i] == '/')
			i++;
		if (i == len)
			break;
		dl = 0;
		while (i < len && in[i] != '/') {
			int c = (unsigned char)in[i];

			if (c == '%') {
				if (i + 2 >= len || hexval((unsigned char)
				    in[i + 1]) < 0 || hexval((unsigned char)
				    in[i + 2]) < 0)
					goto bad;
				c = hexval((unsigned char)in[i + 1]) * 16 +
				    hexval((unsigned char)in[i + 2]);
				if (c == '/')
					goto bad;
				i += 3;
			} else
				i++;
			if (c == 0 || c == 0xc0 || c == 0xc1)
				goto bad;
			dec[dl++] = (char)c;
		}
		trailing = 0;
		if (dl == 1 && dec[0] == '.')
			trailing = 1;
		else if (dl == 2 && dec[0] == '.' && dec[1] == '.') {
			if (nseg == 0)
				goto bad;
			o = segstart[--nseg];
			trailing = 1;
		} else {
			if (nseg == sizeof(segstart) / sizeof(segstart[0]))
				goto bad;	/* cannot happen: len <= 4096 */
			segstart[nseg++] = o;
			memcpy(out + o, dec, dl);
			o += dl;
			out[o++] = '/';
		}
	}
	/* Every kept segment got a '/': drop the last unless wanted. */
	if (o > 1 && !trailing && in[len - 1] != '/')
		o--;
	out[o] = '\0';
	free(dec);
	return 0;
bad:
	free(dec);
	return 400;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in, *out, *ref, *again;
	size_t n;
	int rc, rrc;

	if (size > 4096)
		return 0;
	in = malloc(size > 0 ? size : 1);
	memcpy(in, data, size);
	out = malloc(size + 2);
	ref = malloc(size + 2);
	rc = http_normalize_path(in, size, out, size + 2);
	rrc = reference(in, size, ref);
	if (rc != rrc)
		abort();
	if (rc == 0) {
		n = strlen(out);
		if (strcmp(out, ref) != 0)
			abort();
		if (n > size + 1 || out[0] != '/' ||
		    strstr(out, "//") != NULL || strstr(out, "/./") != NULL ||
		    strstr(out, "/../") != NULL ||
		    (n >= 2 && strcmp(out + n - 2, "/.") == 0) ||
		    (n >= 3 && strcmp(out + n - 3, "/..") == 0))
			abort();
		if (memchr(out, '%', n) == NULL) {
			again = malloc(n + 2);
			if (http_normalize_path(out, n, again, n + 2) != 0 ||
			    strcmp(again, out) != 0)
				abort();
			free(again);
		}
	} else if (rc != 400)
		abort();
	free(ref);
	free(out);
	free(in);
	return 0;
}
