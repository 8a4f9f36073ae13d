#include "core/random.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* Every tunnelled request draws an id, and a getrandom call per id showed in profiles of the
 * HTTP path; bytes are drawn a pool at a time instead. The pool is per thread because tests run
 * engines on threads of their own; sett itself never forks, so no two processes share one. */
#define RND_POOL 512

static _Thread_local uint8_t rnd_pool[RND_POOL];
static _Thread_local size_t rnd_left;

static void rnd_fill(uint8_t *b, size_t n)
{
    /* getrandom only fails before the kernel's pool is ready or on a signal; neither is a
     * reason to hand out predictable ids, so this retries and aborts if it cannot. */
    while (n) {
        ssize_t got = getrandom(b, n, 0);
        if (got < 0) {
            perror("getrandom");
            abort();
        }
        b += got;
        n -= (size_t)got;
    }
}

void rnd_bytes(void *p, size_t n)
{
    uint8_t *b = p;
    if (n > RND_POOL / 4) {
        rnd_fill(b, n);
        return;
    }
    if (rnd_left < n) {
        rnd_fill(rnd_pool, RND_POOL);
        rnd_left = RND_POOL;
    }
    /* Bytes handed out are wiped from the pool so that they are not left in memory. */
    uint8_t *src = rnd_pool + RND_POOL - rnd_left;
    memcpy(b, src, n);
    memset(src, 0, n);
    rnd_left -= n;
}

uint64_t rnd_jitter_ms(void)
{
    uint8_t j;
    rnd_bytes(&j, 1);
    return j & 127;
}
