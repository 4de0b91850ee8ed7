/*
 * Unit tests of wire/token: every vector in fixtures/tokens/ (botocore, the
 * AWS CLI, @aws-sdk/rds-signer; made by scripts/gen_token_vectors.py with
 * frozen clocks) verifies at its time and up to 900 s later, and
 * token_generate reproduces the botocore and CLI tokens byte for byte; then
 * each rejection reason (tampering, time, user, region, service, host, key,
 * session, action, duplicates, garbage), parsing details (order, '+',
 * port 443, no port), explain mode and the resource ARN.  Runs from the
 * repository root.  `test_token --bench [seconds]` prints verifications per
 * second instead.
 */
#include "wire/token.h"

#include "api/sigv4.h"
#include "emu/clock.h"
#include "emu/log.h"
#include "emu/util.h"
#include "tap.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FIXDIR "fixtures/tokens"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define T0 1704067200.0 /* 2024-01-01T00:00:00Z */
#define HOST1 "mydb.c0abcdefghij.us-east-1.rds.amazonaws.com"

/* ---- a key store of one key --------------------------------------------- */

struct fake_key {
	const char *akid;               /* NULL = any */
	const char *secret;
	const char *session;
	double expires;
	bool inactive, skip_signature;
	int rc;                         /* what the lookup returns */
	int calls;
};

static int lookup(void *ud, const char *akid, struct token_key *out)
{
	struct fake_key *k = ud;
	k->calls++;
	if (k->rc < 0)
		return -1;
	if (k->akid && strcmp(k->akid, akid) != 0)
		return 0;
	out->found = true;
	out->active = !k->inactive;
	out->skip_signature = k->skip_signature;
	snprintf(out->secret, sizeof out->secret, "%s", k->secret ? k->secret : SECRET);
	snprintf(out->account, sizeof out->account, "123456789012");
	snprintf(out->principal_arn, sizeof out->principal_arn, "arn:aws:iam::123456789012:user/alice");
	out->session_token = k->session;
	out->expires = k->expires;
	return 0;
}

/* ---- fixtures ----------------------------------------------------------- */

static const char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

struct vec {
	const char *source, *name, *host, *user, *region, *akid, *secret, *session, *token;
	int port;
	double epoch;
};

#define MAXVEC 64
static struct vec vecs[MAXVEC];
static size_t nvec;
static json_t *roots[8];
static size_t nroots;

static void load(const char *file, const char *source)
{
	char path[256];
	snprintf(path, sizeof path, FIXDIR "/%s", file);
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je);
	if (!root) {
		printf("Bail out! %s: %s\n", path, je.text);
		exit(1);
	}
	roots[nroots++] = root;
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(root, "vectors"), i, v)
	{
		if (nvec == MAXVEC)
			break;
		vecs[nvec++] = (struct vec){
			.source = source,
			.name = jstr(v, "name"),
			.host = jstr(v, "host"),
			.user = jstr(v, "user"),
			.region = jstr(v, "region"),
			.akid = jstr(v, "access_key_id"),
			.secret = jstr(v, "secret_access_key"),
			.session = jstr(v, "session_token"),
			.token = jstr(v, "token"),
			.port = (int)json_integer_value(json_object_get(v, "port")),
			.epoch = (double)json_integer_value(json_object_get(v, "epoch")),
		};
	}
}

static const struct vec *find(const char *source, const char *name)
{
	for (size_t i = 0; i < nvec; i++)
		if (strcmp(vecs[i].source, source) == 0 && strcmp(vecs[i].name, name) == 0)
			return &vecs[i];
	printf("Bail out! no vector %s/%s\n", source, name);
	exit(1);
}

/* Expectations that accept v at its own time. */
static struct token_expect expect_for(const struct vec *v, const char *const *hosts)
{
	return (struct token_expect){
		.db_user = v->user,
		.region = v->region,
		.hosts = hosts,
		.n_hosts = 1,
		.port = v->port,
		.now = v->epoch,
		.future_skew_s = TOKEN_FUTURE_SKEW,
	};
}

static struct fake_key key_for(const struct vec *v)
{
	return (struct fake_key){.akid = v->akid, .secret = v->secret, .session = v->session};
}

static int verify_str(const char *tok, const struct token_expect *ex, struct fake_key *k, struct token_result *r)
{
	return token_verify(tok, strlen(tok), ex, lookup, k, r);
}

/* Replaces the first `from` in s by `to` (malloc'd). */
static char *replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	if (!at) {
		printf("Bail out! '%s' not in token\n", from);
		exit(1);
	}
	size_t n = strlen(s), fl = strlen(from), tl = strlen(to);
	char *o = malloc(n - fl + tl + 1);
	memcpy(o, s, (size_t)(at - s));
	memcpy(o + (at - s), to, tl);
	memcpy(o + (at - s) + tl, at + fl, n - (size_t)(at - s) - fl + 1);
	return o;
}

