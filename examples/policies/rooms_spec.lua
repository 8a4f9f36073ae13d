-- busted examples/policies/rooms_spec.lua   (from the repository root)
local kit = require "sett.testkit"
local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"

describe("examples/policies/rooms.lua", function()
  local pol

  before_each(function()
    kit.reset()
    pol = kit.load(here .. "rooms.lua")
  end)

  it("answers /healthz itself", function()
    local kind, answer = kit.route(pol, "/healthz")
    assert.are.equal("respond", kind)
    assert.are.same({ status = 200, headers = { ["content-type"] = "text/plain" }, body = "ok" }, answer)
  end)

  it("gets or creates one actor per room", function()
    local kind, target = kit.route(pol, "/rooms/blue/messages")
    assert.are.equal("create", kind)
    assert.are.same({ name = "room", key = "blue", runner = "chat", crash_policy = "sleep" }, target)
    assert.are.equal("builtin", kit.route(pol, "/gateway/abc/x"))
  end)

  it("answers pings for sleeping rooms", function()
    local room = kit.actor({ name = "room", key = "blue", state = "sleeping" })
    assert.are.equal("pong", kit.auto_response(pol, room, "ping"))
    assert.is_nil(kit.auto_response(pol, room, "hello"))
  end)
end)
