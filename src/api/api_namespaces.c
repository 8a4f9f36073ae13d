/* The namespace routes, after Rivet 2.2.1's engine/packages/api-peer/src/namespaces.rs and the
 * namespace workflow's validation (engine/packages/namespace/src/workflows/namespace.rs): list
 * (all, by name, or by ids), create, and, as a sett extension, one namespace by id.
 *
 * Creation is validated here with Rivet's rules and error codes (namespace.failed_to_create,
 * namespace.name_not_unique) before the engine is asked, so clients see Rivet's answers. */
#include "api/api_impl.h"

#include <stdio.h>
#include <string.h>

static const api_qparam_t api_ns_params[] = {
    { "limit", false },         { "cursor", false },      { "name", false },
    { "namespace_ids", false }, { "namespace_id", true },
};

static const eng_ns_t *api_ns_by_id(eng_t *e, const char *id)
{
    for (size_t i = 0; i < eng_ns_count(e); i++) {
        const eng_ns_t *ns = eng_ns_at(e, i);
        if (strcmp(ns->namespace_id, id) == 0)
            return ns;
    }
    return NULL;
}

void api_namespaces_list(api_req_t *r)
{
    api_query_t q;
    api_ids_t ids = { 0 };
    size_t limit = API_LIST_LIMIT;
    if (api_query_parse(&q, api_ns_params, sizeof api_ns_params / sizeof api_ns_params[0], r->c,
                        r->u) != 0 ||
        api_query_size(&q, "limit", &limit, r->c) < 0 ||
        api_ids_add(&ids, api_query_str(&q, "namespace_id"), "namespace_id", r->c) != 0 ||
        api_ids_add(&ids, api_query_str(&q, "namespace_ids"), "namespace_ids", r->c) != 0)
        goto done;
    const char *name = api_query_str(&q, "name");
    buf_t b = BUF_INIT;
    json_w w;
    json_w_init(&w, &b);
    json_w_obj_begin(&w);
    json_w_key(&w, "namespaces");
    json_w_arr_begin(&w);
    if (name) {
        /* By name: that one or none, and no cursor, as Rivet answers. */
        const eng_ns_t *ns = eng_ns_get(r->e, name);
        if (ns)
            api_w_namespace(&w, ns);
        json_w_end(&w);
        api_w_pagination_str(&w, NULL);
    } else if (ids.n) {
        for (size_t i = 0; i < ids.n; i++) {
            const eng_ns_t *ns = api_ns_by_id(r->e, ids.v[i]);
            bool seen = false;
            for (size_t j = 0; ns && j < i; j++)
                seen |= strcmp(ids.v[j], ids.v[i]) == 0;
            if (ns && !seen)
                api_w_namespace(&w, ns);
        }
        json_w_end(&w);
        api_w_pagination_str(&w, NULL);
    } else {
        /* Everything, in the engine's (name) order, up to the limit; Rivet ignores the cursor
         * here and so does sett. */
        size_t n = eng_ns_count(r->e);
        if (n > limit)
            n = limit;
        for (size_t i = 0; i < n; i++)
            api_w_namespace(&w, eng_ns_at(r->e, i));
        json_w_end(&w);
        api_w_pagination_ts(&w, n > 0, n ? eng_ns_at(r->e, n - 1)->create_ts : 0);
    }
    json_w_end(&w);
    api_send(r->c, &b);
done:
    api_ids_free(&ids);
    api_query_free(&q);
}

/* Rivet's identifier rule: 1 to 64 of a-z, 0-9 and '-', not starting or ending with '-', and no
 * "--" (which Rivet keeps as a separator). */
static const char *api_ns_name_problem(const char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return "name too short";
    if (n > 64)
        return "name too long";
    if (s[0] == '-' || s[n - 1] == '-' || strstr(s, "--"))
        return "invalid name";
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return "invalid name";
    return NULL;
}

/* Rivet's long display name rule: 1 to 128 bytes, spaces only as single separators inside,
 * no other whitespace. Only ASCII whitespace is recognised here. */
static const char *api_ns_display_problem(const char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return "display name too short";
    if (n > 128)
        return "display name too long";
    if (s[0] == ' ' || s[n - 1] == ' ' || strstr(s, "  "))
        return "invalid display name";
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\v' || s[i] == '\f')
            return "invalid display name";
    return NULL;
}

void api_namespaces_create(api_req_t *r)
{
    static const json_field fields[] = {
        { "name", JSON_MASK(JSON_STRING), true },
        { "display_name", JSON_MASK(JSON_STRING), true },
    };
    json_doc doc;
    memset(&doc, 0, sizeof doc);
    const json_value *root = NULL;
    const char *name = NULL, *display = NULL;
    /* Rivet's create takes no query, so a query string is ignored rather than checked. */
    if (!(root = api_body_parse(r, fields, 2, &doc)) ||
        api_body_text(r, root, "name", &name) != 0 ||
        api_body_text(r, root, "display_name", &display) != 0)
        goto done;
    const char *why = api_ns_name_problem(name);
    if (!why)
        why = api_ns_display_problem(display);
    if (why) {
        char msg[96];
        snprintf(msg, sizeof msg, "Failed to create namespace: %s", why);
        json_meta m = { "reason", why, 0 };
        api_error_ex(r->c, 400, "namespace", "failed_to_create", msg, &m, 1, NULL);
        goto done;
    }
    if (eng_ns_get(r->e, name)) {
        api_error(r->c, 409, "namespace", "name_not_unique", "Namespace name must be unique.");
        goto done;
    }
    const eng_ns_t *ns = NULL;
    eng_error_t err;
    if (eng_ns_create(r->e, name, display, &ns, &err) != 0) {
        api_engine_error(r->c, &err);
        goto done;
    }
    buf_t b = BUF_INIT;
    json_w w;
    json_w_init(&w, &b);
    json_w_obj_begin(&w);
    json_w_key(&w, "namespace");
    api_w_namespace(&w, ns);
    json_w_end(&w);
    api_send(r->c, &b);
done:
    json_doc_free(&doc);
}

void api_namespaces_get(api_req_t *r, const slice_t *seg)
{
    char id[80];
    if (api_path_id(seg, id, sizeof id, r->c) == 0) {
        const eng_ns_t *ns = api_ns_by_id(r->e, id);
        if (!ns) {
            api_namespace_not_found(r->c);
        } else {
            buf_t b = BUF_INIT;
            json_w w;
            json_w_init(&w, &b);
            json_w_obj_begin(&w);
            json_w_key(&w, "namespace");
            api_w_namespace(&w, ns);
            json_w_end(&w);
            api_send(r->c, &b);
        }
    }
}
