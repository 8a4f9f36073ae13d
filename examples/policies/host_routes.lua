-- Route by host and path to actors got or created by key.
--
--   chat.example.com/rooms/<room>/...      -> actor "room",     key <room>,         runner pool "chat"
--   <team>.docs.example.com/d/<doc>/...    -> actor "document", key "<team>/<doc>", runner pool "docs"
--   api.example.com/v1/users/<id>/...      -> actor "user",     key <id>,           runner pool "api"
--   any host: /healthz                     -> answered here, no actor
--   one of those hosts, any other path     -> 404, answered here
--   any other host (localhost, an address) -> sett's built-in routes (/gateway/{id}/..., the REST API)
--
--   policy = "examples/policies/host_routes.lua"     -- in the configuration
local sett = require "sett"

-- Each site: a host pattern, and a function of the path and the host's captures that returns a
-- get-or-create target, or nil when the path is not one of the site's.
local SITES = {
  { "^chat%.example%.com$", function(path)
      local room = path:match("^/rooms/([%w_-]+)")
      if room then return { name = "room", key = room, runner = "chat", crash_policy = "sleep" } end
    end },
  { "^([%w-]+)%.docs%.example%.com$", function(path, team)
      local doc = path:match("^/d/([%w_-]+)")
      -- A new document learns its team and id from its input (the runner receives it as is).
      if doc then
        return { name = "document", key = team .. "/" .. doc, runner = "docs",
                 input = string.format('{"team":"%s","doc":"%s"}', team, doc) }
      end
    end },
  { "^api%.example%.com$", function(path)
      local id = path:match("^/v1/users/(%d+)")
      if id then return { name = "user", key = id, runner = "api" } end
    end },
}

local NOT_FOUND = { status = 404, headers = { ["content-type"] = "text/plain" }, body = "no such page\n" }
local HEALTHY = { status = 200, headers = { ["content-type"] = "text/plain" }, body = "ok\n" }

local not_found = sett.counter("policy_host_routes_not_found_total",
                               "Requests to a routed host that matched none of its paths.")

-- "Chat.Example.com:8443" -> "chat.example.com"
local function hostname(h)
  return ((h or ""):lower():gsub(":%d+$", ""))
end

local function route(req)
  if req.path == "/healthz" then return HEALTHY end
  local host = hostname(req.host)
  for _, site in ipairs(SITES) do
    local caps = { host:match(site[1]) }
    if caps[1] then
      local target = site[2](req.path, unpack(caps))
      if target then return target end
      not_found:inc()
      return NOT_FOUND
    end
  end
  return nil
end

return {
  name = "host_routes",
  route = route,

  -- Runs at every load and reload: a policy that fails it never replaces the running one.
  self_test = function()
    local t = route({ path = "/rooms/blue/x", host = "chat.example.com:443" })
    assert(t and t.name == "room" and t.key == "blue", "chat rooms are keyed by name")
    t = route({ path = "/d/plan", host = "acme.docs.example.com" })
    assert(t and t.key == "acme/plan", "documents are keyed by team and id")
    assert(route({ path = "/rooms/blue", host = "localhost" }) == nil, "other hosts are left alone")
  end,
}
