#!/usr/bin/env bash
# CLI tests of pipeline mode on the CPU device (issue #5 item 5):
#   pipeline_cpu_test.sh NCORE NPYCMP TESTDATA WORKDIR
# `ncore run --pipeline-cores N` gives `ncore run`'s outputs, bad N is an
# error, N beyond the node count is clamped with a note, a dynamic-shape
# model falls back with a message, and `ncore bench --pipeline-cores`
# reports its streaming numbers. The multi-layer cases use the MODELS.md
# models in ${NCORE_CACHE:-~/.cache/ncore}/models (scripts/fetch_models.sh).
# Exit 0 pass, 1 fail, 77 skip (no test data at all).
set -u

NCORE=$1 NPYCMP=$2 TD=$3 W=$4
rm -rf "$W" && mkdir -p "$W" || exit 1
MODELS=${NCORE_CACHE:-$HOME/.cache/ncore}/models
CONV=$TD/test_conv_with_strides_padding
FACE=$MODELS/face_detection_front_128x128_barracuda.onnx
MYCROFT=$MODELS/hey_mycroft_v0.1.onnx
JARVIS=$MODELS/hey_jarvis_v0.1.onnx
EMBED=$MODELS/embedding_model.onnx
[ -f "$CONV/model.onnx" ] || {
    echo "SKIP: ONNX test data not found under $TD (install libonnx-testdata)"
    exit 77
}

. "$(dirname "$0")/lib.sh"

# same_outputs DIR_A DIR_B [npycmp options]: every .npy in A matches B's.
same_outputs() {
    local a=$1 b=$2 n=0
    shift 2
    for f in "$a"/*.npy; do
        [ -f "$f" ] || continue
        n=$((n + 1))
        "$NPYCMP" "$f" "$b/$(basename "$f")" "$@" || fail "$(basename "$f"): $a differs from $b"
    done
    [ "$n" -gt 0 ] || fail "no outputs in $a"
}

# Bad N: parsed by the CLI, or refused by the library.
nc run "$CONV/model.onnx" --random --pipeline-cores 0
expect_rc 2; expect_err "--pipeline-cores"
nc run "$CONV/model.onnx" --random --pipeline-cores 65
expect_rc 1; expect_err "pipeline_cores 65 is out of range"
nc run "$CONV/model.onnx" --random --pipeline-cores 2 --threads 2
expect_rc 1; expect_err "threads"
nc run "$CONV/model.onnx" --random --pipeline-cores 2 --device ref
expect_rc 1; expect_err "pipeline_cores needs device 'cpu'"
nc bench "$CONV/model.onnx" --in-flight 3 --iters 1
expect_rc 2; expect_err "--in-flight needs --pipeline-cores"

# One node, two stages asked: clamped, with a note; outputs unchanged.
nc run "$CONV/model.onnx" --random --seed 3 --threads 1 --output-dir "$W/conv_plain"
expect_rc 0
nc run "$CONV/model.onnx" --random --seed 3 --pipeline-cores 2 --output-dir "$W/conv_pipe"
expect_rc 0; expect_err "note: 2 stages asked, but the optimized model has 1 nodes"
same_outputs "$W/conv_pipe" "$W/conv_plain" --exact

if [ -f "$FACE" ] && [ -f "$MYCROFT" ] && [ -f "$JARVIS" ] && [ -f "$EMBED" ]; then
    # Multi-layer models, 1 to 3 stages, against the unpipelined device.
    for m in "$FACE" "$MYCROFT"; do
        b=$(basename "$m" .onnx)
        nc run "$m" --random --seed 5 --threads 1 --output-dir "$W/${b}_plain"
        expect_rc 0
        for n in 1 2 3; do
            nc run "$m" --random --seed 5 --pipeline-cores $n --output-dir "$W/${b}_p$n"
            expect_rc 0; expect_err "pipeline: $n stage"; expect_err "stage $((n - 1))  core"
            if [ $n -eq 1 ]; then
                same_outputs "$W/${b}_p$n" "$W/${b}_plain" --exact
            else
                same_outputs "$W/${b}_p$n" "$W/${b}_plain" --rtol 1e-4 --atol 1e-5
            fi
        done
    done
    # Dynamic batch: not cut, runs whole, says why.
    nc run "$EMBED" --random --seed 1 --threads 1 --output-dir "$W/embed_plain"
    expect_rc 0
    nc run "$EMBED" --random --seed 1 --pipeline-cores 2 --output-dir "$W/embed_pipe"
    expect_rc 0; expect_err "not pipelined"; expect_err "dynamic shapes"
    same_outputs "$W/embed_pipe" "$W/embed_plain" --rtol 1e-4 --atol 1e-5
    # An If on data (the wake-word classifiers' score check): likewise.
    nc run "$JARVIS" --random --seed 1 --threads 1 --output-dir "$W/jarvis_plain"
    expect_rc 0
    nc run "$JARVIS" --random --seed 1 --pipeline-cores 2 --output-dir "$W/jarvis_pipe"
    expect_rc 0; expect_err "not pipelined: node 'If_32' (If) has a subgraph"
    same_outputs "$W/jarvis_pipe" "$W/jarvis_plain" --rtol 1e-4 --atol 1e-5
    # Bench streams requests and reports them, JSON included.
    nc bench "$MYCROFT" --pipeline-cores 2 --iters 12 --warmup 1 --json "$W/bench.json"
    expect_rc 0; expect_out "pipeline:    4 requests in flight"; expect_out "runs:        1 warm-up, 12 measured"
    grep -q '"pipeline_stages": 2' "$W/bench.json" || fail "bench JSON lacks pipeline_stages 2"
    grep -q '"in_flight": 4' "$W/bench.json" || fail "bench JSON lacks in_flight 4"
    nc bench "$MYCROFT" --pipeline-cores 2 --in-flight 1000 --iters 3 --warmup 0
    expect_rc 0; expect_err "more than the pipeline holds"
else
    echo "note: MODELS.md models not in $MODELS (scripts/fetch_models.sh): multi-layer cases not run"
fi

echo "$CHECKS checks, $FAILS failed"
[ "$FAILS" -eq 0 ]
