#!/bin/sh
# Command-line tests: bad input gives one clear line on stderr and a non-zero
# exit (never a crash); good input gives the documented outputs,
# byte-identical for the same seed.  Ends with "cli: N passed, M failed".
set -u
B=${WLB_BIN:-bin}
D=$(dirname "$0")/data
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
pass=0 fail=0
NAME=cli
. "$(dirname "$0")/cli_lib.sh"

# a trace built from the valid fixture with one line changed by sed
variant() { sed "$1" "$D/trace_full.json" >"$T/v.json"; }

W="$B/wlb-trace"
expect_ok "help" "wlb-trace gen" "$W" --help
expect_err "unknown command" 'unknown command "frobnicate"' "$W" frobnicate
expect_err "missing trace" "nope.json" "$W" pack "$T/nope.json"
printf '{"format": "wlb-trace/1",\n  "context": 1024,,\n}\n' >"$T/malformed.json"
expect_err "malformed JSON" "malformed.json:2:" "$W" pack "$T/malformed.json"
printf '' >"$T/empty.json"
expect_err "empty file" "empty.json" "$W" pack "$T/empty.json"
variant 's/"gpu": "h100-sxm"/"gpu": "h100-sxm", "colour": 1/'
expect_err "unknown key" '"colour"' "$W" pack "$T/v.json"
variant 's/"tp": 8/"tp": 3/'
expect_err "tp not dividing heads" "parallel.tp must divide heads (32), got 3" "$W" pack "$T/v.json"
variant 's/"context": 131072/"context": 0/'
expect_err "zero context" "context" "$W" pack "$T/v.json"
variant 's/"pp": 4/"pp": -4/'
expect_err "negative pp" "parallel.pp" "$W" pack "$T/v.json"
variant 's/"weight": 0.977/"weight": 0/'
expect_err "zero weight" "weight" "$W" pack "$T/v.json"
variant 's/"tp": 8/"tp": "8"/'
expect_err "string for integer" "parallel.tp" "$W" pack "$T/v.json"
variant 's/"sharding": "adaptive"/"sharding": "adaptive", "doc_order": "sorted"/'
expect_err "bad doc_order" 'v.json:11:' "$W" pack "$T/v.json"
expect_err "bad doc_order says what" 'policy.doc_order must be one of: stream, zigzag, got "sorted"' \
	"$W" pack "$T/v.json"
expect_err "bad --doc-order" '--doc-order: expected stream or zigzag, got "random"' \
	"$W" pack "$D/trace_full.json" --doc-order random
# zigzag placement evens out per-seq sharding: CP imbalance falls on the tiny trace
cp_imb() { "$W" pack traces/run/tiny.json --sharding per-seq --summary "$@" |
	awk '/imbalance_cp/ { print $2 }'; }
a=$(cp_imb --doc-order stream) z=$(cp_imb --doc-order zigzag)
awk -v a="$a" -v z="$z" 'BEGIN { exit !(a != "" && z != "" && z < a - 0.1) }' && ok ||
	bad "zigzag order did not lower imbalance_cp: stream $a, zigzag $z"
expect_ok "wlb's default order is zigzag" "documents in zigzag order" \
	"$W" pack traces/run/tiny.json --summary
expect_ok "concat's default order is stream" "documents in stream order" \
	"$W" pack traces/run/tiny.json --packing concat --summary
expect_err "garbage lengths line" "lengths_bad.txt:3" "$W" pack "$D/trace_lengths_bad.json"
expect_err "missing lengths file" "lengths_file" "$W" pack "$D/trace_lengths_missing.json"
expect_err "bad --packing" '--packing: expected concat, greedy, bfd, wlb or wlb-mem, got "fast"' \
	"$W" pack "$D/trace_full.json" --packing fast
expect_err "bad --thresholds" "--thresholds: must increase" "$W" pack "$D/trace_full.json" --thresholds 5,3
expect_err "bad --s-max" "--s-max" "$W" pack "$D/trace_full.json" --s-max 0
expect_err "s_max below context" "s_max" "$W" pack "$D/trace_full.json" --s-max 1000
expect_err "bad --tp" '--tp: expected an integer of at least 1, got "x"' "$W" gen --preset web --tp x -o "$T/g.json"
expect_err "gen without -o" "-o FILE" "$W" gen --preset web
expect_err "gen bad preset" '"webby"' "$W" gen --preset webby -o "$T/g.json"
expect_err "gen tp over heads" "parallel.tp" "$W" gen --preset web --tp 64 -o "$T/g.json"
expect_err "option of another command" "--docs does not apply" "$W" pack "$D/trace_full.json" --docs 5
expect_err "unwritable output" "nodir" "$W" gen --preset web -o "$T/nodir/g.json"
[ -z "$(ls "$T" | grep tmp)" ] && ok || bad "a temp file was left behind"

# good runs
expect_ok "gen" "iterations of wlb128k" "$W" gen --preset wlb128k --iterations 20 --seed 3 -o "$T/g.json"
expect_ok "stats" "tokens in documents longer than 8K" "$W" stats "$T/g.json"
expect_ok "pack" "imbalance_pp" "$W" pack "$T/g.json"
expect_ok "compare" "WLB-LLM" "$W" pack "$T/g.json" --compare
expect_ok "json to stdout" '"format": "wlb-report/1"' "$W" pack "$T/g.json" --json - --compare
expect_ok "lengths file" "summary over" "$W" pack "$D/trace_lengths.json" --summary
expect_ok "explicit batches" "summary over" "$W" pack "$D/trace_batches.json" --summary
# a Megatron-LM .idx as the lengths file: the same statistics as its text twin
# (7 documents: the eight of the index less its empty one)
expect_ok "megatron .idx stats" "7 documents, 154059 tokens" "$W" stats "$D/trace_megatron.json"
expect_ok "megatron .idx pack" "summary over" "$W" pack "$D/trace_megatron.json" --summary
"$W" stats "$D/trace_megatron.json" | tail -n +2 >"$T/idx.out"
sed "s|megatron_small.idx|$(cd "$D" && pwd)/megatron_small.txt|" "$D/trace_megatron.json" >"$T/twin.json"
"$W" stats "$T/twin.json" | tail -n +2 >"$T/txt.out"
cmp -s "$T/idx.out" "$T/txt.out" && ok || bad "stats of megatron_small.idx and .txt differ"
head -c 200 "$D/megatron_small.idx" >"$T/cut.idx"
sed "s|megatron_small.idx|cut.idx|" "$D/trace_megatron.json" >"$T/cut.json"
expect_err "truncated .idx" "cut.idx: byte 200: truncated: the header declares 14 sequences and 9 document indices, expected 274 bytes, got 200" \
	"$W" stats "$T/cut.json"

# tools/lengths-from-hf.py, the JSON-lines path (standard library only)
if command -v python3 >/dev/null 2>&1; then
	L=$(dirname "$0")/../tools/lengths-from-hf.py
	printf '{"n": 100, "ids": [7, 8, 9]}\n\n{"n": 0, "ids": []}\n{"n": 2048, "ids": [5]}\n' >"$T/c.jsonl"
	python3 "$L" --jsonl "$T/c.jsonl" --count-field n -o "$T/hf.txt" >/dev/null 2>&1
	[ "$(grep -v '^#' "$T/hf.txt" | tr '\n' ' ')" = "100 2048 " ] && ok ||
		bad "lengths-from-hf --count-field: $(cat "$T/hf.txt")"
	grep -q "1 empty documents left out" "$T/hf.txt" && ok || bad "lengths-from-hf: empty documents not counted"
	python3 "$L" --jsonl - --tokens-field ids --add-eod -o - <"$T/c.jsonl" >"$T/hf2.txt"
	[ "$(grep -v '^#' "$T/hf2.txt" | tr '\n' ' ')" = "4 2 " ] && ok ||
		bad "lengths-from-hf --tokens-field --add-eod: $(cat "$T/hf2.txt")"
	# what it writes is a lengths file wlb reads
	sed "s|megatron_small.idx|hf.txt|" "$D/trace_megatron.json" >"$T/hf.json"
	expect_ok "lengths-from-hf output as lengths_file" "2 documents, 2148 tokens" "$W" stats "$T/hf.json"
	printf '{"n": 1}\n{"m": 2}\n' >"$T/d.jsonl"
	expect_err "lengths-from-hf missing field" 'd.jsonl:2: no field "n"' \
		python3 "$L" --jsonl "$T/d.jsonl" --count-field n -o "$T/never.txt"
	[ ! -e "$T/never.txt" ] && ok || bad "lengths-from-hf left a file behind after an error"
	printf '{"n": 1}\n{"n": -3}\n' >"$T/d.jsonl"
	expect_err "lengths-from-hf negative count" "d.jsonl:2: n: expected a token count" \
		python3 "$L" --jsonl "$T/d.jsonl" --count-field n -o -
	printf '{"n": 1}\n{"n": 2,\n' >"$T/d.jsonl"
	expect_err "lengths-from-hf bad JSON" "d.jsonl:2: not JSON" \
		python3 "$L" --jsonl "$T/d.jsonl" --count-field n -o -
	if ! python3 -c 'import datasets' 2>/dev/null; then
		python3 "$L" --hf some/dataset --field input_ids -o - >/dev/null 2>"$T/err"
		[ $? -eq 2 ] && grep -q "pip install datasets" "$T/err" && ok ||
			bad "lengths-from-hf --hf without datasets: $(cat "$T/err")"
	fi
	expect_ok "lengths-from-hf --help" "--count-field n_tokens" python3 "$L" --help
