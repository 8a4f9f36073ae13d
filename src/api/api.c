/* The REST router: which paths are the API's, and which method each takes. The table is Rivet
 * 2.2.1's engine/packages/api-public/src/router.rs, less the runner configs, health fan-out and
 * UI, plus GET /actors/{id} and GET /namespaces/{id}, which sett adds.
 *
 * A path under one of the API's first segments is always answered here, with api.not_found
 * for a path the API does not know, so such mistakes read as the API's own errors; any other
 * path is left to the caller's other routes. */
#include "api/api_impl.h"

#include <string.h>

#define API_MAX_SEGS 5

static bool api_seg_is(const url_str *s, const char *lit)
{
    return s->len == strlen(lit) && memcmp(s->p, lit, s->len) == 0;
}

static bool api_method_is(const hreq *req, const char *m)
{
    return strcmp(req->method, m) == 0;
}

static void api_route_actors(api_req_t *r, const url_str *seg, size_t n)
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

static void api_route_runners(api_req_t *r, const url_str *seg, size_t n)
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

static void api_route_namespaces(api_req_t *r, const url_str *seg, size_t n)
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

int api_handle(eng_t *e, net_conn_t *c, hreq *req, const url_parts *u)
{
    url_str seg[API_MAX_SEGS + 1];
    size_t n = 0, pos = 0;
    url_str s;
    while (n < API_MAX_SEGS + 1 && url_path_next(&u->path, &pos, &s))
        seg[n++] = s;
    /* One trailing slash names the same resource ("/actors/" is "/actors"). */
    if (n > 1 && seg[n - 1].len == 0 && pos >= u->path.len)
        n--;
    if (n == 0)
        return 0;
    api_req_t r = { e, c, req, u };
    if (api_seg_is(&seg[0], "actors"))
        api_route_actors(&r, seg, n);
    else if (api_seg_is(&seg[0], "runners"))
        api_route_runners(&r, seg, n);
    else if (api_seg_is(&seg[0], "namespaces"))
        api_route_namespaces(&r, seg, n);
    else if (api_seg_is(&seg[0], "metadata"))
        api_route_single(&r, n, api_metadata);
    else if (api_seg_is(&seg[0], "datacenters"))
        api_route_single(&r, n, api_datacenters);
    else
        return 0;
    return 1;
}
