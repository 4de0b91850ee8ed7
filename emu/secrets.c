/*
 * secrets.c owns the shared machinery of the Secrets Manager domain:
 * request-member accessors, SecretId resolution, the version and staging
 * label primitives (aws-behaviour.md section 5.4), value encoding,
 * rendering of DescribeSecret / SecretListEntry, permanent deletion of
 * secrets whose recovery window ended, and the Lambda registry.
 * The operations themselves live in secrets_ops.c (values, versions,
 * metadata, deletion, tags), secrets_list.c (listing and batch reads),
 * secrets_policy.c, secrets_repl.c and secrets_rot.c.
 *
 * May call: store, util, clock, log, err, secrets_enc.c for values at rest
 * (never api/ or wire/).
 * Invariants: a staging label is on at most one version of a secret (the
 * secret_stages primary key); times are stored rounded to milliseconds;
 * secret values are never logged nor put into error messages.
 */
#include "emu/secrets_int.h"

#include "emu/buf.h"
#include "emu/log.h"
#include "emu/model.h"
#include "emu/util.h"

#include <math.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static struct secrets_hooks hooks;

void secrets_set_hooks(const struct secrets_hooks *h)
{
	if (h)
		hooks = *h;
	else
		memset(&hooks, 0, sizeof hooks);
}

const struct secrets_hooks *secrets_hooks_get(void) { return &hooks; }

/* ---- request members -------------------------------------------------------- */

void secrets_member_path(const char *key, char *out, size_t n)
{
	snprintf(out, n, "%s", key);
	if (out[0] >= 'A' && out[0] <= 'Z')
		out[0] = (char)(out[0] - 'A' + 'a');
}

static json_t *member(json_t *in, const char *key)
{
	json_t *v = json_is_object(in) ? json_object_get(in, key) : NULL;
	return json_is_null(v) ? NULL : v;
}

static int bad_type(const char *key, const char *want, struct emu_err *err)
{
	return emu_err_set(err, ERR_SERIALIZATION, "Unexpected value type for member %s: expected %s.", key, want);
}

static int missing(const char *key, struct emu_err *err)
{
	char path[64];
	secrets_member_path(key, path, sizeof path);
	return emu_err_set(err, ERR_VALIDATION,
	                   "1 validation error detected: Value null at '%s' failed to satisfy constraint: "
	                   "Member must not be null",
	                   path);
}

static int bad_len(const char *key, size_t lim, bool too_long, struct emu_err *err)
{
	char path[64];
	secrets_member_path(key, path, sizeof path);
	return emu_err_set(err, ERR_VALIDATION,
	                   "1 validation error detected: Value at '%s' failed to satisfy constraint: "
	                   "Member must have length %s %zu",
	                   path, too_long ? "less than or equal to" : "greater than or equal to", lim);
}

int secrets_in_str(json_t *in, const char *key, bool required, size_t min, size_t max, const char **out,
                   struct emu_err *err)
{
	*out = NULL;
	json_t *v = member(in, key);
	if (!v)
		return required ? missing(key, err) : 0;
	if (!json_is_string(v))
		return bad_type(key, "a string", err);
	const char *s = json_string_value(v);
	size_t bytes = json_string_length(v);
	if (strlen(s) != bytes)
		return emu_err_set(err, ERR_VALIDATION,
		                   "1 validation error detected: Value at '%s' failed to satisfy constraint: "
		                   "Member must not contain NUL characters",
		                   key);
	size_t n = model_utf8_len(s, bytes);
	if (n < min)
		return bad_len(key, min, false, err);
	if (n > max)
		return bad_len(key, max, true, err);
	*out = s;
	return 0;
}

int secrets_in_bool(json_t *in, const char *key, bool dflt, bool *out, bool *present, struct emu_err *err)
{
	json_t *v = member(in, key);
	*out = dflt;
	if (present)
		*present = v != NULL;
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return bad_type(key, "a boolean", err);
	*out = json_is_true(v);
	return 0;
}

int secrets_in_int(json_t *in, const char *key, long long lo, long long hi, long long *out, bool *present,
                   struct emu_err *err)
{
	json_t *v = member(in, key);
	if (present)
		*present = v != NULL;
	if (!v)
		return 0;
	if (!json_is_integer(v))
		return bad_type(key, "an integer", err);
	long long x = (long long)json_integer_value(v);
	char path[64];
	secrets_member_path(key, path, sizeof path);
	if (x < lo)
		return emu_err_set(err, ERR_VALIDATION,
		                   "1 validation error detected: Value '%lld' at '%s' failed to satisfy constraint: "
		                   "Member must have value greater than or equal to %lld",
		                   x, path, lo);
	if (x > hi)
		return emu_err_set(err, ERR_VALIDATION,
		                   "1 validation error detected: Value '%lld' at '%s' failed to satisfy constraint: "
		                   "Member must have value less than or equal to %lld",
		                   x, path, hi);
	*out = x;
	return 0;
}

