#!/bin/sh
# `make profile`: where the instructions of ihttpd go, from callgrind, for
# the next person who wants it faster.  Two runs in pipe mode, under env -i
# as inetd starts it, each run once first (that start keeps the parsed
# config in datadir/cache, as any second start finds it):
#   1. one GET /index.html with the demo config (conf/ihttpd.conf, its own
#      docroot conf/www) - the whole process: start-up, config, request;
#   2. 100 pipelined GET /index.html on one connection - by the hundredth,
#      what a kept-alive request costs dominates.
# For each: the total, the top functions by their own instructions and
# the top by inclusive instructions.  Writes build/bench/profile.md and the
# callgrind files beside it (open them with callgrind_annotate or
# kcachegrind).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
IHTTPD=${IHTTPD:-$top/build/ihttpd}
out=$top/build/bench
N=${PROFILE_TOP:-25}
. "$here/lib.sh"
command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null ||
    { echo "profile: needs valgrind (apt-get install valgrind)"; exit 1; }
[ -x "$IHTTPD" ] || { echo "profile: no $IHTTPD (run make)"; exit 1; }
mkdir -p "$out" || exit 1
cd "$top" || exit 1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ihttpd-profile.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
printf 'GET /index.html HTTP/1.1\r\nHost: localhost\r\nUser-Agent: profile\r\n\r\n' >"$tmp/one"
i=0
while [ $i -lt 100 ]; do cat "$tmp/one"; i=$((i + 1)); done >"$tmp/hundred"

# top FILE [--inclusive=yes]: the first N function lines of the annotation
top() {
	callgrind_annotate "$@" 2>/dev/null |
	    awk -v n="$N" '/file:function/ { go = 1; getline; next }
		go && NF { print; if (++k == n) exit }' |
	    sed -e "s|$top/||g" -e 's| \[[^]]*\]$||'
}

run() {	# NAME REQUESTS: profile one run of the demo config
	$cleanenv "$IHTTPD" -c conf/ihttpd.conf <"$tmp/$2" >/dev/null 2>&1
	$cleanenv valgrind --tool=callgrind --callgrind-out-file="$out/profile-$1.callgrind.out" \
	    --log-file="$tmp/cg.log" "$IHTTPD" -c conf/ihttpd.conf <"$tmp/$2" >/dev/null 2>&1
	ir=$(awk '/Collected :/ { print $NF }' "$tmp/cg.log")
	echo "### $1: ${ir:-?} instructions (build/bench/profile-$1.callgrind.out)"
	echo
	echo "Own instructions, top $N:"
	echo
	echo '```'
	top "$out/profile-$1.callgrind.out"
	echo '```'
	echo
	echo "Inclusive (a function and what it calls), top $N:"
	echo
	echo '```'
	top --inclusive=yes "$out/profile-$1.callgrind.out"
	echo '```'
	echo
}

{
	echo "## profile: callgrind, pipe mode, demo config (conf/ihttpd.conf)"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r)"
	echo
	run get one
	run keepalive-100 hundred
	echo "Per kept-alive request: (the 100-request total - the 1-request total) / 99."
	echo "valgrind does not know openat2, so under it ihttpd opens files by its checked"
	echo "walk (files.c): more instructions per open than openat2, once per file and second"
	echo "with the open-file cache."
} >"$out/profile.md"
cat "$out/profile.md"
