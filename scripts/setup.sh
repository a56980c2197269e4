#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian 12 machine: Debian packages
# (toolchains, GoogleTest, Emscripten, Chromium, audio tools) and the npm dev dependencies.
# Idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  cmake ninja-build g++ pkg-config          # native build
  clang-format                              # scripts/format.sh --check (npm test)
  googletest libgtest-dev                   # C++ tests (sources also used for the WASM build)
  emscripten                                # WebAssembly toolchain (3.1.6)
  clang-19                                  # the relaxed-SIMD kernel, which clang 14 cannot emit (wasm/relaxed.cmake)
  libxnnpack-dev libpthreadpool-dev libcpuinfo-dev   # native XNNPACK backend
  clang libclang-rt-14-dev                  # sanitizers and libFuzzer
  chromium                                  # headless browser tests
  sox espeak-ng                             # test audio (fake microphone)
  sentencepiece                             # reference tokenizer for tests, demo tokenizer
  nodejs npm
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  # node/npm may come from another source (nodesource); skip them when the commands exist.
  filtered=()
  for p in "${missing[@]}"; do
    if [[ "$p" == nodejs && -x "$(command -v node)" ]] || [[ "$p" == npm && -x "$(command -v npm)" ]]; then continue; fi
    filtered+=("$p")
  done
  if ((${#filtered[@]})); then
    echo "setup: installing ${filtered[*]}"
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${filtered[@]}" >/dev/null
  fi
fi

# npm dev dependencies (Playwright runner, benchmark peers); no browser is downloaded.
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: npm ci"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
fi
