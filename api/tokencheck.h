/*
 * RDS IAM auth tokens against the store: key lookup (including temporary
 * keys and permissive mode), the pure verifier (wire/token.c), then
 * rds-db:connect on arn:aws:rds-db:REGION:ACCOUNT:dbuser:RESOURCE-ID/USER.
 * Used by the admin explain endpoint now and by the database front-ends.
 */
#ifndef API_TOKENCHECK_H
#define API_TOKENCHECK_H

#include "emu/config.h"
#include "emu/err.h"

#include <jansson.h>

struct store;

/* Body: {"token", "user", "region"?, "hosts"?: [..], "port"?, "resource_id"?}.
 * Answers {"accepted", "reason", "checks": [{check, passed, detail}],
 * "principal", "resource", "authorization": {...}} — every check is run and
 * explained, the token itself never echoed. */
int tokencheck_explain(struct store *s, const struct emu_config *cfg, json_t *req, json_t **out, struct emu_err *err);

/* A database login with a token (the proxy and instance front-ends): the
 * whole verification of wire/token.c, then rds-db:connect on
 * arn:aws:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID/USER.  0 accepted;
 * -1 with err (the reason, never the token) otherwise.  principal gets the
 * caller's ARN when the key was found (for the audit trail). */
struct tokencheck_login_req {
	const char *token;
	size_t token_len;
	const char *user, *region, *resource_id;
	const char *const *hosts; /* endpoint names the token may be made for */
	size_t n_hosts;
	int port;
};
int tokencheck_login(struct store *s, const struct emu_config *cfg, const struct tokencheck_login_req *q,
                     char *principal, size_t principal_cap, struct emu_err *err);

#endif
