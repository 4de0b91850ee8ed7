/*
 * kms_ops.c owns the KMS API operations (JSON in, JSON out): keys
 * (CreateKey, DescribeKey, ListKeys, UpdateKeyDescription, EnableKey,
 * DisableKey, ScheduleKeyDeletion, CancelKeyDeletion), aliases, tags, key
 * policies, and the cryptographic operations (Encrypt, Decrypt,
 * GenerateDataKey[WithoutPlaintext], ReEncrypt, GenerateRandom).
 *
 * May call: kms.c (kms_int.h), store, util, err.
 * Invariants: every operation runs in one savepoint (KMS_TX_OP) after keys
 * whose deletion date passed are purged; only symmetric ENCRYPT_DECRYPT keys
 * exist; AWS managed keys answer only the read operations (their key policy
 * allows nothing else to customers, so the rest is AccessDenied, as in
 * AWS); plaintexts are wiped before they are freed and never logged.
 */
#include "emu/kms_int.h"

#include "emu/util.h"

#include <math.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SYM "SYMMETRIC_DEFAULT"

static json_t *ts(double t) { return json_real(floor(t * 1000.0 + 0.5) / 1000.0); }

static const char *state_name(int s)
{
	return s == KMS_STATE_ENABLED ? "Enabled" : s == KMS_STATE_DISABLED ? "Disabled" : "PendingDeletion";
}

/* AWS's text for an action no policy allows (AWS managed keys). */
static int denied(struct emu_call *call, const char *action, const struct kms_key *k, struct emu_err *err)
{
	char root[64];
	snprintf(root, sizeof root, "arn:aws:iam::%s:root", call->account);
	const char *who = call->principal_arn ? call->principal_arn : root;
	return emu_err_set(err, ERR_ACCESS_DENIED,
	                   "User: %s is not authorized to perform: kms:%s on resource: %s because no resource-based "
	                   "policy allows the kms:%s action",
	                   who, action, k->arn, action);
}

/* A customer key that may be changed: not AWS managed, not pending deletion. */
static int find_mutable(struct emu_call *call, json_t *in, const char *action, struct kms_key *k,
                        struct emu_err *err)
{
	const char *id;
	if (kms_in_str(in, "KeyId", true, 1, 2048, &id, err) < 0 || kms_find_call(call, id, k, err) < 0)
		return -1;
	if (k->aws_managed)
		return denied(call, action, k, err);
	if (k->state == KMS_STATE_PENDING_DELETION)
		return emu_err_set(err, ERR_KMS_INVALID_STATE, "%s is pending deletion.", k->arn);
	return 0;
}

static int exec_done(struct store *s, sqlite3_stmt *st, struct emu_err *err)
{
	if (!st)
		return store_fail(s, err);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, err);
}

/* ---- KeyMetadata ------------------------------------------------------------------------- */

static json_t *metadata(struct store *s, const struct kms_key *k)
{
	json_t *m = json_object();
	json_object_set_new(m, "AWSAccountId", json_string(k->account));
	json_object_set_new(m, "KeyId", json_string(k->id));
	json_object_set_new(m, "Arn", json_string(k->arn));
	json_object_set_new(m, "CreationDate", ts(k->created));
	json_object_set_new(m, "Enabled", json_boolean(k->state == KMS_STATE_ENABLED));
	const char *desc = "";
	sqlite3_stmt *st = store_prep(s, "SELECT description FROM kms_keys WHERE id = ?1");
	if (st) {
		store_bind_text(st, 1, k->id);
		if (sqlite3_step(st) == SQLITE_ROW && store_col_text(st, 0))
			desc = store_col_text(st, 0);
	}
	json_object_set_new(m, "Description", json_string(desc));
	if (st)
		sqlite3_reset(st);
	json_object_set_new(m, "KeyUsage", json_string("ENCRYPT_DECRYPT"));
	json_object_set_new(m, "KeyState", json_string(state_name(k->state)));
	if (k->state == KMS_STATE_PENDING_DELETION)
		json_object_set_new(m, "DeletionDate", ts(k->deletion_date));
	json_object_set_new(m, "Origin", json_string("AWS_KMS"));
	json_object_set_new(m, "KeyManager", json_string(k->aws_managed ? "AWS" : "CUSTOMER"));
	json_object_set_new(m, "CustomerMasterKeySpec", json_string(SYM));
	json_object_set_new(m, "KeySpec", json_string(SYM));
	json_object_set_new(m, "EncryptionAlgorithms", json_pack("[s]", SYM));
	json_object_set_new(m, "MultiRegion", json_false());
	return m;
}

/* ---- tags ----------------------------------------------------------------------------------- */

