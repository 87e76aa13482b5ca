/*
 * proxy.c - the PROXY protocol (HAProxy's specification, versions 1 and
 * 2) from a balancer we trust: the header a balancer sends before the
 * client's bytes, naming the client's address and port (and, in version
 * 2, facts such as "the client spoke TLS to me").  It is accepted only
 * from a peer in trusted_proxies and only where it is expected (the
 * proxy_protocol key in inetd mode, a /proxy port in standalone mode); a
 * header from anyone else, a malformed or truncated one, or none within
 * header_timeout closes the connection without a word, as the balancer
 * expects of a server it was told speaks the protocol.
 *
 * Exactly the header's bytes are read, never one of the request after
 * it: the request may be a TLS handshake that OpenSSL reads from the fd
 * itself.  A version 2 header says its length in its first 16 bytes; a
 * version 1 line ends at CRLF, which a socket lets us find by peeking
 * (and a pipe, a debugging aid, by reading a byte at a time).
 *
 * proxy_parse is the whole parser, a pure function of its bytes, so that
 * the unit tests and the fuzz driver reach every branch of it.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "internal.h"

static const unsigned char v2_sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00,
	0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

#define V1_MAX		107	/* the longest v1 line, CRLF included */
#define V1_MIN		15	/* "PROXY UNKNOWN\r\n" */
#define V2_HEAD		16

/* v2 TLV types and the SSL TLV's client bits (section 2.2) */
#define PP2_TYPE_CRC32C		0x03
#define PP2_TYPE_SSL		0x20
#define PP2_SUBTYPE_SSL_VERSION	0x21
#define PP2_SUBTYPE_SSL_CIPHER	0x23
#define PP2_CLIENT_SSL		0x01

static uint16_t
get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* CRC-32C (Castagnoli, reflected 0x82f63b78), bit by bit: a header is
 * short and a table would cost more pages than it saves time. */
static uint32_t
crc32c(uint32_t crc, const unsigned char *p, size_t n)
{
	int k;

	crc = ~crc;
	while (n-- > 0) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = crc >> 1 ^ (0x82f63b78U & (0U - (crc & 1)));
	}
	return ~crc;
}

/* A port in v1: decimal 0..65535 without leading zeros.  0 or -1. */
static int
v1_port(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;
	size_t i;

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*out = v;
	return 0;
}

/* An address of family af in v1, n bytes at s.  0 or -1. */
static int
v1_addr(int af, const char *s, size_t n, unsigned char *out)
{
	char buf[INET6_ADDRSTRLEN];

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(af, buf, out) == 1 ? 0 : -1;
}

/*
 * A v1 line: "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n", or "PROXY UNKNOWN"
 * and anything up to CRLF (the balancer's own ends are then the peer).
 */
static long
parse_v1(const unsigned char *b, size_t n, struct proxy_hdr *h)
{
	const char *s = (const char *)b, *f[4];
	size_t len, i, fl[4];
	const unsigned char *lf;
	int af, k;

	h->version = 1;
	if (memcmp(s, "PROXY ", n < 6 ? n : 6) != 0)
		return -1;
	lf = memchr(b, '\n', n < V1_MAX ? n : V1_MAX);
	if (lf == NULL) {
		/* What is here must still be able to become a header: a
		 * known protocol, then text; a CR only last. */
		if (n > 6 && memcmp(s + 6, "TCP4", n - 6 < 4 ? n - 6 : 4) != 0 &&
		    memcmp(s + 6, "TCP6", n - 6 < 4 ? n - 6 : 4) != 0 &&
		    memcmp(s + 6, "UNKNOWN", n - 6 < 7 ? n - 6 : 7) != 0)
			return -1;
		for (i = 6; i < n; i++)
			if ((b[i] < 0x20 || b[i] >= 0x7f) && !(b[i] == '\r' &&
			    i == n - 1))
				return -1;
		return n >= V1_MAX ? -1 : 0;
	}
	len = (size_t)(lf - b) + 1;
	if (len < V1_MIN || b[len - 2] != '\r')
		return -1;
	/* Text only: a NUL would end an address early for inet_pton. */
	for (i = 6; i < len - 2; i++)
		if (b[i] < 0x20 || b[i] >= 0x7f)
			return -1;
	if (len >= 6 + 7 + 2 && memcmp(s + 6, "UNKNOWN", 7) == 0 &&
	    (len == 6 + 7 + 2 || s[13] == ' ')) {
		/* The rest is to be ignored (text, as checked above). */
		h->cmd = PROXY_LOCAL;
		h->family = AF_UNSPEC;
		return (long)len;
	}
	if (len < 11 || s[10] != ' ')
		return -1;
	if (memcmp(s + 6, "TCP4", 4) == 0)
		af = AF_INET;
	else if (memcmp(s + 6, "TCP6", 4) == 0)
		af = AF_INET6;
	else
		return -1;
	/* Four fields, one space apart. */
	for (i = 11, k = 0; k < 4; k++) {
		f[k] = s + i;
		while (i < len - 2 && s[i] != ' ')
			i++;
		fl[k] = (size_t)(s + i - f[k]);
		if (k < 3) {
			if (i >= len - 2)
				return -1;
			i++;
		}
	}
	if (i != len - 2)
		return -1;
	if (v1_addr(af, f[0], fl[0], h->src) == -1 ||
	    v1_addr(af, f[1], fl[1], h->dst) == -1 ||
	    v1_port(f[2], fl[2], &h->src_port) == -1 ||
	    v1_port(f[3], fl[3], &h->dst_port) == -1)
		return -1;
	h->cmd = PROXY_PROXY;
	h->family = af;
	return (long)len;
}

