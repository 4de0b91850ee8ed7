/*
 * tls.c owns TLS for the database front-ends: the local CA (its key and
 * certificate, on disk under the state dir or in memory), the server
 * contexts cached by name set, the backend client context, and the
 * non-blocking I/O wrappers the wire front-ends drive from the loop.
 *
 * May call: libc, OpenSSL (EVP_PKEY, X509, SSL_CTX / SSL, PEM, ERR),
 * emu/err, emu/log, emu/util (random bytes, hex).  No store, no loop: the
 * caller owns the fds and waits for readiness itself.
 *
 * Invariants:
 * - Module state (CA, contexts, last error) belongs to the loop thread.
 * - The OpenSSL error queue is cleared before every SSL call made here and
 *   emptied after every failure (into tls_error()), so one connection's
 *   error never leaks into another's SSL_get_error.
 * - An SSL that failed is marked shut down (SSL_set_shutdown) so tls_free
 *   never calls SSL_shutdown after a fatal error, which OpenSSL forbids.
 * - Bytes are read from the fd only by OpenSSL's socket BIO, one record at
 *   a time (read_ahead stays off): what the caller exchanged in clear
 *   before tls_new_server is never touched.
 * - Files: ca.key is written 0600 and ca.pem 0644, each through a
 *   temporary file linked into place (never overwriting an existing file);
 *   the key is read with O_NOFOLLOW and its buffer wiped after parsing.
 *
 * Choices where AWS does not say (AWS presents an ACM certificate chained
 * to Amazon Trust Services; a local emulator cannot, so users trust our CA):
 * - Keys are EC P-256 (fast to generate: one fresh leaf key per context);
 *   signatures ECDSA with SHA-256.  Serial numbers: 127 random bits.
 * - CA: CN "rdsemu local CA <8 hex>" (the suffix tells CAs of different
 *   state dirs apart in a trust store), CA:TRUE pathlen:0, keyCertSign and
 *   cRLSign, subjectKeyIdentifier, valid from now - 1 h for 3650 days.
 * - Leaf: CN = the first DNS name (sorted) if it fits in 64 bytes, else the
 *   first IP, else "rdsemu"; CA:FALSE, digitalSignature, serverAuth,
 *   subject and authority key identifiers, every name as a SAN; valid from
 *   now - 1 h (clock skew between client and emulator) for 365 days
 *   (within the 398 days Apple clients accept), capped at the CA's expiry.
 * - Loading: a ca.key readable by group or others is used with a warning
 *   (as kms.c does for master.key); ca.key without ca.pem gets a fresh CA
 *   certificate for the same key (warning: clients must re-fetch it);
 *   ca.pem without ca.key, a mismatched pair, a non-CA certificate or an
 *   encrypted key is an error; an expired CA is used with a warning.
 * - Contexts are never evicted: there is one per endpoint name set, a few
 *   dozen at most in practice, and TLS_MAX_NAMES bounds each.
 * - TLS 1.2 minimum (TLS 1.0 and 1.1 are refused though AWS documents
 *   them: OpenSSL 3's default security level refuses them anyway); no
 *   tickets, no session cache, no renegotiation; unexpected EOF (TCP FIN
 *   without close_notify) is a clean EOF, as libpq and the MySQL clients
 *   often close that way.  SSL_MODE_RELEASE_BUFFERS keeps idle pooled
 *   connections small.
 */
#include "wire/tls.h"

#include "emu/log.h"
#include "emu/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CA_DAYS 3650
#define LEAF_DAYS 365
#define BACKDATE_S 3600             /* not before = now - 1 h */
#define CN_MAX 64                   /* X.520 ub-common-name */
#define FILE_MAX 65536              /* bytes of ca.key / ca.pem we accept */
#define PATH_CAP 4200

struct ctx_entry {
	char *key;                  /* canonical names, sorted, '\n'-joined */
	SSL_CTX *ctx;
};

static struct {
	EVP_PKEY *ca_key;
	X509 *ca_cert;
	char *ca_pem;
	struct ctx_entry *ctxs;
	size_t nctx, capctx;
	SSL_CTX *client;
} T;

static char last_error[256];

/* ---- errors --------------------------------------------------------------------------------- */

/* Records why `what` failed into last_error and empties the error queue.
 * sys: errno after the failed call (used when OpenSSL queued nothing). */
