/*
 * pgproto.c owns the PostgreSQL protocol 3.0 message formats: framing of
 * the first packet and of typed messages, body parsers, builders, and the
 * md5 password hash (PostgreSQL documentation, "Message Formats").
 *
 * May call: libc, OpenSSL (EVP digests for MD5, OPENSSL_cleanse), emu/buf,
 * emu/err, emu/util (hex).  No I/O, no globals with state.
 *
 * Invariants:
 * - Input is read through struct cursor only, so no read goes past the
 *   bytes given; a string is accepted only with its NUL inside the body,
 *   and every parser checks that nothing is left over where the format
 *   ends (PostgreSQL's pq_getmsgend).
 * - A builder writes the type byte and a placeholder length, appends the
 *   body, then patches the length from the bytes actually appended (an
 *   offset, not a pointer: the buffer may move).  Invalid arguments are
 *   refused before anything is appended.
 * - Errors name the message and the defect, never echo the bytes (a
 *   PasswordMessage carries a password).
 */
#include "wire/pgproto.h"

#include "emu/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>

#define LEN_MAX ((size_t)INT32_MAX)

/* ---- helpers ------------------------------------------------------------ */

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put32(struct buf *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	buf_put(b, x, 4);
}

/* A cursor over body; a NULL body is an empty one (memchr wants a pointer). */
static void cur(struct cursor *c, const uint8_t *body, size_t n)
{
	static const uint8_t empty[1];
	cursor_init(c, body ? body : empty, body ? n : 0);
}

static int bad(struct emu_err *err, const char *what)
{
	return emu_err_set(err, ERR_VALIDATION, "invalid %s", what);
}

/* Starts a typed message; returns the offset of its length field. */
static size_t begin(struct buf *b, char type)
{
	buf_putc(b, type);
	size_t at = b->len;
	put32(b, 0);
	return at;
}

/* Patches the length field at at; false if the buffer failed or the body
 * is beyond int32. */
static bool finish(struct buf *b, size_t at)
{
	if (b->failed || b->len - at > LEN_MAX) {
		b->failed = true;
		return false;
	}
	uint32_t n = (uint32_t)(b->len - at);
	uint8_t *p = (uint8_t *)b->data + at;
	p[0] = (uint8_t)(n >> 24);
	p[1] = (uint8_t)(n >> 16);
	p[2] = (uint8_t)(n >> 8);
	p[3] = (uint8_t)n;
	return true;
}

/* A string of the body as a whole: text, its NUL last, none before. */
static int whole_string(const uint8_t *body, size_t n, const char **s, size_t *len, const char *what,
                        struct emu_err *err)
{
	struct cursor c;
	cur(&c, body, n);
	const char *p;
	size_t l;
	if (!cursor_cstr(&c, &p, &l))
		return emu_err_set(err, ERR_VALIDATION, "invalid %s: missing terminator", what);
	if (cursor_left(&c) != 0)
		return emu_err_set(err, ERR_VALIDATION, "invalid %s: bytes after the terminator", what);
	*s = p;
	if (len)
		*len = l;
	return 0;
}

/* ---- the first packet --------------------------------------------------- */

enum pgp_frame pgp_startup_length(const uint8_t *p, size_t avail, size_t *len)
{
	if (avail < 4)
		return PGP_FRAME_MORE;
	uint32_t l = rd32(p);
	if (l < 8 || l > PGP_STARTUP_MAX)
		return PGP_FRAME_BAD;
	*len = l;
	return PGP_FRAME_OK;
}

/* The name/value pairs of a 3.x StartupMessage, from c to the final NUL. */
static int startup_params(struct cursor *c, struct pgp_startup *out, struct emu_err *err)
{
	for (;;) {
		const char *name, *value;
		size_t nlen;
		if (!cursor_cstr(c, &name, &nlen))
			return emu_err_set(err, ERR_VALIDATION,
			                   "invalid startup packet layout: expected terminator as last byte");
		if (nlen == 0)
			break;
		if (!cursor_cstr(c, &value, NULL))
			return emu_err_set(err, ERR_VALIDATION, "invalid startup packet: parameter without a value");
		for (size_t i = 0; i < out->nparams; i++)
			if (strcmp(out->params[i].name, name) == 0)
				return emu_err_set(err, ERR_VALIDATION, "invalid startup packet: repeated parameter");
		if (out->nparams == PGP_MAX_PARAMS)
			return emu_err_set(err, ERR_VALIDATION, "invalid startup packet: more than %d parameters",
			                   PGP_MAX_PARAMS);
		out->params[out->nparams].name = name;
		out->params[out->nparams].value = value;
		out->nparams++;
	}
	if (cursor_left(c) != 0)
		return emu_err_set(err, ERR_VALIDATION, "invalid startup packet layout: bytes after the terminator");
	return 0;
}

