/*
 * kms.c owns the KMS key store: the master key (<state-dir>/master.key or
 * in memory), the sealing format (AES-256-GCM, random 96-bit nonce), key
 * rows and their sealed material, key and alias resolution, the AWS managed
 * keys, ciphertext blobs, the service face used by Secrets Manager, and the
 * request-member helpers of the KMS operations (emu/kms_ops.c).
 *
 * May call: store, util, log, err, OpenSSL (EVP, RAND via util).  Never
 * api/ or wire/.
 * Invariants: key material and plaintexts live only in memory this file or
 * its callers wipe (OPENSSL_cleanse) and never reach the database, a log
 * line or an error message; a key's material is sealed with the key id as
 * AAD, so rows cannot be swapped; a ciphertext blob authenticates its
 * header (format version, key id) and the encryption context.
 */
#include "emu/kms_int.h"

#include "emu/log.h"
#include "emu/model.h"
#include "emu/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MASTER_LEN 32
#define NONCE_LEN 12
#define TAG_LEN 16
#define BLOB_VERSION 1
#define BLOB_HDR 17 /* version byte + 16-byte key id */
#define MATERIAL_AAD "rdsemu-kms-material-v1:"

static unsigned char master[MASTER_LEN];
static bool master_ready;
static EVP_CIPHER *gcm_fetched;

/* AES-256-GCM, fetched once: OpenSSL 3 otherwise looks the implementation
 * up on every EVP_*Init (a measurable share of a GetSecretValue). */
static const EVP_CIPHER *gcm(void)
{
	if (!gcm_fetched)
		gcm_fetched = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	return gcm_fetched ? gcm_fetched : EVP_aes_256_gcm();
}

/* ---- AES-256-GCM --------------------------------------------------------------------- */

int kms_seal(const unsigned char key[32], const void *aad, size_t aad_len, const void *pt, size_t n,
             unsigned char **out, size_t *out_len)
{
	*out = NULL;
	*out_len = 0;
	if (n > (size_t)INT_MAX - 64 || aad_len > (size_t)INT_MAX)
		return -1;
	unsigned char *o = util_xcalloc(n + KMS_SEAL_OVERHEAD, 1);
	util_random(o, NONCE_LEN);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int len = 0;
	bool ok = c && EVP_EncryptInit_ex(c, gcm(), NULL, key, o) == 1 &&
	          (aad_len == 0 || EVP_EncryptUpdate(c, NULL, &len, aad, (int)aad_len) == 1) &&
	          (n == 0 || EVP_EncryptUpdate(c, o + NONCE_LEN, &len, pt, (int)n) == 1) &&
	          EVP_EncryptFinal_ex(c, o + NONCE_LEN + n, &len) == 1 &&
	          EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, o + NONCE_LEN + n) == 1;
	EVP_CIPHER_CTX_free(c);
	if (!ok) {
		OPENSSL_clear_free(o, n + KMS_SEAL_OVERHEAD);
		return -1;
	}
	*out = o;
	*out_len = n + KMS_SEAL_OVERHEAD;
	return 0;
}

int kms_open(const unsigned char key[32], const void *aad, size_t aad_len, const unsigned char *in, size_t n,
             unsigned char **pt, size_t *pt_len)
{
	*pt = NULL;
	*pt_len = 0;
	if (n < KMS_SEAL_OVERHEAD || n > (size_t)INT_MAX - 64 || aad_len > (size_t)INT_MAX)
		return -1;
	size_t m = n - KMS_SEAL_OVERHEAD;
	unsigned char tag[TAG_LEN];
	memcpy(tag, in + NONCE_LEN + m, TAG_LEN);
	unsigned char *p = util_xcalloc(m + 1, 1);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int len = 0;
	bool ok = c && EVP_DecryptInit_ex(c, gcm(), NULL, key, in) == 1 &&
	          (aad_len == 0 || EVP_DecryptUpdate(c, NULL, &len, aad, (int)aad_len) == 1) &&
	          (m == 0 || EVP_DecryptUpdate(c, p, &len, in + NONCE_LEN, (int)m) == 1) &&
	          EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1 &&
	          EVP_DecryptFinal_ex(c, p + m, &len) > 0;
	EVP_CIPHER_CTX_free(c);
	if (!ok) {
		OPENSSL_clear_free(p, m + 1);
		return -1;
	}
	*pt = p;
	*pt_len = m;
	return 0;
}

/* ---- the master key ---------------------------------------------------------------------- */

static int count_keys(struct store *s, long long *n, struct emu_err *err)
{
	*n = 0;
	sqlite3_stmt *st = store_prep(s, "SELECT count(*) FROM kms_keys");
	if (!st)
		return store_fail(s, err);
	if (sqlite3_step(st) == SQLITE_ROW)
		*n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 0;
}

static int unseal_material(const unsigned char mk[MASTER_LEN], const char *id, const void *sealed, size_t n,
                           unsigned char out[32])
{
	char aad[80];
	int al = snprintf(aad, sizeof aad, MATERIAL_AAD "%s", id);
	unsigned char *pt;
	size_t len;
	if (al < 0 || (size_t)al >= sizeof aad || kms_open(mk, aad, (size_t)al, sealed, n, &pt, &len) < 0)
		return -1;
	int rc = len == 32 ? 0 : -1;
	if (rc == 0)
		memcpy(out, pt, 32);
	OPENSSL_clear_free(pt, len + 1);
	return rc;
}

