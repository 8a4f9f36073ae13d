/* The Lua binding of the runner-protocol codec, `require "sett.proto"`:
 *
 *   proto.encode(typename, value) -> bytes        raises "to_server.val.name: expected ..."
 *   proto.decode(typename, bytes) -> value | nil, "offset N: what (in Type.field)"
 *   proto.max_frame([bytes]) -> the decoders' frame limit (sets it when given)
 *   proto.types                  -> every type name, proto.VERSION -> 7
 *
 * typename is "to_server", "to_client", "to_runner", "to_gateway" (the last two with the 2-byte
 * version prefix) or any named schema type in snake_case ("actor_config"). Values mirror the
 * TypeScript package's objects: structs are tables keyed by the schema's camelCase field names,
 * unions {tag = "ToServerInit", val = ...} (no val for void members), enums their TypeScript
 * names ("Ok"), data and str Lua strings, lists arrays, maps tables keyed by string (encoded in
 * byte order of the keys, since Lua tables have none), absent optionals nil. 64-bit integers are
 * numbers when |v| <= 2^53 and decimal strings beyond; encode accepts either form.
 *
 * Values are walked through the bare_type_t descriptions, so this file knows no message type.
 * Tables are read with raw access, so that the strings a value points into stay referenced by
 * the table until it is encoded; a conversion that raises leaves its arena to the collector. */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/utf8.h"
#include "core/buf.h"
#include "proto/bare.h"
#include "proto/bare_arena.h"
#include "proto/bare_type.h"
#include "proto/proto_path.h"
#include "proto/rp_v7.h"

int luaopen_sett_proto(lua_State *L);

#define PROTO_LUA_GUARD "sett.proto.guard"

/* Everything one encode or decode call allocates, owned by a userdata on the Lua stack so that
 * an error raised half-way is cleaned up by the collector. */
typedef struct proto_lua_guard {
    bare_arena_t arena;
    buf_t out;
    const bare_codec_t *codec;
    void *decoded; /* a decoded value still to be freed with codec->free */
} proto_lua_guard_t;

static void proto_lua_release(proto_lua_guard_t *g)
{
    if (g->decoded) {
        g->codec->free(g->decoded);
        free(g->decoded);
        g->decoded = NULL;
    }
    bare_arena_free(&g->arena);
    buf_free(&g->out);
}

static int proto_lua_guard_gc(lua_State *L)
{
    proto_lua_release(luaL_checkudata(L, 1, PROTO_LUA_GUARD));
    return 0;
}

static proto_lua_guard_t *proto_lua_guard(lua_State *L)
{
    proto_lua_guard_t *g = lua_newuserdata(L, sizeof *g);
    memset(g, 0, sizeof *g);
    luaL_getmetatable(L, PROTO_LUA_GUARD);
    lua_setmetatable(L, -2);
    return g;
}

