/*
 * test_board.c - src/board.c: the one-slot board that works without
 * board_init (inetd and pipe mode), what board_set keeps of a request
 * (no query, no control bytes, truncated), claim/find/release folding a
 * worker's counts into done_*, the count by state, and a shared board
 * seen across fork.  The last test reads a slot while a child rewrites
 * it: a broken seqlock fails it only sometimes (it depends on how the
 * two processes interleave), a working one never.  A copy that
 * board_read gave up on (the child preempted inside a write for longer
 * than the reader waits, on a loaded machine) says so with an odd seq
 * and is not counted.
 */
#include <sys/wait.h>

#include <signal.h>

#include "internal.h"
#include "unit.h"

static struct board_slot S;

static void
read_me(void)
{
	board_read(board_me, &S);
}

static void
test_fallback(void)
{
	CHECK(board != NULL, "board is usable without board_init");
	CHECK_INT(board->nslots, 1, "fallback: one slot");
	CHECK_INT(board->type, SRV_INETD, "fallback: type inetd");
	CHECK_INT(board_count_state(BS_STARTING), 1,
	    "fallback: its slot starts as starting");
	CHECK_INT(board->master, getpid(), "fallback: master is this process");
	CHECK(board->start_ms > 0, "fallback: start_ms set on first use");

	board_set(BS_READING, "GET /a?password=hunter2 HTTP/1.1", "10.0.0.1");
	read_me();
	CHECK_INT(S.pid, getpid(), "fallback: slot pid is this process");
	CHECK_INT(S.state, BS_READING, "set: state");
	CHECK_STR(S.req, "GET /a", "set: the query is cut off");
	CHECK_STR(S.peer, "10.0.0.1", "set: peer");
	CHECK_INT(S.conns, 1, "starting -> reading counts a connection");
	CHECK_INT(S.seq % 2, 0, "seq even after a write");

	board_count(100);
	board_set(BS_WRITING, NULL, NULL);
	read_me();
	CHECK_INT(S.requests, 1, "count: a request");
	CHECK_INT(S.bytes, 100, "count: its bytes");
	CHECK_STR(S.req, "GET /a", "set NULL keeps the request");
	CHECK_STR(S.peer, "10.0.0.1", "set NULL keeps the peer");

	board_set(BS_KEEPALIVE, "", NULL);
	read_me();
	CHECK_STR(S.req, "", "set \"\" clears the request");
	board_set(BS_READING, "GET /b", NULL);
	read_me();
	CHECK_INT(S.conns, 1, "keepalive -> reading is the same connection");
	board_set(BS_CLOSING, NULL, NULL);
	board_set(BS_IDLE, NULL, NULL);
	board_set(BS_READING, NULL, "::1");
	read_me();
	CHECK_INT(S.conns, 2, "idle -> reading is a new connection");
	CHECK_STR(S.peer, "::1", "a new peer");
}

static void
test_text(void)
{
	char big[300];

	board_set(BS_WRITING, "GET /a\x01" "b\x7f" "c\td\r\n", "1.2.3.4\x1b");
	read_me();
	CHECK_STR(S.req, "GET /a?b?c?d??", "control bytes shown as '?'");
	CHECK_STR(S.peer, "1.2.3.4?", "peer control bytes shown as '?'");
	board_set(BS_WRITING, "GET /caf\xc3\xa9?q", NULL);
	read_me();
	CHECK_STR(S.req, "GET /caf\xc3\xa9", "bytes >= 0x80 kept");

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	board_set(BS_WRITING, big, big);
	read_me();
	CHECK_INT(strlen(S.req), BOARD_REQ - 1, "request truncated");
	CHECK_INT(strlen(S.peer), BOARD_PEER - 1, "peer truncated");
	big[10] = '?';
	board_set(BS_WRITING, big, NULL);
	read_me();
	CHECK_INT(strlen(S.req), 10, "long request: cut at its query");

	board_read(1, &S);
	CHECK_INT(S.state, BS_EMPTY, "a slot out of range reads empty");
	board_read(-1, &S);
	CHECK_INT(S.pid, 0, "a negative slot reads empty");
}

