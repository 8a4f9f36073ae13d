#include "core/json.h"
#include "core/alloc.h"
#include "core/base64.h"
#include "core/utf8.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Shared helpers -------------------------------------------------------------------------- */

/* strtod and snprintf follow the process locale, which could make the decimal point a comma;
 * JSON numbers always use '.', so number conversions switch this thread to the C locale. */
static locale_t json_c_loc;
static pthread_once_t json_c_loc_once = PTHREAD_ONCE_INIT;

static void json_c_loc_init(void)
{
    json_c_loc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

static locale_t json_use_c_locale(void)
{
    pthread_once(&json_c_loc_once, json_c_loc_init);
    return json_c_loc ? uselocale(json_c_loc) : (locale_t)0;
}

static void json_restore_locale(locale_t old)
{
    if (old)
        uselocale(old);
}

/* Bytes that a string carries as they are in both directions: ASCII from space to DEL other
 * than '"' and '\\'. A table, because short strings are scanned byte by byte. */
/* clang-format off */
static const uint8_t json_plain[256] = {
    ['\x20'] = 1, ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['('] = 1,
    [')'] = 1, ['*'] = 1, ['+'] = 1, [','] = 1, ['-'] = 1, ['.'] = 1, ['/'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, [':'] = 1, [';'] = 1, ['<'] = 1, ['='] = 1, ['>'] = 1, ['?'] = 1,
    ['@'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1,
    ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1,
    ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['['] = 1, [']'] = 1, ['^'] = 1, ['_'] = 1,
    ['`'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1,
    ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1,
    ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1,
    ['x'] = 1, ['y'] = 1, ['z'] = 1, ['{'] = 1, ['|'] = 1, ['}'] = 1, ['~'] = 1,
    ['\x7f'] = 1,
};
/* clang-format on */

/* Returns the first byte at or after q that is not plain, or end. While eight bytes remain it
 * tests them at once: a byte below 0x20, a '"', a '\\' or a byte with the high bit set turns on
 * its high bit in t (SWAR arithmetic; a borrow can only add false hits above a true one), so on
 * a little-endian machine the lowest hit is the answer. */
static inline const uint8_t *json_scan_plain(const uint8_t *q, const uint8_t *end)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    while (end - q >= 8) {
        uint64_t x;
        memcpy(&x, q, 8);
        uint64_t quote = x ^ (ones * '"'), bslash = x ^ (ones * '\\');
        uint64_t t = (((x - ones * 0x20) & ~x) | ((quote - ones) & ~quote) |
                      ((bslash - ones) & ~bslash) | x) &
                     highs;
        if (t) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return q + (__builtin_ctzll(t) >> 3);
#else
            break;
#endif
        }
        q += 8;
    }
    while (q < end && json_plain[*q])
        q++;
    return q;
}

static void json_put_utf8(buf_t *b, uint32_t cp)
{
    b->len += utf8_encode(buf_reserve(b, 4), cp);
}

/* ---- Errors ---------------------------------------------------------------------------------- */

const char *json_strerror(int code)
{
    switch (code) {
    case JSON_OK: return "ok";
    case JSON_ESYNTAX: return "invalid JSON";
    case JSON_EUTF8: return "invalid UTF-8 in string";
    case JSON_EDEPTH: return "nesting too deep";
    case JSON_ETOOBIG: return "input too large";
    case JSON_EDUPKEY: return "duplicate object key";
    case JSON_ERANGE: return "number out of range";
    case JSON_ETYPE: return "wrong type";
    case JSON_EMISSING: return "missing value";
    case JSON_EUNKNOWN: return "unknown key";
    case JSON_EBASE64: return "invalid base64";
    case JSON_EWRITER: return "JSON builder misused";
    default: return "unknown JSON error";
    }
}

void json_err_format(const json_err *e, char *out, size_t n)
{
    if (!n)
        return;
    const char *msg = e->msg ? e->msg : json_strerror(e->code);
    snprintf(out, n, "%s at byte %zu", msg, e->offset);
}

/* ---- Parser ---------------------------------------------------------------------------------- */

/* An arena chunk. Nodes are carved from the newest chunk; a full chunk is followed by one twice
 * its size, so a document costs a logarithmic number of mallocs, usually one. */
struct json_chunk {
    struct json_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

/* Arrays and objects learn their size only at their closing bracket, so their children are
 * collected on a stack first and copied to the arena in one block, which keeps every array and
 * member list contiguous. The stack starts in the parser struct, so small documents do not
 * allocate it. A pending member remembers where its key began, for the duplicate report. */
typedef struct json_pending {
    json_member m;
    size_t key_off;
} json_pending;

#define JSON_STACK_LOCAL 2048

typedef struct json_parser {
    const uint8_t *p, *start, *end;
    json_doc *doc;
    json_err *err;
    unsigned depth, max_depth;
    size_t values_left;
    size_t next_chunk;
    uint8_t *stk;
    size_t stk_len, stk_cap;
    buf_t str; /* escaped strings are decoded here before they move to the arena */
    union {
        max_align_t align;
        uint8_t bytes[JSON_STACK_LOCAL];
    } stk_local;
} json_parser;

static int json_fail(json_parser *ps, int code, const char *msg, const uint8_t *at)
    __attribute__((cold));

static int json_fail(json_parser *ps, int code, const char *msg, const uint8_t *at)
{
    if (ps->err) {
        ps->err->code = code;
        ps->err->msg = msg;
        ps->err->offset = (size_t)(at - ps->start);
    }
    return code;
}

static void *json_arena_chunk(json_parser *ps, size_t n) __attribute__((noinline));

static void *json_arena_chunk(json_parser *ps, size_t n)
{
    size_t cap = ps->next_chunk > n ? ps->next_chunk : n;
    struct json_chunk *c = sx_malloc(sizeof *c + cap);
    c->cap = cap;
    c->used = n;
    c->next = ps->doc->chunks;
    ps->doc->chunks = c;
    ps->next_chunk = cap * 2;
    return c->data;
}

static inline void *json_arena_alloc(json_parser *ps, size_t n, size_t align)
{
    struct json_chunk *c = ps->doc->chunks;
    if (c) {
        size_t off = (c->used + align - 1) & ~(align - 1);
        if (off <= c->cap && c->cap - off >= n) {
            c->used = off + n;
            return (uint8_t *)c->data + off;
        }
    }
    return json_arena_chunk(ps, n);
}

static void json_stack_grow(json_parser *ps, size_t n) __attribute__((noinline));

static void json_stack_grow(json_parser *ps, size_t n)
{
    size_t cap = ps->stk_cap * 2;
    while (cap - ps->stk_len < n)
        cap *= 2;
    if (ps->stk == ps->stk_local.bytes) {
        ps->stk = sx_malloc(cap);
        memcpy(ps->stk, ps->stk_local.bytes, ps->stk_len);
    } else {
        ps->stk = sx_realloc(ps->stk, cap);
    }
    ps->stk_cap = cap;
}

/* Inlined so that the copy has a constant size and compiles to a few moves. */
static inline __attribute__((always_inline)) void json_push(json_parser *ps, const void *item,
                                                            size_t n)
{
    if (ps->stk_cap - ps->stk_len < n)
        json_stack_grow(ps, n);
    memcpy(ps->stk + ps->stk_len, item, n);
    ps->stk_len += n;
}

static inline void json_skip_ws(json_parser *ps)
{
    const uint8_t *p = ps->p, *end = ps->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    ps->p = p;
}

static int json_hex4(const uint8_t *p, const uint8_t *end, uint32_t *out)
{
    uint32_t v = 0;
    if (end - p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        uint8_t c = p[i];
        uint32_t d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

static const char *json_arena_str(json_parser *ps, const uint8_t *s, size_t n)
{
    char *d = json_arena_alloc(ps, n + 1, 1);
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* Decodes the escape at *qp (which points at the backslash) into ps->str and moves *qp past
 * it. `open` is the string's opening quote, where a string cut short is reported. */
static int json_unescape(json_parser *ps, const uint8_t **qp, const uint8_t *open)
{
    const uint8_t *q = *qp, *end = ps->end;
    if (end - q < 2)
        return json_fail(ps, JSON_ESYNTAX, "unterminated string", open);
    uint8_t c;
    switch (q[1]) {
    case '"': c = '"'; break;
    case '\\': c = '\\'; break;
    case '/': c = '/'; break;
    case 'b': c = '\b'; break;
    case 'f': c = '\f'; break;
    case 'n': c = '\n'; break;
    case 'r': c = '\r'; break;
    case 't': c = '\t'; break;
    case 'u': {
        uint32_t cp, lo;
        if (json_hex4(q + 2, end, &cp))
            return json_fail(ps, JSON_ESYNTAX, "expected four hex digits after \\u", q);
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return json_fail(ps, JSON_EUTF8, "unpaired low surrogate escape", q);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            const uint8_t *r = q + 6;
            if (end - r < 2 || r[0] != '\\' || r[1] != 'u')
                return json_fail(ps, JSON_EUTF8, "unpaired high surrogate escape", q);
            if (json_hex4(r + 2, end, &lo))
                return json_fail(ps, JSON_ESYNTAX, "expected four hex digits after \\u", r);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return json_fail(ps, JSON_EUTF8, "unpaired high surrogate escape", q);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            q += 6;
        }
        json_put_utf8(&ps->str, cp);
        *qp = q + 6;
        return JSON_OK;
    }
    default: return json_fail(ps, JSON_ESYNTAX, "invalid escape sequence", q);
    }
    buf_push(&ps->str, c);
    *qp = q + 2;
    return JSON_OK;
}

/* Parses the string whose opening quote is at ps->p into the arena. Strings without escapes,
 * the usual case, are validated in place and copied once; the first backslash moves decoding
 * to the scratch buffer. */
static int json_parse_string(json_parser *ps, const char **out, size_t *out_len)
{
    const uint8_t *open = ps->p, *s = open + 1, *q = s, *end = ps->end;
    bool escaped = false;
    for (;;) {
        q = json_scan_plain(q, end);
        if (q == end)
            return json_fail(ps, JSON_ESYNTAX, "unterminated string", open);
        uint8_t c = *q;
        if (c == '"')
            break;
        if (c == '\\') {
            if (!escaped) {
                escaped = true;
                buf_reset(&ps->str);
            }
            buf_append(&ps->str, s, (size_t)(q - s));
            int rc = json_unescape(ps, &q, open);
            if (rc)
                return rc;
            s = q;
            continue;
        }
        if (c < 0x20)
            return json_fail(ps, JSON_ESYNTAX, "control character in string", q);
        size_t bad, n = utf8_seq(q, (size_t)(end - q), &bad);
        if (!n)
            return json_fail(ps, JSON_EUTF8, "invalid UTF-8 in string", q);
        q += n;
    }
    if (escaped) {
        buf_append(&ps->str, s, (size_t)(q - s));
        *out = json_arena_str(ps, ps->str.data, ps->str.len);
        *out_len = ps->str.len;
    } else {
        *out = json_arena_str(ps, s, (size_t)(q - s));
        *out_len = (size_t)(q - s);
    }
    ps->p = q + 1;
    return JSON_OK;
}

static inline bool json_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* Parses a number. Integer literals of up to 19 digits are read exactly, as int64 when they
 * fit. Other literals with at most 19 significant digits, a mantissa below 2^53 and a power of
 * ten within 10^22 are converted exactly by one multiplication or division (Clinger's fast
 * path: both operands are exact doubles, so the one rounding is the correct one); the rest go to
 * strtod, which glibc rounds correctly. */
static int json_parse_number(json_parser *ps, json_value *out)
{
    static const double pow10[] = { 1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                    1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };
    const uint8_t *s = ps->p, *q = s, *end = ps->end;
    bool neg = false, integral = true, inexact = false, wide = true;
    uint64_t mant = 0, whole = 0;
    int digits = 0;
    long exp10 = 0;

    if (*q == '-') {
        neg = true;
        q++;
    }
    if (q == end || !json_digit(*q))
        return json_fail(ps, JSON_ESYNTAX, "expected a digit after '-'", q);
    if (*q == '0') {
        q++;
        if (q < end && json_digit(*q))
            return json_fail(ps, JSON_ESYNTAX, "leading zeros are not allowed", s);
    } else {
        for (; q < end && json_digit(*q); q++) {
            unsigned d = (unsigned)(*q - '0');
            /* The integer part also in full, while it fits, for literals above INT64_MAX. */
            if (whole > (UINT64_MAX - d) / 10)
                wide = false;
            else
                whole = whole * 10 + d;
            if (digits < 19) {
                mant = mant * 10 + d;
                digits++;
            } else {
                exp10++;
                inexact |= *q != '0';
            }
        }
    }
    if (q < end && *q == '.') {
        integral = false;
        q++;
        if (q == end || !json_digit(*q))
            return json_fail(ps, JSON_ESYNTAX, "expected a digit after the decimal point", q);
        for (; q < end && json_digit(*q); q++) {
            if (mant == 0 && *q == '0') {
                exp10--;
            } else if (digits < 19) {
                mant = mant * 10 + (uint64_t)(*q - '0');
                digits++;
                exp10--;
            } else {
                inexact |= *q != '0';
            }
        }
    }
    if (q < end && (*q == 'e' || *q == 'E')) {
        integral = false;
        q++;
        bool eneg = false;
        if (q < end && (*q == '+' || *q == '-'))
            eneg = *q++ == '-';
        if (q == end || !json_digit(*q))
            return json_fail(ps, JSON_ESYNTAX, "expected a digit in the exponent", q);
        long e = 0;
        for (; q < end && json_digit(*q); q++) {
            if (e < 1000000)
                e = e * 10 + (*q - '0');
        }
        exp10 += eneg ? -e : e;
    }
    ps->p = q;
    out->type = JSON_NUMBER;
    if (integral && !neg && wide && whole > INT64_MAX) {
        out->is_u64 = true;
        out->u.num.u = whole;
    }

    if (integral && exp10 == 0) {
        if (neg ? mant <= (uint64_t)1 << 63 : mant <= INT64_MAX) {
            out->is_int = true;
            if (!neg)
                out->u.num.i = (int64_t)mant;
            else if (mant == (uint64_t)1 << 63)
                out->u.num.i = INT64_MIN;
            else
                out->u.num.i = -(int64_t)mant;
        }
        out->u.num.d = neg ? -(double)mant : (double)mant;
        return JSON_OK;
    }
    if (mant == 0) {
        out->u.num.d = neg ? -0.0 : 0.0;
        return JSON_OK;
    }
#if FLT_EVAL_METHOD == 0
    if (!inexact && mant <= (uint64_t)1 << 53 && exp10 >= -22 && exp10 <= 22) {
        double d = (double)mant;
        d = exp10 < 0 ? d / pow10[-exp10] : d * pow10[exp10];
        out->u.num.d = neg ? -d : d;
        return JSON_OK;
    }
#endif
    char local[64], *tmp = local;
    size_t n = (size_t)(q - s);
    if (n >= sizeof local)
        tmp = sx_malloc(n + 1);
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    locale_t old = json_use_c_locale();
    double d = strtod(tmp, NULL);
    json_restore_locale(old);
    if (tmp != local)
        free(tmp);
    if (isinf(d))
        return json_fail(ps, JSON_ERANGE, "number out of range", s);
    out->u.num.d = d;
    return JSON_OK;
}

static int json_parse_value(json_parser *ps, json_value *out);

static int json_parse_array(json_parser *ps, json_value *out)
{
    const uint8_t *open = ps->p;
    if (++ps->depth > ps->max_depth)
        return json_fail(ps, JSON_EDEPTH, "nesting too deep", open);
    size_t base = ps->stk_len, n = 0;
    ps->p++;
    json_skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
    } else {
        for (;;) {
            json_value v;
            memset(&v, 0, sizeof v);
            int rc = json_parse_value(ps, &v);
            if (rc)
                return rc;
            json_push(ps, &v, sizeof v);
            n++;
            json_skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                json_skip_ws(ps);
                if (ps->p < ps->end && *ps->p == ']')
                    return json_fail(ps, JSON_ESYNTAX, "trailing comma in array", ps->p);
                continue;
            }
            if (ps->p < ps->end && *ps->p == ']') {
                ps->p++;
                break;
            }
            return json_fail(ps, JSON_ESYNTAX, "expected ',' or ']' after array element", ps->p);
        }
    }
    out->type = JSON_ARRAY;
    out->len = n;
    if (n) {
        out->u.items = json_arena_alloc(ps, n * sizeof(json_value), _Alignof(json_value));
        memcpy(out->u.items, ps->stk + base, n * sizeof(json_value));
    }
    ps->stk_len = base;
    ps->depth--;
    return JSON_OK;
}

typedef struct json_keyref {
    const char *key;
    size_t len, idx;
} json_keyref;

static int json_keyref_cmp(const void *a, const void *b)
{
    const json_keyref *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    int c = memcmp(x->key, y->key, x->len);
    if (c)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static inline bool json_same_key(const json_member *a, const json_member *b)
{
    return a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0;
}

/* Finds the first member, in text order, whose key repeats an earlier one, and returns its
 * index, or n when the keys are distinct. Small objects are compared pairwise; larger ones are
 * sorted, so that a hostile body with many keys costs n log n rather than n^2. */
static size_t json_find_dup(const json_pending *pm, size_t n)
{
    if (n <= 16) {
        for (size_t j = 1; j < n; j++) {
            for (size_t i = 0; i < j; i++) {
                if (json_same_key(&pm[i].m, &pm[j].m))
                    return j;
            }
        }
        return n;
    }
    json_keyref *refs = sx_malloc(n * sizeof *refs);
    for (size_t i = 0; i < n; i++) {
        refs[i].key = pm[i].m.key;
        refs[i].len = pm[i].m.key_len;
        refs[i].idx = i;
    }
    qsort(refs, n, sizeof *refs, json_keyref_cmp);
    /* Within a run of equal keys the entries are in text order, so every entry after the first
     * of its run is a repetition, and the earliest of those is the one to report. */
    size_t first = n;
    for (size_t i = 1; i < n; i++) {
        if (refs[i].len == refs[i - 1].len &&
            memcmp(refs[i].key, refs[i - 1].key, refs[i].len) == 0 && refs[i].idx < first)
            first = refs[i].idx;
    }
    free(refs);
    return first;
}

static int json_parse_object(json_parser *ps, json_value *out)
{
    const uint8_t *open = ps->p;
    if (++ps->depth > ps->max_depth)
        return json_fail(ps, JSON_EDEPTH, "nesting too deep", open);
    size_t base = ps->stk_len, n = 0;
    ps->p++;
    json_skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
    } else {
        for (;;) {
            json_pending pm;
            memset(&pm, 0, sizeof pm);
            if (ps->p == ps->end || *ps->p != '"')
                return json_fail(ps, JSON_ESYNTAX, "expected a string as object key", ps->p);
            pm.key_off = (size_t)(ps->p - ps->start);
            int rc = json_parse_string(ps, &pm.m.key, &pm.m.key_len);
            if (rc)
                return rc;
            json_skip_ws(ps);
            if (ps->p == ps->end || *ps->p != ':')
                return json_fail(ps, JSON_ESYNTAX, "expected ':' after object key", ps->p);
            ps->p++;
            json_skip_ws(ps);
            rc = json_parse_value(ps, &pm.m.value);
            if (rc)
                return rc;
            json_push(ps, &pm, sizeof pm);
            n++;
            json_skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                json_skip_ws(ps);
                if (ps->p < ps->end && *ps->p == '}')
                    return json_fail(ps, JSON_ESYNTAX, "trailing comma in object", ps->p);
                continue;
            }
            if (ps->p < ps->end && *ps->p == '}') {
                ps->p++;
                break;
            }
            return json_fail(ps, JSON_ESYNTAX, "expected ',' or '}' after object member", ps->p);
        }
    }
    const json_pending *pms = (const json_pending *)(ps->stk + base);
    size_t dup = json_find_dup(pms, n);
    if (dup < n)
        return json_fail(ps, JSON_EDUPKEY, "duplicate object key", ps->start + pms[dup].key_off);
    out->type = JSON_OBJECT;
    out->len = n;
    if (n) {
        json_member *m = json_arena_alloc(ps, n * sizeof *m, _Alignof(json_member));
        for (size_t i = 0; i < n; i++)
            m[i] = pms[i].m;
        out->u.members = m;
    }
    ps->stk_len = base;
    ps->depth--;
    return JSON_OK;
}

static int json_parse_literal(json_parser *ps, const char *word, size_t n)
{
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return json_fail(ps, JSON_ESYNTAX, "invalid literal", ps->p);
    ps->p += n;
    return JSON_OK;
}

/* Parses the value at ps->p, which the caller has moved past any whitespace. */
static int json_parse_value(json_parser *ps, json_value *out)
{
    if (ps->p == ps->end)
        return json_fail(ps, JSON_ESYNTAX, "expected a value", ps->p);
    if (ps->values_left == 0)
        return json_fail(ps, JSON_ETOOBIG, "too many values", ps->p);
    ps->values_left--;
    switch (*ps->p) {
    case '{': return json_parse_object(ps, out);
    case '[': return json_parse_array(ps, out);
    case '"': out->type = JSON_STRING; return json_parse_string(ps, &out->u.str, &out->len);
    case 't':
        out->type = JSON_BOOL;
        out->boolean = true;
        return json_parse_literal(ps, "true", 4);
    case 'f': out->type = JSON_BOOL; return json_parse_literal(ps, "false", 5);
    case 'n': out->type = JSON_NULL; return json_parse_literal(ps, "null", 4);
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9': return json_parse_number(ps, out);
    default: return json_fail(ps, JSON_ESYNTAX, "expected a value", ps->p);
    }
}

int json_parse(const char *text, size_t len, json_doc *doc, json_err *err)
{
    return json_parse_ex(text, len, NULL, doc, err);
}

int json_parse_ex(const char *text, size_t len, const json_limits *lim, json_doc *doc,
                  json_err *err)
{
    size_t max_input = lim && lim->max_input ? lim->max_input : JSON_DEFAULT_MAX_INPUT;
    size_t max_values = lim && lim->max_values ? lim->max_values : JSON_DEFAULT_MAX_VALUES;
    unsigned max_depth = lim && lim->max_depth ? lim->max_depth : JSON_DEFAULT_MAX_DEPTH;
    if (max_depth > JSON_DEPTH_HARD_MAX)
        max_depth = JSON_DEPTH_HARD_MAX;
    memset(doc, 0, sizeof *doc);
    if (err)
        memset(err, 0, sizeof *err);

    json_parser ps;
    ps.start = ps.p = (const uint8_t *)(len ? text : "");
    ps.end = ps.start + len;
    ps.doc = doc;
    ps.err = err;
    ps.depth = 0;
    ps.max_depth = max_depth;
    ps.values_left = max_values;
    /* Parsed, a request body takes about twice its text; starting near that size makes the
     * first chunk the only one for most documents. */
    ps.next_chunk = len < 128 ? 256 : 2 * len;
    ps.stk = ps.stk_local.bytes;
    ps.stk_len = 0;
    ps.stk_cap = sizeof ps.stk_local.bytes;
    buf_init(&ps.str);

    int rc;
    if (len > max_input) {
        rc = json_fail(&ps, JSON_ETOOBIG, "input too large", ps.start + max_input);
    } else {
        json_skip_ws(&ps);
        if (ps.p == ps.end) {
            rc = json_fail(&ps, JSON_ESYNTAX, "empty input", ps.p);
        } else {
            rc = json_parse_value(&ps, &doc->root);
            if (rc == JSON_OK) {
                json_skip_ws(&ps);
                if (ps.p != ps.end)
                    rc = json_fail(&ps, JSON_ESYNTAX, "unexpected data after the value", ps.p);
            }
        }
    }
    if (ps.stk != ps.stk_local.bytes)
        free(ps.stk);
    buf_free(&ps.str);
    if (rc != JSON_OK)
        json_doc_free(doc);
    return rc;
}

void json_doc_free(json_doc *doc)
{
    struct json_chunk *c = doc->chunks;
    while (c) {
        struct json_chunk *next = c->next;
        free(c);
        c = next;
    }
    memset(doc, 0, sizeof *doc);
}

/* ---- Accessors ------------------------------------------------------------------------------- */

int json_get_bool(const json_value *v, bool *out)
{
    if (!v)
        return JSON_EMISSING;
    if (v->type != JSON_BOOL)
        return JSON_ETYPE;
    *out = v->boolean;
    return JSON_OK;
}

int json_get_int64(const json_value *v, int64_t *out)
{
    if (!v)
        return JSON_EMISSING;
    if (v->type != JSON_NUMBER)
        return JSON_ETYPE;
    if (!v->is_int)
        return JSON_ERANGE;
    *out = v->u.num.i;
    return JSON_OK;
}

int json_get_uint64(const json_value *v, uint64_t *out)
{
    if (!v)
        return JSON_EMISSING;
    if (v->type != JSON_NUMBER)
        return JSON_ETYPE;
    if (v->is_u64)
        *out = v->u.num.u;
    else if (v->is_int && v->u.num.i >= 0)
        *out = (uint64_t)v->u.num.i;
    else
        return JSON_ERANGE;
    return JSON_OK;
}

int json_get_double(const json_value *v, double *out)
{
    if (!v)
        return JSON_EMISSING;
    if (v->type != JSON_NUMBER)
        return JSON_ETYPE;
    *out = v->u.num.d;
    return JSON_OK;
}

int json_get_str(const json_value *v, const char **s, size_t *len)
{
    if (!v)
        return JSON_EMISSING;
    if (v->type != JSON_STRING)
        return JSON_ETYPE;
    *s = v->u.str;
    if (len)
        *len = v->len;
    return JSON_OK;
}

int json_get_b64(const json_value *v, buf_t *out)
{
    const char *s;
    size_t n;
    int rc = json_get_str(v, &s, &n);
    if (rc)
        return rc;
    return base64_decode(out, s, n) == BASE64_OK ? JSON_OK : JSON_EBASE64;
}

size_t json_len(const json_value *v)
{
    return v && (v->type == JSON_ARRAY || v->type == JSON_OBJECT) ? v->len : 0;
}

const json_value *json_arr_at(const json_value *arr, size_t i)
{
    if (!arr || arr->type != JSON_ARRAY || i >= arr->len)
        return NULL;
    return &arr->u.items[i];
}

const json_member *json_obj_at(const json_value *obj, size_t i)
{
    if (!obj || obj->type != JSON_OBJECT || i >= obj->len)
        return NULL;
    return &obj->u.members[i];
}

const json_value *json_obj_getn(const json_value *obj, const char *key, size_t key_len)
{
    if (!obj || obj->type != JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < obj->len; i++) {
        const json_member *m = &obj->u.members[i];
        if (m->key_len == key_len && memcmp(m->key, key, key_len) == 0)
            return &m->value;
    }
    return NULL;
}

const json_value *json_obj_get(const json_value *obj, const char *key)
{
    return json_obj_getn(obj, key, strlen(key));
}

bool json_equal(const json_value *a, const json_value *b)
{
    if (!a || !b)
        return a == b;
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case JSON_NULL: return true;
    case JSON_BOOL: return a->boolean == b->boolean;
    case JSON_NUMBER:
        if (a->is_int && b->is_int)
            return a->u.num.i == b->u.num.i;
        if (a->is_u64 && b->is_u64)
            return a->u.num.u == b->u.num.u;
        if ((a->is_u64 && b->is_int) || (a->is_int && b->is_u64))
            return false;
        return a->u.num.d == b->u.num.d;
    case JSON_STRING: return a->len == b->len && memcmp(a->u.str, b->u.str, a->len) == 0;
    case JSON_ARRAY:
        if (a->len != b->len)
            return false;
        for (size_t i = 0; i < a->len; i++) {
            if (!json_equal(&a->u.items[i], &b->u.items[i]))
                return false;
        }
        return true;
    case JSON_OBJECT:
        if (a->len != b->len)
            return false;
        for (size_t i = 0; i < a->len; i++) {
            const json_member *x = &a->u.members[i], *y = &b->u.members[i];
            if (!json_same_key(x, y) || !json_equal(&x->value, &y->value))
                return false;
        }
        return true;
    }
    return false;
}

/* ---- Schema checks --------------------------------------------------------------------------- */

static bool json_key_is(const json_member *m, const char *key)
{
    size_t n = strlen(key);
    return m->key_len == n && memcmp(m->key, key, n) == 0;
}

int json_obj_check_keys(const json_value *obj, const char *const *allowed, const char **bad_key)
{
    if (!obj)
        return JSON_EMISSING;
    if (obj->type != JSON_OBJECT)
        return JSON_ETYPE;
    for (size_t i = 0; i < obj->len; i++) {
        const json_member *m = &obj->u.members[i];
        const char *const *a = allowed;
        while (*a && !json_key_is(m, *a))
            a++;
        if (!*a) {
            if (bad_key)
                *bad_key = m->key;
            return JSON_EUNKNOWN;
        }
    }
    return JSON_OK;
}

int json_obj_check(const json_value *obj, const json_field *fields, size_t nfields,
                   const char **bad_key)
{
    if (!obj)
        return JSON_EMISSING;
    if (obj->type != JSON_OBJECT)
        return JSON_ETYPE;
    for (size_t i = 0; i < obj->len; i++) {
        const json_member *m = &obj->u.members[i];
        size_t f = 0;
        while (f < nfields && !json_key_is(m, fields[f].key))
            f++;
        if (f == nfields) {
            if (bad_key)
                *bad_key = m->key;
            return JSON_EUNKNOWN;
        }
    }
    for (size_t f = 0; f < nfields; f++) {
        const json_value *v = json_obj_get(obj, fields[f].key);
        int rc = JSON_OK;
        if (!v && fields[f].required)
            rc = JSON_EMISSING;
        else if (v && fields[f].types && !(fields[f].types & JSON_MASK(v->type)))
            rc = JSON_ETYPE;
        if (rc) {
            if (bad_key)
                *bad_key = fields[f].key;
            return rc;
        }
    }
    return JSON_OK;
}

/* ---- Writing --------------------------------------------------------------------------------- */

void json_write_str(buf_t *b, const char *str, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *s = (const uint8_t *)str, *end = s + len, *run = s;
    buf_reserve(b, len + 2);
    buf_push(b, '"');
    for (;;) {
        s = json_scan_plain(s, end);
        if (s == end)
            break;
        uint8_t c = *s;
        if (c >= 0x80) {
            size_t bad, n = utf8_seq(s, (size_t)(end - s), &bad);
            if (n) {
                s += n;
                continue;
            }
            buf_append(b, run, (size_t)(s - run));
            buf_append(b, "\xEF\xBF\xBD", 3);
            s += bad;
            run = s;
            continue;
        }
        buf_append(b, run, (size_t)(s - run));
        char esc[6] = { '\\', 0, '0', '0', 0, 0 };
        size_t n = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        buf_append(b, esc, n);
        s++;
        run = s;
    }
    buf_append(b, run, (size_t)(end - run));
    buf_push(b, '"');
}

void json_write_int64(buf_t *b, int64_t v)
{
    char tmp[24], *e = tmp + sizeof tmp, *p = e;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    buf_append(b, p, (size_t)(e - p));
}

void json_write_double(buf_t *b, double v)
{
    if (!isfinite(v)) {
        buf_append(b, "null", 4);
        return;
    }
    /* Negative zero keeps its sign, and its fraction, because "-0" would read back as the
     * integer 0 and a second round trip would then write "0". */
    if (v == 0) {
        if (signbit(v))
            buf_append(b, "-0.0", 4);
        else
            buf_push(b, '0');
        return;
    }
    if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        json_write_int64(b, (int64_t)v);
        return;
    }
    char tmp[32];
    locale_t old = json_use_c_locale();
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (prec == 17 || strtod(tmp, NULL) == v)
            break;
    }
    json_restore_locale(old);
    buf_append_str(b, tmp);
}

