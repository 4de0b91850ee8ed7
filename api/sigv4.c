/*
 * sigv4.c owns AWS Signature Version 4: reading what a request claims
 * (Authorization header or presigned X-Amz-* query), the time window, the
 * signing stages, verification, and presigning.
 *
 * May call: libc, OpenSSL (HMAC, digests, CRYPTO_memcmp, OPENSSL_cleanse),
 * emu/buf, emu/err, emu/util (hex, sha256), emu/clock (formats and parsers
 * only; the caller passes "now").  Nothing else: no I/O, no store, no
 * globals with state, so the token verifier (wire/) can reuse it.
 *
 * Invariants:
 * - Every length taken from the request is checked against a SIGV4_MAX_*
 *   limit before it sizes a copy; every fixed field of struct sigv4_auth is
 *   NUL-terminated after sigv4_parse, whatever the input.
 * - An error is raised once, where it is found, with AWS's text where it is
 *   known; user text echoed into a message is capped and has control and
 *   non-ASCII bytes replaced, so every message is printable ASCII.
 * - The secret, kSigning and intermediate keys never reach a message and
 *   are wiped from the stack after use.
 *
 * Choices where AWS's behaviour is not documented ([?] in aws-behaviour.md):
 * - '+' in a raw query string decodes to a space, as in HTML forms and Go's
 *   url.QueryEscape; it is re-encoded as %20.  Signers that send '+' (Go
 *   v2) sign %20, so this is what verifies; botocore and JS send %2B.
 * - A '%' not followed by two hex digits makes the query MalformedQueryString
 *   (ERR_SERIALIZATION) in sigv4_parse; the canonicaliser, if called on
 *   such a query anyway, encodes the '%' itself as %25.
 * - Empty query segments ("a=1&&b=2") are dropped; "k" without '=' is "k=".
 * - An Authorization header that does not start with "AWS4-" is treated as
 *   no authentication at all (MissingAuthenticationToken), as DynamoDB,
 *   another coral JSON service, answers (observed by dynalite).
 * - A header named in SignedHeaders but absent from the request becomes
 *   "name:" in the canonical request, so the signature cannot match.
 * - X-Amz-Expires is optional for presigned API requests; when present it
 *   must be 0..604800 (S3's bound and texts) and the request is refused
 *   once now > X-Amz-Date + X-Amz-Expires, with the "Signature expired"
 *   text of the skew window (N given in min. or sec.).  The skew window
 *   applies as well (STS ignores longer X-Amz-Expires; aws-sdk-go#2167).
 * - Too long a security token is UnrecognizedClient ("The security token
 *   included in the request is invalid."), which is what AWS says about a
 *   token it cannot use; other limits are IncompleteSignature with our own
 *   texts (AWS's are unknown).
 * - The signature-mismatch message is the plain text of section 1.5; AWS
 *   appends the canonical request and string to sign for some services,
 *   which the caller may add from the stage functions if it wants to.
 */
#include "api/sigv4.h"

#include "emu/clock.h"
#include "emu/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
#define TERMINATOR "aws4_request"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ECHO_MAX 400      /* bytes of user text echoed into one message */
#define ECHO_PART_MAX 100 /* per item when a message lists several */
#define MAX_AMZ_TIME 253402300799LL /* 9999-12-31T23:59:59Z */

/* ---- small helpers ------------------------------------------------------ */

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
	       c == '.' || c == '~';
}

static bool ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

static unsigned char lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c; }

/* s[0..n) equals the NUL-terminated lit, ignoring ASCII case. */
static bool ieq(const char *s, size_t n, const char *lit)
{
	size_t i = 0;
	for (; i < n; i++)
		if (!lit[i] || lower((unsigned char)s[i]) != lower((unsigned char)lit[i]))
			return false;
	return lit[i] == '\0';
}

/* a[0..n) and b[0..n) equal ignoring ASCII case. */
static bool same_name(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return false;
	return true;
}

static bool eq(const char *s, size_t n, const char *lit) { return strlen(lit) == n && memcmp(s, lit, n) == 0; }

static const struct sigv4_header *find_hdr(const struct sigv4_request *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (req->headers[i].name && ieq(req->headers[i].name, req->headers[i].name_len, name))
			return &req->headers[i];
	return NULL;
}

/* Copies user text into dst for an error message: at most max bytes of it,
 * bytes outside printable ASCII as '?', "..." when cut. */
