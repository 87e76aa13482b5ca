#!/usr/bin/env bats
# CGI/1.1 (src/cgi.c, RFC 3875) with real scripts in sh, Perl (CGI.pm
# too) and Python: the environment built fresh (RFC 3875 names, HTTP_*,
# httpoxy, no leak of the server's own, cgi_pass_env, cgi_path, TLS),
# the script's process (own session and group, fds 0-2 only, rlimits),
# argv from a query without '=', PATH_INFO, no way out of dir=, bodies
# (spooled, chunked, Expect: 100-continue, CGI.pm forms and uploads),
# the script's header block (Status, Location local and client, passed
# and dropped fields, malformed, too big), framing (Content-Length,
# 16 KiB, chunked, close), NPH, cgi_timeout (504, the process group
# killed, no zombie), stderr to the error log (bounded), 100 MiB
# streamed in constant memory, a script killed mid-body, the file modes
# cgi_strict refuses, .cgi files in the docroot, keep-alive and HEAD;
# through pipe mode, tcpserver (inetd) and the standalone prefork
# server; --check.
#
# The scripts are tests/fixtures/cgi/*; each test copies them into its
# own cgi-bin directory and sets their modes there (git need not keep
# them).  Pipe mode goes through client.py, which keeps ihttpd's
# standard input open until the answer is complete, as a real client
# does.  Every wait is a bounded poll; no assertion is on a duration
# (the one that needs cgi_timeout not to fire leaves it 2.8 s of slack).

load helpers
load daemon
bats_require_minimum_version 1.5.0

FIX=$BATS_TEST_DIRNAME/fixtures/cgi
CLIENT=$FIX/client.py

# The names a script may see (the spec's list); anything else leaked.
KNOWN='GATEWAY_INTERFACE|SERVER_(SOFTWARE|NAME|PORT|ADDR|PROTOCOL)|REQUEST_(METHOD|URI)|SCRIPT_(NAME|FILENAME)|PATH_(INFO|TRANSLATED)|QUERY_STRING|DOCUMENT_ROOT|REMOTE_(ADDR|PORT|HOST|USER)|AUTH_TYPE|CONTENT_(TYPE|LENGTH)|REDIRECT_STATUS|HTTPS|SSL_[A-Z_]+|PATH|HTTP_[A-Z0-9_]+'

setup_file() {
	snapshot_binary || return 1
}

setup() {
	local f n
	cd "$ROOT" || return 1
	unset TCPREMOTEIP TCPREMOTEPORT TCPLOCALIP TCPLOCALPORT LEAKME LEAK2
	T=$(cd "$BATS_TEST_TMPDIR" && pwd -P)
	DOC=$T/www
	CGI=$T/cgi-bin
	DATA=$T/data
	mkdir -p "$DOC/secret" "$CGI" || return 1
	chmod 755 "$DOC" "$DOC/secret" "$CGI"
	for f in "$FIX"/*; do
		n=${f##*/}
		case $n in
		client.py | page.cgi) continue ;;
		esac
		cp "$f" "$CGI/$n" && chmod 755 "$CGI/$n" || return 1
	done
	cp "$FIX/page.cgi" "$DOC/page.cgi" && chmod 755 "$DOC/page.cgi"
	printf 'hello from the docroot\n' >"$DOC/hello.txt"
	printf 'secret file\n' >"$DOC/secret/s.txt"
	CONF=$T/cgi.conf
	ERRLOG=$T/error.log
	OBJ=()
	conf
	SERVERS=()
	HELPERS=()
	NSERV=0
}

teardown() {
	local p f bad=
	stop_tcpserver || bad=1
	stop_started
	# A fixture's process the server failed to kill: by its pid, and
	# only while it still runs in the test's cgi directory.
	for f in "$CGI"/*.pid; do
		[ -f "$f" ] || continue
		p=$(cat "$f")
		[[ $p =~ ^[0-9]+$ ]] || continue
		if alive "$p" && [ "$(readlink "/proc/$p/cwd")" = "$CGI" ]; then
			echo "left running: $f ($p)" >&2
			kill -KILL "$p" 2>/dev/null
			bad=1
		fi
	done
	crash_free || bad=1
	[ -z "$bad" ]
}

# conf [LINE...]: $CONF: docroot, datadir and logs in $T, /secret for
# 127.0.0.1 only, /cgi-bin mapped to $CGI (with the lines of OBJ before
# its Service), then each LINE (global keys, more objects).  The error
# log is $ERRLOG (stderr for the standalone server).
conf() {
	local l
	{
		cat <<-EOF
		docroot           $DOC
		datadir           $DATA
		mimetypes         $ROOT/conf/mime.types
		access_log        $T/access.log
		error_log         $ERRLOG
		log_level         3
		header_timeout    5
		body_timeout      5
		keepalive_timeout 2
		<Object ppath="/secret">
		  PathCheck fn=acl cidr_allow=127.0.0.1
		</Object>
		<Object ppath="/cgi-bin">
		EOF
		for l in "${OBJ[@]}"; do
			printf '  %s\n' "$l"
		done
		printf '  Service fn=cgi dir=%s\n</Object>\n' "$CGI"
		for l in "$@"; do
			printf '%s\n' "$l"
		done
	} >"$CONF"
}

# rq METHOD TARGET [FIELD...]: an HTTP/1.1 request (Python escapes) with
# Host: t, the FIELDs and Connection: close.
rq() {
	local s="$1 $2 HTTP/1.1\r\nHost: t\r\n" f
	shift 2
	for f in "$@"; do
		s+="$f\r\n"
	done
	printf '%s' "${s}Connection: close\r\n\r\n"
}

# creq 'REQUEST' [ihttpd args...]: one connection through pipe mode; the
# bytes received in $output, the exit status in $status, ihttpd's
# standard error in $stderr.
creq() {
	local r=$1
	shift
	run --separate-stderr python3 "$CLIENT" pipe 30 "$r" "$IHTTPD" \
	    -c "$CONF" "$@"
}

# creq_to FILE 'REQUEST' [ihttpd args...]: the same, the bytes into FILE.
creq_to() {
	local out=$1 r=$2
	shift 2
	python3 "$CLIENT" pipe 30 "$r" "$IHTTPD" -c "$CONF" "$@" >"$out" \
	    2>"$T/stderr"
}

# responses FILE [--head]: the responses in FILE (client.py split), in
# $output and $lines.
responses() {
	run python3 "$CLIENT" split "$@"
}

# inetd [ihttpd args...]: ihttpd on $CONF under tcpserver on $PORT.
inetd() {
	start_tcpserver -c "$CONF" "$@"
}

# prefork [conf LINEs...]: the standalone prefork server on port 0 with
# conf LINEs, its error log on its standard error ($SA_ERR).
prefork() {
	ERRLOG=stderr conf "$@"
	sa $(targs prefork)
}

# The body of the response in $output (after the first empty line).
body() {
	sed '1,/^\r$/d' <<<"$output"
}

# dump_lines NAME: the lines of the env dump in $output for NAME.
dump_lines() {
	body | awk -v n="$1=" 'index($0, n) == 1'
}

# is_var NAME VALUE: an env dump in $output sets NAME to VALUE, once.
is_var() {
	local got
	got=$(dump_lines "$1")
	[ "$got" = "$1=$2" ] && return 0
	printf 'want %s=%s, got: %s\n' "$1" "$2" "${got:-(unset)}" >&2
	return 1
}

# no_var NAME...: none of the NAMEs is set.
no_var() {
	local n
	for n in "$@"; do
		if [ -n "$(dump_lines "$n")" ]; then
			echo "set, but must not be: $(dump_lines "$n")" >&2
			return 1
		fi
	done
}

# only_known_vars: every variable in the dump is one the spec names.
only_known_vars() {
	local bad
	bad=$(body | grep -oE '^[A-Za-z_][A-Za-z0-9_]*=' | sed 's/=$//' |
	    grep -vxE "$KNOWN|ARGC" || true)
	[ -z "$bad" ] && return 0
	echo "variables the server must not set:" $bad >&2
	return 1
}

# code CURL-ARGS...: the status code curl got.
code() {
	curl -s --max-time 30 -o /dev/null -w '%{http_code}' "$@"
}

# pid NAME: the pid a fixture wrote to $CGI/NAME.pid.
pid() {
	cat "$CGI/$1.pid"
}

# pids_gone NAME...: each pid in $CGI/NAME.pid ends within 10 s.
pids_gone() {
	local n p
	for n in "$@"; do
		p=$(pid "$n") || return 1
		wait_for 10 gone "$p" || {
			echo "$n.pid ($p) is still running" >&2
			return 1
		}
	done
}

# no_zombie_below PID: no process below PID is a zombie.
no_zombie_below() {
	local p st
	for p in $(descendants "$1"); do
		st=$(sed 's/.*) //; s/ .*//' "/proc/$p/stat" 2>/dev/null) ||
		    continue
		[ "$st" != Z ] || return 1
	done
}