void json_write_value(buf_t *b, const json_value *v)
{
    switch (v->type) {
    case JSON_NULL: buf_append(b, "null", 4); break;
    case JSON_BOOL:
        if (v->boolean)
            buf_append(b, "true", 4);
        else
            buf_append(b, "false", 5);
        break;
    case JSON_NUMBER:
        if (v->is_int)
            json_write_int64(b, v->u.num.i);
        else if (v->is_u64)
            buf_printf(b, "%llu", (unsigned long long)v->u.num.u);
        else
            json_write_double(b, v->u.num.d);
        break;
    case JSON_STRING: json_write_str(b, v->u.str, v->len); break;
    case JSON_ARRAY:
        buf_push(b, '[');
        for (size_t i = 0; i < v->len; i++) {
            if (i)
                buf_push(b, ',');
            json_write_value(b, &v->u.items[i]);
        }
        buf_push(b, ']');
        break;
    case JSON_OBJECT:
        buf_push(b, '{');
        for (size_t i = 0; i < v->len; i++) {
            const json_member *m = &v->u.members[i];
            if (i)
                buf_push(b, ',');
            json_write_str(b, m->key, m->key_len);
            buf_push(b, ':');
            json_write_value(b, &m->value);
        }
        buf_push(b, '}');
        break;
    }
}

