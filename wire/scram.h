/*
 * SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it, both sides,
 * pure: the verifier derived once per password, the server exchange the
 * RDS Proxy runs with clients (aws-behaviour.md 3.3.4), and the client
 * exchange it runs when logging in to a backend.  The messages are the
 * SASL data only; wire/pgproto frames them (AuthenticationSASL*,
 * SASLInitialResponse, SASLResponse).  No I/O, no globals; state lives in
 * the caller's structs, which are plain fixed buffers (they own no
 * allocation, so copying one is safe) and are wiped by scram_*_wipe.
 *
 * Choices where the RFCs or PostgreSQL leave room:
 * - SASLprep is not applied: the password is hashed as its raw bytes
 *   (UTF-8 as given).  PostgreSQL does the same whenever SASLprep fails,
 *   and for ASCII passwords the two agree.
 * - Channel binding is not offered (only "SCRAM-SHA-256" is advertised).
 *   The server refuses "p=..." (binding requested) and authzid "a=...", and
 *   accepts "n" and "y" ("client supports binding, thinks the server does
 *   not": RFC 5802 section 6, true here, and what libpq sends over TLS).
 *   c= must be the base64 of the gs2 header exactly as sent.
 * - The username attribute n= is required but ignored (may be empty), as in
 *   PostgreSQL: the login user comes from the StartupMessage.
 * - Extensions after the nonce (client-first) and between r= and p=
 *   (client-final) are skipped; a mandatory extension "m=" is refused.
 * - Base64 must be padded and canonical (RFC 4648 as RFC 5802 requires;
 *   non-zero unused bits in its last digit are refused, so one proof has
 *   one spelling).
 * - Messages longer than SCRAM_MSG_MAX are refused.
 * - Iterations: 1..SCRAM_ITER_MAX for verifiers; the client refuses a
 *   server's count above its max_iterations (default SCRAM_ITER_MAX, about
 *   3 s of PBKDF2 at 10,000,000) so a backend cannot stall the proxy.
 */
#ifndef WIRE_SCRAM_H
#define WIRE_SCRAM_H

#include "emu/buf.h"
#include "emu/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCRAM_MECHANISM "SCRAM-SHA-256"
#define SCRAM_KEY_LEN 32             /* SHA-256 */
#define SCRAM_SALT_LEN 16            /* random salt of a new verifier (PostgreSQL's) */
#define SCRAM_SALT_MAX 64            /* longest salt accepted (verifier or server-first) */
#define SCRAM_ITERATIONS 4096        /* default count (PostgreSQL's scram_iterations) */
#define SCRAM_ITER_MAX 10000000u     /* highest count derived or accepted */
#define SCRAM_NONCE_RAW 18           /* random bytes behind a generated nonce (24 base64 chars) */
#define SCRAM_NONCE_MAX 256          /* characters of one side's nonce */
#define SCRAM_MSG_MAX 2048           /* bytes of any SCRAM message */

/* The distinct return of scram_server_final for a well-formed proof that
 * does not match (err->code ERR_ACCESS_DENIED): "password wrong". */
#define SCRAM_BAD_PROOF (-2)

/* What the server keeps per password (never the password itself). */
struct scram_verifier {
	uint8_t salt[SCRAM_SALT_MAX];
	size_t salt_len;
	uint32_t iterations;
	uint8_t stored_key[SCRAM_KEY_LEN];  /* H(ClientKey) */
	uint8_t server_key[SCRAM_KEY_LEN];  /* HMAC(SaltedPassword, "Server Key") */
};

/* SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations), then
 * ClientKey = HMAC(SaltedPassword, "Client Key"), StoredKey = H(ClientKey),
 * ServerKey = HMAC(SaltedPassword, "Server Key").  Any output may be NULL.
 * 0, or -1 (ERR_VALIDATION for a bad count or salt, ERR_INTERNAL if
 * OpenSSL fails). */
int scram_keys(const char *password, size_t plen, const uint8_t *salt, size_t salt_len, uint32_t iterations,
               uint8_t client_key[SCRAM_KEY_LEN], uint8_t stored_key[SCRAM_KEY_LEN],
               uint8_t server_key[SCRAM_KEY_LEN], struct emu_err *err);

