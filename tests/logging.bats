#!/usr/bin/env bats
# The access log (combined format), the error log and its levels, debug
# zones, and the peer address the logs show in pipe mode.  The clock is
# frozen by IHTTPD_FIXED_TIME (helpers.bash): 1795507200 is
# 24/Nov/2026:08:00:00 UTC.

load helpers
bats_require_minimum_version 1.5.0

STAMP='[24/Nov/2026:08:00:00 +0000]'

setup_file() {
	snapshot_binary || return 1
}

setup() {
	cd "$ROOT"
	unset TCPREMOTEIP TCPREMOTEPORT TCPLOCALIP TCPLOCALPORT
	CONF=tests/fixtures/test.conf
	LOG=$BATS_TEST_TMPDIR/access.log
	ELOG=$BATS_TEST_TMPDIR/error.log
	DLOG=$BATS_TEST_TMPDIR/debug.log
}

# serve 'RAW REQUEST with \r\n escapes' [args]: one piped connection with
# the test config; the response goes to $BATS_TEST_TMPDIR/resp, stderr to
# $BATS_TEST_TMPDIR/stderr; the exit status is in $status.
serve() {
	local r=$1
	shift
	run bash -c 'printf "%b" "$1" | "$2" -c "$3" "${@:4}" \
	    >"$BATS_TEST_TMPDIR/resp" 2>"$BATS_TEST_TMPDIR/stderr"' _ \
	    "$r" "$IHTTPD" "$CONF" "$@"
}

@test "access log: one combined-format line per request in the file" {
	serve 'GET /hello.txt HTTP/1.1\r\nHost: t\r\nReferer: http://ref.example/page\r\nUser-Agent: agent/1.0 (test)\r\n\r\n' \
	    --access_log "$LOG"
	assert_success
	run cat "$LOG"
	assert_output "127.0.0.1 - - $STAMP \"GET /hello.txt HTTP/1.1\" 200 13 \"http://ref.example/page\" \"agent/1.0 (test)\""
}

@test "access log: no Referer or User-Agent logs -; HEAD and 404 bytes" {
	serve 'HEAD /hello.txt HTTP/1.1\r\nHost: t\r\n\r\nGET /nope HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.0\r\n\r\n' \
	    --access_log "$LOG"
	run cat "$LOG"
	[ "${#lines[@]}" -eq 3 ]
	[ "${lines[0]}" = "127.0.0.1 - - $STAMP \"HEAD /hello.txt HTTP/1.1\" 200 - \"-\" \"-\"" ]
	[ "${lines[1]}" = "127.0.0.1 - - $STAMP \"GET /nope HTTP/1.1\" 404 107 \"-\" \"-\"" ]
	[ "${lines[2]}" = "127.0.0.1 - - $STAMP \"GET /hello HTTP/1.0\" 200 22 \"-\" \"-\"" ]
}

@test "access log: the time is UTC whatever the time zone" {
	local tz
	for tz in UTC America/New_York Asia/Kolkata Pacific/Chatham; do
		rm -f "$LOG"
		TZ=$tz serve 'GET /hello HTTP/1.0\r\n\r\n' --access_log "$LOG"
		run cat "$LOG"
		assert_output --partial " $STAMP \"GET /hello HTTP/1.0\" 200 22 "
	done
}

@test "access log: appended to an existing file, never truncated" {
	echo "an earlier line" >"$LOG"
	serve 'GET /hello HTTP/1.0\r\n\r\n' --access_log "$LOG"
	serve 'GET /hello.txt HTTP/1.0\r\n\r\n' --access_log "$LOG"
	run cat "$LOG"
	[ "${#lines[@]}" -eq 3 ]
	[ "${lines[0]}" = "an earlier line" ]
	[[ ${lines[1]} == *'"GET /hello HTTP/1.0" 200 22 '* ]]
	[[ ${lines[2]} == *'"GET /hello.txt HTTP/1.0" 200 13 '* ]]
}

