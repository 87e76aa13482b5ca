/*
 * auth.c - HTTP authentication as AuthTrans functions: auth-basic (RFC
 * 7617) against an htpasswd file (bcrypt $2y$, $apr1$, {SHA}, crypt(3)
 * $5$/$6$/$1$) or a lookup, and auth-digest (RFC 7616: SHA-256, MD5 and
 * the -sess variants, qop=auth) against an htdigest-shaped file or a
 * lookup.  Digest nonces are stateless - a timestamp and an HMAC over it
 * and the realm with a secret kept in datadir/secret - so any process
 * verifies any other's nonce, as inetd mode needs; the nonce table
 * (nonce.c) keeps the highest nc per live nonce, so a replayed
 * Authorization is refused by every process.  Secrets are compared in
 * constant time and wiped after use; no credential reaches a log, and an
 * unknown user costs the time a known one does.
 *
 * Hashes use OpenSSL's direct MD5/SHA1/SHA256 contexts, not EVP: in
 * OpenSSL 3 the first EVP digest (and even the one-shot SHA256()) fetches
 * from the provider and builds its name maps, about 5 M instructions -
 * 60 times a whole inetd request.  The contexts cost a few thousand.
 * HMAC is RFC 2104 over the SHA-256 context for the same reason.
 */
#define OPENSSL_API_COMPAT 0x10100000L	/* MD5_Init & co., see above */
#include <sys/random.h>
#include <sys/stat.h>

#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/md5.h>
#include <openssl/sha.h>

#include "internal.h"

#define MAX_CRED	1024	/* decoded Basic credentials */
#define MAX_PW		256
#define NONCE_LEN	(32 + 1 + 43)	/* time, random, '-', HMAC */

extern const struct ih_lookup __start_ih_lookups[] __attribute__((weak));
extern const struct ih_lookup __stop_ih_lookups[] __attribute__((weak));

/* The registered lookup of this name, or NULL. */
const struct ih_lookup *
auth_find_lookup(const char *name)
{
	const struct ih_lookup *l;

	for (l = __start_ih_lookups; l != NULL && l < __stop_ih_lookups; l++)
		if (strcmp(l->name, name) == 0)
			return l;
	return NULL;
}

/* ---- small crypto helpers --------------------------------------------- */

enum { H_NONE, H_MD5, H_SHA1, H_SHA256 };

static int
md_of(const char *alg)
{
	if (strncasecmp(alg, "SHA-256", 7) == 0)
		return H_SHA256;
	if (strncasecmp(alg, "MD5", 3) == 0)
		return H_MD5;
	return H_NONE;
}

/* A digest into out (32 bytes room); returns its length. */
static unsigned
digest_raw(int md, const void *data, size_t n, unsigned char *out)
{
	switch (md) {
	case H_MD5: {
		MD5_CTX c;

		MD5_Init(&c);
		MD5_Update(&c, data, n);
		MD5_Final(out, &c);
		OPENSSL_cleanse(&c, sizeof(c));
		return 16;
	}
	case H_SHA1: {
		SHA_CTX c;

		SHA1_Init(&c);
		SHA1_Update(&c, data, n);
		SHA1_Final(out, &c);
		OPENSSL_cleanse(&c, sizeof(c));
		return 20;
	}
	default: {
		SHA256_CTX c;

		SHA256_Init(&c);
		SHA256_Update(&c, data, n);
		SHA256_Final(out, &c);
		OPENSSL_cleanse(&c, sizeof(c));
		return 32;
	}
	}
}

/* Lower-case hex digest of data; out needs 2 * 32 + 1 bytes. */
static void
hash_hex(int md, const void *data, size_t n, char *out)
{
	unsigned char d[32];
	unsigned int len;

	len = digest_raw(md, data, n, d);
	hex_encode(out, d, len);
	OPENSSL_cleanse(d, sizeof(d));
}

/* HMAC-SHA256 (RFC 2104) with a key of at most 64 bytes. */
static void
hmac_sha256(const unsigned char *key, size_t klen, const void *msg,
    size_t n, unsigned char out[32])
{
	unsigned char pad[64], inner[32];
	SHA256_CTX c;
	size_t i;

	memset(pad, 0, sizeof(pad));
	memcpy(pad, key, klen > 64 ? 64 : klen);
	for (i = 0; i < 64; i++)
		pad[i] ^= 0x36;
	SHA256_Init(&c);
	SHA256_Update(&c, pad, 64);
	SHA256_Update(&c, msg, n);
	SHA256_Final(inner, &c);
	for (i = 0; i < 64; i++)
		pad[i] ^= 0x36 ^ 0x5c;
	SHA256_Init(&c);
	SHA256_Update(&c, pad, 64);
	SHA256_Update(&c, inner, 32);
	SHA256_Final(out, &c);
	OPENSSL_cleanse(pad, sizeof(pad));
	OPENSSL_cleanse(inner, sizeof(inner));
	OPENSSL_cleanse(&c, sizeof(c));
}

/* Equal strings, in time that depends only on the lengths. */
static int
secure_streq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/*
 * Strict base64 (RFC 4648 section 4): length a multiple of 4, padding
 * only at the end.  Returns the decoded length or -1.
 */
ssize_t
auth_b64_decode(const char *in, size_t n, unsigned char *out, size_t cap)
{
	size_t i, o = 0;

	if (n == 0 || n % 4 != 0 || n / 4 * 3 > cap)
		return -1;
	for (i = 0; i < n; i += 4) {
		int v[4], j, pad = 0;

		for (j = 0; j < 4; j++) {
			const char *p;

			if (in[i + j] == '=' && i + 4 == n && j >= 2) {
				v[j] = 0;
				pad++;
				continue;
			}
			if (pad > 0 || in[i + j] == '\0' ||
			    (p = strchr(b64, in[i + j])) == NULL)
				return -1;
			v[j] = (int)(p - b64);
		}
		if (pad == 1 && in[i + 3] != '=')
			return -1;
		out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[o++] = (unsigned char)(v[1] << 4 | v[2] >> 2);
		if (pad < 1)
			out[o++] = (unsigned char)(v[2] << 6 | v[3]);
	}
	return (ssize_t)o;
}