static void echo(char *dst, size_t cap, const char *s, size_t n, size_t max)
{
	size_t take = n < max ? n : max, o = 0;
	for (size_t i = 0; i < take && o + 4 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		dst[o++] = (c < 0x20 || c > 0x7e) ? '?' : (char)c;
	}
	if (take < n && o + 3 < cap) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

/* Decodes %XX and '+' (as space) of s[0..n) into out (cap bytes, NUL
 * included).  False when it does not fit.  Bad escapes are kept as is. */
static bool decode(const char *s, size_t n, char *out, size_t cap, size_t *outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%' && i + 2 < n && util_hexval((unsigned char)s[i + 1]) >= 0 && util_hexval((unsigned char)s[i + 2]) >= 0) {
			c = (unsigned char)(util_hexval((unsigned char)s[i + 1]) * 16 + util_hexval((unsigned char)s[i + 2]));
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (o + 1 >= cap)
			return false;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	if (outlen)
		*outlen = o;
	return true;
}

/* Whether the decoded form of s[0..n) is exactly lit (no copy). */
static bool dec_eq(const char *s, size_t n, const char *lit)
{
	size_t j = 0;
	for (size_t i = 0; i < n; i++, j++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%' && i + 2 < n && util_hexval((unsigned char)s[i + 1]) >= 0 && util_hexval((unsigned char)s[i + 2]) >= 0) {
			c = (unsigned char)(util_hexval((unsigned char)s[i + 1]) * 16 + util_hexval((unsigned char)s[i + 2]));
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (!lit[j] || (unsigned char)lit[j] != c)
			return false;
	}
	return lit[j] == '\0';
}

enum enc_mode {
	ENC_PATH,  /* raw path segment: every byte but unreserved encoded, '%' too */
	ENC_QUERY, /* raw query key or value: decode %XX and '+', then encode */
	ENC_PLAIN, /* decoded text: encode every byte but unreserved */
};

static void put_pct(struct buf *b, unsigned char c)
{
	static const char hx[] = "0123456789ABCDEF";
	char e[3] = {'%', hx[c >> 4], hx[c & 15]};
	buf_put(b, e, 3);
}

/* Appends s[0..n) in canonical URI encoding (RFC 3986 unreserved set kept,
 * everything else %XX with upper-case hex).  Runs of unreserved bytes are
 * copied in one go. */
static void put_enc(struct buf *b, const char *s, size_t n, enum enc_mode mode)
{
	size_t run = 0;
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c)) {
			i++;
			continue;
		}
		buf_put(b, s + run, i - run);
		size_t adv = 1;
		if (mode == ENC_QUERY && c == '%' && i + 2 < n && util_hexval((unsigned char)s[i + 1]) >= 0 &&
		    util_hexval((unsigned char)s[i + 2]) >= 0) {
			c = (unsigned char)(util_hexval((unsigned char)s[i + 1]) * 16 + util_hexval((unsigned char)s[i + 2]));
			adv = 3;
		} else if (mode == ENC_QUERY && c == '+') {
			c = ' ';
		}
		if (unreserved(c))
			buf_put(b, &c, 1);
		else
			put_pct(b, c);
		i += adv;
		run = i;
	}
	buf_put(b, s + run, n - run);
}

/* One '&'-separated query parameter: raw key and value slices. */
struct qparam {
	const char *k;
	size_t kl;
	const char *v;
	size_t vl;
};

/* Next non-empty segment of q[*pos..n); false at the end. */
static bool next_param(const char *q, size_t n, size_t *pos, struct qparam *out)
{
	while (*pos < n) {
		size_t s = *pos, e = s;
		while (e < n && q[e] != '&')
			e++;
		*pos = e < n ? e + 1 : n;
		if (e == s)
			continue;
		const char *eqp = memchr(q + s, '=', e - s);
		out->k = q + s;
		out->kl = eqp ? (size_t)(eqp - (q + s)) : e - s;
		out->v = eqp ? eqp + 1 : q + e;
		out->vl = eqp ? (size_t)(q + e - (eqp + 1)) : 0;
		return true;
	}
	return false;
}

/* ---- parsing ------------------------------------------------------------ */

/* Raw query well-formed: escapes complete, parameters within the limit. */
static int check_query(const char *q, size_t n, struct emu_err *err)
{
	size_t count = 0, pos = 0;
	struct qparam p;
	while (next_param(q, n, &pos, &p))
		if (++count > SIGV4_MAX_QUERY_PARAMS)
			return emu_err_set(err, ERR_INCOMPLETE_SIGNATURE,
			                   "The query string has more than %d parameters.", SIGV4_MAX_QUERY_PARAMS);
	for (size_t i = 0; i < n; i++) {
		if (q[i] != '%')
			continue;
		if (i + 2 >= n)
			return emu_err_set(err, ERR_SERIALIZATION, "Incomplete trailing escape %% sequence");
		if (util_hexval((unsigned char)q[i + 1]) < 0 || util_hexval((unsigned char)q[i + 2]) < 0) {
			char e[8];
			echo(e, sizeof e, q + i + 1, 2, 2);
			return emu_err_set(err, ERR_SERIALIZATION, "Illegal hex character in escape %% pattern: %%%s", e);
		}
		i += 2;
	}
	return 0;
}

static int bad_date(const char *s, size_t n, struct emu_err *err)
{
	char e[ECHO_MAX + 4];
	echo(e, sizeof e, s, n, ECHO_MAX);
	return emu_err_set(err, ERR_INCOMPLETE_SIGNATURE,
	                   "Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", e);
}

static int set_time(struct sigv4_auth *a, time_t t, const char *s, size_t n, struct emu_err *err)
{
	if (t < 0 || (long long)t > MAX_AMZ_TIME)
		return bad_date(s, n, err);
	a->request_time = t;
	clock_fmt_amz((double)t, a->amz_date);
	return 0;
}

/* X-Amz-Date value (yyyymmddTHHMMSSZ). */
static int parse_amz_date(struct sigv4_auth *a, const char *s, size_t n, struct emu_err *err)
{
	time_t t;
	if (!clock_parse_amz(s, n, &t))
		return bad_date(s, n, err);
	return set_time(a, t, s, n, err);
}

/* Date header (RFC 1123).  botocore writes the zone as "-0000" (email.utils
 * formatdate), others "GMT"; "+0000" and "UTC" are accepted too. */
static int parse_http_date(struct sigv4_auth *a, const char *s, size_t n, struct emu_err *err)
{
	static const char *const zones[] = {" -0000", " +0000", " UTC", " GMT"};
	char tmp[64];
	time_t t;
	if (n + 1 > sizeof tmp)
		return bad_date(s, n, err);
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	for (size_t i = 0; i < ARRAY_LEN(zones); i++) {
		size_t zl = strlen(zones[i]);
		if (n >= zl && memcmp(tmp + n - zl, zones[i], zl) == 0) {
			if (n - zl + 5 > sizeof tmp)
				return bad_date(s, n, err);
			memcpy(tmp + n - zl, " GMT", 5);
			break;
		}
	}
	if (!clock_parse_rfc1123(tmp, &t))
		return bad_date(s, n, err);
	return set_time(a, t, s, n, err);
}

