#!/usr/bin/env bats
# Golden request/response pairs through pipe mode.
#
# tests/fixtures/golden/NAME.req holds the raw request bytes (CRLF line
# ends, stored exactly); NAME.resp the exact response after `normalize`
# (Date, Server, ETag, Last-Modified); NAME.args, when present, extra
# command-line options on one line.  Every pair runs against
# tests/fixtures/test.conf from the repository root.  A new protocol case
# costs two files and one @test line below.

load helpers

GOLDEN=$ROOT/tests/fixtures/golden

setup_file() {
	snapshot_binary || return 1
}

setup() {
	cd "$ROOT"
	# Pipe mode must not pick up a launcher's addresses from the caller.
	unset TCPREMOTEIP TCPREMOTEPORT TCPLOCALIP TCPLOCALPORT
}

# golden NAME: run NAME.req through ihttpd and compare with NAME.resp
# byte for byte; on a difference show both sides with control bytes
# visible.
golden() {
	local name=$1 out=$BATS_TEST_TMPDIR/$1.out
	local -a args=()

	[ -f "$GOLDEN/$name.req" ] || fail "missing $GOLDEN/$name.req"
	[ -f "$GOLDEN/$name.resp" ] || fail "missing $GOLDEN/$name.resp"
	if [ -f "$GOLDEN/$name.args" ]; then
		read -ra args <"$GOLDEN/$name.args"
	fi
	"$IHTTPD" -c tests/fixtures/test.conf "${args[@]}" \
	    <"$GOLDEN/$name.req" 2>"$BATS_TEST_TMPDIR/stderr" |
	    normalize >"$out"
	if ! cmp -s "$GOLDEN/$name.resp" "$out"; then
		echo "response differs from $name.resp (- expected, + got):"
		diff -u <(cat -A "$GOLDEN/$name.resp") <(cat -A "$out") |
		    tail -n +3
		return 1
	fi
}

