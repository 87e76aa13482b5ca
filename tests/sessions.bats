#!/usr/bin/env bats
# Server-side sessions: curl cookie jars on /counter, the Set-Cookie
# format, ids the server did not issue (forged, malformed, duplicated),
# the store on disk (modes, format, temp+rename, saved only if changed,
# one .lock file), nothing made by requests that store nothing, expiry by
# session_ttl (pipe mode with IHTTPD_FIXED_TIME), the form login and
# logout, 16 concurrent clients on one session, lock_timeout against a
# lock held by another process, max_sessions, a full datadir and a full
# store or spool on their own file systems (tiny tmpfs mounts, as root),
# close-on-exec files, and the GC.  tcpserver on 127.0.0.1 (stopped by
# pid in teardown) and pipe mode.

load helpers
load fixtures/forms/common

setup_file() {
	snapshot_binary || return 1
}

setup() {
	cd "$ROOT" || return 1
	T=$BATS_TEST_TMPDIR
	D=$T/data
	S=$D/sessions
	CONF=$T/sessions.conf
	# Expiry compares the store files' mtimes (the real clock) with the
	# server's clock: pin that to now, not to the golden Date of helpers.
	export IHTTPD_FIXED_TIME=$(date +%s)
	write_forms_conf
}

# get PATH [CURL-ARGS...]: head and body of one request in $output.
get() {
	local p=$1
	shift
	run curl -s --max-time 10 -D - "$@" "$(url "$p")"
}

# The session id set by the response in $output ("" when none).
set_id() {
	sed -n 's/^Set-Cookie: ihttpd_session=\([^;]*\);.*/\1/p' <<<"$output" |
	    tr -d '\r'
}

# pcounter COOKIE-HEADER-LINE [ihttpd args]: GET /counter in pipe mode.
pcounter() {
	local c=$1
	shift
	pipe_req "GET /counter HTTP/1.1\r\nHost: t\r\n${c}Connection: close\r\n\r\n" \
	    -c "$CONF" "$@"
}

# ---- the counter and the cookie --------------------------------------------------

@test "a curl cookie jar on /counter counts 1, 2, 3; a new jar starts again at 1" {
	local i
	srv
	for i in 1 2 3; do
		run curl -s --max-time 5 -c "$T/jar" -b "$T/jar" "$(url /counter)"
		[ "$output" = "visits: $i" ] || { echo "got '$output'" >&2; return 1; }
	done
	run curl -s --max-time 5 -c "$T/jar2" -b "$T/jar2" "$(url /counter)"
	[ "$output" = "visits: 1" ]
	# one cookie per jar, different ids, one store file each
	[ "$(grep -c ihttpd_session "$T/jar")" -eq 1 ]
	[ "$(awk '$6 == "ihttpd_session" {print $7}' "$T/jar")" != \
	    "$(awk '$6 == "ihttpd_session" {print $7}' "$T/jar2")" ]
	# two store files and the one lock file, nothing else
	[ "$(ls -A "$S" | grep -Ec '^[A-Za-z0-9_-]{22}$')" -eq 2 ]
	[ "$(ls -A "$S" | wc -l)" -eq 3 ]
	[ -f "$S/.lock" ]
}

@test "Set-Cookie: 22 base64url characters (128 bits), exactly Path=/; HttpOnly; SameSite=Lax; sent only for a new session" {
	srv
	local ids=() i id
	for i in 1 2 3 4 5; do
		get /counter
		has '^HTTP/1\.1 200 '
		[ "$(grep -c '^Set-Cookie:' <<<"$output")" -eq 1 ]
		has $'^Set-Cookie: ihttpd_session=[A-Za-z0-9_-]{22}; Path=/; HttpOnly; SameSite=Lax\r$'
		id=$(set_id)
		# 128 bits in 22 characters: the last one carries 2 bits
		[[ $id =~ [AQgw]$ ]]
		ids+=("$id")
	done
	[ "$(printf '%s\n' "${ids[@]}" | sort -u | wc -l)" -eq 5 ]
	# a known session gets no new cookie
	get /counter -b "ihttpd_session=${ids[0]}"
	has '^visits: 2'
	hasnt '^Set-Cookie'
}

