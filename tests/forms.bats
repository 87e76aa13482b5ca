#!/usr/bin/env bats
# Parameters and request bodies: urlencoded forms (query and body, in
# order), the parameter table kept apart from the variables, malformed
# escapes, max_form / max_field / max_body, streaming multipart through
# /upload (50 MiB, size and SHA-256, peak RSS), raw and chunked bodies,
# Expect: 100-continue and 417, multipart errors, client file names, and
# spooled files: unnamed, close-on-exec, in datadir/uploads, none left.
# curl and Python through tcpserver on 127.0.0.1 (teardown stops it by
# pid), and pipe mode.

load helpers
load fixtures/forms/common

MP=$BATS_TEST_DIRNAME/fixtures/forms/mp.py

setup_file() {
	snapshot_binary || return 1
	# One 50 MiB random file for the big uploads, and a 2 MiB one.
	head -c 50M /dev/urandom >"$BATS_FILE_TMPDIR/big" || return 1
	head -c 2M /dev/urandom >"$BATS_FILE_TMPDIR/f2m" || return 1
}

setup() {
	cd "$ROOT" || return 1
	T=$BATS_TEST_TMPDIR
	F=$BATS_FILE_TMPDIR
	D=$T/data
	CONF=$T/forms.conf
	write_forms_conf
}

# st CURL-ARGS...: the status code curl got.
st() {
	curl -s --max-time 20 -o /dev/null -w '%{http_code}' "$@"
}

# piped FILE [ihttpd args]: a raw request file through pipe mode; the
# response in $output, ihttpd's exit status in $status, stderr in $T/stderr.
piped() {
	local f=$1
	shift
	run bash -c '"$1" -c "$2" "${@:5}" <"$3" 2>"$4"' _ "$IHTTPD" "$CONF" \
	    "$f" "$T/stderr" "$@"
}

# The Parameters table of an /env page in $output, as "name=value" lines.
params() {
	sed -n '/<h2>Parameters/,/<\/table>/p' <<<"$output" |
	    sed -n 's|^<tr><th>\(.*\)</th><td>\(.*\)</td></tr>$|\1=\2|p'
}

# "SIZE SHA256" of a file.
size_sum() {
	printf '%s %s\n' "$(stat -c %s "$1")" "$(sha256sum <"$1" | cut -c1-64)"
}

# ---- urlencoded: query and body, in order ------------------------------------

@test "curl -d to /env: query then body parameters, repeated names in order, '+' and %XX decoded" {
	srv
	run curl -s --max-time 5 \
	    --data-raw 'a=2&name=J%C3%B6rg+Doe&a=3&empty=&flag&pct=100%25&sp=%20x+y' \
	    "$(url '/env?a=1&q=x+y%21&a=%41')"
	run params
	[ "$output" = "$(printf '%s\n' 'a=1' 'q=x y!' 'a=A' 'a=2' \
	    'name=Jörg Doe' 'a=3' 'empty=' 'flag=' 'pct=100%' 'sp= x y')" ]
}

@test "a parameter never sets REMOTE_USER: query, urlencoded body and multipart field" {
	srv
	run curl -s --max-time 5 -d 'REMOTE_USER=admin&AUTH_TYPE=Basic' \
	    "$(url '/env?REMOTE_USER=admin')"
	local vars
	vars=$(sed -n '/<h2>Variables/,/<h2>Headers/p' <<<"$output")
	grep -q 'REMOTE_ADDR' <<<"$vars"
	! grep -q 'REMOTE_USER' <<<"$vars"
	! grep -q 'AUTH_TYPE</th>' <<<"$vars"
	run params
	[ "$output" = "$(printf '%s\n' REMOTE_USER=admin REMOTE_USER=admin \
	    AUTH_TYPE=Basic)" ]
	run curl -s --max-time 5 -F REMOTE_USER=admin "$(url /env)"
	vars=$(sed -n '/<h2>Variables/,/<h2>Headers/p' <<<"$output")
	! grep -q 'REMOTE_USER' <<<"$vars"
	run params
	[ "$output" = "REMOTE_USER=admin" ]
	run cat "$T/access.log"
	hasnt ' - admin '
}

