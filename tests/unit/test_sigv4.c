/*
 * Unit tests of api/sigv4: every botocore-generated vector in
 * fixtures/sigv4/<name>.json checked stage by stage (canonical request, string
 * to sign, signature), accepted by sigv4_verify and refused after one-byte
 * tampering of the body, a signed header, the signature and the date;
 * presigned URLs re-created byte for byte; then parse errors, limits and
 * time windows with AWS's exact texts.  Runs from the repository root.
 */
#include "api/sigv4.h"
#include "tap.h"

#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define FIXDIR "fixtures/sigv4"
#define MAXH 64

static const char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A request built from a fixture; strings point into the JSON or into
 * owned copies that a tamper step changed. */
struct fx {
	json_t *root;
	const char *name;
	struct sigv4_header h[MAXH];
	size_t nh;
	struct sigv4_request req;
};

static void fx_load(struct fx *f, json_t *root)
{
	memset(f, 0, sizeof *f);
	f->root = root;
	f->name = jstr(root, "name");
	json_t *r = json_object_get(root, "request");
	json_t *hs = json_object_get(r, "headers");
	size_t i;
	json_t *pair;
	json_array_foreach(hs, i, pair)
	{
		if (f->nh == MAXH)
			break;
		json_t *k = json_array_get(pair, 0), *v = json_array_get(pair, 1);
		f->h[f->nh++] = (struct sigv4_header){json_string_value(k), json_string_length(k), json_string_value(v),
		                                      json_string_length(v)};
	}
	json_t *body = json_object_get(r, "body");
	f->req = (struct sigv4_request){
		.method = jstr(r, "method"),
		.path = jstr(r, "path"),
		.query = jstr(r, "query"),
		.headers = f->h,
		.nheaders = f->nh,
		.body = json_string_value(body),
		.body_len = json_string_length(body),
		.host = jstr(r, "host"),
	};
}

static struct sigv4_header *fx_hdr_opt(struct fx *f, const char *name)
{
	for (size_t i = 0; i < f->nh; i++)
		if (strcasecmp(f->h[i].name, name) == 0)
			return &f->h[i];
	return NULL;
}

/* A header the vector must have: a vector without it is a broken fixture. */
static struct sigv4_header *fx_hdr(struct fx *f, const char *name)
{
	struct sigv4_header *h = fx_hdr_opt(f, name);
	if (!h) {
		printf("Bail out! vector lacks header %s\n", name);
		exit(1);
	}
	return h;
}

/* Copy of s with the byte at pos changed (to something else). */
static char *flip(const char *s, size_t len, size_t pos)
{
	char *c = malloc(len + 1);
	memcpy(c, s, len + 1);
	c[pos] = c[pos] == '0' ? '1' : (c[pos] == 'a' ? 'b' : (c[pos] == '1' ? '2' : '0'));
	return c;
}

static void key_for(json_t *root, const struct sigv4_auth *a, unsigned char key[32])
{
	const char *secret = jstr(json_object_get(root, "credentials"), "secret_access_key");
	sigv4_signing_key(secret, a->date, a->region, a->service, key);
}

/* Parses and verifies; 0 when both succeed. */
static int parse_verify(json_t *root, const struct sigv4_request *req, struct emu_err *e)
{
	struct sigv4_auth a;
	if (sigv4_parse(req, &a, e) < 0)
		return -1;
	unsigned char key[32];
	key_for(root, &a, key);
	int rc = sigv4_verify(req, &a, key, e);
	sigv4_auth_free(&a);
	return rc;
}

