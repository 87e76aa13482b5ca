#!/bin/sh
# The one table `make bench` prints first: each target of the performance
# issue as a ratio (or a count) from the rows the other scripts left in
# build/bench/*.rows in this run, with the goal beside it.  A row whose
# inputs are missing (a peer not installed, a script that failed) says so.
# Numbers are reported, never asserted: the exit status is 0.
#
#   sh tests/bench/summary.sh	(after percall, keepalive, inetd, standalone)
# Writes build/bench/summary.md.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=$top/build/bench
for f in percall keepalive inetd standalone; do
	[ -f "$out/$f.rows" ] || : >"$out/$f.rows.missing"
done

# field FILE KEY COLUMN [MODE]: column COLUMN of the row whose first field is
# KEY (and whose second is MODE, when given), or "-".
field() {
	awk -v k="$2" -v c="$3" -v m="${4:-}" '
	$1 == k && (m == "" || $2 == m) { v = $c; found = 1 }
	END { print found && v != "" ? v : "-" }' "$out/$1.rows" 2>/dev/null || echo -
}

# row LABEL A B GOAL KIND: ratio A/B (KIND le: met when <= GOAL; ge: >=;
# abs: A itself against GOAL, <=).
: >"$out/summary.tmp"
row() {
	awk -v l="$1" -v a="$2" -v b="$3" -v g="$4" -v k="$5" -v d="$6" 'BEGIN {
		num = "^[0-9]+([.][0-9]+)?$"
		if (a !~ num || (k != "abs" && b !~ num) || (k != "abs" && b + 0 == 0)) {
			printf "| - | %s | - | %s | %s (missing) |\n", g, l, d; exit }
		r = k == "abs" ? a + 0 : a / b
		met = (k == "ge") ? (r >= g) : (r <= g)
		printf "| %s | %s %s | %s | %s | %s |\n", (k == "abs" ? (r == int(r) ? r : sprintf("%.2f", r)) : sprintf("%.2f", r)),
		    (k == "ge" ? ">=" : "<="), g, met ? "yes" : "**no**", l, d }' >>"$out/summary.tmp"
}

lim=$(field percall limit-static 5)
doc=$(field percall ihttpd-docroot 5)
demo=$(field percall ihttpd-demo 5)
large=$(field percall ihttpd-large 5)
row "pipe-mode GET, \`--docroot\` only, access log on: instructions / limit-static" "$doc" "$lim" 2 le "$doc / $lim"
row "pipe-mode GET, demo config, access log on: instructions / limit-static" "$demo" "$lim" 2.5 le "$demo / $lim"
row "pipe-mode GET, 500 objects + 2,000-line mime.types: instructions / demo's" "$large" "$demo" 1.2 le "$large / $demo"
for p in micro_httpd busybox-httpd lighttpd-1; do
	v=$(field percall $p 5)
	row "pipe-mode GET, $p: its instructions / ihttpd demo's (above 1: it costs more)" "$v" "$demo" 1 ge "$v / $demo"
done
ka=$(field keepalive ihttpd-docroot 2)
kas=$(field keepalive ihttpd-docroot 3)
kd=$(field keepalive ihttpd-demo 2)
kds=$(field keepalive ihttpd-demo 3)
row "keep-alive GET /1k.txt, \`--docroot\`, access log on: instructions per request" "$ka" - 5000 abs "per request"
row "keep-alive GET /1k.txt, \`--docroot\`, access log on: syscalls per request" "$kas" - 4 abs "pipelined"
row "keep-alive GET /1k.txt, demo config: instructions per request" "$kd" - 5000 abs "per request"
row "keep-alive GET /1k.txt, demo config: syscalls per request" "$kds" - 4 abs "pipelined"
ic=$(field inetd ihttpd 3 close)
lc=$(field inetd limit-static 3 close)
row "tcpserver, \`Connection: close\`: req/s / limit-static's" "$ic" "$lc" 0.9 ge "$ic / $lc req/s"
ik=$(field inetd ihttpd 6 ka)
nk=$(field inetd nginx-1w 6 ka)
row "tcpserver keep-alive: server CPU µs/req / standalone nginx's" "$ik" "$nk" 1 le "$ik / $nk µs"
pk=$(field standalone prefork 6 ka)
hk=$(field standalone h2o 6 ka)
row "standalone prefork keep-alive: server CPU µs/req / h2o's" "$pk" "$hk" 1 le "$pk / $hk µs"
pc=$(field standalone prefork 6 close)
ncc=$(field standalone nginx-1w 6 close)
row "standalone prefork, closed connections: server CPU µs/req / nginx's (1 worker)" "$pc" "$ncc" 1.2 le "$pc / $ncc µs"
pr=$(field standalone prefork 3 close)
nr=$(field standalone nginx-1w 3 close)
row "standalone prefork, closed connections: nginx's req/s / ihttpd's" "$nr" "$pr" 1.2 le "$nr / $pr req/s"

{
	echo "## Summary: the performance targets, measured in this run"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "| ratio | goal | met | what | from |"
	echo "|---:|---|---|---|---|"
	cat "$out/summary.tmp"
	echo
	echo "Instructions: callgrind (percall.md, keepalive.md); limit-static is tests/bench/floor.c, the"
	echo "least a static server can do.  req/s and CPU: wrk -t2 on 127.0.0.1 (inetd.md,"
	echo "standalone.md), which move 10-30 % between runs: compare ratios of one run."
} >"$out/summary.md"
rm -f "$out/summary.tmp" "$out"/*.rows.missing
cat "$out/summary.md"
