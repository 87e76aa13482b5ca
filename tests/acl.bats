#!/usr/bin/env bats
# The connection ACL (allow/deny regexes, cidr_allow/cidr_deny, reverse
# lookups) and PathCheck fn=acl.  Most tests run one piped connection with
# --remote_addr (the address is taken as given there); the real-socket
# tests use tcpserver on 127.0.0.1, inetd6.py on ::1, and
# fixtures/inetd/inetd6.py on ::ffff:127.0.0.1 (an IPv4-mapped peer).  No
# test asks DNS about anything but 127.0.0.1, and that only when
# /etc/hosts answers it.

load helpers

HC=$BATS_TEST_DIRNAME/fixtures/inetd/hc.py
INETD6=$BATS_TEST_DIRNAME/fixtures/inetd/inetd6.py
GET='GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'

setup_file() {
	snapshot_binary || return 1
}

setup() {
	cd "$ROOT" || return 1
	T=$BATS_TEST_TMPDIR
	ACC=$T/access.log
	ERR=$T/error.log
	CONF=$T/acl.conf
	cat >"$CONF" <<EOF
docroot        $ROOT/tests/fixtures/www
mimetypes      $ROOT/conf/mime.types
access_log     $ACC
error_log      $ERR
log_level      2

<Object path="/hello">
  Service fn=hello greeting="hi"
</Object>

<Object path="/env">
  Service fn=env
</Object>
EOF
}

teardown() {
	local p crashed=
	stop_tcpserver || crashed=1
	if [ -n "${INETD_PID:-}" ]; then
		kill "$INETD_PID" 2>/dev/null
		wait "$INETD_PID" 2>/dev/null || true
		INETD_PID=
	fi
	[ -z "$crashed" ]	# no ihttpd was killed by a signal
}


# code ADDR [ihttpd args...]: the status of GET /hello piped as from ADDR.
code() {
	local addr=$1
	shift
	printf '%b' "$GET" | "$IHTTPD" -c "$CONF" --remote_addr "$addr" "$@" \
	    2>/dev/null | head -1 | awk '{print $2}'
}

# expect STATUS ADDR [args...]: code ADDR args is STATUS (or say why not).
expect() {
	local want=$1 addr=$2 got
	shift 2
	got=$(code "$addr" "$@")
	[ "$got" = "$want" ] && return 0
	echo "peer $addr with $*: got '$got', want $want" >&2
	return 1
}

# cfg 'LINES': append to the config.
cfg() {
	printf '%s\n' "$@" >>"$CONF"
}

# The number the next line appended to the config will have.
next_line() {
	echo $(($(wc -l <"$CONF") + 1))
}

# ---- no rules --------------------------------------------------------------

@test "no rules: every peer is allowed" {
	local a
	for a in 127.0.0.1 10.1.1.1 192.0.2.7 ::1 2001:db8::5 ::ffff:10.1.2.3 \
	    not-an-address; do
		expect 200 "$a"
	done
}

# ---- regexes -----------------------------------------------------------------

@test "allow regex is anchored whole: 127\\.0\\.0\\.1 does not match 127.0.0.10" {
	expect 200 127.0.0.1 --allow '127\.0\.0\.1'
	expect 403 127.0.0.10 --allow '127\.0\.0\.1'
	expect 403 1127.0.0.1 --allow '127\.0\.0\.1'
	expect 403 127.0.0.1 --allow '127\.0\.0'
	# an unescaped dot is any character, still anchored
	expect 200 127x0x0x1 --allow '127.0.0.1'
	expect 403 127.0.0.11 --allow '127.0.0.1'
}

@test "allow regex: alternation is anchored as a whole group" {
	local re='10\.0\.0\.1|192\.168\..*'
	expect 200 10.0.0.1 --allow "$re"
	expect 200 192.168.7.8 --allow "$re"
	expect 403 10.0.0.12 --allow "$re"
	expect 403 1.192.168.7.8 --allow "$re"
	expect 403 8.8.8.8 --allow "$re"
}

