/*
 * cgi.c - CGI/1.1 (RFC 3875): `Service fn=cgi [dir=DIR]`.
 *
 * The script is found through the same confinement as files (files.c):
 * beneath DIR for a ppath object with dir=, beneath docroot otherwise.
 * The descriptor confinement returned is the one executed (execveat with
 * AT_EMPTY_PATH), so nothing can swap the file between the checks and
 * the exec; no shell is involved.  The request body is spooled first
 * (section 4.1.2 needs CONTENT_LENGTH, and a file cannot deadlock
 * against a script that answers before it reads), the environment is
 * built from nothing (section 4.1), argv follows section 4.4.
 *
 * The script's output is parsed as CGI header fields (section 6.3) with
 * the server's rules and its body streamed through the response layer
 * (Content-Length, chunked or close-delimited); `nph-` scripts write the
 * response raw (section 5).  stderr becomes error-log lines.  The script
 * runs in its own session; it is killed with its whole process group
 * when it goes cgi_timeout seconds without output, and whatever is left
 * of the group when the request ends is killed before the script is
 * reaped (so the group's id cannot have been reused).  The script is
 * waited for by its pid only: no other waiter's child is reaped here.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "internal.h"

#define CGI_READ	65536	/* bytes of script output read at a time */
#define CGI_LINE	1024	/* a stderr line longer than this is split */
#define CGI_KILL_GRACE	1000	/* ms between TERM and KILL */

struct cgi {
	struct ih_request *r;
	const char	*name;		/* SCRIPT_NAME, for the log */
	pid_t		 pid;
	int		 pidfd;		/* -1: waitid is polled instead */
	int		 out, err;	/* the script's stdout and stderr */
	int		 exited, wstatus;
	/* the header block */
	char		*hbuf;
	size_t		 hlen;
	/* stderr, as lines */
	char		 eline[CGI_LINE];
	size_t		 elen;
	size_t		 elogged;
	int		 edropped;
	/* the body */
	long long	 clen;		/* the script's Content-Length, or -1 */
	long long	 sent;
};

/* ---- finding the script ---------------------------------------------- */

struct script {
	int		 fd;		/* the script, opened beneath base */
	int		 dirfd;		/* its directory */
	const char	*name;		/* SCRIPT_NAME */
	const char	*file;		/* SCRIPT_FILENAME */
	const char	*path_info;	/* "" when none */
	const char	*base;		/* the script's file name */
	int		 shebang;	/* starts with "#!" */
};

/*
 * The directories scripts run from (each dir=, and docroot): opened and
 * named absolutely once, before a chroot or a change of user in a
 * daemon (cgi_preload), on first use in inetd mode.
 */
struct cgidir {
	const char	*dir;		/* as configured */
	int		 fd;		/* O_PATH */
	char		*abs;		/* realpath, for the environment */
};

static struct cgidir *dirs;
static size_t ndirs;

