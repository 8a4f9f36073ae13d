/* The REST API end to end over real sockets: a net server whose only route is api_handle, an
 * engine over the memory store on the same loop in a thread, and a blocking HTTP client that
 * checks Rivet's shapes and errors route by route. */
#include "free_port.h"
#include "t.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "api/api.h"
#include "bus/bus.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/log.h"
#include "engine/engine.h"
#include "engine/engine_runner.h"
#include "net/server.h"
#include "net/url.h"
#include "store/store_memory.h"

static uv_loop_t loop;
static net_server_t *srv;
static eng_t *eng;
static store_t *store;
static bus_t *bus;
static int port;

/* ---- Running code on the loop thread ---- */

static uv_async_t call_async;
static uv_sem_t call_done;
static void (*call_fn)(void);

static void on_call(uv_async_t *a)
{
    call_fn();
    uv_sem_post(&call_done);
}

/* Runs fn on the loop thread and waits for it, so the test can touch the engine safely. */
static void run_on_loop(void (*fn)(void))
{
    call_fn = fn;
    uv_async_send(&call_async);
    uv_sem_wait(&call_done);
}

static void on_request(net_conn_t *c, hreq *req, void *ud)
{
    url_parts u;
    url_split((const char *)req->url.p, req->url.len, &u);
    if (!api_handle(eng, c, req, &u)) {
        static const char nf[] = "not an api path";
        net_http_respond(c, 404, "text/plain", NULL, nf, sizeof nf - 1);
    }
}

static void *server_thread(void *arg)
{
    uv_run(&loop, UV_RUN_DEFAULT);
    return NULL;
}

/* ---- A blocking HTTP client ---- */

static buf_t head;                     /* the last response's status line and headers */
static const char *extra_headers = ""; /* raw header lines added to every request */

/* Sends one request with Connection: close and reads the answer to EOF. Returns the status and
 * leaves the body, NUL-terminated, in out. */
static int http(const char *method, const char *target, const char *body, buf_t *out)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = { 5, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    buf_t req = BUF_INIT;
    buf_printf(&req, "%s %s HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n%s", method, target,
               extra_headers);
    if (body)
        buf_printf(&req, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                   strlen(body), body);
    else
        buf_append_str(&req, "\r\n");
    send(fd, req.data, req.len, MSG_NOSIGNAL);
    buf_free(&req);
    buf_t resp = BUF_INIT;
    for (;;) {
        uint8_t *p = buf_reserve(&resp, 65536);
        ssize_t r = recv(fd, p, 65536, 0);
        if (r <= 0)
            break;
        resp.len += (size_t)r;
    }
    close(fd);
    buf_reset(out);
    buf_reset(&head);
    int status = -1;
    char *s = resp.len ? memmem(resp.data, resp.len, "\r\n\r\n", 4) : NULL;
    if (s) {
        size_t hl = (size_t)(s - (char *)resp.data);
        buf_append(&head, resp.data, hl);
        buf_append(out, s + 4, resp.len - hl - 4);
        sscanf((const char *)resp.data, "HTTP/1.1 %d", &status);
    }
    buf_push(out, 0);
    out->len--;
    buf_push(&head, 0);
    head.len--;
    buf_free(&resp);
    return status;
}

static bool head_has(const char *line)
{
    return head.data && strstr((const char *)head.data, line) != NULL;
}

/* ---- JSON helpers ---- */

static json_doc doc;

static const json_value *parse(const buf_t *b)
{
    json_doc_free(&doc);
    if (json_parse((const char *)b->data, b->len, &doc, NULL) != JSON_OK) {
        fprintf(stderr, "not JSON: %s\n", b->data ? (const char *)b->data : "");
        return NULL;
    }
    return json_doc_root(&doc);
}

/* Follows a dotted path of member names and array indices ("actors.0.name"). */
static const json_value *jget(const json_value *v, const char *path)
{
    char part[64];
    while (v && *path) {
        size_t n = strcspn(path, ".");
        snprintf(part, sizeof part, "%.*s", (int)n, path);
        if (json_is_array(v))
            v = json_arr_at(v, (size_t)atoi(part));
        else
            v = json_obj_get(v, part);
        path += n + (path[n] == '.');
    }
    return v;
}

static const char *jstr(const json_value *v, const char *path)
{
    const char *s = NULL;
    json_get_str(jget(v, path), &s, NULL);
    return s ? s : "";
}

static int64_t jint(const json_value *v, const char *path)
{
    int64_t i = -1;
    json_get_int64(jget(v, path), &i);
    return i;
}

static bool jstreq(const json_value *v, const char *path, const char *want)
{
    bool ok = strcmp(jstr(v, path), want) == 0;
    if (!ok)
        fprintf(stderr, "%s: got \"%s\", want \"%s\"\n", path, jstr(v, path), want);
    return ok;
}

/* The member names of an object, comma-joined in order. */
static const char *jkeys(const json_value *v)
{
    static char out[512];
    out[0] = '\0';
    for (size_t i = 0; i < json_len(v); i++) {
        const json_member *m = json_obj_at(v, i);
        if (!m)
            break;
        strncat(out, m->key, sizeof out - strlen(out) - 2);
        if (i + 1 < json_len(v))
            strcat(out, ",");
    }
    return out;
}

#define CHECK_BODY(b, want)                                                              \
    do {                                                                                 \
        if (strcmp((const char *)(b).data, (want)) == 0) {                               \
            t_pass++;                                                                    \
        } else {                                                                         \
            t_fail++;                                                                    \
            fprintf(stderr, "%s:%d: body\n  got:  %s\n  want: %s\n", __FILE__, __LINE__, \
                    (const char *)(b).data, (want));                                     \
        }                                                                                \
    } while (0)

static const char actor_keys[] =
    "actor_id,name,key,namespace_id,datacenter,runner_name_selector,crash_policy,create_ts,"
    "start_ts,pending_allocation_ts,connectable_ts,sleep_ts,reschedule_ts,destroy_ts";
static const char runner_keys[] =
    "runner_id,namespace_id,datacenter,name,key,version,total_slots,remaining_slots,create_ts,"
    "drain_ts,stop_ts,last_ping_ts,last_connected_ts,last_rtt,metadata";

static char default_ns_id[64], team_ns_id[64];

/* ---- Metadata and datacenters ---- */

