#!/usr/bin/env bash
# `make bench`: measures sett side by side with a direct connection and with nginx, in one run,
# and writes the tables with the machine's description to docs/benchmarks.md.
#
# Method (shared/reference/bench-anchors.md): pinned mode, the load client on CPU 0 and every
# server-side process (nginx, sett, the echo backends, Redis) on CPU 1; each scenario measures its
# baseline in the same invocation and reports ratios, because these machines are shared and noisy.
# Server CPU comes from utime+stime in /proc/PID/stat over the measured window.
#
#   scripts/bench.sh                 every scenario (under 10 minutes on 2 cores)
#   QUICK=1 scripts/bench.sh         a one-minute subset, written to build-bench/benchmarks-quick.md
#   BENCH_ONLY="1 6" scripts/bench.sh   only these scenarios
#   BENCH_OUT=FILE                   where the Markdown goes
#   scripts/bench.sh --compose       rewrite it from the last run's tables and bench/findings.md
#
# Scenarios: 1 WebSocket echo, 2 HTTP (wrk), 3 idle and hibernating memory, 4 Redis keepalive,
# 5 tunnel ping cost, 6 wake latency, 7 policy cost and reload time, 8 a normal client beside a
# slowloris.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BENCH_BUILD:-$ROOT/build-bench}
QUICK=${QUICK:-0}
[ "$QUICK" = 0 ] && QUICK=
if [ -n "$QUICK" ]; then
  OUT=${BENCH_OUT:-$BUILD/benchmarks-quick.md}
  ONLY=${BENCH_ONLY:-"1 2 3 6"}
else
  OUT=${BENCH_OUT:-$ROOT/docs/benchmarks.md}
  ONLY=${BENCH_ONLY:-"1 2 3 4 5 6 7 8"}
fi
CCPU=0            # the load client
SCPU=1            # every server-side process
ECHO_PORT=19101
NGINX_PORT=19102
SETT_PORT=19120
ADMIN_PORT=19130
REDIS_PORT=19179
HZ=$(getconf CLK_TCK)
T=$(mktemp -d /tmp/sett-bench.XXXXXX)
RES=$T/results.md
SETT=$BUILD/sett
WSLOAD=$BUILD/bench/ws-load
ECHO=$BUILD/bench/echo-server
RUNNER=$BUILD/bench/echo-runner
PIDS=()
BIND_N=1          # source addresses 127.0.0.2, .3, ... so that runs do not share ephemeral ports

log() { echo "bench: $*" >&2; }
say() { echo "$*" | tee -a "$RES"; }

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  [ -n "${BENCH_KEEP:-}" ] && log "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Sets SRC to a source address not used before in this run (not in a subshell: it counts).
next_bind() { BIND_N=$((BIND_N + 1)); SRC="127.0.0.$BIND_N"; }

# Starts a server-side process pinned to SCPU; its pid is in $BG.
bg_server() {
  local name=$1; shift
  taskset -c $SCPU "$@" >"$T/$name.out" 2>"$T/$name.err" &
  BG=$!
  PIDS+=("$BG")
}

stop() {
  local p
  for p in "$@"; do
    kill "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
}

# Sum of utime+stime, in clock ticks, of the given pids.
ticks() {
  local p sum=0 t
  for p in "$@"; do
    t=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}')
    sum=$((sum + ${t:-0}))
  done
  echo $sum
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# The value of key=... in a line of key=value pairs.
kv() { echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print $2}'; }

wait_for() { # wait_for SECONDS COMMAND...: polls every 100 ms
  local n=$(($1 * 10)); shift
  while [ $n -gt 0 ]; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1; n=$((n - 1))
  done
  return 1
}

metric() { curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

# ---- The three backends ----

echo_up() { bg_server echo "$ECHO" $ECHO_PORT; ECHO_PID=$BG; wait_for 5 curl -sf "http://127.0.0.1:$ECHO_PORT/"; }

nginx_up() {
  local d=$T/nginx
  mkdir -p "$d"
  cat >"$d/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 20000; }
http {
  access_log off;
  client_body_temp_path $d/body; proxy_temp_path $d/proxy; fastcgi_temp_path $d/fastcgi;
  uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
  map \$http_upgrade \$connection_upgrade { default upgrade; '' ''; }
  upstream echo { server 127.0.0.1:$ECHO_PORT; keepalive 128; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://echo;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
      proxy_read_timeout 3600s;
    }
  }
}
EOF
  bg_server nginx nginx -p "$d" -c "$d/nginx.conf"
  NGINX_MASTER=$BG
  wait_for 5 curl -sf "http://127.0.0.1:$NGINX_PORT/" || { log "nginx did not start"; cat "$d/error.log" >&2; return 1; }
  NGINX_PID=$(pgrep -P "$NGINX_MASTER" | head -1)
}

