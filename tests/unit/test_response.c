/*
 * test_response.c - src/response.c: the response state (a body written
 * in any phase makes it ready; ih_redirect; the head going out), the
 * framing (Content-Length, chunked, none for 1xx/204/304 however much is
 * written), the bytes the access log counts (what the connection took,
 * less head and chunk framing), the status it shows (444 when nothing of
 * a head got out; the sent status when a failure comes later), and error
 * pages written without the request arena.  The client end is a pipe
 * read back here.
 */
#include <fcntl.h>
#include <signal.h>

#include "internal.h"
#include "unit.h"

static struct arena A;
static struct conn C;
static struct ih_request R;
static char m_get[] = "GET", m_head[] = "HEAD", q[] = "";
static int cli = -1;		/* the client's end of the pipe */

static void
start(int version, char *method)
{
	int p[2], in;

	if (C.ibuf != NULL)
		conn_free(&C);
	if (cli != -1)
		close(cli);
	arena_reset(&A);
	memset(&R, 0, sizeof(R));
	if (pipe(p) == -1 || (in = open("/dev/null", O_RDONLY)) == -1 ||
	    conn_init(&C, in, p[1]) == -1) {
		perror("start");
		abort();
	}
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	fcntl(p[0], F_SETPIPE_SZ, 1 << 20);
	cli = p[0];
	R.c = &C;
	R.a = &A;
	R.hd.method = method;
	R.method_head = method == m_head;
	R.hd.query = q;
	R.hd.version = version;
	R.hd.clen = -1;
	R.body_done = 1;
	R.status = 200;
	R.is_handler = 1;
	C.nreq = 1;
}

