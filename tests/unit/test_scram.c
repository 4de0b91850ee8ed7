/*
 * Unit tests of wire/scram: RFC 7677's SCRAM-SHA-256 example byte for byte
 * in both directions (user "user", password "pencil"); full exchanges with
 * random nonces and salts; a wrong password gives SCRAM_BAD_PROOF; the gs2
 * header variants ("y,," accepted with c=eSws, channel binding and authzid
 * refused), extensions, and each malformed message on both sides, which
 * must fail cleanly and leave the exchange failed.
 */
#include "wire/scram.h"

#include "tap.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <string.h>

/* RFC 7677 section 3. */
#define RFC_USER "user"
#define RFC_PASSWORD "pencil"
#define RFC_CNONCE "rOprNGfwEbeRWgbNEkqO"
#define RFC_SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_SALT_B64 "W22ZaJ0SNY7soEsUEjb6gQ=="
#define RFC_C1 "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_S1 "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC_C2 \
	"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_S2 "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static struct scram_verifier rfc_verifier(void)
{
	uint8_t salt[32];
	int n = EVP_DecodeBlock(salt, (const unsigned char *)RFC_SALT_B64, (int)strlen(RFC_SALT_B64));
	struct scram_verifier v;
	struct emu_err err;
	int rc = scram_verifier_make(RFC_PASSWORD, strlen(RFC_PASSWORD), salt, (size_t)n - 2, 4096, &v, &err);
	ok(rc == 0 && v.salt_len == 16 && v.iterations == 4096, "RFC verifier derived");
	return v;
}

static bool buf_is(struct buf *b, const char *want)
{
	bool same = !b->failed && b->len == strlen(want) && memcmp(b->data, want, b->len) == 0;
	if (!same)
		printf("#   got:  '%s'\n#   want: '%s'\n", buf_cstr(b), want);
	return same;
}

/* A server past client-first (with "n,,n=,r=abc" unless first is given);
 * its server-first in sf. */
static void server_at_first(struct scram_server *s, const struct scram_verifier *v, const char *first,
                            struct buf *sf)
{
	struct emu_err err;
	scram_server_init(s, v);
	const char *m = first ? first : "n,,n=,r=abc";
	buf_reset(sf);
	if (scram_server_first_nonce(s, m, strlen(m), "SRV", sf, &err) != 0)
		printf("#   unexpected: %s\n", err.msg);
}

/* The proof for AuthMessage am and password, computed here from the
 * definitions (RFC 5802 section 3), in base64. */
static void manual_proof(const struct scram_verifier *v, const char *password, const char *am, char out[45])
{
	struct emu_err err;
	uint8_t ck[SCRAM_KEY_LEN], stk[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN];
	unsigned int l = 0;
	if (scram_keys(password, strlen(password), v->salt, v->salt_len, v->iterations, ck, stk, NULL, &err) != 0)
		printf("#   scram_keys failed\n");
	HMAC(EVP_sha256(), stk, SCRAM_KEY_LEN, (const unsigned char *)am, strlen(am), sig, &l);
	for (int i = 0; i < SCRAM_KEY_LEN; i++)
		sig[i] ^= ck[i];
	EVP_EncodeBlock((unsigned char *)out, sig, SCRAM_KEY_LEN);
}

