/*
 * iam_attach.c owns what users and roles carry: inline policies
 * (Put/Get/Delete/List{User,Role}Policy), attached managed policies
 * (Attach/Detach/ListAttached{User,Role}Policies) and tags
 * (Tag/Untag/List{User,Role}Tags).  Each operation is written once over
 * the principal kind; the public functions are thin instances.
 *
 * May call: store, err, the iam internals.
 * Invariants: a principal's inline policies together stay within IAM's
 * aggregate size (2048 non-whitespace characters for a user, 10240 for a
 * role); at most 10 managed policies are attached to one principal, each
 * once, and every attached ARN names a policy that existed when it was
 * attached (DeletePolicy refuses while attachments remain).
 */
#include "emu/iam_int.h"

#include "emu/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The principal named by the kind's name member (UserName, RoleName). */
static int find_owner(struct emu_call *call, int kind, json_t *in, struct iam_entity *e, struct emu_err *err)
{
	const struct iam_kind_info *k = iam_kind_info(kind);
	const char *name;
	if (iam_in_name(in, k->name_member, true, kind == IAM_KIND_USER ? 128 : IAM_NAME_MAX, &name, err) < 0)
		return -1;
	return iam_entity_find(call->store, call->account, kind, name, e, err);
}

/* ---- inline policies ------------------------------------------------------------- */

/* Non-whitespace size of the principal's inline policies other than `except`. */
static int inline_size(struct store *s, long long id, const char *except, size_t *total, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "SELECT document FROM iam_inline WHERE principal = ?1 AND name <> ?2");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	sqlite3_bind_int64(st, 1, id);
	store_bind_text(st, 2, except);
	int rc;
	*total = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*total += iam_doc_size((const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, err);
}

static int put_inline(struct emu_call *call, int kind, json_t *in, struct emu_err *err)
{
	const struct iam_kind_info *k = iam_kind_info(kind);
	struct iam_entity e;
	const char *pname, *doc;
	if (find_owner(call, kind, in, &e, err) < 0)
		return -1;
	int rc = -1;
	size_t others = 0;
	if (iam_in_name(in, "PolicyName", true, IAM_POLICY_NAME_MAX, &pname, err) < 0 ||
	    iam_in_doc(in, "PolicyDocument", IAM_DOC_INLINE, &doc, err) < 0 || inline_size(call->store, e.id, pname, &others, err) < 0)
		goto done;
	if (others + iam_doc_size(doc) > (size_t)k->inline_max) {
		emu_err_set(err, ERR_IAM_LIMIT_EXCEEDED, "Maximum policy size of %d bytes exceeded for %s %s",
		            k->inline_max, k->noun, e.name);
		goto done;
	}
	sqlite3_stmt *st = store_prep(call->store, "INSERT INTO iam_inline(principal, name, document) VALUES (?1, ?2, ?3)"
	                                           " ON CONFLICT(principal, name) DO UPDATE SET document = excluded.document");
	if (!st) {
		emu_err_set(err, ERR_INTERNAL, "internal storage error");
		goto done;
	}
	sqlite3_bind_int64(st, 1, e.id);
	store_bind_text(st, 2, pname);
	store_bind_text(st, 3, doc);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(call->store, err);
done:
	iam_entity_free(&e);
	return rc;
}

/* The inline policy PolicyName of e: its document (new string) or NoSuchEntity. */
static char *get_inline_doc(struct emu_call *call, const struct iam_entity *e, const char *pname, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(call->store, "SELECT document FROM iam_inline WHERE principal = ?1 AND name = ?2");
	if (!st) {
		emu_err_set(err, ERR_INTERNAL, "internal storage error");
		return NULL;
	}
	sqlite3_bind_int64(st, 1, e->id);
	store_bind_text(st, 2, pname);
	int rc = sqlite3_step(st);
	char *doc = rc == SQLITE_ROW ? util_strdup((const char *)sqlite3_column_text(st, 0)) : NULL;
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		emu_err_set(err, ERR_IAM_NO_SUCH_ENTITY, "The %s policy with name %s cannot be found.",
		            iam_kind_info(e->kind)->noun, pname);
	else if (rc != SQLITE_ROW)
		store_fail(call->store, err);
	return doc;
}

