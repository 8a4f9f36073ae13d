/* The Redis store's records: namespaces, actors and runners.
 *
 * Keys (P is the store's prefix; docs/store.md has the full table):
 *   P{g}:ns                  hash   namespace name -> "<create_ts>:<namespace id>"
 *   P{g}:actors              zset   every actor id (score 0, so ordered by id)
 *   P{a:<actor id>}          hash   the actor record, one field per member
 *   P{n:<ns id>}:ak / :akr   hash   live key index "name\0key" -> actor id, and its reverse
 *   P{n:<ns id>}:al          zset   the namespace's actor ids
 *   P{n:<ns id>}:akt         hash   key claims of creates between claim and write -> claim ms
 *   P{r:<runner id>}         hash   the runner record
 *   P{n:<ns id>}:rk / :rkr   hash   runner key index "name\0runner key" -> runner id, and reverse
 *   P{n:<ns id>}:rl          zset   the namespace's runner ids
 *
 * A record and its namespace's indexes live under different hash tags, so no single script may
 * touch both in Redis Cluster. Writes therefore update the record and the index with separate
 * atomic scripts sent in the same pipeline, and readers never trust an index alone: find and list
 * read the records the index names and check them, so an index entry left behind by a crash or a
 * race is ignored rather than returned. A create claims the key before it writes the record, and
 * takes over an entry whose holder no longer holds the key, under the rules of the claim script
 * (store_redis_scripts.c) that keep two nodes from both winning. Reads that need the index first
 * (find, list, create) hold the queue (barrier) until their last step is sent, so they still take
 * effect in submission order. */
#include "store/store_redis_impl.h"

#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

typedef struct rds_rec_op {
    rds_op_t op;
    char *id;              /* the record's id, or the namespace name */
    char *ns, *name, *key; /* find and list arguments */
    char *field;           /* the index field "name\0key"; field_len counts both parts */
    size_t field_len;
    store_ns_t in_ns;
    store_actor_t in_actor; /* the record to write */
    store_runner_t in_runner;
    bool has_in;
    store_ns_t *nss; /* results */
    store_actor_t *actors;
    store_runner_t *runners;
    size_t n, cap;
    char **ids; /* list: the ids an index named */
    size_t n_ids;
    char *old_ns;  /* put and delete: the namespace the record had */
    char *holder;  /* create: the id holding the key */
    char *stamp;   /* create: the holder's claim stamp, "" once its record exists */
    int claim;     /* create: -1 none, 0 claimed now, 1 already held by this id,
                                * 2 held by a create in progress elsewhere */
    bool lost_key; /* create: the key went to someone else before the index update */
    int attempts;
    char *f_rid; /* actor list filter on runner id */
    bool is_runner;
} rds_rec_op_t;

enum {
    RDS_REC_START = 0,
    RDS_REC_SENT,
    RDS_REC_HOLDER,  /* create: reading the record of the key's holder */
    RDS_REC_RECLAIM, /* create: taking over a stale index entry */
    RDS_REC_WRITE,
    RDS_REC_ROLLBACK,
    RDS_REC_RECORDS, /* find and list: reading the records an index named */
    RDS_REC_UNDO,    /* create: removing a record whose key was lost */
};

/* How long a claimed actor key without a record belongs to its claimant: longer than any create
 * takes from claim to write (two round trips, or a command timeout), so a create still on its way
 * is never overtaken, while the claim of a node that died in between expires. */
#define RDS_CLAIM_LEASE_MS 30000

static char *rds_dup(const char *s)
{
    return s ? sx_strdup(s) : NULL;
}

static void rds_rec_destroy(rds_op_t *o)
{
    rds_rec_op_t *p = (rds_rec_op_t *)o;
    free(p->id);
    free(p->ns);
    free(p->name);
    free(p->key);
    free(p->field);
    free(p->old_ns);
    free(p->holder);
    free(p->stamp);
    free(p->f_rid);
    if (p->has_in) {
        store_ns_clear(&p->in_ns);
        store_actor_clear(&p->in_actor);
        store_runner_clear(&p->in_runner);
    }
    for (size_t i = 0; i < p->n; i++) {
        if (p->nss)
            store_ns_clear(&p->nss[i]);
        if (p->actors)
            store_actor_clear(&p->actors[i]);
        if (p->runners)
            store_runner_clear(&p->runners[i]);
    }
    free(p->nss);
    free(p->actors);
    free(p->runners);
    for (size_t i = 0; i < p->n_ids; i++)
        free(p->ids[i]);
    free(p->ids);
}

static rds_rec_op_t *rds_rec_op(store_t *s, store_cb_kind_t kind, store_cb_t cb, void *ud,
                                int (*step)(rds_op_t *),
                                int (*reply)(rds_op_t *, const redisReply *))
{
    rds_rec_op_t *p = (rds_rec_op_t *)rds_op_new((store_redis_t *)s, sizeof *p, kind, cb, ud, step,
                                                 reply);
    p->op.destroy = rds_rec_destroy;
    p->claim = -1;
    return p;
}

/* "name\0key": names and keys are C strings, so the NUL cannot be part of either. */
static void rds_rec_field(rds_rec_op_t *p, const char *name, const char *key)
{
    size_t nl = strlen(name), kl = strlen(key);
    p->field_len = nl + 1 + kl;
    p->field = sx_malloc(p->field_len + 1);
    memcpy(p->field, name, nl + 1);
    memcpy(p->field + nl + 1, key, kl + 1);
}

