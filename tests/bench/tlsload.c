/*
 * Bench driver: TLS load with a new connection per request.  Not part of
 * ihttpd; built by tests/bench/tls.sh.
 *
 *   tlsload HOST PORT PATH SECONDS PROCS RESUME
 *
 * Forks PROCS processes; each, for SECONDS, connects to HOST:PORT (an
 * IPv4 address), does a TLS handshake (no certificate check, SNI
 * "localhost"), sends "GET PATH HTTP/1.1" with `Connection: close`, reads
 * the response to EOF and checks that it is "HTTP/1.1 200" with as many
 * body bytes as its Content-Length.  RESUME 1: every connection offers
 * the session of that process's previous connection (with TLS 1.3 the
 * ticket comes after the handshake, so the session is taken once the
 * whole response is read); RESUME 0: a full handshake every time.
 *
 * Every wait is bounded: connect, reads and writes by 5 s socket timeouts,
 * a process by an alarm SECONDS + 6 s after its start.  Prints
 *   requests N errors N reused N seconds S
 * (requests: answered 200 in full; reused: of those, how many resumed;
 * S: wall time from the fork of the first process to the exit of the
 * last) and, on stderr, the errors by kind and the first one of each
 * process.  Exit status 0 when at least one request succeeded.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAXPROCS	64
#define RESPMAX		(256 * 1024)

enum { E_CONNECT, E_TLS, E_IO, E_STATUS, E_KINDS };
static const char *const kind_name[E_KINDS] = {
	"connect", "handshake", "io", "status"
};

struct report {
	long	requests, errors, reused;
	long	kind[E_KINDS];
};

static volatile sig_atomic_t stop;
static char resp[RESPMAX];
static char first_err[256];

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
on_alarm(int sig)
{
	(void)sig;
	if (stop)
		_exit(3);	/* still stuck 2 s after the first alarm */
	stop = 1;
	alarm(2);
}

static void
note(struct report *r, int kind, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	const char *why = e != 0 ? ERR_reason_error_string(e) : NULL;

	r->errors++;
	r->kind[kind]++;
	if (first_err[0] == '\0')
		snprintf(first_err, sizeof(first_err), "%s: %s", what,
		    why != NULL ? why : errno != 0 ? strerror(errno) : "EOF");
	ERR_clear_error();
}

static int
dial(const struct sockaddr_in *sa)
{
	struct timeval tv = { 5, 0 };
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	/* SO_SNDTIMEO bounds connect() too */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1 ||
	    connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == -1) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* "HTTP/1.1 200" with a body as long as its Content-Length (if any). */
static int
response_ok(const char *b, size_t n)
{
	const char *end, *p;
	size_t head;

	if (n < 12 || memcmp(b, "HTTP/1.1 200", 12) != 0)
		return 0;
	if ((end = memmem(b, n, "\r\n\r\n", 4)) == NULL)
		return 0;
	head = (size_t)(end - b) + 4;
	for (p = b; p != NULL && p < end; p = memchr(p, '\n', (size_t)(end -
	    p))) {
		if (*p == '\n')
			p++;
		if ((size_t)(end - p) > 15 && strncasecmp(p, "Content-Length:",
		    15) == 0)
			return strtoul(p + 15, NULL, 10) == n - head;
	}
	return 1;
}

