/*
 * audit.c owns the audit queue, the audit_events table's rows, the JSON
 * lines log and the CloudTrail view of events.  It may call the store,
 * clock, log and util.  Invariants: audit_record never blocks or fails
 * (over AUDIT_QUEUE_MAX pending events the oldest are dropped and counted);
 * the table keeps at most AUDIT_KEEP rows (oldest deleted at flush); a
 * crash loses at most the events of the current loop iteration.
 */
#include "emu/audit.h"

#include "emu/clock.h"
#include "emu/log.h"
#include "emu/store.h"
#include "emu/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUDIT_QUEUE_MAX 65536
#define AUDIT_KEEP 50000
#define AUDIT_FIELD_MAX 2048

enum { F_SOURCE, F_NAME, F_ACCOUNT, F_REGION, F_PRINCIPAL, F_AKID, F_RTYPE, F_RESOURCE, F_REQID, F_IP, F_UA,
       F_DECISION, F_ERROR, F_REASON, F__COUNT };

struct queued {
	double time;
	bool read_only;
	char event_id[37];
	char *f[F__COUNT];
};

static struct queued *queue;
static size_t qlen, qcap;
static long long queued_since = -1; /* clock_mono_ms of the oldest unwritten event */
static unsigned long long dropped;
static FILE *audit_log_fp;

static char *cap_dup(const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s);
	return util_strndup(s, n > AUDIT_FIELD_MAX ? AUDIT_FIELD_MAX : n);
}

static void free_queued(struct queued *q)
{
	for (int i = 0; i < F__COUNT; i++)
		free(q->f[i]);
}

void audit_record(const struct audit_event *ev)
{
	if (qlen == AUDIT_QUEUE_MAX) {
		free_queued(&queue[0]);
		memmove(queue, queue + 1, (qlen - 1) * sizeof *queue);
		qlen--;
		dropped++;
	}
	if (qlen == qcap) {
		size_t n = qcap ? qcap * 2 : 64;
		struct queued *nq = realloc(queue, n * sizeof *nq);
		if (!nq) {
			dropped++;
			return;
		}
		queue = nq;
		qcap = n;
	}
	if (qlen == 0)
		queued_since = clock_mono_ms();
	struct queued *q = &queue[qlen++];
	memset(q, 0, sizeof *q);
	q->time = ev->time > 0 ? ev->time : clock_now();
	q->read_only = ev->read_only;
	util_request_id(q->event_id);
	const char *src[F__COUNT] = {ev->event_source, ev->event_name, ev->account, ev->region, ev->principal_arn,
	                             ev->access_key_id, ev->resource_type, ev->resource, ev->request_id,
	                             ev->source_ip, ev->user_agent, ev->decision, ev->error_code, ev->reason};
	for (int i = 0; i < F__COUNT; i++)
		q->f[i] = cap_dup(src[i]);
}

/* CloudTrail's userName: IAM user name, role session name, or "root". */
static const char *user_name(const char *arn, char *buf, size_t cap)
{
	if (!arn || !*arn)
		return NULL;
	if (util_has_suffix(arn, ":root"))
		return "root";
	const char *p = strstr(arn, ":user/");
	if (p) {
		const char *last = strrchr(p, '/');
		snprintf(buf, cap, "%s", last + 1);
		return buf;
	}
	p = strstr(arn, ":assumed-role/");
	if (p) {
		const char *last = strrchr(p, '/');
		snprintf(buf, cap, "%s", last + 1);
		return buf;
	}
	return NULL;
}

static const char *identity_type(const char *arn)
{
	if (!arn || !*arn)
		return "Unknown";
	if (util_has_suffix(arn, ":root"))
		return "Root";
	if (strstr(arn, ":assumed-role/"))
		return "AssumedRole";
	if (strstr(arn, ":user/"))
		return "IAMUser";
	return "Unknown";
}

static void set_str(json_t *o, const char *k, const char *v)
{
	if (v && *v)
		json_object_set_new(o, k, json_string(v));
}

