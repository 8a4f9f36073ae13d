/* The JSON form of runner-protocol values, used by `sett proto` and the Node cross-check. It
 * mirrors the objects of the TypeScript package (@rivetkit/engine-runner-protocol):
 *   struct    {"camelCaseField": value, ...}, an absent optional is null
 *   union     {"tag": "MemberName", "val": value}, val null for void members
 *   enum      "Ok" (the TypeScript spelling of the schema's OK)
 *   list      [value, ...]          map   {"key": value, ...} in wire order
 *   str       a JSON string         data, data[N]   lowercase hex, "" when empty
 *   integers  numbers; u64 and i64 beyond +-2^53 as decimal strings (either form is read)
 * The reader takes absent and null alike for optionals and void payloads, and refuses unknown
 * fields, duplicate keys, non-integral numbers and out-of-range integers. Both directions are
 * core/json's. */
#ifndef SETT_PROTO_JSON_H
#define SETT_PROTO_JSON_H

#include <stddef.h>

#include "core/buf.h"
#include "proto/bare_arena.h"
#include "proto/bare_type.h"

/* Appends the JSON form of *v (a value of type t) to out, on one line. */
void proto_json_write(buf_t *out, const bare_type_t *t, const void *v);

/* Parses one JSON document of n bytes into *out, which has t->size bytes; every array and string
 * of the value comes from arena. Returns 0, or -1 with a message naming the place ("to_server.val
 * .name: expected string, got number") in err. `root` names the value in messages. */
int proto_json_read(const char *text, size_t n, const bare_type_t *t, const char *root, void *out,
                    bare_arena_t *arena, char *err, size_t errlen);

#endif
