/* The one UTF-8 validator: the WebSocket frame codec checks text messages with it, BARE its
 * `str` values, JSON its strings, and the JSON writer replaces what it rejects. It is a DFA over
 * byte classes (Unicode table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF), so
 * text can be checked piece by piece as fragments arrive. ACCEPT means "at a character
 * boundary"; REJECT is sticky. */
#ifndef SETT_CORE_UTF8_H
#define SETT_CORE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UTF8_ACCEPT 0u
#define UTF8_REJECT 12u

/* Advances the state over p[0..len) and returns the new state. Runs of ASCII are skipped
 * eight bytes at a time, and the scan stops as soon as the state is REJECT. */
uint32_t utf8_step(uint32_t state, const uint8_t *p, size_t len);
/* True when p[0..len) is complete, valid UTF-8. */
bool utf8_valid(const uint8_t *p, size_t len);
/* The length (1 to 4) of the well-formed sequence at s[0..n), n > 0. For an ill-formed one it
 * returns 0 and sets *bad to the length of its maximal subpart (at least 1), which is how many
 * bytes one U+FFFD replaces under the Unicode recommendation. */
size_t utf8_seq(const uint8_t *s, size_t n, size_t *bad);
/* Returns the longest prefix of s[0..len), at most max bytes, that does not end inside a
 * multi-byte sequence, assuming s is UTF-8. */
size_t utf8_trim(const uint8_t *s, size_t len, size_t max);
/* Writes the encoding of code point cp (at most U+10FFFF, not a surrogate) and returns its
 * length, 1 to 4. */
size_t utf8_encode(uint8_t out[4], uint32_t cp);

#endif
