-- The policy layer's Lua side: loads a user's policy file in a fresh sandbox and checks what its
-- hooks return, so that C can trust the answers. C calls the call_* functions under a time
-- budget (a count hook) and falls back to the built-in behaviour when one raises an error; the
-- errors raised here name the hook and say what was expected, because they end up in the log.
--
--   P.load(path [, opts])               -> pol | nil, err
--   P.load_string(src [, name [, opts]]) -> pol | nil, err
--   P.call_route(pol, req)              -> "builtin" | "actor", id | "create", target | "respond", answer
--   P.call_place(pol, actor, runners)   -> runner id | nil
--   P.call_can_hibernate(pol, actor, req, runner_says) -> boolean
--   P.call_timeouts(pol, actor, defaults, bounds, req) -> table
--   P.call_auto_response(pol, actor, msg, binary, req) -> string | nil
--   P.call_authorize(pol, req, target) -> true | false, answer
--   P.call_cors(pol, req)               -> "builtin" | "allow" [, origin] | "refuse"
--   P.retire(pol)                       stops what the policy started (its timers)
--
-- docs/policy.md describes the hooks as a policy author sees them.
local P = {}

local json = require "sett.json"
local sett = require "sett"
local timer = require "sett.timer"
local config = require "sett.config"
local hibernation = require "sett.hibernation"

local type, pairs, ipairs, tostring, error, pcall, select = type, pairs, ipairs, tostring, error, pcall, select
local floor, huge = math.floor, math.huge
local format, find, byte, sub = string.format, string.find, string.byte, string.sub

P.HOOKS = { "route", "place", "can_hibernate", "timeouts", "auto_response", "authorize", "cors" }
local HOOK = {}
for _, h in ipairs(P.HOOKS) do HOOK[h] = true end

-- The keys a timeouts hook may answer, from the configuration's list of them.
P.TIMEOUT_KEYS = {}
for i, b in ipairs(require("sett.config").TIMEOUT_BOUND_KEYS) do P.TIMEOUT_KEYS[i] = b[1] end
local TIMEOUT_KEY = {}
for _, k in ipairs(P.TIMEOUT_KEYS) do TIMEOUT_KEY[k] = true end

P.CRASH_POLICIES = { "restart", "sleep", "destroy" }
local CRASH = { restart = true, sleep = true, destroy = true }

-- CPU time the top level of a policy file and its self_test may take at a load, in ms. The gateway
-- loads on its event loop, so a runaway loop at load must be stopped too.
P.LOAD_BUDGET_MS = 1000

-- The text of the error a budget stop raises (the C hook raises the same words).
P.BUDGET_ERROR = "exceeded its time budget"

-- The CPU time one timer callback may take, in ms (false: no limit). The gateway sets it to
-- policy_budget_ms, the budget of a hook call; the testkit to kit.budget.
P.budget_ms = 5

-- A short, readable rendering of a value for error messages.
local function show(v)
  if type(v) == "string" then
    if #v > 40 then v = sub(v, 1, 37) .. "..." end
    return (format("%q", v):gsub("\\\n", "\\n"))
  end
  return tostring(v)
end
P.show = show

local function is_budget_error(e)
  return type(e) == "string" and find(e, P.BUDGET_ERROR, 1, true) ~= nil
end

-- Runs f(...) like pcall, but stops it with an error once it has used more than ms of CPU time.
-- Only interpreted code is stopped: policy code is compiled with the JIT off for that reason.
-- The caller's own hook (busted's coverage, say) is put back afterwards.
function P.run_with_budget(ms, f, ...)
  if not ms then return pcall(f, ...) end
  local oldf, oldmask, oldcount = debug.gethook()
  local deadline = os.clock() + ms / 1000
  debug.sethook(function()
    if os.clock() > deadline then error("policy code " .. P.BUDGET_ERROR .. " (" .. ms .. " ms)", 2) end
  end, "", 1000)
  local res = { pcall(f, ...) }
  if oldf then debug.sethook(oldf, oldmask, oldcount) else debug.sethook() end
  return unpack(res, 1, table.maxn(res))
