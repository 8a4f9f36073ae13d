-- Timers in groups, for sett.timer. sett.policy gives every policy it loads a group of its own
-- (the policy sees it as sett.timer), so that a reload or the removal of the policy stops every
-- timer the old one started. Inside the gateway a timer is a luv timer on sett's loop; elsewhere
-- (busted, the testkit, `sett check`) it is a stand-in that fires only when the stand-in clock is
-- moved on (T.advance, which kit.advance calls).
--
--   T.group(run, on_error) -> g   run(fn, handle) -> ok, err calls a callback (under a budget);
--                                 on_error(err) reports one that failed
--   g.after(ms, fn)  -> handle    fn(handle) once, ms from now
--   g.every(ms, fn)  -> handle    fn(handle) every ms, the first time ms from now
--   handle:stop()    -> boolean   whether the timer was still pending
--   handle:pending() -> boolean
--   g.count()        -> n         the group's pending timers
--   g.stop_all()                  stops every timer of the group and refuses new ones
--   T.advance(to, set_clock)      stand-ins: runs the timers due up to stand-in time `to` in
--                                 order, each with the clock set (set_clock) to its time
--   T.reset()                     stand-ins: stops every pending timer
local sett = require "sett"

local T = {}

local type, error, format, tostring, huge, ceil = type, error, string.format, tostring, math.huge, math.ceil

-- The most timers one group (one policy) may have pending: a timer started per request by
-- mistake fails loudly instead of growing without bound.
T.MAX_PENDING = 1000

local uv = sett.has_core and require "luv" or nil
-- Inside the gateway the count of pending timers is the gauge sett_policy_timers.
local core = sett.has_core and require "sett.core" or nil
local pending = 0

local function count(d)
  pending = pending + d
  if core then core.timers_pending(pending) end
end

-- A handle's state, out of the policy's reach: handle -> { group, fn, interval, uv | due, seq }.
local state = setmetatable({}, { __mode = "k" })

-- The pending stand-in timers, in the order they were started.
local fake, fake_seq = {}, 0

local Handle = { __metatable = "sett.timer" }
Handle.__index = Handle

local function finish(h)
  local s = state[h]
  if not s or s.done then return false end
  s.done = true
  local g = s.group
  g.timers[h] = nil
  g.n = g.n - 1
  count(-1)
  if s.uv then
    s.uv:stop()
    s.uv:close()
    s.uv = nil
  end
  return true
end

function Handle.stop(h)
  if getmetatable(h) ~= "sett.timer" then error("sett.timer: call it as handle:stop()", 2) end
  return finish(h)
end

function Handle.pending(h)
  local s = state[h]
  return s ~= nil and not s.done
end

local function fire(h)
  local s = state[h]
  if s.done then return end
  if s.interval == 0 then finish(h) end
  local g = s.group
  local ok, err = g.run(s.fn, h)
  if not ok then g.on_error(err) end
end

local function check_ms(what, ms, min)
  if type(ms) ~= "number" or ms ~= ms or ms == huge or ms < min then
    error(format("sett.timer.%s: ms must be a number >= %d, got %s", what, min, tostring(ms)), 3)
  end
  return ceil(ms)
end

local function start(g, what, ms, fn, interval)
  if g.closed then
    error("sett.timer." .. what .. ": this policy was reloaded or removed; its timers are stopped", 3)
  end
  if type(fn) ~= "function" then
    error("sett.timer." .. what .. ": fn must be a function, got " .. type(fn), 3)
  end
  if g.n >= T.MAX_PENDING then
    error(format("sett.timer.%s: a policy may have at most %d pending timers", what, T.MAX_PENDING), 3)
  end
  local h = setmetatable({}, Handle)
  local s = { group = g, fn = fn, interval = interval }
  state[h] = s
  g.timers[h] = true
  g.n = g.n + 1
  count(1)
  if uv then
    s.uv = uv.new_timer()
    s.uv:start(ms, interval, function() fire(h) end)
  else
    fake_seq = fake_seq + 1
    s.due, s.seq = sett.now() + ms, fake_seq
    fake[#fake + 1] = h
  end
  return h
end

function T.group(run, on_error)
  local g = { timers = {}, n = 0, closed = false, run = run, on_error = on_error }
  function g.after(ms, fn) return start(g, "after", check_ms("after", ms, 0), fn, 0) end
  function g.every(ms, fn)
    ms = check_ms("every", ms, 1)
    return start(g, "every", ms, fn, ms)
  end
  function g.count() return g.n end
  function g.stop_all()
    g.closed = true
    local all = {}
    for h in pairs(g.timers) do all[#all + 1] = h end
    for _, h in ipairs(all) do finish(h) end
  end
  return g
end

-- Takes the pending stand-in timer due first at or before `to` (the one started first among
-- equals) out of the list, or returns nil.
local function next_due(to)
  local best, bs, bi
  for i, h in ipairs(fake) do
    local s = state[h]
    if s.due <= to and (not bs or s.due < bs.due or (s.due == bs.due and s.seq < bs.seq)) then
      best, bs, bi = h, s, i
    end
  end
  if best then table.remove(fake, bi) end
  return best, bs
end

-- A callback that keeps starting timers due at once would never let an advance end.
local MAX_FIRES = 100000

function T.advance(to, set_clock)
  local live = {}
  for _, h in ipairs(fake) do
    if not state[h].done then live[#live + 1] = h end
  end
  fake = live
  for _ = 1, MAX_FIRES do
    local h, s = next_due(to)
    while h and s.done do h, s = next_due(to) end
    if not h then
      set_clock(to)
      return
    end
    set_clock(s.due)
    if s.interval > 0 then
      s.due = s.due + s.interval
      fake_seq = fake_seq + 1
      s.seq = fake_seq
      fake[#fake + 1] = h
    end
    fire(h)
  end
  error(format("sett.timer: more than %d timers fired in one advance (one restarting itself at 0 ms?)", MAX_FIRES), 2)
end

function T.reset()
  local all = fake
  fake = {}
  for _, h in ipairs(all) do finish(h) end
end

return T
