/* The HTTP/1.1 request parser, free of I/O: it wraps http-parser (this module's .c file is the
 * only one that includes http_parser.h, because that header and libwebsockets.h cannot share a
 * translation unit) and accumulates one request at a time from bytes fed in any pieces.
 *
 * What it keeps is exact: the method, the request target as the client sent it (no path
 * normalisation, no decoding), and each header's name and value bytes in order, repeats
 * included. It enforces the caps a gateway needs (head size → 431, body size → 413), stops at
 * the end of each request so the caller can pipeline, and stops at an upgrade so the bytes
 * after the head can go to the WebSocket layer. Buffers are kept and reused across requests on
 * a keep-alive connection.
 *
 * Debian builds http-parser in its lenient mode, which accepts bare LF line ends (RFC 9112
 * allows a recipient that), but also obsolete line folding and a bare CR; this module adds the
 * checks that matter for request smuggling on top: a bare CR or a folded line in the head is
 * refused (400), header names must be tokens, only the chunked transfer coding is accepted,
 * Content-Length with Transfer-Encoding is refused, and so is Transfer-Encoding in HTTP/1.0.
 * hreq_server_check adds what RFC 9112 asks of a server on a parsed head (Host, the form of
 * the request target). */
#ifndef SETT_NET_HTTP_REQ_H
#define SETT_NET_HTTP_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/slice.h"

/* The slices of a parsed request are also NUL-terminated, for convenience; the length is what
 * counts, since the bytes themselves may contain anything but NUL. */

typedef struct hreq_hdr {
    slice_t name;  /* as sent, case preserved */
    slice_t value; /* as sent, without the surrounding whitespace, which is not part of it */
} hreq_hdr;

/* Return values of hreq_feed. */
enum {
    HREQ_ERROR = -1,   /* r->status and r->reason say what to answer; then close */
    HREQ_AGAIN = 0,    /* all bytes consumed, the request is not complete */
    HREQ_DONE = 1,     /* a whole request is ready */
    HREQ_CONTINUE = 2, /* the head is ready and the client waits for "100 Continue" */
};

#define HREQ_DEFAULT_MAX_HEAD ((size_t)64 << 10)
/* The same as Rivet guard's HTTP body cap. */
#define HREQ_DEFAULT_MAX_BODY ((size_t)20 << 20)

/* The opaque storage for the http_parser struct; the .c file checks the size and alignment. */
#define HREQ_PARSER_SIZE 32

typedef struct hreq_off {
    size_t name, name_len, value, value_len;
} hreq_off;

/* One connection's request parser. The caller embeds it, sets the caps after hreq_init, and
 * reads the fields below after HREQ_DONE (the head fields also after HREQ_CONTINUE). They stay
 * valid until the next hreq_feed, hreq_reset or hreq_free. */
typedef struct hreq {
    /* Caps, tunable between requests. The head is everything before the body: request line,
     * headers and the blank line (and CRLFs tolerated before the request line). */
    size_t max_head;
    size_t max_body;

    /* The parsed request. */
    const char *method; /* a static string such as "GET" */
    slice_t url;        /* the request target, byte for byte */
    unsigned short http_major, http_minor;
    hreq_hdr *headers;
    size_t nheaders;
    slice_t body;         /* the decoded body (chunked framing and trailer fields dropped) */
    bool keep_alive;      /* the connection may carry another request after this one */
    bool upgrade;         /* Upgrade + Connection: upgrade (or CONNECT): the bytes after the
                             * request belong to another protocol */
    bool chunked;         /* the body came with Transfer-Encoding: chunked */
    bool expect_continue; /* Expect: 100-continue */

    /* On HREQ_ERROR: the HTTP status to answer (400, 413, 431, 501, 505) and a static reason. */
    int status;
    const char *reason;

    /* Private. */
    _Alignas(8) unsigned char parser[HREQ_PARSER_SIZE];
    buf_t text; /* URL and header bytes, each NUL-terminated */
    buf_t bodybuf;
    hreq_off *offs; /* header offsets into text while it may still move */
    size_t offs_cap;
    hreq_hdr *hdrs; /* the headers array handed out, reused */
    size_t hdrs_cap;
    size_t head_seen;     /* head bytes consumed so far */
    uint8_t last;         /* the last data callback: none, url, field or value */
    uint8_t scan;         /* the head scan's carry: after CR, after LF, or neither */
    bool continue_wanted; /* the head asks for "100 Continue" before its body */
    uint8_t state;        /* head, body, done, error, or dead after Connection: close */
} hreq;

void hreq_init(hreq *r);
void hreq_free(hreq *r);
/* Forgets the current request and gets ready for the next one, keeping the buffers. hreq_feed
 * does this by itself when called after HREQ_DONE. */
void hreq_reset(hreq *r);

/* Feeds bytes. *used is set to the bytes consumed. On HREQ_DONE the bytes after *used belong
 * to the next pipelined request or, when r->upgrade is set, to the upgraded protocol; on
 * HREQ_CONTINUE the rest is the body, to be fed again; on HREQ_AGAIN everything was consumed.
 * An upgrade request that is refused can be answered and the connection kept: just feed the
 * following bytes as HTTP again. */
int hreq_feed(hreq *r, const char *p, size_t len, size_t *used);

/* True once the head of the request being read is complete (its body may still be coming). */
bool hreq_head_done(const hreq *r);

/* What RFC 9112 asks of a server once a head is parsed (after HREQ_DONE or HREQ_CONTINUE):
 * an HTTP/1.1 request carries exactly one Host header and no request more than one, with a
 * value that is a host and optional port (400 otherwise, section 3.2); CONNECT is refused (501:
 * sett is no forward proxy); "*" is only for OPTIONS; an absolute-form target
 * ("http://host/p?q", section 3.2.2) must be http or https and is rewritten in place to its
 * origin form ("/p?q", "/" for an empty path), so that every handler sees one form; any other
 * target is refused (400). Returns 0, or HREQ_ERROR with r->status and r->reason set, after
 * which the request must be answered with that status and the connection closed. */
int hreq_server_check(hreq *r);

/* The first header with this name, compared case-insensitively, or NULL. */
const slice_t *hreq_header(const hreq *r, const char *name);
/* Appends the values of every header with this name to out, joined with ", " as RFC 9110
 * allows for list-valued fields; returns how many headers there were. */
size_t hreq_header_join(const hreq *r, const char *name, buf_t *out);
/* True when the comma-separated list value contains token, case-insensitively, surrounded only
 * by optional whitespace (e.g. "keep-alive, Upgrade" contains "upgrade"). */
bool hreq_list_has(const slice_t *value, const char *token);
/* True when any header with this name has the token in its list. */
bool hreq_header_has_token(const hreq *r, const char *name, const char *token);

/* The reason phrase for a status code, "Unknown" for codes it does not know. */
const char *hreq_status_text(int status);

#endif