@test "session_cookie names the cookie" {
	srv --session_cookie sid
	get /counter
	has $'^Set-Cookie: sid=[A-Za-z0-9_-]{22}; Path=/; HttpOnly; SameSite=Lax\r$'
	local id
	id=$(sed -n 's/^Set-Cookie: sid=\([^;]*\);.*/\1/p' <<<"$output")
	get /counter -b "sid=$id"
	has '^visits: 2'
	get /counter -b "ihttpd_session=$id"
	has '^visits: 1'
}

# ---- ids the server did not issue ---------------------------------------------------

@test "a forged id of valid form is not adopted: a fresh id, visits 1, no file under the forged name" {
	srv
	local forged=AAAAAAAAAAAAAAAAAAAAAA new
	get /counter -b "ihttpd_session=$forged"
	has '^visits: 1'
	new=$(set_id)
	[[ $new =~ ^[A-Za-z0-9_-]{22}$ ]]
	[ "$new" != "$forged" ]
	[ ! -e "$S/$forged" ]
	[ ! -e "$S/$forged.lock" ]
	[ -z "$(find "$D" -name "*$forged*")" ]
	# the forged id stays unknown on the next visit
	get /counter -b "ihttpd_session=$forged"
	has '^visits: 1'
	[ "$(set_id)" != "$forged" ]
	[ "$(set_id)" != "$new" ]
	[ ! -e "$S/$forged" ]
}

@test "bad session cookies (too long, bad characters, empty, quoted, duplicated) get a fresh session, never 500" {
	srv
	local good long c n=0 id
	get /counter
	good=$(set_id)
	long=$(head -c 300 /dev/zero | tr '\0' A)
	local -a bad=(
		"ihttpd_session=$long"
		"ihttpd_session=$(head -c 4000 /dev/zero | tr '\0' B)"
		"ihttpd_session=${good}A"
		"ihttpd_session=${good:0:21}"
		'ihttpd_session=../../../../etc/passwd'
		'ihttpd_session=..%2F..%2F..%2Fetc%2Fpwd'
		'ihttpd_session=AAAAAAAAAAAAAAAAAAAA/A'
		'ihttpd_session=AAAAAAAAAAAAAAAAAAAAA.'
		'ihttpd_session=AAAAAAAAAAAAAAAAAAAA+/'
		"ihttpd_session=${good:0:21}="
		"ihttpd_session=\"$good\""
		'ihttpd_session='
		'ihttpd_session'
		'='
		';;;'
		"ihttpd_session =$good"
		"IHTTPD_SESSION=$good"
		"xihttpd_session=$good"
		'ihttpd_session=CCCCCCCCCCCCCCCCCCCCCC; ihttpd_session=DDDDDDDDDDDDDDDDDDDDDD'
		"ihttpd_session=CCCCCCCCCCCCCCCCCCCCCC; ihttpd_session=$long"
	)
	for c in "${bad[@]}"; do
		n=$((n + 1))
		get /counter -H "Cookie: $c"
		if ! grep -q '^HTTP/1\.1 200 ' <<<"$output" ||
		    ! grep -q '^visits: 1' <<<"$output"; then
			echo "#$n '${c:0:60}': $(head -1 <<<"$output")" >&2
			return 1
		fi
		id=$(set_id)
		[[ $id =~ ^[A-Za-z0-9_-]{22}$ ]] && [ "$id" != "$good" ] ||
		    { echo "#$n: id '$id'" >&2; return 1; }
	done
	# nothing but 22-character ids (and the one .lock) in the store
	[ -z "$(ls -A "$S" | grep -Ev '^([A-Za-z0-9_-]{22}|\.lock)$')" ]
	[ ! -e "$S/CCCCCCCCCCCCCCCCCCCCCC" ]
	[ ! -e "$S/DDDDDDDDDDDDDDDDDDDDDD.lock" ]
	[ -z "$(find "$T" / -maxdepth 2 -name passwd -newer "$CONF" 2>/dev/null)" ]
	# the good session was left alone
	get /counter -b "ihttpd_session=$good"
	has '^visits: 2'
	# among other cookies, and in a second Cookie field
	get /counter -H "Cookie: a=1; ihttpd_session=$good; b=2"
	has '^visits: 3'
	get /counter -H 'Cookie: a=1' -H "Cookie: ihttpd_session=$good"
	has '^visits: 4'
}

