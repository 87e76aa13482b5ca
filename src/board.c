/*
 * board.c - the scoreboard: one slot per worker saying what it is doing
 * (state, current request, peer) and what it has done (requests,
 * connections, bytes), for the status page (status.c).  The standalone
 * daemon maps it shared before it forks; inetd and pipe mode use a
 * static one-slot board that needs no set-up, so the request loop calls
 * board_set the same way in every mode.  Each slot has one writer at a
 * time (its worker, or the master around the worker's life) and is
 * published through a sequence counter: readers copy it and retry while
 * the counter is odd or moved.  Which process owns which slot, and when,
 * is the daemon's business.
 */
#include <sys/mman.h>

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/*
 * A reader waits for a writer that is busy (or preempted: a slot write
 * is a few hundred bytes) by yielding, then by sleeping, at most about
 * READ_TRIES * 100 us for one slot: then it takes the copy as it is.
 */
#define READ_SPINS	10
#define READ_TRIES	100

/* The board when board_init never ran: inetd and pipe mode. */
static union {
	struct board	b;
	unsigned char	raw[sizeof(struct board) + sizeof(struct board_slot)];
} fallback = { .b = { .type = SRV_INETD, .nslots = 1, .max_servers = 1 } };

struct board *board = &fallback.b;
int board_me;
/*
 * The slot count as this process was told it: bounds never come from the
 * shared page, which any worker can write.
 */
static int own_nslots = 1;
static size_t board_size;	/* bytes mapped, 0 if malloc'd */
static int fallback_ready;

/* The fallback's clock and pid are this process's, taken at first use. */
static void
board_ready(void)
{
	struct board_slot *s = &board->slot[0];

	if (board != &fallback.b || fallback_ready)
		return;
	fallback_ready = 1;
	board->start_ms = now_real_ms();
	board->master = getpid();
	board->spawned = 1;
	s->pid = board->master;
	s->state = BS_STARTING;
	s->started_ms = s->since_ms = board->start_ms;
}

/*
 * A board of nslots slots, mapped shared (shared=1: visible to children
 * forked after this) or in this process's memory.  The caller sets type
 * and max_servers.  0, or -1 with errno; the old board stays on failure.
 */
int
board_init(int nslots, int shared)
{
	struct board *b;
	size_t size;

	if (nslots < 1) {
		errno = EINVAL;
		return -1;
	}
	size = sizeof(*b) + (size_t)nslots * sizeof(b->slot[0]);
	if (shared) {
		b = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED |
		    MAP_ANONYMOUS, -1, 0);
		if (b == MAP_FAILED)
			return -1;
	} else if ((b = calloc(1, size)) == NULL)
		return -1;
	board_free();
	board = b;
	board_size = shared ? size : 0;
	b->start_ms = now_real_ms();
	b->master = getpid();
	b->type = SRV_INETD;
	b->nslots = nslots;
	own_nslots = nslots;
	b->max_servers = nslots;
	board_me = 0;
	return 0;
}

/* Unmap or free the board; the static one-slot board takes its place. */
void
board_free(void)
{
	if (board != &fallback.b) {
		if (board_size > 0)
			munmap(board, board_size);
		else
			free(board);
	}
	board = &fallback.b;
	own_nslots = 1;
	board_size = 0;
	board_me = 0;
}

/*
 * Seqlock writer: seq is odd while the slot changes.  A worker killed
 * inside a write leaves it odd; the next writer (the master releasing
 * the slot) still moves it to a new odd value and then even again.
 */