/* ---- Streaming builder ----------------------------------------------------------------------- */

void json_w_init(json_w *w, buf_t *out)
{
    memset(w, 0, sizeof *w);
    w->out = out;
}

/* Checks that a value may come now and writes the comma it needs; false stops the call. */
static bool json_w_value_slot(json_w *w)
{
    if (w->err)
        return false;
    if (w->depth == 0) {
        if (w->done) {
            w->err = JSON_EWRITER;
            return false;
        }
        return true;
    }
    uint64_t bit = (uint64_t)1 << (w->depth - 1);
    if (w->in_obj & bit) {
        if (!w->key_pending) {
            w->err = JSON_EWRITER;
            return false;
        }
        w->key_pending = false;
        return true;
    }
    if (w->filled & bit)
        buf_push(w->out, ',');
    w->filled |= bit;
    return true;
}

/* Marks a scalar written; at the top level it completes the document. */
static void json_w_scalar_done(json_w *w)
{
    if (w->depth == 0)
        w->done = true;
}

static void json_w_open(json_w *w, bool obj)
{
    if (!json_w_value_slot(w))
        return;
    if (w->depth == JSON_W_MAX_DEPTH) {
        w->err = JSON_EWRITER;
        return;
    }
    uint64_t bit = (uint64_t)1 << w->depth;
    w->depth++;
    w->filled &= ~bit;
    if (obj)
        w->in_obj |= bit;
    else
        w->in_obj &= ~bit;
    buf_push(w->out, obj ? '{' : '[');
}

