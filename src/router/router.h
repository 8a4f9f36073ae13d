/* The request router of the whole process: every request on the main listener arrives here and
 * goes to the part of sett that serves it, in this order: the health check, the runner endpoint
 * (runner/), the policy's route hook, actor routes (the gateway half, gateway/), the REST API
 * (api/), else 404. It is the one place that knows both halves; they meet only on the bus. It
 * also decides the CORS headers of every answer but the health check's and the runner
 * endpoint's, and answers CORS preflights for actor routes and unknown paths (rt_cors.c). */
#ifndef SETT_ROUTER_ROUTER_H
#define SETT_ROUTER_ROUTER_H

#include "engine/engine.h"
#include "gateway/gw.h"
#include "net/server.h"
#include "router/rt_cors.h"
#include "runner/runner.h"

typedef struct rt {
    eng_t *eng;
    rn_t *rn;
    gw_t *gw;
    struct lh_policy *pol;
    /* gateway.default_runner: the runner name for actors route() creates without one; NULL
     * for the one runner name connected in the namespace. Owned by the configuration. */
    const char *default_runner;
    /* cors.origins: exact origins and "*", NULL-terminated, owned by the configuration; NULL
     * lets any origin read answers (the default). */
    char *const *cors_origins;
    rt_cors_t cors; /* the CORS decision of the request being dispatched (rt_cors.c) */
} rt_t;

/* The request callback of the main listener; ud is an rt_t. */
void rt_on_request(net_conn_t *c, hreq *req, void *ud);

#endif
