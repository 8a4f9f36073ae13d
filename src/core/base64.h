/* Base64 (RFC 4648, standard alphabet, padded): what Rivet uses to carry binary actor input and
 * KV keys and values inside JSON and paths, and what the WebSocket handshake's accept key is
 * written in. */
#ifndef SETT_CORE_BASE64_H
#define SETT_CORE_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum {
    BASE64_OK = 0,
    BASE64_EINVALID = -1, /* text that is not canonical padded base64 */
};

/* The length of the encoding of n bytes. */
#define BASE64_LEN(n) (((n) + 2) / 3 * 4)

/* Writes the encoding of p[0..n) to out, BASE64_LEN(n) characters without a NUL, and returns
 * that length. */
size_t base64_encode_to(char *out, const uint8_t *p, size_t n);
/* Appends the encoding of p[0..n). */
void base64_encode(buf_t *out, const uint8_t *p, size_t n);
/* Appends the bytes that s[0..len) encodes. Only the canonical form is accepted: the standard
 * alphabet, a length that is a multiple of 4, '=' only as the last one or two characters, and
 * zero bits where the last character carries padding; no whitespace. Returns BASE64_OK or
 * BASE64_EINVALID, leaving out as it was on failure. */
int base64_decode(buf_t *out, const char *s, size_t len);
/* True for a character of the alphabet (not '='). */
bool base64_char(uint8_t c);

#endif
