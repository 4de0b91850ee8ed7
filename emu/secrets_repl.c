/*
 * secrets_repl.c owns Secrets Manager replication: ReplicateSecretToRegions,
 * RemoveRegionsFromReplication, StopReplicationToReplica, the replicas
 * CreateSecret asks for, and the propagation of every write on a primary
 * to its replicas (aws-behaviour.md 5.6 "Replication").
 *
 * A replica is an ordinary row of `secrets` in the same account and store,
 * in the replica's region, with the primary's ARN re-regioned, replica_of =
 * the primary ARN and primary_region set.  The primary keeps one
 * secret_replicas row per region (InSync or Failed).
 *
 * May call: secrets.c, secrets_enc.c (secrets_int.h), store, util.  Invariants: replicas
 * are written only here (all other writes refuse them); after every write
 * to a primary, each InSync replica holds the primary's versions, labels,
 * tags, policy and metadata (its own KMS key and access dates excepted),
 * its values re-encrypted under its own key (a replica whose key cannot be
 * used is marked Failed instead).
 */
#include "emu/secrets_int.h"

#include "emu/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_CLASH "Secret with this name already exists in this region"
#define MSG_SYNCED "Replication succeeded"

static int step_done(struct store *s, sqlite3_stmt *st, struct emu_err *err)
{
	if (!st)
		return store_fail(s, err);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, err);
}

json_t *secrets_replication_status(struct store *s, const struct sm_secret *p)
{
	json_t *a = json_array();
	sqlite3_stmt *st = store_prep(
		s, "SELECT rp.region, rp.kms_key_id, rp.status, rp.status_message, "
		   "(SELECT x.last_accessed FROM secrets x WHERE x.account = ?2 AND x.region = rp.region AND "
		   " x.replica_of = ?3) FROM secret_replicas rp WHERE rp.secret_id = ?1 ORDER BY rp.region");
	if (!st)
		return a;
	sqlite3_bind_int64(st, 1, p->id);
	store_bind_text(st, 2, p->account);
	store_bind_text(st, 3, p->arn);
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *e = json_object();
		json_object_set_new(e, "Region", json_string((const char *)sqlite3_column_text(st, 0)));
		if (store_col_text(st, 1))
			json_object_set_new(e, "KmsKeyId", json_string(store_col_text(st, 1)));
		json_object_set_new(e, "Status", json_string((const char *)sqlite3_column_text(st, 2)));
		if (store_col_text(st, 3))
			json_object_set_new(e, "StatusMessage", json_string(store_col_text(st, 3)));
		if (sqlite3_column_type(st, 4) != SQLITE_NULL)
			json_object_set_new(e, "LastAccessedDate", secrets_ts(sqlite3_column_double(st, 4)));
		json_array_append_new(a, e);
	}
	sqlite3_reset(st);
	return a;
}

/* Id of the replica of primary p in region (0 if none), -1 on error. */
static long long replica_id(struct store *s, const struct sm_secret *p, const char *region, struct emu_err *err)
{
	sqlite3_stmt *st =
		store_prep(s, "SELECT id FROM secrets WHERE account = ?1 AND region = ?2 AND replica_of = ?3");
	if (!st)
		return store_fail(s, err);
	store_bind_text(st, 1, p->account);
	store_bind_text(st, 2, region);
	store_bind_text(st, 3, p->arn);
	int rc = sqlite3_step(st);
	long long id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_fail(s, err);
	return id;
}

/* Versions of the primary the replica lacks, or holds under another key, or
 * without the value the primary now has: re-encrypted for the replica
 * (its ARN, its region's key: KmsKeyId of the replica or its own
 * aws/secretsmanager).  Unchanged versions are left alone, so a write
 * costs one re-encryption per new value. */
