/* The contract every store implementation must meet, as one suite: a test file includes this
 * header and calls store_suite_run with a function that makes a fresh, empty store on a given
 * loop. tests/unit/test_store_memory.c runs it on the memory store; the Redis store's test runs
 * the same function with its own maker. Each test gets its own loop and store, a fake clock, and
 * a watchdog, and ends by closing the store and checking that the loop closes clean.
 *
 * Every call is checked not to complete inline, and results are copied in the callbacks, since the
 * store lends them only for the callback's duration. */
#ifndef SETT_TEST_STORE_SUITE_H
#define SETT_TEST_STORE_SUITE_H

#include "t.h"

#include "core/alloc.h"
#include "store/store.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef store_t *(*store_suite_make_fn)(uv_loop_t *loop, void *arg);

typedef struct ss ss_t;

/* A copied KV entry. */
typedef struct ss_kv {
    uint8_t *key;
    size_t klen;
    uint8_t *val;
    size_t vlen;
    uint8_t ver[64];
    size_t verlen;
    int64_t ts;
} ss_kv_t;

/* One call in flight and what its callback received, copied. */
typedef struct ss_call {
    ss_t *t;
    int calls; /* how many times the callback ran: must end at 1 */
    int err;
    int order; /* completion sequence number within the test */
    char msg[256];
    bool has_msg;
    store_ns_t ns;
    store_actor_t actor;
    store_runner_t runner;
    bool has_record;
    void *items; /* store_ns_t, store_actor_t, store_runner_t or store_hib_row_t copies */
    size_t n;
    ss_kv_t *kv;
    size_t nkv;
    char *hib_actor; /* the actor id of listed rows (all the same) */
} ss_call_t;

struct ss {
    uv_loop_t loop;
    store_t *s;
    uv_timer_t watchdog;
    bool timed_out;
    int64_t now;
    int order;
    bool closed;
};

#define SS_B(lit) ((slice_t){ (const uint8_t *)(lit), sizeof(lit) - 1 })

static int64_t ss_clock(void *ud)
{
    return ((ss_t *)ud)->now;
}

/* ---- Copying results. ---- */

static void ss_reset(ss_call_t *c, ss_t *t)
{
    if (c->has_record) {
        store_ns_clear(&c->ns);
        store_actor_clear(&c->actor);
        store_runner_clear(&c->runner);
    }
    free(c->items);
    for (size_t i = 0; i < c->nkv; i++) {
        free(c->kv[i].key);
        free(c->kv[i].val);
    }
    free(c->kv);
    free(c->hib_actor);
    memset(c, 0, sizeof *c);
    c->t = t;
}

static void ss_items_clear(ss_call_t *c, int kind)
{
    for (size_t i = 0; i < c->n; i++) {
        if (kind == 0)
            store_ns_clear(&((store_ns_t *)c->items)[i]);
        else if (kind == 1)
            store_actor_clear(&((store_actor_t *)c->items)[i]);
        else if (kind == 2)
            store_runner_clear(&((store_runner_t *)c->items)[i]);
    }
}

static void ss_done(ss_call_t *c, int err)
{
    c->calls++;
    c->err = err;
    c->order = ++c->t->order;
}

static void ss_on_done(void *ud, int err)
{
    ss_done(ud, err);
}

static void ss_on_ns(void *ud, int err, const store_ns_t *ns)
{
    ss_call_t *c = ud;
    ss_done(c, err);
    if (ns) {
        store_ns_copy(&c->ns, ns);
        c->has_record = true;
    }
}

static void ss_on_ns_list(void *ud, int err, const store_ns_t *items, size_t n)
{
    ss_call_t *c = ud;
    ss_done(c, err);
    c->items = sx_calloc(n ? n : 1, sizeof(store_ns_t));
    for (size_t i = 0; i < n; i++)
        store_ns_copy(&((store_ns_t *)c->items)[i], &items[i]);
    c->n = n;
}

static void ss_on_actor(void *ud, int err, const store_actor_t *a)
{
    ss_call_t *c = ud;
    ss_done(c, err);
    if (a) {
        store_actor_copy(&c->actor, a);
        c->has_record = true;
    }
}

static void ss_on_actor_list(void *ud, int err, const store_actor_t *items, size_t n)
{
    ss_call_t *c = ud;
    ss_done(c, err);
    c->items = sx_calloc(n ? n : 1, sizeof(store_actor_t));
    for (size_t i = 0; i < n; i++)
        store_actor_copy(&((store_actor_t *)c->items)[i], &items[i]);
    c->n = n;
}

static void ss_on_runner(void *ud, int err, const store_runner_t *r)
{
    ss_call_t *c = ud;
    ss_done(c, err);
    if (r) {
        store_runner_copy(&c->runner, r);
        c->has_record = true;
    }
}

static void ss_on_runner_list(void *ud, int err, const store_runner_t *items, size_t n)
{
    ss_call_t *c = ud;
    ss_done(c, err);
    c->items = sx_calloc(n ? n : 1, sizeof(store_runner_t));
    for (size_t i = 0; i < n; i++)
        store_runner_copy(&((store_runner_t *)c->items)[i], &items[i]);
    c->n = n;
}

static void ss_on_kv(void *ud, int err, const store_kv_res_t *res)
{
    ss_call_t *c = ud;
    ss_done(c, err);
    CHECK(res != NULL);
    if (!res)
        return;
    CHECK((err != STORE_OK) == (res->message != NULL));
    if (res->message) {
        snprintf(c->msg, sizeof c->msg, "%s", res->message);
        c->has_msg = true;
    }
    c->kv = sx_calloc(res->n ? res->n : 1, sizeof *c->kv);
    bool meta_ok = true;
    for (size_t i = 0; i < res->n; i++) {
        const store_kv_entry_t *e = &res->entries[i];
        ss_kv_t *k = &c->kv[i];
        k->key = sx_malloc(e->key.len + 1);
        if (e->key.len)
            memcpy(k->key, e->key.p, e->key.len);
        k->klen = e->key.len;
        k->val = sx_malloc(e->value.len + 1);
        if (e->value.len)
            memcpy(k->val, e->value.p, e->value.len);
        k->vlen = e->value.len;
        meta_ok = meta_ok && e->meta.version_len > 0 && e->meta.version_len <= sizeof k->ver;
        k->verlen = e->meta.version_len < sizeof k->ver ? e->meta.version_len : sizeof k->ver;
        memcpy(k->ver, e->meta.version, k->verlen);
        k->ts = e->meta.update_ts;
    }
    c->nkv = res->n;
    CHECK(meta_ok);
}

static void ss_on_hib_list(void *ud, int err, const store_hib_row_t *rows, size_t n)
{
    ss_call_t *c = ud;
    ss_done(c, err);
    store_hib_row_t *copy = sx_calloc(n ? n : 1, sizeof *copy);
    for (size_t i = 0; i < n; i++) {
        copy[i] = rows[i];
        copy[i].actor_id = NULL;
        if (i == 0)
            c->hib_actor = sx_strdup(rows[i].actor_id);
        else if (strcmp(rows[i].actor_id, c->hib_actor) != 0)
            CHECK(!"listed rows of another actor");
    }
    c->items = copy;
    c->n = n;
}

/* ---- Waiting. ---- */

static void ss_on_watchdog(uv_timer_t *h)
{
    ((ss_t *)h->data)->timed_out = true;
}

/* Runs the loop until the call has completed; false after 10 s without it. */
static bool ss_wait(ss_t *t, ss_call_t *c)
{
    t->timed_out = false;
    uv_timer_start(&t->watchdog, ss_on_watchdog, 10000, 0);
    while (c->calls == 0 && !t->timed_out)
        uv_run(&t->loop, UV_RUN_ONCE);
    uv_timer_stop(&t->watchdog);
    if (c->calls == 0)
        fprintf(stderr, "store suite: an operation never completed\n");
    return c->calls == 1;
}

/* Submits one call, checks that it did not complete inline, and waits for it. */
#define SS_DO(t, c, call)         \
    do {                          \
        ss_reset((c), (t));       \
        call;                     \
        CHECK((c)->calls == 0);   \
        CHECK(ss_wait((t), (c))); \
    } while (0)

/* ---- Building records. ---- */

static store_actor_t ss_actor(const char *id, const char *ns, const char *name, const char *key)
{
    store_actor_t a;
    memset(&a, 0, sizeof a);
    a.actor_id = (char *)id;
    a.namespace_id = (char *)ns;
    a.name = (char *)name;
    a.key = (char *)key;
    a.runner_name_selector = (char *)"default";
    a.crash_policy = STORE_CRASH_SLEEP;
    a.create_ts = 1700000000123;
    a.generation = 0;
    a.connectable = false;
    return a;
}

static store_runner_t ss_runner(const char *id, const char *ns, const char *name, const char *key)
{
    store_runner_t r;
    memset(&r, 0, sizeof r);
    r.runner_id = (char *)id;
    r.namespace_id = (char *)ns;
    r.name = (char *)name;
    r.runner_key = (char *)key;
    r.version = 3;
    r.total_slots = 100;
    r.create_ts = 1700000000000;
    r.last_ping_ts = 1700000001000;
    return r;
}

