/* The WebSocket opening handshake: validation, Sec-WebSocket-Accept, subprotocols, the 101. */
#include "net/ws_handshake.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/base64.h"

static int wsh_fail(wsh_result *res, int status, const char *reason, const char *extra)
{
    res->status = status;
    res->reason = reason;
    res->extra_headers = extra;
    return status;
}

static bool wsh_name_is(const hreq_hdr *h, const char *name)
{
    size_t n = strlen(name);
    return h->name.len == n && strncasecmp((const char *)h->name.p, name, n) == 0;
}

/* The only header of this name with surrounding whitespace trimmed; false when the header is
 * missing or repeated, since a repeated key or version is ambiguous. */
static bool wsh_single(const hreq *r, const char *name, slice_t *out)
{
    size_t found = 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        if (!wsh_name_is(&r->headers[i], name))
            continue;
        if (found++)
            return false;
        *out = r->headers[i].value;
    }
    if (!found)
        return false;
    while (out->len && (out->p[0] == ' ' || out->p[0] == '\t')) {
        out->p++;
        out->len--;
    }
    while (out->len && (out->p[out->len - 1] == ' ' || out->p[out->len - 1] == '\t'))
        out->len--;
    return true;
}

/* 16 bytes in base64 are exactly 22 characters of the alphabet followed by "==". The unused low
 * bits of the last character are not checked, as common servers do not check them either. */
static bool wsh_key_valid(const slice_t *k)
{
    if (k->len != 24 || k->p[22] != '=' || k->p[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++)
        if (!base64_char(k->p[i]))
            return false;
    return true;
}

int wsh_check(const hreq *r, wsh_result *res)
{
    slice_t version, key;

    res->status = 0;
    res->reason = NULL;
    res->extra_headers = NULL;
    res->accept[0] = 0;
    if (!r->method || strcmp(r->method, "GET") != 0)
        return wsh_fail(res, 400, "WebSocket upgrade needs GET", NULL);
    if (r->http_major != 1 || r->http_minor < 1)
        return wsh_fail(res, 400, "WebSocket upgrade needs HTTP/1.1", NULL);
    if (!hreq_header_has_token(r, "upgrade", "websocket"))
        return wsh_fail(res, 400, "missing Upgrade: websocket", NULL);
    if (!hreq_header_has_token(r, "connection", "upgrade"))
        return wsh_fail(res, 400, "missing Connection: upgrade", NULL);
    if (!wsh_single(r, "sec-websocket-version", &version) || version.len != 2 ||
        memcmp(version.p, "13", 2) != 0)
        return wsh_fail(res, 426, "unsupported Sec-WebSocket-Version",
                        "Sec-WebSocket-Version: 13\r\n");
    if (!wsh_single(r, "sec-websocket-key", &key) || !wsh_key_valid(&key))
        return wsh_fail(res, 400, "invalid Sec-WebSocket-Key", NULL);
    wsh_accept_key((const char *)key.p, key.len, res->accept);
    return 0;
}

void wsh_accept_key(const char *key, size_t len, char out[WSH_ACCEPT_LEN + 1])
{
    static const char guid[] = WSH_GUID;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) || !EVP_DigestUpdate(ctx, key, len) ||
        !EVP_DigestUpdate(ctx, guid, sizeof guid - 1) || !EVP_DigestFinal_ex(ctx, md, &mdlen) ||
        mdlen != 20) {
        /* SHA-1 is always built into libcrypto, so this can only be a failed allocation,
         * which sett treats as fatal everywhere. */
        fprintf(stderr, "sett: SHA-1 digest failed (out of memory)\n");
        abort();
    }
    EVP_MD_CTX_free(ctx);
    out[base64_encode_to(out, md, 20)] = 0;
}

bool wsh_protocol_next(const slice_t *value, size_t *pos, slice_t *tok)
{
    size_t i = *pos;
    while (i < value->len && (value->p[i] == ',' || value->p[i] == ' ' || value->p[i] == '\t'))
        i++;
    if (i == value->len) {
        *pos = i;
        return false;
    }
    size_t s = i;
    while (i < value->len && value->p[i] != ',' && value->p[i] != ' ' && value->p[i] != '\t')
        i++;
    tok->p = value->p + s;
    tok->len = i - s;
    *pos = i;
    return true;
}

void wsh_offers_init(wsh_offers *o)
{
    o->v = NULL;
    o->n = o->cap = 0;
}

void wsh_offers_free(wsh_offers *o)
{
    free(o->v);
    wsh_offers_init(o);
}

size_t wsh_offers_parse(wsh_offers *o, const hreq *r)
{
    o->n = 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        if (!wsh_name_is(&r->headers[i], "sec-websocket-protocol"))
            continue;
        size_t pos = 0;
        slice_t tok;
        while (wsh_protocol_next(&r->headers[i].value, &pos, &tok)) {
            if (o->n == o->cap) {
                o->cap = o->cap ? o->cap * 2 : 8;
                o->v = sx_realloc(o->v, o->cap * sizeof *o->v);
            }
            o->v[o->n++] = tok;
        }
    }
    return o->n;
}

const slice_t *wsh_select_protocol(const wsh_offers *o, const char *const *preferred)
{
    for (; preferred && *preferred; preferred++) {
        size_t n = strlen(*preferred);
        for (size_t i = 0; i < o->n; i++)
            if (o->v[i].len == n && memcmp(o->v[i].p, *preferred, n) == 0)
                return &o->v[i];
    }
    return o->n ? &o->v[0] : NULL;
}

void wsh_build_101(buf_t *out, const char *accept, const char *proto, size_t proto_len,
                   const char *extra)
{
    static const char head[] =
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Accept: ";
    buf_append(out, head, sizeof head - 1);
    buf_append(out, accept, strlen(accept));
    buf_append(out, "\r\n", 2);
    if (proto) {
        buf_append_str(out, "Sec-WebSocket-Protocol: ");
        buf_append(out, proto, proto_len);
        buf_append(out, "\r\n", 2);
    }
    if (extra)
        buf_append_str(out, extra);
    buf_append(out, "\r\n", 2);
}
