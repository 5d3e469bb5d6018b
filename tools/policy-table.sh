#!/bin/sh
# The balancing policies side by side: runs `wlb-sim T --compare --json` on the
# WLB-LLM paper's eight configurations (traces/paper/) and DistCA's settings
# (traces/distca/), and prints Markdown: one table per setting group (its
# traces' directory), a row per bundle of each trace's comparison, then a
# summary: per bundle, the mean tokens/s ratio over the base bundle (WLB-LLM)
# and the mean token delay minus the base's, over the paper's 128K
# configurations and over each group.  Rows are whatever the reports hold
# (names, count, order), nothing is hard-coded but the base's name.  Lastly
# `wlb-plot --only speedup` draws the comparison of one setting.
#
# Usage: tools/policy-table.sh [--iterations N] [--out DIR] [--traces 'FILE...']
#                              [--base NAME] [--chart SETTING]
#   --iterations N   simulated iterations per bundle (default 50, the traces' own)
#   --out DIR        reports and the chart go here (default build/policy-table):
#                    DIR/<group>/<setting>.json, DIR/chart/speedup.png
#   --traces 'F...'  these traces instead (space-separated)
#   --base NAME      the bundle the summary compares with (default WLB-LLM)
#   --chart SETTING  the setting charted (default 7b-128k, else the first)
# WLB_BIN: where wlb-sim and wlb-plot live (default bin).  Progress on stderr.
set -eu
bin=${WLB_BIN:-bin}
iters=50
out=build/policy-table
traces="traces/paper/*.json traces/distca/*.json"
base=WLB-LLM
chart=7b-128k

die() { echo "policy-table.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--iterations | --out | --traces | --base | --chart)
		[ $# -ge 2 ] || die "$1: expected a value after it" ;;
	esac
	case $1 in
	--iterations)
		case $2 in '' | *[!0-9]* | 0) die "--iterations: expected a positive integer, got \"$2\"" ;; esac
		iters=$2 ;;
	--out) out=$2 ;;
	--traces) traces=$2 ;;
	--base) base=$2 ;;
	--chart) chart=$2 ;;
	*) die "unknown option \"$1\" (expected --iterations, --out, --traces, --base or --chart)" ;;
	esac
	shift 2
done
command -v jq >/dev/null 2>&1 || die "jq is needed (apt-get install jq)"
[ -x "$bin/wlb-sim" ] || die "$bin/wlb-sim: not found (make, or set WLB_BIN)"

# ---- run: one report per trace, DIR/<group>/<setting>.json ----
# shellcheck disable=SC2086 # the list is globbed and split on purpose
set -- $traces
if [ $# -eq 0 ] || [ ! -e "$1" ]; then die "no traces in \"$traces\""; fi
mkdir -p "$out"
list=$out/reports.txt
: >"$list"
t0=$(date +%s)
i=0
for t in "$@"; do
	i=$((i + 1))
	[ -f "$t" ] || die "$t: no such trace"
	g=$(basename "$(dirname "$t")")
	s=$(basename "$t" .json)
	mkdir -p "$out/$g"
	a=$(date +%s)
	printf '[%d/%d] %s ... ' "$i" $# "$t" >&2
	if ! "$bin/wlb-sim" "$t" --compare --iterations "$iters" --quiet --json "$out/$g/$s.json" \
		>/dev/null 2>"$out/err"; then
		echo failed >&2
		cat "$out/err" >&2
		exit 1
	fi
	echo "$(($(date +%s) - a)) s" >&2
	printf '%s\t%s\n' "$g" "$out/$g/$s.json" >>"$list"
done
echo "simulated $# settings x $iters iterations in $(($(date +%s) - t0)) s" >&2

# ---- tables ----
# One TSV line per comparison row: group, setting, layout, then the figures
# (the base's tokens/s and delay of the same setting beside them).
rows() {
	jq -r --arg g "$1" --arg base "$base" '
		.config as $c | ($c.parallel) as $p |
		(.comparison | map(select(.name == $base)) | first) as $b |
		.comparison[] |
		[$g, $c.name,
		 "\(if ($c.model.name // "") == "" then "\($c.model.layers)-layer model" else $c.model.name end) \(if $c.context >= 1024 then "\($c.context / 1024 | floor)K" else $c.context end), \($p.tp * $p.cp * $p.pp * $p.dp) \($c.gpu), TP\($p.tp) CP\($p.cp) PP\($p.pp) DP\($p.dp)",
		 .name, .iteration_ms_mean, .tokens_per_s,
		 (if $b then .tokens_per_s / $b.tokens_per_s else "nan" end),
		 .speedup, .imbalance_pp, .imbalance_cp, .imbalance_mem, .bubble_fraction, .mfu,
		 .token_delay_iters,
		 (if $b then .token_delay_iters - $b.token_delay_iters else "nan" end),
		 .peak_mem_gib, (if .oom then 1 else 0 end),
		 .lost_ms.pp_bubble, .lost_ms.exposed_comm, .lost_ms.microbatch_imbalance,
		 .lost_ms.cp_imbalance, .lost_ms.dp_waiting, $c.context] | @tsv' "$2"
}
while IFS="$(printf '\t')" read -r g f; do rows "$g" "$f"; done <"$list" >"$out/rows.tsv"

heading() {
	case $1 in
	paper) echo "WLB-LLM paper's configurations (H100)" ;;
	distca) echo "DistCA's settings (H200; Pretrain = wlb128k, ProLong = prolong64k)" ;;
	*) echo "$1" ;;
	esac
}
first=$(head -n 1 "$out/rows.tsv" | cut -f4) # wlb-sim's speedups are over its first row
for g in $(cut -f1 "$out/rows.tsv" | uniq); do
	echo "#### $(heading "$g")"
	echo
	echo "| setting | policy | iter ms | Mtok/s | vs $base | vs $first | imb_pp | imb_cp | imb_mem | bubble | MFU | delay | peak GiB | lost ms: bubbles / comm / mb imb / CP imb / DP wait |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
	awk -F'\t' -v g="$g" 'function ms(v, x) { x = sprintf("%.0f", v); return x == "-0" ? "0" : x }
	$1 == g {
		set = $2 != last ? "**" $2 "**<br>" $3 : ""; last = $2
		vs = $7 == "nan" ? "–" : sprintf("%.3fx", $7)
		printf "| %s | %s | %.1f | %.3f | %s | %.3fx | %.3f | %.3f | %.3f | %.3f | %.1f%% | %.3f | %.1f%s | %s / %s / %s / %s / %s |\n",
			set, $4, $5, $6 / 1e6, vs, $8, $9, $10, $11, $12, 100 * $13, $14, $16,
			$17 ? " OOM" : "", ms($18), ms($19), ms($20), ms($21), ms($22)
	}' "$out/rows.tsv"
	echo
