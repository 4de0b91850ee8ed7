/*
 * KMS: symmetric keys (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT), aliases, tags
 * and key policies per (account, region); Encrypt / Decrypt /
 * GenerateDataKey / ReEncrypt; enable, disable, scheduled deletion; the AWS
 * managed key aws/secretsmanager (created on first use).  Two faces:
 *
 *  1. The KMS API (JSON 1.1, TrentService): one domain function per
 *     operation, JSON in, JSON out, like the Secrets Manager domain
 *     (`in` any JSON: wrong types give an error, never a crash; on success
 *     *out is a new object or NULL for `{}`; every call runs in one
 *     savepoint).  State is scoped by call->account and call->region; a key
 *     or alias ARN may name a key of another account in the same region
 *     (the authorization layer decides whether the caller may use it).
 *
 *  2. A service face for other emulated services that encrypt with KMS
 *     keys on a customer's behalf (Secrets Manager's envelope encryption):
 *     resolve the key a resource names, wrap and unwrap data keys.  No
 *     authorization here: the calling service asks its own hooks.
 *
 * Key material: 32 random bytes per key, stored in SQLite sealed
 * (AES-256-GCM) under a master key that never enters the database: the
 * file <state-dir>/master.key (32 bytes, mode 0600, created at first
 * start), or a random in-memory key for an in-memory store.
 *
 * Start-up (main.c): after store_open and before loading fixtures,
 *     if (kms_init(store, cfg.ephemeral ? NULL : cfg.state_dir, &err) < 0) fail;
 * and kms_shutdown() at exit (wipes the master key).  The janitor may call
 * kms_purge_due(store, now) to delete keys whose waiting period ended (the
 * KMS operations also purge, and lookups treat such keys as gone).
 * Without kms_init, the first use initialises from the store's database
 * location (the directory of rdsemu.db, or in memory), so unit tests and
 * tools need no set-up; kms_init is the way to fail at start instead of on
 * a request.
 */
#ifndef EMU_KMS_H
#define EMU_KMS_H

#include "emu/call.h"
#include "emu/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct store;

#define KMS_OP(name) int kms_##name(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
KMS_OP(cancel_key_deletion);
KMS_OP(create_alias);
KMS_OP(create_key);
KMS_OP(decrypt);
KMS_OP(delete_alias);
KMS_OP(describe_key);
KMS_OP(disable_key);
KMS_OP(enable_key);
KMS_OP(encrypt);
KMS_OP(generate_data_key);
KMS_OP(generate_data_key_without_plaintext);
KMS_OP(generate_random);
KMS_OP(get_key_policy);
KMS_OP(list_aliases);
KMS_OP(list_key_policies);
KMS_OP(list_keys);
KMS_OP(list_resource_tags);
KMS_OP(put_key_policy);
KMS_OP(re_encrypt);
KMS_OP(schedule_key_deletion);
KMS_OP(tag_resource);
KMS_OP(untag_resource);
KMS_OP(update_alias);
KMS_OP(update_key_description);
#undef KMS_OP

/* ---- process ------------------------------------------------------------------ */

/* Loads (or creates) the master key: state_dir NULL = a random key kept in
 * memory; else <state_dir>/master.key.  A missing file is created (0600,
 * atomically) unless the store already holds KMS keys (they would be
 * unreadable: refused); an existing file must be a regular 32-byte file,
 * and must unwrap the store's keys (a master.key from another state dir is
 * refused).  s may be NULL (no check).  May be called again (replaces). */
int kms_init(struct store *s, const char *state_dir, struct emu_err *err);
/* Wipes the master key; the next use initialises again. */
void kms_shutdown(void);
/* Deletes keys (and their aliases and tags) whose scheduled deletion date
 * is at or before now.  Returns the number deleted, or -1. */
int kms_purge_due(struct store *s, double now);

/* ---- service face (envelope encryption for other services) -------------------- */

#define KMS_ARN_MAX 400

/* A key as a service sees it. */
struct kms_key_ref {
	char id[40];              /* uuid */
	char arn[KMS_ARN_MAX];    /* arn:aws:kms:REGION:ACCOUNT:key/ID */
	bool aws_managed;
};

/* The key a resource of (account, region) names: key_id as key id, key ARN,
 * alias name or alias ARN; NULL or "" = the AWS managed key of `service`
 * ("secretsmanager" -> alias/aws/secretsmanager), created on first use.
 * KMS errors (ERR_KMS_NOT_FOUND, ...) with KMS's messages. */
int kms_service_key(struct store *s, const char *account, const char *region, const char *key_id,
                    const char *service, double now, struct kms_key_ref *out, struct emu_err *err);
/* Encrypts pt (1..4096 bytes) under the key with an encryption context (a
 * JSON object of strings, or NULL): *blob is a new ciphertext blob (free()).
 * Fails as KMS does when the key is disabled or pending deletion. */
int kms_service_encrypt(struct store *s, const struct kms_key_ref *key, json_t *ctx, const void *pt, size_t n,
                        double now, unsigned char **blob, size_t *blob_len, struct emu_err *err);
/* Decrypts a blob made by KMS (any key of any account, in `region`): *pt is
 * new (wipe and free it: OPENSSL_clear_free(*pt, *pt_len)); *key (may be
 * NULL) names the key that was used. */
int kms_service_decrypt(struct store *s, const char *region, const unsigned char *blob, size_t blob_len, json_t *ctx,
                        double now, unsigned char **pt, size_t *pt_len, struct kms_key_ref *key,
                        struct emu_err *err);

/* ---- AES-256-GCM with a random nonce (the one sealing format) ----------------------- */

#define KMS_SEAL_OVERHEAD 28 /* 12-byte nonce + 16-byte tag */

/* *out = nonce || ciphertext || tag (n + KMS_SEAL_OVERHEAD bytes, malloc'd).
 * Never fails short of a broken crypto library (then -1). */
int kms_seal(const unsigned char key[32], const void *aad, size_t aad_len, const void *pt, size_t n,
             unsigned char **out, size_t *out_len);
/* Inverse; -1 when the input is malformed or fails authentication (then
 * nothing is returned).  *pt is malloc'd (at least 1 byte). */
int kms_open(const unsigned char key[32], const void *aad, size_t aad_len, const unsigned char *in, size_t n,
             unsigned char **pt, size_t *pt_len);

#endif
