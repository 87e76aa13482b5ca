#!/bin/sh
# Cost of one process start + one request, no network: each server answers
# `GET /index.html` (1024-byte body) read from a pipe, as inetd would make
# it do on a socket.  Per server: callgrind instructions (user space, ld.so
# included), strace -f -c syscalls, and over N spawns (round-robin, so load
# drift hits every row alike) the medians of wall time, child CPU and minor
# faults.  Every response is checked (200, 1024-byte body) before measuring.
# Ratios are row / limit-static (tests/bench/floor.c, the least a static
# server can do): the process start every row pays, and what it adds.
# The ihttpd rows: --docroot only (access log on, built-in types); the
# demo config (conf/ihttpd.conf, access log on); a large config (500
# objects, a 2,000-line mime.types: what a request does not use must not
# cost it); and the minimal config with the access log off.  Each row is
# run once (the response check) before it is measured, as any server's
# second start: ihttpd keeps its parsed config in datadir/cache.
#
#   sh tests/bench/percall.sh [DOCROOT]	(made with setup.sh when not given)
#   BENCH_QUICK=1: N=20 instead of 200; BENCH_N overrides both.
# Writes build/bench/percall.md, percall.rows (for the summary) and
# build/bench/ihttpd-*.callgrind.out.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
IHTTPD=${IHTTPD:-$top/build/ihttpd}
out=$top/build/bench
if [ "${BENCH_QUICK:-0}" = 1 ]; then n=${BENCH_N:-20}; else n=${BENCH_N:-200}; fi
tab=$(printf '\t')
. "$here/lib.sh"	# cleanenv: the same small environment for every row

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ihttpd-percall.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
bench_docroot "$@"
[ -x "$IHTTPD" ] || { echo "percall: no $IHTTPD (run make)"; exit 1; }
cc -O2 -o "$out/spawn" "$here/spawn.c" || exit 1
spawn=$out/spawn
floor=""
cc -O2 -static -o "$out/floor" "$here/floor.c" 2>/dev/null && floor=$out/floor

printf 'GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n' >"$tmp/req"
cd "$top" || exit 1	# the demo config names files relative to the top
# ihttpd keeps its parsed config in the datadir known before the file is
# read: the default (/var/lib/ihttpd) as root, else one of our own.
dd=$(bench_datadir)
bench_demo_conf "$tmp/demo.conf"
# The large config: 500 objects of four kinds, none of them for /index.html,
# and a 2,000-line mime.types whose last line types .html.
{
	echo "docroot $docroot"
	echo "mimetypes $tmp/large.types"
	echo "datadir $tmp/large-data"
	i=0
	while [ $i -lt 500 ]; do
		case $((i % 4)) in
		0) printf '<Object ppath="/p%d">\n  PathCheck fn=acl cidr_allow="127.0.0.1 ::1"\n  Service fn=hello greeting="hi %d"\n</Object>\n' $i $i ;;
		1) printf '<Object path="/x%d/y">\n  Service fn=hello\n</Object>\n' $i ;;
		2) printf '<Object ppath="/d%d/e">\n  NameTrans fn=redirect from=/d%d/e url-prefix=/docs/ status=301\n</Object>\n' $i $i ;;
		3) printf '<Object ppath="/w%d">\n  ObjectType fn=force-type type=text/plain\n</Object>\n' $i ;;
		esac
		i=$((i + 1))
	done
} >"$tmp/large.conf"
awk 'BEGIN { for (i = 1; i <= 1999; i++) printf "application/x-t%d\tt%d e%d\n", i, i, i
	print "text/html\thtml htm" }' >"$tmp/large.types"

mime=/etc/mime.types
[ -r "$mime" ] || mime=$top/conf/mime.types
cat >"$tmp/ihttpd.conf" <<EOF
docroot     $docroot
mimetypes   $mime
access_log  off
EOF
cat >"$tmp/lighttpd.conf" <<EOF
server.document-root = "$docroot"
server.port = 80
server.errorlog = "$tmp/lighttpd-error.log"
mimetype.assign = (".html" => "text/html", ".txt" => "text/plain")
EOF
: >"$tmp/httpd.conf"	# busybox: an empty config, not /etc/httpd.conf
microhttpd=$(command -v micro-httpd || command -v micro_httpd ||
    { [ -x /usr/sbin/micro-httpd ] && echo /usr/sbin/micro-httpd; })
