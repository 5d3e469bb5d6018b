#!/bin/sh
# Checks wlb-sim's absolute iteration times against published training runs:
# the calibration set of shared/validation/published.md, one trace per row
# under traces/published/ (traces/published/README.md maps files to rows).
# Prints a markdown table (row, GPUs, settings, predicted s, published s,
# signed error, peak memory), then the mean and worst |error| and the sum of
# the cost model's extrapolated lookups.  Exits non-zero if any run fails.
#
# Usage: tools/validate-published.sh [--quick] [-j N] [ROW...]
#   --quick  six rows that together cover A, B, C Table 1, ZeRO-3 and PTD-P
#   -j N     wlb-sim runs at once (default 2)
#   ROW      only these rows (file names under traces/published/, .json optional)
# WLB_BIN: where wlb-sim lives (default bin).
#
# Where a row leaves a setting open (column "open" below: B rows MBS and
# interleaving, C Table 1 rows MBS and interleaving, PTD-P rows interleaving),
# every candidate is simulated and the fastest that fits in memory is taken:
# MBS in {1, 2, 4, 8} dividing GBS/DP; VPP 1, or VPP > 1 splitting each stage's
# layers into whole chunks (a divisor of layers/PP; at most the lightest
# stage's layers when PP does not divide them) with micro-batches a multiple
# of PP.  If every candidate runs out of memory, the fastest is shown, marked OOM.
#
# Published iteration time per row:
#   A  the recipe's step time column (NVIDIA DGX Cloud benchmarking v24.11.1).
#   B  GBS * Fseq / (GPUs * TFLOP/s per GPU), with Megatron-LM's count for a
#      GELU 4h MHA GPT (6N plus attention logits, no recomputation):
#      Fseq = 72 * s * l * h^2 * (1 + s/(6h) + V/(12 l h)) per sequence.
#   C  F / (GPUs * TFLOP/s per GPU), F = 96 * B * s * l * h^2 *
#      (1 + s/(6h) + V/(16 l h)), B = GBS: Narayanan et al. 2021's count, which
#      includes the recomputed forward (Table 1, Table 2 ZeRO-3 and PTD-P rows).
set -eu
S=${WLB_BIN:-bin}/wlb-sim
DIR=$(dirname "$0")/../traces/published
J=2 quick=0
die() { echo "validate-published: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 ;;
	-j) [ $# -ge 2 ] || die "-j needs a number"; J=$2; shift ;;
	-j*) J=${1#-j} ;;
	-h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
	shift
done
case $J in '' | *[!0-9]* | 0) die "-j needs a positive number, got '$J'" ;; esac
command -v jq >/dev/null 2>&1 || die "jq is needed (tools/deps.sh lists it)"
[ -x "$S" ] || die "$S: no such program (build with make, or set WLB_BIN)"

