/*
 * test_auth.c - src/auth.c and src/nonce.c: the Digest response against
 * the RFC 7616 3.9.1 examples (and -sess, computed here with EVP), strict
 * base64 with the RFC 7617 examples, htpasswd formats against hashes made
 * by the real tools (htpasswd, openssl passwd, crypt_gensalt_rn), the
 * decoy an unknown Basic user is checked against (the file's costliest
 * hash), the Digest auth-param parser, nonce verification (forged,
 * truncated, genuine ones minted through the auth-digest function), nc
 * ordering through auth_nc_check, and the nonce table itself (eviction and
 * watermarks, expiry, more nonces than slots, remade on another size, a
 * damaged header or removal, lock timeouts, no room; the last in a child).
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "internal.h"
#include "unit.h"

#define RLM	"http-auth@example.org"
#define URI	"/dir/index.html"
#define NONCE	"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
#define CNONCE	"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"

static char datadir[] = "/tmp/ihttpd-test-auth.XXXXXX";

/* ---- helpers --------------------------------------------------------- */

/* Lower-case hex of md(s); out needs 129 bytes. */
static char *
hexof(const EVP_MD *md, const char *s, char *out)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int len = 0, i;

	EVP_Digest(s, strlen(s), d, &len, md, NULL);
	for (i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
	out[2 * len] = '\0';
	return out;
}

/* The first line a command prints, without its newline; -1 if none. */
static int
run1(const char *cmd, char *out, size_t cap)
{
	FILE *fp = popen(cmd, "r");
	int ok;

	if (fp == NULL)
		return -1;
	ok = fgets(out, (int)cap, fp) != NULL;
	pclose(fp);
	if (!ok)
		return -1;
	out[strcspn(out, "\r\n")] = '\0';
	return 0;
}

/* `htpasswd -nbX user PW`: the hash part; -1 when the tool failed. */
static int
htpasswd_hash(char flag, const char *pw, char *out, size_t cap)
{
	char cmd[256], line[256];

	fmt(cmd, sizeof(cmd), "htpasswd -nb%c user '%s' 2>/dev/null", flag, pw);
	if (run1(cmd, line, sizeof(line)) == -1 ||
	    strncmp(line, "user:", 5) != 0)
		return -1;
	fmt(out, cap, "%s", line + 5);
	return 0;
}

/* base64url without padding, as auth.c writes its nonce MAC. */
static void
b64url(const unsigned char *in, size_t n, char *out)
{
	size_t i, o;

	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	for (i = o = 0; out[i] != '\0'; i++) {
		if (out[i] == '=')
			continue;
		out[o++] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	}
	out[o] = '\0';
}

/* ---- auth_digest_response ------------------------------------------- */

/* RFC 7616 3.4.1, written out here with EVP. */
static void
expect_response(const EVP_MD *md, int sess, const char *ha1in,
    const char *nonce, const char *nc, const char *cnonce, const char *qop,
    const char *method, const char *uri, char *out)
{
	char buf[1024], ha1[129], ha2[129];

	if (sess)
		hexof(md, fmt(buf, sizeof(buf), "%s:%s:%s", ha1in, nonce,
		    cnonce), ha1);
	else
		fmt(ha1, sizeof(ha1), "%s", ha1in);
	hexof(md, fmt(buf, sizeof(buf), "%s:%s", method, uri), ha2);
	if (qop != NULL)
		fmt(buf, sizeof(buf), "%s:%s:%s:%s:%s:%s", ha1, nonce, nc,
		    cnonce, qop, ha2);
	else
		fmt(buf, sizeof(buf), "%s:%s:%s", ha1, nonce, ha2);
	hexof(md, buf, out);
}

static void
test_digest_response(void)
{
	char ha1m[129], ha1s[129], out[65], want[129], big[3000];
	int rc;

	hexof(EVP_md5(), "Mufasa:" RLM ":Circle of Life", ha1m);
	hexof(EVP_sha256(), "Mufasa:" RLM ":Circle of Life", ha1s);

	memset(out, 0, sizeof(out));
	rc = auth_digest_response("MD5", ha1m, NONCE, "00000001", CNONCE,
	    "auth", "GET", URI, out);
	CHECK_INT(rc, 0, "RFC 7616 3.9.1 MD5: computed");
	CHECK_STR(out, "8ca523f5e9506fed4657c9700eebdbec",
	    "RFC 7616 3.9.1 MD5 response");

	memset(out, 0, sizeof(out));
	rc = auth_digest_response("SHA-256", ha1s, NONCE, "00000001", CNONCE,
	    "auth", "GET", URI, out);
	CHECK_INT(rc, 0, "RFC 7616 3.9.1 SHA-256: computed");
	CHECK_STR(out, "753927fa0e85d155564e2e272a28d180"
	    "2ca10daf4496794697cf8db5856cb6c1",
	    "RFC 7616 3.9.1 SHA-256 response");

	rc = auth_digest_response("sha-256", ha1s, NONCE, "00000001", CNONCE,
	    "auth", "GET", URI, out);
	CHECK(rc == 0 && strcmp(out, "753927fa0e85d155564e2e272a28d180"
	    "2ca10daf4496794697cf8db5856cb6c1") == 0,
	    "algorithm name is case-insensitive");

	/* -sess: HA1 = H(H(user:realm:pw):nonce:cnonce). */
	rc = auth_digest_response("MD5-sess", ha1m, NONCE, "00000001",
	    CNONCE, "auth", "GET", URI, out);
	expect_response(EVP_md5(), 1, ha1m, NONCE, "00000001", CNONCE, "auth",
	    "GET", URI, want);
	CHECK_INT(rc, 0, "MD5-sess: computed");
	CHECK_STR(out, want, "MD5-sess response");
	rc = auth_digest_response("SHA-256-sess", ha1s, NONCE, "0000000a",
	    CNONCE, "auth", "POST", "/x?y=1", out);
	expect_response(EVP_sha256(), 1, ha1s, NONCE, "0000000a", CNONCE,
	    "auth", "POST", "/x?y=1", want);
	CHECK_INT(rc, 0, "SHA-256-sess: computed");
	CHECK_STR(out, want, "SHA-256-sess response");
	CHECK(strcmp(out, "753927fa0e85d155564e2e272a28d180"
	    "2ca10daf4496794697cf8db5856cb6c1") != 0, "-sess differs");

	/* RFC 2069 (no qop): H(HA1:nonce:HA2). */
	rc = auth_digest_response("MD5", ha1m, NONCE, NULL, NULL, NULL, "GET",
	    URI, out);
	expect_response(EVP_md5(), 0, ha1m, NONCE, NULL, NULL, NULL, "GET",
	    URI, want);
	CHECK_INT(rc, 0, "no qop: computed");
	CHECK_STR(out, want, "no qop: RFC 2069 response");

	CHECK_INT(auth_digest_response("SHA-512", ha1s, NONCE, "00000001",
	    CNONCE, "auth", "GET", URI, out), -1, "unknown algorithm: -1");
	CHECK_INT(auth_digest_response("", ha1s, NONCE, "00000001",
	    CNONCE, "auth", "GET", URI, out), -1, "empty algorithm: -1");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_INT(auth_digest_response("SHA-256", ha1s, NONCE, "00000001",
	    CNONCE, "auth", "GET", big, out), -1, "uri too long: -1");
	CHECK_INT(auth_digest_response("SHA-256-sess", ha1s, big, "00000001",
	    CNONCE, "auth", "GET", URI, out), -1, "-sess nonce too long: -1");
}

