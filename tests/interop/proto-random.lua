-- Random runner-protocol messages built in Lua and encoded by sett's Lua binding, for
-- proto-crosscheck.mjs. Prints one line per message: "TypeName<TAB>hex<TAB>json", where json is
-- the value's JSON form (docs/protocol.md) written here from the Lua value, independently of
-- sett's own JSON writer. Maps appear in byte order of their keys, the order the encoder uses.
--
--   SETT_ROOT=. LUA_CPATH='build/lua/?.so;;' luajit tests/interop/proto-random.lua COUNT SEED
local root = os.getenv("SETT_ROOT") or "."
local barec = dofile(root .. "/tools/barec.lua")
local proto = require "sett.proto"

local count, seed = tonumber(arg[1]) or 1000, tonumber(arg[2]) or 1
math.randomseed(seed)

local f = assert(io.open(root .. "/schemas/runner-protocol/v7.bare", "rb"))
local schema = barec.parse(f:read("*a"), "v7.bare")
f:close()

local function pick(xs) return xs[math.random(#xs)] end

local function json_str(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    local named = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n",
      ["\r"] = "\\r", ["\t"] = "\\t" }
    if named[c] then return named[c] end
    if c:byte() == 127 then return c end
    return ("\\u%04x"):format(c:byte())
  end) .. '"'
end

local function hex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

local CHARS = { "a", "b", "z", "Q", "0", "7", " ", "-", "/", '"', "\\", "\n", "\t", "\0", "\1", "\31",
  "\127", "é", "ß", "€", "中", "\226\128\168", "\239\191\191", "😀", "𝄞", "\244\143\191\191", "\239\187\191" }

local function random_string()
  local n = math.random() < 0.05 and math.random(100, 300) or math.random(0, 11)
  local out = {}
  for i = 1, n do out[i] = pick(CHARS) end
  local s = table.concat(out)
  -- The npm decoder drops a leading U+FEFF from strings of 256 bytes or more.
  if s:sub(1, 3) == "\239\187\191" then s = "x" .. s end
  return s
end

local function random_bytes(n)
  local out = {}
  for i = 1, n do out[i] = string.char(math.random(0, 255)) end
  return table.concat(out)
end

local function random_data_len()
  local r = math.random()
  if r < 0.2 then return 0 end
  if r < 0.9 then return math.random(1, 40) end
  if r < 0.995 then return math.random(100, 600) end
  return math.random(16000, 70000)
end

local U64_MAX, I64_MAX = "18446744073709551615", "9223372036854775807"
local function le(a, b) return #a < #b or (#a == #b and a <= b) end

-- A 64-bit integer as (Lua value, JSON text): a number up to 2^53, else a decimal string; small
-- values are sometimes given as strings too, which the encoder also takes.
local function random_wide(signed)
  local digits
  if math.random() < 0.4 then
    digits = pick(signed and { "0", "1", "9007199254740991", "9007199254740992", "9007199254740993",
      I64_MAX, "9223372036854775808", "1700000000000" }
      or { "0", "1", "255", "4294967296", "9007199254740992", "9007199254740993", I64_MAX, U64_MAX })
  else
    local out = { tostring(math.random(1, 9)) }
    for i = 2, math.random(1, 20) do out[i] = tostring(math.random(0, 9)) end
    digits = table.concat(out)
  end
  local neg = signed and digits ~= "0" and math.random() < 0.5
  if not le(digits, signed and (neg and "9223372036854775808" or I64_MAX) or U64_MAX) then digits = "42" end
  local text = (neg and "-" or "") .. digits
  if le(digits, "9007199254740992") then
    if math.random() < 0.3 then return text, text end
    return tonumber(text), text
  end
  return text, '"' .. text .. '"'
end

local function random_count(max)
  local r = math.random()
  if r < 0.3 then return 0 end
  if r < 0.97 then return math.random(1, max) end
  return math.random(17, 150)
end

local gen

local function gen_named(name, member)
  return gen(schema.byname[name].type, member)
end

gen = function(t, member)
  if t.kind == "ref" then return gen_named(t.name, member) end
  if t.kind == "prim" then
    local p = t.prim
    if p == "u8" then local v = pick({ 0, 1, 255, math.random(0, 255) }) return v, tostring(v) end
    if p == "u16" then local v = pick({ 0, 1, 256, 65535, math.random(0, 65535) }) return v, tostring(v) end
    if p == "u32" then local v = pick({ 0, 128, 4294967295, math.random(0, 2147483647) * 2 }) return v, ("%d"):format(v) end
    if p == "u64" then return random_wide(false) end
    if p == "i64" then return random_wide(true) end
    if p == "bool" then local v = math.random() < 0.5 return v, tostring(v) end
    if p == "str" then local v = random_string() return v, json_str(v) end
    if p == "data" then local v = random_bytes(random_data_len()) return v, '"' .. hex(v) .. '"' end
  end
  if t.kind == "fixed" then local v = random_bytes(t.len) return v, '"' .. hex(v) .. '"' end
  if t.kind == "enum" then
    local name = pick(t.values).name
    local ts = name:sub(1, 1) .. name:sub(2):lower()
    return ts, json_str(ts)
  end
  if t.kind == "list" then
    local v, js = {}, {}
    for i = 1, random_count(3) do v[i], js[i] = gen(t.of) end
    return v, "[" .. table.concat(js, ",") .. "]"
  end
  if t.kind == "map" then
    local v, keys = {}, {}
    for _ = 1, random_count(4) do
      local k = random_string() .. (math.random() < 0.5 and "" or tostring(#keys))
      if v[k] == nil then
        keys[#keys + 1] = k
        v[k] = true
      end
    end
    table.sort(keys)
    local js = {}
    for i, k in ipairs(keys) do
      local x, xj = gen(t.val)
      v[k] = x
      js[i] = json_str(k) .. ":" .. xj
    end
    return v, "{" .. table.concat(js, ",") .. "}"
  end
  if t.kind == "struct" then
    local v, js = {}, {}
    for i, fd in ipairs(t.fields) do
      local x, xj
      if fd.type.kind == "optional" then
        if math.random() < 0.4 then xj = "null" else x, xj = gen(fd.type.of) end
      else
        x, xj = gen(fd.type)
      end
      v[fd.name] = x
      js[i] = json_str(fd.name) .. ":" .. xj
    end
    return v, "{" .. table.concat(js, ",") .. "}"
  end
  if t.kind == "union" then
    local m = member or pick(t.members)
    if schema.byname[m.name].type.kind == "void" then
      return { tag = m.name }, '{"tag":' .. json_str(m.name) .. ',"val":null}'
    end
    local x, xj = gen_named(m.name)
    return { tag = m.name, val = x }, '{"tag":' .. json_str(m.name) .. ',"val":' .. xj .. "}"
  end
  error("cannot generate " .. t.kind)
end

local out = {}
for _, top in ipairs({ { "ToServer", "to_server" }, { "ToClient", "to_client" },
  { "ToRunner", "to_runner" }, { "ToGateway", "to_gateway" } }) do
  local members = schema.byname[top[1]].type.members
  for i = 1, count do
    local v, js = gen_named(top[1], members[(i - 1) % #members + 1])
    out[#out + 1] = top[1] .. "\t" .. hex(proto.encode(top[2], v)) .. "\t" .. js
  end
end
io.write(table.concat(out, "\n"), "\n")
