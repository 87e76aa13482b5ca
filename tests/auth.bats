#!/usr/bin/env bats
# Basic (RFC 7617) and Digest (RFC 7616) authentication: files written by
# the real tools (htpasswd, htdigest, crypt), the demo-users lookup, curl
# and Python's urllib through tcpserver (one ihttpd process per connection,
# so every nonce crosses processes), Digest responses computed by
# fixtures/auth/dig.py, and a battery of malformed Authorization headers.
# Everything runs on 127.0.0.1; each test starts its own tcpserver and
# teardown stops it by pid.

load helpers

HC=$BATS_TEST_DIRNAME/fixtures/inetd/hc.py
DIG=$BATS_TEST_DIRNAME/fixtures/auth/dig.py

setup_file() {
	snapshot_binary || return 1

	# The password files, written by the real tools.
	local F=$BATS_FILE_TMPDIR
	htpasswd -cbB "$F/htpasswd" bob bob-bcrypt 2>/dev/null || return 1
	htpasswd -bm "$F/htpasswd" mary mary-apr1 2>/dev/null || return 1
	htpasswd -bs "$F/htpasswd" sam sam-sha1 2>/dev/null || return 1
	htpasswd -bB "$F/htpasswd" alice 'pa:ss' 2>/dev/null || return 1
	htpasswd -bp "$F/htpasswd" plain plain-text 2>/dev/null || return 1
	htpasswd -b2 "$F/htpasswd" two two-sha256 2>/dev/null || return 1
	htpasswd -b5 "$F/htpasswd" fiv five-sha512 2>/dev/null || return 1
	htpasswd -b2 -r 10000 "$F/htpasswd" r2 r2-rounds 2>/dev/null || return 1
	htpasswd -b5 -r 1000 "$F/htpasswd" r5 r5-rounds 2>/dev/null || return 1
	htpasswd -bB -C 4 "$F/htpasswd" c4 c4-bcrypt 2>/dev/null || return 1
	htpasswd -bd "$F/htpasswd" des despw12 2>/dev/null || return 1
	python3 -W ignore -c '
import crypt
print("five:" + crypt.crypt("five-sha256", crypt.mksalt(crypt.METHOD_SHA256)))
print("six:" + crypt.crypt("six-sha512", crypt.mksalt(crypt.METHOD_SHA512)))
' >>"$F/htpasswd" || return 1
	# htdigest: user:realm:MD5(user:realm:pw), and a SHA-256 line of the
	# same shape for the same user.
	printf 'dan:the realm:%s\n' \
	    "$(printf 'dan:the realm:dig-pw' | md5sum | cut -c1-32)" \
	    "$(printf 'dan:the realm:dig-pw' | sha256sum | cut -c1-64)" \
	    >"$F/htdigest"
	printf 'eve:the realm:%s\n' \
	    "$(printf 'eve:the realm:eve-pw' | sha256sum | cut -c1-64)" \
	    >>"$F/htdigest"
	printf 'mo:the realm:%s\n' \
	    "$(printf 'mo:the realm:mo-pw' | md5sum | cut -c1-32)" \
	    >>"$F/htdigest"
}

setup() {
	cd "$ROOT" || return 1
	T=$BATS_TEST_TMPDIR
	F=$BATS_FILE_TMPDIR
	ACC=$T/access.log
	ERR=$T/error.log
	CONF=$T/auth.conf
	mkdir -p "$T/www/priv" "$T/www/private2"
	echo root >"$T/www/index.html"
	echo secret >"$T/www/priv/x.html"
	echo secret-index >"$T/www/priv/index.html"
	echo other >"$T/www/private2/index.html"
	echo public >"$T/www/priv.html"
	cat >"$CONF" <<EOF
docroot        $T/www
mimetypes      $ROOT/conf/mime.types
datadir        $T/data
access_log     $ACC
error_log      $ERR
log_level      2

<Object path="/env">
  Service fn=env
</Object>
<Object ppath="/basic">
  AuthTrans fn=auth-basic realm="files" userfile=$F/htpasswd
  Service fn=env
</Object>
<Object ppath="/bdemo">
  AuthTrans fn=auth-basic realm="demo" lookup=demo-users
  Service fn=env
</Object>
<Object ppath="/ddemo">
  AuthTrans fn=auth-digest realm="demo" algorithm="SHA-256 MD5" lookup=demo-users
  Service fn=env
</Object>
<Object ppath="/dsha">
  AuthTrans fn=auth-digest realm="sha" lookup=demo-users
  Service fn=env
</Object>
<Object ppath="/dmd5">
  AuthTrans fn=auth-digest realm="md5 only" algorithm=MD5 qop=auth lookup=demo-users
  Service fn=env
</Object>
<Object ppath="/dsess">
  AuthTrans fn=auth-digest realm="sess" algorithm="SHA-256-sess MD5-sess" lookup=demo-users
  Service fn=env
</Object>
<Object ppath="/dfile">
  AuthTrans fn=auth-digest realm="the realm" algorithm="SHA-256 MD5" userfile=$F/htdigest
  Service fn=env
</Object>
<Object ppath="/dboth">
  AuthTrans fn=auth-digest realm="the realm" userfile=$F/htdigest
  Service fn=env
</Object>
<Object ppath="/dfilemd5">
  AuthTrans fn=auth-digest realm="the realm" algorithm=MD5 userfile=$F/htdigest
  Service fn=env
</Object>
<Object ppath="/priv">
  AuthTrans fn=auth-basic realm="p" lookup=demo-users
</Object>
<Object path="/private/env">
  AuthTrans fn=auth-digest realm="private" lookup=demo-users
  Service fn=env
</Object>
EOF
}

teardown() {
	local p crashed=
	if [ -n "${LOCKER:-}" ]; then
		kill "$LOCKER" 2>/dev/null
		wait "$LOCKER" 2>/dev/null
	fi
	if [ -n "${MOUNTED:-}" ]; then
		umount "$MOUNTED" 2>/dev/null
	fi
	stop_tcpserver || crashed=1
	[ -z "$crashed" ]	# no ihttpd was killed by a signal
}


srv() {
	start_tcpserver -c "$CONF" --keepalive_timeout 1 --header_timeout 3 \
	    --body_timeout 2 "$@"
}

url() {
	printf 'http://127.0.0.1:%s%s' "$PORT" "$1"
}

# st CURL-ARGS...: the status code curl got.
st() {
	curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$@"
}

# dget PATH [HEADER...]: one GET by dig.py on a new connection.
dget() {
	run python3 "$DIG" get "$PORT" "$@"
}

# challenge PATH [ALG]: NONCE and OPAQUE of a fresh challenge.
challenge() {
	read -r NONCE OPAQUE < <(python3 "$DIG" get "$PORT" "$1" |
	    python3 "$DIG" nonce --alg "${2:-SHA-256}")
	[ -n "$NONCE" ]
}

# dhdr ARGS: an Authorization value from dig.py header.
dhdr() {
	python3 "$DIG" header "$@"
}

