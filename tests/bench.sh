#!/bin/sh
# make bench: packing speed, each result beside its target.
set -eu
bench=$1
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
"$bench" "$dir"
# best wall time of three runs, in seconds
best() {
	b=
	for i in 1 2 3; do
		s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N)
		b=$(awk -v s="$s" -v e="$e" -v b="$b" 'BEGIN { x = e - s; print (b == "" || x < b) ? x : b }')
	done
	echo "$b"
}
ts=$(best sort -n "$dir/lengths-1m.txt")
tp=$(best "$WLB_BIN/wlb-trace" pack "$dir/lengths-1m.json" --packing wlb --summary)
printf '\n1M documents from a lengths file (wlb128k draws), best of 3\n'
awk -v ts="$ts" -v tp="$tp" 'BEGIN {
	printf "  %-42s %7.3f s\n", "sort -n lengths-1m.txt", ts
	printf "  %-42s %7.3f s   target: about sort -n  %s\n", "wlb-trace pack (wlb + adaptive + metrics)", tp,
		tp <= 1.5 * ts ? "ok" : "MISSED"
}'
