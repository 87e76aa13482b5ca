/*
 * conn.c - one connection: where it came from (one peer-address function
 * for every launch path), buffered reads with deadlines, and writes with a
 * send timeout.  Reads go into one buffer per connection that holds the
 * head while it is parsed in place, then body bytes and pipelined requests.
 * A TLS connection goes through tls.c beneath the same functions (the
 * one transport seam): OpenSSL's buffered bytes are read before poll is
 * asked, and its writes are gathered into records.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/sendfile.h>
#include <sys/uio.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <linux/sockios.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

int conn_standalone;
int conn_idle_fds[LISTENERS_MAX + 1];
int conn_idle_nfds;
int conn_yield;

/*
 * single: does another client wait (a listener readable)?  Then the
 * response being built is the connection's last, whatever is buffered,
 * so that one client, however it paces its requests, cannot hold the
 * only process.
 */
int
conn_others_waiting(void)
{
	struct pollfd pfd[LISTENERS_MAX + 1];
	int i;

	if (!conn_yield)
		return 0;
	for (i = 0; i < conn_idle_nfds; i++) {
		pfd[i].fd = conn_idle_fds[i];
		pfd[i].events = POLLIN;
	}
	return poll(pfd, (nfds_t)conn_idle_nfds, 0) > 0;
}

static void
format_addr(const struct sockaddr_storage *ss, char *addr, size_t alen,
    char *port, size_t plen)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &in->sin_addr, addr, (socklen_t)alen);
		snprintf(port, plen, "%u", ntohs(in->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)ss;

		/* An IPv4-mapped peer is reported, and matched, as IPv4. */
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], addr,
			    (socklen_t)alen);
		else
			inet_ntop(AF_INET6, &in6->sin6_addr, addr,
			    (socklen_t)alen);
		snprintf(port, plen, "%u", ntohs(in6->sin6_port));
	} else {
		/* AF_UNIX or another family: no address to report. */
		addr[0] = '\0';
		port[0] = '\0';
	}
}

/* Copy an environment address if it looks like one (no injection). */
static int
env_addr(const char *name, char *out, size_t len)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0' || strlen(v) >= len ||
	    strspn(v, "0123456789abcdefABCDEF.:") != strlen(v))
		return 0;
	strcpy(out, v);
	return 1;
}

/*
 * The peer when fd 0 is not an IP socket: `remote_addr`, else the
 * launcher's variables (tcpserver's TCPREMOTEIP, socat's SOCAT_PEERADDR
 * for EXEC over a socketpair or pipes).  Without them a pipe is a local
 * debugging session (127.0.0.1, as documented), but a socket of another
 * family (AF_UNIX: systemd, socat, a proxy) has no address to report:
 * the peer stays empty, matches no allow rule, and logs as "-".
 */
static void
launcher_peer(struct conn *c, int is_socket)
{
	/*
	 * A daemon's environment is its own, not the connection's: a unix
	 * socket it accepted has no peer address at all.
	 */
	if (conn_standalone) {
		if (c->local[0] == '\0')
			snprintf(c->local, sizeof(c->local), "127.0.0.1");
		if (c->local_port[0] == '\0')
			snprintf(c->local_port, sizeof(c->local_port), "80");
		return;
	}
	if (cfg.remote_addr != NULL)
		snprintf(c->peer, sizeof(c->peer), "%s", cfg.remote_addr);
	else if (env_addr("TCPREMOTEIP", c->peer, sizeof(c->peer)))
		(void)env_addr("TCPREMOTEPORT", c->peer_port,
		    sizeof(c->peer_port));
	else if (env_addr("SOCAT_PEERADDR", c->peer, sizeof(c->peer)))
		(void)env_addr("SOCAT_PEERPORT", c->peer_port,
		    sizeof(c->peer_port));
	else if (!is_socket)
		snprintf(c->peer, sizeof(c->peer), "127.0.0.1");
	if (c->peer[0] != '\0' && c->peer_port[0] == '\0')
		snprintf(c->peer_port, sizeof(c->peer_port), "0");
	if (c->local[0] == '\0' && !env_addr("TCPLOCALIP", c->local,
	    sizeof(c->local)) && !env_addr("SOCAT_SOCKADDR", c->local,
	    sizeof(c->local)))
		snprintf(c->local, sizeof(c->local), "127.0.0.1");
	if (c->local_port[0] == '\0' && !env_addr("TCPLOCALPORT",
	    c->local_port, sizeof(c->local_port)) && !env_addr("SOCAT_SOCKPORT",
	    c->local_port, sizeof(c->local_port)))
		snprintf(c->local_port, sizeof(c->local_port), "80");
}

