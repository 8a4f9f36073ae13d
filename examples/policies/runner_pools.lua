-- Pin actors of a name to a pool of runners chosen by the runners' metadata.
--
-- A runner says what it is in its metadata (JSON, e.g. {"pool":"gpu","region":"eu"}); sett hands
-- it to place() parsed. Here:
--   * "render" actors run only on runners with pool = "gpu";
--   * "billing" actors run only on runners with region = "eu";
--   * every other actor keeps off the gpu pool while another runner has room.
-- Among the runners that fit, the one with the most free slots wins, then the lowest RTT, then
-- the smallest id (so the choice is stable). When no candidate fits, the policy logs a warning,
-- counts it, and lets sett's built-in choice place the actor: place() can only choose among the
-- candidates it is given.
--
--   policy = "examples/policies/runner_pools.lua"     -- in the configuration
local sett = require "sett"

local PINS = {
  render = { pool = "gpu" },
  billing = { region = "eu" },
}

local unpinned = sett.counter("policy_pool_unmatched_total",
                              "Placements of a pinned actor that found no runner of its pool.")

local function meta(r)
  return type(r.metadata) == "table" and r.metadata or {}
end

local function matches(r, want)
  local m = meta(r)
  for k, v in pairs(want) do
    if m[k] ~= v then return false end
  end
  return true
end

local function better(a, b)
  if a.free_slots ~= b.free_slots then return a.free_slots > b.free_slots end
  if a.rtt_ms ~= b.rtt_ms then return a.rtt_ms < b.rtt_ms end
  return a.id < b.id
end

local function best(runners, keep)
  local pick
  for _, r in ipairs(runners) do
    if r.free_slots > 0 and keep(r) and (not pick or better(r, pick)) then pick = r end
  end
  return pick
end

local function place(actor, runners)
  local want = PINS[actor.name]
  if want then
    local r = best(runners, function(c) return matches(c, want) end)
    if not r then
      unpinned:inc()
      sett.log("warn", "no runner of the actor's pool; using the built-in choice",
               { actor = actor.id, name = actor.name })
      return nil
    end
    return r.id
  end
  local r = best(runners, function(c) return meta(c).pool ~= "gpu" end) or best(runners, function() return true end)
  return r and r.id
end

return {
  name = "runner_pools",
  place = place,
}