# VmHWM (peak RSS, KiB) of PID.
hwm() {
	awk '/^VmHWM:/ {print $2}' "/proc/$1/status"
}

# the size and SHA-256 of a file, as body.pl prints them
sum_line() {
	printf 'read %s bytes, sha256 %s' "$(stat -c %s "$1")" \
	    "$(sha256sum <"$1" | cut -c1-64)"
}

need_cgi_pm() {
	perl -MCGI -e1 2>/dev/null ||
	    skip "Perl's CGI.pm is missing (Debian package libcgi-pm-perl)"
}

# ---- the environment -------------------------------------------------------

# env_dump SCRIPT: the RFC 3875 variables of a GET through pipe mode.
env_dump() {
	export LEAKME=1
	creq 'GET /cgi-bin/'"$1"'/x/y?q=1&r=%41 HTTP/1.1\r\nHost: www.test:8080\r\nX-Foo: a\r\nX_Foo: b\r\nProxy: evil\r\nX-Multi: one\r\nX-Multi: two\r\nCookie: a=1\r\nCookie: b=2\r\nConnection: close\r\n\r\n' \
	    --remote_addr 10.1.2.3
	[ "$status" -eq 0 ]
	[ "$(resp_status)" = 200 ]
	has $'^Content-Type: text/plain'
	is_var GATEWAY_INTERFACE CGI/1.1
	is_var SERVER_PROTOCOL HTTP/1.1
	is_var REQUEST_METHOD GET
	is_var REQUEST_URI "/cgi-bin/$1/x/y?q=1&r=%41"
	is_var SCRIPT_NAME "/cgi-bin/$1"
	is_var SCRIPT_FILENAME "$CGI/$1"
	is_var PATH_INFO /x/y
	is_var PATH_TRANSLATED "$DOC/x/y"
	is_var QUERY_STRING 'q=1&r=%41'
	is_var DOCUMENT_ROOT "$DOC"
	is_var REMOTE_ADDR 10.1.2.3
	is_var SERVER_NAME www.test
	is_var REDIRECT_STATUS 200
	is_var PATH /usr/local/bin:/usr/bin:/bin
	has '^SERVER_SOFTWARE=ihttpd'
	has '^SERVER_PORT=[0-9]+$'
	# request headers: HTTP_*, repeated ones joined
	is_var HTTP_HOST www.test:8080
	is_var HTTP_X_FOO a
	is_var HTTP_X_MULTI 'one, two'
	is_var HTTP_COOKIE 'a=1; b=2'
	# httpoxy; no body: no CONTENT_*; nobody authenticated
	no_var HTTP_PROXY CONTENT_LENGTH CONTENT_TYPE REMOTE_USER AUTH_TYPE \
	    REMOTE_HOST HTTPS
	# the server's own environment
	no_var LEAKME IHTTPD_TEST IHTTPD_FIXED_TIME HOME BATS_TEST_TMPDIR
	only_known_vars
	# a query with '=': no arguments; the script's directory
	is_var ARGC 0
	has "^cwd:$CGI\$"
}

@test "env.sh (sh): the RFC 3875 variables, HTTP_* without Proxy or X_Foo, nothing leaked" {
	env_dump env.sh
}

@test "env.pl (Perl): the RFC 3875 variables, HTTP_* without Proxy or X_Foo, nothing leaked" {
	env_dump env.pl
}

@test "env.py (Python 3): the RFC 3875 variables, HTTP_* without Proxy or X_Foo, nothing leaked" {
	env_dump env.py
}

@test "POST: CONTENT_LENGTH and CONTENT_TYPE, not as HTTP_* (sh, Perl, Python)" {
	local s
	for s in env.sh env.pl env.py; do
		creq "$(rq POST "/cgi-bin/$s" \
		    'Content-Type: application/x-www-form-urlencoded' \
		    'Content-Length: 7')a=1&b=2"
		[ "$(resp_status)" = 200 ]
		is_var REQUEST_METHOD POST
		is_var CONTENT_LENGTH 7
		is_var CONTENT_TYPE application/x-www-form-urlencoded
		no_var HTTP_CONTENT_LENGTH HTTP_CONTENT_TYPE
		only_known_vars
	done
}

@test "the server's environment is not inherited; cgi_pass_env passes the names it lists" {
	export LEAKME=1 LEAK2=two
	creq "$(rq GET /cgi-bin/env.pl)"
	[ "$(resp_status)" = 200 ]
	no_var LEAKME LEAK2
	conf 'cgi_pass_env LEAKME'
	creq "$(rq GET /cgi-bin/env.pl)"
	is_var LEAKME 1
	no_var LEAK2
	conf 'cgi_pass_env LEAKME LEAK2 NOT_SET_ANYWHERE'
	creq "$(rq GET /cgi-bin/env.sh)"
	is_var LEAKME 1
	is_var LEAK2 two
	no_var NOT_SET_ANYWHERE
}

@test "PATH is cgi_path" {
	conf 'cgi_path "/bin:/usr/bin"'
	creq "$(rq GET /cgi-bin/env.pl)"
	[ "$(resp_status)" = 200 ]
	is_var PATH /bin:/usr/bin
}

@test "HTTP/1.0 without Host: SERVER_PROTOCOL HTTP/1.0, no HTTP_HOST" {
	creq 'GET /cgi-bin/env.sh HTTP/1.0\r\n\r\n'
	[ "$(resp_status)" = 200 ]
	is_var SERVER_PROTOCOL HTTP/1.0
	no_var HTTP_HOST
	only_known_vars
}

@test "Authorization: HTTP_AUTHORIZATION unless the server authenticated; then REMOTE_USER and AUTH_TYPE" {
	creq "$(rq GET /cgi-bin/env.sh 'Authorization: Bearer tok')"
	[ "$(resp_status)" = 200 ]
	is_var HTTP_AUTHORIZATION 'Bearer tok'
	no_var REMOTE_USER AUTH_TYPE
	OBJ=('AuthTrans fn=auth-basic realm="cgi" lookup=demo-users')
	conf
	creq "$(rq GET /cgi-bin/env.sh)"
	[ "$(resp_status)" = 401 ]
	creq "$(rq GET /cgi-bin/env.sh 'Authorization: Basic bGFycnk6d2FsbA==')"
	[ "$(resp_status)" = 200 ]
	is_var REMOTE_USER larry
	is_var AUTH_TYPE Basic
	no_var HTTP_AUTHORIZATION
}

