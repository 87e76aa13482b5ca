# Shared by the bats files: run ihttpd through a pipe, or under tcpserver on
# a free loopback port.  Load with `load helpers`.

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
IHTTPD=${IHTTPD:-$ROOT/build/ihttpd}
export IHTTPD_FIXED_TIME=${IHTTPD_FIXED_TIME:-1795507200}   # golden Date
export IHTTPD_TEST=1	# the deterministic mode that honours it

if [ -d /usr/lib/bats/bats-support ]; then
	load /usr/lib/bats/bats-support/load
	load /usr/lib/bats/bats-assert/load
fi

# pipe_req 'RAW REQUEST with \r\n escapes' [ihttpd args...]
# Runs one piped connection; the response is in $output, status in $status.
pipe_req() {
	local req=$1
	shift
	run bash -c 'printf "%b" "$1" | "$2" "${@:3}" 2>/dev/null' _ "$req" \
	    "$IHTTPD" "$@"
}

# The status code of the first response in $output.
resp_status() {
	printf '%s' "$output" | head -1 | awk '{print $2}'
}

# Replace what changes between builds and runs: Date, Server, ETag,
# Last-Modified.
normalize() {
	sed -e 's/^Date: .*\r$/Date: DATE\r/' \
	    -e 's/^Server: ihttpd\/[^ \r]*/Server: ihttpd\/VERSION/' \
	    -e 's/^ETag: .*\r$/ETag: ETAG\r/' \
	    -e 's/^Last-Modified: .*\r$/Last-Modified: DATE\r/'
}

# A free TCP port on 127.0.0.1.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_tcpserver [ihttpd args...]: ihttpd under tcpserver on $PORT.
# Never without -H -R -l 0: tcpserver would look names up in DNS.
start_tcpserver() {
	PORT=$(free_port)
	TCPSERVER_LOG=$BATS_TEST_TMPDIR/tcpserver.log
	# -v: tcpserver logs "end PID status S" for every child (S is the
	# wait status), so stop_tcpserver can tell a crash from an exit.
	tcpserver -v -H -R -l 0 127.0.0.1 "$PORT" "$IHTTPD" "$@" \
	    >"$TCPSERVER_LOG" 2>&1 &
	TCPSERVER_PID=$!
	local i
	for i in $(seq 100); do
		if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),0.2).close()' "$PORT" 2>/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	echo "tcpserver did not start" >&2
	return 1
}

# stop_tcpserver: fails when a child was killed by a signal (a crash:
# SIGSEGV, SIGABRT from a sanitizer or the stack protector); then stops
# the children still running, then tcpserver, by pid.
stop_tcpserver() {
	local p crashed=
	if [ -n "${TCPSERVER_PID:-}" ]; then
		crashed=$(awk '$2 == "end" && $5 % 256 % 128 != 0 {
		    print "child " $3 " killed by signal " $5 % 128 }' \
		    "$TCPSERVER_LOG" 2>/dev/null)
		# a child may end between pgrep and kill: not a failure
		for p in $(pgrep -P "$TCPSERVER_PID"); do
			kill "$p" 2>/dev/null || true
		done
		kill "$TCPSERVER_PID" 2>/dev/null || true
		wait "$TCPSERVER_PID" 2>/dev/null || true
		TCPSERVER_PID=
	fi
	if [ -n "$crashed" ]; then
		echo "$crashed" >&2
		return 1
	fi
}

# raw_tcp 'RAW REQUEST' [timeout]: send bytes to $PORT, print the reply
# until the server closes (or the timeout, default 5 s, passes).
raw_tcp() {
	python3 - "$PORT" "$1" "${2:-5}" <<'PY'
import socket, sys, time
port, data, limit = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
data = data.encode('latin-1').decode('unicode_escape').encode('latin-1')
s = socket.create_connection(("127.0.0.1", port), 2)
s.sendall(data)
s.settimeout(limit)
out = b""
end = time.monotonic() + limit
try:
    while time.monotonic() < end:
        b = s.recv(65536)
        if not b:
            break
        out += b
except socket.timeout:
    pass
sys.stdout.write(out.decode('latin-1'))
PY
}

# For setup_file: put the real python3 first on PATH (a version-manager
# shim costs ~0.1 s a call) and test one snapshot of the binary, whatever
# `make` does meanwhile.
snapshot_binary() {
	local py
	py=$(python3 -c 'import sys; print(sys.executable)') || return 1
	mkdir -p "$BATS_FILE_TMPDIR/bin"
	ln -sf "$py" "$BATS_FILE_TMPDIR/bin/python3"
	export PATH="$BATS_FILE_TMPDIR/bin:$PATH"
	cp "${IHTTPD:-$BATS_TEST_DIRNAME/../build/ihttpd}" \
	    "$BATS_FILE_TMPDIR/ihttpd" || return 1
	export IHTTPD=$BATS_FILE_TMPDIR/ihttpd
}

# has REGEX / hasnt REGEX: some line of $output matches (or none does).
has() {
	grep -Eq -- "$1" <<<"$output" && return 0
	printf 'no line matches /%s/ in:\n%s\n' "$1" "$output" >&2
	return 1
}

hasnt() {
	grep -Eq -- "$1" <<<"$output" || return 0
	printf 'a line matches /%s/ in:\n%s\n' "$1" "$output" >&2
	return 1
}
