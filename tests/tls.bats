#!/usr/bin/env bats
# TLS (src/tls.c and the transport seam in src/conn.c) with real clients:
# curl, openssl s_client and python3's ssl, in inetd mode under tcpserver,
# in pipe mode on a socketpair and in every standalone personality.  Big
# files and ranges byte for byte, keep-alive and pipelining, resumption
# across processes and ticket-key rotation, SNI, client certificates,
# old protocols refused, plain HTTP on a TLS port answered at once, HSTS
# and Secure cookies only over TLS, the hostile battery over TLS, and
# --check on bad certificates and keys.
#
# The certificates are made here, in setup_file, with openssl req/x509: a
# test CA, the server's (RSA, localhost and 127.0.0.1), one for SNI
# (other.test and *.wild.test), an expired one, a client's signed by the
# CA and a rogue client's signed by nobody.

load helpers
load daemon
bats_require_minimum_version 1.5.0

HC=$BATS_TEST_DIRNAME/fixtures/inetd/hc.py
SPAIR=$BATS_TEST_DIRNAME/fixtures/tls/spair.py
BATTERY=$BATS_TEST_DIRNAME/fixtures/standalone/battery.py

# mkcert NAME SUBJECT SAN [DAYS] [ec|rsa]: NAME.key, NAME.pem signed by the CA.
mkcert() {
	local kind=${5:-ec} newkey
	if [ "$kind" = rsa ]; then
		newkey=(-newkey rsa:2048)
	else
		newkey=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1)
	fi
	openssl req -new "${newkey[@]}" -nodes -keyout "$1.key" -out "$1.csr" \
	    -subj "$2" 2>/dev/null || return 1
	printf '%s\n' "$3" >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key \
	    -CAcreateserial -days "${4:-30}" -extfile "$1.ext" -out "$1.pem" \
	    2>/dev/null || return 1
	chmod 600 "$1.key"
}

setup_file() {
	snapshot_binary || return 1
	export C=$BATS_FILE_TMPDIR/certs
	mkdir -p "$C" && cd "$C" || return 1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout ca.key -out ca.pem -days 30 -subj /CN=ihttpd-test-CA \
	    -addext basicConstraints=critical,CA:TRUE \
	    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null || return 1
	mkcert srv /CN=localhost \
	    'subjectAltName=DNS:localhost,IP:127.0.0.1' 30 rsa || return 1
	mkcert other /CN=other.test \
	    'subjectAltName=DNS:other.test,DNS:*.wild.test' || return 1
	mkcert old /CN=localhost 'subjectAltName=DNS:localhost' -1 || return 1
	mkcert alice /CN=alice 'extendedKeyUsage=clientAuth' || return 1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout rogue.key -out rogue.pem -days 30 -subj /CN=mallory \
	    2>/dev/null || return 1
}

setup() {
	cd "$ROOT" || return 1
	T=$BATS_TEST_TMPDIR
	DOC=$T/www
	mkdir -p "$DOC" && mkdir -m 700 "$T/data"
	printf 'hello tls\n' >"$DOC/index.html"
	printf 'a small file\n' >"$DOC/small.txt"
	CONF=$T/tls.conf
	tconf >"$CONF"
	SERVERS=()
	HELPERS=()
	NSERV=0
	PUB=
}

teardown() {
	stop_tcpserver
	stop_started
	crash_free
}

tconf() {
	cat <<-EOF
	docroot           $DOC
	datadir           $T/data
	access_log        $T/access.log
	error_log         stderr
	log_level         3
	header_timeout    5
	keepalive_timeout 2
	sessions          on
	tls_cert          $C/srv.pem
	tls_key           $C/srv.key
	tls_sni           other.test $C/other.pem $C/other.key
	tls_sni           *.wild.test $C/other.pem $C/other.key
	hsts              31536000 includeSubDomains
	<Object path="/env">
	  Service fn=env
	</Object>
	<Object path="/counter">
	  Service fn=counter
	</Object>
	<Object path="/hello">
	  Service fn=hello greeting="Hello from the tests!"
	</Object>
	<Object path="/echo">
	  Service fn=echo
	</Object>
	EOF
}