@test "a relative dir= and docroot are taken from the working directory; the variables are absolute" {
	sed -i -e "s|^docroot .*|docroot www|" \
	    -e "s|dir=$CGI\$|dir=cgi-bin|" "$CONF"
	grep -q 'dir=cgi-bin$' "$CONF"
	cd "$T"
	creq "$(rq GET /cgi-bin/env.sh/p)"
	[ "$(resp_status)" = 200 ]
	is_var SCRIPT_FILENAME "$CGI/env.sh"
	is_var DOCUMENT_ROOT "$DOC"
	is_var PATH_TRANSLATED "$DOC/p"
	has "^cwd:$CGI\$"
}

# ---- the script's process --------------------------------------------------

# proc_ok FD0: the proc.py dump in $output: the script leads its own
# session and process group; fd 0 is FD0 (a regex), 1 and 2 are pipes,
# and nothing else is open but the script's own file on fd 3.
proc_ok() {
	local p others
	p=$(body | sed -n 's/^pid=//p')
	[ -n "$p" ]
	has "^pgid=$p\$"
	has "^sid=$p\$"
	has "^fd 0 -> $1\$"
	has '^fd 1 -> pipe:'
	has '^fd 2 -> pipe:'
	others=$(body | grep '^fd ' | grep -v '^fd [012] -> ' || true)
	[ -z "$others" ] || [ "$others" = "fd 3 -> $CGI/proc.py" ] || {
		echo "descriptors the script must not have: $others" >&2
		return 1
	}
}

@test "pipe mode: the script has its own session and process group, and only fds 0-2 (and 3, its file)" {
	creq "$(rq GET /cgi-bin/proc.py)"
	[ "$(resp_status)" = 200 ]
	proc_ok /dev/null
	creq "$(rq POST /cgi-bin/proc.py 'Content-Length: 5')hello"
	[ "$(resp_status)" = 200 ]
	proc_ok "$DATA/uploads/.*"
}

@test "tcpserver and prefork: no socket, log or other descriptor of the server reaches the script" {
	inetd
	run curl -si --max-time 30 "http://127.0.0.1:$PORT/cgi-bin/proc.py"
	[ "$(resp_status)" = 200 ]
	proc_ok /dev/null
	stop_tcpserver
	prefork
	run curl -si --max-time 30 "$(url /cgi-bin/proc.py)"
	[ "$(resp_status)" = 200 ]
	proc_ok /dev/null
}

@test "cgi_rlimit_cpu, cgi_rlimit_as and cgi_rlimit_nproc set the script's limits" {
	conf 'cgi_rlimit_cpu 7' 'cgi_rlimit_as 512m' 'cgi_rlimit_nproc 500'
	creq "$(rq GET /cgi-bin/proc.py)"
	[ "$(resp_status)" = 200 ]
	has '^rlimit CPU=7$'
	has '^rlimit AS=536870912$'
	has '^rlimit NPROC=500$'
}

@test "TLS (inetd): HTTPS=on, SSL_PROTOCOL and SSL_CIPHER" {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
	    -subj /CN=localhost 2>/dev/null
	chmod 600 "$T/key.pem"
	conf "tls_cert $T/cert.pem" "tls_key $T/key.pem"
	inetd --tls on
	run curl -ksi --max-time 30 "https://127.0.0.1:$PORT/cgi-bin/env.sh"
	[ "$(resp_status)" = 200 ]
	is_var HTTPS on
	has '^SSL_PROTOCOL=TLSv1\.[23]$'
	has '^SSL_CIPHER=.'
	only_known_vars
}

# ---- argv, PATH_INFO, script lookup ----------------------------------------

@test "argv: a query without '=' is split on '+' and decoded (sh, Perl, Python); with '=' no arguments" {
	local s
	for s in env.sh env.pl env.py; do
		creq "$(rq GET "/cgi-bin/$s?a+b%20c")"
		[ "$(resp_status)" = 200 ]
		is_var QUERY_STRING 'a+b%20c'
		is_var ARGC 2
		is_var 'argv[1]' a
		is_var 'argv[2]' 'b c'
		# an encoded '=' is no '='
		creq "$(rq GET "/cgi-bin/$s?k%3Dv+w")"
		is_var ARGC 2
		is_var 'argv[1]' k=v
		is_var 'argv[2]' w
		creq "$(rq GET "/cgi-bin/$s?x=1+2")"
		is_var QUERY_STRING 'x=1+2'
		is_var ARGC 0
		# no query: QUERY_STRING set and empty, no arguments
		creq "$(rq GET "/cgi-bin/$s")"
		is_var QUERY_STRING ''
		is_var ARGC 0
	done
}

@test "PATH_INFO /x/y and PATH_TRANSLATED docroot/x/y; neither without a path after the script" {
	creq "$(rq GET /cgi-bin/env.sh/x/y)"
	[ "$(resp_status)" = 200 ]
	is_var SCRIPT_NAME /cgi-bin/env.sh
	is_var PATH_INFO /x/y
	is_var PATH_TRANSLATED "$DOC/x/y"
	creq "$(rq GET /cgi-bin/env.sh)"
	[ "$(resp_status)" = 200 ]
	is_var SCRIPT_NAME /cgi-bin/env.sh
	no_var PATH_INFO PATH_TRANSLATED
}

@test "/cgi-bin and /cgi-bin/ alone: 403; no such script: 404; a directory: 403" {
	mkdir -m 755 "$CGI/subdir"
	creq "$(rq GET /cgi-bin)"
	[ "$(resp_status)" = 403 ]
	creq "$(rq GET /cgi-bin/)"
	[ "$(resp_status)" = 403 ]
	creq "$(rq GET /cgi-bin/nosuch.sh)"
	[ "$(resp_status)" = 404 ]
	creq "$(rq GET /cgi-bin/nosuch.sh/x/y)"
	[ "$(resp_status)" = 404 ]
	creq "$(rq GET /cgi-bin/subdir)"
	[ "$(resp_status)" = 403 ]
	creq "$(rq GET /cgi-bin/subdir/x)"
	[ "$(resp_status)" = 403 ]
}

@test "the script segment never leaves dir= (encoded dots and slashes)" {
	cp "$CGI/plain.sh" "$T/outside.sh"
	cp "$CGI/plain.sh" "$DOC/outside.sh"
	local t
	for t in /cgi-bin/../outside.sh /cgi-bin/%2e%2e/outside.sh \
	    /cgi-bin/..%2Foutside.sh /cgi-bin/%2E%2E%2Foutside.sh \
	    /cgi-bin/%2e%2e/www/outside.sh; do
		# refused, or (normalized out of /cgi-bin) the docroot file
		creq "$(rq GET "$t")"
		[[ $(resp_status) == 4* ]] || body | grep -q '^#!/bin/sh' || {
			echo "$t: $(resp_status)" >&2
			return 1
		}
		hasnt '^plain script output$'
	done
	[ ! -e "$T/plain.log" ]
	[ ! -e "$DOC/plain.log" ]
}

# ---- request bodies --------------------------------------------------------

@test "pipe mode: the body is the script's stdin (a spooled file), nothing left in datadir/uploads; no body: /dev/null" {
	head -c 3000 /dev/urandom >"$T/b"
	{
		printf 'POST /cgi-bin/body.pl HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\nContent-Length: 3000\r\nConnection: close\r\n\r\n'
		cat "$T/b"
	} >"$T/req"
	run --separate-stderr python3 "$CLIENT" pipefile 30 "$T/req" \
	    "$IHTTPD" -c "$CONF"
	[ "$(resp_status)" = 200 ]
	has '^CONTENT_LENGTH=3000$'
	has '^CONTENT_TYPE=application/octet-stream$'
	has '^stdin=file$'
	has "^$(sum_line "$T/b")\$"
	[ -d "$DATA/uploads" ]
	[ -z "$(ls -A "$DATA/uploads")" ]
	creq "$(rq GET /cgi-bin/body.pl)"
	[ "$(resp_status)" = 200 ]
	has '^CONTENT_LENGTH=unset$'
	has '^stdin=chardev$'
	has '^read 0 bytes'
}

