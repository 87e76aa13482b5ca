/*
 * unit.h - the unit tests' whole harness, header only.  CHECK prints one
 * TAP line per assertion (`ok N - what` / `not ok N - what`); unit_done()
 * prints the plan and a summary and gives main its exit status (1 when
 * anything failed).  guarded_copy places data so that its last byte sits
 * just before a PROT_NONE page: a one-byte over-read faults at once.
 */
#ifndef UNIT_H
#define UNIT_H

#include <sys/mman.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int unit_n, unit_failed;

static inline int __attribute__((format(printf, 2, 3)))
unit_check(int ok, const char *fmt, ...)
{
	va_list ap;

	unit_n++;
	if (!ok)
		unit_failed++;
	printf("%sok %d - ", ok ? "" : "not ", unit_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	return ok;
}

/* CHECK(cond, "description", args...): one TAP line; evaluates to cond. */
#define CHECK(cond, ...)	unit_check((cond) ? 1 : 0, __VA_ARGS__)

/* Equality checks that show both sides when they differ. */
#define CHECK_INT(got, want, ...) do {					\
	long long g_ = (long long)(got), w_ = (long long)(want);	\
	if (!CHECK(g_ == w_, __VA_ARGS__))				\
		printf("#   got %lld, want %lld\n", g_, w_);		\
} while (0)

#define CHECK_STR(got, want, ...) do {					\
	const char *g_ = (got), *w_ = (want);				\
	if (!CHECK(g_ != NULL && w_ != NULL ? strcmp(g_, w_) == 0 :	\
	    g_ == w_, __VA_ARGS__))					\
		printf("#   got \"%s\", want \"%s\"\n",			\
		    g_ != NULL ? g_ : "(null)", w_ != NULL ? w_ : "(null)"); \
} while (0)

static inline void
unit_diag(const char *s)
{
	printf("# %s\n", s);
}

/* The plan and summary; main returns this. */
static inline int
unit_done(void)
{
	printf("1..%d\n# %d passed, %d failed\n", unit_n, unit_n - unit_failed,
	    unit_failed);
	fflush(stdout);
	return unit_failed > 0;
}

static inline size_t
unit_pagesize(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* Pages mapped for len bytes: enough for the data, plus the guard. */
static inline size_t
unit_guard_span(size_t len)
{
	size_t ps = unit_pagesize();

	return ((len + ps - 1) / ps + 1) * ps + (len == 0 ? ps : 0);
}

/*
 * A writable copy of data[0..len) whose last byte is the last byte before
 * a PROT_NONE page (data NULL: len zero bytes).  No terminating NUL is
 * added.  Aborts on failure.
 */
static inline char *
guarded_copy(const char *data, size_t len)
{
	size_t ps = unit_pagesize(), span = unit_guard_span(len);
	char *base, *guard;

	base = mmap(NULL, span, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		perror("guarded_copy: mmap");
		abort();
	}
	guard = base + span - ps;
	if (mprotect(guard, ps, PROT_NONE) == -1) {
		perror("guarded_copy: mprotect");
		abort();
	}
	if (len > 0 && data != NULL)
		memcpy(guard - len, data, len);
	return guard - len;
}

/* Unmap a guarded_copy of len bytes. */
static inline void
guarded_free(char *p, size_t len)
{
	size_t span = unit_guard_span(len);
	char *guard = p + len;

	if (p != NULL)
		munmap(guard + unit_pagesize() - span, span);
}

/* printf into a fixed buffer; aborts on truncation (a test bug). */
static inline char * __attribute__((format(printf, 3, 4)))
fmt(char *buf, size_t cap, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, cap, f, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap) {
		fprintf(stderr, "fmt: truncated\n");
		abort();
	}
	return buf;
}

/* Remove a temporary directory a test made (mkdtemp), with its files. */
static inline void
unit_rmtree(const char *dir)
{
	char cmd[4200];

	if (snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir) >= (int)sizeof(cmd) ||
	    system(cmd) != 0)
		unit_diag("could not remove a temporary directory");
}

#endif /* UNIT_H */
