/*
 * test_tls.c - what of src/tls.c works without a connection: the version
 * names of tls_protocols, SNI name matching (exact, one wildcard label,
 * case), and the session ticket keys in datadir/tls/tickets: made on
 * first use (0600 in a 0700 directory), kept while young, rotated by age
 * with the previous key kept and the one before it dropped, a corrupt
 * file replaced, a key from the future not trusted, and a file others can
 * read, a symbolic link or a directory others can write refused (the keys
 * then live in memory only).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <time.h>

#include <openssl/ssl.h>

#include "internal.h"
#include "unit.h"

static char dir[64], file[128];

static void
test_versions(void)
{
	CHECK_INT(tls_version("TLSv1.3"), TLS1_3_VERSION, "TLSv1.3");
	CHECK_INT(tls_version("tlsv1.2"), TLS1_2_VERSION, "any case");
	CHECK_INT(tls_version("TLSv1.1"), TLS1_1_VERSION, "TLSv1.1");
	CHECK_INT(tls_version("TLSv1"), TLS1_VERSION, "TLSv1");
	CHECK_INT(tls_version("TLSv1.0"), TLS1_VERSION, "TLSv1.0");
	CHECK_INT(tls_version("SSLv3"), -1, "SSLv3 is not offered");
	CHECK_INT(tls_version("TLSv1.4"), -1, "unknown version");
	CHECK_INT(tls_version(""), -1, "empty");
}

static void
test_names(void)
{
	CHECK(tls_name_match("example.org", "example.org"), "exact");
	CHECK(tls_name_match("example.org", "EXAMPLE.org"), "any case");
	CHECK(!tls_name_match("example.org", "www.example.org"), "no prefix");
	CHECK(!tls_name_match("example.org", "example.org.evil"),
	    "no suffix");
	CHECK(tls_name_match("*.example.org", "a.example.org"),
	    "wildcard: one label");
	CHECK(tls_name_match("*.example.org", "A.Example.ORG"),
	    "wildcard: any case");
	CHECK(!tls_name_match("*.example.org", "a.b.example.org"),
	    "wildcard: not two labels");
	CHECK(!tls_name_match("*.example.org", "example.org"),
	    "wildcard: not the bare domain");
	CHECK(!tls_name_match("*.example.org", ".example.org"),
	    "wildcard: not an empty label");
	CHECK(!tls_name_match("*.example.org", "aexample.org"),
	    "wildcard: the dot is needed");
	CHECK(!tls_name_match("*.example.org", ""), "wildcard: empty name");
}

/* The key lines of the file: 0, 1 or 2, their names in n0 and n1. */
static int
keys(char n0[33], char n1[33], long long *t0)
{
	char buf[1024], *line, *save;
	int fd, n = 0;
	ssize_t got;

	n0[0] = n1[0] = '\0';
	if ((fd = open(file, O_RDONLY)) == -1)
		return -1;
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[got > 0 ? got : 0] = '\0';
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		long long t;
		char name[33];

		if (*line == '#' || sscanf(line, "%lld %32s", &t, name) != 2 ||
		    strlen(name) != 32 || strspn(name, "0123456789abcdef") != 32)
			continue;
		if (n == 0) {
			memcpy(n0, name, 33);
			if (t0 != NULL)
				*t0 = t;
		} else
			memcpy(n1, name, 33);
		n++;
	}
	return n;
}

/* Make every key in the file `by` seconds older. */
static void
age(long long by)
{
	char buf[1024], out[1024], *line, *save, *p = out;
	int fd;
	ssize_t got;

	fd = open(file, O_RDWR);
	got = read(fd, buf, sizeof(buf) - 1);
	buf[got > 0 ? got : 0] = '\0';
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		long long t;
		char *rest;

		if (*line != '#' && (t = strtoll(line, &rest, 10)) > 0)
			p += snprintf(p, sizeof(out) - (size_t)(p - out),
			    "%lld%s\n", t - by, rest);
		else
			p += snprintf(p, sizeof(out) - (size_t)(p - out), "%s\n",
			    line);
	}
	(void)!ftruncate(fd, 0);
	(void)!pwrite(fd, out, (size_t)(p - out), 0);
	close(fd);
}

static void
put(const char *text)
{
	int fd = open(file, O_WRONLY | O_TRUNC);

	(void)!write(fd, text, strlen(text));
	close(fd);
}

