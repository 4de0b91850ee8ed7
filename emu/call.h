/*
 * The context of one domain call: who is calling, in which account and
 * region, and the store.  Built by api/ for an HTTP request and by the
 * fixtures loader for a fixture entry, so both reach the same domain code.
 */
#ifndef EMU_CALL_H
#define EMU_CALL_H

struct store;

struct emu_call {
	struct store *store;
	const char *account;       /* 12 digits */
	const char *region;        /* from the SigV4 credential scope */
	const char *principal_arn; /* caller */
	const char *user_id;
	const char *access_key_id;
	const char *request_id;
	double now;                /* domain clock at the start of the call */
	const char *source_ip;     /* caller's address (NULL when not over the network) */
	/* IAM action of a secret-scoped operation: domain lookups authorize it
	 * against the resource they resolve (NULL: authorized by the dispatcher,
	 * or an internal call such as a fixture). */
	const char *action;
	/* Condition keys the request itself carries (aws:RequestTag/..., aws:TagKeys,
	 * secretsmanager:Name, ...): a JSON object key -> array of strings, or NULL. */
	struct json_t *cond;
};

#endif