@test "access log: \" \\ tab and non-ASCII bytes are written as \\xNN" {
	serve 'GET /hello HTTP/1.1\r\nHost: t\r\nReferer: http://r/"x"\\y\r\nUser-Agent: ua\t\xc3\xa9 "q"\r\n\r\n' \
	    --access_log "$LOG"
	run cat "$LOG"
	assert_output "127.0.0.1 - - $STAMP \"GET /hello HTTP/1.1\" 200 22 \"http://r/\\x22x\\x22\\x5cy\" \"ua\\x09\\xc3\\xa9 \\x22q\\x22\""
}

@test "access log: a control byte in a malformed request line is escaped" {
	serve 'GET /a\x01\x1b[2J HTTP/1.1\r\nHost: t\r\n\r\n' --access_log "$LOG"
	run head -c 24 "$BATS_TEST_TMPDIR/resp"
	assert_output "HTTP/1.1 400 Bad Request"
	run cat "$LOG"
	assert_output "127.0.0.1 - - $STAMP \"GET /a\\x01\\x1b[2J HTTP/1.1\" 400 111 \"-\" \"-\""
	# One line, and no raw control byte in it.
	[ "$(wc -l <"$LOG")" -eq 1 ]
	! LC_ALL=C grep -q '[[:cntrl:]]' <(tr -d '\n' <"$LOG")
}

@test "access log: malformed requests are logged with their status" {
	serve 'GET /hello HTTP/2.0\r\nHost: t\r\n\r\n' --access_log "$LOG"
	serve 'GET /hello HTTP/1.1\r\n\r\n' --access_log "$LOG"
	serve 'BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n' --access_log "$LOG"
	serve 'GET /%2e%2e/x HTTP/1.1\r\nHost: t\r\n\r\n' --access_log "$LOG"
	serve 'POST /echo HTTP/1.1\r\nHost: t\r\n\r\n' --access_log "$LOG"
	run cat "$LOG"
	[ "${#lines[@]}" -eq 5 ]
	[ "${lines[0]}" = "127.0.0.1 - - $STAMP \"GET /hello HTTP/2.0\" 505 141 \"-\" \"-\"" ]
	[ "${lines[1]}" = "127.0.0.1 - - $STAMP \"GET /hello HTTP/1.1\" 400 111 \"-\" \"-\"" ]
	[ "${lines[2]}" = "127.0.0.1 - - $STAMP \"BREW /pot HTTP/1.1\" 501 119 \"-\" \"-\"" ]
	[ "${lines[3]}" = "127.0.0.1 - - $STAMP \"GET /%2e%2e/x HTTP/1.1\" 400 111 \"-\" \"-\"" ]
	[ "${lines[4]}" = "127.0.0.1 - - $STAMP \"POST /echo HTTP/1.1\" 411 119 \"-\" \"-\"" ]
}

@test "access log: a request line over the limit is logged as 414" {
	run bash -c '{ printf "GET /%0100d" 0; sleep 0.3; } |
	    "$1" -c "$2" --max_request_line 64 --access_log "$3" \
	    >/dev/null 2>&1' _ "$IHTTPD" "$CONF" "$LOG"
	run cat "$LOG"
	[ "${#lines[@]}" -eq 1 ]
	[[ ${lines[0]} == *"\" 414 113 \"-\" \"-\"" ]]
}

@test "access log: --remote_addr is the peer in pipe mode" {
	serve 'GET /hello HTTP/1.0\r\n\r\n' --remote_addr 10.1.2.3 \
	    --access_log "$LOG"
	run cat "$LOG"
	assert_output "10.1.2.3 - - $STAMP \"GET /hello HTTP/1.0\" 200 22 \"-\" \"-\""
}

