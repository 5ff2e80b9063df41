#!/usr/bin/env bash
# Tests of `ncore serve` (docs/SERVING.md): one case per call, each against
# its own server on a free loopback port, driven with curl and `ncore perf`.
#   serve_test.sh CASE NCORE SERVE_UTIL TESTDATA WORKDIR
# Exit 0 pass, 1 fail, 77 skip (test data missing). The server is always
# stopped (trap); a case ends with SIGTERM and expects exit 0 and no
# sanitizer report on the server's stderr.
set -u

CASE=$1 NCORE=$2 UTIL=$3 TD=$4 W=$5
rm -rf "$W" && mkdir -p "$W" || exit 1

for tool in curl jq; do
    command -v $tool >/dev/null || { echo "FAIL: $tool is not installed (scripts/setup.sh installs it)"; exit 1; }
done
[ -f "$TD/test_relu/model.onnx" ] && [ -f "$TD/test_add/model.onnx" ] || {
    echo "SKIP: ONNX test data not found under $TD (install libonnx-testdata)"
    exit 77
}

FAILS=0 CHECKS=0 SPID="" URL=""
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
note() { echo "  $*"; }

cleanup() {
    if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then
        kill -KILL "$SPID" 2>/dev/null
        wait "$SPID" 2>/dev/null
    fi
    local j
    for j in "${CLIENTS[@]}"; do kill -KILL "$j" 2>/dev/null; done
}
trap cleanup EXIT

# ---- The model repository ----------------------------------------------------
# relu: test_relu, x -> y float32 [3,4,5], no config (derived: no batching)
# add:  test_add, x + y -> sum, versions 1 and 3 (only 3 is served)
# double: y = x + x, float32 [N, M], batching as the case's config says
REPO=$W/repo
mkdir -p "$REPO/relu/1" "$REPO/add/1" "$REPO/add/3" "$REPO/double/1"
cp "$TD/test_relu/model.onnx" "$REPO/relu/1/"
cp "$TD/test_add/model.onnx" "$REPO/add/1/"
cp "$TD/test_add/model.onnx" "$REPO/add/3/"
"$UTIL" model "$REPO/double/1/model.onnx" || exit 1
# double_config MAX_BATCH PREFERRED DELAY_US QUEUE_SIZE INSTANCES
double_config() {
    cat >"$REPO/double/config.pbtxt" <<EOF
name: "double"
max_batch_size: $1
input [ { name: "x" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "y" data_type: TYPE_FP32 dims: [ -1 ] } ]
dynamic_batching {
  preferred_batch_size: [ $2 ]
  max_queue_delay_microseconds: $3
  default_queue_policy { max_queue_size: $4 }
}
instance_group [ { count: $5 kind: KIND_CPU } ]
EOF
}
double_config 8 8 100 64 1

# ---- The server ----------------------------------------------------------------

start_server() {
    : >"$W/server.out"
    "$NCORE" serve --model-repository "$REPO" --http-port 0 "$@" >"$W/server.out" 2>"$W/server.err" &
    SPID=$!
    local i
    for ((i = 0; i < 600; i++)); do # ASan builds load slowly: up to 60 s
        URL=$(sed -n 's/^ncore serve: listening on \(http:[^ ]*\).*/\1/p' "$W/server.out")
        [ -n "$URL" ] && break
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$URL" ]; then
        fail "the server did not start"
        sed 's/^/  server stdout: /' "$W/server.out"
        sed 's/^/  server stderr: /' "$W/server.err"
        exit 1
    fi
    for ((i = 0; i < 600; i++)); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v2/health/ready")" = 200 ] && return 0
        sleep 0.1
    done
    fail "the server at $URL never became ready"
    exit 1
}

# stop_server: SIGTERM, expect exit 0 and a clean stderr.
stop_server() {
    kill -TERM "$SPID"
    local rc=0
    wait "$SPID" || rc=$?
    [ "$rc" -eq 0 ] || fail "the server exited $rc after SIGTERM"
    SPID=""
    check_server_stderr
}

check_server_stderr() {
    if grep -qE 'Sanitizer|runtime error:|LeakSanitizer' "$W/server.err"; then
        fail "sanitizer report in the server's stderr"
        sed 's/^/  server stderr: /' "$W/server.err" | head -60
    fi
}

# ---- HTTP ------------------------------------------------------------------------

# req METHOD PATH [CURL ARGS...]: body in $W/body, headers in $W/headers,
# status in $STATUS (000 if there was no answer).
req() {
    local method=$1 path=$2
    shift 2
    CHECKS=$((CHECKS + 1))
    LAST="$method $path"
    STATUS=$(curl -sS --max-time 60 -o "$W/body" -D "$W/headers" -w '%{http_code}' -X "$method" \
        "$@" "$URL$path" 2>"$W/curl.err") || STATUS=000
}
# post_json PATH JSON: POST a JSON body.
post_json() { req POST "$1" -H 'Content-Type: application/json' --data-binary "$2"; }

