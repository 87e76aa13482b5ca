/*
 * fuzz_mime.c - libFuzzer driver for the mime.types reader and its index
 * (src/mime.c).  The input is a mime.types file: it is made into the index
 * the server keeps in datadir/cache, and every word of the input is
 * looked up as an extension; a type found must be one non-empty word with
 * no space or control byte, and the first line naming an extension must
 * win.  Then the index is damaged - the input's bytes XORed over it past
 * its 80-byte head, as a file corrupted on disk would be - and every lookup must
 * stay inside the block (ASan checks) and still return a terminated
 * string or NULL.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The type the first line naming ext gives it (the reference), or NULL. */
static int
reference(const char *text, const char *ext, char *type, size_t cap)
{
	const char *line = text;

	while (line != NULL && *line != '\0') {
		const char *end = strchr(line, '\n'), *p = line;
		char first[600];
		size_t k = 0, w;
		int word = 0;

		if (end == NULL)
			end = line + strlen(line);
		while (p < end) {
			while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
				p++;
			for (w = 0; p + w < end && p[w] != ' ' && p[w] != '\t' &&
			    p[w] != '\r'; w++)
				;
			if (w == 0)
				break;
			if (word == 0) {
				if (*p == '#' || w > 512)
					break;
				k = w < sizeof(first) - 1 ? w : sizeof(first) - 1;
				memcpy(first, p, k);
				first[k] = '\0';
			} else if (w < 32 && memchr(p, '#', w) == NULL &&
			    strlen(ext) == w) {
				size_t i;

				for (i = 0; i < w && tolower((unsigned char)p[i]) ==
				    (unsigned char)ext[i]; i++)
					;
				if (i == w) {
					snprintf(type, cap, "%s", first);
					return 1;
				}
			}
			word++;
			p += w;
		}
		line = *end == '\n' ? end + 1 : NULL;
	}
	return 0;
}

/* The next whitespace-separated word of copy from *i, lowered, in ext
 * (cut at its size); its length. */
static size_t
next_word(const char *copy, size_t n, size_t *i, char *ext, size_t cap)
{
	size_t k = 0;

	while (*i < n && isspace((unsigned char)copy[*i]))
		(*i)++;
	for (; *i < n && !isspace((unsigned char)copy[*i]); (*i)++)
		if (k + 1 < cap)
			ext[k++] = (char)tolower((unsigned char)copy[*i]);
	ext[k] = '\0';
	return k;
}

int
LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
	struct stat st;
	char *text, *copy, *blk, ext[40], want[600];
	size_t len, i, k;
	const char *t;

	if (n > 4096 || memchr(in, '\0', n) != NULL)
		return 0;	/* the server refuses a file with NUL bytes */
	if ((text = malloc(n + 1)) == NULL || (copy = malloc(n + 1)) == NULL)
		abort();
	memcpy(text, in, n);
	text[n] = '\0';
	memcpy(copy, text, n + 1);
	memset(&st, 0, sizeof(st));
	st.st_ino = 7;
	st.st_size = (off_t)n;
	if ((blk = mime_index_make(text, &st, &len)) == NULL)
		abort();
	/* Every word of the input, lowered, as an extension. */
	for (i = 0; i < n;) {
		k = next_word(copy, n, &i, ext, sizeof(ext));
		if (k == 0 || k >= 32)
			continue;
		t = mime_index_find(blk, len, &st, ext);
		if (reference(copy, ext, want, sizeof(want))) {
			if (t == NULL || strcmp(t, want) != 0)
				abort();	/* the first line must win */
		} else if (t != NULL && strchr(ext, '#') == NULL)
			abort();
		if (t != NULL && (*t == '\0' || strpbrk(t, " \t\r\n") != NULL))
			abort();
	}
	/* Damaged past the head: lookups stay in bounds. */
	for (i = 0; i < n && 80 + i < len; i++)
		blk[80 + i] ^= (char)in[i];
	for (i = 0; i < n;) {
		k = next_word(copy, n, &i, ext, sizeof(ext));
		if (k > 0 && k < 32 && (t = mime_index_find(blk, len, &st,
		    ext)) != NULL)
			(void)strlen(t);
	}
	free(blk);
	free(text);
	free(copy);
	return 0;
}
