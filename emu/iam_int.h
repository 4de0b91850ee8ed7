/*
 * Internals shared by the emu/iam*.c files (not for other modules): the
 * principal and policy rows, request-member accessors with IAM's
 * (coral's) validation texts, identifiers and ARNs, tags, paging, policy
 * lookup (customer managed rows and the static AWS managed set), document
 * encoding, and the savepoint wrapper every operation runs in.
 */
#ifndef EMU_IAM_INT_H
#define EMU_IAM_INT_H

#include "emu/call.h"
#include "emu/err.h"
#include "emu/iam.h"
#include "emu/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define IAM_NAME_MAX 64          /* user and role names */
#define IAM_POLICY_NAME_MAX 128  /* managed and inline policy names */
#define IAM_PATH_MAX 512
#define IAM_ARN_MAX 1100         /* every ARN rdsemu builds fits (13+12+8+512+128) */
#define IAM_DOC_MAX 131072       /* characters of a policy document (model) */
#define IAM_DESC_MAX 1000
#define IAM_TAGS_MAX 50          /* per resource and per request */
#define IAM_KEYS_PER_USER 2
#define IAM_ATTACHED_MAX 10      /* managed policies per user / role (default quota) */
#define IAM_VERSIONS_MAX 5

#define IAM_USER_INLINE_MAX 2048   /* non-whitespace characters of all inline policies of a user */
#define IAM_ROLE_INLINE_MAX 10240  /* ... of a role */
#define IAM_MAX_ITEMS_DEFAULT 100

#define IAM_AWS_POLICY_PREFIX "arn:aws:iam::aws:policy/"

/* Owners: users and roles share iam_principals; tags also hang on policies. */
enum iam_kind { IAM_KIND_USER = 1, IAM_KIND_ROLE = 2, IAM_KIND_POLICY = 3 };

/* Per-kind words for members and messages. */
struct iam_kind_info {
	const char *noun;          /* "user" */
	const char *name_member;   /* "UserName" */
	const char *id_member;     /* "UserId" */
	const char *id_prefix;     /* "AIDA" */
	const char *arn_type;      /* "user" (ARN resource type) */
	const char *quota_word;    /* "User" as in "PoliciesPerUser" */
	int inline_max;            /* aggregate inline policy size */
};
const struct iam_kind_info *iam_kind_info(int kind);

/* One row of iam_principals (a user or a role).  Role-only fields are
 * zero/NULL for users; trust and description are owned. */
struct iam_entity {
	int kind;
	long long id;
	char account[13];
	char name[IAM_NAME_MAX * 2 + 1];
	char path[IAM_PATH_MAX + 1];
	char unique_id[32];
	char arn[IAM_ARN_MAX];
	double created;
	char boundary[IAM_ARN_MAX]; /* PermissionsBoundary policy ARN, "" = none */
	char *trust;                /* roles: AssumeRolePolicyDocument (JSON text) */
	char *description;          /* roles: NULL = none */
	int max_session;
	double last_used;           /* 0 = never */
	char last_region[64];
};
void iam_entity_free(struct iam_entity *e);

/* ---- request members (iam.c) --------------------------------------------- */
/* NULL or JSON null -> absent.  Wrong JSON type -> SerializationException;
 * constraint violations -> ValidationError in coral's "1 validation error
 * detected: Value 'v' at 'member' failed to satisfy constraint: ..." form
 * (member names lowerCamel). */
json_t *iam_member(json_t *in, const char *key);
int iam_in_str(json_t *in, const char *key, bool required, size_t min, size_t max, const char **out,
               struct emu_err *err);
/* A name matching [\w+=,.@-]+ of 1..max characters. */
int iam_in_name(json_t *in, const char *key, bool required, size_t max, const char **out, struct emu_err *err);
enum iam_path_style {
	IAM_PATH_ENTITY,        /* (\u002F)|(\u002F[\u0021-\u007E]+\u002F) */
	IAM_PATH_POLICY,        /* ((/[A-Za-z0-9\.,\+@=_-]+)*)/ */
	IAM_PATH_PREFIX,        /* \u002F[\u0021-\u007F]* (ListUsers, ListRoles) */
};
/* Absent -> *out = "/" (IAM_PATH_PREFIX: NULL). */
int iam_in_path(json_t *in, const char *key, enum iam_path_style style, const char **out, struct emu_err *err);
int iam_in_int(json_t *in, const char *key, long long lo, long long hi, long long dflt, long long *out,
               bool *present, struct emu_err *err);
