/*
 * The Secrets Manager domain: one function per API operation (JSON in,
 * JSON out, AWS member names), plus the entry points the process needs
 * (purge of secrets whose recovery window ended, Lambda registration for
 * rotation, and the bookkeeping the rotation runner drives).
 *
 * Every operation: `in` is the request object (any JSON is tolerated:
 * wrong types give an error, never a crash); on success *out is a new
 * object (NULL means `{}`) and 0 is returned; on failure -1 with err set.
 * All state is scoped by (call->account, call->region); a full or partial
 * ARN may name a secret of another account in the same region (the
 * authorization layer decides whether the caller may use it).
 * Timestamps are epoch seconds with a millisecond fraction (json_real).
 */
#ifndef EMU_SECRETS_H
#define EMU_SECRETS_H

#include "emu/call.h"
#include "emu/err.h"

#include <jansson.h>
#include <stdbool.h>

struct store;

#define SM_OP(name) int sm_##name(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
SM_OP(batch_get_secret_value);
SM_OP(cancel_rotate_secret);
SM_OP(create_secret);
SM_OP(delete_resource_policy);
SM_OP(delete_secret);
SM_OP(describe_secret);
SM_OP(get_random_password);
SM_OP(get_resource_policy);
SM_OP(get_secret_value);
SM_OP(list_secret_version_ids);
SM_OP(list_secrets);
SM_OP(put_resource_policy);
SM_OP(put_secret_value);
SM_OP(remove_regions_from_replication);
SM_OP(replicate_secret_to_regions);
SM_OP(restore_secret);
SM_OP(rotate_secret);
SM_OP(stop_replication_to_replica);
SM_OP(tag_resource);
SM_OP(untag_resource);
SM_OP(update_secret);
SM_OP(update_secret_version_stage);
SM_OP(validate_resource_policy);
#undef SM_OP

/* Optional hooks wired by the process at start-up (all NULL in unit tests,
 * which then skip the check).  Each returns 0 to allow, or -1 with err set
 * to the error the caller must see. */
struct secrets_hooks {
	/* May the caller use the KMS key key_id to encrypt a new version
	 * (decrypt=false: kms:GenerateDataKey) or to decrypt one (decrypt=true:
	 * kms:Decrypt)?  key_id is the key's ARN (arn:aws:kms:REGION:ACCOUNT:
	 * key/ID, resolved from the secret's KmsKeyId on writes; on reads the key
	 * that protects the version, each key tried when a version has several),
	 * or NULL for the AWS managed key aws/secretsmanager.  Asked after the key
	 * is resolved and before it is used, on every value read and write made
	 * on a customer's behalf (not for replication).  The error set is what
	 * the caller sees (e.g. ERR_ACCESS_DENIED "Access to KMS is not
	 * allowed"); KMS's own failures (unknown, disabled, pending deletion)
	 * become ERR_SM_ENCRYPTION_FAILURE / ERR_SM_DECRYPTION_FAILURE. */
	int (*kms_check)(struct emu_call *call, const char *key_id, bool decrypt, struct emu_err *err);
	/* May the caller perform action on resource_arn?  Used where one call
	 * touches several secrets (BatchGetSecretValue needs GetSecretValue on
	 * each; its failures go to Errors[] instead of failing the call). */
	int (*authorize)(struct emu_call *call, const char *action, const char *resource_arn,
	                 const char *resource_account, const char *resource_policy, struct emu_err *err);
};
void secrets_set_hooks(const struct secrets_hooks *h);

/* Permanently deletes every secret whose recovery window ended at or
 * before now.  Returns the number purged, or -1 on a storage error. */
int secrets_purge_due(struct store *s, double now);

/* Secrets owned by another service (RDS's ManageMasterUserPassword): creates
 * secret `name` with SecretString `value`, OwningService `service`, inside
 * the caller's transaction (call = the service's request, so its caller's
 * KMS rights apply); writes the ARN (cap >= 2048).  Users cannot update
 * such a secret (InvalidRequestException), the owning service can. */
int secrets_service_create(struct emu_call *call, const char *name, const char *service, const char *value,
                           const char *kms_key_id, char *arn, size_t cap, struct emu_err *err);
/* New AWSCURRENT value of a service-owned secret (by ARN). */
int secrets_service_put(struct emu_call *call, const char *arn, const char *value, struct emu_err *err);
/* Deletes it at once (no recovery window), as RDS does with its instance. */
int secrets_service_delete(struct emu_call *call, const char *arn, struct emu_err *err);

/* Registers (or replaces) a local executable as the Lambda function arn:
 * argv is a non-empty JSON array of strings, env a JSON object of strings
 * or NULL, timeout_s 1..900. */
int secrets_lambda_register(struct store *s, const char *account, const char *region, const char *arn,
                            json_t *command_argv, json_t *env, int timeout_s, struct emu_err *err);

/* ---- rotation bookkeeping (driven by emu/rotation.c) -------------------- */

enum secrets_step { SECRETS_STEP_CREATE, SECRETS_STEP_SET, SECRETS_STEP_TEST, SECRETS_STEP_FINISH };
/* "createSecret", "setSecret", "testSecret", "finishSecret". */
const char *secrets_step_name(int step);

/* One unit of rotation work: run `step` of the rotation of secret_id. */
struct secrets_job {
	long long secret_id;
	char arn[2100];
	char account[16];
	char region[32];
	char version_id[72];
	char rotation_token[72];
	char lambda_arn[2100];
	int step;
	bool test_only;
	int attempts;
};

/* Starts the scheduled rotations that are due (rotation enabled and
 * NextRotationDate <= now, no rotation in progress), then lists up to max
 * jobs whose next step may run now (not_before <= now).  *n = count. */
int secrets_jobs_due(struct store *s, double now, struct secrets_job *jobs, int max, int *n, struct emu_err *err);
/* Is this rotation still wanted (not cancelled, secret not deleted)? */
bool secrets_job_current(struct store *s, long long secret_id, const char *version_id);
/* Records the result of running job->step.  On success the job moves to
 * the next step (or completes: LastRotatedDate, NextRotationDate, AWSPENDING
 * removed); on failure the whole rotation is retried from createSecret with
 * a back-off, a bounded number of times.  *more = another step is ready. */
int secrets_job_done(struct store *s, const struct secrets_job *job, bool ok, const char *why, double now,
                     bool *more, struct emu_err *err);
/* The registered command of a Lambda: new references (argv array, env
 * object or NULL) and the timeout; ERR_SM_RESOURCE_NOT_FOUND if unknown. */
int secrets_lambda_get(struct store *s, const char *arn, json_t **argv, json_t **env, int *timeout_s,
                       struct emu_err *err);

/* ---- rotation schedules (pure; exposed for tests) ----------------------- */

/* Validates a ScheduleExpression (`rate(N hours|days)`, N hours >= 4, or
 * `cron(min hour dom month dow year)` in UTC). */
int secrets_schedule_check(const char *expr, struct emu_err *err);
/* The first time strictly after `after` at which expr fires (rate: after +
 * interval); -1 if it never fires again (cron with past years only). */
double secrets_schedule_next(const char *expr, double after);

#endif
