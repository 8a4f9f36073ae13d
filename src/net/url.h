/* Request-target helpers, free of I/O and of allocation (except url_query_get's output buffer):
 * split a raw target into path and query, walk path segments, percent-decode one segment, and
 * walk or look up query parameters with form decoding.
 *
 * Nothing here normalises: the path and query come back exactly as the client sent them, so a
 * gateway can forward them byte for byte and decode only what it routes on. */
#ifndef SETT_NET_URL_H
#define SETT_NET_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/slice.h"

typedef struct url_parts {
    slice_t authority; /* "host:port" of an absolute-form target, else empty */
    slice_t path;      /* raw; empty (meaning "/") when an absolute-form target has none */
    slice_t query;     /* raw, without the '?'; empty when there is none */
    bool has_query;    /* a '?' was present, even with nothing after it */
} url_parts;

/* Error codes of the decoders. */
enum {
    URL_OK = 0,
    URL_EESCAPE = -1, /* '%' not followed by two hex digits */
    URL_ENUL = -2,    /* decodes to a NUL byte */
    URL_ESLASH = -3,  /* a path segment decodes to '/' (see url_decode_segment) */
};

/* Splits a request target. Origin-form ("/p?q") is the usual case; absolute-form
 * ("http://host/p?q", sent to proxies) yields its authority and path; "*" and authority-form
 * (CONNECT) come back whole as the path. A fragment ('#' onwards) cannot legally appear in a
 * request target but http-parser lets it through; it is cut off and belongs to neither part.
 * Every slice points into target. */
void url_split(const char *target, size_t len, url_parts *out);

/* The next segment of a path, from *pos on (start with 0): the bytes between slashes, raw.
 * "/a/b" gives "a" and "b", "/a/" gives "a" and "", "/" gives "". After a call, path.p + *pos
 * is the rest of the path from the slash that ends the segment, so a router can take a prefix
 * and forward the remainder untouched. Returns false at the end. */
bool url_path_next(const slice_t *path, size_t *pos, slice_t *seg);

/* Flags for url_decode_segment. */
#define URL_ALLOW_SLASH 1u

/* Percent-decodes one path segment into out, which needs room for len bytes and may be s
 * itself. '+' stays '+' (it means space only in queries). A malformed escape is refused
 * (URL_EESCAPE) rather than passed through, so two spellings cannot decode alike by accident;
 * "%00" is refused (URL_ENUL) so the result is safe as a C string; "%2F" is refused
 * (URL_ESLASH) unless URL_ALLOW_SLASH is given, because a segment that decodes to a slash
 * would route differently from how it was split. Identifiers that may contain '/' once
 * decoded (tokens, user-chosen keys) pass URL_ALLOW_SLASH. On success *out_len is set and
 * URL_OK returned. */
int url_decode_segment(const char *s, size_t len, char *out, size_t *out_len, unsigned flags);

/* Decodes a query component (application/x-www-form-urlencoded): '+' is a space and %XX a
 * byte; malformed escapes and NUL are refused as above. out needs room for len bytes and may
 * be s itself. */
int url_decode_query(const char *s, size_t len, char *out, size_t *out_len);

/* The next parameter of a raw query, from *pos on (start with 0): name and value stay raw
 * (decode them with url_decode_query). Pairs are separated by '&'; empty pairs are skipped; a
 * pair without '=' has an empty value. Returns false at the end. */
bool url_query_next(const slice_t *query, size_t *pos, slice_t *name, slice_t *value);

/* Looks up the first parameter whose decoded name equals name. Returns 1 and replaces out's
 * contents with the decoded value (NUL-terminated; out->len excludes the NUL), 0 when the
 * parameter is absent, or a negative URL_E* code when its value is malformed (out is then
 * empty). Parameters whose names are malformed never match. */
int url_query_get(const slice_t *query, const char *name, buf_t *out);

#endif