static int copy_versions(struct store *s, long long pid, long long rid, const char *kms, double now,
                         struct emu_err *err)
{
	struct sm_secret p, r;
	memset(&r, 0, sizeof r);
	if (secrets_load_id(s, pid, &p, err) < 0)
		return -1;
	int rc = secrets_load_id(s, rid, &r, err);
	json_t *todo = json_array(), *want = json_pack("[s]", kms ? kms : "DefaultEncryptionKey");
	char *want_s = json_dumps(want, JSON_COMPACT);
	json_decref(want);
	sqlite3_stmt *st = rc < 0 ? NULL
	                          : store_prep(s, "SELECT p.version_id, p.kind, p.created FROM secret_versions p "
	                                          "LEFT JOIN secret_versions r ON r.secret_id = ?2 AND "
	                                          "r.version_id = p.version_id WHERE p.secret_id = ?1 AND "
	                                          "(r.version_id IS NULL OR r.kind <> p.kind OR "
	                                          "(p.kind <> 0 AND (r.kms_key_ids IS NOT ?3 OR r.data_keys IS NULL)))");
	if (st) {
		sqlite3_bind_int64(st, 1, pid);
		sqlite3_bind_int64(st, 2, rid);
		store_bind_text(st, 3, want_s);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			json_array_append_new(todo, json_pack("{s:s, s:f}", "vid", (const char *)sqlite3_column_text(st, 0),
			                                      "created", sqlite3_column_double(st, 2)));
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		rc = rc == SQLITE_DONE ? 0 : store_fail(s, err);
	} else if (rc == 0) {
		rc = store_fail(s, err);
	}
	size_t i;
	json_t *e;
	json_array_foreach(todo, i, e) {
		if (rc < 0)
			break;
		const char *vid = json_string_value(json_object_get(e, "vid"));
		struct sm_sealed sv;
		if ((rc = secrets_reseal_for(s, &p, &r, vid, now, &sv, err)) < 0)
			break;
		st = store_prep(s, "INSERT INTO secret_versions(secret_id, version_id, kind, value, created, kms_key_ids, "
		                   "data_keys) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(secret_id, version_id) DO "
		                   "UPDATE SET kind = excluded.kind, value = excluded.value, kms_key_ids = "
		                   "excluded.kms_key_ids, data_keys = excluded.data_keys");
		if (st) {
			sqlite3_bind_int64(st, 1, rid);
			store_bind_text(st, 2, vid);
			sqlite3_bind_int(st, 3, sv.kind);
			if (sv.kind)
				sqlite3_bind_blob(st, 4, sv.ct, (int)sv.ct_len, SQLITE_TRANSIENT);
			else
				sqlite3_bind_null(st, 4);
			sqlite3_bind_double(st, 5, json_real_value(json_object_get(e, "created")));
			store_bind_text(st, 6, sv.kind ? sv.kms_ids : want_s);
			if (sv.kind)
				sqlite3_bind_blob(st, 7, sv.data_keys, (int)sv.data_keys_len, SQLITE_TRANSIENT);
			else
				sqlite3_bind_null(st, 7);
		}
		rc = step_done(s, st, err);
		secrets_sealed_free(&sv);
	}
	json_decref(todo);
	free(want_s);
	secrets_row_free(&p);
	secrets_row_free(&r);
	return rc;
}

static int sync_one(struct store *s, long long pid, long long rid, const char *kms, double now,
                    struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(
		s, "UPDATE secrets SET description = p.description, type = p.type, owning_service = p.owning_service, "
		   "last_changed = p.last_changed, rotation_enabled = p.rotation_enabled, "
		   "rotation_lambda = p.rotation_lambda, rotation_rules = p.rotation_rules, "
		   "last_rotated = p.last_rotated, next_rotation = p.next_rotation, resource_policy = p.resource_policy, "
		   "deleted_date = p.deleted_date, ext_rotation_metadata = p.ext_rotation_metadata, "
		   "ext_rotation_role = p.ext_rotation_role, primary_region = p.region "
		   "FROM (SELECT * FROM secrets WHERE id = ?1) AS p WHERE secrets.id = ?2");
	if (st) {
		sqlite3_bind_int64(st, 1, pid);
		sqlite3_bind_int64(st, 2, rid);
	}
	if (step_done(s, st, err) < 0)
		return -1;
	st = store_prep(s, "DELETE FROM secret_versions WHERE secret_id = ?2 AND version_id NOT IN "
	                   "(SELECT version_id FROM secret_versions WHERE secret_id = ?1)");
	if (st) {
		sqlite3_bind_int64(st, 1, pid);
		sqlite3_bind_int64(st, 2, rid);
	}
	if (step_done(s, st, err) < 0)
		return -1;
	if (copy_versions(s, pid, rid, kms, now, err) < 0)
		return -1;
	st = store_prep(s, "DELETE FROM secret_stages WHERE secret_id = ?1");
	if (st)
		sqlite3_bind_int64(st, 1, rid);
	if (step_done(s, st, err) < 0)
		return -1;
	st = store_prep(s, "INSERT INTO secret_stages(secret_id, stage, version_id) "
	                   "SELECT ?2, stage, version_id FROM secret_stages WHERE secret_id = ?1");
	if (st) {
		sqlite3_bind_int64(st, 1, pid);
		sqlite3_bind_int64(st, 2, rid);
	}
	if (step_done(s, st, err) < 0)
		return -1;
	st = store_prep(s, "DELETE FROM secret_tags WHERE secret_id = ?1");
	if (st)
		sqlite3_bind_int64(st, 1, rid);
	if (step_done(s, st, err) < 0)
		return -1;
	st = store_prep(s, "INSERT INTO secret_tags(secret_id, key, value, ord) "
	                   "SELECT ?2, key, value, ord FROM secret_tags WHERE secret_id = ?1");
	if (st) {
		sqlite3_bind_int64(st, 1, pid);
		sqlite3_bind_int64(st, 2, rid);
	}
	return step_done(s, st, err);
}

