/*
 * auth.c owns authentication of API requests: access-key lookup in the
 * store, the auth modes, session-token and expiry checks, and a small cache
 * of derived SigV4 signing keys.  It calls sigv4 (pure) and the store.
 * Invariant: a cache entry is used only when access key, scope and the
 * secret's digest all match, so a changed or deleted key never verifies.
 */
#include "api/auth.h"

#include "emu/clock.h"
#include "emu/log.h"
#include "emu/store.h"
#include "emu/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#define KEY_CACHE 128

struct key_entry {
	bool used;
	char tag[320];        /* akid/date/region/service */
	unsigned char secret_md[32];
	unsigned char key[32];
};

static struct key_entry cache[KEY_CACHE];

void auth_cache_clear(void) { OPENSSL_cleanse(cache, sizeof cache); }

static uint32_t fnv(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static void signing_key(const char *secret, const struct sigv4_auth *a, unsigned char out[32])
{
	char tag[320];
	unsigned char md[32];
	unsigned int mdlen = 0;
	snprintf(tag, sizeof tag, "%s/%s/%s/%s", a->access_key_id, a->date, a->region, a->service);
	EVP_Digest(secret, strlen(secret), md, &mdlen, EVP_sha256(), NULL);
	struct key_entry *e = &cache[fnv(tag) % KEY_CACHE];
	if (e->used && strcmp(e->tag, tag) == 0 && CRYPTO_memcmp(e->secret_md, md, 32) == 0) {
		memcpy(out, e->key, 32);
		return;
	}
	sigv4_signing_key(secret, a->date, a->region, a->service, out);
	e->used = true;
	snprintf(e->tag, sizeof e->tag, "%s", tag);
	memcpy(e->secret_md, md, 32);
	memcpy(e->key, out, 32);
}

static void fill_admin(struct auth_principal *p, const char *account)
{
	snprintf(p->account, sizeof p->account, "%.12s", account);
	snprintf(p->arn, sizeof p->arn, "arn:aws:iam::%s:root", account);
	snprintf(p->user_id, sizeof p->user_id, "%s", account);
	p->builtin_admin = true;
}

static bool all_digits12(const char *s)
{
	if (strlen(s) != 12)
		return false;
	for (int i = 0; i < 12; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

int auth_request(struct store *s, const struct emu_config *cfg, const struct sigv4_request *req, int window_s,
                 const char *expect_service, struct auth_principal *out, struct emu_err *err)
{
	struct sigv4_auth a;
	memset(&a, 0, sizeof a);
	memset(out, 0, sizeof *out);
	if (sigv4_parse(req, &a, err) < 0)
		return -1;
	int rc = -1;
	snprintf(out->access_key_id, sizeof out->access_key_id, "%s", a.access_key_id);
	snprintf(out->region, sizeof out->region, "%s", a.region);
	snprintf(out->service, sizeof out->service, "%s", a.service);

	sqlite3_stmt *st = store_prep(s, "SELECT secret_access_key, account, principal_arn, user_id, session_token,"
	                                 " expires, status FROM access_keys WHERE access_key_id = ?1");
	if (!st) {
		emu_err_set(err, ERR_INTERNAL, NULL);
		goto out;
	}
	sqlite3_bind_text(st, 1, a.access_key_id, -1, SQLITE_STATIC);
	int step = sqlite3_step(st);
	if (step != SQLITE_ROW) {
		sqlite3_reset(st);
		if (step != SQLITE_DONE) {
			emu_err_set(err, ERR_INTERNAL, NULL);
			goto out;
		}
		if (cfg->auth != AUTH_PERMISSIVE) {
			emu_err_set(err, ERR_UNRECOGNIZED_CLIENT, NULL);
			goto out;
		}
		/* Permissive: any key is the admin of the default account, or of the
		 * account it names when it is 12 digits (LocalStack's convention). */
		if (sigv4_check_time(&a, clock_wall(), window_s, err) < 0)
			goto out;
		fill_admin(out, all_digits12(a.access_key_id) ? a.access_key_id : cfg->account_id);
		rc = 0;
		goto out;
	}
	char secret[256];
	snprintf(secret, sizeof secret, "%s", (const char *)sqlite3_column_text(st, 0));
	snprintf(out->account, sizeof out->account, "%.12s", (const char *)sqlite3_column_text(st, 1));
	snprintf(out->arn, sizeof out->arn, "%s", (const char *)sqlite3_column_text(st, 2));
	snprintf(out->user_id, sizeof out->user_id, "%s", (const char *)sqlite3_column_text(st, 3));
	const char *tok = store_col_text(st, 4);
	char *session = tok ? util_strdup(tok) : NULL;
	double expires = sqlite3_column_type(st, 5) == SQLITE_NULL ? 0 : sqlite3_column_double(st, 5);
	bool active = strcmp((const char *)sqlite3_column_text(st, 6), "Active") == 0;
	sqlite3_reset(st);
	out->builtin_admin = util_has_suffix(out->arn, ":root");

	if (!active) {
		emu_err_set(err, ERR_UNRECOGNIZED_CLIENT, NULL);
	} else if (sigv4_check_time(&a, clock_wall(), window_s, err) < 0) {
		/* err set */
	} else if (expect_service && strcmp(a.service, expect_service) != 0) {
		emu_err_set(err, ERR_INVALID_SIGNATURE, "Credential should be scoped to correct service: '%s'. ",
		            expect_service);
	} else if (session && (!a.security_token || !util_streq_ct(a.security_token, session))) {
		emu_err_set(err, ERR_UNRECOGNIZED_CLIENT, NULL);
	} else if (session && expires > 0 && clock_now() >= expires) {
		emu_err_set(err, ERR_EXPIRED_TOKEN, NULL);
	} else {
		unsigned char key[32];
		signing_key(secret, &a, key);
		rc = sigv4_verify(req, &a, key, err);
		OPENSSL_cleanse(key, sizeof key);
	}
	OPENSSL_cleanse(secret, sizeof secret);
	if (session) {
		OPENSSL_cleanse(session, strlen(session));
		free(session);
	}
out:
	sigv4_auth_free(&a);
	return rc;
}

int auth_seed_builtin(struct store *s, const struct emu_config *cfg, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "INSERT OR IGNORE INTO accounts(id, alias, created) VALUES (?1, 'default', ?2)");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, NULL);
	sqlite3_bind_text(st, 1, cfg->account_id, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, clock_now());
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_fail(s, err);
	st = store_prep(s, "INSERT OR IGNORE INTO access_keys(access_key_id, secret_access_key, account, principal_arn,"
	                   " user_id, status, created) VALUES ('test', 'test', ?1, ?2, ?1, 'Active', ?3)");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, NULL);
	char arn[64];
	snprintf(arn, sizeof arn, "arn:aws:iam::%s:root", cfg->account_id);
	sqlite3_bind_text(st, 1, cfg->account_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, arn, -1, SQLITE_TRANSIENT);
	sqlite3_bind_double(st, 3, clock_now());
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_fail(s, err);
	return 0;
}