end

---------------------------------------------------------------------------------------------------
-- The sandbox

-- Read-only views of sett's modules: a policy may use them but not change them for the whole
-- process (they outlive the policy across reloads). Nested tables are views too.
local views = setmetatable({}, { __mode = "k" })     -- view -> original
local view_of = setmetatable({}, { __mode = "kv" })  -- original -> view

local function readonly(t, what)
  if type(t) ~= "table" then return t end
  local v = view_of[t]
  if v then return v end
  v = setmetatable({}, {
    __index = function(_, k) return readonly(t[k], what) end,
    __newindex = function(_, k) error(format("policy: %s is read-only (setting %s)", what, show(k)), 2) end,
    __metatable = false,
  })
  views[v], view_of[t] = t, v
  return v
end

local function copy(t)
  local o = {}
  for k, v in pairs(t) do o[k] = v end
  return o
end

-- The policy's own view of sett: sett's read-only view with the parts that belong to this policy
-- (own: sett.timer) in front.
local function own_sett(own)
  local base = readonly(sett, "sett")
  local all = copy(sett)
  for k, x in pairs(own) do all[k] = x end
  local v = setmetatable({}, {
    __index = function(_, k)
      local x = own[k]
      if x ~= nil then return x end
      return base[k]
    end,
    __newindex = function(_, k) error(format("policy: sett is read-only (setting %s)", show(k)), 2) end,
    __metatable = false,
  })
  views[v] = all
  return v
end

