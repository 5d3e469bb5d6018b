#!/bin/sh
# make test-gpu: wlb-run on the GPU path.  --check on one GPU (and sharded
# over CP, PP and TP where the node has the GPUs; the gradient signatures it
# prints agree to bf16 rounding only), then a short measured run compared
# with wlb-sim's prediction.  Prints "check_run: N passed, M
# failed"; exits 2 when there is no CUDA device.
set -u
B=${WLB_BIN:-bin}
CHK=traces/run/check-gpu.json     # --check: float64 references on the host, so small
TR=traces/run/small-gpu.json      # the measured run
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
pass=0 fail=0
gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
if [ "$gpus" -lt 1 ]; then echo "check_run: no CUDA device"; exit 2; fi
run() { # DESC TRACE OPTS...
	desc=$1 tr=$2; shift 2
	if "$B/wlb-run" "$tr" --timeout 300 "$@" >"$T/out" 2>"$T/err"; then
		pass=$((pass + 1)); grep -E "check:|error|signature|iteration time" "$T/out" | sed "s/^/check_run: $desc: /"
	else
		fail=$((fail + 1)); echo "check_run: $desc FAILED: $(head -c 600 "$T/err")"
	fi
}
run "check, 1 GPU" "$CHK" --check --packing concat --sharding per-doc
[ "$gpus" -ge 2 ] && run "check, cp 2" "$CHK" --check --cp 2 --packing concat --sharding per-doc
[ "$gpus" -ge 2 ] && run "check, pp 2" "$CHK" --check --pp 2 --packing concat --sharding per-doc
[ "$gpus" -ge 4 ] && run "check, tp 2 cp 2" "$CHK" --check --tp 2 --cp 2 --packing concat --sharding per-doc
"$B/wlb-sim" "$TR" --json "$T/pred.json" --quiet >/dev/null 2>&1
run "measured" "$TR" --json "$T/run.json" --compare-with "$T/pred.json"
cat "$T/out"
echo "check_run: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