static void
child(const struct sockaddr_in *sa, const char *path, double secs,
    int resume, int out)
{
	struct report r;
	struct sigaction act;
	SSL_CTX *ctx;
	SSL_SESSION *sess = NULL;
	char req[1024];
	int reqlen;
	double deadline = now() + secs;

	memset(&r, 0, sizeof(r));
	memset(&act, 0, sizeof(act));
	act.sa_handler = on_alarm;	/* no SA_RESTART: blocked calls end */
	sigaction(SIGALRM, &act, NULL);
	alarm((unsigned)secs + 6);
	reqlen = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: "
	    "localhost\r\nConnection: close\r\n\r\n", path);
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		fprintf(stderr, "tlsload: SSL_CTX_new failed\n");
		_exit(2);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* the sessions are kept here, not in OpenSSL's cache */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	while (!stop && now() < deadline) {
		SSL *s;
		size_t got = 0, n;
		int fd, rc, ok;

		errno = 0;
		if ((fd = dial(sa)) == -1) {
			if (!stop)
				note(&r, E_CONNECT, "connect");
			usleep(10000);	/* no busy loop on a dead port */
			continue;
		}
		s = SSL_new(ctx);
		if (s == NULL) {
			close(fd);
			note(&r, E_TLS, "SSL_new");
			continue;
		}
		SSL_set_fd(s, fd);
		SSL_set_tlsext_host_name(s, "localhost");
		if (resume && sess != NULL)
			SSL_set_session(s, sess);
		ERR_clear_error();
		errno = 0;
		if (SSL_connect(s) != 1) {
			if (!stop)
				note(&r, E_TLS, "handshake");
			goto next;
		}
		if (SSL_write(s, req, reqlen) != reqlen) {
			if (!stop)
				note(&r, E_IO, "write");
			goto next;
		}
		ok = 1;
		for (;;) {
			errno = 0;
			rc = SSL_read_ex(s, resp + got, sizeof(resp) - 1 -
			    got, &n);
			if (rc == 1) {
				got += n;
				if (got < sizeof(resp) - 1)
					continue;
			} else if (SSL_get_error(s, rc) == SSL_ERROR_ZERO_RETURN)
				break;
			ok = 0;
			break;
		}
		if (!ok) {
			if (!stop)
				note(&r, E_IO, "read");
			goto next;
		}
		if (!response_ok(resp, got)) {
			resp[got < 60 ? got : 60] = '\0';
			if (first_err[0] == '\0')
				snprintf(first_err, sizeof(first_err),
				    "response: %.60s", resp);
			r.errors++;
			r.kind[E_STATUS]++;
			goto next;
		}
		r.requests++;
		if (SSL_session_reused(s))
			r.reused++;
		if (resume) {
			SSL_SESSION *ns = SSL_get1_session(s);

			if (ns != NULL && SSL_SESSION_is_resumable(ns)) {
				SSL_SESSION_free(sess);
				sess = ns;
			} else
				SSL_SESSION_free(ns);
		}
		/* marks the session as cleanly closed, sends nothing */
		SSL_set_quiet_shutdown(s, 1);
		SSL_shutdown(s);
		SSL_free(s);
		close(fd);
		continue;
next:
		SSL_free(s);
		close(fd);
		/* a failed resumption is not offered again */
		SSL_SESSION_free(sess);
		sess = NULL;
		usleep(10000);
	}
	if (first_err[0] != '\0')
		fprintf(stderr, "tlsload[%d]: first error: %s\n", (int)getpid(),
		    first_err);
	if (write(out, &r, sizeof(r)) != (ssize_t)sizeof(r))
		_exit(2);
	_exit(0);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	struct report total, r;
	double secs, t0, t1;
	long port, procs;
	int resume, i, p[2], alive = 0, k;
	char *end;
	ssize_t n;

	if (argc != 7) {
		fprintf(stderr, "usage: tlsload HOST PORT PATH SECONDS PROCS "
		    "RESUME(0|1)\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	port = strtol(argv[2], &end, 10);
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1 || *end != '\0' ||
	    port < 1 || port > 65535) {
		fprintf(stderr, "tlsload: bad address %s:%s\n", argv[1],
		    argv[2]);
		return 2;
	}
	sa.sin_port = htons((unsigned short)port);
	secs = strtod(argv[4], &end);
	procs = strtol(argv[5], NULL, 10);
	resume = atoi(argv[6]) != 0;
	if (*end != '\0' || secs <= 0 || secs > 3600 || procs < 1 ||
	    procs > MAXPROCS || argv[3][0] != '/') {
		fprintf(stderr, "tlsload: bad arguments\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (pipe(p) == -1) {
		perror("pipe");
		return 2;
	}
	t0 = now();
	for (i = 0; i < procs; i++) {
		pid_t pid = fork();

		if (pid == -1) {
			perror("fork");
			break;
		}
		if (pid == 0) {
			close(p[0]);
			child(&sa, argv[3], secs, resume, p[1]);
		}
		alive++;
	}
	close(p[1]);
	/* the children end by themselves (their alarms bound them) */
	while (alive > 0) {
		if (wait(NULL) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		alive--;
	}
	t1 = now();
	memset(&total, 0, sizeof(total));
	while ((n = read(p[0], &r, sizeof(r))) == (ssize_t)sizeof(r)) {
		total.requests += r.requests;
		total.errors += r.errors;
		total.reused += r.reused;
		for (k = 0; k < E_KINDS; k++)
			total.kind[k] += r.kind[k];
	}
	printf("requests %ld errors %ld reused %ld seconds %.3f\n",
	    total.requests, total.errors, total.reused, t1 - t0);
	if (total.errors > 0) {
		fprintf(stderr, "tlsload: errors:");
		for (k = 0; k < E_KINDS; k++)
			fprintf(stderr, " %s %ld", kind_name[k], total.kind[k]);
		fprintf(stderr, "\n");
	}
	return total.requests > 0 ? 0 : 1;
}
