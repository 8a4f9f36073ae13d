-- sett.testkit (unit-testing a policy with busted) and the sett module it stands in for: its
-- in-memory stand-ins here, and its hand-over to the C module sett.core inside the gateway.
local kit = require "sett.testkit"
local sett = require "sett"

local POLICY = [[
local sett = require "sett"
local calls = sett.counter("policy_route_calls_total", "route() calls.", { site = "main" })
local took = sett.histogram("policy_route_ms", "route() time.")
return {
  route = function(req)
    calls:inc()
    took:observe(2)
    if req.path == "/who" then
      sett.log("info", "asked who", { peer = req.peer, host = req.host, n = 1, ok = true, t = {} })
      return { status = 200, body = req.method .. " " .. req.headers["x-user"] .. " " .. req.query }
    end
    if req.path == "/now" then return { status = 200, body = tostring(sett.now()) } end
    if req.path == "/actor" then
      local a = sett.actors.get(req.query)
      return a and a.id or nil
    end
    if req.path == "/runners" then
      local names = {}
      for _, r in ipairs(sett.runners.list("default", req.query ~= "" and req.query or nil)) do names[#names + 1] = r.id end
      return { status = 200, body = table.concat(names, ",") }
    end
    if req.path == "/bad" then return 42 end
    if req.path == "/boom" then error("boom") end
    if req.path == "/spin" then while true do end end
  end,
  place = function(actor, runners) return runners[#runners] end,
  can_hibernate = function(actor, req, runner_says) return runner_says and req.path ~= "/live" end,
  timeouts = function(actor)
    if actor.name == "bad" then return { pingg_interval_ms = 1 } end
    return { ping_interval_ms = 1 }
  end,
  auto_response = function(actor, msg, binary) if msg == "ping" and not binary then return "pong" end end,
}]]

describe("sett.testkit", function()
  local pol

  before_each(function()
    kit.reset()
    pol = kit.load_string(POLICY, "spec-policy")
  end)

  describe("builders", function()
    it("builds a request with defaults", function()
      assert.are.same({ method = "GET", path = "/", query = "", headers = { host = "localhost" },
                        host = "localhost", peer = "127.0.0.1:40000" }, kit.request())
    end)

    it("splits a URL, lowercases header names and takes the host from its header", function()
      local req = kit.request({ method = "post", url = "/a/b?x=1&y=2",
                                headers = { ["X-User"] = "ann", Host = "example.com:8080", ["Content-Length"] = 5 } })
      assert.are.equal("POST", req.method)
      assert.are.equal("/a/b", req.path)
      assert.are.equal("x=1&y=2", req.query)
      assert.are.same({ ["x-user"] = "ann", host = "example.com:8080", ["content-length"] = "5" }, req.headers)
      assert.are.equal("example.com:8080", req.host)
      assert.are.equal("/p", kit.request("/p?q").path)
      assert.are.equal("q", kit.request("/p?q").query)
      assert.are.equal("q=1", kit.request({ path = "/p?q=1" }).query)
      assert.are.equal("h", kit.request({ host = "h" }).headers.host)
    end)

    it("refuses unknown request fields and relative paths", function()
      assert.has_error(function() kit.request({ pth = "/" }) end,
        "kit.request: unknown field pth (known: ctx, headers, host, method, path, peer, query, url)")
      assert.has_error(function() kit.request({ path = "x" }) end, "kit.request: path must start with /, got x")
      assert.has_error(function() kit.request({ path = "/", url = "/" }) end, "kit.request: give url or path, not both")
    end)

    it("builds actors that sett.actors.get finds", function()
      local a = kit.actor({ name = "room", key = "blue" })
      assert.are.same({ id = "actor-1", name = "room", key = "blue", namespace = "default", state = "running",
                        generation = 1 }, a)
      assert.are.equal(a, sett.actors.get("actor-1"))
      assert.are.equal("actor-2", kit.actor("chat").id)
      assert.are.equal("chat", kit.actor("chat").name)
      assert.are.equal("x", kit.actor({ id = "x", state = "sleeping", runner_id = "r" }).id)
      assert.is_nil(sett.actors.get("nope"))
      assert.has_error(function() kit.actor({ nme = "x" }) end)
      assert.has_error(function() kit.actor({ state = "dozing" }) end, "kit.actor: unknown state dozing")
    end)

    it("builds runners that sett.runners.list finds, metadata as JSON text", function()
      local r = kit.runner({ name = "pool", metadata = { pool = "gpu", n = 2 }, total_slots = 8 })
      assert.are.same({ id = "runner-1", name = "pool", namespace = "default", version = 1, total_slots = 8,
                        free_slots = 8, rtt_ms = 1, metadata = '{"n":2,"pool":"gpu"}' }, r)
      kit.runners({ { id = "other", name = "else" }, { id = "far", name = "pool", namespace = "eu" } })
      assert.are.equal(2, #sett.runners.list("default"))
      assert.are.equal(1, #sett.runners.list("default", "pool"))
      assert.are.equal("far", sett.runners.list("eu")[1].id)
      kit.runner({ id = "other", name = "pool" })   -- the same id again replaces it
      assert.are.equal(2, #sett.runners.list("default", "pool"))
    end)

  end)

  describe("loading", function()
    it("raises the loader's message for a refused file", function()
      assert.has_error(function() kit.load("/nonexistent.lua") end)
      local ok, err = pcall(kit.load_string, "return { rout = function() end }", "typo")
      assert.is_false(ok)
      assert.matches('kit.load_string: policy: unknown key "rout"', err, 1, true)
    end)

    it("returns nil and the message with try_load", function()
      local pol2, err = kit.try_load_string("return 5", "five")
      assert.is_nil(pol2)
      assert.are.equal("policy: five must return a table of hooks, got number", err)
    end)

    it("loads files", function()
      local path = os.tmpname()
      local f = assert(io.open(path, "wb"))
      f:write("return { route = function() return 'x' end }")
      f:close()
      local p = kit.load(path)
      os.remove(path)
      assert.are.equal(path, p.path)
      assert.are.equal("x", select(2, kit.route(p, "/")))
    end)
  end)

  describe("hook calls", function()
    it("route builds the request from a table or URL", function()
      local kind, answer = kit.route(pol, { url = "/who?v=1", method = "put", headers = { ["X-User"] = "ann" } })
      assert.are.equal("respond", kind)
      assert.are.equal("PUT ann v=1", answer.body)
    end)

    it("raises the checks' errors and the hook's own", function()
      assert.has_error(function() kit.route(pol, "/bad") end, "route: expected string, table or nil, got number")
      local ok, err = pcall(kit.route, pol, "/boom")
      assert.is_false(ok)
      assert.matches("spec-policy:23: boom", err, 1, true)
      assert.has_error(function() kit.timeouts(pol, "bad") end)
      assert.has_error(function() kit.route({}, "/") end, "kit.route: the first argument must be a policy from kit.load")
    end)

    it("stops a runaway hook with the kit's budget", function()
      kit.budget(20)
      local t0 = os.clock()
      local ok, err = pcall(kit.route, pol, "/spin")
      assert.is_false(ok)
      assert.matches("exceeded its time budget", err, 1, true)
      assert.is_true(os.clock() - t0 < 1)
      assert.are.equal(20, kit.budget(false))
      assert.is_false(kit.budget())
      assert.has_error(function() kit.budget(-1) end)
    end)

    it("place takes built runners or their fields", function()
      assert.are.equal("b", kit.place(pol, "x", { { id = "a" }, { id = "b" } }))
      local rs = kit.runners({ { id = "c" }, { id = "d" } })
      assert.are.equal("d", kit.place(pol, kit.actor(), rs))
    end)

    it("can_hibernate defaults runner_says to true", function()
      assert.is_true(kit.can_hibernate(pol, "x", "/ws"))
      assert.is_false(kit.can_hibernate(pol, "x", "/ws", false))
      assert.is_false(kit.can_hibernate(pol, "x", "/live", true))
      assert.has_error(function() kit.can_hibernate(pol, "x", "/ws", "yes") end)
    end)

    it("timeouts starts from the gateway's defaults and clamps like it", function()
      local t = kit.timeouts(pol, "x")
      assert.are.equal(300, t.ping_interval_ms)    -- asked 1, a tenth of 3000
      assert.are.equal(kit.DEFAULT_TIMEOUTS.ack_timeout_ms, t.ack_timeout_ms)
      t = kit.timeouts(pol, "x", { ping_interval_ms = 100 })
      assert.are.equal(10, t.ping_interval_ms)
      t = kit.timeouts(pol, "x", nil, { ping_interval_ms = { 0, 5 } })
      assert.are.equal(1, t.ping_interval_ms)
      assert.has_error(function() kit.defaults({ nope = 1 }) end)
    end)

    it("auto_response passes binary as a boolean", function()
      assert.are.equal("pong", kit.auto_response(pol, "x", "ping"))
      assert.is_nil(kit.auto_response(pol, "x", "ping", true))
      assert.has_error(function() kit.auto_response(pol, "x", nil) end)
    end)
  end)

  describe("call, as the gateway does", function()
    it("returns the checked answer when all is well", function()
      assert.are.same({ "respond", { status = 200, headers = {}, body = "GET nobody " } },
        { kit.call(pol, "route", { url = "/who", headers = { ["x-user"] = "nobody" } }) })
      assert.are.equal(0, kit.errors("route"))
    end)

    it("logs, counts and answers built-in on an error, a wrong answer or the budget", function()
      kit.budget(20)
      assert.are.equal("builtin", kit.call(pol, "route", "/bad"))
      assert.are.equal("builtin", kit.call(pol, "route", "/boom"))
      assert.are.equal("builtin", kit.call(pol, "route", "/spin"))
      assert.are.equal(3, kit.errors("route"))
      local lines = kit.logs("error")
      assert.are.equal(3, #lines)
      assert.are.equal("policy hook failed; using the built-in behaviour", lines[1].msg)
      assert.are.same({ hook = "route", error = "route: expected string, table or nil, got number" }, lines[1].fields)
      assert.matches("exceeded its time budget", lines[3].fields.error, 1, true)
      local t = kit.call(pol, "timeouts", "bad")
      assert.are.same(kit.DEFAULT_TIMEOUTS, t)
      assert.are.equal(1, kit.errors("timeouts"))
      local bad = kit.load_string("return { can_hibernate = function() end, place = function() return 'zz' end }")
      assert.is_false(kit.call(bad, "can_hibernate", "x", "/", false))
      assert.is_true(kit.call(bad, "can_hibernate", "x", "/", true))
      assert.is_nil(kit.call(bad, "place", "x", { { id = "a" } }))
      assert.are.equal(1, kit.errors("place"))
    end)
  end)

  describe("what the policy did with sett", function()
    it("keeps its log lines with flat fields", function()
      kit.clock(5)
      kit.route(pol, { url = "/who", host = "h", headers = { ["x-user"] = "u" } })
      local line = kit.find_log("asked who")
      assert.are.equal("info", line.level)
      assert.are.equal(5, line.at)
      assert.are.equal("h", line.fields.host)
      assert.are.equal(1, line.fields.n)
      assert.are.equal(true, line.fields.ok)
      assert.matches("^table: ", line.fields.t)
      assert.are.equal(1, #kit.logs())
      assert.are.equal(0, #kit.logs("warn"))
      assert.is_nil(kit.find_log("nothing like it"))
      kit.clear_logs()
      assert.are.equal(0, #kit.logs())
    end)

    it("runs a clock that moves only when told", function()
      assert.are.equal("0", select(2, kit.route(pol, "/now")).body)
      kit.clock(1000)
      assert.are.equal(1250, kit.advance(250))
      assert.are.equal("1250", select(2, kit.route(pol, "/now")).body)
      assert.are.equal(1250, sett.now())
      assert.has_error(function() kit.advance(-1) end)
    end)

    it("counts metrics, and reset zeroes them while the policy's objects stay valid", function()
      kit.route(pol, "/")
      kit.route(pol, "/")
      assert.are.equal(2, kit.metric("policy_route_calls_total", { site = "main" }))
      assert.is_nil(kit.metric("policy_route_calls_total"))
      local n, sum, obs = kit.metric("policy_route_ms")
      assert.are.equal(2, n)
      assert.are.equal(4, sum)
      assert.are.same({ 2, 2 }, obs)
      kit.reset()
      assert.are.equal(0, kit.metric("policy_route_calls_total", { site = "main" }))
      kit.route(pol, "/")
      assert.are.equal(1, kit.metric("policy_route_calls_total", { site = "main" }))
    end)

    it("lets the policy look up actors and runners", function()
      local a = kit.actor("room")
      assert.are.same({ "actor", a.id }, { kit.route(pol, "/actor?" .. a.id) })
      assert.are.equal("builtin", kit.route(pol, "/actor?missing"))
      kit.runners({ { id = "r1", name = "chat" }, { id = "r2", name = "api" } })
      assert.are.equal("r1,r2", select(2, kit.route(pol, "/runners")).body)
      assert.are.equal("r2", select(2, kit.route(pol, "/runners?api")).body)
    end)
  end)

  it("knows the gateway's default timeouts and bounds", function()
    assert.are.same({ ping_interval_ms = 3000, ping_timeout_ms = 30000, websocket_open_timeout_ms = 15000,
                      response_start_timeout_ms = 300000, hibernation_threshold_ms = 90000,
                      max_pending_bytes = 134217728, ack_timeout_ms = 30000 }, kit.DEFAULT_TIMEOUTS)
    assert.are.same({ 300, 30000 }, kit.bounds().ping_interval_ms)
    assert.are.same({ 1, 50 }, kit.bounds({ x = 5 }).x)
    assert.are.same({ 1000, 60000 }, kit.bounds(nil, { ping_interval_ms = { min = 1000, max = 60000 } }).ping_interval_ms)
    assert.are.same({ 300, 5000 }, kit.bounds(nil, { ping_interval_ms = { max = 5000 } }).ping_interval_ms)
    assert.are.same({ 50000, 50000 }, kit.bounds(nil, { ping_interval_ms = { min = 50000 } }).ping_interval_ms)
  end)
end)

describe("sett without sett.core", function()
  before_each(function() kit.reset() end)

  it("says so", function()
    assert.is_false(sett.has_core)
  end)

  it("checks log levels and fields", function()
    assert.has_error(function() sett.log("loud", "x") end, "sett.log: level must be one of debug, info, warn, error, got loud")
    assert.has_error(function() sett.log("info", "x", "f") end, "sett.log: fields must be a table or nil, got string")
    sett.log("debug", 42)
    assert.are.same({ level = "debug", msg = "42", fields = {}, at = 0 }, kit.logs()[1])
  end)

  it("gives the same metric object for the same name and labels", function()
    local a = sett.counter("spec_same_total", "x", { b = "1", a = 2 })
    assert.are.equal(a, sett.counter("spec_same_total", "x", { a = "2", b = "1" }))
    assert.are_not.equal(a, sett.counter("spec_same_total", "x", { a = "3", b = "1" }))
    a:inc()
    a:inc(2.5)
    assert.are.equal(3.5, kit.metric("spec_same_total", { a = "2", b = "1" }))
  end)

  it("checks metric names, labels, kinds and values", function()
    assert.has_error(function() sett.counter("bad-name", "x") end,
      "sett.counter: name must match [a-zA-Z_:][a-zA-Z0-9_:]*, got bad-name")
    assert.has_error(function() sett.counter("spec_l_total", "x", { ["a-b"] = "1" }) end,
      "sett.counter: label name a-b is not valid")
    assert.has_error(function() sett.counter("spec_l_total", "x", { a = {} }) end,
      "sett.counter: label a must be a string, got table")
    assert.has_error(function() sett.counter("spec_l_total", 5) end, "sett.counter: help must be a string, got number")
    assert.has_error(function() sett.counter("sett_policy_calls_total", "x") end,
      "sett.counter: names starting with sett_ are sett's own")
    assert.has_error(function() sett.gauge("gateway_x", "x") end, "sett.gauge: names starting with gateway_ are sett's own")
    sett.gauge("spec_kind", "x")
    assert.has_error(function() sett.counter("spec_kind", "x") end, "sett.counter: spec_kind is already a gauge")
    local c = sett.counter("spec_neg_total")
    assert.has_error(function() c:inc(-1) end, "counter spec_neg_total:inc: a counter only goes up, got -1")
    assert.has_error(function() c:inc("x") end)
    local g = sett.gauge("spec_gauge", "x")
    g:set(-4)
    assert.are.equal(-4, kit.metric("spec_gauge"))
    assert.are.equal(-4, g:get())
    assert.has_error(function() g:set(0 / 0) end)
    assert.has_error(function() sett.histogram("spec_h"):observe(nil) end)
  end)

  it("checks the arguments of the actor and runner lookups", function()
    assert.has_error(function() sett.actors.get(5) end, "sett.actors.get: id must be a string, got number")
    assert.has_error(function() sett.runners.list(5) end)
    assert.has_error(function() sett.runners.list("default", 5) end)
    assert.are.same({}, sett.runners.list())
  end)

  it("has sett.proto when the codec is built, nil otherwise", function()
    local p = sett.proto
    assert.is_true(p == nil or type(p) == "table")
    assert.are.equal(p, sett.proto)
  end)
end)

describe("sett with sett.core", function()
  local calls, saved

  setup(function()
    saved = { sett = package.loaded["sett"], core = package.preload["sett.core"] }
    calls = {}
    local metric = setmetatable({}, { __index = {
      inc = function(self, n) calls[#calls + 1] = { "inc", n } end,
      set = function(self, v) calls[#calls + 1] = { "set", v } end,
      observe = function(self, v) calls[#calls + 1] = { "observe", v } end,
    } })
    package.preload["sett.core"] = function()
      return {
        log = function(level, msg, fields) calls[#calls + 1] = { "log", level, msg, fields } end,
        now_ms = function() return 123456 end,
        metric = function(kind, name, help, labels)
          calls[#calls + 1] = { "metric", kind, name, help, labels }
          return metric
        end,
        actor = function(id) return id == "a" and { id = "a", name = "n" } or nil end,
        runners = function(ns, name) calls[#calls + 1] = { "runners", ns, name } return { { id = "r" } } end,
      }
    end
    package.loaded["sett"] = nil
    package.loaded["sett.core"] = nil
  end)

  teardown(function()
    package.loaded["sett"] = saved.sett
    package.loaded["sett.core"] = nil
    package.preload["sett.core"] = saved.core
  end)

  it("hands everything to the C module", function()
    local s = require "sett"
    assert.are_not.equal(sett, s)
    assert.is_true(s.has_core)
    assert.is_nil(rawget(s, "_fake"))
    s.log("warn", "hello", { a = 1 })
    assert.are.same({ "log", "warn", "hello", { a = 1 } }, calls[1])
    assert.are.equal(123456, s.now())
    local c = s.counter("spec_core_total", "help", { hook = "route" })
    assert.are.same({ "metric", "counter", "spec_core_total", "help", { hook = "route" } }, calls[2])
    assert.are.equal(c, s.counter("spec_core_total", "help", { hook = "route" }))
    assert.are.equal(2, #calls)    -- the object is reused, not asked for again
    c:inc(3)
    s.histogram("spec_core_ms", "h"):observe(7)
    assert.are.same({ "inc", 3 }, calls[3])
    assert.are.same({ "observe", 7 }, calls[5])
    assert.are.equal("n", s.actors.get("a").name)
    assert.is_nil(s.actors.get("b"))
    assert.are.equal("r", s.runners.list(nil, "pool")[1].id)
    assert.are.same({ "runners", "default", "pool" }, calls[6])
  end)
end)

describe("sett with a broken sett.core", function()
  it("raises the module's error instead of quietly falling back", function()
    local saved = package.loaded["sett"]
    package.preload["sett.core"] = function() error("core exploded") end
    package.loaded["sett"] = nil
    local ok, err = pcall(require, "sett")
    package.preload["sett.core"] = nil
    package.loaded["sett"] = saved
    assert.is_false(ok)
    assert.matches("core exploded", err, 1, true)
  end)
end)