static void test_metadata(void)
{
    buf_t b = BUF_INIT;
    CHECK_EQ_INT(http("GET", "/metadata", NULL, &b), 200);
    CHECK(head_has("application/json"));
    const json_value *v = parse(&b);
    CHECK(jstreq(v, "runtime", "engine"));
    CHECK(*jstr(v, "version") != '\0');
    CHECK(json_is_string(jget(v, "cargo_profile")));
    CHECK_EQ_INT(http("POST", "/metadata", "{}", &b), 405);
    CHECK(head_has("Allow: GET"));
    CHECK_EQ_INT(http("GET", "/metadata/x", NULL, &b), 404);
    CHECK_BODY(b,
               "{\"group\":\"api\",\"code\":\"not_found\",\"message\":\"The requested resource "
               "was not found\"}");

    CHECK_EQ_INT(http("GET", "/datacenters", NULL, &b), 200);
    CHECK_BODY(b,
               "{\"datacenters\":[{\"label\":1,\"name\":\"default\",\"url\":\"http://api.test\"}],"
               "\"pagination\":{\"cursor\":null}}");

    /* Paths outside the API are left to the caller. */
    CHECK_EQ_INT(http("GET", "/elsewhere", NULL, &b), 404);
    CHECK_BODY(b, "not an api path");
    CHECK_EQ_INT(http("GET", "/", NULL, &b), 404);
    CHECK_BODY(b, "not an api path");
    buf_free(&b);
}

/* ---- Namespaces ---- */

static void test_namespaces(void)
{
    buf_t b = BUF_INIT;
    CHECK_EQ_INT(http("GET", "/namespaces", NULL, &b), 200);
    const json_value *v = parse(&b);
    CHECK_EQ_INT(json_len(jget(v, "namespaces")), 1);
    CHECK(jstreq(v, "namespaces.0.name", "default"));
    CHECK(!strcmp(jkeys(jget(v, "namespaces.0")), "namespace_id,name,display_name,create_ts"));
    snprintf(default_ns_id, sizeof default_ns_id, "%s", jstr(v, "namespaces.0.namespace_id"));
    CHECK_EQ_INT(strlen(default_ns_id), 30);
    CHECK(json_is_string(jget(v, "pagination.cursor")));

    CHECK_EQ_INT(http("POST", "/namespaces", "{\"name\":\"team-a\",\"display_name\":\"Team A\"}",
                      &b),
                 200);
    v = parse(&b);
    CHECK(jstreq(v, "namespace.name", "team-a"));
    CHECK(jstreq(v, "namespace.display_name", "Team A"));
    CHECK(jint(v, "namespace.create_ts") > 0);
    snprintf(team_ns_id, sizeof team_ns_id, "%s", jstr(v, "namespace.namespace_id"));
    CHECK_EQ_INT(strlen(team_ns_id), 30);

    CHECK_EQ_INT(http("POST", "/namespaces", "{\"name\":\"team-a\",\"display_name\":\"Again\"}",
                      &b),
                 409);
    CHECK_BODY(b,
               "{\"group\":\"namespace\",\"code\":\"name_not_unique\",\"message\":\"Namespace "
               "name must be unique.\"}");
    CHECK_EQ_INT(http("POST", "/namespaces", "{\"name\":\"Team_B\",\"display_name\":\"B\"}", &b),
                 400);
    CHECK_BODY(b,
               "{\"group\":\"namespace\",\"code\":\"failed_to_create\",\"message\":\"Failed to "
               "create namespace: invalid name\",\"metadata\":{\"reason\":\"invalid name\"}}");
    CHECK_EQ_INT(http("POST", "/namespaces", "{\"name\":\"a--b\",\"display_name\":\"B\"}", &b),
                 400);
    CHECK_EQ_INT(http("POST", "/namespaces", "{\"name\":\"b\",\"display_name\":\" B\"}", &b), 400);
    CHECK(jstreq(parse(&b), "metadata.reason", "invalid display name"));
    CHECK_EQ_INT(http("POST", "/namespaces", "{\"name\":\"b\"}", &b), 400);
    CHECK_BODY(b,
               "{\"group\":\"api\",\"code\":\"bad_request\",\"message\":\"Request is invalid: "
               "Failed to deserialize the JSON body into the target type: missing field "
               "`display_name`\",\"metadata\":{\"reason\":\"Failed to deserialize the JSON "
               "body into the target type: missing field `display_name`\"}}");
    CHECK_EQ_INT(http("PATCH", "/namespaces", "{}", &b), 405);
    CHECK(head_has("Allow: GET, POST"));

    CHECK_EQ_INT(http("GET", "/namespaces?name=team-a", NULL, &b), 200);
    v = parse(&b);
    CHECK_EQ_INT(json_len(jget(v, "namespaces")), 1);
    CHECK(json_is_null(jget(v, "pagination.cursor")));
    CHECK_EQ_INT(http("GET", "/namespaces?name=nope", NULL, &b), 200);
    CHECK_BODY(b, "{\"namespaces\":[],\"pagination\":{\"cursor\":null}}");
    char path[300];
    snprintf(path, sizeof path, "/namespaces?namespace_ids=%s,%s&limit=5", team_ns_id,
             default_ns_id);
    CHECK_EQ_INT(http("GET", path, NULL, &b), 200);
    CHECK_EQ_INT(json_len(jget(parse(&b), "namespaces")), 2);
    CHECK_EQ_INT(http("GET", "/namespaces?limit=1", NULL, &b), 200);
    CHECK_EQ_INT(json_len(jget(parse(&b), "namespaces")), 1);
    CHECK_EQ_INT(http("GET", "/namespaces?colour=red", NULL, &b), 400);
    CHECK(strstr((const char *)b.data, "unknown field `colour`") != NULL);

    snprintf(path, sizeof path, "/namespaces/%s", team_ns_id);
    CHECK_EQ_INT(http("GET", path, NULL, &b), 200);
    CHECK(jstreq(parse(&b), "namespace.name", "team-a"));
    CHECK_EQ_INT(http("GET", "/namespaces/nope", NULL, &b), 404);
    CHECK_BODY(b,
               "{\"group\":\"namespace\",\"code\":\"not_found\",\"message\":\"The namespace "
               "does not exist.\"}");
    buf_free(&b);
}

/* ---- Actors ---- */

static char counter_id[64], multi_ids[3][64];

static const char *create_body(const char *name, const char *key, const char *policy)
{
    static char body[4096];
    if (key)
        snprintf(body, sizeof body,
                 "{\"name\":\"%s\",\"key\":\"%s\",\"runner_name_selector\":"
                 "\"pool\",\"crash_policy\":\"%s\"}",
                 name, key, policy);
    else
        snprintf(body, sizeof body,
                 "{\"name\":\"%s\",\"runner_name_selector\":\"pool\","
                 "\"crash_policy\":\"%s\"}",
                 name, policy);
    return body;
}

