/*
 * token.c owns RDS IAM database authentication tokens: recognising one,
 * verifying it check by check (aws-behaviour.md 2.2-2.3), the rds-db
 * resource ARN, and generating tokens as botocore does.
 *
 * May call: libc, OpenSSL (SHA-256, CRYPTO_memcmp, OPENSSL_cleanse),
 * api/sigv4 (presigning, for token_generate), emu/buf, emu/err, emu/util
 * (hex), emu/clock (formats and parsers only; "now" comes from the
 * caller), emu/log (log_fingerprint only).  No I/O, no store, no globals
 * with state.  HMAC-SHA256 and the signing key are computed here on one
 * fetched digest (3-4x faster than OpenSSL's one-shot HMAC()); the unit
 * tests check them against botocore's tokens.
 *
 * Invariants:
 * - The token is read in place, never copied whole: the canonical request
 *   is streamed into the digest, the session token is compared while it is
 *   decoded.  Only fixed-size fields are decoded into fixed buffers, each
 *   length checked first.  A token over TOKEN_MAX_LEN is refused unparsed
 *   (only its fingerprint is taken).
 * - Every detail is printable ASCII; user text in it is capped.  The
 *   secret, the signing key, the session token, the signature and the token
 *   never reach a detail; struct token_key is wiped after use.
 * - Parameter order never matters: parameters are sorted by their canonical
 *   (re-encoded) key, which also finds duplicates whatever their spelling.
 *
 * Choices where AWS does not say:
 * - Decoding: '+' is a space (Go's url.QueryEscape writes spaces so, and
 *   its signer signs %20); a '%' without two hex digits after it, a byte
 *   outside printable ASCII, a space, or a repeated parameter makes the
 *   token malformed.  Empty '&&' segments are ignored.
 * - The prefix is split at the first '?' (a '/' just before it is the
 *   path); any other path is refused, as is a leading "https://".  The
 *   host is "[v6]" or a name, then an optional ":port" (1-65535).
 * - Signature host: the prefix as sent; when the port is 443 also without
 *   ":443" (botocore and Go sign that, JS signs host:443, section 2.6
 *   TOKEN3); and both in lower case (botocore lower-cases the signed host
 *   but not the URL).  The first that matches wins.
 * - SignedHeaders must be exactly "host": a password carries no other
 *   headers, so a token that signs more can never be verified.
 * - X-Amz-Expires: absent = 900; above 900 refused (see token.h); the
 *   token is valid while now <= X-Amz-Date + X-Amz-Expires.
 * - A long-term key (no session token in the lookup) with an
 *   X-Amz-Security-Token in the token is refused, as AWS refuses a session
 *   token that was not issued with the key.  Temporary credentials are
 *   expired from their expiry time on (now >= expires).
 */
#include "wire/token.h"

#include "api/sigv4.h"
#include "emu/clock.h"
#include "emu/log.h"
#include "emu/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
#define SERVICE "rds-db"
#define TERMINATOR "aws4_request"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ECHO_MAX 80                 /* bytes of user text in one detail */
#define MAX_CREDENTIAL 400          /* bytes of the decoded X-Amz-Credential */
#define MAX_AMZ_TIME 253402300799.0 /* 9999-12-31T23:59:59Z */
#define HOSTS_LISTED 3              /* allowed names quoted in a wrong-host detail */

static const char HX[] = "0123456789ABCDEF";

/* ---- bytes -------------------------------------------------------------- */

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
	       c == '.' || c == '~';
}

static unsigned char lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c; }

static bool ieq(const char *a, size_t al, const char *b, size_t bl)
{
	if (al != bl)
		return false;
	for (size_t i = 0; i < al; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return false;
	return true;
}

static bool valid_escape(const char *s, size_t n, size_t i)
{
	return i + 2 < n && util_hexval((unsigned char)s[i + 1]) >= 0 && util_hexval((unsigned char)s[i + 2]) >= 0;
}

/* One decoded byte of s[*i..n): %XX, '+' as space, else the byte. */
static unsigned char dec1(const char *s, size_t n, size_t *i)
{
	unsigned char c = (unsigned char)s[*i];
	if (c == '%' && valid_escape(s, n, *i)) {
		c = (unsigned char)(util_hexval((unsigned char)s[*i + 1]) * 16 + util_hexval((unsigned char)s[*i + 2]));
		*i += 3;
		return c;
	}
	*i += 1;
	return c == '+' ? ' ' : c;
}

/* Decodes s[0..n) into out (cap bytes with the NUL); false if it does not fit. */
static bool decode(const char *s, size_t n, char *out, size_t cap, size_t *outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		if (o + 1 >= cap)
			return false;
		out[o++] = (char)dec1(s, n, &i);
	}
	out[o] = '\0';
	*outlen = o;
	return true;
}

/* The decoded form of s[0..n) is exactly lit. */
static bool dec_eq(const char *s, size_t n, const char *lit)
{
	size_t j = 0;
	for (size_t i = 0; i < n; j++)
		if (!lit[j] || (unsigned char)lit[j] != dec1(s, n, &i))
			return false;
	return lit[j] == '\0';
}

/* The decoded form of s[0..n) equals want, in time that depends on the
 * lengths only.  Plain bytes are compared in place; only escapes and '+'
 * go through dec1. */
static bool dec_eq_ct(const char *s, size_t n, const char *want)
{
	size_t wl = strlen(want), j = 0;
	unsigned char diff = 0;
	for (size_t i = 0; i < n; j++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%' || c == '+')
			c = dec1(s, n, &i);
		else
			i++;
		diff |= (unsigned char)(c ^ (j < wl ? (unsigned char)want[j] : 0));
	}
	return diff == 0 && j == wl;
}

/* Offset of the first byte of s[0..n) outside 0x21-0x7e, or n.  Eight
 * bytes at a time (a token is 0.3-3 KB and every login reads it). */