@test "a body over max_body: 413" {
	head -c 2048 /dev/zero >"$T/b"
	{
		printf 'POST /cgi-bin/body.pl HTTP/1.1\r\nHost: t\r\nContent-Length: 2048\r\nConnection: close\r\n\r\n'
		cat "$T/b"
	} >"$T/req"
	run --separate-stderr python3 "$CLIENT" pipefile 30 "$T/req" \
	    "$IHTTPD" -c "$CONF" --max_body 1k
	[ "$(resp_status)" = 413 ]
}

@test "CGI.pm: an urlencoded POST form (curl -d, tcpserver)" {
	need_cgi_pm
	inetd
	run curl -s --max-time 30 -d 'name=J%C3%B6rg+Doe' -d x=1 -d x=2 \
	    "http://127.0.0.1:$PORT/cgi-bin/form.pl"
	[ "$status" -eq 0 ]
	has '^cgi_error=none$'
	has '^param name=Jörg Doe$'
	has '^param x=1,2$'
}

@test "CGI.pm: a multipart upload (curl -F, tcpserver): the script reads the file's size and MD5" {
	need_cgi_pm
	head -c 307200 /dev/urandom >"$T/up.bin"
	inetd
	run curl -s --max-time 30 -F "file=@$T/up.bin" -F note=hi \
	    "http://127.0.0.1:$PORT/cgi-bin/form.pl"
	[ "$status" -eq 0 ]
	has '^cgi_error=none$'
	has "^upload file \\(up\\.bin\\): 307200 bytes, md5 $(md5sum <"$T/up.bin" | cut -c1-32)\$"
	has '^param note=hi$'
	[ -z "$(ls -A "$DATA/uploads")" ]
}

@test "a chunked POST (curl, tcpserver): the script sees CONTENT_LENGTH and the bytes" {
	head -c 204800 /dev/urandom >"$T/b"
	inetd
	run curl -s --max-time 30 -H 'Transfer-Encoding: chunked' \
	    --data-binary "@$T/b" "http://127.0.0.1:$PORT/cgi-bin/body.pl"
	[ "$status" -eq 0 ]
	has '^REQUEST_METHOD=POST$'
	has '^CONTENT_LENGTH=204800$'
	has '^stdin=file$'
	has "^$(sum_line "$T/b")\$"
}

@test "Expect: 100-continue: 100 for a script that may run, none for a missing or refused one" {
	head -c 2048 /dev/urandom >"$T/b"
	cp "$CGI/plain.sh" "$CGI/noexec.sh" && chmod 644 "$CGI/noexec.sh"
	inetd
	run curl -sv --max-time 30 -H 'Expect: 100-continue' \
	    --data-binary "@$T/b" "http://127.0.0.1:$PORT/cgi-bin/body.pl"
	has '^> Expect: 100-continue'
	has '^< HTTP/1\.1 100 Continue'
	has '^< HTTP/1\.1 200 '
	has '^CONTENT_LENGTH=2048$'
	has "^$(sum_line "$T/b")\$"
	run curl -sv --max-time 30 -H 'Expect: 100-continue' \
	    --data-binary "@$T/b" "http://127.0.0.1:$PORT/cgi-bin/nosuch.sh"
	has '^< HTTP/1\.1 404 '
	hasnt '100 Continue'
	run curl -sv --max-time 30 -H 'Expect: 100-continue' \
	    --data-binary "@$T/b" "http://127.0.0.1:$PORT/cgi-bin/noexec.sh"
	has '^< HTTP/1\.1 403 '
	hasnt '100 Continue'
}

# ---- what a script sends ---------------------------------------------------

@test "a local redirect (Location: /hello.txt, no body): the file, with 200" {
	creq "$(rq GET /cgi-bin/redirect-local.sh)"
	[ "$(resp_status)" = 200 ]
	has $'^Content-Type: text/plain'
	hasnt '^Location:'
	[ "$(body)" = 'hello from the docroot' ]
}

@test "a local redirect is served as a GET, with its query, even after a POST" {
	creq "$(rq POST /cgi-bin/redirect-env.sh \
	    'Content-Type: application/x-www-form-urlencoded' \
	    'Content-Length: 3')a=1"
	[ "$(resp_status)" = 200 ]
	is_var SCRIPT_NAME /cgi-bin/env.sh
	is_var REQUEST_METHOD GET
	is_var QUERY_STRING from=redirect
	# no body: no CONTENT_LENGTH (CONTENT_TYPE is the client's header)
	no_var CONTENT_LENGTH
}

@test "a local redirect goes through the access rules of its target" {
	creq "$(rq GET /cgi-bin/redirect-acl.sh)" --remote_addr 10.9.9.9
	[ "$(resp_status)" = 403 ]
	hasnt 'secret file'
	creq "$(rq GET /cgi-bin/redirect-acl.sh)" --remote_addr 127.0.0.1
	[ "$(resp_status)" = 200 ]
	[ "$(body)" = 'secret file' ]
}

@test "a script redirecting locally to itself: 500 after at most 10 local redirects" {
	creq "$(rq GET /cgi-bin/redirect-loop.sh)"
	[ "$(resp_status)" = 500 ]
	local runs
	runs=$(wc -l <"$CGI/loop.count")
	echo "# redirect-loop.sh ran $runs times" >&3
	[ "$runs" -ge 10 ] && [ "$runs" -le 11 ]
}

@test "a client redirect (Location: http://...): 302 with that Location; with a Status, that status" {
	creq "$(rq GET /cgi-bin/redirect-client.sh)"
	[ "$(resp_status)" = 302 ]
	has $'^Location: http://example\\.invalid/\r$'
	creq "$(rq GET /cgi-bin/redirect-301.sh)"
	[ "$(resp_status)" = 301 ]
	has $'^Location: http://example\\.invalid/moved\r$'
}

@test "Status: 404 from a script: 404 with the script's own body" {
	creq "$(rq GET /cgi-bin/status404.sh)"
	[ "$(resp_status)" = 404 ]
	[ "$(printf '%s' "$output" | head -1)" = $'HTTP/1.1 404 Not Found\r' ]
	[ "$(body)" = 'the script says: no such thing' ]
}

@test "custom fields and two Set-Cookie pass; Connection, Transfer-Encoding, Keep-Alive, Date, Server are dropped; the answer stays framed" {
	# two pipelined requests on one connection: the second is answered
	creq_to "$T/out" "GET /cgi-bin/headers.sh HTTP/1.1\r\nHost: t\r\n\r\n$(rq GET /cgi-bin/plain.sh)"
	responses "$T/out"
	[ "${lines[0]}" = 'R 1 200 length=11' ]
	[ "${lines[1]}" = 'R 2 200 length=20' ]
	[ "${lines[2]}" = 'REST 0' ]
	[ "$(cat "$T/out.1.body")" = 'headers ok' ]
	[ "$(cat "$T/out.2.body")" = 'plain script output' ]
	run cat "$T/out.1.head"
	has $'^X-Script: yes\r$'
	has $'^Set-Cookie: a=1; Path=/\r$'
	has $'^Set-Cookie: b=2; Path=/\r$'
	hasnt '^Transfer-Encoding'
	hasnt '^Connection: close'
	hasnt 'timeout=99'
	hasnt '1970'
	hasnt 'evil'
	[ "$(grep -ci '^date:' "$T/out.1.head")" -eq 1 ]
	# dropped with a notice
	grep -qi 'transfer-encoding' "$ERRLOG"
}

@test "a script's Content-Length frames the answer; bytes past it are dropped and the connection closes" {
	creq_to "$T/out" "GET /cgi-bin/cl-extra.sh HTTP/1.1\r\nHost: t\r\n\r\n$(rq GET /cgi-bin/plain.sh)"
	responses "$T/out"
	[ "${lines[0]}" = 'R 1 200 length=5' ]
	[ "${lines[1]}" = 'REST 0' ]
	[ "$(cat "$T/out.1.body")" = hello ]
}