/* Does mk unseal the first key of the store (or is there none)? */
static int master_matches(struct store *s, const unsigned char mk[MASTER_LEN], struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "SELECT id, material FROM kms_keys ORDER BY rowid LIMIT 1");
	if (!st)
		return store_fail(s, err);
	int rc = sqlite3_step(st), ok = 1;
	if (rc == SQLITE_ROW) {
		unsigned char k[32];
		ok = unseal_material(mk, (const char *)sqlite3_column_text(st, 0), sqlite3_column_blob(st, 1),
		                     (size_t)sqlite3_column_bytes(st, 1), k) == 0;
		OPENSSL_cleanse(k, sizeof k);
	} else if (rc != SQLITE_DONE) {
		sqlite3_reset(st);
		return store_fail(s, err);
	}
	sqlite3_reset(st);
	return ok ? 0 : emu_err_set(err, ERR_INTERNAL, "master.key does not unlock the KMS keys of this state");
}

static int read_exact(int fd, unsigned char *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static int write_exact(int fd, const unsigned char *p, size_t n)
{
	size_t put = 0;
	while (put < n) {
		ssize_t w = write(fd, p + put, n - put);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		put += (size_t)w;
	}
	return 0;
}

/* Creates path with fresh random bytes, atomically: written to a private
 * temporary file, fsync'd, then linked into place (link fails if another
 * process got there first, and then that file wins). */
static int master_create(const char *dir, const char *path, struct emu_err *err)
{
	char tmp[4200];
	if (snprintf(tmp, sizeof tmp, "%s/.master.key.%ld.tmp", dir, (long)getpid()) >= (int)sizeof tmp)
		return emu_err_set(err, ERR_INTERNAL, "state dir path too long");
	unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return emu_err_set(err, ERR_INTERNAL, "cannot create %s: %s", tmp, strerror(errno));
	unsigned char k[MASTER_LEN];
	util_random(k, sizeof k);
	int rc = write_exact(fd, k, sizeof k) == 0 && fsync(fd) == 0 ? 0 : -1;
	OPENSSL_cleanse(k, sizeof k);
	int e = errno;
	close(fd);
	if (rc < 0) {
		unlink(tmp);
		return emu_err_set(err, ERR_INTERNAL, "cannot write %s: %s", tmp, strerror(e));
	}
	if (link(tmp, path) < 0 && errno != EEXIST) {
		e = errno;
		unlink(tmp);
		return emu_err_set(err, ERR_INTERNAL, "cannot create %s: %s", path, strerror(e));
	}
	unlink(tmp);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	log_info("kms", "created master key %s", path);
	return 0;
}

static int master_load(struct store *s, const char *dir, unsigned char mk[MASTER_LEN], struct emu_err *err)
{
	char path[4200];
	if (snprintf(path, sizeof path, "%s/master.key", dir) >= (int)sizeof path)
		return emu_err_set(err, ERR_INTERNAL, "state dir path too long");
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		long long n = 0;
		if (s && count_keys(s, &n, err) < 0)
			return -1;
		if (n > 0)
			return emu_err_set(err, ERR_INTERNAL,
			                   "%s is missing but the state holds %lld KMS key(s) sealed under it; refusing "
			                   "to create a new master key (restore the file or start from an empty state dir)",
			                   path, n);
		if (master_create(dir, path, err) < 0)
			return -1;
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return emu_err_set(err, ERR_INTERNAL, "cannot open %s: %s", path, strerror(errno));
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size != MASTER_LEN) {
		close(fd);
		return emu_err_set(err, ERR_INTERNAL, "%s must be a regular file of exactly %d bytes", path, MASTER_LEN);
	}
	if (sb.st_mode & 077)
		log_warn("kms", "%s is readable by other users (mode %03o); it should be 0600", path,
		         (unsigned)(sb.st_mode & 0777));
	int rc = read_exact(fd, mk, MASTER_LEN);
	close(fd);
	if (rc < 0)
		return emu_err_set(err, ERR_INTERNAL, "cannot read %s", path);
	return 0;
}

int kms_init(struct store *s, const char *state_dir, struct emu_err *err)
{
	unsigned char mk[MASTER_LEN];
	if (state_dir) {
		if (master_load(s, state_dir, mk, err) < 0)
			return -1;
	} else {
		util_random(mk, sizeof mk);
	}
	if (s && master_matches(s, mk, err) < 0) {
		OPENSSL_cleanse(mk, sizeof mk);
		return -1;
	}
	memcpy(master, mk, sizeof master);
	OPENSSL_cleanse(mk, sizeof mk);
	master_ready = true;
	return 0;
}

void kms_shutdown(void)
{
	OPENSSL_cleanse(master, sizeof master);
	master_ready = false;
	EVP_CIPHER_free(gcm_fetched);
	gcm_fetched = NULL;
}

