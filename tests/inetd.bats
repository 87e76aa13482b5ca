#!/usr/bin/env bats
# The inetd path for real: ihttpd spawned per connection by tcpserver on
# 127.0.0.1, driven by curl, python3 http.client and raw sockets
# (tests/fixtures/inetd/hc.py).  Each test starts its own tcpserver and
# teardown stops it (and any ihttpd child still running) by pid.  Deadlines
# are set to 1-2 s by options; the only timing assertions are generous
# upper bounds on when the server closes.

load helpers

HC=$BATS_TEST_DIRNAME/fixtures/inetd/hc.py
INETD6=$BATS_TEST_DIRNAME/fixtures/inetd/inetd6.py
# A pipelined follow-up that shows the connection is still in step.
NEXT='GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'

setup_file() {
	snapshot_binary || return 1
}

setup() {
	cd "$ROOT" || return 1	# conf/ihttpd.conf names paths from here
	DOC=$BATS_TEST_TMPDIR/www
}

teardown() {
	local p crashed=
	stop_tcpserver || crashed=1
	if [ -n "${INETD6_PID:-}" ]; then
		kill "$INETD6_PID" 2>/dev/null
		wait "$INETD6_PID" 2>/dev/null || true
	fi
	[ -z "$crashed" ]	# no ihttpd was killed by a signal
}

# srv [ihttpd args...]: the repo config (/hello, /env, /echo) under
# tcpserver with short deadlines; later options win.
srv() {
	start_tcpserver -c conf/ihttpd.conf --header_timeout 2 \
	    --keepalive_timeout 1 --body_timeout 2 "$@"
}

make_docroot() {
	mkdir -p "$DOC/files"
	printf 'a small file\n' >"$DOC/small.txt"
	printf 'in a directory\n' >"$DOC/files/a.txt"
	head -c 300000 /dev/urandom >"$DOC/big.bin"	# > 64 KiB: sendfile
}

url() {
	printf 'http://127.0.0.1:%s%s' "$PORT" "$1"
}

# send TIMEOUT 'REQUEST' [hc.py send options]: one raw connection.
send() {
	run python3 "$HC" send "$PORT" "$@"
}

# has / hasnt REGEX: whether some line of $output matches.

# The time (s since connecting) on the END line, or on response N.
end_t() {
	sed -n 's/^END .* t=\([0-9.]*\).*/\1/p' <<<"$output"
}

resp_t() {
	sed -n "s/^R $1 .* t=\([0-9.]*\).*/\1/p" <<<"$output"
}

# le A B: A <= B, as decimals.
le() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a + 0 <= b + 0) }' ||
	    { echo "expected $1 <= $2" >&2; return 1; }
}

# no_child SECONDS: every ihttpd our tcpserver spawned has exited.
no_child() {
	local i
	for i in $(seq $(($1 * 10))); do
		pgrep -P "$TCPSERVER_PID" >/dev/null || return 0
		sleep 0.1
	done
	echo "ihttpd still running after $1 s: $(pgrep -P "$TCPSERVER_PID")" >&2
	return 1
}

# bad STATUS 'REQUEST' [ihttpd args...]: answered STATUS with Connection:
# close, nothing more, and the server closes (EOF within 5 s).
bad() {
	local want=$1 req=$2
	shift 2
	srv "$@"
	send 5 "$req"
	[ "$status" -eq 0 ]
	hasnt '^R [0-9]+ 500 '
	has "^R 1 $want .*conn=close"
	hasnt '^R 2 '
	has '^END eof '
	no_child 5
}

# good STATUS 'REQUEST' [ihttpd args...]: answered STATUS, and a GET /hello
# pipelined behind it on the same connection is answered 200 (the framing
# stayed in step), then the server closes.
good() {
	local want=$1 req=$2
	shift 2
	srv "$@"
	send 5 "$req$NEXT" --body
	[ "$status" -eq 0 ]
	hasnt '^R [0-9]+ 500 '
	has "^R 1 $want "
	has "^R 2 200 .*body=19 "
	has "^B 2 b'Hello from ihttpd!"
	hasnt '^R 3 '
	has '^END eof '
}

# ---- curl ---------------------------------------------------------------

@test "curl: GET of files matches them byte for byte" {
	make_docroot
	srv --docroot "$DOC"
	local f
	for f in small.txt files/a.txt big.bin; do
		run curl -sS --max-time 5 -o "$BATS_TEST_TMPDIR/got" \
		    -w '%{http_code} %{size_download}' "$(url "/$f")"
		[ "$status" -eq 0 ]
		[ "$output" = "200 $(stat -c %s "$DOC/$f")" ]
		cmp "$DOC/$f" "$BATS_TEST_TMPDIR/got"
	done
}

