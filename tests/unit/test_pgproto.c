/*
 * Unit tests of wire/pgproto: every builder's exact bytes (written out by
 * hand from the protocol documentation's message formats), refusals of bad
 * builder arguments; the first packet as libpq, psql and PostgreSQL 18's
 * libpq (protocol 3.2) send it, SSLRequest, GSSENCRequest, CancelRequest,
 * and each malformation; typed message framing; every body parser on good
 * input, on each truncation of it and on built-then-parsed messages; the
 * CommandComplete tag parser; the md5 password hash against values from
 * Python's hashlib.
 */
#include "wire/pgproto.h"

#include "tap.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define L(s) (s), (sizeof(s) - 1) /* a literal with embedded NULs, and its length */

static void is_mem(struct buf *b, const char *want, size_t n, const char *name)
{
	int same = !b->failed && b->len == n && memcmp(b->data, want, n) == 0;
	ok(same, "%s: exact bytes", name);
	if (!same) {
		printf("#   got  %zu bytes:", b->len);
		for (size_t i = 0; i < b->len; i++)
			printf(" %02x", (unsigned char)b->data[i]);
		printf("\n#   want %zu bytes:", n);
		for (size_t i = 0; i < n; i++)
			printf(" %02x", (unsigned char)want[i]);
		printf("\n");
	}
	buf_reset(b);
}

/* A first packet: length, code, then body. */
static size_t mk_packet(uint8_t *out, uint32_t code, const char *body, size_t n)
{
	size_t len = 8 + n;
	uint32_t v[2] = {(uint32_t)len, code};
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < 4; i++)
			out[k * 4 + i] = (uint8_t)(v[k] >> (24 - 8 * i));
	if (n)
		memcpy(out + 8, body, n);
	return len;
}

/* ---- builders ----------------------------------------------------------- */

