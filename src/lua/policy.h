/* The policy: a user's Lua file of optional hooks (route, place, can_hibernate, timeouts,
 * auto_response, authorize, cors) that sett asks at decision points. The Lua module sett.policy loads files and
 * checks what hooks return; this file calls it from C with a time budget per call, counts
 * errors, and swaps policies on reload in one step. A failing call is logged and the built-in
 * behaviour answers: a policy never stops the process. */
#ifndef SETT_LUA_POLICY_H
#define SETT_LUA_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "engine/engine.h"
#include "lua/host.h"
#include "lua/timeouts.h"
#include "net/http_req.h"
#include "net/url.h"

typedef struct lh_policy lh_policy_t;

/* path NULL: no policy, every decision is built in. */
lh_policy_t *lh_policy_new(lh_t *h, eng_t *eng, const char *path, uint64_t budget_ms);
void lh_policy_free(lh_policy_t *p);
/* Loads the policy file as a reload would (sandbox, the configuration's options, self_test) and
 * drops it at once: for `sett check`. Returns 0, or -1 with the loader's message in err. */
int lh_policy_check(lh_t *h, const char *path, buf_t *err);
/* Loads the policy from path (the configuration's, which may name a new file), which becomes the
 * policy's path on success; on failure the old policy stays and err says why. Returns 0 or -1.
 * path NULL removes the policy, so every decision is built in. A policy that is replaced or
 * removed (here, or by lh_policy_free) has its timers stopped first. */
int lh_policy_reload_from(lh_policy_t *p, const char *path, buf_t *err);
/* Stops what the loaded policy started (its timers, its sett.hibernation asks) and keeps its
 * hooks: at shutdown, so that no timer of a policy keeps the event loop running. */
void lh_policy_stop(lh_policy_t *p);
/* The longest one hook call or timer callback may run; the next call uses it. */
void lh_policy_set_budget(lh_policy_t *p, uint64_t budget_ms);
/* The bounds lh_policy_timeouts clamps answers to, per key; 0 keeps the derived bound (a
 * tenth, or ten times, the default). */
void lh_policy_set_bounds(lh_policy_t *p, const lh_timeouts_t *min, const lh_timeouts_t *max);
/* Whether the policy defines the hook (route, place, can_hibernate, timeouts, auto_response,
 * authorize, cors).
 * The answer is read once per load that takes effect, so asking costs a few string compares and
 * never touches Lua; the lh_policy_* calls check it themselves. */
bool lh_policy_has(const lh_policy_t *p, const char *hook);

/* A request's table as the hooks see it (method, path, query, headers, host, peer, and the ctx
 * route returned), shared by every hook of the request: a slot in the Lua registry, an int, so
 * a record that keeps it (a socket) holds no copies of its strings. LH_REQ_NONE is no table;
 * each slot is released with lh_policy_req_free. */
#define LH_REQ_NONE 0
/* Whether a hook asked while the request starts (authorize, timeouts) or later for a WebSocket
 * (can_hibernate, auto_response) takes the request table: only then is one built or kept.
 * timeouts and auto_response take it only when their function declares the parameter. */
bool lh_policy_wants_req(const lh_policy_t *p, bool websocket);
/* Whether a WebSocket still needs its table after it started: before the open is acked for
 * can_hibernate, and afterwards for an auto_response that takes it. */
bool lh_policy_wants_req_later(const lh_policy_t *p, bool open_acked);
/* A new table for a request route() did not see (without ctx). */
int lh_policy_req_new(lh_policy_t *p, const hreq *req, const char *peer);
/* Another slot for the same table, released on its own. */
int lh_policy_req_keep(lh_policy_t *p, int lreq);
void lh_policy_req_free(lh_policy_t *p, int lreq);

enum lh_route_kind { LH_ROUTE_BUILTIN = 0, LH_ROUTE_ACTOR, LH_ROUTE_CREATE, LH_ROUTE_RESPOND };

typedef struct lh_route {
    enum lh_route_kind kind;
    char *actor_id;          /* ACTOR */
    eng_actor_spec_t create; /* CREATE: strings owned by the struct */
    int status;              /* RESPOND */
    buf_t headers;           /* RESPOND: "Name: value\r\n" lines, NUL-terminated */
    buf_t body;              /* RESPOND */
    int req;                 /* route: the request table with its ctx when a later hook takes
                                * it, else LH_REQ_NONE; the caller releases it with
                                * lh_policy_req_free (lh_route_free does not) */
} lh_route_t;

void lh_route_free(lh_route_t *r);
/* Asks route(req). Errors are logged and answered with LH_ROUTE_BUILTIN. */
void lh_policy_route(lh_policy_t *p, const hreq *req, const url_parts *u, const char *peer,
                     lh_route_t *out);
/* Asks authorize(req, target) before a request reaches actor a; req is the table lreq names,
 * else a new one of req and peer; target holds actor_id, the actor table and the token (of
 * /gateway/{id}@{token}/... or x-rivet-token). Returns true to go on; false with the answer to
 * send in out (kind LH_ROUTE_RESPOND; the caller frees it). A failing hook refuses with 500
 * authorize_failed. Without the hook, true. */
bool lh_policy_authorize(lh_policy_t *p, int lreq, const hreq *req, const char *peer,
                         const eng_actor_t *a, lh_route_t *out);
enum lh_cors { LH_CORS_BUILTIN = 0, LH_CORS_ALLOW, LH_CORS_REFUSE };
/* Asks cors(req) whether the web origin of a request that carries an Origin header may read
 * the answer: LH_CORS_ALLOW (with the Access-Control-Allow-Origin to send appended to origin
 * when the hook named one; left empty, the Origin is mirrored), LH_CORS_REFUSE, or
 * LH_CORS_BUILTIN (cors.origins decides) without the hook, for a nil answer, and when the call
 * fails, which is logged. */
enum lh_cors lh_policy_cors(lh_policy_t *p, const hreq *req, const char *peer, buf_t *origin);
/* Asks can_hibernate(actor, req, runner_says), req the table lreq names, else { path = path };
 * without the hook, runner_says. */
bool lh_policy_can_hibernate(lh_policy_t *p, const eng_actor_t *a, int lreq, const char *path,
                             bool runner_says);
/* Asks auto_response(actor, msg, binary, req) (req nil for LH_REQ_NONE); returns true with the
 * answer in out. */
bool lh_policy_auto_response(lh_policy_t *p, const eng_actor_t *a, int lreq, const uint8_t *data,
                             size_t len, bool binary, buf_t *out);

/* Asks timeouts(actor, req) once per request or socket (req nil for LH_REQ_NONE); io holds the defaults on entry. Each answer
 * is clamped to the bounds lh_policy_set_bounds gave, by default a tenth to ten times its
 * default. */
void lh_policy_timeouts(lh_policy_t *p, const eng_actor_t *a, int lreq, lh_timeouts_t *io);
/* Asks place(actor, runners): returns the chosen runner, or NULL for the built-in choice. */
eng_runner_t *lh_policy_place(lh_policy_t *p, const eng_actor_t *a, eng_runner_t **cands, size_t n);

#endif