# piped REQUEST [ihttpd args]: one piped connection; response in $output.
piped() {
	local req=$1
	shift
	run bash -c 'printf "%b" "$1" | "$2" -c "$3" "${@:4}" 2>/dev/null' _ \
	    "$req" "$IHTTPD" "$CONF" "$@"
}

# ---- Basic, files by htpasswd and crypt ---------------------------------

@test "Basic: htpasswd -cbB (bcrypt) entry lets its user in" {
	grep -q '^bob:\$2y\$' "$F/htpasswd"
	srv
	[ "$(st --basic -u bob:bob-bcrypt "$(url /basic/)")" = 200 ]
	[ "$(st --basic -u bob:wrong "$(url /basic/)")" = 401 ]
}

@test "Basic: htpasswd -bm (\$apr1\$) entry" {
	grep -q '^mary:\$apr1\$' "$F/htpasswd"
	srv
	[ "$(st --basic -u mary:mary-apr1 "$(url /basic/)")" = 200 ]
	[ "$(st --basic -u mary:mary-apr2 "$(url /basic/)")" = 401 ]
}

@test "Basic: htpasswd -bs ({SHA}) entry" {
	grep -q '^sam:{SHA}' "$F/htpasswd"
	srv
	[ "$(st --basic -u sam:sam-sha1 "$(url /basic/)")" = 200 ]
	[ "$(st --basic -u sam:sam-sha2 "$(url /basic/)")" = 401 ]
}

@test "Basic: crypt \$5\$ and \$6\$ entries" {
	grep -q '^five:\$5\$' "$F/htpasswd"
	grep -q '^six:\$6\$' "$F/htpasswd"
	srv
	[ "$(st --basic -u five:five-sha256 "$(url /basic/)")" = 200 ]
	[ "$(st --basic -u six:six-sha512 "$(url /basic/)")" = 200 ]
	[ "$(st --basic -u five:six-sha512 "$(url /basic/)")" = 401 ]
	[ "$(st --basic -u six:five-sha256 "$(url /basic/)")" = 401 ]
}

@test "Basic: htpasswd -2, -5 (with and without -r rounds), -B -C 4, -d entries" {
	grep -q '^two:\$5\$' "$F/htpasswd"
	grep -q '^fiv:\$6\$' "$F/htpasswd"
	grep -q '^r2:\$5\$rounds=10000\$' "$F/htpasswd"
	grep -q '^r5:\$6\$rounds=1000\$' "$F/htpasswd"
	grep -q '^c4:\$2y\$04\$' "$F/htpasswd"
	srv
	local up
	for up in two:two-sha256 fiv:five-sha512 r2:r2-rounds r5:r5-rounds \
	    c4:c4-bcrypt des:despw12; do
		[ "$(st --basic -u "$up" "$(url /basic/)")" = 200 ] ||
		    { echo "$up refused" >&2; return 1; }
		[ "$(st --basic -u "${up}x" "$(url /basic/)")" = 401 ] ||
		    { echo "${up}x accepted" >&2; return 1; }
	done
}

@test "Basic: a plain-text htpasswd entry is refused" {
	grep -q '^plain:plain-text$' "$F/htpasswd"
	srv
	[ "$(st --basic -u plain:plain-text "$(url /basic/)")" = 401 ]
}

@test "Basic: unknown user and no credentials are 401 with the challenge" {
	srv
	[ "$(st --basic -u nobody:x "$(url /basic/)")" = 401 ]
	run curl -s --max-time 5 -D - -o /dev/null "$(url /basic/)"
	has '^HTTP/1\.1 401 '
	has '^WWW-Authenticate: Basic realm="files", charset="UTF-8"'
	[ "$(grep -ci '^WWW-Authenticate' <<<"$output")" -eq 1 ]
}

@test "Basic: an unknown user, and the apr1 user, cost what the bcrypt user costs" {
	# the review's file: bcrypt (cost 10, ~60 ms) first, apr1 (~0.2 ms) last
	htpasswd -cbB -C 10 "$T/timing" slow slow-pw 2>/dev/null
	htpasswd -bm "$T/timing" fast fast-pw 2>/dev/null
	sed -i "s|userfile=$F/htpasswd|userfile=$T/timing|" "$CONF"
	run python3 - "$IHTTPD" "$CONF" <<'PY'
import base64, statistics, subprocess, sys, time
ihttpd, conf = sys.argv[1:3]
def once(cred):
    b = base64.b64encode(cred.encode()).decode()
    req = ("GET /basic/ HTTP/1.1\r\nHost: t\r\nAuthorization: Basic %s\r\n"
           "Connection: close\r\n\r\n" % b).encode()
    t = time.monotonic()
    out = subprocess.run([ihttpd, "-c", conf], input=req,
                         capture_output=True, timeout=10).stdout
    assert out.startswith(b"HTTP/1.1 401 "), out[:40]
    return time.monotonic() - t
known, unknown, cheap = [], [], []
for i in range(7):	# interleaved: the machine's noise hits all
    known.append(once("slow:wrong-pw"))
    unknown.append(once("nobody:wrong-pw"))
    cheap.append(once("fast:wrong-pw"))
k, u, c = (statistics.median(known), statistics.median(unknown),
           statistics.median(cheap))
print("bcrypt user %.1f ms, unknown %.1f ms (%.2f), apr1 user %.1f ms "
      "(%.2f)" % (k * 1e3, u * 1e3, u / k, c * 1e3, c / k))
sys.exit(0 if u >= 0.3 * k and c >= 0.3 * k else 1)
PY
	echo "$output" >&2
	[ "$status" -eq 0 ]
}

@test "Basic: credentials split at the first ':' (alice / pa:ss)" {
	srv
	run curl -s --max-time 5 --basic -u 'alice:pa:ss' "$(url /basic/)"
	has '<th>REMOTE_USER</th><td>alice</td>'
	[ "$(st --basic -u 'alice:pa' "$(url /basic/)")" = 401 ]
	# user "alice:pa" cannot exist: the user-id ends at the first ':'
	[ "$(st -H "Authorization: Basic $(printf 'alice:pa:ss:' | base64)" \
	    "$(url /basic/)")" = 401 ]
}

@test "Basic: an unreadable userfile is 500, nobody let in" {
	sed -i "s|userfile=$F/htpasswd|userfile=$T/missing|" "$CONF"
	srv
	[ "$(st --basic -u bob:bob-bcrypt "$(url /basic/)")" = 500 ]
}

# ---- the lookup contract (demo-users) -------------------------------------

@test "Basic demo-users: larry 200, dr_evil 403, wrong password 401, unknown 401" {
	srv
	[ "$(st --basic -u larry:wall "$(url /bdemo/)")" = 200 ]
	[ "$(st --basic -u larry:Wall "$(url /bdemo/)")" = 401 ]
	[ "$(st --basic -u dr_evil:1million "$(url /bdemo/)")" = 403 ]
	[ "$(st --basic -u dr_evil:2million "$(url /bdemo/)")" = 401 ]
	[ "$(st --basic -u nobody:wall "$(url /bdemo/)")" = 401 ]
	[ "$(st --basic -u larry: "$(url /bdemo/)")" = 401 ]
	run curl -s --max-time 5 -D - -o /dev/null --basic -u dr_evil:1million \
	    "$(url /bdemo/)"
	hasnt '^WWW-Authenticate'
}