static size_t first_unprintable(const char *s, size_t n)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t x;
		memcpy(&x, s + i, 8);
		/* a byte < 0x21, or > 0x7e (adding 1 reaches 0x80), or with its top bit set */
		uint64_t lt = (x - ones * 0x21) & ~x & highs;
		uint64_t gt = ((x + ones * 0x01) | x) & highs;
		if (lt | gt)
			break;
	}
	for (; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return i;
	return n;
}

/* Canonical encoding as a byte stream: decoded, then RFC 3986 encoded. */
struct enc {
	const char *s;
	size_t n, i;
	char pend[2];
	int pi, np;
};

static int enc_next(struct enc *e)
{
	if (e->pi < e->np)
		return (unsigned char)e->pend[e->pi++];
	if (e->i >= e->n)
		return -1;
	unsigned char c = dec1(e->s, e->n, &e->i);
	if (unreserved(c))
		return c;
	e->pend[0] = HX[c >> 4];
	e->pend[1] = HX[c & 15];
	e->pi = 0;
	e->np = 2;
	return '%';
}

/* Bytewise order of the canonical encodings (botocore sorts encoded keys). */
static int enc_cmp(const char *a, size_t al, const char *b, size_t bl)
{
	struct enc x = {.s = a, .n = al}, y = {.s = b, .n = bl};
	for (;;) {
		int p = enc_next(&x), q = enc_next(&y);
		if (p != q)
			return p < q ? -1 : 1;
		if (p < 0)
			return 0;
	}
}

/* Streams the canonical encoding of s[0..n) into the digest. */
static void enc_hash(EVP_MD_CTX *md, const char *s, size_t n)
{
	char chunk[256];
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c)) {
			chunk[o++] = (char)c;
			i++;
		} else {
			c = dec1(s, n, &i);
			if (unreserved(c)) {
				chunk[o++] = (char)c;
			} else {
				chunk[o++] = '%';
				chunk[o++] = HX[c >> 4];
				chunk[o++] = HX[c & 15];
			}
		}
		if (o > sizeof chunk - 3) {
			EVP_DigestUpdate(md, chunk, o);
			o = 0;
		}
	}
	if (o)
		EVP_DigestUpdate(md, chunk, o);
}

/* User text for a detail: printable ASCII ('?' for other bytes), at most
 * ECHO_MAX bytes, "..." when cut. */
static const char *echo(char *dst, size_t cap, const char *s, size_t n)
{
	size_t take = n < ECHO_MAX ? n : ECHO_MAX, o = 0;
	for (size_t i = 0; i < take && o + 4 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		dst[o++] = (c < 0x20 || c > 0x7e) ? '?' : (char)c;
	}
	if (take < n && o + 3 < cap) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return dst;
}

#define ECHO_BUF (ECHO_MAX + 4)

/* ---- the token, parsed in place ----------------------------------------- */

enum kp { KP_ACTION, KP_DBUSER, KP_ALGORITHM, KP_CREDENTIAL, KP_DATE, KP_EXPIRES, KP_SIGNED, KP_TOKEN, KP_SIGNATURE, KP__COUNT };

static const char *const kp_name[KP__COUNT] = {
	"Action", "DBUser", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",
	"X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Security-Token", "X-Amz-Signature",
};
static const bool kp_required[KP__COUNT] = {true, true, true, true, true, false, true, false, true};

struct param {
	const char *k, *v;
	size_t kl, vl;
};

struct tok {
	const char *host;               /* host[:port] prefix */
	size_t hostlen, namelen;        /* namelen: bytes before ":port" */
	int port;                       /* -1 = none */
	struct param p[TOKEN_MAX_PARAMS];
	size_t np;
	unsigned char order[TOKEN_MAX_PARAMS]; /* indices of p sorted by canonical key */
	int kp[KP__COUNT];              /* index into p, -1 = absent */
	/* decoded */
	char akid[129], date[9], region[64], service[64], amz_date[17];
	bool have_scope, have_time, signed_host;
	time_t t;
};

/* An optional parameter, NULL when absent. */
static const struct param *kp(const struct tok *t, enum kp k) { return t->kp[k] >= 0 ? &t->p[t->kp[k]] : NULL; }

/* A required parameter: parse() made sure it is there. */
static const struct param *need(const struct tok *t, enum kp k) { return &t->p[t->kp[k] >= 0 ? t->kp[k] : 0]; }

/* One verification in progress. */
struct run {
	const struct token_expect *ex;
	struct token_result *r;
	bool failed;
};

/* Records a check.  A failed check always gets its detail (and the first
 * one becomes the reason); a passed one only when explaining. */
__attribute__((format(printf, 4, 5))) static bool step(struct run *u, enum token_check c, bool passed,
                                                        const char *fmt, ...)
{
	struct token_result *r = u->r;
	if (r->nsteps >= TOKEN_CHK__COUNT) /* each check runs once: cannot happen */
		return passed;
	struct token_step *s = &r->steps[r->nsteps++];
	s->check = c;
	s->passed = passed;
	s->detail[0] = '\0';
	if (!passed || u->ex->explain) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(s->detail, sizeof s->detail, fmt, ap);
		va_end(ap);
	}
	if (!passed && !u->failed) {
		u->failed = true;
		r->failed = c;
		memcpy(r->reason, s->detail, sizeof r->reason);
	}
	return passed;
}

/* "host", "[v6]", each with an optional ":port".  False if malformed. */
static bool split_host(const char *s, size_t n, size_t *namelen, int *port)
{
	size_t nl;
	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close)
			return false;
		nl = (size_t)(close - s) + 1;
	} else {
		const char *colon = memrchr(s, ':', n);
		nl = colon ? (size_t)(colon - s) : n;
	}
	if (nl == 0 || nl > TOKEN_MAX_HOST)
		return false;
	*namelen = nl;
	*port = -1;
	if (nl == n)
		return true;
	if (s[nl] != ':' || n - nl - 1 < 1 || n - nl - 1 > 5)
		return false;
	int v = 0;
	for (size_t i = nl + 1; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return false;
	*port = v;
	return true;
}