/* A printable token (a TLS version or cipher name) for the CGI variables;
 * anything else is dropped rather than passed on. */
static void
tlv_text(char *out, size_t cap, const unsigned char *v, size_t n)
{
	size_t i;

	out[0] = '\0';
	if (n == 0 || n >= cap)
		return;
	for (i = 0; i < n; i++)
		if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'A' &&
		    v[i] <= 'Z') || (v[i] >= 'a' && v[i] <= 'z') ||
		    v[i] == '.' || v[i] == '_' || v[i] == '-'))
			return;
	memcpy(out, v, n);
	out[n] = '\0';
}

/* The SSL TLV: client bits, verify result, then sub-TLVs.  0 or -1. */
static int
parse_ssl(const unsigned char *v, size_t n, struct proxy_hdr *h)
{
	size_t i;

	if (n < 5)
		return -1;
	h->ssl = (v[0] & PP2_CLIENT_SSL) != 0;
	for (i = 5; i < n; ) {
		size_t l;

		if (n - i < 3 || (l = get16(v + i + 1)) > n - i - 3)
			return -1;
		if (v[i] == PP2_SUBTYPE_SSL_VERSION)
			tlv_text(h->ssl_version, sizeof(h->ssl_version),
			    v + i + 3, l);
		else if (v[i] == PP2_SUBTYPE_SSL_CIPHER)
			tlv_text(h->ssl_cipher, sizeof(h->ssl_cipher),
			    v + i + 3, l);
		i += 3 + l;
	}
	return 0;
}