static bool ss_str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool ss_actor_eq(const store_actor_t *a, const store_actor_t *b)
{
    return ss_str_eq(a->actor_id, b->actor_id) && ss_str_eq(a->namespace_id, b->namespace_id) &&
           ss_str_eq(a->name, b->name) && ss_str_eq(a->key, b->key) &&
           a->has_input == b->has_input &&
           (!a->has_input ||
            (a->input_len == b->input_len &&
             (a->input_len == 0 || memcmp(a->input, b->input, a->input_len) == 0))) &&
           ss_str_eq(a->runner_name_selector, b->runner_name_selector) &&
           a->crash_policy == b->crash_policy && a->create_ts == b->create_ts &&
           a->generation == b->generation && ss_str_eq(a->runner_id, b->runner_id) &&
           a->sleeping == b->sleeping && a->connectable == b->connectable &&
           a->destroy_ts == b->destroy_ts && a->has_alarm == b->has_alarm &&
           (!a->has_alarm || a->alarm_ts == b->alarm_ts);
}

static bool ss_runner_eq(const store_runner_t *a, const store_runner_t *b)
{
    return ss_str_eq(a->runner_id, b->runner_id) && ss_str_eq(a->namespace_id, b->namespace_id) &&
           ss_str_eq(a->name, b->name) && ss_str_eq(a->runner_key, b->runner_key) &&
           a->version == b->version && a->total_slots == b->total_slots &&
           ss_str_eq(a->metadata, b->metadata) && a->create_ts == b->create_ts &&
           a->last_ping_ts == b->last_ping_ts;
}

/* True when the KV entries of c have exactly these keys, in this order. */
static bool ss_keys_are(const ss_call_t *c, size_t n, ...)
{
    bool ok = c->nkv == n;
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        slice_t k = va_arg(ap, slice_t);
        if (ok && (c->kv[i].klen != k.len || (k.len && memcmp(c->kv[i].key, k.p, k.len) != 0)))
            ok = false;
    }
    va_end(ap);
    if (!ok) {
        fprintf(stderr, "store suite: got %zu keys:", c->nkv);
        for (size_t i = 0; i < c->nkv; i++) {
            fprintf(stderr, " ");
            for (size_t j = 0; j < c->kv[i].klen; j++)
                fprintf(stderr, "%02x", c->kv[i].key[j]);
        }
        fprintf(stderr, " (expected %zu)\n", n);
    }
    return ok;
}

static bool ss_val_is(const ss_kv_t *k, slice_t v)
{
    return k->vlen == v.len && (v.len == 0 || memcmp(k->val, v.p, v.len) == 0);
}

static bool ss_same_version(const ss_kv_t *a, const ss_kv_t *b)
{
    return a->verlen == b->verlen && memcmp(a->ver, b->ver, a->verlen) == 0;
}

