/*
 * test_redis.c - session_store redis against a redis-server of its own
 * (started here on a free loopback port, stopped by its pid; every check
 * is skipped when there is no redis-server): values are byte strings,
 * an id never issued is adopted by nothing and leaves no key, destroy
 * and renew, max_sessions across "nodes", the lock and its version
 * fallback (no lost update when a lock times out under a slow request),
 * and a Redis that stops answering: a bounded failure, the request
 * marked for 503, and the file store never touched.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "internal.h"
#include "unit.h"

static char datadir[] = "/tmp/ihttpd-test-redis.XXXXXX";
static char cookie_name[] = "s", prefix[] = "t:", addr[64];
static char hn_cookie[] = "Cookie", m_get[] = "GET", query[] = "";

struct rq {
	struct ih_request r;
	struct conn	  c;
	struct arena	  a;
	struct header	  h[1];
	char		  cookie[128];
};

static void
rq_start(struct rq *q, const char *id)
{
	memset(q, 0, sizeof(*q));
	q->c.in = q->c.out = -1;
	q->c.nreq = 1;
	strcpy(q->c.peer, "192.0.2.1");
	q->r.c = &q->c;
	q->r.a = &q->a;
	q->r.hd.h = q->h;
	q->r.hd.method = m_get;
	q->r.hd.query = query;
	q->r.hd.version = 11;
	q->r.hd.clen = -1;
	q->r.status = 200;
	if (id != NULL) {
		snprintf(q->cookie, sizeof(q->cookie), "s=%s", id);
		q->h[0].name = hn_cookie;
		q->h[0].value = q->cookie;
		q->r.hd.nh = 1;
	}
}

static void
rq_end(struct rq *q)
{
	sess_finish(&q->r);
	arena_reset(&q->a);
	free(q->a.head);
	memset(q, 0, sizeof(*q));
}

static int
free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == -1)
		return -1;
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static pid_t
redis_start(int port)
{
	char p[16];
	pid_t pid;
	int i;

	snprintf(p, sizeof(p), "%d", port);
	if ((pid = fork()) == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		execlp("redis-server", "redis-server", "--port", p, "--bind",
		    "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
		    datadir, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 100; i++) {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

		sa.sin_port = htons((uint16_t)port);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(fd);
		if (ok)
			return pid;
		usleep(50000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/* How many keys under the prefix match pattern (redis KEYS). */
static long
keys(const char *pattern)
{
	const char *argv[2] = { "KEYS", pattern };
	size_t len[2] = { 4, strlen(pattern) };
	redisReply *rep = redis_run(NULL, "test", 2, argv, len);
	long n = -1;

	if (rep != NULL && rep->type == REDIS_REPLY_ARRAY)
		n = (long)rep->elements;
	redis_free(rep);
	return n;
}

static int
has_set_cookie(const struct ih_request *r)
{
	return r->rhlen > 0 && memmem(r->rh, r->rhlen, "Set-Cookie: s=", 14) !=
	    NULL;
}

static void
test_values(void)
{
	static const char bin[] = "a\0b\nc\r\n\xff\x00z";
	char id[32];
	const char *v;
	size_t len = 0;
	struct rq q;

	rq_start(&q, NULL);
	CHECK(ih_session_set(&q.r, "k", bin, sizeof(bin)) == 0,
	    "a binary value is stored (the session made)");
	CHECK(has_set_cookie(&q.r), "its cookie is sent");
	snprintf(id, sizeof(id), "%s", ih_session_id(&q.r));
	CHECK(strlen(id) == 22, "a 22-character id");
	rq_end(&q);
	CHECK(keys("t:s:*") == 1, "one session key");
	CHECK(keys("t:l:*") == 0, "its lock gone with the request");

	rq_start(&q, id);
	v = ih_session_get(&q.r, "k", &len);
	CHECK(v != NULL && len == sizeof(bin) && memcmp(v, bin, len) == 0,
	    "the value comes back byte for byte");
	CHECK(ih_session_set(&q.r, "k2", "x", 1) == 0, "another value set");
	rq_end(&q);
	rq_start(&q, id);
	CHECK(ih_session_get(&q.r, "k2", &len) != NULL && len == 1,
	    "both are there on the next visit");
	CHECK(ih_session_destroy(&q.r) == 0, "destroy");
	rq_end(&q);
	CHECK(keys("t:s:*") == 0 && keys("t:l:*") == 0,
	    "destroy leaves no key");
	rq_start(&q, id);
	CHECK(ih_session_get(&q.r, "k", NULL) == NULL,
	    "a destroyed session is not adopted");
	rq_end(&q);
}

static void
test_unknown(void)
{
	struct rq q;

	rq_start(&q, "AAAAAAAAAAAAAAAAAAAAAA");
	CHECK(ih_session_get(&q.r, "k", NULL) == NULL && ih_session_id(&q.r)
	    == NULL, "an id never issued: no session");
	CHECK(keys("t:*AAAAAAAAAAAA*") == 0, "and no key (not even a lock)");
	CHECK(ih_session_set(&q.r, "k", "v", 1) == 0, "a set makes a new one");
	CHECK(strcmp(ih_session_id(&q.r), "AAAAAAAAAAAAAAAAAAAAAA") != 0,
	    "with a new id, not the planted one");
	CHECK(ih_session_destroy(&q.r) == 0, "destroyed");
	rq_end(&q);
}