int pgp_startup_parse(const uint8_t *pkt, size_t len, struct pgp_startup *out, struct emu_err *err)
{
	memset(out, 0, sizeof *out);
	if (!pkt || len < 8 || len > PGP_STARTUP_MAX || rd32(pkt) != len)
		return emu_err_set(err, ERR_VALIDATION, "invalid length of startup packet");
	struct cursor c;
	cursor_init(&c, pkt + 8, len - 8);
	uint32_t code = rd32(pkt + 4);
	out->code = code;
	out->major = (uint16_t)(code >> 16);
	out->minor = (uint16_t)code;
	switch (code) {
	case PGP_CODE_SSL:
	case PGP_CODE_GSSENC:
		if (len != 8)
			return emu_err_set(err, ERR_VALIDATION, "invalid length of %s request",
			                   code == PGP_CODE_SSL ? "SSL" : "GSSENC");
		out->kind = code == PGP_CODE_SSL ? PGP_SSL_REQUEST : PGP_GSSENC_REQUEST;
		return 0;
	case PGP_CODE_CANCEL:
		if (len < 16 || len > 12 + PGP_CANCEL_KEY_MAX)
			return emu_err_set(err, ERR_VALIDATION, "invalid length of cancel request");
		out->kind = PGP_CANCEL_REQUEST;
		out->cancel_pid = rd32(pkt + 8);
		out->cancel_key = pkt + 12;
		out->cancel_key_len = len - 12;
		return 0;
	default:
		break;
	}
	if (out->major == 1234)
		return emu_err_set(err, ERR_VALIDATION, "unsupported frontend protocol request code %u", code);
	out->kind = PGP_STARTUP;
	if (out->major != 3)
		return 0; /* the caller refuses the version; the layout is not 3.x's */
	return startup_params(&c, out, err);
}

const char *pgp_startup_get(const struct pgp_startup *s, const char *name)
{
	for (size_t i = 0; i < s->nparams; i++)
		if (strcmp(s->params[i].name, name) == 0)
			return s->params[i].value;
	return NULL;
}

/* ---- typed framing ------------------------------------------------------ */

enum pgp_frame pgp_header_peek(const uint8_t *p, size_t avail, size_t max, struct pgp_header *out)
{
	if (avail < 5)
		return PGP_FRAME_MORE;
	uint32_t l = rd32(p + 1);
	if (l < 4 || l > max || l > LEN_MAX)
		return PGP_FRAME_BAD;
	out->type = (char)p[0];
	out->body_len = (size_t)l - 4;
	out->total = (size_t)l + 1;
	return PGP_FRAME_OK;
}

/* ---- builders: to clients ----------------------------------------------- */

bool pgp_put_auth(struct buf *out, uint32_t code, const void *payload, size_t n)
{
	if ((n && !payload) || n > LEN_MAX - 8)
		return false;
	size_t at = begin(out, 'R');
	put32(out, code);
	if (n)
		buf_put(out, payload, n);
	return finish(out, at);
}

bool pgp_put_auth_ok(struct buf *out)
{
	return pgp_put_auth(out, PGP_AUTH_OK, NULL, 0);
}

bool pgp_put_auth_cleartext(struct buf *out)
{
	return pgp_put_auth(out, PGP_AUTH_CLEARTEXT, NULL, 0);
}

bool pgp_put_auth_md5(struct buf *out, const uint8_t salt[4])
{
	return salt && pgp_put_auth(out, PGP_AUTH_MD5, salt, 4);
}

bool pgp_put_auth_sasl(struct buf *out, const char *const *mechs, size_t n)
{
	if (n && !mechs)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!mechs[i] || !mechs[i][0])
			return false; /* an empty name would end the list */
	size_t at = begin(out, 'R');
	put32(out, PGP_AUTH_SASL);
	for (size_t i = 0; i < n; i++)
		buf_put(out, mechs[i], strlen(mechs[i]) + 1);
	buf_putc(out, '\0');
	return finish(out, at);
}

bool pgp_put_auth_sasl_continue(struct buf *out, const void *data, size_t n)
{
	return pgp_put_auth(out, PGP_AUTH_SASL_CONTINUE, data, n);
}