/* Splits the SignedHeaders value (already in a->signed_headers) into names
 * and checks that host is one of them. */
static int split_signed(struct sigv4_auth *a, struct emu_err *err)
{
	bool host = false;
	size_t s = 0;
	a->nsigned = 0;
	if (a->signed_headers_len > 0) {
		for (size_t i = 0; i <= a->signed_headers_len; i++) {
			if (i < a->signed_headers_len && a->signed_headers[i] != ';')
				continue;
			if (a->nsigned == SIGV4_MAX_SIGNED_HEADERS)
				return emu_err_set(err, ERR_INCOMPLETE_SIGNATURE,
				                   "SignedHeaders names more than %d headers.", SIGV4_MAX_SIGNED_HEADERS);
			a->sh_off[a->nsigned] = (unsigned short)s;
			a->sh_len[a->nsigned] = (unsigned short)(i - s);
			if (ieq(a->signed_headers + s, i - s, "host") || ieq(a->signed_headers + s, i - s, ":authority"))
				host = true;
			a->nsigned++;
			s = i + 1;
		}
	}
	if (!host)
		return emu_err_set(err, ERR_INVALID_SIGNATURE,
		                   "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
	return 0;
}

static int set_signed(struct sigv4_auth *a, const char *s, size_t n, bool query, struct emu_err *err)
{
	size_t len = n;
	if (query) {
		if (n > 3 * SIGV4_MAX_SIGNED_HEADERS_LEN ||
		    !decode(s, n, a->signed_headers, sizeof a->signed_headers, &len))
			goto toolong;
	} else {
		if (n > SIGV4_MAX_SIGNED_HEADERS_LEN)
			goto toolong;
		memcpy(a->signed_headers, s, n);
		a->signed_headers[n] = '\0';
	}
	a->signed_headers_len = len;
	return split_signed(a, err);
toolong:
	return emu_err_set(err, ERR_INCOMPLETE_SIGNATURE, "SignedHeaders is longer than %d bytes.",
	                   SIGV4_MAX_SIGNED_HEADERS_LEN);
}

static int check_algorithm(const char *s, size_t n, struct emu_err *err)
{
	if (eq(s, n, ALGORITHM))
		return 0;
	char e[ECHO_MAX + 4];
	echo(e, sizeof e, s, n, ECHO_PART_MAX);
	return emu_err_set(err, ERR_INCOMPLETE_SIGNATURE,
	                   "Unsupported AWS 'algorithm': '%s' (only AWS4-HMAC-SHA256 for now). ", e);
}

/* Credential "<akid>/<yyyymmdd>/<region>/<service>/aws4_request" (decoded),
 * and the scope checks that need no knowledge of the endpoint. */
static int parse_credential(struct sigv4_auth *a, const char *c, size_t n, struct emu_err *err)
{
	const char *part[5];
	size_t plen[5], np = 0, s = 0;
	size_t end = n;
	while (end > 0 && c[end - 1] == '/') /* trailing slashes are ignored (dynalite) */
		end--;
	for (size_t i = 0; i <= end; i++) {
		if (i < end && c[i] != '/')
			continue;
		if (np < 5) {
			part[np] = c + s;
			plen[np] = i - s;
		}
		np++;
		s = i + 1;
	}
	if (np != 5) {
		char e[ECHO_MAX + 4];
		echo(e, sizeof e, c, n, ECHO_MAX);
		return emu_err_set(err, ERR_INCOMPLETE_SIGNATURE,
		                   "Credential must have exactly 5 slash-delimited elements, "
		                   "e.g. keyid/date/region/service/term, got '%s'",
		                   e);
	}
	if (plen[0] >= sizeof a->access_key_id)
		return emu_err_set(err, ERR_UNRECOGNIZED_CLIENT, NULL);

	/* Each failed element adds its sentence, as AWS lists them all. */
	char msg[EMU_ERR_MSG_MAX], e[ECHO_PART_MAX + 8], e2[ECHO_PART_MAX + 8];
	size_t m = 0;
	msg[0] = '\0';
	if (plen[2] == 0 || plen[2] >= sizeof a->region) {
		echo(e, sizeof e, part[2], plen[2], ECHO_PART_MAX);
		m += (size_t)snprintf(msg + m, sizeof msg - m, "Credential should be scoped to a valid region, not '%s'. ", e);
	}
	if (plen[3] >= sizeof a->service && m < sizeof msg) {
		echo(e, sizeof e, part[3], plen[3], ECHO_PART_MAX);
		m += (size_t)snprintf(msg + m, sizeof msg - m, "Credential should be scoped to a valid service, not '%s'. ",
		                      e);
	}
	if (!eq(part[4], plen[4], TERMINATOR) && m < sizeof msg) {
		echo(e, sizeof e, part[4], plen[4], ECHO_PART_MAX);
		m += (size_t)snprintf(msg + m, sizeof msg - m,
		                      "Credential should be scoped with a valid terminator: 'aws4_request', not '%s'. ", e);
	}
	if ((plen[1] != 8 || memcmp(part[1], a->amz_date, 8) != 0) && m < sizeof msg) {
		echo(e, sizeof e, part[1], plen[1], ECHO_PART_MAX);
		echo(e2, sizeof e2, a->amz_date, 8, 8);
		m += (size_t)snprintf(msg + m, sizeof msg - m,
		                      "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
		                      "HTTP: '%s' != '%s', from '%s'. ",
		                      e, e2, a->amz_date);
	}
	if (m > 0)
		return emu_err_set(err, ERR_INVALID_SIGNATURE, "%s", msg);
	memcpy(a->access_key_id, part[0], plen[0]);
	a->access_key_id[plen[0]] = '\0';
	memcpy(a->date, part[1], 8);
	a->date[8] = '\0';
	memcpy(a->region, part[2], plen[2]);
	a->region[plen[2]] = '\0';
	memcpy(a->service, part[3], plen[3]);
	a->service[plen[3]] = '\0';
	return 0;
}

static void set_signature(struct sigv4_auth *a, const char *s, size_t n)
{
	if (n != 64) {
		a->signature[0] = '\0'; /* cannot match; verify says so */
		return;
	}
	memcpy(a->signature, s, 64);
	a->signature[64] = '\0';
}

static int set_token(struct sigv4_auth *a, const char *s, size_t n, bool query, struct emu_err *err)
{
	if (n > (query ? 3 * SIGV4_MAX_SECURITY_TOKEN : SIGV4_MAX_SECURITY_TOKEN))
		return emu_err_set(err, ERR_UNRECOGNIZED_CLIENT, NULL);
	char *t = malloc(n + 1);
	if (!t)
		return emu_err_set(err, ERR_INTERNAL, NULL);
	size_t len = n;
	if (query) {
		decode(s, n, t, n + 1, &len); /* decoded is never longer */
	} else {
		memcpy(t, s, n);
		t[n] = '\0';
	}
	if (len > SIGV4_MAX_SECURITY_TOKEN) {
		OPENSSL_cleanse(t, n);
		free(t);
		return emu_err_set(err, ERR_UNRECOGNIZED_CLIENT, NULL);
	}
	a->security_token = t;
	return 0;
}

/* A slice of the Authorization value. */
struct slice {
	const char *p;
	size_t n;
	bool set;
};

static int parse_header(const struct sigv4_request *req, const struct sigv4_header *h, struct sigv4_auth *a,
                        struct emu_err *err)
{
	const char *v = h->value ? h->value : "";
	size_t n = h->value ? h->value_len : 0;
	char e[ECHO_MAX + 4], e2[ECHO_MAX + 4];

	if (n > SIGV4_MAX_AUTH_HEADER)
		return emu_err_set(err, ERR_INCOMPLETE_SIGNATURE, "Authorization header is longer than %d bytes.",
		                   SIGV4_MAX_AUTH_HEADER);
	size_t i = 0, end = n;
	while (i < end && ws((unsigned char)v[i]))
		i++;
	while (end > i && ws((unsigned char)v[end - 1]))
		end--;
	const char *alg = v + i;
	while (i < end && !ws((unsigned char)v[i]))
		i++;
	size_t alg_len = (size_t)(v + i - alg);
	if (alg_len < 5 || memcmp(alg, "AWS4-", 5) != 0)
		return emu_err_set(err, ERR_MISSING_AUTH, NULL);

	/* key=value items separated by commas and/or whitespace; the last one
	 * of a key wins. */
	struct slice cred = {0}, sig = {0}, sh = {0};
	while (i < end) {
		while (i < end && (ws((unsigned char)v[i]) || v[i] == ','))
			i++;
		if (i >= end)
			break;
		const char *t = v + i;
		while (i < end && !ws((unsigned char)v[i]) && v[i] != ',')
			i++;
		size_t tl = (size_t)(v + i - t);
		const char *eqp = memchr(t, '=', tl);
		if (!eqp) {
			echo(e, sizeof e, t, tl, ECHO_PART_MAX);
			echo(e2, sizeof e2, v, n, ECHO_MAX);
			return emu_err_set(err, ERR_INCOMPLETE_SIGNATURE,
			                   "'%s' not a valid key=value pair (missing equal-sign) in Authorization header: '%s'.",
			                   e, e2);
		}
		struct slice val = {eqp + 1, (size_t)(t + tl - (eqp + 1)), true};
		size_t kl = (size_t)(eqp - t);
		if (eq(t, kl, "Credential"))
			cred = val;
		else if (eq(t, kl, "Signature"))
			sig = val;
		else if (eq(t, kl, "SignedHeaders"))
			sh = val;
	}

	const struct sigv4_header *xd = find_hdr(req, "x-amz-date");
	const struct sigv4_header *dh = find_hdr(req, "date");
	if (xd && xd->value_len == 0)
		xd = NULL;
	if (dh && dh->value_len == 0)
		dh = NULL;
	char msg[EMU_ERR_MSG_MAX];
	size_t m = 0;
	msg[0] = '\0';
	if (!cred.set || cred.n == 0)
		m += (size_t)snprintf(msg + m, sizeof msg - m, "Authorization header requires 'Credential' parameter. ");
	if (!sig.set || sig.n == 0)
		m += (size_t)snprintf(msg + m, sizeof msg - m, "Authorization header requires 'Signature' parameter. ");
	if (!sh.set)
		m += (size_t)snprintf(msg + m, sizeof msg - m, "Authorization header requires 'SignedHeaders' parameter. ");
	if (!xd && !dh)
		m += (size_t)snprintf(msg + m, sizeof msg - m,
		                      "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ");
	if (m > 0) {
		echo(e, sizeof e, v, n, ECHO_MAX);
		return emu_err_set(err, ERR_INCOMPLETE_SIGNATURE, "%sAuthorization=%s", msg, e);
	}

	if (xd ? parse_amz_date(a, xd->value, xd->value_len, err) : parse_http_date(a, dh->value, dh->value_len, err))
		return -1;
	if (set_signed(a, sh.p, sh.n, false, err) < 0 || check_algorithm(alg, alg_len, err) < 0 ||
	    parse_credential(a, cred.p, cred.n, err) < 0)
		return -1;
	const struct sigv4_header *tok = find_hdr(req, "x-amz-security-token");
	if (tok && set_token(a, tok->value ? tok->value : "", tok->value ? tok->value_len : 0, false, err) < 0)
		return -1;
	set_signature(a, sig.p, sig.n);
	return 0;
}

/* The X-Amz-* parameters of a presigned request (raw slices, first wins). */
enum qp_name {
	QP_ALGORITHM,
	QP_CREDENTIAL,
	QP_SIGNATURE,
	QP_SIGNED_HEADERS,
	QP_DATE,
	QP_EXPIRES,
	QP_TOKEN,
	QP__COUNT,
};

static const char *const qp_names[QP__COUNT] = {
	[QP_ALGORITHM] = "X-Amz-Algorithm",
	[QP_CREDENTIAL] = "X-Amz-Credential",
	[QP_SIGNATURE] = "X-Amz-Signature",
	[QP_SIGNED_HEADERS] = "X-Amz-SignedHeaders",
	[QP_DATE] = "X-Amz-Date",
	[QP_EXPIRES] = "X-Amz-Expires",
	[QP_TOKEN] = "X-Amz-Security-Token",
};

static int parse_expires(struct sigv4_auth *a, const char *s, size_t n, struct emu_err *err)
{
	char d[32];
	size_t len;
	if (!decode(s, n, d, sizeof d, &len) || len == 0)
		return emu_err_set(err, ERR_INCOMPLETE_SIGNATURE, "X-Amz-Expires should be a number");
	size_t i = d[0] == '-' ? 1 : 0;
	if (i == len)
		return emu_err_set(err, ERR_INCOMPLETE_SIGNATURE, "X-Amz-Expires should be a number");
	long v = 0;
	for (; i < len; i++) {
		if (d[i] < '0' || d[i] > '9')
			return emu_err_set(err, ERR_INCOMPLETE_SIGNATURE, "X-Amz-Expires should be a number");
		if (v <= SIGV4_MAX_EXPIRES)
			v = v * 10 + (d[i] - '0');
	}
	if (d[0] == '-')
		return emu_err_set(err, ERR_INCOMPLETE_SIGNATURE, "X-Amz-Expires must be non-negative");
	if (v > SIGV4_MAX_EXPIRES)
		return emu_err_set(err, ERR_INCOMPLETE_SIGNATURE,
		                   "X-Amz-Expires must be less than a week (in seconds) that is %d", SIGV4_MAX_EXPIRES);
	a->expires = v;
	return 0;
}

static int parse_presigned(const char *q, size_t qn, struct sigv4_auth *a, struct emu_err *err)
{
	struct slice p[QP__COUNT];
	memset(p, 0, sizeof p);
	size_t pos = 0;
	struct qparam qp;
	while (next_param(q, qn, &pos, &qp))
		for (int i = 0; i < QP__COUNT; i++)
			if (!p[i].set && dec_eq(qp.k, qp.kl, qp_names[i])) {
				p[i] = (struct slice){qp.v, qp.vl, true};
				break;
			}
	a->presigned = true;

	char msg[EMU_ERR_MSG_MAX];
	size_t m = 0;
	msg[0] = '\0';
	for (int i = QP_ALGORITHM; i <= QP_DATE; i++)
		if (!p[i].set || p[i].n == 0)
			m += (size_t)snprintf(msg + m, sizeof msg - m, "AWS query-string parameters must include '%s'. ",
			                      qp_names[i]);
	if (m > 0)
		return emu_err_set(err, ERR_INCOMPLETE_SIGNATURE, "%sRe-examine the query-string parameters.", msg);

	char d[SIGV4_MAX_AUTH_HEADER + 1];
	size_t dl;
	if (!decode(p[QP_DATE].p, p[QP_DATE].n, d, sizeof d, &dl))
		return bad_date(p[QP_DATE].p, p[QP_DATE].n, err);
	if (parse_amz_date(a, d, dl, err) < 0)
		return -1;
	if (set_signed(a, p[QP_SIGNED_HEADERS].p, p[QP_SIGNED_HEADERS].n, true, err) < 0)
		return -1;
	if (!decode(p[QP_ALGORITHM].p, p[QP_ALGORITHM].n, d, sizeof d, &dl))
		return check_algorithm(p[QP_ALGORITHM].p, p[QP_ALGORITHM].n, err);
	if (check_algorithm(d, dl, err) < 0)
		return -1;
	if (!decode(p[QP_CREDENTIAL].p, p[QP_CREDENTIAL].n, d, sizeof d, &dl))
		return emu_err_set(err, ERR_INCOMPLETE_SIGNATURE, "X-Amz-Credential is longer than %d bytes.",
		                   SIGV4_MAX_AUTH_HEADER);
	if (parse_credential(a, d, dl, err) < 0)
		return -1;
	if (p[QP_EXPIRES].set && parse_expires(a, p[QP_EXPIRES].p, p[QP_EXPIRES].n, err) < 0)
		return -1;
	if (!decode(p[QP_SIGNATURE].p, p[QP_SIGNATURE].n, d, sizeof d, &dl))
		dl = 0;
	set_signature(a, d, dl);
	if (p[QP_TOKEN].set && set_token(a, p[QP_TOKEN].p, p[QP_TOKEN].n, true, err) < 0)
		return -1;
	return 0;
}

int sigv4_parse(const struct sigv4_request *req, struct sigv4_auth *out, struct emu_err *err)
{
	memset(out, 0, sizeof *out);
	out->expires = -1;
	const char *q = req->query ? req->query : "";
	size_t qn = strlen(q);
	if (check_query(q, qn, err) < 0)
		return -1;

	bool in_query = false;
	size_t pos = 0;
	struct qparam qp;
	while (!in_query && next_param(q, qn, &pos, &qp))
		in_query = dec_eq(qp.k, qp.kl, "X-Amz-Algorithm");
	const struct sigv4_header *h = find_hdr(req, "authorization");

	int rc;
	if (h && in_query)
		rc = emu_err_set(err, ERR_INVALID_SIGNATURE,
		                 "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.");
	else if (h)
		rc = parse_header(req, h, out, err);
	else if (in_query)
		rc = parse_presigned(q, qn, out, err);
	else
		rc = emu_err_set(err, ERR_MISSING_AUTH, NULL);
	if (rc < 0)
		sigv4_auth_free(out);
	return rc;
}

void sigv4_auth_free(struct sigv4_auth *a)
{
	if (a->security_token) {
		OPENSSL_cleanse(a->security_token, strlen(a->security_token));
		free(a->security_token);
		a->security_token = NULL;
	}
}

int sigv4_check_scope(const struct sigv4_auth *a, const char *region, const char *service, struct emu_err *err)
{
	char msg[EMU_ERR_MSG_MAX];
	size_t m = 0;
	msg[0] = '\0';
	if (region && strcmp(a->region, region) != 0)
		m += (size_t)snprintf(msg + m, sizeof msg - m, "Credential should be scoped to a valid region, not '%s'. ",
		                      a->region);
	if (service && strcmp(a->service, service) != 0 && m < sizeof msg)
		m += (size_t)snprintf(msg + m, sizeof msg - m, "Credential should be scoped to correct service: '%s'. ",
		                      service);
	if (m > 0)
		return emu_err_set(err, ERR_INVALID_SIGNATURE, "%s", msg);
	return 0;
}

/* "15 min" for whole minutes, else "100 sec". */
static void span(long s, char out[32])
{
	if (s % 60 == 0)
		snprintf(out, 32, "%ld min", s / 60);
	else
		snprintf(out, 32, "%ld sec", s);
}

int sigv4_check_time(const struct sigv4_auth *a, double now, int window_s, struct emu_err *err)
{
	if (!(now >= 0 && now <= (double)MAX_AMZ_TIME)) /* also NaN: never convert it */
		return emu_err_set(err, ERR_INTERNAL, "The server clock is out of range.");
	long long n = (long long)now, t = (long long)a->request_time, w = window_s < 0 ? 0 : window_s;
	char nows[17], edge[17], sp[32];
	clock_fmt_amz((double)n, nows);
	if (t < n - w) {
		clock_fmt_amz((double)(n - w), edge);
		span((long)w, sp);
		return emu_err_set(err, ERR_INVALID_SIGNATURE, "Signature expired: %s is now earlier than %s (%s - %s.)",
		                   a->amz_date, edge, nows, sp);
	}
	if (t > n + w) {
		clock_fmt_amz((double)(n + w), edge);
		span((long)w, sp);
		return emu_err_set(err, ERR_INVALID_SIGNATURE, "Signature not yet current: %s is still later than %s (%s + %s.)",
		                   a->amz_date, edge, nows, sp);
	}
	if (a->presigned && a->expires >= 0 && n > t + a->expires) {
		clock_fmt_amz((double)(n - a->expires), edge);
		span(a->expires, sp);
		return emu_err_set(err, ERR_INVALID_SIGNATURE, "Signature expired: %s is now earlier than %s (%s - %s.)",
		                   a->amz_date, edge, nows, sp);
	}
	return 0;
}

/* ---- signing stages ----------------------------------------------------- */

static void hmac(const void *key, size_t klen, const void *msg, size_t mlen, unsigned char out[32])
{
	unsigned int len = 32;
	HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &len);
}

