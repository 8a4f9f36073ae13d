/* Query strings and path ids, read as strictly as Rivet's query structs (which deny unknown
 * fields): a parameter a route does not take is an error rather than something silently
 * ignored, so a typo in a filter cannot turn into a list of everything. */
#include "api/api_impl.h"
#include "core/alloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char api_qerr[] = "Failed to deserialize query string";

static int api_query_index(const api_qparam_t *spec, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(spec[i].name) == len && memcmp(spec[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

static void api_query_unknown(net_conn_t *c, const api_qparam_t *spec, size_t n, const char *name)
{
    buf_t want = BUF_INIT;
    for (size_t i = 0; i < n; i++)
        buf_printf(&want, "%s`%s`", i ? ", " : "", spec[i].name);
    if (n)
        api_bad_request(c, "%s: unknown field `%.64s`, expected one of %s", api_qerr, name,
                        (const char *)want.data);
    else
        api_bad_request(c, "%s: unknown field `%.64s`, there are no fields", api_qerr, name);
    buf_free(&want);
}

int api_query_parse(api_query_t *q, const api_qparam_t *spec, size_t n, net_conn_t *c,
                    const url_parts *u)
{
    memset(q, 0, sizeof *q);
    q->spec = spec;
    q->n = n < API_QMAX ? n : API_QMAX;
    size_t pos = 0;
    slice_t name, value;
    buf_t dname = BUF_INIT;
    int rc = 0;
    while (rc == 0 && url_query_next(&u->query, &pos, &name, &value)) {
        buf_reset(&dname);
        char *nm = (char *)buf_reserve(&dname, name.len + 1);
        size_t nlen = 0;
        if (url_decode_query((const char *)name.p, name.len, nm, &nlen) != URL_OK) {
            api_bad_request(c, "%s: invalid percent-encoding in a parameter name", api_qerr);
            rc = -1;
            break;
        }
        nm[nlen] = '\0';
        int i = api_query_index(q->spec, q->n, nm, nlen);
        if (i < 0) {
            api_query_unknown(c, q->spec, q->n, nm);
            rc = -1;
            break;
        }
        if (q->has[i] && !q->spec[i].repeated) {
            api_bad_request(c, "%s: duplicate field `%s`", api_qerr, q->spec[i].name);
            rc = -1;
            break;
        }
        buf_t *v = &q->val[i];
        if (q->has[i])
            buf_push(v, ',');
        char *dst = (char *)buf_reserve(v, value.len + 1);
        size_t vlen = 0;
        if (url_decode_query((const char *)value.p, value.len, dst, &vlen) != URL_OK) {
            api_bad_request(c, "%s: invalid percent-encoding in `%s`", api_qerr, q->spec[i].name);
            rc = -1;
            break;
        }
        v->len += vlen;
        *buf_reserve(v, 1) = '\0';
        q->has[i] = true;
    }
    buf_free(&dname);
    return rc;
}

void api_query_free(api_query_t *q)
{
    for (size_t i = 0; i < API_QMAX; i++)
        buf_free(&q->val[i]);
}

const char *api_query_str(const api_query_t *q, const char *name)
{
    int i = api_query_index(q->spec, q->n, name, strlen(name));
    if (i < 0 || !q->has[i])
        return NULL;
    return q->val[i].data ? (const char *)q->val[i].data : "";
}

int api_query_bool(const api_query_t *q, const char *name, bool *out, net_conn_t *c)
{
    const char *s = api_query_str(q, name);
    if (!s)
        return 0;
    if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
        *out = s[0] == 't';
        return 1;
    }
    api_bad_request(c, "%s: %s: provided string was not `true` or `false`", api_qerr, name);
    return -1;
}

/* Reads a decimal integer in [min, max]; 1, 0 when absent, -1 after answering 400. */
static int api_query_num(const api_query_t *q, const char *name, int64_t min, int64_t max,
                         int64_t *out, net_conn_t *c)
{
    const char *s = api_query_str(q, name);
    if (!s)
        return 0;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    bool digit_first = (s[0] >= '0' && s[0] <= '9') || (s[0] == '-' && min < 0);
    if (!digit_first || *end || errno || v < min || v > max) {
        api_bad_request(c, "%s: %s: invalid digit or number out of range", api_qerr, name);
        return -1;
    }
    *out = v;
    return 1;
}

int api_query_size(const api_query_t *q, const char *name, size_t *out, net_conn_t *c)
{
    int64_t v = 0;
    int rc = api_query_num(q, name, 0, INT64_MAX, &v, c);
    if (rc == 1)
        *out = (size_t)v;
    return rc;
}

int api_query_i64(const api_query_t *q, const char *name, int64_t *out, net_conn_t *c)
{
    return api_query_num(q, name, INT64_MIN, INT64_MAX, out, c);
}

const eng_ns_t *api_query_ns(const api_query_t *q, eng_t *e, net_conn_t *c)
{
    const char *name = api_query_str(q, "namespace");
    const eng_ns_t *ns = eng_ns_get(e, name ? name : "default");
    if (!ns)
        api_namespace_not_found(c);
    return ns;
}

/* Ids are base36 text (Rivet's are 30 characters; sett's too), so anything else is refused
 * before it reaches a lookup. */
static const char *api_id_problem(const char *s, size_t len)
{
    if (len == 0)
        return "too short";
    if (len > 64)
        return "too long";
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z')))
            return "invalid base36 character";
    return NULL;
}

int api_ids_add(api_ids_t *ids, const char *list, const char *param, net_conn_t *c)
{
    if (!list)
        return 0;
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *s = p;
        while (len && *s == ' ') {
            s++;
            len--;
        }
        while (len && s[len - 1] == ' ')
            len--;
        const char *why = api_id_problem(s, len);
        if (why) {
            api_bad_request(c, "invalid id in `%s` query: %s", param, why);
            return -1;
        }
        if (ids->n == ids->cap) {
            ids->cap = ids->cap ? ids->cap * 2 : 8;
            ids->v = sx_realloc(ids->v, ids->cap * sizeof *ids->v);
        }
        ids->v[ids->n++] = sx_strndup(s, len);
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

void api_ids_free(api_ids_t *ids)
{
    for (size_t i = 0; i < ids->n; i++)
        free(ids->v[i]);
    free(ids->v);
    memset(ids, 0, sizeof *ids);
}

int api_path_id(const slice_t *seg, char *out, size_t size, net_conn_t *c)
{
    size_t len = 0;
    if (seg->len >= size ||
        url_decode_segment((const char *)seg->p, seg->len, out, &len, 0) != URL_OK) {
        api_bad_request(c, "Invalid URL: cannot parse the path parameter");
        return -1;
    }
    out[len] = '\0';
    return 0;
}