@test "curl: HEAD sends GET's headers and no body" {
	make_docroot
	srv --docroot "$DOC"
	local p
	for p in /small.txt /big.bin /hello /files /files/ /nope; do
		curl -sS --max-time 5 -D "$BATS_TEST_TMPDIR/get" -o /dev/null \
		    "$(url "$p")"
		curl -sS --max-time 5 -I "$(url "$p")" >"$BATS_TEST_TMPDIR/head"
		grep -q '^HTTP/1.1 ' "$BATS_TEST_TMPDIR/head"
		diff <(grep -v '^Date:' "$BATS_TEST_TMPDIR/get") \
		    <(grep -v '^Date:' "$BATS_TEST_TMPDIR/head")
	done
	# and on the wire: nothing after the head, then the next response
	send 5 'HEAD /big.bin HTTP/1.1\r\nHost: t\r\n\r\nHEAD /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' --head
	has '^R 1 200 clen=300000 .*body=0 '
	has '^R 2 200 clen=19 .*conn=close body=0 '
	hasnt '^R 3 '
	has '^END eof '
}

@test "curl: a missing file is 404" {
	make_docroot
	srv --docroot "$DOC"
	run curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$(url /nope)"
	[ "$output" = 404 ]
}

@test "curl: POST to a file is 405 with Allow" {
	make_docroot
	srv --docroot "$DOC"
	run curl -sS --max-time 5 -D - -o /dev/null -d x "$(url /small.txt)"
	has '^HTTP/1.1 405 Method Not Allowed'
	has '^Allow: GET, HEAD, OPTIONS'
}

@test "curl: an unknown method is 501" {
	srv
	run curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -X FOO \
	    "$(url /hello)"
	[ "$output" = 501 ]
}

@test "curl: two URLs on one kept-alive connection" {
	make_docroot
	srv --docroot "$DOC"
	run curl -sS -v --max-time 5 -o /dev/null -o /dev/null \
	    "$(url /small.txt)" "$(url /hello)"
	[ "$status" -eq 0 ]
	has 'Re-using existing connection'
	[ "$(grep -c '^< HTTP/1.1 200' <<<"$output")" -eq 2 ]
}

@test "curl -0: HTTP/1.0 gets the body, then close; keep-alive on request" {
	make_docroot
	srv --docroot "$DOC"
	run curl -sS -0 --max-time 5 -D "$BATS_TEST_TMPDIR/h" \
	    -o "$BATS_TEST_TMPDIR/got" "$(url /big.bin)"
	[ "$status" -eq 0 ]
	cmp "$DOC/big.bin" "$BATS_TEST_TMPDIR/got"
	grep -q '^Connection: close' "$BATS_TEST_TMPDIR/h"
	run curl -sS -0 -v --max-time 5 -H 'Connection: keep-alive' \
	    -o /dev/null -o /dev/null "$(url /small.txt)" "$(url /hello)"
	has '^< Connection: keep-alive'
	has 'Re-using existing connection'
}

# ---- python3 --------------------------------------------------------------

@test "http.client: several requests on one persistent connection" {
	srv
	run python3 "$HC" persist "$PORT"
	[ "$status" -eq 0 ]
	has '^/nope 404 '
	has '^one connection for 6 requests'
}

@test "pipelining: three requests in one write, three responses in order" {
	make_docroot
	srv --docroot "$DOC"
	run python3 "$HC" pipeline "$PORT" "$DOC"
	[ "$status" -eq 0 ]
	has '^/small.txt 200 clen=13 body=13 ok'
	has '^/files/a.txt 200 clen=15 body=15 ok'
	has '^/big.bin 200 clen=300000 body=300000 ok'
}

@test "chunked POST of over 100 KiB to /echo, streamed, echoed whole" {
	srv
	run python3 "$HC" chunked "$PORT"
	[ "$status" -eq 0 ]
	has '^status 200 sent [0-9]+ got [0-9]+ type application/octet-stream te chunked'
}

@test "Expect: 100-continue gets 100 Continue before the final 200" {
	srv
	run python3 "$HC" continue "$PORT"
	[ "$status" -eq 0 ]
	has '^got 100 Continue'
}

@test "HTTP/1.0 echo of over 16 KiB comes back close-delimited and whole" {
	srv
	send 5 'POST /echo HTTP/1.0\r\nContent-Length: 20000\r\n\r\n' \
	    --pad 20000 -v
	has '^R 1 200 clen=- te=- conn=close body=20000 '
	hasnt TRUNC
	has '^END eof '
}

# ---- limits through the socket ---------------------------------------------

@test "400: a malformed request line, then close" {
	bad 400 'GARBAGE\r\n\r\n'
}

@test "408: a partial head is answered and closed after header_timeout 1" {
	srv --header_timeout 1
	send 8 'GET /hello HTTP/1.1\r\nHost: t\r\n'
	has '^R 1 408 .*conn=close'
	has '^END eof '
	le "$(end_t)" 5
	no_child 5
}

