/*
 * secrets_rot.c owns Secrets Manager rotation in the domain: RotateSecret
 * and CancelRotateSecret, rotation rules and schedules (rate()/cron() in
 * UTC, AutomaticallyAfterDays), and the rotation work queue in the
 * secret_rotations table that emu/rotation.c executes (aws-behaviour.md
 * 5.7).  Nothing here starts a process: RotateSecret records the work and
 * calls rotation_kick(), which is a no-op when no runner is running.
 *
 * May call: secrets.c (secrets_int.h), rotation_kick, store, util, log.
 * Invariants: at most one rotation per secret (secret_rotations key); the
 * job's version carries AWSPENDING while the job exists; a rotation is
 * complete only when AWSCURRENT sits on the job's version after
 * finishSecret; retries are bounded (ROT_MAX_ATTEMPTS).
 */
#include "emu/rotation.h"
#include "emu/secrets_int.h"

#include "emu/log.h"
#include "emu/util.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define ROT_MAX_ATTEMPTS 5      /* whole-rotation attempts before waiting for the next schedule */
#define ROT_BACKOFF_S 5.0       /* first retry after 5 s, then doubling ... */
#define ROT_BACKOFF_MAX_S 300.0 /* ... up to 5 minutes (domain clock) */

#define MSG_NO_LAMBDA                                                                                      \
	"You tried to enable rotation on a secret that doesn't already have a Lambda function ARN configured " \
	"and you didn't include such an ARN as a parameter in this call."
#define MSG_NO_INVOKE                                                                                      \
	"Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants " \
	"access to the principal secretsmanager.amazonaws.com."

const char *secrets_step_name(int step)
{
	static const char *const names[] = {"createSecret", "setSecret", "testSecret", "finishSecret"};
	return step >= 0 && step < 4 ? names[step] : "unknown";
}

/* ---- schedules --------------------------------------------------------------------------- */

#define YEAR_MIN 1970
#define YEAR_MAX 2199

struct cron {
	uint64_t min, hour, dom, month, dow; /* bit i = value i */
	uint64_t year[4];                    /* bit (y - YEAR_MIN) */
	bool dom_any, dow_any;               /* '?' */
	bool dom_last, dom_last_wd;          /* L, LW */
	int dom_wd;                          /* nW: weekday nearest to day n (0 = none) */
	int dow_last;                        /* nL: last weekday n of the month (0 = none) */
	int dow_nth, dow_nth_k;              /* n#k: k-th weekday n (0 = none) */
};

