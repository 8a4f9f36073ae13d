/* RFC 6455 frame codec: header encodings, masking, the assembler's rules and error codes,
 * UTF-8 checks of text messages, close payloads, and input split at every
 * byte boundary, in the spirit of the Autobahn test suite's sections 1-7. */
#include "t.h"

#include <stdlib.h>

#include "core/alloc.h"
#include "net/ws_frame.h"

static const uint8_t KEY[4] = { 0x37, 0xfa, 0x21, 0x3d };

/* ---- a simulated transport: an input buffer fed in pieces, events recorded ------------ */

typedef struct rec {
    int type;
    int code;
    size_t len;
    uint8_t *data;
} rec;

typedef struct recs {
    rec *v;
    size_t n, cap;
    int err; /* close code of a WSF_ERR, 0 when none */
    const char *reason;
    size_t frames_in_place; /* events whose data pointed into the input buffer */
} recs;

static void recs_free(recs *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i].data);
    free(r->v);
    memset(r, 0, sizeof *r);
}

static void recs_add(recs *r, const wsf_event *ev)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->v = sx_realloc(r->v, r->cap * sizeof *r->v);
    }
    rec *x = &r->v[r->n++];
    x->type = ev->type;
    x->code = ev->code;
    x->len = ev->len;
    x->data = sx_memdup(ev->data ? ev->data : (const uint8_t *)"", ev->len);
}

/* Parses everything parseable in `in`, dropping what was consumed, as a transport would. */
static void pump(wsf_conn *c, buf_t *in, recs *r)
{
    while (!r->err) {
        size_t used = 7777;
        wsf_event ev;
        int rc = wsf_feed(c, in->data, in->len, &used, &ev);
        CHECK(used <= in->len);
        if (rc == WSF_ERR) {
            r->err = ev.code;
            r->reason = ev.reason;
            CHECK(ev.reason != NULL);
            buf_consume(in, used);
            return;
        }
        if (rc == WSF_OK) {
            if (in->len && ev.data >= in->data && ev.data + ev.len <= in->data + in->len)
                r->frames_in_place++;
            recs_add(r, &ev);
        }
        buf_consume(in, used);
        if (rc == WSF_AGAIN)
            return;
    }
}

/* Feeds src in pieces cut at the given points (ascending, within len). */
static void feed_split(enum wsf_role role, size_t max, const uint8_t *src, size_t len,
                       const size_t *cuts, size_t ncuts, recs *r)
{
    wsf_conn c;
    buf_t in = BUF_INIT;
    wsf_conn_init(&c, role, max);
    size_t prev = 0;
    for (size_t i = 0; i <= ncuts && !r->err; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        buf_append(&in, src + prev, end - prev);
        prev = end;
        pump(&c, &in, r);
    }
    buf_free(&in);
    wsf_conn_free(&c);
}

static void feed_whole(enum wsf_role role, size_t max, const uint8_t *src, size_t len, recs *r)
{
    feed_split(role, max, src, len, NULL, 0, r);
}

static int feed_err(enum wsf_role role, size_t max, const buf_t *b)
{
    recs r = { 0 };
    feed_whole(role, max, b->data, b->len, &r);
    int e = r.err;
    recs_free(&r);
    return e;
}

static bool recs_equal(const recs *a, const recs *b)
{
    if (a->n != b->n || a->err != b->err)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i].type != b->v[i].type || a->v[i].code != b->v[i].code ||
            a->v[i].len != b->v[i].len || memcmp(a->v[i].data, b->v[i].data, a->v[i].len))
            return false;
    return true;
}

/* A frame as a client sends it (masked), with raw control of the first byte. */
static void cframe(buf_t *b, unsigned opcode, bool fin, const void *p, size_t n)
{
    wsf_append_frame_ex(b, opcode, fin, p, n, KEY);
}

static void raw_frame(buf_t *b, uint8_t b0, const void *p, size_t n)
{
    size_t at = b->len;
    cframe(b, 0, false, p, n);
    b->data[at] = b0;
}

/* ---- header encodings and masking ----------------------------------------------------- */