int secrets_in_strlist(json_t *in, const char *key, bool required, size_t min_items, size_t max_items,
                       size_t min, size_t max, json_t **out, struct emu_err *err)
{
	*out = NULL;
	json_t *v = member(in, key);
	if (!v)
		return required ? missing(key, err) : 0;
	if (!json_is_array(v))
		return bad_type(key, "a list", err);
	if (json_array_size(v) < min_items || json_array_size(v) > max_items)
		return bad_len(key, json_array_size(v) < min_items ? min_items : max_items,
		               json_array_size(v) > max_items, err);
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) {
		if (!json_is_string(e))
			return bad_type(key, "a list of strings", err);
		size_t bytes = json_string_length(e);
		if (strlen(json_string_value(e)) != bytes)
			return bad_type(key, "a list of strings without NUL characters", err);
		size_t n = model_utf8_len(json_string_value(e), bytes);
		if (n < min || n > max) {
			char path[64], item[96];
			secrets_member_path(key, path, sizeof path);
			snprintf(item, sizeof item, "%s.%zu.member", path, i + 1);
			return emu_err_set(err, ERR_VALIDATION,
			                   "1 validation error detected: Value at '%s' failed to satisfy constraint: "
			                   "Member must have length %s %zu",
			                   item, n < min ? "greater than or equal to" : "less than or equal to",
			                   n < min ? min : max);
		}
	}
	*out = v;
	return 0;
}

int secrets_in_token(json_t *in, const char **out, struct emu_err *err)
{
	*out = NULL;
	json_t *v = member(in, "ClientRequestToken");
	if (!v)
		return 0;
	if (!json_is_string(v))
		return bad_type("ClientRequestToken", "a string", err);
	size_t n = json_string_length(v);
	if (n < 32 || n > 64 || strlen(json_string_value(v)) != n)
		return emu_err_set(err, ERR_SM_INVALID_PARAMETER, SM_MSG_TOKEN_LEN);
	*out = json_string_value(v);
	return 0;
}

int secrets_in_value(json_t *in, struct sm_value *v, struct emu_err *err)
{
	memset(v, 0, sizeof *v);
	json_t *s = member(in, "SecretString"), *b = member(in, "SecretBinary");
	if (s && b)
		return emu_err_set(err, ERR_SM_INVALID_PARAMETER,
		                   "You can't specify both a binary secret value and a string secret value in the same "
		                   "secret.");
	if (s) {
		if (!json_is_string(s))
			return bad_type("SecretString", "a string", err);
		size_t n = json_string_length(s), chars = model_utf8_len(json_string_value(s), n);
		if (chars < 1)
			return bad_len("SecretString", 1, false, err);
		if (chars > SM_VALUE_MAX)
			return bad_len("SecretString", SM_VALUE_MAX, true, err);
		v->data = util_xcalloc(n + 1, 1);
		memcpy(v->data, json_string_value(s), n);
		v->len = n;
		v->kind = 1;
	} else if (b) {
		if (!json_is_string(b))
			return bad_type("SecretBinary", "a base64 string", err);
		if (!util_b64_decode(json_string_value(b), json_string_length(b), &v->data, &v->len))
			return emu_err_set(err, ERR_SERIALIZATION, "Invalid base64 value for member SecretBinary.");
		v->kind = 2;
		if (v->len < 1 || v->len > SM_VALUE_MAX) {
			secrets_value_free(v);
			return bad_len("SecretBinary", v->len < 1 ? 1 : SM_VALUE_MAX, v->len >= 1, err);
		}
	}
	return 0;
}

void secrets_value_free(struct sm_value *v)
{
	if (v->data) {
		OPENSSL_cleanse(v->data, v->len);
		free(v->data);
	}
	memset(v, 0, sizeof *v);
}

int secrets_value_put(json_t *obj, int kind, const void *data, size_t len, struct emu_err *err)
{
	json_t *j = NULL;
	if (kind == 1) {
		j = json_stringn(len ? data : "", len);
	} else if (kind == 2) {
		size_t cap = (len + 2) / 3 * 4 + 1;
		unsigned char *enc = util_xcalloc(cap, 1);
		EVP_EncodeBlock(enc, data, (int)len);
		j = json_string((const char *)enc);
		OPENSSL_cleanse(enc, cap);
		free(enc);
	}
	if (!j)
		return emu_err_set(err, ERR_INTERNAL, "stored secret value cannot be encoded");
	json_object_set_new(obj, kind == 1 ? "SecretString" : "SecretBinary", j);
	return 0;
}

int secrets_in_tags(json_t *in, const char *key, json_t **out, struct emu_err *err)
{
	*out = NULL;
	json_t *v = member(in, key);
	if (!v)
		return 0;
	if (!json_is_array(v))
		return bad_type(key, "a list of tags", err);
	size_t i;
	json_t *t;
	json_array_foreach(v, i, t) {
		if (!json_is_object(t))
			return bad_type(key, "a list of tags", err);
		const char *k, *val;
		if (secrets_in_str(t, "Key", true, 1, 128, &k, err) < 0 ||
		    secrets_in_str(t, "Value", false, 0, 256, &val, err) < 0)
			return -1;
		/* [?] The aws: prefix is reserved across AWS tagging; Secrets Manager's
		 * exact error is not documented: InvalidParameterException. */
		if (strncasecmp(k, "aws:", 4) == 0)
			return emu_err_set(err, ERR_SM_INVALID_PARAMETER,
			                   "Tag keys beginning with the prefix aws: are reserved for AWS use.");
	}
	if (json_array_size(v) > SM_TAGS_MAX)
		return emu_err_set(err, ERR_SM_INVALID_PARAMETER, "A secret can have at most %d tags.", SM_TAGS_MAX);
	*out = v;
	return 0;
}

