/* One actor's KV entries in memory: a sorted array of pointers to entries, ordered by key bytes.
 *
 * Why a sorted array: rivetkit reads an actor's KV mostly through list (all, prefix, range) when
 * the actor starts, and those become a binary search plus a contiguous scan, forwards or backwards,
 * with no pointer chasing. An insert or delete moves the pointers after it (8 bytes per key, a
 * memmove of under 1 MB at 100,000 keys), which is cheap next to the copy of the value itself and
 * only matters for actors far larger than rivetkit's typical state. A balanced tree or skip list
 * would bound inserts at O(log n) but make every list slower and the code longer; the memory store
 * is the single-node default, and Redis is the store for large deployments. */
#ifndef SETT_STORE_KVTAB_H
#define SETT_STORE_KVTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct store_kvtab_item {
    size_t key_len;
    size_t value_len;
    uint8_t version[8];
    int64_t update_ts;
    uint8_t data[]; /* the key bytes, then the value bytes */
} store_kvtab_item_t;

typedef struct store_kvtab {
    store_kvtab_item_t **items;
    size_t n;
    size_t cap;
    uint64_t bytes; /* sum of key and value lengths, what the storage quota counts */
} store_kvtab_t;

static inline const uint8_t *store_kvtab_key(const store_kvtab_item_t *it)
{
    return it->data;
}

static inline const uint8_t *store_kvtab_value(const store_kvtab_item_t *it)
{
    return it->data + it->key_len;
}

/* A new entry holding copies of key and value; metadata is left to the caller. */
store_kvtab_item_t *store_kvtab_item_new(const uint8_t *key, size_t klen, const uint8_t *value,
                                         size_t vlen);
void store_kvtab_free(store_kvtab_t *t);
/* The index of the first entry whose key is >= key (lower) or > key (upper). */
size_t store_kvtab_lower(const store_kvtab_t *t, const uint8_t *key, size_t klen);
size_t store_kvtab_upper(const store_kvtab_t *t, const uint8_t *key, size_t klen);
/* The end of the run of keys starting with prefix that begins at lo = lower(prefix). */
size_t store_kvtab_prefix_end(const store_kvtab_t *t, size_t lo, const uint8_t *prefix,
                              size_t plen);
/* The entry with that key, or NULL. */
const store_kvtab_item_t *store_kvtab_get(const store_kvtab_t *t, const uint8_t *key, size_t klen);
/* Inserts item, taking ownership, or replaces (and frees) the entry with the same key. */
void store_kvtab_set(store_kvtab_t *t, store_kvtab_item_t *item);
/* Removes the entry with that key, if any. */
void store_kvtab_del(store_kvtab_t *t, const uint8_t *key, size_t klen);
/* Removes the entries with index in [lo, hi). */
void store_kvtab_del_span(store_kvtab_t *t, size_t lo, size_t hi);

#endif