@test "411: POST without a length" {
	bad 411 'POST /echo HTTP/1.1\r\nHost: t\r\n\r\n'
}

@test "413: Content-Length over max_body" {
	bad 413 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n\r\n' \
	    --max_body 1k
}

@test "413: Content-Length over max_body with the body already sent" {
	srv --max_body 1k
	send 5 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 200000\r\n\r\n' \
	    --pad 200000
	has '^R 1 413 .*conn=close'
	has '^END (eof|reset) '
	no_child 5
}

@test "413: a chunked body over max_body to /echo" {
	bad 413 'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n'"$(printf 'x%.0s' {1..1024})"'\r\n400\r\n'"$(printf 'y%.0s' {1..1024})"'\r\n0\r\n\r\n' \
	    --max_body 1k
}

@test "414: request line over max_request_line, sent in one write" {
	bad 414 "GET /$(printf 'a%.0s' {1..200}) HTTP/1.1\r\nHost: t\r\n\r\n" \
	    --max_request_line 100
}

@test "414: request line over max_request_line, sent in two writes" {
	srv --max_request_line 100
	send 5 "GET /$(printf 'a%.0s' {1..200}) HTTP/1.1\r\nHost: t\r\n\r\n" \
	    --split 150
	has '^R 1 414 .*conn=close'
	has '^END (eof|reset) '
}

@test "414: a request line of exactly max_request_line bytes is served" {
	local p
	p=$(printf 'a%.0s' {1..86})	# "GET /" + 86 + " HTTP/1.1" = 100
	srv --max_request_line 100
	send 5 "GET /$p HTTP/1.1\nHost: t\nConnection: close\n\n"
	has '^R 1 404 '
	stop_tcpserver
	srv --max_request_line 100
	send 5 "GET /$p HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
	has '^R 1 404 '	# the CR is not part of the request line
}

@test "414: an empty line before the request line does not lift the limit" {
	bad 414 "\r\nGET /$(printf 'a%.0s' {1..200}) HTTP/1.1\r\nHost: t\r\n\r\n" \
	    --max_request_line 100
}

@test "431: head over max_header_size, sent in one write" {
	bad 431 "GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: $(printf 'b%.0s' {1..2000})\r\n\r\n" \
	    --max_header_size 1024
}

@test "431: head over max_header_size, sent in two writes" {
	srv --max_header_size 1024
	send 5 "GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: $(printf 'b%.0s' {1..2000})\r\n\r\n" \
	    --split 1500
	has '^R 1 431 .*conn=close'
}

@test "431: more fields than max_headers" {
	bad 431 'GET /hello HTTP/1.1\r\nHost: t\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n' \
	    --max_headers 5
	stop_tcpserver
	good 200 'GET /hello HTTP/1.1\r\nHost: t\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n' \
	    --max_headers 5
}

@test "501: an unsupported transfer coding (gzip, chunked)" {
	bad 501 'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n'
}

@test "400: Transfer-Encoding: gzip alone cannot be framed (RFC 9112 6.3)" {
	bad 400 'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n'
}

@test "505: HTTP/2.0 and HTTP/3.0" {
	bad 505 'GET /hello HTTP/2.0\r\nHost: t\r\n\r\n'
	stop_tcpserver
	bad 505 'GET /hello HTTP/3.0\r\nHost: t\r\n\r\n'
}

# ---- deadlines --------------------------------------------------------------

@test "keep-alive idle: closed after keepalive_timeout 1" {
	srv --keepalive_timeout 1
	send 8 'GET /hello HTTP/1.1\r\nHost: t\r\n\r\n'
	has '^R 1 200 .*conn=- '
	has '^END eof '
	le "$(end_t)" "$(awk -v t="$(resp_t 1)" 'BEGIN { print t + 5 }')"
	no_child 5
}

@test "keepalive_requests 3: the third response says close, then EOF" {
	srv --keepalive_requests 3
	send 5 'GET /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n'
	has '^R 1 200 .*conn=- '
	has '^R 2 200 .*conn=- '
	has '^R 3 200 .*conn=close '
	has '^END eof '
	le "$(end_t)" 3
}

@test "a client that sends nothing is closed after header_timeout 1" {
	srv --header_timeout 1
	send 8 ''
	if grep -q '^R 1 ' <<<"$output"; then	# a 408 or nothing
		has '^R 1 408 .*conn=close'
	fi
	has '^END eof '
	le "$(end_t)" 5
	no_child 5
}

@test "a body that stalls: 408 and close after body_timeout 1" {
	srv --body_timeout 1
	send 8 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789'
	has '^R 1 408 .*conn=close'
	hasnt '^R 2 '
	has '^END eof '
	le "$(end_t)" 5
	no_child 5
}

@test "a head trickled a byte at a time is cut off at header_timeout 1" {
	srv --header_timeout 1
	send 8 'GET /hello HTTP/1.1\r\nHost: t\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n' \
	    --trickle
	has '^R 1 408 .*conn=close'
	has '^END (eof|reset) '
	le "$(end_t)" 5
	no_child 5
}

