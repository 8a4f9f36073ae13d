/* Differential fuzzing of the memory store's actor KV: the input is a program of KV operations on
 * two actors, run against the store and against a deliberately naive model (an unsorted array with
 * linear scans, qsort for lists, and its own limit checks). Every result must match: error codes,
 * keys, values, updateTs, and versions (equal exactly when the model says the same put wrote
 * them). Operations are submitted in batches before the loop runs, so the test also checks that
 * they apply and complete in submission order and never complete inline. The store gets tiny
 * limits so that every limit and the quota are reached within a few bytes of input. */
#include "store/store_memory.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPS 1500
#define MAX_BATCH 32

static const store_kv_limits_t fz_limits = {
    .max_key = 3,
    .max_value = 6,
    .max_keys = 5,
    .max_put_payload = 24,
    .max_storage = 40,
    .default_list_limit = 4,
};

#define FZ_FAIL(...) do { fprintf(stderr, "fuzz_store_kv: " __VA_ARGS__); \
    fprintf(stderr, "\n"); abort(); } while (0)

/* ---- Input. ---- */

typedef struct fz_in {
    const uint8_t *p;
    size_t n;
} fz_in_t;

static uint8_t fz_byte(fz_in_t *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static const uint8_t fz_alphabet[8] = { 0x00, 0x01, 'a', 'b', 0x7f, 0x80, 0xfe, 0xff };

typedef struct fz_bytes {
    uint8_t b[8];
    size_t len;
} fz_bytes_t;

/* Keys are 0..4 bytes (4 exceeds max_key), values 0..7 (7 exceeds max_value), drawn from a small
 * alphabet so that keys collide, share prefixes and sit at both ends of the byte range. */
static fz_bytes_t fz_str(fz_in_t *in, size_t modulo)
{
    fz_bytes_t s;
    uint8_t h = fz_byte(in);
    s.len = h % modulo;
    for (size_t i = 0; i < s.len; i++)
        s.b[i] = fz_alphabet[(i == 0 ? h >> 4 : fz_byte(in)) & 7];
    return s;
}

/* ---- The model. ---- */

typedef struct fz_entry {
    int actor;
    fz_bytes_t key;
    fz_bytes_t val;
    uint64_t seq;              /* which successful put wrote it */
    int64_t ts;
} fz_entry_t;

typedef struct fz_model {
    fz_entry_t *e;
    size_t n;
    uint64_t puts;
} fz_model_t;

static int fz_cmp(const fz_bytes_t *a, const fz_bytes_t *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    for (size_t i = 0; i < n; i++)
        if (a->b[i] != b->b[i])
            return a->b[i] < b->b[i] ? -1 : 1;
    return a->len < b->len ? -1 : a->len > b->len;
}

static fz_entry_t *fz_find(fz_model_t *m, int actor, const fz_bytes_t *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->e[i].actor == actor && fz_cmp(&m->e[i].key, key) == 0)
            return &m->e[i];
    return NULL;
}

static void fz_remove(fz_model_t *m, fz_entry_t *e)
{
    *e = m->e[--m->n];
}

static uint64_t fz_used(const fz_model_t *m, int actor)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < m->n; i++)
        if (m->e[i].actor == actor)
            sum += m->e[i].key.len + m->e[i].val.len;
    return sum;
}

static int fz_entry_order(const void *a, const void *b)
{
    return fz_cmp(&((const fz_entry_t *)a)->key, &((const fz_entry_t *)b)->key);
}

/* ---- Expected results, one per submitted operation. ---- */

typedef struct fz_expect {
    int err;
    fz_entry_t *e;             /* the entries the callback must receive, in order */
    size_t n;
    bool done;
    int order;
} fz_expect_t;

typedef struct fz_state {
    fz_model_t model;
    uint8_t (*versions)[8];    /* the version the store gave each put sequence number */
    bool *seen;
    size_t versions_cap;
    fz_expect_t batch[MAX_BATCH];
    size_t n_batch;
    int completed;
    int64_t now;
    store_t *s;
    uv_loop_t loop;
} fz_state_t;

static fz_state_t *fz_st;

static int64_t fz_clock(void *ud)
{
    return ((fz_state_t *)ud)->now;
}

static bool fz_same(const slice_t *b, const fz_bytes_t *f)
{
    return b->len == f->len && (f->len == 0 || memcmp(b->p, f->b, f->len) == 0);
}

