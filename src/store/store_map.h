/* A hash map from byte strings to non-NULL pointers: open addressing with linear probing and
 * backward-shift deletion, so there are no tombstones and lookups stay short after many deletes.
 * The map copies keys; it never owns or frees values. Nothing in it is store-specific; it lives
 * here until a second module needs one. */
#ifndef SETT_STORE_MAP_H
#define SETT_STORE_MAP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct store_map_slot {
    uint64_t hash;
    uint8_t *key;          /* NULL: empty slot */
    size_t klen;
    void *value;
} store_map_slot_t;

typedef struct store_map {
    store_map_slot_t *slots;
    size_t cap;            /* 0 or a power of two */
    size_t n;
} store_map_t;

#define STORE_MAP_INIT { NULL, 0, 0 }

void store_map_init(store_map_t *m);
/* Frees the keys and the table, not the values. */
void store_map_free(store_map_t *m);
void *store_map_get(const store_map_t *m, const void *key, size_t klen);
/* Sets key to value (not NULL); returns the value it replaced, or NULL. */
void *store_map_put(store_map_t *m, const void *key, size_t klen, void *value);
/* Removes key; returns its value, or NULL when absent. */
void *store_map_del(store_map_t *m, const void *key, size_t klen);
/* Iterates: start with *it = 0; returns the next occupied slot or NULL at the end. The map must not
 * change during the iteration. */
const store_map_slot_t *store_map_next(const store_map_t *m, size_t *it);

static inline void *store_map_gets(const store_map_t *m, const char *key)
{
    return store_map_get(m, key, strlen(key));
}

#endif
