/*
 * tls.c - the server side of TLS (OpenSSL 3), beneath conn.c: the
 * contexts (one per certificate, chosen by SNI), the handshake with its
 * deadline, reads and writes on non-blocking fds that conn.c waits for,
 * sendfile through kTLS where the kernel has it, close_notify.  OpenSSL
 * is initialised only here, only when TLS is on: a plain connection
 * costs what it cost before.
 *
 * Session tickets are stateless and their keys live in datadir/tls/
 * tickets (0600), so that a client returning to a fresh inetd process
 * resumes instead of paying for a full handshake.  The newest key issues
 * tickets; it is replaced after tls_ticket_lifetime, and the one before
 * it still decrypts (the ticket is then renewed), so a ticket resumes for
 * its full lifetime and no key lives longer than two.  The keys sit in a
 * shared page that a standalone master refreshes and its workers read,
 * never written to a core file.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "internal.h"

#define KEY_FILE_MAX	(1024 * 1024)

struct ticket_key {
	int64_t		created;
	unsigned char	name[16], aes[32], hmac[32];
};

/* A seqlock: odd while the master writes. */
struct ticket_keys {
	unsigned	 seq;
	int		 n;
	struct ticket_key k[2];
};

struct sni {
	const char	*name;		/* "host" or "*.domain" */
	SSL_CTX		*ctx;
};

/* Where a context's certificate and key come from, and the config lines
 * that named them. */
struct source {
	const char	*cert, *cfile;
	int		 cline;
	const char	*key, *kfile;
	int		 kline;
};

static SSL_CTX *ctx_main;
static struct sni *snis;
static size_t nsnis;
static struct ticket_keys *tickets;	/* MAP_SHARED, MADV_DONTDUMP */
static int initialised;

/* TLSv1 .. TLSv1.3 as OpenSSL's version number, or -1. */
int
tls_version(const char *v)
{
	static const struct { const char *name; int v; } vs[] = {
		{ "TLSv1", TLS1_VERSION }, { "TLSv1.0", TLS1_VERSION },
		{ "TLSv1.1", TLS1_1_VERSION }, { "TLSv1.2", TLS1_2_VERSION },
		{ "TLSv1.3", TLS1_3_VERSION },
	};
	size_t i;

	for (i = 0; i < sizeof(vs) / sizeof(vs[0]); i++)
		if (strcasecmp(v, vs[i].name) == 0)
			return vs[i].v;
	return -1;
}

/* OpenSSL's reason for the last failure (never key material). */
static const char *
ssl_why(void)
{
	static char code[64];
	unsigned long e = ERR_peek_last_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

	if (r != NULL)
		return r;
	if (e == 0)
		return "unknown error";
	snprintf(code, sizeof(code), "OpenSSL error %08lX", e);
	return code;
}

static void __attribute__((format(printf, 3, 4)))
at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	config_log_at(file, line, msg);
	ERR_clear_error();
}

/* ---- session ticket keys ----------------------------------------------- */