/* Tags member [{TagKey, TagValue}] (required or not): validated, borrowed. */
static int in_tags(json_t *in, bool required, json_t **out, struct emu_err *err)
{
	*out = json_object_get(in, "Tags");
	if (json_is_null(*out))
		*out = NULL;
	if (!*out) {
		*out = NULL;
		if (!required)
			return 0;
		return emu_err_set(err, ERR_VALIDATION,
		                   "1 validation error detected: Value null at 'tags' failed to satisfy constraint: "
		                   "Member must not be null");
	}
	if (!json_is_array(*out))
		return emu_err_set(err, ERR_SERIALIZATION, "Unexpected value type for member Tags: expected a list.");
	size_t i;
	json_t *t;
	json_array_foreach(*out, i, t) {
		const char *k, *v;
		if (!json_is_object(t))
			return emu_err_set(err, ERR_SERIALIZATION, "Unexpected value type for member Tags: expected a list.");
		if (kms_in_str(t, "TagKey", true, 1, 128, &k, err) < 0 || kms_in_str(t, "TagValue", true, 0, 256, &v, err) < 0)
			return -1;
		if (strncasecmp(k, "aws:", 4) == 0)
			/* [?] text */
			return emu_err_set(err, ERR_KMS_TAG, "Tag keys beginning with aws: are reserved for AWS use.");
	}
	return 0;
}

static int tags_put(struct store *s, const char *key_id, json_t *tags, struct emu_err *err)
{
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t) {
		sqlite3_stmt *st = store_prep(
			s, "INSERT INTO kms_tags(key_id, tag_key, tag_value, ord) VALUES(?1, ?2, ?3, "
			   "(SELECT coalesce(max(ord), 0) + 1 FROM kms_tags WHERE key_id = ?1)) "
			   "ON CONFLICT(key_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value");
		if (st) {
			store_bind_text(st, 1, key_id);
			store_bind_text(st, 2, json_string_value(json_object_get(t, "TagKey")));
			store_bind_text(st, 3, json_string_value(json_object_get(t, "TagValue")));
		}
		if (exec_done(s, st, err) < 0)
			return -1;
	}
	sqlite3_stmt *st = store_prep(s, "SELECT count(*) FROM kms_tags WHERE key_id = ?1");
	if (!st)
		return store_fail(s, err);
	store_bind_text(st, 1, key_id);
	int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_reset(st);
	if (n < 0)
		return store_fail(s, err);
	if (n > KMS_TAGS_MAX) /* [?] text */
		return emu_err_set(err, ERR_KMS_TAG, "A KMS key can have at most %d tags.", KMS_TAGS_MAX);
	return 0;
}

/* ---- CreateKey / DescribeKey / ListKeys / UpdateKeyDescription ----------------------------- */

static int policy_ok(const char *policy, struct emu_err *err)
{
	json_t *p = json_loads(policy, 0, NULL);
	bool ok = json_is_object(p) && json_is_array(json_object_get(p, "Statement"));
	if (!ok && json_is_object(p))
		ok = json_is_object(json_object_get(p, "Statement"));
	json_decref(p);
	/* [?] text */
	return ok ? 0 : emu_err_set(err, ERR_KMS_MALFORMED_POLICY, "The key policy is not a valid JSON policy document.");
}

static int create_key_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *policy, *desc, *usage, *spec, *cmk_spec, *origin, *store_id, *xks;
	bool multi, bypass;
	json_t *tags;
	if (kms_in_str(in, "Policy", false, 1, KMS_POLICY_MAX, &policy, err) < 0 ||
	    kms_in_str(in, "Description", false, 0, KMS_DESCRIPTION_MAX, &desc, err) < 0 ||
	    kms_in_str(in, "KeyUsage", false, 1, 64, &usage, err) < 0 ||
	    kms_in_str(in, "KeySpec", false, 1, 64, &spec, err) < 0 ||
	    kms_in_str(in, "CustomerMasterKeySpec", false, 1, 64, &cmk_spec, err) < 0 ||
	    kms_in_str(in, "Origin", false, 1, 64, &origin, err) < 0 ||
	    kms_in_str(in, "CustomKeyStoreId", false, 1, 64, &store_id, err) < 0 ||
	    kms_in_str(in, "XksKeyId", false, 1, 128, &xks, err) < 0 || kms_in_bool(in, "MultiRegion", &multi, err) < 0 ||
	    kms_in_bool(in, "BypassPolicyLockoutSafetyCheck", &bypass, err) < 0 || in_tags(in, false, &tags, err) < 0)
		return -1;
	if (spec && cmk_spec) /* [?] text */
		return emu_err_set(err, ERR_VALIDATION, "You cannot specify KeySpec and CustomerMasterKeySpec in the same "
		                                        "request. CustomerMasterKeySpec is deprecated.");
	if ((usage && strcmp(usage, "ENCRYPT_DECRYPT") != 0) || (spec && strcmp(spec, SYM) != 0) ||
	    (cmk_spec && strcmp(cmk_spec, SYM) != 0) || (origin && strcmp(origin, "AWS_KMS") != 0) || store_id || xks ||
	    multi)
		return emu_err_set(err, ERR_KMS_UNSUPPORTED,
		                   "rdsemu supports only single-Region symmetric encryption keys (KeySpec "
		                   "SYMMETRIC_DEFAULT, KeyUsage ENCRYPT_DECRYPT, Origin AWS_KMS).");
	if (policy && policy_ok(policy, err) < 0)
		return -1;
	if (tags && json_array_size(tags) > KMS_TAGS_MAX)
		return emu_err_set(err, ERR_KMS_TAG, "A KMS key can have at most %d tags.", KMS_TAGS_MAX);
	char *dflt = policy ? NULL : kms_default_policy(call->account);
	struct kms_key k;
	int rc = kms_key_create(call->store, call->account, call->region, call->now, false, desc,
	                        policy ? policy : dflt, &k, err);
	free(dflt);
	if (rc < 0 || (tags && tags_put(call->store, k.id, tags, err) < 0))
		return -1;
	*out = json_pack("{s:o}", "KeyMetadata", metadata(call->store, &k));
	return 0;
}
KMS_TX_OP(kms_create_key, create_key_impl)

