/* The HTTP/1.1 request parser on top of http-parser. This is the only translation unit that
 * includes http_parser.h: its enum http_status clashes with libwebsockets.h. */
#include "net/http_req.h"

#include <http_parser.h>
#include <limits.h>
#include <stdlib.h>
#include <stdalign.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"

_Static_assert(sizeof(http_parser) <= HREQ_PARSER_SIZE, "HREQ_PARSER_SIZE too small");
_Static_assert(alignof(http_parser) <= 8, "http_parser needs stronger alignment");

/* The Debian 2.9.4 library exports this; older headers do not declare it. An identical
 * prototype is harmless where the header has one. */
void http_parser_set_max_header_size(uint32_t size);

enum { L_NONE, L_URL, L_FIELD, L_VALUE };
enum { S_HEAD, S_BODY, S_DONE, S_ERROR, S_DEAD };
enum { SCAN_NONE, SCAN_CR, SCAN_LF };

#define HREQ_HP(r) ((http_parser *)(void *)(r)->parser)

static hreq *hreq_of(http_parser *hp)
{
    return hp->data;
}

static int hreq_fail(hreq *r, int status, const char *reason)
{
    r->status = status;
    r->reason = reason;
    r->state = S_ERROR;
    return -1;
}

static void hreq_text(hreq *r, const char *at, size_t len)
{
    buf_append(&r->text, at, len);
}

/* Ends the token being accumulated (URL, name or value) with a NUL, so each slice can also be
 * used as a C string. */
static void hreq_end_token(hreq *r)
{
    if (r->last != L_NONE)
        buf_push(&r->text, 0);
}

static int hreq_on_url(http_parser *hp, const char *at, size_t len)
{
    hreq *r = hreq_of(hp);
    r->last = L_URL;
    hreq_text(r, at, len);
    r->url.len += len;
    return 0;
}

/* Trailer fields of a chunked body arrive through the same callbacks after the head is done.
 * They are dropped, as RFC 9110 section 6.5.1 allows: nothing here uses them, and storing
 * them would move the header text the request already points into. http-parser bounds their
 * size with its own head limit. */
static int hreq_on_header_field(http_parser *hp, const char *at, size_t len)
{
    hreq *r = hreq_of(hp);
    if (r->state != S_HEAD)
        return 0;
    if (r->last != L_FIELD) {
        hreq_end_token(r);
        if (r->nheaders == r->offs_cap) {
            r->offs_cap = r->offs_cap ? r->offs_cap * 2 : 16;
            r->offs = sx_realloc(r->offs, r->offs_cap * sizeof *r->offs);
        }
        hreq_off *o = &r->offs[r->nheaders++];
        o->name = r->text.len;
        o->name_len = 0;
        o->value = 0;
        o->value_len = 0;
        r->last = L_FIELD;
    }
    hreq_text(r, at, len);
    r->offs[r->nheaders - 1].name_len += len;
    return 0;
}

static int hreq_on_header_value(http_parser *hp, const char *at, size_t len)
{
    hreq *r = hreq_of(hp);
    if (r->state != S_HEAD)
        return 0;
    hreq_off *o = &r->offs[r->nheaders - 1];
    if (r->last != L_VALUE) {
        hreq_end_token(r);
        o->value = r->text.len;
        r->last = L_VALUE;
    }
    hreq_text(r, at, len);
    o->value_len += len;
    return 0;
}

static bool hreq_token_eq(const char *p, size_t len, const char *token)
{
    return strlen(token) == len && strncasecmp(p, token, len) == 0;
}

/* Walks a comma-separated list, trimming optional whitespace; returns false at the end. */
static bool hreq_list_next(const char **pos, const char *end, const char **tok, size_t *tlen)
{
    const char *p = *pos;
    for (;;) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        if (p == end) {
            *pos = p;
            return false;
        }
        const char *s = p;
        while (p < end && *p != ',')
            p++;
        const char *e = p;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > s) {
            *tok = s;
            *tlen = (size_t)(e - s);
            *pos = p;
            return true;
        }
    }
}