static void test_rfc_examples(void)
{
    /* RFC 6455 section 5.7. */
    static const uint8_t hello_unmasked[] = { 0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f };
    static const uint8_t hello_masked[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                            0x7f, 0x9f, 0x4d, 0x51, 0x58 };
    static const uint8_t hel_lo[] = { 0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f };
    static const uint8_t ping[] = { 0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f };
    static const uint8_t h256[] = { 0x82, 0x7E, 0x01, 0x00 };
    static const uint8_t h64k[] = { 0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00 };
    buf_t b = BUF_INIT;
    uint8_t h[WSF_MAX_HEADER];

    wsf_append_frame(&b, WSF_OP_TEXT, "Hello", 5, NULL);
    CHECK_EQ_INT(b.len, sizeof hello_unmasked);
    CHECK_MEM(b.data, hello_unmasked, sizeof hello_unmasked);
    buf_reset(&b);
    wsf_append_frame(&b, WSF_OP_TEXT, "Hello", 5, KEY);
    CHECK_EQ_INT(b.len, sizeof hello_masked);
    CHECK_MEM(b.data, hello_masked, sizeof hello_masked);
    buf_reset(&b);
    wsf_append_frame_ex(&b, WSF_OP_TEXT, false, "Hel", 3, NULL);
    wsf_append_frame_ex(&b, WSF_OP_CONT, true, "lo", 2, NULL);
    CHECK_MEM(b.data, hel_lo, sizeof hel_lo);
    buf_reset(&b);
    wsf_append_frame(&b, WSF_OP_PING, "Hello", 5, NULL);
    CHECK_MEM(b.data, ping, sizeof ping);
    CHECK_EQ_INT(wsf_write_header(h, WSF_OP_BINARY, true, 256, NULL), 4);
    CHECK_MEM(h, h256, 4);
    CHECK_EQ_INT(wsf_write_header(h, WSF_OP_BINARY, true, 65536, NULL), 10);
    CHECK_MEM(h, h64k, 10);

    /* The masked example, parsed by a server and by the assembler. */
    uint8_t m[sizeof hello_masked];
    memcpy(m, hello_masked, sizeof m);
    wsf_frame f;
    CHECK_EQ_INT(wsf_parse_frame(WSF_ROLE_SERVER, m, sizeof m, 100, &f), WSF_OK);
    CHECK_EQ_INT(f.frame_len, sizeof m);
    CHECK_EQ_INT(f.len, 5);
    CHECK_EQ_INT(f.opcode, WSF_OP_TEXT);
    CHECK(f.fin && f.masked);
    CHECK_MEM(f.payload, "Hello", 5);

    recs r = { 0 };
    feed_whole(WSF_ROLE_CLIENT, 0, hel_lo, sizeof hel_lo, &r);
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_INT(r.n, 1);
    CHECK_EQ_INT(r.v[0].type, WSF_EV_TEXT);
    CHECK_EQ_INT(r.v[0].len, 5);
    CHECK_MEM(r.v[0].data, "Hello", 5);
    recs_free(&r);
    buf_free(&b);
}

static void test_lengths(void)
{
    static const uint64_t lens[] = { 0, 1, 125, 126, 127, 65535, 65536, 70000 };
    static const size_t hl[] = { 2, 2, 2, 4, 4, 4, 10, 10 };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t n = (size_t)lens[i];
        uint8_t *pl = sx_malloc(n + 1);
        for (size_t k = 0; k < n; k++)
            pl[k] = (uint8_t)(k * 7 + 3);
        for (int masked = 0; masked < 2; masked++) {
            buf_t b = BUF_INIT;
            wsf_append_frame(&b, WSF_OP_BINARY, pl, n, masked ? KEY : NULL);
            CHECK_EQ_INT(b.len, hl[i] + (masked ? 4 : 0) + n);
            enum wsf_role role = masked ? WSF_ROLE_SERVER : WSF_ROLE_CLIENT;
            wsf_frame f;
            /* Every prefix is incomplete, and once the header is whole its size is known. */
            size_t probes[] = { 0, 1, hl[i] - 1, hl[i] + (masked ? 4 : 0), b.len - 1 };
            for (size_t k = 0; k < 5; k++) {
                if (probes[k] >= b.len)
                    continue;
                CHECK_EQ_INT(wsf_parse_frame(role, b.data, probes[k], UINT64_MAX, &f), WSF_AGAIN);
                if (probes[k] >= hl[i] + (masked ? 4 : 0))
                    CHECK_EQ_INT(f.frame_len, b.len);
                else
                    CHECK_EQ_INT(f.frame_len, 0);
            }
            CHECK_EQ_INT(wsf_parse_frame(role, b.data, b.len, UINT64_MAX, &f), WSF_OK);
            CHECK_EQ_INT(f.len, n);
            CHECK_EQ_INT(f.header_len, hl[i] + (masked ? 4 : 0));
            CHECK(n == 0 || memcmp(f.payload, pl, n) == 0);
            /* The assembler delivers it as a slice of the input. */
            recs r = { 0 };
            buf_t b2 = BUF_INIT;
            wsf_append_frame(&b2, WSF_OP_BINARY, pl, n, masked ? KEY : NULL);
            feed_whole(role, 0, b2.data, b2.len, &r);
            CHECK_EQ_INT(r.err, 0);
            CHECK_EQ_INT(r.n, 1);
            if (n)
                CHECK_EQ_INT(r.frames_in_place, 1);
            CHECK(r.n == 1 && r.v[0].len == n && (n == 0 || !memcmp(r.v[0].data, pl, n)));
            recs_free(&r);
            buf_free(&b2);
            buf_free(&b);
        }
        free(pl);
    }
    /* A non-minimal length encoding is accepted. */
    uint8_t nm[] = { 0x82, 0x7E, 0x00, 0x03, 'a', 'b', 'c' };
    wsf_frame f;
    CHECK_EQ_INT(wsf_parse_frame(WSF_ROLE_CLIENT, nm, sizeof nm, 10, &f), WSF_OK);
    CHECK_EQ_INT(f.len, 3);
    /* A 64-bit length with the top bit set is a protocol error. */
    uint8_t big[] = { 0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 1 };
    CHECK_EQ_INT(wsf_parse_frame(WSF_ROLE_CLIENT, big, sizeof big, UINT64_MAX, &f), WSF_ERR);
    CHECK_EQ_INT(f.code, 1002);
    /* A huge but legal length is refused by the cap from the header alone. */
    uint8_t huge[] = { 0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };
    CHECK_EQ_INT(wsf_parse_frame(WSF_ROLE_CLIENT, huge, sizeof huge, 1 << 20, &f), WSF_ERR);
    CHECK_EQ_INT(f.code, 1009);
    CHECK_EQ_INT(wsf_parse_frame(WSF_ROLE_CLIENT, huge, sizeof huge, UINT64_MAX, &f), WSF_AGAIN);
    CHECK_EQ_INT(f.frame_len, 10 + 0x7FFFFFFFFFFFFFFFull);
}

