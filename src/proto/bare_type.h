/* Run-time descriptions of the C types that tools/barec.lua generates: kind, size, and where each
 * field, union payload and list lives in memory. The generated codecs do not use them (they are
 * straight-line code); the Lua binding and the JSON mapping walk them, so that one hand-written
 * walker serves every schema type. */
#ifndef SETT_PROTO_BARE_TYPE_H
#define SETT_PROTO_BARE_TYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "proto/bare.h"

typedef enum bare_kind {
    BARE_KIND_U8,
    BARE_KIND_U16,
    BARE_KIND_U32,
    BARE_KIND_U64,
    BARE_KIND_I8,
    BARE_KIND_I16,
    BARE_KIND_I32,
    BARE_KIND_I64,
    BARE_KIND_BOOL,
    BARE_KIND_STR,    /* slice_t */
    BARE_KIND_DATA,   /* slice_t */
    BARE_KIND_FIXED,  /* uint8_t[fixed_len] */
    BARE_KIND_ENUM,   /* a C enum, stored as unsigned int */
    BARE_KIND_LIST,   /* bare_list_t of elem */
    BARE_KIND_MAP,    /* bare_list_t of entries {slice_t key; value at value_offset} */
    BARE_KIND_STRUCT, /* fields */
    BARE_KIND_UNION,  /* unsigned tag at tag_offset, payload at val_offset */
} bare_kind_t;

typedef struct bare_type bare_type_t;

/* Marks a struct field that is not optional. */
#define BARE_REQUIRED ((size_t)-1)

typedef struct bare_field {
    const char *name; /* as in the schema (camelCase) */
    size_t offset;
    size_t has_offset; /* offset of the `bool has_<field>` flag, or BARE_REQUIRED */
    const bare_type_t *type;
} bare_field_t;

typedef struct bare_member {
    const char *name; /* the member's type name, e.g. "ToServerInit" */
    unsigned tag;
    const bare_type_t *type; /* NULL for void members */
} bare_member_t;

typedef struct bare_enum_value {
    const char *name; /* as the TypeScript package spells it, e.g. "Ok" */
    unsigned value;
} bare_enum_value_t;

struct bare_type {
    bare_kind_t kind;
    const char *name; /* schema name, or a description such as "list<KvKey>" */
    size_t size;      /* sizeof the C type */
    size_t fixed_len;
    const bare_type_t *elem; /* list element or map value */
    size_t entry_size;       /* map entry */
    size_t value_offset;     /* of the value inside a map entry */
    const bare_field_t *fields;
    const bare_member_t *members;
    const bare_enum_value_t *values;
    size_t count; /* fields, members or values */
    size_t tag_offset;
    size_t val_offset;
};

/* The layout every generated list and map type shares. */
typedef struct bare_list {
    void *items;
    size_t len;
} bare_list_t;

/* One type a caller may name at run time ("to_server"), with its codec behind void pointers. */
typedef struct bare_codec {
    const char *name; /* snake_case, e.g. "to_server" */
    const bare_type_t *type;
    int versioned; /* decode and encode add and check the 2-byte version prefix */
    int (*decode)(const uint8_t *p, size_t n, void *out, bare_err_t *err);
    void (*encode)(buf_t *out, const void *v);
    void (*free)(void *v);
} bare_codec_t;

/* Finds a codec by snake_case name ("to_server"), kebab-case name ("to-server") or schema name
 * ("ToServer") in a table ending with a NULL name. */
const bare_codec_t *bare_codec_find(const bare_codec_t *codecs, const char *name);

/* Integers of every width pass between the codec and Lua or JSON as a sign and a magnitude, so one
 * range check serves u8 to u64 and i8 to i64. */
/* Whether -mag (neg) or mag fits the integer kind k. */
bool bare_int_fits(bare_kind_t k, bool neg, uint64_t mag);
void bare_int_store(void *dst, bare_kind_t k, bool neg, uint64_t mag);
void bare_int_load(const void *src, bare_kind_t k, bool *neg, uint64_t *mag);
/* Parses exactly n bytes of an optional '-' and decimal digits without leading zeros. Returns 0,
 * BARE_INT_SYNTAX for anything else, or BARE_INT_RANGE for a magnitude above 2^64-1. */
enum { BARE_INT_SYNTAX = -1, BARE_INT_RANGE = -2 };
int bare_int_parse(const char *s, size_t n, bool *neg, uint64_t *mag);
/* Writes the decimal form into out (at least 22 bytes) and returns its length. */
size_t bare_int_format(char *out, bool neg, uint64_t mag);

/* The values a 64-bit integer may take and still pass as an exact double (|v| <= 2^53). */
#define BARE_SAFE_INT_MAX ((uint64_t)1 << 53)

/* The enum value's name, or NULL. */
const char *bare_enum_name(const bare_type_t *t, unsigned value);

extern const bare_type_t bare_type_u8, bare_type_u16, bare_type_u32, bare_type_u64;
extern const bare_type_t bare_type_i8, bare_type_i16, bare_type_i32, bare_type_i64;
extern const bare_type_t bare_type_bool, bare_type_str, bare_type_data;

#endif