/* The CloudTrail record of one event (what LookupEvents puts in CloudTrailEvent). */
static json_t *record_json(double time, const char *event_id, bool read_only, const char *const f[F__COUNT])
{
	char iso[21], un[256];
	clock_fmt_iso_s(time, iso);
	json_t *r = json_object(), *who = json_object();
	json_object_set_new(r, "eventVersion", json_string("1.08"));
	json_object_set_new(who, "type", json_string(identity_type(f[F_PRINCIPAL])));
	set_str(who, "arn", f[F_PRINCIPAL]);
	set_str(who, "accountId", f[F_ACCOUNT]);
	set_str(who, "accessKeyId", f[F_AKID]);
	set_str(who, "userName", user_name(f[F_PRINCIPAL], un, sizeof un));
	json_object_set_new(r, "userIdentity", who);
	json_object_set_new(r, "eventTime", json_string(iso));
	set_str(r, "eventSource", f[F_SOURCE]);
	set_str(r, "eventName", f[F_NAME]);
	set_str(r, "awsRegion", f[F_REGION]);
	set_str(r, "sourceIPAddress", f[F_IP]);
	set_str(r, "userAgent", f[F_UA]);
	if (f[F_ERROR] && *f[F_ERROR]) {
		json_object_set_new(r, "errorCode", json_string(f[F_ERROR]));
		set_str(r, "errorMessage", f[F_REASON]);
	}
	set_str(r, "requestID", f[F_REQID]);
	json_object_set_new(r, "eventID", json_string(event_id));
	json_object_set_new(r, "readOnly", json_boolean(read_only));
	if (f[F_RESOURCE] && *f[F_RESOURCE]) {
		json_t *res = json_object();
		if (util_has_prefix(f[F_RESOURCE], "arn:"))
			json_object_set_new(res, "ARN", json_string(f[F_RESOURCE]));
		else
			json_object_set_new(res, "name", json_string(f[F_RESOURCE]));
		set_str(res, "accountId", f[F_ACCOUNT]);
		set_str(res, "type", f[F_RTYPE]);
		json_object_set_new(r, "resources", json_pack("[o]", res));
	}
	json_object_set_new(r, "eventType", json_string("AwsApiCall"));
	set_str(r, "recipientAccountId", f[F_ACCOUNT]);
	json_t *x = json_object();
	set_str(x, "decision", f[F_DECISION]);
	set_str(x, "reason", f[F_REASON]);
	json_object_set_new(r, "rdsemu", x);
	return r;
}

int audit_set_log(const char *path, struct emu_err *err)
{
	if (audit_log_fp) {
		fclose(audit_log_fp);
		audit_log_fp = NULL;
	}
	if (!path)
		return 0;
	audit_log_fp = fopen(path, "ae");
	if (!audit_log_fp)
		return emu_err_set(err, ERR_INTERNAL, "cannot open audit log %s: %s", path, strerror(errno));
	return 0;
}

long long audit_pending_since(size_t *n)
{
	if (n)
		*n = qlen;
	return qlen ? queued_since : -1;
}

int audit_flush(struct store *s)
{
	if (qlen == 0)
		return 0;
	struct emu_err err;
	if (store_begin(s) < 0)
		return -1;
	sqlite3_stmt *st = store_prep(s,
	                              "INSERT INTO audit_events(event_id, time, account, region, event_source, event_name,"
	                              " principal_arn, access_key_id, resource_type, resource, request_id, source_ip,"
	                              " user_agent, read_only, decision, error_code, reason, user_name)"
	                              " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)");
	int rc = 0;
	for (size_t i = 0; i < qlen && st; i++) {
		struct queued *q = &queue[i];
		char un[256];
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, q->event_id, -1, SQLITE_STATIC);
		sqlite3_bind_double(st, 2, q->time);
		store_bind_text(st, 3, q->f[F_ACCOUNT] ? q->f[F_ACCOUNT] : "");
		store_bind_text(st, 4, q->f[F_REGION] ? q->f[F_REGION] : "");
		store_bind_text(st, 5, q->f[F_SOURCE]);
		store_bind_text(st, 6, q->f[F_NAME]);
		store_bind_text(st, 7, q->f[F_PRINCIPAL]);
		store_bind_text(st, 8, q->f[F_AKID]);
		store_bind_text(st, 9, q->f[F_RTYPE]);
		store_bind_text(st, 10, q->f[F_RESOURCE]);
		store_bind_text(st, 11, q->f[F_REQID]);
		store_bind_text(st, 12, q->f[F_IP]);
		store_bind_text(st, 13, q->f[F_UA]);
		sqlite3_bind_int(st, 14, q->read_only);
		store_bind_text(st, 15, q->f[F_DECISION]);
		store_bind_text(st, 16, q->f[F_ERROR]);
		store_bind_text(st, 17, q->f[F_REASON]);
		store_bind_text(st, 18, user_name(q->f[F_PRINCIPAL], un, sizeof un));
		if (sqlite3_step(st) != SQLITE_DONE) {
			rc = store_fail(s, &err);
			break;
		}
		if (audit_log_fp) {
			json_t *r = record_json(q->time, q->event_id, q->read_only, (const char *const *)q->f);
			char *line = json_dumps(r, JSON_COMPACT);
			if (line) {
				fputs(line, audit_log_fp);
				fputc('\n', audit_log_fp);
				free(line);
			}
			json_decref(r);
		}
	}
	if (!st)
		rc = -1;
	if (rc == 0) {
		sqlite3_stmt *del = store_prep(s, "DELETE FROM audit_events WHERE id <= (SELECT max(id) FROM audit_events) - ?1");
		if (del) {
			sqlite3_bind_int(del, 1, AUDIT_KEEP);
			sqlite3_step(del);
			sqlite3_reset(del);
		}
	}
	if (rc == 0 && store_commit(s) == 0) {
		if (audit_log_fp)
			fflush(audit_log_fp);
	} else {
		store_rollback(s);
		log_warn("audit", "could not store %zu audit events", qlen);
	}
	for (size_t i = 0; i < qlen; i++)
		free_queued(&queue[i]);
	qlen = 0;
	if (dropped) {
		log_warn("audit", "%llu audit events dropped (queue full)", dropped);
		dropped = 0;
	}
	return rc;
}