static void test_mask(void)
{
    uint8_t a[300], b[300], c[300];
    for (int i = 0; i < 300; i++)
        a[i] = (uint8_t)(i * 31 + 5);
    for (size_t len = 0; len <= 300; len += (len < 40 ? 1 : 37)) {
        memcpy(b, a, len);
        wsf_mask(b, len, KEY, 0);
        for (size_t i = 0; i < len; i++)
            if (b[i] != (uint8_t)(a[i] ^ KEY[i & 3])) {
                CHECK(!"mask mismatch");
                break;
            }
        /* Masking in pieces, at any offset, gives the same bytes. */
        for (size_t cut = 0; cut <= len; cut += 3) {
            memcpy(c, a, len);
            wsf_mask(c, cut, KEY, 0);
            wsf_mask(c + cut, len - cut, KEY, cut);
            CHECK(memcmp(b, c, len) == 0);
        }
        wsf_mask(b, len, KEY, 0);
        CHECK(memcmp(a, b, len) == 0);
    }
    /* Unaligned start. */
    memcpy(c, a, 300);
    wsf_mask(c + 1, 200, KEY, 0);
    for (int i = 0; i < 200; i++)
        if (c[1 + i] != (uint8_t)(a[1 + i] ^ KEY[i & 3])) {
            CHECK(!"unaligned mask mismatch");
            break;
        }
}

/* ---- frame-level rules ---------------------------------------------------------------- */

static void test_roles_and_header_rules(void)
{
    buf_t b = BUF_INIT;
    /* A server requires masked frames; a client refuses them. */
    wsf_append_frame(&b, WSF_OP_TEXT, "hi", 2, NULL);
    CHECK_EQ_INT(feed_err(WSF_ROLE_SERVER, 0, &b), 1002);
    CHECK_EQ_INT(feed_err(WSF_ROLE_CLIENT, 0, &b), 0);
    buf_reset(&b);
    wsf_append_frame(&b, WSF_OP_TEXT, "hi", 2, KEY);
    CHECK_EQ_INT(feed_err(WSF_ROLE_CLIENT, 0, &b), 1002);
    CHECK_EQ_INT(feed_err(WSF_ROLE_SERVER, 0, &b), 0);

    /* Each reserved bit, with no extension negotiated (Autobahn 3.x). */
    for (int bit = 4; bit <= 6; bit++) {
        buf_reset(&b);
        raw_frame(&b, (uint8_t)(0x81 | 1 << bit), "x", 1);
        CHECK_EQ_INT(feed_err(WSF_ROLE_SERVER, 0, &b), 1002);
        /* Detected from the first byte alone. */
        wsf_frame f;
        CHECK_EQ_INT(wsf_parse_frame(WSF_ROLE_SERVER, b.data, 1, 100, &f), WSF_ERR);
    }
    /* Reserved opcodes (Autobahn 4.x). */
    for (int op = 3; op <= 15; op++) {
        if (op >= 8 && op <= 10)
            continue;
        buf_reset(&b);
        raw_frame(&b, (uint8_t)(0x80 | op), "", 0);
        CHECK_EQ_INT(feed_err(WSF_ROLE_SERVER, 0, &b), 1002);
    }
    /* Control frames: at most 125 bytes, never fragmented (Autobahn 2.x, 5.1-5.2). */
    uint8_t pl[200];
    memset(pl, 'p', sizeof pl);
    static const unsigned ctl[] = { WSF_OP_PING, WSF_OP_PONG, WSF_OP_CLOSE };
    for (int i = 0; i < 3; i++) {
        buf_reset(&b);
        uint8_t okpl[125];
        memset(okpl, 'a', sizeof okpl);
        if (ctl[i] == WSF_OP_CLOSE) {
            okpl[0] = 0x03;
            okpl[1] = 0xE8;
        }
        cframe(&b, ctl[i], true, okpl, 125);
        CHECK_EQ_INT(feed_err(WSF_ROLE_SERVER, 0, &b), 0);
        buf_reset(&b);
        cframe(&b, ctl[i], true, pl, 126);
        CHECK_EQ_INT(feed_err(WSF_ROLE_SERVER, 0, &b), 1002);
        buf_reset(&b);
        cframe(&b, ctl[i], false, okpl, 2);
        CHECK_EQ_INT(feed_err(WSF_ROLE_SERVER, 0, &b), 1002);
    }
    buf_free(&b);
}