static void check_vector(json_t *root)
{
	struct fx f;
	fx_load(&f, root);
	json_t *exp = json_object_get(root, "expected");
	json_t *cred = json_object_get(root, "credentials");
	const char *name = f.name;
	struct emu_err e;
	struct sigv4_auth a;

	int rc = sigv4_parse(&f.req, &a, &e);
	is_int(rc, 0, "%s: parses", name);
	if (rc < 0) {
		printf("#   %s: %s\n", emu_err_name(e.code), e.msg);
		return;
	}
	ok(a.presigned == (strcmp(jstr(root, "mode"), "presigned") == 0), "%s: mode", name);
	is_str(a.access_key_id, jstr(cred, "access_key_id"), "%s: access key", name);
	is_str(a.region, jstr(root, "region"), "%s: region", name);
	is_str(a.service, jstr(root, "service"), "%s: service", name);
	is_str(a.amz_date, jstr(root, "time"), "%s: request time", name);
	is_int(a.request_time, json_integer_value(json_object_get(root, "epoch")), "%s: epoch", name);
	const char *tok = jstr(cred, "session_token");
	if (tok)
		is_str(a.security_token, tok, "%s: session token", name);
	else
		ok(a.security_token == NULL, "%s: no session token", name);

	struct buf cr, sts;
	buf_init(&cr, 0);
	buf_init(&sts, 0);
	is_int(sigv4_canonical_request(&f.req, &a, &cr), 0, "%s: canonical request built", name);
	is_str(buf_cstr(&cr), jstr(exp, "canonical_request"), "%s: canonical request", name);
	is_int(sigv4_string_to_sign(&a, cr.data, cr.len, &sts), 0, "%s: string to sign built", name);
	is_str(buf_cstr(&sts), jstr(exp, "string_to_sign"), "%s: string to sign", name);
	unsigned char key[32];
	char sig[65];
	key_for(root, &a, key);
	sigv4_signature(key, sts.data, sts.len, sig);
	is_str(sig, jstr(exp, "signature"), "%s: signature", name);
	buf_free(&cr);
	buf_free(&sts);

	rc = sigv4_verify(&f.req, &a, key, &e);
	is_int(rc, 0, "%s: verifies", name);
	if (rc < 0)
		printf("#   %s\n", e.msg);
	double now = (double)json_integer_value(json_object_get(root, "epoch"));
	is_int(sigv4_check_time(&a, now, 300, &e), 0, "%s: inside the time window", name);
	if (a.presigned && a.expires >= 0) {
		is_int(sigv4_check_time(&a, now + (double)a.expires, 1000000, &e), 0, "%s: valid at expiry", name);
		is_int(sigv4_check_time(&a, now + (double)a.expires + 1, 1000000, &e), -1, "%s: expired after X-Amz-Expires",
		       name);
	}
	sigv4_auth_free(&a);

	/* Tamper: the body. */
	{
		struct sigv4_request t = f.req;
		size_t bl = f.req.body_len;
		char *b = malloc(bl + 2);
		memcpy(b, f.req.body, bl);
		if (bl > 0) {
			b[bl / 2] ^= 0x01;
		} else {
			b[0] = 'x';
			bl = 1;
		}
		t.body = b;
		t.body_len = bl;
		rc = parse_verify(root, &t, &e);
		struct sigv4_header *ch = fx_hdr_opt(&f, "X-Amz-Content-SHA256");
		if (ch && strcmp(ch->value, "UNSIGNED-PAYLOAD") == 0)
			is_int(rc, 0, "%s: UNSIGNED-PAYLOAD leaves the body unsigned", name);
		else
			ok(rc < 0 && e.code == ERR_INVALID_SIGNATURE, "%s: tampered body refused", name);
		free(b);
	}
	/* Tamper: a signed header (host). */
	{
		struct sigv4_request t = f.req;
		char *c = NULL;
		if (f.req.host) {
			c = flip(f.req.host, strlen(f.req.host), 0);
			t.host = c;
			rc = parse_verify(root, &t, &e);
		} else {
			struct sigv4_header *h = fx_hdr(&f, "Host"), saved = *h;
			c = flip(h->value, h->value_len, 0);
			h->value = c;
			rc = parse_verify(root, &t, &e);
			*h = saved;
		}
		ok(rc < 0 && e.code == ERR_INVALID_SIGNATURE, "%s: tampered host refused", name);
		free(c);
	}
	/* Tamper: the signature and the date, where they travel. */
	if (strcmp(jstr(root, "mode"), "presigned") == 0) {
		const char *q = f.req.query;
		size_t ql = strlen(q);
		const char *s = strstr(q, "X-Amz-Signature=") + 16;
		char *c = flip(q, ql, (size_t)(s - q) + 10);
		struct sigv4_request t = f.req;
		t.query = c;
		rc = parse_verify(root, &t, &e);
		ok(rc < 0 && e.code == ERR_INVALID_SIGNATURE, "%s: tampered signature refused", name);
		free(c);
		const char *d = strstr(q, "X-Amz-Date=") + 11;
		c = flip(q, ql, (size_t)(d - q) + 14); /* last digit of the seconds */
		t.query = c;
		rc = parse_verify(root, &t, &e);
		ok(rc < 0 && e.code == ERR_INVALID_SIGNATURE, "%s: tampered date refused", name);
		free(c);
	} else {
		struct sigv4_header *h = fx_hdr(&f, "Authorization"), saved = *h;
		const char *s = strstr(h->value, "Signature=") + 10;
		char *c = flip(h->value, h->value_len, (size_t)(s - h->value) + 63);
		h->value = c;
		rc = parse_verify(root, &f.req, &e);
		ok(rc < 0 && e.code == ERR_INVALID_SIGNATURE, "%s: tampered signature refused", name);
		*h = saved;
		free(c);
		struct sigv4_header *dh = fx_hdr_opt(&f, "X-Amz-Date");
		size_t pos = dh ? 14 : 24; /* last digit of the seconds in "...T000000Z" or "Mon, 01 Jan 2024 00:00:00 -0000" */
		if (!dh)
			dh = fx_hdr(&f, "Date");
		saved = *dh;
		c = flip(dh->value, dh->value_len, pos);
		dh->value = c;
		rc = parse_verify(root, &f.req, &e);
		ok(rc < 0 && e.code == ERR_INVALID_SIGNATURE, "%s: tampered date refused", name);
		*dh = saved;
		free(c);
	}

	/* Presigned URLs are re-created byte for byte by sigv4_presign_url. */
	json_t *ps = json_object_get(root, "presign");
	if (ps) {
		struct sigv4_param prm[8];
		size_t np = 0, i;
		json_t *pair;
		json_array_foreach(json_object_get(ps, "params"), i, pair)
		{
			if (np < 8)
				prm[np++] = (struct sigv4_param){json_string_value(json_array_get(pair, 0)),
				                                 json_string_value(json_array_get(pair, 1))};
		}
		struct sigv4_presign p = {
			.method = jstr(ps, "method"),
			.url_host = jstr(ps, "url_host"),
			.signed_host = jstr(ps, "signed_host"),
			.path = jstr(ps, "path"),
			.params = prm,
			.nparams = np,
			.access_key_id = jstr(cred, "access_key_id"),
			.secret = jstr(cred, "secret_access_key"),
			.session_token = tok,
			.region = jstr(root, "region"),
			.service = jstr(root, "service"),
			.when = (time_t)json_integer_value(json_object_get(root, "epoch")),
			.expires = (long)json_integer_value(json_object_get(ps, "expires")),
		};
		struct buf out;
		buf_init(&out, 0);
		is_int(sigv4_presign_url(&p, &out, &e), 0, "%s: presigns", name);
		is_str(buf_cstr(&out), jstr(exp, "url"), "%s: presigned URL equals botocore's", name);
		buf_free(&out);
	}
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int test_vectors(void)
{
	DIR *d = opendir(FIXDIR);
	ok(d != NULL, "fixture directory %s exists", FIXDIR);
	if (!d)
		return 0;
	char *names[256];
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) && n < 256) {
		size_t l = strlen(de->d_name);
		if (l > 5 && strcmp(de->d_name + l - 5, ".json") == 0)
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof names[0], cmp_names);
	for (size_t i = 0; i < n; i++) {
		char path[512];
		snprintf(path, sizeof path, "%s/%s", FIXDIR, names[i]);
		json_error_t je;
		json_t *root = json_load_file(path, 0, &je);
		ok(root != NULL, "%s loads", path);
		if (root)
			check_vector(root);
		json_decref(root);
		free(names[i]);
	}
	ok(n >= 15, "found %zu vectors", n);
	return (int)n;
}

