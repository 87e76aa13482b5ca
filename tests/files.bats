#!/usr/bin/env bats
# The file service (src/files.c, src/cond.c, src/mime.c): confinement
# beneath docroot through openat2 and through the walking fallback
# (IHTTPD_NO_OPENAT2=1), symlink policies, dot-files, directories,
# listings, types and libmagic, validators and preconditions, ranges,
# gzip_static, methods, error pages, a file shrinking while it is sent, and
# the refusal log.  Pipe mode where one process per request is enough;
# curl/wget through tcpserver (-H -R -l 0, 127.0.0.1) for the rest.

load helpers

MARK=SECRET-MARK-6d1f83c2		# in every file that must never be sent
PASSWD_MARK='root:x:0:0'
CORPUS=$BATS_TEST_DIRNAME/fixtures/files/traversal.txt

# ---- fixtures ---------------------------------------------------------

# A 1x1 PNG, written byte by byte.
write_png() {
	printf '\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\x0aIDATx\x9cc\x00\x01\x00\x00\x05\x00\x01\x0d\x0a\x2d\xb4\x00\x00\x00\x00IEND\xaeB\x60\x82' >"$1"
}

setup_file() {
	snapshot_binary || return 1
}

setup() {
	T=$BATS_TEST_TMPDIR
	W=$T/www
	MT=$ROOT/conf/mime.types
	mkdir -p "$W/sub/.hidden-dir" "$W/.well-known/acme" "$W/.git" \
	    "$W/list/beta" "$W/idxout" "$W/idx" "$W/my dir" "$W/é" \
	    "$W/errors" "$W/%2e%2e" "$W/emptydir" "$W/<i>dir"
	# Outside the docroot.
	echo "$MARK outside" >"$T/secret.txt"
	# Plain files.
	echo hello >"$W/a.txt"
	echo A >"$W/A.txt"
	echo pct >"$W/%41.txt"
	echo literal >"$W/%2e%2e/f.txt"
	echo sub >"$W/sub/s.txt"
	echo '<p>html</p>' >"$W/x.html"
	echo UPPER >"$W/UP.TXT"
	echo zzz >"$W/file.zzz"
	echo '<p>custom 404</p>' >"$W/errors/404.html"
	echo '<p>custom 403</p>' >"$W/errors/403.html"
	echo '<p>idx</p>' >"$W/idx/index.html"
	echo '<p>alt</p>' >"$W/idx/alt.htm"
	echo acme >"$W/.well-known/acme/token"
	echo wk >"$W/.well-known/x.txt"
	seq 1 20000 >"$W/big.txt"		# 108894 bytes
	touch -d '2020-01-15 12:00:00 UTC' "$W/big.txt" "$W/a.txt"
	write_png "$W/pic"
	cp "$W/pic" "$W/pic.png"
	# Dot-files: the marker must never be served either.
	echo "$MARK htpasswd" >"$W/.htpasswd"
	echo "$MARK git" >"$W/.git/config"
	echo "$MARK env" >"$W/sub/.env"
	echo "$MARK hidden" >"$W/sub/.hidden-dir/f.txt"
	echo "$MARK wk" >"$W/.well-known/.secret"
	# Symlinks pointing out (relative, absolute, directories, chains).
	ln -s ../secret.txt "$W/relout"
	ln -s "$T/secret.txt" "$W/absout"
	ln -s .. "$W/outdir"
	ln -s "$T" "$W/outdir_abs"
	ln -s ../../secret.txt "$W/sub/deep"
	ln -s ../relout "$W/sub/chain"
	ln -s .. "$W/uproot"
	ln -s ../.. "$W/sub/up2"
	ln -s /etc/passwd "$W/passwd"
	ln -s loop2 "$W/loop1"
	ln -s loop1 "$W/loop2"
	ln -s ../../secret.txt "$W/idxout/index.html"
	# Symlinks staying inside.
	ln -s a.txt "$W/inlink"
	ln -s sub "$W/sublink"
	ln -s ../a.txt "$W/sub/uplink"
	ln -s .. "$W/sub/up"
	ln -s "$W/a.txt" "$W/abs_in"
	# A FIFO: never opened for reading as a file.
	mkfifo "$W/fifo"
}

teardown() {
	stop_tcpserver
}

# The hostile listing directory.
make_listing() {
	local L=$W/list
	echo x >"$L/<script>alert(1)"
	echo x >"$L/<img src=x onerror=alert(1)>"
	echo x >"$L/a b.txt"
	echo x >"$L/é.txt"
	echo x >"$L/new"$'\n'"line"
	echo x >"$L/quo\"te"
	echo x >"$L/it's"
	echo x >"$L/javascript:x"
	echo x >"$L/Zed"
	echo x >"$L/alpha"
	echo "$MARK" >"$L/.hidden"
	head -c 12345 /dev/zero >"$L/size12345.bin"
	touch -d '2021-03-04 05:06:07 UTC' "$L/size12345.bin"
}

# ---- helpers ------------------------------------------------------------

# get TARGET [HOST] [ihttpd args...]: one GET through a pipe; stdout and
# stderr (the log) both land in $output.  $NO_OA2 set forces the walk.
get() {
	local target=$1 host=${2:-x} e=IHTTPD_UNUSED=1
	shift 2 || shift $#
	[ -n "${NO_OA2:-}" ] && e=IHTTPD_NO_OPENAT2=1
	run bash -c 'printf "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" "$1" "$2" |
	    timeout 10 env "$3" "$4" "${@:5}" 2>&1' \
	    _ "$target" "$host" "$e" "$IHTTPD" "$@" </dev/null
}

# The status line of the response in $output (the log may precede it).
st() {
	printf '%s\n' "$output" | grep -a -m1 '^HTTP/1\.[01] ' | awk '{print $2}'
}

# hdr NAME FILE: the value of header NAME in a dumped head (CR removed).
hdr() {
	tr -d '\r' <"$2" | grep -i -m1 "^$1:" | sed 's/^[^:]*: *//'
}

# cget URLPATH [curl args...]: GET through tcpserver; head in $T/h, body in
# $T/b, status in $CODE.
cget() {
	local p=$1
	shift
	rm -f "$T/h" "$T/b"
	CODE=$(curl -s -m 10 -D "$T/h" -o "$T/b" -w '%{http_code}' "$@" \
	    "http://127.0.0.1:$PORT$p")
}

