#!/usr/bin/env bash
# setup.sh CACHE_DIR — the real-model tests' fixture: fetch the models and
# ONNX Runtime (scripts/fetch_models.sh), and speak the test sentence into
# CACHE_DIR/audio/alexa_what_time.wav (16 kHz mono 16-bit, 1 s of silence
# either side, no dither) with espeak-ng and sox. Quiet when everything is there.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${1:-${NCORE_CACHE:-$HOME/.cache/ncore}}

"$here/../../scripts/fetch_models.sh" "$cache"

wav="$cache/audio/alexa_what_time.wav"
if [ ! -s "$wav" ]; then
    for tool in espeak-ng sox; do
        command -v "$tool" >/dev/null || { echo "setup.sh: $tool not found (apt-get install $tool)" >&2; exit 1; }
    done
    mkdir -p "$cache/audio"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    espeak-ng -w "$tmp/raw.wav" "Alexa, what time is it?"
    sox -D "$tmp/raw.wav" -r 16000 -c 1 -b 16 -e signed-integer "$tmp/out.wav" pad 1 1
    mv "$tmp/out.wav" "$wav"
fi
