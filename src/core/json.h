/* sett's one JSON reader and writer: a strict RFC 8259 parser that builds a read-only tree,
 * accessors and a request-body schema check, writers that append to a buf_t (escaping, numbers,
 * and a streaming builder that places the commas), and Rivet's error body. Binary values travel
 * as base64 strings (core/base64).
 *
 * The parser accepts exactly RFC 8259 and nothing more: one value with optional whitespace
 * around it, no comments, no trailing commas, no leading zeros, no NaN or Infinity, no byte
 * order mark, strings of valid UTF-8 without raw control characters, and \u escapes that pair
 * their surrogates. Because API bodies come from untrusted clients it also rejects duplicate
 * object keys (which parsers resolve differently, so a proxy and sett could disagree about a
 * request), nesting deeper than a limit and inputs larger than a limit, and a number too large
 * for a double.
 *
 * A parsed document owns all of its nodes and decoded strings in a few arena chunks (one for a
 * typical request body) that json_doc_free releases at once. Every accessor takes NULL for "no
 * such value", so lookups chain: json_get_str(json_obj_get(root, "name"), &s, &n) answers
 * JSON_EMISSING when the key is absent. */
#ifndef SETT_CORE_JSON_H
#define SETT_CORE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Every function that can fail returns JSON_OK or one of these negative codes. */
enum {
    JSON_OK = 0,
    JSON_ESYNTAX = -1,  /* the text is not JSON; json_err.msg says what was expected */
    JSON_EUTF8 = -2,    /* a string holds invalid UTF-8 or an unpaired surrogate escape */
    JSON_EDEPTH = -3,   /* arrays and objects nest deeper than the limit */
    JSON_ETOOBIG = -4,  /* the input is longer, or holds more values, than the limits allow */
    JSON_EDUPKEY = -5,  /* an object names the same key twice */
    JSON_ERANGE = -6,   /* a number beyond a double, or one a getter cannot represent */
    JSON_ETYPE = -7,    /* a value of another type than the one asked for */
    JSON_EMISSING = -8, /* no such value: a NULL value, an absent key or a required field */
    JSON_EUNKNOWN = -9, /* an object key that the schema does not allow */
    JSON_EBASE64 = -10, /* text that is not canonical padded base64 */
    JSON_EWRITER = -11, /* the streaming builder was called out of order */
};

typedef enum json_type {
    JSON_NULL = 0,
    JSON_BOOL,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
} json_type;

/* The default limits. Depth counts open arrays and objects, so a scalar is at depth 0 and
 * [[1]] at depth 2; JSON_DEPTH_HARD_MAX bounds the parser's recursion whatever the caller
 * asks for. The input limit equals the HTTP layer's body limit. The value limit bounds the
 * memory a document can cost: a node takes 32 to 48 bytes, so "[0,0,0,...]" would otherwise
 * turn 20 MiB of text into over 300 MiB of tree. */
#define JSON_DEFAULT_MAX_DEPTH 64u
#define JSON_DEPTH_HARD_MAX 1024u
#define JSON_DEFAULT_MAX_INPUT ((size_t)20 << 20)
#define JSON_DEFAULT_MAX_VALUES ((size_t)1 << 20)

typedef struct json_limits {
    size_t max_input;   /* bytes; 0 means JSON_DEFAULT_MAX_INPUT */
    size_t max_values;  /* values of any kind, the root included; 0 means the default */
    unsigned max_depth; /* 0 means JSON_DEFAULT_MAX_DEPTH; above JSON_DEPTH_HARD_MAX is clamped */
} json_limits;

/* Where and why parsing failed. `msg` is a static string such as "expected ':' after object
 * key" and `offset` the byte at which the problem was found (len for a premature end). */
typedef struct json_err {
    int code;
    const char *msg;
    size_t offset;
} json_err;

typedef struct json_value json_value;
typedef struct json_member json_member;

/* A node of a parsed document. The fields are public so that iteration is plain C, but they
 * are read-only, and the accessors below are the supported way in. Strings are decoded UTF-8,
 * always followed by a NUL that `len` does not count, and may contain NULs of their own. */
struct json_value {
    json_type type;
    bool boolean; /* JSON_BOOL */
    bool is_int;  /* JSON_NUMBER: the literal had no fraction or exponent and fits int64_t */
    bool is_u64;  /* JSON_NUMBER: such a literal above INT64_MAX that fits uint64_t */
    size_t len;   /* JSON_STRING: bytes; JSON_ARRAY: elements; JSON_OBJECT: members */
    union {
        struct {
            double d; /* the literal correctly rounded to a double */
            union {
                int64_t i;  /* the exact value when is_int */
                uint64_t u; /* the exact value when is_u64 */
            };
        } num;
        const char *str;
        json_value *items;
        json_member *members;
    } u;
};

