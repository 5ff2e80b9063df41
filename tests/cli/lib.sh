# The CLI tests' harness, sourced by tests/cli/*_test.sh after they set W
# (their work directory) and NCORE (the binary).
#   nc ARGS...      run ncore; stdout in $W/out, stderr in $W/err, status in $RC
#   expect_*        check the last nc; a miss calls fail
#   mkgemm FILE     a one-Gemm ONNX model whose weights are constants

FAILS=0 CHECKS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

nc() {
    CHECKS=$((CHECKS + 1))
    "$NCORE" "$@" >"$W/out" 2>"$W/err"
    RC=$?
    LAST="ncore $*"
    # a sanitizer's report may exit 1, like an expected error: look for it
    if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$W/err"; then
        fail "$LAST: sanitizer report"
        sed 's/^/  stderr: /' "$W/err"
    fi
}
expect_rc() {
    [ "$RC" -eq "$1" ] || { fail "$LAST: exit $RC, expected $1"; sed 's/^/  stderr: /' "$W/err"; }
}
expect_out() { grep -qF -- "$1" "$W/out" || { fail "$LAST: stdout lacks '$1'"; sed 's/^/  stdout: /' "$W/out"; }; }
expect_err() { grep -qF -- "$1" "$W/err" || { fail "$LAST: stderr lacks '$1'"; sed 's/^/  stderr: /' "$W/err"; }; }
expect_no_out() { [ ! -s "$W/out" ] || fail "$LAST: printed to stdout"; }
expect_no_err() { [ ! -s "$W/err" ] || { fail "$LAST: printed to stderr"; sed 's/^/  stderr: /' "$W/err"; }; }
expect_json() {
    if command -v python3 >/dev/null; then
        python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$W/out" ||
            fail "$LAST: stdout is not valid JSON"
    fi
}

# Hand-encoding ONNX protobuf (for the small models the tests build):
# hexs STR (its bytes in hex), ld FIELD HEX (a length-delimited field; length
# < 16384), dimv N (a dim value), vinfo NAME TYPEHEX (a ValueInfo).
hexs() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
ld() {
    local c=$2 n=$((${#2} / 2))
    if [ $n -lt 128 ]; then printf '%s%02x%s' "$1" $n "$c"
    else printf '%s%02x%02x%s' "$1" $((n % 128 + 128)) $((n / 128)) "$c"; fi
}
dimv() { ld 0a "$(printf '08%02x' "$1")"; }
vinfo() { ld 0a "$(hexs "$1")"; ld 12 "$(ld 0a "0801$(ld 12 "$2")")"; }
# hexwrite HEX FILE: the bytes to a file.
hexwrite() { printf '%s' "$1" | sed 's/../\\x&/g' | xargs -0 printf >"$2"; }

# mkgemm FILE: y = Gemm(x[2,4], W[4,3], C[3]) with W and C constant
# (initializers), so that the compiler puts it on the chip; the ONNX test
# data's Gemm and Conv take their weights as inputs and stay on the host.
# Hand-encoded protobuf (IR 7, opset 13), as mkmodel does.
mkgemm() {
    # floats 1, -0.5, 0.25, 2 (little-endian) repeated
    local f4="0000803f000000bf0000803e00000040" w c node graph model
    w=0804080310014201$(hexs W)4a30$f4$f4$f4
    c=080310014201$(hexs C)4a0c0000003f000080bf0000403f
    node=$(ld 0a "$(hexs x)")$(ld 0a "$(hexs W)")$(ld 0a "$(hexs C)")$(ld 12 "$(hexs y)")$(ld 22 "$(hexs Gemm)")
    graph=$(ld 0a "$node")$(ld 12 "$(hexs g)")$(ld 2a "$w")$(ld 2a "$c")
    graph=$graph$(ld 5a "$(vinfo x "$(dimv 2)$(dimv 4)")")$(ld 62 "$(vinfo y "$(dimv 2)$(dimv 3)")")
    model=0807$(ld 3a "$graph")$(ld 42 100d)
    hexwrite "$model" "$1"
}
