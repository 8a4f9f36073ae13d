/* Prometheus metrics: counters, gauges and histograms with fixed buckets, registered once and
 * updated on the hot path with a plain add (one loop thread, so no atomics). A series is a
 * family name plus an optional preformatted label set such as `kind="http"`. */
#ifndef SETT_CORE_METRICS_H
#define SETT_CORE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum met_type { MET_COUNTER, MET_GAUGE, MET_HISTOGRAM };

typedef struct met_series {
    struct met_series *next;
    struct met_family *family;
    char *labels;   /* NULL or `a="x",b="y"` */
    double value;   /* counter or gauge */
    uint64_t count; /* histogram */
    double sum;
    uint64_t *buckets; /* histogram: one count per upper bound (not cumulative) */
} met_series_t;

/* The bucket bounds shared with Rivet's gateway metrics, in seconds. */
extern const double met_default_buckets[];
extern const size_t met_default_nbuckets;

/* Returns the series for (name, labels), creating the family and series on first use. The
 * type, help and bounds of a family are fixed by its first registration; a second registration
 * with another type returns NULL. */
met_series_t *met_get(enum met_type type, const char *name, const char *help, const char *labels,
                      const double *bounds, size_t nbounds);

static inline met_series_t *met_counter(const char *name, const char *help, const char *labels)
{
    return met_get(MET_COUNTER, name, help, labels, NULL, 0);
}
static inline met_series_t *met_gauge(const char *name, const char *help, const char *labels)
{
    return met_get(MET_GAUGE, name, help, labels, NULL, 0);
}
static inline met_series_t *met_histogram(const char *name, const char *help, const char *labels,
                                          const double *bounds, size_t nbounds)
{
    return met_get(MET_HISTOGRAM, name, help, labels, bounds, nbounds);
}

static inline void met_inc(met_series_t *s)
{
    s->value += 1;
}
static inline void met_add(met_series_t *s, double v)
{
    s->value += v;
}
static inline void met_set(met_series_t *s, double v)
{
    s->value = v;
}
void met_observe(met_series_t *s, double v);

/* Removes one series (a runner that is gone), so per-object series do not pile up. */
void met_remove(met_series_t *s);

/* Appends the Prometheus text exposition (format 0.0.4) of every family. */
void met_render(buf_t *out);
/* Frees every family; used at exit so leak checks stay clean. */
void met_free_all(void);

#endif