# inetd mode: ihttpd --tls on under tcpserver, one process a connection.
inetd() {
	start_tcpserver -c "$CONF" --tls on "$@"
}

# tcurl ARGS...: curl against https://localhost:$PORT, checked against the CA.
tcurl() {
	curl -sS --max-time 20 --cacert "$C/ca.pem" \
	    --resolve "localhost:$PORT:127.0.0.1" "$@"
}

turl() {
	printf 'https://localhost:%s%s' "$PORT" "$1"
}

# sclient ARGS...: one GET / through openssl s_client, its report on stdout.
sclient() {
	printf 'GET / HTTP/1.0\r\n\r\n' | timeout 20 openssl s_client \
	    -connect "127.0.0.1:$PORT" -ign_eof "$@" 2>&1
}

# The "New," or "Reused," word of s_client's report.
session_word() {
	sed -n 's/^\(New\|Reused\), .*/\1/p' | head -1
}

# ---- inetd mode ---------------------------------------------------------

@test "inetd: curl over TLS 1.3 gets the page, checked against the CA" {
	inetd
	run tcurl -w '\n%{http_code} %{http_version} %{ssl_verify_result}' "$(turl /)"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "hello tls" ]
	[ "${lines[1]}" = "200 1.1 0" ]
	run sclient -servername localhost
	has '^ *Protocol *: TLSv1.3'
	has 'Verify return code: 2[01] '
}

@test "inetd: TLS 1.2 with an ECDHE suite of the intermediate profile" {
	inetd
	run sclient -tls1_2 -servername localhost
	has '^New, TLSv1.2, Cipher is ECDHE-RSA-AES(128|256)-GCM-SHA(256|384)'
	has '^HTTP/1.1 200 OK'
}

@test "inetd: a 10 MiB file and ranges arrive byte for byte" {
	head -c 10485760 /dev/urandom >"$DOC/big.bin"
	inetd
	tcurl -o "$T/got" "$(turl /big.bin)"
	cmp "$DOC/big.bin" "$T/got"
	tcurl -r 1000000-3999999 -o "$T/part" "$(turl /big.bin)"
	dd if="$DOC/big.bin" of="$T/want" bs=1000000 skip=1 count=3 2>/dev/null
	cmp "$T/want" "$T/part"
	tcurl -r -1000 -o "$T/tail" "$(turl /big.bin)"
	tail -c 1000 "$DOC/big.bin" | cmp - "$T/tail"
	run tcurl -o /dev/null -w '%{http_code}' -r 20000000- "$(turl /big.bin)"
	[ "$output" = 416 ]
}

@test "inetd: keep-alive and pipelining over TLS" {
	inetd
	run tcurl -w '%{http_code} %{num_connects}\n' -o /dev/null "$(turl /)" \
	    -o /dev/null "$(turl /small.txt)" -o /dev/null "$(turl /hello)"
	[ "${lines[0]}" = "200 1" ]
	[ "${lines[1]}" = "200 0" ]
	[ "${lines[2]}" = "200 0" ]
	HC_TLS=1 run python3 "$HC" send "$PORT" 10 \
	    'GET / HTTP/1.1\r\nHost: t\r\n\r\nGET /small.txt HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' --body
	[ "$status" -eq 0 ]
	has '^R 1 200 .*body=10 '
	has "^B 2 b'a small file"
	has '^R 3 200 .*conn=close'
	has '^END eof '
}

@test "inetd: a chunked POST and Expect: 100-continue over TLS" {
	inetd
	HC_TLS=1 run python3 "$HC" chunked "$PORT"
	[ "$status" -eq 0 ]
	HC_TLS=1 run python3 "$HC" continue "$PORT"
	[ "$status" -eq 0 ]
}

@test "inetd: a refused body still gets its 413 (lingering close under TLS)" {
	inetd --max_body 1000
	HC_TLS=1 run python3 "$HC" send "$PORT" 10 \
	    'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3000000\r\n\r\n' \
	    --pad 3000000
	has '^R 1 413 '
}