else
	echo "cli: python3 not found: tools/lengths-from-hf.py not tested" >&2
fi

# determinism: same inputs and seed, byte-identical reports and traces
"$W" pack "$T/g.json" --compare --no-timing --json "$T/a.json" >/dev/null 2>&1
"$W" pack "$T/g.json" --compare --no-timing --json "$T/b.json" >/dev/null 2>&1
cmp -s "$T/a.json" "$T/b.json" && ok || bad "pack reports differ between two runs"
"$W" gen --preset wlb128k --iterations 20 --seed 3 -o "$T/g2.json" >/dev/null
cmp -s "$T/g.json" "$T/g2.json" && ok || bad "gen output differs between two runs"
# command-line options override the trace
"$W" pack "$T/g.json" --packing concat --sharding per-seq --json "$T/c.json" >/dev/null 2>&1
grep -q '"packing": "concat"' "$T/c.json" && ok || bad "--packing did not override the trace"
# a different seed gives different documents
"$W" pack "$T/g.json" --seed 4 --no-timing --json "$T/s.json" >/dev/null 2>&1
"$W" pack "$T/g.json" --no-timing --json "$T/a1.json" >/dev/null 2>&1
cmp -s "$T/s.json" "$T/a1.json" && bad "--seed had no effect" || ok

# wlb-profile
P="$B/wlb-profile"
expect_ok "profile help" "--import-nccl-tests" "$P" --help
expect_err "unknown GPU" 'unknown GPU "h900"' "$P" --analytic --gpu h900 -o "$T/x.db"
[ ! -e "$T/x.db" ] && ok || bad "a failed --analytic left a DB behind"
expect_err "missing DB" "no such cost DB" "$P" --show "$T/none.db"
printf 'this is not sqlite\n' >"$T/corrupt.db"
expect_err "corrupt DB" "corrupt.db" "$P" --show "$T/corrupt.db"
expect_err "corrupt DB estimate" "corrupt.db" "$P" --estimate "gemm 1 2 3" --db "$T/corrupt.db"
expect_ok "analytic" "analytic samples for a100-80g" "$P" --analytic --gpu a100-80g -o "$T/a100.db"
expect_ok "show" "gemm_sample" "$P" --show "$T/a100.db"
# --set: the DB records it, and a forward 1.5x as efficient takes 1/1.5 the
# time less the launch (5 us per call of 8 pieces of 4096 rows: 0.625 us a
# piece); bad figures are refused and nothing is written
expect_ok "analytic --set" "analytic samples" \
	"$P" --analytic --gpu h100-sxm --set attn_eff_fwd=0.522,net_lat_us=20 -o "$T/set.db"
expect_ok "--set recorded" "flags analytic --set attn_eff_fwd=0.522,net_lat_us=20" "$P" --show "$T/set.db"
e0=$("$P" --estimate "attn fwd 4 4 128 4096 4096" --gpu h100-sxm | awk '{ print $1 }')
e1=$("$P" --estimate "attn fwd 4 4 128 4096 4096" --db "$T/set.db" | awk '{ print $1 }')
awk -v a="$e0" -v b="$e1" 'BEGIN { exit !(a > 0 && ((a - 0.625) / (b - 0.625) / 1.5 - 1) ^ 2 < 1e-6) }' && ok ||
	bad "--set attn_eff_fwd=0.522: forward attention $e0 us -> $e1 us, expected 1.5x faster"
expect_err "--set out of range" '--set: attn_eff_bwd: expected a number in (0, 1], got "2"' \
	"$P" --analytic --gpu h100-sxm --set attn_eff_bwd=2 -o "$T/set2.db"
expect_err "--set unknown" '--set: unknown figure "speed"' \
	"$P" --analytic --gpu h100-sxm --set speed=2 -o "$T/set2.db"
[ ! -e "$T/set2.db" ] && ok || bad "a refused --set left a DB behind"
expect_err "--set without --analytic" "--set goes with --analytic" "$P" --set attn_eff_fwd=0.5 --show "$T/set.db"
expect_err "malformed estimate" '--estimate: expected "gemm M N K' "$P" --estimate "gemm 12 x 3" --db "$T/a100.db"
expect_err "unknown estimate" "--estimate" "$P" --estimate "conv 1 2" --db "$T/a100.db"
expect_err "estimate kv < q" "KV_LEN >= Q_LEN" "$P" --estimate "attn fwd 8 8 128 4096 1024" --db "$T/a100.db"
# the first field is microseconds; exact at a sample, interpolated between
expect_ok "estimate exact" " exact" "$P" --estimate "gemm 4096 1536 4096" --db "$T/a100.db"
expect_ok "estimate interpolated" " interpolated" "$P" --estimate "gemm 5000 1536 4096" --db "$T/a100.db"
expect_ok "estimate extrapolated" " extrapolated" "$P" --estimate "gemm 1048576 1536 4096" --db "$T/a100.db"
expect_ok "estimate built-in DB" " exact" "$P" --estimate "coll all_gather 8 1 67108864" --gpu h100-sxm
"$P" --estimate "p2p inter 33554432" --gpu h100-sxm | awk '$1 + 0 > 0 && NF == 2 { f = 1 } END { exit !f }' \
	&& ok || bad "--estimate does not print 'MICROSECONDS HOW'"
expect_err "nccl-tests without rows" "no nccl-tests data rows" \
	"$P" --import-nccl-tests "$D/nccl_empty.txt" --op all_gather --ranks 8 -o "$T/n.db"
[ ! -e "$T/n.db" ] && ok || bad "a failed import left a new DB behind"
expect_err "nccl-tests bad op" "--op" \
	"$P" --import-nccl-tests "$D/nccl_all_gather_8.txt" --op gather --ranks 8 -o "$T/n.db"
expect_ok "nccl-tests import" "29 all_gather samples" \
	"$P" --import-nccl-tests "$D/nccl_all_gather_8.txt" --op all_gather --ranks 8 -o "$T/a100.db"
expect_ok "imported rows shown" "imported" "$P" --show "$T/a100.db"
# the imported log now answers inside its range: 8 GiB took 20779 us
expect_ok "imported wins" "20779.00 exact" "$P" --estimate "coll all_gather 8 1 8589934592" --db "$T/a100.db"
expect_err "pack with a missing DB" "none.db" "$W" pack "$D/trace_full.json" --costdb "$T/none.db"
expect_ok "pack with --costdb" "imbalance_pp" "$W" pack "$D/trace_full.json" --costdb "$T/a100.db" --summary

# wlb-sim
S="$B/wlb-sim"
expect_ok "sim help" "--mb-order" "$S" --help
expect_ok "sim run" "simulated 3 iterations" "$S" "$D/trace_full.json" --iterations 3
expect_ok "sim lost time" "pipeline bubbles" "$S" "$D/trace_full.json" --iterations 3 --quiet
"$S" "$D/trace_full.json" --iterations 3 --compare >"$T/cmp.txt" 2>"$T/err"
if grep -Eq '^Plain-4D .* 1\.000x' "$T/cmp.txt" && grep -Eq '^Fixed-4D .* [0-9]+\.[0-9]{3}x' "$T/cmp.txt" &&
   grep -Eq '^WLB-LLM .* [0-9]+\.[0-9]{3}x' "$T/cmp.txt"; then ok
