/*
 * scram.c owns SCRAM-SHA-256 (RFC 5802 with RFC 7677's hash): key
 * derivation, the server exchange and the client exchange.
 *
 * May call: libc, OpenSSL (PKCS5_PBKDF2_HMAC, HMAC, EVP digests,
 * EVP_EncodeBlock, RAND via util_random, CRYPTO_memcmp, OPENSSL_cleanse),
 * emu/buf, emu/err, emu/util (random bytes, strict base64 decoding).  No
 * I/O, no globals with state.
 *
 * Invariants:
 * - A message is copied once into a NUL-terminated stack buffer (refused
 *   if it is longer than SCRAM_MSG_MAX or holds a NUL) and parsed there
 *   attribute by attribute: "<letter>=<value>" separated by ','.  Values
 *   are bounded by the copy, which is wiped after use.
 * - The AuthMessage is client-first-bare "," server-first ","
 *   client-final-without-proof, built from the exact bytes each side sent
 *   or received (the state keeps the first two).
 * - Each side's exchange is one-shot: any failure moves the state to
 *   FAILED and every later call fails.  Keys, proofs and salted passwords
 *   live on the stack and are wiped before returning; the verifier copy in
 *   struct scram_server is wiped by scram_server_wipe.
 * - Proof and signature comparisons are constant-time (CRYPTO_memcmp).
 * - Errors never quote a proof, key or password; user text in them
 *   (the server's "e=" value) is reduced to printable ASCII and capped.
 */
#include "wire/scram.h"

#include "emu/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define B64_LEN(n) (((n) + 2) / 3 * 4)
#define AUTH_MSG_MAX (3 * SCRAM_MSG_MAX + 2)
#define ECHO_MAX 80                 /* bytes of a server's e= text in an error */

/* ---- crypto ------------------------------------------------------------- */

static bool hmac(const uint8_t key[SCRAM_KEY_LEN], const void *data, size_t n, uint8_t out[SCRAM_KEY_LEN])
{
	unsigned int ol = 0;
	return HMAC(EVP_sha256(), key, SCRAM_KEY_LEN, data, n, out, &ol) != NULL && ol == SCRAM_KEY_LEN;
}

static bool sha256(const void *data, size_t n, uint8_t out[SCRAM_KEY_LEN])
{
	unsigned int ol = 0;
	return EVP_Digest(data, n, out, &ol, EVP_sha256(), NULL) == 1 && ol == SCRAM_KEY_LEN;
}

int scram_keys(const char *password, size_t plen, const uint8_t *salt, size_t salt_len, uint32_t iterations,
               uint8_t client_key[SCRAM_KEY_LEN], uint8_t stored_key[SCRAM_KEY_LEN],
               uint8_t server_key[SCRAM_KEY_LEN], struct emu_err *err)
{
	if (!salt || salt_len == 0 || salt_len > SCRAM_SALT_MAX)
		return emu_err_set(err, ERR_VALIDATION, "SCRAM: the salt must be 1-%d bytes", SCRAM_SALT_MAX);
	if (iterations == 0 || iterations > SCRAM_ITER_MAX)
		return emu_err_set(err, ERR_VALIDATION, "SCRAM: the iteration count must be 1-%u", SCRAM_ITER_MAX);
	if (plen > INT32_MAX || (plen && !password))
		return emu_err_set(err, ERR_VALIDATION, "SCRAM: invalid password");
	uint8_t salted[SCRAM_KEY_LEN], ck[SCRAM_KEY_LEN], sk[SCRAM_KEY_LEN], st[SCRAM_KEY_LEN];
	bool okay = PKCS5_PBKDF2_HMAC(plen ? password : "", (int)plen, salt, (int)salt_len, (int)iterations,
	                              EVP_sha256(), SCRAM_KEY_LEN, salted) == 1 &&
	            hmac(salted, "Client Key", 10, ck) && hmac(salted, "Server Key", 10, sk) &&
	            sha256(ck, SCRAM_KEY_LEN, st);
	if (okay) {
		if (client_key)
			memcpy(client_key, ck, SCRAM_KEY_LEN);
		if (stored_key)
			memcpy(stored_key, st, SCRAM_KEY_LEN);
		if (server_key)
			memcpy(server_key, sk, SCRAM_KEY_LEN);
	}
	OPENSSL_cleanse(salted, sizeof salted);
	OPENSSL_cleanse(ck, sizeof ck);
	OPENSSL_cleanse(sk, sizeof sk);
	OPENSSL_cleanse(st, sizeof st);
	return okay ? 0 : emu_err_set(err, ERR_INTERNAL, "SCRAM: key derivation failed");
}