# ---- the store --------------------------------------------------------------------

@test "store: directory 0700, files 0600, \"ihttpd-session 1\" format; rewritten by rename only when changed" {
	srv
	local id ino
	get /counter
	id=$(set_id)
	[ "$(stat -c %a "$D")" = 700 ]
	[ "$(stat -c %a "$S")" = 700 ]
	[ "$(stat -c %a "$S/$id")" = 600 ]
	# one lock file for the whole store, none per session
	[ "$(stat -c %a "$S/.lock")" = 600 ]
	[ ! -e "$S/$id.lock" ]
	[ "$(head -1 "$S/$id")" = "ihttpd-session 1" ]
	# length-prefixed records: "6 1\nvisits1\n"
	[ "$(tail -c +18 "$S/$id" | od -An -c | tr -s ' ')" = \
	    "$(printf '6 1\nvisits1\n' | od -An -c | tr -s ' ')" ]
	# a read-only request does not rewrite the file
	ino=$(stat -c %i "$S/$id")
	get /login -b "ihttpd_session=$id"
	has '^HTTP/1\.1 200 '
	hasnt '^Set-Cookie'
	[ "$(stat -c %i "$S/$id")" = "$ino" ]
	# a change replaces it (temp + rename: a new inode), no temp left
	get /counter -b "ihttpd_session=$id"
	has '^visits: 2'
	[ "$(stat -c %i "$S/$id")" != "$ino" ]
	[ "$(stat -c %a "$S/$id")" = 600 ]
	[ -z "$(ls -A "$S" | grep '^\.' | grep -vx '\.lock')" ]
	# a handler without sessions opens none
	get /hello
	hasnt '^Set-Cookie'
	[ "$(ls -A "$S" | wc -l)" -eq 2 ]
}

@test "a store file that does not parse is not adopted: a fresh session" {
	srv
	local id
	get /counter
	id=$(set_id)
	printf 'ihttpd-session 1\n99 1\nvisits1\n' >"$S/$id"
	get /counter -b "ihttpd_session=$id"
	has '^visits: 1'
	[ "$(set_id)" != "$id" ]
	printf 'garbage' >"$S/$id"
	get /counter -b "ihttpd_session=$id"
	has '^visits: 1'
}

# ---- expiry -----------------------------------------------------------------------

@test "expiry: session_ttl 10, a session made at T is kept at T+5 and replaced at T+20" {
	local t0 id
	t0=$(date +%s)
	IHTTPD_FIXED_TIME=$t0 pcounter '' --session_ttl 10
	has '^visits: 1'
	id=$(set_id)
	[ -f "$S/$id" ]
	IHTTPD_FIXED_TIME=$((t0 + 5)) pcounter "Cookie: ihttpd_session=$id\r\n" \
	    --session_ttl 10
	has '^visits: 2'
	hasnt '^Set-Cookie'
	IHTTPD_FIXED_TIME=$((t0 + 20)) pcounter "Cookie: ihttpd_session=$id\r\n" \
	    --session_ttl 10
	has '^visits: 1'
	[ -n "$(set_id)" ]
	[ "$(set_id)" != "$id" ]
	# and the old id stays dead
	IHTTPD_FIXED_TIME=$((t0 + 21)) pcounter "Cookie: ihttpd_session=$id\r\n" \
	    --session_ttl 10
	has '^visits: 1'
}

# ---- login and logout -----------------------------------------------------------------

