/* Fuzzes the HTTP request parser, the server rules the transport applies to each head
 * (hreq_server_check), and what the gateway runs on each request: the WebSocket
 * handshake checks, the subprotocol list and the target helpers. The first byte picks the
 * caps, the second seeds the split points. The input is parsed whole and in pieces, and both
 * must give the same requests and the same error status. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_req.h"
#include "net/url.h"
#include "net/ws_handshake.h"

#define MAX_REQS 64

typedef struct trace {
    uint64_t sig[MAX_REQS];
    size_t n;
    int status;
} trace;

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return (h ^ n) * 1099511628211ull;
}

static uint32_t rng_next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Checks the promises about a parsed request and runs the per-request helpers on it. */
static uint64_t inspect(const hreq *r)
{
    uint64_t h = 1469598103934665603ull;
    if (!r->method || r->http_major != 1)
        abort();
    if (r->url.p[r->url.len] != 0 || memchr(r->url.p, 0, r->url.len))
        abort();
    h = mix(h, r->method, strlen(r->method));
    h = mix(h, r->url.p, r->url.len);
    for (size_t i = 0; i < r->nheaders; i++) {
        const hreq_hdr *x = &r->headers[i];
        if (x->name.len == 0 || x->name.p[x->name.len] != 0 || x->value.p[x->value.len] != 0)
            abort();
        if (hreq_header(r, (const char *)x->name.p) == NULL)
            abort();
        h = mix(h, x->name.p, x->name.len);
        h = mix(h, x->value.p, x->value.len);
    }
    h = mix(h, r->body.p, r->body.len);
    uint8_t flags[5] = { r->keep_alive, r->upgrade, r->chunked, r->expect_continue,
                         (uint8_t)r->http_minor };
    h = mix(h, flags, sizeof flags);
    if (r->body.len > r->max_body)
        abort();

    wsh_result res;
    int st = wsh_check(r, &res);
    if (st != 0 && st != 400 && st != 426)
        abort();
    if (st == 0 && strlen(res.accept) != WSH_ACCEPT_LEN)
        abort();
    wsh_offers o;
    wsh_offers_init(&o);
    wsh_offers_parse(&o, r);
    static const char *const pref[] = { "rivet", NULL };
    const slice_t *sel = wsh_select_protocol(&o, pref);
    if ((sel == NULL) != (o.n == 0))
        abort();
    for (size_t i = 0; i < o.n; i++)
        if (o.v[i].len == 0 || memchr(o.v[i].p, ',', o.v[i].len) || memchr(o.v[i].p, ' ', o.v[i].len))
            abort();
    buf_t out = BUF_INIT;
    if (st == 0)
        wsh_build_101(&out, res.accept, sel ? (const char *)sel->p : NULL, sel ? sel->len : 0, NULL);
    buf_reset(&out);
    hreq_header_join(r, "sec-websocket-protocol", &out);
    wsh_offers_free(&o);

    url_parts u;
    url_split((const char *)r->url.p, r->url.len, &u);
    size_t pos = 0;
    slice_t seg, name, value;
    char tmp[256];
    while (url_path_next(&u.path, &pos, &seg)) {
        size_t n;
        if (seg.len <= sizeof tmp)
            url_decode_segment((const char *)seg.p, seg.len, tmp, &n, 0);
    }
    url_query_get(&u.query, "protocol_version", &out);
    pos = 0;
    while (url_query_next(&u.query, &pos, &name, &value))
        ;
    buf_free(&out);
    return h;
}

static void run(const uint8_t *p, size_t n, size_t max_head, size_t max_body, uint32_t seed,
                trace *t)
{
    hreq r;
    buf_t in = BUF_INIT;
    size_t off = 0;
    hreq_init(&r);
    r.max_head = max_head;
    r.max_body = max_body;
    t->n = 0;
    t->status = 0;
    while (off < n) {
        size_t chunk = n - off;
        if (seed) {
            uint32_t x = rng_next(&seed);
            chunk = 1 + (x % 4 == 0 ? x % 200 : x % 7);
            if (chunk > n - off)
                chunk = n - off;
        }
        buf_append(&in, p + off, chunk);
        off += chunk;
        while (in.len) {
            size_t used;
            int rc = hreq_feed(&r, (const char *)in.data, in.len, &used);
            if (used > in.len)
                abort();
            if (rc == HREQ_ERROR) {
                if (!r.reason || (r.status != 400 && r.status != 413 && r.status != 431 &&
                                  r.status != 501 && r.status != 505))
                    abort();
                t->status = r.status;
                goto done;
            }
            if (rc == HREQ_DONE && t->n < MAX_REQS) {
                /* What the transport does next: the server rules, then the handler. */
                size_t before = r.url.len;
                if (hreq_server_check(&r) != 0) {
                    if (!r.reason || (r.status != 400 && r.status != 501))
                        abort();
                    t->status = r.status;
                    goto done;
                }
                if (r.url.len > before || r.url.len == 0 ||
                    (r.url.p[0] != '/' && !(r.url.len == 1 && r.url.p[0] == '*')))
                    abort();
                t->sig[t->n++] = inspect(&r);
                buf_consume(&in, used);
                /* An accepted upgrade ends HTTP on the connection. */
                if (r.upgrade)
                    goto done;
                continue;
            }
            buf_consume(&in, used);
            if (rc == HREQ_AGAIN)
                break;
        }
    }
done:
    hreq_free(&r);
    buf_free(&in);
}

static trace t_whole, t_split;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static const size_t heads[4] = { 64, 300, 4096, HREQ_DEFAULT_MAX_HEAD };
    static const size_t bodies[4] = { 0, 16, 1000, HREQ_DEFAULT_MAX_BODY };
    size_t max_head = heads[data[0] & 3], max_body = bodies[(data[0] >> 2) & 3];
    uint32_t seed = 0x9e3779b9u * (uint32_t)(data[1] + 1);
    run(data + 2, size - 2, max_head, max_body, 0, &t_whole);
    run(data + 2, size - 2, max_head, max_body, seed | 1, &t_split);
    if (t_whole.n != t_split.n || t_whole.status != t_split.status ||
        memcmp(t_whole.sig, t_split.sig, t_whole.n * sizeof t_whole.sig[0]) != 0)
        abort();
    return 0;
}
