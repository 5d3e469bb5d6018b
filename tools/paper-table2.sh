#!/bin/sh
# Reproduces the trend of WLB-LLM's Table 2 (packing imbalance vs method) on a
# trace, and the sweep behind wlb's default s_max and outlier thresholds.
# Prints Markdown tables (the README's).  Usage: tools/paper-table2.sh [TRACE]
set -eu
W=${WLB_BIN:-bin}/wlb-trace
trace=${1:-traces/7b-128k.json}
ctx=$(sed -n 's/^ *"context": \([0-9]*\).*/\1/p' "$trace" | head -n 1)
row() { # label, then wlb-trace pack options
	label=$1; shift
	"$W" pack "$trace" --summary "$@" | awk -v l="$label" '
		/imbalance_pp/ {p = $2} /imbalance_cp/ {c = $2} /token_delay_iters/ {d = $2}
		/token_displacement/ {x = $2} /pack_ms_per_batch/ {t = $2}
		END { printf "| %s | %.3f | %.3f | %.2f | %.2f | %.4f |\n", l, p, c, d, x, t }'
}
echo "| method | imbalance_pp | imbalance_cp | token delay | displacement | pack ms/batch |"
echo "|---|---|---|---|---|---|"
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
echo "| s_max | thresholds | imbalance_pp | imbalance_cp | token delay | displacement | pack ms/batch |"
echo "|---|---|---|---|---|---|---|"
for s in 1 1.25 1.5 2; do
	smax=$(awk -v s="$s" -v c="$ctx" 'BEGIN { print int(s * c) }')
	for th in $((ctx / 8)),$((ctx / 4)) $((ctx / 4)),$((ctx / 2)) $((ctx / 2)); do
		row "$s x context | $th" --packing wlb --s-max "$smax" --thresholds "$th"
	done
done
