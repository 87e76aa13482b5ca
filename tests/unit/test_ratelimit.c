/*
 * test_ratelimit.c - src/ratelimit.c: a burst and its Retry-After, refill
 * with the clock, the cap at burst, a clock stepped back, keys apart
 * (bytes, not strings), rates below one a second, arguments refused,
 * eviction (the table stays its size, a full bucket goes before the least
 * recently used one), tables that are damaged, short, of another layout
 * or slot count, not ours or a link (all made anew), a table replaced
 * under a process that has it mapped, the creation race and exact counts
 * with 8 processes at once, and a set's lock held by a process that is
 * killed (released at once) or stopped (the table made anew after
 * lock_timeout).
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>

#include "internal.h"
#include "unit.h"

#define HEAD	128	/* ratelimit.c's RL_HEAD, RL_SET, RL_WAYS */
#define SET	384
#define WAYS	8
#define T0	1700000000000LL	/* ms */

static char datadir[] = "/tmp/ihttpd-test-ratelimit.XXXXXX";
static char rdir[sizeof(datadir) + 16];
static char tpath[sizeof(rdir) + 16];

static off_t
table_size(long long slots)
{
	return HEAD + (slots + WAYS - 1) / WAYS * SET;
}

static int
stat_table(struct stat *st)
{
	return lstat(tpath, st);
}

static off_t
file_size(void)
{
	struct stat st;

	return stat_table(&st) == 0 ? st.st_size : -1;
}

static ino_t
file_ino(void)
{
	struct stat st;

	return stat_table(&st) == 0 ? st.st_ino : 0;
}

/* Entries of datadir/ratelimit: the table alone, no temporary left. */
static int
entries(void)
{
	DIR *d = opendir(rdir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* rl_take with a string key. */
static int
take(const char *key, double rate, double burst, int64_t now,
    int64_t *retry)
{
	*retry = -1;
	return rl_take(key, strlen(key), rate, burst, now, retry);
}

/* Takes of key at now until one is refused (at most max): how many. */
static int
drain(const char *key, double rate, double burst, int64_t now, int max)
{
	int64_t r;
	int n = 0;

	while (n < max && take(key, rate, burst, now, &r) == 1)
		n++;
	return n;
}

static void
write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd == -1 || write_full(fd, data, len) != (ssize_t)len) {
		perror(path);
		abort();
	}
	fchmod(fd, mode);
	close(fd);
}

static void
test_burst(void)
{
	struct stat st;
	int64_t r;

	CHECK_STR(config_default("rate_limit_slots"), "8192",
	    "rate_limit_slots: a key, default 8192");
	CHECK_INT(drain("burst", 1, 5, T0, 100), 5, "burst 5: 5 allowed");
	CHECK_INT(take("burst", 1, 5, T0, &r), 0, "the 6th refused");
	CHECK_INT(r, 1000, "...a token in 1000 ms at 1/s");
	CHECK(stat_table(&st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & 0777) == 0600, "the table: a regular file, 0600");
	CHECK_INT(st.st_size, table_size(cfg.rate_limit_slots),
	    "...of a header and a set per %d slots", WAYS);
	CHECK_INT(entries(), 1, "...alone in datadir/ratelimit");
	CHECK_INT(take("burst", 1, 5, T0, &r), 0, "still refused");
	CHECK_INT(r, 1000, "...and a refusal costs no token");
}