@test "inetd: a session resumes in the next process (TLS 1.3 and 1.2)" {
	inetd
	run sclient -servername localhost -sess_out "$T/s13"
	[ "$(session_word <<<"$output")" = New ]
	run sclient -servername localhost -sess_in "$T/s13"
	[ "$(session_word <<<"$output")" = Reused ]
	has '^HTTP/1.1 200 OK'
	run sclient -tls1_2 -servername localhost -sess_out "$T/s12"
	[ "$(session_word <<<"$output")" = New ]
	run sclient -tls1_2 -servername localhost -sess_in "$T/s12"
	[ "$(session_word <<<"$output")" = Reused ]
	# the keys: one file, ours alone
	[ "$(stat -c %a "$T/data/tls/tickets")" = 600 ]
	[ "$(stat -c %a "$T/data/tls")" = 700 ]
	grep -q TLSv1.3 "$T/access.log" || true
}

@test "inetd: python's ssl resumes too, through pipe mode on a socketpair" {
	run python3 "$SPAIR" 3 "$C/ca.pem" /small.txt "$IHTTPD" -c "$CONF" \
	    --tls on
	[ "$status" -eq 0 ]
	has "^C 1 200 reused=0 TLSv1.3 "
	has '^C 2 200 reused=1 TLSv1.3 '
	has '^C 3 200 reused=1 TLSv1.3 '
	has '^a small file$'
}

# age_keys SECONDS: make every ticket key in the file that much older.
age_keys() {
	awk -v d="$1" '/^#/ { print; next } { $1 -= d; print }' \
	    "$T/data/tls/tickets" >"$T/k" && cat "$T/k" >"$T/data/tls/tickets"
}

key_names() {
	awk '!/^#/ { print $2 }' "$T/data/tls/tickets"
}

@test "inetd: ticket keys rotate by age; the previous key still resumes, the one before it does not" {
	inetd --tls_ticket_lifetime 60
	run sclient -servername localhost -sess_out "$T/s"
	[ "$(session_word <<<"$output")" = New ]
	run key_names
	[ "${#lines[@]}" -eq 1 ]
	first=${lines[0]}
	# one lifetime later the next connection makes a new key
	age_keys 61
	run sclient -servername localhost -sess_in "$T/s"
	[ "$(session_word <<<"$output")" = Reused ]
	run key_names
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[1]}" = "$first" ]
	[ "${lines[0]}" != "$first" ]
	# and again: the first key is gone, its ticket resumes no more
	age_keys 61
	run sclient -servername localhost -sess_in "$T/s"
	[ "$(session_word <<<"$output")" = New ]
	run key_names
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[0]}" != "$first" ]
	[ "${lines[1]}" != "$first" ]
}

@test "inetd: a ticket from a server with other keys does not resume" {
	inetd
	run sclient -servername localhost -sess_out "$T/s"
	[ "$(session_word <<<"$output")" = New ]
	rm "$T/data/tls/tickets"
	run sclient -servername localhost -sess_in "$T/s"
	[ "$(session_word <<<"$output")" = New ]
	has '^HTTP/1.1 200 OK'
}

@test "inetd: SNI chooses the certificate (exact and wildcard names)" {
	inetd
	run sclient -servername other.test
	has '^subject=CN ?= ?other.test'
	run sclient -servername a.wild.test
	has '^subject=CN ?= ?other.test'
	run sclient -servername b.a.wild.test
	has '^subject=CN ?= ?localhost'
	run sclient -servername localhost
	has '^subject=CN ?= ?localhost'
	run sclient -noservername
	has '^subject=CN ?= ?localhost'
	run curl -sS --max-time 20 --cacert "$C/ca.pem" \
	    --resolve "other.test:$PORT:127.0.0.1" "https://other.test:$PORT/small.txt"
	[ "$output" = "a small file" ]
}

@test "inetd: ALPN answers http/1.1, and nothing to a client offering only h2" {
	inetd
	run sclient -servername localhost -alpn h2,http/1.1
	has '^ALPN protocol: http/1.1'
	run sclient -servername localhost -alpn h2
	has '^No ALPN negotiated'
	has '^HTTP/1.1 200 OK'
}

