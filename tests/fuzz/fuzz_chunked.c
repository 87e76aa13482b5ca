/*
 * fuzz_chunked.c - libFuzzer driver for http_chunked_decode.  The first
 * byte seeds the choice of input splits and output sizes; the rest is the
 * body.  The body is decoded once whole (the reference) and once fed in
 * random pieces into random, exactly sized output buffers (ASan catches a
 * write past outcap), re-feeding what was not consumed as a caller does.
 * Invariants: never more written than outcap, never more consumed than
 * given, and the split decode agrees with the whole one on output bytes,
 * error class, end state and bytes consumed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static uint32_t rng;

static uint32_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

struct result {
	ssize_t	 err;		/* 0, -1 or -2 */
	int	 done;
	size_t	 consumed;
	size_t	 outlen;
};

static void
whole(const char *in, size_t len, char *out, struct result *res)
{
	struct chunked st;
	size_t n = len;
	ssize_t r;

	memset(&st, 0, sizeof(st));
	memset(res, 0, sizeof(*res));
	r = http_chunked_decode(&st, in, &n, out, len);
	if (n > len)
		abort();
	if (r < 0) {
		if (r != -1 && r != -2)
			abort();
		res->err = r;
		return;
	}
	if ((size_t)r > len)
		abort();
	res->outlen = (size_t)r;
	res->done = st.state == CH_DONE;
	res->consumed = n;
	/* Decoded bytes are fewer than input bytes: never short of room. */
	if (!res->done && n != len)
		abort();
}

static void
split(const char *in, size_t len, char *acc, struct result *res)
{
	struct chunked st;
	size_t pos = 0, avail = 0;
	int stall = 0;

	memset(&st, 0, sizeof(st));
	memset(res, 0, sizeof(*res));
	while (st.state != CH_DONE) {
		size_t give, n, ocap;
		char *piece, *ob;
		ssize_t r;

		if (avail == pos) {
			if (avail == len)
				break;
			avail += 1 + next() % 64;
			if (avail > len)
				avail = len;
		}
		give = avail - pos;
		ocap = next() % 4 == 0 ? 0 : 1 + next() % 32;
		if (stall >= 2 && ocap == 0)
			ocap = 1;
		piece = malloc(give > 0 ? give : 1);
		memcpy(piece, in + pos, give);
		ob = malloc(ocap > 0 ? ocap : 1);
		n = give;
		r = http_chunked_decode(&st, piece, &n, ob, ocap);
		if (n > give)
			abort();		/* consumed more than given */
		if (r >= 0) {
			if ((size_t)r > ocap)
				abort();	/* wrote past outcap */
			memcpy(acc + res->outlen, ob, (size_t)r);
			res->outlen += (size_t)r;
		}
		free(ob);
		free(piece);
		if (r < 0) {
			if (r != -1 && r != -2)
				abort();
			res->err = r;
			return;
		}
		pos += n;
		stall = n == 0 && r == 0 ? stall + 1 : 0;
		if (stall > 8)
			abort();		/* no progress with room */
	}
	res->done = st.state == CH_DONE;
	res->consumed = pos;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct result a, b;
	char *in, *out1, *out2;
	size_t len;

	if (size < 1)
		return 0;
	rng = 0x9e3779b9u ^ data[0] ^ (uint32_t)size << 8;
	len = size - 1;
	in = malloc(len > 0 ? len : 1);
	memcpy(in, data + 1, len);
	out1 = malloc(len > 0 ? len : 1);
	out2 = malloc(len > 0 ? len : 1);
	whole(in, len, out1, &a);
	split(in, len, out2, &b);
	if (a.err != b.err)
		abort();
	if (a.err == 0 && (a.done != b.done || a.consumed != b.consumed ||
	    a.outlen != b.outlen || memcmp(out1, out2, a.outlen) != 0))
		abort();
	free(out2);
	free(out1);
	free(in);
	return 0;
}
