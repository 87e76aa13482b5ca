/*
 * The floor row of percall.sh: the least a static inetd-style server can
 * do for `GET /index.html` (read the head, open the one file named by
 * argv[1], send head and body in one writev).  No parsing, no config, no
 * checks: it shows what process creation alone costs next to ihttpd.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	static char	in[8192], body[65536];
	char		head[128];
	struct iovec	iov[2];
	ssize_t		n, got = 0;
	int		fd;

	if (argc != 2)
		return 2;
	while ((n = read(0, in + got, sizeof(in) - 1 - (size_t)got)) > 0) {
		got += n;
		in[got] = '\0';
		if (strstr(in, "\r\n\r\n"))
			break;
	}
	if ((fd = open(argv[1], O_RDONLY)) == -1)
		return 1;
	if ((n = read(fd, body, sizeof(body))) < 0)
		return 1;
	iov[0].iov_base = head;
	iov[0].iov_len = (size_t)snprintf(head, sizeof(head),
	    "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n"
	    "Content-Length: %zd\r\n\r\n", n);
	iov[1].iov_base = body;
	iov[1].iov_len = (size_t)n;
	return writev(1, iov, 2) < 0;
}