static long
parse_v2(const unsigned char *b, size_t n, struct proxy_hdr *h,
    size_t *need)
{
	size_t len, alen, i;
	int seen_ssl = 0, seen_crc = 0;

	h->version = 2;
	if (memcmp(b, v2_sig, n < 12 ? n : 12) != 0)
		return -1;
	if (n >= 13 && (b[12] >> 4 != 2 || (b[12] & 0xf) > 1))
		return -1;	/* version 2; LOCAL or PROXY */
	if (n < V2_HEAD)
		return 0;
	len = get16(b + 14);
	if (V2_HEAD + len > PROXY_MAX)
		return -1;
	*need = V2_HEAD + len;
	if (n < V2_HEAD + len)
		return 0;
	if ((b[12] & 0xf) == 0) {
		/* LOCAL: the balancer's own connection (a health check); what
		 * follows is to be skipped, whatever it is. */
		h->cmd = PROXY_LOCAL;
		h->family = AF_UNSPEC;
		return (long)(V2_HEAD + len);
	}
	switch (b[13]) {
	case 0x00:	/* UNSPEC: "use the real connection endpoints" */
		h->cmd = PROXY_LOCAL;
		h->family = AF_UNSPEC;
		return (long)(V2_HEAD + len);
	case 0x11:	/* TCP over IPv4 */
	case 0x21: {	/* TCP over IPv6 */
		size_t al = b[13] == 0x11 ? 4 : 16;

		h->family = b[13] == 0x11 ? AF_INET : AF_INET6;
		alen = 2 * al + 4;
		if (len < alen)
			return -1;
		memcpy(h->src, b + 16, al);
		memcpy(h->dst, b + 16 + al, al);
		h->src_port = get16(b + 16 + 2 * al);
		h->dst_port = get16(b + 18 + 2 * al);
		break;
	}
	case 0x31:	/* a unix stream socket: no address to report */
		h->family = AF_UNIX;
		alen = 216;
		if (len < alen)
			return -1;
		break;
	default:	/* datagrams, or families the spec does not have */
		return -1;
	}
	h->cmd = PROXY_PROXY;
	/* The TLVs must fill what is left exactly. */
	for (i = V2_HEAD + alen; i < V2_HEAD + len; ) {
		size_t l;

		if (V2_HEAD + len - i < 3 ||
		    (l = get16(b + i + 1)) > V2_HEAD + len - i - 3)
			return -1;
		if (b[i] == PP2_TYPE_SSL) {
			if (seen_ssl++ || parse_ssl(b + i + 3, l, h) == -1)
				return -1;
		} else if (b[i] == PP2_TYPE_CRC32C) {
			unsigned char z[4] = { 0, 0, 0, 0 };
			uint32_t want, got;

			if (seen_crc++ || l != 4)
				return -1;
			want = (uint32_t)b[i + 3] << 24 | (uint32_t)b[i + 4] <<
			    16 | (uint32_t)b[i + 5] << 8 | b[i + 6];
			/* Over the whole header, this field taken as zero. */
			got = crc32c(0, b, i + 3);
			got = crc32c(got, z, 4);
			got = crc32c(got, b + i + 7, V2_HEAD + len - i - 7);
			if (got != want)
				return -1;
		}
		i += 3 + l;
	}
	return (long)(V2_HEAD + len);
}

/*
 * Parse the PROXY header at the start of b (n bytes).  > 0: the header's
 * length, and h filled; 0: not complete yet (*need: the length it will
 * have, when the bytes so far say; else 0); -1: not a valid header, nor
 * the start of one.
 */
long
proxy_parse(const unsigned char *b, size_t n, struct proxy_hdr *h,
    size_t *need)
{
	memset(h, 0, sizeof(*h));
	*need = 0;
	if (n == 0)
		return 0;
	if (b[0] == 'P')
		return parse_v1(b, n, h);
	if (b[0] == v2_sig[0])
		return parse_v2(b, n, h, need);
	return -1;
}

/* ---- on a connection ------------------------------------------------ */

/*
 * Read exactly want bytes past have into b, by the deadline.  1 done, 0
 * the peer closed first, -1 an error, -2 the deadline passed.
 */
