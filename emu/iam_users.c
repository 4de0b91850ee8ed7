/*
 * iam_users.c owns the user operations (Create/Get/List/Update/DeleteUser)
 * and long-term access keys (Create/List/Update/DeleteAccessKey,
 * GetAccessKeyLastUsed).  Access keys live in the access_keys table of
 * migration 1, the one SigV4 authentication reads, so a key works the
 * moment it is created: principal_arn is the user's ARN, user_id its AIDA
 * id (the account id for the root's own keys), session_token NULL.
 *
 * May call: store, util, err, the iam internals.
 * Invariants: a user has at most 2 long-term keys; a user with keys or
 * policies cannot be deleted (DeleteConflict, as IAM); secret access keys
 * appear only in CreateAccessKey's output, never in logs or errors, and
 * local copies are wiped.
 */
#include "emu/iam_int.h"

#include "emu/util.h"

#include <math.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#define KEY_ID_ALPHABET "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
#define SECRET_ALPHABET "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
#define MSG_KEY_NOT_FOUND "The Access Key with id %s cannot be found."

/* ---- users --------------------------------------------------------------------- */

static int create_user(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *name, *path, *boundary;
	json_t *tags;
	if (iam_in_name(in, "UserName", true, IAM_NAME_MAX, &name, err) < 0 ||
	    iam_in_path(in, "Path", IAM_PATH_ENTITY, &path, err) < 0 || iam_in_tags(in, "Tags", false, &tags, err) < 0 ||
	    iam_in_boundary(call, in, &boundary, err) < 0)
		return -1;
	struct iam_entity e;
	if (iam_entity_create(call, IAM_KIND_USER, name, path, boundary, NULL, NULL, 0, &e, err) < 0)
		return -1;
	int rc = iam_tags_add(call->store, IAM_KIND_USER, e.id, tags, err);
	if (rc == 0) {
		*out = json_object();
		json_object_set_new(*out, "User", iam_entity_json(call->store, &e, true));
	}
	iam_entity_free(&e);
	return rc;
}
IAM_TX_OP(iam_create_user, create_user)

static double account_created(struct emu_call *call)
{
	sqlite3_stmt *st = store_prep(call->store, "SELECT created FROM accounts WHERE id = ?1");
	double t = call->now;
	if (!st)
		return t;
	store_bind_text(st, 1, call->account);
	if (sqlite3_step(st) == SQLITE_ROW)
		t = sqlite3_column_double(st, 0);
	sqlite3_reset(st);
	return t;
}

static int get_user(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct iam_entity e;
	int who = iam_user_or_caller(call, in, &e, err);
	if (who < 0)
		return -1;
	json_t *u;
	if (who == 0) {
		/* The root user: IAM answers with the account as the id and no name or path. */
		char arn[64];
		snprintf(arn, sizeof arn, "arn:aws:iam::%s:root", call->account);
		u = json_object();
		json_object_set_new(u, "UserId", json_string(call->account));
		json_object_set_new(u, "Arn", json_string(arn));
		json_object_set_new(u, "CreateDate", iam_ts(account_created(call)));
	} else {
		u = iam_entity_json(call->store, &e, true);
		iam_entity_free(&e);
	}
	*out = json_object();
	json_object_set_new(*out, "User", u);
	return 0;
}
IAM_TX_OP(iam_get_user, get_user)

/* Users or roles of call->account whose path starts with prefix (NULL = all), by name. */
static int list_entities(struct emu_call *call, int kind, const char *prefix, json_t *items, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(call->store, "SELECT name FROM iam_principals WHERE account = ?1 AND kind = ?2"
	                                           " AND (?3 IS NULL OR substr(path, 1, length(?3)) = ?3)"
	                                           " ORDER BY name, id");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	store_bind_text(st, 1, call->account);
	sqlite3_bind_int(st, 2, kind);
	store_bind_text(st, 3, prefix);
	/* Names are copied out before rendering (which runs other statements). */
	json_t *ids = json_array();
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(ids, json_string((const char *)sqlite3_column_text(st, 0)));
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		json_decref(ids);
		return store_fail(call->store, err);
	}
	size_t i;
	json_t *n;
	json_array_foreach(ids, i, n) {
		struct iam_entity e;
		if (iam_entity_find(call->store, call->account, kind, json_string_value(n), &e, err) < 0) {
			json_decref(ids);
			return -1;
		}
		json_array_append_new(items, iam_entity_json(call->store, &e, false));
		iam_entity_free(&e);
	}
	json_decref(ids);
	return 0;
}