sha() { sha256sum | cut -d' ' -f1; }

# raw_req 'REQUEST with \r\n' [ihttpd args]: pipe mode, stdout only into
# $T/raw (exact bytes).
raw_req() {
	local req=$1
	shift
	printf '%b' "$req" | timeout 10 "$IHTTPD" "$@" >"$T/raw" 2>/dev/null
}

# Headers of $T/raw without Date.
raw_head() {
	python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); h=d.split(b"\r\n\r\n",1)[0]; print("\n".join(l for l in h.decode("latin-1").split("\r\n") if not l.lower().startswith("date:")))' "$T/raw"
}

raw_body() {
	python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); sys.stdout.buffer.write(d.split(b"\r\n\r\n",1)[1] if b"\r\n\r\n" in d else b"")' "$T/raw"
}

# run_corpus LABEL [ihttpd args...]: every corpus target through a pipe;
# 400/403/404 only and no marker anywhere in stdout or stderr.
run_corpus() {
	local label=$1 line target host code bad=0 n=0
	shift
	while IFS= read -r line; do
		case $line in ''|'#'*) continue ;; esac
		target=${line%%$'\t'*}
		host=x
		[[ $line == *$'\t'* ]] && host=${line#*$'\t'}
		get "$target" "$host" --docroot "$W" "$@"
		n=$((n + 1))
		code=$(st)
		case $code in
		400|403|404) ;;
		*) echo "$label: $target (Host: $host) -> '$code'"; bad=1 ;;
		esac
		if [[ $output == *"$MARK"* || $output == *"$PASSWD_MARK"* ]]; then
			echo "$label: $target (Host: $host) LEAKED a secret"
			bad=1
		fi
	done <"$CORPUS"
	echo "$label: $n targets"
	[ "$n" -ge 40 ]
	return $bad
}

# ---- confinement --------------------------------------------------------

@test "openat2 is used by default and IHTTPD_NO_OPENAT2=1 forces the walk" {
	command -v strace >/dev/null || skip "no strace"
	printf 'GET /sub/s.txt HTTP/1.1\r\nHost: x\r\n\r\n' >"$T/req"
	strace -f -qq -e trace=openat2 -o "$T/st1" "$IHTTPD" --docroot "$W" \
	    <"$T/req" >/dev/null 2>&1 || skip "strace cannot trace here"
	IHTTPD_NO_OPENAT2=1 strace -f -qq -e trace=openat2 -o "$T/st2" \
	    "$IHTTPD" --docroot "$W" <"$T/req" >/dev/null 2>&1
	grep -q 'openat2(.*"sub/s.txt"' "$T/st1"
	run grep -c 'openat2(' "$T/st2"
	[ "$output" = 0 ]
}

@test "traversal corpus with openat2: 400/403/404, no secret" {
	NO_OA2= run_corpus openat2
}

@test "traversal corpus with the walk (IHTTPD_NO_OPENAT2=1): 400/403/404, no secret" {
	NO_OA2=1 run_corpus walk
}

@test "traversal corpus with symlinks owner and symlinks off, both resolvers" {
	NO_OA2= run_corpus openat2-off --symlinks off
	NO_OA2=1 run_corpus walk-off --symlinks off
	NO_OA2= run_corpus owner --symlinks owner
}

@test "traversal corpus with listing on: still no secret and no listing outside" {
	local line target
	for NO_OA2 in "" 1; do
		for target in /outdir/ /outdir_abs/ /uproot/ /sub/up2/ \
		    /.git/ /sub/.hidden-dir/ /../ /%2e%2e/ /sub/../../; do
			get "$target" x --docroot "$W" --listing on
			[[ $output != *"$MARK"* ]]
			[[ $output != *"secret.txt"* ]] || { echo "$target listed"; false; }
			[[ $(st) =~ ^40[034]$ ]] || { echo "$target -> $(st)"; false; }
		done
		# An index that is a link out is skipped: the listing may show
		# its name, never its target's content.
		get /idxout/ x --docroot "$W" --listing on
		[[ $output != *"$MARK"* ]]
	done
}

@test "the path is decoded exactly once: %2541 is the name %41, %252e%252e stays literal" {
	for NO_OA2 in "" 1; do
		get /%2541.txt x --docroot "$W"
		[ "$(st)" = 200 ]
		[[ $output == *pct* ]]
		get /%41.txt x --docroot "$W"
		[ "$(st)" = 200 ]
		[[ $output == *$'\r\n\r\nA'* ]]
		get /%252e%252e/f.txt x --docroot "$W"
		[ "$(st)" = 200 ]
		[[ $output == *literal* ]]
		get /%252e%252e/secret.txt x --docroot "$W"
		[ "$(st)" = 404 ]
	done
}

@test "symlinks beneath (default): links inside followed, links out refused, same in both resolvers" {
	local p
	for NO_OA2 in "" 1; do
		for p in /inlink /sublink/s.txt /sub/uplink /sub/up/a.txt; do
			get "$p" x --docroot "$W"
			[ "$(st)" = 200 ] || { echo "[$NO_OA2] $p -> $(st)"; false; }
		done
		for p in /relout /absout /outdir/secret.txt /sub/deep /sub/chain \
		    /uproot/secret.txt /passwd /loop1; do
			get "$p" x --docroot "$W"
			[ "$(st)" = 404 ] || { echo "[$NO_OA2] $p -> $(st)"; false; }
			[[ $output != *"$MARK"* ]]
		done
		# An absolute link is refused even when it points inside.
		get /abs_in x --docroot "$W"
		[ "$(st)" = 404 ]
	done
}

@test "symlinks off: no link is followed, plain files still served" {
	local p
	for NO_OA2 in "" 1; do
		get /a.txt x --docroot "$W" --symlinks off
		[ "$(st)" = 200 ]
		for p in /inlink /sublink/s.txt /sub/uplink /relout; do
			get "$p" x --docroot "$W" --symlinks off
			[ "$(st)" = 404 ] || { echo "[$NO_OA2] $p -> $(st)"; false; }
		done
	done
}

