/* Fuzzes the WebSocket frame codec. The first byte picks the role, the message cap and the
 * mode; the second seeds the split points.
 *
 * Stream mode feeds the rest through a wsf_conn twice, whole and in pieces, as a transport
 * would, and requires the same events and the same error either way, plus the module's
 * promises: text is valid UTF-8, control payloads fit in 125 bytes, messages respect the cap,
 * close codes are valid. Round-trip mode reads the input as a script of messages, encodes them
 * with the writers (fragmented or not, masked per role), and requires the peer role's parser
 * to give them back exactly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "net/ws_frame.h"

#define MAX_EVENTS 4096

typedef struct ev_sig {
    int type;
    int code;
    size_t len;
    uint64_t hash;
} ev_sig;

typedef struct trace {
    ev_sig v[MAX_EVENTS];
    size_t n;
    int err;
    size_t consumed;
} trace;

static uint64_t fnv(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static uint32_t rng_next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void check_event(const wsf_event *ev, size_t max)
{
    switch (ev->type) {
    case WSF_EV_TEXT:
        if (!utf8_valid(ev->data, ev->len))
            abort();
        /* fall through */
    case WSF_EV_BINARY:
        if (ev->len > max)
            abort();
        break;
    case WSF_EV_PING:
    case WSF_EV_PONG:
        if (ev->len > WSF_MAX_CONTROL)
            abort();
        break;
    case WSF_EV_CLOSE:
        if (ev->len > WSF_MAX_CLOSE_REASON || !utf8_valid(ev->data, ev->len))
            abort();
        if (ev->code != WSF_CLOSE_NO_STATUS && !wsf_close_code_valid(ev->code))
            abort();
        if (ev->code == WSF_CLOSE_NO_STATUS && ev->len)
            abort();
        break;
    default:
        abort();
    }
}

/* Runs the stream through a transport-like input buffer, cut into pieces by the seed (or
 * whole when seed is 0). */
static void run(enum wsf_role role, size_t max, const uint8_t *p, size_t n, uint32_t seed,
                trace *t)
{
    wsf_conn c;
    buf_t in = BUF_INIT;
    size_t off = 0;
    wsf_conn_init(&c, role, max);
    t->n = 0;
    t->err = 0;
    t->consumed = 0;
    while (off < n && !t->err) {
        size_t chunk = n - off;
        if (seed) {
            uint32_t r = rng_next(&seed);
            chunk = 1 + (r % 4 == 0 ? r % 300 : r % 9);
            if (chunk > n - off)
                chunk = n - off;
        }
        buf_append(&in, p + off, chunk);
        off += chunk;
        for (;;) {
            size_t used;
            wsf_event ev;
            int rc = wsf_feed(&c, in.data, in.len, &used, &ev);
            if (used > in.len)
                abort();
            if (rc == WSF_ERR) {
                if (!ev.reason || (ev.code != 1002 && ev.code != 1007 && ev.code != 1009))
                    abort();
                t->err = ev.code;
                break;
            }
            if (rc == WSF_OK) {
                check_event(&ev, c.max_message);
                if (t->n < MAX_EVENTS) {
                    ev_sig *s = &t->v[t->n++];
                    s->type = ev.type;
                    s->code = ev.code;
                    s->len = ev.len;
                    s->hash = fnv(ev.data, ev.len);
                }
            }
            t->consumed += used;
            buf_consume(&in, used);
            if (rc == WSF_AGAIN) {
                if (c.need && c.need <= in.len)
                    abort();
                break;
            }
        }
    }
    wsf_conn_free(&c);
    buf_free(&in);
}

static trace t_whole, t_split;

static void stream_mode(enum wsf_role role, size_t max, const uint8_t *p, size_t n, uint32_t seed)
{
    run(role, max, p, n, 0, &t_whole);
    run(role, max, p, n, seed | 1, &t_split);
    if (t_whole.n != t_split.n || t_whole.err != t_split.err)
        abort();
    if (memcmp(t_whole.v, t_split.v, t_whole.n * sizeof t_whole.v[0]) != 0)
        abort();
    if (!t_whole.err && t_whole.consumed != t_split.consumed)
        abort();
}

