/*
 * daemon.c - the standalone server: listeners, the four personalities of
 * Net::Server (single, fork, preforksimple, prefork), signals, re-exec on
 * HUP, and the daemon's duties.  Every accepted connection goes to the
 * same serve_connection as inetd mode; the loops below return to it only
 * in the process that serves.
 *
 * Start-up, in order: bind (or take over inherited sockets), preload what
 * requests open lazily, detach, write the pid file, then serve.  The
 * master of fork/preforksimple/prefork keeps its privileges (it must bind
 * again and re-exec on HUP) and never parses a request; each worker
 * chroots and drops to `user` right after it is forked.  A single server
 * is one process: it chroots and drops privileges itself.
 *
 * Signals reach the master through a pipe and are handled in its loop:
 * TERM/INT stop now, QUIT stops gracefully, HUP validates the config in a
 * child and re-execs with the listening sockets, USR1 reopens the logs
 * (workers are replaced to inherit them), TTIN/TTOU move max_servers.
 */
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define STOP_NOW_WAIT	3000	/* ms TERM gives workers before KILL */
#define SPAWN_RATE_MAX	32	/* prefork spares started per second */
#define FAST_DEATH_MS	1000	/* a worker dying sooner failed to start */
#define BACKOFF_MAX	30000

struct kid {
	pid_t		 pid;
	int		 slot;
	int		 retired;	/* told to finish and exit */
	int64_t		 born;		/* mono ms */
};

static struct listeners L;
static int sig_r = -1, sig_w = -1;	/* the master's self-pipe */
static int wake_r = -1, wake_w = -1;	/* a worker's QUIT pipe */
static int lock_fd = -1;		/* serialize flock: per worker */
static struct kid *kids;
static int nkids, kids_cap;
static pid_t *old_pids;			/* workers of the image before HUP */
static int nold;
static int64_t old_deadline;		/* then old workers are killed */
static int old_termed;			/* ...TERM sent, KILL due */
static pid_t check_pid = -1;		/* HUP's config check */
static int stopping;			/* 1 graceful, 2 now */
static int64_t stop_deadline;
static int max_now;			/* max_servers, moved by TTIN/TTOU */
static int fast_deaths;
static int64_t spawn_after, window_start, last_retire;
static int spawn_rate = 1, window_spawns;
static int wait_mode;
static int ready_fd = -1;		/* background: tells the parent */
static int detached;			/* background: stdio is /dev/null */
static char **argv_copy;
static char exe_path[PATH_MAX];
static char pid_path[PATH_MAX];
static int pid_written;
static int pid_fd = -1;			/* the pid file, locked */
static pid_t master_pid;
static int restarting;			/* this image came from a HUP */
static uid_t run_uid;
static gid_t run_gid;
static int drop_ids;			/* user/group given and we are root */
static char chroot_real[PATH_MAX];
static volatile sig_atomic_t single_serving;	/* single: in a connection */
static volatile sig_atomic_t worker_serving;	/* prefork: in a connection */

static void stop_now(void) __attribute__((noreturn));
static void stop_gracefully(void);

static const char *const type_names[] = { "single", "fork", "preforksimple",
	"prefork" };

static const char *
signame(int sig)
{
	const char *n = sigabbrev_np(sig);

	return n != NULL ? n : "?";
}

/* ---- signals ------------------------------------------------------- */

/*
 * From a signal handler (close and unlink only): let go of the listening
 * sockets, so that new clients are refused at once rather than queued
 * behind a process that will not accept again, to be reset when it exits.
 */
static void
drop_listeners(int unlink_paths)
{
	int i;

	for (i = 0; i < L.n; i++) {
		if (L.v[i].fd != -1)
			close(L.v[i].fd);
		L.v[i].fd = -1;
		if (unlink_paths && L.v[i].path[0] != '\0')
			unlink(L.v[i].path);
	}
}

static void
on_master_signal(int sig)
{
	int e = errno;
	unsigned char b = (unsigned char)sig;
	ssize_t w;

	/* single: TERM in the middle of a connection ends it now */
	if (single_serving && (sig == SIGTERM || sig == SIGINT)) {
		cgi_abort();		/* a running script's group too */
		drop_listeners(1);	/* a unix socket file goes too */
		if (pid_written)
			unlink(pid_path);
		_exit(0);
	}
	if (sig == SIGQUIT)
		serve_stopping = 1;
	/* single: QUIT in a connection, which may last: refuse new ones */
	if (single_serving && sig == SIGQUIT)
		drop_listeners(0);
	/* a full pipe already holds bytes that wake the loop */
	w = write(sig_w, &b, 1);
	(void)w;
	errno = e;
}

static void
on_worker_quit(int sig)
{
	int e = errno;

	(void)sig;
	serve_stopping = 1;
	/*
	 * Busy, this worker will not accept again: its copies of the
	 * listening sockets would keep new clients queued during a graceful
	 * stop (the master has closed its own).  An idle one keeps them to
	 * accept what woke it (worker_accept).
	 */
	if (worker_serving)
		drop_listeners(0);
	if (wake_w != -1) {
		ssize_t w = write(wake_w, "q", 1);	/* full: awake anyway */

		(void)w;
	}
	errno = e;
}

static const int master_sigs[] = { SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1,
	SIGTTIN, SIGTTOU, SIGCHLD };
#define NSIGS	(sizeof(master_sigs) / sizeof(master_sigs[0]))

static void
block_signals(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, old);
}

static int
make_pipe(int *r, int *w)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == -1)
		return -1;
	*r = p[0];
	*w = p[1];
	return 0;
}

