#!/usr/bin/env bash
# The C in src/ and tests/unit/ is as clang-format 14 writes it with .clang-format: prints each
# place that differs (file:line:col) and exits 1 when there is any. --fix formats the files in
# place instead. Another clang-format version formats some constructs differently, so 14 it is.
set -euo pipefail
cd "$(dirname "$0")/.."
cf=${CLANG_FORMAT:-clang-format-14}
if ! command -v "$cf" >/dev/null 2>&1; then
  echo "check_format: $cf is not installed (scripts/deps.sh --test installs it)" >&2
  exit 1
fi
mapfile -t files < <(find src tests/unit -name '*.[ch]' | sort)
if [ "${1:-}" = "--fix" ]; then
  "$cf" -i "${files[@]}"
  exit 0
fi
if ! "$cf" --dry-run --Werror "${files[@]}"; then
  echo "check_format: run tools/check_format.sh --fix to format these files" >&2
  exit 1
fi
