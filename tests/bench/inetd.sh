#!/bin/sh
# Load on 127.0.0.1: every inetd-capable server under tcpserver (one process
# per connection) and, for reference, nginx (1 worker) and lighttpd running
# standalone.  wrk -t2 -c16 on the 1 KiB file, keep-alive and
# `Connection: close`; req/s, p50/p99, server CPU per request (the server's
# process and its children, reaped ones included) and req/s relative to
# ihttpd in the same run and mode.  Numbers are reported, never asserted.
#
#   sh tests/bench/inetd.sh [DOCROOT]	(made with setup.sh when not given)
#   BENCH_QUICK=1: 2 s per row, no warm-up; BENCH_SECONDS overrides.
# Writes build/bench/inetd.md and inetd.rows (for the summary).  Servers start on free loopback ports and are
# stopped by pid; tcpserver always runs with -H -R -l 0 (no DNS look-ups).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
IHTTPD=${IHTTPD:-$top/build/ihttpd}
out=$top/build/bench
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	secs=${BENCH_SECONDS:-2}; warm=0
else
	secs=${BENCH_SECONDS:-5}; warm=1
fi
. "$here/lib.sh"
hz=$(getconf CLK_TCK 2>/dev/null || echo 100)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ihttpd-inetd.XXXXXX") || exit 1
chmod 755 "$tmp"	# nginx's worker runs as an unprivileged user
pid=""
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
bench_docroot "$@"
[ -x "$IHTTPD" ] || { echo "inetd: no $IHTTPD (run make)"; exit 1; }
for t in wrk curl; do
	command -v $t >/dev/null || { echo "inetd: skipped, no $t (run setup.sh as root)"; exit 0; }
done
spawn=$out/spawn
cc -O2 -o "$spawn" "$here/spawn.c" || exit 1
# limit-static: the least a static server can do per connection (floor.c)
floor=""
cc -O2 -static -o "$out/floor" "$here/floor.c" 2>/dev/null && floor=$out/floor

cat >"$tmp/ihttpd.conf" <<EOF
docroot     $docroot
access_log  off
EOF
sleep 2.1	# a config changed in the last 2 s is not cached (cfgcache.c)
cat >"$tmp/lighttpd-1.conf" <<EOF
server.document-root = "$docroot"
server.port = 80
server.errorlog = "$tmp/lighttpd-1-error.log"
mimetype.assign = (".html" => "text/html", ".txt" => "text/plain")
EOF
: >"$tmp/httpd.conf"
microhttpd=$(command -v micro-httpd || command -v micro_httpd ||
    { [ -x /usr/sbin/micro-httpd ] && echo /usr/sbin/micro-httpd; })

# CPU ticks of process $1 and its children, including the children it has
# reaped (cutime, cstime).
cpu_ticks() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v p="$1" '
	{ pid = $1; s = $0; sub(/^.*\) /, "", s); split(s, f, " ")
	  if (pid == p || f[2] == p) t += f[12] + f[13] + f[14] + f[15] }
	END { print t + 0 }'
}

# wrk output -> "req/s p50_ms p99_ms requests errors"
parse_wrk() {
	awk 'function ms(v) {
		if (v ~ /us$/) return sprintf("%.3f", v / 1000)
		if (v ~ /ms$/) return sprintf("%.3f", v + 0)
		if (v ~ /[0-9]m$/) return sprintf("%.0f", v * 60000)
		if (v ~ /s$/) return sprintf("%.1f", v * 1000)
		return v }
	$1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
	/requests in/ { n = $1 }
	/Socket errors/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 }
	/Non-2xx/ { e += $NF }
	/^Requests\/sec/ { r = sprintf("%.0f", $2) }
	END { printf "%s %s %s %s %d\n", r == "" ? "-" : r, p50 == "" ? "-" : p50,
	    p99 == "" ? "-" : p99, n == "" ? 0 : n, e }' "$1"
}

# start NAME CMD...: runs CMD in the background (pid in $pid) and waits
# until GET /1k.txt on $port answers 200 with 1024 bytes.
start() {
	name=$1; shift
	$cleanenv "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	pid=$!
	i=0
	while [ $i -lt 50 ]; do
		got=$(curl -s --noproxy '*' --max-time 2 -o /dev/null \
		    -w '%{http_code} %{size_download}' "http://127.0.0.1:$port/1k.txt")
		[ "$got" = "200 1024" ] && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	echo "$name: not serving on 127.0.0.1:$port (curl: $got); $(head -c 300 "$tmp/$name.err")" >>"$tmp/skipped"
	stop
	return 1
}

stop() {
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=""
}

# measure NAME MODE: one wrk run against $port; appends a row.
measure() {
	hdr=""
	[ "$2" = close ] && hdr="Connection: close"
	t0=$(cpu_ticks "$pid")
	timeout -k 5 $((secs + 30)) wrk -t2 -c16 -d"${secs}s" --latency \
	    ${hdr:+-H "$hdr"} "http://127.0.0.1:$port/1k.txt" >"$tmp/wrk.txt" 2>&1
	sleep 0.5	# let tcpserver reap the last children
	t1=$(cpu_ticks "$pid")
	# shellcheck disable=SC2046
	set -- "$1" "$2" $(parse_wrk "$tmp/wrk.txt")
	cpu=-
	[ "$6" -gt 0 ] && cpu=$(( (t1 - t0) * 1000000 / hz / $6 ))
	echo "$1 $2 $3 $4 $5 $cpu $6 $7" >>"$tmp/rows"
}

