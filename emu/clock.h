/*
 * Time.  clock_wall() is the real UTC time (used for SigV4 skew windows,
 * which clients compute from their own real clocks).  clock_now() is the
 * domain clock: wall time plus an offset that tests move forward through
 * the admin API to make recovery windows and rotation schedules come due.
 * All times are seconds since the epoch as doubles (millisecond precision
 * is what AWS shows).
 */
#ifndef EMU_CLOCK_H
#define EMU_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

double clock_wall(void);
double clock_now(void);
void clock_set_offset(double seconds);
double clock_offset(void);
/* Monotonic milliseconds, for the event loop and latency. */
long long clock_mono_ms(void);

/* "20240101T000000Z" (needs 17 bytes). */
void clock_fmt_amz(double t, char out[17]);
/* "20240101" (needs 9 bytes). */
void clock_fmt_day(double t, char out[9]);
/* "2024-01-01T00:00:00.000Z" (needs 25 bytes). */
void clock_fmt_iso(double t, char out[25]);
/* "2024-01-01T00:00:00Z" (needs 21 bytes), the STS/Query form without millis. */
void clock_fmt_iso_s(double t, char out[21]);
/* Parses "yyyymmddTHHMMSSZ" exactly; false on any deviation. */
bool clock_parse_amz(const char *s, size_t len, time_t *out);
/* Parses an RFC 1123 date ("Mon, 01 Jan 2024 00:00:00 GMT"). */
bool clock_parse_rfc1123(const char *s, time_t *out);
/* Parses ISO 8601 "YYYY-MM-DDTHH:MM:SS[.fff](Z|+hh:mm)" or a plain date. */
bool clock_parse_iso(const char *s, double *out);

#endif
