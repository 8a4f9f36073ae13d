#include "api/api.h"
#include "core/alloc.h"
#include "core/json.h"

#include <stdio.h>
#include <string.h>

static const char api_json[] = "application/json";

static void api_str(json_w *w, const char *key, const char *v)
{
    json_w_key(w, key);
    json_w_str(w, v);
}

static void api_int(json_w *w, const char *key, int64_t v)
{
    json_w_key(w, key);
    json_w_int(w, v);
}

static void api_error(net_conn_t *c, int status, const char *group, const char *code,
                      const char *msg)
{
    buf_t b = BUF_INIT;
    json_w w;
    json_w_init(&w, &b);
    json_w_obj_begin(&w);
    api_str(&w, "group", group);
    api_str(&w, "code", code);
    api_str(&w, "message", msg);
    json_w_end(&w);
    net_http_respond(c, status, api_json, NULL, b.data, b.len);
    buf_free(&b);
}

static void api_send(net_conn_t *c, int status, buf_t *b)
{
    net_http_respond(c, status, api_json, NULL, b->data, b->len);
    buf_free(b);
}

static void api_ts(json_w *w, const char *key, int64_t ts)
{
    json_w_key(w, key);
    if (ts)
        json_w_int(w, ts);
    else
        json_w_null(w);
}

static const char *api_crash_name(store_crash_policy_t p)
{
    return p == STORE_CRASH_SLEEP ? "sleep" : p == STORE_CRASH_DESTROY ? "destroy" : "restart";
}

static void api_actor(json_w *w, const eng_actor_t *a)
{
    json_w_obj_begin(w);
    api_str(w, "actor_id", a->actor_id);
    api_str(w, "name", a->name);
    api_str(w, "key", a->key);
    api_str(w, "namespace_id", a->ns->namespace_id);
    api_str(w, "datacenter", "default");
    api_str(w, "runner_name_selector", a->runner_name_selector);
    api_str(w, "crash_policy", api_crash_name(a->crash_policy));
    api_ts(w, "create_ts", a->create_ts);
    api_ts(w, "start_ts", a->start_ts);
    api_ts(w, "pending_allocation_ts", a->pending_allocation_ts);
    api_ts(w, "connectable_ts", a->connectable_ts);
    api_ts(w, "sleep_ts", a->sleep_ts);
    api_ts(w, "reschedule_ts", 0);
    api_ts(w, "destroy_ts", a->destroy_ts);
    json_w_end(w);
}

static void api_namespace(json_w *w, const eng_ns_t *ns)
{
    json_w_obj_begin(w);
    api_str(w, "namespace_id", ns->namespace_id);
    api_str(w, "name", ns->name);
    api_str(w, "display_name", ns->display_name);
    api_ts(w, "create_ts", ns->create_ts);
    json_w_end(w);
}

static const eng_ns_t *api_ns(eng_t *e, net_conn_t *c, const url_parts *u)
{
    buf_t v = BUF_INIT;
    int rc = url_query_get(&u->query, "namespace", &v);
    const eng_ns_t *ns = eng_ns_get(e, rc == 1 ? (char *)v.data : "default");
    if (!ns)
        api_error(c, 404, "namespace", "not_found", "no such namespace");
    buf_free(&v);
    return ns;
}

