-- busted examples/policies/host_routes_spec.lua   (from the repository root)
local kit = require "sett.testkit"
local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"

describe("examples/policies/host_routes.lua", function()
  local pol

  before_each(function()
    kit.reset()
    pol = kit.load(here .. "host_routes.lua")
  end)

  it("gets or creates one chat room per name, whatever the host's case or port", function()
    local kind, target = kit.route(pol, { url = "/rooms/blue/messages?since=4", host = "Chat.Example.com:8443" })
    assert.are.equal("create", kind)
    assert.are.same({ name = "room", key = "blue", runner = "chat", crash_policy = "sleep" }, target)
  end)

  it("keys documents by team and id and gives new ones their identity as input", function()
    local kind, target = kit.route(pol, { url = "/d/roadmap/edit", host = "acme.docs.example.com" })
    assert.are.equal("create", kind)
    assert.are.equal("document", target.name)
    assert.are.equal("acme/roadmap", target.key)
    assert.are.equal("docs", target.runner)
    assert.are.equal("restart", target.crash_policy)     -- the default
    assert.are.same({ team = "acme", doc = "roadmap" }, require("sett.json").decode(target.input))
  end)

  it("keys users by their numeric id", function()
    local kind, target = kit.route(pol, { method = "POST", url = "/v1/users/42/orders", host = "api.example.com" })
    assert.are.equal("create", kind)
    assert.are.same({ name = "user", key = "42", runner = "api", crash_policy = "restart" }, target)
  end)

  it("answers 404 for other paths of its hosts, and counts them", function()
    local kind, answer = kit.route(pol, { url = "/v1/users/me", host = "api.example.com" })
    assert.are.equal("respond", kind)
    assert.are.equal(404, answer.status)
    assert.are.equal("text/plain", answer.headers["content-type"])
    kit.route(pol, { url = "/lobby", host = "chat.example.com" })
    assert.are.equal(2, kit.metric("policy_host_routes_not_found_total"))
  end)

  it("answers /healthz on any host without an actor", function()
    for _, host in ipairs({ "chat.example.com", "localhost", "10.0.0.1:6420" }) do
      local kind, answer = kit.route(pol, { url = "/healthz", host = host })
      assert.are.equal("respond", kind)
      assert.are.same({ status = 200, headers = { ["content-type"] = "text/plain" }, body = "ok\n" }, answer)
    end
  end)

  it("leaves other hosts to the built-in routes", function()
    assert.are.equal("builtin", kit.route(pol, { url = "/rooms/blue", host = "localhost:6420" }))
    assert.are.equal("builtin", kit.route(pol, { url = "/gateway/abc/x", host = "127.0.0.1" }))
    assert.are.equal("builtin", kit.route(pol, { url = "/rooms/blue", host = "chat.example.com.evil.test" }))
  end)
end)
