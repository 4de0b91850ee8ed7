/*
 * Unit tests for wire/tls.c: the local CA on disk and in memory, the
 * certificates it issues, handshakes over non-blocking socketpairs driven
 * by hand (an OpenSSL client that trusts only tls_ca_pem() and checks the
 * host name or IP), data both ways, partial writes, EOF, and, when
 * /usr/bin/psql exists, a real libpq client with sslmode=verify-full over
 * the PostgreSQL SSLRequest flow against a one-shot server in this process.
 */
#include "wire/tls.h"
#include "tests/unit/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/rdsemu-tls-XXXXXX";

static void path_in(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", tmpdir, name);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *b = calloc(1, 65537);
	size_t n = b ? fread(b, 1, 65536, f) : 0;
	(void)n;
	fclose(f);
	return b;
}

static int spit(const char *path, const char *s)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t n = strlen(s);
	int rc = fwrite(s, 1, n, f) == n ? 0 : -1;
	return fclose(f) == 0 ? rc : -1;
}

static X509 *pem_x509(const char *pem)
{
	BIO *b = pem ? BIO_new_mem_buf(pem, -1) : NULL;
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	return x;
}

/* A client context trusting only the CA in pem, verifying the peer. */
static SSL_CTX *trusting_ctx(const char *pem)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());
	X509 *ca = pem_x509(pem);
	if (c && ca)
		X509_STORE_add_cert(SSL_CTX_get_cert_store(c), ca);
	X509_free(ca);
	if (c)
		SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	return c;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* tls_error() for a check's message, only when the check failed. */
#define WHY(cond) ((cond) ? "" : tls_error())

static bool waiting(enum tls_io r)
{
	return r == TLS_IO_WANT_READ || r == TLS_IO_WANT_WRITE;
}

/* ---- CA ------------------------------------------------------------------------------------- */