static void check_input(void)
{
    eng_actor_t *a = eng_actor_get(eng, counter_id);
    CHECK(a && a->has_input && a->input_len == 3 && memcmp(a->input, "\x00\x01\x02", 3) == 0);
}

static void test_create(void)
{
    buf_t b = BUF_INIT;
    CHECK_EQ_INT(
        http("POST", "/actors?namespace=default",
             "{\"name\":\"counter\",\"key\":\"k1\",\"input\":\"AAEC\",\"runner_name_selector\":"
             "\"pool\",\"crash_policy\":\"restart\",\"datacenter\":\"default\"}",
             &b),
        200);
    CHECK(head_has("application/json"));
    const json_value *v = parse(&b);
    const json_value *a = jget(v, "actor");
    CHECK(!strcmp(jkeys(v), "actor"));
    CHECK(!strcmp(jkeys(a), actor_keys));
    snprintf(counter_id, sizeof counter_id, "%s", jstr(a, "actor_id"));
    CHECK_EQ_INT(strlen(counter_id), 30);
    CHECK(jstreq(a, "name", "counter"));
    CHECK(jstreq(a, "key", "k1"));
    CHECK(jstreq(a, "namespace_id", default_ns_id));
    CHECK(jstreq(a, "datacenter", "default"));
    CHECK(jstreq(a, "runner_name_selector", "pool"));
    CHECK(jstreq(a, "crash_policy", "restart"));
    CHECK(jint(a, "create_ts") > 1600000000000LL);
    /* No runner: the actor waits for one. */
    CHECK(jint(a, "pending_allocation_ts") >= jint(a, "create_ts"));
    CHECK(json_is_null(jget(a, "start_ts")));
    CHECK(json_is_null(jget(a, "connectable_ts")));
    CHECK(json_is_null(jget(a, "sleep_ts")));
    CHECK(json_is_null(jget(a, "reschedule_ts")));
    CHECK(json_is_null(jget(a, "destroy_ts")));
    run_on_loop(check_input);

    /* The same key again is a conflict that names the holder. */
    CHECK_EQ_INT(http("POST", "/actors?namespace=default", create_body("counter", "k1", "sleep"),
                      &b),
                 409);
    char want[512];
    snprintf(want, sizeof want,
             "{\"group\":\"actor\",\"code\":\"duplicate_key\",\"message\":\"Actor key 'k1' already "
             "in use for actor '%s'\",\"metadata\":{\"key\":\"k1\",\"existing_actor_id\":\"%s\"}}",
             counter_id, counter_id);
    CHECK_BODY(b, want);
    /* The same key in another namespace, or under another name, is free. */
    CHECK_EQ_INT(http("POST", "/actors?namespace=team-a", create_body("counter", "k1", "sleep"),
                      &b),
                 200);
    CHECK(jstreq(parse(&b), "actor.namespace_id", team_ns_id));
    CHECK(jstreq(parse(&b), "actor.crash_policy", "sleep"));
    CHECK_EQ_INT(http("POST", "/actors", create_body("other", "k1", "destroy"), &b), 200);
    CHECK(jstreq(parse(&b), "actor.crash_policy", "destroy"));

    /* Keyless actors, a few milliseconds apart so that the list order is the creation order. */
    for (int i = 0; i < 3; i++) {
        usleep(3000);
        CHECK_EQ_INT(
            http("POST", "/actors?namespace=default",
                 "{\"name\":\"multi\",\"key\":null,\"input\":null,\"runner_name_selector\":"
                 "\"pool\",\"crash_policy\":\"restart\",\"datacenter\":null}",
                 &b),
            200);
        v = parse(&b);
        CHECK(json_is_null(jget(v, "actor.key")));
        snprintf(multi_ids[i], sizeof multi_ids[i], "%s", jstr(v, "actor.actor_id"));
    }
    buf_free(&b);
}