/* ---- hand-built requests ------------------------------------------------- */

static json_t *fixture(const char *name)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s.json", FIXDIR, name);
	json_error_t je;
	return json_load_file(path, 0, &je);
}

/* A header-mode request with the given Authorization (NULL = none). */
static struct sigv4_request hreq(struct sigv4_header *h, size_t *nh, const char *auth, const char *date)
{
	size_t n = 0;
	h[n++] = (struct sigv4_header){"Host", 4, "secretsmanager.us-east-1.amazonaws.com", 38};
	if (date)
		h[n++] = (struct sigv4_header){"X-Amz-Date", 10, date, strlen(date)};
	if (auth)
		h[n++] = (struct sigv4_header){"Authorization", 13, auth, strlen(auth)};
	*nh = n;
	return (struct sigv4_request){.method = "POST", .path = "/", .headers = h, .nheaders = n, .body = "{}", .body_len = 2};
}

static void expect_err(const struct sigv4_request *r, enum emu_err_code code, const char *msg, const char *what)
{
	struct sigv4_auth a;
	struct emu_err e;
	emu_err_clear(&e);
	int rc = sigv4_parse(r, &a, &e);
	ok(rc == -1 && e.code == code, "%s: %s", what, emu_err_name(code));
	if (rc == -1 && e.code != code)
		printf("#   got %s: %s\n", emu_err_name(e.code), e.msg);
	if (msg)
		is_str(e.msg, msg, "%s: message", what);
	ok(a.security_token == NULL, "%s: nothing to free after failure", what);
	if (rc == 0)
		sigv4_auth_free(&a);
}

