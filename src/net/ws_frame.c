/* The RFC 6455 frame codec: parser, assembler and writers. See ws_frame.h for the contract;
 * the comments here say why the code is shaped as it is. */
#include "net/ws_frame.h"

#include <string.h>

/* ---- Frames --------------------------------------------------------------------------- */

static int wsf_frame_fail(wsf_frame *f, uint16_t code, const char *reason)
{
    f->code = code;
    f->reason = reason;
    return WSF_ERR;
}

/* Parses and checks a frame header without looking at the payload or the size cap, so that the
 * assembler can apply its own cap (which counts earlier fragments) before waiting for bytes. */
static int wsf_parse_header(enum wsf_role role, const uint8_t *p, size_t len, wsf_frame *f)
{
    f->frame_len = 0;
    f->payload = NULL;
    if (len < 1)
        return WSF_AGAIN;
    uint8_t b0 = p[0];
    f->fin = b0 >> 7;
    f->opcode = b0 & 0x0F;
    if (b0 & 0x70)
        return wsf_frame_fail(f, WSF_CLOSE_PROTOCOL, "reserved bits set without an extension");
    switch (f->opcode) {
    case WSF_OP_CONT:
    case WSF_OP_TEXT:
    case WSF_OP_BINARY:
    case WSF_OP_CLOSE:
    case WSF_OP_PING:
    case WSF_OP_PONG: break;
    default: return wsf_frame_fail(f, WSF_CLOSE_PROTOCOL, "unknown opcode");
    }
    bool control = f->opcode & 0x08;
    if (control && !f->fin)
        return wsf_frame_fail(f, WSF_CLOSE_PROTOCOL, "fragmented control frame");
    if (len < 2)
        return WSF_AGAIN;
    uint8_t b1 = p[1];
    f->masked = b1 >> 7;
    uint64_t n = b1 & 0x7F;
    if (control && n > WSF_MAX_CONTROL)
        return wsf_frame_fail(f, WSF_CLOSE_PROTOCOL, "control frame longer than 125 bytes");
    if (role == WSF_ROLE_SERVER && !f->masked)
        return wsf_frame_fail(f, WSF_CLOSE_PROTOCOL, "client frame not masked");
    if (role == WSF_ROLE_CLIENT && f->masked)
        return wsf_frame_fail(f, WSF_CLOSE_PROTOCOL, "server frame masked");
    size_t hl = 2;
    if (n == 126) {
        if (len < 4)
            return WSF_AGAIN;
        n = (uint64_t)p[2] << 8 | p[3];
        hl = 4;
    } else if (n == 127) {
        if (len < 10)
            return WSF_AGAIN;
        n = 0;
        for (int i = 0; i < 8; i++)
            n = n << 8 | p[2 + i];
        if (n >> 63)
            return wsf_frame_fail(f, WSF_CLOSE_PROTOCOL, "payload length with the top bit set");
        hl = 10;
    }
    /* Non-minimal length encodings are accepted: the RFC asks senders for the minimal form but
     * gives a receiver no reason to fail, and the length itself is unambiguous. */
    if (f->masked) {
        if (len < hl + 4)
            return WSF_AGAIN;
        memcpy(f->mask, p + hl, 4);
        hl += 4;
    }
    f->header_len = (uint8_t)hl;
    f->len = n;
    return WSF_OK;
}

int wsf_parse_frame(enum wsf_role role, uint8_t *p, size_t len, uint64_t max_payload, wsf_frame *f)
{
    int rc = wsf_parse_header(role, p, len, f);
    if (rc != WSF_OK)
        return rc;
    if (!(f->opcode & 0x08) && f->len > max_payload)
        return wsf_frame_fail(f, WSF_CLOSE_TOO_BIG, "message too big");
    f->frame_len = f->header_len + f->len;
    if ((uint64_t)(len - f->header_len) < f->len)
        return WSF_AGAIN;
    f->payload = p + f->header_len;
    if (f->masked)
        wsf_mask(f->payload, (size_t)f->len, f->mask, 0);
    return WSF_OK;
}

size_t wsf_write_header(uint8_t *dst, unsigned opcode, bool fin, uint64_t payload_len,
                        const uint8_t mask[4])
{
    uint8_t m = mask ? 0x80 : 0;
    size_t n;
    dst[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0F));
    if (payload_len < 126) {
        dst[1] = (uint8_t)(m | payload_len);
        n = 2;
    } else if (payload_len <= 0xFFFF) {
        dst[1] = m | 126;
        dst[2] = (uint8_t)(payload_len >> 8);
        dst[3] = (uint8_t)payload_len;
        n = 4;
    } else {
        dst[1] = m | 127;
        for (int i = 0; i < 8; i++)
            dst[2 + i] = (uint8_t)(payload_len >> (56 - 8 * i));
        n = 10;
    }
    if (mask) {
        memcpy(dst + n, mask, 4);
        n += 4;
    }
    return n;
}

/* Spreads the key, rotated to the payload offset, over a 64-bit word. Building it from bytes
 * in memory order keeps it right on any endianness. */
