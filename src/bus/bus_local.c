#include "bus/bus.h"
#include "core/alloc.h"
#include "core/metrics.h"

#include <string.h>

struct bus_sub {
    bus_sub_t *next;
    char *subject;
    size_t len;
    uint64_t hash;
    bus_handler h;
    void *ud;
    int congested;
};

/* Subjects are few (one per runner and one per gateway), so a small chained hash table that
 * grows by doubling keeps lookups O(1) on the per-message path. */
struct bus {
    bus_sub_t **slots;
    size_t nslots;
    size_t count;
    void (*drain_fn)(void *ud, const char *subject);
    void *drain_ud;
    met_series_t *published;
    met_series_t *dropped;
};

/* Every tunnel frame is published, three per round trip, so the subject is hashed a word at a
 * time rather than a byte at a time (the byte-wise FNV this replaced showed in profiles). */
static uint64_t bus_hash(const char *s, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    for (; n >= 8; s += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 29);
}

bus_t *bus_new(void)
{
    bus_t *b = sx_calloc(1, sizeof *b);
    b->nslots = 64;
    b->slots = sx_calloc(b->nslots, sizeof *b->slots);
    b->published = met_counter("bus_published_total", "Frames published on the bus.", NULL);
    b->dropped = met_counter("bus_dropped_total",
                             "Frames published to a subject with no subscriber.", NULL);
    return b;
}

void bus_free(bus_t *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->nslots; i++) {
        bus_sub_t *s = b->slots[i];
        while (s) {
            bus_sub_t *n = s->next;
            free(s->subject);
            free(s);
            s = n;
        }
    }
    free(b->slots);
    free(b);
}

static void bus_grow(bus_t *b)
{
    size_t n = b->nslots * 2;
    bus_sub_t **slots = sx_calloc(n, sizeof *slots);
    for (size_t i = 0; i < b->nslots; i++) {
        bus_sub_t *s = b->slots[i];
        while (s) {
            bus_sub_t *next = s->next;
            s->next = slots[s->hash & (n - 1)];
            slots[s->hash & (n - 1)] = s;
            s = next;
        }
    }
    free(b->slots);
    b->slots = slots;
    b->nslots = n;
}

static bus_sub_t **bus_find(bus_t *b, const char *subject, size_t len, uint64_t h)
{
    bus_sub_t **p = &b->slots[h & (b->nslots - 1)];
    for (; *p; p = &(*p)->next)
        if ((*p)->hash == h && (*p)->len == len && memcmp((*p)->subject, subject, len) == 0)
            return p;
    return p;
}

bus_sub_t *bus_subscribe(bus_t *b, const char *subject, bus_handler h, void *ud)
{
    size_t len = strlen(subject);
    uint64_t hash = bus_hash(subject, len);
    bus_sub_t **p = bus_find(b, subject, len, hash);
    if (*p)
        return NULL;
    if (b->count + 1 > b->nslots) {
        bus_grow(b);
        p = bus_find(b, subject, len, hash);
    }
    bus_sub_t *s = sx_calloc(1, sizeof *s);
    s->subject = sx_strdup(subject);
    s->len = len;
    s->hash = hash;
    s->h = h;
    s->ud = ud;
    *p = s;
    b->count++;
    return s;
}

void bus_unsubscribe(bus_t *b, bus_sub_t *s)
{
    if (!s)
        return;
    bus_sub_t **p = bus_find(b, s->subject, s->len, s->hash);
    if (*p != s)
        return;
    *p = s->next;
    b->count--;
    free(s->subject);
    free(s);
}

int bus_publish(bus_t *b, const char *subject, const uint8_t *frame, size_t len)
{
    size_t sl = strlen(subject);
    bus_sub_t **p = bus_find(b, subject, sl, bus_hash(subject, sl));
    if (!*p) {
        met_inc(b->dropped);
        return -1;
    }
    met_inc(b->published);
    bus_sub_t *s = *p;
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
