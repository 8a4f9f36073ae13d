-- Tokens per actor name: a request reaches an actor only with the token of its name, given as
-- /gateway/{id}@{token}/... or in the x-rivet-token header (RivetKit clients send either).
-- Refusals are counted per actor name in a sett.shared table, which survives reloads, and a
-- timer logs the counts once a minute.
--
--   policy = "examples/policies/tokens.lua"     -- in the configuration
local sett = require "sett"

-- The tokens, by actor name. A real deployment would keep them out of the file (sett.read_file
-- and per-policy options are not there yet); a name without a token is refused.
local TOKENS = {
  room = "room-token-change-me",
  doc = "doc-token-change-me",
}

local refused = sett.shared("tokens_refused")
local refusals = sett.counter("policy_token_refusals_total", "Requests refused for a bad or missing token.")

sett.timer.every(60000, function()
  for _, name in ipairs(refused:keys()) do
    sett.log("info", "token refusals", { actor = name, total = refused:get(name) })
  end
end)

return {
  name = "tokens",

  authorize = function(req, target)
    local want = TOKENS[target.actor.name]
    if want and target.token == want then return true end
    refused:incr(target.actor.name, 1)
    refusals:inc()
    return {
      status = 403,
      headers = { ["content-type"] = "application/json" },
      body = '{"group":"policy","code":"bad_token","message":"A valid token for this actor is required."}',
    }
  end,

  -- Runs at every load: a policy whose room token no longer works never replaces the old one.
  self_test = function(pol)
    local P = require "sett.policy"
    assert(P.call_authorize(pol, {}, { actor = { name = "room" }, token = TOKENS.room }) == true)
  end,
}
