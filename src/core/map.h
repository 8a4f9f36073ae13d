/* The one hash map: byte strings to non-NULL pointers, with open addressing, linear probing and
 * backward-shift deletion, so there are no tombstones and lookups stay short after many deletes.
 * The map copies keys; it never owns or frees values. The stores, the engine, the gateway, the
 * runner half, the bus's subjects and BARE's duplicate-key check all use it. Each map hashes
 * with a random seed of its own, so keys from the network cannot be chosen to collide, and the
 * order of iteration differs from map to map and run to run. */
#ifndef SETT_CORE_MAP_H
#define SETT_CORE_MAP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct map_slot {
    uint64_t hash;
    uint8_t *key; /* NULL: empty slot */
    size_t klen;
    void *value;
} map_slot_t;

typedef struct map {
    map_slot_t *slots;
    size_t cap; /* 0 or a power of two */
    size_t n;
    uint64_t seed; /* drawn when the table is first allocated */
} map_t;

/* clang-format off */
#define MAP_INIT { NULL, 0, 0, 0 }
/* clang-format on */

void map_init(map_t *m);
/* Frees the keys and the table, not the values. */
void map_free(map_t *m);
void *map_get(const map_t *m, const void *key, size_t klen);
/* Sets key to value (not NULL); returns the value it replaced, or NULL. */
void *map_put(map_t *m, const void *key, size_t klen, void *value);
/* Removes key; returns its value, or NULL when absent. */
void *map_del(map_t *m, const void *key, size_t klen);
/* Iterates: start with *it = 0; returns the next occupied slot or NULL at the end. The map must not
 * change during the iteration. */
const map_slot_t *map_next(const map_t *m, size_t *it);

static inline void *map_gets(const map_t *m, const char *key)
{
    return map_get(m, key, strlen(key));
}

#endif