/* ---- rows and lookup ---------------------------------------------------------- */

#define SECRET_COLS                                                                                              \
	"id, account, region, name, arn, description, kms_key_id, type, owning_service, created, last_changed, " \
	"last_accessed, deleted_date, rotation_enabled, rotation_lambda, rotation_rules, last_rotated, "         \
	"next_rotation, resource_policy, primary_region, replica_of, create_token, ext_rotation_metadata, "     \
	"ext_rotation_role"

static char *dcol(sqlite3_stmt *st, int i)
{
	const char *t = store_col_text(st, i);
	return t ? util_strdup(t) : NULL;
}

static double tcol(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : sqlite3_column_double(st, i);
}

static void row_load(sqlite3_stmt *st, struct sm_secret *r)
{
	memset(r, 0, sizeof *r);
	r->id = sqlite3_column_int64(st, 0);
	r->account = dcol(st, 1);
	r->region = dcol(st, 2);
	r->name = dcol(st, 3);
	r->arn = dcol(st, 4);
	r->description = dcol(st, 5);
	r->kms_key_id = dcol(st, 6);
	r->type = dcol(st, 7);
	r->owning_service = dcol(st, 8);
	r->created = tcol(st, 9);
	r->last_changed = tcol(st, 10);
	r->last_accessed = tcol(st, 11);
	r->deleted_date = tcol(st, 12);
	r->rotation_enabled = sqlite3_column_type(st, 13) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 13) != 0;
	r->rotation_lambda = dcol(st, 14);
	r->rotation_rules = dcol(st, 15);
	r->last_rotated = tcol(st, 16);
	r->next_rotation = tcol(st, 17);
	r->resource_policy = dcol(st, 18);
	r->primary_region = dcol(st, 19);
	r->replica_of = dcol(st, 20);
	r->create_token = dcol(st, 21);
	r->ext_rotation_metadata = dcol(st, 22);
	r->ext_rotation_role = dcol(st, 23);
}

void secrets_row_free(struct sm_secret *r)
{
	char **strs[] = {&r->account,         &r->region,           &r->name,         &r->arn,
	                 &r->description,     &r->kms_key_id,       &r->type,         &r->owning_service,
	                 &r->rotation_lambda, &r->rotation_rules,   &r->resource_policy, &r->primary_region,
	                 &r->replica_of,      &r->create_token,     &r->ext_rotation_metadata, &r->ext_rotation_role};
	for (size_t i = 0; i < ARRAY_LEN(strs); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
}

/* 1 found, 0 not, -1 error. */
static int fetch_one(struct store *s, sqlite3_stmt *st, struct sm_secret *out, struct emu_err *err)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		row_load(st, out);
		sqlite3_reset(st);
		return 1;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store_fail(s, err);
	return 0;
}

int secrets_load_id(struct store *s, long long id, struct sm_secret *out, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "SELECT " SECRET_COLS " FROM secrets WHERE id = ?1");
	if (!st)
		return store_fail(s, err);
	sqlite3_bind_int64(st, 1, id);
	int rc = fetch_one(s, st, out, err);
	if (rc == 0)
		return emu_err_set(err, ERR_SM_RESOURCE_NOT_FOUND, SM_MSG_NOT_FOUND);
	return rc < 0 ? -1 : 0;
}

static const char *partition_of(const char *region)
{
	if (util_has_prefix(region, "cn-"))
		return "aws-cn";
	if (util_has_prefix(region, "us-gov-"))
		return "aws-us-gov";
	return "aws";
}

void secrets_arn_prefix(const char *region, const char *account, char *out, size_t n)
{
	snprintf(out, n, "arn:%s:secretsmanager:%s:%s:secret:", partition_of(region), region, account);
}

char *secrets_arn_in_region(const char *arn, const char *region)
{
	/* arn:PART:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX */
	const char *p = arn;
	for (int i = 0; i < 3 && p; i++) {
		p = strchr(p, ':');
		if (p)
			p++;
	}
	const char *q = p ? strchr(p, ':') : NULL;
	if (!q)
		return util_strdup(arn);
	struct buf b;
	buf_init(&b, 0);
	buf_put(&b, arn, (size_t)(p - arn));
	buf_puts(&b, region);
	buf_puts(&b, q);
	char *r = buf_steal(&b, NULL);
	buf_free(&b);
	return r ? r : util_strdup(arn);
}

