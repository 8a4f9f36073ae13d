/* Which actor a client request names, read from the request alone: the path
 * `/gateway/{actor_id}[@token]/rest`, the headers `x-rivet-target: actor` with `x-rivet-actor`,
 * or the WebSocket subprotocols `rivet_target.actor` with `rivet_actor.<id>`. Free of I/O, so
 * the router's tests call it directly. */
#ifndef SETT_ROUTER_RT_TARGET_H
#define SETT_ROUTER_RT_TARGET_H

#include "core/buf.h"
#include "net/http_req.h"
#include "net/url.h"

/* Results of rt_target_find. */
enum {
    RT_TARGET_BAD = -1,  /* a /gateway/ path that names no actor properly: answer 400 */
    RT_TARGET_NONE = 0,  /* the request is not for an actor */
    RT_TARGET_ACTOR = 1, /* the request is for actor_id, which sees path */
};

typedef struct rt_target {
    char *actor_id;    /* decoded, NUL-terminated; set for RT_TARGET_ACTOR */
    buf_t path;        /* NUL-terminated: what the actor sees as its request target */
    const char *error; /* a static message for RT_TARGET_BAD */
} rt_target_t;

/* Fills *t from the request and its split target u; call rt_target_free whatever it returns.
 * By path, the actor sees the rest of the path after its id and the query, byte for byte ("/"
 * when nothing follows the id); by header or subprotocol it sees the whole target. */
int rt_target_find(const hreq *req, const url_parts *u, rt_target_t *t);
void rt_target_free(rt_target_t *t);

#endif
