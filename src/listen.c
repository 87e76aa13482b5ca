/*
 * listen.c - the standalone server's listening sockets: `port` specs in
 * Net::Server's syntax, binding them, and taking over sockets that were
 * bound before us (a HUP re-exec, systemd's LISTEN_FDS, inetd's wait
 * mode).  Every bound address is logged and printed to standard error as
 * "ihttpd: listening on ADDRESS:PORT", so a script can start the server
 * on port 0 and read the port the kernel chose.
 *
 * Spec forms: 8080, HOST:8080, [V6ADDR]:8080, *:8080 (IPv4 and IPv6),
 * 0 (the kernel picks), scan (the first free port from 9000), unix:/path;
 * then optionally /tcp, /tls (or /ssl) and /proxy.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define SCAN_FIRST	9000
#define SCAN_LAST	9999

/*
 * Parse one spec.  0, or -1 with a reason in err.  A host of "" (a bare
 * port) or "*" is every address, IPv4 and IPv6.
 */
int
listen_parse(const char *spec, struct listen_spec *ls, char *err, size_t elen)
{
	char buf[LISTEN_SPEC_MAX], *sfx, *port;
	size_t n = strlen(spec);
	long long v;

	memset(ls, 0, sizeof(*ls));
	if (n == 0 || n >= sizeof(buf)) {
		snprintf(err, elen, "empty or longer than %d bytes",
		    LISTEN_SPEC_MAX - 1);
		return -1;
	}
	memcpy(buf, spec, n + 1);
	if (strncmp(buf, "unix:", 5) == 0) {
		ls->unix_path = 1;
		/* a path may hold '/': only known suffixes are taken off */
		for (;;) {
			size_t len = strlen(buf);

			if (len > 4 && strcmp(buf + len - 4, "/tls") == 0)
				ls->tls = 1, buf[len - 4] = '\0';
			else if (len > 4 && strcmp(buf + len - 4, "/ssl") == 0)
				ls->tls = 1, buf[len - 4] = '\0';
			else if (len > 6 && strcmp(buf + len - 6, "/proxy") == 0)
				ls->proxy = 1, buf[len - 6] = '\0';
			else
				break;
		}
		if (buf[5] != '/') {
			snprintf(err, elen, "a unix socket needs an absolute "
			    "path (unix:/path)");
			return -1;
		}
		if (strlen(buf + 5) >= sizeof(((struct sockaddr_un *)0)->
		    sun_path)) {
			snprintf(err, elen, "unix socket path longer than %zu "
			    "bytes", sizeof(((struct sockaddr_un *)0)->sun_path)
			    - 1);
			return -1;
		}
		snprintf(ls->host, sizeof(ls->host), "%s", buf + 5);
		return 0;
	}
	/* suffixes: /tcp, /tls, /ssl, /proxy in any order */
	while ((sfx = strrchr(buf, '/')) != NULL) {
		if (strcasecmp(sfx, "/tcp") == 0)
			;
		else if (strcasecmp(sfx, "/tls") == 0 ||
		    strcasecmp(sfx, "/ssl") == 0)
			ls->tls = 1;
		else if (strcasecmp(sfx, "/proxy") == 0)
			ls->proxy = 1;
		else {
			snprintf(err, elen, "unknown suffix '%s' (known: /tcp, "
			    "/tls, /ssl, /proxy)", sfx);
			return -1;
		}
		*sfx = '\0';
	}
	if (buf[0] == '[') {
		char *end = strchr(buf, ']');
		struct in6_addr a6;

		if (end == NULL || end[1] != ':') {
			snprintf(err, elen, "an IPv6 address needs the form "
			    "[ADDR]:PORT");
			return -1;
		}
		*end = '\0';
		if (inet_pton(AF_INET6, buf + 1, &a6) != 1) {
			snprintf(err, elen, "'%s' is not an IPv6 address",
			    buf + 1);
			return -1;
		}
		snprintf(ls->host, sizeof(ls->host), "%s", buf + 1);
		ls->v6 = 1;
		port = end + 2;
	} else if ((port = strrchr(buf, ':')) != NULL) {
		*port++ = '\0';
		if (strchr(buf, ':') != NULL) {
			snprintf(err, elen, "an IPv6 address goes in brackets: "
			    "[ADDR]:PORT");
			return -1;
		}
		if (buf[0] == '\0') {
			snprintf(err, elen, "empty host before ':'");
			return -1;
		}
		if (strcmp(buf, "*") != 0)
			snprintf(ls->host, sizeof(ls->host), "%s", buf);
	} else
		port = buf;
	if (strcmp(port, "scan") == 0) {
		ls->scan = 1;
		return 0;
	}
	if (*port == '\0' || strspn(port, "0123456789") != strlen(port) ||
	    str_to_ll(port, 0, 65535, &v) == -1) {
		snprintf(err, elen, "'%s' is not a port (0-65535 or scan)",
		    port);
		return -1;
	}
	ls->port = (int)v;
	return 0;
}

