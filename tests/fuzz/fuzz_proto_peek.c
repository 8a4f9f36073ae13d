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

/* A tunnel message's peek reads only what it is given, and agrees with the decoded message d
 * when there is one. */
#define FUZZ_TUNNEL(T)                                                                            \
    static void fuzz_##T(const uint8_t *p, size_t n, const T##_t *d)                              \
    {                                                                                             \
        T##_t t;                                                                                  \
        int rc = T##_peek(p, n, &t);                                                              \
        if (!d)                                                                                   \
            return;                                                                               \
        FUZZ_CHECK(rc == BARE_OK);                                                                \
        fuzz_same_id(&t.message_id, &d->message_id);                                              \
        FUZZ_CHECK(t.message_kind.tag == d->message_kind.tag);                                    \
    }

FUZZ_TUNNEL(rp_to_server_tunnel_message)
FUZZ_TUNNEL(rp_to_client_tunnel_message)

/* A message union T (V: _versioned for the ones sent with the 2-byte version): its peek finds a
 * member inside the input; where the decoder accepts the input, the peek agrees with it on the
 * tag, the bytes before the member are what encode_tag writes, and the tunnel member TUNNEL
 * (the union's field member) peeks as it decodes, with the tunnel check tunnel. */
#define FUZZ_UNION(T, V, TUNNEL, member, tunnel)                                                  \
    static void fuzz_##T(const uint8_t *data, size_t size)                                        \
    {                                                                                             \
        T##_tag_t tag;                                                                            \
        size_t body = 0;                                                                          \
        int prc = T##_peek##V(data, size, &tag, &body);                                           \
        if (prc == BARE_OK) {                                                                     \
            FUZZ_CHECK(body <= size);                                                             \
            tunnel(data + body, size - body, NULL);                                               \
        }                                                                                         \
        T##_t m;                                                                                  \
        if (T##_decode##V(data, size, &m, NULL) != BARE_OK)                                       \
            return;                                                                               \
        FUZZ_CHECK(prc == BARE_OK && tag == m.tag);                                               \
        buf_t head = BUF_INIT;                                                                    \
        T##_encode_tag##V(&head, tag);                                                            \
        fuzz_same_head(&head, data, body);                                                        \
        if (tag == TUNNEL)                                                                        \
            tunnel(data + body, size - body, &m.val.member);                                      \
        buf_free(&head);                                                                          \
        T##_free(&m);                                                                             \
    }

FUZZ_UNION(rp_to_server, , RP_TO_SERVER_TUNNEL_MESSAGE, tunnel_message,
           fuzz_rp_to_server_tunnel_message)
FUZZ_UNION(rp_to_gateway, _versioned, RP_TO_GATEWAY_SERVER_TUNNEL_MESSAGE, server_tunnel_message,
           fuzz_rp_to_server_tunnel_message)
FUZZ_UNION(rp_to_client, , RP_TO_CLIENT_TUNNEL_MESSAGE, tunnel_message,
           fuzz_rp_to_client_tunnel_message)
FUZZ_UNION(rp_to_runner, _versioned, RP_TO_RUNNER_CLIENT_TUNNEL_MESSAGE, client_tunnel_message,
           fuzz_rp_to_client_tunnel_message)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Each peek gets a copy of exactly size bytes, so a read past the end is one ASan sees. */
    uint8_t *copy = malloc(size ? size : 1);
    if (size)
        memcpy(copy, data, size);
    fuzz_rp_to_server(copy, size);
    fuzz_rp_to_gateway(copy, size);
    fuzz_rp_to_client(copy, size);
    fuzz_rp_to_runner(copy, size);
    free(copy);
    return 0;
}