/* Encodes messages described by the input and checks that they come back unchanged. */
static void roundtrip_mode(enum wsf_role role, const uint8_t *p, size_t n, uint32_t seed)
{
    static const uint8_t key0[4] = { 0, 0, 0, 0 };
    uint8_t key[4];
    const uint8_t *mask = NULL;
    enum wsf_role peer = role == WSF_ROLE_SERVER ? WSF_ROLE_CLIENT : WSF_ROLE_SERVER;
    buf_t wire = BUF_INIT;
    trace *want = &t_whole;
    want->n = 0;
    size_t i = 0;
    while (i + 2 <= n && want->n < 64) {
        uint8_t op = p[i], len = p[i + 1];
        i += 2;
        size_t avail = n - i < len ? n - i : len;
        const uint8_t *pl = p + i;
        i += avail;
        /* A client masks with the caller's key; vary it, including all zeroes. */
        if (role == WSF_ROLE_CLIENT) {
            uint32_t r = rng_next(&seed);
            memcpy(key, r % 5 ? (const uint8_t *)&r : key0, 4);
            mask = key;
        }
        ev_sig *s = &want->v[want->n];
        switch (op % 5) {
        case 0:   /* binary, cut into up to 4 fragments with pings in between */
        case 1: { /* text: the payload made valid by trimming it to its valid prefix */
            size_t len2 = avail;
            if (op % 5 == 1)
                while (len2 && !utf8_valid(pl, len2))
                    len2--;
            size_t nfrag = 1 + (op >> 4) % 4, at = 0;
            for (size_t f = 0; f < nfrag; f++) {
                size_t piece = f + 1 == nfrag ? len2 - at : (len2 - at) / 2;
                wsf_append_frame_ex(&wire, f ? WSF_OP_CONT : (op % 5 ? WSF_OP_TEXT : WSF_OP_BINARY),
                                    f + 1 == nfrag, pl + at, piece, mask);
                at += piece;
                if (f + 1 < nfrag && (op & 8))
                    wsf_append_frame(&wire, WSF_OP_PONG, "", 0, mask);
            }
            if (nfrag > 1 && (op & 8))
                for (size_t f = 0; f + 1 < nfrag; f++) {
                    /* The pongs come first: they are delivered as they arrive. */
                    s->type = WSF_EV_PONG;
                    s->code = 0;
                    s->len = 0;
                    s->hash = fnv(NULL, 0);
                    s = &want->v[++want->n];
                }
            s->type = op % 5 ? WSF_EV_TEXT : WSF_EV_BINARY;
            s->code = 0;
            s->len = len2;
            s->hash = fnv(pl, len2);
            break;
        }
        case 2:
        case 3: {
            size_t l = avail > WSF_MAX_CONTROL ? WSF_MAX_CONTROL : avail;
            wsf_append_frame(&wire, op % 5 == 2 ? WSF_OP_PING : WSF_OP_PONG, pl, l, mask);
            s->type = op % 5 == 2 ? WSF_EV_PING : WSF_EV_PONG;
            s->code = 0;
            s->len = l;
            s->hash = fnv(pl, l);
            break;
        }
        default: {
            /* The close writer must always produce a frame the peer accepts. */
            uint16_t code = (uint16_t)(op << 8 | len);
            size_t before = wire.len;
            wsf_append_close(&wire, code, (const char *)pl, avail, mask);
            uint8_t *fr = wire.data + before;
            size_t fl = wire.len - before;
            wsf_frame f;
            uint8_t copy[WSF_MAX_HEADER + WSF_MAX_CONTROL];
            memcpy(copy, fr, fl);
            if (wsf_parse_frame(peer, copy, fl, 0, &f) != WSF_OK || f.frame_len != fl)
                abort();
            s->type = WSF_EV_CLOSE;
            s->code = f.len ? (f.payload[0] << 8 | f.payload[1]) : WSF_CLOSE_NO_STATUS;
            s->len = f.len ? (size_t)f.len - 2 : 0;
            s->hash = fnv(f.len ? f.payload + 2 : NULL, s->len);
            if (code != 0 && code != WSF_CLOSE_NO_STATUS && wsf_close_code_valid(code) &&
                s->code != code)
                abort();
            break;
        }
        }
        want->n++;
    }
    run(peer, 0, wire.data, wire.len, seed | 1, &t_split);
    if (t_split.err || t_split.n != want->n ||
        memcmp(t_split.v, want->v, want->n * sizeof want->v[0]) != 0)
        abort();
    buf_free(&wire);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static const size_t caps[4] = { 0, 64, 1000, 1 << 20 };
    enum wsf_role role = data[0] & 1 ? WSF_ROLE_CLIENT : WSF_ROLE_SERVER;
    size_t max = caps[(data[0] >> 1) & 3];
    uint32_t seed = 0x9e3779b9u * (uint32_t)(data[1] + 1);
    if (data[0] & 8)
        roundtrip_mode(role, data + 2, size - 2, seed);
    else
        stream_mode(role, max, data + 2, size - 2, seed);
    return 0;
}
