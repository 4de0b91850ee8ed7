/*
 * AWS Signature Version 4 (AWS4-HMAC-SHA256), pure: parsing what a request
 * claims (Authorization header or presigned X-Amz-* query), the time
 * window, each signing stage on its own (canonical request, string to
 * sign, signing key, signature), verification, and presigning for clients
 * (RDS IAM auth tokens).  No I/O, no store, no state between calls.
 * Behaviour follows aws-behaviour.md sections 1.3-1.5 and 2; error texts
 * are AWS's own where they are known.
 */
#ifndef API_SIGV4_H
#define API_SIGV4_H

#include "emu/buf.h"
#include "emu/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Limits on untrusted input, checked before anything is copied. */
#define SIGV4_MAX_AUTH_HEADER 8192          /* bytes of the Authorization value */
#define SIGV4_MAX_SIGNED_HEADERS 64         /* names in SignedHeaders */
#define SIGV4_MAX_SIGNED_HEADERS_LEN 2048   /* bytes of the SignedHeaders value */
#define SIGV4_MAX_QUERY_PARAMS 256          /* key=value pairs in the query string */
#define SIGV4_MAX_SECURITY_TOKEN 16384      /* bytes of X-Amz-Security-Token (header or decoded query) */
#define SIGV4_MAX_CANONICAL (256 * 1024)    /* bytes of a canonical request */
#define SIGV4_MAX_PATH_SEGMENTS 256         /* segments of the request path */
#define SIGV4_MAX_EXPIRES 604800            /* X-Amz-Expires upper bound (7 days, as S3) */

struct sigv4_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

struct sigv4_request {
	const char *method;                     /* "POST" */
	const char *path;                       /* raw path as received (percent-encoded form), NULL/"" = "/" */
	const char *query;                      /* raw query string after '?', NULL or "" if none */
	const struct sigv4_header *headers;     /* as received; names any case; duplicates possible */
	size_t nheaders;
	const void *body;
	size_t body_len;
	/* Value of the signed `host` header when it does not come from a Host
	 * header (RDS IAM tokens: the host[:port] prefix of the token).  NULL =
	 * use the request's Host header(s). */
	const char *host;
};

/* What a request claims.  Filled by sigv4_parse; free with sigv4_auth_free. */
struct sigv4_auth {
	bool presigned;
	char access_key_id[129];
	char date[9];                           /* scope yyyymmdd */
	char region[64];
	char service[64];
	char amz_date[17];                      /* X-Amz-Date, or converted from the Date header */
	time_t request_time;
	long expires;                           /* X-Amz-Expires for presigned (when present), else -1 */
	char signature[65];                     /* "" when the claimed one is not 64 characters long */
	/* SignedHeaders exactly as sent (';'-separated, goes into the canonical
	 * request verbatim); names are matched to request headers ignoring case. */
	char signed_headers[SIGV4_MAX_SIGNED_HEADERS_LEN + 1];
	size_t signed_headers_len;
	unsigned short sh_off[SIGV4_MAX_SIGNED_HEADERS];
	unsigned short sh_len[SIGV4_MAX_SIGNED_HEADERS];
	size_t nsigned;
	char *security_token;                   /* malloc'd copy (decoded) or NULL */
};

/* Finds and parses the Authorization header or the presigned X-Amz-* query
 * parameters and checks their form, in AWS's order: malformed query
 * escapes; both or neither present; key=value form; missing parts (listing
 * every one); date format; `host` signed; algorithm; credential shape;
 * scope terminator and date.  Region and service are not judged here (see
 * sigv4_check_scope).  On failure *out needs no free. */
int sigv4_parse(const struct sigv4_request *req, struct sigv4_auth *out, struct emu_err *err);
void sigv4_auth_free(struct sigv4_auth *a);

/* Region and service of the credential scope against what the endpoint
 * expects (either may be NULL = any), with AWS's texts. */
int sigv4_check_scope(const struct sigv4_auth *a, const char *region, const char *service, struct emu_err *err);

/* Clock-skew window (window_s = 300 for JSON APIs, 900 for Query APIs) and,
 * for presigned requests with X-Amz-Expires, expiry.  ERR_INVALID_SIGNATURE
 * with "Signature expired: ..." / "Signature not yet current: ...". */
int sigv4_check_time(const struct sigv4_auth *a, double now, int window_s, struct emu_err *err);

/* kSigning = HMAC chain from the secret over date, region, service,
 * "aws4_request".  Callers cache it (it changes once a day per scope). */
void sigv4_signing_key(const char *secret, const char *date, const char *region, const char *service,
                       unsigned char out[32]);

/* Stages, each testable alone.  Both append to out and return 0, or -1 if
 * out failed (its limit, memory) or the request breaks a limit above. */
int sigv4_canonical_request(const struct sigv4_request *req, const struct sigv4_auth *a, struct buf *out);
int sigv4_string_to_sign(const struct sigv4_auth *a, const char *creq, size_t creq_len, struct buf *out);
/* hex(HMAC-SHA256(key, string to sign)), 64 characters + NUL. */
void sigv4_signature(const unsigned char key[32], const char *sts, size_t sts_len, char out[65]);

/* Recomputes the signature and compares it in constant time.
 * ERR_INVALID_SIGNATURE with the section 1.5 text on mismatch; also when an
 * X-Amz-Content-SHA256 hash does not match the body. */
int sigv4_verify(const struct sigv4_request *req, const struct sigv4_auth *a, const unsigned char key[32],
                 struct emu_err *err);

/* Presigning, for clients and tools (rdsemu token, tests). */
struct sigv4_param {
	const char *key;                        /* decoded; encoded by the signer */
	const char *value;
};

struct sigv4_presign {
	const char *method;                     /* "GET" */
	const char *url_host;                   /* host[:port] written into the URL */
	const char *signed_host;                /* value of the signed host header; NULL = url_host */
	const char *path;                       /* raw path, NULL = "/" */
	const struct sigv4_param *params;       /* operation parameters, written in this order */
	size_t nparams;
	const char *access_key_id;
	const char *secret;
	const char *session_token;              /* NULL = none */
	const char *region;
	const char *service;
	time_t when;
	long expires;                           /* X-Amz-Expires, seconds */
};

/* Appends "<url_host><path>?<params>&X-Amz-Algorithm=...&X-Amz-Signature=<hex>"
 * with the parameters in botocore's order.  An RDS IAM auth token is
 * exactly this for GET / with Action=connect, DBUser=<user>, service
 * "rds-db", expires 900, url_host "<host>:<port>" and signed_host
 * "<host>" when the port is 443, else "<host>:<port>" (as botocore). */
int sigv4_presign_url(const struct sigv4_presign *p, struct buf *out, struct emu_err *err);

#endif
