#!/usr/bin/env bash
# Builds the native library, tests and tools, the WebAssembly module (single-threaded and
# pthreads) and the GoogleTest suite as WebAssembly; copies the modules to dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
export NODE_PATH=/usr/share/nodejs   # emscripten 3.1.6's JS optimizer needs acorn from here
JOBS=${JOBS:-$(nproc)}
B=${BUILD_DIR:-build}   # several checkouts/agents can build side by side

configure() {  # dir, extra args...
  local dir=$1; shift
  [[ -f $dir/build.ninja ]] || "$@"
}

configure $B/native cmake -S . -B $B/native -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build $B/native -j "$JOBS"

configure $B/wasm emcmake cmake -S . -B $B/wasm -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build $B/wasm -j "$JOBS"

configure $B/wasm-mt emcmake cmake -S . -B $B/wasm-mt -G Ninja -DCMAKE_BUILD_TYPE=Release -DKYUTAI_THREADS=ON -DKYUTAI_TESTS=OFF
cmake --build $B/wasm-mt -j "$JOBS"

mkdir -p dist
cp $B/wasm/kyutai.mjs $B/wasm/kyutai.wasm dist/
cp $B/wasm-mt/kyutai-mt.mjs $B/wasm-mt/kyutai-mt.wasm $B/wasm-mt/kyutai-mt.worker.js dist/
echo "build: dist/ ready ($(du -sh dist | cut -f1))"
bash scripts/make-demo-bundle.sh   # the demo's default model bundle (dist/models/default/), made from tests/data