static int find_row(struct emu_call *call, const char *id, struct sm_secret *out, struct emu_err *err)
{
	struct store *s = call->store;
	memset(out, 0, sizeof *out);
	if (!id || !*id)
		return emu_err_set(err, ERR_SM_RESOURCE_NOT_FOUND, SM_MSG_NOT_FOUND);
	int rc;
	if (util_has_prefix(id, "arn:")) {
		sqlite3_stmt *st = store_prep(s, "SELECT " SECRET_COLS " FROM secrets WHERE arn = ?1 AND region = ?2");
		if (!st)
			return store_fail(s, err);
		store_bind_text(st, 1, id);
		store_bind_text(st, 2, call->region);
		if ((rc = fetch_one(s, st, out, err)) != 0)
			return rc < 0 ? -1 : 0;
		/* Partial ARN: arn:PART:secretsmanager:REGION:ACCOUNT:secret:NAME */
		char region[64], account[32];
		const char *name = NULL;
		const char *p = id;
		const char *fields[7];
		int nf = 0;
		while (nf < 7 && p) {
			fields[nf++] = p;
			p = strchr(p, ':');
			if (p)
				p++;
		}
		if (nf == 7 && strncmp(fields[2], "secretsmanager:", 15) == 0 && strncmp(fields[5], "secret:", 7) == 0) {
			size_t rl = (size_t)(fields[4] - fields[3] - 1), al = (size_t)(fields[5] - fields[4] - 1);
			if (rl < sizeof region && al < sizeof account) {
				memcpy(region, fields[3], rl);
				region[rl] = '\0';
				memcpy(account, fields[4], al);
				account[al] = '\0';
				name = fields[6];
			}
		}
		if (name && strcmp(region, call->region) == 0) {
			st = store_prep(s, "SELECT " SECRET_COLS
			                   " FROM secrets WHERE account = ?1 AND region = ?2 AND name = ?3");
			if (!st)
				return store_fail(s, err);
			store_bind_text(st, 1, account);
			store_bind_text(st, 2, region);
			store_bind_text(st, 3, name);
			if ((rc = fetch_one(s, st, out, err)) < 0)
				return -1;
			if (rc == 1) {
				size_t il = strlen(id);
				if (strlen(out->arn) == il + 7 && strncmp(out->arn, id, il) == 0)
					return 0;
				secrets_row_free(out);
			}
		}
		return emu_err_set(err, ERR_SM_RESOURCE_NOT_FOUND, SM_MSG_NOT_FOUND);
	}
	sqlite3_stmt *st = store_prep(s, "SELECT " SECRET_COLS
	                                 " FROM secrets WHERE account = ?1 AND region = ?2 AND name = ?3");
	if (!st)
		return store_fail(s, err);
	store_bind_text(st, 1, call->account);
	store_bind_text(st, 2, call->region);
	store_bind_text(st, 3, id);
	if ((rc = fetch_one(s, st, out, err)) < 0)
		return -1;
	if (rc == 0)
		return emu_err_set(err, ERR_SM_RESOURCE_NOT_FOUND, SM_MSG_NOT_FOUND);
	return 0;
}

/*
 * Authorizes `action` on secret r, with its tags as condition keys
 * (aws:ResourceTag/K and secretsmanager:ResourceTag/K) added to the
 * request's for the duration of the check.  The tags are not read for the
 * account's root on a secret without a resource policy: nothing can deny it.
 */
int secrets_authorize(struct emu_call *call, const char *action, const struct sm_secret *r, struct emu_err *err)
{
	if (!hooks.authorize)
		return 0;
	if (!r->resource_policy && util_has_suffix(call->principal_arn, ":root") && strcmp(call->account, r->account) == 0)
		return hooks.authorize(call, action, r->arn, r->account, NULL, err);
	struct json_t *saved = call->cond;
	json_t *c = saved ? json_deep_copy(saved) : json_object();
	sqlite3_stmt *st = store_prep(call->store, "SELECT key, value FROM secret_tags WHERE secret_id = ?1 ORDER BY ord");
	if (!st) {
		json_decref(c);
		return store_fail(call->store, err);
	}
	sqlite3_bind_int64(st, 1, r->id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		char k[200];
		const char *key = (const char *)sqlite3_column_text(st, 0), *val = (const char *)sqlite3_column_text(st, 1);
		snprintf(k, sizeof k, "aws:ResourceTag/%.128s", key);
		json_object_set_new(c, k, json_pack("[s]", val ? val : ""));
		snprintf(k, sizeof k, "secretsmanager:ResourceTag/%.128s", key);
		json_object_set_new(c, k, json_pack("[s]", val ? val : ""));
	}
	sqlite3_reset(st);
	call->cond = c;
	int rc = hooks.authorize(call, action, r->arn, r->account, r->resource_policy, err);
	call->cond = saved;
	json_decref(c);
	return rc;
}

/*
 * Resolves SecretId and, when the request carries an IAM action
 * (call->action, set by the dispatcher for secret-scoped operations),
 * authorizes it against the secret's ARN and resource policy.  For a secret
 * that does not exist, a caller not allowed on the ARN the name would have
 * gets AccessDenied rather than learning that the secret is absent, as AWS
 * evaluates the request before looking the secret up.
 */
int secrets_find(struct emu_call *call, const char *id, struct sm_secret *out, struct emu_err *err)
{
	if (find_row(call, id, out, err) < 0) {
		if (err->code == ERR_SM_RESOURCE_NOT_FOUND && call->action && hooks.authorize && id && *id) {
			struct emu_err e2;
			emu_err_clear(&e2);
			char arn[2300];
			if (util_has_prefix(id, "arn:"))
				snprintf(arn, sizeof arn, "%s", id);
			else
				snprintf(arn, sizeof arn, "arn:aws:secretsmanager:%s:%s:secret:%s", call->region, call->account, id);
			if (hooks.authorize(call, call->action, arn, NULL, NULL, &e2) < 0) {
				*err = e2;
				return -1;
			}
		}
		return -1;
	}
	if (call->action && secrets_authorize(call, call->action, out, err) < 0) {
		secrets_row_free(out);
		memset(out, 0, sizeof *out);
		return -1;
	}
	return 0;
}