/* ---- Records as hashes. ---- */

static bool rds_str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool rds_field_is(const redisReply *f, const char *name)
{
    size_t n = strlen(name);
    return f->type == REDIS_REPLY_STRING && f->len == n && memcmp(f->str, name, n) == 0;
}

static void rds_actor_args(rds_args_t *a, const store_actor_t *x)
{
    rds_arg_str(a, "id");
    rds_arg_str(a, x->actor_id);
    rds_arg_str(a, "ns");
    rds_arg_str(a, x->namespace_id);
    rds_arg_str(a, "name");
    rds_arg_str(a, x->name);
    if (x->key) {
        rds_arg_str(a, "key");
        rds_arg_str(a, x->key);
    }
    if (x->has_input) {
        rds_arg_str(a, "input");
        rds_arg(a, x->input, x->input_len);
    }
    if (x->runner_name_selector) {
        rds_arg_str(a, "sel");
        rds_arg_str(a, x->runner_name_selector);
    }
    rds_arg_str(a, "crash");
    rds_arg_i64(a, x->crash_policy);
    rds_arg_str(a, "cts");
    rds_arg_i64(a, x->create_ts);
    rds_arg_str(a, "gen");
    rds_arg_i64(a, x->generation);
    if (x->runner_id) {
        rds_arg_str(a, "rid");
        rds_arg_str(a, x->runner_id);
    }
    rds_arg_str(a, "sleep");
    rds_arg_i64(a, x->sleeping);
    rds_arg_str(a, "conn");
    rds_arg_i64(a, x->connectable);
    rds_arg_str(a, "dts");
    rds_arg_i64(a, x->destroy_ts);
    if (x->has_alarm) {
        rds_arg_str(a, "alarm");
        rds_arg_i64(a, x->alarm_ts);
    }
}

/* Reads an HGETALL reply into *out, borrowing the reply's strings (hiredis NUL-terminates them).
 * False for an empty or malformed record. */
bool rds_actor_parse(const redisReply *rep, store_actor_t *out)
{
    memset(out, 0, sizeof *out);
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements == 0 || rep->elements % 2)
        return false;
    for (size_t i = 0; i < rep->elements; i += 2) {
        const redisReply *f = rep->element[i], *v = rep->element[i + 1];
        if (v->type != REDIS_REPLY_STRING)
            continue;
        if (rds_field_is(f, "id"))
            out->actor_id = v->str;
        else if (rds_field_is(f, "ns"))
            out->namespace_id = v->str;
        else if (rds_field_is(f, "name"))
            out->name = v->str;
        else if (rds_field_is(f, "key"))
            out->key = v->str;
        else if (rds_field_is(f, "input")) {
            out->has_input = true;
            out->input = (uint8_t *)v->str;
            out->input_len = v->len;
        } else if (rds_field_is(f, "sel"))
            out->runner_name_selector = v->str;
        else if (rds_field_is(f, "crash"))
            out->crash_policy = (store_crash_policy_t)rds_parse_i64(v->str, v->len);
        else if (rds_field_is(f, "cts"))
            out->create_ts = rds_parse_i64(v->str, v->len);
        else if (rds_field_is(f, "gen"))
            out->generation = (uint32_t)rds_parse_i64(v->str, v->len);
        else if (rds_field_is(f, "rid"))
            out->runner_id = v->str;
        else if (rds_field_is(f, "sleep"))
            out->sleeping = rds_parse_i64(v->str, v->len) != 0;
        else if (rds_field_is(f, "conn"))
            out->connectable = rds_parse_i64(v->str, v->len) != 0;
        else if (rds_field_is(f, "dts"))
            out->destroy_ts = rds_parse_i64(v->str, v->len);
        else if (rds_field_is(f, "alarm")) {
            out->has_alarm = true;
            out->alarm_ts = rds_parse_i64(v->str, v->len);
        }
    }
    return out->actor_id && out->namespace_id && out->name;
}

static void rds_runner_args(rds_args_t *a, const store_runner_t *x)
{
    rds_arg_str(a, "id");
    rds_arg_str(a, x->runner_id);
    rds_arg_str(a, "ns");
    rds_arg_str(a, x->namespace_id);
    rds_arg_str(a, "name");
    rds_arg_str(a, x->name);
    rds_arg_str(a, "key");
    rds_arg_str(a, x->runner_key);
    rds_arg_str(a, "ver");
    rds_arg_i64(a, x->version);
    rds_arg_str(a, "slots");
    rds_arg_i64(a, x->total_slots);
    if (x->metadata) {
        rds_arg_str(a, "meta");
        rds_arg_str(a, x->metadata);
    }
    rds_arg_str(a, "cts");
    rds_arg_i64(a, x->create_ts);
    rds_arg_str(a, "ping");
    rds_arg_i64(a, x->last_ping_ts);
}

