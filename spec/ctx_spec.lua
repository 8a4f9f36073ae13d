-- Per-request context: route(req) may return ctx as a second value; it becomes req.ctx, and the
-- later hooks of the request (authorize, timeouts, can_hibernate, auto_response) get that same
-- req table. Under the testkit, a request built by kit.request and passed to kit.route carries
-- the ctx on to the other kit calls.
local kit = require "sett.testkit"

describe("per-request context", function()
  before_each(function() kit.reset() end)

  local src = [[
    return {
      route = function(req)
        local tenant = req.headers["x-tenant"]
        if req.path == "/bad" then return "a", 42 end
        return "actor-1", tenant and { tenant = tenant } or nil
      end,
      authorize = function(req, target) return not (req.ctx and req.ctx.tenant == "blocked") end,
      timeouts = function(actor, req)
        if req.ctx and req.ctx.tenant == "gold" then return { ping_interval_ms = 1000 } end
        if req.path:find("^/slow") then return { ping_interval_ms = 9000 } end
      end,
      can_hibernate = function(actor, req, says) return req.ctx ~= nil and req.ctx.tenant == "gold" end,
      auto_response = function(actor, msg, binary, req)
        return (req and req.ctx and req.ctx.tenant or "none") .. ":" .. msg
      end,
    }
  ]]

  it("hands route's ctx to every later hook of the request", function()
    local pol = kit.load_string(src)
    local req = kit.request({ url = "/ws", headers = { ["X-Tenant"] = "gold" } })
    assert.are.same({ "actor", "actor-1" }, { kit.route(pol, req) })
    assert.are.same({ tenant = "gold" }, req.ctx)
    assert.is_true(kit.authorize(pol, req))
    assert.are.equal(1000, kit.timeouts(pol, "x", nil, nil, req).ping_interval_ms)
    assert.is_true(kit.can_hibernate(pol, "x", req, false))
    assert.are.equal("gold:ping", kit.auto_response(pol, "x", "ping", false, req))
  end)

  it("leaves ctx nil when route returns none, and the request still reaches the hooks", function()
    local pol = kit.load_string(src)
    local req = kit.request("/slow/x")
    kit.route(pol, req)
    assert.is_nil(req.ctx)
    assert.are.equal(9000, kit.timeouts(pol, "x", nil, nil, req).ping_interval_ms)
    assert.is_false(kit.can_hibernate(pol, "x", req))
    assert.are.equal("none:hi", kit.auto_response(pol, "x", "hi", false, req))
  end)

  it("lets authorize refuse on ctx", function()
    local pol = kit.load_string(src)
    local req = kit.request({ url = "/", headers = { ["x-tenant"] = "blocked" } })
    kit.route(pol, req)
    local ok, answer = kit.authorize(pol, req)
    assert.is_false(ok)
    assert.are.equal(403, answer.status)
  end)

  it("refuses a ctx that is not a table", function()
    local pol = kit.load_string(src)
    assert.has_error(function() kit.route(pol, "/bad") end,
      "route: ctx (the second value returned) must be a table or nil, got number")
  end)

  it("notes which hooks take the request, so the gateway builds it only for them", function()
    local pol = kit.load_string(src)
    assert.are.same({ timeouts = true, auto_response = true }, pol.takes_req)
    pol = kit.load_string([[return {
      timeouts = function(actor) end,
      auto_response = function(actor, msg, binary) end,
    }]])
    assert.are.same({ timeouts = false, auto_response = false }, pol.takes_req)
    pol = kit.load_string([[return { timeouts = function(...) end }]])
    assert.are.same({ timeouts = true }, pol.takes_req)
  end)

  it("gives a ctx given to kit.request to the hooks", function()
    local pol = kit.load_string(src)
    assert.are.equal(1000, kit.timeouts(pol, "x", nil, nil, { url = "/", ctx = { tenant = "gold" } }).ping_interval_ms)
  end)
end)