static void test_ca_files(void)
{
	struct emu_err err;
	emu_err_clear(&err);
	const char *names[] = {"localhost"};
	ok(tls_server_ctx(names, 1, &err) == NULL && strstr(err.msg, "tls_init"), "no server ctx before tls_init: %s",
	   err.msg);
	ok(tls_ca_pem() == NULL, "no CA PEM before tls_init");

	char kpath[256], cpath[256];
	path_in(kpath, sizeof kpath, "ca.key");
	path_in(cpath, sizeof cpath, "ca.pem");
	ok(tls_init(tmpdir, &err) == 0, "tls_init creates a CA in %s %s", tmpdir, err.msg);
	struct stat sk, sc;
	ok(stat(kpath, &sk) == 0 && S_ISREG(sk.st_mode) && (sk.st_mode & 0777) == 0600, "ca.key is mode 0600 (%03o)",
	   (unsigned)(sk.st_mode & 0777));
	ok(stat(cpath, &sc) == 0 && S_ISREG(sc.st_mode) && !(sc.st_mode & 022), "ca.pem exists, not writable by others");
	char *pem1 = tls_ca_pem() ? strdup(tls_ca_pem()) : NULL;
	ok(pem1 && strncmp(pem1, "-----BEGIN CERTIFICATE-----\n", 28) == 0, "tls_ca_pem is a PEM certificate");
	char *file = slurp(cpath);
	is_str(file, pem1, "ca.pem holds the same certificate");
	free(file);
	char *key1 = slurp(kpath);
	ok(key1 && strstr(key1, "-----BEGIN PRIVATE KEY-----"), "ca.key is an unencrypted PKCS#8 PEM key");

	ok(tls_init(tmpdir, &err) == 0, "second tls_init loads the CA %s", err.msg);
	is_str(tls_ca_pem(), pem1, "same CA after reload");
	file = slurp(kpath);
	is_str(file, key1, "ca.key untouched by the reload");
	free(file);

	ok(chmod(kpath, 0644) == 0 && tls_init(tmpdir, &err) == 0, "a ca.key readable by others loads (warned)");
	is_str(tls_ca_pem(), pem1, "same CA with loose permissions");
	chmod(kpath, 0600);

	/* ca.key without ca.pem: a new certificate for the same key. */
	ok(unlink(cpath) == 0 && tls_init(tmpdir, &err) == 0, "missing ca.pem is re-issued %s", err.msg);
	ok(tls_ca_pem() && strcmp(tls_ca_pem(), pem1) != 0, "re-issued certificate differs");
	X509 *re = pem_x509(tls_ca_pem());
	BIO *kb = key1 ? BIO_new_mem_buf(key1, -1) : NULL;
	EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	ok(re && k && X509_check_private_key(re, k) == 1, "re-issued certificate is for the same key");
	X509_free(re);
	EVP_PKEY_free(k);
	BIO_free(kb);
	char *pem2 = tls_ca_pem() ? strdup(tls_ca_pem()) : NULL;
	file = slurp(cpath);
	is_str(file, pem2, "re-issued ca.pem written");
	free(file);

	/* A certificate that does not match the key. */
	ok(spit(cpath, pem1) == 0 && tls_init(tmpdir, &err) == 0, "old ca.pem with the same key still matches");
	ok(tls_init(NULL, &err) == 0, "in-memory CA");
	char *other = tls_ca_pem() ? strdup(tls_ca_pem()) : NULL;
	ok(other && spit(cpath, other) == 0, "ca.pem replaced by another CA's certificate");
	ok(tls_init(tmpdir, &err) < 0 && strstr(err.msg, "does not match"), "mismatched pair refused: %s", err.msg);
	ok(tls_ca_pem() == NULL, "no CA after a failed tls_init");

	ok(spit(cpath, "not a certificate\n") == 0 && tls_init(tmpdir, &err) < 0 &&
	       strstr(err.msg, "not a PEM certificate"),
	   "garbage ca.pem refused: %s", err.msg);
	ok(spit(cpath, pem1) == 0 && spit(kpath, "garbage\n") == 0 && tls_init(tmpdir, &err) < 0 &&
	       strstr(err.msg, "ca.key"),
	   "garbage ca.key refused: %s", err.msg);
	ok(unlink(kpath) == 0 && tls_init(tmpdir, &err) < 0 && strstr(err.msg, "ca.key"),
	   "ca.pem without ca.key refused: %s", err.msg);
	ok(unlink(cpath) == 0 && tls_init(tmpdir, &err) == 0, "a fresh CA after removing both");
	ok(tls_ca_pem() && strcmp(tls_ca_pem(), pem1) != 0, "the fresh CA is a new one");
	unlink(kpath);
	unlink(cpath);

	ok(tls_init(NULL, &err) == 0 && tls_ca_pem() && strcmp(tls_ca_pem(), other) != 0,
	   "each in-memory CA is new");
	ok(access(kpath, F_OK) != 0 && access(cpath, F_OK) != 0, "in-memory mode writes no files");
	free(pem1);
	free(pem2);
	free(other);
	OPENSSL_clear_free(key1, key1 ? strlen(key1) : 0);
}

static long long span_s(const ASN1_TIME *a, const ASN1_TIME *b)
{
	int d = 0, s = 0;
	if (!ASN1_TIME_diff(&d, &s, a, b))
		return -1;
	return (long long)d * 86400 + s;
}

static void test_ca_cert(void)
{
	X509 *ca = pem_x509(tls_ca_pem());
	ok(ca != NULL, "CA PEM parses");
	if (!ca)
		return;
	char cn[128] = "";
	X509_NAME_get_text_by_NID(X509_get_subject_name(ca), NID_commonName, cn, sizeof cn);
	ok(strncmp(cn, "rdsemu local CA ", 16) == 0 && strlen(cn) == 24, "CA subject CN '%s'", cn);
	ok(X509_NAME_entry_count(X509_get_subject_name(ca)) == 1, "subject is the CN alone");
	ok(X509_check_ca(ca) == 1 && X509_self_signed(ca, 1) == 1, "self-signed CA:TRUE");
	ok((X509_get_key_usage(ca) & KU_KEY_CERT_SIGN) != 0, "keyCertSign");
	ok(EVP_PKEY_get_base_id(X509_get0_pubkey(ca)) == EVP_PKEY_EC, "EC key");
	long long life = span_s(X509_get0_notBefore(ca), X509_get0_notAfter(ca));
	ok(life == 3650LL * 86400 + 3600, "valid 10 years from now - 1 h (%lld s)", life);
	X509_free(ca);
}

/* ---- server contexts ------------------------------------------------------------------------ */

