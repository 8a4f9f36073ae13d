/* The actor routes, after Rivet 2.2.1's api-public and api-peer handlers (engine/packages/
 * api-public/src/actors/{create,get_or_create,list,list_names,delete}.rs): create, get-or-create,
 * list by ids or by name and key, the names in use, delete, and, as a sett extension, one actor
 * by id (GET /actors/{id}, which Rivet answers through the list).
 *
 * Checks run in Rivet's order where a client could tell: the query, then the body, then the
 * namespace, then the actor's own limits, so that one bad request gets the same error from
 * either server. One difference is deliberate: a list without a name resolves the namespace
 * before insisting on the name, so an unknown namespace is always 404. */
#include "api/api_impl.h"
#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const api_qparam_t api_ns_only[] = { { "namespace", false } };

/* ---- Create and get-or-create ---- */

enum { API_KEY_OPTIONAL = 0, API_KEY_REQUIRED = 1 };

/* Reads a create body into spec (strings point into doc, input bytes into input); answers and
 * returns -1 on any problem, as Rivet's CreateRequest and GetOrCreateRequest would. */
static int api_actor_body(api_req_t *r, const eng_ns_t **ns_out, int key_rule, json_doc *doc,
                          buf_t *input, eng_actor_spec_t *spec)
{
    const unsigned str = JSON_MASK(JSON_STRING);
    const unsigned opt = JSON_MASK(JSON_STRING) | JSON_MASK(JSON_NULL);
    const json_field fields[] = {
        { "datacenter", opt, false },
        { "name", str, true },
        { "key", key_rule == API_KEY_REQUIRED ? str : opt, key_rule == API_KEY_REQUIRED },
        { "input", opt, false },
        { "runner_name_selector", str, true },
        { "crash_policy", str, true },
    };
    api_query_t q;
    int rc = api_query_parse(&q, api_ns_only, 1, r->c, r->u);
    const json_value *root = rc == 0 ? api_body_parse(r, fields, 6, doc) : NULL;
    const char *dc = NULL, *cp = NULL, *in = NULL;
    memset(spec, 0, sizeof *spec);
    if (!root || api_body_text(r, root, "datacenter", &dc) ||
        api_body_text(r, root, "name", &spec->name) || api_body_text(r, root, "key", &spec->key) ||
        api_body_text(r, root, "input", &in) ||
        api_body_text(r, root, "runner_name_selector", &spec->runner_name_selector) ||
        api_body_text(r, root, "crash_policy", &cp)) {
        api_query_free(&q);
        return -1;
    }
    if (strcmp(cp, "restart") == 0) {
        spec->crash_policy = STORE_CRASH_RESTART;
    } else if (strcmp(cp, "sleep") == 0) {
        spec->crash_policy = STORE_CRASH_SLEEP;
    } else if (strcmp(cp, "destroy") == 0) {
        spec->crash_policy = STORE_CRASH_DESTROY;
    } else {
        api_bad_request(r->c,
                        "Failed to deserialize the JSON body into the target type: crash_policy: "
                        "unknown variant `%.64s`, expected one of `restart`, `sleep`, `destroy`",
                        cp);
        api_query_free(&q);
        return -1;
    }
    const eng_ns_t *ns = api_query_ns(&q, r->e, r->c);
    api_query_free(&q);
    if (!ns)
        return -1;
    spec->namespace_name = ns->name;
    *ns_out = ns;
    if (dc && strcmp(dc, API_DATACENTER) != 0) {
        api_error(r->c, 400, "datacenter", "not_found", "The provided datacenter does not exist.");
        return -1;
    }
    if (in && strlen(in) > API_MAX_INPUT) {
        json_meta m = { "max_size", NULL, (int64_t)API_MAX_INPUT };
        char msg[64];
        snprintf(msg, sizeof msg, "Input too large (max %zu).", API_MAX_INPUT);
        api_error_ex(r->c, 400, "actor", "input_too_large", msg, &m, 1, NULL);
        return -1;
    }
    if (spec->key && !*spec->key) {
        api_error(r->c, 400, "actor", "empty_key", "Key label cannot be empty.");
        return -1;
    }
    if (spec->key && strlen(spec->key) > API_MAX_KEY) {
        /* The preview is the first 1024 bytes, cut back to a whole UTF-8 character. */
        size_t cut = API_MAX_KEY;
        while (cut > 0 && ((unsigned char)spec->key[cut] & 0xC0) == 0x80)
            cut--;
        char *preview = sx_strndup(spec->key, cut);
        buf_t msg = BUF_INIT;
        buf_printf(&msg, "Key label too large (max %d bytes): %s", API_MAX_KEY, preview);
        json_meta m[2] = { { "max_size", NULL, API_MAX_KEY }, { "key_preview", preview, 0 } };
        api_error_ex(r->c, 400, "actor", "key_too_large", (const char *)msg.data, m, 2, NULL);
        buf_free(&msg);
        free(preview);
        return -1;
    }
    if (in) {
        if (base64_decode(input, in, strlen(in)) != BASE64_OK) {
            api_bad_request(r->c, "input: not canonical padded base64");
            return -1;
        }
        spec->input = input->data;
        spec->input_len = input->len;
        spec->has_input = true;
    }
    return 0;
}