int iam_list_entities(struct emu_call *call, int kind, json_t *in, json_t **out, struct emu_err *err)
{
	const char *prefix;
	if (iam_in_path(in, "PathPrefix", IAM_PATH_PREFIX, &prefix, err) < 0)
		return -1;
	json_t *items = json_array();
	if (list_entities(call, kind, prefix, items, err) < 0) {
		json_decref(items);
		return -1;
	}
	*out = json_object();
	return iam_page(in, items, kind == IAM_KIND_USER ? "Users" : "Roles", *out, err);
}

static int list_users(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	return iam_list_entities(call, IAM_KIND_USER, in, out, err);
}
IAM_TX_OP(iam_list_users, list_users)

static int update_user(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *name, *new_name, *new_path;
	new_path = NULL;
	if (iam_in_name(in, "UserName", true, 128, &name, err) < 0 ||
	    iam_in_name(in, "NewUserName", false, IAM_NAME_MAX, &new_name, err) < 0 ||
	    (iam_member(in, "NewPath") && iam_in_path(in, "NewPath", IAM_PATH_ENTITY, &new_path, err) < 0))
		return -1;
	struct iam_entity e, other;
	if (iam_entity_find(call->store, call->account, IAM_KIND_USER, name, &e, err) < 0)
		return -1;
	int rc = -1;
	if (new_name) {
		int found = iam_entity_lookup(call->store, call->account, IAM_KIND_USER, new_name, &other, err);
		if (found < 0)
			goto done;
		if (found) {
			bool same = other.id == e.id;
			iam_entity_free(&other);
			if (!same) {
				emu_err_set(err, ERR_IAM_ENTITY_EXISTS, "User with name %s already exists.", new_name);
				goto done;
			}
		}
	}
	const char *nn = new_name ? new_name : e.name, *np = new_path ? new_path : e.path;
	char arn[IAM_ARN_MAX];
	iam_arn(arn, sizeof arn, call->account, "user", np, nn);
	sqlite3_stmt *st = store_prep(call->store, "UPDATE iam_principals SET name = ?2, path = ?3, arn = ?4 WHERE id = ?1");
	if (!st) {
		emu_err_set(err, ERR_INTERNAL, "internal storage error");
		goto done;
	}
	sqlite3_bind_int64(st, 1, e.id);
	store_bind_text(st, 2, nn);
	store_bind_text(st, 3, np);
	store_bind_text(st, 4, arn);
	if (sqlite3_step(st) != SQLITE_DONE) {
		store_fail(call->store, err);
		goto done;
	}
	/* Keys (long-term and session) follow the user: auth reports the new ARN. */
	st = store_prep(call->store, "UPDATE access_keys SET principal_arn = ?2 WHERE user_id = ?1 AND account = ?3");
	if (!st) {
		emu_err_set(err, ERR_INTERNAL, "internal storage error");
		goto done;
	}
	store_bind_text(st, 1, e.unique_id);
	store_bind_text(st, 2, arn);
	store_bind_text(st, 3, call->account);
	if (sqlite3_step(st) != SQLITE_DONE) {
		store_fail(call->store, err);
		goto done;
	}
	rc = 0;
done:
	iam_entity_free(&e);
	return rc;
}
IAM_TX_OP(iam_update_user, update_user)

/* count(*) of a one-parameter-pair statement. */
static int count_of(struct store *s, sqlite3_stmt *st, long long *n, struct emu_err *err)
{
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return store_fail(s, err);
	}
	*n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 0;
}

static int long_term_keys(struct emu_call *call, const char *owner_id, long long *n, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(call->store, "SELECT count(*) FROM access_keys"
	                                           " WHERE account = ?1 AND user_id = ?2 AND session_token IS NULL");
	if (st) {
		store_bind_text(st, 1, call->account);
		store_bind_text(st, 2, owner_id);
	}
	return count_of(call->store, st, n, err);
}

