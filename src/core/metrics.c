#include "core/metrics.h"
#include "core/alloc.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const double met_default_buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                       1,     2.5,    5,     10,   25,    50,   100, 250,  500 };
const size_t met_default_nbuckets = sizeof met_default_buckets / sizeof met_default_buckets[0];

typedef struct met_family {
    struct met_family *next;
    enum met_type type;
    char *name;
    char *help;
    double *bounds;
    size_t nbounds;
    met_series_t *series;
} met_family_t;

/* Families keep registration order, so /metrics output is stable between scrapes. */
static met_family_t *met_families;
static met_family_t **met_tail = &met_families;

static int met_same_labels(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

met_series_t *met_get(enum met_type type, const char *name, const char *help, const char *labels,
                      const double *bounds, size_t nbounds)
{
    met_family_t *f;
    for (f = met_families; f; f = f->next)
        if (strcmp(f->name, name) == 0)
            break;
    if (f && f->type != type)
        return NULL;
    if (!f) {
        f = sx_calloc(1, sizeof *f);
        f->type = type;
        f->name = sx_strdup(name);
        f->help = sx_strdup(help ? help : "");
        if (type == MET_HISTOGRAM) {
            if (!bounds) {
                bounds = met_default_buckets;
                nbounds = met_default_nbuckets;
            }
            f->bounds = sx_memdup(bounds, nbounds * sizeof *bounds);
            f->nbounds = nbounds;
        }
        *met_tail = f;
        met_tail = &f->next;
    }
    met_series_t **sp = &f->series;
    for (; *sp; sp = &(*sp)->next)
        if (met_same_labels((*sp)->labels, labels && *labels ? labels : NULL))
            return *sp;
    met_series_t *s = sx_calloc(1, sizeof *s);
    s->family = f;
    s->labels = labels && *labels ? sx_strdup(labels) : NULL;
    if (type == MET_HISTOGRAM)
        s->buckets = sx_calloc(f->nbounds, sizeof *s->buckets);
    *sp = s;
    return s;
}

void met_observe(met_series_t *s, double v)
{
    met_family_t *f = s->family;
    s->count++;
    s->sum += v;
    /* Bounds are few (18 by default); a linear scan beats a binary search at this size. */
    for (size_t i = 0; i < f->nbounds; i++) {
        if (v <= f->bounds[i]) {
            s->buckets[i]++;
            break;
        }
    }
}

static void met_format(char *dst, size_t n, double v)
{
    if (isinf(v))
        snprintf(dst, n, "%s", v > 0 ? "+Inf" : "-Inf");
    else if (isnan(v))
        snprintf(dst, n, "NaN");
    else if (fabs(v) < 1e15 && v == (double)(long long)v)
        snprintf(dst, n, "%lld", (long long)v);
    else
        snprintf(dst, n, "%.9g", v);
}

static void met_value(buf_t *out, double v)
{
    char tmp[40];
    met_format(tmp, sizeof tmp, v);
    buf_append_str(out, tmp);
}

static void met_series_name(buf_t *out, const met_family_t *f, const char *suffix,
                            const char *labels, const char *extra)
{
    buf_append_str(out, f->name);
    buf_append_str(out, suffix);
    if (labels || extra) {
        buf_push(out, '{');
        if (labels)
            buf_append_str(out, labels);
        if (labels && extra)
            buf_push(out, ',');
        if (extra)
            buf_append_str(out, extra);
        buf_push(out, '}');
    }
    buf_push(out, ' ');
}

void met_render(buf_t *out)
{
    static const char *const types[] = { "counter", "gauge", "histogram" };
    for (met_family_t *f = met_families; f; f = f->next) {
        buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, types[f->type]);
        for (met_series_t *s = f->series; s; s = s->next) {
            if (f->type != MET_HISTOGRAM) {
                met_series_name(out, f, "", s->labels, NULL);
                met_value(out, s->value);
                buf_push(out, '\n');
                continue;
            }
            uint64_t cum = 0;
            for (size_t i = 0; i < f->nbounds; i++) {
                char bound[40], le[48];
                cum += s->buckets[i];
                met_format(bound, sizeof bound, f->bounds[i]);
                snprintf(le, sizeof le, "le=\"%s\"", bound);
                met_series_name(out, f, "_bucket", s->labels, le);
                buf_printf(out, "%llu\n", (unsigned long long)cum);
            }
            met_series_name(out, f, "_bucket", s->labels, "le=\"+Inf\"");
            buf_printf(out, "%llu\n", (unsigned long long)s->count);
            met_series_name(out, f, "_sum", s->labels, NULL);
            met_value(out, s->sum);
            buf_push(out, '\n');
            met_series_name(out, f, "_count", s->labels, NULL);
            buf_printf(out, "%llu\n", (unsigned long long)s->count);
        }
    }
}

void met_remove(met_series_t *s)
{
    if (!s)
        return;
    met_series_t **p = &s->family->series;
    while (*p && *p != s)
        p = &(*p)->next;
    if (*p)
        *p = s->next;
    free(s->labels);
    free(s->buckets);
    free(s);
}

void met_free_all(void)
{
    met_family_t *f = met_families;
    while (f) {
        met_family_t *fn = f->next;
        met_series_t *s = f->series;
        while (s) {
            met_series_t *sn = s->next;
            free(s->labels);
            free(s->buckets);
            free(s);
            s = sn;
        }
        free(f->name);
        free(f->help);
        free(f->bounds);
        free(f);
        f = fn;
    }
    met_families = NULL;
    met_tail = &met_families;
}