static void test_server_ctx(void)
{
	struct emu_err err;
	emu_err_clear(&err);
	const char *n1[] = {"127.0.0.4", "db.example.test"};
	const char *n2[] = {"DB.Example.Test", "127.0.0.4", "127.0.0.4"};
	const char *n3[] = {"127.0.0.4"};
	SSL_CTX *a = tls_server_ctx(n1, 2, &err);
	ok(a != NULL, "server ctx for 127.0.0.4 + db.example.test %s", err.msg);
	ok(tls_server_ctx(n2, 3, &err) == a, "same name set in another order, case, with a duplicate: same ctx");
	SSL_CTX *b = tls_server_ctx(n3, 1, &err);
	ok(b && b != a, "another name set: another ctx");

	const char *bad[] = {"", "bad name", "a..b", ".a", "a.", "*bad", "a.*.b", "[not-ip]", "[127.0.0.1]", "x\n"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		emu_err_clear(&err);
		ok(tls_server_ctx(&bad[i], 1, &err) == NULL && err.code == ERR_VALIDATION && !strchr(err.msg, '\n'),
		   "name '%s' refused: %s", bad[i][0] == 'x' ? "x\\n" : bad[i], err.msg);
	}
	ok(tls_server_ctx(n1, 0, &err) == NULL, "no names refused");
	char longname[300];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	const char *ln[] = {longname};
	ok(tls_server_ctx(ln, 1, &err) == NULL, "a 299-byte name refused");

	X509 *leaf = a ? SSL_CTX_get0_certificate(a) : NULL;
	ok(leaf != NULL, "ctx has a certificate");
	if (!leaf)
		return;
	X509 *ca = pem_x509(tls_ca_pem());
	ok(ca && X509_verify(leaf, X509_get0_pubkey(ca)) == 1, "leaf signed by the CA");
	ok(X509_check_issued(ca, leaf) == X509_V_OK, "leaf issued by the CA (names and key ids)");
	ok(X509_check_ca(leaf) == 0, "leaf is not a CA");
	ok((X509_get_extended_key_usage(leaf) & XKU_SSL_SERVER) != 0, "serverAuth EKU");
	ok(X509_check_host(leaf, "db.example.test", 0, 0, NULL) == 1, "DNS SAN db.example.test");
	ok(X509_check_ip_asc(leaf, "127.0.0.4", 0) == 1, "IP SAN 127.0.0.4");
	ok(X509_check_host(leaf, "127.0.0.4", 0, 0, NULL) != 1, "the IP is not a DNS SAN");
	ok(X509_check_host(leaf, "other.example", 0, 0, NULL) != 1, "no other names");
	long long life = span_s(X509_get0_notBefore(leaf), X509_get0_notAfter(leaf));
	ok(life == 365LL * 86400 + 3600, "valid 1 year from now - 1 h (%lld s)", life);
	time_t t = time(NULL) - 3500;
	ok(X509_cmp_time(X509_get0_notBefore(leaf), &t) < 0, "not before is about an hour ago");
	ok(EVP_PKEY_get_base_id(X509_get0_pubkey(leaf)) == EVP_PKEY_EC, "EC leaf key");
	X509_free(ca);

	emu_err_clear(&err);
	const char *v6[] = {"::1", "[fe80::2]", "*.proxy-abc.us-east-1.rds.amazonaws.com", "my_host.local"};
	SSL_CTX *c6 = tls_server_ctx(v6, 4, &err);
	X509 *l6 = c6 ? SSL_CTX_get0_certificate(c6) : NULL;
	ok(l6 && X509_check_ip_asc(l6, "::1", 0) == 1 && X509_check_ip_asc(l6, "fe80::2", 0) == 1,
	   "IPv6 SANs, bracketed or not %s", err.msg);
	ok(l6 && X509_check_host(l6, "x.proxy-abc.us-east-1.rds.amazonaws.com", 0, 0, NULL) == 1,
	   "wildcard DNS SAN matches one label");
	ok(l6 && X509_check_host(l6, "my_host.local", 0, 0, NULL) == 1, "underscore names kept");
}

/* ---- handshakes ----------------------------------------------------------------------------- */

struct conn {
	int sfd, cfd;
	SSL *s, *c;
	enum tls_io sr, cr;
};

/* Client first (it speaks first), then server, until neither waits. */
static void drive(struct conn *k)
{
	k->sr = k->cr = TLS_IO_WANT_READ;
	for (int i = 0; i < 100 && (waiting(k->sr) || waiting(k->cr)); i++) {
		if (waiting(k->cr))
			k->cr = tls_handshake(k->c);
		if (waiting(k->sr))
			k->sr = tls_handshake(k->s);
	}
}

