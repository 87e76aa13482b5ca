#!/usr/bin/env bats
# The standalone daemon (src/daemon.c, src/listen.c) for real: each
# personality (single, fork, preforksimple, prefork) serving GETs,
# keep-alive, more clients than workers, pipelining, a flood and the
# hostile battery of inetd.bats; prefork's pool (max_requests, a killed
# worker, spares, TTIN/TTOU); the signals (HUP under load and with a
# broken config, QUIT during a download, USR1 after a log rotation);
# pid_file, background, user, chroot, unix sockets, systemd socket
# activation, inetd wait mode, and bad start-up input.
#
# Every server listens on 127.0.0.1 port 0 (or a unix socket) with its
# standard error in a file; the port comes from its "listening on" line.
# Every wait is a bounded poll on a condition, never a timed assertion.
# Teardown stops each server, and anything it left, by pid, and fails
# when a log shows a worker killed by a crash signal or a sanitizer report.

load helpers
load daemon
bats_require_minimum_version 1.5.0

FIX=$BATS_TEST_DIRNAME/fixtures/standalone
HC=$BATS_TEST_DIRNAME/fixtures/inetd/hc.py

setup_file() {
	snapshot_binary || return 1
}

setup() {
	cd "$ROOT" || return 1
	T=$BATS_TEST_TMPDIR
	DOC=$T/www
	mkdir -p "$DOC"
	printf 'hello standalone\n' >"$DOC/index.html"
	printf 'a small file\n' >"$DOC/small.txt"
	CONF=$T/sa.conf
	conf >"$CONF"
	SERVERS=()
	HELPERS=()
	NSERV=0
	PUB=
}

teardown() {
	local bad=
	stop_started
	[ -z "$PUB" ] || rm -rf "$PUB"
	crash_free || bad=1
	[ -z "$bad" ]
}

# The base config: a docroot, the status page, errors on standard error
# with worker spawns and exits (log_level 3), short deadlines.
conf() {
	cat <<-EOF
	docroot           $DOC
	access_log        off
	error_log         stderr
	log_level         3
	header_timeout    5
	keepalive_timeout 2
	graceful_timeout  30
	<Object path="/server-status">
	  Service fn=status
	</Object>
	EOF
}

# sj EXPR: EXPR evaluated in Python on the /server-status?json of $PORT
# (the parsed document is d).
sj() {
	curl -sS --max-time 10 "$(url '/server-status?json')" |
	    python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

# sj_is EXPR VALUE: for wait_for.
sj_is() {
	[ "$(sj "$1" 2>/dev/null)" = "$2" ]
}

# A root-only test's world-readable directory (the bats temporary
# directories are 0700): PUB, removed by teardown.
pub_dir() {
	[ "$(id -u)" = 0 ] || skip "needs root"
	PUB=$(mktemp -d /tmp/ihttpd-sa.XXXXXX)
	chmod 755 "$PUB"
	mkdir -m 755 "$PUB/www"
	printf 'hello standalone\n' >"$PUB/www/index.html"
	chmod 644 "$PUB/www/index.html"
}

# file_lines FILE N: FILE has at least N lines.
file_lines() {
	[ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]
}

# ---- the personalities --------------------------------------------------

t_get() {
	sa $(targs "$1")
	run curl -sS --max-time 10 "$(url /)"
	[ "$status" -eq 0 ]
	[ "$output" = "hello standalone" ]
	run curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$(url /nope)"
	[ "$output" = 404 ]
	[ "$(sj 'd["type"]')" = "$1" ]
	[ "$(sj 'd["master_pid"]')" = "$SA_PID" ]
}

t_keepalive() {
	sa $(targs "$1")
	run curl -sS --max-time 10 -w '%{http_code} %{num_connects}\n' \
	    -o /dev/null "$(url /)" -o /dev/null "$(url /small.txt)"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "200 1" ]
	[ "${lines[1]}" = "200 0" ]
}

# N clients at once, two requests each, against at most 2 workers.
t_clients() {
	local n=$2 i pids=()
	head -c 300000 /dev/urandom >"$DOC/mid.bin"
	sa $(targs "$1") --keepalive_timeout 1
	for i in $(seq "$n"); do
		curl -s --max-time 60 -w '%{http_code}\n' -o /dev/null \
		    "$(url /mid.bin)" -o /dev/null "$(url /small.txt)" \
		    >"$T/c.$i" 2>&1 3>&- &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || true
	done
	run cat "$T"/c.*
	[ "$(grep -c '^200$' <<<"$output")" -eq $((n * 2)) ]
	alive "$SA_PID"
	run curl -sS --max-time 10 "$(url /small.txt)"
	[ "$output" = "a small file" ]
}

t_pipeline() {
	sa $(targs "$1")
	run python3 "$HC" send "$PORT" 10 \
	    'GET / HTTP/1.1\r\nHost: t\r\n\r\nGET /small.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' \
	    --body
	[ "$status" -eq 0 ]
	has "^R 1 200 .*body=17 "
	has "^B 1 b'hello standalone"
	has "^R 2 200 .*conn=close.*body=13 "
	has "^B 2 b'a small file"
	hasnt '^R 3 '
	has '^END eof '
}

t_battery() {
	mkdir -p "$T/data"
	SA_CONF=conf/ihttpd.conf sa $(targs "$1") --header_timeout 2 \
	    --keepalive_timeout 1 --body_timeout 2 --access_log off \
	    --datadir "$T/data"
	run python3 "$FIX/battery.py" "$BATS_TEST_DIRNAME/inetd.bats" "$PORT"
	echo "$output" | grep -v '^ok ' >&2
	[ "$status" -eq 0 ]
	has '^[0-9]+ cases, 0 failed$'
	alive "$SA_PID"
}

@test "single: GET" { t_get single; }
@test "fork: GET" { t_get fork; }
@test "preforksimple: GET" { t_get preforksimple; }
@test "prefork: GET" { t_get prefork; }

