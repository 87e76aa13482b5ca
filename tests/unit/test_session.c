/*
 * test_session.c - src/session.c through requests built by hand: nothing
 * made until a value is stored, ids and the Set-Cookie header, byte-string
 * values and their limits, the store file (format, modes, written through
 * at every change), loading by cookie, ids the server never issued,
 * corrupt and expired store files, destroy and renew, the lock (one file,
 * a byte per session, held for the request so concurrent updates are not
 * lost, bounded by lock_timeout, gone with a crashed process),
 * max_sessions, a failed write keeping the last good state, and
 * collection.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>

#include "internal.h"
#include "unit.h"

#define MAGIC	"ihttpd-session 1\n"
#define ATTRS	"; Path=/; HttpOnly; SameSite=Lax"

static char datadir[] = "/tmp/ihttpd-test-session.XXXXXX";
static char sdir[sizeof(datadir) + 16];
static char cookie_name[] = "s";

static struct arena A;
static struct ih_request R;
static struct conn C;
static struct header H[2];
static char hn_cookie[] = "Cookie", hv_cookie[512], m_get[] = "GET",
    query[] = "";

/* End the current request as main.c does: save, unlock, free. */
static void
req_end(void)
{
	sess_finish(&R);
	form_cleanup(&R);
	memset(&R, 0, sizeof(R));
	memset(&C, 0, sizeof(C));
	arena_reset(&A);
}

/* Start a GET without a body; cookie is the whole Cookie value or NULL. */
static void
req(const char *cookie)
{
	req_end();
	C.in = C.out = -1;
	strcpy(C.peer, "192.0.2.1");
	R.c = &C;
	R.a = &A;
	R.hd.h = H;
	R.hd.method = m_get;
	R.hd.query = query;
	R.hd.version = 11;
	R.hd.clen = -1;
	R.status = 200;
	if (cookie != NULL) {
		fmt(hv_cookie, sizeof(hv_cookie), "%s", cookie);
		H[0].name = hn_cookie;
		H[0].value = hv_cookie;
		R.hd.nh = 1;
	}
}

/* Start a request carrying s=id. */
static void
req_id(const char *id)
{
	char c[128];

	req(fmt(c, sizeof(c), "s=%s", id));
}

/* The handler headers queued so far, as a string. */
static const char *
rh(void)
{
	static char buf[4096];

	fmt(buf, sizeof(buf), "%.*s", (int)R.rhlen, R.rh != NULL ? R.rh : "");
	return buf;
}

static int
b64url_id(const char *id)
{
	size_t i;

	if (id == NULL || strlen(id) != 22)
		return 0;
	for (i = 0; i < 22; i++)
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789-_", id[i]) == NULL)
			return 0;
	return 1;
}

static char *
spath(char *buf, size_t cap, const char *id, const char *suffix)
{
	return fmt(buf, cap, "%s/%s%s", sdir, id, suffix);
}

static int
exists(const char *id, const char *suffix)
{
	char p[256];
	struct stat st;

	return lstat(spath(p, sizeof(p), id, suffix), &st) == 0;
}

static void
write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd == -1 || write_full(fd, data, len) != (ssize_t)len) {
		perror(path);
		abort();
	}
	close(fd);
}

static size_t
read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd == -1)
		return (size_t)-1;
	n = read(fd, buf, cap);
	close(fd);
	return n < 0 ? (size_t)-1 : (size_t)n;
}

/* Set a file's modification time to `ago` seconds in the past. */
static void
age(const char *path, long ago)
{
	struct timeval tv[2];

	gettimeofday(&tv[0], NULL);
	tv[0].tv_sec -= ago;
	tv[1] = tv[0];
	if (utimes(path, tv) == -1)
		perror("utimes");
}

/*
 * Entries of the sessions directory: those whose names start with '.'
 * other than the one lock file (temporaries), and those that are not
 * session ids (22 characters) or .lock (per-session lock files, say).
 */
static int
entries(int *dots, int *odd)
{
	DIR *d = opendir(sdir);
	struct dirent *de;
	int n = 0;

	*dots = *odd = 0;
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		n++;
		if (strcmp(de->d_name, ".lock") == 0)
			continue;
		if (de->d_name[0] == '.')
			(*dots)++;
		else if (!b64url_id(de->d_name))
			(*odd)++;
	}
	closedir(d);
	return n;
}

static int
dot_files(void)
{
	int dots, odd;

	return entries(&dots, &odd) == -1 ? -1 : dots;
}

/* Entries that are neither a session nor the one lock file. */
static int
odd_files(void)
{
	int dots, odd;

	return entries(&dots, &odd) == -1 ? -1 : dots + odd;
}

/* Session store files (22-character names). */
static int
sessions(void)
{
	int dots, odd, n = entries(&dots, &odd);

	return n == -1 ? 0 : n - dots - odd - (exists(".lock", "") ? 1 : 0);
}

/* A fresh id the server issued and stored, with k=v (made=1 if no k). */
static void
new_session(char *id, const char *k, const char *v)
{
	const char *s;

	req(NULL);
	if (k == NULL) {
		k = "made";
		v = "1";
	}
	ih_session_set(&R, k, v, strlen(v));
	s = ih_session_id(&R);
	fmt(id, 23, "%s", s != NULL ? s : "");
	req_end();
}

/* The request has no session, and said so (NULL with errno 0). */
static int
no_session(void)
{
	errno = EINVAL;
	return ih_session_id(&R) == NULL && errno == 0;
}

/* ---- tests -------------------------------------------------------------- */

static void
test_off(void)
{
	cfg.sessions = 0;
	req(NULL);
	errno = 0;
	CHECK(ih_session_id(&R) == NULL && errno != 0 &&
	    ih_session_get(&R, "a", NULL) == NULL &&
	    ih_session_set(&R, "a", "1", 1) == -1 &&
	    ih_session_del(&R, "a") == -1 && ih_session_destroy(&R) == -1 &&
	    R.rhlen == 0, "sessions off: NULL (errno set) / -1 everywhere, no "
	    "cookie");
	req_end();
	CHECK(access(sdir, F_OK) == -1, "sessions off: no sessions directory");
	cfg.sessions = 1;
}