static void
b64_encode(const unsigned char *in, size_t n, char *out, int url)
{
	size_t i, o = 0;

	for (i = 0; i + 2 < n + 2; i += 3) {
		unsigned v = (unsigned)in[i] << 16 |
		    (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
		    (i + 2 < n ? in[i + 2] : 0);

		if (i >= n)
			break;
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	out[o] = '\0';
	if (url) {
		for (i = 0; i < o; i++)
			if (out[i] == '+')
				out[i] = '-';
			else if (out[i] == '/')
				out[i] = '_';
			else if (out[i] == '=')
				out[i] = '\0';
	}
}

/* ---- htpasswd formats --------------------------------------------------- */

static void
to64(char *s, unsigned long v, int n)
{
	static const char itoa64[] =
	    "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

	while (--n >= 0) {
		*s++ = itoa64[v & 0x3f];
		v >>= 6;
	}
}

/*
 * Apache's $apr1$: the MD5-based crypt of FreeBSD with another magic
 * string.  out needs 64 bytes.  0, or -1 for a malformed hash.
 */
int
auth_apr1(const char *pw, const char *hash, char *out)
{
	static const char magic[] = "$apr1$";
	unsigned char fin[16];
	const char *salt = hash + 6, *end;
	size_t sl, pl = strlen(pw), i;
	MD5_CTX ctx, alt;
	char *p;

	if (strncmp(hash, magic, 6) != 0)
		return -1;
	end = strchr(salt, '$');
	sl = end != NULL ? (size_t)(end - salt) : strlen(salt);
	if (sl > 8)
		sl = 8;
	MD5_Init(&ctx);
	MD5_Update(&ctx, pw, pl);
	MD5_Update(&ctx, magic, 6);
	MD5_Update(&ctx, salt, sl);
	MD5_Init(&alt);
	MD5_Update(&alt, pw, pl);
	MD5_Update(&alt, salt, sl);
	MD5_Update(&alt, pw, pl);
	MD5_Final(fin, &alt);
	for (i = pl; i > 0; i -= i > 16 ? 16 : i)
		MD5_Update(&ctx, fin, i > 16 ? 16 : i);
	for (i = pl; i != 0; i >>= 1)
		MD5_Update(&ctx, (i & 1) ? "" : pw, 1);
	MD5_Final(fin, &ctx);
	for (i = 0; i < 1000; i++) {
		MD5_Init(&ctx);
		if (i & 1)
			MD5_Update(&ctx, pw, pl);
		else
			MD5_Update(&ctx, fin, 16);
		if (i % 3)
			MD5_Update(&ctx, salt, sl);
		if (i % 7)
			MD5_Update(&ctx, pw, pl);
		if (i & 1)
			MD5_Update(&ctx, fin, 16);
		else
			MD5_Update(&ctx, pw, pl);
		MD5_Final(fin, &ctx);
	}
	OPENSSL_cleanse(&ctx, sizeof(ctx));
	OPENSSL_cleanse(&alt, sizeof(alt));
	memcpy(out, magic, 6);
	memcpy(out + 6, salt, sl);
	p = out + 6 + sl;
	*p++ = '$';
	to64(p, (unsigned long)fin[0] << 16 | fin[6] << 8 | fin[12], 4);
	to64(p + 4, (unsigned long)fin[1] << 16 | fin[7] << 8 | fin[13], 4);
	to64(p + 8, (unsigned long)fin[2] << 16 | fin[8] << 8 | fin[14], 4);
	to64(p + 12, (unsigned long)fin[3] << 16 | fin[9] << 8 | fin[15], 4);
	to64(p + 16, (unsigned long)fin[4] << 16 | fin[10] << 8 | fin[5], 4);
	to64(p + 20, fin[11], 2);
	p[22] = '\0';
	OPENSSL_cleanse(fin, sizeof(fin));
	return 0;
}

/*
 * Does pw match an htpasswd hash?  bcrypt, SHA-crypt, MD5-crypt and DES
 * go through crypt(3) (libxcrypt); $apr1$ and {SHA} are done here.
 * Plain-text entries are refused.
 */
int
auth_htpasswd_match(const char *pw, const char *hash)
{
	char buf[64];
	int ok = 0;

	if (strncmp(hash, "$apr1$", 6) == 0) {
		if (auth_apr1(pw, hash, buf) == 0)
			ok = secure_streq(buf, hash);
	} else if (strncmp(hash, "{SHA}", 5) == 0) {
		unsigned char d[32];

		digest_raw(H_SHA1, pw, strlen(pw), d);
		b64_encode(d, 20, buf, 0);
		ok = secure_streq(buf, hash + 5);
	} else if (hash[0] == '$' || strlen(hash) == 13) {
		struct crypt_data *cd = calloc(1, sizeof(*cd));
		const char *c;

		if (cd != NULL && (c = crypt_rn(pw, hash, cd,
		    sizeof(*cd))) != NULL && c[0] != '*')
			ok = secure_streq(c, hash);
		if (cd != NULL) {
			OPENSSL_cleanse(cd, sizeof(*cd));
			free(cd);
		}
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return ok;
}

/*
 * What checking a password against an htpasswd hash costs, roughly in
 * microseconds of one core (only the order matters): an unknown user is
 * checked against the file's costliest hash, so that the time does not
 * tell which users exist.  bcrypt doubles with its cost factor, SHA-crypt
 * grows with rounds= (default 5000), MD5-crypt and $apr1$ are 1000 MD5
 * rounds; {SHA} and DES are cheap; yescrypt and scrypt are taken at their
 * usual settings.  A hash crypt(3) cannot check costs 0.
 */
long long
auth_hash_cost(const char *hash)
{
	long long n;

	if (hash[0] == '$' && hash[1] == '2' && hash[2] != '\0' &&
	    strchr("abxy", hash[2]) != NULL && hash[3] == '$' &&
	    isdigit((unsigned char)hash[4]) &&
	    isdigit((unsigned char)hash[5]) && hash[6] == '$') {
		n = (hash[4] - '0') * 10 + (hash[5] - '0');
		return n >= 4 && n <= 31 ? 70LL << n : 0;
	}
	if (strncmp(hash, "$5$", 3) == 0 || strncmp(hash, "$6$", 3) == 0) {
		n = 5000;
		if (strncmp(hash + 3, "rounds=", 7) == 0) {
			n = strtoll(hash + 10, NULL, 10);
			n = n < 1000 ? 1000 : n > 999999999 ? 999999999 : n;
		}
		return 100 + n / 2;
	}
	if (strncmp(hash, "$apr1$", 6) == 0 || strncmp(hash, "$1$", 3) == 0)
		return 175;
	if (strncmp(hash, "$sha1$", 6) == 0) {
		n = strtoll(hash + 6, NULL, 10);
		return n > 0 && n < 1000000000 ? n * 16 / 10 : 0;
	}
	if (strncmp(hash, "$y$", 3) == 0 || strncmp(hash, "$gy$", 4) == 0)
		return 30000;
	if (strncmp(hash, "$7$", 3) == 0)
		return 180000;
	if (strncmp(hash, "{SHA}", 5) == 0)
		return 1;
	if (strlen(hash) == 13 && strspn(hash, "./0123456789"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") == 13)
		return 6;
	return 0;
}

/*
 * One line of a user file into line (cap bytes, without its newline).
 * A line too long for the buffer is skipped whole.  1 a line, 0 the end.
 */
static int
file_line(FILE *fp, char *line, size_t cap)
{
	size_t n;
	int c;

	for (;;) {
		if (fgets(line, (int)cap, fp) == NULL)
			return 0;
		n = strcspn(line, "\r\n");
		if (line[n] != '\0' || feof(fp)) {
			line[n] = '\0';
			return 1;
		}
		while ((c = getc(fp)) != EOF && c != '\n')
			;
	}
}

/*
 * Look user up in an htpasswd file: the hash of the first `user:` line
 * into out, and the costliest hash of the file (auth_hash_cost) into
 * decoy, both cap bytes.  The whole file is read whether or not the user
 * is found, and wherever the line is, so that the time tells nothing.
 * 1 found, 0 not, -1 unreadable (errno).
 */
int
auth_htpasswd_find(const char *path, const char *user, char *out,
    char *decoy, size_t cap)
{
	char line[1024];
	size_t ul = strlen(user), hl;
	long long cost, best = -1;
	const char *hash;
	FILE *fp;
	int found = 0;

	out[0] = decoy[0] = '\0';
	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	while (file_line(fp, line, sizeof(line))) {
		if ((hash = strchr(line, ':')) == NULL)
			continue;
		hash++;
		if ((hl = strlen(hash)) >= cap)
			continue;
		if ((cost = auth_hash_cost(hash)) > best) {
			best = cost;
			memcpy(decoy, hash, hl + 1);
		}
		if (!found && (size_t)(hash - 1 - line) == ul &&
		    strncmp(line, user, ul) == 0) {
			memcpy(out, hash, hl + 1);
			found = 1;
		}
	}
	OPENSSL_cleanse(line, sizeof(line));
	fclose(fp);
	return found;
}

/*
 * Look user up in realm in an htdigest file (user:realm:HA1): the HA1 of
 * hexlen digits (32 for MD5, 64 for SHA-256) into out (65 bytes).  *kinds
 * gets HD_MD5 and HD_SHA256 for the lengths the user's lines in realm
 * have, so that a caller can tell "no such user" from "no line for this
 * algorithm".  The whole file is read.  1 found, 0 not, -1 unreadable.
 */
#define HD_MD5		1
#define HD_SHA256	2

static int
htdigest_find(const char *path, const char *user, const char *realm,
    size_t hexlen, char *out, int *kinds)
{
	char line[1024], *rest;
	size_t ul = strlen(user), rl = strlen(realm), n;
	FILE *fp;
	int found = 0;

	*kinds = 0;
	out[0] = '\0';
	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	while (file_line(fp, line, sizeof(line))) {
		if (strncmp(line, user, ul) != 0 || line[ul] != ':')
			continue;
		rest = line + ul + 1;
		if (strncmp(rest, realm, rl) != 0 || rest[rl] != ':')
			continue;
		rest += rl + 1;
		n = strlen(rest);
		if (n != 32 && n != 64)
			continue;
		*kinds |= n == 32 ? HD_MD5 : HD_SHA256;
		if (!found && n == hexlen) {
			memcpy(out, rest, n + 1);
			found = 1;
		}
	}
	OPENSSL_cleanse(line, sizeof(line));
	fclose(fp);
	return found;
}

/* ---- shared by both schemes --------------------------------------------- */

static int
auth_args_check(const struct ih_args *a, char *err, size_t len, int digest)
{
	const char *realm = ih_arg(a, "realm"), *uf = ih_arg(a, "userfile"),
	    *lk = ih_arg(a, "lookup"), *k, *v;
	size_t i;

	if (realm == NULL || *realm == '\0' || strpbrk(realm, "\"\\\r\n")) {
		snprintf(err, len, "needs realm=NAME (no quotes or backslashes)");
		return -1;
	}
	if ((uf == NULL) == (lk == NULL)) {
		snprintf(err, len, "needs userfile=FILE or lookup=NAME");
		return -1;
	}
	if (lk != NULL && auth_find_lookup(lk) == NULL) {
		snprintf(err, len, "unknown lookup '%s'", lk);
		return -1;
	}
	for (i = 0; (v = ih_arg_at(a, i, &k)) != NULL; i++) {
		if (strcmp(k, "realm") == 0 || strcmp(k, "userfile") == 0 ||
		    strcmp(k, "lookup") == 0)
			continue;
		if (digest && strcmp(k, "algorithm") == 0) {
			char copy[128], *w, *save;

			snprintf(copy, sizeof(copy), "%s", v);
			for (w = strtok_r(copy, " ,", &save); w != NULL;
			    w = strtok_r(NULL, " ,", &save))
				if (strcasecmp(w, "SHA-256") != 0 &&
				    strcasecmp(w, "SHA-256-sess") != 0 &&
				    strcasecmp(w, "MD5") != 0 &&
				    strcasecmp(w, "MD5-sess") != 0) {
					snprintf(err, len, "algorithm '%s': "
					    "SHA-256, SHA-256-sess, MD5 or "
					    "MD5-sess", w);
					return -1;
				}
			continue;
		}
		if (digest && strcmp(k, "qop") == 0) {
			if (strcmp(v, "auth") != 0) {
				snprintf(err, len, "qop: only auth is supported");
				return -1;
			}
			continue;
		}
		snprintf(err, len, "unknown argument '%s'", k);
		return -1;
	}
	return 0;
}

/* Authorization is a single field (RFC 9110 11.6.2): two are refused. */
static int
one_authorization(struct ih_request *r, const char **h)
{
	const char *name, *v;
	size_t i;
	int n = 0;

	*h = NULL;
	for (i = 0; (v = ih_header_at(r, i, &name)) != NULL; i++)
		if (strcasecmp(name, "Authorization") == 0) {
			*h = v;
			n++;
		}
	/* credentials the server read stay its own (never a CGI's) */
	if (n > 0)
		r->creds_seen = 1;
	return n <= 1;
}

static int
granted(struct ih_request *r, const char *user, const char *type)
{
	r->remote_user = arena_strdup(r->a, user);
	r->auth_type = type;
	ih_debug(IH_DBG_AUTH, "%s: %s user %s granted", conn_who(r->c), type,
	    user);
	return IH_PROCEED;
}

/* ---- Basic ---------------------------------------------------------------- */

static int
basic_challenge(struct ih_request *r, const char *realm, const char *why)
{
	char *v = arena_printf(r->a, "Basic realm=\"%s\", charset=\"UTF-8\"",
	    realm);

	if (v != NULL)
		resp_add_header_raw(r, "WWW-Authenticate", v);
	return ih_error(r, 401, why);
}

/*
 * Check a user's password: 200 allowed, 401 unknown user or wrong
 * password, 403 known, right password, but forbidden; 500 when the
 * userfile cannot be read.
 */
static int
check_password(struct ih_request *r, const struct ih_args *a,
    const char *user, const char *pw)
{
	const char *uf = ih_arg(a, "userfile"), *lk = ih_arg(a, "lookup");
	char stored[MAX_PW], decoy[MAX_PW];
	int verdict, rc;

	if (uf != NULL) {
		rc = auth_htpasswd_find(uf, user, stored, decoy, sizeof(stored));
		if (rc == -1) {
			ih_log(IH_LOG_ERR, "userfile %s: %s", uf,
			    strerror(errno));
			return 500;
		}
		/*
		 * Every check costs the dearest hash of the file: an unknown
		 * user pays it on the decoy, and so does a known user whose
		 * own hash is cheaper (in a file mixing schemes an apr1 user
		 * would otherwise answer in 1 ms where others take 60).
		 */
		if (rc == 1) {
			verdict = auth_htpasswd_match(pw, stored) ? 200 : 401;
			if (auth_hash_cost(stored) < auth_hash_cost(decoy))
				(void)auth_htpasswd_match(pw, decoy);
		} else {
			(void)auth_htpasswd_match(pw, decoy);
			verdict = 401;
		}
		OPENSSL_cleanse(stored, sizeof(stored));
		OPENSSL_cleanse(decoy, sizeof(decoy));
		return verdict;
	}
	/* The lookup contract; hashes make the compare length-blind. */
	return ih_check_password(r, lk, user, pw);
}

int
ih_check_password(struct ih_request *r, const char *lookup, const char *user,
    const char *password)
{
	const struct ih_lookup *l = auth_find_lookup(lookup);
	char stored[MAX_PW], h1[65], h2[65];
	int verdict;

	if (l == NULL)
		return 500;
	memset(stored, 0, sizeof(stored));
	verdict = l->fn(r->path, user, stored, sizeof(stored));
	if (verdict != 200 && verdict != 403)
		verdict = 401;
	hash_hex(H_SHA256, stored, strlen(stored), h1);
	hash_hex(H_SHA256, password, strlen(password), h2);
	if (verdict != 401 && CRYPTO_memcmp(h1, h2, 64) != 0)
		verdict = 401;
	OPENSSL_cleanse(stored, sizeof(stored));
	return verdict;
}

static int
basic_check(const struct ih_args *a, char *err, size_t len)
{
	return auth_args_check(a, err, len, 0);
}

/* AuthTrans auth-basic realm=R (userfile=FILE | lookup=NAME). */
static int
auth_basic(struct ih_request *r, const struct ih_args *a)
{
	const char *realm = ih_arg(a, "realm"), *h;
	unsigned char cred[MAX_CRED + 1];
	char *colon;
	ssize_t n;
	int verdict;

	if (!one_authorization(r, &h))
		return ih_error(r, 400, "more than one Authorization field");
	if (h == NULL)
		return basic_challenge(r, realm, "no credentials");
	if (strncasecmp(h, "Basic", 5) != 0 || (h[5] != ' ' && h[5] != '\t'))
		return basic_challenge(r, realm, "not Basic credentials");
	h += 5;
	h += strspn(h, " \t");
	n = auth_b64_decode(h, strlen(h), cred, MAX_CRED);
	if (n < 0)
		return ih_error(r, 400, "malformed Basic credentials");
	cred[n] = '\0';
	if (memchr(cred, '\0', (size_t)n) != NULL ||
	    (colon = strchr((char *)cred, ':')) == NULL) {
		OPENSSL_cleanse(cred, sizeof(cred));
		return ih_error(r, 400, "malformed Basic credentials");
	}
	*colon = '\0';	/* RFC 7617 2: the user-id ends at the first ':' */
	verdict = check_password(r, a, (char *)cred, colon + 1);
	OPENSSL_cleanse(colon + 1, strlen(colon + 1));
	if (verdict == 200) {
		verdict = granted(r, (char *)cred, "Basic");
		OPENSSL_cleanse(cred, sizeof(cred));
		return verdict;
	}
	OPENSSL_cleanse(cred, sizeof(cred));
	if (verdict == 403)
		return ih_error(r, 403, "user forbidden");
	if (verdict == 500)
		return ih_error(r, 500, "userfile unreadable");
	return basic_challenge(r, realm, "wrong user or password");
}
IH_FUNCTION("auth-basic", IH_PH(IH_AUTHTRANS), auth_basic, basic_check);

/* ---- Digest: secret, nonces, nonce counts ------------------------------ */

static unsigned char secret[32];
static int have_secret;
static char secret_path[PATH_MAX];	/* for the caller's message */
static struct ih_request *secret_req;	/* whom a Redis failure marks */

/* An earlier version's datadir/digest.secret: adopted, so that its
 * nonces still verify (and, being in seconds, are merely stale). */
static int
legacy_secret(unsigned char *out)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/digest.secret",
	    cfg.datadir) >= sizeof(path) ||
	    (fd = store_open(path, O_RDONLY, 0)) == -1)
		return -1;
	n = read(fd, out, 32);
	close(fd);
	return n == 32 ? 0 : -1;
}

/*
 * The server secret, shared by every process: datadir/secret/
 * digest.secret, 32 random bytes, created 0600 on first use.  A race
 * between two first processes is settled by link(2): the loser reads the
 * winner's file.  0, or -1 with errno and secret_path naming the file
 * (the caller reports it: store_failed).
 */
static int
load_secret(void)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	ssize_t n;
	int fd, tries, e;

	if (have_secret)
		return 0;
	if (cfg.nonce_store == STORE_REDIS) {
		/* Every node's: made by the first that asks (redis.c). */
		snprintf(secret_path, sizeof(secret_path), "redis %s%s",
		    cfg.redis_prefix, "digest-secret");
		if (redis_secret(secret_req, secret, sizeof(secret)) == -1)
			return -1;
		have_secret = 1;
		return 0;
	}
	if (store_dir("secret", dir, sizeof(dir)) == -1) {
		snprintf(secret_path, sizeof(secret_path), "%s/secret",
		    cfg.datadir);
		return -1;
	}
	if ((size_t)snprintf(secret_path, sizeof(secret_path),
	    "%s/digest.secret", dir) >= sizeof(secret_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (tries = 0; tries < 2; tries++) {
		if ((fd = store_open(secret_path, O_RDONLY, 0)) != -1) {
			n = read(fd, secret, sizeof(secret));
			e = errno;
			close(fd);
			if (n != (ssize_t)sizeof(secret)) {
				errno = n == -1 ? e : EIO;	/* short */
				return -1;
			}
			have_secret = 1;
			return 0;
		}
		if (errno != ENOENT)
			return -1;
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX",
		    secret_path) >= sizeof(tmp)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
			return -1;
		if ((legacy_secret(secret) == -1 && getrandom(secret,
		    sizeof(secret), 0) != (ssize_t)sizeof(secret)) ||
		    write_full(fd, secret, sizeof(secret)) == -1 ||
		    fsync(fd) == -1 || link(tmp, secret_path) == -1) {
			e = errno;
			close(fd);
			unlink(tmp);
			OPENSSL_cleanse(secret, sizeof(secret));
			errno = e;
			if (e == EEXIST)
				continue;	/* another process won: read it */
			return -1;
		}
		close(fd);
		unlink(tmp);
		have_secret = 1;
		return 0;
	}
	return -1;
}

/*
 * Standalone start-up: a config with Digest has its secret read (or
 * made) before the first fork, so that every worker holds it and a
 * chroot cannot hide it.  0, or -1 (logged).
 */
int
auth_preload(void)
{
	size_t i, j;

	for (i = 0; i < cfg.nobjs; i++)
		for (j = 0; j < cfg.objs[i].ndirs; j++)
			if (strcmp(cfg.objs[i].dirs[j].fn->name,
			    "auth-digest") == 0) {
				if (load_secret() == 0) {
					/* No worker may share this stream. */
					redis_close();
					return 0;
				}
				ih_log(IH_LOG_ERR, "Digest secret %s: %s",
				    secret_path, strerror(errno));
				return -1;
			}
	return 0;
}

/* HMAC-SHA256(secret, text), base64url without padding (43 chars). */
static void
mac_b64(const char *text, char *out)
{
	unsigned char m[32];

	hmac_sha256(secret, sizeof(secret), text, strlen(text), m);
	b64_encode(m, 32, out, 1);
}

/*
 * nonce = 16 hex digits of time (milliseconds since the epoch), 16 of
 * randomness (so that no two challenges share a nonce, and nc counts
 * stay per client), "-", and an HMAC over both and the realm.  A nonce
 * is 76 characters.
 */
static void
make_nonce_with(const char *realm, unsigned long long t,
    unsigned long long rnd, char *out, size_t cap)
{
	char text[600], mac[48];

	snprintf(text, sizeof(text), "%016llx%016llx:%s", t, rnd, realm);
	mac_b64(text, mac);
	snprintf(out, cap, "%016llx%016llx-%s", t, rnd, mac);
}

static void
make_nonce(const char *realm, int64_t t_ms, char *out, size_t cap)
{
	unsigned long long rnd = 0;

	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		rnd = (unsigned long long)mono_ms() ^ (unsigned long long)getpid();
	make_nonce_with(realm, (unsigned long long)t_ms, rnd, out, cap);
}

static int
hex16(const char *s, unsigned long long *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < 16; i++) {
		int x = hexval((unsigned char)s[i]);
		if (x < 0)
			return -1;
		*v = *v << 4 | (unsigned)x;
	}
	return 0;
}

/*
 * Verify a nonce: 1 genuine (*t_ms set to its time, milliseconds), 0
 * forged or malformed.
 */
int
auth_nonce_verify(const char *realm, const char *nonce, int64_t *t_ms)
{
	char want[128];
	unsigned long long ts, rnd;

	if (load_secret() == -1 || strlen(nonce) != NONCE_LEN ||
	    nonce[32] != '-' ||
	    hex16(nonce, &ts) == -1 || hex16(nonce + 16, &rnd) == -1 ||
	    ts > INT64_MAX)
		return 0;
	make_nonce_with(realm, ts, rnd, want, sizeof(want));
	if (!secure_streq(want, nonce))
		return 0;
	*t_ms = (int64_t)ts;
	return 1;
}

/*
 * Replay protection across processes, through the nonce table
 * (nonce.c), keyed by an HMAC of the nonce so that the bucket a nonce
 * lands in cannot be chosen.  NONCE_FRESH when nc is higher than any
 * seen for this nonce (and now recorded), NONCE_REPLAY when not,
 * NONCE_STALE when the table may have forgotten the nonce, NONCE_ERROR
 * (errno) when the table failed or the nonce is malformed (EINVAL).
 */
int
auth_nc_check(const char *nonce, unsigned long nc)
{
	unsigned char key[32];
	unsigned long long ts;
	char text[8 + NONCE_LEN];
	int rc;

	if (strlen(nonce) != NONCE_LEN || hex16(nonce, &ts) == -1 ||
	    ts > INT64_MAX || nc > 0xffffffffUL) {
		errno = EINVAL;
		return NONCE_ERROR;
	}
	if (load_secret() == -1)
		return NONCE_ERROR;
	snprintf(text, sizeof(text), "nc:%s", nonce);
	hmac_sha256(secret, sizeof(secret), text, strlen(text), key);
	rc = cfg.nonce_store == STORE_REDIS ? redis_nonce_count(secret_req,
	    key, (int64_t)ts, (uint32_t)nc) : nonce_count(key, (int64_t)ts,
	    (uint32_t)nc, now_real_ms());
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

/* ---- Digest: the header ------------------------------------------------ */

/*
 * Parse `Digest` auth-params (RFC 7616 3.4, RFC 9110 11.2): name=token or
 * name="quoted", comma-separated.  A duplicate of a known parameter, an
 * unterminated quote or a missing '=' is malformed (-1).
 */
int
auth_digest_parse(struct arena *a, const char *s, struct dparams *p)
{
	static const char *const names[] = { "username", "realm", "nonce",
	    "uri", "response", "algorithm", "cnonce", "opaque", "qop", "nc",
	    "userhash" };
	char **slots[] = { &p->username, &p->realm, &p->nonce, &p->uri,
	    &p->response, &p->algorithm, &p->cnonce, &p->opaque, &p->qop,
	    &p->nc, &p->userhash };
	size_t i;

	memset(p, 0, sizeof(*p));
	for (;;) {
		const char *name;
		size_t nl;
		char *val, *o;

		s += strspn(s, " \t,");
		if (*s == '\0')
			return 0;
		name = s;
		while (is_tchar((unsigned char)*s))
			s++;
		nl = (size_t)(s - name);
		s += strspn(s, " \t");
		if (nl == 0 || *s != '=')
			return -1;
		s++;
		s += strspn(s, " \t");
		{
			/* Room for this value only (not the whole rest). */
			const char *e = s;

			if (*e == '"') {
				for (e++; *e != '\0' && *e != '"'; e++)
					if (*e == '\\' && e[1] != '\0')
						e++;
			} else {
				while (is_tchar((unsigned char)*e))
					e++;
			}
			if ((val = o = arena_alloc(a, (size_t)(e - s) + 1)) ==
			    NULL)
				return -1;
		}
		if (*s == '"') {
			for (s++; *s != '"'; s++) {
				if (*s == '\0')
					return -1;
				if (*s == '\\' && s[1] != '\0')
					s++;
				*o++ = *s;
			}
			s++;
		} else {
			while (is_tchar((unsigned char)*s))
				*o++ = *s++;
			if (o == val)
				return -1;
		}
		*o = '\0';
		s += strspn(s, " \t");
		if (*s != ',' && *s != '\0')
			return -1;
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i]) == nl &&
			    strncasecmp(name, names[i], nl) == 0) {
				if (*slots[i] != NULL)
					return -1;	/* duplicate */
				*slots[i] = val;
			}
	}
}