static void
test_refill(void)
{
	int64_t r;

	CHECK_INT(drain("refill", 10, 3, T0, 100), 3, "burst 3 at 10/s");
	CHECK_INT(take("refill", 10, 3, T0, &r), 0, "then refused");
	CHECK_INT(r, 100, "...retry in 100 ms");
	CHECK_INT(take("refill", 10, 3, T0 + 40, &r), 0, "40 ms on: refused");
	CHECK_INT(r, 60, "...retry in the 60 ms left");
	CHECK_INT(take("refill", 10, 3, T0 + 99, &r), 0, "99 ms on: refused");
	CHECK_INT(r, 1, "...retry in 1 ms");
	CHECK_INT(take("refill", 10, 3, T0 + 100, &r), 1, "100 ms: one token");
	CHECK_INT(take("refill", 10, 3, T0 + 100, &r), 0, "...only one");
	CHECK_INT(drain("refill", 10, 3, T0 + 350, 100), 2,
	    "250 ms more: 2.5 tokens, 2 taken");
	CHECK_INT(take("refill", 10, 3, T0 + 350, &r), 0, "then refused");
	CHECK_INT(r, 50, "...the half token left needs 50 ms");
}

static void
test_cap(void)
{
	int64_t r;

	CHECK_INT(take("cap", 1, 3, T0, &r), 1, "a new bucket starts full");
	CHECK_INT(drain("cap", 1, 3, T0 + 3600 * 1000LL, 100), 3,
	    "an hour idle: capped at burst 3, not 3600");
	CHECK_INT(take("cap", 1, 3, T0 + 3600 * 1000LL, &r), 0, "then refused");
	/* burst lowered for the same key: what it holds is capped too */
	CHECK_INT(drain("cap", 1, 100, T0 + 7200 * 1000LL, 1000), 100,
	    "burst raised to 100, an hour on: 100");
	CHECK_INT(drain("cap", 1, 2, T0 + 10800 * 1000LL, 1000), 2,
	    "burst lowered to 2: 2");
}

static void
test_backwards(void)
{
	int64_t r;

	CHECK_INT(drain("back", 1, 2, T0, 100), 2, "burst 2 taken");
	CHECK_INT(take("back", 1, 2, T0 - 5000, &r), 0,
	    "clock 5 s back: nothing refilled");
	CHECK_INT(r, 1000, "...retry 1000 ms, not negative");
	CHECK_INT(take("back", 1, 2, T0 - 4500, &r), 0,
	    "half a second after the step: refused");
	CHECK_INT(r, 500, "...retry in 500 ms");
	CHECK_INT(take("back", 1, 2, T0 - 4000, &r), 1,
	    "a second after the step: the time that passed refills");
	CHECK_INT(take("back", 1, 2, INT64_MIN / 2, &r), 0,
	    "a clock far in the past: refused, no overflow");
	CHECK(r >= 1, "...retry_ms %lld >= 1", (long long)r);
}

static void
test_keys(void)
{
	static const char k1[] = "x\0y", k2[] = "x\0z";
	int64_t r;
	int i, n;

	CHECK_INT(drain("key-1", 1, 4, T0, 100), 4, "key-1 drained");
	CHECK_INT(drain("key-2", 1, 4, T0, 100), 4, "key-2: a full bucket of "
	    "its own");
	for (n = 0, i = 0; i < 10; i++)
		n += rl_take(k1, sizeof(k1), 1, 3, T0, &r) == 1;
	CHECK_INT(n, 3, "a key with a NUL byte: 3 of 10");
	for (n = 0, i = 0; i < 10; i++)
		n += rl_take(k2, sizeof(k2), 1, 3, T0, &r) == 1;
	CHECK_INT(n, 3, "...and one differing after the NUL is another key");
	for (n = 0, i = 0; i < 10; i++)
		n += rl_take(k1, 1, 1, 3, T0, &r) == 1;
	CHECK_INT(n, 3, "...and its first byte alone a third");
	for (n = 0, i = 0; i < 10; i++)
		n += rl_take(NULL, 0, 1, 3, T0, &r) == 1;
	CHECK_INT(n, 3, "the empty key is a key");
}

