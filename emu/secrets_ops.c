/*
 * secrets_ops.c owns the Secrets Manager operations on one secret's value,
 * versions and metadata: CreateSecret, GetSecretValue, PutSecretValue,
 * UpdateSecret, UpdateSecretVersionStage, DescribeSecret, DeleteSecret,
 * RestoreSecret, TagResource, UntagResource (aws-behaviour.md 5.3-5.6),
 * and GetRandomPassword (the generator is emu/password.c).
 *
 * May call: the shared machinery of secrets.c and secrets_enc.c (values
 * at rest) through secrets_int.h, password,
 * store, util.  Invariants: every write runs in one savepoint (SECRETS_TX_OP) and
 * ends by copying the primary's state to its replicas; a secret that has a
 * value always has an AWSCURRENT version; values are never logged.
 */
#include "emu/secrets_int.h"

#include "emu/password.h"
#include "emu/util.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_SCHEDULED "You can't create this secret because a secret with this name is already scheduled for deletion."

/* Set while a service creates its own secret: names like rds!db-... are
 * AWS's, refused to users. */
static bool service_creating;

static bool name_ok(const char *n)
{
	for (const char *p = n; *p; p++) {
		char c = *p;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("/_+=.@-", c)))
			return false;
	}
	return true;
}

/* NULL for the AWS managed key (DescribeSecret leaves it out). */
static const char *kms_norm(const char *k)
{
	if (!k || !*k || strcmp(k, "alias/aws/secretsmanager") == 0)
		return NULL;
	return k;
}

static int exec_id(struct store *s, sqlite3_stmt *st, struct emu_err *err)
{
	if (!st)
		return store_fail(s, err);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, err);
}

static int tags_count(struct store *s, long long sid)
{
	sqlite3_stmt *st = store_prep(s, "SELECT count(*) FROM secret_tags WHERE secret_id = ?1");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, sid);
	int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_reset(st);
	return n;
}

/* Adds new keys, overwrites the values of existing keys (TagResource). */
static int tags_apply(struct store *s, long long sid, json_t *tags, struct emu_err *err)
{
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t) {
		const char *v = json_string_value(json_object_get(t, "Value"));
		sqlite3_stmt *st = store_prep(
			s, "INSERT INTO secret_tags(secret_id, key, value, ord) VALUES(?1, ?2, ?3, "
			   "(SELECT coalesce(max(ord), 0) + 1 FROM secret_tags WHERE secret_id = ?1)) "
			   "ON CONFLICT(secret_id, key) DO UPDATE SET value = excluded.value");
		if (!st)
			return store_fail(s, err);
		sqlite3_bind_int64(st, 1, sid);
		store_bind_text(st, 2, json_string_value(json_object_get(t, "Key")));
		store_bind_text(st, 3, v ? v : "");
		if (exec_id(s, st, err) < 0)
			return -1;
	}
	int n = tags_count(s, sid);
	if (n < 0)
		return store_fail(s, err);
	if (n > SM_TAGS_MAX)
		return emu_err_set(err, ERR_SM_INVALID_PARAMETER, "A secret can have at most %d tags.", SM_TAGS_MAX);
	return 0;
}

/* Common tail of every write: LastChangedDate, replicas. */
static int written(struct emu_call *call, long long sid, struct emu_err *err)
{
	struct sm_secret r;
	if (secrets_touch(call->store, sid, call->now, err) < 0 || secrets_load_id(call->store, sid, &r, err) < 0)
		return -1;
	int rc = secrets_sync_replicas(call->store, &r, call->now, err);
	secrets_row_free(&r);
	return rc;
}

/* Encrypts v for version vid of r (secrets_enc.c) and inserts or fills it. */
static int store_value(struct emu_call *call, const struct sm_secret *r, const char *vid, const struct sm_value *v,
                       bool fill, struct emu_err *err)
{
	struct sm_sealed sv;
	if (secrets_seal(call->store, call, r, vid, v, call->now, &sv, err) < 0)
		return -1;
	int rc = fill ? secrets_version_fill(call->store, r, vid, &sv, err)
	              : secrets_version_insert(call->store, r, vid, &sv, call->now, err);
	secrets_sealed_free(&sv);
	return rc;
}

/* ---- CreateSecret ----------------------------------------------------------------- */

/* A retried CreateSecret (same ClientRequestToken) answers like the first
 * call; returns 1 when it was such a retry, 0 when not, -1 on error. */