static void test_create_errors(void)
{
    buf_t b = BUF_INIT;
    CHECK_EQ_INT(http("POST", "/actors?namespace=default", "{", &b), 400);
    const json_value *v = parse(&b);
    CHECK(jstreq(v, "group", "api"));
    CHECK(jstreq(v, "code", "bad_request"));
    CHECK(!strncmp(jstr(v, "message"),
                   "Request is invalid: Failed to parse the request body as JSON: ", 62));
    CHECK_EQ_INT(http("POST", "/actors?namespace=default", "", &b), 400);
    CHECK_EQ_INT(http("POST", "/actors?namespace=default", "[]", &b), 400);
    CHECK(jstreq(
        parse(&b), "metadata.reason",
        "Failed to deserialize the JSON body into the target type: invalid type, expected a map"));

    CHECK_EQ_INT(http("POST", "/actors?namespace=default",
                      "{\"name\":\"x\",\"runner_name_selector\":\"r\",\"crash_policy\":\"restart\","
                      "\"colour\":\"blue\"}",
                      &b),
                 400);
    CHECK_BODY(b,
               "{\"group\":\"api\",\"code\":\"bad_request\",\"message\":\"Request is invalid: "
               "Failed to deserialize the JSON body into the target type: unknown field "
               "`colour`, expected one of `datacenter`, `name`, `key`, `input`, "
               "`runner_name_selector`, `crash_policy`\",\"metadata\":{\"reason\":\"Failed to "
               "deserialize the JSON body into the target type: unknown field `colour`, "
               "expected one of `datacenter`, `name`, `key`, `input`, `runner_name_selector`, "
               "`crash_policy`\"}}");
    CHECK_EQ_INT(http("POST", "/actors?namespace=default",
                      "{\"runner_name_selector\":\"r\",\"crash_policy\":\"restart\"}", &b),
                 400);
    CHECK(jstreq(parse(&b), "metadata.reason",
                 "Failed to deserialize the JSON body into the target type: missing field `name`"));
    CHECK_EQ_INT(http("POST", "/actors?namespace=default",
                      "{\"name\":1,\"runner_name_selector\":\"r\",\"crash_policy\":\"restart\"}",
                      &b),
                 400);
    CHECK(jstreq(parse(&b), "metadata.reason",
                 "Failed to deserialize the JSON body into the target type: name: invalid type, "
                 "expected a string"));
    CHECK_EQ_INT(http("POST", "/actors?namespace=default",
                      "{\"name\":null,\"runner_name_selector\":\"r\",\"crash_policy\":\"restart\"}",
                      &b),
                 400);
    CHECK_EQ_INT(
        http("POST", "/actors?namespace=default",
             "{\"name\":\"x\",\"runner_name_selector\":\"r\",\"crash_policy\":\"sometimes\"}", &b),
        400);
    CHECK_BODY(b,
               "{\"group\":\"api\",\"code\":\"bad_request\",\"message\":\"Request is invalid: "
               "Failed to deserialize the JSON body into the target type: crash_policy: "
               "unknown variant `sometimes`, expected one of `restart`, `sleep`, `destroy`\","
               "\"metadata\":{\"reason\":\"Failed to deserialize the JSON body into the target "
               "type: crash_policy: unknown variant `sometimes`, expected one of `restart`, "
               "`sleep`, `destroy`\"}}");
    CHECK_EQ_INT(http("POST", "/actors?namespace=default",
                      "{\"name\":\"x\",\"input\":\"AAE\",\"runner_name_selector\":\"r\","
                      "\"crash_policy\":\"restart\"}",
                      &b),
                 400);
    CHECK(jstreq(parse(&b), "message", "Request is invalid: input: not canonical padded base64"));
    CHECK_EQ_INT(http("POST", "/actors?namespace=default",
                      "{\"name\":\"x\\u0000y\",\"runner_name_selector\":\"r\","
                      "\"crash_policy\":\"restart\"}",
                      &b),
                 400);
    CHECK(jstreq(parse(&b), "code", "bad_request"));

    CHECK_EQ_INT(http("POST", "/actors?namespace=default", create_body("x", "", "restart"), &b),
                 400);
    CHECK_BODY(b,
               "{\"group\":\"actor\",\"code\":\"empty_key\",\"message\":\"Key label cannot be "
               "empty.\"}");
    char big[1200], body[1400];
    memset(big, 'k', 1025);
    big[1025] = '\0';
    CHECK_EQ_INT(http("POST", "/actors?namespace=default", create_body("x", big, "restart"), &b),
                 400);
    v = parse(&b);
    CHECK(jstreq(v, "code", "key_too_large"));
    CHECK_EQ_INT(jint(v, "metadata.max_size"), 1024);
    CHECK_EQ_INT(strlen(jstr(v, "metadata.key_preview")), 1024);
    snprintf(body, sizeof body,
             "{\"name\":\"x\",\"datacenter\":\"mars\",\"runner_name_selector\":"
             "\"r\",\"crash_policy\":\"restart\"}");
    CHECK_EQ_INT(http("POST", "/actors?namespace=default", body, &b), 400);
    CHECK_BODY(b,
               "{\"group\":\"datacenter\",\"code\":\"not_found\",\"message\":\"The provided "
               "datacenter does not exist.\"}");
    CHECK_EQ_INT(http("POST", "/actors?namespace=default", create_body("", NULL, "restart"), &b),
                 400);
    CHECK(jstreq(parse(&b), "group", "actor"));

    CHECK_EQ_INT(http("POST", "/actors?namespace=nope", create_body("x", NULL, "restart"), &b),
                 404);
    CHECK_BODY(b,
               "{\"group\":\"namespace\",\"code\":\"not_found\",\"message\":\"The namespace "
               "does not exist.\"}");
    CHECK_EQ_INT(http("POST", "/actors?namespace=default&x=1", create_body("x", NULL, "restart"),
                      &b),
                 400);
    CHECK(jstreq(parse(&b), "metadata.reason",
                 "Failed to deserialize query string: unknown field "
                 "`x`, expected one of `namespace`"));
    CHECK_EQ_INT(http("POST", "/actors?namespace=default&namespace=team-a",
                      create_body("x", NULL, "restart"), &b),
                 400);
    CHECK(jstreq(parse(&b), "metadata.reason",
                 "Failed to deserialize query string: duplicate field `namespace`"));
    CHECK_EQ_INT(http("POST", "/actors?namespace=%zz", create_body("x", NULL, "restart"), &b), 400);
    CHECK_EQ_INT(http("PATCH", "/actors", "{}", &b), 405);
    CHECK(head_has("Allow: GET, POST, PUT"));
    CHECK(jstreq(parse(&b), "code", "method_not_allowed"));
    buf_free(&b);
}

static void test_get_or_create(void)
{
    buf_t b = BUF_INIT;
    CHECK_EQ_INT(http("PUT", "/actors?namespace=default", create_body("room", "blue", "sleep"), &b),
                 200);
    const json_value *v = parse(&b);
    CHECK(!strcmp(jkeys(v), "actor,created"));
    CHECK(json_is_bool(jget(v, "created")) && jget(v, "created")->boolean);
    char id[64];
    snprintf(id, sizeof id, "%s", jstr(v, "actor.actor_id"));
    CHECK_EQ_INT(http("PUT", "/actors?namespace=default", create_body("room", "blue", "restart"),
                      &b),
                 200);
    v = parse(&b);
    CHECK(!jget(v, "created")->boolean);
    CHECK(jstreq(v, "actor.actor_id", id));
    CHECK(jstreq(v, "actor.crash_policy", "sleep"));
    /* It finds actors made by POST too. */
    CHECK_EQ_INT(http("PUT", "/actors", create_body("counter", "k1", "restart"), &b), 200);
    v = parse(&b);
    CHECK(!jget(v, "created")->boolean);
    CHECK(jstreq(v, "actor.actor_id", counter_id));
    /* The key is required here. */
    CHECK_EQ_INT(http("PUT", "/actors?namespace=default", create_body("room", NULL, "restart"), &b),
                 400);
    CHECK(jstreq(parse(&b), "metadata.reason",
                 "Failed to deserialize the JSON body into the target type: missing field `key`"));
    CHECK_EQ_INT(
        http("PUT", "/actors?namespace=default",
             "{\"name\":\"room\",\"key\":null,\"runner_name_selector\":\"p\",\"crash_policy\":"
             "\"sleep\"}",
             &b),
        400);
    CHECK_EQ_INT(http("PUT", "/actors?namespace=nope", create_body("room", "blue", "sleep"), &b),
                 404);
    buf_free(&b);
}

