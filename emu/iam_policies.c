/*
 * iam_policies.c owns managed policies: customer managed ones (rows of
 * iam_policies and iam_policy_versions) and the read-only view of AWS
 * managed ones (iam_managed.c): Create/Get/List/DeletePolicy, the five
 * version operations, ListEntitiesForPolicy and policy tags.
 *
 * May call: store, util, err, the iam internals.
 * Invariants: a customer policy has 1..5 versions, exactly one of them the
 * default; version ids are "v<n>" with n never reused (next_version); a
 * policy that is attached, used as a permissions boundary, or has other
 * versions than the default cannot be deleted (DeleteConflict, as IAM);
 * AWS managed policies are never written (AccessDenied).
 */
#include "emu/iam_int.h"

#include "emu/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_VERSION_MISSING "Policy %s version %s does not exist or is not attachable."

bool iam_arn_shaped(const char *arn)
{
	if (strncmp(arn, "arn:", 4) != 0)
		return false;
	int colons = 0;
	for (const char *p = arn; *p; p++)
		colons += *p == ':';
	return colons >= 5;
}

void iam_policies_free(struct iam_mpolicy *p)
{
	if (!p)
		return;
	free(p->description);
	p->description = NULL;
}

static void from_managed(const struct iam_managed *m, struct iam_mpolicy *p)
{
	memset(p, 0, sizeof *p);
	p->aws = m;
	snprintf(p->name, sizeof p->name, "%s", m->name);
	snprintf(p->path, sizeof p->path, "%s", m->path);
	snprintf(p->arn, sizeof p->arn, "arn:aws:iam::aws:policy%s%s", m->path, m->name);
	snprintf(p->unique_id, sizeof p->unique_id, "%s", m->id);
	snprintf(p->default_version, sizeof p->default_version, "%s", m->version);
	p->description = m->description ? util_strdup(m->description) : NULL;
	p->created = (double)m->created;
	p->updated = (double)m->updated;
}

#define POLICY_COLS "id, name, path, arn, unique_id, default_version, description, created, updated, next_version"

static void policy_row(sqlite3_stmt *st, struct iam_mpolicy *p)
{
	memset(p, 0, sizeof *p);
	p->id = sqlite3_column_int64(st, 0);
	snprintf(p->name, sizeof p->name, "%s", (const char *)sqlite3_column_text(st, 1));
	snprintf(p->path, sizeof p->path, "%s", (const char *)sqlite3_column_text(st, 2));
	snprintf(p->arn, sizeof p->arn, "%s", (const char *)sqlite3_column_text(st, 3));
	snprintf(p->unique_id, sizeof p->unique_id, "%s", (const char *)sqlite3_column_text(st, 4));
	snprintf(p->default_version, sizeof p->default_version, "%s", (const char *)sqlite3_column_text(st, 5));
	const char *d = store_col_text(st, 6);
	p->description = d ? util_strdup(d) : NULL;
	p->created = sqlite3_column_double(st, 7);
	p->updated = sqlite3_column_double(st, 8);
	p->next_version = sqlite3_column_int64(st, 9);
}

static int missing_policy(const char *arn, enum iam_miss miss, struct emu_err *err)
{
	if (miss == IAM_MISS_NOT_FOUND)
		return emu_err_set(err, ERR_IAM_NO_SUCH_ENTITY, "Policy %s was not found.", arn);
	return emu_err_set(err, ERR_IAM_NO_SUCH_ENTITY, "Policy %s does not exist or is not attachable.", arn);
}

int iam_policies_find(struct emu_call *call, const char *arn, enum iam_miss miss, struct iam_mpolicy *p,
                    struct emu_err *err)
{
	memset(p, 0, sizeof *p);
	if (!iam_arn_shaped(arn))
		return emu_err_set(err, ERR_IAM_INVALID_INPUT, "ARN %s is not valid.", arn);
	if (util_has_prefix(arn, IAM_AWS_POLICY_PREFIX)) {
		const struct iam_managed *m = iam_managed_find(arn);
		if (!m)
			return missing_policy(arn, miss, err);
		from_managed(m, p);
		return 0;
	}
	sqlite3_stmt *st = store_prep(call->store, "SELECT " POLICY_COLS " FROM iam_policies WHERE arn = ?1 AND account = ?2");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	store_bind_text(st, 1, arn);
	store_bind_text(st, 2, call->account);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		policy_row(st, p);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		return store_fail(call->store, err);
	return missing_policy(arn, miss, err);
}

