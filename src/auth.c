/*
 * auth.c - HTTP authentication as AuthTrans functions: auth-basic (RFC
 * 7617) against an htpasswd file (bcrypt $2y$, $apr1$, {SHA}, crypt(3)
 * $5$/$6$/$1$) or a lookup, and auth-digest (RFC 7616: SHA-256, MD5 and
 * the -sess variants, qop=auth) against an htdigest-shaped file or a
 * lookup.  Digest nonces are stateless - a timestamp and an HMAC over it
 * and the realm with a secret kept in datadir - so any process verifies
 * any other's nonce, as inetd mode needs; a small flock'd file in datadir
 * keeps the highest nc per live nonce, so a replayed Authorization is
 * refused by every process.  Secrets are compared in constant time and
 * wiped after use; no credential reaches a log.
 *
 * Hashes use OpenSSL's direct MD5/SHA1/SHA256 contexts, not EVP: in
 * OpenSSL 3 the first EVP digest (and even the one-shot SHA256()) fetches
 * from the provider and builds its name maps, about 5 M instructions -
 * 60 times a whole inetd request.  The contexts cost a few thousand.
 * HMAC is RFC 2104 over the SHA-256 context for the same reason.
 */
#define OPENSSL_API_COMPAT 0x10100000L	/* MD5_Init & co., see above */
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
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
	static const char hex[] = "0123456789abcdef";
	unsigned char d[32];
	unsigned int len, i;

	len = digest_raw(md, data, n, d);
	for (i = 0; i < len; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[2 * len] = '\0';
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
 * Find `user:` in a credentials file; copy the rest of the line (for
 * htdigest, the part after `user:`) into out.  With want_hexlen, only a
 * line whose last field has that many characters counts (an htdigest
 * file may hold MD5 and SHA-256 lines for one user).  decoy (cap bytes,
 * may be NULL) receives some user's hash, to spend the same time on an
 * unknown user.  1 found, 0 not, -1 unreadable.
 */
static int
file_entry(const char *path, const char *user, const char *realm,
    size_t want_hexlen, char *out, size_t cap, char *decoy)
{
	char line[1024];
	size_t ul = strlen(user), rl = realm != NULL ? strlen(realm) : 0;
	FILE *fp;
	int found = 0;

	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	while (!found && fgets(line, sizeof(line), fp) != NULL) {
		char *rest;
		size_t n = strcspn(line, "\r\n");

		line[n] = '\0';
		if (decoy != NULL && realm == NULL && (rest = strchr(line,
		    ':')) != NULL && strlen(rest + 1) < cap)
			strcpy(decoy, rest + 1);	/* any user's hash */
		if (strncmp(line, user, ul) != 0 || line[ul] != ':')
			continue;
		rest = line + ul + 1;
		if (realm != NULL) {
			if (strncmp(rest, realm, rl) != 0 || rest[rl] != ':')
				continue;
			rest += rl + 1;
		}
		if (want_hexlen != 0 && strlen(rest) != want_hexlen)
			continue;
		if (strlen(rest) < cap) {
			strcpy(out, rest);
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
one_authorization(const struct ih_request *r, const char **h)
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
		decoy[0] = '\0';
		rc = file_entry(uf, user, NULL, 0, stored, sizeof(stored),
		    decoy);
		if (rc == -1) {
			ih_log(IH_LOG_ERR, "userfile %s: %s", uf,
			    strerror(errno));
			return 500;
		}
		if (rc == 1)
			verdict = auth_htpasswd_match(pw, stored) ? 200 : 401;
		else {
			/* Unknown user: as slow as a known one, then no. */
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

/* ---- Digest: secret, nonces, nc store --------------------------------- */

static unsigned char secret[32];
static int have_secret;

static int
ensure_datadir(void)
{
	if (mkdir(cfg.datadir, 0700) == -1 && errno != EEXIST) {
		ih_log(IH_LOG_ERR, "datadir %s: %s", cfg.datadir,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The server secret, shared by every process: datadir/digest.secret,
 * 32 random bytes, created 0600 on first use.  A race between two first
 * processes is settled by link(2): the loser reads the winner's file.
 */
static int
load_secret(void)
{
	char path[4096], tmp[4096];
	int fd, tries;

	if (have_secret)
		return 0;
	if (ensure_datadir() == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/digest.secret", cfg.datadir);
	for (tries = 0; tries < 2; tries++) {
		if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) != -1) {
			ssize_t n = read(fd, secret, sizeof(secret));

			close(fd);
			if (n != (ssize_t)sizeof(secret)) {
				ih_log(IH_LOG_ERR, "%s: short or unreadable",
				    path);
				return -1;
			}
			have_secret = 1;
			return 0;
		}
		if (errno != ENOENT)
			break;
		snprintf(tmp, sizeof(tmp), "%s/.digest.secret.XXXXXX",
		    cfg.datadir);
		if ((fd = mkstemp(tmp)) == -1)
			break;
		if (getrandom(secret, sizeof(secret), 0) !=
		    (ssize_t)sizeof(secret) || write_full(fd, secret,
		    sizeof(secret)) == -1 || fsync(fd) == -1) {
			close(fd);
			unlink(tmp);
			break;
		}
		close(fd);
		if (link(tmp, path) == 0) {
			unlink(tmp);
			have_secret = 1;
			return 0;
		}
		unlink(tmp);
		if (errno != EEXIST)
			break;
	}
	ih_log(IH_LOG_ERR, "%s: cannot read or create: %s", path,
	    strerror(errno));
	return -1;
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
 * nonce = 16 hex digits of time, 16 of randomness (so that no two
 * challenges share a nonce, and nc counts stay per client), "-", and an
 * HMAC over both and the realm.  A nonce is 76 characters.
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
make_nonce(const char *realm, time_t t, char *out, size_t cap)
{
	unsigned long long rnd = 0;

	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		rnd = (unsigned long long)mono_ms() ^ (unsigned long long)getpid();
	make_nonce_with(realm, (unsigned long long)t, rnd, out, cap);
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
 * Verify a nonce: 1 genuine (*t set to its time), 0 forged or
 * malformed.
 */
int
auth_nonce_verify(const char *realm, const char *nonce, time_t *t)
{
	char want[128];
	unsigned long long ts, rnd;

	if (load_secret() == -1 || strlen(nonce) != NONCE_LEN ||
	    nonce[32] != '-' ||
	    hex16(nonce, &ts) == -1 || hex16(nonce + 16, &rnd) == -1)
		return 0;
	make_nonce_with(realm, ts, rnd, want, sizeof(want));
	if (!secure_streq(want, nonce))
		return 0;
	*t = (time_t)ts;
	return 1;
}

/*
 * Replay protection across processes: datadir/digest.nc holds
 * "NONCE NC" lines under flock.  Returns 1 when nc is higher than any
 * seen for this nonce (and records it), 0 for a replay, -1 on error.
 * Entries of nonces past nonce_ttl are dropped as the file is rewritten.
 */
int
auth_nc_check(const char *nonce, unsigned long nc)
{
	char path[4096], *buf = NULL, *out = NULL, *line, *next;
	struct stat st;
	size_t o = 0, cap;
	int fd, verdict = 1, seen = 0;
	time_t now = now_real();

	if (strlen(nonce) != NONCE_LEN || ensure_datadir() == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/digest.nc", cfg.datadir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600)) == -1)
		return -1;
	if (flock(fd, LOCK_EX) == -1 || fstat(fd, &st) == -1 ||
	    st.st_size > 8 * 1024 * 1024)
		goto err;
	cap = (size_t)st.st_size + 2 * NONCE_LEN + 64;
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL ||
	    (out = malloc(cap)) == NULL)
		goto err;
	if (pread(fd, buf, (size_t)st.st_size, 0) != st.st_size)
		goto err;
	buf[st.st_size] = '\0';
	for (line = buf; *line != '\0'; line = next) {
		char *sp;
		unsigned long long ts = 0;
		unsigned long old;
		size_t i;

		next = strchr(line, '\n');
		next = next != NULL ? next + 1 : line + strlen(line);
		/* Only well-formed "NONCE HEX" lines are kept. */
		if ((sp = strchr(line, ' ')) == NULL || sp > next ||
		    sp - line != NONCE_LEN || strspn(sp + 1,
		    "0123456789abcdef") - 1 >= 16)
			continue;
		for (i = 0; i < 16 && line + i < sp; i++)
			ts = ts << 4 | (unsigned)(hexval(line[i]) & 15);
		if ((long long)ts + cfg.nonce_ttl < (long long)now)
			continue;	/* expired: forget it */
		old = strtoul(sp + 1, NULL, 16);
		if ((size_t)(sp - line) == strlen(nonce) &&
		    strncmp(line, nonce, (size_t)(sp - line)) == 0) {
			seen = 1;
			if (nc <= old)
				verdict = 0;
			else
				old = nc;
		}
		/* A kept line grows by 16 bytes at most (the updated count). */
		o += (size_t)snprintf(out + o, cap - o, "%.*s %lx\n",
		    (int)(sp - line), line, old);
	}
	if (!seen)
		o += (size_t)snprintf(out + o, cap - o, "%s %lx\n", nonce, nc);
	if (pwrite(fd, out, o, 0) != (ssize_t)o || ftruncate(fd,
	    (off_t)o) == -1)
		goto err;
	free(buf);
	free(out);
	close(fd);	/* releases the lock */
	return verdict;
err:
	free(buf);
	free(out);
	close(fd);
	return -1;
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

/* One WWW-Authenticate per offered algorithm, in order. */
static int
digest_challenge(struct ih_request *r, const struct ih_args *a, int stale,
    const char *why)
{
	const char *realm = ih_arg(a, "realm"), *algs = ih_arg(a, "algorithm");
	char nonce[96], opaque[48], copy[128], *w, *save;

	if (load_secret() == -1)
		return ih_error(r, 500, "no Digest secret");
	make_nonce(realm, now_real(), nonce, sizeof(nonce));
	digest_opaque(realm, opaque);
	snprintf(copy, sizeof(copy), "%s", algs != NULL ? algs : "SHA-256");
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

	snprintf(copy, sizeof(copy), "%s", algs != NULL ? algs : "SHA-256");
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
 * AuthTrans auth-digest realm=R [algorithm="SHA-256 MD5"] [qop=auth]
 * (userfile=FILE | lookup=NAME).
 */
static int
auth_digest(struct ih_request *r, const struct ih_args *a)
{
	const char *realm = ih_arg(a, "realm"), *uf = ih_arg(a, "userfile"),
	    *lk = ih_arg(a, "lookup"), *h;
	const char *alg;
	struct dparams p;
	char ha1[65], want[65], got[65], pw[MAX_PW], opaque[48];
	unsigned long nc = 0;
	time_t t;
	int verdict = 200, rc;
	size_t i;

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
	if (load_secret() == -1)
		return ih_error(r, 500, "no Digest secret");
	digest_opaque(realm, opaque);
	if (p.opaque != NULL && strcmp(p.opaque, opaque) != 0)
		return digest_challenge(r, a, 0, "wrong opaque");
	if (!auth_nonce_verify(realm, p.nonce, &t) || t > now_real() + 60)
		return digest_challenge(r, a, 0, "forged nonce");

	/* HA1, from the file or from the lookup's password. */
	if (uf != NULL) {
		rc = file_entry(uf, p.username, realm, strncasecmp(alg,
		    "SHA-256", 7) == 0 ? 64 : 32, ha1, sizeof(ha1), NULL);
		if (rc == -1) {
			ih_log(IH_LOG_ERR, "userfile %s: %s", uf,
			    strerror(errno));
			return ih_error(r, 500, "userfile unreadable");
		}
		if (rc == 0)
			return digest_challenge(r, a, 0, "unknown user");
		for (i = 0; ha1[i] != '\0'; i++)
			ha1[i] = (char)tolower((unsigned char)ha1[i]);
	} else {
		char text[1024];
		int n;

		memset(pw, 0, sizeof(pw));
		verdict = auth_find_lookup(lk)->fn(r->path, p.username, pw,
		    sizeof(pw));
		if (verdict != 200 && verdict != 403) {
			OPENSSL_cleanse(pw, sizeof(pw));
			return digest_challenge(r, a, 0, "unknown user");
		}
		n = snprintf(text, sizeof(text), "%s:%s:%s", p.username, realm,
		    pw);
		OPENSSL_cleanse(pw, sizeof(pw));
		if (n < 0 || (size_t)n >= sizeof(text))
			return ih_error(r, 400, "Digest fields too long");
		hash_hex(md_of(alg), text, (size_t)n, ha1);
		OPENSSL_cleanse(text, sizeof(text));
	}
	if (auth_digest_response(alg, ha1, p.nonce, p.nc, p.cnonce, p.qop,
	    r->hd.method, p.uri, want) == -1) {
		OPENSSL_cleanse(ha1, sizeof(ha1));
		return ih_error(r, 400, "Digest fields too long");
	}
	OPENSSL_cleanse(ha1, sizeof(ha1));
	if (strlen(p.response) != strlen(want))
		return digest_challenge(r, a, 0, "wrong password");
	snprintf(got, sizeof(got), "%s", p.response);
	for (i = 0; got[i] != '\0'; i++)
		got[i] = (char)tolower((unsigned char)got[i]);
	if (!secure_streq(want, got))
		return digest_challenge(r, a, 0, "wrong password");
	/* The credentials were right: now the nonce's age and its nc. */
	if ((long long)t + cfg.nonce_ttl < (long long)now_real())
		return digest_challenge(r, a, 1, "stale nonce");
	if (p.qop != NULL) {
		rc = auth_nc_check(p.nonce, nc);
		if (rc == -1)
			return ih_error(r, 500, "nonce count store failed");
		if (rc == 0)
			/*
			 * stale=true: a client whose parallel requests sent
			 * counts out of order retries with a fresh nonce
			 * without asking its user again; a replayer gains
			 * nothing, lacking the password.
			 */
			return digest_challenge(r, a, 1, "replayed nonce count");
	}
	if (verdict == 403)
		return ih_error(r, 403, "user forbidden");
	return granted(r, p.username, "Digest");
}
IH_FUNCTION("auth-digest", IH_PH(IH_AUTHTRANS), auth_digest, digest_check);