/* ---- messages and fragmentation ------------------------------------------------------- */

static void test_fragmentation(void)
{
    buf_t b = BUF_INIT;
    recs r = { 0 };

    /* Text in three fragments with a ping and a pong in between (Autobahn 5.6-5.20). */
    cframe(&b, WSF_OP_TEXT, false, "frag", 4);
    cframe(&b, WSF_OP_PING, true, "p1", 2);
    cframe(&b, WSF_OP_CONT, false, "ment", 4);
    cframe(&b, WSF_OP_PONG, true, "p2", 2);
    cframe(&b, WSF_OP_CONT, true, "ed", 2);
    cframe(&b, WSF_OP_BINARY, true, "\x00\x01", 2);
    feed_whole(WSF_ROLE_SERVER, 0, b.data, b.len, &r);
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_INT(r.n, 4);
    if (r.n == 4) {
        CHECK_EQ_INT(r.v[0].type, WSF_EV_PING);
        CHECK_MEM(r.v[0].data, "p1", 2);
        CHECK_EQ_INT(r.v[1].type, WSF_EV_PONG);
        CHECK_MEM(r.v[1].data, "p2", 2);
        CHECK_EQ_INT(r.v[2].type, WSF_EV_TEXT);
        CHECK_EQ_INT(r.v[2].len, 10);
        CHECK_MEM(r.v[2].data, "fragmented", 10);
        CHECK_EQ_INT(r.v[3].type, WSF_EV_BINARY);
        CHECK_MEM(r.v[3].data, "\x00\x01", 2);
    }
    recs_free(&r);

    /* Empty fragments, and an empty fragmented message. */
    buf_reset(&b);
    cframe(&b, WSF_OP_BINARY, false, "", 0);
    cframe(&b, WSF_OP_CONT, false, "", 0);
    cframe(&b, WSF_OP_CONT, true, "", 0);
    cframe(&b, WSF_OP_TEXT, false, "", 0);
    cframe(&b, WSF_OP_CONT, true, "z", 1);
    feed_whole(WSF_ROLE_SERVER, 0, b.data, b.len, &r);
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_INT(r.n, 2);
    if (r.n == 2) {
        CHECK_EQ_INT(r.v[0].type, WSF_EV_BINARY);
        CHECK_EQ_INT(r.v[0].len, 0);
        CHECK_EQ_INT(r.v[1].type, WSF_EV_TEXT);
        CHECK_EQ_INT(r.v[1].len, 1);
    }
    recs_free(&r);

    /* A continuation with no message open (Autobahn 5.9-5.14). */
    buf_reset(&b);
    cframe(&b, WSF_OP_CONT, true, "x", 1);
    CHECK_EQ_INT(feed_err(WSF_ROLE_SERVER, 0, &b), 1002);
    buf_reset(&b);
    cframe(&b, WSF_OP_CONT, false, "x", 1);
    CHECK_EQ_INT(feed_err(WSF_ROLE_SERVER, 0, &b), 1002);
    /* A continuation after a complete message. */
    buf_reset(&b);
    cframe(&b, WSF_OP_TEXT, true, "a", 1);
    cframe(&b, WSF_OP_CONT, true, "b", 1);
    feed_whole(WSF_ROLE_SERVER, 0, b.data, b.len, &r);
    CHECK_EQ_INT(r.n, 1);
    CHECK_EQ_INT(r.err, 1002);
    recs_free(&r);
    /* A new data frame while a message is open (Autobahn 5.18). */
    buf_reset(&b);
    cframe(&b, WSF_OP_TEXT, false, "a", 1);
    cframe(&b, WSF_OP_TEXT, true, "b", 1);
    CHECK_EQ_INT(feed_err(WSF_ROLE_SERVER, 0, &b), 1002);
    buf_reset(&b);
    cframe(&b, WSF_OP_BINARY, false, "a", 1);
    cframe(&b, WSF_OP_BINARY, false, "b", 1);
    CHECK_EQ_INT(feed_err(WSF_ROLE_SERVER, 0, &b), 1002);
    /* The protocol error is seen from the header, before the payload arrives. */
    buf_reset(&b);
    cframe(&b, WSF_OP_TEXT, false, "a", 1);
    size_t at = b.len;
    cframe(&b, WSF_OP_TEXT, true, "bbbbbbbbbb", 10);
    feed_whole(WSF_ROLE_SERVER, 0, b.data, at + 6, &r);
    CHECK_EQ_INT(r.err, 1002);
    recs_free(&r);

    /* The assembly buffer is reused and messages do not bleed into each other; the second
     * message's data stays valid until the next feed. */
    wsf_conn c;
    wsf_conn_init(&c, WSF_ROLE_SERVER, 0);
    buf_t in = BUF_INIT;
    for (int round = 0; round < 3; round++) {
        buf_reset(&b);
        char m1[40];
        snprintf(m1, sizeof m1, "round-%d-", round);
        cframe(&b, WSF_OP_BINARY, false, m1, strlen(m1));
        cframe(&b, WSF_OP_CONT, true, "end", 3);
        buf_append(&in, b.data, b.len);
        pump(&c, &in, &r);
        CHECK_EQ_INT(r.n, (size_t)round + 1);
        char want[48];
        snprintf(want, sizeof want, "round-%d-end", round);
        CHECK(r.n == (size_t)round + 1 && r.v[round].len == strlen(want) &&
              !memcmp(r.v[round].data, want, strlen(want)));
    }
    recs_free(&r);
    /* A large fragmented message gives its buffer back after delivery. */
    static uint8_t big[200000];
    buf_reset(&b);
    cframe(&b, WSF_OP_BINARY, false, big, 100000);
    cframe(&b, WSF_OP_CONT, true, big, 100000);
    buf_append(&in, b.data, b.len);
    pump(&c, &in, &r);
    CHECK_EQ_INT(r.n, 1);
    CHECK(r.n == 1 && r.v[0].len == 200000);
    /* pump fed again after the event, which released the buffer. */
    CHECK_EQ_INT(c.frag.cap, 0);
    size_t used;
    wsf_event ev;
    CHECK_EQ_INT(wsf_feed(&c, in.data, in.len, &used, &ev), WSF_AGAIN);
    CHECK_EQ_INT(c.frag.cap, 0);
    recs_free(&r);
    wsf_conn_reset(&c);
    wsf_conn_free(&c);
    buf_free(&in);
    buf_free(&b);
}