static bool parse(struct run *u, const char *s, size_t n, struct tok *t)
{
	char e[ECHO_BUF];
	if (n == 0)
		return step(u, TOKEN_CHK_SHAPE, false, "the password is empty");
	if (n > TOKEN_MAX_LEN)
		return step(u, TOKEN_CHK_SHAPE, false, "the token is %zu bytes; tokens longer than %d bytes are refused", n,
		            TOKEN_MAX_LEN);
	size_t bad = first_unprintable(s, n);
	if (bad < n) {
		unsigned char c = (unsigned char)s[bad];
		return step(u, TOKEN_CHK_SHAPE, false, "byte 0x%02x at offset %zu: a token is printable ASCII without spaces%s",
		            c, bad, (c == '\n' || c == '\r') && bad + 2 >= n ? " (a trailing newline?)" : "");
	}
	if ((n >= 8 && ieq(s, 8, "https://", 8)) || (n >= 7 && ieq(s, 7, "http://", 7)))
		return step(u, TOKEN_CHK_SHAPE, false, "the token starts with a URL scheme; SDKs remove \"https://\"");
	const char *q = memchr(s, '?', n);
	if (!q)
		return step(u, TOKEN_CHK_SHAPE, false, "no '?' in the token: a token is host:port/?Action=connect&...");
	size_t pl = (size_t)(q - s);
	if (pl > 0 && s[pl - 1] == '/')
		pl--;
	if (pl == 0)
		return step(u, TOKEN_CHK_SHAPE, false, "no host before the query: a token is host:port/?Action=connect&...");
	if (memchr(s, '/', pl))
		return step(u, TOKEN_CHK_SHAPE, false, "the path of a token must be '/': '%s'", echo(e, sizeof e, s, pl + 1));
	if (pl > TOKEN_MAX_HOST)
		return step(u, TOKEN_CHK_SHAPE, false, "the host part is %zu bytes; the limit is %d", pl, TOKEN_MAX_HOST);
	if (memchr(s, '@', pl) || !split_host(s, pl, &t->namelen, &t->port))
		return step(u, TOKEN_CHK_SHAPE, false, "'%s' is not host, host:port or [v6]:port with a port of 1-65535",
		            echo(e, sizeof e, s, pl));
	t->host = s;
	t->hostlen = pl;
	memcpy(u->r->host, s, pl);
	u->r->host[pl] = '\0';
	u->r->port = t->port;

	const char *qs = q + 1, *end = s + n;
	while (qs < end) {
		const char *amp = memchr(qs, '&', (size_t)(end - qs));
		const char *se = amp ? amp : end;
		if (se > qs) {
			if (t->np == TOKEN_MAX_PARAMS)
				return step(u, TOKEN_CHK_SHAPE, false, "more than %d query parameters", TOKEN_MAX_PARAMS);
			struct param *p = &t->p[t->np];
			const char *eq = memchr(qs, '=', (size_t)(se - qs));
			p->k = qs;
			p->kl = eq ? (size_t)(eq - qs) : (size_t)(se - qs);
			p->v = eq ? eq + 1 : se;
			p->vl = eq ? (size_t)(se - eq - 1) : 0;
			if (p->kl == 0)
				return step(u, TOKEN_CHK_SHAPE, false, "query parameter %zu has no name", t->np + 1);
			for (const char *c = memchr(qs, '%', (size_t)(se - qs)); c; c = memchr(c + 1, '%', (size_t)(se - c - 1)))
				if (!valid_escape(qs, (size_t)(se - qs), (size_t)(c - qs)))
					return step(u, TOKEN_CHK_SHAPE, false, "malformed percent escape in parameter '%s'",
					            echo(e, sizeof e, p->k, p->kl));
			t->order[t->np] = (unsigned char)t->np;
			t->np++;
		}
		if (!amp)
			break;
		qs = amp + 1;
	}
	/* Insertion sort by canonical key; equal neighbours are duplicates. */
	for (size_t i = 1; i < t->np; i++) {
		unsigned char x = t->order[i];
		size_t j = i;
		for (; j > 0 && enc_cmp(t->p[t->order[j - 1]].k, t->p[t->order[j - 1]].kl, t->p[x].k, t->p[x].kl) > 0; j--)
			t->order[j] = t->order[j - 1];
		t->order[j] = x;
	}
	for (size_t i = 1; i < t->np; i++) {
		const struct param *a = &t->p[t->order[i - 1]], *b = &t->p[t->order[i]];
		if (enc_cmp(a->k, a->kl, b->k, b->kl) == 0)
			return step(u, TOKEN_CHK_SHAPE, false, "query parameter '%s' appears more than once",
			            echo(e, sizeof e, b->k, b->kl));
	}
	for (int k = 0; k < KP__COUNT; k++)
		t->kp[k] = -1;
	for (size_t i = 0; i < t->np; i++)
		for (int k = 0; k < KP__COUNT; k++)
			if (t->kp[k] < 0 && dec_eq(t->p[i].k, t->p[i].kl, kp_name[k])) {
				t->kp[k] = (int)i;
				break;
			}
	char missing[160];
	size_t m = 0;
	missing[0] = '\0';
	for (int k = 0; k < KP__COUNT; k++)
		if (kp_required[k] && t->kp[k] < 0 && m < sizeof missing)
			m += (size_t)snprintf(missing + m, sizeof missing - m, "%s%s", m ? ", " : "", kp_name[k]);
	if (m)
		return step(u, TOKEN_CHK_SHAPE, false, "the token lacks %s", missing);
	if (t->port >= 0)
		return step(u, TOKEN_CHK_SHAPE, true, "host '%s', port %d, %zu query parameters",
		            echo(e, sizeof e, s, t->namelen), t->port, t->np);
	return step(u, TOKEN_CHK_SHAPE, true, "host '%s' (no port), %zu query parameters", echo(e, sizeof e, s, t->namelen),
	            t->np);
}

/* ---- the checks --------------------------------------------------------- */

