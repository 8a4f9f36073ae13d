-- sett.timer as policies see it under the testkit: the stand-in timers fire as kit.advance moves
-- the clock, in order; a failing or runaway callback is logged and counted, never raised; a
-- reload, a refused load and kit.reset stop a policy's timers.
local kit = require "sett.testkit"
local P = require "sett.policy"

describe("sett.timer", function()
  before_each(function() kit.reset() end)

  it("fires after and every timers in order as the clock moves", function()
    local pol = kit.load_string([[
      local sett = require "sett"
      local timer = require "sett.timer"
      fired = {}
      local function note(what) fired[#fired + 1] = what .. "@" .. sett.now() end
      sett.timer.after(30, function() note("after") end)
      local n = 0
      tick = timer.every(20, function(h)
        n = n + 1
        note("every")
        if n == 3 then h:stop() end
      end)
      sett.timer.after(0, function() note("zero") end)
      return {}]])
    local fired = pol.env.fired
    assert.are.equal(3, kit.timers(pol))
    assert.are.same({}, fired)
    kit.advance(0)
    assert.are.same({ "zero@0" }, fired)
    kit.advance(45)
    assert.are.same({ "zero@0", "every@20", "after@30", "every@40" }, fired)
    assert.are.equal(45, kit.clock())
    assert.are.equal(1, kit.timers(pol))
    kit.advance(100)
    assert.are.same({ "zero@0", "every@20", "after@30", "every@40", "every@60" }, fired)
    assert.are.equal(0, kit.timers(pol))
    assert.is_false(pol.env.tick:pending())
    assert.is_false(pol.env.tick:stop())
  end)

  it("starts timers from hooks and stops them through their handles", function()
    local pol = kit.load_string([[
      local timer = require("sett").timer
      hits = 0
      local h
      return { route = function(req)
        if req.path == "/start" then h = timer.every(10, function() hits = hits + 1 end) end
        if req.path == "/stop" then return { status = 200, body = tostring(h:stop()) } end
      end }]])
    kit.route(pol, "/start")
    kit.advance(35)
    assert.are.equal(3, pol.env.hits)
    local _, answer = kit.route(pol, "/stop")
    assert.are.equal("true", answer.body)
    kit.advance(100)
    assert.are.equal(3, pol.env.hits)
  end)

  it("logs and counts a callback that fails or runs out of time, and goes on", function()
    local pol = kit.load_string([[
      local timer = require "sett.timer"
      n = 0
      timer.every(10, function() n = n + 1; if n == 2 then error("boom") end end)
      timer.after(15, function() while true do end end)
      return {}]])
    kit.budget(20)
    kit.advance(30)
    assert.are.equal(3, pol.env.n)
    assert.are.equal(2, kit.errors("timer"))
    local failed = kit.logs("error")
    assert.are.equal(2, #failed)
    assert.are.equal("policy callback failed", failed[1].msg)
    assert.are.equal("timer", failed[1].fields.hook)
    assert.matches("exceeded its time budget", failed[1].fields.error, 1, true)   -- at 15 ms
    assert.matches("boom", failed[2].fields.error, 1, true)                       -- at 20 ms
  end)

  it("refuses bad arguments and more than MAX_PENDING pending timers", function()
    local function refused(src)
      local pol, err = kit.try_load_string(src)
      assert.is_nil(pol)
      return err
    end
    assert.matches("sett.timer.after: ms must be a number >= 0, got -1",
      refused([[require("sett.timer").after(-1, function() end) return {}]]), 1, true)
    assert.matches("sett.timer.every: ms must be a number >= 1, got 0",
      refused([[require("sett.timer").every(0, function() end) return {}]]), 1, true)
    assert.matches("sett.timer.after: fn must be a function, got nil",
      refused([[require("sett.timer").after(1) return {}]]), 1, true)
    assert.matches("at most 1000 pending timers", refused([[
      for i = 1, 1001 do require("sett.timer").after(1000, function() end) end
      return {}]]), 1, true)
    assert.matches("read-only", refused([[require("sett.timer").after = nil return {}]]), 1, true)
  end)

  it("stops the old policy's timers when a reload replaces it, and a refused load's own", function()
    local src = [[
      local timer = require "sett.timer"
      timer.every(10, function() hits = (hits or 0) + 1 end)
      return {}]]
    local old = kit.load_string(src)
    kit.advance(10)
    assert.are.equal(1, old.env.hits)
    local new = kit.load_string(src)
    P.retire(old)
    assert.are.equal(0, kit.timers(old))
    local err = select(2, pcall(function() return old.timers.after(1, print) end))
    assert.matches("this policy was reloaded or removed", tostring(err), 1, true)
    kit.advance(20)
    assert.are.equal(1, old.env.hits)
    assert.are.equal(2, new.env.hits)
    -- A load that fails after starting timers leaves none behind.
    local pol, lerr = kit.try_load_string([[
      require("sett.timer").every(1, function() leaked = true end)
      return { nope = 1 }]])
    assert.is_nil(pol)
    assert.matches("unknown key", lerr, 1, true)
    kit.advance(50)
    assert.are.equal(1, kit.timers(new))
  end)

  it("keeps each policy's timers its own", function()
    local a = kit.load_string([[require("sett.timer").every(5, function() end) return {}]])
    local b = kit.load_string([[require("sett.timer").every(5, function() end) return {}]])
    assert.are.equal(1, kit.timers(a))
    assert.are.equal(1, kit.timers(b))
    P.retire(a)
    assert.are.equal(0, kit.timers(a))
    assert.are.equal(1, kit.timers(b))
    kit.reset()
    assert.are.equal(0, kit.timers(b))
  end)
end)
