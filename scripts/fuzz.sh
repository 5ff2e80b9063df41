#!/bin/sh
# Fuzz the parsers for a bounded time: scripts/fuzz.sh [seconds] (default 60),
# split between the ONNX importer (two thirds) and the server's request parser.
# Builds the `fuzz` preset (clang, libFuzzer, ASan+UBSan); the importer's
# corpus is seeded with conformance models and the real models in the cache,
# the request parser's with fuzz/seeds/serve.
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
cmake --build --preset fuzz --target fuzz_onnx_import fuzz_serve_request
serve_secs=$((secs / 3))
secs=$((secs - serve_secs))

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ncore-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
corpus=$tmp/onnx serve_corpus=$tmp/serve
mkdir -p "$corpus" "$serve_corpus"
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
flags="-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=build/fuzz/artifacts/"
cp fuzz/seeds/serve/* "$serve_corpus/"
echo "fuzz: request parser for ${serve_secs}s"
build/fuzz/fuzz_serve_request -max_total_time="$serve_secs" -max_len=65536 $flags "$serve_corpus"
echo "fuzz: importer for ${secs}s"
build/fuzz/fuzz_onnx_import -max_total_time="$secs" -max_len=$max_seed $flags "$corpus"
