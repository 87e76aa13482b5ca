/*
 * main.c - start-up.  The process serves the one connection on fds 0/1
 * (inetd, tcpserver, systemd Accept=yes) or the requests piped to stdin
 * through serve_connection (serve.c), and exits; or, standalone (or with
 * a listening socket passed in), it becomes the daemon of daemon.c.  Start-up does only
 * what every request needs: the config is read, nothing else is opened
 * until a request asks.
 */
#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

int
main(int argc, char **argv)
{
	int check_only, rc;

	signal(SIGPIPE, SIG_IGN);
	rc = config_load(argc, argv, &check_only);
	if (rc == 1)
		return 0;
	if (rc == -1) {
		config_free();
		return 1;
	}
	if (log_open(check_only) == -1)
		rc = -1;
	if (cfgcache_source() != NULL)
		ih_debug(IH_DBG_INIT, "config: from %s", cfgcache_source());
	if (check_only) {
		if (rc == -1 || config_check() + daemon_check() +
		    tls_check() > 0) {
			config_free();
			return 1;
		}
		printf("%s: configuration OK\n", cfg.file != NULL ? cfg.file :
		    "built-in defaults");
		config_free();
		return 0;
	}
	if (rc == -1)
		return 1;
	clock_setup();
	if (daemon_wanted()) {
		rc = daemon_run(argc, argv);
		log_close();
		config_free();
		return rc;
	}
	/* OpenSSL is initialised only when TLS is on */
	if (cfg.tls) {
		if (tls_setup(1) == -1) {
			log_close();
			config_free();
			return 1;
		}
		(void)tls_tickets_refresh();
		serve_tls = 1;
	}
	serve_proxy = (int)cfg.proxy_protocol;
	run_inits();
	if (stdio_type(0) == S_IFCHR && isatty(0))
		fprintf(stderr, "ihttpd: reading a request from the terminal "
		    "(type it, end with an empty line; Ctrl-D ends)\n");
	serve_connection(0, 1);
	tls_cleanup();
	mime_free();
	cgi_cleanup();
	acl_cleanup();
	log_close();
	config_free();
	return 0;
}
