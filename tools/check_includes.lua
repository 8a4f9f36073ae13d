-- Checks the includes of src/ against the table "Folders of src/ and what each may include" in
-- docs/hacking.md, so the map a newcomer reads is the one the code keeps:
--   luajit tools/check_includes.lua [ROOT]
-- prints one line per violation as file:line: message and exits 1 when there is any.
-- Loaded with dofile, it returns its functions for spec/check_includes_spec.lua.
local M = {}

-- The rows of the table: { ["core"] = { allowed set }, ["main.c"] = { ... } }. A row's first
-- cell is `src/<folder>/` or `src/<file>.c`, its last the folders it may include, in
-- backquotes, or "nothing".
function M.parse_rules(markdown)
  local rules = {}
  for line in markdown:gmatch("[^\n]+") do
    local first = line:match("^|%s*`src/([^`]+)`%s*|")
    if first then
      local name = first:gsub("/$", "")
      local last = line:match("|%s*([^|]*)|%s*$")
      local allowed = {}
      for dir in last:gmatch("`([^`]+)`") do
        allowed[dir] = true
      end
      rules[name] = allowed
    end
  end
  return rules
end

-- The violations in one file's text: a list of { line = n, message = s }. unit is the file's
-- folder under src/ (or "main.c" for a file at the top of src/).
function M.check_text(unit, text, rules)
  local errors = {}
  local allowed = rules[unit]
  local n = 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    local target = line:match('^%s*#%s*include%s*"([^"]+)"')
    if target then
      local dir = target:match("^([^/]+)/")
      local function fail(msg) errors[#errors + 1] = { line = n, message = msg } end
      if not dir then
        fail(('#include "%s" names no folder; write it as "dir/file.h"'):format(target))
      elseif dir ~= unit and not (allowed and allowed[dir]) then
        fail(('src/%s may not include %s/ ("%s"): docs/hacking.md does not list it'):format(
          unit, dir, target))
      elseif dir ~= unit and target:match("_impl%.h$") then
        fail(('"%s" is private to src/%s/'):format(target, dir))
      end
    end
  end
  return errors
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function lines(cmd)
  local out = {}
  local p = assert(io.popen(cmd))
  for l in p:lines() do
    out[#out + 1] = l
  end
  p:close()
  return out
end

-- Checks the tree at root; returns the violations as "file:line: message" strings.
function M.check_tree(root)
  local rules = M.parse_rules(read(root .. "/docs/hacking.md"))
  local out = {}
  local seen = {}
  for _, dir in ipairs(lines("cd '" .. root .. "' && find src -mindepth 1 -maxdepth 1 -type d | sort")) do
    local unit = dir:match("^src/(.+)$")
    seen[unit] = true
    if not rules[unit] then
      out[#out + 1] = ("%s: folder without a row in docs/hacking.md's include table"):format(dir)
    end
  end
  for unit in pairs(rules) do
    if not seen[unit] and not unit:match("%.c$") then
      out[#out + 1] = ("docs/hacking.md: the include table names src/%s/, which does not exist"):format(unit)
    end
  end
  local files = lines("cd '" .. root .. "' && find src -name '*.[ch]' | sort")
  for _, file in ipairs(files) do
    local unit = file:match("^src/([^/]+)/") or file:match("^src/([^/]+)$")
    if rules[unit] then
      for _, e in ipairs(M.check_text(unit, read(root .. "/" .. file), rules)) do
        out[#out + 1] = ("%s:%d: %s"):format(file, e.line, e.message)
      end
    elseif not file:match("^src/[^/]+/") then
      out[#out + 1] = ("%s: file without a row in docs/hacking.md's include table"):format(file)
    end
  end
  return out
end

function M.main(root)
  local out = M.check_tree(root)
  for _, l in ipairs(out) do
    io.stderr:write(l, "\n")
  end
  if #out > 0 then
    io.stderr:write(("%d include(s) break the rules of docs/hacking.md\n"):format(#out))
    return 1
  end
  return 0
end

if arg and arg[0] and arg[0]:match("check_includes%.lua$") then
  os.exit(M.main(arg[1] or "."))
end
return M
