/*
 * test_listen.c - src/listen.c: listen_parse on every spec form (bare
 * port, HOST:PORT, [V6]:PORT, *:PORT, 0, scan, HOST:scan, unix:/path, the
 * /tcp /tls /ssl /proxy suffixes) and on malformed ones; listen_bind of
 * port 0 on 127.0.0.1 (and ::1) giving a real port, a port in use, the
 * unix socket's mode, stale and foreign files at its path; listen_export
 * and listen_inherit round-tripping through IHTTPD_LISTEN_FDS, and
 * systemd's LISTEN_FDS.  Every socket is on loopback or in a temporary
 * directory.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>

#include "internal.h"
#include "unit.h"

static void
test_parse_good(void)
{
	static const struct {
		const char	*spec, *host;
		int		 port, scan, v6, unix_path, tls, proxy;
	} cases[] = {
		{ "8080", "", 8080, 0, 0, 0, 0, 0 },
		{ "0", "", 0, 0, 0, 0, 0, 0 },
		{ "65535", "", 65535, 0, 0, 0, 0, 0 },
		{ "00080", "", 80, 0, 0, 0, 0, 0 },
		{ "127.0.0.1:8080", "127.0.0.1", 8080, 0, 0, 0, 0, 0 },
		{ "localhost:80", "localhost", 80, 0, 0, 0, 0, 0 },
		{ "[::1]:8080", "::1", 8080, 0, 1, 0, 0, 0 },
		{ "[::]:0", "::", 0, 0, 1, 0, 0, 0 },
		{ "[fe80::1:2]:443", "fe80::1:2", 443, 0, 1, 0, 0, 0 },
		{ "*:8080", "", 8080, 0, 0, 0, 0, 0 },
		{ "scan", "", 0, 1, 0, 0, 0, 0 },
		{ "127.0.0.1:scan", "127.0.0.1", 0, 1, 0, 0, 0, 0 },
		{ "[::1]:scan", "::1", 0, 1, 1, 0, 0, 0 },
		{ "8080/tcp", "", 8080, 0, 0, 0, 0, 0 },
		{ "8443/tls", "", 8443, 0, 0, 0, 1, 0 },
		{ "8443/ssl", "", 8443, 0, 0, 0, 1, 0 },
		{ "8443/TLS", "", 8443, 0, 0, 0, 1, 0 },
		{ "8080/proxy", "", 8080, 0, 0, 0, 0, 1 },
		{ "127.0.0.1:443/tls/proxy", "127.0.0.1", 443, 0, 0, 0, 1, 1 },
		{ "[::1]:443/proxy/ssl/tcp", "::1", 443, 0, 1, 0, 1, 1 },
		{ "unix:/run/ihttpd.sock", "/run/ihttpd.sock", 0, 0, 0, 1, 0, 0 },
		{ "unix:/run/a:b", "/run/a:b", 0, 0, 0, 1, 0, 0 },
		{ "unix:/run/s/tls", "/run/s", 0, 0, 0, 1, 1, 0 },
		{ "unix:/run/s/proxy", "/run/s", 0, 0, 0, 1, 0, 1 },
		{ "unix:/run/s/tcp", "/run/s/tcp", 0, 0, 0, 1, 0, 0 },
	};
	struct listen_spec ls;
	char err[128];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		rc = listen_parse(cases[i].spec, &ls, err, sizeof(err));
		CHECK(rc == 0 && strcmp(ls.host, cases[i].host) == 0 &&
		    ls.port == cases[i].port && ls.scan == cases[i].scan &&
		    ls.v6 == cases[i].v6 && ls.unix_path == cases[i].unix_path &&
		    ls.tls == cases[i].tls && ls.proxy == cases[i].proxy,
		    "parse \"%s\": host \"%s\" port %d%s%s%s%s%s", cases[i].spec,
		    cases[i].host, cases[i].port, cases[i].scan ? " scan" : "",
		    cases[i].v6 ? " v6" : "", cases[i].unix_path ? " unix" : "",
		    cases[i].tls ? " tls" : "", cases[i].proxy ? " proxy" : "");
		if (rc != 0)
			printf("#   error: %s\n", err);
	}
}

static void
test_parse_bad(void)
{
	static const struct {
		const char	*spec, *why;	/* a part of the message */
	} cases[] = {
		{ "", "empty" },
		{ "65536", "not a port" },
		{ "99999", "not a port" },
		{ "-1", "not a port" },
		{ "+80", "not a port" },
		{ "0x50", "not a port" },
		{ " 8080", "not a port" },
		{ "8080 ", "not a port" },
		{ "http", "not a port" },
		{ "foo:bar", "'bar' is not a port" },
		{ "127.0.0.1:", "not a port" },
		{ "127.0.0.1:65536", "not a port" },
		{ ":80", "empty host" },
		{ "[::1", "[ADDR]:PORT" },
		{ "[::1]", "[ADDR]:PORT" },
		{ "[::1]8080", "[ADDR]:PORT" },
		{ "[::1]:", "not a port" },
		{ "[::1]:x", "not a port" },
		{ "[1.2.3.4]:80", "not an IPv6 address" },
		{ "[]:80", "not an IPv6 address" },
		{ "::1:80", "in brackets" },
		{ "::1", "in brackets" },
		{ "1.2.3.4:80:90", "in brackets" },
		{ "8080/xyz", "unknown suffix '/xyz'" },
		{ "8080/", "unknown suffix" },
		{ "unix:relative", "absolute path" },
		{ "unix:", "absolute path" },
		{ "unix:/tls", "absolute path" },
	};
	struct listen_spec ls;
	char err[128], long_spec[LISTEN_SPEC_MAX + 8], long_unix[120];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		CHECK(listen_parse(cases[i].spec, &ls, err, sizeof(err)) == -1 &&
		    strstr(err, cases[i].why) != NULL,
		    "parse \"%s\" fails: ...%s...", cases[i].spec, cases[i].why);
		if (strstr(err, cases[i].why) == NULL)
			printf("#   error: \"%s\"\n", err);
	}
	/* the longest spec that fits, and one byte more */
	memset(long_spec, '1', sizeof(long_spec));
	long_spec[LISTEN_SPEC_MAX] = '\0';
	CHECK(listen_parse(long_spec, &ls, err, sizeof(err)) == -1 &&
	    strstr(err, "longer than") != NULL,
	    "parse: a spec of %d bytes is too long", LISTEN_SPEC_MAX);
	memcpy(long_spec, "unix:/", 6);
	memset(long_spec + 6, 'a', sizeof(long_spec) - 6);
	long_spec[LISTEN_SPEC_MAX - 1] = '\0';
	CHECK(listen_parse(long_spec, &ls, err, sizeof(err)) == -1 &&
	    strstr(err, "unix socket path longer") != NULL,
	    "parse: a unix path over sun_path's size fails");
	/* sun_path holds 107 bytes and the NUL */
	memcpy(long_unix, "unix:/", 6);
	memset(long_unix + 6, 'a', 106);
	long_unix[112] = '\0';
	CHECK(listen_parse(long_unix, &ls, err, sizeof(err)) == 0 &&
	    strlen(ls.host) == 107, "parse: a unix path of 107 bytes fits");
	long_unix[112] = 'a';
	long_unix[113] = '\0';
	CHECK(listen_parse(long_unix, &ls, err, sizeof(err)) == -1,
	    "parse: a unix path of 108 bytes does not");
	/* a failure leaves nothing half-filled */
	CHECK(listen_parse("[::1]:x", &ls, err, sizeof(err)) == -1 &&
	    ls.port == 0 && ls.unix_path == 0,
	    "parse: a failed spec leaves the port and flags zero");
}

