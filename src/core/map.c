/* The byte-keyed hash map of map.h. Its hash reads a word at a time (the bus hashes the subject
 * of every tunnel frame, three per round trip, and a byte-wise FNV showed in its profiles) and
 * starts from the map's random seed: BARE's duplicate-key check puts keys from runners' frames
 * in a map, and with an unseeded hash, which is invertible, they could pick keys that all land
 * in one probe run. The load factor stays at or below 3/4. */
#include "core/map.h"

#include "core/alloc.h"
#include "core/random.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static uint64_t map_hash(const map_t *m, const void *key, size_t klen)
{
    const uint8_t *p = key;
    uint64_t h = (m->seed + klen) * 0x9e3779b97f4a7c15ull;
    for (; klen >= 8; p += 8, klen -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    uint64_t w = 0;
    if (klen)
        memcpy(&w, p, klen);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 29);
}

void map_init(map_t *m)
{
    m->slots = NULL;
    m->cap = 0;
    m->n = 0;
    m->seed = 0;
}

void map_free(map_t *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    map_init(m);
}

/* The slot holding key, or the empty slot where it would go. */
static size_t map_find(const map_t *m, uint64_t h, const void *key, size_t klen)
{
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    for (;;) {
        const map_slot_t *s = &m->slots[i];
        if (!s->key)
            return i;
        if (s->hash == h && s->klen == klen && memcmp(s->key, key, klen) == 0)
            return i;
        i = (i + 1) & mask;
    }
}

static void map_grow(map_t *m)
{
    map_t old = *m;
    if (!old.cap)
        rnd_bytes(&m->seed, sizeof m->seed);
    m->cap = old.cap ? old.cap * 2 : 16;
    m->slots = sx_calloc(m->cap, sizeof *m->slots);
    for (size_t i = 0; i < old.cap; i++) {
        map_slot_t *s = &old.slots[i];
        if (s->key)
            m->slots[map_find(m, s->hash, s->key, s->klen)] = *s;
    }
    free(old.slots);
}

void *map_get(const map_t *m, const void *key, size_t klen)
{
    if (!m->n)
        return NULL;
    const map_slot_t *s = &m->slots[map_find(m, map_hash(m, key, klen), key, klen)];
    return s->key ? s->value : NULL;
}

void *map_put(map_t *m, const void *key, size_t klen, void *value)
{
    /* map_get answers NULL for a missing key, so a NULL value could not be told from none. */
    assert(value != NULL);
    if ((m->n + 1) * 4 > m->cap * 3)
        map_grow(m);
    uint64_t h = map_hash(m, key, klen);
    map_slot_t *s = &m->slots[map_find(m, h, key, klen)];
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
    /* Linear probing ends only because a free slot is always left. */
    assert(m->n < m->cap);
    return NULL;
}

/* Backward-shift deletion: every later slot of the probe run whose home lies at or before the hole
 * moves into it, which keeps each key reachable from its home without tombstones. */
void *map_del(map_t *m, const void *key, size_t klen)
{
    if (!m->n)
        return NULL;
    size_t mask = m->cap - 1;
    size_t i = map_find(m, map_hash(m, key, klen), key, klen);
    if (!m->slots[i].key)
        return NULL;
    void *value = m->slots[i].value;
    free(m->slots[i].key);
    m->n--;
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        map_slot_t *s = &m->slots[j];
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

const map_slot_t *map_next(const map_t *m, size_t *it)
{
    while (*it < m->cap) {
        const map_slot_t *s = &m->slots[(*it)++];
        if (s->key)
            return s;
    }
    return NULL;
}
