#!/bin/sh
# TLS on 127.0.0.1: what a handshake costs ihttpd, and its TLS load
# against nginx and lighttpd in the same run.  Numbers are reported, never
# asserted.
#
#   sh tests/bench/tls.sh [DOCROOT]	(made with setup.sh when not given)
#   BENCH_QUICK=1: 2 s per row, no warm-up; BENCH_SECONDS overrides.
# Writes build/bench/tls.md.
#
# One certificate for every server, made here: RSA 2048, CN=localhost,
# self-signed for 2 days (openssl req -x509), its key mode 600.
#
# 1. Instructions per connection (callgrind), ihttpd in inetd mode: the
#    fixture tests/fixtures/tls/spair.py runs ihttpd twice on a socketpair
#    with TLS, GET /1k.txt; the first run is a full handshake, the second
#    resumes the first one's session (a TLS 1.3 ticket, whose keys ihttpd
#    keeps in datadir/tls).  Each run writes its own callgrind file; the
#    older one is the full handshake.  The total (Ir) of each is read from
#    its totals: line.  For reference, one plain GET /1k.txt over a pipe.
#    The goal for resumed/full is below 0.33.  Skipped without valgrind.
#
# 2. Load, three per server: full = a new connection per request and a
#    full handshake each time; resumed = a new connection per request, each
#    offering the session (ticket) of the one before it in the same client
#    process; keep-alive = wrk -t2 -c32 over https.  full and resumed are
#    tlsload.c (built here): 4 client processes, each one connection at a
#    time, `Connection: close`, the response read to EOF.  Servers: ihttpd
#    in inetd mode under tcpserver (one process per connection, so
#    resumption goes through the ticket keys in datadir), ihttpd standalone
#    prefork (a /tls port), nginx with 1 worker (session tickets on, its
#    default) and lighttpd with mod_openssl (tickets on, its default).
#    Per row: req/s, server CPU per request, the fraction of requests that
#    resumed, and both ratios to nginx for the same load.
#
# Server CPU: as in standalone.sh.  Each server starts in its own session
# (setsid, which execs without forking, so the pid is the master's, or
# tcpserver's).  Before and after a row, utime+stime+cutime+cstime are
# summed over every live process that is the server, a descendant of it,
# or in its session; processes that exited and were reaped inside the
# tree are in their parent's cutime/cstime, so per-connection processes
# and replaced workers are counted, none twice.
#
# Every server logs nothing per request (ihttpd log_level 1, nginx
# log_not_found off, access logs off), drops root to nobody when started
# as root (ihttpd under tcpserver runs as the invoking user), and is
# stopped by pid; then any process left in its session is killed by pid.
# tcpserver always runs with -H -R -l 0 (no DNS look-ups).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
IHTTPD=${IHTTPD:-$top/build/ihttpd}
out=$top/build/bench
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	secs=${BENCH_SECONDS:-2}; warm=0; warm_pool=0; settle=0.3
else
	# prefork grows its pool at 1, 2, 4 ... workers a second
	secs=${BENCH_SECONDS:-5}; warm=1; warm_pool=3; settle=0.5
