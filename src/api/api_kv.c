/* GET /actors/{id}/kv/keys/{key}: one value of an actor's KV, as Rivet 2.2.1 answers it
 * (api-peer actors/kv_get.rs): the key is standard base64 in the path, the answer is
 * {"value": base64, "update_ts": ms}, a missing key is actor.kv_key_not_found. The read goes to
 * the store, so it is the one API route answered after api_handle returns. */
#include "api/api_impl.h"
#include "core/alloc.h"

#include <string.h>

typedef struct api_kv_read {
    net_conn_t *c; /* NULL once the client has gone */
    buf_t key;
} api_kv_read_t;

static void api_kv_aborted(net_conn_t *c, void *ud)
{
    (void)c;
    api_kv_read_t *k = ud;
    k->c = NULL;
}

static void api_kv_got(void *ud, int err, const store_kv_res_t *res)
{
    api_kv_read_t *k = ud;
    if (!k->c) {
        /* The client left; nothing to answer. */
    } else if (err == STORE_EUNAVAILABLE) {
        api_error(k->c, 503, "store", "unavailable", res->message);
    } else if (err != STORE_OK) {
        api_error(k->c, 500, "core", "internal_error", res->message);
    } else if (res->n == 0) {
        api_error(k->c, 404, "actor", "kv_key_not_found", "The KV key does not exist.");
    } else {
        buf_t b = BUF_INIT;
        json_w w;
        json_w_init(&w, &b);
        json_w_obj_begin(&w);
        json_w_key(&w, "value");
        json_w_b64(&w, res->entries[0].value.p, res->entries[0].value.len);
        json_w_key(&w, "update_ts");
        json_w_int(&w, res->entries[0].meta.update_ts);
        json_w_end(&w);
        api_send(k->c, &b);
    }
    buf_free(&k->key);
    free(k);
}

void api_actors_kv_get(api_req_t *r, const slice_t *id, const slice_t *seg)
{
    eng_actor_t *a = api_actor_at(r, id);
    if (!a)
        return;
    /* Standard base64 may hold '/', which a client sends as %2F. */
    char *text = sx_malloc(seg->len + 1);
    size_t tlen = 0;
    api_kv_read_t *k = sx_calloc(1, sizeof *k);
    if (url_decode_segment((const char *)seg->p, seg->len, text, &tlen, URL_ALLOW_SLASH) !=
            URL_OK ||
        base64_decode(&k->key, text, tlen) != BASE64_OK) {
        free(text);
        buf_free(&k->key);
        free(k);
        api_bad_request(r->c, "the key must be standard base64");
        return;
    }
    free(text);
    k->c = r->c;
    net_http_on_abort(r->c, api_kv_aborted, k);
    slice_t key = { k->key.data, k->key.len };
    store_kv_get(eng_store(r->e), a->actor_id, &key, 1, api_kv_got, k);
}
