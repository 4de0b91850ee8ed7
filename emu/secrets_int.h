/*
 * Internals shared by the emu/secrets*.c files (not for other modules):
 * the secret row, request-member accessors, lookup, versions and staging
 * labels, rendering, replica propagation and rotation-rule helpers.
 */
#ifndef EMU_SECRETS_INT_H
#define EMU_SECRETS_INT_H

#include "emu/call.h"
#include "emu/err.h"
#include "emu/secrets.h"
#include "emu/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define SM_CURRENT "AWSCURRENT"
#define SM_PREVIOUS "AWSPREVIOUS"
#define SM_PENDING "AWSPENDING"

#define SM_VALUE_MAX 65536      /* SecretString characters / SecretBinary bytes */
#define SM_STAGES_PER_VERSION 20
#define SM_TAGS_MAX 50
#define SM_VERSIONS_KEPT 100    /* deprecated versions beyond this are pruned ... */
#define SM_VERSION_MIN_AGE 86400.0 /* ... once older than 24 h */
#define SM_VID_MAX 72           /* version ids are 32..64 characters */

#define SM_MSG_NOT_FOUND "Secrets Manager can't find the specified secret."
#define SM_MSG_DELETED "You can't perform this operation on the secret because it was marked for deletion."
#define SM_MSG_REPLICA "Operation not permitted on a replica secret. Call must be made in primary secret's region."
#define SM_MSG_TOKEN_LEN "ClientRequestToken must be 32-64 characters long."
#define SM_MSG_TOKEN_REUSE \
	"You can't use ClientRequestToken %s because that value is already in use for a version of secret %s."

/* One row of `secrets`.  Strings are owned (NULL = no value); times are
 * epoch seconds, 0 = no value. */
struct sm_secret {
	long long id;
	char *account, *region, *name, *arn, *description, *kms_key_id, *type, *owning_service;
	double created, last_changed, last_accessed, deleted_date, last_rotated, next_rotation;
	int rotation_enabled; /* -1 never configured, 0 off, 1 on */
	char *rotation_lambda, *rotation_rules, *resource_policy, *primary_region, *replica_of, *create_token;
	char *ext_rotation_metadata, *ext_rotation_role;
};

/* A secret value: kind 0 none, 1 SecretString, 2 SecretBinary (raw bytes). */
struct sm_value {
	int kind;
	unsigned char *data;
	size_t len;
};

/* ---- request members (secrets.c) ---------------------------------------- */
/* Absent member -> *out = NULL (or the default) and 0, unless required.
 * Wrong JSON type -> SerializationException; length/range violations ->
 * ValidationException in AWS's "1 validation error detected" form. */
int secrets_in_str(json_t *in, const char *key, bool required, size_t min, size_t max, const char **out,
                   struct emu_err *err);
int secrets_in_bool(json_t *in, const char *key, bool dflt, bool *out, bool *present, struct emu_err *err);
int secrets_in_int(json_t *in, const char *key, long long lo, long long hi, long long *out, bool *present,
                   struct emu_err *err);
/* An array of strings (items min_items..max_items, each min..max long);
 * *out is borrowed (NULL when absent). */
int secrets_in_strlist(json_t *in, const char *key, bool required, size_t min_items, size_t max_items,
                       size_t min, size_t max, json_t **out, struct emu_err *err);
/* The ClientRequestToken member (32..64 characters) or NULL. */
int secrets_in_token(json_t *in, const char **out, struct emu_err *err);
/* SecretString / SecretBinary: both -> InvalidParameterException; none -> kind 0. */
int secrets_in_value(json_t *in, struct sm_value *v, struct emu_err *err);
void secrets_value_free(struct sm_value *v);
/* Adds SecretString or SecretBinary (base64) to obj. */
int secrets_value_put(json_t *obj, int kind, const void *data, size_t len, struct emu_err *err);
/* Tags member: array of {Key, Value}; validated (count, lengths, aws: prefix). */
int secrets_in_tags(json_t *in, const char *key, json_t **out, struct emu_err *err);
/* Code points of a UTF-8 string. */
/* lowerCamel member name for validation messages. */
void secrets_member_path(const char *key, char *out, size_t n);

/* ---- rows and lookup (secrets.c) ----------------------------------------- */
void secrets_row_free(struct sm_secret *r);
/* SecretId resolution: exact ARN -> name -> partial ARN (ARN without the
 * -XXXXXX suffix).  ResourceNotFoundException when nothing matches. */