fi
conns=32
procs=4
. "$here/lib.sh"
hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
tab=$(printf '\t')
t_start=$(date +%s)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ihttpd-tls.XXXXXX") || exit 1
chmod 755 "$tmp"	# the servers' workers run as an unprivileged user
pid=""
cleanup() {
	[ -n "$pid" ] && stop
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
bench_docroot "$@"
if [ ! -x "$IHTTPD" ]; then
	make -C "$top" >/dev/null || { echo "tls: build failed"; exit 1; }
fi
for t in openssl curl setsid cc; do
	command -v $t >/dev/null || { echo "tls: skipped, no $t (run setup.sh as root)"; exit 0; }
done
spawn=$out/spawn
tlsload=$out/tlsload
cc -O2 -o "$spawn" "$here/spawn.c" || exit 1
cc -O2 -Wall -Wextra -o "$tlsload" "$here/tlsload.c" -lssl -lcrypto || {
	echo "tls: cannot build tlsload (libssl-dev missing?)"; exit 1; }
mime=/etc/mime.types
[ -r "$mime" ] || mime=$top/conf/mime.types
asroot=0
[ "$(id -u)" = 0 ] && asroot=1

cert=$tmp/cert.pem
key=$tmp/key.pem
(umask 077 && openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost \
    -days 2 -keyout "$key" -out "$cert" >"$tmp/openssl.log" 2>&1) || {
	echo "tls: openssl req failed: $(head -c 300 "$tmp/openssl.log")"; exit 1; }
chmod 600 "$key"
chmod 644 "$cert"
# ihttpd's ticket keys: one datadir per way of running, owned by the
# user whose processes write datadir/tls/tickets.
for d in cg inetd standalone; do
	mkdir -m 700 "$tmp/data-$d" || exit 1
done
[ $asroot = 1 ] && chown nobody "$tmp/data-standalone"

: >"$tmp/rows"; : >"$tmp/skipped"; : >"$tmp/commands"
: >"$tmp/labels"; : >"$tmp/unavailable"; : >"$tmp/notes"
: >"$tmp/instr"
load0=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- 1. instructions per connection -----------------------------------

# The Ir total of a callgrind out file.
instr_of() {
	awk '/^totals:/ { t = $2 } /^summary:/ && t == "" { s = $2 }
	END { print (t != "" ? t : s != "" ? s : "-") }' "$1"
}

cg_ok=0; cg_tried=0
valgrind=$(command -v valgrind)
if [ -z "$valgrind" ]; then
	echo "callgrind: no valgrind (run setup.sh as root)" >>"$tmp/skipped"
elif ! command -v python3 >/dev/null; then
	echo "callgrind: no python3 for tests/fixtures/tls/spair.py" >>"$tmp/skipped"
else
	cg_tried=1
	cgd=$tmp/cg
	mkdir "$cgd" "$cgd/plain" || exit 1
	vg="$valgrind -q --tool=callgrind"
	# $vg is split into words on purpose.
	# shellcheck disable=SC2086
	timeout -k 5 180 python3 "$top/tests/fixtures/tls/spair.py" 2 "$cert" \
	    /1k.txt env -i $vg --callgrind-out-file="$cgd/cg.%p" "$IHTTPD" \
	    --docroot "$docroot" --mimetypes "$mime" --tls on \
	    --tls_cert "$cert" --tls_key "$key" --datadir "$tmp/data-cg" \
	    --access_log off --log_level 1 >"$cgd/spair.out" 2>"$cgd/spair.err"
	cgrc=$?
	# shellcheck disable=SC2086
	printf 'GET /1k.txt HTTP/1.0\r\n\r\n' | timeout -k 5 60 env -i $vg \
	    --callgrind-out-file="$cgd/plain/cg.%p" "$IHTTPD" \
	    --docroot "$docroot" --mimetypes "$mime" --access_log off \
	    --log_level 1 >"$cgd/plain.out" 2>"$cgd/plain.err"
	# the older file is the first run's: the full handshake
	# shellcheck disable=SC2012,SC2046
	set -- $(ls -tr "$cgd"/cg.* 2>/dev/null)
	s1=$(sed -n 's/^C 1 \([^ ]*\) reused=\([01]\) \([^ ]*\) .*/\1 \2 \3/p' "$cgd/spair.out")
	s2=$(sed -n 's/^C 2 \([^ ]*\) reused=\([01]\) \([^ ]*\) .*/\1 \2 \3/p' "$cgd/spair.out")
	plain=""
	for f in "$cgd"/plain/cg.*; do [ -f "$f" ] && plain=$f; done
	pstat=$(head -n 1 "$cgd/plain.out" | tr -d '\r' | cut -d' ' -f2)
	if [ $cgrc -ne 0 ] || [ $# -ne 2 ]; then
		echo "callgrind: spair.py exit $cgrc, $# callgrind files; $(grep -v -e '^--[0-9]*--' -e 'expires soon' "$cgd/spair.err" "$cgd/spair.out" | head -c 400 | tr '\n' ' ')" >>"$tmp/skipped"
	else
		full=$(instr_of "$1"); res=$(instr_of "$2")
		pl=-
		[ -n "$plain" ] && [ "$pstat" = 200 ] && pl=$(instr_of "$plain")
		[ "$pstat" = 200 ] || echo "callgrind: plain GET answered '${pstat:-nothing}'" >>"$tmp/skipped"
		echo "$full $res $pl $s1 $s2" >"$tmp/instr"
		case "$s1 $s2" in
		"200 0 "*" 200 1 "*) cg_ok=1 ;;
		*) echo "callgrind: runs were '$s1' and '$s2' (want 200 reused=0, 200 reused=1)" >>"$tmp/skipped" ;;
		esac
	fi
	grep -q 'unhandled amd64-linux syscall: 437' "$cgd/spair.err" &&
	    echo "valgrind $($valgrind --version | sed 's/^valgrind-//') does not know openat2 (syscall 437): under callgrind ihttpd opens files through its fallback path" >>"$tmp/notes"