int iam_entity_policy_counts(struct store *s, long long id, long long *inl, long long *att, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "SELECT count(*) FROM iam_inline WHERE principal = ?1");
	if (st)
		sqlite3_bind_int64(st, 1, id);
	if (count_of(s, st, inl, err) < 0)
		return -1;
	st = store_prep(s, "SELECT count(*) FROM iam_attached WHERE principal = ?1");
	if (st)
		sqlite3_bind_int64(st, 1, id);
	return count_of(s, st, att, err);
}

int iam_entity_delete(struct store *s, const struct iam_entity *e, struct emu_err *err)
{
	if (iam_tags_drop(s, e->kind, e->id, err) < 0)
		return -1;
	sqlite3_stmt *st = store_prep(s, "DELETE FROM iam_principals WHERE id = ?1");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	sqlite3_bind_int64(st, 1, e->id);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_fail(s, err);
	return 0;
}

static int delete_user(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *name;
	if (iam_in_name(in, "UserName", true, 128, &name, err) < 0)
		return -1;
	struct iam_entity e;
	if (iam_entity_find(call->store, call->account, IAM_KIND_USER, name, &e, err) < 0)
		return -1;
	long long keys = 0, inl = 0, att = 0;
	int rc = -1;
	if (long_term_keys(call, e.unique_id, &keys, err) < 0 ||
	    iam_entity_policy_counts(call->store, e.id, &inl, &att, err) < 0)
		goto done;
	if (keys)
		emu_err_set(err, ERR_IAM_DELETE_CONFLICT, "Cannot delete entity, must delete access keys first.");
	else if (inl)
		emu_err_set(err, ERR_IAM_DELETE_CONFLICT, "Cannot delete entity, must delete policies first.");
	else if (att)
		emu_err_set(err, ERR_IAM_DELETE_CONFLICT, "Cannot delete entity, must detach all policies first.");
	else
		rc = iam_entity_delete(call->store, &e, err);
done:
	iam_entity_free(&e);
	return rc;
}
IAM_TX_OP(iam_delete_user, delete_user)

/* ---- access keys ------------------------------------------------------------------ */

static bool key_id_ok(const char *id)
{
	size_t n = strlen(id);
	if (n < 16 || n > 128)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

static bool secret_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 128)
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7E)
			return false;
	return true;
}