# row  src  GPUs  GBS  figure  open  layers  hidden  vocab  seq
# figure: A step time in s; B and C TFLOP/s per GPU.  open: settings searched.
TABLE='
a-llama31-8b-8gpu           A    8   128 12.91 -       32  4096 128256 8192
a-llama31-8b-16gpu          A   16   256 13.00 -       32  4096 128256 8192
a-llama31-8b-32gpu          A   32   512 13.05 -       32  4096 128256 8192
a-llama31-8b-64gpu          A   64  1024 13.08 -       32  4096 128256 8192
a-llama31-8b-128gpu         A  128  2048 13.10 -       32  4096 128256 8192
a-llama31-70b-64gpu         A   64   128 14.72 -       80  8192 128256 8192
a-llama31-70b-128gpu        A  128   256 14.73 -       80  8192 128256 8192
a-llama31-70b-256gpu        A  256   512 14.80 -       80  8192 128256 8192
a-llama31-70b-512gpu        A  512  1024 14.89 -       80  8192 128256 8192
a-llama31-70b-1024gpu       A 1024  2048 14.92 -       80  8192 128256 8192
a-llama31-70b-2048gpu       A 2048  4096 14.98 -       80  8192 128256 8192
a-llama31-405b-576gpu       A  576   252 17.20 -      126 16384 128256 8192
a-llama31-405b-1152gpu      A 1152   504 17.52 -      126 16384 128256 8192
a-llama31-405b-2304gpu      A 2304  1008 17.62 -      126 16384 128256 8192
a-llama31-405b-42l-192gpu   A  192   252 16.93 -       42 16384 128256 8192
a-gpt3-175b-128gpu          A  128   256  8.91 -       96 12288  51200 2048
a-gpt3-175b-256gpu          A  256   512  8.95 -       96 12288  51200 2048
a-gpt3-175b-512gpu          A  512  1024  9.09 -       96 12288  51200 2048
a-gpt3-175b-1024gpu         A 1024  2048  9.01 -       96 12288  51200 2048
a-gpt3-175b-2048gpu         A 2048  4096  9.02 -       96 12288  51200 2048
a-nemotron4-340b-128gpu     A  128    32  4.61 -       96 18432 256000 4096
a-nemotron4-340b-256gpu     A  256    64  4.67 -       96 18432 256000 4096
a-nemotron4-340b-512gpu     A  512   128  4.70 -       96 18432 256000 4096
a-nemotron4-340b-1024gpu    A 1024   256  4.73 -       96 18432 256000 4096
a-nemotron4-340b-2048gpu    A 2048   512  4.84 -       96 18432 256000 4096
b-gpt-1.7b                  B   48   192 408.8 mbs,vpp 24  2048 131072 4096
b-gpt-7.1b                  B   96   192 465.9 mbs,vpp 30  4096 131072 4096
b-gpt-16b                   B  192   192 489.1 mbs,vpp 32  6144 131072 4096
b-gpt-32b                   B  384   192 459.6 mbs,vpp 48  7168 131072 4096
b-gpt-70b                   B  768   384 419.7 mbs,vpp 84  8192 131072 4096
b-gpt-119b                  B 1536   768 420.5 mbs,vpp 92 10240 131072 4096
b-gpt-177b                  B 2304  1152 432.8 mbs,vpp 96 12288 131072 4096
b-gpt-314b                  B 3072  1536 474.4 mbs,vpp 96 16384 131072 4096
b-gpt-462b                  B 6144  3072 459.9 mbs,vpp 112 18432 131072 4096
c1-gpt-1.7b                 C   32   512 137   mbs,vpp 24  2304  51200 2048
c1-gpt-3.6b                 C   64   512 138   mbs,vpp 30  3072  51200 2048
c1-gpt-7.5b                 C  128   512 142   mbs,vpp 36  4096  51200 2048
c1-gpt-18.4b                C  256  1024 135   mbs,vpp 40  6144  51200 2048
c1-gpt-39.1b                C  512  1536 138   mbs,vpp 48  8192  51200 2048
c1-gpt-76.1b                C 1024  1792 140   mbs,vpp 60 10240  51200 2048
c1-gpt-145.6b               C 1536  2304 148   mbs,vpp 80 12288  51200 2048
c1-gpt-310.1b               C 1920  2160 155   mbs,vpp 96 16384  51200 2048
c1-gpt-529.6b               C 2520  2520 163   mbs,vpp 105 20480 51200 2048
c1-gpt-1008b                C 3072  3072 163   mbs,vpp 128 25600 51200 2048
c2-zero3-175b-384gpu        C  384  1536 144   -       96 12288  51200 2048
c2-zero3-175b-768gpu        C  768  1536  88   -       96 12288  51200 2048
c2-zero3-175b-1536gpu       C 1536  1536  44   -       96 12288  51200 2048
c2-zero3-530b-640gpu        C  640  2560 138   -      105 20480  51200 2048
c2-zero3-530b-1120gpu       C 1120  2240  98   -      105 20480  51200 2048
c2-zero3-530b-2240gpu       C 2240  2240  48   -      105 20480  51200 2048
c2-ptdp-175b-384gpu         C  384  1536 153   vpp     96 12288  51200 2048
c2-ptdp-175b-768gpu         C  768  1536 149   vpp     96 12288  51200 2048
c2-ptdp-175b-1536gpu        C 1536  1536 141   vpp     96 12288  51200 2048
c2-ptdp-530b-560gpu         C  560  2240 171   vpp    105 20480  51200 2048
c2-ptdp-530b-1120gpu        C 1120  2240 167   vpp    105 20480  51200 2048
c2-ptdp-530b-2240gpu        C 2240  2240 159   vpp    105 20480  51200 2048
'
QUICK='a-llama31-8b-8gpu a-nemotron4-340b-128gpu b-gpt-1.7b c1-gpt-1.7b c2-zero3-175b-384gpu c2-ptdp-175b-1536gpu'