@test "allow regex on IPv6 text; several allow keys are ORed" {
	expect 200 2001:db8::1 --allow '2001:db8::1'
	expect 403 2001:db8::12 --allow '2001:db8::1'
	expect 200 ::1 --allow '::1' --allow '127\.0\.0\.1'
	expect 200 127.0.0.1 --allow '::1' --allow '127\.0\.0\.1'
	expect 403 10.0.0.1 --allow '::1' --allow '127\.0\.0\.1'
}

@test "allow/deny regexes from a config file keep their backslashes" {
	cfg 'allow 127\.0\.0\.1' 'allow 10\.0\.0\.[0-9]+  192\.168\..*'
	expect 200 127.0.0.1
	expect 403 127.0.0.10
	expect 403 127x0x0x1
	expect 200 10.0.0.5
	expect 200 192.168.3.4
	expect 403 10.0.0.5x
}

@test "deny regex alone: matching peers 403, the rest 200" {
	expect 403 10.9.9.9 --deny '10\..*'
	expect 200 11.9.9.9 --deny '10\..*'
	expect 200 110.9.9.9 --deny '10\..*'
}

@test "deny wins over allow (regex, CIDR and mixed)" {
	expect 403 127.0.0.1 --allow '127\..*' --deny '127\.0\.0\.1'
	expect 200 127.0.0.2 --allow '127\..*' --deny '127\.0\.0\.1'
	expect 403 10.1.2.3 --cidr_allow 10.0.0.0/8 --cidr_deny 10.1.0.0/16
	expect 200 10.2.2.3 --cidr_allow 10.0.0.0/8 --cidr_deny 10.1.0.0/16
	expect 403 10.1.2.3 --allow '10\..*' --cidr_deny 10.1.2.3/32
	expect 403 10.1.2.3 --cidr_allow 10.0.0.0/8 --deny '10\.1\..*'
	expect 403 ::1 --cidr_allow ::/0 --cidr_deny ::1/128
}

@test "with any allow rule a peer must match one; regex and CIDR allows are ORed" {
	expect 200 10.1.2.3 --allow '127\.0\.0\.1' --cidr_allow 10.0.0.0/8
	expect 200 127.0.0.1 --allow '127\.0\.0\.1' --cidr_allow 10.0.0.0/8
	expect 403 192.0.2.1 --allow '127\.0\.0\.1' --cidr_allow 10.0.0.0/8
	# a deny-only config lets everyone else in
	expect 200 192.0.2.1 --cidr_deny 10.0.0.0/8
}

# ---- CIDR --------------------------------------------------------------------

@test "cidr IPv4: /8, /24 with host bits set, /32, /0" {
	expect 200 10.200.1.1 --cidr_allow 10.0.0.0/8
	expect 403 11.0.0.1 --cidr_allow 10.0.0.0/8
	expect 200 10.1.2.3 --cidr_allow 10.1.2.255/24
	expect 403 10.1.3.3 --cidr_allow 10.1.2.255/24
	expect 200 10.1.2.3 --cidr_allow 10.1.2.3/32
	expect 403 10.1.2.4 --cidr_allow 10.1.2.3/32
	expect 200 10.1.2.3 --cidr_allow 10.1.2.3
	expect 403 10.1.2.2 --cidr_allow 10.1.2.3
	expect 200 198.51.100.7 --cidr_allow 0.0.0.0/0
	expect 200 198.51.100.7 --cidr_allow 203.0.113.99/0
	expect 403 198.51.100.7 --cidr_deny 0.0.0.0/0
	# an odd prefix: /23 covers .2.x and .3.x, not .4.x
	expect 200 10.1.3.200 --cidr_allow 10.1.2.0/23
	expect 403 10.1.4.1 --cidr_allow 10.1.2.0/23
	expect 200 10.1.2.7 --cidr_allow 10.1.2.0/29
	expect 403 10.1.2.8 --cidr_allow 10.1.2.0/29
}