/* ---- auth_b64_decode ------------------------------------------------- */

/* Decode s from a guarded copy (no NUL after it) into a guarded out of
 * exactly cap bytes; the result bytes in got (NUL-terminated). */
static ssize_t
b64(const char *s, size_t n, size_t cap, char *got)
{
	char *in = guarded_copy(s, n), *out = guarded_copy(NULL, cap);
	ssize_t r = auth_b64_decode(in, n, (unsigned char *)out, cap);

	if (r >= 0 && (size_t)r <= cap) {
		memcpy(got, out, (size_t)r);
		got[r] = '\0';
	}
	guarded_free(in, n);
	guarded_free(out, cap);
	return r;
}

#define B64(s, cap, got)	b64(s, sizeof(s) - 1, cap, got)

static void
test_b64(void)
{
	static const struct { const char *in; size_t n; const char *what; }
	    bad[] = {
		{ "", 0, "empty" },
		{ "Q", 1, "length 1" },
		{ "QQ", 2, "length 2 (no padding)" },
		{ "QQ=", 3, "length 3" },
		{ "QUJDR", 5, "length 5" },
		{ "QUJDx", 5, "trailing garbage after a quad" },
		{ "QUJDQQ==x", 9, "trailing garbage after padding" },
		{ "QUJDQQ==QUJD", 12, "padding in the middle" },
		{ "QQ==QQ==", 8, "two padded quads" },
		{ "Q===", 4, "'=' in position 1 of a quad" },
		{ "====", 4, "'=' in position 0" },
		{ "QQ=A", 4, "data after '='" },
		{ "QU*D", 4, "bad char '*'" },
		{ "QU D", 4, "space" },
		{ "QUJ\n", 4, "newline" },
		{ "QU-_", 4, "base64url alphabet" },
		{ "QU\0D", 4, "NUL inside" },
		{ "QUJ\xc3", 4, "8-bit byte" },
	};
	char got[256];
	size_t i;
	ssize_t r;

	r = B64("QWxhZGRpbjpvcGVuIHNlc2FtZQ==", 64, got);
	CHECK_INT(r, 19, "RFC 7617 2: Aladdin decodes to 19 bytes");
	CHECK_STR(r == 19 ? got : NULL, "Aladdin:open sesame",
	    "RFC 7617 2: Aladdin:open sesame");
	r = B64("dGVzdDoxMjPCow==", 64, got);
	CHECK_INT(r, 10, "RFC 7617 2.1: test:123\\u00a3 is 10 bytes");
	CHECK_STR(r == 10 ? got : NULL, "test:123\xc2\xa3",
	    "RFC 7617 2.1: UTF-8 test:123\\u00a3");
	r = B64("QUJD", 3, got);
	CHECK(r == 3 && strcmp(got, "ABC") == 0, "no padding, exact cap 3");
	r = B64("QUI=", 3, got);
	CHECK(r == 2 && strcmp(got, "AB") == 0, "one '='");
	r = B64("QQ==", 3, got);
	CHECK(r == 1 && strcmp(got, "A") == 0, "two '='");
	r = B64("+/+/", 3, got);
	CHECK(r == 3 && (unsigned char)got[0] == 0xfb &&
	    (unsigned char)got[1] == 0xff && (unsigned char)got[2] == 0xbf,
	    "'+' and '/' are the last two digits");
	CHECK_INT(B64("QWxhZGRpbjpvcGVuIHNlc2FtZQ==", 20, got), -1,
	    "cap below n/4*3: -1 (no write)");
	CHECK_INT(B64("QWxhZGRpbjpvcGVuIHNlc2FtZQ==", 21, got), 19,
	    "cap n/4*3 is enough");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(b64(bad[i].in, bad[i].n, 64, got), -1,
		    "b64 rejects: %s", bad[i].what);
	/*
	 * RFC 4648 3.5: non-zero pad bits MAY be rejected.  Not asserted;
	 * shown for the record.
	 */
	r = B64("QR==", 3, got);
	printf("# note: non-canonical \"QR==\" -> %zd (pad bits %s)\n", r,
	    r == 1 ? "ignored" : "rejected");
}

/* ---- htpasswd formats -------------------------------------------------- */

static void
check_hash(const char *what, const char *hash)
{
	CHECK_INT(auth_htpasswd_match("pw", hash), 1, "%s: right password",
	    what);
	CHECK_INT(auth_htpasswd_match("pW", hash), 0, "%s: wrong password",
	    what);
	CHECK_INT(auth_htpasswd_match("", hash), 0, "%s: empty password",
	    what);
	CHECK_INT(auth_htpasswd_match("pw ", hash), 0, "%s: pw + space", what);
}

static void
test_htpasswd(void)
{
	static const struct { char flag; const char *what; } tools[] = {
		{ 'B', "htpasswd -B (bcrypt $2y$)" },
		{ 'm', "htpasswd -m ($apr1$)" },
		{ 's', "htpasswd -s ({SHA})" },
		{ 'd', "htpasswd -d (DES crypt)" },
	};
	static const char *const prefixes[] = { "$5$", "$6$", "$1$" };
	char hash[256], out[64], want[128], setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd;
	const char *c = NULL;
	size_t i;

	for (i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
		if (!CHECK(htpasswd_hash(tools[i].flag, "pw", hash,
		    sizeof(hash)) == 0, "%s: tool ran", tools[i].what))
			continue;
		check_hash(tools[i].what, hash);
	}
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		memset(&cd, 0, sizeof(cd));
		if (!CHECK(crypt_gensalt_rn(prefixes[i], 0, NULL, 0, setting,
		    sizeof(setting)) != NULL && (c = crypt_rn("pw", setting,
		    &cd, sizeof(cd))) != NULL && c[0] != '*',
		    "crypt_rn %s hash made", prefixes[i]))
			continue;
		fmt(hash, sizeof(hash), "%s", c);
		fmt(want, sizeof(want), "crypt %s", prefixes[i]);
		check_hash(want, hash);
	}

	CHECK_INT(auth_htpasswd_match("pw", "pw"), 0, "plaintext entry: 0");
	CHECK_INT(auth_htpasswd_match("secretsecret1", "secretsecret1"), 0,
	    "13-char plaintext entry: 0");
	CHECK_INT(auth_htpasswd_match("pw", ""), 0, "empty hash: 0");
	CHECK_INT(auth_htpasswd_match("", ""), 0, "empty hash, empty pw: 0");
	CHECK_INT(auth_htpasswd_match("pw", "*"), 0, "'*': 0");
	CHECK_INT(auth_htpasswd_match("pw", "!"), 0, "'!' (locked): 0");
	CHECK_INT(auth_htpasswd_match("pw", "$apr1$"), 0, "bare $apr1$: 0");
	CHECK_INT(auth_htpasswd_match("pw", "$apr1$abcdefgh$"), 0,
	    "$apr1$ without a digest: 0");
	CHECK_INT(auth_htpasswd_match("pw", "{SHA}"), 0, "bare {SHA}: 0");
	CHECK_INT(auth_htpasswd_match("pw", "$2y$05$"), 0, "bare bcrypt: 0");
	CHECK_INT(auth_htpasswd_match("pw", "$9$xx$yy"), 0,
	    "unknown $9$ scheme: 0");

	/* auth_apr1 against openssl passwd -apr1, exactly. */
	if (CHECK(run1("openssl passwd -apr1 -salt abcdefgh pw 2>/dev/null",
	    want, sizeof(want)) == 0 && strncmp(want, "$apr1$abcdefgh$", 15)
	    == 0, "openssl passwd -apr1 ran: %s", want)) {
		memset(out, 'X', sizeof(out));
		CHECK_INT(auth_apr1("pw", want, out), 0, "auth_apr1: 0");
		CHECK_STR(out, want, "auth_apr1 = openssl passwd -apr1 (salt "
		    "abcdefgh)");
		memset(out, 'X', sizeof(out));
		CHECK_INT(auth_apr1("pw", "$apr1$abcdefgh", out), 0,
		    "auth_apr1: salt without a trailing '$'");
		CHECK_STR(out, want, "same hash from the salt alone");
		memset(out, 'X', sizeof(out));
		auth_apr1("pw", "$apr1$abcdefghijkl$zzz", out);
		CHECK_STR(out, want, "salt cut at 8 characters");
	}
	if (CHECK(run1("openssl passwd -apr1 -salt xy "
	    "'a much longer password, well past 16 bytes, to loop' "
	    "2>/dev/null", want, sizeof(want)) == 0, "openssl long pw ran")) {
		auth_apr1("a much longer password, well past 16 bytes, to loop",
		    want, out);
		CHECK_STR(out, want, "auth_apr1 long password, 2-char salt");
		CHECK_INT(auth_htpasswd_match("a much longer password, well "
		    "past 16 bytes, to loop", want), 1, "long password matches");
	}
	if (CHECK(run1("openssl passwd -apr1 -salt Q.q/0Zz9 '' 2>/dev/null",
	    want, sizeof(want)) == 0, "openssl empty pw ran")) {
		auth_apr1("", want, out);
		CHECK_STR(out, want, "auth_apr1 empty password");
	}
	CHECK_INT(auth_apr1("pw", "$1$abcdefgh$x", out), -1,
	    "auth_apr1 refuses $1$");
	CHECK_INT(auth_apr1("pw", "", out), -1, "auth_apr1 refuses \"\"");
}