static void check_action(struct run *u, const struct tok *t)
{
	const struct param *p = need(t, KP_ACTION);
	char e[ECHO_BUF], d[ECHO_BUF];
	size_t dl;
	if (dec_eq(p->v, p->vl, "connect")) {
		step(u, TOKEN_CHK_ACTION, true, "Action=connect");
		return;
	}
	if (p->vl > ECHO_MAX || !decode(p->v, p->vl, d, sizeof d, &dl))
		dl = 0, d[0] = '\0';
	step(u, TOKEN_CHK_ACTION, false, "Action is '%s'; a token is for Action=connect", echo(e, sizeof e, d, dl));
}

static void check_user(struct run *u, const struct tok *t)
{
	const struct param *p = need(t, KP_DBUSER);
	struct token_result *r = u->r;
	const char *want = u->ex->db_user;
	char e[ECHO_BUF], e2[ECHO_BUF];
	size_t dl = 0;
	if (!decode(p->v, p->vl, r->db_user, sizeof r->db_user, &dl)) {
		r->db_user[0] = '\0';
		step(u, TOKEN_CHK_DBUSER, false, "DBUser is longer than %d bytes", TOKEN_MAX_USER);
		return;
	}
	if (dl == 0 || memchr(r->db_user, '\0', dl)) {
		r->db_user[0] = '\0';
		step(u, TOKEN_CHK_DBUSER, false, "DBUser is empty or holds a NUL byte");
		return;
	}
	if (!want) {
		step(u, TOKEN_CHK_DBUSER, true, "DBUser '%s' (login user not checked)", echo(e, sizeof e, r->db_user, dl));
		return;
	}
	size_t wl = strlen(want);
	if (wl == dl && memcmp(want, r->db_user, dl) == 0)
		step(u, TOKEN_CHK_DBUSER, true, "DBUser '%s' is the login user", echo(e, sizeof e, r->db_user, dl));
	else if (ieq(want, wl, r->db_user, dl))
		step(u, TOKEN_CHK_DBUSER, false, "the token is for DBUser '%s', the login user is '%s': the case must match",
		     echo(e, sizeof e, r->db_user, dl), echo(e2, sizeof e2, want, wl));
	else
		step(u, TOKEN_CHK_DBUSER, false, "the token is for DBUser '%s', not for the login user '%s'",
		     echo(e, sizeof e, r->db_user, dl), echo(e2, sizeof e2, want, wl));
}

static void check_algorithm(struct run *u, struct tok *t)
{
	const struct param *a = need(t, KP_ALGORITHM), *sh = need(t, KP_SIGNED);
	char e[ECHO_BUF], d[ECHO_BUF];
	size_t dl = 0;
	t->signed_host = dec_eq(sh->v, sh->vl, "host");
	if (!dec_eq(a->v, a->vl, ALGORITHM)) {
		if (a->vl > ECHO_MAX || !decode(a->v, a->vl, d, sizeof d, &dl))
			dl = 0, d[0] = '\0';
		step(u, TOKEN_CHK_ALGORITHM, false, "X-Amz-Algorithm is '%s'; only " ALGORITHM " is accepted",
		     echo(e, sizeof e, d, dl));
	} else if (!t->signed_host) {
		if (sh->vl > ECHO_MAX || !decode(sh->v, sh->vl, d, sizeof d, &dl))
			dl = 0, d[0] = '\0';
		step(u, TOKEN_CHK_ALGORITHM, false, "X-Amz-SignedHeaders is '%s'; a token can sign only 'host'",
		     echo(e, sizeof e, d, dl));
	} else {
		step(u, TOKEN_CHK_ALGORITHM, true, ALGORITHM ", signed headers: host");
	}
}

/* X-Amz-Credential "<akid>/<yyyymmdd>/<region>/<service>/aws4_request";
 * also decodes X-Amz-Date (the scope date must be its first 8 bytes). */
static void check_scope(struct run *u, struct tok *t)
{
	const struct param *c = need(t, KP_CREDENTIAL), *dt = need(t, KP_DATE);
	char cred[MAX_CREDENTIAL], e[ECHO_BUF];
	size_t cl = 0, dl = 0;
	if (dt->vl > 3 * 16 || !decode(dt->v, dt->vl, t->amz_date, sizeof t->amz_date, &dl))
		t->amz_date[0] = '\0';
	t->have_time = dl == 16 && clock_parse_amz(t->amz_date, dl, &t->t);
	memcpy(u->r->amz_date, t->amz_date, sizeof t->amz_date);
	if (c->vl > 3 * MAX_CREDENTIAL || !decode(c->v, c->vl, cred, sizeof cred, &cl)) {
		step(u, TOKEN_CHK_SCOPE, false, "X-Amz-Credential is longer than %d bytes", MAX_CREDENTIAL - 1);
		return;
	}
	const char *part[5];
	size_t plen[5], np = 0, s = 0;
	for (size_t i = 0; i <= cl; i++) {
		if (i < cl && cred[i] != '/')
			continue;
		if (np < 5) {
			part[np] = cred + s;
			plen[np] = i - s;
		}
		np++;
		s = i + 1;
	}
	if (np != 5) {
		step(u, TOKEN_CHK_SCOPE, false,
		     "X-Amz-Credential has %zu '/'-separated parts; it must be akid/yyyymmdd/region/rds-db/aws4_request", np);
		return;
	}
	for (size_t i = 0; i < cl; i++)
		if ((unsigned char)cred[i] <= 0x20 || (unsigned char)cred[i] >= 0x7f) {
			step(u, TOKEN_CHK_SCOPE, false, "X-Amz-Credential holds a byte outside printable ASCII");
			return;
		}
	if (plen[0] == 0 || plen[0] >= sizeof t->akid || plen[2] == 0 || plen[2] >= sizeof t->region ||
	    plen[3] == 0 || plen[3] >= sizeof t->service || plen[1] != 8) {
		step(u, TOKEN_CHK_SCOPE, false, "X-Amz-Credential '%s' has an empty or over-long part",
		     echo(e, sizeof e, cred, cl));
		return;
	}
	memcpy(t->akid, part[0], plen[0]);
	t->akid[plen[0]] = '\0';
	memcpy(t->date, part[1], 8);
	t->date[8] = '\0';
	memcpy(t->region, part[2], plen[2]);
	t->region[plen[2]] = '\0';
	memcpy(t->service, part[3], plen[3]);
	t->service[plen[3]] = '\0';
	t->have_scope = true;
	memcpy(u->r->access_key_id, t->akid, sizeof t->akid);
	memcpy(u->r->region, t->region, sizeof t->region);
	if (plen[4] != strlen(TERMINATOR) || memcmp(part[4], TERMINATOR, plen[4]) != 0)
		step(u, TOKEN_CHK_SCOPE, false, "the credential scope ends in '%s', not '" TERMINATOR "'",
		     echo(e, sizeof e, part[4], plen[4]));
	else if (dl < 8 || memcmp(t->date, t->amz_date, 8) != 0)
		step(u, TOKEN_CHK_SCOPE, false, "the credential scope date %s is not the date of X-Amz-Date '%s'", t->date,
		     echo(e, sizeof e, t->amz_date, dl));
	else
		step(u, TOKEN_CHK_SCOPE, true, "access key %s, scope %s/%s/%s", t->akid, t->date, t->region, t->service);
}

