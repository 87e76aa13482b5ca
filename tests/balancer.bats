#!/usr/bin/env bats
# Behind a balancer: HAProxy (send-proxy, send-proxy-v2, health checks) in
# front of ihttpd nodes under tcpserver (inetd mode) and standalone
# prefork, sessions and Digest nonce counts in redis-server, rate limits.
# Everything listens on loopback ports chosen here; clients bind other
# loopback addresses (127.0.0.2, ...) so the address the balancer saw is
# told apart from the balancer's own.  Every process is started here and
# stopped by its pid.  Clients are curl, python3's http.client and raw
# sockets (tests/fixtures/balancer/load.py).

load helpers
load daemon

LOAD=$BATS_TEST_DIRNAME/fixtures/balancer/load.py

setup_file() {
	snapshot_binary || return 1
	command -v redis-server >/dev/null || skip "no redis-server"
	command -v haproxy >/dev/null || skip "no haproxy"
}

setup() {
	cd "$ROOT" || return 1
	T=$BATS_TEST_TMPDIR
	SERVERS=() HELPERS=() TCPS=() NSERV=0
	mkdir -p "$T/www" "$T/data" "$T/data2"
	chmod 700 "$T/data" "$T/data2"
	printf 'hello\n' >"$T/www/index.html"
}

teardown() {
	local p c bad=
	# crashes first: the children stopped below end by our signal
	for p in "$T"/tcp.*.log; do
		[ -f "$p" ] || continue
		awk '$2 == "end" && $5 % 256 % 128 != 0 { bad = 1 } END { exit !bad }' \
		    "$p" && { echo "a child crashed ($p)" >&2; bad=1; }
	done
	for p in "${TCPS[@]}"; do
		for c in $(pgrep -P "$p"); do
			kill "$c" 2>/dev/null || true
		done
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	for p in "${HELPERS[@]}"; do
		kill -CONT "$p" 2>/dev/null || true
	done
	stop_started
	crash_free && [ -z "$bad" ]
}

# wait_port PORT: something accepts on 127.0.0.1:PORT (up to 10 s).
wait_port() {
	local i
	for i in $(seq 100); do
		python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),0.2).close()' \
		    "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "nothing listens on $1" >&2
	return 1
}

# redis: redis-server on $RPORT, nothing kept on disk; RPID its pid.
redis() {
	RPORT=${RPORT:-$(free_port)}
	redis-server --port "$RPORT" --bind 127.0.0.1 --save '' \
	    --appendonly no --dir "$T" >"$T/redis.log" 2>&1 &
	RPID=$!
	HELPERS+=("$RPID")
	wait_port "$RPORT"
}

# node NAME [ihttpd args...]: ihttpd under tcpserver on a new port, its
# port in P_NAME, its access log in $T/access.NAME.
node() {
	local name=$1 port
	shift
	port=$(free_port)
	tcpserver -v -H -R -l 0 127.0.0.1 "$port" "$IHTTPD" -c "$T/conf" \
	    --access_log "$T/access.$name" "$@" >"$T/tcp.$name.log" 2>&1 &
	TCPS+=("$!")
	printf -v "P_$name" '%s' "$port"
	wait_port "$port"
}

# pnode NAME [ihttpd args...]: a standalone prefork node on a /proxy
# port; its port in P_NAME, the master's pid in PID_NAME.
pnode() {
	local name=$1
	shift
	SA_CONF=$T/conf sa --type prefork --min_servers 4 --max_servers 12 \
	    --port "127.0.0.1:0/proxy" --access_log "$T/access.$name" "$@"
	printf -v "P_$name" '%s' "$PORT"
	printf -v "PID_$name" '%s' "$SA_PID"
}