fi

# ---- 2. load ------------------------------------------------------------

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

# wrk output -> "req/s requests errors" (errors: socket errors + non-2xx)
parse_wrk() {
	awk '/requests in/ { n = $1 }
	/Socket errors/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 }
	/Non-2xx/ { e += $NF }
	/^Requests\/sec/ { r = sprintf("%.0f", $2) }
	END { printf "%s %s %d\n", r == "" ? "-" : r, n == "" ? 0 : n, e }' "$1"
}

# status_of PATH [HEADER]: "CODE BYTES" of one GET over https on $port.
status_of() {
	curl -sk --noproxy '*' --max-time 2 -o /dev/null ${2:+-H "$2"} \
	    -w '%{http_code} %{size_download}' "https://127.0.0.1:$port$1"
}

valid_port() {
	case $1 in ''|*[!0-9]*) return 1 ;; esac
	[ "$1" -ge 1 ] && [ "$1" -le 65535 ]
}

# start ID CMD...: runs CMD in its own session (pid in $pid).  With
# $port empty the port is read from ihttpd's "listening on" line.  Waits
# until https /1k.txt answers 200 with 1024 bytes, with and without
# keep-alive.
start() {
	id=$1; shift
	$cleanenv setsid "$@" >"$tmp/$id.out" 2>"$tmp/$id.err" </dev/null &
	pid=$!
	i=0; got="no answer"
	while [ $i -lt 50 ]; do
		if [ -z "$port" ]; then
			p=$(sed -n 's/^ihttpd: listening on 127\.0\.0\.1:\([0-9][0-9]*\).*$/\1/p' \
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
		[ "$c" = "200 1024" ] && return 0
		got="close: $c"
	fi
	echo "$id: not serving as expected on https://127.0.0.1:${port:-?} (curl: $got); $(grep -v 'expires soon' "$tmp/$id.err" | head -c 300 | tr '\n' ' ')" >>"$tmp/skipped"
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

# measure ID LOAD (full, resumed or ka): one run against $port; appends
# "ID LOAD REQ/S CPU_US REUSED REQUESTS ERRORS PROCS" to rows.
measure() {
	# shellcheck disable=SC2046
	set -- "$1" "$2" $(cpu_ticks "$pid")
	t0=$3
	case $2 in
	ka)
		timeout -k 5 $((secs + 30)) wrk -t2 -c$conns -d"${secs}s" \
		    "https://127.0.0.1:$port/1k.txt" >"$tmp/load.txt" 2>&1
		r=$(parse_wrk "$tmp/load.txt"); reused=-
		;;
	*)
		res=0; [ "$2" = resumed ] && res=1
		timeout -k 5 $((secs + 30)) "$tlsload" 127.0.0.1 "$port" /1k.txt \
		    "$secs" $procs $res >"$tmp/load.txt" 2>"$tmp/load.err"
		r=$(awk '$1 == "requests" { printf "%s %d %d\n",
		    ($8 > 0 ? sprintf("%.0f", $2 / $8) : "-"), $2, $4 }' "$tmp/load.txt")
		reused=$(awk '$1 == "requests" { print ($2 > 0 ? sprintf("%.2f", $6 / $2) : "-") }' \
		    "$tmp/load.txt")
		[ -s "$tmp/load.err" ] && sed "s/^/$1 $2: /" "$tmp/load.err" >>"$tmp/notes"
		;;
	esac
	[ -n "$r" ] || r="- 0 0"
	sleep "$settle"	# let the server reap processes that are exiting
	# shellcheck disable=SC2046,SC2086
	set -- "$1" "$2" $(cpu_ticks "$pid") $r
	# $3 ticks $4 procs $5 rps $6 requests $7 errors
	cpu=$(awk -v d=$(( $3 - t0 )) -v hz="$hz" -v n="$6" \
	    'BEGIN { print (n > 0 ? sprintf("%.1f", d * 1000000 / hz / n) : "-") }')
	echo "$1 $2 $5 $cpu ${reused:--} $6 $7 $4" >>"$tmp/rows"
}

