-- busted examples/policies/runner_pools_spec.lua   (from the repository root)
local kit = require "sett.testkit"
local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"

describe("examples/policies/runner_pools.lua", function()
  local pol, runners

  before_each(function()
    kit.reset()
    pol = kit.load(here .. "runner_pools.lua")
    runners = kit.runners({
      { id = "gpu-1", metadata = { pool = "gpu", region = "us" }, free_slots = 2, rtt_ms = 9 },
      { id = "gpu-2", metadata = { pool = "gpu", region = "eu" }, free_slots = 5, rtt_ms = 9 },
      { id = "cpu-1", metadata = { pool = "cpu", region = "eu" }, free_slots = 5, rtt_ms = 4 },
      { id = "cpu-2", metadata = { pool = "cpu", region = "us" }, free_slots = 5, rtt_ms = 2 },
    })
  end)

  it("puts render actors on the gpu pool, the runner with the most room first", function()
    assert.are.equal("gpu-2", kit.place(pol, kit.actor("render"), runners))
    runners[2].free_slots = 0
    assert.are.equal("gpu-1", kit.place(pol, kit.actor("render"), runners))
  end)

  it("puts billing actors in the eu region", function()
    runners[2].free_slots = 1
    assert.are.equal("cpu-1", kit.place(pol, kit.actor("billing"), runners))
  end)

  it("keeps other actors off the gpu pool, preferring the nearest of equals", function()
    assert.are.equal("cpu-2", kit.place(pol, kit.actor("chat"), runners))
    runners[4].free_slots = 0
    runners[3].free_slots = 0
    -- Only gpu runners have room left: better there than nowhere.
    assert.are.equal("gpu-2", kit.place(pol, kit.actor("chat"), runners))
  end)

  it("leaves a pinned actor to the built-in choice when its pool is absent, with a warning", function()
    local only_cpu = { runners[3], runners[4] }
    local actor = kit.actor({ id = "a-7", name = "render" })
    assert.is_nil(kit.place(pol, actor, only_cpu))
    assert.are.equal(1, kit.metric("policy_pool_unmatched_total"))
    local line = kit.find_log("no runner of the actor's pool", "warn")
    assert.is_truthy(line)
    assert.are.same({ actor = "a-7", name = "render" }, line.fields)
  end)

  it("ignores metadata that is not JSON", function()
    local odd = kit.runners({ { id = "odd", metadata = "gpu" }, { id = "plain" } })
    assert.are.equal("odd", kit.place(pol, kit.actor("chat"), { odd[1] }))
    assert.is_nil(kit.place(pol, kit.actor("render"), odd))
  end)
end)
