local ci = dofile("tools/check_includes.lua")

local TABLE = [[
| folder | owns | prefixes | may include |
|---|---|---|---|
| `src/core/` | basics | `sx_` | nothing |
| `src/net/` | transport | `net_` | `core` |
| `src/gateway/` | the gateway half | `gw_` | `core`, `net` |
| `src/main.c` | the command line | `cmd_` | `core`, `gateway` |
]]

describe("tools/check_includes.lua", function()
  local rules = ci.parse_rules(TABLE)

  it("reads each row's folder and the folders it may include", function()
    assert.are.same({}, rules.core)
    assert.are.same({ core = true }, rules.net)
    assert.are.same({ core = true, net = true }, rules.gateway)
    assert.are.same({ core = true, gateway = true }, rules["main.c"])
    assert.is_nil(rules.folder)
  end)

  it("accepts the folder's own headers, listed folders and system headers", function()
    local text = '#include <stdio.h>\n#include "gateway/gw_impl.h"\n#include "net/server.h"\n'
      .. '#include "core/buf.h"\n'
    assert.are.same({}, ci.check_text("gateway", text, rules))
  end)

  it("names the line of an include the row does not list", function()
    local text = '#include "core/buf.h"\n\n#include "gateway/gw.h"\n'
    local errs = ci.check_text("net", text, rules)
    assert.are.equal(1, #errs)
    assert.are.equal(3, errs[1].line)
    assert.matches("src/net may not include gateway/", errs[1].message, 1, true)
  end)

  it("lets core include nothing of sett", function()
    local errs = ci.check_text("core", '#include "net/server.h"\n', rules)
    assert.are.equal(1, #errs)
  end)

  it("refuses an include without a folder and another folder's private header", function()
    local errs = ci.check_text("gateway", '#include "gw.h"\n#include "net/conn_impl.h"\n', rules)
    assert.are.equal(2, #errs)
    assert.are.equal(1, errs[1].line)
    assert.matches("names no folder", errs[1].message, 1, true)
    assert.are.equal(2, errs[2].line)
    assert.matches("private to src/net/", errs[2].message, 1, true)
  end)

  it("finds nothing to report in the tree as it is", function()
    assert.are.same({}, ci.check_tree("."))
  end)

  it("reports a folder of src/ that has no row, with file and line for its includes", function()
    local root = os.tmpname()
    os.remove(root)
    assert(os.execute("mkdir -p " .. root .. "/docs " .. root .. "/src/net " .. root .. "/src/extra"))
    local function write(path, s)
      local f = assert(io.open(root .. "/" .. path, "wb"))
      f:write(s)
      f:close()
    end
    write("docs/hacking.md", TABLE)
    write("src/net/server.c", '#include "core/buf.h"\n#include "gateway/gw.h"\n')
    write("src/extra/x.c", "\n")
    local out = ci.check_tree(root)
    os.execute("rm -rf " .. root)
    table.sort(out)
    assert.are.same({
      "docs/hacking.md: the include table names src/core/, which does not exist",
      "docs/hacking.md: the include table names src/gateway/, which does not exist",
      "src/extra: folder without a row in docs/hacking.md's include table",
      'src/net/server.c:2: src/net may not include gateway/ ("gateway/gw.h"): docs/hacking.md does not list it',
    }, out)
  end)
end)
