/*
 * Fuzz harness for wire/pgproto and wire/scram.  The whole input is a
 * first packet (length read, then parsed) and a stream of typed messages
 * (framed one by one, each body given to the parser of its type).  The
 * input after its first byte is also given to every body parser, and, by
 * the first byte's value, to one SCRAM step: the server's client-first,
 * the server's client-final (input split at the first '\n'; client-first,
 * then client-final), the client's server-first, or the client's
 * server-final (after the RFC 7677 exchange).  The verifier is fixed, with
 * few iterations, and the client refuses counts above 64, so an input
 * cannot buy CPU.  It must never crash, leak or read out of bounds; what
 * parses must rebuild to bytes that parse to the same values, and the
 * SCRAM server must accept only the RFC proof.
 */
#include "wire/pgproto.h"
#include "wire/scram.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                       \
	do {                                                                                           \
		if (!(c))                                                                              \
			abort();                                                                       \
	} while (0)

/* A copy of exactly n bytes (at least one allocated), so ASan sees overreads. */
static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);
	if (d && n)
		memcpy(d, p, n);
	return d;
}

static void first_packet(const uint8_t *p, size_t n)
{
	struct pgp_startup s;
	struct emu_err err;
	size_t len;
	if (pgp_startup_length(p, n, &len) == PGP_FRAME_OK && len <= n)
		(void)pgp_startup_parse(p, len, &s, &err);
	if (pgp_startup_parse(p, n, &s, &err) != 0 || s.kind != PGP_STARTUP || s.major != 3)
		return;
	/* Rebuilt as 3.0, it parses to the same pairs. */
	for (size_t i = 0; i < s.nparams; i++) {
		const char *v = pgp_startup_get(&s, s.params[i].name);
		CHECK(v == s.params[i].value);
		CHECK((const uint8_t *)v > p && (const uint8_t *)v + strlen(v) < p + n);
	}
	struct buf b;
	buf_init(&b, 0);
	CHECK(pgp_put_startup(&b, s.params, s.nparams));
	CHECK(b.len == n && memcmp(b.data, p, 4) == 0 && memcmp(b.data + 8, p + 8, n - 8) == 0);
	struct pgp_startup t;
	CHECK(pgp_startup_parse((const uint8_t *)b.data, b.len, &t, &err) == 0);
	CHECK(t.nparams == s.nparams);
	for (size_t i = 0; i < s.nparams; i++)
		CHECK(strcmp(t.params[i].name, s.params[i].name) == 0 &&
		      strcmp(t.params[i].value, s.params[i].value) == 0);
	buf_free(&b);
}

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Every body parser on body; by type, when type is a message type. */
static void bodies(char type, const uint8_t *body, size_t n)
{
	struct emu_err err;
	const char *a, *c;
	const uint8_t *d;
	size_t l;
	uint32_t u, w;
	uint16_t np;
	char st;
	struct pgp_notice nt;
	struct pgp_auth au;
	struct pgp_command_tag tg;
	struct buf b;
	buf_init(&b, 0);
	bool all = type == 0;

	if ((all || type == 'E' || type == 'N') && pgp_parse_notice(body, n, &nt, &err) == 0 && nt.severity &&
	    nt.sqlstate && nt.message) {
		struct pgp_notice back;
		CHECK(pgp_put_error(&b, &nt));
		CHECK(pgp_parse_notice((const uint8_t *)b.data + 5, b.len - 5, &back, &err) == 0);
		CHECK(same(back.severity, nt.severity) && same(back.sqlstate, nt.sqlstate) &&
		      same(back.message, nt.message) && same(back.detail, nt.detail) && same(back.hint, nt.hint));
		buf_reset(&b);
	}
	if ((all || type == 'R') && pgp_parse_auth(body, n, &au, &err) == 0) {
		(void)pgp_sasl_offers(&au, "SCRAM-SHA-256");
		CHECK(pgp_put_auth(&b, au.code, au.data, au.len));
		CHECK(b.len == n + 5 && memcmp(b.data + 5, body, n) == 0);
		buf_reset(&b);
	}
	if (all || type == 'S')
		(void)pgp_parse_parameter_status(body, n, &a, &c, &err);
	if (all || type == 'K')
		(void)pgp_parse_backend_key(body, n, &u, &w, &err);
	if (all || type == 'Z')
		(void)pgp_parse_ready(body, n, &st, &err);
	if (all || type == 'p') {
		if (pgp_parse_password(body, n, &a, &l, &err) == 0)
			CHECK(l + 1 == n && strlen(a) == l);
		if (pgp_parse_sasl_initial(body, n, &a, &d, &l, &err) == 0)
			CHECK(!d || (d > body && d + l == body + n));
		(void)pgp_parse_sasl_response(body, n, &d, &l, &err);
	}
	if ((all || type == 'Q') && pgp_parse_query(body, n, &a, &l, &err) == 0)
		CHECK(l + 1 == n);
	if (all || type == 'P')
		(void)pgp_parse_parse(body, n, &a, &c, &np, &err);
	if ((all || type == 'C') && pgp_parse_command_complete(body, n, &tg, &err) == 0)
		CHECK(tg.command_len <= tg.tag_len && tg.tag_len + 1 == n);
	buf_free(&b);
}

