/*
 * secrets_enc.c owns how secret values are stored: envelope encryption as
 * Secrets Manager does it (its "Secret encryption and decryption" guide).
 * Each version with a value gets a fresh 256-bit data key from the
 * secret's KMS key (KmsKeyId, or the AWS managed aws/secretsmanager of the
 * secret's account and region); the value is sealed with AES-256-GCM under
 * the data key, with AAD binding the secret ARN, version id and kind; the
 * data key is kept only as KMS ciphertext ("envelopes", one per KMS key that
 * can open it), made with the encryption context {SecretARN,
 * SecretVersionId}.  Stored envelopes (secret_versions.data_keys): format
 * byte 1, then per envelope: flags (1 = AWS managed key) | be16 length + key
 * ARN | be16 length + KMS ciphertext blob; the newest last.  It also owns the version rows' writes
 * (secrets_version_insert / _fill) and the re-wrap UpdateSecret does when
 * the KMS key changes.
 *
 * May call: kms (service face), secrets.c (secrets_int.h), store, util.
 * Invariants: secret_versions.value never holds a plaintext written by this
 * code; data keys and plaintexts are wiped before they are freed; KMS
 * failures reach customers as Secrets Manager reports them
 * (EncryptionFailure on write, DecryptionFailure on read, with KMS's reason
 * appended); the kms_check hook is asked with the key's ARN (NULL for the
 * AWS managed key) before every use of a key on a customer's behalf.
 */
#include "emu/secrets_int.h"

#include "emu/buf.h"
#include "emu/kms.h"
#include "emu/util.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DK_LEN 32
#define MSG_ENC                                                                                             \
	"Secrets Manager can't encrypt the protected secret text using the provided KMS key. Check that the " \
	"KMS key is available, enabled, and not in an invalid state."
#define MSG_DEC "Secrets Manager can't decrypt the protected secret text using the provided KMS key."
#define DEFAULT_LABEL "DefaultEncryptionKey"
#define ENV_FORMAT 1
#define ENV_MAX 16 /* envelopes per version: one per key the secret ever used while labelled */

void secrets_sealed_free(struct sm_sealed *sv)
{
	free(sv->ct);
	free(sv->data_keys);
	free(sv->kms_ids);
	memset(sv, 0, sizeof *sv);
}

/* A KMS (or storage) failure as Secrets Manager reports it. */
static int as_sm(struct emu_err *err, enum emu_err_code code)
{
	if (err->code == ERR_INTERNAL || err->code == ERR_ACCESS_DENIED || err->code == code)
		return -1;
	struct emu_err kms = *err;
	return emu_err_set(err, code, "%s (%s: %.400s)", code == ERR_SM_ENCRYPTION_FAILURE ? MSG_ENC : MSG_DEC,
	                   emu_err_json_type(kms.code), kms.msg[0] ? kms.msg : "the ciphertext is not valid");
}

static json_t *dk_context(const struct sm_secret *r, const char *vid)
{
	return json_pack("{s:s, s:s}", "SecretARN", r->arn, "SecretVersionId", vid);
}

/* AAD of a value: binds it to its secret, version and kind. */
static char *value_aad(const struct sm_secret *r, const char *vid, int kind, size_t *len)
{
	size_t al = strlen(r->arn), vl = strlen(vid), n = 19 + al + 1 + vl + 3;
	char *a = util_xcalloc(n + 1, 1);
	memcpy(a, "rdsemu-sm-value-v1", 19); /* with its NUL */
	memcpy(a + 19, r->arn, al + 1);
	memcpy(a + 19 + al + 1, vid, vl + 1);
	a[n - 2] = (char)('0' + kind);
	*len = n;
	return a;
}

/* One parsed envelope (pointers into the stored bytes). */
struct envelope {
	bool managed;
	const uint8_t *arn, *blob;
	uint16_t arn_len, blob_len;
};

