/* The JSON form of runner-protocol values, on core/json: the writer walks a value with the
 * streaming builder, and the reader converts a parsed document into a value of the schema type. */
#include "proto/proto_json.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "proto/proto_path.h"

/* Deeper documents are refused; the schema nests about ten levels. */
#define PROTO_JSON_MAX_DEPTH 64

/* Writing ---------------------------------------------------------------------------------- */

static void proto_json_put(json_w *w, const bare_type_t *t, const uint8_t *v)
{
    switch (t->kind) {
    case BARE_KIND_BOOL: {
        bool b;
        memcpy(&b, v, sizeof b);
        json_w_bool(w, b);
        return;
    }
    case BARE_KIND_STR:
    case BARE_KIND_DATA: {
        slice_t s;
        memcpy(&s, v, sizeof s);
        if (t->kind == BARE_KIND_STR)
            json_w_strn(w, (const char *)s.p, s.len);
        else
            json_w_hex(w, s.p, s.len);
        return;
    }
    case BARE_KIND_FIXED: json_w_hex(w, v, t->fixed_len); return;
    case BARE_KIND_ENUM: {
        unsigned e;
        memcpy(&e, v, sizeof e);
        const char *name = bare_enum_name(t, e);
        if (name)
            json_w_str(w, name);
        else
            json_w_int(w, e);
        return;
    }
    case BARE_KIND_LIST:
    case BARE_KIND_MAP: {
        bare_list_t l;
        memcpy(&l, v, sizeof l);
        bool map = t->kind == BARE_KIND_MAP;
        size_t stride = map ? t->entry_size : t->elem->size;
        if (map)
            json_w_obj_begin(w);
        else
            json_w_arr_begin(w);
        for (size_t i = 0; i < l.len; i++) {
            const uint8_t *item = (const uint8_t *)l.items + i * stride;
            if (map) {
                slice_t key;
                memcpy(&key, item, sizeof key);
                json_w_keyn(w, (const char *)key.p, key.len);
                item += t->value_offset;
            }
            proto_json_put(w, t->elem, item);
        }
        json_w_end(w);
        return;
    }
    case BARE_KIND_STRUCT:
        json_w_obj_begin(w);
        for (size_t i = 0; i < t->count; i++) {
            const bare_field_t *f = &t->fields[i];
            json_w_key(w, f->name);
            bool present = true;
            if (f->has_offset != BARE_REQUIRED)
                memcpy(&present, v + f->has_offset, sizeof present);
            if (present)
                proto_json_put(w, f->type, v + f->offset);
            else
                json_w_null(w);
        }
        json_w_end(w);
        return;
    case BARE_KIND_UNION: {
        unsigned tag;
        memcpy(&tag, v + t->tag_offset, sizeof tag);
        const bare_member_t *m = NULL;
        for (size_t i = 0; i < t->count; i++)
            if (t->members[i].tag == tag)
                m = &t->members[i];
        json_w_obj_begin(w);
        json_w_key(w, "tag");
        if (m)
            json_w_str(w, m->name);
        else
            json_w_int(w, tag);
        json_w_key(w, "val");
        if (m && m->type)
            proto_json_put(w, m->type, v + t->val_offset);
        else
            json_w_null(w);
        json_w_end(w);
        return;
    }
    default: {
        bool neg;
        uint64_t mag;
        bare_int_load(v, t->kind, &neg, &mag);
        if (mag > BARE_SAFE_INT_MAX) {
            /* Beyond 2^53 JavaScript numbers are inexact, so the TypeScript form is a string. */
            char num[24];
            size_t len = bare_int_format(num, neg, mag);
            json_w_strn(w, num, len);
        } else {
            json_w_int(w, neg ? -(int64_t)mag : (int64_t)mag);
        }
        return;
    }
    }
}

void proto_json_write(buf_t *out, const bare_type_t *t, const void *v)
{
    json_w w;
    json_w_init(&w, out);
    proto_json_put(&w, t, v);
}

/* Converting a parsed document into a value -------------------------------------------------- */

typedef struct proto_json_conv {
    bare_arena_t *arena;
    char *err;
    size_t errlen;
} proto_json_conv_t;