bool rds_runner_parse(const redisReply *rep, store_runner_t *out)
{
    memset(out, 0, sizeof *out);
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements == 0 || rep->elements % 2)
        return false;
    for (size_t i = 0; i < rep->elements; i += 2) {
        const redisReply *f = rep->element[i], *v = rep->element[i + 1];
        if (v->type != REDIS_REPLY_STRING)
            continue;
        if (rds_field_is(f, "id"))
            out->runner_id = v->str;
        else if (rds_field_is(f, "ns"))
            out->namespace_id = v->str;
        else if (rds_field_is(f, "name"))
            out->name = v->str;
        else if (rds_field_is(f, "key"))
            out->runner_key = v->str;
        else if (rds_field_is(f, "ver"))
            out->version = (uint32_t)rds_parse_i64(v->str, v->len);
        else if (rds_field_is(f, "slots"))
            out->total_slots = (uint32_t)rds_parse_i64(v->str, v->len);
        else if (rds_field_is(f, "meta"))
            out->metadata = v->str;
        else if (rds_field_is(f, "cts"))
            out->create_ts = rds_parse_i64(v->str, v->len);
        else if (rds_field_is(f, "ping"))
            out->last_ping_ts = rds_parse_i64(v->str, v->len);
    }
    return out->runner_id && out->namespace_id && out->name && out->runner_key;
}

/* Appends a copy of one record to the op's results. */
static void rds_rec_push_actor(rds_rec_op_t *p, const store_actor_t *a)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->actors = sx_realloc(p->actors, p->cap * sizeof *p->actors);
    }
    store_actor_copy(&p->actors[p->n++], a);
}

static void rds_rec_push_runner(rds_rec_op_t *p, const store_runner_t *x)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->runners = sx_realloc(p->runners, p->cap * sizeof *p->runners);
    }
    store_runner_copy(&p->runners[p->n++], x);
}

static void rds_rec_push_ns(rds_rec_op_t *p, const store_ns_t *ns)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->nss = sx_realloc(p->nss, p->cap * sizeof *p->nss);
    }
    store_ns_copy(&p->nss[p->n++], ns);
}

/* Starts an index script with the keys of a namespace's actor index (P{n:<ns>}:ak, :akr, :al,
 * :akt) or runner index (:rk, :rkr, :rl; runners have no claims). */
static void rds_idx_eval(rds_args_t *a, const store_redis_t *r, rds_script_t sc, const char *ns,
                         bool runner)
{
    rds_arg_eval(a, sc, runner ? 3 : 4);
    rds_arg_key(a, r, "n", ns, runner ? ":rk" : ":ak");
    rds_arg_key(a, r, "n", ns, runner ? ":rkr" : ":akr");
    rds_arg_key(a, r, "n", ns, runner ? ":rl" : ":al");
    if (!runner)
        rds_arg_key(a, r, "n", ns, ":akt");
}

/* Removes id from the indexes of a namespace it no longer belongs to, without holding up the op:
 * readers check records, so the entry is harmless until this lands. */
static void rds_rec_unindex_bg(store_redis_t *r, const char *ns, const char *id, bool runner)
{
    rds_args_t a;
    rds_args_init(&a);
    rds_idx_eval(&a, r, RDS_SC_IDX_DEL, ns, runner);
    rds_arg_str(&a, id);
    rds_send_bg(r, &a);
}

/* ---- Completions with a record. ---- */

static int rds_rec_done_actor(rds_rec_op_t *p, int err, const store_actor_t *a)
{
    rds_op_finishing(&p->op);
    p->op.cb.actor(p->op.ud, err, a);
    rds_op_free(&p->op);
    return RDS_DONE;
}

static int rds_rec_done_runner(rds_rec_op_t *p, int err, const store_runner_t *x)
{
    rds_op_finishing(&p->op);
    p->op.cb.runner(p->op.ud, err, x);
    rds_op_free(&p->op);
    return RDS_DONE;
}

/* ---- Namespaces. ---- */

static int rds_ns_put_step(rds_op_t *o)
{
    rds_rec_op_t *p = (rds_rec_op_t *)o;
    if (o->stage != RDS_REC_START)
        return rds_done(o, STORE_OK);
    rds_args_t a;
    rds_args_init(&a);
    rds_arg_str(&a, "HSET");
    rds_arg_key(&a, o->r, "g", NULL, ":ns");
    rds_arg_str(&a, p->in_ns.name);
    char val[32];
    int n = snprintf(val, sizeof val, "%lld:", (long long)p->in_ns.create_ts);
    size_t idlen = strlen(p->in_ns.namespace_id);
    char *v = sx_malloc((size_t)n + idlen);
    memcpy(v, val, (size_t)n);
    memcpy(v + n, p->in_ns.namespace_id, idlen);
    rds_arg_copy(&a, v, (size_t)n + idlen);
    free(v);
    rds_send(o, &a);
    o->stage = RDS_REC_SENT;
    return RDS_MORE;
}

void store_redis_ns_put(store_t *s, const store_ns_t *ns, store_done_cb cb, void *ud)
{
    rds_rec_op_t *p = rds_rec_op(s, STORE_CB_DONE, STORE_CB(done, cb), ud, rds_ns_put_step, NULL);
    store_ns_copy(&p->in_ns, ns);
    p->has_in = true;
    rds_submit((store_redis_t *)s, &p->op);
}

/* "<create_ts>:<namespace id>" under the name. */
bool rds_ns_parse(const char *name, const redisReply *v, store_ns_t *out)
{
    if (v->type != REDIS_REPLY_STRING)
        return false;
    const char *colon = memchr(v->str, ':', v->len);
    if (!colon)
        return false;
    out->name = (char *)name;
    out->create_ts = rds_parse_i64(v->str, (size_t)(colon - v->str));
    out->namespace_id = (char *)colon + 1;
    return true;
}

