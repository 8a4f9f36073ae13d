#include "core/random.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

void rnd_bytes(void *p, size_t n)
{
    /* getrandom only fails before the kernel's pool is ready or on a signal; neither is a
     * reason to hand out predictable ids, so this retries and aborts if it cannot. */
    uint8_t *b = p;
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

uint64_t rnd_jitter_ms(void)
{
    uint8_t j;
    rnd_bytes(&j, 1);
    return j & 127;
}
