/* Fuzzes the generated peeks: on every input they read only what they are given (the sanitizers
 * watch), and on every input a decoder accepts they succeed and agree with it: the union tag, the
 * offset of the member (the bytes before it are what encode_tag writes) and, for tunnel messages,
 * the message id and the message kind's tag. Each input is tried as all four message unions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "proto/rp_v7.h"

#define FUZZ_CHECK(cond)                                                                          \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond);                           \
            abort();                                                                              \
        }                                                                                         \
    } while (0)

static void fuzz_same_id(const rp_message_id_t *a, const rp_message_id_t *b)
{
    FUZZ_CHECK(memcmp(a->gateway_id, b->gateway_id, 4) == 0);
    FUZZ_CHECK(memcmp(a->request_id, b->request_id, 4) == 0);
    FUZZ_CHECK(a->message_index == b->message_index);
}

/* The bytes before the member are exactly the tag's encoding. */
static void fuzz_same_head(const buf_t *head, const uint8_t *data, size_t body)
{
    FUZZ_CHECK(head->len == body && memcmp(head->data, data, body) == 0);
}

static void fuzz_server_tunnel(const uint8_t *p, size_t n, const rp_to_server_tunnel_message_t *d)
{
    rp_to_server_tunnel_message_t t;
    int rc = rp_to_server_tunnel_message_peek(p, n, &t);
    if (!d)
        return;
    FUZZ_CHECK(rc == BARE_OK);
    fuzz_same_id(&t.message_id, &d->message_id);
    FUZZ_CHECK(t.message_kind.tag == d->message_kind.tag);
}

static void fuzz_client_tunnel(const uint8_t *p, size_t n, const rp_to_client_tunnel_message_t *d)
{
    rp_to_client_tunnel_message_t t;
    int rc = rp_to_client_tunnel_message_peek(p, n, &t);
    if (!d)
        return;
    FUZZ_CHECK(rc == BARE_OK);
    fuzz_same_id(&t.message_id, &d->message_id);
    FUZZ_CHECK(t.message_kind.tag == d->message_kind.tag);
}

static void fuzz_to_server(const uint8_t *data, size_t size)
{
    rp_to_server_tag_t tag;
    size_t body = 0;
    int prc = rp_to_server_peek(data, size, &tag, &body);
    if (prc == BARE_OK) {
        FUZZ_CHECK(body <= size);
        fuzz_server_tunnel(data + body, size - body, NULL);
    }
    rp_to_server_t m;
    if (rp_to_server_decode(data, size, &m, NULL) != BARE_OK)
        return;
    FUZZ_CHECK(prc == BARE_OK && tag == m.tag);
    buf_t head = BUF_INIT;
    rp_to_server_encode_tag(&head, tag);
    fuzz_same_head(&head, data, body);
    if (tag == RP_TO_SERVER_TUNNEL_MESSAGE)
        fuzz_server_tunnel(data + body, size - body, &m.val.tunnel_message);
    buf_free(&head);
    rp_to_server_free(&m);
}

static void fuzz_to_gateway(const uint8_t *data, size_t size)
{
    rp_to_gateway_tag_t tag;
    size_t body = 0;
    int prc = rp_to_gateway_peek_versioned(data, size, &tag, &body);
    if (prc == BARE_OK) {
        FUZZ_CHECK(body <= size);
        fuzz_server_tunnel(data + body, size - body, NULL);
    }
    rp_to_gateway_t m;
    if (rp_to_gateway_decode_versioned(data, size, &m, NULL) != BARE_OK)
        return;
    FUZZ_CHECK(prc == BARE_OK && tag == m.tag);
    buf_t head = BUF_INIT;
    rp_to_gateway_encode_tag_versioned(&head, tag);
    fuzz_same_head(&head, data, body);
    if (tag == RP_TO_GATEWAY_SERVER_TUNNEL_MESSAGE)
        fuzz_server_tunnel(data + body, size - body, &m.val.server_tunnel_message);
    buf_free(&head);
    rp_to_gateway_free(&m);
}

static void fuzz_to_client(const uint8_t *data, size_t size)
{
    rp_to_client_tag_t tag;
    size_t body = 0;
    int prc = rp_to_client_peek(data, size, &tag, &body);
    if (prc == BARE_OK) {
        FUZZ_CHECK(body <= size);
        fuzz_client_tunnel(data + body, size - body, NULL);
    }
    rp_to_client_t m;
    if (rp_to_client_decode(data, size, &m, NULL) != BARE_OK)
        return;
    FUZZ_CHECK(prc == BARE_OK && tag == m.tag);
    buf_t head = BUF_INIT;
    rp_to_client_encode_tag(&head, tag);
    fuzz_same_head(&head, data, body);
    if (tag == RP_TO_CLIENT_TUNNEL_MESSAGE)
        fuzz_client_tunnel(data + body, size - body, &m.val.tunnel_message);
    buf_free(&head);
    rp_to_client_free(&m);
}

static void fuzz_to_runner(const uint8_t *data, size_t size)
{
    rp_to_runner_tag_t tag;
    size_t body = 0;
    int prc = rp_to_runner_peek_versioned(data, size, &tag, &body);
    if (prc == BARE_OK) {
        FUZZ_CHECK(body <= size);
        fuzz_client_tunnel(data + body, size - body, NULL);
    }
    rp_to_runner_t m;
    if (rp_to_runner_decode_versioned(data, size, &m, NULL) != BARE_OK)
        return;
    FUZZ_CHECK(prc == BARE_OK && tag == m.tag);
    buf_t head = BUF_INIT;
    rp_to_runner_encode_tag_versioned(&head, tag);
    fuzz_same_head(&head, data, body);
    if (tag == RP_TO_RUNNER_CLIENT_TUNNEL_MESSAGE)
        fuzz_client_tunnel(data + body, size - body, &m.val.client_tunnel_message);
    buf_free(&head);
    rp_to_runner_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Each peek gets a copy of exactly size bytes, so a read past the end is one ASan sees. */
    uint8_t *copy = malloc(size ? size : 1);
    if (size)
        memcpy(copy, data, size);
    fuzz_to_server(copy, size);
    fuzz_to_gateway(copy, size);
    fuzz_to_client(copy, size);
    fuzz_to_runner(copy, size);
    free(copy);
    return 0;
}