/* "ADDRESS:PORT" of a bound socket, "[V6]:PORT", or "unix:/path". */
void
listen_name(int fd, char *out, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char addr[INET6_ADDRSTRLEN];

	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1) {
		snprintf(out, len, "fd %d", fd);
		return;
	}
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)&ss;

		inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
		snprintf(out, len, "%s:%u", addr, ntohs(in->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)&ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
		snprintf(out, len, "[%s]:%u", addr, ntohs(in6->sin6_port));
	} else if (ss.ss_family == AF_UNIX) {
		const struct sockaddr_un *un = (const void *)&ss;

		snprintf(out, len, "unix:%s", sl > offsetof(struct sockaddr_un,
		    sun_path) ? un->sun_path : "");
	} else
		snprintf(out, len, "fd %d (family %d)", fd, ss.ss_family);
}

static int
add(struct listeners *l, int fd, const char *spec, const struct listen_spec
    *ls, const char *path)
{
	struct listener *n;

	if (l->n == LISTENERS_MAX) {
		close(fd);
		errno = EMFILE;
		return -1;
	}
	n = &l->v[l->n++];
	memset(n, 0, sizeof(*n));
	n->fd = fd;
	snprintf(n->spec, sizeof(n->spec), "%s", spec);
	if (ls != NULL) {
		n->tls = ls->tls;
		n->proxy = ls->proxy;
	}
	if (path != NULL)
		snprintf(n->path, sizeof(n->path), "%s", path);
	listen_name(fd, n->name, sizeof(n->name));
	return 0;
}