@test "Digest demo-users: larry 200, dr_evil 403, wrong password 401, unknown 401" {
	srv
	[ "$(st --digest -u larry:wall "$(url /ddemo/)")" = 200 ]
	[ "$(st --digest -u larry:Wall "$(url /ddemo/)")" = 401 ]
	[ "$(st --digest -u dr_evil:1million "$(url /ddemo/)")" = 403 ]
	[ "$(st --digest -u dr_evil:2million "$(url /ddemo/)")" = 401 ]
	[ "$(st --digest -u nobody:wall "$(url /ddemo/)")" = 401 ]
}

# ---- Digest, files -----------------------------------------------------------

@test "htdigest: our line has htdigest's own format (htdigest run on a pty)" {
	python3 "$DIG" tty-htdigest "$T/hd" 'the realm' dan dig-pw ||
	    skip "htdigest could not be driven on a pseudo-terminal"
	[ "$(cat "$T/hd")" = "$(head -1 "$F/htdigest")" ]
	grep -Eq '^dan:the realm:[0-9a-f]{32}$' "$T/hd"
}

@test "Digest userfile: SHA-256 line by curl, MD5 line by curl and by urllib" {
	srv
	run curl -sv --max-time 5 --digest -u dan:dig-pw "$(url /dfile/)"
	has '^> Authorization: Digest .*algorithm=SHA-256'
	has '<th>REMOTE_USER</th><td>dan</td>'
	[ "$(st --digest -u dan:wrong "$(url /dfile/)")" = 401 ]
	[ "$(st --digest -u dan:dig-pw "$(url /dfilemd5/)")" = 200 ]
	run python3 "$DIG" urllib "$(url /dfilemd5/)" dan dig-pw
	has '^STATUS 200'
	has '^USER dan'
	# eve has only a SHA-256 line: MD5 finds no entry for her
	[ "$(st --digest -u eve:eve-pw "$(url /dfile/)")" = 200 ]
	[ "$(st --digest -u eve:eve-pw "$(url /dfilemd5/)")" = 401 ]
}

@test "Digest: a stock htdigest user, no algorithm= in the config: curl --digest and Python urllib get in" {
	python3 "$DIG" tty-htdigest "$T/hd" stock larry stock-pw ||
	    skip "htdigest could not be driven on a pseudo-terminal"
	grep -Eq '^larry:stock:[0-9a-f]{32}$' "$T/hd"
	printf '<Object ppath="/dstock">\n  AuthTrans fn=auth-digest realm="stock" userfile=%s\n  Service fn=env\n</Object>\n' \
	    "$T/hd" >>"$CONF"
	srv
	run curl -sv --max-time 5 --digest -u larry:stock-pw "$(url /dstock/)"
	has '^< HTTP/1\.1 200 '
	has '^> Authorization: Digest .*algorithm=MD5'
	has '<th>REMOTE_USER</th><td>larry</td>'
	# urllib reads only the first WWW-Authenticate and knows MD5, not SHA-256
	run python3 "$DIG" urllib "$(url /dstock/)" larry stock-pw
	has '^STATUS 200'
	has '^USER larry'
	run python3 "$DIG" urllib "$(url /dstock/)" larry wrong
	has '^STATUS 401'
	[ "$(st --digest -u larry:wrong "$(url /dstock/)")" = 401 ]
}

@test "Digest userfile: the log names the real reason (no SHA-256 line, no MD5 line, unknown user)" {
	srv
	challenge /dboth/
	# mo has an MD5 line only (as htdigest writes); his client chose SHA-256
	dget /dboth/ "Authorization: $(dhdr mo mo-pw 'the realm' "$NONCE" /dboth/ --alg SHA-256)"
	has '^STATUS 401'
	dget /dboth/ "Authorization: $(dhdr mo mo-pw 'the realm' "$NONCE" /dboth/ --alg MD5)"
	has '^STATUS 200'
	# eve has a SHA-256 line only
	dget /dboth/ "Authorization: $(dhdr eve eve-pw 'the realm' "$NONCE" /dboth/ --alg MD5 --nc 00000002)"
	has '^STATUS 401'
	dget /dboth/ "Authorization: $(dhdr eve eve-pw 'the realm' "$NONCE" /dboth/ --nc 00000003)"
	has '^STATUS 200'
	dget /dboth/ "Authorization: $(dhdr nobody x 'the realm' "$NONCE" /dboth/ --alg MD5 --nc 00000004)"
	has '^STATUS 401'
	run cat "$ERR"
	has "401 Unauthorized: user mo has no SHA-256 line for realm the realm in $F/htdigest \(htdigest writes MD5 only\) for /dboth/"
	has "401 Unauthorized: user eve has no MD5 line for realm the realm in $F/htdigest for /dboth/"
	has '401 Unauthorized: unknown user for /dboth/'
	hasnt 'user (mo|eve).*unknown user'
	[ "$(grep -c 'unknown user' "$ERR")" -eq 1 ]
	[ "$(grep -c '(htdigest writes MD5 only)' "$ERR")" -eq 1 ]
}

@test "Digest: with algorithm=\"SHA-256 MD5\" curl picks SHA-256" {
	srv
	run curl -sv --max-time 5 --digest -u larry:wall "$(url /ddemo/)"
	has '^< HTTP/1\.1 200 '
	has '^> Authorization: Digest .*algorithm=SHA-256([^-]|$)'
	hasnt '^> Authorization: Digest .*algorithm=MD5'
	has '^> Authorization: Digest .*response="[0-9a-f]{64}"'
}

@test "Digest: Python urllib (MD5 only in 3.11) against an MD5 realm" {
	srv
	run python3 "$DIG" urllib "$(url /dmd5/)" larry wall
	has '^STATUS 200'
	has '^USER larry'
	run python3 "$DIG" urllib "$(url /dmd5/)" larry wrong
	has '^STATUS 401'
	run python3 "$DIG" urllib "$(url /dmd5/)" dr_evil 1million
	has '^STATUS 403'
}

@test "Digest: -sess algorithms (curl SHA-256-sess, computed MD5-sess)" {
	srv
	run curl -sv --max-time 5 --digest -u larry:wall "$(url /dsess/)"
	has '^> Authorization: Digest .*algorithm=SHA-256-sess'
	has '^< HTTP/1\.1 200 '
	challenge /dsess/ MD5-sess
	dget /dsess/ "Authorization: $(dhdr larry wall sess "$NONCE" /dsess/ --alg MD5-sess)"
	has '^STATUS 200'
	dget /dsess/ "Authorization: $(dhdr larry wall sess "$NONCE" /dsess/ --alg MD5 --nc 00000002)"
	has '^STATUS 401'
}

