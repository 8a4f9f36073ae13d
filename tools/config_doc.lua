-- Prints docs/configuration.md from the schema in lua/sett/config.lua, so the reference can
-- never drift from what `sett check` enforces:  luajit tools/config_doc.lua > docs/configuration.md
package.path = "lua/?.lua;" .. package.path
local config = require "sett.config"

local out = {}
local function w(s) out[#out + 1] = s end

local function kind(spec)
  if spec.type == "integer" then
    return string.format("integer in [%d, %d]", spec.min, spec.max)
  elseif spec.type == "enum" then
    return "one of `" .. table.concat(spec.values, "`, `") .. "`"
  elseif spec.type == "list" then
    return "list of " .. config.LIST_ITEMS[spec.item].plural
  elseif spec.type == "address" then
    return '"a.b.c.d:port"'
  elseif spec.type == "policy" then
    return "string or table"
  end
  return spec.type
end

local function default(spec)
  if spec.required then return "required" end
  if spec.default == nil then return "none" end
  if type(spec.default) == "table" then
    if #spec.default == 0 then return "`{}`" end
    local items = {}
    for i, v in ipairs(spec.default) do items[i] = '"' .. v .. '"' end
    return "`{ " .. table.concat(items, ", ") .. " }`"
  end
  if type(spec.default) == "string" then return '`"' .. spec.default .. '"`' end
  return "`" .. tostring(spec.default) .. "`"
end

local function walk(fields, prefix, restart)
  local names = {}
  for k in pairs(fields) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    local spec = fields[k]
    local r = restart or spec.restart
    local note = r and " *Needs a restart.*" or ""
    if spec.type == "table" then
      if spec.doc then
        w(string.format("| `%s%s` | table%s | | %s%s |", prefix, k, spec.optional and ", optional" or "", spec.doc, note))
      end
      walk(spec.fields, prefix .. k .. ".", r)
    else
      w(string.format("| `%s%s` | %s | %s | %s%s |", prefix, k, kind(spec), default(spec), spec.doc or "", note))
    end
  end
end

w("# Configuration")
w("")
w("sett reads one Lua file that returns a table (`sett run FILE`, default `conf/sett.lua`).")
w("The file runs in a sandbox with `string`, `table`, `math`, `os.getenv` and `os.time`, so a")
w("value can come from the environment: `listen = os.getenv(\"SETT_LISTEN\") or \"127.0.0.1:6420\"`.")
w("Every key is optional; an unknown key, a wrong type or a value out of range is reported with its")
w("path and value, and `sett check FILE` prints `ok` or every error and exits 2. When the file")
w("names a policy, `sett check` loads it too, with its options (docs/policy.md, `sett.options`),")
w("so a policy that does not compile, refuses its options or fails its `self_test` is reported.")
w("")
w("This page is generated from `lua/sett/config.lua` by `tools/config_doc.lua`; a spec checks")
w("that it is current.")
w("")
w("| key | type | default | meaning |")
w("|---|---|---|---|")
walk(config.schema, "")
w("")
w("## The sandbox")
w("")
w("A configuration file runs with exactly these globals, and nothing else is reachable (`spec/sandbox_spec.lua`")
w("checks every global and library function of the interpreter against this list):")
w("")
w("- `string`, `table` and `math`, the interpreter's own libraries;")
w("- `pairs`, `ipairs`, `tostring`, `tonumber`, `type`, `error`, `assert`, `select`, `pcall` and `unpack`;")
w("- `os.getenv` and `os.time` (the only fields of `os`).")
w("")
w("So no `require`, no `io`, no `load`, `loadstring` or `dofile`, no `debug`, `jit`, `ffi`, `package`,")
w("`coroutine`, `setmetatable` or `rawset`: a configuration computes a table from its own text and the")
w("environment, and cannot read files, load code or reach sett. Loading it has a time budget (a file")
w("that never ends is refused) and runs interpreted; bytecode is refused. A policy runs in a sandbox")
w("of its own (docs/policy.md, The sandbox).")
w("")
w("## Reload")
w("")
w("`SIGHUP`, `POST /admin/reload` on the admin listener, and a change of the configuration file or")
w("of the policy file reload both. The file is read and checked, then the policy it names is loaded")
w("(docs/policy.md); only when both are good does anything change. A file with errors, or one that")
w("names a policy that is refused, changes nothing: the errors are logged, counted")
w("(`sett_config_reload_errors_total`, `sett_policy_reload_errors_total`) and returned by the admin")
w("call as `422 {\"group\": \"config\" or \"policy\", \"code\": \"reload_failed\", \"message\": ...}`.")
w("")
w("A good reload answers `200 {\"reloaded\": true, \"policy\": \"reloaded\" | \"removed\" | \"none\",")
w("\"changed\": [keys applied], \"restart_required\": [keys]}` and logs `msg=reloaded changed=...`.")
w("Good reloads are counted in `sett_config_reloads_total` and `sett_policy_reloads_total`, and")
w("their duration in the histogram `sett_reload_duration_seconds`.")
w("Every key takes effect at once except these, which keep their running value until sett is")
w("restarted; when one of them differs from the file, the reload says so in `restart_required` and")
w("logs a warning naming it:")
w("")
for _, k in ipairs(config.restart_keys()) do w("- `" .. k .. "`") end
w("")
w("What \"at once\" means for what is already running: a request or WebSocket keeps the timeouts it")
w("was given when it started (`tunnel.*`, `gateway.*_timeout_ms`, `hibernation.*` and a policy's")
w("`timeouts` answer are read once per request or socket), `limits.*` apply to connections accepted")
w("after the reload (an open WebSocket keeps its message limit), a runner already disconnected keeps")
w("the `runner.lost_threshold_ms` it was given, and namespaces added to `namespaces` are created while")
w("removed ones stay. `log.*`, `api.token`, `policy`, `policy_budget_ms`, `timeout_bounds` and")
w("`gateway.default_runner` apply to the next line, request or hook call.")
w("")
io.write(table.concat(out, "\n"))
