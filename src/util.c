/*
 * util.c - small pieces every other file leans on: the per-request arena,
 * strtonum-style number parsing, HTTP dates (RFC 9110 section 5.6.7,
 * IMF-fixdate), HTML escaping, the monotonic clock and full writes.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/*
 * arena_alloc (internal.h) when the newest block has no room, or the
 * arena is a fixed region: NULL when the arena would pass its max
 * (ARENA_MAX unless set; the
 * caller answers 500) or malloc fails.
 */
void *
arena_alloc_slow(struct arena *a, size_t n)
{
	struct arena_block *b = a->head;
	size_t want, max = a->max != 0 ? a->max : ARENA_MAX;

	if (n > max)
		return NULL;	/* also keeps the rounding below from wrapping */
	n = (n + 15) & ~(size_t)15;
	if (a->fixed != NULL) {
		void *p = a->fixed + a->fixed_used;

		if (a->fixed_cap - a->fixed_used < n)
			return NULL;
		a->fixed_used += n;
		return p;
	}
	if (b != NULL && b->size - b->used >= n) {
		void *p = b->data + b->used;
		b->used += n;
		return p;
	}
	want = n > ARENA_BLOCK ? n : ARENA_BLOCK;
	if (a->total + want > max)
		return NULL;
	if ((b = malloc(sizeof(*b) + want)) == NULL)
		return NULL;
	b->size = want;
	b->used = n;
	b->next = a->head;
	a->head = b;
	a->total += want;
	return b->data;
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

/* FNV-1a of n bytes, 32 and 64 bits: names and buckets, not security. */
uint32_t
fnv1a32(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint32_t h = 2166136261u;

	while (n-- > 0)
		h = (h ^ *b++) * 16777619u;
	return h;
}

uint64_t
fnv1a64(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 14695981039346656037ULL;

	while (n-- > 0)
		h = (h ^ *b++) * 1099511628211ULL;
	return h;
}

/* x and y joined, in the arena (the common case of arena_printf). */
char *
arena_cat(struct arena *a, const char *x, const char *y)
{
	size_t xl = strlen(x), yl = strlen(y);
	char *p = arena_alloc(a, xl + yl + 1);

	if (p != NULL) {
		memcpy(p, x, xl);
		memcpy(p + xl, y, yl + 1);
	}
	return p;
}

char *
arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (p = arena_alloc(a, (size_t)n + 1)) == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

/* Free every block but the newest, which is kept for the next request. */
void
arena_reset(struct arena *a)
{
	struct arena_block *b, *next;

	a->fixed_used = 0;
	if (a->head == NULL)
		return;
	for (b = a->head->next; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	a->head->next = NULL;
	a->head->used = 0;
	a->total = a->head->size;
}

/* ---- bounded text buffer ------------------------------------------- */

void
sb_init(struct sbuf *b, char *buf, size_t cap)
{
	b->p = buf;
	b->cap = cap;
	b->len = 0;
	b->trunc = 0;
	if (cap > 0)
		buf[0] = '\0';
}

/* sb_put when n bytes do not fit: as many as do. */
void
sb_put_slow(struct sbuf *b, const char *s, size_t n)
{
	size_t room = b->cap > b->len + 1 ? b->cap - b->len - 1 : 0;

	if (n > room) {
		n = room;
		b->trunc = 1;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	if (b->cap > 0)
		b->p[b->len] = '\0';
}

void
sb_puts(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

/* printf into the free room; vsnprintf's wanted length never moves len. */
void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	size_t room = b->cap > b->len ? b->cap - b->len : 0;
	va_list ap;
	int n;

	if (room == 0) {
		b->trunc = 1;
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->p[b->len] = '\0';
		b->trunc = 1;
		return;
	}
	if ((size_t)n >= room) {
		n = (int)room - 1;
		b->trunc = 1;
	}
	b->len += (size_t)n;
}

/* Append v in decimal, or in lower-case hexadecimal. */
void
sb_num(struct sbuf *b, unsigned long long v)
{
	static const char pairs[] =
	    "00010203040506070809101112131415161718192021222324252627282930"
	    "31323334353637383940414243444546474849505152535455565758596061"
	    "62636465666768697071727374757677787980818283848586878889909192"
	    "93949596979899";
	char d[20], *p = d + sizeof(d);

	if (v < 100) {		/* the usual small ones: no loop */
		if (v < 10) {
			d[0] = (char)('0' + v);
			sb_put(b, d, 1);
		} else
			sb_put(b, pairs + 2 * v, 2);
		return;
	}
	/* Two digits a step: half the divisions. */
	while (v >= 100) {
		p -= 2;
		memcpy(p, pairs + 2 * (v % 100), 2);
		v /= 100;
	}
	if (v >= 10) {
		p -= 2;
		memcpy(p, pairs + 2 * v, 2);
	} else
		*--p = (char)('0' + v);
	sb_put(b, p, (size_t)(d + sizeof(d) - p));
}

void
sb_hex(struct sbuf *b, unsigned long long v)
{
	char d[16], *p = d + sizeof(d);

	do {
		*--p = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v != 0);
	sb_put(b, p, (size_t)(d + sizeof(d) - p));
}

/*
 * Which bytes sb_esc writes as \xNN: 0x80 always (controls, DEL and
 * above), bit ESC_QUOTE for '"' and '\\', bit ESC_BARE for ' ', '[', ']'.
 * One lookup per byte instead of a chain of comparisons.
 */
static const unsigned char esc_class[256] = {
	[0 ... 0x1f] = 0x80, [0x7f ... 0xff] = 0x80,
	['"'] = ESC_QUOTE, ['\\'] = ESC_QUOTE,
	[' '] = ESC_BARE, ['['] = ESC_BARE, [']'] = ESC_BARE,
};

/*
 * Append s with control bytes, bytes >= 0x7f and (ESC_QUOTE) '"' and
 * '\\', (ESC_BARE) ' ', '[' and ']' as \xNN, in at most max bytes; an
 * escape is never cut in half.
 * When the escaped text is longer, as much as fits is kept and "..."
 * marks the cut (`trunc` set).  NULL or "" appends "-" (no value).
 */
void
sb_esc(struct sbuf *b, const char *s, size_t max, int how)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;
	size_t total = 0, used = 0, n, room, limit;
	int mask = 0x80 | how;
	char *out;

	if (s == NULL || *s == '\0') {
		sb_put(b, "-", 1);
		return;
	}
	/* The usual case: nothing to escape, and room for all of it. */
	for (p = (const unsigned char *)s; *p != '\0' &&
	    (esc_class[*p] & mask) == 0; p++)
		;
	if (*p == '\0' && (size_t)(p - (const unsigned char *)s) <= max) {
		sb_put(b, s, (size_t)(p - (const unsigned char *)s));
		return;
	}
	for (p = (const unsigned char *)s; *p != '\0' && total <= max; p++)
		total += (esc_class[*p] & mask) ? 4 : 1;
	/* Whole, or cut so that the escapes and "..." fit in max. */
	limit = total <= max ? total : max >= 3 ? max - 3 : 0;
	room = b->cap > b->len + 1 ? b->cap - b->len - 1 : 0;
	out = b->p + b->len;
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		n = (esc_class[*p] & mask) ? 4 : 1;
		if (used + n > limit || used + n > room)
			break;
		if (n == 1)
			out[used] = (char)*p;
		else {
			out[used] = '\\';
			out[used + 1] = 'x';
			out[used + 2] = hex[*p >> 4];
			out[used + 3] = hex[*p & 15];
		}
		used += n;
	}
	b->len += used;
	if (b->cap > 0)
		b->p[b->len] = '\0';
	if (used < limit)
		b->trunc = 1;		/* the buffer was full */
	if (total > max) {
		if (max >= 3)
			sb_put(b, "...", 3);
		b->trunc = 1;
	}
}

/*
 * The file type (S_IFMT bits) of fd 0, 1 or 2, from one fstat each for the
 * life of the process: inetd's descriptors never change, and asking
 * getpeername or isatty of a pipe is a failing system call per question.
 * 0 for other fds, or when fstat fails (the caller asks the real question).
 */
mode_t
stdio_type(int fd)
{
	static mode_t type[3];
	static int known[3];
	struct stat st;

	if (fd < 0 || fd > 2)
		return 0;
	if (!known[fd]) {
		known[fd] = 1;
		type[fd] = fstat(fd, &st) == 0 ? (st.st_mode & S_IFMT) : 0;
	}
	return type[fd];
}

/*
 * Parse a decimal integer in [min, max]: digits only (an optional '-'
 * when min < 0), no spaces, no overflow.  0 on success, -1 otherwise.
 */
int
str_to_ll(const char *s, long long min, long long max, long long *out)
{
	unsigned long long v = 0, lim = LLONG_MAX;
	long long r;
	int neg = 0;

	if (*s == '-' && min < 0) {
		neg = 1;
		lim = (unsigned long long)LLONG_MAX + 1;
		s++;
	}
	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (lim - (unsigned)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (neg)
		r = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN :
		    -(long long)v;
	else
		r = (long long)v;
	if (r < min || r > max)
		return -1;
	*out = r;
	return 0;
}

/* A byte count with an optional k, m or g suffix (powers of 1024). */
int
str_to_size(const char *s, long long max, long long *out)
{
	char buf[32];
	size_t n = strlen(s);
	long long mult = 1, v;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n + 1);
	switch (tolower((unsigned char)buf[n - 1])) {
	case 'k': mult = 1024; break;
	case 'm': mult = 1024 * 1024; break;
	case 'g': mult = 1024 * 1024 * 1024; break;
	}
	if (mult != 1)
		buf[n - 1] = '\0';
	if (str_to_ll(buf, 0, LLONG_MAX / mult, &v) == -1 || v * mult > max)
		return -1;
	*out = v * mult;
	return 0;
}

int
str_casecmp_n(const char *a, const char *b, size_t n)
{
	for (; n > 0; a++, b++, n--) {
		int ca = tolower((unsigned char)*a), cb = tolower((unsigned char)*b);
		if (ca != cb)
			return ca - cb;
		if (ca == '\0')
			break;
	}
	return 0;
}

/* RFC 9110 5.6.2 tchar, for is_tchar (internal.h) */
const unsigned char tchar_table[256] = {
	['a' ... 'z'] = 1, ['A' ... 'Z'] = 1, ['0' ... '9'] = 1,
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1,
	['\''] = 1, ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1,
	['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
};

/* n bytes as 2n lower-case hex digits and a NUL (out: 2n + 1 bytes). */
void
hex_encode(char *out, const unsigned char *in, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Copy src to dst with &, <, >, " and ' as entities; always terminated.
 * Returns the length the full output needs (like snprintf).
 */
size_t
html_escape(char *dst, size_t cap, const char *src)
{
	size_t o = 0;

	for (; *src != '\0'; src++) {
		const char *e;
		char one[2] = { *src, '\0' };

		switch (*src) {
		case '&': e = "&amp;"; break;
		case '<': e = "&lt;"; break;
		case '>': e = "&gt;"; break;
		case '"': e = "&quot;"; break;
		case '\'': e = "&#39;"; break;
		default: e = one; break;
		}
		for (; *e != '\0'; e++, o++)
			if (o + 1 < cap)
				dst[o] = *e;
	}
	if (cap > 0)
		dst[o < cap ? o : cap - 1] = '\0';
	return o;
}

int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int clock_fixed;
static time_t clock_fixed_t;

/*
 * The test suite's deterministic mode: IHTTPD_FIXED_TIME (seconds since
 * the epoch) freezes the clock, so golden responses compare byte for
 * byte and expiry can be tested, but only together with IHTTPD_TEST=1.
 * Left alone in an environment it would freeze the expiry of nonces and
 * sessions: then it is ignored, with a warning.  Called once at start.
 */
void
clock_setup(void)
{
	const char *s = getenv("IHTTPD_FIXED_TIME"), *t = getenv("IHTTPD_TEST");
	long long v;

	if (s == NULL)
		return;
	if (t == NULL || strcmp(t, "1") != 0) {
		ih_log(IH_LOG_WARN, "IHTTPD_FIXED_TIME is set but IHTTPD_TEST=1 "
		    "is not: ignored (the clock runs)");
		return;
	}
	if (str_to_ll(s, 0, LLONG_MAX, &v) == -1) {
		ih_log(IH_LOG_WARN, "IHTTPD_FIXED_TIME '%s' is not a number of "
		    "seconds: ignored", s);
		return;
	}
	clock_fixed_t = (time_t)v;
	clock_fixed = 1;
}

/* Wall-clock time (frozen only in the deterministic test mode). */
time_t
now_real(void)
{
	return clock_fixed ? clock_fixed_t : time(NULL);
}

/*
 * Wall-clock time in milliseconds (Digest nonces: two made in one second
 * stay ordered).  The test mode freezes it at that second's start.
 */
int64_t
now_real_ms(void)
{
	struct timespec ts;

	if (clock_fixed)
		return (int64_t)clock_fixed_t * 1000;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * UTC calendar conversion without the C library's time-zone machinery:
 * glibc's gmtime_r and timegm read /etc/localtime on first use, a file
 * open and parse that every inetd process would pay.  Proleptic
 * Gregorian, days counted from 1970-01-01 with eras of 400 years.
 */
void
utc_tm(time_t t, struct tm *tm)
{
	long long days = (long long)t / 86400, secs = (long long)t % 86400;
	long long era, doe, yoe, doy, mp, y;

	if (secs < 0) {
		secs += 86400;
		days--;
	}
	memset(tm, 0, sizeof(*tm));
	tm->tm_hour = (int)(secs / 3600);
	tm->tm_min = (int)(secs / 60 % 60);
	tm->tm_sec = (int)(secs % 60);
	tm->tm_wday = (int)((days % 7 + 11) % 7);	/* 1970-01-01: Thu */
	days += 719468;					/* from 0000-03-01 */
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	tm->tm_mday = (int)(doy - (153 * mp + 2) / 5 + 1);
	tm->tm_mon = (int)(mp < 10 ? mp + 2 : mp - 10);
	tm->tm_year = (int)(y + (tm->tm_mon <= 1) - 1900);
	tm->tm_yday = 0;
}

/* The inverse of utc_tm for a broken-down UTC time (fields in range). */
time_t
utc_timegm(const struct tm *tm)
{
	long long y = tm->tm_year + 1900LL - (tm->tm_mon <= 1);
	long long era = (y >= 0 ? y : y - 399) / 400;
	long long yoe = y - era * 400;
	long long mp = (tm->tm_mon + 10) % 12;	/* March is 0 */
	long long doy = (153 * mp + 2) / 5 + tm->tm_mday - 1;
	long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	long long days = era * 146097 + doe - 719468;

	return (time_t)(days * 86400 + tm->tm_hour * 3600 + tm->tm_min * 60 +
	    tm->tm_sec);
}

static void
put2(char *p, int v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

/* IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT" (29 bytes + NUL). */
void
http_date(time_t t, char out[30])
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char mons[12][4] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	utc_tm(t, &tm);
	memcpy(out, days[tm.tm_wday], 3);
	out[3] = ',';
	out[4] = ' ';
	put2(out + 5, tm.tm_mday);
	out[7] = ' ';
	memcpy(out + 8, mons[tm.tm_mon], 3);
	out[11] = ' ';
	put2(out + 12, (tm.tm_year + 1900) / 100 % 100);
	put2(out + 14, (tm.tm_year + 1900) % 100);
	out[16] = ' ';
	put2(out + 17, tm.tm_hour);
	out[19] = ':';
	put2(out + 20, tm.tm_min);
	out[22] = ':';
	put2(out + 23, tm.tm_sec);
	memcpy(out + 25, " GMT", 5);
}

/* Levenshtein distance, for "did you mean" hints on short names. */
int
edit_distance(const char *a, const char *b)
{
	int row[64], i, j, la = (int)strlen(a), lb = (int)strlen(b);

	if (la >= 63 || lb >= 63)
		return 99;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		int prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			int cur = row[j], best = prev +
			    (tolower((unsigned char)a[i - 1]) !=
			    tolower((unsigned char)b[j - 1]));
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

/* write(2) until done; -1 on error (EINTR retried). */
ssize_t
write_full(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	size_t left = n;

	while (left > 0) {
		ssize_t w = write(fd, p, left);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		left -= (size_t)w;
	}
	return (ssize_t)n;
}

/*
 * Percent-encode a decoded path for a URL (RFC 3986 pchar and '/') into
 * out, always terminated; cap of 3 * strlen(s) + 1 is always enough.
 */
void
url_encode_buf(char *out, size_t cap, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s != '\0' && o + 4 <= cap; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~/:@!$&'()*+,;=", c))
			out[o++] = (char)c;
		else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (cap > 0)
		out[o < cap ? o : cap - 1] = '\0';
}

/* The same into the arena. */
char *
url_encode_path(struct arena *a, const char *s)
{
	size_t cap = strlen(s) * 3 + 1;
	char *out = arena_alloc(a, cap);

	if (out != NULL)
		url_encode_buf(out, cap, s);
	return out;
}

/*
 * base64url without padding (RFC 4648 section 5) into out; returns the
 * length, or 0 when cap is too small.
 */
size_t
url_b64_encode(const unsigned char *in, size_t n, char *out, size_t cap)
{
	static const char t[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t i, o = 0;

	if (cap < (n * 4 + 2) / 3 + 1)
		return 0;
	for (i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 |
		    (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
		    (i + 2 < n ? in[i + 2] : 0);

		out[o++] = t[v >> 18 & 63];
		out[o++] = t[v >> 12 & 63];
		if (i + 1 < n)
			out[o++] = t[v >> 6 & 63];
		if (i + 2 < n)
			out[o++] = t[v & 63];
	}
	out[o] = '\0';
	return o;
}