static int rds_ns_get_reply(rds_op_t *o, const redisReply *rep)
{
    rds_rec_op_t *p = (rds_rec_op_t *)o;
    store_ns_t ns;
    if (rds_ns_parse(p->id, rep, &ns))
        rds_rec_push_ns(p, &ns);
    return RDS_MORE;
}

static int rds_ns_get_step(rds_op_t *o)
{
    rds_rec_op_t *p = (rds_rec_op_t *)o;
    if (o->stage == RDS_REC_START) {
        rds_args_t a;
        rds_args_init(&a);
        rds_arg_str(&a, "HGET");
        rds_arg_key(&a, o->r, "g", NULL, ":ns");
        rds_arg_str(&a, p->id);
        rds_send(o, &a);
        o->stage = RDS_REC_SENT;
        return RDS_MORE;
    }
    rds_op_finishing(o);
    o->cb.ns(o->ud, p->n ? STORE_OK : STORE_ENOTFOUND, p->n ? &p->nss[0] : NULL);
    rds_op_free(o);
    return RDS_DONE;
}

void store_redis_ns_get(store_t *s, const char *name, store_ns_cb cb, void *ud)
{
    rds_rec_op_t *p = rds_rec_op(s, STORE_CB_NS, STORE_CB(ns, cb), ud, rds_ns_get_step,
                                 rds_ns_get_reply);
    p->id = sx_strdup(name);
    rds_submit((store_redis_t *)s, &p->op);
}

static int rds_ns_list_reply(rds_op_t *o, const redisReply *rep)
{
    rds_rec_op_t *p = (rds_rec_op_t *)o;
    if (rep->type != REDIS_REPLY_ARRAY)
        return RDS_MORE;
    for (size_t i = 0; i + 1 < rep->elements; i += 2) {
        store_ns_t ns;
        if (rep->element[i]->type == REDIS_REPLY_STRING &&
            rds_ns_parse(rep->element[i]->str, rep->element[i + 1], &ns))
            rds_rec_push_ns(p, &ns);
    }
    return RDS_MORE;
}

static int rds_ns_order(const void *a, const void *b)
{
    return strcmp(((const store_ns_t *)a)->name, ((const store_ns_t *)b)->name);
}

static int rds_ns_list_step(rds_op_t *o)
{
    rds_rec_op_t *p = (rds_rec_op_t *)o;
    if (o->stage == RDS_REC_START) {
        rds_args_t a;
        rds_args_init(&a);
        rds_arg_str(&a, "HGETALL");
        rds_arg_key(&a, o->r, "g", NULL, ":ns");
        rds_send(o, &a);
        o->stage = RDS_REC_SENT;
        return RDS_MORE;
    }
    if (p->n > 1)
        qsort(p->nss, p->n, sizeof *p->nss, rds_ns_order);
    rds_op_finishing(o);
    o->cb.ns_list(o->ud, STORE_OK, p->nss, p->n);
    rds_op_free(o);
    return RDS_DONE;
}

void store_redis_ns_list(store_t *s, store_ns_list_cb cb, void *ud)
{
    rds_rec_op_t *p = rds_rec_op(s, STORE_CB_NS_LIST, STORE_CB(ns_list, cb), ud, rds_ns_list_step,
                                 rds_ns_list_reply);
    rds_submit((store_redis_t *)s, &p->op);
}

/* ---- Writes shared by actors and runners. ---- */

static const char *rds_rec_id(const rds_rec_op_t *p)
{
    return p->is_runner ? p->in_runner.runner_id : p->in_actor.actor_id;
}

static const char *rds_rec_ns(const rds_rec_op_t *p)
{
    return p->is_runner ? p->in_runner.namespace_id : p->in_actor.namespace_id;
}

/* Sends the record write and the index update of a put or a create. */
static void rds_rec_send_write(rds_rec_op_t *p, rds_script_t sc)
{
    store_redis_t *r = p->op.r;
    const char *id = rds_rec_id(p), *ns = rds_rec_ns(p);
    rds_args_t a;
    rds_args_init(&a);
    rds_arg_eval(&a, sc, 1);
    rds_arg_key(&a, r, p->is_runner ? "r" : "a", id, NULL);
    if (p->is_runner)
        rds_runner_args(&a, &p->in_runner);
    else
        rds_actor_args(&a, &p->in_actor);
    rds_send(&p->op, &a);

    rds_args_init(&a);
    rds_idx_eval(&a, r, RDS_SC_IDX_SET, ns, p->is_runner);
    rds_arg_str(&a, id);
    rds_arg(&a, p->field ? p->field : "", p->field ? p->field_len : 0);
    if (sc == RDS_SC_REC_CREATE)
        rds_arg_str(&a, "c");
    rds_send(&p->op, &a);

    if (!p->is_runner) {
        rds_args_init(&a);
        rds_arg_str(&a, "ZADD");
        rds_arg_key(&a, r, "g", NULL, ":actors");
        rds_arg_str(&a, "0");
        rds_arg_str(&a, id);
        rds_send(&p->op, &a);
    }
}

static int rds_rec_put_reply(rds_op_t *o, const redisReply *rep)
{
    rds_rec_op_t *p = (rds_rec_op_t *)o;
    if (o->idx == 0 && rep->type == REDIS_REPLY_STRING &&
        (rep->len != strlen(rds_rec_ns(p)) || memcmp(rep->str, rds_rec_ns(p), rep->len) != 0))
        p->old_ns = sx_strndup(rep->str, rep->len);
    return RDS_MORE;
}