static void note_error(const char *what, int sys)
{
	unsigned long e = ERR_peek_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;
	if (reason) {
		snprintf(last_error, sizeof last_error, "%s: %s", what, reason);
	} else if (e) {
		char tmp[200];
		ERR_error_string_n(e, tmp, sizeof tmp);
		snprintf(last_error, sizeof last_error, "%s: %s", what, tmp);
	} else if (sys) {
		snprintf(last_error, sizeof last_error, "%s: %s", what, strerror(sys));
	} else {
		snprintf(last_error, sizeof last_error, "%s: connection closed", what);
	}
	ERR_clear_error();
}

/* emu_err_set with OpenSSL's reason for the failure appended. */
static int ossl_fail(struct emu_err *err, const char *what)
{
	unsigned long e = ERR_peek_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;
	ERR_clear_error();
	return emu_err_set(err, ERR_INTERNAL, "TLS: %s%s%s", what, reason ? ": " : "", reason ? reason : "");
}

const char *tls_error(void)
{
	return last_error;
}

/* ---- names ---------------------------------------------------------------------------------- */

struct name {
	char text[TLS_MAX_NAME_LEN + 1]; /* canonical: lower-case DNS name or inet_ntop form */
	bool ip;
	unsigned char addr[16];
	size_t alen;                /* 4 or 16 when ip */
};

static bool dns_char(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '*';
}

/* Up to 64 bytes of in for a message, anything unprintable as '?'. */
static void echo(const char *in, char out[65])
{
	size_t i = 0;
	for (; in[i] && i < 64; i++)
		out[i] = in[i] >= 0x20 && in[i] < 0x7f ? in[i] : '?';
	out[i] = '\0';
}

/* Parses one name into its canonical form.  0, or -1 with err. */
static int parse_name(const char *in, struct name *out, struct emu_err *err)
{
	size_t len = in ? strlen(in) : 0;
	if (len == 0 || len > TLS_MAX_NAME_LEN)
		return emu_err_set(err, ERR_VALIDATION, "TLS: a certificate name must be 1-%d bytes", TLS_MAX_NAME_LEN);
	char lit[TLS_MAX_NAME_LEN + 1];
	bool bracketed = in[0] == '[' && in[len - 1] == ']' && len > 2;
	if (bracketed) {
		memcpy(lit, in + 1, len - 2);
		lit[len - 2] = '\0';
	} else {
		memcpy(lit, in, len + 1);
	}
	memset(out, 0, sizeof *out);
	if (!bracketed && inet_pton(AF_INET, lit, out->addr) == 1) {
		out->ip = true;
		out->alen = 4;
		inet_ntop(AF_INET, out->addr, out->text, sizeof out->text);
		return 0;
	}
	if (inet_pton(AF_INET6, lit, out->addr) == 1) {
		out->ip = true;
		out->alen = 16;
		inet_ntop(AF_INET6, out->addr, out->text, sizeof out->text);
		return 0;
	}
	char shown[65];
	echo(in, shown);
	if (bracketed)
		return emu_err_set(err, ERR_VALIDATION, "TLS: '%s' is not an IPv6 address", shown);
	/* A DNS name: labels of [A-Za-z0-9_-], a '*' only as the whole first label. */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		bool bad = !dns_char(c) || (c == '.' && (i == 0 || i + 1 == len || in[i + 1] == '.')) ||
		           (c == '*' && !(i == 0 && len > 2 && in[1] == '.'));
		if (bad)
			return emu_err_set(err, ERR_VALIDATION, "TLS: '%s' is neither an IP address nor a DNS name", shown);
		out->text[i] = (char)tolower(c);
	}
	out->text[len] = '\0';
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	const struct name *x = a, *y = b;
	return strcmp(x->text, y->text);
}

/* ---- keys and certificates ------------------------------------------------------------------ */

static EVP_PKEY *new_key(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static int set_serial(X509 *x)
{
	BIGNUM *bn = BN_new();
	ASN1_INTEGER *ai = NULL;
	int ok = bn && BN_rand(bn, 127, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) == 1 &&
	         (ai = BN_to_ASN1_INTEGER(bn, NULL)) != NULL && X509_set_serialNumber(x, ai) == 1;
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return ok ? 0 : -1;
}

/* Adds one extension from its openssl.cnf-style value; issuer gives
 * authorityKeyIdentifier its key id. */
static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ex)
		return -1;
	int rc = X509_add_ext(x, ex, -1);
	X509_EXTENSION_free(ex);
	return rc == 1 ? 0 : -1;
}