/* ---- the decoy of an unknown user ------------------------------------- */

static void
test_decoy(void)
{
	char bc5[128], bc10[128], apr[128], path[sizeof(datadir) + 32];
	char out[256], decoy[256], big[3000];
	FILE *fp;

	/* Costs in the order the real work takes. */
	CHECK(auth_hash_cost("$2y$10$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz012") >
	    auth_hash_cost("$2y$05$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz012"),
	    "cost: bcrypt 10 > bcrypt 5");
	CHECK(auth_hash_cost("$2b$06$x") > auth_hash_cost("$6$salt$x") &&
	    auth_hash_cost("$6$salt$x") > auth_hash_cost("$2b$04$x"),
	    "cost: bcrypt 6 > SHA-512-crypt (5000 rounds) > bcrypt 4");
	CHECK(auth_hash_cost("$5$rounds=50000$salt$x") >
	    auth_hash_cost("$2y$05$x"), "cost: SHA-256-crypt 50000 rounds > "
	    "bcrypt 5");
	CHECK(auth_hash_cost("$6$salt$x") > auth_hash_cost("$6$rounds=1000$s$x"),
	    "cost: default rounds (5000) > rounds=1000");
	CHECK(auth_hash_cost("$6$rounds=1000$s$x") >
	    auth_hash_cost("$apr1$abcdefgh$x"), "cost: SHA-crypt 1000 > apr1");
	CHECK_INT(auth_hash_cost("$apr1$abcdefgh$x"), auth_hash_cost("$1$ab$x"),
	    "cost: apr1 = MD5-crypt");
	CHECK(auth_hash_cost("$1$ab$x") > auth_hash_cost("abJnggxhB/yWI"),
	    "cost: MD5-crypt > DES");
	CHECK(auth_hash_cost("abJnggxhB/yWI") >
	    auth_hash_cost("{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="),
	    "cost: DES > {SHA}");
	CHECK(auth_hash_cost("{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=") >
	    auth_hash_cost("plain-text"), "cost: {SHA} > plain text (0)");
	CHECK_INT(auth_hash_cost("$2y$99$x"), 0, "cost: bcrypt 99 is no hash");
	CHECK_INT(auth_hash_cost(""), 0, "cost: empty: 0");

	if (!CHECK(htpasswd_hash('B', "bob-pw", bc5, sizeof(bc5)) == 0 &&
	    htpasswd_hash('m', "mary-pw", apr, sizeof(apr)) == 0,
	    "htpasswd -B and -m ran"))
		return;
	{
		char cmd[256], line[256];

		fmt(cmd, sizeof(cmd), "htpasswd -nbB -C 10 user pw 2>/dev/null");
		if (!CHECK(run1(cmd, line, sizeof(line)) == 0,
		    "htpasswd -B -C 10 ran"))
			return;
		fmt(bc10, sizeof(bc10), "%s", line + 5);
	}
	fmt(path, sizeof(path), "%s/htpasswd", datadir);

	/* The review's case: bcrypt first, apr1 last. */
	fp = fopen(path, "w");
	fprintf(fp, "bob:%s\nsam:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n"
	    "des:abJnggxhB/yWI\nmary:%s\n", bc5, apr);
	fclose(fp);
	CHECK_INT(auth_htpasswd_find(path, "nobody", out, decoy, sizeof(out)),
	    0, "unknown user: 0");
	CHECK_STR(decoy, bc5, "unknown user's decoy: the bcrypt hash (first "
	    "line), not the apr1 last line");
	CHECK_INT(auth_htpasswd_find(path, "mary", out, decoy, sizeof(out)), 1,
	    "last user found");
	CHECK_STR(out, apr, "...her apr1 hash");
	CHECK_INT(auth_htpasswd_find(path, "bob", out, decoy, sizeof(out)), 1,
	    "first user found");
	CHECK_STR(out, bc5, "...his bcrypt hash");
	CHECK_INT(auth_htpasswd_find(path, "bo", out, decoy, sizeof(out)), 0,
	    "a prefix of a user is no user");

	/* A costlier hash after the found user: the scan went on. */
	fp = fopen(path, "a");
	fprintf(fp, "ten:%s\n", bc10);
	fclose(fp);
	CHECK_INT(auth_htpasswd_find(path, "bob", out, decoy, sizeof(out)), 1,
	    "bob found again");
	CHECK_STR(decoy, bc10, "decoy: the cost-10 line after bob's (the "
	    "whole file is read)");
	CHECK_INT(auth_htpasswd_find(path, "nobody", out, decoy, sizeof(out)),
	    0, "unknown user");
	CHECK_STR(decoy, bc10, "...checked against bcrypt cost 10");

	/*
	 * An overlong line is skipped whole: its tail past the 1023 bytes a
	 * read takes is no line of its own.
	 */
	memset(big, 'a', 1021);
	big[1021] = '\0';
	fp = fopen(path, "w");
	fprintf(fp, "x:%sevil:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\nmary:%s\n",
	    big, apr);
	fclose(fp);
	CHECK_INT(auth_htpasswd_find(path, "evil", out, decoy, sizeof(out)), 0,
	    "the tail of an overlong line is no line");
	CHECK_INT(auth_htpasswd_find(path, "mary", out, decoy, sizeof(out)), 1,
	    "the line after an overlong one is read");
	CHECK_STR(decoy, apr, "decoy from the well-formed line");

	fp = fopen(path, "w");
	fclose(fp);
	CHECK_INT(auth_htpasswd_find(path, "bob", out, decoy, sizeof(out)), 0,
	    "empty file: 0");
	CHECK_STR(decoy, "", "empty file: no decoy");
	unlink(path);
	CHECK_INT(auth_htpasswd_find(path, "bob", out, decoy, sizeof(out)), -1,
	    "missing file: -1");
}