/* Document of version `v` of p (new string); 0 found, 1 absent, -1 error. */
static int version_doc(struct store *s, const struct iam_mpolicy *p, const char *v, char **doc, double *created,
                       struct emu_err *err)
{
	*doc = NULL;
	if (p->aws) {
		if (strcmp(v, p->aws->version) != 0)
			return 1;
		*doc = util_strdup(p->aws->document);
		*created = (double)p->aws->updated;
		return 0;
	}
	sqlite3_stmt *st = store_prep(s, "SELECT document, created FROM iam_policy_versions WHERE policy = ?1 AND version = ?2");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	sqlite3_bind_int64(st, 1, p->id);
	store_bind_text(st, 2, v);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*doc = util_strdup((const char *)sqlite3_column_text(st, 0));
		*created = sqlite3_column_double(st, 1);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? 1 : store_fail(s, err);
}

char *iam_policies_doc(struct store *s, const struct iam_mpolicy *p, struct emu_err *err)
{
	char *doc;
	double created;
	int rc = version_doc(s, p, p->default_version, &doc, &created, err);
	if (rc == 1)
		emu_err_set(err, ERR_INTERNAL, "policy %s has no default version", p->arn);
	return rc == 0 ? doc : NULL;
}

/* AttachmentCount (in call->account) and PermissionsBoundaryUsageCount. */
static void usage(struct emu_call *call, const char *arn, long long *attached, long long *boundary)
{
	*attached = *boundary = 0;
	sqlite3_stmt *st = store_prep(call->store, "SELECT count(*) FROM iam_attached WHERE policy_arn = ?1 AND account = ?2");
	if (st) {
		store_bind_text(st, 1, arn);
		store_bind_text(st, 2, call->account);
		if (sqlite3_step(st) == SQLITE_ROW)
			*attached = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	}
	st = store_prep(call->store, "SELECT count(*) FROM iam_principals WHERE boundary = ?1 AND account = ?2");
	if (st) {
		store_bind_text(st, 1, arn);
		store_bind_text(st, 2, call->account);
		if (sqlite3_step(st) == SQLITE_ROW)
			*boundary = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	}
}

/* The Policy structure: full for Create/GetPolicy (Description, Tags),
 * otherwise the ListPolicies entry. */
static json_t *policy_json(struct emu_call *call, const struct iam_mpolicy *p, bool full)
{
	long long attached, boundary;
	usage(call, p->arn, &attached, &boundary);
	json_t *o = json_object();
	json_object_set_new(o, "PolicyName", json_string(p->name));
	json_object_set_new(o, "PolicyId", json_string(p->unique_id));
	json_object_set_new(o, "Arn", json_string(p->arn));
	json_object_set_new(o, "Path", json_string(p->path));
	json_object_set_new(o, "DefaultVersionId", json_string(p->default_version));
	json_object_set_new(o, "AttachmentCount", json_integer(attached));
	json_object_set_new(o, "PermissionsBoundaryUsageCount", json_integer(boundary));
	json_object_set_new(o, "IsAttachable", json_true());
	if (full && p->description)
		json_object_set_new(o, "Description", json_string(p->description));
	json_object_set_new(o, "CreateDate", iam_ts(p->created));
	json_object_set_new(o, "UpdateDate", iam_ts(p->updated));
	if (full && !p->aws) {
		json_t *tags = iam_tags_json(call->store, IAM_KIND_POLICY, p->id);
		if (json_array_size(tags))
			json_object_set_new(o, "Tags", tags);
		else
			json_decref(tags);
	}
	return o;
}

static int policy_out(struct emu_call *call, const struct iam_mpolicy *p, json_t **out)
{
	*out = json_object();
	json_object_set_new(*out, "Policy", policy_json(call, p, true));
	return 0;
}

/* AWS managed policies belong to AWS: every write is refused. */
static int not_aws(struct emu_call *call, const struct iam_mpolicy *p, const char *action, struct emu_err *err)
{
	if (!p->aws)
		return 0;
	return emu_err_set(err, ERR_ACCESS_DENIED, "User: %s is not authorized to perform: iam:%s on resource: policy %s",
	                   call->principal_arn ? call->principal_arn : "anonymous", action, p->arn);
}

