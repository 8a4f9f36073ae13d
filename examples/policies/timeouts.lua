-- Per-actor timeouts, hibernation and a keep-alive answer that does not wake sleeping actors.
--
--   * "game" actors: fast pings so a dead client is noticed within seconds, and their sockets
--     never hibernate (a game is always doing something);
--   * "dashboard" actors: slow reports (a long wait for the response to start), and their
--     sockets may always hibernate, whatever the runner says;
--   * "upload" actors: room for more unacknowledged bytes and a longer ack timeout;
--   * everyone else: the configured values.
-- sett clamps every answer to the configured timeout_bounds, by default a tenth .. ten times the
-- configured value.
--
-- auto_response: a client that sends the text "ping" to a hibernating socket gets "pong" back,
-- and {"type":"ping"} gets {"type":"pong","t":<ms>}, without the actor waking up. Binary
-- messages and anything else wake the actor as usual.
--
--   policy = "examples/policies/timeouts.lua"     -- in the configuration
local sett = require "sett"

local TIMEOUTS = {
  game = { ping_interval_ms = 1000, ping_timeout_ms = 5000, websocket_open_timeout_ms = 5000 },
  dashboard = { response_start_timeout_ms = 900000, hibernation_threshold_ms = 600000 },
  upload = { max_pending_bytes = 512 * 1024 * 1024, ack_timeout_ms = 120000 },
}

local HIBERNATE = { game = false, dashboard = true }

local function auto_response(actor, msg, binary)
  if binary then return nil end
  if msg == "ping" then return "pong" end
  if msg:find('^%s*{%s*"type"%s*:%s*"ping"%s*}%s*$') then
    return string.format('{"type":"pong","t":%d}', sett.now())
  end
  return nil
end

return {
  name = "timeouts",

  timeouts = function(actor)
    return TIMEOUTS[actor.name]
  end,

  can_hibernate = function(actor, req, runner_says)
    local v = HIBERNATE[actor.name]
    if v == nil then return runner_says end
    return v
  end,

  auto_response = auto_response,

  -- Checks the answers through sett.policy itself, so a typo in a key fails the load.
  self_test = function(pol)
    local P = require "sett.policy"
    local defaults, bounds = {}, {}
    for _, k in ipairs(P.TIMEOUT_KEYS) do defaults[k], bounds[k] = 1000, { 1, 1e9 } end
    for name in pairs(TIMEOUTS) do P.call_timeouts(pol, { name = name }, defaults, bounds) end
    assert(P.call_auto_response(pol, { name = "x" }, "ping", false) == "pong")
    assert(P.call_auto_response(pol, { name = "x" }, "ping", true) == nil)
  end,
}