# A file changed in the last 2 s is not cached yet (its times could not
# tell a second change from the first; cfgcache.c): let them settle.
sleep 2.1

# Candidate rows: NAME<TAB>PROG<TAB>ARG...
{
	if [ -n "$floor" ]; then
		printf 'limit-static\t%s\t%s\n' "$floor" "$docroot/index.html"
	else echo "limit-static"; fi
	# shellcheck disable=SC2086
	printf 'ihttpd-docroot\t%s\t--docroot\t%s%s\n' "$IHTTPD" "$docroot" "$(printf '\t%s' $dd)"
	printf 'ihttpd-demo\t%s\t-c\t%s%s\n' "$IHTTPD" "$tmp/demo.conf" "$(printf '\t%s' $dd)"
	printf 'ihttpd-large\t%s\t-c\t%s%s\n' "$IHTTPD" "$tmp/large.conf" "$(printf '\t%s' $dd)"
	printf 'ihttpd-nolog\t%s\t-c\t%s%s\n' "$IHTTPD" "$tmp/ihttpd.conf" "$(printf '\t%s' $dd)"
	if [ -n "$microhttpd" ]; then
		printf 'micro_httpd\t%s\t%s\n' "$microhttpd" "$docroot"
	else echo "micro_httpd"; fi
	if command -v busybox >/dev/null; then
		printf 'busybox-httpd\tbusybox\thttpd\t-i\t-h\t%s\t-c\t%s\n' "$docroot" "$tmp/httpd.conf"
	else echo "busybox-httpd"; fi
	if command -v lighttpd >/dev/null; then
		printf 'lighttpd-1\tlighttpd\t-1\t-f\t%s\n' "$tmp/lighttpd.conf"
	else echo "lighttpd-1"; fi
} | sed 's/\t$//' >"$tmp/candidates"

have_vg=0; command -v valgrind >/dev/null && have_vg=1
have_st=0; command -v strace >/dev/null && have_st=1
: >"$tmp/list"
: >"$tmp/rows"
: >"$tmp/skipped"
status=0
set -f
while IFS= read -r line; do
	IFS=$tab
	# shellcheck disable=SC2086
	set -- $line
	IFS=' '
	name=$1
	if [ $# -lt 2 ]; then
		echo "$name: not installed" >>"$tmp/skipped"
		continue
	fi
	shift
	if ! chk=$($cleanenv "$spawn" check "$tmp/req" 1024 "$@"); then
		echo "$name: bad response ($chk: status, body, bytes)" >>"$tmp/skipped"
		case $name in ihttpd-*) status=1 ;; esac
		continue
	fi
	printf '%s\n' "$line" >>"$tmp/list"
	ir=-
	# The request goes in through a pipe (cat), as in every row: lighttpd -1
	# refuses a regular file on stdin.
	# shellcheck disable=SC2002
	if [ $have_vg = 1 ]; then
		cgout=/dev/null
		case $name in ihttpd-*) cgout=$out/$name.callgrind.out ;; esac
		cat "$tmp/req" | $cleanenv valgrind --tool=callgrind \
		    --callgrind-out-file="$cgout" --log-file="$tmp/cg.log" \
		    "$@" >/dev/null 2>&1
		ir=$(awk '/Collected :/ { print $NF }' "$tmp/cg.log")
		[ -n "$ir" ] || ir=-
	fi
	sc=-; se=-
	if [ $have_st = 1 ]; then
		# shellcheck disable=SC2002
		cat "$tmp/req" | $cleanenv strace -f -c -o "$tmp/st.txt" "$@" >/dev/null 2>&1
		sc=$(awk '$NF == "total" { print $4 }' "$tmp/st.txt")
		se=$(awk '$NF == "total" { print (NF == 6 ? $5 : 0) }' "$tmp/st.txt")
		[ -n "$sc" ] || { sc=-; se=-; }
	fi
	# name status body bytes instructions syscalls errors
	echo "$name $chk $ir $sc $se" >>"$tmp/rows"
