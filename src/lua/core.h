/* The `sett.core` C module: what Lua scripts running inside the gateway reach of its C side.
 * lua/sett/init.lua (the `sett` module policies require) uses it when it is present and falls
 * back to in-memory stand-ins when it is not (busted, the testkit, `sett check`). It offers
 * logging into sett's log, a wall clock, metrics registered into sett's /metrics, and read-only
 * views of the engine's actors and runners. It lives in the binary only, as a package.preload
 * entry, because without an engine it has nothing to read. */
#ifndef SETT_LUA_CORE_H
#define SETT_LUA_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"

struct lua_State;

/* Registers package.preload["sett.core"]; call before anything requires `sett`. */
void lh_core_preload(struct lua_State *L);
/* Tells the module which engine to read actors and runners from; NULL before it exists and
 * once it is freed, when the lookups answer nil and empty lists. */
void lh_core_set_engine(struct lua_State *L, eng_t *eng);

/* What sett.hibernation asks of the gateway: the store's rows of an actor's hibernatable
 * sockets (through cb, later, never during the call), and how many of this gateway's sockets of
 * the actor may hibernate now. */
typedef struct lh_hib_row {
    uint8_t gateway_id[4];
    uint8_t request_id[4];
    int64_t last_ping_ms;
} lh_hib_row_t;
/* err: NULL, or why the store could not answer (a static string). */
typedef void (*lh_hib_rows_cb)(void *cb_ud, const char *err, const lh_hib_row_t *rows, size_t n);
typedef void (*lh_hib_rows_fn)(void *ud, const char *actor_id, lh_hib_rows_cb cb, void *cb_ud);
typedef size_t (*lh_hib_local_fn)(void *ud, const char *actor_id);
/* Gives sett.hibernation its gateway; NULLs before it exists and once it is freed, when asks
 * raise an error and local counts are 0. */
void lh_core_set_hibernation(struct lua_State *L, lh_hib_rows_fn rows, lh_hib_local_fn local,
                             void *ud);

/* The actor and runner tables hooks and scripts see; each pushes one new table. */
void lh_core_push_actor(struct lua_State *L, const eng_actor_t *a);
void lh_core_push_runner(struct lua_State *L, const eng_runner_t *r);

#endif