int scram_verifier_make(const char *password, size_t plen, const uint8_t *salt, size_t salt_len,
                        uint32_t iterations, struct scram_verifier *out, struct emu_err *err)
{
	memset(out, 0, sizeof *out);
	if (salt) {
		if (salt_len == 0 || salt_len > SCRAM_SALT_MAX)
			return emu_err_set(err, ERR_VALIDATION, "SCRAM: the salt must be 1-%d bytes", SCRAM_SALT_MAX);
		memcpy(out->salt, salt, salt_len);
		out->salt_len = salt_len;
	} else {
		util_random(out->salt, SCRAM_SALT_LEN);
		out->salt_len = SCRAM_SALT_LEN;
	}
	out->iterations = iterations ? iterations : SCRAM_ITERATIONS;
	if (scram_keys(password, plen, out->salt, out->salt_len, out->iterations, NULL, out->stored_key,
	               out->server_key, err) < 0) {
		scram_verifier_wipe(out);
		return -1;
	}
	return 0;
}

void scram_verifier_wipe(struct scram_verifier *v)
{
	OPENSSL_cleanse(v, sizeof *v);
}

/* ---- text --------------------------------------------------------------- */

/* Copies msg[0..len) into dst (SCRAM_MSG_MAX + 1 bytes) as a C string. */
static int copy_msg(char *dst, const char *msg, size_t len, const char *what, struct emu_err *err)
{
	if (!msg || len == 0)
		return emu_err_set(err, ERR_VALIDATION, "SCRAM: empty %s", what);
	if (len > SCRAM_MSG_MAX)
		return emu_err_set(err, ERR_VALIDATION, "SCRAM: %s longer than %d bytes", what, SCRAM_MSG_MAX);
	if (memchr(msg, '\0', len))
		return emu_err_set(err, ERR_VALIDATION, "SCRAM: %s contains a NUL byte", what);
	memcpy(dst, msg, len);
	dst[len] = '\0';
	return 0;
}

/* Reads "<name>=<value>" at *p; the value runs to the next ',' or the end,
 * where *p is left. */
static bool attr(const char **p, char name, const char **val, size_t *vlen)
{
	const char *s = *p;
	if (s[0] != name || s[1] != '=')
		return false;
	s += 2;
	size_t n = strcspn(s, ",");
	*val = s;
	*vlen = n;
	*p = s + n;
	return true;
}

/* Skips ",<letter>=<value>" extensions until the end or an attribute named
 * stop (left at *p).  False on a malformed one. */
static bool skip_extensions(const char **p, char stop)
{
	while (**p == ',') {
		const char *s = *p + 1;
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')) || s[1] != '=')
			return false;
		if (stop && *s == stop)
			return true;
		*p = s + 2 + strcspn(s + 2, ",");
	}
	return true;
}

/* RFC 5802 printable: %x21-2B / %x2D-7E (no ','). */
static bool printable_nonce(const char *s, size_t n)
{
	if (n == 0 || n > SCRAM_NONCE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x21 || c > 0x7e || c == ',')
			return false;
	}
	return true;
}

