/* The core hash map against a plain array: random puts, gets and deletes over a small key space,
 * so probe runs wrap around the table and backward-shift deletion is exercised on every shape of
 * run, and growth happens with deletions in between. */
#include "t.h"

#include "core/map.h"

#include <stdint.h>
#include <stdlib.h>

enum { KEYS = 600, STEPS = 200000 };

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

/* Key i is i written in decimal, with key 0 as the empty string, so lengths differ too. */
static size_t key_of(int i, char *buf)
{
    return i == 0 ? 0 : (size_t)snprintf(buf, 16, "%d", i);
}

int main(void)
{
    map_t m = MAP_INIT;
    static void *model[KEYS];
    static int values[KEYS];
    char key[16];
    int mismatches = 0;
    size_t live = 0;

    for (int step = 0; step < STEPS; step++) {
        int i = (int)(next_rand() % KEYS);
        size_t klen = key_of(i, key);
        switch (next_rand() % 3) {
        case 0: {
            void *old = map_put(&m, key, klen, &values[i]);
            mismatches += old != model[i];
            live += model[i] == NULL;
            model[i] = &values[i];
            break;
        }
        case 1: {
            void *old = map_del(&m, key, klen);
            mismatches += old != model[i];
            live -= model[i] != NULL;
            model[i] = NULL;
            break;
        }
        default: mismatches += map_get(&m, key, klen) != model[i];
        }
        mismatches += m.n != live;
        /* Every few thousand steps, every key must still be found exactly where the model says. */
        if (step % 5000 == 0)
            for (int k = 0; k < KEYS; k++) {
                size_t kl = key_of(k, key);
                mismatches += map_get(&m, key, kl) != model[k];
            }
    }
    CHECK_EQ_INT(mismatches, 0);

    /* Iteration visits each live key once, with its value, and keys read as C strings. */
    size_t it = 0, seen = 0;
    for (const map_slot_t *s; (s = map_next(&m, &it));) {
        int k = s->klen ? atoi((const char *)s->key) : 0;
        seen++;
        CHECK(k >= 0 && k < KEYS && s->value == model[k]);
    }
    CHECK_EQ_INT(seen, live);

    /* Emptying the map by deletion leaves no residue. */
    for (int k = 0; k < KEYS; k++) {
        size_t kl = key_of(k, key);
        map_del(&m, key, kl);
    }
    CHECK_EQ_INT(m.n, 0);
    it = 0;
    CHECK(map_next(&m, &it) == NULL);
    CHECK(map_get(&m, "1", 1) == NULL);
    map_free(&m);
    CHECK(map_get(&m, "1", 1) == NULL);
    CHECK(map_del(&m, "1", 1) == NULL);
    return T_DONE();
}
