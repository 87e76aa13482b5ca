#!/usr/bin/env bats
# The config and the command line: --check on good and bad configs,
# messages naming FILE:LINE with a suggestion, --help, --version, and the
# precedence command line > file > built-in defaults.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
	snapshot_binary || return 1
}

setup() {
	cd "$ROOT"
	unset TCPREMOTEIP TCPREMOTEPORT TCPLOCALIP TCPLOCALPORT
	DIR=$BATS_TEST_TMPDIR
	mkdir -p "$DIR/www"
	printf 'from the tmp docroot\n' >"$DIR/www/file.txt"
}

# conf NAME: write stdin to $DIR/NAME.conf, preceded by a valid docroot
# line (so that line numbers in the file are the heredoc's plus one).
conf() {
	CONF=$DIR/$1.conf
	{
		echo "docroot $DIR/www"
		cat
	} >"$CONF"
}

# check: run --check on $CONF with stderr apart.
check() {
	run --separate-stderr "$IHTTPD" -c "$CONF" --check "$@"
}

@test "a good config passes --check with exit 0" {
	conf good <<'EOF'
index       index.html
access_log  off
mimetypes   conf/mime.types
max_body    1m
<Object path="/hello">
  Service fn=hello greeting="Hi \"there\""
</Object>
<Object regex="\.news$">
  Service fn=news
</Object>
<Object ppath="/old/">
  NameTrans fn=redirect from=/old url-prefix=/new/ status=308
</Object>
EOF
	check
	assert_success
	[ "$output" = "$CONF: configuration OK" ]
	[ -z "$stderr" ]
}

@test "the repository's own conf/ihttpd.conf passes --check" {
	run --separate-stderr "$IHTTPD" -c conf/ihttpd.conf --check
	assert_success
	assert_output "conf/ihttpd.conf: configuration OK"
}

@test "the test config passes --check" {
	run --separate-stderr "$IHTTPD" -c tests/fixtures/test.conf --check
	assert_success
	assert_output "tests/fixtures/test.conf: configuration OK"
}

@test "unknown key: FILE:LINE and the nearest key" {
	conf badkey <<'EOF'
index index.html
docrot /srv/www
EOF
	check
	assert_failure 1
	[[ $stderr == *"$CONF:3: unknown key 'docrot' (did you mean 'docroot'?)"* ]]
	[[ $output != *"configuration OK"* ]]
}

@test "unknown key far from every key: no suggestion" {
	conf farkey <<'EOF'
zzzzzzzzzzzz 1
EOF
	check
	assert_failure 1
	[[ $stderr == *"$CONF:2: unknown key 'zzzzzzzzzzzz'"* ]]
	[[ $stderr != *"did you mean"* ]]
}

@test "unknown function: FILE:LINE and the nearest function" {
	conf badfn <<'EOF'
<Object path="/x">
  Service fn=helo
</Object>
EOF
	check
	assert_failure 1
	[[ $stderr == *"$CONF:3: unknown function 'helo' (did you mean 'hello'?)"* ]]
}

@test "a function in a phase it cannot run in" {
	conf badphase <<'EOF'
<Object path="/x">
  NameTrans fn=hello
</Object>
EOF
	check
	assert_failure 1
	[[ $stderr == *"$CONF:3: function 'hello' cannot run in NameTrans"* ]]
}

@test "unterminated quote in a directive argument" {
	conf quote <<'EOF'
<Object path="/x">
  Service fn=hello greeting="Hello
</Object>
EOF
	check
	assert_failure 1
	[[ $stderr == *"$CONF:3: unterminated quoted string"* ]]
}

@test "unterminated quote in a key value" {
	conf quote2 <<'EOF'
server_tokens "demo
EOF
	check
	assert_failure 1
	[[ $stderr == *"$CONF:2: "*"unterminated quoted string"* ]]
}

@test "an <Object> never closed names the line it opened on" {
	conf unclosed <<'EOF'
index index.html
<Object path="/x">
  Service fn=hello
EOF
	check
	assert_failure 1
	[[ $stderr == *"$CONF:3: <Object> is never closed"* ]]
}