show_body() { head -c 600 "$W/body" | sed 's/^/  body: /'; echo; }
expect_status() {
    [ "$STATUS" = "$1" ] || { fail "$LAST: HTTP $STATUS, expected $1"; show_body; }
}
# expect_jq FILTER: the body satisfies the jq filter (jq -e).
expect_jq() {
    jq -e "$1" "$W/body" >/dev/null 2>&1 || { fail "$LAST: body fails jq '$1'"; show_body; }
}
# expect_error STATUS: that status and an {"error": "..."} body.
expect_error() {
    expect_status "$1"
    jq -e '(.error | type) == "string" and (.error | length) > 0' "$W/body" >/dev/null 2>&1 ||
        { fail "$LAST: no {\"error\": ...} body"; show_body; }
}
# expect_refused: some 4xx with an {"error": ...} body.
expect_refused() {
    case "$STATUS" in
    4??) expect_error "$STATUS" ;;
    *) fail "$LAST: HTTP $STATUS, expected a 4xx"; show_body ;;
    esac
}

# JSON arrays of test values.
# relu_x: 60 values (i-30)/4; relu_y: max(0, x).
relu_x() { awk 'BEGIN { printf "["; for (i = 0; i < 60; i++) printf "%s%g", i ? "," : "", (i - 30) / 4; printf "]" }'; }
relu_y() { awk 'BEGIN { printf "["; for (i = 0; i < 60; i++) { v = (i - 30) / 4; printf "%s%g", (i ? "," : ""), (v > 0 ? v : 0) } printf "]" }'; }
seq_json() { awk -v a="$1" -v b="$2" 'BEGIN { printf "["; for (i = 0; i < 60; i++) printf "%s%g", i ? "," : "", a + b * i; printf "]" }'; }

relu_request() { printf '{"id":"%s","inputs":[{"name":"x","shape":[3,4,5],"datatype":"FP32","data":%s}]}' "$1" "$(relu_x)"; }

# expect_relu_ok ID: a correct relu answer in $W/body.
expect_relu_ok() {
    expect_status 200
    jq -e --arg id "$1" --argjson want "$(relu_y)" \
        '.id == $id and .model_name == "relu" and .model_version == "1" and
         (.outputs | length) == 1 and .outputs[0].name == "y" and .outputs[0].datatype == "FP32" and
         .outputs[0].shape == [3,4,5] and .outputs[0].data == $want' "$W/body" >/dev/null 2>&1 ||
        { fail "$LAST: not relu's answer to request $1"; show_body; }
}

# still_serving: the server answers a valid request correctly.
still_serving() {
    post_json /v2/models/relu/infer "$(relu_request after)"
    LAST="$LAST (after a bad request)"
    expect_relu_ok after
}