/*
 * Set up a connection on fds in/out and find both ends: getpeername and
 * getsockname on an IP socket, launcher_peer otherwise.  Returns 0 or -1.
 */
int
conn_init(struct conn *c, int in, int out)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int one = 1;

	memset(c, 0, sizeof(*c));
	c->in = in;
	c->out = out;
	c->icap = (size_t)cfg.max_header_size + 1;
	if (c->icap < 16384)
		c->icap = 16384;
	if ((c->ibuf = malloc(c->icap)) == NULL ||
	    (c->hbuf = malloc(HEAD_MAX)) == NULL ||
	    (c->obuf = malloc(OBUF_SIZE)) == NULL) {
		conn_free(c);
		return -1;
	}

	if (!stdio_not_socket(in) &&
	    getpeername(in, (struct sockaddr *)&ss, &sl) == 0) {
		c->in_socket = 1;
		format_addr(&ss, c->peer, sizeof(c->peer), c->peer_port,
		    sizeof(c->peer_port));
		sl = sizeof(ss);
		if (getsockname(in, (struct sockaddr *)&ss, &sl) == 0)
			format_addr(&ss, c->local, sizeof(c->local),
			    c->local_port, sizeof(c->local_port));
		if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)
			launcher_peer(c, 1);
	} else
		launcher_peer(c, 0);
	sl = sizeof(ss);
	if (!stdio_not_socket(out) &&
	    getsockname(out, (struct sockaddr *)&ss, &sl) == 0) {
		struct timeval tv = { (time_t)cfg.send_timeout, 0 };

		c->out_socket = 1;
		/* A stalled reader must not hold the process forever. */
		setsockopt(out, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		/* Head and body leave in one writev; no Nagle wait after. */
		if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
			setsockopt(out, IPPROTO_TCP, TCP_NODELAY, &one,
			    sizeof(one));
	}
	return 0;
}

/* The peer as error-log lines name it: its address, or "-" if unknown. */
const char *
conn_who(const struct conn *c)
{
	return c->peer[0] != '\0' ? c->peer : "-";
}

void
conn_free(struct conn *c)
{
	if (c->tls != NULL)
		tls_end(c, !c->broken);
	free(c->ibuf);
	free(c->hbuf);
	free(c->obuf);
	free(c->peer_host);
	c->ibuf = c->hbuf = c->obuf = NULL;
	c->peer_host = NULL;
}

/* Move unconsumed bytes (a pipelined request) to the buffer's start. */
void
conn_compact(struct conn *c)
{
	if (c->ipos > 0) {
		memmove(c->ibuf, c->ibuf + c->ipos, c->ilen - c->ipos);
		c->ilen -= c->ipos;
		c->ipos = 0;
	}
}

/*
 * Read more bytes into the buffer, waiting until deadline (CLOCK_MONOTONIC
 * ms).  Returns the bytes read, 0 at EOF, -1 on error, -2 at the deadline,
 * -3 when the buffer is full.
 */
