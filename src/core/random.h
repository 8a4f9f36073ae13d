/* Random bytes for ids, request ids and timer jitter, from the kernel (drawn a pool at a time). */
#ifndef SETT_CORE_RANDOM_H
#define SETT_CORE_RANDOM_H

#include <stddef.h>
#include <stdint.h>

void rnd_bytes(void *p, size_t n);
/* 0 to 127 ms, the jitter Rivet adds to its periodic pings. */
uint64_t rnd_jitter_ms(void);

#endif
