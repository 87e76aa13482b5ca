/*
 * Bench driver: spawns servers that answer one request over a pipe and
 * measures each spawn (fork, exec, write the request, read the response
 * to EOF, wait4).  Not part of ihttpd; built by tests/bench/percall.sh.
 *
 *   spawn port
 *	print a free TCP port on 127.0.0.1 (bound to port 0, then closed)
 *   spawn check REQFILE BODYLEN PROG ARG...
 *	run PROG once; print "STATUS BODYLEN BYTES"; exit 0 when the
 *	status is 200 and the body (after the blank line) is BODYLEN bytes
 *   spawn time N REQFILE LISTFILE
 *	LISTFILE: one server a line, "NAME<TAB>PROG<TAB>ARG...".  Runs the
 *	servers round-robin N times each (so drifting machine load hits all
 *	of them alike) and prints per server
 *	"NAME WALL_US CPU_US MINFLT BYTES": medians of wall time, user+sys
 *	time and minor faults of the child, and its last response size.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXSRV	32
#define MAXARG	64
#define MAXRESP	(1 << 20)

struct sample {
	double	wall_us;
	double	cpu_us;
	long	minflt;
};

static char	req[65536];
static size_t	reqlen;
static char	resp[MAXRESP];

static void
die(const char *what)
{
	perror(what);
	exit(2);
}

static void
read_req(const char *path)
{
	int	fd;
	ssize_t	n;

	if ((fd = open(path, O_RDONLY)) == -1)
		die(path);
	while ((n = read(fd, req + reqlen, sizeof(req) - reqlen)) > 0)
		reqlen += (size_t)n;
	if (n == -1)
		die("read");
	close(fd);
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/*
 * One spawn of argv: the request on a pipe as stdin, stdout a pipe read to
 * EOF into resp, stderr /dev/null.  Returns the response length, -1 when
 * the child could not run or did not exit 0.
 */
static ssize_t
run_once(char *const argv[], struct sample *s)
{
	int	in[2], out[2], status, devnull;
	pid_t	pid;
	size_t	got = 0;
	ssize_t	n;
	double	t0;
	struct rusage ru;

	if (pipe(in) == -1 || pipe(out) == -1)
		die("pipe");
	t0 = now_us();
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		devnull = open("/dev/null", O_WRONLY);
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(devnull, 2);
		close(in[0]); close(in[1]); close(out[0]); close(out[1]);
		close(devnull);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	/* A response larger than the pipe buffer is fine: the request is
	 * small enough to fit in the request pipe before anything is read. */
	if (write(in[1], req, reqlen) != (ssize_t)reqlen && errno != EPIPE)
		die("write");
	close(in[1]);
	for (;;) {
		n = read(out[0], resp + got, sizeof(resp) - got);
		if (n > 0 && (got += (size_t)n) < sizeof(resp))
			continue;
		if (n == -1 && errno == EINTR)
			continue;
		break;
	}
	close(out[0]);
	if (wait4(pid, &status, 0, &ru) == -1)
		die("wait4");
	s->wall_us = now_us() - t0;
	s->cpu_us = ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec +
	    ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec;
	s->minflt = ru.ru_minflt;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return (ssize_t)got;
}

static int
check(int argc, char **argv)
{
	struct sample s;
	ssize_t	n;
	long	want, status = 0, body = -1;
	char	*p;

	if (argc < 5)
		return 2;
	read_req(argv[2]);
	want = strtol(argv[3], NULL, 10);
	n = run_once(argv + 4, &s);
	if (n >= 12 && strncmp(resp, "HTTP/1.", 7) == 0)
		status = strtol(resp + 9, NULL, 10);
	if (n > 0 && (p = memmem(resp, (size_t)n, "\r\n\r\n", 4)) != NULL)
		body = (long)(resp + n - (p + 4));
	printf("%ld %ld %ld\n", status, body, (long)n);
	return status == 200 && body == want ? 0 : 1;
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int
timing(int argc, char **argv)
{
	static char	line[MAXSRV][4096];
	static char	*args[MAXSRV][MAXARG + 1];
	static double	wall[MAXSRV][10000], cpu[MAXSRV][10000], flt[MAXSRV][10000];
	static ssize_t	bytes[MAXSRV];
	struct sample	s;
	FILE	*f;
	int	nsrv = 0, n, i, j, k;
	char	*p;

	if (argc != 5)
		return 2;
	n = atoi(argv[2]);
	if (n < 1 || n > 10000)
		return 2;
	read_req(argv[3]);
	if ((f = fopen(argv[4], "r")) == NULL)
		die(argv[4]);
	while (nsrv < MAXSRV && fgets(line[nsrv], sizeof(line[0]), f)) {
		line[nsrv][strcspn(line[nsrv], "\n")] = '\0';
		if (line[nsrv][0] == '\0')
			continue;
		k = 0;
		for (p = strtok(line[nsrv], "\t"); p && k < MAXARG;
		    p = strtok(NULL, "\t"))
			args[nsrv][k++] = p;
		args[nsrv][k] = NULL;
		if (k >= 2)
			nsrv++;
	}
	fclose(f);
	for (i = 0; i < n; i++)
		for (j = 0; j < nsrv; j++) {
			bytes[j] = run_once(args[j] + 1, &s);
			wall[j][i] = s.wall_us;
			cpu[j][i] = s.cpu_us;
			flt[j][i] = (double)s.minflt;
		}
	for (j = 0; j < nsrv; j++)
		printf("%s %.0f %.0f %.0f %ld\n", args[j][0], median(wall[j], n),
		    median(cpu[j], n), median(flt[j], n), (long)bytes[j]);
	return 0;
}

static int
port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int	fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		die("socket");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		die("bind");
	printf("%d\n", ntohs(sin.sin_port));
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && strcmp(argv[1], "port") == 0)
		return port();
	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return check(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "time") == 0)
		return timing(argc, argv);
	fprintf(stderr, "usage: spawn port | check REQ LEN PROG ARG... | "
	    "time N REQ LIST\n");
	return 2;
}