/* ---- auth_digest_parse ------------------------------------------------- */

static struct arena A;
static struct dparams D;

/* Parse s from a guarded copy (its NUL the last byte before the guard). */
static int
dparse(const char *s)
{
	size_t n = strlen(s) + 1;
	char *g = guarded_copy(s, n);
	int rc;

	rc = auth_digest_parse(&A, g, &D);
	guarded_free(g, n);
	return rc;
}

static void
test_digest_parse(void)
{
	int rc;

	rc = dparse("username=\"Mufasa\", realm=\"" RLM "\", uri=\"" URI "\", "
	    "algorithm=SHA-256, nonce=\"" NONCE "\", nc=00000001, cnonce=\""
	    CNONCE "\", qop=auth, response=\"753927fa0e85d155564e2e272a28d18"
	    "02ca10daf4496794697cf8db5856cb6c1\", opaque=\"FQhe/qaU925kfnzjC"
	    "ev0ciVhQ9vC3pz+f8j0/5NeiK+Q=\", userhash=false");
	CHECK_INT(rc, 0, "RFC 7616 3.9.1 header parses");
	CHECK_STR(D.username, "Mufasa", "username");
	CHECK_STR(D.realm, RLM, "realm");
	CHECK_STR(D.uri, URI, "uri");
	CHECK_STR(D.algorithm, "SHA-256", "algorithm (token)");
	CHECK_STR(D.nonce, NONCE, "nonce");
	CHECK_STR(D.nc, "00000001", "nc (token)");
	CHECK_STR(D.cnonce, CNONCE, "cnonce");
	CHECK_STR(D.qop, "auth", "qop (token)");
	CHECK_STR(D.response, "753927fa0e85d155564e2e272a28d1802ca10daf4496794"
	    "697cf8db5856cb6c1", "response");
	CHECK_STR(D.opaque, "FQhe/qaU925kfnzjCev0ciVhQ9vC3pz+f8j0/5NeiK+Q=",
	    "opaque");
	CHECK_STR(D.userhash, "false", "userhash");

	rc = dparse("username=\"Mu\\\"fa\\\\sa\\x\"");
	CHECK(rc == 0 && D.username != NULL &&
	    strcmp(D.username, "Mu\"fa\\sax") == 0,
	    "quoted-pair: \\\" \\\\ \\x unescaped");
	rc = dparse("username = \"a\" ,realm=\tb\t, nonce =c,uri= \"d\"  ");
	CHECK(rc == 0 && D.username && strcmp(D.username, "a") == 0 &&
	    D.realm && strcmp(D.realm, "b") == 0 && D.nonce &&
	    strcmp(D.nonce, "c") == 0 && D.uri && strcmp(D.uri, "d") == 0,
	    "OWS around '=' and ','");
	rc = dparse(",, username=a,,realm=b,");
	CHECK(rc == 0 && D.username && strcmp(D.username, "a") == 0 &&
	    D.realm && strcmp(D.realm, "b") == 0, "empty list elements");
	rc = dparse("UserName=a, REALM=\"b\", Qop=auth");
	CHECK(rc == 0 && D.username && strcmp(D.username, "a") == 0 &&
	    D.realm && strcmp(D.realm, "b") == 0 && D.qop &&
	    strcmp(D.qop, "auth") == 0, "names are case-insensitive");
	rc = dparse("foo=bar, x-y=\"q,u=o\\\"te\", username=a, foo=baz");
	CHECK(rc == 0 && D.username && strcmp(D.username, "a") == 0 &&
	    D.realm == NULL, "unknown params (and their duplicates) ignored");
	rc = dparse("usernam=a, usernamee=b");
	CHECK(rc == 0 && D.username == NULL, "prefixes of names don't count");
	rc = dparse("opaque=\"\"");
	CHECK(rc == 0 && D.opaque && D.opaque[0] == '\0',
	    "empty quoted value allowed");
	rc = dparse("uri=\"/a b,c\"");
	CHECK(rc == 0 && D.uri && strcmp(D.uri, "/a b,c") == 0,
	    "space and comma inside quotes");
	rc = dparse("");
	CHECK(rc == 0 && D.username == NULL && D.nonce == NULL,
	    "empty string: 0, nothing set");
	dparse("username=a");
	rc = dparse("realm=b");
	CHECK(rc == 0 && D.username == NULL, "dparams cleared between calls");

	{
		/* 700 short unknown params: 2.8 KB, far below a head's limit. */
		static char many[700 * 4 + 16];
		char *o = many;
		int i;

		for (i = 0; i < 700; i++)
			o += sprintf(o, "a=b,");
		strcpy(o, "username=x");
		arena_reset(&A);
		rc = dparse(many);
		CHECK(rc == 0 && D.username != NULL &&
		    strcmp(D.username, "x") == 0, "2.8 KB of 701 params parses "
		    "(rc %d; arena %zu bytes)", rc, A.total);
		arena_reset(&A);
	}

	CHECK_INT(dparse("nc=1, nc=2"), -1, "duplicate: -1");
	CHECK_INT(dparse("username=a, USERNAME=\"a\""), -1,
	    "duplicate in another case: -1");
	CHECK_INT(dparse("username=\"abc"), -1, "unterminated quote: -1");
	CHECK_INT(dparse("username=\"abc\\\""), -1,
	    "quote escaped at the end: -1");
	CHECK_INT(dparse("username=\"abc\\"), -1, "backslash then NUL: -1");
	CHECK_INT(dparse("username \"a\""), -1, "missing '=': -1");
	CHECK_INT(dparse("username"), -1, "name alone: -1");
	CHECK_INT(dparse("username=a, realm"), -1, "last name alone: -1");
	CHECK_INT(dparse("=a"), -1, "empty name: -1");
	CHECK_INT(dparse("nc=, realm=b"), -1, "empty token value: -1");
	CHECK_INT(dparse("nc="), -1, "empty token value at the end: -1");
	CHECK_INT(dparse("nc= ,realm=b"), -1, "blank token value: -1");
	CHECK_INT(dparse("username=a realm=b"), -1, "missing ',': -1");
	CHECK_INT(dparse("username=\"a\"b"), -1, "junk after a quote: -1");
	CHECK_INT(dparse("username=a\"b\""), -1, "quote inside a token: -1");
	CHECK_INT(dparse("username=a;realm=b"), -1, "';' separator: -1");
	CHECK_INT(dparse("user name=a"), -1, "space in a name: -1");
	CHECK_INT(dparse("username=a\r\n realm=b"), -1, "CRLF: -1");

	arena_reset(&A);
}