static void
tickets_get(struct ticket_keys *out)
{
	unsigned s;

	do {
		s = __atomic_load_n(&tickets->seq, __ATOMIC_ACQUIRE);
		memcpy(out, tickets, sizeof(*out));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while ((s & 1) != 0 || s != __atomic_load_n(&tickets->seq,
	    __ATOMIC_RELAXED));
}

static void
tickets_put(const struct ticket_keys *in)
{
	unsigned s = tickets->seq;

	__atomic_store_n(&tickets->seq, s + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	tickets->n = in->n;
	memcpy(tickets->k, in->k, sizeof(in->k));
	__atomic_store_n(&tickets->seq, s + 2, __ATOMIC_RELEASE);
}

static int
hex_in(const char *h, unsigned char *out, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int hi = hexval(h[2 * i]), lo = hi < 0 ? -1 : hexval(h[2 * i +
		    1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return h[2 * n] == ' ' || h[2 * n] == '\n' || h[2 * n] == '\0' ? 0 :
	    -1;
}

/* "CREATED NAME AES HMAC" lines, newest first; the keys found (0..2). */
static int
tickets_parse(char *buf, struct ticket_keys *t)
{
	char *line, *save;

	t->n = 0;
	for (line = strtok_r(buf, "\n", &save); line != NULL && t->n < 2;
	    line = strtok_r(NULL, "\n", &save)) {
		struct ticket_key *k = &t->k[t->n];
		char *p;
		long long when;

		if (*line == '#' || (p = strchr(line, ' ')) == NULL)
			continue;
		*p++ = '\0';
		if (str_to_ll(line, 1, INT64_MAX, &when) == -1 ||
		    strlen(p) != 32 + 1 + 64 + 1 + 64 ||
		    hex_in(p, k->name, 16) == -1 ||
		    hex_in(p + 33, k->aes, 32) == -1 ||
		    hex_in(p + 98, k->hmac, 32) == -1)
			continue;
		k->created = when;
		t->n++;
	}
	return t->n;
}

static int
tickets_write(int fd, const struct ticket_keys *t)
{
	char buf[512], name[33], aes[65], hmac[65];
	struct sbuf b;
	int i, rc;

	sb_init(&b, buf, sizeof(buf));
	sb_puts(&b, "# ihttpd TLS session ticket keys (CREATED NAME AES HMAC), "
	    "newest first\n");
	for (i = 0; i < t->n; i++) {
		hex_encode(name, t->k[i].name, sizeof(t->k[i].name));
		hex_encode(aes, t->k[i].aes, sizeof(t->k[i].aes));
		hex_encode(hmac, t->k[i].hmac, sizeof(t->k[i].hmac));
		sb_printf(&b, "%lld %s %s %s\n", (long long)t->k[i].created,
		    name, aes, hmac);
	}
	rc = !b.trunc && ftruncate(fd, 0) == 0 && pwrite(fd, buf, b.len, 0) ==
	    (ssize_t)b.len ? 0 : -1;
	OPENSSL_cleanse(buf, sizeof(buf));
	OPENSSL_cleanse(aes, sizeof(aes));
	OPENSSL_cleanse(hmac, sizeof(hmac));
	return rc;
}

/* The file, under its lock; -1 (logged) when it cannot be trusted. */
static int
tickets_open(void)
{
	char dir[4096], path[4200];
	struct stat st;
	int fd;

	if (store_dir("tls", dir, sizeof(dir)) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/tickets", dir);
	if ((fd = store_open(path, O_RDWR | O_CREAT, 0600)) == -1) {
		ih_log(IH_LOG_ERR, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0) {
		ih_log(IH_LOG_ERR, "%s: must be ours and mode 0600", path);
		close(fd);
		return -1;
	}
	if (store_lock(fd, 0, 0) == -1) {
		ih_log(IH_LOG_ERR, "%s: lock: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Bring the ticket keys up to date from the file, rotating them when
 * the newest is tls_ticket_lifetime old (and writing the file back).
 * Without a usable file the keys rotate in memory only: resumption then
 * works within this process (and a daemon's workers).  0, or -1.
 */
int
tls_tickets_refresh(void)
{
	struct ticket_keys t;
	char buf[1024];
	int64_t now = time(NULL), life = cfg.tls_ticket_lifetime;
	int fd, changed = 0;
	ssize_t n;

	if (tickets == NULL)
		return 0;
	tickets_get(&t);
	if ((fd = tickets_open()) != -1 &&
	    (n = pread(fd, buf, sizeof(buf) - 1, 0)) >= 0) {
		struct ticket_keys f;

		buf[n] = '\0';
		memset(&f, 0, sizeof(f));
		if (tickets_parse(buf, &f) > 0)
			t = f;
		else
			changed = 1;	/* new or corrupt: write ours */
		OPENSSL_cleanse(&f, sizeof(f));
		OPENSSL_cleanse(buf, sizeof(buf));
	}
	/* a clock set back must not keep a key forever */
	if (t.n == 0 || now - t.k[0].created >= life ||
	    t.k[0].created > now + 60) {
		t.k[1] = t.k[0];
		t.n = t.n > 0 && now - t.k[0].created < 2 * life &&
		    t.k[0].created <= now + 60 ? 2 : 1;
		t.k[0].created = now;
		if (RAND_priv_bytes(t.k[0].name, sizeof(t.k[0].name)) != 1 ||
		    RAND_priv_bytes(t.k[0].aes, sizeof(t.k[0].aes)) != 1 ||
		    RAND_priv_bytes(t.k[0].hmac, sizeof(t.k[0].hmac)) != 1) {
			ih_log(IH_LOG_ERR, "TLS tickets: no random bytes");
			t.n = 0;
		}
		changed = 1;
	} else if (t.n == 2 && now - t.k[1].created >= 2 * life)
		t.n = 1;	/* nothing it made can still resume */
	if (fd != -1 && changed && t.n > 0 && tickets_write(fd, &t) == -1)
		ih_log(IH_LOG_ERR, "TLS tickets: write: %s", strerror(errno));
	if (fd != -1)
		close(fd);
	tickets_put(&t);
	OPENSSL_cleanse(&t, sizeof(t));
	return fd == -1 ? -1 : 0;
}

/* Is the newest key due to be replaced (a daemon's master asks)? */
int
tls_tickets_due(void)
{
	int64_t created;

	if (tickets == NULL)
		return 0;
	created = __atomic_load_n(&tickets->k[0].created, __ATOMIC_RELAXED);
	return time(NULL) - created >= cfg.tls_ticket_lifetime;
}

static int
ticket_cb(SSL *s, unsigned char name[16], unsigned char *iv,
    EVP_CIPHER_CTX *ectx, EVP_MAC_CTX *hctx, int enc)
{
	static char sha256[] = "SHA256";
	struct ticket_keys t;
	const struct ticket_key *k = NULL;
	OSSL_PARAM params[3];
	int i, rc;

	(void)s;
	tickets_get(&t);
	if (enc) {
		if (t.n == 0)
			return 0;	/* no ticket, a full handshake later */
		k = &t.k[0];
		memcpy(name, k->name, 16);
		rc = RAND_bytes(iv, 16) == 1 && EVP_EncryptInit_ex(ectx,
		    EVP_aes_256_cbc(), NULL, k->aes, iv) == 1 ? 1 : -1;
	} else {
		for (i = 0; i < t.n && k == NULL; i++)
			if (memcmp(name, t.k[i].name, 16) == 0)
				k = &t.k[i];
		if (k == NULL) {
			OPENSSL_cleanse(&t, sizeof(t));
			return 0;	/* unknown or retired key */
		}
		/* the older key still resumes, and a new ticket is issued */
		rc = EVP_DecryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k->aes,
		    iv) == 1 ? (k == &t.k[0] ? 1 : 2) : -1;
	}
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
	    (void *)(uintptr_t)k->hmac, sizeof(k->hmac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    sha256, 0);
	params[2] = OSSL_PARAM_construct_end();
	if (rc > 0 && EVP_MAC_CTX_set_params(hctx, params) != 1)
		rc = -1;
	OPENSSL_cleanse(&t, sizeof(t));
	return rc;
}

/*
 * A ticket carries the SNI name it was made for (TLS 1.3 sessions keep
 * none of their own): its application data.  1, or 0 (no ticket).
 */
static int
ticket_name(SSL *s, void *arg)
{
	const char *now = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);

	(void)arg;
	return SSL_SESSION_set1_ticket_appdata(SSL_get0_session(s), now !=
	    NULL ? now : "", now != NULL ? strlen(now) : 0);
}

/*
 * The SNI name of the ClientHello being handled (a process handles one
 * handshake at a time), read before OpenSSL parses the ticket: when it
 * decrypts one, SSL_get_servername does not know the name yet.
 */
static char hello_name[256];
static int hello_bad;		/* a name that no ticket may resume under */

static int
hello_cb(SSL *s, int *alert, void *arg)
{
	const unsigned char *p;
	size_t len, n;

	(void)alert;
	(void)arg;
	hello_name[0] = '\0';
	hello_bad = 0;
	if (SSL_client_hello_get0_ext(s, TLSEXT_TYPE_server_name, &p,
	    &len) != 1)
		return SSL_CLIENT_HELLO_SUCCESS;	/* no SNI */
	/*
	 * server_name (RFC 6066 3): list length, type 0, name length, name.
	 * What a full handshake would refuse (empty, NUL, too long) must
	 * not resume either: OpenSSL checks it only when not resuming.
	 */
	hello_bad = 1;
	if (len < 5 || (size_t)(p[0] << 8 | p[1]) + 2 > len ||
	    p[2] != TLSEXT_NAMETYPE_host_name)
		return SSL_CLIENT_HELLO_SUCCESS;
	n = (size_t)(p[3] << 8 | p[4]);
	if (n > 0 && n + 5 <= len && n < sizeof(hello_name) &&
	    memchr(p + 5, '\0', n) == NULL) {
		memcpy(hello_name, p + 5, n);
		hello_name[n] = '\0';
		hello_bad = 0;
	}
	return SSL_CLIENT_HELLO_SUCCESS;
}

/*
 * A ticket decrypted: is its session for this connection?  Only under
 * the SNI name it was made for (RFC 8446 4.6.1, RFC 6066 3); else a full
 * handshake, with the certificate of the name asked for now.
 */
static SSL_TICKET_RETURN
ticket_use(SSL *s, SSL_SESSION *ss, const unsigned char *keyname,
    size_t keylen, SSL_TICKET_STATUS status, void *arg)
{
	const char *now = hello_name;
	void *was = NULL;
	size_t wlen = 0;

	(void)s;
	(void)keyname;
	(void)keylen;
	(void)arg;
	if ((status != SSL_TICKET_SUCCESS && status !=
	    SSL_TICKET_SUCCESS_RENEW) || hello_bad)
		return SSL_TICKET_RETURN_IGNORE_RENEW;
	if (SSL_SESSION_get0_ticket_appdata(ss, &was, &wlen) != 1 ||
	    wlen != strlen(now) || (wlen > 0 && strncasecmp(was, now,
	    wlen) != 0))
		return SSL_TICKET_RETURN_IGNORE_RENEW;
	return status == SSL_TICKET_SUCCESS ? SSL_TICKET_RETURN_USE :
	    SSL_TICKET_RETURN_USE_RENEW;
}

/* ---- contexts ---------------------------------------------------------- */

static int
alpn_cb(SSL *s, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned int i;

	(void)s;
	(void)arg;
	for (i = 0; i < inlen && i + 1 + in[i] <= inlen; i += 1 + in[i])
		if (in[i] == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0) {
			*out = in + i + 1;
			*outlen = 8;
			return SSL_TLSEXT_ERR_OK;
		}
	/* h2 alone: answer without ALPN, the client decides */
	return SSL_TLSEXT_ERR_NOACK;
}

/* Does an SNI name match "host" or "*.domain" (one label)? */
int
tls_name_match(const char *pattern, const char *name)
{
	const char *dot;

	if (strcasecmp(pattern, name) == 0)
		return 1;
	if (strncmp(pattern, "*.", 2) != 0 || (dot = strchr(name, '.')) ==
	    NULL || dot == name)
		return 0;
	return strcasecmp(pattern + 1, dot) == 0;
}

static int
sni_cb(SSL *s, int *alert, void *arg)
{
	const char *name = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
	size_t i;

	(void)alert;
	(void)arg;
	for (i = 0; name != NULL && i < nsnis; i++)
		if (tls_name_match(snis[i].name, name)) {
			SSL_set_SSL_CTX(s, snis[i].ctx);
			return SSL_TLSEXT_ERR_OK;
		}
	/* (a second ClientHello, after a retry, may name no other) */
	if (SSL_get_SSL_CTX(s) != ctx_main)
		SSL_set_SSL_CTX(s, ctx_main);
	return SSL_TLSEXT_ERR_OK;
}

/* Refuses encrypted keys: nobody is there to type a passphrase. */
static int
no_passphrase(char *buf, int size, int rw, void *u)
{
	(void)buf;
	(void)size;
	(void)rw;
	(void)u;
	return -1;
}

/*
 * Read a private key: a regular file that others cannot read or write,
 * read into memory that no core file holds and wiped after parsing.
 */
static EVP_PKEY *
load_key(const char *path, const char *file, int line)
{
	struct stat st;
	EVP_PKEY *pk = NULL;
	BIO *bio = NULL;
	char *buf = MAP_FAILED;
	size_t len = 0, got = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) ==
	    -1) {
		at(file, line, "key %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		at(file, line, "key %s: not a regular file", path);
		goto out;
	}
	if ((st.st_mode & (S_IROTH | S_IWOTH)) != 0) {
		at(file, line, "key %s: readable or writable by others "
		    "(chmod 600, or 640 for a group)", path);
		goto out;
	}
	if (st.st_size <= 0 || st.st_size > KEY_FILE_MAX) {
		at(file, line, "key %s: empty or too large", path);
		goto out;
	}
	len = (size_t)st.st_size;
	if ((buf = mmap(NULL, len + 1, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0)) == MAP_FAILED) {
		at(file, line, "key %s: %s", path, strerror(errno));
		goto out;
	}
	(void)madvise(buf, len + 1, MADV_DONTDUMP);
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if ((bio = BIO_new_mem_buf(buf, (int)got)) != NULL)
		pk = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (pk == NULL)
		at(file, line, "key %s: no usable private key (%s)", path,
		    memmem(buf, got, "ENCRYPTED", 9) != NULL ?
		    "encrypted keys are not supported" : ssl_why());
out:
	BIO_free(bio);
	if (buf != MAP_FAILED) {
		OPENSSL_cleanse(buf, len + 1);
		munmap(buf, len + 1);
	}
	close(fd);
	return pk;
}

/* The certificate's dates against now: 0, or -1 (logged) if not valid. */
static int
cert_dates(X509 *x, const char *path, const char *file, int line, int warn)
{
	char when[64] = "";
	BIO *b;

	if (x == NULL)
		return -1;
	if ((b = BIO_new(BIO_s_mem())) != NULL) {
		int n;

		ASN1_TIME_print(b, X509_get0_notAfter(x));
		n = BIO_read(b, when, sizeof(when) - 1);
		when[n > 0 ? n : 0] = '\0';
		BIO_free(b);
	}
	if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0) {
		at(file, line, "certificate %s expired (%s)", path, when);
		return -1;
	}
	if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0) {
		at(file, line, "certificate %s is not valid yet", path);
		return -1;
	}
	if (warn && X509_cmp_time(X509_get0_notAfter(x), &(time_t){
	    time(NULL) + 14 * 86400 }) <= 0)
		ih_log(IH_LOG_WARN, "%s:%d: certificate %s expires soon (%s)",
		    file, line, path, when);
	return 0;
}

/* Protocol range of tls_protocols; versions in a gap are switched off. */
static void
set_protocols(SSL_CTX *ctx)
{
	static const struct { int v; uint64_t off; } all[] = {
		{ TLS1_VERSION, SSL_OP_NO_TLSv1 },
		{ TLS1_1_VERSION, SSL_OP_NO_TLSv1_1 },
		{ TLS1_2_VERSION, SSL_OP_NO_TLSv1_2 },
		{ TLS1_3_VERSION, SSL_OP_NO_TLSv1_3 },
	};
	int lo = 0, hi = 0, have[4] = { 0, 0, 0, 0 };
	size_t i, j;

	for (i = 0; cfg.tls_protocols != NULL && cfg.tls_protocols[i] != NULL;
	    i++) {
		int v = tls_version(cfg.tls_protocols[i]);

		for (j = 0; j < 4; j++)
			if (all[j].v == v)
				have[j] = 1;
		if (v > 0 && (lo == 0 || v < lo))
			lo = v;
		if (v > hi)
			hi = v;
	}
	if (lo == 0)
		lo = hi = TLS1_2_VERSION;	/* an empty list: the default */
	SSL_CTX_set_min_proto_version(ctx, lo);
	SSL_CTX_set_max_proto_version(ctx, hi);
	for (j = 0; j < 4; j++)
		if (!have[j] && all[j].v > lo && all[j].v < hi)
			SSL_CTX_set_options(ctx, all[j].off);
}

/*
 * inetd mode: the certificate and key are read only when a handshake
 * needs them.  OpenSSL calls this for a full handshake, never for a
 * resumed one, which so skips parsing them (millions of instructions).
 * 1, or 0 to fail the handshake (logged).
 */
static int
cert_cb(SSL *s, void *arg)
{
	const struct source *src = SSL_CTX_get_app_data(SSL_get_SSL_CTX(s));
	EVP_PKEY *pk;
	int ok;

	(void)arg;
	if (src == NULL || SSL_get_certificate(s) != NULL)
		return 1;
	/*
	 * The security level judges a certificate's signature by its
	 * digest's legacy name, which inetd mode did not load for all.
	 */
	EVP_add_digest(EVP_sha1());
	EVP_add_digest(EVP_sha224());
	EVP_add_digest(EVP_sha256());
	EVP_add_digest(EVP_sha384());
	EVP_add_digest(EVP_sha512());
	if (SSL_use_certificate_chain_file(s, src->cert) != 1) {
		at(src->cfile, src->cline, "certificate %s: %s", src->cert,
		    ssl_why());
		return 0;
	}
	/* --check warned of an expiry ahead; each handshake just refuses */
	if (cert_dates(SSL_get_certificate(s), src->cert, src->cfile,
	    src->cline, 0) == -1 || (pk = load_key(src->key, src->kfile,
	    src->kline)) == NULL)
		return 0;
	ok = SSL_use_PrivateKey(s, pk) == 1 && SSL_check_private_key(s) == 1;
	EVP_PKEY_free(pk);
	if (!ok)
		at(src->kfile, src->kline, "key %s does not match certificate "
		    "%s", src->key, src->cert);
	return ok;
}

/*
 * One context for a certificate and key, with everything the server
 * sets on every context; lazy: the two are read by cert_cb when a full
 * handshake needs them.  NULL on failure (each problem logged at
 * file:line); *errs counts them.
 */
/*
 * The session id context: a session (ticket) resumes only in a context
 * with the same one (RFC 5246 7.4.1.2's "same security parameters").
 * It is a hash of what decided the session's client certificate - the
 * verification mode and every CA certificate OpenSSL loaded from tls_ca
 * (DER) - so that a ticket from a server (any that shares the datadir,
 * or this one before a HUP) with laxer client-certificate rules or other
 * CAs gets a full handshake instead of its old verdict.  (OpenSSL checks
 * the context of the first SSL_CTX, before SNI chooses another:
 * ticket_use binds the name.)
 */
static int
session_context(SSL_CTX *ctx)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(
	    SSL_CTX_get_cert_store(ctx));
	unsigned char md[EVP_MAX_MD_SIZE], mode = (unsigned char)
	    cfg.tls_verify_client;
	unsigned int mdlen = 0;
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	int i, ok;

	ok = h != NULL && EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(h, "ihttpd session 1", 17) == 1 &&
	    EVP_DigestUpdate(h, &mode, 1) == 1;
	for (i = 0; ok && objs != NULL && i < sk_X509_OBJECT_num(objs); i++) {
		X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
		unsigned char *der = NULL;
		int n;

		if (x == NULL)
			continue;
		if ((n = i2d_X509(x, &der)) <= 0 ||
		    EVP_DigestUpdate(h, der, (size_t)n) != 1)
			ok = 0;
		OPENSSL_free(der);
	}
	ok = ok && EVP_DigestFinal_ex(h, md, &mdlen) == 1 &&
	    mdlen <= SSL_MAX_SID_CTX_LENGTH &&
	    SSL_CTX_set_session_id_context(ctx, md, mdlen) == 1;
	EVP_MD_CTX_free(h);
	return ok ? 0 : -1;
}

static SSL_CTX *
ctx_new(const struct source *where, int lazy, int *errs)
{
	const char *cert = where->cert, *key = where->key;
	SSL_CTX *ctx;
	EVP_PKEY *pk;
	int caline, n0 = *errs;
	const char *cafile;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		at(where->cfile, where->cline, "TLS: %s", ssl_why());
		(*errs)++;
		return NULL;
	}
	/* no compression (CRIME), no renegotiation, EOF is the end */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
	    SSL_OP_ENABLE_KTLS);
	/*
	 * The server's order (strongest first), except that a client that
	 * puts ChaCha20 first (no AES instructions) gets it.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_PRIORITIZE_CHACHA);
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_read_ahead(ctx, 1);
	set_protocols(ctx);
	if (SSL_CTX_set_cipher_list(ctx, cfg.tls_ciphers) != 1) {
		int l;
		const char *f = config_where("tls_ciphers", &l);

		at(f, l, "tls_ciphers: no cipher in '%s'", cfg.tls_ciphers);
		(*errs)++;
	}
	if (SSL_CTX_set_ciphersuites(ctx, cfg.tls_ciphersuites) != 1) {
		int l;
		const char *f = config_where("tls_ciphersuites", &l);

		at(f, l, "tls_ciphersuites: no suite in '%s'",
		    cfg.tls_ciphersuites);
		(*errs)++;
	}
	SSL_CTX_set1_groups_list(ctx, TLS_GROUPS);
	SSL_CTX_set_dh_auto(ctx, 1);

	/* stateless tickets only: no per-process cache to keep */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_timeout(ctx, (long)cfg.tls_ticket_lifetime);
	SSL_CTX_set_num_tickets(ctx, 1);
	SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
	SSL_CTX_set_session_ticket_cb(ctx, ticket_name, ticket_use, NULL);
	SSL_CTX_set_client_hello_cb(ctx, hello_cb, NULL);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
	if (lazy) {
		struct source *src = arena_alloc(&cfg.mem, sizeof(*src));

		if (src == NULL) {
			at(where->cfile, where->cline, "TLS: out of memory");
			(*errs)++;
		} else {
			*src = *where;
			SSL_CTX_set_app_data(ctx, src);
			SSL_CTX_set_cert_cb(ctx, cert_cb, NULL);
		}
	} else if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		at(where->cfile, where->cline, "certificate %s: %s", cert,
		    access(cert, R_OK) == -1 ? strerror(errno) : ssl_why());
		(*errs)++;
	} else if (cert_dates(SSL_CTX_get0_certificate(ctx), cert,
	    where->cfile, where->cline, 1) == -1)
		(*errs)++;
	if (lazy)
		;
	else if ((pk = load_key(key, where->kfile, where->kline)) == NULL)
		(*errs)++;
	else {
		if (SSL_CTX_use_PrivateKey(ctx, pk) != 1 ||
		    (*errs == n0 && SSL_CTX_check_private_key(ctx) != 1)) {
			at(where->kfile, where->kline, "key %s does not match "
			    "certificate %s", key, cert);
			(*errs)++;
		}
		EVP_PKEY_free(pk);
	}
	cafile = config_where("tls_ca", &caline);
	if (cfg.tls_ca != NULL) {
		STACK_OF(X509_NAME) *names;

		if (SSL_CTX_load_verify_locations(ctx, cfg.tls_ca, NULL) != 1 ||
		    (names = SSL_load_client_CA_file(cfg.tls_ca)) == NULL) {
			at(cafile, caline, "tls_ca %s: %s", cfg.tls_ca,
			    access(cfg.tls_ca, R_OK) == -1 ? strerror(errno) :
			    "no CA certificate in it");
			(*errs)++;
		} else
			SSL_CTX_set_client_CA_list(ctx, names);
	}
	/* after tls_ca: the context covers what was loaded */
	if (session_context(ctx) == -1) {
		at(where->cfile, where->cline, "TLS: session context: %s",
		    ssl_why());
		(*errs)++;
	}
	if (cfg.tls_verify_client != TLS_VERIFY_OFF)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
		    (cfg.tls_verify_client == TLS_VERIFY_ON ?
		    SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
	if (*errs != n0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* Does anything speak TLS: `tls on`, or a port with /tls? */
static int
tls_wanted(const char **file, int *line)
{
	int i;

	*file = config_where("tls", line);
	if (cfg.tls)
		return 1;
	if ((i = listen_first_tls(&cfg.ports)) == -1)
		return 0;
	*file = cfg.ports.file[i];
	*line = cfg.ports.line[i];
	return 1;
}

/* Build every context; the number of problems (each logged). */
static int
build(int lazy)
{
	const char *file, *cfile, *kfile;
	int line, cline, kline, errs = 0;
	struct source main_src;
	size_t i;

	if (!tls_wanted(&file, &line) && cfg.tls_cert == NULL &&
	    cfg.tls_sni.n == 0)
		return 0;
	if (!initialised) {
		/*
		 * No openssl.cnf (the settings are ours), and no legacy cipher
		 * names: OpenSSL 3 would copy them all into its name map,
		 * millions of instructions a process in inetd mode.  (The
		 * digests stay: certificate checks look them up by nid.)  No
		 * OPENSSL_cleanup at exit either: it frees what the exit
		 * frees anyway, a million instructions a process; the state
		 * stays reachable, so leak checkers do not count it.  In
		 * inetd mode the texts of libcrypto's errors are not loaded
		 * (0.9M instructions a process): handshake errors are libssl's
		 * and keep theirs, a certificate or key that fails to load
		 * logs its error code (`openssl errstr` reads it), and
		 * --check, which reads them all first, has every text.
		 */
		OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG |
		    OPENSSL_INIT_NO_ADD_ALL_CIPHERS | OPENSSL_INIT_NO_ATEXIT |
		    (lazy ? OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS |
		    OPENSSL_INIT_NO_ADD_ALL_DIGESTS : 0), NULL);
		OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG |
		    OPENSSL_INIT_NO_ATEXIT, NULL);
		initialised = 1;
	}
	cfile = config_where("tls_cert", &cline);
	kfile = config_where("tls_key", &kline);
	if (cfg.tls_cert == NULL) {
		at(file, line, "TLS needs tls_cert (and tls_key)");
		return 1;
	}
	if (cfg.tls_verify_client != TLS_VERIFY_OFF && cfg.tls_ca == NULL) {
		int l;
		const char *f = config_where("tls_verify_client", &l);

		at(f, l, "tls_verify_client needs tls_ca");
		errs++;
	}
	main_src.cert = cfg.tls_cert;
	main_src.cfile = cfile;
	main_src.cline = cline;
	main_src.key = cfg.tls_key != NULL ? cfg.tls_key : cfg.tls_cert;
	main_src.kfile = cfg.tls_key != NULL ? kfile : cfile;
	main_src.kline = cfg.tls_key != NULL ? kline : cline;
	ctx_main = ctx_new(&main_src, lazy, &errs);
	if (cfg.tls_sni.n > 0 && (snis = calloc(cfg.tls_sni.n / 3,
	    sizeof(*snis))) == NULL)
		return errs + 1;
	for (i = 0; i + 2 < cfg.tls_sni.n; i += 3) {
		struct source src = { cfg.tls_sni.v[i + 1], cfg.tls_sni.file[i],
			cfg.tls_sni.line[i], cfg.tls_sni.v[i + 2],
			cfg.tls_sni.file[i], cfg.tls_sni.line[i] };
		SSL_CTX *c = ctx_new(&src, lazy, &errs);

		if (c == NULL)
			continue;
		snis[nsnis].name = cfg.tls_sni.v[i];
		snis[nsnis++].ctx = c;
	}
	if (ctx_main != NULL && nsnis > 0)
		SSL_CTX_set_tlsext_servername_callback(ctx_main, sni_cb);
	return errs;
}

/* --check: load and match every certificate and key.  Problems found. */
int
tls_check(void)
{
	/* HUP's check runs in a fork of a server that has its own */
	SSL_CTX *m = ctx_main;
	struct sni *sv = snis;
	size_t ns = nsnis;
	struct ticket_keys *tk = tickets;
	int n;

	ctx_main = NULL;
	snis = NULL;
	nsnis = 0;
	tickets = NULL;
	n = build(0);
	tls_cleanup();
	ctx_main = m;
	snis = sv;
	nsnis = ns;
	tickets = tk;
	return n;
}

/*
 * Before the first connection (a daemon: before the first fork): the
 * contexts, and the ticket keys in a shared page.  lazy (inetd mode):
 * certificates and keys are read by the handshake that needs them, so a
 * resumed one never does; --check reads them all.  The process stops
 * being dumpable, so no core file holds the private key.  0 or -1.
 */
int
tls_setup(int lazy)
{
	if (ctx_main != NULL)
		return 0;
	if (build(lazy) > 0 || ctx_main == NULL) {
		tls_cleanup();
		return -1;
	}
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	return tls_tickets_init();
}

/*
 * The page that holds the ticket keys, shared with the workers a daemon
 * forks and left out of core files; empty until tls_tickets_refresh.
 * 0 or -1 (logged).
 */
int
tls_tickets_init(void)
{
	if (tickets != NULL)
		return 0;
	if ((tickets = mmap(NULL, sizeof(*tickets), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED) {
		tickets = NULL;
		ih_log(IH_LOG_ERR, "TLS tickets: %s", strerror(errno));
		return -1;
	}
	(void)madvise(tickets, sizeof(*tickets), MADV_DONTDUMP);
	memset(tickets, 0, sizeof(*tickets));
	return 0;
}

void
tls_cleanup(void)
{
	size_t i;

	SSL_CTX_free(ctx_main);
	ctx_main = NULL;
	for (i = 0; i < nsnis; i++)
		SSL_CTX_free(snis[i].ctx);
	free(snis);
	snis = NULL;
	nsnis = 0;
	if (tickets != NULL) {
		OPENSSL_cleanse(tickets, sizeof(*tickets));
		munmap(tickets, sizeof(*tickets));
		tickets = NULL;
	}
}

/*
 * A change of credentials (seteuid, setuid) makes the kernel reset the
 * dumpable flag to fs.suid_dumpable: set it again, so that no core file
 * of a TLS process holds its keys.
 */
void
tls_nodump(void)
{
	if (ctx_main != NULL)
		(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* ---- a connection ------------------------------------------------------ */

/* Wait up to ms for c to be readable (or writable).  1, 0 timeout, -1. */
int
tls_wait(struct conn *c, int want_write, int64_t ms)
{
	int64_t deadline = mono_ms() + ms;
	struct pollfd p;

	p.fd = want_write ? c->out : c->in;
	p.events = want_write ? POLLOUT : POLLIN;
	for (;;) {
		int64_t left = deadline - mono_ms();
		int rc;

		if (left <= 0)
			return 0;
		rc = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc != 0)
			return rc > 0 ? 1 : -1;
	}
}

static void
nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl != -1 && (fl & O_NONBLOCK) == 0)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Plain HTTP on a TLS port: say so in plain HTTP, once, and close. */
static void
plaintext_refused(struct conn *c)
{
	static const char body[] = "<html><head><title>400 Bad Request"
	    "</title></head><body><h1>400 Bad Request</h1><p>This port "
	    "speaks HTTPS: a plain HTTP request was sent to it.</p></body>"
	    "</html>\n";
	char msg[512];
	int n;

	n = snprintf(msg, sizeof(msg), "HTTP/1.1 400 Bad Request\r\n"
	    "Content-Type: text/html\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n%s", sizeof(body) - 1, body);
	if (n > 0 && (size_t)n < sizeof(msg) && tls_wait(c, 1, 1000) == 1)
		(void)!write(c->out, msg, (size_t)n);
}

/* The client certificate's subject (RFC 2253), or NULL. */
static char *
subject_dn(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *out = NULL;
	long n;
	char *p;

	if (b == NULL)
		return NULL;
	if (X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
	    XN_FLAG_RFC2253) >= 0 && (n = BIO_get_mem_data(b, &p)) > 0 &&
	    n < 4096 && (out = malloc((size_t)n + 1)) != NULL) {
		memcpy(out, p, (size_t)n);
		out[n] = '\0';
	}
	BIO_free(b);
	return out;
}

/*
 * The handshake on c's fds, within header_timeout.  0, or -1 (logged;
 * a plain HTTP request got a plain 400) and c is plain again.
 */
int
tls_start(struct conn *c)
{
	int64_t deadline = mono_ms() + cfg.header_timeout * 1000;
	const char *why = NULL;
	SSL *s;
	X509 *peer;

	if (ctx_main == NULL || (s = SSL_new(ctx_main)) == NULL ||
	    (c->tbuf = malloc(TLS_RECORD)) == NULL) {
		ih_log(IH_LOG_ERR, "%s: TLS: out of memory", conn_who(c));
		c->broken = 1;
		return -1;
	}
	c->tls = s;
	if ((c->in == c->out ? SSL_set_fd(s, c->in) : SSL_set_rfd(s, c->in) &&
	    SSL_set_wfd(s, c->out)) != 1)
		goto fail;
	nonblock(c->in);
	nonblock(c->out);
	for (;;) {
		int rc, e;

		ERR_clear_error();
		if ((rc = SSL_accept(s)) == 1)
			break;
		e = SSL_get_error(s, rc);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			int64_t left = deadline - mono_ms();

			if (left <= 0 || tls_wait(c, e == SSL_ERROR_WANT_WRITE,
			    left) != 1) {
				why = "timed out";
				c->broken = 1;
				goto fail;
			}
			continue;
		}
		if (ERR_GET_REASON(ERR_peek_error()) == SSL_R_HTTP_REQUEST) {
			why = "plain HTTP request (answered 400)";
			plaintext_refused(c);
		} else if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN)
			why = ERR_peek_error() != 0 ? ssl_why() : errno != 0 ?
			    strerror(errno) : "connection closed";
		else
			why = ssl_why();
		goto fail;
	}
	c->tls_proto = SSL_get_version(s);
	c->tls_cipher = SSL_get_cipher_name(s);
	if (cfg.tls_verify_client != TLS_VERIFY_OFF) {
		if ((peer = SSL_get1_peer_certificate(s)) != NULL) {
			c->tls_client_verify = SSL_get_verify_result(s) ==
			    X509_V_OK ? "SUCCESS" : "FAILED";
			c->tls_client_dn = subject_dn(peer);
			X509_free(peer);
		} else
			c->tls_client_verify = "NONE";
		/* the session context keeps these out; never trust a slip */
		if (strcmp(c->tls_client_verify, "FAILED") == 0 ||
		    (cfg.tls_verify_client == TLS_VERIFY_ON &&
		    strcmp(c->tls_client_verify, "SUCCESS") != 0)) {
			why = "a resumed session without a verified client "
			    "certificate";
			c->broken = 1;
			goto fail;
		}
	}
	ih_debug(IH_DBG_INIT, "TLS %s %s%s", c->tls_proto, c->tls_cipher,
	    SSL_session_reused(s) ? ", resumed" : "");
	return 0;
fail:
	ih_log(IH_LOG_INFO, "%s: TLS handshake failed: %s", conn_who(c),
	    why != NULL ? why : ssl_why());
	ERR_clear_error();
	tls_end(c, 0);
	return -1;
}

/* Does OpenSSL hold bytes that poll cannot see? */
int
tls_pending(const struct conn *c)
{
	return SSL_has_pending(c->tls);
}

/* An SSL_* result as read/write would give it (EAGAIN: wait, and see
 * tls_want_write for which way). */
static ssize_t
io_result(struct conn *c, int rc, size_t n)
{
	int e;

	if (rc == 1) {
		c->tls_want_write = 0;
		return (ssize_t)n;
	}
	switch ((e = SSL_get_error(c->tls, rc))) {
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_WANT_WRITE:
	case SSL_ERROR_WANT_READ:
		c->tls_want_write = e == SSL_ERROR_WANT_WRITE;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_SYSCALL:
		if (errno == 0 || errno == EAGAIN)
			errno = EPIPE;
		break;
	default:
		ih_debug(IH_DBG_READ, "TLS: %s", ssl_why());
		errno = EPROTO;
		break;
	}
	ERR_clear_error();
	c->tls_want_write = 0;
	return -1;
}

/* Read decrypted bytes: >0, 0 at the end, -1 (EAGAIN: wait). */
ssize_t
tls_read(struct conn *c, void *buf, size_t len)
{
	size_t n = 0;
	int rc;

	ERR_clear_error();
	rc = SSL_read_ex(c->tls, buf, len, &n);
	return io_result(c, rc, n);
}

/* Write all of buf as records: n, or -1 (EAGAIN: call again, same buf). */
ssize_t
tls_write(struct conn *c, const void *buf, size_t len)
{
	size_t n = 0;
	int rc;

	ERR_clear_error();
	rc = SSL_write_ex(c->tls, buf, len, &n);
	return io_result(c, rc, n);
}

/* Is the kernel doing the record layer (kTLS), so that sendfile works? */
int
tls_ktls(const struct conn *c)
{
	return BIO_get_ktls_send(SSL_get_wbio(c->tls)) > 0;
}

ssize_t
tls_sendfile(struct conn *c, int fd, off_t off, size_t len)
{
	ossl_ssize_t n;

	ERR_clear_error();
	if ((n = SSL_sendfile(c->tls, fd, off, len, 0)) >= 0)
		return (ssize_t)n;
	return io_result(c, -1, 0);
}

/*
 * End TLS on c: close_notify first when notify (and the handshake was
 * done), given a second to leave; then the fds are plain again.
 */
void
tls_end(struct conn *c, int notify)
{
	SSL *s = c->tls;

	if (s != NULL && notify && SSL_is_init_finished(s)) {
		ERR_clear_error();
		if (SSL_shutdown(s) < 0 && SSL_get_error(s, -1) ==
		    SSL_ERROR_WANT_WRITE && tls_wait(c, 1, 1000) == 1)
			(void)SSL_shutdown(s);
		ERR_clear_error();
	}
	SSL_free(s);
	c->tls = NULL;
	free(c->tbuf);
	c->tbuf = NULL;
	free(c->tls_client_dn);
	c->tls_client_dn = NULL;
}