/* Strict padded base64 of exactly want bytes (or, want == 0, 1..cap <=
 * SCRAM_SALT_MAX), in its one canonical spelling: re-encoding the bytes
 * must give s back, so unused bits in the last digit must be zero (RFC
 * 4648 3.5) and one proof has one spelling. */
static bool b64_exact(const char *s, size_t n, uint8_t *out, size_t cap, size_t want, size_t *got)
{
	unsigned char *d = NULL;
	size_t dl = 0;
	char re[B64_LEN(SCRAM_SALT_MAX) + 1];
	if (n == 0 || n % 4 != 0 || cap > SCRAM_SALT_MAX || !util_b64_decode(s, n, &d, &dl))
		return false;
	bool okay = dl > 0 && dl <= cap && (want == 0 || dl == want) &&
	            (size_t)EVP_EncodeBlock((unsigned char *)re, d, (int)dl) == n && memcmp(re, s, n) == 0;
	OPENSSL_cleanse(re, sizeof re);
	if (okay) {
		memcpy(out, d, dl);
		if (got)
			*got = dl;
	}
	OPENSSL_clear_free(d, dl + 1);
	return okay;
}

static void b64_put(struct buf *b, const uint8_t *p, size_t n)
{
	char enc[B64_LEN(SCRAM_SALT_MAX) + 1];
	if (n > SCRAM_SALT_MAX) {
		b->failed = true;
		return;
	}
	int l = EVP_EncodeBlock((unsigned char *)enc, p, (int)n);
	buf_put(b, enc, (size_t)l);
	OPENSSL_cleanse(enc, sizeof enc);
}

static void random_nonce(char out[B64_LEN(SCRAM_NONCE_RAW) + 1])
{
	uint8_t raw[SCRAM_NONCE_RAW];
	util_random(raw, sizeof raw);
	EVP_EncodeBlock((unsigned char *)out, raw, (int)sizeof raw);
}

/* AuthMessage into am (AUTH_MSG_MAX + 1 bytes); returns its length. */
static size_t auth_message(char *am, const char *first_bare, const char *server_first, const char *final_wo,
                           size_t final_wo_len)
{
	size_t a = strlen(first_bare), b = strlen(server_first), n = 0;
	memcpy(am + n, first_bare, a);
	n += a;
	am[n++] = ',';
	memcpy(am + n, server_first, b);
	n += b;
	am[n++] = ',';
	memcpy(am + n, final_wo, final_wo_len);
	n += final_wo_len;
	am[n] = '\0';
	return n;
}

/* ---- server ------------------------------------------------------------- */

void scram_server_init(struct scram_server *s, const struct scram_verifier *v)
{
	memset(s, 0, sizeof *s);
	s->v = *v;
	s->state = SCRAM_S_INIT;
}

void scram_server_wipe(struct scram_server *s)
{
	OPENSSL_cleanse(s, sizeof *s);
	s->state = SCRAM_S_FAILED;
}

static int server_fail(struct scram_server *s, struct emu_err *err, const char *msg)
{
	s->state = SCRAM_S_FAILED;
	return emu_err_set(err, ERR_VALIDATION, "SCRAM: %s", msg);
}