# sett_up [extra config lines] -- [echo-runner args]: a fresh sett, one echo-runner, one actor.
sett_up() {
  local extra="" rargs=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do extra+="$1"$'\n'; shift; done
  [ $# -gt 0 ] && shift
  rargs=("$@")
  cat >"$T/sett.lua" <<EOF
return {
  listen = "127.0.0.1:$SETT_PORT",
  admin_listen = "127.0.0.1:$ADMIN_PORT",
  log = { level = "warn" },
$extra}
EOF
  bg_server sett "$SETT" run "$T/sett.lua"
  SETT_PID=$BG
  wait_for 10 curl -sf "http://127.0.0.1:$ADMIN_PORT/health" || { log "sett did not start"; cat "$T/sett.err" >&2; return 1; }
  bg_server runner "$RUNNER" --url "ws://127.0.0.1:$SETT_PORT" "${rargs[@]}"
  RUNNER_PID=$BG
  wait_for 10 grep -q ready "$T/runner.out" || { log "echo-runner did not connect"; cat "$T/runner.err" >&2; return 1; }
  local sel=echo i
  for ((i = 0; i < ${#rargs[@]}; i++)); do [ "${rargs[$i]}" = --name ] && sel=${rargs[$((i + 1))]}; done
  ACTOR=$(curl -s -XPOST "http://127.0.0.1:$SETT_PORT/actors?namespace=default" \
    -d "{\"name\":\"echo\",\"key\":\"bench\",\"runner_name_selector\":\"$sel\",\"crash_policy\":\"sleep\"}" |
    sed -n 's/.*"actor_id":"\([^"]*\)".*/\1/p')
  [ -n "$ACTOR" ] || { log "cannot create the actor"; return 1; }
  # The first request starts the actor; it is then running for the measurements.
  curl -sf "http://127.0.0.1:$SETT_PORT/gateway/$ACTOR/warm" >/dev/null || { log "actor did not answer"; return 1; }
}

sett_down() { stop "$RUNNER_PID" "$SETT_PID"; }

# ---- Load ----

# ws_run URL CONNS SIZE SECS PID...: one closed-loop run; sets RT P50 P99 CPU (server µs per
# round trip over the given pids) and CPUS (the same per pid).
ws_run() {
  local url=$1 c=$2 s=$3 d=$4; shift 4
  local pids=("$@") t0=() t1=() p out
  next_bind; taskset -c $CCPU "$WSLOAD" --url "$url" -c "$c" -s "$s" -d "$d" --bind "$SRC" >"$T/load.out" 2>"$T/load.err" &
  local lp=$!
  sleep 1
  for p in "${pids[@]}"; do t0+=("$(ticks "$p")"); done
  sleep "$d"
  for p in "${pids[@]}"; do t1+=("$(ticks "$p")"); done
  wait $lp
  out=$(cat "$T/load.out")
  RT=$(kv "$out" rt_per_s); P50=$(kv "$out" p50_us); P99=$(kv "$out" p99_us)
  local errs; errs=$(kv "$out" errors)
  [ "${errs:-1}" = 0 ] || log "ws-load reported errors: $out $(head -3 "$T/load.err")"
  local total=0 i parts=()
  for i in "${!pids[@]}"; do
    local us; us=$(awk -v a="${t0[$i]}" -v b="${t1[$i]}" -v hz="$HZ" -v rt="${RT:-0}" -v d="$d" \
      'BEGIN { if (rt > 0) printf "%.1f", (b - a) * 1e6 / hz / (rt * d); else print "n/a" }')
    parts+=("$us")
  done
  CPU=$(awk -v a="${t0[*]}" -v b="${t1[*]}" -v hz="$HZ" -v rt="${RT:-0}" -v d="$d" \
    'BEGIN { n = split(a, x, " "); split(b, y, " "); s = 0; for (i = 1; i <= n; i++) s += y[i] - x[i];
             if (rt > 0) printf "%.1f", s * 1e6 / hz / (rt * d); else print "n/a" }')
  CPUS=$(IFS=+; echo "${parts[*]}")
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
fmt() { awk -v a="$1" 'BEGIN { if (a >= 10000) printf "%.1fk", a / 1000; else printf "%d", a }'; }
num() { echo "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/; ta'; }

# ---- Scenario 1: WebSocket echo ----

scenario1() {
  log "scenario 1: WebSocket echo (direct, nginx, sett)"
  say ""
  say "## 1. WebSocket echo, closed loop, pinned"
  say ""
  say "Round trips per second, latency, and server CPU per round trip (the sum over the server-side"
  say "processes: echo-server; nginx+echo-server; sett+echo-runner). Every sett socket is tunnelled"
  say "through one runner connection. Ratios are against the rows measured just before, in this run."
  say ""
  say "| conns | size | path | rt/s | sett ÷ path | p50 µs | p99 µs | server µs/rt |"
  say "|---|---|---|---|---|---|---|---|"
  echo_up; nginx_up || return 1
  sett_up || return 1
  local rows
  if [ -n "$QUICK" ]; then rows="100:64:3 100:4096:3"
  else rows="1:64:5 1:4096:5 100:64:10 100:4096:10 1000:64:5 1000:4096:5"; fi
  local row c s d
  for row in $rows; do
    IFS=: read -r c s d <<<"$row"
    ws_run "ws://127.0.0.1:$ECHO_PORT/" "$c" "$s" "$d" "$ECHO_PID"
    local drt=$RT dp50=$P50 dp99=$P99 dcpu=$CPU
    ws_run "ws://127.0.0.1:$NGINX_PORT/" "$c" "$s" "$d" "$NGINX_PID" "$ECHO_PID"
    local nrt=$RT np50=$P50 np99=$P99 ncpu=$CPU ncpus=$CPUS
    ws_run "ws://127.0.0.1:$SETT_PORT/gateway/$ACTOR/ws" "$c" "$s" "$d" "$SETT_PID" "$RUNNER_PID"
    local srt=$RT sp50=$P50 sp99=$P99 scpu=$CPU scpus=$CPUS
    local sz=$s; [ "$s" = 4096 ] && sz=4KiB; [ "$s" = 64 ] && sz=64B
    say "| $c | $sz | direct | $(fmt "$drt") | $(ratio "$srt" "$drt") | $dp50 | $dp99 | $dcpu |"
    say "| $c | $sz | nginx | $(fmt "$nrt") | $(ratio "$srt" "$nrt") | $np50 | $np99 | $ncpu ($ncpus) |"
    say "| $c | $sz | **sett** | **$(fmt "$srt")** | | $sp50 | $sp99 | $scpu ($scpus) |"
    if [ "$c" = 100 ] && [ "$s" = 64 ]; then
      H_SRT=$srt H_NRT=$nrt H_SP99=$sp99 H_NP99=$np99 H_SCPU=$scpu H_NCPU=$ncpu
    fi
  done
  sett_down; stop "$NGINX_MASTER" "$ECHO_PID"
  return 0
}

# ---- Scenario 2: HTTP through the tunnel ----

wrk_run() { # wrk_run URL SECS PID...: sets RPS P50 P99 (µs) CPU
  local url=$1 d=$2; shift 2
  local pids=("$@")
  taskset -c $CCPU wrk -t1 -c100 -d"$((d + 1))s" --latency "$url" >"$T/wrk.out" 2>&1 &
  local lp=$!
  sleep 1
  local a; a=$(ticks "${pids[@]}")
  sleep "$d"
  local b; b=$(ticks "${pids[@]}")
  wait $lp
  RPS=$(awk '/^Requests\/sec:/ {printf "%d", $2}' "$T/wrk.out")
  local conv='function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; if (v ~ /s$/) return v * 1e6; return v }'
  P50=$(awk "$conv"' $1 == "50%" {printf "%d", us($2)}' "$T/wrk.out")
  P99=$(awk "$conv"' $1 == "99%" {printf "%d", us($2)}' "$T/wrk.out")
  local errs; errs=$(grep -E "Non-2xx|Socket errors" "$T/wrk.out")
  [ -z "$errs" ] || log "wrk: $errs"
  CPU=$(awk -v a="$a" -v b="$b" -v hz="$HZ" -v r="${RPS:-0}" -v d="$d" \
    'BEGIN { if (r > 0) printf "%.1f", (b - a) * 1e6 / hz / (r * d); else print "n/a" }')
}

scenario2() {
  command -v wrk >/dev/null || { log "scenario 2 skipped: wrk is not installed (apt-get install wrk)"; say ""; say "## 2. HTTP: skipped (no wrk)"; return; }
  log "scenario 2: HTTP through the tunnel (wrk)"
  local d=10; [ -n "$QUICK" ] && d=3
  echo_up; nginx_up || return 1
  sett_up || return 1
  say ""
  say "## 2. HTTP, wrk (1 thread, 100 connections, keep-alive), pinned"
  say ""
  say "GET of a 4-byte body: echo-server directly, nginx \`proxy_pass\` (upstream keepalive) to"
  say "echo-server, and sett tunnelling each request to echo-runner."
  say ""
  say "| path | req/s | sett ÷ path | p50 µs | p99 µs | server µs/req |"
  say "|---|---|---|---|---|---|"
  wrk_run "http://127.0.0.1:$ECHO_PORT/x" $d "$ECHO_PID"; local d_rps=$RPS d50=$P50 d99=$P99 dcpu=$CPU
  wrk_run "http://127.0.0.1:$NGINX_PORT/x" $d "$NGINX_PID" "$ECHO_PID"; local n_rps=$RPS n50=$P50 n99=$P99 ncpu=$CPU
  wrk_run "http://127.0.0.1:$SETT_PORT/gateway/$ACTOR/x" $d "$SETT_PID" "$RUNNER_PID"; local s_rps=$RPS s50=$P50 s99=$P99 scpu=$CPU
  S2_SETT_CPU=$scpu
  say "| direct | $(fmt "$d_rps") | $(ratio "$s_rps" "$d_rps") | $d50 | $d99 | $dcpu |"
  say "| nginx | $(fmt "$n_rps") | $(ratio "$s_rps" "$n_rps") | $n50 | $n99 | $ncpu |"
  say "| **sett** | **$(fmt "$s_rps")** | | $s50 | $s99 | $scpu |"
  sett_down; stop "$NGINX_MASTER" "$ECHO_PID"
  return 0
}

# ---- Scenario 3: idle and hibernating memory ----

# open_idle URL N: holds N idle sockets with ws-load (pid in LOAD_PID) until stopped.
open_idle() {
  next_bind; taskset -c $CCPU "$WSLOAD" --url "$1" -c "$2" -d 3600 --open-only --bind "$SRC" >"$T/idle.out" 2>"$T/idle.err" &
  LOAD_PID=$!
  PIDS+=("$LOAD_PID")
  wait_for 90 grep -q "$2 open" "$T/idle.err" || { log "only some of $2 sockets opened: $(tail -2 "$T/idle.err")"; return 1; }
}

per_socket() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%.2f", (b - a) / n }'; }

scenario3() {
  log "scenario 3: idle and hibernating memory"
  local sizes="10000 19000" nsz=9000
  [ -n "$QUICK" ] && sizes=2000 nsz=2000
  say ""
  say "## 3. Idle WebSockets: resident memory per socket"
  say ""
  say "RSS growth of each process (KiB per socket) after N client sockets are opened and idle, from"
  say "/proc/PID/status before and after. For sett, \"hibernating\" is after the actor has slept"
  say "(\`/sleep\` on the echo actor) and every socket is kept open for it. nginx needs two file"
  say "descriptors per proxied socket, and a process here may hold 20,000, so nginx is measured at"
  say "$nsz sockets."
  say ""
  say "| N | path | KiB per socket, proxy | KiB per socket, backend | total |"
  say "|---|---|---|---|---|"
  local n
  for n in $sizes; do
    echo_up
    local e0; e0=$(rss_kb "$ECHO_PID")
    open_idle "ws://127.0.0.1:$ECHO_PORT/" "$n" && sleep 1
    local e1; e1=$(rss_kb "$ECHO_PID")
    stop "$LOAD_PID"; stop "$ECHO_PID"
    local dir; dir=$(per_socket "$e0" "$e1" "$n")
    say "| $n | direct echo-server | | $dir | $dir |"

    sett_up || return 1
    local s0 r0; s0=$(rss_kb "$SETT_PID"); r0=$(rss_kb "$RUNNER_PID")
    open_idle "ws://127.0.0.1:$SETT_PORT/gateway/$ACTOR/ws" "$n" && sleep 1
    local s1 r1; s1=$(rss_kb "$SETT_PID"); r1=$(rss_kb "$RUNNER_PID")
    local open; open=$(metric 'gateway_in_flight{kind="ws"}')
    curl -s "http://127.0.0.1:$SETT_PORT/gateway/$ACTOR/sleep" >/dev/null
    wait_for 20 test "$(metric sett_actors_running)" = 0 || log "the actor did not sleep"
    sleep 1
    local s2; s2=$(rss_kb "$SETT_PID")
    local sp rp; sp=$(per_socket "$s0" "$s1" "$n"); rp=$(per_socket "$r0" "$r1" "$n")
    say "| $n | sett, actor running ($open tunnelled) | $sp | $rp (echo-runner) | $(awk -v a="$sp" -v b="$rp" 'BEGIN{printf "%.2f", a+b}') |"
    say "| $n | sett, hibernating (same process) | $(per_socket "$s0" "$s2" "$n") | | |"
    [ "$n" = 19000 ] || [ -n "$QUICK" ] && H_HIB=$(per_socket "$s0" "$s2" "$n") H_HIBN=$n
    stop "$LOAD_PID"; sett_down
  done
  echo_up; nginx_up || return 1
  local g0 e0; g0=$(rss_kb "$NGINX_PID"); e0=$(rss_kb "$ECHO_PID")
  open_idle "ws://127.0.0.1:$NGINX_PORT/" "$nsz" && sleep 1
  local g1 e1; g1=$(rss_kb "$NGINX_PID"); e1=$(rss_kb "$ECHO_PID")
  local gp ep; gp=$(per_socket "$g0" "$g1" "$nsz"); ep=$(per_socket "$e0" "$e1" "$nsz")
  say "| $nsz | nginx → echo-server | $gp | $ep | $(awk -v a="$gp" -v b="$ep" 'BEGIN{printf "%.2f", a+b}') |"
  stop "$LOAD_PID"; stop "$NGINX_MASTER" "$ECHO_PID"
  return 0
}

# ---- Scenario 4: keepalive with the Redis store ----

scenario4() {
  command -v redis-server >/dev/null || { log "scenario 4 skipped: no redis-server"; return; }
  log "scenario 4: hibernation keepalive on Redis"
  local n=19000 win=10 tick_ms=2000
  [ -n "$QUICK" ] && n=2000 win=4
  bg_server redis redis-server --port $REDIS_PORT --bind 127.0.0.1 --save "" --appendonly no --dir "$T"
  local redis_pid=$BG
  wait_for 5 redis-cli -p $REDIS_PORT ping || { log "redis did not start"; return 1; }
  sett_up "  store = { kind = \"redis\", url = \"redis://127.0.0.1:$REDIS_PORT/0\" }," \
          "  hibernation = { eligible_threshold_ms = $((tick_ms * 2)) }," || return 1
  open_idle "ws://127.0.0.1:$SETT_PORT/gateway/$ACTOR/ws" "$n" || true
  curl -s "http://127.0.0.1:$SETT_PORT/gateway/$ACTOR/sleep" >/dev/null
  wait_for 20 test "$(metric sett_actors_running)" = 0 || log "the actor did not sleep"
  sleep 1
  redis-cli -p $REDIS_PORT config resetstat >/dev/null
  # Redis counts its writes to clients: one per batch of replies, so one per round trip of
  # sett's pipelines. The INFO reply that reads w0 is written after w0 was taken: one less.
  local w0; w0=$(redis-cli -p $REDIS_PORT info stats | tr -d '\r' | awk -F: '$1 == "total_writes_processed" {print $2}')
  local a; a=$(ticks "$SETT_PID"); local ra; ra=$(ticks "$redis_pid")
  sleep $win
  local b; b=$(ticks "$SETT_PID"); local rb; rb=$(ticks "$redis_pid")
  local w1; w1=$(redis-cli -p $REDIS_PORT info stats | tr -d '\r' | awk -F: '$1 == "total_writes_processed" {print $2}')
  redis-cli -p $REDIS_PORT info commandstats | tr -d '\r' >"$T/cmdstats.txt"
  local skip='$1 ~ /^cmdstat_(config|info)/'
  local calls; calls=$(awk -F'[:=,]' "/^cmdstat_/ && !($skip)"' {s += $3} END {print s + 0}' "$T/cmdstats.txt")
  local detail; detail=$(awk -F'[:=,]' "/^cmdstat_/ && !($skip)"' {sub("cmdstat_", "", $1); printf "%s%s %d", sep, $1, $3; sep=", "}' "$T/cmdstats.txt")
  local zadds; zadds=$(awk -F'[:=,]' '$1 == "cmdstat_zadd" {print $3}' "$T/cmdstats.txt")
  local rtrips=$((w1 - w0 - 1))
  # One ZADD per actor per tick, and there is one actor: the ZADDs count the ticks.
  local ticks_n=${zadds:-0}
  say ""
  say "## 4. Hibernation keepalive with the Redis store"
  say ""
  say "$n hibernating sockets on one actor; \`hibernation.eligible_threshold_ms\` = $((tick_ms * 2)), so"
  say "a keepalive tick every $tick_ms ms (plus jitter); $win s observed with \`INFO commandstats\`"
  say "after \`CONFIG RESETSTAT\` (ticks counted by ZADD calls, one per actor per tick) and Redis's"
  say "\`total_writes_processed\` (one write per batch of replies, so one per pipeline round trip)."
  say ""
  say "| sockets | ticks | Redis commands | per tick | per socket per period | round trips per tick | sett CPU | redis CPU |"
  say "|---|---|---|---|---|---|---|---|"
  local pt; pt=$(awk -v c="$calls" -v t="$ticks_n" 'BEGIN { if (t > 0) printf "%.1f", c / t; else print "n/a" }')
  local ps; ps=$(awk -v c="$calls" -v t="$ticks_n" -v n="$n" 'BEGIN { if (t > 0) printf "%.5f", c / t / n; else print "n/a" }')
  local rt; rt=$(awk -v c="$rtrips" -v t="$ticks_n" 'BEGIN { if (t > 0) printf "%.2f", c / t; else print "n/a" }')
  local sc; sc=$(awk -v a="$a" -v b="$b" -v hz="$HZ" -v w="$win" 'BEGIN { printf "%.2f%%", (b - a) * 100 / hz / w }')
  local rc; rc=$(awk -v a="$ra" -v b="$rb" -v hz="$HZ" -v w="$win" 'BEGIN { printf "%.2f%%", (b - a) * 100 / hz / w }')
  say "| $n | $ticks_n | $calls ($detail) | $pt | $ps | $rt | $sc | $rc |"
  H_RCMD=$ps H_RRT=$rt
  stop "$LOAD_PID"; sett_down
  store_level "$redis_pid"
  stop "$redis_pid"
  return 0
}

# The keepalive path at a million rows, without sockets: store-keepalive plays a gateway with
# that many hibernatable WebSockets and calls the store as gw_keepalive_one and gw_keepalive_tick
# do (bench/store_keepalive.c).
store_level() {
  local redis_pid=$1 rows=1000000 actors=10000 nt=5
  [ -n "$QUICK" ] && rows=100000 nt=3
  redis-cli -p $REDIS_PORT flushall >/dev/null
  redis-cli -p $REDIS_PORT config resetstat >/dev/null
  local m0; m0=$(redis-cli -p $REDIS_PORT info memory | tr -d '\r' | awk -F: '$1 == "used_memory" {print $2}')
  taskset -c $SCPU "$BUILD/bench/store-keepalive" --redis "redis://127.0.0.1:$REDIS_PORT/0" \
    --rows $rows --actors $actors --ticks $nt >"$T/sk.out" 2>"$T/sk.err" &
  local p=$!
  # Redis's CPU is taken over the ticks only: from the end of the insert to the end of the run.
  wait_for 300 grep -q "inserted in" "$T/sk.err" || { log "store-keepalive: $(tail -2 "$T/sk.err")"; stop $p; return 1; }
  local ra; ra=$(ticks "$redis_pid")
  wait $p || { log "store-keepalive failed: $(tail -2 "$T/sk.err")"; return 1; }
  local rb; rb=$(ticks "$redis_pid")
  local out; out=$(cat "$T/sk.out")
  local m1; m1=$(redis-cli -p $REDIS_PORT info memory | tr -d '\r' | awk -F: '$1 == "used_memory" {print $2}')
  local calls; calls=$(redis-cli -p $REDIS_PORT info commandstats | tr -d '\r' |
    awk -F'[:=,]' '/^cmdstat_/ && $1 !~ /^cmdstat_(config|info|flushall|hello|select|client|ping|script|auth)/ {s += $3} END {print s + 0}')
  # Each insert is one row of one actor, as a socket's first keepalive: three commands.
  local per_tick; per_tick=$(awk -v c="$calls" -v r="$rows" -v t="$nt" 'BEGIN { printf "%d", (c - 3 * r) / t }')
  local per_row; per_row=$(awk -v c="$per_tick" -v r="$rows" 'BEGIN { printf "%.3f", c / r }')
  local redis_ms; redis_ms=$(awk -v a="$ra" -v b="$rb" -v hz="$HZ" -v t="$nt" 'BEGIN { printf "%.0f", (b - a) * 1000 / hz / t }')
  say ""
  say "Store level: \`store-keepalive\` plays one gateway with $(num "$rows") hibernatable sockets over"
  say "$(num "$actors") actors on the same Redis, inserts each socket's row as it opens, then runs $nt"
  say "keepalive ticks back to back (a tick is one \`store_hib_upsert\` of every row, as in the gateway)."
  say "Redis commands per tick are Redis's own count (\`INFO commandstats\`) less the three per inserted row."
  say "A tick is one pipeline: every command is written before any reply is read, so it costs one round"
  say "trip however many socket writes it takes (\`writes\`: hiredis's writes per tick)."
  say ""
  say "The last column is Redis's CPU per tick as a share of one core at the default period (a tick"
  say "every 45 s: half of \`hibernation.eligible_threshold_ms\`, 90 s)."
  say ""
  say "| rows | actors | insert | tick, mean / max | Redis commands per tick | per socket per period | writes per tick | client CPU per row per tick | Redis CPU per tick | Redis memory per row | Redis at the default period |"
  say "|---|---|---|---|---|---|---|---|---|---|---|"
  say "| $(num "$rows") | $(num "$actors") | $(kv "$out" insert_ms) ms | $(kv "$out" tick_ms) / $(kv "$out" tick_max_ms) ms | $per_tick | $per_row | $(kv "$out" writes_per_tick) | $(kv "$out" cpu_us_per_row) µs | $redis_ms ms | $(awk -v a="$m0" -v b="$m1" -v r="$rows" 'BEGIN { printf "%.0f B", (b - a) / r }') | $(awk -v m="$redis_ms" 'BEGIN { printf "%.1f%%", m / 450 }') |"
  [ "$(kv "$out" errors)" = 0 ] || log "store-keepalive reported errors: $out"
  H_SK_CMD=$per_row H_SK_ROWS=$rows
}

# ---- Scenario 5: tunnel ping cost ----

scenario5() {
  log "scenario 5: tunnel ping cost"
  local n=10000 win=10
  [ -n "$QUICK" ] && n=2000 win=4
  say ""
  say "## 5. Tunnel pings: CPU of sett with $n idle tunnelled sockets"
  say ""
  say "\`tunnel.ping_interval_ms\` 3000 (the default) against 600000 (the largest value: no ping in"
  say "the window), $win s of sett's CPU, in percent of one core."
  say ""
  say "| pings | sett CPU | echo-runner CPU |"
  say "|---|---|---|"
  local iv on off
  for iv in 3000 600000; do
    sett_up "  tunnel = { ping_interval_ms = $iv }," || return 1
    open_idle "ws://127.0.0.1:$SETT_PORT/gateway/$ACTOR/ws" "$n" || true
    sleep 4   # past the first ping round, which starts when each socket opens
    local a b ra rb
    a=$(ticks "$SETT_PID"); ra=$(ticks "$RUNNER_PID")
    sleep $win
    b=$(ticks "$SETT_PID"); rb=$(ticks "$RUNNER_PID")
    local pc; pc=$(awk -v a="$a" -v b="$b" -v hz="$HZ" -v w="$win" 'BEGIN { printf "%.2f", (b - a) * 100 / hz / w }')
    local rc; rc=$(awk -v a="$ra" -v b="$rb" -v hz="$HZ" -v w="$win" 'BEGIN { printf "%.2f", (b - a) * 100 / hz / w }')
    if [ "$iv" = 3000 ]; then on=$pc; say "| every 3 s | $pc% | $rc% |"; else off=$pc; say "| off | $pc% | $rc% |"; fi
    stop "$LOAD_PID"; sett_down
  done
  H_PING=$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.2f", a - b }')
  say ""
  say "Pings cost $H_PING% of one core at $n sockets (difference of the two rows; the clock-tick"
  say "resolution is $((1000 / HZ)) ms per $win s, i.e. $(awk -v hz="$HZ" -v w="$win" 'BEGIN{printf "%.2f", 100/hz/w}')%)."
}

# ---- Scenario 6: wake latency ----

scenario6() {
  log "scenario 6: wake latency"
  local d=20 gap=400
  [ -n "$QUICK" ] && d=6
  say ""
  say "## 6. Wake latency"
  say ""
  say "One client socket sends a 64-byte message, waits for the echo, then waits $gap ms. With"
  say "\`echo-runner --sleep-idle-ms 100\` the actor asks to sleep after 100 ms idle, so every message"
  say "finds it asleep: the latency is client message → sett wakes the actor (CommandStartActor with"
  say "the socket in hibernatingRequests) → echo-runner reports Running → sett resends the pending"
  say "message → echo. echo-runner reports Running in the same loop turn as the command, so its own"
  say "start time is nil and nothing is subtracted. The baseline is the same gap with the actor awake."
  say ""
  say "| actor | samples (starts) | p50 µs | p99 µs | max µs |"
  say "|---|---|---|---|---|"
  sett_up || return 1
  next_bind; taskset -c $CCPU "$WSLOAD" --url "ws://127.0.0.1:$SETT_PORT/gateway/$ACTOR/ws" -c 1 -s 64 -d $d --gap-ms $gap --bind "$SRC" >"$T/load.out" 2>"$T/load.err"
  local out; out=$(cat "$T/load.out")
  say "| awake | – | $(kv "$out" p50_us) | $(kv "$out" p99_us) | $(kv "$out" max_us) |"
  sett_down
  sett_up -- --sleep-idle-ms 100 || return 1
  next_bind; taskset -c $CCPU "$WSLOAD" --url "ws://127.0.0.1:$SETT_PORT/gateway/$ACTOR/ws" -c 1 -s 64 -d $d --gap-ms $gap --bind "$SRC" >"$T/load.out" 2>"$T/load.err"
  out=$(cat "$T/load.out")
  kill -TERM "$RUNNER_PID"; wait "$RUNNER_PID" 2>/dev/null
  local starts; starts=$(grep -o 'starts=[0-9]*' "$T/runner.err" | cut -d= -f2)
  say "| asleep, woken by the message | ${starts:-?} | $(kv "$out" p50_us) | $(kv "$out" p99_us) | $(kv "$out" max_us) |"
  H_WAKE50=$(kv "$out" p50_us) H_WAKE99=$(kv "$out" p99_us)
  stop "$SETT_PID"
  return 0
}

# ---- Scenario 7: policy cost and reload ----

scenario7() {
  log "scenario 7: policy cost and reload time"
  local d=10 n=19000
  [ -n "$QUICK" ] && d=3 n=2000
  local pol=$ROOT/examples/policies/rooms.lua
  say ""
  say "## 7. Policy: cost per request and reload time"
  say ""
  local iters=1000000
  [ -n "$QUICK" ] && iters=200000
  if taskset -c $SCPU "$BUILD/bench/policy-route" --iters $iters >"$T/pr.out" 2>"$T/pr.err"; then
    say "Nanoseconds per \`route\` call, as the gateway makes it (hook check, request table, call under"
    say "the time budget, result read back), $(num "$iters") calls each on the engine and memory store of"
    say "\`bench/policy_route.c\`, pinned. \`noop\` is a policy whose \`route\` returns nil: the fixed cost"
    say "of crossing into Lua. A policy without a \`route\` hook costs only the check. The routed request"
    say "of host_routes is \`chat.example.com/rooms/blue/messages\`, that of rooms \`/rooms/bench/x\`; the"
    say "fall-through is \`/gateway/ID/x\`, which every policy leaves to the built-in route. \`ctx\`"
    say "routes \`/rooms/bench/x\` to an actor id with a ctx table that its \`timeouts(actor, req)\` takes,"
    say "so the request table is kept in a registry slot and released, as the gateway does; \`authorize\`"
    say "is an \`authorize\` hook answering true, asked as for a request \`route\` did not see (its request"
    say "table built for it). Both are measured in the same run as \`noop\`."
    say ""
    say "| policy | request | ns per call | over noop | answer |"
    say "|---|---|---|---|---|"
    local base; base=$(kv "$(grep policy=noop "$T/pr.out")" ns_per_call)
    local line
    while read -r line; do
      local ns; ns=$(kv "$line" ns_per_call)
      local over; over=$(awk -v a="$ns" -v b="$base" 'BEGIN { printf "%+.0f", a - b }')
      [ "$(kv "$line" policy)" = noop ] && over=""
      say "| $(kv "$line" policy) | $(kv "$line" case) | $(printf '%.0f' "$ns") | $over | $(kv "$line" kind) |"
    done <"$T/pr.out"
    say ""
  else
    log "policy-route failed: $(tail -3 "$T/pr.err")"
  fi
  say "sett with \`policy = examples/policies/rooms.lua\`, wrk as in scenario 2. \`/rooms/bench/x\`"
  say "calls \`route\`, which answers get-or-create of the actor (room, bench) on runner pool \`chat\`;"
  say "\`/gateway/ID/x\` calls \`route\`, which answers nil, so the built-in route is taken. The cost of"
  say "a route call is the difference in CPU per request against the same sett without a policy, measured"
  say "first in this scenario. That is a difference of two noisy figures, a couple of µs either way on"
  say "these machines; the per-call table above is the direct measure."
  say ""
  say "| path | req/s | p99 µs | sett+runner µs/req | over no policy |"
  say "|---|---|---|---|---|"
  # The baseline: the same sett without a policy, measured here so that it is the same minute.
  sett_up || return 1
  wrk_run "http://127.0.0.1:$SETT_PORT/gateway/$ACTOR/x" $d "$SETT_PID" "$RUNNER_PID"
  S2_SETT_CPU=$CPU
  say "| /gateway/ID/x, no policy (baseline) | $(fmt "$RPS") | $P99 | $CPU | |"
  sett_down
  sett_up "  policy = \"$pol\"," -- --name chat || return 1
  wrk_run "http://127.0.0.1:$SETT_PORT/rooms/bench/x" $d "$SETT_PID" "$RUNNER_PID"
  local over; over=$(awk -v a="$CPU" -v b="$S2_SETT_CPU" 'BEGIN { printf "%+.2f µs", a - b }')
  say "| /rooms/bench/x (route → get-or-create) | $(fmt "$RPS") | $P99 | $CPU | $over |"
  H_POL=$over
  wrk_run "http://127.0.0.1:$SETT_PORT/gateway/$ACTOR/x" $d "$SETT_PID" "$RUNNER_PID"
  over=$(awk -v a="$CPU" -v b="$S2_SETT_CPU" 'BEGIN { printf "%+.2f µs", a - b }')
  say "| /gateway/ID/x (route → nil → built in) | $(fmt "$RPS") | $P99 | $CPU | $over |"
  open_idle "ws://127.0.0.1:$SETT_PORT/rooms/bench/ws" "$n" || true
  local i times=()
  for i in 1 2 3 4 5; do
    times+=("$(curl -s -o /dev/null -w '%{time_total}' -XPOST "http://127.0.0.1:$ADMIN_PORT/admin/reload")")
    sleep 0.2
  done
  local still; still=$(metric 'gateway_in_flight{kind="ws"}')
  say ""
  say "Reload (\`POST /admin/reload\`, 5 times, curl's total time) with $n sockets open: $(printf '%s ' "${times[@]}" | awk '{for (i = 1; i <= NF; i++) printf "%s%.1f ms", (i > 1 ? ", " : ""), $i * 1000}'); sockets still open after: $still."
  stop "$LOAD_PID"; sett_down
  return 0
}

# ---- Report ----

machine() {
  say "## Machine"
  say ""
  say "- $(lscpu | awk -F: '/^Model name/ {gsub(/^ +/, "", $2); print $2}'), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo); Linux $(uname -r); Debian $(cat /etc/debian_version)"
  say "- sett $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null) (Release build in build-bench), libwebsockets $(pkg-config --modversion libwebsockets), libuv $(pkg-config --modversion libuv), $(nginx -v 2>&1 | sed 's/.*: //'), $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'), $(redis-server --version | awk '{print "Redis", $3}' | tr -d 'v=')"
  say "- Pinned: load client on CPU $CCPU, every server-side process on CPU $SCPU. Run $(date -u '+%Y-%m-%d %H:%M UTC')$([ -n "$QUICK" ] && echo ', QUICK subset')."
}

# ---- Scenario 8: a normal client beside a slowloris ----

scenario8() {
  command -v wrk >/dev/null || { log "scenario 8 skipped: wrk is not installed"; say ""; say "## 8. Slowloris: skipped (no wrk)"; return; }
  log "scenario 8: HTTP through the tunnel beside trickling connections"
  local d=10 n=1000; [ -n "$QUICK" ] && d=3
  # The head deadline is tuned down so that every trickling connection meets it, and is opened
  # again, several times within the run.
  sett_up "  limits = { header_timeout_ms = 2000 }," || return 1
  say ""
  say "## 8. A normal client beside a slowloris, pinned"
  say ""
  say "wrk (1 thread, 100 connections, keep-alive) through the tunnel as in scenario 2, alone and then"
  say "beside $n connections that each send a request head one byte every 200 ms and never finish it"
  say "(\`trickle\`; \`limits.header_timeout_ms\` = 2000, so each gets 408 and is opened again)."
  say ""
  say "| run | req/s | p50 µs | p99 µs | ÷ alone (req/s, p50, p99) |"
  say "|---|---|---|---|---|"
  wrk_run "http://127.0.0.1:$SETT_PORT/gateway/$ACTOR/x" $d "$SETT_PID" "$RUNNER_PID"; local a_rps=$RPS a50=$P50 a99=$P99
  next_bind
  taskset -c $CCPU "$BUILD/bench/trickle" --port $SETT_PORT -c $n -d $((d + 4)) --bind "$SRC" >"$T/trickle.out" 2>"$T/trickle.err" &
  local tp=$!
  PIDS+=("$tp")
  wait_for 30 grep -q "$n open" "$T/trickle.err" || { log "trickle did not open: $(tail -2 "$T/trickle.err")"; stop "$tp"; sett_down; return 1; }
  sleep 2
  wrk_run "http://127.0.0.1:$SETT_PORT/gateway/$ACTOR/x" $d "$SETT_PID" "$RUNNER_PID"; local b_rps=$RPS b50=$P50 b99=$P99
  wait "$tp"
  local tr; tr=$(cat "$T/trickle.out")
  say "| alone | $(fmt "$a_rps") | $a50 | $a99 | |"
  say "| beside $n trickling | $(fmt "$b_rps") | $b50 | $b99 | $(ratio "$b_rps" "$a_rps"), $(ratio "$b50" "$a50"), $(ratio "$b99" "$a99") |"
  say ""
  say "Trickling connections: $(kv "$tr" opened) opened, $(kv "$tr" answered_408) answered 408 at their deadline, $(kv "$tr" closed) closed otherwise."
  H_SLOW_P99=$(ratio "$b99" "$a99")
  sett_down
  return 0
}

targets() {
  say ""
  say "## Targets"
  say ""
  say "| target | measured | met |"
  say "|---|---|---|"
  if [ -n "${H_SRT:-}" ]; then
    local r; r=$(ratio "$H_SRT" "$H_NRT")
    say "| 100 conns × 64 B: sett ≥ 1.3× nginx rt/s | $r× ($(fmt "$H_SRT") vs $(fmt "$H_NRT")) | $(awk -v r="$r" 'BEGIN{print (r >= 1.3) ? "yes" : "no"}') |"
    say "| p99 ≤ nginx's | $H_SP99 µs vs $H_NP99 µs | $(awk -v a="$H_SP99" -v b="$H_NP99" 'BEGIN{print (a <= b) ? "yes" : "no"}') |"
    say "| ≤ 7.5 µs server CPU per rt (sett + echo-runner) | $H_SCPU µs | $(awk -v a="$H_SCPU" 'BEGIN{print (a <= 7.5) ? "yes" : "no"}') |"
    # The 7.5 µs was set against the anchor machine, where nginx+echo-server cost 10.1 µs per
    # round trip; the same fraction of this run's nginx row says whether sett met it in kind.
    local scaled; scaled=$(awk -v n="$H_NCPU" 'BEGIN { printf "%.1f", n * 7.5 / 10.1 }')
    say "| the same, scaled to this machine (7.5/10.1 of this run's nginx+echo-server, $H_NCPU µs) | $H_SCPU µs vs $scaled µs | $(awk -v a="$H_SCPU" -v b="$scaled" 'BEGIN{print (a <= b) ? "yes" : "no"}') |"
  fi
  if [ -n "${H_HIB:-}" ]; then
    say "| ≤ 2 KiB RSS per hibernating socket | $H_HIB KiB at $H_HIBN sockets | $(awk -v a="$H_HIB" 'BEGIN{print (a <= 2) ? "yes" : "no"}') |"
  fi
  if [ -n "${H_RCMD:-}" ]; then
    say "| ≤ 1 Redis command per hibernating socket per keepalive period | $H_RCMD | $(awk -v a="$H_RCMD" 'BEGIN{print (a <= 1) ? "yes" : "no"}') |"
    say "| 1 round trip per keepalive tick | $H_RRT | $(awk -v a="$H_RRT" 'BEGIN{print (a <= 1.05) ? "yes" : "no"}') |"
  fi
  if [ -n "${H_SK_CMD:-}" ]; then
    say "| the same at $(num "$H_SK_ROWS") rows (store level) | $H_SK_CMD commands per row, one pipeline per tick | $(awk -v a="$H_SK_CMD" 'BEGIN{print (a <= 1) ? "yes" : "no"}') |"
  fi
  if [ -n "${H_PING:-}" ]; then
    say "| pings at 10,000 sockets < 5% of one core | $H_PING% | $(awk -v a="$H_PING" 'BEGIN{print (a < 5) ? "yes" : "no"}') |"
  fi
}

compose() {
  {
    echo "# Benchmarks"
    echo ""
    echo "Written by \`make bench\` (scripts/bench.sh); the method is that of"
    echo "shared/reference/bench-anchors.md. Every figure sits next to a baseline measured in the same"
    echo "run. Findings and profiles are below the tables (bench/findings.md)."
    echo ""
    cat "$1"
    if [ -f "$ROOT/bench/findings.md" ]; then echo ""; cat "$ROOT/bench/findings.md"; fi
  } >"$OUT"
  log "wrote $OUT"
}

main() {
  if [ "${1:-}" = --compose ]; then
    # Rewrites the Markdown from the last run's tables and the current bench/findings.md.
    compose "$BUILD/bench-results${QUICK:+-quick}.md"
    return
  fi
  ulimit -n 20000 2>/dev/null || true
  if [ -z "${BENCH_NO_BUILD:-}" ]; then
    log "building (Release) in $BUILD"
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null || exit 1
    cmake --build "$BUILD" -j2 --target sett ws-load echo-server echo-runner store-keepalive policy-route trickle >/dev/null || exit 1
  fi
  local need=()
  command -v nginx >/dev/null || need+=(nginx)
  command -v wrk >/dev/null || need+=(wrk)
  if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" = 0 ]; then
    log "installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
  fi
  command -v nginx >/dev/null || { log "nginx is missing: apt-get install nginx"; exit 1; }
  local start=$SECONDS
  : >"$RES"
  machine
  for s in $ONLY; do
    "scenario$s" || log "scenario $s failed"
  done
  targets
  say ""
  say "Whole run: $((SECONDS - start)) s."
  cp "$RES" "$BUILD/bench-results${QUICK:+-quick}.md"
  compose "$RES"
}

main "$@"