static char ID1[23];

static void
test_create(void)
{
	char want[256], p[256], buf[512], big[70000], key[300];
	const char *id, *v;
	struct stat st;
	size_t len = 0, n;
	mode_t um;

	/* Reading, deleting, renewing, destroying: nothing is made. */
	req(NULL);
	CHECK(no_session(), "no cookie: ih_session_id is NULL, errno 0 (no "
	    "session yet)");
	CHECK(ih_session_get(&R, "bin", NULL) == NULL, "no cookie: get NULL");
	CHECK_INT(ih_session_del(&R, "bin"), -1, "no cookie: del -1");
	CHECK_INT(ih_session_renew(&R), 0, "no cookie: renew 0 (nothing to "
	    "renew)");
	CHECK(no_session() && R.rhlen == 0, "...still no session, no "
	    "Set-Cookie");
	req_end();
	CHECK(access(sdir, F_OK) == -1, "no cookie, no set: nothing on disk, "
	    "not even the sessions directory");
	req(NULL);
	CHECK_INT(ih_session_destroy(&R), 0, "no cookie: destroy 0");
	CHECK_STR(rh(), "", "...and no Set-Cookie (no cookie to expire)");
	req_end();
	CHECK(access(sdir, F_OK) == -1, "...nothing on disk");

	/* Past the head no cookie can go out: no session can be made. */
	req(NULL);
	R.head_len = 1;
	CHECK_INT(ih_session_set(&R, "k", "v", 1), -1, "set after the head "
	    "went out, no session: -1");
	CHECK(no_session() && R.rhlen == 0 && !R.store_failed, "...no "
	    "session, no cookie, not a store failure");
	req_end();
	CHECK(access(sdir, F_OK) == -1, "...nothing on disk");

	/* The first set makes the session. */
	um = umask(0);
	req(NULL);
	CHECK_INT(ih_session_set(&R, "bin", "a\0b\r\n\0", 6), 0,
	    "set a binary value: 0 (makes the session)");
	umask(um);
	id = ih_session_id(&R);
	CHECK(b64url_id(id), "new session: id is 22 base64url characters");
	fmt(ID1, sizeof(ID1), "%s", id != NULL ? id : "");
	fmt(want, sizeof(want), "Set-Cookie: s=%s" ATTRS "\r\n", ID1);
	CHECK_STR(rh(), want, "new session: Set-Cookie queued with "
	    "Path=/; HttpOnly; SameSite=Lax");
	CHECK_STR(ih_session_id(&R), ID1, "same id on a second call");
	CHECK_STR(rh(), want, "...and no second Set-Cookie");
	CHECK(stat(sdir, &st) == 0 && S_ISDIR(st.st_mode) &&
	    (st.st_mode & 0777) == 0700, "sessions directory is 0700 "
	    "(umask 0)");
	CHECK(exists(ID1, ""), "store file written at creation (before its "
	    "cookie can come back)");
	CHECK(exists(".lock", "") && !exists(ID1, ".lock") &&
	    odd_files() == 0 && sessions() == 1, "one lock file for the "
	    "store (.lock), none per session");
	n = read_file(spath(p, sizeof(p), ID1, ""), buf, sizeof(buf));
	CHECK(n == strlen(MAGIC) + 14 && memcmp(buf + strlen(MAGIC),
	    "3 6\nbina\0b\r\n\0\n", 14) == 0, "the value is in the store "
	    "file at once");
	v = ih_session_get(&R, "bin", &len);
	CHECK(v != NULL && len == 6 && memcmp(v, "a\0b\r\n\0", 6) == 0,
	    "get it back: bytes and length");
	CHECK_INT(ih_session_set(&R, "e", "", 0), 0, "set an empty value");
	v = ih_session_get(&R, "e", &len);
	CHECK(v != NULL && len == 0 && *v == '\0', "empty value: \"\", 0");
	CHECK(ih_session_get(&R, "nope", &len) == NULL, "unknown key: NULL");
	CHECK_INT(ih_session_set(&R, "k e\ny", "v", 1), 0,
	    "a key with a space and a newline");
	CHECK_INT(ih_session_set(&R, "gone", "x", 1), 0, "set gone");
	CHECK_INT(ih_session_del(&R, "gone"), 0, "del gone: 0");
	CHECK(ih_session_get(&R, "gone", NULL) == NULL, "deleted: NULL");
	CHECK_INT(ih_session_del(&R, "gone"), -1, "del again: -1");
	CHECK_INT(ih_session_set(&R, "r", "one", 3), 0, "set r");
	CHECK_INT(ih_session_set(&R, "r", "two!", 4), 0, "replace r");
	v = ih_session_get(&R, "r", &len);
	CHECK(v != NULL && len == 4 && strcmp(v, "two!") == 0,
	    "replaced value and length");

	/* Limits: a key up to 256 bytes, a value up to 64 KiB, 256 KiB in
	 * all. */
	memset(big, 'v', sizeof(big));
	memset(key, 'k', sizeof(key));
	key[256] = '\0';
	CHECK_INT(ih_session_set(&R, key, "1", 1), 0, "256-byte key: 0");
	key[257] = '\0';
	key[256] = 'k';
	CHECK_INT(ih_session_set(&R, key, "1", 1), -1, "257-byte key: -1");
	CHECK_INT(ih_session_set(&R, "", "1", 1), -1, "empty key: -1");
	CHECK_INT(ih_session_set(&R, "v1", big, 65536), 0, "64 KiB value: 0");
	CHECK_INT(ih_session_set(&R, "v2", big, 65537), -1,
	    "64 KiB + 1 value: -1");
	CHECK(ih_session_get(&R, "v2", NULL) == NULL, "...and not stored");
	CHECK_INT(ih_session_set(&R, "v2", big, 65536), 0, "second 64 KiB: 0");
	CHECK_INT(ih_session_set(&R, "v3", big, 65536), 0, "third 64 KiB: 0");
	CHECK_INT(ih_session_set(&R, "v4", big, 65536 - 100), 0,
	    "fourth, 100 short of 256 KiB in all: 0");
	CHECK_INT(ih_session_set(&R, "v5", big, 200), -1,
	    "past 256 KiB in all: -1");
	CHECK_INT(ih_session_set(&R, "v4", big, 65536 - 100), 0,
	    "replacing a value counts it once: 0");
	CHECK_INT(ih_session_del(&R, "v4"), 0, "del v4");
	CHECK_INT(ih_session_del(&R, "v3"), 0, "del v3");
	CHECK_INT(ih_session_del(&R, "v2"), 0, "del v2");
	CHECK_INT(ih_session_del(&R, "v1"), 0, "del v1");
	CHECK_INT(ih_session_del(&R, key), -1, "del of the refused key: -1");
	key[256] = '\0';
	CHECK_INT(ih_session_del(&R, key), 0, "del of the 256-byte key");

	CHECK(stat(spath(p, sizeof(p), ID1, ""), &st) == 0 &&
	    S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0600,
	    "every change is written through to datadir/sessions/ID, mode "
	    "0600 (umask 0)");
	req_end();
	n = read_file(p, buf, sizeof(buf));
	{
		static const char want_file[] = MAGIC "3 6\nbina\0b\r\n\0\n"
		    "1 0\ne\n" "5 1\nk e\nyv\n" "1 4\nrtwo!\n";
		/* Order of records is not part of the contract: compare as
		 * a set by length and by each record's presence. */
		CHECK(n == sizeof(want_file) - 1 && memcmp(buf, MAGIC,
		    strlen(MAGIC)) == 0 && memmem(buf, n, "3 6\nbina\0b\r\n\0\n",
		    14) != NULL && memmem(buf, n, "1 0\ne\n", 6) != NULL &&
		    memmem(buf, n, "5 1\nk e\nyv\n", 11) != NULL &&
		    memmem(buf, n, "1 4\nrtwo!\n", 10) != NULL,
		    "store file: magic line, then \"KLEN VLEN\\n\" KEY VALUE "
		    "\"\\n\" per record");
	}
	CHECK_INT(dot_files(), 0, "no temporary file left");
}

