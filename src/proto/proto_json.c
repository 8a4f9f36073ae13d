#include "proto/proto_json.h"
#include "core/utf8.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "proto/proto_path.h"

/* Deeper documents are refused; the schema nests about ten levels. */
#define PROTO_JSON_MAX_DEPTH 64

static const char proto_json_hexdigits[] = "0123456789abcdef";

/* Writing ---------------------------------------------------------------------------------- */

static void proto_json_put_str(buf_t *out, const uint8_t *p, size_t n)
{
    size_t run = 0;
    buf_push(out, '"');
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        buf_append(out, p + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': buf_append_str(out, "\\\""); break;
        case '\\': buf_append_str(out, "\\\\"); break;
        case '\n': buf_append_str(out, "\\n"); break;
        case '\r': buf_append_str(out, "\\r"); break;
        case '\t': buf_append_str(out, "\\t"); break;
        case '\b': buf_append_str(out, "\\b"); break;
        case '\f': buf_append_str(out, "\\f"); break;
        default: buf_printf(out, "\\u%04x", c); break;
        }
    }
    buf_append(out, p + run, n - run);
    buf_push(out, '"');
}

static void proto_json_put_hex(buf_t *out, const uint8_t *p, size_t n)
{
    buf_push(out, '"');
    char *d = (char *)buf_reserve(out, 2 * n);
    for (size_t i = 0; i < n; i++) {
        d[2 * i] = proto_json_hexdigits[p[i] >> 4];
        d[2 * i + 1] = proto_json_hexdigits[p[i] & 15];
    }
    out->len += 2 * n;
    buf_push(out, '"');
}

static void proto_json_put(buf_t *out, const bare_type_t *t, const uint8_t *v)
{
    switch (t->kind) {
    case BARE_KIND_BOOL: {
        bool b;
        memcpy(&b, v, sizeof b);
        buf_append_str(out, b ? "true" : "false");
        return;
    }
    case BARE_KIND_STR:
    case BARE_KIND_DATA: {
        slice_t s;
        memcpy(&s, v, sizeof s);
        if (t->kind == BARE_KIND_STR)
            proto_json_put_str(out, s.p, s.len);
        else
            proto_json_put_hex(out, s.p, s.len);
        return;
    }
    case BARE_KIND_FIXED:
        proto_json_put_hex(out, v, t->fixed_len);
        return;
    case BARE_KIND_ENUM: {
        unsigned e;
        memcpy(&e, v, sizeof e);
        const char *name = bare_enum_name(t, e);
        if (name)
            proto_json_put_str(out, (const uint8_t *)name, strlen(name));
        else
            buf_printf(out, "%u", e);
        return;
    }
    case BARE_KIND_LIST:
    case BARE_KIND_MAP: {
        bare_list_t l;
        memcpy(&l, v, sizeof l);
        bool map = t->kind == BARE_KIND_MAP;
        size_t stride = map ? t->entry_size : t->elem->size;
        buf_push(out, map ? '{' : '[');
        for (size_t i = 0; i < l.len; i++) {
            const uint8_t *item = (const uint8_t *)l.items + i * stride;
            if (i)
                buf_push(out, ',');
            if (map) {
                slice_t key;
                memcpy(&key, item, sizeof key);
                proto_json_put_str(out, key.p, key.len);
                buf_push(out, ':');
                item += t->value_offset;
            }
            proto_json_put(out, t->elem, item);
        }
        buf_push(out, map ? '}' : ']');
        return;
    }
    case BARE_KIND_STRUCT:
        buf_push(out, '{');
        for (size_t i = 0; i < t->count; i++) {
            const bare_field_t *f = &t->fields[i];
            if (i)
                buf_push(out, ',');
            proto_json_put_str(out, (const uint8_t *)f->name, strlen(f->name));
            buf_push(out, ':');
            bool present = true;
            if (f->has_offset != BARE_REQUIRED)
                memcpy(&present, v + f->has_offset, sizeof present);
            if (present)
                proto_json_put(out, f->type, v + f->offset);
            else
                buf_append_str(out, "null");
        }
        buf_push(out, '}');
        return;
    case BARE_KIND_UNION: {
        unsigned tag;
        memcpy(&tag, v + t->tag_offset, sizeof tag);
        const bare_member_t *m = NULL;
        for (size_t i = 0; i < t->count; i++)
            if (t->members[i].tag == tag)
                m = &t->members[i];
        buf_append_str(out, "{\"tag\":");
        if (m)
            proto_json_put_str(out, (const uint8_t *)m->name, strlen(m->name));
        else
            buf_printf(out, "%u", tag);
        buf_append_str(out, ",\"val\":");
        if (m && m->type)
            proto_json_put(out, m->type, v + t->val_offset);
        else
            buf_append_str(out, "null");
        buf_push(out, '}');
        return;
    }
    default: {
        bool neg;
        uint64_t mag;
        char num[24];
        bare_int_load(v, t->kind, &neg, &mag);
        size_t len = bare_int_format(num, neg, mag);
        if (mag > BARE_SAFE_INT_MAX) {
            buf_push(out, '"');
            buf_append(out, num, len);
            buf_push(out, '"');
        } else {
            buf_append(out, num, len);
        }
        return;
    }
    }
}

