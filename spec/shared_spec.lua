-- sett.shared: a table a reloaded policy finds again, with its operations, its caps and its
-- refusals.
local kit = require "sett.testkit"
local sett = require "sett"

describe("sett.shared", function()
  before_each(function() kit.reset() end)

  it("survives a reload: the next policy finds what the old one stored", function()
    local src = [[
      local sett = require "sett"
      local seen = sett.shared("seen")
      return { route = function(req)
        local n = seen:incr(req.path, 1)
        return { status = 200, body = tostring(n) .. " " .. tostring(seen:get("note")) }
      end,
      self_test = function() end }]]
    local old = kit.load_string(src)
    assert.are.equal("1 nil", select(2, kit.route(old, "/a")).body)
    assert.are.equal("2 nil", select(2, kit.route(old, "/a")).body)
    sett.shared("seen"):set("note", "kept")
    local new = kit.load_string(src)
    assert.are.equal("3 kept", select(2, kit.route(new, "/a")).body)
    assert.are.equal("1 kept", select(2, kit.route(new, "/b")).body)
  end)

  it("gets, sets, adds, counts and lists", function()
    local d = sett.shared("ops")
    assert.is_nil(d:get("k"))
    d:set("k", "v")
    d:set("n", 2.5)
    assert.are.equal("v", d:get("k"))
    assert.are.equal(2.5, d:get("n"))
    assert.is_false(d:add("k", "other"))
    assert.is_true(d:add("new", 1))
    assert.are.equal(11, d:incr("new", 10))
    assert.are.equal(105, d:incr("fresh", 5, 100))
    assert.are.same({ "fresh", "k", "n", "new" }, d:keys())
    assert.are.equal(4, d:count())
    assert.are.equal(#"fresh" + 8 + #"k" + 1 + #"n" + 8 + #"new" + 8, d:bytes())
    d:set("k", nil)
    d:delete("n")
    d:delete("absent")
    assert.are.same({ "fresh", "new" }, d:keys())
    d:flush()
    assert.are.equal(0, d:count())
    assert.are.equal(0, d:bytes())
    assert.are.equal(d, sett.shared("ops"))
  end)

  it("keeps to its cap and says so", function()
    local d = sett.shared("small", { max_bytes = 20 })
    assert.are.equal(20, d:max_bytes())
    d:set("a", string.rep("x", 10))          -- 11 bytes
    d:set("b", 1)                            -- 9 more: 20
    assert.has_error(function() d:set("c", "y") end, "sett.shared small: set: full (20 of 20 bytes used)")
    d:set("a", "short")                      -- replacing frees what the old value held
    d:set("c", "y")
    assert.are.equal(17, d:bytes())
    d:incr("b", 1e300)                       -- a number is 8 bytes, whatever it holds
    assert.are.equal(17, d:bytes())
  end)

  it("refuses what it cannot hold", function()
    local d = sett.shared("strict")
    assert.has_error(function() d:set(1, "v") end, "sett.shared strict: set: key must be a string, got number")
    assert.has_error(function() d:set("k", {}) end, "sett.shared strict: set: value must be a string or a number, got table")
    assert.has_error(function() d:set("k", 0 / 0) end, "sett.shared strict: set: value must not be NaN")
    assert.has_error(function() d:set(string.rep("k", 1025), "v") end, "sett.shared strict: set: key longer than 1024 bytes")
    d:set("s", "text")
    assert.has_error(function() d:incr("s", 1) end, "sett.shared strict: incr: s holds a string, not a number")
    assert.has_error(function() sett.shared("bad name") end)
    assert.has_error(function() sett.shared("x", { max_bytes = 0 }) end,
      "sett.shared: opts.max_bytes must be an integer from 1 to 67108864")
    for i = 1, 63 do sett.shared("t" .. i) end   -- with "strict", 64

    assert.has_error(function() sett.shared("one-too-many") end, "sett.shared: at most 64 tables (asked for one-too-many)")
  end)

  it("is reachable from a policy, whose view of the module is read-only", function()
    local pol = kit.load_string([[
      local shared = require "sett.shared"
      local d = require("sett").shared("from-policy")
      d:set("k", "v")
      assert(shared.open("from-policy"):get("k") == "v")
      return {}]])
    assert.is_table(pol)
    assert.are.equal("v", sett.shared("from-policy"):get("k"))
    local _, err = kit.try_load_string([[require("sett.shared").open = nil return {}]])
    assert.matches("read-only", err, 1, true)
  end)
end)