static void test_builders(void)
{
	struct buf b;
	buf_init(&b, 0);

	ok(pgp_put_auth_ok(&b), "auth ok built");
	is_mem(&b, L("R\0\0\0\x08\0\0\0\0"), "AuthenticationOk");
	ok(pgp_put_auth_cleartext(&b), "cleartext built");
	is_mem(&b, L("R\0\0\0\x08\0\0\0\x03"), "AuthenticationCleartextPassword");
	const uint8_t salt[4] = {1, 2, 3, 4};
	ok(pgp_put_auth_md5(&b, salt), "md5 built");
	is_mem(&b, L("R\0\0\0\x0c\0\0\0\x05\x01\x02\x03\x04"), "AuthenticationMD5Password");
	const char *mechs[] = {"SCRAM-SHA-256"};
	ok(pgp_put_auth_sasl(&b, mechs, 1), "sasl built");
	is_mem(&b, L("R\0\0\0\x17\0\0\0\x0aSCRAM-SHA-256\0\0"), "AuthenticationSASL");
	const char *two[] = {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"};
	ok(pgp_put_auth_sasl(&b, two, 2), "sasl with two built");
	is_mem(&b, L("R\0\0\0\x2a\0\0\0\x0aSCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0"), "AuthenticationSASL, two");
	ok(pgp_put_auth_sasl_continue(&b, "r=ab", 4), "sasl continue built");
	is_mem(&b, L("R\0\0\0\x0c\0\0\0\x0br=ab"), "AuthenticationSASLContinue");
	ok(pgp_put_auth_sasl_final(&b, "v=xy", 4), "sasl final built");
	is_mem(&b, L("R\0\0\0\x0c\0\0\0\x0cv=xy"), "AuthenticationSASLFinal");
	ok(pgp_put_parameter_status(&b, "client_encoding", "UTF8"), "parameter status built");
	is_mem(&b, L("S\0\0\0\x19" "client_encoding\0UTF8\0"), "ParameterStatus");
	ok(pgp_put_backend_key(&b, 1234, 0xdeadbeefu), "backend key built");
	is_mem(&b, L("K\0\0\0\x0c\0\0\x04\xd2\xde\xad\xbe\xef"), "BackendKeyData");
	ok(pgp_put_ready(&b, 'I'), "ready built");
	is_mem(&b, L("Z\0\0\0\x05I"), "ReadyForQuery idle");
	ok(pgp_put_ready(&b, 'E'), "ready E built");
	is_mem(&b, L("Z\0\0\0\x05" "E"), "ReadyForQuery failed transaction");
	ok(!pgp_put_ready(&b, 'X') && b.len == 0, "ReadyForQuery refuses status X, appends nothing");

	struct pgp_notice e = {.severity = "FATAL", .sqlstate = "28P01", .message = "msg"};
	ok(pgp_put_error(&b, &e), "error built");
	is_mem(&b, L("E\0\0\0\x1fSFATAL\0VFATAL\0C28P01\0Mmsg\0\0"), "ErrorResponse (V defaults to S)");
	struct pgp_notice nn = {.severity = "AVISO", .severity_nl = "NOTICE", .sqlstate = "00000", .message = "m",
	                        .detail = "d", .hint = "h"};
	ok(pgp_put_notice(&b, &nn), "notice built");
	is_mem(&b, L("N\0\0\0\x24SAVISO\0VNOTICE\0C00000\0Mm\0Dd\0Hh\0\0"), "NoticeResponse with D and H");
	struct pgp_notice nomsg = {.severity = "ERROR", .sqlstate = "XX000"};
	ok(!pgp_put_error(&b, &nomsg) && b.len == 0, "ErrorResponse without M refused");
	ok(!pgp_put_error(&b, NULL) && b.len == 0, "ErrorResponse NULL refused");

	ok(pgp_put_command_complete(&b, "SELECT 1"), "command complete built");
	is_mem(&b, L("C\0\0\0\x0dSELECT 1\0"), "CommandComplete");
	const char *opts[] = {"_pq_.foo"};
	ok(pgp_put_negotiate_version(&b, 0, opts, 1), "negotiate built");
	is_mem(&b, L("v\0\0\0\x15\0\0\0\0\0\0\0\x01_pq_.foo\0"), "NegotiateProtocolVersion, one option");
	ok(pgp_put_negotiate_version(&b, 0, NULL, 0), "negotiate, no options, built");
	is_mem(&b, L("v\0\0\0\x0c\0\0\0\0\0\0\0\0"), "NegotiateProtocolVersion, none");
	ok(pgp_put_encryption_answer(&b, true), "S built");
	is_mem(&b, L("S"), "SSLRequest answer S");
	ok(pgp_put_encryption_answer(&b, false), "N built");
	is_mem(&b, L("N"), "GSSENCRequest answer N");

	/* Frontend messages. */
	ok(pgp_put_ssl_request(&b), "ssl request built");
	is_mem(&b, L("\0\0\0\x08\x04\xd2\x16\x2f"), "SSLRequest");
	struct pgp_param ps[] = {{"user", "u"}, {"database", "d"}};
	ok(pgp_put_startup(&b, ps, 2), "startup built");
	is_mem(&b, L("\0\0\0\x1b\0\x03\0\0user\0u\0database\0d\0\0"), "StartupMessage");
	struct pgp_param empty_name[] = {{"", "x"}};
	ok(!pgp_put_startup(&b, empty_name, 1) && b.len == 0, "StartupMessage with an empty name refused");
	char *big = malloc(PGP_STARTUP_MAX);
	memset(big, 'a', PGP_STARTUP_MAX - 1);
	big[PGP_STARTUP_MAX - 1] = '\0';
	struct pgp_param huge[] = {{"user", big}};
	ok(!pgp_put_startup(&b, huge, 1) && b.len == 0, "StartupMessage over PGP_STARTUP_MAX refused");
	big[PGP_STARTUP_MAX - 4 - 4 - 5 - 1 - 1] = '\0'; /* exactly the limit */
	ok(pgp_put_startup(&b, huge, 1) && b.len == PGP_STARTUP_MAX, "StartupMessage of exactly PGP_STARTUP_MAX");
	buf_reset(&b);
	free(big);
	ok(pgp_put_password(&b, "pw"), "password built");
	is_mem(&b, L("p\0\0\0\x07pw\0"), "PasswordMessage");
	ok(pgp_put_sasl_initial(&b, "SCRAM-SHA-256", "n,,", 3), "sasl initial built");
	is_mem(&b, L("p\0\0\0\x19SCRAM-SHA-256\0\0\0\0\x03n,,"), "SASLInitialResponse");
	ok(pgp_put_sasl_initial(&b, "SCRAM-SHA-256", NULL, 0), "sasl initial without data built");
	is_mem(&b, L("p\0\0\0\x16SCRAM-SHA-256\0\xff\xff\xff\xff"), "SASLInitialResponse, length -1");
	ok(!pgp_put_sasl_initial(&b, "", "x", 1) && b.len == 0, "SASLInitialResponse without mechanism refused");
	ok(pgp_put_sasl_response(&b, "abc", 3), "sasl response built");
	is_mem(&b, L("p\0\0\0\x07" "abc"), "SASLResponse");
	ok(pgp_put_query(&b, "SELECT 1"), "query built");
	is_mem(&b, L("Q\0\0\0\x0dSELECT 1\0"), "Query");
	ok(pgp_put_sync(&b), "sync built");
	is_mem(&b, L("S\0\0\0\x04"), "Sync");
	ok(pgp_put_terminate(&b), "terminate built");
	is_mem(&b, L("X\0\0\0\x04"), "Terminate");

	/* Several messages in a row: lengths are patched per message. */
	ok(pgp_put_auth_ok(&b) && pgp_put_parameter_status(&b, "a", "b") && pgp_put_ready(&b, 'T'), "three built");
	is_mem(&b, L("R\0\0\0\x08\0\0\0\0S\0\0\0\x08" "a\0b\0Z\0\0\0\x05T"), "AuthenticationOk, ParameterStatus, ReadyForQuery");
	buf_free(&b);

	/* A capped buffer fails, sticky. */
	struct buf small;
	buf_init(&small, 6);
	ok(!pgp_put_query(&small, "SELECT 1") && small.failed, "a full buffer fails the builder");
	ok(!pgp_put_sync(&small), "and every later one");
	buf_free(&small);
}

/* ---- the first packet --------------------------------------------------- */

static void test_startup(void)
{
	uint8_t pkt[PGP_STARTUP_MAX + 16];
	struct pgp_startup s;
	struct emu_err err;
	size_t n, len;

	/* psql 16: user, database, application_name, client_encoding. */
	n = mk_packet(pkt, PGP_VERSION_3_0,
	              L("user\0postgres\0database\0mydb\0application_name\0psql\0client_encoding\0UTF8\0\0"));
	is_int(pgp_startup_length(pkt, 3, &len), PGP_FRAME_MORE, "length: 3 bytes need more");
	is_int(pgp_startup_length(pkt, 4, &len), PGP_FRAME_OK, "length: 4 bytes suffice");
	is_int(len, n, "length read");
	is_int(pgp_startup_parse(pkt, n, &s, &err), 0, "psql startup parses");
	is_int(s.kind, PGP_STARTUP, "kind startup");
	ok(s.major == 3 && s.minor == 0, "version 3.0");
	is_int(s.nparams, 4, "four params");
	is_str(s.params[0].name, "user", "first name");
	is_str(pgp_startup_get(&s, "user"), "postgres", "user");
	is_str(pgp_startup_get(&s, "database"), "mydb", "database");
	is_str(pgp_startup_get(&s, "application_name"), "psql", "application_name");
	is_str(pgp_startup_get(&s, "client_encoding"), "UTF8", "client_encoding");
	ok(pgp_startup_get(&s, "options") == NULL, "absent parameter is NULL");
	ok(pgp_startup_get(&s, "USER") == NULL, "lookup is case-sensitive");

	/* What pgp_put_startup writes parses back. */
	struct buf b;
	buf_init(&b, 0);
	struct pgp_param ps[] = {{"user", "alice"}, {"database", "db"}, {"options", ""}};
	ok(pgp_put_startup(&b, ps, 3), "startup built");
	is_int(pgp_startup_parse((const uint8_t *)b.data, b.len, &s, &err), 0, "built startup parses");
	ok(s.nparams == 3 && strcmp(pgp_startup_get(&s, "options"), "") == 0, "empty value kept");
	buf_free(&b);

	/* Protocol 3.2 (PostgreSQL 18 libpq) with a protocol option. */
	n = mk_packet(pkt, PGP_VERSION(3, 2), L("user\0u\0_pq_.test_option\0on\0\0"));
	is_int(pgp_startup_parse(pkt, n, &s, &err), 0, "3.2 startup parses");
	ok(s.kind == PGP_STARTUP && s.major == 3 && s.minor == 2, "version 3.2 reported");
	is_str(pgp_startup_get(&s, "_pq_.test_option"), "on", "protocol option kept");

	/* Protocol 2.0: reported, not parsed. */
	n = mk_packet(pkt, PGP_VERSION(2, 0), L("whatever 2.0 sends"));
	is_int(pgp_startup_parse(pkt, n, &s, &err), 0, "2.0 packet accepted for the caller to refuse");
	ok(s.kind == PGP_STARTUP && s.major == 2 && s.minor == 0 && s.nparams == 0, "version 2.0, no params");

	/* Requests. */
	n = mk_packet(pkt, PGP_CODE_SSL, NULL, 0);
	ok(n == 8 && memcmp(pkt, "\0\0\0\x08\x04\xd2\x16\x2f", 8) == 0, "SSLRequest bytes");
	is_int(pgp_startup_parse(pkt, n, &s, &err), 0, "SSLRequest parses");
	is_int(s.kind, PGP_SSL_REQUEST, "kind ssl");
	n = mk_packet(pkt, PGP_CODE_GSSENC, NULL, 0);
	is_int(pgp_startup_parse(pkt, n, &s, &err), 0, "GSSENCRequest parses");
	is_int(s.kind, PGP_GSSENC_REQUEST, "kind gssenc");
	n = mk_packet(pkt, PGP_CODE_SSL, L("junk"));
	is_int(pgp_startup_parse(pkt, n, &s, &err), -1, "SSLRequest of 12 bytes refused");
	is_int(err.code, ERR_VALIDATION, "as a validation error");
	n = mk_packet(pkt, PGP_CODE_CANCEL, L("\0\0\x30\x39\x01\x02\x03\x04"));
	is_int(pgp_startup_parse(pkt, n, &s, &err), 0, "CancelRequest parses");
	ok(s.kind == PGP_CANCEL_REQUEST && s.cancel_pid == 12345 && s.cancel_key_len == 4 &&
	   memcmp(s.cancel_key, "\x01\x02\x03\x04", 4) == 0, "pid and key");
	n = mk_packet(pkt, PGP_CODE_CANCEL, L("\0\0\x30\x39"));
	is_int(pgp_startup_parse(pkt, n, &s, &err), -1, "CancelRequest without key refused");
	char key[PGP_CANCEL_KEY_MAX + 5] = {0};
	n = mk_packet(pkt, PGP_CODE_CANCEL, key, 4 + PGP_CANCEL_KEY_MAX);
	is_int(pgp_startup_parse(pkt, n, &s, &err), 0, "CancelRequest with a 256-byte key (3.2) parses");
	is_int(s.cancel_key_len, PGP_CANCEL_KEY_MAX, "key length");
	n = mk_packet(pkt, PGP_CODE_CANCEL, key, 5 + PGP_CANCEL_KEY_MAX);
	is_int(pgp_startup_parse(pkt, n, &s, &err), -1, "CancelRequest with a 257-byte key refused");
	n = mk_packet(pkt, PGP_VERSION(1234, 9999), NULL, 0);
	is_int(pgp_startup_parse(pkt, n, &s, &err), -1, "unknown 1234.x request refused");

	/* Lengths. */
	n = mk_packet(pkt, PGP_VERSION_3_0, L("user\0u\0\0"));
	is_int(pgp_startup_parse(pkt, n - 1, &s, &err), -1, "length prefix larger than the bytes refused");
	is_int(pgp_startup_parse(pkt, 7, &s, &err), -1, "7 bytes refused");
	pkt[3] = 7;
	is_int(pgp_startup_length(pkt, 4, &len), PGP_FRAME_BAD, "length 7 is bad");
	pkt[2] = 0x27;
	pkt[3] = 0x11; /* 10001 */
	is_int(pgp_startup_length(pkt, 4, &len), PGP_FRAME_BAD, "length 10001 is bad");
	pkt[3] = 0x10; /* 10000 */
	is_int(pgp_startup_length(pkt, 4, &len), PGP_FRAME_OK, "length 10000 is fine");
	pkt[0] = 0x80;
	is_int(pgp_startup_length(pkt, 4, &len), PGP_FRAME_BAD, "negative length is bad");

	/* Layout. */
	n = mk_packet(pkt, PGP_VERSION_3_0, L("user\0u\0"));
	is_int(pgp_startup_parse(pkt, n, &s, &err), -1, "missing final terminator refused");
	n = mk_packet(pkt, PGP_VERSION_3_0, L("user\0u\0\0x"));
	is_int(pgp_startup_parse(pkt, n, &s, &err), -1, "bytes after the terminator refused");
	n = mk_packet(pkt, PGP_VERSION_3_0, L("user\0u\0database\0"));
	is_int(pgp_startup_parse(pkt, n, &s, &err), -1, "name without a value refused");
	n = mk_packet(pkt, PGP_VERSION_3_0, L("user\0u\0database"));
	is_int(pgp_startup_parse(pkt, n, &s, &err), -1, "unterminated name refused");
	n = mk_packet(pkt, PGP_VERSION_3_0, L("user\0u"));
	is_int(pgp_startup_parse(pkt, n, &s, &err), -1, "unterminated value refused");
	n = mk_packet(pkt, PGP_VERSION_3_0, NULL, 0);
	is_int(pgp_startup_parse(pkt, n, &s, &err), -1, "no terminator at all refused");
	n = mk_packet(pkt, PGP_VERSION_3_0, L("\0"));
	is_int(pgp_startup_parse(pkt, n, &s, &err), 0, "no parameters (the caller refuses the missing user)");
	is_int(s.nparams, 0, "zero params");
	n = mk_packet(pkt, PGP_VERSION_3_0, L("user\0a\0user\0b\0\0"));
	is_int(pgp_startup_parse(pkt, n, &s, &err), -1, "repeated parameter refused");

	/* 64 parameters pass, 65 do not. */
	char body[2048];
	size_t bl = 0;
	for (int i = 0; i < PGP_MAX_PARAMS; i++)
		bl += (size_t)snprintf(body + bl, sizeof body - bl, "p%d%cv%c", i, 0, 0);
	body[bl] = '\0';
	n = mk_packet(pkt, PGP_VERSION_3_0, body, bl + 1);
	is_int(pgp_startup_parse(pkt, n, &s, &err), 0, "64 parameters parse");
	is_str(pgp_startup_get(&s, "p63"), "v", "the 64th");
	bl += (size_t)snprintf(body + bl, sizeof body - bl, "p64%cv%c", 0, 0);
	body[bl] = '\0';
	n = mk_packet(pkt, PGP_VERSION_3_0, body, bl + 1);
	is_int(pgp_startup_parse(pkt, n, &s, &err), -1, "65 parameters refused");
}

/* ---- typed framing ------------------------------------------------------ */

static void test_header(void)
{
	struct pgp_header h;
	const uint8_t q[] = {'Q', 0, 0, 0, 13, 'S', 'E', 'L', 'E', 'C', 'T', ' ', '1', 0};
	is_int(pgp_header_peek(q, 0, 1 << 20, &h), PGP_FRAME_MORE, "0 bytes: more");
	is_int(pgp_header_peek(q, 4, 1 << 20, &h), PGP_FRAME_MORE, "4 bytes: more");
	is_int(pgp_header_peek(q, 5, 1 << 20, &h), PGP_FRAME_OK, "5 bytes: header");
	ok(h.type == 'Q' && h.body_len == 9 && h.total == 14, "type, body length, total");
	is_int(pgp_header_peek(q, 5, 12, &h), PGP_FRAME_BAD, "length above max is bad");
	is_int(pgp_header_peek(q, 5, 13, &h), PGP_FRAME_OK, "length equal to max is fine");
	const uint8_t short3[] = {'X', 0, 0, 0, 3};
	is_int(pgp_header_peek(short3, 5, 1 << 20, &h), PGP_FRAME_BAD, "length 3 is bad");
	const uint8_t term[] = {'X', 0, 0, 0, 4};
	is_int(pgp_header_peek(term, 5, 1 << 20, &h), PGP_FRAME_OK, "length 4 (empty body) is fine");
	is_int(h.body_len, 0, "empty body");
	const uint8_t neg[] = {'p', 0xff, 0xff, 0xff, 0xff};
	is_int(pgp_header_peek(neg, 5, PGP_AUTH_MSG_MAX, &h), PGP_FRAME_BAD, "length -1 is bad");
	const uint8_t tok[] = {'p', 0, 1, 0x11, 0x70}; /* 70000 */
	is_int(pgp_header_peek(tok, 5, PGP_AUTH_MSG_MAX, &h), PGP_FRAME_OK, "a 70000 PasswordMessage fits");
	const uint8_t tok1[] = {'p', 0, 1, 0x11, 0x71};
	is_int(pgp_header_peek(tok1, 5, PGP_AUTH_MSG_MAX, &h), PGP_FRAME_BAD, "70001 does not");
}

/* ---- body parsers ------------------------------------------------------- */

/* Parses msg (a whole built message) by its type; -2 for unknown types. */
static int parse_any(char type, const uint8_t *body, size_t n)
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
	switch (type) {
	case 'E':
	case 'N': return pgp_parse_notice(body, n, &nt, &err);
	case 'R': return pgp_parse_auth(body, n, &au, &err);
	case 'S': return pgp_parse_parameter_status(body, n, &a, &c, &err);
	case 'K': return pgp_parse_backend_key(body, n, &u, &w, &err);
	case 'Z': return pgp_parse_ready(body, n, &st, &err);
	case 'p': return pgp_parse_password(body, n, &a, &l, &err);
	case 'i': return pgp_parse_sasl_initial(body, n, &a, &d, &l, &err);
	case 'Q': return pgp_parse_query(body, n, &a, &l, &err);
	case 'P': return pgp_parse_parse(body, n, &a, &c, &np, &err);
	case 'C': return pgp_parse_command_complete(body, n, &tg, &err);
	default: return -2;
	}
}