static void test_parse_errors(void)
{
	struct sigv4_header h[8];
	size_t nh;
	struct sigv4_request r;
	const char *date = "20240101T000000Z";

	r = hreq(h, &nh, NULL, date);
	expect_err(&r, ERR_MISSING_AUTH, "Request is missing Authentication Token", "no auth");
	r = hreq(h, &nh, "Basic dXNlcjpwYXNz", date);
	expect_err(&r, ERR_MISSING_AUTH, "Request is missing Authentication Token", "non-AWS4 scheme");
	r = hreq(h, &nh, "", date);
	expect_err(&r, ERR_MISSING_AUTH, NULL, "empty Authorization");

	r = hreq(h, &nh, "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/secretsmanager/aws4_request", NULL);
	expect_err(&r, ERR_INCOMPLETE_SIGNATURE,
	           "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' "
	           "parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
	           "Authorization=AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/secretsmanager/aws4_request",
	           "missing parts listed");
	r = hreq(h, &nh, "AWS4-HMAC-SHA256", date);
	expect_err(&r, ERR_INCOMPLETE_SIGNATURE,
	           "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' "
	           "parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256",
	           "algorithm only");
	r = hreq(h, &nh, "AWS4-HMAC-SHA256 Credential=, SignedHeaders=host, Signature=", date);
	expect_err(&r, ERR_INCOMPLETE_SIGNATURE,
	           "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' "
	           "parameter. Authorization=AWS4-HMAC-SHA256 Credential=, SignedHeaders=host, Signature=",
	           "empty values count as missing");
	r = hreq(h, &nh,
	         "AWS4-HMAC-SHA256 Credential= AKID/20240101/us-east-1/secretsmanager/aws4_request, "
	         "SignedHeaders=host, Signature=abc",
	         date);
	expect_err(&r, ERR_INCOMPLETE_SIGNATURE,
	           "'AKID/20240101/us-east-1/secretsmanager/aws4_request' not a valid key=value pair (missing equal-sign) "
	           "in Authorization header: 'AWS4-HMAC-SHA256 Credential= AKID/20240101/us-east-1/secretsmanager/"
	           "aws4_request, SignedHeaders=host, Signature=abc'.",
	           "space after Credential=");
	r = hreq(h, &nh,
	         "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, "
	         "Signature=abc",
	         "2024");
	expect_err(&r, ERR_INCOMPLETE_SIGNATURE,
	           "Date must be in ISO-8601 'basic format'. Got '2024'. See http://en.wikipedia.org/wiki/ISO_8601",
	           "bad X-Amz-Date");
	r = hreq(h, &nh,
	         "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/secretsmanager/aws4_request, "
	         "SignedHeaders=content-type;x-amz-date, Signature=abc",
	         date);
	expect_err(&r, ERR_INVALID_SIGNATURE, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
	           "host not signed");
	r = hreq(h, &nh,
	         "AWS4-HMAC-SHA512 Credential=AKID/20240101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, "
	         "Signature=abc",
	         date);
	expect_err(&r, ERR_INCOMPLETE_SIGNATURE,
	           "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512' (only AWS4-HMAC-SHA256 for now). ", "algorithm");
	r = hreq(h, &nh, "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/aws4_request, SignedHeaders=host, Signature=abc",
	         date);
	expect_err(&r, ERR_INCOMPLETE_SIGNATURE,
	           "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got "
	           "'AKID/20240101/us-east-1/aws4_request'",
	           "credential of 4 parts");
	r = hreq(h, &nh,
	         "AWS4-HMAC-SHA256 Credential=AKID/20231231/us-east-1/secretsmanager/aws5_request, SignedHeaders=host, "
	         "Signature=abc",
	         date);
	expect_err(&r, ERR_INVALID_SIGNATURE,
	           "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. Date in "
	           "Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20231231' != "
	           "'20240101', from '20240101T000000Z'. ",
	           "scope terminator and date");
	r = hreq(h, &nh,
	         "AWS4-HMAC-SHA256 Credential=AKID/20240101//secretsmanager/aws4_request, SignedHeaders=host, Signature=abc",
	         date);
	expect_err(&r, ERR_INVALID_SIGNATURE, "Credential should be scoped to a valid region, not ''. ", "empty region");

	/* Trailing slashes after the terminator are ignored; commas without
	 * spaces and extra whitespace are fine; the last duplicate wins. */
	r = hreq(h, &nh,
	         "  AWS4-HMAC-SHA256   Credential=X/20240101/us-east-1/secretsmanager/aws4_request,SignedHeaders=host,"
	         "Signature=abc,\tCredential=AKID/20240101/eu-west-1/sts/aws4_request//  ",
	         date);
	{
		struct sigv4_auth a;
		struct emu_err e;
		is_int(sigv4_parse(&r, &a, &e), 0, "lenient separators parse");
		is_str(a.access_key_id, "AKID", "last Credential wins");
		is_str(a.region, "eu-west-1", "region from the last Credential");
		is_str(a.signature, "", "a short signature is kept as none");
		is_str(a.signed_headers, "host", "signed headers");
		is_int(sigv4_check_scope(&a, "eu-west-1", "sts", &e), 0, "scope check passes");
		is_int(sigv4_check_scope(&a, "us-east-1", "secretsmanager", &e), -1, "scope check fails");
		is_str(e.msg,
		       "Credential should be scoped to a valid region, not 'eu-west-1'. Credential should be scoped to "
		       "correct service: 'secretsmanager'. ",
		       "scope message lists both");
		is_int(sigv4_verify(&r, &a, (const unsigned char *)"0123456789abcdef0123456789abcdef", &e), -1,
		       "short signature never verifies");
		is_str(e.msg,
		       "The request signature we calculated does not match the signature you provided. Check your AWS "
		       "Secret Access Key and signing method. Consult the service documentation for details.",
		       "mismatch message");
		sigv4_auth_free(&a);
	}

	/* Both forms at once. */
	r = hreq(h, &nh, "AWS4-HMAC-SHA256 Credential=a", date);
	r.query = "X-Amz-Algorithm=AWS4-HMAC-SHA256";
	expect_err(&r, ERR_INVALID_SIGNATURE,
	           "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.", "both");

	/* Presigned. */
	r = hreq(h, &nh, NULL, NULL);
	r.query = "Action=connect&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=";
	expect_err(&r, ERR_INCOMPLETE_SIGNATURE,
	           "AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string parameters must include "
	           "'X-Amz-Signature'. AWS query-string parameters must include 'X-Amz-SignedHeaders'. AWS query-string "
	           "parameters must include 'X-Amz-Date'. Re-examine the query-string parameters.",
	           "presigned missing parts");
	r.query = "X%2DAmz-Algorithm=AWS4-HMAC-SHA1&X-Amz-Credential=A%2F20240101%2Fus-east-1%2Fsts%2Faws4_request"
	          "&X-Amz-Date=20240101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=abc";
	expect_err(&r, ERR_INCOMPLETE_SIGNATURE,
	           "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA1' (only AWS4-HMAC-SHA256 for now). ",
	           "presigned algorithm (encoded key)");
	r.query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F20240101%2Fus-east-1%2Fsts%2Faws4_request"
	          "&X-Amz-Date=20240101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=abc&X-Amz-Expires=abc";
	expect_err(&r, ERR_INCOMPLETE_SIGNATURE, "X-Amz-Expires should be a number", "expires not a number");
	r.query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F20240101%2Fus-east-1%2Fsts%2Faws4_request"
	          "&X-Amz-Date=20240101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=abc&X-Amz-Expires=-1";
	expect_err(&r, ERR_INCOMPLETE_SIGNATURE, "X-Amz-Expires must be non-negative", "expires negative");
	r.query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F20240101%2Fus-east-1%2Fsts%2Faws4_request"
	          "&X-Amz-Date=20240101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=abc"
	          "&X-Amz-Expires=99999999999999999999999999";
	expect_err(&r, ERR_INCOMPLETE_SIGNATURE, "X-Amz-Expires must be less than a week (in seconds) that is 604800",
	           "expires too large");
	r.query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&a=%zz";
	expect_err(&r, ERR_SERIALIZATION, "Illegal hex character in escape % pattern: %zz", "bad escape");
	r.query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&a=%4";
	expect_err(&r, ERR_SERIALIZATION, "Incomplete trailing escape % sequence", "trailing escape");
	r.query = "a=%0a%0d%zz";
	r.nheaders = 0;
	expect_err(&r, ERR_SERIALIZATION, NULL, "bad escape without auth");

	/* Limits. */
	{
		size_t big = SIGV4_MAX_AUTH_HEADER + 10;
		char *s = malloc(big + 1);
		memset(s, 'A', big);
		memcpy(s, "AWS4-HMAC-SHA256 Credential=", 28);
		s[big] = '\0';
		r = hreq(h, &nh, s, date);
		expect_err(&r, ERR_INCOMPLETE_SIGNATURE, "Authorization header is longer than 8192 bytes.", "header too long");

		/* Under the cap, the echoed header is cut to fit the message. */
		memset(s, 'B', 5000);
		memcpy(s, "AWS4-HMAC-SHA256 BBBB", 21);
		s[5000] = '\0';
		r = hreq(h, &nh, s, date);
		struct sigv4_auth a;
		struct emu_err e;
		is_int(sigv4_parse(&r, &a, &e), -1, "long junk refused");
		ok(strlen(e.msg) < 1000 && strstr(e.msg, "...'.") != NULL, "echoed header is capped (%zu bytes)",
		   strlen(e.msg));

		struct buf sh;
		buf_init(&sh, 0);
		buf_puts(&sh, "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host");
		for (int i = 0; i < SIGV4_MAX_SIGNED_HEADERS; i++)
			buf_printf(&sh, ";x-h%d", i);
		buf_puts(&sh, ", Signature=abc");
		r = hreq(h, &nh, buf_cstr(&sh), date);
		expect_err(&r, ERR_INCOMPLETE_SIGNATURE, "SignedHeaders names more than 64 headers.", "too many signed headers");
		buf_free(&sh);

		buf_init(&sh, 0);
		for (int i = 0; i <= SIGV4_MAX_QUERY_PARAMS; i++)
			buf_printf(&sh, "k%d=v&", i);
		r = hreq(h, &nh, NULL, date);
		r.query = buf_cstr(&sh);
		expect_err(&r, ERR_INCOMPLETE_SIGNATURE, "The query string has more than 256 parameters.",
		           "too many query parameters");
		buf_free(&sh);

		size_t tl = SIGV4_MAX_SECURITY_TOKEN + 1;
		char *tok = malloc(tl + 1);
		memset(tok, 'T', tl);
		tok[tl] = '\0';
		r = hreq(h, &nh,
		         "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/secretsmanager/aws4_request, "
		         "SignedHeaders=host, Signature=abc",
		         date);
		h[nh++] = (struct sigv4_header){"X-Amz-Security-Token", 20, tok, tl};
		r.nheaders = nh;
		expect_err(&r, ERR_UNRECOGNIZED_CLIENT, "The security token included in the request is invalid.",
		           "token too long");
		free(tok);
		free(s);
	}
}

