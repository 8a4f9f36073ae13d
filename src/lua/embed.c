#include "lua/embed.h"

#include <lauxlib.h>
#include <lua.h>
#include <string.h>

/* C modules linked into the host; each is also built as a .so that busted loads. */
int luaopen_sett_proto(lua_State *L);
int luaopen_sett_json(lua_State *L);

static int lh_load_embedded(lua_State *L)
{
    const struct lh_embedded *m = lua_touserdata(L, lua_upvalueindex(1));
    if (luaL_loadbuffer(L, m->src, m->len, m->chunkname) != 0)
        return lua_error(L);
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    return 1;
}

void lh_preload(lua_State *L)
{
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    for (const struct lh_embedded *m = lh_embedded_modules; m->name; m++) {
        lua_pushlightuserdata(L, (void *)m);
        lua_pushcclosure(L, lh_load_embedded, 1);
        lua_setfield(L, -2, m->name);
    }
    lua_pushcfunction(L, luaopen_sett_proto);
    lua_setfield(L, -2, "sett.proto");
    lua_pushcfunction(L, luaopen_sett_json);
    lua_setfield(L, -2, "sett.json");
    lua_pop(L, 2);
}