static void
test_load(void)
{
	char c[256], want[256], p[256];
	const char *v;
	struct stat st;
	size_t len = 0;
	time_t mt;

	req_id(ID1);
	CHECK_STR(ih_session_id(&R), ID1, "Cookie s=ID: the same session");
	CHECK_STR(rh(), "", "loaded session: no Set-Cookie");
	v = ih_session_get(&R, "bin", &len);
	CHECK(v != NULL && len == 6 && memcmp(v, "a\0b\r\n\0", 6) == 0,
	    "binary value survives the store");
	v = ih_session_get(&R, "k e\ny", &len);
	CHECK(v != NULL && len == 1 && *v == 'v', "odd key survives");
	CHECK(ih_session_get(&R, "gone", NULL) == NULL, "deleted key stays "
	    "deleted");
	v = ih_session_get(&R, "r", &len);
	CHECK(v != NULL && len == 4 && strcmp(v, "two!") == 0,
	    "replaced value survives");
	req_end();

	/*
	 * Expiry slides with use: a request that only reads leaves the file
	 * alone while it is younger than a quarter of session_ttl, and
	 * touches it once it is older; a change rewrites it.
	 */
	age(spath(p, sizeof(p), ID1, ""), 10);
	stat(p, &st);
	mt = st.st_mtime;
	req_id(ID1);
	CHECK_STR(ih_session_id(&R), ID1, "10 s old (ttl 60): loaded");
	req_end();
	CHECK(stat(p, &st) == 0 && st.st_mtime == mt,
	    "read-only request, file younger than ttl/4: mtime kept");
	age(p, 30);
	stat(p, &st);
	mt = st.st_mtime;
	req_id(ID1);
	CHECK_STR(ih_session_id(&R), ID1, "30 s old (ttl 60): loaded");
	req_end();
	CHECK(stat(p, &st) == 0 && st.st_mtime > mt + 20,
	    "read-only request, file older than ttl/4: mtime refreshed "
	    "(sliding expiry)");
	age(p, 30);
	stat(p, &st);
	mt = st.st_mtime;
	req_id(ID1);
	ih_session_set(&R, "t", "1", 1);
	req_end();
	CHECK(stat(p, &st) == 0 && st.st_mtime > mt + 20, "a change rewrites "
	    "it");

	req(fmt(c, sizeof(c), "a=1; s=%s; b=2", ID1));
	CHECK_STR(ih_session_id(&R), ID1, "s=ID among other cookies");
	req(fmt(c, sizeof(c), "s=bogus; s=%s", ID1));
	CHECK_STR(ih_session_id(&R), ID1, "first well-formed s= wins");
	req(fmt(c, sizeof(c), "s=AAAAAAAAAAAAAAAAAAAAAA; s=%s", ID1));
	CHECK_STR(ih_session_id(&R), ID1, "an unknown id before the known one "
	    "(cookies of other paths): the known one is found");
	req(fmt(c, sizeof(c), "ss=%s", ID1));
	CHECK(no_session(), "cookie ss=ID is not s: no session");
	req(fmt(c, sizeof(c), "S=%s", ID1));
	CHECK(no_session(), "cookie names are case-sensitive: S=ID is not s");
	req(fmt(c, sizeof(c), "s=%sA", ID1));
	CHECK(no_session(), "23-character id: no session");
	req("s=../../../../etc/passwdxxxx");
	CHECK(no_session() && R.rhlen == 0, "id with '/' and '.': no "
	    "session, no Set-Cookie");
	ih_session_set(&R, "x", "1", 1);
	CHECK(b64url_id(ih_session_id(&R)) && strcmp(ih_session_id(&R), ID1) !=
	    0, "...a set makes a fresh one");
	fmt(want, sizeof(want), "Set-Cookie: s=%s" ATTRS "\r\n",
	    ih_session_id(&R));
	CHECK_STR(rh(), want, "...with its own Set-Cookie");
	req_end();
}