/* A non-blocking socketpair with a server SSL on one end and a client SSL
 * (client_ctx, verifying host or ip when given) on the other. */
static bool open_conn(struct conn *k, SSL_CTX *sctx, SSL_CTX *cctx, const char *host, const char *ip)
{
	int fds[2];
	memset(k, 0, sizeof *k);
	k->sfd = k->cfd = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0)
		return false;
	k->sfd = fds[0];
	k->cfd = fds[1];
	k->s = tls_new_server(sctx, k->sfd);
	k->c = tls_new_client(cctx, k->cfd);
	if (!k->s || !k->c)
		return false;
	if (host && (SSL_set1_host(k->c, host) != 1 || SSL_set_tlsext_host_name(k->c, host) != 1))
		return false;
	if (ip && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(k->c), ip) != 1)
		return false;
	return true;
}

static void close_conn(struct conn *k)
{
	tls_free(k->s);
	tls_free(k->c);
	if (k->sfd >= 0)
		close(k->sfd);
	if (k->cfd >= 0)
		close(k->cfd);
	k->s = k->c = NULL;
	k->sfd = k->cfd = -1;
}

static void handshake_case(SSL_CTX *sctx, SSL_CTX *cctx, const char *host, const char *ip, bool want_ok,
                           long want_verify, const char *label)
{
	struct conn k;
	ok(open_conn(&k, sctx, cctx, host, ip), "%s: connection set up", label);
	drive(&k);
	if (want_ok) {
		ok(k.sr == TLS_IO_OK && k.cr == TLS_IO_OK, "%s: handshake ok (server %d, client %d) %s", label, k.sr,
		   k.cr, WHY(k.sr == TLS_IO_OK && k.cr == TLS_IO_OK));
		is_int(SSL_get_verify_result(k.c), X509_V_OK, "%s: verified", label);
		ok(SSL_version(k.s) == TLS1_3_VERSION, "%s: TLS 1.3 by default", label);
	} else {
		ok(k.cr == TLS_IO_ERROR && (k.sr == TLS_IO_ERROR || k.sr == TLS_IO_EOF),
		   "%s: handshake fails (server %d, client %d): %s", label, k.sr, k.cr, tls_error());
		is_int(SSL_get_verify_result(k.c), want_verify, "%s: verify result", label);
	}
	close_conn(&k);
}