static int proto_lua_fail(lua_State *L, const proto_path_t *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int proto_lua_fail(lua_State *L, const proto_path_t *path, const char *fmt, ...)
{
    char where[256], what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    lua_pushfstring(L, "%s: %s", proto_path_format(path, where, sizeof where), what);
    return lua_error(L);
}

static int proto_lua_expect(lua_State *L, int idx, int type, const char *want,
                            const proto_path_t *path)
{
    if (lua_type(L, idx) != type)
        return proto_lua_fail(L, path, "expected %s, got %s", want, luaL_typename(L, idx));
    return 0;
}

static void proto_lua_check(lua_State *L, int idx, const bare_type_t *t, uint8_t *dst,
                            const proto_path_t *path, bare_arena_t *arena);

static void proto_lua_check_int(lua_State *L, int idx, const bare_type_t *t, uint8_t *dst,
                                const proto_path_t *path)
{
    bool wide = t->kind == BARE_KIND_U64 || t->kind == BARE_KIND_I64;
    bool neg;
    uint64_t mag;
    if (lua_type(L, idx) == LUA_TNUMBER) {
        double d = lua_tonumber(L, idx);
        if (!isfinite(d) || d != floor(d))
            proto_lua_fail(L, path, "expected an integer, got %.17g", d);
        neg = d < 0;
        d = fabs(d);
        /* 2^64 and above cannot fit any integer kind. */
        if (d >= 18446744073709551616.0)
            proto_lua_fail(L, path, "integer out of range for %s", t->name);
        mag = (uint64_t)d;
    } else if (wide && lua_type(L, idx) == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        int rc = bare_int_parse(s, n, &neg, &mag);
        if (rc == BARE_INT_RANGE)
            proto_lua_fail(L, path, "integer out of range for %s", t->name);
        if (rc != 0)
            proto_lua_fail(L, path, "expected a decimal integer string, got \"%.*s\"",
                           (int)(n > 40 ? 40 : n), s);
    } else {
        proto_lua_fail(L, path, "expected %s, got %s",
                       wide ? "integer or decimal string" : "integer", luaL_typename(L, idx));
        return;
    }
    if (!bare_int_fits(t->kind, neg, mag))
        proto_lua_fail(L, path, "integer out of range for %s", t->name);
    bare_int_store(dst, t->kind, neg, mag);
}

/* Counts a table's keys, for refusing keys that a list or struct does not have. */
static size_t proto_lua_nkeys(lua_State *L, int idx)
{
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        n++;
        lua_pop(L, 1);
    }
    return n;
}

static int proto_lua_key_cmp(const void *a, const void *b)
{
    const slice_t *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = n ? memcmp(x->p, y->p, n) : 0;
    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

static void proto_lua_check_list(lua_State *L, int idx, const bare_type_t *t, uint8_t *dst,
                                 const proto_path_t *path, bare_arena_t *arena)
{
    proto_lua_expect(L, idx, LUA_TTABLE, "table (list)", path);
    size_t n = lua_objlen(L, idx);
    if (proto_lua_nkeys(L, idx) != n)
        proto_lua_fail(L, path, "expected a list (keys 1..n only)");
    bare_list_t l = { bare_arena_alloc(arena, n * t->elem->size), n };
    for (size_t i = 0; i < n; i++) {
        proto_path_t step = { path, NULL, NULL, 0, i + 1 };
        lua_rawgeti(L, idx, (int)(i + 1));
        proto_lua_check(L, lua_gettop(L), t->elem, (uint8_t *)l.items + i * t->elem->size, &step,
                        arena);
        lua_pop(L, 1);
    }
    memcpy(dst, &l, sizeof l);
}

static void proto_lua_check_map(lua_State *L, int idx, const bare_type_t *t, uint8_t *dst,
                                const proto_path_t *path, bare_arena_t *arena)
{
    proto_lua_expect(L, idx, LUA_TTABLE, "table (map)", path);
    size_t n = proto_lua_nkeys(L, idx), i = 0;
    bare_list_t l = { bare_arena_alloc(arena, n * t->entry_size), n };
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        uint8_t *entry = (uint8_t *)l.items + i++ * t->entry_size;
        slice_t key;
        if (lua_type(L, -2) != LUA_TSTRING)
            proto_lua_fail(L, path, "map keys must be strings, got %s", luaL_typename(L, -2));
        key.p = (const uint8_t *)lua_tolstring(L, -2, &key.len);
        proto_path_t step = { path, NULL, (const char *)key.p, key.len, 0 };
        if (!utf8_valid(key.p, key.len))
            proto_lua_fail(L, &step, "map key is not valid UTF-8");
        memcpy(entry, &key, sizeof key);
        proto_lua_check(L, lua_gettop(L), t->elem, entry + t->value_offset, &step, arena);
        lua_pop(L, 1);
    }
    /* Lua tables have no order; sorting makes the encoding deterministic. */
    qsort(l.items, n, t->entry_size, proto_lua_key_cmp);
    memcpy(dst, &l, sizeof l);
}