T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
echo "$TABLE" | awk 'NF' >"$T/table"
if [ $# -gt 0 ]; then
	rows=""
	for r in "$@"; do
		r=$(basename "$r" .json)
		awk -v r="$r" '$1 == r { f = 1 } END { exit !f }' "$T/table" || die "no row $r"
		rows="$rows $r"
	done
elif [ $quick = 1 ]; then rows=$QUICK
else rows=$(awk '{ print $1 }' "$T/table"); fi

# ---- candidates: one job per (row, MBS, VPP), the variants written by jq ----
n=0
: >"$T/jobs"
for r in $rows; do
	f="$DIR/$r.json"
	[ -f "$f" ] || die "$f: no such trace"
	set -- $(awk -v r="$r" '$1 == r' "$T/table")
	gpus=$3 gbs=$4 open=$6 L=$7 H=$8 V=$9 s=${10}
	tv=$(jq -r '[.model.layers, .model.hidden, .model.vocab, .context, .parallel.tp,
		.parallel.cp // 1, .parallel.pp, .parallel.dp, .parallel.vpp // 1,
		.parallel.microbatches, .parallel.micro_batch_size // 1] | @tsv' "$f") ||
		die "$f: not a trace jq can read"
	set -- $tv
	tl=$1 th=$2 tV=$3 ts=$4 tp=$5 cp=$6 pp=$7 dp=$8 vpp0=$9 mb0=${10} mbs0=${11}
	tg=$((tp * cp * pp * dp)) tb=$((mb0 * dp * mbs0))
	[ "$tl $th $tV $ts $tg $tb" = "$L $H $V $s $gpus $gbs" ] ||
		die "$f disagrees with the published row: layers hidden vocab seq GPUs GBS are $tl $th $tV $ts $tg $tb, the row says $L $H $V $s $gpus $gbs"
	per=$((gbs / dp)) # sequences per DP replica and iteration
	case $open in *mbs*) mlist="1 2 4 8" ;; *) mlist=$mbs0 ;; esac
	k=$n
	for m in $mlist; do
		[ $((per % m)) -eq 0 ] || continue
		mb=$((per / m))
		if [ "${open#*vpp}" != "$open" ]; then
			vlist=1 v=2 lmin=$((L / pp))
			while [ $v -le $lmin ]; do
				if [ $((mb % pp)) -eq 0 ] && { [ $((L % pp)) -ne 0 ] || [ $((lmin % v)) -eq 0 ]; }; then
					vlist="$vlist $v"
				fi
				v=$((v + 1))
			done
			[ "$pp" -gt 1 ] || vlist=1
		else vlist=$vpp0; fi
		for v in $vlist; do
			n=$((n + 1))
			if [ "$m" = "$mbs0" ] && [ "$v" = "$vpp0" ]; then
				cp "$f" "$T/v$n.json"
			else
				jq --argjson m "$m" --argjson mb "$mb" --argjson v "$v" '
					.parallel.micro_batch_size = $m | .parallel.microbatches = $mb |
					.parallel.vpp = $v |
					.parallel.schedule = (if $v > 1 then "interleaved" else "1f1b" end)' \
					"$f" >"$T/v$n.json"
			fi
			echo "$r $m $v" >"$T/c$n"
			echo "$n" >>"$T/jobs"
		done
	done
	[ "$n" -gt "$k" ] || die "$r: no candidate settings"