int iam_in_bool(json_t *in, const char *key, bool dflt, bool *out, struct emu_err *err);
/* One of `values` (NULL-terminated); absent -> dflt. */
int iam_in_enum(json_t *in, const char *key, bool required, const char *const *values, const char *dflt,
                const char **out, struct emu_err *err);
/* A policy document member (required): length and characters as the
 * model says, then iam_policy_doc_check. */
int iam_in_doc(json_t *in, const char *key, enum iam_doc_kind kind, const char **out, struct emu_err *err);
/* A policy ARN member (required, 20..2048). */
int iam_in_arn(json_t *in, const char *key, const char **out, struct emu_err *err);
/* Description of a role or policy (optional, 0..1000). */
int iam_in_desc(json_t *in, const char *key, bool role, const char **out, struct emu_err *err);
/* Tags member: array of {Key, Value}, at most 50, no duplicate keys
 * (case-insensitively); *out borrowed, NULL when absent. */
int iam_in_tags(json_t *in, const char *key, bool required, json_t **out, struct emu_err *err);
/* TagKeys member: array of 1..50 strings of 1..128 characters (borrowed). */
int iam_in_tag_keys(json_t *in, json_t **out, struct emu_err *err);
/* `in` must be an object (NULL reads as {}). */
int iam_check_in(json_t *in, struct emu_err *err);

/* ---- identifiers (iam.c) ---------------------------------------------------- */
/* prefix + 17 characters [A-Z0-9]. */
void iam_unique_id(const char *prefix, char out[32]);
/* arn:aws:iam::ACCOUNT:TYPE PATH NAME ("user", "/", "bob" -> ...:user/bob). */
void iam_arn(char *out, size_t n, const char *account, const char *type, const char *path, const char *name);

/* ---- principals (iam.c) -------------------------------------------------- */
/* 1 found, 0 absent, -1 storage error.  Names compare case-insensitively. */
int iam_entity_lookup(struct store *s, const char *account, int kind, const char *name, struct iam_entity *e,
                      struct emu_err *err);
/* The same, NoSuchEntity ("The user with name X cannot be found.") when absent. */
int iam_entity_find(struct store *s, const char *account, int kind, const char *name, struct iam_entity *e,
                    struct emu_err *err);
/* By the entity ARN (user or role ARN, exact): 1/0/-1. */
int iam_entity_by_arn(struct store *s, const char *arn, struct iam_entity *e, struct emu_err *err);
/* The user of member UserName, or the caller when the member is absent:
 * 1 = a user in *e; 0 = the caller is the account root (no user);
 * -1 = error (a role session or other caller: ValidationError). */
int iam_user_or_caller(struct emu_call *call, json_t *in, struct iam_entity *e, struct emu_err *err);
/* Creates a user or role in call->account (unique id and ARN generated;
 * EntityAlreadyExists when the name is taken, whatever its case) and
 * loads it into *e.  trust/description/max_session: roles only. */
int iam_entity_create(struct emu_call *call, int kind, const char *name, const char *path, const char *boundary,
                      const char *trust, const char *description, int max_session, struct iam_entity *e,
                      struct emu_err *err);
/* The PermissionsBoundary member: absent, or the ARN of a managed policy
 * visible to the caller (NoSuchEntity "... does not exist or is not attachable."). */
int iam_in_boundary(struct emu_call *call, json_t *in, const char **out, struct emu_err *err);
/* ListUsers / ListRoles (PathPrefix, paging). */
int iam_list_entities(struct emu_call *call, int kind, json_t *in, json_t **out, struct emu_err *err);
/* Numbers of inline and attached policies of a principal. */
int iam_entity_policy_counts(struct store *s, long long id, long long *inl, long long *att, struct emu_err *err);
/* Deletes the row and its tags (the caller checked for conflicts). */
int iam_entity_delete(struct store *s, const struct iam_entity *e, struct emu_err *err);
/* The User / Role structure.  full: GetUser/GetRole/Create* (Tags,
 * PermissionsBoundary, RoleLastUsed); otherwise the List* entry. */
json_t *iam_entity_json(struct store *s, const struct iam_entity *e, bool full);