static int get_inline(struct emu_call *call, int kind, json_t *in, json_t **out, struct emu_err *err)
{
	struct iam_entity e;
	const char *pname;
	if (find_owner(call, kind, in, &e, err) < 0)
		return -1;
	int rc = -1;
	char *doc = NULL;
	if (iam_in_name(in, "PolicyName", true, IAM_POLICY_NAME_MAX, &pname, err) < 0 ||
	    !(doc = get_inline_doc(call, &e, pname, err)))
		goto done;
	*out = json_object();
	json_object_set_new(*out, iam_kind_info(kind)->name_member, json_string(e.name));
	json_object_set_new(*out, "PolicyName", json_string(pname));
	json_object_set_new(*out, "PolicyDocument", iam_doc_json(doc));
	rc = 0;
done:
	free(doc);
	iam_entity_free(&e);
	return rc;
}

static int delete_inline(struct emu_call *call, int kind, json_t *in, struct emu_err *err)
{
	struct iam_entity e;
	const char *pname;
	if (find_owner(call, kind, in, &e, err) < 0)
		return -1;
	int rc = -1;
	char *doc = NULL;
	if (iam_in_name(in, "PolicyName", true, IAM_POLICY_NAME_MAX, &pname, err) < 0 ||
	    !(doc = get_inline_doc(call, &e, pname, err)))
		goto done;
	sqlite3_stmt *st = store_prep(call->store, "DELETE FROM iam_inline WHERE principal = ?1 AND name = ?2");
	if (!st) {
		emu_err_set(err, ERR_INTERNAL, "internal storage error");
		goto done;
	}
	sqlite3_bind_int64(st, 1, e.id);
	store_bind_text(st, 2, pname);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(call->store, err);
done:
	free(doc);
	iam_entity_free(&e);
	return rc;
}

static int list_inline(struct emu_call *call, int kind, json_t *in, json_t **out, struct emu_err *err)
{
	struct iam_entity e;
	if (find_owner(call, kind, in, &e, err) < 0)
		return -1;
	long long id = e.id;
	iam_entity_free(&e);
	sqlite3_stmt *st = store_prep(call->store, "SELECT name FROM iam_inline WHERE principal = ?1 ORDER BY name");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	sqlite3_bind_int64(st, 1, id);
	json_t *names = json_array();
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(names, json_string((const char *)sqlite3_column_text(st, 0)));
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		json_decref(names);
		return store_fail(call->store, err);
	}
	*out = json_object();
	return iam_page(in, names, "PolicyNames", *out, err);
}

/* ---- attached managed policies ------------------------------------------------------ */

static int attach(struct emu_call *call, int kind, json_t *in, struct emu_err *err)
{
	struct iam_entity e;
	const char *arn;
	if (find_owner(call, kind, in, &e, err) < 0)
		return -1;
	int rc = -1;
	struct iam_mpolicy p;
	char parn[IAM_ARN_MAX];
	if (iam_in_arn(in, "PolicyArn", &arn, err) < 0 || iam_policies_find(call, arn, IAM_MISS_NOT_ATTACHABLE, &p, err) < 0)
		goto done;
	snprintf(parn, sizeof parn, "%s", p.arn);
	iam_policies_free(&p);
	sqlite3_stmt *st = store_prep(call->store, "SELECT count(*), coalesce(sum(policy_arn = ?2), 0) FROM iam_attached"
	                                           " WHERE principal = ?1");
	if (!st) {
		emu_err_set(err, ERR_INTERNAL, "internal storage error");
		goto done;
	}
	sqlite3_bind_int64(st, 1, e.id);
	store_bind_text(st, 2, parn);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		store_fail(call->store, err);
		goto done;
	}
	long long n = sqlite3_column_int64(st, 0), already = sqlite3_column_int64(st, 1);
	sqlite3_reset(st);
	if (already) {
		rc = 0; /* attaching twice is not an error */
		goto done;
	}
	if (n >= IAM_ATTACHED_MAX) {
		emu_err_set(err, ERR_IAM_LIMIT_EXCEEDED, "Cannot exceed quota for PoliciesPer%s: %d",
		            iam_kind_info(kind)->quota_word, IAM_ATTACHED_MAX);
		goto done;
	}
	st = store_prep(call->store, "INSERT INTO iam_attached(principal, account, policy_arn) VALUES (?1, ?2, ?3)");
	if (!st) {
		emu_err_set(err, ERR_INTERNAL, "internal storage error");
		goto done;
	}
	sqlite3_bind_int64(st, 1, e.id);
	store_bind_text(st, 2, call->account);
	store_bind_text(st, 3, parn);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(call->store, err);