done
echo "validate-published: $n wlb-sim runs for $(echo $rows | wc -w) rows, $J at a time" >&2

# ---- the runs ----
export WLB_SIM="$S" WLB_T="$T"
xargs -P "$J" -n 1 sh -c '"$WLB_SIM" "$WLB_T/v$0.json" --json - --quiet >"$WLB_T/o$0.json" 2>"$WLB_T/e$0"; echo $? >"$WLB_T/rc$0"' <"$T/jobs"
failed=0
for i in $(cat "$T/jobs"); do
	read -r r m v <"$T/c$i"
	rc=$(cat "$T/rc$i" 2>/dev/null || echo "?")
	if [ "$rc" = 0 ] && jq -er '.summary | [.iteration_ms_mean, (if .oom then 1 else 0 end),
		.peak_mem_gib, (.extrapolated_lookups // .extrapolations // 0)] | @tsv' \
		"$T/o$i.json" >"$T/s$i" 2>/dev/null; then
		echo "$r $m $v $(cat "$T/s$i")" >>"$T/results"
	else
		err=$(grep -v '^ *$' "$T/e$i" | head -n 1)
		echo "validate-published: $r (MBS $m, VPP $v): wlb-sim exit $rc: ${err:-no summary in its report}" >&2
		failed=1
	fi
done
[ "$failed" = 0 ] || exit 1

# ---- the table ----
echo "| row | GPUs | settings chosen | predicted s | published s | error % | peak GiB |"
echo "|---|---|---|---|---|---|---|"
for r in $rows; do
	f="$DIR/$r.json"
	par=$(jq -r '.parallel | "TP\(.tp) CP\(.cp // 1) PP\(.pp) DP\(.dp)" +
		(if (.zero // 1) == 3 then " ZeRO-3" else "" end)' "$f")
	awk -v r="$r" -v par="$par" -v errs="$T/errs" '
		FNR == NR { if ($1 == r) { src = $2; g = $3; b = $4; fig = $5; open = $6
		                           l = $7; h = $8; V = $9; s = $10 }
		            next }
		$1 == r { k++; ok = !$5; if (best == "" || (ok && !bok) || (ok == bok && $4 < bms)) {
		                best = k; bms = $4; bok = ok; bm = $2; bv = $3; peak = $6; ex = $7 } }
		END {
			if (src == "A") pub = fig
			else if (src == "B")
				pub = b * 72 * s * l * h * h * (1 + s / (6 * h) + V / (12 * l * h)) / (g * fig * 1e12)
			else pub = 96 * b * s * l * h * h * (1 + s / (6 * h) + V / (16 * l * h)) / (g * fig * 1e12)
			pred = bms / 1000; err = 100 * (pred - pub) / pub
			how = open == "-" ? "as published" : "best of " k " (" open ")"
			printf "| %s | %d | %s MBS%d VPP%d, %s | %.3f | %.3f | %+.1f | %.1f%s |\n",
			       r, g, par, bm, bv, how, pred, pub, err, peak, bok ? "" : " OOM"
			printf "%s %.6f %d\n", r, err, ex >> errs
		}' "$T/table" "$T/results"
done
awk '{ a = $2 < 0 ? -$2 : $2; sum += a; n++; ex += $3; if (a >= worst) { worst = a; w = $1 } }
	END { printf "\nmean |error| %.1f %%\nworst |error| %.1f %% (%s)\nextrapolated lookups: %d\n",
	      sum / n, worst, w, ex }' "$T/errs"