@test "symlinks owner: same owner followed, other owner refused" {
	ln -s a.txt "$W/nobody_link"
	chown -h nobody "$W/nobody_link" 2>/dev/null || skip "chown -h nobody failed"
	echo theirs >"$W/theirs.txt"
	chown nobody "$W/theirs.txt"
	ln -s theirs.txt "$W/nobody_link2"
	chown -h nobody "$W/nobody_link2"
	for NO_OA2 in "" 1; do
		get /inlink x --docroot "$W" --symlinks owner
		[ "$(st)" = 200 ]
		get /sublink/s.txt x --docroot "$W" --symlinks owner
		[ "$(st)" = 200 ]
		get /nobody_link x --docroot "$W" --symlinks owner
		[[ $(st) =~ ^40[34]$ ]]
		[[ $output != *hello* ]]
		get /nobody_link2 x --docroot "$W" --symlinks owner
		[ "$(st)" = 200 ]
		[[ $output == *theirs* ]]
		get /relout x --docroot "$W" --symlinks owner
		[ "$(st)" = 404 ]
		# beneath (the default) follows the foreign link.
		get /nobody_link x --docroot "$W"
		[ "$(st)" = 200 ]
	done
	# A foreign directory link in the middle of a path.
	ln -s sub "$W/nobody_dirlink"
	chown -h nobody "$W/nobody_dirlink"
	get /nobody_dirlink/s.txt x --docroot "$W" --symlinks owner
	[[ $(st) =~ ^40[34]$ ]]
}

@test "a docroot reached through a symlinked parent works and stays confined" {
	mkdir -p "$T/realparent/www2"
	echo "$MARK parent" >"$T/realparent/secret2.txt"
	echo inside >"$T/realparent/www2/in.txt"
	ln -s ../secret2.txt "$T/realparent/www2/up"
	ln -s "$T/realparent" "$T/lnkparent"
	local p
	for NO_OA2 in "" 1; do
		get /in.txt x --docroot "$T/lnkparent/www2"
		[ "$(st)" = 200 ]
		[[ $output == *inside* ]]
		# The docroot's own path may hold links even with symlinks off.
		get /in.txt x --docroot "$T/lnkparent/www2" --symlinks off
		[ "$(st)" = 200 ]
		for p in /../secret2.txt /%2e%2e/secret2.txt /up \
		    http://x/../secret2.txt; do
			get "$p" x --docroot "$T/lnkparent/www2"
			[[ $(st) =~ ^40[034]$ ]] || { echo "$p -> $(st)"; false; }
			[[ $output != *"$MARK"* ]]
		done
	done
}

@test "a regular file is not served with a trailing slash (both resolvers agree)" {
	for NO_OA2 in "" 1; do
		get /a.txt/ x --docroot "$W"
		[ "$(st)" = 404 ] || { echo "[NO_OA2=$NO_OA2] /a.txt/ -> $(st)"; false; }
		get /sub/s.txt/ x --docroot "$W"
		[ "$(st)" = 404 ] || { echo "[NO_OA2=$NO_OA2] /sub/s.txt/ -> $(st)"; false; }
	done
}

@test "a FIFO is refused without blocking" {
	for NO_OA2 in "" 1; do
		get /fifo x --docroot "$W"
		[ "$(st)" = 403 ]
	done
}

@test "dot-files 404 except under /.well-known/" {
	local p
	for NO_OA2 in "" 1; do
		for p in /.htpasswd /.git/config /sub/.env /.well-known/.secret \
		    /sub/.hidden-dir/f.txt; do
			get "$p" x --docroot "$W"
			[ "$(st)" = 404 ] || { echo "$p -> $(st)"; false; }
		done
		get /.well-known/x.txt x --docroot "$W"
		[ "$(st)" = 200 ]
		get /.well-known/acme/token x --docroot "$W"
		[ "$(st)" = 200 ]
		[[ $output == *acme* ]]
	done
}

@test "/.well-known without a slash redirects like any directory" {
	get /.well-known x --docroot "$W"
	[ "$(st)" = 301 ] || { echo "got $(st)"; false; }
	[[ $output == *$'Location: /.well-known/\r'* ]]
}

# ---- directories ------------------------------------------------------

@test "directory without slash: 301, query kept, Location encoded" {
	start_tcpserver --docroot "$W"
	cget '/sub?x=1&y=a%20b'
	[ "$CODE" = 301 ]
	[ "$(hdr Location "$T/h")" = '/sub/?x=1&y=a%20b' ]
	cget '/my%20dir'
	[ "$CODE" = 301 ]
	[ "$(hdr Location "$T/h")" = '/my%20dir/' ]
	cget '/%C3%A9?q'
	[ "$CODE" = 301 ]
	[ "$(hdr Location "$T/h")" = '/%C3%A9/?q' ]
	cget '/%3Ci%3Edir'
	[ "$CODE" = 301 ]
	[ "$(hdr Location "$T/h")" = '/%3Ci%3Edir/' ]
	[[ $(cat "$T/b") != *'<i>'* ]]
}

@test "directory with slash: first existing index, then listing or 403" {
	start_tcpserver --docroot "$W" --index "nope.html alt.htm index.html"
	cget /idx/
	[ "$CODE" = 200 ]
	[ "$(cat "$T/b")" = '<p>alt</p>' ]
	stop_tcpserver
	start_tcpserver --docroot "$W"
	cget /idx/
	[ "$CODE" = 200 ]
	[ "$(cat "$T/b")" = '<p>idx</p>' ]
	cget /emptydir/
	[ "$CODE" = 403 ]
	cget /
	[ "$CODE" = 403 ]
}