static int rds_rec_put_step(rds_op_t *o)
{
    rds_rec_op_t *p = (rds_rec_op_t *)o;
    if (o->stage == RDS_REC_START) {
        rds_rec_send_write(p, RDS_SC_REC_PUT);
        o->stage = RDS_REC_SENT;
        return RDS_MORE;
    }
    if (p->old_ns)
        rds_rec_unindex_bg(o->r, p->old_ns, rds_rec_id(p), p->is_runner);
    return rds_done(o, STORE_OK);
}

/* A live actor (key set, not destroyed) is indexed by its key. */
static void rds_actor_field(rds_rec_op_t *p)
{
    if (p->in_actor.key && p->in_actor.destroy_ts == 0)
        rds_rec_field(p, p->in_actor.name, p->in_actor.key);
}

void store_redis_actor_put(store_t *s, const store_actor_t *a, store_done_cb cb, void *ud)
{
    rds_rec_op_t *p = rds_rec_op(s, STORE_CB_DONE, STORE_CB(done, cb), ud, rds_rec_put_step,
                                 rds_rec_put_reply);
    store_actor_copy(&p->in_actor, a);
    p->has_in = true;
    rds_actor_field(p);
    rds_submit((store_redis_t *)s, &p->op);
}

void store_redis_runner_put(store_t *s, const store_runner_t *x, store_done_cb cb, void *ud)
{
    rds_rec_op_t *p = rds_rec_op(s, STORE_CB_DONE, STORE_CB(done, cb), ud, rds_rec_put_step,
                                 rds_rec_put_reply);
    store_runner_copy(&p->in_runner, x);
    p->has_in = true;
    p->is_runner = true;
    rds_rec_field(p, x->name, x->runner_key);
    rds_submit((store_redis_t *)s, &p->op);
}

/* ---- Actor create: read the id and claim the key, then write; see the file comment. ---- */

static void rds_create_send_claim(rds_rec_op_t *p, const char *holder, const char *stamp)
{
    rds_args_t a;
    rds_args_init(&a);
    rds_arg_eval(&a, RDS_SC_CLAIM, 2);
    rds_arg_key(&a, p->op.r, "n", p->in_actor.namespace_id, ":ak");
    rds_arg_key(&a, p->op.r, "n", p->in_actor.namespace_id, ":akt");
    rds_arg(&a, p->field, p->field_len);
    rds_arg_str(&a, p->in_actor.actor_id);
    rds_arg_str(&a, holder ? holder : "");
    rds_arg_str(&a, stamp ? stamp : "");
    rds_arg_i64(&a, RDS_CLAIM_LEASE_MS);
    rds_send(&p->op, &a);
}

static void rds_create_claim_reply(rds_rec_op_t *p, const redisReply *rep)
{
    free(p->holder);
    free(p->stamp);
    p->holder = p->stamp = NULL;
    if (rep->type == REDIS_REPLY_INTEGER) {
        p->claim = (int)rep->integer;
    } else if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
               rep->element[0]->type == REDIS_REPLY_STRING &&
               rep->element[1]->type == REDIS_REPLY_STRING) {
        p->holder = sx_strndup(rep->element[0]->str, rep->element[0]->len);
        p->stamp = sx_strndup(rep->element[1]->str, rep->element[1]->len);
    }
}

static void rds_rec_found_actor(rds_rec_op_t *p, const redisReply *rep)
{
    store_actor_t a;
    if (rds_actor_parse(rep, &a) && p->n == 0)
        rds_rec_push_actor(p, &a);
}

static int rds_create_reply(rds_op_t *o, const redisReply *rep)
{
    rds_rec_op_t *p = (rds_rec_op_t *)o;
    switch (o->stage) {
    case RDS_REC_SENT:
        if (o->idx == 0)
            rds_rec_found_actor(p, rep);
        else
            rds_create_claim_reply(p, rep);
        break;
    case RDS_REC_RECLAIM: rds_create_claim_reply(p, rep); break;
    case RDS_REC_HOLDER: rds_rec_found_actor(p, rep); break;
    case RDS_REC_WRITE:
        if (o->idx == 0 && rep->type == REDIS_REPLY_ARRAY)
            rds_rec_found_actor(p, rep);
        else if (o->idx == 1 && rep->type == REDIS_REPLY_INTEGER && rep->integer == 0)
            p->lost_key = true;
        break;
    }
    return RDS_MORE;
}

/* Another create holds the key and its outcome is not known yet: the caller retries, as after any
 * 503, and then gets the winner. */
static int rds_create_contended(rds_rec_op_t *p, const char *msg)
{
    p->op.reason = "contended";
    return rds_fail(&p->op, STORE_EUNAVAILABLE, msg);
}