void audit_shutdown(void)
{
	for (size_t i = 0; i < qlen; i++)
		free_queued(&queue[i]);
	free(queue);
	queue = NULL;
	qlen = qcap = 0;
	if (audit_log_fp)
		fclose(audit_log_fp);
	audit_log_fp = NULL;
}

#define ROW_COLS                                                                                           \
	"event_id, time, read_only, event_source, event_name, account, region, principal_arn, access_key_id, " \
	"resource_type, resource, request_id, source_ip, user_agent, decision, error_code, reason, id"

static json_t *row_record(sqlite3_stmt *st)
{
	const char *f[F__COUNT];
	f[F_SOURCE] = store_col_text(st, 3);
	f[F_NAME] = store_col_text(st, 4);
	f[F_ACCOUNT] = store_col_text(st, 5);
	f[F_REGION] = store_col_text(st, 6);
	f[F_PRINCIPAL] = store_col_text(st, 7);
	f[F_AKID] = store_col_text(st, 8);
	f[F_RTYPE] = store_col_text(st, 9);
	f[F_RESOURCE] = store_col_text(st, 10);
	f[F_REQID] = store_col_text(st, 11);
	f[F_IP] = store_col_text(st, 12);
	f[F_UA] = store_col_text(st, 13);
	f[F_DECISION] = store_col_text(st, 14);
	f[F_ERROR] = store_col_text(st, 15);
	f[F_REASON] = store_col_text(st, 16);
	return record_json(sqlite3_column_double(st, 1), store_col_text(st, 0), sqlite3_column_int(st, 2) != 0, f);
}

int audit_dump_jsonl(struct store *s, const char *account, int limit, struct buf *out, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "SELECT " ROW_COLS " FROM audit_events WHERE ?1 IS NULL OR account = ?1"
	                                 " ORDER BY id DESC LIMIT ?2");
	if (!st)
		return store_fail(s, err);
	store_bind_text(st, 1, account);
	sqlite3_bind_int(st, 2, limit);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *r = row_record(st);
		char *line = json_dumps(r, JSON_COMPACT);
		json_decref(r);
		if (line) {
			buf_puts(out, line);
			buf_putc(out, '\n');
			free(line);
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, err);
}

/* ---- CloudTrail LookupEvents --------------------------------------------- */

static const char *attr_column(const char *key)
{
	static const char *const map[][2] = {
		{"EventId", "event_id"},         {"EventName", "event_name"},       {"Username", "user_name"},
		{"ResourceType", "resource_type"}, {"ResourceName", "resource"},   {"EventSource", "event_source"},
		{"AccessKeyId", "access_key_id"}, {"ReadOnly", "read_only"},
	};
	for (size_t i = 0; i < ARRAY_LEN(map); i++)
		if (strcmp(map[i][0], key) == 0)
			return map[i][1];
	return NULL;
}