/* Version, serial, validity from now - 1 h for `days`, subject CN, public key. */
static int cert_base(X509 *x, EVP_PKEY *pub, const char *cn, long days)
{
	X509_NAME *subj = X509_get_subject_name(x);
	bool ok = X509_set_version(x, X509_VERSION_3) == 1 && set_serial(x) == 0 &&
	          X509_gmtime_adj(X509_getm_notBefore(x), -BACKDATE_S) != NULL &&
	          X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) != NULL &&
	          X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) == 1 &&
	          X509_set_pubkey(x, pub) == 1;
	return ok ? 0 : -1;
}

/* A new self-signed CA certificate for key. */
static X509 *make_ca_cert(EVP_PKEY *key, struct emu_err *err)
{
	unsigned char r[4];
	char hex[9], cn[CN_MAX];
	util_random(r, sizeof r);
	util_hex(r, sizeof r, hex);
	snprintf(cn, sizeof cn, "rdsemu local CA %s", hex);
	X509 *x = X509_new();
	if (!x || cert_base(x, key, cn, CA_DAYS) < 0 || X509_set_issuer_name(x, X509_get_subject_name(x)) != 1 ||
	    add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
	    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
	    add_ext(x, x, NID_subject_key_identifier, "hash") < 0 || X509_sign(x, key, EVP_sha256()) <= 0) {
		X509_free(x);
		ossl_fail(err, "cannot make the CA certificate");
		return NULL;
	}
	return x;
}

static int add_sans(X509 *x, const struct name *nm, size_t n)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	int ok = gens != NULL;
	for (size_t i = 0; ok && i < n; i++) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_STRING *v = nm[i].ip ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
		ok = g && v &&
		     (nm[i].ip ? ASN1_OCTET_STRING_set(v, nm[i].addr, (int)nm[i].alen) : ASN1_STRING_set(v, nm[i].text, -1)) == 1;
		if (ok) {
			GENERAL_NAME_set0_value(g, nm[i].ip ? GEN_IPADD : GEN_DNS, v);
			v = NULL;
			ok = sk_GENERAL_NAME_push(gens, g) > 0;
			if (ok)
				g = NULL;
		}
		ASN1_STRING_free(v);
		GENERAL_NAME_free(g);
	}
	ok = ok && X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1;
	GENERAL_NAMES_free(gens);
	return ok ? 0 : -1;
}

/* The leaf certificate for nm[0..n) (sorted) on key, signed by the CA. */
static X509 *make_leaf(EVP_PKEY *key, const struct name *nm, size_t n, struct emu_err *err)
{
	const char *cn = NULL;
	for (size_t i = 0; i < n && !cn; i++)
		if (!nm[i].ip && strlen(nm[i].text) < CN_MAX)
			cn = nm[i].text;
	for (size_t i = 0; i < n && !cn; i++)
		if (nm[i].ip)
			cn = nm[i].text;
	X509 *x = X509_new();
	bool ok = x && cert_base(x, key, cn ? cn : "rdsemu", LEAF_DAYS) == 0 &&
	          X509_set_issuer_name(x, X509_get_subject_name(T.ca_cert)) == 1;
	if (ok && ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(T.ca_cert)) > 0)
		ok = X509_set1_notAfter(x, X509_get0_notAfter(T.ca_cert)) == 1;
	ok = ok && add_ext(x, T.ca_cert, NID_basic_constraints, "critical,CA:FALSE") == 0 &&
	     add_ext(x, T.ca_cert, NID_key_usage, "critical,digitalSignature") == 0 &&
	     add_ext(x, T.ca_cert, NID_ext_key_usage, "serverAuth") == 0 &&
	     add_ext(x, T.ca_cert, NID_subject_key_identifier, "hash") == 0 &&
	     add_ext(x, T.ca_cert, NID_authority_key_identifier, "keyid:always") == 0 && add_sans(x, nm, n) == 0 &&
	     X509_sign(x, T.ca_key, EVP_sha256()) > 0;
	if (!ok) {
		X509_free(x);
		ossl_fail(err, "cannot make a server certificate");
		return NULL;
	}
	return x;
}

/* ---- CA files ------------------------------------------------------------------------------- */

/* Reads path whole (NUL-terminated, OPENSSL_malloc'd).  1 read, 0 absent,
 * -1 error. */