static int create_retry(struct emu_call *call, const struct sm_secret *r, const char *token,
                        const struct sm_value *v, json_t **out, struct emu_err *err)
{
	if (!token)
		return 0;
	int kind = 0, rc = secrets_version_kind(call->store, r->id, token, &kind, err);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		if (v->kind == 0 || !(rc = secrets_version_same(call->store, r, token, v, call->now, err)))
			return emu_err_set(err, ERR_SM_RESOURCE_EXISTS, SM_MSG_TOKEN_REUSE, token, r->arn);
		if (rc < 0)
			return -1;
	} else if (!(r->create_token && strcmp(r->create_token, token) == 0 && v->kind == 0)) {
		return 0;
	}
	*out = secrets_out_arn_name(r);
	if (rc == 1)
		json_object_set_new(*out, "VersionId", json_string(token));
	json_t *rs = secrets_replication_status(call->store, r);
	if (json_array_size(rs))
		json_object_set_new(*out, "ReplicationStatus", rs);
	else
		json_decref(rs);
	return 1;
}

static int create_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct store *s = call->store;
	const char *name, *token, *desc, *kms, *type;
	json_t *tags, *regions = json_object_get(in, "AddReplicaRegions");
	bool force;
	if (secrets_in_str(in, "Name", true, 1, 512, &name, err) < 0 || secrets_in_token(in, &token, err) < 0 ||
	    secrets_in_str(in, "Description", false, 0, 2048, &desc, err) < 0 ||
	    secrets_in_str(in, "KmsKeyId", false, 0, 2048, &kms, err) < 0 ||
	    secrets_in_str(in, "Type", false, 0, 256, &type, err) < 0 || secrets_in_tags(in, "Tags", &tags, err) < 0 ||
	    secrets_in_bool(in, "ForceOverwriteReplicaSecret", false, &force, NULL, err) < 0)
		return -1;
	if (!name_ok(name) && !(service_creating && util_has_prefix(name, "rds!")))
		return emu_err_set(err, ERR_VALIDATION,
		                   "Invalid name. Must be a valid name containing alphanumeric characters, or any of the "
		                   "following: -/_+=.@!");
	if (json_is_null(regions))
		regions = NULL;
	if (regions && !json_is_array(regions))
		return emu_err_set(err, ERR_SERIALIZATION,
		                   "Unexpected value type for member AddReplicaRegions: expected a list.");
	kms = kms_norm(kms);

	struct sm_value v;
	if (secrets_in_value(in, &v, err) < 0)
		return -1;
	int rc = -1;
	struct sm_secret r;
	memset(&r, 0, sizeof r);
	if (secrets_find(call, name, &r, err) == 0) {
		if (r.deleted_date > 0) {
			emu_err_set(err, ERR_SM_INVALID_REQUEST, MSG_SCHEDULED);
			goto out;
		}
		int again = create_retry(call, &r, token, &v, out, err);
		if (again == 0)
			emu_err_set(err, ERR_SM_RESOURCE_EXISTS, "The operation failed because the secret %s already exists.",
			            name);
		rc = again == 1 ? 0 : -1;
		goto out;
	}
	if (err->code != ERR_SM_RESOURCE_NOT_FOUND)
		goto out;
	emu_err_clear(err);

	char prefix[160], arn[800];
	secrets_arn_prefix(call->region, call->account, prefix, sizeof prefix);
	sqlite3_stmt *st = store_prep(s, "INSERT INTO secrets(account, region, name, arn, description, kms_key_id, type, "
	                                 "created, last_changed, create_token) "
	                                 "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)");
	for (int attempt = 0;; attempt++) {
		char suffix[7];
		util_random_from(suffix, 6, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
		snprintf(arn, sizeof arn, "%s%s-%s", prefix, name, suffix);
		if (!st) {
			store_fail(s, err);
			goto out;
		}
		store_bind_text(st, 1, call->account);
		store_bind_text(st, 2, call->region);
		store_bind_text(st, 3, name);
		store_bind_text(st, 4, arn);
		store_bind_text(st, 5, desc);
		store_bind_text(st, 6, kms);
		store_bind_text(st, 7, type);
		sqlite3_bind_double(st, 8, secrets_ms(call->now));
		store_bind_text(st, 9, token);
		int src = sqlite3_step(st);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (src == SQLITE_DONE)
			break;
		/* An ARN collision (62^6 suffixes) is retried with a new suffix. */
		if (src != SQLITE_CONSTRAINT || attempt >= 8) {
			store_fail(s, err);
			goto out;
		}
	}
	if (secrets_load_id(s, sqlite3_last_insert_rowid(store_db(s)), &r, err) < 0)
		goto out;
	char vid[SM_VID_MAX] = "";
	if (v.kind) {
		if (token)
			snprintf(vid, sizeof vid, "%s", token);
		else
			util_uuid(vid);
		if (store_value(call, &r, vid, &v, false, err) < 0 ||
		    secrets_stage_attach(s, r.id, SM_CURRENT, vid, err) < 0)
			goto out;
	}
	if (tags && tags_apply(s, r.id, tags, err) < 0)
		goto out;
	if (regions && json_array_size(regions) > 0 && secrets_replicate(s, &r, regions, force, call->now, err) < 0)
		goto out;
	*out = secrets_out_arn_name(&r);
	if (vid[0])
		json_object_set_new(*out, "VersionId", json_string(vid));
	if (regions && json_array_size(regions) > 0)
		json_object_set_new(*out, "ReplicationStatus", secrets_replication_status(s, &r));
	rc = 0;
out:
	secrets_row_free(&r);
	secrets_value_free(&v);
	return rc;
}
SECRETS_TX_OP(sm_create_secret, create_impl)

