# cli_lib.sh — what the command-line test scripts share (sourced; they set
# NAME, T, pass and fail first).

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "$NAME: FAIL: $*" >&2; }

# expect_err DESC PATTERN CMD...: exit 1..127, exactly one line on stderr
# holding PATTERN (fixed string)
expect_err() {
	desc=$1 pat=$2; shift 2
	"$@" >"$T/out" 2>"$T/err"; rc=$?
	n=$(wc -l <"$T/err")
	if [ "$rc" -ge 1 ] && [ "$rc" -lt 128 ] && [ "$n" -eq 1 ] && grep -qF -- "$pat" "$T/err"; then ok
	else bad "$desc: rc $rc, $n stderr lines: $(head -c 300 "$T/err")"; fi
}
# expect_ok DESC PATTERN CMD...: exit 0 and PATTERN on stdout
expect_ok() {
	desc=$1 pat=$2; shift 2
	"$@" >"$T/out" 2>"$T/err"; rc=$?
	if [ "$rc" -eq 0 ] && grep -qF -- "$pat" "$T/out"; then ok
	else bad "$desc: rc $rc: $(head -c 300 "$T/err")"; fi
}
# interrupt SIG DESC MSG CMD...: starts CMD (a run of over 10 s writing its
# outputs under $T/int), waits for its progress on stderr, sends SIG, and
# checks status 130, MSG as the last line and that $T/int holds nothing
interrupt() {
	sig=$1 desc=$2 msg=$3; shift 3
	rm -rf "$T/int" "$T/int.err"; mkdir "$T/int"
	"$@" >"$T/int.out" 2>"$T/int.err" &
	pid=$!
	n=0
	while [ ! -s "$T/int.err" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
	kill "-$sig" "$pid"
	wait "$pid"; rc=$?
	if [ "$rc" -eq 130 ] && [ "$(tail -n 1 "$T/int.err")" = "$msg" ] && grep -q "^  [a-z]* [0-9]" "$T/int.err" &&
	   [ -z "$(ls -A "$T/int")" ]; then ok
	else bad "$desc: rc $rc, files '$(ls -A "$T/int")', stderr: $(tail -c 300 "$T/int.err")"; fi
}
