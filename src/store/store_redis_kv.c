/* The Redis store's actor KV. Each actor has three keys under its hash tag:
 *   P{a:<id>}:kk   zset   every key, score 0, so ZRANGEBYLEX orders them byte-wise as the
 *                         protocol wants (a proper prefix first) and serves ranges, prefixes,
 *                         reverse order and limits in one command
 *   P{a:<id>}:kv   hash   key -> version (8 bytes) . update_ts (8 bytes, big-endian) . value
 *   P{a:<id>}:kq   hash   b = key and value bytes held (the quota's usage), v = last version
 * A put, a delete and a range delete are one script each, so they are atomic and keep the three
 * in step; a get is one HMGET and a list one script. Every operation is one command, sent in
 * submission order on the one connection, so no operation needs to hold the queue. */
#include "store/store_redis_impl.h"

#include "core/alloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RDS_KV_META 16

typedef struct rds_kv_op {
    rds_op_t op;
    char *actor;
    slice_t *keys; /* one block: the array, then the bytes */
    slice_t *values;
    size_t n;
    store_kv_query_t q; /* its byte strings point into keys */
    int64_t ts;
    uint64_t payload;
    int verdict; /* put: STORE_OK, or STORE_ELIMIT with msg */
    char msg[STORE_MSG_MAX];
} rds_kv_op_t;

static void rds_kv_destroy(rds_op_t *o)
{
    rds_kv_op_t *p = (rds_kv_op_t *)o;
    free(p->actor);
    free(p->keys);
    free(p->values);
}

static slice_t *rds_kv_pack(const slice_t *v, size_t n)
{
    size_t total = n * sizeof *v;
    for (size_t i = 0; i < n; i++)
        total += v[i].len;
    slice_t *out = sx_malloc(total ? total : 1);
    uint8_t *p = (uint8_t *)(out + n);
    for (size_t i = 0; i < n; i++) {
        if (v[i].len)
            memcpy(p, v[i].p, v[i].len);
        out[i].p = p;
        out[i].len = v[i].len;
        p += v[i].len;
    }
    return out;
}

static rds_kv_op_t *rds_kv_op(store_t *s, const char *actor_id, store_kv_cb cb, void *ud,
                              int (*step)(rds_op_t *), int (*reply)(rds_op_t *, const redisReply *))
{
    rds_kv_op_t *p = (rds_kv_op_t *)rds_op_new((store_redis_t *)s, sizeof *p, STORE_CB_KV,
                                               STORE_CB(kv, cb), ud, step, reply);
    p->op.destroy = rds_kv_destroy;
    p->actor = sx_strdup(actor_id);
    return p;
}

static int rds_kv_done(rds_op_t *o, int err, const char *msg, const store_kv_entry_t *e, size_t n)
{
    rds_op_finishing(o);
    store_kv_res_t res = { err ? (msg && *msg ? msg : store_strerror(err)) : NULL, e, n };
    o->cb.kv(o->ud, err, &res);
    rds_op_free(o);
    return RDS_DONE;
}

static void rds_kv_keys(rds_args_t *a, const rds_kv_op_t *p, int count)
{
    static const char *const suffix[] = { ":kk", ":kv", ":kq" };
    for (int i = 0; i < count; i++)
        rds_arg_key(a, p->op.r, "a", p->actor, suffix[i]);
}

static void rds_be64(uint8_t *out, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)u;
        u >>= 8;
    }
}

static int64_t rds_unbe64(const uint8_t *in)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = (u << 8) | in[i];
    return (int64_t)u;
}

/* Fills e from a stored value (version . ts . value); false when it is too short to be one. */
static bool rds_kv_entry(store_kv_entry_t *e, const uint8_t *key, size_t klen, const redisReply *v)
{
    if (v->type != REDIS_REPLY_STRING || v->len < RDS_KV_META)
        return false;
    const uint8_t *s = (const uint8_t *)v->str;
    e->key.p = key;
    e->key.len = klen;
    e->value.p = s + RDS_KV_META;
    e->value.len = v->len - RDS_KV_META;
    e->meta.version = s;
    e->meta.version_len = 8;
    e->meta.update_ts = rds_unbe64(s + 8);
    return true;
}