@test "cidr IPv6: /128, /32 with host bits set, ::/0, forms of one address" {
	expect 200 ::1 --cidr_allow ::1/128
	expect 403 ::2 --cidr_allow ::1/128
	expect 200 2001:db8:ffff::1 --cidr_allow 2001:db8::1/32
	expect 403 2001:db9::1 --cidr_allow 2001:db8::1/32
	expect 200 2001:db8::5 --cidr_allow ::/0
	expect 200 2001:db8::1 --cidr_allow 2001:db8:0:0:0:0:0:1/128
	expect 200 2001:db8:0:0::1 --cidr_allow 2001:db8::1/128
	expect 200 2001:DB8::1 --cidr_allow 2001:db8::/32
	expect 200 fe80::1 --cidr_allow fe80::/10
	expect 200 febf::1 --cidr_allow fe80::/10
	expect 403 fec0::1 --cidr_allow fe80::/10
}

@test "cidr: families never cross (0.0.0.0/0 is not IPv6, ::/0 is not IPv4)" {
	expect 403 2001:db8::1 --cidr_allow 0.0.0.0/0
	expect 403 198.51.100.7 --cidr_allow ::/0
	expect 200 2001:db8::1 --cidr_deny 0.0.0.0/0
}

@test "cidr: lists split on commas and spaces; the key repeats" {
	expect 200 192.168.2.3 --cidr_allow '10.0.0.0/8, 192.168.0.0/16'
	expect 200 10.2.2.3 --cidr_allow 10.0.0.0/8,192.168.0.0/16
	expect 200 ::1 --cidr_allow 10.0.0.0/8 --cidr_allow ::1
	expect 403 172.16.0.1 --cidr_allow '10.0.0.0/8 192.168.0.0/16' \
	    --cidr_allow ::1
	cfg 'cidr_allow 10.0.0.0/8, 192.168.0.0/16' 'cidr_allow ::1/128'
	expect 200 192.168.9.9
	expect 200 ::1
	expect 403 172.16.0.1
}

@test "pipe mode: an IPv4-mapped-looking --remote_addr is taken as given" {
	# no normalisation for a given address: it is IPv6 text here
	expect 403 ::ffff:10.1.2.3 --cidr_allow 10.0.0.0/8
	expect 200 ::ffff:10.1.2.3 --cidr_deny 10.0.0.0/8
	expect 200 ::ffff:10.1.2.3 --cidr_allow ::ffff:10.0.0.0/104
	expect 403 ::ffff:10.1.2.3 --cidr_deny ::ffff:0:0/96
	run bash -c "printf '%b' 'GET /env HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' |
	    '$IHTTPD' -c '$CONF' --remote_addr ::ffff:10.1.2.3 2>/dev/null"
	has '<th>REMOTE_ADDR</th><td>::ffff:10\.1\.2\.3</td>'
}

@test "an address that does not parse matches no CIDR allow" {
	expect 403 not-an-address --cidr_allow 0.0.0.0/0 --cidr_allow ::/0
	expect 403 '' --cidr_allow 0.0.0.0/0
}

# ---- the denied peer -----------------------------------------------------------

@test "denied: 403 with Connection: close, the request never read, logged with the address" {
	run bash -c "printf '%b' 'GET /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /env HTTP/1.1\r\nHost: t\r\n\r\n' |
	    '$IHTTPD' -c '$CONF' --remote_addr 10.1.2.3 --cidr_deny 10.0.0.0/8"
	[ "$status" -eq 0 ]
	has '^HTTP/1\.1 403 Forbidden'
	has '^Connection: close'
	[ "$(grep -c '^HTTP/1.1' <<<"$output")" -eq 1 ]
	hasnt 'hi'
	# the access log: address, status 403, request "-" (never read)
	run cat "$ACC"
	[ "${#lines[@]}" -eq 1 ]
	has '^10\.1\.2\.3 - - \[[^]]+\] "-" 403 [0-9]+ '
	hasnt 'GET /hello'
	# the error log names the peer
	run cat "$ERR"
	has '10\.1\.2\.3.*403'
	hasnt 'GET /hello'
}