int secrets_sync_replicas(struct store *s, const struct sm_secret *p, double now, struct emu_err *err)
{
	if (p->replica_of)
		return 0;
	sqlite3_stmt *st =
		store_prep(s, "SELECT region, kms_key_id FROM secret_replicas WHERE secret_id = ?1 AND status = 'InSync'");
	if (!st)
		return store_fail(s, err);
	sqlite3_bind_int64(st, 1, p->id);
	/* Collect first: sync_one uses other statements. */
	json_t *todo = json_array();
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *e = json_pack("{s:s, s:o}", "region", (const char *)sqlite3_column_text(st, 0), "kms",
		                      store_col_text(st, 1) ? json_string(store_col_text(st, 1)) : json_null());
		json_array_append_new(todo, e);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		json_decref(todo);
		return store_fail(s, err);
	}
	size_t i;
	json_t *e;
	rc = 0;
	json_array_foreach(todo, i, e) {
		const char *region = json_string_value(json_object_get(e, "region"));
		long long rid = replica_id(s, p, region, err);
		if (rid < 0) {
			rc = -1;
			break;
		}
		if (rid == 0)
			continue;
		/* Each replica in its own savepoint: one whose KMS key cannot be used
		 * is left as it was and marked Failed (with KMS's reason), as AWS
		 * reports a replication it could not complete; the primary's write
		 * stands. */
		if (store_begin(s) < 0) {
			rc = emu_err_set(err, ERR_INTERNAL, "internal storage error");
			break;
		}
		struct emu_err e1;
		emu_err_clear(&e1);
		if (sync_one(s, p->id, rid, json_string_value(json_object_get(e, "kms")), now, &e1) == 0) {
			if (store_commit(s) < 0) {
				rc = emu_err_set(err, ERR_INTERNAL, "internal storage error");
				break;
			}
			continue;
		}
		store_rollback(s);
		if (e1.code != ERR_SM_ENCRYPTION_FAILURE && e1.code != ERR_SM_DECRYPTION_FAILURE) {
			*err = e1;
			rc = -1;
			break;
		}
		st = store_prep(s, "UPDATE secret_replicas SET status = 'Failed', status_message = ?3 "
		                   "WHERE secret_id = ?1 AND region = ?2");
		if (st) {
			sqlite3_bind_int64(st, 1, p->id);
			store_bind_text(st, 2, region);
			store_bind_text(st, 3, e1.msg);
		}
		if ((rc = step_done(s, st, err)) < 0)
			break;
	}
	json_decref(todo);
	return rc;
}

static bool region_ok(const char *r)
{
	/* xx-name-N, xx-gov-name-N, …: lower-case letters, digits and dashes. */
	size_t n = strlen(r);
	if (n < 9 || n > 32 || !islower((unsigned char)r[0]) || !isdigit((unsigned char)r[n - 1]))
		return false;
	int dashes = 0;
	for (const char *p = r; *p; p++) {
		if (*p == '-')
			dashes++;
		else if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p))
			return false;
	}
	return dashes >= 2;
}

static int set_replica_row(struct store *s, long long pid, const char *region, const char *kms, const char *status,
                           const char *msg, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "INSERT INTO secret_replicas(secret_id, region, kms_key_id, status, "
	                                 "status_message) VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(secret_id, region) DO "
	                                 "UPDATE SET kms_key_id = excluded.kms_key_id, status = excluded.status, "
	                                 "status_message = excluded.status_message");
	if (st) {
		sqlite3_bind_int64(st, 1, pid);
		store_bind_text(st, 2, region);
		store_bind_text(st, 3, kms);
		store_bind_text(st, 4, status);
		store_bind_text(st, 5, msg);
	}
	return step_done(s, st, err);
}