@test "Digest: the default offers MD5 then SHA-256; credentials without algorithm= mean MD5" {
	srv
	dget /dsha/
	[ "$(grep -c '^WWW ' <<<"$output")" -eq 2 ]
	[[ $(grep -m1 '^WWW ' <<<"$output") =~ ^WWW\ Digest\ realm=\"sha\",\ .*algorithm=MD5, ]]
	has '^WWW Digest realm="sha", .*algorithm=SHA-256,'
	challenge /dsha/
	dget /dsha/ "Authorization: $(dhdr larry wall sha "$NONCE" /dsha/ --alg MD5 --no-alg)"
	has '^STATUS 200'
	dget /dsha/ "Authorization: $(dhdr larry wall sha "$NONCE" /dsha/ --nc 00000002)"
	has '^STATUS 200'
	dget /dsha/ "Authorization: $(dhdr larry wall sha "$NONCE" /dsha/ --alg MD5-sess --nc 00000003)"
	has '^STATUS 401'
}

# ---- nonces across processes -------------------------------------------------

@test "Digest: a replayed Authorization header from another process is 401" {
	srv
	run curl -sv --max-time 5 --digest -u larry:wall "$(url /ddemo/)"
	has '^< HTTP/1\.1 200 '
	local auth
	auth=$(sed -n 's/^> Authorization: //p' <<<"$output" | tr -d '\r')
	[ -n "$auth" ]
	run curl -s --max-time 5 -D - -o /dev/null -H "Authorization: $auth" \
	    "$(url /ddemo/)"
	has '^HTTP/1\.1 401 '
	# a fresh challenge (stale=true or not: the replayer lacks the password)
	has '^WWW-Authenticate: Digest realm="demo", '
	local old
	old=$(sed -n 's/.*nonce="\([^"]*\)".*/\1/p' <<<"$auth")
	[ -n "$old" ]
	hasnt "nonce=\"$old\""
	# and once more, from a piped process
	piped "GET /ddemo/ HTTP/1.1\r\nHost: t\r\nAuthorization: $auth\r\nConnection: close\r\n\r\n"
	has '^HTTP/1\.1 401 '
}

@test "Digest: one nonce, nc 1 then 2 from different processes; a lower or equal nc is refused" {
	srv
	challenge /ddemo/
	dget /ddemo/ "Authorization: $(dhdr larry wall demo "$NONCE" /ddemo/)"
	has '^STATUS 200'
	dget /ddemo/ "Authorization: $(dhdr larry wall demo "$NONCE" /ddemo/ --nc 00000002 --cnonce other)"
	has '^STATUS 200'
	dget /ddemo/ "Authorization: $(dhdr larry wall demo "$NONCE" /ddemo/ --nc 00000002 --cnonce third)"
	has '^STATUS 401'
	dget /ddemo/ "Authorization: $(dhdr larry wall demo "$NONCE" /ddemo/ --nc 00000001 --cnonce fourth)"
	has '^STATUS 401'
	# a piped process continues the count
	piped "GET /ddemo/ HTTP/1.1\r\nHost: t\r\nAuthorization: $(dhdr larry wall demo "$NONCE" /ddemo/ --nc 0000000a)\r\nConnection: close\r\n\r\n"
	has '^HTTP/1\.1 200 '
}

@test "Digest: a nonce minted by one process is accepted by another" {
	srv
	# connection 1 (one ihttpd process) mints the nonce ...
	challenge /ddemo/
	# ... connection 2 (another process) accepts it
	dget /ddemo/ "Authorization: $(dhdr larry wall demo "$NONCE" /ddemo/ --opaque "$OPAQUE")"
	has '^STATUS 200'
	# and a piped process (certainly not tcpserver's child) too
	piped "GET /ddemo/ HTTP/1.1\r\nHost: t\r\nAuthorization: $(dhdr larry wall demo "$NONCE" /ddemo/ --nc 00000002 --alg MD5)\r\nConnection: close\r\n\r\n"
	has '^HTTP/1\.1 200 '
}

@test "Digest nonce table: 600 logins through --nonce_slots 256: constant size, no 500, every replay refused, fresh logins still work" {
	unset IHTTPD_FIXED_TIME	# nonce times from the clock, as in service
	srv --nonce_slots 256
	[ "$(st --digest -u larry:wall "$(url /dmd5/)")" = 200 ]
	local size=$((512 * (1 + 18)))
	[ "$(stat -c %s "$T/data/nonces/digest.table")" -eq "$size" ]
	# 600 nonces: 40 times a bucket, more than twice the slots
	run python3 "$DIG" flood "$PORT" /dmd5/ larry wall "md5 only" 600
	echo "$output" >&2
	has '^LOGIN 200 600$'
	[ "$(grep -c '^LOGIN ' <<<"$output")" -eq 1 ]
	has '^REPLAY 401-stale 600$'
	[ "$(grep -c '^REPLAY ' <<<"$output")" -eq 1 ]
	[ "$(stat -c %s "$T/data/nonces/digest.table")" -eq "$size" ]
	run python3 "$DIG" table "$T/data/nonces/digest.table"
	has '^BUCKETS 18 SLOTS 256 '
	[ "$(grep -c '^ENTRY ' <<<"$output")" -le 270 ]
	[ "$(grep -c '^WM ' <<<"$output")" -eq 18 ]
	# the evicted ones stale, the ones still held replays; no 5xx
	run cat "$ERR"
	has 'nonce forgotten by the nonce table for /dmd5/'
	has 'replayed nonce count for /dmd5/'
	hasnt ' 50[0-9] '
	# fresh logins after the flood
	[ "$(st --digest -u larry:wall "$(url /dmd5/)")" = 200 ]
	run python3 "$DIG" urllib "$(url /dmd5/)" larry wall
	has '^STATUS 200'
}

@test "Digest nonce table: a table keeps its size when nonce_slots changes (no remaking of each other's); removed, it is made at the new size and what it held is stale" {
	local t0=$IHTTPD_FIXED_TIME nonce auth
	piped 'GET /ddemo/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' \
	    --nonce_slots 256
	nonce=$(printf '%s\n' "$output" | python3 "$DIG" nonce | cut -d' ' -f1)
	[ -n "$nonce" ]
	auth=$(dhdr larry wall demo "$nonce" /ddemo/)
	piped "GET /ddemo/ HTTP/1.1\r\nHost: t\r\nAuthorization: $auth\r\nConnection: close\r\n\r\n" --nonce_slots 256
	has '^HTTP/1\.1 200 '
	[ "$(stat -c %s "$T/data/nonces/digest.table")" -eq $((512 * 19)) ]
	# another nonce_slots: the table is used at its own size; the
	# replay stays a replay
	piped "GET /ddemo/ HTTP/1.1\r\nHost: t\r\nAuthorization: $auth\r\nConnection: close\r\n\r\n" --nonce_slots 512
	has '^HTTP/1\.1 401 '
	[ "$(stat -c %s "$T/data/nonces/digest.table")" -eq $((512 * 19)) ]
	# removed: made at the new size; the counts are gone, so the replay
	# is refused stale (the client retries with a fresh nonce)
	rm "$T/data/nonces/digest.table"
	IHTTPD_FIXED_TIME=$((t0 + 1)) piped "GET /ddemo/ HTTP/1.1\r\nHost: t\r\nAuthorization: $auth\r\nConnection: close\r\n\r\n" --nonce_slots 512
	has '^HTTP/1\.1 401 '
	has '^WWW-Authenticate: Digest .*, stale=true'
	[ "$(stat -c %s "$T/data/nonces/digest.table")" -eq $((512 * 36)) ]
	nonce=$(printf '%s\n' "$output" | python3 "$DIG" nonce | cut -d' ' -f1)
	IHTTPD_FIXED_TIME=$((t0 + 1)) piped "GET /ddemo/ HTTP/1.1\r\nHost: t\r\nAuthorization: $(dhdr larry wall demo "$nonce" /ddemo/)\r\nConnection: close\r\n\r\n" --nonce_slots 512
	has '^HTTP/1\.1 200 '
	[ -z "$(find "$T/data/nonces" -name '.digest.table.*')" ]
}

@test "Digest nonce table: a bucket locked past lock_timeout is 503 with Retry-After, not a hang; then 200" {
	local nonce auth t
	piped 'GET /ddemo/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'
	nonce=$(printf '%s\n' "$output" | python3 "$DIG" nonce | cut -d' ' -f1)
	auth=$(dhdr larry wall demo "$nonce" /ddemo/)
	python3 -c '
import fcntl, sys, time
f = open(sys.argv[1], "r+b")
fcntl.lockf(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(30)
' "$T/data/nonces/digest.table" "$T/locked" &
	LOCKER=$!
	for t in $(seq 100); do [ -e "$T/locked" ] && break; sleep 0.05; done
	[ -e "$T/locked" ]
	t=$(date +%s%N)
	piped "GET /ddemo/ HTTP/1.1\r\nHost: t\r\nAuthorization: $auth\r\nConnection: close\r\n\r\n" --lock_timeout 1
	t=$((($(date +%s%N) - t) / 1000000))
	has '^HTTP/1\.1 503 '
	has '^Retry-After: [0-9]+'
	[ "$t" -ge 900 ] && [ "$t" -lt 4000 ]
	# a challenge needs no lock meanwhile
	piped 'GET /ddemo/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' --lock_timeout 1
	has '^HTTP/1\.1 401 '
	kill "$LOCKER"
	wait "$LOCKER" 2>/dev/null || true
	LOCKER=
	piped "GET /ddemo/ HTTP/1.1\r\nHost: t\r\nAuthorization: $auth\r\nConnection: close\r\n\r\n"
	has '^HTTP/1\.1 200 '
	run cat "$ERR"
	has 'Digest nonce table: lock not granted within lock_timeout'
	has '503 Service Unavailable: nonce count store failed'
}

@test "Digest nonce table: a full nonces file system is 503 with Retry-After; Basic and the secret go on" {
	[ "$(id -u)" = 0 ] || skip "mounting a small tmpfs needs root"
	mkdir -p "$T/data/nonces"
	mount -t tmpfs -o size=64k,mode=0700 tmpfs "$T/data/nonces" 2>/dev/null ||
	    skip "cannot mount a tmpfs here"
	MOUNTED=$T/data/nonces
	head -c 65536 /dev/zero >"$T/data/nonces/fill" 2>/dev/null || true
	piped 'GET /ddemo/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' \
	    --nonce_slots 256
	has '^HTTP/1\.1 503 '
	has '^Retry-After: [0-9]+'
	hasnt '^WWW-Authenticate'
	[ "$(ls -A "$T/data/nonces")" = fill ]
	[ "$(stat -c %s "$T/data/secret/digest.secret")" = 32 ]
	piped "GET /bdemo/ HTTP/1.1\r\nHost: t\r\nAuthorization: Basic $(printf larry:wall | base64)\r\nConnection: close\r\n\r\n"
	has '^HTTP/1\.1 200 '
	run cat "$ERR"
	has 'Digest nonce table: No space left on device'
	# room again: the next challenge makes the table, and logins work
	rm "$T/data/nonces/fill"
	piped 'GET /ddemo/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' \
	    --nonce_slots 256
	has '^HTTP/1\.1 401 '
	local nonce
	nonce=$(printf '%s\n' "$output" | python3 "$DIG" nonce | cut -d' ' -f1)
	piped "GET /ddemo/ HTTP/1.1\r\nHost: t\r\nAuthorization: $(dhdr larry wall demo "$nonce" /ddemo/)\r\nConnection: close\r\n\r\n" --nonce_slots 256
	has '^HTTP/1\.1 200 '
	umount "$MOUNTED"
	MOUNTED=
}

@test "Digest: a forged nonce (one HMAC char, fake timestamp, other realm) is 401 without stale" {
	srv
	challenge /ddemo/
	local last=${NONCE: -1} forged ts
	[ "$last" = A ] && forged=${NONCE%?}B || forged=${NONCE%?}A
	dget /ddemo/ "Authorization: $(dhdr larry wall demo "$forged" /ddemo/)"
	has '^STATUS 401'
	has '^WWW Digest '
	hasnt 'stale'
	# a timestamp 100 s older (milliseconds), the HMAC kept
	ts=$(printf '%016x' $((16#${NONCE:0:16} - 100000)))
	forged=$ts${NONCE:16}
	dget /ddemo/ "Authorization: $(dhdr larry wall demo "$forged" /ddemo/)"
	has '^STATUS 401'
	hasnt 'stale'
	# garbage of the right length
	forged=$(printf '%076d' 0)
	dget /ddemo/ "Authorization: $(dhdr larry wall demo "$forged" /ddemo/)"
	has '^STATUS 401'
	hasnt 'stale'
	# a nonce of realm "sha" used in realm "demo"
	challenge /dsha/
	dget /ddemo/ "Authorization: $(dhdr larry wall demo "$NONCE" /ddemo/)"
	has '^STATUS 401'
	hasnt 'stale'
	# the untouched nonce still works (nothing above consumed it)
	challenge /ddemo/
	dget /ddemo/ "Authorization: $(dhdr larry wall demo "$NONCE" /ddemo/)"
	has '^STATUS 200'
}

@test "Digest: an expired nonce is 401 stale=true; fresh enough is 200" {
	local t0=$IHTTPD_FIXED_TIME req nonce
	piped 'GET /ddemo/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' \
	    --nonce_ttl 10
	nonce=$(printf '%s\n' "$output" | python3 "$DIG" nonce | cut -d' ' -f1)
	[ -n "$nonce" ]
	[ "${nonce:0:16}" = "$(printf '%016x' $((t0 * 1000)))" ]
	req="GET /ddemo/ HTTP/1.1\r\nHost: t\r\nAuthorization: $(dhdr larry wall demo "$nonce" /ddemo/)\r\nConnection: close\r\n\r\n"
	# 20 s later, ttl 10: stale, in every challenge
	IHTTPD_FIXED_TIME=$((t0 + 20)) piped "$req" --nonce_ttl 10
	has '^HTTP/1\.1 401 '
	[ "$(grep -c '^WWW-Authenticate: Digest .*, stale=true' <<<"$output")" -eq 2 ]
	# a wrong password with the stale nonce: 401, not stale
	IHTTPD_FIXED_TIME=$((t0 + 20)) piped "GET /ddemo/ HTTP/1.1\r\nHost: t\r\nAuthorization: $(dhdr larry wrong demo "$nonce" /ddemo/)\r\nConnection: close\r\n\r\n" --nonce_ttl 10
	has '^HTTP/1\.1 401 '
	hasnt 'stale'
	# 5 s later: fine
	IHTTPD_FIXED_TIME=$((t0 + 5)) piped "$req" --nonce_ttl 10
	has '^HTTP/1\.1 200 '
	# the stale challenge's fresh nonce works at that later time
	IHTTPD_FIXED_TIME=$((t0 + 20)) piped "GET /ddemo/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" --nonce_ttl 10
	nonce=$(printf '%s\n' "$output" | python3 "$DIG" nonce | cut -d' ' -f1)
	[ "${nonce:0:16}" = "$(printf '%016x' $(((t0 + 20) * 1000)))" ]
	IHTTPD_FIXED_TIME=$((t0 + 20)) piped "GET /ddemo/ HTTP/1.1\r\nHost: t\r\nAuthorization: $(dhdr larry wall demo "$nonce" /ddemo/)\r\nConnection: close\r\n\r\n" --nonce_ttl 10
	has '^HTTP/1\.1 200 '
}

# ---- Digest, what the client claims ---------------------------------------------

@test "Digest: the wrong realm in the credentials is 401; the configured realm is used" {
	srv
	challenge /ddemo/
	dget /ddemo/ "Authorization: $(dhdr larry wall demo "$NONCE" /ddemo/ --realm-sent other)"
	has '^STATUS 401'
	has '^WWW Digest realm="demo", '
	dget /ddemo/ "Authorization: $(dhdr larry wall other "$NONCE" /ddemo/)"
	has '^STATUS 401'
	dget /ddemo/ "Authorization: $(dhdr larry wall demo "$NONCE" /ddemo/ --realm-sent Demo)"
	has '^STATUS 401'
}

@test "Digest: digest-uri must match the request target (400); a query is part of it" {
	srv
	challenge /ddemo/
	dget /ddemo/ "Authorization: $(dhdr larry wall demo "$NONCE" /ddemo/other)"
	has '^STATUS 400'
	dget /ddemo/x "Authorization: $(dhdr larry wall demo "$NONCE" /ddemo/)"
	has '^STATUS 400'
	dget '/ddemo/?a=1' "Authorization: $(dhdr larry wall demo "$NONCE" /ddemo/)"
	has '^STATUS 400'
	dget '/ddemo/?a=1' "Authorization: $(dhdr larry wall demo "$NONCE" '/ddemo/?a=1')"
	has '^STATUS 200'
	[ "$(st --digest -u larry:wall "$(url '/ddemo/?a=b&c=d')")" = 200 ]
}

@test "Digest: RFC 2069 (no qop) is 401, and 200 with --digest_legacy on" {
	srv
	challenge /ddemo/
	dget /ddemo/ "Authorization: $(dhdr larry wall demo "$NONCE" /ddemo/ --noqop)"
	has '^STATUS 401'
	stop_tcpserver
	srv --digest_legacy on
	challenge /ddemo/
	dget /ddemo/ "Authorization: $(dhdr larry wall demo "$NONCE" /ddemo/ --noqop)"
	has '^STATUS 200'
	dget /ddemo/ "Authorization: $(dhdr larry wrong demo "$NONCE" /ddemo/ --noqop)"
	has '^STATUS 401'
	[ "$(st --digest -u larry:wall "$(url /ddemo/)")" = 200 ]
}

@test "Digest: the opaque sent back must be the server's" {
	srv
	challenge /ddemo/
	dget /ddemo/ "Authorization: $(dhdr larry wall demo "$NONCE" /ddemo/ --opaque "x$OPAQUE")"
	has '^STATUS 401'
	dget /ddemo/ "Authorization: $(dhdr larry wall demo "$NONCE" /ddemo/ --opaque "$OPAQUE")"
	has '^STATUS 200'
}

@test "Digest: a SHA-256 response with extra characters after the 64 hex digits is refused" {
	srv
	challenge /ddemo/
	local a
	a=$(dhdr larry wall demo "$NONCE" /ddemo/ |
	    sed 's/response="\([0-9a-f]*\)"/response="\1deadbeef"/')
	grep -Eq 'response="[0-9a-f]{72}"' <<<"$a"
	dget /ddemo/ "Authorization: $a"
	has '^STATUS (400|401)'
}

@test "two Authorization header fields are refused, whichever comes first" {
	local good bad
	good=$(printf 'larry:wall' | base64)
	bad=$(printf 'larry:nope' | base64)
	srv
	dget /bdemo/ "Authorization: Basic $good" "Authorization: Basic $bad"
	has '^STATUS 400'
	dget /bdemo/ "Authorization: Basic $bad" "Authorization: Basic $good"
	has '^STATUS 400'
}

# ---- the challenge -----------------------------------------------------------------

@test "Digest challenge: well formed, one header per algorithm, in the configured order" {
	srv
	local h alg i=0
	run bash -c "python3 '$DIG' get '$PORT' /ddemo/ | sed -n 's/^WWW //p'"
	[ "${#lines[@]}" -eq 2 ]
	for alg in SHA-256 MD5; do
		h=${lines[$i]}
		i=$((i + 1))
		[[ $h =~ ^Digest\ realm=\"demo\", ]]
		[[ $h =~ (^|,\ )algorithm=$alg(,|$) ]]
		[[ ! $h =~ algorithm=\" ]]
		[[ $h =~ (^|,\ )qop=\"auth\"(,|$) ]]
		[[ $h =~ (^|,\ )nonce=\"[0-9a-f]{32}-[A-Za-z0-9_-]{43}\"(,|$) ]]
		[[ $h =~ (^|,\ )opaque=\"[^\"]+\"(,|$) ]]
		[[ ! $h =~ ,, ]]
		[[ ! $h =~ ,\ *$ ]]
		[[ ! $h =~ ^Digest\ *, ]]
		[[ ! $h =~ stale ]]
		# every parameter is name=token or name="quoted", ", " apart
		[[ ${h#Digest } =~ ^[a-z]+=(\"[^\"]*\"|[A-Za-z0-9-]+)(,\ [a-z]+=(\"[^\"]*\"|[A-Za-z0-9-]+))*$ ]]
	done
	# both headers carry the same nonce
	[ "$(printf '%s\n' "${lines[@]}" | grep -o 'nonce="[^"]*"' | sort -u | wc -l)" -eq 1 ]
	# the -sess pair, in order
	run bash -c "python3 '$DIG' get '$PORT' /dsess/ | sed -n 's/^WWW //p'"
	[ "${#lines[@]}" -eq 2 ]
	[[ ${lines[0]} =~ algorithm=SHA-256-sess, ]]
	[[ ${lines[1]} =~ algorithm=MD5-sess, ]]
	[[ ${lines[0]} =~ ^Digest\ realm=\"sess\", ]]
}

@test "Digest challenge: the realm with a space is quoted whole" {
	srv
	dget /dmd5/
	has '^WWW Digest realm="md5 only", qop="auth", algorithm=MD5, '
}

# ---- the secret ---------------------------------------------------------------------

@test "datadir/secret/digest.secret is 32 bytes, mode 0600, created once for all processes; the nonce table beside it" {
	[ ! -e "$T/data" ]
	srv
	[ "$(st --digest -u larry:wall "$(url /ddemo/)")" = 200 ]
	[ "$(stat -c '%a %s' "$T/data/secret/digest.secret")" = "600 32" ]
	[ "$(stat -c '%a' "$T/data" "$T/data/secret" "$T/data/nonces" | sort -u)" = 700 ]
	local sum
	sum=$(sha256sum <"$T/data/secret/digest.secret")
	[ "$(st --digest -u larry:wall "$(url /ddemo/)")" = 200 ]
	[ "$(st --digest -u larry:wall "$(url /dmd5/)")" = 200 ]
	[ "$(sha256sum <"$T/data/secret/digest.secret")" = "$sum" ]
	# no temporary file left behind, nothing else in datadir
	[ "$(cd "$T/data" && find . -type f | sort | tr '\n' ' ')" = \
	    "./nonces/digest.table ./secret/digest.secret " ]
	# the default 16384 slots: a header and 1093 buckets of 15, 512 bytes each
	[ "$(stat -c '%a %s' "$T/data/nonces/digest.table")" = "600 560128" ]
	run python3 "$DIG" table "$T/data/nonces/digest.table"
	has '^BUCKETS 1093 SLOTS 16384 '
	[ "$(grep -c '^ENTRY ' <<<"$output")" -eq 3 ]
}

@test "an earlier version's datadir/digest.secret is adopted: its nonces are stale, not forged" {
	mkdir -m 700 "$T/data"
	head -c 32 /dev/urandom >"$T/data/digest.secret"
	# a nonce as the earlier version made it (time in seconds), with that secret
	local t0=$IHTTPD_FIXED_TIME nonce
	nonce=$(python3 -c '
import base64, hashlib, hmac, sys
key = open(sys.argv[1], "rb").read()
text = "%016x%016x" % (int(sys.argv[2]), 12345)
mac = hmac.new(key, (text + ":demo").encode(), hashlib.sha256).digest()
print(text + "-" + base64.urlsafe_b64encode(mac).decode().rstrip("="))
' "$T/data/digest.secret" "$t0")
	piped "GET /ddemo/ HTTP/1.1\r\nHost: t\r\nAuthorization: $(dhdr larry wall demo "$nonce" /ddemo/)\r\nConnection: close\r\n\r\n"
	has '^HTTP/1\.1 401 '
	[ "$(grep -c '^WWW-Authenticate: Digest .*, stale=true' <<<"$output")" -eq 2 ]
	cmp "$T/data/digest.secret" "$T/data/secret/digest.secret"
}

# ---- REMOTE_USER, AUTH_TYPE, the access log ---------------------------------------------

@test "REMOTE_USER and AUTH_TYPE in /env and in the access log (Basic and Digest)" {
	srv
	run curl -s --max-time 5 --digest -u larry:wall "$(url /private/env)"
	has '<th>REMOTE_USER</th><td>larry</td>'
	has '<th>AUTH_TYPE</th><td>Digest</td>'
	run curl -s --max-time 5 --basic -u alice:pa:ss "$(url /basic/x)"
	has '<th>REMOTE_USER</th><td>alice</td>'
	has '<th>AUTH_TYPE</th><td>Basic</td>'
	run cat "$ACC"
	has '^127\.0\.0\.1 - larry \[[^]]+\] "GET /private/env HTTP/1\.1" 200 '
	has '^127\.0\.0\.1 - alice \[[^]]+\] "GET /basic/x HTTP/1\.1" 200 '
	has '^127\.0\.0\.1 - - \[[^]]+\] "GET /private/env HTTP/1\.1" 401 '
}

@test "REMOTE_USER: none without auth; a query or header cannot pose as one" {
	srv
	run curl -s --max-time 5 -H 'Remote-User: mallory' \
	    "$(url '/env?REMOTE_USER=mallory&AUTH_TYPE=Basic')"
	has 'QUERY_STRING</th><td>REMOTE_USER=mallory'
	# the variables table (the parameters table may show the query)
	output=$(sed -n '/<h2>Variables/,/<h2>Headers/p' <<<"$output")
	has 'REMOTE_ADDR'
	hasnt '<th>REMOTE_USER</th>'
	hasnt '<th>AUTH_TYPE</th>'
	run cat "$ACC"
	hasnt ' - mallory '
	# a 403 (dr_evil) records no user either
	[ "$(st --basic -u dr_evil:1million "$(url /bdemo/)")" = 403 ]
	run cat "$ACC"
	hasnt ' - dr_evil '
}

@test "keep-alive: credentials of one request do not carry to the next" {
	local cred
	cred=$(printf 'larry:wall' | base64)
	piped "GET /bdemo/ HTTP/1.1\r\nHost: t\r\nAuthorization: Basic $cred\r\n\r\nGET /bdemo/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
	[ "$(grep '^HTTP/1.1' <<<"$output" | awk '{print $2}' | tr '\n' ' ')" = "200 401 " ]
	[ "$(grep -c '<th>REMOTE_USER</th><td>larry' <<<"$output")" -eq 1 ]
	run cat "$ACC"
	has ' - larry .*" 200 '
	has ' - - .*" 401 '
}

# ---- scope ------------------------------------------------------------------------------

@test "ppath /priv covers /priv, /priv/, /priv/x.html; not /private2 or /priv.html" {
	srv
	local p cred
	for p in /priv /priv/ /priv/x.html /priv//x.html /priv/./x.html \
	    //priv/x.html '/priv/x.html?a=b' '/pr%69v/x.html'; do
		[ "$(st "$(url "$p")")" = 401 ] ||
		    { echo "$p not guarded" >&2; return 1; }
	done
	[ "$(st "$(url /private2/)")" = 200 ]
	[ "$(st "$(url /priv.html)")" = 200 ]
	[ "$(st "$(url /)")" = 200 ]
	[ "$(st --basic -u larry:wall "$(url /priv/x.html)")" = 200 ]
	[ "$(st --basic -u larry:wall "$(url /priv/)")" = 200 ]
	# absolute-form target: the same path, the same guard
	run python3 "$HC" send "$PORT" 5 'GET http://t/priv/x.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'
	has '^R 1 401 '
}

# ---- malformed Authorization headers ---------------------------------------------------

@test "malformed Authorization: 400 or 401, a clean exit, no credential in any log" {
	local cred big i=0 path v code out rc
	cred=$(printf 'larry:wall' | base64)	# bGFycnk6d2FsbA==
	big=$(head -c 10240 /dev/zero | tr '\0' a)
	local -a bad=(
		'Basic !!!'
		'Basic'
		'Basic '
		"Basic $(printf 'larrywall' | base64)"
		"Basic ${cred}="
		"Basic ${cred%?}"
		'Basic ===='
		"Basic $cred extra"
		"Basic $(printf 'larry\0:wall' | base64)"
		"Basic $(head -c 3000 /dev/zero | tr '\0' A)"
		"Basic $big"
		'Bearer x'
		'x'
		'Digest'
		'Digest ,,,=,='
		'Digest =x'
		'Digest username'
		'Digest username='
		'Digest username="larry"'
		'Digest realm="demo", nonce="n", uri="/ddemo/", response="r"'
		'Digest username="larry", realm="demo", uri="/ddemo/", response="r"'
		'Digest username="larry", realm="demo", nonce="n", uri="/ddemo/"'
		'Digest username="larry", nonce="a", nonce="b", realm="demo", uri="/ddemo/", response="r"'
		'Digest username="larry", username="dr_evil", realm="demo", nonce="a", uri="/ddemo/", response="r"'
		'Digest username="larry, realm="demo", nonce="n", uri="/ddemo/", response="r"'
		'Digest username="a\'
		'Digest username="x" realm="y"'
		'Digest username=unquoted-ok, realm=demo, nonce=abc, uri="/ddemo/", response=abc'
		"Digest username=\"$big\", realm=\"demo\", nonce=\"n\", uri=\"/ddemo/\", response=\"r\""
		"Digest username=\"larry\", realm=\"demo\", nonce=\"$big\", uri=\"/ddemo/\", response=\"r\""
		"Digest username=\"larry\", realm=\"demo\", nonce=\"n\", uri=\"/ddemo/\", response=\"$big\""
		"Digest username=\"larry\", realm=\"$big\", nonce=\"n\", uri=\"/ddemo/\", response=\"r\""
		'Digest username="larry", realm="demo", nonce="n", uri="/ddemo/", response="r", qop=auth, nc=zzzzzzzz, cnonce="c"'
		'Digest username="larry", realm="demo", nonce="n", uri="/ddemo/", response="r", qop=auth, nc=1, cnonce="c"'
		'Digest username="larry", realm="demo", nonce="n", uri="/ddemo/", response="r", qop=auth'
		'Digest username="larry", realm="demo", nonce="n", uri="/ddemo/", response="r", qop=auth-int, nc=00000001, cnonce="c"'
		'Digest username="larry", realm="demo", nonce="n", uri="/ddemo/", response="r", algorithm=SHA-512-256'
		'Digest username="larry", realm="demo", nonce="n", uri="/ddemo/", response="r", userhash=true'
		"Digest username=\"larry\", realm=\"demo\", nonce=\"n\", uri=\"/ddemo/\", response=\"r\", $(printf 'x%d=1, ' $(seq 300))z=1"
		"Basic $cred, Digest username=\"larry\""
	)
	for path in /bdemo/ /ddemo/ /basic/ /dfile/; do
		for v in "${bad[@]}"; do
			i=$((i + 1))
			out=$(printf 'GET %s HTTP/1.1\r\nHost: t\r\nAuthorization: %s\r\nConnection: close\r\n\r\n' \
			    "$path" "$v" | "$IHTTPD" -c "$CONF" --max_header_size 64k \
			    --log_level 4 2>"$T/stderr")
			rc=$?
			code=$(head -1 <<<"$out" | awk '{print $2}')
			if [ "$rc" -ne 0 ] || ! [[ $code =~ ^40[01]$ ]] ||
			    [ -s "$T/stderr" ]; then
				echo "#$i $path '${v:0:70}': rc=$rc code=$code" >&2
				cat "$T/stderr" >&2
				return 1
			fi
		done
	done
	[ "$i" -ge 60 ]
	run cat "$ERR" "$ACC"
	hasnt 'wall'
	hasnt 'bGFycnk6d2FsbA'
	hasnt 'bGFycnl3YWxs'
	hasnt 'aaaaaaaaaaaaaaaa'
}

@test "wrong passwords are logged without the password or the credential string" {
	srv --log_level 4 --debug AUTH --debug_log "$T/debug.log"
	local cred
	cred=$(printf 'larry:S3cr3t-Guess' | base64)
	[ "$(st -H "Authorization: Basic $cred" "$(url /bdemo/)")" = 401 ]
	[ "$(st --basic -u larry:wall "$(url /bdemo/)")" = 200 ]
	[ "$(st --digest -u larry:S3cr3t-Guess "$(url /ddemo/)")" = 401 ]
	[ "$(st --basic -u bob:S3cr3t-Guess "$(url /basic/)")" = 401 ]
	run cat "$ERR" "$ACC" "$T/debug.log" "$TCPSERVER_LOG"
	has 'larry'
	hasnt 'S3cr3t'
	hasnt "${cred:0:12}"
	hasnt 'bGFycnk6d2FsbA'
	hasnt 'wall'
}

# ---- config ------------------------------------------------------------------------------

@test "config: bad auth arguments fail --check" {
	local line
	for line in \
	    'AuthTrans fn=auth-digest realm="r" algorithm=SHA-1 lookup=demo-users' \
	    'AuthTrans fn=auth-digest realm="r" qop=auth-int lookup=demo-users' \
	    'AuthTrans fn=auth-digest realm="r"' \
	    'AuthTrans fn=auth-basic realm="r" lookup=nobody-users' \
	    'AuthTrans fn=auth-basic lookup=demo-users' \
	    'AuthTrans fn=auth-basic realm="r" userfile=/x lookup=demo-users' \
	    'AuthTrans fn=auth-basic realm="r" lookup=demo-users colour=red'; do
		setup
		printf '<Object ppath="/z">\n  %s\n</Object>\n' "$line" >>"$CONF"
		run "$IHTTPD" -c "$CONF" --check --error_log stderr
		[ "$status" -eq 1 ] || { echo "accepted: $line" >&2; return 1; }
		has 'auth\.conf:[0-9]+: '
	done
}

# ---- concurrency ----------------------------------------------------------------------------

@test "8 parallel curl --digest clients all get in (fresh datadir: the secret race too)" {
	[ ! -e "$T/data" ]
	srv
	local i pids=() n=0
	for i in 1 2 3 4 5 6 7 8; do
		curl -s --max-time 10 --digest -u larry:wall \
		    -o "$T/out.$i" -w '%{http_code}' "$(url /ddemo/)" \
		    >"$T/code.$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || true
	done
	for i in 1 2 3 4 5 6 7 8; do
		[ "$(cat "$T/code.$i")" = 200 ] && n=$((n + 1))
		grep -q '<th>REMOTE_USER</th><td>larry</td>' "$T/out.$i" ||
		    echo "client $i: $(cat "$T/code.$i")" >&2
	done
	[ "$n" -eq 8 ]
	[ "$(stat -c '%s' "$T/data/secret/digest.secret")" = 32 ]
	# eight nonces recorded once each, nc 1
	run python3 "$DIG" table "$T/data/nonces/digest.table"
	[ "$(grep -c '^ENTRY .* 1$' <<<"$output")" -eq 8 ]
	[ "$(grep -c '^ENTRY ' <<<"$output")" -eq 8 ]
}