static void
test_slow_rate(void)
{
	int64_t r;

	CHECK_INT(take("slow", 0.5, 1, T0, &r), 1, "0.5/s, burst 1: allowed");
	CHECK_INT(take("slow", 0.5, 1, T0, &r), 0, "...then refused");
	CHECK_INT(r, 2000, "...retry in 2000 ms");
	CHECK_INT(take("slow", 0.5, 1, T0 + 1999, &r), 0, "1999 ms: refused");
	CHECK_INT(r, 1, "...retry in 1 ms");
	CHECK_INT(take("slow", 0.5, 1, T0 + 2000, &r), 1, "2000 ms: allowed");
	CHECK_INT(take("slower", 1.0 / 3600, 1, T0, &r), 1, "1/h: allowed");
	CHECK_INT(take("slower", 1.0 / 3600, 1, T0, &r), 0, "...then refused");
	CHECK_INT(r, 3600000, "...retry in an hour");
	CHECK_INT(take("slowest", 1e-12, 1, T0, &r), 1, "1e-12/s: allowed");
	CHECK_INT(take("slowest", 1e-12, 1, T0, &r), 0, "...then refused");
	CHECK(r >= 1, "...retry_ms %lld, positive, no overflow",
	    (long long)r);
	CHECK_INT(rl_take("slow", 4, 0.5, 1, T0 + 4000, NULL), 1,
	    "retry_ms may be NULL");
}

static void
test_args(void)
{
	int64_t r = 7;

	errno = 0;
	CHECK_INT(rl_take("a", 1, 0, 5, T0, &r), -1, "rate 0: -1");
	CHECK_INT(errno, EINVAL, "...EINVAL");
	CHECK_INT(rl_take("a", 1, -1, 5, T0, &r), -1, "rate -1: -1");
	CHECK_INT(rl_take("a", 1, NAN, 5, T0, &r), -1, "rate NaN: -1");
	CHECK_INT(rl_take("a", 1, INFINITY, 5, T0, &r), -1, "rate inf: -1");
	CHECK_INT(rl_take("a", 1, 1, 0.5, T0, &r), -1, "burst 0.5: -1");
	CHECK_INT(rl_take("a", 1, 1, NAN, T0, &r), -1, "burst NaN: -1");
	CHECK_INT(rl_take(NULL, 3, 1, 5, T0, &r), -1, "NULL key of 3 bytes");
	CHECK_INT(r, 7, "...retry_ms untouched");
}

static void
test_eviction(void)
{
	char k[32];
	off_t size = file_size();
	int64_t r, now = T0 + 100000;
	int i, n;

	/*
	 * A (1 token in 1000 s) is drained, and is the least recently used
	 * of its set for the whole flood after it; the flood's buckets
	 * (1000/s, burst 1) have refilled to full a millisecond after each
	 * take.  A set gives those up first, so A stays limited.
	 */
	CHECK_INT(take("evict-A", 0.001, 1, now, &r), 1, "A: one token");
	for (i = 0; i < 20000; i++)
		(void)take(fmt(k, sizeof(k), "flood-%d", i), 1000, 1,
		    now + 1 + i, &r);
	CHECK_INT(take("evict-A", 0.001, 1, now + 30000, &r), 0,
	    "20000 keys through %lld slots, all refilled to full: A, the "
	    "least recently used, is still limited",
	    (long long)cfg.rate_limit_slots);
	CHECK_INT(file_size(), size, "...the table the same size");
	CHECK_INT(entries(), 1, "...and alone");

	/*
	 * B drained, then a flood of buckets that never refill in the
	 * test: B, the least recently used, goes; the newest are kept.
	 */
	now += 100000;
	CHECK_INT(take("evict-B", 0.001, 1, now, &r), 1, "B: one token");
	CHECK_INT(take("evict-B", 0.001, 1, now, &r), 0, "...then refused");
	for (i = 0; i < 20000; i++)
		(void)take(fmt(k, sizeof(k), "slow-%d", i), 0.001, 1,
		    now + 1 + i, &r);
	/* (8: no set can have had to give up one of them) */
	for (n = 0, i = 20000 - WAYS; i < 20000; i++)
		n += take(fmt(k, sizeof(k), "slow-%d", i), 0.001, 1,
		    now + 30000, &r) == 0;
	CHECK_INT(n, WAYS, "the %d newest of 20000 drained keys: still "
	    "limited", WAYS);
	CHECK_INT(take("evict-B", 0.001, 1, now + 30000, &r), 1,
	    "B, least recently used, was given up: it starts full again");
	CHECK_INT(file_size(), size, "...the table the same size");
}