/* A managed policy document: identity grammar and PolicySize. */
static int in_managed_doc(json_t *in, const char **doc, struct emu_err *err)
{
	return iam_in_doc(in, "PolicyDocument", IAM_DOC_MANAGED, doc, err);
}

static int insert_version(struct store *s, long long policy, const char *v, const char *doc, double now,
                          struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "INSERT INTO iam_policy_versions(policy, version, document, created)"
	                                 " VALUES (?1, ?2, ?3, ?4)");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	sqlite3_bind_int64(st, 1, policy);
	store_bind_text(st, 2, v);
	store_bind_text(st, 3, doc);
	sqlite3_bind_double(st, 4, floor(now));
	return sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, err);
}

/* ---- policies ------------------------------------------------------------------------ */

static int create_policy(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *name, *path, *doc, *desc;
	json_t *tags = NULL;
	if (iam_in_name(in, "PolicyName", true, IAM_POLICY_NAME_MAX, &name, err) < 0 ||
	    iam_in_path(in, "Path", IAM_PATH_POLICY, &path, err) < 0 ||
	    iam_in_str(in, "PolicyDocument", true, 1, IAM_DOC_MAX, &doc, err) < 0 ||
	    iam_in_desc(in, "Description", false, &desc, err) < 0 || iam_in_tags(in, "Tags", false, &tags, err) < 0 ||
	    in_managed_doc(in, &doc, err) < 0)
		return -1;
	sqlite3_stmt *st = store_prep(call->store, "SELECT 1 FROM iam_policies WHERE account = ?1 AND name = ?2");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	store_bind_text(st, 1, call->account);
	store_bind_text(st, 2, name);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return emu_err_set(err, ERR_IAM_ENTITY_EXISTS,
		                   "A policy called %s already exists. Duplicate names are not allowed.", name);
	if (rc != SQLITE_DONE)
		return store_fail(call->store, err);
	char uid[32], arn[IAM_ARN_MAX];
	iam_unique_id("ANPA", uid);
	iam_arn(arn, sizeof arn, call->account, "policy", path, name);
	st = store_prep(call->store, "INSERT INTO iam_policies(account, name, path, unique_id, arn, description, created,"
	                             " updated, default_version, next_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, 'v1', 2)");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	store_bind_text(st, 1, call->account);
	store_bind_text(st, 2, name);
	store_bind_text(st, 3, path);
	store_bind_text(st, 4, uid);
	store_bind_text(st, 5, arn);
	store_bind_text(st, 6, desc);
	sqlite3_bind_double(st, 7, floor(call->now));
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_fail(call->store, err);
	long long id = sqlite3_last_insert_rowid(store_db(call->store));
	if (insert_version(call->store, id, "v1", doc, call->now, err) < 0 ||
	    iam_tags_add(call->store, IAM_KIND_POLICY, id, tags, err) < 0)
		return -1;
	struct iam_mpolicy p;
	if (iam_policies_find(call, arn, IAM_MISS_NOT_FOUND, &p, err) < 0)
		return -1;
	policy_out(call, &p, out);
	iam_policies_free(&p);
	return 0;
}
IAM_TX_OP(iam_create_policy, create_policy)

/* The policy of member PolicyArn (NoSuchEntity "Policy X was not found."). */
static int find_policy(struct emu_call *call, json_t *in, struct iam_mpolicy *p, struct emu_err *err)
{
	const char *arn;
	if (iam_in_arn(in, "PolicyArn", &arn, err) < 0)
		return -1;
	return iam_policies_find(call, arn, IAM_MISS_NOT_FOUND, p, err);
}

static int get_policy(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct iam_mpolicy p;
	if (find_policy(call, in, &p, err) < 0)
		return -1;
	policy_out(call, &p, out);
	iam_policies_free(&p);
	return 0;
}
IAM_TX_OP(iam_get_policy, get_policy)

static bool keep_listed(struct emu_call *call, const struct iam_mpolicy *p, bool only_attached, const char *prefix)
{
	if (prefix && strncmp(p->path, prefix, strlen(prefix)) != 0)
		return false;
	if (only_attached) {
		long long a, b;
		usage(call, p->arn, &a, &b);
		return a > 0;
	}
	return true;
}