/* ---- nonces -------------------------------------------------------------- */

static char nonce_g[128], opaque_g[64];

/* A request to run the auth-digest function on. */
static struct ih_request R;
static struct conn C;
static struct header H[1];

static int
digest_call(const char *authz, const char *algs, const char *userfile)
{
	static char kr[] = "realm", ku[] = "userfile", ka[] = "algorithm";
	static char vr[] = RLM, vget[] = "GET", vt[] = URI;
	static char hn[] = "Authorization";
	static char hv[2048];
	char va[64], vu[256];
	char *keys[3] = { kr, ku, ka }, *vals[3] = { vr, vu, va };
	struct ih_args args = { 3, keys, vals };
	const struct ih_function *f = config_find_function("auth-digest");

	if (f == NULL)
		return -100;
	fmt(va, sizeof(va), "%s", algs);
	fmt(vu, sizeof(vu), "%s", userfile);
	arena_reset(&A);
	memset(&R, 0, sizeof(R));
	memset(&C, 0, sizeof(C));
	strcpy(C.peer, "192.0.2.1");
	R.c = &C;
	R.a = &A;
	R.hd.h = H;
	R.hd.method = vget;
	R.target_raw = vt;
	R.path = vt;
	if (authz != NULL) {
		fmt(hv, sizeof(hv), "%s", authz);
		H[0].name = hn;
		H[0].value = hv;
		R.hd.nh = 1;
	}
	return f->fn(&R, &args);
}

/* Take NAME="..." from the response headers in R. */
static int
from_challenge(const char *name, char *out, size_t cap)
{
	char key[32], *p, *e;

	if (R.rh == NULL)
		return -1;
	fmt(key, sizeof(key), "%s=\"", name);
	if ((p = strstr(R.rh, key)) == NULL)
		return -1;
	p += strlen(key);
	if ((e = strchr(p, '"')) == NULL || (size_t)(e - p) >= cap)
		return -1;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
	return 0;
}

/* HMAC-SHA256(key, "T R:realm") nonce, as auth.c builds it. */
static void
forge_nonce(const unsigned char key[32], unsigned long long t,
    unsigned long long rnd, const char *realm, char *out)
{
	char text[600], mac[64];
	unsigned char m[32];
	unsigned int len = 0;

	fmt(text, sizeof(text), "%016llx%016llx:%s", t, rnd, realm);
	HMAC(EVP_sha256(), key, 32, (unsigned char *)text, strlen(text), m,
	    &len);
	b64url(m, 32, mac);
	sprintf(out, "%016llx%016llx-%s", t, rnd, mac);
}

static char userfile[sizeof(datadir) + 32];

static void
digest_header(char *out, size_t cap, const char *alg, const char *nc,
    const char *pw, const char *suffix)
{
	const EVP_MD *md = strncmp(alg, "MD5", 3) == 0 ? EVP_md5() :
	    EVP_sha256();
	char ha1[129], resp[129], text[256];

	hexof(md, fmt(text, sizeof(text), "Mufasa:%s:%s", RLM, pw), ha1);
	expect_response(md, strstr(alg, "-sess") != NULL, ha1, nonce_g, nc,
	    CNONCE, "auth", "GET", URI, resp);
	fmt(out, cap, "Digest username=\"Mufasa\", realm=\"" RLM "\", "
	    "uri=\"" URI "\", algorithm=%s, nonce=\"%s\", nc=%s, cnonce=\""
	    CNONCE "\", qop=auth, response=\"%s%s\", opaque=\"%s\"", alg,
	    nonce_g, nc, resp, suffix, opaque_g);
}

static void
test_nonces(void)
{
	static const unsigned char zero[32];
	char forged[128], bad[128], hdr[1024], ha1[129];
	char path[sizeof(datadir) + 32];
	unsigned long long now = (unsigned long long)now_real_ms();
	struct stat st;
	int64_t t = 0;
	FILE *fp;
	int rc;

	/* Before anything loaded the secret. */
	CHECK_INT(auth_nonce_verify(RLM, "", &t), 0, "empty nonce: 0");
	CHECK_INT(auth_nonce_verify(RLM, "0123456789abcdef", &t), 0,
	    "short nonce: 0");
	memset(bad, 'g', 76);
	bad[76] = '\0';
	bad[32] = '-';
	CHECK_INT(auth_nonce_verify(RLM, bad, &t), 0, "non-hex nonce: 0");
	forge_nonce(zero, now, 1, RLM, forged);
	CHECK_INT(auth_nonce_verify(RLM, forged, &t), 0,
	    "nonce MACed with an all-zero key refused (secret not yet "
	    "loaded)");

	/* A genuine nonce, minted by auth-digest's challenge. */
	fmt(userfile, sizeof(userfile), "%s/users", datadir);
	fp = fopen(userfile, "w");
	fprintf(fp, "Mufasa:%s:%s\n", RLM, hexof(EVP_sha256(),
	    "Mufasa:" RLM ":Circle of Life", ha1));
	fprintf(fp, "Mufasa:%s:%s\n", RLM, hexof(EVP_md5(),
	    "Mufasa:" RLM ":Circle of Life", ha1));
	fclose(fp);
	rc = digest_call(NULL, "SHA-256 MD5 SHA-256-sess", userfile);
	CHECK(rc == IH_ABORTED && R.status == 401, "no credentials: 401");
	if (!CHECK(from_challenge("nonce", nonce_g, sizeof(nonce_g)) == 0 &&
	    from_challenge("opaque", opaque_g, sizeof(opaque_g)) == 0,
	    "challenge has nonce and opaque"))
		return;
	CHECK(R.rh != NULL && strstr(R.rh, "algorithm=SHA-256,") != NULL &&
	    strstr(R.rh, "algorithm=MD5,") != NULL, "one challenge per alg");
	CHECK_INT(strlen(nonce_g), 76, "nonce is 76 characters");
	fmt(path, sizeof(path), "%s/secret/digest.secret", datadir);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 &&
	    st.st_size == 32, "secret/digest.secret: 32 bytes, mode 0600");
	fmt(path, sizeof(path), "%s/nonces/digest.table", datadir);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 &&
	    st.st_size == nonce_table_size(),
	    "the challenge made nonces/digest.table, mode 0600");

	t = 0;
	CHECK_INT(auth_nonce_verify(RLM, nonce_g, &t), 1, "genuine nonce: 1");
	CHECK((unsigned long long)t + 5000 >= now &&
	    (unsigned long long)t <= now + 5000, "its time is now, in ms");
	CHECK_INT(auth_nonce_verify("other", nonce_g, &t), 0,
	    "genuine nonce, other realm: 0");
	fmt(bad, sizeof(bad), "%s", nonce_g);
	bad[75] = '\0';
	CHECK_INT(auth_nonce_verify(RLM, bad, &t), 0, "truncated nonce: 0");
	fmt(bad, sizeof(bad), "%sA", nonce_g);
	CHECK_INT(auth_nonce_verify(RLM, bad, &t), 0, "nonce + 1 char: 0");
	fmt(bad, sizeof(bad), "%s", nonce_g);
	bad[50] = bad[50] == 'A' ? 'B' : 'A';
	CHECK_INT(auth_nonce_verify(RLM, bad, &t), 0, "MAC changed: 0");
	fmt(bad, sizeof(bad), "%s", nonce_g);
	bad[0] = bad[0] == '0' ? '1' : '0';
	CHECK_INT(auth_nonce_verify(RLM, bad, &t), 0, "time changed: 0");
	fmt(bad, sizeof(bad), "%s", nonce_g);
	for (rc = 0; rc < 32; rc++)
		if (bad[rc] >= 'a' && bad[rc] <= 'f')
			bad[rc] = (char)(bad[rc] - 'a' + 'A');
	CHECK(strcmp(bad, nonce_g) == 0 || auth_nonce_verify(RLM, bad, &t) == 0,
	    "upper-case hex variant: 0");
	forge_nonce(zero, now, 1, RLM, forged);
	CHECK_INT(auth_nonce_verify(RLM, forged, &t), 0,
	    "all-zero-key nonce refused once the secret is loaded");

	/* The whole exchange with the RFC 7616 user. */
	digest_header(hdr, sizeof(hdr), "SHA-256", "00000001",
	    "Circle of Life", "");
	rc = digest_call(hdr, "SHA-256 MD5 SHA-256-sess", userfile);
	CHECK(rc == IH_PROCEED && R.remote_user != NULL &&
	    strcmp(R.remote_user, "Mufasa") == 0 && R.auth_type != NULL &&
	    strcmp(R.auth_type, "Digest") == 0,
	    "SHA-256, genuine nonce, nc 1: granted (status %d)", R.status);
	rc = digest_call(hdr, "SHA-256 MD5 SHA-256-sess", userfile);
	CHECK(rc == IH_ABORTED && R.status == 401, "same nc replayed: 401");
	digest_header(hdr, sizeof(hdr), "MD5", "00000002",
	    "Circle of Life", "");
	rc = digest_call(hdr, "SHA-256 MD5 SHA-256-sess", userfile);
	CHECK(rc == IH_PROCEED, "MD5, nc 2: granted (status %d)", R.status);
	digest_header(hdr, sizeof(hdr), "SHA-256-sess", "00000003",
	    "Circle of Life", "");
	rc = digest_call(hdr, "SHA-256 MD5 SHA-256-sess", userfile);
	CHECK(rc == IH_PROCEED, "SHA-256-sess, nc 3: granted (status %d)",
	    R.status);
	digest_header(hdr, sizeof(hdr), "SHA-256", "00000004",
	    "Circle of life", "");
	rc = digest_call(hdr, "SHA-256 MD5 SHA-256-sess", userfile);
	CHECK(rc == IH_ABORTED && R.status == 401, "wrong password: 401");
	digest_header(hdr, sizeof(hdr), "SHA-256", "00000005",
	    "Circle of Life", "ffff");
	rc = digest_call(hdr, "SHA-256 MD5 SHA-256-sess", userfile);
	CHECK(rc == IH_ABORTED && R.status == 401,
	    "SHA-256 response with 4 extra hex digits: 401 (got rc %d "
	    "status %d)", rc, R.status);
	digest_header(hdr, sizeof(hdr), "MD5", "00000006",
	    "Circle of Life", "ffff");
	rc = digest_call(hdr, "SHA-256 MD5 SHA-256-sess", userfile);
	CHECK(rc == IH_ABORTED && R.status == 401,
	    "MD5 response with 4 extra hex digits: 401");
	digest_header(hdr, sizeof(hdr), "MD5", "00000007",
	    "Circle of Life", "");
	rc = digest_call(hdr, "SHA-256", userfile);
	CHECK(rc == IH_ABORTED && R.status == 401, "MD5 not offered: 401");
	arena_reset(&A);
}