static int replicate_one(struct store *s, const struct sm_secret *p, const char *region, const char *kms, bool force,
                         double now, struct emu_err *err)
{
	long long rid = replica_id(s, p, region, err);
	if (rid < 0)
		return -1;
	if (rid == 0) {
		sqlite3_stmt *st =
			store_prep(s, "SELECT id FROM secrets WHERE account = ?1 AND region = ?2 AND name = ?3");
		if (!st)
			return store_fail(s, err);
		store_bind_text(st, 1, p->account);
		store_bind_text(st, 2, region);
		store_bind_text(st, 3, p->name);
		int rc = sqlite3_step(st);
		long long other = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
		sqlite3_reset(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return store_fail(s, err);
		if (other) {
			if (!force)
				return set_replica_row(s, p->id, region, kms, "Failed", MSG_CLASH, err);
			st = store_prep(s, "DELETE FROM secrets WHERE id = ?1");
			if (st)
				sqlite3_bind_int64(st, 1, other);
			if (step_done(s, st, err) < 0)
				return -1;
		}
		char *arn = secrets_arn_in_region(p->arn, region);
		st = store_prep(s, "INSERT INTO secrets(account, region, name, arn, kms_key_id, created, primary_region, "
		                   "replica_of) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
		if (st) {
			store_bind_text(st, 1, p->account);
			store_bind_text(st, 2, region);
			store_bind_text(st, 3, p->name);
			store_bind_text(st, 4, arn);
			store_bind_text(st, 5, kms);
			sqlite3_bind_double(st, 6, secrets_ms(now));
			store_bind_text(st, 7, p->region);
			store_bind_text(st, 8, p->arn);
		}
		rc = step_done(s, st, err);
		free(arn);
		if (rc < 0)
			return -1;
	} else {
		sqlite3_stmt *st = store_prep(s, "UPDATE secrets SET kms_key_id = ?2 WHERE id = ?1");
		if (st) {
			sqlite3_bind_int64(st, 1, rid);
			store_bind_text(st, 2, kms);
		}
		if (step_done(s, st, err) < 0)
			return -1;
	}
	return set_replica_row(s, p->id, region, kms, "InSync", MSG_SYNCED, err);
}

static int set_primary_region(struct store *s, const struct sm_secret *p, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "UPDATE secrets SET primary_region = CASE WHEN EXISTS (SELECT 1 FROM "
	                                 "secret_replicas WHERE secret_id = ?1) THEN region ELSE NULL END WHERE id = ?1");
	if (st)
		sqlite3_bind_int64(st, 1, p->id);
	return step_done(s, st, err);
}

int secrets_replicate(struct store *s, const struct sm_secret *p, json_t *regions, bool force, double now,
                      struct emu_err *err)
{
	size_t i;
	json_t *e;
	json_array_foreach(regions, i, e) {
		const char *region, *kms;
		if (!json_is_object(e))
			return emu_err_set(err, ERR_SERIALIZATION,
			                   "Unexpected value type for member AddReplicaRegions: expected a list of objects.");
		if (secrets_in_str(e, "Region", true, 1, 128, &region, err) < 0 ||
		    secrets_in_str(e, "KmsKeyId", false, 0, 2048, &kms, err) < 0)
			return -1;
		if (!region_ok(region))
			return emu_err_set(err, ERR_SM_INVALID_PARAMETER, "Invalid replica region: %.64s", region);
		if (strcmp(region, p->region) == 0)
			/* [?] text */
			return emu_err_set(err, ERR_SM_INVALID_PARAMETER,
			                   "Invalid replica region %s: it is the region of the primary secret.", region);
		if (kms && (!*kms || strcmp(kms, "alias/aws/secretsmanager") == 0))
			kms = NULL;
		if (replicate_one(s, p, region, kms, force, now, err) < 0)
			return -1;
	}
	if (set_primary_region(s, p, err) < 0)
		return -1;
	struct sm_secret fresh;
	if (secrets_load_id(s, p->id, &fresh, err) < 0)
		return -1;
	int rc = secrets_sync_replicas(s, &fresh, now, err);
	secrets_row_free(&fresh);
	return rc;
}

/* ---- operations ------------------------------------------------------------------------ */

static int replicate_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct sm_secret r;
	bool force;
	if (secrets_find_writable(call, in, &r, err) < 0)
		return -1;
	int rc = -1;
	json_t *regions = json_object_get(in, "AddReplicaRegions");
	if (secrets_in_bool(in, "ForceOverwriteReplicaSecret", false, &force, NULL, err) < 0)
		goto out;
	if (!regions || json_is_null(regions)) {
		emu_err_set(err, ERR_VALIDATION,
		            "1 validation error detected: Value null at 'addReplicaRegions' failed to satisfy "
		            "constraint: Member must not be null");
		goto out;
	}
	if (!json_is_array(regions) || json_array_size(regions) == 0) {
		emu_err_set(err, ERR_VALIDATION,
		            "1 validation error detected: Value at 'addReplicaRegions' failed to satisfy constraint: "
		            "Member must have length greater than or equal to 1");
		goto out;
	}
	if (secrets_replicate(call->store, &r, regions, force, call->now, err) < 0)
		goto out;
	*out = json_object();
	json_object_set_new(*out, "ARN", json_string(r.arn));
	json_object_set_new(*out, "ReplicationStatus", secrets_replication_status(call->store, &r));
	rc = 0;
out:
	secrets_row_free(&r);
	return rc;
}
SECRETS_TX_OP(sm_replicate_secret_to_regions, replicate_impl)