@test "a bad regex is caught by --check with FILE:LINE" {
	conf badre <<'EOF'
<Object regex="a(b">
  Service fn=hello
</Object>
EOF
	check
	assert_failure 1
	[[ $stderr == *"$CONF:2: regex \"a(b\""* ]]
}

@test "a bad regex is compiled lazily: the server still starts without --check" {
	conf badre2 <<'EOF'
access_log off
<Object regex="a(b">
  Service fn=hello
</Object>
EOF
	pipe_req 'GET /file.txt HTTP/1.0\r\n\r\n' -c "$CONF"
	assert_success
	[ "$(resp_status)" = 200 ]
	assert_output --partial "from the tmp docroot"
}

@test "a bad number names the key, the value and the range" {
	conf badnum <<'EOF'
max_headers lots
EOF
	check
	assert_failure 1
	[[ $stderr == *"$CONF:2: max_headers: 'lots' is not a whole number from 1 to 10000"* ]]
}

@test "a number out of range is refused" {
	conf range <<'EOF'
log_level 9
EOF
	check
	assert_failure 1
	[[ $stderr == *"$CONF:2: log_level: '9'"* ]]
}

@test "a bad size is refused" {
	conf badsize <<'EOF'
max_body 12q
EOF
	check
	assert_failure 1
	[[ $stderr == *"$CONF:2: max_body: '12q'"* ]]
}

@test "a missing docroot directory: exit 1 naming FILE:LINE of docroot" {
	CONF=$DIR/nodocroot.conf
	printf 'index index.html\ndocroot %s/missing\n' "$DIR" >"$CONF"
	check
	assert_failure 1
	[[ $stderr == *"docroot $DIR/missing: No such file or directory"* ]]
	[[ $stderr == *"$CONF:2: "* ]]
}

@test "a docroot that is a file is refused" {
	CONF=$DIR/filedocroot.conf
	printf 'docroot %s/www/file.txt\n' "$DIR" >"$CONF"
	check
	assert_failure 1
	[[ $stderr == *"not a directory"* ]]
}

@test "every error in the file is reported, not only the first" {
	conf many <<'EOF'
docrot x
<Object path="/x">
  Service fn=helo
</Object>
max_headers lots
EOF
	check
	assert_failure 1
	[[ $stderr == *"$CONF:2: unknown key 'docrot'"* ]]
	[[ $stderr == *"$CONF:4: unknown function 'helo'"* ]]
	[[ $stderr == *"$CONF:6: max_headers"* ]]
}

@test "a config error stops the server before it answers" {
	conf badrun <<'EOF'
docrot x
EOF
	run --separate-stderr bash -c 'printf "GET / HTTP/1.0\r\n\r\n" |
	    "$1" -c "$2"' _ "$IHTTPD" "$CONF"
	assert_failure 1
	[ -z "$output" ]
}

@test "an unreadable config file is an error" {
	run --separate-stderr "$IHTTPD" -c "$DIR/none.conf" --check
	assert_failure 1
	[[ $stderr == *"$DIR/none.conf: cannot read"* ]]
}

@test "unknown command-line option: exit 1 with the nearest option" {
	run --separate-stderr "$IHTTPD" --docrot "$DIR/www" --check
	assert_failure 1
	[[ $stderr == *"unknown option '--docrot' (did you mean '--docroot'?)"* ]]
}

@test "a bad value on the command line is refused" {
	run --separate-stderr "$IHTTPD" --docroot "$DIR/www" \
	    --max_headers=lots --check
	assert_failure 1
	[[ $stderr == *"command line: max_headers: 'lots'"* ]]
}

@test "--help lists every key of the config table" {
	local keys k
	keys=$(sed -n 's/^[[:space:]]*{ "\([a-z_]*\)", K_[A-Z]*,.*/\1/p' \
	    src/config.c)
	[ "$(echo "$keys" | wc -l)" -ge 20 ]
	run --separate-stderr "$IHTTPD" --help
	assert_success
	for k in $keys; do
		echo "$output" | grep -q -- "^  --$k " ||
		    fail "--help does not list --$k"
	done
	assert_output --partial "--check"
	assert_output --partial "--version"
}