static void test_time(void)
{
	struct sigv4_header h[8];
	size_t nh;
	struct sigv4_request r = hreq(h, &nh,
	                              "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/secretsmanager/aws4_request, "
	                              "SignedHeaders=host;x-amz-date, Signature=abc",
	                              "20240101T000000Z");
	struct sigv4_auth a;
	struct emu_err e;
	is_int(sigv4_parse(&r, &a, &e), 0, "time: parses");
	double t = 1704067200.0;
	is_int(sigv4_check_time(&a, t + 300, 300, &e), 0, "5 min old is inside");
	is_int(sigv4_check_time(&a, t - 300, 300, &e), 0, "5 min ahead is inside");
	is_int(sigv4_check_time(&a, t + 301.9, 300, &e), -1, "5 min 1 s old is outside");
	is_str(e.msg, "Signature expired: 20240101T000000Z is now earlier than 20240101T000001Z (20240101T000501Z - 5 min.)",
	       "expired text (JSON window)");
	is_int(e.code, ERR_INVALID_SIGNATURE, "expired code");
	is_int(sigv4_check_time(&a, t - 301, 300, &e), -1, "5 min 1 s ahead is outside");
	is_str(e.msg,
	       "Signature not yet current: 20240101T000000Z is still later than 20231231T235959Z (20231231T235459Z + 5 min.)",
	       "not yet current text");
	is_int(sigv4_check_time(&a, t + 3600, 900, &e), -1, "an hour old is outside the Query window");
	is_str(e.msg, "Signature expired: 20240101T000000Z is now earlier than 20240101T004500Z (20240101T010000Z - 15 min.)",
	       "expired text (Query window)");
	sigv4_auth_free(&a);

	/* Date header, in the forms clients send. */
	const char *forms[] = {"Mon, 01 Jan 2024 00:00:00 GMT", "Mon, 01 Jan 2024 00:00:00 -0000",
	                       "Mon, 01 Jan 2024 00:00:00 +0000"};
	for (size_t i = 0; i < 3; i++) {
		struct sigv4_header dh[4] = {
			{"Host", 4, "x", 1},
			{"Date", 4, forms[i], strlen(forms[i])},
			{"Authorization", 13,
			 "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sts/aws4_request, SignedHeaders=date;host, "
			 "Signature=abc",
			 101},
		};
		struct sigv4_request dr = {.method = "POST", .path = "/", .headers = dh, .nheaders = 3};
		dh[2].value_len = strlen(dh[2].value);
		is_int(sigv4_parse(&dr, &a, &e), 0, "Date header '%s' parses", forms[i]);
		is_str(a.amz_date, "20240101T000000Z", "Date header '%s' converted", forms[i]);
		sigv4_auth_free(&a);
	}

	/* Presigned expiry. */
	struct sigv4_request pr = {.method = "GET", .path = "/", .host = "h:1"};
	pr.query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F20240101%2Fus-east-1%2Fsts%2Faws4_request"
	           "&X-Amz-Date=20240101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=abc&X-Amz-Expires=60";
	is_int(sigv4_parse(&pr, &a, &e), 0, "presigned parses");
	is_int(a.expires, 60, "X-Amz-Expires read");
	is_int(sigv4_check_time(&a, t + 60, 900, &e), 0, "valid at X-Amz-Expires");
	is_int(sigv4_check_time(&a, t + 61, 900, &e), -1, "expired after X-Amz-Expires");
	is_str(e.msg, "Signature expired: 20240101T000000Z is now earlier than 20240101T000001Z (20240101T000101Z - 1 min.)",
	       "presigned expired text");
	sigv4_auth_free(&a);
	pr.query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F20240101%2Fus-east-1%2Fsts%2Faws4_request"
	           "&X-Amz-Date=20240101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=abc&X-Amz-Expires=100";
	is_int(sigv4_parse(&pr, &a, &e), 0, "presigned parses (100 s)");
	is_int(sigv4_check_time(&a, t + 101, 900, &e), -1, "expired after 100 s");
	is_str(e.msg, "Signature expired: 20240101T000000Z is now earlier than 20240101T000001Z (20240101T000141Z - 100 sec.)",
	       "presigned expired text in seconds");
	sigv4_auth_free(&a);
}

