#!/usr/bin/env bash
# Builds everything and runs the main job on the bundled default model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
node scripts/summary.mjs
