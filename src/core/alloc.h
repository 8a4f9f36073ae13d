/* Allocation wrappers: sett has one out-of-memory policy, which is to abort with a message, so
 * call sites never check for NULL (as Redis and h2o do). */
#ifndef SETT_CORE_ALLOC_H
#define SETT_CORE_ALLOC_H

#include <stddef.h>
#include <stdlib.h> /* free() pairs with these */

void *sx_malloc(size_t n);
void *sx_calloc(size_t count, size_t n);
void *sx_realloc(void *p, size_t n);
char *sx_strdup(const char *s);
char *sx_strndup(const char *s, size_t n);
void *sx_memdup(const void *p, size_t n);

#endif
