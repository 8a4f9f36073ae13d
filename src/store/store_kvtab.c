/* The sorted KV array of store_kvtab.h. */
#include "store/store_kvtab.h"

#include "core/alloc.h"
#include "store/store.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

store_kvtab_item_t *store_kvtab_item_new(const uint8_t *key, size_t klen, const uint8_t *value,
                                         size_t vlen)
{
    store_kvtab_item_t *it = sx_malloc(sizeof *it + klen + vlen);
    memset(it, 0, sizeof *it);
    it->key_len = klen;
    it->value_len = vlen;
    if (klen)
        memcpy(it->data, key, klen);
    if (vlen)
        memcpy(it->data + klen, value, vlen);
    return it;
}

void store_kvtab_free(store_kvtab_t *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->items[i]);
    free(t->items);
    memset(t, 0, sizeof *t);
}

static int store_kvtab_cmp(const store_kvtab_item_t *it, const uint8_t *key, size_t klen)
{
    return store_kv_cmp(store_kvtab_key(it), it->key_len, key, klen);
}

size_t store_kvtab_lower(const store_kvtab_t *t, const uint8_t *key, size_t klen)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (store_kvtab_cmp(t->items[mid], key, klen) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t store_kvtab_upper(const store_kvtab_t *t, const uint8_t *key, size_t klen)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (store_kvtab_cmp(t->items[mid], key, klen) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool store_kvtab_has_prefix(const store_kvtab_item_t *it, const uint8_t *prefix, size_t plen)
{
    return it->key_len >= plen && (plen == 0 || memcmp(store_kvtab_key(it), prefix, plen) == 0);
}

size_t store_kvtab_prefix_end(const store_kvtab_t *t, size_t lo, const uint8_t *prefix, size_t plen)
{
    size_t hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (store_kvtab_has_prefix(t->items[mid], prefix, plen))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const store_kvtab_item_t *store_kvtab_get(const store_kvtab_t *t, const uint8_t *key, size_t klen)
{
    size_t i = store_kvtab_lower(t, key, klen);
    if (i < t->n && store_kvtab_cmp(t->items[i], key, klen) == 0)
        return t->items[i];
    return NULL;
}

void store_kvtab_set(store_kvtab_t *t, store_kvtab_item_t *item)
{
    const uint8_t *key = store_kvtab_key(item);
    size_t i = store_kvtab_lower(t, key, item->key_len);
    t->bytes += item->key_len + item->value_len;
    if (i < t->n && store_kvtab_cmp(t->items[i], key, item->key_len) == 0) {
        t->bytes -= t->items[i]->key_len + t->items[i]->value_len;
        free(t->items[i]);
        t->items[i] = item;
        return;
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 8;
        t->items = sx_realloc(t->items, t->cap * sizeof *t->items);
    }
    memmove(&t->items[i + 1], &t->items[i], (t->n - i) * sizeof *t->items);
    t->items[i] = item;
    t->n++;
}

void store_kvtab_del_span(store_kvtab_t *t, size_t lo, size_t hi)
{
    if (lo >= hi)
        return;
    for (size_t i = lo; i < hi; i++) {
        t->bytes -= t->items[i]->key_len + t->items[i]->value_len;
        free(t->items[i]);
    }
    memmove(&t->items[lo], &t->items[hi], (t->n - hi) * sizeof *t->items);
    t->n -= hi - lo;
}

void store_kvtab_del(store_kvtab_t *t, const uint8_t *key, size_t klen)
{
    size_t i = store_kvtab_lower(t, key, klen);
    if (i < t->n && store_kvtab_cmp(t->items[i], key, klen) == 0)
        store_kvtab_del_span(t, i, i + 1);
}