int secrets_check_not_deleted(const struct sm_secret *r, struct emu_err *err)
{
	if (r->deleted_date > 0)
		return emu_err_set(err, ERR_SM_INVALID_REQUEST, SM_MSG_DELETED);
	return 0;
}

int secrets_check_primary(const struct sm_secret *r, struct emu_err *err)
{
	if (r->replica_of)
		return emu_err_set(err, ERR_SM_INVALID_PARAMETER, SM_MSG_REPLICA);
	return 0;
}

int secrets_find_writable(struct emu_call *call, json_t *in, struct sm_secret *out, struct emu_err *err)
{
	const char *id;
	memset(out, 0, sizeof *out);
	if (secrets_in_str(in, "SecretId", true, 1, 2048, &id, err) < 0 || secrets_find(call, id, out, err) < 0)
		return -1;
	if (secrets_check_primary(out, err) < 0 || secrets_check_not_deleted(out, err) < 0) {
		secrets_row_free(out);
		return -1;
	}
	return 0;
}

/* ---- versions and staging labels ---------------------------------------------- */

int secrets_stage_holder(struct store *s, long long sid, const char *stage, char vid[SM_VID_MAX], struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "SELECT version_id FROM secret_stages WHERE secret_id = ?1 AND stage = ?2");
	if (!st)
		return store_fail(s, err);
	sqlite3_bind_int64(st, 1, sid);
	store_bind_text(st, 2, stage);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(vid, SM_VID_MAX, "%s", (const char *)sqlite3_column_text(st, 0));
		sqlite3_reset(st);
		return 1;
	}
	sqlite3_reset(st);
	vid[0] = '\0';
	return rc == SQLITE_DONE ? 0 : store_fail(s, err);
}

static int put_stage(struct store *s, long long sid, const char *stage, const char *vid, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "INSERT INTO secret_stages(secret_id, stage, version_id) VALUES(?1, ?2, ?3) "
	                                 "ON CONFLICT(secret_id, stage) DO UPDATE SET version_id = excluded.version_id");
	if (!st)
		return store_fail(s, err);
	sqlite3_bind_int64(st, 1, sid);
	store_bind_text(st, 2, stage);
	store_bind_text(st, 3, vid);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, err);
}

int secrets_stage_attach(struct store *s, long long sid, const char *stage, const char *vid, struct emu_err *err)
{
	char holder[SM_VID_MAX];
	int h = secrets_stage_holder(s, sid, stage, holder, err);
	if (h < 0)
		return -1;
	if (h == 1 && strcmp(holder, vid) == 0)
		return 0;
	sqlite3_stmt *st = store_prep(s, "SELECT count(*) FROM secret_stages WHERE secret_id = ?1 AND version_id = ?2");
	if (!st)
		return store_fail(s, err);
	sqlite3_bind_int64(st, 1, sid);
	store_bind_text(st, 2, vid);
	int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_reset(st);
	if (n < 0)
		return store_fail(s, err);
	if (n >= SM_STAGES_PER_VERSION)
		return emu_err_set(err, ERR_SM_LIMIT_EXCEEDED,
		                   "A version can't have more than %d staging labels attached.", SM_STAGES_PER_VERSION);
	if (h == 1 && strcmp(stage, SM_CURRENT) == 0 && put_stage(s, sid, SM_PREVIOUS, holder, err) < 0)
		return -1;
	return put_stage(s, sid, stage, vid, err);
}

int secrets_stage_detach(struct store *s, long long sid, const char *stage, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "DELETE FROM secret_stages WHERE secret_id = ?1 AND stage = ?2");
	if (!st)
		return store_fail(s, err);
	sqlite3_bind_int64(st, 1, sid);
	store_bind_text(st, 2, stage);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, err);
}

/* Canonical label order: AWSCURRENT, AWSPENDING, AWSPREVIOUS first, then custom ones by name. */
#define STAGE_ORDER                                                                                   \
	" ORDER BY CASE stage WHEN 'AWSCURRENT' THEN 0 WHEN 'AWSPENDING' THEN 1 WHEN 'AWSPREVIOUS' THEN 2 " \
	"ELSE 3 END, stage"

json_t *secrets_version_stages(struct store *s, long long sid, const char *vid)
{
	json_t *a = json_array();
	sqlite3_stmt *st = store_prep(s, "SELECT stage FROM secret_stages WHERE secret_id = ?1 AND version_id = ?2"
	                              STAGE_ORDER);
	if (!st)
		return a;
	sqlite3_bind_int64(st, 1, sid);
	store_bind_text(st, 2, vid);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(a, json_string((const char *)sqlite3_column_text(st, 0)));
	sqlite3_reset(st);
	return a;
}

