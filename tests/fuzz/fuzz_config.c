/*
 * fuzz_config.c - libFuzzer driver for the config loader.  The input is
 * written to a memfd and loaded with `-c /proc/self/fd/N`; an input whose
 * first byte is 0x01 has its first line split on spaces into extra
 * command-line options.  After a successful load every object is matched
 * against a few paths (regex objects only through the literal fast path:
 * the aim is this code, not the libc regex engine), then config_free()
 * and a zeroed cfg leave nothing behind for the next run (LeakSanitizer
 * checks).  Errors are logged to stderr: run with -close_fd_mask=3.
 */
#include <sys/mman.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int LLVMFuzzerInitialize(int *, char ***);

static int mfd = -1;
static char path[64];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if ((mfd = memfd_create("fuzz_config", 0)) == -1) {
		perror("memfd_create");
		abort();
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = { "/", "/a", "/a/b", "/x.news",
	    "/hello", "/old/x", "/foo/bar/" };
	char *argv[16], *line = NULL;
	size_t i, j;
	int argc = 0, check_only, rc;

	argv[argc++] = strdup("ihttpd");
	if (size > 0 && data[0] == 0x01) {
		const uint8_t *nl = memchr(data, '\n', size);
		size_t ll = nl != NULL ? (size_t)(nl - data) : size;
		char *tok, *save;

		line = malloc(ll);
		memcpy(line, data + 1, ll - 1);
		line[ll - 1] = '\0';
		for (tok = strtok_r(line, " ", &save); tok != NULL &&
		    argc < 12; tok = strtok_r(NULL, " ", &save))
			argv[argc++] = strdup(tok);
		data += nl != NULL ? ll + 1 : ll;
		size -= nl != NULL ? ll + 1 : ll;
	}
	argv[argc++] = strdup("-c");
	argv[argc++] = strdup(path);
	argv[argc] = NULL;

	if (ftruncate(mfd, 0) == -1 || (size > 0 &&
	    pwrite(mfd, data, size, 0) != (ssize_t)size))
		abort();
	memset(&cfg, 0, sizeof(cfg));
	rc = config_load(argc, argv, &check_only);
	if (rc == 0) {
		for (i = 0; i < cfg.nobjs; i++) {
			struct object *o = &cfg.objs[i];

			if (o->pattern == NULL || (o->kind != OBJ_REGEX &&
			    o->pattern[0] != '/'))
				abort();
			if (i > 0 && o->kind == OBJ_PPATH &&
			    cfg.objs[i - 1].kind == OBJ_PPATH &&
			    cfg.objs[i - 1].litlen < o->litlen)
				abort();	/* longest literal prefix first */
			if (o->kind == OBJ_REGEX && o->re_state == 0)
				o->re_state = 3;	/* no regcomp */
			for (j = 0; j < o->ndirs; j++)
				if (o->dirs[j].fn == NULL ||
				    (o->dirs[j].fn->phases &
				    IH_PH(o->dirs[j].phase)) == 0)
					abort();
		}
		for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
			struct ih_request r;

			memset(&r, 0, sizeof(r));
			r.path = (char *)(uintptr_t)paths[i];
			pipeline_match(&r);
		}
	}
	config_free();
	memset(&cfg, 0, sizeof(cfg));
	for (i = 0; i < (size_t)argc; i++)
		free(argv[i]);
	free(line);
	return 0;
}