static bool has(const char *s, const char *sub) { return s && strstr(s, sub) != NULL; }

/* The check failed first is `c`, its reason contains `sub`. */
#define rejected(rc, r, c, sub, ...)                                                                       \
	do {                                                                                               \
		ok((rc) == -1 && !(r).ok && (r).failed == (c) && has((r).reason, sub), __VA_ARGS__);       \
		if ((r).failed != (c) || !has((r).reason, sub))                                            \
			printf("#   failed %s: %s\n", token_check_name((r).failed), (r).reason);           \
	} while (0)

/* ---- vectors ------------------------------------------------------------ */

static void test_vectors(void)
{
	for (size_t i = 0; i < nvec; i++) {
		const struct vec *v = &vecs[i];
		const char *hosts[] = {v->host};
		struct token_expect ex = expect_for(v, hosts);
		struct fake_key k = key_for(v);
		struct token_result r;
		int rc = verify_str(v->token, &ex, &k, &r);
		ok(rc == 0 && r.ok && r.failed == TOKEN_CHK_NONE, "%s/%s: verifies at its time", v->source, v->name);
		if (rc)
			printf("#   %s: %s\n", token_check_name(r.failed), r.reason);
		is_str(r.db_user, v->user, "%s/%s: DBUser decoded", v->source, v->name);
		is_str(r.access_key_id, v->akid, "%s/%s: access key", v->source, v->name);
		is_str(r.region, v->region, "%s/%s: region", v->source, v->name);
		is_int(r.port, v->port, "%s/%s: port", v->source, v->name);
		ok(r.temporary == (v->session != NULL), "%s/%s: temporary", v->source, v->name);
		char fp[13];
		log_fingerprint(v->token, strlen(v->token), fp);
		is_str(r.fingerprint, fp, "%s/%s: fingerprint", v->source, v->name);
		ok(token_looks_like(v->token, strlen(v->token)), "%s/%s: looks like a token", v->source, v->name);

		ex.now = v->epoch + 900;
		ok(verify_str(v->token, &ex, &k, &r) == 0, "%s/%s: valid 900 s later", v->source, v->name);
		ex.now = v->epoch + 901;
		rc = verify_str(v->token, &ex, &k, &r);
		rejected(rc, r, TOKEN_CHK_TIME, "901 s old", "%s/%s: expired 901 s later", v->source, v->name);

		/* explain: every check recorded, passed, with a detail. */
		ex.now = v->epoch;
		ex.explain = true;
		rc = verify_str(v->token, &ex, &k, &r);
		bool all = rc == 0 && r.nsteps == TOKEN_CHK__COUNT;
		for (size_t s = 0; all && s < r.nsteps; s++)
			all = r.steps[s].passed && r.steps[s].check == (enum token_check)s && r.steps[s].detail[0];
		ok(all, "%s/%s: explain records all %d checks", v->source, v->name, TOKEN_CHK__COUNT);
		/* No detail repeats the signature or the session token. */
		const char *sig = strstr(v->token, "X-Amz-Signature=") + 16;
		bool clean = true;
		for (size_t s = 0; s < r.nsteps; s++)
			clean &= !has(r.steps[s].detail, "X-Amz-Signature=") && !strstr(r.steps[s].detail, "IQoJ") &&
			         strncmp(r.steps[s].detail, sig, 16) != 0;
		ok(clean, "%s/%s: details hold no signature or session token", v->source, v->name);

		/* token_generate is botocore, byte for byte. */
		if (strcmp(v->source, "js") != 0) {
			struct buf b;
			struct emu_err e;
			buf_init(&b, 0);
			rc = token_generate(v->host, v->port, v->user, v->region, v->akid, v->secret, v->session, v->epoch,
			                    900, &b, &e);
			ok(rc == 0, "%s/%s: token_generate", v->source, v->name);
			is_str(buf_cstr(&b), v->token, "%s/%s: token_generate is botocore's token", v->source, v->name);
			buf_free(&b);
		}
	}
}

/* botocore, CLI and JS agree on the inputs; JS differs in order and in :443. */
static void test_sources_agree(void)
{
	const struct vec *b = find("botocore", "localhost_443"), *j = find("js", "localhost_443");
	ok(strcmp(b->token, j->token) != 0, "JS and botocore tokens differ for port 443");
	const char *hosts[] = {"localhost"};
	struct token_expect ex = expect_for(b, hosts);
	struct fake_key k = key_for(b);
	struct token_result r;
	ex.explain = true;
	ok(verify_str(b->token, &ex, &k, &r) == 0 && has(r.steps[TOKEN_CHK_SIGNATURE].detail, "without :443"),
	   "botocore 443 token: signed without :443 (%s)", r.steps[TOKEN_CHK_SIGNATURE].detail);
	ok(verify_str(j->token, &ex, &k, &r) == 0 && has(r.steps[TOKEN_CHK_SIGNATURE].detail, "'localhost:443')"),
	   "JS 443 token: signed with :443 (%s)", r.steps[TOKEN_CHK_SIGNATURE].detail);
	const struct vec *mb = find("botocore", "mixed_case_host"), *mj = find("js", "mixed_case_host");
	const char *mh[] = {HOST1};
	ex = expect_for(mb, mh);
	ex.explain = true;
	ok(verify_str(mb->token, &ex, &k, &r) == 0 && has(r.steps[TOKEN_CHK_SIGNATURE].detail, "lower case"),
	   "botocore mixed-case host: signed in lower case; allowed name matched without case");
	ok(verify_str(mj->token, &ex, &k, &r) == 0 && !has(r.steps[TOKEN_CHK_SIGNATURE].detail, "lower case"),
	   "JS mixed-case host: signed as given");
}