/* Replace the table by hand, then let the next take decide. */
static int
replaced_with(const void *data, size_t len, mode_t mode, const char *what)
{
	ino_t old;
	int64_t r;
	int ok;

	rl_close();
	unlink(tpath);
	write_file(tpath, data, len, mode);
	old = file_ino();
	ok = take("layout", 1, 2, T0, &r) == 1 &&
	    take("layout", 1, 2, T0, &r) == 1 &&
	    take("layout", 1, 2, T0, &r) == 0;
	CHECK(ok, "%s: a take works, a fresh bucket", what);
	CHECK(file_ino() != old, "...the file was replaced");
	CHECK_INT(file_size(), table_size(cfg.rate_limit_slots),
	    "...by a table of this size");
	CHECK_INT(entries(), 1, "...no temporary left");
	return ok;
}

static void
test_layout(void)
{
	size_t len = (size_t)table_size(cfg.rate_limit_slots);
	char *good, *bad;
	struct stat st;
	ino_t ino;
	int fd;
	int64_t r;

	good = malloc(len);
	bad = calloc(1, len);
	if (good == NULL || bad == NULL)
		abort();
	rl_close();
	fd = open(tpath, O_RDONLY);
	if (fd == -1 || read(fd, good, len) != (ssize_t)len)
		abort();
	close(fd);

	/* A good table, mapped by a new process: kept, what it holds too. */
	CHECK_INT(drain("kept", 0.001, 2, T0, 10), 2, "kept: drained");
	rl_close();
	ino = file_ino();
	CHECK_INT(take("kept", 0.001, 2, T0, &r), 0,
	    "mapped again by a new process: the bucket as it was");
	CHECK(file_ino() == ino, "...the same file");

	memset(bad, 0x5a, len);
	replaced_with(bad, len, 0600, "garbage of the right size");
	replaced_with(good, HEAD + SET / 2, 0600,
	    "a good header on a short file");
	replaced_with(good, 16, 0600, "16 bytes");
	replaced_with("", 0, 0600, "an empty file");
	memcpy(bad, good, len);
	bad[20]++;	/* version */
	replaced_with(bad, len, 0600, "another version");
	memcpy(bad, good, len);
	bad[32]++;	/* entry size */
	replaced_with(bad, len, 0600, "another entry size");
	memcpy(bad, good, len);
	memcpy(bad + 16, "\1\2\3\4", 4);	/* the other byte order */
	replaced_with(bad, len, 0600, "another byte order");
	replaced_with(good, len, 0620, "a good table writable by its group");

	/* Another slot count: replaced by one of this size. */
	rl_close();
	unlink(tpath);
	write_file(tpath, good, len, 0600);
	cfg.rate_limit_slots = 128;
	CHECK_INT(take("layout", 1, 2, T0, &r), 1,
	    "rate_limit_slots 64 -> 128: a take works");
	CHECK_INT(file_size(), table_size(128), "...the table made for 128");
	cfg.rate_limit_slots = 64;
	rl_close();
	CHECK_INT(take("layout", 1, 2, T0, &r), 1, "...and back to 64");
	CHECK_INT(file_size(), table_size(64), "...made for 64");

	/* A symbolic link in its place: replaced, its target untouched. */
	rl_close();
	unlink(tpath);
	{
		char target[sizeof(datadir) + 16];

		fmt(target, sizeof(target), "%s/target", datadir);
		write_file(target, "x", 1, 0600);
		if (symlink(target, tpath) == -1)
			abort();
		CHECK_INT(take("layout", 1, 2, T0, &r), 1,
		    "a symbolic link in its place: a take works");
		CHECK(lstat(tpath, &st) == 0 && S_ISREG(st.st_mode),
		    "...a regular file now");
		CHECK(stat(target, &st) == 0 && st.st_size == 1,
		    "...the link's target untouched");
		unlink(target);
	}

	/*
	 * Replaced under a process that has it mapped: followed once its
	 * clock moved a second from the last look.
	 */
	CHECK_INT(drain("follow", 1, 3, T0, 10), 3, "follow: drained");
	rl_close();
	CHECK_INT(take("follow", 1, 3, T0, &r), 0, "mapped anew: refused");
	unlink(tpath);
	write_file(tpath, bad, len, 0600);
	CHECK_INT(take("follow", 1, 3, T0 + 500, &r), 0,
	    "replaced by another: half a second on, the old table counts");
	CHECK_INT(drain("follow", 1000, 3, T0 + 1500, 10), 3,
	    "a second on: the new table, a fresh bucket");
	CHECK_INT(file_size(), table_size(64), "...which was made anew");
	unlink(tpath);
	CHECK_INT(take("follow", 1, 3, T0 + 1700, &r), 0,
	    "removed: 200 ms later the mapping still counts");
	CHECK_INT(take("follow", 1, 3, T0 + 2700, &r), 1,
	    "...a second later a new table is made");
	CHECK_INT(entries(), 1, "...alone");
	free(good);
	free(bad);
}