/* Commands that only need to complete in order (an empty get or delete) send a PING. */
static void rds_kv_ping(rds_op_t *o)
{
    rds_args_t a;
    rds_args_init(&a);
    rds_arg_str(&a, "PING");
    rds_send(o, &a);
}

/* ---- Get: one HMGET, answered from the reply. ---- */

static int rds_kv_get_reply(rds_op_t *o, const redisReply *rep)
{
    rds_kv_op_t *p = (rds_kv_op_t *)o;
    size_t n = rep->type == REDIS_REPLY_ARRAY ? rep->elements : 0;
    if (n > p->n)
        n = p->n;
    store_kv_entry_t *e = sx_malloc((n ? n : 1) * sizeof *e);
    size_t got = 0;
    for (size_t i = 0; i < n; i++)
        if (rds_kv_entry(&e[got], p->keys[i].p, p->keys[i].len, rep->element[i]))
            got++;
    rds_kv_done(o, STORE_OK, NULL, e, got);
    free(e);
    return RDS_DONE;
}

static int rds_kv_get_step(rds_op_t *o)
{
    rds_kv_op_t *p = (rds_kv_op_t *)o;
    if (p->n == 0) {
        rds_kv_ping(o);
        return RDS_MORE;
    }
    rds_args_t a;
    rds_args_init(&a);
    rds_arg_str(&a, "HMGET");
    rds_arg_key(&a, o->r, "a", p->actor, ":kv");
    for (size_t i = 0; i < p->n; i++)
        rds_arg(&a, p->keys[i].p, p->keys[i].len);
    rds_send(o, &a);
    return RDS_MORE;
}

void store_redis_kv_get(store_t *s, const char *actor_id, const slice_t *keys, size_t n,
                        store_kv_cb cb, void *ud)
{
    rds_kv_op_t *p = rds_kv_op(s, actor_id, cb, ud, rds_kv_get_step, rds_kv_get_reply);
    p->keys = rds_kv_pack(keys, n);
    p->n = n;
    rds_submit((store_redis_t *)s, &p->op);
}

/* ---- List: one script, answered from the reply. ---- */

store_kv_entry_t *rds_kv_list_parse(const redisReply *rep, size_t *count)
{
    size_t n = rep->type == REDIS_REPLY_ARRAY ? rep->elements / 2 : 0;
    store_kv_entry_t *e = sx_malloc((n ? n : 1) * sizeof *e);
    size_t got = 0;
    for (size_t i = 0; i < n; i++) {
        const redisReply *k = rep->element[2 * i];
        if (k->type == REDIS_REPLY_STRING &&
            rds_kv_entry(&e[got], (const uint8_t *)k->str, k->len, rep->element[2 * i + 1]))
            got++;
    }
    *count = got;
    return e;
}

static int rds_kv_list_reply(rds_op_t *o, const redisReply *rep)
{
    size_t got;
    store_kv_entry_t *e = rds_kv_list_parse(rep, &got);
    rds_kv_done(o, STORE_OK, NULL, e, got);
    free(e);
    return RDS_DONE;
}

/* A ZRANGEBYLEX bound: '[' inclusive or '(' exclusive, then the key bytes. */
typedef struct rds_kv_lex {
    uint8_t *p;
    size_t len;
} rds_kv_lex_t;

static rds_kv_lex_t rds_kv_lex(char kind, const uint8_t *p, size_t len)
{
    rds_kv_lex_t b = { sx_malloc(len + 1), len + 1 };
    b.p[0] = (uint8_t)kind;
    if (len)
        memcpy(b.p + 1, p, len);
    return b;
}

static rds_kv_lex_t rds_kv_lex_inf(char sign)
{
    return rds_kv_lex(sign, NULL, 0);
}

/* The upper bound of a prefix: the prefix without its trailing 0xff bytes and with its last byte
 * incremented, exclusive; every key with the prefix sorts below it. A prefix of 0xff bytes only
 * (or an empty one) has no such bound: everything above it qualifies. */
