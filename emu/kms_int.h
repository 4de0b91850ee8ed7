/*
 * Internals shared by emu/kms.c (keys, material, blobs, lookup, service
 * face) and emu/kms_ops.c (the API operations); not for other modules.
 */
#ifndef EMU_KMS_INT_H
#define EMU_KMS_INT_H

#include "emu/kms.h"
#include "emu/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum kms_state {
	KMS_STATE_ENABLED = 0,
	KMS_STATE_DISABLED = 1,
	KMS_STATE_PENDING_DELETION = 2,
};

#define KMS_REGION_MAX 64
#define KMS_PLAINTEXT_MAX 4096  /* Encrypt's Plaintext */
#define KMS_BLOB_MAX 6144       /* CiphertextBlob */
#define KMS_TAGS_MAX 50
#define KMS_ALIAS_MAX 256
#define KMS_DESCRIPTION_MAX 8192
#define KMS_POLICY_MAX 131072
#define KMS_MANAGED_SM_ALIAS "alias/aws/secretsmanager"

/* One row of kms_keys (without description, policy and material). */
struct kms_key {
	char id[40];
	char arn[KMS_ARN_MAX];
	char account[16];
	char region[KMS_REGION_MAX];
	bool aws_managed;
	int state; /* enum kms_state */
	double created, deletion_date;
	int pending_days;
};

/* ---- request members (kms.c) ----------------------------------------------------- */
/* Absent or null member -> *out NULL / default and 0 unless required (then
 * coral's "Member must not be null").  Wrong JSON type -> SerializationException;
 * limits -> ValidationException ("1 validation error detected: ..."). */
int kms_in_str(json_t *in, const char *key, bool required, size_t min, size_t max, const char **out,
               struct emu_err *err);
int kms_in_int(json_t *in, const char *key, long long lo, long long hi, long long *out, bool *present,
               struct emu_err *err);
int kms_in_bool(json_t *in, const char *key, bool *out, struct emu_err *err);
/* A base64 blob of min..max decoded bytes; the encoded length is checked
 * before anything is allocated.  *out is new (OPENSSL_clear_free it). */
int kms_in_blob(json_t *in, const char *key, bool required, size_t min, size_t max, unsigned char **out, size_t *n,
                struct emu_err *err);
/* An EncryptionContext-shaped member: object of strings (borrowed) or NULL. */
int kms_in_ctx(json_t *in, const char *key, json_t **out, struct emu_err *err);
/* The Limit / Marker pair of list operations: offset into the listing. */
int kms_in_page(json_t *in, const char *what, long long max_limit, long long dflt, long long *limit, long long *off,
                struct emu_err *err);
/* Marker for the page after `off` items of listing `what`. */
void kms_marker(const char *what, long long off, char out[64]);

/* ---- keys (kms.c) --------------------------------------------------------------------- */
/* "arn:<partition>:kms:<region>:<account>:" */
void kms_arn_prefix(const char *region, const char *account, char *out, size_t n);
/* A key named by key id, key ARN, alias name or alias ARN, in (account,
 * region) unless an ARN names another account (same region only).  A key
 * past its deletion date counts as gone.  alias/aws/secretsmanager is
 * created on first reference.  ERR_KMS_NOT_FOUND with KMS's texts. */
int kms_find(struct store *s, const char *account, const char *region, double now, const char *key_id,
             struct kms_key *out, struct emu_err *err);
/* kms_find for call's account and region. */
int kms_find_call(struct emu_call *call, const char *key_id, struct kms_key *out, struct emu_err *err);
/* The key with this id in region (any account): 1 found, 0 not, -1 error. */
int kms_key_by_id(struct store *s, const char *id, const char *region, double now, struct kms_key *out,
                  struct emu_err *err);
/* DisabledException / KMSInvalidStateException unless the key is Enabled. */
int kms_check_usable(const struct kms_key *k, struct emu_err *err);
/* Creates a customer (aws_managed false) or AWS managed key; material drawn
 * at random and sealed under the master key. */
int kms_key_create(struct store *s, const char *account, const char *region, double now, bool aws_managed,
                   const char *description, const char *policy, struct kms_key *out, struct emu_err *err);
/* The AWS managed key of a service ("secretsmanager") in (account, region),
 * created with its alias and policy when it does not exist yet. */
int kms_managed_key(struct store *s, const char *account, const char *region, const char *service, double now,
                    struct kms_key *out, struct emu_err *err);
/* The default key policy of a customer key (AWS's text) as a new string. */
char *kms_default_policy(const char *account);

/* ---- ciphertext blobs (kms.c) ----------------------------------------------------------- */
/* Blob v1: version byte 1 | key id (16 bytes) | nonce (12) | ciphertext | tag (16).
 * AAD: version byte | key id | the encryption context in canonical form (pairs sorted by key,
 * each be32 length + key + be32 length + value). */
int kms_key_encrypt(struct store *s, const struct kms_key *k, json_t *ctx, const void *pt, size_t n,
                    unsigned char **blob, size_t *blob_len, struct emu_err *err);
/* The key id a blob names: 0, or -1 with InvalidCiphertextException. */
int kms_blob_key_id(const unsigned char *blob, size_t n, char id[40], struct emu_err *err);
/* Decrypts a blob under key k (which must be the blob's key);
 * InvalidCiphertextException on any mismatch.  *pt as kms_open. */
int kms_key_decrypt(struct store *s, const struct kms_key *k, json_t *ctx, const unsigned char *blob, size_t n,
                    unsigned char **pt, size_t *pt_len, struct emu_err *err);

/* Defines the public operation `fn` as `impl` run in one savepoint, after
 * purging keys whose deletion date passed. */
int kms_tx_begin(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err);
#define KMS_TX_OP(fn, impl)                                                                        \
	int fn(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)               \
	{                                                                                          \
		if (kms_tx_begin(call, in, out, err) < 0)                                          \
			return -1;                                                                 \
		return store_finish_json(call->store, impl(call, in, out, err), out, err);         \
	}

#endif