/* Rivet's duplicate_key error names the actor that holds the key, in the message and in the
 * metadata, so a client can go straight to it. */
static void api_duplicate_key(net_conn_t *c, const char *key, const eng_actor_t *holder)
{
    buf_t msg = BUF_INIT;
    buf_printf(&msg, "Actor key '%s' already in use for actor '%s'", key, holder->actor_id);
    json_meta m[2] = { { "key", key, 0 }, { "existing_actor_id", holder->actor_id, 0 } };
    api_error_ex(c, 409, "actor", "duplicate_key", (const char *)msg.data, m, 2, NULL);
    buf_free(&msg);
}

/* Answers {"actor": A} or, for get-or-create, {"actor": A, "created": B}. */
static void api_send_actor(net_conn_t *c, const eng_actor_t *a, int created)
{
    buf_t b = BUF_INIT;
    json_w w;
    json_w_init(&w, &b);
    json_w_obj_begin(&w);
    json_w_key(&w, "actor");
    api_w_actor(&w, a);
    if (created >= 0) {
        json_w_key(&w, "created");
        json_w_bool(&w, created);
    }
    json_w_end(&w);
    api_send(c, &b);
}

static void api_actors_make(api_req_t *r, int key_rule)
{
    json_doc doc;
    memset(&doc, 0, sizeof doc);
    buf_t input = BUF_INIT;
    eng_actor_spec_t spec;
    const eng_ns_t *ns = NULL;
    if (api_actor_body(r, &ns, key_rule, &doc, &input, &spec) == 0) {
        eng_actor_t *a = spec.key ? eng_actor_find(r->e, ns, spec.name, spec.key) : NULL;
        eng_error_t err;
        if (a && key_rule == API_KEY_REQUIRED)
            api_send_actor(r->c, a, 0);
        else if (a)
            api_duplicate_key(r->c, spec.key, a);
        else if (eng_actor_create(r->e, &spec, &a, &err) != 0)
            api_engine_error(r->c, &err);
        else
            api_send_actor(r->c, a, key_rule == API_KEY_REQUIRED ? 1 : -1);
    }
    buf_free(&input);
    json_doc_free(&doc);
}

void api_actors_create(api_req_t *r)
{
    api_actors_make(r, API_KEY_OPTIONAL);
}

void api_actors_get_or_create(api_req_t *r)
{
    api_actors_make(r, API_KEY_REQUIRED);
}

/* ---- Lists ---- */

typedef struct api_pick {
    eng_actor_t *a;
    size_t seq; /* creation order, to break create_ts ties */
} api_pick_t;

typedef struct api_picks {
    api_pick_t *v;
    size_t n, cap;
    bool include_destroyed;
    bool has_before;
    int64_t before;
} api_picks_t;

static void api_picks_add(api_picks_t *p, eng_actor_t *a)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->v = sx_realloc(p->v, p->cap * sizeof *p->v);
    }
    p->v[p->n].a = a;
    p->v[p->n].seq = p->n;
    p->n++;
}

static int api_picks_each(void *ud, eng_actor_t *a)
{
    api_picks_t *p = ud;
    if (a->state == ENG_ACTOR_DESTROYED && !p->include_destroyed)
        return 0;
    if (p->has_before && a->create_ts >= p->before)
        return 0;
    api_picks_add(p, a);
    return 0;
}

