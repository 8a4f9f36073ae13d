#include "router/rt_cors.h"
#include "lua/policy.h"
#include "router/router.h"

#include <string.h>
#include <strings.h>

/* What Rivet's REST API varies on: tower-http's CorsLayer with mirrored origin, methods and
 * headers adds it to every answer, with or without an Origin. */
static const char rt_cors_api_vary[] =
    "Vary: origin, access-control-request-method, access-control-request-headers\r\n";

bool rt_cors_is_preflight(const hreq *req)
{
    return !req->upgrade && strcmp(req->method, "OPTIONS") == 0;
}

/* Whether cors.origins lets this Origin read answers (origin NULL: a request without one,
 * which only "*" covers). No list at all is the default, any origin. */
static bool rt_cors_listed(const rt_t *rt, const slice_t *origin)
{
    if (!rt->cors_origins)
        return true;
    for (char *const *o = rt->cors_origins; *o; o++) {
        if (strcmp(*o, "*") == 0)
            return true;
        if (origin && strlen(*o) == origin->len && memcmp(*o, origin->p, origin->len) == 0)
            return true;
    }
    return false;
}

/* Decides once per request: the value of Access-Control-Allow-Origin goes to rt->cors.origin
 * (the Origin mirrored, or "*" for a request without one, or what the policy named). The
 * policy's cors hook is asked first about a request with an Origin; without an answer (no
 * hook, nil, a failure) cors.origins decides. */
static void rt_cors_decide(rt_t *rt, net_conn_t *c, const hreq *req)
{
    if (rt->cors.req == req && rt->cors.state != RT_CORS_UNDECIDED)
        return;
    rt->cors.req = req;
    buf_reset(&rt->cors.origin);
    const slice_t *origin = hreq_header(req, "origin");
    enum lh_cors said = LH_CORS_BUILTIN;
    if (origin && rt->pol && lh_policy_has(rt->pol, "cors"))
        said = lh_policy_cors(rt->pol, req, net_conn_peer(c), &rt->cors.origin);
    bool allowed = said == LH_CORS_BUILTIN ? rt_cors_listed(rt, origin) : said == LH_CORS_ALLOW;
    if (allowed && rt->cors.origin.len) {
        buf_push(&rt->cors.origin, '\0');
    } else if (allowed) {
        if (origin)
            buf_append(&rt->cors.origin, origin->p, origin->len);
        else
            buf_append_str(&rt->cors.origin, "*");
        buf_push(&rt->cors.origin, '\0');
    }
    rt->cors.state = allowed ? RT_CORS_ALLOWED : RT_CORS_REFUSED;
}

/* Appends "Name: value\r\n", the value being a request header's when it was sent, else dflt
 * (NULL: the header is left out). */
static void rt_cors_mirror(buf_t *b, const char *name, const hreq *req, const char *from,
                           const char *dflt)
{
    const slice_t *v = hreq_header(req, from);
    if (!v && !dflt)
        return;
    buf_append_str(b, name);
    buf_append_str(b, ": ");
    if (v)
        buf_append(b, v->p, v->len);
    else
        buf_append_str(b, dflt);
    buf_append_str(b, "\r\n");
}

void rt_cors_apply(rt_t *rt, net_conn_t *c, const hreq *req, enum rt_cors_kind kind)
{
    /* Browsers apply no CORS to WebSockets, and an upgrade's refusals are closes after it. */
    if (req->upgrade)
        return;
    rt_cors_decide(rt, c, req);
    bool allowed = rt->cors.state == RT_CORS_ALLOWED;
    bool origin = hreq_header(req, "origin") != NULL;
    bool preflight = rt_cors_is_preflight(req);
    const char *value = (const char *)rt->cors.origin.data;
    buf_t h = BUF_INIT;
    switch (kind) {
    case RT_CORS_GATEWAY:
        if (allowed) {
            buf_printf(&h,
                       "Access-Control-Allow-Origin: %s\r\n"
                       "Access-Control-Allow-Credentials: true\r\n"
                       "Access-Control-Expose-Headers: *\r\n",
                       value);
            if (preflight) {
                buf_append_str(&h,
                               "Access-Control-Allow-Methods: GET, POST, PUT, DELETE, "
                               "OPTIONS, PATCH\r\n");
                rt_cors_mirror(&h, "Access-Control-Allow-Headers", req,
                               "access-control-request-headers", "*");
                buf_append_str(&h, "Access-Control-Max-Age: 86400\r\n");
            }
        }
        if (origin)
            buf_append_str(&h, "Vary: Origin\r\n");
        break;
    case RT_CORS_API:
        buf_append_str(&h, rt_cors_api_vary);
        if (allowed) {
            buf_append_str(&h, "Access-Control-Allow-Credentials: true\r\n");
            if (origin)
                buf_printf(&h, "Access-Control-Allow-Origin: %s\r\n", value);
            if (preflight) {
                rt_cors_mirror(&h, "Access-Control-Allow-Methods", req,
                               "access-control-request-method", NULL);
                rt_cors_mirror(&h, "Access-Control-Allow-Headers", req,
                               "access-control-request-headers", NULL);
            }
        }
        break;
    case RT_CORS_OTHER:
        buf_append_str(&h, rt_cors_api_vary);
        if (allowed) {
            buf_append_str(&h, "Access-Control-Allow-Origin: *\r\n");
            /* Rivet exposes every header on the 404, and says nothing of it on a preflight,
             * where it would mean nothing. */
            if (preflight)
                buf_append_str(&h,
                               "Access-Control-Allow-Methods: *\r\n"
                               "Access-Control-Allow-Headers: *\r\n");
            else
                buf_append_str(&h, "Access-Control-Expose-Headers: *\r\n");
        }
        break;
    }
    buf_push(&h, '\0');
    net_http_set_extra(c, (const char *)h.data);
    buf_free(&h);
}

bool rt_cors_has_own(const char *headers)
{
    static const char name[] = "access-control-allow-origin:";
    for (const char *line = headers; line && *line;) {
        if (strncasecmp(line, name, sizeof name - 1) == 0)
            return true;
        const char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    return false;
}

void rt_cors_done(rt_t *rt)
{
    rt->cors.req = NULL;
    rt->cors.state = RT_CORS_UNDECIDED;
    buf_free(&rt->cors.origin);
}