@test "inetd: client certificates required: none or a rogue one is refused, the CA's gets in" {
	inetd --tls_ca "$C/ca.pem" --tls_verify_client on
	run tcurl "$(turl /small.txt)"
	[ "$status" -ne 0 ]
	[ "$output" != "a small file" ]
	run tcurl --cert "$C/rogue.pem" --key "$C/rogue.key" "$(turl /small.txt)"
	[ "$status" -ne 0 ]
	run tcurl --cert "$C/alice.pem" --key "$C/alice.key" "$(turl /env)"
	[ "$status" -eq 0 ]
	has '<th>SSL_CLIENT_VERIFY</th><td>SUCCESS</td>'
	has '<th>SSL_CLIENT_S_DN</th><td>CN=alice</td>'
	run sclient -servername localhost
	has 'Acceptable client certificate CA names'
	has 'CN ?= ?ihttpd-test-CA'
}

@test "inetd: a ticket from a server with laxer client-certificate rules does not get past tls_verify_client on" {
	# the two share the datadir, so the ticket decrypts: the session
	# context must still refuse it
	inetd
	LAX=$PORT
	HELPERS+=("$TCPSERVER_PID")
	inetd --tls_ca "$C/ca.pem" --tls_verify_client on
	PORT=$LAX run sclient -servername localhost -sess_out "$T/s"
	[ "$(session_word <<<"$output")" = New ]
	printf 'GET /env HTTP/1.0\r\n\r\n' | timeout 20 openssl s_client \
	    -connect "127.0.0.1:$PORT" -servername localhost -ign_eof \
	    -sess_in "$T/s" >"$T/out" 2>&1 || true
	run cat "$T/out"
	hasnt '^Reused,'
	hasnt 'SSL_CLIENT_VERIFY'
	hasnt '^HTTP/1.1 200'
	# with a certificate it gets in, as a new session
	run tcurl --cert "$C/alice.pem" --key "$C/alice.key" "$(turl /env)"
	has '<th>SSL_CLIENT_VERIFY</th><td>SUCCESS</td>'
}

@test "inetd: a ticket made for one SNI name does not resume under another" {
	inetd
	run sclient -servername other.test -sess_out "$T/s"
	[ "$(session_word <<<"$output")" = New ]
	run sclient -servername other.test -sess_in "$T/s"
	[ "$(session_word <<<"$output")" = Reused ]
	run sclient -servername localhost -sess_in "$T/s"
	[ "$(session_word <<<"$output")" = New ]
	has '^subject=CN ?= ?localhost'
}

@test "inetd: SNI names a full handshake refuses (NUL, empty, over 255 bytes) never resume a ticket made without SNI" {
	inetd
	run sclient -tls1_2 -noservername -sess_out "$T/s"
	[ "$(session_word <<<"$output")" = New ]
	run python3 "$BATS_TEST_DIRNAME/fixtures/tls/hello12.py" "$PORT" "$T/s"
	[ "$status" -eq 0 ]
	has '^none RESUMED$'
	for c in empty nul-inside nul-first 256-bytes 300-bytes; do
		has "^$c "
		hasnt "^$c RESUMED"
	done
}

@test "inetd: client certificates optional: none is fine, a rogue one is refused" {
	inetd --tls_ca "$C/ca.pem" --tls_verify_client optional
	run tcurl "$(turl /env)"
	[ "$status" -eq 0 ]
	has '<th>SSL_CLIENT_VERIFY</th><td>NONE</td>'
	hasnt 'SSL_CLIENT_S_DN'
	run tcurl --cert "$C/rogue.pem" --key "$C/rogue.key" "$(turl /env)"
	[ "$status" -ne 0 ]
	run tcurl --cert "$C/alice.pem" --key "$C/alice.key" "$(turl /env)"
	has '<th>SSL_CLIENT_VERIFY</th><td>SUCCESS</td>'
}