int scram_server_first_nonce(struct scram_server *s, const char *msg, size_t len, const char *server_nonce,
                             struct buf *out, struct emu_err *err)
{
	if (s->state != SCRAM_S_INIT)
		return server_fail(s, err, "client-first-message out of sequence");
	if (!server_nonce || !printable_nonce(server_nonce, strlen(server_nonce)))
		return server_fail(s, err, "invalid server nonce");
	char m[SCRAM_MSG_MAX + 1];
	if (copy_msg(m, msg, len, "client-first-message", err) < 0) {
		s->state = SCRAM_S_FAILED;
		return -1;
	}
	int rc = 0;
	const char *p = m, *v;
	size_t vl;
	/* gs2-header: cbind-flag "," [authzid] "," */
	if (p[0] == 'p')
		rc = server_fail(s, err, "channel binding is not supported (SCRAM-SHA-256-PLUS is not offered)");
	else if ((p[0] != 'n' && p[0] != 'y') || p[1] != ',')
		rc = server_fail(s, err, "malformed client-first-message: expected gs2 header \"n,,\"");
	else if (p[2] == 'a' && p[3] == '=')
		rc = server_fail(s, err, "an authorization identity is not supported");
	else if (p[2] != ',')
		rc = server_fail(s, err, "malformed client-first-message: malformed gs2 header");
	if (rc < 0)
		goto out;
	memcpy(s->gs2_header, p, 3);
	s->gs2_header[3] = '\0';
	p += 3;
	const char *bare = p;
	if (p[0] == 'm' && p[1] == '=') {
		rc = server_fail(s, err, "mandatory extensions are not supported");
		goto out;
	}
	/* n=<user>: required, ignored (the StartupMessage names the user). */
	if (!attr(&p, 'n', &v, &vl) || *p != ',') {
		rc = server_fail(s, err, "malformed client-first-message: expected attribute \"n\"");
		goto out;
	}
	p++;
	if (!attr(&p, 'r', &v, &vl)) {
		rc = server_fail(s, err, "malformed client-first-message: expected attribute \"r\"");
		goto out;
	}
	if (!printable_nonce(v, vl)) {
		rc = server_fail(s, err, "malformed client-first-message: invalid client nonce");
		goto out;
	}
	if (!skip_extensions(&p, 0) || *p != '\0') {
		rc = server_fail(s, err, "malformed client-first-message: garbage after the nonce");
		goto out;
	}
	/* Combined nonce, then r=<nonce>,s=<salt>,i=<count>. */
	size_t sl = strlen(server_nonce);
	memcpy(s->nonce, v, vl);
	memcpy(s->nonce + vl, server_nonce, sl);
	s->nonce[vl + sl] = '\0';
	memcpy(s->client_first_bare, bare, strlen(bare) + 1); /* fits: bare is inside m */
	struct buf sf;
	buf_init(&sf, SCRAM_MSG_MAX);
	buf_puts(&sf, "r=");
	buf_puts(&sf, s->nonce);
	buf_puts(&sf, ",s=");
	b64_put(&sf, s->v.salt, s->v.salt_len);
	buf_printf(&sf, ",i=%u", (unsigned)s->v.iterations);
	if (sf.failed) {
		buf_free(&sf);
		rc = server_fail(s, err, "server-first-message too long");
		goto out;
	}
	memcpy(s->server_first, sf.data, sf.len + 1);
	buf_put(out, sf.data, sf.len);
	buf_free(&sf);
	s->state = SCRAM_S_FIRST_SENT;
	rc = 0;
out:
	OPENSSL_cleanse(m, sizeof m);
	return rc;
}

int scram_server_first(struct scram_server *s, const char *msg, size_t len, struct buf *out, struct emu_err *err)
{
	char nonce[B64_LEN(SCRAM_NONCE_RAW) + 1];
	random_nonce(nonce);
	return scram_server_first_nonce(s, msg, len, nonce, out, err);
}

