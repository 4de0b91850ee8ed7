/*
 * iam.c owns the shared machinery of the IAM domain: request-member
 * accessors with IAM's validation texts, unique ids and ARNs, principal
 * rows (users and roles share iam_principals) and their rendering, tags,
 * paging, document encoding, the savepoint wrapper, and the entry points
 * other modules use (iam_principal_policies, iam_role_get, usage marks).
 * The operations live in iam_users.c, iam_roles.c, iam_attach.c and
 * iam_policies.c; the AWS managed set in iam_managed.c; the document check
 * in iam_doc.c; fixtures in iam_fixture.c.
 *
 * May call: store, util, log, err (never api/ or wire/).
 * Invariants: names of users, roles and policies are unique per account
 * (and kind) regardless of case, and keep the case they were created
 * with; ARNs and unique ids never change except through UpdateUser's
 * rename; times are whole epoch seconds; secret access keys are never
 * logged nor put into error messages.
 */
#include "emu/iam_int.h"
#include "emu/model.h"

#include "emu/log.h"
#include "emu/util.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct iam_kind_info kinds[] = {
	[IAM_KIND_USER] = {"user", "UserName", "UserId", "AIDA", "user", "User", IAM_USER_INLINE_MAX},
	[IAM_KIND_ROLE] = {"role", "RoleName", "RoleId", "AROA", "role", "Role", IAM_ROLE_INLINE_MAX},
	[IAM_KIND_POLICY] = {"policy", "PolicyName", "PolicyId", "ANPA", "policy", "Policy", 0},
};

const struct iam_kind_info *iam_kind_info(int kind)
{
	if (kind < IAM_KIND_USER || kind > IAM_KIND_POLICY)
		kind = IAM_KIND_USER;
	return &kinds[kind];
}

/* ---- request members -------------------------------------------------------- */

json_t *iam_member(json_t *in, const char *key)
{
	json_t *v = json_is_object(in) ? json_object_get(in, key) : NULL;
	return json_is_null(v) ? NULL : v;
}

int iam_check_in(json_t *in, struct emu_err *err)
{
	if (in && !json_is_object(in))
		return emu_err_set(err, ERR_SERIALIZATION, "The request must be a structure.");
	return 0;
}

/* lowerCamel member name, as coral names members in messages. */
static void member_path(const char *key, char *out, size_t n)
{
	snprintf(out, n, "%s", key);
	if (out[0] >= 'A' && out[0] <= 'Z')
		out[0] = (char)(out[0] - 'A' + 'a');
}

static int bad_type(const char *key, const char *want, struct emu_err *err)
{
	return emu_err_set(err, ERR_SERIALIZATION, "Unexpected value type for member %s: expected %s.", key, want);
}

static int missing(const char *key, struct emu_err *err)
{
	char path[128];
	member_path(key, path, sizeof path);
	return emu_err_set(err, ERR_VALIDATION,
	                   "1 validation error detected: Value null at '%s' failed to satisfy constraint: "
	                   "Member must not be null",
	                   path);
}

/* "1 validation error detected: Value 'v' at 'path' failed to satisfy
 * constraint: <what>"; the value is cut at 128 bytes, control characters
 * shown as '?'; value NULL -> "Value at". */
static int violation(const char *key, const char *value, const char *what, struct emu_err *err)
{
	char path[128], shown[136];
	member_path(key, path, sizeof path);
	if (!value)
		return emu_err_set(err, ERR_VALIDATION,
		                   "1 validation error detected: Value at '%s' failed to satisfy constraint: %s", path,
		                   what);
	size_t n = strlen(value), cut = n > 128 ? 128 : n;
	while (cut < n && cut > 0 && ((unsigned char)value[cut] & 0xC0) == 0x80)
		cut--;
	for (size_t i = 0; i < cut; i++)
		shown[i] = (unsigned char)value[i] < 0x20 ? '?' : value[i];
	snprintf(shown + cut, sizeof shown - cut, "%s", cut < n ? "..." : "");
	return emu_err_set(err, ERR_VALIDATION,
	                   "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: %s", shown,
	                   path, what);
}

/* Code points of valid UTF-8 (jansson guarantees validity). */
/* Next code point of valid UTF-8 at *p (advanced). */
static uint32_t cp_next(const char **p)
{
	const unsigned char *s = (const unsigned char *)*p;
	uint32_t c = s[0];
	int extra = c < 0x80 ? 0 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;
	if (extra)
		c &= 0x3Fu >> extra;
	for (int i = 1; i <= extra && s[i]; i++)
		c = (c << 6) | (s[i] & 0x3Fu);
	int adv = 1;
	while (adv <= extra && s[adv])
		adv++;
	*p += adv;
	return c;
}