/* Clients encode differently; the canonical form is the same. */
static void test_canonical_forms(void)
{
	json_t *root = fixture("rds_token_1");
	ok(root != NULL, "rds_token_1 loads");
	if (!root)
		return;
	struct fx f;
	fx_load(&f, root);
	struct emu_err e;
	const char *variants[] = {
		/* unreserved characters escaped, lower-case hex, parameters in another order */
		"X-Amz-Signature=f44cea86a7726c1892ecb6e03522cba6404989d9a5dc13fffb9782c48c49a3e8&DBUser=jane%5Fdoe"
		"&Action=connect&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2f20240101%2fus-east-1"
		"%2frds-db%2faws4_request&X-Amz-Date=20240101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host",
		/* '/' unescaped in a value, empty segments */
		"&&Action=connect&DBUser=jane_doe&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE/"
		"20240101/us-east-1/rds-db/aws4_request&X-Amz-Date=20240101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host"
		"&X-Amz-Signature=f44cea86a7726c1892ecb6e03522cba6404989d9a5dc13fffb9782c48c49a3e8&",
	};
	for (size_t i = 0; i < 2; i++) {
		struct sigv4_request t = f.req;
		t.query = variants[i];
		is_int(parse_verify(root, &t, &e), 0, "token with non-canonical encoding %zu verifies", i);
	}
	/* TOKEN3: signed without :443; the verifier must try that form. */
	json_decref(root);
	root = fixture("rds_token_3_port443");
	fx_load(&f, root);
	struct sigv4_request t = f.req;
	t.host = "localhost:443";
	is_int(parse_verify(root, &t, &e), -1, "TOKEN3 with host:443 does not verify");
	t.host = "LOCALHOST";
	is_int(parse_verify(root, &t, &e), -1, "host is compared as signed (callers lower-case it)");
	json_decref(root);

	/* '+' is a space, re-encoded as %20; a path is encoded again. */
	struct sigv4_auth a;
	memset(&a, 0, sizeof a);
	memcpy(a.signed_headers, "host;x-absent", 14);
	a.signed_headers_len = 13;
	a.nsigned = 2;
	a.sh_off[0] = 0;
	a.sh_len[0] = 4;
	a.sh_off[1] = 5;
	a.sh_len[1] = 8;
	struct sigv4_header hh[2] = {{"HOST", 4, "  Example.COM:8080 ", 19}, {"host", 4, "second", 6}};
	struct sigv4_request q = {.method = "get",
	                          .path = "/a b/%7E/./../c/",
	                          .query = "b=x+y&a=%7e&a=&c&X-Amz-Signature=zz",
	                          .headers = hh,
	                          .nheaders = 2};
	struct buf cr;
	buf_init(&cr, 0);
	is_int(sigv4_canonical_request(&q, &a, &cr), 0, "synthetic canonical request");
	is_str(buf_cstr(&cr),
	       "GET\n/a%20b/c/\na=&a=~&b=x%20y&c=\nhost:Example.COM:8080,second\nx-absent:\n\nhost;x-absent\n"
	       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	       "method upper-cased, path normalised, query sorted and re-encoded, absent header empty");
	buf_free(&cr);
}

