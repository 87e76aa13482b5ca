#!/usr/bin/env bats
# The handlers in handlers/: hello, env, news, echo, driven through pipe
# mode with tests/fixtures/test.conf (or a config written per test).

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
	snapshot_binary || return 1
}

setup() {
	cd "$ROOT"
	unset TCPREMOTEIP TCPREMOTEPORT TCPLOCALIP TCPLOCALPORT
	CONF=tests/fixtures/test.conf
}

# req 'RAW REQUEST with \r\n escapes' [args]: pipe_req with the test config.
req() {
	local r=$1
	shift
	pipe_req "$r" -c "$CONF" "$@"
}

# The part of $output between two lines (exclusive): section START END.
section() {
	printf '%s\n' "$output" | sed -n "/$1/,/$2/p" | sed '1d;$d'
}

# raw_file IN OUT [args]: the bytes of file IN through ihttpd into OUT.
raw_file() {
	local in=$1 out=$2
	shift 2
	"$IHTTPD" -c "$CONF" "$@" <"$in" >"$out" 2>"$BATS_TEST_TMPDIR/stderr"
}

# split_resp FILE: take the first response in FILE apart, checking its
# framing.  FILE.head gets the status line and fields, FILE.body the
# content (de-chunked), FILE.rest what follows; FILE.framing says
# "length N", "chunked" or "close".  Fails on framing errors.
split_resp() {
	python3 - "$1" <<'PY'
import sys
f = sys.argv[1]
d = open(f, 'rb').read()
head, sep, rest = d.partition(b'\r\n\r\n')
assert sep, 'no end of head'
fields = {}
for line in head.split(b'\r\n')[1:]:
    k, _, v = line.partition(b':')
    k = k.strip().lower()
    assert k not in fields, 'repeated field %r' % k
    fields[k] = v.strip()
te, cl = fields.get(b'transfer-encoding'), fields.get(b'content-length')
assert not (te and cl), 'Content-Length with Transfer-Encoding'
if te is not None:
    assert te == b'chunked', te
    body, p = b'', 0
    while True:
        e = rest.index(b'\r\n', p)
        size = int(rest[p:e].split(b';')[0], 16)
        p = e + 2
        if size == 0:
            break
        body += rest[p:p + size]
        p += size
        assert rest[p:p + 2] == b'\r\n', 'no CRLF after chunk data'
        p += 2
    assert rest[p:p + 2] == b'\r\n', 'no CRLF after the last chunk'
    rest, framing = rest[p + 2:], 'chunked'
elif cl is not None:
    n = int(cl)
    assert len(rest) >= n, 'body shorter than Content-Length'
    body, rest, framing = rest[:n], rest[n:], 'length %d' % n
else:
    body, rest, framing = rest, b'', 'close'
open(f + '.head', 'wb').write(head + sep)
open(f + '.body', 'wb').write(body)
open(f + '.rest', 'wb').write(rest)
open(f + '.framing', 'w').write(framing + '\n')
PY
}

# Deterministic binary content of N bytes (every byte value, CR, LF, NUL).
make_body() {
	python3 -c 'import sys; n = int(sys.argv[1]); sys.stdout.buffer.write(bytes((i * 7 + i // 256) % 256 for i in range(n)))' "$1"
}

# chunk_file IN SIZE: IN as a chunked body, chunks of SIZE bytes.
chunk_file() {
	python3 - "$1" "$2" <<'PY'
import sys
d, n = open(sys.argv[1], 'rb').read(), int(sys.argv[2])
out = b''
for i in range(0, len(d), n):
    c = d[i:i + n]
    out += b'%x\r\n' % len(c) + c + b'\r\n'
sys.stdout.buffer.write(out + b'0\r\n\r\n')
PY
}

# ---- hello -----------------------------------------------------------

@test "hello: the greeting comes from the directive argument" {
	req 'GET /hello HTTP/1.1\r\nHost: t\r\n\r\n'
	assert_success
	[ "$(resp_status)" = 200 ]
	assert_output --partial $'Content-Type: text/plain; charset=utf-8\r'
	assert_output --partial $'Content-Length: 22\r'
	[ "$(printf '%s' "$output" | tail -1)" = "Hello from the tests!" ]
}

@test "hello: the default greeting without an argument" {
	req 'GET /hello-default HTTP/1.1\r\nHost: t\r\n\r\n'
	[ "$(resp_status)" = 200 ]
	[ "$(printf '%s' "$output" | tail -1)" = "Hello, world!" ]
}

@test "hello: a greeting with quotes and spaces from a config" {
	local c=$BATS_TEST_TMPDIR/hello.conf
	cat >"$c" <<'EOF'
docroot tests/fixtures/www
access_log off
<Object path="/hi">
  Service fn=hello greeting="Say \"hi\" to  everyone"
</Object>
EOF
	CONF=$c req 'GET /hi HTTP/1.0\r\n\r\n'
	[ "$(printf '%s' "$output" | tail -1)" = 'Say "hi" to  everyone' ]
}