else bad "sim --compare lacks Plain-4D / Fixed-4D / WLB-LLM with speedups: $(head -c 300 "$T/err")"; fi
# WLB-LLM with its documents in stream order is not the bundle: its own row
"$S" traces/run/tiny.json --compare --doc-order stream --quiet >"$T/cmp.txt" 2>"$T/err"
grep -Eq '^WLB-LLM +wlb +adaptive .* zigzag$' "$T/cmp.txt" &&
	grep -Eq '^this policy +wlb +adaptive .* stream$' "$T/cmp.txt" && ok ||
	bad "sim --compare --doc-order stream: no own row beside WLB-LLM's: $(head -c 300 "$T/err")"
# hybrid CP sharding: its own row in --compare, what it chose in the summary,
# never slower than adaptive here (tools/hybrid-check.sh checks every trace)
grep -Eq '^WLB-LLM \+ hybrid +wlb +hybrid .* [0-9]+\.[0-9]{3}x' "$T/cmp.txt" && ok ||
	bad "sim --compare lacks a WLB-LLM + hybrid row: $(head -c 300 "$T/cmp.txt")"
expect_ok "sim hybrid" "% hybrid;" "$S" traces/paper/7b-128k.json --iterations 3 --quiet --sharding hybrid
expect_ok "pack hybrid" "of micro-batches sharded hybrid" "$W" pack traces/paper/7b-128k.json --iterations 3 \
	--sharding hybrid --summary
expect_err "bad --sharding" '--sharding: expected per-seq, per-doc, adaptive or hybrid, got "mixed"' \
	"$S" traces/run/tiny.json --sharding mixed
WLB_BIN="$B" sh tools/hybrid-check.sh traces/paper/7b-128k.json traces/run/tiny.json >"$T/hc.txt" 2>&1 &&
	grep -q '^2 traces: hybrid / adaptive min' "$T/hc.txt" && ok ||
	bad "tools/hybrid-check.sh: $(tail -c 300 "$T/hc.txt")"
# memory-aware WLB: its row with peak GiB; a cap at a Fixed-4D micro-batch's
# activations (8.04 GiB on 7b-128k) keeps its peak below WLB-LLM's
"$S" traces/paper/7b-128k.json --iterations 4 --compare --quiet --mem-cap 8.05 >"$T/cmp.txt" 2>"$T/err"
grep -q 'peak GiB' "$T/cmp.txt" && awk '$1 == "WLB-LLM" && $2 == "wlb" { l = $13 } $1 == "WLB-mem" && $2 == "wlb-mem" { m = $13 }
	END { exit !(l != "" && m != "" && m + 0 < l - 5) }' "$T/cmp.txt" && ok ||
	bad "sim --compare --mem-cap: WLB-mem's peak not below WLB-LLM's: $(cat "$T/cmp.txt" "$T/err" | head -c 900)"
expect_ok "sim memory divergence" "memory divergence  micro-batches" "$S" traces/run/tiny.json --quiet
expect_err "bad --mem-cap" '--mem-cap: expected GiB > 0, got "-1"' "$S" traces/run/tiny.json --mem-cap -1
expect_err "mem cap under a context" "less than the context" \
	"$S" traces/paper/7b-128k.json --packing wlb-mem --mem-cap 0.5 --iterations 1
variant 's/"sharding": "adaptive"/"sharding": "adaptive", "mem_cap_gib": 0/'
expect_err "bad mem_cap_gib" 'policy.mem_cap_gib' "$S" "$T/v.json"
"$B/wlb-trace" pack traces/paper/7b-128k.json --iterations 2 --json "$T/pm.json" >/dev/null 2>&1
grep -qF '"imbalance_mem"' "$T/pm.json" && grep -qF '"act_gib"' "$T/pm.json" && ok ||
	bad "wlb-trace pack --json lacks imbalance_mem / act_gib"
# ring CP: said in the header, timed otherwise than the all-gather
expect_ok "sim ring" "ring attention over CP" "$S" traces/run/tiny.json --cp-algo ring --quiet
ms() { "$S" traces/paper/7b-128k.json --iterations 3 --quiet "$@" | awk '/iteration time/ { print $3 }'; }
a=$(ms) r=$(ms --cp-algo ring)
[ -n "$a" ] && [ -n "$r" ] && [ "$a" != "$r" ] && ok || bad "ring CP timed like all-gather: $a vs $r"
expect_err "bad --cp-algo" '--cp-algo: expected allgather, ring or distca, got "tcp"' "$S" traces/run/tiny.json --cp-algo tcp
# per-sequence CP: its report lines, both --compare rows, the refusals, the trace key kept
expect_ok "sim --cp-mode" "static layout kept" "$S" traces/run/tiny.json --cp-mode dynamic-cost --quiet
"$S" traces/run/tiny.json --compare --quiet >"$T/cmp.txt" 2>&1
grep -Eq '^DynCP \(Megatron\) +wlb ' "$T/cmp.txt" && grep -Eq '^DynCP \(cost\) +wlb ' "$T/cmp.txt" &&
	ok || bad "sim --compare lacks the per-seq CP rows"
expect_err "bad --cp-mode" '--cp-mode: expected static, dynamic-megatron or dynamic-cost, got "auto"' \
	"$S" traces/run/tiny.json --cp-mode auto
expect_err "cp-mode with ring" 'is modelled with parallel.cp_algo allgather, got ring' \
	"$S" traces/run/tiny.json --cp-mode dynamic-megatron --cp-algo ring
expect_err "cp-mode with distca" 'is modelled with parallel.cp_algo allgather, got distca' \
	"$S" traces/run/tiny.json --cp-mode dynamic-cost --cp-algo distca
sed 's/"policy": {/"policy": {"cp_mode": "dynamic-cost", /' traces/run/tiny.json >"$T/dcp.json"
expect_ok "trace cp_mode" "dynamic-cost over a pool" "$S" "$T/dcp.json" --quiet
sed 's/"policy": {/"policy": {"cp_mode": "sometimes", /' traces/run/tiny.json >"$T/dcp_bad.json"
expect_err "trace bad cp_mode" 'policy.cp_mode must be one of' "$S" "$T/dcp_bad.json"
sed 's/"cp": 2/"cp": 1/; s/"dp": 1/"dp": 2/; s/"model": {/"model": {"attention": "unfused", /' \
	"$T/dcp.json" >"$T/dcp_unf.json"
expect_err "cp_mode without CP" 'policy.cp_mode dynamic-cost needs context parallelism' "$S" "$T/dcp_unf.json"
expect_ok "sim json to stdout" '"format": "wlb-report/1"' "$S" "$D/trace_full.json" --iterations 3 --json -
grep -qF '"source": "simulated"' "$T/out" && ok || bad "sim report lacks \"source\": \"simulated\""
"$S" "$D/trace_full.json" --iterations 3 --compare --json "$T/sc.json" >/dev/null 2>&1
grep -qF '"comparison"' "$T/sc.json" && grep -qF '"speedup"' "$T/sc.json" && ok \
	|| bad "sim --compare --json lacks the comparison"
"$S" "$D/trace_full.json" --iterations 3 --csv "$T/it.csv" >/dev/null 2>&1
[ "$(wc -l <"$T/it.csv")" -eq 4 ] && head -n 1 "$T/it.csv" | grep -q '^iteration,time_ms,' && ok \
	|| bad "sim --csv is not a header and 3 rows"
"$S" "$D/trace_full.json" --iterations 3 --chrome-trace "$T/ct.json" >/dev/null 2>&1
if command -v python3 >/dev/null 2>&1; then
	python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["traceEvents"]' "$T/ct.json" 2>/dev/null \
		&& ok || bad "sim --chrome-trace is not JSON with traceEvents"
else
	grep -qF '"traceEvents"' "$T/ct.json" && ok || bad "sim --chrome-trace lacks traceEvents"