/* After the id check and the claim: refuse, check the holder, or write. */
static int rds_create_decide(rds_rec_op_t *p)
{
    rds_op_t *o = &p->op;
    if (p->n) {
        if (p->claim == 0) {
            rds_args_t a;
            rds_args_init(&a);
            rds_arg_eval(&a, RDS_SC_UNCLAIM, 2);
            rds_arg_key(&a, o->r, "n", p->in_actor.namespace_id, ":ak");
            rds_arg_key(&a, o->r, "n", p->in_actor.namespace_id, ":akt");
            rds_arg(&a, p->field, p->field_len);
            rds_arg_str(&a, p->in_actor.actor_id);
            rds_release(o);
            rds_send(o, &a);
            o->stage = RDS_REC_ROLLBACK;
            return RDS_MORE;
        }
        return rds_rec_done_actor(p, STORE_EEXIST, &p->actors[0]);
    }
    if (p->claim == 2)
        return rds_create_contended(
            p, "store unavailable: the actor key is being created by another node; retry");
    if (p->holder) {
        rds_args_t a;
        rds_args_init(&a);
        rds_arg_str(&a, "HGETALL");
        rds_arg_key(&a, o->r, "a", p->holder, NULL);
        rds_send(o, &a);
        o->stage = RDS_REC_HOLDER;
        return RDS_MORE;
    }
    rds_release(o);
    rds_rec_send_write(p, RDS_SC_REC_CREATE);
    o->stage = RDS_REC_WRITE;
    return RDS_MORE;
}

static int rds_create_step(rds_op_t *o)
{
    rds_rec_op_t *p = (rds_rec_op_t *)o;
    switch (o->stage) {
    case RDS_REC_START: {
        rds_args_t a;
        rds_args_init(&a);
        rds_arg_str(&a, "HGETALL");
        rds_arg_key(&a, o->r, "a", p->in_actor.actor_id, NULL);
        rds_send(o, &a);
        if (p->field)
            rds_create_send_claim(p, NULL, NULL);
        o->stage = RDS_REC_SENT;
        return RDS_MORE;
    }
    case RDS_REC_SENT:
    case RDS_REC_RECLAIM: return rds_create_decide(p);
    case RDS_REC_HOLDER: {
        const store_actor_t *h = p->n ? &p->actors[0] : NULL;
        if (h && h->destroy_ts == 0 && rds_str_eq(h->namespace_id, p->in_actor.namespace_id) &&
            rds_str_eq(h->name, p->in_actor.name) && rds_str_eq(h->key, p->in_actor.key))
            return rds_rec_done_actor(p, STORE_EEXIST, h);
        /* The entry names an actor that is gone, destroyed or moved, or whose create has claimed
         * the key and not yet written its record: take it over if the entry is as it was when
         * the claim call read it (the script checks the stamp and its lease). */
        if (p->n) {
            store_actor_clear(&p->actors[0]);
            p->n = 0;
        }
        if (++p->attempts > 3)
            return rds_create_contended(p, "store unavailable: actor key contended; retry");
        rds_create_send_claim(p, p->holder, p->stamp);
        o->stage = RDS_REC_RECLAIM;
        return RDS_MORE;
    }
    case RDS_REC_WRITE:
        /* Another node created the same id between the check and the write. */
        if (p->n)
            return rds_rec_done_actor(p, STORE_EEXIST, &p->actors[0]);
        if (p->lost_key) {
            /* The claim outlived its lease and went to another create: ours must not stay as a
             * second live actor with the key. */
            rds_args_t a;
            rds_args_init(&a);
            rds_arg_eval(&a, RDS_SC_REC_DEL, 1);
            rds_arg_key(&a, o->r, "a", p->in_actor.actor_id, NULL);
            rds_send(o, &a);
            rds_args_init(&a);
            rds_arg_str(&a, "ZREM");
            rds_arg_key(&a, o->r, "g", NULL, ":actors");
            rds_arg_str(&a, p->in_actor.actor_id);
            rds_send(o, &a);
            o->stage = RDS_REC_UNDO;
            return RDS_MORE;
        }
        return rds_rec_done_actor(p, STORE_OK, &p->in_actor);
    case RDS_REC_UNDO:
        return rds_create_contended(p, "store unavailable: actor key contended; retry");
    case RDS_REC_ROLLBACK:
    default: return rds_rec_done_actor(p, STORE_EEXIST, &p->actors[0]);
    }
}

void store_redis_actor_create(store_t *s, const store_actor_t *a, store_actor_cb cb, void *ud)
{
    rds_rec_op_t *p = rds_rec_op(s, STORE_CB_ACTOR, STORE_CB(actor, cb), ud, rds_create_step,
                                 rds_create_reply);
    store_actor_copy(&p->in_actor, a);
    p->has_in = true;
    rds_actor_field(p);
    p->op.barrier = true;
    rds_submit((store_redis_t *)s, &p->op);
}

/* ---- Get. ---- */

static int rds_get_reply(rds_op_t *o, const redisReply *rep)
{
    rds_rec_op_t *p = (rds_rec_op_t *)o;
    if (p->is_runner) {
        store_runner_t x;
        if (rds_runner_parse(rep, &x) && p->n == 0)
            rds_rec_push_runner(p, &x);
    } else {
        rds_rec_found_actor(p, rep);
    }
    return RDS_MORE;
}

static int rds_get_step(rds_op_t *o)
{
    rds_rec_op_t *p = (rds_rec_op_t *)o;
    if (o->stage == RDS_REC_START) {
        rds_args_t a;
        rds_args_init(&a);
        rds_arg_str(&a, "HGETALL");
        rds_arg_key(&a, o->r, p->is_runner ? "r" : "a", p->id, NULL);
        rds_send(o, &a);
        o->stage = RDS_REC_SENT;
        return RDS_MORE;
    }
    if (p->is_runner)
        return rds_rec_done_runner(p, p->n ? STORE_OK : STORE_ENOTFOUND,
                                   p->n ? &p->runners[0] : NULL);
    return rds_rec_done_actor(p, p->n ? STORE_OK : STORE_ENOTFOUND, p->n ? &p->actors[0] : NULL);
}

