/*
 * Who is calling: turns a SigV4-signed request into a principal, or the
 * exact AWS error.  Owns the signing-key cache.
 */
#ifndef API_AUTH_H
#define API_AUTH_H

#include "api/sigv4.h"
#include "emu/config.h"
#include "emu/err.h"

struct store;

struct auth_principal {
	char account[13];
	char arn[512];
	char user_id[256];
	char access_key_id[129];
	char region[64];
	char service[64];
	bool builtin_admin; /* the built-in test/test key or a permissive-mode caller */
};

/* Verifies the request.  window_s: 300 for JSON APIs, 900 for Query APIs.
 * expect_service: the signing name the endpoint requires (NULL = any). */
int auth_request(struct store *s, const struct emu_config *cfg, const struct sigv4_request *req, int window_s,
                 const char *expect_service, struct auth_principal *out, struct emu_err *err);
/* Drops cached signing keys (after reset or key changes). */
void auth_cache_clear(void);
/* Seeds the built-in admin key of the default account (idempotent). */
int auth_seed_builtin(struct store *s, const struct emu_config *cfg, struct emu_err *err);

#endif