@test "denied IPv6 peer: logged with its IPv6 address" {
	expect 403 2001:db8::7 --cidr_deny 2001:db8::/32
	run cat "$ACC"
	has '^2001:db8::7 - - \[[^]]+\] "-" 403 '
}

@test "allowed peers are logged with their request as usual" {
	expect 200 10.1.2.3 --cidr_allow 10.0.0.0/8
	run cat "$ACC"
	has '^10\.1\.2\.3 - - \[[^]]+\] "GET /hello HTTP/1\.1" 200 '
}

# ---- config errors -------------------------------------------------------------

@test "config: a bad CIDR block is FILE:LINE, at --check and at start-up" {
	local bad n
	for bad in 10.0.0.0/33 ::1/129 10.0.0.0/ 10.0.0.0/-1 10.0.0/8 \
	    localhost/8 10.0.0.0/8/8 '10.0.0.0/ 8' 10.0.0.0/8x; do
		setup
		cfg '' 'cidr_allow 10.0.0.0/8'
		n=$(next_line)
		cfg "cidr_deny $bad"
		run "$IHTTPD" -c "$CONF" --check --error_log stderr
		[ "$status" -eq 1 ] || { echo "accepted: $bad" >&2; return 1; }
		has "acl\.conf:$n: cidr_deny: .* is not an IPv4 or IPv6 CIDR"
		run bash -c "printf '%b' '$GET' | '$IHTTPD' -c '$CONF' \
		    --error_log stderr 2>&1"
		[ "$status" -eq 1 ]
		has "acl\.conf:$n: cidr_deny"
		hasnt '^HTTP/'
	done
	run "$IHTTPD" -c "$CONF" --check --error_log stderr --cidr_allow 1.2.3.4/40
	[ "$status" -eq 1 ]
	has "command line: cidr_allow: '1\.2\.3\.4/40'"
}

@test "config: a bad regex is found by --check (FILE:LINE, exit 1)" {
	local n
	cfg ''
	n=$(next_line)
	cfg 'allow (unclosed'
	run "$IHTTPD" -c "$CONF" --check --error_log stderr
	[ "$status" -eq 1 ]
	has "acl\.conf:$n: .*bad regex '\(unclosed'"
}

@test "config: a bad regex is not found at start-up: every peer is refused (fail closed)" {
	cfg 'allow (unclosed'
	run bash -c "printf '%b' '$GET' | '$IHTTPD' -c '$CONF' --remote_addr 127.0.0.1"
	[ "$status" -eq 0 ]
	has '^HTTP/1\.1 403 '
	run cat "$ERR"
	has "bad regex '\(unclosed'"
}

@test "config: --check names the line of the bad regex, not of another allow/deny key" {
	local n
	# a good allow, then a bad deny: the error must name the deny's line
	cfg 'allow 127\.0\.0\.1'
	n=$(next_line)
	cfg 'deny (bad'
	run "$IHTTPD" -c "$CONF" --check --error_log stderr
	[ "$status" -eq 1 ]
	has "acl\.conf:$n: .*bad regex '\(bad'"
	# a bad allow, then a good allow: the bad one's line
	setup
	n=$(next_line)
	cfg 'allow (bad' 'allow 127\.0\.0\.1'
	run "$IHTTPD" -c "$CONF" --check --error_log stderr
	[ "$status" -eq 1 ]
	has "acl\.conf:$n: .*bad regex '\(bad'"
	# a bad deny and no allow at all: FILE:LINE, not "defaults"
	setup
	n=$(next_line)
	cfg 'deny (bad'
	run "$IHTTPD" -c "$CONF" --check --error_log stderr
	[ "$status" -eq 1 ]
	has "acl\.conf:$n: .*bad regex '\(bad'"
}

@test "config: a bad regex on the command line is blamed on the command line" {
	run "$IHTTPD" -c "$CONF" --check --error_log stderr --deny '(bad'
	[ "$status" -eq 1 ]
	has "command line: .*bad regex '\(bad'"
}

