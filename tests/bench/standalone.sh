#!/bin/sh
# Load on 127.0.0.1: ihttpd as a standalone daemon, in every personality
# (single, fork, preforksimple with 2 workers, prefork with each serialize
# method), against nginx (1 and 2 workers), lighttpd and h2o in the same
# run.  Three loads, wrk -t2 -c32 --latency: GET /1k.txt keep-alive, the
# same with `Connection: close`, and GET /missing.txt (404, keep-alive).
# Per row: req/s, p50/p99, server CPU per request and ratios to h2o and
# to nginx with 1 worker.  Numbers are reported, never asserted.
#
#   sh tests/bench/standalone.sh [DOCROOT]	(made with setup.sh when not given)
#   BENCH_QUICK=1: 2 s per row, no warm-up; BENCH_SECONDS overrides.
#   BENCH_ONLY="prefork prefork-flock ...": only those rows (ids as in the
#   Commands list), e.g. to repeat the serialize comparison.
# Writes build/bench/standalone.md.
#
# Server CPU: each server starts in its own session (setsid, which execs
# without forking, so the pid is the master's).  Before and after a row,
# utime+stime+cutime+cstime are summed over every live process that is the
# master, a descendant of it, or in its session.  Processes that exited and
# were reaped inside the tree are in their parent's cutime/cstime, so
# workers replaced during the row are counted and none twice.
#
# Every server runs with access logs off and logs nothing per request
# (ihttpd log_level 1, nginx log_not_found off), drops root to nobody when
# started as root, and is stopped by pid; then any process left in its
# session is killed by pid.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
IHTTPD=${IHTTPD:-$top/build/ihttpd}
out=$top/build/bench
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	secs=${BENCH_SECONDS:-2}; warm=0; warm_pool=0; settle=0.3
else
	# prefork grows its pool at 1, 2, 4 ... workers a second: 3 s of
	# warm-up take it most of the way to the 32 connections.
	secs=${BENCH_SECONDS:-5}; warm=1; warm_pool=3; settle=0.5
fi
conns=32
. "$here/lib.sh"
hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
tab=$(printf '\t')
t_start=$(date +%s)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ihttpd-standalone.XXXXXX") || exit 1
chmod 755 "$tmp"	# the servers' workers run as an unprivileged user
pid=""
cleanup() {
	[ -n "$pid" ] && stop
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
bench_docroot "$@"
[ -x "$IHTTPD" ] || { echo "standalone: no $IHTTPD (run make)"; exit 1; }
for t in wrk curl setsid; do
	command -v $t >/dev/null || { echo "standalone: skipped, no $t (run setup.sh as root)"; exit 0; }
done
spawn=$out/spawn
cc -O2 -o "$spawn" "$here/spawn.c" || exit 1
mime=/etc/mime.types
[ -r "$mime" ] || mime=$top/conf/mime.types
asroot=0
[ "$(id -u)" = 0 ] && asroot=1

# Sum of CPU ticks of the server tree of $1 (see the top), and how many
# processes it has: "TICKS NPROCS".
cpu_ticks() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '
	{ p = $1; s = $0; sub(/^.*\) /, "", s); split(s, f, " ")
	  n++; pid[n] = p; ppid[p] = f[2]; sid[p] = f[4]
	  t[p] = f[12] + f[13] + f[14] + f[15] }
	END {
		in_[root] = 1
		for (i = 1; i <= n; i++) if (sid[pid[i]] == root) in_[pid[i]] = 1
		do { more = 0
			for (i = 1; i <= n; i++)
				if (!(pid[i] in in_) && (ppid[pid[i]] in in_)) { in_[pid[i]] = 1; more = 1 }
		} while (more)
		for (p in in_) if (p in t) { sum += t[p]; k++ }
		print sum + 0, k + 0 }'
}

# wrk output -> "req/s p50_ms p99_ms requests socket_errors non2xx"
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
	/Non-2xx/ { x += $NF }
	/^Requests\/sec/ { r = sprintf("%.0f", $2) }
	END { printf "%s %s %s %s %d %d\n", r == "" ? "-" : r, p50 == "" ? "-" : p50,
	    p99 == "" ? "-" : p99, n == "" ? 0 : n, e, x }' "$1"
}

# status_of PATH [HEADER]: "CODE BYTES" of one GET on $port.
status_of() {
	curl -s --noproxy '*' --max-time 2 -o /dev/null ${2:+-H "$2"} \
	    -w '%{http_code} %{size_download}' "http://127.0.0.1:$port$1"
}

valid_port() {
	case $1 in ''|*[!0-9]*) return 1 ;; esac
	[ "$1" -ge 1 ] && [ "$1" -le 65535 ]
}

