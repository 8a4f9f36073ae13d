/* The gateway half: carries client HTTP requests and WebSockets, once the router (router/) has
 * named their actor, through the actor's runner tunnel over the bus: ToRunner frames to
 * `pegboard.runner.{id}`, answers from `pegboard.gateway.{gateway id}`. Every tunnelled WebSocket
 * is pinged (ToRunnerPing/ToGatewayPong) to measure the path and close it when the path is dead. */
#ifndef SETT_GATEWAY_GW_H
#define SETT_GATEWAY_GW_H

#include <stdint.h>

#include "bus/bus.h"
#include "engine/engine.h"
#include "lua/timeouts.h"
#include "net/server.h"
#include "store/store.h"

typedef struct gw gw_t;

typedef struct gw_config {
    /* Each request's timeouts before the policy's timeouts hook: the tunnel ping (plus 0-127 ms
     * jitter), the waits for a response start and a WebSocket open, the pending cap and ack
     * timeout of a hibernatable socket, and the hibernation threshold (keepalive rows are
     * refreshed every half of it). */
    lh_timeouts_t timeouts;
    uint64_t ready_timeout_ms; /* 10000 */
    uint64_t gc_interval_ms;   /* 15000 */
    unsigned retries;          /* 3 */
    size_t max_body_bytes;     /* 20 MiB: larger request bodies get 413 */
} gw_config_t;

gw_t *gw_new(uv_loop_t *loop, eng_t *eng, bus_t *bus, store_t *store, const gw_config_t *cfg);
/* Frees what is left once the transport has closed every socket. */
void gw_free(gw_t *gw);
size_t gw_in_flight(const gw_t *gw);
/* Carries the request to this actor; path is the request target the actor sees. A request
 * gw_reachable refuses is answered with its error. */
void gw_forward(gw_t *gw, net_conn_t *c, hreq *req, const char *actor_id, const char *path);
/* The same with the request table route() saw (lh_policy's LH_REQ_NONE when it saw none), which
 * the later hooks of the request get; the caller keeps and releases its slot. */
void gw_forward_req(gw_t *gw, net_conn_t *c, hreq *req, const char *actor_id, const char *path,
                    int lreq);
/* Returns 1 when a request may be carried to this actor; otherwise answers the client (404 when
 * the actor does not exist or was destroyed, 503 when it would have to start while the store is
 * away) and returns 0. */
int gw_reachable(gw_t *gw, net_conn_t *c, const char *actor_id);
/* Answers a request for an actor with an error before it reaches the tunnel: HTTP (and a NULL
 * req) gets the JSON error with its status and headers; a WebSocket upgrade is accepted, with
 * the subprotocol a tunnelled socket would get, and closed at once with 1011 and the reason
 * "<group>.<code>#<ray id>", as Rivet's gateway does (the status is not sent). */
void gw_refuse(net_conn_t *c, hreq *req, int status, const char *group, const char *code,
               const char *message, const char *headers);
/* Answers with a policy's answer. HTTP gets it as it is, and so does an upgrade when the status
 * is below 400; an upgrade refused with a status of 400 or more is closed as gw_refuse does,
 * with the group and code of a body that is a Rivet error ({"group","code",...} of short
 * identifiers), else "policy" and a code for the status (bad_request, unauthorized, forbidden,
 * not_found, rate_limited, or refused). */
void gw_refuse_answer(net_conn_t *c, hreq *req, int status, const char *headers, const void *body,
                      size_t len);
/* The policy asked for timeouts, hibernation and auto-responses; NULL for built-in behaviour. */
struct lh_policy;
void gw_set_policy(gw_t *gw, struct lh_policy *pol);
/* For sett.hibernation (lua/core.h's lh_hib_rows_fn and lh_hib_local_fn; ud is the gateway):
 * the store's rows of the actor's hibernatable sockets that a start of the actor would list (not
 * older than the hibernation threshold), every gateway's, through cb; and how many of this
 * gateway's sockets of the actor may hibernate now, counted as they open and close. */
struct lh_hib_row;
void gw_hib_rows(void *gw, const char *actor_id,
                 void (*cb)(void *cb_ud, const char *err, const struct lh_hib_row *rows, size_t n),
                 void *cb_ud);
size_t gw_hib_local(void *gw, const char *actor_id);
/* Replaces the configuration on a reload; what is in flight keeps its timeouts. */
void gw_set_config(gw_t *gw, const gw_config_t *cfg);
/* The transport whose process-wide total (limits.max_buffered_bytes) counts the unacked
 * messages of hibernatable sockets too; without one they are under the per-socket cap only. */
void gw_set_server(gw_t *gw, net_server_t *srv);

#endif
