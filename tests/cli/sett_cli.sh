#!/usr/bin/env bash
# The sett binary from the outside: commands and exit codes, `check` errors, both listeners'
# /health, /metrics, and a clean exit 0 on SIGTERM and SIGINT. With VALGRIND=1 the server runs
# under valgrind and must exit with no leak and no error.
set -u
SETT=${1:?usage: sett_cli.sh path/to/sett}
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
expect_rc() { # want, description, command...
  local want=$1 what=$2
  shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$rc" -eq "$want" ]; then ok; else bad "$what: exit $rc, want $want"; cat "$tmp/out" "$tmp/err" >&2; fi
}

free_port() {
  local p
  for _ in $(seq 1 100); do
    # Below the ephemeral range (32768 and up), where outgoing connections can hold a port.
    p=$((20000 + RANDOM % 12000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

expect_rc 0 "version" "$SETT" version
grep -q '^sett ' "$tmp/out" && ok || bad "version output"
expect_rc 2 "no command" "$SETT"
expect_rc 2 "unknown command" "$SETT" frobnicate
expect_rc 2 "bad flag" "$SETT" run --frob
expect_rc 2 "check without file" "$SETT" check
expect_rc 0 "check default config" "$SETT" check conf/sett.lua
grep -qx ok "$tmp/out" && ok || bad "check prints ok"

cat >"$tmp/bad.lua" <<'LUA'
return { listen = "nowhere", log = { level = "loud" }, colour = "blue" }
LUA
expect_rc 2 "check bad config" "$SETT" check "$tmp/bad.lua"
grep -q 'listen: expected an address "a.b.c.d:port", got "nowhere"' "$tmp/err" && ok || bad "bad listen reported"
grep -q 'log.level: expected one of debug, info, warn, error, got "loud"' "$tmp/err" && ok || bad "bad level reported"
grep -q 'colour: unknown key' "$tmp/err" && ok || bad "unknown key reported"
expect_rc 2 "run bad config" "$SETT" run "$tmp/bad.lua"
expect_rc 2 "check missing file" "$SETT" check "$tmp/none.lua"
# A file that never ends is stopped by the load's time budget; bytecode is refused unread.
echo 'while true do end' >"$tmp/loop.lua"
expect_rc 2 "check endless config" "$SETT" check "$tmp/loop.lua"
grep -q 'configuration: call exceeded its time budget' "$tmp/err" && ok || bad "endless config reported"
printf '\033LJ\002\000' >"$tmp/bytecode.lua"
expect_rc 2 "check bytecode config" "$SETT" check "$tmp/bytecode.lua"
grep -q 'is precompiled bytecode' "$tmp/err" && ok || bad "bytecode config reported"
# check loads the policy the file names, with its options: a wrong option is reported with its
# key path, and the policy's syntax errors too.
cat >"$tmp/pol.lua" <<'LUA'
local sett = require "sett"
sett.check_options({ rooms = { type = "table", fields = { max = { type = "integer", min = 1, max = 100, default = 5 } } } })
return {}
LUA
printf 'return { policy = { file = "%s", options = { rooms = { max = "x" } } } }\n' "$tmp/pol.lua" >"$tmp/opt_bad.lua"
expect_rc 2 "check bad policy option" "$SETT" check "$tmp/opt_bad.lua"
grep -q 'policy.options.rooms.max: expected an integer, got "x"' "$tmp/err" && ok || bad "bad policy option reported"
printf 'return { policy = { file = "%s", options = { rooms = { max = 7 } } } }\n' "$tmp/pol.lua" >"$tmp/opt_ok.lua"
expect_rc 0 "check good policy option" "$SETT" check "$tmp/opt_ok.lua"
echo 'return {' >"$tmp/pol_syntax.lua"
printf 'return { policy = "%s" }\n' "$tmp/pol_syntax.lua" >"$tmp/pol_syntax_cfg.lua"
expect_rc 2 "check policy with a syntax error" "$SETT" check "$tmp/pol_syntax_cfg.lua"
grep -q "invalid policy" "$tmp/err" && ok || bad "policy syntax error reported"
# sett.read_file reads below policy.read_dirs only.
mkdir -p "$tmp/routes"
echo 'blue' >"$tmp/routes/table.txt"
cat >"$tmp/pol_read.lua" <<LUA
local sett = require "sett"
local data = assert(sett.read_file("$tmp/routes/table.txt"))
assert(data:match("^blue"), data)
return {}
LUA
printf 'return { policy = { file = "%s", read_dirs = { "%s" } } }\n' "$tmp/pol_read.lua" "$tmp/routes" >"$tmp/read_ok.lua"
expect_rc 0 "check policy reading below read_dirs" "$SETT" check "$tmp/read_ok.lua"
printf 'return { policy = { file = "%s", read_dirs = { "%s/elsewhere" } } }\n' "$tmp/pol_read.lua" "$tmp" >"$tmp/read_bad.lua"
expect_rc 2 "check policy reading outside read_dirs" "$SETT" check "$tmp/read_bad.lua"
grep -q "is not below a directory of policy.read_dirs" "$tmp/err" && ok || bad "read outside read_dirs reported"
# An admin listener other machines can reach without a token is warned about; the file is valid.
echo 'return { admin_listen = "0.0.0.0:6430" }' >"$tmp/open.lua"
expect_rc 0 "check exposed admin" "$SETT" check "$tmp/open.lua"
grep -q 'warning: admin_listen is not a loopback address and admin.token is not set' "$tmp/err" && ok || bad "exposed admin warned"
grep -qx ok "$tmp/out" && ok || bad "exposed admin still ok"
echo 'return { admin_listen = "0.0.0.0:6430", admin = { token = "t" } }' >"$tmp/guarded.lua"
expect_rc 0 "check guarded admin" "$SETT" check "$tmp/guarded.lua"
[ -s "$tmp/err" ] && bad "guarded admin warned: $(cat "$tmp/err")" || ok

serve() { # signal, valgrind(0/1)
  local sig=$1 vg=$2 main admin pid
  main=$(free_port)
  admin=$(free_port)
  # The policy keeps a timer ticking: a stop must not wait for it.
  echo 'require("sett").timer.every(10, function() end) return {}' >"$tmp/ticking.lua"
  cat >"$tmp/run.lua" <<LUA
return { listen = "127.0.0.1:$main", admin_listen = "127.0.0.1:$admin", log = { level = "info", format = "json" },
         policy = "$tmp/ticking.lua" }
LUA
  if [ "$vg" = 1 ]; then
    valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
      --error-exitcode=99 --log-file="$tmp/vg.log" "$SETT" run "$tmp/run.lua" 2>"$tmp/serve.log" &
  else
    "$SETT" run "$tmp/run.lua" 2>"$tmp/serve.log" &
  fi
  pid=$!
  for _ in $(seq 1 200); do
    curl -fs "http://127.0.0.1:$admin/health" >/dev/null 2>&1 && break
    sleep 0.05
  done
  [ "$(curl -s "http://127.0.0.1:$main/health")" = '{"status":"ok"}' ] && ok || bad "main /health ($sig)"
  [ "$(curl -s "http://127.0.0.1:$admin/health")" = '{"status":"ok"}' ] && ok || bad "admin /health ($sig)"
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin/nope")" = 404 ] && ok || bad "admin 404"
  curl -s -D "$tmp/mh" "http://127.0.0.1:$admin/metrics" >"$tmp/metrics"
  grep -qi '^content-type: text/plain; version=0.0.4' "$tmp/mh" && ok || bad "metrics content type"
  # A byte-exact request target is not normalised on the way in (the answer is a 404 JSON).
  [ "$(curl -s --path-as-is -o /dev/null -w '%{http_code}' "http://127.0.0.1:$main/a%2Fb/../c?x=%41")" = 404 ] && ok || bad "main 404"
  kill "-$sig" "$pid"
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -0 "$pid" 2>/dev/null && { bad "still running 15 s after SIG$sig"; kill -9 "$pid"; }
  wait "$pid"
  local rc=$?
  [ "$rc" -eq 0 ] && ok || { bad "exit after SIG$sig: $rc"; cat "$tmp/serve.log" >&2; [ -f "$tmp/vg.log" ] && cat "$tmp/vg.log" >&2; }
  grep -q '"msg":"sett stopped"' "$tmp/serve.log" && ok || { bad "no clean stop after SIG$sig"; cat "$tmp/serve.log" >&2; }
  if [ "$vg" = 1 ]; then
    grep -q 'ERROR SUMMARY: 0 errors' "$tmp/vg.log" && ok || { bad "valgrind errors"; cat "$tmp/vg.log" >&2; }
  fi
}

serve TERM 0
serve INT 0
if [ "${VALGRIND:-0}" = 1 ]; then
  serve TERM 1
fi

# TLS on the main listener: the same routes over https, the admin listener stays plain.
if command -v openssl >/dev/null; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 1 \
    -subj /CN=127.0.0.1 >/dev/null 2>&1
  main=$(free_port)
  admin=$(free_port)
  cat >"$tmp/tls.lua" <<LUA
return { listen = "127.0.0.1:$main", admin_listen = "127.0.0.1:$admin",
         tls = { cert = "$tmp/cert.pem", key = "$tmp/key.pem" } }
LUA
  "$SETT" run "$tmp/tls.lua" 2>"$tmp/tls.log" &
  pid=$!
  for _ in $(seq 1 200); do
    curl -fs "http://127.0.0.1:$admin/health" >/dev/null 2>&1 && break
    sleep 0.05
  done
  [ "$(curl -sk "https://127.0.0.1:$main/health")" = '{"status":"ok"}' ] && ok || { bad "https /health"; cat "$tmp/tls.log" >&2; }
  [ "$(curl -sk --path-as-is -o /dev/null -w '%{http_code}' "https://127.0.0.1:$main/x/../y")" = 404 ] && ok || bad "https 404"
  kill -TERM "$pid"
  wait "$pid" && ok || bad "tls server exit"
  cat >"$tmp/tlsbad.lua" <<LUA
return { listen = "127.0.0.1:$main", admin_listen = "127.0.0.1:$admin",
         tls = { cert = "$tmp/none.pem", key = "$tmp/key.pem" } }
LUA
  expect_rc 1 "missing certificate" "$SETT" run "$tmp/tlsbad.lua"
else
  bad "openssl is missing: the TLS test cannot run"
fi

# With admin.token set, /admin/* needs it (and the token is never logged); /health and /metrics
# stay open.
main=$(free_port)
admin=$(free_port)
cat >"$tmp/token.lua" <<LUA
return { listen = "127.0.0.1:$main", admin_listen = "127.0.0.1:$admin", admin = { token = "adm-s3cret" },
         log = { level = "debug" } }
LUA
"$SETT" run "$tmp/token.lua" 2>"$tmp/token.log" &
pid=$!
for _ in $(seq 1 200); do
  curl -fs "http://127.0.0.1:$admin/health" >/dev/null 2>&1 && break
  sleep 0.05
done
status() { curl -s -o "$tmp/body" -w '%{http_code}' "$@"; }
[ "$(status -X POST "http://127.0.0.1:$admin/admin/reload")" = 401 ] && ok || bad "admin without token"
grep -q '"group":"admin","code":"unauthorized"' "$tmp/body" && ok || bad "admin 401 body"
[ "$(status -X POST -H 'Authorization: Bearer adm-s3creT' "http://127.0.0.1:$admin/admin/reload")" = 403 ] && ok || bad "admin with another token"
[ "$(status -X POST -H 'Authorization: Bearer adm-s3cret' "http://127.0.0.1:$admin/admin/reload")" = 200 ] && ok || bad "admin with the token"
[ "$(status -H 'Authorization: Bearer adm-s3cret' "http://127.0.0.1:$admin/admin/nope")" = 404 ] && ok || bad "unknown admin route"
[ "$(status "http://127.0.0.1:$admin/health")" = 200 ] && ok || bad "health without token"
[ "$(status "http://127.0.0.1:$admin/metrics")" = 200 ] && ok || bad "metrics without token"
grep -q 'adm-s3cret' "$tmp/body" && bad "token in metrics" || ok
kill -TERM "$pid"
wait "$pid" && ok || bad "token server exit"
grep -q 'adm-s3cret' "$tmp/token.log" && bad "token in the log" || ok

# Listening on a port in use fails with a clear message and exit 1.
busy=$(free_port)
cat >"$tmp/busy.lua" <<LUA
return { listen = "127.0.0.1:$busy", admin_listen = "127.0.0.1:$busy" }
LUA
expect_rc 1 "port in use" "$SETT" run "$tmp/busy.lua"
grep -q 'cannot listen' "$tmp/err" && ok || bad "port in use reported"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
