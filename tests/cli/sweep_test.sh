#!/usr/bin/env bash
# `ncore sweep` and bench/plot_sweep.py (label cli).
#   sweep_test.sh NCORE PLOT_SWEEP_PY WORKDIR
# Exit 0 pass, 1 fail, 77 skip (python3 missing).
set -u

NCORE=$1 PLOT=$2 W=$3
rm -rf "$W" && mkdir -p "$W" || exit 1
command -v python3 >/dev/null || {
    echo "SKIP: python3 is needed to read the sweep JSON and run plot_sweep.py"
    exit 77
}
export TMPDIR=$W # the sweep's temporary artifacts; checked below that none is left

. "$(dirname "$0")/lib.sh"

# mkchain FILE: y = x[1,16] through 4 Gemm layers, each with constant 16x16
# weights (1 KiB, so weights dominate the 64-byte input), all on the chip.
# Hand-encoded protobuf (IR 7, opset 13), as mkgemm in cli_test.sh.
mkchain() {
    # 16x16 floats: 0.125, -0.0625, 0.03125, 0.25 (little-endian) repeated
    local f4="0000003e000080bd0000003d0000803e" raw="" nodes="" inits="" k in out graph model
    for k in $(seq 64); do raw=$raw$f4; done
    for k in 1 2 3 4; do
        in=h$((k - 1)) out=h$k
        [ $k -eq 1 ] && in=x
        [ $k -eq 4 ] && out=y
        inits=$inits$(ld 2a "081008101001$(ld 42 "$(hexs W$k)")$(ld 4a "$raw")")
        nodes=$nodes$(ld 0a "$(ld 0a "$(hexs $in)")$(ld 0a "$(hexs W$k)")$(ld 12 "$(hexs $out)")$(ld 22 "$(hexs Gemm)")")
    done
    graph=$nodes$(ld 12 "$(hexs g)")$inits
    graph=$graph$(ld 5a "$(vinfo x "$(dimv 1)$(dimv 16)")")$(ld 62 "$(vinfo y "$(dimv 1)$(dimv 16)")")
    model=0807$(ld 3a "$graph")$(ld 42 100d)
    hexwrite "$model" "$1"
}

mkchain "$W/chain.onnx"
nc run "$W/chain.onnx" --random; expect_rc 0; expect_out "output 'y': float32 [1,16]"

# the grid of the test: pipeline and data parallel over 1 and 2 cores
nc sweep "$W/chain.onnx" --cores 1,2 --mode pipeline,data-parallel --target inf1 --requests 10 \
    --json "$W/s.json" --csv "$W/s.csv"
expect_rc 0
expect_out "sweep of $W/chain.onnx on inf1 (4 cores; --target)"; expect_out "10 requests per point"
expect_out "mode          cores stages      inf/s     p50 ms     p99 ms    DRAM/inf"
grep -qE '^pipeline +2 +2 ' "$W/out" || fail "no table row for a 2-stage pipeline"
grep -qE '^data-parallel +2 +- ' "$W/out" || fail "no table row for data-parallel over 2"
expect_out "DRAM bytes per inference, pipeline against the other modes:"
expect_out "wrote $W/s.json"; expect_out "wrote $W/s.csv"
python3 - "$W/s.json" "$W/s.csv" <<'PY' || fail "sweep JSON/CSV: unexpected content"
import csv, json, sys
s = json.load(open(sys.argv[1]))
assert s["kind"] == "sweep" and s["target"] == "inf1" and s["target_cores"] == 4 and s["requests"] == 10, s
pts = {(p["mode"], p["cores"]): p for p in s["points"]}
assert sorted(pts) == [("data-parallel", 1), ("data-parallel", 2), ("pipeline", 1), ("pipeline", 2)], sorted(pts)
for (mode, cores), p in pts.items():
    assert p["ok"] and "error" not in p, p
    assert p["requests"] == 10 and p["throughput_per_s"] > 0, p
    l = p["latency_us"]
    assert 0 < l["min"] <= l["p50"] <= l["p90"] <= l["p99"] <= l["max"], l
    assert 0 < p["mac_util"] <= 1 and 0 <= p["bubble_pct"] <= 100, p
    # requests conserved: a pipeline core serves every request, a copy its share
    cr = p["core_requests"]
    assert len(cr) == cores, (mode, cr)
    if mode == "pipeline":
        assert p["stages"] == cores and cr == [10] * cores, p
    else:
        assert sum(cr) == 10 and max(cr) - min(cr) <= 1 and "stages" not in p, p
for n in (1, 2):
    pp, dp = pts[("pipeline", n)], pts[("data-parallel", n)]
    # weights resident: the pipeline reads less DRAM per inference (2 KiB of bf16 weights)
    assert pp["per_inference"]["dram_bytes"] + 2000 <= dp["per_inference"]["dram_bytes"], (pp, dp)
    assert dp["per_inference"]["link_bytes"] == 0, dp
# the stages of a 2-core pipeline talk over the link
assert pts[("pipeline", 2)]["per_inference"]["link_bytes"] > 0
assert pts[("pipeline", 1)]["per_inference"]["link_bytes"] == 0
# two copies serve about twice what one does
t1, t2 = pts[("data-parallel", 1)]["throughput_per_s"], pts[("data-parallel", 2)]["throughput_per_s"]
assert 1.5 * t1 < t2 <= 2.0001 * t1, (t1, t2)
rows = list(csv.DictReader(open(sys.argv[2])))
assert len(rows) == 4 and all(r["ok"] == "1" and r["error"] == "" for r in rows), rows
for r in rows:
    p = pts[(r["mode"], int(r["cores"]))]
    assert abs(float(r["dram_bytes_per_inf"]) - p["per_inference"]["dram_bytes"]) <= 1, (r, p)
    assert abs(float(r["throughput_per_s"]) - p["throughput_per_s"]) <= 1e-3 * p["throughput_per_s"], (r, p)