/* ---- auth_nc_check and the nonce table ------------------------------------ */

static void
mk_nonce(char *out, unsigned long long t, unsigned long long rnd)
{
	sprintf(out, "%016llx%016llx-%043llu", t, rnd, rnd);
}

/* Run fn in a child; its exit status (128 + signal when killed). */
static int
in_child(void (*fn)(void))
{
	pid_t pid;
	int status;

	fflush(stdout);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		fn();
		_exit(0);
	}
	if (waitpid(pid, &status, 0) == -1)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) :
	    128 + WTERMSIG(status);
}

static char tabpath[sizeof(datadir) + 64], longnonce[301];

static long long
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Files in dir other than . and ..: the table alone, no temporary ones. */
static int
entries(const char *dir)
{
	char cmd[256], out[64];

	fmt(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	return run1(cmd, out, sizeof(out)) == 0 ? atoi(out) : -1;
}

static void
test_nc(void)
{
	char a[128], b[128], old[128], dir2[sizeof(datadir) + 8];
	char ndir[sizeof(datadir) + 32];
	int64_t now;
	struct stat st;
	mode_t um;

	fmt(dir2, sizeof(dir2), "%s/nc", datadir);	/* created on use */
	cfg.datadir = dir2;
	fmt(ndir, sizeof(ndir), "%s/nonces", dir2);
	fmt(tabpath, sizeof(tabpath), "%s/digest.table", ndir);

	/* Made as a challenge makes it: before the nonces it covers. */
	um = umask(0);
	CHECK_INT(nonce_table_ready(), 0, "nonce table made");
	umask(um);
	CHECK(stat(tabpath, &st) == 0 && (st.st_mode & 0777) == 0600,
	    "nonces/digest.table is mode 0600 (umask 0)");
	CHECK(stat(ndir, &st) == 0 && (st.st_mode & 0777) == 0700 &&
	    stat(dir2, &st) == 0 && (st.st_mode & 0777) == 0700,
	    "datadir and datadir/nonces created 0700");
	CHECK_INT(file_size(tabpath), NC_BLOCK * (1 + (256 + 14) / 15),
	    "256 slots: a header and 18 buckets of 15");
	CHECK_INT(entries(ndir), 1, "no temporary file left");

	now = now_real_ms();
	mk_nonce(a, (unsigned long long)now, 1);
	mk_nonce(b, (unsigned long long)now, 2);
	CHECK_INT(auth_nc_check(a, 1), NONCE_FRESH, "first nc 1: fresh");
	CHECK_INT(auth_nc_check(a, 1), NONCE_REPLAY, "same nc: replay");
	CHECK_INT(auth_nc_check(a, 0), NONCE_REPLAY, "lower nc: replay");
	CHECK_INT(auth_nc_check(a, 2), NONCE_FRESH, "higher nc: fresh");
	CHECK_INT(auth_nc_check(a, 9), NONCE_FRESH, "skip ahead: fresh");
	CHECK_INT(auth_nc_check(a, 5), NONCE_REPLAY, "below the highest");
	CHECK_INT(auth_nc_check(b, 1), NONCE_FRESH, "another nonce, nc 1");
	CHECK_INT(auth_nc_check(b, 1), NONCE_REPLAY, "another nonce, replay");
	CHECK_INT(auth_nc_check(a, 9), NONCE_REPLAY, "first nonce unaffected");
	CHECK_INT(auth_nc_check(a, 0xffffffffUL), NONCE_FRESH, "nc ffffffff");
	CHECK_INT(auth_nc_check(a, 0xffffffffUL), NONCE_REPLAY,
	    "nc ffffffff again: replay");
	mk_nonce(old, (unsigned long long)now - 2000, 3);
	CHECK_INT(auth_nc_check(old, 1), NONCE_STALE,
	    "a nonce older than the table, never seen: stale");
	CHECK_INT(file_size(tabpath), NC_BLOCK * (1 + (256 + 14) / 15),
	    "file size unchanged");
	CHECK(stat(tabpath, &st) == 0 && (st.st_mode & 0777) == 0600,
	    "still 0600 after writes");

	memset(longnonce, 'a', 300);
	memcpy(longnonce, a, 33);
	CHECK_INT(auth_nc_check(longnonce, 1), NONCE_ERROR,
	    "300-char nonce: refused");
	CHECK_INT(auth_nc_check("zz", 1), NONCE_ERROR, "2-char nonce: refused");
	cfg.datadir = datadir;
}

/* A key for bucket b (of 18 with 256 slots), naming nonce n. */
static const unsigned char *
key(uint64_t b, unsigned n)
{
	static unsigned char k[NONCE_KEY_LEN];

	memset(k, 0, sizeof(k));
	memcpy(k, &b, sizeof(b));
	memcpy(k + 8, &n, sizeof(n));
	k[NONCE_KEY_LEN - 1] = 0x5a;
	return k;
}

static int64_t
bucket_wm(uint64_t b)
{
	int64_t wm = -1;
	int fd = open(tabpath, O_RDONLY);

	if (fd != -1 && pread(fd, &wm, sizeof(wm), (off_t)NC_BLOCK *
	    (off_t)(1 + b)) != (ssize_t)sizeof(wm))
		wm = -1;
	if (fd != -1)
		close(fd);
	return wm;
}

static void
bucket_read(uint64_t b, unsigned char *out)
{
	int fd = open(tabpath, O_RDONLY);

	memset(out, 0, NC_BLOCK);
	if (fd != -1) {
		if (pread(fd, out, NC_BLOCK, (off_t)NC_BLOCK * (off_t)(1 + b)) !=
		    NC_BLOCK)
			memset(out, 0xff, NC_BLOCK);
		close(fd);
	}
}

static void
child_no_room(void)
{
	struct rlimit rl = { 4096, 4096 };

	signal(SIGXFSZ, SIG_IGN);
	unlink(tabpath);
	if (setrlimit(RLIMIT_FSIZE, &rl) == -1)
		_exit(3);
	if (nonce_table_ready() != -1)
		_exit(4);
	if (errno != EFBIG)
		_exit(5);
	if (nonce_count(key(1, 1), now_real_ms(), 1, now_real_ms()) !=
	    NONCE_ERROR)
		_exit(6);
	_exit(0);
}

static void
test_table(void)
{
	char dir2[sizeof(datadir) + 8], ndir[sizeof(datadir) + 32];
	unsigned char before[NC_BLOCK], after[NC_BLOCK];
	long long size = NC_BLOCK * (1 + (256 + 14) / 15);
	int64_t t0, now, t1, t2;
	unsigned i, n, fresh, bad;
	int fd, rc;

	fmt(dir2, sizeof(dir2), "%s/tab", datadir);
	cfg.datadir = dir2;
	fmt(ndir, sizeof(ndir), "%s/nonces", dir2);
	fmt(tabpath, sizeof(tabpath), "%s/digest.table", ndir);
	CHECK_INT(nonce_table_ready(), 0, "table: made");
	t0 = now_real_ms() + 10;	/* nonces newer than the floor */
	now = t0 + 1000;

	/* One bucket: 15 live nonces fit; the 16th drops the oldest. */
	for (i = 0, fresh = 0; i < NC_SLOTS; i++)
		fresh += nonce_count(key(3, i), t0 + 10 * (i + 1), 1, now) ==
		    NONCE_FRESH;
	CHECK_INT(fresh, NC_SLOTS, "15 nonces in bucket 3: all fresh");
	CHECK_INT(bucket_wm(3), 0, "bucket 3's watermark still 0");
	CHECK_INT(nonce_count(key(3, 99), t0 + 160, 1, now), NONCE_FRESH,
	    "the 16th: fresh");
	CHECK_INT(bucket_wm(3), t0 + 10, "...it dropped the oldest (t0+10), "
	    "now the watermark");
	CHECK_INT(nonce_count(key(3, 0), t0 + 10, 2, now), NONCE_STALE,
	    "the dropped nonce, even with a higher nc: stale");
	CHECK_INT(nonce_count(key(3, 0), t0 + 10, 1, now), NONCE_STALE,
	    "the dropped nonce replayed: stale, never fresh");
	CHECK_INT(nonce_count(key(3, 1), t0 + 20, 2, now), NONCE_FRESH,
	    "the second oldest is still there: nc 2 fresh");
	CHECK_INT(nonce_count(key(3, 1), t0 + 20, 2, now), NONCE_REPLAY,
	    "...and replayed: replay");
	CHECK_INT(nonce_count(key(3, 77), t0 + 5, 1, now), NONCE_STALE,
	    "an unseen nonce not above the watermark: stale");
	bucket_read(3, before);
	CHECK_INT(nonce_count(key(3, 78), t0 + 15, 1, now), NONCE_STALE,
	    "an unseen nonce older than a full bucket of live ones: stale");
	bucket_read(3, after);
	CHECK(memcmp(before, after, NC_BLOCK) == 0, "...and nothing written");
	CHECK_INT(nonce_count(key(4, 0), t0 + 5, 1, now), NONCE_FRESH,
	    "another bucket has its own watermark: fresh");
	CHECK_INT(nonce_count(key(3 + 18, 500), t0 + 170, 1, now), NONCE_FRESH,
	    "key 21 lands in bucket 3 (21 mod 18): fresh, drops t0+20");
	CHECK_INT(bucket_wm(3), t0 + 20, "watermark rose to t0+20");
	CHECK_INT(nonce_count(key(3, 1), t0 + 20, 3, now), NONCE_STALE,
	    "dropped t0+20 nonce: stale");

	/* Expiry: past nonce_ttl a slot is free, without waiting for a flood. */
	t1 = t0 + cfg.nonce_ttl * 1000 + 5000;
	for (i = 0, fresh = 0; i < NC_SLOTS; i++)
		fresh += nonce_count(key(3, 1000 + i), t1 + i, 1, t1 + 100) ==
		    NONCE_FRESH;
	CHECK_INT(fresh, NC_SLOTS, "15 new nonces after the old ones expired: "
	    "all fresh");
	CHECK_INT(bucket_wm(3), t0 + 170, "watermark: the newest expired one "
	    "reused (t0+170)");
	CHECK_INT(nonce_count(key(3, 99), t0 + 160, 2, t1 + 100), NONCE_STALE,
	    "an expired, reused nonce (if the clock went back): stale");

	/* More nonces than slots, spread over every bucket. */
	t2 = t1 + 1000;
	n = 4000;
	for (i = 0, fresh = 0; i < n; i++)
		fresh += nonce_count(key(i * 2654435761u, 5000 + i), t2 + i, 1,
		    t2 + i) == NONCE_FRESH;
	CHECK_INT(fresh, n, "4000 nonces through 256 slots: all fresh");
	CHECK_INT(file_size(tabpath), size, "file size constant");
	for (i = 0, bad = 0, fresh = 0; i < n; i++) {
		rc = nonce_count(key(i * 2654435761u, 5000 + i), t2 + i, 1,
		    t2 + n);
		bad += rc == NONCE_FRESH || rc == NONCE_ERROR;
		fresh += rc == NONCE_REPLAY;
	}
	CHECK_INT(bad, 0, "each of the 4000 replayed: never fresh");
	CHECK(fresh > 0 && fresh <= 270, "the recent ones are known replays "
	    "(%u), the rest stale", fresh);
	CHECK_INT(nonce_count(key(7, 9999), t2 + n + 10, 1, t2 + n + 10),
	    NONCE_FRESH, "a fresh nonce after the flood: fresh");
	CHECK_INT(entries(ndir), 1, "no temporary file left");

	/*
	 * From here on, times from the clock: the floor of a remade table
	 * is the clock's time, and the watermarks the flood left lie in the
	 * future.  Removed: made again, and what it held is stale.
	 */
	unlink(tabpath);
	CHECK_INT(nonce_table_ready(), 0, "table removed: made again");
	CHECK_INT(file_size(tabpath), size, "...the same size");
	now = now_real_ms();
	CHECK_INT(nonce_count(key(2, 2), now, 1, now), NONCE_FRESH, "recorded");
	unlink(tabpath);
	CHECK_INT(nonce_count(key(2, 2), now, 1, now), NONCE_STALE,
	    "table removed again: its replay stale");

	/*
	 * Another nonce_slots: a table keeps the size it was made with
	 * (servers sharing a datadir never remake each other's), and what
	 * it holds stays a replay; removed, it is made at the new size.
	 */
	now = now_real_ms();
	CHECK_INT(nonce_count(key(3, 1), now, 1, now), NONCE_FRESH, "recorded");
	cfg.nonce_slots = 512;
	CHECK_INT(nonce_count(key(3, 1), now, 1, now), NONCE_REPLAY,
	    "nonce_slots changed: the table keeps its size, a replay of what "
	    "it holds is refused");
	CHECK_INT(file_size(tabpath), size, "...at its own size");
	unlink(tabpath);
	CHECK_INT(nonce_table_ready(), 0, "removed: made anew");
	CHECK_INT(file_size(tabpath), NC_BLOCK * (1 + (512 + 14) / 15),
	    "...at the new size");
	CHECK_INT(nonce_count(key(3, 1), now, 2, now), NONCE_STALE,
	    "its count was lost: stale");
	now = now_real_ms();
	CHECK_INT(nonce_count(key(3, 2), now, 1, now), NONCE_FRESH,
	    "a nonce newer than the remade table: fresh");
	cfg.nonce_slots = 256;
	unlink(tabpath);
	CHECK_INT(nonce_table_ready(), 0, "back to 256 slots");
	CHECK_INT(file_size(tabpath), size, "...made at 256");
	CHECK_INT(entries(ndir), 1, "no temporary file left");

	/* Dated ahead of the clock (it stepped back): stale, not counted. */
	now = now_real_ms();
	CHECK_INT(nonce_count(key(4, 1), now + 30000, 1, now), NONCE_STALE,
	    "a nonce dated 30 s ahead of the clock: stale");
	CHECK_INT(nonce_count(key(4, 1), now, 1, now), NONCE_FRESH,
	    "...and nothing recorded for it");

	/*
	 * A table made while the clock was far ahead would refuse every
	 * nonce until that date: it is made anew, its floor the clock's.
	 */
	{
		unsigned char h[NC_BLOCK];
		int64_t ahead = now_real_ms() + 30LL * 86400 * 1000;

		fd = open(tabpath, O_RDWR);
		CHECK(fd != -1 && pread(fd, h, NC_BLOCK, 0) == NC_BLOCK,
		    "header read");
		memcpy(h + 48, &ahead, 8);
		CHECK(pwrite(fd, h, NC_BLOCK, 0) == NC_BLOCK, "floor set 30 "
		    "days ahead");
		close(fd);
		now = now_real_ms();
		CHECK_INT(nonce_count(key(4, 2), now, 1, now), NONCE_STALE,
		    "a floor ahead of the clock: the table is made anew (this "
		    "nonce, older than it, is stale)");
		now = now_real_ms();
		CHECK_INT(nonce_count(key(4, 3), now, 1, now), NONCE_FRESH,
		    "...then fresh nonces count again");
	}

	/* The same size but a damaged header: remade. */
	now = now_real_ms();
	CHECK_INT(nonce_count(key(2, 1), now, 1, now), NONCE_FRESH, "recorded");
	fd = open(tabpath, O_WRONLY);
	CHECK(fd != -1 && pwrite(fd, "garbage", 7, 0) == 7, "header damaged");
	close(fd);
	CHECK_INT(nonce_count(key(2, 1), now, 1, now), NONCE_STALE,
	    "damaged header: remade, its replay stale");
	CHECK_INT(file_size(tabpath), size, "...same size");

	/* A bucket's lock held elsewhere: that bucket waits lock_timeout,
	 * and only that bucket. */
	{
		struct flock fl;
		int64_t t, ms;
		int e;

		fd = open(tabpath, O_RDWR);
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		fl.l_start = NC_BLOCK * (1 + 7);
		fl.l_len = NC_BLOCK;
		CHECK(fd != -1 && fcntl(fd, F_OFD_SETLK, &fl) == 0,
		    "bucket 7 locked by another open file");
		cfg.lock_timeout = 1;
		t = now_real_ms();
		ms = mono_ms();
		CHECK_INT(nonce_count(key(8, 1), t, 1, t), NONCE_FRESH,
		    "bucket 8 meanwhile: fresh");
		CHECK(mono_ms() - ms < 500, "...at once (%lld ms)",
		    (long long)(mono_ms() - ms));
		ms = mono_ms();
		errno = 0;
		rc = nonce_count(key(7, 1), t, 1, t);
		e = errno;
		ms = mono_ms() - ms;
		CHECK(rc == NONCE_ERROR && e == ETIMEDOUT, "bucket 7: error, "
		    "ETIMEDOUT (rc %d, %s)", rc, strerror(e));
		CHECK(ms >= 900 && ms < 3000, "...after lock_timeout 1 s "
		    "(%lld ms)", (long long)ms);
		close(fd);
		CHECK_INT(nonce_count(key(7, 1), t, 1, t), NONCE_FRESH,
		    "bucket 7 once released: fresh");
		cfg.lock_timeout = 2;
	}

	/* No room for the table (a file size limit stands in for ENOSPC). */
	rc = in_child(child_no_room);
	CHECK_INT(rc, 0, "table that cannot be allocated: -1 EFBIG, and the "
	    "count an error (child status)");
	CHECK(access(tabpath, F_OK) == -1, "...no table left in place");
	CHECK_INT(entries(ndir), 0, "...and no temporary file");
	CHECK_INT(nonce_table_ready(), 0, "room again: made");
	cfg.datadir = datadir;
}

int
main(void)
{
	if (mkdtemp(datadir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.datadir = datadir;
	cfg.nonce_ttl = 300;
	cfg.nonce_slots = 256;
	cfg.lock_timeout = 2;

	test_digest_response();
	test_b64();
	test_htpasswd();
	test_decoy();
	test_digest_parse();
	test_nonces();
	test_nc();
	test_table();

	arena_reset(&A);
	free(A.head);
	unit_rmtree(datadir);
	return unit_done();
}
