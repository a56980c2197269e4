#!/usr/bin/env bash
# Runs every test: GoogleTest natively and as WebAssembly (Node), the Node tests of the
# built module, and the Playwright suite in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
B=${BUILD_DIR:-build}

echo "== Lint (eslint) and C++ formatting (clang-format, scripts/format.sh)"
npm run lint
bash scripts/format.sh --check

echo "== GoogleTest (native)"
ctest --test-dir $B/native --output-on-failure -j 2
echo "== GoogleTest (WebAssembly, Node)"
ctest --test-dir $B/wasm --output-on-failure
echo "== Node tests of the built module and the JS package"
node --test tests/node/
echo "== Browser tests (Playwright, headless Chromium: demo, worklets, worker, threads, microphone)"
npx playwright test --project=browser --project=microphone --project=webgpu
echo "== Full-size models (Playwright project 'fullsize': a 2 GB synthetic STT 1B checkpoint streamed with q4 and q8 conversion, cached reload, refusal, shards)"
npx playwright test --project=fullsize
echo "== Package test (npm pack, install the tarball, use it from Node and Chromium)"
npx playwright test --project=package
echo "== Apps (npm pack into an app built with Vite and webpack; served at / and /app/, plain and cross-origin isolated)"
npx playwright test --project=apps

# --- Robustness (issue 9) ----------------------------------------------------------------
# The native GoogleTest suite under AddressSanitizer + UndefinedBehaviorSanitizer, the tests
# that run threads under ThreadSanitizer, then a bounded libFuzzer run per fuzz target
# (safetensors, configs, SentencePiece, sessions).
echo "== Robustness (sanitizer suites + bounded fuzzing, scripts/robustness.sh)"
bash scripts/robustness.sh