/*
 * 8 processes at once, each mapping the table itself, and the first ones
 * racing to make it: exactly burst tokens in all.
 */
static void
test_concurrent(void)
{
	pid_t pid[8];
	int i, j, st, total = 0, ok = 1;
	int64_t r;

	rl_close();
	unlink(tpath);
	for (i = 0; i < 8; i++) {
		if ((pid[i] = fork()) == -1)
			abort();
		if (pid[i] == 0) {
			int n = 0;

			for (j = 0; j < 50; j++) {
				int rc = take("crowd", 1e-6, 100, T0, &r);

				if (rc == -1)
					_exit(255);
				n += rc;
			}
			_exit(n);
		}
	}
	for (i = 0; i < 8; i++) {
		if (waitpid(pid[i], &st, 0) != pid[i] || !WIFEXITED(st) ||
		    WEXITSTATUS(st) == 255)
			ok = 0;
		else
			total += WEXITSTATUS(st);
	}
	CHECK(ok, "8 processes, 50 takes each: no error");
	CHECK_INT(total, 100, "...exactly burst 100 allowed in all");
	CHECK_INT(entries(), 1, "...one table, made by one of them");
	CHECK_INT(take("crowd", 1e-6, 100, T0, &r), 0, "...then refused here");
}

/* A child that takes key's set lock and waits; its pid. */
static pid_t
holder(const char *key)
{
	int p[2];
	char c = 0;
	pid_t pid;

	if (pipe(p) == -1 || (pid = fork()) == -1)
		abort();
	if (pid == 0) {
		close(p[0]);
		c = rl_test_hold_lock(key, strlen(key), T0) == 0 ? 'y' : 'n';
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1)
		c = 0;
	close(p[0]);
	CHECK(c == 'y', "a child holds the set of '%s'", key);
	return pid;
}

