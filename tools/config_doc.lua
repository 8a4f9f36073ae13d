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
    return "list of names"
  elseif spec.type == "address" then
    return '"a.b.c.d:port"'
  end
  return spec.type
end

local function default(spec)
  if spec.required then return "required" end
  if spec.default == nil then return "none" end
  if type(spec.default) == "table" then return "`{}`" end
  if type(spec.default) == "string" then return '`"' .. spec.default .. '"`' end
  return "`" .. tostring(spec.default) .. "`"
end

local function walk(fields, prefix)
  local names = {}
  for k in pairs(fields) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    local spec = fields[k]
    if spec.type == "table" then
      if spec.doc then
        w(string.format("| `%s%s` | table%s | | %s |", prefix, k, spec.optional and ", optional" or "", spec.doc))
      end
      walk(spec.fields, prefix .. k .. ".")
    else
      w(string.format("| `%s%s` | %s | %s | %s |", prefix, k, kind(spec), default(spec), spec.doc or ""))
    end
  end
end

w("# Configuration")
w("")
w("sett reads one Lua file that returns a table (`sett run FILE`, default `conf/sett.lua`).")
w("The file runs in a sandbox with `string`, `table`, `math`, `os.getenv` and `os.time`, so a")
w("value can come from the environment: `listen = os.getenv(\"SETT_LISTEN\") or \"127.0.0.1:6420\"`.")
w("Every key is optional; an unknown key, a wrong type or a value out of range is reported with its")
w("path and value, and `sett check FILE` prints `ok` or every error and exits 2.")
w("")
w("This page is generated from `lua/sett/config.lua` by `tools/config_doc.lua`; a spec checks")
w("that it is current.")
w("")
w("| key | type | default | meaning |")
w("|---|---|---|---|")
walk(config.schema, "")
w("")
io.write(table.concat(out, "\n"))