static void test_get(void)
{
    buf_t b = BUF_INIT;
    char path[160];
    snprintf(path, sizeof path, "/actors/%s", counter_id);
    CHECK_EQ_INT(http("GET", path, NULL, &b), 200);
    const json_value *v = parse(&b);
    CHECK(!strcmp(jkeys(v), "actor"));
    CHECK(jstreq(v, "actor.actor_id", counter_id));
    CHECK(!strcmp(jkeys(jget(v, "actor")), actor_keys));
    snprintf(path, sizeof path, "/actors/%s?namespace=default", counter_id);
    CHECK_EQ_INT(http("GET", path, NULL, &b), 200);
    snprintf(path, sizeof path, "/actors/%s/", counter_id);
    CHECK_EQ_INT(http("GET", path, NULL, &b), 200);
    snprintf(path, sizeof path, "/actors/%s?namespace=team-a", counter_id);
    CHECK_EQ_INT(http("GET", path, NULL, &b), 404);
    CHECK_BODY(b,
               "{\"group\":\"actor\",\"code\":\"not_found\",\"message\":\"The actor does not "
               "exist or was destroyed.\"}");
    snprintf(path, sizeof path, "/actors/%s?namespace=nope", counter_id);
    CHECK_EQ_INT(http("GET", path, NULL, &b), 404);
    CHECK(jstreq(parse(&b), "group", "namespace"));
    CHECK_EQ_INT(http("GET", "/actors/nope", NULL, &b), 404);
    CHECK_BODY(b,
               "{\"group\":\"actor\",\"code\":\"not_found\",\"message\":\"The actor does not "
               "exist or was destroyed.\"}");
    CHECK_EQ_INT(http("GET", "/actors/%zz", NULL, &b), 400);
    CHECK(jstreq(parse(&b), "code", "bad_request"));
    CHECK_EQ_INT(http("GET", "/actors/a/b", NULL, &b), 404);
    CHECK(jstreq(parse(&b), "code", "not_found"));
    CHECK(jstreq(parse(&b), "group", "api"));
    CHECK_EQ_INT(http("PUT", path, "{}", &b), 405);
    CHECK(head_has("Allow: GET, DELETE"));
    buf_free(&b);
}

static void put_kv(void)
{
    static const uint8_t k1[] = "color", v1[] = "blue", k2[] = { 0xff, 0xfe }, v2[] = { 0, 1, 2 };
    slice_t keys[] = { { k1, 5 }, { k2, 2 } }, vals[] = { { v1, 4 }, { v2, 3 } };
    store_kv_put(store, counter_id, keys, 2, vals, 2, NULL, NULL);
}

static void test_kv_get(void)
{
    buf_t b = BUF_INIT;
    char path[200];
    run_on_loop(put_kv);
    snprintf(path, sizeof path, "/actors/%s/kv/keys/Y29sb3I=?namespace=default", counter_id);
    CHECK_EQ_INT(http("GET", path, NULL, &b), 200);
    const json_value *v = parse(&b);
    CHECK(!strcmp(jkeys(v), "value,update_ts"));
    CHECK(jstreq(v, "value", "Ymx1ZQ=="));
    CHECK(jint(v, "update_ts") > 1700000000000);
    /* Standard base64 carries '/', sent as %2F. */
    snprintf(path, sizeof path, "/actors/%s/kv/keys/%%2F%%2F4%%3D", counter_id);
    CHECK_EQ_INT(http("GET", path, NULL, &b), 200);
    CHECK(jstreq(parse(&b), "value", "AAEC"));
    snprintf(path, sizeof path, "/actors/%s/kv/keys/bm9wZQ==", counter_id);
    CHECK_EQ_INT(http("GET", path, NULL, &b), 404);
    CHECK(jstreq(parse(&b), "code", "kv_key_not_found"));
    snprintf(path, sizeof path, "/actors/%s/kv/keys/not*base64", counter_id);
    CHECK_EQ_INT(http("GET", path, NULL, &b), 400);
    CHECK(jstreq(parse(&b), "code", "bad_request"));
    CHECK_EQ_INT(http("GET", "/actors/nope/kv/keys/Y29sb3I=", NULL, &b), 404);
    CHECK(jstreq(parse(&b), "code", "not_found"));
    snprintf(path, sizeof path, "/actors/%s/kv/keys/Y29sb3I=?namespace=team-a", counter_id);
    CHECK_EQ_INT(http("GET", path, NULL, &b), 404);
    snprintf(path, sizeof path, "/actors/%s/kv/keys/Y29sb3I=", counter_id);
    CHECK_EQ_INT(http("DELETE", path, NULL, &b), 405);
    CHECK(head_has("Allow: GET"));
    buf_free(&b);
}

static void set_token(void)
{
    api_set_token("s3cret");
}

static void clear_token(void)
{
    api_set_token(NULL);
}

static void test_token(void)
{
    buf_t b = BUF_INIT;
    run_on_loop(set_token);
    CHECK_EQ_INT(http("GET", "/metadata", NULL, &b), 401);
    CHECK(head_has("WWW-Authenticate: Bearer"));
    CHECK_BODY(
        b, "{\"group\":\"api\",\"code\":\"unauthorized\",\"message\":\"Authentication required\"}");
    /* A CORS preflight needs no token (a browser sends none with it): 200, no body, on every
     * API path, a path the API does not know included. */
    extra_headers = "Origin: https://app.example\r\nAccess-Control-Request-Method: POST\r\n";
    CHECK_EQ_INT(http("OPTIONS", "/actors", NULL, &b), 200);
    CHECK_BODY(b, "");
    CHECK(head_has("\r\nContent-Length: 0"));
    CHECK_EQ_INT(http("OPTIONS", "/namespaces/x/y/z", NULL, &b), 200);
    CHECK_EQ_INT(http("OPTIONS", "/metadata", NULL, &b), 200);
    /* Any other method still needs it. */
    CHECK_EQ_INT(http("DELETE", "/actors/x", NULL, &b), 401);
    extra_headers = "Authorization: Bearer s3cre\r\n";
    CHECK_EQ_INT(http("GET", "/actors/names", NULL, &b), 403);
    CHECK(jstreq(parse(&b), "code", "forbidden"));
    extra_headers = "Authorization: Bearer s3cret!\r\n";
    CHECK_EQ_INT(http("GET", "/metadata", NULL, &b), 403);
    extra_headers = "Authorization: Basic czNjcmV0\r\n";
    CHECK_EQ_INT(http("GET", "/metadata", NULL, &b), 401);
    extra_headers = "Authorization: bearer s3cret\r\n";
    CHECK_EQ_INT(http("GET", "/metadata", NULL, &b), 200);
    extra_headers = "Authorization: Bearer s3cret\r\n";
    CHECK_EQ_INT(http("GET", "/actors/names", NULL, &b), 200);
    extra_headers = "";
    /* Paths that are not the API's are left alone. */
    CHECK_EQ_INT(http("GET", "/elsewhere", NULL, &b), 404);
    run_on_loop(clear_token);
    CHECK_EQ_INT(http("GET", "/metadata", NULL, &b), 200);
    buf_free(&b);
}

