/*
 * PostgreSQL frontend/backend protocol 3.0 (aws-behaviour.md 3.2, 3.4, 3.9,
 * 8), pure: framing of the untyped first packet and of typed messages,
 * parsers of the message bodies the RDS Proxy data plane reads, builders of
 * the messages it writes (to clients, and to backends it logs in to), and
 * the md5 password hash.  No I/O, no state between calls, no allocation but
 * the struct buf appended to (and one digest context per md5 hash).
 *
 * Framing: a typed message is a type byte, an int32 length that counts
 * itself and the body but not the type byte, then the body.  The first
 * packet of a connection is untyped: int32 length (counting itself), int32
 * code, then the rest.  Every parser takes a body (bytes after the length)
 * and never reads past it; every string it returns points into the body
 * (or packet) and is NUL-terminated there, so the input must outlive the
 * result.
 *
 * Choices where PostgreSQL or AWS do not say:
 * - A StartupMessage with a repeated parameter name is refused (PostgreSQL
 *   lets the last one win); a proxy that validates one copy and forwards
 *   another must never be possible.
 * - A first packet whose major version is not 3 and not 1234 (the request
 *   codes) parses as kind PGP_STARTUP with that version and no parameters:
 *   the caller answers "supports only version 3.0" (aws-behaviour.md 3.4).
 * - CancelRequest: the secret key may be 4..256 bytes (3.0 sends 4; 3.2
 *   allows up to 256).
 * - Malformed input sets ERR_VALIDATION with a message that names what was
 *   wrong; the caller maps it to SQLSTATE 08P01 (protocol violation).
 */
#ifndef WIRE_PGPROTO_H
#define WIRE_PGPROTO_H

#include "emu/buf.h"
#include "emu/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PGP_STARTUP_MAX 10000        /* bytes of the untyped first packet (PostgreSQL's own limit) */
#define PGP_AUTH_MSG_MAX 70000       /* length field of a PasswordMessage: room for a 64 KiB IAM token */
#define PGP_MAX_PARAMS 64            /* StartupMessage name/value pairs */
#define PGP_CANCEL_KEY_MAX 256       /* bytes of a CancelRequest secret key (protocol 3.2) */

#define PGP_CODE_CANCEL 80877102u    /* 1234.5678 */
#define PGP_CODE_SSL 80877103u       /* 1234.5679 */
#define PGP_CODE_GSSENC 80877104u    /* 1234.5680 */
#define PGP_VERSION(maj, min) (((uint32_t)(maj) << 16) | (uint32_t)(min))
#define PGP_VERSION_3_0 PGP_VERSION(3, 0)

/* Authentication request codes (the int32 after 'R'). */
#define PGP_AUTH_OK 0
#define PGP_AUTH_CLEARTEXT 3
#define PGP_AUTH_MD5 5
#define PGP_AUTH_SASL 10
#define PGP_AUTH_SASL_CONTINUE 11
#define PGP_AUTH_SASL_FINAL 12

#define PGP_MD5_LEN 35               /* "md5" + 32 hex digits, without the NUL */

/* What a framing step found. */
enum pgp_frame {
	PGP_FRAME_MORE = 0,          /* not enough bytes yet to decide */
	PGP_FRAME_OK = 1,
	PGP_FRAME_BAD = -1           /* length out of range: close the connection */
};

/* ---- the untyped first packet ------------------------------------------- */

enum pgp_startup_kind {
	PGP_SSL_REQUEST,
	PGP_GSSENC_REQUEST,
	PGP_CANCEL_REQUEST,
	PGP_STARTUP
};

struct pgp_param {
	const char *name;
	const char *value;
};

struct pgp_startup {
	enum pgp_startup_kind kind;
	uint32_t code;                      /* the second int32: version or request code */
	uint16_t major, minor;              /* PGP_STARTUP: protocol version */
	struct pgp_param params[PGP_MAX_PARAMS]; /* PGP_STARTUP with major 3, in packet order */
	size_t nparams;
	uint32_t cancel_pid;                /* PGP_CANCEL_REQUEST */
	const uint8_t *cancel_key;          /* into the packet */
	size_t cancel_key_len;              /* 4 in protocol 3.0 */
};

/* The first packet's length prefix from the avail bytes at p: PGP_FRAME_MORE
 * (fewer than 4), PGP_FRAME_BAD (below 8 or above PGP_STARTUP_MAX), or
 * PGP_FRAME_OK with *len = the whole packet, prefix included. */