fi
"$S" "$D/trace_full.json" --iterations 3 --compare --json "$T/s1.json" >/dev/null 2>&1
"$S" "$D/trace_full.json" --iterations 3 --compare --json "$T/s2.json" >/dev/null 2>&1
[ -s "$T/s1.json" ] && cmp -s "$T/s1.json" "$T/s2.json" && ok || bad "sim reports differ between two runs"
expect_err "sim missing trace" "nope.json" "$S" "$T/nope.json"
"$P" --analytic --gpu a100-80g -o "$T/a100-sim.db" >/dev/null 2>&1
expect_err "sim DB of another GPU" "a100-80g" "$S" "$D/trace_full.json" --iterations 1 --costdb "$T/a100-sim.db"
grep -qF "h100-sxm" "$T/err" && ok || bad "sim: the GPU mismatch does not name the trace's gpu"
expect_err "sim bad --mb-order" '--mb-order: expected packed, heavy-first or light-first, got "nonsense"' \
	"$S" "$D/trace_full.json" --mb-order nonsense
expect_err "sim --timeline-iter too far" "--timeline-iter 3" \
	"$S" "$D/trace_full.json" --iterations 3 --timeline-iter 3 --chrome-trace "$T/tl.json"
[ ! -e "$T/tl.json" ] && ok || bad "sim: a refused run wrote its chrome trace"
variant 's/"gpus_per_node": 8/"gpus_per_node": 8, "nodes": 3/'
expect_err "sim cluster size" "cluster.nodes" "$S" "$T/v.json" --iterations 1
variant 's/"context": 131072/"context": 2/; s/"s_max": 196608/"s_max": 2/; s/\[32768, 65536\]/[1]/'
expect_err "sim 2 cp over context" "context" "$S" "$T/v.json" --iterations 1

# wlb-sim --config: a wlb-config/1 over the trace's documents, before the
# command-line overrides
cat >"$T/cfg.json" <<'EOF'
{
  "format": "wlb-config/1",
  "name": "7b-128k",
  "model": {"layers": 32, "hidden": 4096, "ffn_hidden": 11008, "heads": 32,
            "kv_heads": 32, "head_dim": 128, "vocab": 32000, "mlp": "swiglu"},
  "gpu": "h100-sxm",
  "cluster": {"gpus_per_node": 8},
  "parallel": {"tp": 8, "cp": 2, "pp": 4, "dp": 1, "vpp": 1,
               "microbatches": 4, "schedule": "1f1b"},
  "context": 131072,
  "policy": {"packing": "concat", "sharding": "per-seq"},
  "predicted": {"tokens_per_s": 1}
}
EOF
# the policy of the report's config, or "" when there is no report
report_packing() {
	sed -n '/"config"/,/"summary"/p' "$1" 2>/dev/null | grep -m 1 '"packing"' | sed -E 's/.*"packing": "([^"]*)".*/\1/'
}
expect_ok "sim help --config" "--config CONFIG" "$S" --help
"$S" "$D/trace_full.json" --config "$T/cfg.json" --iterations 2 --quiet --json "$T/rc.json" >/dev/null 2>"$T/err"
[ "$(report_packing "$T/rc.json")" = concat ] && ok || bad "sim --config did not apply the config's packing: $(head -c 300 "$T/err")"
"$S" "$D/trace_full.json" --config "$T/cfg.json" --packing greedy --iterations 2 --quiet --json "$T/rc2.json" >/dev/null 2>&1
[ "$(report_packing "$T/rc2.json")" = greedy ] && ok || bad "--packing did not override --config"
printf '{"format": "wlb-config/1",\n  "context": 1024,,\n}\n' >"$T/cfgmal.json"
expect_err "sim malformed config" "cfgmal.json:2:" "$S" "$D/trace_full.json" --config "$T/cfgmal.json"
sed 's/"predicted": {"tokens_per_s": 1}/"data": {"iterations": 1}/' "$T/cfg.json" >"$T/cfgdata.json"
expect_err "config with data" "cfgdata.json:12:3: data: a wlb-config/1 file holds no data" \
	"$S" "$D/trace_full.json" --config "$T/cfgdata.json"
expect_err "trace as config" 'format must be "wlb-config/1", got "wlb-trace/1"' \
	"$S" "$D/trace_full.json" --config "$D/trace_full.json"
sed 's/"tp": 8/"tp": 3/' "$T/cfg.json" >"$T/cfgtp.json"
expect_err "config tp" "cfgtp.json:8:22: parallel.tp must divide heads (32), got 3" \
	"$S" "$D/trace_full.json" --config "$T/cfgtp.json"
expect_err "config missing" "none.json" "$S" "$D/trace_full.json" --config "$T/none.json"
expect_err "--config of another command" "--config does not apply" "$W" pack "$D/trace_full.json" --config "$T/cfg.json"

# wlb-tune
U="$B/wlb-tune"
expect_ok "tune help" "--fixed-parallel" "$U" --help
expect_ok "tune -o" "wrote #1" "$U" "$D/trace_full.json" --fixed-parallel --iterations 3 --quiet -o "$T/best.json"
grep -qF '"format": "wlb-config/1"' "$T/best.json" && grep -qF '"speedup_over_plain4d"' "$T/best.json" &&
	! grep -qF '"data"' "$T/best.json" && ok || bad "wlb-tune -o did not write a wlb-config/1 with predicted figures"
expect_ok "sim --config of wlb-tune -o" "simulated 2 iterations" \
	"$S" "$D/trace_full.json" --config "$T/best.json" --iterations 2 --quiet
expect_ok "tune table" "speedup of #1 over Plain-4D" "$U" "$D/trace_full.json" --fixed-parallel --iterations 3 --quiet
expect_ok "tune --megatron" "--tensor-model-parallel-size 8" \
	"$U" "$D/trace_full.json" --fixed-parallel --iterations 3 --quiet --megatron
grep -qF -- "--context-parallel-size 2" "$T/out" && grep -qF "Megatron has no flag for them" "$T/out" && ok \
	|| bad "wlb-tune --megatron lacks --context-parallel-size or the data-loader line"
expect_ok "tune --torchtitan" "[parallelism]" \
	"$U" "$D/trace_full.json" --fixed-parallel --iterations 3 --quiet --torchtitan
grep -qF "context_parallel_degree = 2" "$T/out" && grep -qF "[training]" "$T/out" && ok \
	|| bad "wlb-tune --torchtitan lacks context_parallel_degree or [training]"
# the keys for real runs in the exports: stages of 7, 9, 9, 7 layers, selective
# recompute, ZeRO-1, two sequences a micro-batch
variant 's/"schedule": "1f1b"}/"schedule": "1f1b", "pp_layers": [7, 9, 9, 7], "zero": 1, "recompute": "selective", "micro_batch_size": 2}/'
expect_ok "tune --megatron, pp_layers" "--decoder-first-pipeline-num-layers 7 \\" \
	"$U" "$T/v.json" --fixed-parallel --iterations 2 --quiet --megatron
for a in "--decoder-last-pipeline-num-layers 7 \\" "--recompute-granularity selective \\" \
	 "--use-distributed-optimizer \\" "--overlap-grad-reduce \\" "--overlap-param-gather \\" \
	 "--micro-batch-size 2 \\" "--global-batch-size 8 \\" "--untie-embeddings-and-output-weights"; do
	grep -qxF -- "$a" "$T/out" && ok || bad "wlb-tune --megatron with pp_layers lacks $a"
done
grep -qF -- "--recompute-method" "$T/out" && bad "selective recompute with a --recompute-method" || ok
expect_ok "tune --torchtitan, pp_layers" "pipeline_parallel_microbatch_size = 2" \
	"$U" "$T/v.json" --fixed-parallel --iterations 2 --quiet --torchtitan
for a in 'mode = "selective"' 'selective_ac_option = "op"' "data_parallel_replicate_degree = 1" \
	 "local_batch_size = 8" "global_batch_size = 8" "pipeline_parallel_first_stage_less_layers = 2" \
	 "pipeline_parallel_last_stage_less_layers = 1"; do
	grep -qxF -- "$a" "$T/out" && ok || bad "wlb-tune --torchtitan with pp_layers lacks $a"