static void api_create_actor(eng_t *e, net_conn_t *c, hreq *req, const url_parts *u)
{
    const eng_ns_t *ns = api_ns(e, c, u);
    if (!ns)
        return;
    json_doc doc;
    json_err jerr;
    if (json_parse(req->body.p ? req->body.p : "", req->body.len, &doc, &jerr) != JSON_OK) {
        char m[160];
        json_err_format(&jerr, m, sizeof m);
        api_error(c, 400, "api", "bad_request", m);
        json_doc_free(&doc);
        return;
    }
    const json_value *root = json_doc_root(&doc);
    static const json_field fields[] = {
        { "name", JSON_MASK(JSON_STRING), true },
        { "key", JSON_MASK(JSON_STRING) | JSON_MASK(JSON_NULL), false },
        { "input", JSON_MASK(JSON_STRING) | JSON_MASK(JSON_NULL), false },
        { "runner_name_selector", JSON_MASK(JSON_STRING), true },
        { "crash_policy", JSON_MASK(JSON_STRING), true },
        { "datacenter", JSON_MASK(JSON_STRING) | JSON_MASK(JSON_NULL), false },
    };
    const char *bad = NULL;
    int rc = json_is_object(root) ? json_obj_check(root, fields, 6, &bad) : JSON_ETYPE;
    if (rc != JSON_OK) {
        char m[160];
        snprintf(m, sizeof m, "%s: %s", bad ? bad : "body", json_strerror(rc));
        api_error(c, 400, "api", "bad_request", m);
        json_doc_free(&doc);
        return;
    }
    const char *name, *sel, *cp, *key = NULL;
    json_get_str(json_obj_get(root, "name"), &name, NULL);
    json_get_str(json_obj_get(root, "runner_name_selector"), &sel, NULL);
    json_get_str(json_obj_get(root, "crash_policy"), &cp, NULL);
    if (json_is_string(json_obj_get(root, "key")))
        json_get_str(json_obj_get(root, "key"), &key, NULL);
    eng_actor_spec_t spec = { .namespace_name = ns->name, .name = name, .key = key,
                              .runner_name_selector = sel };
    if (strcmp(cp, "restart") == 0)
        spec.crash_policy = STORE_CRASH_RESTART;
    else if (strcmp(cp, "sleep") == 0)
        spec.crash_policy = STORE_CRASH_SLEEP;
    else if (strcmp(cp, "destroy") == 0)
        spec.crash_policy = STORE_CRASH_DESTROY;
    else {
        api_error(c, 400, "api", "bad_request", "crash_policy: one of restart, sleep, destroy");
        json_doc_free(&doc);
        return;
    }
    buf_t input = BUF_INIT;
    if (json_is_string(json_obj_get(root, "input"))) {
        if (json_get_b64(json_obj_get(root, "input"), &input) != JSON_OK) {
            api_error(c, 400, "api", "bad_request", "input: not base64");
            json_doc_free(&doc);
            return;
        }
        spec.input = input.data;
        spec.input_len = input.len;
        spec.has_input = true;
    }
    eng_actor_t *a = NULL;
    eng_error_t err;
    if (eng_actor_create(e, &spec, &a, &err) != 0) {
        api_error(c, err.status, err.group, err.code, err.message);
    } else {
        buf_t b = BUF_INIT;
        json_w w;
        json_w_init(&w, &b);
        json_w_obj_begin(&w);
        json_w_key(&w, "actor");
        api_actor(&w, a);
        json_w_end(&w);
        api_send(c, 200, &b);
    }
    buf_free(&input);
    json_doc_free(&doc);
}

typedef struct api_list {
    json_w *w;
} api_list_t;

static int api_list_actor(void *ud, eng_actor_t *a)
{
    api_actor(((api_list_t *)ud)->w, a);
    return 0;
}

static int api_list_runner(void *ud, eng_runner_t *r)
{
    json_w *w = ((api_list_t *)ud)->w;
    json_w_obj_begin(w);
    api_str(w, "runner_id", r->runner_id);
    api_str(w, "name", r->name);
    api_str(w, "namespace_id", r->ns->namespace_id);
    api_str(w, "datacenter", "default");
    api_str(w, "key", r->runner_key);
    api_int(w, "version", r->version);
    api_int(w, "total_slots", r->total_slots);
    api_int(w, "remaining_slots", r->total_slots - r->used_slots);
    api_ts(w, "create_ts", r->create_ts);
    api_ts(w, "last_connected_ts", r->last_connect_ts);
    api_ts(w, "last_ping_ts", r->last_ping_ts);
    api_int(w, "last_rtt", r->rtt_ms);
    json_w_key(w, "metadata");
    json_doc md;
    json_err jerr;
    /* The runner's metadata is its own JSON text; text that does not parse goes out as a string. */
    if (r->metadata && json_parse(r->metadata, strlen(r->metadata), &md, &jerr) == JSON_OK)
        json_w_raw(w, r->metadata, strlen(r->metadata));
    else
        json_w_str(w, r->metadata);
    if (r->metadata)
        json_doc_free(&md);
    api_ts(w, "drain_ts", 0);
    api_ts(w, "stop_ts", 0);
    json_w_end(w);
    return 0;
}

static void api_list_end(json_w *w, buf_t *b, net_conn_t *c)
{
    json_w_end(w);
    json_w_key(w, "pagination");
    json_w_obj_begin(w);
    json_w_key(w, "cursor");
    json_w_null(w);
    json_w_end(w);
    json_w_end(w);
    api_send(c, 200, b);
}

