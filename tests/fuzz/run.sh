#!/bin/sh
# make fuzz's runner: tests/fuzz/run.sh BUILD SECONDS NAME...  Runs each
# harness BUILD/fuzz_NAME in turn for SECONDS on BUILD/corpus/NAME, a fresh
# copy of the seeds in tests/fuzz/NAME (libFuzzer adds what it finds there),
# then prints one "fuzz_NAME: Done N runs in S s" line each.  A crash, leak,
# sanitizer report, input slower than 5 s or memory past 2 GiB stops it,
# non-zero, saying where the input was saved and how to reproduce it.
set -u
build=$1 secs=$2
shift 2
dir=$(dirname "$0")
summary=""
for n in "$@"; do
	bin=$build/fuzz_$n corpus=$build/corpus/$n log=$build/fuzz_$n.log
	rm -rf "$corpus"
	mkdir -p "$corpus" "$build/crashes"
	cp "$dir/$n"/* "$corpus"/
	echo "fuzz_$n: ${secs} s on $corpus (log $log)"
	if ! "$bin" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -report_slow_units=1 \
		-artifact_prefix="$build/crashes/$n-" -print_final_stats=1 "$corpus" >"$log" 2>&1; then
		tail -n 40 "$log"
		art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
		echo "fuzz_$n: FAILED (log $log); the input is ${art:-not saved}"
		[ -n "$art" ] && echo "reproduce: $bin $art"
		exit 1
	fi
	slow=$(grep -c 'Slowest unit' "$log")
	[ "$slow" -eq 0 ] || echo "fuzz_$n: $(grep 'Slowest unit' "$log" | tail -n 1)"
	runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 runs in \2 s/p' "$log" | tail -n 1)
	summary="$summary
fuzz_$n: Done ${runs:-? runs (no Done line in $log)}"
done
echo "$summary" | sed 1d
