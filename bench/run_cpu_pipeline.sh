#!/usr/bin/env bash
# bench/run_cpu_pipeline.sh [--quick] — pipeline mode on the CPU device
# (issue #5 item 5) against intra-op threading, on ResNet-50 and the
# BERT-like encoder (batch 1, ~/.cache/ncore/torch):
#
#   pipe2     --pipeline-cores 2  (2 stages, one thread each, pinned to
#                                  cores 0 and 1; 4 requests in flight)
#   pipe2_if2 the same with 2 requests in flight (lower latency)
#   threads2  --threads 2         (one request at a time, 2 OpenMP threads)
#   threads1  --threads 1
#
# For each: throughput and latency from `ncore bench` (--time SECONDS,
# default 20; --quick 3), then last-level cache misses per inference from
# valgrind's cachegrind (Debian package valgrind; OMP_WAIT_POLICY=passive
# so that OpenMP's spin-waits do not dominate the run; the pipeline with 2
# requests in flight) on two short runs, ITERS_A (2) and ITERS_B (4)
# measured inferences after one warm-up: misses per
# inference = (LL misses of B - LL misses of A) / (ITERS_B - ITERS_A), so
# loading, planning and warm-up cancel out. Cachegrind simulates ONE cache
# hierarchy for the whole process (valgrind runs the threads one at a time),
# given here as LL=${CG_LL} (the host's shared L3 by default: 32 MiB,
# 16-way, 64-byte lines): it counts the process's traffic past that cache,
# not per-core private caches (docs/PIPELINE_CPU.md).
#
# CACHEGRIND=0 skips the cachegrind runs (slow: minutes per run under
# valgrind); their fields are then null.
# Writes bench/results/cpu_pipeline.json (BUILD_DIR=build/xyz uses an
# already configured build; default: the release preset). Take numbers on a
# quiet machine.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. bench/lib.sh

secs=${SECONDS_PER_MODE:-20}
iters_a=${ITERS_A:-2} iters_b=${ITERS_B:-4}
CG_LL=${CG_LL:-33554432,16,64}
CG_D1=${CG_D1:-32768,8,64}
CG_I1=${CG_I1:-32768,8,64}
out=bench/results/cpu_pipeline.json
models=(resnet50 bert_encoder)
for a in "$@"; do
    case "$a" in
        --quick) secs=3 out=${BUILD_DIR:-build/release}/cpu_pipeline-quick.json ;;
        -h|--help) sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run_cpu_pipeline.sh: unknown option '$a'" >&2; exit 2 ;;
    esac
done
cachegrind=${CACHEGRIND:-1}
[ "$cachegrind" = 0 ] || command -v valgrind >/dev/null || { echo "run_cpu_pipeline.sh: needs valgrind (apt-get install valgrind)" >&2; exit 1; }

cache=${NCORE_CACHE:-$HOME/.cache/ncore}
for m in "${models[@]}"; do
    [ -f "$cache/torch/$m.onnx" ] || { echo "run_cpu_pipeline.sh: $cache/torch/$m.onnx is missing:" \
        "/usr/bin/python3 scripts/make_torch_models.py" >&2; exit 1; }
done
bench_build ncore_cli
ncore=$build/ncore
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$(dirname "$out")"

mode_args() {
    case $1 in
        pipe2) echo "--pipeline-cores 2" ;;
        pipe2_if2) echo "--pipeline-cores 2 --in-flight 2" ;;
        threads2) echo "--threads 2" ;;
        threads1) echo "--threads 1" ;;
    esac
}

# LL misses (instruction + data read + data write) of a cachegrind out file.
ll_misses() {
    awk '/^events:/ { for (i = 2; i <= NF; i++) col[$i] = i - 1 }
         /^summary:/ { print $(col["ILmr"] + 1) + $(col["DLmr"] + 1) + $(col["DLmw"] + 1) }' "$1"
}