@test "config: reverse_lookups takes off, on or double only" {
	run "$IHTTPD" -c "$CONF" --check --error_log stderr --reverse_lookups yes
	[ "$status" -eq 1 ]
	has "reverse_lookups: 'yes' is not off, on or double"
	for v in off on double; do
		run "$IHTTPD" -c "$CONF" --check --reverse_lookups "$v"
		[ "$status" -eq 0 ]
	done
}

# ---- PathCheck fn=acl -----------------------------------------------------------

@test "PathCheck fn=acl: cidr_allow=127.0.0.0/8 guards its object only" {
	cfg '<Object ppath="/guarded">' \
	    '  PathCheck fn=acl cidr_allow=127.0.0.0/8' \
	    '  Service fn=hello greeting="guarded"' '</Object>'
	local p st a
	for a in 127.0.0.1 127.9.9.9 10.1.1.1 ::1; do
		for p in /guarded /guarded/ /guarded/x /hello /hello.txt \
		    /guardedx; do
			st=$(printf 'GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' "$p" |
			    "$IHTTPD" -c "$CONF" --remote_addr "$a" 2>/dev/null |
			    head -1 | awk '{print $2}')
			case $a:$p in
			*:/guardedx) want=404 ;;
			127.*:/guarded*) want=200 ;;
			*:/guarded*) want=403 ;;
			*) want=200 ;;
			esac
			[ "$st" = "$want" ] ||
			    { echo "$a $p: $st, want $want" >&2; return 1; }
		done
	done
	# the refusal is logged with the request line (it was read)
	run cat "$ACC"
	has '^10\.1\.1\.1 - - \[[^]]+\] "GET /guarded HTTP/1\.1" 403 '
}

@test "PathCheck fn=acl: deny regex, cidr lists with commas, deny wins" {
	cfg '<Object path="/o">' \
	    '  PathCheck fn=acl cidr_allow="10.0.0.0/8,192.168.0.0/16" deny="10\.6\.6\..*"' \
	    '  Service fn=hello greeting="o"' '</Object>'
	local a st
	for a in 10.1.1.1:200 192.168.1.1:200 10.6.6.6:403 172.16.0.1:403; do
		st=$(printf 'GET /o HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' |
		    "$IHTTPD" -c "$CONF" --remote_addr "${a%:*}" 2>/dev/null |
		    head -1 | awk '{print $2}')
		[ "$st" = "${a##*:}" ] || { echo "$a: got $st" >&2; return 1; }
	done
}

@test "PathCheck fn=acl: each request of a kept-alive connection is checked" {
	cfg '<Object path="/o">' '  PathCheck fn=acl cidr_deny=10.0.0.0/8' \
	    '  Service fn=hello greeting="o"' '</Object>'
	run bash -c "printf 'GET /o HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /o HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' |
	    '$IHTTPD' -c '$CONF' --remote_addr 10.1.1.1 2>/dev/null"
	[ "$(grep -c '^HTTP/1.1' <<<"$output")" -eq 3 ]
	[ "$(grep '^HTTP/1.1' <<<"$output" | awk '{print $2}' | tr '\n' ' ')" = "403 200 403 " ]
}

@test "PathCheck fn=acl: bad arguments fail --check with FILE:LINE" {
	local n args
	for args in "cidr_allow=10.0.0.0/33:bad CIDR block '10\.0\.0\.0/33'" \
	    "allow=\"(x\":bad regex '\(x'" "cidr=10.0.0.0/8:unknown argument 'cidr'"; do
		setup
		cfg '<Object path="/o">'
		n=$(next_line)
		cfg "  PathCheck fn=acl ${args%%:*}" '</Object>'
		run "$IHTTPD" -c "$CONF" --check --error_log stderr
		[ "$status" -eq 1 ]
		has "acl\.conf:$n: .*${args#*:}"
	done
}

# ---- real connections ------------------------------------------------------------

