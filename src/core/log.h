/* Structured logging: one line per event on stderr, `level`, `msg` and key=value fields, as
 * logfmt text or as one JSON object per line. Fields are passed as typed structs so that the
 * JSON form needs no re-parsing of formatted text. */
#ifndef SETT_CORE_LOG_H
#define SETT_CORE_LOG_H

#include <stdint.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };
enum log_ftype { LOG_F_END = 0, LOG_F_STR, LOG_F_INT, LOG_F_UINT, LOG_F_DBL };

struct log_field {
    const char *key;
    enum log_ftype type;
    const char *s; /* LOG_F_STR */
    long long i;   /* LOG_F_INT */
    unsigned long long u;
    double d;
};

#define LF_S(k, v) ((struct log_field){ (k), LOG_F_STR, (v), 0, 0, 0 })
#define LF_I(k, v) ((struct log_field){ (k), LOG_F_INT, NULL, (long long)(v), 0, 0 })
#define LF_U(k, v) ((struct log_field){ (k), LOG_F_UINT, NULL, 0, (unsigned long long)(v), 0 })
#define LF_D(k, v) ((struct log_field){ (k), LOG_F_DBL, NULL, 0, 0, (double)(v) })
#define LF_END ((struct log_field){ NULL, LOG_F_END, NULL, 0, 0, 0 })

extern enum log_level log_min_level;

void log_setup(enum log_level level, int json);
int log_parse_level(const char *s, enum log_level *out);
/* Writes one event; the variadic part is struct log_field values ended by LF_END. */
void log_at(enum log_level level, const char *msg, ...);

#define log_debug(...)                              \
    do {                                            \
        if (log_min_level <= LOG_DEBUG)             \
            log_at(LOG_DEBUG, __VA_ARGS__, LF_END); \
    } while (0)
#define log_info(...)                              \
    do {                                           \
        if (log_min_level <= LOG_INFO)             \
            log_at(LOG_INFO, __VA_ARGS__, LF_END); \
    } while (0)
#define log_warn(...)                              \
    do {                                           \
        if (log_min_level <= LOG_WARN)             \
            log_at(LOG_WARN, __VA_ARGS__, LF_END); \
    } while (0)
#define log_error(...)                              \
    do {                                            \
        if (log_min_level <= LOG_ERROR)             \
            log_at(LOG_ERROR, __VA_ARGS__, LF_END); \
    } while (0)

#endif
