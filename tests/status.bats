#!/usr/bin/env bats
# Service fn=status (src/status.c) through pipe mode, where the board is
# the one-slot board of inetd mode and the request on it is the status
# request itself: the HTML page, JSON (?json, Accept), Prometheus text,
# methods, no query shown, escaping, and the demo config's ACL.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
	snapshot_binary || return 1
}

setup() {
	cd "$ROOT"
	unset TCPREMOTEIP TCPREMOTEPORT TCPLOCALIP TCPLOCALPORT
	CONF=$BATS_TEST_TMPDIR/status.conf
	mkdir -p "$BATS_TEST_TMPDIR/www"
	cat >"$CONF" <<-EOF
	docroot     $BATS_TEST_TMPDIR/www
	access_log  off
	error_log   stderr
	log_level   0
	<Object path="/server-status">
	  Service fn=status
	</Object>
	<Object ppath="/st">
	  Service fn=status
	</Object>
	EOF
}

# get TARGET [header lines with \r\n] [args]: one GET, connection closed.
get() {
	local t=$1 h=${2:-}
	shift 2 2>/dev/null || shift
	pipe_req "GET $t HTTP/1.1\r\nHost: x\r\n${h}Connection: close\r\n\r\n" \
	    -c "$CONF" "$@"
}

# The body of $output (after the head).
body() {
	printf '%s' "$output" | sed '1,/^\r$/d'
}

@test "status: an HTML page with the summary, the grid and the busy table" {
	get /server-status
	[ "$(resp_status)" = 200 ]
	has '^Content-Type: text/html; charset=utf-8'
	has '^Cache-Control: no-store'
	has '<tr><th>Type</th><td>inetd</td></tr>'
	has '<tr><th>Server</th><td>ihttpd/[0-9.]+</td></tr>'
	has '<tr><th>Master pid</th><td>[0-9]+</td></tr>'
	has '<tr><th>Uptime</th><td>[0-9][0-9]:[0-9][0-9]:[0-9][0-9]</td></tr>'
	has '<tr><th>Requests</th><td>0 \('
	has 'max_servers 1, slots 1, spawned 1, exited 0'
	has '<div class="grid">'
	has '<span class="c s4">W</span>writing: 1'
	has '<span class="c s2">_</span>idle: 0'
	has '<span class="c s4" title="slot 0: pid [0-9]+, writing, 0 requests">W</span>'
	has '<tr><td>0</td><td>[0-9]+</td><td>writing</td><td>0</td><td>0</td><td>127.0.0.1</td><td>GET /server-status</td></tr>'
	hasnt '<script'
	hasnt 'https?://'
}

@test "status: a second request on the connection sees the first counted" {
	pipe_req "GET /server-status HTTP/1.1\r\nHost: x\r\n\r\nGET /server-status?json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" \
	    -c "$CONF"
	printf '%s' "$output" | python3 -c '
import json, sys
out = sys.stdin.read()
assert out.count("HTTP/1.1 200 OK") == 2
d = json.loads(out[out.rindex("\r\n\r\n") + 4:])
assert d["requests"] == 1, d["requests"]
assert d["connections"] == 1, d["connections"]
assert d["bytes"] > 1000, d["bytes"]
assert d["workers"][0]["requests"] == 1
'
}

@test "status: HEAD gets the head and no body" {
	pipe_req "HEAD /server-status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" \
	    -c "$CONF"
	[ "$(resp_status)" = 200 ]
	has '^Content-Type: text/html'
	[ -z "$(body)" ]
}

@test "status: ?json is JSON with the expected keys and type inetd" {
	get '/server-status?json'
	[ "$(resp_status)" = 200 ]
	has '^Content-Type: application/json'
	has '^Cache-Control: no-store'
	body | python3 -c '
import json, sys
d = json.load(sys.stdin)
for k in ("version", "type", "master_pid", "start_time", "uptime_seconds",
    "requests", "bytes", "connections", "requests_per_second",
    "max_servers", "slots", "spawned", "exited", "restarts", "states",
    "workers"):
    assert k in d, k
assert d["type"] == "inetd", d["type"]
assert d["slots"] == 1 and d["max_servers"] == 1
assert sum(d["states"].values()) == d["slots"]
assert d["states"]["writing"] == 1
w = d["workers"]
assert len(w) == 1
for k in ("slot", "pid", "state", "seconds", "requests", "connections",
    "bytes", "peer", "request"):
    assert k in w[0], k
assert w[0]["pid"] == d["master_pid"]
assert w[0]["state"] == "writing"
assert w[0]["request"] == "GET /server-status", w[0]["request"]
'
}

@test "status: json as one parameter among others, or with a value" {
	get '/server-status?a=1&json&b=2'
	body | python3 -c 'import json,sys; json.load(sys.stdin)'
	get '/server-status?json=1'
	body | python3 -c 'import json,sys; json.load(sys.stdin)'
	get '/server-status?jsonx'
	has '^Content-Type: text/html'
}