for m in "${models[@]}"; do
    for mode in pipe2 pipe2_if2 threads2 threads1; do
        # shellcheck disable=SC2046
        set -- $(mode_args $mode)
        echo "+ $ncore bench $cache/torch/$m.onnx $* --time $secs --json $tmp/$m.$mode.json" >&2
        "$ncore" bench "$cache/torch/$m.onnx" "$@" --time "$secs" --json "$tmp/$m.$mode.json" >&2
        # cachegrind once per pipeline, with N = 2 requests in flight (more
        # would let a stage reuse its cached weights across queued requests)
        [ $mode = pipe2 ] || [ "$cachegrind" = 0 ] && continue
        for n in "$iters_a" "$iters_b"; do
            echo "+ valgrind --tool=cachegrind --cache-sim=yes --LL=$CG_LL --D1=$CG_D1 --I1=$CG_I1" \
                 "$ncore bench $cache/torch/$m.onnx $* --warmup 1 --iters $n" >&2
            OMP_WAIT_POLICY=passive valgrind --tool=cachegrind --cache-sim=yes --LL="$CG_LL" --D1="$CG_D1" --I1="$CG_I1" \
                --cachegrind-out-file="$tmp/cg.$m.$mode.$n" \
                "$ncore" bench "$cache/torch/$m.onnx" "$@" --warmup 1 --iters "$n" >/dev/null 2>"$tmp/cg.$m.$mode.$n.log"
            ll_misses "$tmp/cg.$m.$mode.$n" >"$tmp/ll.$m.$mode.$n"
        done
        echo "  LL misses: $(cat "$tmp/ll.$m.$mode.$iters_a") at $iters_a runs," \
             "$(cat "$tmp/ll.$m.$mode.$iters_b") at $iters_b runs" >&2
    done
done

python3 - "$tmp" "$out" "$iters_a" "$iters_b" "$CG_LL" "${models[@]}" <<'EOF'
import json, os, platform, sys
tmp, out, ia, ib, ll = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
models = sys.argv[6:]
rows = []
for m in models:
    for mode in ("pipe2", "pipe2_if2", "threads2", "threads1"):
        b = json.load(open(os.path.join(tmp, f"{m}.{mode}.json")))
        cg = "pipe2_if2" if mode == "pipe2" else mode
        try:
            la = int(open(os.path.join(tmp, f"ll.{m}.{cg}.{ia}")).read())
            lb = int(open(os.path.join(tmp, f"ll.{m}.{cg}.{ib}")).read())
            per = (lb - la) / (ib - ia)
        except FileNotFoundError:  # CACHEGRIND=0
            per = None
        rows.append({
            "model": m, "mode": mode,
            "pipeline_stages": b.get("pipeline_stages", 0), "threads": b["threads"],
            "in_flight": b.get("in_flight", 1),
            "throughput_per_s": b["throughput_per_s"], "latency_ms": b["latency_ms"],
            "runs": b["runs"], "duration_s": b["duration_s"],
            "ll_misses_per_inference": per,
            "ll_miss_bytes_per_inference": None if per is None else 64 * per,
        })
doc = {"host": platform.node(), "cpus": os.cpu_count(), "cachegrind_LL": ll,
       "cachegrind_iters": [ia, ib], "results": rows}
json.dump(doc, open(out, "w"), indent=2)
print(f"{'model':14} {'mode':9} {'infer/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'LL miss/inf':>12} {'MiB/inf':>8}")
for r in rows:
    print(f"{r['model']:14} {r['mode']:9} {r['throughput_per_s']:8.2f} {r['latency_ms']['p50']:8.2f} "
          f"{r['latency_ms']['p99']:8.2f} " +
          ("           -        -" if r['ll_misses_per_inference'] is None else
           f"{r['ll_misses_per_inference']:12.0f} {r['ll_miss_bytes_per_inference'] / 2**20:8.1f}"))
print(f"wrote {out}")
EOF