static void
master_signals(void)
{
	struct sigaction sa;
	sigset_t none;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_master_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (i = 0; i < NSIGS; i++)
		/* single reaps nothing: a handler's children are its own */
		if (master_sigs[i] != SIGCHLD || cfg.type != SRV_SINGLE)
			sigaction(master_sigs[i], &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* In a new worker (signals still blocked from before the fork). */
static void
worker_signals(void)
{
	struct sigaction sa;
	sigset_t none;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < NSIGS; i++) {
		int s = master_sigs[i];

		/* HUP, USR1, TTIN, TTOU are the master's business */
		sa.sa_handler = s == SIGTERM || s == SIGINT || s == SIGCHLD ?
		    SIG_DFL : s == SIGQUIT ? on_worker_quit : SIG_IGN;
		sa.sa_flags = 0;	/* QUIT interrupts a blocking wait */
		sigaction(s, &sa, NULL);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* ---- privileges ---------------------------------------------------- */

/*
 * A user (uid and gid set), or a group (user NULL: gid set), by name and
 * then by number: 0, or -1.  /etc/passwd and /etc/group are read with
 * fgetpwent/fgetgrent, and NSS is asked only by a dynamic binary: the
 * static build's glibc dlopens the NSS modules that nsswitch.conf names
 * after `files` (libnss_systemd), built for the shared libc, and a name
 * not in the files crashed it (SIGSEGV) instead of being an error.
 */
static int
lookup_id(const char *user, const char *group, uid_t *uid, gid_t *gid)
{
	const char *name = user != NULL ? user : group;
	int num, found = 0, pass;
	long long n = -1;
	FILE *f;

	num = str_to_ll(name, 0, INT_MAX, &n) == 0;
	if ((f = fopen(user != NULL ? "/etc/passwd" : "/etc/group", "re")) !=
	    NULL) {
		for (pass = 0; pass < 1 + num && !found; pass++) {
			rewind(f);
			for (;;) {
				if (user != NULL) {
					struct passwd *pw = fgetpwent(f);

					if (pw == NULL)
						break;
					if (pass == 0 ? strcmp(pw->pw_name,
					    name) != 0 : pw->pw_uid != (uid_t)n)
						continue;
					*uid = pw->pw_uid;
					*gid = pw->pw_gid;
				} else {
					struct group *gr = fgetgrent(f);

					if (gr == NULL)
						break;
					if (pass == 0 ? strcmp(gr->gr_name,
					    name) != 0 : gr->gr_gid != (gid_t)n)
						continue;
					*gid = gr->gr_gid;
				}
				found = 1;
				break;
			}
		}
		fclose(f);
	}
	/* no dynamic loader mapped (AT_BASE 0): a static binary */
	if (found || getauxval(AT_BASE) == 0)
		return found ? 0 : -1;
	if (user != NULL) {
		struct passwd *pw = getpwnam(name);

		if (pw == NULL && num)
			pw = getpwuid((uid_t)n);
		if (pw == NULL)
			return -1;
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
	} else {
		struct group *gr = getgrnam(name);

		if (gr == NULL && num)
			gr = getgrgid((gid_t)n);
		if (gr == NULL)
			return -1;
		*gid = gr->gr_gid;
	}
	return 0;
}

/* Resolve user and group before anything forks.  0, or -1 (logged). */
static int
resolve_ids(void)
{
	uid_t u;

	if (cfg.user == NULL && cfg.group == NULL)
		return 0;
	if (cfg.user != NULL) {
		if (lookup_id(cfg.user, NULL, &run_uid, &run_gid) == -1) {
			ih_log(IH_LOG_ERR, "user %s: no such user", cfg.user);
			return -1;
		}
	} else {
		run_uid = geteuid();
		run_gid = getegid();
	}
	if (cfg.group != NULL && lookup_id(NULL, cfg.group, &u, &run_gid) ==
	    -1) {
		ih_log(IH_LOG_ERR, "group %s: no such group", cfg.group);
		return -1;
	}
	if (geteuid() != 0) {
		if (run_uid != geteuid() || run_gid != getegid()) {
			ih_log(IH_LOG_ERR, "user/group: switching to %s needs "
			    "root", cfg.user != NULL ? cfg.user : cfg.group);
			return -1;
		}
		return 0;
	}
	drop_ids = 1;
	return 0;
}

/*
 * A path as seen after the chroot: the part below chroot_real.  Paths
 * outside it are returned unchanged (and fail there, as they should).
 */
static char *
inside(char *path)
{
	char real[PATH_MAX];
	size_t n = strlen(chroot_real);

	static char root[] = "/";

	if (path == NULL || chroot_real[0] == '\0')
		return path;
	if (strncmp(path, chroot_real, n) == 0 && (path[n] == '/' ||
	    path[n] == '\0'))
		return path[n] == '\0' ? root : path + n;
	if (realpath(path, real) != NULL && strncmp(real, chroot_real, n) ==
	    0 && (real[n] == '/' || real[n] == '\0'))
		return arena_strdup(&cfg.mem, real[n] == '\0' ? "/" : real + n);
	return path;
}

/* The chroot must hold the docroot and the CGI directories (and should
 * hold datadir). */
static int
check_chroot(void)
{
	char real[PATH_MAX];
	struct cgi_iter it = { 0, 0 };
	const struct directive *d;
	size_t n;

	if (cfg.chroot == NULL)
		return 0;
	if (realpath(cfg.chroot, chroot_real) == NULL) {
		ih_log(IH_LOG_ERR, "chroot %s: %s", cfg.chroot,
		    strerror(errno));
		return -1;
	}
	if (strcmp(chroot_real, "/") == 0)
		chroot_real[0] = '\0';
	n = strlen(chroot_real);
	if (geteuid() != 0) {
		ih_log(IH_LOG_ERR, "chroot %s: needs root", cfg.chroot);
		return -1;
	}
	if (realpath(cfg.docroot, real) == NULL || strncmp(real, chroot_real,
	    n) != 0 || (real[n] != '/' && real[n] != '\0')) {
		ih_log(IH_LOG_ERR, "chroot %s does not contain docroot %s",
		    cfg.chroot, cfg.docroot);
		return -1;
	}
	/* a script starting outside the new root could walk out of it */
	while ((d = cgi_next(&it, NULL)) != NULL) {
		const char *dir = ih_arg(&d->args, "dir");

		if (dir != NULL && (dir[0] != '/' || realpath(dir, real) ==
		    NULL || strncmp(real, chroot_real, n) != 0 ||
		    (real[n] != '/' && real[n] != '\0'))) {
			ih_log(IH_LOG_ERR, "%s:%d: cgi dir %s must be an "
			    "absolute path inside chroot %s", d->file, d->line,
			    dir, cfg.chroot);
			return -1;
		}
	}
	if (realpath(cfg.datadir, real) != NULL && (strncmp(real, chroot_real,
	    n) != 0 || (real[n] != '/' && real[n] != '\0')))
		ih_log(IH_LOG_WARN, "datadir %s is outside chroot %s: sessions "
		    "and Digest nonce counts will fail there", cfg.datadir,
		    cfg.chroot);
	return 0;
}

/*
 * chroot, then setgroups/setgid/setuid, each verified: a worker that
 * cannot drop what it was asked to drop exits instead of serving.
 */
static int
drop_privileges(void)
{
	size_t i, j, k;

	if (cfg.chroot != NULL) {
		if (chroot(cfg.chroot) == -1 || chdir("/") == -1) {
			ih_log(IH_LOG_ERR, "chroot %s: %s", cfg.chroot,
			    strerror(errno));
			return -1;
		}
		cfg.docroot = inside(cfg.docroot);
		cfg.datadir = inside(cfg.datadir);
		/* files a directive names, given by their outside path */
		for (i = 0; i < cfg.nobjs; i++)
			for (j = 0; j < cfg.objs[i].ndirs; j++) {
				struct ih_args *a = &cfg.objs[i].dirs[j].args;

				for (k = 0; k < a->n; k++)
					if (a->val[k][0] == '/')
						a->val[k] = inside(a->val[k]);
			}
	}
	if (!drop_ids)
		return 0;
	if (setgroups(1, &run_gid) == -1 || setgid(run_gid) == -1 ||
	    setuid(run_uid) == -1) {
		ih_log(IH_LOG_ERR, "dropping to uid %u gid %u: %s",
		    (unsigned)run_uid, (unsigned)run_gid, strerror(errno));
		return -1;
	}
	if (getuid() != run_uid || geteuid() != run_uid || getgid() !=
	    run_gid || getegid() != run_gid || (run_uid != 0 &&
	    setuid(0) != -1)) {
		ih_log(IH_LOG_ERR, "privileges were not dropped");
		return -1;
	}
	tls_nodump();
	return 0;
}

/*
 * In a new worker or fork child, after the drop (a change of credentials
 * clears it): if the master dies, finish gracefully rather than serve on
 * without one, holding its sockets.  0, or -1 if it is gone already.
 */
static int
orphan_guard(void)
{
	if (pid_fd != -1)
		close(pid_fd);		/* the master's lock, not ours */
	pid_fd = -1;
	prctl(PR_SET_PDEATHSIG, SIGQUIT);
	return getppid() == master_pid ? 0 : -1;
}

/*
 * Work on datadir as the workers will be: files the master makes there
 * (the Digest secret) must belong to `user`, not to root.
 */
static int
as_workers(int (*fn)(void))
{
	int rc;

	if (!drop_ids)
		return fn();
	if (setegid(run_gid) == -1 || seteuid(run_uid) == -1) {
		ih_log(IH_LOG_ERR, "seteuid %u: %s", (unsigned)run_uid,
		    strerror(errno));
		return -1;
	}
	tls_nodump();
	rc = fn();
	if (seteuid(0) == -1 || setegid(0) == -1) {
		ih_log(IH_LOG_ERR, "seteuid 0: %s", strerror(errno));
		return -1;
	}
	tls_nodump();
	return rc;
}

/* ---- start-up ------------------------------------------------------ */

static int tls_listeners(void);
static int tls_on;		/* a listener speaks TLS */

/* `tls on` and no TLS listener: logged at the key's line.  1. */
static int
no_tls_port(void)
{
	int line;
	const char *file = config_where("tls", &line);

	config_log_at(file, line, "tls on: a standalone port speaks TLS by its "
	    "/tls suffix (port 443/tls), and none has it");
	return 1;
}

/*
 * What inetd mode opens lazily, opened once before the first fork: the
 * workers share it, and a chroot cannot break it.  0, or -1 (logged).
 */
static int
preload(void)
{
	if (files_open_docroot() == -1) {
		ih_log(IH_LOG_ERR, "docroot %s: %s", cfg.docroot,
		    strerror(errno));
		return -1;
	}
	mime_preload();
	config_preload();
	cgi_preload();
	if (acl_preload() == -1 || as_workers(auth_preload) == -1)
		return -1;
	/* what daemon_check said, now for the sockets really held */
	if ((tls_on = tls_listeners()) == 0 && cfg.tls && no_tls_port())
		return -1;
	if (tls_on) {
		if (tls_setup(0) == -1)
			return -1;
		/* without a usable file the keys live in memory: logged */
		(void)as_workers(tls_tickets_refresh);
	}
	run_inits();
	return 0;
}

/*
 * The pid file is locked (flock) for as long as the server runs: a file
 * nobody holds is stale, whatever pid it names (a reboot reuses pids), and
 * one held is a live server's.  Anything but a regular file is refused (a
 * FIFO there would block the open).  A HUP re-exec hands the locked
 * descriptor over in IHTTPD_PID_FD.
 */
static int
pidfile_check(void)
{
	struct stat st, st2;
	const char *v = getenv("IHTTPD_PID_FD");
	char buf[32];
	ssize_t n;
	int fd;

	if (cfg.pid_file == NULL)
		return 0;
	if (strlen(cfg.pid_file) >= sizeof(pid_path)) {
		ih_log(IH_LOG_ERR, "pid_file: path too long");
		return -1;
	}
	snprintf(pid_path, sizeof(pid_path), "%s", cfg.pid_file);
	if (v != NULL) {
		fd = atoi(v);
		unsetenv("IHTTPD_PID_FD");
		if (fd > 2 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    stat(pid_path, &st2) == 0 && st.st_dev == st2.st_dev &&
		    st.st_ino == st2.st_ino) {
			fcntl(fd, F_SETFD, FD_CLOEXEC);
			pid_fd = fd;
			pid_written = 1;	/* ours, with our pid in it */
			return 0;
		}
		/* the old image's file, now another path: let it go */
		if (fd > 2 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
			close(fd);
	}
	fd = open(pid_path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT)
			return 0;
		ih_log(IH_LOG_ERR, "pid_file %s: %s", pid_path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		ih_log(IH_LOG_ERR, "pid_file %s: not a regular file", pid_path);
		close(fd);
		return -1;
	}
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		ih_log(IH_LOG_ERR, "pid_file %s: held by a live server (pid "
		    "%s)", pid_path, buf[0] != '\0' ? buf : "?");
		close(fd);
		return -1;
	}
	ih_log(IH_LOG_NOTICE, "pid_file %s: replacing a stale one (%s)",
	    pid_path, buf[0] != '\0' ? buf : "empty");
	pid_fd = fd;
	return 0;
}

static int
pidfile_write(void)
{
	char buf[32];
	int n;

	if (cfg.pid_file == NULL || pid_written)
		return 0;
	if (pid_fd == -1 && ((pid_fd = open(pid_path, O_RDWR | O_CREAT |
	    O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644)) == -1 ||
	    flock(pid_fd, LOCK_EX | LOCK_NB) == -1))
		goto fail;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(pid_fd, 0) == -1 || pwrite(pid_fd, buf, (size_t)n, 0) !=
	    n)
		goto fail;
	pid_written = 1;
	return 0;
fail:
	ih_log(IH_LOG_ERR, "pid_file %s: %s", pid_path, strerror(errno));
	if (pid_fd != -1)
		close(pid_fd);
	pid_fd = -1;
	return -1;
}

/*
 * Detach: the parent waits until the child says it is serving (or failed),
 * so `ihttpd --background on` returns with the server ready.
 */
static int
go_background(void)
{
	int p[2], fd;
	pid_t pid;
	char b = 0;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	fflush(NULL);
	if ((pid = fork()) == -1)
		return -1;
	if (pid > 0) {
		close(p[1]);
		while (read(p[0], &b, 1) == -1 && errno == EINTR)
			;
		_exit(b == 1 ? 0 : 1);
	}
	close(p[0]);
	ready_fd = p[1];
	setsid();
	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	log_detach();
	detached = 1;
	return 0;
}

static void
say_ready(void)
{
	if (ready_fd != -1) {
		ssize_t w = write(ready_fd, "\1", 1);	/* parent gone: fine */

		(void)w;
		close(ready_fd);
		ready_fd = -1;
	}
}

/*
 * Sockets handed to us rather than bound from a `port`: systemd's, and
 * the one inetd's wait form leaves on fd 0.  A HUP re-exec passes them
 * on under these names, and the new image keeps them whatever the
 * `port` lines say (it had no `port` to bind: the re-exec of a systemd
 * or inetd-wait server died with "standalone needs a `port`").
 */
#define SPEC_SYSTEMD	"systemd"
#define SPEC_WAIT	"inetd-wait"

static int
spec_passed(const char *spec)
{
	return strcmp(spec, SPEC_SYSTEMD) == 0 || strcmp(spec, SPEC_WAIT) == 0;
}

/*
 * Does a listener speak TLS?  A port's /tls says so; a socket passed
 * without a spec (inetd wait mode, systemd) follows `tls` (and, for the
 * PROXY protocol, `proxy_protocol`).
 */
static int
tls_listeners(void)
{
	int i, any = 0;

	for (i = 0; i < L.n; i++) {
		if (spec_passed(L.v[i].spec)) {
			L.v[i].tls = (int)cfg.tls;
			L.v[i].proxy = (int)cfg.proxy_protocol;
		}
		any |= L.v[i].tls;
	}
	return any;
}

/* The master's periodic work: ticket keys rotate on time. */
static void
tls_tick(void)
{
	if (tls_on && tls_tickets_due())
		(void)as_workers(tls_tickets_refresh);
}

/* Are we handed (or do we hold, in HUP's check) such a socket? */
static int
sockets_passed(void)
{
	const char *v = getenv("IHTTPD_LISTEN_FDS");
	int i;

	/* systemd's, if they are this process's (as listen_inherit takes them) */
	if (getenv("LISTEN_FDS") != NULL && getenv("LISTEN_PID") != NULL &&
	    atoll(getenv("LISTEN_PID")) == (long long)getpid())
		return 1;
	for (i = 0; i < L.n; i++)
		if (spec_passed(L.v[i].spec))
			return 1;
	/* a HUP re-exec: "FD SPEC" lines (listen_export) */
	return v != NULL && (strstr(v, " " SPEC_SYSTEMD "\n") != NULL ||
	    strstr(v, " " SPEC_WAIT "\n") != NULL);
}

/* Take the listening socket inetd left on fd 0 (its "wait" form). */
static int
take_wait_socket(void)
{
	int fd, null;

	if ((fd = fcntl(0, F_DUPFD_CLOEXEC, 3)) == -1)
		return -1;
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1) {
		struct stat st;

		dup2(null, 0);
		dup2(null, 1);
		if (fstat(2, &st) == 0 && S_ISSOCK(st.st_mode))
			dup2(null, 2);
		close(null);
	}
	L.n = 1;
	memset(&L.v[0], 0, sizeof(L.v[0]));
	L.v[0].fd = fd;
	L.v[0].inherited = 1;
	snprintf(L.v[0].spec, sizeof(L.v[0].spec), SPEC_WAIT);
	listen_name(fd, L.v[0].name, sizeof(L.v[0].name));
	return 0;
}

/* Do two `port` values name the same socket ("8080" and "*:8080/tcp")? */
static int
same_spec(const char *a, const char *b)
{
	struct listen_spec x, y;
	char err[128];

	if (strcmp(a, b) == 0)
		return 1;
	if (listen_parse(a, &x, err, sizeof(err)) == -1 ||
	    listen_parse(b, &y, err, sizeof(err)) == -1)
		return 0;
	return strcmp(x.host, y.host) == 0 && x.port == y.port &&
	    x.scan == y.scan && x.v6 == y.v6 && x.unix_path == y.unix_path &&
	    x.tls == y.tls && x.proxy == y.proxy;
}

/*
 * Is this inherited socket the one a spec names: the same spec, or the
 * address it is bound to (a port 0 or scan socket, now written with the
 * port it got)?
 */
static int
names_socket(const struct listener *l, const char *spec)
{
	struct listen_spec y;
	char err[128], name[LISTEN_SPEC_MAX + 16];

	if (same_spec(l->spec, spec))
		return 1;
	if (listen_parse(spec, &y, err, sizeof(err)) == -1 || y.scan ||
	    y.tls || y.proxy || (!y.unix_path && (y.port == 0 ||
	    y.host[0] == '\0')))
		return 0;
	snprintf(name, sizeof(name), y.unix_path ? "unix:%s" : y.v6 ?
	    "[%s]:%d" : "%s:%d", y.host, y.port);
	return strcmp(l->name, name) == 0;
}

/*
 * Every `port` bound, reusing a socket inherited with the same spec (a
 * HUP keeps them; new specs are bound, dropped ones closed).
 */
static int
open_listeners(void)
{
	struct listeners got;
	char err[256];
	size_t i;
	int j, k, passed;

	memset(&got, 0, sizeof(got));
	(void)listen_inherit(&got);
	L.n = 0;
	for (j = 0; j < got.n; j++)
		if (spec_passed(got.v[j].spec)) {
			/* inetd's socket, kept over a HUP: still wait mode */
			if (strcmp(got.v[j].spec, SPEC_WAIT) == 0)
				wait_mode = 1;
			L.v[L.n++] = got.v[j];
		}
	passed = L.n > 0;
	if (passed && cfg.ports.n > 0)
		ih_log(IH_LOG_NOTICE, "listening on the %d sockets %s passed; "
		    "`port` lines are not bound", L.n, wait_mode ? "inetd" :
		    "systemd");
	for (i = 0; !passed && i < cfg.ports.n; i++) {
		int reused = 0;

		for (j = 0; j < got.n; j++)
			if (got.v[j].fd != -1 && names_socket(&got.v[j],
			    cfg.ports.v[i])) {
				if (L.n == LISTENERS_MAX)
					break;
				L.v[L.n++] = got.v[j];
				got.v[j].fd = -1;
				reused = 1;
			}
		if (reused)
			continue;
		if (listen_bind(&L, cfg.ports.v[i], err, sizeof(err)) == -1) {
			ih_log(IH_LOG_ERR, "%s:%d: port %s: %s%s",
			    cfg.ports.file[i], cfg.ports.line[i],
			    cfg.ports.v[i], err, restarting ? " (restarting: "
			    "serving on without it)" : "");
			/*
			 * A restart goes on with what it has: giving up here
			 * would leave the old workers without a master.
			 */
			if (restarting)
				continue;
			listen_close(&L, 1);
			return -1;
		}
	}
	/* a restart that could bind nothing keeps what it was handed */
	if (L.n == 0 && restarting && got.n > 0) {
		ih_log(IH_LOG_ERR, "restarting: no `port` could be bound; "
		    "serving on the sockets of the old configuration");
		for (j = 0; j < got.n && L.n < LISTENERS_MAX; j++)
			if (got.v[j].fd != -1)
				L.v[L.n++] = got.v[j];
	}
	/* inherited sockets no spec wants any more */
	for (j = 0; j < got.n; j++) {
		int kept = 0;

		for (k = 0; k < L.n; k++)
			kept |= L.v[k].fd == got.v[j].fd;
		if (!kept && got.v[j].fd != -1) {
			ih_log(IH_LOG_NOTICE, "no longer listening on %s",
			    got.v[j].name);
			close(got.v[j].fd);
			if (got.v[j].path[0] != '\0')
				unlink(got.v[j].path);
		}
	}
	if (L.n == 0) {
		ih_log(IH_LOG_ERR, "standalone: no `port` to listen on (for "
		    "example: port 127.0.0.1:8080)");
		return -1;
	}
	for (k = 0; k < L.n; k++)
		fcntl(L.v[k].fd, F_SETFL, fcntl(L.v[k].fd, F_GETFL) |
		    O_NONBLOCK);
	return 0;
}

/* ---- workers ------------------------------------------------------- */

static int
nlive(void)
{
	int i, n = 0;

	for (i = 0; i < nkids; i++)
		n += !kids[i].retired;
	return n;
}

/*
 * Out of descriptors, accept fails while the connection stays queued and
 * the socket readable: wait a moment instead of spinning on it.
 */
static void
accept_failed(void)
{
	if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
	    errno == ENOMEM) {
		ih_log(IH_LOG_WARN, "accept: %s", strerror(errno));
		poll(NULL, 0, 100);
	}
}