int secrets_find(struct emu_call *call, const char *secret_id, struct sm_secret *out, struct emu_err *err);
/* The authorize hook for `action` on r, with r's tags as condition keys (0 when no hook). */
int secrets_authorize(struct emu_call *call, const char *action, const struct sm_secret *r, struct emu_err *err);
int secrets_load_id(struct store *s, long long id, struct sm_secret *out, struct emu_err *err);
/* Secret found by SecretId, not scheduled for deletion, not a replica. */
int secrets_find_writable(struct emu_call *call, json_t *in, struct sm_secret *out, struct emu_err *err);
int secrets_check_not_deleted(const struct sm_secret *r, struct emu_err *err);
int secrets_check_primary(const struct sm_secret *r, struct emu_err *err);
/* "arn:<partition>:secretsmanager:<region>:<account>:secret:" */
void secrets_arn_prefix(const char *region, const char *account, char *out, size_t n);
/* Same ARN, other region (replicas). */
char *secrets_arn_in_region(const char *arn, const char *region);

/* ---- versions and staging labels (secrets.c) -------------------------------- */
/* 1 and the version id in vid when stage is attached, 0 when not, -1 on error. */
int secrets_stage_holder(struct store *s, long long sid, const char *stage, char vid[SM_VID_MAX], struct emu_err *err);
/* Attaches stage to vid, taking it off any other version (rule 2); when
 * AWSCURRENT leaves version A, AWSPREVIOUS goes to A (rule 4). */
int secrets_stage_attach(struct store *s, long long sid, const char *stage, const char *vid, struct emu_err *err);
int secrets_stage_detach(struct store *s, long long sid, const char *stage, struct emu_err *err);
/* Labels on a version as a new JSON array (possibly empty). */
json_t *secrets_version_stages(struct store *s, long long sid, const char *vid);
/* 1 if the version exists (kind in *kind), 0 if not, -1 on error. */
int secrets_version_kind(struct store *s, long long sid, const char *vid, int *kind, struct emu_err *err);

/* ---- values at rest (secrets_enc.c) ------------------------------------------------ */
/* A version's value as stored: kind, nonce|ciphertext|tag under its data key,
 * the data key's KMS envelopes and the KmsKeyIds labels (JSON). */
struct sm_sealed {
	int kind;
	unsigned char *ct;
	size_t ct_len;
	unsigned char *data_keys; /* envelopes (secrets_enc.c) */
	size_t data_keys_len;
	char *kms_ids;
};
void secrets_sealed_free(struct sm_sealed *sv);
/* Encrypts v (kind != 0) for version vid of r under a fresh data key from
 * r's KMS key.  call != NULL: on a customer's behalf (the kms_check hook is
 * asked); NULL: by the service itself (replication).  KMS failures ->
 * EncryptionFailure. */
int secrets_seal(struct store *s, struct emu_call *call, const struct sm_secret *r, const char *vid,
                 const struct sm_value *v, double now, struct sm_sealed *out, struct emu_err *err);
/* Decrypts version vid of r into *v (kind 0: a placeholder without value);
 * *created (may be NULL) = its creation time.  call as secrets_seal (hooks
 * asked per key tried); KMS failures -> DecryptionFailure. */
int secrets_version_open(struct store *s, struct emu_call *call, const struct sm_secret *r, const char *vid,
                         double now, struct sm_value *v, double *created, struct emu_err *err);
/* 1 if the version exists and holds exactly value v, 0 if not, -1 on error. */
int secrets_version_same(struct store *s, const struct sm_secret *r, const char *vid, const struct sm_value *v,
                         double now, struct emu_err *err);
/* Inserts a version: sv == NULL (or kind 0) is a placeholder without value. */
int secrets_version_insert(struct store *s, const struct sm_secret *r, const char *vid, const struct sm_sealed *sv,
                           double now, struct emu_err *err);
/* Fills the value of an existing version (a rotation placeholder). */
int secrets_version_fill(struct store *s, const struct sm_secret *r, const char *vid, const struct sm_sealed *sv,
                         struct emu_err *err);
/* After r's KMS key changed: adds an envelope under the new key to the
 * versions labelled AWSCURRENT, AWSPENDING, AWSPREVIOUS (they stay openable
 * with the previous key too), skipping those the caller may not decrypt
 * or re-encrypt (as AWS documents). */
