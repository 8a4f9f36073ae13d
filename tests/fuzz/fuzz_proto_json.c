/* Fuzzes the JSON reader of runner-protocol values (`sett proto encode`) with arbitrary JSON,
 * not only its own output. The first byte picks the type, the rest is the text. Whatever the
 * reader accepts must encode to bytes that decode again and encode to the same bytes, and its
 * JSON form must read back to the same value. */
#include "fuzz_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t ncodecs = 0;
    while (rp_codecs[ncodecs].name)
        ncodecs++;
    const bare_codec_t *c = &rp_codecs[data[0] % ncodecs];
    bare_arena_t arena = BARE_ARENA_INIT;
    void *v = bare_arena_alloc(&arena, c->type->size);
    char err[512];
    if (proto_json_read((const char *)data + 1, size - 1, c->type, c->name, v, &arena, err,
                        sizeof err) != 0) {
        if (!memchr(err, 0, sizeof err) || err[0] == 0)
            abort();
        bare_arena_free(&arena);
        return 0;
    }
    buf_t out = BUF_INIT;
    c->encode(&out, v);
    bare_arena_free(&arena);
    /* The bytes of what was read satisfy every check of the decoder and its JSON round trip. */
    fuzz_proto_check(c->name, out.data, out.len);
    void *d = sx_calloc(1, c->type->size);
    if (c->decode(out.data, out.len, d, NULL) != BARE_OK) {
        fprintf(stderr, "%s: what the JSON reader accepted does not decode\n", c->name);
        abort();
    }
    c->free(d);
    free(d);
    buf_free(&out);
    return 0;
}