static void proto_lua_check_struct(lua_State *L, int idx, const bare_type_t *t, uint8_t *dst,
                                   const proto_path_t *path, bare_arena_t *arena)
{
    proto_lua_expect(L, idx, LUA_TTABLE, "table", path);
    size_t present = 0;
    for (size_t i = 0; i < t->count; i++) {
        const bare_field_t *f = &t->fields[i];
        proto_path_t step = { path, f->name, NULL, 0, 0 };
        lua_pushstring(L, f->name);
        lua_rawget(L, idx);
        bool has = !lua_isnil(L, -1);
        present += has;
        if (f->has_offset != BARE_REQUIRED)
            memcpy(dst + f->has_offset, &has, sizeof has);
        if (has || f->has_offset == BARE_REQUIRED)
            proto_lua_check(L, lua_gettop(L), f->type, dst + f->offset, &step, arena);
        lua_pop(L, 1);
    }
    if (proto_lua_nkeys(L, idx) == present)
        return;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        size_t i = 0;
        while (k && i < t->count && strcmp(t->fields[i].name, k) != 0)
            i++;
        if (!k || i == t->count)
            proto_lua_fail(L, path, "unknown field %s%s%s in %s", k ? "'" : "(a ",
                           k ? k : luaL_typename(L, -1), k ? "'" : " key)", t->name);
    }
}

static void proto_lua_check_union(lua_State *L, int idx, const bare_type_t *t, uint8_t *dst,
                                  const proto_path_t *path, bare_arena_t *arena)
{
    proto_path_t tag_step = { path, "tag", NULL, 0, 0 };
    proto_path_t val_step = { path, "val", NULL, 0, 0 };
    proto_lua_expect(L, idx, LUA_TTABLE, "table {tag = ..., val = ...}", path);
    lua_pushliteral(L, "tag");
    lua_rawget(L, idx);
    if (lua_type(L, -1) != LUA_TSTRING)
        proto_lua_fail(L, &tag_step, "expected string (a %s member name), got %s", t->name,
                       luaL_typename(L, -1));
    const char *tag = lua_tostring(L, -1);
    const bare_member_t *m = NULL;
    for (size_t i = 0; i < t->count && !m; i++)
        if (strcmp(t->members[i].name, tag) == 0)
            m = &t->members[i];
    if (!m) {
        char names[512];
        size_t len = 0;
        names[0] = '\0';
        for (size_t i = 0; i < t->count && len < sizeof names; i++)
            len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "",
                                    t->members[i].name);
        proto_lua_fail(L, &tag_step, "unknown %s member '%s' (expected one of %s)", t->name, tag,
                       names);
    }
    lua_pop(L, 1);
    memcpy(dst + t->tag_offset, &m->tag, sizeof m->tag);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
        if (strcmp(k, "tag") != 0 && strcmp(k, "val") != 0)
            proto_lua_fail(L, path, "unknown field '%s' in %s (expected tag, val)", k, t->name);
    }
    if (!m->type)
        return;
    lua_pushliteral(L, "val");
    lua_rawget(L, idx);
    proto_lua_check(L, lua_gettop(L), m->type, dst + t->val_offset, &val_step, arena);
    lua_pop(L, 1);
}