done

# ---- summary: mean over a set of settings, per bundle, in first-seen order ----
# set: "paper128" (the paper's settings at 128K context) or a group's name
summary_cols() {
	awk -F'\t' -v set="$1" '
		(set == "paper128" ? $1 == "paper" && $23 == 131072 : $1 == set) && $7 != "nan" {
			if (!($4 in n)) order[k++] = $4
			n[$4]++; sp[$4] += $7; dd[$4] += $15; oom[$4] += $17; seen[$2] = 1
		}
		END {
			for (i = 0; i < k; i++) {
				b = order[i]
				printf "%s\t%.3fx\t%+.3f%s\n", b, sp[b] / n[b], dd[b] / n[b],
					oom[b] ? sprintf(" (%d OOM)", oom[b]) : ""
			}
			m = 0; for (s in seen) m++
			printf "#settings\t%d\n", m
		}' "$out/rows.tsv"
}
sets=""
awk -F'\t' '$1 == "paper" && $23 == 131072 && $7 != "nan"' "$out/rows.tsv" | grep -q . && sets=paper128
sets="$sets $(cut -f1 "$out/rows.tsv" | uniq | tr '\n' ' ')"
echo "#### Summary: mean tokens/s ratio over $base and mean token delay minus $base's (iterations)"
echo
hdr="| policy |"
sep="|---|"
for s in $sets; do
	m=$(summary_cols "$s" | awk -F'\t' '$1 == "#settings" { print $2 }')
	case $s in
	paper128) name="paper, 128K ($m)" ;;
	*) name="$(heading "$s" | sed 's/ (.*//') ($m)" ;;
	esac
	hdr="$hdr $name: speedup | Δ delay |"
	sep="$sep---:|---:|"
	summary_cols "$s" | grep -v '^#' >"$out/sum.$s.tsv"
done
echo "$hdr"
echo "$sep"
# bundles in first-seen order over all rows; a bundle absent from a set shows –
cut -f4 "$out/rows.tsv" | awk '!seen[$0]++' >"$out/bundles.txt"
while IFS= read -r b; do
	line="| $b |"
	for s in $sets; do
		c=$(awk -F'\t' -v b="$b" '$1 == b { print " " $2 " | " $3 " |" }' "$out/sum.$s.tsv")
		line="$line${c:- – | – |}"
	done
	echo "$line"
done <"$out/bundles.txt"
rm -f "$out"/sum.*.tsv "$out/bundles.txt" "$out/err"

# ---- chart: the comparison of one setting ----
rep=$(awk -F'\t' -v c="$chart" '{ n = $2; sub(/.*\//, "", n); sub(/\.json$/, "", n) } n == c { print $2; exit }' "$list")
[ -n "$rep" ] || rep=$(head -n 1 "$list" | cut -f2)
if "$bin/wlb-plot" "$rep" --only speedup -o "$out/chart" >/dev/null 2>"$out/err"; then
	echo "chart: $out/chart/speedup.png ($rep)" >&2
	rm -f "$out/err"
else
	echo "policy-table.sh: wlb-plot $rep:" >&2
	cat "$out/err" >&2
	exit 1
fi
