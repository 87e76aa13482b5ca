#!/usr/bin/env bats
# What ihttpd keeps so that a request costs only what it uses, seen from
# outside: the parsed config kept in datadir/cache for the next process
# (an edit is always seen at once), the mime.types index, and the
# open-file cache of a kept-alive connection (file_cache_valid), which
# never serves a replaced or removed file past its validity.

load helpers

setup_file() {
	snapshot_binary || return 1
}

setup() {
	cd "$ROOT"
	unset TCPREMOTEIP TCPREMOTEPORT TCPLOCALIP TCPLOCALPORT
	W=$BATS_TEST_TMPDIR/www
	D=$BATS_TEST_TMPDIR/data
	mkdir -p "$W"
	printf 'hello\n' >"$W/a.txt"
}

teardown() {
	stop_tcpserver
}

# A position-independent build (make STATIC=0, make asan) keeps no config.
needs_config_cache() {
	readelf -h "$IHTTPD" 2>/dev/null | grep -q 'Type: *EXEC' ||
	    skip "a position-independent build keeps no config (cfgcache.c)"
}

get() {	# get PATH ARG...: one GET through pipe mode, the response on stdout
	local path=$1
	shift
	printf 'GET %s HTTP/1.0\r\nHost: t\r\n\r\n' "$path" |
	    "$IHTTPD" --datadir "$D" "$@" 2>"$BATS_TEST_TMPDIR/err"
}

@test "config cache: kept after a parse, 0600, and mapped by the next start with the same arguments" {
	needs_config_cache
	printf 'docroot %s\nserver_tokens one\n' "$W" >"$BATS_TEST_TMPDIR/c.conf"
	sleep 2.1	# a file changed in the last 2 s is not kept yet
	run get /a.txt -c "$BATS_TEST_TMPDIR/c.conf"
	[[ $output == *"Server: ihttpd/"*" one"* ]]
	run bash -c "ls $D/cache/config-*"
	[ "$status" -eq 0 ]
	[ "$(stat -c %a "$output")" = 600 ]
	run get /a.txt -c "$BATS_TEST_TMPDIR/c.conf" --debug INIT
	run get /a.txt -c "$BATS_TEST_TMPDIR/c.conf" --debug INIT
	grep -q "config: from $D/cache/config-" "$BATS_TEST_TMPDIR/err"
	[[ $output == *" one"* ]]
}

@test "config cache: an edit of the same size, at once, is seen by the next request" {
	local i
	printf 'docroot %s\nserver_tokens aaaa\n' "$W" >"$BATS_TEST_TMPDIR/c.conf"
	sleep 2.1
	run get /a.txt -c "$BATS_TEST_TMPDIR/c.conf"
	[[ $output == *" aaaa"$'\r'* ]]
	run get /a.txt -c "$BATS_TEST_TMPDIR/c.conf"
	[[ $output == *" aaaa"$'\r'* ]]
	for i in b c d e; do
		printf 'docroot %s\nserver_tokens %s%s%s%s\n' "$W" $i $i $i $i \
		    >"$BATS_TEST_TMPDIR/c.conf"
		run get /a.txt -c "$BATS_TEST_TMPDIR/c.conf"
		[[ $output == *" $i$i$i$i"$'\r'* ]] || fail "edit to $i not seen: $output"
	done
}

@test "config cache: an error is reported every time, never kept" {
	printf 'docroot %s\nnosuchkey 1\n' "$W" >"$BATS_TEST_TMPDIR/c.conf"
	sleep 2.1
	run get /a.txt -c "$BATS_TEST_TMPDIR/c.conf"
	[ "$status" -ne 0 ]
	run get /a.txt -c "$BATS_TEST_TMPDIR/c.conf"
	[ "$status" -ne 0 ]
	grep -q "unknown key 'nosuchkey'" "$BATS_TEST_TMPDIR/err"
	run bash -c "ls $D/cache/config-* 2>/dev/null"
	[ -z "$output" ]
}

@test "config cache: a damaged or foreign snapshot is parsed over, and --check always parses" {
	needs_config_cache
	local f
	printf 'docroot %s\nserver_tokens kept\n' "$W" >"$BATS_TEST_TMPDIR/c.conf"
	sleep 2.1
	get /a.txt -c "$BATS_TEST_TMPDIR/c.conf" >/dev/null
	f=$(ls "$D"/cache/config-*)
	# garbage of the same size, replaced as a writer would
	head -c "$(stat -c %s "$f")" /dev/urandom >"$f.new"
	chmod 600 "$f.new"
	mv "$f.new" "$f"
	run get /a.txt -c "$BATS_TEST_TMPDIR/c.conf"
	[[ $output == *" kept"$'\r'* ]]
	chmod 666 "$f"
	run get /a.txt -c "$BATS_TEST_TMPDIR/c.conf" --debug INIT
	run get /a.txt -c "$BATS_TEST_TMPDIR/c.conf" --debug INIT
	[[ $output == *" kept"$'\r'* ]]
	run "$IHTTPD" -c "$BATS_TEST_TMPDIR/c.conf" --datadir "$D" --check
	[ "$status" -eq 0 ]
	[[ $output == *"configuration OK"* ]]
}