static void test_rfc7677(void)
{
	struct emu_err err;
	struct buf b;
	buf_init(&b, 0);
	struct scram_verifier v = rfc_verifier();

	/* Server side. */
	struct scram_server s;
	scram_server_init(&s, &v);
	is_int(scram_server_first_nonce(&s, RFC_C1, strlen(RFC_C1), RFC_SNONCE, &b, &err), 0, "server: RFC client-first");
	ok(buf_is(&b, RFC_S1), "server: RFC server-first, byte for byte");
	buf_reset(&b);
	is_int(scram_server_final(&s, RFC_C2, strlen(RFC_C2), &b, &err), 0, "server: RFC client-final verifies");
	ok(buf_is(&b, RFC_S2), "server: RFC server-final, byte for byte");
	is_int(s.state, SCRAM_S_DONE, "server done");
	buf_reset(&b);
	is_int(scram_server_final(&s, RFC_C2, strlen(RFC_C2), &b, &err), -1, "server: a replayed final is refused");
	/* The RFC proof spelled with non-zero unused bits in its last digit
	 * (same bytes; found by libFuzzer) is refused. */
	scram_server_init(&s, &v);
	buf_reset(&b);
	scram_server_first_nonce(&s, RFC_C1, strlen(RFC_C1), RFC_SNONCE, &b, &err);
	char odd[] = RFC_C2;
	odd[strlen(odd) - 2] = 'S'; /* "...AndVQ=" -> "...AndVS=" */
	buf_reset(&b);
	is_int(scram_server_final(&s, odd, strlen(odd), &b, &err), -1, "server: non-canonical base64 proof refused");
	scram_server_wipe(&s);

	/* Client side. */
	struct scram_client c;
	scram_client_init(&c, 0);
	is_int(scram_client_first_nonce(&c, RFC_USER, RFC_CNONCE, &b, &err), 0, "client: first");
	ok(buf_is(&b, RFC_C1), "client: RFC client-first, byte for byte");
	buf_reset(&b);
	is_int(scram_client_final(&c, RFC_PASSWORD, strlen(RFC_PASSWORD), RFC_S1, strlen(RFC_S1), &b, &err), 0,
	       "client: RFC server-first accepted");
	ok(buf_is(&b, RFC_C2), "client: RFC client-final, byte for byte");
	is_int(scram_client_verify(&c, RFC_S2, strlen(RFC_S2), &err), 0, "client: RFC server-final verifies");
	is_int(c.state, SCRAM_C_DONE, "client done");
	scram_client_wipe(&c);
	buf_free(&b);

	/* The verifier's keys are the ones scram_keys derives. */
	uint8_t ck[SCRAM_KEY_LEN], stk[SCRAM_KEY_LEN], svk[SCRAM_KEY_LEN];
	is_int(scram_keys(RFC_PASSWORD, 6, v.salt, v.salt_len, 4096, ck, stk, svk, &err), 0, "keys derived");
	ok(memcmp(stk, v.stored_key, 32) == 0 && memcmp(svk, v.server_key, 32) == 0, "StoredKey and ServerKey agree");
	scram_verifier_wipe(&v);
}

/* One whole exchange between our client and our server. */
static int exchange(const char *server_password, const char *client_password, const char *user, struct emu_err *err)
{
	struct scram_verifier v;
	if (scram_verifier_make(server_password, strlen(server_password), NULL, 0, 0, &v, err) != 0)
		return 100;
	struct scram_server s;
	struct scram_client c;
	scram_server_init(&s, &v);
	scram_client_init(&c, 0);
	struct buf m1, m2, m3, m4;
	buf_init(&m1, 0);
	buf_init(&m2, 0);
	buf_init(&m3, 0);
	buf_init(&m4, 0);
	int rc = 10;
	if (scram_client_first(&c, user, &m1, err) != 0)
		goto out;
	rc = 11;
	if (scram_server_first(&s, m1.data, m1.len, &m2, err) != 0)
		goto out;
	rc = 12;
	if (scram_client_final(&c, client_password, strlen(client_password), m2.data, m2.len, &m3, err) != 0)
		goto out;
	rc = scram_server_final(&s, m3.data, m3.len, &m4, err);
	if (rc != 0)
		goto out;
	rc = 13;
	if (scram_client_verify(&c, m4.data, m4.len, err) != 0)
		goto out;
	rc = 0;
out:
	buf_free(&m1);
	buf_free(&m2);
	buf_free(&m3);
	buf_free(&m4);
	scram_server_wipe(&s);
	scram_client_wipe(&c);
	scram_verifier_wipe(&v);
	return rc;
}

