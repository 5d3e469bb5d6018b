#!/bin/sh
# Reproduces the trend of WLB-LLM's Table 2 (packing imbalance vs method) on a
# trace, and the sweep behind wlb's default s_max and outlier thresholds.
# Prints Markdown tables (the README's).  Usage: tools/paper-table2.sh [TRACE]
#
# imbalance_pp is given twice: with W in FLOPs (--workload flops, the exact
# definition of the core library) and in time (--workload cost: one layer's
# forward + backward on the trace's GPU, built-in cost DB); the packer balances
# the same W it is measured with.
set -eu
W=${WLB_BIN:-bin}/wlb-trace
trace=${1:-traces/7b-128k.json}
ctx=$(sed -n 's/^ *"context": \([0-9]*\).*/\1/p' "$trace" | head -n 1)
pick() { awk -v k="$1" '$1 == k { print $2 }'; }
row() { # label, then wlb-trace pack options
	label=$1; shift
	f=$("$W" pack "$trace" --summary --workload flops "$@")
	c=$("$W" pack "$trace" --summary --workload cost "$@")
	printf '| %s | %.3f | %.3f | %.3f | %.2f | %.2f | %.4f |\n' "$label" \
		"$(echo "$f" | pick imbalance_pp)" "$(echo "$c" | pick imbalance_pp)" \
		"$(echo "$f" | pick imbalance_cp)" "$(echo "$f" | pick token_delay_iters)" \
		"$(echo "$f" | pick token_displacement)" "$(echo "$f" | pick pack_ms_per_batch)"
}
header() {
	echo "| $1 | imbalance_pp, FLOPs | imbalance_pp, time | imbalance_cp | token delay | displacement | pack ms/batch |"
	echo "|---|---|---|---|---|---|---|"
}
header method
row "Plain-4D: concat + per-seq" --packing concat --sharding per-seq
for w in 1 2 4 8; do
	row "Fixed-len greedy, window $w + per-doc" --packing greedy --window "$w" --sharding per-doc
done
row "wlb, no outlier queue" --packing wlb --thresholds none
row "wlb, 1 queue ($((ctx / 4)))" --packing wlb --thresholds $((ctx / 4))
row "wlb, 2 queues ($((ctx / 4)),$((ctx / 2)))" --packing wlb --thresholds $((ctx / 4)),$((ctx / 2))
row "wlb, 3 queues ($((ctx / 8)),$((ctx / 4)),$((ctx / 2)))" --packing wlb \
	--thresholds $((ctx / 8)),$((ctx / 4)),$((ctx / 2))
echo
header "s_max, thresholds"
for s in 1 1.25 1.5 2; do
	smax=$(awk -v s="$s" -v c="$ctx" 'BEGIN { print int(s * c) }')
	for th in $((ctx / 8)),$((ctx / 4)) $((ctx / 4)),$((ctx / 2)) $((ctx / 2)); do
		row "$s x context, $th" --packing wlb --s-max "$smax" --thresholds "$th"
	done
done
