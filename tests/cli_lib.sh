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