static uint64_t wsf_key64(const uint8_t key[4], uint64_t offset, uint8_t k[4])
{
    for (int i = 0; i < 4; i++)
        k[i] = key[(i + offset) & 3];
    uint8_t w[8] = { k[0], k[1], k[2], k[3], k[0], k[1], k[2], k[3] };
    uint64_t k64;
    memcpy(&k64, w, 8);
    return k64;
}

void wsf_mask(uint8_t *p, size_t len, const uint8_t key[4], uint64_t offset)
{
    uint8_t k[4];
    uint64_t k64 = wsf_key64(key, offset, k);
    size_t i = 0;
    /* Word-sized XORs through memcpy: alignment-safe, and the compiler turns the loop into
     * vector code. The tail starts at a multiple of 8, so k[i & 3] lines up with the key. */
    for (; i + 32 <= len; i += 32) {
        uint64_t v[4];
        memcpy(v, p + i, 32);
        v[0] ^= k64;
        v[1] ^= k64;
        v[2] ^= k64;
        v[3] ^= k64;
        memcpy(p + i, v, 32);
    }
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        v ^= k64;
        memcpy(p + i, &v, 8);
    }
    for (; i < len; i++)
        p[i] ^= k[i & 3];
}

/* Copies and masks in one pass, so a client frame costs one walk over the payload. */
static void wsf_mask_copy(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4])
{
    uint8_t k[4];
    uint64_t k64 = wsf_key64(key, 0, k);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, src + i, 8);
        v ^= k64;
        memcpy(dst + i, &v, 8);
    }
    for (; i < len; i++)
        dst[i] = src[i] ^ k[i & 3];
}

void wsf_append_frame_ex(buf_t *b, unsigned opcode, bool fin, const void *payload, size_t len,
                         const uint8_t mask[4])
{
    uint8_t *d = buf_reserve(b, WSF_MAX_HEADER + len);
    size_t h = wsf_write_header(d, opcode, fin, len, mask);
    if (len) {
        if (mask)
            wsf_mask_copy(d + h, payload, len, mask);
        else
            memcpy(d + h, payload, len);
    }
    b->len += h + len;
}

void wsf_append_frame(buf_t *b, unsigned opcode, const void *payload, size_t len,
                      const uint8_t mask[4])
{
    wsf_append_frame_ex(b, opcode, true, payload, len, mask);
}