@test "urlencoded login by curl -d: larry/wall 303, in the query as well as the body" {
	srv
	run curl -s --max-time 5 -D - -o /dev/null -d 'user=larry&password=wall' \
	    "$(url /login)"
	has '^HTTP/1\.1 303 '
	has '^Location: /login'
	[ "$(st -d 'password=wall' "$(url '/login?user=larry')")" = 303 ]
	# a password in the query string would be in every log: refused
	[ "$(st -d 'user=larry' "$(url '/login?password=wall')")" = 400 ]
	[ "$(st -d 'user=larry&password=wall' "$(url '/login?pass%77ord=x')")" = 400 ]
	[ "$(st -d 'user=larry&password=wal%6C' "$(url /login)")" = 303 ]
	[ "$(st -d 'user=larry&password=wall+' "$(url /login)")" = 403 ]
}

@test "malformed percent-escapes are 400 at /login (body and query), never a crash" {
	local b q
	srv
	for b in 'user=larry&password=%zz' 'user=larry&password=%4' \
	    'user=larry&password=wall%' 'user=%g1&password=wall' \
	    'us%2er=larry&password=%%41' 'user=larry%&password=wall'; do
		[ "$(st --data-raw "$b" "$(url /login)")" = 400 ] ||
		    { echo "body '$b' not 400" >&2; return 1; }
	done
	for q in 'a=%zz' 'a=%4' '%=1'; do
		[ "$(st -d 'user=larry&password=wall' "$(url "/login?$q")")" = 400 ] ||
		    { echo "query '$q' not 400" >&2; return 1; }
	done
	# /env takes parameters through ih_param, which ignores the error
	[ "$(st --data-raw 'a=%zz' "$(url /env)")" = 200 ]
	# the same in pipe mode: a clean exit, nothing on stderr
	python3 "$MP" raw application/x-www-form-urlencoded \
	    'user=larry&password=%4' "$T/req" /login
	piped "$T/req"
	[ "$status" -eq 0 ]
	[ "$(resp_status)" = 400 ]
	[ ! -s "$T/stderr" ]
}

@test "max_form 1k: a 1024-byte form passes, 1025 bytes is 413 (Content-Length and chunked)" {
	local pad ok big
	srv --max_form 1k
	pad=$(head -c 2000 /dev/zero | tr '\0' x)
	ok="user=larry&password=wall&x=${pad:0:$((1024 - 27))}"
	[ "${#ok}" -eq 1024 ]
	big="${ok}y"
	[ "$(st -d "$ok" "$(url /login)")" = 303 ]
	[ "$(st -d "$big" "$(url /login)")" = 413 ]
	[ "$(st -H 'Transfer-Encoding: chunked' -d "$ok" "$(url /login)")" = 303 ]
	[ "$(st -H 'Transfer-Encoding: chunked' -d "$big" "$(url /login)")" = 413 ]
}

@test "max_field 1k: a multipart field of 1024 bytes is kept, 1025 bytes is 413" {
	head -c 1024 /dev/zero | tr '\0' b >"$T/f1024"
	head -c 1025 /dev/zero | tr '\0' b >"$T/f1025"
	srv --max_field 1k
	# 1024 b's are a user name that does not exist: 403, not 413
	[ "$(st -F "user=<$T/f1024" -F password=wall "$(url /login)")" = 403 ]
	[ "$(st -F "user=<$T/f1025" -F password=wall "$(url /login)")" = 413 ]
	[ "$(st -F user=larry -F "password=<$T/f1025" "$(url /login)")" = 413 ]
	[ "$(st -F user=larry -F password=wall "$(url /login)")" = 303 ]
	# a file part is not a field: spooled, not limited by max_field
	[ "$(st -F user=larry -F password=wall -F "doc=@$T/f1025" \
	    "$(url /login)")" = 303 ]
}

# ---- /upload: streaming ---------------------------------------------------------

@test "curl -F a 50 MiB file through /upload: size and sha256 match; 100 Continue seen" {
	srv --max_body 100m
	run curl -sv --max-time 30 -F "file=@$F/big" -F note=hello \
	    "$(url /upload)"
	has '^> Expect: 100-continue'
	has '^< HTTP/1\.1 100 Continue'
	has '^< HTTP/1\.1 200 '
	read -r size sum < <(size_sum "$F/big")
	[ "$size" -eq 52428800 ]
	has "^file file \(big\): $size bytes, sha256 $sum\$"
	has '^field note: 5 bytes$'
}