int secrets_rewrap_labelled(struct emu_call *call, const struct sm_secret *r, struct emu_err *err);
/* Version vid of secret `from`, re-encrypted for secret `to` (a replica):
 * *out.kind 0 when the version has no value. */
int secrets_reseal_for(struct store *s, const struct sm_secret *from, const struct sm_secret *to, const char *vid,
                       double now, struct sm_sealed *out, struct emu_err *err);

/* ---- versions, continued (secrets.c) ---------------------------------------------- */
/* Removes deprecated versions beyond the quota (rule 5). */
int secrets_versions_prune(struct store *s, long long sid, double now, struct emu_err *err);
/* version id -> [labels] for versions with labels (new object). */
json_t *secrets_stages_map(struct store *s, long long sid);
int secrets_touch(struct store *s, long long sid, double now, struct emu_err *err);
/* Called when AWSCURRENT moved outside a rotation: a manual change counts
 * as a rotation for the schedule (rule 12). */
int secrets_manual_rotation(struct store *s, const struct sm_secret *r, double now, struct emu_err *err);

/* ---- rendering (secrets.c) ----------------------------------------------------- */
json_t *secrets_ts(double t);
/* t rounded to milliseconds (how times are stored). */
double secrets_ms(double t);
double secrets_day(double t);
/* DescribeSecret (list_entry=false) or SecretListEntry (true). */
int secrets_render(struct store *s, const struct sm_secret *r, bool list_entry, json_t **out, struct emu_err *err);
json_t *secrets_tags_json(struct store *s, long long sid);
json_t *secrets_out_arn_name(const struct sm_secret *r);
/* Commit or roll back the transaction opened by a write operation. */
const struct secrets_hooks *secrets_hooks_get(void);
/* The GetSecretValue shape for one version; updates LastAccessedDate.
 * Errors follow GetSecretValue (not found / no value / stage mismatch). */
int secrets_value_read(struct emu_call *call, const struct sm_secret *r, const char *vid, const char *stage,
                       json_t **out, struct emu_err *err);

/* `in` must be an object (NULL is read as {}). */
int secrets_check_in(json_t *in, struct emu_err *err);

/* Defines the public operation `fn` as `impl` run inside one transaction
 * (savepoint): committed when impl succeeds, rolled back when it fails. */
#define SECRETS_TX_OP(fn, impl)                                                                    \
	int fn(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)               \
	{                                                                                          \
		*out = NULL;                                                                       \
		if (secrets_check_in(in, err) < 0)                                                 \
			return -1;                                                                 \
		if (store_begin(call->store) < 0)                                                  \
			return emu_err_set(err, ERR_INTERNAL, "internal storage error");           \
		return store_finish_json(call->store, impl(call, in, out, err), out, err);         \
	}

/* ---- replication (secrets_repl.c) ----------------------------------------------- */
/* Copies the primary's state to every replica (after each write to it). */
int secrets_sync_replicas(struct store *s, const struct sm_secret *primary, double now, struct emu_err *err);
json_t *secrets_replication_status(struct store *s, const struct sm_secret *primary);
/* Creates replicas for AddReplicaRegions (CreateSecret, ReplicateSecretToRegions). */
int secrets_replicate(struct store *s, const struct sm_secret *primary, json_t *regions, bool force, double now,
                      struct emu_err *err);

/* ---- rotation rules (secrets_rot.c) ---------------------------------------------- */
/* The next rotation time after `after` for stored RotationRules (JSON
 * text); 0 when the rules give no schedule. */
double secrets_rules_next(const char *rules_json, double after);

/* ---- ListSecrets filters (secrets_list.c) --------------------------------------- */
/* Validated Filters member (borrowed) or NULL. */
int secrets_in_filters(json_t *in, json_t **out, struct emu_err *err);
/* Ids of the secrets of (account, region) that pass the filters, in
 * ListSecrets order; caller frees *ids. */
int secrets_select(struct store *s, const char *account, const char *region, json_t *filters, bool include_deleted,
                   const char *sort_by, bool asc, long long **ids, size_t *n, struct emu_err *err);
/* Opaque NextToken for offset `off` of the listing described by `what`. */
char *secrets_token_make(const char *what, size_t off);
int secrets_token_parse(const char *token, const char *what, size_t *off, struct emu_err *err);

#endif