# ---- the peer --------------------------------------------------------------

@test "REMOTE_ADDR is 127.0.0.1" {
	srv
	run curl -sS --max-time 5 "$(url /env)"
	has '<tr><th>REMOTE_ADDR</th><td>127\.0\.0\.1</td></tr>'
	has '<tr><th>REMOTE_PORT</th><td>[0-9]+</td></tr>'
}

@test "REMOTE_ADDR is ::1 over IPv6" {
	python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1",0))' \
	    2>/dev/null || skip "no ::1 here"
	local port log=$BATS_TEST_TMPDIR/ts6.log i
	port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0)); print(s.getsockname()[1])')
	tcpserver -H -R -l 0 ::1 "$port" "$IHTTPD" -c conf/ihttpd.conf \
	    --keepalive_timeout 1 >"$log" 2>&1 &
	TCPSERVER_PID=$!
	for i in $(seq 50); do
		python3 -c 'import socket,sys; socket.create_connection(("::1",int(sys.argv[1])),0.2).close()' \
		    "$port" 2>/dev/null && break
		kill -0 "$TCPSERVER_PID" 2>/dev/null || break
		sleep 0.05
	done
	if ! kill -0 "$TCPSERVER_PID" 2>/dev/null; then
		# ucspi-tcp without the IPv6 patch ("no IP address for ::1"):
		# the same inetd spawn, one connection, by a small Python inetd.
		TCPSERVER_PID=
		echo "# tcpserver: $(cat "$log"); using inetd6.py" >&3
		python3 "$INETD6" "$BATS_TEST_TMPDIR/port6" "$IHTTPD" \
		    -c conf/ihttpd.conf --keepalive_timeout 1 2>"$log" &
		INETD6_PID=$!
		for i in $(seq 50); do
			[ -s "$BATS_TEST_TMPDIR/port6" ] && break
			sleep 0.05
		done
		port=$(cat "$BATS_TEST_TMPDIR/port6")
	fi
	run curl -sS -g --max-time 5 "http://[::1]:$port/env"
	has '<tr><th>REMOTE_ADDR</th><td>::1</td></tr>'
	has '<tr><th>SERVER_ADDR</th><td>::1</td></tr>'
}

# ---- a client that goes away ------------------------------------------------

@test "a client that disconnects mid-response: the process exits, tcpserver serves on" {
	make_docroot
	head -c 5000000 /dev/zero >"$DOC/five.bin"
	srv --docroot "$DOC"
	run python3 "$HC" disconnect "$PORT" /five.bin
	[ "$status" -eq 0 ]
	no_child 5
	run curl -sS --max-time 5 "$(url /small.txt)"
	[ "$output" = "a small file" ]
}

@test "a transfer reset after a few KiB is logged with the bytes really sent, not the file's size" {
	make_docroot
	head -c 30000000 /dev/zero >"$DOC/thirty.bin"
	srv --docroot "$DOC" --access_log "$BATS_TEST_TMPDIR/access.log"
	run python3 "$HC" disconnect "$PORT" /thirty.bin
	[ "$status" -eq 0 ]
	no_child 10
	run cat "$BATS_TEST_TMPDIR/access.log"
	has '"GET /thirty.bin HTTP/1.1" 200 [0-9]+ '
	local n
	n=$(sed -n 's/.*"GET \/thirty.bin HTTP\/1.1" 200 \([0-9]*\) .*/\1/p' <<<"$output")
	[ "$n" -gt 0 ]
	[ "$n" -lt 30000000 ]
}

# ---- hostile battery ---------------------------------------------------------
# bad: exact error status, Connection: close, EOF.  good: answered, and a
# pipelined request behind it still answered correctly.

@test "hostile: NUL in the request-target: 400" {
	bad 400 'GET /a\x00b HTTP/1.1\r\nHost: t\r\n\r\n'
}

@test "hostile: NUL after the HTTP version: 400" {
	bad 400 'GET /hello HTTP/1.1\x00junk\r\nHost: t\r\n\r\n'
}

@test "hostile: NUL in a header value: 400" {
	bad 400 'GET /hello HTTP/1.1\r\nHost: t\r\nX-A: a\x00b\r\n\r\n'
}

@test "hostile: NUL in a header name: 400" {
	bad 400 'GET /hello HTTP/1.1\r\nHost: t\r\nX\x00A: 1\r\n\r\n'
}

@test "hostile: bare CR inside a header value: 400" {
	bad 400 'GET /hello HTTP/1.1\r\nHost: t\r\nX-A: a\rb\r\n\r\n'
}

@test "hostile: bare CR as the line end: 400" {
	bad 400 'GET /hello HTTP/1.1\rHost: t\r\r\n\r\n'
}

