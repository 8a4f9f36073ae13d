-- busted examples/policies/timeouts_spec.lua   (from the repository root)
local kit = require "sett.testkit"
local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"

describe("examples/policies/timeouts.lua", function()
  local pol

  before_each(function()
    kit.reset()
    pol = kit.load(here .. "timeouts.lua")
  end)

  it("gives game actors fast pings and keeps the rest as configured", function()
    local t = kit.timeouts(pol, kit.actor("game"))
    assert.are.equal(1000, t.ping_interval_ms)
    assert.are.equal(5000, t.ping_timeout_ms)
    assert.are.equal(5000, t.websocket_open_timeout_ms)
    assert.are.equal(kit.DEFAULT_TIMEOUTS.ack_timeout_ms, t.ack_timeout_ms)
  end)

  it("lets dashboards wait long, within ten times the configured value", function()
    local t = kit.timeouts(pol, kit.actor("dashboard"), { response_start_timeout_ms = 60000 })
    assert.are.equal(600000, t.response_start_timeout_ms)      -- asked 900000, clamped
    assert.are.equal(600000, t.hibernation_threshold_ms)
  end)

  it("gives uploads more pending bytes and a longer ack timeout", function()
    local t = kit.timeouts(pol, kit.actor("upload"))
    assert.are.equal(512 * 1024 * 1024, t.max_pending_bytes)
    assert.are.equal(120000, t.ack_timeout_ms)
  end)

  it("answers the configured values for everyone else", function()
    assert.are.same(kit.DEFAULT_TIMEOUTS, kit.timeouts(pol, kit.actor("chat")))
  end)

  it("never hibernates games, always may hibernate dashboards, asks the runner otherwise", function()
    assert.is_false(kit.can_hibernate(pol, kit.actor("game"), "/ws", true))
    assert.is_true(kit.can_hibernate(pol, kit.actor("dashboard"), "/ws", false))
    assert.is_true(kit.can_hibernate(pol, kit.actor("chat"), "/ws", true))
    assert.is_false(kit.can_hibernate(pol, kit.actor("chat"), "/ws", false))
  end)

  it("answers pings without waking the actor", function()
    local sleeper = kit.actor({ name = "chat", state = "sleeping" })
    assert.are.equal("pong", kit.auto_response(pol, sleeper, "ping"))
    kit.clock(1700000000123)
    assert.are.equal('{"type":"pong","t":1700000000123}', kit.auto_response(pol, sleeper, ' {"type": "ping"} '))
  end)

  it("wakes the actor for anything else, and for binary messages", function()
    local sleeper = kit.actor({ name = "chat", state = "sleeping" })
    assert.is_nil(kit.auto_response(pol, sleeper, "hello"))
    assert.is_nil(kit.auto_response(pol, sleeper, '{"type":"move"}'))
    assert.is_nil(kit.auto_response(pol, sleeper, "ping", true))
  end)
end)