# balancer MODE SERVERS...: haproxy in front, on $HPORT; each SERVER is
# "PORT OPTIONS" (for example "$P_a send-proxy-v2 check").
balancer() {
	local i=0 s
	HPORT=$(free_port)
	{
		printf 'global\n  maxconn 512\n'
		printf 'defaults\n  mode http\n  timeout connect 2s\n'
		printf '  timeout client 20s\n  timeout server 20s\n'
		printf '  retries 3\n  option redispatch\n  timeout queue 20s\n'
		printf '  timeout check 5s\n'
		printf 'frontend fe\n  bind 127.0.0.1:%s\n  default_backend be\n' \
		    "$HPORT"
		printf 'backend be\n  balance roundrobin\n'
		printf '  option httpchk GET /index.html\n'
		for s in "$@"; do
			printf '  server n%d 127.0.0.1:%s maxconn 8 inter 300ms fall 2 rise 1\n' \
			    "$i" "$s"
			i=$((i + 1))
		done
	} >"$T/haproxy.cfg"
	haproxy -db -f "$T/haproxy.cfg" >"$T/haproxy.log" 2>&1 &
	HELPERS+=("$!")
	wait_port "$HPORT"
}

conf() {
	cat >"$T/conf" <<EOF
docroot $T/www
datadir $T/data
log_level 3
header_timeout 2
keepalive_timeout 2
trusted_proxies ${TRUST:-127.0.0.1/32}
<Object path="/env">
  Service fn=env
</Object>
<Object path="/counter">
  Service fn=counter
</Object>
<Object ppath="/private">
  AuthTrans fn=auth-digest realm="r" lookup=demo-users
</Object>
$*
EOF
}

# le_s A B: A <= B, as decimals.
le_s() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a + 0 <= b + 0) }' ||
	    { echo "expected $1 <= $2" >&2; return 1; }
}

remote_addr() {
	sed -n 's|.*<tr><th>REMOTE_ADDR</th><td>\([^<]*\)</td>.*|\1|p' <<<"$output"
}

# ---- PROXY protocol -----------------------------------------------------

@test "PROXY v1 through haproxy to inetd mode: the client's address in REMOTE_ADDR, the log and an ACL" {
	conf 'cidr_deny 127.0.0.3/32'
	node a --proxy_protocol on
	balancer "$P_a send-proxy check"
	run curl -s --interface 127.0.0.2 "http://127.0.0.1:$HPORT/env"
	[ "$status" -eq 0 ]
	[ "$(remote_addr)" = 127.0.0.2 ]
	grep -q '^127\.0\.0\.2 .*"GET /env HTTP/1.1" 200' "$T/access.a"
	# the global ACL sees the client, not the balancer
	run curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.3 \
	    "http://127.0.0.1:$HPORT/env"
	[ "$output" != 200 ]
	grep -q '^127\.0\.0\.3 .* 403 ' "$T/access.a"
}

@test "PROXY v2 through haproxy to prefork: REMOTE_ADDR, the log, PathCheck acl; health checks are LOCAL" {
	conf '<Object path="/inner">
  PathCheck fn=acl cidr_allow="127.0.0.2"
  Service fn=env
</Object>'
	pnode a
	balancer "$P_a send-proxy-v2 check"
	run curl -s --interface 127.0.0.2 "http://127.0.0.1:$HPORT/env"
	[ "$(remote_addr)" = 127.0.0.2 ]
	run curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 \
	    "http://127.0.0.1:$HPORT/inner"
	[ "$output" = 200 ]
	run curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.4 \
	    "http://127.0.0.1:$HPORT/inner"
	[ "$output" = 403 ]
	grep -q '^127\.0\.0\.2 .*"GET /env HTTP/1.1" 200' "$T/access.a"
	# haproxy's checks (PROXY LOCAL) are served as the balancer itself
	wait_for 10 grep -q '^127\.0\.0\.1 .*"GET /index.html HTTP/1.0" 200' \
	    "$T/access.a"
}

@test "a PROXY header from an untrusted peer gets nothing" {
	TRUST=127.0.0.9/32 conf
	node a --proxy_protocol on
	run python3 "$LOAD" send "$P_a" 127.0.0.1 v1 /env
	[ "$output" = CLOSED ]
	run python3 "$LOAD" send "$P_a" 127.0.0.1 v2 /env
	[ "$output" = CLOSED ]
	# from the trusted one, the same header is believed
	run python3 "$LOAD" send "$P_a" 127.0.0.9 v2 /env
	[[ $output == *"REMOTE_ADDR</th><td>198.51.100.7<"* ]]
	grep -q 'not in trusted_proxies' "$T/tcp.a.log"
}