static int list_policies(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	static const char *const scopes[] = {"All", "AWS", "Local", NULL};
	static const char *const usages[] = {"PermissionsPolicy", "PermissionsBoundary", NULL};
	const char *scope, *use, *prefix = NULL;
	bool only_attached;
	if (iam_in_enum(in, "Scope", false, scopes, "All", &scope, err) < 0 ||
	    iam_in_bool(in, "OnlyAttached", false, &only_attached, err) < 0 ||
	    iam_in_enum(in, "PolicyUsageFilter", false, usages, NULL, &use, err) < 0 ||
	    (iam_member(in, "PathPrefix") && iam_in_path(in, "PathPrefix", IAM_PATH_POLICY, &prefix, err) < 0))
		return -1;
	json_t *items = json_array();
	/* Customer managed policies first (by name), then AWS's (by name). */
	if (strcmp(scope, "AWS") != 0) {
		sqlite3_stmt *st = store_prep(call->store, "SELECT arn FROM iam_policies WHERE account = ?1 ORDER BY name, id");
		if (!st) {
			json_decref(items);
			return emu_err_set(err, ERR_INTERNAL, "internal storage error");
		}
		store_bind_text(st, 1, call->account);
		json_t *arns = json_array();
		int rc;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			json_array_append_new(arns, json_string((const char *)sqlite3_column_text(st, 0)));
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			json_decref(arns);
			json_decref(items);
			return store_fail(call->store, err);
		}
		size_t i;
		json_t *a;
		json_array_foreach(arns, i, a) {
			struct iam_mpolicy p;
			if (iam_policies_find(call, json_string_value(a), IAM_MISS_NOT_FOUND, &p, err) < 0) {
				json_decref(arns);
				json_decref(items);
				return -1;
			}
			if (keep_listed(call, &p, only_attached, prefix))
				json_array_append_new(items, policy_json(call, &p, false));
			iam_policies_free(&p);
		}
		json_decref(arns);
	}
	if (strcmp(scope, "Local") != 0) {
		const struct iam_managed *m;
		for (size_t i = 0; (m = iam_managed_at(i)); i++) {
			struct iam_mpolicy p;
			from_managed(m, &p);
			if (keep_listed(call, &p, only_attached, prefix))
				json_array_append_new(items, policy_json(call, &p, false));
			iam_policies_free(&p);
		}
	}
	*out = json_object();
	return iam_page(in, items, "Policies", *out, err);
}
IAM_TX_OP(iam_list_policies, list_policies)

static int count_versions(struct store *s, long long id, long long *n, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "SELECT count(*) FROM iam_policy_versions WHERE policy = ?1");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	*n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : store_fail(s, err);
}

static int delete_policy(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct iam_mpolicy p;
	if (find_policy(call, in, &p, err) < 0)
		return -1;
	int rc = -1;
	long long attached, boundary, versions;
	if (not_aws(call, &p, "DeletePolicy", err) < 0 || count_versions(call->store, p.id, &versions, err) < 0)
		goto done;
	usage(call, p.arn, &attached, &boundary);
	if (attached || boundary) {
		emu_err_set(err, ERR_IAM_DELETE_CONFLICT, "Cannot delete a policy attached to entities.");
		goto done;
	}
	if (versions > 1) {
		emu_err_set(err, ERR_IAM_DELETE_CONFLICT,
		            "This policy has more than one version. Before you delete a policy, you must delete the "
		            "policy's versions. The default version is deleted with the policy.");
		goto done;
	}
	if (iam_tags_drop(call->store, IAM_KIND_POLICY, p.id, err) < 0)
		goto done;
	sqlite3_stmt *st = store_prep(call->store, "DELETE FROM iam_policies WHERE id = ?1");
	if (!st) {
		emu_err_set(err, ERR_INTERNAL, "internal storage error");
		goto done;
	}
	sqlite3_bind_int64(st, 1, p.id);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(call->store, err);
done:
	iam_policies_free(&p);
	return rc;
}
IAM_TX_OP(iam_delete_policy, delete_policy)

/* ---- versions -------------------------------------------------------------------------- */

