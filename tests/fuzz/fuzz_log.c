/*
 * fuzz_log.c - libFuzzer driver for src/log.c alone.  The input is split
 * at NUL bytes into the fields a client controls: peer, user, request
 * line, Referer, User-Agent and an error-log message; two bytes give the
 * status and body bytes.  Each is logged through the real targets (the
 * access and error logs are memfds opened by path), read back and
 * checked: exactly one line, shorter than 4 KiB, printable ASCII only,
 * and for the access log the whole combined format: nine fields, the
 * three quoted ones closed, status and bytes where they belong.  The
 * values sit in exact-size heap copies, so an over-read is caught.
 */
#include <sys/mman.h>

#include <fcntl.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int acc_fd = -1, err_fd = -1;
static regex_t line_re;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char acc_path[64], err_path[64];

	(void)argc;
	(void)argv;
	memset(&cfg, 0, sizeof(cfg));
	if ((acc_fd = memfd_create("acc", 0)) == -1 ||
	    (err_fd = memfd_create("err", 0)) == -1)
		abort();
	snprintf(acc_path, sizeof(acc_path), "/proc/self/fd/%d", acc_fd);
	snprintf(err_path, sizeof(err_path), "/proc/self/fd/%d", err_fd);
	cfg.access_log = acc_path;
	cfg.error_log = err_path;
	cfg.debug_log = err_path;
	cfg.debug = IH_DBG_ALL;
	cfg.log_level = 4;
	if (log_open(0) == -1)
		abort();
	/* peer - user [date] "request" status bytes "referer" "agent" */
	if (regcomp(&line_re, "^[!-~]+ - [!-~]+ \\[[0-9]{2}/[A-Z][a-z]{2}/"
	    "[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} \\+0000\\] \"[^\"]*\" "
	    "[0-9]{3} ([0-9]+|-) \"[^\"]*\" \"[^\"]*\"\n$", REG_EXTENDED |
	    REG_NOSUB) != 0)
		abort();
	return 0;
}

/* The next NUL-separated field as an exact-size copy (NULL at the end). */
static char *
field(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nul;
	size_t n;
	char *s;

	if (*p >= end)
		return NULL;
	nul = memchr(*p, '\0', (size_t)(end - *p));
	n = nul != NULL ? (size_t)(nul - *p) : (size_t)(end - *p);
	if ((s = malloc(n + 1)) == NULL)
		abort();
	memcpy(s, *p, n);
	s[n] = '\0';
	*p += n + (nul != NULL);
	return s;
}

/* Read back what fd holds, check it is one printable line, reset it. */
static void
one_line(int fd, regex_t *re)
{
	char buf[8192];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	ssize_t i;

	if (n <= 0 || n >= 4096 || buf[n - 1] != '\n')
		abort();
	for (i = 0; i < n - 1; i++)
		if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] > 0x7e)
			abort();
	buf[n] = '\0';
	if (re != NULL && regexec(re, buf, 0, NULL, 0) != 0)
		abort();
	if (ftruncate(fd, 0) == -1)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data + (size >= 2 ? 2 : size), *end = data + size;
	char *peer = field(&p, end), *user = field(&p, end);
	char *reqline = field(&p, end), *referer = field(&p, end);
	char *agent = field(&p, end), *msg = field(&p, end);
	static char n_ref[] = "Referer", n_ua[] = "User-Agent";
	struct header h[2];
	struct ih_request r;
	struct conn c;

	memset(&r, 0, sizeof(r));
	memset(&c, 0, sizeof(c));
	snprintf(c.peer, sizeof(c.peer), "%s", peer != NULL ? peer : "");
	r.c = &c;
	r.remote_user = user;
	r.reqline = reqline;
	r.status = size >= 1 ? 100 + data[0] % 500 : 200;
	r.t_start = (time_t)(size >= 2 ? data[1] : 0) * 86400 * 97;
	r.hd.h = h;
	h[0].name = n_ref;
	h[0].value = referer;
	h[1].name = n_ua;
	h[1].value = agent;
	r.hd.nh = (referer != NULL) + (agent != NULL);
	r.hd.referer = referer;		/* as http_parse_head records them */
	r.hd.user_agent = agent;
	if (agent != NULL && referer == NULL)
		abort();	/* field() hands them out in order */
	/* A response "sent": the body bytes come from the connection. */
	if (size >= 2 && data[1] & 1) {
		r.head_len = 100;
		r.rstate = RS_DONE;
		c.bytes_out = 100 + (unsigned long long)data[0] * 1000003ULL;
	}
	log_access(&r);
	one_line(acc_fd, &line_re);
	if (msg != NULL) {
		ih_log(IH_LOG_NOTICE, "%s: %s", conn_who(&c), msg);
		one_line(err_fd, NULL);
		ih_debug(IH_DBG_REQ, "%s", msg);
		one_line(err_fd, NULL);
	}
	free(peer);
	free(user);
	free(reqline);
	free(referer);
	free(agent);
	free(msg);
	return 0;
}