@test "login larry/wall: 303 to /login, 'logged in as larry'; logout expires the cookie and removes the file" {
	srv
	local id
	get /login -X POST -c "$T/jar" -b "$T/jar" -d 'user=larry&password=wall'
	has '^HTTP/1\.1 303 '
	has $'^Location: /login\r$'
	id=$(awk '$6 == "ihttpd_session" {print $7}' "$T/jar")
	[ -n "$id" ]
	[ -f "$S/$id" ]
	run curl -s --max-time 5 -b "$T/jar" "$(url /login)"
	has 'logged in as <b>larry</b>'
	# -L follows the 303 as a GET
	run curl -s --max-time 5 -L -b "$T/jar" -d 'user=larry&password=wall' \
	    "$(url /login)"
	has 'logged in as <b>larry</b>'
	get /logout -b "ihttpd_session=$id"
	has '^HTTP/1\.1 303 '
	has $'^Set-Cookie: ihttpd_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0\r$'
	[ ! -e "$S/$id" ]
	[ ! -e "$S/$id.lock" ]
	# the old cookie no longer logs in, and showing the form makes nothing
	local before
	before=$(ls -A "$S")
	get /login -b "ihttpd_session=$id"
	hasnt 'logged in as'
	has '<form method="post" action="/login">'
	hasnt '^Set-Cookie'
	[ "$(ls -A "$S")" = "$before" ]
	# and a jar that took the expiry holds no session cookie
	run curl -s --max-time 5 -c "$T/jar" -b "$T/jar" "$(url /logout)"
	! grep -q 'ihttpd_session' "$T/jar"
}

@test "login refusals: dr_evil/1million 403 'may not log in', wrong password and unknown user 403 'Wrong user or password'" {
	srv
	get /login -d 'user=dr_evil&password=1million'
	has '^HTTP/1\.1 403 '
	has 'That user may not log in\.'
	hasnt 'logged in as'
	get /login -d 'user=larry&password=Wall'
	has '^HTTP/1\.1 403 '
	has 'Wrong user or password\.'
	get /login -d 'user=dr_evil&password=2million'
	has 'Wrong user or password\.'
	get /login -d 'user=nobody&password=wall'
	has 'Wrong user or password\.'
	get /login -d 'user=&password=wall'
	has '^HTTP/1\.1 400 '
	get /login -d 'user=larry'
	has '^HTTP/1\.1 400 '
	# nothing stored for a refused login
	! grep -rq larry "$S"
}

@test "login issues a new session id (a session id planted before login is not logged in)" {
	srv
	local pre
	# the attacker's own session, a valid server-issued id (the login
	# form alone makes none: a stored value does)
	get /counter
	pre=$(set_id)
	[ -n "$pre" ]
	# the victim logs in carrying the planted id
	get /login -b "ihttpd_session=$pre" -d 'user=larry&password=wall'
	has '^HTTP/1\.1 303 '
	# the attacker's copy of the id must not be logged in
	get /login -b "ihttpd_session=$pre"
	hasnt 'logged in as'
}

# ---- concurrency ------------------------------------------------------------------------

@test "16 concurrent clients x 10 requests on one session: no lost update (161, then 162)" {
	PORT=$(free_port)
	TCPSERVER_LOG=$T/tcpserver.log
	tcpserver -c 64 -H -R -l 0 127.0.0.1 "$PORT" "$IHTTPD" -c "$CONF" \
	    --keepalive_timeout 1 >"$TCPSERVER_LOG" 2>&1 &
	TCPSERVER_PID=$!
	local i c id pids=()
	for i in $(seq 100); do
		curl -s --max-time 1 -o /dev/null "$(url /hello)" && break
		sleep 0.05
	done
	get /counter
	has '^visits: 1'
	id=$(set_id)
	for c in $(seq 16); do
		(
			for i in $(seq 10); do
				curl -s --max-time 20 -b "ihttpd_session=$id" \
				    "$(url /counter)"
			done >"$T/out.$c"
		) &
		pids+=($!)
	done
	for c in "${pids[@]}"; do
		wait "$c"
	done
	# each of 2..161 answered exactly once
	[ "$(cat "$T"/out.* | sed -n 's/^visits: //p' | sort -n | tr '\n' ' ')" = \
	    "$(seq 2 161 | tr '\n' ' ')" ]
	get /counter -b "ihttpd_session=$id"
	has '^visits: 162'
	hasnt '^Set-Cookie'
	# one session, the one lock file: nothing per request or per waiter
	run ls -A "$S"
	# byte order: a locale's collation skips punctuation, and an id
	# may begin with '-' or '_'
	[ "$(LC_ALL=C sort <<<"$output" | tr '\n' ' ')" = \
	    "$(printf '%s\n' .lock "$id" | LC_ALL=C sort | tr '\n' ' ')" ] ||
	    { echo "left: $output"; false; }
}

