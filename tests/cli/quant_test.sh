#!/usr/bin/env bash
# CLI tests of the precision options: ncore quantize and --auto-cast bf16.
#   quant_test.sh CASE NCORE TESTDATA WORKDIR
# Exit 0 pass, 1 fail, 77 skip (what is missing is printed).
set -u

CASE=$1 NCORE=$2 TD=$3 W=$4
rm -rf "$W" && mkdir -p "$W" || exit 1
CACHE=${NCORE_CACHE:-$HOME/.cache/ncore}
CONV=$TD/test_conv_with_strides_padding

. "$(dirname "$0")/lib.sh"

# A 40x32 JPEG (made with PIL), so the loader's tests need no download.
TINY_JPG_B64='/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAYEBQYFBAYGBQYHBwYIChAKCgkJChQODwwQFxQYGBcUFhYaHSUfGhsjHBYWICwgIyYnKSopGR8tMC0oMCUoKSj/2wBDAQcHBwoIChMKChMoGhYaKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCj/wAARCAAgACgDASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwD52tdN6fLWva6b0+Wt+203p8ta1tpvT5axhWMMDme2pgWum9PlrXtdN6fLW/bab0+Wte103p8tdMKx9lgcz21MC203p8tFdta6b0+WiuhVj6yhmfu7nM2um9PlrXtdN6fLW/a6b0+Wte103p8tfMwrH8v4HM9tTAtdN6fLWva6b0+Wt+103p8ta1rpvT5a6YVj7PA5ntqYFrpv+zRXbWum9PloroVY+ro5n7u5/9k='

case_quantize_errors() {
    local m=$TD/test_relu/model.onnx gap=$TD/test_globalaveragepool/model.onnx
    [ -f "$m" ] && [ -f "$gap" ] && [ -f "$CONV/model.onnx" ] || { echo "SKIP: ONNX test data not found under $TD"; exit 77; }
    echo "$TINY_JPG_B64" | base64 -d >"$W/tiny.jpg"
    head -c 400 "$W/tiny.jpg" >"$W/truncated.jpg"
    printf 'not a jpeg at all, just text\n' >"$W/corrupt.jpg"
    mkdir -p "$W/empty"
    nc quantize "$m" -o "$W/q.onnx"
    expect_rc 2; expect_err "missing --calib"
    nc quantize "$m" --calib "$W/tiny.jpg"
    expect_rc 2; expect_err "missing -o"
    nc quantize "$m" --calib "$W/tiny.jpg" -o "$W/q.onnx" --bogus
    expect_rc 2; expect_err "unknown option '--bogus'"
    nc quantize "$m" --calib "$W/tiny.jpg" -o "$W/q.onnx" --variants 9
    expect_rc 2; expect_err "--variants"
    nc quantize "$m" --calib "$W/nope.jpg" -o "$W/q.onnx"
    expect_rc 1; expect_err "$W/nope.jpg"
    nc quantize "$m" --calib "$W/empty" -o "$W/q.onnx"
    expect_rc 1; expect_err "has no .jpg"
    nc quantize "$m" --calib "$W/truncated.jpg" -o "$W/q.onnx"
    expect_rc 1; expect_err "$W/truncated.jpg"; expect_err "not a readable JPEG"
    nc quantize "$m" --calib "$W/corrupt.jpg" -o "$W/q.onnx"
    expect_rc 1; expect_err "$W/corrupt.jpg"; expect_err "not a readable JPEG"
    # a good photo, but the model's input [3,4,5] is no image
    nc quantize "$m" --calib "$W/tiny.jpg" -o "$W/q.onnx"
    expect_rc 1; expect_err "needs a float32 model input of shape [1,3,S,S]"
    # a photo that fits ([1,3,5,5]) into a model with nothing to quantize
    nc quantize "$gap" --calib "$W/tiny.jpg" -o "$W/q.onnx"
    expect_rc 1; expect_err "no Conv, Gemm or MatMul with constant weights"
    # tensors go in as they are
    nc quantize "$m" --calib "$TD/test_relu/test_data_set_0/input_0.pb" -o "$W/q.onnx"
    expect_rc 1; expect_err "no Conv, Gemm or MatMul with constant weights"
    # one input only
    nc quantize "$CONV/model.onnx" --calib "$W/tiny.jpg" -o "$W/q.onnx"
    expect_rc 1; expect_err "models with one input only"
    [ ! -e "$W/q.onnx" ] || fail "a failed quantize left $W/q.onnx"
}

case_auto_cast() {
    [ -f "$CONV/model.onnx" ] || { echo "SKIP: ONNX test data not found under $TD"; exit 77; }
    local m=$CONV/model.onnx
    nc run "$m" --random --auto-cast bf16 --compare-fp32
    expect_rc 0; expect_out "bf16: max abs error"; expect_out "cosine similarity"; expect_out "accuracy: {"
    nc run "$m" --random --auto-cast bf16 --device ref
    expect_rc 1; expect_err "device 'cpu' only"
    nc run "$m" --random --auto-cast fp8
    expect_rc 2; expect_err "--auto-cast needs bf16"
    nc bench "$m" --auto-cast bf16 --iters 2 --warmup 1
    expect_rc 0
    nc bench "$m" --auto-cast bf16 --device ref --iters 1
    expect_rc 1; expect_err "device 'cpu' only"
}

# The real thing on a small torch export and the photos (a development
# cache: scripts/make_torch_models.py, scripts/fetch_photos.sh).
case_quantize_photos() {
    local m=$CACHE/torch/squeezenet1_1.onnx p=$CACHE/photos
    [ -f "$m" ] || { echo "SKIP: $m missing (scripts/make_torch_models.py)"; exit 77; }
    [ -f "$p/dog.jpg" ] && [ -f "$p/kite.jpg" ] || { echo "SKIP: photos missing (scripts/fetch_photos.sh)"; exit 77; }
    nc quantize "$m" --calib "$p/dog.jpg" --calib "$p/eagle.jpg" --variants 2 -o "$W/sq.int8.onnx" \
        --eval "$p/kite.jpg" --eval "$p/horses.jpg"
    expect_rc 0
    expect_out "calibration: 4 inputs"; expect_out "evaluation: 4 inputs"
    expect_out "int8: top-1 agreement"; expect_out "wrote $W/sq.int8.accuracy.json"
    if command -v python3 >/dev/null; then
        python3 - "$W/sq.int8.accuracy.json" <<'PY' || fail "accuracy JSON"
import json, sys
r = json.load(open(sys.argv[1]))
a = r["accuracy"]
assert r["evaluation_inputs"] == 4 and a["compared"] == 4, r
assert a["cosine_min"] > 0.9, a
PY
    fi
    # the QDQ model runs on the reference kernels and on device cpu
    nc run "$W/sq.int8.onnx" --random --device ref
    expect_rc 0
    nc run "$W/sq.int8.onnx" --random
    expect_rc 0
}

case "$CASE" in
quantize_errors) case_quantize_errors ;;
auto_cast) case_auto_cast ;;
quantize_photos) case_quantize_photos ;;
*) echo "unknown case $CASE"; exit 1 ;;
esac
echo "$CHECKS checks, $FAILS failed"
[ "$FAILS" -eq 0 ]
