#!/bin/sh
# Runs the unit tests and the command-line tests; ends with "N passed, M failed".
set -u
dir=$(dirname "$0")
pass=0 fail=0
add() { # parse "...: N passed, M failed" from the last line of $1
	line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	p=$(echo "$line" | sed -E 's/.* ([0-9]+) passed.*/\1/')
	f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
	[ -n "$line" ] || { p=0; f=1; echo "run.sh: $2 printed no result line" >&2; }
	pass=$((pass + p)); fail=$((fail + f))
}
out=$(mktemp); trap 'rm -f "$out"' EXIT
# a binary that printed its counts but exited non-zero (a sanitizer's report
# after the last test, a crash) counts one more failure
"$WLB_UNIT" >"$out" || { [ "$(grep -c ' 0 failed' "$out")" -eq 0 ] || fail=$((fail + 1)); }
cat "$out"; add "$out" unit
sh "$dir/cli.sh" >"$out"; cat "$out"; add "$out" cli
sh "$dir/cli_run.sh" >"$out"; cat "$out"; add "$out" run
# the property tests (tests/props.c): random traces through the invariants
if [ -n "${WLB_PROPS:-}" ]; then
	$WLB_PROPS >"$out" || true
	cat "$out"; add "$out" props
fi
# the Python package (python/wlb) over libwlb.so ($WLB_LIB, set by make
# test); not with a sanitized library, which python3 cannot load
if ! command -v python3 >/dev/null 2>&1; then
	echo "python: skipped: no python3"; echo "python: 0 passed, 0 failed"
elif [ -z "${WLB_LIB:-}" ] || ldd "$WLB_LIB" 2>/dev/null | grep -q libasan; then
	echo "python: skipped: WLB_LIB unset or a sanitized library"; echo "python: 0 passed, 0 failed"
else
	python3 "$dir/../python/tests/run.py" >"$out" 2>&1; cat "$out"; add "$out" python
fi
# every fuzz corpus file (tests/fuzz/NAME/) through its harness, built beside
# the unit tests without libFuzzer (tests/fuzz/replay.c); a harness that
# crashed counts one failure
fz=$(dirname "$WLB_UNIT")/fuzz
: >"$out"
for r in "$fz"/replay_*; do
	[ -x "$r" ] || { echo "fuzz-replay: no replay_* in $fz" >>"$out"; echo "fuzz-replay: 0 passed, 1 failed" >>"$out"; break; }
	n=${r##*/replay_}
	"$r" "$dir/fuzz/$n" >>"$out" 2>&1 ||
		echo "fuzz-replay $n: 0 passed, 1 failed (crashed; $r -v $dir/fuzz/$n names the input)" >>"$out"
done
cat "$out"
p=$(sed -En 's/^fuzz-replay [a-z]+: ([0-9]+) passed.*/\1/p' "$out" | awk '{s += $1} END {print s + 0}')
f=$(sed -En 's/^fuzz-replay.*: [0-9]+ passed, ([0-9]+) failed.*/\1/p' "$out" | awk '{s += $1} END {print s + 0}')
echo "fuzz-replay: $p passed, $f failed"
pass=$((pass + p)); fail=$((fail + f))
# two cases of the GPU attention check, emulated on the CPU
if [ -n "${WLB_EMU:-}" ]; then
	: >"$out"
	for c in 2 4; do "$WLB_EMU" "$c" >>"$out" 2>&1 || true; done
	cat "$out"
	p=$(grep -c ' ok$' "$out"); f=$(grep -c ' FAIL' "$out")
	[ "$p" -eq 2 ] || f=$((f + 2 - p))
	echo "emu: $p passed, $f failed"
	pass=$((pass + p)); fail=$((fail + f))
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