done
grep -qF "TorchTitan has no ZeRO-1/2" "$T/out" && ok || bad "wlb-tune --torchtitan says nothing of ZeRO-1"
# a split with unequal middle stages: said in a comment, no first/last flags
variant 's/"schedule": "1f1b"}/"schedule": "1f1b", "pp_layers": [8, 7, 9, 8]}/'
expect_ok "tune --megatron, middle stages differ" "# layers per stage 8,7,9,8: not expressible" \
	"$U" "$T/v.json" --fixed-parallel --iterations 2 --quiet --megatron
grep -q -- "^--decoder-first" "$T/out" && bad "--decoder-first for unequal middle stages" || ok
grep -qxF -- "--use-torch-fsdp2 \\" "$T/out" && bad "--use-torch-fsdp2 with pp 4" || ok
grep -qxF -- "--use-megatron-fsdp \\" "$T/out" && ok || bad "zero 3 with pp 4: no --use-megatron-fsdp"
expect_ok "tune --torchtitan, spelled-out split" "module_fqns_per_model_part = [[\"tok_embeddings\", \"layers.0\"," \
	"$U" "$T/v.json" --fixed-parallel --iterations 2 --quiet --torchtitan
grep -qF '"layers.31", "norm", "output"]]' "$T/out" && ok || bad "the spelled-out split does not end with the output"
# wlb-sim's header names an uneven split, its source, and what is not default
variant 's/"schedule": "1f1b"}/"schedule": "1f1b", "pp_layers": [7, 9, 9, 7], "zero": 1, "recompute": "full"}/'
expect_ok "sim header, pp_layers" "layers per stage 7,9,9,7 (parallel.pp_layers)" \
	"$S" "$T/v.json" --iterations 1 --quiet
grep -qF "1f1b, ZeRO-1, full recompute" "$T/out" && ok || bad "sim header lacks ZeRO-1 / full recompute"
# pp not dividing the layers: the default split, said so
variant 's/"pp": 4/"pp": 6/; s/"microbatches": 4/"microbatches": 6/'
expect_ok "sim header, default uneven split" "layers per stage 5,5,6,6,5,5 (as even as possible: pp 6 does not divide 32 layers)" \
	"$S" "$T/v.json" --iterations 1 --quiet
expect_ok "sim, even split" "TP8 CP2 PP4 DP1" "$S" "$D/trace_full.json" --iterations 1 --quiet
grep -q "layers per stage" "$T/out" && bad "an even split named" || ok
expect_ok "tune --json -" '"format": "wlb-tune/1"' \
	"$U" "$D/trace_full.json" --fixed-parallel --iterations 3 --quiet --json -
expect_err "tune bad --device" '--device: expected cpu or cuda, got "tpu"' "$U" "$D/trace_full.json" --validate --device tpu
expect_err "tune --max-mem 0" "--max-mem: must be above 0" "$U" "$D/trace_full.json" --max-mem 0 -o "$T/nobest.json"
[ ! -e "$T/nobest.json" ] && ok || bad "a refused wlb-tune wrote its config"
expect_err "tune bad --packings" 'unknown packing "fast"' "$U" "$D/trace_full.json" --packings wlb,fast
# 66 = 2 x 3 x 11: no TP/CP power of two, PP of at most 32 layers and DP
# dividing 4 micro-batches multiply to it
expect_err "tune --gpus fits nothing" "66 GPUs" "$U" "$D/trace_full.json" --gpus 66 --quiet
expect_err "tune unknown option" "--bogus" "$U" "$D/trace_full.json" --bogus
expect_err "tune missing trace" "nope.json" "$U" "$T/nope.json"