void proto_json_write(buf_t *out, const bare_type_t *t, const void *v)
{
    proto_json_put(out, t, v);
}

void proto_json_write_str(buf_t *out, const char *s, size_t n)
{
    proto_json_put_str(out, (const uint8_t *)s, n);
}

/* Parsing into a tree ----------------------------------------------------------------------- */

enum { PJ_NULL, PJ_BOOL, PJ_NUM, PJ_STR, PJ_ARR, PJ_OBJ };

typedef struct proto_json_node proto_json_node_t;

struct proto_json_node {
    int kind;
    size_t at;         /* byte offset in the text */
    const char *s;     /* PJ_STR: the decoded bytes; PJ_NUM: the literal */
    size_t len;
    bool b;
    size_t n;          /* children of PJ_ARR and PJ_OBJ, in order */
    proto_json_node_t *first, *next;
    const char *key;   /* a PJ_OBJ child's key */
    size_t keylen;
};

typedef struct proto_json_parser {
    const char *start, *p, *end;
    bare_arena_t *arena;
    char *err;
    size_t errlen;
} proto_json_parser_t;

static proto_json_node_t *proto_json_syntax(proto_json_parser_t *ps, const char *what)
{
    if (ps->p >= ps->end)
        snprintf(ps->err, ps->errlen, "invalid JSON at byte %zu: %s (end of input)",
                 (size_t)(ps->p - ps->start), what);
    else
        snprintf(ps->err, ps->errlen, "invalid JSON at byte %zu: %s", (size_t)(ps->p - ps->start),
                 what);
    return NULL;
}

static void proto_json_skip_ws(proto_json_parser_t *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int proto_json_hex4(const char *p, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return -1;
        *v = *v << 4 | d;
    }
    return 0;
}