# start ID CMD...: runs CMD in its own session (pid in $pid).  With
# $port empty the port is read from ihttpd's "listening on" line.  Waits
# until /1k.txt answers 200 with 1024 bytes, then checks the other loads.
start() {
	id=$1; shift
	$cleanenv setsid "$@" >"$tmp/$id.out" 2>"$tmp/$id.err" </dev/null &
	pid=$!
	i=0; got="no answer"
	while [ $i -lt 50 ]; do
		if [ -z "$port" ]; then
			p=$(sed -n 's/^ihttpd: listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' \
			    "$tmp/$id.err" 2>/dev/null | head -n 1)
			valid_port "$p" && port=$p
		fi
		if [ -n "$port" ]; then
			got=$(status_of /1k.txt)
			[ "$got" = "200 1024" ] && break
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	if [ "$got" = "200 1024" ]; then
		c=$(status_of /1k.txt "Connection: close")
		m=$(status_of /missing.txt)
		[ "$c" = "200 1024" ] && [ "${m%% *}" = 404 ] && return 0
		got="close: $c, 404: $m"
	fi
	echo "$id: not serving as expected on 127.0.0.1:${port:-?} (curl: $got); $(head -c 300 "$tmp/$id.err" | tr '\n' ' ')" >>"$tmp/skipped"
	stop
	return 1
}

# Stop the server by pid, then whatever is left of its session, by pid.
stop() {
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	left=$(cat /proc/[0-9]*/stat 2>/dev/null |
	    awk -v s="$pid" '{ p = $1; sub(/^.*\) /, ""); if ($4 == s) print p }')
	for p in $left; do kill -KILL "$p" 2>/dev/null; done
	pid=""
}

# measure ID LOAD: one wrk run against $port; appends a row.
measure() {
	hdr=""; path=/1k.txt
	case $2 in
	close) hdr="Connection: close" ;;
	404) path=/missing.txt ;;
	esac
	# shellcheck disable=SC2046
	set -- "$1" "$2" $(cpu_ticks "$pid")
	timeout -k 5 $((secs + 30)) wrk -t2 -c$conns -d"${secs}s" --latency \
	    ${hdr:+-H "$hdr"} "http://127.0.0.1:$port$path" >"$tmp/wrk.txt" 2>&1
	sleep "$settle"	# let the master reap workers that are exiting
	t0=$3
	# shellcheck disable=SC2046
	set -- "$1" "$2" $(cpu_ticks "$pid") $(parse_wrk "$tmp/wrk.txt")
	# $3 ticks $4 procs $5 rps $6 p50 $7 p99 $8 requests $9 sockerr ${10} non2xx
	if [ "$2" = 404 ]; then bad=$(( $9 + $8 - ${10} )); else bad=$(( $9 + ${10} )); fi
	cpu=$(awk -v d=$(( $3 - t0 )) -v hz="$hz" -v n="$8" \
	    'BEGIN { print (n > 0 ? sprintf("%.1f", d * 1000000 / hz / n) : "-") }')
	echo "$1 $2 $5 $6 $7 $cpu $8 $bad $4" >>"$tmp/rows"
}

# bench ID "SERVER<TAB>CONFIG" WARMUP CMD...: an argument PORT becomes a
# free port; FILE.in becomes FILE, written with @PORT@ replaced.  Without
# PORT in CMD (ihttpd, --port 127.0.0.1:0) the port is read from stderr.
bench() {
	selected "$1" || return 0
	id=$1; printf '%s\t%s\n' "$1" "$2" >>"$tmp/labels"; w=$3; shift 3
	port=""
	case " $* " in *" PORT "*|*.in\ *) port=$("$spawn" port) || return ;; esac
	for a do
		shift
		case $a in
		PORT) a=$port ;;
		*.in) sed "s/@PORT@/$port/g" "$a" >"${a%.in}"; a=${a%.in} ;;
		esac
		set -- "$@" "$a"
	done
	echo "$id: $*" | sed -e "s|$docroot|D|g" -e "s|$tmp/|T/|g" \
	    -e "s|$top/||g" >>"$tmp/commands"
	if ! start "$id" "$@"; then
		echo "$id failed" >>"$tmp/unavailable"
		return
	fi
	[ "$w" -gt 0 ] && timeout -k 5 30 wrk -t2 -c$conns -d"${w}s" \
	    "http://127.0.0.1:$port/1k.txt" >/dev/null 2>&1
	for m in ka close 404; do measure "$id" "$m"; done
	stop
}

selected() {
	[ -z "${BENCH_ONLY:-}" ] && return 0
	case " $BENCH_ONLY " in *" $1 "*) return 0 ;; esac
	return 1
}

unavailable() {
	selected "$1" || return 0
	printf '%s\t%s\n' "$1" "$2" >>"$tmp/labels"
	echo "$1 $3" >>"$tmp/unavailable"
	echo "$1: $3" >>"$tmp/skipped"
}

