/* A bump allocator for values built from Lua tables or JSON text before they are encoded: every
 * array and string of one value comes from it and is released at once, so a conversion that stops
 * half-way (a Lua error, bad JSON) frees everything with one call. */
#ifndef SETT_PROTO_BARE_ARENA_H
#define SETT_PROTO_BARE_ARENA_H

#include <stddef.h>

typedef struct bare_arena_chunk bare_arena_chunk_t;

typedef struct bare_arena {
    bare_arena_chunk_t *head;
} bare_arena_t;

/* clang-format off */
#define BARE_ARENA_INIT { NULL }
/* clang-format on */

/* Returns n zeroed bytes aligned for any type; aborts on out-of-memory like sx_malloc. */
void *bare_arena_alloc(bare_arena_t *a, size_t n);
void bare_arena_free(bare_arena_t *a);

#endif