/* The master key, initialised on first use from the store's location when
 * kms_init was not called. */
static int master_need(struct store *s, struct emu_err *err)
{
	if (master_ready)
		return 0;
	const char *file = sqlite3_db_filename(store_db(s), "main");
	if (!file || !*file)
		return kms_init(s, NULL, err);
	const char *slash = strrchr(file, '/');
	if (!slash)
		return kms_init(s, ".", err);
	char dir[4200];
	size_t n = (size_t)(slash - file);
	if (n >= sizeof dir)
		return emu_err_set(err, ERR_INTERNAL, "state dir path too long");
	memcpy(dir, file, n);
	dir[n] = '\0';
	return kms_init(s, n ? dir : "/", err);
}

/* ---- request members --------------------------------------------------------------------- */

static json_t *member(json_t *in, const char *key)
{
	json_t *v = json_is_object(in) ? json_object_get(in, key) : NULL;
	return json_is_null(v) ? NULL : v;
}

static void path_of(const char *key, char *out, size_t n)
{
	snprintf(out, n, "%s", key);
	if (out[0] >= 'A' && out[0] <= 'Z')
		out[0] = (char)(out[0] - 'A' + 'a');
}

static int bad_type(const char *key, const char *want, struct emu_err *err)
{
	return emu_err_set(err, ERR_SERIALIZATION, "Unexpected value type for member %s: expected %s.", key, want);
}

static int missing(const char *key, struct emu_err *err)
{
	char p[64];
	path_of(key, p, sizeof p);
	return emu_err_set(err, ERR_VALIDATION,
	                   "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must "
	                   "not be null",
	                   p);
}

static int bad_len(const char *key, size_t lim, bool too_long, struct emu_err *err)
{
	char p[64];
	path_of(key, p, sizeof p);
	return emu_err_set(err, ERR_VALIDATION,
	                   "1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have "
	                   "length %s %zu",
	                   p, too_long ? "less than or equal to" : "greater than or equal to", lim);
}

int kms_in_str(json_t *in, const char *key, bool required, size_t min, size_t max, const char **out,
               struct emu_err *err)
{
	*out = NULL;
	json_t *v = member(in, key);
	if (!v)
		return required ? missing(key, err) : 0;
	if (!json_is_string(v))
		return bad_type(key, "a string", err);
	const char *s = json_string_value(v);
	size_t bytes = json_string_length(v);
	if (strlen(s) != bytes)
		return bad_type(key, "a string without NUL characters", err);
	size_t n = model_utf8_len(s, bytes);
	if (n < min)
		return bad_len(key, min, false, err);
	if (n > max)
		return bad_len(key, max, true, err);
	*out = s;
	return 0;
}

int kms_in_int(json_t *in, const char *key, long long lo, long long hi, long long *out, bool *present,
               struct emu_err *err)
{
	json_t *v = member(in, key);
	if (present)
		*present = v != NULL;
	if (!v)
		return 0;
	if (!json_is_integer(v))
		return bad_type(key, "an integer", err);
	long long x = (long long)json_integer_value(v);
	char p[64];
	path_of(key, p, sizeof p);
	if (x < lo || x > hi)
		return emu_err_set(err, ERR_VALIDATION,
		                   "1 validation error detected: Value '%lld' at '%s' failed to satisfy constraint: "
		                   "Member must have value %s %lld",
		                   x, p, x < lo ? "greater than or equal to" : "less than or equal to", x < lo ? lo : hi);
	*out = x;
	return 0;
}

int kms_in_bool(json_t *in, const char *key, bool *out, struct emu_err *err)
{
	json_t *v = member(in, key);
	*out = false;
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return bad_type(key, "a boolean", err);
	*out = json_is_true(v);
	return 0;
}

int kms_in_blob(json_t *in, const char *key, bool required, size_t min, size_t max, unsigned char **out, size_t *n,
                struct emu_err *err)
{
	*out = NULL;
	*n = 0;
	json_t *v = member(in, key);
	if (!v)
		return required ? missing(key, err) : 0;
	if (!json_is_string(v))
		return bad_type(key, "a base64 string", err);
	size_t elen = json_string_length(v);
	if (elen > (max + 2) / 3 * 4) /* limit checked on the encoded form, before decoding */
		return bad_len(key, max, true, err);
	if (!util_b64_decode(json_string_value(v), elen, out, n))
		return emu_err_set(err, ERR_SERIALIZATION, "Invalid base64 value for member %s.", key);
	if (*n < min || *n > max) {
		bool long_ = *n > max;
		OPENSSL_clear_free(*out, *n);
		*out = NULL;
		*n = 0;
		return bad_len(key, long_ ? max : min, long_, err);
	}
	return 0;
}

int kms_in_ctx(json_t *in, const char *key, json_t **out, struct emu_err *err)
{
	*out = NULL;
	json_t *v = member(in, key);
	if (!v)
		return 0;
	if (!json_is_object(v))
		return bad_type(key, "a map of strings", err);
	const char *k;
	json_t *x;
	json_object_foreach(v, k, x) {
		if (!json_is_string(x) || strlen(json_string_value(x)) != json_string_length(x))
			return bad_type(key, "a map of strings", err);
	}
	*out = v;
	return 0;
}

