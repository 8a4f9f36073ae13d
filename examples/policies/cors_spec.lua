-- busted examples/policies/cors_spec.lua   (from the repository root)
local kit = require "sett.testkit"
local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"

describe("examples/policies/cors.lua", function()
  local pol

  before_each(function()
    kit.reset()
    pol = kit.load(here .. "cors.lua")
  end)

  local function from(origin, path)
    return { url = path or "/actors", headers = { origin = origin } }
  end

  it("lets the app's origins, preview subdomains and localhost read answers", function()
    for _, o in ipairs({ "https://app.example.com", "https://admin.example.com",
                         "https://pr-42.preview.example.com", "http://localhost:5173", "http://localhost" }) do
      assert.are.equal("allow", kit.cors(pol, from(o)), o)
    end
  end)

  it("refuses look-alikes and counts the refusals by route", function()
    for _, o in ipairs({ "https://app.example.com.evil.net", "http://app.example.com",
                         "https://a.b.preview.example.com", "https://localhost:5173", "null" }) do
      assert.are.equal("refuse", kit.cors(pol, from(o)), o)
    end
    kit.cors(pol, from("https://evil.example", "/gateway/abc/x"))
    assert.are.equal(5, kit.metric("policy_cors_refused_total", { route = "api" }))
    assert.are.equal(1, kit.metric("policy_cors_refused_total", { route = "gateway" }))
  end)
end)