static void
test_unknown(void)
{
	static const char unk[] = "AAAAAAAAAAAAAAAAAAAAAA";
	const char *id;
	char want[256];

	req_id(unk);
	CHECK(no_session() && R.rhlen == 0, "unknown well-formed id: no "
	    "session, no cookie");
	CHECK(!exists(unk, "") && !exists(unk, ".lock"),
	    "no file and no lock for the unknown id");
	ih_session_set(&R, "x", "1", 1);
	id = ih_session_id(&R);
	CHECK(b64url_id(id) && strcmp(id, unk) != 0,
	    "...a set issues a new id (no fixation)");
	fmt(want, sizeof(want), "Set-Cookie: s=%s" ATTRS "\r\n", id);
	CHECK_STR(rh(), want, "...and sets it as the cookie");
	req_end();
	CHECK(!exists(unk, "") && !exists(unk, ".lock"),
	    "still none after the request");
}

struct corrupt {
	const char	*what;
	const char	*data;
	size_t		 len;
};

#define CR(what, s)	{ what, s, sizeof(s) - 1 }

static void
test_corrupt(void)
{
	static const struct corrupt cases[] = {
		CR("empty file", ""),
		CR("bad magic", "ihttpd-session 2\n1 1\nkv\n"),
		CR("magic without its newline", "ihttpd-session 1"),
		CR("truncated record", MAGIC "1 1\nkv\n3 5\nkeyva"),
		CR("value length past the end", MAGIC "3 99999\nkeyval\n"),
		CR("key length past the end", MAGIC "250 1\nkeyval\n"),
		CR("huge length", MAGIC "3 18446744073709551615\nkeyval\n"),
		CR("wrapping lengths", MAGIC "18446744073709551615 2\nkeyval\n"),
		CR("record without its newline", MAGIC "3 3\nkeyvalX"),
		CR("record newline missing at the end", MAGIC "3 3\nkeyval"),
		CR("length line without newline", MAGIC "3 3"),
		CR("non-numeric length", MAGIC "x 3\nkeyval\n"),
		CR("one length only", MAGIC "3\nkeyval\n"),
		CR("trailing junk on the length line", MAGIC "3 3 z\nkeyval\n"),
		CR("zero-length key", MAGIC "0 3\nval\n"),
	};
	char id[23], p[256], c[128], *buf;
	size_t i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got;

		new_session(id, NULL, NULL);
		write_file(spath(p, sizeof(p), id, ""), cases[i].data,
		    cases[i].len);
		req(fmt(c, sizeof(c), "s=%s", id));
		errno = EINVAL;
		got = ih_session_id(&R);
		CHECK(got == NULL && errno == 0 &&
		    ih_session_get(&R, "key", NULL) == NULL &&
		    ih_session_get(&R, "k", NULL) == NULL && R.rhlen == 0,
		    "corrupt store (%s): not adopted, no session", cases[i].what);
		req_end();
	}

	/* Records whose sizes are over the limits. */
	buf = malloc(400000);
	new_session(id, NULL, NULL);
	n = (size_t)sprintf(buf, MAGIC "257 1\n");
	memset(buf + n, 'k', 257);
	n += 257;
	n += (size_t)sprintf(buf + n, "v\n");
	write_file(spath(p, sizeof(p), id, ""), buf, n);
	req_id(id);
	CHECK(no_session(), "corrupt store (257-byte key): not adopted");
	new_session(id, NULL, NULL);
	n = (size_t)sprintf(buf, MAGIC "1 65537\nk");
	memset(buf + n, 'v', 65537);
	n += 65537;
	buf[n++] = '\n';
	write_file(spath(p, sizeof(p), id, ""), buf, n);
	req_id(id);
	CHECK(no_session(), "corrupt store (value of 64 KiB + 1): not "
	    "adopted");
	new_session(id, NULL, NULL);
	n = (size_t)sprintf(buf, MAGIC);
	for (i = 0; i < 5; i++) {
		n += (size_t)sprintf(buf + n, "1 65536\n%c", (char)('a' + i));
		memset(buf + n, 'v', 65536);
		n += 65536;
		buf[n++] = '\n';
	}
	write_file(spath(p, sizeof(p), id, ""), buf, n);
	req_id(id);
	CHECK(no_session(), "corrupt store (320 KiB in all): not adopted");
	free(buf);

	/* A well-formed file written by hand is read as data. */
	new_session(id, NULL, NULL);
	write_file(spath(p, sizeof(p), id, ""), MAGIC "1 3\na\0\n\n\n" "2 0\nbb\n",
	    sizeof(MAGIC "1 3\na\0\n\n\n" "2 0\nbb\n") - 1);
	req_id(id);
	{
		size_t len = 9;
		const char *v = ih_session_get(&R, "a", &len);

		CHECK(ih_session_id(&R) != NULL &&
		    strcmp(ih_session_id(&R), id) == 0 && v != NULL &&
		    len == 3 && memcmp(v, "\0\n\n", 3) == 0 &&
		    ih_session_get(&R, "bb", &len) != NULL && len == 0,
		    "hand-written store: values with NUL and newlines loaded");
	}
	req_end();

	/* A symbolic link in place of a store file is not followed. */
	{
		char id2[23], p2[256];

		new_session(id, "who", "victim");
		new_session(id2, NULL, NULL);
		spath(p2, sizeof(p2), id2, "");
		unlink(p2);
		if (symlink(spath(p, sizeof(p), id, ""), p2) == -1)
			perror("symlink");
		req_id(id2);
		CHECK(no_session() && ih_session_get(&R, "who", NULL) == NULL,
		    "store file that is a symlink: not followed, no session");
		req_end();
	}
}