@test "a script sending less than its Content-Length: the connection is cut" {
	creq_to "$T/out" "GET /cgi-bin/cl-short.sh HTTP/1.1\r\nHost: t\r\n\r\n$(rq GET /cgi-bin/plain.sh)"
	responses "$T/out"
	[ "${lines[0]}" = 'R 1 200 length=100' ]
	[ "${lines[1]}" = TRUNC ]
	# what came (the server may hold back the 5 bytes) and no more
	[[ short == "$(cat "$T/out.1.body")"* ]]
	! grep -q 'plain script output' "$T/out"
}

@test "a body that fits 16 KiB gets a Content-Length; a longer one is chunked (HTTP/1.1) or close-delimited (HTTP/1.0)" {
	creq_to "$T/out" "$(rq GET /cgi-bin/size.sh?16384)"
	responses "$T/out"
	[ "${lines[0]}" = 'R 1 200 length=16384' ]
	creq_to "$T/out" "$(rq GET /cgi-bin/size.sh?16385)"
	responses "$T/out"
	[ "${lines[0]}" = 'R 1 200 chunked' ]
	[ "${lines[1]}" = 'REST 0' ]
	[ "$(stat -c %s "$T/out.1.body")" -eq 16385 ]
	creq_to "$T/out" 'GET /cgi-bin/size.sh?16385 HTTP/1.0\r\n\r\n'
	responses "$T/out"
	[ "${lines[0]}" = 'R 1 200 close' ]
	[ "$(stat -c %s "$T/out.1.body")" -eq 16385 ]
}

@test "NPH (nph-raw.sh): the client gets exactly what the script wrote, and the connection closes after it" {
	printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Nph: raw\r\nContent-Length: 13\r\n\r\nnph response\n' \
	    >"$T/want"
	# pipe mode, a pipelined request after it that is never answered
	creq_to "$T/out" "GET /cgi-bin/nph-raw.sh HTTP/1.1\r\nHost: t\r\n\r\n$(rq GET /cgi-bin/plain.sh)"
	cmp "$T/want" "$T/out"
	# and under tcpserver
	inetd
	python3 "$CLIENT" send "$PORT" 20 "GET /cgi-bin/nph-raw.sh HTTP/1.1\r\nHost: t\r\n\r\n$(rq GET /cgi-bin/plain.sh)" \
	    >"$T/out2" 2>"$T/end"
	cmp "$T/want" "$T/out2"
	[ "$(cat "$T/end")" = 'END eof' ]
}

@test "HEAD runs the script and gets the head only; the connection stays in step" {
	creq_to "$T/out" "HEAD /cgi-bin/plain.sh HTTP/1.1\r\nHost: t\r\n\r\n$(rq GET /cgi-bin/plain.sh)"
	responses "$T/out" --head
	[ "${lines[0]}" = 'R 1 200 none' ]
	[ "${lines[1]}" = 'R 2 200 length=20' ]
	[ "${lines[2]}" = 'REST 0' ]
	grep -q $'^Content-Type: text/plain' "$T/out.1.head"
	[ "$(cat "$CGI/plain.log")" = "$(printf 'HEAD\nGET')" ]
	# alone, with Connection: close: nothing after the head
	creq "$(rq HEAD /cgi-bin/plain.sh)"
	[ "$(resp_status)" = 200 ]
	[ -z "$(body)" ]
}

@test "keep-alive after CGI answers: four requests on one connection (http.client, tcpserver), Content-Length for a small body" {
	inetd
	run python3 "$CLIENT" keepalive "$PORT" /cgi-bin/plain.sh \
	    /cgi-bin/env.sh '/cgi-bin/size.sh?70000' /cgi-bin/plain.sh
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 'R 1 200 length=20 20' ]
	[[ ${lines[1]} == 'R 2 200 length='* ]]
	[ "${lines[2]}" = 'R 3 200 chunked 70000' ]
	[ "${lines[3]}" = 'R 4 200 length=20 20' ]
	[ "${lines[4]}" = 'CONNECTS 1' ]
}

# ---- failures --------------------------------------------------------------

@test "a script that exits 1 before writing: 502, its stderr in the error log" {
	creq "$(rq GET /cgi-bin/exit1.sh)"
	[ "$(resp_status)" = 502 ]
	grep -q 'cgi /cgi-bin/exit1.sh: exit1.sh: giving up' "$ERRLOG"
}

@test "no end of the header block before the script ends: 502" {
	creq "$(rq GET /cgi-bin/headonly.sh)"
	[ "$(resp_status)" = 502 ]
}

@test "malformed header blocks: 502 (no colon, a bad name, obs-fold, a control byte, a bad Status)" {
	local c
	creq "$(rq GET /cgi-bin/malformed.sh?ok)"
	[ "$(resp_status)" = 200 ]
	has $'^X-Good: y\r$'
	for c in nocolon badname fold control status status2 status3; do
		creq "$(rq GET "/cgi-bin/malformed.sh?$c")"
		[ "$(resp_status)" = 502 ] || {
			echo "case $c: $(resp_status)" >&2
			return 1
		}
		hasnt '^body$'
	done
}

@test "a header block over cgi_max_header: 502 (the default 16k, and 2k)" {
	creq "$(rq GET /cgi-bin/bighead.sh?1000)"
	[ "$(resp_status)" = 200 ]
	has '^X-Pad: a{1000}'
	creq "$(rq GET /cgi-bin/bighead.sh?14000)"
	[ "$(resp_status)" = 200 ]
	creq "$(rq GET /cgi-bin/bighead.sh?20000)"
	[ "$(resp_status)" = 502 ]
	conf 'cgi_max_header 2k'
	creq "$(rq GET /cgi-bin/bighead.sh?1000)"
	[ "$(resp_status)" = 200 ]
	creq "$(rq GET /cgi-bin/bighead.sh?3000)"
	[ "$(resp_status)" = 502 ]
}

@test "exec fails (an interpreter that does not exist, no executable format): 500" {
	creq "$(rq GET /cgi-bin/badinterp.sh)"
	[ "$(resp_status)" = 500 ]
	creq "$(rq GET /cgi-bin/badformat.sh)"
	[ "$(resp_status)" = 500 ]
}

@test "a script killed mid-body (HTTP/1.1): the client sees the body cut, no final chunk" {
	# pipe mode: the bytes
	creq_to "$T/out" "$(rq GET /cgi-bin/die-mid.sh)"
	responses "$T/out"
	[ "${lines[0]}" = 'R 1 200 chunked' ]
	[ "${lines[1]}" = TRUNC ]
	# curl under tcpserver: an error, not a complete transfer
	inetd
	run curl -s --max-time 30 -o "$T/body" -w '%{http_code}' \
	    "http://127.0.0.1:$PORT/cgi-bin/die-mid.sh"
	echo "# curl exit status $status" >&3
	[ "$output" = 200 ]
	[ "$status" -eq 18 ] || [ "$status" -eq 56 ]
	# and python's http.client
	run python3 "$CLIENT" incomplete "$PORT" /cgi-bin/die-mid.sh
	[ "${lines[0]}" = 'STATUS 200' ]
	[[ ${lines[1]} == INCOMPLETE* ]]
}

# ---- cgi_timeout -----------------------------------------------------------

@test "pipe mode: a script silent past cgi_timeout: 504, it and its background child killed" {
	conf 'cgi_timeout 1'
	creq "$(rq GET /cgi-bin/sleep.sh)"
	[ "$status" -eq 0 ]
	[ "$(resp_status)" = 504 ]
	pids_gone sleep child
}