/* Newest first, as Rivet lists; actors created in the same millisecond keep their order. */
static int api_pick_cmp(const void *x, const void *y)
{
    const api_pick_t *a = x, *b = y;
    if (a->a->create_ts != b->a->create_ts)
        return a->a->create_ts > b->a->create_ts ? -1 : 1;
    return a->seq > b->seq ? -1 : a->seq < b->seq ? 1 : 0;
}

static void api_send_actor_list(net_conn_t *c, api_picks_t *p, size_t limit)
{
    if (p->n > 1)
        qsort(p->v, p->n, sizeof *p->v, api_pick_cmp);
    size_t n = p->n < limit ? p->n : limit;
    buf_t b = BUF_INIT;
    json_w w;
    json_w_init(&w, &b);
    json_w_obj_begin(&w);
    json_w_key(&w, "actors");
    json_w_arr_begin(&w);
    for (size_t i = 0; i < n; i++)
        api_w_actor(&w, p->v[i].a);
    json_w_end(&w);
    api_w_pagination_ts(&w, n > 0, n ? p->v[n - 1].a->create_ts : 0);
    json_w_end(&w);
    api_send(c, &b);
}

static const api_qparam_t api_list_params[] = {
    { "namespace", false }, { "name", false },    { "key", false },
    { "actor_ids", false }, { "actor_id", true }, { "include_destroyed", false },
    { "limit", false },     { "cursor", false },
};

void api_actors_list(api_req_t *r)
{
    api_query_t q;
    api_ids_t ids = { 0 };
    api_picks_t p = { 0 };
    size_t limit = API_LIST_LIMIT;
    bool inc = false;
    if (api_query_parse(&q, api_list_params, sizeof api_list_params / sizeof api_list_params[0],
                        r->c, r->u) != 0 ||
        api_ids_add(&ids, api_query_str(&q, "actor_id"), "actor_id", r->c) != 0 ||
        api_ids_add(&ids, api_query_str(&q, "actor_ids"), "actor_ids", r->c) != 0 ||
        api_query_bool(&q, "include_destroyed", &inc, r->c) < 0 ||
        api_query_size(&q, "limit", &limit, r->c) < 0 ||
        api_query_i64(&q, "cursor", &p.before, r->c) < 0)
        goto done;
    const char *name = api_query_str(&q, "name"), *key = api_query_str(&q, "key");
    p.has_before = api_query_str(&q, "cursor") != NULL;
    p.include_destroyed = inc;
    if (ids.n && (name || key)) {
        api_invalid_input(r->c,
                          "Cannot provide both actor_id and (name + key). Use either "
                          "actor_id or (name + key).");
        goto done;
    }
    if (key && !name) {
        api_invalid_input(r->c, "Name is required when key is provided.");
        goto done;
    }
    if (ids.n > API_MAX_ACTOR_IDS) {
        char msg[96];
        snprintf(msg, sizeof msg, "Too many actor IDs provided. Maximum is %d, got %zu",
                 API_MAX_ACTOR_IDS, ids.n);
        json_meta m[2] = { { "max", NULL, API_MAX_ACTOR_IDS }, { "count", NULL, (int64_t)ids.n } };
        api_error_ex(r->c, 400, "validation", "too_many_actor_ids", msg, m, 2, NULL);
        goto done;
    }
    const eng_ns_t *ns = api_query_ns(&q, r->e, r->c);
    if (!ns)
        goto done;
    if (ids.n) {
        /* By id: destroyed actors included, as Rivet's lookup by id returns them; each actor
         * once however often it is named; other namespaces' actors left out. */
        for (size_t i = 0; i < ids.n; i++) {
            eng_actor_t *a = eng_actor_get(r->e, ids.v[i]);
            bool seen = false;
            for (size_t j = 0; a && j < p.n; j++)
                seen |= p.v[j].a == a;
            if (a && a->ns == ns && !seen)
                api_picks_add(&p, a);
        }
    } else if (!name) {
        api_invalid_input(r->c, "Name is required when not using actor_ids.");
        goto done;
    } else if (key && !inc) {
        /* The live holder of the key, if any; Rivet ignores the cursor on this path too. */
        eng_actor_t *a = eng_actor_find(r->e, ns, name, key);
        if (a)
            api_picks_add(&p, a);
    } else {
        eng_actor_each(r->e, ns, name, key, api_picks_each, &p);
    }
    api_send_actor_list(r->c, &p, limit);
done:
    free(p.v);
    api_ids_free(&ids);
    api_query_free(&q);
}