/* One TCP socket bound and listening; the fd, or -1 with errno. */
static int
bind_one(int family, const struct sockaddr *sa, socklen_t sl, int v6only)
{
	int fd, one = 1, e;

	if ((fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
		    sizeof(v6only));
	if (bind(fd, sa, sl) == -1 || listen(fd, (int)cfg.listen_backlog) ==
	    -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/*
 * Every address a TCP spec names, on one port (the first bound one's
 * when the spec says 0 or scan).  0, or -1 with err.
 */
static int
bind_tcp(struct listeners *l, const char *spec, struct listen_spec *ls,
    int port, char *err, size_t elen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char pbuf[8];
	int rc, nbound = 0, first = l->n;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	hints.ai_family = ls->v6 ? AF_INET6 : AF_UNSPEC;
	snprintf(pbuf, sizeof(pbuf), "%d", port);
	rc = getaddrinfo(ls->host[0] != '\0' ? ls->host : NULL, pbuf, &hints,
	    &res);
	if (rc != 0) {
		snprintf(err, elen, "%s: %s", ls->host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct sockaddr_storage ss;
		int fd;

		memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
		/* the second address family follows the port the first got */
		if (port == 0 && nbound > 0) {
			struct sockaddr_storage b;
			socklen_t bl = sizeof(b);
			in_port_t p = 0;

			if (getsockname(l->v[first].fd, (struct sockaddr *)&b,
			    &bl) == 0)
				p = b.ss_family == AF_INET ? ((struct
				    sockaddr_in *)&b)->sin_port : ((struct
				    sockaddr_in6 *)&b)->sin6_port;
			if (ss.ss_family == AF_INET)
				((struct sockaddr_in *)&ss)->sin_port = p;
			else
				((struct sockaddr_in6 *)&ss)->sin6_port = p;
		}
		fd = bind_one(ai->ai_family, (struct sockaddr *)&ss,
		    ai->ai_addrlen, 1);
		if (fd == -1) {
			char name[128], host[INET6_ADDRSTRLEN] = "?";

			getnameinfo(ai->ai_addr, ai->ai_addrlen, host,
			    sizeof(host), NULL, 0, NI_NUMERICHOST);
			snprintf(name, sizeof(name), ai->ai_family == AF_INET6 ?
			    "[%s]:%d" : "%s:%d", host, port);
			snprintf(err, elen, "cannot listen on %s: %s", name,
			    strerror(errno));
			/* a wildcard host without IPv6 still has IPv4 */
			if (ls->host[0] == '\0' && ai->ai_family == AF_INET6 &&
			    (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL))
				continue;
			goto fail;
		}
		if (add(l, fd, spec, ls, NULL) == -1) {
			snprintf(err, elen, "more than %d listening sockets",
			    LISTENERS_MAX);
			goto fail;
		}
		nbound++;
	}
	freeaddrinfo(res);
	if (nbound == 0) {
		snprintf(err, elen, "no address to listen on");
		return -1;
	}
	return 0;
fail:
	freeaddrinfo(res);
	while (l->n > first)
		close(l->v[--l->n].fd);
	return -1;
}

/*
 * A unix socket at path, mode unix_mode.  An existing socket nobody
 * answers on is stale and replaced; anything else there is an error.
 */
static int
bind_unix(struct listeners *l, const char *spec, struct listen_spec *ls,
    char *err, size_t elen)
{
	struct sockaddr_un un;
	struct stat st;
	long long mode = 0660;
	mode_t old;
	int fd, e;

	if (cfg.unix_mode != NULL)
		mode = strtol(cfg.unix_mode, NULL, 8);
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	if (strlen(ls->host) >= sizeof(un.sun_path)) {
		snprintf(err, elen, "unix socket path too long");
		return -1;
	}
	memcpy(un.sun_path, ls->host, strlen(ls->host) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		goto syserr;
	if (lstat(un.sun_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, elen, "%s exists and is not a socket",
			    un.sun_path);
			close(fd);
			return -1;
		}
		if (connect(fd, (struct sockaddr *)&un, sizeof(un)) == 0) {
			snprintf(err, elen, "%s: a server is listening there "
			    "already", un.sun_path);
			close(fd);
			return -1;
		}
		close(fd);
		unlink(un.sun_path);	/* stale: nobody answers */
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
			goto syserr;
	}
	/* created with its final mode: no moment with a wider one */
	old = umask((mode_t)(~mode & 0777));
	e = bind(fd, (struct sockaddr *)&un, sizeof(un));
	umask(old);
	/* no chmod after: it would follow a link swapped in meanwhile */
	if (e == -1 || listen(fd, (int)cfg.listen_backlog) == -1) {
		e = errno;
		close(fd);
		snprintf(err, elen, "cannot listen on unix:%s: %s",
		    un.sun_path, strerror(e));
		return -1;
	}
	if (add(l, fd, spec, ls, un.sun_path) == -1) {
		snprintf(err, elen, "more than %d listening sockets",
		    LISTENERS_MAX);
		return -1;
	}
	return 0;
syserr:
	snprintf(err, elen, "socket: %s", strerror(errno));
	return -1;
}

/* The first of these `port` specs that speaks TLS (/tls), or -1. */
int
listen_first_tls(const struct strlist *ports)
{
	size_t i;

	for (i = 0; i < ports->n; i++) {
		struct listen_spec ls;
		char why[128];

		if (listen_parse(ports->v[i], &ls, why, sizeof(why)) == 0 &&
		    ls.tls)
			return (int)i;
	}
	return -1;
}

/* Bind one spec (already parsed).  0, or -1 with err. */
int
listen_bind(struct listeners *l, const char *spec, char *err, size_t elen)
{
	struct listen_spec ls;
	int port;

	if (listen_parse(spec, &ls, err, elen) == -1)
		return -1;
	if (ls.unix_path)
		return bind_unix(l, spec, &ls, err, elen);
	if (!ls.scan)
		return bind_tcp(l, spec, &ls, ls.port, err, elen);
	for (port = SCAN_FIRST; port <= SCAN_LAST; port++) {
		if (bind_tcp(l, spec, &ls, port, err, elen) == 0)
			return 0;
		if (strstr(err, strerror(EADDRINUSE)) == NULL)
			return -1;
	}
	snprintf(err, elen, "scan: no free port from %d to %d", SCAN_FIRST,
	    SCAN_LAST);
	return -1;
}

/*
 * Sockets bound before us.  IHTTPD_LISTEN_FDS ("FD SPEC" lines, set by a
 * HUP re-exec) keeps each socket with the spec that made it; systemd's
 * LISTEN_FDS (for this pid) starts at fd 3 with no spec.  The variables
 * are removed so that no child sees them.  Returns the sockets taken.
 */
int
listen_inherit(struct listeners *l)
{
	const char *v = getenv("IHTTPD_LISTEN_FDS");
	const char *pid = getenv("LISTEN_PID");
	const char *nfds = getenv("LISTEN_FDS");
	int got = 0;

	if (v != NULL) {
		char *copy = strdup(v), *line, *save;

		for (line = copy != NULL ? strtok_r(copy, "\n", &save) : NULL;
		    line != NULL; line = strtok_r(NULL, "\n", &save)) {
			char *sp = strchr(line, ' ');
			long long fd;
			struct listen_spec ls;
			char err[128];

			if (sp == NULL)
				continue;
			*sp = '\0';
			if (str_to_ll(line, 3, INT_MAX, &fd) == -1 ||
			    !listen_is_socket((int)fd))
				continue;
			fcntl((int)fd, F_SETFD, FD_CLOEXEC);
			if (listen_parse(sp + 1, &ls, err, sizeof(err)) == -1)
				memset(&ls, 0, sizeof(ls));
			if (add(l, (int)fd, sp + 1, &ls, ls.unix_path ? ls.host :
			    NULL) == 0) {
				l->v[l->n - 1].inherited = 1;
				got++;
			}
		}
		free(copy);
		unsetenv("IHTTPD_LISTEN_FDS");
	}
	if (pid != NULL && nfds != NULL && atoll(pid) == (long long)getpid()) {
		long long n, i;

		if (str_to_ll(nfds, 0, LISTENERS_MAX, &n) == 0)
			for (i = 0; i < n; i++) {
				int fd = 3 + (int)i;

				if (!listen_is_socket(fd))
					continue;
				fcntl(fd, F_SETFD, FD_CLOEXEC);
				if (add(l, fd, "systemd", NULL, NULL) == 0) {
					l->v[l->n - 1].inherited = 1;
					got++;
				}
			}
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return got;
}

/* Is fd a listening stream socket (SO_ACCEPTCONN)? */
int
listen_is_socket(int fd)
{
	int on = 0;
	socklen_t sl = sizeof(on);

	if (stdio_not_socket(fd))
		return 0;	/* inetd's pipe or file: nothing to ask */
	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &sl) == 0 &&
	    on;
}

/* The IHTTPD_LISTEN_FDS value that hands these sockets to a new image. */
int
listen_export(const struct listeners *l, char *out, size_t len)
{
	struct sbuf b;
	int i;

	sb_init(&b, out, len);
	for (i = 0; i < l->n; i++)
		sb_printf(&b, "%d %s\n", l->v[i].fd, l->v[i].spec);
	return b.trunc ? -1 : 0;
}

/* Close every socket; remove the unix socket files we made. */
void
listen_close(struct listeners *l, int unlink_paths)
{
	int i;

	for (i = 0; i < l->n; i++) {
		close(l->v[i].fd);
		if (unlink_paths && l->v[i].path[0] != '\0')
			unlink(l->v[i].path);
	}
	l->n = 0;
}