/* The next connection for a worker, or -1 when it should stop. */
static int
worker_accept(int ep)
{
	struct pollfd pfd[LISTENERS_MAX + 1];
	int i, n, fd, locked = 0;

	for (;;) {
		if (serve_stopping)
			goto stop;
		if (ep != -1) {
			struct epoll_event ev[8];

			n = epoll_wait(ep, ev, 8, -1);
			if (n == -1 && errno != EINTR) {
				ih_log(IH_LOG_ERR, "epoll_wait: %s",
				    strerror(errno));
				goto stop;
			}
			/*
			 * Accept before heeding a stop: with EPOLLEXCLUSIVE
			 * this worker may be the one the kernel woke for the
			 * connection, and nobody else would be.
			 */
			for (i = 0; i < n; i++) {
				if (ev[i].data.u32 == LISTENERS_MAX)
					continue;
				fd = accept4(L.v[ev[i].data.u32].fd, NULL, NULL,
				    SOCK_CLOEXEC);
				serve_tls = L.v[ev[i].data.u32].tls;
				serve_proxy = L.v[ev[i].data.u32].proxy;
				if (fd != -1)
					return fd;
			}
			for (i = 0; i < n; i++)
				if (ev[i].data.u32 == LISTENERS_MAX)
					goto stop;
		} else {
			if (lock_fd != -1 && !locked) {
				if (flock(lock_fd, LOCK_EX) == -1)
					continue;	/* EINTR: QUIT? */
				locked = 1;
			}
			for (i = 0; i < L.n; i++) {
				pfd[i].fd = L.v[i].fd;
				pfd[i].events = POLLIN;
			}
			pfd[L.n].fd = wake_r;
			pfd[L.n].events = POLLIN;
			n = poll(pfd, (nfds_t)L.n + 1, -1);
			for (i = 0; n > 0 && i < L.n; i++) {
				if (pfd[i].revents == 0)
					continue;
				fd = accept4(L.v[i].fd, NULL, NULL,
				    SOCK_CLOEXEC);
				serve_tls = L.v[i].tls;
				serve_proxy = L.v[i].proxy;
				if (fd != -1) {
					if (locked)
						flock(lock_fd, LOCK_UN);
					return fd;
				}
			}
			if (n > 0 && pfd[L.n].revents != 0)
				goto stop;
		}
		accept_failed();
	}
stop:
	if (locked)
		flock(lock_fd, LOCK_UN);
	return -1;
}