/* An object member; members keep the order of the text. */
struct json_member {
    const char *key; /* NUL-terminated too, but may contain NULs, so compare with key_len */
    size_t key_len;
    json_value value;
};

struct json_chunk;

/* A parsed document. The caller owns the struct (it may live on the stack); the tree lives in
 * the chunks, and the root is the one node stored in the struct itself. */
typedef struct json_doc {
    json_value root;
    struct json_chunk *chunks;
} json_doc;

/* ---- Parsing --------------------------------------------------------------------------------- */

/* Parses text[0..len) with the default limits. On JSON_OK the tree is in *doc; on failure *doc
 * holds a null root and nothing to free, and *err (which may be NULL) says what went wrong.
 * Either way json_doc_free(doc) is safe. The text need not be NUL-terminated. */
int json_parse(const char *text, size_t len, json_doc *doc, json_err *err);
/* The same with explicit limits; lim may be NULL for the defaults. */
int json_parse_ex(const char *text, size_t len, const json_limits *lim, json_doc *doc,
                  json_err *err);
void json_doc_free(json_doc *doc);

static inline const json_value *json_doc_root(const json_doc *doc)
{
    return &doc->root;
}

const char *json_strerror(int code);
/* Formats "MSG at byte N" into out, always NUL-terminated when n > 0. */
void json_err_format(const json_err *e, char *out, size_t n);

/* ---- Accessors ------------------------------------------------------------------------------- */

/* Type tests; a NULL value is of no type at all, so all of them are false for it. */
static inline bool json_is_null(const json_value *v)
{
    return v && v->type == JSON_NULL;
}
static inline bool json_is_bool(const json_value *v)
{
    return v && v->type == JSON_BOOL;
}
static inline bool json_is_number(const json_value *v)
{
    return v && v->type == JSON_NUMBER;
}
static inline bool json_is_string(const json_value *v)
{
    return v && v->type == JSON_STRING;
}
static inline bool json_is_array(const json_value *v)
{
    return v && v->type == JSON_ARRAY;
}
static inline bool json_is_object(const json_value *v)
{
    return v && v->type == JSON_OBJECT;
}
/* True for a number written as an integer literal that fits int64_t. */
static inline bool json_is_int(const json_value *v)
{
    return v && v->type == JSON_NUMBER && v->is_int;
}

/* Typed getters: JSON_OK and *out set, JSON_EMISSING for a NULL value, JSON_ETYPE for another
 * type. json_get_int64 insists on an integer literal that fits (i64 ids and millisecond
 * timestamps must not pass through a double), so 1.0, 1e3 and 2^63 give JSON_ERANGE. len may
 * be NULL. */
int json_get_bool(const json_value *v, bool *out);
int json_get_int64(const json_value *v, int64_t *out);
/* The same for a non-negative integer literal up to UINT64_MAX. */
int json_get_uint64(const json_value *v, uint64_t *out);
int json_get_double(const json_value *v, double *out);
int json_get_str(const json_value *v, const char **s, size_t *len);
/* Decodes a base64 string value (base64_decode) and appends the bytes to out; JSON_EBASE64
 * when it is not canonical. */
int json_get_b64(const json_value *v, buf_t *out);

/* Elements of an array or members of an object; 0 for anything else. */
size_t json_len(const json_value *v);
/* The i-th element of an array, or NULL when v is not an array or i is out of range. */
const json_value *json_arr_at(const json_value *arr, size_t i);
/* The i-th member of an object in text order, or NULL. Iterate with
 * for (size_t i = 0; i < json_len(obj); i++) { const json_member *m = json_obj_at(obj, i); } */
const json_member *json_obj_at(const json_value *obj, size_t i);
/* The value of a key, or NULL when obj is not an object or has no such key. Lookup is a linear
 * scan, which is the fast choice for request bodies of a few members. */
const json_value *json_obj_get(const json_value *obj, const char *key);
const json_value *json_obj_getn(const json_value *obj, const char *key, size_t key_len);

/* Deep equality: same types, same strings, members equal in the same order, and numbers equal
 * as int64 (or uint64) when both are integers and as doubles otherwise. */
bool json_equal(const json_value *a, const json_value *b);

/* ---- Request-body schema checks -------------------------------------------------------------- */

/* Checks that every key of obj is in `allowed`, a NULL-terminated list. Returns JSON_OK,
 * JSON_ETYPE when obj is not an object, JSON_EMISSING when it is NULL, or JSON_EUNKNOWN with
 * *bad_key (if bad_key is not NULL) pointing at the first offending key in text order. */
int json_obj_check_keys(const json_value *obj, const char *const *allowed, const char **bad_key);

/* A type mask for json_field: JSON_MASK(JSON_STRING) | JSON_MASK(JSON_NULL); 0 means any. */
#define JSON_MASK(t) (1u << (t))

