#!/usr/bin/env bash
# The README's main job: "Alexa" wake-word detection on speech made here.
#
#   scripts/demo.sh
#
# Installs what is missing (scripts/setup.sh), builds the release preset,
# fetches the openWakeWord models (scripts/fetch_models.sh, cached and
# sha256-checked), speaks two sentences with espeak-ng, converts them with sox
# to 16 kHz mono, and runs examples/wakeword on both: the score of each 80 ms
# over time, then a verdict. The first sentence starts with "Alexa", the
# second has no wake word. Exits non-zero if either verdict is wrong.
#
# Environment: NCORE_CACHE (model cache, default ~/.cache/ncore),
# DEMO_VOICE (espeak-ng voice, default en-us), DEMO_RATE (words/min, 140).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
echo "demo: building the release preset (log: build/release/demo-build.log)"
mkdir -p build/release
if ! { cmake --preset release && cmake --build --preset release --target wakeword ncore_cli; } \
    >build/release/demo-build.log 2>&1; then
    tail -n 40 build/release/demo-build.log >&2
    echo "demo: the build failed; full log in build/release/demo-build.log" >&2
    exit 1
fi
echo "demo: fetching the models (cached, sha256-checked)"
bash scripts/fetch_models.sh

cache=${NCORE_CACHE:-$HOME/.cache/ncore}
voice=${DEMO_VOICE:-en-us}
rate=${DEMO_RATE:-140}
out=build/release/demo
mkdir -p "$out"

say() { # say NAME TEXT: speak TEXT into $out/NAME.wav, 16 kHz mono 16-bit
    espeak-ng -v "$voice" -s "$rate" -w "$out/$1.raw.wav" "$2"
    sox "$out/$1.raw.wav" -r 16000 -c 1 -b 16 "$out/$1.wav"
}
say positive "Alexa, what time is it?"
say negative "The weather is nice today."

ww=build/release/wakeword
status=0
echo
echo "== \"Alexa, what time is it?\" (espeak-ng -v $voice -s $rate)"
"$ww" --models "$cache/models" "$out/positive.wav" | tee "$out/positive.txt"
grep -q 'wake word "alexa" detected' "$out/positive.txt" || {
    echo "demo: expected a detection in the first sentence" >&2
    status=1
}
echo
echo "== \"The weather is nice today.\""
"$ww" --models "$cache/models" "$out/negative.wav" | tee "$out/negative.txt"
grep -q 'no wake word' "$out/negative.txt" || {
    echo "demo: expected no detection in the second sentence" >&2
    status=1
}
echo
[ $status -eq 0 ] && echo "demo: OK: \"alexa\" heard in the first sentence, not in the second."
exit $status