static void
test_slots(void)
{
	int a, b, c, i;

	CHECK_INT(board_init(4, 0), 0, "board_init(4, private)");
	CHECK_INT(board->nslots, 4, "four slots");
	CHECK_INT(board->master, getpid(), "master pid");
	CHECK_INT(board->type, SRV_INETD, "type inetd until the caller sets it");
	CHECK_INT(board_me, 0, "board_me reset");
	CHECK_INT(board_count_state(BS_EMPTY), 4, "all empty");

	a = board_claim(100);
	b = board_claim(200);
	CHECK_INT(a, 0, "claim: first empty slot");
	CHECK_INT(b, 1, "claim: the next");
	CHECK_INT(board_find(200), 1, "find by pid");
	CHECK_INT(board_find(999), -1, "find: no such pid");
	CHECK_INT(board_count_state(BS_STARTING), 2, "two starting");
	CHECK_INT(board_count_state(BS_EMPTY), 2, "two empty");
	CHECK_INT(board->spawned, 0, "claims leave spawned to the caller");

	board_me = b;
	board_set(BS_READING, "GET /x", "192.0.2.1");
	board_count(50);
	board_set(BS_KEEPALIVE, NULL, NULL);
	board_set(BS_READING, "GET /y", NULL);
	board_count(25);
	board_read(b, &S);
	CHECK_INT(S.pid, 200, "slot keeps its pid");
	CHECK_INT(S.requests, 2, "two requests");
	CHECK_INT(S.conns, 1, "on one connection");
	CHECK(S.started_ms > 0 && S.since_ms >= S.started_ms,
	    "started_ms and since_ms set");

	board_release(b);
	CHECK_INT(board->done_requests, 2, "release folds requests");
	CHECK_INT(board->done_bytes, 75, "release folds bytes");
	CHECK_INT(board->done_conns, 1, "release folds connections");
	CHECK_INT(board->exited, 1, "release counts an exit");
	CHECK_INT(board_find(200), -1, "released pid is gone");
	board_read(b, &S);
	CHECK(S.state == BS_EMPTY && S.requests == 0 && S.req[0] == '\0' &&
	    S.pid == 0, "released slot is empty");
	board_release(b);
	CHECK_INT(board->exited, 1, "releasing an empty slot does nothing");

	c = board_claim(300);
	CHECK_INT(c, b, "claim reuses the freed slot");
	board_read(c, &S);
	CHECK(S.requests == 0 && S.conns == 0 && S.bytes == 0 &&
	    S.state == BS_STARTING, "reused slot starts from zero");
	c = board_claim(0);
	board_release(c);
	CHECK_INT(board->exited, 1, "a slot without a pid counts no exit");
	for (i = 0; i < 2; i++)
		board_claim(400 + i);
	CHECK_INT(board_claim(500), -1, "claim on a full board: -1");
	CHECK_INT(board_count_state(BS_EMPTY), 0, "none empty");
	CHECK_INT(board_init(0, 0), -1, "board_init(0): -1");
	CHECK_INT(board->nslots, 4, "a failed board_init keeps the board");
	board_free();
	CHECK_INT(board->nslots, 1, "board_free: back to the fallback");
}