static void
test_expired(void)
{
	char id[23], p[256];

	new_session(id, "k", "v");
	age(spath(p, sizeof(p), id, ""), 120);
	req_id(id);
	CHECK(no_session() && ih_session_get(&R, "k", NULL) == NULL,
	    "store file older than session_ttl: not adopted");
	req_end();
	CHECK(!exists(id, ""), "...and removed once seen expired");
	new_session(id, "k", "v");
	age(spath(p, sizeof(p), id, ""), 55);
	req_id(id);
	CHECK(ih_session_id(&R) != NULL && strcmp(ih_session_id(&R), id) ==
	    0 && ih_session_get(&R, "k", NULL) != NULL,
	    "store file younger than session_ttl: loaded");
	req_end();
}

/* Run fn in a child; its exit status (or 128 + signal). */
static int
in_child(int (*fn)(const char *), const char *arg, int timeout)
{
	pid_t pid;
	int st;

	fflush(stdout);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		alarm((unsigned)timeout);
		/* The parent's request, not ours to finish (its lock
		 * descriptor stays the parent's: we open our own). */
		memset(&R, 0, sizeof(R));
		_exit(fn(arg));
	}
	if (waitpid(pid, &st, 0) == -1)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/*
 * Child: open the session by cookie without waiting for its lock.  0 if
 * the lock is held by another (NULL, ETIMEDOUT, the request marked for
 * 503), 1 if the session loaded, 2 otherwise.
 */
static int
child_busy(const char *id)
{
	const char *got;

	cfg.lock_timeout = 0;
	req_id(id);
	got = ih_session_id(&R);
	if (got == NULL && errno == ETIMEDOUT && R.store_failed)
		return 0;
	return got != NULL && strcmp(got, id) == 0 ? 1 : 2;
}

static void
test_destroy(void)
{
	char id[23], want[256], c[128];

	new_session(id, "user", "larry");
	req_id(id);
	CHECK(ih_session_get(&R, "user", NULL) != NULL, "session to destroy "
	    "loaded");
	CHECK_INT(ih_session_destroy(&R), 0, "destroy: 0");
	CHECK(!exists(id, "") && !exists(id, ".lock") && exists(".lock", ""),
	    "destroy removes the one store file (the store's .lock stays)");
	CHECK_STR(rh(), "Set-Cookie: s=" ATTRS "; Max-Age=0\r\n",
	    "destroy queues Set-Cookie with Max-Age=0");
	CHECK(ih_session_get(&R, "user", NULL) == NULL &&
	    ih_session_set(&R, "user", "x", 1) == -1 && no_session(),
	    "after destroy, in the same request: no session, set -1");
	req_end();
	CHECK(!exists(id, ""), "nothing saved at the end of the request");
	req_id(id);
	CHECK(no_session(), "the destroyed id is not adopted again");
	CHECK_INT(ih_session_destroy(&R), 0, "destroy with a dead id: 0");
	CHECK_STR(rh(), "Set-Cookie: s=" ATTRS "; Max-Age=0\r\n",
	    "...expires the client's stale cookie");
	req_end();
	CHECK_INT(odd_files(), 0, "destroy: no lock or temporary file left");

	/* Renew: a new id for the same data; the old id is dead. */
	new_session(id, "user", "larry");
	req_id(id);
	CHECK(ih_session_get(&R, "user", NULL) != NULL, "session to renew "
	    "loaded");
	CHECK_INT(ih_session_renew(&R), 0, "renew: 0");
	{
		const char *nid = ih_session_id(&R), *v;
		char nidc[23];

		CHECK(b64url_id(nid) && strcmp(nid, id) != 0,
		    "renew: a new well-formed id");
		fmt(nidc, sizeof(nidc), "%s", nid != NULL ? nid : "");
		fmt(want, sizeof(want), "Set-Cookie: s=%s" ATTRS "\r\n", nidc);
		CHECK_STR(rh(), want, "renew: Set-Cookie for the new id");
		v = ih_session_get(&R, "user", NULL);
		CHECK(v != NULL && strcmp(v, "larry") == 0, "renew: data kept");
		CHECK(!exists(id, "") && exists(nidc, ""),
		    "renew: stored under the new id, the old id's file gone");
		CHECK_INT(in_child(child_busy, nidc, 5), 0,
		    "renew: the new id is locked");
		CHECK_INT(ih_session_set(&R, "after", "1", 1), 0,
		    "renew: the session stays usable");
		req_end();
		CHECK(exists(nidc, "") && !exists(id, "") && odd_files() == 0,
		    "renew: saved under the new id only");
		req_id(id);
		CHECK(no_session() && ih_session_get(&R, "user", NULL) == NULL,
		    "renew: the old id is not adopted any more");
		req_id(nidc);
		v = ih_session_get(&R, "user", NULL);
		CHECK(ih_session_id(&R) != NULL &&
		    strcmp(ih_session_id(&R), nidc) == 0 && v != NULL &&
		    strcmp(v, "larry") == 0 && ih_session_get(&R, "after",
		    NULL) != NULL, "renew: the new id loads the data");
		req_end();
	}
	/* A session made by this very request needs no new id. */
	req(NULL);
	{
		char first[23];
		const char *nid;

		ih_session_set(&R, "k", "v", 1);
		fmt(first, sizeof(first), "%s", ih_session_id(&R));
		CHECK_INT(ih_session_renew(&R), 0, "renew a brand-new session: 0");
		nid = ih_session_id(&R);
		fmt(want, sizeof(want), "Set-Cookie: s=%s" ATTRS "\r\n", first);
		CHECK(nid != NULL && strcmp(nid, first) == 0 &&
		    strcmp(rh(), want) == 0, "...keeps its id (nobody knew it), "
		    "one Set-Cookie");
	}
	req_end();
	/* Renew of a loaded session without data: the old id just ends. */
	new_session(id, "k", "v");
	req_id(id);
	ih_session_del(&R, "k");
	req_end();
	req_id(id);
	CHECK(ih_session_id(&R) != NULL, "an emptied session still loads");
	CHECK(ih_session_renew(&R) == 0 && no_session() && R.rhlen == 0 &&
	    !exists(id, ""), "renew of a session without data: 0, it ends, "
	    "no new one made, no cookie");
	req_end();
	/* Login as the demo does it: renew (nothing yet), then a set. */
	req(fmt(c, sizeof(c), "s=%s", id));
	CHECK(ih_session_renew(&R) == 0 && ih_session_set(&R, "user", "larry",
	    5) == 0 && b64url_id(ih_session_id(&R)) &&
	    strcmp(ih_session_id(&R), id) != 0, "renew then set without a "
	    "session: one new session, a new id");
	req_end();
	req(NULL);
	ih_session_set(&R, "k", "v", 1);
	ih_session_destroy(&R);
	CHECK_INT(ih_session_renew(&R), -1, "renew after destroy: -1");
	req_end();
	cfg.sessions = 0;
	req(NULL);
	CHECK_INT(ih_session_renew(&R), -1, "renew with sessions off: -1");
	req_end();
	cfg.sessions = 1;
}

