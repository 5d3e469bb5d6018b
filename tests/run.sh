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
