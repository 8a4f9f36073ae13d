-- What a policy file and a configuration file can reach, checked against every name the Lua
-- state itself has: each global of this interpreter, each field of its libraries, is either on
-- the documented list (docs/policy.md, The sandbox; docs/configuration.md) or absent from the
-- sandbox.
local P = require "sett.policy"
local config = require "sett.config"

-- Every global of the real interpreter and every field of its standard libraries, as
-- "name" and "lib.name".
local function every_name()
  local names = {}
  for k, v in pairs(_G) do
    if type(k) == "string" and k:find("^[%a_][%w_]*$") then
      names[#names + 1] = k
      if type(v) == "table" and k ~= "_G" and k ~= "package" then
        for f in pairs(v) do
          if type(f) == "string" and f:find("^[%a_][%w_]*$") then names[#names + 1] = k .. "." .. f end
        end
      end
    end
  end
  table.sort(names)
  return names
end

-- Lua source that collects which of the names are reachable and hands them to `out`.
local function probe_src(names, out)
  local lines = { "local seen = {}" }
  for _, n in ipairs(names) do
    local lib, f = n:match("^([%w_]+)%.([%w_]+)$")
    if lib then
      lines[#lines + 1] = string.format("if type(%s) == 'table' and %s[%q] ~= nil then seen[#seen + 1] = %q end", lib, lib, f, n)
    else
      lines[#lines + 1] = string.format("if %s ~= nil then seen[#seen + 1] = %q end", n, n)
    end
  end
  lines[#lines + 1] = out
  return table.concat(lines, "\n")
end

local function set(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

describe("the sandboxes", function()
  local names = every_name()

  it("give a policy exactly the documented globals and library functions", function()
    local allowed = set({
      "assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "rawequal",
      "require", "select", "setmetatable", "tonumber", "tostring", "type", "unpack", "_G",
      "string", "table", "math", "os", "os.time", "os.clock",
    })
    for n in pairs(string) do if n ~= "dump" then allowed["string." .. n] = true end end
    for n in pairs(table) do allowed["table." .. n] = true end
    for n in pairs(math) do allowed["math." .. n] = true end
    local pol = assert(P.load_string(probe_src(names, "reached = seen\nreturn {}")))
    local reached = pol.env.reached
    for _, n in ipairs(reached) do assert.is_true(allowed[n] == true, n .. " is reachable") end
    assert.is_true(#reached >= 20)
    -- The environment holds nothing of its own beyond those names.
    local own = {}
    for k in pairs(pol.env) do if k ~= "reached" then own[#own + 1] = k end end
    table.sort(own)
    assert.are.same({ "_G", "assert", "error", "getmetatable", "ipairs", "math", "next", "os",
                      "pairs", "pcall", "rawequal", "require", "select", "setmetatable", "string",
                      "table", "tonumber", "tostring", "type", "unpack" }, own)
  end)

  it("let a policy require sett and sett.* only", function()
    local pol = assert(P.load_string([[
      local ok = {}
      for _, m in ipairs({ "sett", "sett.json", "sett.timer", "sett.shared", "sett.policy" }) do
        ok[#ok + 1] = type(require(m))
      end
      local refused = {}
      for _, m in ipairs({ "luv", "ffi", "jit", "io", "os", "debug", "string", "sett_x", "../sett" }) do
        refused[#refused + 1] = tostring(select(2, pcall(require, m)))
      end
      result = { ok = ok, refused = refused }
      return {}]]))
    assert.are.same({ "table", "table", "table", "table", "table" }, pol.env.result.ok)
    for _, msg in ipairs(pol.env.result.refused) do
      assert.matches("is not allowed (only sett and sett.*)", msg, 1, true)
    end
  end)

  it("give a configuration file exactly the documented globals", function()
    local allowed = set({
      "string", "table", "math", "pairs", "ipairs", "tostring", "tonumber", "type", "error",
      "assert", "select", "pcall", "unpack", "os", "os.getenv", "os.time",
    })
    for n in pairs(string) do allowed["string." .. n] = true end
    for n in pairs(table) do allowed["table." .. n] = true end
    for n in pairs(math) do allowed["math." .. n] = true end
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write(probe_src(names, "error('REACHED:' .. table.concat(seen, ','), 0)"))
    f:close()
    local cfg, errs = config.load(path)
    os.remove(path)
    assert.is_nil(cfg)
    local list = errs[1]:match("REACHED:(.*)$")
    assert.is_string(list, errs[1])
    local n = 0
    for name in list:gmatch("[^,]+") do
      n = n + 1
      assert.is_true(allowed[name] == true, name .. " is reachable")
    end
    assert.is_true(n >= 16)
  end)
end)