void kms_marker(const char *what, long long off, char out[64]) { snprintf(out, 64, "%s.%lld", what, off); }

int kms_in_page(json_t *in, const char *what, long long max_limit, long long dflt, long long *limit, long long *off,
                struct emu_err *err)
{
	const char *m;
	*limit = dflt;
	*off = 0;
	if (kms_in_int(in, "Limit", 1, max_limit, limit, NULL, err) < 0 ||
	    kms_in_str(in, "Marker", false, 1, 1024, &m, err) < 0)
		return -1;
	if (!m)
		return 0;
	size_t wl = strlen(what);
	const char *p = m + wl + 1;
	char *end = NULL;
	errno = 0;
	long long v = strncmp(m, what, wl) == 0 && m[wl] == '.' && *p >= '0' && *p <= '9' ? strtoll(p, &end, 10) : -1;
	if (v < 0 || errno || !end || *end)
		return emu_err_set(err, ERR_KMS_INVALID_MARKER,
		                   "The request was rejected because the marker that specifies where pagination should "
		                   "next begin is not valid.");
	*off = v;
	return 0;
}

/* ---- keys ----------------------------------------------------------------------------------- */

static const char *partition_of(const char *region)
{
	if (util_has_prefix(region, "cn-"))
		return "aws-cn";
	if (util_has_prefix(region, "us-gov-"))
		return "aws-us-gov";
	return "aws";
}

void kms_arn_prefix(const char *region, const char *account, char *out, size_t n)
{
	snprintf(out, n, "arn:%s:kms:%s:%s:", partition_of(region), region, account);
}

#define KEY_COLS "id, arn, account, region, manager, state, created, deletion_date, pending_days"

/* Column text into a fixed buffer (truncated; "" for NULL). */
static void col_copy(sqlite3_stmt *st, int i, char *dst, size_t n)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	size_t l = t ? (size_t)sqlite3_column_bytes(st, i) : 0;
	if (l >= n)
		l = n - 1;
	if (l)
		memcpy(dst, t, l);
	dst[l] = '\0';
}

static void key_load(sqlite3_stmt *st, struct kms_key *k)
{
	col_copy(st, 0, k->id, sizeof k->id);
	col_copy(st, 1, k->arn, sizeof k->arn);
	col_copy(st, 2, k->account, sizeof k->account);
	col_copy(st, 3, k->region, sizeof k->region);
	k->aws_managed = sqlite3_column_int(st, 4) == 1;
	k->state = sqlite3_column_int(st, 5);
	k->created = sqlite3_column_double(st, 6);
	k->deletion_date = sqlite3_column_type(st, 7) == SQLITE_NULL ? 0 : sqlite3_column_double(st, 7);
	k->pending_days = sqlite3_column_int(st, 8);
}

static bool expired(const struct kms_key *k, double now)
{
	return k->state == KMS_STATE_PENDING_DELETION && k->deletion_date > 0 && k->deletion_date <= now;
}

int kms_key_by_id(struct store *s, const char *id, const char *region, double now, struct kms_key *out,
                  struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "SELECT " KEY_COLS " FROM kms_keys WHERE id = ?1");
	if (!st)
		return store_fail(s, err);
	store_bind_text(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		key_load(st, out);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_fail(s, err);
	if (rc == SQLITE_DONE || (region && strcmp(out->region, region) != 0) || expired(out, now))
		return 0;
	return 1;
}

/* Printable ASCII, capped: how user text appears in an error message. */
static void clean(const char *in, char *out, size_t n)
{
	size_t i = 0;
	for (; in && in[i] && i + 1 < n; i++)
		out[i] = in[i] >= 0x20 && in[i] < 0x7f ? in[i] : '?';
	out[i] = '\0';
}

static int invalid_key_id(const char *key_id, struct emu_err *err)
{
	char c[160];
	clean(key_id, c, sizeof c);
	return emu_err_set(err, ERR_KMS_NOT_FOUND, "Invalid keyId %s", c);
}

static bool uuid_ok(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : util_hexval((unsigned char)s[i]) < 0)
			return false;
	}
	return true;
}

static bool account_ok(const char *a)
{
	if (strlen(a) != 12)
		return false;
	for (int i = 0; i < 12; i++)
		if (a[i] < '0' || a[i] > '9')
			return false;
	return true;
}

/* Key `id` of (account, region), or NotFoundException "Key '<arn>' does not exist". */
static int key_in(struct store *s, const char *account, const char *region, double now, const char *id,
                  struct kms_key *out, struct emu_err *err)
{
	char lid[40];
	for (int i = 0; i < 36; i++)
		lid[i] = (char)(id[i] >= 'A' && id[i] <= 'F' ? id[i] - 'A' + 'a' : id[i]);
	lid[36] = '\0';
	int rc = kms_key_by_id(s, lid, region, now, out, err);
	if (rc < 0)
		return -1;
	if (rc == 0 || strcmp(out->account, account) != 0) {
		char pfx[160];
		kms_arn_prefix(region, account, pfx, sizeof pfx);
		return emu_err_set(err, ERR_KMS_NOT_FOUND, "Key '%skey/%s' does not exist", pfx, lid);
	}
	return 0;
}