/* A child writes its slot; the parent sees it after waitpid. */
static void
test_shared(void)
{
	pid_t pid;
	int st, slot;

	if (!CHECK(board_init(3, 1) == 0, "board_init(3, shared)"))
		return;
	board->type = SRV_PREFORK;
	slot = board_claim(getpid());
	if ((pid = fork()) == -1) {
		CHECK(0, "fork");
		return;
	}
	if (pid == 0) {
		board_me = slot;
		board_set(BS_READING, "GET /child?q", "127.0.0.1");
		board_set(BS_WRITING, NULL, NULL);
		board_count(42);
		_exit(0);
	}
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0, "child exited");
	board_read(slot, &S);
	CHECK_INT(S.state, BS_WRITING, "shared: the child's state");
	CHECK_STR(S.req, "GET /child", "shared: the child's request");
	CHECK_STR(S.peer, "127.0.0.1", "shared: the child's peer");
	CHECK_INT(S.requests, 1, "shared: the child's request count");
	CHECK_INT(S.bytes, 42, "shared: the child's bytes");
	CHECK_INT(S.conns, 1, "shared: the child's connection");
	CHECK_INT(board_count_state(BS_WRITING), 1, "shared: one writing");
	CHECK_INT(board->type, SRV_PREFORK, "shared: type as set");
	board_free();
}

/* A worker killed inside a write: readers give up, release recovers. */
static void
test_stuck(void)
{
	int slot;

	if (!CHECK(board_init(2, 0) == 0, "board_init(2, private)"))
		return;
	board_me = slot = board_claim(4242);
	board_set(BS_WRITING, "GET /stuck", "192.0.2.9");
	board->slot[slot].seq |= 1;	/* as if it died between the seqs */
	board_read(slot, &S);
	CHECK(S.seq % 2 == 1, "a slot stuck mid-write reads with odd seq");
	CHECK_STR(S.req, "GET /stuck", "and its text as it was");
	board_release(slot);
	CHECK_INT(board->slot[slot].seq % 2, 0, "release makes seq even again");
	board_read(slot, &S);
	CHECK(S.seq % 2 == 0 && S.state == BS_EMPTY,
	    "after release the slot reads empty and consistent");
	CHECK_INT(board->done_requests + board->exited, 1,
	    "its exit was counted");
	board_free();
}

/*
 * A child rewrites its slot with one of two texts of one letter each
 * while the parent reads it: every copy must be one text, whole.
 */
static void
test_torn(void)
{
	char ta[BOARD_REQ], tb[BOARD_REQ];
	char msg[64];
	pid_t pid;
	int i, torn = 0, gaveup = 0, st;

	if (!CHECK(board_init(1, 1) == 0, "board_init(1, shared)"))
		return;
	memset(ta, 'a', sizeof(ta) - 1);
	memset(tb, 'b', sizeof(tb) - 1);
	ta[sizeof(ta) - 1] = tb[sizeof(tb) - 1] = '\0';
	board_claim(getpid());
	if ((pid = fork()) == -1) {
		CHECK(0, "fork");
		return;
	}
	if (pid == 0) {
		/* As fast as it goes, but with gaps between writes, as a
		 * worker leaves them: a reader that retries gets a copy. */
		for (i = 0; ; i++) {
			volatile int spin;

			board_set(BS_WRITING, i % 2 ? ta : tb, i % 2 ? ta : tb);
			for (spin = 0; spin < 200; spin++)
				;
		}
	}
	/* Until the child's first write. */
	for (i = 0; i < 100000 && board_count_state(BS_WRITING) == 0; i++)
		usleep(100);
	for (i = 0; i < 200000; i++) {
		board_read(0, &S);
		if (S.seq % 2 != 0)
			gaveup++;
		else if ((strcmp(S.req, ta) != 0 && strcmp(S.req, tb) != 0) ||
		    S.peer[0] != S.req[0] || strspn(S.peer, S.req[0] == 'a' ?
		    "a" : "b") != BOARD_PEER - 1)
			torn++;
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	CHECK_INT(torn, 0, "no torn copy in 200000 reads");
	snprintf(msg, sizeof(msg), "%d reads gave up", gaveup);
	unit_diag(msg);
	board_free();
}

int
main(void)
{
	test_fallback();
	test_text();
	test_slots();
	test_shared();
	test_stuck();
	test_torn();
	return unit_done();
}