/* A verifier for password: salt NULL = SCRAM_SALT_LEN random bytes,
 * iterations 0 = SCRAM_ITERATIONS.  Costs one PBKDF2: derive once per
 * password (the proxy: once per secret version). */
int scram_verifier_make(const char *password, size_t plen, const uint8_t *salt, size_t salt_len,
                        uint32_t iterations, struct scram_verifier *out, struct emu_err *err);
void scram_verifier_wipe(struct scram_verifier *v);

/* ---- server side -------------------------------------------------------- */

enum scram_server_state { SCRAM_S_INIT, SCRAM_S_FIRST_SENT, SCRAM_S_DONE, SCRAM_S_FAILED };

struct scram_server {
	enum scram_server_state state;
	struct scram_verifier v;            /* a copy */
	char gs2_header[8];                 /* "n,," or "y,," as sent */
	char client_first_bare[SCRAM_MSG_MAX + 1];
	char server_first[SCRAM_MSG_MAX + 1];
	char nonce[2 * SCRAM_NONCE_MAX + 1]; /* client nonce + server nonce */
};

void scram_server_init(struct scram_server *s, const struct scram_verifier *v);
/* client-first-message in, server-first-message appended to out, with a
 * server nonce of SCRAM_NONCE_RAW random bytes in base64.  -1 on a
 * malformed or refused message (ERR_VALIDATION). */
int scram_server_first(struct scram_server *s, const char *msg, size_t len, struct buf *out, struct emu_err *err);
/* The same with the server nonce given (printable, no ','): for tests. */
int scram_server_first_nonce(struct scram_server *s, const char *msg, size_t len, const char *server_nonce,
                             struct buf *out, struct emu_err *err);
/* client-final-message in; when the proof matches, server-final-message
 * ("v=...") appended to out and 0.  SCRAM_BAD_PROOF for a wrong password,
 * -1 for a malformed message or a nonce that is not the one sent. */
int scram_server_final(struct scram_server *s, const char *msg, size_t len, struct buf *out, struct emu_err *err);
void scram_server_wipe(struct scram_server *s);

/* ---- client side -------------------------------------------------------- */

enum scram_client_state { SCRAM_C_INIT, SCRAM_C_FIRST_SENT, SCRAM_C_FINAL_SENT, SCRAM_C_DONE, SCRAM_C_FAILED };

struct scram_client {
	enum scram_client_state state;
	uint32_t max_iterations;            /* 0 = SCRAM_ITER_MAX */
	char client_first_bare[SCRAM_MSG_MAX + 1];
	char nonce[SCRAM_NONCE_MAX + 1];
	uint8_t server_signature[SCRAM_KEY_LEN]; /* expected in server-final */
};

/* max_iterations: highest count the client will derive (0 = SCRAM_ITER_MAX). */
void scram_client_init(struct scram_client *c, uint32_t max_iterations);
/* scram_client_final remembers the keys it derived (a small ring keyed by a
 * hash of iterations, salt and password), so logging in again as the same
 * user to the same server costs no PBKDF2.  This wipes them (at exit). */
void scram_client_forget(void);
/* client-first-message "n,,n=<user>,r=<nonce>" appended to out (user NULL
 * or "" as libpq sends; ',' and '=' escaped), nonce SCRAM_NONCE_RAW random
 * bytes in base64. */
int scram_client_first(struct scram_client *c, const char *user, struct buf *out, struct emu_err *err);
/* The same with the nonce given (printable, no ','): for tests. */
int scram_client_first_nonce(struct scram_client *c, const char *user, const char *nonce, struct buf *out,
                             struct emu_err *err);
/* server-first-message in (its nonce must extend ours), client-final-message
 * with the proof for password appended to out.  One PBKDF2 at the server's
 * count.  -1 on a malformed message or a refused count. */
int scram_client_final(struct scram_client *c, const char *password, size_t plen, const char *msg, size_t len,
                       struct buf *out, struct emu_err *err);
/* server-final-message in: 0 when "v=" carries the expected signature; -1
 * for "e=<error>" (its text in err), a wrong signature or a malformed one. */
int scram_client_verify(struct scram_client *c, const char *msg, size_t len, struct emu_err *err);
void scram_client_wipe(struct scram_client *c);

#endif
