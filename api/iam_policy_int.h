/*
 * Internals of the IAM policy evaluator, shared by iam_policy.c (parser and
 * compiler), iam_pattern.c (wildcards, ARNs, policy variables), iam_cond.c
 * (condition keys and operators) and iam_policy_eval.c (evaluation).  Not
 * for use outside these four files.
 */
#ifndef API_IAM_POLICY_INT_H
#define API_IAM_POLICY_INT_H

#include "api/iam_policy.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Units of a pattern after variable expansion, on the evaluator's stack. */
#define IAM_EXPAND_MAX 4096
/* A variable's value or a request string longer than this never matches a
 * pattern that needs expansion (bounds the stack buffers). */
#define IAM_VALUE_MAX 2048

/* ---- arena: every allocation of a compiled policy, freed at once ---- */
struct iam_arena_blk;
struct iam_arena {
	struct iam_arena_blk *head;
};
void *iam_arena_alloc(struct iam_arena *a, size_t n); /* zeroed, 16-aligned; aborts on OOM */
char *iam_arena_strndup(struct iam_arena *a, const char *s, size_t n);
void iam_arena_free(struct iam_arena *a);

/* ---- condition keys ---- */
/* Keys the evaluator derives from struct iam_request fields. */
enum iam_key_id {
	IAM_KEY_OTHER,
	IAM_KEY_PRINCIPAL_ARN,
	IAM_KEY_PRINCIPAL_ACCOUNT,
	IAM_KEY_PRINCIPAL_TYPE,
	IAM_KEY_USERNAME,
	IAM_KEY_USERID,
	IAM_KEY_SOURCE_IP,
	IAM_KEY_SECURE_TRANSPORT,
	IAM_KEY_CURRENT_TIME,
	IAM_KEY_EPOCH_TIME,
	IAM_KEY_RESOURCE_ACCOUNT,
};

struct iam_key {
	const char *name; /* as written in the policy (keys compare case-insensitively) */
	uint32_t len;
	uint8_t id; /* enum iam_key_id */
};

void iam_key_init(struct iam_key *k, const char *name, size_t len);

/* ---- patterns ---- */
enum iam_tok_type {
	IAM_TOK_TEXT, /* literal bytes */
	IAM_TOK_STAR, /* '*' */
	IAM_TOK_ONE,  /* '?' */
	IAM_TOK_VAR,  /* ${key} or ${key, 'default'} */
};

struct iam_tok {
	uint8_t type;
	bool has_def;
	uint32_t len;    /* TEXT */
	const char *s;   /* TEXT */
	const char *def; /* VAR default */
	uint32_t dlen;
	struct iam_key key; /* VAR */
};

enum iam_pat_kind {
	IAM_PAT_ANY,    /* "*" with wildcards on */
	IAM_PAT_EXACT,  /* literal text */
	IAM_PAT_PREFIX, /* literal text then one trailing '*' */
	IAM_PAT_GLOB,   /* wildcards, no variables: precompiled units */
	IAM_PAT_VARS,   /* has variables: expanded at evaluation */
};

/* Units: 0..255 a literal byte, IAM_U_ONE '?', IAM_U_STAR '*'. */
#define IAM_U_ONE 256u
#define IAM_U_STAR 257u

struct iam_pat {
	uint8_t kind;
	uint32_t len;       /* EXACT, PREFIX: bytes of text */
	const char *text;   /* EXACT, PREFIX */
	const uint16_t *u;  /* GLOB */
	uint32_t nu;
	const struct iam_tok *tok; /* VARS */
	uint32_t ntok;
};

/* Pattern compile flags. */
#define IAM_PC_WILD 1u /* '*' and '?' are wildcards */
#define IAM_PC_VARS 2u /* ${...} are policy variables (Version 2012-10-17) */

/* Match modes. */
#define IAM_PM_ICASE 1u /* ASCII case-insensitive (actions, ...IgnoreCase) */
#define IAM_PM_ARN 2u   /* the six ARN components are matched separately */

struct iam_ev; /* per-evaluation state (iam_policy_eval.c) */

void iam_pattern_compile(struct iam_arena *a, const char *s, size_t len, unsigned flags, struct iam_pat *out);
/* Does subject s (n bytes) match?  A pattern whose variable cannot be
 * resolved (absent key, no default) matches nothing. */
bool iam_pattern_match(const struct iam_pat *p, const char *s, size_t n, unsigned mode, const struct iam_ev *ev);