/* A worker's life: accept, serve, until max_requests or a stop. */
static void __attribute__((noreturn))
worker_main(int slot)
{
	int ep = -1, i;
	long long served = 0;

	board_me = slot;
	close(sig_r);
	close(sig_w);
	if (make_pipe(&wake_r, &wake_w) == -1)
		_exit(3);
	worker_signals();
	conn_idle_fds[0] = wake_r;
	conn_idle_nfds = 1;
	if (lock_fd != -1) {
		char path[64];
		int fd;

		/* flock is per open file: each worker opens its own */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", lock_fd);
		fd = open(path, O_RDWR | O_CLOEXEC);
		close(lock_fd);
		lock_fd = fd;
		if (fd == -1)
			ih_log(IH_LOG_WARN, "serialize flock: %s: %s", path,
			    strerror(errno));
	}
	if (cfg.serialize == SER_EPOLL) {
		struct epoll_event ev;

		if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
			_exit(3);
		for (i = 0; i < L.n; i++) {
			ev.events = EPOLLIN | EPOLLEXCLUSIVE;
			ev.data.u32 = (uint32_t)i;
			if (epoll_ctl(ep, EPOLL_CTL_ADD, L.v[i].fd, &ev) == -1)
				_exit(3);
		}
		ev.events = EPOLLIN;
		ev.data.u32 = LISTENERS_MAX;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, wake_r, &ev) == -1)
			_exit(3);
	}
	if (drop_privileges() == -1)
		_exit(3);
	if (orphan_guard() == -1)
		_exit(0);
	board_set(BS_IDLE, "", "");
	while (!serve_stopping && served < cfg.max_requests) {
		int fd = worker_accept(ep);

		if (fd == -1)
			break;
		served++;
		worker_serving = 1;
		serve_connection(fd, fd);
		worker_serving = 0;
		close(fd);
		board_set(BS_IDLE, "", "");
	}
	_exit(0);
}

