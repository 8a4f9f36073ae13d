/* The REST router: which paths are the API's, and which method each takes. The table is Rivet
 * 2.2.1's engine/packages/api-public/src/router.rs, less the runner configs, health fan-out and
 * UI, plus GET /actors/{id} and GET /namespaces/{id}, which sett adds.
 *
 * A path under one of the API's first segments is always answered here, with api.not_found
 * for a path the API does not know, so such mistakes read as the API's own errors; any other
 * path is left to the caller's other routes. */
#include "api/api_impl.h"

#include "core/alloc.h"
#include "core/secret.h"

#include <stdlib.h>
#include <string.h>

#define API_MAX_SEGS 5

static char *api_token;

void api_set_token(const char *token)
{
    free(api_token);
    api_token = token ? sx_strdup(token) : NULL;
}

/* Rivet's admin token check (api-public's ApiCtx::auth), with 401 for a missing token. Returns
 * true when the request may go on. */
static bool api_authorized(net_conn_t *c, const hreq *req)
{
    if (!api_token)
        return true;
    const slice_t *h = hreq_header(req, "authorization");
    switch (sec_bearer(api_token, h ? h->p : NULL, h ? h->len : 0)) {
    case SEC_BEARER_OK: return true;
    case SEC_BEARER_MISSING:
        api_error_ex(c, 401, "api", "unauthorized", "Authentication required", NULL, 0,
                     "WWW-Authenticate: Bearer\r\n");
        return false;
    case SEC_BEARER_WRONG: break;
    }
    api_error(c, 403, "api", "forbidden", "Access denied");
    return false;
}

static bool api_seg_is(const slice_t *s, const char *lit)
{
    return s->len == strlen(lit) && memcmp(s->p, lit, s->len) == 0;
}

static bool api_method_is(const hreq *req, const char *m)
{
    return strcmp(req->method, m) == 0;
}

static void api_route_actors(api_req_t *r, const slice_t *seg, size_t n)
{
    if (n == 1) {
        if (api_method_is(r->req, "GET"))
            api_actors_list(r);
        else if (api_method_is(r->req, "POST"))
            api_actors_create(r);
        else if (api_method_is(r->req, "PUT"))
            api_actors_get_or_create(r);
        else
            api_method_not_allowed(r->c, "GET, POST, PUT");
    } else if (n == 2 && api_seg_is(&seg[1], "names")) {
        if (api_method_is(r->req, "GET"))
            api_actors_names(r);
        else
            api_method_not_allowed(r->c, "GET");
    } else if (n == 5 && api_seg_is(&seg[2], "kv") && api_seg_is(&seg[3], "keys")) {
        if (api_method_is(r->req, "GET"))
            api_actors_kv_get(r, &seg[1], &seg[4]);
        else
            api_method_not_allowed(r->c, "GET");
    } else if (n == 2) {
        if (api_method_is(r->req, "GET"))
            api_actors_get(r, &seg[1]);
        else if (api_method_is(r->req, "DELETE"))
            api_actors_delete(r, &seg[1]);
        else
            api_method_not_allowed(r->c, "GET, DELETE");
    } else {
        api_route_not_found(r->c);
    }
}

static void api_route_runners(api_req_t *r, const slice_t *seg, size_t n)
{
    bool names = n == 2 && api_seg_is(&seg[1], "names");
    if (n != 1 && !names)
        api_route_not_found(r->c);
    else if (!api_method_is(r->req, "GET"))
        api_method_not_allowed(r->c, "GET");
    else if (names)
        api_runners_names(r);
    else
        api_runners_list(r);
}

static void api_route_namespaces(api_req_t *r, const slice_t *seg, size_t n)
{
    if (n == 1) {
        if (api_method_is(r->req, "GET"))
            api_namespaces_list(r);
        else if (api_method_is(r->req, "POST"))
            api_namespaces_create(r);
        else
            api_method_not_allowed(r->c, "GET, POST");
    } else if (n == 2) {
        if (api_method_is(r->req, "GET"))
            api_namespaces_get(r, &seg[1]);
        else
            api_method_not_allowed(r->c, "GET");
    } else {
        api_route_not_found(r->c);
    }
}

/* Routes with one segment and one method. */
static void api_route_single(api_req_t *r, size_t n, void (*fn)(api_req_t *r))
{
    if (n != 1)
        api_route_not_found(r->c);
    else if (!api_method_is(r->req, "GET"))
        api_method_not_allowed(r->c, "GET");
    else
        fn(r);
}

static void api_route_metadata(api_req_t *r, const slice_t *seg, size_t n)
{
    (void)seg;
    api_route_single(r, n, api_metadata);
}

static void api_route_datacenters(api_req_t *r, const slice_t *seg, size_t n)
{
    (void)seg;
    api_route_single(r, n, api_datacenters);
}

/* The API's first path segments. */
static const struct {
    const char *name;
    void (*fn)(api_req_t *r, const slice_t *seg, size_t n);
} api_prefixes[] = {
    { "actors", api_route_actors },           { "runners", api_route_runners },
    { "namespaces", api_route_namespaces },   { "metadata", api_route_metadata },
    { "datacenters", api_route_datacenters },
};

int api_handle(eng_t *e, net_conn_t *c, hreq *req, const url_parts *u)
{
    slice_t seg[API_MAX_SEGS + 1];
    size_t n = 0, pos = 0;
    slice_t s;
    while (n < API_MAX_SEGS + 1 && url_path_next(&u->path, &pos, &s))
        seg[n++] = s;
    /* One trailing slash names the same resource ("/actors/" is "/actors"). */
    if (n > 1 && seg[n - 1].len == 0 && pos >= u->path.len)
        n--;
    if (n == 0)
        return 0;
    api_req_t r = { e, c, req, u };
    for (size_t i = 0; i < sizeof api_prefixes / sizeof api_prefixes[0]; i++) {
        if (!api_seg_is(&seg[0], api_prefixes[i].name))
            continue;
        /* A CORS preflight is answered before the token check: browsers send it without
         * credentials, so one that needed the token could never pass. The caller gave the
         * CORS headers (the router's); the answer is Rivet's, 200 with no body. */
        if (strcmp(req->method, "OPTIONS") == 0 && !req->upgrade)
            net_http_respond(c, 200, NULL, NULL, NULL, 0);
        else if (api_authorized(c, req))
            api_prefixes[i].fn(&r, seg, n);
        return 1;
    }
    return 0;
}