static void
digest_opaque(const char *realm, char *out)
{
	char text[600];

	snprintf(text, sizeof(text), "opaque:%s", realm);
	mac_b64(text, out);
	out[22] = '\0';
}

/*
 * Offered when algorithm= is not given: MD5 first, because htdigest
 * writes MD5 lines only and Python's urllib reads only the first
 * challenge (RFC 7616 3.7: the client takes the first it supports, so the
 * order is the server's preference); SHA-256 for the clients that skip
 * what they do not support.
 */
#define DIGEST_ALGS	"MD5 SHA-256"

/*
 * One WWW-Authenticate per offered algorithm, in order, sharing a fresh
 * nonce.  The nonce table is made ready first, so that this nonce is
 * newer than its floor.
 */
static int
digest_challenge(struct ih_request *r, const struct ih_args *a, int stale,
    const char *why)
{
	const char *realm = ih_arg(a, "realm"), *algs = ih_arg(a, "algorithm");
	char nonce[96], opaque[48], copy[128], *w, *save;

	secret_req = r;
	if (load_secret() == -1) {
		store_failed(r, secret_path);
		return ih_error(r, 500, "no Digest secret");
	}
	if (cfg.nonce_store == STORE_REDIS ? redis_nonce_ready(r) == -1 :
	    nonce_table_ready() == -1) {
		store_failed(r, "Digest nonce table");
		return ih_error(r, 500, "no Digest nonce table");
	}
	make_nonce(realm, now_real_ms(), nonce, sizeof(nonce));
	digest_opaque(realm, opaque);
	snprintf(copy, sizeof(copy), "%s", algs != NULL ? algs : DIGEST_ALGS);
	for (w = strtok_r(copy, " ,", &save); w != NULL;
	    w = strtok_r(NULL, " ,", &save)) {
		char *v = arena_printf(r->a, "Digest realm=\"%s\", qop=\"auth\", "
		    "algorithm=%s, nonce=\"%s\", opaque=\"%s\"%s", realm, w,
		    nonce, opaque, stale ? ", stale=true" : "");

		if (v != NULL)
			resp_add_header_raw(r, "WWW-Authenticate", v);
	}
	return ih_error(r, 401, why);
}