enum pgp_frame pgp_startup_length(const uint8_t *p, size_t avail, size_t *len);

/* Parses a whole first packet pkt[0..len) (len = its length prefix).  0, or
 * -1 (ERR_VALIDATION) for a malformed packet: wrong length for the code,
 * an unknown 1234.x request, a name or value without its NUL, a name
 * without a value, a missing final NUL or bytes after it, more than
 * PGP_MAX_PARAMS pairs, a repeated name. */
int pgp_startup_parse(const uint8_t *pkt, size_t len, struct pgp_startup *out, struct emu_err *err);

/* The value of parameter name, or NULL (exact, case-sensitive match). */
const char *pgp_startup_get(const struct pgp_startup *s, const char *name);

/* ---- typed messages: framing -------------------------------------------- */

struct pgp_header {
	char type;
	size_t body_len;                    /* length field minus 4 */
	size_t total;                       /* bytes of the whole message: 1 + length field */
};

/* The header of the typed message at p: PGP_FRAME_MORE (fewer than 5
 * bytes), PGP_FRAME_BAD (length field below 4 or above max), or
 * PGP_FRAME_OK with *out filled; the body is p[5..out->total), which may
 * not all be there yet.  max bounds the length field (PGP_AUTH_MSG_MAX for
 * a PasswordMessage, the caller's limit otherwise). */
enum pgp_frame pgp_header_peek(const uint8_t *p, size_t avail, size_t max, struct pgp_header *out);

/* ---- builders ----------------------------------------------------------- */

/*
 * Each appends one whole message to out and returns true, or false when an
 * argument is invalid (NULL where a string is required, a message beyond
 * int32) or out failed (its sticky bit is then set; nothing partial is left
 * behind when the arguments were invalid).
 */

/* ErrorResponse and NoticeResponse fields; parsers fill the same struct. */
struct pgp_notice {
	const char *severity;               /* S: localized severity ("FATAL", "ERROR", "NOTICE") */
	const char *severity_nl;            /* V: non-localized; builders: NULL = severity */
	const char *sqlstate;               /* C: five characters */
	const char *message;                /* M */
	const char *detail;                 /* D, optional (NULL = absent) */
	const char *hint;                   /* H, optional */
};

/* To clients. */
bool pgp_put_auth(struct buf *out, uint32_t code, const void *payload, size_t n); /* 'R' */
bool pgp_put_auth_ok(struct buf *out);
bool pgp_put_auth_cleartext(struct buf *out);
bool pgp_put_auth_md5(struct buf *out, const uint8_t salt[4]);
/* AuthenticationSASL: each mechanism NUL-terminated, then an empty one. */
bool pgp_put_auth_sasl(struct buf *out, const char *const *mechs, size_t n);
bool pgp_put_auth_sasl_continue(struct buf *out, const void *data, size_t n);
bool pgp_put_auth_sasl_final(struct buf *out, const void *data, size_t n);
bool pgp_put_parameter_status(struct buf *out, const char *name, const char *value); /* 'S' */
bool pgp_put_backend_key(struct buf *out, uint32_t pid, uint32_t key);               /* 'K' */
bool pgp_put_ready(struct buf *out, char status);                                    /* 'Z': 'I', 'T', 'E' */
bool pgp_put_error(struct buf *out, const struct pgp_notice *n);                     /* 'E' */
bool pgp_put_notice(struct buf *out, const struct pgp_notice *n);                    /* 'N' */
bool pgp_put_command_complete(struct buf *out, const char *tag);                     /* 'C' */
/* NegotiateProtocolVersion 'v': the newest minor version of the client's
 * major the server supports, and the protocol options ("_pq_.x") it did
 * not recognise. */
bool pgp_put_negotiate_version(struct buf *out, uint32_t newest_minor, const char *const *unknown, size_t n);
/* The one-byte answer to SSLRequest / GSSENCRequest: 'S' or 'N'. */
bool pgp_put_encryption_answer(struct buf *out, bool accept);

/* To backends (the proxy logging in and resetting sessions). */
bool pgp_put_ssl_request(struct buf *out);
/* StartupMessage 3.0 with the given pairs; false beyond PGP_STARTUP_MAX,
 * PGP_MAX_PARAMS or for an empty name. */
