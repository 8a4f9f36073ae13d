/* The server side of the RFC 6455 opening handshake, free of I/O: it validates a parsed upgrade
 * request, computes Sec-WebSocket-Accept, splits the offered subprotocols byte for byte (any
 * number, any length: the only limit is the request head cap), picks one, and writes the 101.
 *
 * Extensions (permessage-deflate included) are never negotiated: the 101 carries no
 * Sec-WebSocket-Extensions, so a conforming client sends frames with the reserved bits clear. */
#ifndef SETT_NET_WS_HANDSHAKE_H
#define SETT_NET_WS_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "net/http_req.h"

#define WSH_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
/* base64 of a SHA-1 digest. */
#define WSH_ACCEPT_LEN 28

typedef struct wsh_result {
    /* 0 when the request is a valid upgrade, else the HTTP status to answer: 400, or 426 for a
     * missing or unsupported Sec-WebSocket-Version. */
    int status;
    const char *reason; /* static */
    /* Header lines the error response must carry ("Sec-WebSocket-Version: 13\r\n" with 426),
     * or NULL. */
    const char *extra_headers;
    char accept[WSH_ACCEPT_LEN + 1]; /* on success, NUL-terminated */
} wsh_result;

/* Validates the upgrade in this order: method GET, HTTP/1.1 or later, an Upgrade header with the
 * token "websocket" and a Connection header with the token "upgrade" (both case-insensitive,
 * in any of their repeated headers), exactly one Sec-WebSocket-Version equal to 13 (else 426),
 * and exactly one Sec-WebSocket-Key that is 16 bytes in base64 (22 characters then "=="), with
 * surrounding whitespace ignored. Returns res->status. */
int wsh_check(const hreq *r, wsh_result *res);

/* Computes Sec-WebSocket-Accept for a key: base64(SHA-1(key + WSH_GUID)), NUL-terminated. */
void wsh_accept_key(const char *key, size_t len, char out[WSH_ACCEPT_LEN + 1]);

/* The next subprotocol token of one header value, from *pos on; tokens are separated by commas,
 * spaces and tabs and kept byte for byte. Returns false at the end. Needs no allocation. */
bool wsh_protocol_next(const slice_t *value, size_t *pos, slice_t *tok);

/* The offered subprotocols of one request, in order, across repeated Sec-WebSocket-Protocol
 * headers. The slices point into the request and live as long as it does; the array is the
 * caller's and is reused. */
typedef struct wsh_offers {
    slice_t *v;
    size_t n;
    size_t cap;
} wsh_offers;

void wsh_offers_init(wsh_offers *o);
void wsh_offers_free(wsh_offers *o);
/* Replaces o's contents with the request's offers and returns how many there are. */
size_t wsh_offers_parse(wsh_offers *o, const hreq *r);
/* The offer to answer with: the first name of `preferred` (a NULL-terminated list, compared
 * byte for byte since subprotocol names are case-sensitive) that was offered, else the first
 * offer, else NULL when nothing was offered. */
const slice_t *wsh_select_protocol(const wsh_offers *o, const char *const *preferred);

/* Appends the 101 response: Upgrade, Connection, Sec-WebSocket-Accept, Sec-WebSocket-Protocol
 * when proto is not NULL, then `extra` (complete header lines ending in CRLF, or NULL), then the
 * blank line. */
void wsh_build_101(buf_t *out, const char *accept, const char *proto, size_t proto_len,
                   const char *extra);

#endif