PY
ls "$W"/ncore-sweep-* >/dev/null 2>&1 && fail "temporary artifacts left in $W"

# the plots: three well-formed SVGs with a line per mode and a bar per point
python3 "$PLOT" "$W/s.json" "$W/plots" >"$W/pout" 2>&1 || { fail "plot_sweep.py failed"; cat "$W/pout"; }
python3 - "$W/plots" <<'PY' || fail "plot_sweep.py: unexpected SVG"
import os, sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
d = sys.argv[1]
assert sorted(os.listdir(d)) == ["s_dram.svg", "s_latency.svg", "s_throughput.svg"], os.listdir(d)
roots = {f: ET.parse(os.path.join(d, f)).getroot() for f in os.listdir(d)}
for f, r in roots.items():
    assert r.tag == ns + "svg", (f, r.tag)
lines = lambda f: roots[f].findall(f".//{ns}polyline")
assert len(lines("s_throughput.svg")) == 2, "one throughput line per mode"
assert len(lines("s_latency.svg")) == 4, "p50 and p99 per mode"
bars = [e for e in roots["s_dram.svg"].iter(ns + "rect") if e.find(ns + "title") is not None]
assert len(bars) == 4, len(bars)
# the pipeline's bars are the shorter ones
h = {b.find(ns + "title").text.split(":")[0]: float(b.get("height")) for b in bars}
assert h["pipeline, 1 cores"] < h["data-parallel, 1 cores"], h
PY

# points that cannot be built are recorded, and the sweep goes on: 8 cores on
# inf1 (4 cores), and a pipeline of 3 cores for 4 layers still works
nc sweep "$W/chain.onnx" --cores 1,3,8 --target inf1 --requests 5 --mode pipeline,data-parallel,single --json "$W/f.json"
expect_rc 0; expect_out "failed: "
python3 - "$W/f.json" <<'PY' || fail "sweep with failures: unexpected JSON"
import json, sys
s = json.load(open(sys.argv[1]))
pts = {(p["mode"], p["cores"]): p for p in s["points"]}
# single is one point at one core, whatever --cores
assert sorted(pts) == [("data-parallel", 1), ("data-parallel", 3), ("data-parallel", 8), ("pipeline", 1),
                       ("pipeline", 3), ("pipeline", 8), ("single", 1)], sorted(pts)
for k in [("pipeline", 8), ("data-parallel", 8)]:
    assert not pts[k]["ok"] and "4" in pts[k]["error"] and "inf1" in pts[k]["error"] + s["target"], pts[k]
    assert "throughput_per_s" not in pts[k]
for k in [("pipeline", 1), ("pipeline", 3), ("data-parallel", 3), ("single", 1)]:
    assert pts[k]["ok"], pts[k]
assert pts[("single", 1)]["per_inference"] == pts[("data-parallel", 1)]["per_inference"]
PY
python3 "$PLOT" "$W/f.json" "$W/plots" --prefix f >"$W/pout" 2>&1 || { fail "plot_sweep.py with failures"; cat "$W/pout"; }
grep -q "not run: pipeline over 8 cores" "$W/plots/f_throughput.svg" || fail "the plot does not list the failed points"

# the default target: the smallest preset with 8 cores is inf1.6xlarge (16)
nc sweep "$W/chain.onnx" --cores 8 --mode data-parallel --requests 4
expect_rc 0; expect_out "on inf1.6xlarge (16 cores; default: the smallest preset with enough cores)"

# nothing ran: exit 1, the reasons in the table
nc sweep "$W/chain.onnx" --cores 5 --mode pipeline --target inf1 --requests 4
expect_rc 1; expect_out "failed: "; expect_err "no configuration of the sweep ran"

# usage errors
nc sweep; expect_rc 2; expect_err "missing MODEL"
nc sweep "$W/chain.onnx" --cores 0; expect_rc 2; expect_err "--cores"
nc sweep "$W/chain.onnx" --cores 1,,2; expect_rc 2; expect_err "--cores"
nc sweep "$W/chain.onnx" --cores 65; expect_rc 2; expect_err "--cores"
nc sweep "$W/chain.onnx" --mode pipeline,fast; expect_rc 2; expect_err "--mode"
nc sweep "$W/chain.onnx" --target inf9; expect_rc 2; expect_err "'inf9'"
nc sweep "$W/chain.onnx" --target inf1 --chip x.json; expect_rc 2; expect_err "one of --target and --chip"
nc sweep "$W/chain.onnx" --arrival poisson:0; expect_rc 2; expect_err "--arrival"
nc sweep "$W/chain.onnx" --frob; expect_rc 2; expect_err "unknown option '--frob'"
nc sweep "$W/missing.onnx" --requests 2; expect_rc 1; expect_err "missing.onnx"
nc compile "$W/chain.onnx" -o "$W/chain.ncx"; expect_rc 0
nc sweep "$W/chain.ncx" --requests 2; expect_rc 1; expect_err "already compiled"
nc sweep "$W/chain.onnx" --cores 1 --requests 2 --json "$W/no_such_dir/s.json"; expect_rc 1; expect_err "no_such_dir"
nc sweep --help; expect_rc 0; expect_out "--mode LIST"
ls "$W"/ncore-sweep-* >/dev/null 2>&1 && fail "temporary artifacts left in $W"

[ "$FAILS" -eq 0 ] && echo "sweep_test: all passed" || echo "sweep_test: $FAILS failed"
[ "$FAILS" -eq 0 ]