static int describe_key_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *id;
	struct kms_key k;
	if (kms_in_str(in, "KeyId", true, 1, 2048, &id, err) < 0 || kms_find_call(call, id, &k, err) < 0)
		return -1;
	*out = json_pack("{s:o}", "KeyMetadata", metadata(call->store, &k));
	return 0;
}
KMS_TX_OP(kms_describe_key, describe_key_impl)

/* Adds Truncated (and NextMarker) to a listing that fetched limit+1 rows. */
static void page_end(json_t *o, const char *what, long long off, long long got, bool more)
{
	json_object_set_new(o, "Truncated", json_boolean(more));
	if (more) {
		char m[64];
		kms_marker(what, off + got, m);
		json_object_set_new(o, "NextMarker", json_string(m));
	}
}

static int list_keys_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	long long limit, off;
	if (kms_in_page(in, "keys", 1000, 100, &limit, &off, err) < 0)
		return -1;
	sqlite3_stmt *st = store_prep(call->store, "SELECT id, arn FROM kms_keys WHERE account = ?1 AND region = ?2 "
	                                           "ORDER BY rowid LIMIT ?3 OFFSET ?4");
	if (!st)
		return store_fail(call->store, err);
	store_bind_text(st, 1, call->account);
	store_bind_text(st, 2, call->region);
	sqlite3_bind_int64(st, 3, limit + 1);
	sqlite3_bind_int64(st, 4, off);
	json_t *keys = json_array();
	long long got = 0;
	bool more = false;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (got == limit) {
			more = true;
			break;
		}
		got++;
		json_array_append_new(keys, json_pack("{s:s, s:s}", "KeyId", (const char *)sqlite3_column_text(st, 0),
		                                      "KeyArn", (const char *)sqlite3_column_text(st, 1)));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		json_decref(keys);
		return store_fail(call->store, err);
	}
	*out = json_pack("{s:o}", "Keys", keys);
	page_end(*out, "keys", off, got, more);
	return 0;
}
KMS_TX_OP(kms_list_keys, list_keys_impl)

static int update_description_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *desc;
	struct kms_key k;
	if (find_mutable(call, in, "UpdateKeyDescription", &k, err) < 0 ||
	    kms_in_str(in, "Description", true, 0, KMS_DESCRIPTION_MAX, &desc, err) < 0)
		return -1;
	sqlite3_stmt *st = store_prep(call->store, "UPDATE kms_keys SET description = ?2 WHERE id = ?1");
	if (st) {
		store_bind_text(st, 1, k.id);
		store_bind_text(st, 2, desc);
	}
	(void)out;
	return exec_done(call->store, st, err);
}
KMS_TX_OP(kms_update_key_description, update_description_impl)

/* ---- key state ------------------------------------------------------------------------------ */

static int set_state(struct store *s, const char *id, int state, double deletion, int days, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "UPDATE kms_keys SET state = ?2, deletion_date = ?3, pending_days = ?4 "
	                                 "WHERE id = ?1");
	if (st) {
		store_bind_text(st, 1, id);
		sqlite3_bind_int(st, 2, state);
		if (deletion > 0)
			sqlite3_bind_double(st, 3, deletion);
		else
			sqlite3_bind_null(st, 3);
		if (days > 0)
			sqlite3_bind_int(st, 4, days);
		else
			sqlite3_bind_null(st, 4);
	}
	return exec_done(s, st, err);
}

static int enable_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct kms_key k;
	(void)out;
	if (find_mutable(call, in, "EnableKey", &k, err) < 0)
		return -1;
	return set_state(call->store, k.id, KMS_STATE_ENABLED, 0, 0, err);
}
KMS_TX_OP(kms_enable_key, enable_impl)

static int disable_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct kms_key k;
	(void)out;
	if (find_mutable(call, in, "DisableKey", &k, err) < 0)
		return -1;
	return set_state(call->store, k.id, KMS_STATE_DISABLED, 0, 0, err);
}
KMS_TX_OP(kms_disable_key, disable_impl)

static int schedule_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct kms_key k;
	long long days = 30;
	bool has;
	if (kms_in_int(in, "PendingWindowInDays", 1, 365, &days, &has, err) < 0 ||
	    find_mutable(call, in, "ScheduleKeyDeletion", &k, err) < 0)
		return -1;
	if (days < 7 || days > 30)
		return emu_err_set(err, ERR_VALIDATION,
		                   "1 validation error detected: Value '%lld' at 'pendingWindowInDays' failed to satisfy "
		                   "constraint: Member must have value %s %d",
		                   days, days < 7 ? "greater than or equal to" : "less than or equal to", days < 7 ? 7 : 30);
	double when = floor((call->now + (double)days * 86400.0) * 1000.0 + 0.5) / 1000.0;
	if (set_state(call->store, k.id, KMS_STATE_PENDING_DELETION, when, (int)days, err) < 0)
		return -1;
	*out = json_pack("{s:s, s:o, s:s, s:I}", "KeyId", k.arn, "DeletionDate", ts(when), "KeyState", "PendingDeletion",
	                 "PendingWindowInDays", (json_int_t)days);
	return 0;
}
KMS_TX_OP(kms_schedule_key_deletion, schedule_impl)

