/*
 * Logging to stderr with levels and a request id or connection prefix on
 * every line.  Redaction by construction: there is no call that takes a
 * secret; a token or key is logged only through log_fingerprint().
 */
#ifndef EMU_LOG_H
#define EMU_LOG_H

#include <stddef.h>

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_set_level(enum log_level l);
enum log_level log_get_level(void);
/* "error", "warn", "info", "debug"; returns -1 if unknown. */
int log_level_parse(const char *s);
void log_msg(enum log_level l, const char *ctx, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* First 12 hex chars of sha256(data): how a token or key appears in logs. */
void log_fingerprint(const void *data, size_t len, char out[13]);

#define log_error(ctx, ...) log_msg(LOG_LVL_ERROR, ctx, __VA_ARGS__)
#define log_warn(ctx, ...) log_msg(LOG_LVL_WARN, ctx, __VA_ARGS__)
#define log_info(ctx, ...) do { if (log_get_level() >= LOG_LVL_INFO) log_msg(LOG_LVL_INFO, ctx, __VA_ARGS__); } while (0)
#define log_debug(ctx, ...) do { if (log_get_level() >= LOG_LVL_DEBUG) log_msg(LOG_LVL_DEBUG, ctx, __VA_ARGS__); } while (0)

#endif