static size_t proto_json_utf8(char *d, unsigned cp)
{
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xc0 | cp >> 6);
        d[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xe0 | cp >> 12);
        d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        d[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    d[0] = (char)(0xf0 | cp >> 18);
    d[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    d[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    d[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Reads a string starting at the opening quote; the decoded form is never longer than the
 * source, so one arena block of the source's length holds it. */
static int proto_json_string(proto_json_parser_t *ps, const char **out, size_t *outlen)
{
    const char *q = ++ps->p;
    while (q < ps->end && *q != '"') {
        if (*q == '\\')
            q++;
        q++;
    }
    if (q >= ps->end) {
        proto_json_syntax(ps, "unterminated string");
        return -1;
    }
    char *d = bare_arena_alloc(ps->arena, (size_t)(q - ps->p) + 1);
    size_t len = 0;
    while (ps->p < q) {
        unsigned char c = (unsigned char)*ps->p;
        if (c < 0x20) {
            proto_json_syntax(ps, "control character in string");
            return -1;
        }
        if (c != '\\') {
            d[len++] = (char)c;
            ps->p++;
            continue;
        }
        ps->p++;
        char e = *ps->p++;
        switch (e) {
        case '"': d[len++] = '"'; break;
        case '\\': d[len++] = '\\'; break;
        case '/': d[len++] = '/'; break;
        case 'b': d[len++] = '\b'; break;
        case 'f': d[len++] = '\f'; break;
        case 'n': d[len++] = '\n'; break;
        case 'r': d[len++] = '\r'; break;
        case 't': d[len++] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (q - ps->p < 4 || proto_json_hex4(ps->p, &cp)) {
                proto_json_syntax(ps, "bad \\u escape");
                return -1;
            }
            ps->p += 4;
            if (cp >= 0xdc00 && cp <= 0xdfff) {
                proto_json_syntax(ps, "lone low surrogate");
                return -1;
            }
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (q - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
                    proto_json_hex4(ps->p + 2, &lo) || lo < 0xdc00 || lo > 0xdfff) {
                    proto_json_syntax(ps, "lone high surrogate");
                    return -1;
                }
                ps->p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            len += proto_json_utf8(d + len, cp);
            break;
        }
        default:
            ps->p--;
            proto_json_syntax(ps, "bad escape");
            return -1;
        }
    }
    ps->p = q + 1;
    if (!utf8_valid((const uint8_t *)d, len)) {
        proto_json_syntax(ps, "string is not valid UTF-8");
        return -1;
    }
    *out = d;
    *outlen = len;
    return 0;
}

static bool proto_json_digit(proto_json_parser_t *ps)
{
    return ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9';
}

static proto_json_node_t *proto_json_value(proto_json_parser_t *ps, int depth);

static proto_json_node_t *proto_json_container(proto_json_parser_t *ps, proto_json_node_t *node,
                                               int depth)
{
    bool obj = node->kind == PJ_OBJ;
    char close = obj ? '}' : ']';
    proto_json_node_t **tail = &node->first;
    ps->p++;
    proto_json_skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return node;
    }
    for (;;) {
        const char *key = NULL;
        size_t keylen = 0;
        proto_json_skip_ws(ps);
        if (obj) {
            if (ps->p >= ps->end || *ps->p != '"')
                return proto_json_syntax(ps, "expected a string key");
            if (proto_json_string(ps, &key, &keylen))
                return NULL;
            proto_json_skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':')
                return proto_json_syntax(ps, "expected ':'");
            ps->p++;
        }
        proto_json_node_t *child = proto_json_value(ps, depth + 1);
        if (!child)
            return NULL;
        child->key = key;
        child->keylen = keylen;
        *tail = child;
        tail = &child->next;
        node->n++;
        proto_json_skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            return node;
        }
        return proto_json_syntax(ps, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static proto_json_node_t *proto_json_value(proto_json_parser_t *ps, int depth)
{
    if (depth > PROTO_JSON_MAX_DEPTH)
        return proto_json_syntax(ps, "nested too deeply");
    proto_json_skip_ws(ps);
    if (ps->p >= ps->end)
        return proto_json_syntax(ps, "expected a value");
    proto_json_node_t *node = bare_arena_alloc(ps->arena, sizeof *node);
    node->at = (size_t)(ps->p - ps->start);
    size_t left = (size_t)(ps->end - ps->p);
    char c = *ps->p;
    if (c == '{' || c == '[') {
        node->kind = c == '{' ? PJ_OBJ : PJ_ARR;
        return proto_json_container(ps, node, depth);
    }
    if (c == '"') {
        node->kind = PJ_STR;
        return proto_json_string(ps, &node->s, &node->len) ? NULL : node;
    }
    if (left >= 4 && memcmp(ps->p, "null", 4) == 0) {
        node->kind = PJ_NULL;
        ps->p += 4;
        return node;
    }
    if (left >= 4 && memcmp(ps->p, "true", 4) == 0) {
        node->kind = PJ_BOOL;
        node->b = true;
        ps->p += 4;
        return node;
    }
    if (left >= 5 && memcmp(ps->p, "false", 5) == 0) {
        node->kind = PJ_BOOL;
        ps->p += 5;
        return node;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        const char *s = ps->p;
        if (*ps->p == '-')
            ps->p++;
        if (!proto_json_digit(ps))
            return proto_json_syntax(ps, "bad number");
        if (*ps->p == '0')
            ps->p++;
        else
            while (proto_json_digit(ps))
                ps->p++;
        if (ps->p < ps->end && *ps->p == '.') {
            ps->p++;
            if (!proto_json_digit(ps))
                return proto_json_syntax(ps, "bad number");
            while (proto_json_digit(ps))
                ps->p++;
        }
        if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
            ps->p++;
            if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
                ps->p++;
            if (!proto_json_digit(ps))
                return proto_json_syntax(ps, "bad number");
            while (proto_json_digit(ps))
                ps->p++;
        }
        node->kind = PJ_NUM;
        node->s = s;
        node->len = (size_t)(ps->p - s);
        return node;
    }
    return proto_json_syntax(ps, "unexpected character");
}

/* Converting the tree into a value ---------------------------------------------------------- */

typedef struct proto_json_conv {
    bare_arena_t *arena;
    char *err;
    size_t errlen;
} proto_json_conv_t;

static const char *proto_json_kind_name(int kind)
{
    static const char *const names[] = { "null", "boolean", "number", "string", "array", "object" };
    return names[kind];
}

static int proto_json_fail(proto_json_conv_t *cv, const proto_path_t *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int proto_json_fail(proto_json_conv_t *cv, const proto_path_t *path, const char *fmt, ...)
{
    char where[256], what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(cv->err, cv->errlen, "%s: %s", proto_path_format(path, where, sizeof where), what);
    return -1;
}

static int proto_json_expect(proto_json_conv_t *cv, const proto_json_node_t *node, int kind,
                             const char *want, const proto_path_t *path)
{
    if (node->kind == kind)
        return 0;
    return proto_json_fail(cv, path, "expected %s, got %s", want, proto_json_kind_name(node->kind));
}

static int proto_json_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int proto_json_unhex(proto_json_conv_t *cv, const proto_json_node_t *node, uint8_t *dst,
                            const proto_path_t *path)
{
    for (size_t i = 0; i < node->len / 2; i++) {
        int hi = proto_json_hexval(node->s[2 * i]), lo = proto_json_hexval(node->s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return proto_json_fail(cv, path, "expected hex digits, got '%c%c'", node->s[2 * i],
                                   node->s[2 * i + 1]);
        dst[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static const proto_json_node_t *proto_json_find(const proto_json_node_t *obj, const char *key)
{
    size_t n = strlen(key);
    for (const proto_json_node_t *c = obj->first; c; c = c->next)
        if (c->keylen == n && memcmp(c->key, key, n) == 0)
            return c;
    return NULL;
}

/* Object keys must be distinct: a duplicate would be ambiguous here and is invalid in a map. */
static int proto_json_distinct(proto_json_conv_t *cv, const proto_json_node_t *obj,
                               const proto_path_t *path)
{
    bare_keyset_t ks;
    slice_t *keys = bare_arena_alloc(cv->arena, obj->n * sizeof *keys);
    size_t i = 0;
    for (const proto_json_node_t *c = obj->first; c; c = c->next, i++)
        keys[i] = (slice_t){ (const uint8_t *)c->key, c->keylen };
    bare_keyset_init(&ks, keys, sizeof *keys, obj->n);
    int rc = 0;
    for (i = 0; i < obj->n && rc == 0; i++)
        if (bare_keyset_add(&ks, i))
            rc = proto_json_fail(cv, path, "duplicate key \"%.*s\"", (int)keys[i].len,
                                 (const char *)keys[i].p);
    bare_keyset_free(&ks);
    return rc;
}

static int proto_json_int(proto_json_conv_t *cv, const proto_json_node_t *node,
                          const bare_type_t *t, uint8_t *dst, const proto_path_t *path)
{
    bool wide = t->kind == BARE_KIND_U64 || t->kind == BARE_KIND_I64;
    bool neg;
    uint64_t mag;
    int rc;
    if (node->kind == PJ_STR && wide) {
        rc = bare_int_parse(node->s, node->len, &neg, &mag);
        if (rc == BARE_INT_SYNTAX)
            return proto_json_fail(cv, path, "expected a decimal integer string, got \"%.*s\"",
                                   (int)(node->len > 40 ? 40 : node->len), node->s);
    } else if (node->kind == PJ_NUM) {
        rc = bare_int_parse(node->s, node->len, &neg, &mag);
        if (rc == BARE_INT_SYNTAX)
            return proto_json_fail(cv, path, "expected an integer, got %.*s",
                                   (int)(node->len > 40 ? 40 : node->len), node->s);
    } else {
        return proto_json_fail(cv, path, "expected %s, got %s",
                               wide ? "integer or decimal string" : "integer",
                               proto_json_kind_name(node->kind));
    }
    if (rc == BARE_INT_RANGE || !bare_int_fits(t->kind, neg, mag))
        return proto_json_fail(cv, path, "integer out of range for %s", t->name);
    bare_int_store(dst, t->kind, neg, mag);
    return 0;
}

static int proto_json_conv(proto_json_conv_t *cv, const proto_json_node_t *node,
                           const bare_type_t *t, uint8_t *dst, const proto_path_t *path)
{
    switch (t->kind) {
    case BARE_KIND_BOOL: {
        if (proto_json_expect(cv, node, PJ_BOOL, "boolean", path))
            return -1;
        bool b = node->b;
        memcpy(dst, &b, sizeof b);
        return 0;
    }
    case BARE_KIND_STR: {
        if (proto_json_expect(cv, node, PJ_STR, "string", path))
            return -1;
        slice_t s = { (const uint8_t *)node->s, node->len };
        memcpy(dst, &s, sizeof s);
        return 0;
    }
    case BARE_KIND_DATA: {
        if (proto_json_expect(cv, node, PJ_STR, "hex string", path))
            return -1;
        if (node->len % 2)
            return proto_json_fail(cv, path, "expected hex string, got an odd number of digits");
        uint8_t *bytes = bare_arena_alloc(cv->arena, node->len / 2);
        if (proto_json_unhex(cv, node, bytes, path))
            return -1;
        slice_t d = { bytes, node->len / 2 };
        memcpy(dst, &d, sizeof d);
        return 0;
    }
    case BARE_KIND_FIXED:
        if (proto_json_expect(cv, node, PJ_STR, "hex string", path))
            return -1;
        if (node->len != 2 * t->fixed_len)
            return proto_json_fail(cv, path, "expected %zu hex digits, got %zu", 2 * t->fixed_len,
                                   node->len);
        return proto_json_unhex(cv, node, dst, path);
    case BARE_KIND_ENUM:
        if (proto_json_expect(cv, node, PJ_STR, "string", path))
            return -1;
        for (size_t i = 0; i < t->count; i++) {
            if (strlen(t->values[i].name) == node->len &&
                memcmp(t->values[i].name, node->s, node->len) == 0) {
                unsigned e = t->values[i].value;
                memcpy(dst, &e, sizeof e);
                return 0;
            }
        }
        return proto_json_fail(cv, path, "unknown %s value \"%.*s\"", t->name,
                               (int)(node->len > 40 ? 40 : node->len), node->s);
    case BARE_KIND_LIST:
    case BARE_KIND_MAP: {
        bool map = t->kind == BARE_KIND_MAP;
        if (proto_json_expect(cv, node, map ? PJ_OBJ : PJ_ARR, map ? "object" : "array", path))
            return -1;
        if (map && proto_json_distinct(cv, node, path))
            return -1;
        size_t stride = map ? t->entry_size : t->elem->size;
        bare_list_t l = { bare_arena_alloc(cv->arena, node->n * stride), node->n };
        size_t i = 0;
        for (const proto_json_node_t *c = node->first; c; c = c->next, i++) {
            uint8_t *item = (uint8_t *)l.items + i * stride;
            proto_path_t step = { path, NULL, NULL, 0, i };
            if (map) {
                slice_t key = { (const uint8_t *)c->key, c->keylen };
                memcpy(item, &key, sizeof key);
                item += t->value_offset;
                step.key = c->key;
                step.keylen = c->keylen;
            }
            if (proto_json_conv(cv, c, t->elem, item, &step))
                return -1;
        }
        memcpy(dst, &l, sizeof l);
        return 0;
    }
    case BARE_KIND_STRUCT: {
        if (proto_json_expect(cv, node, PJ_OBJ, "object", path) ||
            proto_json_distinct(cv, node, path))
            return -1;
        for (const proto_json_node_t *c = node->first; c; c = c->next) {
            size_t i = 0;
            while (i < t->count && !(strlen(t->fields[i].name) == c->keylen &&
                                     memcmp(t->fields[i].name, c->key, c->keylen) == 0))
                i++;
            if (i == t->count)
                return proto_json_fail(cv, path, "unknown field \"%.*s\" in %s",
                                       (int)(c->keylen > 40 ? 40 : c->keylen), c->key, t->name);
        }
        for (size_t i = 0; i < t->count; i++) {
            const bare_field_t *f = &t->fields[i];
            const proto_json_node_t *c = proto_json_find(node, f->name);
            proto_path_t step = { path, f->name, NULL, 0, 0 };
            bool optional = f->has_offset != BARE_REQUIRED;
            if (optional) {
                bool present = c && c->kind != PJ_NULL;
                memcpy(dst + f->has_offset, &present, sizeof present);
                if (!present)
                    continue;
            } else if (!c) {
                return proto_json_fail(cv, &step, "missing field");
            }
            if (proto_json_conv(cv, c, f->type, dst + f->offset, &step))
                return -1;
        }
        return 0;
    }
    case BARE_KIND_UNION: {
        if (proto_json_expect(cv, node, PJ_OBJ, "object", path) ||
            proto_json_distinct(cv, node, path))
            return -1;
        for (const proto_json_node_t *c = node->first; c; c = c->next)
            if (!(c->keylen == 3 && (memcmp(c->key, "tag", 3) == 0 || memcmp(c->key, "val", 3) == 0)))
                return proto_json_fail(cv, path, "unknown field \"%.*s\" in %s (expected tag, val)",
                                       (int)(c->keylen > 40 ? 40 : c->keylen), c->key, t->name);
        const proto_json_node_t *tag = proto_json_find(node, "tag");
        const proto_json_node_t *val = proto_json_find(node, "val");
        proto_path_t tag_step = { path, "tag", NULL, 0, 0 };
        proto_path_t val_step = { path, "val", NULL, 0, 0 };
        if (!tag)
            return proto_json_fail(cv, &tag_step, "missing field");
        if (proto_json_expect(cv, tag, PJ_STR, "string", &tag_step))
            return -1;
        const bare_member_t *m = NULL;
        for (size_t i = 0; i < t->count && !m; i++)
            if (strlen(t->members[i].name) == tag->len &&
                memcmp(t->members[i].name, tag->s, tag->len) == 0)
                m = &t->members[i];
        if (!m)
            return proto_json_fail(cv, &tag_step, "unknown %s member \"%.*s\"", t->name,
                                   (int)(tag->len > 40 ? 40 : tag->len), tag->s);
        memcpy(dst + t->tag_offset, &m->tag, sizeof m->tag);
        if (!m->type)
            return 0;
        if (!val)
            return proto_json_fail(cv, &val_step, "missing field");
        return proto_json_conv(cv, val, m->type, dst + t->val_offset, &val_step);
    }
    default:
        return proto_json_int(cv, node, t, dst, path);
    }
}

int proto_json_read(const char *text, size_t n, const bare_type_t *t, const char *root, void *out,
                    bare_arena_t *arena, char *err, size_t errlen)
{
    proto_json_parser_t ps = { text, text, text + n, arena, err, errlen };
    proto_json_node_t *doc = proto_json_value(&ps, 0);
    if (!doc)
        return -1;
    proto_json_skip_ws(&ps);
    if (ps.p != ps.end) {
        proto_json_syntax(&ps, "trailing characters after the document");
        return -1;
    }
    proto_json_conv_t cv = { arena, err, errlen };
    proto_path_t path = { NULL, root, NULL, 0, 0 };
    memset(out, 0, t->size);
    return proto_json_conv(&cv, doc, t, out, &path);
}
