/* The project's libuv adapter for hiredis async contexts. hiredis 0.14 ships one in
 * <hiredis/adapters/libuv.h>, but it returns early when libuv reports a socket error, so a connect
 * to a closed port never reaches the connect callback and the caller waits forever. This adapter
 * hands the error to hiredis' read and write handlers instead (the fix hiredis 1.x made), so a
 * refused connect is reported at once. It also tells its owner when its poll handle is closed,
 * which a clean shutdown needs, and counts write events for tests that check pipelining.
 *
 * It lives in its own file because hiredis' header defines static functions with generic names;
 * this one exports only rds_ names. */
#ifndef SETT_STORE_REDIS_UV_H
#define SETT_STORE_REDIS_UV_H

#include <stdbool.h>
#include <stdint.h>

#include <hiredis/async.h>
#include <uv.h>

typedef struct rds_uv_opts {
    /* Called from the poll handle's close callback, once the adapter has released everything; the
     * owner may then finish its own shutdown. May be NULL. */
    void (*on_closed)(void *ud);
    void *ud;
    /* Keep the poll handle from holding the loop alive on its own. */
    bool unref;
    /* When not NULL, incremented once per writable event handed to hiredis. */
    uint64_t *write_events;
} rds_uv_opts_t;

/* Attaches ac, which must not have an event library yet and must have a valid socket (check
 * ac->err first). Call it before redisAsyncSetConnectCallback, which arms the first write event.
 * Returns REDIS_OK or REDIS_ERR; on error nothing is attached and the caller still owns ac. The
 * adapter frees itself after hiredis calls its cleanup hook (when the context is freed). */
int rds_uv_attach(redisAsyncContext *ac, uv_loop_t *loop, const rds_uv_opts_t *opts);

#endif
