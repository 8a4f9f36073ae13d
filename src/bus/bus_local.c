#include "bus/bus.h"
#include "core/alloc.h"
#include "core/map.h"
#include "core/metrics.h"

#include <string.h>

struct bus_sub {
    char *subject;
    bus_handler h;
    void *ud;
    int congested;
};

/* Subjects are few (one per runner and one per gateway) and looked up once per frame. */
struct bus {
    map_t subs; /* subject -> bus_sub_t */
    void (*drain_fn)(void *ud, const char *subject);
    void *drain_ud;
    met_series_t *published;
    met_series_t *dropped;
};

bus_t *bus_new(void)
{
    bus_t *b = sx_calloc(1, sizeof *b);
    map_init(&b->subs);
    b->published = met_counter("bus_published_total", "Frames published on the bus.", NULL);
    b->dropped = met_counter("bus_dropped_total",
                             "Frames published to a subject with no subscriber.", NULL);
    return b;
}

static void bus_sub_free(bus_sub_t *s)
{
    free(s->subject);
    free(s);
}

void bus_free(bus_t *b)
{
    if (!b)
        return;
    size_t it = 0;
    for (const map_slot_t *sl; (sl = map_next(&b->subs, &it));)
        bus_sub_free(sl->value);
    map_free(&b->subs);
    free(b);
}

bus_sub_t *bus_subscribe(bus_t *b, const char *subject, bus_handler h, void *ud)
{
    size_t len = strlen(subject);
    if (map_get(&b->subs, subject, len))
        return NULL;
    bus_sub_t *s = sx_calloc(1, sizeof *s);
    s->subject = sx_strdup(subject);
    s->h = h;
    s->ud = ud;
    map_put(&b->subs, subject, len, s);
    return s;
}

void bus_unsubscribe(bus_t *b, bus_sub_t *s)
{
    if (!s)
        return;
    size_t len = strlen(s->subject);
    if (map_get(&b->subs, s->subject, len) != s)
        return;
    map_del(&b->subs, s->subject, len);
    bus_sub_free(s);
}

int bus_publish(bus_t *b, const char *subject, const uint8_t *frame, size_t len)
{
    bus_sub_t *s = map_gets(&b->subs, subject);
    if (!s) {
        met_inc(b->dropped);
        return -1;
    }
    met_inc(b->published);
    s->h(s->ud, subject, frame, len);
    return s->congested ? 1 : 0;
}

void bus_set_congested(bus_t *b, bus_sub_t *s, int congested)
{
    if (!s || s->congested == congested)
        return;
    s->congested = congested;
    if (!congested && b->drain_fn)
        b->drain_fn(b->drain_ud, s->subject);
}

void bus_on_drain(bus_t *b, void (*fn)(void *ud, const char *subject), void *ud)
{
    b->drain_fn = fn;
    b->drain_ud = ud;
}