@test "hostile: lone LF line ends are accepted" {
	good 200 'GET /hello HTTP/1.1\nHost: t\n\n'
}

@test "hostile: mixed LF and CRLF line ends are accepted" {
	good 200 'GET /hello HTTP/1.1\nHost: t\r\nX-A: 1\n\r\n'
}

@test "hostile: a head sent one byte at a time is served" {
	srv
	send 8 'GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' \
	    --bytewise
	has '^R 1 200 .*body=19 '
	has '^END eof '
}

@test "hostile: header line without a colon: 400" {
	bad 400 'GET /hello HTTP/1.1\r\nHost: t\r\nNoColonHere\r\n\r\n'
}

@test "hostile: control byte 0x01 in a value: 400" {
	bad 400 'GET /hello HTTP/1.1\r\nHost: t\r\nX-A: a\x01b\r\n\r\n'
}

@test "hostile: DEL in a value: 400" {
	bad 400 'GET /hello HTTP/1.1\r\nHost: t\r\nX-A: a\x7fb\r\n\r\n'
}

@test "hostile: whitespace between field name and colon: 400" {
	bad 400 'GET /hello HTTP/1.1\r\nHost : t\r\n\r\n'
}

@test "hostile: obs-fold: 400" {
	bad 400 'GET /hello HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n'
}

@test "hostile: HTTP/1.1 without Host: 400" {
	bad 400 'GET /hello HTTP/1.1\r\n\r\n'
}

@test "hostile: two Host fields: 400" {
	bad 400 'GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'
}

@test "hostile: Host with a slash: 400" {
	bad 400 'GET /hello HTTP/1.1\r\nHost: ../etc/x\r\n\r\n'
}

@test "hostile: Host '..' is a name, never a path" {
	good 200 'GET /hello HTTP/1.1\r\nHost: ..\r\n\r\n'
}

@test "hostile: chunk size ffffffffffffffffff: 400" {
	bad 400 'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nabc\r\n0\r\n\r\n'
}

@test "hostile: chunk size followed by junk (5x): 400" {
	bad 400 'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\nhello\r\n0\r\n\r\n'
}

@test "hostile: chunk size 0x5 is not hex 5, nor a last chunk: 400" {
	bad 400 'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n'
}

@test "hostile: a chunk extension is accepted" {
	good 200 'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n3 ;x\r\nabc\r\n0\r\n\r\n'
	has '^R 1 200 .*body=8 '
}

@test "hostile: LF-only chunk lines: 400 (RFC 9112 7.1 has CRLF only)" {
	bad 400 'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n3\nabc\n0\n\n'
}

@test "hostile: the lenient chunked body of the review: 400, not 200 abcde" {
	bad 400 'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n2 ;x\nde\n0\nTrailer: a\rb\n\n'
}

@test "hostile: whitespace after a chunk size without ';': 400" {
	bad 400 'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1 \r\nx\r\n0\r\n\r\n'
}

@test "hostile: a bare CR in a trailer value: 400" {
	bad 400 'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nT: a\rb\r\n\r\n'
}

@test "hostile: a GET of a file with a malformed chunked body: 400, not 200" {
	make_docroot
	bad 400 'GET /small.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n' --docroot "$DOC"
}

@test "hostile: a HEAD of a file with a malformed chunked body: 400" {
	make_docroot
	bad 400 'HEAD /small.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n' --docroot "$DOC"
}

@test "hostile: an unread Content-Length body to a handler holding its session keeps the connection" {
	good 200 'POST /counter HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc' \
	    --datadir "$BATS_TEST_TMPDIR/data"
}

@test "hostile: an unread chunked body to a handler holding its session: answered, then closed (never read under the lock)" {
	srv --datadir "$BATS_TEST_TMPDIR/data"
	send 5 'POST /counter HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'"$NEXT"
	[ "$status" -eq 0 ]
	has '^R 1 200 .*conn=close'
	hasnt '^R 2 '
}

@test "hostile: a GET of a file with a good chunked body keeps the connection" {
	good 200 'GET /index.html HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'
}

@test "hostile: negative Content-Length: 400" {
	bad 400 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n'
}

@test "hostile: Content-Length 1e3: 400" {
	bad 400 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1e3\r\n\r\n'
}

@test "hostile: Content-Length +5: 400" {
	bad 400 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\nhello'
}

@test "hostile: Content-Length '5, 6': 400" {
	bad 400 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 6\r\n\r\nhello'
}

@test "hostile: two different Content-Length fields: 400" {
	bad 400 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello'
}

@test "hostile: two equal Content-Length fields are one" {
	good 200 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello'
}

@test "hostile: Content-Length of 20 digits: 413" {
	bad 413 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999\r\n\r\n'
}

@test "hostile: Content-Length with Transfer-Encoding: 400" {
	bad 400 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'
}

@test "hostile: Transfer-Encoding: chunked, chunked: 400" {
	bad 400 'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n'
}