void json_w_obj_begin(json_w *w)
{
    json_w_open(w, true);
}

void json_w_arr_begin(json_w *w)
{
    json_w_open(w, false);
}

void json_w_end(json_w *w)
{
    if (w->err)
        return;
    if (w->depth == 0 || w->key_pending) {
        w->err = JSON_EWRITER;
        return;
    }
    uint64_t bit = (uint64_t)1 << (w->depth - 1);
    buf_push(w->out, (w->in_obj & bit) ? '}' : ']');
    w->depth--;
    json_w_scalar_done(w);
}

void json_w_keyn(json_w *w, const char *key, size_t len)
{
    if (w->err)
        return;
    uint64_t bit = w->depth ? (uint64_t)1 << (w->depth - 1) : 0;
    if (!(w->in_obj & bit) || w->key_pending) {
        w->err = JSON_EWRITER;
        return;
    }
    if (w->filled & bit)
        buf_push(w->out, ',');
    w->filled |= bit;
    json_write_str(w->out, key, len);
    buf_push(w->out, ':');
    w->key_pending = true;
}

void json_w_key(json_w *w, const char *key)
{
    json_w_keyn(w, key, strlen(key));
}

void json_w_strn(json_w *w, const char *s, size_t len)
{
    if (!json_w_value_slot(w))
        return;
    json_write_str(w->out, s, len);
    json_w_scalar_done(w);
}