static const char *proto_json_kind_name(const json_value *v)
{
    static const char *const names[] = { "null", "boolean", "number", "string", "array", "object" };
    return names[v->type];
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

static int proto_json_expect(proto_json_conv_t *cv, const json_value *node, json_type type,
                             const char *want, const proto_path_t *path)
{
    if (node->type == type)
        return 0;
    return proto_json_fail(cv, path, "expected %s, got %s", want, proto_json_kind_name(node));
}

/* The bytes of a string value, copied into the arena: the value outlives the document. */
static const uint8_t *proto_json_copy(proto_json_conv_t *cv, const char *s, size_t n)
{
    uint8_t *d = bare_arena_alloc(cv->arena, n ? n : 1);
    memcpy(d, s, n);
    return d;
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

static int proto_json_unhex(proto_json_conv_t *cv, const json_value *node, uint8_t *dst,
                            const proto_path_t *path)
{
    const char *s = node->u.str;
    for (size_t i = 0; i < node->len / 2; i++) {
        int hi = proto_json_hexval(s[2 * i]), lo = proto_json_hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return proto_json_fail(cv, path, "expected hex digits, got '%c%c'", s[2 * i],
                                   s[2 * i + 1]);
        dst[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static int proto_json_int(proto_json_conv_t *cv, const json_value *node, const bare_type_t *t,
                          uint8_t *dst, const proto_path_t *path)
{
    bool wide = t->kind == BARE_KIND_U64 || t->kind == BARE_KIND_I64;
    bool neg = false;
    uint64_t mag = 0;
    int rc = 0;
    if (node->type == JSON_STRING && wide) {
        rc = bare_int_parse(node->u.str, node->len, &neg, &mag);
        if (rc == BARE_INT_SYNTAX)
            return proto_json_fail(cv, path, "expected a decimal integer string, got \"%.*s\"",
                                   (int)(node->len > 40 ? 40 : node->len), node->u.str);
    } else if (node->type == JSON_NUMBER) {
        double d = node->u.num.d;
        if (node->is_int) {
            neg = node->u.num.i < 0;
            mag = neg ? -(uint64_t)node->u.num.i : (uint64_t)node->u.num.i;
        } else if (node->is_u64) {
            mag = node->u.num.u;
        } else if (floor(d) == d && fabs(d) >= 0x1p63) {
            rc = BARE_INT_RANGE;
        } else {
            buf_t text = BUF_INIT;
            json_write_double(&text, d);
            proto_json_fail(cv, path, "expected an integer, got %.*s", (int)text.len,
                            (const char *)text.data);
            buf_free(&text);
            return -1;
        }
    } else {
        return proto_json_fail(cv, path, "expected %s, got %s",
                               wide ? "integer or decimal string" : "integer",
                               proto_json_kind_name(node));
    }
    if (rc == BARE_INT_RANGE || !bare_int_fits(t->kind, neg, mag))
        return proto_json_fail(cv, path, "integer out of range for %s", t->name);
    bare_int_store(dst, t->kind, neg, mag);
    return 0;
}

static int proto_json_conv(proto_json_conv_t *cv, const json_value *node, const bare_type_t *t,
                           uint8_t *dst, const proto_path_t *path)
{
    switch (t->kind) {
    case BARE_KIND_BOOL: {
        if (proto_json_expect(cv, node, JSON_BOOL, "boolean", path))
            return -1;
        bool b = node->boolean;
        memcpy(dst, &b, sizeof b);
        return 0;
    }
    case BARE_KIND_STR: {
        if (proto_json_expect(cv, node, JSON_STRING, "string", path))
            return -1;
        slice_t s = { proto_json_copy(cv, node->u.str, node->len), node->len };
        memcpy(dst, &s, sizeof s);
        return 0;
    }
    case BARE_KIND_DATA: {
        if (proto_json_expect(cv, node, JSON_STRING, "hex string", path))
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
        if (proto_json_expect(cv, node, JSON_STRING, "hex string", path))
            return -1;
        if (node->len != 2 * t->fixed_len)
            return proto_json_fail(cv, path, "expected %zu hex digits, got %zu", 2 * t->fixed_len,
                                   node->len);
        return proto_json_unhex(cv, node, dst, path);
    case BARE_KIND_ENUM:
        if (proto_json_expect(cv, node, JSON_STRING, "string", path))
            return -1;
        for (size_t i = 0; i < t->count; i++) {
            if (strlen(t->values[i].name) == node->len &&
                memcmp(t->values[i].name, node->u.str, node->len) == 0) {
                unsigned e = t->values[i].value;
                memcpy(dst, &e, sizeof e);
                return 0;
            }
        }
        return proto_json_fail(cv, path, "unknown %s value \"%.*s\"", t->name,
                               (int)(node->len > 40 ? 40 : node->len), node->u.str);
    case BARE_KIND_LIST:
    case BARE_KIND_MAP: {
        bool map = t->kind == BARE_KIND_MAP;
        if (proto_json_expect(cv, node, map ? JSON_OBJECT : JSON_ARRAY, map ? "object" : "array",
                              path))
            return -1;
        size_t stride = map ? t->entry_size : t->elem->size;
        bare_list_t l = { bare_arena_alloc(cv->arena, node->len * stride), node->len };
        for (size_t i = 0; i < node->len; i++) {
            uint8_t *item = (uint8_t *)l.items + i * stride;
            proto_path_t step = { path, NULL, NULL, 0, i };
            const json_value *c;
            if (map) {
                const json_member *m = json_obj_at(node, i);
                slice_t key = { proto_json_copy(cv, m->key, m->key_len), m->key_len };
                memcpy(item, &key, sizeof key);
                item += t->value_offset;
                step.key = m->key;
                step.keylen = m->key_len;
                c = &m->value;
            } else {
                c = json_arr_at(node, i);
            }
            if (proto_json_conv(cv, c, t->elem, item, &step))
                return -1;
        }
        memcpy(dst, &l, sizeof l);
        return 0;
    }
    case BARE_KIND_STRUCT: {
        if (proto_json_expect(cv, node, JSON_OBJECT, "object", path))
            return -1;
        for (size_t j = 0; j < node->len; j++) {
            const json_member *m = json_obj_at(node, j);
            size_t i = 0;
            while (i < t->count && !(strlen(t->fields[i].name) == m->key_len &&
                                     memcmp(t->fields[i].name, m->key, m->key_len) == 0))
                i++;
            if (i == t->count)
                return proto_json_fail(cv, path, "unknown field \"%.*s\" in %s",
                                       (int)(m->key_len > 40 ? 40 : m->key_len), m->key, t->name);
        }
        for (size_t i = 0; i < t->count; i++) {
            const bare_field_t *f = &t->fields[i];
            const json_value *c = json_obj_get(node, f->name);
            proto_path_t step = { path, f->name, NULL, 0, 0 };
            bool optional = f->has_offset != BARE_REQUIRED;
            if (optional) {
                bool present = c && c->type != JSON_NULL;
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
        if (proto_json_expect(cv, node, JSON_OBJECT, "object", path))
            return -1;
        for (size_t j = 0; j < node->len; j++) {
            const json_member *m = json_obj_at(node, j);
            if (!(m->key_len == 3 &&
                  (memcmp(m->key, "tag", 3) == 0 || memcmp(m->key, "val", 3) == 0)))
                return proto_json_fail(cv, path, "unknown field \"%.*s\" in %s (expected tag, val)",
                                       (int)(m->key_len > 40 ? 40 : m->key_len), m->key, t->name);
        }
        const json_value *tag = json_obj_get(node, "tag");
        const json_value *val = json_obj_get(node, "val");
        proto_path_t tag_step = { path, "tag", NULL, 0, 0 };
        proto_path_t val_step = { path, "val", NULL, 0, 0 };
        if (!tag)
            return proto_json_fail(cv, &tag_step, "missing field");
        if (proto_json_expect(cv, tag, JSON_STRING, "string", &tag_step))
            return -1;
        const bare_member_t *m = NULL;
        for (size_t i = 0; i < t->count && !m; i++)
            if (strlen(t->members[i].name) == tag->len &&
                memcmp(t->members[i].name, tag->u.str, tag->len) == 0)
                m = &t->members[i];
        if (!m)
            return proto_json_fail(cv, &tag_step, "unknown %s member \"%.*s\"", t->name,
                                   (int)(tag->len > 40 ? 40 : tag->len), tag->u.str);
        memcpy(dst + t->tag_offset, &m->tag, sizeof m->tag);
        if (!m->type)
            return 0;
        if (!val)
            return proto_json_fail(cv, &val_step, "missing field");
        return proto_json_conv(cv, val, m->type, dst + t->val_offset, &val_step);
    }
    default: return proto_json_int(cv, node, t, dst, path);
    }
}

int proto_json_read(const char *text, size_t n, const bare_type_t *t, const char *root, void *out,
                    bare_arena_t *arena, char *err, size_t errlen)
{
    json_limits lim = { 0, 0, PROTO_JSON_MAX_DEPTH };
    json_doc doc;
    json_err je;
    if (json_parse_ex(text, n, &lim, &doc, &je) != JSON_OK) {
        snprintf(err, errlen, "invalid JSON at byte %zu: %s", je.offset,
                 je.msg ? je.msg : json_strerror(je.code));
        return -1;
    }
    proto_json_conv_t cv = { arena, err, errlen };
    proto_path_t path = { NULL, root, NULL, 0, 0 };
    memset(out, 0, t->size);
    int rc = proto_json_conv(&cv, json_doc_root(&doc), t, out, &path);
    json_doc_free(&doc);
    return rc;
}