static struct kid *
kid_of(pid_t pid)
{
	int i;

	for (i = 0; i < nkids; i++)
		if (kids[i].pid == pid)
			return &kids[i];
	return NULL;
}

/*
 * Fork a worker (or, with fd >= 0, a fork-personality child for that
 * connection).  0, or -1 when no slot or fork failed.
 */
static int
spawn(int fd)
{
	sigset_t old;
	pid_t pid;
	int slot;

	if (nkids == kids_cap) {
		int cap = kids_cap > 0 ? kids_cap * 2 : 64;
		struct kid *k = realloc(kids, (size_t)cap * sizeof(*k));

		if (k == NULL)
			return -1;
		kids = k;
		kids_cap = cap;
	}
	if ((slot = board_claim(0)) == -1)
		return -1;
	block_signals(&old);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		board->slot[slot].pid = getpid();
		if (fd == -1)
			worker_main(slot);
		/* fork personality: this child serves one connection */
		board_me = slot;
		listen_close(&L, 0);
		close(sig_r);
		close(sig_w);
		worker_signals();
		if (drop_privileges() == -1)
			_exit(3);
		if (orphan_guard() == -1)
			_exit(0);
		serve_connection(fd, fd);
		_exit(0);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid == -1) {
		ih_log(IH_LOG_ERR, "fork: %s", strerror(errno));
		board_release(slot);
		return -1;
	}
	board->slot[slot].pid = pid;
	board->spawned++;
	kids[nkids].pid = pid;
	kids[nkids].slot = slot;
	kids[nkids].retired = 0;
	kids[nkids].born = mono_ms();
	nkids++;
	if (fd == -1)
		ih_log(IH_LOG_NOTICE, "worker %ld started (slot %d)", (long)pid,
		    slot);
	return 0;
}

static void
retire(struct kid *k, const char *why)
{
	if (k->retired)
		return;
	k->retired = 1;
	kill(k->pid, SIGQUIT);
	ih_log(IH_LOG_NOTICE, "worker %ld told to finish (%s)", (long)k->pid,
	    why);
}

/* Old workers are ours only while they are our children. */
static int
our_child(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	/* "pid (comm) state ppid ...": comm may hold anything */
	return (p = strrchr(buf, ')')) != NULL && p[1] == ' ' && p[2] != '\0' &&
	    strtol(p + 3, NULL, 10) == (long)getpid();
}

static void
signal_old(int sig)
{
	int i;

	for (i = 0; i < nold; i++)
		if (our_child(old_pids[i]))
			kill(old_pids[i], sig);
}

/*
 * graceful_timeout passed: TERM the workers still busy, so that a
 * running CGI script's group goes along (cgi.c), then KILL whatever
 * still runs a second later.
 */
static void
kill_busy(void)
{
	int64_t until = mono_ms() + 1000;
	int i;

	for (i = 0; i < nkids; i++)
		kill(kids[i].pid, SIGTERM);
	signal_old(SIGTERM);
	/* the master is about to finish: reaping any child is fine here */
	while (mono_ms() < until && waitpid(-1, NULL, WNOHANG) >= 0)
		(void)poll(NULL, 0, 20);
	for (i = 0; i < nkids; i++)
		kill(kids[i].pid, SIGKILL);
	signal_old(SIGKILL);
}

/* An old worker was reaped: it is no longer one to signal or pass on. */
static void
forget_old(pid_t pid)
{
	int i;

	for (i = 0; i < nold; i++)
		if (old_pids[i] == pid) {
			old_pids[i] = old_pids[--nold];
			return;
		}
}

/*
 * Signals that came while a restart was decided: a stop wins over the
 * re-exec (which would otherwise drop them with the pipe).  1 if one
 * came (and was acted on: a graceful stop returns).
 */
static int
stop_pending(void)
{
	unsigned char b[64];
	ssize_t n, i;
	int quit = 0;

	while ((n = read(sig_r, b, sizeof(b))) > 0)
		for (i = 0; i < n; i++) {
			if (b[i] == SIGTERM || b[i] == SIGINT) {
				ih_log(IH_LOG_NOTICE, "signal %s received: "
				    "not restarting", signame(b[i]));
				stop_now();
			}
			quit |= b[i] == SIGQUIT;
		}
	if (quit) {
		ih_log(IH_LOG_NOTICE, "signal QUIT received: not restarting");
		stop_gracefully();
	}
	return quit;
}

static void
check_done(int status)
{
	check_pid = -1;
	if (stopping) {
		ih_log(IH_LOG_NOTICE, "HUP: stopping, so not restarting");
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		char fds[LISTENERS_MAX * (LISTEN_SPEC_MAX + 16)];
		char *olds, num[24];
		size_t cap = (size_t)(nkids + nold) * 12 + 1, i;
		sigset_t old;
		int k;

		if (listen_export(&L, fds, sizeof(fds)) == -1 ||
		    (olds = malloc(cap)) == NULL) {
			ih_log(IH_LOG_ERR, "HUP: cannot hand over the sockets");
			return;
		}
		olds[0] = '\0';
		for (i = 0; i < (size_t)nkids; i++)
			snprintf(olds + strlen(olds), cap - strlen(olds),
			    "%ld,", (long)kids[i].pid);
		/* only those still alive: the list must not grow per HUP */
		for (k = 0; k < nold; k++)
			if (our_child(old_pids[k]))
				snprintf(olds + strlen(olds), cap -
				    strlen(olds), "%ld,", (long)old_pids[k]);
		snprintf(num, sizeof(num), "%d", board->restarts + 1);
		setenv("IHTTPD_LISTEN_FDS", fds, 1);
		setenv("IHTTPD_OLD_WORKERS", olds, 1);
		setenv("IHTTPD_RESTARTS", num, 1);
		if (detached)
			setenv("IHTTPD_DETACHED", "1", 1);
		ih_log(IH_LOG_NOTICE, "HUP: configuration OK, restarting");
		/* the new image unblocks once its handlers are in place */
		block_signals(&old);
		if (stop_pending()) {
			sigprocmask(SIG_SETMASK, &old, NULL);
			free(olds);
			return;
		}
		for (k = 0; k < L.n; k++)
			fcntl(L.v[k].fd, F_SETFD, 0);
		if (pid_fd != -1) {
			snprintf(num, sizeof(num), "%d", pid_fd);
			setenv("IHTTPD_PID_FD", num, 1);
			fcntl(pid_fd, F_SETFD, 0);
		}
		fflush(NULL);
		execv(exe_path, argv_copy);
		free(olds);
		if (pid_fd != -1)
			fcntl(pid_fd, F_SETFD, FD_CLOEXEC);
		unsetenv("IHTTPD_PID_FD");
		sigprocmask(SIG_SETMASK, &old, NULL);
		ih_log(IH_LOG_ERR, "HUP: exec %s: %s; still running",
		    exe_path, strerror(errno));
		for (k = 0; k < L.n; k++)
			fcntl(L.v[k].fd, F_SETFD, FD_CLOEXEC);
		unsetenv("IHTTPD_LISTEN_FDS");
		unsetenv("IHTTPD_OLD_WORKERS");
		unsetenv("IHTTPD_RESTARTS");
		unsetenv("IHTTPD_DETACHED");
		return;
	}
	ih_log(IH_LOG_ERR, "HUP: the new configuration has errors (logged "
	    "above); still serving with the old one");
}