/* Only the chunked coding is understood. Anything else cannot be decoded, which RFC 9112
 * answers with 501; chunked twice is malformed (400). http-parser itself answers a coding list
 * that does not end in chunked, and Content-Length alongside Transfer-Encoding, with 400. */
static int hreq_check_transfer_encoding(hreq *r)
{
    size_t chunked = 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        const hreq_hdr *h = &r->hdrs[i];
        if (!hreq_token_eq((const char *)h->name.p, h->name.len, "transfer-encoding"))
            continue;
        const char *pos = (const char *)h->value.p, *end = pos + h->value.len, *tok;
        size_t tlen;
        while (hreq_list_next(&pos, end, &tok, &tlen)) {
            if (!hreq_token_eq(tok, tlen, "chunked"))
                return hreq_fail(r, 501, "unsupported transfer coding");
            chunked++;
        }
    }
    if (chunked > 1)
        return hreq_fail(r, 400, "chunked transfer coding applied twice");
    return 0;
}

/* RFC 9110 tchar. The Debian build of http-parser is not strict and lets a space into a
 * header name, so "Transfer-Encoding : chunked" would reach us as an unknown header while a
 * stricter peer might honour it; names are therefore checked here and such requests refused
 * with 400, as RFC 9112 section 5.1 requires. */
static bool hreq_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool hreq_name_valid(const char *p, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!hreq_tchar((unsigned char)p[i]))
            return false;
    return true;
}

static int hreq_on_headers_complete(http_parser *hp)
{
    hreq *r = hreq_of(hp);
    hreq_end_token(r);
    r->last = L_NONE;

    /* The text buffer is final now, so offsets become pointers. */
    if (r->nheaders > r->hdrs_cap) {
        r->hdrs_cap = r->offs_cap;
        r->hdrs = sx_realloc(r->hdrs, r->hdrs_cap * sizeof *r->hdrs);
    }
    const uint8_t *base = r->text.data ? r->text.data : (const uint8_t *)"";
    for (size_t i = 0; i < r->nheaders; i++) {
        const hreq_off *o = &r->offs[i];
        r->hdrs[i].name.p = base + o->name;
        r->hdrs[i].name.len = o->name_len;
        /* An empty value gets no callback; point it at its name's terminating NUL. */
        r->hdrs[i].value.p = o->value_len ? base + o->value : base + o->name + o->name_len;
        /* Trailing whitespace is not part of a field value (RFC 9110 section 5.5), and the
         * non-strict parser passes it on, while it already drops the leading whitespace. */
        size_t vlen = o->value_len;
        while (vlen &&
               (r->hdrs[i].value.p[vlen - 1] == ' ' || r->hdrs[i].value.p[vlen - 1] == '\t'))
            vlen--;
        r->hdrs[i].value.len = vlen;
        if (vlen < o->value_len)
            r->text.data[o->value + vlen] = 0;
    }
    r->headers = r->hdrs;
    r->url.p = base;
    r->method = http_method_str((enum http_method)hp->method);
    r->http_major = hp->http_major;
    r->http_minor = hp->http_minor;
    r->keep_alive = http_should_keep_alive(hp) != 0;
    r->upgrade = hp->upgrade;
    r->chunked = (hp->flags & F_CHUNKED) != 0;
    r->expect_continue = hreq_header_has_token(r, "expect", "100-continue");
    r->state = S_BODY;

    if (hp->http_major != 1)
        return hreq_fail(r, 505, "HTTP version not supported");
    for (size_t i = 0; i < r->nheaders; i++)
        if (!hreq_name_valid((const char *)r->hdrs[i].name.p, r->hdrs[i].name.len))
            return hreq_fail(r, 400, "invalid header name");
    if (hreq_check_transfer_encoding(r))
        return -1;
    /* RFC 9112 section 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing. */
    if (hp->http_minor == 0 && hreq_header(r, "transfer-encoding"))
        return hreq_fail(r, 400, "Transfer-Encoding in an HTTP/1.0 request");
    if (!r->chunked && hp->content_length != ULLONG_MAX && hp->content_length > r->max_body)
        return hreq_fail(r, 413, "request body too large");
    /* Stop so the caller can send "100 Continue" before the client sends the body. */
    r->continue_wanted = r->expect_continue && !r->upgrade &&
                         (r->chunked ||
                          (hp->content_length != ULLONG_MAX && hp->content_length > 0));
    /* Stopping here in any case tells hreq_feed where the head ends, so its scan covers the
     * head and nothing of the body. */
    http_parser_pause(hp, 1);
    return 0;
}

