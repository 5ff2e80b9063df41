#!/usr/bin/env bash
# The serving targets of issue #6, measured in one run on this machine:
#   - server overhead: `ncore perf` at concurrency 16 with dynamic batching,
#     against `ncore bench`'s best throughput on the same model and device;
#   - dynamic batching: concurrency 16 with batching on against off.
#
#   bench/serve_perf.sh [SECONDS=20] [THREADS=2]
#
# Uses the release build (builds it if needed) and ResNet-50 exports in the
# cache (scripts/make_torch_models.py: resnet50.onnx and resnet50_dyn.onnx).
# Writes bench/results/serve.json and prints the table for docs/SERVING.md.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
threads=${2:-2}
cache=${NCORE_CACHE:-$HOME/.cache/ncore}
for f in resnet50.onnx resnet50_dyn.onnx; do
    [ -f "$cache/torch/$f" ] || {
        echo "serve_perf: $cache/torch/$f is missing; run /usr/bin/python3 scripts/make_torch_models.py" >&2
        exit 1
    }
done
cmake --preset release >/dev/null
cmake --build --preset release --target ncore_cli >/dev/null
nc=build/release/ncore
work=$(mktemp -d "${TMPDIR:-/tmp}/ncore-serve-perf.XXXXXX")
spid=""
trap '[ -n "$spid" ] && kill "$spid" 2>/dev/null; rm -rf "$work"' EXIT

# The same weights twice: batch 8 with a 5 ms window, and batching off.
mkdir -p "$work/repo/rn50_batch/1" "$work/repo/rn50_nobatch/1"
ln -s "$cache/torch/resnet50_dyn.onnx" "$work/repo/rn50_batch/1/model.onnx"
ln -s "$cache/torch/resnet50.onnx" "$work/repo/rn50_nobatch/1/model.onnx"
cat >"$work/repo/rn50_batch/config.pbtxt" <<'EOF'
max_batch_size: 8
dynamic_batching { preferred_batch_size: [ 8 ] max_queue_delay_microseconds: 5000 }
instance_group [ { count: 1 kind: KIND_CPU } ]
EOF
cat >"$work/repo/rn50_nobatch/config.pbtxt" <<'EOF'
max_batch_size: 0
instance_group [ { count: 1 kind: KIND_CPU } ]
EOF

echo "serve_perf: ncore bench, batch 1 and 8, $threads threads, ${secs}s each"
"$nc" bench "$cache/torch/resnet50.onnx" --threads "$threads" --time "$secs" --json "$work/b1.json" >/dev/null
"$nc" bench "$cache/torch/resnet50_dyn.onnx" --batch 8 --threads "$threads" --time "$secs" \
    --json "$work/b8.json" >/dev/null

"$nc" serve --model-repository "$work/repo" --http-port 0 --threads "$threads" \
    >"$work/serve.out" 2>"$work/serve.err" &
spid=$!
url=""
for _ in $(seq 600); do
    url=$(sed -n 's/^ncore serve: listening on \(http:[^ ]*\).*/\1/p' "$work/serve.out")
    [ -n "$url" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/v2/health/ready")" = 200 ] && break
    sleep 0.1
done
[ -n "$url" ] || { echo "serve_perf: the server did not start" >&2; cat "$work/serve.err" >&2; exit 1; }

for m in rn50_batch rn50_nobatch; do
    echo "serve_perf: ncore perf $m at concurrency 1,16, ${secs}s per level"
    "$nc" perf "$url" --model "$m" --binary --concurrency 1,16 --duration "$secs" --warmup 3 \
        --timeout 300 --json "$work/$m.json" --quiet
done
kill -TERM "$spid"
wait "$spid" || true
spid=""

mkdir -p bench/results
python3 - "$work" "$threads" "$secs" <<'EOF'
import json, os, sys, platform
work, threads, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
load = lambda n: json.load(open(os.path.join(work, n)))
b1, b8 = load("b1.json"), load("b8.json")
def levels(name):  # ncore perf --json: levels[] by concurrency
    return {r["concurrency"]: r for r in load(name + ".json")["levels"]}
batch, nobatch = levels("rn50_batch"), levels("rn50_nobatch")
def tput(b):  # ncore bench --json
    return b["throughput_per_s"]
best = max(tput(b1), tput(b8))
c16b, c16n = batch[16], nobatch[16]
out = {
    "model": "resnet50", "threads": threads, "seconds_per_level": secs,
    "cpu": platform.processor() or platform.machine(),
    "bench_batch1_infer_per_s": tput(b1), "bench_batch8_infer_per_s": tput(b8),
    "serve": {"batching": batch, "no_batching": nobatch},
    "server_vs_bench_best": c16b["throughput_infer_per_s"] / best,
    "batching_vs_off_c16": c16b["throughput_infer_per_s"] / c16n["throughput_infer_per_s"],
}
json.dump(out, open("bench/results/serve.json", "w"), indent=2)
print("| config | concurrency | infer/s | p50 ms | p90 ms | p99 ms |")
print("|---|---|---|---|---|---|")
for label, rows in (("batching (max 8, 5 ms)", batch), ("no batching", nobatch)):
    for c in sorted(rows):
        r = rows[c]
        l = r["latency_us"]
        print(f"| {label} | {c} | {r['throughput_infer_per_s']:.1f} | {l['p50']/1e3:.0f} | {l['p90']/1e3:.0f} | {l['p99']/1e3:.0f} |")
print(f"| ncore bench, batch 1 | - | {tput(b1):.1f} | | | |")
print(f"| ncore bench, batch 8 | - | {tput(b8):.1f} | | | |")
print()
print(f"server at c16 / bench best: {out['server_vs_bench_best']:.2f} (target >= 0.90)")
print(f"batching / no batching at c16: {out['batching_vs_off_c16']:.2f} (target >= 1.5)")
EOF