@test "single: keep-alive, two URLs on one connection" { t_keepalive single; }
@test "fork: keep-alive, two URLs on one connection" { t_keepalive fork; }
@test "preforksimple: keep-alive, two URLs on one connection" { t_keepalive preforksimple; }
@test "prefork: keep-alive, two URLs on one connection" { t_keepalive prefork; }

@test "single: 8 clients at once: all served" { t_clients single 8; }
@test "fork: 8 clients at once, max_servers 2: all served" { t_clients fork 8; }
@test "preforksimple: 8 clients at once, max_servers 2: all served" { t_clients preforksimple 8; }
@test "prefork: 8 clients at once, max_servers 2: all served" { t_clients prefork 8; }

@test "single: two pipelined requests in one write" { t_pipeline single; }
@test "fork: two pipelined requests in one write" { t_pipeline fork; }
@test "preforksimple: two pipelined requests in one write" { t_pipeline preforksimple; }
@test "prefork: two pipelined requests in one write" { t_pipeline prefork; }

@test "single: a flood of 50 clients queues; the server survives" { t_clients single 50; }
@test "fork: a flood of 50 clients, max_servers 2, queues; the master survives" { t_clients fork 50; }
@test "preforksimple: a flood of 50 clients, max_servers 2, queues; the master survives" { t_clients preforksimple 50; }
@test "prefork: a flood of 50 clients, max_servers 2, queues; the master survives" { t_clients prefork 50; }

@test "single: the hostile battery of inetd.bats, 0 failures" { t_battery single; }
@test "fork: the hostile battery of inetd.bats, 0 failures" { t_battery fork; }
@test "preforksimple: the hostile battery of inetd.bats, 0 failures" { t_battery preforksimple; }
@test "prefork: the hostile battery of inetd.bats, 0 failures" { t_battery prefork; }

@test "prefork: serialize flock and none serve 8 clients with 2 workers" {
	local m
	for m in flock none; do
		sa --type prefork --min_servers 2 --max_servers 2 \
		    --serialize "$m" --keepalive_timeout 1
		rm -f "$T"/c.*
		for i in $(seq 8); do
			curl -s --max-time 30 -w '%{http_code}\n' -o /dev/null \
			    "$(url /)" -o /dev/null "$(url /small.txt)" \
			    >"$T/c.$i" 2>&1 3>&- &
			helper $!
		done
		for i in "${HELPERS[@]}"; do
			wait "$i" || true
		done
		HELPERS=()
		run cat "$T"/c.*
		[ "$(grep -c '^200$' <<<"$output")" -eq 16 ]
		stop_server "$SA_PID"
	done
}

@test "preforksimple: two listeners (127.0.0.1 and ::1), each served" {
	python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null ||
	    skip "no IPv6 loopback"
	sa --type preforksimple --max_servers 2 --port 127.0.0.1:0 --port '[::1]:0'
	local p6
	p6=$(sed -n 's/^ihttpd: listening on \[::1\]:\([0-9]*\)$/\1/p' "$SA_ERR")
	[ -n "$p6" ]
	run curl -sS --max-time 10 -g "http://[::1]:$p6/small.txt"
	[ "$output" = "a small file" ]
	run curl -sS --max-time 10 "$(url /small.txt)"
	[ "$output" = "a small file" ]
}

@test "port 127.0.0.1:scan: the first free port from 9000" {
	sa --type single --port 127.0.0.1:scan
	[ -n "$PORT" ]
	[ "$PORT" -ge 9000 ]
	[ "$PORT" -le 9999 ]
	run curl -sS --max-time 10 "$(url /small.txt)"
	[ "$output" = "a small file" ]
}

# ---- prefork's pool -----------------------------------------------------

@test "prefork: max_requests 2 replaces the worker; every request served" {
	local first i
	sa --type prefork --min_servers 1 --max_servers 1 --min_spare_servers 0 \
	    --max_spare_servers 1 --max_requests 2
	wait_for 20 nk -eq 1
	first=$(kids "$SA_PID")
	for i in 1 2 3 4 5; do
		run curl -sS --max-time 20 "$(url /small.txt)"
		[ "$output" = "a small file" ]
	done
	! kids "$SA_PID" | grep -qx "$first"
	grep -q "worker $first ended (exit 0)" "$SA_ERR"
	[ "$(grep -c 'worker [0-9]* started' "$SA_ERR")" -ge 3 ]
	[ "$(sj 'd["spawned"] >= 3')" = True ]
}

@test "preforksimple: max_requests 1 replaces each worker" {
	local before
	sa --type preforksimple --max_servers 2 --max_requests 1
	wait_for 20 nk -eq 2
	before=$(kids "$SA_PID" | sort | tr '\n' ' ')
	for i in 1 2 3 4; do
		run curl -sS --max-time 20 "$(url /small.txt)"
		[ "$output" = "a small file" ]
	done
	wait_for 20 nk -eq 2
	for p in $before; do
		wait_for 20 not_kid "$SA_PID" "$p"
	done
}

@test "prefork: a worker killed with SIGKILL is replaced; the next request is served" {
	local victim
	sa --type prefork --min_servers 2 --min_spare_servers 1 \
	    --max_spare_servers 3 --max_servers 4
	wait_for 20 nk -ge 2
	victim=$(kids "$SA_PID" | head -1)
	kill -KILL "$victim"
	wait_for 20 grep -q "worker $victim ended (killed by SIGKILL)" "$SA_ERR"
	wait_for 20 nk -ge 2
	! kids "$SA_PID" | grep -qx "$victim"
	run curl -sS --max-time 10 "$(url /small.txt)"
	[ "$output" = "a small file" ]
	alive "$SA_PID"
}

