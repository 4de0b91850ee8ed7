/*
 * secrets_policy.c owns Secrets Manager resource policies: Put, Get,
 * Delete and ValidateResourcePolicy, the grammar check of an IAM
 * resource policy and the "broad access" (public) check behind
 * BlockPublicPolicy (aws-behaviour.md 5.6).  Evaluation of policies at
 * request time is the IAM evaluator's job, not this file's.
 *
 * May call: secrets.c (secrets_int.h), store, util.  Invariants: a stored
 * policy always passed the grammar check; the stored text is the caller's
 * text, unchanged.
 */
#include "emu/secrets_int.h"

#include "emu/util.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define POLICY_MAX 20480
#define MSG_PUBLIC \
	"The BlockPublicPolicy parameter is set to true, and the resource policy did not prevent broad access to the secret."

static bool is_str_or_strs(json_t *v)
{
	if (json_is_string(v))
		return true;
	if (!json_is_array(v) || json_array_size(v) == 0)
		return false;
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) if (!json_is_string(e)) return false;
	return true;
}

static bool actions_ok(json_t *v)
{
	if (!is_str_or_strs(v))
		return false;
	json_t *one = json_is_string(v) ? v : NULL;
	size_t i = 0, n = one ? 1 : json_array_size(v);
	for (; i < n; i++) {
		const char *a = json_string_value(one ? one : json_array_get(v, i));
		if (strcmp(a, "*") != 0 && !strchr(a, ':'))
			return false;
	}
	return true;
}

static bool principal_ok(json_t *p)
{
	if (json_is_string(p))
		return strcmp(json_string_value(p), "*") == 0;
	if (!json_is_object(p) || json_object_size(p) == 0)
		return false;
	const char *k;
	json_t *v;
	json_object_foreach(p, k, v) {
		if (strcmp(k, "AWS") != 0 && strcmp(k, "Service") != 0 && strcmp(k, "Federated") != 0 &&
		    strcmp(k, "CanonicalUser") != 0)
			return false;
		if (!is_str_or_strs(v))
			return false;
	}
	return true;
}

static bool condition_ok(json_t *c)
{
	if (!json_is_object(c))
		return false;
	const char *op, *key;
	json_t *block, *v;
	json_object_foreach(c, op, block) {
		if (!json_is_object(block) || json_object_size(block) == 0)
			return false;
		json_object_foreach(block, key, v) {
			if (json_is_array(v)) {
				size_t i;
				json_t *e;
				json_array_foreach(v, i, e) if (!(json_is_string(e) || json_is_number(e) || json_is_boolean(e)))
					return false;
			} else if (!(json_is_string(v) || json_is_number(v) || json_is_boolean(v))) {
				return false;
			}
		}
	}
	return true;
}