@test "every golden .req has a .resp and a test" {
	local f n
	for f in "$GOLDEN"/*.req; do
		n=$(basename "$f" .req)
		[ -f "$GOLDEN/$n.resp" ] || fail "$n.req has no $n.resp"
		grep -q "^@test \"golden: $n\" " "$BATS_TEST_FILENAME" ||
		    fail "$n.req has no @test"
	done
	for f in "$GOLDEN"/*.resp; do
		n=$(basename "$f" .resp)
		[ -f "$GOLDEN/$n.req" ] || fail "$n.resp has no $n.req"
	done
}

# Files, HEAD, errors of the file service.
@test "golden: get-file-http10" { golden get-file-http10; }
@test "golden: get-file-http11" { golden get-file-http11; }
@test "golden: get-root-index" { golden get-root-index; }
@test "golden: head-file" { golden head-file; }
@test "golden: head-handler" { golden head-handler; }
@test "golden: head-not-found" { golden head-not-found; }
@test "golden: not-found" { golden not-found; }
@test "golden: dotfile-404" { golden dotfile-404; }
@test "golden: dir-redirect-keeps-query" { golden dir-redirect-keeps-query; }
@test "golden: dir-index" { golden dir-index; }
@test "golden: dir-without-index-403" { golden dir-without-index-403; }
@test "golden: post-file-405" { golden post-file-405; }
@test "golden: put-file-405" { golden put-file-405; }
@test "golden: delete-file-405" { golden delete-file-405; }
@test "golden: options-file" { golden options-file; }
@test "golden: options-asterisk" { golden options-asterisk; }

# Request line and head syntax (RFC 9112 sections 3 and 5).
@test "golden: unknown-method-501" { golden unknown-method-501; }
@test "golden: http20-505" { golden http20-505; }
@test "golden: bad-protocol-400" { golden bad-protocol-400; }
@test "golden: missing-host-400" { golden missing-host-400; }
@test "golden: two-hosts-400" { golden two-hosts-400; }
@test "golden: obs-fold-400" { golden obs-fold-400; }
@test "golden: space-before-colon-400" { golden space-before-colon-400; }
@test "golden: bare-cr-400" { golden bare-cr-400; }
@test "golden: nul-in-target-400" { golden nul-in-target-400; }
@test "golden: nul-after-version-400" { golden nul-after-version-400; }
@test "golden: nul-in-header-400" { golden nul-in-header-400; }

# Message framing (RFC 9112 section 6).
@test "golden: cl-and-te-400" { golden cl-and-te-400; }
@test "golden: cl-conflict-400" { golden cl-conflict-400; }
@test "golden: cl-repeated-identical" { golden cl-repeated-identical; }
@test "golden: te-gzip-501" { golden te-gzip-501; }
@test "golden: te-chunked-not-final-400" { golden te-chunked-not-final-400; }
@test "golden: post-without-length-411" { golden post-without-length-411; }
@test "golden: expect-bogus-417" { golden expect-bogus-417; }
@test "golden: chunked-echo" { golden chunked-echo; }
@test "golden: expect-100-continue" { golden expect-100-continue; }

# The request-target path.
@test "golden: percent-decoded-path" { golden percent-decoded-path; }
@test "golden: percent-slash-400" { golden percent-slash-400; }
@test "golden: percent-nul-400" { golden percent-nul-400; }
@test "golden: dotdot-400" { golden dotdot-400; }
@test "golden: percent-dotdot-400" { golden percent-dotdot-400; }
@test "golden: absolute-form" { golden absolute-form; }
@test "golden: target-invalid-char-400" { golden target-invalid-char-400; }

# Connections: pipelining and persistence (RFC 9112 section 9).
@test "golden: pipelined" { golden pipelined; }
@test "golden: keepalive-http10" { golden keepalive-http10; }
@test "golden: keepalive-http11-close" { golden keepalive-http11-close; }

# Built-in redirect and the handlers.
@test "golden: redirect-url-prefix" { golden redirect-url-prefix; }
@test "golden: redirect-url-prefix-root" { golden redirect-url-prefix-root; }
@test "golden: redirect-url-302" { golden redirect-url-302; }
@test "golden: redirect-not-prefix" { golden redirect-not-prefix; }
@test "golden: hello" { golden hello; }
@test "golden: hello-default" { golden hello-default; }
@test "golden: env" { golden env; }
@test "golden: news" { golden news; }

# Limits (each .args lowers one).
# Request bodies: strict chunked framing, unread bodies, Expect.
@test "golden: chunked-lenient-400" { golden chunked-lenient-400; }
@test "golden: get-chunked-body-keepalive" { golden get-chunked-body-keepalive; }
@test "golden: get-chunked-malformed-400" { golden get-chunked-malformed-400; }
@test "golden: expect-405-closes" { golden expect-405-closes; }
@test "golden: head-malformed-400" { golden head-malformed-400; }
@test "golden: request-line-414" { golden request-line-414; }
@test "golden: head-size-431" { golden head-size-431; }
@test "golden: header-count-431" { golden header-count-431; }
@test "golden: body-413" { golden body-413; }
@test "golden: request-line-at-limit" { golden request-line-at-limit; }
@test "golden: head-size-at-limit" { golden head-size-at-limit; }
@test "golden: header-count-at-limit" { golden header-count-at-limit; }

@test "a request line over the default max_request_line (8k) gets 414" {
	local target
	target=/$(head -c 9000 /dev/zero | tr '\0' a)
	pipe_req "GET $target HTTP/1.1\r\nHost: test.example\r\n\r\n" \
	    -c tests/fixtures/test.conf
	[ "$(resp_status)" = 414 ]
}

@test "a request line that arrives in pieces past max_request_line gets 414" {
	run bash -c '{ printf "GET /%0100d" 0; sleep 0.3;
	    printf " HTTP/1.1\r\nHost: a\r\n\r\n"; } |
	    "$1" -c tests/fixtures/test.conf --max_request_line 64 2>/dev/null' \
	    _ "$IHTTPD"
	[ "$(resp_status)" = 414 ]
}

@test "the server exits 0 after a piped connection" {
	run bash -c '"$1" -c tests/fixtures/test.conf \
	    <"$2/get-file-http11.req" >/dev/null 2>&1' _ "$IHTTPD" "$GOLDEN"
	assert_success
}

@test "a terminal on standard input gets a one-line hint at once, then is served" {
	run python3 - "$IHTTPD" <<'PY'
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "-c", "tests/fixtures/test.conf",
                           "--header_timeout", "5"])
def read_for(secs, out=b""):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                b = os.read(fd, 4096)
            except OSError:
                break
            if not b:
                break
            out += b
    return out
first = read_for(0.7)
os.write(fd, b"GET /hello HTTP/1.0\r\n\r\n")
rest = read_for(3)
os.waitpid(pid, 0)
print("FIRST", first.decode(errors="replace").strip())
print("REST", b"Hello from the tests!" in rest)
PY
	[ "$status" -eq 0 ]
	has '^FIRST ihttpd: reading a request from the terminal'
	has '^REST True$'
}

@test "IHTTPD_FIXED_TIME without IHTTPD_TEST=1 is ignored with a warning (expiry keeps running)" {
	run bash -c 'printf "GET /hello HTTP/1.0\r\n\r\n" | env -u IHTTPD_TEST IHTTPD_FIXED_TIME=1000000000 "$1" -c tests/fixtures/test.conf --log_level 1 2>&1' _ "$IHTTPD"
	has 'warning: IHTTPD_FIXED_TIME is set but IHTTPD_TEST=1 is not: ignored'
	hasnt '^Date: Sun, 09 Sep 2001'
	run bash -c 'printf "GET /hello HTTP/1.0\r\n\r\n" | IHTTPD_TEST=1 IHTTPD_FIXED_TIME=1000000000 "$1" -c tests/fixtures/test.conf 2>&1' _ "$IHTTPD"
	has $'^Date: Sun, 09 Sep 2001 01:46:40 GMT\r$'
	hasnt 'warning'
}