@test "tcpserver: a script silent past cgi_timeout: 504, its process group killed, no zombie" {
	conf 'cgi_timeout 2'
	inetd
	[ "$(code "http://127.0.0.1:$PORT/cgi-bin/sleep.sh")" = 504 ]
	pids_gone sleep child
	wait_for 10 no_zombie_below "$TCPSERVER_PID"
}

@test "prefork: a script silent past cgi_timeout: 504, its process group killed, no zombie, the worker serves on" {
	prefork 'cgi_timeout 1'
	[ "$(code "$(url /cgi-bin/sleep.sh)")" = 504 ]
	pids_gone sleep child
	wait_for 10 no_zombie_below "$SA_PID"
	run curl -s --max-time 30 "$(url /cgi-bin/plain.sh)"
	[ "$output" = 'plain script output' ]
}

@test "cgi_timeout after the head is out: the connection is cut (no final chunk)" {
	conf 'cgi_timeout 1'
	inetd
	run curl -s --max-time 30 -o "$T/body" -w '%{http_code}' \
	    "http://127.0.0.1:$PORT/cgi-bin/slowtail.sh"
	[ "$output" = 200 ]
	[ "$status" -eq 18 ] || [ "$status" -eq 56 ]
	pids_gone slowtail
}

@test "cgi_timeout counts silence, not the whole run: a script writing every 0.2 s for 4 s is not cut at 3 s" {
	conf 'cgi_timeout 3'
	creq "$(rq GET /cgi-bin/trickle.sh)"
	[ "$(resp_status)" = 200 ]
	[ "$(body)" = xxxxxxxxxxxxxxxxxxxx ]
}

@test "a script and child that ignore SIGTERM past cgi_timeout: 504, both killed (KILL follows TERM)" {
	conf 'cgi_timeout 1'
	creq "$(rq GET /cgi-bin/sleep-noterm.sh)"
	[ "$(resp_status)" = 504 ]
	pids_gone noterm noterm-child
}

@test "a background child of a script that answered is killed when the request ends (pipe mode, prefork)" {
	creq "$(rq GET /cgi-bin/bg.sh)"
	[ "$(resp_status)" = 200 ]
	[ "$(body)" = answered ]
	pids_gone bg-child
	rm "$CGI/bg-child.pid"
	prefork
	run curl -s --max-time 30 "$(url /cgi-bin/bg.sh)"
	[ "$output" = answered ]
	pids_gone bg-child
	wait_for 10 no_zombie_below "$SA_PID"
}

# ---- stderr, big output ----------------------------------------------------

@test "1 MiB of stderr: the answer is complete, the error log holds 'cgi NAME:' lines, bounded" {
	conf 'cgi_timeout 20'
	creq "$(rq GET /cgi-bin/stderr-flood.sh)"
	[ "$(resp_status)" = 200 ]
	[ "$(body)" = 'after the noise' ]
	local n bytes
	n=$(grep -c 'cgi /cgi-bin/stderr-flood.sh: noise from the script' "$ERRLOG")
	bytes=$(grep 'cgi /cgi-bin/stderr-flood.sh' "$ERRLOG" | wc -c)
	echo "# $n stderr lines logged, $bytes bytes (of 10486 lines, 1 MiB)" >&3
	[ "$n" -ge 100 ]
	[ "$n" -le 1000 ]
	[ "$bytes" -lt 262144 ]
	# the rest discarded, with one notice
	[ "$(grep 'cgi /cgi-bin/stderr-flood.sh' "$ERRLOG" | grep -c discard)" -eq 1 ]
}

@test "prefork: 100 MiB from a script arrive whole, chunked, the worker's peak RSS stays under 64 MiB" {
	local n w kb max=0
	prefork
	n=$(curl -s --max-time 120 -D "$T/head" "$(url /cgi-bin/big.sh)" |
	    wc -c)
	[ "$n" -eq 104857600 ]
	grep -qi $'^Transfer-Encoding: chunked\r$' "$T/head"
	for w in $(kids "$SA_PID"); do
		kb=$(hwm "$w")
		[ -n "$kb" ] && [ "$kb" -gt "$max" ] && max=$kb
	done
	echo "# peak RSS of the prefork workers, 100 MiB CGI answer: $max KiB" >&3
	[ "$max" -gt 0 ]
	[ "$max" -lt 65536 ]
}

@test "pipe mode: 100 MiB close-delimited (HTTP/1.0), peak RSS under 64 MiB (/usr/bin/time)" {
	[ -x /usr/bin/time ] && /usr/bin/time -f %M true 2>/dev/null ||
	    skip "/usr/bin/time (GNU time) is not installed"
	python3 "$CLIENT" pipe 120 'GET /cgi-bin/big.sh HTTP/1.0\r\n\r\n' \
	    /usr/bin/time -o "$T/rss" -f %M "$IHTTPD" -c "$CONF" \
	    2>"$T/stderr" | python3 "$CLIENT" summary >"$T/sum"
	run cat "$T/sum"
	has '^HTTP/1\.[01] 200 '
	hasnt '^Content-Length'
	hasnt '^Transfer-Encoding'
	has '^BODY 104857600$'
	local kb
	kb=$(tail -1 "$T/rss")
	echo "# peak RSS of ihttpd in pipe mode, 100 MiB CGI answer: $kb KiB" >&3
	[ "$kb" -lt 65536 ]
}

# ---- file modes, cgi_strict ------------------------------------------------

@test "no execute bit: 403; world- or group-writable script or directory: 403; cgi_strict off runs them" {
	cp "$CGI/plain.sh" "$CGI/noexec.sh" && chmod 644 "$CGI/noexec.sh"
	cp "$CGI/plain.sh" "$CGI/ww.sh" && chmod 757 "$CGI/ww.sh"
	cp "$CGI/plain.sh" "$CGI/gw.sh" && chmod 775 "$CGI/gw.sh"
	mkdir "$T/wwdir" && chmod 777 "$T/wwdir"
	cp "$CGI/plain.sh" "$T/wwdir/plain.sh" && chmod 755 "$T/wwdir/plain.sh"
	local wwobj=('<Object ppath="/wwdir">' "  Service fn=cgi dir=$T/wwdir"
	    '</Object>')
	conf "${wwobj[@]}"
	creq "$(rq GET /cgi-bin/plain.sh)"
	[ "$(resp_status)" = 200 ]
	creq "$(rq GET /cgi-bin/noexec.sh)"
	[ "$(resp_status)" = 403 ]
	creq "$(rq GET /cgi-bin/ww.sh)"
	[ "$(resp_status)" = 403 ]
	creq "$(rq GET /cgi-bin/gw.sh)"
	[ "$(resp_status)" = 403 ]
	creq "$(rq GET /wwdir/plain.sh)"
	[ "$(resp_status)" = 403 ]
	[ "$(cat "$CGI/plain.log")" = GET ]	# none of them ran
	[ ! -e "$T/wwdir/plain.log" ]
	conf 'cgi_strict off' "${wwobj[@]}"
	creq "$(rq GET /cgi-bin/ww.sh)"
	[ "$(resp_status)" = 200 ]
	[ "$(body)" = 'plain script output' ]
	creq "$(rq GET /cgi-bin/gw.sh)"
	[ "$(resp_status)" = 200 ]
	creq "$(rq GET /wwdir/plain.sh)"
	[ "$(resp_status)" = 200 ]
	creq "$(rq GET /cgi-bin/noexec.sh)"
	[ "$(resp_status)" = 403 ]
}

# ---- .cgi files in the docroot ---------------------------------------------

@test "a .cgi in the docroot that no object names is served as a file, never run" {
	creq_to "$T/out" "$(rq GET /page.cgi)"
	responses "$T/out"
	[ "${lines[0]}" = "R 1 200 length=$(stat -c %s "$FIX/page.cgi")" ]
	cmp "$FIX/page.cgi" "$T/out.1.body"
}

@test "<Object regex=\"\\.cgi\$\"> Service fn=cgi: the same file runs; dot-files 404; a link out of docroot 404" {
	conf '<Object regex="\.cgi$">' '  Service fn=cgi' '</Object>'
	creq "$(rq GET /page.cgi)"
	[ "$(resp_status)" = 200 ]
	has '^executed page\.cgi$'
	has '^SCRIPT_NAME=/page\.cgi$'
	has "^SCRIPT_FILENAME=$DOC/page\\.cgi\$"
	has '^PATH_INFO=unset$'
	cp "$DOC/page.cgi" "$DOC/.hidden.cgi"
	creq "$(rq GET /.hidden.cgi)"
	[ "$(resp_status)" = 404 ]
	ln -s "$CGI/env.sh" "$DOC/link.cgi"
	creq "$(rq GET /link.cgi)"
	[ "$(resp_status)" = 404 ]
	# the script directory still works beside it
	creq "$(rq GET /cgi-bin/plain.sh)"
	[ "$(resp_status)" = 200 ]
}

# ---- the other launch paths: tcpserver and prefork -------------------------

@test "tcpserver: the variables of a TCP connection, nothing of tcpserver's environment" {
	export LEAKME=1
	inetd
	run curl -si --max-time 30 -H 'X-Foo: a' -H 'Proxy: evil' \
	    "http://127.0.0.1:$PORT/cgi-bin/env.py/x?a+b"
	[ "$status" -eq 0 ]
	[ "$(resp_status)" = 200 ]
	is_var GATEWAY_INTERFACE CGI/1.1
	is_var SERVER_PROTOCOL HTTP/1.1
	is_var REMOTE_ADDR 127.0.0.1
	has '^REMOTE_PORT=[0-9]+$'
	is_var SERVER_NAME 127.0.0.1
	is_var SERVER_PORT "$PORT"
	is_var SERVER_ADDR 127.0.0.1
	is_var SCRIPT_NAME /cgi-bin/env.py
	is_var PATH_INFO /x
	is_var PATH_TRANSLATED "$DOC/x"
	is_var HTTP_X_FOO a
	is_var ARGC 2
	no_var HTTP_PROXY LEAKME TCPREMOTEIP TCPLOCALPORT PROTO
	only_known_vars
}

@test "prefork: env, a chunked POST (http.client), an urlencoded POST, stderr to the log" {
	head -c 100000 /dev/urandom >"$T/b"
	prefork
	run curl -si --max-time 30 "$(url /cgi-bin/env.pl/p?q=1)"
	[ "$(resp_status)" = 200 ]
	is_var REQUEST_METHOD GET
	is_var REMOTE_ADDR 127.0.0.1
	is_var SERVER_PORT "$PORT"
	is_var PATH_INFO /p
	is_var QUERY_STRING q=1
	only_known_vars
	run python3 "$CLIENT" chunked "$PORT" /cgi-bin/body.pl "$T/b"
	has '^STATUS 200$'
	has '^CONTENT_LENGTH=100000$'
	has "^$(sum_line "$T/b")\$"
	run curl -si --max-time 30 -d 'a=1' -d 'b=2' "$(url /cgi-bin/env.sh)"
	[ "$(resp_status)" = 200 ]
	is_var REQUEST_METHOD POST
	is_var CONTENT_LENGTH 7
	is_var CONTENT_TYPE application/x-www-form-urlencoded
	# its stderr reached the server's error log, the script named
	run curl -s --max-time 30 "$(url /cgi-bin/exit1.sh)"
	wait_for 10 grep -q 'cgi /cgi-bin/exit1.sh: exit1.sh: giving up' "$SA_ERR"
}

# ---- --check ---------------------------------------------------------------

# chk: --check on $CONF, stderr apart.
chk() {
	run --separate-stderr "$IHTTPD" -c "$CONF" --check
}

@test "--check: the test config passes" {
	chk
	[ "$status" -eq 0 ]
	[ "$output" = "$CONF: configuration OK" ]
}

@test "--check refuses dir= naming a missing directory, or a file, with FILE:LINE" {
	printf 'docroot %s\n<Object ppath="/cgi-bin">\n  Service fn=cgi dir=%s\n</Object>\n' \
	    "$DOC" "$T/missing" >"$CONF"
	chk
	[ "$status" -eq 1 ]
	[[ $stderr == *"$CONF:3:"* ]]
	[[ $output != *"configuration OK"* ]]
	printf 'docroot %s\n<Object ppath="/cgi-bin">\n  Service fn=cgi dir=%s\n</Object>\n' \
	    "$DOC" "$CGI/env.sh" >"$CONF"
	chk
	[ "$status" -eq 1 ]
	[[ $stderr == *"$CONF:3:"* ]]
}

@test "--check refuses dir= outside a plain ppath object (regex, wildcard ppath), with FILE:LINE" {
	printf 'docroot %s\n<Object regex="^/s/">\n  Service fn=cgi dir=%s\n</Object>\n' \
	    "$DOC" "$CGI" >"$CONF"
	chk
	[ "$status" -eq 1 ]
	[[ $stderr == *"$CONF:3:"* ]]
	printf 'docroot %s\n<Object ppath="/cgi-*">\n  Service fn=cgi dir=%s\n</Object>\n' \
	    "$DOC" "$CGI" >"$CONF"
	chk
	[ "$status" -eq 1 ]
	[[ $stderr == *"$CONF:3:"* ]]
}

# ---- what the review found -------------------------------------------------

@test "credentials the server checked reach no script: not after a local redirect, not on an error page a script serves" {
	conf '<Object ppath="/basic">' \
	    '  AuthTrans fn=auth-basic realm="b" lookup=demo-users' \
	    "  Service fn=cgi dir=$CGI" '</Object>' \
	    'error_page 403 /cgi-bin/env.sh'
	# larry:wall through /basic, redirected to the open /cgi-bin/env.sh
	creq "$(rq GET /basic/redirect-env.sh \
	    'Authorization: Basic bGFycnk6d2FsbA==')"
	[ "$(resp_status)" = 200 ]
	is_var QUERY_STRING from=redirect
	no_var HTTP_AUTHORIZATION
	# dr_evil:1million (right password, forbidden): the 403 page is a
	# script; it keeps the status and sees no credentials
	creq "$(rq GET /basic/env.sh \
	    'Authorization: Basic ZHJfZXZpbDoxbWlsbGlvbg==')"
	[ "$(resp_status)" = 403 ]
	is_var REDIRECT_STATUS 403
	no_var HTTP_AUTHORIZATION
	# without auth on the path the header is the script's
	creq "$(rq GET /cgi-bin/env.sh 'Authorization: Bearer xyz')"
	is_var HTTP_AUTHORIZATION 'Bearer xyz'
}

@test "Digest: a local redirect inside the realm is served (the nonce count is spent once), under tcpserver" {
	conf '<Object ppath="/dig">' \
	    '  AuthTrans fn=auth-digest realm="d" lookup=demo-users' \
	    "  Service fn=cgi dir=$CGI" '</Object>'
	inetd
	run curl -s --max-time 30 --digest -u larry:wall \
	    "http://127.0.0.1:$PORT/dig/redirect-dig.sh"
	[ "$status" -eq 0 ]
	[[ $output == *"REMOTE_USER=larry"* ]]
	[[ $output == *"SCRIPT_NAME=/dig/env.sh"* ]]
	! grep -q 'replayed nonce count' "$ERRLOG"
}

@test "an index file a CGI object names is run for its directory (method and body kept), never sent as source" {
	mkdir -p "$DOC/app" && cp "$FIX/index.cgi" "$DOC/app/index.cgi" &&
	    chmod 755 "$DOC/app" "$DOC/app/index.cgi"
	conf 'index index.cgi index.html' '<Object regex="\.cgi$">' \
	    '  Service fn=cgi' '</Object>'
	creq "$(rq GET /app/)"
	[ "$(resp_status)" = 200 ]
	[ "$(body)" = 'index script ran: GET' ]
	creq "$(rq POST /app/ 'Content-Length: 3')abc"
	[ "$(body)" = 'index script ran: POST' ]
	# without the object the index is a file like any other
	conf 'index index.cgi index.html'
	creq "$(rq GET /app/)"
	[[ $(body) == '#!/bin/sh'* ]]
}

@test "cgi_strict: a link to a script in a world-writable directory is refused; cgi_strict off runs it" {
	mkdir "$CGI/sub" && chmod 777 "$CGI/sub"
	cp "$FIX/plain.sh" "$CGI/sub/plain.sh" && chmod 755 "$CGI/sub/plain.sh"
	ln -s sub/plain.sh "$CGI/link.sh"
	creq "$(rq GET /cgi-bin/link.sh)"
	[ "$(resp_status)" = 403 ]
	grep -q 'cgi_strict' "$ERRLOG"
	conf 'cgi_strict off'
	creq "$(rq GET /cgi-bin/link.sh)"
	[ "$(resp_status)" = 200 ]
}

@test "prefork: a child that left the script's group (setsid) is reaped once it ends: no zombie" {
	prefork
	run curl -s --max-time 30 "$(url /cgi-bin/setsid-bg.sh)"
	[ "$output" = answered ]
	# each CGI request ends with a sweep: once the child has ended, the
	# next one reaps it
	wait_for 20 swept_by_a_request
}

# swept_by_a_request: one CGI request to the prefork server, then no
# zombie below it.
swept_by_a_request() {
	[ "$(curl -s --max-time 30 "$(url /cgi-bin/plain.sh)")" = \
	    'plain script output' ] && no_zombie_below "$SA_PID"
}

@test "a server stopped mid-script takes the script along (prefork TERM, tcpserver's ihttpd TERM)" {
	prefork
	curl -s --max-time 30 -o /dev/null "$(url /cgi-bin/long.sh)" &
	helper $!
	wait_for 10 test -s "$CGI/long.pid"
	stop_server "$SA_PID"
	SERVERS=()
	pids_gone long
	rm "$CGI/long.pid"
	inetd
	curl -s --max-time 30 -o /dev/null "http://127.0.0.1:$PORT/cgi-bin/long.sh" &
	helper $!
	wait_for 10 test -s "$CGI/long.pid"
	local p
	for p in $(pgrep -P "$TCPSERVER_PID"); do
		kill -TERM "$p"
	done
	pids_gone long
	# that ihttpd ended by our TERM: no crash for stop_tcpserver
	: >"$TCPSERVER_LOG"
}

@test "a script's own Content-Length: the answer is complete at its last byte, whatever the script does after" {
	conf 'cgi_timeout 3'
	inetd
	run curl -s --max-time 30 -w ' %{http_code}' \
	    "http://127.0.0.1:$PORT/cgi-bin/cl-then-linger.sh"
	[ "$status" -eq 0 ]
	[ "$output" = $'ok\n 200' ]
	run curl -s --max-time 30 "http://127.0.0.1:$PORT/cgi-bin/cl-drip.sh"
	[ "$status" -eq 0 ]
	[ "$output" = ab ]
}

@test "NPH: a status line longer than one read is passed on (no read past the buffer)" {
	creq_to "$T/out" "$(rq GET /cgi-bin/nph-long.pl)"
	[ "$(head -c 12 "$T/out")" = 'HTTP/1.1 111' ]
	[ "$(stat -c %s "$T/out")" -eq 65536 ]
	! grep -q Sanitizer "$T/stderr"
}

@test "HTTP/1.0: a script killed mid-body resets the connection (a close-delimited body must not look complete)" {
	inetd
	run curl -s -0 --max-time 30 -o "$T/body" \
	    "http://127.0.0.1:$PORT/cgi-bin/die-mid.sh"
	echo "# curl exit status $status" >&3
	[ "$status" -ne 0 ]
}

@test "--check refuses a cgi dir= outside the chroot (a script there could walk out of it), with FILE:LINE" {
	[ "$(id -u)" = 0 ] || skip "chroot needs root"
	mkdir -p "$T/jail/www" "$T/jail/cgi" "$T/out"
	printf '%s\n' "chroot $T/jail" "docroot $T/jail/www" \
	    "datadir $T/jail" 'standalone on' 'port 127.0.0.1:0' \
	    '<Object ppath="/cgi-bin">' "  Service fn=cgi dir=$T/out" \
	    '</Object>' >"$T/jail.conf"
	run "$IHTTPD" -c "$T/jail.conf" --check
	[ "$status" -ne 0 ]
	[[ $output == *"jail.conf:7: cgi dir $T/out must be an absolute path inside chroot"* ]]
	sed -i "s|dir=$T/out|dir=$T/jail/cgi|" "$T/jail.conf"
	run "$IHTTPD" -c "$T/jail.conf" --check
	[ "$status" -eq 0 ]
}

# ---- what the second review found ------------------------------------------

@test "HTTP/1.0 keep-alive: a script cut after an earlier 4 MB answer resets the connection only once that answer is out" {
	head -c 4000000 /dev/urandom >"$DOC/big.bin"
	inetd
	run python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 30)
s.sendall(b"GET /big.bin HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
          b"GET /cgi-bin/die-mid.sh HTTP/1.0\r\n\r\n")
got, end = b"", "eof"
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
except ConnectionResetError:
    end = "reset"
head, _, rest = got.partition(b"\r\n\r\n")
print(end, len(rest) >= 4000000, rest[4000000:4000008] == b"HTTP/1.1")
PY
	echo "# $output" >&3
	[ "$output" = "reset True True" ]
}

