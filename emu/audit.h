/*
 * The audit trail: every authentication and authorization decision (API
 * calls now, database logins later) with time, principal, action, resource,
 * decision and reason.  Recording is cheap (a copy into an in-memory queue);
 * audit_flush writes the queue in one transaction (main.c's loop does so
 * at most every AUDIT_BATCH_MS, or sooner when many are queued) and
 * appends JSON lines to the audit log file, so the hot path never waits on
 * SQLite.  Read back through CloudTrail's LookupEvents (audit_lookup_events)
 * and the admin endpoint.  Never holds secret values, passwords or tokens
 * (a token appears only as its log fingerprint, in `reason`).
 */
#ifndef EMU_AUDIT_H
#define EMU_AUDIT_H

#include "emu/buf.h"
#include "emu/call.h"
#include "emu/err.h"

#include <jansson.h>
#include <stdbool.h>

struct store;

struct audit_event {
	double time;
	const char *event_source;   /* "secretsmanager.amazonaws.com", "rds-db.amazonaws.com", ... */
	const char *event_name;     /* "GetSecretValue", "connect" */
	const char *account;        /* the caller's account ("" when unauthenticated) */
	const char *region;
	const char *principal_arn;
	const char *access_key_id;
	const char *resource_type;  /* "AWS::SecretsManager::Secret" */
	const char *resource;       /* ARN or identifier, may be NULL */
	const char *request_id;
	const char *source_ip;
	const char *user_agent;
	bool read_only;
	const char *decision;       /* "Allow", "Deny" (authorization), "Unauthenticated" (SigV4/token failure) */
	const char *error_code;     /* NULL on success */
	const char *reason;         /* why (error message or the decision's reason), capped */
};

/* Queues a copy of ev (no I/O). */
void audit_record(const struct audit_event *ev);
/* Writes queued events to the store (one transaction) and the log file. */
int audit_flush(struct store *s);
/* When the oldest queued event was recorded (clock_mono_ms), -1 when none
 * is; *n (may be NULL) gets how many are queued.  Readers of the trail
 * flush first, so the loop may batch writes for a few milliseconds. */
long long audit_pending_since(size_t *n);
/* Appends JSON lines to path from now on (NULL: no file). */
int audit_set_log(const char *path, struct emu_err *err);
/* Drops queued events and closes the log file. */
void audit_shutdown(void);
/* The newest `limit` events of an account (all accounts when NULL), as
 * CloudTrail records, one JSON line each, into out. */
int audit_dump_jsonl(struct store *s, const char *account, int limit, struct buf *out, struct emu_err *err);
/* CloudTrail LookupEvents (JSON 1.1 domain function). */
int audit_lookup_events(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err);

#endif