static void test_presign_token(void)
{
	/* The RDS token of aws-behaviour.md 2.6 TOKEN2, from scratch. */
	struct sigv4_param prm[] = {{"Action", "connect"}, {"DBUser", "app@user"}};
	struct sigv4_presign p = {
		.method = "GET",
		.url_host = "myproxy.proxy-c0abcdefghij.us-east-1.rds.amazonaws.com:3306",
		.params = prm,
		.nparams = 2,
		.access_key_id = "AKIAIOSFODNN7EXAMPLE",
		.secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		.session_token = "IQoJb3JpZ2luX2VjEXAMPLE/TOKEN+WITH=special/chars",
		.region = "us-east-1",
		.service = "rds-db",
		.when = 1704067200,
		.expires = 900,
	};
	struct buf out;
	struct emu_err e;
	buf_init(&out, 0);
	is_int(sigv4_presign_url(&p, &out, &e), 0, "TOKEN2 presigns");
	is_str(buf_cstr(&out),
	       "myproxy.proxy-c0abcdefghij.us-east-1.rds.amazonaws.com:3306/?Action=connect&DBUser=app%40user"
	       "&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20240101%2Fus-east-1%2Frds-db"
	       "%2Faws4_request&X-Amz-Date=20240101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host"
	       "&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLE%2FTOKEN%2BWITH%3Dspecial%2Fchars"
	       "&X-Amz-Signature=22c7efaf609ac56eb4c280f6c03627c64cdda0327bdbf586d1e3fa6e60551caa",
	       "TOKEN2 equals aws-behaviour.md 2.6");
	buf_free(&out);
	p.expires = SIGV4_MAX_EXPIRES + 1;
	buf_init(&out, 0);
	is_int(sigv4_presign_url(&p, &out, &e), -1, "presign refuses an out-of-range expiry");
	buf_free(&out);
}

int main(void)
{
	test_vectors();
	test_parse_errors();
	test_time();
	test_canonical_forms();
	test_presign_token();
	return done_testing();
}