@test "peak RSS of ihttpd for a 50 MiB multipart upload in pipe mode is under 16 MB" {
	local kb
	python3 "$MP" file "$F/big" "$T/req" /upload
	read -r size sum < <(size_sum "$F/big")
	if [ -x /usr/bin/time ] && /usr/bin/time -f %M true 2>/dev/null; then
		/usr/bin/time -o "$T/rss" -f %M "$IHTTPD" -c "$CONF" \
		    --max_body 100m <"$T/req" >"$T/out" 2>"$T/stderr"
		kb=$(tail -1 "$T/rss")
	else
		# VmHWM of a keep-alive connection fed through a fifo
		KEEPALIVE=1 python3 "$MP" file "$F/big" "$T/req" /upload
		mkfifo "$T/fifo"
		"$IHTTPD" -c "$CONF" --max_body 100m <"$T/fifo" >"$T/out" \
		    2>"$T/stderr" &
		local pid=$! i
		exec 4>"$T/fifo"
		cat "$T/req" >&4
		for i in $(seq 200); do
			grep -q sha256 "$T/out" && break
			sleep 0.05
		done
		kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
		exec 4>&-
		wait "$pid"
	fi
	echo "# peak RSS, 50 MiB multipart upload (pipe mode): $kb KiB" >&3
	grep -q "^file file (upload.bin): $size bytes, sha256 $sum" "$T/out"
	[ -n "$kb" ]
	[ "$kb" -lt 16384 ]
}

@test "raw body (--data-binary) and chunked body to /upload: size and sha256" {
	srv --max_body 100m
	read -r size sum < <(size_sum "$F/big")
	run curl -s --max-time 30 --data-binary "@$F/big" "$(url /upload)"
	[ "$output" = "body: $size bytes, sha256 $sum" ]
	run curl -s --max-time 30 -H 'Transfer-Encoding: chunked' \
	    --data-binary "@$F/big" "$(url /upload)"
	[ "$output" = "body: $size bytes, sha256 $sum" ]
	# and a small one through PUT
	printf 'hello' >"$T/h"
	run curl -s --max-time 5 -T "$T/h" "$(url /upload)"
	[ "$output" = "body: 5 bytes, sha256 $(sha256sum <"$T/h" | cut -c1-64)" ]
}

@test "part data full of delimiter look-alikes is passed through exactly (pipe mode)" {
	local seed exp
	for seed in 1 2 3; do
		exp=$(python3 "$MP" tricky "$seed" "$T/req")
		piped "$T/req"
		has "^file file \(t\.bin\): ${exp% *} bytes, sha256 ${exp#* }"
		has '^field note: 1 bytes'
	done
}

# ---- Expect ----------------------------------------------------------------------

@test "Expect: 100-continue: 100 only from a handler that reads the body" {
	srv
	run python3 "$MP" expect "$PORT" /upload
	has '^FIRST HTTP/1\.1 100 Continue'
	has '^FINAL HTTP/1\.1 200 '
	run python3 "$MP" expect "$PORT" /hello
	has '^FIRST HTTP/1\.1 200 '
	has '^COUNT100 0$'
	run python3 "$MP" expect "$PORT" /env
	has '^FIRST HTTP/1\.1 100 Continue'
	has '^FINAL HTTP/1\.1 200 '
	# curl with a small body and the header forced
	run curl -sv --max-time 5 -H 'Expect: 100-continue' -d x=1 "$(url /hello)"
	has '^< HTTP/1\.1 200 '
	hasnt '100 Continue'
}

@test "Expect other than 100-continue is 417" {
	srv
	[ "$(st -H 'Expect: something' -d x=1 "$(url /upload)")" = 417 ]
	[ "$(st -H 'Expect: something' "$(url /hello)")" = 417 ]
	[ "$(st -H 'Expect: 100-continue, x' -d x=1 "$(url /upload)")" = 417 ]
}

@test "max_body 1m: a 2 MiB upload is 413 (Content-Length, chunked, multipart), no 100 for a known length" {
	srv --max_body 1m
	[ "$(st --data-binary "@$F/f2m" "$(url /upload)")" = 413 ]
	[ "$(st -H 'Transfer-Encoding: chunked' --data-binary "@$F/f2m" \
	    "$(url /upload)")" = 413 ]
	run curl -sv --max-time 10 -F "file=@$F/f2m" "$(url /upload)"
	has '^< HTTP/1\.1 413 '
	hasnt '100 Continue'
	[ "$(st -F "file=@$F/f2m" "$(url /env)")" = 413 ]
	# under the limit still works
	head -c 500k /dev/urandom >"$T/small"
	[ "$(st -F "file=@$T/small" "$(url /upload)")" = 200 ]
}

