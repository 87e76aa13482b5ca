#!/usr/bin/env bats
# CGI programs nobody here wrote, unmodified, behind ihttpd: git's
# smart-HTTP server (git-http-backend, a compiled CGI program reading
# PATH_INFO, QUERY_STRING, CONTENT_TYPE and a request body that git
# sends chunked when it is large) and Python's cgi.test() (the
# standard library's own CGI self-test, which reads a POSTed form).
# Through tcpserver (inetd mode) and the prefork daemon; afterwards no
# process of a script may remain.

load helpers
load daemon

BACKEND=/usr/lib/git-core/git-http-backend

setup() {
	cd "$ROOT" || return 1
	T=$BATS_TEST_TMPDIR
	mkdir -p "$T/www" "$T/cgi" "$T/repos" && mkdir -m 700 "$T/data"
	chmod 755 "$T/cgi"
	CONF=$T/cgi.conf
	cat >"$CONF" <<EOF
docroot $T/www
datadir $T/data
access_log $T/access.log
error_log $T/error.log
cgi_pass_env GIT_PROJECT_ROOT GIT_HTTP_EXPORT_ALL
<Object ppath="/git">
  Service fn=cgi dir=$T/cgi
</Object>
EOF
	SERVERS=()
	HELPERS=()
	NSERV=0
	export GIT_PROJECT_ROOT=$T/repos GIT_HTTP_EXPORT_ALL=1
}

teardown() {
	local p
	stop_tcpserver
	for p in "${SERVERS[@]}"; do
		stop_server "$p"
	done
}

# A source tree (60 files of random bytes: a push over git's 64 KiB
# post buffer, so its body is chunked) and an empty bare repository
# that takes pushes.
git_fixture() {
	[ -x "$BACKEND" ] || skip "git-http-backend not installed"
	cp "$BACKEND" "$T/cgi/git-http-backend"
	git init -q --bare -b main "$T/repos/proj.git"
	git -C "$T/repos/proj.git" config http.receivepack true
	git init -q -b main "$T/src"
	local i
	for i in $(seq 60); do
		head -c 20000 /dev/urandom >"$T/src/f$i"
	done
	git -C "$T/src" add . &&
	    git -C "$T/src" -c user.email=t@t -c user.name=t commit -qm one
}

# push and clone through $PORT, then compare the trees.
git_round_trip() {
	local u=http://127.0.0.1:$PORT/git/git-http-backend/proj.git
	run git -C "$T/src" -c http.postBuffer=65536 push -q "$u" main
	[ "$status" -eq 0 ] || { echo "push: $output"; return 1; }
	run git clone -q "$u" "$T/clone"
	[ "$status" -eq 0 ] || { echo "clone: $output"; return 1; }
	diff -r -q --exclude=.git "$T/src" "$T/clone"
	[ "$(git -C "$T/clone" rev-parse HEAD)" = \
	    "$(git -C "$T/src" rev-parse HEAD)" ]
	# the push's pack went up chunked: git-receive-pack answered 200
	grep -q '"POST /git/git-http-backend/proj.git/git-receive-pack HTTP/1.1" 200' \
	    "$T/access.log"
	grep -q '"POST /git/git-http-backend/proj.git/git-upload-pack HTTP/1.1" 200' \
	    "$T/access.log"
}

@test "git-http-backend under tcpserver: a push with a chunked body and a clone, byte for byte" {
	git_fixture
	start_tcpserver -c "$CONF"
	git_round_trip
	! pgrep -f "$T/cgi/git-http-backend" >/dev/null
}

@test "git-http-backend under prefork: push and clone, no script process left" {
	git_fixture
	sa $(targs prefork) --error_log stderr
	git_round_trip
	local d
	d=$(descendants "$SA_PID")
	for p in $d; do
		! grep -q git-http-backend "/proc/$p/cmdline" 2>/dev/null
		[ "$(sed 's/.*) //; s/ .*//' "/proc/$p/stat" 2>/dev/null)" != Z ]
	done
}

@test "Python's cgi.test() under tcpserver: it sees the environment and a POSTed form" {
	python3 -W ignore -c 'import cgi' 2>/dev/null ||
	    skip "python3 has no cgi module"
	printf '#!/usr/bin/python3 -W ignore\nimport cgi\ncgi.test()\n' \
	    >"$T/cgi/pytest.py"
	chmod 755 "$T/cgi/pytest.py"
	start_tcpserver -c "$CONF"
	run curl -s --data-urlencode 'greeting=hello <world>' \
	    "http://127.0.0.1:$PORT/git/pytest.py/extra?x=1"
	[ "$status" -eq 0 ]
	# cgi.test() prints its form and environment, HTML-escaped
	[[ $output == *"greeting"* ]]
	[[ $output == *"hello &lt;world&gt;"* ]]
	[[ $output == *"GATEWAY_INTERFACE"*"CGI/1.1"* ]]
	[[ $output == *"PATH_INFO"*"/extra"* ]]
	[[ $output == *"REQUEST_METHOD"*"POST"* ]]
}
