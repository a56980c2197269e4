#!/usr/bin/env bash
# Builds the native library, tests and tools, the WebAssembly module (single-threaded and
# pthreads) and the GoogleTest suite as WebAssembly; copies the modules to dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
export NODE_PATH=/usr/share/nodejs   # emscripten 3.1.6's JS optimizer needs acorn from here
JOBS=${JOBS:-$(nproc)}

configure() {  # dir, extra args...
  local dir=$1; shift
  [[ -f $dir/build.ninja ]] || "$@"
}

configure build/native cmake -S . -B build/native -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build/native -j "$JOBS"

configure build/wasm emcmake cmake -S . -B build/wasm -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build/wasm -j "$JOBS"

configure build/wasm-mt emcmake cmake -S . -B build/wasm-mt -G Ninja -DCMAKE_BUILD_TYPE=Release -DKYUTAI_THREADS=ON -DKYUTAI_TESTS=OFF
cmake --build build/wasm-mt -j "$JOBS"

mkdir -p dist
cp build/wasm/kyutai.mjs build/wasm/kyutai.wasm dist/
cp build/wasm-mt/kyutai-mt.mjs build/wasm-mt/kyutai-mt.wasm build/wasm-mt/kyutai-mt.worker.js dist/
echo "build: dist/ ready ($(du -sh dist | cut -f1))"
