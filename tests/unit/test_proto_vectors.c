/* The runner-protocol v7 codec against the byte examples of the reference (section 2.5, encoded
 * by @rivetkit/engine-runner-protocol 2.2.1): each one decodes to the expected fields, a struct
 * built by hand encodes to exactly its bytes, and every way of breaking it is refused with the
 * right error. */
#include "t.h"

#include <stdlib.h>

#include "core/buf.h"
#include "proto/bare.h"
#include "proto/rp_v7.h"

typedef enum { TO_SERVER, TO_CLIENT, TO_RUNNER, TO_GATEWAY } kind_t;

typedef struct vec {
    const char *name;
    kind_t kind;
    const char *hex;
} vec_t;

static const vec_t vectors[] = {
    { "server init", TO_SERVER, "00 01 72 01 00 00 00 02 00 00 00 01 00 01 02 7b 7d" },
    { "client init", TO_CLIENT, "00 01 52 98 3a 00 00 00 00 00 00 40 77 1b 00 00 00 00 00 00" },
    { "client commands", TO_CLIENT,
      "01 01 01 41 00 00 00 00 00 00 00 00 00 00 00 00 00 01 6e 00 01 00 00 00 00 00 00 00 00 00" },
    { "server events", TO_SERVER, "01 01 01 41 00 00 00 00 00 00 00 00 00 00 00 00 01 00" },
    { "client ping", TO_CLIENT, "05 01 00 00 00 00 00 00 00" },
    { "server pong", TO_SERVER, "04 01 00 00 00 00 00 00 00" },
    { "client request start", TO_CLIENT,
      "04 11 22 33 44 aa bb cc dd 00 00 00 01 41 03 47 45 54 05 2f 70 69 6e 67 00 00 00" },
    { "server response start", TO_SERVER,
      "06 11 22 33 44 aa bb cc dd 00 00 00 c8 00 00 01 02 6f 6b 00" },
    { "server ws open", TO_SERVER, "06 11 22 33 44 aa bb cc dd 00 00 03 01" },
    { "client ws message", TO_CLIENT, "04 11 22 33 44 aa bb cc dd 01 00 04 02 68 69 00" },
    { "server ws ack", TO_SERVER, "06 11 22 33 44 aa bb cc dd 02 00 05 01 00" },
    { "server kv get", TO_SERVER, "05 01 41 00 00 00 00 00 01 01 01" },
    { "client kv put response", TO_CLIENT, "03 00 00 00 00 03" },
    { "runner ping", TO_RUNNER, "07 00 00 11 22 33 44 aa bb cc dd 01 00 00 00 00 00 00 00" },
    { "gateway pong", TO_GATEWAY, "07 00 00 aa bb cc dd 01 00 00 00 00 00 00 00" },
};

#define NVEC (sizeof vectors / sizeof vectors[0])

static const uint8_t GW[4] = { 0x11, 0x22, 0x33, 0x44 };
static const uint8_t RQ[4] = { 0xaa, 0xbb, 0xcc, 0xdd };

