/* Where a Lua or JSON conversion is inside a value ("to_server.val.headers[\"host\"]"), kept as
 * a chain of stack frames so that nothing is formatted unless the conversion fails. */
#ifndef SETT_PROTO_PATH_H
#define SETT_PROTO_PATH_H

#include <stddef.h>

typedef struct proto_path {
    const struct proto_path *up;
    const char *name; /* a ".name" step, or the root's name when up is NULL */
    const char *key;  /* a ["key"] step (keylen bytes) when name is NULL */
    size_t keylen;
    size_t index; /* an [index] step when name and key are NULL */
} proto_path_t;

/* Writes the path into out (NUL-terminated, truncated to n bytes) and returns out. */
char *proto_path_format(const proto_path_t *p, char *out, size_t n);

#endif