@test "tcpserver 127.0.0.1: allowed by cidr_allow 127.0.0.0/8" {
	start_tcpserver -c "$CONF" --cidr_allow 127.0.0.0/8 --keepalive_timeout 1
	run curl -sS --max-time 5 "http://127.0.0.1:$PORT/env"
	[ "$status" -eq 0 ]
	has '<th>REMOTE_ADDR</th><td>127\.0\.0\.1</td>'
	run cat "$ACC"
	has '^127\.0\.0\.1 - - \[[^]]+\] "GET /env HTTP/1\.1" 200 '
}

@test "tcpserver 127.0.0.1: denied by cidr_deny 127.0.0.1/32 before a byte is sent" {
	start_tcpserver -c "$CONF" --cidr_deny 127.0.0.1/32 --header_timeout 3
	# send nothing at all: the 403 still comes, then EOF
	run python3 "$HC" send "$PORT" 5 '' -v
	has '^R 1 403 .*conn=close'
	has '^H 1 Connection: close'
	hasnt '^R 2 '
	has '^END eof '
	# well before header_timeout: nothing waited for a request
	local t
	t=$(sed -n 's/^R 1 .* t=\([0-9.]*\).*/\1/p' <<<"$output")
	awk -v t="$t" 'BEGIN { exit !(t != "" && t < 2) }'
	# a client that does send a request gets the same, and it is not read
	run python3 "$HC" send "$PORT" 5 'GET /hello HTTP/1.1\r\nHost: t\r\n\r\n'
	has '^R 1 403 .*conn=close'
	hasnt '^R 2 '
	# (start_tcpserver's readiness probe is a denied connection too)
	run cat "$ACC"
	[ "${#lines[@]}" -ge 2 ]
	run grep -vE '^127\.0\.0\.1 - - \[[^]]+\] "-" 403 ' "$ACC"
	[ -z "$output" ]
	run cat "$ACC"
	hasnt 'GET /hello'
}

@test "tcpserver 127.0.0.1: an allow regex that fails to match is a 403" {
	start_tcpserver -c "$CONF" --allow '127\.0\.0\.10'
	run curl -sS --max-time 5 -o /dev/null -w '%{http_code}' \
	    "http://127.0.0.1:$PORT/hello"
	[ "$output" = 403 ]
}

# inetd_on HELPER HOST [ihttpd args...]: one connection served by a Python
# inetd (inetd6.py on ::1, inetd6.py with INETD_BIND=::ffff:127.0.0.1); sets $PORT.
inetd_on() {
	local helper=$1 i
	shift
	rm -f "$T/port.inetd"
	python3 "$helper" "$T/port.inetd" "$IHTTPD" -c "$CONF" \
	    --keepalive_timeout 1 --header_timeout 3 "$@" 2>"$T/inetd.log" &
	INETD_PID=$!
	for i in $(seq 100); do
		[ -s "$T/port.inetd" ] && break
		sleep 0.05
	done
	PORT=$(cat "$T/port.inetd")
	[ -n "$PORT" ]
}

have_ipv6() {
	python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1",0))' \
	    2>/dev/null
}

@test "::1: allowed by cidr_allow ::1/128" {
	have_ipv6 || skip "no ::1 here"
	inetd_on "$INETD6" --cidr_allow ::1/128
	run curl -sS -g --max-time 5 "http://[::1]:$PORT/env"
	[ "$status" -eq 0 ]
	has '<th>REMOTE_ADDR</th><td>::1</td>'
	run cat "$ACC"
	has '^::1 - - \[[^]]+\] "GET /env HTTP/1\.1" 200 '
}

@test "::1: denied by cidr_deny ::1/128, before the request" {
	have_ipv6 || skip "no ::1 here"
	inetd_on "$INETD6" --cidr_deny ::1/128
	run python3 "$HC" --host ::1 send "$PORT" 5 '' -v
	has '^R 1 403 .*conn=close'
	has '^END eof '
	run cat "$ACC"
	has '^::1 - - \[[^]]+\] "-" 403 '
}

@test "::1: not allowed by an IPv4 rule (cidr_allow 127.0.0.0/8)" {
	have_ipv6 || skip "no ::1 here"
	inetd_on "$INETD6" --cidr_allow 127.0.0.0/8
	run python3 "$HC" --host ::1 send "$PORT" 5 'GET /hello HTTP/1.1\r\nHost: t\r\n\r\n'
	has '^R 1 403 '
}

