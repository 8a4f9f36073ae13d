/* The RFC 6455 WebSocket frame codec, free of I/O: a frame parser that works on the
 * connection's input bytes and unmasks in place, a per-connection message assembler that
 * enforces the protocol rules and delivers messages, pings, pongs and closes as events, and the
 * frame writers for both roles. Text is checked with core/utf8's incremental validator.
 *
 * sett owns WebSocket framing itself (libwebsockets is only the raw transport), so this module
 * is on the hot path: an unfragmented message is delivered as a slice of the caller's input
 * without a copy or an allocation, and only fragmented messages are assembled, into one buffer
 * per connection that is reused. Extensions are never negotiated, so the reserved bits must be
 * zero. */
#ifndef SETT_NET_WS_FRAME_H
#define SETT_NET_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/utf8.h"

enum wsf_opcode {
    WSF_OP_CONT = 0x0,
    WSF_OP_TEXT = 0x1,
    WSF_OP_BINARY = 0x2,
    WSF_OP_CLOSE = 0x8,
    WSF_OP_PING = 0x9,
    WSF_OP_PONG = 0xA,
};

/* The role decides which masking rule the parser enforces and the writers follow: a server
 * receives masked frames and sends unmasked ones, a client the other way round. */
enum wsf_role { WSF_ROLE_SERVER = 0, WSF_ROLE_CLIENT = 1 };

/* The close codes this module produces or interprets (RFC 6455 section 7.4.1). */
enum wsf_close_code {
    WSF_CLOSE_NORMAL = 1000,
    WSF_CLOSE_GOING_AWAY = 1001,
    WSF_CLOSE_PROTOCOL = 1002,
    WSF_CLOSE_UNSUPPORTED = 1003,
    WSF_CLOSE_NO_STATUS = 1005, /* never on the wire: a close frame without a payload */
    WSF_CLOSE_ABNORMAL = 1006,  /* never on the wire: the connection dropped */
    WSF_CLOSE_INVALID_DATA = 1007,
    WSF_CLOSE_POLICY = 1008,
    WSF_CLOSE_TOO_BIG = 1009,
    WSF_CLOSE_EXTENSION = 1010,
    WSF_CLOSE_INTERNAL = 1011,
};

/* Return values of wsf_parse_frame and wsf_feed. */
enum { WSF_ERR = -1, WSF_AGAIN = 0, WSF_OK = 1 };

/* The longest frame header: 2 bytes, an 8-byte extended length and a 4-byte masking key. */
#define WSF_MAX_HEADER 14
/* Control frame payloads are at most 125 bytes, so a close reason is at most 123. */
#define WSF_MAX_CONTROL 125
#define WSF_MAX_CLOSE_REASON 123
/* The default message size cap, the same as Rivet guard's WebSocket message cap. */
#define WSF_DEFAULT_MAX_MESSAGE ((size_t)32 << 20)

/* ---- Frames --------------------------------------------------------------------------- */

/* One parsed frame. The payload points into the caller's input and is already unmasked. */
typedef struct wsf_frame {
    uint8_t opcode;
    uint8_t fin;
    uint8_t masked;
    uint8_t mask[4];
    uint8_t header_len; /* 2..14 */
    uint64_t len;       /* payload length */
    uint8_t *payload;   /* set on WSF_OK only */
    /* On WSF_AGAIN: header_len + len once the header is complete (so the caller can size its
     * input buffer for the whole frame), else 0. On WSF_OK: the bytes the frame occupies. */
    uint64_t frame_len;
    /* On WSF_ERR: the close code to send (1002 or 1009) and a static reason. */
    uint16_t code;
    const char *reason;
} wsf_frame;

/* Parses one frame at p[0..len). Returns WSF_OK when the whole frame is there (it unmasks the
 * payload in place), WSF_AGAIN when more bytes are needed, or WSF_ERR when the header breaks
 * a rule that needs no connection state: reserved bits set (1002), an unknown opcode (1002), a
 * fragmented or over-long control frame (1002), the wrong masking for the role (1002), a
 * 64-bit length with its top bit set (1002), or a data payload above max_payload (1009, found
 * from the header alone before any payload is buffered). Errors are reported as early as the
 * bytes allow, even from the first byte. */
int wsf_parse_frame(enum wsf_role role, uint8_t *p, size_t len, uint64_t max_payload, wsf_frame *f);

/* Writes a frame header to dst, which needs WSF_MAX_HEADER bytes, and returns its length. With
 * a mask the MASK bit and key are written; the caller masks the payload (wsf_mask). The length
 * uses the shortest encoding. */
size_t wsf_write_header(uint8_t *dst, unsigned opcode, bool fin, uint64_t payload_len,
                        const uint8_t mask[4]);