@test "prefork: spares grow under load, then settle between min_spare and max_spare" {
	sa --type prefork --min_servers 1 --min_spare_servers 1 \
	    --max_spare_servers 2 --max_servers 8 --keepalive_timeout 60
	python3 "$FIX/hold.py" "$PORT" 6 /small.txt "$T/ready" "$T/stop" 90 \
	    >"$T/hold.out" 2>&1 3>&- &
	local h=$!
	helper "$h"
	wait_for 60 [ -e "$T/ready" ]
	# 6 connections held in keep-alive, and at least one spare beside them
	wait_for 60 sj_is 'len(d["workers"]) >= 7' True
	[ "$(sj 'len(d["workers"]) <= 8')" = True ]
	touch "$T/stop"
	wait "$h"
	run cat "$T/hold.out"
	[ "$output" = "held 6, answered 6" ]
	# idle now: spares above max_spare_servers retire, one a second
	wait_for 60 sj_is '1 <= len(d["workers"]) <= 2' True
	grep -q 'told to finish (spare)' "$SA_ERR"
	for i in 1 2 3; do
		sleep 1
		[ "$(sj '1 <= len(d["workers"]) <= 2')" = True ]
	done
}

@test "prefork: TTIN and TTOU move max_servers, shown in the status JSON" {
	sa --type prefork --min_servers 1 --max_servers 3
	[ "$(sj 'd["max_servers"]')" = 3 ]
	kill -TTIN "$SA_PID"
	wait_for 20 sj_is 'd["max_servers"]' 4
	kill -TTOU "$SA_PID"
	wait_for 20 sj_is 'd["max_servers"]' 3
	kill -TTOU "$SA_PID"
	wait_for 20 sj_is 'd["max_servers"]' 2
	grep -q 'max_servers is now 2' "$SA_ERR"
	run curl -sS --max-time 10 "$(url /small.txt)"
	[ "$output" = "a small file" ]
}

@test "preforksimple: TTIN starts a worker, TTOU retires one" {
	sa --type preforksimple --max_servers 2
	wait_for 20 nk -eq 2
	kill -TTIN "$SA_PID"
	wait_for 20 nk -eq 3
	[ "$(sj 'd["max_servers"]')" = 3 ]
	# one at a time: two of a signal sent at once may arrive as one
	kill -TTOU "$SA_PID"
	wait_for 20 sj_is 'd["max_servers"]' 2
	kill -TTOU "$SA_PID"
	wait_for 20 sj_is 'd["max_servers"]' 1
	wait_for 30 nk -eq 1
	[ "$(sj 'd["max_servers"]')" = 1 ]
	grep -q 'told to finish (above max_servers)' "$SA_ERR"
}

@test "single: the status JSON shows the server's own pid in its slot" {
	sa --type single
	[ "$(sj 'd["workers"][0]["pid"]')" = "$SA_PID" ]
	[ "$(sj 'd["spawned"]')" = 1 ]
}

# ---- HUP ----------------------------------------------------------------

# t_hup_loop TYPE: requests in rounds of 10 on one connection each while
# the master is HUPed after round 3; the loop goes on for 5 rounds after
# the restart and 20 in all (at most 100).  Every request answered 200.
t_hup_loop() {
	local i args=()
	sa $(targs "$1")
	for i in $(seq 10); do
		args+=(-o /dev/null "$(url "/small.txt?$i")")
	done
	(
		for r in $(seq 100); do
			curl -s --max-time 20 -w '%{http_code}\n' "${args[@]}"
			if [ -e "$T/restarted" ]; then
				extra=$((${extra:-0} + 1))
				[ "$extra" -ge 5 ] && [ "$r" -ge 20 ] && break
			fi
		done
		echo "rounds $r"
	) >"$T/codes" 2>&1 3>&- &
	local loop=$!
	helper "$loop"
	wait_for 60 file_lines "$T/codes" 30
	kill -HUP "$SA_PID"
	wait_started 2
	touch "$T/restarted"
	wait_for 120 gone "$loop"
	wait "$loop" || true
	run cat "$T/codes"
	has '^rounds [0-9]+$'
	hasnt '^rounds 100$'	# the restart came while the loop ran
	[ "$(grep -c '^200$' "$T/codes")" -eq "$(($(grep -c . "$T/codes") - 1))" ]
	[ "$(grep -c '^200$' "$T/codes")" -ge 200 ]
	hasnt '^000$'
	grep -q 'HUP: configuration OK, restarting' "$SA_ERR"
	alive "$SA_PID"
	[ "$(sj 'd["master_pid"]')" = "$SA_PID" ]
	[ "$(sj 'd["restarts"]')" = 1 ]
}

@test "single: HUP during a request loop: no request fails" { t_hup_loop single; }
@test "fork: HUP during a request loop: no request fails" { t_hup_loop fork; }
@test "preforksimple: HUP during a request loop: no request fails" { t_hup_loop preforksimple; }
@test "prefork: HUP during a request loop: no request fails" { t_hup_loop prefork; }

@test "prefork: after two HUPs the old workers are gone, none orphaned" {
	local old
	sa --type prefork --min_servers 2 --max_servers 4
	wait_for 20 nk -ge 2
	old=$(kids "$SA_PID")
	kill -HUP "$SA_PID"
	wait_started 2
	kill -HUP "$SA_PID"
	wait_started 3
	for p in $old; do
		wait_for 30 gone "$p"
	done
	run curl -sS --max-time 10 "$(url /small.txt)"
	[ "$output" = "a small file" ]
	[ "$(sj 'd["restarts"]')" = 2 ]
}

# t_hup_broken TYPE: a config file broken after the start; HUP logs the
# error with FILE:LINE and the old server keeps serving; once repaired, a
# HUP restarts it.
t_hup_broken() {
	local n
	sa $(targs "$1")
	cp "$CONF" "$T/good.conf"
	echo 'no_such_key 1' >>"$CONF"
	n=$(wc -l <"$CONF")
	kill -HUP "$SA_PID"
	wait_for 30 grep -q 'HUP: the new configuration has errors' "$SA_ERR"
	grep -q "$CONF:$n: unknown key 'no_such_key'" "$SA_ERR"
	! grep -q 'restarted:' "$SA_ERR"
	alive "$SA_PID"
	run curl -sS --max-time 10 "$(url /small.txt)"
	[ "$output" = "a small file" ]
	cp "$T/good.conf" "$CONF"
	kill -HUP "$SA_PID"
	wait_started 2
	run curl -sS --max-time 10 "$(url /small.txt)"
	[ "$output" = "a small file" ]
}