/* The entry for dir, opened on first use; NULL with errno. */
static const struct cgidir *
dir_get(const char *dir)
{
	char buf[PATH_MAX];
	struct cgidir *d;
	size_t i;

	for (i = 0; i < ndirs; i++)
		if (strcmp(dirs[i].dir, dir) == 0)
			return &dirs[i];
	if ((d = realloc(dirs, (ndirs + 1) * sizeof(*d))) == NULL)
		return NULL;
	dirs = d;
	d = &dirs[ndirs];
	if (realpath(dir, buf) == NULL || (d->abs = strdup(buf)) == NULL)
		return NULL;
	if ((d->fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1) {
		free(d->abs);
		return NULL;
	}
	d->dir = dir;
	ndirs++;
	return d;
}

static int devnull = -1;	/* a body-less script's stdin */
static int subreaper;		/* 1 this process is one, -1 not, 0 unknown */
static volatile pid_t cgi_running;	/* the running script's group */

/*
 * A worker told to stop (TERM, INT) kills the running script's whole
 * group first: the script has its own session, so nothing else would.
 * Async-signal-safe.
 */
void
cgi_abort(void)
{
	if (cgi_running > 0)
		(void)kill(-cgi_running, SIGKILL);
}

static int
devnull_fd(void)
{
	if (devnull == -1)
		devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return devnull;
}

static int cgi_service(struct ih_request *, const struct ih_args *);

/* Is d a Service fn=cgi directive? */
int
cgi_is(const struct directive *d)
{
	return d->fn->fn == cgi_service;
}

/*
 * The next fn=cgi directive of the config after it (it starts zeroed),
 * with *obj (if not NULL) its object; NULL after the last.
 */
const struct directive *
cgi_next(struct cgi_iter *it, const struct object **obj)
{
	for (; it->obj < cfg.nobjs; it->obj++, it->dir = 0)
		while (it->dir < cfg.objs[it->obj].ndirs) {
			const struct directive *d =
			    &cfg.objs[it->obj].dirs[it->dir++];

			if (cgi_is(d)) {
				if (obj != NULL)
					*obj = &cfg.objs[it->obj];
				return d;
			}
		}
	return NULL;
}

/*
 * Open every CGI directory the config names (a daemon, before forking),
 * and /dev/null (a chroot need not hold it).  Under a chroot the
 * directories are opened from inside it instead (daemon.c checked that
 * they are there): one opened outside would let a script walk out.
 */
void
cgi_preload(void)
{
	struct cgi_iter it = { 0, 0 };
	const struct directive *d;

	(void)devnull_fd();
	if (cfg.chroot != NULL)
		return;
	while ((d = cgi_next(&it, NULL)) != NULL) {
		const char *dir = ih_arg(&d->args, "dir");

		if ((dir != NULL && dir_get(dir) == NULL) ||
		    dir_get(cfg.docroot) == NULL)
			ih_log(IH_LOG_ERR, "%s:%d: cgi: %s: %s", d->file,
			    d->line, dir != NULL ? dir : cfg.docroot,
			    strerror(errno));
	}
}

void
cgi_cleanup(void)
{
	size_t i;

	for (i = 0; i < ndirs; i++) {
		close(dirs[i].fd);
		free(dirs[i].abs);
	}
	free(dirs);
	dirs = NULL;
	ndirs = 0;
	if (devnull != -1)
		close(devnull);
	devnull = -1;
}

/* Refuse what suEXEC would: a file or directory others may write. */
static int
strict_ok(const struct stat *st)
{
	return !cfg.cgi_strict || (st->st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

/*
 * cgi_strict and symbolic links: the directory that really holds the
 * opened file (a link may point into another) must not be writable by
 * others either.  Without /proc (a chroot) a script reached through a
 * link in its last component is refused instead.  1 ok, 0 refused.
 */
static int
real_dir_ok(const struct script *s)
{
	char proc[64], real[PATH_MAX], *slash;
	struct stat st;
	ssize_t n;

	if (!cfg.cgi_strict)
		return 1;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", s->fd);
	if ((n = readlink(proc, real, sizeof(real) - 1)) <= 0)
		return fstatat(s->dirfd, s->base, &st, AT_SYMLINK_NOFOLLOW) ==
		    0 && !S_ISLNK(st.st_mode);
	real[n] = '\0';
	if ((slash = strrchr(real, '/')) == NULL)
		return 0;
	*slash = '\0';
	return stat(*real != '\0' ? real : "/", &st) == 0 && strict_ok(&st);
}

/*
 * Find and open the script for r.  0 with s filled, or an HTTP status
 * (404, 403, 500) with *why set.
 */
static int
find_script(struct ih_request *r, const char *dir, struct script *s,
    const char **why)
{
	struct stat st, ds;
	const struct cgidir *cd;
	const char *rel, *seg;
	char *parent, *slash;
	int base = -1;
	char magic[2];

	memset(s, 0, sizeof(*s));
	s->fd = s->dirfd = -1;
	s->path_info = "";
	if (files_is_dotfile(r->path)) {
		*why = "dot-file refused";
		return 404;
	}
	if (dir != NULL) {
		const struct object *o = r->cur_obj;
		size_t plen = o != NULL && o->kind == OBJ_PPATH && !o->wild ?
		    o->plen : 0;

		if (plen == 0) {
			*why = "cgi dir= outside a plain ppath object";
			return 500;
		}
		while (plen > 1 && o->pattern[plen - 1] == '/')
			plen--;
		rel = r->path + (plen > 1 ? plen : 0);
		if (*rel == '/')
			rel++;
		seg = rel;
		if (*seg == '\0') {
			*why = "no script named below the CGI prefix";
			return 403;
		}
		rel = seg + strcspn(seg, "/");
		s->path_info = rel;
		s->name = arena_strndup(r->a, r->path, (size_t)(rel - r->path));
		s->base = arena_strndup(r->a, seg, (size_t)(rel - seg));
		if ((cd = dir_get(dir)) == NULL) {
			*why = "cannot open the cgi dir";
			return 500;
		}
		if (s->name == NULL || s->base == NULL) {
			*why = "out of memory";
			return 500;
		}
		base = cd->fd;
		s->file = arena_printf(r->a, "%s/%s", cd->abs, s->base);
		s->dirfd = openat(base, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
		s->fd = files_open_at(base, s->base, O_RDONLY | O_NONBLOCK);
	} else {
		if (r->file == NULL || *r->file == '\0' || r->hd.asterisk) {
			*why = "no script mapped";
			return 404;
		}
		if ((base = files_open_docroot()) == -1 ||
		    (cd = dir_get(cfg.docroot)) == NULL) {
			*why = "cannot open docroot";
			return 500;
		}
		s->name = r->path;
		slash = strrchr(r->file, '/');
		s->base = slash != NULL ? slash + 1 : r->file;
		parent = arena_strndup(r->a, r->file, slash != NULL ?
		    (size_t)(slash - r->file) : 0);
		s->file = arena_printf(r->a, "%s/%s", cd->abs, r->file);
		if (parent == NULL || s->file == NULL) {
			*why = "out of memory";
			return 500;
		}
		s->dirfd = files_open_at(base, parent, O_RDONLY | O_DIRECTORY);
		s->fd = files_open_at(base, r->file, O_RDONLY | O_NONBLOCK);
	}
	if (s->file == NULL) {
		*why = "out of memory";
		return 500;
	}
	if (s->fd == -1)
		return files_open_status(errno, why);
	if (s->dirfd == -1) {
		*why = "cannot open the script's directory";
		return 500;
	}
	if (fstat(s->fd, &st) == -1 || fstat(s->dirfd, &ds) == -1) {
		*why = "fstat failed";
		return 500;
	}
	if (!S_ISREG(st.st_mode)) {
		*why = "script is not a regular file";
		return 403;
	}
	if ((st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)) == 0) {
		*why = "script is not executable";
		return 403;
	}
	if (!strict_ok(&st) || !strict_ok(&ds) || !real_dir_ok(s)) {
		*why = "script or its directory is group- or world-writable "
		    "(cgi_strict)";
		return 403;
	}
	s->shebang = pread(s->fd, magic, 2, 0) == 2 && magic[0] == '#' &&
	    magic[1] == '!';
	return 0;
}

static void
script_close(struct script *s)
{
	if (s->fd != -1)
		close(s->fd);
	if (s->dirfd != -1)
		close(s->dirfd);
	s->fd = s->dirfd = -1;
}

/* ---- environment and arguments --------------------------------------- */

struct strv {
	char		**v;
	size_t		 n, cap;
};

static int
strv_add(struct arena *a, struct strv *l, char *s)
{
	if (s == NULL)
		return -1;
	if (l->n + 2 > l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 64;
		char **nv = arena_alloc(a, ncap * sizeof(*nv));

		if (nv == NULL)
			return -1;
		if (l->n > 0)
			memcpy(nv, l->v, l->n * sizeof(*nv));
		l->v = nv;
		l->cap = ncap;
	}
	l->v[l->n++] = s;
	l->v[l->n] = NULL;
	return 0;
}

static int
env_set(struct arena *a, struct strv *e, const char *k, const char *v)
{
	return strv_add(a, e, arena_printf(a, "%s=%s", k, v));
}

/*
 * A request header as an HTTP_ variable (RFC 3875 4.1.18), or NULL when
 * it is not passed: Proxy (httpoxy), the two that have their own
 * variables, credentials the server checked itself, and any name with a
 * byte other than a letter, digit or '-' (an '_' would let X_Y pose as
 * X-Y, as nginx and Apache also refuse).
 */
char *
cgi_http_var(struct ih_request *r, const char *name)
{
	const char *p;
	char *v, *q;

	for (p = name; *p != '\0'; p++)
		if (!(*p == '-' || (*p >= '0' && *p <= '9') ||
		    (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			return NULL;
	if (strcasecmp(name, "Proxy") == 0 ||
	    strcasecmp(name, "Content-Type") == 0 ||
	    strcasecmp(name, "Content-Length") == 0 ||
	    ((r->auth_type != NULL || r->creds_seen) &&
	    strcasecmp(name, "Authorization") == 0))
		return NULL;
	if ((v = arena_printf(r->a, "HTTP_%s", name)) == NULL)
		return NULL;
	for (q = v + 5; *q != '\0'; q++)
		*q = *q == '-' ? '_' : (*q >= 'a' && *q <= 'z') ?
		    (char)(*q - 'a' + 'A') : *q;
	return v;
}

/* The HTTP_ variables; repeated fields joined (", ", Cookie "; "). */
static int
env_headers(struct ih_request *r, struct strv *e)
{
	size_t i, first = e->n, j;

	for (i = 0; i < (size_t)r->hd.nh; i++) {
		const char *name = r->hd.h[i].name, *val = r->hd.h[i].value;
		char *k = cgi_http_var(r, name);
		size_t kl;

		if (k == NULL)
			continue;
		kl = strlen(k);
		for (j = first; j < e->n; j++)
			if (strncmp(e->v[j], k, kl) == 0 && e->v[j][kl] == '=')
				break;
		if (j < e->n) {
			e->v[j] = arena_printf(r->a, "%s%s%s", e->v[j],
			    strcasecmp(name, "Cookie") == 0 ? "; " : ", ", val);
			if (e->v[j] == NULL)
				return -1;
		} else if (env_set(r->a, e, k, val) == -1)
			return -1;
	}
	return 0;
}

/* Skip the server's own copies that the CGI values replace. */
static int
replaced(const char *k)
{
	return strcmp(k, "SCRIPT_NAME") == 0 || strcmp(k, "DOCUMENT_ROOT") ==
	    0 || strcmp(k, "CONTENT_LENGTH") == 0;
}

static int
build_env(struct ih_request *r, const struct script *s, long long body_len,
    struct strv *e)
{
	struct arena *a = r->a;
	const struct cgidir *cd = dir_get(cfg.docroot);
	const char *docroot = cd != NULL ? cd->abs : cfg.docroot, *v;
	size_t i;
	int rc = 0;

	request_vars(r);
	for (i = 0; i < r->vars.n; i++)
		if (!replaced(r->vars.v[i].k))
			rc |= env_set(a, e, r->vars.v[i].k, r->vars.v[i].v);
	rc |= env_set(a, e, "GATEWAY_INTERFACE", "CGI/1.1");
	rc |= env_set(a, e, "SCRIPT_NAME", s->name);
	rc |= env_set(a, e, "SCRIPT_FILENAME", s->file);
	rc |= env_set(a, e, "DOCUMENT_ROOT", docroot);
	rc |= strv_add(a, e, arena_printf(a, "REDIRECT_STATUS=%d",
	    r->errpage != 0 ? r->errpage : 200));
	if (*s->path_info != '\0') {
		rc |= env_set(a, e, "PATH_INFO", s->path_info);
		rc |= strv_add(a, e, arena_printf(a, "PATH_TRANSLATED=%s%s",
		    docroot, s->path_info));
	}
	if (body_len >= 0)
		rc |= strv_add(a, e, arena_printf(a, "CONTENT_LENGTH=%lld",
		    body_len));
	if (r->c->peer_host_done && r->c->peer_host != NULL)
		rc |= env_set(a, e, "REMOTE_HOST", r->c->peer_host);
	rc |= env_set(a, e, "PATH", cfg.cgi_path);
	for (i = 0; cfg.cgi_pass_env != NULL && cfg.cgi_pass_env[i] != NULL;
	    i++)
		if (strcmp(cfg.cgi_pass_env[i], "PATH") != 0 &&
		    (v = getenv(cfg.cgi_pass_env[i])) != NULL)
			rc |= env_set(a, e, cfg.cgi_pass_env[i], v);
	rc |= env_headers(r, e);
	return rc == 0 ? 0 : -1;
}

/*
 * argv (RFC 3875 4.4): the script's name, then the search words of a
 * query without an unencoded '=': split on '+', each percent-decoded.
 * A word that does not decode, holds a NUL, or too many words: none.
 */
static int
build_argv(struct ih_request *r, const struct script *s, struct strv *av)
{
	const char *q = r->hd.query, *p;
	size_t start;

	if (strv_add(r->a, av, arena_strdup(r->a, s->base)) == -1)
		return -1;
	if (*q == '\0' || strchr(q, '=') != NULL)
		return 0;
	start = av->n;
	for (p = q; ; ) {
		size_t n = strcspn(p, "+"), pct = 0, i;
		char *w;

		for (i = 0; i < n; i++)
			pct += p[i] == '%';
		/* a decoded word shorter than its escapes allow held a NUL */
		if (form_urldecode(r->a, p, n, &w) != 0 || strlen(w) != n -
		    2 * pct || av->n - start >= CGI_ARGS_MAX) {
			av->n = start;
			av->v[start] = NULL;
			return 0;
		}
		if (strv_add(r->a, av, w) == -1)
			return -1;
		if (p[n] == '\0')
			break;
		p += n + 1;
	}
	return 0;
}

/* ---- the request body ------------------------------------------------ */

/*
 * Spool the request body (Content-Length or chunked) to an unlinked file
 * in datadir/uploads, bounded by max_body beneath (request.c): *fd is it,
 * rewound, and *len its length; without a body *fd is -1 and *len -1.
 * 0, or -1 with the status set (ih_read's, or the store's 503).
 */
static int
spool_body(struct ih_request *r, int *fd, long long *len)
{
	char buf[16384];
	long long total = 0;
	ssize_t n;

	*fd = -1;
	*len = -1;
	if (r->hd.clen < 0 && !r->hd.chunked)
		return 0;
	if (r->body_done && r->body_total == 0 && r->hd.clen <= 0) {
		*len = 0;
		return 0;
	}
	if ((*fd = form_spool_file()) == -1) {
		store_failed(r, "cgi body spool");
		ih_error(r, 500, "cannot spool the request body");
		return -1;
	}
	while ((n = ih_read(r, buf, sizeof(buf))) > 0) {
		if (write_full(*fd, buf, (size_t)n) == -1) {
			store_failed(r, "cgi body spool");
			ih_error(r, 500, "cannot spool the request body");
			goto err;
		}
		total += n;
	}
	if (n < 0 || lseek(*fd, 0, SEEK_SET) == -1) {
		if (n >= 0)
			ih_error(r, 500, "lseek on the body spool");
		goto err;
	}
	*len = total;
	return 0;
err:
	close(*fd);
	*fd = -1;
	return -1;
}

/* ---- the child ------------------------------------------------------- */

static void
child_limit(int res, long long v)
{
	struct rlimit rl;

	if (v <= 0)
		return;
	rl.rlim_cur = rl.rlim_max = (rlim_t)v;
	(void)setrlimit(res, &rl);
}

/*
 * In the child: the script's fds 0-2 (and 3: the script itself, open
 * across the exec only for an interpreter to read), a new session, the
 * default signals, the limits; then the exec.  Reports errno on fd 4
 * (close-on-exec) when the exec fails.
 */
static void __attribute__((noreturn))
child(const struct script *s, int in, int out, int err, int status,
    char **argv, char **envp, pid_t parent)
{
	int fds[5] = { in, out, err, s->fd, status }, i, e, report = status;
	sigset_t none;
	ssize_t w;

	(void)setsid();
	/* a server killed outright (KILL) takes its script along */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
		_exit(127);
	for (i = 1; i < NSIG; i++)
		(void)signal(i, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (fchdir(s->dirfd) == -1)
		goto fail;
	for (i = 0; i < 5; i++)
		if ((fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 5)) == -1)
			goto fail;
	if (dup2(fds[0], 0) == -1 || dup2(fds[1], 1) == -1 ||
	    dup2(fds[2], 2) == -1 ||
	    dup3(fds[3], 3, s->shebang ? 0 : O_CLOEXEC) == -1 ||
	    dup3(fds[4], 4, O_CLOEXEC) == -1)
		goto fail;
	report = 4;
	if (syscall(SYS_close_range, 5U, ~0U, 0U) == -1) {
		long max = sysconf(_SC_OPEN_MAX);

		for (i = 5; i < (max > 0 && max < 65536 ? max : 65536); i++)
			(void)close(i);
	}
	child_limit(RLIMIT_CPU, cfg.cgi_rlimit_cpu);
	child_limit(RLIMIT_AS, cfg.cgi_rlimit_as);
	child_limit(RLIMIT_NPROC, cfg.cgi_rlimit_nproc);
	syscall(SYS_execveat, 3, "", argv, envp, AT_EMPTY_PATH);
fail:
	e = errno;
	w = write(report, &e, sizeof(e));
	(void)w;
	_exit(127);
}

/* ---- waiting and killing --------------------------------------------- */

/* Has the script exited?  Its status is kept, the zombie left for reap. */
static int
exited(struct cgi *g)
{
	siginfo_t si;

	if (g->exited)
		return 1;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)g->pid, &si, WEXITED | WNOHANG | WNOWAIT) ==
	    0 && si.si_pid == g->pid) {
		g->exited = 1;
		g->wstatus = si.si_code == CLD_EXITED ? si.si_status << 8 :
		    si.si_status & 0x7f;
	}
	return g->exited;
}

static void stderr_read(struct cgi *, int all);

/*
 * Wait until the script exits or deadline (mono ms) passes, logging its
 * stderr meanwhile.  1 exited, 0 not yet.
 */
static int
wait_exit(struct cgi *g, int64_t deadline)
{
	while (!exited(g)) {
		struct pollfd p[2];
		int64_t left = deadline - mono_ms();
		int n = 0;

		if (left <= 0)
			return 0;
		if (g->pidfd != -1) {
			p[n].fd = g->pidfd;
			p[n++].events = POLLIN;
		} else if (left > 20)
			left = 20;	/* no pidfd: look again soon */
		if (g->err != -1) {
			p[n].fd = g->err;
			p[n++].events = POLLIN;
		}
		if (poll(p, (nfds_t)n, (int)left) > 0 && g->err != -1)
			stderr_read(g, 0);
	}
	return 1;
}

/*
 * The group's other members, killed: this process is a subreaper, so
 * those orphaned by the script's end are its children now.  Reap them
 * while the group lasts, for at most CGI_KILL_GRACE ms (one whose parent
 * is still alive is reaped by that parent).
 */
static void
reap_group(pid_t pgid)
{
	int64_t until = mono_ms() + CGI_KILL_GRACE;

	while (kill(-pgid, 0) == 0 && mono_ms() < until) {
		pid_t k = waitpid(-pgid, NULL, WNOHANG);

		if (k <= 0)
			(void)poll(NULL, 0, 2);
	}
	while (waitpid(-pgid, NULL, WNOHANG) > 0)
		;
}

/*
 * End the script: TERM its group unless it has exited (then KILL after
 * CGI_KILL_GRACE ms), KILL what is left of the group while the script's
 * zombie still holds the group's id, then reap the script by its pid.
 */
static void
reap(struct cgi *g, int term)
{
	if (g->pid <= 0)
		return;
	if (term && !exited(g)) {
		(void)kill(-g->pid, SIGTERM);
		(void)wait_exit(g, mono_ms() + CGI_KILL_GRACE);
	}
	(void)kill(-g->pid, SIGKILL);
	while (waitpid(g->pid, &g->wstatus, 0) == -1 && errno == EINTR)
		;
	reap_group(g->pid);
	/*
	 * A subreaper's only children are scripts and what they left:
	 * one that left the group (setsid) and ended since is reaped here.
	 */
	if (subreaper == 1)
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	cgi_running = 0;
	g->exited = 1;
	g->pid = -1;
	if (g->pidfd != -1)
		close(g->pidfd);
	g->pidfd = -1;
	if (g->err != -1) {
		stderr_read(g, 1);
		close(g->err);
		g->err = -1;
	}
	if (g->out != -1)
		close(g->out);
	g->out = -1;
}

/* ---- stderr ---------------------------------------------------------- */

static void
stderr_line(struct cgi *g)
{
	if (g->elen == 0)
		return;
	if (g->elogged < CGI_STDERR_MAX)
		ih_log(IH_LOG_ERR, "cgi %s: %.*s", g->name, (int)g->elen,
		    g->eline);
	else if (!g->edropped) {
		ih_log(IH_LOG_NOTICE, "cgi %s: over %d bytes on stderr; the "
		    "rest is discarded", g->name, CGI_STDERR_MAX);
		g->edropped = 1;
	}
	g->elogged += g->elen;
	g->elen = 0;
}

/*
 * Take what the script wrote to stderr (the pipe is non-blocking), as
 * lines; all: until the pipe is empty, and the last partial line too.
 */
static void
stderr_read(struct cgi *g, int all)
{
	char buf[4096];
	ssize_t n;
	int rounds = 0;

	while ((n = read(g->err, buf, sizeof(buf))) > 0) {
		ssize_t i;

		for (i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				stderr_line(g);
				continue;
			}
			if (g->elen == sizeof(g->eline))
				stderr_line(g);
			/* the log takes C strings */
			g->eline[g->elen++] = buf[i] != '\0' ? buf[i] : '?';
		}
		/* a flood must not starve stdout, nor hold up the end */
		if (++rounds == (all ? 64 : 16))
			break;
	}
	if (n == 0 || all) {
		stderr_line(g);
		if (n == 0 && !all) {
			close(g->err);
			g->err = -1;
		}
	}
}

/* ---- the script's header block (RFC 3875 6.3) ------------------------ */

/* Fields the server owns (framing, the connection, its identity). */
static int
server_owned(const char *name)
{
	static const char *const owned[] = { "Connection", "Date",
	    "Keep-Alive", "Proxy-Connection", "Server", "Trailer",
	    "Transfer-Encoding", "Upgrade" };
	size_t i;

	for (i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
		if (strcasecmp(name, owned[i]) == 0)
			return 1;
	return 0;
}

/* One field, NUL-terminated in place.  0, or -1 with *why. */
static int
head_field(struct ih_request *r, const char *name, char *line,
    struct cgi_head *h, const char **why)
{
	char *colon = strchr(line, ':'), *v, *end, *p;
	long long n;

	if (*line == ' ' || *line == '\t') {
		*why = "obsolete line folding in the script's header";
		return -1;
	}
	if (colon == NULL || colon == line) {
		*why = "a header line without a field name and ':'";
		return -1;
	}
	*colon = '\0';
	for (p = line; *p != '\0'; p++)
		if (!is_tchar((unsigned char)*p)) {
			*why = "a header field name that is not a token";
			return -1;
		}
	v = colon + 1;
	v += strspn(v, " \t");
	end = v + strlen(v);
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	for (p = v; *p != '\0'; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f) {
			*why = "a control byte in a header field value";
			return -1;
		}
	if (strcasecmp(line, "Status") == 0) {
		if (h->status != 0 || strspn(v, "0123456789") != 3 ||
		    (v[3] != '\0' && v[3] != ' ') || (n = strtol(v, NULL,
		    10)) < 200 || n > 599) {
			*why = "a Status that is not one 3-digit code of "
			    "200-599";
			return -1;
		}
		h->status = (int)n;
	} else if (strcasecmp(line, "Content-Type") == 0) {
		if (*v == '\0' || ih_set_type(r, v) == -1) {
			*why = "a bad Content-Type";
			return -1;
		}
	} else if (strcasecmp(line, "Location") == 0) {
		if (*v == '\0' || h->location != NULL) {
			*why = "an empty or repeated Location";
			return -1;
		}
		h->location = v;
	} else if (strcasecmp(line, "Content-Length") == 0) {
		if (strspn(v, "0123456789") != strlen(v) ||
		    str_to_ll(v, 0, LLONG_MAX / 2, &n) == -1 ||
		    (h->clen >= 0 && h->clen != n)) {
			*why = "a bad or conflicting Content-Length";
			return -1;
		}
		h->clen = n;
	} else if (server_owned(line))
		ih_log(IH_LOG_NOTICE, "cgi %s: header %s dropped (the server "
		    "sets it)", name, line);
	else if (ih_add_header(r, line, v) == -1) {
		*why = "a header field refused (or too many header bytes)";
		return -1;
	}
	return 0;
}

/*
 * The end of a CGI header block in b[0..len): the offset just past its
 * blank line, or 0 while it is incomplete.  Lines end in LF or CRLF;
 * from is where new bytes may matter (two before the old end).
 */
size_t
cgi_head_end(const char *b, size_t len, size_t from)
{
	size_t i;

	for (i = from; i < len; i++) {
		if (b[i] != '\n')
			continue;
		if (i + 1 < len && b[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && b[i + 1] == '\r' && b[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/*
 * Parse the header block b[0..len) (up to its blank line; cut in place)
 * of the script name into h, with the server's header rules (RFC 3875
 * 6.3, RFC 9110 5): Content-Type set on r, other fields added to r's
 * head, those the server owns dropped.  0, or -1 with *why (a 502).
 */
int
cgi_head_parse(struct ih_request *r, const char *name, char *b, size_t len,
    struct cgi_head *h, const char **why)
{
	char *p = b, *end = b + len;
	int fields = 0;

	h->status = 0;
	h->location = NULL;
	h->clen = -1;
	if (memchr(b, '\0', len) != NULL) {
		*why = "a NUL byte in the script's header";
		return -1;
	}
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));

		if (nl == NULL)
			nl = end;
		*nl = '\0';
		if (nl > p && nl[-1] == '\r')
			nl[-1] = '\0';
		if (*p == '\0')
			break;		/* the blank line */
		if (head_field(r, name, p, h, why) == -1)
			return -1;
		fields++;
		p = nl + 1;
	}
	if (fields == 0) {
		*why = "an empty header block";
		return -1;
	}
	return 0;
}

/* ---- relaying the output --------------------------------------------- */

struct relay {
	struct cgi	*g;
	int		 nph;
	int		 head_done;
	int		 local;		/* a local redirect: discard the body */
	int		 nobody;	/* 1xx, 204, 304: no body */
	int		 extra;		/* bytes past the script's length */
	size_t		 rh0;		/* r->rhlen before the script's fields */
	struct cgi_head	 h;
};

/* Body bytes from the script.  0, or -1: the client is gone. */
static int
relay_body(struct relay *x, const char *p, size_t n)
{
	struct cgi *g = x->g;

	if (x->local || x->nobody || n == 0 || (g->clen >= 0 &&
	    g->r->method_head))
		return 0;	/* HEAD: the head had the script's length */
	if (g->clen >= 0 && (long long)n > g->clen - g->sent) {
		if (!x->extra)
			ih_log(IH_LOG_NOTICE, "cgi %s: output past its "
			    "Content-Length dropped", g->name);
		x->extra = 1;
		g->r->c->closing = 1;
		n = (size_t)(g->clen - g->sent);
		if (n == 0)
			return 0;
	}
	g->sent += (long long)n;
	if (ih_write(g->r, p, n) == -1)
		return -1;
	if (g->clen < 0)
		return 0;
	/* a length the script gave: its bytes go as they come, and the
	 * response is complete at the last one, whatever the script does
	 * after */
	if (g->sent == g->clen)
		return resp_finish(g->r);
	return ih_flush(g->r);
}

/* nph-: the script's bytes are the response.  0, or -1: client gone. */
static int
relay_raw(struct relay *x, const char *p, size_t n)
{
	struct ih_request *r = x->g->r;
	struct conn *c = r->c;

	if (!x->head_done) {
		const char *e = memmem(p, n, "\n\r\n", 3);

		if (e == NULL)
			e = memmem(p, n, "\n\n", 2);
		x->head_done = 1;
		conn_send_begin(c);
		r->out_start = c->bytes_out;
		r->head_len = e != NULL ? (size_t)(e - p) + 2 : n;
		r->rstate = RS_STREAMING;
		r->framing = FR_CLOSE;
		c->closing = 1;
		/* the log's status: "HTTP/1.x NNN" when it says so */
		if (n >= 12 && memcmp(p, "HTTP/1.", 7) == 0 && p[8] == ' ' &&
		    p[9] >= '0' && p[9] <= '9' && p[10] >= '0' &&
		    p[10] <= '9' && p[11] >= '0' && p[11] <= '9')
			r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 +
			    (p[11] - '0');
	}
	return conn_write(c, p, n);
}

/*
 * Header bytes from the script: gathered up to cgi_max_header, then
 * parsed and acted on; what follows the blank line is body.  0, 1 when
 * more is needed, -1 with *why (502), -2: the client is gone.
 */
static int
relay_head(struct relay *x, const char *p, size_t n, const char **why)
{
	struct cgi *g = x->g;
	struct ih_request *r = g->r;
	size_t from = g->hlen > 2 ? g->hlen - 2 : 0, take, end;

	take = n;
	if (g->hlen + take > (size_t)cfg.cgi_max_header)
		take = (size_t)cfg.cgi_max_header - g->hlen;
	memcpy(g->hbuf + g->hlen, p, take);
	g->hlen += take;
	if ((end = cgi_head_end(g->hbuf, g->hlen, from)) == 0) {
		if (take < n || g->hlen == (size_t)cfg.cgi_max_header) {
			*why = "header block over cgi_max_header";
			return -1;
		}
		return 1;
	}
	x->head_done = 1;
	if (cgi_head_parse(r, g->name, g->hbuf, end, &x->h, why) == -1)
		return -1;
	if (x->h.location != NULL && x->h.status == 0 &&
	    x->h.location[0] == '/' && x->h.location[1] != '/') {
		x->local = 1;	/* RFC 3875 6.2.2 */
		return 0;
	}
	if (x->h.location != NULL && ih_add_header(r, "Location",
	    x->h.location) == -1) {
		*why = "a Location with a byte a header cannot hold";
		return -1;
	}
	/* an error page the script serves keeps the error's status */
	r->status = x->h.status != 0 ? x->h.status : x->h.location != NULL ?
	    302 : r->errpage != 0 ? r->errpage : 200;
	x->nobody = r->status < 200 || r->status == 204 || r->status == 304;
	if (x->h.clen >= 0 && !x->nobody) {
		g->clen = x->h.clen;
		if (resp_send_head(r, g->clen) == -1)
			return -2;
		/* HEAD: the head is the whole answer, whatever body follows */
		if (r->method_head)
			g->sent = g->clen;
		if ((g->clen == 0 || r->method_head) && resp_finish(r) == -1)
			return -2;
	}
	/* the bytes after the blank line, in this read and before it */
	if (relay_body(x, g->hbuf + end, g->hlen - end) == -1 ||
	    relay_body(x, p + take, n - take) == -1)
		return -2;
	return 0;
}

/* Why the script's end is a failure ("" when it is not). */
static const char *
exit_failure(struct cgi *g, char *buf, size_t len)
{
	if (WIFEXITED(g->wstatus) && WEXITSTATUS(g->wstatus) == 0)
		return "";
	if (WIFEXITED(g->wstatus))
		snprintf(buf, len, "script exited with status %d",
		    WEXITSTATUS(g->wstatus));
	else
		snprintf(buf, len, "script killed by signal %d",
		    WTERMSIG(g->wstatus));
	return buf;
}

/* A failure before the head went out: drop what the script set. */
static int
relay_fail(struct relay *x, int status, const char *why)
{
	struct ih_request *r = x->g->r;

	if (r->rstate == RS_DONE) {
		/* its response was whole (its own Content-Length) */
		ih_log(IH_LOG_NOTICE, "%s: cgi %s: %s (after a complete "
		    "response)", conn_who(r->c), x->g->name, why);
		return IH_PROCEED;
	}
	if (r->head_len > 0) {
		ih_log(IH_LOG_ERR, "%s: cgi %s: %s (after the head was sent: "
		    "connection cut)", conn_who(r->c), x->g->name, why);
		/* what the script did send goes out; no last chunk follows */
		if (r->rstate == RS_STREAMING)
			(void)ih_flush(r);
		/* a close-delimited body must not look complete: reset (an
		 * NPH script framed its answer itself: not ours to judge) */
		if (r->framing == FR_CLOSE && !x->nph)
			conn_reset(r->c);
		resp_drop(r);
		return IH_EXIT;
	}
	r->rhlen = x->rh0;
	r->olen = 0;
	r->ctype = NULL;
	return ih_error(r, status, arena_printf(r->a, "cgi %s: %s",
	    x->g->name, why));
}

/*
 * Relay the script's output until it ends, then reap it.  Returns the
 * request's result: PROCEED (the response is staged or streamed),
 * ABORTED (502, 504: nothing was sent), EXIT (cut), or what a local
 * redirect's phases returned.
 */
static int
relay(struct cgi *g, int nph)
{
	struct ih_request *r = g->r;
	struct relay x;
	int64_t deadline = mono_ms() + cfg.cgi_timeout * 1000;
	const char *why = NULL;
	char *buf, fail[64];
	int rc = IH_PROCEED;

	memset(&x, 0, sizeof(x));
	x.g = g;
	x.nph = nph;
	x.rh0 = r->rhlen;
	buf = malloc(CGI_READ);
	g->hbuf = malloc((size_t)cfg.cgi_max_header);
	if (buf == NULL || g->hbuf == NULL) {
		reap(g, 1);
		rc = relay_fail(&x, 500, "out of memory");
		goto done;
	}
	for (;;) {
		struct pollfd p[2];
		int64_t left = deadline - mono_ms();
		int np = 0, k;
		ssize_t n;

		if (left <= 0)
			break;
		p[np].fd = g->out;
		p[np++].events = POLLIN;
		if (g->err != -1) {
			p[np].fd = g->err;
			p[np++].events = POLLIN;
		}
		if ((k = poll(p, (nfds_t)np, (int)(left > 1000000 ? 1000000 :
		    left))) == -1 && errno != EINTR)
			break;
		if (k <= 0)
			continue;	/* EINTR, or look at the clock again */
		if (np > 1 && p[1].revents != 0)
			stderr_read(g, 0);
		if (p[0].revents == 0)
			continue;
		if ((n = read(g->out, buf, CGI_READ)) < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			break;
		}
		if (n == 0)
			break;
		if (nph)
			k = relay_raw(&x, buf, (size_t)n) == -1 ? -2 : 0;
		else if (!x.head_done)
			k = relay_head(&x, buf, (size_t)n, &why);
		else
			k = relay_body(&x, buf, (size_t)n) == -1 ? -2 : 0;
		if (k == -1) {
			reap(g, 1);
			rc = relay_fail(&x, 502, why);
			goto done;
		}
		if (k == -2) {
			reap(g, 1);
			resp_drop(r);
			rc = IH_EXIT;
			goto done;
		}
		/* the time the client took is not the script's */
		deadline = mono_ms() + cfg.cgi_timeout * 1000;
	}
	/* stdout ended (or the deadline passed): wait for the exit */
	if (mono_ms() >= deadline || !wait_exit(g, deadline)) {
		reap(g, 1);
		rc = relay_fail(&x, 504, arena_printf(r->a, "no output for "
		    "cgi_timeout (%lld s): killed", cfg.cgi_timeout));
		goto done;
	}
	reap(g, 0);
	why = exit_failure(g, fail, sizeof(fail));
	if (*why != '\0')
		rc = relay_fail(&x, 502, why);
	else if (!x.head_done)
		rc = relay_fail(&x, 502, "output ended before the header "
		    "block did");
	else if (nph)
		resp_done(r, 0);
	else if (g->clen >= 0 && g->sent < g->clen)
		rc = relay_fail(&x, 502, "output shorter than its "
		    "Content-Length");
	else if (x.local)
		rc = pipeline_redirect(r, x.h.location);
done:
	free(buf);
	free(g->hbuf);
	g->hbuf = NULL;
	return rc;
}

/* ---- Service fn=cgi -------------------------------------------------- */

static int
cgi_check(const struct ih_args *a, char *err, size_t len)
{
	size_t i;
	const char *k;

	for (i = 0; ih_arg_at(a, i, &k) != NULL; i++)
		if (strcmp(k, "dir") != 0) {
			snprintf(err, len, "unknown argument %s= (only dir=)",
			    k);
			return -1;
		}
	return 0;
}

/* TERM or INT where nobody handles them: the script's group goes too. */
static void
on_stop(int sig)
{
	cgi_abort();
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * Signals, before the first script: SIGCHLD ignored (inherited from a
 * launcher) would reap for us; TERM and INT left to their default
 * (inetd mode, a daemon's workers) get on_stop.  A master's own
 * handlers stay.
 */
static void
cgi_signals(void)
{
	static const int stops[] = { SIGTERM, SIGINT };
	static int done;
	struct sigaction sa;
	size_t i;

	if (done)
		return;
	done = 1;
	if (sigaction(SIGCHLD, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN) {
		sa.sa_handler = SIG_DFL;
		sigaction(SIGCHLD, &sa, NULL);
	}
	for (i = 0; i < sizeof(stops) / sizeof(stops[0]); i++)
		if (sigaction(stops[i], NULL, &sa) == 0 &&
		    sa.sa_handler == SIG_DFL) {
			memset(&sa, 0, sizeof(sa));
			sa.sa_handler = on_stop;
			sigemptyset(&sa.sa_mask);
			sigaction(stops[i], &sa, NULL);
		}
}

static int
cgi_service(struct ih_request *r, const struct ih_args *args)
{
	struct script s;
	struct cgi g;
	struct strv env, av;
	int in = -1, o[2] = { -1, -1 }, e[2] = { -1, -1 }, st[2] = { -1, -1 };
	int status, err = 0;
	pid_t parent;
	long long blen;
	const char *why = NULL;
	ssize_t n;

	memset(&g, 0, sizeof(g));
	memset(&env, 0, sizeof(env));
	memset(&av, 0, sizeof(av));
	g.r = r;
	g.pid = -1;
	g.pidfd = g.out = g.err = -1;
	g.clen = -1;
	if ((status = find_script(r, ih_arg(args, "dir"), &s, &why)) != 0) {
		script_close(&s);
		return ih_error(r, status, why);
	}
	g.name = s.name;
	if (spool_body(r, &in, &blen) == -1) {
		script_close(&s);
		return IH_ABORTED;
	}
	if (build_env(r, &s, blen, &env) == -1 || build_argv(r, &s, &av) ==
	    -1) {
		why = "out of memory (environment)";
		goto fail500;
	}
	if (in == -1 && (in = devnull_fd()) == -1) {
		why = "cannot open /dev/null";
		goto fail500;
	}
	if (pipe2(o, O_CLOEXEC) == -1 || pipe2(e, O_CLOEXEC) == -1 ||
	    pipe2(st, O_CLOEXEC) == -1 || fcntl(o[0], F_SETFL, O_NONBLOCK) ==
	    -1 || fcntl(e[0], F_SETFL, O_NONBLOCK) == -1) {
		why = "pipe failed";
		goto fail500;
	}
	cgi_signals();
	/*
	 * The script's orphans come back to be reaped, not to init; not in
	 * single's master, whose other children (a HUP's check, an old
	 * image's workers) are waited for by pid elsewhere.
	 */
	if (subreaper == 0)
		subreaper = conn_standalone && cfg.type == SRV_SINGLE ? -1 :
		    prctl(PR_SET_CHILD_SUBREAPER, 1) == 0 ? 1 : -1;
	fflush(NULL);
	parent = getpid();
	if ((g.pid = fork()) == 0)
		child(&s, in, o[1], e[1], st[1], av.v, env.v, parent);
	if (g.pid > 0)
		cgi_running = g.pid;
	close(o[1]);
	close(e[1]);
	close(st[1]);
	if (in != devnull)
		close(in);
	o[1] = e[1] = st[1] = in = -1;
	script_close(&s);
	g.out = o[0];
	g.err = e[0];
	if (g.pid == -1) {
		close(st[0]);
		close(g.out);
		close(g.err);
		resp_add_header_raw(r, "Retry-After", "5");
		return ih_error(r, 503, "cgi: fork failed");
	}
	/* the exec's outcome: EOF when it happened, errno when not */
	while ((n = read(st[0], &err, sizeof(err))) == -1 && errno == EINTR)
		;
	close(st[0]);
	if (n == (ssize_t)sizeof(err)) {
		reap(&g, 0);
		return ih_error(r, err == EACCES ? 403 : 500, arena_printf(r->a,
		    "cgi %s: cannot execute: %s", s.name, strerror(err)));
	}
	g.pidfd = (int)syscall(SYS_pidfd_open, g.pid, 0);
	if (g.pidfd != -1)
		(void)fcntl(g.pidfd, F_SETFD, FD_CLOEXEC);
	ih_debug(IH_DBG_PROC, "cgi %s: pid %ld", s.name, (long)g.pid);
	return relay(&g, strncmp(s.base, "nph-", 4) == 0);
fail500:
	script_close(&s);
	if (in != -1 && in != devnull)
		close(in);
	if (o[0] != -1)
		close(o[0]);
	if (o[1] != -1)
		close(o[1]);
	if (e[0] != -1)
		close(e[0]);
	if (e[1] != -1)
		close(e[1]);
	if (st[0] != -1)
		close(st[0]);
	if (st[1] != -1)
		close(st[1]);
	return ih_error(r, 500, why);
}
IH_FUNCTION("cgi", IH_PH(IH_SERVICE), cgi_service, cgi_check);