/* Versions must be a faithful image of the model's put numbers: one version per put, and no two
 * puts sharing one. */
static void fz_check_version(fz_state_t *st, uint64_t seq, const store_kv_meta_t *meta)
{
    if (meta->version_len != 8)
        FZ_FAIL("version of %zu bytes", meta->version_len);
    if (seq >= st->versions_cap)
        FZ_FAIL("put number %llu out of range", (unsigned long long)seq);
    if (st->seen[seq]) {
        if (memcmp(st->versions[seq], meta->version, 8) != 0)
            FZ_FAIL("put %llu seen with two versions", (unsigned long long)seq);
        return;
    }
    for (size_t i = 0; i < st->versions_cap; i++)
        if (st->seen[i] && memcmp(st->versions[i], meta->version, 8) == 0)
            FZ_FAIL("puts %zu and %llu share a version", i, (unsigned long long)seq);
    st->seen[seq] = true;
    memcpy(st->versions[seq], meta->version, 8);
}

static void fz_on_kv(void *ud, int err, const store_kv_res_t *res)
{
    fz_state_t *st = fz_st;
    fz_expect_t *x = ud;
    if (x->done)
        FZ_FAIL("callback ran twice");
    x->done = true;
    x->order = ++st->completed;
    if (!res)
        FZ_FAIL("no result");
    if (err != x->err)
        FZ_FAIL("err %d, model says %d (%s)", err, x->err, res->message ? res->message : "");
    if ((err != STORE_OK) != (res->message != NULL))
        FZ_FAIL("message present iff error");
    if (res->n != x->n)
        FZ_FAIL("%zu entries, model says %zu", res->n, x->n);
    for (size_t i = 0; i < x->n; i++) {
        const store_kv_entry_t *e = &res->entries[i];
        if (!fz_same(&e->key, &x->e[i].key) || !fz_same(&e->value, &x->e[i].val))
            FZ_FAIL("entry %zu differs", i);
        if (e->meta.update_ts != x->e[i].ts)
            FZ_FAIL("entry %zu updateTs %lld, model says %lld", i, (long long)e->meta.update_ts,
                (long long)x->e[i].ts);
        fz_check_version(st, x->e[i].seq, &e->meta);
    }
}

static fz_expect_t *fz_expect(fz_state_t *st, int err)
{
    fz_expect_t *x = &st->batch[st->n_batch++];
    memset(x, 0, sizeof *x);
    x->err = err;
    return x;
}

static void fz_expect_add(fz_expect_t *x, const fz_entry_t *e)
{
    x->e = realloc(x->e, (x->n + 1) * sizeof *x->e);
    if (!x->e)
        abort();
    x->e[x->n++] = *e;
}

static void fz_flush(fz_state_t *st)
{
    for (int spins = 0; st->completed < (int)st->n_batch; spins++) {
        if (spins > 1000)
            FZ_FAIL("operations never completed");
        uv_run(&st->loop, UV_RUN_ONCE);
    }
    for (size_t i = 0; i < st->n_batch; i++) {
        if (!st->batch[i].done || st->batch[i].order != (int)i + 1)
            FZ_FAIL("completion %zu out of order", i);
        free(st->batch[i].e);
    }
    st->n_batch = 0;
    st->completed = 0;
}

static slice_t fz_sb(const fz_bytes_t *f)
{
    return (slice_t){ f->b, f->len };
}

static bool fz_key_ok(const fz_bytes_t *k)
{
    return k->len <= fz_limits.max_key;
}

/* ---- Operations: each validates and applies to the model, then submits to the store. ---- */

static void fz_get(fz_state_t *st, fz_in_t *in, int actor, const char *aid)
{
    size_t n = fz_byte(in) % 7;
    fz_bytes_t keys[8];
    slice_t sk[8];
    bool ok = n <= fz_limits.max_keys;
    for (size_t i = 0; i < n; i++) {
        keys[i] = fz_str(in, 5);
        sk[i] = fz_sb(&keys[i]);
        ok = ok && fz_key_ok(&keys[i]);
    }
    fz_expect_t *x = fz_expect(st, ok ? STORE_OK : STORE_ELIMIT);
    for (size_t i = 0; ok && i < n; i++) {
        fz_entry_t *e = fz_find(&st->model, actor, &keys[i]);
        if (e)
            fz_expect_add(x, e);
    }
    store_kv_get(st->s, aid, sk, n, fz_on_kv, x);
}