@test "--version prints the version of ihttpd.h and exits 0" {
	local v
	v=$(sed -n 's/^#define IHTTPD_VERSION "\(.*\)"/\1/p' src/ihttpd.h)
	run --separate-stderr "$IHTTPD" --version
	assert_success
	assert_output "ihttpd $v"
}

@test "--docroot alone (no -c) serves a file from that directory" {
	pipe_req 'GET /file.txt HTTP/1.0\r\n\r\n' --docroot "$DIR/www" \
	    --access_log off
	assert_success
	[ "$(resp_status)" = 200 ]
	assert_output --partial "Content-Length: 21"
	assert_output --partial "from the tmp docroot"
}

@test "--key=value works like --key value" {
	pipe_req 'GET /file.txt HTTP/1.0\r\n\r\n' --docroot="$DIR/www" \
	    --access_log=off
	[ "$(resp_status)" = 200 ]
	assert_output --partial "from the tmp docroot"
}

@test "the command line wins over the file (--index)" {
	printf 'the file index\n' >"$DIR/www/index.html"
	printf 'the command-line index\n' >"$DIR/www/other.html"
	conf idx <<'EOF'
index index.html
access_log off
EOF
	pipe_req 'GET / HTTP/1.0\r\n\r\n' -c "$CONF"
	assert_output --partial "the file index"
	pipe_req 'GET / HTTP/1.0\r\n\r\n' -c "$CONF" --index other.html
	assert_output --partial "the command-line index"
	refute_output --partial "the file index"
	# An option placed before -c wins as well.
	pipe_req 'GET / HTTP/1.0\r\n\r\n' --index other.html -c "$CONF"
	assert_output --partial "the command-line index"
}

@test "the command line wins over the file (--docroot)" {
	mkdir -p "$DIR/other"
	printf 'other docroot\n' >"$DIR/other/file.txt"
	conf dr <<'EOF'
access_log off
EOF
	pipe_req 'GET /file.txt HTTP/1.0\r\n\r\n' -c "$CONF" --docroot "$DIR/other"
	assert_output --partial "other docroot"
}

@test "every key --help lists has its entry in ihttpd(8) and ihttpd.conf(5), and no entry names a key that does not exist" {
	local k missing=
	for k in $("$IHTTPD" --help | sed -n 's/^  --\([a-z_]*\)  *[a-z].*\[.*\]$/\1/p; s/^  --\([a-z_]*\)  *[a-zA-Z].*[^]]$/\1/p' | sort -u); do
		[ "$k" = check ] && continue
		grep -q -- "^\.BI \\\\-\\\\-$k\( \|$\)" "$ROOT/src/ihttpd.8" || missing="$missing 8:$k"
		grep -q "^\.BI $k\( \|$\)" "$ROOT/src/ihttpd.conf.5" || missing="$missing 5:$k"
	done
	for k in $(sed -n 's/^\.BI \\-\\-\([a-z_]*\).*/\1/p' "$ROOT/src/ihttpd.8"); do
		[ "$k" = key ] || [ "$k" = config ] && continue
		"$IHTTPD" --help | grep -q -- "^  --$k " || missing="$missing help:$k"
	done
	[ -z "$missing" ] || { echo "undocumented or stale:$missing"; return 1; }
}

@test "--check: a path= object asking for credentials on an index file is an error (its directory serves it without them)" {
	printf 'docroot %s\n<Object path="/docsecret/index.html">\n  AuthTrans fn=auth-basic realm=r lookup=demo-users\n</Object>\n' "$ROOT/conf/www" >"$BATS_TEST_TMPDIR/ix.conf"
	run "$IHTTPD" -c "$BATS_TEST_TMPDIR/ix.conf" --check
	[ "$status" -eq 1 ]
	[[ "$output" == *'ix.conf:2: path="/docsecret/index.html" asks for credentials, but /docsecret/ serves this index file without it: use ppath="/docsecret"'* ]]
}