@test "inetd: TLS 1.0 and 1.1 are refused by default" {
	inetd
	run python3 - "$PORT" <<-'PY'
	import socket, ssl, sys
	for v in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
	    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
	    ctx.check_hostname = False
	    ctx.verify_mode = ssl.CERT_NONE
	    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
	    ctx.minimum_version = ctx.maximum_version = v
	    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
	    try:
	        ctx.wrap_socket(s).close()
	        print("accepted", v.name)
	    except ssl.SSLError as e:
	        print("refused", v.name, e.reason)
	PY
	has '^refused TLSv1 '
	has '^refused TLSv1_1 '
	hasnt accepted
}

@test "inetd: plain HTTP to a TLS port is answered 400 at once, in plain text" {
	inetd
	run raw_tcp 'GET / HTTP/1.1\r\nHost: t\r\n\r\n' 10
	has '^HTTP/1.1 400 Bad Request'
	has 'speaks HTTPS'
	hasnt 'hello tls'
}

@test "inetd: a peer the ACL denies on a TLS port is closed without a plaintext page" {
	inetd --cidr_allow 10.0.0.0/8
	run python3 - "$PORT" <<-'PY'
	import socket, sys
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
	s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
	s.settimeout(10)
	try:
	    print("got %r" % s.recv(1000))
	except ConnectionResetError:
	    print("reset")
	PY
	[[ $output == reset || $output == "got b''" ]]
	run tcurl "$(turl /)"
	[ "$status" -ne 0 ]
	hasnt 'hello tls'
	# logged as closed without a response
	grep -q '"-" 444 ' "$T/access.log"
}

@test "inetd: a client that never finishes the handshake is closed at header_timeout" {
	inetd --header_timeout 1
	run python3 - "$PORT" <<-'PY'
	import socket, sys
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
	s.sendall(b"\x16\x03\x01")   # the start of a ClientHello, no more
	s.settimeout(10)
	print("closed" if s.recv(100) == b"" else "answered")
	PY
	[ "$output" = closed ]
}

@test "inetd: half a TLS record waits in poll, not in a loop (no CPU spent while it waits)" {
	inetd
	run python3 "$BATS_TEST_DIRNAME/fixtures/tls/partial.py" "$PORT" \
	    "$TCPSERVER_PID"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "HTTP/1.1 200 OK" ]
	# a spinning read took about a third of the wait here; waiting in
	# poll takes nothing
	read -r _ used _ wait <<<"${lines[0]}"
	[ "$used" -lt $((wait / 8)) ]
}

@test "inetd: session cookies are Secure over TLS, and only there" {
	inetd
	run tcurl -D - -o /dev/null "$(turl /counter)"
	has '^Set-Cookie: ihttpd_session=[A-Za-z0-9_-]{22}; Path=/; HttpOnly; SameSite=Lax; Secure'
	pipe_req 'GET /counter HTTP/1.0\r\n\r\n' -c "$CONF"
	has $'^Set-Cookie: ihttpd_session=[A-Za-z0-9_-]{22}; Path=/; HttpOnly; SameSite=Lax\r$'
}

@test "inetd: HSTS only on TLS responses, error pages included" {
	inetd
	run tcurl -D - -o /dev/null "$(turl /)"
	has '^Strict-Transport-Security: max-age=31536000; includeSubDomains'
	run tcurl -D - -o /dev/null "$(turl /nope)"
	has '^HTTP/1.1 404'
	has '^Strict-Transport-Security: max-age=31536000; includeSubDomains'
	pipe_req 'GET / HTTP/1.0\r\n\r\n' -c "$CONF"
	has '^HTTP/1.1 200'
	hasnt 'Strict-Transport-Security'
}

@test "inetd: HTTPS, SSL_PROTOCOL and SSL_CIPHER for handlers; an https:// target on a plain connection claims nothing" {
	inetd
	run tcurl "$(turl /env)"
	has '<th>HTTPS</th><td>on</td>'
	has '<th>SSL_PROTOCOL</th><td>TLSv1.3</td>'
	has '<th>SSL_CIPHER</th><td>TLS_[A-Z0-9_]+</td>'
	pipe_req 'GET https://localhost/env HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' -c "$CONF"
	has '^HTTP/1.1 200'
	hasnt '<th>HTTPS</th>'
	hasnt 'SSL_'
}