void store_redis_actor_get(store_t *s, const char *actor_id, store_actor_cb cb, void *ud)
{
    rds_rec_op_t *p = rds_rec_op(s, STORE_CB_ACTOR, STORE_CB(actor, cb), ud, rds_get_step,
                                 rds_get_reply);
    p->id = sx_strdup(actor_id);
    rds_submit((store_redis_t *)s, &p->op);
}

void store_redis_runner_get(store_t *s, const char *runner_id, store_runner_cb cb, void *ud)
{
    rds_rec_op_t *p = rds_rec_op(s, STORE_CB_RUNNER, STORE_CB(runner, cb), ud, rds_get_step,
                                 rds_get_reply);
    p->id = sx_strdup(runner_id);
    p->is_runner = true;
    rds_submit((store_redis_t *)s, &p->op);
}

/* ---- Find: the index entry, then the record it names, checked. ---- */

static int rds_find_reply(rds_op_t *o, const redisReply *rep)
{
    rds_rec_op_t *p = (rds_rec_op_t *)o;
    if (o->stage == RDS_REC_SENT) {
        if (rep->type == REDIS_REPLY_STRING)
            p->holder = sx_strndup(rep->str, rep->len);
        return RDS_MORE;
    }
    return rds_get_reply(o, rep);
}

static int rds_find_step(rds_op_t *o)
{
    rds_rec_op_t *p = (rds_rec_op_t *)o;
    rds_args_t a;
    switch (o->stage) {
    case RDS_REC_START:
        rds_args_init(&a);
        rds_arg_str(&a, "HGET");
        rds_arg_key(&a, o->r, "n", p->ns, p->is_runner ? ":rk" : ":ak");
        rds_arg(&a, p->field, p->field_len);
        rds_send(o, &a);
        o->stage = RDS_REC_SENT;
        return RDS_MORE;
    case RDS_REC_SENT:
        if (!p->holder)
            break;
        rds_release(o);
        rds_args_init(&a);
        rds_arg_str(&a, "HGETALL");
        rds_arg_key(&a, o->r, p->is_runner ? "r" : "a", p->holder, NULL);
        rds_send(o, &a);
        o->stage = RDS_REC_RECORDS;
        return RDS_MORE;
    default:
        if (p->is_runner && p->n) {
            const store_runner_t *x = &p->runners[0];
            if (rds_str_eq(x->namespace_id, p->ns) && rds_str_eq(x->name, p->name) &&
                rds_str_eq(x->runner_key, p->key))
                return rds_rec_done_runner(p, STORE_OK, x);
        } else if (!p->is_runner && p->n) {
            const store_actor_t *x = &p->actors[0];
            if (x->destroy_ts == 0 && rds_str_eq(x->namespace_id, p->ns) &&
                rds_str_eq(x->name, p->name) && rds_str_eq(x->key, p->key))
                return rds_rec_done_actor(p, STORE_OK, x);
        }
        break;
    }
    if (p->is_runner)
        return rds_rec_done_runner(p, STORE_ENOTFOUND, NULL);
    return rds_rec_done_actor(p, STORE_ENOTFOUND, NULL);
}

static rds_rec_op_t *rds_find_op(store_t *s, store_cb_kind_t kind, store_cb_t cb, void *ud,
                                 const char *ns, const char *name, const char *key)
{
    rds_rec_op_t *p = rds_rec_op(s, kind, cb, ud, rds_find_step, rds_find_reply);
    p->ns = sx_strdup(ns);
    p->name = sx_strdup(name);
    p->key = sx_strdup(key);
    rds_rec_field(p, name, key);
    p->op.barrier = true;
    return p;
}

void store_redis_actor_find(store_t *s, const char *namespace_id, const char *name, const char *key,
                            store_actor_cb cb, void *ud)
{
    rds_rec_op_t *p = rds_find_op(s, STORE_CB_ACTOR, STORE_CB(actor, cb), ud, namespace_id, name,
                                  key);
    rds_submit((store_redis_t *)s, &p->op);
}

void store_redis_runner_find(store_t *s, const char *namespace_id, const char *name,
                             const char *runner_key, store_runner_cb cb, void *ud)
{
    rds_rec_op_t *p = rds_find_op(s, STORE_CB_RUNNER, STORE_CB(runner, cb), ud, namespace_id, name,
                                  runner_key);
    p->is_runner = true;
    rds_submit((store_redis_t *)s, &p->op);
}

/* ---- List: the ids of an index, then their records, filtered. ---- */

static bool rds_list_match_actor(const rds_rec_op_t *p, const store_actor_t *x)
{
    return (!p->ns || rds_str_eq(x->namespace_id, p->ns)) &&
           (!p->name || rds_str_eq(x->name, p->name)) &&
           (!p->f_rid || rds_str_eq(x->runner_id, p->f_rid));
}