# bench_ihttpd ID CONFIG WARMUP ARGS...
bench_ihttpd() {
	id=$1; conf=$2; w=$3; shift 3
	user=""
	[ $asroot = 1 ] && user="--user nobody"
	# shellcheck disable=SC2086
	bench "$id" "ihttpd$tab$conf" "$w" "$IHTTPD" --standalone on \
	    --port 127.0.0.1:0 --docroot "$docroot" --mimetypes "$mime" \
	    --access_log off --log_level 1 $user "$@"
}

for w in 1 2; do
	cat >"$tmp/nginx-${w}w.conf.in" <<EOF
worker_processes $w;
daemon off;
pid $tmp/nginx-${w}w.pid;
error_log $tmp/nginx-${w}w-error.log;
events { worker_connections 1024; }
http {
	include /etc/nginx/mime.types;
	default_type application/octet-stream;
	access_log off;
	log_not_found off;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 100000;
	server { listen 127.0.0.1:@PORT@; root $docroot; }
}
EOF
done
cat >"$tmp/lighttpd.conf.in" <<EOF
server.document-root = "$docroot"
server.bind = "127.0.0.1"
server.port = @PORT@
server.errorlog = "$tmp/lighttpd-error.log"
server.max-keep-alive-requests = 100000
mimetype.assign = (".html" => "text/html", ".txt" => "text/plain")
EOF
if [ $asroot = 1 ]; then
	# lighttpd opens its error log after dropping to the user
	echo 'server.username = "nobody"' >>"$tmp/lighttpd.conf.in"
	: >"$tmp/lighttpd-error.log"
	chown nobody "$tmp/lighttpd-error.log"
fi
{
	[ $asroot = 1 ] && echo "user: nobody"
	cat <<EOF
listen:
  host: 127.0.0.1
  port: @PORT@
error-log: $tmp/h2o-error.log
hosts:
  default:
    paths:
      /:
        file.dir: $docroot
EOF
} >"$tmp/h2o.conf.in"

: >"$tmp/rows"; : >"$tmp/skipped"; : >"$tmp/commands"
: >"$tmp/labels"; : >"$tmp/unavailable"
load0=$(cut -d' ' -f1-3 /proc/loadavg)

bench_ihttpd single single "$warm" --type single
bench_ihttpd fork fork "$warm" --type fork
bench_ihttpd preforksimple-2w "preforksimple, 2 workers" "$warm" \
    --type preforksimple --max_servers 2
bench_ihttpd prefork "prefork (serialize=epoll, the default)" "$warm_pool" \
    --type prefork --serialize epoll
bench_ihttpd prefork-flock "prefork serialize=flock" "$warm_pool" \
    --type prefork --serialize flock
bench_ihttpd prefork-none "prefork serialize=none" "$warm_pool" \
    --type prefork --serialize none
if command -v nginx >/dev/null; then
	bench nginx-1w "nginx${tab}1 worker" "$warm" nginx -e "$tmp/nginx-1w-error.log" \
	    -p "$tmp/" -c "$tmp/nginx-1w.conf.in"
	bench nginx-2w "nginx${tab}2 workers" "$warm" nginx -e "$tmp/nginx-2w-error.log" \
	    -p "$tmp/" -c "$tmp/nginx-2w.conf.in"
else
	unavailable nginx-1w "nginx${tab}1 worker" "not installed"
	unavailable nginx-2w "nginx${tab}2 workers" "not installed"
fi
if command -v lighttpd >/dev/null; then
	bench lighttpd "lighttpd${tab}one process" "$warm" lighttpd -D -f "$tmp/lighttpd.conf.in"
else unavailable lighttpd "lighttpd${tab}one process" "not installed"; fi
if command -v h2o >/dev/null; then
	bench h2o "h2o${tab}$(nproc) threads (default)" "$warm" h2o -c "$tmp/h2o.conf.in"
else unavailable h2o "h2o${tab}$(nproc) threads (default)" "not installed (apt-get install h2o)"; fi
load1=$(cut -d' ' -f1-3 /proc/loadavg)
t_end=$(date +%s)

title() {
	case $1 in
	ka) echo "1 KiB file, keep-alive: GET /1k.txt" ;;
	close) echo "1 KiB file, new connection per request: GET /1k.txt, \`Connection: close\`" ;;
	404) echo "404, keep-alive: GET /missing.txt" ;;
	esac
}

