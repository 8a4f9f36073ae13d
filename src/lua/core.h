/* The `sett.core` C module: what Lua scripts running inside the gateway reach of its C side.
 * lua/sett/init.lua (the `sett` module policies require) uses it when it is present and falls
 * back to in-memory stand-ins when it is not (busted, the testkit, `sett check`). It offers
 * logging into sett's log, a wall clock, metrics registered into sett's /metrics, and read-only
 * views of the engine's actors and runners. It lives in the binary only, as a package.preload
 * entry, because without an engine it has nothing to read. */
#ifndef SETT_LUA_CORE_H
#define SETT_LUA_CORE_H

#include "engine/engine.h"

struct lua_State;

/* Registers package.preload["sett.core"]; call before anything requires `sett`. */
void lh_core_preload(struct lua_State *L);
/* Tells the module which engine to read actors and runners from; NULL before it exists and
 * once it is freed, when the lookups answer nil and empty lists. */
void lh_core_set_engine(struct lua_State *L, eng_t *eng);

/* The actor and runner tables hooks and scripts see; each pushes one new table. */
void lh_core_push_actor(struct lua_State *L, const eng_actor_t *a);
void lh_core_push_runner(struct lua_State *L, const eng_runner_t *r);

#endif
