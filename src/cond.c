/*
 * cond.c - the parts of conditional and range requests that need no I/O:
 * HTTP-date parsing in all three formats a recipient must accept (RFC 9110
 * section 5.6.7), entity-tag list matching, strong and weak (section
 * 8.8.3.2), the order of preconditions (section 13.2.2), and byte-range
 * parsing with coalescing (section 14.1.2).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "internal.h"

static int
month_of(const char *m)
{
	static const char mons[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int i;

	for (i = 0; i < 12; i++)
		if (strncmp(m, mons + i * 3, 3) == 0)
			return i;
	return -1;
}

static int
days_in_month(int year, int mon)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return days[mon] + (mon == 1 && leap);
}

static int
num(const char *s, int digits, int *out)
{
	int v = 0, i;

	for (i = 0; i < digits; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int
hms(const char *s, struct tm *tm)
{
	if (num(s, 2, &tm->tm_hour) || s[2] != ':' || num(s + 3, 2,
	    &tm->tm_min) || s[5] != ':' || num(s + 6, 2, &tm->tm_sec))
		return -1;
	return tm->tm_hour > 23 || tm->tm_min > 59 || tm->tm_sec > 60 ? -1 : 0;
}

/*
 * Parse an HTTP-date: IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", RFC 850
 * "Sunday, 06-Nov-94 08:49:37 GMT" or asctime "Sun Nov  6 08:49:37 1994".
 * 0 with *t set, or -1 (the caller then ignores the header).
 */
int
http_parse_date(const char *s, time_t *t)
{
	struct tm tm;
	const char *comma = strchr(s, ',');
	size_t len = strlen(s);

	memset(&tm, 0, sizeof(tm));
	if (comma != NULL && comma - s == 3 && len == 29) {
		/* IMF-fixdate */
		const char *p = s + 5;
		if (num(p, 2, &tm.tm_mday) || p[2] != ' ' ||
		    (tm.tm_mon = month_of(p + 3)) < 0 || p[6] != ' ' ||
		    num(p + 7, 4, &tm.tm_year) || p[11] != ' ' ||
		    hms(p + 12, &tm) || strcmp(p + 20, " GMT") != 0)
			return -1;
		tm.tm_year -= 1900;
	} else if (comma != NULL && comma - s >= 6 && comma - s <= 9) {
		/* RFC 850: two-digit year, read per RFC 9110 5.6.7 */
		const char *p = comma + 2;
		if (comma[1] != ' ' || strlen(p) != 22 || num(p, 2,
		    &tm.tm_mday) || p[2] != '-' || (tm.tm_mon =
		    month_of(p + 3)) < 0 || p[6] != '-' || num(p + 7, 2,
		    &tm.tm_year) || p[9] != ' ' || hms(p + 10, &tm) ||
		    strcmp(p + 18, " GMT") != 0)
			return -1;
		/* RFC 9110 5.6.7: more than 50 years ahead means the past. */
		{
			struct tm now;
			int y;

			utc_tm(now_real(), &now);
			y = (now.tm_year + 1900) / 100 * 100 + tm.tm_year;
			if (y > now.tm_year + 1900 + 50)
				y -= 100;
			tm.tm_year = y - 1900;
		}
	} else if (comma == NULL && len == 24) {
		/* asctime: "Sun Nov  6 08:49:37 1994" */
		const char *p = s + 4;
		if (s[3] != ' ' || (tm.tm_mon = month_of(p)) < 0 ||
		    p[3] != ' ' || (p[4] == ' ' ? num(p + 5, 1, &tm.tm_mday) :
		    num(p + 4, 2, &tm.tm_mday)) || p[6] != ' ' ||
		    hms(p + 7, &tm) || p[15] != ' ' || num(p + 16, 4,
		    &tm.tm_year))
			return -1;
		tm.tm_year -= 1900;
	} else
		return -1;
	if (tm.tm_mday < 1 || tm.tm_mday > days_in_month(tm.tm_year + 1900,
	    tm.tm_mon))
		return -1;
	*t = utc_timegm(&tm);
	return 0;
}

/*
 * Does a field value (`*` or a list of entity-tags) match etag?  Weak
 * comparison ignores W/ on both sides; strong comparison needs both to
 * be strong.  A malformed list matches nothing.
 */