static void check_service(struct run *u, const struct tok *t)
{
	if (strcmp(t->service, SERVICE) == 0)
		step(u, TOKEN_CHK_SERVICE, true, "service " SERVICE);
	else
		step(u, TOKEN_CHK_SERVICE, false, "the token is signed for service '%s'; tokens are signed for '" SERVICE "'",
		     t->service);
}

static void check_region(struct run *u, const struct tok *t)
{
	const char *want = u->ex->region;
	if (!want)
		step(u, TOKEN_CHK_REGION, true, "region %s (not checked)", t->region);
	else if (strcmp(t->region, want) == 0)
		step(u, TOKEN_CHK_REGION, true, "region %s", t->region);
	else
		step(u, TOKEN_CHK_REGION, false, "the token is for region '%s'; this endpoint is in '%.63s'", t->region, want);
}

static void check_time(struct run *u, const struct tok *t)
{
	const struct token_expect *ex = u->ex;
	char e[ECHO_BUF], d[24], until[21];
	size_t dl = 0;
	if (!t->have_time) {
		step(u, TOKEN_CHK_TIME, false, "X-Amz-Date '%s' is not yyyymmddTHHMMSSZ",
		     echo(e, sizeof e, t->amz_date, strlen(t->amz_date)));
		return;
	}
	long expires = TOKEN_LIFETIME;
	const struct param *p = kp(t, KP_EXPIRES);
	if (p) {
		bool dec = p->vl <= 3 * 10 && decode(p->v, p->vl, d, sizeof d, &dl);
		bool num = dec && dl >= 1 && dl <= 10;
		for (size_t i = 0; num && i < dl; i++)
			num = d[i] >= '0' && d[i] <= '9';
		if (!num) {
			step(u, TOKEN_CHK_TIME, false, "X-Amz-Expires '%s' is not a number of seconds",
			     echo(e, sizeof e, d, dec ? dl : 0));
			return;
		}
		long long v = 0;
		for (size_t i = 0; i < dl; i++)
			v = v * 10 + (d[i] - '0');
		if (v > TOKEN_LIFETIME) {
			step(u, TOKEN_CHK_TIME, false,
			     "X-Amz-Expires is %lld s; RDS refuses tokens that ask for more than %d s", v, TOKEN_LIFETIME);
			return;
		}
		expires = (long)v;
	}
	double date = (double)t->t, now = ex->now;
	double skew = ex->future_skew_s > 0 ? ex->future_skew_s : 0;
	u->r->expires_at = date + (double)expires;
	if (!(now >= 0 && now <= MAX_AMZ_TIME)) { /* NaN too */
		step(u, TOKEN_CHK_TIME, false, "the server clock is out of range");
		return;
	}
	if (date - now > skew) {
		step(u, TOKEN_CHK_TIME, false, "X-Amz-Date %s is %.0f s in the future; at most %.0f s of clock skew is allowed",
		     t->amz_date, date - now, skew);
		return;
	}
	if (now > date + (double)expires) {
		step(u, TOKEN_CHK_TIME, false, "X-Amz-Date %s is %.0f s old; tokens are valid for %ld s%s", t->amz_date,
		     now - date, expires, expires < TOKEN_LIFETIME ? " (X-Amz-Expires)" : "");
		return;
	}
	until[0] = '\0';
	if (ex->explain)
		clock_fmt_iso_s(date + (double)expires, until);
	step(u, TOKEN_CHK_TIME, true, "X-Amz-Date %s, valid until %s (%.0f s left)", t->amz_date, until,
	     date + (double)expires - now);
}

static void check_host(struct run *u, const struct tok *t)
{
	const struct token_expect *ex = u->ex;
	char e[ECHO_BUF];
	if (!ex->hosts || ex->n_hosts == 0) {
		step(u, TOKEN_CHK_HOST, true, "host '%s' (not checked)", echo(e, sizeof e, t->host, t->hostlen));
		return;
	}
	int name_port = -2; /* the port wanted by the first entry whose name matched */
	for (size_t i = 0; i < ex->n_hosts; i++) {
		const char *h = ex->hosts[i];
		size_t hl = h ? strnlen(h, TOKEN_MAX_HOST + 8) : 0, nl;
		int port;
		if (hl == 0 || hl > TOKEN_MAX_HOST + 6 || !split_host(h, hl, &nl, &port) ||
		    !ieq(h, nl, t->host, t->namelen))
			continue;
		int want = port >= 0 ? port : ex->port;
		if (t->port < 0 || want <= 0 || t->port == want) {
			if (t->port < 0)
				step(u, TOKEN_CHK_HOST, true, "host '%s' is an endpoint name (the token has no port)",
				     echo(e, sizeof e, t->host, t->namelen));
			else
				step(u, TOKEN_CHK_HOST, true, "host '%s' port %d is this endpoint",
				     echo(e, sizeof e, t->host, t->namelen), t->port);
			return;
		}
		if (name_port == -2)
			name_port = want;
	}
	if (name_port != -2) {
		step(u, TOKEN_CHK_HOST, false, "the token is for port %d; this endpoint listens on port %d", t->port,
		     name_port);
		return;
	}
	char list[TOKEN_DETAIL_MAX];
	size_t m = 0, shown = 0;
	list[0] = '\0';
	for (size_t i = 0; i < ex->n_hosts && shown < HOSTS_LISTED; i++) {
		if (!ex->hosts[i])
			continue;
		char e2[ECHO_BUF];
		int w = snprintf(list + m, sizeof list - m, "%s%s", shown ? ", " : "",
		                 echo(e2, sizeof e2, ex->hosts[i], strlen(ex->hosts[i])));
		if (w < 0 || (size_t)w >= sizeof list - m)
			break;
		m += (size_t)w;
		shown++;
	}
	if (shown < ex->n_hosts)
		snprintf(list + m, sizeof list - m, " (and %zu more)", ex->n_hosts - shown);
	step(u, TOKEN_CHK_HOST, false, "the token is for host '%s', not for this endpoint: %.100s",
	     echo(e, sizeof e, t->host, t->namelen), list);
}