have_mapped() {
	python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); s.bind(("::ffff:127.0.0.1",0))' \
	    2>/dev/null
}

@test "IPv4-mapped peer (::ffff:127.0.0.1) is reported and matched as 127.0.0.1" {
	have_mapped || skip "no dual-stack socket here"
	INETD_BIND=::ffff:127.0.0.1 inetd_on "$INETD6" --cidr_allow 127.0.0.0/8
	run curl -sS --max-time 5 "http://127.0.0.1:$PORT/env"
	[ "$status" -eq 0 ]
	has '<th>REMOTE_ADDR</th><td>127\.0\.0\.1</td>'
	grep -q 'inetd6: peer ::ffff:127.0.0.1' "$T/inetd.log"
	run cat "$ACC"
	has '^127\.0\.0\.1 - - \[[^]]+\] "GET /env HTTP/1\.1" 200 '
}

@test "IPv4-mapped peer is denied by an IPv4 cidr_deny and an IPv4 regex" {
	have_mapped || skip "no dual-stack socket here"
	INETD_BIND=::ffff:127.0.0.1 inetd_on "$INETD6" --cidr_deny 127.0.0.1/32
	run python3 "$HC" send "$PORT" 5 '' -v
	has '^R 1 403 .*conn=close'
	wait "$INETD_PID" || true
	INETD_PID=
	INETD_BIND=::ffff:127.0.0.1 inetd_on "$INETD6" --allow '127\.0\.0\.1'
	run curl -sS --max-time 5 -o /dev/null -w '%{http_code}' \
	    "http://127.0.0.1:$PORT/hello"
	[ "$output" = 200 ]
	run cat "$ACC"
	has '^127\.0\.0\.1 - - \[[^]]+\] "-" 403 '
	hasnt '^::ffff:'
}

# ---- reverse lookups (127.0.0.1 only, and only from /etc/hosts) -------------------

# The name /etc/hosts gives 127.0.0.1, or skip: no DNS query leaves here.
local_name() {
	local n
	n=$(getent hosts 127.0.0.1 2>/dev/null | awk '{print $2; exit}')
	[ -n "$n" ] || skip "127.0.0.1 has no name here"
	awk -v n="$n" '$1 == "127.0.0.1" { for (i = 2; i <= NF; i++)
	    if ($i == n) f = 1 } END { exit !f }' /etc/hosts ||
	    skip "the name of 127.0.0.1 does not come from /etc/hosts"
	NAME=$n
}

@test "reverse_lookups on: allow/deny match 127.0.0.1's name" {
	local_name
	local re
	re=$(printf '%s' "$NAME" | sed 's/\./\\./g')
	expect 403 127.0.0.1 --allow "$re"
	expect 200 127.0.0.1 --allow "$re" --reverse_lookups on
	expect 200 127.0.0.1 --allow "$re" --reverse_lookups double
	expect 403 127.0.0.1 --deny "$re" --reverse_lookups on
	expect 200 127.0.0.1 --deny "$re"
	# anchored on the name too
	expect 403 127.0.0.1 --allow "${re:0:3}" --reverse_lookups on
	# the address still matches with lookups on
	expect 200 127.0.0.1 --allow '127\.0\.0\.1' --reverse_lookups on
}

@test "reverse_lookups on with only CIDR rules: no lookup is made" {
	local_name
	run bash -c "printf '%b' '$GET' | '$IHTTPD' -c '$CONF' --remote_addr 127.0.0.1 \
	    --reverse_lookups on --cidr_allow 127.0.0.0/8 --debug AUTH --debug_log stderr 2>&1"
	has '^HTTP/1\.1 200 '
	has 'peer 127\.0\.0\.1 \(-\): allowed'
}