static int hreq_on_body(http_parser *hp, const char *at, size_t len)
{
    hreq *r = hreq_of(hp);
    if (len > r->max_body - r->bodybuf.len)
        return hreq_fail(r, 413, "request body too large");
    buf_append(&r->bodybuf, at, len);
    return 0;
}

static int hreq_on_message_complete(http_parser *hp)
{
    hreq *r = hreq_of(hp);
    /* A terminating NUL outside the length, like the other slices. */
    *buf_reserve(&r->bodybuf, 1) = 0;
    r->body.p = r->bodybuf.data;
    r->body.len = r->bodybuf.len;
    r->keep_alive = http_should_keep_alive(hp) != 0;
    r->state = S_DONE;
    /* Pausing stops http_parser_execute right after this request, which is what lets the
     * caller answer pipelined requests one at a time and hand upgraded bytes elsewhere. */
    http_parser_pause(hp, 1);
    return 0;
}

static const http_parser_settings hreq_settings = {
    .on_url = hreq_on_url,
    .on_header_field = hreq_on_header_field,
    .on_header_value = hreq_on_header_value,
    .on_headers_complete = hreq_on_headers_complete,
    .on_body = hreq_on_body,
    .on_message_complete = hreq_on_message_complete,
};

void hreq_init(hreq *r)
{
    memset(r, 0, sizeof *r);
    r->max_head = HREQ_DEFAULT_MAX_HEAD;
    r->max_body = HREQ_DEFAULT_MAX_BODY;
    buf_init(&r->text);
    buf_init(&r->bodybuf);
    hreq_reset(r);
}

void hreq_free(hreq *r)
{
    buf_free(&r->text);
    buf_free(&r->bodybuf);
    free(r->offs);
    free(r->hdrs);
    r->offs = NULL;
    r->hdrs = NULL;
    r->offs_cap = r->hdrs_cap = 0;
    hreq_reset(r);
}

void hreq_reset(hreq *r)
{
    http_parser *hp = HREQ_HP(r);
    http_parser_init(hp, HTTP_REQUEST);
    hp->data = r;
    buf_reset(&r->text);
    buf_reset(&r->bodybuf);
    r->method = NULL;
    r->url.p = (const uint8_t *)"";
    r->url.len = 0;
    r->http_major = r->http_minor = 0;
    r->headers = NULL;
    r->nheaders = 0;
    r->body.p = (const uint8_t *)"";
    r->body.len = 0;
    r->keep_alive = r->upgrade = r->chunked = r->expect_continue = false;
    r->status = 0;
    r->reason = NULL;
    r->head_seen = 0;
    r->last = L_NONE;
    r->scan = SCAN_NONE;
    r->continue_wanted = false;
    r->state = S_HEAD;
}

/* Maps an http-parser error to the status to answer. The parser's own descriptions are static
 * strings, so they serve as reasons. */
static int hreq_parser_error(hreq *r, enum http_errno e)
{
    switch (e) {
    case HPE_HEADER_OVERFLOW: return hreq_fail(r, 431, "request head too large");
    default: return hreq_fail(r, 400, http_errno_description(e));
    }
}

/* The lenient http-parser takes a CR not followed by LF as a line end and joins a line that
 * starts with a space or a tab to the one before (obsolete folding). Either lets two parsers
 * disagree about a request's framing, so RFC 9112 (sections 2.2 and 5.2) lets a server refuse
 * them, and sett does: every byte of the head passes through here once, the carry telling what
 * the previous one was across pieces. */
