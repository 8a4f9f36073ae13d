-- require "sett": what policies and module scripts use from the gateway.
--
--   sett.log(level, msg [, fields])       level: debug, info, warn or error
--   sett.now()                            milliseconds
--   sett.counter(name, help [, labels])   -> object with :inc([n])
--   sett.gauge(name, help [, labels])     -> object with :set(v)
--   sett.histogram(name, help [, labels]) -> object with :observe(v)
--   sett.actors.get(id)                   -> actor table or nil
--   sett.runners.list(namespace [, name]) -> list of runner tables
--   sett.shared(name [, opts])            -> a key-value table that outlives reloads
--   sett.timer.after/every(ms, fn)        timers of the policy (sett.policy gives each its own)
--   sett.json                             JSON: decode, encode (the C module sett.json)
--   sett.proto                            the runner-protocol codec, when it is built
--
-- Inside the gateway these go to the C module sett.core. Without it (busted, the testkit) they
-- work on in-memory stand-ins kept in sett._fake: a log buffer, a clock that only moves when
-- told to, metrics as plain numbers, and the actors and runners a spec registers.
local M = {}

local type, pairs, ipairs, tostring, error, format = type, pairs, ipairs, tostring, error, string.format

local core
do
  local ok, mod = pcall(require, "sett.core")
  if ok then
    core = mod
  elseif not tostring(mod):find("module 'sett.core' not found", 1, true) then
    error(mod, 0)                       -- present but broken: say so rather than fall back
  end
end

-- True when the gateway's C module backs this module (false in busted and the testkit).
M.has_core = core ~= nil

-- sett's C JSON, linked into the gateway and built as build/lua/sett/json.so for busted.
M.json = require "sett.json"

-- Key-value tables that outlive a policy (lua/sett/shared.lua).
M.shared = require("sett.shared").open

---------------------------------------------------------------------------------------------------
-- The stand-ins

local fake
local MAX_LOGS = 10000

-- Forgets every log line, actor and runner, sets every metric back to zero (the objects stay
-- valid: a policy may hold on to them) and puts the clock back to 0.
function M._fake_reset()
  if core then return end
  fake = M._fake or { metrics = {} }
  fake.logs, fake.actors, fake.runners, fake.clock = {}, {}, {}, 0
  for _, m in pairs(fake.metrics) do
    if m.kind == "histogram" then
      m.count, m.sum, m.observations = 0, 0, {}
    else
      m.value = 0
    end
  end
  M._fake = fake
end
M._fake_reset()

---------------------------------------------------------------------------------------------------
-- Logging

local LEVELS = { debug = true, info = true, warn = true, error = true }
M.LEVELS = { "debug", "info", "warn", "error" }

-- Fields are flat: string keys; string, number or boolean values (anything else as text).
local function clean_fields(fields)
  if fields == nil then return nil end
  if type(fields) ~= "table" then
    error("sett.log: fields must be a table or nil, got " .. type(fields), 3)
  end
  local out = {}
  for k, v in pairs(fields) do
    local tv = type(v)
    out[tostring(k)] = (tv == "string" or tv == "number" or tv == "boolean") and v or tostring(v)
  end
  return out
end