static int
alg_offered(const struct ih_args *a, const char *alg)
{
	const char *algs = ih_arg(a, "algorithm");
	char copy[128], *w, *save;

	snprintf(copy, sizeof(copy), "%s", algs != NULL ? algs : DIGEST_ALGS);
	for (w = strtok_r(copy, " ,", &save); w != NULL;
	    w = strtok_r(NULL, " ,", &save))
		if (strcasecmp(w, alg) == 0)
			return 1;
	return 0;
}

static int
digest_check(const struct ih_args *a, char *err, size_t len)
{
	return auth_args_check(a, err, len, 1);
}

/*
 * The expected response (RFC 7616 3.4.1) from HA1 in hex.  out needs 65
 * bytes.  -1 when a piece is too long.
 */
int
auth_digest_response(const char *alg, const char *ha1hex,
    const char *nonce, const char *nc, const char *cnonce, const char *qop,
    const char *method, const char *uri, char *out)
{
	int md = md_of(alg);
	char buf[2048], ha1[65], ha2[65];
	int n;

	if (md == H_NONE)
		return -1;
	snprintf(ha1, sizeof(ha1), "%s", ha1hex);
	if (strcasestr(alg, "-sess") != NULL) {
		n = snprintf(buf, sizeof(buf), "%s:%s:%s", ha1hex, nonce,
		    cnonce != NULL ? cnonce : "");
		if (n < 0 || (size_t)n >= sizeof(buf))
			return -1;
		hash_hex(md, buf, (size_t)n, ha1);
	}
	n = snprintf(buf, sizeof(buf), "%s:%s", method, uri);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	hash_hex(md, buf, (size_t)n, ha2);
	if (qop != NULL)
		n = snprintf(buf, sizeof(buf), "%s:%s:%s:%s:%s:%s", ha1, nonce,
		    nc, cnonce, qop, ha2);
	else
		n = snprintf(buf, sizeof(buf), "%s:%s:%s", ha1, nonce, ha2);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	hash_hex(md, buf, (size_t)n, out);
	OPENSSL_cleanse(buf, sizeof(buf));
	OPENSSL_cleanse(ha1, sizeof(ha1));
	return 0;
}