static int cancel_deletion_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *id;
	struct kms_key k;
	if (kms_in_str(in, "KeyId", true, 1, 2048, &id, err) < 0 || kms_find_call(call, id, &k, err) < 0)
		return -1;
	if (k.aws_managed)
		return denied(call, "CancelKeyDeletion", &k, err);
	if (k.state != KMS_STATE_PENDING_DELETION) /* [?] text */
		return emu_err_set(err, ERR_KMS_INVALID_STATE, "%s is not pending deletion.", k.arn);
	/* [M] "the key state of the KMS key is Disabled" after cancelling. */
	if (set_state(call->store, k.id, KMS_STATE_DISABLED, 0, 0, err) < 0)
		return -1;
	*out = json_pack("{s:s}", "KeyId", k.arn);
	return 0;
}
KMS_TX_OP(kms_cancel_key_deletion, cancel_deletion_impl)

/* ---- aliases ------------------------------------------------------------------------------------- */

/* AliasName: "alias/" + [A-Za-z0-9/_-]+, not alias/aws/ (reserved). */
static int alias_name_ok(const char *name, struct emu_err *err)
{
	if (!util_has_prefix(name, "alias/"))
		return emu_err_set(err, ERR_VALIDATION,
		                   "Alias must start with the prefix \"alias/\". Please see "
		                   "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html");
	if (util_has_prefix(name, "alias/aws/"))
		/* [?] text; the code is the modelled one for a bad alias name */
		return emu_err_set(err, ERR_KMS_INVALID_ALIAS_NAME,
		                   "Alias names cannot begin with alias/aws/. The alias/aws/ prefix is reserved for AWS "
		                   "managed keys.");
	const char *p = name + 6;
	bool ok = *p != '\0';
	for (; *p && ok; p++)
		ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("/_-", *p);
	if (!ok)
		return emu_err_set(err, ERR_KMS_INVALID_ALIAS_NAME, "Alias name %.256s contains invalid characters.", name);
	return 0;
}

/* TargetKeyId: a key (not an alias) of the caller's account that may get an alias. */
static int alias_target(struct emu_call *call, json_t *in, const char *action, struct kms_key *k, struct emu_err *err)
{
	const char *id;
	if (kms_in_str(in, "TargetKeyId", true, 1, 2048, &id, err) < 0)
		return -1;
	if (util_has_prefix(id, "alias/") || (util_has_prefix(id, "arn:") && strstr(id, ":alias/")))
		return emu_err_set(err, ERR_VALIDATION, "Aliases must refer to keys. Not aliases"); /* [?] text */
	if (kms_find_call(call, id, k, err) < 0)
		return -1;
	if (strcmp(k->account, call->account) != 0) /* an alias and its key share account and region */
		return emu_err_set(err, ERR_KMS_NOT_FOUND, "Key '%s' does not exist", k->arn);
	if (k->aws_managed)
		return denied(call, action, k, err);
	if (k->state == KMS_STATE_PENDING_DELETION)
		return emu_err_set(err, ERR_KMS_INVALID_STATE, "%s is pending deletion.", k->arn);
	return 0;
}

/* 1 if alias `name` exists in the caller's account and region, 0 if not, -1 on error. */
static int alias_exists(struct emu_call *call, const char *name, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(call->store, "SELECT 1 FROM kms_aliases WHERE account = ?1 AND region = ?2 AND "
	                                           "name = ?3");
	if (!st)
		return store_fail(call->store, err);
	store_bind_text(st, 1, call->account);
	store_bind_text(st, 2, call->region);
	store_bind_text(st, 3, name);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_fail(call->store, err);
	return rc == SQLITE_ROW;
}

static int alias_not_found(struct emu_call *call, const char *name, struct emu_err *err)
{
	char pfx[160];
	kms_arn_prefix(call->region, call->account, pfx, sizeof pfx);
	return emu_err_set(err, ERR_KMS_NOT_FOUND, "Alias %s%s is not found.", pfx, name);
}

static int create_alias_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *name;
	struct kms_key k;
	(void)out;
	if (kms_in_str(in, "AliasName", true, 1, KMS_ALIAS_MAX, &name, err) < 0 || alias_name_ok(name, err) < 0 ||
	    alias_target(call, in, "CreateAlias", &k, err) < 0)
		return -1;
	int ex = alias_exists(call, name, err);
	if (ex < 0)
		return -1;
	if (ex) {
		char pfx[160];
		kms_arn_prefix(call->region, call->account, pfx, sizeof pfx);
		return emu_err_set(err, ERR_KMS_ALREADY_EXISTS, "An alias with the name %s%s already exists", pfx, name);
	}
	sqlite3_stmt *st = store_prep(call->store, "INSERT INTO kms_aliases(account, region, name, key_id, created, "
	                                           "updated) VALUES(?1, ?2, ?3, ?4, ?5, ?5)");
	if (st) {
		store_bind_text(st, 1, call->account);
		store_bind_text(st, 2, call->region);
		store_bind_text(st, 3, name);
		store_bind_text(st, 4, k.id);
		sqlite3_bind_double(st, 5, floor(call->now * 1000.0 + 0.5) / 1000.0);
	}
	return exec_done(call->store, st, err);
}
KMS_TX_OP(kms_create_alias, create_alias_impl)

