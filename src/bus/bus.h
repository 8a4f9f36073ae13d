/* The bus joins the gateway half and the runner half, as Rivet's gateway and pegboard-runner
 * are joined by their pub/sub: the gateway and the engine publish ToRunner frames (2-byte
 * version prefix) to `pegboard.runner.{runner_id}`, the runner half publishes ToGateway frames to
 * `pegboard.gateway.{gateway id as 8 hex chars}`. Publishing is fire-and-forget: a frame for a
 * subject nobody subscribes to is dropped and counted, as on a real pub/sub.
 *
 * This is the in-process implementation: delivery is a direct call, so the frame buffer is
 * only lent to the subscriber for the duration of the call. A Redis pub/sub implementation for
 * several nodes fits behind the same functions. */
#ifndef SETT_BUS_BUS_H
#define SETT_BUS_BUS_H

#include <stddef.h>
#include <stdint.h>

typedef struct bus bus_t;
typedef struct bus_sub bus_sub_t;

typedef void (*bus_handler)(void *ud, const char *subject, const uint8_t *frame, size_t len);

bus_t *bus_new(void);
void bus_free(bus_t *b);

/* Subscribes handler to subject. A subject has one subscriber at a time: this returns NULL
 * while another holds it (a reconnecting runner unsubscribes its evicted socket first). */
bus_sub_t *bus_subscribe(bus_t *b, const char *subject, bus_handler h, void *ud);
void bus_unsubscribe(bus_t *b, bus_sub_t *s);
/* Delivers frame to the subject's subscriber; returns 0, -1 when there is none, or 1 when it
 * was delivered but the subscriber is congested and publishers should hold back. */
int bus_publish(bus_t *b, const char *subject, const uint8_t *frame, size_t len);
/* A subscriber whose own output backs up says so; clearing it tells the drain handler. */
void bus_set_congested(bus_t *b, bus_sub_t *s, int congested);
/* The one function told when a subject stops being congested (the gateway resumes the
 * clients it paused for it). */
void bus_on_drain(bus_t *b, void (*fn)(void *ud, const char *subject), void *ud);

#endif
