/*
 * fuzz_auth.c - libFuzzer driver for auth.c's parsers of client input.
 *
 * auth_digest_parse on the input as a string: no crash, every field set
 * is a NUL-terminated string no longer than the input, and a parse that
 * succeeds gives the same again on a fresh arena.  auth_b64_decode on the input: never writes
 * past an output of exactly the cap it is given (a heap block ASan
 * guards), never reads past the input, returns -1 or at most n / 4 * 3,
 * and a success agrees with OpenSSL's decoder and re-encodes to the
 * input but for the pad bits of its last digit.  Also: the input's bytes encoded by
 * OpenSSL must decode back to themselves, and auth_apr1 with a short
 * input as the salt stays inside its output and verifies.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct arena A;

static void
check_field(const char *v, size_t n)
{
	if (v != NULL && strnlen(v, n + 1) > n)
		abort();
}

static void
fuzz_digest(const uint8_t *data, size_t n)
{
	char *s = malloc(n + 1);
	struct dparams p, q;
	char *user;
	int rc, rc2;

	if (s == NULL)
		return;
	memcpy(s, data, n);
	s[n] = '\0';
	rc = auth_digest_parse(&A, s, &p);
	if (rc != 0 && rc != -1)
		abort();
	if (rc == 0) {
		check_field(p.username, n);
		check_field(p.realm, n);
		check_field(p.nonce, n);
		check_field(p.uri, n);
		check_field(p.response, n);
		check_field(p.algorithm, n);
		check_field(p.cnonce, n);
		check_field(p.opaque, n);
		check_field(p.qop, n);
		check_field(p.nc, n);
		check_field(p.userhash, n);
		/* Again on a fresh arena (it grows with every parameter). */
		user = p.username != NULL ? strdup(p.username) : NULL;
		arena_reset(&A);
		rc2 = auth_digest_parse(&A, s, &q);
		if (rc2 != 0 || (user == NULL) != (q.username == NULL) ||
		    (user != NULL && strcmp(user, q.username) != 0))
			abort();
		free(user);
	}
	arena_reset(&A);
	free(s);
}

static int
canonical_b64(const uint8_t *in, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (in[i] == '\0' || strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789+/=", in[i]) == NULL)
			return 0;
	return 1;
}

static void
fuzz_b64(const uint8_t *data, size_t n)
{
	size_t cap = n / 4 * 3, pad = 0;
	char *in = malloc(n + 1);	/* no NUL after the data */
	unsigned char *out = malloc(cap + 1), *ref = malloc(cap + 1);
	char *again = malloc(n + 5);
	ssize_t r;

	if (in == NULL || out == NULL || ref == NULL || again == NULL)
		goto done;
	memcpy(in, data, n);
	r = auth_b64_decode(in, n, out, cap);
	if (r < -1 || r > (ssize_t)cap)
		abort();
	if (cap > 0 && auth_b64_decode(in, n, out, cap - 1) != -1)
		abort();	/* the cap check comes first */
	if (r >= 0) {
		int rl;

		if (n == 0 || n % 4 != 0 || !canonical_b64(data, n))
			abort();
		if (data[n - 1] == '=')
			pad = data[n - 2] == '=' ? 2 : 1;
		if ((size_t)r != cap - pad)
			abort();
		rl = EVP_DecodeBlock(ref, data, (int)n);
		if (rl != (int)cap || memcmp(ref, out, (size_t)r) != 0)
			abort();
		EVP_EncodeBlock((unsigned char *)again, out, (int)r);
		/* Equal but for the last digit's pad bits. */
		if (strlen(again) != n || memcmp(again, data, n - pad - 1) != 0)
			abort();
	}
done:
	free(in);
	free(out);
	free(ref);
	free(again);
}

/* The raw bytes, encoded by OpenSSL, must decode back. */
static void
fuzz_b64_roundtrip(const uint8_t *data, size_t n)
{
	size_t elen = (n + 2) / 3 * 4;
	unsigned char *enc, *out;
	ssize_t r;

	if (n == 0 || n > 3000)
		return;
	enc = malloc(elen + 1);
	out = malloc(elen / 4 * 3);
	if (enc != NULL && out != NULL) {
		EVP_EncodeBlock(enc, data, (int)n);
		r = auth_b64_decode((char *)enc, elen, out, elen / 4 * 3);
		if (r != (ssize_t)n || memcmp(out, data, n) != 0)
			abort();
	}
	free(enc);
	free(out);
}

/*
 * An input "#SALT" (short): auth_apr1 with "$apr1$SALT" (up to a NUL).
 * The output stays in its 64 bytes, and is a hash the same password
 * matches.  Gated by the '#' as 1000 MD5 rounds would slow the rest.
 */
static void
fuzz_apr1(const uint8_t *data, size_t n)
{
	char hash[32], out[64 + 1];

	if (n == 0 || n > 13 || data[0] != '#')
		return;
	data++;
	n--;
	memcpy(hash, "$apr1$", 6);
	memcpy(hash + 6, data, n);
	hash[6 + n] = '\0';
	out[64] = 0x5a;
	if (auth_apr1("pw", hash, out) != 0)
		abort();
	if (out[64] != 0x5a || strnlen(out, 64) > 6 + 8 + 1 + 22 ||
	    strncmp(out, hash, 6 + strcspn(hash + 6, "$") > 14 ? 14 :
	    6 + strcspn(hash + 6, "$")) != 0)
		abort();
	if (auth_htpasswd_match("pw", out) != 1 ||
	    auth_htpasswd_match("pW", out) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	fuzz_digest(data, n);
	fuzz_b64(data, n);
	fuzz_b64_roundtrip(data, n);
	fuzz_apr1(data, n);
	return 0;
}