static int name_val(const char *s, size_t n, int field)
{
	static const char *const months[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
	                                     "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
	static const char *const days[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};
	if (n != 3)
		return -1;
	if (field == 3)
		for (int i = 0; i < 12; i++)
			if (strncasecmp(s, months[i], 3) == 0)
				return i + 1;
	if (field == 4)
		for (int i = 0; i < 7; i++)
			if (strncasecmp(s, days[i], 3) == 0)
				return i + 1;
	return -1;
}

/* A number or (months, weekdays) a name; *end past it. */
static int parse_val(const char *s, const char **end, int field)
{
	if (isdigit((unsigned char)*s)) {
		int v = 0;
		const char *p = s;
		while (isdigit((unsigned char)*p) && v < 100000)
			v = v * 10 + (*p++ - '0');
		*end = p;
		return v;
	}
	const char *p = s;
	while (isalpha((unsigned char)*p))
		p++;
	*end = p;
	return name_val(s, (size_t)(p - s), field);
}

static void set_bit(struct cron *c, int field, int v)
{
	switch (field) {
	case 0: c->min |= 1ull << v; break;
	case 1: c->hour |= 1ull << v; break;
	case 2: c->dom |= 1ull << v; break;
	case 3: c->month |= 1ull << v; break;
	case 4: c->dow |= 1ull << v; break;
	default: c->year[(v - YEAR_MIN) / 64] |= 1ull << ((v - YEAR_MIN) % 64); break;
	}
}

static bool parse_field(struct cron *c, int field, const char *f)
{
	static const int lo[] = {0, 0, 1, 1, 1, YEAR_MIN}, hi[] = {59, 23, 31, 12, 7, YEAR_MAX};
	size_t n = strlen(f);
	if (strcmp(f, "?") == 0) {
		if (field == 2)
			return (c->dom_any = true);
		if (field == 4)
			return (c->dow_any = true);
		return false;
	}
	if (field == 2 && strcmp(f, "L") == 0)
		return (c->dom_last = true);
	if (field == 2 && strcmp(f, "LW") == 0)
		return (c->dom_last_wd = true);
	if (field == 2 && n >= 2 && f[n - 1] == 'W') {
		const char *e;
		int v = parse_val(f, &e, field);
		return e == f + n - 1 && v >= 1 && v <= 31 && (c->dom_wd = v) > 0;
	}
	if (field == 4 && strcmp(f, "L") == 0)
		return (c->dow_last = 7) > 0;
	if (field == 4 && n >= 2 && f[n - 1] == 'L') {
		const char *e;
		int v = parse_val(f, &e, field);
		return e == f + n - 1 && v >= 1 && v <= 7 && (c->dow_last = v) > 0;
	}
	if (field == 4 && strchr(f, '#')) {
		const char *e;
		int v = parse_val(f, &e, field);
		if (v < 1 || v > 7 || *e != '#' || !isdigit((unsigned char)e[1]) || e[2])
			return false;
		c->dow_nth = v;
		c->dow_nth_k = e[1] - '0';
		return c->dow_nth_k >= 1 && c->dow_nth_k <= 5;
	}
	/* list of items: * | a | a-b, each optionally /step */
	const char *p = f;
	for (;;) {
		int a, b, step = 1;
		const char *e;
		if (*p == '*') {
			a = lo[field];
			b = hi[field];
			e = p + 1;
		} else {
			a = parse_val(p, &e, field);
			if (a < 0 || e == p)
				return false;
			b = a;
			if (*e == '-') {
				const char *e2;
				b = parse_val(e + 1, &e2, field);
				if (b < 0 || e2 == e + 1)
					return false;
				e = e2;
			}
		}
		if (*e == '/') {
			const char *e2;
			step = parse_val(e + 1, &e2, 0);
			if (step < 1 || e2 == e + 1)
				return false;
			if (a == b && *p != '*')
				b = hi[field];
			e = e2;
		}
		if (a < lo[field] || b > hi[field] || a > b)
			return false;
		for (int v = a; v <= b; v += step)
			set_bit(c, field, v);
		if (*e == '\0')
			return true;
		if (*e != ',')
			return false;
		p = e + 1;
	}
}

static bool parse_cron(const char *body, struct cron *c)
{
	memset(c, 0, sizeof *c);
	char buf[256];
	snprintf(buf, sizeof buf, "%s", body);
	char *save = NULL, *f[7];
	int n = 0;
	for (char *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (n == 7)
			return false;
		f[n++] = t;
	}
	if (n != 6)
		return false;
	for (int i = 0; i < 6; i++)
		if (!parse_field(c, i, f[i]))
			return false;
	/* EventBridge rule: exactly one of day-of-month / day-of-week is '?'. */
	return c->dom_any != c->dow_any;
}

static int days_in(int y, int m)
{
	static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : d[m - 1];
}

/* Day of week (0 = Sunday) of y-m-d. */
static int wday_of(int y, int m, int d)
{
	struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = 12};
	time_t t = timegm(&tm);
	struct tm out;
	gmtime_r(&t, &out);
	return out.tm_wday;
}

static bool day_matches(const struct cron *c, int y, int m, int d)
{
	int dim = days_in(y, m), wd = wday_of(y, m, d);
	if (c->dow_any) {
		if (c->dom_last)
			return d == dim;
		if (c->dom_last_wd || c->dom_wd) {
			int target = c->dom_last_wd ? dim : (c->dom_wd > dim ? dim : c->dom_wd);
			int twd = wday_of(y, m, target);
			if (twd == 6)
				target = target == 1 ? 3 : target - 1;
			else if (twd == 0)
				target = target == dim ? target - 2 : target + 1;
			return d == target;
		}
		return (c->dom >> d) & 1;
	}
	if (c->dow_last)
		return wd + 1 == c->dow_last && d + 7 > dim;
	if (c->dow_nth)
		return wd + 1 == c->dow_nth && (d - 1) / 7 + 1 == c->dow_nth_k;
	return (c->dow >> (wd + 1)) & 1;
}