static rds_kv_lex_t rds_kv_prefix_end(slice_t prefix)
{
    size_t len = prefix.len;
    while (len && prefix.p[len - 1] == 0xff)
        len--;
    if (len == 0)
        return rds_kv_lex_inf('+');
    rds_kv_lex_t b = rds_kv_lex('(', prefix.p, len);
    b.p[len]++;
    return b;
}

static void rds_kv_arg_lex(rds_args_t *a, rds_kv_lex_t b)
{
    rds_arg_copy(a, b.p, b.len);
    free(b.p);
}

static int rds_kv_list_step(rds_op_t *o)
{
    rds_kv_op_t *p = (rds_kv_op_t *)o;
    const store_kv_query_t *q = &p->q;
    rds_kv_lex_t lo, hi;
    switch (q->kind) {
    case STORE_KV_RANGE:
        lo = rds_kv_lex('[', q->start.p, q->start.len);
        hi = rds_kv_lex(q->exclusive ? '(' : '[', q->end.p, q->end.len);
        break;
    case STORE_KV_PREFIX:
        lo = rds_kv_lex('[', q->prefix.p, q->prefix.len);
        hi = rds_kv_prefix_end(q->prefix);
        break;
    case STORE_KV_ALL:
    default:
        lo = rds_kv_lex_inf('-');
        hi = rds_kv_lex_inf('+');
        break;
    }
    uint64_t limit = q->has_limit ? q->limit : o->r->base.limits.default_list_limit;
    rds_args_t a;
    rds_args_init(&a);
    rds_arg_eval(&a, RDS_SC_KV_LIST, 2);
    rds_kv_keys(&a, p, 2);
    rds_arg_str(&a, q->reverse ? "r" : "f");
    /* ZREVRANGEBYLEX takes the upper bound first. */
    rds_kv_arg_lex(&a, q->reverse ? hi : lo);
    rds_kv_arg_lex(&a, q->reverse ? lo : hi);
    rds_arg_i64(&a, limit > (uint64_t)INT64_MAX ? -1 : (int64_t)limit);
    rds_send(o, &a);
    return RDS_MORE;
}

void store_redis_kv_list(store_t *s, const char *actor_id, const store_kv_query_t *q,
                         store_kv_cb cb, void *ud)
{
    rds_kv_op_t *p = rds_kv_op(s, actor_id, cb, ud, rds_kv_list_step, rds_kv_list_reply);
    slice_t parts[3] = { q->start, q->end, q->prefix };
    p->keys = rds_kv_pack(parts, 3);
    p->q = *q;
    p->q.start = p->keys[0];
    p->q.end = p->keys[1];
    p->q.prefix = p->keys[2];
    rds_submit((store_redis_t *)s, &p->op);
}

/* ---- Put: one script that checks the quota and writes every pair. ---- */

static int rds_kv_put_reply(rds_op_t *o, const redisReply *rep)
{
    rds_kv_op_t *p = (rds_kv_op_t *)o;
    int64_t ok = 1, used = 0;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2) {
        rds_reply_i64(rep->element[0], &ok);
        rds_reply_i64(rep->element[1], &used);
    }
    if (!ok) {
        p->verdict = store_kv_validate_quota(&o->r->base.limits, (uint64_t)used, p->payload, p->msg,
                                             sizeof p->msg);
        if (p->verdict == STORE_OK) {
            p->verdict = STORE_ELIMIT;
            snprintf(p->msg, sizeof p->msg, "storage quota exceeded: put of %" PRIu64 " bytes",
                     p->payload);
        }
    }
    return RDS_MORE;
}

static int rds_kv_put_step(rds_op_t *o)
{
    rds_kv_op_t *p = (rds_kv_op_t *)o;
    if (o->stage != 0)
        return rds_kv_done(o, p->verdict, p->msg, NULL, 0);
    uint8_t ts[8];
    rds_be64(ts, p->ts);
    rds_args_t a;
    rds_args_init(&a);
    rds_arg_eval(&a, RDS_SC_KV_PUT, 3);
    rds_kv_keys(&a, p, 3);
    char quota[24];
    snprintf(quota, sizeof quota, "%" PRIu64, o->r->base.limits.max_storage);
    rds_arg_copy(&a, quota, strlen(quota));
    rds_arg_copy(&a, ts, 8);
    rds_arg_i64(&a, (int64_t)p->payload);
    for (size_t i = 0; i < p->n; i++) {
        rds_arg(&a, p->keys[i].p, p->keys[i].len);
        rds_arg(&a, p->values[i].p, p->values[i].len);
    }
    rds_send(o, &a);
    o->stage = 1;
    return RDS_MORE;
}

