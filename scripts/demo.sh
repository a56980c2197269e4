#!/usr/bin/env bash
# `npm start`: builds everything, then serves the demo page (web/demo/) until Ctrl-C.
# PORT=... picks the port.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
echo
exec node scripts/serve.mjs --port "${PORT:-8080}"