# ---- nothing made by requests that store nothing --------------------------------------

# pipe_file FILE [ihttpd args]: the requests in FILE through one piped
# connection; the responses in $output, stderr in $T/stderr.
pipe_file() {
	local f=$1
	shift
	run bash -c '"$1" -c "$2" "${@:5}" <"$3" 2>"$4"' _ "$IHTTPD" "$CONF" \
	    "$f" "$T/stderr" --keepalive_requests 1000 "$@"
}

# count REGEX: lines of $output that match.
count() {
	grep -Ec -- "$1" <<<"$output" || true
}

@test "50 cookie-less GET /login and /logout, a refused login, a dead id: no store file, no lock file, no Set-Cookie" {
	local i
	for i in $(seq 50); do
		printf 'GET /login HTTP/1.1\r\nHost: t\r\n\r\n'
		printf 'GET /logout HTTP/1.1\r\nHost: t\r\n\r\n'
	done >"$T/req"
	printf 'POST /login HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 24\r\n\r\nuser=larry&password=Wall' >>"$T/req"
	printf 'GET /login HTTP/1.1\r\nHost: t\r\nCookie: ihttpd_session=AAAAAAAAAAAAAAAAAAAAAA\r\n\r\n' >>"$T/req"
	pipe_file "$T/req"
	[ "$(count '^HTTP/1\.1 200 ')" -eq 51 ]
	[ "$(count '^HTTP/1\.1 303 ')" -eq 50 ]
	[ "$(count '^HTTP/1\.1 403 ')" -eq 1 ]
	[ "$(count '<form method="post" action="/login">')" -eq 52 ]
	hasnt '^Set-Cookie'
	# nothing on disk: no store file, no lock, not even the directory
	[ -z "$(find "$D" -mindepth 1 2>/dev/null)" ]
}

@test "max_sessions 5: 50 cookie-less /counter hits make 5 sessions, the rest get 503 with Retry-After; live sessions still count" {
	local i first
	for i in $(seq 50); do
		printf 'GET /counter HTTP/1.1\r\nHost: t\r\n\r\n'
	done >"$T/req"
	pipe_file "$T/req" --max_sessions 5
	[ "$(count '^visits: 1')" -eq 5 ]
	[ "$(count '^Set-Cookie: ihttpd_session=')" -eq 5 ]
	[ "$(count '^HTTP/1\.1 503 ')" -eq 45 ]
	[ "$(count $'^Retry-After: [0-9]+\r$')" -eq 45 ]
	[ "$(ls -A "$S" | grep -Ec '^[A-Za-z0-9_-]{22}$')" -eq 5 ]
	[ "$(ls -A "$S" | wc -l)" -eq 6 ]
	grep -q 'new session: max_sessions reached' "$T/error.log"
	first=$(set_id | head -1)
	pcounter "Cookie: ihttpd_session=$first\r\n" --max_sessions 5
	has '^visits: 2'
	# a login past the bound: 503, try later (never 500)
	pipe_req 'POST /login HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 24\r\nConnection: close\r\n\r\nuser=larry&password=wall' \
	    -c "$CONF" --max_sessions 5
	has '^HTTP/1\.1 503 '
	hasnt '^Set-Cookie'
	[ "$(ls -A "$S" | wc -l)" -eq 6 ]
}

# ---- the lock deadline ------------------------------------------------------------------