# wlb-plot: every chart from a hand-written report and from a real one
G="$B/wlb-plot"
GA=$(cd "$(dirname "$G")" && pwd)/wlb-plot
# png_ok FILE: the PNG signature and a plausible size (5 KB to 2 MB)
png_ok() {
	[ -f "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] &&
		[ "$(wc -c <"$1")" -gt 5120 ] && [ "$(wc -c <"$1")" -lt 2097152 ]
}
expect_ok "plot help" "timeline" "$G" --help
expect_err "plot bad --only" '--only: expected microbatch, cp, timeline' "$G" "$D/report_small.json" --only pie
expect_err "plot bad --format" '--format: expected png or svg, got "jpg"' "$G" "$D/report_small.json" --format jpg
head -c 600 "$D/report_small.json" >"$T/trunc.json"
expect_err "plot truncated report" "trunc.json:" "$G" "$T/trunc.json" -o "$T/pbad"
sed 's|"wlb-report/1"|"wlb-trace/1"|' "$D/report_small.json" >"$T/wrongfmt.json"
expect_err "plot wrong format" 'wrongfmt.json:2:13: format: expected "wlb-report/1", got "wlb-trace/1"' \
	"$G" "$T/wrongfmt.json" -o "$T/pbad"
sed 's|"fwd_ms": \[62.5|"fwd_ms": ["62.5"|' "$D/report_small.json" >"$T/wrongtype.json"
expect_err "plot key of the wrong type" 'wrongtype.json:80:38: comparison[0].iterations[0].fwd_ms[0]: expected a number' \
	"$G" "$T/wrongtype.json" -o "$T/pbad"
expect_err "plot missing report" "nope.json" "$G" "$T/nope.json" -o "$T/pbad"
expect_err "plot without gnuplot" "wlb-plot: gnuplot not found: apt-get install --no-install-recommends gnuplot-nox" \
	env PATH=/nonexistent "$GA" "$D/report_small.json" -o "$T/pbad"
[ ! -e "$T/pbad" ] && ok || bad "wlb-plot wrote into -o DIR after refusing its input"
if command -v gnuplot >/dev/null 2>&1; then
	expect_ok "plot small report" "$T/ch/index.html" "$G" "$D/report_small.json" -o "$T/ch"
	for c in microbatch cp timeline cdf doclen speedup; do
		grep -qxF "$T/ch/$c.png" "$T/out" && png_ok "$T/ch/$c.png" && [ -s "$T/ch/$c.dat" ] && [ -s "$T/ch/$c.gp" ] &&
			ok || bad "wlb-plot: $c.png not printed, not a PNG of plausible size, or its .dat/.gp missing"
	done
	# the data files hold the report's numbers: Plain-4D's first micro-batch of
	# iteration 1 (the most imbalanced), rank 1 of per-seq, the DP sync's span...
	grep -q '^0 "0" 81.125 162.25 41 82$' "$T/ch/microbatch.dat" && grep -q ' 7.875 0 0 1$' "$T/ch/cp.dat" &&
		grep -q ' 292.5 296.75 ""$' "$T/ch/timeline.dat" && grep -q '^455.25 100$' "$T/ch/cdf.dat" &&
		grep -q '^301.5 33.33' "$T/ch/cdf.dat" && grep -q '"2K" 2048 4096 180 520000 ' "$T/ch/doclen.dat" &&
		grep -q '"WLB-LLM" 1.32086 ' "$T/ch/speedup.dat" && ok \
		|| bad "wlb-plot: the data files lack the report's numbers"
	grep -qF 'data:image/png;base64,iVBORw0KGgo' "$T/ch/index.html" && [ "$(grep -c '<figure' "$T/ch/index.html")" -eq 6 ] &&
		grep -qF '<td>WLB-LLM</td><td>318.9</td><td>1.321x</td><td>1.041</td><td>1.012</td><td>31.2%</td><td>0.375</td>' \
			"$T/ch/index.html" && ok || bad "wlb-plot: index.html lacks the embedded charts or the summary row"
	[ -z "$(ls -a "$T/ch" | grep tmp)" ] && ok || bad "wlb-plot left a temp file behind"
	# the kept script redraws the chart in its directory
	rm -f "$T/ch/cdf.png"
	(cd "$T/ch" && gnuplot cdf.gp) && png_ok "$T/ch/cdf.png" && ok || bad "gnuplot cdf.gp does not redraw cdf.png"
	expect_ok "plot svg" "$T/sv/cdf.svg" "$G" "$D/report_small.json" -o "$T/sv" --format svg
	for c in microbatch cp timeline cdf doclen speedup; do
		head -c 5 "$T/sv/$c.svg" 2>/dev/null | grep -qE '^(<\?xml|<svg)' && [ "$(wc -c <"$T/sv/$c.svg")" -gt 5120 ] &&
			ok || bad "wlb-plot --format svg: $c.svg is not SVG"
	done
	[ "$(grep -c '<svg' "$T/sv/index.html")" -eq 6 ] && ok || bad "wlb-plot: index.html does not inline the SVGs"
	expect_ok "plot --only cdf" "$T/only/cdf.png" "$G" "$D/report_small.json" -o "$T/only" --only cdf
	[ "$(ls "$T/only" | grep -cvE '^(cdf\.(png|dat|gp)|index\.html)$')" -eq 0 ] && png_ok "$T/only/cdf.png" && ok \
		|| bad "wlb-plot --only cdf wrote other charts: $(ls "$T/only" | tr '\n' ' ')"
	# measured vs simulated: a "measured" copy of the report beside it
	sed 's/"source": "simulated"/"source": "measured"/; s/"iteration_ms_mean": 421.25/"iteration_ms_mean": 446.5/' \
		"$D/report_small.json" >"$T/measured.json"
	expect_ok "plot measured" "$T/ms/measured.png" "$G" "$D/report_small.json" "$T/measured.json" -o "$T/ms" --only measured
	png_ok "$T/ms/measured.png" && grep -q '"Plain-4D" 421.25 446.5 -5.7$' "$T/ms/measured.dat" && ok \
		|| bad "wlb-plot: measured.png or its data is wrong"
	# a real report from wlb-sim --compare: every chart, the timeline's every task; the CDF
	# holds 4 + 1 points for each of its policies
	"$S" "$D/trace_full.json" --iterations 4 --compare --json "$T/real.json" >/dev/null 2>&1
	expect_ok "plot real report" "$T/rc/index.html" "$G" "$T/real.json" -o "$T/rc"
	for c in microbatch cp timeline cdf doclen speedup; do
		png_ok "$T/rc/$c.png" && ok || bad "wlb-plot on a wlb-sim report: $c.png is not a PNG of plausible size"
	done
	[ "$(grep -c '"[0-9]*"$' "$T/rc/timeline.dat")" -eq "$(grep -c '"kind": ' "$T/real.json")" ] &&
		[ "$(grep -c '^[0-9]' "$T/rc/cdf.dat")" -eq $((5 * $(grep -c '"speedup"' "$T/real.json"))) ] && ok \
		|| bad "wlb-plot: timeline.dat or cdf.dat does not hold every task / iteration of the report"
	# several reports: per-report charts named after them, speedup against the context
	sed 's/"context": 131072/"context": 65536/' "$T/real.json" >"$T/real64.json"
	expect_ok "plot two contexts" "$T/two/speedup.svg" "$G" "$T/real.json" "$T/real64.json" -o "$T/two" --format svg
	grep -qxF "$T/two/cdf-real64.svg" "$T/out" && grep -q '^64 1 ' "$T/two/speedup.dat" && ok \
		|| bad "wlb-plot on two reports: per-report names or speedup.dat wrong"
else
	echo "cli: gnuplot not installed: wlb-plot's chart checks skipped" >&2
fi

# wlb-profile: measuring without a GPU, attention imports
expect_err "measure without GPU" "--analytic" "$P" -o "$T/m.db"
[ ! -e "$T/m.db" ] && ok || bad "a failed measuring run left a DB behind"
expect_err "bad --ops" "--ops" "$P" --ops gemm,fft -o "$T/m.db"
expect_ok "import attn" "3 attention samples (flash-attn)" "$P" --import-attn "$D/attn_small.csv" -o "$T/at.db"
expect_ok "imported attn exact (per piece: 1450.25 / 8)" "181.28 exact" "$P" --estimate "attn fwd 8 8 128 4096 4096" --db "$T/at.db"
expect_err "attn csv bad line" "attn_bad.csv:3" "$P" --import-attn "$D/attn_bad.csv" -o "$T/at2.db"
[ ! -e "$T/at2.db" ] && ok || bad "a failed import left a DB behind"
if command -v python3 >/dev/null 2>&1; then
	python3 -m py_compile tools/profile_attn.py 2>/dev/null && ok || bad "tools/profile_attn.py does not compile"
	rm -rf tools/__pycache__
fi

# the scripts behind the README's paper tables run, every cell filled
# tools/policy-table.sh: a table row per comparison entry of the report, in
# its order, a summary row per bundle, the chart; a bad option is one line
WLB_BIN=$B sh tools/policy-table.sh --traces traces/run/tiny.json --iterations 2 --out "$T/pt" \
	>"$T/pt.md" 2>"$T/err"
n=$(jq '.comparison | length' "$T/pt/run/tiny.json" 2>/dev/null)
jq -r '.comparison[].name' "$T/pt/run/tiny.json" >"$T/pt.want" 2>/dev/null
awk -F' [|] ' '/^#### Summary/ { exit } /^[|] / && $2 !~ /^(policy|---)/ { print $2 }' "$T/pt.md" >"$T/pt.got"
awk -F' [|] ' '/^#### Summary/ { s = 1 } s && /^[|] / && $1 !~ /^[|] (policy|---)/ { sub(/^[|] /, "", $1); print $1 }' \
	"$T/pt.md" >"$T/pt.sum"
[ "${n:-0}" -ge 3 ] && cmp -s "$T/pt.want" "$T/pt.got" && cmp -s "$T/pt.want" "$T/pt.sum" &&
	grep -q '^| WLB-LLM | 1.000x | +0.000 |$' "$T/pt.md" && [ -s "$T/pt/chart/speedup.png" ] && ok ||
	bad "tools/policy-table.sh: ${n:-no} entries; table: $(tr '\n' , <"$T/pt.got"); $(head -c 300 "$T/err")"
expect_err "policy-table bad iterations" '--iterations: expected a positive integer, got "x"' \
	sh tools/policy-table.sh --iterations x
WLB_BIN=$B sh tools/paper-table1.sh 2 >"$T/t1.md" 2>"$T/err"
[ "$(grep -c "^| " "$T/t1.md")" -eq 16 ] && ! grep -q '| *|' "$T/t1.md" && ok ||
	bad "tools/paper-table1.sh: $(head -c 300 "$T/err")"
WLB_BIN=$B sh tools/paper-cpbench.sh 5 >"$T/cb0.md" 2>"$T/err"
[ "$(grep -c '^| [0-9]*K | [0-9.]* | [0-9.]* | [0-9.]* | [0-9.]*x' "$T/cb0.md")" -eq 2 ] && ok ||
	bad "tools/paper-cpbench.sh: $(head -c 300 "$T/err")"
# another preset and CP degree (TP 8 x CP 2) give other times
WLB_BIN=$B sh tools/paper-cpbench.sh 5 "" web 2 >"$T/cb.md" 2>"$T/err"
[ "$(grep -c '^| [0-9]*K | [0-9.]* | [0-9.]* | [0-9.]* | [0-9.]*x' "$T/cb.md")" -eq 2 ] &&
	! cmp -s "$T/cb.md" "$T/cb0.md" && ok || bad "tools/paper-cpbench.sh web 2: $(head -c 300 "$T/err")"
if WLB_BIN=$B sh tools/paper-cpbench.sh 5 "$T/nope.db" >"$T/cb.md" 2>"$T/err"; then
	bad "tools/paper-cpbench.sh with a missing DB succeeded"
else grep -q "nope.db: no such cost DB" "$T/err" && ok || bad "cpbench, missing DB: $(head -c 300 "$T/err")"; fi
WLB_BIN=$B sh tools/paper-sensitivity.sh 2 5 >"$T/sv.md" 2>"$T/err"
[ "$(grep -c '^| .* | [0-9.]*x | [0-9.]*x | [0-9.]*x | [0-9.]*x | [0-9.]*x | [0-9.]*x |$' "$T/sv.md")" -eq 7 ] &&
	[ "$(grep -c '^| [a-z].* | [0-9.]* | [0-9.]*x |$' "$T/sv.md")" -eq 7 ] && ok ||
	bad "tools/paper-sensitivity.sh: $(head -c 300 "$T/err")"

# Llama 3 405B at PP 16 (126 layers: 7,8,...,8,7 by default, as Llama 3 split
# them), with and without pp_layers, every ZeRO stage, selective recompute and
# micro-batches of 4 sequences: each runs, and they order as their semantics say
cat >"$T/405.json" <<'EOF405'
{"format": "wlb-trace/1", "name": "405b-pp16", "model": "llama3-405b", "gpu": "h100-sxm",
 "parallel": {"tp": 8, "cp": 1, "pp": 16, "dp": 2, "microbatches": 16, "zero": ZERO,
              "recompute": "REC", "micro_batch_size": MBS PPL},
 "context": 8192, "policy": {"packing": "concat", "sharding": "per-seq"},
 "data": {"iterations": 1, "seed": 1, "distribution": {"mixture": [{"weight": 1, "point": 8192}]}}}
EOF405
sim405() { # zero recompute mbs pp_layers-fragment -> "ms peak_gib tokens_per_mb" of a run
	sed "s/ZERO/$1/; s/REC/$2/; s/MBS/$3/; s/PPL/$4/" "$T/405.json" >"$T/405v.json"
	"$B/wlb-sim" "$T/405v.json" --quiet --json - 2>"$T/405.err" |
		jq -r '"\(.summary.iteration_ms_mean) \(.summary.peak_mem_gib) \(.iterations[0].microbatches[0].tokens)"'
}
if command -v jq >/dev/null 2>&1; then
	sed "s/ZERO/1/; s/REC/none/; s/MBS/1/; s/PPL//" "$T/405.json" >"$T/405v.json"
	expect_ok "405B at PP 16: the default split named" "layers per stage 7,8x14,7" "$B/wlb-sim" "$T/405v.json" --quiet
	base=$(sim405 1 none 1 "") given=$(sim405 1 none 1 ', "pp_layers": [7,8,8,8,8,8,8,8,8,8,8,8,8,8,8,7]')
	[ -n "$base" ] && [ "$base" = "$given" ] && ok || bad "405B: pp_layers as the default split differs: '$base' vs '$given' $(cat "$T/405.err")"
	heavy=$(sim405 1 none 1 ', "pp_layers": [6,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8]')
	awk -v a="$base" -v b="$heavy" 'BEGIN { split(a, x); split(b, y); exit !(y[1] > x[1]) }' && ok ||
		bad "405B: moving a layer onto a full stage should slow it: '$base' vs '$heavy'"
	z0=$(sim405 0 none 1 "") z2=$(sim405 2 none 1 "") z3=$(sim405 3 none 1 "")
	# memory falls with every ZeRO stage; FSDP's layer gathers never make it faster
	awk -v a="$z0" -v b="$base" -v c="$z2" -v d="$z3" 'BEGIN { split(a, p); split(b, q); split(c, r); split(d, s)
		exit !(p[2] > q[2] && q[2] > r[2] && r[2] > s[2] && s[1] >= q[1]) }' && ok ||
		bad "405B ZeRO 0-3: '$z0' / '$base' / '$z2' / '$z3'"
	sel=$(sim405 1 selective 1 "")
	awk -v a="$base" -v b="$sel" 'BEGIN { split(a, x); split(b, y); exit !(y[1] > x[1] && y[2] < x[2]) }' && ok ||
		bad "405B selective recompute: slower and lighter expected: '$base' vs '$sel'"
	sed "s/ZERO/1/; s/REC/none/; s/MBS/4/; s/PPL//; s/\"microbatches\": 16/\"microbatches\": 4/" "$T/405.json" >"$T/405v.json"
	mb4=$("$B/wlb-sim" "$T/405v.json" --quiet --json - | jq -r '.iterations[0].microbatches[0].tokens')
	[ "$mb4" = 32768 ] && ok || bad "405B micro_batch_size 4: a micro-batch of 4 x 8192 tokens expected, got '$mb4'"