static int hreq_scan_head(hreq *r, const char *p, size_t n)
{
    uint8_t carry = r->scan;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (carry == SCAN_CR && ch != '\n')
            return hreq_fail(r, 400, "bare CR in the request head");
        if (carry == SCAN_LF && (ch == ' ' || ch == '\t'))
            return hreq_fail(r, 400, "obsolete line folding in the request head");
        carry = ch == '\r' ? SCAN_CR : ch == '\n' ? SCAN_LF : SCAN_NONE;
    }
    r->scan = carry;
    return 0;
}

int hreq_feed(hreq *r, const char *p, size_t len, size_t *used)
{
    http_parser *hp = HREQ_HP(r);
    size_t off = 0;

    *used = 0;
    if (r->state == S_DONE) {
        /* After "Connection: close" (or HTTP/1.0 without keep-alive) the connection carries no
         * further request; whatever follows is dropped, as RFC 9112 section 9.6 asks. */
        bool dead = !r->keep_alive && !r->upgrade;
        hreq_reset(r);
        if (dead)
            r->state = S_DEAD;
    }
    if (r->state == S_ERROR)
        return HREQ_ERROR;
    if (r->state == S_DEAD) {
        *used = len;
        return HREQ_AGAIN;
    }
    if (HTTP_PARSER_ERRNO(hp) == HPE_PAUSED)
        http_parser_pause(hp, 0);
    /* http-parser's own head limit is a process-wide setting; raise it (never lower it) when
     * a cap above its 80 KiB default is configured, so the per-connection cap below decides. */
    if (r->max_head > HTTP_MAX_HEADER_SIZE) {
        static uint32_t raised = HTTP_MAX_HEADER_SIZE;
        uint32_t want = r->max_head > UINT32_MAX - 1 ? UINT32_MAX - 1 : (uint32_t)r->max_head;
        if (want > raised) {
            raised = want;
            http_parser_set_max_header_size(want);
        }
    }

    while (off < len) {
        size_t chunk = len - off;
        bool in_head = r->state == S_HEAD;
        /* The head cap is applied by feeding at most the remaining allowance while the head is
         * incomplete, so an over-long head is refused without being stored. */
        if (in_head) {
            if (r->head_seen >= r->max_head) {
                *used = off;
                hreq_fail(r, 431, "request head too large");
                return HREQ_ERROR;
            }
            if (chunk > r->max_head - r->head_seen)
                chunk = r->max_head - r->head_seen;
        }
        size_t n = http_parser_execute(hp, &hreq_settings, p + off, chunk);
        enum http_errno e = HTTP_PARSER_ERRNO(hp);
        if (in_head) {
            /* A pause at the end of the head stops on its last byte, which the parser reads
             * again on resuming; it belongs to the head, so the scan takes it now. */
            size_t head = n + (e == HPE_PAUSED && r->state != S_HEAD && n < chunk);
            /* The parser may have failed further on in the same bytes; the earlier fault is the
             * one to report, whichever pieces the bytes came in. */
            if (hreq_scan_head(r, p + off, head) != 0) {
                *used = off + n;
                return HREQ_ERROR;
            }
            r->head_seen += n;
        }
        off += n;
        if (e == HPE_PAUSED) {
            if (r->state == S_DONE) {
                *used = off;
                return HREQ_DONE;
            }
            if (in_head && r->continue_wanted) {
                *used = off;
                return HREQ_CONTINUE;
            }
            /* The pause only marked the end of the head: go on with the body. */
            http_parser_pause(hp, 0);
            continue;
        }
        if (e != HPE_OK || r->state == S_ERROR) {
            *used = off;
            if (r->state != S_ERROR)
                hreq_parser_error(r, e);
            return HREQ_ERROR;
        }
        if (n < chunk) {
            /* http-parser stops short without an error only where a callback paused it. */
            *used = off;
            hreq_fail(r, 400, "request parsing stopped unexpectedly");
            return HREQ_ERROR;
        }
    }
    *used = off;
    return HREQ_AGAIN;
}

