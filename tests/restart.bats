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

@test "TERM right after HUP stops the server (the restart does not undo it)" {
	start --min_servers 2
	python3 -c 'import os,signal,sys; p=int(sys.argv[1]); os.kill(p,signal.SIGHUP); os.kill(p,signal.SIGTERM)' "$SRV"
	for _ in $(seq 150); do kill -0 "$SRV" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$SRV" 2>/dev/null
	SRV=
}

@test "QUIT right after HUP stops the server gracefully" {
	start --min_servers 2
	python3 -c 'import os,signal,sys,time; p=int(sys.argv[1]); os.kill(p,signal.SIGHUP); time.sleep(0.002); os.kill(p,signal.SIGQUIT)' "$SRV"
	for _ in $(seq 150); do kill -0 "$SRV" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$SRV" 2>/dev/null
	SRV=
}

@test "HUP: a port spelt differently keeps its socket; a port that cannot be bound leaves the server serving" {
	printf 'docroot %s\nport 127.0.0.1:0\n' "$ROOT/conf/www" >"$DIR/p.conf"
	"$IHTTPD" -c "$DIR/p.conf" --standalone on --access_log off 2>"$LOG" &
	SRV=$!
	wait_log 1 '^ihttpd: listening on'
	PORT=$(sed -n 's/^ihttpd: listening on 127.0.0.1://p' "$LOG" | head -1)
	# the same socket, spelt with a /tcp suffix and the kernel's port
	printf 'docroot %s\nport 127.0.0.1:%s/tcp\n' "$ROOT/conf/www" "$PORT" >"$DIR/p.conf"
	# plus a port some other process holds
	python3 -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(1); print(s.getsockname()[1], flush=True); time.sleep(60)' >"$DIR/busy" &
	local busy=$!
	for _ in $(seq 50); do [ -s "$DIR/busy" ] && break; sleep 0.1; done
	printf 'port 127.0.0.1:%s\n' "$(cat "$DIR/busy")" >>"$DIR/p.conf"
	kill -HUP "$SRV"
	wait_log 1 'restarted'
	kill "$busy"
	grep -q 'Address already in use (restarting: serving on without it)' "$LOG"
	kill -0 "$SRV"
	run curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
	    "http://127.0.0.1:$PORT/index.html"
	[ "$output" = 200 ]
}

@test "a master killed with SIGKILL takes its workers with it (no orphans serving)" {
	start --min_servers 3
	wait_log 3 'worker [0-9]* started'
	local kids
	kids=$(cat /proc/"$SRV"/task/"$SRV"/children)
	[ -n "$kids" ]
	kill -KILL "$SRV"
	wait "$SRV" 2>/dev/null || true
	SRV=
	local k gone=0
	for _ in $(seq 100); do
		gone=1
		for k in $kids; do kill -0 "$k" 2>/dev/null && gone=0; done
		[ "$gone" = 1 ] && break
		sleep 0.1
	done
	[ "$gone" = 1 ]
}

@test "systemd Accept=yes (LISTEN_FDS naming the connection, not a listener) is served as inetd" {
	run timeout 30 python3 "$ROOT/tests/fixtures/standalone/acceptyes.py" \
	    "$IHTTPD" "$ROOT/conf/www"
	[ "$status" -eq 0 ]
	[ "$output" = "HTTP/1.1 200 OK" ]
}

@test "single: a client that keeps its next request coming gets Connection: close once another client waits" {
	start --type single
	# The reviewer's hold: the next request's first byte rides with the
	# current one, so the connection is never idle between requests.
	run timeout 30 python3 - "$PORT" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
req = b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"
def response(s):
    data = b""
    while b"\r\n\r\n" not in data:
        b = s.recv(65536)
        if not b:
            return b"(closed)"
        data += b
    head, body = data.split(b"\r\n\r\n", 1)
    n = int([l.split(b":")[1] for l in head.split(b"\r\n")
             if l.lower().startswith(b"content-length")][0])
    while len(body) < n:
        body += s.recv(65536)
    return head
a = socket.create_connection(("127.0.0.1", port), timeout=10)
a.sendall(req + req[:1])
h1 = response(a)
b = socket.create_connection(("127.0.0.1", port), timeout=10)  # waits
time.sleep(0.3)
a.sendall(req[1:])
h2 = response(a)
print(b"connection: close" in h1.lower(), b"connection: close" in h2.lower())
b.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
print(b.recv(100).split(b"\r\n")[0].decode())
PY
	[ "${lines[0]}" = "False True" ]
	[ "${lines[1]}" = "HTTP/1.1 200 OK" ]
}

@test "a slow reader is cut off at send_timeout + size/send_min_rate: it cannot hold a worker for as long as the file lasts" {
	mkdir -p "$DIR/www"
	head -c 16777216 /dev/zero >"$DIR/www/big.bin"
	echo small >"$DIR/www/small.txt"
	"$IHTTPD" --standalone on --port 127.0.0.1:0 --docroot "$DIR/www" \
	    --access_log off --type preforksimple --max_servers 1 \
	    --send_timeout 2 --send_min_rate 1m --log_level 3 2>"$LOG" &
	SRV=$!
	wait_log 1 '^ihttpd: listening on'
	PORT=$(sed -n 's/^ihttpd: listening on 127.0.0.1://p' "$LOG" | head -1)
	# reads 8 KiB every 0.5 s through a small receive buffer: 16 MiB
	# would take over half an hour; the deadline is 2 + 16 s.  The
	# kernel still delivers what it buffered after the close, so what
	# counts is that the one worker is free again.
	python3 - "$PORT" >"$DIR/slow.out" 2>&1 <<'PY' &
import socket, sys, time
port = int(sys.argv[1])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", port))
s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
t0 = time.monotonic()
while time.monotonic() - t0 < 60:
    if not s.recv(8192):
        break
    time.sleep(0.5)
PY
	local slow=$!
	for _ in $(seq 600); do grep -q 'send deadline' "$LOG" && break; sleep 0.1; done
	grep -q 'send deadline' "$LOG"
	# the slow reader is still reading what the kernel holds, and the
	# only worker serves the next client
	kill -0 "$slow"
	run curl -s --max-time 10 "http://127.0.0.1:$PORT/small.txt"
	kill "$slow" 2>/dev/null || true
	[ "$output" = small ]
}
