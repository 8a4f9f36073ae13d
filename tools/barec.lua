-- barec: compiles a BARE schema into a C codec. Run by LuaJIT at build time (cmake/proto.cmake):
--
--   luajit tools/barec.lua [--prefix rp] [--version 7] [--versioned ToRunner,ToGateway]
--                          [--peek ToServer,ToServerTunnelMessage] SCHEMA.bare OUT_BASE
--
-- writes OUT_BASE.h and OUT_BASE.c. For every named type it generates the C type, an encoder, a
-- decoder and a free function, plus a run-time description (bare_type_t) that the Lua binding
-- and the JSON mapping walk, and a codec table naming every type. The types named by --peek also
-- get peek functions that read routing fields without decoding the frame, and unions among them
-- a tag writer. The conventions are written into the generated header and docs/protocol.md.
--
-- Loaded with dofile() it only returns the parser, { parse = function(text, filename) }, which
-- the interop tests use to generate random messages from the same schema.

local M = {}

local PRIM_CTYPE = {
  u8 = "uint8_t", u16 = "uint16_t", u32 = "uint32_t", u64 = "uint64_t",
  i8 = "int8_t", i16 = "int16_t", i32 = "int32_t", i64 = "int64_t",
  bool = "bool", str = "slice_t", data = "slice_t",
}
local PRIM_SIZE = { u8 = 1, u16 = 2, u32 = 4, u64 = 8, i8 = 1, i16 = 2, i32 = 4, i64 = 8, bool = 1,
  str = 1, data = 1 }
local PRIM_KIND = {
  u8 = "BARE_KIND_U8", u16 = "BARE_KIND_U16", u32 = "BARE_KIND_U32", u64 = "BARE_KIND_U64",
  i8 = "BARE_KIND_I8", i16 = "BARE_KIND_I16", i32 = "BARE_KIND_I32", i64 = "BARE_KIND_I64",
  bool = "BARE_KIND_BOOL", str = "BARE_KIND_STR", data = "BARE_KIND_DATA",
}
-- Valid BARE types that nothing in our schemas uses; refusing them keeps the runtime small.
local UNSUPPORTED = { uint = true, int = true, f32 = true, f64 = true }

local C_KEYWORDS = {}
for w in ([[auto break case char const continue default do double else enum extern float for goto
  if inline int long register restrict return short signed sizeof static struct switch typedef
  union unsigned void volatile while bool true false]]):gmatch("%S+") do C_KEYWORDS[w] = true end

-- Lexing and parsing ----------------------------------------------------------------------------