@test "hello: HEAD gets the GET headers and no body" {
	req 'HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n'
	assert_output --partial $'Content-Length: 22\r'
	refute_output --partial "Hello from the tests!"
}

# ---- env -------------------------------------------------------------

@test "env: hostile header values are HTML-escaped" {
	req 'GET /env HTTP/1.1\r\nHost: t\r\nUser-Agent: <script>alert("x")</script>\r\nX-Amp: a&b '"'"'q'"'"'\r\n\r\n'
	[ "$(resp_status)" = 200 ]
	assert_output --partial $'Content-Type: text/html; charset=utf-8\r'
	refute_output --partial "<script>"
	assert_output --partial '<tr><th>User-Agent</th><td>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</td></tr>'
	assert_output --partial '<tr><th>X-Amp</th><td>a&amp;b &#39;q&#39;</td></tr>'
}

@test "env: hostile parameter names and values are decoded, then escaped" {
	req 'GET /env?x=%3Cscript%3Ealert(1)%3C%2Fscript%3E&%3Cimg%3E=%22%27+%26 HTTP/1.1\r\nHost: t\r\n\r\n'
	[ "$(resp_status)" = 200 ]
	refute_output --partial "<script>"
	refute_output --partial "<img>"
	run section '<h2>Parameters<\/h2>' '<\/table>'
	assert_output --partial '<tr><th>x</th><td>&lt;script&gt;alert(1)&lt;/script&gt;</td></tr>'
	assert_output --partial '<tr><th>&lt;img&gt;</th><td>&quot;&#39; &amp;</td></tr>'
}

@test "env: the raw query in REQUEST_URI and QUERY_STRING is escaped too" {
	req 'GET /env?a=1&b=%22&c='"'"'x'"'"' HTTP/1.1\r\nHost: t\r\n\r\n'
	[ "$(resp_status)" = 200 ]
	assert_output --partial '<tr><th>QUERY_STRING</th><td>a=1&amp;b=%22&amp;c=&#39;x&#39;</td></tr>'
	assert_output --partial '<tr><th>REQUEST_URI</th><td>/env?a=1&amp;b=%22&amp;c=&#39;x&#39;</td></tr>'
}

@test "env: ?REMOTE_USER=admin does not set the REMOTE_USER variable" {
	req 'GET /env?REMOTE_USER=admin&AUTH_TYPE=Basic HTTP/1.1\r\nHost: t\r\nREMOTE_USER: admin\r\n\r\n'
	[ "$(resp_status)" = 200 ]
	local all=$output
	run section '<h2>Variables<\/h2>' '<h2>Headers<\/h2>'
	assert_output --partial '<tr><th>REQUEST_METHOD</th><td>GET</td></tr>'
	refute_output --partial '<tr><th>REMOTE_USER</th>'
	refute_output --partial '<tr><th>AUTH_TYPE</th>'
	output=$all
	run section '<h2>Parameters<\/h2>' '<\/table>'
	assert_output --partial '<tr><th>REMOTE_USER</th><td>admin</td></tr>'
}

@test "env: the variables of a pipe connection" {
	req 'GET /env?q=1 HTTP/1.0\r\nHost: www.test:8080\r\n\r\n' \
	    --remote_addr 10.1.2.3
	run section '<h2>Variables<\/h2>' '<h2>Headers<\/h2>'
	assert_output --partial '<tr><th>REMOTE_ADDR</th><td>10.1.2.3</td></tr>'
	assert_output --partial '<tr><th>SERVER_NAME</th><td>www.test</td></tr>'
	assert_output --partial '<tr><th>SERVER_PROTOCOL</th><td>HTTP/1.0</td></tr>'
	assert_output --partial '<tr><th>SCRIPT_NAME</th><td>/env</td></tr>'
	assert_output --partial '<tr><th>QUERY_STRING</th><td>q=1</td></tr>'
}

@test "env: cookie names are shown, their values never (HttpOnly stays meaningful)" {
	req 'GET /env HTTP/1.1\r\nHost: t\r\nCookie: ihttpd_session=SECRETxSESSIONxID; theme=<b>dark\r\nCookie: a=1\r\n\r\n'
	[ "$(resp_status)" = 200 ]
	refute_output --partial SECRETxSESSIONxID
	refute_output --partial dark
	assert_output --partial '<tr><th>Cookie</th><td>ihttpd_session=(hidden); theme=(hidden)</td></tr>'
	assert_output --partial '<tr><th>Cookie</th><td>a=(hidden)</td></tr>'
}

# ---- news ------------------------------------------------------------

@test "news: shows the decoded path and the pattern, escaped" {
	req 'GET /dir/%3Cb%3Ebold%26.news HTTP/1.1\r\nHost: t\r\n\r\n'
	[ "$(resp_status)" = 200 ]
	refute_output --partial "<b>"
	assert_output --partial '<h1>Test &lt;news&gt; &amp; more</h1>'
	assert_output --partial 'You asked for <code>/dir/&lt;b&gt;bold&amp;.news</code>, matched by the pattern <code>\.news$</code>.'
}

