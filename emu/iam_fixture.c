/*
 * iam_fixture.c owns the "iam" section of fixture documents (format in
 * iam.h): policies, users (inline and attached policies, access keys) and
 * roles, each turned into the same requests an API client would send and
 * run through the same domain operations, as the account's root.
 *
 * May call: clock, store, err, the iam operations and internals.
 * Invariants: one savepoint around the whole section (nothing is kept on
 * error); secret access keys never appear in error messages.
 */
#include "emu/iam_int.h"

#include "emu/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ctx {
	struct emu_call call;
	char where[160];
};

/* Prefixes err's message with where the failing entry is. */
static int fail_at(struct ctx *c, struct emu_err *err)
{
	char msg[EMU_ERR_MSG_MAX];
	memcpy(msg, err->msg, sizeof msg);
	msg[sizeof msg - 1] = '\0';
	int n = snprintf(err->msg, sizeof err->msg, "fixture %s: ", c->where);
	if (n > 0 && (size_t)n < sizeof err->msg) { /* the rest of the message, cut to fit */
		size_t l = strnlen(msg, sizeof err->msg - (size_t)n - 1);
		memcpy(err->msg + n, msg, l);
		err->msg[(size_t)n + l] = '\0';
	}
	return -1;
}

static int bad(struct ctx *c, struct emu_err *err, const char *what)
{
	emu_err_set(err, ERR_VALIDATION, "%s", what);
	return fail_at(c, err);
}

static int only_keys(struct ctx *c, json_t *o, const char *const *allowed, struct emu_err *err)
{
	if (!json_is_object(o))
		return bad(c, err, "must be an object");
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		bool ok = false;
		for (const char *const *a = allowed; *a; a++)
			ok = ok || strcmp(*a, k) == 0;
		if (!ok) {
			char m[128];
			snprintf(m, sizeof m, "unknown key '%.64s'", k);
			return bad(c, err, m);
		}
	}
	return 0;
}

/* Runs op on req (consumed); the output is dropped. */
static int run(struct ctx *c, int (*op)(struct emu_call *, json_t *, json_t **, struct emu_err *), json_t *req,
               struct emu_err *err)
{
	json_t *out = NULL;
	int rc = op(&c->call, req, &out, err);
	json_decref(out);
	json_decref(req);
	return rc < 0 ? fail_at(c, err) : 0;
}

/* A request built from o's members in `copy`, with policy documents
 * (objects or strings) as text. */
static json_t *request(json_t *o, const char *const *copy, const char *const *docs)
{
	json_t *r = json_object();
	for (const char *const *k = copy; *k; k++) {
		json_t *v = json_object_get(o, *k);
		if (v)
			json_object_set(r, *k, v);
	}
	for (const char *const *k = docs; k && *k; k++) {
		json_t *v = json_object_get(o, *k);
		char *text = v ? iam_doc_text(v) : NULL;
		if (text)
			json_object_set_new(r, *k, json_string(text));
		else if (v)
			json_object_set(r, *k, v); /* wrong type: the operation reports it */
		free(text);
	}
	return r;
}

static int inline_policies(struct ctx *c, int kind, const char *owner, json_t *list, struct emu_err *err)
{
	static const char *const keys[] = {"PolicyName", "PolicyDocument", NULL};
	static const char *const copy[] = {"PolicyName", NULL};
	static const char *const docs[] = {"PolicyDocument", NULL};
	if (!list)
		return 0;
	if (!json_is_array(list))
		return bad(c, err, "Policies must be a list");
	size_t i;
	json_t *p;
	json_array_foreach(list, i, p) {
		if (only_keys(c, p, keys, err) < 0)
			return -1;
		json_t *req = request(p, copy, docs);
		json_object_set_new(req, iam_kind_info(kind)->name_member, json_string(owner));
		if (run(c, kind == IAM_KIND_USER ? iam_put_user_policy : iam_put_role_policy, req, err) < 0)
			return -1;
	}
	return 0;
}

static int attached(struct ctx *c, int kind, const char *owner, json_t *list, struct emu_err *err)
{
	if (!list)
		return 0;
	if (!json_is_array(list))
		return bad(c, err, "AttachedPolicies must be a list of policy ARNs");
	size_t i;
	json_t *a;
	json_array_foreach(list, i, a) {
		json_t *req = json_object();
		json_object_set_new(req, iam_kind_info(kind)->name_member, json_string(owner));
		json_object_set(req, "PolicyArn", a);
		if (run(c, kind == IAM_KIND_USER ? iam_attach_user_policy : iam_attach_role_policy, req, err) < 0)
			return -1;
	}
	return 0;
}

static int access_keys(struct ctx *c, const char *user, json_t *list, struct emu_err *err)
{
	static const char *const keys[] = {"AccessKeyId", "SecretAccessKey", "Status", NULL};
	static const char *const statuses[] = {"Active", "Inactive", NULL};
	if (!list)
		return 0;
	if (!json_is_array(list))
		return bad(c, err, "AccessKeys must be a list");
	size_t i;
	json_t *k;
	json_array_foreach(list, i, k) {
		if (only_keys(c, k, keys, err) < 0)
			return -1;
		const char *id, *secret, *status;
		/* The secret is checked by iam_key_insert, whose messages never show it. */
		json_t *sv = iam_member(k, "SecretAccessKey");
		if (sv && !json_is_string(sv))
			return bad(c, err, "SecretAccessKey must be a string");
		secret = sv ? json_string_value(sv) : NULL;
		if (iam_in_str(k, "AccessKeyId", false, 16, 128, &id, err) < 0 ||
		    iam_in_enum(k, "Status", false, statuses, "Active", &status, err) < 0)
			return fail_at(c, err);
		if (!id != !secret)
			return bad(c, err, "AccessKeyId and SecretAccessKey go together (or neither, to generate both)");
		struct iam_entity e;
		if (iam_entity_find(c->call.store, c->call.account, IAM_KIND_USER, user, &e, err) < 0)
			return fail_at(c, err);
		int rc = iam_key_insert(&c->call, &e, id, secret, status, NULL, err);
		iam_entity_free(&e);
		if (rc < 0)
			return fail_at(c, err);
	}
	return 0;
}