@test "single: HUP with a broken config: the error with FILE:LINE, the old server serves on" { t_hup_broken single; }
@test "prefork: HUP with a broken config: the error with FILE:LINE, the old server serves on" { t_hup_broken prefork; }

@test "HUP with a port added, then removed: bound, then closed" {
	local p6
	python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null ||
	    skip "no IPv6 loopback"
	echo 'port 127.0.0.1:0' >>"$CONF"
	cp "$CONF" "$T/one.conf"
	sa --type prefork --min_servers 1 --max_servers 2
	echo 'port [::1]:0' >>"$CONF"
	kill -HUP "$SA_PID"
	wait_started 2
	p6=$(sed -n 's/^ihttpd: listening on \[::1\]:\([0-9]*\)$/\1/p' "$SA_ERR")
	[ -n "$p6" ]
	# the TCP port of the first line is the same socket, not a new one
	[ "$(grep -c "^ihttpd: listening on 127.0.0.1:$PORT\$" "$SA_ERR")" -eq 2 ]
	run curl -sS --max-time 10 -g "http://[::1]:$p6/small.txt"
	[ "$output" = "a small file" ]
	cp "$T/one.conf" "$CONF"
	kill -HUP "$SA_PID"
	wait_started 3
	grep -q "no longer listening on \[::1\]:$p6" "$SA_ERR"
	# closed by the master, and by the old workers as they finish
	wait_for 30 bash -c 'curl -s --max-time 2 -g -o /dev/null "$1"; [ $? -eq 7 ]' \
	    _ "http://[::1]:$p6/"
	run curl -sS --max-time 10 "$(url /small.txt)"
	[ "$output" = "a small file" ]
}

@test "HUP from prefork to single: the old workers are told to finish" {
	local old
	printf 'type prefork\nmin_servers 2\n' >>"$CONF"
	sa
	wait_for 20 nk -ge 2
	old=$(kids "$SA_PID")
	sed -i 's/^type prefork$/type single/' "$CONF"
	kill -HUP "$SA_PID"
	wait_started 2
	grep -q 'restarted: single server' "$SA_ERR"
	for p in $old; do
		wait_for 30 gone "$p"
	done
	run curl -sS --max-time 10 "$(url /small.txt)"
	[ "$output" = "a small file" ]
	[ "$(sj 'd["type"]')" = single ]
	# reaped, not left as zombies
	wait_for 30 nk -eq 0
}

# ---- QUIT ---------------------------------------------------------------

# t_quit TYPE: QUIT while a download is held in the middle: new
# connections are refused at once, the download completes whole, then the
# master exits 0.
t_quit() {
	head -c 16000000 /dev/urandom >"$DOC/big.bin"
	sa $(targs "$1")
	python3 "$FIX/slowget.py" "$PORT" /big.bin "$T/dl" "$T/started" \
	    "$T/go" >"$T/dl.out" 2>&1 3>&- &
	local dl=$!
	helper "$dl"
	wait_for 30 [ -e "$T/started" ]
	kill -QUIT "$SA_PID"
	# refused, not queued behind the busy worker (exit 7: no connection)
	wait_for 30 bash -c 'curl -s --max-time 2 -o /dev/null "$1"; [ $? -eq 7 ]' \
	    _ "$(url /small.txt)"
	alive "$dl"
	touch "$T/go"
	wait_for 60 gone "$dl"
	run wait "$dl"
	[ "$status" -eq 0 ]
	cmp "$T/dl" "$DOC/big.bin"
	wait_for 60 gone "$SA_PID"
	run wait "$SA_PID"
	[ "$status" -eq 0 ]
	grep -q 'notice: stopped' "$SA_ERR"
}

@test "single: QUIT during a download: it completes, then the server exits" { t_quit single; }
@test "fork: QUIT during a download: it completes, then the master exits" { t_quit fork; }
@test "preforksimple: QUIT during a download: it completes, then the master exits" { t_quit preforksimple; }
@test "prefork: QUIT during a download: it completes, then the master exits" { t_quit prefork; }

@test "prefork: graceful_timeout ends a download that outlasts it" {
	head -c 16000000 /dev/urandom >"$DOC/big.bin"
	sa --type prefork --min_servers 1 --max_servers 2 --graceful_timeout 1
	python3 "$FIX/slowget.py" "$PORT" /big.bin "$T/dl" "$T/started" \
	    "$T/go" >"$T/dl.out" 2>&1 3>&- &
	local dl=$!
	helper "$dl"
	wait_for 30 [ -e "$T/started" ]
	kill -QUIT "$SA_PID"
	wait_for 60 gone "$SA_PID"
	grep -q 'graceful_timeout: killing 1 workers still busy' "$SA_ERR"
	touch "$T/go"
	wait_for 60 gone "$dl"
	run wait "$dl"
	[ "$status" -eq 1 ]	# cut short
	run cat "$T/dl.out"
	has '^status 200 clen 16000000 got [0-9]+$'
	hasnt 'got 16000000$'
}

@test "single: TERM during a download ends it now; pid file and unix socket removed" {
	local s=$T/s.sock
	head -c 16000000 /dev/urandom >"$DOC/big.bin"
	sa --type single --port 127.0.0.1:0 --port "unix:$s" \
	    --pid_file "$T/p.pid"
	[ -S "$s" ]
	python3 "$FIX/slowget.py" "$PORT" /big.bin "$T/dl" "$T/started" \
	    "$T/go" >"$T/dl.out" 2>&1 3>&- &
	local dl=$!
	helper "$dl"
	wait_for 30 [ -e "$T/started" ]
	kill -TERM "$SA_PID"
	wait_for 30 gone "$SA_PID"
	[ ! -e "$T/p.pid" ]
	[ ! -e "$s" ]
	touch "$T/go"
	wait_for 60 gone "$dl"
}

