/* CORS on the main listener, as Rivet's guard and REST API answer it: whether a request's
 * Origin may read the answer (cors.origins, or the policy's cors hook), and the headers every
 * answer of a route then carries. The router decides once per request and hands the headers to
 * the transport (net_http_set_extra), so that every answer of the route carries them whichever
 * part of sett gives it: the actor's, the gateway's errors, the REST API's. An Origin that is
 * refused gets no CORS header at all, only Vary, so that caches keep answers apart.
 *
 * docs/gateway.md and docs/api.md list the headers of each kind of route. */
#ifndef SETT_ROUTER_RT_CORS_H
#define SETT_ROUTER_RT_CORS_H

#include <stdbool.h>

#include "core/buf.h"
#include "net/http_req.h"
#include "net/server.h"
#include "net/url.h"

struct rt;

/* The three sets of headers: an actor's route (the guard's), the REST API's (tower-http's,
 * mirroring), and a path no route takes (the guard's 404, "*" without credentials). */
enum rt_cors_kind { RT_CORS_GATEWAY, RT_CORS_API, RT_CORS_OTHER };

/* Whether the request is a CORS preflight as Rivet answers one: any OPTIONS that is not an
 * upgrade (Rivet does not require Access-Control-Request-Method either). */
bool rt_cors_is_preflight(const hreq *req);

/* The router's decision for the request being dispatched (a member of rt_t). */
enum rt_cors_state { RT_CORS_UNDECIDED = 0, RT_CORS_ALLOWED, RT_CORS_REFUSED };

typedef struct rt_cors {
    const hreq *req; /* the request decided on, or NULL */
    enum rt_cors_state state;
    buf_t origin; /* when allowed: Access-Control-Allow-Origin's value, NUL-ended */
} rt_cors_t;

/* Decides, once per request, whether req's Origin may read the answer, and sets the headers
 * that every answer to req then carries for a route of the given kind (the preflight headers
 * too when req is one). An upgrade gets none and asks nothing: browsers apply no CORS to
 * WebSockets. A later call for the same request replaces the headers with those of another
 * kind on the same decision; rt_cors_done forgets it once the request is dispatched. */
void rt_cors_apply(struct rt *rt, net_conn_t *c, const hreq *req, enum rt_cors_kind kind);
void rt_cors_done(struct rt *rt);

/* Whether raw header lines set Access-Control-Allow-Origin themselves (a policy's direct
 * answer that does its own CORS then gets none of the router's). */
bool rt_cors_has_own(const char *headers);

#endif
