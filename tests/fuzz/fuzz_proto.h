/* The check every runner-protocol fuzz target makes: whatever a decoder accepts must encode back
 * to the same bytes, directly and after a trip through the JSON form of `sett proto`. */
#ifndef SETT_FUZZ_PROTO_H
#define SETT_FUZZ_PROTO_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "proto/bare_arena.h"
#include "proto/bare_type.h"
#include "proto/proto_json.h"
#include "proto/rp_v7.h"

static void fuzz_proto_same(const char *what, const buf_t *out, const uint8_t *data, size_t size)
{
    if (out->len != size || memcmp(out->data, data, size) != 0) {
        fprintf(stderr, "%s: re-encoding gave %zu bytes for an input of %zu\n", what, out->len,
                size);
        abort();
    }
}

static int fuzz_proto_check(const char *type, const uint8_t *data, size_t size)
{
    const bare_codec_t *c = bare_codec_find(rp_codecs, type);
    void *v = sx_calloc(1, c->type->size);
    if (c->decode(data, size, v, NULL) != BARE_OK) {
        free(v);
        return 0;
    }
    buf_t out = BUF_INIT, json = BUF_INIT;
    c->encode(&out, v);
    fuzz_proto_same("encode(decode(input))", &out, data, size);

    proto_json_write(&json, c->type, v);
    bare_arena_t arena = BARE_ARENA_INIT;
    void *back = bare_arena_alloc(&arena, c->type->size);
    char err[512];
    if (proto_json_read((const char *)json.data, json.len, c->type, type, back, &arena, err,
                        sizeof err) != 0) {
        fprintf(stderr, "the JSON form does not read back: %s\n%.*s\n", err, (int)json.len,
                (const char *)json.data);
        abort();
    }
    buf_reset(&out);
    c->encode(&out, back);
    fuzz_proto_same("encode(json(decode(input)))", &out, data, size);

    bare_arena_free(&arena);
    c->free(v);
    free(v);
    buf_free(&out);
    buf_free(&json);
    return 0;
}

#endif
