-- Route chat rooms to actors: /rooms/<name>/... gets or creates the actor "room" keyed by the
-- room name on the runner pool "chat"; /healthz is answered here without an actor; anything
-- else uses sett's built-in routes (/gateway/{id}/..., the REST API).
--
--   policy = "examples/policies/rooms.lua"     -- in the configuration
local policy
policy = {
  name = "rooms",

  route = function(req)
    if req.path == "/healthz" then
      return { status = 200, headers = { ["content-type"] = "text/plain" }, body = "ok" }
    end
    local room = req.path:match("^/rooms/([%w_-]+)")
    if room then
      return { name = "room", key = room, runner = "chat", crash_policy = "sleep" }
    end
  end,

  -- Keep-alive pings from idle clients are answered without waking a sleeping room.
  auto_response = function(actor, msg)
    if msg == "ping" then return "pong" end
  end,

  -- Runs at every load and reload: a policy that fails it never replaces the running one.
  self_test = function()
    local target = policy.route({ path = "/rooms/x/y" })
    assert(target and target.key == "x", "rooms are keyed by name")
    assert(policy.route({ path = "/other" }) == nil, "other paths use the built-in routes")
  end,
}
return policy
