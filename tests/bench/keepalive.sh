#!/bin/sh
# Cost of one more request on a kept-alive connection: ihttpd in pipe mode
# is given 1, then 100 pipelined `GET /1k.txt` on one connection, and the
# difference over 99 is what each request costs once the process, the
# config and the file are there: callgrind instructions (user space) and
# strace -f -c system calls.  The access log is on (to stderr, which is
# /dev/null here: the write is counted all the same).  Every response is
# checked (100 answers of 200 with the 1024-byte body).
#
# Pipelined requests share their reads, so the syscalls here are those of
# the answer (pread, writev and the log write with the open-file cache);
# a client that waits for each answer adds the poll and the read that
# wait for its next request.
#
#   sh tests/bench/keepalive.sh [DOCROOT]	(made with setup.sh when not given)
# Writes build/bench/keepalive.md and keepalive.rows (for the summary).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
IHTTPD=${IHTTPD:-$top/build/ihttpd}
out=$top/build/bench
. "$here/lib.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ihttpd-ka.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
bench_docroot "$@"
[ -x "$IHTTPD" ] || { echo "keepalive: no $IHTTPD (run make)"; exit 1; }
cd "$top" || exit 1
for t in valgrind strace; do
	command -v $t >/dev/null ||
	    { echo "keepalive: skipped, no $t (run setup.sh as root)"; exit 0; }
done
dd=$(bench_datadir)
bench_demo_conf "$tmp/demo.conf"
for n in 1 100; do
	i=0
	while [ $i -lt $n ]; do
		printf 'GET /1k.txt HTTP/1.1\r\nHost: localhost\r\nUser-Agent: bench\r\n\r\n'
		i=$((i + 1))
	done >"$tmp/req$n"
done
sleep 2.1	# a config changed in the last 2 s is not cached (cfgcache.c)

: >"$tmp/rows"
: >"$tmp/skipped"
: >"$tmp/commands"
# row NAME ARG...: the per-request instructions and syscalls of ihttpd ARG...
row() {
	name=$1; shift
	# shellcheck disable=SC2086
	$cleanenv "$IHTTPD" "$@" <"$tmp/req100" >"$tmp/out" 2>/dev/null
	got=$(grep -c '^HTTP/1.1 200 OK' "$tmp/out")
	if [ "$got" != 100 ]; then
		echo "$name: $got of 100 answers were 200" >>"$tmp/skipped"
		return 1
	fi
	for n in 1 100; do
		$cleanenv valgrind --tool=callgrind --callgrind-out-file="$out/$name-ka$n.callgrind.out" \
		    --log-file="$tmp/cg.log" "$IHTTPD" "$@" <"$tmp/req$n" >/dev/null 2>&1
		eval "ir$n=\$(awk '/Collected :/ { print \$NF }' \"\$tmp/cg.log\")"
		$cleanenv strace -f -c -o "$tmp/st.txt" "$IHTTPD" "$@" <"$tmp/req$n" >/dev/null 2>&1
		eval "sc$n=\$(awk '\$NF == \"total\" { print \$4 }' \"\$tmp/st.txt\")"
	done
	# shellcheck disable=SC2154
	echo "$name $(( (ir100 - ir1) / 99 )) $(awk -v a="$sc1" -v b="$sc100" 'BEGIN { printf "%.2f", (b - a) / 99 }') $ir1 $ir100 $sc1 $sc100" >>"$tmp/rows"
	cp "$tmp/st.txt" "$tmp/$name.strace"
	echo "$name: ihttpd $*" | sed -e "s|$docroot|D|g" -e "s|$tmp/|T/|g" >>"$tmp/commands"
}

# shellcheck disable=SC2086
row ihttpd-docroot --docroot "$docroot" $dd
# shellcheck disable=SC2086
row ihttpd-demo -c "$tmp/demo.conf" $dd

{
	echo "## keepalive: one more GET /1k.txt on a kept-alive connection (pipe mode, pipelined)"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r); access log on"
	echo
	echo "| config | instructions / request | syscalls / request | Ir, 1 request | Ir, 100 | syscalls, 1 | syscalls, 100 |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	awk '{ printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7 }' "$tmp/rows"
	echo
	echo "Per request: (100 requests - 1 request) / 99 (keepalive_requests is 100), callgrind Ir and strace -f -c totals."
	for f in "$tmp"/*.strace; do
		[ -f "$f" ] || continue
		echo
		echo "$(basename "$f" .strace), syscalls of the 100-request run:"
		echo
		echo '```'
		awk 'NR > 2 && $NF != "total" && $1 !~ /^-/ { print "  " $(NF - (NF == 6 ? 2 : 1)) " " $NF }' "$f" | sort -rn | head -8
		echo '```'
	done
	if [ -s "$tmp/skipped" ]; then
		echo
		sed 's/^/skipped: /' "$tmp/skipped"
	fi
	echo
	echo "Commands (D = the bench docroot, T = a temporary folder; requests on stdin, under env -i):"
	echo
	sed 's/^\([^:]*\): \(.*\)$/- \1: `\2`/' "$tmp/commands"
	echo
	echo "T/demo.conf: conf/ihttpd.conf with docroot D.  Profiles: build/bench/*-ka100.callgrind.out."
} >"$out/keepalive.md"
cp "$tmp/rows" "$out/keepalive.rows"
cat "$out/keepalive.md"
grep -q '^ihttpd-docroot ' "$tmp/rows"