void sigv4_signing_key(const char *secret, const char *date, const char *region, const char *service,
                       unsigned char out[32])
{
	size_t sl = strlen(secret);
	unsigned char stackk[260], k[32];
	unsigned char *ks = sl + 4 <= sizeof stackk ? stackk : util_xcalloc(1, sl + 4);
	memcpy(ks, "AWS4", 4);
	memcpy(ks + 4, secret, sl);
	hmac(ks, sl + 4, date, strlen(date), k);
	OPENSSL_cleanse(ks, sl + 4);
	if (ks != stackk)
		free(ks);
	hmac(k, 32, region, strlen(region), k);
	hmac(k, 32, service, strlen(service), k);
	hmac(k, 32, TERMINATOR, strlen(TERMINATOR), out);
	OPENSSL_cleanse(k, sizeof k);
}

void sigv4_signature(const unsigned char key[32], const char *sts, size_t sts_len, char out[65])
{
	unsigned char md[32];
	hmac(key, 32, sts, sts_len, md);
	util_hex(md, 32, out);
}

/* Canonical URI as botocore builds it for every service but S3: dot
 * segments and empty segments removed (RFC 3986 5.2.4 plus AWS's rule on
 * repeated slashes), then each segment URI-encoded again ('%' included). */
static int put_path(struct buf *b, const char *path)
{
	if (!path || !*path || (path[0] == '/' && path[1] == '\0')) {
		buf_putc(b, '/');
		return 0;
	}
	struct {
		const char *p;
		size_t n;
	} seg[SIGV4_MAX_PATH_SEGMENTS];
	size_t ns = 0, n = strlen(path), s = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && path[i] != '/')
			continue;
		size_t l = i - s;
		const char *p = path + s;
		s = i + 1;
		if (l == 0 || (l == 1 && p[0] == '.'))
			continue;
		if (l == 2 && p[0] == '.' && p[1] == '.') {
			if (ns > 0)
				ns--;
			continue;
		}
		if (ns == SIGV4_MAX_PATH_SEGMENTS)
			return -1;
		seg[ns].p = p;
		seg[ns].n = l;
		ns++;
	}
	if (path[0] == '/')
		buf_putc(b, '/');
	for (size_t i = 0; i < ns; i++) {
		if (i)
			buf_putc(b, '/');
		put_enc(b, seg[i].p, seg[i].n, ENC_PATH);
	}
	if (path[n - 1] == '/' && ns > 0)
		buf_putc(b, '/');
	return 0;
}