int iam_in_str(json_t *in, const char *key, bool required, size_t min, size_t max, const char **out,
               struct emu_err *err)
{
	*out = NULL;
	json_t *v = iam_member(in, key);
	if (!v)
		return required ? missing(key, err) : 0;
	if (!json_is_string(v))
		return bad_type(key, "a string", err);
	const char *s = json_string_value(v);
	if (strlen(s) != json_string_length(v))
		return violation(key, NULL, "Member must not contain NUL characters", err);
	size_t n = model_utf8_len(s, strlen(s));
	char what[96];
	if (n < min) {
		snprintf(what, sizeof what, "Member must have length greater than or equal to %zu", min);
		return violation(key, s, what, err);
	}
	if (n > max) {
		snprintf(what, sizeof what, "Member must have length less than or equal to %zu", max);
		return violation(key, s, what, err);
	}
	*out = s;
	return 0;
}

static bool alnum(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

static bool name_char(int c)
{
	return alnum(c) || c == '_' || c == '+' || c == '=' || c == ',' || c == '.' || c == '@' || c == '-';
}

int iam_in_name(json_t *in, const char *key, bool required, size_t max, const char **out, struct emu_err *err)
{
	if (iam_in_str(in, key, required, 1, max, out, err) < 0)
		return -1;
	if (!*out)
		return 0;
	for (const char *p = *out; *p; p++)
		if (!name_char((unsigned char)*p)) {
			const char *v = *out;
			*out = NULL;
			return violation(key, v, "Member must satisfy regular expression pattern: [\\w+=,.@-]+", err);
		}
	return 0;
}

static bool path_ok(const char *p, enum iam_path_style style)
{
	size_t n = strlen(p);
	if (n == 0 || p[0] != '/')
		return false;
	switch (style) {
	case IAM_PATH_ENTITY:
		if (n == 1)
			return true;
		if (n < 3 || p[n - 1] != '/')
			return false;
		for (size_t i = 1; i + 1 < n; i++)
			if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7E)
				return false;
		return true;
	case IAM_PATH_POLICY:
		if (p[n - 1] != '/')
			return false;
		for (size_t i = 0; i + 1 < n; i++) {
			if (p[i] == '/') {
				if (p[i + 1] == '/')
					return false; /* empty segment */
				continue;
			}
			if (!alnum((unsigned char)p[i]) && !strchr(".,+@=_-", p[i]))
				return false;
		}
		return true;
	case IAM_PATH_PREFIX:
		for (size_t i = 1; i < n; i++)
			if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7F)
				return false;
		return true;
	}
	return false;
}

int iam_in_path(json_t *in, const char *key, enum iam_path_style style, const char **out, struct emu_err *err)
{
	static const char *const patterns[] = {
		[IAM_PATH_ENTITY] = "(\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
		[IAM_PATH_POLICY] = "((/[A-Za-z0-9\\.,\\+@=_-]+)*)/",
		[IAM_PATH_PREFIX] = "\\u002F[\\u0021-\\u007F]*",
	};
	if (iam_in_str(in, key, false, 1, IAM_PATH_MAX, out, err) < 0)
		return -1;
	if (!*out) {
		*out = style == IAM_PATH_PREFIX ? NULL : "/";
		return 0;
	}
	if (!path_ok(*out, style)) {
		char what[128];
		snprintf(what, sizeof what, "Member must satisfy regular expression pattern: %s", patterns[style]);
		const char *v = *out;
		*out = NULL;
		return violation(key, v, what, err);
	}
	return 0;
}

int iam_in_int(json_t *in, const char *key, long long lo, long long hi, long long dflt, long long *out,
               bool *present, struct emu_err *err)
{
	json_t *v = iam_member(in, key);
	*out = dflt;
	if (present)
		*present = v != NULL;
	if (!v)
		return 0;
	if (!json_is_integer(v))
		return bad_type(key, "an integer", err);
	long long x = (long long)json_integer_value(v);
	char what[96], shown[32];
	snprintf(shown, sizeof shown, "%lld", x);
	if (x < lo) {
		snprintf(what, sizeof what, "Member must have value greater than or equal to %lld", lo);
		return violation(key, shown, what, err);
	}
	if (x > hi) {
		snprintf(what, sizeof what, "Member must have value less than or equal to %lld", hi);
		return violation(key, shown, what, err);
	}
	*out = x;
	return 0;
}

int iam_in_bool(json_t *in, const char *key, bool dflt, bool *out, struct emu_err *err)
{
	json_t *v = iam_member(in, key);
	*out = dflt;
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return bad_type(key, "a boolean", err);
	*out = json_is_true(v);
	return 0;
}