/* HUP: check the config in a child; check_done re-execs if it passed. */
static void
restart(void)
{
	sigset_t old;
	pid_t pid;

	if (check_pid != -1) {
		ih_log(IH_LOG_NOTICE, "HUP: a restart is already being checked");
		return;
	}
	if (cfg.type == SRV_SINGLE && (cfg.chroot != NULL || drop_ids)) {
		ih_log(IH_LOG_ERR, "HUP: a single server that dropped its "
		    "privileges cannot restart itself; stop and start it");
		return;
	}
	block_signals(&old);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int co, rc, ac;

		sigprocmask(SIG_SETMASK, &old, NULL);
		for (ac = 0; argv_copy[ac] != NULL; ac++)
			;
		config_free();
		memset(&cfg, 0, sizeof(cfg));
		rc = config_load(ac, argv_copy, &co);
		if (rc == 0 && config_check() + daemon_check() + tls_check() > 0)
			rc = -1;
		_exit(rc == 0 ? 0 : 1);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid == -1) {
		ih_log(IH_LOG_ERR, "HUP: fork: %s", strerror(errno));
		return;
	}
	check_pid = pid;
}

static void
reap(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct kid *k = kid_of(pid);
		char how[64];
		int64_t lived;

		if (pid == check_pid) {
			check_done(status);
			continue;
		}
		if (WIFSIGNALED(status))
			snprintf(how, sizeof(how), "killed by SIG%s",
			    signame(WTERMSIG(status)));
		else
			snprintf(how, sizeof(how), "exit %d",
			    WEXITSTATUS(status));
		if (k == NULL) {
			ih_log(IH_LOG_NOTICE, "old worker %ld ended (%s)",
			    (long)pid, how);
			forget_old(pid);
			continue;
		}
		lived = mono_ms() - k->born;
		if (cfg.type != SRV_FORK || WIFSIGNALED(status) ||
		    WEXITSTATUS(status) != 0)
			/* TERM/INT: the process group's, as Ctrl-C sends */
			ih_log(WIFSIGNALED(status) && !stopping &&
			    WTERMSIG(status) != SIGTERM &&
			    WTERMSIG(status) != SIGINT ? IH_LOG_WARN :
			    IH_LOG_NOTICE, "worker %ld ended (%s) after %lld ms",
			    (long)pid, how, (long long)lived);
		/* Dying at start, again and again: back off, do not loop. */
		if (!k->retired && !stopping && lived < FAST_DEATH_MS &&
		    (WIFSIGNALED(status) || WEXITSTATUS(status) != 0)) {
			int64_t wait;

			if (++fast_deaths >= 3) {
				wait = 1000LL << (fast_deaths - 3 > 5 ? 5 :
				    fast_deaths - 3);
				if (wait > BACKOFF_MAX)
					wait = BACKOFF_MAX;
				spawn_after = mono_ms() + wait;
				ih_log(IH_LOG_ERR, "workers die as they start "
				    "(%d in a row): next spawn in %lld ms",
				    fast_deaths, (long long)wait);
			}
		} else if (lived >= FAST_DEATH_MS)
			fast_deaths = 0;
		board_release(k->slot);
		*k = kids[--nkids];
	}
}

/* prefork / preforksimple: keep the pool within its bounds. */
static void
manage(void)
{
	int64_t now = mono_ms();
	int live = nlive(), idle = 0, want = 0, i, spawned = 0;

	if (stopping || cfg.type == SRV_FORK || now < spawn_after)
		return;
	for (i = 0; i < nkids; i++) {
		int st = board->slot[kids[i].slot].state;

		idle += !kids[i].retired && (st == BS_IDLE || st ==
		    BS_STARTING);
	}
	if (now - window_start >= 1000) {
		/* Apache's rule: double the rate while spares stay short */
		spawn_rate = window_spawns >= spawn_rate ? (spawn_rate * 2 >
		    SPAWN_RATE_MAX ? SPAWN_RATE_MAX : spawn_rate * 2) : 1;
		window_start = now;
		window_spawns = 0;
	}
	if (cfg.type == SRV_PREFORKSIMPLE)
		want = max_now - live;
	else if (live < cfg.min_servers)
		want = (int)cfg.min_servers - live;
	else if (idle < cfg.min_spare_servers) {
		want = (int)cfg.min_spare_servers - idle;
		if (want > spawn_rate - window_spawns)
			want = spawn_rate - window_spawns;
		window_spawns += want > 0 ? want : 0;
	}
	if (want > max_now - live)
		want = max_now - live;
	for (i = 0; i < want; i++)
		if (spawn(-1) == 0)
			spawned++;
	/* Too many: one idle worker a second, as Apache does. */
	if ((live - spawned > max_now || (cfg.type == SRV_PREFORK && idle >
	    cfg.max_spare_servers && live > cfg.min_servers)) &&
	    now - last_retire >= 1000) {
		for (i = 0; i < nkids; i++)
			if (!kids[i].retired &&
			    board->slot[kids[i].slot].state == BS_IDLE) {
				retire(&kids[i], live > max_now ?
				    "above max_servers" : "spare");
				break;
			}
		last_retire = now;
	}
}

static void
cleanup_files(void)
{
	if (pid_written)
		unlink(pid_path);
	pid_written = 0;
}

/* TERM/INT or the end of a graceful stop: gone. */
static void __attribute__((noreturn))
finish(int rc)
{
	ih_log(IH_LOG_NOTICE, "stopped");
	listen_close(&L, 1);
	cleanup_files();
	log_close();
	exit(rc);
}

static void
stop_now(void)
{
	int64_t end = mono_ms() + STOP_NOW_WAIT;
	int i;

	stopping = 2;
	listen_close(&L, 1);
	if (check_pid != -1)
		kill(check_pid, SIGKILL);	/* no restart now */
	for (i = 0; i < nkids; i++)
		kill(kids[i].pid, SIGTERM);
	signal_old(SIGTERM);
	while (nkids > 0 && mono_ms() < end) {
		poll(NULL, 0, 20);
		reap();
	}
	for (i = 0; i < nkids; i++)
		kill(kids[i].pid, SIGKILL);
	finish(0);
}

static void
stop_gracefully(void)
{
	int i;

	if (stopping)
		return;
	stopping = 1;
	stop_deadline = mono_ms() + cfg.graceful_timeout * 1000;
	listen_close(&L, 1);
	if (check_pid != -1)
		kill(check_pid, SIGKILL);	/* no restart now */
	for (i = 0; i < nkids; i++)
		retire(&kids[i], "graceful stop");
	signal_old(SIGQUIT);
	ih_log(IH_LOG_NOTICE, "graceful stop: %d workers finishing, at most "
	    "%lld s", nkids, cfg.graceful_timeout);
}