struct cpair {
	size_t ko, kl, vo, vl; /* offsets into the scratch buffer */
	const char *base;
};

static int cmp_bytes(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	if (c)
		return c;
	return al < bl ? -1 : al > bl;
}

static int cmp_pair(const void *x, const void *y)
{
	const struct cpair *a = x, *b = y;
	int c = cmp_bytes(a->base + a->ko, a->kl, b->base + b->ko, b->kl);
	return c ? c : cmp_bytes(a->base + a->vo, a->vl, b->base + b->vo, b->vl);
}

/* Canonical query: each key and value decoded and re-encoded, sorted by
 * key then value (bytewise, as botocore sorts (key, value) tuples),
 * X-Amz-Signature left out. */
static int put_query(struct buf *b, const char *q)
{
	if (!q || !*q)
		return 0;
	size_t n = strlen(q), pos = 0, np = 0;
	struct cpair pr[SIGV4_MAX_QUERY_PARAMS];
	struct qparam p;
	struct buf s;
	buf_init(&s, SIGV4_MAX_CANONICAL);
	while (next_param(q, n, &pos, &p)) {
		if (dec_eq(p.k, p.kl, "X-Amz-Signature"))
			continue;
		if (np == SIGV4_MAX_QUERY_PARAMS) {
			buf_free(&s);
			return -1;
		}
		pr[np].ko = s.len;
		put_enc(&s, p.k, p.kl, ENC_QUERY);
		pr[np].kl = s.len - pr[np].ko;
		pr[np].vo = s.len;
		put_enc(&s, p.v, p.vl, ENC_QUERY);
		pr[np].vl = s.len - pr[np].vo;
		np++;
	}
	if (s.failed) {
		buf_free(&s);
		return -1;
	}
	for (size_t i = 0; i < np; i++)
		pr[i].base = s.data ? s.data : "";
	qsort(pr, np, sizeof pr[0], cmp_pair);
	for (size_t i = 0; i < np; i++) {
		if (i)
			buf_putc(b, '&');
		buf_put(b, pr[i].base + pr[i].ko, pr[i].kl);
		buf_putc(b, '=');
		buf_put(b, pr[i].base + pr[i].vo, pr[i].vl);
	}
	buf_free(&s);
	return 0;
}