int iam_in_enum(json_t *in, const char *key, bool required, const char *const *values, const char *dflt,
                const char **out, struct emu_err *err)
{
	if (iam_in_str(in, key, required, 0, 256, out, err) < 0)
		return -1;
	if (!*out) {
		*out = dflt;
		return 0;
	}
	for (const char *const *v = values; *v; v++)
		if (strcmp(*v, *out) == 0)
			return 0;
	char what[256];
	size_t w = (size_t)snprintf(what, sizeof what, "Member must satisfy enum value set: [");
	for (const char *const *v = values; *v && w < sizeof what; v++)
		w += (size_t)snprintf(what + w, sizeof what - w, "%s%s", v == values ? "" : ", ", *v);
	if (w < sizeof what)
		snprintf(what + w, sizeof what - w, "]");
	const char *bad = *out;
	*out = NULL;
	return violation(key, bad, what, err);
}

int iam_in_doc(json_t *in, const char *key, enum iam_doc_kind kind, const char **out, struct emu_err *err)
{
	if (iam_in_str(in, key, true, 1, IAM_DOC_MAX, out, err) < 0)
		return -1;
	for (const char *p = *out; *p;) {
		uint32_t c = cp_next(&p);
		if (!(c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xFF))) {
			const char *v = *out;
			*out = NULL;
			return violation(key, v,
			                 "Member must satisfy regular expression pattern: "
			                 "[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+",
			                 err);
		}
	}
	if (iam_policy_doc_check(*out, kind, err) < 0) {
		*out = NULL;
		return -1;
	}
	return 0;
}

int iam_in_arn(json_t *in, const char *key, const char **out, struct emu_err *err)
{
	return iam_in_str(in, key, true, 20, 2048, out, err);
}

int iam_in_desc(json_t *in, const char *key, bool role, const char **out, struct emu_err *err)
{
	if (iam_in_str(in, key, false, 0, IAM_DESC_MAX, out, err) < 0)
		return -1;
	if (!*out || !role)
		return 0;
	for (const char *p = *out; *p;) {
		uint32_t c = cp_next(&p);
		if (!(c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0x7E) || (c >= 0xA1 && c <= 0xFF))) {
			const char *v = *out;
			*out = NULL;
			return violation(key, v,
			                 "Member must satisfy regular expression pattern: "
			                 "[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u00A1-\\u00FF]*",
			                 err);
		}
	}
	return 0;
}

/* ASCII case folding of a tag key (IAM compares user and role tag keys
 * case-insensitively). */
