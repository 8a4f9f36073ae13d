/* sett.json: core/json for Lua, the one JSON reader and writer of policies, sett's own Lua code
 * and the testkit. Linked into the host (package.preload) and built as build/lua/sett/json.so
 * for busted.
 *
 *   json.decode(text [, opts]) -> value, or nil and "sett.json: MSG at byte N"
 *   json.encode(value [, opts]) -> text; raises "sett.json.encode: ..." for what JSON cannot say
 *   json.null                     the value JSON null decodes to and encodes from
 *   json.array([t])               marks t (or a new table) as an array, so {} encodes as []
 *   json.valid_utf8(s)            whether s is valid UTF-8, by the test JSON strings pass
 *
 * opts: max_depth (arrays and objects nested, default 64, at most 1024) and max_bytes (the text
 * read or written, default 20 MiB); a decoded text holds at most 2^20 values (core/json's
 * default), which bounds the tables it builds. Decoded arrays carry the array mark, so they
 * encode back as arrays even when empty. A table encodes as an array when it is marked or its
 * keys are exactly 1..n (n > 0); otherwise as an object whose keys (strings, or integral numbers
 * written as decimal) are sorted in byte order, so that the same table gives the same text.
 * Strings must be valid UTF-8; numbers must be finite, and integral ones below 2^63 are written
 * without a fraction. */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/slice.h"
#include "core/utf8.h"
#include "proto/proto_path.h"

int luaopen_sett_json(lua_State *L);

#define LH_JSON_DOC_MT "sett.json.doc"
#define LH_JSON_BUF_MT "sett.json.buf"

/* The array mark and the null sentinel: their addresses are their identities. */
static const char lh_json_array_key = 'a';
static const char lh_json_null_key = 'n';

typedef struct lh_json_opts {
    unsigned max_depth;
    size_t max_bytes;
} lh_json_opts_t;

static void lh_json_opts(lua_State *L, int idx, const char *fn, lh_json_opts_t *o)
{
    o->max_depth = JSON_DEFAULT_MAX_DEPTH;
    o->max_bytes = JSON_DEFAULT_MAX_INPUT;
    if (lua_isnoneornil(L, idx))
        return;
    if (!lua_istable(L, idx))
        luaL_error(L, "%s: opts must be a table, got %s", fn, luaL_typename(L, idx));
    lua_getfield(L, idx, "max_depth");
    if (!lua_isnil(L, -1)) {
        lua_Number d = lua_tonumber(L, -1);
        if (!lua_isnumber(L, -1) || d < 1 || d > JSON_DEPTH_HARD_MAX || d != floor(d))
            luaL_error(L, "%s: opts.max_depth must be an integer from 1 to %d", fn,
                       (int)JSON_DEPTH_HARD_MAX);
        o->max_depth = (unsigned)d;
    }
    lua_pop(L, 1);
    lua_getfield(L, idx, "max_bytes");
    if (!lua_isnil(L, -1)) {
        lua_Number b = lua_tonumber(L, -1);
        if (!lua_isnumber(L, -1) || b < 1 || b > 1e15 || b != floor(b))
            luaL_error(L, "%s: opts.max_bytes must be a positive integer", fn);
        o->max_bytes = (size_t)b;
    }
    lua_pop(L, 1);
}

static void lh_json_push_null(lua_State *L)
{
    lua_pushlightuserdata(L, (void *)&lh_json_null_key);
}