static int update_alias_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *name;
	struct kms_key k;
	(void)out;
	if (kms_in_str(in, "AliasName", true, 1, KMS_ALIAS_MAX, &name, err) < 0 || alias_name_ok(name, err) < 0)
		return -1;
	int ex = alias_exists(call, name, err);
	if (ex <= 0)
		return ex < 0 ? -1 : alias_not_found(call, name, err);
	if (alias_target(call, in, "UpdateAlias", &k, err) < 0)
		return -1;
	sqlite3_stmt *st = store_prep(call->store, "UPDATE kms_aliases SET key_id = ?4, updated = ?5 WHERE account = ?1 "
	                                           "AND region = ?2 AND name = ?3");
	if (st) {
		store_bind_text(st, 1, call->account);
		store_bind_text(st, 2, call->region);
		store_bind_text(st, 3, name);
		store_bind_text(st, 4, k.id);
		sqlite3_bind_double(st, 5, floor(call->now * 1000.0 + 0.5) / 1000.0);
	}
	return exec_done(call->store, st, err);
}
KMS_TX_OP(kms_update_alias, update_alias_impl)

static int delete_alias_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *name;
	(void)out;
	if (kms_in_str(in, "AliasName", true, 1, KMS_ALIAS_MAX, &name, err) < 0 || alias_name_ok(name, err) < 0)
		return -1;
	int ex = alias_exists(call, name, err);
	if (ex <= 0)
		return ex < 0 ? -1 : alias_not_found(call, name, err);
	sqlite3_stmt *st = store_prep(call->store, "DELETE FROM kms_aliases WHERE account = ?1 AND region = ?2 AND "
	                                           "name = ?3");
	if (st) {
		store_bind_text(st, 1, call->account);
		store_bind_text(st, 2, call->region);
		store_bind_text(st, 3, name);
	}
	return exec_done(call->store, st, err);
}
KMS_TX_OP(kms_delete_alias, delete_alias_impl)

static int list_aliases_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *key_id;
	long long limit, off;
	struct kms_key k;
	if (kms_in_str(in, "KeyId", false, 1, 2048, &key_id, err) < 0 ||
	    kms_in_page(in, "aliases", 100, 50, &limit, &off, err) < 0)
		return -1;
	if (key_id && kms_find_call(call, key_id, &k, err) < 0)
		return -1;
	sqlite3_stmt *st = store_prep(call->store, "SELECT name, key_id, created, updated FROM kms_aliases "
	                                           "WHERE account = ?1 AND region = ?2 AND (?3 IS NULL OR key_id = ?3) "
	                                           "ORDER BY name LIMIT ?4 OFFSET ?5");
	if (!st)
		return store_fail(call->store, err);
	store_bind_text(st, 1, call->account);
	store_bind_text(st, 2, call->region);
	store_bind_text(st, 3, key_id ? k.id : NULL);
	sqlite3_bind_int64(st, 4, limit + 1);
	sqlite3_bind_int64(st, 5, off);
	char pfx[160];
	kms_arn_prefix(call->region, call->account, pfx, sizeof pfx);
	json_t *list = json_array();
	long long got = 0;
	bool more = false;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (got == limit) {
			more = true;
			break;
		}
		got++;
		const char *name = (const char *)sqlite3_column_text(st, 0);
		char arn[KMS_ARN_MAX];
		snprintf(arn, sizeof arn, "%s%s", pfx, name);
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:o, s:o}", "AliasName", name, "AliasArn", arn,
		                                      "TargetKeyId", (const char *)sqlite3_column_text(st, 1),
		                                      "CreationDate", ts(sqlite3_column_double(st, 2)), "LastUpdatedDate",
		                                      ts(sqlite3_column_double(st, 3))));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		json_decref(list);
		return store_fail(call->store, err);
	}
	*out = json_pack("{s:o}", "Aliases", list);
	page_end(*out, "aliases", off, got, more);
	return 0;
}
KMS_TX_OP(kms_list_aliases, list_aliases_impl)

/* ---- tags ------------------------------------------------------------------------------------------- */

static int tag_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct kms_key k;
	json_t *tags;
	(void)out;
	if (find_mutable(call, in, "TagResource", &k, err) < 0 || in_tags(in, true, &tags, err) < 0)
		return -1;
	return tags_put(call->store, k.id, tags, err);
}
KMS_TX_OP(kms_tag_resource, tag_impl)

static int untag_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct kms_key k;
	(void)out;
	if (find_mutable(call, in, "UntagResource", &k, err) < 0)
		return -1;
	json_t *keys = json_object_get(in, "TagKeys");
	if (!keys || json_is_null(keys))
		return emu_err_set(err, ERR_VALIDATION,
		                   "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: "
		                   "Member must not be null");
	if (!json_is_array(keys))
		return emu_err_set(err, ERR_SERIALIZATION, "Unexpected value type for member TagKeys: expected a list.");
	size_t i;
	json_t *e;
	json_array_foreach(keys, i, e) {
		if (!json_is_string(e))
			return emu_err_set(err, ERR_SERIALIZATION,
			                   "Unexpected value type for member TagKeys: expected a list of strings.");
		sqlite3_stmt *st = store_prep(call->store, "DELETE FROM kms_tags WHERE key_id = ?1 AND tag_key = ?2");
		if (st) {
			store_bind_text(st, 1, k.id);
			store_bind_text(st, 2, json_string_value(e));
		}
		if (exec_done(call->store, st, err) < 0)
			return -1;
	}
	return 0;
}
KMS_TX_OP(kms_untag_resource, untag_impl)