@test "access log: tcpserver's TCPREMOTEIP is the peer in pipe mode" {
	TCPREMOTEIP=192.0.2.7 TCPREMOTEPORT=40000 serve \
	    'GET /hello HTTP/1.0\r\n\r\n' --access_log "$LOG"
	run cat "$LOG"
	assert_output "192.0.2.7 - - $STAMP \"GET /hello HTTP/1.0\" 200 22 \"-\" \"-\""
}

@test "access log: --remote_addr wins over TCPREMOTEIP" {
	TCPREMOTEIP=192.0.2.7 serve 'GET /hello HTTP/1.0\r\n\r\n' \
	    --remote_addr 10.1.2.3 --access_log "$LOG"
	run cat "$LOG"
	[[ $output == "10.1.2.3 - - "* ]]
}

@test "access log: a TCPREMOTEIP that is not an address is not trusted" {
	TCPREMOTEIP='1.2.3.4" - - "forged' serve 'GET /hello HTTP/1.0\r\n\r\n' \
	    --access_log "$LOG"
	run cat "$LOG"
	assert_output "127.0.0.1 - - $STAMP \"GET /hello HTTP/1.0\" 200 22 \"-\" \"-\""
}

@test "access log: stdout is refused (it is the client) with exit 1" {
	serve 'GET /hello HTTP/1.0\r\n\r\n' --access_log stdout
	assert_failure 1
	[ ! -s "$BATS_TEST_TMPDIR/resp" ]
	grep -q "access_log: stdout is the client connection" \
	    "$BATS_TEST_TMPDIR/stderr"
}

@test "access log: stdout is refused by --check too" {
	run --separate-stderr "$IHTTPD" -c "$CONF" --access_log stdout --check
	assert_failure 1
	[[ $stderr == *"access_log: stdout is the client connection"* ]]
}

@test "access log: off writes nothing anywhere" {
	serve 'GET /hello HTTP/1.0\r\n\r\n'
	assert_success
	[ ! -s "$BATS_TEST_TMPDIR/stderr" ]
	serve 'GET /hello HTTP/1.0\r\n\r\n' --access_log "$LOG" \
	    --access_log off
	[ ! -e "$LOG" ]
	[ ! -s "$BATS_TEST_TMPDIR/stderr" ]
}

@test "access log: stderr by default" {
	run bash -c 'printf "GET /hello.txt HTTP/1.0\r\n\r\n" |
	    "$1" --docroot tests/fixtures/www 2>&1 >/dev/null' _ "$IHTTPD"
	assert_output "127.0.0.1 - - $STAMP \"GET /hello.txt HTTP/1.0\" 200 13 \"-\" \"-\""
}

@test "error log: a 404 detail is a notice: shown at log_level 2, not at 1" {
	serve 'GET /nope HTTP/1.0\r\n\r\n' --error_log "$ELOG" --log_level 1
	[ ! -s "$ELOG" ]
	serve 'GET /nope HTTP/1.0\r\n\r\n' --error_log "$ELOG" --log_level 2
	run cat "$ELOG"
	assert_output --regexp '^2026-11-24T08:00:00Z ihttpd\[[0-9]+\]: notice: 127\.0\.0\.1: 404 Not Found: no such file for \/nope$'
}

@test "error log: a server error shows at level 0, client errors from 2" {
	# 500: the docroot cannot be opened.  404 and 501: the client's doing.
	local req='GET /nope HTTP/1.1\r\nHost: t\r\n\r\nBREW / HTTP/1.1\r\nHost: t\r\n\r\n'
	serve "$req" --error_log "$ELOG" --log_level 0
	[ ! -s "$ELOG" ]
	serve 'GET /x HTTP/1.0\r\n\r\n' --docroot "$BATS_TEST_TMPDIR/none" \
	    --error_log "$ELOG" --log_level 0
	run cat "$ELOG"
	[ "${#lines[@]}" -eq 1 ]
	[[ ${lines[0]} == *"]: error: 127.0.0.1: 500 Internal Server Error: "* ]]
	rm "$ELOG"
	serve "$req" --error_log "$ELOG" --log_level 2
	run cat "$ELOG"
	[ "${#lines[@]}" -eq 2 ]
	[[ ${lines[0]} == *"]: notice: 127.0.0.1: 404 Not Found: "* ]]
	[[ ${lines[1]} == *"]: notice: 127.0.0.1: 501 Not Implemented: "* ]]
}