/* ---- GetSecretValue / DescribeSecret ---------------------------------------------- */

static int get_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *id, *vid, *stage;
	struct sm_secret r;
	if (secrets_in_str(in, "SecretId", true, 1, 2048, &id, err) < 0 ||
	    secrets_in_str(in, "VersionId", false, 32, 64, &vid, err) < 0 ||
	    secrets_in_str(in, "VersionStage", false, 1, 256, &stage, err) < 0 || secrets_find(call, id, &r, err) < 0)
		return -1;
	int rc = secrets_check_not_deleted(&r, err);
	if (rc == 0)
		rc = secrets_value_read(call, &r, vid, stage, out, err);
	secrets_row_free(&r);
	return rc;
}
SECRETS_TX_OP(sm_get_secret_value, get_impl)

static int describe_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *id;
	struct sm_secret r;
	if (secrets_in_str(in, "SecretId", true, 1, 2048, &id, err) < 0 || secrets_find(call, id, &r, err) < 0)
		return -1;
	int rc = secrets_render(call->store, &r, false, out, err);
	secrets_row_free(&r);
	return rc;
}
SECRETS_TX_OP(sm_describe_secret, describe_impl)

/* ---- PutSecretValue ----------------------------------------------------------------- */

static bool rotation_token_ok(const char *t)
{
	for (const char *p = t; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return false;
	return true;
}

static int put_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct store *s = call->store;
	const char *token, *rtoken;
	json_t *stages;
	struct sm_secret r;
	struct sm_value v;
	memset(&v, 0, sizeof v);
	if (secrets_find_writable(call, in, &r, err) < 0)
		return -1;
	int rc = -1;
	if (secrets_in_token(in, &token, err) < 0 ||
	    secrets_in_strlist(in, "VersionStages", false, 1, 20, 1, 256, &stages, err) < 0 ||
	    secrets_in_str(in, "RotationToken", false, 36, 256, &rtoken, err) < 0 || secrets_in_value(in, &v, err) < 0)
		goto out;
	if (rtoken && !rotation_token_ok(rtoken)) {
		emu_err_set(err, ERR_VALIDATION,
		            "1 validation error detected: Value at 'rotationToken' failed to satisfy constraint: "
		            "Member must satisfy regular expression pattern: ^[a-zA-Z0-9\\-]+$");
		goto out;
	}
	if (v.kind == 0) {
		emu_err_set(err, ERR_SM_INVALID_REQUEST, "You must provide either SecretString or SecretBinary.");
		goto out;
	}
	if (r.owning_service && call->action) { /* the owning service calls without an action */
		emu_err_set(err, ERR_SM_INVALID_REQUEST,
		            "You can't update secret %s because it's managed by %s. Use the managing service to update it.",
		            r.name, r.owning_service);
		goto out;
	}
	char vid[SM_VID_MAX];
	if (token)
		snprintf(vid, sizeof vid, "%s", token);
	else
		util_uuid(vid);
	int kind = 0, exists = secrets_version_kind(s, r.id, vid, &kind, err);
	if (exists < 0)
		goto out;
	if (exists && kind != 0) {
		/* Same token, same value: an idempotent retry changes nothing. */
		int same = secrets_version_same(s, &r, vid, &v, call->now, err);
		if (same < 0)
			goto out;
		if (!same) {
			emu_err_set(err, ERR_SM_RESOURCE_EXISTS, SM_MSG_TOKEN_REUSE, vid, r.arn);
			goto out;
		}
		*out = secrets_out_arn_name(&r);
		json_object_set_new(*out, "VersionId", json_string(vid));
		json_object_set_new(*out, "VersionStages", secrets_version_stages(s, r.id, vid));
		rc = 0;
		goto out;
	}
	/* A version that exists without a value is the placeholder RotateSecret
	 * created: createSecret fills it in (rule 9). */
	if (store_value(call, &r, vid, &v, exists == 1, err) < 0)
		goto out;
	char before[SM_VID_MAX], after[SM_VID_MAX];
	if (secrets_stage_holder(s, r.id, SM_CURRENT, before, err) < 0)
		goto out;
	if (stages) {
		size_t i;
		json_t *e;
		json_array_foreach(stages, i, e) if (secrets_stage_attach(s, r.id, json_string_value(e), vid, err) < 0)
			goto out;
	} else if (secrets_stage_attach(s, r.id, SM_CURRENT, vid, err) < 0) {
		goto out;
	}
	int has = secrets_stage_holder(s, r.id, SM_CURRENT, after, err);
	if (has < 0)
		goto out;
	if (has == 0) { /* the first value always becomes AWSCURRENT (rule 8) */
		if (secrets_stage_attach(s, r.id, SM_CURRENT, vid, err) < 0)
			goto out;
		snprintf(after, sizeof after, "%s", vid);
	}
	if (strcmp(before, after) != 0 && secrets_manual_rotation(s, &r, call->now, err) < 0)
		goto out;
	if (secrets_versions_prune(s, r.id, call->now, err) < 0 || written(call, r.id, err) < 0)
		goto out;
	*out = secrets_out_arn_name(&r);
	json_object_set_new(*out, "VersionId", json_string(vid));
	json_object_set_new(*out, "VersionStages", secrets_version_stages(s, r.id, vid));
	rc = 0;
out:
	secrets_value_free(&v);
	secrets_row_free(&r);
	return rc;
}
SECRETS_TX_OP(sm_put_secret_value, put_impl)