static int read_file(const char *path, char **out, size_t *len, mode_t *mode, struct emu_err *err)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return emu_err_set(err, ERR_INTERNAL, "cannot open %s: %s", path, strerror(errno));
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0 || sb.st_size > FILE_MAX) {
		close(fd);
		return emu_err_set(err, ERR_INTERNAL, "%s must be a regular file of 1-%d bytes", path, FILE_MAX);
	}
	size_t want = (size_t)sb.st_size, got = 0;
	char *b = OPENSSL_malloc(want + 1);
	while (b && got < want) {
		ssize_t r = read(fd, b + got, want - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (!b || got != want) {
		OPENSSL_clear_free(b, want + 1);
		return emu_err_set(err, ERR_INTERNAL, "cannot read %s", path);
	}
	b[want] = '\0';
	*out = b;
	*len = want;
	*mode = sb.st_mode;
	return 1;
}

/* Creates dir/name holding data with mode, through a temporary file linked
 * into place.  0 created, 1 it already existed (left alone), -1 error. */
static int write_new(const char *dir, const char *name, const void *data, size_t len, mode_t mode,
                     struct emu_err *err)
{
	char tmp[PATH_CAP], path[PATH_CAP];
	if (snprintf(tmp, sizeof tmp, "%s/.%s.%ld.tmp", dir, name, (long)getpid()) >= (int)sizeof tmp ||
	    snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
		return emu_err_set(err, ERR_INTERNAL, "state dir path too long");
	unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return emu_err_set(err, ERR_INTERNAL, "cannot create %s: %s", tmp, strerror(errno));
	const char *p = data;
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, p + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	int e = errno;
	bool ok = off == len && fsync(fd) == 0;
	if (!ok && off == len)
		e = errno;
	close(fd);
	if (!ok) {
		unlink(tmp);
		return emu_err_set(err, ERR_INTERNAL, "cannot write %s: %s", tmp, strerror(e));
	}
	int rc = 0;
	if (link(tmp, path) < 0) {
		e = errno;
		rc = e == EEXIST ? 1 : -1;
	}
	unlink(tmp);
	if (rc < 0)
		return emu_err_set(err, ERR_INTERNAL, "cannot create %s: %s", path, strerror(e));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return rc;
}

/* PEM of x, NUL-terminated, malloc'd; NULL on failure. */
static char *cert_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *out = NULL, *data;
	if (b && PEM_write_bio_X509(b, x) == 1) {
		long n = BIO_get_mem_data(b, &data);
		if (n > 0 && (out = malloc((size_t)n + 1)) != NULL) {
			memcpy(out, data, (size_t)n);
			out[n] = '\0';
		}
	}
	BIO_free(b);
	return out;
}

/* Writes the key as PKCS#8 PEM to dir/ca.key (0600); the encoding is wiped.
 * As write_new. */
static int write_key(const char *dir, EVP_PKEY *key, struct emu_err *err)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	if (!b || PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) != 1) {
		BIO_free(b);
		return ossl_fail(err, "cannot encode the CA key");
	}
	long n = BIO_get_mem_data(b, &data);
	int rc = write_new(dir, "ca.key", data, (size_t)n, 0600, err);
	OPENSSL_cleanse(data, (size_t)n);
	BIO_free(b);
	return rc;
}

