local kit = require "sett.testkit"

describe("examples/policies/tokens.lua", function()
  local pol
  before_each(function()
    kit.reset()
    pol = kit.load("examples/policies/tokens.lua")
  end)

  it("lets a request with its actor's token through", function()
    assert.is_true(kit.authorize(pol, "/gateway/a1/x", { actor = "room", token = "room-token-change-me" }))
    assert.is_true(kit.authorize(pol, "/gateway/a1/x", { actor = "doc", token = "doc-token-change-me" }))
  end)

  it("refuses a wrong, missing or other actor's token with 403 and counts it", function()
    for _, token in ipairs({ "nope", false, "doc-token-change-me" }) do
      local ok, answer = kit.authorize(pol, "/gateway/a1/x", { actor = "room", token = token or nil })
      assert.is_false(ok)
      assert.are.equal(403, answer.status)
      assert.are.equal("bad_token", require("sett.json").decode(answer.body).code)
    end
    assert.is_false((kit.authorize(pol, "/x", { actor = "unknown", token = "room-token-change-me" })))
    assert.are.equal(4, kit.metric("policy_token_refusals_total"))
  end)

  it("keeps its refusal counts across a reload and logs them every minute", function()
    kit.authorize(pol, "/x", { actor = "room", token = "bad" })
    local again = kit.load("examples/policies/tokens.lua")
    kit.authorize(again, "/x", { actor = "room", token = "bad" })
    require("sett.policy").retire(pol)
    kit.advance(60000)
    local line = kit.find_log("token refusals")
    assert.are.same({ actor = "room", total = 2 }, line.fields)
    assert.are.equal(1, #kit.logs("info"))
  end)
end)