static void fold(const char *s, char *out, size_t n)
{
	size_t i = 0;
	for (; s[i] && i + 1 < n; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[i] = '\0';
}

int iam_in_tags(json_t *in, const char *key, bool required, json_t **out, struct emu_err *err)
{
	*out = NULL;
	json_t *v = iam_member(in, key);
	if (!v)
		return required ? missing(key, err) : 0;
	if (!json_is_array(v))
		return bad_type(key, "a list", err);
	if (json_array_size(v) > IAM_TAGS_MAX)
		return violation(key, NULL, "Member must have length less than or equal to 50", err);
	size_t i, j;
	json_t *t, *u;
	json_array_foreach(v, i, t) {
		if (!json_is_object(t))
			return bad_type(key, "a list of Tag structures", err);
		char path[64], kp[112], vp[112];
		member_path(key, path, sizeof path);
		snprintf(kp, sizeof kp, "%s.%zu.member.key", path, i + 1);
		snprintf(vp, sizeof vp, "%s.%zu.member.value", path, i + 1);
		json_t *kv = iam_member(t, "Key"), *vv = iam_member(t, "Value");
		if (!kv)
			return missing(kp, err);
		if (!vv)
			return missing(vp, err);
		if (!json_is_string(kv) || !json_is_string(vv))
			return bad_type(key, "a list of Tag structures with string members", err);
		const char *k = json_string_value(kv), *val = json_string_value(vv);
		size_t kn = model_utf8_len(k, strlen(k)), vn = model_utf8_len(val, strlen(val));
		if (strlen(k) != json_string_length(kv) || strlen(val) != json_string_length(vv))
			return violation(key, NULL, "Member must not contain NUL characters", err);
		if (kn < 1)
			return violation(kp, k, "Member must have length greater than or equal to 1", err);
		if (kn > 128)
			return violation(kp, k, "Member must have length less than or equal to 128", err);
		if (vn > 256)
			return violation(vp, val, "Member must have length less than or equal to 256", err);
		char fk[520];
		fold(k, fk, sizeof fk);
		for (j = 0; j < i; j++) {
			u = json_array_get(v, j);
			char fu[520];
			fold(json_string_value(json_object_get(u, "Key")), fu, sizeof fu);
			if (strcmp(fu, fk) == 0)
				return emu_err_set(err, ERR_IAM_INVALID_INPUT,
				                   "Duplicate tag keys found. Please note that Tag keys are case insensitive.");
		}
	}
	*out = v;
	return 0;
}

int iam_in_tag_keys(json_t *in, json_t **out, struct emu_err *err)
{
	*out = NULL;
	json_t *v = iam_member(in, "TagKeys");
	if (!v)
		return missing("TagKeys", err);
	if (!json_is_array(v))
		return bad_type("TagKeys", "a list", err);
	if (json_array_size(v) > IAM_TAGS_MAX)
		return violation("TagKeys", NULL, "Member must have length less than or equal to 50", err);
	size_t i;
	json_t *k;
	json_array_foreach(v, i, k) {
		if (!json_is_string(k))
			return bad_type("TagKeys", "a list of strings", err);
		size_t n = model_utf8_len(json_string_value(k), strlen(json_string_value(k)));
		if (n < 1 || n > 128)
			return violation("TagKeys", NULL,
			                 "Member must satisfy constraint: [Member must have length less than or equal to "
			                 "128, Member must have length greater than or equal to 1]",
			                 err);
	}
	*out = v;
	return 0;
}

/* ---- identifiers -------------------------------------------------------------- */

void iam_unique_id(const char *prefix, char out[32])
{
	size_t n = strlen(prefix);
	if (n > 8)
		n = 8;
	memcpy(out, prefix, n);
	util_random_from(out + n, 17, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
}

void iam_arn(char *out, size_t n, const char *account, const char *type, const char *path, const char *name)
{
	snprintf(out, n, "arn:aws:iam::%s:%s%s%s", account, type, path, name);
}

/* ---- principals ------------------------------------------------------------------ */

void iam_entity_free(struct iam_entity *e)
{
	if (!e)
		return;
	free(e->trust);
	free(e->description);
	e->trust = e->description = NULL;
}

#define ENTITY_COLS                                                                                \
	"id, kind, account, name, path, unique_id, arn, created, boundary, trust_policy, description," \
	" max_session, last_used, last_used_region"

static void copy_col(sqlite3_stmt *st, int col, char *dst, size_t n)
{
	const char *v = store_col_text(st, col);
	snprintf(dst, n, "%s", v ? v : "");
}

static char *dup_col(sqlite3_stmt *st, int col)
{
	const char *v = store_col_text(st, col);
	return v ? util_strdup(v) : NULL;
}

static void entity_row(sqlite3_stmt *st, struct iam_entity *e)
{
	memset(e, 0, sizeof *e);
	e->id = sqlite3_column_int64(st, 0);
	e->kind = sqlite3_column_int(st, 1);
	copy_col(st, 2, e->account, sizeof e->account);
	copy_col(st, 3, e->name, sizeof e->name);
	copy_col(st, 4, e->path, sizeof e->path);
	copy_col(st, 5, e->unique_id, sizeof e->unique_id);
	copy_col(st, 6, e->arn, sizeof e->arn);
	e->created = sqlite3_column_double(st, 7);
	copy_col(st, 8, e->boundary, sizeof e->boundary);
	e->trust = dup_col(st, 9);
	e->description = dup_col(st, 10);
	e->max_session = sqlite3_column_int(st, 11);
	e->last_used = sqlite3_column_type(st, 12) == SQLITE_NULL ? 0 : sqlite3_column_double(st, 12);
	copy_col(st, 13, e->last_region, sizeof e->last_region);
}

/* Steps st once: 1 row (entity filled), 0 none, -1 error. */
static int entity_step(struct store *s, sqlite3_stmt *st, struct iam_entity *e, struct emu_err *err)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		entity_row(st, e);
		sqlite3_reset(st);
		return 1;
	}
	if (rc != SQLITE_DONE) {
		store_fail(s, err);
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	return 0;
}

int iam_entity_lookup(struct store *s, const char *account, int kind, const char *name, struct iam_entity *e,
                      struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "SELECT " ENTITY_COLS " FROM iam_principals"
	                                 " WHERE account = ?1 AND kind = ?2 AND name = ?3");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	sqlite3_bind_text(st, 1, account, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, kind);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_TRANSIENT);
	return entity_step(s, st, e, err);
}

int iam_entity_find(struct store *s, const char *account, int kind, const char *name, struct iam_entity *e,
                    struct emu_err *err)
{
	int rc = iam_entity_lookup(s, account, kind, name, e, err);
	if (rc == 0)
		return emu_err_set(err, ERR_IAM_NO_SUCH_ENTITY, "The %s with name %s cannot be found.",
		                   iam_kind_info(kind)->noun, name);
	return rc < 0 ? -1 : 0;
}

int iam_entity_by_arn(struct store *s, const char *arn, struct iam_entity *e, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "SELECT " ENTITY_COLS " FROM iam_principals WHERE arn = ?1");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
	return entity_step(s, st, e, err);
}