static int alias_in(struct store *s, const char *account, const char *region, double now, const char *name,
                    struct kms_key *out, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "SELECT key_id FROM kms_aliases WHERE account = ?1 AND region = ?2 AND name = ?3");
	if (!st)
		return store_fail(s, err);
	store_bind_text(st, 1, account);
	store_bind_text(st, 2, region);
	store_bind_text(st, 3, name);
	char id[40] = "";
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		snprintf(id, sizeof id, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_fail(s, err);
	if (rc == SQLITE_DONE && strcmp(name, KMS_MANAGED_SM_ALIAS) == 0)
		return kms_managed_key(s, account, region, "secretsmanager", now, out, err);
	if (rc == SQLITE_ROW) {
		int k = kms_key_by_id(s, id, region, now, out, err);
		if (k != 0)
			return k < 0 ? -1 : 0;
	}
	char pfx[160], c[300];
	kms_arn_prefix(region, account, pfx, sizeof pfx);
	clean(name, c, sizeof c);
	return emu_err_set(err, ERR_KMS_NOT_FOUND, "Alias %s%s is not found.", pfx, c);
}

int kms_find(struct store *s, const char *account, const char *region, double now, const char *key_id,
             struct kms_key *out, struct emu_err *err)
{
	memset(out, 0, sizeof *out);
	if (!key_id || !*key_id)
		return invalid_key_id("", err);
	if (util_has_prefix(key_id, "alias/"))
		return alias_in(s, account, region, now, key_id, out, err);
	if (!util_has_prefix(key_id, "arn:"))
		return uuid_ok(key_id) ? key_in(s, account, region, now, key_id, out, err) : invalid_key_id(key_id, err);
	/* arn:PARTITION:kms:REGION:ACCOUNT:key/ID or ...:alias/NAME */
	const char *f[6];
	const char *p = key_id;
	int nf = 0;
	while (nf < 6 && p) {
		f[nf++] = p;
		p = nf < 6 ? strchr(p, ':') : NULL;
		if (p)
			p++;
	}
	if (nf < 6 || strncmp(f[2], "kms:", 4) != 0)
		return invalid_key_id(key_id, err);
	char arn_region[KMS_REGION_MAX], arn_account[16];
	size_t rl = (size_t)(f[4] - f[3] - 1), al = (size_t)(f[5] - f[4] - 1);
	if (rl == 0 || rl >= sizeof arn_region || al >= sizeof arn_account)
		return invalid_key_id(key_id, err);
	memcpy(arn_region, f[3], rl);
	arn_region[rl] = '\0';
	memcpy(arn_account, f[4], al);
	arn_account[al] = '\0';
	if (!account_ok(arn_account))
		return invalid_key_id(key_id, err);
	const char *res = f[5];
	bool is_key = util_has_prefix(res, "key/") && uuid_ok(res + 4), is_alias = util_has_prefix(res, "alias/");
	if (!is_key && !is_alias)
		return invalid_key_id(key_id, err);
	if (strcmp(arn_region, region) != 0) { /* a key of another region does not exist here */
		char c[300];
		clean(key_id, c, sizeof c);
		return emu_err_set(err, ERR_KMS_NOT_FOUND, is_key ? "Key '%s' does not exist" : "Alias %s is not found.",
		                   c);
	}
	return is_key ? key_in(s, arn_account, region, now, res + 4, out, err)
	              : alias_in(s, arn_account, region, now, res, out, err);
}

int kms_find_call(struct emu_call *call, const char *key_id, struct kms_key *out, struct emu_err *err)
{
	if (strlen(call->region) >= KMS_REGION_MAX)
		return emu_err_set(err, ERR_VALIDATION, "region name too long");
	return kms_find(call->store, call->account, call->region, call->now, key_id, out, err);
}

int kms_check_usable(const struct kms_key *k, struct emu_err *err)
{
	if (k->state == KMS_STATE_DISABLED)
		return emu_err_set(err, ERR_KMS_DISABLED, "%s is disabled.", k->arn);
	if (k->state == KMS_STATE_PENDING_DELETION)
		return emu_err_set(err, ERR_KMS_INVALID_STATE, "%s is pending deletion.", k->arn);
	return 0;
}

char *kms_default_policy(const char *account)
{
	/* AWS's default key policy, in the layout GetKeyPolicy shows it. */
	char buf[512];
	snprintf(buf, sizeof buf,
	         "{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"key-default-1\",\n  \"Statement\" : [ {\n"
	         "    \"Sid\" : \"Enable IAM User Permissions\",\n    \"Effect\" : \"Allow\",\n"
	         "    \"Principal\" : {\n      \"AWS\" : \"arn:aws:iam::%s:root\"\n    },\n"
	         "    \"Action\" : \"kms:*\",\n    \"Resource\" : \"*\"\n  } ]\n}",
	         account);
	return util_strdup(buf);
}

/* The policy AWS attaches to aws/secretsmanager: use through Secrets
 * Manager by principals of the account; metadata reads directly. */