static void fz_list(fz_state_t *st, fz_in_t *in, int actor, const char *aid)
{
    uint8_t flags = fz_byte(in);
    store_kv_query_t q;
    memset(&q, 0, sizeof q);
    q.kind = (store_kv_query_kind_t)(flags % 3);
    q.reverse = flags & 4;
    q.exclusive = flags & 8;
    q.has_limit = flags & 16;
    q.limit = fz_byte(in) % 8;
    fz_bytes_t a = fz_str(in, 5), b = fz_str(in, 5);
    q.start = fz_sb(&a);
    q.end = fz_sb(&b);
    q.prefix = fz_sb(&a);
    bool ok = q.kind == STORE_KV_ALL || (q.kind == STORE_KV_PREFIX && fz_key_ok(&a))
        || (q.kind == STORE_KV_RANGE && fz_key_ok(&a) && fz_key_ok(&b));
    fz_expect_t *x = fz_expect(st, ok ? STORE_OK : STORE_ELIMIT);
    if (ok) {
        fz_entry_t *sel = malloc((st->model.n + 1) * sizeof *sel);
        size_t n = 0;
        for (size_t i = 0; i < st->model.n; i++) {
            const fz_entry_t *e = &st->model.e[i];
            if (e->actor != actor)
                continue;
            bool in_q = true;
            if (q.kind == STORE_KV_RANGE) {
                int hi = fz_cmp(&e->key, &b);
                in_q = fz_cmp(&e->key, &a) >= 0 && (q.exclusive ? hi < 0 : hi <= 0);
            } else if (q.kind == STORE_KV_PREFIX) {
                in_q = e->key.len >= a.len && memcmp(e->key.b, a.b, a.len) == 0;
            }
            if (in_q)
                sel[n++] = *e;
        }
        qsort(sel, n, sizeof *sel, fz_entry_order);
        uint64_t limit = q.has_limit ? q.limit : fz_limits.default_list_limit;
        for (size_t i = 0; i < n && i < limit; i++)
            fz_expect_add(x, &sel[q.reverse ? n - 1 - i : i]);
        free(sel);
    }
    store_kv_list(st->s, aid, &q, fz_on_kv, x);
}

static void fz_put(fz_state_t *st, fz_in_t *in, int actor, const char *aid)
{
    uint8_t h = fz_byte(in);
    size_t nk = h % 7, nv = nk;
    if (h & 0x80)
        nv = (h >> 3) % 7;
    fz_bytes_t keys[8], vals[8];
    slice_t sk[8], sv[8];
    for (size_t i = 0; i < nk; i++) {
        keys[i] = fz_str(in, 5);
        sk[i] = fz_sb(&keys[i]);
    }
    for (size_t i = 0; i < nv; i++) {
        vals[i] = fz_str(in, 8);
        sv[i] = fz_sb(&vals[i]);
    }
    int err = STORE_OK;
    uint64_t payload = 0;
    if (nk != nv) {
        err = STORE_EINVAL;
    } else {
        bool ok = nk <= fz_limits.max_keys;
        for (size_t i = 0; i < nk; i++) {
            ok = ok && fz_key_ok(&keys[i]) && vals[i].len <= fz_limits.max_value;
            payload += keys[i].len + vals[i].len;
        }
        ok = ok && payload <= fz_limits.max_put_payload;
        if (!ok || fz_used(&st->model, actor) + payload > fz_limits.max_storage)
            err = STORE_ELIMIT;
    }
    fz_expect(st, err);
    if (err == STORE_OK) {
        uint64_t seq = ++st->model.puts;
        for (size_t i = 0; i < nk; i++) {
            fz_entry_t *e = fz_find(&st->model, actor, &keys[i]);
            if (!e) {
                st->model.e = realloc(st->model.e, (st->model.n + 1) * sizeof *st->model.e);
                if (!st->model.e)
                    abort();
                e = &st->model.e[st->model.n++];
                e->actor = actor;
                e->key = keys[i];
            }
            e->val = vals[i];
            e->seq = seq;
            e->ts = st->now;
        }
    }
    store_kv_put(st->s, aid, sk, nk, sv, nv, fz_on_kv, &st->batch[st->n_batch - 1]);
}