/* Returns true when the key was found and is active. */
static bool check_key(struct run *u, const struct tok *t, token_key_lookup lookup, void *ud, struct token_key *key)
{
	struct token_result *r = u->r;
	int rc = lookup ? lookup(ud, t->akid, key) : 0;
	key->secret[sizeof key->secret - 1] = '\0';
	key->account[sizeof key->account - 1] = '\0';
	key->principal_arn[sizeof key->principal_arn - 1] = '\0';
	if (rc < 0)
		return step(u, TOKEN_CHK_KEY, false, "the access key %s could not be looked up (store error)", t->akid);
	if (!key->found)
		return step(u, TOKEN_CHK_KEY, false, "the access key %s is not known", t->akid);
	memcpy(r->account, key->account, sizeof r->account);
	memcpy(r->principal_arn, key->principal_arn, sizeof r->principal_arn);
	r->temporary = key->session_token != NULL;
	if (!key->active)
		return step(u, TOKEN_CHK_KEY, false, "the access key %s is inactive", t->akid);
	return step(u, TOKEN_CHK_KEY, true, "access key %s of %.150s", t->akid, key->principal_arn);
}

static void check_session(struct run *u, const struct tok *t, const struct token_key *key)
{
	const struct param *p = kp(t, KP_TOKEN);
	char when[21];
	if (!key->session_token) {
		if (p)
			step(u, TOKEN_CHK_SESSION, false,
			     "the token carries X-Amz-Security-Token but %s is a long-term key with no session", t->akid);
		else
			step(u, TOKEN_CHK_SESSION, true, "long-term key, no session token");
		return;
	}
	if (!p) {
		step(u, TOKEN_CHK_SESSION, false, "%s is a temporary key; the token carries no X-Amz-Security-Token",
		     t->akid);
		return;
	}
	if (!dec_eq_ct(p->v, p->vl, key->session_token)) {
		step(u, TOKEN_CHK_SESSION, false, "X-Amz-Security-Token is not the session token issued with %s", t->akid);
		return;
	}
	double now = u->ex->now;
	if (key->expires > 0 && now >= key->expires) {
		clock_fmt_iso_s(key->expires, when);
		step(u, TOKEN_CHK_SESSION, false, "the temporary credentials of %s expired at %s (%.0f s ago)", t->akid, when,
		     now - key->expires);
		return;
	}
	if (key->expires > 0) {
		clock_fmt_iso_s(key->expires, when);
		step(u, TOKEN_CHK_SESSION, true, "session token matches; the credentials are valid until %s", when);
	} else {
		step(u, TOKEN_CHK_SESSION, true, "session token matches");
	}
}

