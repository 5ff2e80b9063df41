#!/usr/bin/env bash
# Soak test of `ncore serve` under a sanitizer build:
#   scripts/soak.sh [SECONDS=120] [PRESET=asan-ubsan|tsan|release]
# Builds the preset, serves a small repository (a batching model and a
# non-batching one), loads it with `ncore perf` at concurrency 64 in all
# (32 JSON clients on the batching model, 32 binary clients on the other,
# a tenth of the requests invalid on purpose) for SECONDS, samples the
# server's RSS every 10 s, then stops it with SIGTERM and checks:
#   - the server exits 0 and neither it nor the clients print a sanitizer report;
#   - no request is lost, answered twice, answered with another request's
#     data, or answered wrongly (ncore perf's counts: errors == 0, and every
#     request sent is either answered 200 or, if invalid, refused with 4xx);
#   - memory is stable: the last RSS sample is within 10% of the sample at
#     30 s (or the first one, for runs shorter than 40 s).
# Environment: SOAK_BUILD_DIR overrides the build directory (default
# build/PRESET); SOAK_NO_CONFIGURE=1 uses it as configured; SOAK_KEEP=1
# keeps the work directory.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${1:-120}
PRESET=${2:-asan-ubsan}
case "$PRESET" in asan-ubsan | tsan | release) ;; *) echo "soak: PRESET must be asan-ubsan, tsan or release" >&2; exit 2 ;; esac
[[ "$SECS" =~ ^[0-9]+$ ]] && [ "$SECS" -ge 10 ] || { echo "soak: SECONDS must be an integer >= 10" >&2; exit 2; }
TD=/usr/share/libonnx-testdata/data/node
[ -f "$TD/test_relu/model.onnx" ] || { echo "soak: $TD/test_relu missing (install libonnx-testdata)" >&2; exit 1; }
command -v jq >/dev/null || { echo "soak: jq is not installed" >&2; exit 1; }

BUILD=${SOAK_BUILD_DIR:-build/$PRESET}
echo "soak: building $PRESET in $BUILD"
[ "${SOAK_NO_CONFIGURE:-0}" = 1 ] || cmake --preset "$PRESET" -B "$BUILD" >/dev/null
cmake --build "$BUILD" --target ncore_cli serve_util >/dev/null
NCORE=$BUILD/ncore
UTIL=$BUILD/tests/serve/serve_util

W=$(mktemp -d /tmp/ncore-soak.XXXXXX)
SPID="" PERF_PIDS=()
cleanup() {
    [ -n "$SPID" ] && kill -KILL "$SPID" 2>/dev/null || true
    for p in "${PERF_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    if [ "${SOAK_KEEP:-0}" = 1 ]; then echo "soak: work directory kept: $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT

mkdir -p "$W/repo/double/1" "$W/repo/relu/1"
"$UTIL" model "$W/repo/double/1/model.onnx"
cp "$TD/test_relu/model.onnx" "$W/repo/relu/1/"
cat >"$W/repo/double/config.pbtxt" <<'EOF'
max_batch_size: 8
dynamic_batching { preferred_batch_size: [ 4, 8 ] max_queue_delay_microseconds: 1000
                   default_queue_policy { max_queue_size: 256 } }
instance_group [ { count: 2 kind: KIND_CPU } ]
EOF

# a small quarantine, so RSS shows the program's memory, not ASan's freed-block pool
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:quarantine_size_mb=32}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-second_deadlock_stack=1}

: >"$W/server.out"
"$NCORE" serve --model-repository "$W/repo" --http-port 0 >"$W/server.out" 2>"$W/server.err" &
SPID=$!
URL=""
for _ in $(seq 600); do
    URL=$(sed -n 's/^ncore serve: listening on \(http:[^ ]*\).*/\1/p' "$W/server.out")
    [ -n "$URL" ] && break
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.1
done
[ -n "$URL" ] || { echo "soak: the server did not start"; cat "$W/server.out" "$W/server.err"; exit 1; }
echo "soak: server $URL (pid $SPID), $SECS s at concurrency 64"

"$NCORE" perf "$URL" --model double --shape x=1,16 --concurrency 32 --duration "$SECS" --warmup 0 \
    --invalid 10 --timeout 120 --json "$W/perf_json.json" >"$W/perf_json.out" 2>&1 &