static int list_tags_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *id;
	long long limit, off;
	struct kms_key k;
	if (kms_in_str(in, "KeyId", true, 1, 2048, &id, err) < 0 || kms_in_page(in, "tags", 50, 50, &limit, &off, err) < 0 ||
	    kms_find_call(call, id, &k, err) < 0)
		return -1;
	sqlite3_stmt *st = store_prep(call->store, "SELECT tag_key, tag_value FROM kms_tags WHERE key_id = ?1 "
	                                           "ORDER BY ord LIMIT ?2 OFFSET ?3");
	if (!st)
		return store_fail(call->store, err);
	store_bind_text(st, 1, k.id);
	sqlite3_bind_int64(st, 2, limit + 1);
	sqlite3_bind_int64(st, 3, off);
	json_t *list = json_array();
	long long got = 0;
	bool more = false;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (got == limit) {
			more = true;
			break;
		}
		got++;
		json_array_append_new(list, json_pack("{s:s, s:s}", "TagKey", (const char *)sqlite3_column_text(st, 0),
		                                      "TagValue", (const char *)sqlite3_column_text(st, 1)));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		json_decref(list);
		return store_fail(call->store, err);
	}
	*out = json_pack("{s:o}", "Tags", list);
	page_end(*out, "tags", off, got, more);
	return 0;
}
KMS_TX_OP(kms_list_resource_tags, list_tags_impl)

/* ---- key policies ------------------------------------------------------------------------------------- */

static int policy_name_ok(json_t *in, struct emu_err *err)
{
	const char *name;
	if (kms_in_str(in, "PolicyName", false, 1, 128, &name, err) < 0)
		return -1;
	if (name && strcmp(name, "default") != 0) /* [?] text */
		return emu_err_set(err, ERR_KMS_NOT_FOUND, "No such policy exists");
	return 0;
}

static int get_policy_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *id;
	struct kms_key k;
	if (kms_in_str(in, "KeyId", true, 1, 2048, &id, err) < 0 || policy_name_ok(in, err) < 0 ||
	    kms_find_call(call, id, &k, err) < 0)
		return -1;
	sqlite3_stmt *st = store_prep(call->store, "SELECT policy FROM kms_keys WHERE id = ?1");
	if (!st)
		return store_fail(call->store, err);
	store_bind_text(st, 1, k.id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return store_fail(call->store, err);
	}
	*out = json_pack("{s:s, s:s}", "Policy", (const char *)sqlite3_column_text(st, 0), "PolicyName", "default");
	sqlite3_reset(st);
	return 0;
}
KMS_TX_OP(kms_get_key_policy, get_policy_impl)

static int put_policy_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *policy;
	struct kms_key k;
	bool bypass;
	(void)out;
	if (policy_name_ok(in, err) < 0 || kms_in_str(in, "Policy", true, 1, KMS_POLICY_MAX, &policy, err) < 0 ||
	    kms_in_bool(in, "BypassPolicyLockoutSafetyCheck", &bypass, err) < 0 ||
	    find_mutable(call, in, "PutKeyPolicy", &k, err) < 0 || policy_ok(policy, err) < 0)
		return -1;
	sqlite3_stmt *st = store_prep(call->store, "UPDATE kms_keys SET policy = ?2 WHERE id = ?1");
	if (st) {
		store_bind_text(st, 1, k.id);
		store_bind_text(st, 2, policy);
	}
	return exec_done(call->store, st, err);
}
KMS_TX_OP(kms_put_key_policy, put_policy_impl)

static int list_policies_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *id;
	long long limit, off;
	struct kms_key k;
	if (kms_in_str(in, "KeyId", true, 1, 2048, &id, err) < 0 ||
	    kms_in_page(in, "policies", 1000, 100, &limit, &off, err) < 0 || kms_find_call(call, id, &k, err) < 0)
		return -1;
	*out = json_pack("{s:[s], s:b}", "PolicyNames", "default", "Truncated", 0);
	if (off > 0)
		json_array_clear(json_object_get(*out, "PolicyNames"));
	return 0;
}
KMS_TX_OP(kms_list_key_policies, list_policies_impl)

/* ---- cryptographic operations ------------------------------------------------------------------------ */

static int check_algorithm(json_t *in, const char *member, struct emu_err *err)
{
	const char *alg;
	if (kms_in_str(in, member, false, 1, 64, &alg, err) < 0)
		return -1;
	if (alg && strcmp(alg, SYM) != 0) /* [?] text */
		return emu_err_set(err, ERR_KMS_INVALID_KEY_USAGE,
		                   "The encryption algorithm %.32s is not compatible with the KMS key's key spec "
		                   "SYMMETRIC_DEFAULT.",
		                   alg);
	return 0;
}

