/*
 * test_proxy.c - the PROXY protocol parser (src/proxy.c, proxy_parse)
 * against HAProxy's specification: version 1 lines (TCP4, TCP6, UNKNOWN,
 * the 107-byte bound, every malformation), version 2 headers (PROXY and
 * LOCAL, each family, lengths, TLVs, the SSL TLV and its names, CRC32C),
 * "more please" for every prefix of a good header and "no" at once for
 * garbage, and exactly the header's length when a request follows.
 */
#include <arpa/inet.h>
#include <sys/socket.h>

#include "internal.h"
#include "unit.h"

static const unsigned char sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
	0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

static struct proxy_hdr H;
static size_t NEED;

static long
parse(const void *b, size_t n)
{
	return proxy_parse(b, n, &H, &NEED);
}

/* Parse from a copy that ends at a PROTECTED page: an over-read faults. */
static long
parse_guarded(const void *b, size_t n)
{
	const unsigned char *g = (const unsigned char *)guarded_copy(b, n);

	return proxy_parse(g, n, &H, &NEED);
}

static long
parse_str(const char *s)
{
	return parse_guarded(s, strlen(s));
}

/* Every proper prefix says "more please". */
static int
prefixes_wait(const void *b, size_t n)
{
	size_t k;

	for (k = 1; k < n; k++)
		if (parse_guarded(b, k) != 0)
			return 0;
	return 1;
}

static uint32_t
crc32c_ref(const unsigned char *p, size_t n)
{
	uint32_t crc = 0xffffffffU;
	int k;

	while (n-- > 0) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc & 1) ? (crc >> 1) ^ 0x82f63b78U : crc >> 1;
	}
	return crc ^ 0xffffffffU;
}

/* A v2 header: ver_cmd, family, then body (addresses and TLVs). */
static size_t
v2(unsigned char *out, int vc, int fam, const void *body, size_t blen)
{
	memcpy(out, sig, 12);
	out[12] = (unsigned char)vc;
	out[13] = (unsigned char)fam;
	out[14] = (unsigned char)(blen >> 8);
	out[15] = (unsigned char)blen;
	memcpy(out + 16, body, blen);
	return 16 + blen;
}

static size_t
tlv(unsigned char *out, int type, const void *v, size_t n)
{
	out[0] = (unsigned char)type;
	out[1] = (unsigned char)(n >> 8);
	out[2] = (unsigned char)n;
	memcpy(out + 3, v, n);
	return 3 + n;
}

static const unsigned char a4[12] = { 198, 51, 100, 7, 192, 0, 2, 80,
	0x9c, 0x40, 0x00, 0x50 };	/* ports 40000, 80 */