@test "fork: max_servers 2 holds a third connection until one ends" {
	sa --type fork --max_servers 2 --header_timeout 60
	# two connections that send nothing: two children waiting
	for i in 1 2; do
		python3 -c 'import socket, sys, time, os
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
end = time.monotonic() + 60
while not os.path.exists(sys.argv[2]) and time.monotonic() < end:
    time.sleep(0.05)' "$PORT" "$T/stop.$i" 3>&- &
		helper $!
	done
	wait_for 20 nk -eq 2
	curl -sS --max-time 60 -o "$T/third" -w '%{http_code}\n' \
	    "$(url /small.txt)" >"$T/third.code" 2>&1 3>&- &
	local c=$!
	helper "$c"
	# queued in the backlog: no third child, no answer
	sleep 1
	[ "$(nkids "$SA_PID")" -eq 2 ]
	alive "$c"
	touch "$T/stop.1"
	wait_for 60 gone "$c"
	[ "$(cat "$T/third.code")" = 200 ]
	[ "$(cat "$T/third")" = "a small file" ]
	touch "$T/stop.2"
}

@test "prefork: TERM stops the master and every worker" {
	sa --type prefork --min_servers 3 --max_servers 4
	wait_for 20 nk -ge 3
	local w
	w=$(kids "$SA_PID")
	kill -TERM "$SA_PID"
	wait_for 30 gone "$SA_PID"
	for p in $w; do
		wait_for 10 gone "$p"
	done
	run wait "$SA_PID"
	[ "$status" -eq 0 ]
}

# ---- USR1 ---------------------------------------------------------------

# t_usr1 TYPE: the access log moved away, USR1: a new file is created and
# the next request is logged there, not in the moved one.
t_usr1() {
	local old
	sa $(targs "$1") --access_log "$T/access.log"
	curl -sS --max-time 10 -o /dev/null "$(url /small.txt?before)"
	wait_for 20 grep -q 'before' "$T/access.log"
	mv "$T/access.log" "$T/access.log.1"
	old=$(kids "$SA_PID")
	kill -USR1 "$SA_PID"
	wait_for 20 [ -e "$T/access.log" ]
	# the workers that hold the old file finish first
	for p in $old; do
		wait_for 30 gone "$p"
	done
	curl -sS --max-time 10 -o /dev/null "$(url /small.txt?after)"
	wait_for 20 grep -q 'after' "$T/access.log"
	! grep -q 'after' "$T/access.log.1"
	grep -q 'before' "$T/access.log.1"
}

@test "single: USR1 after moving the access log: a new file gets the next lines" { t_usr1 single; }
@test "fork: USR1 after moving the access log: a new file gets the next lines" { t_usr1 fork; }
@test "preforksimple: USR1 after moving the access log: a new file gets the next lines" { t_usr1 preforksimple; }
@test "prefork: USR1 after moving the access log: a new file gets the next lines" { t_usr1 prefork; }

# ---- pid_file, background -----------------------------------------------

@test "pid_file: written with the master's pid, removed at exit" {
	sa --pid_file "$T/ihttpd.pid"
	[ "$(cat "$T/ihttpd.pid")" = "$SA_PID" ]
	kill -TERM "$SA_PID"
	wait_for 30 gone "$SA_PID"
	[ ! -e "$T/ihttpd.pid" ]
}

@test "pid_file: kept over a HUP (the same pid), removed at exit after it" {
	sa --type prefork --min_servers 1 --pid_file "$T/ihttpd.pid"
	kill -HUP "$SA_PID"
	wait_started 2
	[ "$(cat "$T/ihttpd.pid")" = "$SA_PID" ]
	! grep -q 'held by a live server' "$SA_ERR"
	kill -TERM "$SA_PID"
	wait_for 30 gone "$SA_PID"
	[ ! -e "$T/ihttpd.pid" ]
}

@test "pid_file: a FIFO (or anything but a regular file) is refused, without hanging" {
	mkfifo "$T/ihttpd.pid"
	run timeout 20 python3 "$FIX/reaper.py" 15 "$IHTTPD" -c "$CONF" \
	    --standalone on --port 127.0.0.1:0 --pid_file "$T/ihttpd.pid"
	[ "$status" -eq 1 ]
	has "pid_file $T/ihttpd.pid: not a regular file"
}

@test "pid_file: a second server while the first lives: exit 1, the first untouched" {
	sa --pid_file "$T/ihttpd.pid"
	run python3 "$FIX/reaper.py" 30 "$IHTTPD" -c "$CONF" --standalone on \
	    --port 127.0.0.1:0 --pid_file "$T/ihttpd.pid"
	[ "$status" -eq 1 ]
	has "pid_file $T/ihttpd.pid: held by a live server \\(pid $SA_PID\\)"
	hasnt 'worker [0-9]+ started'
	[ "$(cat "$T/ihttpd.pid")" = "$SA_PID" ]
	run curl -sS --max-time 10 "$(url /small.txt)"
	[ "$output" = "a small file" ]
}

@test "pid_file: a stale one (dead pid, a live unrelated pid, or garbage) is replaced" {
	cat /proc/sys/kernel/pid_max >"$T/ihttpd.pid"	# never a live pid
	sa --pid_file "$T/ihttpd.pid"
	[ "$(cat "$T/ihttpd.pid")" = "$SA_PID" ]
	grep -q 'replacing a stale one' "$SA_ERR"
	kill -TERM "$SA_PID"
	wait_for 30 gone "$SA_PID"
	# a pid reused by another process after a reboot: nobody holds the
	# file's lock, so it is stale
	echo $$ >"$T/ihttpd.pid"
	sa --pid_file "$T/ihttpd.pid"
	[ "$(cat "$T/ihttpd.pid")" = "$SA_PID" ]
	kill -TERM "$SA_PID"
	wait_for 30 gone "$SA_PID"
	echo 'not a pid' >"$T/ihttpd.pid"
	sa --pid_file "$T/ihttpd.pid"
	[ "$(cat "$T/ihttpd.pid")" = "$SA_PID" ]
}