/* Never prompts for a pass phrase: an encrypted ca.key fails to load. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

static int write_cert(const char *dir, X509 *x, struct emu_err *err)
{
	char *pem = cert_pem(x);
	if (!pem)
		return ossl_fail(err, "cannot encode the CA certificate");
	int rc = write_new(dir, "ca.pem", pem, strlen(pem), 0644, err);
	free(pem);
	return rc;
}

/* Loads dir's CA or creates it.  0 with *key, *cert set, or -1. */
static int ca_load(const char *dir, EVP_PKEY **key, X509 **cert, struct emu_err *err)
{
	char kpath[PATH_CAP], cpath[PATH_CAP];
	if (snprintf(kpath, sizeof kpath, "%s/ca.key", dir) >= (int)sizeof kpath ||
	    snprintf(cpath, sizeof cpath, "%s/ca.pem", dir) >= (int)sizeof cpath)
		return emu_err_set(err, ERR_INTERNAL, "state dir path too long");
	for (int attempt = 0; attempt < 2; attempt++) {
		char *kb = NULL, *cb = NULL;
		size_t kl = 0, cl = 0;
		mode_t kmode = 0, cmode = 0;
		int kr = read_file(kpath, &kb, &kl, &kmode, err);
		int cr = kr < 0 ? -1 : read_file(cpath, &cb, &cl, &cmode, err);
		if (kr < 0 || cr < 0) {
			OPENSSL_clear_free(kb, kl + 1);
			return -1;
		}
		if (kr == 0 && cr == 1) {
			OPENSSL_free(cb);
			return emu_err_set(err, ERR_INTERNAL,
			                   "%s exists but %s does not: restore the key, or remove %s to create a new CA "
			                   "(clients must then trust the new one)",
			                   cpath, kpath, cpath);
		}
		if (kr == 0) { /* a new CA */
			*key = new_key();
			if (!*key)
				return ossl_fail(err, "cannot generate the CA key");
			*cert = make_ca_cert(*key, err);
			int rc = *cert ? write_key(dir, *key, err) : -1;
			if (rc == 0 && (rc = write_cert(dir, *cert, err)) == 1)
				rc = emu_err_set(err, ERR_INTERNAL, "%s appeared while creating the CA", cpath);
			if (rc != 0) {
				EVP_PKEY_free(*key);
				X509_free(*cert);
				*key = NULL;
				*cert = NULL;
			}
			if (rc == 1) /* another process made ca.key meanwhile: load theirs */
				continue;
			if (rc == 0)
				log_info("tls", "created the local CA %s and %s", kpath, cpath);
			return rc;
		}
		BIO *b = BIO_new_mem_buf(kb, (int)kl);
		*key = b ? PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL) : NULL;
		BIO_free(b);
		OPENSSL_clear_free(kb, kl + 1);
		if (!*key) {
			OPENSSL_free(cb);
			ERR_clear_error();
			return emu_err_set(err, ERR_INTERNAL, "%s is not an unencrypted PEM private key", kpath);
		}
		if (kmode & 077)
			log_warn("tls", "%s is readable by other users (mode %03o); it should be 0600", kpath,
			         (unsigned)(kmode & 0777));
		if (cr == 0) {
			*cert = make_ca_cert(*key, err);
			int rc = *cert ? write_cert(dir, *cert, err) : -1;
			if (rc == 0)
				log_warn("tls", "%s was missing: issued a new CA certificate for %s; clients must trust the new "
				         "one", cpath, kpath);
			if (rc == 1)
				rc = emu_err_set(err, ERR_INTERNAL, "%s appeared while re-issuing it", cpath);
			if (rc != 0) {
				EVP_PKEY_free(*key);
				X509_free(*cert);
				*key = NULL;
				*cert = NULL;
			}
			return rc;
		}
		b = BIO_new_mem_buf(cb, (int)cl);
		*cert = b ? PEM_read_bio_X509(b, NULL, no_passphrase, NULL) : NULL;
		BIO_free(b);
		OPENSSL_free(cb);
		const char *bad = !*cert ? "is not a PEM certificate"
		                  : X509_check_ca(*cert) < 1 ? "is not a CA certificate"
		                  : X509_check_private_key(*cert, *key) != 1 ? "does not match ca.key"
		                                                               : NULL;
		if (bad) {
			ERR_clear_error();
			EVP_PKEY_free(*key);
			X509_free(*cert);
			*key = NULL;
			*cert = NULL;
			return emu_err_set(err, ERR_INTERNAL, "%s %s (remove ca.key and ca.pem to create a new CA)", cpath, bad);
		}
		if (X509_cmp_current_time(X509_get0_notAfter(*cert)) < 0)
			log_warn("tls", "the local CA %s has expired: clients that verify will refuse it (remove ca.key and "
			         "ca.pem to create a new CA)", cpath);
		return 0;
	}
	return emu_err_set(err, ERR_INTERNAL, "cannot create or load the CA in %s", dir);
}

/* ---- module --------------------------------------------------------------------------------- */