json_t *secrets_stages_map(struct store *s, long long sid)
{
	json_t *m = json_object();
	sqlite3_stmt *st = store_prep(s, "SELECT st.version_id, st.stage FROM secret_stages st "
	                                 "JOIN secret_versions v ON v.secret_id = st.secret_id AND "
	                                 "v.version_id = st.version_id WHERE st.secret_id = ?1 "
	                                 "ORDER BY v.created, st.version_id, CASE st.stage WHEN 'AWSCURRENT' THEN 0 "
	                                 "WHEN 'AWSPENDING' THEN 1 WHEN 'AWSPREVIOUS' THEN 2 ELSE 3 END, st.stage");
	if (!st)
		return m;
	sqlite3_bind_int64(st, 1, sid);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *vid = (const char *)sqlite3_column_text(st, 0);
		json_t *a = json_object_get(m, vid);
		if (!a) {
			a = json_array();
			json_object_set_new(m, vid, a);
		}
		json_array_append_new(a, json_string((const char *)sqlite3_column_text(st, 1)));
	}
	sqlite3_reset(st);
	return m;
}

int secrets_version_kind(struct store *s, long long sid, const char *vid, int *kind, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "SELECT kind FROM secret_versions WHERE secret_id = ?1 AND version_id = ?2");
	if (!st)
		return store_fail(s, err);
	sqlite3_bind_int64(st, 1, sid);
	store_bind_text(st, 2, vid);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*kind = sqlite3_column_int(st, 0);
		sqlite3_reset(st);
		return 1;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, err);
}

double secrets_ms(double t) { return floor(t * 1000.0 + 0.5) / 1000.0; }

int secrets_versions_prune(struct store *s, long long sid, double now, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(
		s, "DELETE FROM secret_versions WHERE secret_id = ?1 AND version_id IN ("
		   " SELECT v.version_id FROM secret_versions v WHERE v.secret_id = ?1 AND v.created < ?2"
		   " AND NOT EXISTS (SELECT 1 FROM secret_stages st WHERE st.secret_id = v.secret_id"
		   "                 AND st.version_id = v.version_id)"
		   " ORDER BY v.created LIMIT max(0, (SELECT count(*) FROM secret_versions WHERE secret_id = ?1) - ?3))");
	if (!st)
		return store_fail(s, err);
	sqlite3_bind_int64(st, 1, sid);
	sqlite3_bind_double(st, 2, now - SM_VERSION_MIN_AGE);
	sqlite3_bind_int(st, 3, SM_VERSIONS_KEPT);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, err);
}

int secrets_touch(struct store *s, long long sid, double now, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "UPDATE secrets SET last_changed = ?2 WHERE id = ?1");
	if (!st)
		return store_fail(s, err);
	sqlite3_bind_int64(st, 1, sid);
	sqlite3_bind_double(st, 2, secrets_ms(now));
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, err);
}

int secrets_manual_rotation(struct store *s, const struct sm_secret *r, double now, struct emu_err *err)
{
	if (r->rotation_enabled != 1 || !r->rotation_rules)
		return 0;
	json_t *rules = json_loads(r->rotation_rules, 0, NULL);
	const char *expr = json_string_value(json_object_get(rules, "ScheduleExpression"));
	bool cron = expr && util_has_prefix(expr, "cron(");
	json_decref(rules);
	if (cron) /* a cron schedule is anchored to the calendar, not to the last change */
		return 0;
	double next = secrets_rules_next(r->rotation_rules, now);
	if (next <= 0)
		return 0;
	sqlite3_stmt *st = store_prep(s, "UPDATE secrets SET next_rotation = ?2 WHERE id = ?1");
	if (!st)
		return store_fail(s, err);
	sqlite3_bind_int64(st, 1, r->id);
	sqlite3_bind_double(st, 2, secrets_ms(next));
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, err);
}

/* ---- reading values -------------------------------------------------------------- */

double secrets_day(double t) { return floor(t / 86400.0) * 86400.0; }

json_t *secrets_ts(double t) { return json_real(secrets_ms(t)); }

static int touch_access(struct store *s, long long sid, const char *vid, double now, struct emu_err *err)
{
	double day = secrets_day(now);
	sqlite3_stmt *st = store_prep(s, "UPDATE secrets SET last_accessed = ?2 WHERE id = ?1 AND "
	                                 "(last_accessed IS NULL OR last_accessed <> ?2)");
	if (!st)
		return store_fail(s, err);
	sqlite3_bind_int64(st, 1, sid);
	sqlite3_bind_double(st, 2, day);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store_fail(s, err);
	st = store_prep(s, "UPDATE secret_versions SET last_accessed = ?3 WHERE secret_id = ?1 AND version_id = ?2 "
	                   "AND (last_accessed IS NULL OR last_accessed <> ?3)");
	if (!st)
		return store_fail(s, err);
	sqlite3_bind_int64(st, 1, sid);
	store_bind_text(st, 2, vid);
	sqlite3_bind_double(st, 3, day);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, err);
}

