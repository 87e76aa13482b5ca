/*
 * fuzz_proxy.c - libFuzzer driver for proxy_parse (src/proxy.c), checked
 * for its invariants: the answer is -1, 0 or a length within the input
 * and PROXY_MAX; an accepted header parses the same from exactly its own
 * bytes and from any longer input, and every shorter prefix of it is
 * "more please" (0), never refused; a length asked for (*need) is past
 * what was given and within PROXY_MAX; addresses of the family said
 * round-trip through inet_ntop/inet_pton; TLS names are NUL-terminated
 * tokens.
 */
#include <arpa/inet.h>
#include <sys/socket.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
token(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (n == cap)
		return 0;
	return strspn(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	    "qrstuvwxyz._-") == n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_hdr h, h2;
	size_t need, need2, k;
	unsigned char *copy;
	long n, n2;

	n = proxy_parse(data, size, &h, &need);
	if (n < -1 || n > (long)size || n > PROXY_MAX)
		abort();
	if (n == 0 && need != 0 && (need <= size || need > PROXY_MAX))
		abort();
	if (n <= 0)
		return 0;
	/* Exactly its own bytes, in a buffer of their size (ASan sees any
	 * read past them). */
	if ((copy = malloc((size_t)n)) == NULL)
		return 0;
	memcpy(copy, data, (size_t)n);
	n2 = proxy_parse(copy, (size_t)n, &h2, &need2);
	if (n2 != n || memcmp(&h, &h2, sizeof(h)) != 0)
		abort();
	/* A few shorter prefixes: never refused. */
	for (k = 1; k < (size_t)n; k += 1 + (size_t)n / 16)
		if (proxy_parse(copy, k, &h2, &need2) != 0)
			abort();
	free(copy);
	if (h.cmd != PROXY_LOCAL && h.cmd != PROXY_PROXY)
		abort();
	if (h.version != 1 && h.version != 2)
		abort();
	if (h.cmd == PROXY_PROXY && (h.family == AF_INET ||
	    h.family == AF_INET6)) {
		char text[INET6_ADDRSTRLEN];
		unsigned char back[16];

		if (inet_ntop(h.family, h.src, text, sizeof(text)) == NULL ||
		    inet_pton(h.family, text, back) != 1 || memcmp(back, h.src,
		    h.family == AF_INET ? 4 : 16) != 0)
			abort();
		if (h.src_port > 65535 || h.dst_port > 65535)
			abort();
	} else if (h.cmd == PROXY_PROXY && h.family != AF_UNIX)
		abort();
	if (!token(h.ssl_version, sizeof(h.ssl_version)) ||
	    !token(h.ssl_cipher, sizeof(h.ssl_cipher)))
		abort();
	if (h.version == 1 && h.ssl)
		abort();
	return 0;
}
