/* The in-process bus: delivery to the one subscriber of a subject, drops for subjects nobody
 * holds, one subscriber at a time, growth of its table past many subjects (a gateway id per
 * gateway, a runner id per runner, and subjects that share long prefixes and differ in their
 * last bytes), congestion and the drain hook. */
#include "t.h"

#include "bus/bus.h"

#include <stdint.h>
#include <stdio.h>

enum { SUBJECTS = 3000 };

typedef struct {
    int calls;
    size_t len;
    uint8_t first;
    char subject[64];
} got_t;

static void on_frame(void *ud, const char *subject, const uint8_t *frame, size_t len)
{
    got_t *g = ud;
    g->calls++;
    g->len = len;
    g->first = len ? frame[0] : 0;
    snprintf(g->subject, sizeof g->subject, "%s", subject);
}

static int drained;
static char drained_subject[64];

static void on_drain(void *ud, const char *subject)
{
    (void)ud;
    drained++;
    snprintf(drained_subject, sizeof drained_subject, "%s", subject);
}

static void subject_of(int i, char *out, size_t n)
{
    /* Even subjects look like gateway subjects, odd ones like runner subjects of any length. */
    if (i % 2 == 0)
        snprintf(out, n, "pegboard.gateway.%08x", (unsigned)i * 2654435761u);
    else
        snprintf(out, n, "pegboard.runner.%.*s%d", i % 37, "0123456789abcdefghijklmnopqrstuvwxyz",
                 i);
}

int main(void)
{
    bus_t *b = bus_new();
    static got_t got[SUBJECTS];
    static bus_sub_t *subs[SUBJECTS];
    char s[96];
    const uint8_t frame[3] = { 7, 8, 9 };

    CHECK_EQ_INT(bus_publish(b, "pegboard.gateway.00000000", frame, 3), -1);

    for (int i = 0; i < SUBJECTS; i++) {
        subject_of(i, s, sizeof s);
        subs[i] = bus_subscribe(b, s, on_frame, &got[i]);
        CHECK(subs[i] != NULL);
    }
    /* A second subscriber to a held subject is refused. */
    subject_of(42, s, sizeof s);
    got_t other = { 0 };
    CHECK(bus_subscribe(b, s, on_frame, &other) == NULL);

    for (int i = 0; i < SUBJECTS; i++) {
        subject_of(i, s, sizeof s);
        CHECK_EQ_INT(bus_publish(b, s, frame, (size_t)(i % 3) + 1), 0);
    }
    int wrong = 0;
    for (int i = 0; i < SUBJECTS; i++) {
        subject_of(i, s, sizeof s);
        if (got[i].calls != 1 || got[i].len != (size_t)(i % 3) + 1 || got[i].first != 7 ||
            strcmp(got[i].subject, s) != 0)
            wrong++;
    }
    CHECK_EQ_INT(wrong, 0);
    CHECK_EQ_INT(other.calls, 0);

    /* A prefix or an extension of a subject is another subject. */
    CHECK_EQ_INT(bus_publish(b, "pegboard.gateway.", frame, 3), -1);
    subject_of(2, s, sizeof s);
    strcat(s, "0");
    CHECK_EQ_INT(bus_publish(b, s, frame, 3), -1);

    /* Unsubscribing frees the subject for a new holder; the others are untouched. */
    for (int i = 0; i < SUBJECTS; i += 2) {
        bus_unsubscribe(b, subs[i]);
        subs[i] = NULL;
    }
    subject_of(10, s, sizeof s);
    CHECK_EQ_INT(bus_publish(b, s, frame, 3), -1);
    CHECK(bus_subscribe(b, s, on_frame, &other) != NULL);
    CHECK_EQ_INT(bus_publish(b, s, frame, 3), 0);
    CHECK_EQ_INT(other.calls, 1);
    subject_of(11, s, sizeof s);
    CHECK_EQ_INT(bus_publish(b, s, frame, 3), 0);
    CHECK_EQ_INT(got[11].calls, 2);

    /* Congestion is reported to publishers; clearing it calls the drain hook once. */
    bus_on_drain(b, on_drain, NULL);
    bus_set_congested(b, subs[11], 1);
    CHECK_EQ_INT(bus_publish(b, s, frame, 3), 1);
    bus_set_congested(b, subs[11], 1);
    CHECK_EQ_INT(drained, 0);
    bus_set_congested(b, subs[11], 0);
    CHECK_EQ_INT(drained, 1);
    CHECK(strcmp(drained_subject, s) == 0);
    CHECK_EQ_INT(bus_publish(b, s, frame, 3), 0);

    bus_free(b);
    return T_DONE();
}
