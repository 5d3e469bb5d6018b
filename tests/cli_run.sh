#!/bin/sh
# wlb-run on the CPU reference path: --check on small configurations (CP 2
# and 4, TP 2, PP 2 with interleaving, DP 2, all at once), the gradient
# signature equal across parallel layouts of the same step, the report's
# fields against wlb-sim's, --compare-with, failures of ranks (a death, a
# hang, wrong attention) caught and named, bad input.  Ends with
# "run: N passed, M failed".
set -u
B=${WLB_BIN:-bin}
D=$(dirname "$0")/data
R="$B/wlb-run"
TINY=traces/run/tiny.json
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
pass=0 fail=0
NAME=run
. "$(dirname "$0")/cli_lib.sh"

# run_check DESC TRACE OPTS...: --check passes; prints the signature in $T/sig
run_check() {
	desc=$1 tr=$2; shift 2
	if "$R" "$tr" --device cpu --check --timeout 60 "$@" >"$T/out" 2>"$T/err" &&
	   grep -q "give back libwlb's pieces" "$T/out"; then ok
	else bad "$desc: $(head -c 400 "$T/err")"; fi
	sed -n 's/.*gradient signature \([-+.0-9e]*\).*/\1/p' "$T/out" >"$T/sig"
}
# same_sig DESC: $T/sig equals $T/sig0 to 1e-9 relative
same_sig() {
	awk -v a="$(cat "$T/sig0")" -v b="$(cat "$T/sig")" 'BEGIN {
		d = a - b; if (d < 0) d = -d; m = a < 0 ? -a : a;
		exit !(a != "" && b != "" && d <= 1e-9 * m) }' && ok ||
		bad "$1: gradient signature $(cat "$T/sig") differs from $(cat "$T/sig0")"
}

# the check on each layout; the gradient the same on every one (concat keeps
# the micro-batches independent of the parallel layout, so the step is one)
run_check "one rank" "$TINY" --cp 1 --microbatches 4 --packing concat --sharding per-doc
cp "$T/sig" "$T/sig0"
[ -s "$T/sig0" ] && ok || bad "no gradient signature printed"
for o in "--cp 2 --microbatches 4" "--cp 4 --microbatches 4" "--tp 2 --cp 1 --microbatches 4" \
	 "--cp 1 --pp 2 --microbatches 4" "--cp 1 --dp 2 --microbatches 2" \
	 "--tp 2 --cp 2 --pp 2 --dp 2 --microbatches 2"; do
	# shellcheck disable=SC2086
	run_check "check $o" "$TINY" $o --packing concat --sharding per-doc
	same_sig "signature $o"
done
# hybrid's layout: the same step again
run_check "concat + hybrid, cp 4" "$TINY" --cp 4 --microbatches 4 --packing concat --sharding hybrid
same_sig "signature hybrid"
run_check "interleaved, pp 2 vpp 2" "$D/run_interleaved.json" --packing concat --sharding per-seq
same_sig "signature interleaved"
run_check "interleaved with cp 2" "$D/run_interleaved.json" --cp 2 --packing concat --sharding per-seq
same_sig "signature interleaved cp 2"
grep -q "with virtual stages\|(virtual stages)" "$T/out" && ok || bad "interleaved run does not say so"
run_check "wlb + adaptive, cp 4" "$TINY" --cp 4
run_check "wlb + adaptive, dp 2 cp 2" "$TINY" --dp 2
# the same micro-batches with their documents in another order (order.h):
# the same step, so the same gradient
run_check "wlb + per-seq, stream order" "$TINY" --sharding per-seq --doc-order stream
cp "$T/sig" "$T/sig0"
run_check "wlb + per-seq, zigzag order" "$TINY" --sharding per-seq --doc-order zigzag
same_sig "signature under another document order"

# the report has every field of wlb-sim's (but the prediction-only CP detail)
"$B/wlb-sim" "$TINY" --json "$T/sim.json" --quiet >/dev/null 2>&1 || bad "wlb-sim on $TINY"
if "$R" "$TINY" --device cpu --json "$T/run.json" --chrome-trace "$T/chrome.json" >"$T/out" 2>"$T/err"; then ok
else bad "wlb-run --json: $(head -c 300 "$T/err")"; fi
keys() { grep -o '"[a-z_0-9-]*":' "$1" | sort -u; }
keys "$T/sim.json" | grep -vxF -e '"cp_ranks":' -e '"per-seq":' -e '"per-doc":' -e '"used":' >"$T/k_sim"
keys "$T/run.json" >"$T/k_run"
missing=$(comm -23 "$T/k_sim" "$T/k_run" | tr '\n' ' ')
[ -z "$missing" ] && ok || bad "the measured report lacks wlb-sim's fields: $missing"
grep -q '"source": "measured"' "$T/run.json" && grep -q '"tool": "wlb-run"' "$T/run.json" && ok ||
	bad "the report does not say measured / wlb-run"