static double cron_next(const struct cron *c, double after)
{
	time_t t0 = (time_t)floor(after / 60.0) * 60 + 60; /* first whole minute strictly after */
	struct tm tm;
	gmtime_r(&t0, &tm);
	int y = tm.tm_year + 1900, m = tm.tm_mon + 1, d = tm.tm_mday, h0 = tm.tm_hour, m0 = tm.tm_min;
	for (int guard = 0; guard < 366 * (YEAR_MAX - YEAR_MIN + 2); guard++) {
		if (y > YEAR_MAX)
			return -1;
		bool year_ok = y >= YEAR_MIN && ((c->year[(y - YEAR_MIN) / 64] >> ((y - YEAR_MIN) % 64)) & 1);
		if (year_ok && ((c->month >> m) & 1) && day_matches(c, y, m, d)) {
			for (int h = h0; h < 24; h++) {
				if (!((c->hour >> h) & 1))
					continue;
				for (int mi = h == h0 ? m0 : 0; mi < 60; mi++) {
					if ((c->min >> mi) & 1) {
						struct tm r = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = h,
						               .tm_min = mi};
						return (double)timegm(&r);
					}
				}
			}
		}
		h0 = m0 = 0;
		if (!year_ok) { /* skip the rest of this year */
			y++;
			m = d = 1;
		} else if (++d > days_in(y, m)) {
			d = 1;
			if (++m > 12) {
				m = 1;
				y++;
			}
		}
	}
	return -1;
}

/* rate(N hours|days): seconds, or 0 if not a rate expression / invalid. */
static double rate_seconds(const char *expr, bool *too_short)
{
	*too_short = false;
	long long n = 0;
	char unit[16];
	int used = 0;
	if (sscanf(expr, "rate(%lld %15[a-z])%n", &n, unit, &used) != 2 || used == 0 || expr[used] != '\0' || n < 1)
		return 0;
	double s;
	if (strcmp(unit, "hour") == 0 || strcmp(unit, "hours") == 0)
		s = (double)n * 3600.0;
	else if (strcmp(unit, "day") == 0 || strcmp(unit, "days") == 0)
		s = (double)n * 86400.0;
	else
		return 0;
	if (s < 4 * 3600.0)
		*too_short = true;
	if (s > 1000 * 86400.0)
		return 0;
	return s;
}

int secrets_schedule_check(const char *expr, struct emu_err *err)
{
	if (!expr)
		return emu_err_set(err, ERR_SM_INVALID_PARAMETER, "The ScheduleExpression is empty.");
	size_t n = strlen(expr);
	if (util_has_prefix(expr, "rate(")) {
		bool short_;
		double s = rate_seconds(expr, &short_);
		if (s <= 0)
			return emu_err_set(err, ERR_SM_INVALID_PARAMETER,
			                   "Invalid rate expression %.64s: use rate(N hours) or rate(N days).", expr);
		if (short_)
			return emu_err_set(err, ERR_SM_INVALID_PARAMETER,
			                   "The schedule expression %.64s is too frequent: the minimum rotation interval is "
			                   "4 hours.",
			                   expr);
		return 0;
	}
	if (util_has_prefix(expr, "cron(") && n > 6 && expr[n - 1] == ')') {
		char body[256];
		snprintf(body, sizeof body, "%.*s", (int)(n - 6), expr + 5);
		struct cron c;
		if (!parse_cron(body, &c))
			return emu_err_set(err, ERR_SM_INVALID_PARAMETER,
			                   "Invalid cron expression %.96s: use cron(minutes hours day-of-month month "
			                   "day-of-week year) with ? in one of the two day fields.",
			                   expr);
		return 0;
	}
	return emu_err_set(err, ERR_SM_INVALID_PARAMETER,
	                   "Invalid ScheduleExpression %.64s: use rate() or cron().", expr);
}

double secrets_schedule_next(const char *expr, double after)
{
	if (!expr)
		return -1;
	size_t n = strlen(expr);
	if (util_has_prefix(expr, "rate(")) {
		bool short_;
		double s = rate_seconds(expr, &short_);
		return s > 0 ? after + s : -1;
	}
	if (util_has_prefix(expr, "cron(") && n > 6 && expr[n - 1] == ')') {
		char body[256];
		snprintf(body, sizeof body, "%.*s", (int)(n - 6), expr + 5);
		struct cron c;
		if (!parse_cron(body, &c))
			return -1;
		return cron_next(&c, after);
	}
	return -1;
}

double secrets_rules_next(const char *rules_json, double after)
{
	if (!rules_json)
		return 0;
	json_t *r = json_loads(rules_json, 0, NULL);
	double next = 0;
	const char *expr = json_string_value(json_object_get(r, "ScheduleExpression"));
	json_t *days = json_object_get(r, "AutomaticallyAfterDays");
	if (expr) {
		next = secrets_schedule_next(expr, after);
		if (next < 0)
			next = 0;
	} else if (json_is_integer(days) && json_integer_value(days) > 0) {
		/* [?] AWS rotates at some time within the UTC day that is N days
		 * away; the emulator uses exactly N days after, which lies in it. */
		next = after + (double)json_integer_value(days) * 86400.0;
	}
	json_decref(r);
	return next;
}