/* Pushes the array metatable, kept in the registry. */
static void lh_json_push_array_mt(lua_State *L)
{
    lua_pushlightuserdata(L, (void *)&lh_json_array_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
}

/* ---- Decoding ---- */

static void lh_json_push_value(lua_State *L, const json_value *v)
{
    luaL_checkstack(L, 4, "sett.json: nested too deeply");
    switch (v->type) {
    case JSON_NULL: lh_json_push_null(L); return;
    case JSON_BOOL: lua_pushboolean(L, v->boolean); return;
    case JSON_NUMBER: lua_pushnumber(L, v->u.num.d); return;
    case JSON_STRING: lua_pushlstring(L, v->u.str, v->len); return;
    case JSON_ARRAY:
        lua_createtable(L, (int)v->len, 0);
        for (size_t i = 0; i < v->len; i++) {
            lh_json_push_value(L, &v->u.items[i]);
            lua_rawseti(L, -2, (int)i + 1);
        }
        lh_json_push_array_mt(L);
        lua_setmetatable(L, -2);
        return;
    case JSON_OBJECT:
        lua_createtable(L, 0, (int)v->len);
        for (size_t i = 0; i < v->len; i++) {
            const json_member *m = &v->u.members[i];
            lua_pushlstring(L, m->key, m->key_len);
            lh_json_push_value(L, &m->value);
            lua_rawset(L, -3);
        }
        return;
    }
}

static int lh_json_doc_gc(lua_State *L)
{
    json_doc_free(luaL_checkudata(L, 1, LH_JSON_DOC_MT));
    return 0;
}

static int lh_json_decode(lua_State *L)
{
    size_t n;
    const char *text = luaL_checklstring(L, 1, &n);
    lh_json_opts_t o;
    lh_json_opts(L, 2, "sett.json.decode", &o);
    /* The tree lives in a userdata, so a Lua error while the tables are built frees it too. */
    json_doc *doc = lua_newuserdata(L, sizeof *doc);
    memset(doc, 0, sizeof *doc);
    luaL_getmetatable(L, LH_JSON_DOC_MT);
    lua_setmetatable(L, -2);
    json_limits lim = { o.max_bytes, 0, o.max_depth };
    json_err e;
    if (json_parse_ex(text, n, &lim, doc, &e) != JSON_OK) {
        char msg[160];
        json_err_format(&e, msg, sizeof msg);
        lua_pushnil(L);
        lua_pushfstring(L, "sett.json: %s", msg);
        return 2;
    }
    lh_json_push_value(L, json_doc_root(doc));
    json_doc_free(doc);
    return 1;
}

/* ---- Encoding ---- */

typedef struct lh_json_enc {
    lua_State *L;
    buf_t *out;
    lh_json_opts_t o;
} lh_json_enc_t;

static int lh_json_enc_fail(lh_json_enc_t *en, const proto_path_t *path, const char *what)
{
    char where[256];
    return luaL_error(en->L, "sett.json.encode: %s (at %s)", what,
                      proto_path_format(path, where, sizeof where));
}

static void lh_json_enc_value(lh_json_enc_t *en, int idx, unsigned depth, const proto_path_t *path);

/* Byte order, the order the keys are written in. */
static int lh_json_key_cmp(const void *a, const void *b)
{
    const slice_t *x = a, *y = b;
    int c = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* The keys of a table that is not an array, as strings sorted in byte order, in *keys. Two
 * values are left on the stack: a table anchoring the strings made from number keys, and the
 * userdata holding the array, so that an error raised later frees both. */
static size_t lh_json_enc_keys(lh_json_enc_t *en, int idx, const proto_path_t *path, slice_t **keys)
{
    lua_State *L = en->L;
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        n++;
    }
    lua_newtable(L);
    int anchor = lua_gettop(L);
    slice_t *k = lua_newuserdata(L, n ? n * sizeof *k : 1);
    size_t i = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING) {
            lua_pushvalue(L, -1);
        } else if (lua_type(L, -1) == LUA_TNUMBER) {
            lua_Number d = lua_tonumber(L, -1);
            if (d != floor(d) || fabs(d) >= 0x1p63)
                lh_json_enc_fail(en, path, "a table key that is a non-integral number");
            char num[24];
            snprintf(num, sizeof num, "%lld", (long long)d);
            lua_pushstring(L, num);
            lua_pushvalue(L, -1);
            lua_rawseti(L, anchor, (int)lua_objlen(L, anchor) + 1);
        } else {
            char what[64];
            snprintf(what, sizeof what, "a table key of type %s", luaL_typename(L, -1));
            lh_json_enc_fail(en, path, what);
        }
        k[i].p = (const uint8_t *)lua_tolstring(L, -1, &k[i].len);
        i++;
        lua_pop(L, 1);
    }
    /* A C sort: table.sort would call back into Lua, and an insertion sort would let a large
     * decoded object hold the loop for quadratic time. */
    qsort(k, i, sizeof *k, lh_json_key_cmp);
    /* The number 1 and the string "1" would both be written "1". */
    for (size_t j = 1; j < i; j++)
        if (lh_json_key_cmp(&k[j - 1], &k[j]) == 0)
            lh_json_enc_fail(en, path, "two keys that are written alike (a number and a string)");
    *keys = k;
    return i;
}

/* The length of the table as an array, or (size_t)-1 when it is to be written as an object. */
static size_t lh_json_enc_array_len(lua_State *L, int idx)
{
    size_t n = lua_objlen(L, idx), count = 0;
    bool marked = false;
    if (lua_getmetatable(L, idx)) {
        lh_json_push_array_mt(L);
        marked = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        count++;
        lua_Number k = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
        if (k != floor(k) || k < 1 || k > (lua_Number)n) {
            lua_pop(L, 1);
            return (size_t)-1;
        }
    }
    if (count != n)
        return (size_t)-1;
    return n || marked ? n : (size_t)-1;
}

