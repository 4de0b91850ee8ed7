/*
 * tokencheck.c owns the store side of RDS IAM token verification: the key
 * lookup callback (access_keys, session tokens, expiry, permissive mode)
 * and the rds-db:connect decision through authz.  Pure checks are
 * wire/token.c's.  Never logs or returns the token or any secret.
 */
#include "api/tokencheck.h"

#include "api/authz.h"
#include "emu/call.h"
#include "emu/clock.h"
#include "emu/store.h"
#include "emu/util.h"
#include "wire/token.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

struct lookup_ctx {
	struct store *store;
	const struct emu_config *cfg;
	char user_id[256];
	char session[4096];
};

static int lookup(void *ud, const char *akid, struct token_key *out)
{
	struct lookup_ctx *lc = ud;
	memset(out, 0, sizeof *out);
	sqlite3_stmt *st = store_prep(lc->store, "SELECT secret_access_key, account, principal_arn, user_id, session_token,"
	                                         " expires, status FROM access_keys WHERE access_key_id = ?1");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, akid, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		out->found = true;
		snprintf(out->secret, sizeof out->secret, "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(out->account, sizeof out->account, "%.12s", (const char *)sqlite3_column_text(st, 1));
		snprintf(out->principal_arn, sizeof out->principal_arn, "%s", (const char *)sqlite3_column_text(st, 2));
		snprintf(lc->user_id, sizeof lc->user_id, "%s", (const char *)sqlite3_column_text(st, 3));
		const char *tok = store_col_text(st, 4);
		if (tok) {
			snprintf(lc->session, sizeof lc->session, "%s", tok);
			out->session_token = lc->session;
			/* Sessions expire on the domain clock (as for API calls, so
			 * tests can move it); the verifier compares on the wall clock
			 * that the token's own window needs, so shift the expiry. */
			out->expires = sqlite3_column_double(st, 5) - clock_offset();
		}
		out->active = strcmp((const char *)sqlite3_column_text(st, 6), "Active") == 0;
	} else if (lc->cfg->auth == AUTH_PERMISSIVE) {
		/* As for API calls: an unknown key is the default account's root. */
		out->found = out->active = out->skip_signature = true;
		snprintf(out->account, sizeof out->account, "%s", lc->cfg->account_id);
		snprintf(out->principal_arn, sizeof out->principal_arn, "arn:aws:iam::%s:root", lc->cfg->account_id);
		snprintf(lc->user_id, sizeof lc->user_id, "%s", lc->cfg->account_id);
	}
	sqlite3_reset(st);
	return 0;
}

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

int tokencheck_explain(struct store *s, const struct emu_config *cfg, json_t *req, json_t **out, struct emu_err *err)
{
	const char *token = jstr(req, "token"), *user = jstr(req, "user"), *region = jstr(req, "region");
	const char *resource_id = jstr(req, "resource_id");
	if (!token || !user)
		return emu_err_set(err, ERR_VALIDATION, "give \"token\" and \"user\" (the database login user)");
	const char *hosts[16];
	size_t nhosts = 0;
	json_t *jh = json_object_get(req, "hosts"), *e;
	size_t i;
	json_array_foreach(jh, i, e) if (json_is_string(e) && nhosts < 16) hosts[nhosts++] = json_string_value(e);
	json_t *jp = json_object_get(req, "port");
	struct lookup_ctx lc = {.store = s, .cfg = cfg};
	struct token_expect ex = {
		.db_user = user,
		.region = region ? region : cfg->region,
		.hosts = hosts,
		.n_hosts = nhosts,
		.port = json_is_integer(jp) ? (int)json_integer_value(jp) : 0,
		.now = clock_wall(),
		.future_skew_s = TOKEN_FUTURE_SKEW,
		.explain = true,
	};
	struct token_result r;
	int rc = token_verify(token, strlen(token), &ex, lookup, &lc, &r);
	OPENSSL_cleanse(lc.session, sizeof lc.session);
	json_t *checks = json_array();
	for (size_t k = 0; k < r.nsteps; k++)
		json_array_append_new(checks, json_pack("{s:s,s:b,s:s}", "check", token_check_name(r.steps[k].check), "passed",
		                                        r.steps[k].passed, "detail", r.steps[k].detail));
	json_t *o = json_pack("{s:b,s:o,s:s}", "accepted", rc == 0, "checks", checks, "token_fingerprint", r.fingerprint);
	if (rc != 0)
		json_object_set_new(o, "reason", json_string(r.reason));
	if (r.principal_arn[0])
		json_object_set_new(o, "principal", json_string(r.principal_arn));
	if (rc == 0 && resource_id) {
		char arn[1024];
		token_resource_arn(ex.region, r.account, resource_id, r.db_user, arn, sizeof arn);
		json_object_set_new(o, "resource", json_string(arn));
		struct emu_call call = {.store = s, .account = r.account, .region = ex.region, .principal_arn = r.principal_arn,
		                        .user_id = lc.user_id, .access_key_id = r.access_key_id, .now = clock_now()};
		struct emu_err ae;
		emu_err_clear(&ae);
		int a = authz_check(&call, "rds-db:connect", arn, NULL, NULL, &ae);
		json_object_set_new(o, "authorization", json_pack("{s:s,s:s}", "decision", a == 0 ? "Allow" : "Deny",
		                                                  "message", a == 0 ? "rds-db:connect allowed" : ae.msg));
		if (a != 0)
			json_object_set_new(o, "accepted", json_false());
	} else if (rc == 0) {
		json_object_set_new(o, "authorization",
		                    json_pack("{s:s}", "note", "give resource_id (db-... or prx-...) to evaluate rds-db:connect"));
	}
	*out = o;
	return 0;
}

int tokencheck_login(struct store *s, const struct emu_config *cfg, const struct tokencheck_login_req *q,
                     char *principal, size_t principal_cap, struct emu_err *err)
{
	struct lookup_ctx lc = {.store = s, .cfg = cfg};
	struct token_expect ex = {
		.db_user = q->user,
		.region = q->region,
		.hosts = q->hosts,
		.n_hosts = q->n_hosts,
		.port = q->port,
		.now = clock_wall(),
		.future_skew_s = TOKEN_FUTURE_SKEW,
	};
	struct token_result r;
	int rc = token_verify(q->token, q->token_len, &ex, lookup, &lc, &r);
	OPENSSL_cleanse(lc.session, sizeof lc.session);
	if (principal)
		snprintf(principal, principal_cap, "%s", r.principal_arn);
	if (rc != 0)
		return emu_err_set(err, ERR_ACCESS_DENIED, "%s (token %s)", r.reason, r.fingerprint);
	char arn[1024];
	token_resource_arn(ex.region, r.account, q->resource_id, r.db_user, arn, sizeof arn);
	struct emu_call call = {.store = s, .account = r.account, .region = ex.region, .principal_arn = r.principal_arn,
	                        .user_id = lc.user_id, .access_key_id = r.access_key_id, .now = clock_now()};
	return authz_check(&call, "rds-db:connect", arn, NULL, NULL, err);
}