/* Validated copy of RotationRules (known members only), or NULL + err. */
static json_t *rules_in(json_t *in, struct emu_err *err)
{
	json_t *r = json_object_get(in, "RotationRules");
	if (!json_is_object(r)) {
		emu_err_set(err, ERR_SERIALIZATION, "Unexpected value type for member RotationRules: expected an object.");
		return NULL;
	}
	long long days = 0;
	bool has_days;
	const char *dur, *expr;
	if (secrets_in_int(r, "AutomaticallyAfterDays", 1, 1000, &days, &has_days, err) < 0 ||
	    secrets_in_str(r, "Duration", false, 2, 3, &dur, err) < 0 ||
	    secrets_in_str(r, "ScheduleExpression", false, 1, 256, &expr, err) < 0)
		return NULL;
	if (has_days && expr) {
		emu_err_set(err, ERR_SM_INVALID_PARAMETER,
		            "You can't specify both AutomaticallyAfterDays and ScheduleExpression in RotationRules.");
		return NULL;
	}
	if (expr && secrets_schedule_check(expr, err) < 0)
		return NULL;
	if (dur) {
		size_t n = strlen(dur);
		int h = atoi(dur);
		if (dur[n - 1] != 'h' || !isdigit((unsigned char)dur[0]) || (n == 3 && !isdigit((unsigned char)dur[1])) ||
		    h < 1 || h > 24) {
			emu_err_set(err, ERR_SM_INVALID_PARAMETER,
			            "The rotation window Duration %s is not valid: use 1h to 24h.", dur);
			return NULL;
		}
	}
	json_t *o = json_object();
	if (has_days)
		json_object_set_new(o, "AutomaticallyAfterDays", json_integer(days));
	if (dur)
		json_object_set_new(o, "Duration", json_string(dur));
	if (expr)
		json_object_set_new(o, "ScheduleExpression", json_string(expr));
	return o;
}

/* ---- helpers ------------------------------------------------------------------------------ */

static int exec(struct store *s, sqlite3_stmt *st, struct emu_err *err)
{
	if (!st)
		return store_fail(s, err);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, err);
}

static int job_insert(struct store *s, long long sid, const char *vid, const char *lambda, bool test_only,
                      double now, struct emu_err *err)
{
	char rtoken[37];
	util_uuid(rtoken);
	sqlite3_stmt *st = store_prep(s, "INSERT OR REPLACE INTO secret_rotations(secret_id, version_id, rotation_token, "
	                                 "lambda_arn, test_only, step, attempts, not_before, created) "
	                                 "VALUES(?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?7)");
	if (st) {
		sqlite3_bind_int64(st, 1, sid);
		store_bind_text(st, 2, vid);
		store_bind_text(st, 3, rtoken);
		store_bind_text(st, 4, lambda);
		sqlite3_bind_int(st, 5, test_only);
		sqlite3_bind_int(st, 6, test_only ? SECRETS_STEP_TEST : SECRETS_STEP_CREATE);
		sqlite3_bind_double(st, 7, now);
	}
	return exec(s, st, err);
}

static int placeholder(struct store *s, const struct sm_secret *r, const char *vid, double now, struct emu_err *err)
{
	int kind, rc = secrets_version_kind(s, r->id, vid, &kind, err);
	if (rc < 0 || (rc == 0 && secrets_version_insert(s, r, vid, NULL, now, err) < 0))
		return -1;
	return secrets_stage_attach(s, r->id, SM_PENDING, vid, err);
}

static int sync_id(struct store *s, long long id, double now, struct emu_err *err)
{
	struct sm_secret r;
	if (secrets_load_id(s, id, &r, err) < 0)
		return -1;
	int rc = secrets_sync_replicas(s, &r, now, err);
	secrets_row_free(&r);
	return rc;
}

/* ---- RotateSecret / CancelRotateSecret ------------------------------------------------------ */