/* ---- conditions ---- */
enum iam_cop {
	IAM_COP_STR_EQ,
	IAM_COP_STR_EQ_IC,
	IAM_COP_STR_LIKE,
	IAM_COP_NUM_EQ,
	IAM_COP_NUM_LT,
	IAM_COP_NUM_LE,
	IAM_COP_NUM_GT,
	IAM_COP_NUM_GE,
	IAM_COP_DATE_EQ,
	IAM_COP_DATE_LT,
	IAM_COP_DATE_LE,
	IAM_COP_DATE_GT,
	IAM_COP_DATE_GE,
	IAM_COP_BOOL,
	IAM_COP_BIN_EQ,
	IAM_COP_IP,
	IAM_COP_ARN,
	IAM_COP_NULL,
};

enum iam_set {
	IAM_SET_NONE,
	IAM_SET_ANY, /* ForAnyValue: */
	IAM_SET_ALL, /* ForAllValues: */
};

struct iam_cidr {
	uint8_t family; /* 4 or 6 */
	uint8_t bits;
	uint8_t addr[16];
};

struct iam_cval {
	struct iam_pat pat; /* string, ARN, binary operators */
	double num;         /* numeric (number), date (seconds), bool (0/1), Null (0/1) */
	bool ok;            /* the value parsed for its operator (an invalid one never matches) */
	struct iam_cidr ip;
};

struct iam_cond {
	uint8_t op;  /* enum iam_cop */
	uint8_t set; /* enum iam_set */
	bool neg;
	bool if_exists;
	struct iam_key key;
	struct iam_cval *vals;
	uint32_t nvals;
};

/* Operator name -> op/neg/set/if_exists; false when unknown. */
bool iam_cond_operator(const char *name, struct iam_cond *c);
/* Compiles one policy value (a JSON scalar's text) for c's operator.
 * Returns false when a Date value is invalid ("legacy parsing"). */
bool iam_cond_value(struct iam_arena *a, const struct iam_cond *c, const char *s, size_t len, bool v2012,
                    struct iam_cval *out);
bool iam_cond_eval(const struct iam_cond *c, const struct iam_ev *ev);
/* Parses an ISO 8601 date-time or epoch seconds, as policy Date values and
 * Date context values are written. */
bool iam_cond_parse_date(const char *s, size_t len, double *out);

/* ---- key values at evaluation ---- */
struct iam_vals {
	const char *const *v;
	size_t n;
	const char *one; /* storage for a single derived value (v points here) */
	char buf[64];    /* storage for a formatted derived value */
	bool is_now;     /* aws:CurrentTime/aws:EpochTime: num holds the time */
	double num;
};

/* Resolves k for the request; false when the key is absent.  out must not
 * be copied afterwards (out->v may point into it). */
bool iam_ev_resolve(const struct iam_ev *ev, const struct iam_key *k, struct iam_vals *out);

/* ---- compiled documents ---- */
enum iam_prin_type {
	IAM_PRIN_ANY,       /* "*" or {"AWS": "*"} */
	IAM_PRIN_ACCOUNT,   /* 123456789012 or arn:aws:iam::123456789012:root */
	IAM_PRIN_USER,      /* arn:aws:iam::<acct>:user/<path><name> */
	IAM_PRIN_ROLE,      /* arn:aws:iam::<acct>:role/<path><name> */
	IAM_PRIN_SESSION,   /* arn:aws:sts::<acct>:assumed-role/<role>/<session> */
	IAM_PRIN_FEDUSER,   /* arn:aws:sts::<acct>:federated-user/<name> */
	IAM_PRIN_UNIQUE_ID, /* AIDA... / AROA... */
	IAM_PRIN_SERVICE,
	IAM_PRIN_FEDERATED,
	IAM_PRIN_CANONICAL, /* S3 canonical user: accepted, never matches here */
};

struct iam_prin {
	uint8_t type;
	const char *s; /* the value as written */
	uint32_t len;
	char acct[13];    /* ACCOUNT, USER, ROLE, SESSION, FEDUSER */
	const char *name; /* ROLE: the role name (last path segment), within s */
	uint32_t nlen;
};

struct iam_stmt {
	bool deny;
	bool not_action, not_resource, not_principal;
	bool any_resource; /* no Resource element (trust policies) */
	const char *sid;
	struct iam_pat *act;
	uint32_t nact;
	struct iam_pat *res;
	uint32_t nres;
	struct iam_prin *prin; /* NULL for policies without principals */
	uint32_t nprin;
	struct iam_cond *cond;
	uint32_t ncond;
};

struct iam_policy {
	struct iam_arena arena;
	enum iam_policy_kind kind;
	bool v2012;
	size_t chars;
	struct iam_stmt *st;
	uint32_t nst;
};

#endif