int scram_server_final(struct scram_server *s, const char *msg, size_t len, struct buf *out, struct emu_err *err)
{
	if (s->state != SCRAM_S_FIRST_SENT)
		return server_fail(s, err, "client-final-message out of sequence");
	char m[SCRAM_MSG_MAX + 1], am[AUTH_MSG_MAX + 1], cb[8];
	uint8_t proof[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN], key[SCRAM_KEY_LEN], stored[SCRAM_KEY_LEN];
	if (copy_msg(m, msg, len, "client-final-message", err) < 0) {
		s->state = SCRAM_S_FAILED;
		return -1;
	}
	int rc = -1;
	const char *p = m, *v;
	size_t vl;
	/* c=: base64 of the gs2 header as sent (no channel-binding data). */
	EVP_EncodeBlock((unsigned char *)cb, (const unsigned char *)s->gs2_header, 3);
	if (!attr(&p, 'c', &v, &vl) || *p != ',') {
		rc = server_fail(s, err, "malformed client-final-message: expected attribute \"c\"");
		goto out;
	}
	if (vl != 4 || memcmp(v, cb, 4) != 0) {
		rc = server_fail(s, err, "unexpected channel-binding data in client-final-message");
		goto out;
	}
	p++;
	if (!attr(&p, 'r', &v, &vl)) {
		rc = server_fail(s, err, "malformed client-final-message: expected attribute \"r\"");
		goto out;
	}
	if (vl != strlen(s->nonce) || memcmp(v, s->nonce, vl) != 0) {
		rc = server_fail(s, err, "client-final-message nonce does not match");
		goto out;
	}
	if (!skip_extensions(&p, 'p') || p[0] != ',') {
		rc = server_fail(s, err, "malformed client-final-message: expected attribute \"p\"");
		goto out;
	}
	size_t wo_len = (size_t)(p - m); /* client-final-message-without-proof */
	p++;
	if (!attr(&p, 'p', &v, &vl) || *p != '\0') {
		rc = server_fail(s, err, "malformed client-final-message: the proof must come last");
		goto out;
	}
	if (!b64_exact(v, vl, proof, sizeof proof, SCRAM_KEY_LEN, NULL)) {
		rc = server_fail(s, err, "malformed client-final-message: invalid proof");
		goto out;
	}
	/* ClientKey = proof XOR HMAC(StoredKey, AuthMessage); H(ClientKey) must be StoredKey. */
	size_t aml = auth_message(am, s->client_first_bare, s->server_first, m, wo_len);
	if (!hmac(s->v.stored_key, am, aml, sig)) {
		s->state = SCRAM_S_FAILED;
		rc = emu_err_set(err, ERR_INTERNAL, "SCRAM: HMAC failed");
		goto out;
	}
	for (size_t i = 0; i < SCRAM_KEY_LEN; i++)
		key[i] = proof[i] ^ sig[i];
	if (!sha256(key, SCRAM_KEY_LEN, stored)) {
		s->state = SCRAM_S_FAILED;
		rc = emu_err_set(err, ERR_INTERNAL, "SCRAM: SHA-256 failed");
		goto out;
	}
	if (CRYPTO_memcmp(stored, s->v.stored_key, SCRAM_KEY_LEN) != 0) {
		s->state = SCRAM_S_FAILED;
		emu_err_set(err, ERR_ACCESS_DENIED, "SCRAM: the proof does not match the password");
		rc = SCRAM_BAD_PROOF;
		goto out;
	}
	if (!hmac(s->v.server_key, am, aml, sig)) {
		s->state = SCRAM_S_FAILED;
		rc = emu_err_set(err, ERR_INTERNAL, "SCRAM: HMAC failed");
		goto out;
	}
	buf_puts(out, "v=");
	b64_put(out, sig, SCRAM_KEY_LEN);
	s->state = SCRAM_S_DONE;
	rc = 0;
out:
	OPENSSL_cleanse(m, sizeof m);
	OPENSSL_cleanse(am, sizeof am);
	OPENSSL_cleanse(proof, sizeof proof);
	OPENSSL_cleanse(sig, sizeof sig);
	OPENSSL_cleanse(key, sizeof key);
	OPENSSL_cleanse(stored, sizeof stored);
	return rc;
}

/* ---- client ------------------------------------------------------------- */

void scram_client_init(struct scram_client *c, uint32_t max_iterations)
{
	memset(c, 0, sizeof *c);
	c->state = SCRAM_C_INIT;
	c->max_iterations = max_iterations && max_iterations < SCRAM_ITER_MAX ? max_iterations : SCRAM_ITER_MAX;
}

void scram_client_wipe(struct scram_client *c)
{
	OPENSSL_cleanse(c, sizeof *c);
	c->state = SCRAM_C_FAILED;
}