@test "malformed, truncated or missing PROXY headers close the connection" {
	conf
	node a --proxy_protocol on
	for k in v1bad v2bad v1cut none; do
		run python3 "$LOAD" send "$P_a" 127.0.0.1 "$k" /env
		[ "$output" = CLOSED ] || { echo "$k: $output"; false; }
	done
	grep -q 'malformed PROXY header' "$T/tcp.a.log"
	grep -q 'closed inside the PROXY header' "$T/tcp.a.log"
	# nothing reaches the access log: there was no request
	[ ! -s "$T/access.a" ]
}

@test "a silent peer is closed at header_timeout" {
	conf
	node a --proxy_protocol on --header_timeout 1
	run timeout 10 python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
t = time.time()
print(s.recv(10), round(time.time() - t))' "$P_a"
	[ "$output" = "b'' 1" ]
}

@test "PROXY v2 SSL TLV sets HTTPS; LOCAL keeps the balancer's address" {
	conf
	node a --proxy_protocol on
	run python3 "$LOAD" send "$P_a" 127.0.0.1 v2ssl /env
	[[ $output == *"<th>HTTPS</th><td>on<"* ]]
	[[ $output == *"<th>SSL_PROTOCOL</th><td>TLSv1.3<"* ]]
	[[ $output == *"REMOTE_ADDR</th><td>198.51.100.7<"* ]]
	run python3 "$LOAD" send "$P_a" 127.0.0.1 v2 /env
	[[ $output != *"<th>HTTPS</th>"* ]]
	run python3 "$LOAD" send "$P_a" 127.0.0.1 v2local /env
	[[ $output == *"REMOTE_ADDR</th><td>127.0.0.1<"* ]]
}

@test "X-Forwarded-For and Forwarded: rightmost untrusted hop, from trusted proxies only" {
	conf 'trusted_proxies 127.0.0.5/32'
	node a --forwarded_for x-forwarded-for
	run curl -s -H 'X-Forwarded-For: 203.0.113.1, 198.51.100.2, 127.0.0.5' \
	    "http://127.0.0.1:$P_a/env"
	[ "$(remote_addr)" = 198.51.100.2 ]
	grep -q '^198\.51\.100\.2 ' "$T/access.a"
	# a hop that is no address stops the walk at the proxy that sent it
	run curl -s -H 'X-Forwarded-For: 203.0.113.1, junk' \
	    "http://127.0.0.1:$P_a/env"
	[ "$(remote_addr)" = 127.0.0.1 ]
	# from a peer we do not trust the header means nothing
	run curl -s --interface 127.0.0.2 -H 'X-Forwarded-For: 203.0.113.1' \
	    "http://127.0.0.1:$P_a/env"
	[ "$(remote_addr)" = 127.0.0.2 ]
	node b --forwarded_for forwarded
	run curl -s -H 'Forwarded: for=203.0.113.1, for="[2001:db8::7]:4711";proto=https' \
	    "http://127.0.0.1:$P_b/env"
	[ "$(remote_addr)" = 2001:db8::7 ]
}

@test "--check: the PROXY protocol and forwarded_for need trusted_proxies" {
	printf 'docroot %s\nproxy_protocol on\n' "$T/www" >"$T/c1"
	run "$IHTTPD" -c "$T/c1" --check
	[ "$status" -eq 1 ]
	[[ $output == *"c1:2: the PROXY protocol needs trusted_proxies"* ]]
	printf 'docroot %s\nport 8080/proxy\n' "$T/www" >"$T/c2"
	run "$IHTTPD" -c "$T/c2" --check
	[ "$status" -eq 1 ]
	printf 'docroot %s\nforwarded_for forwarded\n' "$T/www" >"$T/c3"
	run "$IHTTPD" -c "$T/c3" --check
	[[ $output == *"forwarded_for needs trusted_proxies"* ]]
	printf 'docroot %s\nsession_store redis\nredis_address nowhere\n' \
	    "$T/www" >"$T/c4"
	run "$IHTTPD" -c "$T/c4" --check
	[[ $output == *"c4:3: redis_address: 'nowhere' is not"* ]]
}