@test "config cache: at most 32 snapshots are kept" {
	needs_config_cache
	local i
	printf 'docroot %s\n' "$W" >"$BATS_TEST_TMPDIR/c.conf"
	sleep 2.1
	for i in $(seq 40); do
		get /a.txt -c "$BATS_TEST_TMPDIR/c.conf" --server_tokens "t$i" >/dev/null
	done
	[ "$(ls "$D"/cache/config-* | wc -l)" -le 32 ]
	run get /a.txt -c "$BATS_TEST_TMPDIR/c.conf" --server_tokens t40
	[[ $output == *" t40"$'\r'* ]]
}

@test "mimetypes: a named file is indexed in datadir/cache and an edit is seen" {
	printf 'application/x-first\tfoo\ntext/x-second\tfoo bar\n' >"$BATS_TEST_TMPDIR/m.types"
	printf 'x\n' >"$W/f.foo"
	printf 'x\n' >"$W/f.bar"
	sleep 2.1
	run get /f.foo --docroot "$W" --mimetypes "$BATS_TEST_TMPDIR/m.types"
	[[ $output == *"Content-Type: application/x-first"* ]]
	run bash -c "ls $D/cache/mime-*"
	[ "$status" -eq 0 ]
	run get /f.bar --docroot "$W" --mimetypes "$BATS_TEST_TMPDIR/m.types"
	[[ $output == *"Content-Type: text/x-second"* ]]
	printf 'application/x-edited\tfoo\n' >"$BATS_TEST_TMPDIR/m.types"
	run get /f.foo --docroot "$W" --mimetypes "$BATS_TEST_TMPDIR/m.types"
	[[ $output == *"Content-Type: application/x-edited"* ]]
	run get /f.bar --docroot "$W" --mimetypes "$BATS_TEST_TMPDIR/m.types"
	[[ $output == *"Content-Type: application/octet-stream"* ]]
}

@test "mimetypes unset: the built-in table from conf/mime.types" {
	printf 'x\n' >"$W/p.css"
	printf 'x\n' >"$W/p.svg"
	run get /p.css --docroot "$W"
	[[ $output == *"Content-Type: text/css"* ]]
	run get /p.svg --docroot "$W"
	[[ $output == *"Content-Type: image/svg+xml"* ]]
}

# ka CLIENT-SCRIPT: python3 with http.client on one kept-alive connection
ka() {
	python3 - "$PORT" "$W" <<EOF
import http.client, os, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
w = sys.argv[2]
def get(p):
    c.request("GET", p)
    r = c.getresponse()
    return r.status, r.read()
$1
EOF
}

@test "open-file cache: a file replaced or removed is served new, or 404, once file_cache_valid has passed" {
	start_tcpserver --docroot "$W" --datadir "$D" --file_cache_valid 1
	run ka '
print(get("/a.txt"))
with open(w + "/a.txt.new", "w") as f: f.write("replaced\n")
os.rename(w + "/a.txt.new", w + "/a.txt")
time.sleep(1.3)
print(get("/a.txt"))
os.unlink(w + "/a.txt")
time.sleep(1.3)
print(get("/a.txt")[0])
'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "(200, b'hello\\n')" ]
	[ "${lines[1]}" = "(200, b'replaced\\n')" ]
	[ "${lines[2]}" = "404" ]
}

@test "open-file cache: file_cache_valid 0 opens the path every time" {
	start_tcpserver --docroot "$W" --datadir "$D" --file_cache_valid 0
	run ka '
print(get("/a.txt"))
with open(w + "/a.txt.new", "w") as f: f.write("replaced\n")
os.rename(w + "/a.txt.new", w + "/a.txt")
print(get("/a.txt"))
os.chmod(w + "/a.txt", 0)
print(get("/a.txt")[0])
'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "(200, b'hello\\n')" ]
	[ "${lines[1]}" = "(200, b'replaced\\n')" ]
	# root reads a mode-0 file; anyone else gets 403
	[[ "${lines[2]}" = 200 || "${lines[2]}" = 403 ]]
}

@test "open-file cache: the bytes sent are read when sent; a file cut short in place is a 500 once, then right" {
	printf '0123456789\n' >"$W/b.txt"
	start_tcpserver --docroot "$W" --datadir "$D" --file_cache_valid 60
	run ka '
print(get("/b.txt"))
with open(w + "/b.txt", "r+") as f: f.write("ABCDEFGHIJ\n")
print(get("/b.txt"))
with open(w + "/b.txt", "w") as f: f.write("short\n")
print(get("/b.txt")[0])
print(get("/b.txt"))
'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "(200, b'0123456789\\n')" ]
	[ "${lines[1]}" = "(200, b'ABCDEFGHIJ\\n')" ]
	[ "${lines[2]}" = "500" ]
	[ "${lines[3]}" = "(200, b'short\\n')" ]
}