void json_w_str(json_w *w, const char *s)
{
    if (s)
        json_w_strn(w, s, strlen(s));
    else
        json_w_null(w);
}

void json_w_int(json_w *w, int64_t v)
{
    if (!json_w_value_slot(w))
        return;
    json_write_int64(w->out, v);
    json_w_scalar_done(w);
}

void json_w_double(json_w *w, double v)
{
    if (!json_w_value_slot(w))
        return;
    json_write_double(w->out, v);
    json_w_scalar_done(w);
}

void json_w_bool(json_w *w, bool v)
{
    if (!json_w_value_slot(w))
        return;
    if (v)
        buf_append(w->out, "true", 4);
    else
        buf_append(w->out, "false", 5);
    json_w_scalar_done(w);
}

void json_w_null(json_w *w)
{
    if (!json_w_value_slot(w))
        return;
    buf_append(w->out, "null", 4);
    json_w_scalar_done(w);
}

void json_w_b64(json_w *w, const uint8_t *p, size_t n)
{
    if (!json_w_value_slot(w))
        return;
    buf_push(w->out, '"');
    base64_encode(w->out, p, n);
    buf_push(w->out, '"');
    json_w_scalar_done(w);
}

void json_w_hex(json_w *w, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    if (!json_w_value_slot(w))
        return;
    char *d = (char *)buf_reserve(w->out, 2 * n + 2);
    d[0] = '"';
    for (size_t i = 0; i < n; i++) {
        d[1 + 2 * i] = digits[p[i] >> 4];
        d[2 + 2 * i] = digits[p[i] & 15];
    }
    d[2 * n + 1] = '"';
    w->out->len += 2 * n + 2;
    json_w_scalar_done(w);
}

