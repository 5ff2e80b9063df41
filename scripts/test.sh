#!/usr/bin/env bash
# The README's test command: install what is missing, build, fetch the test
# models (cached, sha256-checked), run every test.
#   scripts/test.sh [PRESET]     PRESET: dev (default), release, asan-ubsan
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-dev}

bash scripts/setup.sh
# Models and the ONNX Runtime oracle first: CMake builds tools/ortref only
# when the ORT header is in the cache at configure time.
bash scripts/fetch_models.sh
bash scripts/fetch_photos.sh
# NC_WERROR=1 in the environment (CI) turns warnings into errors.
cmake --preset "$preset" -DNC_WERROR="${NC_WERROR:-0}" >/dev/null
cmake --build --preset "$preset"
ctest --preset "$preset" -j2
