/* The configuration as C reads it: every kind of key the schema has (integer, string, enum,
 * address, list, the nested timeout_bounds) lands in its cfg_t member, the defaults fill what
 * the file leaves out, errors come back one per line, and a reload's comparison names the
 * changed keys, keeps restart-only keys at their running value and names a bound once. */
#include "t.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "lua/config.h"
#include "lua/host.h"

static char tc_path[] = "/tmp/sett-test-config-XXXXXX.lua";

static int tc_load(lh_t *h, const char *src, cfg_t *out, buf_t *errors)
{
    FILE *f = fopen(tc_path, "wb");
    CHECK(f != NULL);
    if (!f)
        return -1;
    fputs(src, f);
    fclose(f);
    return cfg_load(h, tc_path, out, errors);
}

/* The names a reload reported, joined by spaces. */
static void tc_names(const buf_t *names, char *out, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < names->len && o + 1 < n; i++)
        out[o++] = names->data[i] ? (char)names->data[i] : ' ';
    while (o && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
}

static void test_defaults(lh_t *h)
{
    cfg_t c;
    buf_t err = BUF_INIT;
    CHECK_EQ_INT(tc_load(h, "return {}", &c, &err), 0);
    CHECK(strcmp(c.listen.host, "127.0.0.1") == 0);
    CHECK_EQ_INT(c.listen.port, 6420);
    CHECK_EQ_INT(c.admin_listen.port, 6430);
    CHECK_EQ_INT(c.log.level, CFG_LOG_LEVEL_INFO);
    CHECK_EQ_INT(c.log.format, CFG_LOG_FORMAT_TEXT);
    CHECK_EQ_INT(c.store.kind, CFG_STORE_KIND_MEMORY);
    CHECK(c.store.prefix && strcmp(c.store.prefix, "sett:") == 0);
    CHECK_EQ_INT(c.gateway.response_start_timeout_ms, 300000);
    CHECK_EQ_INT(c.gateway.retries, 3);
    CHECK_EQ_INT(c.limits.max_header_bytes, 65536);
    CHECK(c.tls.cert == NULL && c.tls.key == NULL);
    CHECK(c.api.token == NULL && c.policy == NULL && c.gateway.default_runner == NULL);
    CHECK(c.namespaces != NULL && c.namespaces[0] == NULL);
    CHECK_EQ_INT(c.timeout_bounds.ping_interval_ms.min, 0);
    CHECK_EQ_INT(c.timeout_bounds.ping_interval_ms.max, 0);
    cfg_free(&c);
    CHECK(c.store.prefix == NULL && c.namespaces == NULL);
    buf_free(&err);
}

static void test_values(lh_t *h)
{
    cfg_t c;
    buf_t err = BUF_INIT;
    int rc =
        tc_load(h,
                "return { listen = '10.1.2.3:7000', log = { level = 'error', format = 'json' },"
                " store = { kind = 'redis', url = 'redis://127.0.0.1:1/2' },"
                " namespaces = { 'a', 'b-2' }, api = { token = 't' },"
                " tls = { cert = 'c.pem', key = 'k.pem' },"
                " gateway = { retries = 0, default_runner = 'chat' },"
                " timeout_bounds = { ack_timeout_ms = { min = 5, max = 50 } } }",
                &c, &err);
    CHECK_EQ_INT(rc, 0);
    CHECK(strcmp(c.listen.host, "10.1.2.3") == 0);
    CHECK_EQ_INT(c.listen.port, 7000);
    CHECK_EQ_INT(c.log.level, CFG_LOG_LEVEL_ERROR);
    CHECK_EQ_INT(c.log.format, CFG_LOG_FORMAT_JSON);
    CHECK_EQ_INT(c.store.kind, CFG_STORE_KIND_REDIS);
    CHECK(c.store.url && strcmp(c.store.url, "redis://127.0.0.1:1/2") == 0);
    CHECK(c.namespaces && c.namespaces[0] && strcmp(c.namespaces[0], "a") == 0);
    CHECK(c.namespaces && c.namespaces[1] && strcmp(c.namespaces[1], "b-2") == 0);
    CHECK(c.namespaces && c.namespaces[1] && c.namespaces[2] == NULL);
    CHECK(c.api.token && strcmp(c.api.token, "t") == 0);
    CHECK(c.tls.cert && strcmp(c.tls.cert, "c.pem") == 0);
    CHECK(c.tls.key && strcmp(c.tls.key, "k.pem") == 0);
    CHECK_EQ_INT(c.gateway.retries, 0);
    CHECK(c.gateway.default_runner && strcmp(c.gateway.default_runner, "chat") == 0);
    CHECK_EQ_INT(c.timeout_bounds.ack_timeout_ms.min, 5);
    CHECK_EQ_INT(c.timeout_bounds.ack_timeout_ms.max, 50);
    cfg_free(&c);
    buf_free(&err);
}