@test "news: a pattern with markup is escaped; the default title" {
	local c=$BATS_TEST_TMPDIR/news.conf
	cat >"$c" <<'EOF'
docroot tests/fixtures/www
access_log off
<Object regex="<i>[a-z]+\.news$">
  Service fn=news
</Object>
EOF
	CONF=$c req 'GET /%3Ci%3Eabc.news HTTP/1.0\r\n\r\n'
	[ "$(resp_status)" = 200 ]
	assert_output --partial '<h1>News</h1>'
	assert_output --partial 'You asked for <code>/&lt;i&gt;abc.news</code>, matched by the pattern <code>&lt;i&gt;[a-z]+\.news$</code>.'
	CONF=$c req 'GET /x.news HTTP/1.0\r\n\r\n'
	[ "$(resp_status)" = 404 ]
}

@test "news: a path not ending in .news is not the handler's" {
	req 'GET /x.newsy HTTP/1.1\r\nHost: t\r\n\r\n'
	[ "$(resp_status)" = 404 ]
}

# ---- echo ------------------------------------------------------------

@test "echo: a binary body comes back byte for byte, as octet-stream" {
	local d=$BATS_TEST_TMPDIR
	make_body 3000 >"$d/body"
	{
		printf 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/html\r\nContent-Length: 3000\r\n\r\n'
		cat "$d/body"
	} >"$d/req"
	raw_file "$d/req" "$d/out"
	split_resp "$d/out"
	grep -q $'^HTTP/1.1 200 OK\r$' "$d/out.head"
	[ "$(cat "$d/out.framing")" = "length 3000" ]
	cmp "$d/body" "$d/out.body"
	# Never the client's type (a reflected text/html page), and nosniff.
	grep -q $'^Content-Type: application/octet-stream\r$' "$d/out.head"
	grep -q $'^X-Content-Type-Options: nosniff\r$' "$d/out.head"
	! grep -q 'text/html' "$d/out.head"
}

@test "echo: no Content-Type in the request gives application/octet-stream" {
	req 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi'
	assert_output --partial $'Content-Type: application/octet-stream\r'
	assert_output --partial $'X-Content-Type-Options: nosniff\r'
}

@test "echo: an empty body" {
	req 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n'
	[ "$(resp_status)" = 200 ]
	assert_output --partial $'Content-Length: 0\r'
}

@test "echo: a chunked body over 16 KiB comes back chunked for HTTP/1.1" {
	local d=$BATS_TEST_TMPDIR
	make_body 40000 >"$d/body"
	{
		printf 'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n'
		chunk_file "$d/body" 5000
		printf 'GET /hello HTTP/1.1\r\nHost: t\r\n\r\n'
	} >"$d/req"
	raw_file "$d/req" "$d/out"
	split_resp "$d/out"
	grep -q $'^HTTP/1.1 200 OK\r$' "$d/out.head"
	[ "$(cat "$d/out.framing")" = chunked ]
	cmp "$d/body" "$d/out.body"
	# The connection stays usable: the pipelined request is answered.
	split_resp "$d/out.rest"
	grep -q $'^HTTP/1.1 200 OK\r$' "$d/out.rest.head"
	[ "$(cat "$d/out.rest.body")" = "Hello from the tests!" ]
}

@test "echo: a Content-Length body over 16 KiB comes back chunked for HTTP/1.1" {
	local d=$BATS_TEST_TMPDIR
	make_body 20000 >"$d/body"
	{
		printf 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 20000\r\n\r\n'
		cat "$d/body"
	} >"$d/req"
	raw_file "$d/req" "$d/out"
	split_resp "$d/out"
	[ "$(cat "$d/out.framing")" = chunked ]
	cmp "$d/body" "$d/out.body"
}

@test "echo: a body over 16 KiB comes back close-delimited for HTTP/1.0" {
	local d=$BATS_TEST_TMPDIR
	make_body 40000 >"$d/body"
	{
		printf 'POST /echo HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 40000\r\n\r\n'
		cat "$d/body"
		printf 'GET /hello HTTP/1.0\r\n\r\n'
	} >"$d/req"
	raw_file "$d/req" "$d/out"
	split_resp "$d/out"
	grep -q $'^HTTP/1.1 200 OK\r$' "$d/out.head"
	grep -q $'^Connection: close\r$' "$d/out.head"
	! grep -qi '^Content-Length:' "$d/out.head"
	! grep -qi '^Transfer-Encoding:' "$d/out.head"
	[ "$(cat "$d/out.framing")" = close ]
	# Close-delimited: the body is all that follows, nothing after it.
	cmp "$d/body" "$d/out.body"
}

@test "echo: a malformed chunked body gets 400 and the connection closes" {
	req 'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n'
	[ "$(resp_status)" = 400 ]
	assert_output --partial $'Connection: close\r'
	refute_output --partial "Hello from the tests!"
}

@test "echo: a chunked body over max_body gets 413" {
	req 'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n' \
	    --max_body 10
	[ "$(resp_status)" = 413 ]
	assert_output --partial $'Connection: close\r'
}

@test "echo: a body cut short gets 400" {
	req 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc'
	[ "$(resp_status)" = 400 ]
}
