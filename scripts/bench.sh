#!/usr/bin/env bash
# `npm run bench`: builds what is needed and prints the benchmark report (see bench/run.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
node --expose-gc bench/run.mjs