int iam_key_insert(struct emu_call *call, const struct iam_entity *e, const char *id, const char *secret,
                   const char *status, json_t **out, struct emu_err *err)
{
	char root_arn[64];
	snprintf(root_arn, sizeof root_arn, "arn:aws:iam::%s:root", call->account);
	const char *owner_id = e ? e->unique_id : call->account;
	const char *owner_arn = e ? e->arn : root_arn;
	if (id && !key_id_ok(id))
		return emu_err_set(err, ERR_VALIDATION,
		                   "1 validation error detected: Value '%.128s' at 'accessKeyId' failed to satisfy "
		                   "constraint: Member must satisfy regular expression pattern: [\\w]+ (16-128 characters)",
		                   id);
	if (secret && !secret_ok(secret))
		return emu_err_set(err, ERR_VALIDATION,
		                   "1 validation error detected: Value at 'secretAccessKey' failed to satisfy constraint: "
		                   "Member must be 1-128 printable characters");
	long long n = 0;
	if (long_term_keys(call, owner_id, &n, err) < 0)
		return -1;
	if (n >= IAM_KEYS_PER_USER)
		return emu_err_set(err, ERR_IAM_LIMIT_EXCEEDED, "Cannot exceed quota for AccessKeysPerUser: %d",
		                   IAM_KEYS_PER_USER);
	char gen_id[21], gen_secret[41];
	if (!id) {
		memcpy(gen_id, "AKIA", 4);
		util_random_from(gen_id + 4, 16, KEY_ID_ALPHABET);
		id = gen_id;
	}
	if (!secret) {
		util_random_from(gen_secret, 40, SECRET_ALPHABET);
		secret = gen_secret;
	}
	int rc = -1;
	sqlite3_stmt *st = store_prep(call->store, "SELECT 1 FROM access_keys WHERE access_key_id = ?1");
	if (!st) {
		emu_err_set(err, ERR_INTERNAL, "internal storage error");
		goto done;
	}
	store_bind_text(st, 1, id);
	int step = sqlite3_step(st);
	sqlite3_reset(st);
	if (step == SQLITE_ROW) {
		emu_err_set(err, ERR_IAM_ENTITY_EXISTS, "Access key %s already exists.", id);
		goto done;
	}
	st = store_prep(call->store, "INSERT INTO access_keys(access_key_id, secret_access_key, account, principal_arn,"
	                             " user_id, status, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
	if (!st) {
		emu_err_set(err, ERR_INTERNAL, "internal storage error");
		goto done;
	}
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, secret);
	store_bind_text(st, 3, call->account);
	store_bind_text(st, 4, owner_arn);
	store_bind_text(st, 5, owner_id);
	store_bind_text(st, 6, status ? status : "Active");
	sqlite3_bind_double(st, 7, floor(call->now));
	step = sqlite3_step(st);
	sqlite3_clear_bindings(st); /* drop SQLite's copy of the secret from the cached statement */
	if (step != SQLITE_DONE) {
		store_fail(call->store, err);
		goto done;
	}
	if (out) {
		json_t *k = json_object();
		if (e)
			json_object_set_new(k, "UserName", json_string(e->name));
		json_object_set_new(k, "AccessKeyId", json_string(id));
		json_object_set_new(k, "Status", json_string(status ? status : "Active"));
		json_object_set_new(k, "SecretAccessKey", json_string(secret));
		json_object_set_new(k, "CreateDate", iam_ts(call->now));
		*out = json_object();
		json_object_set_new(*out, "AccessKey", k);
	}
	rc = 0;
done:
	OPENSSL_cleanse(gen_secret, sizeof gen_secret);
	return rc;
}

static int create_access_key(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct iam_entity e;
	int who = iam_user_or_caller(call, in, &e, err);
	if (who < 0)
		return -1;
	int rc = iam_key_insert(call, who ? &e : NULL, NULL, NULL, "Active", out, err);
	if (who)
		iam_entity_free(&e);
	return rc;
}
IAM_TX_OP(iam_create_access_key, create_access_key)

static int list_access_keys(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct iam_entity e;
	int who = iam_user_or_caller(call, in, &e, err);
	if (who < 0)
		return -1;
	json_t *items = json_array();
	sqlite3_stmt *st = store_prep(call->store, "SELECT access_key_id, status, created FROM access_keys"
	                                           " WHERE account = ?1 AND user_id = ?2 AND session_token IS NULL"
	                                           " ORDER BY created, access_key_id");
	int rc = -1;
	if (!st) {
		emu_err_set(err, ERR_INTERNAL, "internal storage error");
		goto done;
	}
	store_bind_text(st, 1, call->account);
	store_bind_text(st, 2, who ? e.unique_id : call->account);
	int step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *k = json_object();
		if (who)
			json_object_set_new(k, "UserName", json_string(e.name));
		json_object_set_new(k, "AccessKeyId", json_string(store_col_text(st, 0)));
		json_object_set_new(k, "Status", json_string(store_col_text(st, 1)));
		json_object_set_new(k, "CreateDate", iam_ts(sqlite3_column_double(st, 2)));
		json_array_append_new(items, k);
	}
	sqlite3_reset(st);
	if (step != SQLITE_DONE) {
		store_fail(call->store, err);
		goto done;
	}
	*out = json_object();
	rc = iam_page(in, items, "AccessKeyMetadata", *out, err);
	items = NULL;
done:
	json_decref(items);
	if (who)
		iam_entity_free(&e);
	return rc;
}
IAM_TX_OP(iam_list_access_keys, list_access_keys)