/* ---- UpdateSecret -------------------------------------------------------------------- */

static int update_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct store *s = call->store;
	const char *token, *desc, *kms, *type;
	struct sm_secret r;
	struct sm_value v;
	memset(&v, 0, sizeof v);
	if (secrets_find_writable(call, in, &r, err) < 0)
		return -1;
	int rc = -1;
	if (secrets_in_token(in, &token, err) < 0 || secrets_in_str(in, "Description", false, 0, 2048, &desc, err) < 0 ||
	    secrets_in_str(in, "KmsKeyId", false, 0, 2048, &kms, err) < 0 ||
	    secrets_in_str(in, "Type", false, 0, 256, &type, err) < 0 || secrets_in_value(in, &v, err) < 0)
		goto out;
	if (r.owning_service) {
		emu_err_set(err, ERR_SM_INVALID_REQUEST,
		            "You can't update secret %s because it's managed by %s. Use the managing service to update it.",
		            r.name, r.owning_service);
		goto out;
	}
	if (desc) {
		sqlite3_stmt *st = store_prep(s, "UPDATE secrets SET description = ?2 WHERE id = ?1");
		if (st) {
			sqlite3_bind_int64(st, 1, r.id);
			store_bind_text(st, 2, desc);
		}
		if (exec_id(s, st, err) < 0)
			goto out;
	}
	if (kms) { /* "" switches back to aws/secretsmanager */
		sqlite3_stmt *st = store_prep(s, "UPDATE secrets SET kms_key_id = ?2 WHERE id = ?1");
		if (st) {
			sqlite3_bind_int64(st, 1, r.id);
			store_bind_text(st, 2, kms_norm(kms));
		}
		if (exec_id(s, st, err) < 0)
			goto out;
		free(r.kms_key_id);
		r.kms_key_id = kms_norm(kms) ? util_strdup(kms) : NULL;
		/* [M] the new key also protects AWSCURRENT, AWSPENDING, AWSPREVIOUS. */
		if (secrets_rewrap_labelled(call, &r, err) < 0)
			goto out;
	}
	if (type) {
		sqlite3_stmt *st = store_prep(s, "UPDATE secrets SET type = ?2 WHERE id = ?1");
		if (st) {
			sqlite3_bind_int64(st, 1, r.id);
			store_bind_text(st, 2, type);
		}
		if (exec_id(s, st, err) < 0)
			goto out;
	}
	char vid[SM_VID_MAX] = "";
	if (v.kind) {
		if (token)
			snprintf(vid, sizeof vid, "%s", token);
		else
			util_uuid(vid);
		int kind, exists = secrets_version_kind(s, r.id, vid, &kind, err);
		if (exists < 0)
			goto out;
		/* [M] "If you call this operation with a ClientRequestToken that
		 * matches an existing version's VersionId, the operation results in
		 * an error" (even with the same value). */
		if (exists) {
			emu_err_set(err, ERR_SM_RESOURCE_EXISTS, SM_MSG_TOKEN_REUSE, vid, r.arn);
			goto out;
		}
		if (store_value(call, &r, vid, &v, false, err) < 0 ||
		    secrets_stage_attach(s, r.id, SM_CURRENT, vid, err) < 0 ||
		    secrets_manual_rotation(s, &r, call->now, err) < 0 || secrets_versions_prune(s, r.id, call->now, err) < 0)
			goto out;
	}
	if (written(call, r.id, err) < 0)
		goto out;
	*out = secrets_out_arn_name(&r);
	if (vid[0])
		json_object_set_new(*out, "VersionId", json_string(vid));
	rc = 0;