static int client_fail(struct scram_client *c, struct emu_err *err, const char *msg)
{
	c->state = SCRAM_C_FAILED;
	return emu_err_set(err, ERR_VALIDATION, "SCRAM: %s", msg);
}

int scram_client_first_nonce(struct scram_client *c, const char *user, const char *nonce, struct buf *out,
                             struct emu_err *err)
{
	if (c->state != SCRAM_C_INIT)
		return client_fail(c, err, "client-first-message out of sequence");
	if (!nonce || !printable_nonce(nonce, strlen(nonce)))
		return client_fail(c, err, "invalid client nonce");
	/* saslname: ',' and '=' escaped as =2C and =3D (RFC 5802 5.1). */
	struct buf bare;
	buf_init(&bare, SCRAM_MSG_MAX);
	buf_puts(&bare, "n=");
	for (const char *u = user ? user : ""; *u; u++) {
		if (*u == ',')
			buf_puts(&bare, "=2C");
		else if (*u == '=')
			buf_puts(&bare, "=3D");
		else
			buf_putc(&bare, *u);
	}
	buf_puts(&bare, ",r=");
	buf_puts(&bare, nonce);
	if (bare.failed) {
		buf_free(&bare);
		return client_fail(c, err, "client-first-message too long");
	}
	memcpy(c->client_first_bare, bare.data, bare.len + 1);
	memcpy(c->nonce, nonce, strlen(nonce) + 1); /* at most SCRAM_NONCE_MAX: checked above */
	buf_puts(out, "n,,");
	buf_put(out, bare.data, bare.len);
	buf_free(&bare);
	c->state = SCRAM_C_FIRST_SENT;
	return 0;
}

int scram_client_first(struct scram_client *c, const char *user, struct buf *out, struct emu_err *err)
{
	char nonce[B64_LEN(SCRAM_NONCE_RAW) + 1];
	random_nonce(nonce);
	return scram_client_first_nonce(c, user, nonce, out, err);
}

/* The decimal count of i=, 1..max. */
static bool parse_count(const char *s, size_t n, uint32_t max, uint32_t *out)
{
	if (n == 0 || n > 10 || s[0] == '0')
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* The client side's derived keys, remembered by SHA-256(iterations, salt,
 * password): a proxy logs in to the same server as the same user for every
 * new backend connection, and the PBKDF2 is nearly all of that login's
 * cost.  A small ring; scram_client_forget wipes it. */
#define KCACHE 32
static struct kcache {
	bool used;
	uint8_t id[SCRAM_KEY_LEN], ck[SCRAM_KEY_LEN], stk[SCRAM_KEY_LEN], svk[SCRAM_KEY_LEN];
} kcache[KCACHE];
static unsigned kcache_next;