@test "listing on: escaped, sorted, sizes and mtimes, .. link, no dot-files" {
	make_listing
	start_tcpserver --docroot "$W" --listing on
	cget /list/
	[ "$CODE" = 200 ]
	[[ $(hdr Content-Type "$T/h") == text/html* ]]
	run cat "$T/b"
	[[ $output != *'<script>'* ]]
	[[ $output != *'<img'* ]]
	[[ $output == *'&lt;script&gt;alert(1)'* ]]
	[[ $output == *'&lt;img src=x onerror=alert(1)&gt;'* ]]
	[[ $output == *'href="./%3Cscript%3Ealert(1)"'* ]]
	[[ $output == *'href="./javascript:x"'* ]]
	[[ $output == *'href="./a%20b.txt"'* ]]
	[[ $output == *'href="./%C3%A9.txt"'* ]]
	[[ $output == *'>é.txt<'* ]]
	[[ $output == *'href="./new%0Aline"'* ]]
	[[ $output == *'href="./quo%22te"'* ]]
	[[ $output == *'quo&quot;te'* ]]
	[[ $output != *'quo"te'* ]]
	[[ $output == *'href="../"'* ]]
	[[ $output == *'href="./beta/">beta/</a>'* ]]
	[[ $output == *'<td>12345</td><td>2021-03-04 05:06</td>'* ]]
	[[ $output != *hidden* ]]
	[[ $output != *"$MARK"* ]]
	# Sorted by name (bytewise).
	python3 - "$T/b" <<'PY'
import html, re, sys
body = open(sys.argv[1], encoding="utf-8").read()
names = [html.unescape(n) for n in re.findall(r'<a href="\./[^"]*">([^<]*)</a>', body)]
assert names == sorted(names, key=lambda s: s.encode()), names
assert len(names) == 12, names
assert names[0] == "<img src=x onerror=alert(1)>" and names[-1] == "é.txt", names
PY
	# The root listing has no .. link; the title is escaped.
	cget /
	[[ $(cat "$T/b") != *'href="../"'* ]]
	cget '/%3Ci%3Edir/'
	[ "$CODE" = 200 ]
	[[ $(cat "$T/b") == *'Index of /&lt;i&gt;dir/'* ]]
	[[ $(cat "$T/b") != *'<i>'* ]]
}

@test "listing off: 403 (and a custom 403 error page)" {
	make_listing
	start_tcpserver --docroot "$W"
	cget /list/
	[ "$CODE" = 403 ]
	[[ $(cat "$T/b") != *alpha* ]]
	stop_tcpserver
	start_tcpserver --docroot "$W" --error_page "403 /errors/403.html"
	cget /list/
	[ "$CODE" = 403 ]
	[ "$(cat "$T/b")" = '<p>custom 403</p>' ]
}

# ---- types ------------------------------------------------------------

@test "types by extension, case-insensitive; default_type; charset only on text/*" {
	start_tcpserver --docroot "$W" --mimetypes "$MT" --charset utf-8 \
	    --default_type text/x-unknown
	cget /a.txt
	[ "$(hdr Content-Type "$T/h")" = 'text/plain; charset=utf-8' ]
	cget /UP.TXT
	[ "$(hdr Content-Type "$T/h")" = 'text/plain; charset=utf-8' ]
	cget /x.html
	[ "$(hdr Content-Type "$T/h")" = 'text/html; charset=utf-8' ]
	cget /pic.png
	[ "$(hdr Content-Type "$T/h")" = 'image/png' ]
	cget /file.zzz
	[ "$(hdr Content-Type "$T/h")" = 'text/x-unknown; charset=utf-8' ]
	[ -z "$(hdr X-Content-Type-Options "$T/h")" ]
	stop_tcpserver
	start_tcpserver --docroot "$W" --mimetypes "$MT"
	cget /file.zzz
	[ "$(hdr Content-Type "$T/h")" = 'application/octet-stream' ]
	cget /a.txt
	[ "$(hdr Content-Type "$T/h")" = 'text/plain' ]
}

@test "libmagic: extensionless PNG is image/png + nosniff with magic on, octet-stream with it off" {
	start_tcpserver --docroot "$W" --mimetypes "$MT" --magic on --charset utf-8
	cget /pic
	[ "$CODE" = 200 ]
	[ "$(hdr Content-Type "$T/h")" = image/png ]
	[ "$(hdr X-Content-Type-Options "$T/h")" = nosniff ]
	cget /x.html
	[ "$(hdr Content-Type "$T/h")" = 'text/html; charset=utf-8' ]
	[ -z "$(hdr X-Content-Type-Options "$T/h")" ]
	stop_tcpserver
	start_tcpserver --docroot "$W" --mimetypes "$MT"
	cget /pic
	[ "$(hdr Content-Type "$T/h")" = application/octet-stream ]
	[ -z "$(hdr X-Content-Type-Options "$T/h")" ]
}

@test "libmagic's database is loaded only by a request that needs it (strace)" {
	command -v strace >/dev/null || skip "no strace"
	printf 'GET /x.html HTTP/1.1\r\nHost: x\r\n\r\n' >"$T/r1"
	printf 'GET /pic HTTP/1.1\r\nHost: x\r\n\r\n' >"$T/r2"
	strace -f -qq -e trace=openat,open -o "$T/s1" "$IHTTPD" --docroot "$W" \
	    --mimetypes "$MT" --magic on <"$T/r1" >"$T/o1" 2>/dev/null ||
	    skip "strace cannot trace here"
	strace -f -qq -e trace=openat,open -o "$T/s2" "$IHTTPD" --docroot "$W" \
	    --mimetypes "$MT" --magic on <"$T/r2" >"$T/o2" 2>/dev/null
	grep -q '200 OK' "$T/o1"
	grep -q 'image/png' "$T/o2"
	run grep -c 'magic\.mgc' "$T/s1"
	[ "$output" = 0 ]
	grep -q 'magic\.mgc' "$T/s2"
}

# ---- validators and preconditions ---------------------------------------