int iam_user_or_caller(struct emu_call *call, json_t *in, struct iam_entity *e, struct emu_err *err)
{
	const char *name;
	if (iam_in_name(in, "UserName", false, 128, &name, err) < 0)
		return -1;
	if (name)
		return iam_entity_find(call->store, call->account, IAM_KIND_USER, name, e, err) < 0 ? -1 : 1;
	const char *who = call->principal_arn ? call->principal_arn : "";
	char root[64];
	snprintf(root, sizeof root, "arn:aws:iam::%s:root", call->account);
	if (strcmp(who, root) == 0)
		return 0;
	if (util_has_prefix(who, "arn:aws:iam::") && strstr(who, ":user/")) {
		int rc = iam_entity_by_arn(call->store, who, e, err);
		if (rc < 0)
			return -1;
		if (rc == 1 && strcmp(e->account, call->account) == 0)
			return 1;
		if (rc == 1)
			iam_entity_free(e);
		const char *slash = strrchr(who, '/');
		return emu_err_set(err, ERR_IAM_NO_SUCH_ENTITY, "The user with name %s cannot be found.",
		                   slash ? slash + 1 : who);
	}
	return emu_err_set(err, ERR_VALIDATION, "Must specify userName when calling with non-User credentials");
}

int iam_entity_create(struct emu_call *call, int kind, const char *name, const char *path, const char *boundary,
                      const char *trust, const char *description, int max_session, struct iam_entity *e,
                      struct emu_err *err)
{
	const struct iam_kind_info *k = iam_kind_info(kind);
	int rc = iam_entity_lookup(call->store, call->account, kind, name, e, err);
	if (rc != 0) {
		if (rc > 0)
			iam_entity_free(e);
		return rc < 0 ? -1
		              : emu_err_set(err, ERR_IAM_ENTITY_EXISTS, "%s with name %s already exists.", k->quota_word,
		                            name);
	}
	char uid[32], arn[IAM_ARN_MAX];
	iam_unique_id(k->id_prefix, uid);
	iam_arn(arn, sizeof arn, call->account, k->arn_type, path, name);
	sqlite3_stmt *st = store_prep(call->store,
	                              "INSERT INTO iam_principals(kind, account, name, path, unique_id, arn, created,"
	                              " boundary, trust_policy, description, max_session)"
	                              " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	sqlite3_bind_int(st, 1, kind);
	store_bind_text(st, 2, call->account);
	store_bind_text(st, 3, name);
	store_bind_text(st, 4, path);
	store_bind_text(st, 5, uid);
	store_bind_text(st, 6, arn);
	sqlite3_bind_double(st, 7, floor(call->now));
	store_bind_text(st, 8, boundary);
	store_bind_text(st, 9, trust);
	store_bind_text(st, 10, description);
	if (kind == IAM_KIND_ROLE)
		sqlite3_bind_int(st, 11, max_session);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_fail(call->store, err);
	rc = iam_entity_lookup(call->store, call->account, kind, name, e, err);
	if (rc == 0)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	return rc < 0 ? -1 : 0;
}

int iam_in_boundary(struct emu_call *call, json_t *in, const char **out, struct emu_err *err)
{
	if (iam_in_str(in, "PermissionsBoundary", false, 20, 2048, out, err) < 0)
		return -1;
	if (!*out)
		return 0;
	struct iam_mpolicy p;
	if (iam_policies_find(call, *out, IAM_MISS_NOT_ATTACHABLE, &p, err) < 0) {
		*out = NULL;
		return -1;
	}
	iam_policies_free(&p);
	return 0;
}

json_t *iam_ts(double t) { return json_integer((json_int_t)floor(t)); }

json_t *iam_entity_json(struct store *s, const struct iam_entity *e, bool full)
{
	const struct iam_kind_info *k = iam_kind_info(e->kind);
	json_t *o = json_object();
	json_object_set_new(o, "Path", json_string(e->path));
	json_object_set_new(o, k->name_member, json_string(e->name));
	json_object_set_new(o, k->id_member, json_string(e->unique_id));
	json_object_set_new(o, "Arn", json_string(e->arn));
	json_object_set_new(o, "CreateDate", iam_ts(e->created));
	if (e->kind == IAM_KIND_ROLE) {
		if (e->trust)
			json_object_set_new(o, "AssumeRolePolicyDocument", iam_doc_json(e->trust));
		if (e->description)
			json_object_set_new(o, "Description", json_string(e->description));
		json_object_set_new(o, "MaxSessionDuration", json_integer(e->max_session));
	}
	if (!full)
		return o;
	if (e->boundary[0]) {
		json_t *b = json_object();
		json_object_set_new(b, "PermissionsBoundaryType", json_string("PermissionsBoundaryPolicy"));
		json_object_set_new(b, "PermissionsBoundaryArn", json_string(e->boundary));
		json_object_set_new(o, "PermissionsBoundary", b);
	}
	json_t *tags = iam_tags_json(s, e->kind, e->id);
	if (json_array_size(tags))
		json_object_set_new(o, "Tags", tags);
	else
		json_decref(tags);
	if (e->kind == IAM_KIND_ROLE) {
		json_t *lu = json_object();
		if (e->last_used > 0) {
			json_object_set_new(lu, "LastUsedDate", iam_ts(e->last_used));
			json_object_set_new(lu, "Region", json_string(e->last_region));
		}
		json_object_set_new(o, "RoleLastUsed", lu);
	}
	return o;
}

/* ---- tags ------------------------------------------------------------------------ */

static void tag_norm(int kind, const char *key, char *out, size_t n)
{
	if (kind == IAM_KIND_POLICY)
		snprintf(out, n, "%s", key);
	else
		fold(key, out, n);
}

json_t *iam_tags_json(struct store *s, int kind, long long owner)
{
	json_t *arr = json_array();
	sqlite3_stmt *st = store_prep(s, "SELECT key, value FROM iam_tags WHERE kind = ?1 AND owner = ?2 ORDER BY ord");
	if (!st)
		return arr;
	sqlite3_bind_int(st, 1, kind);
	sqlite3_bind_int64(st, 2, owner);
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *t = json_object();
		json_object_set_new(t, "Key", json_string(store_col_text(st, 0)));
		json_object_set_new(t, "Value", json_string(store_col_text(st, 1)));
		json_array_append_new(arr, t);
	}
	sqlite3_reset(st);
	return arr;
}