int tls_init(const char *state_dir, struct emu_err *err)
{
	tls_shutdown();
	ERR_clear_error();
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	if (state_dir) {
		if (ca_load(state_dir, &key, &cert, err) < 0)
			return -1;
	} else {
		key = new_key();
		if (!key)
			return ossl_fail(err, "cannot generate the CA key");
		cert = make_ca_cert(key, err);
		if (!cert) {
			EVP_PKEY_free(key);
			return -1;
		}
	}
	char *pem = cert_pem(cert);
	if (!pem) {
		EVP_PKEY_free(key);
		X509_free(cert);
		return ossl_fail(err, "cannot encode the CA certificate");
	}
	T.ca_key = key;
	T.ca_cert = cert;
	T.ca_pem = pem;
	char subj[256];
	X509_NAME_oneline(X509_get_subject_name(cert), subj, sizeof subj);
	log_info("tls", "local CA %s (%s)", subj, state_dir ? state_dir : "in memory");
	return 0;
}

const char *tls_ca_pem(void)
{
	return T.ca_pem;
}

void tls_shutdown(void)
{
	for (size_t i = 0; i < T.nctx; i++) {
		SSL_CTX_free(T.ctxs[i].ctx);
		free(T.ctxs[i].key);
	}
	free(T.ctxs);
	SSL_CTX_free(T.client);
	EVP_PKEY_free(T.ca_key);
	X509_free(T.ca_cert);
	free(T.ca_pem);
	memset(&T, 0, sizeof T);
	last_error[0] = '\0';
}

/* ---- contexts ------------------------------------------------------------------------------- */

/* Selects "postgresql" when the client offers it (PostgreSQL 17's direct
 * SSL requires it); anything else proceeds without ALPN. */
static int alpn_select(SSL *s, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
	static const unsigned char ours[] = "\x0apostgresql";
	unsigned char *sel = NULL;
	if (SSL_select_next_proto(&sel, outlen, ours, sizeof ours - 1, in, inlen) == OPENSSL_NPN_NEGOTIATED) {
		*out = sel;
		return SSL_TLSEXT_ERR_OK;
	}
	return SSL_TLSEXT_ERR_NOACK;
}

