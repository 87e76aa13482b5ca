#!/usr/bin/env bats
# Objects and phases: NSAPI wildcards in ppath, which object's AuthTrans
# guards a path that several protect (the most specific by depth), a
# response made in NameTrans ends the request, and `drop` closes without
# an answer (logged 444).  Pipe mode; the Digest nonce crosses processes
# through datadir, as in inetd mode.

load helpers

DIG=$BATS_TEST_DIRNAME/fixtures/auth/dig.py

setup_file() {
	snapshot_binary || return 1
	htpasswd -cbB -C 4 "$BATS_FILE_TMPDIR/htpasswd" tom tom-pw \
	    2>/dev/null || return 1
}

setup() {
	cd "$ROOT" || return 1
	T=$BATS_TEST_TMPDIR
	F=$BATS_FILE_TMPDIR
	mkdir -p "$T/www/private" "$T/www/public" "$T/www/sub/a" "$T/www/img"
	for f in private/a.txt public/a.txt private/index.html sub/x sub/a/b \
	    img/abc.png img/abcd.png; do
		echo "file $f" >"$T/www/$f"
	done
	cat >"$T/o.conf" <<EOF
docroot        $T/www
mimetypes      $ROOT/conf/mime.types
datadir        $T/data
access_log     $T/access.log
error_log      $T/error.log

# Two realms over /private/a.txt: the ppath is deeper than the regex.
<Object regex="\.txt$">
  AuthTrans fn=auth-basic realm="text" userfile=$F/htpasswd
</Object>
<Object ppath="/private">
  AuthTrans fn=auth-digest realm="private" lookup=demo-users
</Object>
# An anchored regex deeper than the ppath guards what it matches.
<Object regex="^/private/open/.*\.txt$">
  AuthTrans fn=auth-basic realm="open" userfile=$F/htpasswd
</Object>
<Object path="/private/exact.txt">
  AuthTrans fn=auth-basic realm="exact" userfile=$F/htpasswd
  Service fn=hello greeting=exact
</Object>
# Alternatives: only the least specific one counts (here none).
<Object regex="^/pub/a/b/|\.html$">
  AuthTrans fn=auth-basic realm="guest" userfile=$F/htpasswd
</Object>
<Object ppath="/sub/*">
  Service fn=hello greeting=wild
</Object>
<Object ppath="/img/???.png">
  Service fn=hello greeting=three
</Object>
<Object ppath="/moved">
  NameTrans fn=canonical-host name=www.example.org
</Object>
<Object regex="\.php$">
  Service fn=drop
</Object>
EOF
}

basic() {
	printf 'Authorization: Basic %s' "$(printf '%s' "$1" | base64 -w0)"
}

req() {	# req PATH [HEADER]
	pipe_req "GET $1 HTTP/1.1\r\nHost: t\r\n${2:+$2\r\n}Connection: close\r\n\r\n" -c "$T/o.conf"
}

@test "ppath=\"/sub/*\" matches below /sub/ at any depth, never /sub itself or /subx" {
	req /sub/x
	[ "$(resp_status)" = 200 ]
	has '^wild'
	req /sub/a/b
	has '^wild'
	req /sub/
	has '^wild'
	req /sub
	hasnt '^wild'
	req /subx
	hasnt '^wild'
	run "$IHTTPD" -c "$T/o.conf" --check
	[ "$status" -eq 0 ]
}

@test "ppath with ? matches exactly one byte per ?" {
	req /img/abc.png
	has '^three'
	req /img/abcd.png
	hasnt '^three'
	has '^file img/abcd.png'
}

@test "Basic credentials of a regex realm do not open a deeper ppath's Digest realm" {
	req /public/a.txt "$(basic tom:tom-pw)"
	[ "$(resp_status)" = 200 ]
	has '^file public/a.txt'
	req /private/a.txt "$(basic tom:tom-pw)"
	[ "$(resp_status)" = 401 ]
	has '^WWW-Authenticate: Digest realm="private"'
	hasnt 'file private/a.txt'
	hasnt 'realm="text"'
}

