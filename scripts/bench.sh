#!/usr/bin/env bash
# `npm run bench`: builds what is needed and prints the benchmark report (see bench/run.mjs).
# `npm run bench -- --quick`: the headline report (one GEMV round, Mimi, the pipeline) only.
# Either way every figure also goes to bench/results/latest.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
# Node 20 runs the relaxed-SIMD modules only behind this flag (Node 22+ and Chromium by default).
node --expose-gc --experimental-wasm-relaxed-simd bench/run.mjs "$@"