@test "background: the command returns, the daemon serves, the pid file has its pid" {
	local pid
	run bash -c '"$@" 3>&-' _ timeout 30 "$IHTTPD" -c "$CONF" --standalone on \
	    --port 127.0.0.1:0 --type prefork --min_servers 1 --background on \
	    --pid_file "$T/bg.pid" --error_log "$T/err.bg"
	[ "$status" -eq 0 ]
	has '^ihttpd: listening on 127\.0\.0\.1:[0-9]+$'
	PORT=$(sed -n 's/^ihttpd: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' \
	    <<<"$output")
	pid=$(cat "$T/bg.pid")
	SERVERS+=("$pid")
	alive "$pid"
	# detached: a session of its own, not our child
	[ "$(awk '{print $6}' "/proc/$pid/stat")" = "$pid" ]
	[ "$(awk '{print $4}' "/proc/$pid/stat")" != "$$" ]
	run curl -sS --max-time 10 "$(url /small.txt)"
	[ "$output" = "a small file" ]
	[ "$(sj 'd["master_pid"]')" = "$pid" ]
	# a HUP re-execs in place: still detached, the same pid, serving
	kill -HUP "$pid"
	wait_for 30 sj_is 'd["restarts"]' 1
	[ "$(cat "$T/bg.pid")" = "$pid" ]
	grep -q 'restarted: prefork server' "$T/err.bg"
	run curl -sS --max-time 10 "$(url /small.txt)"
	[ "$output" = "a small file" ]
	kill -TERM "$pid"
	wait_for 30 gone "$pid"
	[ ! -e "$T/bg.pid" ]
}

@test "background: a start-up failure is the command's exit status" {
	run python3 "$FIX/reaper.py" 30 "$IHTTPD" -c "$CONF" --standalone on \
	    --port 127.0.0.1:0 --background on --docroot "$T/missing"
	[ "$status" -eq 1 ]
	has "docroot $T/missing"
}

# ---- user, chroot ---------------------------------------------------------

@test "user: prefork workers run as nobody, the master stays root" {
	pub_dir
	local w gid
	gid=$(id -g nobody)
	sa --type prefork --min_servers 2 --max_servers 3 --user nobody \
	    --docroot "$PUB/www"
	wait_for 20 nk -ge 2
	run curl -sS --max-time 10 "$(url /)"
	[ "$output" = "hello standalone" ]
	for w in $(kids "$SA_PID"); do
		grep -Eq "^Uid:\s+$(id -u nobody)\s+$(id -u nobody)\s+$(id -u nobody)\s+$(id -u nobody)$" "/proc/$w/status"
		grep -Eq "^Gid:\s+$gid\s+$gid\s+$gid\s+$gid$" "/proc/$w/status"
		grep -Eq "^Groups:\s+$gid\s*$" "/proc/$w/status"
	done
	grep -Eq '^Uid:\s+0\s+0\s+0\s+0$' "/proc/$SA_PID/status"
	! grep -q 'running as root without' "$SA_ERR"
}

@test "user and group: a fork child serves as nobody:daemon" {
	pub_dir
	local c gid
	gid=$(getent group daemon | cut -d: -f3)
	[ -n "$gid" ] || skip "no group daemon"
	sa --type fork --max_servers 2 --user nobody --group daemon \
	    --docroot "$PUB/www" --header_timeout 30
	# a connection that sends nothing keeps its child waiting
	python3 -c 'import socket, sys, time, os
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
end = time.monotonic() + 60
while not os.path.exists(sys.argv[2]) and time.monotonic() < end:
    time.sleep(0.05)' "$PORT" "$T/stop" 2>"$T/idle.err" 3>&- &
	helper $!
	wait_for 20 nk -ge 1
	c=$(kids "$SA_PID" | head -1)
	wait_for 10 grep -Eq "^Uid:\s+$(id -u nobody)\s" "/proc/$c/status"
	grep -Eq "^Gid:\s+$gid\s+$gid\s+$gid\s+$gid$" "/proc/$c/status"
	touch "$T/stop"
	run curl -sS --max-time 10 "$(url /)"
	[ "$output" = "hello standalone" ]
	grep -Eq '^Uid:\s+0\s+0\s+0\s+0$' "/proc/$SA_PID/status"
}

@test "user: a single server drops to nobody itself; HUP then says it cannot restart" {
	pub_dir
	sa --type single --user nobody --docroot "$PUB/www"
	run curl -sS --max-time 10 "$(url /)"
	[ "$output" = "hello standalone" ]
	grep -Eq "^Uid:\s+$(id -u nobody)\s+$(id -u nobody)\s+$(id -u nobody)\s+$(id -u nobody)$" "/proc/$SA_PID/status"
	kill -HUP "$SA_PID"
	wait_for 20 grep -q 'cannot restart itself; stop and start it' "$SA_ERR"
	run curl -sS --max-time 10 "$(url /)"
	[ "$output" = "hello standalone" ]
}

@test "chroot: prefork workers are inside it and serve the docroot" {
	pub_dir
	mkdir -m 755 "$PUB/root"
	mv "$PUB/www" "$PUB/root/www"
	sa --type prefork --min_servers 1 --max_servers 2 --user nobody \
	    --chroot "$PUB/root" --docroot "$PUB/root/www"
	run curl -sS --max-time 10 "$(url /)"
	[ "$output" = "hello standalone" ]
	wait_for 20 nk -ge 1
	for w in $(kids "$SA_PID"); do
		[ "$(readlink "/proc/$w/root")" = "$PUB/root" ]
	done
	[ "$(readlink "/proc/$SA_PID/root")" = / ]
	run curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$(url /nope)"
	[ "$output" = 404 ]
}

@test "chroot: a single server chroots itself" {
	pub_dir
	mkdir -m 755 "$PUB/root"
	mv "$PUB/www" "$PUB/root/www"
	# LeakSanitizer reads /proc at exit, which the chroot has not
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
	    sa --type single --chroot "$PUB/root" --docroot "$PUB/root/www"
	run curl -sS --max-time 10 "$(url /)"
	[ "$output" = "hello standalone" ]
	[ "$(readlink "/proc/$SA_PID/root")" = "$PUB/root" ]
}

@test "chroot without the docroot inside: exit 1 with a message, no child" {
	pub_dir
	mkdir -m 755 "$PUB/empty"
	run python3 "$FIX/reaper.py" 30 "$IHTTPD" -c "$CONF" --standalone on \
	    --port 127.0.0.1:0 --chroot "$PUB/empty" --docroot "$PUB/www"
	[ "$status" -eq 1 ]
	has "chroot $PUB/empty does not contain docroot $PUB/www"
	hasnt 'listening on'
}

