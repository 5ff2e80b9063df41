#!/usr/bin/env bash
# ctest cli.bench: `ncore bench` on tiny ONNX conformance models.
#   test_bench.sh NCORE TESTDATA WORKDIR
# Checks behaviour, never speed: the JSON's keys and counts, the FLOP count
# of known shapes, and the errors. Exit 0 pass, 1 fail, 77 skip.
set -u
NCORE=$1 TD=$2 W=$3
rm -rf "$W" && mkdir -p "$W" || exit 1
MATMUL=$TD/test_matmul_2d/model.onnx     # A [3,4] x B [4,3]
CONV=$TD/test_conv_with_strides_padding/model.onnx
[ -f "$MATMUL" ] && [ -f "$CONV" ] || { echo "SKIP: ONNX test data not found under $TD"; exit 77; }
PY=$(command -v python3) || { echo "SKIP: python3 is needed to check the JSON"; exit 77; }

FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
run() { # run ARGS...: ncore with stdout/stderr in $W/out, $W/err and the status in RC
    "$NCORE" "$@" >"$W/out" 2>"$W/err"
    RC=$?
    LAST="ncore $*"
    if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$W/err"; then
        fail "$LAST: sanitizer report"; cat "$W/err"
    fi
}
expect_rc() { [ "$RC" -eq "$1" ] || { fail "$LAST: exit $RC, expected $1"; cat "$W/err"; }; }
expect_err() { grep -qF -- "$1" "$W/err" || { fail "$LAST: stderr lacks '$1'"; cat "$W/err"; }; }
expect_out() { grep -qF -- "$1" "$W/out" || { fail "$LAST: stdout lacks '$1'"; cat "$W/out"; }; }

# A full run: JSON with every key, 3 measured runs, FLOPs = 2*3*3*4.
run bench "$MATMUL" --iters 3 --warmup 2 --threads 1 --json "$W/r.json"
expect_rc 0
expect_out "latency:"
expect_out "throughput:"
expect_out "peak RSS:"
"$PY" - "$W/r.json" <<'EOF' || fail "bench --json: wrong JSON (above)"
import json, sys
r = json.load(open(sys.argv[1]))
keys = ["model", "ncore_version", "device", "threads", "batch", "inputs", "load_ms",
        "import_ms", "session_ms", "warmup_runs", "runs", "duration_s", "throughput_per_s",
        "latency_ms", "flops_per_run", "gflops_per_s", "peak_rss_bytes"]
missing = [k for k in keys if k not in r]
assert not missing, f"missing keys {missing}"
lat = r["latency_ms"]
assert set(lat) == {"mean", "min", "p50", "p90", "p99", "max"}, lat
assert lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"], lat
assert r["runs"] == 3 and r["warmup_runs"] == 2 and r["threads"] == 1 and r["batch"] == 1, r
assert r["flops_per_run"] == 72, r["flops_per_run"]
assert r["inputs"] == [{"name": "a", "dtype": "float32", "shape": [3, 4]},
                       {"name": "b", "dtype": "float32", "shape": [4, 3]}], r["inputs"]
assert r["peak_rss_bytes"] > 0 and r["load_ms"] >= 0 and r["throughput_per_s"] > 0, r
EOF

# --json - : JSON alone on stdout, the summary on stderr. Conv 1x1x7x5 by
# 1x1x3x3 with stride 2 and pad 1: 4x3 outputs of 9 MACs.
run bench "$CONV" --iters 1 --json -
expect_rc 0
expect_err "latency:"
"$PY" -c 'import json,sys; r = json.load(open(sys.argv[1])); assert r["flops_per_run"] == 2*4*3*9, r' \
    "$W/out" || fail "$LAST: stdout is not the JSON expected"

# --batch needs a dynamic leading dimension.
run bench "$MATMUL" --batch 8 --iters 1
expect_rc 1
expect_err "no input of this model has a dynamic first dimension"
# --shape sets a shape; a shape the model cannot take is a run error.
run bench "$MATMUL" --shape a=3,5 --iters 1
expect_rc 1
# Usage errors.
run bench "$MATMUL" --iters 0
expect_rc 2
run bench "$MATMUL" --time -1
expect_rc 2
run bench
expect_rc 2
expect_err "missing MODEL"
run bench "$W/nonexistent.onnx" --iters 1
expect_rc 1

[ "$FAILS" -eq 0 ] && echo "PASS: ncore bench" || echo "$FAILS failure(s)"
[ "$FAILS" -eq 0 ]