static int tag_count(struct store *s, int kind, long long owner, long long *n, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "SELECT count(*), coalesce(max(ord), 0) FROM iam_tags"
	                                 " WHERE kind = ?1 AND owner = ?2");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	sqlite3_bind_int(st, 1, kind);
	sqlite3_bind_int64(st, 2, owner);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return store_fail(s, err);
	}
	n[0] = sqlite3_column_int64(st, 0);
	n[1] = sqlite3_column_int64(st, 1);
	sqlite3_reset(st);
	return 0;
}

int iam_tags_add(struct store *s, int kind, long long owner, json_t *tags, struct emu_err *err)
{
	if (!tags || json_array_size(tags) == 0)
		return 0;
	long long n[2] = {0, 0};
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t) {
		const char *key = json_string_value(json_object_get(t, "Key"));
		const char *val = json_string_value(json_object_get(t, "Value"));
		char norm[520];
		tag_norm(kind, key, norm, sizeof norm);
		if (tag_count(s, kind, owner, n, err) < 0)
			return -1;
		/* An existing key (same norm) is replaced in place: key case and value. */
		sqlite3_stmt *st = store_prep(s, "UPDATE iam_tags SET key = ?4, value = ?5"
		                                 " WHERE kind = ?1 AND owner = ?2 AND norm = ?3");
		if (!st)
			return emu_err_set(err, ERR_INTERNAL, "internal storage error");
		sqlite3_bind_int(st, 1, kind);
		sqlite3_bind_int64(st, 2, owner);
		sqlite3_bind_text(st, 3, norm, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 4, key, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 5, val, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) != SQLITE_DONE)
			return store_fail(s, err);
		if (sqlite3_changes(store_db(s)) > 0)
			continue;
		if (n[0] >= IAM_TAGS_MAX)
			return emu_err_set(err, ERR_IAM_LIMIT_EXCEEDED, "Cannot exceed quota for TagsPer%s: %d",
			                   iam_kind_info(kind)->quota_word, IAM_TAGS_MAX);
		st = store_prep(s, "INSERT INTO iam_tags(kind, owner, norm, key, value, ord) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
		if (!st)
			return emu_err_set(err, ERR_INTERNAL, "internal storage error");
		sqlite3_bind_int(st, 1, kind);
		sqlite3_bind_int64(st, 2, owner);
		sqlite3_bind_text(st, 3, norm, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 4, key, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 5, val, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 6, n[1] + 1);
		if (sqlite3_step(st) != SQLITE_DONE)
			return store_fail(s, err);
	}
	return 0;
}

int iam_tags_remove(struct store *s, int kind, long long owner, json_t *keys, struct emu_err *err)
{
	size_t i;
	json_t *k;
	json_array_foreach(keys, i, k) {
		char norm[520];
		tag_norm(kind, json_string_value(k), norm, sizeof norm);
		sqlite3_stmt *st = store_prep(s, "DELETE FROM iam_tags WHERE kind = ?1 AND owner = ?2 AND norm = ?3");
		if (!st)
			return emu_err_set(err, ERR_INTERNAL, "internal storage error");
		sqlite3_bind_int(st, 1, kind);
		sqlite3_bind_int64(st, 2, owner);
		sqlite3_bind_text(st, 3, norm, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) != SQLITE_DONE)
			return store_fail(s, err);
	}
	return 0;
}