static bool kcache_id(const char *password, size_t plen, const uint8_t *salt, size_t salt_len, uint32_t iter,
                      uint8_t id[SCRAM_KEY_LEN])
{
	uint8_t head[8] = {(uint8_t)(iter >> 24), (uint8_t)(iter >> 16), (uint8_t)(iter >> 8), (uint8_t)iter,
	                   (uint8_t)(salt_len >> 24), (uint8_t)(salt_len >> 16), (uint8_t)(salt_len >> 8),
	                   (uint8_t)salt_len};
	EVP_MD_CTX *x = EVP_MD_CTX_new();
	unsigned int ol = 0;
	bool ok = x && EVP_DigestInit_ex(x, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(x, head, sizeof head) == 1 &&
	          EVP_DigestUpdate(x, salt, salt_len) == 1 && EVP_DigestUpdate(x, password, plen) == 1 &&
	          EVP_DigestFinal_ex(x, id, &ol) == 1 && ol == SCRAM_KEY_LEN;
	EVP_MD_CTX_free(x);
	return ok;
}

static int client_keys(const char *password, size_t plen, const uint8_t *salt, size_t salt_len, uint32_t iter,
                       uint8_t ck[SCRAM_KEY_LEN], uint8_t stk[SCRAM_KEY_LEN], uint8_t svk[SCRAM_KEY_LEN],
                       struct emu_err *err)
{
	uint8_t id[SCRAM_KEY_LEN];
	bool have_id = kcache_id(password, plen, salt, salt_len, iter, id);
	for (int i = 0; have_id && i < KCACHE; i++)
		if (kcache[i].used && CRYPTO_memcmp(kcache[i].id, id, sizeof id) == 0) {
			memcpy(ck, kcache[i].ck, SCRAM_KEY_LEN);
			memcpy(stk, kcache[i].stk, SCRAM_KEY_LEN);
			memcpy(svk, kcache[i].svk, SCRAM_KEY_LEN);
			return 0;
		}
	if (scram_keys(password, plen, salt, salt_len, iter, ck, stk, svk, err) < 0)
		return -1;
	if (have_id) {
		struct kcache *e = &kcache[kcache_next++ % KCACHE];
		e->used = true;
		memcpy(e->id, id, sizeof id);
		memcpy(e->ck, ck, SCRAM_KEY_LEN);
		memcpy(e->stk, stk, SCRAM_KEY_LEN);
		memcpy(e->svk, svk, SCRAM_KEY_LEN);
	}
	return 0;
}

void scram_client_forget(void)
{
	OPENSSL_cleanse(kcache, sizeof kcache);
	kcache_next = 0;
}

int scram_client_final(struct scram_client *c, const char *password, size_t plen, const char *msg, size_t len,
                       struct buf *out, struct emu_err *err)
{
	if (c->state != SCRAM_C_FIRST_SENT)
		return client_fail(c, err, "server-first-message out of sequence");
	char m[SCRAM_MSG_MAX + 1], am[AUTH_MSG_MAX + 1], wo[SCRAM_MSG_MAX + 1];
	uint8_t salt[SCRAM_SALT_MAX], ck[SCRAM_KEY_LEN], stk[SCRAM_KEY_LEN], svk[SCRAM_KEY_LEN],
		sig[SCRAM_KEY_LEN];
	if (copy_msg(m, msg, len, "server-first-message", err) < 0) {
		c->state = SCRAM_C_FAILED;
		return -1;
	}
	int rc = -1;
	const char *p = m, *nonce, *v;
	size_t nl, vl, salt_len = 0;
	uint32_t iter = 0;
	size_t ours = strlen(c->nonce);
	if (p[0] == 'm' && p[1] == '=') {
		rc = client_fail(c, err, "mandatory extensions are not supported");
		goto out;
	}
	if (!attr(&p, 'r', &nonce, &nl) || *p != ',') {
		rc = client_fail(c, err, "malformed server-first-message: expected attribute \"r\"");
		goto out;
	}
	if (nl <= ours || nl > 2 * SCRAM_NONCE_MAX || memcmp(nonce, c->nonce, ours) != 0 ||
	    !printable_nonce(nonce + ours, nl - ours)) {
		rc = client_fail(c, err, "server-first-message nonce does not extend the client nonce");
		goto out;
	}
	p++;
	if (!attr(&p, 's', &v, &vl) || *p != ',' || !b64_exact(v, vl, salt, sizeof salt, 0, &salt_len)) {
		rc = client_fail(c, err, "malformed server-first-message: invalid salt");
		goto out;
	}
	p++;
	if (!attr(&p, 'i', &v, &vl) || !parse_count(v, vl, UINT32_MAX, &iter)) {
		rc = client_fail(c, err, "malformed server-first-message: invalid iteration count");
		goto out;
	}
	if (iter > c->max_iterations) {
		c->state = SCRAM_C_FAILED;
		rc = emu_err_set(err, ERR_VALIDATION, "SCRAM: the server's iteration count %u is above the limit %u",
		                 (unsigned)iter, (unsigned)c->max_iterations);
		goto out;
	}
	if (!skip_extensions(&p, 0) || *p != '\0') {
		rc = client_fail(c, err, "malformed server-first-message: garbage after the iteration count");
		goto out;
	}
	/* client-final-message-without-proof: c=biws,r=<nonce> */
	int wl = snprintf(wo, sizeof wo, "c=biws,r=%.*s", (int)nl, nonce);
	if (wl < 0 || (size_t)wl >= sizeof wo || (size_t)wl + 4 + B64_LEN(SCRAM_KEY_LEN) > SCRAM_MSG_MAX) {
		rc = client_fail(c, err, "client-final-message too long");
		goto out;
	}
	if (client_keys(password, plen, salt, salt_len, iter, ck, stk, svk, err) < 0) {
		c->state = SCRAM_C_FAILED;
		goto out;
	}
	size_t aml = auth_message(am, c->client_first_bare, m, wo, (size_t)wl);
	if (!hmac(stk, am, aml, sig) || !hmac(svk, am, aml, c->server_signature)) {
		c->state = SCRAM_C_FAILED;
		rc = emu_err_set(err, ERR_INTERNAL, "SCRAM: HMAC failed");
		goto out;
	}
	for (size_t i = 0; i < SCRAM_KEY_LEN; i++)
		sig[i] ^= ck[i]; /* ClientProof = ClientKey XOR ClientSignature */
	buf_put(out, wo, (size_t)wl);
	buf_puts(out, ",p=");
	b64_put(out, sig, SCRAM_KEY_LEN);
	c->state = SCRAM_C_FINAL_SENT;
	rc = 0;
out:
	OPENSSL_cleanse(m, sizeof m);
	OPENSSL_cleanse(am, sizeof am);
	OPENSSL_cleanse(salt, sizeof salt);
	OPENSSL_cleanse(ck, sizeof ck);
	OPENSSL_cleanse(stk, sizeof stk);
	OPENSSL_cleanse(svk, sizeof svk);
	OPENSSL_cleanse(sig, sizeof sig);
	return rc;
}

int scram_client_verify(struct scram_client *c, const char *msg, size_t len, struct emu_err *err)
{
	if (c->state != SCRAM_C_FINAL_SENT)
		return client_fail(c, err, "server-final-message out of sequence");
	char m[SCRAM_MSG_MAX + 1];
	uint8_t sig[SCRAM_KEY_LEN];
	if (copy_msg(m, msg, len, "server-final-message", err) < 0) {
		c->state = SCRAM_C_FAILED;
		return -1;
	}
	int rc = -1;
	const char *p = m, *v;
	size_t vl;
	if (attr(&p, 'e', &v, &vl)) {
		char echo[ECHO_MAX + 1];
		size_t n = 0;
		for (size_t i = 0; i < vl && n < ECHO_MAX; i++)
			echo[n++] = (v[i] >= 0x20 && v[i] < 0x7f) ? v[i] : '?';
		echo[n] = '\0';
		c->state = SCRAM_C_FAILED;
		rc = emu_err_set(err, ERR_ACCESS_DENIED, "SCRAM: the server refused the login: %s", echo);
		goto out;
	}
	if (!attr(&p, 'v', &v, &vl) || !skip_extensions(&p, 0) || *p != '\0') {
		rc = client_fail(c, err, "malformed server-final-message");
		goto out;
	}
	if (!b64_exact(v, vl, sig, sizeof sig, SCRAM_KEY_LEN, NULL)) {
		rc = client_fail(c, err, "malformed server-final-message: invalid signature");
		goto out;
	}
	if (CRYPTO_memcmp(sig, c->server_signature, SCRAM_KEY_LEN) != 0) {
		rc = client_fail(c, err, "the server's signature does not match: it does not know the password");
		goto out;
	}
	c->state = SCRAM_C_DONE;
	rc = 0;
out:
	OPENSSL_cleanse(m, sizeof m);
	OPENSSL_cleanse(sig, sizeof sig);
	OPENSSL_cleanse(c->server_signature, sizeof c->server_signature);
	return rc;
}
