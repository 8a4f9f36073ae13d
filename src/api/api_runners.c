/* The runner routes, after Rivet 2.2.1's engine/packages/api-public/src/runners.rs and
 * api-peer/src/runners.rs: the runners of a namespace (optionally of one name, or by id), newest
 * first, and the runner names in use. Runners the engine has given up on are gone from its
 * tables, so include_stopped is accepted but finds nothing more. */
#include "api/api_impl.h"
#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

typedef struct api_rpick {
    eng_runner_t *r;
    size_t seq;
} api_rpick_t;

typedef struct api_rpicks {
    api_rpick_t *v;
    size_t n, cap;
    bool has_before;
    int64_t before;
} api_rpicks_t;

static void api_rpicks_add(api_rpicks_t *p, eng_runner_t *r)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->v = sx_realloc(p->v, p->cap * sizeof *p->v);
    }
    p->v[p->n].r = r;
    p->v[p->n].seq = p->n;
    p->n++;
}

static int api_rpicks_each(void *ud, eng_runner_t *r)
{
    api_rpicks_t *p = ud;
    if (!p->has_before || r->create_ts < p->before)
        api_rpicks_add(p, r);
    return 0;
}

static int api_rpick_cmp(const void *x, const void *y)
{
    const api_rpick_t *a = x, *b = y;
    if (a->r->create_ts != b->r->create_ts)
        return a->r->create_ts > b->r->create_ts ? -1 : 1;
    return a->seq > b->seq ? -1 : a->seq < b->seq ? 1 : 0;
}

static const api_qparam_t api_runner_params[] = {
    { "namespace", false },       { "name", false },
    { "runner_ids", false },      { "runner_id", true },
    { "include_stopped", false }, { "limit", false },
    { "cursor", false },
};

void api_runners_list(api_req_t *r)
{
    api_query_t q;
    api_ids_t ids = { 0 };
    api_rpicks_t p = { 0 };
    size_t limit = API_LIST_LIMIT;
    bool stopped = false;
    if (api_query_parse(&q, api_runner_params,
                        sizeof api_runner_params / sizeof api_runner_params[0], r->c, r->u) != 0 ||
        api_query_bool(&q, "include_stopped", &stopped, r->c) < 0 ||
        api_query_size(&q, "limit", &limit, r->c) < 0 ||
        api_query_i64(&q, "cursor", &p.before, r->c) < 0)
        goto done;
    p.has_before = api_query_str(&q, "cursor") != NULL;
    const eng_ns_t *ns = api_query_ns(&q, r->e, r->c);
    if (!ns || api_ids_add(&ids, api_query_str(&q, "runner_id"), "runner_id", r->c) != 0 ||
        api_ids_add(&ids, api_query_str(&q, "runner_ids"), "runner_ids", r->c) != 0)
        goto done;
    bool by_id = ids.n > 0;
    if (by_id) {
        for (size_t i = 0; i < ids.n; i++) {
            eng_runner_t *rn = eng_runner_get(r->e, ids.v[i]);
            bool seen = false;
            for (size_t j = 0; rn && j < p.n; j++)
                seen |= p.v[j].r == rn;
            if (rn && rn->ns == ns && !seen)
                api_rpicks_add(&p, rn);
        }
    } else {
        eng_runner_each(r->e, ns, api_query_str(&q, "name"), api_rpicks_each, &p);
    }
    if (p.n > 1)
        qsort(p.v, p.n, sizeof *p.v, api_rpick_cmp);
    size_t n = p.n < limit ? p.n : limit;
    buf_t b = BUF_INIT;
    json_w w;
    json_w_init(&w, &b);
    json_w_obj_begin(&w);
    json_w_key(&w, "runners");
    json_w_arr_begin(&w);
    for (size_t i = 0; i < n; i++)
        api_w_runner(&w, p.v[i].r);
    json_w_end(&w);
    /* Rivet gives a lookup by id no cursor. */
    api_w_pagination_ts(&w, n > 0 && !by_id, n ? p.v[n - 1].r->create_ts : 0);
    json_w_end(&w);
    api_send(r->c, &b);
done:
    free(p.v);
    api_ids_free(&ids);
    api_query_free(&q);
}

static int api_rnames_each(void *ud, eng_runner_t *r)
{
    api_rpicks_add(ud, r);
    return 0;
}

static int api_rname_cmp(const void *x, const void *y)
{
    return strcmp(((const api_rpick_t *)x)->r->name, ((const api_rpick_t *)y)->r->name);
}

static const api_qparam_t api_rnames_params[] = {
    { "namespace", false },
    { "limit", false },
    { "cursor", false },
};

/* GET /runners/names: {"names": [...], "pagination": {"cursor": last name}}, sorted, names
 * after the cursor only. */
void api_runners_names(api_req_t *r)
{
    api_query_t q;
    api_rpicks_t p = { 0 };
    size_t limit = API_LIST_LIMIT;
    if (api_query_parse(&q, api_rnames_params, 3, r->c, r->u) != 0 ||
        api_query_size(&q, "limit", &limit, r->c) < 0)
        goto done;
    const eng_ns_t *ns = api_query_ns(&q, r->e, r->c);
    if (!ns)
        goto done;
    const char *after = api_query_str(&q, "cursor");
    eng_runner_each(r->e, ns, NULL, api_rnames_each, &p);
    if (p.n > 1)
        qsort(p.v, p.n, sizeof *p.v, api_rname_cmp);
    buf_t b = BUF_INIT;
    json_w w;
    json_w_init(&w, &b);
    json_w_obj_begin(&w);
    json_w_key(&w, "names");
    json_w_arr_begin(&w);
    const char *last = NULL;
    size_t n = 0;
    for (size_t i = 0; i < p.n && n < limit; i++) {
        const char *name = p.v[i].r->name;
        if ((last && strcmp(last, name) == 0) || (after && strcmp(name, after) <= 0))
            continue;
        json_w_str(&w, name);
        last = name;
        n++;
    }
    json_w_end(&w);
    api_w_pagination_str(&w, last);
    json_w_end(&w);
    api_send(r->c, &b);
done:
    free(p.v);
    api_query_free(&q);
}