@test "open-file cache: validators and types stay right across requests for different files" {
	printf 'body{}\n' >"$W/s.css"
	start_tcpserver --docroot "$W" --datadir "$D"
	run ka '
for p in ["/a.txt", "/s.css", "/a.txt", "/s.css"]:
    c.request("GET", p)
    r = c.getresponse(); r.read()
    print(p, r.status, r.getheader("Content-Type"), r.getheader("Content-Length"), r.getheader("ETag") is not None)
c.request("GET", "/a.txt")
r = c.getresponse(); r.read(); et = r.getheader("ETag")
c.request("GET", "/a.txt", headers={"If-None-Match": et})
r = c.getresponse(); r.read(); print(r.status)
'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "/a.txt 200 text/plain 6 True" ]
	[ "${lines[1]}" = "/s.css 200 text/css 7 True" ]
	[ "${lines[2]}" = "/a.txt 200 text/plain 6 True" ]
	[ "${lines[3]}" = "/s.css 200 text/css 7 True" ]
	[ "${lines[4]}" = "304" ]
}

@test "pipe mode asks nothing of a pipe that only a socket could answer" {
	command -v strace >/dev/null || skip "no strace"
	# (LeakSanitizer refuses to run under ptrace: its exit status is not
	# the point here, the calls made are)
	printf 'GET /a.txt HTTP/1.0\r\n\r\n' | ASAN_OPTIONS=detect_leaks=0 \
	    strace -f -o "$BATS_TEST_TMPDIR/st" "$IHTTPD" --docroot "$W" \
	    --datadir "$D" >"$BATS_TEST_TMPDIR/out" 2>/dev/null || true
	grep -q '^HTTP/1.1 200 OK' "$BATS_TEST_TMPDIR/out"
	run grep -E 'getpeername|getsockname|SO_ACCEPTCONN|ioctl\(0, TCGETS' "$BATS_TEST_TMPDIR/st"
	[ "$status" -ne 0 ]
}

@test "config cache: a config reached through a symbolic link follows the link when it is moved" {
	needs_config_cache
	printf 'docroot %s\nserver_tokens AAAA\n' "$W" >"$BATS_TEST_TMPDIR/a.conf"
	printf 'docroot %s\nserver_tokens BBBB\n' "$W" >"$BATS_TEST_TMPDIR/b.conf"
	ln -s a.conf "$BATS_TEST_TMPDIR/cur.conf"
	sleep 2.1
	run get /a.txt -c "$BATS_TEST_TMPDIR/cur.conf"
	run get /a.txt -c "$BATS_TEST_TMPDIR/cur.conf"
	[[ $output == *" AAAA"$'\r'* ]]
	ln -sfn b.conf "$BATS_TEST_TMPDIR/cur.conf"
	run get /a.txt -c "$BATS_TEST_TMPDIR/cur.conf"
	[[ $output == *" BBBB"$'\r'* ]]
	run get /a.txt -c "$BATS_TEST_TMPDIR/cur.conf"
	[[ $output == *" BBBB"$'\r'* ]]
}

@test "config cache: the datadir is found in argv as the option parser pairs options and values" {
	mkdir "$BATS_TEST_TMPDIR/cwd"
	cd "$BATS_TEST_TMPDIR/cwd"
	printf 'GET /a.txt HTTP/1.0\r\n\r\n' |
	    "$IHTTPD" --datadir "$D" --server_tokens --datadir --docroot "$W" >"$BATS_TEST_TMPDIR/out" 2>/dev/null
	grep -q 'Server: ihttpd/[^ ]* --datadir' "$BATS_TEST_TMPDIR/out"
	[ ! -e "$BATS_TEST_TMPDIR/cwd/--docroot" ]
	[ ! -e "$BATS_TEST_TMPDIR/cwd/--datadir" ]
}

@test "a config of 6,000 objects (330 KB) still loads, and is cached" {
	awk -v w="$W" 'BEGIN { print "docroot " w
		for (i = 0; i < 6000; i++)
			printf "<Object ppath=\"/p%d\">\n  Service fn=hello greeting=\"n%d\"\n</Object>\n", i, i }' \
	    >"$BATS_TEST_TMPDIR/big.conf"
	run "$IHTTPD" -c "$BATS_TEST_TMPDIR/big.conf" --datadir "$D" --check
	[ "$status" -eq 0 ]
	sleep 2.1
	run get /p5999/x -c "$BATS_TEST_TMPDIR/big.conf"
	[[ $output == *"n5999"* ]]
	run get /p17 -c "$BATS_TEST_TMPDIR/big.conf"
	[[ $output == *"n17"* ]]
	run get /a.txt -c "$BATS_TEST_TMPDIR/big.conf"
	[[ $output == *"hello"* ]]
}
