#include "core/log.h"
#include "core/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum log_level log_min_level = LOG_INFO;
static int log_json;

static const char *const log_names[] = { "debug", "info", "warn", "error", "off" };

void log_setup(enum log_level level, int json)
{
    log_min_level = level;
    log_json = json;
}

static const char *log_level_name(enum log_level level)
{
    return level <= LOG_OFF ? log_names[level] : "?";
}

int log_parse_level(const char *s, enum log_level *out)
{
    for (int i = 0; i <= LOG_OFF; i++) {
        if (strcmp(s, log_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

/* Text values are quoted only when they would otherwise split the logfmt line. */
static void log_text_value(buf_t *b, const char *s)
{
    int quote = *s == '\0';
    for (const char *p = s; *p && !quote; p++)
        if (*p == ' ' || *p == '"' || *p == '=' || (unsigned char)*p < 0x20)
            quote = 1;
    if (!quote) {
        buf_append_str(b, s);
        return;
    }
    buf_push(b, '"');
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            buf_push(b, '\\');
            buf_push(b, c);
        } else if (c == '\n') {
            buf_append_str(b, "\\n");
        } else if (c < 0x20) {
            buf_printf(b, "\\x%02x", c);
        } else {
            buf_push(b, c);
        }
    }
    buf_push(b, '"');
}

static void log_json_string(buf_t *b, const char *s)
{
    buf_push(b, '"');
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            buf_push(b, '\\');
            buf_push(b, c);
        } else if (c < 0x20) {
            buf_printf(b, "\\u%04x", c);
        } else {
            buf_push(b, c);
        }
    }
    buf_push(b, '"');
}

void log_at(enum log_level level, const char *msg, ...)
{
    char ts[40];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03dZ", (int)(tv.tv_usec / 1000));

    buf_t heap = BUF_INIT;
    buf_t *out = &heap;

    if (log_json) {
        buf_printf(out, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, log_level_name(level));
        log_json_string(out, msg);
    } else {
        buf_printf(out, "%s level=%s msg=", ts, log_level_name(level));
        log_text_value(out, msg);
    }

    va_list ap;
    va_start(ap, msg);
    for (;;) {
        struct log_field f = va_arg(ap, struct log_field);
        if (f.type == LOG_F_END)
            break;
        if (log_json) {
            buf_push(out, ',');
            log_json_string(out, f.key);
            buf_push(out, ':');
        } else {
            buf_printf(out, " %s=", f.key);
        }
        switch (f.type) {
        case LOG_F_STR:
            if (log_json)
                log_json_string(out, f.s ? f.s : "");
            else
                log_text_value(out, f.s ? f.s : "");
            break;
        case LOG_F_INT: buf_printf(out, "%lld", f.i); break;
        case LOG_F_UINT: buf_printf(out, "%llu", f.u); break;
        case LOG_F_DBL: buf_printf(out, "%g", f.d); break;
        case LOG_F_END: break;
        }
    }
    va_end(ap);
    if (log_json)
        buf_push(out, '}');
    buf_push(out, '\n');
    /* One write per line keeps lines whole when several processes share stderr. */
    ssize_t w = write(STDERR_FILENO, out->data, out->len);
    (void)w;
    buf_free(&heap);
}