@test "inetd: the hostile battery over TLS: no failures" {
	SA_CONF=conf/ihttpd.conf
	start_tcpserver -c conf/ihttpd.conf --tls on --tls_cert "$C/srv.pem" \
	    --tls_key "$C/srv.key" --datadir "$T/data" --access_log off \
	    --header_timeout 2 --keepalive_timeout 1 --body_timeout 2
	HC_TLS=1 run python3 "$BATTERY" "$BATS_TEST_DIRNAME/inetd.bats" "$PORT"
	printf '%s\n' "$output" | grep -v '^ok' >&2 || true
	[ "$status" -eq 0 ]
	has ' cases, 0 failed$'
}

@test "inetd: a plain connection never initialises OpenSSL" {
	run env -i IHTTPD_TEST=1 strace -f -e trace=openat "$IHTTPD" \
	    --docroot "$DOC" --access_log off -c /dev/null </dev/null
	hasnt 'openssl|tickets'
	pipe_req 'GET /env HTTP/1.0\r\n\r\n' -c "$CONF"
	hasnt '<th>HTTPS</th>'
}

@test "inetd: the certificate is refused at start-up when it is bad (nothing served)" {
	printf 'tls on\ntls_cert %s\ntls_key %s\n' "$C/old.pem" "$C/old.key" \
	    >"$T/bad.conf"
	run --separate-stderr bash -c 'printf "GET / HTTP/1.0\r\n\r\n" |
	    "$1" -c "$2" --docroot "$3" --datadir "$4" --tls_ca /nonexistent \
	    --tls_verify_client on' _ "$IHTTPD" "$T/bad.conf" "$DOC" "$T/data"
	[ "$status" -ne 0 ]
	[ -z "$output" ]
}

# ---- --check ------------------------------------------------------------

# check_conf LINES...: a config of those lines plus the docroot, checked.
check_conf() {
	{
		printf 'docroot %s\ndatadir %s\n' "$DOC" "$T/data"
		printf '%s\n' "$@"
	} >"$T/c.conf"
	run --separate-stderr "$IHTTPD" -c "$T/c.conf" --check
}

@test "--check: a good TLS config is OK" {
	check_conf "tls on" "tls_cert $C/srv.pem" "tls_key $C/srv.key" \
	    "tls_sni other.test $C/other.pem $C/other.key" \
	    "tls_ca $C/ca.pem" "tls_verify_client optional" \
	    "tls_protocols TLSv1.2 TLSv1.3" "hsts 600 preload"
	[ "$status" -eq 0 ]
	[ "$output" = "$T/c.conf: configuration OK" ]
}

@test "--check: an expired certificate is named with its line" {
	check_conf "tls on" "tls_cert $C/old.pem" "tls_key $C/old.key"
	[ "$status" -eq 1 ]
	grep -q "c.conf:4: certificate $C/old.pem expired" <<<"$stderr"
}

@test "--check: a key that does not match, and one others can read, are refused" {
	cp "$C/other.key" "$T/open.key"
	chmod 644 "$T/open.key"
	check_conf "tls on" "tls_cert $C/srv.pem" "tls_key $C/other.key" \
	    "tls_sni x.test $C/other.pem $T/open.key"
	[ "$status" -eq 1 ]
	grep -q "c.conf:5: key $C/other.key does not match certificate $C/srv.pem" <<<"$stderr"
	grep -q "c.conf:6: key $T/open.key: readable or writable by others" <<<"$stderr"
	! grep -q -- '-----BEGIN' <<<"$stderr"
}

@test "--check: an unreadable certificate, a missing key and TLS without a certificate" {
	check_conf "tls on" "tls_cert $T/none.pem" "tls_key $T/none.key"
	[ "$status" -eq 1 ]
	grep -q "c.conf:4: certificate $T/none.pem: No such file or directory" <<<"$stderr"
	grep -q "c.conf:5: key $T/none.key: No such file or directory" <<<"$stderr"
	check_conf "tls on"
	[ "$status" -eq 1 ]
	grep -q "c.conf:3: TLS needs tls_cert" <<<"$stderr"
	check_conf "standalone on" "port 127.0.0.1:0/tls"
	[ "$status" -eq 1 ]
	grep -q "c.conf:4: TLS needs tls_cert" <<<"$stderr"
}

