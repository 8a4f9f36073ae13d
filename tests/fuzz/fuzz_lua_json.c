/* Fuzzes sett.json, core/json's conversion to and from Lua values, with properties. The input
 * is decoded as a Lua string; a rejection is nil and a message in the module's form, and
 * anything accepted encodes without error to text that core/json accepts, and that decodes and
 * encodes to the same bytes again (the first encoding may differ from the input: keys are
 * sorted, numbers become doubles). */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

int luaopen_sett_json(lua_State *L);

#define FUZZ_ASSERT(cond) do { \
    if (!(cond)) { \
        fprintf(stderr, "fuzz_lua_json: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
        abort(); \
    } \
} while (0)

static lua_State *fuzz_L;

/* Pushes encode(decode(s)) for the json module at index 1 and the string at idx, or nil when
 * decode refused it. */
static void fuzz_cycle(lua_State *L, int idx)
{
    lua_getfield(L, 1, "decode");
    lua_pushvalue(L, idx);
    lua_call(L, 1, 2);
    if (lua_isnil(L, -2)) {
        size_t n;
        const char *msg = lua_tolstring(L, -1, &n);
        FUZZ_ASSERT(msg != NULL && n > 11 && memcmp(msg, "sett.json: ", 11) == 0);
        FUZZ_ASSERT(strstr(msg, " at byte ") != NULL);
        lua_pop(L, 2);
        lua_pushnil(L);
        return;
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "encode");
    lua_insert(L, -2);
    lua_call(L, 1, 1);
}

/* fuzz_check(json, s): the property, run under lua_pcall so that an error is reported, not
 * thrown past libFuzzer. */
static int fuzz_check(lua_State *L)
{
    fuzz_cycle(L, 2);
    if (lua_isnil(L, -1))
        return 0;
    size_t n1, n2;
    const char *once = lua_tolstring(L, -1, &n1);
    json_doc d;
    FUZZ_ASSERT(json_parse(once, n1, &d, NULL) == JSON_OK);
    json_doc_free(&d);
    fuzz_cycle(L, lua_gettop(L));
    FUZZ_ASSERT(!lua_isnil(L, -1));
    const char *twice = lua_tolstring(L, -1, &n2);
    if (n1 != n2 || memcmp(once, twice, n1) != 0)
        fprintf(stderr, "fuzz_lua_json: %.*s\nthen: %.*s\n", (int)n1, once, (int)n2, twice);
    FUZZ_ASSERT(n1 == n2 && memcmp(once, twice, n1) == 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lua_State *L = fuzz_L;
    if (!L) {
        L = fuzz_L = luaL_newstate();
        FUZZ_ASSERT(L != NULL);
        lua_pushcfunction(L, luaopen_sett_json);
        lua_call(L, 0, 1);
    }
    lua_settop(L, 1);
    lua_pushcfunction(L, fuzz_check);
    lua_pushvalue(L, 1);
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 2, 0, 0) != 0) {
        fprintf(stderr, "fuzz_lua_json: %s\n", lua_tostring(L, -1));
        abort();
    }
    lua_gc(L, LUA_GCCOLLECT, 0);
    return 0;
}
