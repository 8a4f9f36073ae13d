-- The policy layer's Lua side: loads a user's policy file in a fresh sandbox and checks what
-- its hooks return, so that C can trust the answers. C calls these functions under a time
-- budget and falls back to the built-in behaviour when one raises an error.
local P = {}

local HOOKS = { route = true, place = true, can_hibernate = true, timeouts = true,
                auto_response = true }
local EXTRA = { self_test = true, name = true }

local function sandbox()
  local env = {
    string = string, table = table, math = math, pairs = pairs, ipairs = ipairs, type = type,
    tostring = tostring, tonumber = tonumber, select = select, error = error, assert = assert,
    pcall = pcall, unpack = unpack, next = next, setmetatable = setmetatable,
    getmetatable = getmetatable, os = { time = os.time, clock = os.clock },
  }
  -- Policies may use sett's own modules and nothing else from the host.
  env.require = function(name)
    if name == "sett" or (type(name) == "string" and name:match("^sett%.")) then
      return require(name)
    end
    error("policy: require of '" .. tostring(name) .. "' is not allowed", 2)
  end
  return env
end

-- Returns a policy object, or nil and a message.
function P.load(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, "cannot open policy: " .. tostring(err) end
  local src = f:read("*a")
  f:close()
  local chunk, perr = loadstring(src, "@" .. path)
  if not chunk then return nil, perr end
  -- Compiled traces never run debug hooks, so a runaway loop would escape the time budget;
  -- policy code (every function the file defines) runs interpreted instead.
  if jit then jit.off(chunk, true) end
  local env = sandbox()
  setfenv(chunk, env)
  local ok, t = pcall(chunk)
  if not ok then return nil, tostring(t) end
  if type(t) ~= "table" then
    return nil, "policy: the file must return a table of hooks, got " .. type(t)
  end
  local hooks = {}
  for k, v in pairs(t) do
    if HOOKS[k] then
      if type(v) ~= "function" then
        return nil, string.format("policy: %s must be a function, got %s", k, type(v))
      end
      hooks[k] = v
    elseif not EXTRA[k] then
      return nil, "policy: unknown key " .. tostring(k)
    end
  end
  if t.self_test ~= nil then
    if type(t.self_test) ~= "function" then return nil, "policy: self_test must be a function" end
    local sok, serr = pcall(t.self_test)
    if not sok then return nil, "policy: self_test failed: " .. tostring(serr) end
  end
  return { path = path, hooks = hooks, env = env, name = t.name, loaded_at = os.time() }
end

local CRASH = { restart = true, sleep = true, destroy = true }

-- route(req) -> kind, value; kind is builtin, actor, create or respond.
function P.call_route(pol, req)
  local h = pol.hooks.route
  if not h then return "builtin" end
  local r = h(req)
  if r == nil then return "builtin" end
  if type(r) == "string" then
    if r == "" then error("route: returned an empty actor id") end
    return "actor", r
  end
  if type(r) ~= "table" then
    error("route: expected string, table or nil, got " .. type(r))
  end
  if r.status ~= nil then
    local st = r.status
    if type(st) ~= "number" or st ~= math.floor(st) or st < 100 or st > 599 then
      error("route: status must be an integer in [100, 599], got " .. tostring(st))
    end
    local headers = {}
    for k, v in pairs(r.headers or {}) do
      if type(k) ~= "string" or type(v) ~= "string" then
        error("route: headers must map strings to strings")
      end
      headers[k] = v
    end
    local body = r.body or ""
    if type(body) ~= "string" then error("route: body must be a string") end
    return "respond", { status = st, headers = headers, body = body }
  end
  if type(r.name) ~= "string" or r.name == "" then
    error("route: a get-or-create target needs a name")
  end
  for _, k in ipairs({ "key", "input", "runner" }) do
    if r[k] ~= nil and type(r[k]) ~= "string" then
      error(string.format("route: %s must be a string, got %s", k, type(r[k])))
    end
  end
  local cp = r.crash_policy or "restart"
  if not CRASH[cp] then error("route: crash_policy must be restart, sleep or destroy") end
  return "create", { name = r.name, key = r.key, input = r.input, runner = r.runner, crash_policy = cp }
end

-- place(actor, runners) -> runner id or nil.
function P.call_place(pol, actor, runners)
  local h = pol.hooks.place
  if not h then return nil end
  local r = h(actor, runners)
  if r == nil then return nil end
  local id = type(r) == "table" and r.id or r
  if type(id) ~= "string" then error("place: expected a runner id, a runner or nil, got " .. type(r)) end
  for _, c in ipairs(runners) do
    if c.id == id then return id end
  end
  error("place: returned runner " .. id .. " is not a candidate")
end

function P.call_can_hibernate(pol, actor, req, runner_says)
  local h = pol.hooks.can_hibernate
  if not h then return runner_says end
  local v = h(actor, req, runner_says)
  if type(v) ~= "boolean" then error("can_hibernate: expected a boolean, got " .. type(v)) end
  return v
end

-- timeouts(actor) -> the defaults overlaid with the hook's answer, each clamped to bounds.
function P.call_timeouts(pol, actor, defaults, bounds)
  local out = {}
  for k, v in pairs(defaults) do out[k] = v end
  local h = pol.hooks.timeouts
  if not h then return out end
  local t = h(actor)
  if t == nil then return out end
  if type(t) ~= "table" then error("timeouts: expected a table or nil, got " .. type(t)) end
  for k, v in pairs(t) do
    if defaults[k] == nil then error("timeouts: unknown key " .. tostring(k)) end
    if type(v) ~= "number" or v ~= math.floor(v) then
      error("timeouts: " .. k .. " must be an integer")
    end
    local b = bounds and bounds[k]
    if b then v = math.max(b[1], math.min(b[2], v)) end
    out[k] = v
  end
  return out
end

function P.call_auto_response(pol, actor, msg, binary)
  local h = pol.hooks.auto_response
  if not h then return nil end
  local v = h(actor, msg, binary)
  if v ~= nil and type(v) ~= "string" then
    error("auto_response: expected a string or nil, got " .. type(v))
  end
  return v
end

return P
