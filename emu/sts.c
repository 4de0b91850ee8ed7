/*
 * sts.c owns the meaning of the STS operations (contracts in emu/sts.h).
 *
 * It may call jansson, emu/err, the store and the IAM domain (roles).
 * GetCallerIdentity reads only the call context; AssumeRole and
 * GetSessionToken write temporary keys into access_keys, where SigV4
 * authentication finds them.
 *
 * Invariants: *out is set only on success, to a new object the caller
 * owns; nothing else is allocated past return.
 */
#include "emu/sts.h"

#include "emu/iam.h"
#include "emu/store.h"
#include "emu/util.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

int sts_get_caller_identity(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	(void)in;
	if (!call || !call->user_id || !call->account || !call->principal_arn)
		return emu_err_set(err, ERR_INTERNAL, "GetCallerIdentity without an authenticated principal");
	json_t *o = json_object();
	if (!o || json_object_set_new(o, "UserId", json_string(call->user_id)) < 0 ||
	    json_object_set_new(o, "Account", json_string(call->account)) < 0 ||
	    json_object_set_new(o, "Arn", json_string(call->principal_arn)) < 0) {
		json_decref(o);
		return emu_err_set(err, ERR_INTERNAL, NULL);
	}
	*out = o;
	return 0;
}

/* ---- temporary credentials ------------------------------------------------ */

static struct sts_hooks hooks;

void sts_set_hooks(const struct sts_hooks *h)
{
	if (h)
		hooks = *h;
	else
		memset(&hooks, 0, sizeof hooks);
}

struct temp_creds {
	char akid[21];
	char secret[41];
	char token[161];
};

static void make_creds(struct temp_creds *c)
{
	static const char up[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	memcpy(c->akid, "ASIA", 4);
	util_random_from(c->akid + 4, 16, up);
	util_random_from(c->secret, 40, b64);
	/* Opaque; shaped like the regional tokens clients are used to seeing. */
	memcpy(c->token, "IQoJb3JpZ2luX2Vj", 16);
	util_random_from(c->token + 16, 144, b64);
}

static int store_creds(struct emu_call *call, const struct temp_creds *c, const char *account,
                       const char *principal_arn, const char *user_id, double expires, const char *session_policy,
                       const char *role_arn, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(call->store,
	                              "INSERT INTO access_keys(access_key_id, secret_access_key, account, principal_arn, user_id,"
	                              " session_token, expires, status, created, session_policy, role_arn)"
	                              " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'Active', ?8, ?9, ?10)");
	if (!st)
		return store_fail(call->store, err);
	sqlite3_bind_text(st, 1, c->akid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, c->secret, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, principal_arn, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, user_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, c->token, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 7, expires);
	sqlite3_bind_double(st, 8, call->now);
	store_bind_text(st, 9, session_policy);
	store_bind_text(st, 10, role_arn);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(call->store, err);
}

static json_t *creds_json(const struct temp_creds *c, double expires)
{
	return json_pack("{s:s,s:s,s:s,s:f}", "AccessKeyId", c->akid, "SecretAccessKey", c->secret, "SessionToken",
	                 c->token, "Expiration", (double)(long long)expires);
}

static long long int_or(json_t *in, const char *k, long long dflt)
{
	json_t *v = json_object_get(in, k);
	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

int sts_assume_role(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *role_arn = json_string_value(json_object_get(in, "RoleArn"));
	const char *session = json_string_value(json_object_get(in, "RoleSessionName"));
	const char *policy = json_string_value(json_object_get(in, "Policy"));
	if (!role_arn || !session)
		return emu_err_set(err, ERR_VALIDATION, "RoleArn and RoleSessionName are required");
	long long duration = int_or(in, "DurationSeconds", 3600);
	/* The role's account is in its ARN: arn:aws:iam::ACCT:role/... */
	char account[13] = "";
	const char *p = util_has_prefix(role_arn, "arn:aws:iam::") ? role_arn + 13 : NULL;
	if (p && strlen(p) > 12 && p[12] == ':')
		snprintf(account, sizeof account, "%.12s", p);
	struct iam_role role;
	struct emu_err e2;
	if (!account[0] || iam_role_get(call->store, account, role_arn, &role, &e2) < 0) {
		if (account[0] && e2.code == ERR_INTERNAL) {
			*err = e2;
			return -1;
		}
		/* STS does not reveal whether a role exists. */
		return emu_err_set(err, ERR_ACCESS_DENIED, "User: %s is not authorized to perform: sts:AssumeRole on resource: %.1100s",
		                   call->principal_arn, role_arn);
	}
	int rc = -1;
	bool chained = strstr(call->principal_arn, ":assumed-role/") != NULL;
	if (chained && duration > 3600) {
		emu_err_set(err, ERR_VALIDATION,
		            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.");
		goto out;
	}
	if (duration > role.max_session_duration) {
		emu_err_set(err, ERR_VALIDATION, "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.");
		goto out;
	}
	if (!hooks.may_assume) {
		emu_err_set(err, ERR_INTERNAL, "AssumeRole is not wired to the authorization layer");
		goto out;
	}
	if (hooks.may_assume(call, &role, policy, err) < 0)
		goto out;
	struct temp_creds c;
	make_creds(&c);
	char parn[1400], uid[128];
	snprintf(parn, sizeof parn, "arn:aws:sts::%s:assumed-role/%s/%s", role.account, role.name, session);
	snprintf(uid, sizeof uid, "%s:%s", role.role_id, session);
	double expires = call->now + (double)duration;
	if (store_creds(call, &c, role.account, parn, uid, expires, policy, role.arn, err) < 0)
		goto out;
	iam_role_mark_used(call->store, role.arn, call->region, call->now, &e2);
	*out = json_pack("{s:o,s:{s:s,s:s}}", "Credentials", creds_json(&c, expires), "AssumedRoleUser", "AssumedRoleId",
	                 uid, "Arn", parn);
	if (policy)
		json_object_set_new(*out, "PackedPolicySize", json_integer((json_int_t)(strlen(policy) * 100 / 2048)));
	OPENSSL_cleanse(&c, sizeof c);
	rc = 0;
out:
	iam_role_free(&role);
	return rc;
}

int sts_get_session_token(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	if (strstr(call->principal_arn, ":assumed-role/") || strstr(call->principal_arn, ":federated-user/"))
		return emu_err_set(err, ERR_ACCESS_DENIED, "Cannot call GetSessionToken with session credentials");
	bool root = util_has_suffix(call->principal_arn, ":root");
	long long duration = int_or(in, "DurationSeconds", root ? 3600 : 43200);
	if (root && duration > 3600)
		duration = 3600; /* root sessions are capped at one hour (aws-behaviour.md 6.3) */
	struct temp_creds c;
	make_creds(&c);
	double expires = call->now + (double)duration;
	if (store_creds(call, &c, call->account, call->principal_arn, call->user_id, expires, NULL, NULL, err) < 0)
		return -1;
	*out = json_pack("{s:o}", "Credentials", creds_json(&c, expires));
	OPENSSL_cleanse(&c, sizeof c);
	return 0;
}