static void
test_dead_holder(void)
{
	int64_t r, t;
	pid_t pid;
	ino_t ino;

	CHECK_INT(drain("dead", 0.001, 2, T0, 10), 2, "dead: drained");
	ino = file_ino();
	pid = holder("dead");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	cfg.lock_timeout = 10;
	t = mono_ms();
	CHECK_INT(take("dead", 0.001, 2, T0, &r), 1,
	    "killed holding the set: the next take is served, the set "
	    "forgotten (the bucket starts full)");
	CHECK(mono_ms() - t < 2000, "...at once, not after lock_timeout "
	    "(%lld ms)", (long long)(mono_ms() - t));
	CHECK(file_ino() == ino, "...the same table");
	CHECK_INT(take("dead", 0.001, 2, T0, &r), 1, "...counting again");
	CHECK_INT(take("dead", 0.001, 2, T0, &r), 0, "...and limiting");
	CHECK_INT(drain("dead-2", 1, 3, T0, 10), 3,
	    "other sets untouched, the table fine");

	/* Stopped, not dead: the table is made anew after lock_timeout. */
	pid = holder("stuck");
	cfg.lock_timeout = 1;
	t = mono_ms();
	CHECK_INT(take("stuck", 1, 2, T0, &r), 1,
	    "a live holder that never lets go: served after lock_timeout");
	t = mono_ms() - t;
	CHECK(t >= 900 && t < 5000, "...%lld ms, about lock_timeout 1 s",
	    (long long)t);
	CHECK(file_ino() != ino, "...on a table made anew");
	CHECK_INT(entries(), 1, "...alone");
	t = mono_ms();
	CHECK_INT(take("stuck", 1, 2, T0, &r), 1, "the next take at once");
	CHECK(mono_ms() - t < 500, "...in %lld ms", (long long)(mono_ms() - t));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);

	/*
	 * Six processes wait on a set held by a stopped one: each gives up
	 * after lock_timeout, one makes a new table and the others use it,
	 * so the new table counts all six (burst 4: exactly 4 allowed).
	 */
	{
		pid_t w[6];
		int i, st, total = 0, ok = 1;

		pid = holder("stuck-2");
		ino = file_ino();
		for (i = 0; i < 6; i++) {
			if ((w[i] = fork()) == -1)
				abort();
			if (w[i] == 0) {
				int rc = take("stuck-2", 1e-6, 4, T0, &r);

				_exit(rc == -1 ? 255 : rc);
			}
		}
		for (i = 0; i < 6; i++) {
			if (waitpid(w[i], &st, 0) != w[i] || !WIFEXITED(st) ||
			    WEXITSTATUS(st) == 255)
				ok = 0;
			else
				total += WEXITSTATUS(st);
		}
		CHECK(ok, "six waiters on a wedged set: no error");
		CHECK_INT(total, 4, "...one new table for all: 4 of 6 allowed");
		CHECK(file_ino() != ino, "...the table made anew");
		CHECK_INT(entries(), 1, "...alone");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	cfg.lock_timeout = 10;
}

static void
test_no_datadir(void)
{
	char bad[sizeof(datadir) + 16];
	char *was = cfg.datadir;
	int64_t r;

	rl_close();
	fmt(bad, sizeof(bad), "%s/file", datadir);
	write_file(bad, "x", 1, 0600);
	cfg.datadir = bad;
	errno = 0;
	CHECK_INT(take("nodir", 1, 1, T0, &r), -1,
	    "datadir is a file: -1");
	CHECK(errno != 0, "...with errno (%s)", strerror(errno));
	cfg.datadir = was;
	unlink(bad);
}

int
main(void)
{
	if (mkdtemp(datadir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	fmt(rdir, sizeof(rdir), "%s/ratelimit", datadir);
	fmt(tpath, sizeof(tpath), "%s/buckets", rdir);
	memset(&cfg, 0, sizeof(cfg));
	cfg.datadir = datadir;
	cfg.rate_limit_slots = 64;
	cfg.lock_timeout = 10;
	cfg.log_level = 0;

	test_burst();
	test_refill();
	test_cap();
	test_backwards();
	test_keys();
	test_slow_rate();
	test_args();
	test_eviction();
	test_layout();
	test_concurrent();
	test_dead_holder();
	test_no_datadir();

	rl_close();
	unit_rmtree(datadir);
	return unit_done();
}