static char *managed_sm_policy(const char *account, const char *region)
{
	char buf[2048];
	snprintf(buf, sizeof buf,
	         "{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"auto-secretsmanager-2\",\n  \"Statement\" : [ {\n"
	         "    \"Sid\" : \"Allow access through AWS Secrets Manager for all principals in the account that are "
	         "authorized to use AWS Secrets Manager\",\n    \"Effect\" : \"Allow\",\n"
	         "    \"Principal\" : {\n      \"AWS\" : \"*\"\n    },\n"
	         "    \"Action\" : [ \"kms:Encrypt\", \"kms:Decrypt\", \"kms:ReEncrypt*\", \"kms:CreateGrant\", "
	         "\"kms:DescribeKey\" ],\n    \"Resource\" : \"*\",\n    \"Condition\" : {\n"
	         "      \"StringEquals\" : {\n        \"kms:CallerAccount\" : \"%s\",\n"
	         "        \"kms:ViaService\" : \"secretsmanager.%s.amazonaws.com\"\n      }\n    }\n  }, {\n"
	         "    \"Sid\" : \"Allow access through AWS Secrets Manager for all principals in the account that are "
	         "authorized to use AWS Secrets Manager\",\n    \"Effect\" : \"Allow\",\n"
	         "    \"Principal\" : {\n      \"AWS\" : \"*\"\n    },\n"
	         "    \"Action\" : \"kms:GenerateDataKey*\",\n    \"Resource\" : \"*\",\n    \"Condition\" : {\n"
	         "      \"StringEquals\" : {\n        \"kms:CallerAccount\" : \"%s\"\n      },\n"
	         "      \"StringLike\" : {\n        \"kms:ViaService\" : \"secretsmanager.%s.amazonaws.com\"\n      }\n"
	         "    }\n  }, {\n"
	         "    \"Sid\" : \"Allow direct access to key metadata to the account\",\n    \"Effect\" : \"Allow\",\n"
	         "    \"Principal\" : {\n      \"AWS\" : \"arn:aws:iam::%s:root\"\n    },\n"
	         "    \"Action\" : [ \"kms:Describe*\", \"kms:Get*\", \"kms:List*\", \"kms:RevokeGrant\" ],\n"
	         "    \"Resource\" : \"*\"\n  } ]\n}",
	         account, region, account, region, account);
	return util_strdup(buf);
}

int kms_key_create(struct store *s, const char *account, const char *region, double now, bool aws_managed,
                   const char *description, const char *policy, struct kms_key *out, struct emu_err *err)
{
	if (master_need(s, err) < 0)
		return -1;
	memset(out, 0, sizeof *out);
	util_uuid(out->id);
	char pfx[160];
	kms_arn_prefix(region, account, pfx, sizeof pfx);
	snprintf(out->arn, sizeof out->arn, "%skey/%s", pfx, out->id);
	snprintf(out->account, sizeof out->account, "%s", account);
	snprintf(out->region, sizeof out->region, "%s", region);
	out->aws_managed = aws_managed;
	out->state = KMS_STATE_ENABLED;
	out->created = floor(now * 1000.0 + 0.5) / 1000.0;

	unsigned char k[32];
	util_random(k, sizeof k);
	char aad[80];
	int al = snprintf(aad, sizeof aad, MATERIAL_AAD "%s", out->id);
	unsigned char *sealed;
	size_t sl;
	int rc = kms_seal(master, aad, (size_t)al, k, sizeof k, &sealed, &sl);
	OPENSSL_cleanse(k, sizeof k);
	if (rc < 0)
		return emu_err_set(err, ERR_INTERNAL, "cannot seal key material");
	sqlite3_stmt *st = store_prep(s, "INSERT INTO kms_keys(id, account, region, arn, description, manager, state, "
	                                 "created, policy, material) VALUES(?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8, ?9)");
	if (st) {
		store_bind_text(st, 1, out->id);
		store_bind_text(st, 2, account);
		store_bind_text(st, 3, region);
		store_bind_text(st, 4, out->arn);
		store_bind_text(st, 5, description ? description : "");
		sqlite3_bind_int(st, 6, aws_managed ? 1 : 0);
		sqlite3_bind_double(st, 7, out->created);
		store_bind_text(st, 8, policy);
		sqlite3_bind_blob(st, 9, sealed, (int)sl, SQLITE_TRANSIENT);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	free(sealed);
	return st && rc == SQLITE_DONE ? 0 : store_fail(s, err);
}

int kms_managed_key(struct store *s, const char *account, const char *region, const char *service, double now,
                    struct kms_key *out, struct emu_err *err)
{
	if (strcmp(service, "secretsmanager") != 0)
		return emu_err_set(err, ERR_INTERNAL, "no AWS managed key for service %s", service);
	sqlite3_stmt *st = store_prep(s, "SELECT key_id FROM kms_aliases WHERE account = ?1 AND region = ?2 AND name = ?3");
	if (!st)
		return store_fail(s, err);
	store_bind_text(st, 1, account);
	store_bind_text(st, 2, region);
	store_bind_text(st, 3, KMS_MANAGED_SM_ALIAS);
	char id[40] = "";
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		snprintf(id, sizeof id, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_fail(s, err);
	if (rc == SQLITE_ROW) {
		int k = kms_key_by_id(s, id, region, now, out, err);
		if (k < 0)
			return -1;
		if (k == 1)
			return 0;
		return emu_err_set(err, ERR_INTERNAL, "AWS managed key %s is missing", id);
	}
	char *policy = managed_sm_policy(account, region);
	rc = kms_key_create(s, account, region, now, true,
	                    "Default key that protects my Secrets Manager data when no other key is defined", policy,
	                    out, err);
	free(policy);
	if (rc < 0)
		return -1;
	st = store_prep(s, "INSERT INTO kms_aliases(account, region, name, key_id, created, updated) "
	                   "VALUES(?1, ?2, ?3, ?4, ?5, ?5)");
	if (!st)
		return store_fail(s, err);
	store_bind_text(st, 1, account);
	store_bind_text(st, 2, region);
	store_bind_text(st, 3, KMS_MANAGED_SM_ALIAS);
	store_bind_text(st, 4, out->id);
	sqlite3_bind_double(st, 5, out->created);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, err);
}

/* The key's material, unsealed into out (wipe it after use). */
static int material_get(struct store *s, const struct kms_key *k, unsigned char out[32], struct emu_err *err)
{
	if (master_need(s, err) < 0)
		return -1;
	sqlite3_stmt *st = store_prep(s, "SELECT material FROM kms_keys WHERE id = ?1");
	if (!st)
		return store_fail(s, err);
	store_bind_text(st, 1, k->id);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? emu_err_set(err, ERR_INTERNAL, "key %s vanished", k->id) : store_fail(s, err);
	}
	rc = unseal_material(master, k->id, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), out);
	sqlite3_reset(st);
	if (rc < 0) {
		log_error("kms", "key %s: material does not unseal under the master key", k->id);
		return emu_err_set(err, ERR_INTERNAL, "KMS key material cannot be unsealed (wrong master.key?)");
	}
	return 0;
}