static bool key_chars_ok(const char *id)
{
	for (const char *p = id; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

static int in_key_id(json_t *in, const char **id, struct emu_err *err)
{
	if (iam_in_str(in, "AccessKeyId", true, 16, 128, id, err) < 0)
		return -1;
	if (!key_chars_ok(*id))
		return emu_err_set(err, ERR_VALIDATION,
		                   "1 validation error detected: Value '%.128s' at 'accessKeyId' failed to satisfy "
		                   "constraint: Member must satisfy regular expression pattern: [\\w]+",
		                   *id);
	return 0;
}

/* The long-term key `id` owned by the user of UserName (or the caller). */
static int owned_key(struct emu_call *call, json_t *in, const char *id, char owner[32], struct emu_err *err)
{
	struct iam_entity e;
	int who = iam_user_or_caller(call, in, &e, err);
	if (who < 0)
		return -1;
	snprintf(owner, 32, "%s", who ? e.unique_id : call->account);
	if (who)
		iam_entity_free(&e);
	sqlite3_stmt *st = store_prep(call->store, "SELECT 1 FROM access_keys WHERE access_key_id = ?1 AND account = ?2"
	                                           " AND user_id = ?3 AND session_token IS NULL");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, call->account);
	store_bind_text(st, 3, owner);
	int step = sqlite3_step(st);
	sqlite3_reset(st);
	if (step == SQLITE_ROW)
		return 0;
	if (step != SQLITE_DONE)
		return store_fail(call->store, err);
	return emu_err_set(err, ERR_IAM_NO_SUCH_ENTITY, MSG_KEY_NOT_FOUND, id);
}

static int update_access_key(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	static const char *const statuses[] = {"Active", "Inactive", "Expired", NULL};
	const char *id, *status;
	char owner[32];
	if (in_key_id(in, &id, err) < 0 || iam_in_enum(in, "Status", true, statuses, NULL, &status, err) < 0 ||
	    owned_key(call, in, id, owner, err) < 0)
		return -1;
	sqlite3_stmt *st = store_prep(call->store, "UPDATE access_keys SET status = ?2 WHERE access_key_id = ?1");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, status);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_fail(call->store, err);
	return 0;
}
IAM_TX_OP(iam_update_access_key, update_access_key)

static int delete_access_key(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *id;
	char owner[32];
	if (in_key_id(in, &id, err) < 0 || owned_key(call, in, id, owner, err) < 0)
		return -1;
	sqlite3_stmt *st = store_prep(call->store, "DELETE FROM access_keys WHERE access_key_id = ?1");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	store_bind_text(st, 1, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_fail(call->store, err);
	st = store_prep(call->store, "DELETE FROM iam_key_usage WHERE access_key_id = ?1");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	store_bind_text(st, 1, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_fail(call->store, err);
	return 0;
}
IAM_TX_OP(iam_delete_access_key, delete_access_key)

static int get_access_key_last_used(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *id;
	if (in_key_id(in, &id, err) < 0)
		return -1;
	sqlite3_stmt *st = store_prep(call->store, "SELECT p.name, u.last_used, u.service, u.region FROM access_keys k"
	                                           " LEFT JOIN iam_principals p ON p.unique_id = k.user_id AND p.kind = 1"
	                                           " LEFT JOIN iam_key_usage u ON u.access_key_id = k.access_key_id"
	                                           " WHERE k.access_key_id = ?1 AND k.account = ?2");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, call->account);
	int step = sqlite3_step(st);
	if (step != SQLITE_ROW) {
		sqlite3_reset(st);
		if (step != SQLITE_DONE)
			return store_fail(call->store, err);
		return emu_err_set(err, ERR_IAM_NO_SUCH_ENTITY, MSG_KEY_NOT_FOUND, id);
	}
	*out = json_object();
	if (store_col_text(st, 0))
		json_object_set_new(*out, "UserName", json_string(store_col_text(st, 0)));
	json_t *lu = json_object();
	if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
		json_object_set_new(lu, "LastUsedDate", iam_ts(sqlite3_column_double(st, 1)));
		json_object_set_new(lu, "ServiceName", json_string(store_col_text(st, 2)));
		json_object_set_new(lu, "Region", json_string(store_col_text(st, 3)));
	} else {
		json_object_set_new(lu, "ServiceName", json_string("N/A"));
		json_object_set_new(lu, "Region", json_string("N/A"));
	}
	json_object_set_new(*out, "AccessKeyLastUsed", lu);
	sqlite3_reset(st);
	return 0;
}
IAM_TX_OP(iam_get_access_key_last_used, get_access_key_last_used)
