-- sett.hibernation: what the store holds of hibernatable WebSockets, for policies. sett.policy
-- gives every policy it loads a group of its own (the policy sees it as sett.hibernation), so
-- that answers arriving after a reload replaced the policy are dropped rather than run in code
-- that is gone.
--
--   H.group(run, on_error) -> g    run(fn, ...) -> ok, err calls a callback (under a budget);
--                                  on_error(err) reports one that failed
--   g.list(actor_id, fn)           fn(rows) later, rows the actor's sockets in the store, each
--                                  { request_id =, gateway_id =, last_ping_ms = }; fn(nil, err)
--                                  when the store cannot answer
--   g.count(actor_id, fn)          fn(n) later, the number of those rows; fn(nil, err)
--   g.local_count(actor_id) -> n   this gateway's sockets of the actor that may hibernate, now
--   g.retire()                     drops every answer still to come and refuses new asks
--
-- Inside the gateway the store is sett's configured store (memory or Redis), asked through the
-- C module sett.core without blocking the loop. Elsewhere (busted, the testkit, `sett check`) it
-- is a stand-in: rows a spec sets (H.fake_rows), answers delivered when H.flush runs (the testkit
-- runs it from kit.advance and kit.flush), never during the ask.
local sett = require "sett"

local H = {}

local type, error, format, tostring, ipairs = type, error, string.format, tostring, ipairs

-- The most asks one group (one policy) may have waiting for the store: an ask per message by
-- mistake fails loudly instead of growing without bound.
H.MAX_PENDING = 1000

local core = sett.has_core and require "sett.core" or nil

-- The stand-in store: actor id -> list of rows; actor id -> this gateway's count; whether the
-- store is "down"; the answers waiting for H.flush.
local fake = { rows = {}, here = {}, down = false, queue = {} }

function H.reset()
  fake.rows, fake.here, fake.down, fake.queue = {}, {}, false, {}
end

-- Sets the stand-in store's rows of an actor: a list of { request_id, gateway_id, last_ping_ms }
-- (missing fields filled in) or a number of rows to make up.
function H.fake_rows(actor_id, rows)
  if type(actor_id) ~= "string" then error("hibernation rows: actor_id must be a string", 3) end
  local out = {}
  if type(rows) == "number" then
    for i = 1, rows do out[i] = { request_id = format("%08x", i), gateway_id = "00000000", last_ping_ms = sett.now() } end
  elseif type(rows) == "table" then
    for i, r in ipairs(rows) do
      out[i] = { request_id = r.request_id or format("%08x", i), gateway_id = r.gateway_id or "00000000",
                 last_ping_ms = r.last_ping_ms or sett.now() }
    end
  elseif rows ~= nil then
    error("hibernation rows: expected a list of rows or a number, got " .. type(rows), 3)
  end
  fake.rows[actor_id] = out
end

function H.fake_local(actor_id, n) fake.here[actor_id] = n end
function H.fake_down(down) fake.down = down and true or false end

-- Delivers the stand-in answers asked so far, in order; returns how many.
function H.flush()
  local n = 0
  while #fake.queue > 0 do
    local q = fake.queue
    fake.queue = {}
    for _, f in ipairs(q) do f(); n = n + 1 end
  end
  return n
end

local function check(what, actor_id, fn)
  if type(actor_id) ~= "string" or actor_id == "" then
    error(format("sett.hibernation.%s: actor_id must be a non-empty string, got %s", what, type(actor_id)), 3)
  end
  if type(fn) ~= "function" then
    error(format("sett.hibernation.%s: expected a callback function, got %s", what, type(fn)), 3)
  end
end

local function copy_rows(rows)
  local out = {}
  for i, r in ipairs(rows or {}) do
    out[i] = { request_id = r.request_id, gateway_id = r.gateway_id, last_ping_ms = r.last_ping_ms }
  end
  return out
end

function H.group(run, on_error)
  local g = { alive = true, pending = 0 }

  local function deliver(fn, a, b)
    g.pending = g.pending - 1
    if not g.alive then return end
    local ok, err = run(fn, a, b)
    if not ok then on_error(err) end
  end

  local function ask(what, actor_id, fn, counting)
    check(what, actor_id, fn)
    if not g.alive then error("sett.hibernation." .. what .. ": the policy was replaced", 3) end
    if g.pending >= H.MAX_PENDING then
      error(format("sett.hibernation.%s: %d asks are already waiting for the store", what, H.MAX_PENDING), 3)
    end
    g.pending = g.pending + 1
    local function answer(rows, err)
      if rows == nil then return deliver(fn, nil, err or "the store did not answer") end
      if counting then return deliver(fn, #rows) end
      deliver(fn, rows)
    end
    if core then
      core.hib_list(actor_id, function(err, rows) answer(rows, err) end)
    else
      fake.queue[#fake.queue + 1] = function()
        if fake.down then return answer(nil, "store unavailable") end
        answer(copy_rows(fake.rows[actor_id]))
      end
    end
  end

  function g.list(actor_id, fn) ask("list", actor_id, fn, false) end
  function g.count(actor_id, fn) ask("count", actor_id, fn, true) end
  function g.local_count(actor_id)
    if type(actor_id) ~= "string" then
      error("sett.hibernation.local_count: actor_id must be a string, got " .. type(actor_id), 2)
    end
    if core then return core.hib_local(actor_id) end
    return fake.here[actor_id] or 0
  end
  function g.retire() g.alive = false end
  return g
end

return H