{
	echo "## standalone: wrk -t2 -c$conns -d${secs}s --latency on 127.0.0.1"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc 2>/dev/null || echo ?) CPUs, load $load0 at the start, $load1 at the end; $((t_end - t_start)) s in all"
	for m in ka close 404; do
		echo
		echo "### $(title $m)"
		echo
		echo "| server | config | req/s | ×h2o | ×nginx-1w | p50 ms | p99 ms | CPU µs/req | CPU ×h2o | CPU ×nginx-1w | procs | requests | errors |"
		echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
		awk -F'\t' -v m="$m" '
		FILENAME ~ /labels$/ { lab[$1] = $2 " | " $3; ord[++n] = $1; next }
		FILENAME ~ /unavailable$/ { split($0, u, " "); why[u[1]] = substr($0, length(u[1]) + 2); next }
		{ split($0, v, " "); if (v[2] != m) next; row[v[1]] = $0
		  if (v[1] == "h2o") { rh = v[3]; ch = v[6] }
		  if (v[1] == "nginx-1w") { rn = v[3]; cn = v[6] } }
		function ratio(a, b) { return (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) ? sprintf("%.2f", a / b) : "-" }
		END { for (i = 1; i <= n; i++) { id = ord[i]
			if (!(id in row)) {
				printf "| %s | unavailable: %s | - | - | - | - | - | - | - | - | - | - | - |\n", lab[id], why[id]
				continue }
			split(row[id], v, " ")
			printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			    lab[id], v[3], ratio(v[3], rh), ratio(v[3], rn), v[4], v[5],
			    v[6], ratio(v[6], ch), ratio(v[6], cn), v[9], v[7], v[8] } }' \
		    "$tmp/labels" "$tmp/unavailable" "$tmp/rows"
	done
	echo
	echo "### ihttpd prefork: serialize (req/s, CPU µs/req)"
	echo
	echo "| serialize | ka req/s | ka CPU | close req/s | close CPU | 404 req/s | 404 CPU |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	awk '{ r[$1 " " $2] = $3; c[$1 " " $2] = $6 }
	END { split("prefork prefork-flock prefork-none", ids, " ")
		split("epoll flock none", names, " ")
		for (i = 1; i <= 3; i++) { s = "| " names[i]
			for (j = 1; j <= 3; j++) { k = ids[i] " " (j == 1 ? "ka" : j == 2 ? "close" : "404")
				s = s " | " (k in r ? r[k] : "-") " | " (k in c ? c[k] : "-") }
			print s " |" } }' "$tmp/rows"
	echo
	echo "×h2o, ×nginx-1w: req/s over the reference's req/s for the same load (above 1: faster);"
	echo "CPU ×: CPU per request over the reference's (above 1: costs more).  CPU µs/req: user+sys"
	echo "of the whole server (master, workers, and workers that exited and were reaped during the"
	echo "row) over the row, per request; ${hz} Hz ticks.  procs: server processes alive after the row."
	echo "errors: wrk socket errors plus responses with an unexpected status (non-2xx for /1k.txt,"
	echo "anything but 404 for /missing.txt).  wrk runs on the same CPUs and starts its latency clock"
	echo "after connect, so with \`Connection: close\` the accept/fork cost shows in req/s, not p50/p99."
	echo "req/s moves 10-90 % between runs on a loaded machine; compare rows of one run."
	echo
	echo "All servers: access log off, nothing logged per request (ihttpd log_level 1, nginx"
	echo "log_not_found off), $( [ $asroot = 1 ] && echo "workers as nobody, " )each in its own session."
	echo "Keep-alive: ihttpd keeps its defaults (keepalive_requests 100, one connection per worker"
	echo "or child at a time, so single and preforksimple serve 1 and 2 of the $conns connections at"
	echo "once and the rest wait in the backlog); nginx and lighttpd allow 100000 requests per"
	echo "connection, h2o keeps its defaults.  ihttpd prefork: default pool keys (min_servers 5, spares 2-10,"
	echo "max_servers 50, max_requests 1000), warm-up ${warm_pool} s, others ${warm} s, at -c$conns on /1k.txt."
	echo "ihttpd single: keep-alive gives way as soon as another client waits, so at -c$conns almost"
	echo "every kept-alive connection is closed by the server between requests; wrk counts each such"
	echo "close as a read error (the errors column of its ka and 404 rows)."
	if [ -s "$tmp/skipped" ]; then
		echo
		sed 's/^/skipped: /' "$tmp/skipped"
	fi
	echo
	echo "Commands (D = the bench docroot, T = a temporary folder; each under env -i PATH=... setsid):"
	echo
	# shellcheck disable=SC2016
	sed 's/^\([^:]*\): \(.*\)$/- \1: `\2`/' "$tmp/commands"
} >"$out/standalone.md"
cp "$tmp/rows" "$out/standalone.rows"
cp "$tmp/labels" "$out/standalone.labels"
cat "$out/standalone.md"
# Worked when every ihttpd row selected ran all three loads.
want=0
for r in single fork preforksimple-2w prefork prefork-flock prefork-none; do
	selected $r && want=$((want + 3))
done
[ "$(grep -c -E '^(single|fork|preforksimple-2w|prefork|prefork-flock|prefork-none) ' "$tmp/rows")" -eq $want ]
