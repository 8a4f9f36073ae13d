#include "proto/proto_cli.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "proto/bare.h"
#include "proto/bare_arena.h"
#include "proto/bare_type.h"
#include "proto/proto_json.h"
#include "proto/rp_v7.h"

typedef struct proto_cli {
    const bare_codec_t *codec;
    bool encode;
    bool keep_going;
    buf_t bytes; /* the frame being decoded or encoded */
    buf_t out;   /* the line being printed */
    void *value; /* a decoded value, codec->type->size bytes */
    char err[512];
} proto_cli_t;

static void proto_cli_usage(FILE *f)
{
    fputs(
        "usage: sett proto decode TYPE [HEX]    print a frame as one line of JSON\n"
        "       sett proto encode TYPE [JSON]   print a frame as hex\n"
        "  TYPE    to-server, to-client (runner WebSocket), to-runner, to-gateway (bus, with the\n"
        "          07 00 version prefix), or any schema type in kebab-case (actor-config)\n"
        "  Without HEX or JSON, stdin holds one frame (hex) or one JSON document per line, and\n"
        "  one line is printed per input line; blank lines are skipped.\n"
        "  -k, --keep-going   print {\"error\": ...} in place of a bad line and go on\n"
        "  Exit status: 0 ok, 1 a malformed frame or document, 2 usage.\n"
        "  JSON form: docs/protocol.md.\n",
        f);
}

static int proto_cli_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads hex digits into cli->bytes; spaces and tabs between bytes are ignored. */
static int proto_cli_unhex(proto_cli_t *cli, const char *s, size_t n)
{
    int hi = -1;
    buf_reset(&cli->bytes);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ' || s[i] == '\t')
            continue;
        int d = proto_cli_hexval(s[i]);
        if (d < 0) {
            snprintf(cli->err, sizeof cli->err, "invalid hex digit at character %zu", i);
            return -1;
        }
        if (hi < 0) {
            hi = d;
        } else {
            buf_push(&cli->bytes, (uint8_t)(hi << 4 | d));
            hi = -1;
        }
    }
    if (hi >= 0) {
        snprintf(cli->err, sizeof cli->err, "odd number of hex digits");
        return -1;
    }
    return 0;
}

static void proto_cli_hex(buf_t *out, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *d = (char *)buf_reserve(out, 2 * n);
    for (size_t i = 0; i < n; i++) {
        d[2 * i] = digits[p[i] >> 4];
        d[2 * i + 1] = digits[p[i] & 15];
    }
    out->len += 2 * n;
}

/* Converts one input into one output line in cli->out. On failure leaves a message in cli->err
 * and, for decoding, the error record in *err. */
static int proto_cli_one(proto_cli_t *cli, const char *in, size_t n, bare_err_t *err)
{
    buf_reset(&cli->out);
    err->code = BARE_OK;
    if (cli->encode) {
        bare_arena_t arena = BARE_ARENA_INIT;
        void *v = bare_arena_alloc(&arena, cli->codec->type->size);
        int rc = proto_json_read(in, n, cli->codec->type, cli->codec->name, v, &arena, cli->err,
                                 sizeof cli->err);
        if (rc == 0) {
            buf_reset(&cli->bytes);
            cli->codec->encode(&cli->bytes, v);
            proto_cli_hex(&cli->out, cli->bytes.data, cli->bytes.len);
        }
        bare_arena_free(&arena);
        return rc;
    }
    if (proto_cli_unhex(cli, in, n))
        return -1;
    if (cli->codec->decode(cli->bytes.data, cli->bytes.len, cli->value, err) != BARE_OK) {
        bare_err_format(err, cli->err, sizeof cli->err);
        return -1;
    }
    proto_json_write(&cli->out, cli->codec->type, cli->value);
    cli->codec->free(cli->value);
    return 0;
}

static void proto_cli_print(proto_cli_t *cli)
{
    buf_push(&cli->out, '\n');
    fwrite(cli->out.data, 1, cli->out.len, stdout);
}

/* The line printed in place of a bad input under --keep-going. */
static void proto_cli_print_error(proto_cli_t *cli, const bare_err_t *err)
{
    buf_reset(&cli->out);
    buf_append_str(&cli->out, "{\"error\":");
    if (err->code != BARE_OK) {
        const char *msg = err->msg ? err->msg : bare_strerror(err->code);
        json_write_str(&cli->out, msg, strlen(msg));
        buf_printf(&cli->out, ",\"offset\":%zu,\"path\":", err->offset);
        if (err->path)
            json_write_str(&cli->out, err->path, strlen(err->path));
        else
            buf_append_str(&cli->out, "null");
    } else {
        json_write_str(&cli->out, cli->err, strlen(cli->err));
    }
    buf_push(&cli->out, '}');
    proto_cli_print(cli);
}

static int proto_cli_stdin(proto_cli_t *cli)
{
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t got;
    int status = 0;
    while ((got = getline(&line, &cap, stdin)) >= 0) {
        size_t n = (size_t)got;
        lineno++;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' ||
                     line[n - 1] == '\t'))
            n--;
        if (!n)
            continue;
        bare_err_t err;
        if (proto_cli_one(cli, line, n, &err) == 0) {
            proto_cli_print(cli);
            continue;
        }
        status = 1;
        if (!cli->keep_going) {
            fflush(stdout);
            fprintf(stderr, "sett proto: line %zu: %s\n", lineno, cli->err);
            break;
        }
        proto_cli_print_error(cli, &err);
    }
    free(line);
    return status;
}

int proto_cli_main(int argc, char **argv)
{
    proto_cli_t cli;
    const char *args[3];
    int nargs = 0;
    memset(&cli, 0, sizeof cli);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-k") == 0 || strcmp(argv[i], "--keep-going") == 0) {
            cli.keep_going = true;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            proto_cli_usage(stdout);
            return 0;
        } else if (nargs < 3) {
            args[nargs++] = argv[i];
        } else {
            proto_cli_usage(stderr);
            return 2;
        }
    }
    if (nargs < 2 || (strcmp(args[0], "decode") != 0 && strcmp(args[0], "encode") != 0)) {
        proto_cli_usage(stderr);
        return 2;
    }
    cli.encode = strcmp(args[0], "encode") == 0;
    cli.codec = bare_codec_find(rp_codecs, args[1]);
    if (!cli.codec) {
        fprintf(stderr, "sett proto: unknown type '%s'\n", args[1]);
        proto_cli_usage(stderr);
        return 2;
    }
    cli.value = sx_calloc(1, cli.codec->type->size);
    int status;
    if (nargs == 3) {
        bare_err_t err;
        status = proto_cli_one(&cli, args[2], strlen(args[2]), &err) == 0 ? 0 : 1;
        if (status == 0)
            proto_cli_print(&cli);
        else
            fprintf(stderr, "sett proto: %s\n", cli.err);
    } else {
        status = proto_cli_stdin(&cli);
    }
    fflush(stdout);
    free(cli.value);
    buf_free(&cli.bytes);
    buf_free(&cli.out);
    return status;
}