static void
test_v1(void)
{
	const char *good = "PROXY TCP4 198.51.100.7 192.0.2.80 40000 80\r\n";
	char buf[256], text[64];
	unsigned char want[16];

	CHECK(parse_str(good) == (long)strlen(good), "v1 TCP4: its length");
	inet_ntop(AF_INET, H.src, text, sizeof(text));
	CHECK(H.version == 1 && H.cmd == PROXY_PROXY && H.family == AF_INET &&
	    strcmp(text, "198.51.100.7") == 0 && H.src_port == 40000 &&
	    H.dst_port == 80, "v1 TCP4: addresses and ports");
	snprintf(buf, sizeof(buf), "%sGET / HTTP/1.1\r\n\r\n", good);
	CHECK(parse_str(buf) == (long)strlen(good),
	    "v1: the request after it is not the header's");
	CHECK(prefixes_wait(good, strlen(good)), "v1: every prefix waits");
	CHECK(parse_str("PROXY TCP6 2001:db8::1 ::1 65535 0\r\n") == 36 &&
	    H.family == AF_INET6 && H.src_port == 65535 && H.dst_port == 0,
	    "v1 TCP6");
	inet_pton(AF_INET6, "2001:db8::1", want);
	CHECK(memcmp(H.src, want, 16) == 0, "v1 TCP6: the address");
	CHECK(parse_str("PROXY UNKNOWN\r\n") == 15 && H.cmd == PROXY_LOCAL,
	    "v1 UNKNOWN alone: the balancer's own ends");
	CHECK(parse_str("PROXY UNKNOWN ffff::1 ::1 1 2\r\n") == 31 &&
	    H.cmd == PROXY_LOCAL, "v1 UNKNOWN with the rest ignored");
	/* the longest line the spec allows: 107 bytes */
	snprintf(buf, sizeof(buf), "PROXY TCP6 %s %s 65535 65535\r\n",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	CHECK(strlen(buf) == 104 && parse_str(buf) == 104,
	    "v1: a 104-byte TCP6 line");
	memset(buf, 'f', sizeof(buf));
	memcpy(buf, "PROXY UNKNOWN ", 14);
	memcpy(buf + 105, "\r\n", 2);
	CHECK(parse_guarded(buf, 107) == 107, "v1: 107 bytes, the most");
	memcpy(buf + 105, "ff\r\n", 4);
	CHECK(parse_guarded(buf, 109) == -1 && parse_guarded(buf, 107) == -1,
	    "v1: 108 without the end: refused, not waited for");

	CHECK(parse_str("GET / HTTP/1.1\r\n") == -1, "a request: -1 at once");
	CHECK(parse_str("G") == -1, "its first byte: -1 at once");
	CHECK(parse_str("PROXY XYZ") == -1, "an unknown protocol: -1 at once");
	CHECK(parse_guarded("PROXY TCP4 1\x01", 13) == -1,
	    "a control byte: -1 at once");
	{
		static const char *const bad[] = {
			"PROXY TCP4 198.51.100.7 192.0.2.80 40000 80\n",
			"PROXY TCP4 198.51.100.7  192.0.2.80 40000 80\r\n",
			"PROXY TCP4 198.51.100.7 192.0.2.80 040000 80\r\n",
			"PROXY TCP4 198.51.100.7 192.0.2.80 65536 80\r\n",
			"PROXY TCP4 198.51.100.7 192.0.2.80 -1 80\r\n",
			"PROXY TCP4 2001:db8::1 192.0.2.80 1 80\r\n",
			"PROXY TCP6 198.51.100.7 ::1 1 80\r\n",
			"PROXY TCP4 198.51.100.7 192.0.2.80 40000\r\n",
			"PROXY TCP4 198.51.100.7 192.0.2.80 1 2 3\r\n",
			"PROXY TCP4 198.51.100.7\t192.0.2.80 1 2\r\n",
			"PROXY TCP4 198.51.100.777 192.0.2.80 1 2\r\n",
			"PROXY TCP4 198.51.100.7 192.0.2.80 1 2 \r\n",
			"PROXY  TCP4 198.51.100.7 192.0.2.80 1 2\r\n",
			"PROXY tcp4 198.51.100.7 192.0.2.80 1 2\r\n",
			"PROXY TCP4\r\n",
			"PROXY UNKNOWNX\r\n",
			"PROXY \r\n",
		};
		size_t i, nbad = 0;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			if (parse_str(bad[i]) != -1) {
				printf("# accepted: %s", bad[i]);
				nbad++;
			}
		CHECK(nbad == 0, "v1: %zu malformed lines refused",
		    sizeof(bad) / sizeof(bad[0]));
	}
	CHECK(parse_guarded("PROXY TCP6 2001:db8::1 ::1\0\0 1 2\r\n", 34) == -1,
	    "v1: a NUL inside a field (the fuzzer's find)");
}

static void
test_v2(void)
{
	unsigned char b[600], body[400], sub[64];
	size_t n, bl;
	char text[64];

	n = v2(b, 0x21, 0x11, a4, sizeof(a4));
	CHECK(parse_guarded(b, n) == 28 && H.version == 2 &&
	    H.cmd == PROXY_PROXY && H.family == AF_INET && H.src_port == 40000 &&
	    H.dst_port == 80, "v2 TCP4");
	inet_ntop(AF_INET, H.src, text, sizeof(text));
	CHECK(strcmp(text, "198.51.100.7") == 0 && !H.ssl, "v2 TCP4: address");
	CHECK(prefixes_wait(b, n), "v2: every prefix waits");
	CHECK(parse(b, 16) == 0 && NEED == 28, "v2: after 16 bytes, the "
	    "length to read is known");
	memcpy(b + n, "GET / HTTP/1.0\r\n\r\n", 18);
	CHECK(parse_guarded(b, n + 18) == 28, "v2: the request is not read");

	memset(body, 0, 36);
	inet_pton(AF_INET6, "2001:db8::7", body);
	body[33] = 5;
	body[35] = 6;
	n = v2(b, 0x21, 0x21, body, 36);
	CHECK(parse_guarded(b, n) == 52 && H.family == AF_INET6 &&
	    H.src_port == 5 && H.dst_port == 6, "v2 TCP6");
	memset(body, 0, 216);
	n = v2(b, 0x21, 0x31, body, 216);
	CHECK(parse_guarded(b, n) == 232 && H.family == AF_UNIX &&
	    H.cmd == PROXY_PROXY, "v2 UNIX stream: no address to report");
	n = v2(b, 0x20, 0x11, a4, sizeof(a4));
	CHECK(parse_guarded(b, n) == 28 && H.cmd == PROXY_LOCAL,
	    "v2 LOCAL: the balancer's own ends (addresses skipped)");
	n = v2(b, 0x20, 0x00, "", 0);
	CHECK(parse_guarded(b, n) == 16 && H.cmd == PROXY_LOCAL,
	    "v2 LOCAL, nothing after");
	n = v2(b, 0x20, 0x77, "junk", 4);
	CHECK(parse_guarded(b, n) == 20 && H.cmd == PROXY_LOCAL,
	    "v2 LOCAL: whatever follows is skipped, by its length");
	n = v2(b, 0x21, 0x00, "xy", 2);
	CHECK(parse_guarded(b, n) == 18 && H.cmd == PROXY_LOCAL,
	    "v2 PROXY UNSPEC: the real ends");

	n = v2(b, 0x11, 0x11, a4, sizeof(a4));
	CHECK(parse(b, n) == -1 && parse(b, 13) == -1, "v2: version 1 in the "
	    "high nibble refused at byte 13");
	n = v2(b, 0x22, 0x11, a4, sizeof(a4));
	CHECK(parse(b, n) == -1, "v2: command 2 refused");
	n = v2(b, 0x21, 0x12, a4, sizeof(a4));
	CHECK(parse(b, n) == -1, "v2: datagrams refused");
	n = v2(b, 0x21, 0x41, a4, sizeof(a4));
	CHECK(parse(b, n) == -1, "v2: an unknown family refused");
	n = v2(b, 0x21, 0x21, a4, sizeof(a4));
	CHECK(parse(b, n) == -1, "v2: a length short of the address block");
	b[12] = 0x21;
	b[14] = (PROXY_MAX >> 8) & 0xff;
	b[15] = PROXY_MAX & 0xff;
	CHECK(parse(b, 16) == -1, "v2: longer than PROXY_MAX refused at once");
	CHECK(parse("\r\n\r\n\0\r\nQUIX", 12) == -1, "v2: a wrong signature");

	/* TLVs */
	memcpy(body, a4, 12);
	bl = 12 + tlv(body + 12, 0x04, "xx", 2);
	bl += tlv(body + bl, 0xe0, "custom", 6);
	n = v2(b, 0x21, 0x11, body, bl);
	CHECK(parse_guarded(b, n) == (long)n && !H.ssl,
	    "v2: NOOP and unknown TLVs are skipped");
	n = v2(b, 0x21, 0x11, body, bl - 1);
	CHECK(parse(b, n) == -1, "v2: a TLV past the end refused");
	n = v2(b, 0x21, 0x11, body, 14);
	CHECK(parse(b, n) == -1, "v2: a TLV header cut short refused");

	/* SSL TLV: client bits, verify, sub-TLVs */
	{
		unsigned char v[128];
		size_t sl, vl;

		sl = tlv(sub, 0x21, "TLSv1.3", 7);
		sl += tlv(sub + sl, 0x23, "TLS_AES_128_GCM_SHA256", 22);
		v[0] = 0x01;
		memset(v + 1, 0, 4);
		memcpy(v + 5, sub, sl);
		vl = 5 + sl;
		memcpy(body, a4, 12);
		bl = 12 + tlv(body + 12, 0x20, v, vl);
		n = v2(b, 0x21, 0x11, body, bl);
		CHECK(parse_guarded(b, n) == (long)n && H.ssl &&
		    strcmp(H.ssl_version, "TLSv1.3") == 0 &&
		    strcmp(H.ssl_cipher, "TLS_AES_128_GCM_SHA256") == 0,
		    "v2 SSL TLV: HTTPS, its version and cipher");
		v[0] = 0x02;	/* a certificate, but no TLS */
		bl = 12 + tlv(body + 12, 0x20, v, vl);
		n = v2(b, 0x21, 0x11, body, bl);
		CHECK(parse(b, n) == (long)n && !H.ssl,
		    "v2 SSL TLV without PP2_CLIENT_SSL: not HTTPS");
		v[0] = 0x01;
		sl = tlv(sub, 0x21, "TLS\n1.3", 7);
		memcpy(v + 5, sub, sl);
		bl = 12 + tlv(body + 12, 0x20, v, 5 + sl);
		n = v2(b, 0x21, 0x11, body, bl);
		CHECK(parse(b, n) == (long)n && H.ssl && H.ssl_version[0] == '\0',
		    "v2 SSL TLV: a version that is no token is dropped");
		bl = 12 + tlv(body + 12, 0x20, v, 5 + sl);
		bl += tlv(body + bl, 0x20, v, 5 + sl);
		n = v2(b, 0x21, 0x11, body, bl);
		CHECK(parse(b, n) == -1, "v2: a second SSL TLV refused");
		bl = 12 + tlv(body + 12, 0x20, v, 4);
		n = v2(b, 0x21, 0x11, body, bl);
		CHECK(parse(b, n) == -1, "v2 SSL TLV shorter than 5 refused");
		sl = tlv(sub, 0x21, "TLSv1.3", 7);
		memcpy(v + 5, sub, sl);
		bl = 12 + tlv(body + 12, 0x20, v, 5 + sl - 1);
		n = v2(b, 0x21, 0x11, body, bl);
		CHECK(parse(b, n) == -1, "v2 SSL sub-TLV past its end refused");
	}

	/* CRC32C over the whole header, its own field as zero */
	{
		unsigned char z[4] = { 0, 0, 0, 0 };
		uint32_t c;

		memcpy(body, a4, 12);
		bl = 12 + tlv(body + 12, 0x03, z, 4);
		n = v2(b, 0x21, 0x11, body, bl);
		c = crc32c_ref(b, n);
		b[n - 4] = (unsigned char)(c >> 24);
		b[n - 3] = (unsigned char)(c >> 16);
		b[n - 2] = (unsigned char)(c >> 8);
		b[n - 1] = (unsigned char)c;
		CHECK(parse_guarded(b, n) == (long)n, "v2: a right CRC32C");
		b[n - 1] ^= 1;
		CHECK(parse(b, n) == -1, "v2: a wrong CRC32C refused");
		CHECK(crc32c_ref((const unsigned char *)"123456789", 9) ==
		    0xe3069283U, "(the reference CRC-32C's check value)");
	}
}

int
main(void)
{
	test_v1();
	test_v2();
	return unit_done();
}