/* Converts the Lua value at idx (absolute) into the C value of type t at dst. */
static void proto_lua_check(lua_State *L, int idx, const bare_type_t *t, uint8_t *dst,
                            const proto_path_t *path, bare_arena_t *arena)
{
    luaL_checkstack(L, 8, "value nested too deeply");
    switch (t->kind) {
    case BARE_KIND_BOOL: {
        proto_lua_expect(L, idx, LUA_TBOOLEAN, "boolean", path);
        bool b = lua_toboolean(L, idx);
        memcpy(dst, &b, sizeof b);
        return;
    }
    case BARE_KIND_STR:
    case BARE_KIND_DATA:
    case BARE_KIND_FIXED: {
        slice_t s;
        proto_lua_expect(L, idx, LUA_TSTRING, "string", path);
        s.p = (const uint8_t *)lua_tolstring(L, idx, &s.len);
        if (t->kind == BARE_KIND_STR && !utf8_valid(s.p, s.len))
            proto_lua_fail(L, path, "expected a UTF-8 string");
        if (t->kind != BARE_KIND_FIXED) {
            memcpy(dst, &s, sizeof s);
        } else if (s.len != t->fixed_len) {
            proto_lua_fail(L, path, "expected a string of %zu bytes, got %zu", t->fixed_len, s.len);
        } else {
            memcpy(dst, s.p, s.len);
        }
        return;
    }
    case BARE_KIND_ENUM: {
        proto_lua_expect(L, idx, LUA_TSTRING, "string", path);
        const char *name = lua_tostring(L, idx);
        for (size_t i = 0; i < t->count; i++) {
            if (strcmp(t->values[i].name, name) == 0) {
                memcpy(dst, &t->values[i].value, sizeof(unsigned));
                return;
            }
        }
        proto_lua_fail(L, path, "unknown %s value '%s'", t->name, name);
        return;
    }
    case BARE_KIND_LIST: proto_lua_check_list(L, idx, t, dst, path, arena); return;
    case BARE_KIND_MAP: proto_lua_check_map(L, idx, t, dst, path, arena); return;
    case BARE_KIND_STRUCT: proto_lua_check_struct(L, idx, t, dst, path, arena); return;
    case BARE_KIND_UNION: proto_lua_check_union(L, idx, t, dst, path, arena); return;
    default: proto_lua_check_int(L, idx, t, dst, path); return;
    }
}

/* Pushes the C value of type t at v. */
static void proto_lua_push(lua_State *L, const bare_type_t *t, const uint8_t *v)
{
    luaL_checkstack(L, 8, "value nested too deeply");
    switch (t->kind) {
    case BARE_KIND_BOOL: {
        bool b;
        memcpy(&b, v, sizeof b);
        lua_pushboolean(L, b);
        return;
    }
    case BARE_KIND_STR:
    case BARE_KIND_DATA: {
        slice_t s;
        memcpy(&s, v, sizeof s);
        lua_pushlstring(L, (const char *)s.p, s.len);
        return;
    }
    case BARE_KIND_FIXED: lua_pushlstring(L, (const char *)v, t->fixed_len); return;
    case BARE_KIND_ENUM: {
        unsigned e;
        memcpy(&e, v, sizeof e);
        const char *name = bare_enum_name(t, e);
        if (name)
            lua_pushstring(L, name);
        else
            lua_pushnumber(L, e);
        return;
    }
    case BARE_KIND_LIST:
    case BARE_KIND_MAP: {
        bare_list_t l;
        memcpy(&l, v, sizeof l);
        bool map = t->kind == BARE_KIND_MAP;
        size_t stride = map ? t->entry_size : t->elem->size;
        lua_createtable(L, map ? 0 : (int)l.len, map ? (int)l.len : 0);
        for (size_t i = 0; i < l.len; i++) {
            const uint8_t *item = (const uint8_t *)l.items + i * stride;
            if (map) {
                slice_t key;
                memcpy(&key, item, sizeof key);
                lua_pushlstring(L, (const char *)key.p, key.len);
                proto_lua_push(L, t->elem, item + t->value_offset);
                lua_rawset(L, -3);
            } else {
                proto_lua_push(L, t->elem, item);
                lua_rawseti(L, -2, (int)(i + 1));
            }
        }
        return;
    }
    case BARE_KIND_STRUCT:
        lua_createtable(L, 0, (int)t->count);
        for (size_t i = 0; i < t->count; i++) {
            const bare_field_t *f = &t->fields[i];
            bool present = true;
            if (f->has_offset != BARE_REQUIRED)
                memcpy(&present, v + f->has_offset, sizeof present);
            if (!present)
                continue;
            lua_pushstring(L, f->name);
            proto_lua_push(L, f->type, v + f->offset);
            lua_rawset(L, -3);
        }
        return;
    case BARE_KIND_UNION: {
        unsigned tag;
        memcpy(&tag, v + t->tag_offset, sizeof tag);
        lua_createtable(L, 0, 2);
        for (size_t i = 0; i < t->count; i++) {
            const bare_member_t *m = &t->members[i];
            if (m->tag != tag)
                continue;
            lua_pushstring(L, m->name);
            lua_setfield(L, -2, "tag");
            if (m->type) {
                proto_lua_push(L, m->type, v + t->val_offset);
                lua_setfield(L, -2, "val");
            }
        }
        return;
    }
    default: {
        bool neg;
        uint64_t mag;
        bare_int_load(v, t->kind, &neg, &mag);
        if (mag <= BARE_SAFE_INT_MAX) {
            lua_pushnumber(L, neg ? -(double)mag : (double)mag);
        } else {
            char num[24];
            size_t len = bare_int_format(num, neg, mag);
            lua_pushlstring(L, num, len);
        }
        return;
    }
    }
}