@test "HEAD to a script with its own Content-Length: the head is the answer, keep-alive goes on" {
	creq "HEAD /cgi-bin/head-cl.sh HTTP/1.1\r\nHost: t\r\n\r\n$(rq GET /cgi-bin/plain.sh)"
	[[ $output == *"Content-Length: 5"* ]]
	[[ $output == *"plain script output"* ]]
	! grep -q 'shorter than its Content-Length' "$ERRLOG"
}

@test "an index script's path is not decoded twice: /p%2561th/ runs p%61th/index.cgi, not path/index.cgi" {
	mkdir -p "$DOC/p%61th" "$DOC/path"
	printf '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\nencoded\\n"\n' \
	    >"$DOC/p%61th/index.cgi"
	printf '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\nplain\\n"\n' \
	    >"$DOC/path/index.cgi"
	chmod 755 "$DOC/p%61th" "$DOC/path" "$DOC/p%61th/index.cgi" \
	    "$DOC/path/index.cgi"
	conf 'index index.cgi' '<Object regex="\.cgi$">' '  Service fn=cgi' \
	    '</Object>'
	creq "$(rq GET /p%2561th/)"
	[ "$(body)" = encoded ]
	creq "$(rq GET /path/)"
	[ "$(body)" = plain ]
}

@test "single: TERM mid-script takes the script's group along" {
	ERRLOG=stderr conf
	sa --type single
	curl -s --max-time 30 -o /dev/null "$(url /cgi-bin/long-child.sh)" &
	helper $!
	wait_for 10 test -s "$CGI/long-child.pid"
	stop_server "$SA_PID"
	SERVERS=()
	pids_gone long-child
}

@test "prefork: QUIT with a script past graceful_timeout: the worker and the script's group are ended" {
	prefork 'graceful_timeout 1'
	curl -s --max-time 30 -o /dev/null "$(url /cgi-bin/long-child.sh)" &
	helper $!
	wait_for 10 test -s "$CGI/long-child.pid"
	kill -QUIT "$SA_PID"
	wait_for 15 gone "$SA_PID"
	pids_gone long-child
}