static void
test_renew(void)
{
	char id[32], id2[32];
	struct rq q;

	rq_start(&q, NULL);
	ih_session_set(&q.r, "user", "larry", 5);
	snprintf(id, sizeof(id), "%s", ih_session_id(&q.r));
	rq_end(&q);
	rq_start(&q, id);
	CHECK(ih_session_renew(&q.r) == 0, "renew");
	snprintf(id2, sizeof(id2), "%s", ih_session_id(&q.r));
	CHECK(strcmp(id, id2) != 0 && has_set_cookie(&q.r),
	    "a new id, and its cookie");
	rq_end(&q);
	rq_start(&q, id);
	CHECK(ih_session_get(&q.r, "user", NULL) == NULL,
	    "the old id is dead");
	rq_end(&q);
	rq_start(&q, id2);
	CHECK(ih_session_get(&q.r, "user", NULL) != NULL,
	    "the data moved to the new one");
	ih_session_destroy(&q.r);
	rq_end(&q);
}

static void
test_max(void)
{
	struct rq q[4];
	int i, ok = 0;

	cfg.max_sessions = 3;
	for (i = 0; i < 4; i++) {
		rq_start(&q[i], NULL);
		ok += ih_session_set(&q[i].r, "k", "v", 1) == 0;
	}
	CHECK(ok == 3, "max_sessions 3: three made (%d)", ok);
	CHECK(q[3].r.store_failed, "the fourth is a store failure (503)");
	for (i = 0; i < 4; i++) {
		ih_session_destroy(&q[i].r);
		rq_end(&q[i]);
	}
	cfg.max_sessions = 10000;
}

/*
 * Two requests of one session: the second waits for the first's lock.
 * With lock_timeout 1 the lock lives 500 ms: a request slower than that
 * loses it, and may still write only if nobody changed the session.
 */
static void
test_lock(void)
{
	char id[32];
	struct rq a, b;
	int64_t t;
	size_t len;
	const char *v;

	rq_start(&a, NULL);
	ih_session_set(&a.r, "n", "0", 1);
	snprintf(id, sizeof(id), "%s", ih_session_id(&a.r));
	rq_end(&a);

	cfg.lock_timeout = 1;
	/* a holds the session; b waits, then takes the timed-out lock */
	rq_start(&a, id);
	CHECK(ih_session_get(&a.r, "n", NULL) != NULL, "a loaded it");
	rq_start(&b, id);
	t = mono_ms();
	v = ih_session_get(&b.r, "n", &len);
	t = mono_ms() - t;
	CHECK(v != NULL, "b loaded it once a's lock timed out");
	CHECK(t >= 400 && t < 5000, "after about 500 ms (%lld)", (long long)t);
	CHECK(ih_session_set(&b.r, "n", "b", 1) == 0, "b's update is stored");
	rq_end(&b);
	CHECK(ih_session_set(&a.r, "n", "a", 1) == -1 && a.r.store_failed,
	    "a, whose lock timed out and whose copy is stale, may not write");
	rq_end(&a);
	rq_start(&a, id);
	v = ih_session_get(&a.r, "n", &len);
	CHECK(v != NULL && len == 1 && v[0] == 'b', "b's update stands");
	rq_end(&a);

	/* a slow request whose session nobody touched may still write */
	rq_start(&a, id);
	ih_session_get(&a.r, "n", NULL);
	usleep(700000);
	CHECK(keys("t:l:*") == 0, "its lock has timed out");
	CHECK(ih_session_set(&a.r, "n", "c", 1) == 0,
	    "nobody changed it: the write goes through");
	rq_end(&a);
	rq_start(&a, id);
	v = ih_session_get(&a.r, "n", &len);
	CHECK(v != NULL && v[0] == 'c', "and is kept");
	ih_session_destroy(&a.r);
	rq_end(&a);
	cfg.lock_timeout = 10;
}

static void
test_down(pid_t redis)
{
	struct stat st;
	char sdir[256];
	struct rq q;
	int64_t t;

	kill(redis, SIGSTOP);
	rq_start(&q, NULL);
	t = mono_ms();
	CHECK(ih_session_set(&q.r, "k", "v", 1) == -1, "Redis stopped: no set");
	t = mono_ms() - t;
	CHECK(q.r.store_failed, "the request is marked (503)");
	CHECK(t >= 250 && t < 5000, "after redis_timeout (%lld ms)",
	    (long long)t);
	t = mono_ms();
	CHECK(ih_session_set(&q.r, "k", "v", 1) == -1 && mono_ms() - t < 100,
	    "not tried again in the same request");
	rq_end(&q);
	snprintf(sdir, sizeof(sdir), "%s/sessions", datadir);
	CHECK(stat(sdir, &st) == -1, "the file store was never used");
	kill(redis, SIGCONT);
	q.c.nreq = 2;
	rq_start(&q, NULL);
	q.c.nreq = 2;
	CHECK(ih_session_set(&q.r, "k", "v", 1) == 0, "back with Redis");
	ih_session_destroy(&q.r);
	rq_end(&q);
}

int
main(void)
{
	pid_t redis;
	int port;

	if (mkdtemp(datadir) == NULL)
		return 2;
	if ((port = free_port()) == -1 || (redis = redis_start(port)) == -1) {
		printf("1..0 # SKIP no redis-server\n");
		unit_rmtree(datadir);
		return 0;
	}
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	memset(&cfg, 0, sizeof(cfg));
	cfg.datadir = datadir;
	cfg.sessions = 1;
	cfg.session_store = STORE_REDIS;
	cfg.redis_address = addr;
	cfg.redis_prefix = prefix;
	cfg.redis_timeout = 300;
	cfg.session_ttl = 60;
	cfg.session_cookie = cookie_name;
	cfg.max_sessions = 10000;
	cfg.lock_timeout = 10;
	cfg.log_level = -1;
	signal(SIGPIPE, SIG_IGN);

	test_values();
	test_unknown();
	test_renew();
	test_max();
	test_lock();
	test_down(redis);

	redis_close();
	kill(redis, SIGTERM);
	waitpid(redis, NULL, 0);
	unit_rmtree(datadir);
	return unit_done();
}
