/*
 * Helpers shared by the RDS domain files (rds.c instances, rds_cluster.c,
 * rds_proxy.c, rds_endpoint.c): input getters, identifier rules, the DNS
 * part of endpoint names, resource ids, paging, and tags kept in each
 * resource document's TagList (tagging finds any resource by its ARN).
 * Internal to emu/rds*.c.
 */
#ifndef EMU_RDS_COMMON_H
#define EMU_RDS_COMMON_H

#include "emu/call.h"
#include "emu/err.h"
#include "emu/store.h"

#include <jansson.h>
#include <stdbool.h>

#define RDS_ID_MAX 63
#define RDS_ARN_MAX 256
#define RDS_TAGS_MAX 50
#define RDS_PAGE_DEFAULT 100

const char *rds_in_str(json_t *in, const char *key);
bool rds_in_bool(json_t *in, const char *key, bool dflt);
/* Present and not null. */
bool rds_in_has(json_t *in, const char *key);

/* [a-zA-Z](-?[a-zA-Z0-9]+)*, 1..63, lower-cased into out; else
 * InvalidParameterValue naming member. */
int rds_check_identifier(const char *member, const char *v, char out[RDS_ID_MAX + 1], struct emu_err *err);
/* Same rule, case kept (proxy, endpoint and target group names). */
int rds_check_name(const char *member, const char *v, struct emu_err *err);

/* The 12 lowercase alphanumerics shared by every endpoint name of an
 * account and region (instance, cluster, proxy DNS names). */
void rds_dns_part(const char *account, const char *region, char out[13]);
/* n random lowercase hex digits + NUL (proxy ids: prx-<17>). */
void rds_random_hex(char *out, size_t n);

struct engine_info;
/* MasterUsername: a letter, then up to 62 letters, digits or '_';
 * InvalidParameterValue when absent, blank or else. */
int rds_check_master_username(const char *user, struct emu_err *err);
/* MasterUserPassword: 8..128 (MySQL family 8..41) printable ASCII but
 * '/', '@', '"' and ' '; InvalidParameterValue else. */
int rds_check_password(const char *pw, const struct engine_info *eng, struct emu_err *err);

/* MaxRecords (20..100, default 100) -> *max; InvalidParameterValue else. */
int rds_max_records(json_t *in, long long *max, struct emu_err *err);

/* A cached statement (store_prep) with ?1..?n bound to texts (NULL binds
 * NULL); RDS_PREP(s, sql, a, b, ...) counts them. */
sqlite3_stmt *rds_prep_n(struct store *s, const char *sql, const char *const *v, size_t n);
#define RDS_PREP(s, sql, ...)                                                                                 \
	rds_prep_n((s), (sql), (const char *const[]){__VA_ARGS__},                                          \
	           sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))
/* Runs a statement that returns no row (st NULL: a prepare failure). */
int rds_exec(struct store *s, sqlite3_stmt *st, struct emu_err *err);
/* First row of st: column 0 into key (when given), column 1 parsed into
 * *doc (a JSON object).  1 found, 0 none, -1 error. */
int rds_row_doc(struct store *s, sqlite3_stmt *st, char *key, size_t keyn, json_t **doc, struct emu_err *err);

/* A Describe page: the documents (column 1) of st's rows that match (all
 * when match is NULL), at most max; the Marker is column 0 of the last one
 * when more rows remain.  *out = {member: list, Marker?}; list is consumed. */
int rds_page(struct store *s, sqlite3_stmt *st, bool (*match)(json_t *filters, json_t *doc), json_t *filters,
             long long max, const char *member, json_t *list, json_t **out, struct emu_err *err);

/* Merges a request TagList into doc's TagList (creates it). */
int rds_merge_tags(json_t *doc, json_t *tags, struct emu_err *err);

#define RDS_TX_OP(fn, impl)                                                                                   \
	int fn(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)                          \
	{                                                                                                     \
		*out = NULL;                                                                                  \
		if (in && !json_is_object(in))                                                                \
			return emu_err_set(err, ERR_SERIALIZATION, "request must be an object");             \
		if (store_begin(call->store) < 0)                                                             \
			return emu_err_set(err, ERR_INTERNAL, "internal storage error");                      \
		return store_finish_json(call->store, impl(call, in, out, err), out, err);                    \
	}

#endif
