#!/usr/bin/env bats
# Restarts under load: a standalone prefork server gets 20 HUPs and 5
# worker kills while tests/fixtures/load.py keeps it busy with kept-alive
# and new connections.  No request may be lost: every one is answered
# 200 (a kept-alive connection the server closed between requests is
# retried once, as clients do; a fresh connection never is).

load helpers

setup() {
	unset IHTTPD_FIXED_TIME		# real time: the board and deadlines
	DIR=$BATS_TEST_TMPDIR
	LOG=$DIR/err.log
	SRV=
}

teardown() {
	if [ -n "$SRV" ] && kill -0 "$SRV" 2>/dev/null; then
		kill -TERM "$SRV"
		for _ in $(seq 50); do kill -0 "$SRV" 2>/dev/null || break; sleep 0.1; done
	fi
}

# start ARGS...: the server on a kernel-chosen port; sets SRV and PORT.
start() {
	"$IHTTPD" --standalone on --port 127.0.0.1:0 --docroot "$ROOT/conf/www" \
	    --mimetypes "$ROOT/conf/mime.types" --datadir "$DIR/var" \
	    --access_log off "$@" 2>"$LOG" &
	SRV=$!
	for _ in $(seq 100); do
		PORT=$(sed -n 's/^ihttpd: listening on 127.0.0.1://p' "$LOG" | head -1)
		[ -n "$PORT" ] && return 0
		sleep 0.05
	done
	cat "$LOG" >&2
	return 1
}

# wait_log N PATTERN: until PATTERN occurs N times in the log (bounded).
wait_log() {
	for _ in $(seq 200); do
		[ "$(grep -c -- "$2" "$LOG")" -ge "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# Kill a worker that waits between two requests of a kept-alive
# connection: it is stopped first, so that its state cannot change while
# the status page is read.  Its client's next request fails on a reused
# connection, which clients retry; a worker killed in the middle of a
# request (or just after accept) would lose that request, in any server.
kill_keepalive_worker() {
	local pid state try
	for try in $(seq 40); do
		for pid in $(cat /proc/"$SRV"/task/"$SRV"/children 2>/dev/null); do
			kill -STOP "$pid" 2>/dev/null || continue
			state=$(curl -s --max-time 5 \
			    "http://127.0.0.1:$PORT/server-status?json" |
			    python3 -c 'import json,sys
p=int(sys.argv[1])
print([s["state"] for s in json.load(sys.stdin)["workers"]
       if s["pid"]==p] or ["?"])' "$pid" 2>/dev/null)
			if [ "$state" = "['keepalive']" ]; then
				kill -KILL "$pid"
				return 0
			fi
			kill -CONT "$pid"
		done
		sleep 0.05
	done
	return 1
}

@test "20 HUPs and 5 worker kills under steady load lose no request" {
	cat >"$DIR/s.conf" <<EOF2
docroot $ROOT/conf/www
<Object path="/server-status">
  Service fn=status
</Object>
EOF2
	start -c "$DIR/s.conf" --min_servers 3 --max_servers 8 \
	    --min_spare_servers 2 --max_spare_servers 4
	LOAD_STOP=$DIR/stop LOAD_PATH=/index.html python3 "$ROOT/tests/fixtures/load.py" \
	    127.0.0.1 "$PORT" 60 4 \
	    >"$DIR/load.out" 2>&1 &
	local load=$! i
	sleep 0.5
	for i in $(seq 20); do
		kill -HUP "$SRV"
		# each HUP is a real restart: wait for its "restarted" line
		wait_log "$i" "ihttpd .* restarted: prefork"
		if [ $((i % 4)) -eq 0 ]; then
			kill_keepalive_worker
		fi
		sleep 0.2
	done
	touch "$DIR/stop"
	wait "$load"
	cat "$DIR/load.out"
	grep -c 'restarted: prefork' "$LOG"
	[ "$(grep -c 'restarted: prefork' "$LOG")" -eq 20 ]
	[ "$(grep -c 'killed by SIGKILL' "$LOG")" -ge 5 ]
	grep -q '^ok [1-9][0-9]* failed 0 ' "$DIR/load.out"
	# still serving, one generation of workers left
	run curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
	    "http://127.0.0.1:$PORT/index.html"
	[ "$output" = 200 ]
}

@test "HUP with a broken config: the old server keeps serving, the error names FILE:LINE" {
	printf 'docroot %s\nlisting on\n' "$ROOT/conf/www" >"$DIR/ok.conf"
	start -c "$DIR/ok.conf"
	printf 'docroot %s\nlisting maybe\n' "$ROOT/conf/www" >"$DIR/ok.conf"
	kill -HUP "$SRV"
	wait_log 1 'HUP: the new configuration has errors'
	grep -q "$DIR/ok.conf:2: listing: 'maybe'" "$LOG"
	run curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
	    "http://127.0.0.1:$PORT/"
	[ "$output" = 200 ]
	! grep -q 'restarted' "$LOG"
}