/* The port a bound socket got. */
static int
bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1)
		return -1;
	return ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->
	    sin_port) : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* A connection to 127.0.0.1:port (or [::1]) succeeds. */
static int
can_connect(int v6, int port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, rc;

	memset(&ss, 0, sizeof(ss));
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		a->sin6_addr = in6addr_loopback;
		sl = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*a);
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	rc = connect(fd, (struct sockaddr *)&ss, sl);
	close(fd);
	return rc == 0;
}

static int
have_ipv6(void)
{
	struct sockaddr_in6 a;
	int fd, ok;

	memset(&a, 0, sizeof(a));
	a.sin6_family = AF_INET6;
	a.sin6_addr = in6addr_loopback;
	if ((fd = socket(AF_INET6, SOCK_STREAM, 0)) == -1)
		return 0;
	ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

static void
test_bind_tcp(void)
{
	struct listeners l;
	char err[256], want[64], spec[64];
	int port, n;

	memset(&l, 0, sizeof(l));
	CHECK(listen_bind(&l, "127.0.0.1:0", err, sizeof(err)) == 0 &&
	    l.n == 1, "bind 127.0.0.1:0");
	if (l.n != 1) {
		printf("#   error: %s\n", err);
		return;
	}
	port = bound_port(l.v[0].fd);
	CHECK(port > 0 && port <= 65535, "bind 127.0.0.1:0: a real port (%d)",
	    port);
	CHECK(listen_is_socket(l.v[0].fd), "bind: the fd is listening");
	CHECK(fcntl(l.v[0].fd, F_GETFD) & FD_CLOEXEC, "bind: close-on-exec");
	CHECK_STR(l.v[0].name, fmt(want, sizeof(want), "127.0.0.1:%d", port),
	    "bind: name is ADDRESS:PORT");
	CHECK_STR(l.v[0].spec, "127.0.0.1:0", "bind: the spec is kept");
	CHECK(l.v[0].path[0] == '\0' && !l.v[0].inherited,
	    "bind: no path, not inherited");
	CHECK(can_connect(0, port), "bind: a client connects");

	/* the same port again: in use, and nothing added */
	n = l.n;
	err[0] = '\0';
	CHECK(listen_bind(&l, fmt(spec, sizeof(spec), "127.0.0.1:%d", port),
	    err, sizeof(err)) == -1 && l.n == n &&
	    strstr(err, strerror(EADDRINUSE)) != NULL &&
	    strstr(err, want) != NULL,
	    "bind: a port in use fails, naming it and the reason");
	printf("#   %s\n", err);

	CHECK(listen_bind(&l, "127.0.0.1:0/tls", err, sizeof(err)) == 0 &&
	    l.n == n + 1 && l.v[n].tls == 1 && l.v[n].proxy == 0,
	    "bind: /tls makes a TLS listener");
	n = l.n;
	CHECK(listen_bind(&l, "127.0.0.1:0/proxy", err, sizeof(err)) == 0 &&
	    l.n == n + 1 && l.v[n].proxy == 1 && l.v[n].tls == 0,
	    "bind: /proxy makes a PROXY-protocol listener");
	n = l.n;
	CHECK(listen_bind(&l, "nonsense:x", err, sizeof(err)) == -1 &&
	    l.n == n, "bind: a malformed spec fails");
	CHECK(listen_bind(&l, "127.0.0.1:0/tcp", err, sizeof(err)) == 0 &&
	    l.n == n + 1 && bound_port(l.v[n].fd) != port,
	    "bind: a second port-0 spec gets another port");

	if (have_ipv6()) {
		n = l.n;
		CHECK(listen_bind(&l, "[::1]:0", err, sizeof(err)) == 0 &&
		    l.n == n + 1, "bind [::1]:0");
		if (l.n == n + 1) {
			port = bound_port(l.v[n].fd);
			CHECK_STR(l.v[n].name, fmt(want, sizeof(want),
			    "[::1]:%d", port), "bind: name is [V6]:PORT");
			CHECK(can_connect(1, port), "bind [::1]: a client "
			    "connects");
			CHECK(!can_connect(0, port) || port == bound_port(
			    l.v[0].fd), "bind [::1]: IPv6 only");
		}
	} else
		unit_diag("no IPv6 loopback: [::1] not tested");
	listen_close(&l, 1);
	CHECK(l.n == 0, "close: no listener left");
}

static mode_t
mode_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 ? st.st_mode : 0;
}