done <"$tmp/candidates"
set +f
unset IFS

$cleanenv "$spawn" time "$n" "$tmp/req" "$tmp/list" >"$tmp/times" || status=1

{
	echo "## percall: one GET /index.html (1024-byte body) over a pipe, one process each"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg), N=$n spawns per row (medians)"
	echo
	echo "| server | instructions | ×limit-static | syscalls (failed) | minor faults | wall µs | ×limit-static | CPU µs | response |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
	awk 'NR == FNR { t[$1] = $2 " " $3 " " $4; next }
	{ split(t[$1], m, " "); r[FNR] = $0; w[FNR] = m[1]; c[FNR] = m[2]; f[FNR] = m[3]
	  if ($1 == "limit-static") { ir0 = $5; w0 = m[1] } ; rows = FNR }
	function ratio(a, b) { return (a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/ && b > 0) ? sprintf("%.2f", a / b) : "-" }
	function num(x,   s) {	# 1234567 -> 1,234,567
		if (x !~ /^[0-9]+$/) return x
		s = ""; while (length(x) > 3) { s = "," substr(x, length(x) - 2) s; x = substr(x, 1, length(x) - 3) }
		return x s }
	END { for (i = 1; i <= rows; i++) { split(r[i], v, " ")
		printf "| %s | %s | %s | %s (%s) | %s | %s | %s | %s | %s, %s B |\n",
		    v[1], num(v[5]), ratio(v[5], ir0), v[6], v[7], f[i],
		    w[i], ratio(w[i], w0), c[i], v[2], v[4] } }' "$tmp/times" "$tmp/rows"
	echo
	echo "All rows run with \`env -i PATH=...\` (glibc start-up cost grows with the environment)."
	echo "Instructions: callgrind \"Collected\" (user space, ld.so included, stable to <0.1 %)."
	echo "Syscalls: strace -f -c total.  Wall: fork to wait4 in build/bench/spawn (feed the request,"
	echo "read the response to EOF); CPU and faults: the child's rusage.  Wall and CPU move 10-30 %"
	echo "between runs on a loaded machine; compare rows of one run.  limit-static = the least a"
	echo "static server can do (tests/bench/floor.c): process creation alone."
	if [ -s "$tmp/skipped" ]; then
		echo
		sed 's/^/skipped: /' "$tmp/skipped"
	fi
	echo
	echo "Commands (D = the bench docroot; request on stdin):"
	echo
	sed -e "s|$docroot|D|g" -e "s|$tmp/|T/|g" -e "s|$top/||g" -e "s|$tab| |g" \
	    -e 's/^\([^ ]*\) \(.*\)$/- \1: `\2`/' "$tmp/list"
	echo
	echo "T/ihttpd.conf: \`docroot D\`, \`mimetypes $mime\`, \`access_log off\`.  T/demo.conf:"
	echo "conf/ihttpd.conf with docroot D.  T/large.conf: 500 objects (ppath, path, redirect,"
	echo "force-type), none matching /index.html, and \`mimetypes T/large.types\` (2,000 lines)."
	if [ -s "$out/ihttpd-demo.callgrind.out" ] && command -v callgrind_annotate >/dev/null; then
		echo
		echo "ihttpd-demo, top 10 functions by own instructions (callgrind_annotate build/bench/ihttpd-demo.callgrind.out):"
		echo
		echo '```'
		callgrind_annotate "$out/ihttpd-demo.callgrind.out" 2>/dev/null |
		    awk '/file:function/ { go = 1; getline; next } go && NF { print; if (++k == 10) exit }' |
		    sed -e "s|$top/||g" -e 's| \[[^]]*\]$||'
		echo '```'
	fi
} >"$out/percall.md"
cp "$tmp/rows" "$out/percall.rows"
cat "$out/percall.md"
exit $status