/* Basic grammar of an IAM resource-based policy.  0, or -1 with why. */
static int grammar(json_t *doc, char *why, size_t n)
{
	if (!json_is_object(doc)) {
		snprintf(why, n, "The policy document must be a JSON object.");
		return -1;
	}
	const char *k;
	json_t *v;
	json_object_foreach(doc, k, v) {
		if (strcmp(k, "Version") != 0 && strcmp(k, "Id") != 0 && strcmp(k, "Statement") != 0) {
			snprintf(why, n, "Unknown policy element %.64s.", k);
			return -1;
		}
	}
	json_t *ver = json_object_get(doc, "Version");
	if (ver && !(json_is_string(ver) && (strcmp(json_string_value(ver), "2012-10-17") == 0 ||
	                                     strcmp(json_string_value(ver), "2008-10-17") == 0))) {
		snprintf(why, n, "The policy Version must be 2012-10-17 or 2008-10-17.");
		return -1;
	}
	json_t *id = json_object_get(doc, "Id");
	if (id && !json_is_string(id)) {
		snprintf(why, n, "The policy Id must be a string.");
		return -1;
	}
	json_t *sts = json_object_get(doc, "Statement");
	if (!sts || (!json_is_object(sts) && !(json_is_array(sts) && json_array_size(sts) > 0))) {
		snprintf(why, n, "The policy must contain a Statement (an object or a non-empty list).");
		return -1;
	}
	size_t count = json_is_object(sts) ? 1 : json_array_size(sts);
	for (size_t i = 0; i < count; i++) {
		json_t *st = json_is_object(sts) ? sts : json_array_get(sts, i);
		if (!json_is_object(st)) {
			snprintf(why, n, "Statement %zu must be an object.", i + 1);
			return -1;
		}
		json_object_foreach(st, k, v) {
			static const char *const known[] = {"Sid",      "Effect",    "Principal",   "NotPrincipal", "Action",
			                                    "NotAction", "Resource", "NotResource", "Condition"};
			bool found = false;
			for (size_t j = 0; j < ARRAY_LEN(known); j++)
				found |= strcmp(k, known[j]) == 0;
			if (!found) {
				snprintf(why, n, "Statement %zu: unknown element %.64s.", i + 1, k);
				return -1;
			}
		}
		json_t *sid = json_object_get(st, "Sid"), *eff = json_object_get(st, "Effect");
		if (sid && !json_is_string(sid)) {
			snprintf(why, n, "Statement %zu: Sid must be a string.", i + 1);
			return -1;
		}
		if (!json_is_string(eff) ||
		    (strcmp(json_string_value(eff), "Allow") != 0 && strcmp(json_string_value(eff), "Deny") != 0)) {
			snprintf(why, n, "Statement %zu: Effect must be Allow or Deny.", i + 1);
			return -1;
		}
		json_t *a = json_object_get(st, "Action"), *na = json_object_get(st, "NotAction");
		if ((a != NULL) == (na != NULL) || !actions_ok(a ? a : na)) {
			snprintf(why, n, "Statement %zu: exactly one of Action or NotAction is required, as a string or a "
			                 "list of service:action strings.", i + 1);
			return -1;
		}
		json_t *r = json_object_get(st, "Resource"), *nr = json_object_get(st, "NotResource");
		if ((r != NULL) == (nr != NULL) || !is_str_or_strs(r ? r : nr)) {
			snprintf(why, n, "Statement %zu: exactly one of Resource or NotResource is required.", i + 1);
			return -1;
		}
		json_t *p = json_object_get(st, "Principal"), *np = json_object_get(st, "NotPrincipal");
		if ((p != NULL) == (np != NULL) || !principal_ok(p ? p : np)) {
			snprintf(why, n, "Statement %zu: a resource policy needs exactly one of Principal or NotPrincipal "
			                 "(\"*\" or an object of AWS, Service, Federated, CanonicalUser).", i + 1);
			return -1;
		}
		json_t *c = json_object_get(st, "Condition");
		if (c && !condition_ok(c)) {
			snprintf(why, n, "Statement %zu: Condition must map operators to objects of keys and values.", i + 1);
			return -1;
		}
	}
	return 0;
}

static bool has_star(json_t *v)
{
	if (json_is_string(v))
		return strcmp(json_string_value(v), "*") == 0;
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) if (json_is_string(e) && strcmp(json_string_value(e), "*") == 0) return true;
	return false;
}

/* A condition that pins the caller to known accounts, organisations,
 * networks or principals (a positive operator on such a key, no "*"). */
static bool restricting(json_t *cond)
{
	static const char *const keys[] = {"aws:SourceAccount", "aws:SourceArn",      "aws:SourceOwner",
	                                   "aws:PrincipalAccount", "aws:PrincipalArn", "aws:PrincipalOrgID",
	                                   "aws:PrincipalOrgPaths", "aws:SourceVpc",    "aws:SourceVpce",
	                                   "aws:SourceIp",      "aws:userid",         "aws:username",
	                                   "aws:SourceOrgID",   "aws:SourceOrgPaths", "aws:PrincipalServiceName",
	                                   "aws:VpcSourceIp"};
	const char *op, *key;
	json_t *block, *v;
	json_object_foreach(cond, op, block) {
		if (strstr(op, "Not") || strstr(op, "IfExists") || strcmp(op, "Null") == 0)
			continue;
		json_object_foreach(block, key, v) {
			for (size_t i = 0; i < ARRAY_LEN(keys); i++)
				if (strcasecmp(key, keys[i]) == 0 && !has_star(v))
					return true;
		}
	}
	return false;
}

/* Does an Allow statement grant access to everyone? */
static bool broad(json_t *doc)
{
	json_t *sts = json_object_get(doc, "Statement");
	size_t count = json_is_object(sts) ? 1 : json_array_size(sts);
	for (size_t i = 0; i < count; i++) {
		json_t *st = json_is_object(sts) ? sts : json_array_get(sts, i);
		if (strcmp(json_string_value(json_object_get(st, "Effect")), "Allow") != 0)
			continue;
		json_t *p = json_object_get(st, "Principal");
		bool everyone = json_object_get(st, "NotPrincipal") != NULL;
		if (json_is_string(p))
			everyone = true;
		else if (p && has_star(json_object_get(p, "AWS")))
			everyone = true;
		json_t *c = json_object_get(st, "Condition");
		if (everyone && !(c && restricting(c)))
			return true;
	}
	return false;
}

