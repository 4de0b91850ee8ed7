/*
 * rds_common.c owns what the RDS domain files share: input getters, the
 * identifier rule of section 4.2, the master user name and password
 * rules (instances and clusters), the per-account DNS part of endpoint
 * names, random resource ids, MaxRecords, tag merging, and the tagging
 * operations, which find any RDS resource by its ARN (every RDS table has
 * a unique arn column and a TagList in its document).
 * May call: emu/store, emu/util, emu/err.
 */
#include "emu/rds.h"
#include "emu/rds_common.h"

#include "emu/engines.h"
#include "emu/store.h"
#include "emu/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void (*change_fn)(void *);
static void *change_ctx;

void rds_set_change_hook(void (*fn)(void *ctx), void *ctx)
{
	change_fn = fn;
	change_ctx = ctx;
}

void rds_changed(void)
{
	if (change_fn)
		change_fn(change_ctx);
}

const char *rds_in_str(json_t *in, const char *key)
{
	return json_string_value(json_object_get(in, key));
}

bool rds_in_bool(json_t *in, const char *key, bool dflt)
{
	json_t *v = json_object_get(in, key);
	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

bool rds_in_has(json_t *in, const char *key)
{
	json_t *v = json_object_get(in, key);
	return v && !json_is_null(v);
}

static bool good_identifier(const char *v)
{
	size_t n = v ? strlen(v) : 0;
	bool good = n >= 1 && n <= RDS_ID_MAX && isalpha((unsigned char)v[0]) && v[n - 1] != '-';
	for (size_t i = 0; good && i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (!(isalnum(c) || c == '-') || (c == '-' && v[i + 1] == '-'))
			good = false;
	}
	return good;
}

int rds_check_name(const char *member, const char *v, struct emu_err *err)
{
	if (!good_identifier(v))
		return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE,
		                   "The parameter %s is not a valid identifier. Identifiers must begin with a letter; "
		                   "must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen "
		                   "or contain two consecutive hyphens.",
		                   member);
	return 0;
}

int rds_check_identifier(const char *member, const char *v, char out[RDS_ID_MAX + 1], struct emu_err *err)
{
	if (rds_check_name(member, v, err) < 0)
		return -1;
	size_t n = strlen(v);
	for (size_t i = 0; i <= n; i++)
		out[i] = (char)tolower((unsigned char)v[i]);
	return 0;
}

int rds_check_master_username(const char *user, struct emu_err *err)
{
	if (!user || !*user)
		return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE,
		                   "The parameter MasterUsername must be provided and must not be blank.");
	bool good = strlen(user) <= 63 && isalpha((unsigned char)user[0]);
	for (const char *p = user; good && *p; p++)
		good = isalnum((unsigned char)*p) || *p == '_';
	if (!good)
		return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE,
		                   "The parameter MasterUsername is not a valid identifier. Identifiers must begin "
		                   "with a letter and contain at most 63 alphanumeric characters.");
	return 0;
}

int rds_check_password(const char *pw, const struct engine_info *eng, struct emu_err *err)
{
	size_t n = strlen(pw);
	size_t max = eng->family == ENGINE_FAMILY_MYSQL ? 41 : 128;
	if (n < 8)
		return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE,
		                   "The parameter MasterUserPassword is not a valid password because it is shorter "
		                   "than 8 characters.");
	if (n > max)
		return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE,
		                   "The parameter MasterUserPassword is not a valid password because it is longer "
		                   "than %zu characters.",
		                   max);
	for (const char *p = pw; *p; p++)
		if (*p == '/' || *p == '"' || *p == '@' || *p == ' ' || (unsigned char)*p < 0x20 ||
		    (unsigned char)*p > 0x7e)
			return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE,
			                   "The parameter MasterUserPassword is not a valid password. Only printable ASCII "
			                   "characters besides '/', '@', '\"', ' ' may be used.");
	return 0;
}

/* Derived from account and region, so stable without stored state. */
void rds_dns_part(const char *account, const char *region, char out[13])
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	char buf[128], hex[65];
	int n = snprintf(buf, sizeof buf, "rdsemu-dns/%s/%s", account, region);
	util_sha256_hex(buf, n > 0 ? (size_t)n : 0, hex);
	for (int i = 0; i < 12; i++) {
		unsigned v = (unsigned)util_hexval(hex[2 * i]) * 16u + (unsigned)util_hexval(hex[2 * i + 1]);
		out[i] = alnum[v % 36];
	}
	out[0] = alnum[(unsigned)util_hexval(hex[30]) % 26]; /* AWS's start with a letter */
	out[12] = '\0';
}

void rds_random_hex(char *out, size_t n)
{
	util_random_from(out, n, "0123456789abcdef");
	out[n] = '\0';
}

int rds_max_records(json_t *in, long long *max, struct emu_err *err)
{
	json_t *mr = json_object_get(in, "MaxRecords");
	*max = RDS_PAGE_DEFAULT;
	if (mr && !json_is_null(mr)) {
		*max = json_is_integer(mr) ? json_integer_value(mr) : 0;
		if (*max < 20 || *max > 100)
			return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE,
			                   "Invalid value %lld for MaxRecords. Must be between 20 and 100", *max);
	}
	return 0;
}