int
cond_etag_match(const char *list, const char *etag, int weak)
{
	const char *p = list, *tag = etag;
	int etag_weak = 0;

	if (strncmp(tag, "W/", 2) == 0) {
		etag_weak = 1;
		tag += 2;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '*')
		return 1;
	while (*p != '\0') {
		int w = 0;
		const char *q, *end;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		if (strncmp(p, "W/", 2) == 0) {
			w = 1;
			p += 2;
		}
		if (*p != '"' || (end = strchr(p + 1, '"')) == NULL)
			return 0;
		q = p;
		p = end + 1;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != ',' && *p != '\0')
			return 0;	/* junk after a tag: malformed */
		if ((size_t)(end + 1 - q) == strlen(tag) && memcmp(q, tag,
		    (size_t)(end + 1 - q)) == 0 && (weak || (!w && !etag_weak)))
			return 1;
	}
	return 0;
}

static int
range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/*
 * Parse a Range field for a representation of `size` bytes.  Returns the
 * number of ranges put in out (sorted, overlapping and adjacent ones
 * coalesced), 0 when the field is to be ignored (not "bytes=", bad
 * syntax, more than max ranges: the whole representation is sent), or -1
 * when no range is satisfiable (416).
 */
int
range_parse(const char *spec, long long size, struct range *out, int max)
{
	const char *p;
	int n = 0, specs = 0, i, m;

	if (strncasecmp(spec, "bytes=", 6) != 0)
		return 0;
	p = spec + 6;
	for (;;) {
		long long a = -1, b = -1;
		char *end;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == '\0')
			break;
		if (++specs > max)
			return 0;
		if (isdigit((unsigned char)*p)) {
			a = strtoll(p, &end, 10);
			if (end - p > 18 || *end != '-')
				return 0;
			p = end + 1;
			if (isdigit((unsigned char)*p)) {
				b = strtoll(p, &end, 10);
				if (end - p > 18 || b < a)
					return 0;
				p = end;
			}
		} else if (*p == '-' && isdigit((unsigned char)p[1])) {
			long long suffix = strtoll(p + 1, &end, 10);
			if (end - p > 19)
				return 0;
			p = end;
			if (suffix == 0)
				continue;	/* unsatisfiable */
			a = suffix >= size ? 0 : size - suffix;
			b = size - 1;
		} else
			return 0;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != ',' && *p != '\0')
			return 0;
		if (a >= size)
			continue;		/* unsatisfiable */
		if (b == -1 || b >= size)
			b = size - 1;
		out[n].start = a;
		out[n].end = b;
		n++;
	}
	if (specs == 0)
		return 0;
	if (n == 0)
		return -1;
	qsort(out, (size_t)n, sizeof(*out), range_cmp);
	for (i = 1, m = 0; i < n; i++) {
		if (out[i].start <= out[m].end + 1) {
			if (out[i].end > out[m].end)
				out[m].end = out[i].end;
		} else
			out[++m] = out[i];
	}
	return m + 1;
}

/*
 * Evaluate the preconditions of RFC 9110 section 13.2.2 for a
 * representation with this etag and mtime.  Returns 0 (go on), 304 or
 * 412.  *use_range is cleared when If-Range does not match.
 */
int
cond_evaluate(const struct ih_request *r, const char *etag, time_t mtime,
    int *use_range)
{
	const char *im, *ius, *inm, *ims, *ir;
	int get;
	time_t t;

	if (!r->hd.has_if)
		return 0;	/* no precondition: the usual request */
	im = ih_header(r, "If-Match");
	ius = ih_header(r, "If-Unmodified-Since");
	inm = ih_header(r, "If-None-Match");
	ims = ih_header(r, "If-Modified-Since");
	ir = ih_header(r, "If-Range");
	get = strcmp(r->hd.method, "GET") == 0 ||
	    strcmp(r->hd.method, "HEAD") == 0;

	if (im != NULL) {
		if (!cond_etag_match(im, etag, 0))
			return 412;
	} else if (ius != NULL && http_parse_date(ius, &t) == 0 && mtime > t)
		return 412;
	if (inm != NULL) {
		if (cond_etag_match(inm, etag, 1))
			return get ? 304 : 412;
	} else if (ims != NULL && get && http_parse_date(ims, &t) == 0 &&
	    mtime <= t)
		return 304;
	if (ir != NULL) {
		/* A strong tag must match exactly; a date must equal mtime. */
		if (ir[0] == '"' || strncmp(ir, "W/", 2) == 0)
			*use_range = cond_etag_match(ir, etag, 0);
		else
			*use_range = http_parse_date(ir, &t) == 0 && t == mtime;
	}
	return 0;
}
