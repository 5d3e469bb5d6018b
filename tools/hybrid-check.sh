#!/bin/sh
# Hybrid CP sharding is never predicted slower than adaptive (it keeps its
# own layout only where its estimate is strictly better), so its simulated
# iteration time must not be either: runs `wlb-sim T --sharding adaptive` and
# `--sharding hybrid` on every trace under traces/ (traces/*.json,
# traces/paper/, traces/run/, traces/published/, traces/distca/) with the trace's own
# iterations, prints each pair of mean iteration times, their ratio
# hybrid / adaptive and the share of micro-batches that went hybrid, then
# the min / mean / max ratio.  Exits non-zero if a ratio exceeds 1.005 or a
# run fails.
#
# Usage: tools/hybrid-check.sh [TRACE...]   (default: all of the above)
# WLB_BIN: where wlb-sim lives (default bin).  HYBRID_CHECK_ITERS=N runs N
# iterations of each trace instead (the same for both runs).
set -u
bin=${WLB_BIN:-bin}
limit=1.005
iters=${HYBRID_CHECK_ITERS:+--iterations $HYBRID_CHECK_ITERS}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

[ $# -gt 0 ] || set -- traces/*.json traces/paper/*.json traces/run/*.json traces/published/*.json \
	traces/distca/*.json

# mean iteration ms and hybrid share of one run, tab-separated
run() {
	# shellcheck disable=SC2086 # $iters is zero or two words
	"$bin/wlb-sim" "$1" --sharding "$2" --quiet $iters --json - >"$tmp/out.json" 2>"$tmp/err" &&
		jq -r '[.summary.iteration_ms_mean, .summary.hybrid_share] | @tsv' "$tmp/out.json"
}

fail=0
printf '%-48s %14s %14s %9s %8s\n' trace "adaptive ms" "hybrid ms" ratio hybrid%
for t in "$@"; do
	if ! a=$(run "$t" adaptive) || ! h=$(run "$t" hybrid); then
		printf '%-48s run failed: %s\n' "$t" "$(head -c 200 "$tmp/err")"
		fail=1
		continue
	fi
	printf '%s\t%s\t%s\n' "$t" "$a" "$h" >>"$tmp/rows"
done
[ -s "$tmp/rows" ] || exit 1
awk -F'\t' -v limit="$limit" '
{
	r = $4 / $2
	printf "%-48s %14.3f %14.3f %9.5f %7.1f%%%s\n", $1, $2, $4, r, 100 * $5, (r > limit ? "  SLOWER" : "")
	if (NR == 1 || r < mn) mn = r
	if (NR == 1 || r > mx) mx = r
	sum += r
	bad += r > limit
}
END {
	printf "\n%d traces: hybrid / adaptive min %.5f mean %.5f max %.5f (limit %s)\n", NR, mn, sum / NR, mx, limit
	exit bad > 0
}' "$tmp/rows" || fail=1
exit $fail
