/*
 * clock.c owns the process's notion of time: the wall clock, the domain
 * offset, and the timestamp formats AWS uses.  Pure apart from reading the
 * system clock.
 */
#include "emu/clock.h"

#include <stdio.h>
#include <string.h>

static double offset;

double clock_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double clock_now(void) { return clock_wall() + offset; }
void clock_set_offset(double s) { offset = s; }
double clock_offset(void) { return offset; }

long long clock_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void to_tm(double t, struct tm *tm)
{
	time_t s = (time_t)t;
	gmtime_r(&s, tm);
}

void clock_fmt_amz(double t, char out[17])
{
	struct tm tm;
	to_tm(t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

void clock_fmt_day(double t, char out[9])
{
	struct tm tm;
	to_tm(t, &tm);
	strftime(out, 9, "%Y%m%d", &tm);
}

void clock_fmt_iso(double t, char out[25])
{
	struct tm tm;
	to_tm(t, &tm);
	long ms = (long)((t - (double)(time_t)t) * 1000.0 + 0.5);
	if (ms > 999)
		ms = 999;
	if (ms < 0)
		ms = 0;
	char base[20];
	strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 25, "%.19s.%03ldZ", base, ms);
}

void clock_fmt_iso_s(double t, char out[21])
{
	struct tm tm;
	to_tm(t, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static bool digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static bool valid_tm(int y, int mo, int d, int h, int mi, int s)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
		return false;
	return h <= 23 && mi <= 59 && s <= 60;
}

static time_t mk(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = {0};
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return timegm(&tm);
}

bool clock_parse_amz(const char *s, size_t len, time_t *out)
{
	int y, mo, d, h, mi, sec;
	if (len != 16 || s[8] != 'T' || s[15] != 'Z')
		return false;
	if (!digits(s, 4, &y) || !digits(s + 4, 2, &mo) || !digits(s + 6, 2, &d) ||
	    !digits(s + 9, 2, &h) || !digits(s + 11, 2, &mi) || !digits(s + 13, 2, &sec))
		return false;
	if (!valid_tm(y, mo, d, h, mi, sec))
		return false;
	*out = mk(y, mo, d, h, mi, sec);
	return true;
}

bool clock_parse_rfc1123(const char *s, time_t *out)
{
	struct tm tm = {0};
	const char *end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end || *end)
		return false;
	*out = timegm(&tm);
	return true;
}

bool clock_parse_iso(const char *s, double *out)
{
	int y, mo, d, h = 0, mi = 0, sec = 0;
	size_t n = strlen(s);
	if (n < 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &y) || !digits(s + 5, 2, &mo) ||
	    !digits(s + 8, 2, &d))
		return false;
	const char *p = s + 10;
	double frac = 0;
	int tz = 0;
	if (*p == 'T' || *p == ' ') {
		if (strlen(p) < 9 || p[3] != ':' || p[6] != ':' || !digits(p + 1, 2, &h) ||
		    !digits(p + 4, 2, &mi) || !digits(p + 7, 2, &sec))
			return false;
		p += 9;
		if (*p == '.') {
			double scale = 0.1;
			p++;
			if (*p < '0' || *p > '9')
				return false;
			while (*p >= '0' && *p <= '9') {
				frac += (*p - '0') * scale;
				scale /= 10;
				p++;
			}
		}
		if (*p == 'Z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int th, tmi;
			int sign = *p == '-' ? -1 : 1;
			if (strlen(p) != 6 || p[3] != ':' || !digits(p + 1, 2, &th) || !digits(p + 4, 2, &tmi))
				return false;
			tz = sign * (th * 3600 + tmi * 60);
			p += 6;
		}
	}
	if (*p || !valid_tm(y, mo, d, h, mi, sec))
		return false;
	*out = (double)mk(y, mo, d, h, mi, sec) - tz + frac;
	return true;
}
