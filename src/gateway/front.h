/* The main listener's first stop: every client, runner and REST request arrives here and is
 * sent to the part of sett that serves it. */
#ifndef SETT_GATEWAY_FRONT_H
#define SETT_GATEWAY_FRONT_H

#include "engine/engine.h"
#include "gateway/gw.h"
#include "net/server.h"
#include "runner/runner.h"

typedef struct gw_front {
    eng_t *eng;
    rn_t *rn;
    gw_t *gw;
    struct lh_policy *pol;
    /* gateway.default_runner: the runner name for actors route() creates without one; NULL
     * for the one runner name connected in the namespace. Owned by the configuration. */
    const char *default_runner;
} gw_front_t;

/* The request callback of the main listener; ud is a gw_front_t. */
void gw_front_on_request(net_conn_t *c, hreq *req, void *ud);

#endif