static int rotate_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct store *s = call->store;
	const char *token, *lambda, *role;
	bool now_too;
	json_t *rules = NULL, *meta = json_object_get(in, "ExternalSecretRotationMetadata");
	struct sm_secret r;
	if (secrets_find_writable(call, in, &r, err) < 0)
		return -1;
	int rc = -1;
	if (secrets_in_token(in, &token, err) < 0 ||
	    secrets_in_str(in, "RotationLambdaARN", false, 0, 2048, &lambda, err) < 0 ||
	    secrets_in_bool(in, "RotateImmediately", true, &now_too, NULL, err) < 0 ||
	    secrets_in_str(in, "ExternalSecretRotationRoleArn", false, 0, 2048, &role, err) < 0)
		goto out;
	if (json_is_null(meta))
		meta = NULL;
	if (meta && !json_is_array(meta)) {
		emu_err_set(err, ERR_SERIALIZATION,
		            "Unexpected value type for member ExternalSecretRotationMetadata: expected a list.");
		goto out;
	}
	json_t *rj = json_object_get(in, "RotationRules");
	if (rj && !json_is_null(rj) && !(rules = rules_in(in, err)))
		goto out;
	if (!lambda || !*lambda)
		lambda = r.rotation_lambda;
	if (!lambda || !*lambda) {
		emu_err_set(err, ERR_SM_INVALID_REQUEST, MSG_NO_LAMBDA);
		goto out;
	}
	json_t *argv, *env;
	int timeout;
	if (secrets_lambda_get(s, lambda, &argv, &env, &timeout, err) < 0) {
		if (err->code == ERR_SM_RESOURCE_NOT_FOUND)
			emu_err_set(err, ERR_ACCESS_DENIED, MSG_NO_INVOKE);
		goto out;
	}
	json_decref(argv);
	json_decref(env);

	char pending[SM_VID_MAX], current[SM_VID_MAX];
	int hp = secrets_stage_holder(s, r.id, SM_PENDING, pending, err), hc;
	if (hp < 0 || (hc = secrets_stage_holder(s, r.id, SM_CURRENT, current, err)) < 0)
		goto out;
	if (hp == 1 && !(hc == 1 && strcmp(pending, current) == 0)) {
		if (token && strcmp(token, pending) == 0) { /* a retried RotateSecret */
			*out = secrets_out_arn_name(&r);
			json_object_set_new(*out, "VersionId", json_string(pending));
			rc = 0;
			goto out;
		}
		/* [?] text */
		emu_err_set(err, ERR_SM_INVALID_REQUEST, "A previous rotation isn't complete. That rotation will be "
		                                         "reattempted.");
		goto out;
	}
	char vid[SM_VID_MAX];
	if (token)
		snprintf(vid, sizeof vid, "%s", token);
	else
		util_uuid(vid);
	int kind, exists = secrets_version_kind(s, r.id, vid, &kind, err);
	if (exists < 0)
		goto out;
	if (exists) {
		emu_err_set(err, ERR_SM_RESOURCE_EXISTS, SM_MSG_TOKEN_REUSE, vid, r.arn);
		goto out;
	}
	char *rules_txt = rules ? json_dumps(rules, JSON_COMPACT) : (r.rotation_rules ? util_strdup(r.rotation_rules) : NULL);
	char *meta_txt = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
	double next = secrets_rules_next(rules_txt, call->now);
	sqlite3_stmt *st = store_prep(
		s, "UPDATE secrets SET rotation_enabled = 1, rotation_lambda = ?2, rotation_rules = ?3, "
		   "next_rotation = ?4, last_changed = ?5, ext_rotation_metadata = coalesce(?6, ext_rotation_metadata), "
		   "ext_rotation_role = coalesce(?7, ext_rotation_role) WHERE id = ?1");
	if (st) {
		sqlite3_bind_int64(st, 1, r.id);
		store_bind_text(st, 2, lambda);
		store_bind_text(st, 3, rules_txt);
		if (next > 0)
			sqlite3_bind_double(st, 4, secrets_ms(next));
		else
			sqlite3_bind_null(st, 4);
		sqlite3_bind_double(st, 5, secrets_ms(call->now));
		store_bind_text(st, 6, meta_txt);
		store_bind_text(st, 7, role);
	}
	int erc = exec(s, st, err);
	free(rules_txt);
	free(meta_txt);
	if (erc < 0)
		goto out;
	/* The AWSPENDING version exists, without a value, before any step runs
	 * (rule 9); with RotateImmediately=false only testSecret runs on it. */
	if (placeholder(s, &r, vid, call->now, err) < 0 ||
	    job_insert(s, r.id, vid, lambda, !now_too, call->now, err) < 0 || sync_id(s, r.id, call->now, err) < 0)
		goto out;
	log_info("secrets", "rotation of %s requested (version %s, %s)", r.arn, vid,
	         now_too ? "rotate now" : "test only");
	rotation_kick();
	*out = secrets_out_arn_name(&r);
	json_object_set_new(*out, "VersionId", json_string(vid));
	rc = 0;
