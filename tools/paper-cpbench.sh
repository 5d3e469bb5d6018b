#!/bin/sh
# WLB-LLM's CP micro-benchmark: one Llama-2-7B layer at CP 4 (or CP; TP 8), 64K and
# 128K context, Plain-4D's concat sequences of wlb128k (or PRESET), sharded per-seq,
# per-doc and adaptive; the layer's forward + backward time per micro-batch
# from wlb-sim, against the paper's figures.  The vocabulary is shrunk to 128
# so that the logits, which one layer's model would otherwise carry, cost
# nothing.  Markdown (the README's).
# Usage: tools/paper-cpbench.sh [ITERATIONS [COSTDB [PRESET [CP]]]]   (defaults:
# 400, the built-in H100 DB, wlb128k, 4; an empty COSTDB keeps the built-in one)
set -eu
S=${WLB_BIN:-bin}/wlb-sim
iters=${1:-400}
DB=${2:-}
preset=${3:-wlb128k}
cp=${4:-4}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
[ -z "$DB" ] || "${WLB_BIN:-bin}/wlb-profile" --show "$DB" >/dev/null
ms() {
	"$S" "$T/t.json" --packing concat --sharding "$1" ${DB:+--costdb "$DB"} --iterations "$iters" \
		--json "$T/r.json" --quiet >/dev/null &&
		sed -n 's/.*"iteration_ms_mean": \([-+.0-9e]*\).*/\1/p' "$T/r.json" | head -n 1
}
echo "| context | per-seq ms | per-doc ms | adaptive ms | per-doc over per-seq | adaptive over per-seq | adaptive over per-doc | paper: per-doc over per-seq |"
echo "|---|---|---|---|---|---|---|---|"
for ctx in 65536 131072; do
	cat >"$T/t.json" <<JSON
{"format": "wlb-trace/1", "name": "cp-bench",
 "model": {"layers": 1, "hidden": 4096, "ffn_hidden": 11008, "heads": 32, "kv_heads": 32,
           "head_dim": 128, "vocab": 128, "mlp": "swiglu"},
 "gpu": "h100-sxm", "cluster": {"gpus_per_node": 8},
 "parallel": {"tp": 8, "cp": $cp, "pp": 1, "dp": 1, "microbatches": 1, "schedule": "1f1b"},
 "context": $ctx,
 "data": {"iterations": $iters, "seed": 1, "distribution": {"preset": "$preset"}}}
JSON
	s=$(ms per-seq)
	d=$(ms per-doc)
	a=$(ms adaptive)
	awk -v c="$ctx" -v s="$s" -v d="$d" -v a="$a" 'BEGIN {
		printf "| %dK | %.2f | %.2f | %.2f | %.3fx | %.3fx | %.3fx | %s |\n", c / 1024, s, d, a,
		       s / d, s / a, d / a, c == 65536 ? "1.01x" : "1.07x" }'
done