/* trimall: leading and trailing whitespace removed, inner runs as one space. */
static void put_trimall(struct buf *b, const char *v, size_t n)
{
	size_t i = 0;
	bool first = true;
	while (i < n) {
		while (i < n && ws((unsigned char)v[i]))
			i++;
		if (i >= n)
			break;
		size_t s = i;
		while (i < n && !ws((unsigned char)v[i]))
			i++;
		if (!first)
			buf_putc(b, ' ');
		buf_put(b, v + s, i - s);
		first = false;
	}
}

static void put_lower(struct buf *b, const char *s, size_t n)
{
	char tmp[64];
	while (n > 0) {
		size_t k = n < sizeof tmp ? n : sizeof tmp;
		for (size_t i = 0; i < k; i++)
			tmp[i] = (char)lower((unsigned char)s[i]);
		buf_put(b, tmp, k);
		s += k;
		n -= k;
	}
}

int sigv4_canonical_request(const struct sigv4_request *req, const struct sigv4_auth *a, struct buf *out)
{
	const char *method = req->method ? req->method : "";
	for (const char *m = method; *m; m++)
		buf_putc(out, (*m >= 'a' && *m <= 'z') ? (char)(*m - 32) : *m);
	buf_putc(out, '\n');
	if (put_path(out, req->path) < 0)
		return -1;
	buf_putc(out, '\n');
	if (put_query(out, req->query) < 0)
		return -1;
	buf_putc(out, '\n');

	for (size_t i = 0; i < a->nsigned && i < SIGV4_MAX_SIGNED_HEADERS; i++) {
		const char *name = a->signed_headers + a->sh_off[i];
		size_t nl = a->sh_len[i];
		put_lower(out, name, nl);
		buf_putc(out, ':');
		if (req->host && ieq(name, nl, "host")) {
			put_trimall(out, req->host, strlen(req->host));
		} else {
			bool first = true;
			for (size_t j = 0; j < req->nheaders; j++) {
				const struct sigv4_header *h = &req->headers[j];
				if (!h->name || h->name_len != nl || !same_name(h->name, name, nl))
					continue;
				if (!first)
					buf_putc(out, ',');
				put_trimall(out, h->value ? h->value : "", h->value ? h->value_len : 0);
				first = false;
			}
		}
		buf_putc(out, '\n');
	}
	buf_putc(out, '\n');
	buf_put(out, a->signed_headers, a->signed_headers_len);
	buf_putc(out, '\n');

	const struct sigv4_header *ch = find_hdr(req, "x-amz-content-sha256");
	if (ch) {
		buf_put(out, ch->value ? ch->value : "", ch->value ? ch->value_len : 0);
	} else if (req->body_len == 0) {
		buf_puts(out, EMPTY_SHA256);
	} else {
		char hex[65];
		util_sha256_hex(req->body, req->body_len, hex);
		buf_put(out, hex, 64);
	}
	return out->failed ? -1 : 0;
}