function M.log(level, msg, fields)
  if not LEVELS[level] then
    error("sett.log: level must be one of debug, info, warn, error, got " .. tostring(level), 2)
  end
  if type(msg) ~= "string" then msg = tostring(msg) end
  fields = clean_fields(fields)
  if core then return core.log(level, msg, fields) end
  local logs = fake.logs
  if #logs >= MAX_LOGS then table.remove(logs, 1) end
  logs[#logs + 1] = { level = level, msg = msg, fields = fields or {}, at = fake.clock }
end

---------------------------------------------------------------------------------------------------
-- Time

function M.now()
  if core then return core.now_ms() end
  return fake.clock
end

---------------------------------------------------------------------------------------------------
-- Metrics

local KINDS = { counter = "inc", gauge = "set", histogram = "observe" }
local registry = {}   -- "kind name{labels}" -> object; the same call gives the same object
local kind_of = {}    -- name -> kind

local function label_text(labels)
  if labels == nil then return "" end
  local keys = {}
  for k in pairs(labels) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = format('%s="%s"', k, labels[k]) end
  return "{" .. table.concat(parts, ",") .. "}"
end
M._label_text = label_text

local function check_number(what, v)
  if type(v) ~= "number" or v ~= v then error(what .. ": expected a number, got " .. tostring(v), 3) end
end

local Counter, Gauge, Histogram = {}, {}, {}
Counter.__index, Gauge.__index, Histogram.__index = Counter, Gauge, Histogram

function Counter:inc(n)
  if n == nil then n = 1 end
  check_number("counter " .. self.name .. ":inc", n)
  if n < 0 then error("counter " .. self.name .. ":inc: a counter only goes up, got " .. n, 2) end
  self.value = self.value + n
end

function Gauge:set(v)
  check_number("gauge " .. self.name .. ":set", v)
  self.value = v
end

function Histogram:observe(v)
  check_number("histogram " .. self.name .. ":observe", v)
  self.count, self.sum = self.count + 1, self.sum + v
  local obs = self.observations
  if #obs < 10000 then obs[#obs + 1] = v end
end

-- Prefixes of sett's own metrics: a script may not register into them (sett removes some of its
-- series, a runner's say, and a script holding one would keep writing to a dead series).
local RESERVED = { "sett_", "gateway_", "bus_" }

-- What the gateway's metrics answer too: a counter's or gauge's value, a histogram's count and sum.
function Counter:get() return self.value end
Gauge.get = Counter.get
function Histogram:get() return self.count, self.sum end

local function metric(kind, name, help, labels, own)
  if type(name) ~= "string" or not name:find("^[%a_:][%w_:]*$") then
    error(format("sett.%s: name must match [a-zA-Z_:][a-zA-Z0-9_:]*, got %s", kind, tostring(name)), 3)
  end
  for _, prefix in ipairs(own and {} or RESERVED) do
    if name:sub(1, #prefix) == prefix then
      error(format("sett.%s: names starting with %s are sett's own", kind, prefix), 3)
    end
  end
  if help ~= nil and type(help) ~= "string" then
    error(format("sett.%s: help must be a string, got %s", kind, type(help)), 3)
  end
  local lab
  if labels ~= nil then
    if type(labels) ~= "table" then
      error(format("sett.%s: labels must be a table of name = value, got %s", kind, type(labels)), 3)
    end
    lab = {}
    for k, v in pairs(labels) do
      if type(k) ~= "string" or not k:find("^[%a_][%w_]*$") then
        error(format("sett.%s: label name %s is not valid", kind, tostring(k)), 3)
      end
      if type(v) == "number" or type(v) == "boolean" then v = tostring(v) end
      if type(v) ~= "string" then
        error(format("sett.%s: label %s must be a string, got %s", kind, k, type(v)), 3)
      end
      lab[k] = v
    end
  end
  if kind_of[name] and kind_of[name] ~= kind then
    error(format("sett.%s: %s is already a %s", kind, name, kind_of[name]), 3)
  end
  local id = name .. label_text(lab)
  local obj = registry[id]
  if obj then return obj end
  if core then
    obj = core.metric(kind, name, help or "", lab)
  else
    obj = { kind = kind, name = name, help = help or "", labels = lab or {} }
    if kind == "histogram" then
      obj.count, obj.sum, obj.observations = 0, 0, {}
      setmetatable(obj, Histogram)
    else
      obj.value = 0
      setmetatable(obj, kind == "counter" and Counter or Gauge)
    end
    fake.metrics[id] = obj
  end
  kind_of[name] = kind
  registry[id] = obj
  return obj
end

function M.counter(name, help, labels) return metric("counter", name, help, labels) end
function M.gauge(name, help, labels) return metric("gauge", name, help, labels) end
function M.histogram(name, help, labels) return metric("histogram", name, help, labels) end
-- For the testkit, which counts hook failures under sett's own name as the gateway does.
function M._own_counter(name, help, labels) return metric("counter", name, help, labels, true) end

-- A policy callback that is not a hook call (hook "timer": a timer's) failed: logged at error
-- level and counted as the gateway counts a failed hook call, in sett_policy_errors_total and
-- sett_policy_hook_errors_total{hook}.
function M._callback_failed(hook, err)
  err = tostring(err)
  if core then return core.callback_failed(hook, err) end
  M.log("error", "policy callback failed", { hook = hook, error = err })
  M._own_counter("sett_policy_errors_total", "Policy calls that failed."):inc()
  M._own_counter("sett_policy_hook_errors_total",
                 "Policy hook calls that failed; the built-in behaviour answered.", { hook = hook }):inc()
end

---------------------------------------------------------------------------------------------------
-- Actors and runners

M.actors = {}

function M.actors.get(id)
  if type(id) ~= "string" then error("sett.actors.get: id must be a string, got " .. type(id), 2) end
  if core then return core.actor(id) end
  return fake.actors[id]
end

M.runners = {}

-- The runners of a namespace (default "default"), only those called name when it is given.
function M.runners.list(ns, name)
  if ns ~= nil and type(ns) ~= "string" then
    error("sett.runners.list: namespace must be a string or nil, got " .. type(ns), 2)
  end
  if name ~= nil and type(name) ~= "string" then
    error("sett.runners.list: name must be a string or nil, got " .. type(name), 2)
  end
  if core then return core.runners(ns or "default", name) end
  local out = {}
  for _, r in ipairs(fake.runners) do
    if (r.namespace or "default") == (ns or "default") and (name == nil or r.name == name) then
      out[#out + 1] = r
    end
  end
  return out
end

---------------------------------------------------------------------------------------------------
-- sett.proto, loaded when first used (absent when the codec is not built)

local proto_tried, proto_mod = false, nil
setmetatable(M, {
  __index = function(_, k)
    if k == "proto" then
      if not proto_tried then
        proto_tried = true
        local ok, p = pcall(require, "sett.proto")
        proto_mod = ok and p or nil
      end
      return proto_mod
    end
  end,
})

return M