static void
test_bind_unix(void)
{
	char dir[] = "/tmp/test_listen.XXXXXX", path[128], spec[160];
	char err[256], name[160], mode600[] = "0600";
	struct listeners l, l2;
	struct sockaddr_un un;
	int fd;

	if (mkdtemp(dir) == NULL) {
		unit_diag("mkdtemp failed: unix sockets not tested");
		return;
	}
	fmt(path, sizeof(path), "%s/s.sock", dir);
	fmt(spec, sizeof(spec), "unix:%s", path);
	memset(&l, 0, sizeof(l));
	memset(&l2, 0, sizeof(l2));

	cfg.unix_mode = NULL;
	CHECK(listen_bind(&l, spec, err, sizeof(err)) == 0 && l.n == 1,
	    "bind unix:%s", path);
	CHECK(S_ISSOCK(mode_of(path)) && (mode_of(path) & 0777) == 0660,
	    "bind unix: a socket, mode 0660 by default");
	CHECK_STR(l.v[0].name, fmt(name, sizeof(name), "unix:%s", path),
	    "bind unix: name is unix:/path");
	CHECK_STR(l.v[0].path, path, "bind unix: the path to remove is kept");

	/* a live server there: refused, and the socket stays */
	CHECK(listen_bind(&l2, spec, err, sizeof(err)) == -1 && l2.n == 0 &&
	    strstr(err, "listening there already") != NULL &&
	    S_ISSOCK(mode_of(path)), "bind unix: a live socket is an error");
	listen_close(&l, 0);
	CHECK(S_ISSOCK(mode_of(path)), "close(0): the socket file stays");

	/* stale now: nobody answers; replaced, with unix_mode */
	cfg.unix_mode = mode600;
	CHECK(listen_bind(&l, spec, err, sizeof(err)) == 0 && l.n == 1 &&
	    (mode_of(path) & 0777) == 0600,
	    "bind unix: a stale socket is replaced, mode 0600");
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	memcpy(un.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd != -1 && connect(fd, (struct sockaddr *)&un, sizeof(un)) == 0,
	    "bind unix: a client connects");
	if (fd != -1)
		close(fd);
	listen_close(&l, 1);
	CHECK(mode_of(path) == 0, "close(1): the socket file is removed");

	/* a regular file: an error, and the file is left alone */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd != -1)
		close(fd);
	CHECK(listen_bind(&l, spec, err, sizeof(err)) == -1 && l.n == 0 &&
	    strstr(err, "is not a socket") != NULL && S_ISREG(mode_of(path)),
	    "bind unix: a regular file at the path is an error");
	unlink(path);

	/* a directory that does not exist */
	fmt(spec, sizeof(spec), "unix:%s/no/such/dir/s", dir);
	CHECK(listen_bind(&l, spec, err, sizeof(err)) == -1 && l.n == 0 &&
	    strstr(err, "cannot listen on unix:") != NULL,
	    "bind unix: a missing directory is an error");
	cfg.unix_mode = NULL;
	unit_rmtree(dir);
}