static void test_size_cap(void)
{
    buf_t b = BUF_INIT;
    uint8_t pl[300];
    memset(pl, 'x', sizeof pl);
    recs r = { 0 };

    cframe(&b, WSF_OP_TEXT, true, pl, 100);
    CHECK_EQ_INT(feed_err(WSF_ROLE_SERVER, 100, &b), 0);
    buf_reset(&b);
    cframe(&b, WSF_OP_TEXT, true, pl, 101);
    CHECK_EQ_INT(feed_err(WSF_ROLE_SERVER, 100, &b), 1009);
    /* Decided from the header alone: only 6 bytes of the frame are given. */
    feed_whole(WSF_ROLE_SERVER, 100, b.data, 6, &r);
    CHECK_EQ_INT(r.err, 1009);
    recs_free(&r);
    buf_reset(&b);
    cframe(&b, WSF_OP_BINARY, true, pl, 300);
    feed_whole(WSF_ROLE_SERVER, 200, b.data, 8, &r);
    CHECK_EQ_INT(r.err, 1009);
    recs_free(&r);
    /* Fragments count together. */
    buf_reset(&b);
    cframe(&b, WSF_OP_BINARY, false, pl, 60);
    cframe(&b, WSF_OP_CONT, false, pl, 40);
    cframe(&b, WSF_OP_CONT, true, pl, 0);
    CHECK_EQ_INT(feed_err(WSF_ROLE_SERVER, 100, &b), 0);
    buf_reset(&b);
    cframe(&b, WSF_OP_BINARY, false, pl, 60);
    size_t at = b.len;
    cframe(&b, WSF_OP_CONT, true, pl, 41);
    CHECK_EQ_INT(feed_err(WSF_ROLE_SERVER, 100, &b), 1009);
    feed_whole(WSF_ROLE_SERVER, 100, b.data, at + 6, &r);
    CHECK_EQ_INT(r.err, 1009);
    recs_free(&r);
    /* Control frames do not count toward the cap. */
    buf_reset(&b);
    cframe(&b, WSF_OP_PING, true, pl, 125);
    CHECK_EQ_INT(feed_err(WSF_ROLE_SERVER, 10, &b), 0);
    buf_free(&b);
}

/* ---- UTF-8 in text messages (the validator itself is core/utf8, tested in test_utf8) ---- */