static void test_list(void)
{
    buf_t b = BUF_INIT;
    char path[1024];
    CHECK_EQ_INT(http("GET", "/actors?namespace=default&name=multi", NULL, &b), 200);
    const json_value *v = parse(&b);
    CHECK(!strcmp(jkeys(v), "actors,pagination"));
    CHECK_EQ_INT(json_len(jget(v, "actors")), 3);
    /* Newest first. */
    CHECK(jstreq(v, "actors.0.actor_id", multi_ids[2]));
    CHECK(jstreq(v, "actors.1.actor_id", multi_ids[1]));
    CHECK(jstreq(v, "actors.2.actor_id", multi_ids[0]));
    char ts[32];
    snprintf(ts, sizeof ts, "%lld", (long long)jint(v, "actors.2.create_ts"));
    CHECK(jstreq(v, "pagination.cursor", ts));

    /* Pages: two, then what is older than the cursor. */
    CHECK_EQ_INT(http("GET", "/actors?namespace=default&name=multi&limit=2", NULL, &b), 200);
    v = parse(&b);
    CHECK_EQ_INT(json_len(jget(v, "actors")), 2);
    snprintf(ts, sizeof ts, "%lld", (long long)jint(v, "actors.1.create_ts"));
    CHECK(jstreq(v, "pagination.cursor", ts));
    snprintf(path, sizeof path, "/actors?namespace=default&name=multi&limit=2&cursor=%s", ts);
    CHECK_EQ_INT(http("GET", path, NULL, &b), 200);
    v = parse(&b);
    CHECK_EQ_INT(json_len(jget(v, "actors")), 1);
    CHECK(jstreq(v, "actors.0.actor_id", multi_ids[0]));
    snprintf(ts, sizeof ts, "%lld", (long long)jint(v, "actors.0.create_ts"));
    snprintf(path, sizeof path, "/actors?namespace=default&name=multi&cursor=%s", ts);
    CHECK_EQ_INT(http("GET", path, NULL, &b), 200);
    CHECK_BODY(b, "{\"actors\":[],\"pagination\":{\"cursor\":null}}");

    /* By name and key: the live holder. */
    CHECK_EQ_INT(http("GET", "/actors?namespace=default&name=counter&key=k1", NULL, &b), 200);
    v = parse(&b);
    CHECK_EQ_INT(json_len(jget(v, "actors")), 1);
    CHECK(jstreq(v, "actors.0.actor_id", counter_id));
    CHECK_EQ_INT(http("GET", "/actors?namespace=default&name=counter&key=k2", NULL, &b), 200);
    CHECK_BODY(b, "{\"actors\":[],\"pagination\":{\"cursor\":null}}");
    CHECK_EQ_INT(http("GET", "/actors?namespace=team-a&name=multi", NULL, &b), 200);
    CHECK_BODY(b, "{\"actors\":[],\"pagination\":{\"cursor\":null}}");
    /* namespace defaults to "default". */
    CHECK_EQ_INT(http("GET", "/actors/?name=counter", NULL, &b), 200);
    CHECK_EQ_INT(json_len(jget(parse(&b), "actors")), 1);

    /* By ids, comma-separated or repeated, each once, other namespaces' left out. */
    snprintf(path, sizeof path, "/actors?namespace=default&actor_ids=%s,%%20%s,%s", multi_ids[0],
             counter_id, multi_ids[0]);
    CHECK_EQ_INT(http("GET", path, NULL, &b), 200);
    v = parse(&b);
    CHECK_EQ_INT(json_len(jget(v, "actors")), 2);
    CHECK(jstreq(v, "actors.0.actor_id", multi_ids[0]));
    snprintf(path, sizeof path, "/actors?actor_id=%s&actor_id=%s&namespace=default", multi_ids[1],
             multi_ids[2]);
    CHECK_EQ_INT(http("GET", path, NULL, &b), 200);
    CHECK_EQ_INT(json_len(jget(parse(&b), "actors")), 2);
    snprintf(path, sizeof path, "/actors?namespace=team-a&actor_ids=%s", counter_id);
    CHECK_EQ_INT(http("GET", path, NULL, &b), 200);
    CHECK_EQ_INT(json_len(jget(parse(&b), "actors")), 0);
    CHECK_EQ_INT(http("GET", "/actors?namespace=default&actor_ids=zzzzzz", NULL, &b), 200);
    CHECK_BODY(b, "{\"actors\":[],\"pagination\":{\"cursor\":null}}");

    /* Errors. */
    CHECK_EQ_INT(http("GET", "/actors?namespace=default&key=k1", NULL, &b), 400);
    CHECK_BODY(b,
               "{\"group\":\"validation\",\"code\":\"invalid_input\",\"message\":\"Name is "
               "required when key is provided.\",\"metadata\":{\"message\":\"Name is required "
               "when key is provided.\"}}");
    CHECK_EQ_INT(http("GET", "/actors?namespace=default", NULL, &b), 400);
    CHECK(jstreq(parse(&b), "message", "Name is required when not using actor_ids."));
    snprintf(path, sizeof path, "/actors?namespace=default&name=x&actor_ids=%s", counter_id);
    CHECK_EQ_INT(http("GET", path, NULL, &b), 400);
    CHECK(jstreq(parse(&b), "code", "invalid_input"));
    size_t n = (size_t)snprintf(path, sizeof path, "/actors?namespace=default&actor_ids=");
    for (int i = 0; i < 33; i++)
        n += (size_t)snprintf(path + n, sizeof path - n, "%sa%d", i ? "," : "", i);
    CHECK_EQ_INT(http("GET", path, NULL, &b), 400);
    CHECK_BODY(
        b,
        "{\"group\":\"validation\",\"code\":\"too_many_actor_ids\",\"message\":\"Too many "
        "actor IDs provided. Maximum is 32, got 33\",\"metadata\":{\"max\":32,\"count\":33}}");
    CHECK_EQ_INT(http("GET", "/actors?namespace=default&actor_ids=ab,CD", NULL, &b), 400);
    CHECK(jstreq(parse(&b), "metadata.reason",
                 "invalid id in `actor_ids` query: invalid base36 character"));
    CHECK_EQ_INT(http("GET", "/actors?namespace=default&actor_ids=ab,,cd", NULL, &b), 400);
    CHECK_EQ_INT(http("GET", "/actors?namespace=default&name=x&include_destroyed=maybe", NULL, &b),
                 400);
    CHECK_EQ_INT(http("GET", "/actors?namespace=default&name=x&limit=-1", NULL, &b), 400);
    CHECK_EQ_INT(http("GET", "/actors?namespace=default&name=x&limit=", NULL, &b), 400);
    CHECK_EQ_INT(http("GET", "/actors?namespace=default&name=x&cursor=12ab", NULL, &b), 400);
    CHECK_EQ_INT(http("GET", "/actors?namespace=default&name=x&name=y", NULL, &b), 400);
    CHECK_EQ_INT(http("GET", "/actors?namespace=default&name=x&pretty", NULL, &b), 400);
    CHECK(strstr((const char *)b.data, "unknown field `pretty`") != NULL);
    CHECK_EQ_INT(http("GET", "/actors?namespace=nope", NULL, &b), 404);
    CHECK(jstreq(parse(&b), "group", "namespace"));

    /* The names in use, sorted, paged by name. */
    CHECK_EQ_INT(http("GET", "/actors/names?namespace=default", NULL, &b), 200);
    CHECK_BODY(b,
               "{\"names\":{\"counter\":{\"metadata\":{}},\"multi\":{\"metadata\":{}},"
               "\"other\":{\"metadata\":{}},\"room\":{\"metadata\":{}}},\"pagination\":"
               "{\"cursor\":\"room\"}}");
    CHECK_EQ_INT(http("GET", "/actors/names?namespace=default&limit=1&cursor=counter", NULL, &b),
                 200);
    CHECK_BODY(b,
               "{\"names\":{\"multi\":{\"metadata\":{}}},\"pagination\":{\"cursor\":\"multi\"}}");
    CHECK_EQ_INT(http("GET", "/actors/names?namespace=team-a&cursor=zzz", NULL, &b), 200);
    CHECK_BODY(b, "{\"names\":{},\"pagination\":{\"cursor\":null}}");
    CHECK_EQ_INT(http("POST", "/actors/names", "{}", &b), 405);
    buf_free(&b);
}