int iam_tags_drop(struct store *s, int kind, long long owner, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "DELETE FROM iam_tags WHERE kind = ?1 AND owner = ?2");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	sqlite3_bind_int(st, 1, kind);
	sqlite3_bind_int64(st, 2, owner);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_fail(s, err);
	return 0;
}

/* ---- paging ---------------------------------------------------------------------- */

int iam_page(json_t *in, json_t *items, const char *key, json_t *out, struct emu_err *err)
{
	long long max;
	const char *marker;
	if (iam_in_int(in, "MaxItems", 1, 1000, IAM_MAX_ITEMS_DEFAULT, &max, NULL, err) < 0 ||
	    iam_in_str(in, "Marker", false, 1, 320, &marker, err) < 0) {
		json_decref(items);
		return -1;
	}
	size_t total = json_array_size(items), off = 0;
	if (marker) {
		/* Markers are opaque to clients; ours is "m" + the decimal offset. */
		char *end = NULL;
		unsigned long long v = marker[0] == 'm' && marker[1] >= '0' && marker[1] <= '9'
		                               ? strtoull(marker + 1, &end, 10)
		                               : 0;
		if (!end || *end || v > total) {
			json_decref(items);
			return emu_err_set(err, ERR_VALIDATION, "Invalid Marker.");
		}
		off = (size_t)v;
	}
	size_t end_i = total - off > (size_t)max ? off + (size_t)max : total;
	json_t *page = json_array();
	for (size_t i = off; i < end_i; i++)
		json_array_append(page, json_array_get(items, i));
	json_decref(items);
	json_object_set_new(out, key, page);
	json_object_set_new(out, "IsTruncated", json_boolean(end_i < total));
	if (end_i < total) {
		char m[32];
		snprintf(m, sizeof m, "m%zu", end_i);
		json_object_set_new(out, "Marker", json_string(m));
	}
	return 0;
}

/* ---- documents ------------------------------------------------------------------- */

json_t *iam_doc_json(const char *doc)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(doc);
	char *buf = malloc(n * 3 + 1);
	if (!buf)
		return json_string("");
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)doc[i];
		if (alnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
			buf[w++] = (char)c;
		} else {
			buf[w++] = '%';
			buf[w++] = hex[c >> 4];
			buf[w++] = hex[c & 15];
		}
	}
	buf[w] = '\0';
	json_t *j = json_string(buf);
	free(buf);
	return j;
}

