#!/bin/sh
# make bench: packing speed, each result beside its target.
set -eu
build=$1
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
"$build/tests/bench_pack" "$dir"
# best wall time of three runs, in seconds
best() {
	b=
	for i in 1 2 3; do
		s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N)
		b=$(awk -v s="$s" -v e="$e" -v b="$b" 'BEGIN { x = e - s; print (b == "" || x < b) ? x : b }')
	done
	echo "$b"
}
ts=$(best sort -n "$dir/lengths-1m.txt")
tp=$(best "$WLB_BIN/wlb-trace" pack "$dir/lengths-1m.json" --workload flops --summary)
tc=$(best "$WLB_BIN/wlb-trace" pack "$dir/lengths-1m.json" --workload cost --summary)
printf '\n1M documents from a lengths file (wlb128k draws), best of 3\n'
awk -v ts="$ts" -v tp="$tp" -v tc="$tc" 'BEGIN {
	printf "  %-50s %7.3f s\n", "sort -n lengths-1m.txt", ts
	printf "  %-50s %7.3f s   target: about sort -n  %s\n", "wlb-trace pack, wlb + adaptive, --workload flops", tp,
		tp <= 1.5 * ts ? "ok" : "MISSED"
	printf "  %-50s %7.3f s   (a cost-model lookup per attention piece)\n", "wlb-trace pack, wlb + adaptive, --workload cost", tc
}'
"$build/tests/bench_cost" "$build/costdb/h100-sxm.db"