out:
	secrets_value_free(&v);
	secrets_row_free(&r);
	return rc;
}
SECRETS_TX_OP(sm_update_secret, update_impl)

/* ---- UpdateSecretVersionStage ------------------------------------------------------------ */

static int version_known(struct store *s, long long sid, const char *vid, int *kind, struct emu_err *err)
{
	int rc = secrets_version_kind(s, sid, vid, kind, err);
	if (rc == 0)
		return emu_err_set(err, ERR_SM_INVALID_PARAMETER, "Not a valid version: %s", vid);
	return rc < 0 ? -1 : 0;
}

static int stage_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct store *s = call->store;
	const char *label, *from, *to;
	struct sm_secret r;
	if (secrets_find_writable(call, in, &r, err) < 0)
		return -1;
	int rc = -1, kind_from = 0, kind_to = 0;
	if (secrets_in_str(in, "VersionStage", true, 1, 256, &label, err) < 0 ||
	    secrets_in_str(in, "RemoveFromVersionId", false, 32, 64, &from, err) < 0 ||
	    secrets_in_str(in, "MoveToVersionId", false, 32, 64, &to, err) < 0)
		goto out;
	if (!from && !to) {
		/* [?] nothing to do is refused rather than ignored */
		emu_err_set(err, ERR_SM_INVALID_PARAMETER, "You must specify MoveToVersionId or RemoveFromVersionId.");
		goto out;
	}
	if ((from && version_known(s, r.id, from, &kind_from, err) < 0) ||
	    (to && version_known(s, r.id, to, &kind_to, err) < 0))
		goto out;
	char holder[SM_VID_MAX];
	int has = secrets_stage_holder(s, r.id, label, holder, err);
	if (has < 0)
		goto out;
	bool moved_current = false;
	if (to) {
		if (has && strcmp(holder, to) != 0) {
			if (!from) {
				emu_err_set(err, ERR_SM_INVALID_PARAMETER,
				            "The parameter RemoveFromVersionId can't be empty. Staging label %s is currently "
				            "attached to version %s, so you must explicitly reference that version in "
				            "RemoveFromVersionId.",
				            label, holder);
				goto out;
			}
			if (strcmp(from, holder) != 0) {
				/* [?] text for a RemoveFromVersionId that does not hold the label */
				emu_err_set(err, ERR_SM_INVALID_PARAMETER,
				            "The parameter RemoveFromVersionId doesn't match. Staging label %s is currently "
				            "attached to version %s, so you must explicitly reference that version in "
				            "RemoveFromVersionId.",
				            label, holder);
				goto out;
			}
		} else if (from && (!has || strcmp(from, holder) != 0)) {
			emu_err_set(err, ERR_SM_INVALID_PARAMETER, "Staging label %s is not attached to version %s.", label,
			            from);
			goto out;
		}
		if (strcmp(label, SM_CURRENT) == 0 && kind_to == 0) {
			/* [?] rule 3: AWSCURRENT always labels a version with a value */
			emu_err_set(err, ERR_SM_INVALID_REQUEST,
			            "You can't attach the staging label AWSCURRENT to version %s because it has no secret "
			            "value.",
			            to);
			goto out;
		}
		moved_current = strcmp(label, SM_CURRENT) == 0 && !(has && strcmp(holder, to) == 0);
		if (secrets_stage_attach(s, r.id, label, to, err) < 0)
			goto out;
	} else {
		if (!has || strcmp(holder, from) != 0) {
			emu_err_set(err, ERR_SM_INVALID_PARAMETER, "Staging label %s is not attached to version %s.", label,
			            from);
			goto out;
		}
		if (strcmp(label, SM_CURRENT) == 0) {
			/* [?] removing AWSCURRENT without moving it would leave no current value */
			emu_err_set(err, ERR_SM_INVALID_PARAMETER,
			            "You can't remove the staging label AWSCURRENT from version %s without moving it to "
			            "another version with MoveToVersionId.",
			            from);
			goto out;
		}
		if (secrets_stage_detach(s, r.id, label, err) < 0)
			goto out;
	}
	if (moved_current && secrets_manual_rotation(s, &r, call->now, err) < 0)
		goto out;
	if (secrets_versions_prune(s, r.id, call->now, err) < 0 || written(call, r.id, err) < 0)
		goto out;
	*out = secrets_out_arn_name(&r);
	rc = 0;