@test "--check: tls on in a standalone server with no /tls port is an error (never plain text by surprise)" {
	check_conf "standalone on" "port 127.0.0.1:0" "tls on" \
	    "tls_cert $C/srv.pem" "tls_key $C/srv.key"
	[ "$status" -eq 1 ]
	grep -q "c.conf:5: tls on: a standalone port speaks TLS by its /tls suffix" <<<"$stderr"
	check_conf "standalone on" "port 127.0.0.1:0" "port 127.0.0.1:0/tls" \
	    "tls on" "tls_cert $C/srv.pem" "tls_key $C/srv.key"
	[ "$status" -eq 0 ]
	# sockets systemd passed to another process change nothing
	check_conf "standalone on" "port 127.0.0.1:0" "tls on" \
	    "tls_cert $C/srv.pem" "tls_key $C/srv.key"
	LISTEN_FDS=1 LISTEN_PID=1 run --separate-stderr "$IHTTPD" \
	    -c "$T/c.conf" --check
	[ "$status" -eq 1 ]
	LISTEN_FDS=1 LISTEN_PID=1 run --separate-stderr "$IHTTPD" \
	    -c "$T/c.conf" --port 127.0.0.1:0 </dev/null
	[ "$status" -eq 1 ]
	grep -q "tls on: a standalone port speaks TLS" <<<"$stderr"
}

@test "--check: tls_verify_client without tls_ca, bad protocols, ciphers, hsts and tls_sni" {
	check_conf "tls on" "tls_cert $C/srv.pem" "tls_key $C/srv.key" \
	    "tls_verify_client on" "tls_ciphers NOSUCHCIPHER"
	[ "$status" -eq 1 ]
	grep -q "c.conf:6: tls_verify_client needs tls_ca" <<<"$stderr"
	grep -q "c.conf:7: tls_ciphers: no cipher in 'NOSUCHCIPHER'" <<<"$stderr"
	check_conf "tls_protocols TLSv1.2 SSLv3"
	[ "$status" -eq 1 ]
	grep -q "c.conf:3: tls_protocols: 'SSLv3' is not" <<<"$stderr"
	check_conf "hsts forever"
	[ "$status" -eq 1 ]
	grep -q "c.conf:3: hsts: 'forever' is not off" <<<"$stderr"
	check_conf "tls_sni only.name $C/other.pem"
	[ "$status" -eq 1 ]
	grep -q "c.conf:3: tls_sni: give NAME CERT KEY" <<<"$stderr"
}

# ---- standalone ---------------------------------------------------------

t_standalone() {
	head -c 3000000 /dev/urandom >"$DOC/mid.bin"
	sa $(targs "$1") --port 127.0.0.1:0/tls --keepalive_timeout 1
	run tcurl -w '\n%{http_code} %{num_connects}\n' "$(turl /)" \
	    "$(turl /small.txt)"
	[ "${lines[0]}" = "hello tls" ]
	[ "${lines[1]}" = "200 1" ]
	[ "${lines[2]}" = "a small file" ]
	[ "${lines[3]}" = "200 0" ]
	tcurl -o "$T/got" "$(turl /mid.bin)"
	cmp "$DOC/mid.bin" "$T/got"
	tcurl -r 5-100004 -o "$T/part" "$(turl /mid.bin)"
	dd if="$DOC/mid.bin" bs=1 skip=5 count=100000 2>/dev/null | cmp - "$T/part"
	# a session from one connection resumes in the next (another
	# worker, or another fork child: the keys are shared)
	run sclient -servername localhost -sess_out "$T/s"
	[ "$(session_word <<<"$output")" = New ]
	run sclient -servername localhost -sess_in "$T/s"
	[ "$(session_word <<<"$output")" = Reused ]
	HC_TLS=1 run python3 "$HC" send "$PORT" 10 \
	    'GET / HTTP/1.1\r\nHost: t\r\n\r\nGET /small.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' --body
	has '^R 1 200 .*body=10 '
	has "^B 2 b'a small file"
	run raw_tcp 'GET / HTTP/1.1\r\nHost: t\r\n\r\n' 10
	has '^HTTP/1.1 400 Bad Request'
	alive "$SA_PID"
}