@test "reverse_lookups on: PathCheck fn=acl matches the name as the global rules do" {
	local_name
	local re
	re=$(printf '%s' "$NAME" | sed 's/\./\\./g')
	cfg '<Object path="/named">' "  PathCheck fn=acl allow=\"$re\"" \
	    '  Service fn=hello greeting="named"' '</Object>'
	run bash -c "printf 'GET /named HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' |
	    '$IHTTPD' -c '$CONF' --remote_addr 127.0.0.1 --reverse_lookups on 2>/dev/null"
	has '^HTTP/1\.1 200 '
}

# ---- sockets that carry no IP address -----------------------------------------
# fd 0 an AF_UNIX socket (systemd Accept=yes on a ListenStream path, socat
# EXEC): the peer is unknown, matches no allow rule, and logs as "-".

# start_socat LISTEN-ADDRESS [ihttpd args...]: socat forking an ihttpd per
# connection; with a UNIX-LISTEN address, the socket itself is fd 0
# (nofork), as systemd passes it.
start_socat() {
	local listen=$1 opt= cmd="$IHTTPD -c $CONF"
	shift
	case $listen in UNIX-*) opt=,nofork ;; esac
	[ $# -eq 0 ] || cmd="$cmd $*"
	SOCK=$T/s.sock
	socat "$listen,fork" EXEC:"$cmd$opt" 2>"$T/socat.err" &
	INETD_PID=$!
	local i
	for i in $(seq 100); do
		case $listen in
		UNIX-*) [ -S "$SOCK" ] && return 0 ;;
		*) python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),0.2).close()' "$PORT" 2>/dev/null && return 0 ;;
		esac
		sleep 0.05
	done
	return 1
}

unix_get() {	# unix_get PATH: one request over $SOCK, the reply in $output
	run python3 - "$SOCK" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % sys.argv[2].encode())
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
sys.stdout.write(out.decode("latin-1"))
PY
}

@test "AF_UNIX peer: cidr_allow 127.0.0.1/32 does not let it in (no fail-open as 127.0.0.1)" {
	start_socat "UNIX-LISTEN:$T/s.sock" --cidr_allow 127.0.0.1/32
	unix_get /hello
	[ "$(resp_status)" = 403 ]
	grep -q '^0\.0\.0\.0 - - \[.*\] "-" 403 ' "$ACC"
}

@test "AF_UNIX peer: with any rule it is refused: an allow regex matching anything, deny rules too" {
	local rule
	set -f	# ".*" is a regex here, not a glob
	for rule in "--allow .*" "--deny .*" "--cidr_deny 0.0.0.0/0" \
	    "--cidr_deny 192.0.2.1"; do
		start_socat "UNIX-LISTEN:$T/s.sock" $rule
		unix_get /hello
		[ "$(resp_status)" = 403 ] || { echo "$rule: $output"; return 1; }
		kill "$INETD_PID"; wait "$INETD_PID" 2>/dev/null || true
		rm -f "$SOCK"
	done
}

@test "AF_UNIX peer without rules: served, REMOTE_ADDR empty, logged as 0.0.0.0" {
	start_socat "UNIX-LISTEN:$T/s.sock"
	unix_get /env
	[ "$(resp_status)" = 200 ]
	has '<tr><th>REMOTE_ADDR</th><td></td></tr>'
	grep -q '^0\.0\.0\.0 - - \[.*\] "GET /env HTTP/1.1" 200 ' "$ACC"
}

@test "socat TCP EXEC (a socketpair on fd 0): the peer is socat's SOCAT_PEERADDR" {
	PORT=$(free_port)
	start_socat "TCP-LISTEN:$PORT,bind=127.0.0.1,reuseaddr" --cidr_allow 127.0.0.1/32
	run curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/hello"
	[ "$output" = 200 ]
	grep -q '^127\.0\.0\.1 - - .*"GET /hello HTTP/1.1" 200 ' "$ACC"
	kill "$INETD_PID"; wait "$INETD_PID" 2>/dev/null || true
	start_socat "TCP-LISTEN:$PORT,bind=127.0.0.1,reuseaddr" --cidr_deny 127.0.0.1/32
	run curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/hello"
	[ "$output" = 403 ]
}
