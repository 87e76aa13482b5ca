#!/bin/sh
# Build the libFuzzer drivers (tests/fuzz/fuzz_NAME.c) with clang against
# every object of the server but main.o, then run each for FUZZ_SECONDS
# (default 60) on build-fuzz/corpus/NAME, seeded from tests/fuzz/seeds/NAME.
# Crash inputs land in build-fuzz/crashes/.  Ends with "N passed, N failed"
# (one per driver) and exits non-zero when any driver failed.
#
# Each driver's line gives its executions and executions per second; the
# total follows.
#
# Knobs: FUZZ_SECONDS, FUZZ_RUNS (stop after this many executions instead,
# per driver; FUZZ_SECONDS still bounds the time when set), FUZZ_JOBS
# (parallel fuzzing processes per driver, default 1), FUZZ_CC (default
# clang), FUZZ_ONLY="request path" (a subset of drivers), FUZZ_FLAGS
# (extra libFuzzer flags), FUZZ_LIBS (default: the Makefile's LIBS).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$root/build-fuzz
secs=${FUZZ_SECONDS:-60}
cc=${FUZZ_CC:-clang}
san="-fsanitize=address,undefined -fno-sanitize-recover=all"
cflags="-g -O1 -fno-omit-frame-pointer $san -D_GNU_SOURCE -I$root/src -I$out/gen \
-Wall -Wextra -Wno-unused-parameter"

command -v "$cc" >/dev/null 2>&1 || {
	echo "fuzz: $cc not found (apt-get install clang libclang-rt-14-dev)"
	echo "0 passed, 1 failed"
	exit 1
}

mkdir -p "$out/obj" "$out/corpus" "$out/crashes"
cd "$root" || exit 1

# The libraries the server links with, as the Makefile computes them.
libs=${FUZZ_LIBS-$(printf 'print-libs:\n\t@echo $(LIBS)\n' |
    make -s --no-print-directory -f Makefile -f - print-libs 2>/dev/null)}

# Objects: src/*.c and handlers/*.c but src/main.c, rebuilt when older
# than their source or any header.
# mime.c's built-in table is generated (Makefile, src/mimegen.awk).
make -s --no-print-directory BUILD="$out" "$out/gen/mime_builtin.h" || exit 1
objs=
build_failed=0
newest_h=$(ls -t src/*.h | head -1)
for src in src/*.c handlers/*.c; do
	[ "$src" = src/main.c ] && continue
	obj=$out/obj/$(echo "$src" | tr / _ | sed 's/\.c$/.o/')
	objs="$objs $obj"
	if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] ||
	    [ "$newest_h" -nt "$obj" ]; then
		echo "  CC      $src"
		$cc $cflags -fsanitize=fuzzer-no-link -c -o "$obj" "$src" ||
		    build_failed=1
	fi
done

pass=0
fail=0
total=0
for drv in "$here"/fuzz_*.c; do
	name=$(basename "$drv" .c)
	short=${name#fuzz_}
	if [ -n "${FUZZ_ONLY:-}" ]; then
		case " $FUZZ_ONLY " in *" $short "*) ;; *) continue ;; esac
	fi
	bin=$out/$name
	log=$out/$name.log
	if [ "$build_failed" -ne 0 ]; then
		echo "$name: FAIL (objects did not build)"
		fail=$((fail + 1))
		continue
	fi
	echo "  LD      $name"
	# shellcheck disable=SC2086
	if ! $cc $cflags -fsanitize=fuzzer -o "$bin" "$drv" $objs $libs; then
		echo "$name: FAIL (did not build)"
		fail=$((fail + 1))
		continue
	fi
	corpus=$out/corpus/$short
	mkdir -p "$corpus"
	if [ -d "$here/seeds/$short" ]; then
		cp "$here/seeds/$short"/* "$corpus"/ 2>/dev/null
	fi
	dict=
	[ -f "$here/$short.dict" ] && dict="-dict=$here/$short.dict"
	limit="-max_total_time=$secs"
	if [ -n "${FUZZ_RUNS:-}" ]; then
		limit="-runs=$FUZZ_RUNS"
		[ -n "${FUZZ_SECONDS:-}" ] && limit="$limit -max_total_time=$secs"
		echo "  FUZZ    $name for $FUZZ_RUNS runs"
	else
		echo "  FUZZ    $name for ${secs}s"
	fi
	jobs=
	[ "${FUZZ_JOBS:-1}" -gt 1 ] && jobs="-jobs=$FUZZ_JOBS -workers=$FUZZ_JOBS"
	started=$(date +%s)
	# Config errors go to stderr by design: libFuzzer keeps its own
	# output and sanitizer reports on a duplicate of it.
	# shellcheck disable=SC2086
	"$bin" $limit $jobs -timeout=10 -rss_limit_mb=2048 \
	    -max_len=4096 -close_fd_mask=3 -print_final_stats=1 \
	    -artifact_prefix="$out/crashes/$short-" $dict ${FUZZ_FLAGS:-} \
	    "$corpus" >"$log" 2>&1
	rc=$?
	if [ -n "$jobs" ]; then
		# Workers write fuzz-N.log; their stats add up.
		cat "$root"/fuzz-[0-9]*.log >>"$log" 2>/dev/null
		rm -f "$root"/fuzz-[0-9]*.log
		grep -q 'ERROR\|runtime error\|SUMMARY' "$log" && rc=1
	fi
	if [ "$rc" -eq 0 ]; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
		    awk '{ n += $1 } END { print n + 0 }')
		secs_used=$(( $(date +%s) - started ))
		[ "$secs_used" -gt 0 ] || secs_used=1
		echo "$name: ok ($runs runs, $((runs / secs_used)) per second," \
		    "$(ls "$corpus" | wc -l) inputs in the corpus)"
		total=$((total + runs))
		pass=$((pass + 1))
	else
		echo "$name: FAIL (exit $rc), log $log"
		grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" |
		    head -10 | sed 's/^/    /'
		fail=$((fail + 1))
	fi
done
echo "fuzz: $total executions in all"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
