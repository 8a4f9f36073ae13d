-- sett.json, the C JSON (src/core/json.c) for Lua, loaded from build/lua/sett/json.so: decoding
-- with its errors and limits, encoding with its rules and refusals, and the UTF-8 test.
local json = require "sett.json"
local sett = require "sett"

describe("sett.json", function()
  it("is the module sett.json names", function()
    assert.are.equal(json, sett.json)
  end)

  describe("decode", function()
    it("reads every kind of value", function()
      assert.are.same({ a = { 1, 2.5, -3e2 }, b = "x\"\n\195\169", c = true, d = false },
        json.decode(' {"a":[1,2.5,-3e2],"b":"x\\"\\n\\u00e9","c":true,"d":false} '))
      assert.are.equal("\240\159\152\128", json.decode('"\\ud83d\\ude00"'))
      assert.are.equal(json.null, json.decode("null"))
      assert.are.same({ 1, json.null, 3 }, json.decode("[1,null,3]"))
      assert.are.equal(json.null, json.decode('{"e":null}').e)
      assert.are.equal("a\0b", json.decode('"a\\u0000b"'))
      assert.are.equal(18446744073709551615, json.decode("18446744073709551615"))
    end)

    it("says what is wrong and where", function()
      local cases = {
        { "", "sett.json: empty input at byte 0" },
        { "{", "at byte 1" },
        { "[1,]", "trailing comma in array at byte 3" },
        { '{"a"}', "at byte 4" },
        { "nul", "at byte 0" },
        { "1 2", "at byte 2" },
        { "{'a':1}", "at byte 1" },
        { '"\1"', "control character in string at byte 1" },
        { "[1-2]", "at byte 2" },
        { '{"a":1,"a":2}', "duplicate object key at byte 7" },
        { '"\255"', "invalid UTF-8 in string at byte 1" },
        { '"\\ud800"', "at byte" },
      }
      for _, c in ipairs(cases) do
        local v, err = json.decode(c[1])
        assert.is_nil(v, c[1])
        assert.is_truthy(err:find(c[2], 1, true), c[1] .. " gave " .. tostring(err))
      end
      assert.has_error(function() json.decode(nil) end)
    end)

    it("keeps to its depth and size limits", function()
      local deep = string.rep("[", 65) .. string.rep("]", 65)
      local v, err = json.decode(deep)
      assert.is_nil(v)
      assert.are.equal("sett.json: nesting too deep at byte 64", err)
      assert.is_table(json.decode(deep, { max_depth = 65 }))
      assert.is_table(json.decode(string.rep("[", 64) .. string.rep("]", 64)))
      v, err = json.decode('"' .. string.rep("x", 100) .. '"', { max_bytes = 50 })
      assert.is_nil(v)
      assert.is_truthy(err:find("sett.json: ", 1, true))
      v, err = json.decode("[" .. string.rep("0,", 1048576) .. "0]")
      assert.is_nil(v)
      assert.is_truthy(err:find("sett.json: too many values at byte ", 1, true), err)
      assert.are.equal(1048575, #json.decode("[" .. string.rep("0,", 1048574) .. "0]"))
      assert.has_error(function() json.decode("1", { max_depth = 0 }) end,
        "sett.json.decode: opts.max_depth must be an integer from 1 to 1024")
      assert.has_error(function() json.decode("1", 5) end,
        "sett.json.decode: opts must be a table, got number")
    end)
  end)

  describe("encode", function()
    it("writes tables as arrays or as objects with sorted keys", function()
      assert.are.equal('{"a":[1,2.5,"x\\"\\n"],"b":true,"c":{}}',
        json.encode({ a = { 1, 2.5, 'x"\n' }, b = true, c = {} }))
      assert.are.equal('{"1":"a","3":"c","x":1}', json.encode({ [3] = "c", [1] = "a", x = 1 }))
      assert.are.equal('{"-1":0,"10":1,"9":2,"B":3,"a":4,"\195\169":5}',
        json.encode({ a = 4, [9] = 2, ["\195\169"] = 5, [10] = 1, B = 3, [-1] = 0 }))
      assert.are.equal("[]", json.encode(json.array()))
      assert.are.equal('[[],{}]', json.encode(json.decode("[[],{}]")))
      assert.are.equal('{"d":null}', json.encode({ d = json.null }))
      assert.are.equal("null", json.encode(nil))
      assert.are.equal('"\\u0001\\u001f\\t\127"', json.encode("\1\31\t\127"))
    end)

    it("writes numbers as JSON does", function()
      assert.are.equal("0", json.encode(-0.0))
      assert.are.equal("-12", json.encode(-12))
      assert.are.equal("0.1", json.encode(0.1))
      assert.are.equal("1e+300", json.encode(1e300))
      assert.are.equal("9007199254740992", json.encode(2 ^ 53))
    end)

    it("reads back what it writes", function()
      local v = { name = "room", n = { 1, 2, { deep = json.null } }, t = "\226\130\172", f = false }
      assert.are.same(v, json.decode(json.encode(v)))
    end)

    it("refuses what JSON cannot say, naming where", function()
      local cyclic = {}
      cyclic.self = cyclic
      local cases = {
        { { f = print }, 'sett.json.encode: a value of type function (at value["f"])' },
        { { x = { 0 / 0 } }, 'sett.json.encode: a number that is not finite (at value["x"][1])' },
        { "\255", "sett.json.encode: a string that is not valid UTF-8 (at value)" },
        { { ["\255"] = 1 }, "a key that is not valid UTF-8" },
        { { [1] = 1, ["1"] = 2 }, "two keys that are written alike" },
        { { [1.5] = 1 }, "a table key that is a non-integral number" },
        { { [true] = 1 }, "a table key of type boolean" },
        { cyclic, "tables nested deeper than max_depth" },
      }
      for _, c in ipairs(cases) do
        local ok, err = pcall(json.encode, c[1])
        assert.is_false(ok)
        assert.is_truthy(tostring(err):find(c[2], 1, true), tostring(err))
      end
      assert.has_error(function() json.encode(string.rep("x", 100), { max_bytes = 10 }) end,
        "sett.json.encode: the text is longer than max_bytes (at value)")
      assert.are.equal(102, #json.encode(string.rep("x", 100), { max_bytes = 102 }))
    end)
  end)

  it("knows well-formed UTF-8", function()
    for _, ok in ipairs({ "", "plain", "\195\169", "\226\130\172", "\240\159\152\128", "\0" }) do
      assert.is_true(json.valid_utf8(ok), ok)
    end
    for _, bad in ipairs({ "\128", "\195", "\195(", "\192\128", "\224\128\128", "\237\160\128",
                           "\240\128\128\128", "\244\144\128\128", "\255", "a\226\130" }) do
      assert.is_false(json.valid_utf8(bad), bad)
    end
  end)
end)