@test "Last-Modified and a strong ETag; 304 for If-None-Match (weak compare, *), no body" {
	start_tcpserver --docroot "$W" --mimetypes "$MT"
	cget /big.txt
	[ "$CODE" = 200 ]
	[ "$(hdr Last-Modified "$T/h")" = 'Wed, 15 Jan 2020 12:00:00 GMT' ]
	local etag
	etag=$(hdr ETag "$T/h")
	[[ $etag == '"'*'"' ]]
	[[ $etag != W/* ]]
	[ "$(hdr Accept-Ranges "$T/h")" = bytes ]
	raw_tcp "GET /big.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: $etag\r\nConnection: close\r\n\r\n" >"$T/raw"
	run cat "$T/raw"
	[[ $output == 'HTTP/1.1 304 '* ]]
	[[ $output == *"ETag: $etag"$'\r'* ]]
	[[ $output == *$'Last-Modified: Wed, 15 Jan 2020 12:00:00 GMT\r'* ]]
	[[ $output != *Content-Type* ]]
	[ -z "$(raw_body)" ]			# nothing after the head
	[ "$(tail -c 4 "$T/raw" | od -An -c | tr -d ' ')" = '\r\n\r\n' ]
	cget /big.txt -H "If-None-Match: W/$etag"
	[ "$CODE" = 304 ]
	cget /big.txt -H "If-None-Match: \"zz\", W/$etag"
	[ "$CODE" = 304 ]
	cget /big.txt -H 'If-None-Match: *'
	[ "$CODE" = 304 ]
	[ ! -s "$T/b" ]
	cget /big.txt -H 'If-None-Match: "nope"'
	[ "$CODE" = 200 ]
	[ "$(sha <"$T/b")" = "$(sha <"$W/big.txt")" ]
	# HEAD too.
	cget /big.txt -I -H "If-None-Match: $etag"
	[ "$CODE" = 304 ]
}

@test "If-Modified-Since (curl -z) both directions, and equal to Last-Modified" {
	start_tcpserver --docroot "$W"
	cget /big.txt -z 'Sat, 01 Jan 2022 00:00:00 GMT'
	[ "$CODE" = 304 ]
	cget /big.txt -z 'Tue, 01 Jan 2019 00:00:00 GMT'
	[ "$CODE" = 200 ]
	[ "$(sha <"$T/b")" = "$(sha <"$W/big.txt")" ]
	cget /big.txt -z 'Wed, 15 Jan 2020 11:59:59 GMT'
	[ "$CODE" = 200 ]
	cget /big.txt -H 'If-Modified-Since: Wed, 15 Jan 2020 12:00:00 GMT'
	[ "$CODE" = 304 ] || { echo "IMS == Last-Modified -> $CODE"; false; }
	cget /big.txt -H 'If-Modified-Since: Wed, 15 Jan 2020 12:00:01 GMT'
	[ "$CODE" = 304 ] || { echo "IMS == Last-Modified + 1 s -> $CODE"; false; }
	# The other two formats of RFC 9110 5.6.7.
	cget /big.txt -H 'If-Modified-Since: Wednesday, 15-Jan-20 12:00:00 GMT'
	[ "$CODE" = 304 ] || { echo "RFC 850 -> $CODE"; false; }
	cget /big.txt -H 'If-Modified-Since: Wed Jan 15 12:00:00 2020'
	[ "$CODE" = 304 ] || { echo "asctime -> $CODE"; false; }
	# An invalid date is ignored.
	cget /big.txt -H 'If-Modified-Since: yesterday'
	[ "$CODE" = 200 ]
}

@test "If-None-Match present makes If-Modified-Since ignored" {
	start_tcpserver --docroot "$W"
	cget /big.txt
	local etag
	etag=$(hdr ETag "$T/h")
	cget /big.txt -H 'If-None-Match: "other"' \
	    -H 'If-Modified-Since: Sat, 01 Jan 2022 00:00:00 GMT'
	[ "$CODE" = 200 ]
	cget /big.txt -H "If-None-Match: $etag" \
	    -H 'If-Modified-Since: Tue, 01 Jan 2019 00:00:00 GMT'
	[ "$CODE" = 304 ]
}

@test "If-Match and If-Unmodified-Since: 412 or 200" {
	start_tcpserver --docroot "$W"
	cget /big.txt
	local etag
	etag=$(hdr ETag "$T/h")
	cget /big.txt -H 'If-Match: "wrong"'
	[ "$CODE" = 412 ]
	cget /big.txt -H "If-Match: W/$etag"		# strong comparison
	[ "$CODE" = 412 ]
	cget /big.txt -H 'If-Match: *'
	[ "$CODE" = 200 ]
	cget /big.txt -H "If-Match: \"x\", $etag"
	[ "$CODE" = 200 ]
	# (curl -z -DATE sends If-Unmodified-Since but reports 412 as 304.)
	cget /big.txt -H 'If-Unmodified-Since: Tue, 01 Jan 2019 00:00:00 GMT'
	[ "$CODE" = 412 ]
	[ "$(head -1 "$T/h" | tr -d '\r')" = 'HTTP/1.1 412 Precondition Failed' ]
	cget /big.txt -H 'If-Unmodified-Since: Sat, 01 Jan 2022 00:00:00 GMT'
	[ "$CODE" = 200 ]
	# If-Match wins over If-Unmodified-Since.
	cget /big.txt -H "If-Match: $etag" \
	    -H 'If-Unmodified-Since: Tue, 01 Jan 2019 00:00:00 GMT'
	[ "$CODE" = 200 ]
	cget /big.txt -H 'If-Unmodified-Since: Wed, 15 Jan 2020 12:00:00 GMT'
	[ "$CODE" = 200 ] || { echo "IUS == Last-Modified -> $CODE"; false; }
}

@test "If-Range: matching ETag or date gives 206, stale gives the full 200" {
	start_tcpserver --docroot "$W"
	cget /big.txt
	local etag len
	etag=$(hdr ETag "$T/h")
	len=$(stat -c %s "$W/big.txt")
	cget /big.txt -r 0-9 -H "If-Range: $etag"
	[ "$CODE" = 206 ]
	[ "$(hdr Content-Range "$T/h")" = "bytes 0-9/$len" ]
	cget /big.txt -r 0-9 -H 'If-Range: "stale"'
	[ "$CODE" = 200 ]
	[ "$(stat -c %s "$T/b")" = "$len" ]
	cget /big.txt -r 0-9 -H "If-Range: W/$etag"
	[ "$CODE" = 200 ]
	cget /big.txt -r 0-9 -H 'If-Range: Tue, 01 Jan 2019 00:00:00 GMT'
	[ "$CODE" = 200 ]
	cget /big.txt -r 0-9 -H 'If-Range: Wed, 15 Jan 2020 12:00:00 GMT'
	[ "$CODE" = 206 ] || { echo "If-Range: Last-Modified -> $CODE"; false; }
}

# ---- ranges ---------------------------------------------------------------

@test "ranges: single, suffix, open-ended, large (sendfile) match the file byte for byte" {
	start_tcpserver --docroot "$W"
	local f=$W/big.txt len
	len=$(stat -c %s "$f")
	cget /big.txt -r 0-99
	[ "$CODE" = 206 ]
	[ "$(hdr Content-Range "$T/h")" = "bytes 0-99/$len" ]
	[ "$(hdr Content-Length "$T/h")" = 100 ]
	[ "$(sha <"$T/b")" = "$(head -c 100 "$f" | sha)" ]
	cget /big.txt -r 1000-70000
	[ "$CODE" = 206 ]
	[ "$(hdr Content-Range "$T/h")" = "bytes 1000-70000/$len" ]
	[ "$(sha <"$T/b")" = "$(dd if="$f" bs=1 skip=1000 count=69001 2>/dev/null | sha)" ]
	cget /big.txt -r -500
	[ "$CODE" = 206 ]
	[ "$(hdr Content-Range "$T/h")" = "bytes $((len - 500))-$((len - 1))/$len" ]
	[ "$(sha <"$T/b")" = "$(tail -c 500 "$f" | sha)" ]
	cget /big.txt -r 100000-
	[ "$CODE" = 206 ]
	[ "$(sha <"$T/b")" = "$(tail -c +100001 "$f" | sha)" ]
	cget /big.txt -r 108000-999999
	[ "$CODE" = 206 ]
	[ "$(hdr Content-Range "$T/h")" = "bytes 108000-$((len - 1))/$len" ]
	cget /big.txt
	[ "$(sha <"$T/b")" = "$(sha <"$f")" ]
	# Range is only for GET: HEAD answers 200 with the full length.
	cget /big.txt -I -r 0-9
	[ "$CODE" = 200 ]
}

@test "unsatisfiable range: 416 with Content-Range: bytes */LEN; bad syntax ignored" {
	start_tcpserver --docroot "$W"
	local len
	len=$(stat -c %s "$W/big.txt")
	cget /big.txt -r 200000-
	[ "$CODE" = 416 ]
	[ "$(hdr Content-Range "$T/h")" = "bytes */$len" ]
	cget /big.txt -H 'Range: bytes=-0'
	[ "$CODE" = 416 ]
	cget /big.txt -H 'Range: bytes=5-3'
	[ "$CODE" = 200 ]
	cget /big.txt -H 'Range: lines=1-2'
	[ "$CODE" = 200 ]
	[ "$(stat -c %s "$T/b")" = "$len" ]
}

@test "multipart/byteranges: structure, bytes, coalescing, max_ranges" {
	start_tcpserver --docroot "$W" --max_ranges 3 --mimetypes "$MT"
	cget /big.txt -r 0-9,100-199,5000-70000
	[ "$CODE" = 206 ]
	local ct
	ct=$(hdr Content-Type "$T/h")
	[[ $ct == 'multipart/byteranges; boundary='* ]]
	[ "$(hdr Content-Length "$T/h")" = "$(stat -c %s "$T/b")" ]
	python3 - "$T/b" "$ct" "$W/big.txt" '0-9 100-199 5000-70000' <<'PY'
import sys
body, ct, path, want = open(sys.argv[1], "rb").read(), sys.argv[2], sys.argv[3], sys.argv[4].split()
data = open(path, "rb").read()
b = ct.split("boundary=", 1)[1].strip('"').encode()
assert body.endswith(b"\r\n--" + b + b"--\r\n"), body[-60:]
body = body[: -len(b"\r\n--" + b + b"--\r\n")]
parts = body.split(b"\r\n--" + b + b"\r\n")
assert parts[0] == b"", parts[0][:40]
parts = parts[1:]
assert len(parts) == len(want), len(parts)
for p, w in zip(parts, want):
    head, payload = p.split(b"\r\n\r\n", 1)
    hs = dict(l.split(b": ", 1) for l in head.split(b"\r\n"))
    s, e = map(int, w.split("-"))
    assert hs[b"Content-Type"] == b"text/plain", hs
    assert hs[b"Content-Range"] == b"bytes %d-%d/%d" % (s, e, len(data)), hs
    assert payload == data[s:e + 1], (w, len(payload))
PY
	# Overlapping and adjacent ranges coalesce into one part: no multipart.
	cget /big.txt -r 0-99,50-149,150-199
	[ "$CODE" = 206 ]
	[ "$(hdr Content-Range "$T/h")" = "bytes 0-199/$(stat -c %s "$W/big.txt")" ]
	[[ $(hdr Content-Type "$T/h") != multipart* ]]
	[ "$(sha <"$T/b")" = "$(head -c 200 "$W/big.txt" | sha)" ]
	# Out-of-order ranges come back sorted; overlapping ones merged.
	cget /big.txt -r 500-599,0-9,5-20
	[ "$CODE" = 206 ]
	python3 - "$T/b" "$(hdr Content-Type "$T/h")" "$W/big.txt" <<'PY'
import sys, re
body, ct, data = open(sys.argv[1], "rb").read(), sys.argv[2], open(sys.argv[3], "rb").read()
crs = re.findall(rb"Content-Range: bytes (\d+)-(\d+)/", body)
assert crs == [(b"0", b"20"), (b"500", b"599")], crs
PY
	# More than max_ranges: the whole file with 200.
	cget /big.txt -r 0-1,10-11,20-21,30-31
	[ "$CODE" = 200 ]
	[ "$(sha <"$T/b")" = "$(sha <"$W/big.txt")" ]
}

@test "multipart/byteranges through a pipe (no sendfile) is byte-exact" {
	raw_req 'GET /big.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=-10,0-70000\r\nConnection: close\r\n\r\n' --docroot "$W"
	raw_head >"$T/hh"
	grep -q '^HTTP/1.1 206 ' "$T/hh"
	python3 - "$T/raw" "$W/big.txt" <<'PY'
import sys, re
raw, data = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
head, body = raw.split(b"\r\n\r\n", 1)
cl = int(re.search(rb"Content-Length: (\d+)", head).group(1))
assert cl == len(body), (cl, len(body))
b = re.search(rb"boundary=(\S+)", head).group(1)
parts = body.split(b"\r\n--" + b)
assert parts[-1] == b"--\r\n"
p1 = parts[1].split(b"\r\n\r\n", 1)[1]
p2 = parts[2].split(b"\r\n\r\n", 1)[1]
assert p1 == data[:70001] and p2 == data[-10:]
PY
}

# ---- methods ------------------------------------------------------------

@test "HEAD's headers equal GET's (all but Date)" {
	make_listing
	echo '<p>gz</p>' >"$W/g.html"
	gzip -k "$W/g.html"
	local p args=(--docroot "$W" --listing on --magic on --gzip_static on
	    --mimetypes "$MT" --charset utf-8)
	for p in /a.txt /big.txt /pic /sub /nope /list/ /idx/ /.htpasswd /relout \
	    /g.html; do
		raw_req "GET $p HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n" "${args[@]}"
		raw_head >"$T/get"
		raw_req "HEAD $p HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n" "${args[@]}"
		raw_head >"$T/head"
		[ -z "$(raw_body)" ] || { echo "HEAD $p has a body"; false; }
		diff "$T/get" "$T/head" || { echo "HEAD $p differs"; false; }
	done
}

@test "OPTIONS answers Allow; DELETE, POST, PUT get 405 with Allow" {
	start_tcpserver --docroot "$W"
	cget /a.txt -X OPTIONS
	[ "$CODE" = 200 ]
	[ "$(hdr Allow "$T/h")" = 'GET, HEAD, OPTIONS' ]
	local m
	for m in DELETE POST PUT PATCH; do
		cget /a.txt -X "$m" -d x
		[ "$CODE" = 405 ] || { echo "$m -> $CODE"; false; }
		[ "$(hdr Allow "$T/h")" = 'GET, HEAD, OPTIONS' ]
	done
	cget /a.txt -X DELETE
	[ "$CODE" = 405 ]
	[ -f "$W/a.txt" ]
}

# ---- gzip_static -----------------------------------------------------------

@test "gzip_static: FILE.gz when accepted, Vary, q=0 refuses, older .gz ignored, ranges on the encoded file" {
	seq 1 5000 >"$W/page.html"
	gzip -k -9 "$W/page.html"
	seq 1 3000 >"$W/old.html"
	gzip -k "$W/old.html"
	touch -d '2001-01-01' "$W/old.html.gz"
	start_tcpserver --docroot "$W" --gzip_static on
	cget /page.html -H 'Accept-Encoding: gzip'
	[ "$CODE" = 200 ]
	[ "$(hdr Content-Encoding "$T/h")" = gzip ]
	[ "$(hdr Vary "$T/h")" = Accept-Encoding ]
	[[ $(hdr Content-Type "$T/h") == text/html* ]]
	[ "$(sha <"$T/b")" = "$(sha <"$W/page.html.gz")" ]
	[ "$(gzip -dc <"$T/b" | sha)" = "$(sha <"$W/page.html")" ]
	local gtag itag
	gtag=$(hdr ETag "$T/h")
	cget /page.html
	[ -z "$(hdr Content-Encoding "$T/h")" ]
	[ "$(hdr Vary "$T/h")" = Accept-Encoding ]
	[ "$(sha <"$T/b")" = "$(sha <"$W/page.html")" ]
	itag=$(hdr ETag "$T/h")
	[ "$gtag" != "$itag" ]
	cget /page.html -H 'Accept-Encoding: gzip;q=0'
	[ -z "$(hdr Content-Encoding "$T/h")" ]
	[ "$(sha <"$T/b")" = "$(sha <"$W/page.html")" ]
	cget /page.html -H 'Accept-Encoding: gzip; q=0.000, identity'
	[ -z "$(hdr Content-Encoding "$T/h")" ]

	cget /page.html -H 'Accept-Encoding: *'
	[ "$(hdr Content-Encoding "$T/h")" = gzip ]
	cget /page.html -H 'Accept-Encoding: br;q=1, gzip;q=0.5'
	[ "$(hdr Content-Encoding "$T/h")" = gzip ]
	# An older .gz is never used.
	cget /old.html -H 'Accept-Encoding: gzip'
	[ -z "$(hdr Content-Encoding "$T/h")" ]
	[ "$(sha <"$T/b")" = "$(sha <"$W/old.html")" ]
	# Ranges apply to the encoded file.
	local glen
	glen=$(stat -c %s "$W/page.html.gz")
	cget /page.html -H 'Accept-Encoding: gzip' -r 0-9
	[ "$CODE" = 206 ]
	[ "$(hdr Content-Encoding "$T/h")" = gzip ]
	[ "$(hdr Content-Range "$T/h")" = "bytes 0-9/$glen" ]
	[ "$(sha <"$T/b")" = "$(head -c 10 "$W/page.html.gz" | sha)" ]
	# The conditional ETag of the encoded variant.
	cget /page.html -H 'Accept-Encoding: gzip' -H "If-None-Match: $gtag"
	[ "$CODE" = 304 ]
	stop_tcpserver
	start_tcpserver --docroot "$W"
	cget /page.html -H 'Accept-Encoding: gzip'
	[ -z "$(hdr Content-Encoding "$T/h")" ]
	[ -z "$(hdr Vary "$T/h")" ]
}

@test "gzip_static: q=0 refuses whatever the case of Q (RFC 9110 12.4.2)" {
	seq 1 5000 >"$W/page.html"
	gzip -k -9 "$W/page.html"
	start_tcpserver --docroot "$W" --gzip_static on
	cget /page.html -H 'Accept-Encoding: gzip;q=0'
	[ -z "$(hdr Content-Encoding "$T/h")" ]
	cget /page.html -H 'Accept-Encoding: gzip;Q=0'
	[ -z "$(hdr Content-Encoding "$T/h")" ] || { echo "gzip;Q=0 got gzip"; false; }
}

@test "gzip_static: FILE.br is preferred when accepted" {
	seq 1 5000 >"$W/p.js"
	gzip -k "$W/p.js"
	if command -v brotli >/dev/null; then
		brotli -k "$W/p.js"
	else
		# The server never looks inside: any bytes stand in for it.
		printf 'not-really-brotli' >"$W/p.js.br"
	fi
	start_tcpserver --docroot "$W" --gzip_static on
	cget /p.js -H 'Accept-Encoding: gzip, br'
	[ "$(hdr Content-Encoding "$T/h")" = br ]
	[ "$(sha <"$T/b")" = "$(sha <"$W/p.js.br")" ]
	cget /p.js -H 'Accept-Encoding: gzip'
	[ "$(hdr Content-Encoding "$T/h")" = gzip ]
	cget /p.js -H 'Accept-Encoding: br;q=0, gzip'
	[ "$(hdr Content-Encoding "$T/h")" = gzip ]
	cget /p.js -H 'Accept-Encoding: identity'
	[ -z "$(hdr Content-Encoding "$T/h")" ]
	[ "$(hdr Vary "$T/h")" = Accept-Encoding ]
}

# ---- error pages ----------------------------------------------------------

@test "error_page: the custom page with its status; a missing or unsafe page falls back" {
	start_tcpserver --docroot "$W" --error_page "404 /errors/404.html"
	cget /nope
	[ "$CODE" = 404 ]
	[ "$(cat "$T/b")" = '<p>custom 404</p>' ]
	[[ $(hdr Content-Type "$T/h") == text/html* ]]
	cget /.htpasswd
	[ "$CODE" = 404 ]
	[ "$(cat "$T/b")" = '<p>custom 404</p>' ]
	stop_tcpserver
	local page
	for page in /errors/missing.html /nope /errors /relout /.htpasswd \
	    /../secret.txt; do
		start_tcpserver --docroot "$W" --error_page "404 $page"
		cget /nope
		[ "$CODE" = 404 ] || { echo "$page -> $CODE"; false; }
		[[ $(cat "$T/b") == *'404 Not Found'* ]]
		[[ $(cat "$T/b") != *"$MARK"* ]]
		stop_tcpserver
	done
}

# ---- shrinking files --------------------------------------------------------

# shrink_check MODE: a 50 MiB file of 8-byte numbered lines, read slowly,
# truncated to 1 MiB mid-transfer.  The connection must close within a few
# seconds, with fewer bytes than Content-Length, all of them the file's.
shrink_check() {
	seq -w 0 6553599 >"$W/huge.txt"
	python3 - "$1" "${PORT:-0}" "$W/huge.txt" "$IHTTPD" "$W" <<'PY'
import os, socket, subprocess, sys, time
mode, port, path, ihttpd, docroot = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
req = b"GET /huge.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
if mode == "tcp":
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.connect(("127.0.0.1", port))
    s.sendall(req)
    s.settimeout(8)
    recv = lambda: s.recv(65536)
else:
    p = subprocess.Popen([ihttpd, "--docroot", docroot], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    p.stdin.write(req); p.stdin.close()
    recv = lambda: os.read(p.stdout.fileno(), 65536)
buf = b""
while b"\r\n\r\n" not in buf:
    d = recv()
    assert d, "closed before the head"
    buf += d
head, body = buf.split(b"\r\n\r\n", 1)
cl = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
assert cl == 52428800, cl
got = bytearray(body)
while len(got) < 3 * 1024 * 1024:
    d = recv()
    assert d, "closed early"
    got += d
    time.sleep(0.001)
os.truncate(path, 1024 * 1024)
t0 = time.monotonic()
while True:
    assert time.monotonic() - t0 < 6, "hung after the file shrank"
    d = recv()
    if not d:
        break
    got += d
el = time.monotonic() - t0
if mode != "tcp":
    p.wait(5)
n = len(got)
assert n < cl, (n, cl)
lines = n // 8
exp = b"".join(b"%07d\n" % i for i in range(lines))
assert bytes(got[:lines * 8]) == exp, "garbage in the body"
print(f"{mode}: {n} of {cl} bytes, closed {el:.2f}s after the truncate")
PY
}

@test "a file that shrinks while sent over a socket (sendfile): closed, no hang, no garbage" {
	start_tcpserver --docroot "$W" --send_timeout 30
	run shrink_check tcp
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "a file that shrinks while sent through a pipe (read/write): closed, no hang, no garbage" {
	run shrink_check pipe
	echo "$output"
	[ "$status" -eq 0 ]
}

# ---- logging --------------------------------------------------------------

@test "every refusal is logged with its reason" {
	local log=$T/err.log p
	for p in /nope /relout /.htpasswd /../secret.txt /%2e%2e/secret.txt \
	    /list/ /a.txt%00 /loop1; do
		printf 'GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' "$p" |
		    "$IHTTPD" --docroot "$W" --error_log "$log" --log_level 2 \
		    --access_log off >/dev/null
	done
	printf 'DELETE /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
	    "$IHTTPD" --docroot "$W" --error_log "$log" --log_level 2 \
	    --access_log off >/dev/null
	cat "$log"
	grep -q '404 Not Found: no such file for /nope$' "$log"
	grep -q '404 Not Found: path or symlink leaves docroot.* for /relout$' "$log"
	grep -q '404 Not Found: dot-file refused for /.htpasswd$' "$log"
	grep -q '403 Forbidden: directory without index for /list/$' "$log"
	grep -q '405 Method Not Allowed: .* for /a.txt$' "$log"
	grep -q '404 Not Found: .* for /loop1$' "$log"
	[ "$(grep -c '400 Bad Request: bad path' "$log")" = 3 ]
	[ "$(wc -l <"$log")" = 9 ]
	! grep -q "$MARK" "$log"
}

@test "a refused path is logged as sent, not as a half-normalised buffer" {
	local log=$T/err.log
	printf 'GET /sub/../../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n' |
	    "$IHTTPD" --docroot "$W" --error_log "$log" --access_log off >/dev/null
	cat "$log"
	grep -q '400 Bad Request: bad path.* for /sub/../../secret.txt$' "$log"
}

# ---- the demo site ----------------------------------------------------------

@test "wget -r mirrors every file of conf/www (demo config, run from the repo root)" {
	command -v wget >/dev/null || skip "no wget"
	cd "$ROOT"
	start_tcpserver -c conf/ihttpd.conf
	local urls=() d
	while IFS= read -r d; do
		urls+=("http://127.0.0.1:$PORT/${d:+$d/}")
	done < <(cd conf/www && find . -type d | sed 's|^\./\{0,1\}||' | sort)
	# The demo's /private/ wants Digest: larry is the demo user.
	wget -q -r -l 5 -np -nH -e robots=off --tries=1 --timeout=5 \
	    --user=larry --password=wall -P "$T/mirror" "${urls[@]}" || true
	local f bad=0
	while IFS= read -r f; do
		if [ ! -f "$T/mirror/$f" ]; then
			echo "missing: $f"; bad=1
		elif [ "$(sha <"conf/www/$f")" != "$(sha <"$T/mirror/$f")" ]; then
			echo "differs: $f"; bad=1
		fi
	done < <(cd conf/www && find . -type f | sed 's|^\./||' | sort)
	# Anything else in the mirror is a listing or a handler's answer.
	while IFS= read -r f; do
		[ -f "conf/www/$f" ] && continue
		case $f in
		index.html|*/index.html|hello|env|env\?*|story.news|echo|counter|login|logout|upload|cgi-bin/*) ;;
		*) echo "unexpected: $f"; bad=1 ;;
		esac
	done < <(cd "$T/mirror" && find . -type f | sed 's|^\./||' | sort)
	[ "$bad" = 0 ]
}