static void test_handshakes(void)
{
	struct emu_err err;
	const char *names[] = {"127.0.0.4", "db.example.test"};
	SSL_CTX *sctx = tls_server_ctx(names, 2, &err);
	SSL_CTX *cctx = trusting_ctx(tls_ca_pem());
	if (!sctx || !cctx) {
		ok(0, "contexts");
		SSL_CTX_free(cctx);
		return;
	}
	handshake_case(sctx, cctx, "db.example.test", NULL, true, 0, "host db.example.test");
	handshake_case(sctx, cctx, "DB.EXAMPLE.TEST", NULL, true, 0, "host in upper case");
	handshake_case(sctx, cctx, NULL, "127.0.0.4", true, 0, "ip 127.0.0.4");
	handshake_case(sctx, cctx, "other.example", NULL, false, X509_V_ERR_HOSTNAME_MISMATCH, "host other.example");
	handshake_case(sctx, cctx, NULL, "127.0.0.5", false, X509_V_ERR_IP_ADDRESS_MISMATCH, "ip 127.0.0.5");

	/* TLS 1.2 forced by the client; TLS 1.1 refused by the server. */
	struct conn k;
	ok(open_conn(&k, sctx, cctx, "db.example.test", NULL) && SSL_set_max_proto_version(k.c, TLS1_2_VERSION) == 1,
	   "TLS 1.2 client");
	drive(&k);
	ok(k.sr == TLS_IO_OK && k.cr == TLS_IO_OK && SSL_version(k.s) == TLS1_2_VERSION, "TLS 1.2 handshake ok %s",
	   WHY(k.sr == TLS_IO_OK && k.cr == TLS_IO_OK));
	is_int(SSL_get_verify_result(k.c), X509_V_OK, "TLS 1.2 verified");
	close_conn(&k);
	ok(open_conn(&k, sctx, cctx, "db.example.test", NULL), "TLS 1.1 client");
	SSL_set_security_level(k.c, 0);
	SSL_set_min_proto_version(k.c, TLS1_VERSION);
	SSL_set_max_proto_version(k.c, TLS1_1_VERSION);
	drive(&k);
	ok(k.sr == TLS_IO_ERROR && k.cr == TLS_IO_ERROR, "TLS 1.1 refused by the server (server %d): %s", k.sr,
	   tls_error());
	close_conn(&k);

	/* ALPN: PostgreSQL 17 offers "postgresql". */
	static const unsigned char pg[] = "\x0apostgresql";
	ok(open_conn(&k, sctx, cctx, "db.example.test", NULL) && SSL_set_alpn_protos(k.c, pg, sizeof pg - 1) == 0,
	   "ALPN client");
	drive(&k);
	const unsigned char *sel = NULL;
	unsigned int sl = 0;
	SSL_get0_alpn_selected(k.c, &sel, &sl);
	ok(k.cr == TLS_IO_OK && sl == 10 && memcmp(sel, "postgresql", 10) == 0, "ALPN postgresql selected");
	close_conn(&k);
	static const unsigned char h2[] = "\x02h2";
	ok(open_conn(&k, sctx, cctx, "db.example.test", NULL) && SSL_set_alpn_protos(k.c, h2, sizeof h2 - 1) == 0,
	   "ALPN h2 client");
	drive(&k);
	sl = 0;
	SSL_get0_alpn_selected(k.c, &sel, &sl);
	ok(k.cr == TLS_IO_OK && sl == 0, "unknown ALPN ignored");
	close_conn(&k);

	/* The backend client context: no verification at all. */
	SSL_CTX *bctx = tls_client_ctx();
	ok(bctx && tls_client_ctx() == bctx, "client ctx cached");
	ok(open_conn(&k, sctx, bctx, NULL, NULL), "backend client");
	drive(&k);
	ok(k.sr == TLS_IO_OK && k.cr == TLS_IO_OK, "backend client handshake ok %s",
	   WHY(k.sr == TLS_IO_OK && k.cr == TLS_IO_OK));
	close_conn(&k);
	SSL_CTX_free(cctx);
}

/* ---- data and EOF --------------------------------------------------------------------------- */

