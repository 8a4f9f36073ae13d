-- A per-room socket cap: rooms are actors by key (/rooms/{name}/...), and a room takes at most
-- `max_sockets` hibernatable WebSockets; a WebSocket to a full room is refused before it reaches
-- the actor: upgraded and closed at once with 1011 room.full (the group and code of the
-- refusal's JSON body), as sett closes every refused WebSocket. The count is the larger of this gateway's own sockets of the room
-- (sett.hibernation.local_count, known at once) and the store's rows of the room (all gateways
-- of a cluster), which sett.hibernation.count answers later: each decision asks the store for
-- the next one, and a timer refreshes the rooms seen lately. While a room sleeps, keep-alive
-- pings are answered without waking it, saying how full it is.
--
-- Configuration:
--   policy = { file = "examples/policies/room_cap.lua",
--              options = { max_sockets = 50, refresh_ms = 5000 } }
local sett = require "sett"

local opts = sett.check_options({
  max_sockets = { type = "integer", min = 1, max = 1000000, default = 100 },
  refresh_ms = { type = "integer", min = 100, max = 3600000, default = 5000 },
})

-- The store's count per room, kept across reloads; rooms seen since the last refresh.
local counts = sett.shared("room_cap.counts")
local seen = {}
local refused = sett.counter("room_cap_refused_total", "WebSockets refused because their room was full.")

local function remember(actor_id)
  seen[actor_id] = true
  sett.hibernation.count(actor_id, function(n)
    if n then counts:set(actor_id, n) end
  end)
end

local function sockets(actor_id)
  local here = sett.hibernation.local_count(actor_id)
  local stored = counts:get(actor_id) or 0
  return here > stored and here or stored
end

sett.timer.every(opts.refresh_ms, function()
  local rooms = seen
  seen = {}
  for id in pairs(rooms) do remember(id) end
end)

return {
  name = "room_cap",

  route = function(req)
    local room = req.path:match("^/rooms/([%w-]+)")
    if room then return { name = "room", key = room }, { room = room } end
  end,

  authorize = function(req, target)
    if (req.headers.upgrade or ""):lower() ~= "websocket" then return true end
    local id = target.actor_id
    remember(id)
    if sockets(id) >= opts.max_sockets then
      refused:inc()
      return { status = 429, headers = { ["content-type"] = "application/json", ["retry-after"] = "5" },
               body = sett.json.encode({ group = "room", code = "full",
                                         message = "room " .. (req.ctx and req.ctx.room or id) .. " is full" }) }
    end
    return true
  end,

  auto_response = function(actor, msg, binary, req)
    if msg ~= "ping" then return nil end
    local n = sockets(actor.id)
    return n >= opts.max_sockets and "pong full" or ("pong " .. n .. "/" .. opts.max_sockets)
  end,
}