static void
handle_signal(int sig)
{
	int i;

	if (sig != SIGCHLD)
		ih_log(IH_LOG_NOTICE, "signal %s received", signame(sig));
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		stop_now();
		break;
	case SIGQUIT:
		stop_gracefully();
		break;
	case SIGHUP:
		if (!stopping)
			restart();
		break;
	case SIGUSR1:
		if (log_reopen() == -1)
			ih_log(IH_LOG_ERR, "USR1: some logs did not reopen");
		/* new workers inherit the new files; old ones finish */
		for (i = 0; cfg.type != SRV_FORK && i < nkids; i++)
			retire(&kids[i], "logs reopened");
		break;
	case SIGTTIN:
	case SIGTTOU:
		if (sig == SIGTTIN && max_now < board_nslots() / 2)
			max_now++;
		else if (sig == SIGTTOU && max_now > 1)
			max_now--;
		board->max_servers = max_now;
		ih_log(IH_LOG_NOTICE, "max_servers is now %d", max_now);
		break;
	case SIGCHLD:
		reap();
		break;
	}
}

static void
drain_signals(void)
{
	unsigned char b[64];
	ssize_t n, i;

	/*
	 * Stops first: a SIGCHLD handled before them could end in a HUP's
	 * re-exec, which would lose the rest of the buffer.
	 */
	while ((n = read(sig_r, b, sizeof(b))) > 0) {
		for (i = 0; i < n; i++)
			if (b[i] == SIGTERM || b[i] == SIGINT ||
			    b[i] == SIGQUIT)
				handle_signal(b[i]);
		for (i = 0; i < n; i++)
			if (b[i] != SIGTERM && b[i] != SIGINT &&
			    b[i] != SIGQUIT)
				handle_signal(b[i]);
	}
}

/*
 * wait mode: no connection for idle_exit seconds ends the server.  The
 * quiet time runs on the monotonic clock from the last check that saw a
 * busy slot or a connection counted since: the slots' since_ms is wall
 * time, which steps, and stands still under IHTTPD_FIXED_TIME (an idle
 * server then never exited).
 */
static int
idle_too_long(void)
{
	static int64_t quiet_since;
	static unsigned long long seen = ~0ULL;
	unsigned long long conns = board->done_conns;
	int i, busy = 0;

	for (i = 0; i < board_nslots(); i++) {
		struct board_slot s;

		board_read(i, &s);
		busy |= s.state != BS_EMPTY && s.state != BS_IDLE &&
		    s.state != BS_STARTING;
		conns += s.conns;
	}
	if (busy || conns != seen) {
		seen = conns;
		quiet_since = mono_ms();
		return 0;
	}
	return mono_ms() - quiet_since >= cfg.idle_exit * 1000;
}