static void test_exchange(void)
{
	struct emu_err err;
	is_int(exchange("correct horse", "correct horse", "alice", &err), 0, "random nonces: full exchange");
	is_int(exchange("p\xc3\xa4ss,=", "p\xc3\xa4ss,=", "we,ird=user", &err), 0,
	       "UTF-8 password, user needing escapes");
	is_int(exchange("", "", NULL, &err), 0, "empty password, no user");
	is_int(exchange("correct horse", "wrong horse", "alice", &err), SCRAM_BAD_PROOF, "wrong password: SCRAM_BAD_PROOF");
	is_int(err.code, ERR_ACCESS_DENIED, "as ERR_ACCESS_DENIED");

	/* Two verifiers of one password differ (random salt). */
	struct scram_verifier a, b;
	scram_verifier_make("pw", 2, NULL, 0, 0, &a, &err);
	scram_verifier_make("pw", 2, NULL, 0, 0, &b, &err);
	ok(a.salt_len == SCRAM_SALT_LEN && memcmp(a.salt, b.salt, SCRAM_SALT_LEN) != 0, "random salts");
	ok(memcmp(a.stored_key, b.stored_key, SCRAM_KEY_LEN) != 0, "so different keys");
	is_int(a.iterations, SCRAM_ITERATIONS, "default iterations");
	is_int(scram_verifier_make("pw", 2, NULL, 0, SCRAM_ITER_MAX + 1, &a, &err), -1, "too many iterations refused");
	const uint8_t s[1] = {0};
	is_int(scram_verifier_make("pw", 2, s, 0, 1, &a, &err), -1, "empty given salt refused");
	is_int(scram_verifier_make("pw", 2, s, 1, 1, &a, &err), 0, "1-byte salt, 1 iteration");
	scram_verifier_wipe(&a);
	scram_verifier_wipe(&b);
}