int api_handle(eng_t *e, net_conn_t *c, hreq *req, const url_parts *u)
{
    const char *m = req->method;
    url_str seg[3];
    size_t n = 0, pos = 0;
    url_str s;
    while (n < 3 && url_path_next(&u->path, &pos, &s))
        seg[n++] = s;
    if (n == 0)
        return 0;
#define SEG(i, lit) (seg[i].len == sizeof lit - 1 && memcmp(seg[i].p, lit, sizeof lit - 1) == 0)
    if (SEG(0, "actors")) {
        if (n == 1 || (n == 2 && seg[1].len == 0)) {
            if (strcmp(m, "POST") == 0) {
                api_create_actor(e, c, req, u);
            } else if (strcmp(m, "GET") == 0) {
                const eng_ns_t *ns = api_ns(e, c, u);
                if (!ns)
                    return 1;
                buf_t name = BUF_INIT, key = BUF_INIT, b = BUF_INIT;
                int hn = url_query_get(&u->query, "name", &name) == 1;
                int hk = url_query_get(&u->query, "key", &key) == 1;
                json_w w;
                json_w_init(&w, &b);
                json_w_obj_begin(&w);
                json_w_key(&w, "actors");
                json_w_arr_begin(&w);
                api_list_t l = { &w };
                eng_actor_each(e, ns, hn ? (char *)name.data : NULL, hk ? (char *)key.data : NULL,
                               api_list_actor, &l);
                api_list_end(&w, &b, c);
                buf_free(&name);
                buf_free(&key);
            } else {
                api_error(c, 405, "api", "method_not_allowed", "use GET or POST");
            }
            return 1;
        }
        char id[128];
        size_t idl = 0;
        if (seg[1].len >= sizeof id ||
            url_decode_segment(seg[1].p, seg[1].len, id, &idl, 0) != URL_OK) {
            api_error(c, 400, "api", "bad_request", "bad actor id");
            return 1;
        }
        id[idl] = '\0';
        eng_actor_t *a = eng_actor_get(e, id);
        if (!a) {
            api_error(c, 404, "actor", "not_found", "The actor does not exist.");
            return 1;
        }
        if (strcmp(m, "DELETE") == 0) {
            eng_actor_destroy(e, a);
            buf_t b = BUF_INIT;
            buf_append_str(&b, "{}");
            api_send(c, 200, &b);
        } else if (strcmp(m, "GET") == 0) {
            buf_t b = BUF_INIT;
            json_w w;
            json_w_init(&w, &b);
            json_w_obj_begin(&w);
            json_w_key(&w, "actor");
            api_actor(&w, a);
            json_w_end(&w);
            api_send(c, 200, &b);
        } else {
            api_error(c, 405, "api", "method_not_allowed", "use GET or DELETE");
        }
        return 1;
    }
    if (SEG(0, "runners") && n == 1) {
        if (strcmp(m, "GET") != 0) {
            api_error(c, 405, "api", "method_not_allowed", "use GET");
            return 1;
        }
        const eng_ns_t *ns = api_ns(e, c, u);
        if (!ns)
            return 1;
        buf_t name = BUF_INIT, b = BUF_INIT;
        int hn = url_query_get(&u->query, "name", &name) == 1;
        json_w w;
        json_w_init(&w, &b);
        json_w_obj_begin(&w);
        json_w_key(&w, "runners");
        json_w_arr_begin(&w);
        api_list_t l = { &w };
        eng_runner_each(e, ns, hn ? (char *)name.data : NULL, api_list_runner, &l);
        api_list_end(&w, &b, c);
        buf_free(&name);
        return 1;
    }
    if (SEG(0, "namespaces") && n == 1) {
        if (strcmp(m, "POST") == 0) {
            json_doc doc;
            json_err jerr;
            const char *name = NULL, *display = NULL;
            int ok = json_parse(req->body.p ? req->body.p : "", req->body.len, &doc, &jerr) ==
                         JSON_OK &&
                     json_get_str(json_obj_get(json_doc_root(&doc), "name"), &name, NULL) ==
                         JSON_OK;
            json_get_str(json_obj_get(json_doc_root(&doc), "display_name"), &display, NULL);
            const eng_ns_t *ns = NULL;
            eng_error_t err;
            if (!ok) {
                api_error(c, 400, "api", "bad_request", "expected {\"name\", \"display_name\"}");
            } else if (eng_ns_create(e, name, display, &ns, &err) != 0) {
                api_error(c, err.status, err.group, err.code, err.message);
            } else {
                buf_t b = BUF_INIT;
                json_w w;
                json_w_init(&w, &b);
                json_w_obj_begin(&w);
                json_w_key(&w, "namespace");
                api_namespace(&w, ns);
                json_w_end(&w);
                api_send(c, 200, &b);
            }
            json_doc_free(&doc);
        } else if (strcmp(m, "GET") == 0) {
            buf_t b = BUF_INIT;
            json_w w;
            json_w_init(&w, &b);
            json_w_obj_begin(&w);
            json_w_key(&w, "namespaces");
            json_w_arr_begin(&w);
            for (size_t i = 0; i < eng_ns_count(e); i++) {
                api_namespace(&w, eng_ns_at(e, i));
            }
            api_list_end(&w, &b, c);
        } else {
            api_error(c, 405, "api", "method_not_allowed", "use GET or POST");
        }
        return 1;
    }
#undef SEG
    return 0;
}