/* Child: open the session by cookie; 0 if it is the same one with t=1. */
static int
child_open(const char *id)
{
	const char *got, *t;
	int fd;

	/* Close every inherited descriptor: we wait on a lock of our own. */
	for (fd = 3; fd < 256; fd++)
		close(fd);
	req_id(id);
	got = ih_session_id(&R);
	t = ih_session_get(&R, "t", NULL);
	return got != NULL && strcmp(got, id) == 0 && t != NULL &&
	    strcmp(t, "1") == 0 ? 0 : 1;
}

#define ROUNDS	100

/* Child: ROUNDS read-increment-write requests on one session. */
static int
child_count(const char *id)
{
	int i;

	memset(&R, 0, sizeof(R));
	for (i = 0; i < ROUNDS; i++) {
		const char *v;
		char buf[32];
		long n;

		req_id(id);
		if (ih_session_id(&R) == NULL || strcmp(ih_session_id(&R), id) !=
		    0)
			return 3;
		v = ih_session_get(&R, "n", NULL);
		n = v != NULL ? atol(v) : 0;
		if (i % 7 == 0)
			usleep(100);	/* widen the window */
		snprintf(buf, sizeof(buf), "%ld", n + 1);
		if (ih_session_set(&R, "n", buf, strlen(buf)) == -1)
			return 4;
		req_end();
	}
	return 0;
}

/* Child: wait for a held lock with lock_timeout 1; 0 if it gave up with
 * ETIMEDOUT, the request marked, after 0.9 to 3 seconds. */
static int
child_deadline(const char *id)
{
	int64_t t0 = mono_ms(), ms;
	const char *got;

	cfg.lock_timeout = 1;
	req_id(id);
	got = ih_session_id(&R);
	ms = mono_ms() - t0;
	printf("# lock_timeout 1: gave up after %lld ms\n", (long long)ms);
	fflush(stdout);		/* _exit does not */
	return got == NULL && errno == ETIMEDOUT && R.store_failed &&
	    ih_session_set(&R, "k", "x", 1) == -1 && ms >= 900 && ms < 3000 ?
	    0 : 1;
}

/* Child: make a session at once (lock_timeout 0): 0 if it could. */
static int
child_create(const char *unused)
{
	(void)unused;
	cfg.lock_timeout = 0;
	req(NULL);
	return ih_session_set(&R, "k", "child", 5) == 0 ? 0 : 1;
}

/* Child: make a session and die without ending the request. */
static int
child_crash(const char *out)
{
	req(NULL);
	if (ih_session_set(&R, "k", "v", 1) == -1)
		return 1;
	fmt((char *)(uintptr_t)out, 23, "%s", ih_session_id(&R));
	return 0;
}