# double_request ID M V0: x of shape [1,M] with values V0, V0+1, ...
double_x() { awk -v m="$1" -v v="$2" 'BEGIN { printf "["; for (i = 0; i < m; i++) printf "%s%g", i ? "," : "", v + i; printf "]" }'; }
double_y() { awk -v m="$1" -v v="$2" 'BEGIN { printf "["; for (i = 0; i < m; i++) printf "%s%g", i ? "," : "", 2 * (v + i); printf "]" }'; }
double_request() {
    printf '{"id":"%s","inputs":[{"name":"x","shape":[1,%d],"datatype":"FP32","data":%s}]%s}' \
        "$1" "$2" "$(double_x "$2" "$3")" "${4:-}"
}
# send_double ID M V0 [EXTRA]: POST in the background; status and body in
# $W/r.ID.status and $W/r.ID.body. wait_clients waits for them all.
CLIENTS=()
wait_clients() {
    [ ${#CLIENTS[@]} -gt 0 ] && wait "${CLIENTS[@]}"
    CLIENTS=()
}
send_double() {
    (curl -sS --max-time 60 -o "$W/r.$1.body" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary "$(double_request "$@")" "$URL/v2/models/double/infer" >"$W/r.$1.status" 2>/dev/null ||
        echo 000 >"$W/r.$1.status") &
    CLIENTS+=($!)
}
# double_ok ID M V0: the answer to ID is 200 with y = 2x of ID's own data.
double_ok() {
    local st
    st=$(cat "$W/r.$1.status")
    CHECKS=$((CHECKS + 1))
    [ "$st" = 200 ] || { fail "request $1: HTTP $st"; head -c 300 "$W/r.$1.body"; echo; return 1; }
    jq -e --arg id "$1" --argjson m "$2" --argjson want "$(double_y "$2" "$3")" \
        '.id == $id and .outputs[0].name == "y" and .outputs[0].shape == [1,$m] and .outputs[0].data == $want' \
        "$W/r.$1.body" >/dev/null 2>&1 || { fail "request $1: not its own answer"; head -c 300 "$W/r.$1.body"; echo; return 1; }
}

# metric NAME MODEL: the value of a per-model metric (empty if absent).
metric() {
    curl -s "$URL/metrics" | awk -v n="$1" -v m="model=\"$2\"" \
        'index($0, n "{") == 1 && index($0, m) { print $NF; exit }'
}
# wait_pending MODEL N: until N requests are queued for MODEL (up to 10 s).
wait_pending() {
    local i v
    for ((i = 0; i < 100; i++)); do
        v=$(metric ncore_inference_pending_request_count "$1")
        [ -n "$v" ] && [ "${v%.*}" -ge "$2" ] && return 0
        sleep 0.1
    done
    fail "never saw $2 requests pending for $1 (last: '${v:-}')"
    return 1
}

# ---- Cases ------------------------------------------------------------------------

case_health() {
    start_server
    req GET /v2/health/live
    expect_status 200
    expect_jq '.live == true'
    req GET /v2/health/ready
    expect_status 200
    expect_jq '.ready == true'
    req POST /v2/health/live
    expect_error 405
    stop_server
}

case_server_metadata() {
    start_server
    req GET /v2
    expect_status 200
    expect_jq '.name == "ncore" and (.version | type) == "string" and (.extensions | index("binary_tensor_data")) != null'
    stop_server
}

case_model_metadata() {
    start_server
    req GET /v2/models/add
    expect_status 200
    expect_jq '.name == "add" and .versions == ["3"] and (.platform | type) == "string"'
    expect_jq '.inputs == [{"name":"x","datatype":"FP32","shape":[3,4,5]},{"name":"y","datatype":"FP32","shape":[3,4,5]}]'
    expect_jq '.outputs == [{"name":"sum","datatype":"FP32","shape":[3,4,5]}]'
    req GET /v2/models/add/versions/3
    expect_status 200
    expect_jq '.name == "add" and (.inputs | length) == 2'
    req GET /v2/models/add/versions/1 # on disk, but only the latest is served
    expect_error 404
    req GET /v2/models/double
    expect_status 200
    expect_jq '.inputs == [{"name":"x","datatype":"FP32","shape":[-1,-1]}] and .outputs[0].shape == [-1,-1]'
    stop_server
}

case_model_ready() {
    start_server
    req GET /v2/models/relu/ready
    expect_status 200
    expect_jq '.ready == true and .name == "relu"'
    req GET /v2/models/relu/versions/1/ready
    expect_status 200
    req GET /v2/models/nope/ready
    expect_error 404
    stop_server
}

case_infer_json() {
    start_server
    post_json /v2/models/relu/infer "$(relu_request r1)"
    expect_relu_ok r1
    post_json /v2/models/relu/versions/1/infer "$(relu_request r2)"
    expect_relu_ok r2
    # two inputs, nested data, a selected output, no id
    local x y
    x=$(seq_json 0 0.5) y=$(seq_json 100 -1)
    post_json /v2/models/add/infer "{\"inputs\":[{\"name\":\"y\",\"shape\":[3,4,5],\"datatype\":\"FP32\",\"data\":$y},
        {\"name\":\"x\",\"shape\":[3,4,5],\"datatype\":\"FP32\",\"data\":$(jq -c '[_nwise(20) | [_nwise(5)]]' <<<"$x")}],
        \"outputs\":[{\"name\":\"sum\"}]}"
    expect_status 200
    expect_jq ".model_name == \"add\" and .model_version == \"3\" and .id == \"\" and .outputs[0].name == \"sum\" and
               .outputs[0].shape == [3,4,5] and .outputs[0].data == $(seq_json 100 -0.5)"
    # a batch of two on the batching model
    post_json /v2/models/double/infer '{"id":"b","inputs":[{"name":"x","shape":[2,3],"datatype":"FP32","data":[1,2,3,4,5,6.5]}]}'
    expect_status 200
    expect_jq '.id == "b" and .outputs[0].shape == [2,3] and .outputs[0].data == [2,4,6,8,10,13]'
    stop_server
}

# A compiled model (model.ncx) in the repository runs on the chip simulator.
case_compiled() {
    mkdir -p "$REPO/relu_chip/1"
    "$NCORE" compile "$TD/test_relu/model.onnx" --target inf1 --auto-cast none \
        -o "$REPO/relu_chip/1/model.ncx" >"$W/compile.out" 2>&1 ||
        { fail "ncore compile failed: $(cat "$W/compile.out")"; return; }
    start_server
    req GET /v2/models/relu_chip/ready
    expect_status 200
    post_json /v2/models/relu_chip/infer "$(relu_request c1)"
    expect_status 200
    expect_jq ".model_name == \"relu_chip\" and .id == \"c1\" and .outputs[0].shape == [3,4,5] and
               .outputs[0].data == $(relu_y)"
    stop_server
}

case_infer_binary() {
    start_server
    local x y
    x=$(jq -r '.[]' <<<"$(seq_json 0 0.5)") y=$(jq -r '.[]' <<<"$(seq_json 100 -1)")
    # shellcheck disable=SC2086
    { "$UTIL" f32 $x; "$UTIL" f32 $y; } >"$W/xy.bin"
    local hdr='{"id":"bin","inputs":[{"name":"x","shape":[3,4,5],"datatype":"FP32","parameters":{"binary_data_size":240}},{"name":"y","shape":[3,4,5],"datatype":"FP32","parameters":{"binary_data_size":240}}],"parameters":{"binary_data_output":true}}'
    { printf '%s' "$hdr"; cat "$W/xy.bin"; } >"$W/req.bin"
    req POST /v2/models/add/infer -H "Inference-Header-Content-Length: ${#hdr}" \
        -H 'Content-Type: application/octet-stream' --data-binary @"$W/req.bin"
    expect_status 200
    local hl
    hl=$(tr -d '\r' <"$W/headers" | sed -n 's/^[Ii]nference-[Hh]eader-[Cc]ontent-[Ll]ength: *//p')
    if [ -z "$hl" ]; then
        fail "$LAST: binary response without Inference-Header-Content-Length"
    else
        head -c "$hl" "$W/body" >"$W/resp.json"
        jq -e '.id == "bin" and .outputs[0].name == "sum" and .outputs[0].shape == [3,4,5] and
               .outputs[0].parameters.binary_data_size == 240 and (.outputs[0] | has("data") | not)' \
            "$W/resp.json" >/dev/null || { fail "$LAST: bad JSON header"; cat "$W/resp.json"; }
        tail -c +$((hl + 1)) "$W/body" | "$UTIL" f32dec | jq -s -c . >"$W/sum.json"
        jq -e --argjson want "$(seq_json 100 -0.5)" '. == $want' "$W/sum.json" >/dev/null ||
            { fail "$LAST: binary output is not x + y"; head -c 300 "$W/sum.json"; }
    fi
    # JSON x, binary y in; one output asked binary by name
    hdr='{"inputs":[{"name":"x","shape":[3,4,5],"datatype":"FP32","data":'$(seq_json 0 0.5)'},{"name":"y","shape":[3,4,5],"datatype":"FP32","parameters":{"binary_data_size":240}}],"outputs":[{"name":"sum","parameters":{"binary_data":true}}]}'
    # shellcheck disable=SC2086
    { printf '%s' "$hdr"; "$UTIL" f32 $y; } >"$W/req.bin"
    req POST /v2/models/add/infer -H "Inference-Header-Content-Length: ${#hdr}" --data-binary @"$W/req.bin"
    expect_status 200
    hl=$(tr -d '\r' <"$W/headers" | sed -n 's/^[Ii]nference-[Hh]eader-[Cc]ontent-[Ll]ength: *//p')
    if [ -z "$hl" ]; then
        fail "$LAST: binary response without Inference-Header-Content-Length"
    else
        [ "$(tail -c +$((hl + 1)) "$W/body" | wc -c)" -eq 240 ] || fail "$LAST: binary part is not 240 bytes"
        tail -c +$((hl + 1)) "$W/body" | "$UTIL" f32dec | jq -s -c . >"$W/sum.json"
        jq -e --argjson want "$(seq_json 100 -0.5)" '. == $want' "$W/sum.json" >/dev/null ||
            fail "$LAST: binary output is not x + y"
    fi
    # binary in, JSON out
    hdr='{"inputs":[{"name":"x","shape":[3,4,5],"datatype":"FP32","parameters":{"binary_data_size":240}},{"name":"y","shape":[3,4,5],"datatype":"FP32","parameters":{"binary_data_size":240}}]}'
    { printf '%s' "$hdr"; cat "$W/xy.bin"; } >"$W/req.bin"
    req POST /v2/models/add/infer -H "Inference-Header-Content-Length: ${#hdr}" --data-binary @"$W/req.bin"
    expect_status 200
    grep -qi '^inference-header-content-length' "$W/headers" && fail "$LAST: JSON response has a binary header"
    expect_jq ".outputs[0].data == $(seq_json 100 -0.5)"
    stop_server
}

case_statistics() {
    start_server
    local i
    for i in 1 2 3; do
        post_json /v2/models/relu/infer "$(relu_request s$i)"
        expect_relu_ok s$i
    done
    req GET /v2/models/relu/stats
    expect_status 200
    expect_jq '.model_stats | length == 1'
    expect_jq '.model_stats[0] | .name == "relu" and .version == "1" and .inference_count == 3 and
               .execution_count == 3 and .inference_stats.success.count == 3 and
               .inference_stats.success.ns > 0 and (.inference_stats.queue | has("count") and has("ns"))'
    req GET /v2/models/relu/versions/1/stats
    expect_status 200
    expect_jq '.model_stats[0].inference_count == 3'
    req GET /v2/models/stats
    expect_status 200
    expect_jq '[.model_stats[].name] | contains(["relu","add","double"])'
    expect_jq '[.model_stats[] | select(.name == "add")][0].inference_count == 0'
    stop_server
}

case_config() {
    double_config 8 4 12345 32 2
    start_server
    req GET /v2/models/double/config
    expect_status 200
    expect_jq '.max_batch_size == 8 and .dynamic_batching.max_queue_delay_microseconds == 12345 and
               .dynamic_batching.preferred_batch_size == [4] and
               .dynamic_batching.default_queue_policy.max_queue_size == 32 and
               .instance_group[0].count == 2 and .input[0].name == "x" and .input[0].data_type == "TYPE_FP32"'
    req GET /v2/models/relu/config # derived from the model: fixed dims, no batching
    expect_status 200
    expect_jq '(.max_batch_size // 0) == 0 and .input[0].name == "x" and .input[0].dims == [3,4,5]'
    stop_server
}

case_repository() {
    start_server
    post_json /v2/repository/index ''
    expect_status 200
    expect_jq '[.[] | select(.name == "relu")][0].state == "READY"'
    expect_jq '[.[].name] | contains(["relu","add","double"])'
    post_json /v2/repository/models/relu/unload ''
    expect_status 200
    req GET /v2/models/relu/ready
    [ "$STATUS" = 200 ] && fail "$LAST: still ready after unload"
    post_json /v2/models/relu/infer "$(relu_request u)"
    [ "$STATUS" = 200 ] && fail "$LAST: answered after unload"
    expect_refused_or_503
    post_json /v2/repository/index ''
    expect_jq '[.[] | select(.name == "relu")][0].state == "UNLOADED"'
    post_json /v2/repository/index '{"ready": true}'
    expect_status 200
    expect_jq '[.[].name] | index("relu") == null'
    post_json /v2/repository/models/relu/load ''
    expect_status 200
    post_json /v2/models/relu/infer "$(relu_request l)"
    expect_relu_ok l
    # a model added to the repository after start
    mkdir -p "$REPO/relu2/1" && cp "$TD/test_relu/model.onnx" "$REPO/relu2/1/"
    post_json /v2/repository/models/relu2/load ''
    expect_status 200
    req GET /v2/models/relu2/ready
    expect_status 200
    post_json /v2/repository/models/nope/load ''
    expect_refused
    still_serving
    stop_server
}
expect_refused_or_503() {
    case "$STATUS" in
    4?? | 503) expect_error "$STATUS" ;;
    *) fail "$LAST: HTTP $STATUS, expected 4xx or 503" ;;
    esac
}

case_metrics() {
    start_server
    post_json /v2/models/relu/infer "$(relu_request m)"
    expect_relu_ok m
    post_json /v2/models/relu/infer '{"inputs": ['
    expect_error 400
    req GET /metrics
    expect_status 200
    local f
    for f in ncore_inference_request_success ncore_inference_request_failure ncore_inference_count \
        ncore_inference_exec_count ncore_inference_pending_request_count; do
        grep -q "^# TYPE $f " "$W/body" || fail "/metrics: no '# TYPE $f'"
    done
    # queue and compute time: the one request that ran; end to end: both
    # (failed requests are timed too), or the successful one only
    for f in queue:1 compute:1 request:[12]; do
        local n=${f#*:}
        f=${f%%:*}
        grep -q "^# TYPE ncore_inference_${f}_duration_us histogram" "$W/body" ||
            fail "/metrics: no ncore_inference_${f}_duration_us histogram"
        grep -qE "^ncore_inference_${f}_duration_us_bucket\{.*model=\"relu\".*le=\"\+Inf\".*\} $n$" "$W/body" ||
            fail "/metrics: ncore_inference_${f}_duration_us for relu lacks a +Inf bucket of $n"
        grep -qE "^ncore_inference_${f}_duration_us_count\{.*model=\"relu\".*\} $n$" "$W/body" ||
            fail "/metrics: ncore_inference_${f}_duration_us_count for relu is not $n"
    done
    [ "$(metric ncore_inference_request_success relu)" = 1 ] || fail "/metrics: relu success is not 1"
    [ "$(metric ncore_inference_request_failure relu)" = 1 ] || fail "/metrics: relu failure is not 1"
    [ "$(metric ncore_inference_count relu)" = 1 ] || fail "/metrics: relu inference count is not 1"
    [ "$(metric ncore_inference_exec_count relu)" = 1 ] || fail "/metrics: relu execution count is not 1"
    [ "$(metric ncore_inference_pending_request_count relu)" = 0 ] || fail "/metrics: relu pending is not 0"
    stop_server
}

# Requests that arrive together are batched, and each gets its own answer.
case_batching() {
    double_config 8 8 2000000 64 1 # wait up to 2 s for a batch of 8
    start_server
    local k
    for k in 1 2 3 4 5 6 7 8; do send_double "b$k" 4 $((k * 10)); done
    wait_clients
    for k in 1 2 3 4 5 6 7 8; do double_ok "b$k" 4 $((k * 10)); done
    req GET /v2/models/double/stats
    expect_jq '.model_stats[0].inference_count == 8 and .model_stats[0].execution_count < 8 and
               .model_stats[0].execution_count >= 1'
    note "$(jq -c '.model_stats[0] | {inference_count, execution_count, batch_stats: [.batch_stats[]? | {batch_size, n: .compute_infer.count}]}' "$W/body")"
    stop_server
}

# Many clients through the batcher with ncore perf: every answer is the
# request's own (same values as the first answer to the same input).
case_batching_perf() {
    double_config 8 4 5000 256 2
    start_server
    CHECKS=$((CHECKS + 1))
    "$NCORE" perf "$URL" --model double --shape x=1,5 --concurrency 8 --requests 300 --json "$W/perf.json" \
        >"$W/perf.out" 2>&1 || { fail "ncore perf (JSON) failed"; cat "$W/perf.out"; }
    "$NCORE" perf "$URL" --model double --shape x=2,5 --concurrency 8 --requests 300 --binary \
        >"$W/perf2.out" 2>&1 || { fail "ncore perf (binary) failed"; cat "$W/perf2.out"; }
    jq -e '.levels[0] | .sent == 300 and .ok == 300 and .errors == 0' "$W/perf.json" >/dev/null ||
        fail "perf counts: $(jq -c '.levels[0]' "$W/perf.json")"
    req GET /v2/models/double/stats
    expect_jq '.model_stats[0].inference_count == 900 and .model_stats[0].execution_count < 600'
    note "$(jq -c '.model_stats[0] | {inference_count, execution_count}' "$W/body")"
    stop_server
}

# A full queue refuses at once with 503; no request is lost.
case_queue_full() {
    # requests of different shapes cannot batch: each waits its turn, the
    # first for the whole 1 s delay, so the queue fills
    double_config 8 8 1000000 2 1
    start_server
    local m ok=0 busy=0 st
    for m in 1 2 3 4 5 6 7 8; do send_double "q$m" "$m" "$m"; done
    wait_clients
    for m in 1 2 3 4 5 6 7 8; do
        st=$(cat "$W/r.q$m.status")
        if [ "$st" = 200 ]; then
            double_ok "q$m" "$m" "$m" && ok=$((ok + 1))
        elif [ "$st" = 503 ]; then
            jq -e '.error | test("queue")' "$W/r.q$m.body" >/dev/null ||
                fail "q$m: 503 without a queue-full error: $(head -c 200 "$W/r.q$m.body")"
            busy=$((busy + 1))
        else
            fail "q$m: HTTP $st"
        fi
    done
    note "$ok answered, $busy refused"
    [ $((ok + busy)) -eq 8 ] || fail "$((8 - ok - busy)) of 8 requests lost"
    [ "$busy" -ge 1 ] || fail "no request refused with max_queue_size 2"
    [ "$ok" -ge 2 ] || fail "only $ok requests answered"
    still_serving
    stop_server
}

# A request's timeout parameter drops it from the queue with 504.
case_timeout() {
    double_config 8 8 1000000 64 1
    start_server
    send_double t1 4 1                                    # taken first, waits 1 s for a batch
    wait_pending double 1
    send_double t2 5 1 ',"parameters":{"timeout":1000}'  # 1 ms: expires behind t1
    send_double t3 6 1                                    # no timeout: answered
    wait_clients
    double_ok t1 4 1
    double_ok t3 6 1
    CHECKS=$((CHECKS + 1))
    [ "$(cat "$W/r.t2.status")" = 504 ] || fail "t2: HTTP $(cat "$W/r.t2.status"), expected 504"
    jq -e '(.error | type) == "string"' "$W/r.t2.body" >/dev/null || fail "t2: no error body"
    stop_server
}

# SIGTERM with requests in flight: they are answered, then exit 0.
case_shutdown() {
    double_config 8 8 1000000 64 1
    start_server
    local k
    for k in 1 2 3 4; do send_double "s$k" 3 $((k * 100)); done
    wait_pending double 4
    kill -TERM "$SPID"
    wait_clients
    local rc=0
    wait "$SPID" || rc=$?
    SPID=""
    [ "$rc" -eq 0 ] || fail "the server exited $rc after SIGTERM"
    for k in 1 2 3 4; do double_ok "s$k" 3 $((k * 100)); done
    CHECKS=$((CHECKS + 1))
    curl -s --max-time 5 -o /dev/null "$URL/v2/health/live" && fail "the server still answers after exiting"
    check_server_stderr
}

case_bad_json() {
    start_server
    local body
    for body in '{"inputs": [' '[]' '{"inputs": "x"}' 'not json at all' '{"inputs": [{"name": "x"}]}' '{}' \
        '{"inputs":[{"name":"x","shape":[3,4,5],"datatype":"FP32","data":"abc"}]}' \
        '{"inputs":[{"name":"x","shape":[3,4,5],"datatype":"FP32","data":[1,2,"x"]}]}'; do
        post_json /v2/models/relu/infer "$body"
        LAST="$LAST body '$body'"
        expect_error 400
    done
    post_json /v2/models/relu/infer $'\xff\xfe{"\x01'
    expect_error 400
    still_serving
    stop_server
}

case_bad_datatype() {
    start_server
    local dt
    for dt in INT32 FP64 FP16 BOOL FP99 BYTES fp32; do
        post_json /v2/models/relu/infer "{\"inputs\":[{\"name\":\"x\",\"shape\":[3,4,5],\"datatype\":\"$dt\",\"data\":$(seq_json 0 1)}]}"
        LAST="$LAST datatype $dt"
        expect_error 400
    done
    still_serving
    stop_server
}

case_bad_shape() {
    start_server
    local x60 x72
    x60=$(seq_json 0 1)
    x72=$(awk 'BEGIN { printf "["; for (i = 0; i < 72; i++) printf "%s%d", i ? "," : "", i; printf "]" }')
    post_json /v2/models/relu/infer "{\"inputs\":[{\"name\":\"x\",\"shape\":[3,4,6],\"datatype\":\"FP32\",\"data\":$x72}]}"
    expect_error 400 # disagrees with a fixed dim
    post_json /v2/models/relu/infer "{\"inputs\":[{\"name\":\"x\",\"shape\":[60],\"datatype\":\"FP32\",\"data\":$x60}]}"
    expect_error 400 # wrong rank
    post_json /v2/models/relu/infer "{\"inputs\":[{\"name\":\"x\",\"shape\":[3,4,5],\"datatype\":\"FP32\",\"data\":${x60%]},1]}]}"
    expect_error 400 # 61 values for 60
    post_json /v2/models/relu/infer "{\"inputs\":[{\"name\":\"x\",\"shape\":[3,-4,-5],\"datatype\":\"FP32\",\"data\":$x60}]}"
    expect_error 400 # negative dims
    post_json /v2/models/relu/infer "{\"inputs\":[{\"name\":\"x\",\"shape\":[3,4,5.5],\"datatype\":\"FP32\",\"data\":$x60}]}"
    expect_error 400
    post_json /v2/models/double/infer '{"inputs":[{"name":"x","shape":[9,1],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9]}]}'
    expect_error 400 # batch above max_batch_size 8
    post_json /v2/models/relu/infer "{\"inputs\":[{\"name\":\"z\",\"shape\":[3,4,5],\"datatype\":\"FP32\",\"data\":$x60}]}"
    expect_error 400 # unknown input
    post_json /v2/models/add/infer "{\"inputs\":[{\"name\":\"x\",\"shape\":[3,4,5],\"datatype\":\"FP32\",\"data\":$x60}]}"
    expect_error 400 # missing input y
    post_json /v2/models/relu/infer "{\"inputs\":[{\"name\":\"x\",\"shape\":[3,4,5],\"datatype\":\"FP32\",\"data\":$x60}],\"outputs\":[{\"name\":\"nope\"}]}"
    expect_error 400 # unknown output
    still_serving
    stop_server
}

# bin_req PATH HEADER_LEN_VALUE JSON BYTES: a binary request.
bin_req() {
    { printf '%s' "$3"; head -c "$4" /dev/zero; } >"$W/req.bin"
    req POST "$1" -H "Inference-Header-Content-Length: $2" --data-binary @"$W/req.bin"
}

case_bad_binary() {
    start_server
    local h='{"inputs":[{"name":"x","shape":[3,4,5],"datatype":"FP32","parameters":{"binary_data_size":240}}]}'
    bin_req /v2/models/relu/infer ${#h} "$h" 236
    expect_error 400 # fewer bytes than binary_data_size
    bin_req /v2/models/relu/infer ${#h} "$h" 244
    expect_error 400 # more
    local h2='{"inputs":[{"name":"x","shape":[3,4,5],"datatype":"FP32","parameters":{"binary_data_size":236}}]}'
    bin_req /v2/models/relu/infer ${#h2} "$h2" 236
    expect_error 400 # size disagrees with the shape
    bin_req /v2/models/relu/infer $((${#h} + 100)) "$h" 240
    expect_error 400 # header length past the JSON
    bin_req /v2/models/relu/infer 99999 "$h" 240
    expect_error 400 # header length past the body
    bin_req /v2/models/relu/infer abc "$h" 240
    expect_error 400
    bin_req /v2/models/relu/infer -5 "$h" 240
    expect_error 400
    bin_req /v2/models/relu/infer ${#h} "$h" 240 # the same, well-formed
    expect_status 200
    expect_jq '.outputs[0].data | length == 60 and all(. == 0)'
    still_serving
    stop_server
}

case_unknown_model() {
    start_server
    post_json /v2/models/nope/infer "$(relu_request x)"
    expect_error 404
    req GET /v2/models/nope
    expect_error 404
    req GET /v2/models/nope/stats
    expect_error 404
    req GET /v2/models/nope/config
    expect_error 404
    req GET /v2/no/such/path
    expect_error 404
    still_serving
    stop_server
}

case_unknown_version() {
    start_server
    post_json /v2/models/relu/versions/7/infer "$(relu_request x)"
    expect_error 404
    post_json /v2/models/add/versions/1/infer '{}' # on disk, not served
    expect_error 404
    req GET /v2/models/relu/versions/7
    expect_error 404
    post_json /v2/models/relu/versions/abc/infer "$(relu_request x)"
    expect_error 400
    post_json /v2/models/relu/versions/-1/infer "$(relu_request x)"
    expect_error 400
    still_serving
    stop_server
}

case_path_traversal() {
    # A model next to the repository: a traversal that worked would load it.
    mkdir -p "$W/escape/1" && cp "$TD/test_relu/model.onnx" "$W/escape/1/"
    start_server
    local p
    for p in '..%2Fescape' '..%2F..%2Frepo%2Frelu' '%2e%2e' '..' '.' 'relu%2F..%2Frelu' 'relu%00x'; do
        post_json "/v2/repository/models/$p/load" ''
        LAST="$LAST (model name '$p')"
        expect_refused
        post_json "/v2/models/$p/infer" "$(relu_request x)"
        LAST="$LAST (model name '$p')"
        expect_refused
        req GET "/v2/models/$p" --path-as-is
        LAST="$LAST (model name '$p')"
        expect_refused
    done
    req GET /v2/models/../../etc/passwd --path-as-is
    expect_refused
    post_json /v2/repository/index ''
    expect_jq '[.[].name] | index("escape") == null'
    still_serving
    stop_server
}

case_oversized_body() {
    start_server --max-body-bytes 4096 --max-elements 100
    head -c 10000 /dev/zero | tr '\0' ' ' >"$W/big.json"
    req POST /v2/models/relu/infer -H 'Content-Type: application/json' --data-binary @"$W/big.json"
    expect_error 413
    # chunked, no Content-Length
    req POST /v2/models/relu/infer -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/json' \
        --data-binary @"$W/big.json"
    expect_error 413
    # small body, too many elements: 2 x 60 = 120 > 100
    post_json /v2/models/add/infer "{\"inputs\":[{\"name\":\"x\",\"shape\":[3,4,5],\"datatype\":\"FP32\",\"data\":$(seq_json 0 1)},{\"name\":\"y\",\"shape\":[3,4,5],\"datatype\":\"FP32\",\"data\":$(seq_json 0 1)}]}"
    expect_error 413
    still_serving
    stop_server
}

# Idle or trickling connections are closed after --connection-timeout and
# do not keep others from being served.
case_slow_client() {
    start_server --connection-timeout 1 --http-threads 2
    local port=${URL##*:} fds=() i fd
    for i in 1 2 3 4; do
        exec {fd}<>"/dev/tcp/127.0.0.1/$port" || { fail "cannot connect to port $port"; break; }
        printf 'POST /v2/models/relu/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"inp' >&"$fd"
        fds+=("$fd")
    done
    still_serving
    sleep 2.5
    for fd in "${fds[@]}"; do
        CHECKS=$((CHECKS + 1))
        # closed by the server: the read ends (with or without a 4xx) at once
        timeout 5 cat <&"$fd" >/dev/null || fail "connection $fd is still open after the timeout"
        exec {fd}>&-
    done
    still_serving
    stop_server
}

# ncore perf against the server: binary protocol with a fifth of the
# requests invalid; every valid one answered correctly, every invalid one
# refused, none lost.
case_perf() {
    start_server
    CHECKS=$((CHECKS + 1))
    "$NCORE" perf "$URL" --model add --concurrency 1,4 --requests 100 --binary --invalid 20 \
        --json "$W/perf.json" >"$W/perf.out" 2>&1 || { fail "ncore perf failed"; cat "$W/perf.out"; }
    jq -e '.levels | length == 2 and all(.sent == 100 and .errors == 0 and .invalid_sent > 0 and
           .invalid_rejected == .invalid_sent and .ok + .invalid_sent == 100 and .requests == .ok and
           .latency_us.p50 > 0 and .latency_us.p99 >= .latency_us.p50)' "$W/perf.json" >/dev/null ||
        { fail "perf results: $(cat "$W/perf.json")"; }
    "$NCORE" perf "$URL" --model relu --concurrency 2 --duration 1 --warmup 0.2 >"$W/perf2.out" 2>&1 ||
        { fail "ncore perf (JSON, timed) failed"; cat "$W/perf2.out"; }
    grep -qE '^ +2 +[0-9.]+ +[0-9]+' "$W/perf2.out" || { fail "no table row for concurrency 2"; cat "$W/perf2.out"; }
    # a wrong model is an error, not a hang
    "$NCORE" perf "$URL" --model nope --requests 1 >"$W/perf3.out" 2>&1 && fail "ncore perf on an unknown model exited 0"
    grep -q 'HTTP 404' "$W/perf3.out" || { fail "ncore perf on an unknown model: no HTTP 404 in its message"; cat "$W/perf3.out"; }
    stop_server
}

if ! declare -F "case_$CASE" >/dev/null; then
    echo "unknown case '$CASE'"
    exit 1
fi
"case_$CASE"
if [ -n "$SPID" ]; then
    cleanup
    SPID=""
fi
if [ "$FAILS" -gt 0 ]; then
    echo "$CASE: $FAILS of $CHECKS checks failed"
    [ -s "$W/server.err" ] && sed 's/^/  server stderr: /' "$W/server.err" | tail -20
    exit 1
fi
echo "$CASE: $CHECKS checks passed"
exit 0