static void test_server_first(void)
{
	struct emu_err err;
	struct buf b;
	buf_init(&b, 0);
	struct scram_verifier v;
	scram_verifier_make("pw", 2, (const uint8_t *)"0123456789abcdef", 16, 16, &v, &err);
	struct scram_server s;
	static const struct {
		const char *msg, *why;
		int rc;
	} cases[] = {
		{"n,,n=,r=abc", "empty user accepted", 0},
		{"n,,n=bob,r=abc", "user accepted (ignored)", 0},
		{"y,,n=,r=abc", "y (no binding, server has none) accepted", 0},
		{"n,,n=,r=abc,x=ext,y=1", "extensions after the nonce skipped", 0},
		{"p=tls-server-end-point,,n=,r=abc", "channel binding refused", -1},
		{"n,a=admin,n=,r=abc", "authzid refused", -1},
		{"x,,n=,r=abc", "unknown gs2 flag refused", -1},
		{"n,n=,r=abc", "short gs2 header refused", -1},
		{"n", "bare flag refused", -1},
		{"n,,r=abc", "missing n= refused", -1},
		{"n,,n=", "missing r= refused", -1},
		{"n,,n=u", "missing r= after user refused", -1},
		{"n,,n=,r=", "empty nonce refused", -1},
		{"n,,n=,r=a b", "nonce with a space refused", -1},
		{"n,,n=,r=a\x7f", "nonce with DEL refused", -1},
		{"n,,m=x,n=,r=abc", "mandatory extension refused", -1},
		{"n,,n=,r=abc,", "trailing comma refused", -1},
		{"n,,n=,r=abc,1=x", "extension with a digit name refused", -1},
		{"n,,n=,r=abc,x", "extension without = refused", -1},
		{"", "empty message refused", -1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		scram_server_init(&s, &v);
		buf_reset(&b);
		int rc = scram_server_first_nonce(&s, cases[i].msg, strlen(cases[i].msg), "SRV", &b, &err);
		is_int(rc, cases[i].rc, "client-first %s", cases[i].why);
		if (rc == -1)
			ok(s.state == SCRAM_S_FAILED && b.len == 0 && err.code == ERR_VALIDATION, "  failed, nothing written");
	}
	scram_server_init(&s, &v);
	buf_reset(&b);
	is_int(scram_server_first_nonce(&s, "n,,n=,r=abc", 11, "SRV", &b, &err), 0, "server-first sent");
	ok(buf_is(&b, "r=abcSRV,s=MDEyMzQ1Njc4OWFiY2RlZg==,i=16"), "its bytes");
	is_int(scram_server_first_nonce(&s, "n,,n=,r=abc", 11, "SRV", &b, &err), -1, "a second client-first refused");

	scram_server_init(&s, &v);
	is_int(scram_server_first(&s, "n,,n=,r=abc\0x", 13, &b, &err), -1, "embedded NUL refused");
	char big[SCRAM_MSG_MAX + 2];
	memset(big, 'a', sizeof big);
	memcpy(big, "n,,n=,r=", 8);
	scram_server_init(&s, &v);
	is_int(scram_server_first(&s, big, sizeof big, &b, &err), -1, "message over SCRAM_MSG_MAX refused");
	char longn[SCRAM_NONCE_MAX + 10];
	memcpy(longn, "n,,n=,r=", 8);
	memset(longn + 8, 'a', SCRAM_NONCE_MAX + 1);
	longn[8 + SCRAM_NONCE_MAX + 1] = '\0';
	scram_server_init(&s, &v);
	is_int(scram_server_first(&s, longn, strlen(longn), &b, &err), -1, "nonce over SCRAM_NONCE_MAX refused");
	longn[8 + SCRAM_NONCE_MAX] = '\0';
	scram_server_init(&s, &v);
	buf_reset(&b);
	is_int(scram_server_first(&s, longn, strlen(longn), &b, &err), 0, "nonce of SCRAM_NONCE_MAX accepted");
	ok(b.len == 2 + SCRAM_NONCE_MAX + 24 + 27 + 5, "random server nonce: 24 base64 characters");
	scram_server_init(&s, &v);
	is_int(scram_server_first_nonce(&s, "n,,n=,r=abc", 11, "a,b", &b, &err), -1, "a server nonce with ',' refused");
	scram_server_wipe(&s);
	scram_verifier_wipe(&v);
	buf_free(&b);
}

static void test_server_final(void)
{
	struct emu_err err;
	struct buf sf, out;
	buf_init(&sf, 0);
	buf_init(&out, 0);
	struct scram_verifier v;
	scram_verifier_make("pw", 2, (const uint8_t *)"0123456789abcdef", 16, 16, &v, &err);
	struct scram_server s;
	char proof[45], am[512], msg[512];

	/* A correct proof computed by hand, with the nonce "abcSRV". */
	server_at_first(&s, &v, NULL, &sf);
	snprintf(am, sizeof am, "n=,r=abc,%s,c=biws,r=abcSRV", buf_cstr(&sf));
	manual_proof(&v, "pw", am, proof);
	snprintf(msg, sizeof msg, "c=biws,r=abcSRV,p=%s", proof);
	is_int(scram_server_final(&s, msg, strlen(msg), &out, &err), 0, "hand-made proof verifies");
	ok(out.len == 46 && memcmp(out.data, "v=", 2) == 0, "server-final v= and 44 characters");

	/* An extension between r= and p= is part of the AuthMessage. */
	server_at_first(&s, &v, NULL, &sf);
	snprintf(am, sizeof am, "n=,r=abc,%s,c=biws,r=abcSRV,x=1", buf_cstr(&sf));
	manual_proof(&v, "pw", am, proof);
	snprintf(msg, sizeof msg, "c=biws,r=abcSRV,x=1,p=%s", proof);
	buf_reset(&out);
	is_int(scram_server_final(&s, msg, strlen(msg), &out, &err), 0, "extension before the proof verifies");

	/* "y,,": c= must be eSws. */
	server_at_first(&s, &v, "y,,n=,r=abc", &sf);
	snprintf(am, sizeof am, "n=,r=abc,%s,c=eSws,r=abcSRV", buf_cstr(&sf));
	manual_proof(&v, "pw", am, proof);
	snprintf(msg, sizeof msg, "c=eSws,r=abcSRV,p=%s", proof);
	buf_reset(&out);
	is_int(scram_server_final(&s, msg, strlen(msg), &out, &err), 0, "y,, with c=eSws verifies");
	server_at_first(&s, &v, "y,,n=,r=abc", &sf);
	snprintf(msg, sizeof msg, "c=biws,r=abcSRV,p=%s", proof);
	is_int(scram_server_final(&s, msg, strlen(msg), &out, &err), -1, "y,, with c=biws refused");

	/* Wrong proofs. */
	server_at_first(&s, &v, NULL, &sf);
	snprintf(am, sizeof am, "n=,r=abc,%s,c=biws,r=abcSRV", buf_cstr(&sf));
	manual_proof(&v, "wrong", am, proof);
	snprintf(msg, sizeof msg, "c=biws,r=abcSRV,p=%s", proof);
	buf_reset(&out);
	is_int(scram_server_final(&s, msg, strlen(msg), &out, &err), SCRAM_BAD_PROOF, "proof for another password");
	ok(err.code == ERR_ACCESS_DENIED && out.len == 0 && s.state == SCRAM_S_FAILED, "access denied, nothing written");
	server_at_first(&s, &v, NULL, &sf);
	const char *zero = "c=biws,r=abcSRV,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
	is_int(scram_server_final(&s, zero, strlen(zero), &out, &err), SCRAM_BAD_PROOF, "zero proof");

	static const struct {
		const char *msg, *why;
	} bad[] = {
		{"r=abcSRV,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "missing c="},
		{"c=biws", "c= alone"},
		{"c=biws,r=abcSRV", "missing p="},
		{"c=biws,r=abcSRV,", "trailing comma"},
		{"c=biws,r=abcSRX,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "wrong nonce"},
		{"c=biws,r=abcSR,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "truncated nonce"},
		{"c=biws,r=abcSRVx,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "extended nonce"},
		{"c=biws,r=abc,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "client nonce only"},
		{"c=eSws,r=abcSRV,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "c= of another header"},
		{"c=cD10bHMtc2VydmVyLWVuZC1wb2ludCws,r=abcSRV,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		 "channel-binding data"},
		{"c=biws,r=abcSRV,p=!!!!", "proof not base64"},
		{"c=biws,r=abcSRV,p=AAAA", "proof too short"},
		{"c=biws,r=abcSRV,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "proof without padding"},
		{"c=biws,r=abcSRV,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=", "proof with non-zero unused bits"},
		{"c=biws,r=abcSRV,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "proof too long"},
		{"c=biws,r=abcSRV,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,x=1", "proof not last"},
		{"c=biws,r=abcSRV,p=", "empty proof"},
		{"c=biws,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "missing r="},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		server_at_first(&s, &v, NULL, &sf);
		buf_reset(&out);
		int rc = scram_server_final(&s, bad[i].msg, strlen(bad[i].msg), &out, &err);
		ok(rc == -1 && err.code == ERR_VALIDATION && out.len == 0 && s.state == SCRAM_S_FAILED,
		   "client-final %s: refused", bad[i].why);
	}
	scram_server_init(&s, &v);
	is_int(scram_server_final(&s, zero, strlen(zero), &out, &err), -1, "client-final before client-first refused");
	scram_server_wipe(&s);
	scram_verifier_wipe(&v);
	buf_free(&sf);
	buf_free(&out);
}

static void test_client(void)
{
	struct emu_err err;
	struct buf b;
	buf_init(&b, 0);
	struct scram_client c;

	scram_client_init(&c, 0);
	is_int(scram_client_first_nonce(&c, "a,b=c", "xyz", &b, &err), 0, "user escaped");
	ok(buf_is(&b, "n,,n=a=2Cb=3Dc,r=xyz"), "=2C and =3D");
	buf_reset(&b);
	scram_client_init(&c, 0);
	is_int(scram_client_first(&c, NULL, &b, &err), 0, "random nonce");
	ok(b.len == 8 + 24 && memcmp(b.data, "n,,n=,r=", 8) == 0, "as libpq: empty user, 24 characters");
	buf_reset(&b);
	scram_client_init(&c, 0);
	is_int(scram_client_first_nonce(&c, "", "a,b", &b, &err), -1, "nonce with ',' refused");

	static const struct {
		const char *msg, *why;
	} bad[] = {
		{"r=abc,s=QUJD,i=4096", "nonce not extended"},
		{"r=abXdef,s=QUJD,i=4096", "nonce not ours"},
		{"r=ab,s=QUJD,i=4096", "nonce shorter than ours"},
		{"r=abcdef,s=QUJD", "missing i="},
		{"r=abcdef,i=4096", "missing s="},
		{"r=abcdef,s=,i=4096", "empty salt"},
		{"r=abcdef,s=!!!!,i=4096", "salt not base64"},
		{"r=abcdef,s=QUJ,i=4096", "salt badly padded"},
		{"r=abcdef,s=QUJD,i=0", "zero iterations"},
		{"r=abcdef,s=QUJD,i=04096", "leading zero"},
		{"r=abcdef,s=QUJD,i=-1", "negative"},
		{"r=abcdef,s=QUJD,i=4096x", "trailing garbage"},
		{"r=abcdef,s=QUJD,i=10001", "above this client's limit"},
		{"r=abcdef,s=QUJD,i=4294967296", "beyond 32 bits"},
		{"r=abcdef,s=QUJD,i=", "empty count"},
		{"m=x,r=abcdef,s=QUJD,i=1", "mandatory extension"},
		{"s=QUJD,r=abcdef,i=1", "attributes out of order"},
		{"r=abcdef,s=QUJD,i=1,", "trailing comma"},
		{"e=other-error", "an error instead"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		scram_client_init(&c, 10000);
		buf_reset(&b);
		if (scram_client_first_nonce(&c, "", "abc", &b, &err) != 0)
			printf("#   unexpected\n");
		buf_reset(&b);
		int rc = scram_client_final(&c, "pw", 2, bad[i].msg, strlen(bad[i].msg), &b, &err);
		ok(rc == -1 && b.len == 0 && c.state == SCRAM_C_FAILED, "server-first %s: refused", bad[i].why);
	}
	scram_client_init(&c, 10000);
	scram_client_first_nonce(&c, "", "abc", &b, &err);
	buf_reset(&b);
	const char *okmsg = "r=abcdef,s=QUJD,i=10000,x=ext";
	is_int(scram_client_final(&c, "pw", 2, okmsg, strlen(okmsg), &b, &err), 0, "count at the limit, extension");
	ok(b.len == strlen("c=biws,r=abcdef,p=") + 44, "client-final shape");
	is_int(scram_client_verify(&c, "e=invalid-proof", 15, &err), -1, "e= from the server");
	ok(err.code == ERR_ACCESS_DENIED && strstr(err.msg, "invalid-proof") != NULL, "its text reported");
	is_int(scram_client_verify(&c, "v=x", 3, &err), -1, "verify after failure refused");

	/* Derived keys are remembered per (iterations, salt, password): a second
	 * login gives the same client-final message, another password another
	 * one, and forgetting changes nothing but the cost. */
	{
		const char *sf = "r=abcdef,s=QUJD,i=4096";
		char first[200] = "", again[200] = "", other[200] = "", after[200] = "";
		char *outs[4] = {first, again, other, after};
		const char *pws[4] = {"pw-1", "pw-1", "pw-2", "pw-1"};
		for (int k = 0; k < 4; k++) {
			if (k == 3)
				scram_client_forget();
			scram_client_init(&c, 10000);
			buf_reset(&b);
			scram_client_first_nonce(&c, "", "abc", &b, &err);
			buf_reset(&b);
			if (scram_client_final(&c, pws[k], strlen(pws[k]), sf, strlen(sf), &b, &err) == 0 && b.len < 200)
				memcpy(outs[k], b.data, b.len);
		}
		ok(first[0] && strcmp(first, again) == 0, "key cache: the same login, the same proof");
		ok(other[0] && strcmp(first, other) != 0, "key cache: another password, another proof");
		ok(strcmp(first, after) == 0, "key cache: forgotten and derived again, the same proof");
	}

	/* Server-final checks against the RFC exchange. */
	static const struct {
		const char *msg, *why;
		int rc;
	} fin[] = {
		{RFC_S2, "right signature", 0},
		{"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,x=1", "with an extension", 0},
		{"v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", "wrong signature", -1},
		{"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4", "unpadded", -1},
		{"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G5=", "non-canonical base64", -1},
		{"v=", "empty", -1},
		{"x=1", "no v=", -1},
		{"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,", "trailing comma", -1},
	};
	for (size_t i = 0; i < sizeof fin / sizeof fin[0]; i++) {
		scram_client_init(&c, 0);
		scram_client_first_nonce(&c, RFC_USER, RFC_CNONCE, &b, &err);
		buf_reset(&b);
		scram_client_final(&c, RFC_PASSWORD, 6, RFC_S1, strlen(RFC_S1), &b, &err);
		buf_reset(&b);
		is_int(scram_client_verify(&c, fin[i].msg, strlen(fin[i].msg), &err), fin[i].rc, "server-final %s",
		       fin[i].why);
	}
	scram_client_init(&c, 0);
	is_int(scram_client_final(&c, "pw", 2, RFC_S1, strlen(RFC_S1), &b, &err), -1, "final before first refused");
	is_int(scram_client_verify(&c, RFC_S2, strlen(RFC_S2), &err), -1, "verify before final refused");
	scram_client_wipe(&c);
	buf_free(&b);
}

int main(void)
{
	test_rfc7677();
	test_exchange();
	test_server_first();
	test_server_final();
	test_client();
	return done_testing();
}