typedef struct json_field {
    const char *key;
    unsigned types;
    bool required;
} json_field;

/* Checks obj against a list of fields: no key outside the list (JSON_EUNKNOWN, reported first,
 * in text order), every required field present (JSON_EMISSING), and every present field of an
 * allowed type (JSON_ETYPE), the latter two in field order. *bad_key names the key at fault. A
 * field that is required but may be null lists JSON_MASK(JSON_NULL) in its types. */
int json_obj_check(const json_value *obj, const json_field *fields, size_t nfields,
                   const char **bad_key);

/* ---- Writing --------------------------------------------------------------------------------- */

/* Appends s[0..len) as a JSON string: quotes, backslashes and control characters escaped
 * (\n, \t, ... or \u00XX), valid UTF-8 copied as it is, and each maximal invalid subsequence
 * replaced by U+FFFD, so that the output is valid JSON whatever the input. */
void json_write_str(buf_t *b, const char *s, size_t len);
void json_write_int64(buf_t *b, int64_t v);
/* Appends the shortest of %.15g, %.16g and %.17g that reads back as the same double (integral
 * values below 2^53 in plain digits, negative zero as -0.0), independent of the C locale. NaN
 * and infinities are not JSON and are written as null. */
void json_write_double(buf_t *b, double v);
/* Appends a parsed value compactly; numbers keep their int64 form when they have one, so that
 * parsing the output gives a json_equal tree. */
void json_write_value(buf_t *b, const json_value *v);

/* ---- Streaming builder ----------------------------------------------------------------------- */

/* Builds one JSON value into a buffer, placing commas and colons itself so that REST handlers
 * never format JSON by hand:
 *
 *     json_w w;
 *     json_w_init(&w, &out);
 *     json_w_obj_begin(&w);
 *     json_w_key(&w, "actor");
 *     json_w_obj_begin(&w);
 *     json_w_key(&w, "actor_id");
 *     json_w_str(&w, id);
 *     json_w_key(&w, "create_ts");
 *     json_w_int(&w, ts);
 *     json_w_end(&w);
 *     json_w_end(&w);
 *     if (json_w_finish(&w) != JSON_OK) ...
 *
 * A call out of order (a value in an object without a key, a key in an array, an end with
 * nothing open, more than JSON_W_MAX_DEPTH levels, a second top-level value) makes the
 * builder stop writing; json_w_finish then reports JSON_EWRITER, as it does when containers
 * are left open. The buffer then holds partial output that the caller discards. */
#define JSON_W_MAX_DEPTH 64u

typedef struct json_w {
    buf_t *out;
    uint64_t in_obj;  /* bit d: the container at depth d+1 is an object */
    uint64_t filled;  /* bit d: the container at depth d+1 already has an element */
    unsigned depth;   /* open containers */
    bool key_pending; /* a key was written and its value is due */
    bool done;        /* the top-level value is complete */
    int err;
} json_w;

void json_w_init(json_w *w, buf_t *out);
void json_w_obj_begin(json_w *w);
void json_w_arr_begin(json_w *w);
/* Closes the innermost open object or array. */
void json_w_end(json_w *w);
void json_w_key(json_w *w, const char *key);
void json_w_keyn(json_w *w, const char *key, size_t len);
/* A NUL-terminated string; NULL writes null, which suits Rivet's nullable fields. */
void json_w_str(json_w *w, const char *s);
void json_w_strn(json_w *w, const char *s, size_t len);
void json_w_int(json_w *w, int64_t v);
void json_w_double(json_w *w, double v);
void json_w_bool(json_w *w, bool v);
void json_w_null(json_w *w);
/* Bytes as a base64 string value. */
void json_w_b64(json_w *w, const uint8_t *p, size_t n);
/* Bytes as a string of lowercase hex digits, two per byte. */
void json_w_hex(json_w *w, const uint8_t *p, size_t n);
/* A parsed value, written as json_write_value does. */
void json_w_value(json_w *w, const json_value *v);
/* One complete JSON value that the caller vouches for (stored metadata, say), copied as it is. */
void json_w_raw(json_w *w, const char *json, size_t len);
/* JSON_OK when exactly one complete value was written, else JSON_EWRITER. */
int json_w_finish(const json_w *w);

/* ---- Error bodies ---------------------------------------------------------------------------- */

/* A metadata member of an error body: a string when str is set, else the integer num. */
typedef struct json_meta {
    const char *key;
    const char *str;
    int64_t num;
} json_meta;

/* Appends Rivet's error object {"group","code","message"[,"metadata":{...}]}, the body of every
 * JSON error answer sett gives. Every string is escaped, so text that came from the network (a
 * runner's name, a path) cannot break the body; a NULL message is written as "". */
void json_error_body(buf_t *out, const char *group, const char *code, const char *message,
                     const json_meta *meta, size_t nmeta);

#endif