static int load_policies(struct ctx *c, json_t *list, struct emu_err *err)
{
	static const char *const keys[] = {"PolicyName", "PolicyDocument", "Path", "Description", "Tags", NULL};
	static const char *const copy[] = {"PolicyName", "Path", "Description", "Tags", NULL};
	static const char *const docs[] = {"PolicyDocument", NULL};
	size_t i;
	json_t *p;
	json_array_foreach(list, i, p) {
		snprintf(c->where, sizeof c->where, "iam.policies[%zu]", i);
		if (only_keys(c, p, keys, err) < 0 || run(c, iam_create_policy, request(p, copy, docs), err) < 0)
			return -1;
	}
	return 0;
}

static int load_users(struct ctx *c, json_t *list, struct emu_err *err)
{
	static const char *const keys[] = {"UserName",         "Path",     "PermissionsBoundary", "Tags",
	                                   "Policies",         "AttachedPolicies", "AccessKeys",  NULL};
	static const char *const copy[] = {"UserName", "Path", "PermissionsBoundary", "Tags", NULL};
	size_t i;
	json_t *u;
	json_array_foreach(list, i, u) {
		snprintf(c->where, sizeof c->where, "iam.users[%zu]", i);
		if (only_keys(c, u, keys, err) < 0 || run(c, iam_create_user, request(u, copy, NULL), err) < 0)
			return -1;
		const char *name = json_string_value(json_object_get(u, "UserName"));
		snprintf(c->where, sizeof c->where, "iam.users[%zu] (%.64s)", i, name);
		if (inline_policies(c, IAM_KIND_USER, name, json_object_get(u, "Policies"), err) < 0 ||
		    attached(c, IAM_KIND_USER, name, json_object_get(u, "AttachedPolicies"), err) < 0 ||
		    access_keys(c, name, json_object_get(u, "AccessKeys"), err) < 0)
			return -1;
	}
	return 0;
}

static int load_roles(struct ctx *c, json_t *list, struct emu_err *err)
{
	static const char *const keys[] = {"RoleName", "AssumeRolePolicyDocument", "Path", "Description",
	                                   "MaxSessionDuration", "PermissionsBoundary", "Tags", "Policies",
	                                   "AttachedPolicies", NULL};
	static const char *const copy[] = {"RoleName", "Path", "Description", "MaxSessionDuration",
	                                   "PermissionsBoundary", "Tags", NULL};
	static const char *const docs[] = {"AssumeRolePolicyDocument", NULL};
	size_t i;
	json_t *r;
	json_array_foreach(list, i, r) {
		snprintf(c->where, sizeof c->where, "iam.roles[%zu]", i);
		if (only_keys(c, r, keys, err) < 0 || run(c, iam_create_role, request(r, copy, docs), err) < 0)
			return -1;
		const char *name = json_string_value(json_object_get(r, "RoleName"));
		snprintf(c->where, sizeof c->where, "iam.roles[%zu] (%.64s)", i, name);
		if (inline_policies(c, IAM_KIND_ROLE, name, json_object_get(r, "Policies"), err) < 0 ||
		    attached(c, IAM_KIND_ROLE, name, json_object_get(r, "AttachedPolicies"), err) < 0)
			return -1;
	}
	return 0;
}

static bool is_account(const char *a)
{
	if (!a || strlen(a) != 12)
		return false;
	for (int i = 0; i < 12; i++)
		if (a[i] < '0' || a[i] > '9')
			return false;
	return true;
}

int iam_fixture_load(struct store *s, const char *account, json_t *iam, struct emu_err *err)
{
	static const char *const top[] = {"users", "roles", "policies", NULL};
	struct ctx c;
	memset(&c, 0, sizeof c);
	snprintf(c.where, sizeof c.where, "iam");
	if (!is_account(account))
		return bad(&c, err, "account must be 12 digits");
	if (only_keys(&c, iam, top, err) < 0)
		return -1;
	static const char *const sections[] = {"policies", "users", "roles"};
	for (size_t i = 0; i < 3; i++) {
		json_t *v = json_object_get(iam, sections[i]);
		if (v && !json_is_array(v)) {
			snprintf(c.where, sizeof c.where, "iam.%s", sections[i]);
			return bad(&c, err, "must be a list");
		}
	}
	char root[64];
	snprintf(root, sizeof root, "arn:aws:iam::%s:root", account);
	c.call = (struct emu_call){.store = s,
	                           .account = account,
	                           .region = "us-east-1",
	                           .principal_arn = root,
	                           .user_id = account,
	                           .access_key_id = "",
	                           .request_id = "fixture",
	                           .now = clock_now()};
	if (store_begin(s) < 0)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	if (load_policies(&c, json_object_get(iam, "policies"), err) < 0 ||
	    load_users(&c, json_object_get(iam, "users"), err) < 0 ||
	    load_roles(&c, json_object_get(iam, "roles"), err) < 0) {
		store_rollback(s);
		return -1;
	}
	if (store_commit(s) < 0)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	return 0;
}
