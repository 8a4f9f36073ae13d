-- sett.shared(name [, opts]): small key-value tables that outlive a policy. A reloaded policy
-- (or another script in the same gateway) that asks for the same name gets the same table back,
-- with what the old policy left in it, as OpenResty's lua_shared_dict does for its workers.
-- Keys are strings, values strings or numbers; each table is capped in bytes (keys and string
-- values count their length, a number 8 bytes), so a policy that stores per request cannot grow
-- the process without bound.
--
--   S.open(name [, opts])   -> d      opts.max_bytes: the cap (default 1 MiB, at most 64 MiB)
--   d:get(key)              -> value or nil
--   d:set(key, value)                 value nil deletes; raises when the table would be full
--   d:add(key, value)       -> bool   sets only a key that is absent
--   d:incr(key, n [, init]) -> value  adds n to a number (init, else 0, when absent)
--   d:delete(key)
--   d:keys()                -> list   the keys, sorted
--   d:count(), d:bytes(), d:max_bytes()
--   d:flush()                         deletes every key
--   S._reset()                        forgets every table (the testkit's kit.reset)
local S = {}

local type, error, format, tostring, pairs = type, error, string.format, tostring, pairs

S.DEFAULT_MAX_BYTES = 1024 * 1024
S.MAX_BYTES = 64 * 1024 * 1024
-- The most tables a gateway holds, and the longest key: names and keys are meant to be few and
-- short (a table per purpose, a key per tenant or route).
S.MAX_TABLES = 64
S.MAX_KEY = 1024

local tables, ntables = {}, 0
-- A table's state, out of the policy's reach: d -> { name, data, count, bytes, max }.
local state = setmetatable({}, { __mode = "k" })

local Dict = { __metatable = "sett.shared" }
Dict.__index = Dict

local function st(d, what)
  local s = state[d]
  if not s then error(format("sett.shared: %s: call it as d:%s(...)", what, what), 3) end
  return s
end

local function size(v)
  if type(v) == "string" then return #v end
  return 8
end

local function check_key(s, what, k)
  if type(k) ~= "string" then
    error(format("sett.shared %s: %s: key must be a string, got %s", s.name, what, type(k)), 3)
  end
  if #k > S.MAX_KEY then
    error(format("sett.shared %s: %s: key longer than %d bytes", s.name, what, S.MAX_KEY), 3)
  end
end

local function check_value(s, what, v)
  local t = type(v)
  if t == "number" then
    if v ~= v then error(format("sett.shared %s: %s: value must not be NaN", s.name, what), 3) end
  elseif t ~= "string" then
    error(format("sett.shared %s: %s: value must be a string or a number, got %s", s.name, what, t), 3)
  end
end

-- Stores v (not nil) under k, or raises when the table would be over its cap.
local function put(s, what, k, v)
  local old = s.data[k]
  local grow = size(v) - (old ~= nil and size(old) or -#k)
  if s.bytes + grow > s.max then
    error(format("sett.shared %s: %s: full (%d of %d bytes used)", s.name, what, s.bytes, s.max), 3)
  end
  if old == nil then s.count = s.count + 1 end
  s.data[k] = v
  s.bytes = s.bytes + grow
end

local function remove(s, k)
  local old = s.data[k]
  if old == nil then return end
  s.data[k] = nil
  s.count = s.count - 1
  s.bytes = s.bytes - #k - size(old)
end

function Dict.get(d, k)
  local s = st(d, "get")
  check_key(s, "get", k)
  return s.data[k]
end

function Dict.set(d, k, v)
  local s = st(d, "set")
  check_key(s, "set", k)
  if v == nil then return remove(s, k) end
  check_value(s, "set", v)
  put(s, "set", k, v)
end

function Dict.add(d, k, v)
  local s = st(d, "add")
  check_key(s, "add", k)
  check_value(s, "add", v)
  if s.data[k] ~= nil then return false end
  put(s, "add", k, v)
  return true
end

function Dict.incr(d, k, n, init)
  local s = st(d, "incr")
  check_key(s, "incr", k)
  if type(n) ~= "number" or n ~= n then
    error(format("sett.shared %s: incr: n must be a number, got %s", s.name, tostring(n)), 2)
  end
  local v = s.data[k]
  if v == nil then v = init or 0 end
  if type(v) ~= "number" then
    error(format("sett.shared %s: incr: %s holds a %s, not a number", s.name, k, type(v)), 2)
  end
  v = v + n
  put(s, "incr", k, v)
  return v
end

function Dict.delete(d, k)
  local s = st(d, "delete")
  check_key(s, "delete", k)
  remove(s, k)
end

function Dict.keys(d)
  local s = st(d, "keys")
  local out = {}
  for k in pairs(s.data) do out[#out + 1] = k end
  table.sort(out)
  return out
end

function Dict.count(d) return st(d, "count").count end
function Dict.bytes(d) return st(d, "bytes").bytes end
function Dict.max_bytes(d) return st(d, "max_bytes").max end

function Dict.flush(d)
  local s = st(d, "flush")
  s.data, s.count, s.bytes = {}, 0, 0
end

function S.open(name, opts)
  if type(name) ~= "string" or not name:find("^[%w_.:-]+$") or #name > 64 then
    error("sett.shared: name must be 1 to 64 letters, digits or _ . : -, got " .. tostring(name), 2)
  end
  local max
  if opts ~= nil then
    if type(opts) ~= "table" then error("sett.shared: opts must be a table, got " .. type(opts), 2) end
    max = opts.max_bytes
    if max ~= nil and (type(max) ~= "number" or max ~= math.floor(max) or max < 1 or max > S.MAX_BYTES) then
      error(format("sett.shared: opts.max_bytes must be an integer from 1 to %d", S.MAX_BYTES), 2)
    end
  end
  local d = tables[name]
  if d then
    -- A policy that asks for another cap gets it for what it stores from now on.
    if max then state[d].max = max end
    return d
  end
  if ntables >= S.MAX_TABLES then
    error(format("sett.shared: at most %d tables (asked for %s)", S.MAX_TABLES, name), 2)
  end
  d = setmetatable({}, Dict)
  state[d] = { name = name, data = {}, count = 0, bytes = 0, max = max or S.DEFAULT_MAX_BYTES }
  tables[name], ntables = d, ntables + 1
  return d
end

function S._reset()
  tables, ntables = {}, 0
end

return S