/* XORs p[0..len) with the key, as if p started at byte `offset` of the payload, so a payload
 * can be masked in pieces. Masking twice restores the input. */
void wsf_mask(uint8_t *p, size_t len, const uint8_t key[4], uint64_t offset);
/* Appends one frame (FIN set) to b with a single reservation and a single copy of the payload;
 * mask is NULL for server frames and the client's key for client frames. */
void wsf_append_frame(buf_t *b, unsigned opcode, const void *payload, size_t len,
                      const uint8_t mask[4]);
/* The same with an explicit FIN bit, to send a message in fragments. */
void wsf_append_frame_ex(buf_t *b, unsigned opcode, bool fin, const void *payload, size_t len,
                         const uint8_t mask[4]);
/* Appends a close frame. Code 0 or 1005 sends an empty payload (no status); otherwise the
 * payload is the code and the reason cut to 123 bytes at a character boundary. A reason that is
 * not valid UTF-8 is left out, because the peer would have to fail the connection with 1007. */
void wsf_append_close(buf_t *b, uint16_t code, const char *reason, size_t reason_len,
                      const uint8_t mask[4]);
/* True for the codes a close frame may carry: 1000-1003, 1007-1014 (1012-1014 are registered
 * with IANA and sent by common servers) and 3000-4999. */
bool wsf_close_code_valid(unsigned code);

/* ---- Messages ------------------------------------------------------------------------- */

enum wsf_event_type {
    WSF_EV_TEXT = 1, /* data/len: the message, valid UTF-8 */
    WSF_EV_BINARY,   /* data/len: the message */
    WSF_EV_PING,     /* data/len: the payload, to be echoed in a pong */
    WSF_EV_PONG,     /* data/len: the payload */
    WSF_EV_CLOSE,    /* code: the peer's code, 1005 when none; data/len: the reason */
};

/* What wsf_feed delivers. data points into the caller's input (unfragmented messages and all
 * control frames) or into the connection's assembly buffer (fragmented messages); either way
 * it stays valid until the next wsf_feed or wsf_conn_free, or until the caller changes its
 * input. On WSF_ERR, code is the close code to send and reason a static string. */
typedef struct wsf_event {
    enum wsf_event_type type;
    uint16_t code;
    const uint8_t *data;
    size_t len;
    const char *reason;
} wsf_event;

/* The per-connection message state: a small struct the caller embeds in its connection. */
typedef struct wsf_conn {
    enum wsf_role role;
    uint8_t frag_opcode; /* WSF_OP_TEXT/BINARY while a fragmented message is open, else 0 */
    uint8_t frag_done;   /* the assembly buffer was just delivered: reset it next time */
    uint32_t utf8;       /* the UTF-8 state of an open fragmented text message */
    size_t max_message;  /* bytes; larger messages fail with 1009 */
    /* After WSF_AGAIN: the bytes, counted from where the caller resumes, that the next frame
     * occupies, once its header has arrived; 0 when unknown. */
    uint64_t need;
    buf_t frag; /* the assembly buffer, used only for fragmented messages */
} wsf_conn;

/* Sets up c for the role; max_message 0 means WSF_DEFAULT_MAX_MESSAGE. */
void wsf_conn_init(wsf_conn *c, enum wsf_role role, size_t max_message);
/* Forgets any partial message and keeps the buffer, so c serves a new connection. */
void wsf_conn_reset(wsf_conn *c);
void wsf_conn_free(wsf_conn *c);

/* Consumes frames from p[0..len) until one yields an event, the input runs out, or a rule is
 * broken. *used is always set to the bytes the caller must drop from the front of its input,
 * even on WSF_AGAIN, because fragments of a message are absorbed into the assembly buffer.
 * Payloads are unmasked in place once their frame is complete, so p must be writable; bytes
 * before *used have been consumed and must not be fed again, bytes after it are untouched, and
 * the caller feeds them again with more input appended.
 *
 * Returns WSF_OK with *ev filled, WSF_AGAIN when the next frame is incomplete (c->need says
 * how big it is, when known), or WSF_ERR with ev->code and ev->reason: the frame-level errors of
 * wsf_parse_frame, a continuation without a message or a new message inside a fragmented one
 * (1002), a message over max_message (1009, decided from the header), invalid UTF-8 in a text
 * message (1007, detected per fragment), or a bad close payload: 1 byte long or an invalid
 * code (1002), or a reason that is not UTF-8 (1007). After WSF_ERR or a close event the caller
 * closes the connection and stops feeding. */
int wsf_feed(wsf_conn *c, uint8_t *p, size_t len, size_t *used, wsf_event *ev);

#endif