static void test_data(void)
{
	struct emu_err err;
	const char *names[] = {"127.0.0.4", "db.example.test"};
	SSL_CTX *sctx = tls_server_ctx(names, 2, &err);
	SSL_CTX *cctx = trusting_ctx(tls_ca_pem());
	struct conn k;
	ok(sctx && cctx && open_conn(&k, sctx, cctx, "db.example.test", NULL), "data connection");
	drive(&k);
	ok(k.sr == TLS_IO_OK && k.cr == TLS_IO_OK, "handshake");

	char buf[256];
	size_t got = 99, put = 0;
	is_int(tls_read(k.s, buf, sizeof buf, &got), TLS_IO_WANT_READ, "nothing to read: WANT_READ");
	is_int(got, 0, "got 0");
	ok(tls_write(k.c, "hello server", 12, &put) == TLS_IO_OK && put == 12, "client writes");
	ok(tls_read(k.s, buf, 5, &got) == TLS_IO_OK && got == 5 && memcmp(buf, "hello", 5) == 0, "server reads 5");
	ok(tls_pending(k.s), "rest pending inside OpenSSL");
	ok(tls_read(k.s, buf, sizeof buf, &got) == TLS_IO_OK && got == 7 && memcmp(buf, " server", 7) == 0,
	   "server reads the rest");
	ok(!tls_pending(k.s), "nothing pending");
	ok(tls_write(k.s, "hello client", 12, &put) == TLS_IO_OK && put == 12, "server writes");
	ok(tls_read(k.c, buf, sizeof buf, &got) == TLS_IO_OK && got == 12 && memcmp(buf, "hello client", 12) == 0,
	   "client reads");
	ok(tls_write(k.s, "", 0, &put) == TLS_IO_OK && put == 0, "empty write");
	ok(tls_read(k.s, buf, 0, &got) == TLS_IO_OK && got == 0, "zero-cap read");

	/* 1 MiB server -> client through a small socket buffer: partial writes and WANT_WRITE. */
	size_t total = 1u << 20;
	unsigned char *out = malloc(total), *in = malloc(total);
	for (size_t i = 0; out && i < total; i++)
		out[i] = (unsigned char)(i * 131 + (i >> 9));
	size_t sent = 0, rcvd = 0;
	int want_write = 0, rounds = 0;
	bool failed = !out || !in;
	while (!failed && rcvd < total && rounds++ < 100000) {
		/* Write until the socket is full, then drain it. */
		while (sent < total) {
			size_t chunk = total - sent < 70000 ? total - sent : 70000;
			enum tls_io r = tls_write(k.s, out + sent, chunk, &put);
			if (r == TLS_IO_OK) {
				sent += put;
				continue;
			}
			if (r == TLS_IO_WANT_WRITE)
				want_write++;
			else
				failed = true;
			break;
		}
		enum tls_io r = TLS_IO_OK;
		while (rcvd < total && (r = tls_read(k.c, in + rcvd, total - rcvd, &got)) == TLS_IO_OK)
			rcvd += got;
		if (r != TLS_IO_OK && r != TLS_IO_WANT_READ)
			failed = true;
	}
	ok(!failed && rcvd == total && memcmp(in, out, total) == 0, "1 MiB intact (%zu bytes, %d rounds)", rcvd, rounds);
	ok(want_write > 0, "WANT_WRITE seen %d times", want_write);
	free(out);
	free(in);

	/* close_notify: the client's tls_free sends it, the server reads EOF. */
	tls_free(k.c);
	k.c = NULL;
	is_int(tls_read(k.s, buf, sizeof buf, &got), TLS_IO_EOF, "close_notify reads as EOF");
	close_conn(&k);

	/* TCP FIN without close_notify is EOF too. */
	ok(open_conn(&k, sctx, cctx, "db.example.test", NULL), "second connection");
	drive(&k);
	ok(k.sr == TLS_IO_OK && k.cr == TLS_IO_OK && shutdown(k.cfd, SHUT_WR) == 0, "client half-closes");
	is_int(tls_read(k.s, buf, sizeof buf, &got), TLS_IO_EOF, "FIN without close_notify reads as EOF");
	close_conn(&k);

	/* Writing to a peer that is gone fails. */
	ok(open_conn(&k, sctx, cctx, "db.example.test", NULL), "third connection");
	drive(&k);
	tls_free(k.c);
	k.c = NULL;
	close(k.cfd);
	k.cfd = -1;
	enum tls_io w = tls_write(k.s, "late", 4, &put);
	ok(w == TLS_IO_ERROR || w == TLS_IO_EOF, "write to a closed peer fails (%d): %s", w, tls_error());
	close_conn(&k);

	/* The peer leaves during the handshake. */
	ok(open_conn(&k, sctx, cctx, "db.example.test", NULL), "fourth connection");
	close(k.cfd);
	k.cfd = -1;
	enum tls_io h = tls_handshake(k.s);
	is_int(h, TLS_IO_EOF, "handshake with a vanished client: EOF");
	close_conn(&k);
	SSL_CTX_free(cctx);
}

/* The PostgreSQL flow on a socketpair: 8 bytes of SSLRequest and 'S' in
 * clear, then TLS on the same fd, with the client's first TLS bytes already
 * queued behind the SSLRequest when the server reads it. */
static void test_sslrequest_prefix(void)
{
	struct emu_err err;
	const char *names[] = {"127.0.0.4"};
	SSL_CTX *sctx = tls_server_ctx(names, 1, &err);
	SSL_CTX *cctx = trusting_ctx(tls_ca_pem());
	int fds[2];
	ok(sctx && cctx && socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0, "pair");
	static const unsigned char sslreq[8] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
	ok(write(fds[1], sslreq, 8) == 8, "client sends SSLRequest");
	SSL *c = tls_new_client(cctx, fds[1]);
	X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c), "127.0.0.4");
	is_int(tls_handshake(c), TLS_IO_WANT_READ, "client hello queued behind the SSLRequest");
	unsigned char got8[8];
	ok(read(fds[0], got8, 8) == 8 && memcmp(got8, sslreq, 8) == 0, "server reads exactly the SSLRequest");
	ok(write(fds[0], "S", 1) == 1, "server answers 'S'");
	char s1;
	ok(read(fds[1], &s1, 1) == 1 && s1 == 'S', "client reads 'S'");
	SSL *s = tls_new_server(sctx, fds[0]);
	struct conn k = {.sfd = fds[0], .cfd = fds[1], .s = s, .c = c};
	drive(&k);
	ok(k.sr == TLS_IO_OK && k.cr == TLS_IO_OK && SSL_get_verify_result(c) == X509_V_OK,
	   "TLS after the cleartext prefix %s", WHY(k.sr == TLS_IO_OK && k.cr == TLS_IO_OK));
	size_t put = 0, got = 0;
	char buf[16];
	ok(tls_write(c, "startup", 7, &put) == TLS_IO_OK && tls_read(s, buf, sizeof buf, &got) == TLS_IO_OK && got == 7 &&
	       memcmp(buf, "startup", 7) == 0,
	   "first bytes in TLS arrive intact");
	close_conn(&k);
	SSL_CTX_free(cctx);
}

