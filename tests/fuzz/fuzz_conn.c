/*
 * fuzz_conn.c - libFuzzer driver for a whole connection: the input bytes
 * are what a client sends, run through serve_connection with the demo
 * config (conf/ihttpd.conf: files, listings, precompressed variants,
 * libmagic, error_page, every demo handler, Digest over demo-users,
 * sessions, uploads).  The access log, the error log at debug level and
 * every debug zone are on, written to /dev/null, so the logger, the
 * response writer and the phases all run on hostile input.
 *
 * The input sits in a memfd, so every read is ready at once and EOF ends
 * the connection: no deadline is ever waited for.  State that lives in
 * datadir (the Digest secret and nonce table, sessions, spools) is in a
 * private directory under /dev/shm (or /tmp), and sessions are bounded
 * so the store stays small however long the run.  run.sh starts the
 * drivers in the repository root, where the demo's relative paths hold.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int devnull = -1;
static char *state_dir;

/* The private datadir goes when the run ends (libFuzzer exits). */
static void
remove_state(void)
{
	char cmd[256];

	if (state_dir != NULL && (size_t)snprintf(cmd, sizeof(cmd),
	    "rm -rf '%s'", state_dir) < sizeof(cmd))
		(void)system(cmd);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char datadir[] = "/dev/shm/ihttpd-fuzz-conn.XXXXXX";
	static char tmpdir[] = "/tmp/ihttpd-fuzz-conn.XXXXXX";
	char *dir = mkdtemp(datadir) != NULL ? datadir : mkdtemp(tmpdir);
	char *args[] = {
		(char *)(uintptr_t)"ihttpd", (char *)(uintptr_t)"-c",
		(char *)(uintptr_t)"conf/ihttpd.conf",
		(char *)(uintptr_t)"--access_log", (char *)(uintptr_t)"/dev/null",
		(char *)(uintptr_t)"--error_log", (char *)(uintptr_t)"/dev/null",
		(char *)(uintptr_t)"--log_level", (char *)(uintptr_t)"4",
		(char *)(uintptr_t)"--debug", (char *)(uintptr_t)"ALL",
		(char *)(uintptr_t)"--debug_log", (char *)(uintptr_t)"/dev/null",
		(char *)(uintptr_t)"--datadir", dir,
		(char *)(uintptr_t)"--max_sessions", (char *)(uintptr_t)"64",
		(char *)(uintptr_t)"--session_ttl", (char *)(uintptr_t)"10",
		(char *)(uintptr_t)"--lock_timeout", (char *)(uintptr_t)"1",
		(char *)(uintptr_t)"--header_timeout", (char *)(uintptr_t)"1",
		(char *)(uintptr_t)"--body_timeout", (char *)(uintptr_t)"1",
		(char *)(uintptr_t)"--keepalive_timeout", (char *)(uintptr_t)"1",
		(char *)(uintptr_t)"--max_body", (char *)(uintptr_t)"64k",
		NULL };
	int check_only;

	(void)argc;
	(void)argv;
	if (dir == NULL)
		abort();
	state_dir = dir;
	atexit(remove_state);
	if (config_load((int)(sizeof(args) / sizeof(args[0])) - 1, args,
	    &check_only) != 0 || log_open(0) == -1) {
		fprintf(stderr, "fuzz_conn: run from the repository root\n");
		abort();
	}
	if ((devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int in = memfd_create("fuzz-conn", MFD_CLOEXEC);

	if (in == -1)
		abort();
	if (size > 0 && write_full(in, data, size) != (ssize_t)size)
		abort();
	if (lseek(in, 0, SEEK_SET) != 0)
		abort();
	serve_connection(in, devnull);
	close(in);
	return 0;
}