# ---- multipart errors ---------------------------------------------------------------

@test "multipart: missing or wrong boundary, missing closing delimiter, nameless part: 400" {
	local good='--B\r\nContent-Disposition: form-data; name="user"\r\n\r\nlarry\r\n--B\r\nContent-Disposition: form-data; name="password"\r\n\r\nwall\r\n--B--\r\n'
	local -a cases=(
		# CT | body | why
		'multipart/form-data|'"$good"'|no boundary parameter'
		'multipart/form-data; boundary=|'"$good"'|empty boundary'
		'multipart/form-data; boundary=A|'"$good"'|the body uses another boundary'
		'multipart/form-data; boundary=B|--B\r\nContent-Disposition: form-data; name="user"\r\n\r\nlarry\r\n|no closing delimiter'
		'multipart/form-data; boundary=B|--B\r\nContent-Disposition: form-data; name="user"\r\n\r\nlarry\r\n--B|delimiter without -- or CRLF'
		'multipart/form-data; boundary=B|--B\r\nContent-Disposition: form-data; name="user"\r\n\r\nlar|cut inside a part'
		'multipart/form-data; boundary=B|--B\r\nContent-Disposition: form-data; name="user"\r\n|cut inside the part head'
		'multipart/form-data; boundary=B|--B\r\nContent-Disposition: form-data\r\n\r\nx\r\n--B--\r\n|part without a name'
		'multipart/form-data; boundary=B|--B\r\nContent-Type: text/plain\r\n\r\nx\r\n--B--\r\n|part without Content-Disposition'
		'multipart/form-data; boundary=B|--B\r\nContent-Disposition: attachment; name="a"\r\n\r\nx\r\n--B--\r\n|not form-data'
		'multipart/form-data; boundary=B|--B\r\nno colon here\r\n\r\nx\r\n--B--\r\n|header without colon'
		'multipart/form-data; boundary=B||empty body'
	)
	local c ct body why p
	for c in "${cases[@]}"; do
		ct=${c%%|*}
		body=${c#*|}
		why=${body##*|}
		body=${body%|*}
		for p in /upload /login; do
			python3 "$MP" raw "$ct" "$body" "$T/req" "$p"
			piped "$T/req"
			if [ "$status" -ne 0 ] || [ "$(resp_status)" != 400 ] ||
			    [ -s "$T/stderr" ]; then
				echo "$p, $why: status $(resp_status), rc $status" >&2
				cat "$T/stderr" >&2
				return 1
			fi
		done
	done
	# the well-formed body is accepted by both
	python3 "$MP" raw 'multipart/form-data; boundary=B' "$good" "$T/req" /login
	piped "$T/req"
	[ "$(resp_status)" = 303 ]
	python3 "$MP" raw 'multipart/form-data; boundary="B"' "$good" "$T/req" /upload
	piped "$T/req"
	[ "$(resp_status)" = 200 ]
	has '^field user: 5 bytes'
}

@test "multipart: transport padding after a delimiter (RFC 2046 5.1.1: receivers MUST handle it) is accepted" {
	python3 "$MP" raw 'multipart/form-data; boundary=B' \
	    '--B \t\r\nContent-Disposition: form-data; name="user"\r\n\r\nlarry\r\n--B  \r\nContent-Disposition: form-data; name="password"\r\n\r\nwall\r\n--B-- \r\n' \
	    "$T/req" /login
	piped "$T/req"
	[ "$(resp_status)" = 303 ]
}

@test "multipart: a body shorter than its Content-Length (client stalls) ends in 408/400, not a hang" {
	srv --body_timeout 1
	local p
	for p in /upload /login; do
		run raw_tcp "POST $p HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary=B\r\nContent-Length: 500\r\n\r\n--B\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nlarry\r\n" 5
		has '^HTTP/1\.1 (408|400) '
	done
}

# ---- client file names, spooling ------------------------------------------------

@test "client file names with a path: /upload reports the base name only" {
	srv
	printf 'x' >"$T/x"
	run curl -s --max-time 5 -F "file=@$T/x;filename=../../etc/passwd" \
	    "$(url /upload)"
	has '^file file \(passwd\): 1 bytes'
	run curl -s --max-time 5 -F "file=@$T/x;filename=/abs/dir/a.txt" \
	    "$(url /upload)"
	has '^file file \(a\.txt\): 1 bytes'
}

@test "client file names with backslashes (C:\\x\\y.txt, as browsers send them): base name y.txt" {
	srv
	printf 'x' >"$T/x"
	# curl sends the name as is: filename="C:\x\y.txt" (WHATWG encoding)
	run curl -s --max-time 5 --trace-ascii "$T/trace" \
	    -F "file=@$T/x;filename=C:\\x\\y.txt" "$(url /upload)"
	grep -aq 'filename="C:\\x\\y.tx' "$T/trace"
	has '^file file \(y\.txt\): 1 bytes'
}

@test "uploads through ih_parse_body (/env) are spooled unnamed in datadir/uploads: nothing there during or after, nothing outside" {
	srv --max_body 100m
	touch "$T/marker"
	run curl -s --max-time 30 -F "a=@$F/f2m;filename=../../evil" \
	    -F "b=@$F/f2m;filename=..\\..\\evil2" -F 'c=@/dev/null;filename=' \
	    -F note=kept "$(url /env)"
	run params
	[ "$output" = "note=kept" ]
	# datadir: created, holds only the spool's directory, which is empty
	# (the session store is not opened)
	[ -d "$D" ]
	[ "$(ls -A "$D")" = uploads ]
	[ -z "$(ls -A "$D/uploads")" ]
	[ "$(stat -c %a "$D")" = 700 ]
	[ "$(stat -c %a "$D/uploads")" = 700 ]
	# no file named by the client anywhere near
	[ -z "$(find "$T" "$T/.." "$ROOT" -maxdepth 3 -newer "$T/marker" \
	    \( -name 'evil*' -o -name '*.upload*' \) 2>/dev/null)" ]
	# during a slow upload: still nothing with a name in the spool
	run python3 "$MP" slow "$PORT" "$D/uploads" "$F/f2m"
	has '^DURING *$'
	has '^STATUS HTTP/1\.1 200 '
	[ -z "$(ls -A "$D/uploads")" ]
	# a big one through /upload (streamed, not spooled) leaves nothing either
	[ "$(st -F "file=@$F/big" "$(url /upload)")" = 200 ]
	[ -z "$(ls -A "$D/uploads")" ]
	[ "$(ls -A "$D")" = uploads ]
}

@test "a bad multipart body to /env (ih_param ignores the error): 200, no crash, no leftovers" {
	python3 "$MP" raw 'multipart/form-data; boundary=B' \
	    '--B\r\nContent-Disposition: form-data; name="f"; filename="x"\r\n\r\ncut' \
	    "$T/req" /env
	piped "$T/req"
	[ "$status" -eq 0 ]
	[ "$(resp_status)" = 200 ]
	[ ! -s "$T/stderr" ]
	[ -z "$(ls -A "$D/uploads" 2>/dev/null)" ]
	[ -z "$(ls -A "$D" 2>/dev/null | grep -vx uploads)" ]
}

@test "spooled uploads are close-on-exec in datadir/uploads: O_TMPFILE, and the mkostemp fallback where the file system has none" {
	strace -o /dev/null true 2>/dev/null || skip "strace cannot trace here"
	# LeakSanitizer (make asan) refuses to run under ptrace
	NOLSAN=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	local k line
	python3 "$MP" raw 'multipart/form-data; boundary=B' \
	    '--B\r\nContent-Disposition: form-data; name="f"; filename="x"\r\n\r\nhello\r\n--B\r\nContent-Disposition: form-data; name="note"\r\n\r\nkept\r\n--B--\r\n' \
	    "$T/req" /env
	ASAN_OPTIONS=$NOLSAN strace -e trace=openat -o "$T/t1" "$IHTTPD" \
	    -c "$CONF" <"$T/req" >"$T/o1" 2>/dev/null
	grep -q '^<tr><th>note</th><td>kept</td></tr>' "$T/o1"
	line=$(grep -F "openat(AT_FDCWD, \"$D/uploads\"," "$T/t1")
	echo "# $line" >&3
	grep -q O_TMPFILE <<<"$line"
	grep -q O_CLOEXEC <<<"$line"
	# the same request with that openat failing as on a file system
	# without O_TMPFILE: the named-then-unlinked fallback
	k=$(awk -v p="\"$D/uploads\"," \
	    '/^openat\(/ { n++ } index($0, p) { print n; exit }' "$T/t1")
	[ -n "$k" ]
	ASAN_OPTIONS=$NOLSAN strace -e trace=openat \
	    -e inject=openat:error=EOPNOTSUPP:when="$k" -o "$T/t2" "$IHTTPD" \
	    -c "$CONF" <"$T/req" >"$T/o2" 2>/dev/null
	grep -F "\"$D/uploads\"," "$T/t2" | grep -q INJECTED
	line=$(grep -F "\"$D/uploads/.upload." "$T/t2")
	echo "# $line" >&3
	[ -n "$line" ]
	grep -q O_CLOEXEC <<<"$line"
	grep -q '^<tr><th>note</th><td>kept</td></tr>' "$T/o2"
	[ -z "$(ls -A "$D/uploads")" ]
}

# ---- many parts -----------------------------------------------------------------

# many_parts N OUT [TARGET]: a POST (default /env) with N small file parts.
many_parts() {
	python3 - "$1" "$2" "${3:-/env}" <<'PY'
import sys
n, out, target = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode()
b = b"bnd"
body = b"".join(b"--bnd\r\nContent-Disposition: form-data; name=\"f%d\"; "
                b"filename=\"f%d.txt\"\r\nContent-Type: text/plain\r\n\r\nx\r\n" % (i, i)
                for i in range(n)) + b"--bnd--\r\n"
head = (b"POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; "
        b"boundary=bnd\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % (target, len(body)))
open(out, "wb").write(head + body)
PY
}

@test "1,200 file parts: 413 past max_parts (default 1000)" {
	# /login checks ih_parse_body before it writes a byte.
	many_parts 1200 "$T/req" /login
	piped "$T/req"
	[ "$(resp_status)" = 413 ]
	grep -q 'max_parts' "$T/error.log"
	# A streaming handler has answered already: the answer is cut short.
	many_parts 1200 "$T/req" /upload
	piped "$T/req"
	[ "$(resp_status)" = 200 ]
	has '^file f9[0-9]+ '
	hasnt '^file f1000 '
	hasnt $'^0\r$'		# no last chunk: the client sees it cut
}

@test "1,200 file parts under --max_parts 2000: answered (the upload table grows linearly, not quadratically)" {
	many_parts 1200 "$T/req"
	piped "$T/req" --max_parts 2000
	[ "$(resp_status)" = 200 ]
	# Every part was spooled: its fd was open until the response.
	[ -z "$(ls -A "$D" 2>/dev/null | grep -v '^[a-z]*$')" ]
}

@test "a request whose arena is full is still answered" {
	# 4000 fields of 1 KiB: the request's 4 MiB arena runs out: 413.
	python3 - "$T/req" <<'PY'
import sys
body = b"".join(b"--bnd\r\nContent-Disposition: form-data; name=\"v%d\"\r\n\r\n%s\r\n" % (i, b"v" * 1024) for i in range(4000)) + b"--bnd--\r\n"
head = (b"POST /env HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; "
        b"boundary=bnd\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
open(sys.argv[1], "wb").write(head + body)
PY
	piped "$T/req" --max_parts 5000 --max_body 20m
	# /env lists what fit (ih_param ignores the body's 413); the page
	# and its head need nothing from the full arena.
	[ "$(resp_status)" = 200 ]
	has '</html>'
}

@test "a handler that streams more than its buffer before it reads a chunked form still gets the form" {
	python3 - "$T/req" <<'PY'
import sys
body = b"foo=bar&baz=qux"
head = (b"POST /env HTTP/1.1\r\nHost: t\r\nX-Pad: " + b"<" * 4000 +
        b"\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
open(sys.argv[1], "wb").write(head + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
PY
	piped "$T/req"
	[ "$(resp_status)" = 200 ]
	has '<tr><th>foo</th><td>bar</td></tr>'
	has '<tr><th>baz</th><td>qux</td></tr>'
}