static bool version_id_ok(const char *v)
{
	/* v[1-9][0-9]*(\.[A-Za-z0-9-]*)? */
	if (v[0] != 'v' || v[1] < '1' || v[1] > '9')
		return false;
	const char *p = v + 2;
	while (*p >= '0' && *p <= '9')
		p++;
	if (!*p)
		return true;
	if (*p++ != '.')
		return false;
	for (; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return false;
	return true;
}

static int in_version(json_t *in, const char **v, struct emu_err *err)
{
	if (iam_in_str(in, "VersionId", true, 0, 64, v, err) < 0)
		return -1;
	if (!version_id_ok(*v))
		return emu_err_set(err, ERR_VALIDATION,
		                   "1 validation error detected: Value '%.64s' at 'versionId' failed to satisfy constraint: "
		                   "Member must satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?",
		                   *v);
	return 0;
}

static json_t *version_json(const char *v, bool is_default, double created, const char *doc)
{
	json_t *o = json_object();
	if (doc)
		json_object_set_new(o, "Document", iam_doc_json(doc));
	json_object_set_new(o, "VersionId", json_string(v));
	json_object_set_new(o, "IsDefaultVersion", json_boolean(is_default));
	json_object_set_new(o, "CreateDate", iam_ts(created));
	return o;
}

static int set_default(struct store *s, long long id, const char *v, double now, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "UPDATE iam_policies SET default_version = ?2, updated = ?3 WHERE id = ?1");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	sqlite3_bind_int64(st, 1, id);
	store_bind_text(st, 2, v);
	sqlite3_bind_double(st, 3, floor(now));
	return sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, err);
}

static int create_policy_version(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct iam_mpolicy p;
	const char *arn, *doc;
	bool as_default;
	if (iam_in_arn(in, "PolicyArn", &arn, err) < 0 || iam_in_str(in, "PolicyDocument", true, 1, IAM_DOC_MAX, &doc, err) < 0 ||
	    iam_in_bool(in, "SetAsDefault", false, &as_default, err) < 0 || find_policy(call, in, &p, err) < 0)
		return -1;
	int rc = -1;
	long long n;
	if (not_aws(call, &p, "CreatePolicyVersion", err) < 0 || in_managed_doc(in, &doc, err) < 0 ||
	    count_versions(call->store, p.id, &n, err) < 0)
		goto done;
	if (n >= IAM_VERSIONS_MAX) {
		emu_err_set(err, ERR_IAM_LIMIT_EXCEEDED,
		            "A managed policy can have up to %d versions. Before you create a new version, you must "
		            "delete an existing version.",
		            IAM_VERSIONS_MAX);
		goto done;
	}
	char v[32];
	snprintf(v, sizeof v, "v%lld", p.next_version);
	sqlite3_stmt *st = store_prep(call->store, "UPDATE iam_policies SET next_version = next_version + 1 WHERE id = ?1");
	if (!st) {
		emu_err_set(err, ERR_INTERNAL, "internal storage error");
		goto done;
	}
	sqlite3_bind_int64(st, 1, p.id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		store_fail(call->store, err);
		goto done;
	}
	if (insert_version(call->store, p.id, v, doc, call->now, err) < 0 ||
	    (as_default && set_default(call->store, p.id, v, call->now, err) < 0))
		goto done;
	*out = json_object();
	json_object_set_new(*out, "PolicyVersion", version_json(v, as_default, call->now, NULL));
	rc = 0;
done:
	iam_policies_free(&p);
	return rc;
}
IAM_TX_OP(iam_create_policy_version, create_policy_version)

static int get_policy_version(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct iam_mpolicy p;
	const char *arn, *v;
	if (iam_in_arn(in, "PolicyArn", &arn, err) < 0 || in_version(in, &v, err) < 0 || find_policy(call, in, &p, err) < 0)
		return -1;
	char *doc;
	double created = 0;
	int rc = version_doc(call->store, &p, v, &doc, &created, err);
	if (rc == 1)
		emu_err_set(err, ERR_IAM_NO_SUCH_ENTITY, MSG_VERSION_MISSING, p.arn, v);
	if (rc == 0) {
		*out = json_object();
		json_object_set_new(*out, "PolicyVersion", version_json(v, strcmp(v, p.default_version) == 0, created, doc));
	}
	free(doc);
	iam_policies_free(&p);
	return rc == 0 ? 0 : -1;
}
IAM_TX_OP(iam_get_policy_version, get_policy_version)