/* ---- statements ------------------------------------------------------------------ */

/* A cached statement with ?1..?n bound to texts (NULL binds NULL). */
sqlite3_stmt *rds_prep_n(struct store *s, const char *sql, const char *const *v, size_t n)
{
	sqlite3_stmt *st = store_prep(s, sql);
	for (size_t i = 0; st && i < n; i++)
		store_bind_text(st, (int)i + 1, v[i]);
	return st;
}
/* Runs a statement that returns no row. */
int rds_exec(struct store *s, sqlite3_stmt *st, struct emu_err *err)
{
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, err);
}

/* First row of st: column 0 into key (when given), column 1 parsed into
 * *doc.  1 found, 0 none, -1 error. */
int rds_row_doc(struct store *s, sqlite3_stmt *st, char *key, size_t keyn, json_t **doc, struct emu_err *err)
{
	*doc = NULL;
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *k = store_col_text(st, 0), *text = store_col_text(st, 1);
		if (key)
			snprintf(key, keyn, "%s", k ? k : "");
		*doc = text ? json_loads(text, 0, NULL) : NULL;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_fail(s, err);
	if (rc == SQLITE_ROW && !json_is_object(*doc)) {
		json_decref(*doc);
		*doc = NULL;
		return emu_err_set(err, ERR_INTERNAL, "corrupt RDS row");
	}
	return rc == SQLITE_ROW;
}

int rds_page(struct store *s, sqlite3_stmt *st, bool (*match)(json_t *filters, json_t *doc), json_t *filters,
             long long max, const char *member, json_t *list, json_t **out, struct emu_err *err)
{
	if (!st) {
		json_decref(list);
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	}
	int rc;
	char last[RDS_ID_MAX + 1] = "";
	bool more = false;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *text = store_col_text(st, 1);
		json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
		if (!doc || (match && !match(filters, doc))) {
			json_decref(doc);
			continue;
		}
		if ((long long)json_array_size(list) == max) {
			json_decref(doc);
			more = true;
			break;
		}
		snprintf(last, sizeof last, "%s", store_col_text(st, 0) ? store_col_text(st, 0) : "");
		json_array_append_new(list, doc);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		json_decref(list);
		return store_fail(s, err);
	}
	*out = json_pack("{s:o}", member, list);
	if (more)
		json_object_set_new(*out, "Marker", json_string(last));
	return 0;
}

int rds_merge_tags(json_t *doc, json_t *tags, struct emu_err *err)
{
	json_t *list = json_object_get(doc, "TagList");
	if (!json_is_array(list)) {
		list = json_array();
		json_object_set_new(doc, "TagList", list);
	}
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t) {
		const char *k = rds_in_str(t, "Key");
		const char *v = rds_in_str(t, "Value");
		if (!k || !*k)
			return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "Tag key must not be empty.");
		if (util_has_prefix(k, "aws:") || util_has_prefix(k, "rds:"))
			return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE,
			                   "Tag keys starting with 'aws:' or 'rds:' are reserved.");
		size_t j;
		json_t *old;
		bool found = false;
		json_array_foreach(list, j, old) {
			const char *have = rds_in_str(old, "Key");
			if (have && strcmp(have, k) == 0) {
				json_object_set_new(old, "Value", json_string(v ? v : ""));
				found = true;
				break;
			}
		}
		if (!found) {
			if (json_array_size(list) >= RDS_TAGS_MAX)
				return emu_err_set(err, ERR_RDS_TAG_QUOTA, "Cannot add more than %d tags to a resource.",
				                   RDS_TAGS_MAX);
			json_array_append_new(list, json_pack("{s:s, s:s}", "Key", k, "Value", v ? v : ""));
		}
	}
	return 0;
}

/* ---- tagging by ARN ------------------------------------------------------------ */

/* One row per taggable resource type: the ARN's resource type, the SQL that
 * reads and writes the document by ARN, and the not-found error. */
struct tag_table {
	const char *type; /* "db" in arn:aws:rds:<region>:<account>:db:<id> */
	const char *select, *update;
	enum emu_err_code notfound;
	const char *what;
};

