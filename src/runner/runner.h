/* The runner half: the `/runners/connect` WebSocket endpoint that runner processes dial. It
 * checks the query and the token, runs the ToServerInit handshake, pings the runner, hands
 * events, acks and stops to the engine, answers KV requests from the store, and joins the
 * runner's socket to the bus: ToRunner frames published to `pegboard.runner.{id}` go out as
 * ToClient frames, and tunnel messages from the runner are published to the gateway's subject. */
#ifndef SETT_RUNNER_RUNNER_H
#define SETT_RUNNER_RUNNER_H

#include <stdint.h>

#include "bus/bus.h"
#include "engine/engine.h"
#include "net/server.h"
#include "net/url.h"
#include "store/store.h"

typedef struct rn rn_t;

typedef struct rn_config {
    const char *token;         /* NULL: no check */
    uint64_t init_timeout_ms;  /* 5000 */
    uint64_t ping_interval_ms; /* 3000, plus 0-127 ms jitter */
    uint64_t ping_timeout_ms;  /* 15000 */
    uint64_t hib_eligible_ms;  /* 90000: keepalive rows younger than this are listed */
} rn_config_t;

rn_t *rn_new(uv_loop_t *loop, eng_t *eng, store_t *store, bus_t *bus, const rn_config_t *cfg);
/* Closes every runner socket's timers; call once the transport has closed the sockets. */
void rn_free(rn_t *rn);
/* The endpoint's path. */
#define RN_CONNECT_PATH "/runners/connect"
/* Serves `/runners/connect[/]`; returns 0 when the path is not the endpoint's. */
int rn_handle(rn_t *rn, net_conn_t *c, hreq *req, const url_parts *u);
size_t rn_count(const rn_t *rn);

#endif