/* Parses stored envelopes; -1 when malformed. */
static int envs_parse(const void *p, size_t n, struct envelope *out, int *count)
{
	struct cursor c;
	uint8_t fmt;
	*count = 0;
	cursor_init(&c, p, n);
	if (!cursor_u8(&c, &fmt) || fmt != ENV_FORMAT)
		return -1;
	while (cursor_left(&c) > 0) {
		struct envelope *e = &out[*count];
		uint8_t flags;
		if (*count == ENV_MAX || !cursor_u8(&c, &flags) || !cursor_be16(&c, &e->arn_len) ||
		    !cursor_bytes(&c, e->arn_len, &e->arn) || !cursor_be16(&c, &e->blob_len) ||
		    !cursor_bytes(&c, e->blob_len, &e->blob))
			return -1;
		e->managed = flags & 1;
		(*count)++;
	}
	return *count > 0 ? 0 : -1;
}

static const char *label_of(const struct sm_secret *r) { return r->kms_key_id ? r->kms_key_id : DEFAULT_LABEL; }

/* Resolves r's KMS key; asks the hook when on a customer's behalf. */
static int key_for(struct store *s, struct emu_call *call, const struct sm_secret *r, double now,
                   struct kms_key_ref *ref, struct emu_err *err)
{
	if (kms_service_key(s, r->account, r->region, r->kms_key_id, "secretsmanager", now, ref, err) < 0)
		return as_sm(err, ERR_SM_ENCRYPTION_FAILURE);
	const struct secrets_hooks *h = secrets_hooks_get();
	if (call && h->kms_check && h->kms_check(call, ref->aws_managed ? NULL : ref->arn, false, err) < 0)
		return -1;
	return 0;
}

/* Appends one envelope to b: the data key wrapped under ref with r's context. */
static int envelope(struct store *s, const struct kms_key_ref *ref, const struct sm_secret *r, const char *vid,
                    const unsigned char dk[DK_LEN], double now, struct buf *b, struct emu_err *err)
{
	json_t *ctx = dk_context(r, vid);
	unsigned char *blob;
	size_t bl, al = strlen(ref->arn);
	int rc = kms_service_encrypt(s, ref, ctx, dk, DK_LEN, now, &blob, &bl, err);
	json_decref(ctx);
	if (rc < 0)
		return as_sm(err, ERR_SM_ENCRYPTION_FAILURE);
	if (bl > 0xffff || al > 0xffff) {
		free(blob);
		return emu_err_set(err, ERR_INTERNAL, "data key envelope too large");
	}
	unsigned char hdr[3] = {ref->aws_managed ? 1 : 0, (unsigned char)(al >> 8), (unsigned char)al};
	unsigned char bh[2] = {(unsigned char)(bl >> 8), (unsigned char)bl};
	buf_put(b, hdr, 3);
	buf_put(b, ref->arn, al);
	buf_put(b, bh, 2);
	buf_put(b, blob, bl);
	free(blob);
	return b->failed ? emu_err_set(err, ERR_INTERNAL, "out of memory") : 0;
}

int secrets_seal(struct store *s, struct emu_call *call, const struct sm_secret *r, const char *vid,
                 const struct sm_value *v, double now, struct sm_sealed *out, struct emu_err *err)
{
	memset(out, 0, sizeof *out);
	out->kind = v->kind;
	struct kms_key_ref ref;
	if (key_for(s, call, r, now, &ref, err) < 0)
		return -1;
	unsigned char dk[DK_LEN];
	util_random(dk, sizeof dk);
	struct buf b;
	buf_init(&b, 0);
	const unsigned char fmt = ENV_FORMAT;
	buf_put(&b, &fmt, 1);
	int rc = envelope(s, &ref, r, vid, dk, now, &b, err);
	size_t al;
	char *aad = value_aad(r, vid, v->kind, &al);
	if (rc == 0 && kms_seal(dk, aad, al, v->data, v->len, &out->ct, &out->ct_len) < 0)
		rc = emu_err_set(err, ERR_INTERNAL, "encryption failed");
	OPENSSL_cleanse(dk, sizeof dk);
	free(aad);
	if (rc < 0) {
		buf_free(&b);
		return -1;
	}
	out->data_keys = (unsigned char *)buf_steal(&b, &out->data_keys_len);
	buf_free(&b);
	json_t *labels = json_pack("[s]", label_of(r));
	out->kms_ids = json_dumps(labels, JSON_COMPACT);
	json_decref(labels);
	return 0;
}