int audit_lookup_events(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	/* Pending events of earlier requests become visible first. */
	audit_flush(call->store);
	json_t *attrs = json_object_get(in, "LookupAttributes");
	const char *col = NULL, *val = NULL;
	if (json_is_array(attrs) && json_array_size(attrs) > 1)
		return emu_err_set(err, ERR_CT_INVALID_LOOKUP_ATTRIBUTES, "You can only specify one lookup attribute.");
	if (json_is_array(attrs) && json_array_size(attrs) == 1) {
		json_t *a = json_array_get(attrs, 0);
		const char *k = json_string_value(json_object_get(a, "AttributeKey"));
		val = json_string_value(json_object_get(a, "AttributeValue"));
		col = k ? attr_column(k) : NULL;
		if (!col || !val)
			return emu_err_set(err, ERR_CT_INVALID_LOOKUP_ATTRIBUTES, "The lookup attribute is not valid.");
		if (strcmp(col, "read_only") == 0) {
			if (strcmp(val, "true") != 0 && strcmp(val, "false") != 0)
				return emu_err_set(err, ERR_CT_INVALID_LOOKUP_ATTRIBUTES,
				                   "ReadOnly must be true or false.");
			val = strcmp(val, "true") == 0 ? "1" : "0";
		}
	}
	json_t *js = json_object_get(in, "StartTime"), *je = json_object_get(in, "EndTime");
	double start = json_is_number(js) ? json_number_value(js) : 0;
	double end = json_is_number(je) ? json_number_value(je) : 1e12;
	if (start > end)
		return emu_err_set(err, ERR_CT_INVALID_TIME_RANGE, "Start time must be before end time.");
	json_t *jm = json_object_get(in, "MaxResults");
	long long max = json_is_integer(jm) ? json_integer_value(jm) : 50;
	if (max < 1 || max > 50)
		return emu_err_set(err, ERR_CT_INVALID_MAX_RESULTS, "MaxResults must be between 1 and 50.");
	long long before = -1; /* NextToken: the row id to continue below */
	json_t *jt = json_object_get(in, "NextToken");
	if (json_is_string(jt)) {
		char *end_p;
		const char *t = json_string_value(jt);
		if (!util_has_prefix(t, "rdsemu-ct-") || (before = strtoll(t + 10, &end_p, 10)) <= 0 || *end_p)
			return emu_err_set(err, ERR_SM_INVALID_NEXT_TOKEN, "Invalid NextToken.");
	}
	/* The column name comes from a fixed table, never from the request. */
	char sql[512];
	snprintf(sql, sizeof sql,
	         "SELECT " ROW_COLS " FROM audit_events WHERE account = ?1 AND region = ?2 AND time >= ?3 AND time <= ?4"
	         " AND (?5 < 0 OR id < ?5) %s%s%s ORDER BY id DESC LIMIT ?7",
	         col ? "AND " : "", col ? col : "", col ? " = ?6" : "");
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(store_db(call->store), sql, -1, &st, NULL) != SQLITE_OK)
		return store_fail(call->store, err);
	sqlite3_bind_text(st, 1, call->account, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, call->region, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 3, start);
	sqlite3_bind_double(st, 4, end);
	sqlite3_bind_int64(st, 5, before);
	if (col)
		sqlite3_bind_text(st, 6, val, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 7, max + 1);
	json_t *events = json_array();
	long long last_id = 0;
	int rc, n = 0;
	bool more = false;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == max) {
			more = true;
			break;
		}
		json_t *rec = row_record(st);
		json_t *e = json_object();
		char *dump = json_dumps(rec, JSON_COMPACT);
		set_str(e, "EventId", store_col_text(st, 0));
		set_str(e, "EventName", store_col_text(st, 4));
		json_object_set_new(e, "ReadOnly", json_string(sqlite3_column_int(st, 2) ? "true" : "false"));
		set_str(e, "AccessKeyId", store_col_text(st, 8));
		json_object_set_new(e, "EventTime", json_real(sqlite3_column_double(st, 1)));
		set_str(e, "EventSource", store_col_text(st, 3));
		json_t *un = json_object_get(json_object_get(rec, "userIdentity"), "userName");
		if (un)
			json_object_set(e, "Username", un);
		const char *res = store_col_text(st, 10);
		if (res && *res) {
			json_t *r = json_object();
			set_str(r, "ResourceType", store_col_text(st, 9));
			json_object_set_new(r, "ResourceName", json_string(res));
			json_object_set_new(e, "Resources", json_pack("[o]", r));
		}
		json_object_set_new(e, "CloudTrailEvent", json_string(dump ? dump : "{}"));
		free(dump);
		json_decref(rec);
		json_array_append_new(events, e);
		last_id = sqlite3_column_int64(st, 17);
		n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		json_decref(events);
		return store_fail(call->store, err);
	}
	*out = json_object();
	json_object_set_new(*out, "Events", events);
	if (more) {
		char tok[48];
		snprintf(tok, sizeof tok, "rdsemu-ct-%lld", last_id);
		json_object_set_new(*out, "NextToken", json_string(tok));
	}
	return 0;
}