local function lex(src, file)
  local toks, i, line = {}, 1, 1
  while i <= #src do
    local c = src:sub(i, i)
    if c == "\n" then
      line, i = line + 1, i + 1
    elseif c:match("%s") then
      i = i + 1
    elseif c == "#" then
      i = src:find("\n", i, true) or #src + 1
    elseif c:match("[%a_]") then
      local w = src:match("^[%w_]+", i)
      toks[#toks + 1] = { k = "name", v = w, line = line }
      i = i + #w
    elseif c:match("%d") then
      local w = src:match("^%d+", i)
      toks[#toks + 1] = { k = "num", v = tonumber(w), line = line }
      i = i + #w
    elseif c:match("[<>{}%[%]|:=]") then
      toks[#toks + 1] = { k = c, v = c, line = line }
      i = i + 1
    else
      error(("%s:%d: unexpected character %q"):format(file, line, c), 0)
    end
  end
  toks[#toks + 1] = { k = "eof", v = "end of file", line = line }
  return toks
end

-- Returns { decls = { {name, type, line}... in order }, byname = {} }. Type nodes:
-- {kind = "prim", prim}, {kind = "fixed", len}, {kind = "void"}, {kind = "ref", name},
-- {kind = "list", of}, {kind = "map", key, val}, {kind = "optional", of},
-- {kind = "struct", fields = {{name, type}}}, {kind = "union", members = {{name, tag}}},
-- {kind = "enum", values = {{name, value}}}.
function M.parse(src, file)
  file = file or "schema"
  local toks, pos = lex(src, file), 1
  local function fail(msg, t)
    error(("%s:%d: %s"):format(file, (t or toks[pos]).line, msg), 0)
  end
  local function take()
    pos = pos + 1
    return toks[pos - 1]
  end
  local function expect(k, what)
    local t = take()
    if t.k ~= k then fail(("expected %s, found '%s'"):format(what or ("'" .. k .. "'"), t.v), t) end
    return t
  end
  local function accept(k)
    if toks[pos].k == k then
      pos = pos + 1
      return true
    end
    return false
  end

  local parse_type
  local function parse_struct()
    expect("{")
    local fields = {}
    while not accept("}") do
      local n = expect("name", "a field name")
      expect(":")
      fields[#fields + 1] = { name = n.v, type = parse_type(), line = n.line }
    end
    return { kind = "struct", fields = fields }
  end
  local function parse_union()
    expect("{")
    local members, tag = {}, 0
    accept("|")
    repeat
      local n = expect("name", "a member type")
      if accept("=") then tag = expect("num", "a tag").v end
      members[#members + 1] = { name = n.v, tag = tag, line = n.line }
      tag = tag + 1
    until not accept("|")
    expect("}")
    return { kind = "union", members = members }
  end
  local function parse_enum()
    expect("{")
    local values, v = {}, 0
    while not accept("}") do
      local n = expect("name", "an enum value")
      if accept("=") then v = expect("num", "a value").v end
      values[#values + 1] = { name = n.v, value = v }
      v = v + 1
    end
    return { kind = "enum", values = values }
  end
  parse_type = function()
    local t = expect("name", "a type")
    local w = t.v
    if w == "struct" then return parse_struct() end
    if w == "union" then return parse_union() end
    if w == "enum" then return parse_enum() end
    if w == "void" then return { kind = "void" } end
    if w == "list" then
      expect("<")
      local of = parse_type()
      expect(">")
      if toks[pos].k == "[" then fail("fixed-length lists are not supported") end
      return { kind = "list", of = of }
    end
    if w == "map" then
      expect("<")
      local k = parse_type()
      expect(">")
      expect("<")
      local v = parse_type()
      expect(">")
      return { kind = "map", key = k, val = v }
    end
    if w == "optional" then
      expect("<")
      local of = parse_type()
      expect(">")
      return { kind = "optional", of = of }
    end
    if w == "data" and (toks[pos].k == "[" or (toks[pos].k == "<" and toks[pos + 1].k == "num")) then
      local close = take().k == "[" and "]" or ">"
      local n = expect("num", "a length").v
      expect(close)
      if n < 1 then fail("data[N] needs N >= 1", t) end
      return { kind = "fixed", len = n }
    end
    if PRIM_CTYPE[w] then return { kind = "prim", prim = w } end
    if UNSUPPORTED[w] then fail(("type %s is not supported by barec"):format(w), t) end
    return { kind = "ref", name = w, line = t.line }
  end

  local schema = { decls = {}, byname = {}, file = file }
  while toks[pos].k ~= "eof" do
    local kw = expect("name", "'type'")
    local n = expect("name", "a type name")
    local ty
    if kw.v == "type" then ty = parse_type()
    elseif kw.v == "enum" then ty = parse_enum()
    elseif kw.v == "struct" then ty = parse_struct()
    elseif kw.v == "union" then ty = parse_union()
    else fail("expected 'type'", kw) end
    if schema.byname[n.v] then fail(("type %s is declared twice"):format(n.v), n) end
    local d = { name = n.v, type = ty, line = n.line }
    schema.decls[#schema.decls + 1] = d
    schema.byname[n.v] = d
  end
  return schema
end

-- Naming -----------------------------------------------------------------------------------------

local function words(name)
  local out = {}
  local s = name:gsub("(%l)(%u)", "%1 %2"):gsub("(%d)(%u)", "%1 %2"):gsub("(%u)(%u%l)", "%1 %2")
  for w in s:gmatch("[^%s_]+") do out[#out + 1] = w end
  return out
end

local function snake(name)
  local ws = words(name)
  for i, w in ipairs(ws) do ws[i] = w:lower() end
  return table.concat(ws, "_")
end

-- "OK" -> "Ok", "NOT_FOUND" -> "NotFound": how the TypeScript generator names enum values.
local function pascal_enum(name)
  local out = {}
  for w in name:gmatch("[^_]+") do out[#out + 1] = w:sub(1, 1):upper() .. w:sub(2):lower() end
  return table.concat(out)
end

local function c_ident(s)
  if C_KEYWORDS[s] then return s .. "_" end
  return s
end

-- A union member's short name: the member name without the words it shares with the start of
-- the union's name, so ToServer's ToServerInit becomes "Init" (RP_TO_SERVER_INIT, val.init).
local function member_short(union_name, member_name)
  local uw, mw = words(union_name), words(member_name)
  local i = 1
  while i <= #uw and i < #mw and uw[i] == mw[i] do i = i + 1 end
  local rest = {}
  for j = i, #mw do rest[#rest + 1] = mw[j] end
  return table.concat(rest)
end

-- Checking ---------------------------------------------------------------------------------------

local function check(schema)
  local function fail(d, msg) error(("%s:%d: %s: %s"):format(schema.file, d.line, d.name, msg), 0) end
  local function value_type(d, t, where)
    if t.kind == "ref" then
      local target = schema.byname[t.name]
      if not target then fail(d, ("%s refers to unknown type %s"):format(where, t.name)) end
      if target.type.kind == "void" then fail(d, ("%s cannot be the void type %s"):format(where, t.name)) end
    elseif t.kind == "list" then
      value_type(d, t.of, where .. " element")
    elseif t.kind == "map" then
      local k = t.key
      local kt = k.kind == "ref" and schema.byname[k.name] and schema.byname[k.name].type or k
      if not (kt.kind == "prim" and kt.prim == "str") then fail(d, where .. ": map keys must be str") end
      value_type(d, t.key, where .. " key")
      value_type(d, t.val, where .. " value")
    elseif t.kind == "prim" or t.kind == "fixed" then
      return
    elseif t.kind == "optional" then
      fail(d, where .. ": optional is supported only as a struct field")
    elseif t.kind == "void" then
      fail(d, where .. " cannot be void")
    else
      fail(d, where .. ": declare the " .. t.kind .. " as a named type")
    end
    if t.kind == "list" and t.of.kind == "fixed" then fail(d, where .. ": name the data[N] type") end
    if t.kind == "map" and t.val.kind == "fixed" then fail(d, where .. ": name the data[N] type") end
  end
  for _, d in ipairs(schema.decls) do
    local t = d.type
    if t.kind == "struct" then
      if #t.fields == 0 then fail(d, "a struct needs at least one field") end
      local seen = {}
      for _, f in ipairs(t.fields) do
        if seen[f.name] then fail(d, "field " .. f.name .. " is declared twice") end
        seen[f.name] = true
        local ft = f.type.kind == "optional" and f.type.of or f.type
        value_type(d, ft, "field " .. f.name)
      end
    elseif t.kind == "union" then
      local names, tags = {}, {}
      for _, m in ipairs(t.members) do
        if not schema.byname[m.name] then fail(d, "member " .. m.name .. " is not a declared type") end
        if names[m.name] then fail(d, "member " .. m.name .. " appears twice") end
        if tags[m.tag] then fail(d, "tag " .. m.tag .. " is used twice") end
        names[m.name], tags[m.tag] = true, true
      end
    elseif t.kind == "enum" then
      if #t.values == 0 then fail(d, "an enum needs at least one value") end
      local seen = {}
      for _, v in ipairs(t.values) do
        if seen[v.value] then fail(d, "value " .. v.value .. " is used twice") end
        seen[v.value] = true
      end
    elseif t.kind == "ref" then
      fail(d, "aliases of named types are not supported")
    elseif t.kind == "optional" then
      fail(d, "optional is supported only as a struct field")
    elseif t.kind == "list" or t.kind == "map" then
      value_type(d, t, "the type")
    end
  end
end

-- Code generation --------------------------------------------------------------------------------

local function generate(schema, opts)
  local P = opts.prefix
  local PU = P:upper()
  local units, by_key, order = {}, {}, {}

  -- A unit is one C type with its functions: every named non-void type, and every distinct
  -- anonymous list, map or data[N] used inside them.
  local unit_for
  local function type_key(t)
    if t.kind == "prim" then return t.prim end
    if t.kind == "fixed" then return "data" .. t.len end
    if t.kind == "ref" then return snake(t.name) end
    if t.kind == "list" then return "list_" .. type_key(t.of) end
    if t.kind == "map" then return "map_" .. type_key(t.key) .. "_" .. type_key(t.val) end
    error("no key for " .. t.kind)
  end
  local function type_desc_name(t)
    if t.kind == "prim" then return t.prim end
    if t.kind == "fixed" then return "data[" .. t.len .. "]" end
    if t.kind == "ref" then return t.name end
    if t.kind == "list" then return "list<" .. type_desc_name(t.of) .. ">" end
    if t.kind == "map" then return "map<" .. type_desc_name(t.key) .. "><" .. type_desc_name(t.val) .. ">" end
  end
  unit_for = function(t)
    if t.kind == "ref" then return units[t.name] end
    if t.kind == "list" or t.kind == "map" or t.kind == "fixed" then
      local key = type_key(t)
      if not by_key[key] then
        local id = t.kind == "fixed" and ("fixed_" .. t.len) or key
        by_key[key] = { id = id, cname = P .. "_" .. id, ctype = P .. "_" .. id .. "_t", type = t,
          named = false, schema_name = type_desc_name(t) }
      end
      return by_key[key]
    end
    return nil
  end
  for _, d in ipairs(schema.decls) do
    if d.type.kind ~= "void" then
      local id = snake(d.name)
      units[d.name] = { id = id, cname = P .. "_" .. id, ctype = P .. "_" .. id .. "_t", type = d.type,
        named = true, schema_name = d.name }
    end
  end

  local function resolve(t)
    if t.kind == "ref" then return schema.byname[t.name].type end
    return t
  end
  local function is_void_member(name) return schema.byname[name].type.kind == "void" end

  local function deps(u)
    local t, out = u.type, {}
    local function add(x)
      local du = unit_for(x)
      if du then out[#out + 1] = du end
    end
    if t.kind == "struct" then
      for _, f in ipairs(t.fields) do add(f.type.kind == "optional" and f.type.of or f.type) end
    elseif t.kind == "union" then
      for _, m in ipairs(t.members) do
        if not is_void_member(m.name) then add({ kind = "ref", name = m.name }) end
      end
    elseif t.kind == "list" then
      add(t.of)
    elseif t.kind == "map" then
      add(t.key)
      add(t.val)
    end
    return out
  end

  -- Depth-first order: a type is emitted after everything it contains.
  local state = {}
  local function visit(u, from)
    if state[u] == "done" then return end
    if state[u] == "active" then
      error(("%s: recursive types are not supported (via %s)"):format(u.schema_name, from), 0)
    end
    state[u] = "active"
    for _, du in ipairs(deps(u)) do visit(du, u.schema_name) end
    state[u] = "done"
    order[#order + 1] = u
  end
  for _, d in ipairs(schema.decls) do
    if units[d.name] then visit(units[d.name], d.name) end
  end

  local min_size_cache = {}
  local function min_size(t)
    if t.kind == "prim" then return PRIM_SIZE[t.prim] end
    if t.kind == "fixed" then return t.len end
    if t.kind == "list" or t.kind == "map" or t.kind == "enum" then return 1 end
    if t.kind == "ref" then
      if min_size_cache[t.name] == nil then min_size_cache[t.name] = min_size(schema.byname[t.name].type) end
      return min_size_cache[t.name]
    end
    if t.kind == "void" then return 0 end
    if t.kind == "optional" then return 1 end
    if t.kind == "struct" then
      local n = 0
      for _, f in ipairs(t.fields) do n = n + min_size(f.type) end
      return n
    end
    if t.kind == "union" then
      local best
      for _, m in ipairs(t.members) do
        local s = min_size({ kind = "ref", name = m.name })
        if not best or s < best then best = s end
      end
      return 1 + best
    end
    error("min_size of " .. t.kind)
  end

  local free_cache = {}
  local function needs_free(t)
    if t.kind == "list" or t.kind == "map" then return true end
    if t.kind == "optional" then return needs_free(t.of) end
    if t.kind == "ref" then
      if free_cache[t.name] == nil then
        free_cache[t.name] = false
        free_cache[t.name] = needs_free(schema.byname[t.name].type)
      end
      return free_cache[t.name]
    end
    if t.kind == "struct" then
      for _, f in ipairs(t.fields) do if needs_free(f.type) then return true end end
    elseif t.kind == "union" then
      for _, m in ipairs(t.members) do if needs_free({ kind = "ref", name = m.name }) then return true end end
    end
    return false
  end

  -- The C declaration of a value of type t named `name`.
  local function c_decl(t, name)
    if t.kind == "prim" then return PRIM_CTYPE[t.prim] .. " " .. name end
    if t.kind == "fixed" then return ("uint8_t %s[%d]"):format(name, t.len) end
    return unit_for(t).ctype .. " " .. name
  end
  local function read_expr(t, lv)
    if t.kind == "prim" then return ("bare_read_%s(r, &%s)"):format(t.prim, lv) end
    if t.kind == "fixed" then return ("bare_read_fixed(r, %s, %d)"):format(lv, t.len) end
    return ("%s_read(r, &%s)"):format(unit_for(t).cname, lv)
  end
  local function write_stmt(t, rv)
    if t.kind == "prim" then return ("bare_put_%s(out, %s);"):format(t.prim, rv) end
    if t.kind == "fixed" then return ("bare_put_fixed(out, %s, %d);"):format(rv, t.len) end
    return ("%s_write(out, &%s);"):format(unit_for(t).cname, rv)
  end
  local function release_stmt(t, lv)
    return ("%s_release(&%s);"):format(unit_for(t).cname, lv)
  end
  local function desc_ref(t)
    if t.kind == "prim" then return "&bare_type_" .. t.prim end
    return "&" .. unit_for(t).cname .. "_type"
  end

  -- Union members: tag constant and C field, checked for clashes.
  local function union_members(u)
    local out, seen = {}, {}
    for _, m in ipairs(u.type.members) do
      local short = member_short(u.schema_name, m.name)
      if short == "" then short = m.name end
      local field = c_ident(snake(short))
      local const = (u.cname .. "_" .. snake(short)):upper()
      if seen[const] then
        error(("%s: members %s and %s get the same C name"):format(u.schema_name, seen[const], m.name), 0)
      end
      seen[const] = m.name
      out[#out + 1] = { name = m.name, tag = m.tag, field = field, const = const,
        void = is_void_member(m.name), ref = { kind = "ref", name = m.name } }
    end
    return out
  end

  local H, C = {}, {}
  local function h(s, ...) H[#H + 1] = select("#", ...) > 0 and s:format(...) or s end
  local function c(s, ...) C[#C + 1] = select("#", ...) > 0 and s:format(...) or s end

  local base = opts.out_base:match("([^/]+)$")
  local guard = ("SETT_GEN_%s_H"):format(base:upper():gsub("[^%w]", "_"))
  local versioned = {}
  for _, n in ipairs(opts.versioned) do
    if not units[n] then error("--versioned names unknown type " .. n, 0) end
    versioned[n] = true
  end
  -- Peeks: a union's tag (and where its member starts), or a struct's leading fields up to and
  -- including the tag of its first union field. Those leading fields must be readable without
  -- allocating, so that a peek never allocates and needs no free.
  local peek, tag_reader = {}, {}
  for _, n in ipairs(opts.peek) do
    local u = units[n]
    if not u or not u.named then error("--peek names unknown type " .. n, 0) end
    local t = u.type
    if t.kind == "union" then
      tag_reader[n] = true
    elseif t.kind == "struct" then
      local lead, ufield = {}, nil
      for _, f in ipairs(t.fields) do
        local ft = f.type.kind ~= "optional" and resolve(f.type)
        if ft and ft.kind == "union" then
          ufield = f
          break
        end
        if f.type.kind == "optional" or needs_free(f.type) then
          error(("--peek %s: field %s precedes the first union field and is not plain"):format(n, f.name), 0)
        end
        lead[#lead + 1] = f
      end
      if not ufield then error(("--peek %s: the struct has no union field"):format(n), 0) end
      u.peek_lead, u.peek_union = lead, ufield
      tag_reader[ufield.type.name] = true
    else
      error(("--peek %s: only unions and structs can be peeked"):format(n), 0)
    end
    peek[n] = true
  end

  h("/* Generated by tools/barec.lua from %s at build time; do not edit.", opts.schema_name)
  h(" *")
  h(" * Conventions (docs/protocol.md has the long form):")
  h(" * - Every schema type Foo becomes %s_foo_t (snake_case) with", P)
  h(" *     void %s_foo_encode(buf_t *out, const %s_foo_t *v);   appends the encoding to out", P, P)
  h(" *     int  %s_foo_decode(const uint8_t *p, size_t n, %s_foo_t *out, bare_err_t *err);", P, P)
  h(" *     void %s_foo_free(%s_foo_t *v);                        frees what decode allocated", P, P)
  h(" *   and a run-time description `const bare_type_t %s_foo_type`. void types have none.", P)
  h(" * - decode returns BARE_OK or a negative BARE_E* code with err (may be NULL) filled in. It")
  h(" *   rejects trailing bytes, frames above bare_max_frame and everything bare.h lists. On")
  h(" *   failure *out needs no free; on success call _free once done (cheap; a no-op when the")
  h(" *   type holds no list or map).")
  h(" * - str and data decode to slice_t slices {p, len} into the input, valid")
  h(" *   while the input is. data[N] is uint8_t[N]. Only lists and maps allocate: an array")
  h(" *   {items, len} each, freed by _free. Encoders read slices from wherever the caller points.")
  h(" * - optional<T> fields are `bool has_<field>; T <field>;`.")
  h(" * - A union Foo is { %s_foo_tag_t tag; union { ... } val; }. Each member's tag constant and", P)
  h(" *   payload field use the member's name minus the words it shares with the start of the")
  h(" *   union's name: ToServer's ToServerInit is %s_TO_SERVER_INIT and val.init. Void members", PU)
  h(" *   have a tag and no payload. Tag constants equal the wire tags.")
  h(" * - enum Foo values are %s_FOO_<VALUE>, equal to the wire values.", PU)
  h(" * - Types marked versioned also get _encode_versioned / _decode_versioned, which add and")
  h(" *   check the 2-byte little-endian version prefix %s_PROTOCOL_VERSION.", PU)
  h(" * - Peeked unions Foo get %s_foo_peek(p, n, &tag, &body): the tag and the offset of the", P)
  h(" *   member's encoding, read without decoding the rest (a versioned union checks its prefix")
  h(" *   in _peek_versioned), and %s_foo_encode_tag(out, tag) (and _versioned) that writes what", P)
  h(" *   precedes a member's encoding. Peeked structs get %s_foo_peek(p, n, &v), which fills", P)
  h(" *   the fields before the first union field and that union's tag only. A peek is bounds-")
  h(" *   checked and returns BARE_OK or a BARE_E* code; on every input the decoder accepts it")
  h(" *   succeeds with the values the decoder reads. It checks no more than it reads.")
  h(" * - Struct fields are snake_case of the schema's camelCase names. */")
  h("#ifndef %s", guard)
  h("#define %s", guard)
  h("")
  h("#include <stdbool.h>")
  h("#include <stddef.h>")
  h("#include <stdint.h>")
  h("")
  h("#include \"core/buf.h\"")
  h("#include \"proto/bare.h\"")
  h("#include \"proto/bare_type.h\"")
  h("")
  h("#define %s_PROTOCOL_VERSION %d", PU, opts.version)
  h("")

  c("/* Generated by tools/barec.lua from %s; do not edit. */", opts.schema_name)
  c("#include \"%s.h\"", opts.include_name)
  c("")
  c("#include <stdlib.h>")
  c("#include <string.h>")
  c("")
  c("#include \"core/alloc.h\"")
  c("")
  c("_Static_assert(sizeof(unsigned) == 4, \"enums and union tags are described as unsigned int\");")
  c("")

  local codecs = {}

  for _, u in ipairs(order) do
    local t = u.type
    local T, N = u.ctype, u.cname
    local sname = u.schema_name
    local nf = needs_free(u.named and { kind = "ref", name = sname } or t)
    local st = u.named and "" or "static "

    -- The C type.
    if t.kind == "prim" then
      h("typedef %s %s;", PRIM_CTYPE[t.prim], T)
    elseif t.kind == "fixed" then
      if u.named then h("typedef uint8_t %s[%d];", T, t.len) end
    elseif t.kind == "enum" then
      h("typedef enum %s {", N)
      for _, v in ipairs(t.values) do h("    %s_%s = %d,", N:upper(), v.name:upper(), v.value) end
      h("} %s;", T)
    elseif t.kind == "struct" then
      h("typedef struct %s {", N)
      for _, f in ipairs(t.fields) do
        local fname = c_ident(snake(f.name))
        if f.type.kind == "optional" then
          h("    bool has_%s;", snake(f.name))
          h("    %s;", c_decl(f.type.of, fname))
        else
          h("    %s;", c_decl(f.type, fname))
        end
      end
      h("} %s;", T)
    elseif t.kind == "union" then
      local ms = union_members(u)
      h("typedef enum %s_tag {", N)
      for _, m in ipairs(ms) do h("    %s = %d,", m.const, m.tag) end
      h("} %s_tag_t;", N)
      h("typedef struct %s {", N)
      h("    %s_tag_t tag;", N)
      local any = false
      for _, m in ipairs(ms) do if not m.void then any = true end end
      if any then
        h("    union {")
        for _, m in ipairs(ms) do
          if not m.void then h("        %s;", c_decl(m.ref, m.field)) end
        end
        h("    } val;")
      end
      h("} %s;", T)
    elseif t.kind == "list" then
      h("typedef struct %s {", N)
      h("    %s *items;", unit_for(t.of) and unit_for(t.of).ctype or PRIM_CTYPE[t.of.prim])
      h("    size_t len;")
      h("} %s;", T)
    elseif t.kind == "map" then
      h("typedef struct %s_entry {", N)
      h("    %s;", c_decl(t.key, "key"))
      h("    %s;", c_decl(t.val, "value"))
      h("} %s_entry_t;", N)
      h("typedef struct %s {", N)
      h("    %s_entry_t *items;", N)
      h("    size_t len;")
      h("} %s;", T)
    end
    if t.kind ~= "fixed" or u.named then h("") end

    -- Layout checks the descriptions rely on.
    if t.kind == "enum" then
      c("_Static_assert(sizeof(%s) == sizeof(unsigned), \"%s is described as unsigned int\");", T, sname)
    elseif t.kind == "union" then
      c("_Static_assert(sizeof(%s_tag_t) == sizeof(unsigned),", N)
      c("               \"%s tags are described as unsigned int\");", sname)
    elseif t.kind == "list" or t.kind == "map" then
      c("_Static_assert(offsetof(%s, items) == offsetof(bare_list_t, items) &&", T)
      c("               offsetof(%s, len) == offsetof(bare_list_t, len),", T)
      c("               \"%s is described as bare_list_t\");", sname)
    end

    -- Reader, writer and release.
    if t.kind == "fixed" then
      if u.named then
        c("static int %s_read(bare_reader_t *r, %s *v)", N, T)
        c("{")
        c("    return bare_read_fixed(r, *v, %d);", t.len)
        c("}")
        c("")
        c("static void %s_write(buf_t *out, const %s *v)", N, T)
        c("{")
        c("    bare_put_fixed(out, *v, %d);", t.len)
        c("}")
        c("")
      end
    elseif t.kind == "prim" then
      c("static int %s_read(bare_reader_t *r, %s *v)", N, T)
      c("{")
      c("    return bare_read_%s(r, v);", t.prim)
      c("}")
      c("")
      c("static void %s_write(buf_t *out, const %s *v)", N, T)
      c("{")
      c("    bare_put_%s(out, *v);", t.prim)
      c("}")
      c("")
    elseif t.kind == "enum" then
      c("static int %s_read(bare_reader_t *r, %s *v)", N, T)
      c("{")
      c("    const uint8_t *at = r->p;")
      c("    uint64_t x;")
      c("    if (bare_read_uint(r, &x))")
      c("        return bare_where(r, \"%s\");", sname)
      c("    switch (x) {")
      for _, v in ipairs(t.values) do c("    case %d:", v.value) end
      c("        *v = (%s)x;", T)
      c("        return BARE_OK;")
      c("    default:")
      c("        return bare_fail(r, BARE_EENUM, at, \"%s\");", sname)
      c("    }")
      c("}")
      c("")
      c("static void %s_write(buf_t *out, const %s *v)", N, T)
      c("{")
      c("    bare_put_uint(out, (uint64_t)*v);")
      c("}")
      c("")
    elseif t.kind == "struct" then
      c("static int %s_read(bare_reader_t *r, %s *v)", N, T)
      c("{")
      for _, f in ipairs(t.fields) do
        local fname = c_ident(snake(f.name))
        local path = sname .. "." .. f.name
        if f.type.kind == "optional" then
          c("    if (bare_read_present(r, &v->has_%s) ||", snake(f.name))
          c("        (v->has_%s && %s))", snake(f.name), read_expr(f.type.of, "v->" .. fname))
        else
          c("    if (%s)", read_expr(f.type, "v->" .. fname))
        end
        c("        return bare_where(r, \"%s\");", path)
      end
      c("    return BARE_OK;")
      c("}")
      c("")
      c("static void %s_write(buf_t *out, const %s *v)", N, T)
      c("{")
      for _, f in ipairs(t.fields) do
        local fname = c_ident(snake(f.name))
        if f.type.kind == "optional" then
          c("    bare_put_bool(out, v->has_%s);", snake(f.name))
          c("    if (v->has_%s)", snake(f.name))
          c("        %s", write_stmt(f.type.of, "v->" .. fname))
        else
          c("    %s", write_stmt(f.type, "v->" .. fname))
        end
      end
      c("}")
      c("")
      if nf then
        c("static void %s_release(%s *v)", N, T)
        c("{")
        for _, f in ipairs(t.fields) do
          local fname = c_ident(snake(f.name))
          if needs_free(f.type) then
            if f.type.kind == "optional" then
              c("    if (v->has_%s)", snake(f.name))
              c("        %s", release_stmt(f.type.of, "v->" .. fname))
            else
              c("    %s", release_stmt(f.type, "v->" .. fname))
            end
          end
        end
        c("}")
        c("")
      end
    elseif t.kind == "union" then
      local ms = union_members(u)
      c("static int %s_read(bare_reader_t *r, %s *v)", N, T)
      c("{")
      c("    const uint8_t *at = r->p;")
      c("    uint64_t tag;")
      c("    if (bare_read_uint(r, &tag))")
      c("        return bare_where(r, \"%s\");", sname)
      c("    switch (tag) {")
      for _, m in ipairs(ms) do
        c("    case %d:", m.tag)
        c("        v->tag = %s;", m.const)
        if not m.void then
          c("        if (%s)", read_expr(m.ref, "v->val." .. m.field))
          c("            return bare_where(r, \"%s.%s\");", sname, m.name)
        end
        c("        return BARE_OK;")
      end
      c("    default:")
      c("        return bare_fail(r, BARE_ETAG, at, \"%s\");", sname)
      c("    }")
      c("}")
      c("")
      if tag_reader[sname] then
        c("static int %s_read_tag(bare_reader_t *r, %s_tag_t *tag)", N, N)
        c("{")
        c("    const uint8_t *at = r->p;")
        c("    uint64_t x;")
        c("    if (bare_read_uint(r, &x))")
        c("        return bare_where(r, \"%s\");", sname)
        c("    switch (x) {")
        for _, m in ipairs(ms) do c("    case %d:", m.tag) end
        c("        *tag = (%s_tag_t)x;", N)
        c("        return BARE_OK;")
        c("    default:")
        c("        return bare_fail(r, BARE_ETAG, at, \"%s\");", sname)
        c("    }")
        c("}")
        c("")
      end
      c("static void %s_write(buf_t *out, const %s *v)", N, T)
      c("{")
      c("    bare_put_uint(out, (uint64_t)v->tag);")
      local payloads = {}
      for _, m in ipairs(ms) do if not m.void then payloads[#payloads + 1] = m end end
      if #payloads > 0 then
        c("    switch (v->tag) {")
        for _, m in ipairs(payloads) do
          c("    case %s:", m.const)
          c("        %s", write_stmt(m.ref, "v->val." .. m.field))
          c("        break;")
        end
        c("    default:")
        c("        break;")
        c("    }")
      end
      c("}")
      c("")
      if nf then
        c("static void %s_release(%s *v)", N, T)
        c("{")
        c("    switch (v->tag) {")
        for _, m in ipairs(ms) do
          if not m.void and needs_free(m.ref) then
            c("    case %s:", m.const)
            c("        %s", release_stmt(m.ref, "v->val." .. m.field))
            c("        break;")
          end
        end
        c("    default:")
        c("        break;")
        c("    }")
        c("}")
        c("")
      end
    elseif t.kind == "list" or t.kind == "map" then
      local is_map = t.kind == "map"
      local elem_min = is_map and (min_size(t.key) + min_size(t.val)) or min_size(t.of)
      if elem_min < 1 then error(sname .. ": elements must occupy at least one byte", 0) end
      c("static int %s_read(bare_reader_t *r, %s *v)", N, T)
      c("{")
      c("    size_t n;")
      if is_map then
        c("    bare_keyset_t ks;")
        c("    int rc = BARE_OK;")
      end
      c("    if (bare_read_count(r, &n, %d))", elem_min)
      c("        return r->err->code;")
      c("    if (n == 0)")
      c("        return BARE_OK;")
      c("    v->items = sx_calloc(n, sizeof *v->items);")
      c("    v->len = n;")
      if is_map then
        c("    bare_keyset_init(&ks, &v->items[0].key, sizeof v->items[0], n);")
        c("    for (size_t i = 0; i < n && rc == BARE_OK; i++) {")
        c("        const uint8_t *at = r->p;")
        c("        if (%s)", read_expr(t.key, "v->items[i].key"))
        c("            rc = r->err->code;")
        c("        else if (bare_keyset_add(&ks, i))")
        c("            rc = bare_fail(r, BARE_EDUPKEY, at, NULL);")
        c("        else if (%s)", read_expr(t.val, "v->items[i].value"))
        c("            rc = r->err->code;")
        c("    }")
        c("    bare_keyset_free(&ks);")
        c("    return rc;")
      else
        c("    for (size_t i = 0; i < n; i++)")
        c("        if (%s)", read_expr(t.of, "v->items[i]"))
        c("            return r->err->code;")
        c("    return BARE_OK;")
      end
      c("}")
      c("")
      c("static void %s_write(buf_t *out, const %s *v)", N, T)
      c("{")
      c("    bare_put_uint(out, v->len);")
      c("    for (size_t i = 0; i < v->len; i++) {")
      if is_map then
        c("        %s", write_stmt(t.key, "v->items[i].key"))
        c("        %s", write_stmt(t.val, "v->items[i].value"))
      else
        c("        %s", write_stmt(t.of, "v->items[i]"))
      end
      c("    }")
      c("}")
      c("")
      c("static void %s_release(%s *v)", N, T)
      c("{")
      local inner = is_map and t.val or t.of
      if needs_free(inner) then
        c("    for (size_t i = 0; i < v->len; i++)")
        c("        %s", release_stmt(inner, is_map and "v->items[i].value" or "v->items[i]"))
      end
      c("    free(v->items);")
      c("    v->items = NULL;")
      c("    v->len = 0;")
      c("}")
      c("")
    end

    -- The run-time description.
    local dname = N .. "_type"
    if t.kind == "prim" then
      c("%sconst bare_type_t %s = {", st, dname)
      c("    .kind = %s, .name = \"%s\", .size = sizeof(%s) };", PRIM_KIND[t.prim], sname, T)
    elseif t.kind == "fixed" then
      c("%sconst bare_type_t %s = {", st, dname)
      c("    .kind = BARE_KIND_FIXED, .name = \"%s\", .size = %d, .fixed_len = %d };", sname, t.len, t.len)
    elseif t.kind == "enum" then
      c("static const bare_enum_value_t %s_values[] = {", N)
      for _, v in ipairs(t.values) do c("    { \"%s\", %d },", pascal_enum(v.name), v.value) end
      c("};")
      c("%sconst bare_type_t %s = {", st, dname)
      c("    .kind = BARE_KIND_ENUM, .name = \"%s\", .size = sizeof(%s),", sname, T)
      c("    .values = %s_values, .count = %d };", N, #t.values)
    elseif t.kind == "struct" then
      c("static const bare_field_t %s_fields[] = {", N)
      for _, f in ipairs(t.fields) do
        local fname = c_ident(snake(f.name))
        if f.type.kind == "optional" then
          c("    { \"%s\", offsetof(%s, %s), offsetof(%s, has_%s),", f.name, T, fname, T, snake(f.name))
          c("      %s },", desc_ref(f.type.of))
        else
          c("    { \"%s\", offsetof(%s, %s), BARE_REQUIRED, %s },", f.name, T, fname, desc_ref(f.type))
        end
      end
      c("};")
      c("%sconst bare_type_t %s = {", st, dname)
      c("    .kind = BARE_KIND_STRUCT, .name = \"%s\", .size = sizeof(%s),", sname, T)
      c("    .fields = %s_fields, .count = %d };", N, #t.fields)
    elseif t.kind == "union" then
      local ms = union_members(u)
      local any = false
      c("static const bare_member_t %s_members[] = {", N)
      for _, m in ipairs(ms) do
        if not m.void then any = true end
        c("    { \"%s\", %d, %s },", m.name, m.tag, m.void and "NULL" or desc_ref(m.ref))
      end
      c("};")
      c("%sconst bare_type_t %s = {", st, dname)
      c("    .kind = BARE_KIND_UNION, .name = \"%s\", .size = sizeof(%s),", sname, T)
      c("    .members = %s_members, .count = %d,", N, #ms)
      local val_offset = any and ("offsetof(" .. T .. ", val)") or "0"
      c("    .tag_offset = offsetof(%s, tag), .val_offset = %s };", T, val_offset)
    elseif t.kind == "list" then
      c("%sconst bare_type_t %s = {", st, dname)
      c("    .kind = BARE_KIND_LIST, .name = \"%s\", .size = sizeof(%s),", sname, T)
      c("    .elem = %s };", desc_ref(t.of))
    elseif t.kind == "map" then
      c("%sconst bare_type_t %s = {", st, dname)
      c("    .kind = BARE_KIND_MAP, .name = \"%s\", .size = sizeof(%s),", sname, T)
      c("    .elem = %s, .entry_size = sizeof(%s_entry_t),", desc_ref(t.val), N)
      c("    .value_offset = offsetof(%s_entry_t, value) };", N)
    end
    c("")

    -- Public functions of named types.
    if u.named then
      h("/* %s */", sname)
      h("extern const bare_type_t %s_type;", N)
      h("void %s_encode(buf_t *out, const %s *v);", N, T)
      h("int %s_decode(const uint8_t *p, size_t n, %s *out, bare_err_t *err);", N, T)
      h("void %s_free(%s *v);", N, T)

      c("void %s_encode(buf_t *out, const %s *v)", N, T)
      c("{")
      c("    %s_write(out, v);", N)
      c("}")
      c("")
      c("void %s_free(%s *v)", N, T)
      c("{")
      if nf then c("    %s_release(v);", N) else c("    (void)v;") end
      c("}")
      c("")
      local function emit_decode(fn, with_version)
        c("int %s(const uint8_t *p, size_t n, %s *out, bare_err_t *err)", fn, T)
        c("{")
        c("    bare_reader_t r;")
        c("    memset(out, 0, sizeof *out);")
        c("    int rc = bare_reader_init(&r, p, n, err);")
        if with_version then
          c("    if (rc == BARE_OK)")
          c("        rc = bare_read_version(&r, %s_PROTOCOL_VERSION,", PU)
          c("                               \"unsupported protocol version (expected %02x %02x, v%d)\");",
            opts.version % 256, math.floor(opts.version / 256), opts.version)
        end
        c("    if (rc == BARE_OK)")
        c("        rc = %s_read(&r, out);", N)
        c("    if (rc == BARE_OK)")
        c("        rc = bare_reader_finish(&r);")
        c("    if (rc != BARE_OK) {")
        c("        bare_where(&r, \"%s\");", sname)
        if nf then c("        %s_release(out);", N) end
        c("    }")
        c("    return rc;")
        c("}")
        c("")
      end
      emit_decode(N .. "_decode", false)
      if versioned[sname] then
        h("/* %s with the 2-byte little-endian version prefix (%02x %02x). */", sname,
          opts.version % 256, math.floor(opts.version / 256))
        h("void %s_encode_versioned(buf_t *out, const %s *v);", N, T)
        h("int %s_decode_versioned(const uint8_t *p, size_t n, %s *out, bare_err_t *err);", N, T)
        c("void %s_encode_versioned(buf_t *out, const %s *v)", N, T)
        c("{")
        c("    bare_put_u16(out, %s_PROTOCOL_VERSION);", PU)
        c("    %s_write(out, v);", N)
        c("}")
        c("")
        emit_decode(N .. "_decode_versioned", true)
      end
      if peek[sname] and t.kind == "union" then
        local function emit_peek(fn, with_version)
          c("int %s(const uint8_t *p, size_t n, %s_tag_t *tag, size_t *body)", fn, N)
          c("{")
          c("    bare_reader_t r;")
          c("    int rc = bare_reader_init(&r, p, n, NULL);")
          if with_version then
            c("    if (rc == BARE_OK)")
            c("        rc = bare_read_version(&r, %s_PROTOCOL_VERSION, NULL);", PU)
          end
          c("    if (rc == BARE_OK)")
          c("        rc = %s_read_tag(&r, tag);", N)
          c("    if (rc == BARE_OK)")
          c("        *body = (size_t)(r.p - r.start);")
          c("    return rc;")
          c("}")
          c("")
        end
        h("/* %s's tag and the offset of its member's encoding in p, without decoding it. */", sname)
        h("int %s_peek(const uint8_t *p, size_t n, %s_tag_t *tag, size_t *body);", N, N)
        h("/* Appends what precedes the encoding of %s's member `tag`. */", sname)
        h("void %s_encode_tag(buf_t *out, %s_tag_t tag);", N, N)
        emit_peek(N .. "_peek", false)
        c("void %s_encode_tag(buf_t *out, %s_tag_t tag)", N, N)
        c("{")
        c("    bare_put_uint(out, (uint64_t)tag);")
        c("}")
        c("")
        if versioned[sname] then
          h("int %s_peek_versioned(const uint8_t *p, size_t n, %s_tag_t *tag, size_t *body);", N, N)
          h("void %s_encode_tag_versioned(buf_t *out, %s_tag_t tag);", N, N)
          emit_peek(N .. "_peek_versioned", true)
          c("void %s_encode_tag_versioned(buf_t *out, %s_tag_t tag)", N, N)
          c("{")
          c("    bare_put_u16(out, %s_PROTOCOL_VERSION);", PU)
          c("    bare_put_uint(out, (uint64_t)tag);")
          c("}")
          c("")
        end
      elseif peek[sname] then
        local uf = u.peek_union
        local ufield = c_ident(snake(uf.name))
        local names = {}
        for _, f in ipairs(u.peek_lead) do names[#names + 1] = f.name end
        names[#names + 1] = uf.name .. "'s tag"
        h("/* Reads %s of a %s into *out (the rest is zero), without", table.concat(names, ", "), sname)
        h(" * decoding the rest. */")
        h("int %s_peek(const uint8_t *p, size_t n, %s *out);", N, T)
        c("int %s_peek(const uint8_t *p, size_t n, %s *out)", N, T)
        c("{")
        c("    bare_reader_t r;")
        c("    memset(out, 0, sizeof *out);")
        c("    int rc = bare_reader_init(&r, p, n, NULL);")
        for _, f in ipairs(u.peek_lead) do
          c("    if (rc == BARE_OK)")
          c("        rc = %s;", (read_expr(f.type, "out->" .. c_ident(snake(f.name))):gsub("%(r, ", "(&r, ")))
        end
        c("    if (rc == BARE_OK)")
        c("        rc = %s_read_tag(&r, &out->%s.tag);", unit_for(uf.type).cname, ufield)
        c("    return rc;")
        c("}")
        c("")
      end
      h("")

      local suffix = versioned[sname] and "_versioned" or ""
      c("static int %s_decode_any(const uint8_t *p, size_t n, void *out, bare_err_t *err)", N)
      c("{")
      c("    return %s_decode%s(p, n, out, err);", N, suffix)
      c("}")
      c("")
      c("static void %s_encode_any(buf_t *out, const void *v)", N)
      c("{")
      c("    %s_encode%s(out, v);", N, suffix)
      c("}")
      c("")
      c("static void %s_free_any(void *v)", N)
      c("{")
      c("    %s_free(v);", N)
      c("}")
      c("")
      codecs[#codecs + 1] = ("    { \"%s\", &%s_type, %d, %s_decode_any, %s_encode_any, %s_free_any },"):format(
        u.id, N, versioned[sname] and 1 or 0, N, N, N)
    end
  end

  h("/* Every named type, for lookups by name at run time (bare_codec_find); ends with a NULL")
  h(" * name. The versioned types' entries use the _versioned functions. */")
  h("extern const bare_codec_t %s_codecs[];", P)
  h("")
  h("#endif")
  c("const bare_codec_t %s_codecs[] = {", P)
  for _, line in ipairs(codecs) do c(line) end
  c("    { NULL, NULL, 0, NULL, NULL, NULL },")
  c("};")
  return table.concat(H, "\n") .. "\n", table.concat(C, "\n") .. "\n"
end

local function write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function main(argv)
  local opts = { prefix = "rp", version = nil, versioned = {}, peek = {} }
  local rest = {}
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--prefix" then opts.prefix, i = argv[i + 1], i + 1
    elseif a == "--version" then opts.version, i = tonumber(argv[i + 1]), i + 1
    elseif a == "--versioned" then
      for n in (argv[i + 1] or ""):gmatch("[^,]+") do opts.versioned[#opts.versioned + 1] = n end
      i = i + 1
    elseif a == "--peek" then
      for n in (argv[i + 1] or ""):gmatch("[^,]+") do opts.peek[#opts.peek + 1] = n end
      i = i + 1
    elseif a == "--include" then opts.include_name, i = argv[i + 1], i + 1
    else rest[#rest + 1] = a end
    i = i + 1
  end
  if #rest ~= 2 or not opts.prefix then
    io.stderr:write("usage: luajit tools/barec.lua [--prefix P] [--version N] [--versioned A,B]\n",
      "                          [--peek A,B] [--include NAME] SCHEMA OUT_BASE\n")
    os.exit(2)
  end
  opts.schema_path, opts.out_base = rest[1], rest[2]
  opts.schema_name = opts.schema_path:match("(schemas/.*)$") or opts.schema_path
  opts.version = opts.version or tonumber(opts.schema_path:match("v(%d+)%.bare$")) or 0
  opts.include_name = opts.include_name or opts.out_base:match("([^/]+)$")
  local f = assert(io.open(opts.schema_path, "rb"))
  local src = f:read("*a")
  f:close()
  local ok, err = pcall(function()
    local schema = M.parse(src, opts.schema_path)
    check(schema)
    local htext, ctext = generate(schema, opts)
    write_file(opts.out_base .. ".h", htext)
    write_file(opts.out_base .. ".c", ctext)
  end)
  if not ok then
    io.stderr:write("barec: ", tostring(err), "\n")
    os.exit(1)
  end
end

if arg and arg[0] and arg[0]:match("barec%.lua$") then main(arg) end

return M
