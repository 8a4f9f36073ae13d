/* The Redis store's hibernating-request rows: one sorted set per actor, P{a:<id>}:hib, scored by
 * last_ping_ts, whose members are the 8 bytes gateway id . request id. An upsert of rows is a
 * ZADD per actor touched (a refresh just moves the score), a list is one ZRANGEBYSCORE, whose
 * order (score, then member bytes) is exactly the order store.h promises, and a delete is a ZREM.
 *
 * Expiry: each upsert trims the actor's rows that fell more than ttl behind the store clock
 * (ZREMRANGEBYSCORE) and sets the key to expire ttl after the newest row it wrote (PEXPIRE), so an
 * actor whose rows stop being refreshed disappears on its own. The three commands of every actor
 * of a batch are sent together, in one write, and the upsert completes when all replies are in. */
#include "store/store_redis_impl.h"

#include "core/alloc.h"
#include "core/map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct rds_hib_op {
    rds_op_t op;
    char *actor;
    store_hib_row_t *rows; /* one block: the rows, then their actor ids */
    size_t n;
    int64_t ttl_ms;
    int64_t now;
    int64_t min_ts;
    uint8_t member[8];
} rds_hib_op_t;

static void rds_hib_destroy(rds_op_t *o)
{
    rds_hib_op_t *p = (rds_hib_op_t *)o;
    free(p->actor);
    free(p->rows);
}

static rds_hib_op_t *rds_hib_op(store_t *s, store_cb_kind_t kind, store_cb_t cb, void *ud,
                                int (*step)(rds_op_t *),
                                int (*reply)(rds_op_t *, const redisReply *))
{
    rds_hib_op_t *p = (rds_hib_op_t *)rds_op_new((store_redis_t *)s, sizeof *p, kind, cb, ud, step,
                                                 reply);
    p->op.destroy = rds_hib_destroy;
    return p;
}

static void rds_hib_member(uint8_t out[8], const uint8_t gw[4], const uint8_t req[4])
{
    memcpy(out, gw, 4);
    memcpy(out + 4, req, 4);
}

/* ---- Upsert. ---- */

/* The commands of one actor's rows: rows[idx[0..n)] all belong to it. */
static void rds_hib_send_actor(rds_hib_op_t *p, const size_t *idx, size_t n)
{
    const char *actor = p->rows[idx[0]].actor_id;
    uint8_t(*members)[8] = sx_malloc(n * sizeof *members);
    int64_t newest = INT64_MIN;
    rds_args_t a;
    rds_args_init(&a);
    rds_arg_str(&a, "ZADD");
    rds_arg_key(&a, p->op.r, "a", actor, ":hib");
    for (size_t i = 0; i < n; i++) {
        const store_hib_row_t *row = &p->rows[idx[i]];
        rds_arg_i64(&a, row->last_ping_ts);
        rds_hib_member(members[i], row->gateway_id, row->request_id);
        rds_arg(&a, members[i], 8);
        if (row->last_ping_ts > newest)
            newest = row->last_ping_ts;
    }
    rds_send(&p->op, &a);
    free(members);

    rds_args_init(&a);
    rds_arg_str(&a, "ZREMRANGEBYSCORE");
    rds_arg_key(&a, p->op.r, "a", actor, ":hib");
    rds_arg_str(&a, "-inf");
    char bound[32];
    int len = snprintf(bound, sizeof bound, "(%lld", (long long)(p->now - p->ttl_ms));
    rds_arg_copy(&a, bound, (size_t)len);
    rds_send(&p->op, &a);

    /* Rows stamped ahead of this node's clock (another node's clock) keep the key longer. */
    int64_t ahead = newest > p->now ? newest - p->now : 0;
    rds_args_init(&a);
    rds_arg_str(&a, "PEXPIRE");
    rds_arg_key(&a, p->op.r, "a", actor, ":hib");
    rds_arg_i64(&a, p->ttl_ms + ahead);
    rds_send(&p->op, &a);
}

static int rds_hib_upsert_step(rds_op_t *o)
{
    rds_hib_op_t *p = (rds_hib_op_t *)o;
    if (o->stage != 0)
        return rds_done(o, STORE_OK);
    o->stage = 1;
    if (p->n == 0) {
        rds_args_t a;
        rds_args_init(&a);
        rds_arg_str(&a, "PING");
        rds_send(o, &a);
        return RDS_MORE;
    }
    /* Group the rows by actor, in order of first appearance; each row's index goes to its
     * actor's list. A map from actor id to group number (plus one, values must not be NULL). */
    map_t groups = MAP_INIT;
    size_t *group_of = sx_malloc(p->n * sizeof *group_of);
    size_t *count = sx_calloc(p->n, sizeof *count);
    size_t n_groups = 0;
    for (size_t i = 0; i < p->n; i++) {
        const char *id = p->rows[i].actor_id;
        uintptr_t g = (uintptr_t)map_gets(&groups, id);
        if (!g) {
            g = ++n_groups;
            map_put(&groups, id, strlen(id), (void *)g);
        }
        group_of[i] = g - 1;
        count[g - 1]++;
    }
    size_t *start = sx_malloc((n_groups + 1) * sizeof *start);
    start[0] = 0;
    for (size_t g = 0; g < n_groups; g++)
        start[g + 1] = start[g] + count[g];
    size_t *idx = sx_malloc(p->n * sizeof *idx), *fill = sx_calloc(n_groups, sizeof *fill);
    for (size_t i = 0; i < p->n; i++)
        idx[start[group_of[i]] + fill[group_of[i]]++] = i;
    for (size_t g = 0; g < n_groups; g++)
        rds_hib_send_actor(p, idx + start[g], count[g]);
    map_free(&groups);
    free(group_of);
    free(count);
    free(start);
    free(idx);
    free(fill);
    return RDS_MORE;
}