/* Every proper prefix of a good body fails (a copy of exactly that size,
 * so ASan sees an overread). */
static void truncations_fail(char type, const void *body, size_t n, const char *name)
{
	int all = 1;
	for (size_t k = 0; k < n; k++) {
		uint8_t *cp = malloc(k ? k : 1);
		memcpy(cp, body, k);
		if (parse_any(type, k ? cp : NULL, k) != -1) {
			all = 0;
			printf("#   prefix of %zu bytes accepted\n", k);
		}
		free(cp);
	}
	ok(all, "%s: every truncation refused", name);
}

static void test_parsers(void)
{
	struct emu_err err;
	struct buf b;
	buf_init(&b, 0);
	struct pgp_header h;

	/* ErrorResponse: built, parsed back; a backend's with more fields. */
	struct pgp_notice e = {.severity = "FATAL", .sqlstate = "3D000", .message = "database \"x\" does not exist",
	                       .detail = "dd", .hint = "hh"};
	ok(pgp_put_error(&b, &e), "error built");
	ok(pgp_header_peek((const uint8_t *)b.data, b.len, 1 << 20, &h) == PGP_FRAME_OK && h.total == b.len,
	   "its header frames it");
	struct pgp_notice got;
	is_int(pgp_parse_notice((const uint8_t *)b.data + 5, h.body_len, &got, &err), 0, "error parses back");
	is_str(got.severity, "FATAL", "S");
	is_str(got.severity_nl, "FATAL", "V");
	is_str(got.sqlstate, "3D000", "C");
	is_str(got.message, "database \"x\" does not exist", "M");
	is_str(got.detail, "dd", "D");
	is_str(got.hint, "hh", "H");
	truncations_fail('E', b.data + 5, h.body_len, "ErrorResponse");
	buf_reset(&b);
	const char be[] = "SERROR\0VERROR\0C42P01\0Mrelation \"t\" does not exist\0P15\0Fparse_relation.c\0L1449\0"
	                  "RparserOpenTable\0";
	is_int(pgp_parse_notice((const uint8_t *)be, sizeof be, &got, &err), 0, "backend error with P F L R parses");
	ok(got.detail == NULL && got.hint == NULL, "absent D and H are NULL");
	is_str(got.sqlstate, "42P01", "its SQLSTATE");
	is_int(pgp_parse_notice((const uint8_t *)L("SERROR\0\0x"), &got, &err), -1, "bytes after the end refused");
	is_int(pgp_parse_notice(NULL, 0, &got, &err), -1, "empty body refused");

	/* Authentication requests. */
	struct pgp_auth au;
	const char *mechs[] = {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"};
	ok(pgp_put_auth_sasl(&b, mechs, 2), "sasl built");
	is_int(pgp_parse_auth((const uint8_t *)b.data + 5, b.len - 5, &au, &err), 0, "sasl request parses");
	is_int(au.code, PGP_AUTH_SASL, "code 10");
	ok(pgp_sasl_offers(&au, "SCRAM-SHA-256") && pgp_sasl_offers(&au, "SCRAM-SHA-256-PLUS"), "both offered");
	ok(!pgp_sasl_offers(&au, "SCRAM-SHA-1") && !pgp_sasl_offers(&au, "SCRAM"), "others not");
	truncations_fail('R', b.data + 5, b.len - 5, "AuthenticationSASL");
	buf_reset(&b);
	is_int(pgp_parse_auth((const uint8_t *)L("\0\0\0\x0a\0"), &au, &err), -1, "empty SASL list refused");
	const uint8_t salt[4] = {9, 8, 7, 6};
	ok(pgp_put_auth_md5(&b, salt), "md5 built");
	is_int(pgp_parse_auth((const uint8_t *)b.data + 5, b.len - 5, &au, &err), 0, "md5 request parses");
	ok(au.code == PGP_AUTH_MD5 && au.len == 4 && memcmp(au.data, salt, 4) == 0, "salt");
	truncations_fail('R', b.data + 5, b.len - 5, "AuthenticationMD5Password");
	buf_reset(&b);
	is_int(pgp_parse_auth((const uint8_t *)L("\0\0\0\x05\1\2\3\4\5"), &au, &err), -1, "5-byte salt refused");
	is_int(pgp_parse_auth((const uint8_t *)L("\0\0\0\0"), &au, &err), 0, "ok parses");
	ok(au.code == 0 && au.len == 0 && au.data == NULL, "no payload");
	is_int(pgp_parse_auth((const uint8_t *)L("\0\0\0\0x"), &au, &err), -1, "ok with payload refused");
	is_int(pgp_parse_auth((const uint8_t *)L("\0\0\0\x0br=abc"), &au, &err), 0, "sasl continue parses");
	ok(au.code == 11 && au.len == 5 && memcmp(au.data, "r=abc", 5) == 0, "its data");
	is_int(pgp_parse_auth((const uint8_t *)L("\0\0\0\x07"), &au, &err), 0, "GSS (7) returned for the caller");
	ok(!pgp_sasl_offers(&au, "SCRAM-SHA-256"), "a non-SASL request offers nothing");

	/* ParameterStatus, BackendKeyData, ReadyForQuery. */
	const char *pn, *pv;
	is_int(pgp_parse_parameter_status((const uint8_t *)L("TimeZone\0UTC\0"), &pn, &pv, &err), 0, "status parses");
	ok(strcmp(pn, "TimeZone") == 0 && strcmp(pv, "UTC") == 0, "name and value");
	truncations_fail('S', "TimeZone\0UTC", 13, "ParameterStatus");
	is_int(pgp_parse_parameter_status((const uint8_t *)L("a\0b\0c"), &pn, &pv, &err), -1, "extra bytes refused");
	uint32_t pid, key;
	is_int(pgp_parse_backend_key((const uint8_t *)L("\0\0\x04\xd2\xde\xad\xbe\xef"), &pid, &key, &err), 0,
	       "backend key parses");
	ok(pid == 1234 && key == 0xdeadbeefu, "pid and key");
	truncations_fail('K', "\0\0\x04\xd2\xde\xad\xbe\xef", 8, "BackendKeyData");
	char st;
	is_int(pgp_parse_ready((const uint8_t *)"T", 1, &st, &err), 0, "ready parses");
	is_int(st, 'T', "status T");
	is_int(pgp_parse_ready((const uint8_t *)"X", 1, &st, &err), -1, "status X refused");
	is_int(pgp_parse_ready((const uint8_t *)"II", 2, &st, &err), -1, "two bytes refused");
	is_int(pgp_parse_ready(NULL, 0, &st, &err), -1, "empty refused");

	/* PasswordMessage, Query. */
	const char *pw;
	size_t pl;
	is_int(pgp_parse_password((const uint8_t *)L("s3cret\0"), &pw, &pl, &err), 0, "password parses");
	ok(pl == 6 && strcmp(pw, "s3cret") == 0, "its text");
	is_int(pgp_parse_password((const uint8_t *)L("\0"), &pw, &pl, &err), 0, "empty password parses");
	is_int(pgp_parse_password((const uint8_t *)L("s3cret"), &pw, &pl, &err), -1, "unterminated refused");
	is_int(pgp_parse_password((const uint8_t *)L("s3\0cret\0"), &pw, &pl, &err), -1, "embedded NUL refused");
	truncations_fail('p', "s3cret", 7, "PasswordMessage");
	is_int(pgp_parse_query((const uint8_t *)L("SELECT 1\0"), &pw, &pl, &err), 0, "query parses");
	ok(pl == 8 && strcmp(pw, "SELECT 1") == 0, "query text");
	truncations_fail('Q', "SELECT 1", 9, "Query");

	/* SASLInitialResponse, SASLResponse. */
	ok(pgp_put_sasl_initial(&b, "SCRAM-SHA-256", "n,,n=,r=abc", 11), "initial built");
	const char *mech;
	const uint8_t *d;
	size_t dl;
	is_int(pgp_parse_sasl_initial((const uint8_t *)b.data + 5, b.len - 5, &mech, &d, &dl, &err), 0,
	       "initial parses back");
	ok(strcmp(mech, "SCRAM-SHA-256") == 0 && dl == 11 && memcmp(d, "n,,n=,r=abc", 11) == 0, "mechanism, data");
	truncations_fail('i', b.data + 5, b.len - 5, "SASLInitialResponse");
	buf_reset(&b);
	is_int(pgp_parse_sasl_initial((const uint8_t *)L("M\0\xff\xff\xff\xff"), &mech, &d, &dl, &err), 0,
	       "length -1 parses");
	ok(d == NULL && dl == 0, "no data");
	is_int(pgp_parse_sasl_initial((const uint8_t *)L("M\0\xff\xff\xff\xffx"), &mech, &d, &dl, &err), -1,
	       "bytes after -1 refused");
	is_int(pgp_parse_sasl_initial((const uint8_t *)L("M\0\0\0\0\x02x"), &mech, &d, &dl, &err), -1,
	       "length beyond the message refused");
	is_int(pgp_parse_sasl_initial((const uint8_t *)L("M\0\0\0\0\x01xy"), &mech, &d, &dl, &err), -1,
	       "length short of the message refused");
	is_int(pgp_parse_sasl_initial((const uint8_t *)L("\0\0\0\0\0"), &mech, &d, &dl, &err), -1,
	       "empty mechanism refused");
	is_int(pgp_parse_sasl_initial((const uint8_t *)L("M\0\0\0\0\0"), &mech, &d, &dl, &err), 0,
	       "zero-length data parses");
	is_int(pgp_parse_sasl_response((const uint8_t *)"c=biws", 6, &d, &dl, &err), 0, "response parses");
	ok(dl == 6 && memcmp(d, "c=biws", 6) == 0, "response data");

	/* Parse. */
	const char *stmt, *query;
	uint16_t np;
	const char pm[] = "s1\0SELECT $1\0\0\x01\0\0\0\x17";
	is_int(pgp_parse_parse((const uint8_t *)pm, sizeof pm - 1, &stmt, &query, &np, &err), 0, "parse parses");
	ok(strcmp(stmt, "s1") == 0 && strcmp(query, "SELECT $1") == 0 && np == 1, "name, query, one type");
	truncations_fail('P', pm, sizeof pm - 1, "Parse");
	is_int(pgp_parse_parse((const uint8_t *)pm, sizeof pm, &stmt, &query, &np, &err), -1, "extra byte refused");
	is_int(pgp_parse_parse((const uint8_t *)L("\0BEGIN\0\0\0"), &stmt, &query, &np, &err), 0,
	       "unnamed, no types parses");
	ok(stmt[0] == '\0' && np == 0, "unnamed statement");

	/* CommandComplete tags. */
	struct pgp_command_tag t;
	is_int(pgp_parse_command_complete((const uint8_t *)L("SELECT 3\0"), &t, &err), 0, "SELECT 3");
	ok(t.command_len == 6 && memcmp(t.tag, "SELECT", 6) == 0 && t.has_rows && t.rows == 3, "SELECT, 3 rows");
	is_int(pgp_parse_command_complete((const uint8_t *)L("INSERT 0 5\0"), &t, &err), 0, "INSERT 0 5");
	ok(t.command_len == 6 && t.has_rows && t.rows == 5 && t.tag_len == 10, "INSERT, 5 rows");
	is_int(pgp_parse_command_complete((const uint8_t *)L("CREATE TABLE\0"), &t, &err), 0, "CREATE TABLE");
	ok(t.command_len == 12 && !t.has_rows, "two-word command, no rows");
	is_int(pgp_parse_command_complete((const uint8_t *)L("DISCARD ALL\0"), &t, &err), 0, "DISCARD ALL");
	ok(t.command_len == 11 && !t.has_rows, "DISCARD ALL, no rows");
	is_int(pgp_parse_command_complete((const uint8_t *)L("UPDATE 18446744073709551615\0"), &t, &err), 0,
	       "largest row count");
	ok(t.rows == UINT64_MAX, "UINT64_MAX rows");
	is_int(pgp_parse_command_complete((const uint8_t *)L("UPDATE 18446744073709551616\0"), &t, &err), -1,
	       "row count overflow refused");
	is_int(pgp_parse_command_complete((const uint8_t *)L("123\0"), &t, &err), 0, "a bare number is a command");
	ok(!t.has_rows && t.command_len == 3, "no rows from the first word");
	truncations_fail('C', "SELECT 3", 9, "CommandComplete");
	buf_free(&b);
}

static void test_md5(void)
{
	char out[PGP_MD5_LEN + 1];
	const uint8_t s1[4] = {1, 2, 3, 4}, s2[4] = {0xde, 0xad, 0xbe, 0xef};
	/* python3: "md5" + md5(md5(password + user).hexdigest() + salt).hexdigest() */
	is_int(pgp_md5_password("postgres", "secret", s1, out), 0, "md5 computed");
	is_str(out, "md5bb41a296aab6baccb36ff243a562abff", "md5 of postgres/secret");
	is_int(pgp_md5_password("jane_doe", "p\xc3\xa4ss", s2, out), 0, "md5 of UTF-8 computed");
	is_str(out, "md56579ebee32fed29e1eac5dd115f9c5c6", "md5 of jane_doe and a UTF-8 password");
	is_int(pgp_md5_password(NULL, "x", s1, out), -1, "NULL user refused");
}

int main(void)
{
	test_builders();
	test_startup();
	test_header();
	test_parsers();
	test_md5();
	return done_testing();
}
