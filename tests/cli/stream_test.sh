#!/usr/bin/env bash
# `ncore profile --requests`: request streams on the simulator (label cli).
#   stream_test.sh NCORE TESTDATA WORKDIR
# Exit 0 pass, 1 fail, 77 skip (test data missing).
set -u

NCORE=$1 TD=$2 W=$3
rm -rf "$W" && mkdir -p "$W" || exit 1
CONV=$TD/test_conv_with_strides_padding
[ -f "$CONV/model.onnx" ] || {
    echo "SKIP: ONNX test data not found under $TD (install libonnx-testdata)"
    exit 77
}
command -v python3 >/dev/null || {
    echo "SKIP: python3 is needed to read the summary JSON"
    exit 77
}

. "$(dirname "$0")/lib.sh"

mkgemm "$W/cg.onnx"
nc compile "$W/cg.onnx" -o "$W/cg.ncx"; expect_rc 0
# one run, for the per-inference figures
nc profile "$W/cg.ncx" --no-values --summary "$W/one.json" --top 0; expect_rc 0

# 20 requests, data parallel over 2 cores
nc profile "$W/cg.ncx" --requests 20 --mode data-parallel --cores 2 --summary "$W/s.json"
expect_rc 0
expect_out "stream of 20 requests"; expect_out "data-parallel over 2 cores"; expect_out "throughput"
expect_out "p50"; expect_out "p99"; expect_out "per inference DRAM read"; expect_out "bubble"
expect_out "wrote $W/s.json"
python3 - "$W/s.json" "$W/one.json" <<'PY' || fail "stream summary: unexpected JSON"
import json, sys
s = json.load(open(sys.argv[1]))
one = json.load(open(sys.argv[2]))
assert s["kind"] == "stream" and s["mode"] == "data-parallel" and s["arrival"] == "back-to-back", s
assert s["requests"] == 20 and s["cores"] == 2, s
assert s["throughput_per_s"] > 0 and s["window_us"] > 0
l = s["latency_us"]
assert 0 < l["min"] <= l["p50"] <= l["p90"] <= l["p99"] <= l["max"], l
# one run's latency is the best a request can do; back-to-back queues the rest
single_us = one["total_us"]
assert abs(l["min"] - single_us) < 1e-3 * single_us, (l, single_us)
assert l["max"] > 5 * single_us, (l, single_us)
# two copies: each request costs what one run does, in DRAM bytes
per = s["per_inference"]
c0 = one["cores"][0]
assert per["dram_read_bytes"] == c0["dram_read_bytes"] > 0, (per, c0)
assert per["dram_written_bytes"] == c0["dram_written_bytes"], (per, c0)
assert per["link_bytes"] == 0
pc = s["per_core"]
assert [c["core"] for c in pc] == [0, 1] and [c["requests"] for c in pc] == [10, 10], pc
for c in pc:
    assert 0 <= c["bubble_pct"] <= 100 and 0 < c["busy_pct"]["dma"] <= 100 and 0 <= c["mac_util"] <= 1, c
# two cores, back-to-back: about twice one core's throughput
assert 1.5 / single_us * 1e6 < s["throughput_per_s"] <= 2.0001 / single_us * 1e6, (s["throughput_per_s"], single_us)
PY

# Poisson arrivals at a low rate: no queueing, every request takes one run's time
nc profile "$W/cg.ncx" --requests 20 --arrival poisson:1000 --seed 7 --summary "$W/p.json"
expect_rc 0; expect_out "poisson arrivals at 1000/s"; expect_out "single over 1 core"
python3 - "$W/p.json" "$W/one.json" <<'PY' || fail "poisson summary: unexpected JSON"
import json, sys
s = json.load(open(sys.argv[1]))
single_us = json.load(open(sys.argv[2]))["total_us"]
l = s["latency_us"]
assert s["arrival"] == "poisson" and s["rate_per_s"] == 1000 and s["seed"] == 7
assert abs(l["max"] - single_us) < 1e-3 * single_us and abs(l["min"] - single_us) < 1e-3 * single_us, l
assert s["per_core"][0]["bubble_pct"] > 90  # 20 short requests over ~20 ms
PY
# the same seed gives the same stream
nc profile "$W/cg.ncx" --requests 20 --arrival poisson:1000 --seed 7 --summary "$W/p2.json"; expect_rc 0
python3 -c 'import json,sys; a,b=(json.load(open(f)) for f in sys.argv[1:3]); assert a["window_us"]==b["window_us"]' \
    "$W/p.json" "$W/p2.json" || fail "same seed, different stream"

# a trace of the first requests, and its picture
nc profile "$W/cg.ncx" --requests 50 --mode data-parallel --cores 4 --trace "$W/t.json" --svg "$W/t.svg"
expect_rc 0; expect_out "wrote $W/t.json"; expect_out "wrote $W/t.svg"
python3 - "$W/t.json" <<'PY' || fail "stream trace: unexpected JSON"
import json, sys
ev = [e for e in json.load(open(sys.argv[1]))["traceEvents"] if e.get("ph") == "X"]
assert len({e["pid"] for e in ev}) == 4, "one process per core"
PY

# a pipeline artifact streams in pipeline mode (and is the default mode for it)
nc compile "$W/cg.onnx" --pipeline-cores 1 -o "$W/cgp.ncx"; expect_rc 0
nc profile "$W/cgp.ncx" --requests 20 --mode pipeline --summary "$W/pp.json"
expect_rc 0; expect_out "pipeline over 1 core"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["requests"]==20, s' "$W/pp.json" ||
    fail "pipeline stream: request count"

# errors
nc profile "$W/cg.ncx" --requests 20 --mode pipeline; expect_rc 1; expect_err "--pipeline-cores"
nc profile "$W/cg.ncx" --requests 20 --mode data-parallel --cores 9; expect_rc 1; expect_err "4 cores"
nc profile "$W/cg.ncx" --requests 20 --mode single --cores 2; expect_rc 1; expect_err "data-parallel"
nc profile "$W/cg.ncx" --requests 20 --arrival poisson:0; expect_rc 2; expect_err "--arrival"
nc profile "$W/cg.ncx" --requests 0; expect_rc 2; expect_err "--requests"
nc profile "$W/cg.ncx" --mode data-parallel; expect_rc 2; expect_err "--requests"
nc profile "$W/cg.ncx" --requests 5 --replicas 2 --no-values; expect_rc 2; expect_err "--mode data-parallel"
# weights given as inputs keep the Conv on the host: no stream
nc compile "$CONV/model.onnx" -o "$W/conv.ncx"; expect_rc 0
nc profile "$W/conv.ncx" --requests 5; expect_rc 1; expect_err "host partition"

[ "$FAILS" -eq 0 ] && echo "stream_test: all passed" || echo "stream_test: $FAILS failed"
[ "$FAILS" -eq 0 ]