done:
	iam_entity_free(&e);
	return rc;
}

static int detach(struct emu_call *call, int kind, json_t *in, struct emu_err *err)
{
	struct iam_entity e;
	const char *arn;
	if (find_owner(call, kind, in, &e, err) < 0)
		return -1;
	int rc = -1;
	if (iam_in_arn(in, "PolicyArn", &arn, err) < 0)
		goto done;
	if (!iam_arn_shaped(arn)) {
		emu_err_set(err, ERR_IAM_INVALID_INPUT, "ARN %s is not valid.", arn);
		goto done;
	}
	sqlite3_stmt *st = store_prep(call->store, "DELETE FROM iam_attached WHERE principal = ?1 AND policy_arn = ?2");
	if (!st) {
		emu_err_set(err, ERR_INTERNAL, "internal storage error");
		goto done;
	}
	sqlite3_bind_int64(st, 1, e.id);
	store_bind_text(st, 2, arn);
	if (sqlite3_step(st) != SQLITE_DONE) {
		store_fail(call->store, err);
		goto done;
	}
	if (sqlite3_changes(store_db(call->store)) == 0) {
		emu_err_set(err, ERR_IAM_NO_SUCH_ENTITY, "Policy %s was not found.", arn);
		goto done;
	}
	rc = 0;
done:
	iam_entity_free(&e);
	return rc;
}

static int list_attached(struct emu_call *call, int kind, json_t *in, json_t **out, struct emu_err *err)
{
	struct iam_entity e;
	const char *prefix = NULL;
	if ((iam_member(in, "PathPrefix") && iam_in_path(in, "PathPrefix", IAM_PATH_POLICY, &prefix, err) < 0) ||
	    find_owner(call, kind, in, &e, err) < 0)
		return -1;
	long long id = e.id;
	iam_entity_free(&e);
	sqlite3_stmt *st = store_prep(call->store, "SELECT a.policy_arn, p.name, p.path FROM iam_attached a"
	                                           " LEFT JOIN iam_policies p ON p.arn = a.policy_arn"
	                                           " WHERE a.principal = ?1 ORDER BY a.id");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	sqlite3_bind_int64(st, 1, id);
	json_t *items = json_array();
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *arn = store_col_text(st, 0), *name = store_col_text(st, 1), *path = store_col_text(st, 2);
		const struct iam_managed *m = name ? NULL : iam_managed_find(arn);
		if (m) {
			name = m->name;
			path = m->path;
		}
		if (!name || (prefix && strncmp(path, prefix, strlen(prefix)) != 0))
			continue;
		json_t *a = json_object();
		json_object_set_new(a, "PolicyName", json_string(name));
		json_object_set_new(a, "PolicyArn", json_string(arn));
		json_array_append_new(items, a);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		json_decref(items);
		return store_fail(call->store, err);
	}
	*out = json_object();
	return iam_page(in, items, "AttachedPolicies", *out, err);
}

/* ---- tags ------------------------------------------------------------------------------ */