/* The data key of a version, from the first envelope (newest first) whose
 * key the caller may use and KMS can use.  Errors are the preferred
 * (newest) envelope's. */
static int open_dk(struct store *s, struct emu_call *call, const struct sm_secret *r, const char *vid,
                   const void *stored, size_t n, double now, unsigned char dk[DK_LEN], struct emu_err *err)
{
	struct envelope envs[ENV_MAX];
	int count;
	if (envs_parse(stored, n, envs, &count) < 0)
		return emu_err_set(err, ERR_INTERNAL, "stored data key envelopes are malformed");
	const struct secrets_hooks *h = secrets_hooks_get();
	struct emu_err first;
	emu_err_clear(&first);
	json_t *ctx = dk_context(r, vid);
	int rc = -1;
	for (int i = count - 1; i >= 0 && rc < 0; i--) {
		struct emu_err e1;
		emu_err_clear(&e1);
		char arn[KMS_ARN_MAX];
		snprintf(arn, sizeof arn, "%.*s", (int)envs[i].arn_len, (const char *)envs[i].arn);
		unsigned char *pt = NULL;
		size_t pl = 0;
		if (call && h->kms_check && h->kms_check(call, envs[i].managed ? NULL : arn, true, &e1) < 0) {
			/* e1 is the hook's error */
		} else if (kms_service_decrypt(s, r->region, envs[i].blob, envs[i].blob_len, ctx, now, &pt, &pl, NULL,
		                               &e1) < 0) {
			as_sm(&e1, ERR_SM_DECRYPTION_FAILURE);
		} else if (pl != DK_LEN) {
			emu_err_set(&e1, ERR_SM_DECRYPTION_FAILURE, MSG_DEC);
		} else {
			memcpy(dk, pt, DK_LEN);
			rc = 0;
		}
		if (pt)
			OPENSSL_clear_free(pt, pl + 1);
		if (rc < 0 && first.code == ERR_OK)
			first = e1;
	}
	json_decref(ctx);
	if (rc < 0)
		*err = first;
	return rc;
}

int secrets_version_open(struct store *s, struct emu_call *call, const struct sm_secret *r, const char *vid,
                         double now, struct sm_value *v, double *created, struct emu_err *err)
{
	memset(v, 0, sizeof *v);
	sqlite3_stmt *st = store_prep(s, "SELECT kind, value, data_keys, created FROM secret_versions "
	                                 "WHERE secret_id = ?1 AND version_id = ?2");
	if (!st)
		return store_fail(s, err);
	sqlite3_bind_int64(st, 1, r->id);
	store_bind_text(st, 2, vid);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? emu_err_set(err, ERR_SM_RESOURCE_NOT_FOUND,
		                                       "Secrets Manager can't find the specified secret value for "
		                                       "VersionId: %s", vid)
		                         : store_fail(s, err);
	}
	int kind = sqlite3_column_int(st, 0);
	size_t n = (size_t)sqlite3_column_bytes(st, 1);
	unsigned char *stored = util_xcalloc(n + 1, 1);
	if (n)
		memcpy(stored, sqlite3_column_blob(st, 1), n);
	bool legacy = sqlite3_column_type(st, 2) == SQLITE_NULL;
	size_t dn = (size_t)sqlite3_column_bytes(st, 2);
	unsigned char *dks = util_xcalloc(dn + 1, 1);
	if (dn)
		memcpy(dks, sqlite3_column_blob(st, 2), dn);
	if (created)
		*created = sqlite3_column_double(st, 3);
	sqlite3_reset(st);
	rc = 0;
	if (kind == 0) {
		/* a rotation placeholder: no value */
	} else if (legacy) {
		/* Written before values were encrypted (schema < 5): plaintext as stored. */
		v->data = stored;
		v->len = n;
		stored = NULL;
	} else {
		unsigned char dk[DK_LEN];
		rc = open_dk(s, call, r, vid, dks, dn, now, dk, err);
		size_t al;
		char *aad = value_aad(r, vid, kind, &al);
		if (rc == 0 && kms_open(dk, aad, al, stored, n, &v->data, &v->len) < 0)
			rc = emu_err_set(err, ERR_SM_DECRYPTION_FAILURE, MSG_DEC);
		OPENSSL_cleanse(dk, sizeof dk);
		free(aad);
	}
	free(dks);
	if (stored)
		OPENSSL_clear_free(stored, n + 1);
	if (rc < 0) {
		secrets_value_free(v);
		return -1;
	}
	v->kind = kind;
	return 0;
}