void store_redis_hib_upsert(store_t *s, const store_hib_row_t *rows, size_t n, int64_t ttl_ms,
                            store_done_cb cb, void *ud)
{
    rds_hib_op_t *p = rds_hib_op(s, STORE_CB_DONE, STORE_CB(done, cb), ud, rds_hib_upsert_step,
                                 NULL);
    size_t total = n * sizeof *rows;
    for (size_t i = 0; i < n; i++)
        total += strlen(rows[i].actor_id) + 1;
    p->rows = sx_malloc(total ? total : 1);
    char *dst = (char *)(p->rows + n);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(rows[i].actor_id) + 1;
        p->rows[i] = rows[i];
        p->rows[i].actor_id = memcpy(dst, rows[i].actor_id, len);
        dst += len;
    }
    p->n = n;
    p->ttl_ms = ttl_ms;
    p->now = store_now_ms(s);
    rds_submit((store_redis_t *)s, &p->op);
}

/* ---- List: one ZRANGEBYSCORE, answered from the reply. ---- */

/* A sorted-set score as ms. Redis may answer "inf", "nan" or a huge number for a score someone
 * else wrote; converting those to an integer would be undefined, so they are clamped. */
static int64_t rds_score_ms(const char *s)
{
    double d = strtod(s, NULL);
    if (d != d)
        return 0;
    if (d >= 9.2e18)
        return INT64_MAX;
    if (d <= -9.2e18)
        return INT64_MIN;
    return (int64_t)d;
}

store_hib_row_t *rds_hib_list_parse(const redisReply *rep, const char *actor_id, size_t *count)
{
    size_t n = rep->type == REDIS_REPLY_ARRAY ? rep->elements / 2 : 0, got = 0;
    store_hib_row_t *rows = sx_malloc((n ? n : 1) * sizeof *rows);
    for (size_t i = 0; i < n; i++) {
        const redisReply *m = rep->element[2 * i], *sc = rep->element[2 * i + 1];
        if (m->type != REDIS_REPLY_STRING || m->len != 8 || sc->type != REDIS_REPLY_STRING)
            continue;
        rows[got].actor_id = actor_id;
        memcpy(rows[got].gateway_id, m->str, 4);
        memcpy(rows[got].request_id, m->str + 4, 4);
        /* Scores are doubles; ms timestamps are exact in them, whatever notation Redis uses. */
        rows[got].last_ping_ts = rds_score_ms(sc->str);
        got++;
    }
    *count = got;
    return rows;
}

static int rds_hib_list_reply(rds_op_t *o, const redisReply *rep)
{
    rds_hib_op_t *p = (rds_hib_op_t *)o;
    size_t got;
    store_hib_row_t *rows = rds_hib_list_parse(rep, p->actor, &got);
    rds_op_finishing(o);
    o->cb.hib_list(o->ud, STORE_OK, rows, got);
    free(rows);
    rds_op_free(o);
    return RDS_DONE;
}

static int rds_hib_list_step(rds_op_t *o)
{
    rds_hib_op_t *p = (rds_hib_op_t *)o;
    rds_args_t a;
    rds_args_init(&a);
    rds_arg_str(&a, "ZRANGEBYSCORE");
    rds_arg_key(&a, o->r, "a", p->actor, ":hib");
    rds_arg_i64(&a, p->min_ts);
    rds_arg_str(&a, "+inf");
    rds_arg_str(&a, "WITHSCORES");
    rds_send(o, &a);
    return RDS_MORE;
}

void store_redis_hib_list(store_t *s, const char *actor_id, int64_t min_ts, store_hib_list_cb cb,
                          void *ud)
{
    rds_hib_op_t *p = rds_hib_op(s, STORE_CB_HIB_LIST, STORE_CB(hib_list, cb), ud,
                                 rds_hib_list_step, rds_hib_list_reply);
    p->actor = sx_strdup(actor_id);
    p->min_ts = min_ts;
    rds_submit((store_redis_t *)s, &p->op);
}

/* ---- Delete. ---- */

static int rds_hib_delete_step(rds_op_t *o)
{
    rds_hib_op_t *p = (rds_hib_op_t *)o;
    if (o->stage != 0)
        return rds_done(o, STORE_OK);
    o->stage = 1;
    rds_args_t a;
    rds_args_init(&a);
    rds_arg_str(&a, "ZREM");
    rds_arg_key(&a, o->r, "a", p->actor, ":hib");
    rds_arg(&a, p->member, 8);
    rds_send(o, &a);
    return RDS_MORE;
}

void store_redis_hib_delete(store_t *s, const char *actor_id, const uint8_t gateway_id[4],
                            const uint8_t request_id[4], store_done_cb cb, void *ud)
{
    rds_hib_op_t *p = rds_hib_op(s, STORE_CB_DONE, STORE_CB(done, cb), ud, rds_hib_delete_step,
                                 NULL);
    p->actor = sx_strdup(actor_id);
    rds_hib_member(p->member, gateway_id, request_id);
    rds_submit((store_redis_t *)s, &p->op);
}