# ---- unix sockets -------------------------------------------------------

@test "unix socket: served, mode unix_mode, kept over HUP, removed at exit" {
	local s=$T/s.sock
	sa --port "unix:$s" --unix_mode 0600 --type prefork --min_servers 1
	grep -q "^ihttpd: listening on unix:$s\$" "$SA_ERR"
	[ -S "$s" ]
	[ "$(stat -c %a "$s")" = 600 ]
	run curl -sS --max-time 10 --unix-socket "$s" http://x/small.txt
	[ "$output" = "a small file" ]
	kill -HUP "$SA_PID"
	wait_started 2
	[ -S "$s" ]
	run curl -sS --max-time 10 --unix-socket "$s" http://x/small.txt
	[ "$output" = "a small file" ]
	kill -TERM "$SA_PID"
	wait_for 30 gone "$SA_PID"
	[ ! -e "$s" ]
}

@test "unix socket: the default mode is 0660; TCP and unix side by side" {
	local s=$T/s.sock
	sa --port "unix:$s" --port 127.0.0.1:0 --type preforksimple --max_servers 1
	[ "$(stat -c %a "$s")" = 660 ]
	run curl -sS --max-time 10 --unix-socket "$s" http://x/small.txt
	[ "$output" = "a small file" ]
	run curl -sS --max-time 10 "$(url /small.txt)"
	[ "$output" = "a small file" ]
}

@test "unix socket: a stale socket file is replaced" {
	local s=$T/s.sock
	python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()' "$s"
	[ -S "$s" ]
	sa --port "unix:$s" --type single
	run curl -sS --max-time 10 --unix-socket "$s" http://x/small.txt
	[ "$output" = "a small file" ]
}

@test "unix socket: a regular file at the path is an error; the file stays" {
	local s=$T/s.sock
	echo keep >"$s"
	run python3 "$FIX/reaper.py" 30 "$IHTTPD" -c "$CONF" --standalone on \
	    --port "unix:$s"
	[ "$status" -eq 1 ]
	has "$s exists and is not a socket"
	[ "$(cat "$s")" = keep ]
}

@test "unix socket: a path a live server listens on is an error; that server serves on" {
	local s=$T/s.sock
	sa --port "unix:$s" --type single
	run python3 "$FIX/reaper.py" 30 "$IHTTPD" -c "$CONF" --standalone on \
	    --port "unix:$s"
	[ "$status" -eq 1 ]
	has "$s: a server is listening there already"
	run curl -sS --max-time 10 --unix-socket "$s" http://x/small.txt
	[ "$output" = "a small file" ]
}

# ---- systemd socket activation, inetd wait mode ---------------------------

# sd [ihttpd args...]: systemd-socket-activate on a free port (or the
# unix socket $SD_UNIX), running ihttpd --standalone on with ARGS on its
# first connection (it execs: the pid stays).  PORT, SA_PID, SA_ERR as
# for sa.
sd() {
	command -v systemd-socket-activate >/dev/null ||
	    skip "no systemd-socket-activate"
	local addr
	PORT=$(free_port)
	addr=${SD_UNIX:-127.0.0.1:$PORT}
	NSERV=$((NSERV + 1))
	SA_ERR=$T/err.$NSERV
	systemd-socket-activate -l "$addr" "$IHTTPD" -c "$CONF" \
	    --standalone on "$@" </dev/null >"$SA_ERR.out" 2>"$SA_ERR" 3>&- &
	SA_PID=$!
	SERVERS+=("$SA_PID")
	wait_for 20 grep -q "Listening on $addr" "$SA_ERR"
}

@test "systemd-socket-activate: the passed socket is used; port lines are not bound" {
	sd --type prefork --min_servers 1 --port 127.0.0.1:0
	run curl -sS --max-time 20 "$(url /small.txt)"
	[ "$output" = "a small file" ]
	wait_started
	[ "$(grep -c '^ihttpd: listening on ' "$SA_ERR")" -eq 1 ]
	grep -q "^ihttpd: listening on 127.0.0.1:$PORT\$" "$SA_ERR"
	grep -q 'port` lines are not bound' "$SA_ERR"
	[ "$(sj 'd["master_pid"]')" = "$SA_PID" ]
}

@test "systemd-socket-activate: HUP restarts on the passed socket" {
	sd --type prefork --min_servers 1
	run curl -sS --max-time 20 "$(url /small.txt)"
	[ "$output" = "a small file" ]
	wait_started
	kill -HUP "$SA_PID"
	wait_started 2
	run curl -sS --max-time 10 "$(url /small.txt)"
	[ "$output" = "a small file" ]
	alive "$SA_PID"
	[ "$(sj 'd["restarts"]')" = 1 ]
}

@test "systemd-socket-activate: a unix socket passed in is served and left to systemd" {
	local s=$T/sd.sock
	SD_UNIX=$s sd --type preforksimple --max_servers 1
	run curl -sS --max-time 20 --unix-socket "$s" http://x/small.txt
	[ "$output" = "a small file" ]
	wait_started
	grep -q "^ihttpd: listening on unix:$s\$" "$SA_ERR"
	kill -TERM "$SA_PID"
	wait_for 30 gone "$SA_PID"
	[ -S "$s" ]	# not ours to remove
}

# wm [ihttpd args...]: inetd's wait form: a listening socket on fd 0 (a
# unix one at $WM_UNIX if set) and ihttpd -c $CONF ARGS without
# --standalone.  PORT, SA_PID, SA_ERR.
wm() {
	NSERV=$((NSERV + 1))
	SA_ERR=$T/err.$NSERV
	rm -f "$T/wport"
	python3 "$FIX/waitmode.py" "$T/wport" ${WM_UNIX:+--unix "$WM_UNIX"} \
	    "$IHTTPD" -c "$CONF" "$@" \
	    >"$SA_ERR.out" 2>"$SA_ERR" 3>&- &
	SA_PID=$!
	SERVERS+=("$SA_PID")
	wait_for 20 [ -e "$T/wport" ]
	PORT=$(cat "$T/wport")
	wait_started
}

