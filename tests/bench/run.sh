#!/bin/sh
# `make bench`: ihttpd against its peers in one run, ratios printed.
#   setup.sh   missing packages (as root) and a docroot in a temporary folder
#   percall.sh one process start + one request over a pipe, per server
#   keepalive.sh one more request on a kept-alive connection (instructions,
#              syscalls)
#   inetd.sh   wrk against each server under tcpserver, plus standalone
#              nginx and lighttpd for reference
#   standalone.sh  wrk against ihttpd's daemon in each personality and
#              serialize method, nginx (1 and 2 workers), lighttpd and h2o
#   tls.sh     TLS: callgrind instructions of a full and a resumed
#              handshake in inetd mode, and load (full handshakes, resumed
#              ones, keep-alive) on ihttpd under tcpserver and prefork,
#              nginx and lighttpd
#   summary.sh the targets as ratios, from the rows the others left
# The summary table is printed first, then the detailed tables.
# BENCH_QUICK=1 is the CI smoke run (20 spawns, 2 s per load row): the same
# tables, only noisier.  The tables go to
# build/bench/{summary,percall,keepalive,inetd,standalone,tls}.md.
# Exit status 0 when the runs worked: numbers are reported, never asserted.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
IHTTPD=${IHTTPD:-$top/build/ihttpd}
export IHTTPD

if [ ! -x "$IHTTPD" ]; then
	make -C "$top" >/dev/null || { echo "bench: build failed"; exit 1; }
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ihttpd-bench.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
chmod 755 "$tmp"	# nginx's worker runs as an unprivileged user

sh "$here/setup.sh" "$tmp/www" || exit 1
mkdir -p "$top/build/bench"
rm -f "$top/build/bench"/*.rows "$top/build/bench"/*.md
rc=0
for b in percall keepalive inetd standalone tls; do
	echo "bench: $b ..." >&2
	sh "$here/$b.sh" "$tmp/www" >"$tmp/$b.log" 2>&1 ||
	    { echo "bench: $b failed (its output: build/bench/$b.log)"; rc=1; }
	cp "$tmp/$b.log" "$top/build/bench/$b.log"
done
sh "$here/summary.sh"
for b in percall keepalive inetd standalone tls; do
	echo
	if [ -f "$top/build/bench/$b.md" ]; then
		cat "$top/build/bench/$b.md"
	else
		tail -20 "$top/build/bench/$b.log"
	fi
done
exit $rc