static int list_policy_versions(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct iam_mpolicy p;
	if (find_policy(call, in, &p, err) < 0)
		return -1;
	json_t *items = json_array();
	if (p.aws) {
		json_array_append_new(items, version_json(p.default_version, true, p.updated, NULL));
	} else {
		/* Newest first, as IAM lists them. */
		sqlite3_stmt *st = store_prep(call->store, "SELECT version, created FROM iam_policy_versions WHERE policy = ?1"
		                                           " ORDER BY CAST(substr(version, 2) AS INTEGER) DESC");
		if (!st) {
			json_decref(items);
			iam_policies_free(&p);
			return emu_err_set(err, ERR_INTERNAL, "internal storage error");
		}
		sqlite3_bind_int64(st, 1, p.id);
		int rc;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *v = (const char *)sqlite3_column_text(st, 0);
			json_array_append_new(items, version_json(v, strcmp(v, p.default_version) == 0,
			                                          sqlite3_column_double(st, 1), NULL));
		}
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			json_decref(items);
			iam_policies_free(&p);
			return store_fail(call->store, err);
		}
	}
	iam_policies_free(&p);
	*out = json_object();
	return iam_page(in, items, "Versions", *out, err);
}
IAM_TX_OP(iam_list_policy_versions, list_policy_versions)

/* Loads p and checks VersionId exists; for Delete/SetDefault. */
static int writable_version(struct emu_call *call, json_t *in, const char *action, struct iam_mpolicy *p,
                            const char **v, struct emu_err *err)
{
	const char *arn;
	if (iam_in_arn(in, "PolicyArn", &arn, err) < 0 || in_version(in, v, err) < 0 || find_policy(call, in, p, err) < 0)
		return -1;
	char *doc;
	double created;
	int rc = not_aws(call, p, action, err);
	if (rc == 0) {
		rc = version_doc(call->store, p, *v, &doc, &created, err);
		free(doc);
		if (rc == 1)
			rc = emu_err_set(err, ERR_IAM_NO_SUCH_ENTITY, MSG_VERSION_MISSING, p->arn, *v);
	}
	if (rc < 0)
		iam_policies_free(p);
	return rc;
}

static int delete_policy_version(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct iam_mpolicy p;
	const char *v;
	if (writable_version(call, in, "DeletePolicyVersion", &p, &v, err) < 0)
		return -1;
	int rc = -1;
	if (strcmp(v, p.default_version) == 0) {
		emu_err_set(err, ERR_IAM_DELETE_CONFLICT, "Cannot delete the default version of a policy.");
		goto done;
	}
	sqlite3_stmt *st = store_prep(call->store, "DELETE FROM iam_policy_versions WHERE policy = ?1 AND version = ?2");
	if (!st) {
		emu_err_set(err, ERR_INTERNAL, "internal storage error");
		goto done;
	}
	sqlite3_bind_int64(st, 1, p.id);
	store_bind_text(st, 2, v);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(call->store, err);
done:
	iam_policies_free(&p);
	return rc;
}
IAM_TX_OP(iam_delete_policy_version, delete_policy_version)

static int set_default_policy_version(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct iam_mpolicy p;
	const char *v;
	if (writable_version(call, in, "SetDefaultPolicyVersion", &p, &v, err) < 0)
		return -1;
	int rc = set_default(call->store, p.id, v, call->now, err);
	iam_policies_free(&p);
	return rc;
}
IAM_TX_OP(iam_set_default_policy_version, set_default_policy_version)

/* ---- entities and tags ------------------------------------------------------------------ */

