#!/usr/bin/env bash
# C/C++ formatting with the repository's .clang-format (Debian's clang-format 14):
#   scripts/format.sh --check   fails, listing each difference, if a file is not formatted
#   scripts/format.sh --fix     formats the files in place
# Files: every C/C++ source and header under src/ wasm/ tests/ tools/ bench/ (not tests/data).
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}

usage() { echo "usage: scripts/format.sh --check | --fix" >&2; exit 2; }
[[ $# -eq 1 ]] || usage
case $1 in
  --check) args=(--dry-run -Werror) ;;
  --fix) args=(-i) ;;
  *) usage ;;
esac

mapfile -d '' files < <(find src wasm tests tools bench -path tests/data -prune -o -type f \
  \( -name '*.c' -o -name '*.cc' -o -name '*.cpp' -o -name '*.h' -o -name '*.hpp' \) -print0 | sort -z)
((${#files[@]})) || { echo "format: no C/C++ files found" >&2; exit 1; }

if "$CLANG_FORMAT" --style=file "${args[@]}" "${files[@]}"; then
  echo "format: ${#files[@]} files ${1#--}ed"
else
  echo "format: files differ from .clang-format (run scripts/format.sh --fix)" >&2
  exit 1
fi
