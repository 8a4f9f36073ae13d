-- sett.policy: loading a policy file in a sandbox, and the checks on every hook's answer that
-- C relies on. The example policies' own specs (examples/policies/*_spec.lua) run at the end.
local P = require "sett.policy"

local files = {}
local function file(src)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(src)
  f:close()
  files[#files + 1] = path
  return path
end

local function load(src, opts)
  return P.load(file(src), opts)
end

local function must(src)
  return assert(load(src))
end

local function refused(src, opts)
  local pol, err = load(src, opts)
  assert.is_nil(pol, src)
  assert.is_string(err)
  return err
end

teardown(function()
  for _, p in ipairs(files) do os.remove(p) end
end)

describe("sett.policy load", function()
  it("returns the policy's path, name, hooks, environment and load time", function()
    local path = file("return { name = 'mine', route = function() end, place = function() end }")
    local before = os.time()
    local pol = assert(P.load(path))
    assert.are.equal(path, pol.path)
    assert.are.equal("mine", pol.name)
    assert.is_function(pol.hooks.route)
    assert.is_function(pol.hooks.place)
    assert.is_nil(pol.hooks.timeouts)
    assert.is_table(pol.env)
    assert.is_true(pol.loaded_at >= before and pol.loaded_at <= os.time())
  end)

  it("answers with the built-in behaviour for every missing hook", function()
    local pol = must("return {}")
    assert.are.same({ "builtin" }, { P.call_route(pol, { path = "/" }) })
    assert.is_nil(P.call_place(pol, {}, { { id = "r" } }))
    assert.is_true(P.call_can_hibernate(pol, {}, {}, true))
    assert.is_false(P.call_can_hibernate(pol, {}, {}, false))
    local defaults = { ping_interval_ms = 3000 }
    local t = P.call_timeouts(pol, {}, defaults, { ping_interval_ms = { 1, 2 } })
    assert.are.same({ ping_interval_ms = 3000 }, t)
    assert.are_not.equal(defaults, t)
    assert.is_nil(P.call_auto_response(pol, {}, "ping", false))
  end)

  it("reports a syntax error with the file and line", function()
    local path = file("return {\n  route = function(req)\n    return req.path ..\n  end }\n")
    local pol, err = P.load(path)
    assert.is_nil(pol)
    assert.matches(path .. ":4:", err, 1, true)
  end)

  it("reports a runtime error of the file's top level", function()
    assert.matches(":1: boom", refused("error('boom')"), 1, true)
    assert.matches("attempt to index", refused("local t = nil; return t.x"), 1, true)
  end)

  it("refuses a file that does not return a table", function()
    assert.matches("must return a table of hooks, got number", refused("return 1"), 1, true)
    assert.matches("must return a table of hooks, got nil", refused("local x = 1"), 1, true)
  end)

  it("refuses hooks that are not functions", function()
    assert.are.equal("policy: route must be a function, got number", refused("return { route = 1 }"))
    assert.are.equal("policy: can_hibernate must be a function, got boolean",
                     refused("return { can_hibernate = true }"))
    assert.are.equal("policy: self_test must be a function, got string", refused("return { self_test = 'yes' }"))
    assert.are.equal("policy: name must be a string, got number", refused("return { name = 7 }"))
  end)

  it("refuses unknown top-level keys, a misspelt hook among them", function()
    assert.matches('unknown key "colour"', refused("return { colour = 'blue' }"), 1, true)
    assert.matches('unknown key "routes"', refused("return { routes = function() end }"), 1, true)
    assert.matches("unknown key 1", refused("return { function() end }"), 1, true)
    assert.matches("known: route, place", refused("return { x = 1 }"), 1, true)
  end)

  it("runs self_test with the new policy and refuses the file when it fails", function()
    assert.matches("policy: self_test failed: .*no", refused("return { self_test = function() error('no') end }"))
    assert.matches("self_test failed", refused("return { self_test = function() assert(1 == 2, 'math') end }"), 1, true)
    local pol = must([[
      local P = require "sett.policy"
      return {
        route = function(req) return "a-" .. req.path end,
        self_test = function(pol)
          local kind, id = P.call_route(pol, { path = "x" })
          assert(kind == "actor" and id == "a-x")
        end,
      }]])
    assert.are.equal("actor", (P.call_route(pol, { path = "/" })))
  end)

  it("refuses a self_test that finds a wrong answer through the checks", function()
    local err = refused([[
      local P = require "sett.policy"
      return {
        route = function() return 42 end,
        self_test = function(pol) P.call_route(pol, {}) end,
      }]])
    assert.matches("self_test failed: route: expected string, table or nil, got number", err, 1, true)
  end)

  it("says why a file cannot be opened", function()
    local pol, err = P.load("/nonexistent/dir/policy.lua")
    assert.is_nil(pol)
    assert.matches("^policy: cannot open ", err)
    pol, err = P.load(nil)
    assert.is_nil(pol)
    assert.are.equal("policy: path must be a string, got nil", err)
  end)

  it("refuses precompiled bytecode", function()
    local bc = string.dump(function() return {} end)
    assert.matches("precompiled bytecode", refused(bc), 1, true)
  end)

  it("accepts a #! line and a byte order mark, keeping line numbers", function()
    must("#!/usr/bin/env luajit\nreturn {}")
    must("\239\187\191return {}")
    local err = refused("#!/x\n\nerror('line three')")
    assert.matches(":3: line three", err, 1, true)
  end)

  it("loads from a string too", function()
    local pol = assert(P.load_string("return { route = function() return 'x' end }", "inline"))
    assert.are.equal("inline", pol.path)
    assert.are.same({ "actor", "x" }, { P.call_route(pol, {}) })
    local _, err = P.load_string("return {", "inline")
    assert.matches("^inline:1:", err)
  end)

  it("stops a runaway top level or self_test with the load budget", function()
    local t0 = os.clock()
    local err = refused("local n = 0 while n < 2e9 do n = n + 1 end", { budget_ms = 30 })
    assert.matches("exceeded its time budget", err, 1, true)
    err = refused("return { self_test = function() local n = 0 while true do n = n + 1 end end }", { budget_ms = 30 })
    assert.matches("self_test failed: .*exceeded its time budget", err)
    -- pcall inside the policy cannot swallow the stop.
    err = refused("while true do pcall(function() while true do end end) end", { budget_ms = 30 })
    assert.matches("exceeded its time budget", err, 1, true)
    assert.is_true(os.clock() - t0 < 2)
  end)

  it("puts back the caller's debug hook after a load", function()
    local hook = function() end
    debug.sethook(hook, "", 100000)
    must("return {}")
    local f, mask, count = debug.gethook()
    debug.sethook()
    assert.are.equal(hook, f)
    assert.are.equal("", mask)
    assert.are.equal(100000, count)
  end)
end)

describe("sett.policy sandbox", function()
  it("has no io, no os beyond time and clock, no loaders and no debug", function()
    assert.matches("attempt to index global 'io'", refused("return { x = io.open }"), 1, true)
    assert.matches("attempt to call field 'execute'", refused("os.execute('true')"), 1, true)
    local pol = must([[
      probe = {
        io = io, execute = os.execute, getenv = os.getenv, exit = os.exit, remove = os.remove,
        load = load, loadstring = loadstring, loadfile = loadfile, dofile = dofile,
        debug = debug, jit = jit, ffi = ffi, package = package, module = module,
        setfenv = setfenv, getfenv = getfenv, rawset = rawset, rawget = rawget,
        collectgarbage = collectgarbage, coroutine = coroutine, newproxy = newproxy,
        dump = string.dump, time = os.time, clock = os.clock,
        string_mt = getmetatable(""),
      }
      return {}]])
    local probe = pol.env.probe
    for _, k in ipairs({ "io", "execute", "getenv", "exit", "remove", "load", "loadstring", "loadfile",
                         "dofile", "debug", "jit", "ffi", "package", "module", "setfenv", "getfenv",
                         "rawset", "rawget", "collectgarbage", "coroutine", "newproxy", "dump",
                         "string_mt" }) do
      assert.is_nil(probe[k], k)
    end
    assert.are.equal(os.time, probe.time)
    assert.are.equal(os.clock, probe.clock)
  end)

  it("has the safe standard functions", function()
    must([[
      assert(string.format("%d", 3) == "3" and ("x"):rep(2) == "xx")
      assert(table.concat({ "a", "b" }) == "ab" and math.max(1, 2) == 2)
      assert(type(pairs) == "function" and type(ipairs) == "function" and type(next) == "function")
      assert(tostring(1) == "1" and tonumber("2") == 2 and select("#", 1, 2) == 2)
      assert(unpack({ 1 }) == 1 and pcall(error, "x") == false)
      local t = setmetatable({}, { __index = function() return 5 end })
      assert(t.x == 5 and getmetatable(t).__index)
      return {}]])
  end)

  it("allows require of sett and sett.* only", function()
    assert.matches([[require of "luv" is not allowed]], refused("require 'luv'"), 1, true)
    assert.matches("not allowed", refused("require 'os'"), 1, true)
    assert.matches("not allowed", refused("require 'settings'"), 1, true)
    assert.matches("not allowed", refused("require 'sett.core/../x'"), 1, true)
    must([[
      local sett = require "sett"
      local P = require "sett.policy"
      assert(type(sett.log) == "function" and type(P.call_route) == "function")
      return {}]])
  end)

  it("gives policies sett.json, as require \"sett.json\" and as sett.json", function()
    local pol = must([[
      local json = require "sett.json"
      local sett = require "sett"
      return { route = function(req)
        local q = sett.json.decode(req.query)
        return { status = 200, body = json.encode({ got = q, none = json.null, list = json.array() }) }
      end }]])
    local kind, answer = P.call_route(pol, { path = "/", query = '{"a":[1,"x"]}' })
    assert.are.equal("respond", kind)
    assert.are.equal('{"got":{"a":[1,"x"]},"list":[],"none":null}', answer.body)
  end)

  it("gives read-only views of sett's modules that pairs and ipairs see through", function()
    assert.matches("sett.policy is read-only", refused([[require("sett.policy").call_route = function() end]]), 1, true)
    assert.matches("read-only", refused([[require("sett").log = print]]), 1, true)
    assert.matches("read-only", refused([[require("sett").actors.get = nil]]), 1, true)
    assert.is_function(P.call_route)
    must([[
      local P = require "sett.policy"
      local n = 0
      for i, k in ipairs(P.HOOKS) do n = i end
      assert(n == 7, "ipairs")
      local seen = 0
      for k, v in pairs(P) do seen = seen + 1 end
      assert(seen > 5, "pairs")
      assert(getmetatable(P) == false)
      return {}]])
  end)

  it("gives every load its own environment and standard tables", function()
    local a = must("shared = 'a'; string.extra = 1; return { route = function() return shared end }")
    local b = must("return { route = function() return tostring(shared) .. tostring(string.extra) end }")
    assert.are_not.equal(a.env, b.env)
    assert.are.same({ "actor", "a" }, { P.call_route(a, {}) })
    assert.are.same({ "actor", "nilnil" }, { P.call_route(b, {}) })
    assert.is_nil(string.extra)
  end)

  it("runs policy code interpreted, so a hook's budget stops even a tight loop", function()
    -- Compiled, this loop would run to its end (a second or so) without the budget seeing it.
    local pol = must("return { route = function() local n = 0 while n < 2e9 do n = n + 1 end return 'done' end }")
    local t0 = os.clock()
    local ok, err = P.run_with_budget(20, P.call_route, pol, {})
    assert.is_false(ok)
    assert.matches("exceeded its time budget", err, 1, true)
    assert.is_true(os.clock() - t0 < 1)
  end)
end)

describe("sett.policy route", function()
  local function route(ret, req)
    local pol = P.load_string("return { route = function(req) return R(req) end }", "t")
    pol.env.R = type(ret) == "function" and ret or function() return ret end
    return P.call_route(pol, req or {})
  end
  local function fails(ret, msg)
    assert.has_error(function() route(ret) end, msg)
  end

  it("answers builtin for nil and false", function()
    assert.are.same({ "builtin" }, { route(nil) })
    assert.are.same({ "builtin" }, { route(false) })
  end)

  it("answers an actor id for a string", function()
    assert.are.same({ "actor", "3f2a" }, { route("3f2a") })
    fails("", "route: returned an empty actor id")
    fails("a\0b", "route: an actor id must not contain NUL bytes")
  end)

  it("refuses other types", function()
    fails(42, "route: expected string, table or nil, got number")
    fails(true, "route: expected string, table or nil, got boolean")
    fails(function() return print end, "route: expected string, table or nil, got function")
  end)

  it("normalizes a get-or-create target", function()
    assert.are.same({ "create", { name = "room", crash_policy = "restart" } }, { route({ name = "room" }) })
    local kind, t = route({ name = "room", key = "blue", input = "\0\1bytes", runner = "chat", crash_policy = "sleep" })
    assert.are.equal("create", kind)
    assert.are.same({ name = "room", key = "blue", input = "\0\1bytes", runner = "chat", crash_policy = "sleep" }, t)
    assert.are.equal("destroy", select(2, route({ name = "x", crash_policy = "destroy" })).crash_policy)
    assert.are.equal("tenant-a", select(2, route({ name = "x", namespace = "tenant-a" })).namespace)
  end)

  it("checks a get-or-create target", function()
    fails({ name = "" }, 'route: a get-or-create target needs name, a non-empty string, got ""')
    fails({ name = 5 }, "route: a get-or-create target needs name, a non-empty string, got 5")
    fails({ name = "x", key = 5 }, "route: key must be a string or nil, got number")
    fails({ name = "x", input = {} }, "route: input must be a string or nil, got table")
    fails({ name = "x", runner = true }, "route: runner must be a string or nil, got boolean")
    fails({ name = "x", runner = "" }, "route: runner must be a non-empty runner name or nil")
    fails({ name = "x", key = "a\0" }, "route: key must not contain NUL bytes")
    fails({ name = "x", namespace = 7 }, "route: namespace must be a string or nil, got number")
    fails({ name = "x", namespace = "" }, "route: namespace must be a non-empty namespace name or nil")
    fails({ name = "x", namespace = "n\0" }, "route: namespace must not contain NUL bytes")
    fails({ name = "x", crash_policy = "often" }, 'route: crash_policy must be restart, sleep or destroy, got "often"')
    fails({ name = "x", crashpolicy = "sleep" },
      'route: unknown key "crashpolicy" in a get-or-create target (known: name, key, input, runner, crash_policy, namespace)')
  end)

  it("normalizes a direct answer", function()
    assert.are.same({ "respond", { status = 204, headers = {}, body = "" } }, { route({ status = 204 }) })
    local kind, a = route({ status = 418, headers = { ["X-Tea"] = "yes", ["retry-after"] = 5 }, body = "short" })
    assert.are.equal("respond", kind)
    assert.are.same({ status = 418, headers = { ["X-Tea"] = "yes", ["retry-after"] = "5" }, body = "short" }, a)
  end)

  it("checks a direct answer", function()
    fails({ status = 99 }, "route: status must be an integer in [100, 599], got 99")
    fails({ status = 600 }, "route: status must be an integer in [100, 599], got 600")
    fails({ status = 200.5 }, "route: status must be an integer in [100, 599], got 200.5")
    fails({ status = "200" }, 'route: status must be an integer in [100, 599], got "200"')
    fails({ status = 101 }, "route: status 101 is not a final status; a direct answer needs one in [200, 599]")
    fails({ status = 200, headers = "x" }, "route: headers must be a table of name = value, got string")
    fails({ status = 200, headers = { "x" } }, "route: header name 1 is not a valid HTTP header name")
    fails({ status = 200, headers = { ["bad name"] = "x" } }, 'route: header name "bad name" is not a valid HTTP header name')
    fails({ status = 200, headers = { x = {} } }, "route: header x must be a string, got table")
    fails({ status = 200, headers = { x = "a\r\nset-cookie: y" } }, "route: header x must not contain CR, LF or NUL")
    fails({ status = 200, headers = { ["Content-Length"] = "3" } }, "route: header Content-Length is set by the gateway; leave it out")
    fails({ status = 200, headers = { ["transfer-encoding"] = "chunked" } }, "route: header transfer-encoding is set by the gateway; leave it out")
    fails({ status = 200, body = 5 }, "route: body must be a string or nil, got number")
    fails({ status = 304, body = "x" }, "route: a 304 answer has no body")
    fails({ status = 200, text = "x" }, 'route: unknown key "text" in a direct answer (known: status, headers, body)')
  end)

  it("refuses a table that is both or neither kind", function()
    fails({ status = 200, name = "x" }, "route: a table answer has both status (a direct answer) and name (a get-or-create target)")
    fails({}, "route: a table answer needs status (a direct answer) or name (a get-or-create target)")
    fails({ key = "x" }, "route: a table answer needs status (a direct answer) or name (a get-or-create target)")
  end)

  it("passes the request to the hook and lets its errors through", function()
    local pol = must([[return { route = function(req)
      if req.headers["x-fail"] then error("asked to fail") end
      return req.method .. " " .. req.host .. req.path .. "?" .. req.query .. " " .. req.peer
    end }]])
    local req = { method = "GET", path = "/a", query = "b=1", headers = {}, host = "h", peer = "1.2.3.4:5" }
    assert.are.same({ "actor", "GET h/a?b=1 1.2.3.4:5" }, { P.call_route(pol, req) })
    req.headers["x-fail"] = "1"
    assert.has_error(function() P.call_route(pol, req) end)
    local ok, err = pcall(P.call_route, pol, req)
    assert.is_false(ok)
    assert.matches(":2: asked to fail", err, 1, true)
  end)
end)

describe("sett.policy place", function()
  local runners = {
    { id = "a", name = "pool", version = 1, free_slots = 1, total_slots = 4, rtt_ms = 3, metadata = '{"pool":"gpu","tags":["x"]}' },
    { id = "b", name = "pool", version = 1, free_slots = 4, total_slots = 4, rtt_ms = 9, metadata = "not json" },
    { id = "c", name = "pool", version = 2, free_slots = 4, total_slots = 4, rtt_ms = 1 },
  }
  local pol = assert(P.load_string([[
    return { place = function(actor, runners)
      seen = runners
      local want = actor.name
      if want == "stray" then return "nope" end
      if want == "number" then return 7 end
      if want == "table" then return { name = "x" } end
      if want == "false" then return false end
      if want == "builtin" then return nil end
      if want == "gpu" then
        for _, r in ipairs(runners) do if type(r.metadata) == "table" and r.metadata.pool == "gpu" then return r end end
      end
      if want == "mutate" then runners[1].id = "c"; runners[1].metadata.pool = "cpu"; return "c" end
      return want
    end }]], "place"))

  it("accepts a candidate's id or the candidate itself", function()
    assert.are.equal("c", P.call_place(pol, { name = "c" }, runners))
    assert.are.equal("a", P.call_place(pol, { name = "gpu" }, runners))
  end)

  it("answers nil for nil and false", function()
    assert.is_nil(P.call_place(pol, { name = "builtin" }, runners))
    assert.is_nil(P.call_place(pol, { name = "false" }, runners))
  end)

  it("refuses runners that are not candidates, and other types", function()
    assert.has_error(function() P.call_place(pol, { name = "stray" }, runners) end,
      "place: returned runner nope is not a candidate")
    assert.has_error(function() P.call_place(pol, { name = "a" }, { runners[2] }) end,
      "place: returned runner a is not a candidate")
    assert.has_error(function() P.call_place(pol, { name = "number" }, runners) end,
      "place: expected a runner id, a runner table or nil, got number")
    assert.has_error(function() P.call_place(pol, { name = "table" }, runners) end,
      "place: the returned runner table has no string id")
  end)

  it("hands the hook copies of the candidates with JSON metadata parsed", function()
    P.call_place(pol, { name = "c" }, runners)
    local seen = pol.env.seen
    assert.are.same({ pool = "gpu", tags = { "x" } }, seen[1].metadata)
    assert.are.equal('{"pool":"gpu","tags":["x"]}', seen[1].metadata_raw)
    assert.are.equal("not json", seen[2].metadata)
    assert.is_nil(seen[3].metadata)
    assert.are.equal(4, seen[2].free_slots)
    -- What the hook does to its copies changes nothing outside, nor the next call's view.
    assert.are.equal("c", P.call_place(pol, { name = "mutate" }, runners))
    assert.are.equal("a", runners[1].id)
    assert.are.equal("a", P.call_place(pol, { name = "gpu" }, runners))
  end)
end)

describe("sett.policy can_hibernate", function()
  local pol = assert(P.load_string([[
    return { can_hibernate = function(actor, req, runner_says)
      if actor.name == "chatty" then return false end
      if actor.name == "follow" then return runner_says end
      if actor.name == "vague" then return nil end
      if actor.name == "yes" then return "yes" end
      return req.path == "/ws"
    end }]]))

  it("has the final word", function()
    assert.is_false(P.call_can_hibernate(pol, { name = "chatty" }, {}, true))
    assert.is_true(P.call_can_hibernate(pol, { name = "x" }, { path = "/ws" }, false))
    assert.is_false(P.call_can_hibernate(pol, { name = "follow" }, {}, false))
  end)

  it("refuses anything but a boolean", function()
    assert.has_error(function() P.call_can_hibernate(pol, { name = "vague" }, {}, true) end,
      "can_hibernate: expected a boolean, got nil (return runner_says to keep the runner's answer)")
    assert.has_error(function() P.call_can_hibernate(pol, { name = "yes" }, {}, true) end,
      "can_hibernate: expected a boolean, got string")
  end)
end)

describe("sett.policy timeouts", function()
  local defaults = {
    ping_interval_ms = 3000, ping_timeout_ms = 30000, websocket_open_timeout_ms = 15000,
    response_start_timeout_ms = 300000, hibernation_threshold_ms = 90000,
    max_pending_bytes = 1048576, ack_timeout_ms = 30000,
  }
  local bounds = {}
  for k, v in pairs(defaults) do bounds[k] = { v / 10, v * 10 } end

  local function timeouts(answer, b)
    local pol = assert(P.load_string("return { timeouts = function(actor) return A end }"))
    pol.env.A = answer
    return P.call_timeouts(pol, { name = "x" }, defaults, b or bounds)
  end

  it("overlays the answer on the defaults", function()
    local t = timeouts({ ping_interval_ms = 1000, max_pending_bytes = 2097152 })
    assert.are.equal(1000, t.ping_interval_ms)
    assert.are.equal(2097152, t.max_pending_bytes)
    assert.are.equal(30000, t.ack_timeout_ms)
    assert.are.equal(7, (function() local n = 0 for _ in pairs(t) do n = n + 1 end return n end)())
  end)

  it("answers the defaults for nil and false", function()
    assert.are.same(defaults, timeouts(nil))
    assert.are.same(defaults, timeouts(false))
    assert.are.same(defaults, timeouts({}))
  end)

  it("clamps each answer to its bounds", function()
    local t = timeouts({ ping_interval_ms = 1, ack_timeout_ms = 99999999, ping_timeout_ms = 0 })
    assert.are.equal(300, t.ping_interval_ms)
    assert.are.equal(300000, t.ack_timeout_ms)
    assert.are.equal(3000, t.ping_timeout_ms)
    t = timeouts({ ping_interval_ms = 1 }, { ping_interval_ms = { min = 50, max = 60 } })
    assert.are.equal(50, t.ping_interval_ms)
    t = timeouts({ ping_interval_ms = 1 }, {})
    assert.are.equal(1, t.ping_interval_ms)
  end)

  it("refuses unknown keys, non-integers, negatives and other types", function()
    assert.has_error(function() timeouts({ colour = 1 }) end,
      'timeouts: unknown key "colour" (known: ping_interval_ms, ping_timeout_ms, websocket_open_timeout_ms, response_start_timeout_ms, hibernation_threshold_ms, max_pending_bytes, ack_timeout_ms)')
    assert.has_error(function() timeouts({ ping_interval_ms = 1.5 }) end, "timeouts: ping_interval_ms must be an integer, got 1.5")
    assert.has_error(function() timeouts({ ping_interval_ms = "1000" }) end, 'timeouts: ping_interval_ms must be an integer, got "1000"')
    assert.has_error(function() timeouts({ ping_interval_ms = math.huge }) end, "timeouts: ping_interval_ms must be an integer, got inf")
    assert.has_error(function() timeouts({ ping_interval_ms = 0 / 0 }) end)
    assert.has_error(function() timeouts({ ping_interval_ms = -5 }) end, "timeouts: ping_interval_ms must not be negative, got -5")
    assert.has_error(function() timeouts(30) end, "timeouts: expected a table or nil, got number")
    assert.has_error(function() timeouts({ ping_interval_ms = 5 }, { ping_interval_ms = "x" }) end,
      "timeouts: bounds for ping_interval_ms must be {min, max}")
  end)

  it("passes the actor", function()
    local pol = assert(P.load_string([[return { timeouts = function(actor)
      if actor.name == "game" then return { ping_interval_ms = 500 } end end }]]))
    assert.are.equal(500, P.call_timeouts(pol, { name = "game" }, defaults, bounds).ping_interval_ms)
    assert.are.equal(3000, P.call_timeouts(pol, { name = "chat" }, defaults, bounds).ping_interval_ms)
  end)
end)

describe("sett.policy auto_response", function()
  local pol = assert(P.load_string([[
    return { auto_response = function(actor, msg, binary)
      if binary then return "bin:" .. #msg end
      if msg == "ping" then return "pong" end
      if msg == "empty" then return "" end
      if msg == "false" then return false end
      if msg == "number" then return 1 end
    end }]]))

  it("answers a string or nil", function()
    assert.are.equal("pong", P.call_auto_response(pol, {}, "ping", false))
    assert.are.equal("", P.call_auto_response(pol, {}, "empty", false))
    assert.are.equal("bin:3", P.call_auto_response(pol, {}, "\0\1\2", true))
    assert.is_nil(P.call_auto_response(pol, {}, "hello", false))
    assert.is_nil(P.call_auto_response(pol, {}, "false", false))
  end)

  it("refuses other types", function()
    assert.has_error(function() P.call_auto_response(pol, {}, "number", false) end,
      "auto_response: expected a string or nil, got number")
  end)

  it("refuses a text answer that is not UTF-8, and lets binary ones be any bytes", function()
    local echo = assert(P.load_string("return { auto_response = function(actor, msg) return msg:sub(2) end }"))
    assert.are.equal("h\195\169", P.call_auto_response(echo, {}, ".h\195\169", false))
    assert.has_error(function() P.call_auto_response(echo, {}, ".\255", false) end,
      "auto_response: the answer to a text message must be valid UTF-8")
    assert.are.equal("\255", P.call_auto_response(echo, {}, ".\255", true))
  end)
end)

describe("sett.policy reload", function()
  it("leaves a loaded policy untouched when the file is loaded again", function()
    local path = file("local n = 0; return { route = function() n = n + 1; return 'v1-' .. n end }")
    local old = assert(P.load(path))
    assert.are.same({ "actor", "v1-1" }, { P.call_route(old, {}) })
    local f = assert(io.open(path, "wb"))
    f:write("return { route = function() return 'v2' end }")
    f:close()
    local new = assert(P.load(path))
    assert.are.same({ "actor", "v2" }, { P.call_route(new, {}) })
    assert.are.same({ "actor", "v1-2" }, { P.call_route(old, {}) })
    assert.are_not.equal(old.env, new.env)
  end)

  it("returns the error and no policy for a broken file, the old one still answering", function()
    local path = file("return { route = function() return 'good' end }")
    local old = assert(P.load(path))
    for _, broken in ipairs({ "return { route = function( end }", "return { route = 1 }",
                              "return { route = function() end, self_test = function() error('bad') end }" }) do
      local f = assert(io.open(path, "wb"))
      f:write(broken)
      f:close()
      local new, err = P.load(path)
      assert.is_nil(new)
      assert.is_string(err)
      assert.are.same({ "actor", "good" }, { P.call_route(old, {}) })
    end
  end)
end)

describe("sett.policy helpers", function()
  it("parses metadata only when it is a JSON object or array", function()
    assert.are.same({ pool = "gpu" }, P.parse_metadata('{"pool":"gpu"}'))
    assert.are.same({ 1, 2 }, P.parse_metadata("[1,2]"))
    assert.are.equal("{broken", P.parse_metadata("{broken"))
    assert.are.equal("gpu", P.parse_metadata("gpu"))
    assert.are.equal('"gpu"', P.parse_metadata('"gpu"'))
    assert.is_nil(P.parse_metadata(nil))
  end)

  it("knows each hook's built-in answer", function()
    assert.are.equal("builtin", P.builtin("route", {}))
    assert.is_nil(P.builtin("place", {}, {}))
    assert.is_true(P.builtin("can_hibernate", {}, {}, true))
    assert.are.same({ a = 1 }, P.builtin("timeouts", {}, { a = 1 }, {}))
    assert.is_nil(P.builtin("auto_response", {}, "x", false))
    assert.has_error(function() P.builtin("nope") end)
  end)
end)

-- The example policies' specs: examples/policies/*_spec.lua run in this suite as they are.
do
  local dir = require "pl.dir"
  local specs = dir.getfiles("examples/policies", "*_spec.lua")
  table.sort(specs)
  assert(#specs >= 3, "examples/policies has its specs")
  for _, path in ipairs(specs) do
    local chunk = assert(loadfile(path))
    setfenv(chunk, getfenv(1))
    chunk()
  end
end

describe("sett.policy authorize", function()
  local kit = require "sett.testkit"
  local pol = assert(P.load_string([[
    return { authorize = function(req, target)
      if target.token == "good" then return true end
      if target.token == nil then return false end
      if target.token == "odd" then return 42 end
      if target.token == "ok-status" then return { status = 200 } end
      return { status = 401, headers = { ["www-authenticate"] = "Bearer" }, body = "bad token for " .. target.actor.name }
    end }]]))

  it("lets a request through, refuses with 403 or the policy's own answer", function()
    assert.is_true(kit.authorize(pol, "/x", { token = "good" }))
    local ok, answer = kit.authorize(pol, "/x")
    assert.is_false(ok)
    assert.are.equal(403, answer.status)
    assert.are.same({ group = "policy", code = "forbidden", message = "The policy refused this request." },
      require("sett.json").decode(answer.body))
    ok, answer = kit.authorize(pol, "/x", { token = "stale", actor = "room" })
    assert.is_false(ok)
    assert.are.same({ status = 401, headers = { ["www-authenticate"] = "Bearer" }, body = "bad token for room" }, answer)
  end)

  it("checks the answer and refuses when the hook fails", function()
    assert.has_error(function() kit.authorize(pol, "/x", { token = "odd" }) end,
      "authorize: expected true, false or a table { status, headers, body }, got number")
    assert.has_error(function() kit.authorize(pol, "/x", { token = "ok-status" }) end,
      "authorize: a refusal needs a status in [400, 599], got 200")
    local ok, answer = kit.call(pol, "authorize", "/x", { token = "odd" })
    assert.is_false(ok)
    assert.are.equal(500, answer.status)
    assert.matches('"code":"authorize_failed"', answer.body, 1, true)
    assert.is_true(P.call_authorize(assert(P.load_string("return {}")), {}, {}))
  end)
end)

describe("sett.policy cors", function()
  local kit = require "sett.testkit"
  local pol = assert(P.load_string([[
    return { cors = function(req)
      local o = req.headers.origin
      if o == "https://app.example" then return true end
      if o == "https://evil.example" then return false end
      if o == "https://one.example" then return "https://canonical.example" end
      if o == "https://odd.example" then return 42 end
      if o == "https://bad.example" then return "https://Canonical.example/" end
      if o == "https://boom.example" then error("boom") end
      return nil
    end }]]))
  local function from(origin) return { url = "/actors", headers = { Origin = origin } } end

  it("allows, refuses, names the origin to send, or leaves it to cors.origins", function()
    assert.are.same({ "allow" }, { kit.cors(pol, from("https://app.example")) })
    assert.are.same({ "refuse" }, { kit.cors(pol, from("https://evil.example")) })
    assert.are.same({ "allow", "https://canonical.example" }, { kit.cors(pol, from("https://one.example")) })
    assert.are.same({ "builtin" }, { kit.cors(pol, from("https://other.example")) })
    assert.are.same({ "builtin" }, { kit.cors(assert(P.load_string("return {}")), from("https://app.example")) })
  end)

  it("checks the answer; a failing hook leaves it to cors.origins, logged and counted", function()
    kit.reset()
    assert.has_error(function() kit.cors(pol, from("https://odd.example")) end,
      "cors: expected true, false, an origin string or nil, got number")
    assert.has_error(function() kit.cors(pol, from("https://bad.example")) end,
      'cors: an origin must be "scheme://host[:port]" in lowercase, or "*", got "https://Canonical.example/"')
    assert.are.same({ "builtin" }, { kit.call(pol, "cors", from("https://boom.example")) })
    assert.are.equal(1, kit.errors("cors"))
    assert.truthy(kit.find_log("policy hook failed", "error"))
  end)
end)
