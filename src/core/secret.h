/* Comparing secrets (tokens) so that the time taken says nothing about how much of a guess was
 * right. */
#ifndef SETT_CORE_SECRET_H
#define SETT_CORE_SECRET_H

#include <stdbool.h>
#include <stddef.h>

/* Whether the len bytes at got equal the NUL-terminated want; no early exit on a mismatch. */
bool sec_equal(const char *want, const void *got, size_t len);

#endif