static void test_delete(void)
{
    buf_t b = BUF_INIT;
    char path[200];
    snprintf(path, sizeof path, "/actors/%s?namespace=team-a", counter_id);
    CHECK_EQ_INT(http("DELETE", path, NULL, &b), 404);
    CHECK(jstreq(parse(&b), "group", "actor"));
    snprintf(path, sizeof path, "/actors/%s?namespace=default&x=1", counter_id);
    CHECK_EQ_INT(http("DELETE", path, NULL, &b), 400);
    snprintf(path, sizeof path, "/actors/%s?namespace=default", counter_id);
    CHECK_EQ_INT(http("DELETE", path, NULL, &b), 200);
    CHECK_BODY(b, "{}");
    /* A waiting actor is destroyed at once; it can still be read, with its destroy_ts. */
    CHECK_EQ_INT(http("GET", path, NULL, &b), 200);
    const json_value *v = parse(&b);
    CHECK(jint(v, "actor.destroy_ts") >= jint(v, "actor.create_ts"));
    CHECK(json_is_null(jget(v, "actor.pending_allocation_ts")));
    /* Deleting it again answers {} every time, as Rivet does; its destroy_ts stays. */
    int64_t destroyed_at = jint(v, "actor.destroy_ts");
    CHECK_EQ_INT(http("DELETE", path, NULL, &b), 200);
    CHECK_BODY(b, "{}");
    CHECK_EQ_INT(http("DELETE", path, NULL, &b), 200);
    CHECK_BODY(b, "{}");
    CHECK_EQ_INT(http("GET", path, NULL, &b), 200);
    CHECK(jint(parse(&b), "actor.destroy_ts") == destroyed_at);
    /* An id that never named an actor is not found. */
    CHECK_EQ_INT(http("DELETE", "/actors/nope", NULL, &b), 404);
    CHECK_BODY(b,
               "{\"group\":\"actor\",\"code\":\"not_found\",\"message\":\"The actor does not "
               "exist or was destroyed.\"}");

    /* Lists leave it out unless asked; a lookup by id still finds it. */
    CHECK_EQ_INT(http("GET", "/actors?namespace=default&name=counter&key=k1", NULL, &b), 200);
    CHECK_BODY(b, "{\"actors\":[],\"pagination\":{\"cursor\":null}}");
    CHECK_EQ_INT(http("GET", "/actors?namespace=default&name=counter", NULL, &b), 200);
    CHECK_EQ_INT(json_len(jget(parse(&b), "actors")), 0);
    CHECK_EQ_INT(http("GET", "/actors?namespace=default&name=counter&include_destroyed=true", NULL,
                      &b),
                 200);
    CHECK_EQ_INT(json_len(jget(parse(&b), "actors")), 1);
    CHECK_EQ_INT(http("GET", "/actors?namespace=default&name=counter&key=k1&include_destroyed=true",
                      NULL, &b),
                 200);
    CHECK_EQ_INT(json_len(jget(parse(&b), "actors")), 1);
    snprintf(path, sizeof path, "/actors?namespace=default&actor_ids=%s", counter_id);
    CHECK_EQ_INT(http("GET", path, NULL, &b), 200);
    CHECK(jint(parse(&b), "actors.0.destroy_ts") > 0);

    /* The key is free again. */
    CHECK_EQ_INT(http("PUT", "/actors?namespace=default", create_body("counter", "k1", "restart"),
                      &b),
                 200);
    v = parse(&b);
    CHECK(jget(v, "created")->boolean);
    CHECK(strcmp(jstr(v, "actor.actor_id"), counter_id) != 0);
    buf_free(&b);
}

/* ---- Runners ---- */

static char runner_id[64];

static void connect_runner(void)
{
    static const char md[] = "{\"region\":\"local\",\"n\":1}";
    rp_to_server_init_t init;
    memset(&init, 0, sizeof init);
    init.name = (slice_t){ (const uint8_t *)"pool", 4 };
    init.version = 3;
    init.total_slots = 8;
    init.has_metadata = true;
    init.metadata = (slice_t){ (const uint8_t *)md, sizeof md - 1 };
    bool was = false;
    eng_runner_t *r = eng_runner_connect(eng, eng_ns_get(eng, "default"), "pool", "rk-1", &init,
                                         &was);
    eng_runner_ready(eng, r);
    snprintf(runner_id, sizeof runner_id, "%s", r->runner_id);
}