int secrets_version_same(struct store *s, const struct sm_secret *r, const char *vid, const struct sm_value *v,
                         double now, struct emu_err *err)
{
	struct sm_value cur;
	if (secrets_version_open(s, NULL, r, vid, now, &cur, NULL, err) < 0)
		return err->code == ERR_SM_RESOURCE_NOT_FOUND ? 0 : -1;
	int same = cur.kind == v->kind && cur.len == v->len && (cur.len == 0 || CRYPTO_memcmp(cur.data, v->data, cur.len) == 0);
	secrets_value_free(&cur);
	return same;
}

static char *placeholder_labels(const struct sm_secret *r)
{
	json_t *a = json_pack("[s]", label_of(r));
	char *t = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return t;
}

static void bind_sealed(sqlite3_stmt *st, int kind_i, int value_i, int dks_i, const struct sm_sealed *sv)
{
	sqlite3_bind_int(st, kind_i, sv ? sv->kind : 0);
	if (sv && sv->kind)
		sqlite3_bind_blob(st, value_i, sv->ct, (int)sv->ct_len, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, value_i);
	if (sv && sv->kind)
		sqlite3_bind_blob(st, dks_i, sv->data_keys, (int)sv->data_keys_len, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, dks_i);
}

int secrets_version_insert(struct store *s, const struct sm_secret *r, const char *vid, const struct sm_sealed *sv,
                           double now, struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "INSERT INTO secret_versions(secret_id, version_id, kind, value, created, "
	                                 "kms_key_ids, data_keys) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
	if (!st)
		return store_fail(s, err);
	char *labels = sv && sv->kind ? NULL : placeholder_labels(r);
	sqlite3_bind_int64(st, 1, r->id);
	store_bind_text(st, 2, vid);
	bind_sealed(st, 3, 4, 7, sv);
	sqlite3_bind_double(st, 5, secrets_ms(now));
	store_bind_text(st, 6, labels ? labels : sv->kms_ids);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	free(labels);
	return rc == SQLITE_DONE ? 0 : store_fail(s, err);
}

int secrets_version_fill(struct store *s, const struct sm_secret *r, const char *vid, const struct sm_sealed *sv,
                         struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(s, "UPDATE secret_versions SET kind = ?3, value = ?4, kms_key_ids = ?5, "
	                                 "data_keys = ?6 WHERE secret_id = ?1 AND version_id = ?2");
	if (!st)
		return store_fail(s, err);
	sqlite3_bind_int64(st, 1, r->id);
	store_bind_text(st, 2, vid);
	bind_sealed(st, 3, 4, 6, sv);
	store_bind_text(st, 5, sv->kms_ids);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, err);
}

/* ---- changing the key (UpdateSecret KmsKeyId) ------------------------------------------ */