static void
test_lock(void)
{
	char id[23], other[23];
	const char *v;
	pid_t kids[3];
	int i, st, ok;

	/* A loaded session is locked until the request ends. */
	new_session(id, "k", "v");
	new_session(other, "k", "v");
	req_id(id);
	CHECK_STR(ih_session_id(&R), id, "lock: session loaded");
	CHECK_INT(in_child(child_busy, id, 5), 0,
	    "lock: held while the request runs (another request: NULL, "
	    "ETIMEDOUT, 503)");
	CHECK_INT(in_child(child_busy, other, 5), 1,
	    "lock: another session is not held up");
	CHECK_INT(in_child(child_deadline, id, 10), 0,
	    "lock: a waiter gives up after lock_timeout (1 s): NULL, "
	    "ETIMEDOUT, the request marked for 503, set -1");
	req_end();
	CHECK_INT(in_child(child_busy, id, 5), 1,
	    "lock: released when the request ends");
	CHECK(!exists(id, ".lock") && odd_files() == 0,
	    "lock: no per-session lock file");

	/* A process that dies mid-request leaves nothing locked or behind. */
	{
		static char crashed[23];
		char *shared = mmap(NULL, 23, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

		if (shared != MAP_FAILED) {
			CHECK_INT(in_child(child_crash, shared, 5), 0,
			    "crash: a child made a session and exited "
			    "mid-request");
			fmt(crashed, sizeof(crashed), "%s", shared);
			munmap(shared, 23);
			CHECK(b64url_id(crashed) && in_child(child_busy,
			    crashed, 5) == 1, "crash: its session loads at "
			    "once (the kernel dropped its lock)");
			CHECK_INT(odd_files(), 0, "crash: no lock or temporary "
			    "file left");
		}
	}

	/*
	 * Making a session holds byte 0 only while it counts and stores:
	 * another process can make one while the first request goes on.
	 */
	req(NULL);
	ih_session_set(&R, "k", "first", 5);
	CHECK_INT(in_child(child_create, NULL, 5), 0, "create: a second "
	    "process makes a session while the first request still runs");
	req_end();

	/*
	 * The lock file removed (a tmp cleaner): a lock taken afterwards
	 * must still exclude others, on the file now at the path.
	 */
	new_session(id, "k", "v");
	{
		char lp[256];

		unlink(spath(lp, sizeof(lp), ".lock", ""));
	}
	req_id(id);
	CHECK_STR(ih_session_id(&R), id, "lock file removed: the session "
	    "loads (a new lock file is made)");
	CHECK_INT(in_child(child_busy, id, 5), 0, "lock file removed: the "
	    "session is still locked against another process");
	{
		char lp[256];

		/* Removed while held: another process could now take "our"
		 * byte on a new file, so this request must not write. */
		unlink(spath(lp, sizeof(lp), ".lock", ""));
	}
	CHECK(ih_session_set(&R, "k", "late", 4) == -1 && R.store_failed,
	    "lock file removed while held: the save is refused (503), no "
	    "update can be undone");
	req_end();
	req_id(id);
	v = ih_session_get(&R, "k", NULL);
	CHECK(v != NULL && strcmp(v, "v") == 0, "lock file removed while "
	    "held: the session keeps its last good value");
	req_end();

	/* Concurrent read-increment-write requests: no update lost. */
	new_session(id, "n", "0");
	fflush(stdout);
	for (i = 0; i < 3; i++)
		if ((kids[i] = fork()) == 0) {
			alarm(60);
			_exit(child_count(id));
		}
	ok = 1;
	for (i = 0; i < 3; i++)
		if (kids[i] == -1 || waitpid(kids[i], &st, 0) == -1 ||
		    !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			ok = 0;
	CHECK(ok, "lock: three processes, %d increments each, all succeeded",
	    ROUNDS);
	req_id(id);
	v = ih_session_get(&R, "n", NULL);
	if (!CHECK(v != NULL && atol(v) == 3 * ROUNDS,
	    "lock: no update lost (n = %d)", 3 * ROUNDS))
		printf("#   n = %s\n", v != NULL ? v : "(null)");
	req_end();

	/*
	 * A new session's store file is written when it is made, before its
	 * cookie can come back.  A second request with that cookie meanwhile
	 * must wait for the lock and then find the session, not make
	 * another one.
	 */
	{
		pid_t pid;
		const char *nid;

		req(NULL);
		ih_session_set(&R, "t", "1", 1);
		nid = ih_session_id(&R);
		fmt(id, sizeof(id), "%s", nid != NULL ? nid : "");
		fflush(stdout);
		if ((pid = fork()) == 0) {
			alarm(10);
			memset(&R, 0, sizeof(R));
			_exit(child_open(id));
		}
		usleep(300000);
		req_end();
		st = -1;
		if (pid != -1)
			waitpid(pid, &st, 0);
		CHECK(pid != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		    "lock: a request racing the first one of a new session "
		    "waits and gets that session");
	}
}

/* max_sessions: a session past it is not made; expired ones make room. */
static void
test_max(void)
{
	char id[23], p[256];
	int n0 = sessions();

	/* Only the full-store sweeps under test: a random one (1 in 100
	 * creations) would collect the session aged below. */
	sess_collect_one_in = 0;
	cfg.max_sessions = n0 + 1;
	new_session(id, "k", "v");
	CHECK(b64url_id(id) && sessions() == n0 + 1, "max_sessions %d: the "
	    "%dth session is made", n0 + 1, n0 + 1);
	req(NULL);
	CHECK(ih_session_set(&R, "k", "v", 1) == -1 && R.store_failed &&
	    errno == EDQUOT && R.rhlen == 0, "...one more: set -1 (EDQUOT), "
	    "no cookie, the request marked (its 500 goes out as 503)");
	CHECK(no_session() == 0 && ih_session_set(&R, "k", "v", 1) == -1,
	    "...and the store stays failed for the request");
	req_end();
	CHECK_INT(sessions(), n0 + 1, "...nothing stored for it");
	req_id(id);
	CHECK(ih_session_set(&R, "k2", "w", 1) == 0, "...a live session still "
	    "takes changes at the bound");
	req_end();
	age(spath(p, sizeof(p), id, ""), 600);
	/* A full store was swept just now: the next sweep waits 10 s. */
	req(NULL);
	CHECK(ih_session_set(&R, "k", "v", 1) == -1 && errno == EDQUOT,
	    "...a full store is swept at most every 10 s: still full");
	req_end();
	age(spath(p, sizeof(p), ".lock", ""), 600);
	new_session(id, "k", "v");
	CHECK(b64url_id(id) && sessions() == n0 + 1, "...an expired one is "
	    "collected to make room, then the new one is made");
	cfg.max_sessions = 10000;
	sess_collect_one_in = 100;
}

/* Child: with files capped at 1 KiB, try to store 4 KiB in id. */
static int
child_efbig(const char *id)
{
	struct rlimit rl = { 1024, 1024 };
	char big[4096];

	memset(big, 'x', sizeof(big));
	signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &rl) == -1)
		return 9;
	req_id(id);
	if (ih_session_get(&R, "k", NULL) == NULL)
		return 2;
	if (ih_session_set(&R, "big", big, sizeof(big)) != -1 ||
	    !R.store_failed)
		return 3;
	if (ih_session_set(&R, "k", "w", 1) != -1)
		return 4;	/* the request's session is gone, not half */
	req_end();
	req(NULL);
	if (ih_session_set(&R, "big", big, sizeof(big)) != -1 ||
	    !R.store_failed || R.rhlen != 0)
		return 5;	/* a new one that cannot be stored: no cookie */
	req_end();
	return 0;
}