static const bare_codec_t *proto_lua_codec(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    const bare_codec_t *c = bare_codec_find(rp_codecs, name);
    if (!c)
        luaL_error(L, "sett.proto: unknown type '%s'", name);
    return c;
}

static int proto_lua_encode(lua_State *L)
{
    const bare_codec_t *c = proto_lua_codec(L);
    luaL_checkany(L, 2);
    lua_settop(L, 2);
    proto_lua_guard_t *g = proto_lua_guard(L);
    void *v = bare_arena_alloc(&g->arena, c->type->size);
    proto_path_t root = { NULL, lua_tostring(L, 1), NULL, 0, 0 };
    proto_lua_check(L, 2, c->type, v, &root, &g->arena);
    c->encode(&g->out, v);
    lua_pushlstring(L, (const char *)g->out.data, g->out.len);
    proto_lua_release(g);
    return 1;
}

static int proto_lua_decode(lua_State *L)
{
    const bare_codec_t *c = proto_lua_codec(L);
    size_t n;
    const char *p = luaL_checklstring(L, 2, &n);
    proto_lua_guard_t *g = proto_lua_guard(L);
    bare_err_t err;
    void *v = sx_calloc(1, c->type->size);
    if (c->decode((const uint8_t *)p, n, v, &err) != BARE_OK) {
        char msg[256];
        free(v);
        bare_err_format(&err, msg, sizeof msg);
        lua_pushnil(L);
        lua_pushstring(L, msg);
        return 2;
    }
    g->codec = c;
    g->decoded = v;
    proto_lua_push(L, c->type, v);
    proto_lua_release(g);
    return 1;
}

static int proto_lua_max_frame(lua_State *L)
{
    if (!lua_isnoneornil(L, 1)) {
        lua_Number n = luaL_checknumber(L, 1);
        luaL_argcheck(L, n >= 0 && n == floor(n) && n <= 4294967295.0, 1,
                      "expected a byte count between 0 and 2^32-1");
        bare_max_frame = (size_t)n;
    }
    lua_pushnumber(L, (lua_Number)bare_max_frame);
    return 1;
}

int luaopen_sett_proto(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "encode", proto_lua_encode },
        { "decode", proto_lua_decode },
        { "max_frame", proto_lua_max_frame },
        { NULL, NULL },
    };
    if (luaL_newmetatable(L, PROTO_LUA_GUARD)) {
        lua_pushcfunction(L, proto_lua_guard_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    lua_createtable(L, 0, 6);
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    lua_newtable(L);
    int i = 1;
    for (const bare_codec_t *c = rp_codecs; c->name; c++) {
        lua_pushstring(L, c->name);
        lua_rawseti(L, -2, i++);
    }
    lua_setfield(L, -2, "types");
    lua_pushnumber(L, RP_PROTOCOL_VERSION);
    lua_setfield(L, -2, "VERSION");
    return 1;
}
