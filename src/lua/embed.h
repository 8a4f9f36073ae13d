/* Lua sources compiled into the binary (generated from lua/ by tools/embed.lua) and the C
 * modules the host links in, registered as package.preload entries so that the host and busted
 * use the same `require` names. */
#ifndef SETT_LUA_EMBED_H
#define SETT_LUA_EMBED_H

#include <stddef.h>

struct lua_State;

struct lh_embedded {
    const char *name;      /* module name, e.g. "sett.config" */
    const char *chunkname; /* "@lua/sett/config.lua" */
    const char *src;
    size_t len;
};

extern const struct lh_embedded lh_embedded_modules[];

/* Registers every embedded Lua module and linked-in C module in package.preload. */
void lh_preload(struct lua_State *L);

#endif