static int
read_exact(int fd, unsigned char *b, size_t have, size_t want,
    int64_t deadline)
{
	while (have < want) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		int64_t left = deadline - mono_ms();
		ssize_t n;

		if (left <= 0)
			return -2;
		if (poll(&pfd, 1, left > 1000000 ? 1000000 : (int)left) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (pfd.revents == 0)
			continue;
		if ((n = read(fd, b + have, want - have)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		if (n == 0)
			return 0;
		have += (size_t)n;
	}
	return 1;
}

/*
 * A v1 line's length so far as it can be known without reading past it:
 * on a socket the bytes waiting are peeked, up to the LF if it is among
 * them (all of them are the header's otherwise); on a pipe, one more.
 */
static size_t
v1_more(const struct conn *c, unsigned char *b, size_t have)
{
	unsigned char *lf;
	ssize_t n;

	if (!c->in_socket)
		return have + 1;
	n = recv(c->in, b + have, V1_MAX - have, MSG_PEEK | MSG_DONTWAIT);
	if (n <= 0)
		return have + 1;	/* nothing waits: read_exact polls */
	if ((lf = memchr(b + have, '\n', (size_t)n)) != NULL)
		return (size_t)(lf - b) + 1;
	return have + (size_t)n;
}

/* The header's facts, as the peer for everything after. */
static void
apply(struct conn *c, const struct proxy_hdr *h)
{
	int af = h->family;

	c->proxied = 1;
	memcpy(c->proxy_addr, c->peer, sizeof(c->proxy_addr));
	if (h->cmd == PROXY_LOCAL)
		return;		/* the balancer itself: its own ends stay */
	if (af == AF_UNIX) {
		c->peer[0] = c->peer_port[0] = '\0';
	} else {
		inet_ntop(af, h->src, c->peer, sizeof(c->peer));
		inet_ntop(af, h->dst, c->local, sizeof(c->local));
		snprintf(c->peer_port, sizeof(c->peer_port), "%u",
		    h->src_port);
		snprintf(c->local_port, sizeof(c->local_port), "%u",
		    h->dst_port);
	}
	c->peer_log_len = 0;
	if (h->ssl) {
		c->https = 1;
		memcpy(c->pp_proto, h->ssl_version, sizeof(c->pp_proto));
		memcpy(c->pp_cipher, h->ssl_cipher, sizeof(c->pp_cipher));
	}
}

/*
 * Before a byte of the request: the PROXY header on c, from a trusted
 * peer, within header_timeout.  0: c's peer (and local end, and HTTPS)
 * are now the header's; -1: the connection is to be closed (logged).
 */
int
proxy_accept(struct conn *c)
{
	unsigned char b[PROXY_MAX];
	struct proxy_hdr h;
	int64_t deadline = mono_ms() + cfg.header_timeout * 1000;
	size_t have = 0, want = V1_MIN, need;
	const char *why;
	long len;
	int rc;

	if (!acl_trusted_proxy(c->peer)) {
		ih_log(IH_LOG_WARN, "%s: not in trusted_proxies, which a "
		    "PROXY port requires: closed", conn_who(c));
		return -1;
	}
	for (;;) {
		if ((rc = read_exact(c->in, b, have, want, deadline)) != 1) {
			why = rc == -2 ? "no PROXY header within header_timeout"
			    : rc == 0 ? "closed inside the PROXY header" :
			    strerror(errno);
			break;
		}
		have = want;
		if ((len = proxy_parse(b, have, &h, &need)) > 0) {
			apply(c, &h);
			ih_debug(IH_DBG_INIT, "PROXY v%d from %s: peer %s:%s%s",
			    h.version, c->proxy_addr, conn_who(c),
			    c->peer_port, c->https ? " (TLS)" : "");
			return 0;
		}
		if (len == -1) {
			why = "malformed PROXY header";
			break;
		}
		if (b[0] != 'P')
			want = need > 0 ? need : V2_HEAD;
		else
			want = v1_more(c, b, have);
	}
	ih_log(IH_LOG_WARN, "%s: %s: closed", conn_who(c), why);
	return -1;
}

/* ---- forwarded_for -------------------------------------------------- */

/*
 * One address of X-Forwarded-For or of a Forwarded for= (RFC 7239 6):
 * 192.0.2.1, 192.0.2.1:port, 2001:db8::1, [2001:db8::1] or with :port;
 * written back as inet_ntop writes it (an IPv4-mapped address as IPv4).
 * 0, or -1 for anything else ("unknown", an obfuscated name, garbage).
 */
static int
fwd_addr(const char *s, size_t n, char *out, size_t cap, char *port,
    size_t pcap)
{
	char buf[INET6_ADDRSTRLEN + 8];
	unsigned char a[16];
	const char *p = NULL, *colon;
	unsigned pv;

	port[0] = '\0';
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (buf[0] == '[') {
		char *e = strchr(buf, ']');

		if (e == NULL || (e[1] != '\0' && e[1] != ':'))
			return -1;
		if (e[1] == ':')
			p = e + 2;
		*e = '\0';
		if (inet_pton(AF_INET6, buf + 1, a) != 1)
			return -1;
		if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a))
			inet_ntop(AF_INET, a + 12, out, (socklen_t)cap);
		else
			inet_ntop(AF_INET6, a, out, (socklen_t)cap);
	} else if (inet_pton(AF_INET6, buf, a) == 1) {
		if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a))
			inet_ntop(AF_INET, a + 12, out, (socklen_t)cap);
		else
			inet_ntop(AF_INET6, a, out, (socklen_t)cap);
	} else {
		if ((colon = strchr(buf, ':')) != NULL) {
			p = colon + 1;
			buf[colon - buf] = '\0';
		}
		if (inet_pton(AF_INET, buf, a) != 1)
			return -1;
		inet_ntop(AF_INET, a, out, (socklen_t)cap);
	}
	if (p != NULL) {
		if (v1_port(p, strlen(p), &pv) == -1)
			return -1;
		snprintf(port, pcap, "%u", pv);
	}
	return 0;
}

