/*
 * TLS for the database front-ends (aws-behaviour.md section 3.2): a local
 * certificate authority, server contexts whose leaf certificate names an
 * endpoint's addresses and DNS names, a client context for the proxy's own
 * connections to local backends, and non-blocking I/O on an fd-bound SSL
 * for the single-threaded loop (emu/loop.h, level-triggered).
 *
 * The CA: STATE_DIR/ca.key (EC P-256, PKCS#8 PEM, mode 0600) and
 * STATE_DIR/ca.pem (self-signed, CA:TRUE pathlen:0, keyCertSign + cRLSign,
 * 10 years, subject "CN=rdsemu local CA <8 hex>"), created at the first
 * tls_init and loaded afterwards, so a client's sslrootcert / --ssl-ca keeps
 * working across restarts.  With state_dir NULL (ephemeral mode) the CA
 * lives in memory only.  Users fetch it from GET /_rdsemu/ca.pem.
 *
 * Choices (each is also in tls.c's opening comment):
 * - A ca.key readable by group or others is used, with a warning (as
 *   kms does for master.key).  A ca.key without ca.pem gets a new CA
 *   certificate for the same key (warning); a ca.pem without ca.key, a key
 *   that does not match the certificate, or a certificate that is not a CA
 *   is an error.  An expired CA is used with a warning.
 * - Leaf: a fresh EC P-256 key per context, serverAuth, 1 year (capped at
 *   the CA's expiry), not before now - 1 h, every name as a SAN.
 * - TLS 1.2 and 1.3 only; no session tickets, no session cache, no
 *   renegotiation, no client certificates.  ALPN "postgresql" is selected
 *   when offered (PostgreSQL 17 direct SSL); other ALPN offers are ignored.
 * - A peer that closes TCP without close_notify reads as TLS_IO_EOF (the
 *   PostgreSQL and MySQL protocols delimit their own messages).
 *
 * Start-up (main.c): after store_open,
 *     if (tls_init(cfg.ephemeral ? NULL : cfg.state_dir, &err) < 0) fail;
 * and tls_shutdown() at exit, after every connection is closed.
 *
 * Writing to a peer that has gone raises SIGPIPE: the process must ignore
 * it (main.c does).  Single-threaded: the module state is not locked.
 */
#ifndef WIRE_TLS_H
#define WIRE_TLS_H

#include "emu/err.h"

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

#define TLS_MAX_NAMES 64    /* names in one server context */
#define TLS_MAX_NAME_LEN 253 /* bytes of one name (a DNS name's limit) */

/* Loads STATE_DIR's CA, creating it on first use; NULL = a new in-memory
 * CA.  Calling it again first does tls_shutdown().  0, or -1 with err. */
int tls_init(const char *state_dir, struct emu_err *err);

/* The CA certificate, PEM, NUL-terminated; NULL before tls_init.  Valid
 * until tls_shutdown or the next tls_init. */
const char *tls_ca_pem(void);

/*
 * A server context presenting a leaf certificate, signed by the CA, that
 * carries every name as a subjectAltName: IPv4 and IPv6 literals ("[::1]"
 * too) as IP SANs, anything else as a DNS name (letters, digits, '-', '.',
 * '_', and '*' for a wildcard label; stored in lower case).  Contexts are
 * cached by the set of names (order, case and duplicates do not matter);
 * the caller never frees one: tls_shutdown does.  NULL with err on a bad
 * name, n == 0 or n > TLS_MAX_NAMES, or before tls_init.
 */
SSL_CTX *tls_server_ctx(const char *const *names, size_t n, struct emu_err *err);

/* A client context for the proxy's connections to local backend servers:
 * TLS 1.2+, no certificate verification.  Created on first use, freed by
 * tls_shutdown; NULL only on allocation failure. */
SSL_CTX *tls_client_ctx(void);

/*
 * An SSL on a connected socket fd, in server or client state.  The fd is
 * not owned (tls_free leaves it open) and should be non-blocking.  Nothing
 * is read from the fd here, and OpenSSL reads only whole TLS records after
 * it, so bytes exchanged in clear before (PostgreSQL's 8-byte SSLRequest
 * and the 'S' answer) are never consumed or replayed.  NULL on failure.
 */
SSL *tls_new_server(SSL_CTX *ctx, int fd);
SSL *tls_new_client(SSL_CTX *ctx, int fd);

enum tls_io {
	TLS_IO_OK,
	TLS_IO_WANT_READ,  /* wait for EPOLLIN, then call the same function again */
	TLS_IO_WANT_WRITE, /* wait for EPOLLOUT, then call the same function again */
	TLS_IO_EOF,        /* the peer closed (close_notify, or TCP FIN) */
	TLS_IO_ERROR       /* fatal: tls_error() says why; only tls_free is left */
};

/* Drives the handshake: OK once complete. */
enum tls_io tls_handshake(SSL *s);

/* Reads up to cap bytes: OK with *got > 0 (cap == 0: OK with nothing
 * read), else *got = 0.  Decrypted bytes may wait inside OpenSSL where
 * epoll cannot see them: after OK, read again until WANT_READ (or check
 * tls_pending). */
enum tls_io tls_read(SSL *s, void *buf, size_t cap, size_t *got);

/* Writes up to n bytes: OK with 0 < *put <= n (partial writes happen; n
 * == 0 is OK with *put = 0).  After WANT_*, retry with the same bytes, at
 * least as many as before (the buffer may move: OpenSSL keeps the pending
 * record itself).  Writing after the peer closed gives ERROR (or EOF). */
enum tls_io tls_write(SSL *s, const void *buf, size_t n, size_t *put);

/* True when OpenSSL holds bytes that tls_read would return at once. */
bool tls_pending(const SSL *s);

/* Why the last TLS_IO_ERROR (or NULL-returning call) failed, e.g.
 * "handshake: tlsv1 alert unknown ca"; "" when none.  Static storage,
 * overwritten by the next failure. */
const char *tls_error(void);

/* Frees s after a quiet shutdown: one non-blocking attempt to send
 * close_notify when the handshake completed and no error happened, never a
 * wait for the peer's.  NULL is a no-op.  The fd stays open. */
void tls_free(SSL *s);

/* Frees the CA, every cached context and the client context.  SSLs still
 * alive keep their own context reference. */
void tls_shutdown(void);

#endif