static int rds_list_reply(rds_op_t *o, const redisReply *rep)
{
    rds_rec_op_t *p = (rds_rec_op_t *)o;
    if (o->stage == RDS_REC_SENT) {
        if (rep->type != REDIS_REPLY_ARRAY)
            return RDS_MORE;
        p->ids = sx_calloc(rep->elements ? rep->elements : 1, sizeof *p->ids);
        for (size_t i = 0; i < rep->elements; i++)
            if (rep->element[i]->type == REDIS_REPLY_STRING)
                p->ids[p->n_ids++] = sx_strndup(rep->element[i]->str, rep->element[i]->len);
        return RDS_MORE;
    }
    if (p->is_runner) {
        store_runner_t x;
        if (rds_runner_parse(rep, &x) && rds_str_eq(x.namespace_id, p->ns) &&
            (!p->name || rds_str_eq(x.name, p->name)))
            rds_rec_push_runner(p, &x);
    } else {
        store_actor_t x;
        if (rds_actor_parse(rep, &x) && rds_list_match_actor(p, &x))
            rds_rec_push_actor(p, &x);
    }
    return RDS_MORE;
}

static int rds_list_step(rds_op_t *o)
{
    rds_rec_op_t *p = (rds_rec_op_t *)o;
    rds_args_t a;
    if (o->stage == RDS_REC_START) {
        rds_args_init(&a);
        rds_arg_str(&a, "ZRANGE");
        if (p->is_runner)
            rds_arg_key(&a, o->r, "n", p->ns, ":rl");
        else if (p->ns)
            rds_arg_key(&a, o->r, "n", p->ns, ":al");
        else
            rds_arg_key(&a, o->r, "g", NULL, ":actors");
        rds_arg_str(&a, "0");
        rds_arg_str(&a, "-1");
        rds_send(o, &a);
        o->stage = RDS_REC_SENT;
        return RDS_MORE;
    }
    if (o->stage == RDS_REC_SENT && p->n_ids) {
        rds_release(o);
        for (size_t i = 0; i < p->n_ids; i++) {
            rds_args_init(&a);
            rds_arg_str(&a, "HGETALL");
            rds_arg_key(&a, o->r, p->is_runner ? "r" : "a", p->ids[i], NULL);
            rds_send(o, &a);
        }
        o->stage = RDS_REC_RECORDS;
        return RDS_MORE;
    }
    rds_op_finishing(o);
    if (p->is_runner)
        o->cb.runner_list(o->ud, STORE_OK, p->runners, p->n);
    else
        o->cb.actor_list(o->ud, STORE_OK, p->actors, p->n);
    rds_op_free(o);
    return RDS_DONE;
}

void store_redis_actor_list(store_t *s, const store_actor_filter_t *f, store_actor_list_cb cb,
                            void *ud)
{
    rds_rec_op_t *p = rds_rec_op(s, STORE_CB_ACTOR_LIST, STORE_CB(actor_list, cb), ud,
                                 rds_list_step, rds_list_reply);
    p->ns = rds_dup(f->namespace_id);
    p->name = rds_dup(f->name);
    p->f_rid = rds_dup(f->runner_id);
    p->op.barrier = true;
    rds_submit((store_redis_t *)s, &p->op);
}

void store_redis_runner_list(store_t *s, const char *namespace_id, const char *name,
                             store_runner_list_cb cb, void *ud)
{
    rds_rec_op_t *p = rds_rec_op(s, STORE_CB_RUNNER_LIST, STORE_CB(runner_list, cb), ud,
                                 rds_list_step, rds_list_reply);
    p->ns = sx_strdup(namespace_id);
    p->name = rds_dup(name);
    p->is_runner = true;
    p->op.barrier = true;
    rds_submit((store_redis_t *)s, &p->op);
}

/* ---- Delete: the record, then its index entries in the background. ---- */

static int rds_delete_reply(rds_op_t *o, const redisReply *rep)
{
    rds_rec_op_t *p = (rds_rec_op_t *)o;
    if (o->idx == 0 && rep->type == REDIS_REPLY_STRING)
        p->old_ns = sx_strndup(rep->str, rep->len);
    return RDS_MORE;
}

static int rds_delete_step(rds_op_t *o)
{
    rds_rec_op_t *p = (rds_rec_op_t *)o;
    if (o->stage == RDS_REC_START) {
        rds_args_t a;
        rds_args_init(&a);
        rds_arg_eval(&a, RDS_SC_REC_DEL, 1);
        rds_arg_key(&a, o->r, p->is_runner ? "r" : "a", p->id, NULL);
        rds_send(o, &a);
        if (!p->is_runner) {
            rds_args_init(&a);
            rds_arg_str(&a, "ZREM");
            rds_arg_key(&a, o->r, "g", NULL, ":actors");
            rds_arg_str(&a, p->id);
            rds_send(o, &a);
        }
        o->stage = RDS_REC_SENT;
        return RDS_MORE;
    }
    if (p->old_ns)
        rds_rec_unindex_bg(o->r, p->old_ns, p->id, p->is_runner);
    return rds_done(o, STORE_OK);
}

void store_redis_actor_delete(store_t *s, const char *actor_id, store_done_cb cb, void *ud)
{
    rds_rec_op_t *p = rds_rec_op(s, STORE_CB_DONE, STORE_CB(done, cb), ud, rds_delete_step,
                                 rds_delete_reply);
    p->id = sx_strdup(actor_id);
    rds_submit((store_redis_t *)s, &p->op);
}

void store_redis_runner_delete(store_t *s, const char *runner_id, store_done_cb cb, void *ud)
{
    rds_rec_op_t *p = rds_rec_op(s, STORE_CB_DONE, STORE_CB(done, cb), ud, rds_delete_step,
                                 rds_delete_reply);
    p->id = sx_strdup(runner_id);
    p->is_runner = true;
    rds_submit((store_redis_t *)s, &p->op);
}
