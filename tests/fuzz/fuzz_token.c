/*
 * Fuzz harness for wire/token: the input is a password as a client would
 * send it, verified three ways: against fixed expectations (the test
 * vectors' TOKEN1 endpoint, user and time) with a long-term key, in
 * explain mode with no expectations and a temporary key (so valid seeds
 * reach every check and the signature), and at a far-off time.  Then
 * token_looks_like, the resource ARN from what was parsed, and
 * token_generate from it.  It must never crash, leak or read out of bounds;
 * the verifier must never accept a token the key's secret did not sign.
 * scripts/gen_token_vectors.py writes the seed corpus fixtures/fuzz/token/.
 */
#include "wire/token.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define SESSION "IQoJb3JpZ2luX2VjEXAMPLE/TOKEN+WITH=special/chars"
#define T0 1704067200.0

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int lookup(void *ud, const char *akid, struct token_key *out)
{
	int mode = *(const int *)ud;
	if (strncmp(akid, "AKIAIOSFODNN7EXAMPLE", 21) != 0 && strncmp(akid, "ASIAIOSFODNN7EXAMPLE", 21) != 0)
		return mode == 2 ? -1 : 0;
	out->found = true;
	out->active = true;
	strcpy(out->secret, SECRET);
	strcpy(out->account, "123456789012");
	strcpy(out->principal_arn, "arn:aws:iam::123456789012:user/fuzz");
	if (mode == 1) {
		out->session_token = SESSION;
		out->expires = T0 + 3600;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes, so ASan sees any read past the end. */
	char *tok = malloc(size ? size : 1);
	if (!tok)
		return 0;
	memcpy(tok, data, size);
	static const char *const hosts[] = {"mydb.c0abcdefghij.us-east-1.rds.amazonaws.com", "localhost:443",
	                                    "[::1]", "127.0.0.1:3306"};
	struct token_expect ex = {.db_user = "jane_doe", .region = "us-east-1", .hosts = hosts, .n_hosts = 4,
	                          .port = 5432, .now = T0, .future_skew_s = TOKEN_FUTURE_SKEW};
	struct token_result r;
	int mode = 0;
	(void)token_looks_like(tok, size);
	(void)token_verify(tok, size, &ex, lookup, &mode, &r);

	mode = 1;
	struct token_expect any = {.now = T0 + 10, .future_skew_s = TOKEN_FUTURE_SKEW, .explain = true};
	if (token_verify(tok, size, &any, lookup, &mode, &r) == 0) {
		char arn[1024];
		(void)token_resource_arn(r.region, r.account, "db-ABCDEFGHIJKL01234", r.db_user, arn, sizeof arn);
		struct buf b;
		struct emu_err e;
		buf_init(&b, 0);
		char host[TOKEN_MAX_HOST + 1];
		memcpy(host, r.host, sizeof host);
		char *colon = r.port > 0 ? strrchr(host, ':') : NULL;
		if (colon)
			*colon = '\0';
		if (token_generate(host, r.port > 0 ? r.port : 443, r.db_user, r.region, r.access_key_id, SECRET, SESSION,
		                   T0, 900, &b, &e) == 0) {
			/* A generated token verifies. */
			struct token_expect gx = {.db_user = r.db_user, .region = r.region, .now = T0,
			                          .future_skew_s = 0};
			struct token_result g;
			if (token_verify(b.data, b.len, &gx, lookup, &mode, &g) != 0 &&
			    strncmp(r.access_key_id, "AKIAIOSFODNN7EXAMPLE", 21) == 0 && r.region[0] && !strchr(r.region, '/'))
				abort();
		}
		buf_free(&b);
	}
	mode = 2;
	any.now = 1e12;
	(void)token_verify(tok, size, &any, lookup, &mode, &r);
	free(tok);
	return 0;
}
