#!/usr/bin/env bash
# CLI tests for `ncore`: one case per call.
#   cli_test.sh CASE NCORE NPYCMP TESTDATA WORKDIR
# Exit 0 pass, 1 fail, 77 skip (test data missing).
set -u

CASE=$1 NCORE=$2 NPYCMP=$3 TD=$4 W=$5
SRC=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$W" && mkdir -p "$W" || exit 1

RELU=$TD/test_relu
CONV=$TD/test_conv_with_strides_padding
[ -f "$RELU/model.onnx" ] && [ -f "$CONV/model.onnx" ] || {
    echo "SKIP: ONNX test data not found under $TD (install libonnx-testdata)"
    exit 77
}

. "$SRC/tests/cli/lib.sh"

# mknpy FILE MAJOR DESCR SHAPE FORTRAN NBYTES: an .npy file with a header
# as NumPy writes it (padded to 64 bytes) and NBYTES of data (a repeating
# byte pattern, so float data is finite: 0x3f3f3f3f = 0.747).
mknpy() {
    local file=$1 major=$2 descr=$3 shape=$4 fortran=$5 nbytes=$6
    local dict="{'descr': '$descr', 'fortran_order': $fortran, 'shape': $shape, }"
    local pre=10
    [ "$major" -ge 2 ] && pre=12
    local total=$((pre + ${#dict} + 1))
    local pad=$(((64 - total % 64) % 64))
    local hlen=$((${#dict} + pad + 1))
    {
        printf '\223NUMPY'
        printf "\\$(printf %03o "$major")\\000"
        printf "\\$(printf %03o $((hlen & 255)))\\$(printf %03o $((hlen >> 8 & 255)))"
        [ "$major" -ge 2 ] && printf '\000\000'
        printf '%s%*s\n' "$dict" "$pad" ""
        head -c "$nbytes" /dev/zero | tr '\0' '?'
    } >"$file"
}

# mkmodel FILE OP: a one-node model y = OP(x), x and y float32 [batch,4]
# with a symbolic first dimension, hand-encoded as protobuf (IR 7, opset 14).
mkmodel() {
    dimp() { ld 0a "$(ld 12 "$(hexs "$1")")"; }
    local shape node graph model
    shape=$(dimp batch)$(dimv 4)
    node=$(ld 0a "$(hexs x)")$(ld 12 "$(hexs y)")$(ld 22 "$(hexs "$2")")
    graph=$(ld 0a "$node")$(ld 12 "$(hexs g)")$(ld 5a "$(vinfo x "$shape")")$(ld 62 "$(vinfo y "$shape")")
    model=0807$(ld 3a "$graph")$(ld 42 100e)
    hexwrite "$model" "$1"
}

case_help() {
    nc --help;           expect_rc 0; expect_out "usage: ncore"; expect_no_err
    nc --version;        expect_rc 0; expect_out "ncore "; expect_no_err
    nc run --help;       expect_rc 0; expect_out "usage: ncore run"; expect_no_err
    nc info --help;      expect_rc 0; expect_out "usage: ncore info"; expect_no_err
    nc list-ops --help;  expect_rc 0; expect_out "usage: ncore list-ops"; expect_no_err
}

case_usage() {
    nc;                                   expect_rc 2; expect_no_out; expect_err "usage"
    nc frobnicate;                        expect_rc 2; expect_no_out; expect_err "unknown command 'frobnicate'"
    nc --frobnicate;                      expect_rc 2; expect_no_out; expect_err "unknown option"
    nc info;                              expect_rc 2; expect_no_out; expect_err "missing MODEL"
    nc info "$RELU/model.onnx" --bogus;   expect_rc 2; expect_no_out; expect_err "unknown option '--bogus'"
    nc info a.onnx b.onnx;                expect_rc 2; expect_no_out
    nc run;                               expect_rc 2; expect_no_out; expect_err "missing MODEL"
    nc run "$RELU/model.onnx" --threads abc; expect_rc 2; expect_no_out; expect_err "--threads"
    nc run "$RELU/model.onnx" --input;    expect_rc 2; expect_no_out; expect_err "--input"
    nc run "$RELU/model.onnx" --dim batch; expect_rc 2; expect_no_out; expect_err "--dim"
    nc run "$RELU/model.onnx" --seed -4;  expect_rc 2; expect_no_out
    nc list-ops extra;                    expect_rc 2; expect_no_out
}

case_missing_file() {
    nc info "$W/no_such_model.onnx"; expect_rc 1; expect_err "no_such_model.onnx"; expect_err "ncore: error:"
    nc run "$W/no_such_model.onnx" --random; expect_rc 1; expect_err "no_such_model.onnx"
    nc run "$RELU/model.onnx" --input "x=$W/no_such_input.npy"; expect_rc 1; expect_err "no_such_input.npy"
    : >"$W/empty.onnx"
    nc info "$W/empty.onnx"; expect_rc 1; expect_err "empty.onnx"
}

case_info() {
    nc info "$RELU/model.onnx"
    expect_rc 0; expect_no_err
    expect_out "x"; expect_out "float32"; expect_out "[3,4,5]"; expect_out "Relu"
    expect_out "unsupported: none"
    nc info "$RELU/model.onnx" --json; expect_rc 0; expect_json; expect_out '"shape": [3,4,5]'
    nc info "$CONV/model.onnx"
    expect_rc 0; expect_out "[1,1,7,5]"; expect_out "[1,1,3,3]"; expect_out "[1,1,4,3]"; expect_out "Conv"
    nc info --json "$CONV/model.onnx"; expect_rc 0; expect_json; expect_out '"op": "Conv"'
}

case_list_ops() {
    nc list-ops; expect_rc 0; expect_no_err; expect_out "Relu"; expect_out "Conv"; expect_out " ops"
    nc list-ops --json; expect_rc 0; expect_json; expect_out '"op": "Relu"'
}

case_run_random() {
    nc run "$RELU/model.onnx" --random
    expect_rc 0; expect_out "output 'y': float32 [3,4,5]"; expect_out "time:"
    # uniform [0,1) inputs: relu leaves them as they are
    expect_out "min 0"
    nc run "$CONV/model.onnx" --random --seed 7
    expect_rc 0; expect_out "float32 [1,1,4,3]"
    # the same seed gives the same output
    nc run "$CONV/model.onnx" --random --seed 7 --output-dir "$W/a"; expect_rc 0
    nc run "$CONV/model.onnx" --random --seed 7 --output-dir "$W/b"; expect_rc 0
    cmp -s "$W/a/y.npy" "$W/b/y.npy" || fail "--seed 7 twice gave different outputs"
    nc run "$RELU/model.onnx"; expect_rc 1; expect_err "input 'x'"; expect_err "--random"
}

case_run_pb() {
    nc run "$RELU/model.onnx" --input "x=$RELU/test_data_set_0/input_0.pb" --output-dir "$W/out_relu"
    expect_rc 0; expect_out "wrote $W/out_relu/y.npy"
    "$NPYCMP" "$W/out_relu/y.npy" "$RELU/test_data_set_0/output_0.pb" --exact ||
        fail "relu output differs from output_0.pb"
    # bare file names: the names stored in the .pb files pick the inputs
    nc run "$CONV/model.onnx" --input "$CONV/test_data_set_0/input_1.pb" \
        --input "$CONV/test_data_set_0/input_0.pb" --output-dir "$W/out_conv" --threads 1 --device ref
    expect_rc 0
    "$NPYCMP" "$W/out_conv/y.npy" "$CONV/test_data_set_0/output_0.pb" ||
        fail "conv output differs from output_0.pb"
    # --input=NAME=FILE form, and one input from a file with the rest random
    nc run "$CONV/model.onnx" "--input=x=$CONV/test_data_set_0/input_0.pb" --random; expect_rc 0
}

case_run_npy_roundtrip() {
    # y = relu(x) written as .npy, fed back: relu(y) = y
    nc run "$RELU/model.onnx" --input "x=$RELU/test_data_set_0/input_0.pb" --output-dir "$W/1"; expect_rc 0
    nc run "$RELU/model.onnx" --input "x=$W/1/y.npy" --output-dir "$W/2"; expect_rc 0
    cmp -s "$W/1/y.npy" "$W/2/y.npy" || fail "relu(relu(x)) != relu(x) through .npy"
    "$NPYCMP" "$W/2/y.npy" "$RELU/test_data_set_0/output_0.pb" --exact || fail "round trip differs"
    head -c 10 "$W/1/y.npy" | od -An -c | grep -q 'N   U   M   P   Y' || fail "no .npy magic"
    # header padded to a multiple of 64 bytes, as NumPy does
    local hlen
    hlen=$(od -An -tu2 -j8 -N2 "$W/1/y.npy" | tr -d ' ')
    [ $(((10 + hlen) % 64)) -eq 0 ] || fail ".npy header length $hlen not 64-aligned"
}

case_bad_inputs() {
    local in=$RELU/test_data_set_0/input_0.pb
    nc run "$RELU/model.onnx" --input "nosuch=$in"
    expect_rc 1; expect_err "nosuch"; expect_err "'x'"
    # wrong shape: conv's [1,1,7,5] input fed to relu's [3,4,5]
    nc run "$RELU/model.onnx" --input "x=$CONV/test_data_set_0/input_0.pb"
    expect_rc 1; expect_err "'x'"
    # wrong dtype: int64 [3,4,5]
    mknpy "$W/i64.npy" 1 '<i8' '(3, 4, 5)' False 480
    nc run "$RELU/model.onnx" --input "x=$W/i64.npy"
    expect_rc 1; expect_err "'x'"
    # given twice
    nc run "$RELU/model.onnx" --input "x=$in" --input "x=$in"
    expect_rc 1; expect_err "'x'"
}

case_npy_errors() {
    local m=$RELU/model.onnx
    mknpy "$W/fortran.npy" 1 '<f4' '(3, 4, 5)' True 240
    nc run "$m" --input "x=$W/fortran.npy"; expect_rc 1; expect_err "fortran.npy"; expect_err "fortran_order"
    mknpy "$W/bigend.npy" 1 '>f4' '(3, 4, 5)' False 240
    nc run "$m" --input "x=$W/bigend.npy"; expect_rc 1; expect_err "bigend.npy"; expect_err "big-endian"
    mknpy "$W/object.npy" 1 '|O' '(3, 4, 5)' False 480
    nc run "$m" --input "x=$W/object.npy"; expect_rc 1; expect_err "object.npy"; expect_err "object"
    mknpy "$W/short.npy" 1 '<f4' '(3, 4, 5)' False 200
    nc run "$m" --input "x=$W/short.npy"; expect_rc 1; expect_err "short.npy"; expect_err "truncated"
    mknpy "$W/long.npy" 1 '<f4' '(3, 4, 5)' False 300
    nc run "$m" --input "x=$W/long.npy"; expect_rc 1; expect_err "long.npy"; expect_err "header says"
    mknpy "$W/str.npy" 1 '<U4' '(3, 4, 5)' False 960
    nc run "$m" --input "x=$W/str.npy"; expect_rc 1; expect_err "str.npy"; expect_err "'<U4'"
    mknpy "$W/v9.npy" 9 '<f4' '(3, 4, 5)' False 240
    nc run "$m" --input "x=$W/v9.npy"; expect_rc 1; expect_err "v9.npy"; expect_err "version 9"
    # header length pointing past the end of the file
    printf '\223NUMPY\001\000\377\377{}' >"$W/hlen.npy"
    nc run "$m" --input "x=$W/hlen.npy"; expect_rc 1; expect_err "hlen.npy"; expect_err "header length"
    printf '\223NUMPY\001\000\100\000{"descr": "<f4", garbage                                   \n' >"$W/garbage.npy"
    nc run "$m" --input "x=$W/garbage.npy"; expect_rc 1; expect_err "garbage.npy"
    mknpy "$W/negdim.npy" 1 '<f4' '(3, -4, 5)' False 240
    nc run "$m" --input "x=$W/negdim.npy"; expect_rc 1; expect_err "negdim.npy"
    mknpy "$W/huge.npy" 1 '<f4' '(4611686018427387904, 4611686018427387904)' False 16
    nc run "$m" --input "x=$W/huge.npy"; expect_rc 1; expect_err "huge.npy"
    head -c 100 /dev/urandom >"$W/random.bin"
    nc run "$m" --input "x=$W/random.bin"; expect_rc 1; expect_err "random.bin"
}

case_npy_versions() {
    local m=$RELU/model.onnx
    # the same data in v1, v2 and v3 headers, keys in another order, Python 2 'L'
    mknpy "$W/v1.npy" 1 '<f4' '(3, 4, 5)' False 240
    mknpy "$W/v2.npy" 2 '<f4' '(3, 4, 5)' False 240
    mknpy "$W/v3.npy" 3 '<f4' '(3, 4, 5)' False 240
    for v in v1 v2 v3; do
        nc run "$m" --input "x=$W/$v.npy" --output-dir "$W/o_$v"; expect_rc 0
        "$NPYCMP" "$W/o_$v/y.npy" "$W/v1.npy" --exact || fail "$v.npy: relu of positive data changed it"
    done
    local dict="{'shape': (3L, 4L, 5L), 'fortran_order': False, 'descr': '<f4'}"
    {
        printf '\223NUMPY\001\000'
        printf "\\$(printf %03o $((${#dict} + 1)))\\000"
        printf '%s\n' "$dict"
        head -c 240 /dev/zero | tr '\0' '?'
    } >"$W/order.npy"
    nc run "$m" --input "x=$W/order.npy"; expect_rc 0
}

case_symbolic_dims() {
    mkmodel "$W/sym.onnx" Relu
    nc info "$W/sym.onnx"; expect_rc 0; expect_out "[batch,4]"
    nc info "$W/sym.onnx" --json; expect_rc 0; expect_json; expect_out '"shape": ["batch",4]'
    nc run "$W/sym.onnx" --random; expect_rc 0; expect_out "output 'y': float32 [1,4]"
    nc run "$W/sym.onnx" --random --dim batch=3; expect_rc 0; expect_out "output 'y': float32 [3,4]"
    nc run "$W/sym.onnx" --random --dim=batch=0; expect_rc 0; expect_out "output 'y': float32 [0,4]"
    nc run "$W/sym.onnx" --random --dim nosuch=2; expect_rc 0; expect_err "warning: --dim nosuch"
    nc run "$W/sym.onnx" --random --shape x=5,4; expect_rc 0; expect_out "output 'y': float32 [5,4]"
    nc run "$W/sym.onnx" --random --shape x=5,3; expect_rc 1; expect_err "'x'"
    nc run "$W/sym.onnx" --random --shape x=5,4,1; expect_rc 1; expect_err "'x'"
    nc run "$W/sym.onnx" --random --shape x=5,a; expect_rc 2
}

case_memory_limit() {
    # relu's output is 3x4x5 floats = 240 bytes
    nc run "$RELU/model.onnx" --random --memory-limit 100
    expect_rc 1; expect_err "memory limit"; expect_err "[3,4,5]"; expect_err "limit 100)"
    nc run "$RELU/model.onnx" --random --memory-limit 1K; expect_rc 0
    nc run "$RELU/model.onnx" --random --memory-limit 12X; expect_rc 2
    nc run "$RELU/model.onnx" --random --memory-limit -5; expect_rc 2
}

case_unsupported_op() {
    mkmodel "$W/unsup.onnx" FrobnicateOp
    # info lists what is unsupported (its job), run refuses it
    nc info "$W/unsup.onnx"; expect_rc 0; expect_out "unsupported: FrobnicateOp"
    nc run "$W/unsup.onnx" --random; expect_rc 1; expect_err "FrobnicateOp"
}

# ---- the chip: ls, compile, run --device sim, profile -----------------------
GEMM=$TD/test_gemm_default_matrix_bias

case_ls() {
    nc ls; expect_rc 0; expect_no_err; expect_out "inf1: 1 chip x 4 NeuronCores = 4 cores"
    nc ls --preset inf1.6xlarge; expect_rc 0; expect_out "inf1.6xlarge: 4 chips x 4 NeuronCores = 16 cores"
    nc ls --json; expect_rc 0; expect_json; expect_out '"te_rows"'
    nc ls --preset inf9; expect_rc 2; expect_no_out; expect_err "'inf9'"
    printf '{ "te_rows": ' >"$W/bad.json"
    nc ls --chip "$W/bad.json"; expect_rc 1; expect_err "bad.json"
    printf '{ "base": "inf1", "te_rows": 0 }' >"$W/range.json"
    nc ls --chip "$W/range.json"; expect_rc 1; expect_err "te_rows"
    nc ls --chip "$W/missing.json"; expect_rc 1; expect_err "missing.json"
    nc ls --frob; expect_rc 2; expect_err "unknown option '--frob'"
}

case_compile() {
    nc compile "$CONV/model.onnx" -o "$W/conv.ncx"
    expect_rc 0; expect_no_err; expect_out "compiled"; expect_out "for inf1"; expect_out "on chip:"
    expect_out "ops ("; expect_out "auto-cast:"; expect_out "instructions:"
    [ "$(head -c 4 "$W/conv.ncx")" = NCX1 ] || fail "conv.ncx does not start with NCX1"
    nc compile "$GEMM/model.onnx" -o "$W/gemm.ncx" --auto-cast none -O1
    expect_rc 0; expect_out "auto-cast: none"; expect_out "on chip:"
    # constant weights: all on the chip, and the fp32 model is said to be auto-cast
    mkgemm "$W/cgemm.onnx"
    nc compile "$W/cgemm.onnx" -o "$W/cgemm.ncx"
    expect_rc 0; expect_out "on chip: 1 of 1 ops (100.0%), 54 FLOP of 54 FLOP (100.0%)"
    expect_out "auto-cast: fp32 tensor-engine operands cast to bf16"
    nc compile "$CONV/model.onnx" -o "$W/conv_fp16.ncx" --auto-cast all --auto-cast-type fp16 -O0 --chip "$SRC/configs/inf1.json"
    expect_rc 0; expect_out "on chip:"
    nc compile "$CONV/model.onnx" -o "$W/conv.ncx" --json; expect_rc 0; expect_json
    expect_out '"ops_chip"'; expect_out '"flops_total"'; expect_out '"partitions"'
    # --dump-isa prints the programs as well: more lines than without
    nc compile "$W/cgemm.onnx" -o "$W/cgemm_d.ncx" --dump-isa; expect_rc 0
    [ "$(wc -l <"$W/out")" -gt 12 ] || fail "--dump-isa printed no program"
    nc compile "$W/cgemm.onnx" -o "$W/cgemm_d.ncx" --dump-isa="$W/cgemm.isa"; expect_rc 0
    grep -qi matmul "$W/cgemm.isa" || fail "--dump-isa=FILE wrote no MATMUL"
    # MODEL.onnx -> MODEL.ncx when -o is not given
    cp "$CONV/model.onnx" "$W/m.onnx"
    nc compile "$W/m.onnx"; expect_rc 0; expect_out "$W/m.ncx"
    [ -s "$W/m.ncx" ] || fail "compile without -o wrote no $W/m.ncx"
    # an artifact is not compiled again
    nc compile "$W/m.ncx" -o "$W/again.ncx"; expect_rc 1; expect_err "already compiled"
}

case_compile_errors() {
    local m=$CONV/model.onnx
    nc compile; expect_rc 2; expect_no_out; expect_err "missing MODEL"
    nc compile "$m" --target inf9 -o "$W/x.ncx"; expect_rc 2; expect_no_out; expect_err "'inf9'"
    nc compile "$m" --target inf1 --chip "$SRC/configs/inf1.json"; expect_rc 2
    printf '{ "base": "inf1", ' >"$W/bad_chip.json"
    nc compile "$m" --chip "$W/bad_chip.json" -o "$W/x.ncx"; expect_rc 1; expect_err "bad_chip.json"
    nc compile "$m" --auto-cast fp8 -o "$W/x.ncx"; expect_rc 2; expect_err "--auto-cast"
    nc compile "$m" --auto-cast-type int4 -o "$W/x.ncx"; expect_rc 2; expect_err "--auto-cast-type"
    nc compile "$m" -O7 -o "$W/x.ncx"; expect_rc 2; expect_err "unknown option '-O7'"
    nc compile "$m" --frob; expect_rc 2; expect_err "unknown option '--frob'"
    nc compile "$m" -o "$W/no_such_dir/x.ncx"; expect_rc 1; expect_err "no_such_dir"
    [ -e "$W/x.ncx" ] && fail "a failed compile left $W/x.ncx behind"
    # damaged artifacts: exit 1 naming the file
    nc compile "$m" -o "$W/good.ncx"; expect_rc 0
    local size
    size=$(stat -c %s "$W/good.ncx")
    head -c $((size - 64)) "$W/good.ncx" >"$W/trunc.ncx"
    nc run "$W/trunc.ncx" --random; expect_rc 1; expect_err "trunc.ncx"; expect_err "truncated"
    cp "$W/good.ncx" "$W/flip.ncx"
    printf '\377' | dd of="$W/flip.ncx" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
    nc run "$W/flip.ncx" --random; expect_rc 1; expect_err "flip.ncx"; expect_err "sha256"
    nc profile "$W/flip.ncx"; expect_rc 1; expect_err "flip.ncx"
    # a compiled model runs on the simulator only; an ONNX model is compiled first
    nc run "$W/good.ncx" --random --device cpu; expect_rc 1; expect_err "sim"
    nc run "$m" --random --no-values; expect_rc 2; expect_err "--no-values"
    nc profile "$m"; expect_rc 1; expect_err "compile it first"
    nc profile; expect_rc 2; expect_err "missing MODEL"
    nc profile "$W/good.ncx" --frob; expect_rc 2; expect_err "unknown option '--frob'"
    nc profile "$W/good.ncx" --replicas 2; expect_rc 2; expect_err "--no-values"
    nc profile "$W/good.ncx" --replicas 9 --no-values; expect_rc 1; expect_err "4 cores"
}

case_run_sim() {
    # Gemm on the chip: with fp32 kept, the simulator agrees with the cpu device closely
    mkgemm "$W/cgemm.onnx"
    nc compile "$W/cgemm.onnx" -o "$W/cgemm32.ncx" --auto-cast none; expect_rc 0
    nc compile "$W/cgemm.onnx" -o "$W/cgemm16.ncx"; expect_rc 0
    nc run "$W/cgemm.onnx" --random --seed 3 --output-dir "$W/c_cpu"; expect_rc 0
    nc run "$W/cgemm32.ncx" --random --seed 3 --device sim --output-dir "$W/c_sim32"
    expect_rc 0; expect_out "output 'y': float32 [2,3]"; expect_out "simulated:"
    "$NPYCMP" "$W/c_sim32/y.npy" "$W/c_cpu/y.npy" --rtol 1e-5 --atol 1e-6 || fail "gemm fp32: sim differs from cpu"
    nc run "$W/cgemm16.ncx" --random --seed 3 --output-dir "$W/c_sim16"; expect_rc 0; expect_out "simulated:"
    "$NPYCMP" "$W/c_sim16/y.npy" "$W/c_cpu/y.npy" --rtol 1e-2 --atol 1e-2 || fail "gemm bf16: sim differs from cpu"
    "$NPYCMP" "$W/c_sim16/y.npy" "$W/c_cpu/y.npy" --exact 2>/dev/null &&
        fail "gemm bf16: bit-identical to fp32, so nothing was cast"
    # the ONNX test data's Conv (weights are an input): compiled, run, equal
    nc compile "$CONV/model.onnx" -o "$W/conv.ncx" --auto-cast none; expect_rc 0
    local in="--input $CONV/test_data_set_0/input_0.pb --input $CONV/test_data_set_0/input_1.pb"
    # shellcheck disable=SC2086
    nc run "$CONV/model.onnx" $in --device cpu --output-dir "$W/cpu"; expect_rc 0
    # shellcheck disable=SC2086
    nc run "$W/conv.ncx" $in --device sim --output-dir "$W/sim"
    expect_rc 0; expect_out "output 'y': float32 [1,1,4,3]"; expect_out "simulated:"
    "$NPYCMP" "$W/sim/y.npy" "$W/cpu/y.npy" --rtol 1e-5 --atol 1e-5 || fail "conv: sim differs from cpu"
    "$NPYCMP" "$W/sim/y.npy" "$CONV/test_data_set_0/output_0.pb" --rtol 1e-5 --atol 1e-5 ||
        fail "conv: sim differs from the ONNX expected output"
    # timing only: no values
    nc run "$W/cgemm32.ncx" --random --no-values; expect_rc 0; expect_out "timing only"
    # Gemm with a bias
    local gin="--input $GEMM/test_data_set_0/input_0.pb --input $GEMM/test_data_set_0/input_1.pb"
    gin="$gin --input $GEMM/test_data_set_0/input_2.pb"
    nc compile "$GEMM/model.onnx" -o "$W/gemm.ncx" --auto-cast none; expect_rc 0
    # shellcheck disable=SC2086
    nc run "$W/gemm.ncx" $gin --output-dir "$W/gsim"; expect_rc 0; expect_out "simulated:"
    # shellcheck disable=SC2086
    nc run "$GEMM/model.onnx" $gin --output-dir "$W/gcpu"; expect_rc 0
    "$NPYCMP" "$W/gsim/y.npy" "$W/gcpu/y.npy" --rtol 1e-5 --atol 1e-5 || fail "gemm: sim differs from cpu"
    "$NPYCMP" "$W/gsim/y.npy" "$GEMM/test_data_set_0/output_0.pb" --rtol 1e-5 --atol 1e-5 ||
        fail "gemm: sim differs from the ONNX expected output"
}

case_profile() {
    mkgemm "$W/cgemm.onnx"
    nc compile "$W/cgemm.onnx" -o "$W/cg.ncx"; expect_rc 0
    nc profile "$W/cg.ncx" --trace "$W/t.json" --summary "$W/s.json" --svg "$W/t.svg"
    expect_rc 0; expect_no_err
    expect_out "simulated"; expect_out "cycles"; expect_out "busy"; expect_out "MAC util"; expect_out "DRAM"
    expect_out "wrote $W/t.json"; expect_out "wrote $W/s.json"; expect_out "wrote $W/t.svg"
    grep -q '"traceEvents"' "$W/t.json" || fail "trace has no traceEvents"
    grep -q '"ph":"X"' "$W/t.json" || fail "trace has no instruction events"
    for key in total_us total_cycles cores engines busy_pct mac_util sbuf_high_bytes psum_high_bytes \
        dram_read_bytes dram_written_bytes layers; do
        grep -q "\"$key\"" "$W/s.json" || fail "summary lacks \"$key\""
    done
    if command -v python3 >/dev/null; then
        python3 - "$W/t.json" "$W/s.json" <<'PY' || fail "trace or summary is not the expected JSON"
import json, sys
t = json.load(open(sys.argv[1]))
ev = [e for e in t["traceEvents"] if e.get("ph") == "X"]
assert ev and all(k in ev[0] for k in ("name", "cat", "ts", "dur", "pid", "tid", "args")), ev[:1]
s = json.load(open(sys.argv[2]))
assert s["total_us"] > 0 and s["total_cycles"] > 0
c = s["cores"][0]
assert 0 < c["mac_util"] <= 1 and c["dram_read_bytes"] > 0 and c["layers"]
PY
    fi
    [ "$(head -c 4 "$W/t.svg")" = "<svg" ] || fail "t.svg does not start with <svg"
    grep -q '<rect' "$W/t.svg" || fail "t.svg draws no boxes"
    nc profile "$W/cg.ncx" --no-values --svg "$W/t2.svg" --top 0
    expect_rc 0; expect_out "timing only"; expect_out "wrote $W/t2.svg"
    nc profile "$W/cg.ncx" --no-values --replicas 4; expect_rc 0; expect_out "4 cores"
    nc profile "$W/cg.ncx" --trace "$W/no_such_dir/t.json"; expect_rc 1; expect_err "no_such_dir"
}

# mkgemm2 FILE: z = Gemm(Gemm(x[2,4], W[4,3], C[3]), W2[3,4]), constant
# weights: two chip layers, for the pipeline planner. Encoded as mkgemm.
mkgemm2() {
    local f4="0000803f000000bf0000803e00000040" w w2 c n1 n2 graph model
    w=0804080310014201$(hexs W)4a30$f4$f4$f4
    w2=0803080410014202$(hexs W2)4a30$f4$f4$f4
    c=080310014201$(hexs C)4a0c0000003f000080bf0000403f
    n1=$(ld 0a "$(hexs x)")$(ld 0a "$(hexs W)")$(ld 0a "$(hexs C)")$(ld 12 "$(hexs h)")$(ld 22 "$(hexs Gemm)")
    n2=$(ld 0a "$(hexs h)")$(ld 0a "$(hexs W2)")$(ld 12 "$(hexs z)")$(ld 22 "$(hexs Gemm)")
    graph=$(ld 0a "$n1")$(ld 0a "$n2")$(ld 12 "$(hexs g)")$(ld 2a "$w")$(ld 2a "$c")$(ld 2a "$w2")
    graph=$graph$(ld 5a "$(vinfo x "$(dimv 2)$(dimv 4)")")$(ld 62 "$(vinfo z "$(dimv 2)$(dimv 4)")")
    model=0807$(ld 3a "$graph")$(ld 42 100d)
    hexwrite "$model" "$1"
}

case_compile_pipeline() {
    mkgemm2 "$W/g2.onnx"
    nc run "$W/g2.onnx" --random; expect_rc 0
    nc compile "$W/g2.onnx" --target inf1 --pipeline-cores 2 -o "$W/g2.ncx"
    expect_rc 0; expect_no_err; expect_out "on chip: 2 of 2 ops"
    expect_out "pipeline: 2 layers over 2 cores; "; expect_out "MiB SBUF per core"
    expect_out "core chip layers      weights    +work   sbuf    recv us   stage us  first..last"
    grep -qE '^0 +0 +0-0 ' "$W/out" || fail "no row for core 0 holding layer 0"
    grep -qE '^1 +0 +1-1 ' "$W/out" || fail "no row for core 1 holding layer 1"
    expect_out "bottleneck "; expect_out "inferences/s; latency "
    [ "$(head -c 4 "$W/g2.ncx")" = NCX1 ] || fail "g2.ncx does not start with NCX1"
    # auto: a few hundred bytes of weights fit one core
    nc compile "$W/g2.onnx" --pipeline-cores auto -o "$W/g2a.ncx"
    expect_rc 0; expect_out "pipeline: 2 layers over 1 cores (auto: the fewest that fit)"
    grep -qE '^0 +0 +0-1 ' "$W/out" || fail "auto: no row for core 0 holding layers 0-1"
    nc compile "$W/g2.onnx" --pipeline-cores 2 -o "$W/g2j.ncx" --json; expect_rc 0; expect_json
    expect_out '"pipeline": {"stages": 2'
    # without the option: no plan
    nc compile "$W/g2.onnx" -o "$W/g2n.ncx"; expect_rc 0
    grep -q "^pipeline:" "$W/out" && fail "a plan printed without --pipeline-cores"
    # errors: more cores than inf1 has (exit 1, nothing written), bad values
    rm -f "$W/g5.ncx"
    nc compile "$W/g2.onnx" --target inf1 --pipeline-cores 5 -o "$W/g5.ncx"
    expect_rc 1; expect_err "5 cores asked, but 'inf1' has 4"
    [ ! -e "$W/g5.ncx" ] || fail "an artifact was written for a failed plan"
    nc compile "$W/g2.onnx" --pipeline-cores 3 -o "$W/g5.ncx"; expect_rc 1; expect_err "3 cores for 2 layers"
    nc compile "$W/g2.onnx" --pipeline-cores 0 -o "$W/g5.ncx"; expect_rc 2; expect_err "--pipeline-cores"
    nc compile "$W/g2.onnx" --pipeline-cores lots -o "$W/g5.ncx"; expect_rc 2; expect_err "'lots'"
    nc compile --help; expect_rc 0; expect_out "--pipeline-cores N|auto"; expect_out "one program per core"
}

# The README's main job end to end: examples/wakeword on speech from
# espeak-ng. Skips when the example is not built or the models are not cached.
case_wakeword() {
    local ww=${WAKEWORD:-} models=${NCORE_CACHE:-$HOME/.cache/ncore}/models
    if [ ! -x "$ww" ] || [ ! -f "$models/alexa_v0.1.onnx" ] || ! command -v espeak-ng >/dev/null ||
        ! command -v sox >/dev/null; then
        echo "SKIP: needs the wakeword example, espeak-ng, sox and the models in $models"
        exit 77
    fi
    espeak-ng -v en-us -s 140 -w "$W/p.raw.wav" "Alexa, what time is it?" &&
        sox "$W/p.raw.wav" -r 16000 -c 1 -b 16 "$W/p.wav" || fail "espeak-ng/sox failed"
    espeak-ng -v en-us -s 140 -w "$W/n.raw.wav" "The weather is nice today." &&
        sox "$W/n.raw.wav" -r 16000 -c 1 -b 16 "$W/n.wav" || fail "espeak-ng/sox failed"
    CHECKS=$((CHECKS + 1))
    "$ww" --models "$models" "$W/p.wav" >"$W/out" 2>"$W/err" || fail "wakeword failed: $(cat "$W/err")"
    grep -q 'wake word "alexa" detected' "$W/out" || { fail "no detection on 'Alexa, ...'"; cat "$W/out"; }
    CHECKS=$((CHECKS + 1))
    "$ww" --quiet --models "$models" "$W/n.wav" >"$W/out" 2>"$W/err" || fail "wakeword failed: $(cat "$W/err")"
    grep -q 'no wake word' "$W/out" || { fail "detection on a sentence without the wake word"; cat "$W/out"; }
    "$ww" --models "$models" "$W/p.raw.wav" >"$W/out" 2>"$W/err"
    [ $? -eq 1 ] && grep -q '22050 Hz' "$W/err" || fail "a 22050 Hz file was not refused clearly"
}

"case_$CASE" || true
echo "$CASE: $CHECKS commands, $FAILS failures"
[ "$FAILS" -eq 0 ]