@test "lock_timeout 1: the store's lock held by another process: 503 with Retry-After in 1 to 3 s, not a hang; a stranger's form needs no lock" {
	local id i t0 ms
	pcounter ''
	id=$(set_id)
	[ -n "$id" ]
	[ -f "$S/.lock" ]
	# An OFD write lock over the whole file (every session's byte).
	python3 -c '
import fcntl, os, struct, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
# struct flock: l_type, l_whence, l_start, l_len (0: to the end), l_pid
fcntl.fcntl(fd, fcntl.F_OFD_SETLK,
            struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0))
print("held", flush=True)
time.sleep(60)
' "$S/.lock" >"$T/holder" 2>&1 3>&- &
	HOLDER_PID=$!
	for i in $(seq 100); do
		grep -q held "$T/holder" && break
		sleep 0.05
	done
	grep -q held "$T/holder"
	t0=$(date +%s%N)
	pcounter "Cookie: ihttpd_session=$id\r\n" --lock_timeout 1
	ms=$((($(date +%s%N) - t0) / 1000000))
	echo "# 503 after $ms ms" >&3
	has '^HTTP/1\.1 503 '
	has $'^Retry-After: [0-9]+\r$'
	[ "$ms" -ge 900 ] && [ "$ms" -lt 3000 ]
	grep -q 'session lock: lock not granted within lock_timeout' "$T/error.log"
	# making a session needs the lock too
	pcounter '' --lock_timeout 1
	has '^HTTP/1\.1 503 '
	hasnt '^Set-Cookie'
	# showing the form to a stranger takes none: at once
	t0=$(date +%s%N)
	pipe_req 'GET /login HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' \
	    -c "$CONF" --lock_timeout 1
	ms=$((($(date +%s%N) - t0) / 1000000))
	has '^HTTP/1\.1 200 '
	[ "$ms" -lt 900 ]
	kill "$HOLDER_PID"
	wait "$HOLDER_PID" 2>/dev/null || true
	HOLDER_PID=
	pcounter "Cookie: ihttpd_session=$id\r\n" --lock_timeout 1
	has '^visits: 2'
}

# ---- full disks -------------------------------------------------------------------------

@test "a full datadir (tmpfs of 64k, 24 inodes): a login keeps its data, 50 hits each to /login, /logout, /counter make nothing, then at most max_sessions; no lock file left" {
	local id i
	tiny_tmpfs "$D"
	srv --max_sessions 5
	get /login -X POST -c "$T/jar" -d 'user=larry&password=wall'
	has '^HTTP/1\.1 303 '
	id=$(awk '$6 == "ihttpd_session" {print $7}' "$T/jar")
	[ -f "$S/$id" ]
	cp "$S/$id" "$T/before"
	fill "$D"
	# the existing session still loads, with its data
	get /login -b "ihttpd_session=$id"
	has 'logged in as <b>larry</b>'
	# a change that cannot be written: 503, and the last good state kept
	get /counter -b "ihttpd_session=$id"
	has '^HTTP/1\.1 503 '
	has $'^Retry-After: [0-9]+\r$'
	cmp "$S/$id" "$T/before"
	grep -q 'session save: No space left on device' "$T/error.log"
	get /login -b "ihttpd_session=$id"
	has 'logged in as <b>larry</b>'
	# strangers: nothing made, no cookie; /counter cannot make one (503)
	for i in $(seq 50); do
		printf 'GET /login HTTP/1.1\r\nHost: t\r\n\r\n'
		printf 'GET /logout HTTP/1.1\r\nHost: t\r\n\r\n'
		printf 'GET /counter HTTP/1.1\r\nHost: t\r\n\r\n'
	done >"$T/req"
	pipe_file "$T/req" --max_sessions 5
	[ "$(count '^HTTP/1\.1 200 ')" -eq 50 ]
	[ "$(count '^HTTP/1\.1 303 ')" -eq 50 ]
	[ "$(count '^HTTP/1\.1 503 ')" -eq 50 ]
	hasnt '^Set-Cookie'
	run ls -A "$S"
	# byte order: a locale's collation skips punctuation, and an id
	# may begin with '-' or '_'
	[ "$(LC_ALL=C sort <<<"$output" | tr '\n' ' ')" = \
	    "$(printf '%s\n' .lock "$id" | LC_ALL=C sort | tr '\n' ' ')" ] ||
	    { echo "left: $output"; false; }
	# room again: /counter makes sessions up to max_sessions (larry's is
	# one of the 5), then 503
	rm -f "$D"/fill.*
	pipe_file "$T/req" --max_sessions 5
	[ "$(count '^visits: 1')" -eq 4 ]
	[ "$(count '^Set-Cookie: ihttpd_session=[A-Za-z0-9_-]{22};')" -eq 4 ]
	[ "$(count '^HTTP/1\.1 503 ')" -eq 46 ]
	[ "$(ls -A "$S" | grep -Ec '^[A-Za-z0-9_-]{22}$')" -eq 5 ]
	# no lock file but the store's one, no temporary, anywhere
	[ "$(find "$D" -name '*lock*')" = "$S/.lock" ]
	[ -z "$(find "$D" -mindepth 1 -name '.*' ! -name .lock)" ]
	get /login -b "ihttpd_session=$id"
	has 'logged in as <b>larry</b>'
	cmp "$S/$id" "$T/before"
}