bool wsf_close_code_valid(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

/* Codes that must not go on the wire (1004-1006, 1015, anything unregistered) become 1011:
 * sending them would make the peer fail the connection with 1002 instead of seeing a close.
 * 0 and 1005 mean "no status" and send an empty payload, which the peer reads as 1005. */
void wsf_append_close(buf_t *b, uint16_t code, const char *reason, size_t reason_len,
                      const uint8_t mask[4])
{
    if (code == 0 || code == WSF_CLOSE_NO_STATUS) {
        wsf_append_frame(b, WSF_OP_CLOSE, NULL, 0, mask);
        return;
    }
    if (!wsf_close_code_valid(code))
        code = WSF_CLOSE_INTERNAL;
    uint8_t pl[WSF_MAX_CONTROL];
    size_t r = reason ? utf8_trim((const uint8_t *)reason, reason_len, WSF_MAX_CLOSE_REASON) : 0;
    if (r && !utf8_valid((const uint8_t *)reason, r))
        r = 0;
    pl[0] = (uint8_t)(code >> 8);
    pl[1] = (uint8_t)code;
    if (r)
        memcpy(pl + 2, reason, r);
    wsf_append_frame(b, WSF_OP_CLOSE, pl, 2 + r, mask);
}

/* ---- Messages ------------------------------------------------------------------------- */

/* A fragmented message this big or bigger gives its buffer back once delivered, so that one
 * large message does not pin memory on an otherwise idle connection. */
#define WSF_FRAG_KEEP ((size_t)64 << 10)

static const uint8_t wsf_empty[1];

void wsf_conn_init(wsf_conn *c, enum wsf_role role, size_t max_message)
{
    memset(c, 0, sizeof *c);
    c->role = role;
    c->max_message = max_message ? max_message : WSF_DEFAULT_MAX_MESSAGE;
    buf_init(&c->frag);
}

static void wsf_frag_clear(wsf_conn *c)
{
    if (c->frag.cap > WSF_FRAG_KEEP)
        buf_free(&c->frag);
    buf_reset(&c->frag);
    c->frag_opcode = 0;
    c->frag_done = 0;
    c->utf8 = UTF8_ACCEPT;
}

void wsf_conn_reset(wsf_conn *c)
{
    wsf_frag_clear(c);
    c->need = 0;
}

void wsf_conn_free(wsf_conn *c)
{
    buf_free(&c->frag);
    c->frag_opcode = 0;
    c->frag_done = 0;
    c->need = 0;
}

static int wsf_feed_fail(wsf_event *ev, uint16_t code, const char *reason)
{
    ev->code = code;
    ev->reason = reason;
    ev->data = NULL;
    ev->len = 0;
    return WSF_ERR;
}

int wsf_feed(wsf_conn *c, uint8_t *p, size_t len, size_t *used, wsf_event *ev)
{
    size_t off = 0;
    int rc;
    wsf_frame f;

    if (c->frag_done)
        wsf_frag_clear(c);
    c->need = 0;
    ev->reason = NULL;
    *used = 0;
    if (len == 0)
        return WSF_AGAIN;
    for (;;) {
        rc = wsf_parse_header(c->role, p + off, len - off, &f);
        if (rc == WSF_AGAIN)
            break;
        if (rc == WSF_ERR) {
            wsf_feed_fail(ev, f.code, f.reason);
            break;
        }
        uint8_t op = f.opcode;
        /* Sequencing and the size cap are decided from the header, before the payload is
         * waited for, so a peer cannot make us buffer a frame we would refuse anyway. */
        if (!(op & 0x08)) {
            size_t before = 0;
            if (op == WSF_OP_CONT) {
                if (!c->frag_opcode) {
                    rc = wsf_feed_fail(ev, WSF_CLOSE_PROTOCOL,
                                       "continuation frame without a message");
                    break;
                }
                before = c->frag.len;
            } else if (c->frag_opcode) {
                rc = wsf_feed_fail(ev, WSF_CLOSE_PROTOCOL, "new message inside a fragmented one");
                break;
            }
            if (f.len > (uint64_t)(c->max_message - before)) {
                rc = wsf_feed_fail(ev, WSF_CLOSE_TOO_BIG, "message too big");
                break;
            }
        }
        uint64_t frame_len = f.header_len + f.len;
        if ((uint64_t)(len - off) < frame_len) {
            c->need = frame_len;
            rc = WSF_AGAIN;
            break;
        }
        uint8_t *pl = p + off + f.header_len;
        size_t n = (size_t)f.len;
        if (f.masked)
            wsf_mask(pl, n, f.mask, 0);
        off += (size_t)frame_len;

        if (op == WSF_OP_TEXT || op == WSF_OP_BINARY) {
            if (f.fin) {
                /* The common case: a whole message in one frame, delivered in place. */
                if (op == WSF_OP_TEXT && !utf8_valid(pl, n)) {
                    rc = wsf_feed_fail(ev, WSF_CLOSE_INVALID_DATA, "text message not UTF-8");
                    break;
                }
                ev->type = op == WSF_OP_TEXT ? WSF_EV_TEXT : WSF_EV_BINARY;
                ev->code = 0;
                ev->data = pl;
                ev->len = n;
                rc = WSF_OK;
                break;
            }
            c->frag_opcode = op;
            c->utf8 = UTF8_ACCEPT;
        }
        if (op == WSF_OP_TEXT || op == WSF_OP_BINARY || op == WSF_OP_CONT) {
            /* Text is checked per fragment so an invalid message fails before it completes;
             * only a character cut at the end of the last fragment waits for the FIN. */
            if (c->frag_opcode == WSF_OP_TEXT) {
                c->utf8 = utf8_step(c->utf8, pl, n);
                if (c->utf8 == UTF8_REJECT || (f.fin && c->utf8 != UTF8_ACCEPT)) {
                    rc = wsf_feed_fail(ev, WSF_CLOSE_INVALID_DATA, "text message not UTF-8");
                    break;
                }
            }
            buf_append(&c->frag, pl, n);
            if (!f.fin)
                continue;
            ev->type = c->frag_opcode == WSF_OP_TEXT ? WSF_EV_TEXT : WSF_EV_BINARY;
            ev->code = 0;
            ev->data = c->frag.data ? c->frag.data : wsf_empty;
            ev->len = c->frag.len;
            c->frag_opcode = 0;
            c->frag_done = 1;
            rc = WSF_OK;
            break;
        }
        ev->code = 0;
        ev->data = pl;
        ev->len = n;
        rc = WSF_OK;
        if (op == WSF_OP_PING) {
            ev->type = WSF_EV_PING;
        } else if (op == WSF_OP_PONG) {
            ev->type = WSF_EV_PONG;
        } else {
            ev->type = WSF_EV_CLOSE;
            if (n == 0) {
                ev->code = WSF_CLOSE_NO_STATUS;
            } else if (n == 1) {
                rc = wsf_feed_fail(ev, WSF_CLOSE_PROTOCOL, "close payload of one byte");
            } else {
                unsigned code = (unsigned)pl[0] << 8 | pl[1];
                if (!wsf_close_code_valid(code)) {
                    rc = wsf_feed_fail(ev, WSF_CLOSE_PROTOCOL, "invalid close code");
                } else if (!utf8_valid(pl + 2, n - 2)) {
                    rc = wsf_feed_fail(ev, WSF_CLOSE_INVALID_DATA, "close reason not UTF-8");
                } else {
                    ev->code = (uint16_t)code;
                    ev->data = pl + 2;
                    ev->len = n - 2;
                }
            }
        }
        break;
    }
    *used = off;
    return rc;
}