/* ---- ciphertext blobs ---------------------------------------------------------------------------- */

static void id_to_bytes(const char *id, unsigned char out[16])
{
	int j = 0;
	for (int i = 0; id[i] && j < 16; i++) {
		if (id[i] == '-')
			continue;
		out[j] = (unsigned char)(util_hexval((unsigned char)id[i]) << 4 | util_hexval((unsigned char)id[i + 1]));
		j++;
		i++;
	}
}

static void bytes_to_id(const unsigned char b[16], char out[40])
{
	static const char hx[] = "0123456789abcdef";
	int o = 0;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hx[b[i] >> 4];
		out[o++] = hx[b[i] & 15];
	}
	out[o] = '\0';
}

static int key_cmp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static void put_be32(unsigned char *p, size_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* AAD = header || the context in canonical form: its pairs sorted by key
 * (byte order), each as be32 length + key + be32 length + value.  No
 * context and an empty one are the same (as in AWS). */
static unsigned char *blob_aad(const unsigned char hdr[BLOB_HDR], json_t *ctx, size_t *len)
{
	size_t n = json_object_size(ctx), total = BLOB_HDR;
	const char *small[16], **keys = n <= 16 ? small : util_xcalloc(n, sizeof *keys);
	const char *k;
	json_t *v;
	size_t i = 0;
	json_object_foreach(ctx, k, v) {
		keys[i++] = k;
		total += 8 + strlen(k) + json_string_length(v);
	}
	qsort(keys, n, sizeof *keys, key_cmp);
	unsigned char *a = util_xcalloc(total + 1, 1), *p = a + BLOB_HDR;
	memcpy(a, hdr, BLOB_HDR);
	for (i = 0; i < n; i++) {
		size_t kl = strlen(keys[i]);
		json_t *val = json_object_get(ctx, keys[i]);
		size_t vl = json_string_length(val);
		put_be32(p, kl);
		memcpy(p + 4, keys[i], kl);
		p += 4 + kl;
		put_be32(p, vl);
		if (vl)
			memcpy(p + 4, json_string_value(val), vl);
		p += 4 + vl;
	}
	if (keys != small)
		free(keys);
	*len = total;
	return a;
}

int kms_key_encrypt(struct store *s, const struct kms_key *k, json_t *ctx, const void *pt, size_t n,
                    unsigned char **blob, size_t *blob_len, struct emu_err *err)
{
	*blob = NULL;
	*blob_len = 0;
	unsigned char m[32], hdr[BLOB_HDR];
	if (material_get(s, k, m, err) < 0)
		return -1;
	hdr[0] = BLOB_VERSION;
	id_to_bytes(k->id, hdr + 1);
	size_t al;
	unsigned char *aad = blob_aad(hdr, ctx, &al), *sealed;
	size_t sl;
	int rc = kms_seal(m, aad, al, pt, n, &sealed, &sl);
	OPENSSL_cleanse(m, sizeof m);
	free(aad);
	if (rc < 0)
		return emu_err_set(err, ERR_INTERNAL, "encryption failed");
	unsigned char *b = util_xcalloc(BLOB_HDR + sl, 1);
	memcpy(b, hdr, BLOB_HDR);
	memcpy(b + BLOB_HDR, sealed, sl);
	free(sealed); /* ciphertext: nothing to wipe */
	*blob = b;
	*blob_len = BLOB_HDR + sl;
	return 0;
}

int kms_blob_key_id(const unsigned char *blob, size_t n, char id[40], struct emu_err *err)
{
	if (!blob || n < BLOB_HDR + KMS_SEAL_OVERHEAD || blob[0] != BLOB_VERSION)
		return emu_err_set(err, ERR_KMS_INVALID_CIPHERTEXT, NULL);
	bytes_to_id(blob + 1, id);
	return 0;
}

int kms_key_decrypt(struct store *s, const struct kms_key *k, json_t *ctx, const unsigned char *blob, size_t n,
                    unsigned char **pt, size_t *pt_len, struct emu_err *err)
{
	*pt = NULL;
	*pt_len = 0;
	char id[40];
	if (kms_blob_key_id(blob, n, id, err) < 0)
		return -1;
	if (strcmp(id, k->id) != 0)
		return emu_err_set(err, ERR_KMS_INVALID_CIPHERTEXT, NULL);
	unsigned char m[32];
	if (material_get(s, k, m, err) < 0)
		return -1;
	size_t al;
	unsigned char *aad = blob_aad(blob, ctx, &al);
	int rc = kms_open(m, aad, al, blob + BLOB_HDR, n - BLOB_HDR, pt, pt_len);
	OPENSSL_cleanse(m, sizeof m);
	free(aad);
	return rc < 0 ? emu_err_set(err, ERR_KMS_INVALID_CIPHERTEXT, NULL) : 0;
}

/* ---- service face ---------------------------------------------------------------------------------- */

static void ref_of(const struct kms_key *k, struct kms_key_ref *r)
{
	snprintf(r->id, sizeof r->id, "%s", k->id);
	snprintf(r->arn, sizeof r->arn, "%s", k->arn);
	r->aws_managed = k->aws_managed;
}

int kms_service_key(struct store *s, const char *account, const char *region, const char *key_id,
                    const char *service, double now, struct kms_key_ref *out, struct emu_err *err)
{
	struct kms_key k;
	memset(out, 0, sizeof *out);
	if (strlen(region) >= KMS_REGION_MAX)
		return emu_err_set(err, ERR_KMS_NOT_FOUND, "region name too long");
	int rc = key_id && *key_id ? kms_find(s, account, region, now, key_id, &k, err)
	                           : kms_managed_key(s, account, region, service, now, &k, err);
	if (rc < 0)
		return -1;
	ref_of(&k, out);
	return 0;
}

int kms_service_encrypt(struct store *s, const struct kms_key_ref *key, json_t *ctx, const void *pt, size_t n,
                        double now, unsigned char **blob, size_t *blob_len, struct emu_err *err)
{
	struct kms_key k;
	*blob = NULL;
	*blob_len = 0;
	int rc = kms_key_by_id(s, key->id, NULL, now, &k, err);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return emu_err_set(err, ERR_KMS_NOT_FOUND, "Key '%s' does not exist", key->arn);
	if (kms_check_usable(&k, err) < 0)
		return -1;
	return kms_key_encrypt(s, &k, ctx, pt, n, blob, blob_len, err);
}

int kms_service_decrypt(struct store *s, const char *region, const unsigned char *blob, size_t blob_len, json_t *ctx,
                        double now, unsigned char **pt, size_t *pt_len, struct kms_key_ref *key,
                        struct emu_err *err)
{
	struct kms_key k;
	char id[40];
	*pt = NULL;
	*pt_len = 0;
	if (kms_blob_key_id(blob, blob_len, id, err) < 0)
		return -1;
	int rc = kms_key_by_id(s, id, region, now, &k, err);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return emu_err_set(err, ERR_KMS_NOT_FOUND, "Key '%s' does not exist", id);
	if (key)
		ref_of(&k, key);
	if (kms_check_usable(&k, err) < 0)
		return -1;
	return kms_key_decrypt(s, &k, ctx, blob, blob_len, pt, pt_len, err);
}

/* ---- transactions, purge ------------------------------------------------------------------------------ */

int kms_purge_due(struct store *s, double now)
{
	sqlite3_stmt *st = store_prep(s, "DELETE FROM kms_keys WHERE state = 2 AND deletion_date <= ?1");
	if (!st)
		return -1;
	sqlite3_bind_double(st, 1, now);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_error("kms", "purge failed: %s", sqlite3_errmsg(store_db(s)));
		return -1;
	}
	int n = sqlite3_changes(store_db(s));
	if (n > 0)
		log_info("kms", "deleted %d KMS key(s) whose waiting period ended", n);
	return n;
}

int kms_tx_begin(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	*out = NULL;
	if (in && !json_is_object(in))
		return emu_err_set(err, ERR_SERIALIZATION, "The request body must be a JSON object.");
	if (master_need(call->store, err) < 0)
		return -1;
	if (store_begin(call->store) < 0)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	if (kms_purge_due(call->store, call->now) < 0) {
		store_rollback(call->store);
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	}
	return 0;
}

