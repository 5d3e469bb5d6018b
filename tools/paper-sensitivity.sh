#!/bin/sh
# How the 7B-128K breakdown (tools/paper-table1.sh) and the CP micro-benchmark
# (tools/paper-cpbench.sh, 128K) move when the attention kernel or the
# document lengths change: each row rebuilds the H100 analytic DB with some
# figures changed (wlb-profile --analytic --set) or swaps the trace's
# distribution preset, and reruns both.  Speedups over Plain-4D (tokens/s).
# Markdown (the README's).
# Usage: tools/paper-sensitivity.sh [ITERATIONS [CPBENCH_ITERATIONS]]   (50, 400)
set -eu
B=${WLB_BIN:-bin}
iters=${1:-50}
cp_iters=${2:-400}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
db=
tps() { # [options] -> tokens/s of the 7B-128K trace in $T/t.json
	"$B/wlb-sim" "$T/t.json" ${db:+--costdb "$db"} --iterations "$iters" --quiet "$@" >"$T/out" &&
		awk '/throughput/ { print $2 }' "$T/out"
}
row() { # label, figures for --set (or -), distribution preset
	db=
	if [ "$2" != - ]; then
		"$B/wlb-profile" --analytic --gpu h100-sxm --set "$2" -o "$T/v.db" >/dev/null
		db=$T/v.db
	fi
	sed "s/\"preset\": \"wlb128k\"/\"preset\": \"$3\"/" traces/paper/7b-128k.json >"$T/t.json"
	p=$(tps --packing concat --sharding per-seq)
	d=$(tps --packing concat --sharding per-doc)
	a=$(tps --packing concat --sharding adaptive)
	k=$(tps --packing wlb --sharding per-seq)
	w=$(tps --packing wlb --sharding adaptive)
	WLB_BIN=$B tools/paper-cpbench.sh "$cp_iters" "$db" "$3" >"$T/cp"
	awk -F'|' -v l="$1" -v p="$p" -v d="$d" -v a="$a" -v k="$k" -v w="$w" '/^\| 128K/ {
		gsub(/ /, "", $6); gsub(/ /, "", $8)
		printf "| %s | %.3fx | %.3fx | %.3fx | %.3fx | %s | %s |\n", l, d / p, a / p, k / p, w / p, $6, $8 }' "$T/cp"
}
echo "| variant | per-doc | adaptive | packing | WLB-LLM | CP bench 128K: per-doc over per-seq | adaptive over per-doc |"
echo "|---|---|---|---|---|---|---|"
echo "| paper | 1.02x | 1.05x | 1.28x | 1.33x | 1.07x | 1.034x |"
row "built-in H100 model, \`wlb128k\`" - wlb128k
row "backward's fixed cost per query tile, not per key block (\`attn_bwd_key_share=0\`)" \
	attn_bwd_key_share=0 wlb128k
row "3x the fixed cost per thread block (\`attn_tile_overhead=780\`)" attn_tile_overhead=780 wlb128k
row "attention 1.5x faster (\`attn_eff_fwd=0.522,attn_eff_bwd=0.684\`)" \
	attn_eff_fwd=0.522,attn_eff_bwd=0.684 wlb128k
row "documents of \`prolong64k\`" - prolong64k
row "documents of \`web\`" - web

# Why an iteration gains more from per-doc than one layer does: per-doc's
# gain on Plain-4D's micro-batches by their weight (forward + backward time
# under per-seq), against the iteration's (4 micro-batches each)
mb() { # sharding -> one line per micro-batch: forward + backward ms
	"$B/wlb-sim" traces/paper/7b-128k.json --packing concat --sharding "$1" --iterations "$iters" \
		--json "$T/$1.json" --quiet >/dev/null &&
		grep -o '"[fb]wd_ms": [-+.0-9e]*' "$T/$1.json" |
		awk '{ v[NR] = $2 } END { for (i = 1; i < NR; i += 2) print v[i] + v[i + 1] }'
}
it() { sed -n 's/.*"iteration_ms_mean": \([-+.0-9e]*\).*/\1/p' "$T/$1.json" | head -n 1; }
mb per-seq >"$T/s"
mb per-doc >"$T/d"
echo
echo "| 7B-128K, Plain-4D's micro-batches | per-seq ms (mean) | per-doc's gain |"
echo "|---|---|---|"
# quarters by per-seq weight (sorted), then the whole run in iteration order
paste "$T/s" "$T/d" | LC_ALL=C sort -n | awk '
	{ s[NR] = $1; d[NR] = $2 }
	END {
		split("lightest,second,third,heaviest", name, ",")
		for (q = 0; q < 4; q++) {
			a = b = 0; for (i = q * NR / 4 + 1; i <= (q + 1) * NR / 4; i++) { a += s[i]; b += d[i] }
			printf "| %s quarter | %.1f | %.3fx |\n", name[q + 1], a / (NR / 4), a / b
		}
	}'
paste "$T/s" "$T/d" | awk -v si="$(it per-seq)" -v di="$(it per-doc)" '
	{ S += $1; D += $2; k = int((NR - 1) / 4); if ($1 > ms[k]) { ms[k] = $1; md[k] = $2 } }
	END {
		printf "| all: one layer'"'"'s view (their summed time) | %.1f | %.3fx |\n", S / NR, S / D
		for (k in ms) { A += ms[k]; B += md[k]; K++ }
		printf "| the heaviest of each iteration | %.1f | %.3fx |\n", A / K, A / B
		printf "| the iteration (pipeline of 4) | %.1f | %.3fx |\n", si, si / di }'