@test "hostile: Transfer-Encoding in HTTP/1.0: 400" {
	bad 400 'POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'
}

@test "hostile: Transfer-Encoding: chunked, gzip (chunked not final): 400" {
	bad 400 'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n'
}

@test "hostile: Transfer-Encoding split over two fields: 400" {
	bad 400 'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
}

@test "hostile: absolute-form with userinfo: 400" {
	bad 400 'GET http://user:pw@t/hello HTTP/1.1\r\nHost: t\r\n\r\n'
}

@test "hostile: absolute-form is accepted" {
	good 200 'GET http://example.org/hello HTTP/1.1\r\nHost: other\r\n\r\n'
}

@test "hostile: two spaces after the method: 400" {
	bad 400 'GET  /hello HTTP/1.1\r\nHost: t\r\n\r\n'
}

@test "hostile: lower-case method get: 501" {
	bad 501 'get /hello HTTP/1.1\r\nHost: t\r\n\r\n'
}

@test "hostile: lower-case http/1.1: 400" {
	bad 400 'GET /hello http/1.1\r\nHost: t\r\n\r\n'
}

@test "hostile: a space inside the request-target: 400" {
	bad 400 'GET /a b HTTP/1.1\r\nHost: t\r\n\r\n'
}

@test "hostile: trailing space after the version: 400" {
	bad 400 'GET /hello HTTP/1.1 \r\nHost: t\r\n\r\n'
}

@test "hostile: a byte over 0x7f in the target: 400" {
	bad 400 'GET /\xff HTTP/1.1\r\nHost: t\r\n\r\n'
}

@test "hostile: %zz escape: 400" {
	bad 400 'GET /%zz HTTP/1.1\r\nHost: t\r\n\r\n'
}

@test "hostile: %00 in the path: 400" {
	bad 400 'GET /hello%00.txt HTTP/1.1\r\nHost: t\r\n\r\n'
}

@test "hostile: encoded slash %2f: 400" {
	bad 400 'GET /files%2fsample.txt HTTP/1.1\r\nHost: t\r\n\r\n'
}

@test "hostile: .. above the root: 400" {
	bad 400 'GET /../../etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n'
}

@test "hostile: %2e%2e above the root: 400" {
	bad 400 'GET /files/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n'
}

@test "hostile: .. that stays inside the root is resolved" {
	good 200 'GET /files/../files/sample.txt HTTP/1.1\r\nHost: t\r\n\r\n'
}

@test "hostile: one empty line before the request line is ignored" {
	good 200 '\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n'
}

@test "hostile: 200 empty lines before the request line: no hang, no 500" {
	srv
	send 5 "$(printf '\\r\\n%.0s' {1..200})"'GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'
	hasnt '^R [0-9]+ 500 '
	has '^R 1 (200|400) '
	has '^END eof '
	no_child 5
}

@test "hostile: nothing but empty lines: skipped (RFC 9112 2.2), then 408" {
	bad 408 '\r\n\r\n' --header_timeout 1
}

@test "hostile: HTTP/0.9 request without a version: 400" {
	bad 400 'GET /hello\r\n\r\n'
}

@test "hostile: HTTP/1.10: 400" {
	bad 400 'GET /hello HTTP/1.10\r\nHost: t\r\n\r\n'
}

@test "hostile: HTTP/1.2 is served as 1.1" {
	good 200 'GET /hello HTTP/1.2\r\nHost: t\r\n\r\n'
}

@test "hostile: GET *: 400" {
	bad 400 'GET * HTTP/1.1\r\nHost: t\r\n\r\n'
}

@test "hostile: CONNECT: 501" {
	bad 501 'CONNECT t:443 HTTP/1.1\r\nHost: t:443\r\n\r\n'
}

@test "hostile: Expect: something-else: 417" {
	bad 417 'GET /hello HTTP/1.1\r\nHost: t\r\nExpect: nonsense\r\n\r\n'
}

@test "hostile: chunked body with a trailer, then the next request" {
	good 200 'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n'
	has '^R 1 200 .*body=5 '
}

@test "hostile: Expect: 100-continue over max_body: 413, no 100" {
	bad 413 'POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n' \
	    --max_body 1k
}

@test "hostile: OPTIONS * is answered with Allow" {
	srv
	send 5 'OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n'"$NEXT" -v
	has '^R 1 200 '
	has '^H 1 Allow: '
	has '^R 2 200 .*body=19 '
}

@test "hostile: a fragment in the request-target: 400" {
	bad 400 'GET /hello#frag HTTP/1.1\r\nHost: t\r\n\r\n'
}

@test "hostile: a GET with a body is drained, the next request served" {
	good 200 'GET /hello HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello'
}

# ---- bodies a client holds back or trickles ----------------------------------

BODY=$BATS_TEST_DIRNAME/fixtures/inetd/body.py