@test "status: Accept: application/json gets JSON, and Vary says so" {
	get /server-status 'Accept: text/html;q=0.5, application/json\r\n'
	[ "$(resp_status)" = 200 ]
	has '^Content-Type: application/json'
	has '^Vary: Accept'
	body | python3 -c 'import json,sys; assert json.load(sys.stdin)["type"] == "inetd"'
}

@test "status: ?prometheus is the text exposition format" {
	get '/server-status?prometheus'
	[ "$(resp_status)" = 200 ]
	has '^Content-Type: text/plain; version=0.0.4'
	has '^Cache-Control: no-store'
	body | python3 -c '
import re, sys
lines = sys.stdin.read().splitlines()
sample = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)"
    r"(\{[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"\\\n]*\""
    r"(,[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"\\\n]*\")*\})? "
    r"(-?[0-9]+(\.[0-9]+)?)$")
helped, typed, seen = set(), {}, {}
for l in lines:
    if l.startswith("# HELP "):
        helped.add(l.split()[2])
    elif l.startswith("# TYPE "):
        n, t = l.split()[2:4]
        assert t in ("counter", "gauge"), l
        typed[n] = t
    else:
        m = sample.match(l)
        assert m, "not a sample line: %r" % l
        assert m.group(1) in typed and m.group(1) in helped, l
        seen.setdefault(m.group(1), []).append(l)
for n in ("ihttpd_uptime_seconds", "ihttpd_requests_total",
    "ihttpd_bytes_total", "ihttpd_connections_total", "ihttpd_workers",
    "ihttpd_max_servers", "ihttpd_workers_spawned_total",
    "ihttpd_workers_exited_total"):
    assert n in seen, n
for n, t in typed.items():
    assert (t == "counter") == n.endswith("_total"), n
assert "ihttpd_workers{state=\"writing\"} 1" in seen["ihttpd_workers"]
assert "ihttpd_workers{state=\"idle\"} 0" in seen["ihttpd_workers"]
assert "ihttpd_max_servers 1" in seen["ihttpd_max_servers"]
assert any("type=\"inetd\"" in l for l in seen["ihttpd_info"])
'
}

@test "status: POST and other methods get 405 with Allow" {
	pipe_req "POST /server-status HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc" \
	    -c "$CONF"
	[ "$(resp_status)" = 405 ]
	has '^Allow: GET, HEAD'
	hasnt 'class="grid"'
	pipe_req "DELETE /server-status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" \
	    -c "$CONF"
	[ "$(resp_status)" = 405 ]
	has '^Allow: GET, HEAD'
}

@test "status: the query of the request on the board is not shown" {
	get '/server-status?token=s3cret'
	[ "$(resp_status)" = 200 ]
	has '<td>GET /server-status</td>'
	hasnt 's3cret'
	get '/server-status?json&token=s3cret'
	hasnt 's3cret'
	body | python3 -c '
import json, sys
assert json.load(sys.stdin)["workers"][0]["request"] == "GET /server-status"'
}

@test "status: JSON escapes quotes, backslashes and invalid UTF-8" {
	# The decoded path is on the board: %22 ", %5C \, %FF (not UTF-8),
	# %C3%A9 (é), %01 (a control byte: ? on the board).
	get '/st/a%22b%5Cc%FFd%C3%A9e%01f?json'
	[ "$(resp_status)" = 200 ]
	body | python3 -c '
import json, sys
raw = sys.stdin.buffer.read()
raw.decode("utf-8")
r = json.loads(raw)["workers"][0]["request"]
assert r == "GET /st/a\"b\\c\ufffdd\u00e9e?f", repr(r)'
}

@test "status: HTML escapes what the board holds" {
	get '/st/%3Cb%3E%26%22x'
	[ "$(resp_status)" = 200 ]
	has '<td>GET /st/&lt;b&gt;&amp;&quot;x</td>'
	hasnt '<b>'
}

@test "status: the peer shown is the connection's" {
	get '/server-status?json' '' --remote_addr 2001:db8::7
	body | python3 -c '
import json, sys
assert json.load(sys.stdin)["workers"][0]["peer"] == "2001:db8::7"'
}

@test "status: arguments are refused when the config loads" {
	printf '<Object path="/s">\n  Service fn=status verbose=1\n</Object>\n' \
	    >"$BATS_TEST_TMPDIR/bad.conf"
	run --separate-stderr "$IHTTPD" -c "$BATS_TEST_TMPDIR/bad.conf" --check
	[ "$status" -ne 0 ]
	grep -q 'takes no arguments' <<<"$stderr"
}

@test "status: the demo config refuses /server-status to another peer" {
	run bash -c "printf 'GET /server-status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
	    '$IHTTPD' -c conf/ihttpd.conf --remote_addr 10.0.0.1 2>/dev/null"
	[ "$(resp_status)" = 403 ]
	hasnt 'class="grid"'
}

@test "status: the demo config shows /server-status to 127.0.0.1 and ::1" {
	local a
	for a in 127.0.0.1 ::1; do
		run bash -c "printf 'GET /server-status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
		    '$IHTTPD' -c conf/ihttpd.conf --remote_addr $a 2>/dev/null"
		[ "$(resp_status)" = 200 ]
		has 'class="grid"'
	done
}