static void
write_begin(struct board_slot *s)
{
	__atomic_store_n(&s->seq, (s->seq + 1) | 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void
write_end(struct board_slot *s)
{
	__atomic_store_n(&s->seq, s->seq + 1, __ATOMIC_RELEASE);
}

/* Clear a slot's contents but not its sequence counter. */
static void
slot_clear(struct board_slot *s)
{
	unsigned seq = s->seq;

	memset(s, 0, sizeof(*s));
	s->seq = seq;
}

/* The first empty slot, given to pid as BS_STARTING; its index or -1. */
int
board_claim(pid_t pid)
{
	struct board_slot *s;
	int i;

	for (i = 0; i < own_nslots; i++) {
		s = &board->slot[i];
		if (__atomic_load_n(&s->state, __ATOMIC_RELAXED) != BS_EMPTY)
			continue;
		write_begin(s);
		slot_clear(s);
		s->pid = pid;
		s->state = BS_STARTING;
		s->started_ms = s->since_ms = now_real_ms();
		write_end(s);
		return i;
	}
	return -1;
}

/* The slot pid holds, or -1. */
int
board_find(pid_t pid)
{
	int i;

	for (i = 0; i < own_nslots; i++)
		if (board->slot[i].state != BS_EMPTY &&
		    board->slot[i].pid == pid)
			return i;
	return -1;
}

/*
 * A worker is gone: keep its counts in done_*, and empty its slot.  A
 * slot that never had a pid (its fork failed) counts no exit.  Counting
 * spawns is the caller's: it knows when a fork worked.
 */
void
board_release(int slot)
{
	struct board_slot *s;

	if (slot < 0 || slot >= own_nslots)
		return;
	s = &board->slot[slot];
	if (s->state == BS_EMPTY)
		return;
	board->done_requests += s->requests;
	board->done_conns += s->conns;
	board->done_bytes += s->bytes;
	if (s->pid != 0)
		board->exited++;
	write_begin(s);
	slot_clear(s);
	write_end(s);
}

/* This process's slot, or NULL when board_me is not one. */
static struct board_slot *
my_slot(void)
{
	board_ready();
	if (board_me < 0 || board_me >= own_nslots)
		return NULL;
	return &board->slot[board_me];
}

/*
 * Copy text for the board: at most cap - 1 bytes, control bytes shown
 * as '?', and with cutq the query cut off (it may carry credentials or
 * tokens, and the status page is read by others).
 */
static void
copy_text(char *dst, size_t cap, const char *src, int cutq)
{
	size_t i;

	for (i = 0; i + 1 < cap && src[i] != '\0'; i++) {
		if (cutq && src[i] == '?')
			break;
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? '?' :
		    src[i];
	}
	dst[i] = '\0';
}

/*
 * This process's slot is now in state, serving req (NULL keeps the text,
 * "" clears it) for peer (NULL keeps it).  since_ms moves when the state
 * or the request changes.  Entering BS_READING from outside a connection
 * (empty, starting, idle, closing) counts a connection.
 */
void
board_set(int state, const char *req, const char *peer)
{
	struct board_slot *s;
	int64_t now;

	if ((s = my_slot()) == NULL)
		return;
	now = now_real_ms();
	write_begin(s);
	if (state == BS_READING && (s->state == BS_EMPTY ||
	    s->state == BS_STARTING || s->state == BS_IDLE ||
	    s->state == BS_CLOSING))
		s->conns++;
	if (s->state != state || req != NULL)
		s->since_ms = now;
	s->state = state;
	if (req != NULL)
		copy_text(s->req, sizeof(s->req), req, 1);
	if (peer != NULL)
		copy_text(s->peer, sizeof(s->peer), peer, 0);
	write_end(s);
}

/* A request is done: count it and the bytes sent for it. */
void
board_count(unsigned long long bytes)
{
	struct board_slot *s;

	if ((s = my_slot()) == NULL)
		return;
	write_begin(s);
	s->requests++;
	s->bytes += bytes;
	write_end(s);
}

/*
 * A consistent copy of a slot, retried while its writer is busy.  After
 * READ_TRIES (a worker stopped inside a write must not hang the status
 * page) the last copy, its strings still terminated and its seq made
 * odd: it may be torn.  A slot out of range reads as empty.
 */
void
board_read(int slot, struct board_slot *out)
{
	static const struct timespec pause = { 0, 100 * 1000 };
	const struct board_slot *s;
	unsigned s1, s2;
	int tries;

	board_ready();
	memset(out, 0, sizeof(*out));
	if (slot < 0 || slot >= own_nslots)
		return;
	s = &board->slot[slot];
	for (tries = 0; tries < READ_TRIES; tries++) {
		if (tries > 0 && tries < READ_SPINS)
			sched_yield();
		else if (tries > 0)
			nanosleep(&pause, NULL);
		s1 = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
		if (s1 & 1)
			continue;
		memcpy(out, s, sizeof(*out));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
		if (s1 == s2)
			goto done;
	}
	memcpy(out, s, sizeof(*out));
	out->seq |= 1;
done:
	/* any process may write the page: terminate what we read */
	out->req[sizeof(out->req) - 1] = '\0';
	out->peer[sizeof(out->peer) - 1] = '\0';
}

/* How many slots are in state now. */
int
board_count_state(int state)
{
	int i, n = 0;

	board_ready();
	for (i = 0; i < own_nslots; i++)
		if (__atomic_load_n(&board->slot[i].state, __ATOMIC_RELAXED) ==
		    state)
			n++;
	return n;
}

/* Slots on the board (this process's count, not the shared page's). */
int
board_nslots(void)
{
	return own_nslots;
}