ssize_t
conn_fill(struct conn *c, int64_t deadline)
{
	struct pollfd pfd[1 + LISTENERS_MAX + 1];
	ssize_t n;
	int i, npfd = 1, wanted = 0;

	if (c->ilen == c->icap)
		return -3;
	pfd[0].fd = c->in;
	pfd[0].events = POLLIN;
	/* Idle between requests, other work may end the wait (daemon.c). */
	for (i = 0; c->idle && i < conn_idle_nfds; i++) {
		pfd[npfd].fd = conn_idle_fds[i];
		pfd[npfd++].events = POLLIN;
	}
	for (;;) {
		int64_t left = deadline - mono_ms();
		int rc;

		if (left <= 0 || (c->idle && serve_stopping))
			return -2;
		/*
		 * What OpenSSL holds already, poll cannot see; but when what
		 * it holds is not a whole record (its read wanted more), only
		 * the socket can help, and asking OpenSSL again would spin.
		 */
		if (c->tls == NULL || wanted || !tls_pending(c)) {
			pfd[0].fd = c->tls_want_write ? c->out : c->in;
			pfd[0].events = c->tls_want_write ? POLLOUT : POLLIN;
			rc = poll(pfd, (nfds_t)npfd, left > 1000000 ? 1000000 :
			    (int)left);
			if (rc == -1 && errno == EINTR)
				continue;
			if (rc == -1)
				return -1;
			if (rc == 0)
				continue;
			if (pfd[0].revents == 0)
				return -2;	/* an idle fd woke: end the wait */
		}
		n = c->tls != NULL ? tls_read(c, c->ibuf + c->ilen, c->icap -
		    c->ilen) : read(c->in, c->ibuf + c->ilen, c->icap - c->ilen);
		if (n == -1 && (errno == EINTR || errno == EAGAIN)) {
			wanted = errno == EAGAIN;
			continue;
		}
		if (n == -1)
			return -1;
		if (n == 0)
			c->eof = 1;
		c->ilen += (size_t)n;
		ih_debug(IH_DBG_READ, "read %zd bytes", n);
		return n;
	}
}

/*
 * A response's send deadline: send_timeout, plus a second for every
 * send_min_rate bytes sent or being sent, from the start of its head.
 * SO_SNDTIMEO alone bounds one stalled write, not a reader that takes a
 * trickle at a time (slowhttptest's slow read), which would hold the
 * process (a prefork worker) for as long as the file lasts.
 */