int sigv4_string_to_sign(const struct sigv4_auth *a, const char *creq, size_t creq_len, struct buf *out)
{
	char hex[65];
	util_sha256_hex(creq, creq_len, hex);
	buf_puts(out, ALGORITHM "\n");
	buf_puts(out, a->amz_date);
	buf_putc(out, '\n');
	buf_puts(out, a->date);
	buf_putc(out, '/');
	buf_puts(out, a->region);
	buf_putc(out, '/');
	buf_puts(out, a->service);
	buf_puts(out, "/" TERMINATOR "\n");
	buf_put(out, hex, 64);
	return out->failed ? -1 : 0;
}

static bool hex64(const char *s, size_t n)
{
	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (util_hexval((unsigned char)s[i]) < 0)
			return false;
	return true;
}

int sigv4_verify(const struct sigv4_request *req, const struct sigv4_auth *a, const unsigned char key[32],
                 struct emu_err *err)
{
	/* A claimed payload hash must be the body's: otherwise a client that
	 * sends one (the JS SDK always does) would have an unsigned body. */
	const struct sigv4_header *ch = find_hdr(req, "x-amz-content-sha256");
	if (ch && ch->value && hex64(ch->value, ch->value_len)) {
		char hex[65];
		util_sha256_hex(req->body, req->body_len, hex);
		bool same = true;
		for (size_t i = 0; i < 64; i++)
			same &= lower((unsigned char)ch->value[i]) == (unsigned char)hex[i];
		if (!same)
			return emu_err_set(err, ERR_INVALID_SIGNATURE,
			                   "The provided 'x-amz-content-sha256' header does not match what was computed.");
	}