@test "Expect: 100-continue answered 405 before the body: closed, the next request is never read as body" {
	srv --access_log "$BATS_TEST_TMPDIR/access.log"
	run python3 "$BODY" expect "$PORT" POST /index.html
	[ "$status" -eq 0 ]
	has '^R 405 conn=close$'
	has '^NEXT eof$'
	no_child 5
	run cat "$BATS_TEST_TMPDIR/access.log"
	has '"POST /index.html HTTP/1.1" 405 '
	hasnt '" 400 '
	[ "${#lines[@]}" -eq 1 ]
}

@test "Expect: 100-continue answered 401 by AuthTrans, 404, or by a handler that never reads: closed too" {
	local what
	make_docroot
	srv --access_log "$BATS_TEST_TMPDIR/access.log"
	for what in '401 POST /private/' '404 GET /nothing-here' \
	    '200 POST /hello'; do
		run python3 "$BODY" expect "$PORT" ${what#* }
		[ "$status" -eq 0 ]
		has "^R ${what%% *} conn=close$"
		has '^NEXT eof$'
	done
	run cat "$BATS_TEST_TMPDIR/access.log"
	hasnt '" 400 '
	[ "${#lines[@]}" -eq 3 ]
}

@test "Expect: 100-continue to a handler that reads: 100, the answer, and keep-alive" {
	srv
	send 5 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello'"$NEXT" --body
	[ "$status" -eq 0 ]
	has "^R 1 100 "
	has "^R 2 200 .*body=5 "
	has "^R 3 200 .*body=19 "
}

@test "a trickled body: 408 at body_timeout plus size / body_min_rate, not after every byte" {
	srv --body_timeout 2
	run python3 "$BODY" trickle "$PORT" 0.5 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 12\r\n\r\n' 'aaaaaaaaaaaa'
	[ "$status" -eq 0 ]
	has '^R 408 '
	# The body (12 bytes at 0.5 s) would take 6 s; the deadline is ~2 s.
	le "$(sed -n 's/.* t=\([0-9.]*\).*/\1/p' <<<"$output")" 4.5
	no_child 5
}

@test "a trickled chunked body: 408 at its deadline too" {
	srv --body_timeout 2
	run python3 "$BODY" trickle "$PORT" 0.5 'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n' 'c\r\naaaaaaaaaaaa\r\n0\r\n\r\n'
	[ "$status" -eq 0 ]
	has '^R 408 '
	le "$(sed -n 's/.* t=\([0-9.]*\).*/\1/p' <<<"$output")" 4.5
}

@test "a body larger than body_min_rate covers is given time by its size" {
	srv --body_timeout 1 --body_min_rate 4
	# 12 bytes at 4 B/s: 1 + 3 s; a byte every 0.2 s arrives in 2.4 s.
	run python3 "$BODY" trickle "$PORT" 0.2 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 12\r\nConnection: close\r\n\r\n' 'aaaaaaaaaaaa'
	[ "$status" -eq 0 ]
	has '^R 200 .* sent=12$'
}

# counter_cookie: a session cookie from GET /counter (name=value).
counter_cookie() {
	curl -sS --max-time 5 -D - -o /dev/null "$(url /counter)" |
	    sed -n 's/^Set-Cookie: \([^;]*\).*/\1/p'
}

# lock_case HEAD-FIELD BODY: a /counter cookie, then a POST /counter with
# it whose unread BODY trickles on (HEAD-FIELD frames it): it is answered
# at once (with its session open, an unread body closes the connection),
# and a second request with the cookie is answered at once too.
lock_case() {
	local cookie
	srv --body_timeout 5 --datadir "$BATS_TEST_TMPDIR/data"
	cookie=$(counter_cookie)
	[ -n "$cookie" ]
	run python3 "$BODY" lock "$PORT" "$cookie" 0.3 "POST /counter HTTP/1.1\r\nHost: t\r\nCookie: $cookie\r\n$1\r\n\r\n" "$2"
	[ "$status" -eq 0 ]
	has '^A 200 '
	has '^B 200 '
	le "$(sed -n 's/^B .* t=\([0-9.]*\)/\1/p' <<<"$output")" 2
}

@test "a session's lock is released before an unread trickled body is drained" {
	# /counter answers without reading; the body then trickles on.
	lock_case 'Content-Length: 40' "$(printf 'a%.0s' $(seq 40))"
}

@test "a session's lock is released before an unread chunked body is read for its framing" {
	lock_case 'Transfer-Encoding: chunked' "$(printf '1\\r\\na\\r\\n%.0s' $(seq 10))0\\r\\n\\r\\n"
}

@test "/login reads its form before it takes the session's lock: a slow form holds no lock" {
	local cookie
	srv --body_timeout 5 --datadir "$BATS_TEST_TMPDIR/data" --lock_timeout 3
	cookie=$(counter_cookie)
	[ -n "$cookie" ]
	run python3 "$BODY" during "$PORT" "$cookie" 0.2 "POST /login HTTP/1.1\r\nHost: t\r\nCookie: $cookie\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 24\r\n\r\n" 'user=larry&password=wall'
	[ "$status" -eq 0 ]
	has '^B 200 '
	le "$(sed -n 's/^B .* t=\([0-9.]*\)/\1/p' <<<"$output")" 1.5
	has '^A 303 '
}

@test "a pipelined head whose first bytes came with the last request has header_timeout, not keepalive_timeout" {
	srv --keepalive_timeout 10 --header_timeout 2
	run python3 - "$PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2)
t0 = time.monotonic()
s.sendall(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\nG")
out = b""
s.settimeout(0.25)
rest = b"ET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
for i in range(len(rest)):
    try:
        b = s.recv(65536)
        if not b:
            break
        out += b
        if out.count(b"HTTP/1.1 ") >= 2:
            break
    except socket.timeout:
        pass
    try:
        s.sendall(rest[i:i + 1])
    except OSError:
        break
print("second:", out.split(b"HTTP/1.1 ")[2][:3].decode() if out.count(b"HTTP/1.1 ") >= 2 else "none",
      "t=%.1f" % (time.monotonic() - t0))
PY
	has '^second: 408 '
	le "$(sed -n 's/.* t=\([0-9.]*\).*/\1/p' <<<"$output")" 5
}

@test "keepalive_timeout 0 with the next head split across reads: served, not 408" {
	srv --keepalive_timeout 0 --header_timeout 3
	run python3 - "$PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2)
s.sendall(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HT")
time.sleep(0.3)
s.sendall(b"TP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
s.settimeout(5)
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
print(" ".join(x[:3].decode() for x in out.split(b"HTTP/1.1 ")[1:]))
PY
	[ "$output" = "200 200" ]
}

@test "a body that stalls after the answer began: logged with the status sent (200) and the bytes that went, never 408" {
	srv --body_timeout 1 --access_log "$BATS_TEST_TMPDIR/access.log"
	run python3 - "$PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2)
s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + b"x" * 40000)
s.settimeout(5)
out = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
except OSError:
    pass
print(out.split(b"\r\n")[0].decode())
PY
	has '^HTTP/1.1 200 '
	no_child 5
	run cat "$BATS_TEST_TMPDIR/access.log"
	has '"POST /echo HTTP/1.1" 200 [0-9]+ '
	hasnt '" 408 '
}

@test "the hostile battery's requests through tcpserver: every access line read by goaccess, none failed, no child killed" {
	command -v goaccess >/dev/null || skip "goaccess not installed"
	srv --access_log "$BATS_TEST_TMPDIR/access.log" --datadir "$BATS_TEST_TMPDIR/data"
	run python3 - "$PORT" <<'PY'
import socket, sys
port = int(sys.argv[1])
reqs = [
    b"GET /a\x00b HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /hello HTTP/1.1\r\nHost: t\r\nX-A: a\rb\r\n\r\n",
    b"GET /hello HTTP/1.1\r\n Host: t\r\n\r\n",
    b"GET /\x80\x9b\xff\"\\ HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /" + b"A" * 1100 + b"\x80" * 900 + b" HTTP/1.0\r\n\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
    b"GET / HTTP/1.1\r\nHost: t\r\nUser-Agent: a\"b\\c[d]\r\nReferer: \"\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n",
    b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /private/ HTTP/1.1\r\nHost: t\r\nAuthorization: Basic !!!\r\n\r\n",
    b"GET /private/ HTTP/1.1\r\nHost: t\r\nAuthorization: Digest username=\"a\\\"b\"\r\n\r\n",
    b"POST /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 60\r\nExpect: 100-continue\r\n\r\n",
    b"GET http://a@b/ HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /" + b"%c0%af" * 10 + b" HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /hello HTTP/1.1\r\nHost: t\r\nUser-Agent: " + b"u" * 9000 + b"\r\n\r\n",
    b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    b"\r\n" * 50 + b"GET /hello HTTP/1.0\r\n\r\n",
]
for r in reqs:
    s = socket.create_connection(("127.0.0.1", port), 2)
    try:
        s.sendall(r)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(5)
        while s.recv(65536):
            pass
    except OSError:
        pass
    s.close()
print(len(reqs))
PY
	[ "$status" -eq 0 ]
	no_child 10
	run bash -c 'goaccess "$1" --log-format=COMBINED --no-global-config -o json 2>/dev/null | python3 -c "import json,sys; g=json.load(sys.stdin)[\"general\"]; print(g[\"total_requests\"], g[\"failed_requests\"])"' _ "$BATS_TEST_TMPDIR/access.log"
	[ "$status" -eq 0 ]
	[ "${output% *}" -ge 20 ]
	[ "${output#* }" = 0 ]
}