@test "the deeper realm's own users get in; its Digest guards .txt files below it" {
	local nonce hdr
	req /private/a.txt
	[ "$(resp_status)" = 401 ]
	nonce=$(printf '%s' "$output" | python3 "$DIG" nonce --alg SHA-256 | cut -d' ' -f1)
	[ -n "$nonce" ]
	hdr=$(python3 "$DIG" header larry wall private "$nonce" /private/a.txt)
	req /private/a.txt "Authorization: $hdr"
	[ "$(resp_status)" = 200 ]
	has '^file private/a.txt'
}

@test "an anchored regex deeper than the ppath guards its paths; an exact path beats both" {
	mkdir -p "$T/www/private/open"
	echo opened >"$T/www/private/open/x.txt"
	req /private/open/x.txt "$(basic tom:tom-pw)"
	[ "$(resp_status)" = 200 ]
	has '^opened'
	req /private/open/x.txt
	has '^WWW-Authenticate: Basic realm="open"'
	req /private/exact.txt "$(basic tom:tom-pw)"
	[ "$(resp_status)" = 200 ]
	has '^exact'
}

@test "a response made in NameTrans (ih_redirect) ends the request: 301, not 404" {
	req '/moved/page?q=1'
	[ "$(resp_status)" = 301 ]
	has '^Location: http://www.example.org/moved/page\?q=1'
	hasnt '404'
	grep -q '"GET /moved/page?q=1 HTTP/1.1" 301 ' "$T/access.log"
	run grep -c 'Not Found' "$T/error.log"
	[ "$output" = 0 ]
}

@test "canonical-host lets the canonical name through, any case, with a port" {
	pipe_req "GET /moved/x HTTP/1.1\r\nHost: WWW.example.org:8080\r\nConnection: close\r\n\r\n" -c "$T/o.conf"
	[ "$(resp_status)" = 404 ]
	printf 'NameTrans fn=canonical-host\n' >"$T/bad.conf"
	run "$IHTTPD" -c "$T/bad.conf" --check
	[ "$status" -eq 1 ]
	[[ "$output" == *"bad.conf:1"*"needs name=HOST"* ]]
	# an absolute-form target names the host; its query stays a query
	printf 'docroot %s\nNameTrans fn=canonical-host name=www.example.org\n' "$T/www" >"$T/c.conf"
	pipe_req 'GET http://evil.example?/x/y HTTP/1.1\r\nHost: www.example.org\r\nConnection: close\r\n\r\n' -c "$T/c.conf"
	has $'^Location: http://www.example.org/\\?/x/y\r$'
}

@test "drop closes without a byte and logs 444, never 200" {
	req /wp-login.php
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	grep -q '"GET /wp-login.php HTTP/1.1" 444 - ' "$T/access.log"
}

@test "a regex with top-level alternatives ranks by its least specific one: no way around the deeper realm" {
	req /private/index.html "$(basic tom:tom-pw)"
	[ "$(resp_status)" = 401 ]
	has '^WWW-Authenticate: Digest realm="private"'
	hasnt 'file private/index.html'
}

@test "more than 64 objects matching one path: 500, never a request run without some of them (an AuthTrans dropped)" {
	{ printf 'docroot %s\ndatadir %s\n<Object ppath="/private">\n  AuthTrans fn=auth-digest realm="secret" lookup=demo-users\n</Object>\n' "$T/www" "$T/data"
	  for i in $(seq 64); do printf '<Object regex="a">\n  ObjectType fn=force-type type=text/plain\n</Object>\n'; done; } >"$T/many.conf"
	pipe_req 'GET /private/a.txt HTTP/1.0\r\n\r\n' -c "$T/many.conf"
	[ "$(resp_status)" = 500 ]
	hasnt 'file private/a.txt'
	# exactly 64 match: served as usual
	pipe_req 'GET /public/a.txt HTTP/1.0\r\n\r\n' -c "$T/many.conf"
	[ "$(resp_status)" = 200 ]
	has '^file public/a.txt'
}