static void test_errors(lh_t *h)
{
    cfg_t c;
    buf_t err = BUF_INIT;
    CHECK_EQ_INT(tc_load(h, "return { listen = 'x', colour = 1 }", &c, &err), -1);
    buf_push(&err, '\0');
    CHECK(strstr((const char *)err.data, "listen: expected an address") != NULL);
    CHECK(strstr((const char *)err.data, "colour: unknown key\n") != NULL);
    buf_free(&err);
    CHECK_EQ_INT(tc_load(h, "return {", &c, &err), -1);
    buf_push(&err, '\0');
    CHECK(strncmp((const char *)err.data, "configuration: ", 15) == 0);
    buf_free(&err);
}

static void test_merge(lh_t *h)
{
    cfg_t run, next;
    buf_t err = BUF_INIT, live = BUF_INIT, restart = BUF_INIT;
    CHECK_EQ_INT(tc_load(h,
                         "return { listen = '127.0.0.1:7001', store = { prefix = 'p1:' },"
                         " namespaces = { 'a' } }",
                         &run, &err),
                 0);
    CHECK_EQ_INT(tc_load(h,
                         "return { listen = '127.0.0.1:7002', store = { prefix = 'p2:' },"
                         " namespaces = { 'a', 'b' }, gateway = { retries = 5 },"
                         " timeout_bounds = { ping_timeout_ms = { min = 10, max = 20 } } }",
                         &next, &err),
                 0);
    const char *running_prefix = run.store.prefix;
    cfg_merge(&run, &next, &live, &restart);
    char names[256];
    tc_names(&live, names, sizeof names);
    CHECK(strcmp(names, "gateway.retries namespaces timeout_bounds.ping_timeout_ms") == 0);
    tc_names(&restart, names, sizeof names);
    CHECK(strcmp(names, "listen store.prefix") == 0);
    /* What runs stays: the old address, and the old prefix string itself. */
    CHECK_EQ_INT(next.listen.port, 7001);
    CHECK(next.store.prefix == running_prefix);
    CHECK_EQ_INT(next.gateway.retries, 5);
    CHECK(next.namespaces[1] && strcmp(next.namespaces[1], "b") == 0);
    cfg_free(&run);
    cfg_free(&next);
    buf_free(&live);
    buf_free(&restart);

    /* Nothing changed: nothing named. */
    CHECK_EQ_INT(tc_load(h, "return { policy = 'p.lua' }", &run, &err), 0);
    CHECK_EQ_INT(tc_load(h, "return { policy = 'p.lua' }", &next, &err), 0);
    cfg_merge(&run, &next, &live, &restart);
    CHECK_EQ_INT(live.len, 0);
    CHECK_EQ_INT(restart.len, 0);
    cfg_free(&run);
    cfg_free(&next);
    buf_free(&err);
}

int main(void)
{
    int fd = mkstemps(tc_path, 4);
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    lh_t h;
    lh_init(&h, NULL);
    test_defaults(&h);
    test_values(&h);
    test_errors(&h);
    test_merge(&h);
    lh_close(&h);
    unlink(tc_path);
    return T_DONE();
}