grep -q '"traceEvents"' "$T/chrome.json" && grep -q '"name": "B1' "$T/chrome.json" && ok ||
	bad "the measured Chrome trace has no steps"

# wlb-plot draws the prediction beside the measurement
if command -v gnuplot >/dev/null 2>&1; then
	"$B/wlb-plot" "$T/sim.json" "$T/run.json" -o "$T/charts" >/dev/null 2>&1 &&
	[ -s "$T/charts/measured.png" ] && grep -q "tiny, 256 context" "$T/charts/measured.gp" && ok ||
		bad "wlb-plot did not draw predicted against measured"
fi

# --compare-with: every summary field with the prediction beside it
if "$R" "$TINY" --device cpu --compare-with "$T/sim.json" >"$T/out" 2>"$T/err" &&
   grep -q "iteration_ms_mean" "$T/out" && grep -q "mb 0.1 bwd_ms" "$T/out" && grep -q " %$" "$T/out"; then ok
else bad "--compare-with: $(head -c 300 "$T/err")"; fi

# wlb-tune --validate: the pick and Plain-4D through wlb-run
if "$B/wlb-tune" "$TINY" --gpus 2 --iterations 1 --validate --device cpu --quiet >"$T/out" 2>"$T/err" &&
   grep -q "== plain-4d" "$T/out" && grep -q "validation (cpu): speedup of the pick over Plain-4D" "$T/out" &&
   grep -q "is validated that way (zero 0, no overlapped reduction)" "$T/out"; then ok
else bad "wlb-tune --validate: $(head -c 300 "$T/err")"; fi
# collectives 7000x slower than NVLink: ring CP (p2p) wins, which wlb-run
# does not run (nor the hybrid layouts and distca that tie with it), so
# --validate takes the best all-gather candidate, or says
# that none is among the top
"$B/wlb-profile" --analytic --gpu h100-sxm --set ring_busbw_gbps=0.05 -o "$T/slow.db" >/dev/null
if "$B/wlb-tune" "$TINY" --costdb "$T/slow.db" --fixed-parallel --top 15 --iterations 1 --validate \
	--device cpu --quiet >"$T/out" 2>"$T/err" &&
   grep -Eq '^ +1 +1 +2 .* ring ' "$T/out" &&
   grep -q "#1 uses ring CP, which wlb-run does not run (all-gather only): validating #" "$T/out" &&
   grep -q "validation (cpu)" "$T/out"; then ok
else bad "wlb-tune --validate with a ring pick: $(head -c 300 "$T/err")"; fi
if "$B/wlb-tune" "$TINY" --costdb "$T/slow.db" --fixed-parallel --top 2 --iterations 1 --validate \
	--device cpu --quiet >"$T/out" 2>"$T/err"; then bad "--validate ran a ring CP pick"
else grep -q "the top 2 use ring CP, disaggregated attention or a per-sequence CP degree, which wlb-run does not run" "$T/err" && ok ||
	bad "--validate, all ring: $(head -c 300 "$T/err")"; fi
rm -rf /tmp/wlb-validate-*