/* Parses and checks a policy text; MalformedPolicyDocumentException on failure. */
static int policy_load(const char *text, json_t **doc, struct emu_err *err)
{
	json_error_t je;
	*doc = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (!*doc)
		return emu_err_set(err, ERR_SM_MALFORMED_POLICY,
		                   "This resource policy contains a syntax error: %.200s (line %d, column %d).", je.text,
		                   je.line, je.column);
	char why[400];
	if (grammar(*doc, why, sizeof why) < 0) {
		json_decref(*doc);
		*doc = NULL;
		return emu_err_set(err, ERR_SM_MALFORMED_POLICY, "This resource policy contains a syntax error. %s", why);
	}
	return 0;
}

static int write_policy(struct emu_call *call, long long id, const char *text, struct emu_err *err)
{
	struct store *s = call->store;
	sqlite3_stmt *st = store_prep(s, "UPDATE secrets SET resource_policy = ?2, last_changed = ?3 WHERE id = ?1");
	if (!st)
		return store_fail(s, err);
	sqlite3_bind_int64(st, 1, id);
	store_bind_text(st, 2, text);
	sqlite3_bind_double(st, 3, secrets_ms(call->now));
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return store_fail(s, err);
	struct sm_secret r;
	if (secrets_load_id(s, id, &r, err) < 0)
		return -1;
	rc = secrets_sync_replicas(s, &r, call->now, err);
	secrets_row_free(&r);
	return rc;
}

static int put_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *text;
	bool block;
	struct sm_secret r;
	if (secrets_find_writable(call, in, &r, err) < 0)
		return -1;
	json_t *doc = NULL;
	int rc = -1;
	if (secrets_in_str(in, "ResourcePolicy", true, 1, POLICY_MAX, &text, err) < 0 ||
	    secrets_in_bool(in, "BlockPublicPolicy", false, &block, NULL, err) < 0 || policy_load(text, &doc, err) < 0)
		goto out;
	if (block && broad(doc)) {
		emu_err_set(err, ERR_SM_PUBLIC_POLICY, MSG_PUBLIC);
		goto out;
	}
	if (write_policy(call, r.id, text, err) < 0)
		goto out;
	*out = secrets_out_arn_name(&r);
	rc = 0;
out:
	json_decref(doc);
	secrets_row_free(&r);
	return rc;
}
SECRETS_TX_OP(sm_put_resource_policy, put_impl)

static int get_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *id;
	struct sm_secret r;
	if (secrets_in_str(in, "SecretId", true, 1, 2048, &id, err) < 0 || secrets_find(call, id, &r, err) < 0)
		return -1;
	*out = secrets_out_arn_name(&r);
	if (r.resource_policy)
		json_object_set_new(*out, "ResourcePolicy", json_string(r.resource_policy));
	secrets_row_free(&r);
	return 0;
}
SECRETS_TX_OP(sm_get_resource_policy, get_impl)

static int delete_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct sm_secret r;
	if (secrets_find_writable(call, in, &r, err) < 0)
		return -1;
	int rc = r.resource_policy ? write_policy(call, r.id, NULL, err) : 0;
	if (rc == 0)
		*out = secrets_out_arn_name(&r);
	secrets_row_free(&r);
	return rc;
}
SECRETS_TX_OP(sm_delete_resource_policy, delete_impl)

static int validate_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *text, *id;
	if (secrets_in_str(in, "ResourcePolicy", true, 1, POLICY_MAX, &text, err) < 0 ||
	    secrets_in_str(in, "SecretId", false, 1, 2048, &id, err) < 0)
		return -1;
	if (id) {
		struct sm_secret r;
		if (secrets_find(call, id, &r, err) < 0)
			return -1;
		secrets_row_free(&r);
	}
	json_t *doc;
	if (policy_load(text, &doc, err) < 0)
		return -1;
	json_t *errors = json_array();
	if (broad(doc)) {
		/* [?] CheckName values are undocumented. */
		json_t *e = json_object();
		json_object_set_new(e, "CheckName", json_string("BLOCK_PUBLIC_POLICY"));
		json_object_set_new(e, "ErrorMessage",
		                    json_string("The resource policy grants broad access to the secret: a statement "
		                                "allows Principal \"*\" without a condition that restricts the caller."));
		json_array_append_new(errors, e);
	}
	json_decref(doc);
	*out = json_object();
	json_object_set_new(*out, "PolicyValidationPassed", json_boolean(json_array_size(errors) == 0));
	json_object_set_new(*out, "ValidationErrors", errors);
	return 0;
}
SECRETS_TX_OP(sm_validate_resource_policy, validate_impl)