/* Everything the "client" got so far, NUL-terminated, in buf. */
static size_t
got(char *buf, size_t cap)
{
	ssize_t n = read(cli, buf, cap - 1);

	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

static void
finish(void)
{
	close(C.in);
	close(C.out);
	conn_free(&C);
	memset(&C, 0, sizeof(C));
	close(cli);
	cli = -1;
}

int
main(void)
{
	static char big[40000], buf[200000];
	size_t n;

	signal(SIGPIPE, SIG_IGN);	/* as main.c: a gone client is EPIPE */
	memset(&cfg, 0, sizeof(cfg));
	cfg.max_header_size = 16384;
	cfg.keepalive_requests = 100;
	cfg.body_timeout = 5;
	cfg.body_min_rate = 2048;
	cfg.log_level = 0;
	memset(big, 'x', sizeof(big));

	/* A small body: RS_READY, then one Content-Length response. */
	start(11, m_get);
	CHECK_INT(R.rstate, RS_OPEN, "a new request is open");
	ih_puts(&R, "hello");
	CHECK_INT(R.rstate, RS_READY, "a body written: the response is made");
	CHECK_INT(resp_finish(&R), 0, "finished");
	CHECK_INT(R.rstate, RS_DONE, "...done");
	n = got(buf, sizeof(buf));
	CHECK(strstr(buf, "Content-Length: 5\r\n") != NULL &&
	    n >= 5 && memcmp(buf + n - 5, "hello", 5) == 0, "Content-Length "
	    "and the body in one piece");
	CHECK_INT(resp_body_bytes(&R), 5, "the log counts 5 body bytes");
	CHECK_INT(resp_log_status(&R), 200, "...status 200");

	/* A body past the buffer: chunked, the framing not counted. */
	start(11, m_get);
	ih_write(&R, big, sizeof(big));
	CHECK_INT(R.rstate, RS_STREAMING, "40000 bytes: the head went out");
	CHECK_INT(R.framing, FR_CHUNKED, "...chunked (HTTP/1.1)");
	resp_finish(&R);
	n = got(buf, sizeof(buf));
	CHECK(n > sizeof(big) && memcmp(buf + n - 5, "0\r\n\r\n", 5) == 0,
	    "...ends in the last chunk");
	CHECK_INT(resp_body_bytes(&R), sizeof(big), "the log counts the body, "
	    "not the chunk framing");

	/* HTTP/1.0: close-delimited. */
	start(10, m_get);
	ih_write(&R, big, sizeof(big));
	resp_finish(&R);
	CHECK(R.framing == FR_CLOSE && C.closing, "HTTP/1.0: close-delimited, "
	    "the connection closes");
	CHECK_INT(resp_body_bytes(&R), sizeof(big), "...every body byte "
	    "counted");
	got(buf, sizeof(buf));

	/* 304 and 204 never carry a body, however much is written. */
	start(11, m_get);
	ih_set_status(&R, 304);
	ih_write(&R, big, sizeof(big));
	resp_finish(&R);
	n = got(buf, sizeof(buf));
	CHECK(R.framing == FR_NOBODY && strstr(buf, "Transfer-Encoding") ==
	    NULL && strstr(buf, "Content-Length") == NULL && n > 4 &&
	    memcmp(buf + n - 4, "\r\n\r\n", 4) == 0, "304 with 40000 bytes "
	    "written: the head alone, no framing, no body");
	start(11, m_get);
	ih_set_status(&R, 204);
	ih_puts(&R, "x");
	resp_finish(&R);
	n = got(buf, sizeof(buf));
	CHECK(n > 4 && memcmp(buf + n - 4, "\r\n\r\n", 4) == 0 &&
	    strstr(buf, "Content-Length") == NULL, "204 with a byte written: "
	    "no body");

	/* HEAD: the GET's framing, no body. */
	start(11, m_head);
	ih_puts(&R, "hello");
	resp_finish(&R);
	n = got(buf, sizeof(buf));
	CHECK(strstr(buf, "Content-Length: 5\r\n") != NULL && n > 4 &&
	    memcmp(buf + n - 4, "\r\n\r\n", 4) == 0, "HEAD: Content-Length 5, "
	    "no body");
	CHECK_INT(resp_body_bytes(&R), 0, "...and 0 bytes logged");

	/* A redirect is a made response in whatever phase. */
	start(11, m_get);
	CHECK_INT(ih_redirect(&R, 301, "/x"), IH_PROCEED, "ih_redirect");
	CHECK_INT(R.rstate, RS_READY, "...the response is made");
	resp_finish(&R);
	got(buf, sizeof(buf));
	CHECK(strncmp(buf, "HTTP/1.1 301 ", 13) == 0 && strstr(buf,
	    "Location: /x\r\n") != NULL, "...301 with Location");

	/* A failure after the head went out: the sent status stands. */
	start(11, m_get);
	ih_write(&R, big, sizeof(big));
	resp_set_error(&R, 408, "body stalled");
	CHECK_INT(R.status, 200, "an error after the head: the status sent "
	    "stays (the log shows what the client got)");
	CHECK_INT(R.late_status, 408, "...the failure is kept apart");
	resp_error_page(&R, 408);
	CHECK(R.rstate == RS_DROPPED && C.closing, "...the response is cut, "
	    "the connection closes");
	CHECK_INT(resp_log_status(&R), 200, "...logged 200 with what went");
	CHECK(resp_body_bytes(&R) > 0 && resp_body_bytes(&R) <= sizeof(big),
	    "...and the bytes that went");
	got(buf, sizeof(buf));

	/* Dropped before anything: 444. */
	start(11, m_get);
	resp_drop(&R);
	CHECK_INT(resp_log_status(&R), 444, "dropped before a head: 444");
	CHECK_INT(resp_body_bytes(&R), 0, "...no bytes");

	/* A head that the connection never took: 444 too. */
	start(11, m_get);
	close(cli);
	cli = -1;
	ih_puts(&R, "hello");
	CHECK_INT(resp_finish(&R), -1, "the client gone: the write fails");
	CHECK_INT(resp_log_status(&R), 444, "...nothing reached it: 444, "
	    "never 200");
	finish();

	/* An error page needs nothing from the arena. */
	start(11, m_get);
	while (arena_alloc(&A, ARENA_BLOCK) != NULL)
		;
	resp_set_error(&R, 500, "arena full");
	resp_error_page(&R, 500);
	got(buf, sizeof(buf));
	CHECK(strncmp(buf, "HTTP/1.1 500 ", 13) == 0 && strstr(buf,
	    "<h1>500 Internal Server Error</h1>") != NULL, "a full arena: "
	    "the error page still goes out whole");

	/* Header values: control bytes refused, the owned headers too. */
	start(11, m_get);
	CHECK_INT(ih_add_header(&R, "X-A", "a\r\nb"), -1, "CR/LF in a value: "
	    "refused");
	CHECK_INT(ih_add_header(&R, "Content-Length", "5"), -1, "an owned "
	    "header: refused");
	CHECK_INT(ih_add_header(&R, "X-Ok", "fine"), 0, "a plain header");
	memset(buf, 't', TYPE_MAX + 1);
	buf[TYPE_MAX + 1] = '\0';
	CHECK_INT(ih_set_type(&R, buf), -1, "a Content-Type over TYPE_MAX: "
	    "refused");
	finish();

	arena_reset(&A);
	free(A.head);
	return unit_done();
}