/*
 * AuthTrans auth-digest realm=R [algorithm="MD5 SHA-256"] [qop=auth]
 * (userfile=FILE | lookup=NAME).
 */
static int
auth_digest(struct ih_request *r, const struct ih_args *a)
{
	const char *realm = ih_arg(a, "realm"), *uf = ih_arg(a, "userfile"),
	    *lk = ih_arg(a, "lookup"), *h;
	const char *alg, *why = NULL, *ncdone;
	struct dparams p;
	char ha1[65], want[65], got[65], pw[MAX_PW], opaque[48];
	unsigned long nc = 0;
	int64_t t;
	int verdict = 200, rc, md, kinds, known = 1, match;
	size_t i, hexlen;

	if (!one_authorization(r, &h))
		return ih_error(r, 400, "more than one Authorization field");
	if (h == NULL)
		return digest_challenge(r, a, 0, "no credentials");
	if (strncasecmp(h, "Digest", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
		return digest_challenge(r, a, 0, "not Digest credentials");
	if (auth_digest_parse(r->a, h + 7, &p) == -1)
		return ih_error(r, 400, "malformed Digest credentials");
	if (p.username == NULL || p.realm == NULL || p.nonce == NULL ||
	    p.uri == NULL || p.response == NULL)
		return ih_error(r, 400, "Digest credentials lack a field");
	if (p.userhash != NULL && strcasecmp(p.userhash, "false") != 0)
		return digest_challenge(r, a, 0, "userhash is not supported");
	alg = p.algorithm != NULL ? p.algorithm : "MD5";
	if (!alg_offered(a, alg))
		return digest_challenge(r, a, 0, "algorithm not offered");
	if (strcmp(p.realm, realm) != 0)
		return digest_challenge(r, a, 0, "wrong realm");
	if (strcmp(p.uri, r->target_raw) != 0)
		return ih_error(r, 400, "digest-uri differs from the target");
	if (p.qop == NULL) {
		if (!cfg.digest_legacy)
			return digest_challenge(r, a, 0,
			    "RFC 2069 Digest (no qop) refused");
	} else {
		if (strcmp(p.qop, "auth") != 0)
			return digest_challenge(r, a, 0, "qop not offered");
		if (p.nc == NULL || p.cnonce == NULL || strlen(p.nc) != 8 ||
		    strspn(p.nc, "0123456789abcdefABCDEF") != 8)
			return ih_error(r, 400, "bad nc or cnonce");
		nc = strtoul(p.nc, NULL, 16);
		if (nc == 0)
			return ih_error(r, 400, "nc starts at 1");
	}
	secret_req = r;
	if (load_secret() == -1) {
		store_failed(r, secret_path);
		return ih_error(r, 500, "no Digest secret");
	}
	digest_opaque(realm, opaque);
	if (p.opaque != NULL && strcmp(p.opaque, opaque) != 0)
		return digest_challenge(r, a, 0, "wrong opaque");
	if (!auth_nonce_verify(realm, p.nonce, &t) ||
	    t > now_real_ms() + 60 * 1000)
		return digest_challenge(r, a, 0, "forged nonce");

	/*
	 * HA1, from the file or from the lookup's password.  An unknown user
	 * goes through the same hashing with a dummy HA1, so that the time
	 * does not tell users apart.
	 */
	md = md_of(alg);
	hexlen = md == H_SHA256 ? 64 : 32;
	if (uf != NULL) {
		rc = htdigest_find(uf, p.username, realm, hexlen, ha1, &kinds);
		if (rc == -1) {
			ih_log(IH_LOG_ERR, "userfile %s: %s", uf,
			    strerror(errno));
			return ih_error(r, 500, "userfile unreadable");
		}
		if (rc == 0) {
			known = 0;
			if (kinds != 0)
				why = arena_printf(r->a, "user %s has no %s "
				    "line for realm %s in %s%s", p.username,
				    md == H_SHA256 ? "SHA-256" : "MD5", realm,
				    uf, kinds == HD_MD5 ?
				    " (htdigest writes MD5 only)" : "");
		}
		for (i = 0; ha1[i] != '\0'; i++)
			ha1[i] = (char)tolower((unsigned char)ha1[i]);
	} else {
		char text[1024];
		int n;

		memset(pw, 0, sizeof(pw));
		verdict = auth_find_lookup(lk)->fn(r->path, p.username, pw,
		    sizeof(pw));
		if (verdict != 200 && verdict != 403)
			known = 0;
		n = snprintf(text, sizeof(text), "%s:%s:%s", p.username, realm,
		    pw);
		OPENSSL_cleanse(pw, sizeof(pw));
		if (n < 0 || (size_t)n >= sizeof(text))
			return ih_error(r, 400, "Digest fields too long");
		hash_hex(md, text, (size_t)n, ha1);
		OPENSSL_cleanse(text, sizeof(text));
	}
	if (!known) {
		memset(ha1, '0', hexlen);
		ha1[hexlen] = '\0';
	}
	/* the method the client signed, also after a CGI local redirect */
	if (auth_digest_response(alg, ha1, p.nonce, p.nc, p.cnonce, p.qop,
	    r->orig_method != NULL ? r->orig_method : r->hd.method, p.uri,
	    want) == -1) {
		OPENSSL_cleanse(ha1, sizeof(ha1));
		return ih_error(r, 400, "Digest fields too long");
	}
	OPENSSL_cleanse(ha1, sizeof(ha1));
	snprintf(got, sizeof(got), "%s", p.response);
	for (i = 0; got[i] != '\0'; i++)
		got[i] = (char)tolower((unsigned char)got[i]);
	match = strlen(p.response) == strlen(want) && secure_streq(want, got);
	if (!known)
		return digest_challenge(r, a, 0, why != NULL ? why :
		    "unknown user");
	if (!match)
		return digest_challenge(r, a, 0, "wrong password");
	/* The credentials were right: now the nonce's age and its nc. */
	if (t + cfg.nonce_ttl * 1000 < now_real_ms())
		return digest_challenge(r, a, 1, "stale nonce");
	/*
	 * stale=true for a replayed or forgotten count: a client whose
	 * parallel requests sent counts out of order retries with a fresh
	 * nonce without asking its user again; a replayer gains nothing,
	 * lacking the password.
	 */
	/*
	 * A CGI local redirect runs AuthTrans again for the same header: the
	 * count this request already spent is not a replay.
	 */
	ncdone = p.qop != NULL ? arena_printf(r->a, "%s %s", p.nonce, p.nc) :
	    NULL;
	if (p.qop != NULL && (ncdone == NULL || r->nc_done == NULL ||
	    strcmp(ncdone, r->nc_done) != 0))
		switch (auth_nc_check(p.nonce, nc)) {
		case NONCE_FRESH:
			r->nc_done = ncdone;
			break;
		case NONCE_REPLAY:
			return digest_challenge(r, a, 1, "replayed nonce count");
		case NONCE_STALE:
			return digest_challenge(r, a, 1,
			    "nonce forgotten by the nonce table");
		default:
			store_failed(r, "Digest nonce table");
			return ih_error(r, 500, "nonce count store failed");
		}
	if (verdict == 403)
		return ih_error(r, 403, "user forbidden");
	return granted(r, p.username, "Digest");
}
IH_FUNCTION("auth-digest", IH_PH(IH_AUTHTRANS), auth_digest, digest_check);
