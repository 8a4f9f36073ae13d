/* A growable byte buffer. Encoders append to one; connections keep one per direction and reuse
 * it, so steady-state traffic does not allocate. */
#ifndef SETT_CORE_BUF_H
#define SETT_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} buf_t;

/* clang-format off */
#define BUF_INIT { NULL, 0, 0 }
/* clang-format on */

void buf_init(buf_t *b);
void buf_free(buf_t *b);
/* Makes room for at least `extra` more bytes past len and returns a pointer to them. */
uint8_t *buf_reserve(buf_t *b, size_t extra);
void buf_append(buf_t *b, const void *p, size_t n);
void buf_append_str(buf_t *b, const char *s);
void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_push(buf_t *b, uint8_t c);
/* Drops the first n bytes, keeping the rest. */
void buf_consume(buf_t *b, size_t n);
static inline void buf_reset(buf_t *b)
{
    b->len = 0;
}

#endif