out:
	secrets_row_free(&r);
	return rc;
}
SECRETS_TX_OP(sm_update_secret_version_stage, stage_impl)

/* ---- DeleteSecret / RestoreSecret ------------------------------------------------------------ */

static int delete_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct store *s = call->store;
	const char *id;
	long long days = 30;
	bool force, has_days;
	if (secrets_in_str(in, "SecretId", true, 1, 2048, &id, err) < 0 ||
	    secrets_in_bool(in, "ForceDeleteWithoutRecovery", false, &force, NULL, err) < 0)
		return -1;
	json_t *w = json_object_get(in, "RecoveryWindowInDays");
	has_days = w && !json_is_null(w);
	if (has_days) {
		if (!json_is_integer(w))
			return emu_err_set(err, ERR_SERIALIZATION,
			                   "Unexpected value type for member RecoveryWindowInDays: expected an integer.");
		days = (long long)json_integer_value(w);
	}
	if (force && has_days)
		return emu_err_set(err, ERR_SM_INVALID_PARAMETER,
		                   "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
	if (days < 7 || days > 30)
		return emu_err_set(err, ERR_SM_INVALID_PARAMETER,
		                   "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).");
	struct sm_secret r;
	if (secrets_find(call, id, &r, err) < 0) {
		if (!force || err->code != ERR_SM_RESOURCE_NOT_FOUND)
			return -1;
		/* [M] forced deletion of a secret that does not exist succeeds.
		 * [?] The response echoes the SecretId as Name (and as ARN when it
		 * is one; otherwise the ARN without suffix). */
		emu_err_clear(err);
		*out = json_object();
		if (util_has_prefix(id, "arn:")) {
			json_object_set_new(*out, "ARN", json_string(id));
			const char *n = strstr(id, ":secret:");
			json_object_set_new(*out, "Name", json_string(n ? n + 8 : id));
		} else {
			char prefix[160];
			secrets_arn_prefix(call->region, call->account, prefix, sizeof prefix);
			char *arn = util_xcalloc(strlen(prefix) + strlen(id) + 1, 1);
			sprintf(arn, "%s%s", prefix, id);
			json_object_set_new(*out, "ARN", json_string(arn));
			json_object_set_new(*out, "Name", json_string(id));
			free(arn);
		}
		json_object_set_new(*out, "DeletionDate", secrets_ts(call->now));
		return 0;
	}
	int rc = -1;
	if (secrets_check_primary(&r, err) < 0)
		goto out;
	if (r.deleted_date > 0 && !force) {
		emu_err_set(err, ERR_SM_INVALID_REQUEST, SM_MSG_DELETED);
		goto out;
	}
	json_t *rs = secrets_replication_status(s, &r);
	if (json_array_size(rs) > 0) {
		char regions[512] = "";
		size_t i, off = 0;
		json_t *e;
		json_array_foreach(rs, i, e) {
			int n = snprintf(regions + off, sizeof regions - off, "%s%s", i ? ", " : "",
			                 json_string_value(json_object_get(e, "Region")));
			if (n < 0 || (size_t)n >= sizeof regions - off)
				break;
			off += (size_t)n;
		}
		json_decref(rs);
		/* [?] text; the rule itself is [M] */
		emu_err_set(err, ERR_SM_INVALID_PARAMETER,
		            "You can't delete secret %s that still has replica regions [%s]. Remove the replicas first "
		            "with RemoveRegionsFromReplication.",
		            r.name, regions);
		goto out;
	}
	json_decref(rs);
	double when = call->now;
	sqlite3_stmt *st;
	if (force) {
		st = store_prep(s, "DELETE FROM secrets WHERE id = ?1");
		if (st)
			sqlite3_bind_int64(st, 1, r.id);
	} else {
		when = call->now + (double)days * 86400.0;
		st = store_prep(s, "UPDATE secrets SET deleted_date = ?2, last_changed = ?3 WHERE id = ?1");
		if (st) {
			sqlite3_bind_int64(st, 1, r.id);
			sqlite3_bind_double(st, 2, secrets_ms(when));
			sqlite3_bind_double(st, 3, secrets_ms(call->now));
		}
	}
	if (exec_id(s, st, err) < 0)
		goto out;
	*out = secrets_out_arn_name(&r);
	json_object_set_new(*out, "DeletionDate", secrets_ts(when));
	rc = 0;
out:
	secrets_row_free(&r);
	return rc;
}
SECRETS_TX_OP(sm_delete_secret, delete_impl)

