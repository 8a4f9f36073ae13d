#include "router/router.h"
#include "api/api.h"
#include "core/alloc.h"
#include "lua/policy.h"
#include "net/url.h"
#include "router/rt_target.h"

#include <stdio.h>
#include <string.h>

/* ---- Actor routes ---- */

/* A request for an actor: a CORS preflight is answered here, 204 even for an actor that does
 * not exist, as Rivet's guard answers it; everything else the gateway carries to the actor.
 * Every answer but an upgrade's carries the route's CORS headers. */
static void rt_forward(rt_t *rt, net_conn_t *c, hreq *req, const char *actor_id, const char *path,
                       int lreq)
{
    rt_cors_apply(rt, c, req, RT_CORS_GATEWAY);
    if (rt_cors_is_preflight(req)) {
        net_http_respond(c, 204, NULL, NULL, NULL, 0);
        return;
    }
    gw_forward_req(rt->gw, c, req, actor_id, path, lreq);
}

/* ---- The policy's route hook ---- */

typedef struct rt_names {
    const char *names[4];
    size_t n;
} rt_names_t;

/* Collects the distinct names of the runners that can take an actor now (up to four, enough
 * to tell one from several and to name a few in an error). */
static int rt_add_name(void *ud, eng_runner_t *r)
{
    rt_names_t *l = ud;
    if (!r->connected || r->draining)
        return 0;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->names[i], r->name) == 0)
            return 0;
    if (l->n == sizeof l->names / sizeof l->names[0])
        return 1;
    l->names[l->n++] = r->name;
    return 0;
}

/* The runner name for an actor route() creates without one: gateway.default_runner when it is
 * set, else the name of the runners connected in the namespace when they all share one. With
 * none or several names there is no safe guess: the error says which and how to choose. */
static const char *rt_default_runner(rt_t *rt, const eng_ns_t *ns, net_conn_t *c, hreq *req)
{
    if (rt->default_runner)
        return rt->default_runner;
    rt_names_t l = { { NULL }, 0 };
    if (ns)
        eng_runner_each(rt->eng, ns, NULL, rt_add_name, &l);
    if (l.n == 1)
        return l.names[0];
    char msg[256];
    if (l.n == 0) {
        gw_refuse(c, req, 503, "policy", "no_runner",
                  "route() gave no runner for a new actor and no runner is connected; set "
                  "runner in the answer or gateway.default_runner",
                  NULL);
        return NULL;
    }
    snprintf(msg, sizeof msg,
             "route() gave no runner for a new actor and several runner names are connected "
             "(%s, %s%s); set runner in the answer or gateway.default_runner",
             l.names[0], l.names[1], l.n > 2 ? ", ..." : "");
    gw_refuse(c, req, 500, "policy", "no_runner", msg, NULL);
    return NULL;
}

/* The policy's route hook decides before the built-in routes; returns 0 to fall through. Its
 * errors, and an answer of 400 or more, reach a WebSocket as a close after the upgrade
 * (gw_refuse). */
static int rt_policy(rt_t *rt, net_conn_t *c, hreq *req, const url_parts *u)
{
    lh_route_t r;
    lh_policy_route(rt->pol, req, u, net_conn_peer(c), &r);
    int handled = 1;
    if (r.kind == LH_ROUTE_RESPOND) {
        if (!rt_cors_has_own((const char *)r.headers.data))
            rt_cors_apply(rt, c, req, RT_CORS_GATEWAY);
        gw_refuse_answer(c, req, r.status, (const char *)r.headers.data, r.body.data, r.body.len);
    } else if (r.kind == LH_ROUTE_ACTOR) {
        rt_forward(rt, c, req, r.actor_id, (const char *)req->url.p, r.req);
    } else if (r.kind == LH_ROUTE_CREATE) {
        /* Get-or-create: the live actor with this name and key in the namespace the answer
         * names (default "default"), or a new one; an unknown namespace is the REST API's 404. */
        const eng_ns_t *ns = eng_ns_get(rt->eng, r.create.namespace_name);
        if (!ns) {
            gw_refuse(c, req, 404, "namespace", "not_found", "The namespace does not exist.", NULL);
            goto done;
        }
        eng_actor_t *a = r.create.key ? eng_actor_find(rt->eng, ns, r.create.name, r.create.key)
                                      : NULL;
        eng_error_t err;
        if (!a && !r.create.runner_name_selector) {
            const char *name = rt_default_runner(rt, ns, c, req);
            if (!name)
                goto done;
            r.create.runner_name_selector = sx_strdup(name);
        }
        if (!a && eng_actor_create(rt->eng, &r.create, &a, &err) != 0) {
            gw_refuse(c, req, err.status, err.group, err.code, err.message, NULL);
        } else {
            rt_forward(rt, c, req, a->actor_id, (const char *)req->url.p, r.req);
        }
    } else {
        handled = 0;
    }
done:
    lh_policy_req_free(rt->pol, r.req);
    lh_route_free(&r);
    return handled;
}

/* ---- The listener's callback ---- */

static void rt_dispatch(rt_t *rt, net_conn_t *c, hreq *req)
{
    url_parts u;
    url_split((const char *)req->url.p, req->url.len, &u);
    if (u.path.len == 7 && memcmp(u.path.p, "/health", 7) == 0) {
        static const char ok[] = "{\"status\":\"ok\"}";
        net_http_respond(c, 200, "application/json", NULL, ok, sizeof ok - 1);
        return;
    }
    if (rn_handle(rt->rn, c, req, &u))
        return;
    if (rt->pol && lh_policy_has(rt->pol, "route") && rt_policy(rt, c, req, &u))
        return;
    rt_target_t t;
    int found = rt_target_find(req, &u, &t);
    if (found == RT_TARGET_BAD) {
        rt_cors_apply(rt, c, req, RT_CORS_GATEWAY);
        gw_refuse(c, req, 400, "guard", "invalid_path", t.error, NULL);
    } else if (found == RT_TARGET_ACTOR) {
        rt_forward(rt, c, req, t.actor_id, (const char *)t.path.data, LH_REQ_NONE);
    }
    rt_target_free(&t);
    if (found != RT_TARGET_NONE)
        return;
    rt_cors_apply(rt, c, req, RT_CORS_API);
    if (api_handle(rt->eng, c, req, &u))
        return;
    /* No route takes the path: Rivet's guard answers a preflight 200 and the rest 404. */
    rt_cors_apply(rt, c, req, RT_CORS_OTHER);
    if (rt_cors_is_preflight(req))
        net_http_respond(c, 200, NULL, NULL, NULL, 0);
    else
        net_http_error(c, 404, "guard", "no_route", "no route for this path", NULL);
}

void rt_on_request(net_conn_t *c, hreq *req, void *ud)
{
    rt_t *rt = ud;
    rt_dispatch(rt, c, req);
    rt_cors_done(rt);
}