/* What server and client contexts share. */
static void ctx_common(SSL_CTX *c)
{
	SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
	SSL_CTX_set_options(c, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                            SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
}

static SSL_CTX *build_server_ctx(const struct name *nm, size_t n, struct emu_err *err)
{
	EVP_PKEY *key = new_key();
	if (!key) {
		ossl_fail(err, "cannot generate a server key");
		return NULL;
	}
	X509 *leaf = make_leaf(key, nm, n, err);
	SSL_CTX *c = leaf ? SSL_CTX_new(TLS_server_method()) : NULL;
	if (c) {
		ctx_common(c);
		SSL_CTX_set_num_tickets(c, 0);
		SSL_CTX_set_alpn_select_cb(c, alpn_select, NULL);
		if (SSL_CTX_use_certificate(c, leaf) != 1 || SSL_CTX_use_PrivateKey(c, key) != 1 ||
		    SSL_CTX_check_private_key(c) != 1) {
			SSL_CTX_free(c);
			c = NULL;
		}
		if (!c)
			ossl_fail(err, "cannot set up a server context");
	} else if (leaf) {
		ossl_fail(err, "cannot allocate a server context");
	}
	X509_free(leaf);
	EVP_PKEY_free(key);
	return c;
}

SSL_CTX *tls_server_ctx(const char *const *names, size_t n, struct emu_err *err)
{
	if (!T.ca_key) {
		emu_err_set(err, ERR_INTERNAL, "TLS: no CA (tls_init was not called)");
		return NULL;
	}
	if (!names || n == 0 || n > TLS_MAX_NAMES) {
		emu_err_set(err, ERR_VALIDATION, "TLS: a server certificate needs 1-%d names", TLS_MAX_NAMES);
		return NULL;
	}
	ERR_clear_error();
	struct name *nm = util_xcalloc(n, sizeof *nm);
	for (size_t i = 0; i < n; i++) {
		if (parse_name(names[i], &nm[i], err) < 0) {
			free(nm);
			return NULL;
		}
	}
	qsort(nm, n, sizeof *nm, name_cmp);
	size_t m = 0, keylen = 0;
	for (size_t i = 0; i < n; i++) {
		if (m && strcmp(nm[m - 1].text, nm[i].text) == 0)
			continue;
		nm[m++] = nm[i];
		keylen += strlen(nm[i].text) + 1;
	}
	char *key = util_xcalloc(keylen, 1);
	for (size_t i = 0, off = 0; i < m; i++) {
		size_t l = strlen(nm[i].text);
		memcpy(key + off, nm[i].text, l);
		off += l;
		key[off++] = i + 1 < m ? '\n' : '\0';
	}
	for (size_t i = 0; i < T.nctx; i++) {
		if (strcmp(T.ctxs[i].key, key) == 0) {
			free(key);
			free(nm);
			return T.ctxs[i].ctx;
		}
	}
	SSL_CTX *c = build_server_ctx(nm, m, err);
	free(nm);
	if (!c) {
		free(key);
		return NULL;
	}
	if (T.nctx == T.capctx) {
		size_t cap = T.capctx ? T.capctx * 2 : 8;
		struct ctx_entry *grown = realloc(T.ctxs, cap * sizeof *grown);
		if (!grown) {
			SSL_CTX_free(c);
			free(key);
			emu_err_set(err, ERR_INTERNAL, "TLS: out of memory");
			return NULL;
		}
		T.ctxs = grown;
		T.capctx = cap;
	}
	T.ctxs[T.nctx++] = (struct ctx_entry){.key = key, .ctx = c};
	log_debug("tls", "new server certificate for %zu name(s), first %s", m, names[0]);
	return c;
}

SSL_CTX *tls_client_ctx(void)
{
	if (T.client)
		return T.client;
	ERR_clear_error();
	T.client = SSL_CTX_new(TLS_client_method());
	if (!T.client) {
		note_error("client context", 0);
		return NULL;
	}
	ctx_common(T.client);
	return T.client;
}

/* ---- connections ---------------------------------------------------------------------------- */

static SSL *new_ssl(SSL_CTX *ctx, int fd, bool server)
{
	if (!ctx || fd < 0) {
		snprintf(last_error, sizeof last_error, "new connection: no context or fd");
		return NULL;
	}
	ERR_clear_error();
	SSL *s = SSL_new(ctx);
	if (!s || SSL_set_fd(s, fd) != 1) {
		note_error("new connection", 0);
		SSL_free(s);
		return NULL;
	}
	if (server)
		SSL_set_accept_state(s);
	else
		SSL_set_connect_state(s);
	return s;
}

SSL *tls_new_server(SSL_CTX *ctx, int fd)
{
	return new_ssl(ctx, fd, true);
}

SSL *tls_new_client(SSL_CTX *ctx, int fd)
{
	return new_ssl(ctx, fd, false);
}

/* Maps the result of an SSL call that returned ret (<= 0) with errno sys. */
static enum tls_io io_result(SSL *s, int ret, int sys, const char *what)
{
	switch (SSL_get_error(s, ret)) {
	case SSL_ERROR_WANT_READ:
		return TLS_IO_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return TLS_IO_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		return TLS_IO_EOF;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0 && sys == 0) { /* EOF that OpenSSL did not classify */
			SSL_set_shutdown(s, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
			return TLS_IO_EOF;
		}
		break;
	default:
		break;
	}
	note_error(what, sys);
	SSL_set_shutdown(s, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN); /* no SSL_shutdown after a fatal error */
	return TLS_IO_ERROR;
}

enum tls_io tls_handshake(SSL *s)
{
	ERR_clear_error();
	errno = 0;
	int r = SSL_do_handshake(s);
	if (r == 1)
		return TLS_IO_OK;
	return io_result(s, r, errno, "handshake");
}

enum tls_io tls_read(SSL *s, void *buf, size_t cap, size_t *got)
{
	*got = 0;
	if (cap == 0)
		return TLS_IO_OK;
	ERR_clear_error();
	errno = 0;
	int r = SSL_read_ex(s, buf, cap, got);
	if (r == 1)
		return TLS_IO_OK;
	*got = 0;
	return io_result(s, r, errno, "read");
}

enum tls_io tls_write(SSL *s, const void *buf, size_t n, size_t *put)
{
	*put = 0;
	if (n == 0)
		return TLS_IO_OK;
	ERR_clear_error();
	errno = 0;
	int r = SSL_write_ex(s, buf, n, put);
	if (r == 1)
		return TLS_IO_OK;
	*put = 0;
	return io_result(s, r, errno, "write");
}

bool tls_pending(const SSL *s)
{
	return SSL_has_pending(s) == 1;
}

void tls_free(SSL *s)
{
	if (!s)
		return;
	if (SSL_is_init_finished(s) && !(SSL_get_shutdown(s) & SSL_SENT_SHUTDOWN)) {
		ERR_clear_error();
		(void)SSL_shutdown(s); /* sends close_notify if the socket takes it now; never waits */
	}
	ERR_clear_error();
	SSL_free(s);
}