/* ---- tags (iam.c) -------------------------------------------------------------- */
/* Merges tags (validated) into the owner's tags; LimitExceeded over 50.
 * User and role keys compare case-insensitively; policy keys exactly. */
int iam_tags_add(struct store *s, int kind, long long owner, json_t *tags, struct emu_err *err);
int iam_tags_remove(struct store *s, int kind, long long owner, json_t *keys, struct emu_err *err);
int iam_tags_drop(struct store *s, int kind, long long owner, struct emu_err *err);
/* [{Key, Value}] in insertion order (new array, possibly empty). */
json_t *iam_tags_json(struct store *s, int kind, long long owner);

/* ---- paging (iam.c) ------------------------------------------------------------ */
/* Cuts items (reference stolen) by the Marker and MaxItems members of in,
 * into out: key, IsTruncated and, when truncated, Marker. */
int iam_page(json_t *in, json_t *items, const char *key, json_t *out, struct emu_err *err);

/* ---- policies (iam_policies.c, iam_managed.c) ---------------------------------- */
/* An AWS managed policy (static data, iam_managed.c). */
struct iam_managed {
	const char *name, *path, *id, *version, *description, *document;
	long long created, updated;
};
/* By ARN (exact), or NULL. */
const struct iam_managed *iam_managed_find(const char *arn);
const struct iam_managed *iam_managed_at(size_t i); /* NULL past the end */

/* A managed policy: a customer managed row (aws == NULL) or AWS's. */
struct iam_mpolicy {
	const struct iam_managed *aws;
	long long id;
	char name[IAM_POLICY_NAME_MAX + 1];
	char path[IAM_PATH_MAX + 1];
	char arn[IAM_ARN_MAX];
	char unique_id[32];
	char default_version[32];
	char *description;       /* owned, NULL = none */
	double created, updated;
	long long next_version;
};
void iam_policies_free(struct iam_mpolicy *p);
enum iam_miss {
	IAM_MISS_NOT_FOUND,      /* "Policy X was not found." */
	IAM_MISS_NOT_ATTACHABLE, /* "Policy X does not exist or is not attachable." */
};
/* The policy with this ARN visible to call->account (its own or AWS's);
 * InvalidInput for a malformed ARN, NoSuchEntity (text per `miss`) when absent. */
int iam_policies_find(struct emu_call *call, const char *arn, enum iam_miss miss, struct iam_mpolicy *p,
                    struct emu_err *err);
/* "arn:" and at least five more ':'-separated parts (else InvalidInput
 * "ARN X is not valid."). */
bool iam_arn_shaped(const char *arn);
/* The default version's document (new string) or NULL on a storage error. */
char *iam_policies_doc(struct store *s, const struct iam_mpolicy *p, struct emu_err *err);

/* ---- documents (iam.c) --------------------------------------------------------- */
/* The document as IAM returns it on the wire: URL-encoded (RFC 3986). */
json_t *iam_doc_json(const char *doc);
/* Characters (code points) that count against IAM's size quotas: white
 * space (space, tab, CR, LF) excluded. */
size_t iam_doc_size(const char *doc);
/* A JSON string of text, or a JSON object serialized compactly (fixtures). */
char *iam_doc_text(json_t *v);

/* ---- transactions and rendering (iam.c) ---------------------------------------- */
json_t *iam_ts(double t);

/* Defines the public operation `fn` as `impl` run inside one savepoint:
 * released when impl succeeds, rolled back when it fails. */
#define IAM_TX_OP(fn, impl)                                                                        \
	int fn(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)               \
	{                                                                                          \
		*out = NULL;                                                                       \
		if (iam_check_in(in, err) < 0)                                                     \
			return -1;                                                                 \
		if (store_begin(call->store) < 0)                                                  \
			return emu_err_set(err, ERR_INTERNAL, "internal storage error");           \
		return store_finish_json(call->store, impl(call, in, out, err), out, err);         \
	}

/* ---- access keys (iam_users.c), used by the fixture loader --------------------- */
/* Inserts a long-term key for user e (NULL = the account root of
 * call->account) into access_keys; id/secret NULL = generate.  The
 * AccessKey structure goes to *out when out is not NULL. */
int iam_key_insert(struct emu_call *call, const struct iam_entity *e, const char *id, const char *secret,
                   const char *status, json_t **out, struct emu_err *err);

#endif