/* The input as a stream of typed messages. */
static void stream(const uint8_t *p, size_t n)
{
	struct pgp_header h;
	size_t at = 0;
	while (pgp_header_peek(p + at, n - at, PGP_AUTH_MSG_MAX, &h) == PGP_FRAME_OK && h.total <= n - at) {
		uint8_t *body = dup_exact(p + at + 5, h.body_len);
		if (!body)
			return;
		bodies(h.type, h.body_len ? body : NULL, h.body_len);
		free(body);
		at += h.total;
	}
}

#define RFC_C1 "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_C2 \
	"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_S1 "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"

static void scram(unsigned sel, const char *m, size_t n)
{
	static struct scram_verifier v;
	static bool have;
	struct emu_err err;
	if (!have) {
		/* A verifier of "pencil" with RFC 7677's salt and 4096 iterations,
		 * so the RFC client-final is the one valid proof. */
		static const uint8_t salt[] = {0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e,
		                               0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81};
		CHECK(scram_verifier_make("pencil", 6, salt, sizeof salt, 4096, &v, &err) == 0);
		have = true;
	}
	struct buf b;
	buf_init(&b, 0);
	const char *nl = memchr(m, '\n', n);
	switch (sel % 4) {
	case 0: {
		struct scram_server s;
		scram_server_init(&s, &v);
		if (scram_server_first(&s, m, n, &b, &err) == 0)
			CHECK(b.len > 0 && s.state == SCRAM_S_FIRST_SENT);
		scram_server_wipe(&s);
		break;
	}
	case 1: {
		struct scram_server s;
		scram_server_init(&s, &v);
		const char *c1 = nl ? m : RFC_C1;
		size_t l1 = nl ? (size_t)(nl - m) : strlen(RFC_C1);
		const char *c2 = nl ? nl + 1 : m;
		size_t l2 = nl ? n - l1 - 1 : n;
		if (scram_server_first_nonce(&s, c1, l1, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", &b, &err) == 0) {
			buf_reset(&b);
			int rc = scram_server_final(&s, c2, l2, &b, &err);
			CHECK(rc == 0 || rc == -1 || rc == SCRAM_BAD_PROOF);
			if (rc == 0) /* only the RFC exchange can pass (the proof needs the password) */
				CHECK(l1 == strlen(RFC_C1) && memcmp(c1, RFC_C1, l1) == 0 && l2 == strlen(RFC_C2) &&
				      memcmp(c2, RFC_C2, l2) == 0);
		}
		scram_server_wipe(&s);
		break;
	}
	case 2: {
		struct scram_client c;
		scram_client_init(&c, 64);
		CHECK(scram_client_first_nonce(&c, "user", "rOprNGfwEbeRWgbNEkqO", &b, &err) == 0);
		buf_reset(&b);
		if (scram_client_final(&c, "pencil", 6, m, n, &b, &err) == 0)
			(void)scram_client_verify(&c, m, n, &err);
		scram_client_wipe(&c);
		break;
	}
	default: {
		/* The client after the RFC client-final, derived once (4096 rounds). */
		static struct scram_client rfc;
		if (rfc.state != SCRAM_C_FINAL_SENT) {
			scram_client_init(&rfc, 0);
			CHECK(scram_client_first_nonce(&rfc, "user", "rOprNGfwEbeRWgbNEkqO", &b, &err) == 0);
			buf_reset(&b);
			CHECK(scram_client_final(&rfc, "pencil", 6, RFC_S1, strlen(RFC_S1), &b, &err) == 0);
		}
		struct scram_client c = rfc;
		(void)scram_client_verify(&c, m, n, &err);
		scram_client_wipe(&c);
		break;
	}
	}
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *all = dup_exact(data, size);
	if (!all)
		return 0;
	first_packet(all, size);
	stream(all, size);
	free(all);
	if (size == 0)
		return 0;
	uint8_t *rest = dup_exact(data + 1, size - 1);
	if (!rest)
		return 0;
	bodies(0, size > 1 ? rest : NULL, size - 1);
	scram(data[0], (const char *)rest, size - 1);
	free(rest);
	return 0;
}
