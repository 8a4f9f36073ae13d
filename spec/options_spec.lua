-- A policy's options: policy = { file =, options = } in the configuration, sett.options in the
-- policy, and sett.check_options(schema) with the key path in every error.
local config = require "sett.config"
local kit = require "sett.testkit"

describe("policy options in the configuration", function()
  it("keeps the string form", function()
    local cfg = assert(config.validate({ policy = "p.lua" }))
    assert.are.equal("p.lua", cfg.policy)
    assert.is_nil(cfg.policy_options)
  end)

  it("takes { file, options } and hands the options on beside the file", function()
    local cfg = assert(config.validate({ policy = { file = "p.lua", options = { rooms = { max = 3 }, name = "x" } } }))
    assert.are.equal("p.lua", cfg.policy)
    assert.are.same({ rooms = { max = 3 }, name = "x" }, cfg.policy_options)
  end)

  it("names the key path of what is wrong", function()
    local _, errs = config.validate({ policy = { options = {} } })
    assert.are.same({ 'policy.file: expected a string, got nil' }, errs)
    _, errs = config.validate({ policy = { file = "p.lua", option = {} } })
    assert.are.same({ "policy.option: unknown key" }, errs)
    _, errs = config.validate({ policy = { file = "p.lua", options = { f = function() end } } })
    assert.are.same({ "policy.options.f: expected a string, number, boolean or table, got function" }, errs)
    _, errs = config.validate({ policy = { file = "p.lua", options = 3 } })
    assert.are.same({ "policy.options: expected a table, got 3" }, errs)
    _, errs = config.validate({ policy = 3 })
    assert.are.same({ 'policy: expected a file name or { file = "...", options = { ... } }, got 3' }, errs)
  end)
end)

describe("sett.options and sett.check_options", function()
  before_each(function() kit.reset() end)

  local src = [[
    local sett = require "sett"
    local opts = sett.check_options({
      rooms = { type = "table", fields = {
        max = { type = "integer", min = 1, max = 10000, default = 50 },
        mode = { type = "enum", values = { "open", "closed" }, default = "open" },
      } },
      tokens = { type = "map", value = { type = "string" } },
      ratio = { type = "number", min = 0, max = 1, default = 0.5 },
    })
    local top_max = opts.rooms.max
    return {
      route = function(req)
        return { status = 200, body = top_max .. " " .. sett.options.rooms.mode .. " " .. sett.options.ratio
                 .. " " .. tostring(sett.options.tokens and sett.options.tokens.chat) }
      end,
    }
  ]]

  it("gives the policy its options with the schema's defaults", function()
    local pol = kit.load_string(src, "p.lua", { options = { rooms = { max = 7 }, tokens = { chat = "s3" } } })
    local kind, answer = kit.route(pol, "/")
    assert.are.equal("respond", kind)
    assert.are.equal("7 open 0.5 s3", answer.body)
    pol = kit.load_string(src, "p.lua")
    assert.are.equal("50 open 0.5 nil", select(2, kit.route(pol, "/")).body)
  end)

  it("refuses the load with the key path of every wrong option", function()
    local pol, err = kit.try_load_string(src, "p.lua", { options = { rooms = { max = "x", mode = "ajar" }, ratio = 2, tokens = { chat = 1 }, extra = true } })
    assert.is_nil(pol)
    assert.matches('policy.options.rooms.max: expected an integer, got "x"', err, 1, true)
    assert.matches('policy.options.rooms.mode: expected one of open, closed, got "ajar"', err, 1, true)
    assert.matches("policy.options.ratio: expected a number in [0, 1], got 2", err, 1, true)
    assert.matches("policy.options.tokens.chat: expected a string, got 1", err, 1, true)
    assert.matches("policy.options.extra: unknown key", err, 1, true)
  end)

  it("gives each load its own copy, and without a schema the options as given", function()
    local opts = { list = { 1, 2 } }
    local pol = kit.load_string([[
      local sett = require "sett"
      sett.options.list[1] = 9
      return { route = function() return { status = 200, body = tostring(#sett.options.list) } end }
    ]], "p.lua", { options = opts })
    assert.are.equal(1, opts.list[1])
    assert.are.equal("2", select(2, kit.route(pol, "/")).body)
  end)

  it("says when the schema itself is not one", function()
    local pol, err = kit.try_load_string([[
      require("sett").check_options({ a = { type = "integer", min = 1 } })
      return {}
    ]], "p.lua", { options = { a = 0 } })
    assert.is_nil(pol)
    assert.matches("sett.check_options: the schema is not valid", err, 1, true)
  end)
end)
