/* Comparing secrets (tokens) so that the time taken says nothing about how much of a guess was
 * right. */
#ifndef SETT_CORE_SECRET_H
#define SETT_CORE_SECRET_H

#include <stdbool.h>
#include <stddef.h>

/* Whether the len bytes at got equal the NUL-terminated want; no early exit on a mismatch. */
bool sec_equal(const char *want, const void *got, size_t len);

/* What an Authorization header value (NULL when the header is absent) says against a token. */
enum sec_bearer_result { SEC_BEARER_OK, SEC_BEARER_MISSING, SEC_BEARER_WRONG };
/* Checks "Bearer <token>" (the scheme case-insensitively, the token with sec_equal). */
enum sec_bearer_result sec_bearer(const char *want, const void *value, size_t len);

#endif