static void fz_delete(fz_state_t *st, fz_in_t *in, int actor, const char *aid)
{
    size_t n = fz_byte(in) % 7;
    fz_bytes_t keys[8];
    slice_t sk[8];
    bool ok = n <= fz_limits.max_keys;
    for (size_t i = 0; i < n; i++) {
        keys[i] = fz_str(in, 5);
        sk[i] = fz_sb(&keys[i]);
        ok = ok && fz_key_ok(&keys[i]);
    }
    fz_expect_t *x = fz_expect(st, ok ? STORE_OK : STORE_ELIMIT);
    for (size_t i = 0; ok && i < n; i++) {
        fz_entry_t *e = fz_find(&st->model, actor, &keys[i]);
        if (e)
            fz_remove(&st->model, e);
    }
    store_kv_delete(st->s, aid, sk, n, fz_on_kv, x);
}

static void fz_delete_range(fz_state_t *st, fz_in_t *in, int actor, const char *aid)
{
    fz_bytes_t a = fz_str(in, 5), b = fz_str(in, 5);
    bool ok = fz_key_ok(&a) && fz_key_ok(&b);
    fz_expect_t *x = fz_expect(st, ok ? STORE_OK : STORE_ELIMIT);
    for (size_t i = 0; ok && i < st->model.n;) {
        fz_entry_t *e = &st->model.e[i];
        if (e->actor == actor && fz_cmp(&e->key, &a) >= 0 && fz_cmp(&e->key, &b) < 0)
            fz_remove(&st->model, e);
        else
            i++;
    }
    store_kv_delete_range(st->s, aid, fz_sb(&a), fz_sb(&b), fz_on_kv, x);
}

static void fz_drop(fz_state_t *st, int actor, const char *aid)
{
    fz_expect_t *x = fz_expect(st, STORE_OK);
    for (size_t i = 0; i < st->model.n;) {
        if (st->model.e[i].actor == actor)
            fz_remove(&st->model, &st->model.e[i]);
        else
            i++;
    }
    store_kv_drop(st->s, aid, fz_on_kv, x);
}

static void fz_on_closed(void *ud)
{
    *(bool *)ud = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *actors[2] = { "actor-a", "actor-b" };
    fz_state_t st;
    memset(&st, 0, sizeof st);
    fz_st = &st;
    st.now = 1000;
    st.versions_cap = MAX_OPS + 2;
    st.versions = calloc(st.versions_cap, sizeof *st.versions);
    st.seen = calloc(st.versions_cap, sizeof *st.seen);
    uv_loop_init(&st.loop);
    st.s = store_memory_new(&st.loop);
    store_set_kv_limits(st.s, &fz_limits);
    store_set_clock(st.s, fz_clock, &st);

    fz_in_t in = { data, size };
    for (int ops = 0; in.n && ops < MAX_OPS; ops++) {
        uint8_t op = fz_byte(&in);
        int actor = (op >> 3) & 1;
        const char *aid = actors[actor];
        size_t before = st.n_batch;
        switch (op & 7) {
        case 0: fz_get(&st, &in, actor, aid); break;
        case 1: fz_list(&st, &in, actor, aid); break;
        case 2: fz_put(&st, &in, actor, aid); break;
        case 3: fz_delete(&st, &in, actor, aid); break;
        case 4: fz_delete_range(&st, &in, actor, aid); break;
        case 5: fz_drop(&st, actor, aid); break;
        case 6:
            /* The store stamps updateTs when it applies a put, on the next loop iteration, so
             * queued puts must finish before the clock moves. */
            fz_flush(&st);
            st.now += fz_byte(&in);
            break;
        case 7: fz_flush(&st); break;
        }
        if (st.n_batch > before && st.batch[st.n_batch - 1].done)
            FZ_FAIL("an operation completed inline");
        if (st.n_batch == MAX_BATCH)
            fz_flush(&st);
    }
    fz_flush(&st);

    bool closed = false;
    store_close(st.s, fz_on_closed, &closed);
    while (!closed)
        uv_run(&st.loop, UV_RUN_ONCE);
    if (uv_loop_close(&st.loop) != 0)
        FZ_FAIL("loop left with open handles");
    free(st.model.e);
    free(st.versions);
    free(st.seen);
    return 0;
}