static void
test_tickets(void)
{
	char a0[33], a1[33], b0[33], b1[33];
	struct stat st;
	long long t0 = 0;
	char sub[96];

	snprintf(dir, sizeof(dir), "/tmp/ihttpd-test-tls.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		CHECK(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	snprintf(file, sizeof(file), "%s/tls/tickets", dir);
	snprintf(sub, sizeof(sub), "%s/tls", dir);
	cfg.datadir = dir;
	cfg.tls_ticket_lifetime = 60;
	cfg.lock_timeout = 2;
	CHECK_INT(tls_tickets_due(), 0, "nothing is due before the keys exist");
	CHECK_INT(tls_tickets_init(), 0, "the shared page");
	CHECK_INT(tls_tickets_refresh(), 0, "first use makes the file");
	CHECK_INT(keys(a0, a1, &t0), 1, "one key");
	CHECK_INT(strlen(a0), 32, "a 16-byte name in hex");
	CHECK(t0 <= time(NULL) && t0 > time(NULL) - 10, "made now");
	CHECK(stat(file, &st) == 0 && (st.st_mode & 0777) == 0600,
	    "the file is 0600");
	CHECK(stat(sub, &st) == 0 && (st.st_mode & 0777) == 0700,
	    "its directory is 0700");
	CHECK_INT(tls_tickets_due(), 0, "a young key is not due");

	CHECK_INT(tls_tickets_refresh(), 0, "refresh while young");
	CHECK_INT(keys(b0, b1, NULL), 1, "still one key");
	CHECK_STR(b0, a0, "the same key");

	age(61);
	CHECK_INT(tls_tickets_refresh(), 0, "refresh when old");
	CHECK_INT(keys(b0, b1, NULL), 2, "two keys");
	CHECK_STR(b1, a0, "the old key is kept second");
	CHECK(strcmp(b0, a0) != 0, "a new key first");
	CHECK_INT(tls_tickets_due(), 0, "the new key is not due");

	age(61);
	memcpy(a0, b0, 33);
	memcpy(a1, b1, 33);
	CHECK_INT(tls_tickets_refresh(), 0, "refresh when old again");
	CHECK_INT(keys(b0, b1, NULL), 2, "still two keys");
	CHECK_STR(b1, a0, "the previous key is second");
	CHECK(strcmp(b0, a1) != 0 && strcmp(b1, a1) != 0,
	    "the one before it is gone");

	/* nothing was used for two lifetimes: no old key is worth keeping */
	age(200);
	memcpy(a0, b0, 33);
	CHECK_INT(tls_tickets_refresh(), 0, "refresh after a long pause");
	CHECK_INT(keys(b0, b1, NULL), 1, "one fresh key only");
	CHECK(strcmp(b0, a0) != 0, "and it is new");

	memcpy(a0, b0, 33);
	put("garbage\n12 zz\n#\n");
	CHECK_INT(tls_tickets_refresh(), 0, "a corrupt file is replaced");
	CHECK_INT(keys(b0, b1, NULL), 1, "with a good key");
	CHECK_STR(b0, a0, "the one in memory, still young");

	/* a key made in the future (a clock set back) is not trusted */
	memcpy(a0, b0, 33);
	age(-3600);
	CHECK_INT(tls_tickets_refresh(), 0, "refresh with a future key");
	CHECK_INT(keys(b0, b1, NULL), 1, "one key");
	CHECK(strcmp(b0, a0) != 0, "the future key is replaced");

	memcpy(a0, b0, 33);
	chmod(file, 0644);
	CHECK_INT(tls_tickets_refresh(), -1, "a file others can read is refused");
	CHECK(keys(b0, b1, NULL) >= 1 && strcmp(b0, a0) == 0,
	    "and left as it was");
	unlink(file);
	(void)!symlink("/etc/passwd", file);
	CHECK_INT(tls_tickets_refresh(), -1, "a symbolic link is refused");
	CHECK(lstat(file, &st) == 0 && S_ISLNK(st.st_mode),
	    "and left as it was");
	unlink(file);
	chmod(sub, 0777);
	CHECK_INT(tls_tickets_refresh(), -1,
	    "a directory others can write is refused");
	CHECK(access(file, F_OK) == -1, "and nothing made in it");
	chmod(sub, 0700);
	CHECK_INT(tls_tickets_refresh(), 0, "a good directory again");
	CHECK_INT(keys(b0, b1, NULL), 1, "the key in memory is written");
	CHECK_STR(b0, a0, "the same key: nothing was lost");
	unlink(file);
	rmdir(sub);
	rmdir(dir);
	tls_cleanup();
}

int
main(void)
{
	test_versions();
	test_names();
	test_tickets();
	return unit_done();
}
