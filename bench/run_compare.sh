#!/usr/bin/env bash
# bench/run_compare.sh [--quick] [COMPARE OPTIONS...] — ncore against ONNX
# Runtime, end to end: build the release preset, fetch the models (and export
# the torch ones if they are missing and Debian's python3-torch is there),
# run bench/compare, plot the ratios.
#
#   full run: bench/results/compare.json and docs/img/compare.svg (committed;
#             copy the table into docs/PERFORMANCE.md)
#   --quick:  2 short rounds; writes build/<dir>/compare-quick.{json,svg}
#
# Other options go to bench/compare (--only resnet50,bert_encoder,
# --threads 1, --batches 1, ...). BUILD_DIR=build/xyz uses an already
# configured build directory instead of the release preset. Run it on a quiet
# machine: the engines alternate, but anything else running adds noise.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. bench/lib.sh

quick=0
args=()
for a in "$@"; do
    case "$a" in
        --quick) quick=1; args+=(--quick) ;;
        -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) args+=("$a") ;;
    esac
done

cache=${NCORE_CACHE:-$HOME/.cache/ncore}
scripts/fetch_models.sh "$cache"
missing=()
for m in resnet50 mobilenet_v2 squeezenet1_1 efficientnet_b0 densenet121 bert_encoder; do
    for f in "$m.onnx" "${m}_dyn.onnx"; do
        [ -f "$cache/torch/$f" ] || missing+=("$m")
    done
done
if [ ${#missing[@]} -gt 0 ]; then
    if /usr/bin/python3 -c 'import torch, torchvision, onnx' 2>/dev/null; then
        only=$(printf '%s\n' "${missing[@]}" | sort -u | paste -sd, -)
        /usr/bin/python3 scripts/make_torch_models.py "$cache" --only "$only"
    else
        echo "run_compare.sh: note: torch exports missing (${missing[*]}) and python3-torch is" \
             "not installed; compare skips them" >&2
    fi
fi

# Configure after fetching: ortref (and so compare) is built only when ONNX
# Runtime's header is in the cache.
bench_build bench_compare bench_peak ncore_cli
[ -x "$build/bench/compare" ] || { echo "run_compare.sh: $build/bench/compare was not built" \
    "(is $cache/ort/include/onnxruntime_c_api.h there?)" >&2; exit 1; }

if [ "$quick" = 1 ]; then
    json=$build/compare-quick.json svg=$build/compare-quick.svg
else
    mkdir -p bench/results docs/img
    json=bench/results/compare.json svg=docs/img/compare.svg
fi
echo "+ $build/bench/compare --models bench/models.txt --cache $cache --json $json ${args[*]:-}"
"$build/bench/compare" --models bench/models.txt --cache "$cache" --json "$json" "${args[@]}"
python3 bench/plot_compare.py "$json" "$svg"
python3 bench/plot_compare.py --table "$json"