static void
test_name(void)
{
	char out[64];
	int p[2];

	if (pipe(p) == -1)
		return;
	listen_name(p[0], out, sizeof(out));
	CHECK(strncmp(out, "fd ", 3) == 0, "name of a pipe: \"%s\"", out);
	CHECK(!listen_is_socket(p[0]), "a pipe is not a listening socket");
	close(p[0]);
	close(p[1]);
	CHECK(!listen_is_socket(-1), "fd -1 is not a listening socket");
}

static void
test_export_inherit(void)
{
	char dir[] = "/tmp/test_listen.XXXXXX", path[128], spec[160];
	char err[256], buf[LISTENERS_MAX * (LISTEN_SPEC_MAX + 16)], small[8];
	char env[sizeof(buf) + 64];
	struct listeners l, got;
	int p[2], i, ok;

	memset(&l, 0, sizeof(l));
	memset(&got, 0, sizeof(got));
	if (mkdtemp(dir) == NULL)
		return;
	fmt(path, sizeof(path), "%s/s.sock", dir);
	fmt(spec, sizeof(spec), "unix:%s", path);
	if (listen_bind(&l, "127.0.0.1:0", err, sizeof(err)) == -1 ||
	    listen_bind(&l, spec, err, sizeof(err)) == -1) {
		printf("#   error: %s\n", err);
		CHECK(0, "export: two listeners bound");
		return;
	}
	CHECK(listen_export(&l, buf, sizeof(buf)) == 0, "export");
	fmt(env, sizeof(env), "%d 127.0.0.1:0\n%d %s\n", l.v[0].fd,
	    l.v[1].fd, spec);
	CHECK_STR(buf, env, "export: one \"FD SPEC\" line a socket");
	CHECK(listen_export(&l, small, sizeof(small)) == -1,
	    "export: a buffer too small fails");

	/* a HUP re-exec clears close-on-exec; inherit sets it back */
	for (i = 0; i < l.n; i++)
		fcntl(l.v[i].fd, F_SETFD, 0);
	/* lines to skip: a non-socket fd, fd 0-2, no spec, garbage */
	if (pipe(p) == -1)
		return;
	fmt(env, sizeof(env), "%s%d pipe\n1 stdout\n%d\nxyz 80\n", buf, p[0],
	    l.v[0].fd);
	setenv("IHTTPD_LISTEN_FDS", env, 1);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	CHECK_INT(listen_inherit(&got), 2, "inherit: the two sockets, nothing "
	    "else");
	CHECK(getenv("IHTTPD_LISTEN_FDS") == NULL,
	    "inherit: IHTTPD_LISTEN_FDS is removed");
	ok = got.n == 2;
	for (i = 0; ok && i < 2; i++)
		ok = got.v[i].fd == l.v[i].fd && got.v[i].inherited &&
		    strcmp(got.v[i].spec, l.v[i].spec) == 0 &&
		    strcmp(got.v[i].name, l.v[i].name) == 0 &&
		    (fcntl(got.v[i].fd, F_GETFD) & FD_CLOEXEC);
	CHECK(ok, "inherit: same fds, specs and names, inherited, "
	    "close-on-exec");
	CHECK(got.n == 2 && got.v[0].path[0] == '\0' &&
	    strcmp(got.v[1].path, path) == 0,
	    "inherit: the unix socket's path comes back from its spec");
	close(p[0]);
	close(p[1]);

	/* systemd: LISTEN_FDS sockets from fd 3, for this pid only */
	{
		int saved = fcntl(3, F_DUPFD_CLOEXEC, 10);
		char pid[24];

		memset(&got, 0, sizeof(got));
		if (dup2(l.v[0].fd, 3) == 3) {
			setenv("LISTEN_FDS", "1", 1);
			setenv("LISTEN_PID", fmt(pid, sizeof(pid), "%ld",
			    (long)getpid() + 1), 1);
			CHECK_INT(listen_inherit(&got), 0, "systemd: another "
			    "pid's LISTEN_FDS is not taken");
			CHECK(getenv("LISTEN_FDS") == NULL &&
			    getenv("LISTEN_PID") == NULL,
			    "systemd: the variables are removed anyway");
			setenv("LISTEN_FDS", "1", 1);
			setenv("LISTEN_FDNAMES", "http", 1);
			setenv("LISTEN_PID", fmt(pid, sizeof(pid), "%ld",
			    (long)getpid()), 1);
			CHECK_INT(listen_inherit(&got), 1, "systemd: fd 3 taken");
			CHECK(got.n == 1 && got.v[0].fd == 3 &&
			    strcmp(got.v[0].spec, "systemd") == 0 &&
			    got.v[0].inherited && bound_port(3) ==
			    bound_port(l.v[0].fd), "systemd: spec \"systemd\", "
			    "the same socket");
			CHECK(getenv("LISTEN_FDS") == NULL &&
			    getenv("LISTEN_PID") == NULL &&
			    getenv("LISTEN_FDNAMES") == NULL,
			    "systemd: LISTEN_* are removed");
			close(3);
		}
		if (saved != -1) {
			dup2(saved, 3);
			close(saved);
		}
	}
	listen_close(&l, 1);
	unit_rmtree(dir);
}

int
main(void)
{
	cfg.listen_backlog = 16;
	test_parse_good();
	test_parse_bad();
	test_bind_tcp();
	test_bind_unix();
	test_name();
	test_export_inherit();
	return unit_done();
}