static int no_recipient(json_t *in, struct emu_err *err)
{
	json_t *r = json_object_get(in, "Recipient");
	if (r && !json_is_null(r))
		return emu_err_set(err, ERR_KMS_UNSUPPORTED, "rdsemu does not support Recipient (Nitro Enclaves attestation).");
	return 0;
}

/* A key usable for cryptography by the caller: customer managed (AWS managed
 * keys are used only through their service), Enabled. */
static int crypto_key(struct emu_call *call, const char *id, const char *action, struct kms_key *k,
                      struct emu_err *err)
{
	if (kms_find_call(call, id, k, err) < 0)
		return -1;
	if (k->aws_managed)
		return denied(call, action, k, err);
	return kms_check_usable(k, err);
}

static json_t *b64(const unsigned char *p, size_t n)
{
	size_t cap = (n + 2) / 3 * 4 + 1;
	unsigned char *e = util_xcalloc(cap, 1);
	EVP_EncodeBlock(e, p, (int)n);
	json_t *j = json_string((const char *)e);
	OPENSSL_clear_free(e, cap);
	return j;
}

static int dry_run(json_t *in, struct emu_err *err)
{
	bool dry;
	if (kms_in_bool(in, "DryRun", &dry, err) < 0)
		return -1;
	return dry ? emu_err_set(err, ERR_KMS_DRY_RUN, NULL) : 0;
}

static int encrypt_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *id;
	json_t *ctx;
	struct kms_key k;
	if (kms_in_str(in, "KeyId", true, 1, 2048, &id, err) < 0 || kms_in_ctx(in, "EncryptionContext", &ctx, err) < 0 ||
	    check_algorithm(in, "EncryptionAlgorithm", err) < 0)
		return -1;
	unsigned char *pt, *blob = NULL;
	size_t n, bl;
	if (kms_in_blob(in, "Plaintext", true, 1, KMS_PLAINTEXT_MAX, &pt, &n, err) < 0)
		return -1;
	int rc = crypto_key(call, id, "Encrypt", &k, err);
	if (rc == 0)
		rc = dry_run(in, err);
	if (rc == 0)
		rc = kms_key_encrypt(call->store, &k, ctx, pt, n, &blob, &bl, err);
	OPENSSL_clear_free(pt, n);
	if (rc < 0)
		return -1;
	*out = json_pack("{s:o, s:s, s:s}", "CiphertextBlob", b64(blob, bl), "KeyId", k.arn, "EncryptionAlgorithm", SYM);
	free(blob);
	return 0;
}
KMS_TX_OP(kms_encrypt, encrypt_impl)

/* Opens a ciphertext blob: the key it names (checked against want_id when
 * given: IncorrectKeyException), usable, and the context must match. */
static int open_blob(struct emu_call *call, const unsigned char *blob, size_t n, const char *want_id, json_t *ctx,
                     const char *action, struct kms_key *k, unsigned char **pt, size_t *pt_len, struct emu_err *err)
{
	char id[40];
	if (kms_blob_key_id(blob, n, id, err) < 0)
		return -1;
	if (want_id) {
		struct kms_key w;
		if (kms_find_call(call, want_id, &w, err) < 0)
			return -1;
		if (strcmp(w.id, id) != 0)
			return emu_err_set(err, ERR_KMS_INCORRECT_KEY, NULL);
	}
	int rc = kms_key_by_id(call->store, id, call->region, call->now, k, err);
	if (rc < 0)
		return -1;
	if (rc == 0) /* unknown, deleted or another region's key: indistinguishable from a corrupt blob */
		return emu_err_set(err, ERR_KMS_INVALID_CIPHERTEXT, NULL);
	if (k->aws_managed)
		return denied(call, action, k, err);
	if (kms_check_usable(k, err) < 0)
		return -1;
	return kms_key_decrypt(call->store, k, ctx, blob, n, pt, pt_len, err);
}

static int decrypt_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *id;
	json_t *ctx;
	struct kms_key k;
	if (kms_in_str(in, "KeyId", false, 1, 2048, &id, err) < 0 || kms_in_ctx(in, "EncryptionContext", &ctx, err) < 0 ||
	    check_algorithm(in, "EncryptionAlgorithm", err) < 0 || no_recipient(in, err) < 0)
		return -1;
	unsigned char *blob, *pt = NULL;
	size_t n, pl = 0;
	if (kms_in_blob(in, "CiphertextBlob", true, 1, KMS_BLOB_MAX, &blob, &n, err) < 0)
		return -1;
	int rc = open_blob(call, blob, n, id, ctx, "Decrypt", &k, &pt, &pl, err);
	OPENSSL_clear_free(blob, n);
	if (rc == 0 && (rc = dry_run(in, err)) == 0)
		*out = json_pack("{s:s, s:o, s:s}", "KeyId", k.arn, "Plaintext", b64(pt, pl), "EncryptionAlgorithm", SYM);
	if (pt)
		OPENSSL_clear_free(pt, pl + 1);
	return rc;
}
KMS_TX_OP(kms_decrypt, decrypt_impl)