	struct buf cr, sts;
	buf_init(&cr, SIGV4_MAX_CANONICAL);
	buf_init(&sts, 512);
	int rc = -1;
	char sig[65];
	if (sigv4_canonical_request(req, a, &cr) < 0 || sigv4_string_to_sign(a, cr.data, cr.len, &sts) < 0) {
		emu_err_set(err, ERR_INVALID_SIGNATURE, NULL);
		goto out;
	}
	sigv4_signature(key, sts.data, sts.len, sig);
	if (strlen(a->signature) != 64 || CRYPTO_memcmp(sig, a->signature, 64) != 0)
		emu_err_set(err, ERR_INVALID_SIGNATURE, NULL);
	else
		rc = 0;
	OPENSSL_cleanse(sig, sizeof sig);
out:
	buf_free(&cr);
	buf_free(&sts);
	return rc;
}

/* ---- presigning --------------------------------------------------------- */

int sigv4_presign_url(const struct sigv4_presign *p, struct buf *out, struct emu_err *err)
{
	if (!p->method || !p->url_host || !p->access_key_id || !p->secret || !p->region || !p->service)
		return emu_err_set(err, ERR_VALIDATION, "presign: method, host, credentials, region and service are required");
	struct sigv4_auth a;
	memset(&a, 0, sizeof a);
	if (strlen(p->access_key_id) >= sizeof a.access_key_id || strlen(p->region) >= sizeof a.region ||
	    strlen(p->service) >= sizeof a.service || p->expires < 0 || p->expires > SIGV4_MAX_EXPIRES ||
	    p->when < 0 || (long long)p->when > MAX_AMZ_TIME)
		return emu_err_set(err, ERR_VALIDATION, "presign: a value is out of range");
	a.presigned = true;
	a.expires = p->expires;
	a.request_time = p->when;
	clock_fmt_amz((double)p->when, a.amz_date);
	memcpy(a.date, a.amz_date, 8);
	snprintf(a.access_key_id, sizeof a.access_key_id, "%s", p->access_key_id);
	snprintf(a.region, sizeof a.region, "%s", p->region);
	snprintf(a.service, sizeof a.service, "%s", p->service);
	memcpy(a.signed_headers, "host", 5);
	a.signed_headers_len = 4;
	a.sh_off[0] = 0;
	a.sh_len[0] = 4;
	a.nsigned = 1;

	struct buf q, cr, sts;
	buf_init(&q, SIGV4_MAX_CANONICAL);
	buf_init(&cr, SIGV4_MAX_CANONICAL);
	buf_init(&sts, 512);
	for (size_t i = 0; i < p->nparams; i++) {
		put_enc(&q, p->params[i].key, strlen(p->params[i].key), ENC_PLAIN);
		buf_putc(&q, '=');
		put_enc(&q, p->params[i].value, strlen(p->params[i].value), ENC_PLAIN);
		buf_putc(&q, '&');
	}
	char cred[320];
	int cl = snprintf(cred, sizeof cred, "%s/%s/%s/%s/" TERMINATOR, a.access_key_id, a.date, a.region, a.service);
	buf_puts(&q, "X-Amz-Algorithm=" ALGORITHM "&X-Amz-Credential=");
	put_enc(&q, cred, (size_t)cl, ENC_PLAIN);
	buf_printf(&q, "&X-Amz-Date=%s&X-Amz-Expires=%ld&X-Amz-SignedHeaders=host", a.amz_date, a.expires);
	if (p->session_token) {
		buf_puts(&q, "&X-Amz-Security-Token=");
		put_enc(&q, p->session_token, strlen(p->session_token), ENC_PLAIN);
	}
	int rc = -1;
	unsigned char key[32];
	char sig[65];
	struct sigv4_request r = {
		.method = p->method,
		.path = p->path ? p->path : "/",
		.query = buf_cstr(&q),
		.host = p->signed_host ? p->signed_host : p->url_host,
	};
	if (q.failed || sigv4_canonical_request(&r, &a, &cr) < 0 || sigv4_string_to_sign(&a, cr.data, cr.len, &sts) < 0) {
		emu_err_set(err, ERR_VALIDATION, "presign: the request is too large to sign");
		goto out;
	}
	sigv4_signing_key(p->secret, a.date, a.region, a.service, key);
	sigv4_signature(key, sts.data, sts.len, sig);
	OPENSSL_cleanse(key, sizeof key);
	buf_puts(out, p->url_host);
	buf_puts(out, r.path);
	buf_putc(out, '?');
	buf_put(out, q.data, q.len);
	buf_puts(out, "&X-Amz-Signature=");
	buf_put(out, sig, 64);
	if (out->failed) {
		emu_err_set(err, ERR_INTERNAL, "presign: output buffer full");
		goto out;
	}
	rc = 0;
out:
	buf_free_secret(&q);
	buf_free_secret(&cr);
	buf_free(&sts);
	return rc;
}
