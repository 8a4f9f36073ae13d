#!/usr/bin/env bash
# Installs the Debian packages sett builds with (and with --test, what the tests and the fuzz
# targets also need), when any is missing. It prints the packages it installs
# and, only when apt fails, apt's output. --bench adds nginx and wrk for make bench.
# The names are pinned: installing plain `luajit` later would remove luajit2.
set -euo pipefail

pkgs=(luajit2 libluajit2-5.1-dev libuv1-dev lua-luv-dev libwebsockets-dev
      libwebsockets-evlib-uv libhiredis-dev libhttp-parser-dev cmake pkg-config make gcc)
if [ "${1:-}" = "--test" ] || [ "${1:-}" = "--bench" ]; then
  pkgs+=(redis-server redis-tools lua-busted clang libclang-rt-14-dev clang-format-14 valgrind curl openssl
          chromium chromium-driver)
  command -v node >/dev/null 2>&1 || pkgs+=(nodejs npm)
fi
# make bench measures sett beside nginx, with wrk as the HTTP load.
[ "${1:-}" = "--bench" ] && pkgs+=(nginx wrk)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages: ${missing[*]} (run as root, or install them)" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "deps: apt-get failed" >&2
  exit 1
fi