static void test_runners(void)
{
    buf_t b = BUF_INIT;
    CHECK_EQ_INT(http("GET", "/runners?namespace=default", NULL, &b), 200);
    CHECK_BODY(b, "{\"runners\":[],\"pagination\":{\"cursor\":null}}");
    CHECK_EQ_INT(http("GET", "/runners/names?namespace=default", NULL, &b), 200);
    CHECK_BODY(b, "{\"names\":[],\"pagination\":{\"cursor\":null}}");

    /* A runner arrives and takes the waiting actors of its pool in the default namespace:
     * counter (the new one), other, multi x3 and room. */
    run_on_loop(connect_runner);
    CHECK_EQ_INT(http("GET", "/runners?namespace=default&name=pool", NULL, &b), 200);
    const json_value *v = parse(&b);
    CHECK_EQ_INT(json_len(jget(v, "runners")), 1);
    const json_value *r = jget(v, "runners.0");
    CHECK(!strcmp(jkeys(r), runner_keys));
    CHECK(jstreq(r, "runner_id", runner_id));
    CHECK(jstreq(r, "namespace_id", default_ns_id));
    CHECK(jstreq(r, "datacenter", "default"));
    CHECK(jstreq(r, "name", "pool"));
    CHECK(jstreq(r, "key", "rk-1"));
    CHECK_EQ_INT(jint(r, "version"), 3);
    CHECK_EQ_INT(jint(r, "total_slots"), 8);
    CHECK_EQ_INT(jint(r, "remaining_slots"), 2);
    CHECK(jint(r, "create_ts") > 0);
    CHECK(json_is_null(jget(r, "drain_ts")));
    CHECK(json_is_null(jget(r, "stop_ts")));
    CHECK(json_is_int(jget(r, "last_ping_ts")));
    CHECK(jint(r, "last_connected_ts") > 0);
    CHECK_EQ_INT(jint(r, "last_rtt"), 0);
    CHECK(jstreq(r, "metadata.region", "local"));
    CHECK_EQ_INT(jint(r, "metadata.n"), 1);
    char ts[32];
    snprintf(ts, sizeof ts, "%lld", (long long)jint(r, "create_ts"));
    CHECK(jstreq(v, "pagination.cursor", ts));

    /* Placed actors show it. */
    CHECK_EQ_INT(http("GET", "/actors?namespace=default&name=room&key=blue", NULL, &b), 200);
    CHECK(json_is_null(jget(parse(&b), "actors.0.pending_allocation_ts")));

    char path[160];
    snprintf(path, sizeof path, "/runners?namespace=default&runner_ids=%s", runner_id);
    CHECK_EQ_INT(http("GET", path, NULL, &b), 200);
    v = parse(&b);
    CHECK_EQ_INT(json_len(jget(v, "runners")), 1);
    CHECK(json_is_null(jget(v, "pagination.cursor")));
    snprintf(path, sizeof path, "/runners?namespace=team-a&runner_id=%s", runner_id);
    CHECK_EQ_INT(http("GET", path, NULL, &b), 200);
    CHECK_EQ_INT(json_len(jget(parse(&b), "runners")), 0);
    CHECK_EQ_INT(http("GET", "/runners?namespace=default&name=other", NULL, &b), 200);
    CHECK_BODY(b, "{\"runners\":[],\"pagination\":{\"cursor\":null}}");
    CHECK_EQ_INT(http("GET", "/runners?namespace=default&include_stopped=true&limit=0", NULL, &b),
                 200);
    CHECK_BODY(b, "{\"runners\":[],\"pagination\":{\"cursor\":null}}");
    snprintf(path, sizeof path, "/runners?namespace=default&cursor=%s", ts);
    CHECK_EQ_INT(http("GET", path, NULL, &b), 200);
    CHECK_EQ_INT(json_len(jget(parse(&b), "runners")), 0);
    CHECK_EQ_INT(http("GET", "/runners/names", NULL, &b), 200);
    CHECK_BODY(b, "{\"names\":[\"pool\"],\"pagination\":{\"cursor\":\"pool\"}}");

    CHECK_EQ_INT(http("GET", "/runners?namespace=nope", NULL, &b), 404);
    CHECK(jstreq(parse(&b), "code", "not_found"));
    CHECK_EQ_INT(http("GET", "/runners?namespace=default&include_stopped=1", NULL, &b), 400);
    CHECK_EQ_INT(http("GET", "/runners?namespace=default&runner_ids=-", NULL, &b), 400);
    CHECK_EQ_INT(http("POST", "/runners", "{}", &b), 405);
    CHECK(head_has("Allow: GET"));
    CHECK_EQ_INT(http("GET", "/runners/connect", NULL, &b), 404);
    CHECK(jstreq(parse(&b), "group", "api"));

    /* Deleting a started actor asks its runner to stop it; the answer does not wait. */
    CHECK_EQ_INT(http("GET", "/actors?namespace=default&name=room&key=blue", NULL, &b), 200);
    snprintf(path, sizeof path, "/actors/%s", jstr(parse(&b), "actors.0.actor_id"));
    CHECK_EQ_INT(http("DELETE", path, NULL, &b), 200);
    CHECK_BODY(b, "{}");
    buf_free(&b);
}

/* ---- Shutdown ---- */

static void on_store_closed(void *ud)
{
}

static void on_shutdown_done(void *ud)
{
    net_server_destroy(srv);
    eng_free(eng);
    store_close(store, on_store_closed, NULL);
    bus_free(bus);
    uv_close((uv_handle_t *)&call_async, NULL);
}

static void start_shutdown(void)
{
    net_server_shutdown(srv, 1000, on_shutdown_done, NULL);
}

int main(void)
{
    log_setup(LOG_WARN, 0);
    uv_loop_init(&loop);
    uv_sem_init(&call_done, 0);
    uv_async_init(&loop, &call_async, on_call);
    store = store_memory_new(&loop);
    bus = bus_new();
    eng_config_t cfg = ENG_CONFIG_DEFAULT;
    eng = eng_new(&loop, store, bus, &cfg);
    net_limits_t limits = { .max_header_bytes = 65536,
                            .max_body_bytes = 1 << 20,
                            .max_message_bytes = 1 << 20,
                            .idle_timeout_ms = 10000 };
    srv = net_server_new(&loop, &limits);
    const char *err = NULL;
    for (int attempt = 0; attempt < 20; attempt++) {
        port = free_port();
        net_listen_opts_t o = {
            .name = "api", .host = "127.0.0.1", .port = port, .on_request = on_request
        };
        if (net_listen(srv, &o, &err) == 0)
            break;
        port = 0;
    }
    CHECK(port != 0);
    pthread_t th;
    pthread_create(&th, NULL, server_thread, NULL);

    test_metadata();
    test_namespaces();
    test_create();
    test_create_errors();
    test_get_or_create();
    test_get();
    test_kv_get();
    test_list();
    test_delete();
    test_runners();
    test_token();

    run_on_loop(start_shutdown);
    pthread_join(th, NULL);
    net_server_finish(srv);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
    uv_sem_destroy(&call_done);
    json_doc_free(&doc);
    buf_free(&head);
    return T_DONE();
}
