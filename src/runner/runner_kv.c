#include "runner/runner_impl.h"
#include "core/alloc.h"
#include "engine/engine_runner.h"

#include <string.h>

/* One KV request in flight: the store's answer becomes the ToClientKvResponse of its kind. */
typedef struct rn_kv_op {
    rn_conn_t *rc;
    uint32_t request_id;
    rp_kv_request_data_tag_t kind;
} rn_kv_op_t;

static void rn_kv_reply_error(rn_conn_t *rc, uint32_t request_id, const char *msg)
{
    rp_to_client_t m;
    memset(&m, 0, sizeof m);
    m.tag = RP_TO_CLIENT_KV_RESPONSE;
    m.val.kv_response.request_id = request_id;
    m.val.kv_response.data.tag = RP_KV_RESPONSE_DATA_ERROR_RESPONSE;
    m.val.kv_response.data.val.error_response.message = slice_cstr(msg);
    rn_send(rc, &m);
}

static void rn_kv_done(void *ud, int err, const store_kv_res_t *res)
{
    rn_kv_op_t *op = ud;
    rn_conn_t *rc = op->rc;
    if (!rc->closed) {
        if (err != STORE_OK) {
            rn_kv_reply_error(rc, op->request_id, res->message);
        } else {
            rp_to_client_t m;
            memset(&m, 0, sizeof m);
            m.tag = RP_TO_CLIENT_KV_RESPONSE;
            m.val.kv_response.request_id = op->request_id;
            rp_kv_key_t *keys = NULL;
            rp_kv_value_t *vals = NULL;
            rp_kv_metadata_t *meta = NULL;
            switch (op->kind) {
            case RP_KV_REQUEST_DATA_GET_REQUEST:
            case RP_KV_REQUEST_DATA_LIST_REQUEST: {
                size_t n = res->n;
                keys = sx_calloc(n ? n : 1, sizeof *keys);
                vals = sx_calloc(n ? n : 1, sizeof *vals);
                meta = sx_calloc(n ? n : 1, sizeof *meta);
                for (size_t i = 0; i < n; i++) {
                    const store_kv_entry_t *en = &res->entries[i];
                    keys[i] = en->key;
                    vals[i] = en->value;
                    meta[i].version = (slice_t){ en->meta.version, en->meta.version_len };
                    meta[i].update_ts = en->meta.update_ts;
                }
                rp_list_kv_key_t lk = { keys, n };
                rp_list_kv_value_t lv = { vals, n };
                rp_list_kv_metadata_t lm = { meta, n };
                if (op->kind == RP_KV_REQUEST_DATA_GET_REQUEST) {
                    m.val.kv_response.data.tag = RP_KV_RESPONSE_DATA_GET_RESPONSE;
                    m.val.kv_response.data.val.get_response = (rp_kv_get_response_t){ lk, lv, lm };
                } else {
                    m.val.kv_response.data.tag = RP_KV_RESPONSE_DATA_LIST_RESPONSE;
                    m.val.kv_response.data.val.list_response = (rp_kv_list_response_t){ lk, lv,
                                                                                        lm };
                }
                break;
            }
            case RP_KV_REQUEST_DATA_PUT_REQUEST:
                m.val.kv_response.data.tag = RP_KV_RESPONSE_DATA_PUT_RESPONSE;
                break;
            case RP_KV_REQUEST_DATA_DELETE_REQUEST:
            case RP_KV_REQUEST_DATA_DELETE_RANGE_REQUEST:
                /* The reference engine answers a range delete with KvDeleteResponse too. */
                m.val.kv_response.data.tag = RP_KV_RESPONSE_DATA_DELETE_RESPONSE;
                break;
            case RP_KV_REQUEST_DATA_DROP_REQUEST:
                m.val.kv_response.data.tag = RP_KV_RESPONSE_DATA_DROP_RESPONSE;
                break;
            }
            rn_send(rc, &m);
            free(keys);
            free(vals);
            free(meta);
        }
    }
    free(op);
    rn_unref(rc);
}

void rn_kv(rn_conn_t *rc, const rp_to_server_kv_request_t *kv)
{
    rn_t *rn = rc->rn;
    eng_actor_t *a = eng_runner_actor(rn->eng, rc->runner, (const char *)kv->actor_id.p,
                                      kv->actor_id.len);
    if (!a) {
        char *id = sx_strndup((const char *)kv->actor_id.p, kv->actor_id.len);
        eng_actor_t *other = eng_actor_get(rn->eng, id);
        int exists = other && other->state != ENG_ACTOR_DESTROYED;
        free(id);
        rn_kv_reply_error(rc, kv->request_id,
                          exists ? "actor does not belong to runner" : "actor does not exist");
        return;
    }
    rn_kv_op_t *op = sx_calloc(1, sizeof *op);
    op->rc = rc;
    op->request_id = kv->request_id;
    op->kind = kv->data.tag;
    rc->refs++;
    const rp_kv_request_data_t *d = &kv->data;
    switch (d->tag) {
    case RP_KV_REQUEST_DATA_GET_REQUEST: {
        store_kv_get(rn->store, a->actor_id, d->val.get_request.keys.items,
                     d->val.get_request.keys.len, rn_kv_done, op);
        break;
    }
    case RP_KV_REQUEST_DATA_LIST_REQUEST: {
        const rp_kv_list_request_t *l = &d->val.list_request;
        store_kv_query_t q;
        memset(&q, 0, sizeof q);
        if (l->query.tag == RP_KV_LIST_QUERY_RANGE_QUERY) {
            q.kind = STORE_KV_RANGE;
            q.start = l->query.val.range_query.start;
            q.end = l->query.val.range_query.end;
            q.exclusive = l->query.val.range_query.exclusive;
        } else if (l->query.tag == RP_KV_LIST_QUERY_PREFIX_QUERY) {
            q.kind = STORE_KV_PREFIX;
            q.prefix = l->query.val.prefix_query.key;
        } else {
            q.kind = STORE_KV_ALL;
        }
        q.reverse = l->has_reverse && l->reverse;
        q.has_limit = l->has_limit;
        q.limit = l->limit;
        store_kv_list(rn->store, a->actor_id, &q, rn_kv_done, op);
        break;
    }
    case RP_KV_REQUEST_DATA_PUT_REQUEST: {
        const rp_kv_put_request_t *p = &d->val.put_request;
        store_kv_put(rn->store, a->actor_id, p->keys.items, p->keys.len, p->values.items,
                     p->values.len, rn_kv_done, op);
        break;
    }
    case RP_KV_REQUEST_DATA_DELETE_REQUEST: {
        store_kv_delete(rn->store, a->actor_id, d->val.delete_request.keys.items,
                        d->val.delete_request.keys.len, rn_kv_done, op);
        break;
    }
    case RP_KV_REQUEST_DATA_DELETE_RANGE_REQUEST: {
        const rp_kv_delete_range_request_t *r = &d->val.delete_range_request;
        store_kv_delete_range(rn->store, a->actor_id, r->start, r->end, rn_kv_done, op);
        break;
    }
    case RP_KV_REQUEST_DATA_DROP_REQUEST:
        store_kv_drop(rn->store, a->actor_id, rn_kv_done, op);
        break;
    }
}
