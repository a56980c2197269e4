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
for v in "" -relaxed; do   # the relaxed-SIMD twins (wasm/relaxed.cmake) beside the plain builds
  cp $B/wasm/kyutai$v.mjs $B/wasm/kyutai$v.wasm dist/
  cp $B/wasm-mt/kyutai-mt$v.mjs $B/wasm-mt/kyutai-mt$v.wasm $B/wasm-mt/kyutai-mt$v.worker.js dist/
done
echo "build: dist/ ready ($(du -sh dist | cut -f1))"
bash scripts/make-demo-bundle.sh   # the demo's default model bundle (dist/models/default/), made from tests/data