# bench ID "SERVER<TAB>HOW" WARMUP CMD...: an argument PORT becomes a
# free port; FILE.in becomes FILE, written with @PORT@ replaced.  Without
# PORT in CMD (ihttpd standalone, port 0) the port is read from stderr.
bench() {
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
	    -e "s|$top/||g" -e "s| $port | PORT |" >>"$tmp/commands"
	if ! start "$id" "$@"; then
		echo "$id failed to start" >>"$tmp/unavailable"
		return
	fi
	[ "$w" -gt 0 ] && timeout -k 5 30 wrk -t2 -c$conns -d"${w}s" \
	    "https://127.0.0.1:$port/1k.txt" >/dev/null 2>&1
	for m in full resumed ka; do measure "$id" "$m"; done
	stop
	# what the server said beyond its start (the 2-day certificate's
	# "expires soon" warning aside)
	n=$(grep -v -c -e 'expires soon' -e '^ihttpd: listening on' "$tmp/$id.err")
	[ "$n" -gt 0 ] && echo "$id: $n other stderr lines, e.g. $(grep -v -e 'expires soon' -e '^ihttpd: listening on' "$tmp/$id.err" | head -n 3 | tr '\n' ' ')" >>"$tmp/notes"
	n=$(grep -c 'expires soon' "$tmp/$id.err")
	[ "$n" -gt 1 ] && echo "$id: the certificate's \"expires soon\" warning was logged $n times (once per full handshake in inetd mode)" >>"$tmp/notes"
	return 0
}

unavailable() {
	printf '%s\t%s\n' "$1" "$2" >>"$tmp/labels"
	echo "$1 $3" >>"$tmp/unavailable"
	echo "$1: $3" >>"$tmp/skipped"
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
	log_not_found off;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 100000;
	server {
		listen 127.0.0.1:@PORT@ ssl;
		ssl_certificate $cert;
		ssl_certificate_key $key;
		ssl_protocols TLSv1.2 TLSv1.3;
		root $docroot;
	}
}
EOF
cat >"$tmp/lighttpd.conf.in" <<EOF
server.modules += ("mod_openssl")
server.document-root = "$docroot"
server.bind = "127.0.0.1"
server.port = @PORT@
server.errorlog = "$tmp/lighttpd-error.log"
server.max-keep-alive-requests = 100000
ssl.engine = "enable"
ssl.pemfile = "$cert"
ssl.privkey = "$key"
mimetype.assign = (".html" => "text/html", ".txt" => "text/plain")
EOF
if [ $asroot = 1 ]; then
	# lighttpd opens its error log after dropping to the user
	echo 'server.username = "nobody"' >>"$tmp/lighttpd.conf.in"
	: >"$tmp/lighttpd-error.log"
	chown nobody "$tmp/lighttpd-error.log"
fi

have_wrk=1
command -v wrk >/dev/null || { have_wrk=0; echo "load rows: no wrk (run setup.sh as root)" >>"$tmp/skipped"; }
user=""
[ $asroot = 1 ] && user="--user nobody"
if [ $have_wrk = 0 ]; then
	:
elif command -v tcpserver >/dev/null; then
	bench ihttpd-inetd "ihttpd${tab}inetd mode under tcpserver" "$warm" \
	    tcpserver -c 64 -H -R -l 0 127.0.0.1 PORT "$IHTTPD" \
	    --docroot "$docroot" --mimetypes "$mime" --access_log off \
	    --log_level 1 --tls on --tls_cert "$cert" --tls_key "$key" \
	    --datadir "$tmp/data-inetd"
else
	unavailable ihttpd-inetd "ihttpd${tab}inetd mode under tcpserver" "no tcpserver (ucspi-tcp)"