size_t iam_doc_size(const char *doc)
{
	size_t n = 0;
	for (const char *p = doc; *p; p++)
		if (((unsigned char)*p & 0xC0) != 0x80 && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			n++;
	return n;
}

char *iam_doc_text(json_t *v)
{
	if (json_is_string(v))
		return util_strdup(json_string_value(v));
	if (json_is_object(v))
		return json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
	return NULL;
}

/* ---- transactions ---------------------------------------------------------------- */


/* ---- entry points for other modules --------------------------------------------------- */

/* Appends {"source", "document"} for every inline and attached policy of e. */
static int entity_docs(struct store *s, const struct iam_entity *e, json_t *arr, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "SELECT name, document FROM iam_inline WHERE principal = ?1 ORDER BY name");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	sqlite3_bind_int64(st, 1, e->id);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char src[IAM_POLICY_NAME_MAX + 16];
		snprintf(src, sizeof src, "inline:%s", store_col_text(st, 0));
		json_t *d = json_object();
		json_object_set_new(d, "source", json_string(src));
		json_object_set_new(d, "document", json_string(store_col_text(st, 1)));
		json_array_append_new(arr, d);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store_fail(s, err);

	/* Attached: AWS managed documents are static; customer ones join their
	 * default version.  Collected first (the policy lookup reuses statements). */
	st = store_prep(s, "SELECT a.policy_arn, v.document FROM iam_attached a"
	                   " LEFT JOIN iam_policies p ON p.arn = a.policy_arn"
	                   " LEFT JOIN iam_policy_versions v ON v.policy = p.id AND v.version = p.default_version"
	                   " WHERE a.principal = ?1 ORDER BY a.id");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	sqlite3_bind_int64(st, 1, e->id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *arn = store_col_text(st, 0);
		const char *doc = store_col_text(st, 1);
		const struct iam_managed *m = doc ? NULL : iam_managed_find(arn);
		if (!doc && m)
			doc = m->document;
		if (!doc)
			continue;
		json_t *d = json_object();
		json_object_set_new(d, "source", json_string(arn));
		json_object_set_new(d, "document", json_string(doc));
		json_array_append_new(arr, d);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store_fail(s, err);
	return 0;
}

/* "arn:aws:<svc>::<acct>:<rest>": copies acct (12 digits) and returns rest, or NULL. */
static const char *arn_split(const char *arn, const char *svc, char acct[13])
{
	char pre[32];
	snprintf(pre, sizeof pre, "arn:aws:%s::", svc);
	if (!util_has_prefix(arn, pre))
		return NULL;
	const char *a = arn + strlen(pre);
	for (int i = 0; i < 12; i++)
		if (a[i] < '0' || a[i] > '9')
			return NULL;
	if (a[12] != ':')
		return NULL;
	memcpy(acct, a, 12);
	acct[12] = '\0';
	return a + 13;
}

int iam_principal_policies(struct store *s, const char *principal_arn, json_t **docs_out, struct emu_err *err)
{
	*docs_out = json_array();
	if (!principal_arn)
		return 0;
	char acct[13];
	const char *rest;
	struct iam_entity e;
	int found = 0;
	if ((rest = arn_split(principal_arn, "iam", acct))) {
		if (strcmp(rest, "root") == 0)
			return IAM_DOCS_ROOT;
		if (!util_has_prefix(rest, "user/") && !util_has_prefix(rest, "role/"))
			return 0;
		found = iam_entity_by_arn(s, principal_arn, &e, err);
	} else if ((rest = arn_split(principal_arn, "sts", acct))) {
		if (!util_has_prefix(rest, "assumed-role/"))
			return 0;
		const char *role = rest + strlen("assumed-role/");
		const char *slash = strchr(role, '/');
		if (!slash || slash == role || (size_t)(slash - role) > IAM_NAME_MAX)
			return 0;
		char name[IAM_NAME_MAX + 1];
		memcpy(name, role, (size_t)(slash - role));
		name[slash - role] = '\0';
		found = iam_entity_lookup(s, acct, IAM_KIND_ROLE, name, &e, err);
	} else {
		return 0;
	}
	if (found < 0) {
		json_decref(*docs_out);
		*docs_out = NULL;
		return -1;
	}
	if (found == 0)
		return 0;
	int rc = entity_docs(s, &e, *docs_out, err);
	iam_entity_free(&e);
	if (rc < 0) {
		json_decref(*docs_out);
		*docs_out = NULL;
		return -1;
	}
	return 0;
}

int iam_role_get(struct store *s, const char *account, const char *role_name_or_arn, struct iam_role *out,
                 struct emu_err *err)
{
	memset(out, 0, sizeof *out);
	char acct[13];
	const char *name = role_name_or_arn ? role_name_or_arn : "";
	const char *rest = arn_split(name, "iam", acct);
	if (rest) {
		if (!util_has_prefix(rest, "role/"))
			return emu_err_set(err, ERR_IAM_NO_SUCH_ENTITY, "The role with name %s cannot be found.", name);
		account = acct;
		const char *slash = strrchr(rest, '/');
		name = slash + 1;
	}
	if (!account)
		return emu_err_set(err, ERR_IAM_NO_SUCH_ENTITY, "The role with name %s cannot be found.", name);
	struct iam_entity e;
	if (iam_entity_find(s, account, IAM_KIND_ROLE, name, &e, err) < 0)
		return -1;
	snprintf(out->account, sizeof out->account, "%s", e.account);
	snprintf(out->name, sizeof out->name, "%.64s", e.name);
	snprintf(out->path, sizeof out->path, "%s", e.path);
	snprintf(out->arn, sizeof out->arn, "%s", e.arn);
	snprintf(out->role_id, sizeof out->role_id, "%s", e.unique_id);
	out->trust_policy = e.trust;
	e.trust = NULL;
	out->max_session_duration = e.max_session;
	out->created = e.created;
	iam_entity_free(&e);
	return 0;
}

void iam_role_free(struct iam_role *r)
{
	if (!r)
		return;
	free(r->trust_policy);
	r->trust_policy = NULL;
}

int iam_role_mark_used(struct store *s, const char *role_arn, const char *region, double now, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "UPDATE iam_principals SET last_used = ?2, last_used_region = ?3"
	                                 " WHERE arn = ?1 AND kind = 2");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	store_bind_text(st, 1, role_arn);
	sqlite3_bind_double(st, 2, floor(now));
	store_bind_text(st, 3, region ? region : "us-east-1");
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_fail(s, err);
	return 0;
}

int iam_access_key_mark_used(struct store *s, const char *access_key_id, const char *service, const char *region,
                             double now, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "INSERT INTO iam_key_usage(access_key_id, last_used, service, region)"
	                                 " VALUES (?1, ?2, ?3, ?4) ON CONFLICT(access_key_id) DO UPDATE SET"
	                                 " last_used = excluded.last_used, service = excluded.service,"
	                                 " region = excluded.region");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	store_bind_text(st, 1, access_key_id);
	sqlite3_bind_double(st, 2, floor(now));
	store_bind_text(st, 3, service ? service : "N/A");
	store_bind_text(st, 4, region ? region : "N/A");
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_fail(s, err);
	return 0;
}