# bench NAME MODES CMD...: an argument PORT becomes the port; an argument
# FILE.in becomes FILE, written from FILE.in with @PORT@ replaced.
bench() {
	name=$1; modes=$2; shift 2
	port=$("$spawn" port) || return
	for a do
		shift
		case $a in
		PORT) a=$port ;;
		*.in) sed "s/@PORT@/$port/g" "$a" >"${a%.in}"; a=${a%.in} ;;
		esac
		set -- "$@" "$a"
	done
	echo "$name: $*" | sed -e "s|$docroot|D|g" -e "s|$tmp/|T/|g" \
	    -e "s|$top/||g" -e "s| $port | PORT |" >>"$tmp/commands"
	start "$name" "$@" || return
	[ "$warm" -gt 0 ] && timeout -k 5 30 wrk -t2 -c16 -d"${warm}s" \
	    "http://127.0.0.1:$port/1k.txt" >/dev/null 2>&1
	for m in $modes; do measure "$name" "$m"; done
	stop
}

cat >"$tmp/nginx.conf.in" <<EOF
worker_processes 1;
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log;
events { worker_connections 1024; }
http {
	include /etc/nginx/mime.types;
	default_type application/octet-stream;
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 100000;
	server { listen 127.0.0.1:@PORT@; root $docroot; }
}
EOF
cat >"$tmp/lighttpd.conf.in" <<EOF
server.document-root = "$docroot"
server.bind = "127.0.0.1"
server.port = @PORT@
server.errorlog = "$tmp/lighttpd-error.log"
server.max-keep-alive-requests = 100000
mimetype.assign = (".html" => "text/html", ".txt" => "text/plain")
EOF

: >"$tmp/rows"
: >"$tmp/skipped"
: >"$tmp/commands"
# $tcpsrv is split into words on purpose.
# shellcheck disable=SC2086
tcpsrv="tcpserver -c 64 -H -R -l 0 127.0.0.1 PORT"
if ! command -v tcpserver >/dev/null; then
	echo "tcpserver rows: no tcpserver (ucspi-tcp)" >>"$tmp/skipped"
else
	if [ -n "$floor" ]; then
		bench limit-static close $tcpsrv "$floor" "$docroot/1k.txt"
	else echo "limit-static: no static floor.c build" >>"$tmp/skipped"; fi
	bench ihttpd "ka close" $tcpsrv "$IHTTPD" -c "$tmp/ihttpd.conf"
	if command -v busybox >/dev/null; then
		bench busybox-httpd "ka close" $tcpsrv busybox httpd -i \
		    -h "$docroot" -c "$tmp/httpd.conf"
	else echo "busybox-httpd: not installed" >>"$tmp/skipped"; fi
	if [ -n "$microhttpd" ]; then
		bench micro_httpd "ka close" $tcpsrv "$microhttpd" "$docroot"
	else echo "micro_httpd: not installed" >>"$tmp/skipped"; fi
	if command -v lighttpd >/dev/null; then
		bench lighttpd-1 "ka close" $tcpsrv lighttpd -1 -f "$tmp/lighttpd-1.conf"
	else echo "lighttpd-1: not installed" >>"$tmp/skipped"; fi
fi
if command -v nginx >/dev/null; then
	bench nginx-1w ka nginx -e "$tmp/nginx-error.log" -p "$tmp/" \
	    -c "$tmp/nginx.conf.in"
else echo "nginx-1w: not installed" >>"$tmp/skipped"; fi
if command -v lighttpd >/dev/null; then
	bench lighttpd ka lighttpd -D -f "$tmp/lighttpd.conf.in"
else echo "lighttpd: not installed" >>"$tmp/skipped"; fi

{
	echo "## inetd: wrk -t2 -c16 -d${secs}s --latency on 127.0.0.1, GET /1k.txt (1024-byte body)"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg); ka = keep-alive, close = \`Connection: close\`"
	echo
	echo "| server | how | mode | req/s | ×ihttpd | p50 ms | p99 ms | server CPU µs/req | requests | errors |"
	echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
	awk '$1 == "ihttpd" { ref[$2] = $3 } { r[NR] = $0 }
	END { for (i = 1; i <= NR; i++) { split(r[i], v, " ")
		how = (v[1] == "nginx-1w" || v[1] == "lighttpd") ? "standalone" : "tcpserver"
		x = (v[3] ~ /^[0-9]+$/ && ref[v[2]] > 0) ? sprintf("%.2f", v[3] / ref[v[2]]) : "-"
		printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
		    v[1], how, v[2], v[3], x, v[4], v[5], v[6], v[7], v[8] } }' "$tmp/rows"
	echo
	echo "×ihttpd: req/s over ihttpd's req/s in the same mode (above 1: faster than ihttpd)."
	echo "Server CPU: user+sys of the server process and its children (reaped ones included)"
	echo "over the run, per request; wrk shares the 2 vCPUs.  req/s moves 10-90 % between runs"
	echo "on a loaded machine; compare rows of one run.  Servers keep their default keep-alive"
	echo "limits under tcpserver (ihttpd: keepalive_requests 100); the standalone references"
	echo "allow 100000 requests per connection.  errors: wrk socket errors + non-2xx responses."
	if [ -s "$tmp/skipped" ]; then
		echo
		sed 's/^/skipped: /' "$tmp/skipped"
	fi
	echo
	echo "Commands (D = the bench docroot, T = a temporary folder; all under env -i PATH=...):"
	echo
	sed 's/^\([^:]*\): \(.*\)$/- \1: `\2`/' "$tmp/commands"
} >"$out/inetd.md"
cp "$tmp/rows" "$out/inetd.rows"
cat "$out/inetd.md"
# Worked when the ihttpd rows ran.
grep -q '^ihttpd ' "$tmp/rows"