static bool lower_hex64(const char *s, size_t n)
{
	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* SHA-256 for one verification: the digest fetched once, and two
 * contexts (the canonical prefix, and work), so no call pays OpenSSL's
 * implicit fetch (HMAC() and EVP_Digest() do, at ~1 us each). */
struct sha {
	EVP_MD *md;
	EVP_MD_CTX *pre, *work;
};

static bool sha_begin(struct sha *h)
{
	h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	h->pre = EVP_MD_CTX_new();
	h->work = EVP_MD_CTX_new();
	return h->md && h->pre && h->work;
}

static void sha_end(struct sha *h)
{
	EVP_MD_CTX_free(h->pre);
	EVP_MD_CTX_free(h->work);
	EVP_MD_free(h->md);
}

static bool sha_once(struct sha *h, const void *p, size_t n, unsigned char out[32])
{
	unsigned int l = 0;
	return EVP_DigestInit_ex(h->work, h->md, NULL) && EVP_DigestUpdate(h->work, p, n) &&
	       EVP_DigestFinal_ex(h->work, out, &l);
}

/* HMAC-SHA256 (RFC 2104) on the work context. */
static bool hmac(struct sha *h, const void *key, size_t klen, const void *msg, size_t mlen, unsigned char out[32])
{
	unsigned char k[64] = {0}, pad[64];
	unsigned int l = 0;
	bool ok = true;
	if (klen > sizeof k)
		ok = sha_once(h, key, klen, k);
	else
		memcpy(k, key, klen);
	for (size_t i = 0; i < 64; i++)
		pad[i] = (unsigned char)(k[i] ^ 0x36);
	ok = ok && EVP_DigestInit_ex(h->work, h->md, NULL) && EVP_DigestUpdate(h->work, pad, 64) &&
	     EVP_DigestUpdate(h->work, msg, mlen) && EVP_DigestFinal_ex(h->work, out, &l);
	for (size_t i = 0; i < 64; i++)
		pad[i] = (unsigned char)(k[i] ^ 0x5c);
	ok = ok && EVP_DigestInit_ex(h->work, h->md, NULL) && EVP_DigestUpdate(h->work, pad, 64) &&
	     EVP_DigestUpdate(h->work, out, 32) && EVP_DigestFinal_ex(h->work, out, &l);
	OPENSSL_cleanse(k, sizeof k);
	OPENSSL_cleanse(pad, sizeof pad);
	return ok;
}

/* kSigning: HMAC chain from "AWS4" + secret over date, region, service,
 * "aws4_request" (the same as sigv4_signing_key). */
static bool signing_key(struct sha *h, const struct token_key *key, const struct tok *t, unsigned char out[32])
{
	unsigned char k0[4 + sizeof key->secret];
	size_t sl = strnlen(key->secret, sizeof key->secret);
	memcpy(k0, "AWS4", 4);
	memcpy(k0 + 4, key->secret, sl);
	bool ok = hmac(h, k0, 4 + sl, t->date, strlen(t->date), out) &&
	          hmac(h, out, 32, t->region, strlen(t->region), out) &&
	          hmac(h, out, 32, t->service, strlen(t->service), out) &&
	          hmac(h, out, 32, TERMINATOR, strlen(TERMINATOR), out);
	OPENSSL_cleanse(k0, sizeof k0);
	return ok;
}

/* hex sha256 of "<canonical prefix>host:<h>\n\nhost\n<empty hash>". */
static bool finish_creq(struct sha *h, const char *host, size_t hl, char hex[65])
{
	unsigned char d[32];
	unsigned int dl = 0;
	if (!EVP_MD_CTX_copy_ex(h->work, h->pre) || !EVP_DigestUpdate(h->work, "host:", 5) ||
	    !EVP_DigestUpdate(h->work, host, hl) || !EVP_DigestUpdate(h->work, "\n\nhost\n" EMPTY_SHA256, 7 + 64) ||
	    !EVP_DigestFinal_ex(h->work, d, &dl))
		return false;
	util_hex(d, 32, hex);
	return true;
}

static void check_signature(struct run *u, const struct tok *t, const struct token_key *key, struct sha *sh)
{
	const struct param *sp = need(t, KP_SIGNATURE);
	char e[ECHO_BUF];
	if (key->skip_signature) {
		step(u, TOKEN_CHK_SIGNATURE, true, "not checked: the secret of %s is unknown (permissive mode)", t->akid);
		return;
	}
	if (!sh->md || !sh->pre || !sh->work) {
		step(u, TOKEN_CHK_SIGNATURE, false, "SHA-256 is unavailable (out of memory)");
		return;
	}
	if (!lower_hex64(sp->v, sp->vl)) {
		step(u, TOKEN_CHK_SIGNATURE, false, "X-Amz-Signature is not 64 lower-case hex digits");
		return;
	}
	/* Signed-host candidates: as sent, without ":443", in lower case. */
	char lc[TOKEN_MAX_HOST + 1];
	struct {
		const char *h;
		size_t n;
	} cand[4];
	size_t nc = 0;
	bool upper = false;
	for (size_t i = 0; i < t->hostlen; i++) {
		lc[i] = (char)lower((unsigned char)t->host[i]);
		upper |= lc[i] != t->host[i];
	}
	cand[nc].h = t->host, cand[nc++].n = t->hostlen;
	if (t->port == 443)
		cand[nc].h = t->host, cand[nc++].n = t->namelen;
	if (upper) {
		cand[nc].h = lc, cand[nc++].n = t->hostlen;
		if (t->port == 443)
			cand[nc].h = lc, cand[nc++].n = t->namelen;
	}

	EVP_MD_CTX *pre = sh->pre;
	bool hash_ok = EVP_DigestInit_ex(pre, sh->md, NULL) && EVP_DigestUpdate(pre, "GET\n/\n", 6);
	bool first = true;
	for (size_t i = 0; hash_ok && i < t->np; i++) {
		unsigned char pi = t->order[i];
		if ((int)pi == t->kp[KP_SIGNATURE])
			continue;
		if (!first)
			EVP_DigestUpdate(pre, "&", 1);
		first = false;
		enc_hash(pre, t->p[pi].k, t->p[pi].kl);
		EVP_DigestUpdate(pre, "=", 1);
		enc_hash(pre, t->p[pi].v, t->p[pi].vl);
	}
	hash_ok = hash_ok && EVP_DigestUpdate(pre, "\n", 1);

	unsigned char skey[32], mac[32];
	hash_ok = hash_ok && signing_key(sh, key, t, skey);
	/* String to sign: fixed head, then the canonical request's hash. */
	char sts[sizeof ALGORITHM + 17 + 8 + 64 + 64 + sizeof TERMINATOR + 70];
	int hl = snprintf(sts, sizeof sts, ALGORITHM "\n%s\n%s/%s/%s/" TERMINATOR "\n", t->amz_date, t->date,
	                  t->region, t->service);
	size_t match = nc;
	hash_ok = hash_ok && hl > 0 && (size_t)hl + 65 <= sizeof sts;
	for (size_t c = 0; hash_ok && c < nc && match == nc; c++) {
		char sig[65];
		hash_ok = finish_creq(sh, cand[c].h, cand[c].n, sts + hl) &&
		          hmac(sh, skey, 32, sts, (size_t)hl + 64, mac);
		if (!hash_ok)
			break;
		util_hex(mac, 32, sig);
		if (CRYPTO_memcmp(sig, sp->v, 64) == 0)
			match = c;
		OPENSSL_cleanse(sig, sizeof sig);
	}
	OPENSSL_cleanse(skey, sizeof skey);
	OPENSSL_cleanse(mac, sizeof mac);
	if (!hash_ok) {
		step(u, TOKEN_CHK_SIGNATURE, false, "the digest failed");
		return;
	}
	if (match == nc) {
		step(u, TOKEN_CHK_SIGNATURE, false,
		     "the signature does not match (signed host '%s'%s): the secret key of %s differs "
		     "or the token was changed",
		     echo(e, sizeof e, t->host, t->hostlen),
		     nc > 1 ? " and its variants" : "", t->akid);
		return;
	}
	const char *how = "";
	if (cand[match].n == t->namelen && t->port == 443)
		how = cand[match].h == lc ? ", in lower case without :443 (botocore)" : ", without :443 (botocore, Go)";
	else if (cand[match].h == lc)
		how = ", in lower case (botocore)";
	step(u, TOKEN_CHK_SIGNATURE, true, "the signature matches (signed host '%s'%s)",
	     echo(e, sizeof e, cand[match].h, cand[match].n), how);
}

/* ---- API ---------------------------------------------------------------- */

bool token_looks_like(const char *password, size_t len)
{
	return password && memmem(password, len, "Action=connect", 14) && memmem(password, len, "X-Amz-Signature=", 16);
}

int token_verify(const char *token, size_t len, const struct token_expect *ex, token_key_lookup lookup, void *ud,
                 struct token_result *out)
{
	memset(out, 0, sizeof *out);
	out->failed = TOKEN_CHK_NONE;
	out->port = -1;
	struct run u = {.ex = ex, .r = out};
	struct tok t;
	struct token_key key;
	memset(&key, 0, sizeof key);
	t.np = 0;
	t.have_scope = t.have_time = t.signed_host = false;
	t.amz_date[0] = '\0';
	if (!token)
		len = 0;
	/* The fingerprint is log_fingerprint's (first 12 hex of sha256). */
	struct sha sh;
	unsigned char fp[32];
	if (sha_begin(&sh) && sha_once(&sh, token ? token : "", len, fp)) {
		util_hex(fp, 6, out->fingerprint);
	} else {
		log_fingerprint(token ? token : "", len, out->fingerprint);
	}

#define STOP()                                        \
	do {                                          \
		if (u.failed && !ex->explain)         \
			goto done;                    \
	} while (0)

	if (!parse(&u, token, len, &t))
		goto done;
	check_action(&u, &t);
	STOP();
	check_user(&u, &t);
	STOP();
	check_algorithm(&u, &t);
	STOP();
	check_scope(&u, &t);
	STOP();
	if (t.have_scope) {
		check_service(&u, &t);
		STOP();
		check_region(&u, &t);
		STOP();
	}
	check_time(&u, &t);
	STOP();
	check_host(&u, &t);
	STOP();
	if (!t.have_scope || !check_key(&u, &t, lookup, ud, &key))
		goto done;
	check_session(&u, &t, &key);
	STOP();
	if (t.signed_host)
		check_signature(&u, &t, &key, &sh);
#undef STOP
done:
	sha_end(&sh);
	OPENSSL_cleanse(&key, sizeof key);
	out->ok = !u.failed;
	return u.failed ? -1 : 0;
}

const char *token_check_name(enum token_check c)
{
	static const char *const names[TOKEN_CHK__COUNT] = {
		"shape", "action", "dbuser", "algorithm", "scope", "service", "region",
		"time", "host", "key", "session", "signature",
	};
	return c >= 0 && c < TOKEN_CHK__COUNT ? names[c] : "none";
}

int token_resource_arn(const char *region, const char *account, const char *resource_id, const char *user, char *out,
                       size_t cap)
{
	static const struct {
		const char *prefix, *partition;
	} parts[] = {
		{"cn-", "aws-cn"},     {"us-gov-", "aws-us-gov"}, {"us-isob-", "aws-iso-b"}, {"us-isof-", "aws-iso-f"},
		{"us-iso-", "aws-iso"}, {"eu-isoe-", "aws-iso-e"},
	};
	if (!region || !account || !resource_id || !user || !out || cap == 0)
		return -1;
	const char *partition = "aws";
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
		if (strncmp(region, parts[i].prefix, strlen(parts[i].prefix)) == 0) {
			partition = parts[i].partition;
			break;
		}
	int n = snprintf(out, cap, "arn:%s:rds-db:%s:%s:dbuser:%s/%s", partition, region, account, resource_id, user);
	if (n < 0 || (size_t)n >= cap) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

int token_generate(const char *host, int port, const char *user, const char *region, const char *akid,
                   const char *secret, const char *session_token, double now, int expires_s, struct buf *out,
                   struct emu_err *err)
{
	if (!host || !*host || !user || !*user || !region || !*region || !akid || !*akid || !secret || !*secret)
		return emu_err_set(err, ERR_VALIDATION, "token: host, user, region, access key id and secret are required");
	size_t hl = strlen(host);
	if (hl > TOKEN_MAX_HOST - 6 || strpbrk(host, "/?#@ \t\r\n") || (strchr(host, ':') && host[0] != '['))
		return emu_err_set(err, ERR_VALIDATION, "token: the host must be a DNS name or an address, without a port");
	if (port < 1 || port > 65535)
		return emu_err_set(err, ERR_VALIDATION, "token: the port must be 1-65535");
	if (strlen(user) > TOKEN_MAX_USER)
		return emu_err_set(err, ERR_VALIDATION, "token: the user name is longer than %d bytes", TOKEN_MAX_USER);
	if (expires_s < 0 || expires_s > SIGV4_MAX_EXPIRES)
		return emu_err_set(err, ERR_VALIDATION, "token: expires must be 0-%d seconds", SIGV4_MAX_EXPIRES);
	if (!(now >= 0 && now <= MAX_AMZ_TIME))
		return emu_err_set(err, ERR_VALIDATION, "token: the time is out of range");
	char url_host[TOKEN_MAX_HOST + 1], signed_host[TOKEN_MAX_HOST + 1];
	snprintf(url_host, sizeof url_host, "%s:%d", host, port);
	/* botocore: urlsplit().hostname is lower case; the default port is left out. */
	for (size_t i = 0; i <= hl; i++)
		signed_host[i] = (char)lower((unsigned char)host[i]);
	if (port != 443)
		snprintf(signed_host + hl, sizeof signed_host - hl, ":%d", port);
	struct sigv4_param params[] = {{"Action", "connect"}, {"DBUser", user}};
	struct sigv4_presign p = {
		.method = "GET",
		.url_host = url_host,
		.signed_host = signed_host,
		.path = "/",
		.params = params,
		.nparams = 2,
		.access_key_id = akid,
		.secret = secret,
		.session_token = session_token,
		.region = region,
		.service = SERVICE,
		.when = (time_t)now,
		.expires = expires_s,
	};
	return sigv4_presign_url(&p, out, err);
}