@test "inetd wait mode: the socket on fd 0 is served" {
	wm --type prefork --min_servers 1 --idle_exit 600
	grep -q 'prefork server, pid [0-9]* (inetd wait mode)' "$SA_ERR"
	run curl -sS --max-time 10 "$(url /small.txt)" "$(url /)"
	[ "${lines[0]}" = "a small file" ]
	[ "${lines[1]}" = "hello standalone" ]
	! grep -q '^ihttpd: listening on' "$SA_ERR"
}

@test "inetd wait mode: idle_exit 2 ends the server after it has been idle" {
	wm --type prefork --min_servers 1 --idle_exit 2
	run curl -sS --max-time 10 "$(url /small.txt)"
	[ "$output" = "a small file" ]
	wait_for 60 gone "$SA_PID"
	run wait "$SA_PID"
	[ "$status" -eq 0 ]
	grep -q 'idle for 2 s: exiting' "$SA_ERR"
}

@test "inetd wait mode: a single server exits after idle_exit too" {
	wm --type single --idle_exit 2
	run curl -sS --max-time 10 "$(url /small.txt)"
	[ "$output" = "a small file" ]
	wait_for 60 gone "$SA_PID"
	grep -q 'idle for 2 s: exiting' "$SA_ERR"
}

@test "inetd wait mode: HUP restarts on the same socket, the old workers end" {
	local old
	wm --type prefork --min_servers 2 --idle_exit 600
	wait_for 20 nk -ge 2
	old=$(kids "$SA_PID")
	kill -HUP "$SA_PID"
	wait_started 2
	for p in $old; do
		wait_for 30 gone "$p"
	done
	alive "$SA_PID"
	grep -q 'restarted: prefork server, pid [0-9]* (inetd wait mode)' "$SA_ERR"
	run curl -sS --max-time 10 "$(url /small.txt)"
	[ "$output" = "a small file" ]
}

@test "inetd wait mode: a unix socket; idle_exit leaves inetd's socket file" {
	local s=$T/w.sock
	WM_UNIX=$s wm --type single --idle_exit 2
	run curl -sS --max-time 10 --unix-socket "$s" http://x/small.txt
	[ "$output" = "a small file" ]
	wait_for 60 gone "$SA_PID"
	grep -q 'idle for 2 s: exiting' "$SA_ERR"
	[ -S "$s" ]
}

# ---- bad start-up input -----------------------------------------------------

# bad_start MESSAGE [ihttpd args...]: exit 1 with MESSAGE (a regex), no
# worker started and no process left behind (reaper.py).
bad_start() {
	local msg=$1
	shift
	run python3 "$FIX/reaper.py" 30 "$IHTTPD" -c "$CONF" --standalone on \
	    --type prefork --min_servers 2 "$@"
	[ "$status" -eq 1 ]	# reaper.py: 99 if a process was left
	has "$msg"
	hasnt 'Sanitizer|runtime error:'	# their exit status is 1 too
	hasnt 'worker [0-9]+ started'
	hasnt 'started: prefork server'
}

@test "bad input: --port 99999" {
	bad_start "port: '99999': '99999' is not a port \\(0-65535 or scan\\)" \
	    --port 99999
}

@test "bad input: --port '[::1' (no closing bracket)" {
	bad_start "port: '\\[::1': an IPv6 address needs the form \\[ADDR\\]:PORT" \
	    --port '[::1'
}

@test "bad input: --port foo:bar" {
	bad_start "port: 'foo:bar': 'bar' is not a port" --port foo:bar
}

@test "bad input: --port ::1:80 (IPv6 without brackets)" {
	bad_start "an IPv6 address goes in brackets" --port ::1:80
}

@test "bad input: a port in use" {
	python3 -c 'import socket, sys, time, os
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
open(sys.argv[1] + ".tmp", "w").write("%d\n" % s.getsockname()[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
end = time.monotonic() + 60
while not os.path.exists(sys.argv[2]) and time.monotonic() < end:
    time.sleep(0.05)' "$T/held" "$T/stop" 3>&- &
	helper $!
	wait_for 20 [ -e "$T/held" ]
	local p
	p=$(cat "$T/held")
	bad_start "port 127.0.0.1:$p: cannot listen on 127.0.0.1:$p: Address already in use" \
	    --port "127.0.0.1:$p"
	touch "$T/stop"
}

@test "bad input: an unknown user" {
	bad_start 'user no-such-user-ihttpd: no such user' \
	    --port 127.0.0.1:0 --user no-such-user-ihttpd
}

@test "bad input: an unknown group" {
	bad_start 'group no-such-group-ihttpd: no such group' \
	    --port 127.0.0.1:0 --user nobody --group no-such-group-ihttpd
}

@test "bad input: a missing docroot" {
	bad_start "docroot $T/missing: No such file or directory" \
	    --port 127.0.0.1:0 --docroot "$T/missing"
}

@test "bad input: --check reports an unknown user and a chroot without the docroot" {
	run "$IHTTPD" -c "$CONF" --standalone on --port 127.0.0.1:0 --check \
	    --user no-such-user-ihttpd
	[ "$status" -eq 1 ]
	has 'user no-such-user-ihttpd: no such user'
	mkdir -p "$T/emptyroot"
	run "$IHTTPD" -c "$CONF" --standalone on --port 127.0.0.1:0 --check \
	    --chroot "$T/emptyroot"
	[ "$status" -eq 1 ]
	has "chroot $T/emptyroot does not contain docroot"
	run "$IHTTPD" -c "$CONF" --standalone on --port 127.0.0.1:0 --check
	[ "$status" -eq 0 ]
}

@test "bad input: standalone without a port" {
	run python3 "$FIX/reaper.py" 30 "$IHTTPD" -c "$CONF" --standalone on
	[ "$status" -eq 1 ]
	has 'standalone needs a `port`'
}

@test "bad input: a port with /tls and no certificate" {
	bad_start 'TLS needs tls_cert' --port 127.0.0.1:0/tls
}