/* ---- rejections --------------------------------------------------------- */

static void test_rejections(void)
{
	const struct vec *v = find("botocore", "basic_5432");
	const char *hosts[] = {v->host};
	struct token_expect ex = expect_for(v, hosts);
	struct fake_key k = key_for(v);
	struct token_result r;
	int rc;
	char *t;

	/* Tampering. */
	size_t n = strlen(v->token);
	t = strdup(v->token);
	t[n - 1] = t[n - 1] == '0' ? '1' : '0';
	rc = verify_str(t, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_SIGNATURE, "does not match", "tampered signature");
	free(t);
	t = replace(v->token, "X-Amz-Signature=f44c", "X-Amz-Signature=F44C");
	rc = verify_str(t, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_SIGNATURE, "lower-case hex", "upper-case signature");
	free(t);
	t = replace(v->token, "DBUser=jane_doe", "DBUser=jane_dof");
	ex.db_user = "jane_dof";
	rc = verify_str(t, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_SIGNATURE, "does not match", "tampered DBUser (login user matches it)");
	ex.db_user = v->user;
	rc = verify_str(t, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_DBUSER, "not for the login user 'jane_doe'", "tampered DBUser");
	free(t);
	t = replace(v->token, "mydb.", "mxdb.");
	rc = verify_str(t, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_HOST, "not for this endpoint", "tampered host, not allowed");
	const char *both[] = {v->host, "mxdb.c0abcdefghij.us-east-1.rds.amazonaws.com"};
	ex.hosts = both;
	ex.n_hosts = 2;
	rc = verify_str(t, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_SIGNATURE, "does not match", "tampered host, allowed: signature");
	ex.hosts = hosts;
	ex.n_hosts = 1;
	free(t);
	t = replace(v->token, "X-Amz-Date=20240101T000000Z", "X-Amz-Date=20240101T000001Z");
	rc = verify_str(t, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_SIGNATURE, "does not match", "tampered X-Amz-Date");
	free(t);
	t = replace(v->token, "X-Amz-Expires=900", "X-Amz-Expires=899");
	rc = verify_str(t, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_SIGNATURE, "does not match", "tampered X-Amz-Expires");
	free(t);
	t = replace(v->token, "X-Amz-Expires=900&", "");
	rc = verify_str(t, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_SIGNATURE, "does not match", "X-Amz-Expires removed");
	free(t);
	t = malloc(n + 8);
	snprintf(t, n + 8, "%s&x=1", v->token);
	rc = verify_str(t, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_SIGNATURE, "does not match", "extra parameter");
	free(t);
	k.secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEz";
	rc = verify_str(v->token, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_SIGNATURE, "secret key of AKIAIOSFODNN7EXAMPLE", "wrong secret");
	k.skip_signature = true;
	ok(verify_str(v->token, &ex, &k, &r) == 0, "permissive key: signature not checked");
	k = key_for(v);

	/* Time. */
	ex.now = T0 + 960;
	rc = verify_str(v->token, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_TIME, "X-Amz-Date 20240101T000000Z is 960 s old; tokens are valid for 900 s",
	         "expired: the reason says how old");
	ex.now = T0 - 300;
	ok(verify_str(v->token, &ex, &k, &r) == 0, "300 s in the future: within the skew");
	ex.now = T0 - 301;
	rc = verify_str(v->token, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_TIME, "301 s in the future; at most 300 s", "future beyond the skew");
	ex.future_skew_s = -5;
	ex.now = T0 - 1;
	rc = verify_str(v->token, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_TIME, "in the future", "negative skew is none");
	ex.future_skew_s = TOKEN_FUTURE_SKEW;
	ex.now = 0.0 / 0.0;
	rc = verify_str(v->token, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_TIME, "clock", "NaN clock");
	ex.now = T0;

	/* User, region, service, host. */
	ex.db_user = "Jane_doe";
	rc = verify_str(v->token, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_DBUSER, "the case must match", "user differing in case");
	ex.db_user = "bob";
	rc = verify_str(v->token, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_DBUSER, "not for the login user 'bob'", "wrong user");
	ex.db_user = "jane_doe\x01";
	rc = verify_str(v->token, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_DBUSER, "'jane_doe?'", "login user echoed printable");
	ex.db_user = v->user;
	ex.region = "us-west-2";
	rc = verify_str(v->token, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_REGION, "region 'us-east-1'; this endpoint is in 'us-west-2'", "wrong region");
	ex.region = v->region;

	struct sigv4_param prm[] = {{"Action", "connect"}, {"DBUser", "jane_doe"}};
	struct sigv4_presign ps = {
		.method = "GET", .url_host = HOST1 ":5432", .path = "/", .params = prm, .nparams = 2,
		.access_key_id = v->akid, .secret = SECRET, .region = "us-east-1", .service = "rds",
		.when = (time_t)T0, .expires = 900,
	};
	struct buf b;
	struct emu_err e;
	buf_init(&b, 0);
	ok(sigv4_presign_url(&ps, &b, &e) == 0, "presign with service rds");
	rc = verify_str(buf_cstr(&b), &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_SERVICE, "service 'rds'", "wrong service");
	buf_reset(&b);

	ok(token_generate("other.example.com", 5432, "jane_doe", "us-east-1", v->akid, SECRET, NULL, T0, 900, &b, &e) == 0,
	   "generate for another host");
	rc = verify_str(buf_cstr(&b), &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_HOST, "host 'other.example.com', not for this endpoint: " HOST1, "wrong host");
	buf_reset(&b);
	ok(token_generate(HOST1, 5433, "jane_doe", "us-east-1", v->akid, SECRET, NULL, T0, 900, &b, &e) == 0,
	   "generate for another port");
	rc = verify_str(buf_cstr(&b), &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_HOST, "for port 5433; this endpoint listens on port 5432", "wrong port");
	const char *hp[] = {"x.example", HOST1 ":5433"};
	ex.hosts = hp;
	ex.n_hosts = 2;
	ok(verify_str(buf_cstr(&b), &ex, &k, &r) == 0, "an allowed host:port entry fixes the port");
	ex.port = 0;
	const char *anyport[] = {HOST1};
	ex.hosts = anyport;
	ex.n_hosts = 1;
	ok(verify_str(buf_cstr(&b), &ex, &k, &r) == 0, "port 0 = any port");
	ex.port = v->port;
	ex.hosts = hosts;
	buf_reset(&b);

	/* Keys and sessions. */
	k.rc = -1;
	rc = verify_str(v->token, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_KEY, "could not be looked up", "lookup error");
	k = key_for(v);
	k.akid = "AKIAOTHER";
	rc = verify_str(v->token, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_KEY, "AKIAIOSFODNN7EXAMPLE is not known", "unknown key");
	rc = token_verify(v->token, strlen(v->token), &ex, NULL, NULL, &r);
	rejected(rc, r, TOKEN_CHK_KEY, "is not known", "no lookup at all");
	k = key_for(v);
	k.inactive = true;
	rc = verify_str(v->token, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_KEY, "inactive", "inactive key");
	is_str(r.principal_arn, "arn:aws:iam::123456789012:user/alice", "inactive key: principal still reported");
	k = key_for(v);
	k.session = "IQoJsession";
	rc = verify_str(v->token, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_SESSION, "temporary key; the token carries no X-Amz-Security-Token",
	         "missing session token for a temporary key");

	const struct vec *s = find("botocore", "long_session_temp");
	const char *sh[] = {s->host};
	struct token_expect sx = expect_for(s, sh);
	struct fake_key sk = key_for(s);
	ok(verify_str(s->token, &sx, &sk, &r) == 0 && r.temporary, "session vector verifies");
	sk.expires = s->epoch + 60;
	ok(verify_str(s->token, &sx, &sk, &r) == 0, "credentials not yet expired");
	sk.expires = s->epoch - 5;
	rc = verify_str(s->token, &sx, &sk, &r);
	rejected(rc, r, TOKEN_CHK_SESSION, "expired at 2023-12-31T23:59:55Z (5 s ago)", "expired session");
	sk.expires = s->epoch;
	rc = verify_str(s->token, &sx, &sk, &r);
	rejected(rc, r, TOKEN_CHK_SESSION, "expired", "session expired at exactly now");
	sk = key_for(s);
	sk.session = "IQoJother";
	rc = verify_str(s->token, &sx, &sk, &r);
	rejected(rc, r, TOKEN_CHK_SESSION, "not the session token issued with ASIA", "wrong session token");
	char *longer = malloc(strlen(s->session) + 2);
	snprintf(longer, strlen(s->session) + 2, "%sA", s->session);
	sk.session = longer;
	rc = verify_str(s->token, &sx, &sk, &r);
	rejected(rc, r, TOKEN_CHK_SESSION, "not the session token", "session token that is a prefix");
	free(longer);
	sk = key_for(s);
	sk.session = NULL;
	rc = verify_str(s->token, &sx, &sk, &r);
	rejected(rc, r, TOKEN_CHK_SESSION, "long-term key", "session token with a long-term key");

	/* Action, duplicates, algorithm, scope. */
	t = replace(v->token, "Action=connect", "Action=Connect");
	rc = verify_str(t, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_ACTION, "Action is 'Connect'", "wrong action");
	ok(!token_looks_like(t, strlen(t)), "wrong action: not taken for a token");
	free(t);
	t = malloc(n + 32);
	snprintf(t, n + 32, "%s&Action=connect", v->token);
	rc = verify_str(t, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_SHAPE, "'Action' appears more than once", "duplicate parameter");
	snprintf(t, n + 32, "%s&%%41ction=connect", v->token);
	rc = verify_str(t, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_SHAPE, "appears more than once", "duplicate parameter spelt with an escape");
	snprintf(t, n + 32, "%s&X-Amz-Signature=0", v->token);
	rc = verify_str(t, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_SHAPE, "'X-Amz-Signature' appears more than once", "duplicate signature");
	free(t);
	t = replace(v->token, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512");
	rc = verify_str(t, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_ALGORITHM, "'AWS4-HMAC-SHA512'", "wrong algorithm");
	free(t);
	t = replace(v->token, "SignedHeaders=host", "SignedHeaders=host%3Bx-amz-date");
	rc = verify_str(t, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_ALGORITHM, "'host;x-amz-date'; a token can sign only 'host'", "extra signed header");
	free(t);
	t = replace(v->token, "%2F20240101%2F", "%2F20240102%2F");
	rc = verify_str(t, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_SCOPE, "scope date 20240102 is not the date of X-Amz-Date", "scope date");
	free(t);
	t = replace(v->token, "aws4_request", "aws5_request");
	rc = verify_str(t, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_SCOPE, "ends in 'aws5_request'", "scope terminator");
	free(t);
	t = replace(v->token, "%2Faws4_request", "");
	rc = verify_str(t, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_SCOPE, "4 '/'-separated parts", "scope parts");
	free(t);
	t = replace(v->token, "X-Amz-Date=20240101T000000Z", "X-Amz-Date=20240101T000000");
	rc = verify_str(t, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_TIME, "'20240101T000000' is not yyyymmddTHHMMSSZ", "X-Amz-Date without Z");
	free(t);
	t = replace(v->token, "X-Amz-Date=20240101T000000Z", "X-Amz-Date=20240101T250000Z");
	rc = verify_str(t, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_TIME, "'20240101T250000Z' is not yyyymmddTHHMMSSZ", "bad X-Amz-Date");
	free(t);
	t = replace(v->token, "X-Amz-Expires=900", "X-Amz-Expires=901");
	rc = verify_str(t, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_TIME, "X-Amz-Expires is 901 s; RDS refuses", "X-Amz-Expires over 900");
	free(t);
	t = replace(v->token, "X-Amz-Expires=900", "X-Amz-Expires=99999999999999999999");
	rc = verify_str(t, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_TIME, "is not a number of seconds", "huge X-Amz-Expires");
	free(t);
	t = replace(v->token, "X-Amz-Expires=900", "X-Amz-Expires=-1");
	rc = verify_str(t, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_TIME, "'-1' is not a number of seconds", "negative X-Amz-Expires");
	free(t);
	buf_free(&b);
}

/* Malformed input: a reason, never a crash. */
static void test_garbage(void)
{
	const struct vec *v = find("botocore", "basic_5432");
	const char *hosts[] = {v->host};
	struct token_expect ex = expect_for(v, hosts);
	struct fake_key k = key_for(v);
	struct token_result r;
	static const struct {
		const char *in, *why;
	} g[] = {
		{"", "empty"},
		{"hello", "no '?'"},
		{"?", "no host"},
		{"/?Action=connect", "no host"},
		{"h?", "lacks Action, DBUser"},
		{"h?&&&", "lacks Action"},
		{"h?=x", "has no name"},
		{"h?a=%", "malformed percent escape"},
		{"h?a=%4", "malformed percent escape"},
		{"h?a=%zz", "malformed percent escape"},
		{"h/p/?a=1", "path of a token must be '/'"},
		{"h:0/?a=1", "port of 1-65535"},
		{"h:65536/?a=1", "port of 1-65535"},
		{"h:12a/?a=1", "port of 1-65535"},
		{"h:/?a=1", "port of 1-65535"},
		{"[::1/?a=1", "[v6]:port"},
		{"[::1]x/?a=1", "[v6]:port"},
		{"u@h:5432/?a=1", "[v6]:port"},
		{"https://h:5432/?a=1", "URL scheme"},
		{"h:5432/?a=1 b", "byte 0x20 at offset 11"},
		{"h:5432/?a=1\n", "trailing newline"},
		{"h:5432/?a=\x80", "byte 0x80"},
	};
	for (size_t i = 0; i < ARRAY_LEN(g); i++) {
		int rc = verify_str(g[i].in, &ex, &k, &r);
		rejected(rc, r, TOKEN_CHK_SHAPE, g[i].why, "garbage %zu: %s", i, g[i].why);
	}
	ok(token_verify(NULL, 5, &ex, lookup, &k, &r) == -1 && r.failed == TOKEN_CHK_SHAPE, "NULL token");
	/* A stray byte anywhere (the scan goes 8 bytes at a time). */
	static const unsigned char strays[] = {0x00, 0x01, 0x20, 0x7f, 0x80, 0xff};
	size_t vn = strlen(v->token);
	const size_t at[] = {0, 7, 8, 15, 100, vn - 9, vn - 1};
	for (size_t i = 0; i < ARRAY_LEN(strays); i++)
		for (size_t j = 0; j < ARRAY_LEN(at); j++) {
			char *c = strdup(v->token), want[48];
			c[at[j]] = (char)strays[i];
			snprintf(want, sizeof want, "byte 0x%02x at offset %zu:", strays[i], at[j]);
			int rc = token_verify(c, vn, &ex, lookup, &k, &r);
			rejected(rc, r, TOKEN_CHK_SHAPE, want, "stray byte 0x%02x at %zu", strays[i], at[j]);
			free(c);
		}
	ok(!token_looks_like(NULL, 0) && !token_looks_like("password", 8), "a password is not a token");

	/* Every truncation of a real token is refused without a crash. */
	const struct vec *s = find("js", "long_session_temp");
	size_t n = strlen(s->token), bad = 0;
	const char *sh[] = {s->host};
	struct token_expect sx = expect_for(s, sh);
	struct fake_key sk = key_for(s);
	for (size_t cut = 0; cut < n; cut++)
		bad += token_verify(s->token, cut, &sx, lookup, &sk, &r) == 0;
	ok(bad == 0, "all %zu truncations refused", n);
	ok(token_verify(s->token, n, &sx, lookup, &sk, &r) == 0, "the whole token verifies (not NUL-terminated read)");

	/* Size limits: tokens of 32 KiB + 1 and 64 KiB. */
	size_t big = 65536;
	char *t = malloc(big + 1);
	memset(t, 'a', big);
	t[big] = '\0';
	memcpy(t, "h:5432/?Action=connect&DBUser=", 30);
	int rc = token_verify(t, TOKEN_MAX_LEN + 1, &ex, lookup, &k, &r);
	rejected(rc, r, TOKEN_CHK_SHAPE, "tokens longer than 32768 bytes are refused", "over the limit");
	rc = token_verify(t, big, &ex, lookup, &k, &r);
	rejected(rc, r, TOKEN_CHK_SHAPE, "65536 bytes", "64 KiB");
	rc = token_verify(t, TOKEN_MAX_LEN, &ex, lookup, &k, &r);
	rejected(rc, r, TOKEN_CHK_SHAPE, "lacks", "at the limit: parsed");
	free(t);

	/* A DBUser of 300 bytes, a 33-parameter token. */
	char *u = malloc(400);
	memset(u, 'u', 300);
	u[300] = '\0';
	t = replace(v->token, "jane_doe", u);
	rc = verify_str(t, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_DBUSER, "longer than 256 bytes", "long DBUser");
	free(t);
	t = replace(v->token, "jane_doe", "jane%00doe");
	rc = verify_str(t, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_DBUSER, "NUL", "NUL in DBUser");
	free(t);
	t = replace(v->token, "DBUser=jane_doe", "DBUser=");
	rc = verify_str(t, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_DBUSER, "empty", "empty DBUser");
	free(t);
	free(u);
	char many[2048];
	size_t m = (size_t)snprintf(many, sizeof many, "%s", v->token);
	for (int i = 0; i < 30; i++)
		m += (size_t)snprintf(many + m, sizeof many - m, "&p%d=%d", i, i);
	rc = verify_str(many, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_SHAPE, "more than 32 query parameters", "too many parameters");
	t = replace(v->token, "X-Amz-Signature=", "X-Amz-Sig=");
	rc = verify_str(t, &ex, &k, &r);
	rejected(rc, r, TOKEN_CHK_SHAPE, "lacks X-Amz-Signature", "no signature");
	free(t);
}

/* ---- parsing details ---------------------------------------------------- */

/* Reverses the order of the query parameters of tok (malloc'd). */
static char *reverse_params(const char *tok)
{
	const char *q = strchr(tok, '?') + 1;
	size_t n = strlen(tok);
	char *o = malloc(n + 2), *w = o + (q - tok);
	memcpy(o, tok, (size_t)(q - tok));
	const char *end = tok + n;
	bool first = true;
	while (end > q) {
		const char *s = end;
		while (s > q && s[-1] != '&')
			s--;
		if (!first)
			*w++ = '&';
		memcpy(w, s, (size_t)(end - s));
		w += end - s;
		first = false;
		end = s > q ? s - 1 : q;
	}
	*w = '\0';
	return o;
}

static void test_parsing(void)
{
	struct token_result r;
	const struct vec *v = find("botocore", "proxy_3306_session");
	const char *hosts[] = {v->host};
	struct token_expect ex = expect_for(v, hosts);
	struct fake_key k = key_for(v);
	char *t = reverse_params(v->token);
	ok(strcmp(t, v->token) != 0 && verify_str(t, &ex, &k, &r) == 0, "parameter order does not matter");
	free(t);

	/* '+' decodes to a space (Go writes spaces so). */
	const struct vec *s = find("botocore", "long_session_temp");
	const char *sh[] = {s->host};
	struct token_expect sx = expect_for(s, sh);
	struct fake_key sk = key_for(s);
	t = replace(s->token, "DBUser=iam%20user", "DBUser=iam+user");
	ok(verify_str(t, &sx, &sk, &r) == 0, "'+' is a space");
	is_str(r.db_user, "iam user+1", "'+' is a space: user");
	free(t);
	/* Escapes in lower case and of unreserved bytes mean the same. */
	t = replace(s->token, "DBUser=iam%20user%2B1", "DBUser=%69am%20user%2b1");
	ok(verify_str(t, &sx, &sk, &r) == 0, "escapes canonicalised");
	free(t);
	t = replace(v->token, "&X-Amz-Algorithm", "&&X-Amz-Algorithm");
	ok(verify_str(t, &ex, &k, &r) == 0, "empty segments ignored");
	free(t);
	t = replace(v->token, ":3306/?", ":3306?");
	ok(verify_str(t, &ex, &k, &r) == 0, "host:port?query without '/'");
	free(t);

	/* A token without a port (hand-made): matched on the name. */
	struct sigv4_param prm[] = {{"Action", "connect"}, {"DBUser", "jane_doe"}};
	struct sigv4_presign ps = {
		.method = "GET", .url_host = "localhost", .path = "/", .params = prm, .nparams = 2,
		.access_key_id = "AKIAIOSFODNN7EXAMPLE", .secret = SECRET, .region = "us-east-1", .service = "rds-db",
		.when = (time_t)T0, .expires = 900,
	};
	struct buf b;
	struct emu_err e;
	buf_init(&b, 0);
	ok(sigv4_presign_url(&ps, &b, &e) == 0, "presign without a port");
	const char *lh[] = {"localhost"};
	struct token_expect lx = {.db_user = "jane_doe", .region = "us-east-1", .hosts = lh, .n_hosts = 1, .port = 5432,
	                          .now = T0, .future_skew_s = 300};
	struct fake_key lk = {.akid = NULL};
	ok(verify_str(buf_cstr(&b), &lx, &lk, &r) == 0 && r.port == -1, "token without a port accepted");
	buf_reset(&b);
	/* IPv6 literal. */
	ps.url_host = "[::1]:5432";
	ok(sigv4_presign_url(&ps, &b, &e) == 0, "presign for [::1]");
	const char *v6[] = {"[::1]"};
	lx.hosts = v6;
	ok(verify_str(buf_cstr(&b), &lx, &lk, &r) == 0 && r.port == 5432, "[::1]:5432 accepted");
	buf_reset(&b);
	/* X-Amz-Expires below 900 is honoured. */
	ok(token_generate("localhost", 5432, "jane_doe", "us-east-1", "AKIAIOSFODNN7EXAMPLE", SECRET, NULL, T0, 60, &b,
	                  &e) == 0,
	   "generate with expires 60");
	lx.hosts = lh;
	lx.now = T0 + 60;
	ok(verify_str(buf_cstr(&b), &lx, &lk, &r) == 0, "expires 60: valid at +60");
	lx.now = T0 + 61;
	int rc = verify_str(buf_cstr(&b), &lx, &lk, &r);
	rejected(rc, r, TOKEN_CHK_TIME, "61 s old; tokens are valid for 60 s (X-Amz-Expires)", "expires 60: +61");
	buf_free(&b);
}

/* ---- explain ------------------------------------------------------------ */

static void test_explain(void)
{
	const struct vec *v = find("botocore", "basic_5432");
	const char *hosts[] = {"localhost"};
	struct token_expect ex = {.db_user = "bob", .region = "eu-west-1", .hosts = hosts, .n_hosts = 1, .port = 5432,
	                          .now = T0 + 2000, .future_skew_s = 300, .explain = true};
	struct fake_key k = {.akid = v->akid, .secret = "wrong"};
	struct token_result r;
	int rc = verify_str(v->token, &ex, &k, &r);
	ok(rc == -1 && r.failed == TOKEN_CHK_DBUSER, "explain: first failure is the reason (%s)", r.reason);
	size_t failed = 0;
	for (size_t i = 0; i < r.nsteps; i++) {
		failed += !r.steps[i].passed;
		printf("#   %-9s %s %s\n", token_check_name(r.steps[i].check), r.steps[i].passed ? "pass" : "FAIL",
		       r.steps[i].detail);
	}
	is_int(r.nsteps, TOKEN_CHK__COUNT, "explain: every check ran");
	is_int(failed, 5, "explain: user, region, time, host and signature failed");
	ok(!r.steps[TOKEN_CHK_SIGNATURE].passed && !r.steps[TOKEN_CHK_HOST].passed && r.steps[TOKEN_CHK_KEY].passed,
	   "explain: later checks still judged");
	ex.explain = false;
	rc = verify_str(v->token, &ex, &k, &r);
	ok(rc == -1 && r.nsteps == 3 && k.calls == 1, "without explain: stops at the first failure, no key lookup");
	ex = (struct token_expect){.now = T0};
	k = (struct fake_key){.akid = v->akid};
	ok(verify_str(v->token, &ex, &k, &r) == 0, "no expectations: user, region, host not checked");
	is_str(token_check_name(TOKEN_CHK_SIGNATURE), "signature", "check names");
	is_str(token_check_name(TOKEN_CHK_NONE), "none", "check name of none");
}

/* ---- ARN and generation ------------------------------------------------- */

static void test_arn_generate(void)
{
	char arn[128];
	ok(token_resource_arn("us-east-1", "123456789012", "db-ABCDEFGHIJKL01234", "jane_doe", arn, sizeof arn) == 0,
	   "resource ARN");
	is_str(arn, "arn:aws:rds-db:us-east-1:123456789012:dbuser:db-ABCDEFGHIJKL01234/jane_doe", "resource ARN text");
	ok(token_resource_arn("cn-north-1", "123456789012", "prx-0123456789abcdef0", "u", arn, sizeof arn) == 0 &&
	       strncmp(arn, "arn:aws-cn:rds-db:", 18) == 0,
	   "China partition");
	ok(token_resource_arn("us-gov-west-1", "123456789012", "cluster-X", "u", arn, sizeof arn) == 0 &&
	       strncmp(arn, "arn:aws-us-gov:", 15) == 0,
	   "GovCloud partition");
	ok(token_resource_arn("us-east-1", "123456789012", "db-X", "u", arn, 20) == -1 && arn[0] == '\0', "overflow");
	ok(token_resource_arn(NULL, "1", "db", "u", arn, sizeof arn) == -1, "NULL argument");

	struct buf b;
	struct emu_err e;
	buf_init(&b, 0);
	static const struct {
		const char *host;
		int port;
		const char *user;
		int expires;
		double now;
	} bad[] = {
		{"", 5432, "u", 900, T0},           {"h:1", 5432, "u", 900, T0},     {"h/x", 5432, "u", 900, T0},
		{"h", 0, "u", 900, T0},             {"h", 65536, "u", 900, T0},       {"h", 5432, "", 900, T0},
		{"h", 5432, "u", -1, T0},           {"h", 5432, "u", 900, -1},        {"h", 5432, "u", 900, 1e300},
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		int rc = token_generate(bad[i].host, bad[i].port, bad[i].user, "us-east-1", "AKID", SECRET, NULL, bad[i].now,
		                        bad[i].expires, &b, &e);
		ok(rc == -1 && e.code == ERR_VALIDATION && b.len == 0, "token_generate refuses bad input %zu (%s)", i, e.msg);
	}
	buf_free(&b);
}

/* ---- bench -------------------------------------------------------------- */

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench(double seconds)
{
	static const char *const which[][2] = {
		{"botocore", "basic_5432"}, {"botocore", "long_session_temp"}, {"js", "localhost_443"},
	};
	for (size_t w = 0; w < ARRAY_LEN(which); w++) {
		const struct vec *v = find(which[w][0], which[w][1]);
		const char *hosts[] = {"localhost", v->host};
		struct token_expect ex = expect_for(v, hosts);
		ex.n_hosts = 2;
		struct fake_key k = key_for(v);
		struct token_result r;
		size_t len = strlen(v->token), n = 0, bad = 0;
		double t0 = mono(), t;
		do {
			for (int i = 0; i < 1000; i++)
				bad += token_verify(v->token, len, &ex, lookup, &k, &r) != 0;
			n += 1000;
			t = mono();
		} while (t - t0 < seconds);
		printf("%s/%s (%zu bytes): %.0f verifications/s, %.2f us each%s\n", which[w][0], which[w][1], len,
		       (double)n / (t - t0), (t - t0) / (double)n * 1e6, bad ? " (SOME FAILED)" : "");
		if (bad)
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	load("botocore.json", "botocore");
	load("aws_cli.json", "cli");
	load("sdk_js_v3.json", "js");
	int rc;
	if (argc > 1 && strcmp(argv[1], "--bench") == 0) {
		rc = bench(argc > 2 ? atof(argv[2]) : 1.0);
	} else {
		ok(nvec >= 30, "%zu vectors loaded", nvec);
		test_vectors();
		test_sources_agree();
		test_rejections();
		test_garbage();
		test_parsing();
		test_explain();
		test_arn_generate();
		rc = done_testing();
	}
	for (size_t i = 0; i < nroots; i++)
		json_decref(roots[i]);
	return rc;
}