@test "standalone single: TLS port, keep-alive, files, ranges, resumption, pipelining" {
	t_standalone single
}

@test "standalone fork: TLS port, keep-alive, files, ranges, resumption, pipelining" {
	t_standalone fork
}

@test "standalone preforksimple: TLS port, keep-alive, files, ranges, resumption, pipelining" {
	t_standalone preforksimple
}

@test "standalone prefork: TLS port, keep-alive, files, ranges, resumption, pipelining" {
	t_standalone prefork
}

@test "standalone: a plain and a TLS port side by side; /ssl is accepted as /tls" {
	sa --type prefork --min_servers 1 --max_servers 2 \
	    --port 127.0.0.1:0/ssl --port 127.0.0.1:0
	PLAIN=$(sed -n 's/^ihttpd: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' \
	    "$SA_ERR" | sed -n 2p)
	run tcurl -D - "$(turl /)"
	has '^Strict-Transport-Security'
	has '^hello tls'
	run curl -sS --max-time 10 -D - "http://127.0.0.1:$PLAIN/"
	hasnt 'Strict-Transport-Security'
	has '^hello tls'
}

@test "standalone prefork: the hostile battery over TLS: no failures" {
	SA_CONF=conf/ihttpd.conf sa $(targs prefork) --port 127.0.0.1:0/tls \
	    --tls_cert "$C/srv.pem" --tls_key "$C/srv.key" --datadir "$T/data" \
	    --access_log off --header_timeout 2 --keepalive_timeout 1 \
	    --body_timeout 2
	HC_TLS=1 run python3 "$BATTERY" "$BATS_TEST_DIRNAME/inetd.bats" "$PORT"
	printf '%s\n' "$output" | grep -v '^ok' >&2 || true
	[ "$status" -eq 0 ]
	has ' cases, 0 failed$'
	alive "$SA_PID"
}

@test "standalone: HUP reloads the certificate; a bad one keeps the old server" {
	cp "$C/srv.pem" "$T/cur.pem"
	cp "$C/srv.key" "$T/cur.key"
	sa $(targs prefork) --port 127.0.0.1:0/tls --tls_cert "$T/cur.pem" \
	    --tls_key "$T/cur.key"
	run sclient -noservername
	has '^subject=CN ?= ?localhost'
	cp "$C/other.pem" "$T/cur.pem"
	cp "$C/other.key" "$T/cur.key"
	kill -HUP "$SA_PID"
	wait_started 2
	run sclient -noservername
	has '^subject=CN ?= ?other.test'
	# an expired one: the check refuses it, the running server goes on
	cp "$C/old.pem" "$T/cur.pem"
	cp "$C/old.key" "$T/cur.key"
	kill -HUP "$SA_PID"
	wait_for 10 grep -q 'expired' "$SA_ERR"
	run sclient -noservername
	has '^subject=CN ?= ?other.test'
	has '^HTTP/1.1 200 OK'
}

@test "standalone: workers run as another user and still serve TLS with a root-only key" {
	[ "$(id -u)" = 0 ] || skip "needs root"
	id nobody >/dev/null 2>&1 || skip "no user nobody"
	PUB=$(mktemp -d /tmp/ihttpd-tls.XXXXXX)
	chmod 755 "$PUB"
	mkdir -m 755 "$PUB/www"
	printf 'hello tls\n' >"$PUB/www/index.html"
	chmod 644 "$PUB/www/index.html"
	install -d -m 700 -o nobody "$PUB/data"
	sa $(targs prefork) --port 127.0.0.1:0/tls --user nobody \
	    --docroot "$PUB/www" --datadir "$PUB/data"
	run tcurl "$(turl /)"
	[ "$output" = "hello tls" ]
	[ "$(stat -c %U "$PUB/data/tls/tickets")" = nobody ]
	run sclient -servername localhost -sess_out "$T/s"
	run sclient -servername localhost -sess_in "$T/s"
	[ "$(session_word <<<"$output")" = Reused ]
}