static int remove_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct store *s = call->store;
	struct sm_secret r;
	json_t *regions;
	if (secrets_find_writable(call, in, &r, err) < 0)
		return -1;
	int rc = -1;
	if (secrets_in_strlist(in, "RemoveReplicaRegions", true, 1, 100, 1, 128, &regions, err) < 0)
		goto out;
	size_t i;
	json_t *e;
	json_array_foreach(regions, i, e) {
		/* [?] a region that holds no replica is ignored */
		sqlite3_stmt *st = store_prep(s, "DELETE FROM secrets WHERE account = ?1 AND region = ?2 AND replica_of = ?3");
		if (st) {
			store_bind_text(st, 1, r.account);
			store_bind_text(st, 2, json_string_value(e));
			store_bind_text(st, 3, r.arn);
		}
		if (step_done(s, st, err) < 0)
			goto out;
		st = store_prep(s, "DELETE FROM secret_replicas WHERE secret_id = ?1 AND region = ?2");
		if (st) {
			sqlite3_bind_int64(st, 1, r.id);
			store_bind_text(st, 2, json_string_value(e));
		}
		if (step_done(s, st, err) < 0)
			goto out;
	}
	if (set_primary_region(s, &r, err) < 0)
		goto out;
	*out = json_object();
	json_object_set_new(*out, "ARN", json_string(r.arn));
	json_object_set_new(*out, "ReplicationStatus", secrets_replication_status(s, &r));
	rc = 0;
out:
	secrets_row_free(&r);
	return rc;
}
SECRETS_TX_OP(sm_remove_regions_from_replication, remove_impl)

static int stop_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct store *s = call->store;
	const char *id;
	struct sm_secret r;
	if (secrets_in_str(in, "SecretId", true, 1, 2048, &id, err) < 0 || secrets_find(call, id, &r, err) < 0)
		return -1;
	int rc = -1;
	if (!r.replica_of) {
		/* [?] text; called on a primary or a standalone secret */
		emu_err_set(err, ERR_SM_INVALID_REQUEST,
		            "StopReplicationToReplica must be called in the region of a replica secret; %s is not a "
		            "replica.",
		            r.name);
		goto out;
	}
	sqlite3_stmt *st = store_prep(s, "DELETE FROM secret_replicas WHERE region = ?2 AND secret_id = "
	                                 "(SELECT id FROM secrets WHERE arn = ?1)");
	if (st) {
		store_bind_text(st, 1, r.replica_of);
		store_bind_text(st, 2, r.region);
	}
	if (step_done(s, st, err) < 0)
		goto out;
	st = store_prep(s, "UPDATE secrets SET primary_region = CASE WHEN EXISTS (SELECT 1 FROM secret_replicas rp "
	                   "WHERE rp.secret_id = secrets.id) THEN region ELSE NULL END WHERE arn = ?1");
	if (st)
		store_bind_text(st, 1, r.replica_of);
	if (step_done(s, st, err) < 0)
		goto out;
	st = store_prep(s, "UPDATE secrets SET replica_of = NULL, primary_region = NULL, last_changed = ?2 WHERE id = ?1");
	if (st) {
		sqlite3_bind_int64(st, 1, r.id);
		sqlite3_bind_double(st, 2, secrets_ms(call->now));
	}
	if (step_done(s, st, err) < 0)
		goto out;
	*out = json_object();
	json_object_set_new(*out, "ARN", json_string(r.arn));
	rc = 0;
out:
	secrets_row_free(&r);
	return rc;
}
SECRETS_TX_OP(sm_stop_replication_to_replica, stop_impl)