static int restore_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *id;
	struct sm_secret r;
	if (secrets_in_str(in, "SecretId", true, 1, 2048, &id, err) < 0 || secrets_find(call, id, &r, err) < 0)
		return -1;
	int rc = -1;
	if (secrets_check_primary(&r, err) < 0)
		goto out;
	/* [?] restoring a secret that is not scheduled for deletion is a no-op */
	if (r.deleted_date > 0) {
		sqlite3_stmt *st = store_prep(call->store, "UPDATE secrets SET deleted_date = NULL WHERE id = ?1");
		if (st)
			sqlite3_bind_int64(st, 1, r.id);
		if (exec_id(call->store, st, err) < 0 || written(call, r.id, err) < 0)
			goto out;
	}
	*out = secrets_out_arn_name(&r);
	rc = 0;
out:
	secrets_row_free(&r);
	return rc;
}
SECRETS_TX_OP(sm_restore_secret, restore_impl)

/* ---- TagResource / UntagResource ---------------------------------------------------------------- */

static int tag_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	json_t *tags;
	struct sm_secret r;
	if (secrets_find_writable(call, in, &r, err) < 0)
		return -1;
	int rc = -1;
	if (secrets_in_tags(in, "Tags", &tags, err) < 0)
		goto out;
	if (!tags) {
		emu_err_set(err, ERR_VALIDATION,
		            "1 validation error detected: Value null at 'tags' failed to satisfy constraint: "
		            "Member must not be null");
		goto out;
	}
	if (tags_apply(call->store, r.id, tags, err) < 0 || written(call, r.id, err) < 0)
		goto out;
	rc = 0;
out:
	secrets_row_free(&r);
	return rc;
}
SECRETS_TX_OP(sm_tag_resource, tag_impl)

static int untag_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	json_t *keys;
	struct sm_secret r;
	if (secrets_find_writable(call, in, &r, err) < 0)
		return -1;
	int rc = -1;
	if (secrets_in_strlist(in, "TagKeys", true, 0, 1000, 1, 128, &keys, err) < 0)
		goto out;
	size_t i;
	json_t *k;
	json_array_foreach(keys, i, k) {
		sqlite3_stmt *st = store_prep(call->store, "DELETE FROM secret_tags WHERE secret_id = ?1 AND key = ?2");
		if (st) {
			sqlite3_bind_int64(st, 1, r.id);
			store_bind_text(st, 2, json_string_value(k));
		}
		if (exec_id(call->store, st, err) < 0)
			goto out;
	}
	if (written(call, r.id, err) < 0)
		goto out;
	rc = 0;