static int data_key(struct emu_call *call, json_t *in, json_t **out, bool with_plaintext, struct emu_err *err)
{
	const char *id, *spec;
	json_t *ctx;
	long long nbytes = 0;
	bool has_n;
	struct kms_key k;
	if (kms_in_str(in, "KeyId", true, 1, 2048, &id, err) < 0 || kms_in_ctx(in, "EncryptionContext", &ctx, err) < 0 ||
	    kms_in_int(in, "NumberOfBytes", 1, 1024, &nbytes, &has_n, err) < 0 ||
	    kms_in_str(in, "KeySpec", false, 1, 16, &spec, err) < 0 || no_recipient(in, err) < 0)
		return -1;
	if (!!spec == has_n) /* [?] text for both/neither */
		return emu_err_set(err, ERR_VALIDATION, "Please specify either number of bytes or key spec.");
	if (spec) {
		if (strcmp(spec, "AES_256") == 0)
			nbytes = 32;
		else if (strcmp(spec, "AES_128") == 0)
			nbytes = 16;
		else
			return emu_err_set(err, ERR_VALIDATION,
			                   "1 validation error detected: Value '%.16s' at 'keySpec' failed to satisfy "
			                   "constraint: Member must satisfy enum value set: [AES_256, AES_128]",
			                   spec);
	}
	const char *action = with_plaintext ? "GenerateDataKey" : "GenerateDataKeyWithoutPlaintext";
	if (crypto_key(call, id, action, &k, err) < 0 || dry_run(in, err) < 0)
		return -1;
	unsigned char dk[1024], *blob;
	size_t bl;
	util_random(dk, (size_t)nbytes);
	int rc = kms_key_encrypt(call->store, &k, ctx, dk, (size_t)nbytes, &blob, &bl, err);
	if (rc == 0) {
		*out = json_pack("{s:o, s:s}", "CiphertextBlob", b64(blob, bl), "KeyId", k.arn);
		if (with_plaintext)
			json_object_set_new(*out, "Plaintext", b64(dk, (size_t)nbytes));
		free(blob);
	}
	OPENSSL_cleanse(dk, sizeof dk);
	return rc;
}

static int gdk_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	return data_key(call, in, out, true, err);
}
KMS_TX_OP(kms_generate_data_key, gdk_impl)

static int gdk_np_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	return data_key(call, in, out, false, err);
}
KMS_TX_OP(kms_generate_data_key_without_plaintext, gdk_np_impl)

static int re_encrypt_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *src_id, *dst_id;
	json_t *src_ctx, *dst_ctx;
	struct kms_key src, dst;
	if (kms_in_str(in, "SourceKeyId", false, 1, 2048, &src_id, err) < 0 ||
	    kms_in_str(in, "DestinationKeyId", true, 1, 2048, &dst_id, err) < 0 ||
	    kms_in_ctx(in, "SourceEncryptionContext", &src_ctx, err) < 0 ||
	    kms_in_ctx(in, "DestinationEncryptionContext", &dst_ctx, err) < 0 ||
	    check_algorithm(in, "SourceEncryptionAlgorithm", err) < 0 ||
	    check_algorithm(in, "DestinationEncryptionAlgorithm", err) < 0)
		return -1;
	unsigned char *blob, *pt = NULL, *nb = NULL;
	size_t n, pl = 0, nbl;
	if (kms_in_blob(in, "CiphertextBlob", true, 1, KMS_BLOB_MAX, &blob, &n, err) < 0)
		return -1;
	int rc = open_blob(call, blob, n, src_id, src_ctx, "ReEncryptFrom", &src, &pt, &pl, err);
	OPENSSL_clear_free(blob, n);
	if (rc == 0)
		rc = crypto_key(call, dst_id, "ReEncryptTo", &dst, err);
	if (rc == 0)
		rc = dry_run(in, err);
	if (rc == 0)
		rc = kms_key_encrypt(call->store, &dst, dst_ctx, pt, pl, &nb, &nbl, err);
	if (pt)
		OPENSSL_clear_free(pt, pl + 1);
	if (rc < 0)
		return -1;
	*out = json_pack("{s:o, s:s, s:s, s:s, s:s}", "CiphertextBlob", b64(nb, nbl), "SourceKeyId", src.arn, "KeyId",
	                 dst.arn, "SourceEncryptionAlgorithm", SYM, "DestinationEncryptionAlgorithm", SYM);
	free(nb);
	return 0;
}
KMS_TX_OP(kms_re_encrypt, re_encrypt_impl)

static int random_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	long long n = 0;
	bool has;
	const char *store_id;
	(void)call;
	if (kms_in_int(in, "NumberOfBytes", 1, 1024, &n, &has, err) < 0 ||
	    kms_in_str(in, "CustomKeyStoreId", false, 1, 64, &store_id, err) < 0 || no_recipient(in, err) < 0)
		return -1;
	if (!has) /* [?] AWS requires it in practice although the model does not */
		return emu_err_set(err, ERR_VALIDATION,
		                   "1 validation error detected: Value null at 'numberOfBytes' failed to satisfy constraint: "
		                   "Member must not be null");
	if (store_id)
		return emu_err_set(err, ERR_KMS_UNSUPPORTED, "rdsemu has no custom key stores.");
	unsigned char r[1024];
	util_random(r, (size_t)n);
	*out = json_pack("{s:o}", "Plaintext", b64(r, (size_t)n));
	OPENSSL_cleanse(r, sizeof r);
	return 0;
}
KMS_TX_OP(kms_generate_random, random_impl)