fi

printf '{"format": "wlb-trace/1", "model": "llama2-7b", "parallel": {"micro_batch_size": 4},\n "context": 1073741824, "data": {"distribution": {"preset": "web"}}}\n' >"$T/mbs.json"
expect_err "micro-batch of more than 2^31 tokens" \
	"mbs.json:1:82: parallel.micro_batch_size x context must be at most 2147483648 tokens, got 4 x 1073741824" \
	"$B/wlb-sim" "$T/mbs.json"

# the four hostile inputs of issue 17: each one line, in seconds, non-zero
printf '{"format": "wlb-trace/1", "model": "llama2-7b", "context": 4096,\n "data": {"iterations": 1, "lengths_file": "/dev/zero"}}\n' >"$T/h1.json"
expect_err "lengths_file /dev/zero" "data.lengths_file: /dev/zero: expected a regular file (lengths file), got a device" \
	timeout 10 "$B/wlb-sim" "$T/h1.json"
printf '{"format": "wlb-trace/1", "model": "llama2-7b", "parallel": {"microbatches": 1000000}, "context": 4096,\n "data": {"iterations": 1, "distribution": {"preset": "web"}}}\n' >"$T/h2.json"
expect_err "a million micro-batches" "parallel.microbatches must be at most 16384, got 1000000" \
	timeout 10 "$B/wlb-sim" "$T/h2.json" --quiet
printf '{"format": "wlb-trace/1", "model": "llama2-7b", "context": 4096, "data": {"iterations": 1,\n "distribution": {"mixture": [{"weight": 1, "lognormal": {"mu": 1e300, "sigma": 1}}]}}}\n' >"$T/h3.json"
expect_err "no mass below the context" "data.distribution has no probability mass in [1, context = 4096] tokens" \
	timeout 10 "$B/wlb-sim" "$T/h3.json" --quiet
printf '{"format": "wlb-trace/1", "model": {"layers": 2, "hidden": 102, "ffn_hidden": 128, "heads": 4,\n "head_dim": 25, "vocab": 1000, "mlp": "swiglu"}, "parallel": {"tp": 4}, "context": 4096,\n "data": {"iterations": 1, "distribution": {"preset": "web"}}}\n' >"$T/h4.json"
expect_err "hidden TP does not divide" "parallel.tp must divide model.hidden (102), got 4" \
	timeout 10 "$B/wlb-sim" "$T/h4.json" --quiet

# the published runs (tools/validate-published.sh --quick): six rows, every cell
# filled, the summary lines; a failing wlb-sim stops it with its message
if command -v jq >/dev/null 2>&1; then
	WLB_BIN=$B sh tools/validate-published.sh --quick >"$T/vp.md" 2>"$T/err"
	[ "$(grep -c '^| [a-z0-9.-]* | [0-9]* | .* | [0-9.]* | [0-9.]* | [-+][0-9.]* | [0-9.]*\( OOM\)\{0,1\} |$' "$T/vp.md")" -eq 6 ] &&
		grep -q '^mean |error| [0-9.]* %$' "$T/vp.md" && grep -q '^extrapolated lookups: 0$' "$T/vp.md" &&
		ok || bad "tools/validate-published.sh --quick: $(head -c 300 "$T/err")"
	# the calibration holds: every quick row but DeepSpeed's ZeRO-3 (the
	# model's known miss, README "Validation") within 15 % of its run
	awk -F'|' '/^\| [abc]/ && $2 !~ /zero3/ { e = $7 + 0; if (e > 15 || e < -15) { print $2, e; bad = 1 } }
		END { exit bad }' "$T/vp.md" >"$T/off" && ok || bad "validate-published --quick: rows off by more than 15 %: $(cat "$T/off")"
	mkdir -p "$T/failbin"
	printf '#!/bin/sh\necho "wlb-sim: simulated failure" >&2\nexit 3\n' >"$T/failbin/wlb-sim"
	chmod +x "$T/failbin/wlb-sim"
	if WLB_BIN=$T/failbin sh tools/validate-published.sh c1-gpt-1.7b >"$T/vp.md" 2>"$T/err"; then
		bad "tools/validate-published.sh with a failing wlb-sim succeeded"
	else grep -q "c1-gpt-1.7b (MBS 1, VPP 1): wlb-sim exit 3: wlb-sim: simulated failure" "$T/err" && ok ||
		bad "validate-published, failing wlb-sim: $(head -c 300 "$T/err")"; fi
fi