out:
	json_decref(rules);
	secrets_row_free(&r);
	return rc;
}
SECRETS_TX_OP(sm_rotate_secret, rotate_impl)

static int cancel_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct store *s = call->store;
	struct sm_secret r;
	if (secrets_find_writable(call, in, &r, err) < 0)
		return -1;
	int rc = -1;
	if (!r.rotation_lambda && r.rotation_enabled < 0) {
		/* [?] text */
		emu_err_set(err, ERR_SM_INVALID_REQUEST,
		            "You can't cancel rotation for secret %s because rotation isn't configured for it.", r.name);
		goto out;
	}
	sqlite3_stmt *st = store_prep(s, "UPDATE secrets SET rotation_enabled = 0, next_rotation = NULL, "
	                                 "last_changed = ?2 WHERE id = ?1");
	if (st) {
		sqlite3_bind_int64(st, 1, r.id);
		sqlite3_bind_double(st, 2, secrets_ms(call->now));
	}
	if (exec(s, st, err) < 0)
		goto out;
	st = store_prep(s, "DELETE FROM secret_rotations WHERE secret_id = ?1");
	if (st)
		sqlite3_bind_int64(st, 1, r.id);
	if (exec(s, st, err) < 0 || sync_id(s, r.id, call->now, err) < 0)
		goto out;
	char pending[SM_VID_MAX], current[SM_VID_MAX];
	int hp = secrets_stage_holder(s, r.id, SM_PENDING, pending, err), hc;
	if (hp < 0 || (hc = secrets_stage_holder(s, r.id, SM_CURRENT, current, err)) < 0)
		goto out;
	*out = secrets_out_arn_name(&r);
	/* AWSPENDING may stay on a half-built version; the caller removes it. */
	if (hp == 1 && !(hc == 1 && strcmp(pending, current) == 0))
		json_object_set_new(*out, "VersionId", json_string(pending));
	rotation_kick();
	rc = 0;
out:
	secrets_row_free(&r);
	return rc;
}
SECRETS_TX_OP(sm_cancel_rotate_secret, cancel_impl)

/* ---- the work queue ------------------------------------------------------------------------- */

/* Starts a scheduled rotation of secret id: reuses a half-built AWSPENDING
 * version if one is left, otherwise creates a new placeholder. */
static int start_scheduled(struct store *s, long long id, double now, struct emu_err *err)
{
	struct sm_secret r;
	if (secrets_load_id(s, id, &r, err) < 0)
		return -1;
	char pending[SM_VID_MAX], current[SM_VID_MAX], vid[SM_VID_MAX];
	int rc = -1, hp, hc;
	if ((hp = secrets_stage_holder(s, id, SM_PENDING, pending, err)) < 0 ||
	    (hc = secrets_stage_holder(s, id, SM_CURRENT, current, err)) < 0)
		goto out;
	if (hp == 1 && !(hc == 1 && strcmp(pending, current) == 0))
		snprintf(vid, sizeof vid, "%s", pending);
	else
		util_uuid(vid);
	if (placeholder(s, &r, vid, now, err) < 0 || job_insert(s, id, vid, r.rotation_lambda, false, now, err) < 0 ||
	    sync_id(s, id, now, err) < 0)
		goto out;
	log_info("secrets", "scheduled rotation of %s starts (version %s)", r.arn, vid);
	rc = 0;
out:
	secrets_row_free(&r);
	return rc;
}

