/*
 * fuzz_cgi.c - libFuzzer driver for the CGI header block reader in
 * src/cgi.c: the input is what a script prints.  It is fed to
 * cgi_head_end in reads whose sizes come from the first byte, as
 * relay_head does (scanning from two bytes before the old end), into an
 * exact-size buffer capped like cgi_max_header; the end found must be
 * the first blank line of the whole input, wherever the reads split it.
 * The block is then parsed by cgi_head_parse into a request built by
 * hand; a Status it accepts is 200-599, a length is >= 0, and the
 * headers it added are well-formed "Name: value\r\n" lines.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CAP	4096

/* The first blank line's end in the whole of b, or 0. */
static size_t
reference_end(const char *b, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i++)
		if (b[i] == '\n' && (b[i + 1] == '\n' || (i + 2 < n &&
		    b[i + 1] == '\r' && b[i + 2] == '\n')))
			return i + (b[i + 1] == '\n' ? 2 : 3);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct arena a;
	static struct conn c;
	struct ih_request r;
	struct cgi_head h;
	const char *why = NULL;
	char *buf;
	size_t step, len = 0, end = 0, want, i;
	static int in = -1, out = -1;

	if (size < 1)
		return 0;
	step = (size_t)(data[0] % 16) + 1;
	data++;
	size--;
	if (size > CAP)
		size = CAP;
	if ((buf = malloc(size > 0 ? size : 1)) == NULL)
		return 0;
	while (len < size && end == 0) {
		size_t take = size - len < step ? size - len : step;
		size_t from = len > 2 ? len - 2 : 0;

		memcpy(buf + len, data + len, take);
		len += take;
		end = cgi_head_end(buf, len, from);
	}
	want = reference_end((const char *)data, size);
	if (end != want)
		abort();
	if (end == 0) {
		free(buf);
		return 0;
	}
	/* conn_free leaves the fds to their owner: open them once */
	if ((in == -1 && (in = open("/dev/null", O_RDONLY)) == -1) ||
	    (out == -1 && (out = open("/dev/null", O_WRONLY)) == -1) ||
	    conn_init(&c, in, out) == -1)
		abort();
	memset(&r, 0, sizeof(r));
	r.c = &c;
	r.a = &a;
	r.hd.query = "";
	r.status = 200;
	cfg.log_level = 0;
	cfg.keepalive_requests = 100;
	if (cgi_head_parse(&r, "/fuzz", buf, end, &h, &why) == 0) {
		if ((h.status != 0 && (h.status < 200 || h.status > 599)) ||
		    h.clen < -1)
			abort();
		for (i = 0; i < r.rhlen; i++)
			if ((unsigned char)r.rh[i] < 0x20 && r.rh[i] != '\t' &&
			    !(r.rh[i] == '\r' && i + 1 < r.rhlen &&
			    r.rh[i + 1] == '\n') && !(r.rh[i] == '\n' &&
			    i > 0 && r.rh[i - 1] == '\r'))
				abort();
		if (r.rhlen > 0 && (r.rhlen < 2 || r.rh[r.rhlen - 1] != '\n'))
			abort();
	} else if (why == NULL)
		abort();
	conn_free(&c);
	arena_reset(&a);
	free(buf);
	return 0;
}