@test "a full session store on its own file system (datadir/sessions) does not stop uploads" {
	local id
	mkdir -p "$D"
	chmod 700 "$D"
	tiny_tmpfs "$S"
	srv --max_body 10m
	get /login -X POST -c "$T/jar" -d 'user=larry&password=wall'
	has '^HTTP/1\.1 303 '
	id=$(awk '$6 == "ihttpd_session" {print $7}' "$T/jar")
	fill "$S"
	head -c 2M /dev/urandom >"$T/f2m"
	run curl -s --max-time 30 -F "a=@$T/f2m" -F note=kept "$(url /env)"
	has '^<tr><th>note</th><td>kept</td></tr>'
	# the store itself: larry still in, a new login 503
	get /login -b "ihttpd_session=$id"
	has 'logged in as <b>larry</b>'
	get /login -X POST -d 'user=larry&password=wall'
	has '^HTTP/1\.1 503 '
}

@test "a full upload spool on its own file system (datadir/uploads) does not stop logins" {
	mkdir -p "$D"
	chmod 700 "$D"
	tiny_tmpfs "$D/uploads"
	fill "$D/uploads"
	srv --max_body 10m
	head -c 2M /dev/urandom >"$T/f2m"
	# the spool is full: the file part cannot be spooled, the field
	# after it is not reached
	run curl -s --max-time 30 -F "a=@$T/f2m" -F note=kept "$(url /env)"
	hasnt 'note'
	# a handler that checks ih_parse_body: the store failed, 503
	run curl -s --max-time 30 -D - -o /dev/null -F "a=@$T/f2m" \
	    -F user=larry -F password=wall "$(url /login)"
	has '^HTTP/1\.1 503 '
	has '^Retry-After: '
	# while sessions, in datadir/sessions on the other file system, work
	get /login -X POST -c "$T/jar" -d 'user=larry&password=wall'
	has '^HTTP/1\.1 303 '
	run curl -s --max-time 5 -b "$T/jar" "$(url /login)"
	has 'logged in as <b>larry</b>'
}

# ---- close-on-exec ----------------------------------------------------------------------