int secrets_jobs_due(struct store *s, double now, struct secrets_job *jobs, int max, int *n, struct emu_err *err)
{
	*n = 0;
	sqlite3_stmt *st = store_prep(
		s, "SELECT id FROM secrets WHERE rotation_enabled = 1 AND next_rotation IS NOT NULL AND "
		   "next_rotation <= ?1 AND deleted_date IS NULL AND replica_of IS NULL AND rotation_lambda IS NOT NULL "
		   "AND id NOT IN (SELECT secret_id FROM secret_rotations) LIMIT 64");
	if (!st)
		return store_fail(s, err);
	sqlite3_bind_double(st, 1, now);
	long long due[64];
	int nd = 0, rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && nd < 64)
		due[nd++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_fail(s, err);
	for (int i = 0; i < nd; i++) {
		if (store_begin(s) < 0)
			return emu_err_set(err, ERR_INTERNAL, "internal storage error");
		if (start_scheduled(s, due[i], now, err) < 0) {
			store_rollback(s);
			return -1;
		}
		if (store_commit(s) < 0)
			return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	}
	st = store_prep(s, "SELECT r.secret_id, s.arn, s.account, s.region, r.version_id, r.rotation_token, "
	                   "r.lambda_arn, r.step, r.test_only, r.attempts FROM secret_rotations r "
	                   "JOIN secrets s ON s.id = r.secret_id WHERE r.not_before <= ?1 AND s.deleted_date IS NULL "
	                   "ORDER BY r.not_before, r.secret_id LIMIT ?2");
	if (!st)
		return store_fail(s, err);
	sqlite3_bind_double(st, 1, now);
	sqlite3_bind_int(st, 2, max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < max) {
		struct secrets_job *j = &jobs[(*n)++];
		memset(j, 0, sizeof *j);
		j->secret_id = sqlite3_column_int64(st, 0);
		snprintf(j->arn, sizeof j->arn, "%s", (const char *)sqlite3_column_text(st, 1));
		snprintf(j->account, sizeof j->account, "%s", (const char *)sqlite3_column_text(st, 2));
		snprintf(j->region, sizeof j->region, "%s", (const char *)sqlite3_column_text(st, 3));
		snprintf(j->version_id, sizeof j->version_id, "%s", (const char *)sqlite3_column_text(st, 4));
		snprintf(j->rotation_token, sizeof j->rotation_token, "%s", (const char *)sqlite3_column_text(st, 5));
		snprintf(j->lambda_arn, sizeof j->lambda_arn, "%s", (const char *)sqlite3_column_text(st, 6));
		j->step = sqlite3_column_int(st, 7);
		j->test_only = sqlite3_column_int(st, 8) != 0;
		j->attempts = sqlite3_column_int(st, 9);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_fail(s, err);
	return 0;
}

bool secrets_job_current(struct store *s, long long sid, const char *vid)
{
	sqlite3_stmt *st = store_prep(s, "SELECT 1 FROM secret_rotations r JOIN secrets s ON s.id = r.secret_id "
	                                 "WHERE r.secret_id = ?1 AND r.version_id = ?2 AND s.deleted_date IS NULL");
	if (!st)
		return false;
	sqlite3_bind_int64(st, 1, sid);
	store_bind_text(st, 2, vid);
	bool yes = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return yes;
}

static int job_delete(struct store *s, long long sid, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "DELETE FROM secret_rotations WHERE secret_id = ?1");
	if (st)
		sqlite3_bind_int64(st, 1, sid);
	return exec(s, st, err);
}

/* Takes AWSPENDING off vid (if it is there); a placeholder left without a
 * value and without labels is removed. */
static int pending_clear(struct store *s, long long sid, const char *vid, struct emu_err *err)
{
	char holder[SM_VID_MAX];
	int h = secrets_stage_holder(s, sid, SM_PENDING, holder, err);
	if (h < 0)
		return -1;
	if (h == 1 && strcmp(holder, vid) == 0 && secrets_stage_detach(s, sid, SM_PENDING, err) < 0)
		return -1;
	sqlite3_stmt *st = store_prep(s, "DELETE FROM secret_versions WHERE secret_id = ?1 AND version_id = ?2 AND "
	                                 "kind = 0 AND NOT EXISTS (SELECT 1 FROM secret_stages WHERE secret_id = ?1 "
	                                 "AND version_id = ?2)");
	if (st) {
		sqlite3_bind_int64(st, 1, sid);
		store_bind_text(st, 2, vid);
	}
	return exec(s, st, err);
}