PERF_PIDS+=($!)
"$NCORE" perf "$URL" --model relu --binary --concurrency 32 --duration "$SECS" --warmup 0 \
    --invalid 10 --timeout 120 --json "$W/perf_bin.json" >"$W/perf_bin.out" 2>&1 &
PERF_PIDS+=($!)

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$SPID/status" 2>/dev/null || echo 0; }
RSS=()
for ((t = 10; t <= SECS; t += 10)); do
    sleep 10
    RSS+=("$(rss)")
    echo "soak: t=${t}s server RSS $(( ${RSS[-1]} / 1024 )) MiB"
done

PERF_RC=0
for p in "${PERF_PIDS[@]}"; do wait "$p" || PERF_RC=1; done
PERF_PIDS=()
kill -TERM "$SPID"
SERVER_RC=0
wait "$SPID" || SERVER_RC=$?
SPID=""

FAIL=0
bad() { echo "soak: FAIL: $*"; FAIL=1; }
[ "$SERVER_RC" -eq 0 ] || bad "the server exited $SERVER_RC after SIGTERM"
SAN='Sanitizer|runtime error:'
if grep -qE "$SAN" "$W/server.err"; then
    bad "sanitizer report in the server's stderr:"
    grep -E -A30 "$SAN" "$W/server.err" | head -80
fi
for k in json bin; do
    f=$W/perf_$k.json
    if grep -qE "$SAN" "$W/perf_$k.out"; then
        bad "sanitizer report in ncore perf ($k):"
        grep -E -A30 "$SAN" "$W/perf_$k.out" | head -60
    fi
    if [ ! -s "$f" ]; then
        bad "ncore perf ($k) wrote no results:"
        cat "$W/perf_$k.out"
        continue
    fi
    jq -r '.levels[0] | "soak: \(.sent) sent (\(.invalid_sent) invalid): \(.ok) answered 200, " +
        "\(.invalid_rejected) refused with 4xx, \(.errors) errors (lost \(.lost), wrong id \(.wrong_id), " +
        "wrong data \(.data_mismatch), bad output \(.bad_output), bad status \(.bad_status), " +
        "invalid accepted \(.invalid_accepted)); \(.throughput_infer_per_s) infer/s, p99 \(.latency_us.p99) us"' "$f" |
        sed "s/^soak:/soak: $k clients:/"
    jq -e '.levels[0] | .errors == 0 and .sent == .ok + .invalid_rejected and .invalid_sent == .invalid_rejected
           and .ok > 0' "$f" >/dev/null || { bad "ncore perf ($k) counts show lost or wrong answers"; grep 'ncore perf' "$W/perf_$k.out" | head; }
done
[ "$PERF_RC" -eq 0 ] || bad "ncore perf exited non-zero"

# Memory: the last sample against the one at 30 s (index 2).
base_i=2
[ ${#RSS[@]} -ge 4 ] || base_i=0
base=${RSS[$base_i]} last=${RSS[-1]}
if [ "$base" -gt 0 ] && [ "$last" -gt $((base + base / 10)) ]; then
    msg="RSS grew from $((base / 1024)) MiB (t=$(((base_i + 1) * 10))s) to $((last / 1024)) MiB"
    # ASan's own bookkeeping (quarantine, allocation stack depot) grows under
    # load; with it off (quarantine_size_mb=0:malloc_context_size=0) the same
    # run is flat. Memory stability is judged on the release and tsan builds,
    # whose RSS is the program's; here it is reported only.
    if [ "$PRESET" = asan-ubsan ]; then
        echo "soak: note: $msg (ASan bookkeeping; not a verdict on this build)"
    else
        bad "$msg"
    fi
fi
echo "soak: RSS samples (KiB): ${RSS[*]}"
if [ "$FAIL" -ne 0 ]; then
    echo "soak: FAILED ($PRESET, $SECS s)"
    exit 1
fi
if [ "$PRESET" = asan-ubsan ]; then rss_word="RSS reported above"; else rss_word="RSS stable"; fi
echo "soak: passed ($PRESET, $SECS s): no sanitizer report, no lost or wrong response, $rss_word"