void
conn_send_begin(struct conn *c)
{
	c->send_start = mono_ms();
	c->send_base = c->bytes_out;
	if (c->sndtimeo_short) {
		struct timeval tv = { (time_t)cfg.send_timeout, 0 };

		setsockopt(c->out, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		c->sndtimeo_short = 0;
	}
}

/*
 * May `pending` more bytes go out?  The ms they may take (no more than
 * send_timeout: a write that stalls that long fails), or -1 past the
 * deadline.
 */
static int64_t
send_window(struct conn *c, unsigned long long pending)
{
	int64_t limit, left;

	if (!c->out_socket || c->send_start == 0)
		return cfg.send_timeout * 1000;
	limit = c->send_start + cfg.send_timeout * 1000 + (int64_t)((c->bytes_out -
	    c->send_base + pending) * 1000 / (unsigned long long)cfg.send_min_rate);
	left = limit - mono_ms();
	if (left <= 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (left > cfg.send_timeout * 1000)
		return cfg.send_timeout * 1000;
	/* near the deadline, the kernel's timeout must not outlast it */
	if (c->tls == NULL) {
		struct timeval tv = { (time_t)(left / 1000),
		    (suseconds_t)(left % 1000) * 1000 };

		setsockopt(c->out, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		c->sndtimeo_short = 1;
	}
	return left;
}

static int
write_failed(struct conn *c, const char *what)
{
	ih_log(IH_LOG_INFO, "%s: %s failed: %s", conn_who(c), what,
	    errno == EAGAIN && c->sndtimeo_short ? "send deadline "
	    "(send_timeout + size / send_min_rate)" : errno == EAGAIN ?
	    "send timeout" : errno == ETIMEDOUT ? "send deadline "
	    "(send_timeout + size / send_min_rate)" : strerror(errno));
	c->closing = 1;
	c->broken = 1;
	return -1;
}

/*
 * Write all of buf.  0, or -1 with the connection marked closing; what
 * was written before a failure still counts in bytes_out.
 */
int
conn_write(struct conn *c, const void *buf, size_t n)
{
	struct iovec iov[1];

	iov[0].iov_base = (void *)(uintptr_t)buf;
	iov[0].iov_len = n;
	return conn_writev(c, iov, 1);
}

/*
 * TLS: n bytes as records, waiting (non-blocking fds) within the send
 * deadline for the socket to take them.  0 or -1.
 */
static int
tls_send(struct conn *c, const char *buf, size_t n)
{
	for (;;) {
		int64_t left = send_window(c, n);
		ssize_t w;

		if (left == -1)
			return write_failed(c, "TLS write");
		if ((w = tls_write(c, buf, n)) > 0) {
			c->bytes_out += (size_t)w;
			return 0;
		}
		if (w == 0 || errno != EAGAIN)
			return write_failed(c, "TLS write");
		if (tls_wait(c, c->tls_want_write, left) != 1) {
			errno = ETIMEDOUT;
			return write_failed(c, "TLS write");
		}
	}
}

/* TLS: the array gathered into records of up to TLS_RECORD bytes. */
static int
tls_writev(struct conn *c, struct iovec *iov, int cnt)
{
	while (cnt > 0) {
		size_t fill = 0;

		while (cnt > 0 && fill < TLS_RECORD) {
			size_t k = iov->iov_len < TLS_RECORD - fill ?
			    iov->iov_len : TLS_RECORD - fill;

			memcpy(c->tbuf + fill, iov->iov_base, k);
			fill += k;
			iov->iov_base = (char *)iov->iov_base + k;
			if ((iov->iov_len -= k) == 0) {
				iov++;
				cnt--;
			}
		}
		if (fill > 0 && tls_send(c, c->tbuf, fill) == -1)
			return -1;
	}
	return 0;
}

/*
 * Write an iovec array completely (head and body in one writev: one
 * syscall, one segment).  The array is consumed.  0 or -1.
 */
int
conn_writev(struct conn *c, struct iovec *iov, int cnt)
{
	if (c->tls != NULL)
		return tls_writev(c, iov, cnt);
	while (cnt > 0) {
		unsigned long long pending = 0;
		ssize_t w;
		int i;

		if (iov->iov_len == 0) {
			iov++;
			cnt--;
			continue;
		}
		for (i = 0; i < cnt; i++)
			pending += iov[i].iov_len;
		if (send_window(c, pending) == -1)
			return write_failed(c, "writev");
		if ((w = writev(c->out, iov, cnt)) == -1) {
			if (errno == EINTR)
				continue;
			return write_failed(c, "writev");
		}
		c->bytes_out += (size_t)w;
		while (cnt > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* TLS with kTLS: the kernel encrypts what sendfile sends.  0 or -1. */
static int
tls_sendfile_all(struct conn *c, int fd, off_t off, off_t len)
{
	while (len > 0) {
		size_t chunk = len > FILE_BLOCK * 4 ? FILE_BLOCK * 4 : (size_t)len;
		int64_t left = send_window(c, chunk);
		ssize_t n;

		if (left == -1)
			return write_failed(c, "SSL_sendfile");
		if ((n = tls_sendfile(c, fd, off, chunk)) > 0) {
			c->bytes_out += (size_t)n;
			off += n;
			len -= n;
			continue;
		}
		if (n == 0) {
			ih_log(IH_LOG_WARN, "%s: file shrank while being sent",
			    conn_who(c));
			c->closing = c->broken = 1;
			return -1;
		}
		if (errno != EAGAIN)
			return write_failed(c, "SSL_sendfile");
		if (tls_wait(c, c->tls_want_write, left) != 1) {
			errno = ETIMEDOUT;
			return write_failed(c, "SSL_sendfile");
		}
	}
	return 0;
}

/*
 * Send len bytes of fd from off: sendfile(2) to a socket, read/write
 * blocks otherwise.  A file that shrinks underneath ends the connection
 * (what was promised cannot be delivered).  0 or -1.
 */
int
conn_sendfile(struct conn *c, int fd, off_t off, off_t len)
{
	char *buf = NULL;

	if (c->tls != NULL) {
		ih_debug(IH_DBG_SEND, "TLS: file sent %s", tls_ktls(c) ?
		    "with SSL_sendfile (kTLS)" : "by read and SSL_write (no "
		    "kTLS)");
		if (tls_ktls(c))
			return tls_sendfile_all(c, fd, off, len);
	}
	while (len > 0 && c->out_socket && c->tls == NULL) {
		size_t chunk = len > FILE_BLOCK * 4 ? FILE_BLOCK * 4 : (size_t)len;
		ssize_t n;

		/* in pieces, so that the deadline is looked at as it goes */
		if (send_window(c, chunk) == -1)
			return write_failed(c, "sendfile");
		n = sendfile(c->out, fd, &off, chunk);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EINVAL || errno == ENOSYS))
			break;		/* fall back to read/write */
		if (n == -1)
			return write_failed(c, "sendfile");
		if (n == 0) {
			ih_log(IH_LOG_WARN, "%s: file shrank while being sent",
			    conn_who(c));
			c->closing = c->broken = 1;
			return -1;
		}
		c->bytes_out += (size_t)n;
		len -= n;
	}
	if (len > 0 && (buf = malloc(FILE_BLOCK)) == NULL) {
		c->closing = c->broken = 1;
		return -1;
	}
	while (len > 0) {
		ssize_t n = pread(fd, buf, len > FILE_BLOCK ? FILE_BLOCK :
		    (size_t)len, off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			ih_log(IH_LOG_WARN, "%s: file shrank or failed while "
			    "being sent", conn_who(c));
			c->closing = c->broken = 1;
			free(buf);
			return -1;
		}
		if (conn_write(c, buf, (size_t)n) == -1) {
			free(buf);
			return -1;
		}
		off += n;
		len -= n;
	}
	free(buf);
	return 0;
}

/*
 * Close gracefully after an error with request bytes possibly still in
 * flight (RFC 9112 9.6): send FIN, then read and discard for a moment,
 * so that the kernel does not answer those bytes with a reset that could
 * destroy the response before the client reads it.
 */
void
conn_linger(struct conn *c)
{
	int64_t deadline = mono_ms() + 2000;
	size_t total = 0;

	if (c->tls != NULL)
		tls_end(c, !c->broken);	/* close_notify; then raw bytes */
	if (!c->in_socket || c->broken || c->eof)
		return;
	if (shutdown(c->out, SHUT_WR) == -1)
		return;
	while (total < 1024 * 1024) {
		ssize_t n;

		c->ilen = c->ipos = 0;
		if ((n = conn_fill(c, deadline)) <= 0)
			break;
		total += (size_t)n;
	}
}

/*
 * Cut the connection so that the peer sees an error (a reset), not an
 * end: a close-delimited body cut short would otherwise look complete.
 * Nothing more is sent, not even close_notify.  What was written first
 * (earlier pipelined responses, the cut body) is given the time to
 * reach the peer: a reset drops whatever the socket still queues.  The
 * wait ends when the queue is empty, when it makes no progress for a
 * second, or after send_timeout.
 */
void
conn_reset(struct conn *c)
{
	struct linger l = { 1, 0 };
	int64_t now = mono_ms(), stall = now + 1000;
	int64_t end = now + cfg.send_timeout * 1000;
	int q, last = -1;

	if (c->out_socket) {
		while (ioctl(c->out, SIOCOUTQ, &q) == 0 && q > 0 &&
		    (now = mono_ms()) < end && now < stall) {
			if (q != last) {
				last = q;
				stall = now + 1000;
			}
			(void)poll(NULL, 0, 10);
		}
		(void)setsockopt(c->out, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	c->broken = 1;
	c->closing = 1;
}