out:
	secrets_row_free(&r);
	return rc;
}
SECRETS_TX_OP(sm_untag_resource, untag_impl)

/* ---- GetRandomPassword ------------------------------------------------------------------------------ */

static int password_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct password_opts o;
	password_opts_default(&o);
	long long len = PASSWORD_DEFAULT_LEN;
	if (secrets_in_int(in, "PasswordLength", 1, PASSWORD_MAX, &len, NULL, err) < 0 ||
	    secrets_in_str(in, "ExcludeCharacters", false, 0, 4096, &o.exclude, err) < 0 ||
	    secrets_in_bool(in, "ExcludeNumbers", false, &o.exclude_numbers, NULL, err) < 0 ||
	    secrets_in_bool(in, "ExcludePunctuation", false, &o.exclude_punctuation, NULL, err) < 0 ||
	    secrets_in_bool(in, "ExcludeUppercase", false, &o.exclude_uppercase, NULL, err) < 0 ||
	    secrets_in_bool(in, "ExcludeLowercase", false, &o.exclude_lowercase, NULL, err) < 0 ||
	    secrets_in_bool(in, "IncludeSpace", false, &o.include_space, NULL, err) < 0 ||
	    secrets_in_bool(in, "RequireEachIncludedType", true, &o.require_each, NULL, err) < 0)
		return -1;
	o.length = (size_t)len;
	char pw[PASSWORD_MAX + 1];
	if (password_generate(&o, pw, err) < 0)
		return -1;
	*out = json_object();
	json_object_set_new(*out, "RandomPassword", json_string(pw));
	OPENSSL_cleanse(pw, sizeof pw);
	(void)call;
	return 0;
}

int sm_get_random_password(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	*out = NULL;
	if (secrets_check_in(in, err) < 0)
		return -1;
	return password_impl(call, in, out, err);
}

/* ---- secrets owned by another service ---------------------------------------------------------- */

/* The owning service acts for itself: no IAM action of the caller applies
 * to the secret (KMS rules of the key still do, in secrets_seal). */
static struct emu_call service_call(const struct emu_call *call)
{
	struct emu_call c = *call;
	c.action = NULL;
	c.cond = NULL;
	return c;
}

int secrets_service_create(struct emu_call *call, const char *name, const char *service, const char *value,
                           const char *kms_key_id, char *arn, size_t cap, struct emu_err *err)
{
	struct emu_call c = service_call(call);
	json_t *in = json_pack("{s:s, s:s, s:s?}", "Name", name, "SecretString", value, "KmsKeyId", kms_key_id);
	json_t *out = NULL;
	service_creating = true;
	int rc = in ? create_impl(&c, in, &out, err) : emu_err_set(err, ERR_INTERNAL, "out of memory");
	service_creating = false;
	json_decref(in);
	const char *a = json_string_value(json_object_get(out, "ARN"));
	if (rc == 0 && a) {
		snprintf(arn, cap, "%s", a);
		sqlite3_stmt *st = store_prep(call->store, "UPDATE secrets SET owning_service = ?2, description = ?3 "
		                                           "WHERE arn = ?1");
		if (st) {
			store_bind_text(st, 1, a);
			store_bind_text(st, 2, service);
			store_bind_text(st, 3, "Secret associated with primary RDS DB instance");
		}
		rc = st && sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(call->store, err);
		if (st)
			sqlite3_reset(st);
	}
	json_decref(out);
	return rc;
}

int secrets_service_put(struct emu_call *call, const char *arn, const char *value, struct emu_err *err)
{
	struct emu_call c = service_call(call);
	json_t *in = json_pack("{s:s, s:s}", "SecretId", arn, "SecretString", value);
	json_t *out = NULL;
	int rc = in ? put_impl(&c, in, &out, err) : emu_err_set(err, ERR_INTERNAL, "out of memory");
	json_decref(in);
	json_decref(out);
	return rc;
}

int secrets_service_delete(struct emu_call *call, const char *arn, struct emu_err *err)
{
	struct emu_call c = service_call(call);
	json_t *in = json_pack("{s:s, s:b}", "SecretId", arn, "ForceDeleteWithoutRecovery", 1);
	json_t *out = NULL;
	int rc = in ? delete_impl(&c, in, &out, err) : emu_err_set(err, ERR_INTERNAL, "out of memory");
	json_decref(in);
	json_decref(out);
	return rc;
}