static int tag(struct emu_call *call, int kind, json_t *in, struct emu_err *err)
{
	struct iam_entity e;
	json_t *tags = NULL;
	if (find_owner(call, kind, in, &e, err) < 0)
		return -1;
	int rc = iam_in_tags(in, "Tags", true, &tags, err);
	if (rc == 0)
		rc = iam_tags_add(call->store, kind, e.id, tags, err);
	iam_entity_free(&e);
	return rc;
}

static int untag(struct emu_call *call, int kind, json_t *in, struct emu_err *err)
{
	struct iam_entity e;
	json_t *keys = NULL;
	if (find_owner(call, kind, in, &e, err) < 0)
		return -1;
	int rc = iam_in_tag_keys(in, &keys, err);
	if (rc == 0)
		rc = iam_tags_remove(call->store, kind, e.id, keys, err);
	iam_entity_free(&e);
	return rc;
}

static int list_tags(struct emu_call *call, int kind, json_t *in, json_t **out, struct emu_err *err)
{
	struct iam_entity e;
	if (find_owner(call, kind, in, &e, err) < 0)
		return -1;
	json_t *tags = iam_tags_json(call->store, kind, e.id);
	iam_entity_free(&e);
	*out = json_object();
	return iam_page(in, tags, "Tags", *out, err);
}

/* ---- the public operations ----------------------------------------------------------- */

#define NO_OUT(impl, kind)                                                                        \
	static int impl##_##kind(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err) \
	{                                                                                          \
		return impl(call, IAM_KIND_##kind, in, err);                                       \
	}
#define WITH_OUT(impl, kind)                                                                      \
	static int impl##_##kind(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err) \
	{                                                                                          \
		return impl(call, IAM_KIND_##kind, in, out, err);                                  \
	}

NO_OUT(put_inline, USER)
NO_OUT(put_inline, ROLE)
WITH_OUT(get_inline, USER)
WITH_OUT(get_inline, ROLE)
NO_OUT(delete_inline, USER)
NO_OUT(delete_inline, ROLE)
WITH_OUT(list_inline, USER)
WITH_OUT(list_inline, ROLE)
NO_OUT(attach, USER)
NO_OUT(attach, ROLE)
NO_OUT(detach, USER)
NO_OUT(detach, ROLE)
WITH_OUT(list_attached, USER)
WITH_OUT(list_attached, ROLE)
NO_OUT(tag, USER)
NO_OUT(tag, ROLE)
NO_OUT(untag, USER)
NO_OUT(untag, ROLE)
WITH_OUT(list_tags, USER)
WITH_OUT(list_tags, ROLE)

IAM_TX_OP(iam_put_user_policy, put_inline_USER)
IAM_TX_OP(iam_put_role_policy, put_inline_ROLE)
IAM_TX_OP(iam_get_user_policy, get_inline_USER)
IAM_TX_OP(iam_get_role_policy, get_inline_ROLE)
IAM_TX_OP(iam_delete_user_policy, delete_inline_USER)
IAM_TX_OP(iam_delete_role_policy, delete_inline_ROLE)
IAM_TX_OP(iam_list_user_policies, list_inline_USER)
IAM_TX_OP(iam_list_role_policies, list_inline_ROLE)
IAM_TX_OP(iam_attach_user_policy, attach_USER)
IAM_TX_OP(iam_attach_role_policy, attach_ROLE)
IAM_TX_OP(iam_detach_user_policy, detach_USER)
IAM_TX_OP(iam_detach_role_policy, detach_ROLE)
IAM_TX_OP(iam_list_attached_user_policies, list_attached_USER)
IAM_TX_OP(iam_list_attached_role_policies, list_attached_ROLE)
IAM_TX_OP(iam_tag_user, tag_USER)
IAM_TX_OP(iam_tag_role, tag_ROLE)
IAM_TX_OP(iam_untag_user, untag_USER)
IAM_TX_OP(iam_untag_role, untag_ROLE)
IAM_TX_OP(iam_list_user_tags, list_tags_USER)
IAM_TX_OP(iam_list_role_tags, list_tags_ROLE)
