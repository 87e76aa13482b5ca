#!/bin/sh
# Cost of one process start + one request, no network: each server answers
# `GET /index.html` (1024-byte body) read from a pipe, as inetd would make
# it do on a socket.  Per server: callgrind instructions (user space, ld.so
# included), strace -f -c syscalls, and over N spawns (round-robin, so load
# drift hits every row alike) the medians of wall time, child CPU and minor
# faults.  Every response is checked (200, 1024-byte body) before measuring.
# Ratios are peer / ihttpd: above 1 the peer costs more.
#
#   sh tests/bench/percall.sh [DOCROOT]	(made with setup.sh when not given)
#   BENCH_QUICK=1: N=20 instead of 200; BENCH_N overrides both.
# Writes build/bench/percall.md and build/bench/ihttpd.callgrind.out.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
IHTTPD=${IHTTPD:-$top/build/ihttpd}
out=$top/build/bench
if [ "${BENCH_QUICK:-0}" = 1 ]; then n=${BENCH_N:-20}; else n=${BENCH_N:-200}; fi
tab=$(printf '\t')
# Every measured process gets the same small environment: glibc's start-up
# (tunables, ld.so) scans the environment, so a large one (CI's, a login
# shell's) would add tens of thousands of instructions to every row.
cleanenv="env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ihttpd-percall.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
if [ $# -ge 1 ]; then
	docroot=$1
else
	docroot=$tmp/www
	sh "$here/setup.sh" "$docroot" || exit 1
fi
docroot=$(cd "$docroot" && pwd)
mkdir -p "$out" || exit 1
[ -x "$IHTTPD" ] || { echo "percall: no $IHTTPD (run make)"; exit 1; }
cc -O2 -o "$out/spawn" "$here/spawn.c" || exit 1
spawn=$out/spawn
floor=""
cc -O2 -static -o "$out/floor" "$here/floor.c" 2>/dev/null && floor=$out/floor

printf 'GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n' >"$tmp/req"
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

# Candidate rows: NAME<TAB>PROG<TAB>ARG...; the first is the reference.
{
	printf 'ihttpd\t%s\t-c\t%s\n' "$IHTTPD" "$tmp/ihttpd.conf"
	printf 'ihttpd-default\t%s\t--docroot\t%s\t--access_log\toff\n' "$IHTTPD" "$docroot"
	if command -v busybox >/dev/null; then
		printf 'busybox-httpd\tbusybox\thttpd\t-i\t-h\t%s\t-c\t%s\n' "$docroot" "$tmp/httpd.conf"
	else echo "busybox-httpd"; fi
	if [ -n "$microhttpd" ]; then
		printf 'micro_httpd\t%s\t%s\n' "$microhttpd" "$docroot"
	else echo "micro_httpd"; fi
	if command -v lighttpd >/dev/null; then
		printf 'lighttpd-1\tlighttpd\t-1\t-f\t%s\n' "$tmp/lighttpd.conf"
	else echo "lighttpd-1"; fi
	if [ -n "$floor" ]; then
		printf 'floor\t%s\t%s\n' "$floor" "$docroot/index.html"
	else echo "floor"; fi
} >"$tmp/candidates"

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
		[ "$name" = ihttpd ] && status=1
		continue
	fi
	printf '%s\n' "$line" >>"$tmp/list"
	ir=-
	# The request goes in through a pipe (cat), as in every row: lighttpd -1
	# refuses a regular file on stdin.
	# shellcheck disable=SC2002
	if [ $have_vg = 1 ]; then
		cgout=/dev/null
		[ "$name" = ihttpd ] && cgout=$out/ihttpd.callgrind.out
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
	echo "| server | response | instructions | ×ihttpd | syscalls (failed) | minor faults | wall µs | ×ihttpd | CPU µs |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
	awk 'NR == FNR { t[$1] = $2 " " $3 " " $4; next }
	{ split(t[$1], m, " "); r[FNR] = $0; w[FNR] = m[1]; c[FNR] = m[2]; f[FNR] = m[3]
	  if ($1 == "ihttpd") { ir0 = $5; w0 = m[1] } ; rows = FNR }
	function ratio(a, b) { return (a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/ && b > 0) ? sprintf("%.2f", a / b) : "-" }
	function num(x,   s) {	# 1234567 -> 1,234,567
		if (x !~ /^[0-9]+$/) return x
		s = ""; while (length(x) > 3) { s = "," substr(x, length(x) - 2) s; x = substr(x, 1, length(x) - 3) }
		return x s }
	END { for (i = 1; i <= rows; i++) { split(r[i], v, " ")
		printf "| %s | %s, %s B | %s | %s | %s (%s) | %s | %s | %s | %s |\n",
		    v[1], v[2], v[4], num(v[5]), ratio(v[5], ir0), v[6], v[7], f[i],
		    w[i], ratio(w[i], w0), c[i] } }' "$tmp/times" "$tmp/rows"
	echo
	echo "All rows run with \`env -i PATH=...\` (glibc start-up cost grows with the environment)."
	echo "Instructions: callgrind \"Collected\" (user space, ld.so included, stable to <0.1 %)."
	echo "Syscalls: strace -f -c total.  Wall: fork to wait4 in build/bench/spawn (feed the request,"
	echo "read the response to EOF); CPU and faults: the child's rusage.  Wall and CPU move 10-30 %"
	echo "between runs on a loaded machine; compare rows of one run.  floor = the least a static"
	echo "server can do (tests/bench/floor.c): process creation alone."
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
	echo "T/ihttpd.conf: \`docroot D\`, \`mimetypes $mime\`, \`access_log off\`."
	if [ -s "$out/ihttpd.callgrind.out" ] && command -v callgrind_annotate >/dev/null; then
		echo
		echo "ihttpd, top 10 functions by own instructions (callgrind_annotate build/bench/ihttpd.callgrind.out):"
		echo
		echo '```'
		callgrind_annotate "$out/ihttpd.callgrind.out" 2>/dev/null |
		    awk '/file:function/ { go = 1; getline; next } go && NF { print; if (++k == 10) exit }' |
		    sed -e "s|$top/||g" -e 's| \[[^]]*\]$||'
		echo '```'
	fi
} >"$out/percall.md"
cat "$out/percall.md"
exit $status