void store_redis_kv_put(store_t *s, const char *actor_id, const slice_t *keys,
                        const slice_t *values, size_t n, store_kv_cb cb, void *ud)
{
    rds_kv_op_t *p = rds_kv_op(s, actor_id, cb, ud, rds_kv_put_step, rds_kv_put_reply);
    p->keys = rds_kv_pack(keys, n);
    p->values = rds_kv_pack(values, n);
    p->n = n;
    p->payload = store_kv_payload(keys, values, n);
    /* The update ts is the store clock when the put is submitted, which is what the caller can
     * observe; the memory store stamps it when the put runs, a moment later. */
    p->ts = store_now_ms(s);
    rds_submit((store_redis_t *)s, &p->op);
}

/* ---- Deletes. ---- */

static int rds_kv_write_step(rds_op_t *o)
{
    rds_kv_op_t *p = (rds_kv_op_t *)o;
    if (o->stage != 0)
        return rds_kv_done(o, STORE_OK, NULL, NULL, 0);
    o->stage = 1;
    rds_args_t a;
    rds_args_init(&a);
    switch (p->q.kind) {
    case STORE_KV_ALL: /* drop */
        rds_arg_str(&a, "DEL");
        rds_kv_keys(&a, p, 3);
        break;
    case STORE_KV_RANGE: /* delete range [start, end) */
        rds_arg_eval(&a, RDS_SC_KV_DELRANGE, 3);
        rds_kv_keys(&a, p, 3);
        rds_kv_arg_lex(&a, rds_kv_lex('[', p->q.start.p, p->q.start.len));
        rds_kv_arg_lex(&a, rds_kv_lex('(', p->q.end.p, p->q.end.len));
        break;
    case STORE_KV_PREFIX: /* delete keys */
    default:
        if (p->n == 0) {
            rds_args_free(&a);
            rds_kv_ping(o);
            return RDS_MORE;
        }
        rds_arg_eval(&a, RDS_SC_KV_DEL, 3);
        rds_kv_keys(&a, p, 3);
        for (size_t i = 0; i < p->n; i++)
            rds_arg(&a, p->keys[i].p, p->keys[i].len);
        break;
    }
    rds_send(o, &a);
    return RDS_MORE;
}

void store_redis_kv_delete(store_t *s, const char *actor_id, const slice_t *keys, size_t n,
                           store_kv_cb cb, void *ud)
{
    rds_kv_op_t *p = rds_kv_op(s, actor_id, cb, ud, rds_kv_write_step, NULL);
    p->keys = rds_kv_pack(keys, n);
    p->n = n;
    p->q.kind = STORE_KV_PREFIX;
    rds_submit((store_redis_t *)s, &p->op);
}

void store_redis_kv_delete_range(store_t *s, const char *actor_id, slice_t start, slice_t end,
                                 store_kv_cb cb, void *ud)
{
    rds_kv_op_t *p = rds_kv_op(s, actor_id, cb, ud, rds_kv_write_step, NULL);
    slice_t parts[2] = { start, end };
    p->keys = rds_kv_pack(parts, 2);
    p->q.kind = STORE_KV_RANGE;
    p->q.start = p->keys[0];
    p->q.end = p->keys[1];
    rds_submit((store_redis_t *)s, &p->op);
}

void store_redis_kv_drop(store_t *s, const char *actor_id, store_kv_cb cb, void *ud)
{
    rds_kv_op_t *p = rds_kv_op(s, actor_id, cb, ud, rds_kv_write_step, NULL);
    p->q.kind = STORE_KV_ALL;
    rds_submit((store_redis_t *)s, &p->op);
}