int secrets_value_read(struct emu_call *call, const struct sm_secret *r, const char *vid_in, const char *stage,
                       json_t **out, struct emu_err *err)
{
	struct store *s = call->store;
	char vid[SM_VID_MAX];
	int kind = 0, rc;
	if (vid_in) {
		snprintf(vid, sizeof vid, "%s", vid_in);
		if ((rc = secrets_version_kind(s, r->id, vid, &kind, err)) < 0)
			return -1;
		if (rc == 0)
			return emu_err_set(err, ERR_SM_RESOURCE_NOT_FOUND,
			                   "Secrets Manager can't find the specified secret value for VersionId: %s", vid_in);
		if (stage) {
			char holder[SM_VID_MAX];
			if ((rc = secrets_stage_holder(s, r->id, stage, holder, err)) < 0)
				return -1;
			if (rc == 0 || strcmp(holder, vid) != 0)
				return emu_err_set(err, ERR_SM_INVALID_REQUEST,
				                   "You provided a VersionStage that is not associated to the provided "
				                   "VersionId.");
		}
	} else {
		if (!stage)
			stage = SM_CURRENT;
		if ((rc = secrets_stage_holder(s, r->id, stage, vid, err)) < 0)
			return -1;
		if (rc == 1 && secrets_version_kind(s, r->id, vid, &kind, err) < 0)
			return -1;
	}
	if (kind == 0) {
		if (vid_in)
			return emu_err_set(err, ERR_SM_RESOURCE_NOT_FOUND,
			                   "Secrets Manager can't find the specified secret value for VersionId: %s", vid_in);
		return emu_err_set(err, ERR_SM_RESOURCE_NOT_FOUND,
		                   "Secrets Manager can't find the specified secret value for staging label: %s", stage);
	}
	struct sm_value v;
	double created = 0;
	if (secrets_version_open(s, call, r, vid, call->now, &v, &created, err) < 0)
		return -1;
	json_t *o = json_object();
	json_object_set_new(o, "ARN", json_string(r->arn));
	json_object_set_new(o, "Name", json_string(r->name));
	json_object_set_new(o, "VersionId", json_string(vid));
	rc = secrets_value_put(o, v.kind, v.data, v.len, err);
	secrets_value_free(&v);
	if (rc < 0) {
		json_decref(o);
		return -1;
	}
	json_object_set_new(o, "VersionStages", secrets_version_stages(s, r->id, vid));
	json_object_set_new(o, "CreatedDate", secrets_ts(created));
	if (touch_access(s, r->id, vid, call->now, err) < 0) {
		json_decref(o);
		return -1;
	}
	*out = o;
	return 0;
}

/* ---- rendering -------------------------------------------------------------------- */

json_t *secrets_tags_json(struct store *s, long long sid)
{
	json_t *a = json_array();
	sqlite3_stmt *st = store_prep(s, "SELECT key, value FROM secret_tags WHERE secret_id = ?1 ORDER BY ord");
	if (!st)
		return a;
	sqlite3_bind_int64(st, 1, sid);
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *t = json_object();
		json_object_set_new(t, "Key", json_string((const char *)sqlite3_column_text(st, 0)));
		json_object_set_new(t, "Value", json_string((const char *)sqlite3_column_text(st, 1)));
		json_array_append_new(a, t);
	}
	sqlite3_reset(st);
	return a;
}

json_t *secrets_out_arn_name(const struct sm_secret *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "ARN", json_string(r->arn));
	json_object_set_new(o, "Name", json_string(r->name));
	return o;
}

static void set_str(json_t *o, const char *k, const char *v)
{
	if (v)
		json_object_set_new(o, k, json_string(v));
}

static void set_ts(json_t *o, const char *k, double t)
{
	if (t > 0)
		json_object_set_new(o, k, secrets_ts(t));
}

int secrets_render(struct store *s, const struct sm_secret *r, bool list_entry, json_t **out, struct emu_err *err)
{
	json_t *o = json_object();
	set_str(o, "ARN", r->arn);
	set_str(o, "Name", r->name);
	set_str(o, "Type", r->type);
	set_str(o, "Description", r->description);
	set_str(o, "KmsKeyId", r->kms_key_id);
	if (r->rotation_enabled >= 0)
		json_object_set_new(o, "RotationEnabled", json_boolean(r->rotation_enabled == 1));
	set_str(o, "RotationLambdaARN", r->rotation_lambda);
	if (r->rotation_rules) {
		json_t *rules = json_loads(r->rotation_rules, 0, NULL);
		if (json_is_object(rules))
			json_object_set_new(o, "RotationRules", rules);
		else
			json_decref(rules);
	}
	if (r->ext_rotation_metadata) {
		json_t *m = json_loads(r->ext_rotation_metadata, 0, NULL);
		if (m)
			json_object_set_new(o, "ExternalSecretRotationMetadata", m);
	}
	set_str(o, "ExternalSecretRotationRoleArn", r->ext_rotation_role);
	set_ts(o, "LastRotatedDate", r->last_rotated);
	set_ts(o, "LastChangedDate", r->last_changed);
	set_ts(o, "LastAccessedDate", r->last_accessed);
	set_ts(o, "DeletedDate", r->deleted_date);
	if (r->rotation_enabled == 1)
		set_ts(o, "NextRotationDate", r->next_rotation);
	json_t *tags = secrets_tags_json(s, r->id);
	if (json_array_size(tags))
		json_object_set_new(o, "Tags", tags);
	else
		json_decref(tags);
	json_t *map = secrets_stages_map(s, r->id);
	if (json_object_size(map))
		json_object_set_new(o, list_entry ? "SecretVersionsToStages" : "VersionIdsToStages", map);
	else
		json_decref(map);
	set_str(o, "OwningService", r->owning_service);
	set_ts(o, "CreatedDate", r->created);
	set_str(o, "PrimaryRegion", r->primary_region);
	if (!list_entry && !r->replica_of) {
		json_t *rs = secrets_replication_status(s, r);
		if (json_array_size(rs))
			json_object_set_new(o, "ReplicationStatus", rs);
		else
			json_decref(rs);
	}
	(void)err;
	*out = o;
	return 0;
}