static size_t unhex(const char *s, uint8_t *out)
{
    size_t n = 0;
    while (*s) {
        if (*s == ' ') {
            s++;
            continue;
        }
        unsigned v;
        sscanf(s, "%2x", &v);
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

static bool str_is(slice_t s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

/* Decodes with the codec of the given kind into a union of the four top-level values. */
typedef union any {
    rp_to_server_t server;
    rp_to_client_t client;
    rp_to_runner_t runner;
    rp_to_gateway_t gateway;
} any_t;

static int decode(kind_t k, const uint8_t *p, size_t n, any_t *v, bare_err_t *err)
{
    switch (k) {
    case TO_SERVER: return rp_to_server_decode(p, n, &v->server, err);
    case TO_CLIENT: return rp_to_client_decode(p, n, &v->client, err);
    case TO_RUNNER: return rp_to_runner_decode_versioned(p, n, &v->runner, err);
    default: return rp_to_gateway_decode_versioned(p, n, &v->gateway, err);
    }
}

static void encode(kind_t k, buf_t *out, const any_t *v)
{
    switch (k) {
    case TO_SERVER: rp_to_server_encode(out, &v->server); break;
    case TO_CLIENT: rp_to_client_encode(out, &v->client); break;
    case TO_RUNNER: rp_to_runner_encode_versioned(out, &v->runner); break;
    default: rp_to_gateway_encode_versioned(out, &v->gateway); break;
    }
}

static void release(kind_t k, any_t *v)
{
    switch (k) {
    case TO_SERVER: rp_to_server_free(&v->server); break;
    case TO_CLIENT: rp_to_client_free(&v->client); break;
    case TO_RUNNER: rp_to_runner_free(&v->runner); break;
    default: rp_to_gateway_free(&v->gateway); break;
    }
}

/* Encodes a hand-built value and compares it with vector i. */
static void check_encodes(size_t i, const any_t *v)
{
    uint8_t want[128];
    size_t n = unhex(vectors[i].hex, want);
    buf_t out = BUF_INIT;
    encode(vectors[i].kind, &out, v);
    CHECK_EQ_INT(out.len, n);
    if (out.len == n)
        CHECK_MEM(out.data, want, n);
    else
        fprintf(stderr, "  vector '%s' encodes to %zu bytes, expected %zu\n", vectors[i].name,
                out.len, n);
    buf_free(&out);
}

/* Decodes vector i into *v, checks that re-encoding gives the same bytes; the caller checks the
 * fields and frees. The bytes stay in `keep` because str and data point into them. */
static int decode_vector(size_t i, any_t *v, uint8_t *keep)
{
    size_t n = unhex(vectors[i].hex, keep);
    bare_err_t err;
    int rc = decode(vectors[i].kind, keep, n, v, &err);
    CHECK_EQ_INT(rc, BARE_OK);
    if (rc != BARE_OK) {
        char msg[256];
        bare_err_format(&err, msg, sizeof msg);
        fprintf(stderr, "  vector '%s': %s\n", vectors[i].name, msg);
        return rc;
    }
    buf_t out = BUF_INIT;
    encode(vectors[i].kind, &out, v);
    CHECK_EQ_INT(out.len, n);
    if (out.len == n)
        CHECK_MEM(out.data, keep, n);
    buf_free(&out);
    return rc;
}

static void test_server_init(void)
{
    uint8_t b[128];
    any_t v;
    if (decode_vector(0, &v, b) == BARE_OK) {
        CHECK(v.server.tag == RP_TO_SERVER_INIT);
        const rp_to_server_init_t *in = &v.server.val.init;
        CHECK(str_is(in->name, "r"));
        CHECK_EQ_INT(in->version, 1);
        CHECK_EQ_INT(in->total_slots, 2);
        CHECK(in->has_prepopulate_actor_names && in->prepopulate_actor_names.len == 0);
        CHECK(in->has_metadata && str_is(in->metadata, "{}"));
        release(TO_SERVER, &v);
    }
    memset(&v, 0, sizeof v);
    v.server.tag = RP_TO_SERVER_INIT;
    v.server.val.init.name = slice_cstr("r");
    v.server.val.init.version = 1;
    v.server.val.init.total_slots = 2;
    v.server.val.init.has_prepopulate_actor_names = true;
    v.server.val.init.has_metadata = true;
    v.server.val.init.metadata = slice_cstr("{}");
    check_encodes(0, &v);
}

static void test_client_init(void)
{
    uint8_t b[128];
    any_t v;
    if (decode_vector(1, &v, b) == BARE_OK) {
        CHECK(v.client.tag == RP_TO_CLIENT_INIT);
        CHECK(str_is(v.client.val.init.runner_id, "R"));
        CHECK_EQ_INT(v.client.val.init.metadata.runner_lost_threshold, 15000);
        CHECK_EQ_INT(v.client.val.init.metadata.actor_stop_threshold, 1800000);
        CHECK(!v.client.val.init.metadata.has_serverless_drain_grace_period);
        release(TO_CLIENT, &v);
    }
    memset(&v, 0, sizeof v);
    v.client.tag = RP_TO_CLIENT_INIT;
    v.client.val.init.runner_id = slice_cstr("R");
    v.client.val.init.metadata.runner_lost_threshold = 15000;
    v.client.val.init.metadata.actor_stop_threshold = 1800000;
    check_encodes(1, &v);
}

static void test_client_commands(void)
{
    uint8_t b[128];
    any_t v;
    if (decode_vector(2, &v, b) == BARE_OK) {
        CHECK(v.client.tag == RP_TO_CLIENT_COMMANDS);
        CHECK_EQ_INT(v.client.val.commands.len, 1);
        const rp_command_wrapper_t *w = &v.client.val.commands.items[0];
        CHECK(str_is(w->checkpoint.actor_id, "A"));
        CHECK_EQ_INT(w->checkpoint.generation, 0);
        CHECK_EQ_INT(w->checkpoint.index, 0);
        CHECK(w->inner.tag == RP_COMMAND_START_ACTOR);
        const rp_actor_config_t *c = &w->inner.val.start_actor.config;
        CHECK(str_is(c->name, "n") && !c->has_key && c->create_ts == 1 && !c->has_input);
        CHECK_EQ_INT(w->inner.val.start_actor.hibernating_requests.len, 0);
        release(TO_CLIENT, &v);
    }
    rp_command_wrapper_t w;
    memset(&w, 0, sizeof w);
    w.checkpoint.actor_id = slice_cstr("A");
    w.inner.tag = RP_COMMAND_START_ACTOR;
    w.inner.val.start_actor.config.name = slice_cstr("n");
    w.inner.val.start_actor.config.create_ts = 1;
    memset(&v, 0, sizeof v);
    v.client.tag = RP_TO_CLIENT_COMMANDS;
    v.client.val.commands.items = &w;
    v.client.val.commands.len = 1;
    check_encodes(2, &v);
}

static void test_server_events(void)
{
    uint8_t b[128];
    any_t v;
    if (decode_vector(3, &v, b) == BARE_OK) {
        CHECK(v.server.tag == RP_TO_SERVER_EVENTS);
        CHECK_EQ_INT(v.server.val.events.len, 1);
        const rp_event_wrapper_t *e = &v.server.val.events.items[0];
        CHECK(str_is(e->checkpoint.actor_id, "A"));
        CHECK(e->inner.tag == RP_EVENT_ACTOR_STATE_UPDATE);
        CHECK(e->inner.val.actor_state_update.state.tag == RP_ACTOR_STATE_RUNNING);
        release(TO_SERVER, &v);
    }
    rp_event_wrapper_t e;
    memset(&e, 0, sizeof e);
    e.checkpoint.actor_id = slice_cstr("A");
    e.inner.tag = RP_EVENT_ACTOR_STATE_UPDATE;
    e.inner.val.actor_state_update.state.tag = RP_ACTOR_STATE_RUNNING;
    memset(&v, 0, sizeof v);
    v.server.tag = RP_TO_SERVER_EVENTS;
    v.server.val.events.items = &e;
    v.server.val.events.len = 1;
    check_encodes(3, &v);
}

static void test_ping_pong(void)
{
    uint8_t b[128];
    any_t v;
    if (decode_vector(4, &v, b) == BARE_OK) {
        CHECK(v.client.tag == RP_TO_CLIENT_PING && v.client.val.ping.ts == 1);
        release(TO_CLIENT, &v);
    }
    if (decode_vector(5, &v, b) == BARE_OK) {
        CHECK(v.server.tag == RP_TO_SERVER_PONG && v.server.val.pong.ts == 1);
        release(TO_SERVER, &v);
    }
    memset(&v, 0, sizeof v);
    v.client.tag = RP_TO_CLIENT_PING;
    v.client.val.ping.ts = 1;
    check_encodes(4, &v);
    memset(&v, 0, sizeof v);
    v.server.tag = RP_TO_SERVER_PONG;
    v.server.val.pong.ts = 1;
    check_encodes(5, &v);
}

static void set_id(rp_message_id_t *id, uint16_t index)
{
    memcpy(id->gateway_id, GW, 4);
    memcpy(id->request_id, RQ, 4);
    id->message_index = index;
}

static bool id_is(const rp_message_id_t *id, uint16_t index)
{
    return memcmp(id->gateway_id, GW, 4) == 0 && memcmp(id->request_id, RQ, 4) == 0 &&
           id->message_index == index;
}

static void test_tunnel(void)
{
    uint8_t b[128];
    any_t v;

    if (decode_vector(6, &v, b) == BARE_OK) {
        const rp_to_client_tunnel_message_t *tm = &v.client.val.tunnel_message;
        CHECK(v.client.tag == RP_TO_CLIENT_TUNNEL_MESSAGE && id_is(&tm->message_id, 0));
        CHECK(tm->message_kind.tag == RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_REQUEST_START);
        const rp_to_client_request_start_t *rs = &tm->message_kind.val.request_start;
        CHECK(str_is(rs->actor_id, "A") && str_is(rs->method, "GET") && str_is(rs->path, "/ping"));
        CHECK(rs->headers.len == 0 && !rs->has_body && !rs->stream);
        release(TO_CLIENT, &v);
    }
    memset(&v, 0, sizeof v);
    v.client.tag = RP_TO_CLIENT_TUNNEL_MESSAGE;
    set_id(&v.client.val.tunnel_message.message_id, 0);
    v.client.val.tunnel_message.message_kind.tag = RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_REQUEST_START;
    rp_to_client_request_start_t *rs = &v.client.val.tunnel_message.message_kind.val.request_start;
    rs->actor_id = slice_cstr("A");
    rs->method = slice_cstr("GET");
    rs->path = slice_cstr("/ping");
    check_encodes(6, &v);

    if (decode_vector(7, &v, b) == BARE_OK) {
        const rp_to_server_tunnel_message_t *tm = &v.server.val.tunnel_message;
        CHECK(v.server.tag == RP_TO_SERVER_TUNNEL_MESSAGE && id_is(&tm->message_id, 0));
        CHECK(tm->message_kind.tag == RP_TO_SERVER_TUNNEL_MESSAGE_KIND_RESPONSE_START);
        const rp_to_server_response_start_t *r = &tm->message_kind.val.response_start;
        CHECK(r->status == 200 && r->headers.len == 0 && r->has_body && !r->stream);
        CHECK(r->body.len == 2 && memcmp(r->body.p, "ok", 2) == 0);
        /* Zero-copy: the body points into the input. */
        CHECK(r->body.p == b + 17);
        release(TO_SERVER, &v);
    }
    memset(&v, 0, sizeof v);
    v.server.tag = RP_TO_SERVER_TUNNEL_MESSAGE;
    set_id(&v.server.val.tunnel_message.message_id, 0);
    v.server.val.tunnel_message.message_kind.tag = RP_TO_SERVER_TUNNEL_MESSAGE_KIND_RESPONSE_START;
    rp_to_server_response_start_t *r = &v.server.val.tunnel_message.message_kind.val.response_start;
    r->status = 200;
    r->has_body = true;
    r->body = slice_cstr("ok");
    check_encodes(7, &v);

    if (decode_vector(8, &v, b) == BARE_OK) {
        const rp_to_server_tunnel_message_t *tm = &v.server.val.tunnel_message;
        CHECK(tm->message_kind.tag == RP_TO_SERVER_TUNNEL_MESSAGE_KIND_WEB_SOCKET_OPEN);
        CHECK(tm->message_kind.val.web_socket_open.can_hibernate);
        release(TO_SERVER, &v);
    }
    memset(&v, 0, sizeof v);
    v.server.tag = RP_TO_SERVER_TUNNEL_MESSAGE;
    set_id(&v.server.val.tunnel_message.message_id, 0);
    v.server.val.tunnel_message.message_kind.tag = RP_TO_SERVER_TUNNEL_MESSAGE_KIND_WEB_SOCKET_OPEN;
    v.server.val.tunnel_message.message_kind.val.web_socket_open.can_hibernate = true;
    check_encodes(8, &v);

    if (decode_vector(9, &v, b) == BARE_OK) {
        const rp_to_client_tunnel_message_t *tm = &v.client.val.tunnel_message;
        CHECK(id_is(&tm->message_id, 1));
        CHECK(tm->message_kind.tag == RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE);
        const rp_to_client_web_socket_message_t *m = &tm->message_kind.val.web_socket_message;
        CHECK(m->data.len == 2 && memcmp(m->data.p, "hi", 2) == 0 && !m->binary);
        release(TO_CLIENT, &v);
    }
    memset(&v, 0, sizeof v);
    v.client.tag = RP_TO_CLIENT_TUNNEL_MESSAGE;
    set_id(&v.client.val.tunnel_message.message_id, 1);
    v.client.val.tunnel_message.message_kind.tag =
        RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE;
    v.client.val.tunnel_message.message_kind.val.web_socket_message.data = slice_cstr("hi");
    check_encodes(9, &v);

    if (decode_vector(10, &v, b) == BARE_OK) {
        const rp_to_server_tunnel_message_t *tm = &v.server.val.tunnel_message;
        CHECK(id_is(&tm->message_id, 2));
        CHECK(tm->message_kind.tag == RP_TO_SERVER_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE_ACK);
        CHECK_EQ_INT(tm->message_kind.val.web_socket_message_ack.index, 1);
        release(TO_SERVER, &v);
    }
    memset(&v, 0, sizeof v);
    v.server.tag = RP_TO_SERVER_TUNNEL_MESSAGE;
    set_id(&v.server.val.tunnel_message.message_id, 2);
    v.server.val.tunnel_message.message_kind.tag =
        RP_TO_SERVER_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE_ACK;
    v.server.val.tunnel_message.message_kind.val.web_socket_message_ack.index = 1;
    check_encodes(10, &v);
}

static void test_kv(void)
{
    uint8_t b[128];
    any_t v;
    if (decode_vector(11, &v, b) == BARE_OK) {
        const rp_to_server_kv_request_t *kv = &v.server.val.kv_request;
        CHECK(v.server.tag == RP_TO_SERVER_KV_REQUEST && str_is(kv->actor_id, "A"));
        CHECK(kv->request_id == 0 && kv->data.tag == RP_KV_REQUEST_DATA_GET_REQUEST);
        CHECK_EQ_INT(kv->data.val.get_request.keys.len, 1);
        CHECK(kv->data.val.get_request.keys.items[0].len == 1 &&
              kv->data.val.get_request.keys.items[0].p[0] == 1);
        release(TO_SERVER, &v);
    }
    rp_kv_key_t key = { (const uint8_t *)"\x01", 1 };
    memset(&v, 0, sizeof v);
    v.server.tag = RP_TO_SERVER_KV_REQUEST;
    v.server.val.kv_request.actor_id = slice_cstr("A");
    v.server.val.kv_request.data.tag = RP_KV_REQUEST_DATA_GET_REQUEST;
    v.server.val.kv_request.data.val.get_request.keys.items = &key;
    v.server.val.kv_request.data.val.get_request.keys.len = 1;
    check_encodes(11, &v);

    if (decode_vector(12, &v, b) == BARE_OK) {
        CHECK(v.client.tag == RP_TO_CLIENT_KV_RESPONSE && v.client.val.kv_response.request_id == 0);
        CHECK(v.client.val.kv_response.data.tag == RP_KV_RESPONSE_DATA_PUT_RESPONSE);
        release(TO_CLIENT, &v);
    }
    memset(&v, 0, sizeof v);
    v.client.tag = RP_TO_CLIENT_KV_RESPONSE;
    v.client.val.kv_response.data.tag = RP_KV_RESPONSE_DATA_PUT_RESPONSE;
    check_encodes(12, &v);
}

static void test_bus(void)
{
    uint8_t b[128];
    any_t v;
    if (decode_vector(13, &v, b) == BARE_OK) {
        CHECK(v.runner.tag == RP_TO_RUNNER_PING);
        CHECK(memcmp(v.runner.val.ping.gateway_id, GW, 4) == 0);
        CHECK(memcmp(v.runner.val.ping.request_id, RQ, 4) == 0 && v.runner.val.ping.ts == 1);
        release(TO_RUNNER, &v);
    }
    memset(&v, 0, sizeof v);
    v.runner.tag = RP_TO_RUNNER_PING;
    memcpy(v.runner.val.ping.gateway_id, GW, 4);
    memcpy(v.runner.val.ping.request_id, RQ, 4);
    v.runner.val.ping.ts = 1;
    check_encodes(13, &v);

    if (decode_vector(14, &v, b) == BARE_OK) {
        CHECK(v.gateway.tag == RP_TO_GATEWAY_PONG && v.gateway.val.pong.ts == 1);
        CHECK(memcmp(v.gateway.val.pong.request_id, RQ, 4) == 0);
        release(TO_GATEWAY, &v);
    }
    memset(&v, 0, sizeof v);
    v.gateway.tag = RP_TO_GATEWAY_PONG;
    memcpy(v.gateway.val.pong.request_id, RQ, 4);
    v.gateway.val.pong.ts = 1;
    check_encodes(14, &v);

    /* The unprefixed codecs of the bus types are plain BARE. */
    buf_t out = BUF_INIT;
    rp_to_gateway_encode(&out, &v.gateway);
    CHECK(out.len == 13 && out.data[0] == 0);
    buf_free(&out);
}

/* Expects decoding the given bytes as kind k to fail with code at offset. */
static void expect_fail(kind_t k, const uint8_t *p, size_t n, int code, size_t offset,
                        const char *path)
{
    any_t v;
    bare_err_t err;
    int rc = decode(k, p, n, &v, &err);
    CHECK_EQ_INT(rc, code);
    CHECK_EQ_INT(err.code, code);
    CHECK_EQ_INT(err.offset, offset);
    if (path)
        CHECK(err.path && strcmp(err.path, path) == 0);
    if (rc == BARE_OK)
        release(k, &v);
}

static void expect_fail_hex(kind_t k, const char *hex, int code, size_t offset, const char *path)
{
    uint8_t b[256];
    size_t n = unhex(hex, b);
    expect_fail(k, b, n, code, offset, path);
}

static void test_truncation_and_trailing(void)
{
    for (size_t i = 0; i < NVEC; i++) {
        uint8_t b[130];
        size_t n = unhex(vectors[i].hex, b);
        for (size_t len = 0; len < n; len++) {
            any_t v;
            bare_err_t err;
            /* A copy of exactly len bytes, so that ASan sees any read past the end. */
            uint8_t *cut = malloc(len ? len : 1);
            memcpy(cut, b, len);
            int rc = decode(vectors[i].kind, cut, len, &v, &err);
            free(cut);
            /* A cut inside a length or count shows as that length or count being too large. */
            CHECK(rc == BARE_ETRUNC || rc == BARE_ELENGTH || rc == BARE_ECOUNT);
            CHECK(err.offset <= len);
            if (rc == BARE_OK)
                release(vectors[i].kind, &v);
        }
        b[n] = 0;
        expect_fail(vectors[i].kind, b, n + 1, BARE_ETRAILING, n, NULL);
    }
}

static void test_rejections(void)
{
    /* Unknown union tags, at the top and inside. */
    expect_fail_hex(TO_SERVER, "07", BARE_ETAG, 0, "ToServer");
    expect_fail_hex(TO_CLIENT, "06 01 00 00 00 00 00 00 00", BARE_ETAG, 0, "ToClient");
    expect_fail_hex(TO_RUNNER, "07 00 05", BARE_ETAG, 2, "ToRunner");
    expect_fail_hex(TO_GATEWAY, "07 00 02", BARE_ETAG, 2, "ToGateway");
    expect_fail_hex(TO_SERVER, "06 11 22 33 44 aa bb cc dd 02 00 07 01 00", BARE_ETAG, 11,
                    "ToServerTunnelMessageKind");
    /* A tag written as a two-byte LEB128 is non-minimal for 0 and unknown for 128. */
    expect_fail_hex(TO_SERVER, "80 00", BARE_EVARINT, 0, "ToServer");
    expect_fail_hex(TO_SERVER, "80 01", BARE_ETAG, 0, "ToServer");

    /* Bad bool and optional markers. */
    expect_fail_hex(TO_SERVER, "06 11 22 33 44 aa bb cc dd 00 00 03 02", BARE_EBOOL, 12,
                    "ToServerWebSocketOpen.canHibernate");
    expect_fail_hex(TO_SERVER, "00 01 72 01 00 00 00 02 00 00 00 02 00 01 02 7b 7d", BARE_EOPTIONAL,
                    11, "ToServerInit.prepopulateActorNames");

    /* Lengths and counts the input cannot hold, and non-minimal ones. */
    expect_fail_hex(TO_SERVER, "00 7f 72 01 00 00 00 02 00 00 00 01 00 01 02 7b 7d", BARE_ELENGTH,
                    1, "ToServerInit.name");
    expect_fail_hex(TO_SERVER, "00 81 00 72", BARE_EVARINT, 1, "ToServerInit.name");
    expect_fail_hex(TO_SERVER, "00 ff ff ff ff ff ff ff ff ff ff 01", BARE_EVARINT, 1,
                    "ToServerInit.name");
    expect_fail_hex(TO_SERVER, "05 01 41 00 00 00 00 00 0b 01 01", BARE_ECOUNT, 8,
                    "KvGetRequest.keys");
    expect_fail_hex(TO_SERVER, "01 ff ff ff ff 0f", BARE_ECOUNT, 1, "ToServer.ToServerEvents");

    /* Invalid UTF-8 in a str: a stray byte, an overlong NUL, a surrogate, above U+10FFFF. */
    expect_fail_hex(TO_SERVER, "00 01 ff 01 00 00 00 02 00 00 00 00 00", BARE_EUTF8, 2,
                    "ToServerInit.name");
    expect_fail_hex(TO_SERVER, "00 02 c0 80 01 00 00 00 02 00 00 00 00 00", BARE_EUTF8, 2, NULL);
    expect_fail_hex(TO_SERVER, "00 03 ed a0 80 01 00 00 00 02 00 00 00 00 00", BARE_EUTF8, 2, NULL);
    expect_fail_hex(TO_SERVER, "00 04 f4 90 80 80 01 00 00 00 02 00 00 00 00 00", BARE_EUTF8, 2,
                    NULL);
    /* ... while data may hold any bytes. */
    expect_fail_hex(TO_SERVER, "05 01 41 00 00 00 00 00 01 01 ff", BARE_OK, 0, NULL);

    /* Unknown enum value: ActorStateStopped{code: 2}. */
    expect_fail_hex(TO_SERVER, "01 01 01 41 00 00 00 00 00 00 00 00 00 00 00 00 01 01 02 00",
                    BARE_EENUM, 18, "StopCode");

    /* Duplicate map keys, in a small map and in one large enough for the hash set. */
    expect_fail_hex(TO_CLIENT,
                    "04 11 22 33 44 aa bb cc dd 00 00 00 01 41 03 47 45 54 01 2f 02 01 61 01 31 01 "
                    "61 01 32 00 00",
                    BARE_EDUPKEY, 25, NULL);
    uint8_t big[512];
    size_t n = unhex("04 11 22 33 44 aa bb cc dd 00 00 00 01 41 03 47 45 54 01 2f", big);
    size_t count_at = n++;
    for (int i = 0; i < 40; i++) {
        big[n++] = 2;
        big[n++] = (uint8_t)('a' + i % 26);
        big[n++] = (uint8_t)('0' + i / 26);
        big[n++] = 0;
    }
    big[count_at] = 40;
    big[n++] = 0;
    big[n++] = 0;
    expect_fail(TO_CLIENT, big, n, BARE_OK, 0, NULL);
    /* Key 39 ("n1") becomes "a0", which key 0 already is. */
    big[count_at + 1 + 39 * 4 + 1] = 'a';
    big[count_at + 1 + 39 * 4 + 2] = '0';
    expect_fail(TO_CLIENT, big, n, BARE_EDUPKEY, count_at + 1 + 39 * 4, NULL);

    /* Version prefixes. */
    expect_fail_hex(TO_RUNNER, "06 00 01", BARE_EVERSION, 0, "version prefix");
    expect_fail_hex(TO_RUNNER, "07 01 01", BARE_EVERSION, 0, "version prefix");
    expect_fail_hex(TO_GATEWAY, "03 00 00 aa bb cc dd 01 00 00 00 00 00 00 00", BARE_EVERSION, 0,
                    "version prefix");
    expect_fail_hex(TO_GATEWAY, "07", BARE_ETRUNC, 0, "version prefix");
    any_t v;
    bare_err_t err;
    uint8_t b[8] = { 6, 0, 1 };
    rp_to_runner_decode_versioned(b, 3, &v.runner, &err);
    CHECK(strstr(err.msg, "07 00") != NULL);
    /* The bus types without their prefix are refused by the versioned decoder... */
    expect_fail_hex(TO_RUNNER, "01", BARE_ETRUNC, 0, NULL);
    /* ... and accepted by the plain one. */
    CHECK_EQ_INT(rp_to_runner_decode(b + 2, 1, &v.runner, NULL), BARE_OK);
}

static void test_frame_limit(void)
{
    uint8_t b[64];
    size_t n = unhex(vectors[0].hex, b);
    size_t saved = bare_max_frame;
    CHECK_EQ_INT(bare_max_frame, 21 * 1024 * 1024);
    bare_max_frame = n - 1;
    expect_fail(TO_SERVER, b, n, BARE_ELIMIT, 0, NULL);
    bare_max_frame = n;
    expect_fail(TO_SERVER, b, n, BARE_OK, 0, NULL);
    bare_max_frame = saved;
}

static void test_varint_and_extremes(void)
{
    /* u64 and i64 extremes survive a round trip through KvListRequest and Pong. */
    rp_to_server_t m, d;
    memset(&m, 0, sizeof m);
    m.tag = RP_TO_SERVER_KV_REQUEST;
    m.val.kv_request.actor_id = slice_cstr("actor");
    m.val.kv_request.request_id = UINT32_MAX;
    m.val.kv_request.data.tag = RP_KV_REQUEST_DATA_LIST_REQUEST;
    rp_kv_list_request_t *lr = &m.val.kv_request.data.val.list_request;
    lr->query.tag = RP_KV_LIST_QUERY_RANGE_QUERY;
    lr->query.val.range_query.start = slice_cstr("a");
    lr->query.val.range_query.end = slice_cstr("z");
    lr->query.val.range_query.exclusive = true;
    lr->has_reverse = true;
    lr->reverse = false;
    lr->has_limit = true;
    lr->limit = UINT64_MAX;
    buf_t out = BUF_INIT;
    rp_to_server_encode(&out, &m);
    CHECK_EQ_INT(rp_to_server_decode(out.data, out.len, &d, NULL), BARE_OK);
    CHECK(d.val.kv_request.data.val.list_request.limit == UINT64_MAX);
    CHECK(d.val.kv_request.request_id == UINT32_MAX);
    CHECK(d.val.kv_request.data.val.list_request.has_reverse &&
          !d.val.kv_request.data.val.list_request.reverse);
    rp_to_server_free(&d);

    buf_reset(&out);
    memset(&m, 0, sizeof m);
    m.tag = RP_TO_SERVER_PONG;
    m.val.pong.ts = INT64_MIN;
    rp_to_server_encode(&out, &m);
    CHECK_MEM(out.data, "\x04\x00\x00\x00\x00\x00\x00\x00\x80", 9);
    CHECK_EQ_INT(rp_to_server_decode(out.data, out.len, &d, NULL), BARE_OK);
    CHECK(d.val.pong.ts == INT64_MIN);
    buf_free(&out);

    /* LEB128 at the edges: 300, 2^64-1 in ten bytes, a tenth byte above 1, an eleventh byte. */
    bare_reader_t r;
    uint64_t x;
    bare_reader_init(&r, (const uint8_t *)"\xac\x02", 2, NULL);
    CHECK(bare_read_uint(&r, &x) == BARE_OK && x == 300);
    bare_reader_init(&r, (const uint8_t *)"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10, NULL);
    CHECK(bare_read_uint(&r, &x) == BARE_OK && x == UINT64_MAX);
    bare_reader_init(&r, (const uint8_t *)"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10, NULL);
    CHECK_EQ_INT(bare_read_uint(&r, &x), BARE_EVARINT);
    bare_reader_init(&r, (const uint8_t *)"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x81\x00", 11, NULL);
    CHECK_EQ_INT(bare_read_uint(&r, &x), BARE_EVARINT);
    bare_reader_init(&r, (const uint8_t *)"\x80\x80", 2, NULL);
    CHECK_EQ_INT(bare_read_uint(&r, &x), BARE_ETRUNC);
    buf_t w = BUF_INIT;
    bare_put_uint(&w, 300);
    bare_put_uint(&w, UINT64_MAX);
    CHECK(w.len == 12 && w.data[0] == 0xac && w.data[1] == 0x02 && w.data[11] == 0x01);
    buf_free(&w);
}

static void test_error_text(void)
{
    uint8_t b[8];
    size_t n = unhex("04 01 00", b);
    bare_err_t err;
    rp_to_server_t v;
    char msg[128];
    CHECK_EQ_INT(rp_to_server_decode(b, n, &v, &err), BARE_ETRUNC);
    bare_err_format(&err, msg, sizeof msg);
    CHECK(strcmp(msg, "offset 1: unexpected end of input (in ToServerPong.ts)") == 0);
}

int main(void)
{
    test_server_init();
    test_client_init();
    test_client_commands();
    test_server_events();
    test_ping_pong();
    test_tunnel();
    test_kv();
    test_bus();
    test_truncation_and_trailing();
    test_rejections();
    test_frame_limit();
    test_varint_and_extremes();
    test_error_text();
    return T_DONE();
}