static const struct tag_table tag_tables[] = {
	{"db", "SELECT doc FROM rds_instances WHERE arn = ?1", "UPDATE rds_instances SET doc = ?2 WHERE arn = ?1",
	 ERR_RDS_DB_INSTANCE_NOT_FOUND, "DBInstance"},
	{"cluster", "SELECT doc FROM rds_clusters WHERE arn = ?1", "UPDATE rds_clusters SET doc = ?2 WHERE arn = ?1",
	 ERR_RDS_DB_CLUSTER_NOT_FOUND, "DBCluster"},
	{"db-proxy", "SELECT doc FROM rds_proxies WHERE arn = ?1", "UPDATE rds_proxies SET doc = ?2 WHERE arn = ?1",
	 ERR_RDS_DB_PROXY_NOT_FOUND, "DBProxy"},
	{"db-proxy-endpoint", "SELECT doc FROM rds_proxy_endpoints WHERE arn = ?1",
	 "UPDATE rds_proxy_endpoints SET doc = ?2 WHERE arn = ?1", ERR_RDS_DB_PROXY_ENDPOINT_NOT_FOUND,
	 "DBProxyEndpoint"},
	{"target-group", "SELECT doc FROM rds_proxy_target_groups WHERE arn = ?1",
	 "UPDATE rds_proxy_target_groups SET doc = ?2 WHERE arn = ?1", ERR_RDS_DB_PROXY_TARGET_GROUP_NOT_FOUND,
	 "DBProxyTargetGroup"},
};

/* Loads the document a ResourceName ARN names; *t = its table. */
static int tag_load(struct emu_call *call, json_t *in, const struct tag_table **t, json_t **doc, struct emu_err *err)
{
	const char *arn = rds_in_str(in, "ResourceName");
	char prefix[RDS_ARN_MAX];
	int pn = snprintf(prefix, sizeof prefix, "arn:aws:rds:%s:%s:", call->region, call->account);
	*doc = NULL;
	if (!arn || !util_has_prefix(arn, "arn:aws:rds:"))
		return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "Invalid resource name: %.300s", arn ? arn : "");
	const char *type = util_has_prefix(arn, prefix) ? arn + pn : NULL;
	const char *colon = type ? strchr(type, ':') : NULL;
	*t = NULL;
	for (size_t i = 0; colon && i < sizeof tag_tables / sizeof tag_tables[0]; i++)
		if (strlen(tag_tables[i].type) == (size_t)(colon - type) &&
		    strncmp(tag_tables[i].type, type, (size_t)(colon - type)) == 0)
			*t = &tag_tables[i];
	if (!*t) /* another account/region, or a type rdsemu does not keep */
		return emu_err_set(err, ERR_RDS_DB_INSTANCE_NOT_FOUND, "DBInstance %.300s not found.", arn);
	sqlite3_stmt *st = store_prep(call->store, (*t)->select);
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	store_bind_text(st, 1, arn);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *text = store_col_text(st, 0);
		*doc = text ? json_loads(text, 0, NULL) : NULL;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_fail(call->store, err);
	if (rc == SQLITE_DONE)
		return emu_err_set(err, (*t)->notfound, "%s %.300s not found.", (*t)->what, arn);
	if (!json_is_object(*doc)) {
		json_decref(*doc);
		*doc = NULL;
		return emu_err_set(err, ERR_INTERNAL, "corrupt resource row");
	}
	return 0;
}

static int tag_save(struct emu_call *call, json_t *in, const struct tag_table *t, json_t *doc, struct emu_err *err)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	sqlite3_stmt *st = text ? store_prep(call->store, t->update) : NULL;
	if (!st) {
		free(text);
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	}
	store_bind_text(st, 1, rds_in_str(in, "ResourceName"));
	store_bind_text(st, 2, text);
	int rc = sqlite3_step(st);
	free(text);
	if (rc != SQLITE_DONE)
		return store_fail(call->store, err);
	sqlite3_reset(st);
	return 0;
}

static int add_tags_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	(void)out;
	const struct tag_table *t;
	json_t *doc;
	if (tag_load(call, in, &t, &doc, err) < 0)
		return -1;
	int rc = rds_merge_tags(doc, json_object_get(in, "Tags"), err);
	if (rc == 0)
		rc = tag_save(call, in, t, doc, err);
	json_decref(doc);
	return rc;
}

static int remove_tags_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	(void)out;
	const struct tag_table *t;
	json_t *doc;
	if (tag_load(call, in, &t, &doc, err) < 0)
		return -1;
	json_t *list = json_object_get(doc, "TagList");
	size_t i;
	json_t *k;
	json_array_foreach(json_object_get(in, "TagKeys"), i, k) {
		for (size_t j = json_array_size(list); j-- > 0;) {
			const char *have = rds_in_str(json_array_get(list, j), "Key");
			if (have && json_string_value(k) && strcmp(have, json_string_value(k)) == 0)
				json_array_remove(list, j);
		}
	}
	int rc = tag_save(call, in, t, doc, err);
	json_decref(doc);
	return rc;
}

static int list_tags_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const struct tag_table *t;
	json_t *doc;
	if (tag_load(call, in, &t, &doc, err) < 0)
		return -1;
	json_t *list = json_object_get(doc, "TagList");
	*out = json_pack("{s:o}", "TagList", json_is_array(list) ? json_incref(list) : json_array());
	json_decref(doc);
	return *out ? 0 : emu_err_set(err, ERR_INTERNAL, "out of memory");
}

RDS_TX_OP(rds_add_tags_to_resource, add_tags_impl)
RDS_TX_OP(rds_remove_tags_from_resource, remove_tags_impl)
RDS_TX_OP(rds_list_tags_for_resource, list_tags_impl)