static void test_utf8_messages(void)
{
    /* In messages: invalid text fails with 1007, binary is not checked. */
    buf_t b = BUF_INIT;
    recs r = { 0 };
    cframe(&b, WSF_OP_TEXT, true, "\xC0\x80", 2);
    CHECK_EQ_INT(feed_err(WSF_ROLE_SERVER, 0, &b), 1007);
    buf_reset(&b);
    cframe(&b, WSF_OP_BINARY, true, "\xC0\x80", 2);
    CHECK_EQ_INT(feed_err(WSF_ROLE_SERVER, 0, &b), 0);
    /* A character split across fragments is fine (Autobahn 6.4 valid counterpart). */
    const char *kosme = "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5";
    size_t kl = strlen(kosme);
    for (size_t cut = 0; cut <= kl; cut++) {
        buf_reset(&b);
        cframe(&b, WSF_OP_TEXT, false, kosme, cut);
        cframe(&b, WSF_OP_CONT, true, kosme + cut, kl - cut);
        feed_whole(WSF_ROLE_SERVER, 0, b.data, b.len, &r);
        CHECK_EQ_INT(r.err, 0);
        CHECK(r.n == 1 && r.v[0].len == kl && !memcmp(r.v[0].data, kosme, kl));
        recs_free(&r);
    }
    /* Fail fast across fragments (Autobahn 6.4.1-6.4.2): the first fragment is already
     * invalid, and the error comes before the rest of the message has arrived. */
    buf_reset(&b);
    cframe(&b, WSF_OP_TEXT, false, "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xF4\x90\x80\x80",
           15);
    size_t at = b.len;
    cframe(&b, WSF_OP_CONT, true, "edited", 6);
    feed_whole(WSF_ROLE_SERVER, 0, b.data, at, &r);
    CHECK_EQ_INT(r.err, 1007);
    recs_free(&r);
    /* A fragment that ends inside a character is fine until the last one does. */
    buf_reset(&b);
    cframe(&b, WSF_OP_TEXT, false, "ab\xE2\x82", 4);
    cframe(&b, WSF_OP_CONT, true, "", 0);
    CHECK_EQ_INT(feed_err(WSF_ROLE_SERVER, 0, &b), 1007);
    buf_reset(&b);
    cframe(&b, WSF_OP_TEXT, true, "ab\xE2\x82", 4);
    CHECK_EQ_INT(feed_err(WSF_ROLE_SERVER, 0, &b), 1007);
    /* A new text message starts from a clean state. */
    buf_reset(&b);
    cframe(&b, WSF_OP_TEXT, false, "a", 1);
    cframe(&b, WSF_OP_CONT, true, "\xE2\x82\xAC", 3);
    cframe(&b, WSF_OP_TEXT, false, "\xE2", 1);
    cframe(&b, WSF_OP_CONT, true, "\x82\xAC", 2);
    CHECK_EQ_INT(feed_err(WSF_ROLE_SERVER, 0, &b), 0);

    buf_free(&b);
}

/* ---- close frames --------------------------------------------------------------------- */

static int close_result(const uint8_t *pl, size_t n, recs *r)
{
    buf_t b = BUF_INIT;
    cframe(&b, WSF_OP_CLOSE, true, pl, n);
    feed_whole(WSF_ROLE_SERVER, 0, b.data, b.len, r);
    buf_free(&b);
    return r->err;
}

static void test_close_payloads(void)
{
    recs r = { 0 };
    CHECK_EQ_INT(close_result(NULL, 0, &r), 0);
    CHECK(r.n == 1 && r.v[0].type == WSF_EV_CLOSE && r.v[0].code == 1005 && r.v[0].len == 0);
    recs_free(&r);
    CHECK_EQ_INT(close_result((const uint8_t *)"\x03", 1, &r), 1002);
    recs_free(&r);
    CHECK_EQ_INT(close_result((const uint8_t *)"\x0F\xA1"
                                               "bye",
                              5, &r),
                 0);
    CHECK(r.n == 1 && r.v[0].code == 4001 && r.v[0].len == 3 && !memcmp(r.v[0].data, "bye", 3));
    recs_free(&r);
    static const unsigned valid[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                                      1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999 };
    static const unsigned invalid[] = { 0,    1,    999,  1004, 1005, 1006, 1015,
                                        1016, 1100, 2000, 2999, 5000, 65535 };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        uint8_t pl[2] = { (uint8_t)(valid[i] >> 8), (uint8_t)valid[i] };
        CHECK_EQ_INT(close_result(pl, 2, &r), 0);
        CHECK(r.n == 1 && r.v[0].code == (int)valid[i]);
        recs_free(&r);
        CHECK(wsf_close_code_valid(valid[i]));
    }
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        uint8_t pl[2] = { (uint8_t)(invalid[i] >> 8), (uint8_t)invalid[i] };
        CHECK_EQ_INT(close_result(pl, 2, &r), 1002);
        recs_free(&r);
        CHECK(!wsf_close_code_valid(invalid[i]));
    }
    CHECK_EQ_INT(close_result((const uint8_t *)"\x03\xE8\xC0\x80", 4, &r), 1007);
    recs_free(&r);
    uint8_t full[125] = { 0x03, 0xE8 };
    memset(full + 2, 'r', 123);
    CHECK_EQ_INT(close_result(full, 125, &r), 0);
    CHECK(r.n == 1 && r.v[0].len == 123);
    recs_free(&r);
}