bool pgp_put_auth_sasl_final(struct buf *out, const void *data, size_t n)
{
	return pgp_put_auth(out, PGP_AUTH_SASL_FINAL, data, n);
}

bool pgp_put_parameter_status(struct buf *out, const char *name, const char *value)
{
	if (!name || !value)
		return false;
	size_t at = begin(out, 'S');
	buf_put(out, name, strlen(name) + 1);
	buf_put(out, value, strlen(value) + 1);
	return finish(out, at);
}

bool pgp_put_backend_key(struct buf *out, uint32_t pid, uint32_t key)
{
	size_t at = begin(out, 'K');
	put32(out, pid);
	put32(out, key);
	return finish(out, at);
}

bool pgp_put_ready(struct buf *out, char status)
{
	if (status != 'I' && status != 'T' && status != 'E')
		return false;
	size_t at = begin(out, 'Z');
	buf_putc(out, status);
	return finish(out, at);
}

static void field(struct buf *b, char code, const char *s)
{
	if (!s)
		return;
	buf_putc(b, code);
	buf_put(b, s, strlen(s) + 1);
}

static bool put_notice(struct buf *out, char type, const struct pgp_notice *n)
{
	if (!n || !n->severity || !n->sqlstate || !n->message)
		return false;
	size_t at = begin(out, type);
	field(out, 'S', n->severity);
	field(out, 'V', n->severity_nl ? n->severity_nl : n->severity);
	field(out, 'C', n->sqlstate);
	field(out, 'M', n->message);
	field(out, 'D', n->detail);
	field(out, 'H', n->hint);
	buf_putc(out, '\0');
	return finish(out, at);
}

bool pgp_put_error(struct buf *out, const struct pgp_notice *n)
{
	return put_notice(out, 'E', n);
}

bool pgp_put_notice(struct buf *out, const struct pgp_notice *n)
{
	return put_notice(out, 'N', n);
}

bool pgp_put_command_complete(struct buf *out, const char *tag)
{
	if (!tag)
		return false;
	size_t at = begin(out, 'C');
	buf_put(out, tag, strlen(tag) + 1);
	return finish(out, at);
}