/* ---- purge and lambdas -------------------------------------------------------------- */

int secrets_purge_due(struct store *s, double now)
{
	sqlite3_stmt *st = store_prep(s, "DELETE FROM secrets WHERE deleted_date IS NOT NULL AND deleted_date <= ?1");
	if (!st)
		return -1;
	sqlite3_bind_double(st, 1, now);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_error("secrets", "purge failed: %s", sqlite3_errmsg(store_db(s)));
		return -1;
	}
	int n = sqlite3_changes(store_db(s));
	if (n > 0)
		log_info("secrets", "permanently deleted %d secret(s) whose recovery window ended", n);
	return n;
}

int secrets_lambda_register(struct store *s, const char *account, const char *region, const char *arn,
                            json_t *argv, json_t *env, int timeout_s, struct emu_err *err)
{
	if (!arn || !*arn || !account || !region)
		return emu_err_set(err, ERR_VALIDATION, "lambda: arn, account and region are required");
	if (!json_is_array(argv) || json_array_size(argv) == 0)
		return emu_err_set(err, ERR_VALIDATION, "lambda %s: command must be a non-empty list of strings", arn);
	size_t i;
	json_t *e;
	json_array_foreach(argv, i, e) if (!json_is_string(e) || strlen(json_string_value(e)) != json_string_length(e))
		return emu_err_set(err, ERR_VALIDATION, "lambda %s: command must be a non-empty list of strings", arn);
	if (env && !json_is_null(env)) {
		const char *k;
		json_t *v;
		if (!json_is_object(env))
			return emu_err_set(err, ERR_VALIDATION, "lambda %s: env must be an object of strings", arn);
		json_object_foreach(env, k, v) if (!json_is_string(v) || !*k || strchr(k, '='))
			return emu_err_set(err, ERR_VALIDATION, "lambda %s: env must be an object of strings", arn);
	} else {
		env = NULL;
	}
	if (timeout_s < 1 || timeout_s > 900)
		return emu_err_set(err, ERR_VALIDATION, "lambda %s: timeout must be 1..900 seconds", arn);
	char *cmd = json_dumps(argv, JSON_COMPACT);
	char *envs = env ? json_dumps(env, JSON_COMPACT) : NULL;
	sqlite3_stmt *st = store_prep(s, "INSERT INTO lambdas(account, region, arn, command, env, timeout_s) "
	                                 "VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(arn) DO UPDATE SET "
	                                 "account = excluded.account, region = excluded.region, "
	                                 "command = excluded.command, env = excluded.env, timeout_s = excluded.timeout_s");
	int rc = -1;
	if (st) {
		store_bind_text(st, 1, account);
		store_bind_text(st, 2, region);
		store_bind_text(st, 3, arn);
		store_bind_text(st, 4, cmd);
		store_bind_text(st, 5, envs);
		sqlite3_bind_int(st, 6, timeout_s);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
		sqlite3_reset(st);
	}
	free(cmd);
	free(envs);
	return rc < 0 ? store_fail(s, err) : 0;
}

int secrets_lambda_get(struct store *s, const char *arn, json_t **argv, json_t **env, int *timeout_s,
                       struct emu_err *err)
{
	*argv = *env = NULL;
	sqlite3_stmt *st = store_prep(s, "SELECT command, env, timeout_s FROM lambdas WHERE arn = ?1");
	if (!st)
		return store_fail(s, err);
	/* A qualified ARN (…:function:name:alias or :$LATEST) runs the function. */
	char base[2100];
	snprintf(base, sizeof base, "%s", arn);
	for (int pass = 0; pass < 2; pass++) {
		sqlite3_reset(st);
		store_bind_text(st, 1, base);
		int rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*argv = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
			const char *e = store_col_text(st, 1);
			*env = e ? json_loads(e, 0, NULL) : NULL;
			*timeout_s = sqlite3_column_int(st, 2);
			sqlite3_reset(st);
			return 0;
		}
		if (rc != SQLITE_DONE) {
			sqlite3_reset(st);
			return store_fail(s, err);
		}
		/* arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER] */
		int colons = 0;
		char *last = NULL;
		for (char *p = base; *p; p++)
			if (*p == ':' && ++colons == 7)
				last = p;
		if (!last)
			break;
		*last = '\0';
	}
	sqlite3_reset(st);
	return emu_err_set(err, ERR_SM_RESOURCE_NOT_FOUND, "Lambda function %s is not registered.", arn);
}

int secrets_check_in(json_t *in, struct emu_err *err)
{
	if (in && !json_is_object(in))
		return emu_err_set(err, ERR_SERIALIZATION, "The request body must be a JSON object.");
	return 0;
}
