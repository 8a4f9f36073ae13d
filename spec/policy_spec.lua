local P = require "sett.policy"

local function file(src)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(src)
  f:close()
  return path
end

describe("sett.policy", function()
  it("loads hooks and answers builtin without them", function()
    local pol = assert(P.load(file("return {}")))
    assert.are.equal("builtin", P.call_route(pol, {}))
    assert.is_nil(P.call_place(pol, {}, {}))
    assert.is_true(P.call_can_hibernate(pol, {}, {}, true))
    assert.are.same({ ping_interval_ms = 3000 }, P.call_timeouts(pol, {}, { ping_interval_ms = 3000 }, {}))
    assert.is_nil(P.call_auto_response(pol, {}, "ping", false))
  end)

  it("refuses bad files with a message", function()
    for src, pat in pairs({
      ["return {"] = "expected",
      ["error('boom')"] = "boom",
      ["return 1"] = "must return a table",
      ["return { route = 1 }"] = "route must be a function",
      ["return { colour = 'blue' }"] = "unknown key colour",
      ["return { self_test = function() error('no') end }"] = "self_test failed",
      ["return { x = io.open }"] = "io",
      ["require 'luv'"] = "not allowed",
      ["os.execute('true')"] = "execute",
    }) do
      local pol, err = P.load(file(src))
      assert.is_nil(pol, src)
      assert.matches(pat, err, 1, true)
    end
  end)

  it("checks what route returns", function()
    local pol = assert(P.load(file([[
      return { route = function(req)
        if req.path == "/id" then return "actor-1" end
        if req.path == "/make" then return { name = "chat", key = req.host, runner = "pool" } end
        if req.path == "/teapot" then return { status = 418, headers = { ["x-a"] = "b" }, body = "tea" } end
        if req.path == "/bad" then return 42 end
        if req.path == "/badcp" then return { name = "x", crash_policy = "often" } end
      end }]])))
    assert.are.same({ "actor", "actor-1" }, { P.call_route(pol, { path = "/id" }) })
    local kind, v = P.call_route(pol, { path = "/make", host = "h" })
    assert.are.equal("create", kind)
    assert.are.same({ name = "chat", key = "h", runner = "pool", crash_policy = "restart" }, v)
    kind, v = P.call_route(pol, { path = "/teapot" })
    assert.are.equal("respond", kind)
    assert.are.same({ status = 418, headers = { ["x-a"] = "b" }, body = "tea" }, v)
    assert.are.equal("builtin", P.call_route(pol, { path = "/other" }))
    assert.has_error(function() P.call_route(pol, { path = "/bad" }) end,
      "route: expected string, table or nil, got number")
    assert.has_error(function() P.call_route(pol, { path = "/badcp" }) end)
  end)

  it("checks place, can_hibernate, timeouts and auto_response", function()
    local pol = assert(P.load(file([[
      return {
        place = function(actor, runners)
          if actor.name == "stray" then return "nope" end
          for _, r in ipairs(runners) do if r.metadata == "gpu" then return r end end
        end,
        can_hibernate = function(actor) return actor.name ~= "chatty" end,
        timeouts = function(actor)
          if actor.name == "bad" then return { colour = 1 } end
          return { ping_interval_ms = 1, ack_timeout_ms = 99999999 }
        end,
        auto_response = function(actor, msg) if msg == "ping" then return "pong" end end,
      }]])))
    local runners = { { id = "a", metadata = "cpu" }, { id = "b", metadata = "gpu" } }
    assert.are.equal("b", P.call_place(pol, { name = "x" }, runners))
    assert.has_error(function() P.call_place(pol, { name = "stray" }, runners) end,
      "place: returned runner nope is not a candidate")
    assert.is_false(P.call_can_hibernate(pol, { name = "chatty" }, {}, true))
    assert.is_true(P.call_can_hibernate(pol, { name = "quiet" }, {}, false))
    local t = P.call_timeouts(pol, { name = "x" }, { ping_interval_ms = 3000, ack_timeout_ms = 30000 },
      { ping_interval_ms = { 300, 30000 }, ack_timeout_ms = { 3000, 300000 } })
    assert.are.same({ ping_interval_ms = 300, ack_timeout_ms = 300000 }, t)
    assert.has_error(function() P.call_timeouts(pol, { name = "bad" }, { ping_interval_ms = 1 }, {}) end)
    assert.are.equal("pong", P.call_auto_response(pol, {}, "ping", false))
    assert.is_nil(P.call_auto_response(pol, {}, "hello", false))
  end)

  it("keeps an earlier policy intact when another loads", function()
    local a = assert(P.load(file("return { route = function() return 'a' end }")))
    local b = assert(P.load(file("return { route = function() return 'b' end }")))
    assert.are.same({ "actor", "a" }, { P.call_route(a, {}) })
    assert.are.same({ "actor", "b" }, { P.call_route(b, {}) })
  end)
end)

describe("examples/policies/rooms.lua", function()
  local pol = assert(P.load("examples/policies/rooms.lua"))

  it("answers /healthz itself", function()
    local kind, v = P.call_route(pol, { path = "/healthz" })
    assert.are.equal("respond", kind)
    assert.are.equal(200, v.status)
  end)

  it("gets or creates one actor per room", function()
    local kind, v = P.call_route(pol, { path = "/rooms/blue/messages" })
    assert.are.equal("create", kind)
    assert.are.same({ name = "room", key = "blue", runner = "chat", crash_policy = "sleep" }, v)
    assert.are.equal("builtin", P.call_route(pol, { path = "/gateway/abc/x" }))
  end)

  it("answers pings for sleeping rooms", function()
    assert.are.equal("pong", P.call_auto_response(pol, { name = "room" }, "ping", false))
    assert.is_nil(P.call_auto_response(pol, { name = "room" }, "hello", false))
  end)
end)