/* fork personality: the master accepts; a child serves each connection. */
static void
fork_accept(struct pollfd *pfd, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		int fd;

		if (pfd[i].revents == 0 || nlive() >= max_now)
			continue;
		if ((fd = accept4(pfd[i].fd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
			accept_failed();
			continue;
		}
		serve_tls = L.v[i].tls;
		serve_proxy = L.v[i].proxy;	/* pfd[i] is L.v[i] */
		if (spawn(fd) == -1) {
			/* no slot or no fork: refuse this one, keep going */
			ih_log(IH_LOG_ERR, "cannot fork for a connection");
		}
		close(fd);
	}
}

static void __attribute__((noreturn))
master_loop(void)
{
	for (;;) {
		struct pollfd pfd[LISTENERS_MAX + 1];
		int n = 0, i, timeout = 1000;

		if (cfg.type == SRV_FORK && !stopping && nlive() < max_now)
			for (i = 0; i < L.n; i++) {
				pfd[n].fd = L.v[i].fd;
				pfd[n++].events = POLLIN;
			}
		pfd[n].fd = sig_r;
		pfd[n].events = POLLIN;
		if (stopping == 1 || spawn_after > mono_ms())
			timeout = 100;
		if (poll(pfd, (nfds_t)n + 1, timeout) > 0 && n > 0)
			fork_accept(pfd, n);
		drain_signals();
		reap();
		tls_tick();
		if (nold > 0 && old_deadline != 0 && mono_ms() >= old_deadline) {
			/*
			 * The old generation had graceful_timeout to finish:
			 * TERM (a worker's running CGI script goes with its
			 * group), KILL what is left a second later.
			 */
			if (!old_termed) {
				ih_log(IH_LOG_WARN, "old workers still busy "
				    "after graceful_timeout: killed");
				signal_old(SIGTERM);
				old_termed = 1;
				old_deadline = mono_ms() + 1000;
			} else {
				signal_old(SIGKILL);
				old_termed = 0;
				old_deadline = 0;
			}
		}
		if (stopping == 1) {
			if (nkids == 0 && nold == 0)
				finish(0);
			if (mono_ms() >= stop_deadline) {
				ih_log(IH_LOG_WARN, "graceful_timeout: killing "
				    "%d workers still busy", nkids);
				kill_busy();
				finish(0);
			}
			/* old workers: wait until none is our child */
			if (nkids == 0 && waitpid(-1, NULL, WNOHANG) == -1 &&
			    errno == ECHILD)
				finish(0);
			continue;
		}
		manage();
		if (wait_mode && idle_too_long()) {
			ih_log(IH_LOG_NOTICE, "idle for %lld s: exiting",
			    cfg.idle_exit);
			stop_gracefully();
		}
	}
}

/*
 * single after a HUP from another type: the old image's workers are its
 * children, and it handles no SIGCHLD; reap those that ended.
 */
static void
reap_old(void)
{
	int i, left = 0;

	for (i = 0; i < nold; i++)
		if (old_pids[i] > 0 && waitpid(old_pids[i], NULL, WNOHANG) == 0)
			old_pids[left++] = old_pids[i];	/* still running */
	nold = left;
}

/* single: one process, one connection at a time. */
static void __attribute__((noreturn))
single_loop(void)
{
	struct pollfd pfd[LISTENERS_MAX + 1];
	int i;

	if (drop_privileges() == -1)
		finish(1);
	/* keep-alive gives way as soon as another client or a signal waits */
	for (i = 0; i < L.n; i++)
		conn_idle_fds[i] = L.v[i].fd;
	conn_idle_fds[L.n] = sig_r;
	conn_idle_nfds = L.n + 1;
	conn_yield = 1;
	board_set(BS_IDLE, "", "");
	for (;;) {
		int n, fd;

		for (i = 0; i < L.n; i++) {
			pfd[i].fd = L.v[i].fd;
			pfd[i].events = POLLIN;
		}
		pfd[L.n].fd = sig_r;
		pfd[L.n].events = POLLIN;
		n = poll(pfd, (nfds_t)L.n + 1, wait_mode || nold > 0 ||
		    tls_on ? 1000 : -1);
		if (nold > 0)
			reap_old();
		tls_tick();
		if (pfd[L.n].revents != 0) {
			unsigned char b[64];
			ssize_t k, j;

			while ((k = read(sig_r, b, sizeof(b))) > 0)
				for (j = 0; j < k; j++) {
					if (b[j] == SIGCHLD)
						continue;
					ih_log(IH_LOG_NOTICE, "signal %s "
					    "received", signame(b[j]));
					if (b[j] == SIGTERM || b[j] == SIGINT ||
					    b[j] == SIGQUIT)
						finish(0);
					if (b[j] == SIGHUP)
						restart();
					if (b[j] == SIGUSR1)
						(void)log_reopen();
				}
			if (check_pid != -1) {
				int st;

				/* the check takes milliseconds: wait for it */
				if (waitpid(check_pid, &st, 0) == check_pid)
					check_done(st);
				check_pid = -1;
			}
		}
		for (i = 0; n > 0 && i < L.n; i++) {
			if (pfd[i].revents == 0)
				continue;
			if ((fd = accept4(L.v[i].fd, NULL, NULL,
			    SOCK_CLOEXEC)) == -1) {
				accept_failed();
				continue;
			}
			single_serving = 1;
			serve_tls = L.v[i].tls;
			serve_proxy = L.v[i].proxy;
			serve_connection(fd, fd);
			single_serving = 0;
			close(fd);
			board_set(BS_IDLE, "", "");
			if (serve_stopping)
				finish(0);
		}
		if (wait_mode && idle_too_long()) {
			ih_log(IH_LOG_NOTICE, "idle for %lld s: exiting",
			    cfg.idle_exit);
			finish(0);
		}
	}
}

/* ---- entry points -------------------------------------------------- */

/* Should this process listen (standalone, systemd, inetd wait)? */
int
daemon_wanted(void)
{
	const char *pid = getenv("LISTEN_PID");

	const char *nfds = getenv("LISTEN_FDS");
	long long n, i;

	if (cfg.standalone || getenv("IHTTPD_LISTEN_FDS") != NULL)
		return 1;
	/*
	 * systemd passes LISTEN_FDS for Accept=yes too, with the connection
	 * at fd 3: only listening sockets make a daemon of us.
	 */
	if (pid != NULL && nfds != NULL && atoll(pid) == (long long)getpid() &&
	    str_to_ll(nfds, 1, LISTENERS_MAX, &n) == 0) {
		for (i = 0; i < n; i++)
			if (listen_is_socket(3 + (int)i))
				return 1;
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_FDNAMES");
	}
	return listen_is_socket(0);
}

/*
 * --check (and HUP's check) for a standalone config: users, groups and
 * the chroot exist and fit.  The problems found, each logged.
 */
int
daemon_check(void)
{
	int n = 0;

	if (!cfg.standalone)
		return 0;
	if (cfg.ports.n == 0 && !sockets_passed()) {
		ih_log(IH_LOG_ERR, "%s: standalone needs a `port` (for "
		    "example: port 127.0.0.1:8080)", cfg.file != NULL ?
		    cfg.file : "command line");
		n++;
	}
	if (resolve_ids() == -1)
		n++;
	/* `tls on` would leave every port plain: never silently */
	if (cfg.tls && !sockets_passed() && listen_first_tls(&cfg.ports) == -1)
		n += no_tls_port();
	if (cfg.chroot != NULL) {
		struct stat st;

		if (stat(cfg.chroot, &st) == -1 || !S_ISDIR(st.st_mode)) {
			ih_log(IH_LOG_ERR, "chroot %s: not a directory",
			    cfg.chroot);
			n++;
		} else if (geteuid() == 0 && check_chroot() == -1)
			n++;
	}
	return n;
}

/*
 * Keep argv (config_load leaves it as given) and the binary for HUP's
 * re-exec.  Only a daemon pays for this, not every inetd start.
 */
static void
save_argv(int argc, char **argv)
{
	int i;

	if ((argv_copy = calloc((size_t)argc + 1, sizeof(char *))) == NULL)
		return;
	for (i = 0; i < argc; i++)
		argv_copy[i] = argv[i];
	if (realpath("/proc/self/exe", exe_path) == NULL)
		snprintf(exe_path, sizeof(exe_path), "/proc/self/exe");
}

static void
read_old_workers(void)
{
	const char *v = getenv("IHTTPD_OLD_WORKERS");
	const char *r = getenv("IHTTPD_RESTARTS");
	const char *p;
	int n = 1;

	if (r != NULL)
		board->restarts = atoi(r);
	if (v == NULL)
		return;
	for (p = v; *p != '\0'; p++)
		n += *p == ',';
	if ((old_pids = calloc((size_t)n, sizeof(pid_t))) != NULL)
		for (p = v; *p != '\0' && nold < n; ) {
			char *end;
			long pid = strtol(p, &end, 10);

			if (pid > 1)
				old_pids[nold++] = (pid_t)pid;
			p = end;
			if (*p == ',')
				p++;
			else
				break;
		}
	unsetenv("IHTTPD_OLD_WORKERS");
	unsetenv("IHTTPD_RESTARTS");
}

/*
 * Run the daemon.  Returns only on a start-up error (1); otherwise the
 * process ends in finish() or in a worker's _exit.
 */
int
daemon_run(int argc, char **argv)
{
	int i, restarted = getenv("IHTTPD_RESTARTS") != NULL, nslots;

	restarting = restarted;
	save_argv(argc, argv);
	conn_standalone = 1;
	/*
	 * The re-exec of a background daemon: standard error is still
	 * /dev/null, so what went to it goes to syslog again (after a HUP
	 * the default error_log stderr was lost).
	 */
	if (restarted && getenv("IHTTPD_DETACHED") != NULL) {
		detached = 1;
		log_detach();
	}
	unsetenv("IHTTPD_DETACHED");
	if (!cfg.standalone && getenv("IHTTPD_LISTEN_FDS") == NULL &&
	    listen_is_socket(0) && (getenv("LISTEN_PID") == NULL ||
	    atoll(getenv("LISTEN_PID")) != (long long)getpid())) {
		wait_mode = 1;
		if (take_wait_socket() == -1)
			return 1;
	} else {
		cfg.standalone = 1;
		if (daemon_check() > 0 || open_listeners() == -1)
			return 1;
	}
	if (wait_mode && (resolve_ids() == -1 || check_chroot() == -1))
		return 1;
	if (!wait_mode && cfg.chroot != NULL && check_chroot() == -1)
		return 1;
	for (i = 0; i < L.n; i++) {
		ih_log(IH_LOG_NOTICE, "listening on %s", L.v[i].name);
		if (!wait_mode)
			fprintf(stderr, "ihttpd: listening on %s\n",
			    L.v[i].name);
	}
	fflush(stderr);
	if (!drop_ids && geteuid() == 0)
		ih_log(IH_LOG_WARN, "running as root without `user`: %s "
		    "every privilege", cfg.type == SRV_SINGLE ?
		    "the server keeps" : "workers keep");
	max_now = (int)cfg.max_servers;
	/* room for a second generation (HUP, USR1) and for TTIN */
	nslots = cfg.type == SRV_SINGLE ? 1 : max_now * 2 + 64;
	if (board_init(nslots, cfg.type != SRV_SINGLE) == -1) {
		ih_log(IH_LOG_ERR, "scoreboard: %s", strerror(errno));
		return 1;
	}
	board->type = (int)cfg.type;
	board->max_servers = max_now;
	read_old_workers();
	if (preload() == -1 || pidfile_check() == -1)
		return 1;
	if (cfg.background && !restarted && !wait_mode &&
	    go_background() == -1) {
		ih_log(IH_LOG_ERR, "background: %s", strerror(errno));
		return 1;
	}
	if (pidfile_write() == -1 && !restarting)
		return 1;
	board->master = master_pid = getpid();
	if (make_pipe(&sig_r, &sig_w) == -1) {
		ih_log(IH_LOG_ERR, "pipe: %s", strerror(errno));
		cleanup_files();
		return 1;
	}
	if (cfg.serialize == SER_FLOCK && cfg.type >= SRV_PREFORKSIMPLE &&
	    (lock_fd = memfd_create("ihttpd-accept", MFD_CLOEXEC)) == -1)
		ih_log(IH_LOG_WARN, "serialize flock: %s; accepting without",
		    strerror(errno));
	master_signals();
	ih_log(IH_LOG_NOTICE, "ihttpd %s %s: %s server, pid %ld%s",
	    IHTTPD_VERSION, restarted ? "restarted" : "started",
	    type_names[cfg.type], (long)getpid(), wait_mode ?
	    " (inetd wait mode)" : "");
	if (cfg.type == SRV_SINGLE) {
		/* the one slot is this process's (after the fork to detach) */
		board_me = board_claim(getpid());
		board->spawned = 1;
		/* a HUP from another type: its workers would serve on forever */
		signal_old(SIGQUIT);
		say_ready();
		single_loop();
	}
	window_start = mono_ms();
	manage();
	if (cfg.type == SRV_PREFORK)
		while (nlive() < cfg.min_servers && spawn(-1) == 0)
			;
	/* the old image's workers finish what they serve, then exit */
	signal_old(SIGQUIT);
	if (nold > 0)
		old_deadline = mono_ms() + cfg.graceful_timeout * 1000;
	old_termed = 0;
	say_ready();
	master_loop();
}