@test "error log: off writes nothing" {
	serve 'GET /nope HTTP/1.0\r\n\r\n' --error_log off --log_level 4
	assert_success
	[ ! -s "$BATS_TEST_TMPDIR/stderr" ]
}

@test "error log: no request data and no control byte reaches the client or the log" {
	serve 'GET /nope\x7f<script> HTTP/1.1\r\nHost: t\r\n\r\n' \
	    --error_log "$ELOG" --log_level 4
	! grep -q 'script' "$BATS_TEST_TMPDIR/resp"
	! LC_ALL=C grep -q $'\x7f' "$ELOG"
}

@test "debug: --debug REQ writes REQ lines to --debug_log and nothing else" {
	serve 'GET /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /hello.txt HTTP/1.0\r\n\r\n' \
	    --debug REQ --debug_log "$DLOG"
	assert_success
	run cat "$DLOG"
	[ "${#lines[@]}" -eq 2 ]
	[[ ${lines[0]} =~ ^2026-11-24T08:00:00Z\ ihttpd\[[0-9]+\]:\ REQ:\ 127\.0\.0\.1:\ GET\ /hello\ HTTP/1\.1$ ]]
	[[ ${lines[1]} =~ ^2026-11-24T08:00:00Z\ ihttpd\[[0-9]+\]:\ REQ:\ 127\.0\.0\.1:\ GET\ /hello\.txt\ HTTP/1\.0$ ]]
	[ ! -s "$BATS_TEST_TMPDIR/stderr" ]
}

@test "debug: several zones; none without --debug" {
	serve 'GET /hello HTTP/1.0\r\n\r\n' --debug REQ,RESP --debug_log "$DLOG"
	run cat "$DLOG"
	assert_line --partial ": REQ: 127.0.0.1: GET /hello HTTP/1.0"
	assert_line --partial ": RESP: status 200"
	refute_output --partial ": INIT: "
	rm -f "$DLOG"
	serve 'GET /hello HTTP/1.0\r\n\r\n' --debug_log "$DLOG"
	[ ! -s "$DLOG" ]
}

@test "debug: an unknown zone is a config error" {
	run --separate-stderr "$IHTTPD" -c "$CONF" --debug REQ,NOPE --check
	assert_failure 1
	[[ $stderr == *"debug: 'REQ,NOPE' is not a list of"* ]]
}

# Issue 8, finding 1: a request line that escapes to more than the line.
@test "access log: a request line escaping past the 4 KiB line is cut, the line keeps every field (no overflow)" {
	local n
	for n in 1000 1020 1030 4000 4038 4050 4070 4090 8100; do
		rm -f "$LOG"
		run bash -c 'python3 -c "import sys; sys.stdout.buffer.write(b\"GET /\" + b\"A\" * int(sys.argv[1]) + b\"\\x80\" * 20 + b\" HTTP/1.0\\r\\nUser-Agent: ua/1\\r\\nReferer: http://r/\\r\\n\\r\\n\")" "$1" | "$2" -c "$3" --access_log "$4" --max_request_line 16k >/dev/null 2>&1' _ "$n" "$IHTTPD" "$CONF" "$LOG"
		[ "$status" -eq 0 ]
		run python3 - "$LOG" <<'PY'
import re, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
assert lines[-1] == b"" and len(lines) == 2, lines
l = lines[0]
assert len(l) < 4096, len(l)
m = re.fullmatch(rb'127\.0\.0\.1 - - \[[^]]+\] "([^"]*)" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)"', l)
assert m, l[-200:]
assert all(0x20 <= c < 0x7f for c in l), "raw byte"
print(m.group(2).decode(), m.group(4).decode(), m.group(5).decode(), m.group(1)[-3:].decode())
PY
		[ "$status" -eq 0 ]
		# A malformed head's fields are not trusted: "-" "-".
		[[ "$output" == "400 - - "* ]]
	done
	# The longest ones are cut and say so.
	[[ "$output" == *"..." ]]
	# A well-formed 10000-byte request line: cut, Referer and UA kept.
	rm -f "$LOG"
	serve "GET /$(printf 'a%.0s' $(seq 10000)) HTTP/1.1\r\nHost: t\r\nReferer: http://r/\r\nUser-Agent: ua/1\r\nConnection: close\r\n\r\n" \
	    --access_log "$LOG" --max_request_line 16k
	grep -Eq '^127\.0\.0\.1 - - \[[^]]+\] "GET /a+\.\.\." 404 107 "http://r/" "ua/1"$' "$LOG"
	[ "$(wc -c <"$LOG")" -lt 4096 ]
}

