/*
 * iam_roles.c owns the role operations: Create/Get/List/Update/DeleteRole,
 * UpdateRoleDescription and UpdateAssumeRolePolicy.  A role's trust policy
 * (AssumeRolePolicyDocument) and MaxSessionDuration are what STS reads
 * through iam_role_get (iam.c).
 *
 * May call: store, err, the iam internals.
 * Invariants: every role has a trust policy that passed the trust-policy
 * check and is within ACLSizePerRole (2048 non-whitespace characters);
 * MaxSessionDuration is 3600..43200; a role with policies cannot be
 * deleted (DeleteConflict, as IAM).
 */
#include "emu/iam_int.h"

#include <string.h>

#define SESSION_MIN 3600
#define SESSION_MAX 43200

static int in_trust(json_t *in, const char *key, const char **doc, struct emu_err *err)
{
	return iam_in_doc(in, key, IAM_DOC_TRUST, doc, err);
}

static int create_role(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *name, *path, *trust, *desc, *boundary;
	long long max_session;
	json_t *tags;
	if (iam_in_name(in, "RoleName", true, IAM_NAME_MAX, &name, err) < 0 ||
	    iam_in_path(in, "Path", IAM_PATH_ENTITY, &path, err) < 0 ||
	    iam_in_str(in, "AssumeRolePolicyDocument", true, 1, IAM_DOC_MAX, &trust, err) < 0 ||
	    iam_in_desc(in, "Description", true, &desc, err) < 0 ||
	    iam_in_int(in, "MaxSessionDuration", SESSION_MIN, SESSION_MAX, SESSION_MIN, &max_session, NULL, err) < 0 ||
	    iam_in_tags(in, "Tags", false, &tags, err) < 0 || in_trust(in, "AssumeRolePolicyDocument", &trust, err) < 0 ||
	    iam_in_boundary(call, in, &boundary, err) < 0)
		return -1;
	struct iam_entity e;
	if (iam_entity_create(call, IAM_KIND_ROLE, name, path, boundary, trust, desc, (int)max_session, &e, err) < 0)
		return -1;
	int rc = iam_tags_add(call->store, IAM_KIND_ROLE, e.id, tags, err);
	if (rc == 0) {
		json_t *r = iam_entity_json(call->store, &e, true);
		json_object_del(r, "RoleLastUsed"); /* CreateRole does not report it */
		*out = json_object();
		json_object_set_new(*out, "Role", r);
	}
	iam_entity_free(&e);
	return rc;
}
IAM_TX_OP(iam_create_role, create_role)

static int find_role(struct emu_call *call, json_t *in, struct iam_entity *e, struct emu_err *err)
{
	const char *name;
	if (iam_in_name(in, "RoleName", true, IAM_NAME_MAX, &name, err) < 0)
		return -1;
	return iam_entity_find(call->store, call->account, IAM_KIND_ROLE, name, e, err);
}

static int role_out(struct emu_call *call, const char *name, json_t **out, struct emu_err *err)
{
	struct iam_entity e;
	if (iam_entity_find(call->store, call->account, IAM_KIND_ROLE, name, &e, err) < 0)
		return -1;
	*out = json_object();
	json_object_set_new(*out, "Role", iam_entity_json(call->store, &e, true));
	iam_entity_free(&e);
	return 0;
}

static int get_role(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *name;
	if (iam_in_name(in, "RoleName", true, IAM_NAME_MAX, &name, err) < 0)
		return -1;
	return role_out(call, name, out, err);
}
IAM_TX_OP(iam_get_role, get_role)

static int list_roles(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	return iam_list_entities(call, IAM_KIND_ROLE, in, out, err);
}
IAM_TX_OP(iam_list_roles, list_roles)

static int set_role(struct store *s, long long id, const char *desc, bool set_desc, long long max_session,
                    bool set_max, const char *trust, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "UPDATE iam_principals SET"
	                                 " description = CASE WHEN ?2 THEN ?3 ELSE description END,"
	                                 " max_session = CASE WHEN ?4 THEN ?5 ELSE max_session END,"
	                                 " trust_policy = coalesce(?6, trust_policy)"
	                                 " WHERE id = ?1");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, set_desc);
	store_bind_text(st, 3, desc);
	sqlite3_bind_int(st, 4, set_max);
	sqlite3_bind_int64(st, 5, max_session);
	store_bind_text(st, 6, trust);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_fail(s, err);
	return 0;
}

static int update_role(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *desc;
	long long max_session;
	bool has_max;
	struct iam_entity e;
	if (iam_in_desc(in, "Description", true, &desc, err) < 0 ||
	    iam_in_int(in, "MaxSessionDuration", SESSION_MIN, SESSION_MAX, SESSION_MIN, &max_session, &has_max, err) <
	            0 ||
	    find_role(call, in, &e, err) < 0)
		return -1;
	int rc = set_role(call->store, e.id, desc, desc != NULL, max_session, has_max, NULL, err);
	iam_entity_free(&e);
	if (rc == 0)
		*out = json_object(); /* UpdateRoleResult is an empty structure */
	return rc;
}
IAM_TX_OP(iam_update_role, update_role)

static int update_role_description(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *desc;
	struct iam_entity e;
	if (!iam_member(in, "Description")) /* required here: "Value null at 'description'" */
		return iam_in_str(in, "Description", true, 0, IAM_DESC_MAX, &desc, err);
	if (iam_in_desc(in, "Description", true, &desc, err) < 0 || find_role(call, in, &e, err) < 0)
		return -1;
	char name[sizeof e.name];
	memcpy(name, e.name, sizeof name);
	int rc = set_role(call->store, e.id, desc, true, 0, false, NULL, err);
	iam_entity_free(&e);
	return rc < 0 ? -1 : role_out(call, name, out, err);
}
IAM_TX_OP(iam_update_role_description, update_role_description)

static int update_assume_role_policy(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *name, *trust;
	struct iam_entity e;
	if (iam_in_name(in, "RoleName", true, IAM_NAME_MAX, &name, err) < 0 ||
	    iam_in_str(in, "PolicyDocument", true, 1, IAM_DOC_MAX, &trust, err) < 0 ||
	    iam_entity_find(call->store, call->account, IAM_KIND_ROLE, name, &e, err) < 0)
		return -1;
	int rc = in_trust(in, "PolicyDocument", &trust, err);
	if (rc == 0)
		rc = set_role(call->store, e.id, NULL, false, 0, false, trust, err);
	iam_entity_free(&e);
	return rc;
}
IAM_TX_OP(iam_update_assume_role_policy, update_assume_role_policy)

static int delete_role(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct iam_entity e;
	if (find_role(call, in, &e, err) < 0)
		return -1;
	long long inl, att;
	int rc = -1;
	if (iam_entity_policy_counts(call->store, e.id, &inl, &att, err) < 0)
		rc = -1;
	else if (inl)
		emu_err_set(err, ERR_IAM_DELETE_CONFLICT, "Cannot delete entity, must delete policies first.");
	else if (att)
		emu_err_set(err, ERR_IAM_DELETE_CONFLICT, "Cannot delete entity, must detach all policies first.");
	else
		rc = iam_entity_delete(call->store, &e, err);
	iam_entity_free(&e);
	return rc;
}
IAM_TX_OP(iam_delete_role, delete_role)