fi
if [ $have_wrk = 1 ]; then
	# shellcheck disable=SC2086
	bench ihttpd-prefork "ihttpd${tab}standalone prefork" "$warm_pool" \
	    "$IHTTPD" --standalone on --type prefork --port 127.0.0.1:0/tls \
	    --docroot "$docroot" --mimetypes "$mime" --access_log off \
	    --log_level 1 $user --tls_cert "$cert" --tls_key "$key" \
	    --datadir "$tmp/data-standalone"
	if command -v nginx >/dev/null; then
		bench nginx-1w "nginx${tab}1 worker" "$warm" nginx \
		    -e "$tmp/nginx-error.log" -p "$tmp/" -c "$tmp/nginx.conf.in"
	else unavailable nginx-1w "nginx${tab}1 worker" "not installed"; fi
	if command -v lighttpd >/dev/null; then
		bench lighttpd "lighttpd${tab}mod_openssl, one process" "$warm" \
		    lighttpd -D -f "$tmp/lighttpd.conf.in"
	else unavailable lighttpd "lighttpd${tab}mod_openssl, one process" "not installed"; fi
fi
load1=$(cut -d' ' -f1-3 /proc/loadavg)
t_end=$(date +%s)
proto=$(cut -d' ' -f6 "$tmp/instr" 2>/dev/null)

title() {
	case $1 in
	full) echo "New connection per request, full handshake each time (tlsload, $procs processes)" ;;
	resumed) echo "New connection per request, resuming the previous session (tlsload, $procs processes)" ;;
	ka) echo "Keep-alive (wrk -t2 -c$conns)" ;;
	esac
}