/* A write that fails (a full disk, a file size limit): the store file
 * keeps its last good state, and the caller is told. */
static void
test_write_failure(void)
{
	char id[23], p[256], before[512], after[512];
	size_t nb, na;
	struct stat st;
	ino_t ino;
	int n0;

	new_session(id, "k", "v");
	spath(p, sizeof(p), id, "");
	nb = read_file(p, before, sizeof(before));
	stat(p, &st);
	ino = st.st_ino;
	n0 = sessions();
	CHECK_INT(in_child(child_efbig, id, 10), 0, "write failure: set -1, "
	    "the request marked for 503; a new session is not made and no "
	    "cookie is sent");
	na = read_file(p, after, sizeof(after));
	CHECK(nb == na && memcmp(before, after, nb) == 0 && stat(p, &st) ==
	    0 && st.st_ino == ino, "write failure: the store file is "
	    "untouched (last good state)");
	CHECK(dot_files() == 0 && sessions() == n0, "write failure: no "
	    "temporary file, no new session left");
	req_id(id);
	CHECK(ih_session_get(&R, "k", NULL) != NULL &&
	    strcmp(ih_session_get(&R, "k", NULL), "v") == 0,
	    "write failure: the session still loads with its old data");
	req_end();
}

/* Collection: on making a session (1 in 100, or at max_sessions),
 * expired files go and live ones stay; .lock is never collected. */
static void
test_collect(void)
{
	char live[23], old[23], p[256], tmp[256];
	int i;

	new_session(live, "k", "v");
	new_session(old, "k", "v");
	age(spath(p, sizeof(p), old, ""), 600);
	age(spath(p, sizeof(p), ".lock", ""), 600);
	fmt(tmp, sizeof(tmp), "%s/.%s.AbCdEf", sdir, old);
	write_file(tmp, "x", 1);
	age(tmp, 600);
	for (i = 0; i < 2000; i++) {
		req_id(live);
		ih_session_id(&R);
		req_end();
	}
	CHECK(exists(old, ""), "collect: loading sessions sweeps nothing "
	    "(only making one may)");
	for (i = 0; i < 20000 && exists(old, ""); i++) {
		req(NULL);
		ih_session_set(&R, "k", "v", 1);
		ih_session_destroy(&R);
		req_end();
	}
	CHECK(!exists(old, ""), "collect: expired store file removed "
	    "(after making %d sessions)", i);
	fmt(tmp, sizeof(tmp), ".%s.AbCdEf", old);
	CHECK(!exists(tmp, ""), "collect: a stale temporary file "
	    "(\".ID.XXXXXX\") too");
	CHECK(exists(live, "") && exists(".lock", ""),
	    "collect: the live session and the store's .lock (however old) "
	    "stay");
}

/*
 * A handler that streams its answer with a session open and a chunked
 * body unread: the head going out must not end the session (it stays
 * loaded and locked until the request ends; a value it returned stays
 * valid), and the unread body is not read under the lock.
 */
static void
test_streaming(void)
{
	static const char body[] = "1\r\na\r\n0\r\n\r\n";
	static char big[20000];
	char id[23];
	const char *v;
	int p[2], out;

	req(NULL);
	ih_session_set(&R, "k", "streamed", 8);
	fmt(id, sizeof(id), "%s", ih_session_id(&R) != NULL ?
	    ih_session_id(&R) : "");
	req_id(id);
	if (pipe(p) == -1 || write_full(p[1], body, sizeof(body) - 1) == -1 ||
	    (out = open("/dev/null", O_WRONLY)) == -1 ||
	    conn_init(&C, p[0], out) == -1) {
		perror("test_streaming");
		abort();
	}
	close(p[1]);
	R.hd.chunked = 1;
	R.is_handler = 1;
	v = ih_session_get(&R, "k", NULL);
	CHECK(v != NULL && strcmp(v, "streamed") == 0, "streaming: the "
	    "session's value before the body goes out");
	memset(big, 'x', sizeof(big));
	CHECK_INT(ih_write(&R, big, sizeof(big)), 0, "streaming: 20000 bytes "
	    "written (the head went out)");
	CHECK(R.head_len > 0, "streaming: the head is out");
	CHECK(sess_locked(&R), "streaming: the session is still loaded and "
	    "locked after the head went out");
	CHECK(v != NULL && strcmp(v, "streamed") == 0, "streaming: the value "
	    "ih_session_get returned is still valid");
	CHECK(!R.body_started, "streaming: the unread chunked body is not "
	    "read under the lock (it is the handler's to read, or drained "
	    "once the lock is released)");
	CHECK_INT(ih_session_set(&R, "k", "again", 5), 0, "streaming: the "
	    "session can still be changed");
	sess_finish(&R);
	close(out);
	close(p[0]);
	conn_free(&C);
}

int
main(void)
{
	if (mkdtemp(datadir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	fmt(sdir, sizeof(sdir), "%s/sessions", datadir);
	memset(&cfg, 0, sizeof(cfg));
	cfg.datadir = datadir;
	cfg.sessions = 1;
	cfg.session_ttl = 60;
	cfg.session_cookie = cookie_name;
	cfg.max_sessions = 10000;
	cfg.lock_timeout = 10;
	cfg.log_level = 0;
	cfg.max_header_size = 16384;
	cfg.keepalive_requests = 100;
	cfg.body_timeout = 5;
	cfg.body_min_rate = 2048;
	signal(SIGPIPE, SIG_IGN);

	test_off();
	test_create();
	test_load();
	test_unknown();
	test_corrupt();
	test_expired();
	test_destroy();
	test_lock();
	test_max();
	test_write_failure();
	test_collect();
	test_streaming();

	req_end();
	arena_reset(&A);
	free(A.head);
	unit_rmtree(datadir);
	return unit_done();
}
