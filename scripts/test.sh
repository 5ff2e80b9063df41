#!/usr/bin/env bash
# The README's test command: install what is missing, build, fetch the test
# models (cached, sha256-checked), run every test.
#   scripts/test.sh [PRESET]     PRESET: dev (default), release, asan-ubsan
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-dev}

bash scripts/setup.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
[ -x scripts/fetch_models.sh ] && bash scripts/fetch_models.sh
ctest --preset "$preset" -j2