bool pgp_put_startup(struct buf *out, const struct pgp_param *params, size_t n);
bool pgp_put_password(struct buf *out, const char *password);                         /* 'p', cleartext or md5 */
/* SASLInitialResponse 'p': data == NULL sends length -1 (no initial data). */
bool pgp_put_sasl_initial(struct buf *out, const char *mechanism, const void *data, size_t n);
bool pgp_put_sasl_response(struct buf *out, const void *data, size_t n);             /* 'p' */
bool pgp_put_query(struct buf *out, const char *sql);                                /* 'Q' */
bool pgp_put_sync(struct buf *out);                                                  /* 'S' (frontend) */
bool pgp_put_terminate(struct buf *out);                                             /* 'X' */

/* ---- body parsers ------------------------------------------------------- */

/*
 * Each takes the body of a message of the right type and returns 0, or -1
 * with ERR_VALIDATION when it is malformed.  Outputs point into the body.
 */

/* ErrorResponse / NoticeResponse: known fields into out (absent = NULL),
 * unknown ones skipped.  Requires the final NUL and nothing after it. */
int pgp_parse_notice(const uint8_t *body, size_t n, struct pgp_notice *out, struct emu_err *err);

/* Authentication request 'R'.  The payload is checked against the code:
 * none for Ok and Cleartext, 4 bytes for MD5, a well-formed list for SASL;
 * other codes (Kerberos, GSS, SSPI) come back with whatever follows. */
struct pgp_auth {
	uint32_t code;
	const uint8_t *data;
	size_t len;
};
int pgp_parse_auth(const uint8_t *body, size_t n, struct pgp_auth *out, struct emu_err *err);
/* Whether an AuthenticationSASL payload lists mechanism mech. */
bool pgp_sasl_offers(const struct pgp_auth *a, const char *mech);

int pgp_parse_parameter_status(const uint8_t *body, size_t n, const char **name, const char **value,
                               struct emu_err *err);
/* BackendKeyData of protocol 3.0: exactly pid and a 4-byte key. */
int pgp_parse_backend_key(const uint8_t *body, size_t n, uint32_t *pid, uint32_t *key, struct emu_err *err);
/* ReadyForQuery: *status is 'I', 'T' or 'E'. */
int pgp_parse_ready(const uint8_t *body, size_t n, char *status, struct emu_err *err);
/* PasswordMessage as cleartext (or md5 text): one string filling the body. */
int pgp_parse_password(const uint8_t *body, size_t n, const char **password, size_t *len, struct emu_err *err);
/* SASLInitialResponse: mechanism, then int32 length and data; length -1 =
 * no data (*data NULL, *len 0). */
int pgp_parse_sasl_initial(const uint8_t *body, size_t n, const char **mechanism, const uint8_t **data,
                           size_t *len, struct emu_err *err);
/* SASLResponse: the body is the data (never fails; for symmetry). */
int pgp_parse_sasl_response(const uint8_t *body, size_t n, const uint8_t **data, size_t *len,
                            struct emu_err *err);
/* Query: one string filling the body. */
int pgp_parse_query(const uint8_t *body, size_t n, const char **sql, size_t *len, struct emu_err *err);
/* Parse 'P': statement name ("" = unnamed), query text, the parameter type
 * count (the type OIDs must all be there). */
int pgp_parse_parse(const uint8_t *body, size_t n, const char **stmt, const char **query, uint16_t *nparams,
                    struct emu_err *err);

/* CommandComplete tag, e.g. "SELECT 3", "INSERT 0 1", "CREATE TABLE": the
 * command is the words before any trailing numbers; rows the last number. */
struct pgp_command_tag {
	const char *tag;                    /* the whole tag */
	size_t tag_len;
	size_t command_len;                 /* tag[0..command_len): "INSERT", "CREATE TABLE" */
	bool has_rows;
	uint64_t rows;
};
int pgp_parse_command_complete(const uint8_t *body, size_t n, struct pgp_command_tag *out, struct emu_err *err);

/* ---- md5 ---------------------------------------------------------------- */

/* "md5" + hex(md5(hex(md5(password + user)) + salt)), what a client sends
 * for AuthenticationMD5Password; out gets PGP_MD5_LEN chars and a NUL.
 * 0, or -1 if the digest is unavailable (a FIPS-only provider). */
int pgp_md5_password(const char *user, const char *password, const uint8_t salt[4], char out[PGP_MD5_LEN + 1]);

#endif