static void lh_json_enc_table(lh_json_enc_t *en, int idx, unsigned depth, const proto_path_t *path)
{
    lua_State *L = en->L;
    if (depth >= en->o.max_depth)
        lh_json_enc_fail(en, path, "tables nested deeper than max_depth (a cycle?)");
    luaL_checkstack(L, 8, "sett.json.encode: nested too deeply");
    size_t n = lh_json_enc_array_len(L, idx);
    if (n != (size_t)-1) {
        buf_push(en->out, '[');
        for (size_t i = 1; i <= n; i++) {
            if (i > 1)
                buf_push(en->out, ',');
            lua_rawgeti(L, idx, (int)i);
            proto_path_t step = { path, NULL, NULL, 0, i };
            lh_json_enc_value(en, lua_gettop(L), depth + 1, &step);
            lua_pop(L, 1);
        }
        buf_push(en->out, ']');
        return;
    }
    slice_t *keys;
    size_t nkeys = lh_json_enc_keys(en, idx, path, &keys);
    buf_push(en->out, '{');
    for (size_t i = 0; i < nkeys; i++) {
        if (i > 0)
            buf_push(en->out, ',');
        const char *k = (const char *)keys[i].p;
        size_t klen = keys[i].len;
        proto_path_t step = { path, NULL, k, klen, 0 };
        if (!utf8_valid(keys[i].p, klen))
            lh_json_enc_fail(en, &step, "a key that is not valid UTF-8");
        json_write_str(en->out, k, klen);
        buf_push(en->out, ':');
        /* The value under the key as it is in the table: a string key, or the number it spells. */
        lua_pushlstring(L, k, klen);
        lua_rawget(L, idx);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushnumber(L, strtod(k, NULL));
            lua_rawget(L, idx);
        }
        lh_json_enc_value(en, lua_gettop(L), depth + 1, &step);
        lua_pop(L, 1);
    }
    buf_push(en->out, '}');
    lua_pop(L, 2);
}

static void lh_json_enc_value(lh_json_enc_t *en, int idx, unsigned depth, const proto_path_t *path)
{
    lua_State *L = en->L;
    if (en->out->len > en->o.max_bytes)
        lh_json_enc_fail(en, path, "the text is longer than max_bytes");
    switch (lua_type(L, idx)) {
    case LUA_TNIL: buf_append(en->out, "null", 4); return;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx))
            buf_append(en->out, "true", 4);
        else
            buf_append(en->out, "false", 5);
        return;
    case LUA_TNUMBER: {
        lua_Number d = lua_tonumber(L, idx);
        if (!isfinite(d))
            lh_json_enc_fail(en, path, "a number that is not finite");
        if (d == floor(d) && fabs(d) < 0x1p63)
            json_write_int64(en->out, (int64_t)d);
        else
            json_write_double(en->out, d);
        return;
    }
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        if (!utf8_valid((const uint8_t *)s, n))
            lh_json_enc_fail(en, path, "a string that is not valid UTF-8");
        json_write_str(en->out, s, n);
        return;
    }
    case LUA_TTABLE: lh_json_enc_table(en, idx, depth, path); return;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == (void *)&lh_json_null_key) {
            buf_append(en->out, "null", 4);
            return;
        }
        break;
    default: break;
    }
    char what[64];
    snprintf(what, sizeof what, "a value of type %s", luaL_typename(L, idx));
    lh_json_enc_fail(en, path, what);
}

static int lh_json_buf_gc(lua_State *L)
{
    buf_free(luaL_checkudata(L, 1, LH_JSON_BUF_MT));
    return 0;
}

static int lh_json_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    lh_json_enc_t en = { L, NULL, { 0, 0 } };
    lh_json_opts(L, 2, "sett.json.encode", &en.o);
    lua_settop(L, 1);
    /* The output lives in a userdata, so an error raised half-way frees it too. */
    en.out = lua_newuserdata(L, sizeof *en.out);
    buf_init(en.out);
    luaL_getmetatable(L, LH_JSON_BUF_MT);
    lua_setmetatable(L, -2);
    proto_path_t root = { NULL, "value", NULL, 0, 0 };
    lh_json_enc_value(&en, 1, 0, &root);
    if (en.out->len > en.o.max_bytes)
        lh_json_enc_fail(&en, &root, "the text is longer than max_bytes");
    lua_pushlstring(L, (const char *)en.out->data, en.out->len);
    buf_free(en.out);
    return 1;
}

static int lh_json_valid_utf8(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    lua_pushboolean(L, utf8_valid((const uint8_t *)s, n));
    return 1;
}

static int lh_json_array(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    } else {
        luaL_checktype(L, 1, LUA_TTABLE);
        lua_settop(L, 1);
    }
    lh_json_push_array_mt(L);
    lua_setmetatable(L, 1);
    return 1;
}

int luaopen_sett_json(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "decode", lh_json_decode },
        { "encode", lh_json_encode },
        { "array", lh_json_array },
        { "valid_utf8", lh_json_valid_utf8 },
        { NULL, NULL },
    };
    if (luaL_newmetatable(L, LH_JSON_DOC_MT)) {
        lua_pushcfunction(L, lh_json_doc_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, LH_JSON_BUF_MT)) {
        lua_pushcfunction(L, lh_json_buf_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    /* One array metatable per state, created on the first load. */
    lh_json_push_array_mt(L);
    bool have = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (!have) {
        lua_pushlightuserdata(L, (void *)&lh_json_array_key);
        lua_newtable(L);
        lua_pushliteral(L, "sett.json.array");
        lua_setfield(L, -2, "__metatable");
        lua_rawset(L, LUA_REGISTRYINDEX);
    }
    lua_createtable(L, 0, 4);
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    lh_json_push_null(L);
    lua_setfield(L, -2, "null");
    return 1;
}
