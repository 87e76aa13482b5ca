#!/bin/sh
# The whole suite: every unit-test binary, then every bats file.  Both speak
# TAP; this counts "ok" and "not ok" lines and ends with the one line
# "N passed, N failed".  Exit status 0 only when nothing failed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
IHTTPD=$(realpath "${IHTTPD:-$here/../build/ihttpd}")
UNIT_DIR=${UNIT_DIR:-$here/../build/tests}
export IHTTPD
pass=0
fail=0
out=$(mktemp)
failed=$(mktemp)
trap 'rm -f "$out" "$failed"' EXIT

count() {	# $1 = label, $2 = exit status of the runner
	p=$(grep -c '^ok ' "$out")
	f=$(grep -c '^not ok ' "$out")
	grep -A 15 '^not ok ' "$out" | sed "s|^|$1: |"
	grep '^not ok ' "$out" | sed "s|^|$1: |" >>"$failed"
	if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "$1: exited $2 without a failing test (crash?)"
		tail -5 "$out" | sed "s|^|$1: |"
		f=1
	fi
	pass=$((pass + p))
	fail=$((fail + f))
	echo "$1: $p passed, $f failed"
}

for t in "$UNIT_DIR"/test_*; do
	[ -x "$t" ] || continue
	"$t" >"$out" 2>&1
	count "unit/$(basename "$t")" $?
done
for b in "$here"/*.bats; do
	[ -f "$b" ] || continue
	bats --tap "$b" >"$out" 2>&1
	count "$(basename "$b")" $?
done
# The failures again, last: a log's tail names them.
if [ -s "$failed" ]; then
	echo "failed:"
	head -40 "$failed"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
