#include "proto/bare_arena.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

#define BARE_ARENA_CHUNK 4096

struct bare_arena_chunk {
    bare_arena_chunk_t *next;
    size_t used, cap;
    alignas(max_align_t) unsigned char mem[];
};

void *bare_arena_alloc(bare_arena_t *a, size_t n)
{
    const size_t align = alignof(max_align_t);
    n = (n + align - 1) & ~(align - 1);
    bare_arena_chunk_t *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > BARE_ARENA_CHUNK ? n : BARE_ARENA_CHUNK;
        c = sx_malloc(sizeof *c + cap);
        c->used = 0;
        c->cap = cap;
        /* A large block goes behind the current chunk so that its free space stays in use. */
        if (a->head && n > BARE_ARENA_CHUNK) {
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
    }
    void *p = c->mem + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

void bare_arena_free(bare_arena_t *a)
{
    while (a->head) {
        bare_arena_chunk_t *next = a->head->next;
        free(a->head);
        a->head = next;
    }
}