/* A CA the client does not trust: the server logs the client's alert. */
static void test_unknown_ca(void)
{
	struct emu_err err;
	SSL_CTX *cctx = trusting_ctx(tls_ca_pem());
	ok(tls_init(NULL, &err) == 0, "a second in-memory CA");
	const char *names[] = {"db.example.test"};
	SSL_CTX *sctx = tls_server_ctx(names, 1, &err);
	struct conn k;
	ok(sctx && cctx && open_conn(&k, sctx, cctx, "db.example.test", NULL), "connection");
	drive(&k);
	ok(k.cr == TLS_IO_ERROR && k.sr == TLS_IO_ERROR, "handshake fails on both sides");
	is_int(SSL_get_verify_result(k.c), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, "client: unknown issuer");
	ok(strstr(tls_error(), "unknown ca") != NULL, "server: %s", tls_error());
	close_conn(&k);
	SSL_CTX_free(cctx);
}

/* ---- psql ----------------------------------------------------------------------------------- */

/* Waits for ev on fd until deadline (monotonic ms). */
static bool wait_fd(int fd, short ev, long long deadline)
{
	long long left = deadline - now_ms();
	if (left <= 0)
		return false;
	struct pollfd p = {.fd = fd, .events = ev};
	return poll(&p, 1, (int)left) == 1;
}

static bool io_wait(int fd, enum tls_io r, long long deadline)
{
	return waiting(r) && wait_fd(fd, r == TLS_IO_WANT_READ ? POLLIN : POLLOUT, deadline);
}

/* One connection: SSLRequest, 'S', handshake (want_version), StartupMessage,
 * ErrorResponse. */
static void serve_one(int lfd, SSL_CTX *ctx, int want_version, long long deadline)
{
	int fd = -1;
	SSL *s = NULL;
	if (wait_fd(lfd, POLLIN, deadline))
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	ok(fd >= 0, "psql connected");
	if (fd < 0)
		return;
	unsigned char req[8];
	size_t have = 0;
	while (have < 8 && wait_fd(fd, POLLIN, deadline)) {
		ssize_t r = read(fd, req + have, 8 - have);
		if (r <= 0)
			break;
		have += (size_t)r;
	}
	static const unsigned char sslreq[8] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
	ok(have == 8 && memcmp(req, sslreq, 8) == 0, "psql sent SSLRequest");
	ok(have == 8 && write(fd, "S", 1) == 1, "answered 'S'");
	s = tls_new_server(ctx, fd);
	enum tls_io r = s ? TLS_IO_WANT_READ : TLS_IO_ERROR;
	while (waiting(r = tls_handshake(s)) && io_wait(fd, r, deadline))
		;
	ok(r == TLS_IO_OK && SSL_version(s) == want_version, "handshake with psql (%s) %s",
	   s ? SSL_get_version(s) : "-", WHY(r == TLS_IO_OK));
	unsigned char msg[1024];
	size_t n = 0, got = 0;
	uint32_t len = 0;
	while (r == TLS_IO_OK && n < sizeof msg) {
		r = tls_read(s, msg + n, sizeof msg - n, &got);
		n += got;
		if (n >= 4)
			len = (uint32_t)msg[0] << 24 | (uint32_t)msg[1] << 16 | (uint32_t)msg[2] << 8 | msg[3];
		if (n >= 4 && n >= len)
			break;
		if (r == TLS_IO_OK || io_wait(fd, r, deadline))
			r = TLS_IO_OK;
	}
	bool startup = n >= 8 && len == n && msg[4] == 0 && msg[5] == 3 && msg[6] == 0 && msg[7] == 0;
	ok(startup, "StartupMessage 3.0 read in TLS (%zu bytes)", n);
	static const char user[] = "user\0x";
	ok(startup && memmem(msg, n, user, sizeof user) != NULL, "StartupMessage names user x");
	/* ErrorResponse: 'E', int32 length, fields S C M, terminator. */
	static const char fields[] = "SFATAL\0C28000\0Mtls ok\0";
	unsigned char er[64];
	size_t flen = sizeof fields; /* the final NUL is the terminator */
	uint32_t elen = (uint32_t)(4 + flen);
	er[0] = 'E';
	er[1] = (unsigned char)(elen >> 24);
	er[2] = (unsigned char)(elen >> 16);
	er[3] = (unsigned char)(elen >> 8);
	er[4] = (unsigned char)elen;
	memcpy(er + 5, fields, flen);
	size_t total = 1 + elen, sent = 0, put = 0;
	while (startup && sent < total) {
		r = tls_write(s, er + sent, total - sent, &put);
		sent += put;
		if (r != TLS_IO_OK && !io_wait(fd, r, deadline))
			break;
	}
	ok(sent == total, "ErrorResponse sent");
	tls_free(s);
	close(fd);
}