static void test_close_writer(void)
{
    buf_t b = BUF_INIT;
    recs r = { 0 };
    char reason[200];
    /* 122 ASCII bytes and a two-byte character: 124 bytes, cut to 122. */
    memset(reason, 'a', 122);
    memcpy(reason + 122, "\xC3\xA9zz", 4);
    wsf_append_close(&b, 4001, reason, 126, NULL);
    CHECK_EQ_INT(b.len, 2 + 2 + 122);
    feed_whole(WSF_ROLE_CLIENT, 0, b.data, b.len, &r);
    CHECK(r.n == 1 && r.v[0].code == 4001 && r.v[0].len == 122);
    recs_free(&r);
    /* 121 ASCII + é fits exactly at 123. */
    buf_reset(&b);
    memset(reason, 'a', 121);
    memcpy(reason + 121, "\xC3\xA9zz", 4);
    wsf_append_close(&b, 1000, reason, 125, KEY);
    CHECK_EQ_INT(b.len, 2 + 4 + 125);
    feed_whole(WSF_ROLE_SERVER, 0, b.data, b.len, &r);
    CHECK(r.n == 1 && r.v[0].code == 1000 && r.v[0].len == 123);
    recs_free(&r);
    /* No status. */
    buf_reset(&b);
    wsf_append_close(&b, 1005, "ignored", 7, NULL);
    CHECK_EQ_INT(b.len, 2);
    buf_reset(&b);
    wsf_append_close(&b, 0, NULL, 0, NULL);
    CHECK_EQ_INT(b.len, 2);
    feed_whole(WSF_ROLE_CLIENT, 0, b.data, b.len, &r);
    CHECK(r.n == 1 && r.v[0].code == 1005);
    recs_free(&r);
    /* A code that may not be sent becomes 1011; an invalid reason is dropped. */
    buf_reset(&b);
    wsf_append_close(&b, 1006, "x", 1, NULL);
    feed_whole(WSF_ROLE_CLIENT, 0, b.data, b.len, &r);
    CHECK(r.n == 1 && r.v[0].code == 1011 && r.v[0].len == 1);
    recs_free(&r);
    buf_reset(&b);
    wsf_append_close(&b, 1000, "\xFF\xFE", 2, NULL);
    CHECK_EQ_INT(b.len, 4);
    buf_free(&b);
}

/* ---- input in pieces ------------------------------------------------------------------ */

static void build_stream(buf_t *b)
{
    static uint8_t mid[300];
    for (int i = 0; i < 300; i++)
        mid[i] = (uint8_t)i;
    cframe(b, WSF_OP_TEXT, true, "Hello", 5);
    cframe(b, WSF_OP_BINARY, true, mid, 300);
    cframe(b, WSF_OP_PING, true, "ping!", 5);
    cframe(b, WSF_OP_TEXT, false, "\xCE\xBA\xE1", 3);
    cframe(b, WSF_OP_PONG, true, "", 0);
    cframe(b, WSF_OP_CONT, false, "\xBD\xB9", 2);
    cframe(b, WSF_OP_CONT, true, "\xCF\x83", 2);
    cframe(b, WSF_OP_BINARY, true, "", 0);
    cframe(b, WSF_OP_CLOSE, true,
           "\x03\xE8"
           "done",
           6);
}