void json_w_value(json_w *w, const json_value *v)
{
    if (!json_w_value_slot(w))
        return;
    json_write_value(w->out, v);
    json_w_scalar_done(w);
}

void json_w_raw(json_w *w, const char *json, size_t len)
{
    if (!json_w_value_slot(w))
        return;
    buf_append(w->out, json, len);
    json_w_scalar_done(w);
}

int json_w_finish(const json_w *w)
{
    if (w->err || !w->done)
        return JSON_EWRITER;
    return JSON_OK;
}

/* ---- Error bodies ---------------------------------------------------------------------------- */

void json_error_body(buf_t *out, const char *group, const char *code, const char *message,
                     const json_meta *meta, size_t nmeta)
{
    json_w w;
    json_w_init(&w, out);
    json_w_obj_begin(&w);
    json_w_key(&w, "group");
    json_w_str(&w, group);
    json_w_key(&w, "code");
    json_w_str(&w, code);
    json_w_key(&w, "message");
    json_w_str(&w, message ? message : "");
    if (nmeta) {
        json_w_key(&w, "metadata");
        json_w_obj_begin(&w);
        for (size_t i = 0; i < nmeta; i++) {
            json_w_key(&w, meta[i].key);
            if (meta[i].str)
                json_w_str(&w, meta[i].str);
            else
                json_w_int(&w, meta[i].num);
        }
        json_w_end(&w);
    }
    json_w_end(&w);
}