# ---- sessions in Redis ----------------------------------------------------

@test "sessions through two nodes: 16 clients x 20 updates of one counter, none lost; one node killed, the count still exact" {
	redis
	conf "sessions on
session_store redis
redis_address 127.0.0.1:$RPORT"
	pnode a
	pnode b --datadir "$T/data2"
	balancer "$P_a send-proxy-v2 check" "$P_b send-proxy-v2 check"
	run python3 "$LOAD" counter "$HPORT" 16 20
	echo "$output"
	[ "$output" = "ok=320 errors=0 dups=0 final=321 gaps=0" ]
	grep -q '"GET /counter' "$T/access.a"
	grep -q '"GET /counter' "$T/access.b"
	# Node a dies (master and workers, SIGKILL) after 100 more visits.
	run python3 "$LOAD" counter "$HPORT" 16 20 100 "$PID_a"
	echo "$output"
	gone "$PID_a"
	# every visit answered was counted once; the only counts no answer
	# showed are visits stored just before their node died
	[[ $output =~ ^ok=320\ errors=([0-9]+)\ dups=0\ final=([0-9]+)\ gaps=([0-9]+)$ ]]
	[ "${BASH_REMATCH[2]}" -eq $((321 + BASH_REMATCH[3])) ]
	[ "${BASH_REMATCH[3]}" -le "${BASH_REMATCH[1]}" ]
	# the survivor served the rest of the session
	[ "$(grep -c '"GET /counter' "$T/access.b")" -gt 200 ]
}

@test "Redis stopped: 503 with Retry-After within the deadline, never the file store; back when it is" {
	redis
	conf "sessions on
session_store redis
redis_address 127.0.0.1:$RPORT
redis_timeout 300"
	node a
	run curl -s -c "$T/jar" "http://127.0.0.1:$P_a/counter"
	[ "$output" = "visits: 1" ]
	kill -STOP "$RPID"
	run curl -s -b "$T/jar" -o /dev/null -D - -m 10 \
	    -w 'time=%{time_total}\n' "http://127.0.0.1:$P_a/counter"
	kill -CONT "$RPID"
	[[ $output == *"HTTP/1.1 503"* ]]
	[[ $output == *"Retry-After: "* ]]
	t=$(sed -n 's/^time=//p' <<<"$output")
	le_s "$t" 5
	grep -q 'no answer within redis_timeout' "$T/tcp.a.log"
	[ ! -e "$T/data/sessions" ]	# the file store was never used
	run curl -s -b "$T/jar" "http://127.0.0.1:$P_a/counter"
	[ "$output" = "visits: 2" ]
	# Redis gone altogether, then back on its port (empty: no disk)
	kill "$RPID"
	wait "$RPID" 2>/dev/null || true
	run curl -s -b "$T/jar" -o /dev/null -w '%{http_code}' \
	    "http://127.0.0.1:$P_a/counter"
	[ "$output" = 503 ]
	redis
	run curl -s -b "$T/jar" "http://127.0.0.1:$P_a/counter"
	[ "$output" = "visits: 1" ]	# the old id is not adopted: a new one
}

@test "sessions in Redis: an id never issued is not adopted; expiry is Redis's TTL" {
	redis
	conf "sessions on
session_store redis
redis_address 127.0.0.1:$RPORT
redis_prefix t1:"
	node a
	# a planted id: nothing is made for it, and no lock key either
	run curl -s -D - -H 'Cookie: ihttpd_session=AAAAAAAAAAAAAAAAAAAAAA' \
	    "http://127.0.0.1:$P_a/counter"
	[[ $output == *"visits: 1"* ]]
	[[ $output != *"AAAAAAAAAAAAAAAAAAAAAA"* ]]
	run redis-cli -p "$RPORT" --scan --pattern 't1:*AAAA*'
	[ -z "$output" ]
	run redis-cli -p "$RPORT" --scan --pattern 't1:s:*'
	[ "${#lines[@]}" -eq 1 ]
	run redis-cli -p "$RPORT" pttl "${lines[0]}"
	[ "$output" -gt 3000000 ]	# session_ttl 3600 s
}

@test "a Digest nonce used on node A is refused as a replay on node B; B knows A's nonces" {
	redis
	conf "nonce_store redis
redis_address 127.0.0.1:$RPORT"
	mkdir "$T/www/private"
	printf 'secret\n' >"$T/www/private/index.html"
	node a
	node b --datadir "$T/data2"
	run python3 "$LOAD" digest "$P_a" "$P_b"
	echo "$output"
	[ "$output" = "A=200 replay-on-B=401 next-on-B=200" ]
}

# ---- rate limits ----------------------------------------------------------

@test "rate_limit in one process: a burst above the limit gets 429 with Retry-After" {
	conf 'rate_limit 1/m burst 3'
	run bash -c 'for i in 1 2 3 4 5; do printf "GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n"; done | "$1" -c "$2" 2>/dev/null' _ \
	    "$IHTTPD" "$T/conf"
	[ "$(grep -c '^HTTP/1.1 200' <<<"$output")" -eq 3 ]
	[ "$(grep -c '^HTTP/1.1 429' <<<"$output")" -eq 2 ]
	[[ $output == *"Retry-After: "* ]]
	ra=$(sed -n 's/^Retry-After: \([0-9]*\).*/\1/p' <<<"$output" | head -1)
	[ "$ra" -ge 1 ] && [ "$ra" -le 60 ]
}

@test "rate_limit across many inetd processes, keyed by the proxied address" {
	conf 'rate_limit 1/m burst 4'
	node a --proxy_protocol on
	for i in $(seq 10); do
		python3 "$LOAD" send "$P_a" 127.0.0.1 v1 /index.html | head -1
	done >"$T/out"
	[ "$(grep -c ' 200 ' "$T/out")" -eq 4 ]
	[ "$(grep -c ' 429 ' "$T/out")" -eq 6 ]
	# another client (by the PROXY header's word) has its own bucket
	run python3 "$LOAD" send "$P_a" 127.0.0.1 v2local /index.html
	[[ ${lines[0]} == *" 200 "* ]]
}

@test "PathCheck fn=rate-limit limits one object; nothing runs past it" {
	conf '<Object ppath="/api">
  PathCheck fn=rate-limit rate=1/h burst=2
  Service fn=env
</Object>'
	node a
	for i in 1 2 3 4; do
		curl -s -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$P_a/api/x"
	done >"$T/out"
	[ "$(tr '\n' ' ' <"$T/out")" = "200 200 429 429 " ]
	# other paths are not limited
	for i in 1 2 3 4; do
		curl -s -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$P_a/index.html"
	done >"$T/out"
	[ "$(grep -c 200 "$T/out")" -eq 4 ]
	printf '<Object ppath="/x">\n  PathCheck fn=rate-limit rate=fast\n</Object>\n' \
	    >"$T/c1"
	run "$IHTTPD" -c "$T/c1" --docroot "$T/www" --check
	[ "$status" -eq 1 ]
	[[ $output == *"rate 'fast' is not N/s, N/m or N/h"* ]]
}

@test "rate_limit_store redis: one bucket for a client across two nodes" {
	redis
	conf "rate_limit 1/m burst 3
rate_limit_store redis
redis_address 127.0.0.1:$RPORT"
	node a
	node b --datadir "$T/data2"
	for i in 1 2 3; do
		curl -s -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$P_a/index.html"
		curl -s -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$P_b/index.html"
	done >"$T/out"
	[ "$(grep -c 200 "$T/out")" -eq 3 ]
	[ "$(grep -c 429 "$T/out")" -eq 3 ]
}