# libwlb.so: make install into a DESTDIR, then the C example built against
# the installed library through pkg-config, as a user would build it; the
# soname and the exported symbols (wlb.h's only).  Skipped for a sanitized
# library (make asan), which a plain program cannot load.
L=${WLB_LIB:-build/libwlb.so}
if [ -f "$L" ] && command -v pkg-config >/dev/null 2>&1 && ! ldd "$L" 2>/dev/null | grep -q libasan; then
	make -s --no-print-directory install-lib DESTDIR="$T/inst" PREFIX=/usr/local BUILD="$(dirname "$L")" \
		>"$T/out" 2>"$T/err" && ok || bad "make install-lib DESTDIR: $(head -c 300 "$T/err")"
	for f in lib/libwlb.so.0.1 lib/libwlb.so.0 lib/libwlb.so include/wlb.h lib/pkgconfig/wlb.pc; do
		[ -e "$T/inst/usr/local/$f" ] && ok || bad "make install-lib: no $f"
	done
	readelf -d "$T/inst/usr/local/lib/libwlb.so.0.1" | grep -q 'SONAME.*\[libwlb.so.0\]' && ok ||
		bad "libwlb.so.0.1: soname is not libwlb.so.0"
	nm -D --defined-only "$L" | awk '$2 == "T" { print $3 }' | sort >"$T/syms"
	sed -n 's/^WLB_API [^(]*[ *]\(wlb_[a-z_]*\)(.*/\1/p' sim/wlb.h | sort >"$T/api"
	[ -s "$T/api" ] && cmp -s "$T/syms" "$T/api" && ok ||
		bad "libwlb.so exports other than wlb.h's: $(diff "$T/api" "$T/syms" | head -c 300)"
	flags=$(PKG_CONFIG_SYSROOT_DIR="$T/inst" PKG_CONFIG_PATH="$T/inst/usr/local/lib/pkgconfig" \
		pkg-config --cflags --libs wlb)
	case "$flags" in *"-I$T/inst/usr/local/include"*"-L$T/inst/usr/local/lib"*"-lwlb"*) ok ;;
		*) bad "pkg-config --cflags --libs wlb: \"$flags\"" ;; esac
	# shellcheck disable=SC2086 # flags are words
	if ${CC:-cc} -std=c11 -Wall -Wextra -Werror examples/pack_stream.c $flags -o "$T/pack_stream" 2>"$T/err"; then
		ok
		printf '5000\n300\n9000\n12\n700\n' >"$T/lens"
		LD_LIBRARY_PATH="$T/inst/usr/local/lib" "$T/pack_stream" 4096 1 2 2 <"$T/lens" >"$T/out" 2>"$T/err"
		# by hand: batches of 2 x 4096 = 8192 tokens; doc 0 (5000) is cut at
		# the context, doc 2 (9000) at the batch boundary (8192 - 5300 = 2892
		# tokens in), its last piece is [8192, 9000); one full batch, then
		# the partial one after finish
		grep -q '^libwlb 0.1$' "$T/out" && [ "$(grep -c '^iteration' "$T/out")" -eq 2 ] &&
			grep -q '^  mb 0: 0:0+4096$' "$T/out" && grep -q ' 2:0+2892' "$T/out" &&
			grep -q ' 2:8192+808' "$T/out" && ok || bad "installed pack_stream: $(head -c 300 "$T/out") $(head -c 200 "$T/err")"
		LD_LIBRARY_PATH="$T/inst/usr/local/lib" ldd "$T/pack_stream" | grep -q "$T/inst/usr/local/lib/libwlb.so.0" &&
			ok || bad "pack_stream does not load the installed libwlb.so.0"
	else
		bad "examples/pack_stream.c against the installed libwlb: $(head -c 300 "$T/err")"
	fi
	expect_err "pack_stream usage" "usage: pack_stream" env LD_LIBRARY_PATH="$T/inst/usr/local/lib" "$T/pack_stream"
fi

# bounded input (README "Traces"): a directory, a FIFO, /dev/zero and a
# missing file are refused in one line by every reader of user files, at once
mkfifo "$T/fifo"
# refusal WHAT: the message for $f (of kind $k, "" when missing) read as WHAT
refusal() {
	if [ "$k" ]; then echo "$f: expected a regular file ($1), got a $k"
	else echo "$f: cannot open $1: No such file or directory"; fi
}
for f in "$T" "$T/fifo" /dev/zero "$T/missing"; do
	case $f in "$T") k="directory" ;; "$T/fifo") k="FIFO" ;; /dev/zero) k="device" ;; *) k="" ;; esac
	expect_err "wlb-sim trace $f" "$(refusal trace)" timeout 10 "$B/wlb-sim" "$f" --quiet
	expect_err "wlb-sim --config $f" "--config: $(refusal config)" \
		timeout 10 "$B/wlb-sim" traces/7b-128k.json --config "$f" --quiet
	expect_err "wlb-plot $f" "$(refusal report)" timeout 10 "$B/wlb-plot" "$f" -o "$T/charts"
	expect_err "wlb-profile --import-nccl-tests $f" "$(refusal "nccl-tests log")" timeout 10 "$B/wlb-profile" \
		--import-nccl-tests "$f" --op all_gather --ranks 8 -o "$T/imp.db"
	expect_err "wlb-profile --import-attn $f" "$(refusal "attention CSV")" \
		timeout 10 "$B/wlb-profile" --import-attn "$f" -o "$T/imp.db"
	expect_err "wlb-sim --costdb $f" "$f: " timeout 10 "$B/wlb-sim" traces/7b-128k.json --costdb "$f" --quiet
done
# a 100 MB line: refused at its first megabytes, naming FILE:LINE and the limit
head -c 100000000 /dev/zero | tr '\0' 7 >"$T/long.txt"
printf '{"format": "wlb-trace/1", "model": "llama2-7b", "context": 4096,\n "data": {"lengths_file": "long.txt"}}\n' >"$T/long.json"
expect_err "lengths file of one 100 MB line" "long.txt:1: line longer than 65536 bytes, the most a line may hold" \
	timeout 10 "$B/wlb-sim" "$T/long.json" --quiet
expect_err "nccl-tests log of one 100 MB line" "long.txt:1: line longer than 65536 bytes" \
	timeout 10 "$B/wlb-profile" --import-nccl-tests "$T/long.txt" --op all_gather --ranks 8 -o "$T/imp.db"
expect_err "attention CSV of one 100 MB line" "long.txt:1: line longer than 65536 bytes" \
	timeout 10 "$B/wlb-profile" --import-attn "$T/long.txt" -o "$T/imp.db"
rm -f "$T/long.txt"
# JSON nested too deep, in a trace and a report
printf '{"format": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}\n' >"$T/deep.json"
expect_err "trace nested 70 deep" "deep.json:1:75: JSON nested deeper than 64 arrays and objects" \
	"$B/wlb-sim" "$T/deep.json"
expect_err "report nested 70 deep" "deep.json:1:75: JSON nested deeper than 64 arrays and objects" \
	"$B/wlb-plot" "$T/deep.json" -o "$T/charts"
# the limits, from the command line too (README "Traces")
expect_err "--iterations over the limit" "data.iterations must be at most 1000000, got 1000001" \
	"$B/wlb-sim" traces/7b-128k.json --iterations 1000001 --quiet
expect_err "--window over the limit" "policy.window must be at most 1024 global batches, got 1025" \
	"$B/wlb-trace" pack traces/7b-128k.json --window 1025

# progress and Ctrl-C (README "Progress and interrupting"): a long run shows
# progress on stderr, stops at SIGINT / SIGTERM with one line and status 130,
# and leaves no output file, temp or final
interrupt INT "wlb-sim SIGINT" "wlb-sim: interrupted; nothing written" \
	"$B/wlb-sim" traces/7b-128k.json --iterations 200000 --json "$T/int/out.json" --csv "$T/int/out.csv"
interrupt TERM "wlb-tune SIGTERM" "wlb-tune: interrupted; nothing written" \
	"$B/wlb-tune" traces/7b-128k.json --iterations 500 --threads 2 --json "$T/int/out.json" -o "$T/int/best.json"
interrupt INT "wlb-trace pack SIGINT" "wlb-trace: interrupted; nothing written" \
	"$B/wlb-trace" pack traces/7b-128k.json --iterations 900000 --workload flops --summary --json "$T/int/out.json"
expect_ok "--quiet: no progress" "iteration" "$B/wlb-trace" pack traces/7b-128k.json --iterations 3 --summary --quiet
[ ! -s "$T/err" ] && ok || bad "wlb-trace pack --quiet printed on stderr: $(head -c 200 "$T/err")"

echo "cli: $pass passed, $fail failed"
