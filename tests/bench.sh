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
printf '\ndiscrete-event engine\n  '
"$build/tests/bench_des"

# the simulator: one iteration of a 405B-class job on 8192 GPUs, and
# iterations per second of the paper's 7B-128K configuration
cat >"$dir/405b.json" <<'JSON'
{"format": "wlb-trace/1", "name": "405b-class-8k-gpus",
 "model": {"layers": 128, "hidden": 16384, "ffn_hidden": 53248, "heads": 128, "kv_heads": 8,
           "head_dim": 128, "vocab": 128256, "mlp": "swiglu"},
 "gpu": "h100-sxm", "cluster": {"gpus_per_node": 8},
 "parallel": {"tp": 8, "cp": 16, "pp": 16, "dp": 4, "microbatches": 16},
 "context": 131072, "policy": {"packing": "wlb", "sharding": "adaptive"},
 "data": {"iterations": 1, "seed": 1, "distribution": {"preset": "wlb128k"}}}
JSON
t405=$(best "$WLB_BIN/wlb-sim" "$dir/405b.json" --quiet)
t7=$(best "$WLB_BIN/wlb-sim" traces/paper/7b-128k.json --iterations 200 --quiet)
printf '\nsimulator (wlb-sim, one core, best of 3, including loading the cost DB)\n'
awk -v a="$t405" -v b="$t7" 'BEGIN {
	printf "  %-50s %7.3f s   target: well under 1 s  %s\n", "405B-class, TP8 CP16 PP16 DP4 (8192 GPUs), 1 iteration", a, (a < 0.5) ? "ok" : "MISSED"
	printf "  %-50s %7.0f /s  target: thousands  %s\n", "7B-128K (paper config), iterations per second", 200 / b, (200 / b >= 1000) ? "ok" : "MISSED"
	printf "  %-50s\n", "(for scale: Calculon evaluates ~226 fixed-length configurations/s on 2 cores)"
}'

# a Megatron-LM .idx of 100M documents (~2 GB, under $build) through
# wlb-trace stats.  "At disk speed": at least 2 GB/s, what one data-centre
# NVMe drive reads sequentially (2-7 GB/s), the file coming from the page
# cache; cat of the same file shows the memory-speed floor.
idir="$build/bench-idx"; trap 'rm -rf "$dir" "$idir"' EXIT
mkdir -p "$idir"
docs=100000000 note=
free_kb=$(df -Pk "$idir" | awk 'NR == 2 { print $4 }')
if [ "$free_kb" -lt 4000000 ]; then
	docs=10000000 note=" (scaled down: $((free_kb / 1024)) MiB free under $build)"
fi
"$build/tests/bench_idx" "$idir" "$docs"
tcat=$(best cat "$idir/docs.idx")
tst=$(best "$WLB_BIN/wlb-trace" stats "$idir/docs.json")
printf '\n%s documents in a Megatron-LM .idx (%s MB), best of 3%s\n' "$docs" \
	"$(($(wc -c <"$idir/docs.idx") / 1000000))" "$note"
awk -v c="$tcat" -v s="$tst" -v b="$(wc -c <"$idir/docs.idx")" 'BEGIN {
	printf "  %-50s %7.3f s  %5.2f GB/s\n", "cat docs.idx >/dev/null", c, b / c / 1e9
	printf "  %-50s %7.3f s  %5.2f GB/s   target: >= 2 GB/s  %s\n", "wlb-trace stats (read, check, statistics)",
		s, b / s / 1e9, b / s >= 2e9 ? "ok" : "MISSED"
}'
rm -rf "$idir"