{
	echo "## tls: GET /1k.txt over TLS on 127.0.0.1, ${secs} s per load row"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc 2>/dev/null || echo ?) CPUs, $(openssl version | cut -d' ' -f1-2), load $load0 at the start, $load1 at the end; $((t_end - t_start)) s in all"
	echo
	echo "### Instructions per connection: ihttpd in inetd mode over a socketpair (callgrind)"
	echo
	if [ -s "$tmp/instr" ]; then
		read -r full res pl _ _ _ _ _ _ <"$tmp/instr"
		echo "| connection | instructions | ×full |"
		echo "|---|---:|---:|"
		awk -v f="$full" -v r="$res" -v p="$pl" -v pr="${proto:-TLS}" '
		function x(a) { return (a ~ /^[0-9]+$/ && f > 0) ? sprintf("%.3f", a / f) : "-" }
		BEGIN {
			printf "| full handshake (%s) + GET | %s | 1.000 |\n", pr, f
			printf "| resumed (ticket from the run before, a fresh process) + GET | %s | %s (goal < 0.33) |\n", r, x(r)
			printf "| plain, no TLS: GET over a pipe | %s | %s |\n", p, x(p) }'
		[ $cg_ok = 1 ] || echo "(the runs did not go as expected: see skipped below)"
	else
		echo "not measured: see skipped below"
	fi
	for m in full resumed ka; do
		echo
		echo "### $(title $m)"
		echo
		echo "| server | how | req/s | ×nginx | CPU µs/req | CPU ×nginx | resumed | procs | requests | errors |"
		echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
		awk -F'\t' -v m="$m" '
		FILENAME ~ /labels$/ { lab[$1] = $2 " | " $3; ord[++n] = $1; next }
		FILENAME ~ /unavailable$/ { split($0, u, " "); why[u[1]] = substr($0, length(u[1]) + 2); next }
		{ split($0, v, " "); if (v[2] != m) next; row[v[1]] = $0
		  if (v[1] == "nginx-1w") { rn = v[3]; cn = v[4] } }
		function ratio(a, b) { return (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) ? sprintf("%.2f", a / b) : "-" }
		END { for (i = 1; i <= n; i++) { id = ord[i]
			if (!(id in row)) {
				printf "| %s | unavailable: %s | - | - | - | - | - | - | - | - |\n", lab[id], why[id]
				continue }
			split(row[id], v, " ")
			printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			    lab[id], v[3], ratio(v[3], rn), v[4], ratio(v[4], cn),
			    v[5], v[8], v[6], v[7] } }' \
		    "$tmp/labels" "$tmp/unavailable" "$tmp/rows"
	done
	echo
	echo "### Resumption: resumed over full, per server"
	echo
	echo "| server | req/s resumed/full | CPU µs/req resumed/full |"
	echo "|---|---:|---:|"
	awk -F'\t' '
	FILENAME ~ /labels$/ { lab[$1] = $2; ord[++n] = $1; next }
	{ split($0, v, " "); r[v[1] " " v[2]] = v[3]; c[v[1] " " v[2]] = v[4] }
	function ratio(a, b) { return (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) ? sprintf("%.2f", a / b) : "-" }
	END { for (i = 1; i <= n; i++) { id = ord[i]
		if (!((id " full") in r)) continue
		printf "| %s (%s) | %s | %s |\n", lab[id], id, ratio(r[id " resumed"], r[id " full"]),
		    ratio(c[id " resumed"], c[id " full"]) } }' "$tmp/labels" "$tmp/rows"
	echo
	echo "×nginx: req/s over nginx's for the same load (above 1: faster); CPU ×nginx: CPU per"
	echo "request over nginx's (above 1: costs more).  CPU µs/req: user+sys of the whole server"
	echo "(tcpserver and its per-connection ihttpd processes; a master and its workers, reaped"
	echo "ones included) over the row, per request; ${hz} Hz ticks.  resumed: the fraction of"
	echo "requests whose handshake resumed a session (tlsload's SSL_session_reused; each client"
	echo "process's first connection is always full).  procs: server processes alive after the row."
	echo "errors: tlsload's failed connections (connect, handshake, read, or not a full 200), or"
	echo "wrk's socket errors plus non-2xx responses.  The clients share the $(nproc 2>/dev/null || echo ?) CPUs with the"
	echo "servers; compare rows of one run.  Certificate: RSA 2048, the same file for every server;"
	echo "client and server negotiate freely (TLS 1.3 and X25519 with these builds)."
	if grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp 2>/dev/null; then
		echo "The kernel offers kTLS: ihttpd enables it (SSL_OP_ENABLE_KTLS), nginx and lighttpd do not by default."
	else
		echo "The kernel offers no kTLS (no tls in tcp_available_ulp): every server encrypts in user space."
	fi
	echo "Keep-alive: ihttpd keeps its defaults (keepalive_requests 100, then wrk reconnects with a"
	echo "new handshake); nginx and lighttpd allow 100000 requests per connection.  ihttpd prefork:"
	echo "default pool keys, warm-up ${warm_pool} s, others ${warm} s, wrk -c$conns over https."
	echo "Instructions: callgrind's Ir total of the whole process, exec to exit (valgrind's start-up"
	echo "excluded); the TLS runs use tests/fixtures/tls/spair.py (Python's ssl as the client)."
	if [ -s "$tmp/notes" ]; then
		echo
		sed 's/^/note: /' "$tmp/notes"
	fi
	if [ -s "$tmp/skipped" ]; then
		echo
		sed 's/^/skipped: /' "$tmp/skipped"
	fi
	echo
	echo "Commands (D = the bench docroot, T = a temporary folder; each under env -i PATH=... setsid):"
	echo
	# shellcheck disable=SC2016
	sed 's/^\([^:]*\): \(.*\)$/- \1: `\2`/' "$tmp/commands"
	echo "- callgrind: \`python3 tests/fixtures/tls/spair.py 2 T/cert.pem /1k.txt env -i valgrind -q --tool=callgrind --callgrind-out-file=T/cg/cg.%p build/ihttpd --docroot D --mimetypes $mime --tls on --tls_cert T/cert.pem --tls_key T/key.pem --datadir T/data-cg --access_log off --log_level 1\`"
	# shellcheck disable=SC2016
	printf -- '- plain: `printf '"'"'GET /1k.txt HTTP/1.0\\r\\n\\r\\n'"'"' | env -i valgrind -q --tool=callgrind ... build/ihttpd --docroot D --mimetypes %s --access_log off --log_level 1`\n' "$mime"
	echo "- full / resumed: \`build/bench/tlsload 127.0.0.1 PORT /1k.txt $secs $procs 0|1\`; keep-alive: \`wrk -t2 -c$conns -d${secs}s https://127.0.0.1:PORT/1k.txt\`"
} >"$out/tls.md"
cat "$out/tls.md"
# Worked when the callgrind runs did (or valgrind is missing) and every
# ihttpd row ran its three loads with answers.
[ $cg_tried = 1 ] && [ $cg_ok = 0 ] && exit 1
[ $have_wrk = 0 ] && exit 0
[ "$(awk '$1 ~ /^ihttpd-(inetd|prefork)$/ && $6 > 0' "$tmp/rows" | wc -l)" -eq 6 ]
