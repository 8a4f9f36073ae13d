-- sett.read_file: a policy reads files only below the directories the configuration names in
-- policy.read_dirs.
local config = require "sett.config"
local kit = require "sett.testkit"

local function tmpdir()
  local p = os.tmpname()
  os.remove(p)
  assert(os.execute("mkdir -p " .. p .. "/routes " .. p .. "/other") == 0 or true)
  return p
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

describe("sett.read_file", function()
  local dir
  before_each(function()
    kit.reset()
    dir = tmpdir()
    write(dir .. "/routes/table.json", '{"blue":"actor-1"}')
    write(dir .. "/other/secret", "no")
  end)
  after_each(function() os.execute("rm -rf " .. dir) end)

  local src = [[
    local sett = require "sett"
    return { route = function(req)
      local data, err = sett.read_file(req.query)
      return { status = data and 200 or 403, body = data or err }
    end }
  ]]

  local function read(pol, path)
    local _, answer = kit.route(pol, { path = "/", query = path })
    return answer.status, answer.body
  end

  it("reads a file below a named directory", function()
    local pol = kit.load_string(src, "p.lua", { read_dirs = { dir .. "/routes" } })
    assert.are.same({ 200, '{"blue":"actor-1"}' }, { read(pol, dir .. "/routes/table.json") })
  end)

  it("refuses paths outside them, relative paths and . or .. segments", function()
    local pol = kit.load_string(src, "p.lua", { read_dirs = { dir .. "/routes" } })
    local st, body = read(pol, dir .. "/other/secret")
    assert.are.equal(403, st)
    assert.matches("is not below a directory of policy.read_dirs", body, 1, true)
    assert.matches("absolute path without", select(2, read(pol, dir .. "/routes/../other/secret")), 1, true)
    assert.matches("absolute path without", select(2, read(pol, "routes/table.json")), 1, true)
    assert.matches("is not below", select(2, read(pol, dir .. "/routesX/table.json")), 1, true)
    assert.matches("is not below", select(2, read(pol, dir .. "/routes")), 1, true)
  end)

  it("reads nothing without read_dirs", function()
    local pol = kit.load_string(src, "p.lua")
    assert.are.equal(403, (read(pol, dir .. "/routes/table.json")))
  end)

  it("says when a file is missing or too large", function()
    local pol = kit.load_string(src, "p.lua", { read_dirs = { dir } })
    assert.matches("No such file", select(2, read(pol, dir .. "/routes/none")), 1, true)
    local old = kit.policy.READ_FILE_MAX
    kit.policy.READ_FILE_MAX = 4
    assert.matches("more than the 4 a policy may read", select(2, read(pol, dir .. "/routes/table.json")), 1, true)
    kit.policy.READ_FILE_MAX = old
  end)

  it("takes read_dirs from the configuration, checked", function()
    local cfg = assert(config.validate({ policy = { file = "p.lua", read_dirs = { "/etc/sett/", "/srv" } } }))
    assert.are.same({ "/etc/sett", "/srv" }, cfg.policy_read_dirs)
    local _, errs = config.validate({ policy = { file = "p.lua", read_dirs = { "etc", "/a/../b" } } })
    assert.are.same({
      'policy.read_dirs[1]: expected an absolute directory path without . or .., got "etc"',
      'policy.read_dirs[2]: expected an absolute directory path without . or .., got "/a/../b"',
    }, errs)
  end)
end)