-- A fresh environment for one load: the safe parts of the standard library (copies, so a policy
-- that changes string or table changes only its own), and require of sett's modules only; `sett`
-- and `sett.timer` are the policy's own (own: what sett.timer is for this policy).
local function sandbox(own)
  local str = copy(string)
  str.dump = nil
  local env = {
    string = str, table = copy(table), math = copy(math),
    os = { time = os.time, clock = os.clock },
    type = type, tostring = tostring, tonumber = tonumber, select = select, error = error,
    assert = assert, unpack = unpack, next = next, setmetatable = setmetatable,
    rawequal = rawequal,
  }
  -- pcall must not swallow the budget's stop: a loop around a pcall would otherwise outrun it.
  local function rethrow(ok, ...)
    if not ok and is_budget_error((...)) then error((...), 0) end
    return ok, ...
  end
  env.pcall = function(f, ...) return rethrow(pcall(f, ...)) end
  -- The shared string metatable stays out of reach (its __index is the process's string table).
  env.getmetatable = function(v)
    if type(v) == "string" then return nil end
    return getmetatable(v)
  end
  -- pairs, ipairs and next see through the read-only views of sett's modules.
  env.pairs = function(t)
    local orig = views[t]
    if not orig then return pairs(t) end
    return function(_, k)
      local nk, nv = next(orig, k)
      return nk, readonly(nv, "sett")
    end, t, nil
  end
  env.ipairs = function(t)
    local orig = views[t]
    if not orig then return ipairs(t) end
    return function(_, i)
      i = i + 1
      local v = orig[i]
      if v ~= nil then return i, readonly(v, "sett") end
    end, t, 0
  end
  local own_view = own_sett(own)
  env.require = function(name)
    if name == "sett" then return own_view end
    if type(name) == "string" and find(name, "^sett%.[%w_.]+$") then
      local mine = own[sub(name, 6)]
      if mine ~= nil then return mine end
      return readonly(require(name), name)
    end
    error("policy: require of " .. show(name) .. " is not allowed (only sett and sett.*)", 2)
  end
  env._G = env
  return env
end

---------------------------------------------------------------------------------------------------
-- Loading

local KNOWN = "route, place, can_hibernate, timeouts, auto_response, authorize, cors, self_test, name"

-- The position of the req parameter of the hooks that got it later.
local REQ_PARAM = { timeouts = 2, auto_response = 4 }

-- The largest file sett.read_file reads: it reads on the event loop, so a policy's files must
-- stay small.
P.READ_FILE_MAX = 4 * 1024 * 1024

-- sett.read_file(path) for a policy: the whole file, or nil and a message; only below one of
-- dirs (absolute paths, from the configuration's policy.read_dirs), never through a "." or ".."
-- segment.
local function read_file_in(dirs)
  local list = {}
  for i, d in ipairs(dirs) do list[i] = d end
  return function(path)
    if type(path) ~= "string" then return nil, "sett.read_file: path must be a string, got " .. type(path) end
    if find(path, "%z") or sub(path, 1, 1) ~= "/" or find(path, "/%.%.?/") or find(path, "/%.%.?$") then
      return nil, "sett.read_file: " .. show(path) .. " must be an absolute path without . or .. segments"
    end
    local inside = false
    for _, d in ipairs(list) do
      if d == "/" or (sub(path, 1, #d + 1) == d .. "/" and #path > #d + 1) then inside = true break end
    end
    if not inside then
      return nil, "sett.read_file: " .. show(path) .. " is not below a directory of policy.read_dirs"
    end
    local f, err = io.open(path, "rb")
    if not f then return nil, "sett.read_file: " .. tostring(err) end
    local size = f:seek("end")
    if not size then
      f:close()
      return nil, "sett.read_file: " .. show(path) .. " cannot be read (a directory?)"
    end
    if size > P.READ_FILE_MAX then
      f:close()
      return nil, format("sett.read_file: %s is %d bytes, more than the %d a policy may read", show(path), size, P.READ_FILE_MAX)
    end
    f:seek("set")
    local data, rerr = f:read("*a")
    f:close()
    if not data then return nil, "sett.read_file: " .. tostring(rerr) end
    return data
  end
end

-- Compiles and runs the file in a new sandbox whose sett.timer starts timers in `timers`.
local function compile(src, chunkname, opts, timers, hib)
  if type(src) ~= "string" then return nil, "policy: source must be a string, got " .. type(src) end
  if byte(src, 1) == 27 then return nil, "policy: " .. chunkname .. " is precompiled bytecode; give the Lua source" end
  if sub(src, 1, 3) == "\239\187\191" then src = sub(src, 4) end        -- a UTF-8 byte order mark
  if sub(src, 1, 1) == "#" then src = "--" .. src end                   -- a #! line
  local chunk, perr = loadstring(src, "@" .. chunkname)
  if not chunk then return nil, perr end
  -- Compiled traces never run debug hooks, so a runaway loop would escape the time budget;
  -- policy code (the chunk and every function it defines) runs interpreted instead.
  if jit then jit.off(chunk, true) end
  local own = { timer = readonly({ after = timers.after, every = timers.every }, "sett.timer"),
                hibernation = readonly({ list = hib.list, count = hib.count, local_count = hib.local_count },
                                       "sett.hibernation") }
  -- sett.options: the configuration's policy.options, a copy of its own for every load.
  local perrs = {}
  own.options = config.plain_copy(opts.options or {}, "policy.options", perrs, 1)
  if #perrs > 0 then return nil, "policy: " .. table.concat(perrs, "; ") end
  -- sett.check_options(schema): the options checked against a schema in the configuration's
  -- form, with the defaults filled in; sett.options becomes the checked table.
  own.check_options = function(schema)
    if type(schema) ~= "table" then
      error("sett.check_options: expected a schema table, got " .. type(schema), 2)
    end
    local ok, checked, errs = pcall(config.check, schema, own.options, "policy.options.")
    if not ok then error("sett.check_options: the schema is not valid: " .. tostring(checked), 2) end
    if not checked then error(table.concat(errs, "; "), 0) end
    own.options = checked
    return checked
  end
  own.read_file = read_file_in(opts.read_dirs or {})
  local env = sandbox(own)
  setfenv(chunk, env)
  local budget = opts.budget_ms
  if budget == nil then budget = P.LOAD_BUDGET_MS end
  if budget == false then budget = nil end
  local ok, t = P.run_with_budget(budget, chunk)
  if not ok then return nil, tostring(t) end
  if type(t) ~= "table" then
    return nil, "policy: " .. chunkname .. " must return a table of hooks, got " .. type(t)
  end
  local hooks = {}
  for k, v in pairs(t) do
    if HOOK[k] or k == "self_test" then
      if type(v) ~= "function" then
        return nil, format("policy: %s must be a function, got %s", k, type(v))
      end
      if HOOK[k] then hooks[k] = v end
    elseif k == "name" then
      if type(v) ~= "string" then return nil, "policy: name must be a string, got " .. type(v) end
    else
      return nil, format("policy: unknown key %s in the returned table (known: %s)", show(k), KNOWN)
    end
  end
  -- Which hooks declare the request parameter that older hooks lacked (timeouts(actor, req),
  -- auto_response(actor, msg, binary, req)): the gateway builds and keeps the request table only
  -- for them, so a policy that does not ask for it costs what it did.
  local takes_req = {}
  for hook, n in pairs(REQ_PARAM) do
    local f = hooks[hook]
    if f then
      local info = debug.getinfo(f, "u")
      takes_req[hook] = info.isvararg or (info.nparams or 0) >= n
    end
  end
  local pol = { path = opts.path, name = t.name, hooks = hooks, env = env, loaded_at = os.time(),
                timers = timers, hibernation = hib, takes_req = takes_req }
  if t.self_test then
    -- self_test(pol) may check its own hooks through P.call_* or sett.testkit.
    local sok, serr = P.run_with_budget(budget, t.self_test, pol)
    if not sok then return nil, "policy: self_test failed: " .. tostring(serr) end
  end
  return pol
end

-- A timer callback runs under the budget of a hook call; a failure is logged and counted as
-- the gateway counts a hook's, under hook="timer".
local function run_callback(fn, h) return P.run_with_budget(P.budget_ms or nil, fn, h) end
local function callback_failed(err) sett._callback_failed("timer", err) end
local function hibernation_failed(err) sett._callback_failed("hibernation", err) end
local function run_answer(fn, a, b) return P.run_with_budget(P.budget_ms or nil, fn, a, b) end

local function load(src, chunkname, opts)
  local timers = timer.group(run_callback, callback_failed)
  local hib = hibernation.group(run_answer, hibernation_failed)
  local pol, err = compile(src, chunkname, opts, timers, hib)
  -- A load that fails leaves nothing running behind it.
  if not pol then
    timers.stop_all()
    hib.retire()
  end
  return pol, err
end

-- Stops what the policy started: every timer, and any it would start later. The gateway calls
-- it when a reload replaces the policy or the configuration removes it.
function P.retire(pol)
  if type(pol) == "table" and pol.timers then pol.timers.stop_all() end
  if type(pol) == "table" and pol.hibernation then pol.hibernation.retire() end
end

-- Loads a policy file. Returns the policy, or nil and a message that says what is wrong (a
-- syntax or runtime error carries the file and line). opts.budget_ms: the load's CPU budget
-- (false: none). Every load builds a new environment: policies share nothing.
function P.load(path, opts)
  if type(path) ~= "string" then return nil, "policy: path must be a string, got " .. type(path) end
  local f, err = io.open(path, "rb")
  if not f then return nil, "policy: cannot open " .. tostring(err) end
  local src, rerr = f:read("*a")
  f:close()
  if not src then return nil, "policy: cannot read " .. path .. ": " .. tostring(rerr) end
  local o = opts and copy(opts) or {}
  o.path = path
  return load(src, path, o)
end

-- The same from source text; name stands for the file in messages (default "policy").
function P.load_string(src, name, opts)
  local o = opts and copy(opts) or {}
  o.path = o.path or name
  return load(src, name or "policy", o)
end

---------------------------------------------------------------------------------------------------
-- Checking answers

local function no_nul(hook, what, s)
  if find(s, "\0", 1, true) then error(format("%s: %s must not contain NUL bytes", hook, what), 0) end
end

-- RFC 9110 token characters, for header names.
local function is_token(s)
  return find(s, "^[%w!#$%%&'*+%-.^_`|~]+$") ~= nil
end

-- Headers the gateway writes itself for a direct answer.
local FRAMING = { ["content-length"] = true, ["transfer-encoding"] = true, ["connection"] = true }

local RESPOND_KEYS = { status = true, headers = true, body = true }
local CREATE_KEYS = { name = true, key = true, input = true, runner = true, crash_policy = true,
                      namespace = true }

local function check_respond(r, hook)
  hook = hook or "route"
  for k in pairs(r) do
    if not RESPOND_KEYS[k] then
      error(format(hook .. ": unknown key %s in a direct answer (known: status, headers, body)", show(k)), 0)
    end
  end
  local st = r.status
  if type(st) ~= "number" or st ~= floor(st) or st < 100 or st > 599 then
    error(hook .. ": status must be an integer in [100, 599], got " .. show(st), 0)
  end
  if st < 200 then
    error(hook .. ": status " .. st .. " is not a final status; a direct answer needs one in [200, 599]", 0)
  end
  local headers = {}
  if r.headers ~= nil then
    if type(r.headers) ~= "table" then
      error(hook .. ": headers must be a table of name = value, got " .. type(r.headers), 0)
    end
    for k, v in pairs(r.headers) do
      if type(k) ~= "string" or not is_token(k) then
        error(hook .. ": header name " .. show(k) .. " is not a valid HTTP header name", 0)
      end
      if FRAMING[k:lower()] then
        error(hook .. ": header " .. k .. " is set by the gateway; leave it out", 0)
      end
      if type(v) == "number" then v = tostring(v) end
      if type(v) ~= "string" then
        error(format(hook .. ": header %s must be a string, got %s", k, type(v)), 0)
      end
      if find(v, "[\r\n%z]") then
        error(format(hook .. ": header %s must not contain CR, LF or NUL", k), 0)
      end
      headers[k] = v
    end
  end
  local body = r.body
  if body == nil then body = "" end
  if type(body) ~= "string" then error(hook .. ": body must be a string or nil, got " .. type(body), 0) end
  if (st == 204 or st == 304) and body ~= "" then
    error(hook .. ": a " .. st .. " answer has no body", 0)
  end
  return { status = st, headers = headers, body = body }
end

local function check_create(r)
  for k in pairs(r) do
    if not CREATE_KEYS[k] then
      error(format("route: unknown key %s in a get-or-create target (known: name, key, input, runner, crash_policy, namespace)", show(k)), 0)
    end
  end
  if type(r.name) ~= "string" or r.name == "" then
    error("route: a get-or-create target needs name, a non-empty string, got " .. show(r.name), 0)
  end
  no_nul("route", "name", r.name)
  for _, k in ipairs({ "key", "input", "runner", "namespace" }) do
    local v = r[k]
    if v ~= nil and type(v) ~= "string" then
      error(format("route: %s must be a string or nil, got %s", k, type(v)), 0)
    end
  end
  if r.key then no_nul("route", "key", r.key) end
  if r.runner then
    if r.runner == "" then error("route: runner must be a non-empty runner name or nil", 0) end
    no_nul("route", "runner", r.runner)
  end
  if r.namespace then
    if r.namespace == "" then error("route: namespace must be a non-empty namespace name or nil", 0) end
    no_nul("route", "namespace", r.namespace)
  end
  local cp = r.crash_policy
  if cp == nil then cp = "restart" end
  if not CRASH[cp] then
    error("route: crash_policy must be restart, sleep or destroy, got " .. show(cp), 0)
  end
  return { name = r.name, key = r.key, input = r.input, runner = r.runner, crash_policy = cp,
           namespace = r.namespace }
end

-- route(req) -> kind, value; kind is builtin, actor, create or respond. The hook may return a
-- second value, ctx (a table), which becomes req.ctx: the gateway hands the same req table to
-- every later hook of the request (authorize, timeouts, can_hibernate, auto_response).
function P.call_route(pol, req)
  local h = pol.hooks.route
  if not h then return "builtin" end
  local r, ctx = h(req)
  if ctx ~= nil and ctx ~= false then
    if type(ctx) ~= "table" then
      error("route: ctx (the second value returned) must be a table or nil, got " .. type(ctx), 0)
    end
    req.ctx = ctx
  end
  if r == nil or r == false then return "builtin" end
  local t = type(r)
  if t == "string" then
    if r == "" then error("route: returned an empty actor id", 0) end
    no_nul("route", "an actor id", r)
    return "actor", r
  end
  if t ~= "table" then
    error("route: expected string, table or nil, got " .. t, 0)
  end
  if r.status ~= nil and r.name ~= nil then
    error("route: a table answer has both status (a direct answer) and name (a get-or-create target)", 0)
  end
  if r.status ~= nil then return "respond", check_respond(r) end
  if r.name ~= nil then return "create", check_create(r) end
  error("route: a table answer needs status (a direct answer) or name (a get-or-create target)", 0)
end

---------------------------------------------------------------------------------------------------
-- Runner metadata (runners send it as JSON text)

-- Parsed metadata, keyed by its text: runners keep theirs for their whole connection.
local meta_cache, meta_count = {}, 0

local function deep_copy(v)
  if type(v) ~= "table" then return v end
  local o = {}
  for k, x in pairs(v) do o[k] = deep_copy(x) end
  return o
end

-- Runner metadata as the hooks see it: JSON text that holds an object or array becomes that
-- table; anything else stays the raw string.
function P.parse_metadata(raw)
  if type(raw) ~= "string" then return raw end
  local m = meta_cache[raw]
  if m == nil then
    local v = json.decode(raw)
    m = type(v) == "table" and v or false
    if meta_count >= 256 then meta_cache, meta_count = {}, 0 end
    meta_cache[raw], meta_count = m, meta_count + 1
  end
  if m == false then return raw end
  return deep_copy(m)
end

---------------------------------------------------------------------------------------------------
-- The other hooks

-- place(actor, runners) -> runner id or nil. The hook sees copies of the candidates with their
-- metadata parsed (metadata_raw keeps the text).
function P.call_place(pol, actor, runners)
  local h = pol.hooks.place
  if not h then return nil end
  local view = {}
  for i, c in ipairs(runners) do
    local v = copy(c)
    if type(c.metadata) == "string" then
      v.metadata = P.parse_metadata(c.metadata)
      v.metadata_raw = c.metadata
    end
    view[i] = v
  end
  local r = h(actor, view)
  if r == nil or r == false then return nil end
  local id = r
  if type(r) == "table" then
    id = r.id
    if type(id) ~= "string" then error("place: the returned runner table has no string id", 0) end
  elseif type(r) ~= "string" then
    error("place: expected a runner id, a runner table or nil, got " .. type(r), 0)
  end
  for _, c in ipairs(runners) do
    if c.id == id then return id end
  end
  error("place: returned runner " .. id .. " is not a candidate", 0)
end

function P.call_can_hibernate(pol, actor, req, runner_says)
  local h = pol.hooks.can_hibernate
  if not h then return runner_says end
  local v = h(actor, req, runner_says)
  if type(v) ~= "boolean" then
    error("can_hibernate: expected a boolean, got " .. type(v) ..
          (v == nil and " (return runner_says to keep the runner's answer)" or ""), 0)
  end
  return v
end

local function bound(b, key)
  if b == nil then return nil end
  local lo, hi = b[1] or b.min, b[2] or b.max
  if type(lo) ~= "number" or type(hi) ~= "number" then
    error("timeouts: bounds for " .. key .. " must be {min, max}", 0)
  end
  return lo, hi
end

-- timeouts(actor) -> the defaults overlaid with the hook's answer, each answer clamped to its
-- bounds ({min, max} per key).
function P.call_timeouts(pol, actor, defaults, bounds, req)
  local out = copy(defaults)
  local h = pol.hooks.timeouts
  if not h then return out end
  local t = h(actor, req)
  if t == nil or t == false then return out end
  if type(t) ~= "table" then error("timeouts: expected a table or nil, got " .. type(t), 0) end
  for k, v in pairs(t) do
    if not TIMEOUT_KEY[k] and defaults[k] == nil then
      error(format("timeouts: unknown key %s (known: %s)", show(k), table.concat(P.TIMEOUT_KEYS, ", ")), 0)
    end
    if type(v) ~= "number" or v ~= floor(v) or v == huge or v == -huge then
      error(format("timeouts: %s must be an integer, got %s", k, show(v)), 0)
    end
    if v < 0 then error(format("timeouts: %s must not be negative, got %s", k, show(v)), 0) end
    local lo, hi = bound(bounds and bounds[k], k)
    if lo then
      if v < lo then v = lo elseif v > hi then v = hi end
    end
    out[k] = v
  end
  return out
end

-- auto_response(actor, msg, binary) -> the answer to send back in a frame of the same kind, or
-- nil to wake the actor. A text answer must be UTF-8 (a client closes on anything else).
function P.call_auto_response(pol, actor, msg, binary, req)
  local h = pol.hooks.auto_response
  if not h then return nil end
  local v = h(actor, msg, binary, req)
  if v == nil or v == false then return nil end
  if type(v) ~= "string" then
    error("auto_response: expected a string or nil, got " .. type(v), 0)
  end
  if not binary and not json.valid_utf8(v) then
    error("auto_response: the answer to a text message must be valid UTF-8", 0)
  end
  return v
end

-- What the gateway answers when authorize fails (an error, a wrong answer, the budget): the
-- request is refused, never let through.
P.AUTHORIZE_FAILED = { status = 500, headers = { ["content-type"] = "application/json" },
                       body = '{"group":"policy","code":"authorize_failed","message":"The policy could not decide on this request; see the gateway log."}' }

-- The refusal authorize answers with when it returns false.
P.FORBIDDEN = { status = 403, headers = { ["content-type"] = "application/json" },
                body = '{"group":"policy","code":"forbidden","message":"The policy refused this request."}' }

-- authorize(req, target) -> true to let the request reach the actor, or false and the answer:
-- the hook returns true, false (403 P.FORBIDDEN) or a direct answer { status, headers, body }
-- with a status in [400, 599]. target: { actor_id, actor, token } (token from /gateway/{id}@token
-- or the x-rivet-token header).
function P.call_authorize(pol, req, target)
  local h = pol.hooks.authorize
  if not h then return true end
  local v = h(req, target)
  if v == true then return true end
  if v == false then return false, P.FORBIDDEN end
  if type(v) ~= "table" then
    error("authorize: expected true, false or a table { status, headers, body }, got " .. type(v), 0)
  end
  local answer = check_respond(v, "authorize")
  if answer.status < 400 then
    error("authorize: a refusal needs a status in [400, 599], got " .. answer.status, 0)
  end
  return false, answer
end

-- cors(req) -> whether the web origin of a request (req.headers.origin) may read the answer:
-- true mirrors it ("allow"), false sends no CORS header ("refuse"), a string is the
-- Access-Control-Allow-Origin to send instead (an origin as cors.origins takes one, or "*"), and
-- nil leaves it to cors.origins ("builtin").
local origin_ok = require("sett.config").LIST_ITEMS.origin.check

function P.call_cors(pol, req)
  local h = pol.hooks.cors
  if not h then return "builtin" end
  local v = h(req)
  if v == nil then return "builtin" end
  if v == true then return "allow" end
  if v == false then return "refuse" end
  if type(v) ~= "string" then
    error("cors: expected true, false, an origin string or nil, got " .. type(v), 0)
  end
  if not origin_ok(v) then
    error('cors: an origin must be "scheme://host[:port]" in lowercase, or "*", got ' .. show(v), 0)
  end
  return "allow", v
end

-- The answer each hook gets when the policy has none, fails, or runs out of time (for tools
-- and the testkit; C has its own copy of these rules).
function P.builtin(hook, ...)
  if hook == "route" or hook == "cors" then return "builtin" end
  if hook == "can_hibernate" then return (select(3, ...)) end
  if hook == "timeouts" then return copy((select(2, ...))) end
  if hook == "place" or hook == "auto_response" then return nil end
  -- An authorize hook that fails refuses: the gateway answers 500 (authorize_failed).
  if hook == "authorize" then return false, P.AUTHORIZE_FAILED end
  error("policy: unknown hook " .. show(hook), 2)
end

return P