# failures: named, all ranks stopped, nothing left running (a private copy
# of the trace, so that the process check sees this script's runs only)
cp "$TINY" "$T/fault.json"
TINY="$T/fault.json"
out=$(WLB_RUN_FAULT=kv "$R" "$TINY" --device cpu --check --timeout 30 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "check failed: CP-sharded attention differs" && ok ||
	bad "a wrong key index passed the check (rc $rc)"
out=$(WLB_RUN_FAULT=die "$R" "$TINY" --device cpu --timeout 30 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "rank 1 failed (exit status 7)" && ok ||
	bad "a dying rank was not named: $out"
start=$(date +%s)
out=$(WLB_RUN_FAULT=hang "$R" "$TINY" --device cpu --timeout 2 2>&1); rc=$?
took=$(( $(date +%s) - start ))
[ $rc -ne 0 ] && [ $took -lt 20 ] && echo "$out" | grep -q "no message from rank 1" && ok ||
	bad "a hanging rank was not caught in time (rc $rc, ${took} s): $out"
sleep 0.2
pgrep -f "wlb-run $TINY" >/dev/null && bad "wlb-run processes left behind" || ok

# bad input: one line, non-zero
expect_err "wrong --nproc" "--nproc 3: the configuration needs" "$R" "$TINY" --device cpu --nproc 3
expect_err "bad --device" '--device: expected cpu or cuda, got "tpu"' "$R" "$TINY" --device tpu
expect_err "--compare does not apply" "--compare does not apply" "$R" "$TINY" --device cpu --compare
expect_err "heads not dividing tp" "must divide" "$R" "$TINY" --device cpu --tp 3
sed 's/"schedule": "1f1b"/"schedule": "1f1b", "cp_algo": "ring"/' "$TINY" >"$T/ring.json"
expect_err "ring CP is simulated only" 'parallel.cp_algo "ring": wlb-run runs all-gather CP' \
	"$R" "$T/ring.json" --device cpu
# what the executor does not run: refused in one line naming the key, before
# any rank starts (tiny: 4 layers, cp 2, zero 0, no gradient overlap)
refuse() { # DESC SED PATTERN [OPTS...]
	desc=$1; sed "$2" "$TINY" >"$T/refuse.json"; pat=$3; shift 3
	expect_err "$desc" "$pat" "$R" "$T/refuse.json" --device cpu "$@"
}
refuse "uneven pp_layers" 's/"pp": 1/"pp": 2/; s/"zero": 0/"pp_layers": [1, 3], "zero": 0/' \
	'wlb-run: parallel.pp_layers [1,3]: wlb-run runs equal stages only (model.layers / pp each)'
refuse "pp not dividing the layers" 's/"pp": 1/"pp": 3/' \
	'wlb-run: parallel.pp x parallel.vpp (3) does not divide model.layers (4): wlb-run runs equal stages only'
refuse "selective recompute" 's/"zero": 0/"recompute": "selective", "zero": 0/' \
	'wlb-run: parallel.recompute "selective": wlb-run keeps every activation (recompute "none"); wlb-sim models recompute'
refuse "full recompute" 's/"zero": 0/"recompute": true, "zero": 0/' 'parallel.recompute "full"'
refuse "zero 3 over cp 2" 's/"zero": 0/"zero": 3/' \
	'wlb-run: parallel.zero 3: wlb-run all-reduces whole gradients over DP x CP and shards nothing (zero 0)'
refuse "zero 1 over dp 2" 's/"zero": 0/"zero": 1/' 'parallel.zero 1: wlb-run' --cp 1 --dp 2
refuse "gradient overlap" 's/"overlap_grad_reduce": false/"overlap_grad_reduce": true/' \
	'wlb-run: parallel.overlap_grad_reduce true: wlb-run reduces the gradients after the last backward (overlap_grad_reduce false)'
refuse "micro_batch_size 2" 's/"zero": 0/"micro_batch_size": 2, "zero": 0/' \
	'wlb-run: parallel.micro_batch_size 2: wlb-run runs one sequence a micro-batch (micro_batch_size 1)'
refuse "tied embeddings" 's/"mlp": "swiglu"/"mlp": "swiglu", "tied_embeddings": true/' \
	'wlb-run: model.tied_embeddings true: wlb-run has no input embedding to tie'
# with one rank a stage and no DP x CP, zero and the overlap change nothing: run
refuse "zero 3 alone: past the refusals" 's/"zero": 0, "overlap_grad_reduce": false/"zero": 3/' \
	'--nproc 3: the configuration needs tp x cp x pp x dp = 1 ranks' --cp 1 --nproc 3
# --pp another stage count drops pp_layers (the default split)
refuse "--pp over pp_layers" 's/"pp": 1/"pp": 2/; s/"zero": 0/"pp_layers": [1, 3], "zero": 0/' \
	'--nproc 3: the configuration needs tp x cp x pp x dp = 8 ranks' --pp 4 --nproc 3
# wlb-tune --validate: what wlb-run cannot run is refused up front, naming the
# candidate (a ZeRO stage it validates as zero 0, above; recompute it cannot;
# the first with all-gather CP: disaggregated attention leads the tiny trace)
sed 's/"zero": 0/"recompute": true, "zero": 0/' "$TINY" >"$T/rc.json"
expect_err "--validate, full recompute" 'parallel.recompute "full"' \
	"$B/wlb-tune" "$T/rc.json" --fixed-parallel --iterations 1 --top 10 --validate --device cpu --quiet
expect_err "missing report" "nope.json" "$R" "$TINY" --device cpu --compare-with "$T/nope.json"
expect_err "bad --timeout" "--timeout" "$R" "$TINY" --device cpu --timeout -1
if [ -e /dev/nvidia0 ]; then :; else
	expect_err "no GPU" "cuda" "$R" "$TINY" --device cuda --timeout 30
fi

# Ctrl-C (README "Progress and interrupting"): the ranks stop, one line, 130
interrupt INT "wlb-run SIGINT" "wlb-run: interrupted; nothing written" \
	"$R" "$TINY" --device cpu --iterations 500 --json "$T/int/run.json"

echo "run: $pass passed, $fail failed"