bool hreq_head_done(const hreq *r)
{
    return r->state == S_BODY || r->state == S_DONE;
}

/* RFC 3986 host (reg-name, IPv4 or a bracketed IP literal) with an optional port: the bytes
 * those may hold. An empty value is allowed (a target without an authority). */
static bool hreq_host_valid(const slice_t *v)
{
    for (size_t i = 0; i < v->len; i++) {
        unsigned char c = v->p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("-._~%!$&'()*+,;=:[]", c)))
            return false;
    }
    return true;
}

static bool hreq_prefix_ci(const slice_t *s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s->len >= n && strncasecmp((const char *)s->p, prefix, n) == 0;
}

int hreq_server_check(hreq *r)
{
    if (r->state == S_ERROR)
        return HREQ_ERROR;
    size_t hosts = 0;
    const slice_t *host = NULL;
    for (size_t i = 0; i < r->nheaders; i++) {
        if (hreq_token_eq((const char *)r->headers[i].name.p, r->headers[i].name.len, "host")) {
            hosts++;
            host = &r->headers[i].value;
        }
    }
    if (hosts == 0 && r->http_minor >= 1)
        return hreq_fail(r, 400, "missing Host header");
    if (hosts > 1)
        return hreq_fail(r, 400, "more than one Host header");
    if (host && !hreq_host_valid(host))
        return hreq_fail(r, 400, "invalid Host header");
    if (strcmp(r->method, "CONNECT") == 0)
        return hreq_fail(r, 501, "CONNECT is not supported");
    if (r->url.len && r->url.p[0] == '/')
        return 0;
    if (r->url.len == 1 && r->url.p[0] == '*')
        return strcmp(r->method, "OPTIONS") == 0 ? 0 : hreq_fail(r, 400, "invalid request target");
    size_t skip;
    if (hreq_prefix_ci(&r->url, "http://"))
        skip = 7;
    else if (hreq_prefix_ci(&r->url, "https://"))
        skip = 8;
    else
        return hreq_fail(r, 400, "invalid request target");
    /* The origin form is what follows the authority; the URL is the first bytes of the text
     * buffer and never grows here, so it is rewritten in place. */
    char *u = (char *)r->text.data;
    size_t end = skip;
    while (end < r->url.len && u[end] != '/' && u[end] != '?')
        end++;
    size_t rest = r->url.len - end;
    if (end == skip || memchr(u + skip, '@', end - skip))
        return hreq_fail(r, 400, "invalid request target");
    if (rest == 0 || u[end] == '?') {
        u[0] = '/';
        memmove(u + 1, u + end, rest);
        rest++;
    } else {
        memmove(u, u + end, rest);
    }
    u[rest] = 0;
    r->url.len = rest;
    return 0;
}

const slice_t *hreq_header(const hreq *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->nheaders; i++)
        if (r->headers[i].name.len == n &&
            strncasecmp((const char *)r->headers[i].name.p, name, n) == 0)
            return &r->headers[i].value;
    return NULL;
}

size_t hreq_header_join(const hreq *r, const char *name, buf_t *out)
{
    size_t n = strlen(name), count = 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        const hreq_hdr *h = &r->headers[i];
        if (h->name.len != n || strncasecmp((const char *)h->name.p, name, n) != 0)
            continue;
        if (count++)
            buf_append(out, ", ", 2);
        buf_append(out, h->value.p, h->value.len);
    }
    return count;
}

bool hreq_list_has(const slice_t *value, const char *token)
{
    const char *pos = (const char *)value->p, *end = pos + value->len, *tok;
    size_t tlen;
    while (hreq_list_next(&pos, end, &tok, &tlen))
        if (hreq_token_eq(tok, tlen, token))
            return true;
    return false;
}

bool hreq_header_has_token(const hreq *r, const char *name, const char *token)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->nheaders; i++) {
        const hreq_hdr *h = &r->headers[i];
        if (h->name.len == n && strncasecmp((const char *)h->name.p, name, n) == 0 &&
            hreq_list_has(&h->value, token))
            return true;
    }
    return false;
}

const char *hreq_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}
