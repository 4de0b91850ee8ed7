/*
 * fixtures.c owns the fixture document format (see fixtures.h).  It calls
 * the store, the model validator and the domain functions of each service;
 * it never writes service tables itself except accounts and access keys,
 * which have no domain module yet (IAM arrives with its issue).
 */
#include "emu/fixtures.h"

#include "emu/iam.h"

#include "emu/call.h"
#include "emu/clock.h"
#include "emu/log.h"
#include "emu/model.h"
#include "emu/rds.h"
#include "emu/secrets.h"
#include "emu/store.h"
#include "emu/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str_or(json_t *o, const char *key, const char *dflt)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : dflt;
}

static int check_keys(json_t *o, const char *where, const char *const *allowed, struct emu_err *err)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		bool ok = false;
		for (const char *const *a = allowed; *a; a++)
			if (strcmp(*a, k) == 0)
				ok = true;
		if (!ok)
			return emu_err_set(err, ERR_VALIDATION, "fixture %s: unknown key '%.64s'", where, k);
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

static int load_accounts(struct store *s, json_t *arr, struct emu_err *err)
{
	static const char *const acct_keys[] = {"id", "alias", "access_keys", "iam", NULL};
	static const char *const key_keys[] = {"access_key_id", "secret_access_key", NULL};
	size_t i, j;
	json_t *a, *k;
	if (!json_is_array(arr))
		return emu_err_set(err, ERR_VALIDATION, "fixture accounts: must be a list");
	json_array_foreach(arr, i, a) {
		if (!json_is_object(a) || check_keys(a, "account", acct_keys, err) < 0)
			return err->code ? -1 : emu_err_set(err, ERR_VALIDATION, "fixture accounts[%zu]: must be an object", i);
		const char *id = str_or(a, "id", NULL);
		if (!is_account(id))
			return emu_err_set(err, ERR_VALIDATION, "fixture accounts[%zu]: id must be 12 digits", i);
		sqlite3_stmt *st = store_prep(s, "INSERT INTO accounts(id, alias, created) VALUES (?1, ?2, ?3)"
		                                 " ON CONFLICT(id) DO UPDATE SET alias = excluded.alias");
		if (!st)
			return emu_err_set(err, ERR_INTERNAL, NULL);
		sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
		store_bind_text(st, 2, str_or(a, "alias", NULL));
		sqlite3_bind_double(st, 3, clock_now());
		if (sqlite3_step(st) != SQLITE_DONE)
			return store_fail(s, err);
		json_t *keys = json_object_get(a, "access_keys");
		if (keys && !json_is_array(keys))
			return emu_err_set(err, ERR_VALIDATION, "fixture accounts[%zu].access_keys: must be a list", i);
		json_array_foreach(keys, j, k) {
			if (!json_is_object(k) || check_keys(k, "access key", key_keys, err) < 0)
				return err->code ? -1 : emu_err_set(err, ERR_VALIDATION, "fixture access key: must be an object");
			const char *akid = str_or(k, "access_key_id", NULL), *sk = str_or(k, "secret_access_key", NULL);
			if (!akid || !sk || strlen(akid) < 1 || strlen(akid) > 128 || strlen(sk) < 1 || strlen(sk) > 128)
				return emu_err_set(err, ERR_VALIDATION,
				                   "fixture accounts[%zu].access_keys[%zu]: access_key_id and "
				                   "secret_access_key are required (1-128 characters)", i, j);
			char arn[64];
			snprintf(arn, sizeof arn, "arn:aws:iam::%s:root", id);
			st = store_prep(s, "INSERT OR REPLACE INTO access_keys(access_key_id, secret_access_key, account,"
			                   " principal_arn, user_id, status, created) VALUES (?1, ?2, ?3, ?4, ?3, 'Active', ?5)");
			if (!st)
				return emu_err_set(err, ERR_INTERNAL, NULL);
			sqlite3_bind_text(st, 1, akid, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 2, sk, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 3, id, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 4, arn, -1, SQLITE_TRANSIENT);
			sqlite3_bind_double(st, 5, clock_now());
			if (sqlite3_step(st) != SQLITE_DONE)
				return store_fail(s, err);
		}
		json_t *iam = json_object_get(a, "iam");
		if (iam && iam_fixture_load(s, id, iam, err) < 0)
			return -1;
	}
	return 0;
}

