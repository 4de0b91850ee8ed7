/*
 * log.c owns the log sink (stderr, line-buffered writes of whole lines).
 */
#include "emu/log.h"

#include "emu/clock.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static enum log_level level = LOG_LVL_INFO;

void log_set_level(enum log_level l) { level = l; }
enum log_level log_get_level(void) { return level; }

int log_level_parse(const char *s)
{
	static const char *names[] = {"error", "warn", "info", "debug"};
	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

void log_msg(enum log_level l, const char *ctx, const char *fmt, ...)
{
	static const char *tags[] = {"ERROR", "WARN", "INFO", "DEBUG"};
	if (l > level)
		return;
	char line[2048];
	char ts[25];
	clock_fmt_iso(clock_wall(), ts);
	int n = snprintf(line, sizeof line, "%s %-5s [%s] ", ts, tags[l], ctx ? ctx : "-");
	if (n < 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m > 0 ? (size_t)m : 0);
	if (len > sizeof line - 2)
		len = sizeof line - 2;
	/* One line per record: framing characters in user text are flattened. */
	for (size_t i = (size_t)n; i < len; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[len++] = '\n';
	fwrite(line, 1, len, stderr);
}

void log_fingerprint(const void *data, size_t len, char out[13])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	static const char hex[] = "0123456789abcdef";
	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (int i = 0; i < 6; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[12] = '\0';
}