static int job_done(struct store *s, const struct secrets_job *job, bool ok, const char *why, double now, bool *more,
                    struct emu_err *err)
{
	*more = false;
	if (!secrets_job_current(s, job->secret_id, job->version_id))
		return 0; /* cancelled, deleted or replaced meanwhile */
	struct sm_secret r;
	if (secrets_load_id(s, job->secret_id, &r, err) < 0)
		return -1;
	int rc = -1;
	sqlite3_stmt *st;
	if (job->test_only) {
		/* RotateImmediately=false: the test version is removed either way. */
		if (ok)
			log_info("rotation", "%s: testSecret succeeded (rotation configuration test)", r.arn);
		else
			log_warn("rotation", "%s: testSecret failed (rotation configuration test): %s", r.arn, why ? why : "");
		if (pending_clear(s, r.id, job->version_id, err) < 0 || job_delete(s, r.id, err) < 0)
			goto out;
		rc = sync_id(s, r.id, now, err);
		goto out;
	}
	if (ok && job->step < SECRETS_STEP_FINISH) {
		st = store_prep(s, "UPDATE secret_rotations SET step = ?2, not_before = ?3 WHERE secret_id = ?1");
		if (st) {
			sqlite3_bind_int64(st, 1, r.id);
			sqlite3_bind_int(st, 2, job->step + 1);
			sqlite3_bind_double(st, 3, now);
		}
		if (exec(s, st, err) < 0)
			goto out;
		*more = true;
		rc = 0;
		goto out;
	}
	char current[SM_VID_MAX];
	if (ok) {
		int hc = secrets_stage_holder(s, r.id, SM_CURRENT, current, err);
		if (hc < 0)
			goto out;
		if (hc == 1 && strcmp(current, job->version_id) == 0) {
			double next = r.rotation_enabled == 1 ? secrets_rules_next(r.rotation_rules, now) : 0;
			st = store_prep(s, "UPDATE secrets SET last_rotated = ?2, next_rotation = ?3, last_changed = ?2 "
			                   "WHERE id = ?1");
			if (st) {
				sqlite3_bind_int64(st, 1, r.id);
				sqlite3_bind_double(st, 2, secrets_ms(now));
				if (next > 0)
					sqlite3_bind_double(st, 3, secrets_ms(next));
				else
					sqlite3_bind_null(st, 3);
			}
			if (exec(s, st, err) < 0 || pending_clear(s, r.id, job->version_id, err) < 0 ||
			    job_delete(s, r.id, err) < 0 || sync_id(s, r.id, now, err) < 0)
				goto out;
			log_info("rotation", "%s: rotation to version %s complete", r.arn, job->version_id);
			rc = 0;
			goto out;
		}
		why = "finishSecret returned without moving AWSCURRENT to the pending version";
	}
	int attempts = job->attempts + 1;
	if (attempts < ROT_MAX_ATTEMPTS) {
		double wait = ROT_BACKOFF_S * pow(2.0, attempts - 1);
		if (wait > ROT_BACKOFF_MAX_S)
			wait = ROT_BACKOFF_MAX_S;
		log_warn("rotation", "%s: %s failed (%s); retrying the rotation in %.0f s (attempt %d of %d)", r.arn,
		         secrets_step_name(job->step), why ? why : "", wait, attempts + 1, ROT_MAX_ATTEMPTS);
		st = store_prep(s, "UPDATE secret_rotations SET step = 0, attempts = ?2, not_before = ?3 "
		                   "WHERE secret_id = ?1");
		if (st) {
			sqlite3_bind_int64(st, 1, r.id);
			sqlite3_bind_int(st, 2, attempts);
			sqlite3_bind_double(st, 3, now + wait);
		}
		rc = exec(s, st, err);
		goto out;
	}
	/* Give up until the next scheduled rotation; AWSPENDING stays on the
	 * half-built version, which the next attempt reuses. */
	log_error("rotation", "%s: rotation failed %d times (last: %s failed: %s); giving up until the next "
	                      "scheduled rotation",
	          r.arn, attempts, secrets_step_name(job->step), why ? why : "");
	double next = r.rotation_enabled == 1 ? secrets_rules_next(r.rotation_rules, now) : 0;
	st = store_prep(s, "UPDATE secrets SET next_rotation = ?2 WHERE id = ?1");
	if (st) {
		sqlite3_bind_int64(st, 1, r.id);
		if (next > 0)
			sqlite3_bind_double(st, 2, secrets_ms(next));
		else
			sqlite3_bind_null(st, 2);
	}
	if (exec(s, st, err) < 0 || job_delete(s, r.id, err) < 0 || sync_id(s, r.id, now, err) < 0)
		goto out;
	rc = 0;
out:
	secrets_row_free(&r);
	return rc;
}

int secrets_job_done(struct store *s, const struct secrets_job *job, bool ok, const char *why, double now,
                     bool *more, struct emu_err *err)
{
	if (store_begin(s) < 0)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	if (job_done(s, job, ok, why, now, more, err) < 0) {
		store_rollback(s);
		return -1;
	}
	if (store_commit(s) < 0)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	return 0;
}