static int load_lambdas(struct store *s, const struct fixture_defaults *d, json_t *arr, struct emu_err *err)
{
	static const char *const keys[] = {"arn", "account", "region", "command", "env", "timeout", NULL};
	size_t i;
	json_t *l;
	if (!json_is_array(arr))
		return emu_err_set(err, ERR_VALIDATION, "fixture lambdas: must be a list");
	json_array_foreach(arr, i, l) {
		if (!json_is_object(l) || check_keys(l, "lambda", keys, err) < 0)
			return err->code ? -1 : emu_err_set(err, ERR_VALIDATION, "fixture lambdas[%zu]: must be an object", i);
		const char *arn = str_or(l, "arn", NULL);
		if (!arn || !util_has_prefix(arn, "arn:aws:lambda:"))
			return emu_err_set(err, ERR_VALIDATION, "fixture lambdas[%zu]: arn must be a Lambda function ARN", i);
		json_t *cmd = json_object_get(l, "command");
		if (!json_is_array(cmd) || json_array_size(cmd) == 0)
			return emu_err_set(err, ERR_VALIDATION, "fixture lambdas[%zu]: command must be a non-empty list", i);
		json_t *t = json_object_get(l, "timeout");
		int timeout = json_is_integer(t) ? (int)json_integer_value(t) : 30;
		if (secrets_lambda_register(s, str_or(l, "account", d->account), str_or(l, "region", d->region), arn, cmd,
		                            json_object_get(l, "env"), timeout, err) < 0)
			return -1;
	}
	return 0;
}

static int load_secrets(struct store *s, const struct fixture_defaults *d, json_t *arr, struct emu_err *err)
{
	size_t i;
	json_t *e;
	if (!json_is_array(arr))
		return emu_err_set(err, ERR_VALIDATION, "fixture secrets: must be a list");
	json_array_foreach(arr, i, e) {
		if (!json_is_object(e))
			return emu_err_set(err, ERR_VALIDATION, "fixture secrets[%zu]: must be an object", i);
		const char *account = str_or(e, "account", d->account), *region = str_or(e, "region", d->region);
		if (!is_account(account))
			return emu_err_set(err, ERR_VALIDATION, "fixture secrets[%zu]: account must be 12 digits", i);
		json_t *req = json_deep_copy(e);
		json_object_del(req, "account");
		json_object_del(req, "region");
		json_t *policy = json_incref(json_object_get(req, "ResourcePolicy"));
		json_t *rot = json_incref(json_object_get(req, "Rotation"));
		json_object_del(req, "ResourcePolicy");
		json_object_del(req, "Rotation");
		char rid[37];
		util_uuid(rid);
		char arn[128];
		snprintf(arn, sizeof arn, "arn:aws:iam::%s:root", account);
		struct emu_call call = {.store = s, .account = account, .region = region, .principal_arn = arn,
		                        .user_id = account, .access_key_id = "fixture", .request_id = rid,
		                        .now = clock_now()};
		json_t *out = NULL;
		int rc = model_validate(&model_sm, "CreateSecret", req, err);
		if (rc == 0)
			rc = sm_create_secret(&call, req, &out, err);
		if (rc < 0 && err->code == ERR_SM_RESOURCE_EXISTS) {
			/* Loaded before (persistent state): fixtures create what is
			 * missing and leave existing secrets as they are. */
			emu_err_clear(err);
			json_decref(policy);
			json_decref(rot);
			json_decref(req);
			continue;
		}
		const char *sarn = rc == 0 ? str_or(out, "ARN", NULL) : NULL;
		if (rc == 0 && policy) {
			json_t *pr = json_object();
			json_object_set_new(pr, "SecretId", json_string(sarn));
			json_t *pv;
			if (json_is_string(policy)) {
				pv = json_incref(policy);
			} else {
				char *dump = json_dumps(policy, JSON_COMPACT);
				pv = json_string(dump ? dump : "");
				free(dump);
			}
			json_object_set_new(pr, "ResourcePolicy", pv);
			rc = model_validate(&model_sm, "PutResourcePolicy", pr, err);
			json_t *o2 = NULL;
			if (rc == 0)
				rc = sm_put_resource_policy(&call, pr, &o2, err);
			json_decref(o2);
			json_decref(pr);
		}
		if (rc == 0 && rot) {
			json_t *rr = json_is_object(rot) ? json_deep_copy(rot) : json_object();
			json_object_set_new(rr, "SecretId", json_string(sarn));
			if (!json_object_get(rr, "RotateImmediately"))
				json_object_set_new(rr, "RotateImmediately", json_false());
			rc = model_validate(&model_sm, "RotateSecret", rr, err);
			json_t *o2 = NULL;
			if (rc == 0)
				rc = sm_rotate_secret(&call, rr, &o2, err);
			json_decref(o2);
			json_decref(rr);
		}
		json_decref(out);
		json_decref(policy);
		json_decref(rot);
		json_decref(req);
		if (rc < 0) {
			char prefix[64];
			snprintf(prefix, sizeof prefix, "fixture secrets[%zu]: ", i);
			size_t pl = strlen(prefix), ml = strlen(err->msg);
			if (pl + ml < sizeof err->msg) {
				memmove(err->msg + pl, err->msg, ml + 1);
				memcpy(err->msg, prefix, pl);
			}
			return -1;
		}
	}
	return 0;
}