bool pgp_put_negotiate_version(struct buf *out, uint32_t newest_minor, const char *const *unknown, size_t n)
{
	if ((n && !unknown) || n > INT32_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!unknown[i])
			return false;
	size_t at = begin(out, 'v');
	put32(out, newest_minor);
	put32(out, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		buf_put(out, unknown[i], strlen(unknown[i]) + 1);
	return finish(out, at);
}

bool pgp_put_encryption_answer(struct buf *out, bool accept)
{
	return buf_putc(out, accept ? 'S' : 'N');
}

/* ---- builders: to backends ---------------------------------------------- */

bool pgp_put_ssl_request(struct buf *out)
{
	put32(out, 8);
	put32(out, PGP_CODE_SSL);
	return !out->failed;
}

bool pgp_put_startup(struct buf *out, const struct pgp_param *params, size_t n)
{
	if ((n && !params) || n > PGP_MAX_PARAMS)
		return false;
	size_t total = 4 + 4 + 1;
	for (size_t i = 0; i < n; i++) {
		if (!params[i].name || !params[i].value || !params[i].name[0])
			return false;
		total += strlen(params[i].name) + 1 + strlen(params[i].value) + 1;
		if (total > PGP_STARTUP_MAX)
			return false;
	}
	size_t at = out->len;
	put32(out, 0);
	put32(out, PGP_VERSION_3_0);
	for (size_t i = 0; i < n; i++) {
		buf_put(out, params[i].name, strlen(params[i].name) + 1);
		buf_put(out, params[i].value, strlen(params[i].value) + 1);
	}
	buf_putc(out, '\0');
	return finish(out, at);
}

bool pgp_put_password(struct buf *out, const char *password)
{
	if (!password)
		return false;
	size_t at = begin(out, 'p');
	buf_put(out, password, strlen(password) + 1);
	return finish(out, at);
}

bool pgp_put_sasl_initial(struct buf *out, const char *mechanism, const void *data, size_t n)
{
	if (!mechanism || !mechanism[0] || (n && !data) || n > LEN_MAX / 2)
		return false;
	size_t at = begin(out, 'p');
	buf_put(out, mechanism, strlen(mechanism) + 1);
	if (!data) {
		put32(out, UINT32_MAX); /* int32 -1: no initial response */
	} else {
		put32(out, (uint32_t)n);
		if (n)
			buf_put(out, data, n);
	}
	return finish(out, at);
}

bool pgp_put_sasl_response(struct buf *out, const void *data, size_t n)
{
	if ((n && !data) || n > LEN_MAX - 4)
		return false;
	size_t at = begin(out, 'p');
	if (n)
		buf_put(out, data, n);
	return finish(out, at);
}

bool pgp_put_query(struct buf *out, const char *sql)
{
	if (!sql)
		return false;
	size_t at = begin(out, 'Q');
	buf_put(out, sql, strlen(sql) + 1);
	return finish(out, at);
}

bool pgp_put_sync(struct buf *out)
{
	return finish(out, begin(out, 'S'));
}

bool pgp_put_terminate(struct buf *out)
{
	return finish(out, begin(out, 'X'));
}

/* ---- body parsers ------------------------------------------------------- */

int pgp_parse_notice(const uint8_t *body, size_t n, struct pgp_notice *out, struct emu_err *err)
{
	memset(out, 0, sizeof *out);
	struct cursor c;
	cur(&c, body, n);
	for (;;) {
		uint8_t code;
		const char *s;
		if (!cursor_u8(&c, &code))
			return bad(err, "error/notice: missing terminator");
		if (code == 0)
			break;
		if (!cursor_cstr(&c, &s, NULL))
			return bad(err, "error/notice: unterminated field");
		switch (code) {
		case 'S': out->severity = s; break;
		case 'V': out->severity_nl = s; break;
		case 'C': out->sqlstate = s; break;
		case 'M': out->message = s; break;
		case 'D': out->detail = s; break;
		case 'H': out->hint = s; break;
		default: break; /* position, context, schema, table, ... */
		}
	}
	if (cursor_left(&c) != 0)
		return bad(err, "error/notice: bytes after the terminator");
	return 0;
}

int pgp_parse_auth(const uint8_t *body, size_t n, struct pgp_auth *out, struct emu_err *err)
{
	memset(out, 0, sizeof *out);
	struct cursor c;
	cur(&c, body, n);
	if (!cursor_be32(&c, &out->code))
		return bad(err, "authentication request: too short");
	out->len = cursor_left(&c);
	out->data = out->len ? body + 4 : NULL;
	switch (out->code) {
	case PGP_AUTH_OK:
	case PGP_AUTH_CLEARTEXT:
		if (out->len != 0)
			return bad(err, "authentication request: unexpected payload");
		return 0;
	case PGP_AUTH_MD5:
		if (out->len != 4)
			return bad(err, "authentication request: MD5 salt is not 4 bytes");
		return 0;
	case PGP_AUTH_SASL: {
		/* One or more names, then an empty one ending the body. */
		size_t names = 0;
		for (;;) {
			const char *m;
			size_t ml;
			if (!cursor_cstr(&c, &m, &ml))
				return bad(err, "authentication request: unterminated SASL mechanism list");
			if (ml == 0)
				break;
			names++;
		}
		if (names == 0 || cursor_left(&c) != 0)
			return bad(err, "authentication request: malformed SASL mechanism list");
		return 0;
	}
	default:
		return 0;
	}
}

bool pgp_sasl_offers(const struct pgp_auth *a, const char *mech)
{
	if (!a || !mech || a->code != PGP_AUTH_SASL || !a->data)
		return false;
	struct cursor c;
	cursor_init(&c, a->data, a->len);
	const char *m;
	size_t ml;
	while (cursor_cstr(&c, &m, &ml) && ml > 0)
		if (strcmp(m, mech) == 0)
			return true;
	return false;
}

int pgp_parse_parameter_status(const uint8_t *body, size_t n, const char **name, const char **value,
                               struct emu_err *err)
{
	struct cursor c;
	cur(&c, body, n);
	if (!cursor_cstr(&c, name, NULL) || !cursor_cstr(&c, value, NULL) || cursor_left(&c) != 0)
		return bad(err, "parameter status");
	return 0;
}

int pgp_parse_backend_key(const uint8_t *body, size_t n, uint32_t *pid, uint32_t *key, struct emu_err *err)
{
	if (!body || n != 8)
		return bad(err, "backend key data: not 8 bytes");
	*pid = rd32(body);
	*key = rd32(body + 4);
	return 0;
}

int pgp_parse_ready(const uint8_t *body, size_t n, char *status, struct emu_err *err)
{
	if (!body || n != 1 || (body[0] != 'I' && body[0] != 'T' && body[0] != 'E'))
		return bad(err, "ready for query");
	*status = (char)body[0];
	return 0;
}

int pgp_parse_password(const uint8_t *body, size_t n, const char **password, size_t *len, struct emu_err *err)
{
	return whole_string(body, n, password, len, "password message", err);
}

int pgp_parse_sasl_initial(const uint8_t *body, size_t n, const char **mechanism, const uint8_t **data,
                           size_t *len, struct emu_err *err)
{
	struct cursor c;
	cur(&c, body, n);
	uint32_t l;
	size_t ml;
	if (!cursor_cstr(&c, mechanism, &ml) || ml == 0 || !cursor_be32(&c, &l))
		return bad(err, "SASL initial response");
	if (l == UINT32_MAX) {
		if (cursor_left(&c) != 0)
			return bad(err, "SASL initial response: bytes after an absent response");
		*data = NULL;
		*len = 0;
		return 0;
	}
	if ((size_t)l != cursor_left(&c))
		return bad(err, "SASL initial response: length does not match the message");
	*data = l ? c.p + c.pos : NULL;
	*len = l;
	return 0;
}

int pgp_parse_sasl_response(const uint8_t *body, size_t n, const uint8_t **data, size_t *len,
                            struct emu_err *err)
{
	(void)err;
	*data = n ? body : NULL;
	*len = body ? n : 0;
	return 0;
}

int pgp_parse_query(const uint8_t *body, size_t n, const char **sql, size_t *len, struct emu_err *err)
{
	return whole_string(body, n, sql, len, "query message", err);
}

int pgp_parse_parse(const uint8_t *body, size_t n, const char **stmt, const char **query, uint16_t *nparams,
                    struct emu_err *err)
{
	struct cursor c;
	cur(&c, body, n);
	uint16_t np;
	if (!cursor_cstr(&c, stmt, NULL) || !cursor_cstr(&c, query, NULL) || !cursor_be16(&c, &np))
		return bad(err, "parse message");
	if (cursor_left(&c) != (size_t)np * 4)
		return bad(err, "parse message: parameter types do not fill the message");
	*nparams = np;
	return 0;
}

static bool all_digits(const char *s, size_t n)
{
	if (n == 0 || n > 20)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

int pgp_parse_command_complete(const uint8_t *body, size_t n, struct pgp_command_tag *out, struct emu_err *err)
{
	memset(out, 0, sizeof *out);
	const char *t;
	size_t tl;
	if (whole_string(body, n, &t, &tl, "command complete", err) < 0)
		return -1;
	out->tag = t;
	out->tag_len = tl;
	out->command_len = tl;
	/* Peel numeric words off the end: rows is the last, an INSERT's oid
	 * the one before it. */
	size_t end = tl;
	bool last = true;
	while (end > 0) {
		size_t sp = end;
		while (sp > 0 && t[sp - 1] != ' ')
			sp--;
		if (sp == 0 || !all_digits(t + sp, end - sp))
			break; /* a tag never starts with a number */
		if (last) {
			uint64_t v = 0;
			bool over = false;
			for (size_t i = sp; i < end; i++) {
				unsigned d = (unsigned)(t[i] - '0');
				if (v > (UINT64_MAX - d) / 10)
					over = true;
				v = v * 10 + d;
			}
			if (over)
				return bad(err, "command complete: row count out of range");
			out->rows = v;
			out->has_rows = true;
			last = false;
		}
		end = sp - 1;
		out->command_len = end;
	}
	return 0;
}

/* ---- md5 ---------------------------------------------------------------- */

static bool md5_hex(const void *a, size_t an, const void *b, size_t bn, char hex[33])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char d[16];
	unsigned int dl = 0;
	bool okay = ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 && EVP_DigestUpdate(ctx, a, an) == 1 &&
	            EVP_DigestUpdate(ctx, b, bn) == 1 && EVP_DigestFinal_ex(ctx, d, &dl) == 1 && dl == 16;
	EVP_MD_CTX_free(ctx);
	if (okay)
		util_hex(d, 16, hex);
	OPENSSL_cleanse(d, sizeof d);
	return okay;
}

int pgp_md5_password(const char *user, const char *password, const uint8_t salt[4], char out[PGP_MD5_LEN + 1])
{
	char inner[33];
	out[0] = '\0';
	if (!user || !password || !salt)
		return -1;
	if (!md5_hex(password, strlen(password), user, strlen(user), inner))
		return -1;
	memcpy(out, "md5", 3);
	bool okay = md5_hex(inner, 32, salt, 4, out + 3);
	OPENSSL_cleanse(inner, sizeof inner);
	if (!okay)
		out[0] = '\0';
	return okay ? 0 : -1;
}
