-- sett.hibernation under the testkit: the store's rows of an actor's hibernatable sockets and
-- their count answered later through a callback, this gateway's count at once, answers dropped
-- once the policy is replaced, failing callbacks logged and counted.
local kit = require "sett.testkit"
local P = require "sett.policy"

describe("sett.hibernation", function()
  before_each(function() kit.reset() end)

  local src = [[
    local sett = require "sett"
    got = {}
    return {
      route = function(req)
        local id = req.path:sub(2)
        sett.hibernation.list(id, function(rows, err) got.rows, got.err = rows, err end)
        sett.hibernation.count(id, function(n, err) got.n = n end)
        got.here = sett.hibernation.local_count(id)
        got.during = got.rows
      end,
    }
  ]]

  it("answers list and count later, from the store's rows", function()
    local pol = kit.load_string(src)
    kit.clock(5000)
    kit.hibernation_rows("a1", { { request_id = "0000000b", gateway_id = "0a0b0c0d", last_ping_ms = 4000 }, {} })
    kit.hibernation_local("a1", 1)
    kit.route(pol, "/a1")
    local got = pol.env.got
    assert.is_nil(got.during)
    assert.are.equal(1, got.here)
    assert.are.equal(2, kit.flush())
    assert.are.same({ { request_id = "0000000b", gateway_id = "0a0b0c0d", last_ping_ms = 4000 },
                      { request_id = "00000002", gateway_id = "00000000", last_ping_ms = 5000 } }, got.rows)
    assert.are.equal(2, got.n)
  end)

  it("answers an actor without rows with an empty list and 0", function()
    local pol = kit.load_string(src)
    kit.route(pol, "/none")
    kit.advance(0)
    assert.are.same({}, pol.env.got.rows)
    assert.are.equal(0, pol.env.got.n)
    assert.are.equal(0, pol.env.got.here)
  end)

  it("says when the store cannot answer", function()
    local pol = kit.load_string(src)
    kit.hibernation_down(true)
    kit.route(pol, "/a1")
    kit.flush()
    assert.is_nil(pol.env.got.rows)
    assert.are.equal("store unavailable", pol.env.got.err)
  end)

  it("drops answers to a policy that was replaced, and refuses its new asks", function()
    local pol = kit.load_string(src)
    kit.hibernation_rows("a1", 3)
    kit.route(pol, "/a1")
    P.retire(pol)
    kit.flush()
    assert.is_nil(pol.env.got.n)
    assert.has_error(function() kit.route(pol, "/a1") end, "sett.hibernation.list: the policy was replaced")
  end)

  it("logs and counts a callback that fails, under the hook budget", function()
    local pol = kit.load_string([[
      local sett = require "sett"
      return { route = function(req)
        sett.hibernation.count("a1", function() error("boom") end)
        sett.hibernation.count("a1", function() while true do end end)
      end }
    ]])
    kit.budget(20)
    kit.route(pol, "/")
    kit.flush()
    assert.are.equal(2, kit.errors("hibernation"))
    assert.truthy(kit.find_log("policy callback failed", "error"))
  end)

  it("checks its arguments and caps the asks waiting", function()
    local pol = kit.load_string([[
      local sett = require "sett"
      return { route = function(req)
        if req.path == "/id" then sett.hibernation.count(3, function() end) end
        if req.path == "/fn" then sett.hibernation.list("a", "nope") end
        if req.path == "/many" then for i = 1, 1001 do sett.hibernation.count("a", function() end) end end
      end }
    ]])
    assert.has_error(function() kit.route(pol, "/id") end, "sett.hibernation.count: actor_id must be a non-empty string, got number")
    assert.has_error(function() kit.route(pol, "/fn") end, "sett.hibernation.list: expected a callback function, got string")
    local ok, err = pcall(kit.route, pol, "/many")
    assert.is_false(ok)
    assert.matches("1000 asks are already waiting for the store", err, 1, true)
  end)
end)