/* Adds an envelope under r's (new) key to one version, unless it has one. */
static int rewrap_one(struct emu_call *call, const struct sm_secret *r, const char *vid,
                      const struct kms_key_ref *ref, struct emu_err *err)
{
	struct store *s = call->store;
	sqlite3_stmt *st = store_prep(s, "SELECT kind, data_keys, kms_key_ids FROM secret_versions "
	                                 "WHERE secret_id = ?1 AND version_id = ?2");
	if (!st)
		return store_fail(s, err);
	sqlite3_bind_int64(st, 1, r->id);
	store_bind_text(st, 2, vid);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return 0;
	}
	int kind = sqlite3_column_int(st, 0);
	bool legacy = sqlite3_column_type(st, 1) == SQLITE_NULL;
	struct buf envs;
	buf_init(&envs, 0);
	if (!legacy)
		buf_put(&envs, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1));
	json_t *labels = store_col_text(st, 2) ? json_loads(store_col_text(st, 2), 0, NULL) : NULL;
	sqlite3_reset(st);
	int rc = 0, count;
	struct envelope parsed[ENV_MAX];
	bool has = false;
	if (kind == 0 || legacy || envs.failed || envs_parse(envs.data, envs.len, parsed, &count) < 0 || count == ENV_MAX)
		goto out;
	for (int i = 0; i < count; i++)
		has = has || (parsed[i].arn_len == strlen(ref->arn) && memcmp(parsed[i].arn, ref->arn, parsed[i].arn_len) == 0);
	if (has)
		goto out;
	unsigned char dk[DK_LEN];
	struct emu_err why;
	emu_err_clear(&why);
	/* [M] without kms:Decrypt on the previous key (or when it cannot be
	 * used) the version is simply not re-encrypted. */
	if (open_dk(s, call, r, vid, envs.data, envs.len, call->now, dk, &why) < 0)
		goto out;
	rc = envelope(s, ref, r, vid, dk, call->now, &envs, &why);
	OPENSSL_cleanse(dk, sizeof dk);
	if (rc < 0) { /* the new key cannot be used (disabled, pending deletion) */
		if (why.code == ERR_INTERNAL)
			*err = why;
		else
			rc = 0;
		goto out;
	}
	if (!json_is_array(labels)) {
		json_decref(labels);
		labels = json_array();
	}
	json_array_append_new(labels, json_string(label_of(r)));
	char *lt = json_dumps(labels, JSON_COMPACT);
	st = store_prep(s, "UPDATE secret_versions SET data_keys = ?3, kms_key_ids = ?4 WHERE secret_id = ?1 AND "
	                   "version_id = ?2");
	if (st) {
		sqlite3_bind_int64(st, 1, r->id);
		store_bind_text(st, 2, vid);
		sqlite3_bind_blob(st, 3, envs.data, (int)envs.len, SQLITE_TRANSIENT);
		store_bind_text(st, 4, lt);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	free(lt);
	if (!st || rc < 0)
		rc = store_fail(s, err);
out:
	buf_free(&envs);
	json_decref(labels);
	return rc;
}

int secrets_rewrap_labelled(struct emu_call *call, const struct sm_secret *r, struct emu_err *err)
{
	static const char *const stages[] = {SM_CURRENT, SM_PENDING, SM_PREVIOUS};
	char vids[3][SM_VID_MAX];
	int n = 0;
	for (int i = 0; i < 3; i++) {
		char vid[SM_VID_MAX];
		int rc = secrets_stage_holder(call->store, r->id, stages[i], vid, err);
		if (rc < 0)
			return -1;
		bool dup = false;
		for (int j = 0; j < n; j++)
			dup = dup || strcmp(vids[j], vid) == 0;
		if (rc == 1 && !dup)
			snprintf(vids[n++], SM_VID_MAX, "%s", vid);
	}
	if (n == 0)
		return 0;
	/* [M] "If you don't have kms:Encrypt permission to the new key, Secrets
	 * Manager does not re-encrypt existing secret versions with the new key."
	 * Choice: the same when the new key cannot be used at all (unknown,
	 * disabled): the change is recorded, and the next new value fails with
	 * EncryptionFailure. */
	struct kms_key_ref ref;
	struct emu_err why;
	emu_err_clear(&why);
	if (kms_service_key(call->store, r->account, r->region, r->kms_key_id, "secretsmanager", call->now, &ref, &why) < 0) {
		if (why.code == ERR_INTERNAL)
			*err = why;
		return why.code == ERR_INTERNAL ? -1 : 0;
	}
	const struct secrets_hooks *h = secrets_hooks_get();
	if (h->kms_check && h->kms_check(call, ref.aws_managed ? NULL : ref.arn, false, &why) < 0)
		return 0;
	for (int i = 0; i < n; i++)
		if (rewrap_one(call, r, vids[i], &ref, err) < 0)
			return -1;
	return 0;
}

int secrets_reseal_for(struct store *s, const struct sm_secret *from, const struct sm_secret *to, const char *vid,
                       double now, struct sm_sealed *out, struct emu_err *err)
{
	struct sm_value v;
	memset(out, 0, sizeof *out);
	if (secrets_version_open(s, NULL, from, vid, now, &v, NULL, err) < 0)
		return -1;
	int rc = v.kind ? secrets_seal(s, NULL, to, vid, &v, now, out, err) : 0;
	secrets_value_free(&v);
	return rc;
}
