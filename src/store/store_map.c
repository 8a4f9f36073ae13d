/* The byte-keyed hash map of store_map.h. FNV-1a is enough here: the keys are ids the engine
 * generates and composite keys built from them, not attacker-chosen strings with a budget, and
 * the load factor stays at or below 3/4. */
#include "store/store_map.h"

#include "core/alloc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static uint64_t store_map_hash(const void *key, size_t klen)
{
    const uint8_t *p = key;
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < klen; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

void store_map_init(store_map_t *m)
{
    m->slots = NULL;
    m->cap = 0;
    m->n = 0;
}

void store_map_free(store_map_t *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    store_map_init(m);
}

/* The slot holding key, or the empty slot where it would go. */
static size_t store_map_find(const store_map_t *m, uint64_t h, const void *key, size_t klen)
{
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    for (;;) {
        const store_map_slot_t *s = &m->slots[i];
        if (!s->key)
            return i;
        if (s->hash == h && s->klen == klen && memcmp(s->key, key, klen) == 0)
            return i;
        i = (i + 1) & mask;
    }
}

static void store_map_grow(store_map_t *m)
{
    store_map_t old = *m;
    m->cap = old.cap ? old.cap * 2 : 16;
    m->slots = sx_calloc(m->cap, sizeof *m->slots);
    for (size_t i = 0; i < old.cap; i++) {
        store_map_slot_t *s = &old.slots[i];
        if (s->key)
            m->slots[store_map_find(m, s->hash, s->key, s->klen)] = *s;
    }
    free(old.slots);
}

void *store_map_get(const store_map_t *m, const void *key, size_t klen)
{
    if (!m->n)
        return NULL;
    const store_map_slot_t *s = &m->slots[store_map_find(m, store_map_hash(key, klen), key, klen)];
    return s->key ? s->value : NULL;
}

void *store_map_put(store_map_t *m, const void *key, size_t klen, void *value)
{
    if ((m->n + 1) * 4 > m->cap * 3)
        store_map_grow(m);
    uint64_t h = store_map_hash(key, klen);
    store_map_slot_t *s = &m->slots[store_map_find(m, h, key, klen)];
    if (s->key) {
        void *old = s->value;
        s->value = value;
        return old;
    }
    /* A NUL after the bytes lets an iterating caller read a string key as a C string. */
    s->key = sx_malloc(klen + 1);
    memcpy(s->key, key, klen);
    s->key[klen] = 0;
    s->klen = klen;
    s->hash = h;
    s->value = value;
    m->n++;
    return NULL;
}

/* Backward-shift deletion: every later slot of the probe run whose home lies at or before the hole
 * moves into it, which keeps each key reachable from its home without tombstones. */
void *store_map_del(store_map_t *m, const void *key, size_t klen)
{
    if (!m->n)
        return NULL;
    size_t mask = m->cap - 1;
    size_t i = store_map_find(m, store_map_hash(key, klen), key, klen);
    if (!m->slots[i].key)
        return NULL;
    void *value = m->slots[i].value;
    free(m->slots[i].key);
    m->n--;
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        store_map_slot_t *s = &m->slots[j];
        if (!s->key)
            break;
        size_t home = s->hash & mask;
        /* Move s into the hole at i unless its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays)
            continue;
        m->slots[i] = *s;
        i = j;
    }
    memset(&m->slots[i], 0, sizeof m->slots[i]);
    return value;
}

const store_map_slot_t *store_map_next(const store_map_t *m, size_t *it)
{
    while (*it < m->cap) {
        const store_map_slot_t *s = &m->slots[(*it)++];
        if (s->key)
            return s;
    }
    return NULL;
}