static void test_splits(void)
{
    buf_t b = BUF_INIT;
    build_stream(&b);
    recs ref = { 0 };
    feed_whole(WSF_ROLE_SERVER, 0, b.data, b.len, &ref);
    CHECK_EQ_INT(ref.err, 0);
    CHECK_EQ_INT(ref.n, 7);
    if (ref.n == 7) {
        CHECK_EQ_INT(ref.v[0].type, WSF_EV_TEXT);
        CHECK_EQ_INT(ref.v[1].type, WSF_EV_BINARY);
        CHECK_EQ_INT(ref.v[1].len, 300);
        CHECK_EQ_INT(ref.v[2].type, WSF_EV_PING);
        CHECK_EQ_INT(ref.v[3].type, WSF_EV_PONG);
        CHECK_EQ_INT(ref.v[4].type, WSF_EV_TEXT);
        CHECK_MEM(ref.v[4].data, "\xCE\xBA\xE1\xBD\xB9\xCF\x83", 7);
        CHECK_EQ_INT(ref.v[5].type, WSF_EV_BINARY);
        CHECK_EQ_INT(ref.v[6].type, WSF_EV_CLOSE);
        CHECK_EQ_INT(ref.v[6].code, 1000);
    }
    /* Every single cut point, then every pair of cut points 13 bytes apart, then bytewise. */
    size_t mismatches = 0;
    for (size_t k = 0; k <= b.len; k++) {
        recs r = { 0 };
        feed_split(WSF_ROLE_SERVER, 0, b.data, b.len, &k, 1, &r);
        mismatches += !recs_equal(&ref, &r);
        recs_free(&r);
    }
    for (size_t k = 0; k + 13 <= b.len; k++) {
        size_t cuts[2] = { k, k + 13 };
        recs r = { 0 };
        feed_split(WSF_ROLE_SERVER, 0, b.data, b.len, cuts, 2, &r);
        mismatches += !recs_equal(&ref, &r);
        recs_free(&r);
    }
    size_t *all = sx_malloc(b.len * sizeof *all);
    for (size_t k = 0; k < b.len; k++)
        all[k] = k;
    recs r = { 0 };
    feed_split(WSF_ROLE_SERVER, 0, b.data, b.len, all, b.len, &r);
    mismatches += !recs_equal(&ref, &r);
    recs_free(&r);
    CHECK_EQ_INT(mismatches, 0);
    free(all);

    /* c->need reports the size of a partially received frame. */
    wsf_conn c;
    wsf_conn_init(&c, WSF_ROLE_SERVER, 0);
    buf_t f = BUF_INIT;
    static uint8_t big[70000];
    cframe(&f, WSF_OP_BINARY, true, big, sizeof big);
    size_t used;
    wsf_event ev;
    CHECK_EQ_INT(wsf_feed(&c, f.data, 5, &used, &ev), WSF_AGAIN);
    CHECK_EQ_INT(c.need, 0);
    CHECK_EQ_INT(wsf_feed(&c, f.data, 20, &used, &ev), WSF_AGAIN);
    CHECK_EQ_INT(used, 0);
    CHECK_EQ_INT(c.need, f.len);
    CHECK_EQ_INT(wsf_feed(&c, f.data, f.len, &used, &ev), WSF_OK);
    CHECK_EQ_INT(used, f.len);
    CHECK(ev.data == f.data + 14);
    wsf_conn_free(&c);
    buf_free(&f);
    recs_free(&ref);
    buf_free(&b);
}

static void test_many_frames(void)
{
    buf_t b = BUF_INIT;
    char m[32];
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(m, sizeof m, "msg %d", i);
        cframe(&b, i % 2 ? WSF_OP_BINARY : WSF_OP_TEXT, true, m, (size_t)n);
    }
    recs r = { 0 };
    feed_whole(WSF_ROLE_SERVER, 0, b.data, b.len, &r);
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_INT(r.n, 1000);
    CHECK_EQ_INT(r.frames_in_place, 1000);
    size_t wrong = 0;
    for (size_t i = 0; i < r.n; i++) {
        int n = snprintf(m, sizeof m, "msg %zu", i);
        wrong += r.v[i].len != (size_t)n || memcmp(r.v[i].data, m, (size_t)n) ||
                 r.v[i].type != (i % 2 ? WSF_EV_BINARY : WSF_EV_TEXT);
    }
    CHECK_EQ_INT(wrong, 0);
    recs_free(&r);

    /* The same straight from one read buffer, without consuming between events, as the
     * transport does when it parses in place. */
    wsf_conn c;
    wsf_conn_init(&c, WSF_ROLE_SERVER, 0);
    size_t off = 0, count = 0;
    for (;;) {
        size_t used;
        wsf_event ev;
        int rc = wsf_feed(&c, b.data + off, b.len - off, &used, &ev);
        off += used;
        if (rc != WSF_OK)
            break;
        count++;
    }
    CHECK_EQ_INT(count, 1000);
    CHECK_EQ_INT(off, b.len);
    wsf_conn_free(&c);

    /* A 1 MiB message in one frame and in 16 fragments, both roles. */
    size_t n = 1 << 20;
    uint8_t *big = sx_malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (uint8_t)(i * 13);
    for (int role = 0; role < 2; role++) {
        const uint8_t *mask = role == WSF_ROLE_SERVER ? KEY : NULL;
        buf_reset(&b);
        wsf_append_frame(&b, WSF_OP_BINARY, big, n, mask);
        for (int i = 0; i < 16; i++)
            wsf_append_frame_ex(&b, i ? WSF_OP_CONT : WSF_OP_BINARY, i == 15, big + i * (n / 16),
                                n / 16, mask);
        feed_whole((enum wsf_role)role, 0, b.data, b.len, &r);
        CHECK_EQ_INT(r.err, 0);
        CHECK_EQ_INT(r.n, 2);
        CHECK(r.n == 2 && r.v[0].len == n && !memcmp(r.v[0].data, big, n));
        CHECK(r.n == 2 && r.v[1].len == n && !memcmp(r.v[1].data, big, n));
        recs_free(&r);
    }
    free(big);
    buf_free(&b);
}

int main(void)
{
    test_rfc_examples();
    test_lengths();
    test_mask();
    test_roles_and_header_rules();
    test_fragmentation();
    test_size_cap();
    test_utf8_messages();
    test_close_payloads();
    test_close_writer();
    test_splits();
    test_many_frames();
    return T_DONE();
}