@test "every file the session store opens is close-on-exec (.lock, store files, temporaries)" {
	strace -o /dev/null true 2>/dev/null || skip "strace cannot trace here"
	# LeakSanitizer (make asan) refuses to run under ptrace
	NOLSAN=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	local id
	printf 'GET /counter HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' >"$T/req"
	ASAN_OPTIONS=$NOLSAN strace -e trace=open,openat -o "$T/t1" "$IHTTPD" \
	    -c "$CONF" <"$T/req" >"$T/o1" 2>/dev/null
	id=$(sed -n 's/^Set-Cookie: ihttpd_session=\([^;]*\);.*/\1/p' "$T/o1")
	[ -n "$id" ]
	printf 'GET /counter HTTP/1.1\r\nHost: t\r\nCookie: ihttpd_session=%s\r\nConnection: close\r\n\r\n' \
	    "$id" >"$T/req"
	ASAN_OPTIONS=$NOLSAN strace -e trace=open,openat -o "$T/t2" "$IHTTPD" \
	    -c "$CONF" <"$T/req" >"$T/o2" 2>/dev/null
	grep -q '^visits: 2' "$T/o2"
	cat "$T/t1" "$T/t2" | grep -F "\"$S/" >"$T/opens"
	grep -qF "\"$S/.lock\"" "$T/opens"
	grep -qF "\"$S/.$id." "$T/opens"
	grep -qF "\"$S/$id\"" "$T/opens"
	[ -z "$(grep -v O_CLOEXEC "$T/opens")" ]
}

# ---- GC ---------------------------------------------------------------------------------

@test "GC: 50 expired store files (2 days old, session_ttl 60) and lock files of the old layout are collected by making sessions" {
	local i f req n=0 left=50
	mkdir -p "$S"
	chmod 700 "$D" "$S"
	for i in $(seq 50); do
		f=$S/$(printf 'old%019d' "$i")
		printf 'ihttpd-session 1\n6 1\nvisits7\n' >"$f"
		touch -d '2 days ago' "$f"
		touch -d '2 days ago' "$f.lock"
	done
	# a fresh, unexpired file that must survive
	printf 'ihttpd-session 1\n' >"$S/keepkeepkeepkeepkeep00"
	# 50 keep-alive requests per connection, each making a new session
	# (1 in 100 sweeps the store); at most 20 connections (1000 sessions
	# made: P(no collection) < 1e-4)
	for i in $(seq 50); do
		printf 'GET /counter HTTP/1.1\r\nHost: t\r\n\r\n'
	done >"$T/req"
	for i in $(seq 20); do
		"$IHTTPD" -c "$CONF" --session_ttl 60 <"$T/req" >"$T/out" 2>/dev/null
		n=$((n + 50))
		left=$(ls "$S" | grep -c '^old' || true)
		[ "$left" -eq 0 ] && break
	done
	echo "# GC: after $n sessions made, $left of 100 old files (data+lock) left" >&3
	[ "$(grep -c '^visits: 1' "$T/out")" -eq 50 ]
	[ "$left" -eq 0 ]
	[ -f "$S/keepkeepkeepkeepkeep00" ]
}

# ---- a datadir only we may write ---------------------------------------------------

@test "a sessions directory others may write is refused (503), never trusted: no planted session is adopted" {
	mkdir -p "$S"
	chmod 700 "$D"
	chmod 777 "$S"
	printf 'ihttpd-session 1\n4 5\nuserlarry\n' >"$S/AAAAAAAAAAAAAAAAAAAAAA"
	pipe_req "GET /login HTTP/1.1\r\nHost: t\r\nCookie: ihttpd_session=AAAAAAAAAAAAAAAAAAAAAA\r\nConnection: close\r\n\r\n" -c "$CONF"
	hasnt 'logged in as'
	[ "$(resp_status)" = 503 ]
	grep -q 'sessions: writable by group or others' "$T/error.log"
	chmod 700 "$S"
	pcounter ''
	[ "$(resp_status)" = 200 ]
}

@test "a FIFO where the Digest secret belongs: 503 at once, no hang" {
	mkdir -p "$D/secret"
	chmod 700 "$D" "$D/secret"
	mkfifo "$D/secret/digest.secret"
	printf '<Object ppath="/private">\n  AuthTrans fn=auth-digest realm=r lookup=demo-users\n</Object>\n' >>"$CONF"
	run timeout 10 bash -c 'printf "GET /private/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" | "$1" -c "$2" 2>/dev/null' _ "$IHTTPD" "$CONF"
	[ "$status" -eq 0 ]
	[ "$(resp_status)" = 503 ]
}