/* ---- rds: clusters, instances, proxies (through the RDS domain) ---------------------- */

static int rds_fail(struct emu_err *err, const char *what, size_t i)
{
	char prefix[64];
	snprintf(prefix, sizeof prefix, "fixture rds.%s[%zu]: ", what, i);
	size_t pl = strlen(prefix), ml = strlen(err->msg);
	if (pl + ml < sizeof err->msg) {
		memmove(err->msg + pl, err->msg, ml + 1);
		memcpy(err->msg, prefix, pl);
	}
	return -1;
}

typedef int (*rds_fn)(struct emu_call *, json_t *, json_t **, struct emu_err *);

/* Validates req against the model's input of op and runs fn. */
static int rds_run(struct emu_call *call, const char *op, rds_fn fn, json_t *req, json_t **out, struct emu_err *err)
{
	*out = NULL;
	int rc = model_validate(&model_rds, op, req, err);
	return rc < 0 ? -1 : fn(call, req, out, err);
}

/* A proxy Auth entry may name its secret by name: the fixture cannot know
 * the ARN's random suffix. */
static int resolve_auth_secrets(struct emu_call *call, json_t *auth, struct emu_err *err)
{
	size_t i;
	json_t *a;
	json_array_foreach(auth, i, a) {
		const char *sid = str_or(a, "SecretArn", NULL);
		if (!sid || util_has_prefix(sid, "arn:"))
			continue;
		json_t *in = json_pack("{s:s}", "SecretId", sid), *out = NULL;
		int rc = sm_describe_secret(call, in, &out, err);
		json_decref(in);
		if (rc == 0)
			json_object_set_new(a, "SecretArn", json_string(str_or(out, "ARN", sid)));
		json_decref(out);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int load_rds(struct store *s, const struct fixture_defaults *d, json_t *rds, struct emu_err *err)
{
	static const char *const keys[] = {"clusters", "instances", "proxies", NULL};
	if (!json_is_object(rds))
		return emu_err_set(err, ERR_VALIDATION, "fixture rds: must be an object");
	if (check_keys(rds, "rds", keys, err) < 0)
		return -1;
	char rid[37], arn[128];
	util_uuid(rid);
	snprintf(arn, sizeof arn, "arn:aws:iam::%s:root", d->account);
	struct emu_call call = {.store = s, .account = d->account, .region = d->region, .principal_arn = arn,
	                        .user_id = d->account, .access_key_id = "fixture", .request_id = rid,
	                        .now = clock_now()};
	size_t i;
	json_t *e, *out;
	json_array_foreach(json_object_get(rds, "clusters"), i, e) {
		int rc = rds_run(&call, "CreateDBCluster", rds_create_db_cluster, e, &out, err);
		json_decref(out);
		if (rc < 0 && err->code == ERR_RDS_DB_CLUSTER_EXISTS)
			emu_err_clear(err);
		else if (rc < 0)
			return rds_fail(err, "clusters", i);
	}
	json_array_foreach(json_object_get(rds, "instances"), i, e) {
		out = NULL;
		json_t *req = json_deep_copy(e);
		json_t *init = json_incref(json_object_get(req, "InitSQL"));
		json_object_del(req, "InitSQL");
		int rc = init && !json_is_array(init) ? emu_err_set(err, ERR_VALIDATION, "InitSQL must be a list of strings")
		                                      : rds_run(&call, "CreateDBInstance", rds_create_db_instance, req, &out, err);
		const char *id = str_or(json_object_get(out, "DBInstance"), "DBInstanceIdentifier", NULL);
		if (rc == 0 && init && id)
			rc = rds_instance_set_init_sql(s, d->account, d->region, id, init, err);
		json_decref(out);
		json_decref(init);
		json_decref(req);
		if (rc < 0 && err->code == ERR_RDS_DB_INSTANCE_EXISTS)
			emu_err_clear(err);
		else if (rc < 0)
			return rds_fail(err, "instances", i);
	}
	json_array_foreach(json_object_get(rds, "proxies"), i, e) {
		out = NULL;
		json_t *req = json_deep_copy(e);
		json_t *targets = json_incref(json_object_get(req, "Targets"));
		json_t *endpoints = json_incref(json_object_get(req, "Endpoints"));
		json_object_del(req, "Targets");
		json_object_del(req, "Endpoints");
		int rc = resolve_auth_secrets(&call, json_object_get(req, "Auth"), err);
		if (rc == 0)
			rc = rds_run(&call, "CreateDBProxy", rds_create_db_proxy, req, &out, err);
		json_decref(out);
		const char *name = str_or(req, "DBProxyName", "");
		if (rc == 0 && json_is_object(targets)) {
			json_t *t = json_deep_copy(targets);
			json_object_set_new(t, "DBProxyName", json_string(name));
			rc = rds_run(&call, "RegisterDBProxyTargets", rds_register_db_proxy_targets, t, &out, err);
			json_decref(out);
			json_decref(t);
		}
		size_t j;
		json_t *ep;
		json_array_foreach(endpoints, j, ep) {
			if (rc < 0)
				break;
			json_t *t = json_deep_copy(ep);
			json_object_set_new(t, "DBProxyName", json_string(name));
			rc = rds_run(&call, "CreateDBProxyEndpoint", rds_create_db_proxy_endpoint, t, &out, err);
			json_decref(out);
			json_decref(t);
		}
		json_decref(targets);
		json_decref(endpoints);
		json_decref(req);
		if (rc < 0 && err->code == ERR_RDS_DB_PROXY_EXISTS)
			emu_err_clear(err);
		else if (rc < 0)
			return rds_fail(err, "proxies", i);
	}
	return 0;
}

int fixtures_load_doc(struct store *s, const struct fixture_defaults *d, json_t *doc, struct emu_err *err)
{
	static const char *const top[] = {"accounts", "iam", "lambdas", "secrets", "rds", "connect", "description",
	                                  "$schema", NULL};
	if (!json_is_object(doc))
		return emu_err_set(err, ERR_VALIDATION, "fixture: the document must be a JSON object");
	if (check_keys(doc, "document", top, err) < 0)
		return -1;
	if (store_begin(s) < 0)
		return emu_err_set(err, ERR_INTERNAL, NULL);
	json_t *v;
	int rc = 0;
	if ((v = json_object_get(doc, "accounts")))
		rc = load_accounts(s, v, err);
	if (rc == 0 && (v = json_object_get(doc, "iam")))
		rc = iam_fixture_load(s, d->account, v, err);
	if (rc == 0 && (v = json_object_get(doc, "lambdas")))
		rc = load_lambdas(s, d, v, err);
	if (rc == 0 && (v = json_object_get(doc, "secrets")))
		rc = load_secrets(s, d, v, err);
	if (rc == 0 && (v = json_object_get(doc, "rds")))
		rc = load_rds(s, d, v, err);
	if (rc < 0) {
		store_rollback(s);
		return -1;
	}
	if (store_commit(s) < 0)
		return emu_err_set(err, ERR_INTERNAL, NULL);
	size_t i;
	json_t *line;
	json_array_foreach(json_object_get(doc, "connect"), i, line) {
		bool seen = false;
		size_t j;
		json_t *have;
		json_array_foreach(fixtures_connect_notes(), j, have) seen = seen || json_equal(have, line);
		if (json_is_string(line) && !seen)
			json_array_append(fixtures_connect_notes(), line);
	}
	return 0;
}

json_t *fixtures_connect_notes(void)
{
	static json_t *notes;
	if (!notes)
		notes = json_array();
	return notes;
}

int fixtures_load_file(struct store *s, const struct fixture_defaults *d, const char *path, struct emu_err *err)
{
	json_error_t je;
	json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!doc)
		return emu_err_set(err, ERR_VALIDATION, "fixture %s: %s (line %d, column %d)", path, je.text, je.line,
		                   je.column);
	int rc = fixtures_load_doc(s, d, doc, err);
	json_decref(doc);
	if (rc < 0) {
		char msg[EMU_ERR_MSG_MAX];
		memcpy(msg, err->msg, sizeof msg);
		msg[sizeof msg - 1] = '\0';
		int n = snprintf(err->msg, sizeof err->msg, "%.200s: ", path);
		if (n > 0 && (size_t)n < sizeof err->msg)
			snprintf(err->msg + n, sizeof err->msg - (size_t)n, "%.800s", msg);
	}
	return rc;
}