/* Puts (keys[i], values[i]) for actor and checks the put succeeded. */
static void ss_put(ss_t *t, const char *actor, const slice_t *keys, const slice_t *vals, size_t n)
{
    ss_call_t c = { 0 };
    SS_DO(t, &c, store_kv_put(t->s, actor, keys, n, vals, n, ss_on_kv, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    ss_reset(&c, t);
}

static void ss_list(ss_t *t, ss_call_t *c, const char *actor, store_kv_query_t q)
{
    SS_DO(t, c, store_kv_list(t->s, actor, &q, ss_on_kv, c));
    CHECK_EQ_INT(c->err, STORE_OK);
}

static store_kv_query_t ss_all(void)
{
    store_kv_query_t q;
    memset(&q, 0, sizeof q);
    q.kind = STORE_KV_ALL;
    return q;
}

static store_kv_query_t ss_range(slice_t start, slice_t end, bool exclusive)
{
    store_kv_query_t q = ss_all();
    q.kind = STORE_KV_RANGE;
    q.start = start;
    q.end = end;
    q.exclusive = exclusive;
    return q;
}

static store_kv_query_t ss_prefix(slice_t p)
{
    store_kv_query_t q = ss_all();
    q.kind = STORE_KV_PREFIX;
    q.prefix = p;
    return q;
}

/* The keys most KV tests use, deliberately out of order and with the byte values that trip up
 * signed comparisons and C strings. */
static void ss_put_alphabet(ss_t *t, const char *actor)
{
    slice_t keys[] = { SS_B("b"),    SS_B("a"),     SS_B("ab"),        SS_B("abc"),
                       SS_B("abd"),  SS_B("a\xff"), SS_B("a\xff\xff"), SS_B("\xff"),
                       SS_B("\x00"), SS_B("\x80"),  SS_B("c"),         SS_B("a\x00") };
    slice_t vals[sizeof keys / sizeof keys[0]];
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        vals[i] = keys[i];
    ss_put(t, actor, keys, vals, sizeof keys / sizeof keys[0]);
}

/* ---- Namespaces. ---- */

static void ss_test_namespaces(ss_t *t)
{
    ss_call_t c = { 0 };
    store_ns_t a = { (char *)"ns-id-a", (char *)"alpha", 1000 };
    store_ns_t b = { (char *)"ns-id-b", (char *)"beta", 2000 };
    SS_DO(t, &c, store_ns_put(t->s, &b, ss_on_done, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    SS_DO(t, &c, store_ns_put(t->s, &a, ss_on_done, &c));
    CHECK_EQ_INT(c.err, STORE_OK);

    SS_DO(t, &c, store_ns_get(t->s, "alpha", ss_on_ns, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    CHECK(c.has_record && ss_str_eq(c.ns.namespace_id, "ns-id-a") && ss_str_eq(c.ns.name, "alpha"));
    CHECK_EQ_INT(c.ns.create_ts, 1000);

    SS_DO(t, &c, store_ns_get(t->s, "gamma", ss_on_ns, &c));
    CHECK_EQ_INT(c.err, STORE_ENOTFOUND);
    CHECK(!c.has_record);

    SS_DO(t, &c, store_ns_list(t->s, ss_on_ns_list, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    CHECK_EQ_INT(c.n, 2);
    if (c.n == 2) {
        store_ns_t *items = c.items;
        CHECK(ss_str_eq(items[0].name, "alpha") && ss_str_eq(items[1].name, "beta"));
        CHECK(ss_str_eq(items[1].namespace_id, "ns-id-b"));
    }
    ss_items_clear(&c, 0);

    /* A put under an existing name replaces the namespace. */
    store_ns_t a2 = { (char *)"ns-id-a2", (char *)"alpha", 3000 };
    SS_DO(t, &c, store_ns_put(t->s, &a2, ss_on_done, &c));
    SS_DO(t, &c, store_ns_get(t->s, "alpha", ss_on_ns, &c));
    CHECK(c.has_record && ss_str_eq(c.ns.namespace_id, "ns-id-a2"));
    CHECK_EQ_INT(c.ns.create_ts, 3000);
    SS_DO(t, &c, store_ns_list(t->s, ss_on_ns_list, &c));
    CHECK_EQ_INT(c.n, 2);
    ss_items_clear(&c, 0);
    ss_reset(&c, t);
}

/* ---- Actors. ---- */

static void ss_test_actors(ss_t *t)
{
    ss_call_t c = { 0 };
    static const uint8_t input[] = { 0x00, 0x01, 0xff, 0x7f };
    store_actor_t a1 = ss_actor("actor-1", "ns1", "counter", "k1");
    a1.input = (uint8_t *)input;
    a1.input_len = sizeof input;
    a1.has_input = true;
    a1.crash_policy = STORE_CRASH_DESTROY;
    store_actor_t a2 = ss_actor("actor-2", "ns1", "counter", NULL);
    a2.has_input = true; /* present but empty input is distinct from no input */
    a2.crash_policy = STORE_CRASH_RESTART;
    store_actor_t a3 = ss_actor("actor-3", "ns1", "chat", "k1");
    a3.runner_id = (char *)"runner-9";
    a3.has_alarm = true;
    a3.alarm_ts = 1700000099999;
    store_actor_t a4 = ss_actor("actor-0", "ns2", "counter", "k1");

    const store_actor_t *all[] = { &a1, &a2, &a3, &a4 };
    for (size_t i = 0; i < 4; i++) {
        SS_DO(t, &c, store_actor_put(t->s, all[i], ss_on_done, &c));
        CHECK_EQ_INT(c.err, STORE_OK);
    }
    for (size_t i = 0; i < 4; i++) {
        SS_DO(t, &c, store_actor_get(t->s, all[i]->actor_id, ss_on_actor, &c));
        CHECK_EQ_INT(c.err, STORE_OK);
        CHECK(c.has_record && ss_actor_eq(&c.actor, all[i]));
    }
    SS_DO(t, &c, store_actor_get(t->s, "actor-404", ss_on_actor, &c));
    CHECK_EQ_INT(c.err, STORE_ENOTFOUND);
    CHECK(!c.has_record);

    /* Find by key: namespace, name and key all count. */
    SS_DO(t, &c, store_actor_find(t->s, "ns1", "counter", "k1", ss_on_actor, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    CHECK(c.has_record && ss_str_eq(c.actor.actor_id, "actor-1"));
    SS_DO(t, &c, store_actor_find(t->s, "ns1", "chat", "k1", ss_on_actor, &c));
    CHECK(c.has_record && ss_str_eq(c.actor.actor_id, "actor-3"));
    SS_DO(t, &c, store_actor_find(t->s, "ns2", "counter", "k1", ss_on_actor, &c));
    CHECK(c.has_record && ss_str_eq(c.actor.actor_id, "actor-0"));
    SS_DO(t, &c, store_actor_find(t->s, "ns1", "counter", "k2", ss_on_actor, &c));
    CHECK_EQ_INT(c.err, STORE_ENOTFOUND);
    SS_DO(t, &c, store_actor_find(t->s, "ns1", "counter", "", ss_on_actor, &c));
    CHECK_EQ_INT(c.err, STORE_ENOTFOUND);

    /* Lists filter and come ordered by actor id. */
    store_actor_filter_t f = { "ns1", NULL, NULL };
    SS_DO(t, &c, store_actor_list(t->s, &f, ss_on_actor_list, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    CHECK_EQ_INT(c.n, 3);
    if (c.n == 3) {
        store_actor_t *items = c.items;
        CHECK(ss_actor_eq(&items[0], &a1) && ss_actor_eq(&items[1], &a2) &&
              ss_actor_eq(&items[2], &a3));
    }
    ss_items_clear(&c, 1);
    f = (store_actor_filter_t){ "ns1", "counter", NULL };
    SS_DO(t, &c, store_actor_list(t->s, &f, ss_on_actor_list, &c));
    CHECK_EQ_INT(c.n, 2);
    ss_items_clear(&c, 1);
    f = (store_actor_filter_t){ NULL, NULL, "runner-9" };
    SS_DO(t, &c, store_actor_list(t->s, &f, ss_on_actor_list, &c));
    CHECK_EQ_INT(c.n, 1);
    if (c.n == 1)
        CHECK(ss_str_eq(((store_actor_t *)c.items)[0].actor_id, "actor-3"));
    ss_items_clear(&c, 1);
    SS_DO(t, &c, store_actor_list(t->s, NULL, ss_on_actor_list, &c));
    CHECK_EQ_INT(c.n, 4);
    if (c.n == 4)
        CHECK(ss_str_eq(((store_actor_t *)c.items)[0].actor_id, "actor-0"));
    ss_items_clear(&c, 1);
    f = (store_actor_filter_t){ "ns3", NULL, NULL };
    SS_DO(t, &c, store_actor_list(t->s, &f, ss_on_actor_list, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    CHECK_EQ_INT(c.n, 0);

    /* An upsert replaces every field, and the index follows the key. */
    store_actor_t a1b = a1;
    a1b.key = (char *)"k1-moved";
    a1b.generation = 7;
    a1b.runner_id = (char *)"runner-1";
    a1b.sleeping = true;
    a1b.connectable = true;
    a1b.has_input = false;
    a1b.input = NULL;
    a1b.input_len = 0;
    a1b.has_alarm = true;
    a1b.alarm_ts = 5;
    SS_DO(t, &c, store_actor_put(t->s, &a1b, ss_on_done, &c));
    SS_DO(t, &c, store_actor_get(t->s, "actor-1", ss_on_actor, &c));
    CHECK(c.has_record && ss_actor_eq(&c.actor, &a1b));
    CHECK(c.has_record && !c.actor.has_input);
    SS_DO(t, &c, store_actor_find(t->s, "ns1", "counter", "k1", ss_on_actor, &c));
    CHECK_EQ_INT(c.err, STORE_ENOTFOUND);
    SS_DO(t, &c, store_actor_find(t->s, "ns1", "counter", "k1-moved", ss_on_actor, &c));
    CHECK(c.has_record && ss_str_eq(c.actor.actor_id, "actor-1"));

    /* A destroyed actor keeps its record but leaves the key index. */
    store_actor_t a3d = a3;
    a3d.destroy_ts = 1700000200000;
    SS_DO(t, &c, store_actor_put(t->s, &a3d, ss_on_done, &c));
    SS_DO(t, &c, store_actor_find(t->s, "ns1", "chat", "k1", ss_on_actor, &c));
    CHECK_EQ_INT(c.err, STORE_ENOTFOUND);
    SS_DO(t, &c, store_actor_get(t->s, "actor-3", ss_on_actor, &c));
    CHECK(c.has_record && c.actor.destroy_ts == 1700000200000);

    /* Delete removes the record and its key; deleting again succeeds. */
    SS_DO(t, &c, store_actor_delete(t->s, "actor-0", ss_on_done, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    SS_DO(t, &c, store_actor_get(t->s, "actor-0", ss_on_actor, &c));
    CHECK_EQ_INT(c.err, STORE_ENOTFOUND);
    SS_DO(t, &c, store_actor_find(t->s, "ns2", "counter", "k1", ss_on_actor, &c));
    CHECK_EQ_INT(c.err, STORE_ENOTFOUND);
    SS_DO(t, &c, store_actor_delete(t->s, "actor-0", ss_on_done, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    SS_DO(t, &c, store_actor_list(t->s, NULL, ss_on_actor_list, &c));
    CHECK_EQ_INT(c.n, 3);
    ss_items_clear(&c, 1);
    ss_reset(&c, t);
}

static void ss_test_actor_create(ss_t *t)
{
    ss_call_t c = { 0 };
    store_actor_t a = ss_actor("actor-a", "ns", "room", "lobby");
    SS_DO(t, &c, store_actor_create(t->s, &a, ss_on_actor, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    CHECK(c.has_record && ss_actor_eq(&c.actor, &a));

    /* The same id again, and another id with the same live key, are refused with the holder. */
    store_actor_t same_id = ss_actor("actor-a", "ns", "room", "other");
    SS_DO(t, &c, store_actor_create(t->s, &same_id, ss_on_actor, &c));
    CHECK_EQ_INT(c.err, STORE_EEXIST);
    CHECK(c.has_record && ss_str_eq(c.actor.key, "lobby"));
    store_actor_t same_key = ss_actor("actor-b", "ns", "room", "lobby");
    SS_DO(t, &c, store_actor_create(t->s, &same_key, ss_on_actor, &c));
    CHECK_EQ_INT(c.err, STORE_EEXIST);
    CHECK(c.has_record && ss_str_eq(c.actor.actor_id, "actor-a"));
    SS_DO(t, &c, store_actor_get(t->s, "actor-b", ss_on_actor, &c));
    CHECK_EQ_INT(c.err, STORE_ENOTFOUND);

    /* The same key under another name or namespace is free. */
    store_actor_t other_name = ss_actor("actor-c", "ns", "hall", "lobby");
    SS_DO(t, &c, store_actor_create(t->s, &other_name, ss_on_actor, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    store_actor_t other_ns = ss_actor("actor-d", "ns-2", "room", "lobby");
    SS_DO(t, &c, store_actor_create(t->s, &other_ns, ss_on_actor, &c));
    CHECK_EQ_INT(c.err, STORE_OK);

    /* Once the holder is destroyed, the key can be taken again. */
    a.destroy_ts = 42;
    SS_DO(t, &c, store_actor_put(t->s, &a, ss_on_done, &c));
    SS_DO(t, &c, store_actor_create(t->s, &same_key, ss_on_actor, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    SS_DO(t, &c, store_actor_find(t->s, "ns", "room", "lobby", ss_on_actor, &c));
    CHECK(c.has_record && ss_str_eq(c.actor.actor_id, "actor-b"));

    /* Keyless actors never collide. */
    store_actor_t k1 = ss_actor("actor-k1", "ns", "room", NULL);
    store_actor_t k2 = ss_actor("actor-k2", "ns", "room", NULL);
    SS_DO(t, &c, store_actor_create(t->s, &k1, ss_on_actor, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    SS_DO(t, &c, store_actor_create(t->s, &k2, ss_on_actor, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    ss_reset(&c, t);
}

/* ---- Runners. ---- */

static void ss_test_runners(ss_t *t)
{
    ss_call_t c = { 0 };
    store_runner_t r1 = ss_runner("runner-b", "ns1", "pool", "key-1");
    r1.metadata = (char *)"{\"region\":\"eu\"}";
    store_runner_t r2 = ss_runner("runner-a", "ns1", "pool", "key-2");
    store_runner_t r3 = ss_runner("runner-c", "ns1", "other", "key-1");
    store_runner_t r4 = ss_runner("runner-d", "ns2", "pool", "key-1");
    const store_runner_t *all[] = { &r1, &r2, &r3, &r4 };
    for (size_t i = 0; i < 4; i++) {
        SS_DO(t, &c, store_runner_put(t->s, all[i], ss_on_done, &c));
        CHECK_EQ_INT(c.err, STORE_OK);
    }
    for (size_t i = 0; i < 4; i++) {
        SS_DO(t, &c, store_runner_get(t->s, all[i]->runner_id, ss_on_runner, &c));
        CHECK_EQ_INT(c.err, STORE_OK);
        CHECK(c.has_record && ss_runner_eq(&c.runner, all[i]));
    }
    SS_DO(t, &c, store_runner_get(t->s, "runner-z", ss_on_runner, &c));
    CHECK_EQ_INT(c.err, STORE_ENOTFOUND);

    SS_DO(t, &c, store_runner_find(t->s, "ns1", "pool", "key-1", ss_on_runner, &c));
    CHECK(c.has_record && ss_str_eq(c.runner.runner_id, "runner-b"));
    SS_DO(t, &c, store_runner_find(t->s, "ns1", "other", "key-1", ss_on_runner, &c));
    CHECK(c.has_record && ss_str_eq(c.runner.runner_id, "runner-c"));
    SS_DO(t, &c, store_runner_find(t->s, "ns1", "pool", "key-3", ss_on_runner, &c));
    CHECK_EQ_INT(c.err, STORE_ENOTFOUND);

    SS_DO(t, &c, store_runner_list(t->s, "ns1", "pool", ss_on_runner_list, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    CHECK_EQ_INT(c.n, 2);
    if (c.n == 2) {
        store_runner_t *items = c.items;
        CHECK(ss_runner_eq(&items[0], &r2) && ss_runner_eq(&items[1], &r1));
    }
    ss_items_clear(&c, 2);
    SS_DO(t, &c, store_runner_list(t->s, "ns1", NULL, ss_on_runner_list, &c));
    CHECK_EQ_INT(c.n, 3);
    ss_items_clear(&c, 2);
    SS_DO(t, &c, store_runner_list(t->s, "ns9", NULL, ss_on_runner_list, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    CHECK_EQ_INT(c.n, 0);

    /* A ping refresh is a put of the whole record. */
    store_runner_t r1b = r1;
    r1b.last_ping_ts = 1700000009999;
    r1b.metadata = NULL;
    SS_DO(t, &c, store_runner_put(t->s, &r1b, ss_on_done, &c));
    SS_DO(t, &c, store_runner_get(t->s, "runner-b", ss_on_runner, &c));
    CHECK(c.has_record && ss_runner_eq(&c.runner, &r1b));

    /* A reconnect under a new id takes over the key; deleting the old id leaves the new one. */
    store_runner_t r5 = ss_runner("runner-e", "ns1", "pool", "key-1");
    SS_DO(t, &c, store_runner_put(t->s, &r5, ss_on_done, &c));
    SS_DO(t, &c, store_runner_find(t->s, "ns1", "pool", "key-1", ss_on_runner, &c));
    CHECK(c.has_record && ss_str_eq(c.runner.runner_id, "runner-e"));
    SS_DO(t, &c, store_runner_delete(t->s, "runner-b", ss_on_done, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    SS_DO(t, &c, store_runner_find(t->s, "ns1", "pool", "key-1", ss_on_runner, &c));
    CHECK(c.has_record && ss_str_eq(c.runner.runner_id, "runner-e"));
    SS_DO(t, &c, store_runner_get(t->s, "runner-b", ss_on_runner, &c));
    CHECK_EQ_INT(c.err, STORE_ENOTFOUND);
    SS_DO(t, &c, store_runner_delete(t->s, "runner-e", ss_on_done, &c));
    SS_DO(t, &c, store_runner_find(t->s, "ns1", "pool", "key-1", ss_on_runner, &c));
    CHECK_EQ_INT(c.err, STORE_ENOTFOUND);
    SS_DO(t, &c, store_runner_delete(t->s, "runner-e", ss_on_done, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    ss_reset(&c, t);
}

/* ---- KV. ---- */

static void ss_test_kv_get_put(ss_t *t)
{
    ss_call_t c = { 0 };
    t->now = 1700000000500;
    slice_t keys[] = { SS_B("k1"), SS_B("k2"), SS_B("empty") };
    slice_t vals[] = { SS_B("v1"), SS_B("\x00\x01\x02"), SS_B("") };
    ss_put(t, "actor", keys, vals, 3);

    /* Missing keys are left out; the rest come in request order. */
    slice_t want[] = { SS_B("k2"), SS_B("nope"), SS_B("k1"), SS_B("empty") };
    SS_DO(t, &c, store_kv_get(t->s, "actor", want, 4, ss_on_kv, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    CHECK(ss_keys_are(&c, 3, SS_B("k2"), SS_B("k1"), SS_B("empty")));
    if (c.nkv == 3) {
        CHECK(ss_val_is(&c.kv[0], SS_B("\x00\x01\x02")));
        CHECK(ss_val_is(&c.kv[1], SS_B("v1")));
        CHECK(ss_val_is(&c.kv[2], SS_B("")));
        CHECK_EQ_INT(c.kv[0].ts, 1700000000500);
        /* One put is one version. */
        CHECK(ss_same_version(&c.kv[0], &c.kv[1]));
    }

    /* Nothing requested, nothing stored: both are fine. */
    SS_DO(t, &c, store_kv_get(t->s, "actor", NULL, 0, ss_on_kv, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    CHECK_EQ_INT(c.nkv, 0);
    SS_DO(t, &c, store_kv_get(t->s, "nobody", want, 4, ss_on_kv, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    CHECK_EQ_INT(c.nkv, 0);

    /* An overwrite changes the value, the version and updateTs; other keys keep theirs. */
    SS_DO(t, &c, store_kv_get(t->s, "actor", keys, 2, ss_on_kv, &c));
    ss_kv_t before1 = c.kv[0], before2 = c.kv[1];
    c.nkv = 0;
    t->now = 1700000000900;
    slice_t k1[] = { SS_B("k1") };
    slice_t v1b[] = { SS_B("v1-second") };
    ss_put(t, "actor", k1, v1b, 1);
    SS_DO(t, &c, store_kv_get(t->s, "actor", keys, 2, ss_on_kv, &c));
    CHECK(ss_keys_are(&c, 2, SS_B("k1"), SS_B("k2")));
    if (c.nkv == 2) {
        CHECK(ss_val_is(&c.kv[0], SS_B("v1-second")));
        CHECK(!ss_same_version(&c.kv[0], &before1));
        CHECK_EQ_INT(c.kv[0].ts, 1700000000900);
        CHECK(ss_same_version(&c.kv[1], &before2));
        CHECK_EQ_INT(c.kv[1].ts, 1700000000500);
    }
    free(before1.key);
    free(before1.val);
    free(before2.key);
    free(before2.val);

    /* A key given twice in one put keeps its last value. */
    slice_t dk[] = { SS_B("dup"), SS_B("dup") };
    slice_t dv[] = { SS_B("first"), SS_B("last") };
    ss_put(t, "actor", dk, dv, 2);
    SS_DO(t, &c, store_kv_get(t->s, "actor", dk, 1, ss_on_kv, &c));
    CHECK(ss_keys_are(&c, 1, SS_B("dup")));
    if (c.nkv == 1)
        CHECK(ss_val_is(&c.kv[0], SS_B("last")));
    ss_reset(&c, t);
}

static void ss_test_kv_list(ss_t *t)
{
    ss_call_t c = { 0 };
    ss_put_alphabet(t, "actor");
    ss_list(t, &c, "actor", ss_all());
    CHECK(ss_keys_are(&c, 12, SS_B("\x00"), SS_B("a"), SS_B("a\x00"), SS_B("ab"), SS_B("abc"),
                      SS_B("abd"), SS_B("a\xff"), SS_B("a\xff\xff"), SS_B("b"), SS_B("c"),
                      SS_B("\x80"), SS_B("\xff")));
    for (size_t i = 0; i < c.nkv; i++)
        CHECK(c.kv[i].vlen == c.kv[i].klen && memcmp(c.kv[i].val, c.kv[i].key, c.kv[i].klen) == 0);

    /* Ranges: inclusive and exclusive ends, bounds that are not keys, empty and inverted. */
    ss_list(t, &c, "actor", ss_range(SS_B("ab"), SS_B("b"), false));
    CHECK(ss_keys_are(&c, 6, SS_B("ab"), SS_B("abc"), SS_B("abd"), SS_B("a\xff"), SS_B("a\xff\xff"),
                      SS_B("b")));
    ss_list(t, &c, "actor", ss_range(SS_B("ab"), SS_B("b"), true));
    CHECK(
        ss_keys_are(&c, 5, SS_B("ab"), SS_B("abc"), SS_B("abd"), SS_B("a\xff"), SS_B("a\xff\xff")));
    ss_list(t, &c, "actor", ss_range(SS_B("ab"), SS_B("abd"), true));
    CHECK(ss_keys_are(&c, 2, SS_B("ab"), SS_B("abc")));
    ss_list(t, &c, "actor", ss_range(SS_B("aa"), SS_B("abcd"), false));
    CHECK(ss_keys_are(&c, 2, SS_B("ab"), SS_B("abc")));
    ss_list(t, &c, "actor", ss_range(SS_B("abc"), SS_B("abc"), false));
    CHECK(ss_keys_are(&c, 1, SS_B("abc")));
    ss_list(t, &c, "actor", ss_range(SS_B("abc"), SS_B("abc"), true));
    CHECK(ss_keys_are(&c, 0));
    ss_list(t, &c, "actor", ss_range(SS_B("b"), SS_B("a"), false));
    CHECK(ss_keys_are(&c, 0));
    ss_list(t, &c, "actor", ss_range(SS_B(""), SS_B("a"), false));
    CHECK(ss_keys_are(&c, 2, SS_B("\x00"), SS_B("a")));
    ss_list(t, &c, "actor", ss_range(SS_B("c"), SS_B("\xff\xff"), true));
    CHECK(ss_keys_are(&c, 3, SS_B("c"), SS_B("\x80"), SS_B("\xff")));

    /* Prefixes are byte prefixes, including 0x00 and 0xff bytes. */
    ss_list(t, &c, "actor", ss_prefix(SS_B("ab")));
    CHECK(ss_keys_are(&c, 3, SS_B("ab"), SS_B("abc"), SS_B("abd")));
    ss_list(t, &c, "actor", ss_prefix(SS_B("a")));
    CHECK(ss_keys_are(&c, 7, SS_B("a"), SS_B("a\x00"), SS_B("ab"), SS_B("abc"), SS_B("abd"),
                      SS_B("a\xff"), SS_B("a\xff\xff")));
    ss_list(t, &c, "actor", ss_prefix(SS_B("a\xff")));
    CHECK(ss_keys_are(&c, 2, SS_B("a\xff"), SS_B("a\xff\xff")));
    ss_list(t, &c, "actor", ss_prefix(SS_B("a\x00")));
    CHECK(ss_keys_are(&c, 1, SS_B("a\x00")));
    ss_list(t, &c, "actor", ss_prefix(SS_B("\xff")));
    CHECK(ss_keys_are(&c, 1, SS_B("\xff")));
    ss_list(t, &c, "actor", ss_prefix(SS_B("abcd")));
    CHECK(ss_keys_are(&c, 0));
    ss_list(t, &c, "actor", ss_prefix(SS_B("")));
    CHECK_EQ_INT(c.nkv, 12);

    /* Reverse, limit, and both; the limit keeps the first keys in the order listed. */
    store_kv_query_t q = ss_all();
    q.reverse = true;
    ss_list(t, &c, "actor", q);
    CHECK_EQ_INT(c.nkv, 12);
    if (c.nkv == 12)
        CHECK(c.kv[0].klen == 1 && c.kv[0].key[0] == 0xff && c.kv[11].key[0] == 0x00);
    q = ss_all();
    q.has_limit = true;
    q.limit = 2;
    ss_list(t, &c, "actor", q);
    CHECK(ss_keys_are(&c, 2, SS_B("\x00"), SS_B("a")));
    q.reverse = true;
    ss_list(t, &c, "actor", q);
    CHECK(ss_keys_are(&c, 2, SS_B("\xff"), SS_B("\x80")));
    q.limit = 0;
    ss_list(t, &c, "actor", q);
    CHECK(ss_keys_are(&c, 0));
    q = ss_prefix(SS_B("a"));
    q.reverse = true;
    q.has_limit = true;
    q.limit = 3;
    ss_list(t, &c, "actor", q);
    CHECK(ss_keys_are(&c, 3, SS_B("a\xff\xff"), SS_B("a\xff"), SS_B("abd")));
    q = ss_range(SS_B("a"), SS_B("b"), true);
    q.reverse = true;
    q.has_limit = true;
    q.limit = 100;
    ss_list(t, &c, "actor", q);
    CHECK(ss_keys_are(&c, 7, SS_B("a\xff\xff"), SS_B("a\xff"), SS_B("abd"), SS_B("abc"), SS_B("ab"),
                      SS_B("a\x00"), SS_B("a")));

    /* Lists of an actor with no KV are empty. */
    ss_list(t, &c, "nobody", ss_all());
    CHECK(ss_keys_are(&c, 0));
    ss_reset(&c, t);
}

static void ss_test_kv_default_limit(ss_t *t)
{
    ss_call_t c = { 0 };
    enum { TOTAL = STORE_KV_DEFAULT_LIST_LIMIT + 10 };
    uint8_t(*raw)[4] = sx_malloc(TOTAL * sizeof *raw);
    slice_t keys[STORE_KV_MAX_KEYS], vals[STORE_KV_MAX_KEYS];
    for (size_t i = 0; i < TOTAL; i++) {
        raw[i][0] = (uint8_t)(i >> 24);
        raw[i][1] = (uint8_t)(i >> 16);
        raw[i][2] = (uint8_t)(i >> 8);
        raw[i][3] = (uint8_t)i;
    }
    /* Put in descending batches so that the store has to order them. */
    for (size_t done = 0; done < TOTAL;) {
        size_t n = TOTAL - done < STORE_KV_MAX_KEYS ? TOTAL - done : STORE_KV_MAX_KEYS;
        for (size_t i = 0; i < n; i++) {
            keys[i] = (slice_t){ raw[TOTAL - 1 - done - i], 4 };
            vals[i] = SS_B("v");
        }
        ss_put(t, "big", keys, vals, n);
        done += n;
    }
    ss_list(t, &c, "big", ss_all());
    CHECK_EQ_INT(c.nkv, STORE_KV_DEFAULT_LIST_LIMIT);
    bool ordered = c.nkv > 0 && c.kv[0].klen == 4 && memcmp(c.kv[0].key, raw[0], 4) == 0;
    for (size_t i = 1; ordered && i < c.nkv; i++)
        ordered = c.kv[i].klen == 4 && memcmp(c.kv[i].key, raw[i], 4) == 0;
    CHECK(ordered);

    store_kv_query_t q = ss_all();
    q.reverse = true;
    ss_list(t, &c, "big", q);
    CHECK_EQ_INT(c.nkv, STORE_KV_DEFAULT_LIST_LIMIT);
    if (c.nkv)
        CHECK(memcmp(c.kv[0].key, raw[TOTAL - 1], 4) == 0 &&
              memcmp(c.kv[c.nkv - 1].key, raw[10], 4) == 0);

    q = ss_all();
    q.has_limit = true;
    q.limit = UINT64_MAX;
    ss_list(t, &c, "big", q);
    CHECK_EQ_INT(c.nkv, TOTAL);
    free(raw);
    ss_reset(&c, t);
}

static void ss_test_kv_delete(ss_t *t)
{
    ss_call_t c = { 0 };
    ss_put_alphabet(t, "actor");
    slice_t del[] = { SS_B("a"), SS_B("missing"), SS_B("\xff") };
    SS_DO(t, &c, store_kv_delete(t->s, "actor", del, 3, ss_on_kv, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    CHECK_EQ_INT(c.nkv, 0);
    SS_DO(t, &c, store_kv_get(t->s, "actor", del, 3, ss_on_kv, &c));
    CHECK(ss_keys_are(&c, 0));
    ss_list(t, &c, "actor", ss_all());
    CHECK_EQ_INT(c.nkv, 10);

    /* deleteRange is [start, end). */
    SS_DO(t, &c, store_kv_delete_range(t->s, "actor", SS_B("ab"), SS_B("a\xff"), ss_on_kv, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    ss_list(t, &c, "actor", ss_all());
    CHECK(ss_keys_are(&c, 7, SS_B("\x00"), SS_B("a\x00"), SS_B("a\xff"), SS_B("a\xff\xff"),
                      SS_B("b"), SS_B("c"), SS_B("\x80")));

    /* start >= end is a no-op, not an error. */
    SS_DO(t, &c, store_kv_delete_range(t->s, "actor", SS_B("c"), SS_B("b"), ss_on_kv, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    SS_DO(t, &c, store_kv_delete_range(t->s, "actor", SS_B("b"), SS_B("b"), ss_on_kv, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    SS_DO(t, &c, store_kv_delete_range(t->s, "actor", SS_B("\xff"), SS_B(""), ss_on_kv, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    SS_DO(t, &c, store_kv_delete_range(t->s, "actor", SS_B("abd"), SS_B("ab"), ss_on_kv, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    ss_list(t, &c, "actor", ss_all());
    CHECK_EQ_INT(c.nkv, 7);

    /* A range reaching past the last key, and one starting at the empty key. */
    SS_DO(t, &c, store_kv_delete_range(t->s, "actor", SS_B("c"), SS_B("\xff\xff"), ss_on_kv, &c));
    ss_list(t, &c, "actor", ss_all());
    CHECK(ss_keys_are(&c, 5, SS_B("\x00"), SS_B("a\x00"), SS_B("a\xff"), SS_B("a\xff\xff"),
                      SS_B("b")));
    SS_DO(t, &c, store_kv_delete_range(t->s, "actor", SS_B(""), SS_B("a"), ss_on_kv, &c));
    ss_list(t, &c, "actor", ss_all());
    CHECK(ss_keys_are(&c, 4, SS_B("a\x00"), SS_B("a\xff"), SS_B("a\xff\xff"), SS_B("b")));

    /* On an actor with no KV, every delete succeeds. */
    SS_DO(t, &c, store_kv_delete(t->s, "nobody", del, 3, ss_on_kv, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    SS_DO(t, &c, store_kv_delete_range(t->s, "nobody", SS_B("a"), SS_B("z"), ss_on_kv, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    SS_DO(t, &c, store_kv_drop(t->s, "nobody", ss_on_kv, &c));
    CHECK_EQ_INT(c.err, STORE_OK);

    /* Deleting every key leaves an actor that can be written again. */
    SS_DO(t, &c, store_kv_delete_range(t->s, "actor", SS_B(""), SS_B("\xff"), ss_on_kv, &c));
    ss_list(t, &c, "actor", ss_all());
    CHECK(ss_keys_are(&c, 0));
    slice_t k[] = { SS_B("again") };
    ss_put(t, "actor", k, k, 1);
    ss_list(t, &c, "actor", ss_all());
    CHECK(ss_keys_are(&c, 1, SS_B("again")));
    ss_reset(&c, t);
}

static void ss_test_kv_isolation_and_drop(ss_t *t)
{
    ss_call_t c = { 0 };
    slice_t keys[] = { SS_B("shared"), SS_B("x") };
    slice_t va[] = { SS_B("from-a"), SS_B("xa") };
    slice_t vb[] = { SS_B("from-b"), SS_B("xb") };
    ss_put(t, "actor-a", keys, va, 2);
    ss_put(t, "actor-b", keys, vb, 2);
    /* An actor id that prefixes another must not see its keys. */
    ss_put(t, "actor", keys, va, 1);

    SS_DO(t, &c, store_kv_get(t->s, "actor-b", keys, 1, ss_on_kv, &c));
    CHECK(ss_keys_are(&c, 1, SS_B("shared")));
    if (c.nkv == 1)
        CHECK(ss_val_is(&c.kv[0], SS_B("from-b")));
    ss_list(t, &c, "actor", ss_all());
    CHECK(ss_keys_are(&c, 1, SS_B("shared")));

    SS_DO(t, &c, store_kv_delete_range(t->s, "actor-a", SS_B(""), SS_B("y"), ss_on_kv, &c));
    ss_list(t, &c, "actor-a", ss_all());
    CHECK(ss_keys_are(&c, 0));
    ss_list(t, &c, "actor-b", ss_all());
    CHECK(ss_keys_are(&c, 2, SS_B("shared"), SS_B("x")));

    ss_put(t, "actor-a", keys, va, 2);
    SS_DO(t, &c, store_kv_drop(t->s, "actor-b", ss_on_kv, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    CHECK_EQ_INT(c.nkv, 0);
    ss_list(t, &c, "actor-b", ss_all());
    CHECK(ss_keys_are(&c, 0));
    SS_DO(t, &c, store_kv_get(t->s, "actor-b", keys, 2, ss_on_kv, &c));
    CHECK(ss_keys_are(&c, 0));
    ss_list(t, &c, "actor-a", ss_all());
    CHECK(ss_keys_are(&c, 2, SS_B("shared"), SS_B("x")));
    ss_list(t, &c, "actor", ss_all());
    CHECK(ss_keys_are(&c, 1, SS_B("shared")));
    ss_reset(&c, t);
}

/* Expects the KV call in c to have failed with err and a message containing want. */
static bool ss_refused(const ss_call_t *c, int err, const char *want)
{
    bool ok = c->err == err && c->has_msg && strstr(c->msg, want) != NULL && c->nkv == 0;
    if (!ok)
        fprintf(stderr, "store suite: got err %d msg \"%s\", expected err %d with \"%s\"\n", c->err,
                c->has_msg ? c->msg : "(none)", err, want);
    return ok;
}

static void ss_test_kv_limits(ss_t *t)
{
    ss_call_t c = { 0 };
    uint8_t *big = sx_calloc(1, STORE_KV_MAX_PUT_PAYLOAD + 2);
    memset(big, 'k', STORE_KV_MAX_PUT_PAYLOAD + 1);
    slice_t key2048 = { big, STORE_KV_MAX_KEY }, key2049 = { big, STORE_KV_MAX_KEY + 1 };
    slice_t val = SS_B("v");

    /* Key size: 2048 is fine everywhere, 2049 is refused everywhere. */
    SS_DO(t, &c, store_kv_put(t->s, "a", &key2048, 1, &val, 1, ss_on_kv, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    SS_DO(t, &c, store_kv_get(t->s, "a", &key2048, 1, ss_on_kv, &c));
    CHECK_EQ_INT(c.nkv, 1);
    SS_DO(t, &c, store_kv_put(t->s, "a", &key2049, 1, &val, 1, ss_on_kv, &c));
    CHECK(ss_refused(&c, STORE_ELIMIT, "key too large: 2049 bytes (max 2048)"));
    SS_DO(t, &c, store_kv_get(t->s, "a", &key2049, 1, ss_on_kv, &c));
    CHECK(ss_refused(&c, STORE_ELIMIT, "2049"));
    SS_DO(t, &c, store_kv_delete(t->s, "a", &key2049, 1, ss_on_kv, &c));
    CHECK(ss_refused(&c, STORE_ELIMIT, "2049"));
    SS_DO(t, &c, store_kv_delete_range(t->s, "a", key2049, SS_B("z"), ss_on_kv, &c));
    CHECK(ss_refused(&c, STORE_ELIMIT, "start key"));
    SS_DO(t, &c, store_kv_delete_range(t->s, "a", SS_B(""), key2049, ss_on_kv, &c));
    CHECK(ss_refused(&c, STORE_ELIMIT, "end key"));
    store_kv_query_t q = ss_prefix(key2049);
    SS_DO(t, &c, store_kv_list(t->s, "a", &q, ss_on_kv, &c));
    CHECK(ss_refused(&c, STORE_ELIMIT, "prefix key"));
    q = ss_range(SS_B(""), key2049, false);
    SS_DO(t, &c, store_kv_list(t->s, "a", &q, ss_on_kv, &c));
    CHECK(ss_refused(&c, STORE_ELIMIT, "end key"));
    q = ss_prefix(key2048);
    SS_DO(t, &c, store_kv_list(t->s, "a", &q, ss_on_kv, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    CHECK_EQ_INT(c.nkv, 1);

    /* Key count: 128 is fine, 129 is refused, for get, put and delete. */
    slice_t keys[STORE_KV_MAX_KEYS + 1], vals[STORE_KV_MAX_KEYS + 1];
    uint8_t names[STORE_KV_MAX_KEYS + 1][2];
    for (size_t i = 0; i <= STORE_KV_MAX_KEYS; i++) {
        names[i][0] = 'n';
        names[i][1] = (uint8_t)i;
        keys[i] = (slice_t){ names[i], 2 };
        vals[i] = val;
    }
    SS_DO(t, &c, store_kv_put(t->s, "a", keys, 128, vals, 128, ss_on_kv, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    SS_DO(t, &c, store_kv_get(t->s, "a", keys, 128, ss_on_kv, &c));
    CHECK_EQ_INT(c.nkv, 128);
    SS_DO(t, &c, store_kv_put(t->s, "a", keys, 129, vals, 129, ss_on_kv, &c));
    CHECK(ss_refused(&c, STORE_ELIMIT, "too many keys: 129 (max 128)"));
    SS_DO(t, &c, store_kv_get(t->s, "a", keys, 129, ss_on_kv, &c));
    CHECK(ss_refused(&c, STORE_ELIMIT, "129"));
    SS_DO(t, &c, store_kv_delete(t->s, "a", keys, 129, ss_on_kv, &c));
    CHECK(ss_refused(&c, STORE_ELIMIT, "129"));
    SS_DO(t, &c, store_kv_delete(t->s, "a", keys, 128, ss_on_kv, &c));
    CHECK_EQ_INT(c.err, STORE_OK);

    /* Keys and values must pair up. */
    SS_DO(t, &c, store_kv_put(t->s, "a", keys, 2, vals, 1, ss_on_kv, &c));
    CHECK(ss_refused(&c, STORE_EINVAL, "2 keys, 1 values"));

    /* Value size: 128 KiB is fine, one byte more is refused. */
    slice_t k = SS_B("value");
    slice_t v = { big, STORE_KV_MAX_VALUE };
    SS_DO(t, &c, store_kv_put(t->s, "a", &k, 1, &v, 1, ss_on_kv, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    SS_DO(t, &c, store_kv_get(t->s, "a", &k, 1, ss_on_kv, &c));
    CHECK(c.nkv == 1 && c.kv[0].vlen == STORE_KV_MAX_VALUE);
    v.len++;
    SS_DO(t, &c, store_kv_put(t->s, "a", &k, 1, &v, 1, ss_on_kv, &c));
    CHECK(ss_refused(&c, STORE_ELIMIT, "value too large: 131073 bytes (max 131072)"));

    /* Put payload (keys plus values): exactly 976 KiB is fine, one byte more is refused, and a
     * refused put writes nothing. */
    slice_t pk[8], pv[8];
    uint8_t pnames[8] = { '0', '1', '2', '3', '4', '5', '6', '7' };
    size_t left = STORE_KV_MAX_PUT_PAYLOAD;
    for (size_t i = 0; i < 8; i++) {
        pk[i] = (slice_t){ &pnames[i], 1 };
        left -= 1;
    }
    for (size_t i = 0; i < 8; i++) {
        size_t len = left < STORE_KV_MAX_VALUE ? left : STORE_KV_MAX_VALUE;
        pv[i] = (slice_t){ big, len };
        left -= len;
    }
    CHECK_EQ_INT(left, 0);
    SS_DO(t, &c, store_kv_put(t->s, "p", pk, 8, pv, 8, ss_on_kv, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    SS_DO(t, &c, store_kv_drop(t->s, "p", ss_on_kv, &c));
    pv[7].len++;
    SS_DO(t, &c, store_kv_put(t->s, "p", pk, 8, pv, 8, ss_on_kv, &c));
    CHECK(ss_refused(&c, STORE_ELIMIT, "put payload too large: 999425 bytes (max 999424)"));
    ss_list(t, &c, "p", ss_all());
    CHECK(ss_keys_are(&c, 0));
    free(big);
    ss_reset(&c, t);
}

static void ss_test_kv_quota(ss_t *t)
{
    ss_call_t c = { 0 };
    store_kv_limits_t lim = *store_kv_limits(t->s);
    CHECK_EQ_INT(lim.max_storage, STORE_KV_MAX_STORAGE);
    CHECK_EQ_INT(lim.default_list_limit, STORE_KV_DEFAULT_LIST_LIMIT);
    lim.max_storage = 1000;
    store_set_kv_limits(t->s, &lim);

    uint8_t buf[1000];
    memset(buf, 'q', sizeof buf);
    slice_t k1 = SS_B("k1"), k2 = SS_B("k2"), k3 = SS_B("k3");
    slice_t v598 = { buf, 598 }, v500 = { buf, 500 }, v398 = { buf, 398 };
    SS_DO(t, &c, store_kv_put(t->s, "q", &k1, 1, &v598, 1, ss_on_kv, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    SS_DO(t, &c, store_kv_put(t->s, "q", &k2, 1, &v500, 1, ss_on_kv, &c));
    CHECK(ss_refused(&c, STORE_ELIMIT, "storage quota exceeded"));
    SS_DO(t, &c, store_kv_get(t->s, "q", &k2, 1, ss_on_kv, &c));
    CHECK_EQ_INT(c.nkv, 0);
    /* Reaching the quota exactly is allowed; the quota is per actor. */
    SS_DO(t, &c, store_kv_put(t->s, "q", &k2, 1, &v398, 1, ss_on_kv, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    SS_DO(t, &c, store_kv_put(t->s, "other", &k2, 1, &v500, 1, ss_on_kv, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    slice_t tiny = SS_B("");
    SS_DO(t, &c, store_kv_put(t->s, "q", &k3, 1, &tiny, 1, ss_on_kv, &c));
    CHECK(ss_refused(&c, STORE_ELIMIT, "storage quota exceeded"));
    /* Deletes give the space back. */
    SS_DO(t, &c, store_kv_delete(t->s, "q", &k1, 1, ss_on_kv, &c));
    SS_DO(t, &c, store_kv_put(t->s, "q", &k3, 1, &v500, 1, ss_on_kv, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    SS_DO(t, &c, store_kv_drop(t->s, "q", ss_on_kv, &c));
    SS_DO(t, &c, store_kv_put(t->s, "q", &k1, 1, &v598, 1, ss_on_kv, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    ss_reset(&c, t);
}

/* ---- Hibernating rows. ---- */

static store_hib_row_t ss_row(const char *actor, uint8_t gw, uint8_t req, int64_t ts)
{
    store_hib_row_t r = { actor, { gw, 0, 0, gw }, { req, 1, 2, req }, ts };
    return r;
}

static bool ss_row_is(const store_hib_row_t *r, uint8_t gw, uint8_t req, int64_t ts)
{
    store_hib_row_t want = ss_row(NULL, gw, req, ts);
    return memcmp(r->gateway_id, want.gateway_id, 4) == 0 &&
           memcmp(r->request_id, want.request_id, 4) == 0 && r->last_ping_ts == ts;
}

static void ss_test_hibernating_rows(ss_t *t)
{
    ss_call_t c = { 0 };
    const int64_t ttl = 90000;
    /* Real epoch times, so that a store deriving Redis expiry from the clock sees live rows. */
    const int64_t T0 = 1700000000000;
    t->now = T0;
    store_hib_row_t batch[] = { ss_row("actor-a", 1, 1, T0), ss_row("actor-a", 1, 2, T0 - 1000),
                                ss_row("actor-b", 1, 1, T0), ss_row("actor-a", 2, 1, T0) };
    SS_DO(t, &c, store_hib_upsert(t->s, batch, 4, ttl, ss_on_done, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    SS_DO(t, &c, store_hib_upsert(t->s, NULL, 0, ttl, ss_on_done, &c));
    CHECK_EQ_INT(c.err, STORE_OK);

    SS_DO(t, &c, store_hib_list(t->s, "actor-a", 0, ss_on_hib_list, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    CHECK_EQ_INT(c.n, 3);
    CHECK(c.n == 0 || ss_str_eq(c.hib_actor, "actor-a"));
    if (c.n == 3) {
        store_hib_row_t *r = c.items;
        CHECK(ss_row_is(&r[0], 1, 2, T0 - 1000));
        CHECK(ss_row_is(&r[1], 1, 1, T0));
        CHECK(ss_row_is(&r[2], 2, 1, T0));
    }
    SS_DO(t, &c, store_hib_list(t->s, "actor-b", 0, ss_on_hib_list, &c));
    CHECK_EQ_INT(c.n, 1);
    SS_DO(t, &c, store_hib_list(t->s, "actor-c", 0, ss_on_hib_list, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    CHECK_EQ_INT(c.n, 0);

    /* A refresh moves the row's timestamp; it never duplicates the row. */
    t->now = T0 + 45000;
    store_hib_row_t refresh[] = { ss_row("actor-a", 1, 2, T0 + 45000) };
    SS_DO(t, &c, store_hib_upsert(t->s, refresh, 1, ttl, ss_on_done, &c));
    SS_DO(t, &c, store_hib_list(t->s, "actor-a", 0, ss_on_hib_list, &c));
    CHECK_EQ_INT(c.n, 3);
    if (c.n == 3)
        CHECK(ss_row_is(&((store_hib_row_t *)c.items)[2], 1, 2, T0 + 45000));

    /* The threshold is inclusive: rows pinged at min_ts or later are listed. */
    SS_DO(t, &c, store_hib_list(t->s, "actor-a", T0 + 1, ss_on_hib_list, &c));
    CHECK_EQ_INT(c.n, 1);
    SS_DO(t, &c, store_hib_list(t->s, "actor-a", T0, ss_on_hib_list, &c));
    CHECK_EQ_INT(c.n, 3);
    SS_DO(t, &c, store_hib_list(t->s, "actor-a", T0 + 45001, ss_on_hib_list, &c));
    CHECK_EQ_INT(c.n, 0);

    /* Delete removes one row; an unknown row or actor is fine. */
    SS_DO(t, &c,
          store_hib_delete(t->s, "actor-a", batch[0].gateway_id, batch[0].request_id, ss_on_done,
                           &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    SS_DO(t, &c,
          store_hib_delete(t->s, "actor-a", batch[0].gateway_id, batch[0].request_id, ss_on_done,
                           &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    SS_DO(t, &c,
          store_hib_delete(t->s, "actor-z", batch[0].gateway_id, batch[0].request_id, ss_on_done,
                           &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    SS_DO(t, &c, store_hib_list(t->s, "actor-a", 0, ss_on_hib_list, &c));
    CHECK_EQ_INT(c.n, 2);
    if (c.n == 2) {
        CHECK(ss_row_is(&((store_hib_row_t *)c.items)[0], 2, 1, T0));
        CHECK(ss_row_is(&((store_hib_row_t *)c.items)[1], 1, 2, T0 + 45000));
    }
    SS_DO(t, &c, store_hib_list(t->s, "actor-b", 0, ss_on_hib_list, &c));
    CHECK_EQ_INT(c.n, 1);

    /* A big batch, as one keepalive tick of a busy gateway would send. */
    enum { MANY = 1000 };
    store_hib_row_t *many = sx_malloc(MANY * sizeof *many);
    for (int i = 0; i < MANY; i++) {
        many[i] = ss_row("actor-m", (uint8_t)(i >> 8), (uint8_t)i, T0 + 45000 + i % 7);
    }
    SS_DO(t, &c, store_hib_upsert(t->s, many, MANY, ttl, ss_on_done, &c));
    CHECK_EQ_INT(c.err, STORE_OK);
    SS_DO(t, &c, store_hib_list(t->s, "actor-m", T0 + 45006, ss_on_hib_list, &c));
    CHECK_EQ_INT(c.n, MANY / 7);
    SS_DO(t, &c, store_hib_list(t->s, "actor-m", 0, ss_on_hib_list, &c));
    CHECK_EQ_INT(c.n, MANY);
    bool sorted = true;
    for (size_t i = 1; i < c.n; i++)
        sorted = sorted && ((store_hib_row_t *)c.items)[i - 1].last_ping_ts <=
                               ((store_hib_row_t *)c.items)[i].last_ping_ts;
    CHECK(sorted);
    free(many);
    ss_reset(&c, t);
}

/* ---- Completion timing, ordering, refusals and close. ---- */

typedef struct ss_chain {
    ss_t *t;
    int step;
    ss_call_t inner;
} ss_chain_t;

static void ss_chain_on_put(void *ud, int err, const store_kv_res_t *res)
{
    ss_chain_t *ch = ud;
    CHECK_EQ_INT(err, STORE_OK);
    ch->step = 1;
    /* Submitting from a callback must not complete inline either. */
    slice_t k = SS_B("chained");
    ss_reset(&ch->inner, ch->t);
    store_kv_get(ch->t->s, "actor", &k, 1, ss_on_kv, &ch->inner);
    CHECK(ch->inner.calls == 0);
    ch->step = 2;
}

static void ss_test_ordering(ss_t *t)
{
    /* Operations submitted together apply in submission order: the get sees the put, the list
     * sees the delete, and the callbacks run in the same order. */
    ss_call_t put = { 0 }, get = { 0 }, del = { 0 }, list = { 0 };
    ss_reset(&put, t);
    ss_reset(&get, t);
    ss_reset(&del, t);
    ss_reset(&list, t);
    slice_t keys[] = { SS_B("one"), SS_B("two") };
    store_kv_query_t q = ss_all();
    store_kv_put(t->s, "actor", keys, 2, keys, 2, ss_on_kv, &put);
    store_kv_get(t->s, "actor", keys, 2, ss_on_kv, &get);
    store_kv_delete(t->s, "actor", keys, 1, ss_on_kv, &del);
    store_kv_list(t->s, "actor", &q, ss_on_kv, &list);
    CHECK(put.calls == 0 && get.calls == 0 && del.calls == 0 && list.calls == 0);
    CHECK(ss_wait(t, &list));
    CHECK(put.calls == 1 && get.calls == 1 && del.calls == 1 && list.calls == 1);
    CHECK(put.order < get.order && get.order < del.order && del.order < list.order);
    CHECK_EQ_INT(get.nkv, 2);
    CHECK(ss_keys_are(&list, 1, SS_B("two")));
    ss_reset(&put, t);
    ss_reset(&get, t);
    ss_reset(&del, t);
    ss_reset(&list, t);

    ss_chain_t ch = { t, 0, { 0 } };
    ss_reset(&ch.inner, t);
    slice_t k = SS_B("chained");
    store_kv_put(t->s, "actor", &k, 1, &k, 1, ss_chain_on_put, &ch);
    CHECK_EQ_INT(ch.step, 0);
    t->timed_out = false;
    uv_timer_start(&t->watchdog, ss_on_watchdog, 10000, 0);
    while ((ch.step < 2 || ch.inner.calls == 0) && !t->timed_out)
        uv_run(&t->loop, UV_RUN_ONCE);
    uv_timer_stop(&t->watchdog);
    CHECK_EQ_INT(ch.inner.calls, 1);
    CHECK(ss_keys_are(&ch.inner, 1, SS_B("chained")));
    ss_reset(&ch.inner, t);
}

static void ss_test_refusals(ss_t *t)
{
    ss_call_t c = { 0 };
    store_actor_t a = ss_actor("id", "ns", "name", NULL);
    a.name = NULL;
    SS_DO(t, &c, store_actor_put(t->s, &a, ss_on_done, &c));
    CHECK_EQ_INT(c.err, STORE_EINVAL);
    SS_DO(t, &c, store_actor_create(t->s, &a, ss_on_actor, &c));
    CHECK_EQ_INT(c.err, STORE_EINVAL);
    CHECK(!c.has_record);
    a = ss_actor("id", "ns", "name", NULL);
    a.crash_policy = (store_crash_policy_t)7;
    SS_DO(t, &c, store_actor_put(t->s, &a, ss_on_done, &c));
    CHECK_EQ_INT(c.err, STORE_EINVAL);
    SS_DO(t, &c, store_actor_get(t->s, NULL, ss_on_actor, &c));
    CHECK_EQ_INT(c.err, STORE_EINVAL);
    SS_DO(t, &c, store_actor_find(t->s, "ns", "name", NULL, ss_on_actor, &c));
    CHECK_EQ_INT(c.err, STORE_EINVAL);
    store_runner_t r = ss_runner("r", "ns", "name", NULL);
    SS_DO(t, &c, store_runner_put(t->s, &r, ss_on_done, &c));
    CHECK_EQ_INT(c.err, STORE_EINVAL);
    SS_DO(t, &c, store_runner_list(t->s, NULL, NULL, ss_on_runner_list, &c));
    CHECK_EQ_INT(c.err, STORE_EINVAL);
    store_ns_t ns = { NULL, (char *)"n", 0 };
    SS_DO(t, &c, store_ns_put(t->s, &ns, ss_on_done, &c));
    CHECK_EQ_INT(c.err, STORE_EINVAL);
    SS_DO(t, &c, store_kv_drop(t->s, NULL, ss_on_kv, &c));
    CHECK(ss_refused(&c, STORE_EINVAL, "actor id"));
    store_kv_query_t q = ss_all();
    q.kind = (store_kv_query_kind_t)9;
    SS_DO(t, &c, store_kv_list(t->s, "a", &q, ss_on_kv, &c));
    CHECK(ss_refused(&c, STORE_EINVAL, "query"));
    store_hib_row_t row = ss_row(NULL, 1, 1, 1);
    SS_DO(t, &c, store_hib_upsert(t->s, &row, 1, 1000, ss_on_done, &c));
    CHECK_EQ_INT(c.err, STORE_EINVAL);
    row.actor_id = "a";
    SS_DO(t, &c, store_hib_upsert(t->s, &row, 1, 0, ss_on_done, &c));
    CHECK_EQ_INT(c.err, STORE_EINVAL);
    ss_reset(&c, t);

    for (int e = STORE_EUNAVAILABLE; e <= STORE_OK; e++)
        CHECK(store_strerror(e) != NULL && strcmp(store_strerror(e), "unknown store error") != 0);
    CHECK(strcmp(store_strerror(-99), "unknown store error") == 0);
}

typedef struct ss_closing {
    ss_t *t;
    ss_call_t before[3];
    ss_call_t after;
    bool closed;
    int order_at_close;
} ss_closing_t;

static void ss_on_closed_test(void *ud)
{
    ss_closing_t *cl = ud;
    cl->closed = true;
    cl->order_at_close = cl->t->order;
}

static void ss_test_close(ss_t *t)
{
    ss_closing_t cl;
    memset(&cl, 0, sizeof cl);
    cl.t = t;
    for (int i = 0; i < 3; i++)
        ss_reset(&cl.before[i], t);
    ss_reset(&cl.after, t);
    slice_t k = SS_B("k");
    store_ns_t ns = { (char *)"id", (char *)"n", 1 };
    store_kv_put(t->s, "a", &k, 1, &k, 1, ss_on_kv, &cl.before[0]);
    store_ns_put(t->s, &ns, ss_on_done, &cl.before[1]);
    store_kv_get(t->s, "a", &k, 1, ss_on_kv, &cl.before[2]);
    store_close(t->s, ss_on_closed_test, &cl);
    CHECK(!cl.closed);
    store_kv_get(t->s, "a", &k, 1, ss_on_kv, &cl.after);
    CHECK_EQ_INT(cl.after.calls, 0);
    t->timed_out = false;
    uv_timer_start(&t->watchdog, ss_on_watchdog, 10000, 0);
    while (!cl.closed && !t->timed_out)
        uv_run(&t->loop, UV_RUN_ONCE);
    uv_timer_stop(&t->watchdog);
    CHECK(cl.closed);
    /* Every callback ran once, before close_cb; pending work finished or was refused. */
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(cl.before[i].calls, 1);
        CHECK(cl.before[i].err == STORE_OK || cl.before[i].err == STORE_EUNAVAILABLE);
    }
    CHECK_EQ_INT(cl.after.calls, 1);
    CHECK(ss_refused(&cl.after, STORE_EUNAVAILABLE, "closing"));
    CHECK_EQ_INT(cl.order_at_close, 4);
    for (int i = 0; i < 3; i++)
        ss_reset(&cl.before[i], t);
    ss_reset(&cl.after, t);
    t->s = NULL;
    t->closed = true;
}

/* ---- The runner. ---- */

typedef struct ss_test {
    const char *name;
    void (*fn)(ss_t *t);
} ss_test_t;

static void ss_on_store_closed(void *ud)
{
    ((ss_t *)ud)->closed = true;
}

static void ss_walk_close(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static int store_suite_run(store_suite_make_fn make, void *arg)
{
    static const ss_test_t tests[] = {
        { "namespaces", ss_test_namespaces },
        { "actors", ss_test_actors },
        { "actor_create", ss_test_actor_create },
        { "runners", ss_test_runners },
        { "kv_get_put", ss_test_kv_get_put },
        { "kv_list", ss_test_kv_list },
        { "kv_default_limit", ss_test_kv_default_limit },
        { "kv_delete", ss_test_kv_delete },
        { "kv_isolation_and_drop", ss_test_kv_isolation_and_drop },
        { "kv_limits", ss_test_kv_limits },
        { "kv_quota", ss_test_kv_quota },
        { "hibernating_rows", ss_test_hibernating_rows },
        { "ordering", ss_test_ordering },
        { "refusals", ss_test_refusals },
        { "close", ss_test_close },
    };
    int failed_before = t_fail;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        int fails = t_fail;
        ss_t *t = sx_calloc(1, sizeof *t);
        uv_loop_init(&t->loop);
        uv_timer_init(&t->loop, &t->watchdog);
        t->watchdog.data = t;
        t->now = 1700000000000;
        t->s = make(&t->loop, arg);
        CHECK(t->s != NULL);
        if (!t->s) {
            uv_close((uv_handle_t *)&t->watchdog, NULL);
            uv_run(&t->loop, UV_RUN_DEFAULT);
            uv_loop_close(&t->loop);
            free(t);
            continue;
        }
        store_set_clock(t->s, ss_clock, t);
        tests[i].fn(t);
        if (!t->closed) {
            store_close(t->s, ss_on_store_closed, t);
            CHECK(!t->closed);
            t->timed_out = false;
            uv_timer_start(&t->watchdog, ss_on_watchdog, 10000, 0);
            while (!t->closed && !t->timed_out)
                uv_run(&t->loop, UV_RUN_ONCE);
            CHECK(t->closed);
        }
        uv_close((uv_handle_t *)&t->watchdog, NULL);
        uv_run(&t->loop, UV_RUN_DEFAULT);
        int rc = uv_loop_close(&t->loop);
        CHECK_EQ_INT(rc, 0);
        if (rc != 0) {
            uv_walk(&t->loop, ss_walk_close, NULL);
            uv_run(&t->loop, UV_RUN_DEFAULT);
            uv_loop_close(&t->loop);
        }
        free(t);
        printf("store suite: %-24s %s\n", tests[i].name, t_fail == fails ? "ok" : "FAILED");
    }
    return t_fail - failed_before;
}

#endif