static int list_entities_for_policy(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	static const char *const filters[] = {"User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy", NULL};
	static const char *const usages[] = {"PermissionsPolicy", "PermissionsBoundary", NULL};
	const char *filter, *use, *prefix = NULL;
	struct iam_mpolicy p;
	long long max;
	if (iam_in_enum(in, "EntityFilter", false, filters, NULL, &filter, err) < 0 ||
	    iam_in_enum(in, "PolicyUsageFilter", false, usages, NULL, &use, err) < 0 ||
	    (iam_member(in, "PathPrefix") && iam_in_path(in, "PathPrefix", IAM_PATH_ENTITY, &prefix, err) < 0) ||
	    iam_in_int(in, "MaxItems", 1, 1000, IAM_MAX_ITEMS_DEFAULT, &max, NULL, err) < 0 ||
	    find_policy(call, in, &p, err) < 0)
		return -1;
	bool boundary = use && strcmp(use, "PermissionsBoundary") == 0;
	bool permissions = !use || !boundary;
	bool want_user = !filter || strcmp(filter, "User") == 0 ||
	                 (strcmp(filter, "LocalManagedPolicy") == 0 && !p.aws) ||
	                 (strcmp(filter, "AWSManagedPolicy") == 0 && p.aws);
	bool want_role = !filter || strcmp(filter, "Role") == 0 ||
	                 (strcmp(filter, "LocalManagedPolicy") == 0 && !p.aws) ||
	                 (strcmp(filter, "AWSManagedPolicy") == 0 && p.aws);
	/* Principals using the policy for permissions (attached) or as their boundary. */
	sqlite3_stmt *st = store_prep(call->store, "SELECT kind, name, unique_id FROM iam_principals WHERE account = ?1"
	                                           " AND (?3 IS NULL OR substr(path, 1, length(?3)) = ?3)"
	                                           " AND ((?4 AND id IN (SELECT principal FROM iam_attached"
	                                           " WHERE policy_arn = ?2)) OR (?5 AND boundary = ?2))"
	                                           " ORDER BY kind, name");
	if (!st) {
		iam_policies_free(&p);
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	}
	store_bind_text(st, 1, call->account);
	store_bind_text(st, 2, p.arn);
	store_bind_text(st, 3, prefix);
	sqlite3_bind_int(st, 4, permissions);
	sqlite3_bind_int(st, 5, boundary);
	iam_policies_free(&p);
	json_t *users = json_array(), *roles = json_array();
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int kind = sqlite3_column_int(st, 0);
		if ((kind == IAM_KIND_USER && !want_user) || (kind == IAM_KIND_ROLE && !want_role))
			continue;
		const struct iam_kind_info *k = iam_kind_info(kind);
		json_t *o = json_object();
		json_object_set_new(o, k->name_member, json_string(store_col_text(st, 1)));
		json_object_set_new(o, k->id_member, json_string(store_col_text(st, 2)));
		json_array_append_new(kind == IAM_KIND_USER ? users : roles, o);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		json_decref(users);
		json_decref(roles);
		return store_fail(call->store, err);
	}
	*out = json_object();
	json_object_set_new(*out, "PolicyGroups", json_array());
	json_object_set_new(*out, "PolicyUsers", users);
	json_object_set_new(*out, "PolicyRoles", roles);
	json_object_set_new(*out, "IsTruncated", json_false());
	return 0;
}
IAM_TX_OP(iam_list_entities_for_policy, list_entities_for_policy)

static int tag_policy(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct iam_mpolicy p;
	json_t *tags = NULL;
	if (find_policy(call, in, &p, err) < 0)
		return -1;
	int rc = not_aws(call, &p, "TagPolicy", err);
	if (rc == 0)
		rc = iam_in_tags(in, "Tags", true, &tags, err);
	if (rc == 0)
		rc = iam_tags_add(call->store, IAM_KIND_POLICY, p.id, tags, err);
	iam_policies_free(&p);
	return rc;
}
IAM_TX_OP(iam_tag_policy, tag_policy)

static int untag_policy(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct iam_mpolicy p;
	json_t *keys = NULL;
	if (find_policy(call, in, &p, err) < 0)
		return -1;
	int rc = not_aws(call, &p, "UntagPolicy", err);
	if (rc == 0)
		rc = iam_in_tag_keys(in, &keys, err);
	if (rc == 0)
		rc = iam_tags_remove(call->store, IAM_KIND_POLICY, p.id, keys, err);
	iam_policies_free(&p);
	return rc;
}
IAM_TX_OP(iam_untag_policy, untag_policy)

static int list_policy_tags(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct iam_mpolicy p;
	if (find_policy(call, in, &p, err) < 0)
		return -1;
	json_t *tags = p.aws ? json_array() : iam_tags_json(call->store, IAM_KIND_POLICY, p.id);
	iam_policies_free(&p);
	*out = json_object();
	return iam_page(in, tags, "Tags", *out, err);
}
IAM_TX_OP(iam_list_policy_tags, list_policy_tags)