/* psql with sslmode=verify-full; extra: more conninfo. */
static void test_psql(const char *extra, int want_version)
{
	if (access("/usr/bin/psql", X_OK) != 0) {
		printf("# /usr/bin/psql not found: skipping the libpq test\n");
		return;
	}
	struct emu_err err;
	const char *names[] = {"127.0.0.1", "localhost"};
	SSL_CTX *ctx = tls_server_ctx(names, 2, &err);
	char root[256], errf[256];
	path_in(root, sizeof root, "root.crt");
	path_in(errf, sizeof errf, "psql.err");
	ok(ctx && spit(root, tls_ca_pem()) == 0, "server ctx and root.crt for psql");
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	bool listening = lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(lfd, 4) == 0 &&
	                 getsockname(lfd, (struct sockaddr *)&sa, &sl) == 0;
	ok(listening, "listening on 127.0.0.1:%d", ntohs(sa.sin_port));
	if (!listening || !ctx) {
		if (lfd >= 0)
			close(lfd);
		return;
	}
	char conninfo[600], home[300];
	snprintf(conninfo, sizeof conninfo,
	         "host=127.0.0.1 port=%d user=x dbname=y sslmode=verify-full sslrootcert=%s gssencmode=disable%s",
	         ntohs(sa.sin_port), root, extra);
	snprintf(home, sizeof home, "HOME=%s", tmpdir);
	char *argv[] = {"/usr/bin/psql", "-X", "-w", conninfo, "-c", "select 1", NULL};
	char *envp[] = {"PATH=/usr/bin:/bin", "PGCONNECT_TIMEOUT=5", "LC_ALL=C", home, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, errf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	pid_t pid = -1;
	int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	ok(rc == 0, "psql started");
	if (rc == 0) {
		long long deadline = now_ms() + 10000;
		serve_one(lfd, ctx, want_version, deadline);
		int status = 0;
		pid_t w = 0;
		while ((w = waitpid(pid, &status, WNOHANG)) == 0 && now_ms() < deadline)
			usleep(20000);
		if (w == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
		}
		ok(w == pid && WIFEXITED(status) && WEXITSTATUS(status) != 0, "psql exited by itself with an error");
		char *out = slurp(errf);
		for (size_t n = out ? strlen(out) : 0; n && (out[n - 1] == '\n' || out[n - 1] == '\r');)
			out[--n] = '\0';
		ok(out && strstr(out, "tls ok"), "psql shows the server's message: %s", out ? out : "(none)");
		free(out);
	}
	close(lfd);
	unlink(root);
	unlink(errf);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(tmpdir)) {
		ok(0, "mkdtemp");
		return done_testing();
	}
	test_ca_files();
	test_ca_cert();
	test_server_ctx();
	test_handshakes();
	test_data();
	test_sslrequest_prefix();
	test_psql("", TLS1_3_VERSION);
	test_psql(" ssl_max_protocol_version=TLSv1.2", TLS1_2_VERSION);
	test_unknown_ca();
	tls_shutdown();
	ok(tls_ca_pem() == NULL, "tls_shutdown forgets the CA");
	ok(rmdir(tmpdir) == 0, "temp dir left empty");
	return done_testing();
}