static int api_names_each(void *ud, eng_actor_t *a)
{
    api_picks_add(ud, a);
    return 0;
}

static int api_name_cmp(const void *x, const void *y)
{
    return strcmp(((const api_pick_t *)x)->a->name, ((const api_pick_t *)y)->a->name);
}

static const api_qparam_t api_names_params[] = {
    { "namespace", false },
    { "limit", false },
    { "cursor", false },
};

/* GET /actors/names: the names actors of the namespace have, sorted, each with the empty
 * metadata object Rivet writes when no runner described the name. */
void api_actors_names(api_req_t *r)
{
    api_query_t q;
    api_picks_t p = { 0 };
    size_t limit = API_LIST_LIMIT;
    if (api_query_parse(&q, api_names_params, 3, r->c, r->u) != 0 ||
        api_query_size(&q, "limit", &limit, r->c) < 0)
        goto done;
    const eng_ns_t *ns = api_query_ns(&q, r->e, r->c);
    if (!ns)
        goto done;
    const char *after = api_query_str(&q, "cursor");
    eng_actor_each(r->e, ns, NULL, NULL, api_names_each, &p);
    if (p.n > 1)
        qsort(p.v, p.n, sizeof *p.v, api_name_cmp);
    buf_t b = BUF_INIT;
    json_w w;
    json_w_init(&w, &b);
    json_w_obj_begin(&w);
    json_w_key(&w, "names");
    json_w_obj_begin(&w);
    const char *last = NULL;
    size_t n = 0;
    for (size_t i = 0; i < p.n && n < limit; i++) {
        const char *name = p.v[i].a->name;
        if ((last && strcmp(last, name) == 0) || (after && strcmp(name, after) <= 0))
            continue;
        json_w_key(&w, name);
        json_w_obj_begin(&w);
        json_w_key(&w, "metadata");
        json_w_obj_begin(&w);
        json_w_end(&w);
        json_w_end(&w);
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

/* ---- One actor ---- */

/* The actor a path names, in the namespace the query names when it names one (a path id is
 * global, so the namespace is only a check here). Answers and returns NULL when there is no
 * such actor. */
eng_actor_t *api_actor_at(api_req_t *r, const slice_t *seg)
{
    api_query_t q;
    char id[80];
    eng_actor_t *a = NULL;
    if (api_query_parse(&q, api_ns_only, 1, r->c, r->u) != 0 ||
        api_path_id(seg, id, sizeof id, r->c) != 0) {
        api_query_free(&q);
        return NULL;
    }
    a = eng_actor_get(r->e, id);
    if (!a) {
        api_actor_not_found(r->c);
    } else if (api_query_str(&q, "namespace")) {
        const eng_ns_t *ns = api_query_ns(&q, r->e, r->c);
        if (ns && a->ns != ns)
            api_actor_not_found(r->c);
        if (!ns || a->ns != ns)
            a = NULL;
    }
    api_query_free(&q);
    return a;
}

void api_actors_get(api_req_t *r, const slice_t *id)
{
    eng_actor_t *a = api_actor_at(r, id);
    if (a)
        api_send_actor(r->c, a, -1);
}

/* DELETE answers {} once the engine has the actor destroyed. Deleting it again answers {} too,
 * whether its runner has confirmed the stop yet or not, as Rivet does (2.3.5 answers 200 {} to
 * every repeated DELETE; eng_actor_destroy does nothing to an actor already destroyed); only an
 * id that never named an actor is not found. */
void api_actors_delete(api_req_t *r, const slice_t *id)
{
    eng_actor_t *a = api_actor_at(r, id);
    if (!a)
        return;
    eng_actor_destroy(r->e, a);
    buf_t b = BUF_INIT;
    buf_append_str(&b, "{}");
    api_send(r->c, &b);
}