/* An element's for= value (Forwarded), unquoted, in out.  0 or -1. */
static int
fwd_for(const char *s, size_t n, char *out, size_t cap, size_t *olen)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i, e;

		while (j < n && s[j] != ';')
			j++;
		e = j;
		while (i < e && (s[i] == ' ' || s[i] == '\t'))
			i++;
		while (e > i && (s[e - 1] == ' ' || s[e - 1] == '\t'))
			e--;
		if (e - i > 4 && strncasecmp(s + i, "for=", 4) == 0) {
			const char *v = s + i + 4;
			size_t vl = e - i - 4;

			if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"')
				v++, vl -= 2;
			if (vl >= cap || memchr(v, '"', vl) != NULL ||
			    memchr(v, '\\', vl) != NULL)
				return -1;
			memcpy(out, v, vl);
			*olen = vl;
			return 0;
		}
		i = j + 1;
	}
	return -1;
}

#define FWD_MAX	32	/* hops looked at, from the right */

/*
 * forwarded_for: when the connection's peer is a trusted proxy, the
 * request's peer is the rightmost address of X-Forwarded-For (or of
 * Forwarded's for=) that is not itself a trusted proxy - the hops right
 * of it were added by proxies we trust, and the ones left of it by
 * whoever it was, who could write anything.  A hop that is not an
 * address stops the walk at the proxy that passed it on.  The address
 * found is the peer for everything after: ACLs, logs, CGI, rate limits.
 * The connection's own peer comes back with the next request.
 */
void
proxy_forwarded(struct ih_request *r)
{
	const char *want = cfg.forwarded_for == FWD_XFF ? "X-Forwarded-For" :
	    "Forwarded", *name, *v;
	struct { const char *p; size_t n; } hop[FWD_MAX];
	char cur[64], port[8];
	size_t i, nh = 0;
	struct conn *c = r->c;

	/* Every element of every such line, in order; only the last
	 * FWD_MAX count. */
	for (i = 0; (v = ih_header_at(r, i, &name)) != NULL; i++) {
		if (strcasecmp(name, want) != 0)
			continue;
		while (*v != '\0') {
			size_t n = strcspn(v, ",");

			if (nh == FWD_MAX) {
				memmove(hop, hop + 1, sizeof(hop[0]) *
				    (FWD_MAX - 1));
				nh--;
			}
			hop[nh].p = v;
			hop[nh++].n = n;
			v += n + (v[n] == ',');
		}
	}
	memcpy(cur, c->conn_peer, sizeof(cur));
	memcpy(port, c->conn_peer_port, sizeof(port));
	while (nh > 0 && acl_trusted_proxy(cur)) {
		char text[80], a[64], p[8];
		const char *s = hop[nh - 1].p;
		size_t n = hop[nh - 1].n;

		nh--;
		while (n > 0 && (*s == ' ' || *s == '\t'))
			s++, n--;
		while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		if (cfg.forwarded_for == FWD_FORWARDED) {
			size_t tl;

			if (fwd_for(s, n, text, sizeof(text), &tl) == -1)
				break;
			s = text;
			n = tl;
		}
		if (fwd_addr(s, n, a, sizeof(a), p, sizeof(p)) == -1)
			break;
		memcpy(cur, a, sizeof(cur));
		snprintf(port, sizeof(port), "%s", p[0] != '\0' ? p : "0");
	}
	if (strcmp(cur, c->peer) == 0)
		return;
	ih_debug(IH_DBG_REQ, "%s: forwarded for %s", conn_who(c), cur);
	memcpy(c->peer, cur, sizeof(c->peer));
	memcpy(c->peer_port, port, sizeof(c->peer_port));
	c->peer_log_len = 0;
	free(c->peer_host);
	c->peer_host = NULL;
	c->peer_host_done = 0;
}

/* The connection's own peer again (before the next request). */
void
proxy_forwarded_end(struct conn *c)
{
	if (strcmp(c->peer, c->conn_peer) == 0)
		return;
	memcpy(c->peer, c->conn_peer, sizeof(c->peer));
	memcpy(c->peer_port, c->conn_peer_port, sizeof(c->peer_port));
	c->peer_log_len = 0;
	free(c->peer_host);
	c->peer_host = NULL;
	c->peer_host_done = 0;
}
