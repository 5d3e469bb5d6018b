#!/bin/sh
# On one GPU: Llama-2-7B's layer shapes (a group of 2 layers, the logits
# and a 64K context; traces/run/7b-2layers-64k.json) under the three policy
# bundles, each measured by wlb-run and predicted by wlb-sim on the same
# documents; prints one table row per bundle: iteration time and micro-batch
# forward / backward time, measured against predicted.  Usage:
#   tools/run-7b-single.sh [COSTDB]      (default: the built-in H100 DB)
set -eu
B=${WLB_BIN:-bin}
TR=traces/run/7b-2layers-64k.json
DB=${1:-}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
echo "| policy | iteration ms measured | predicted | error | mb fwd ms (mean) measured | predicted | mb bwd ms (mean) measured | predicted |"
echo "|---|---|---|---|---|---|---|---|"
for bundle in "Plain-4D concat per-seq" "Fixed-4D greedy per-doc" "WLB-LLM wlb adaptive"; do
	set -- $bundle
	name=$1 pk=$2 sh=$3
	"$B/wlb-sim" "$TR" --packing "$pk" --sharding "$sh" ${DB:+--costdb "$DB"} --json "$T/p.json" --quiet >/dev/null
	"$B/wlb-run" "$TR" --packing "$pk" --sharding "$sh" ${DB:+--costdb "$DB"} --json "$T/m.json" \
		--quiet >"$T/out" 2>&1 || { cat "$T/out" >&2; exit 1; }
	# means over the report's micro-batches
	stat() { grep -o "\"$2\": [0-9.e+-]*" "$1" | awk '{ s += $2; n++ } END { printf "%.2f", n ? s / n : 0 }'; }
	mi=$(grep -o '"iteration_ms_mean": [0-9.e+-]*' "$T/m.json" | awk '{ printf "%.1f", $2 }')
	pi=$(grep -o '"iteration_ms_mean": [0-9.e+-]*' "$T/p.json" | awk '{ printf "%.1f", $2 }')
	err=$(awk -v m="$mi" -v p="$pi" 'BEGIN { printf "%+.1f %%", 100 * (m - p) / p }')
	echo "| $name ($pk + $sh) | $mi | $pi | $err | $(stat "$T/m.json" fwd_ms) | $(stat "$T/p.json" fwd_ms) | $(stat "$T/m.json" bwd_ms) | $(stat "$T/p.json" bwd_ms) |"
done
