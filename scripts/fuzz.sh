#!/bin/sh
# Fuzz the ONNX importer for a bounded time: scripts/fuzz.sh [seconds] (default 60).
# Builds the `fuzz` preset (clang, libFuzzer, ASan+UBSan) and seeds the corpus
# with conformance models and the real models in the cache, if any.
# Crashing inputs are kept in build/fuzz/artifacts/; the exit status is
# libFuzzer's (non-zero on a crash, leak or timeout).
set -eu
secs=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
testdata=${NC_ONNX_TESTDATA:-/usr/share/libonnx-testdata/data/node}
cache=${NCORE_CACHE:-$HOME/.cache/ncore}/models
max_seed=4194304 # bytes; larger real models are left out of the corpus

cd "$root"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target fuzz_onnx_import

corpus=$(mktemp -d "${TMPDIR:-/tmp}/ncore-fuzz.XXXXXX")
trap 'rm -rf "$corpus"' EXIT INT TERM
n=0
for d in "$testdata"/test_*/; do
    [ -f "$d/model.onnx" ] || continue
    cp "$d/model.onnx" "$corpus/$(basename "$d").onnx"
    n=$((n + 1))
    [ $n -ge 300 ] && break
done
if [ -d "$cache" ]; then
    for f in "$cache"/*.onnx; do
        [ -f "$f" ] || continue
        [ "$(stat -c %s "$f")" -le $max_seed ] && cp "$f" "$corpus/" && n=$((n + 1))
    done
fi
echo "fuzz: seed corpus of $n models, running for ${secs}s"
mkdir -p build/fuzz/artifacts
build/fuzz/fuzz_onnx_import -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -max_len=$max_seed -print_final_stats=1 -artifact_prefix=build/fuzz/artifacts/ "$corpus"
