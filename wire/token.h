/*
 * RDS IAM database authentication tokens (aws-behaviour.md section 2), pure:
 * recognising a password as a token, verifying it check by check against
 * what the endpoint expects (the caller supplies the key lookup), the
 * rds-db:connect resource ARN the caller then authorises, and generating
 * tokens exactly as botocore does (for `rdsemu token` and tests).
 * No I/O, no store, no state between calls, no allocation but one digest
 * context per verification.
 *
 * Choices where AWS does not say (each is also in token.c's opening comment):
 * - Tokens longer than TOKEN_MAX_LEN bytes are refused unread.
 * - X-Amz-Expires above 900 is refused, not capped: clients that asked for
 *   longer tokens report "PAM authentication failed" (aws-sdk-go#3903,
 *   aws-sdk-java#2617).  Below 900 it is honoured; absent means 900.
 * - X-Amz-Date may be up to future_skew_s ahead of now (TOKEN_FUTURE_SKEW).
 * - Host: the token's host must be one of ex->hosts, compared without case;
 *   an entry "name:port" fixes the port, an entry "name" takes ex->port
 *   (0 = any).  A token without a port is matched on the name alone.
 */
#ifndef WIRE_TOKEN_H
#define WIRE_TOKEN_H

#include "emu/buf.h"
#include "emu/err.h"

#include <stdbool.h>
#include <stddef.h>

#define TOKEN_MAX_LEN 32768         /* bytes of a whole token; real ones are 0.5-3 KB */
#define TOKEN_MAX_PARAMS 32         /* query parameters (a token has 8 or 9) */
#define TOKEN_MAX_USER 256          /* bytes of the decoded DBUser */
#define TOKEN_MAX_HOST 255          /* bytes of the host[:port] prefix */
#define TOKEN_LIFETIME 900          /* seconds a token is valid; larger X-Amz-Expires is refused */
#define TOKEN_FUTURE_SKEW 300       /* what rdsemu passes as future_skew_s */
#define TOKEN_DETAIL_MAX 256

/* What the caller's key lookup returns (zeroed by the verifier before the
 * call and wiped after it). */
struct token_key {
	bool found;                     /* false: the access key id is unknown */
	bool active;                    /* false: the key exists but is disabled */
	bool skip_signature;            /* permissive mode: secret unknown, accept unsigned */
	char secret[128];               /* secret access key, NUL-terminated */
	char account[13];
	char principal_arn[512];
	const char *session_token;      /* temporary key: the session token issued with it (NULL =
	                                 * long-term key); kept alive by the caller until
	                                 * token_verify returns */
	double expires;                 /* temporary key: expiry (epoch seconds); 0 = none */
};

/* Called once with the access key id from the credential scope.  Returns 0
 * (found or not: out->found), or -1 when the lookup itself failed. */
typedef int (*token_key_lookup)(void *ud, const char *access_key_id, struct token_key *out);

/* What the endpoint expects.  A NULL db_user/region or n_hosts == 0 skips
 * that check (recorded as "not checked"); the wire front-ends pass all. */
struct token_expect {
	const char *db_user;            /* login user name (exact, case-sensitive) */
	const char *region;             /* the DB's or proxy's region */
	const char *const *hosts;       /* allowed endpoint names, "host" or "host:port" ([v6]:port) */
	size_t n_hosts;
	int port;                       /* endpoint port for entries without one; 0 = any */
	double now;                     /* wall clock, epoch seconds */
	int future_skew_s;              /* allowed X-Amz-Date ahead of now (negative = 0) */
	bool explain;                   /* run every check that can run after a failure, and write
	                                 * details for passed checks too (admin endpoint) */
};

/* The checks, in the order they run. */
enum token_check {
	TOKEN_CHK_NONE = -1,            /* token_result.failed when accepted */
	TOKEN_CHK_SHAPE,                /* size, host/query split, escapes, duplicates, required params */
	TOKEN_CHK_ACTION,               /* Action=connect */
	TOKEN_CHK_DBUSER,               /* DBUser equals the login user */
	TOKEN_CHK_ALGORITHM,            /* AWS4-HMAC-SHA256, SignedHeaders=host */
	TOKEN_CHK_SCOPE,                /* credential form, terminator, date = X-Amz-Date's */
	TOKEN_CHK_SERVICE,              /* rds-db */
	TOKEN_CHK_REGION,               /* the endpoint's region */
	TOKEN_CHK_TIME,                 /* X-Amz-Date and X-Amz-Expires against now */
	TOKEN_CHK_HOST,                 /* host and port are this endpoint's */
	TOKEN_CHK_KEY,                  /* access key known and active */
	TOKEN_CHK_SESSION,              /* session token present, equal, credentials not expired */
	TOKEN_CHK_SIGNATURE,            /* recomputed signature, constant-time compare */
	TOKEN_CHK__COUNT
};

struct token_step {
	enum token_check check;
	bool passed;
	char detail[TOKEN_DETAIL_MAX];  /* printable ASCII; never a secret, signature or token */
};

/* Check by check, for the wire front-ends, the explain endpoint and the
 * audit trail.  Every string is NUL-terminated whatever the input. */
struct token_result {
	bool ok;
	enum token_check failed;        /* first failed check, TOKEN_CHK_NONE when ok */
	char reason[TOKEN_DETAIL_MAX];  /* the first failed check's detail */
	char fingerprint[13];           /* log_fingerprint of the whole token */
	char access_key_id[129];
	char account[13];               /* from the key lookup */
	char principal_arn[512];        /* from the key lookup */
	bool temporary;                 /* the key has a session token */
	char region[64];                /* from the credential scope */
	char db_user[TOKEN_MAX_USER + 1]; /* decoded DBUser: the USER of the rds-db resource ARN */
	char host[TOKEN_MAX_HOST + 1];  /* host[:port] prefix as sent */
	int port;                       /* -1 when the token has none */
	char amz_date[17];
	double expires_at;              /* X-Amz-Date + lifetime (0 if unknown) */
	struct token_step steps[TOKEN_CHK__COUNT];
	size_t nsteps;
};

/* Section 2.3 step 1: the password contains "Action=connect" and
 * "X-Amz-Signature=".  A password that is not a token is a password. */
bool token_looks_like(const char *password, size_t len);

/* Verifies token[0..len) (need not be NUL-terminated).  0 = accepted, -1 =
 * rejected (out->failed, out->reason).  Authorisation (rds-db:connect on
 * token_resource_arn) is the caller's next step. */
int token_verify(const char *token, size_t len, const struct token_expect *ex, token_key_lookup lookup, void *ud,
                 struct token_result *out);

/* "shape", "action", ... (for JSON and logs). */
const char *token_check_name(enum token_check c);

/* arn:<partition>:rds-db:REGION:ACCOUNT:dbuser:RESOURCE-ID/USER, the
 * partition from the region (cn-* aws-cn, us-gov-* aws-us-gov, ...).
 * 0, or -1 if an argument is NULL or the ARN does not fit in cap. */
int token_resource_arn(const char *region, const char *account, const char *resource_id, const char *user,
                       char *out, size_t cap);

/* The token botocore's generate_db_auth_token makes for the same inputs,
 * byte for byte (URL host as given, signed host in lower case without
 * ":443"), with X-Amz-Expires = expires_s (botocore: 900) and X-Amz-Date
 * = now.  Appends it to out.  ERR_VALIDATION on bad input. */
int token_generate(const char *host, int port, const char *user, const char *region, const char *akid,
                   const char *secret, const char *session_token, double now, int expires_s, struct buf *out,
                   struct emu_err *err);

#endif