@test "access log: 8 KiB Referer and User-Agent are cut too; status and bytes stay" {
	local big
	big=$(printf 'x%.0s' $(seq 8000))
	serve "GET /hello.txt HTTP/1.1\r\nHost: t\r\nReferer: $big\r\nUser-Agent: \x9b$big\r\nConnection: close\r\n\r\n" \
	    --access_log "$LOG" --max_header_size 64k
	run cat "$LOG"
	[ "${#lines[@]}" -eq 1 ]
	[ "${#output}" -lt 4096 ]
	grep -Eq '"GET /hello.txt HTTP/1.1" 200 13 "x+\.\.\." "\\x9bx+\.\.\."$' "$LOG"
}

@test "access log: goaccess reads a hostile run's log with 0 failed lines" {
	command -v goaccess >/dev/null || skip "goaccess not installed"
	local r
	for r in 'GET / HTTP/1.1\r\nHost: t\r\n\r\n' \
	    'GET /\x80\x9b\xff"\\ HTTP/1.1\r\nHost: t\r\n\r\n' \
	    "GET /$(printf 'A%.0s' $(seq 1100))$(printf '\\x80%.0s' $(seq 900)) HTTP/1.0\r\n\r\n" \
	    '\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03' \
	    'GET / HTTP/1.1\r\nHost: t\r\nUser-Agent: a"b\\c\r\nReferer: "\r\n\r\n' \
	    'GET / HTTP/9.9\r\n\r\n' 'BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n' \
	    'GET /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n' \
	    "GET /hello.txt HTTP/1.1\r\nHost: t\r\nUser-Agent: $(printf 'u%.0s' $(seq 9000))\r\n\r\n"; do
		serve "$r" --access_log "$LOG" --max_header_size 64k --header_timeout 1
	done
	[ "$(wc -l <"$LOG")" -ge 9 ]
	run bash -c 'goaccess "$1" --log-format=COMBINED --no-global-config -o json 2>/dev/null | python3 -c "import json,sys; g=json.load(sys.stdin)[\"general\"]; print(g[\"total_requests\"], g[\"failed_requests\"])"' _ "$LOG"
	[ "$status" -eq 0 ]
	[ "${output#* }" = 0 ]
}

# Issue 8, finding 8.
@test "error log: bytes >= 0x7f in a decoded path are escaped (no C1 controls, no DEL)" {
	serve 'GET /%9b%c2%9bx%7f%e2%80%8f HTTP/1.1\r\nHost: t\r\n\r\n' --error_log "$ELOG" \
	    --log_level 2
	run cat "$ELOG"
	[[ "$output" == *'/\x9b\xc2\x9bx\x7f\xe2\x80\x8f'* ]]
	run python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); sys.exit(any(c >= 0x7f or (c < 0x20 and c != 10) for c in d))' "$ELOG"
	[ "$status" -eq 0 ]
}
