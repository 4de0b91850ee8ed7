/*
 * rds_proxy.c owns the RDS Proxy control plane: proxies (rds_proxies), the
 * one target group "default" of each (rds_proxy_target_groups), its
 * targets (rds_proxy_targets), custom endpoints (rds_proxy_endpoints), and
 * the listen address of every proxy endpoint (through rds_endpoint.h).
 * No data plane: target health is computed when targets are described,
 * by the data plane's hook when it has one (rds.h).
 * May call: emu/store, emu/engines, emu/rds_common, emu/rds_endpoint,
 * emu/util, emu/err; reads rds_instances and rds_clusters rows directly.
 * Invariants: a proxy's children hang off its resource id (prx-...), which
 * survives renames; proxy and endpoint names are stored as given and are
 * unique per account and region case-insensitively; proxies and endpoints
 * are "available" at once (AWS has no waiter for them); every operation
 * runs in one savepoint and leaves nothing behind on failure.
 *
 * Choices where aws-behaviour.md is silent or unsure ([?]):
 * - The default endpoint is not a row of rds_proxy_endpoints: it is the
 *   proxy's own Endpoint, named "default", has no ARN (so it cannot be
 *   tagged), and DescribeDBProxyEndpoints lists it only when asked for
 *   by DBProxyEndpointName "default"; a custom endpoint may not use that
 *   name; modifying or deleting "default" is InvalidDBProxyEndpointState.
 * - Auth is required at CreateDBProxy unless DefaultAuthScheme is IAM_AUTH
 *   (InvalidParameterCombination); ModifyDBProxy may clear it, and the
 *   targets then report AUTH_FAILURE.  Auth given to ModifyDBProxy
 *   replaces the whole list.
 * - Engine of a target not in the proxy's family, more than one database
 *   in one request, an Aurora member registered as an instance, READ_ONLY
 *   endpoints without Aurora readers, and SessionPinningFilters outside
 *   the MYSQL family: InvalidParameterCombination.  A target group that
 *   already has a database: DBProxyTargetAlreadyRegistered.
 * - ClientPasswordAuthType defaults as the model documents (MySQL:
 *   MYSQL_CACHING_SHA2_PASSWORD) and must match the family; IAMAuth
 *   ENABLED outside SQLSERVER is InvalidParameterValue.
 * - Instances "deleting" or "failed" and clusters not "available" cannot
 *   be registered (InvalidDBInstanceState / InvalidDBClusterStateFault);
 *   an instance still "creating" can, and shows UNAVAILABLE until ready.
 * - VpcSubnetIds must be non-empty and look like subnet-... (InvalidSubnet);
 *   one subnet is enough.  VpcId and the default security group are
 *   derived from the account and region.
 * - ConnectionBorrowTimeout 0..3600 (the API reference; one model text
 *   says 0..300).  MaxConnectionsPercent given without
 *   MaxIdleConnectionsPercent sets the latter to half of it (the model's
 *   default rule), also in ModifyDBProxyTargetGroup.
 * - Markers are offsets into the ordered result.
 * - Member targets of a cluster are stored at registration (instances
 *   that join the cluster later are not added); their Role follows the
 *   cluster's current writer when described (failover).  TRACKED_CLUSTER
 *   targets have no Role and no TargetHealth.
 * - An instance target whose instance is gone stays registered and shows
 *   UNAVAILABLE / UNREACHABLE.
 */
#include "emu/rds.h"

#include "emu/engines.h"
#include "emu/rds_common.h"
#include "emu/rds_endpoint.h"
#include "emu/store.h"
#include "emu/util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define in_str rds_in_str
#define in_has rds_in_has

#define PROXY_MAX 20     /* proxies per account and region */
#define ENDPOINT_MAX 20  /* custom endpoints per proxy */
#define AUTH_MAX 200
#define RID_MAX 40       /* prx-endpoint-<17 hex> and NUL */
#define DEFAULT_TG "default"
#define DEFAULT_EP "default"

static int (*health_fn)(void *ctx, const json_t *proxy, const json_t *target, json_t **health);
static void *health_ctx;

void rds_set_target_health_hook(int (*fn)(void *ctx, const json_t *proxy, const json_t *target, json_t **health),
                                void *ctx)
{
	health_fn = fn;
	health_ctx = ctx;
}

/* ---- statements ------------------------------------------------------------- */

/* Runs sql with ?1..?3 = a, b, c and ?4 = doc as text. */
static int put(struct store *s, const char *sql, const char *a, const char *b, const char *c, json_t *doc,
               struct emu_err *err)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	if (!text)
		return emu_err_set(err, ERR_INTERNAL, "out of memory");
	int rc = rds_exec(s, RDS_PREP(s, sql, a, b, c, text), err);
	free(text);
	return rc;
}

/* Appends column 0 of every row of st to list (parsed as JSON when doc,
 * else as a string). */
static int rows(struct store *s, sqlite3_stmt *st, bool doc, json_t *list, struct emu_err *err)
{
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *text = store_col_text(st, 0);
		json_t *v = !text ? NULL : doc ? json_loads(text, 0, NULL) : json_string(text);
		if (v)
			json_array_append_new(list, v);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, err);
}

/* The number st selects (SELECT count(*) ...) into *n. */
static int count(struct store *s, sqlite3_stmt *st, long long *n, struct emu_err *err)
{
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	int rc = sqlite3_step(st);
	*n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : store_fail(s, err);
}

/* ---- input checks ------------------------------------------------------------- */

static const char *str_or(json_t *o, const char *key, const char *dflt)
{
	const char *v = in_str(o, key);
	return v ? v : dflt;
}

/* v (when given) is one of the NULL-terminated allowed values. */
static int check_enum(const char *member, const char *v, const char *const *allowed, struct emu_err *err)
{
	for (size_t i = 0; v && allowed[i]; i++)
		if (strcmp(v, allowed[i]) == 0)
			return 0;
	if (!v)
		return 0;
	return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "Invalid value %.100s for %s.", v, member);
}

/* Integer member of in within lo..hi into *v; dflt when absent. */
static int in_int(json_t *in, const char *member, long long dflt, long long lo, long long hi, long long *v,
                  struct emu_err *err)
{
	json_t *j = json_object_get(in, member);
	*v = dflt;
	if (!j || json_is_null(j))
		return 0;
	*v = json_integer_value(j);
	if (!json_is_integer(j) || *v < lo || *v > hi)
		return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "Invalid value for %s: must be between %lld and %lld.",
		                   member, lo, hi);
	return 0;
}

/* A copy of a string list member, or an empty list. */
static json_t *str_list(json_t *in, const char *member)
{
	json_t *list = json_array(), *v;
	size_t i;
	json_array_foreach(json_object_get(in, member), i, v) if (json_is_string(v)) json_array_append(list, v);
	return list;
}

static int check_subnets(json_t *in, struct emu_err *err)
{
	json_t *list = json_object_get(in, "VpcSubnetIds"), *v;
	size_t i;
	if (json_array_size(list) == 0)
		return emu_err_set(err, ERR_RDS_INVALID_SUBNET, "VpcSubnetIds must contain at least one subnet.");
	json_array_foreach(list, i, v) if (!util_has_prefix(json_string_value(v) ? json_string_value(v) : "", "subnet-"))
		return emu_err_set(err, ERR_RDS_INVALID_SUBNET, "The subnet %.100s is not valid.",
		                   json_string_value(v) ? json_string_value(v) : "");
	return 0;
}

/* "vpc-" / "sg-" and 17 hex digits derived from the account and region:
 * rdsemu has no VPCs, but every resource of a region shares the same one. */
static void derived_id(struct emu_call *call, const char *prefix, char out[32])
{
	char buf[160], hex[65];
	int n = snprintf(buf, sizeof buf, "rdsemu-%s/%s/%s", prefix, call->account, call->region);
	util_sha256_hex(buf, n > 0 ? (size_t)n : 0, hex);
	snprintf(out, 32, "%s-%.17s", prefix, hex);
}

static int family_port(const char *family)
{
	return strcmp(family, "MYSQL") == 0 ? 3306 : strcmp(family, "SQLSERVER") == 0 ? 1433 : 5432;
}

/* The Auth list of a request, validated, with defaults filled in (new reference in *out). */
static int check_auth(json_t *auth, const char *family, json_t **out, struct emu_err *err)
{
	static const char *const iam[] = {"DISABLED", "REQUIRED", "ENABLED", NULL};
	static const char *const types[] = {"MYSQL_NATIVE_PASSWORD", "MYSQL_CACHING_SHA2_PASSWORD",
	                                    "POSTGRES_SCRAM_SHA_256", "POSTGRES_MD5", "SQL_SERVER_AUTHENTICATION", NULL};
	bool sqlserver = strcmp(family, "SQLSERVER") == 0;
	/* The defaults the model documents per family (section 3.3.1). */
	const char *dflt_type = sqlserver ? "SQL_SERVER_AUTHENTICATION"
	                        : strcmp(family, "MYSQL") == 0 ? "MYSQL_CACHING_SHA2_PASSWORD"
	                                                       : "POSTGRES_SCRAM_SHA_256";
	*out = json_array();
	if (json_array_size(auth) > AUTH_MAX)
		return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "Auth can have at most %d entries.", AUTH_MAX);
	size_t i;
	json_t *a;
	json_array_foreach(auth, i, a) {
		const char *scheme = str_or(a, "AuthScheme", "SECRETS");
		const char *arn = in_str(a, "SecretArn");
		const char *mode = str_or(a, "IAMAuth", "DISABLED");
		const char *type = str_or(a, "ClientPasswordAuthType", dflt_type);
		if (strcmp(scheme, "SECRETS") != 0)
			return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "Invalid value %.100s for AuthScheme.", scheme);
		if (!arn || !*arn)
			return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE,
			                   "SecretArn is required for an Auth entry with AuthScheme SECRETS.");
		if (check_enum("IAMAuth", mode, iam, err) < 0 || check_enum("ClientPasswordAuthType", type, types, err) < 0)
			return -1;
		if (strcmp(mode, "ENABLED") == 0 && !sqlserver)
			return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE,
			                   "IAMAuth ENABLED is supported only for the SQLSERVER engine family.");
		bool fits = sqlserver ? strcmp(type, "SQL_SERVER_AUTHENTICATION") == 0
		                      : util_has_prefix(type, strcmp(family, "MYSQL") == 0 ? "MYSQL_" : "POSTGRES_");
		if (!fits)
			return emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
			                   "ClientPasswordAuthType %s is not valid for engine family %s.", type, family);
		json_t *e = json_pack("{s:s, s:s, s:s, s:s}", "AuthScheme", scheme, "SecretArn", arn, "IAMAuth", mode,
		                      "ClientPasswordAuthType", type);
		if (in_str(a, "Description"))
			json_object_set_new(e, "Description", json_string(in_str(a, "Description")));
		if (in_str(a, "UserName"))
			json_object_set_new(e, "UserName", json_string(in_str(a, "UserName")));
		json_array_append_new(*out, e);
	}
	return 0;
}

/* Applies a request's ConnectionPoolConfig to the stored pool (section 3.5). */
static int apply_pool(json_t *pool, json_t *in, const char *family, struct emu_err *err)
{
	long long max, idle, borrow;
	json_t *cur_max = json_object_get(pool, "MaxConnectionsPercent");
	if (in_int(in, "MaxConnectionsPercent", json_integer_value(cur_max), 1, 100, &max, err) < 0 ||
	    in_int(in, "ConnectionBorrowTimeout", json_integer_value(json_object_get(pool, "ConnectionBorrowTimeout")),
	           0, 3600, &borrow, err) < 0)
		return -1;
	if (in_has(in, "MaxIdleConnectionsPercent") && !in_has(in, "MaxConnectionsPercent"))
		return emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		                   "MaxConnectionsPercent is required when MaxIdleConnectionsPercent is given.");
	if (in_int(in, "MaxIdleConnectionsPercent", max / 2, 0, max, &idle, err) < 0)
		return -1;
	json_t *filters = json_object_get(in, "SessionPinningFilters"), *f;
	size_t i;
	json_array_foreach(filters, i, f) {
		if (!json_is_string(f) || strcmp(json_string_value(f), "EXCLUDE_VARIABLE_SETS") != 0)
			return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE,
			                   "Invalid value %.100s for SessionPinningFilters: only EXCLUDE_VARIABLE_SETS is supported.",
			                   json_string_value(f) ? json_string_value(f) : "");
		if (strcmp(family, "MYSQL") != 0)
			return emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
			                   "SessionPinningFilters are supported only for the MYSQL engine family.");
	}
	json_object_set_new(pool, "MaxConnectionsPercent", json_integer(max));
	if (in_has(in, "MaxConnectionsPercent") || in_has(in, "MaxIdleConnectionsPercent"))
		json_object_set_new(pool, "MaxIdleConnectionsPercent", json_integer(idle));
	json_object_set_new(pool, "ConnectionBorrowTimeout", json_integer(borrow));
	if (json_is_array(filters))
		json_object_set(pool, "SessionPinningFilters", filters);
	if (in_str(in, "InitQuery"))
		json_object_set_new(pool, "InitQuery", json_string(in_str(in, "InitQuery")));
	return 0;
}

/* ---- rows ----------------------------------------------------------------------- */

static int proxy_load(struct emu_call *call, const char *name, char id[RID_MAX], json_t **doc,
                      struct emu_err *err)
{
	int rc = rds_row_doc(call->store,
	                 RDS_PREP(call->store, "SELECT proxy_id, doc FROM rds_proxies WHERE account = ?1 AND region = ?2 "
	                                   "AND lower(name) = lower(?3)",
	                      call->account, call->region, name),
	                 id, RID_MAX, doc, err);
	if (rc == 0)
		return emu_err_set(err, ERR_RDS_DB_PROXY_NOT_FOUND, "DBProxy %.100s not found.", name ? name : "");
	return rc < 0 ? -1 : 0;
}

/* Is name used by a proxy of the account and region other than except_id
 * (NULL: any)?  1, 0, -1. */
static int proxy_name_taken(struct emu_call *call, const char *name, const char *except_id, struct emu_err *err)
{
	long long n;
	if (count(call->store,
	          RDS_PREP(call->store, "SELECT count(*) FROM rds_proxies WHERE account = ?1 AND region = ?2 AND "
	                            "lower(name) = lower(?3) AND proxy_id IS NOT ?4",
	               call->account, call->region, name, except_id),
	          &n, err) < 0)
		return -1;
	return n > 0;
}

static int proxy_save(struct emu_call *call, const char *id, json_t *doc, struct emu_err *err)
{
	return put(call->store,
	           "UPDATE rds_proxies SET name = json_extract(?4, '$.DBProxyName'), doc = ?4 WHERE proxy_id = ?1", id,
	           NULL, NULL, doc, err);
}

/* The target group of a proxy: TargetGroupName of in, "default" when absent. */
static int tg_load(struct emu_call *call, json_t *in, const char *proxy_id, json_t **doc, struct emu_err *err)
{
	const char *name = str_or(in, "TargetGroupName", DEFAULT_TG);
	int rc = rds_row_doc(call->store,
	                 RDS_PREP(call->store, "SELECT name, doc FROM rds_proxy_target_groups WHERE proxy_id = ?1 AND name = ?2",
	                      proxy_id, name),
	                 NULL, 0, doc, err);
	if (rc == 0)
		return emu_err_set(err, ERR_RDS_DB_PROXY_TARGET_GROUP_NOT_FOUND, "DBProxyTargetGroup %.100s not found.", name);
	return rc < 0 ? -1 : 0;
}

/* A custom endpoint by name: 1 found (*doc, and its proxy's id), 0 none, -1 error. */
static int ep_find(struct emu_call *call, const char *name, char proxy_id[RID_MAX], json_t **doc, struct emu_err *err)
{
	return rds_row_doc(call->store,
	               RDS_PREP(call->store, "SELECT proxy_id, doc FROM rds_proxy_endpoints WHERE account = ?1 AND region = ?2 "
	                                 "AND lower(name) = lower(?3)",
	                    call->account, call->region, name),
	               proxy_id, RID_MAX, doc, err);
}

/* Is name used by a custom endpoint of the account and region other than
 * the one with ARN except_arn (NULL: any)?  1, 0, -1. */
static int ep_name_taken(struct emu_call *call, const char *name, const char *except_arn, struct emu_err *err)
{
	long long n;
	if (count(call->store,
	          RDS_PREP(call->store, "SELECT count(*) FROM rds_proxy_endpoints WHERE account = ?1 AND region = ?2 AND "
	                            "lower(name) = lower(?3) AND arn IS NOT ?4",
	               call->account, call->region, name, except_arn),
	          &n, err) < 0)
		return -1;
	return n > 0;
}

static int ep_save(struct emu_call *call, json_t *doc, struct emu_err *err)
{
	return put(call->store,
	           "UPDATE rds_proxy_endpoints SET name = json_extract(?4, '$.DBProxyEndpointName'), doc = ?4 "
	           "WHERE arn = json_extract(?4, '$.DBProxyEndpointArn')",
	           NULL, NULL, NULL, doc, err);
}

/* The resource id (prx-endpoint-...) at the end of an endpoint ARN. */
static const char *ep_rid(json_t *doc)
{
	const char *arn = in_str(doc, "DBProxyEndpointArn");
	const char *colon = arn ? strrchr(arn, ':') : NULL;
	return colon ? colon + 1 : "";
}

/* Allocates (or renames) the listen address of the custom endpoint doc
 * from its name and sets its Endpoint. */
static int ep_dns(struct emu_call *call, json_t *doc, int std_port, struct emu_err *err)
{
	char dns[13], host[RDS_ARN_MAX], addr[RDS_ADDR_MAX];
	int port;
	rds_dns_part(call->account, call->region, dns);
	snprintf(host, sizeof host, "%s.endpoint.proxy-%s.%s.rds.amazonaws.com", in_str(doc, "DBProxyEndpointName"), dns,
	         call->region);
	if (rds_endpoint_alloc(call->store, RDS_EP_KIND_PROXY_ENDPOINT, call->account, call->region, ep_rid(doc), host,
	                       std_port, addr, &port, err) < 0)
		return -1;
	json_object_set_new(doc, "Endpoint", json_string(addr));
	return 0;
}

/* A document as an operation returns it: without TagList, which none of
 * the proxy shapes has (tags are read with ListTagsForResource). */
static json_t *shown(json_t *doc)
{
	json_t *c = json_deep_copy(doc);
	json_object_del(c, "TagList");
	json_object_del(c, RDS_PROXY_DEBUG_SINCE);
	return c;
}

/* DebugLogging turns itself off 24 hours after it was turned on
 * (aws-behaviour.md 3.11): the document keeps when, outside the shapes. */
static void debug_logging_set(json_t *doc, bool on, double now)
{
	bool was = json_is_true(json_object_get(doc, "DebugLogging")) && rds_proxy_debug_logging(doc, now);
	json_object_set_new(doc, "DebugLogging", json_boolean(on));
	if (!on)
		json_object_del(doc, RDS_PROXY_DEBUG_SINCE);
	else if (!was)
		json_object_set_new(doc, RDS_PROXY_DEBUG_SINCE, json_real(now));
}

bool rds_proxy_debug_logging(const json_t *doc, double now)
{
	json_t *since = json_object_get(doc, RDS_PROXY_DEBUG_SINCE);
	return json_is_true(json_object_get(doc, "DebugLogging")) &&
	       (!json_is_number(since) || now - json_number_value(since) < RDS_PROXY_DEBUG_SECONDS);
}

/* ---- paging --------------------------------------------------------------------- */

/* *out = {key: one page of all, Marker when more remain}; the marker is
 * the offset of the next page.  Takes all. */
static int page(json_t *in, json_t *all, const char *key, json_t **out, struct emu_err *err)
{
	long long max;
	const char *marker = in_str(in, "Marker");
	char *end = NULL;
	long long from = marker ? strtoll(marker, &end, 10) : 0;
	int rc = rds_max_records(in, &max, err);
	if (rc == 0 && marker && (!*marker || *end || from < 0 || from > (long long)json_array_size(all)))
		rc = emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "Invalid marker: %.100s", marker);
	if (rc < 0) {
		json_decref(all);
		return -1;
	}
	json_t *list = json_array();
	for (long long i = from; i < from + max && i < (long long)json_array_size(all); i++)
		json_array_append(list, json_array_get(all, (size_t)i));
	*out = json_pack("{s:o}", key, list);
	if (from + max < (long long)json_array_size(all)) {
		char next[32];
		snprintf(next, sizeof next, "%lld", from + max);
		json_object_set_new(*out, "Marker", json_string(next));
	}
	json_decref(all);
	return 0;
}

/* ---- proxies ------------------------------------------------------------------------ */

static const char *const families[] = {"MYSQL", "POSTGRESQL", "SQLSERVER", NULL};
static const char *const auth_schemes[] = {"NONE", "IAM_AUTH", NULL};

static int proxy_dns(struct emu_call *call, const char *id, const char *name, const char *family, json_t *doc,
                     struct emu_err *err)
{
	char dns[13], host[RDS_ARN_MAX], addr[RDS_ADDR_MAX];
	int port;
	rds_dns_part(call->account, call->region, dns);
	snprintf(host, sizeof host, "%s.proxy-%s.%s.rds.amazonaws.com", name, dns, call->region);
	if (rds_endpoint_alloc(call->store, RDS_EP_KIND_PROXY, call->account, call->region, id, host,
	                       family_port(family), addr, &port, err) < 0)
		return -1;
	json_object_set_new(doc, "Endpoint", json_string(addr));
	return 0;
}

static int create_proxy_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	static const char *const net[] = {"IPV4", "IPV6", "DUAL", NULL};
	static const char *const target_net[] = {"IPV4", "IPV6", NULL};
	const char *name = in_str(in, "DBProxyName");
	const char *family = in_str(in, "EngineFamily");
	const char *scheme = str_or(in, "DefaultAuthScheme", "NONE");
	long long idle;
	if (rds_check_name("DBProxyName", name, err) < 0)
		return -1;
	if (!family || check_enum("EngineFamily", family, families, err) < 0)
		return family ? -1 : emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "EngineFamily is required.");
	if (check_enum("DefaultAuthScheme", scheme, auth_schemes, err) < 0 ||
	    check_enum("EndpointNetworkType", in_str(in, "EndpointNetworkType"), net, err) < 0 ||
	    check_enum("TargetConnectionNetworkType", in_str(in, "TargetConnectionNetworkType"), target_net, err) < 0 ||
	    in_int(in, "IdleClientTimeout", 1800, 1, 28800, &idle, err) < 0 || check_subnets(in, err) < 0)
		return -1;
	if (strcmp(scheme, "IAM_AUTH") != 0 && json_array_size(json_object_get(in, "Auth")) == 0)
		return emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		                   "Auth is required unless DefaultAuthScheme is IAM_AUTH.");
	long long n;
	int rc = proxy_name_taken(call, name, NULL, err);
	if (rc != 0)
		return rc < 0 ? -1 : emu_err_set(err, ERR_RDS_DB_PROXY_EXISTS, "DBProxy %s already exists.", name);
	if (count(call->store, RDS_PREP(call->store, "SELECT count(*) FROM rds_proxies WHERE account = ?1 AND region = ?2",
	                            call->account, call->region),
	          &n, err) < 0)
		return -1;
	if (n >= PROXY_MAX)
		return emu_err_set(err, ERR_RDS_DB_PROXY_QUOTA, "The quota of %d proxies per Region has been reached.",
		                   PROXY_MAX);
	json_t *auth;
	if (check_auth(json_object_get(in, "Auth"), family, &auth, err) < 0) {
		json_decref(auth);
		return -1;
	}

	char id[RID_MAX], hex[18], arn[RDS_ARN_MAX], tg_arn[RDS_ARN_MAX], vpc[32], sg[32];
	rds_random_hex(hex, 17);
	snprintf(id, sizeof id, "prx-%s", hex);
	snprintf(arn, sizeof arn, "arn:aws:rds:%s:%s:db-proxy:%s", call->region, call->account, id);
	derived_id(call, "vpc", vpc);
	derived_id(call, "sg", sg);
	json_t *sgs = str_list(in, "VpcSecurityGroupIds");
	if (json_array_size(sgs) == 0)
		json_array_append_new(sgs, json_string(sg));
	json_t *doc = json_object();
	json_object_set_new(doc, "DBProxyName", json_string(name));
	json_object_set_new(doc, "DBProxyArn", json_string(arn));
	json_object_set_new(doc, "Status", json_string("available"));
	json_object_set_new(doc, "EngineFamily", json_string(family));
	json_object_set_new(doc, "VpcId", json_string(vpc));
	json_object_set_new(doc, "VpcSecurityGroupIds", sgs);
	json_object_set_new(doc, "VpcSubnetIds", str_list(in, "VpcSubnetIds"));
	json_object_set_new(doc, "DefaultAuthScheme", json_string(scheme));
	json_object_set_new(doc, "Auth", auth);
	json_object_set_new(doc, "RoleArn", json_string(str_or(in, "RoleArn", "")));
	json_object_set_new(doc, "RequireTLS", json_boolean(rds_in_bool(in, "RequireTLS", false)));
	json_object_set_new(doc, "IdleClientTimeout", json_integer(idle));
	debug_logging_set(doc, rds_in_bool(in, "DebugLogging", false), call->now);
	json_object_set_new(doc, "CreatedDate", json_real(call->now));
	json_object_set_new(doc, "UpdatedDate", json_real(call->now));
	json_object_set_new(doc, "EndpointNetworkType", json_string(str_or(in, "EndpointNetworkType", "IPV4")));
	json_object_set_new(doc, "TargetConnectionNetworkType",
	                    json_string(str_or(in, "TargetConnectionNetworkType", "IPV4")));
	json_object_set_new(doc, "TagList", json_array());
	bool sqlserver = strcmp(family, "SQLSERVER") == 0;
	json_t *pool = json_pack("{s:i, s:i, s:i, s:[]}", "MaxConnectionsPercent", sqlserver ? 10 : 100,
	                         "MaxIdleConnectionsPercent", sqlserver ? 5 : 50, "ConnectionBorrowTimeout", 120,
	                         "SessionPinningFilters");
	rds_random_hex(hex, 17);
	snprintf(tg_arn, sizeof tg_arn, "arn:aws:rds:%s:%s:target-group:prx-tg-%s", call->region, call->account, hex);
	json_t *tg = json_pack("{s:s, s:s, s:s, s:b, s:s, s:o, s:f, s:f, s:[]}", "DBProxyName", name, "TargetGroupName",
	                       DEFAULT_TG, "TargetGroupArn", tg_arn, "IsDefault", 1, "Status", "available",
	                       "ConnectionPoolConfig", pool, "CreatedDate", call->now, "UpdatedDate", call->now, "TagList");
	json_t *tags = json_object_get(in, "Tags");
	rc = json_is_array(tags) ? rds_merge_tags(doc, tags, err) : 0;
	if (rc == 0)
		rc = proxy_dns(call, id, name, family, doc, err);
	if (rc == 0)
		rc = put(call->store,
		         "INSERT INTO rds_proxies(account, region, proxy_id, name, arn, created, doc) VALUES (?1, ?2, ?3, "
		         "json_extract(?4, '$.DBProxyName'), json_extract(?4, '$.DBProxyArn'), "
		         "json_extract(?4, '$.CreatedDate'), ?4)",
		         call->account, call->region, id, doc, err);
	if (rc == 0)
		rc = put(call->store,
		         "INSERT INTO rds_proxy_target_groups(proxy_id, name, arn, created, doc) VALUES (?1, "
		         "json_extract(?4, '$.TargetGroupName'), json_extract(?4, '$.TargetGroupArn'), "
		         "json_extract(?4, '$.CreatedDate'), ?4)",
		         id, NULL, NULL, tg, err);
	json_decref(tg);
	if (rc == 0) {
		rds_changed();
		*out = json_pack("{s:o}", "DBProxy", shown(doc));
	}
	json_decref(doc);
	return rc;
}

static int describe_proxies_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	json_t *all = json_array();
	const char *name = in_str(in, "DBProxyName");
	int rc = 0;
	if (name) {
		char id[RID_MAX];
		json_t *doc;
		rc = proxy_load(call, name, id, &doc, err);
		if (rc == 0)
			json_array_append_new(all, doc);
	} else {
		rc = rows(call->store,
		          RDS_PREP(call->store, "SELECT doc FROM rds_proxies WHERE account = ?1 AND region = ?2 ORDER BY lower(name)",
		               call->account, call->region),
		          true, all, err);
	}
	size_t i;
	json_t *d;
	json_array_foreach(all, i, d) {
		json_object_del(d, "TagList");
		json_object_set_new(d, "DebugLogging", json_boolean(rds_proxy_debug_logging(d, call->now)));
		json_object_del(d, RDS_PROXY_DEBUG_SINCE);
	}
	if (rc < 0) {
		json_decref(all);
		return -1;
	}
	return page(in, all, "DBProxies", out, err);
}

static int modify_proxy_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	char id[RID_MAX];
	json_t *doc = NULL, *auth = NULL;
	if (proxy_load(call, in_str(in, "DBProxyName"), id, &doc, err) < 0)
		return -1;
	const char *family = in_str(doc, "EngineFamily");
	const char *scheme = in_str(in, "DefaultAuthScheme");
	const char *rename = in_str(in, "NewDBProxyName");
	long long idle;
	int rc = -1;
	if (check_enum("DefaultAuthScheme", scheme, auth_schemes, err) < 0 ||
	    in_int(in, "IdleClientTimeout", json_integer_value(json_object_get(doc, "IdleClientTimeout")), 1, 28800,
	           &idle, err) < 0 ||
	    (rename && rds_check_name("NewDBProxyName", rename, err) < 0))
		goto out;
	if (in_has(in, "Auth") && check_auth(json_object_get(in, "Auth"), family, &auth, err) < 0)
		goto out;
	if (rename) {
		int found = proxy_name_taken(call, rename, id, err);
		if (found != 0) {
			if (found > 0)
				emu_err_set(err, ERR_RDS_DB_PROXY_EXISTS, "DBProxy %s already exists.", rename);
			goto out;
		}
		json_object_set_new(doc, "DBProxyName", json_string(rename));
		/* The default endpoint's DNS name starts with the proxy name. */
		if (proxy_dns(call, id, rename, family, doc, err) < 0 ||
		    rds_exec(call->store,
		            RDS_PREP(call->store, "UPDATE rds_proxy_target_groups SET doc = json_set(doc, '$.DBProxyName', ?2) "
		                              "WHERE proxy_id = ?1", id, rename), err) < 0 ||
		    rds_exec(call->store,
		            RDS_PREP(call->store, "UPDATE rds_proxy_endpoints SET doc = json_set(doc, '$.DBProxyName', ?2) "
		                              "WHERE proxy_id = ?1", id, rename), err) < 0)
			goto out;
	}
	if (scheme)
		json_object_set_new(doc, "DefaultAuthScheme", json_string(scheme));
	if (auth)
		json_object_set(doc, "Auth", auth);
	if (in_str(in, "RoleArn"))
		json_object_set_new(doc, "RoleArn", json_string(in_str(in, "RoleArn")));
	if (json_is_array(json_object_get(in, "SecurityGroups")))
		json_object_set_new(doc, "VpcSecurityGroupIds", str_list(in, "SecurityGroups"));
	json_object_set_new(doc, "RequireTLS",
	                    json_boolean(rds_in_bool(in, "RequireTLS", json_is_true(json_object_get(doc, "RequireTLS")))));
	debug_logging_set(doc, rds_in_bool(in, "DebugLogging", rds_proxy_debug_logging(doc, call->now)), call->now);
	json_object_set_new(doc, "IdleClientTimeout", json_integer(idle));
	json_object_set_new(doc, "UpdatedDate", json_real(call->now));
	rc = proxy_save(call, id, doc, err);
	if (rc == 0) {
		rds_changed();
		*out = json_pack("{s:o}", "DBProxy", shown(doc));
	}
out:
	json_decref(auth);
	json_decref(doc);
	return rc;
}

static int delete_proxy_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	char id[RID_MAX];
	json_t *doc = NULL;
	if (proxy_load(call, in_str(in, "DBProxyName"), id, &doc, err) < 0)
		return -1;
	json_t *eps = json_array(), *ep;
	size_t i;
	int rc = rows(call->store, RDS_PREP(call->store, "SELECT doc FROM rds_proxy_endpoints WHERE proxy_id = ?1", id), true,
	              eps, err);
	json_array_foreach(eps, i, ep) if (rc == 0) rc = rds_endpoint_free(call->store, RDS_EP_KIND_PROXY_ENDPOINT,
	                                                                    call->account, call->region, ep_rid(ep), err);
	json_decref(eps);
	/* Target group, targets and endpoints go with the row (ON DELETE CASCADE). */
	if (rc == 0)
		rc = rds_endpoint_free(call->store, RDS_EP_KIND_PROXY, call->account, call->region, id, err);
	if (rc == 0)
		rc = rds_exec(call->store, RDS_PREP(call->store, "DELETE FROM rds_proxies WHERE proxy_id = ?1", id), err);
	if (rc == 0) {
		rds_changed();
		json_object_set_new(doc, "Status", json_string("deleting"));
		*out = json_pack("{s:o}", "DBProxy", shown(doc));
	}
	json_decref(doc);
	return rc;
}

/* ---- target groups ---------------------------------------------------------------- */

static int describe_tgs_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	char id[RID_MAX];
	json_t *proxy = NULL, *tg = NULL;
	if (proxy_load(call, in_str(in, "DBProxyName"), id, &proxy, err) < 0)
		return -1;
	json_decref(proxy);
	if (tg_load(call, in, id, &tg, err) < 0)
		return -1;
	json_t *all = json_array();
	json_array_append_new(all, shown(tg));
	json_decref(tg);
	return page(in, all, "TargetGroups", out, err);
}

static int modify_tg_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	char id[RID_MAX];
	json_t *proxy = NULL, *tg = NULL;
	if (proxy_load(call, in_str(in, "DBProxyName"), id, &proxy, err) < 0)
		return -1;
	int rc = tg_load(call, in, id, &tg, err);
	const char *rename = in_str(in, "NewName");
	if (rc == 0 && rename && strcmp(rename, in_str(tg, "TargetGroupName")) != 0)
		rc = emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "You can't rename the default target group.");
	json_t *pool = json_object_get(tg, "ConnectionPoolConfig");
	if (rc == 0 && json_is_object(json_object_get(in, "ConnectionPoolConfig")))
		rc = apply_pool(pool, json_object_get(in, "ConnectionPoolConfig"), in_str(proxy, "EngineFamily"), err);
	if (rc == 0) {
		json_object_set_new(tg, "UpdatedDate", json_real(call->now));
		rc = put(call->store, "UPDATE rds_proxy_target_groups SET doc = ?4 WHERE arn = ?1",
		         in_str(tg, "TargetGroupArn"), NULL, NULL, tg, err);
	}
	if (rc == 0) {
		rds_changed();
		*out = json_pack("{s:o}", "DBProxyTargetGroup", shown(tg));
	}
	json_decref(tg);
	json_decref(proxy);
	return rc;
}

/* ---- targets ----------------------------------------------------------------------- */

/* An instance or cluster row's document by identifier: 1, 0, -1. */
static int db_load(struct emu_call *call, bool cluster, const char *id, json_t **doc, struct emu_err *err)
{
	sqlite3_stmt *st = cluster ? RDS_PREP(call->store, "SELECT id, doc FROM rds_clusters WHERE account = ?1 AND "
	                                               "region = ?2 AND id = lower(?3)",
	                                  call->account, call->region, id)
	                           : RDS_PREP(call->store, "SELECT id, doc FROM rds_instances WHERE account = ?1 AND "
	                                               "region = ?2 AND id = lower(?3)",
	                                  call->account, call->region, id);
	return rds_row_doc(call->store, st, NULL, 0, doc, err);
}

/* May a database of this engine sit behind the proxy? */
static int check_engine(json_t *proxy, json_t *db, const char *id, struct emu_err *err)
{
	const struct engine_info *eng = engines_find(str_or(db, "Engine", ""));
	const char *family = in_str(proxy, "EngineFamily");
	if (!eng || !eng->proxy || !engines_family_name(eng->family) || strcmp(engines_family_name(eng->family), family) != 0)
		return emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		                   "The engine %s of %s is not supported by a proxy of engine family %s.",
		                   str_or(db, "Engine", "?"), id, family);
	return 0;
}

/* A RDS_INSTANCE target for an instance document. */
static json_t *instance_target(json_t *inst, const char *role, const char *cluster)
{
	json_t *ep = json_object_get(inst, "Endpoint");
	json_t *t = json_pack("{s:s, s:s, s:i, s:s, s:s}", "TargetArn", str_or(inst, "DBInstanceArn", ""),
	                      "RdsResourceId", str_or(inst, "DBInstanceIdentifier", ""),
	                      "Port", (int)json_integer_value(json_object_get(ep, "Port")), "Type", "RDS_INSTANCE", "Role",
	                      role);
	if (in_str(ep, "Address"))
		json_object_set_new(t, "Endpoint", json_string(in_str(ep, "Address")));
	if (cluster)
		json_object_set_new(t, "TrackedClusterId", json_string(cluster));
	return t;
}

static int target_put(struct emu_call *call, const char *proxy_id, json_t *target, json_t *shown_list,
                      struct emu_err *err)
{
	if (put(call->store,
	        "INSERT INTO rds_proxy_targets(proxy_id, target_group, type, rds_id, doc) VALUES (?1, ?2, "
	        "json_extract(?4, '$.Type'), ?3, ?4)",
	        proxy_id, DEFAULT_TG, in_str(target, "RdsResourceId"), target, err) < 0)
		return -1;
	json_t *s = json_deep_copy(target);
	if (strcmp(in_str(target, "Type"), "RDS_INSTANCE") == 0)
		json_object_set_new(s, "TargetHealth", json_pack("{s:s}", "State", "REGISTERING"));
	json_array_append_new(shown_list, s);
	return 0;
}

static int register_instance(struct emu_call *call, const char *proxy_id, json_t *proxy, const char *id,
                             json_t *list, struct emu_err *err)
{
	json_t *inst = NULL;
	int rc = db_load(call, false, id, &inst, err);
	const char *status = str_or(inst, "DBInstanceStatus", "");
	if (rc == 0)
		rc = emu_err_set(err, ERR_RDS_DB_INSTANCE_NOT_FOUND, "DBInstance %.100s not found.", id);
	else if (rc > 0 && in_str(inst, "DBClusterIdentifier"))
		rc = emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		                 "DB instance %s is a member of DB cluster %s: register the cluster instead.", id,
		                 in_str(inst, "DBClusterIdentifier"));
	else if (rc > 0 && (strcmp(status, "deleting") == 0 || strcmp(status, "failed") == 0))
		rc = emu_err_set(err, ERR_RDS_INVALID_DB_INSTANCE_STATE, "DB instance %s is in state %s.", id, status);
	else if (rc > 0)
		rc = check_engine(proxy, inst, id, err);
	if (rc == 0) {
		json_t *t = instance_target(inst, "READ_WRITE", NULL);
		rc = target_put(call, proxy_id, t, list, err);
		json_decref(t);
	}
	json_decref(inst);
	return rc;
}

static int register_cluster(struct emu_call *call, const char *proxy_id, json_t *proxy, const char *id,
                            json_t *list, struct emu_err *err)
{
	json_t *cl = NULL;
	int rc = db_load(call, true, id, &cl, err);
	const char *status = str_or(cl, "Status", "");
	const char *cid = str_or(cl, "DBClusterIdentifier", id);
	if (rc == 0)
		rc = emu_err_set(err, ERR_RDS_DB_CLUSTER_NOT_FOUND, "DBCluster %.100s not found.", id);
	else if (rc > 0 && strcmp(status, "available") != 0)
		rc = emu_err_set(err, ERR_RDS_INVALID_DB_CLUSTER_STATE, "DB cluster %s is in state %s.", cid, status);
	else if (rc > 0)
		rc = check_engine(proxy, cl, id, err);
	if (rc == 0) {
		json_t *t = json_pack("{s:s, s:s, s:s, s:i, s:s}", "TargetArn",
		                      str_or(cl, "DBClusterArn", ""), "TrackedClusterId", cid,
		                      "RdsResourceId", cid, "Port", 0, "Type", "TRACKED_CLUSTER");
		rc = target_put(call, proxy_id, t, list, err);
		json_decref(t);
	}
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(cl, "DBClusterMembers"), i, m) {
		json_t *inst = NULL;
		int found = rc < 0 ? 0 : db_load(call, false, in_str(m, "DBInstanceIdentifier"), &inst, err);
		if (found < 0)
			rc = -1;
		if (found <= 0) /* a member without its instance row is skipped */
			continue;
		json_t *t = instance_target(inst, json_is_true(json_object_get(m, "IsClusterWriter")) ? "READ_WRITE" : "READ_ONLY",
		                            cid);
		rc = target_put(call, proxy_id, t, list, err);
		json_decref(t);
		json_decref(inst);
	}
	json_decref(cl);
	return rc;
}

/* The identifiers of a Register/Deregister request: exactly one database. */
static int target_ids(json_t *in, json_t **ids, bool *cluster, struct emu_err *err)
{
	json_t *insts = json_object_get(in, "DBInstanceIdentifiers"), *cls = json_object_get(in, "DBClusterIdentifiers");
	size_t n = json_array_size(insts) + json_array_size(cls);
	*cluster = json_array_size(cls) > 0;
	*ids = *cluster ? cls : insts;
	if (n == 0)
		return emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		                   "Specify DBInstanceIdentifiers or DBClusterIdentifiers.");
	if (n > 1)
		return emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		                   "A target group can have only one DB instance or DB cluster.");
	return json_is_string(json_array_get(*ids, 0)) ? 0
	                                               : emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "Invalid identifier.");
}

static int register_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	char id[RID_MAX];
	json_t *proxy = NULL, *tg = NULL, *ids;
	bool cluster;
	if (proxy_load(call, in_str(in, "DBProxyName"), id, &proxy, err) < 0)
		return -1;
	int rc = tg_load(call, in, id, &tg, err);
	if (rc == 0)
		rc = target_ids(in, &ids, &cluster, err);
	long long n = 0;
	if (rc == 0)
		rc = count(call->store,
		           RDS_PREP(call->store, "SELECT count(*) FROM rds_proxy_targets WHERE proxy_id = ?1 AND target_group = ?2",
		                id, in_str(tg, "TargetGroupName")),
		           &n, err);
	if (rc == 0 && n > 0)
		rc = emu_err_set(err, ERR_RDS_DB_PROXY_TARGET_EXISTS,
		                 "The target group of DBProxy %s already has a registered database.", in_str(proxy, "DBProxyName"));
	json_t *list = json_array();
	const char *db = rc == 0 ? json_string_value(json_array_get(ids, 0)) : NULL;
	if (rc == 0)
		rc = cluster ? register_cluster(call, id, proxy, db, list, err)
		             : register_instance(call, id, proxy, db, list, err);
	if (rc == 0) {
		rds_changed();
		*out = json_pack("{s:O}", "DBProxyTargets", list);
	}
	json_decref(list);
	json_decref(tg);
	json_decref(proxy);
	return rc;
}

static int deregister_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	char id[RID_MAX];
	json_t *proxy = NULL, *tg = NULL, *ids;
	bool cluster;
	if (proxy_load(call, in_str(in, "DBProxyName"), id, &proxy, err) < 0)
		return -1;
	json_decref(proxy);
	int rc = tg_load(call, in, id, &tg, err);
	if (rc == 0)
		rc = target_ids(in, &ids, &cluster, err);
	const char *db = rc == 0 ? json_string_value(json_array_get(ids, 0)) : NULL;
	const char *group = in_str(tg, "TargetGroupName");
	/* A cluster goes with its member targets; an instance only when it is
	 * not tracked through a cluster. */
	if (rc == 0)
		rc = rds_exec(call->store,
		             cluster ? RDS_PREP(call->store, "DELETE FROM rds_proxy_targets WHERE proxy_id = ?1 AND target_group = ?2 "
		                                         "AND ((type = 'TRACKED_CLUSTER' AND rds_id = lower(?3)) OR "
		                                         "json_extract(doc, '$.TrackedClusterId') = lower(?3))",
		                            id, group, db)
		                     : RDS_PREP(call->store, "DELETE FROM rds_proxy_targets WHERE proxy_id = ?1 AND target_group = ?2 "
		                                         "AND type = 'RDS_INSTANCE' AND rds_id = lower(?3) AND "
		                                         "json_extract(doc, '$.TrackedClusterId') IS NULL",
		                            id, group, db),
		             err);
	if (rc == 0 && sqlite3_changes(store_db(call->store)) == 0)
		rc = emu_err_set(err, ERR_RDS_DB_PROXY_TARGET_NOT_FOUND, "%s %.100s is not registered with DBProxy %.100s.",
		                 cluster ? "DB cluster" : "DB instance", db, in_str(in, "DBProxyName"));
	if (rc == 0) {
		rds_changed();
		*out = json_object();
	}
	json_decref(tg);
	return rc;
}

/* The health the control plane can see: the instance's status, then
 * whether the proxy has credentials. */
static json_t *default_health(struct emu_call *call, json_t *proxy, json_t *target)
{
	const char *id = in_str(target, "RdsResourceId");
	json_t *inst = NULL;
	struct emu_err e = {0};
	char why[200];
	int found = db_load(call, false, id, &inst, &e);
	const char *status = in_str(inst, "DBInstanceStatus");
	json_t *h;
	if (found <= 0 || !status || strcmp(status, "available") != 0) {
		snprintf(why, sizeof why, "DB instance %.60s is %.60s", id ? id : "?",
		         found <= 0 ? "not found" : status ? status : "?");
		h = json_pack("{s:s, s:s, s:s}", "State", "UNAVAILABLE", "Reason", "UNREACHABLE", "Description", why);
	} else if (json_array_size(json_object_get(proxy, "Auth")) == 0 &&
	           strcmp(str_or(proxy, "DefaultAuthScheme", ""), "IAM_AUTH") != 0) {
		h = json_pack("{s:s, s:s, s:s}", "State", "UNAVAILABLE", "Reason", "AUTH_FAILURE", "Description",
		              "Proxy does not have any registered credentials");
	} else {
		h = json_pack("{s:s}", "State", "AVAILABLE");
	}
	json_decref(inst);
	return h;
}

/* A cluster member's Role from the cluster's current members. */
static const char *member_role(struct emu_call *call, const char *cluster, const char *inst)
{
	json_t *cl = NULL, *m;
	struct emu_err e = {0};
	const char *role = "UNKNOWN";
	size_t i;
	if (db_load(call, true, cluster, &cl, &e) > 0)
		json_array_foreach(json_object_get(cl, "DBClusterMembers"), i, m) {
			const char *mid = in_str(m, "DBInstanceIdentifier");
			if (mid && inst && strcmp(mid, inst) == 0)
				role = json_is_true(json_object_get(m, "IsClusterWriter")) ? "READ_WRITE" : "READ_ONLY";
		}
	json_decref(cl);
	return role;
}

/* A tracked cluster's instance targets are its members now, not those of
 * the time it was registered: instances that joined later appear, deleted
 * ones go (the rows stored at registration are replaced in the answer). */
static void expand_tracked(struct emu_call *call, json_t *all)
{
	size_t n = json_array_size(all);
	for (size_t i = 0; i < n; i++) {
		json_t *t = json_array_get(all, i);
		if (strcmp(str_or(t, "Type", ""), "TRACKED_CLUSTER") != 0)
			continue;
		const char *cid = str_or(t, "TrackedClusterId", "");
		for (size_t j = json_array_size(all); j-- > 0;) {
			json_t *o = json_array_get(all, j);
			if (strcmp(str_or(o, "Type", ""), "RDS_INSTANCE") == 0 && strcmp(str_or(o, "TrackedClusterId", ""), cid) == 0) {
				json_array_remove(all, j);
				if (j < i) {
					i--;
					n--;
				}
			}
		}
		n = json_array_size(all);
		json_t *cl = NULL, *m;
		struct emu_err e = {0};
		size_t k;
		if (db_load(call, true, cid, &cl, &e) > 0)
			json_array_foreach(json_object_get(cl, "DBClusterMembers"), k, m) {
				json_t *inst = NULL;
				if (db_load(call, false, in_str(m, "DBInstanceIdentifier"), &inst, &e) > 0)
					json_array_append_new(all, instance_target(inst, "UNKNOWN", cid));
				json_decref(inst);
			}
		json_decref(cl);
	}
}

static int describe_targets_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	char id[RID_MAX];
	json_t *proxy = NULL, *tg = NULL;
	if (proxy_load(call, in_str(in, "DBProxyName"), id, &proxy, err) < 0)
		return -1;
	json_t *all = json_array(), *t;
	int rc = tg_load(call, in, id, &tg, err);
	if (rc == 0)
		rc = rows(call->store,
		          RDS_PREP(call->store, "SELECT doc FROM rds_proxy_targets WHERE proxy_id = ?1 AND target_group = ?2 "
		                            "ORDER BY type DESC, rds_id",
		               id, in_str(tg, "TargetGroupName")),
		          true, all, err);
	if (rc == 0)
		expand_tracked(call, all);
	size_t i;
	json_array_foreach(all, i, t) {
		if (rc < 0 || strcmp(str_or(t, "Type", ""), "RDS_INSTANCE") != 0)
			continue;
		if (in_str(t, "TrackedClusterId"))
			json_object_set_new(t, "Role", json_string(member_role(call, in_str(t, "TrackedClusterId"),
			                                                       in_str(t, "RdsResourceId"))));
		/* the control plane's view first (an instance that is down is UNREACHABLE
		 * whatever the data plane last saw); the data plane's on an AVAILABLE one */
		json_t *h = default_health(call, proxy, t), *dp = NULL;
		if (h && strcmp(str_or(h, "State", ""), "AVAILABLE") == 0 && health_fn &&
		    health_fn(health_ctx, proxy, t, &dp) == 0 && json_is_object(dp)) {
			json_decref(h);
			h = dp;
			dp = NULL;
		}
		json_decref(dp);
		json_object_set_new(t, "TargetHealth", h);
	}
	json_decref(tg);
	json_decref(proxy);
	if (rc < 0) {
		json_decref(all);
		return -1;
	}
	return page(in, all, "Targets", out, err);
}

/* ---- endpoints ---------------------------------------------------------------------- */

static int ep_default_name(const char *name, const char *member, struct emu_err *err)
{
	if (name && strcasecmp(name, DEFAULT_EP) == 0)
		return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "The %s \"%s\" is reserved for the default endpoint.",
		                   member, name);
	return 0;
}

/* The default endpoint of a proxy, as DescribeDBProxyEndpoints shows it. */
static json_t *default_endpoint(json_t *proxy)
{
	json_t *e = json_pack("{s:s, s:O, s:O, s:O, s:O, s:O, s:O, s:s, s:b, s:O}", "DBProxyEndpointName", DEFAULT_EP,
	                      "DBProxyName", json_object_get(proxy, "DBProxyName"), "Status",
	                      json_object_get(proxy, "Status"), "VpcId", json_object_get(proxy, "VpcId"),
	                      "VpcSecurityGroupIds", json_object_get(proxy, "VpcSecurityGroupIds"), "VpcSubnetIds",
	                      json_object_get(proxy, "VpcSubnetIds"), "Endpoint", json_object_get(proxy, "Endpoint"),
	                      "TargetRole", "READ_WRITE", "IsDefault", 1, "EndpointNetworkType",
	                      json_object_get(proxy, "EndpointNetworkType"));
	json_object_set(e, "CreatedDate", json_object_get(proxy, "CreatedDate"));
	return e;
}

/* READ_ONLY needs an Aurora cluster target with at least one reader. */
static int has_readers(struct emu_call *call, const char *proxy_id, struct emu_err *err)
{
	json_t *cls = json_array(), *c;
	size_t i;
	int rc = rows(call->store,
	              RDS_PREP(call->store, "SELECT rds_id FROM rds_proxy_targets WHERE proxy_id = ?1 AND "
	                                "type = 'TRACKED_CLUSTER'",
	                   proxy_id),
	              false, cls, err);
	bool readers = false;
	json_array_foreach(cls, i, c) {
		json_t *cl = NULL, *m;
		size_t j;
		if (rc == 0 && (rc = db_load(call, true, json_string_value(c), &cl, err)) > 0) {
			const struct engine_info *eng = engines_find(str_or(cl, "Engine", ""));
			json_array_foreach(json_object_get(cl, "DBClusterMembers"), j, m) readers =
				readers || (eng && eng->aurora && !json_is_true(json_object_get(m, "IsClusterWriter")));
			rc = 0;
		}
		json_decref(cl);
	}
	json_decref(cls);
	return rc < 0 ? -1 : readers;
}

static int create_ep_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	static const char *const roles[] = {"READ_WRITE", "READ_ONLY", NULL};
	static const char *const net[] = {"IPV4", "IPV6", "DUAL", NULL};
	char id[RID_MAX];
	json_t *proxy = NULL, *doc = NULL;
	const char *name = in_str(in, "DBProxyEndpointName");
	const char *role = str_or(in, "TargetRole", "READ_WRITE");
	if (proxy_load(call, in_str(in, "DBProxyName"), id, &proxy, err) < 0)
		return -1;
	int rc = -1;
	if (rds_check_name("DBProxyEndpointName", name, err) < 0 || ep_default_name(name, "DBProxyEndpointName", err) < 0 ||
	    check_enum("TargetRole", role, roles, err) < 0 ||
	    check_enum("EndpointNetworkType", in_str(in, "EndpointNetworkType"), net, err) < 0 || check_subnets(in, err) < 0)
		goto out;
	long long n;
	int found = ep_name_taken(call, name, NULL, err);
	if (found != 0) {
		if (found > 0)
			emu_err_set(err, ERR_RDS_DB_PROXY_ENDPOINT_EXISTS, "DBProxyEndpoint %s already exists.", name);
		goto out;
	}
	if (count(call->store, RDS_PREP(call->store, "SELECT count(*) FROM rds_proxy_endpoints WHERE proxy_id = ?1", id), &n,
	          err) < 0)
		goto out;
	if (n >= ENDPOINT_MAX) {
		emu_err_set(err, ERR_RDS_DB_PROXY_ENDPOINT_QUOTA, "DBProxy %s already has %d endpoints.",
		            in_str(proxy, "DBProxyName"), ENDPOINT_MAX);
		goto out;
	}
	if (strcmp(role, "READ_ONLY") == 0) {
		if (strcmp(in_str(proxy, "EngineFamily"), "SQLSERVER") == 0) {
			emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
			            "Proxies of engine family SQLSERVER support only READ_WRITE endpoints.");
			goto out;
		}
		if ((found = has_readers(call, id, err)) <= 0) {
			if (found == 0)
				emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
				            "READ_ONLY endpoints need an Aurora DB cluster target with at least one reader.");
			goto out;
		}
	}
	char hex[18], arn[RDS_ARN_MAX];
	rds_random_hex(hex, 17);
	snprintf(arn, sizeof arn, "arn:aws:rds:%s:%s:db-proxy-endpoint:prx-endpoint-%s", call->region, call->account, hex);
	json_t *sgs = str_list(in, "VpcSecurityGroupIds");
	if (json_array_size(sgs) == 0)
		json_array_extend(sgs, json_object_get(proxy, "VpcSecurityGroupIds"));
	doc = json_pack("{s:s, s:s, s:O, s:s, s:O, s:o, s:o, s:f, s:s, s:b, s:s, s:[]}", "DBProxyEndpointName", name,
	                "DBProxyEndpointArn", arn, "DBProxyName", json_object_get(proxy, "DBProxyName"), "Status",
	                "available", "VpcId", json_object_get(proxy, "VpcId"), "VpcSecurityGroupIds", sgs, "VpcSubnetIds",
	                str_list(in, "VpcSubnetIds"), "CreatedDate", call->now, "TargetRole", role, "IsDefault", 0,
	                "EndpointNetworkType", str_or(in, "EndpointNetworkType", "IPV4"), "TagList");
	json_t *tags = json_object_get(in, "Tags");
	rc = ep_dns(call, doc, family_port(in_str(proxy, "EngineFamily")), err);
	if (rc == 0 && json_is_array(tags))
		rc = rds_merge_tags(doc, tags, err);
	if (rc == 0)
		rc = put(call->store,
		         "INSERT INTO rds_proxy_endpoints(account, region, proxy_id, name, arn, created, doc) VALUES (?1, ?2, "
		         "?3, json_extract(?4, '$.DBProxyEndpointName'), json_extract(?4, '$.DBProxyEndpointArn'), "
		         "json_extract(?4, '$.CreatedDate'), ?4)",
		         call->account, call->region, id, doc, err);
	if (rc == 0) {
		rds_changed();
		*out = json_pack("{s:o}", "DBProxyEndpoint", shown(doc));
	}
out:
	json_decref(doc);
	json_decref(proxy);
	return rc;
}

static int describe_eps_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *pname = in_str(in, "DBProxyName"), *ename = in_str(in, "DBProxyEndpointName");
	char id[RID_MAX] = "", owner[RID_MAX];
	json_t *proxy = NULL, *all = json_array(), *doc = NULL, *d;
	size_t i;
	int rc = pname ? proxy_load(call, pname, id, &proxy, err) : 0;
	if (rc == 0 && ename && strcasecmp(ename, DEFAULT_EP) == 0) {
		json_t *proxies = json_array();
		if (proxy)
			json_array_append(proxies, proxy);
		else
			rc = rows(call->store,
			          RDS_PREP(call->store, "SELECT doc FROM rds_proxies WHERE account = ?1 AND region = ?2 "
			                            "ORDER BY lower(name)",
			               call->account, call->region),
			          true, proxies, err);
		json_array_foreach(proxies, i, d) json_array_append_new(all, default_endpoint(d));
		json_decref(proxies);
	} else if (rc == 0 && ename) {
		int found = ep_find(call, ename, owner, &doc, err);
		if (found == 0 || (found > 0 && proxy && strcmp(owner, id) != 0))
			rc = emu_err_set(err, ERR_RDS_DB_PROXY_ENDPOINT_NOT_FOUND, "DBProxyEndpoint %.100s not found.", ename);
		else if (found < 0)
			rc = -1;
		else
			json_array_append(all, doc);
	} else if (rc == 0) {
		rc = rows(call->store,
		          proxy ? RDS_PREP(call->store, "SELECT doc FROM rds_proxy_endpoints WHERE proxy_id = ?1 ORDER BY lower(name)",
		                       id)
		                : RDS_PREP(call->store, "SELECT doc FROM rds_proxy_endpoints WHERE account = ?1 AND region = ?2 "
		                                    "ORDER BY lower(name)",
		                       call->account, call->region),
		          true, all, err);
	}
	json_array_foreach(all, i, d) json_object_del(d, "TagList");
	json_decref(doc);
	json_decref(proxy);
	if (rc < 0) {
		json_decref(all);
		return -1;
	}
	return page(in, all, "DBProxyEndpoints", out, err);
}

/* A custom endpoint named by DBProxyEndpointName; what refers to the
 * default one is refused with the verb of the operation. */
static int ep_load(struct emu_call *call, json_t *in, const char *verb, json_t **doc, struct emu_err *err)
{
	const char *name = in_str(in, "DBProxyEndpointName");
	char owner[RID_MAX];
	*doc = NULL;
	if (name && strcasecmp(name, DEFAULT_EP) == 0)
		return emu_err_set(err, ERR_RDS_INVALID_DB_PROXY_ENDPOINT_STATE, "The default endpoint of a proxy can't be %s.",
		                   verb);
	int found = ep_find(call, name, owner, doc, err);
	if (found == 0)
		return emu_err_set(err, ERR_RDS_DB_PROXY_ENDPOINT_NOT_FOUND, "DBProxyEndpoint %.100s not found.",
		                   name ? name : "");
	return found < 0 ? -1 : 0;
}

static int modify_ep_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	const char *rename = in_str(in, "NewDBProxyEndpointName");
	json_t *doc = NULL;
	if (ep_load(call, in, "modified", &doc, err) < 0)
		return -1;
	int rc = -1;
	if (rename) {
		if (rds_check_name("NewDBProxyEndpointName", rename, err) < 0 ||
		    ep_default_name(rename, "NewDBProxyEndpointName", err) < 0)
			goto out;
		int found = ep_name_taken(call, rename, in_str(doc, "DBProxyEndpointArn"), err);
		if (found != 0) {
			if (found > 0)
				emu_err_set(err, ERR_RDS_DB_PROXY_ENDPOINT_EXISTS, "DBProxyEndpoint %s already exists.", rename);
			goto out;
		}
		/* The DNS name starts with the endpoint name; the address stays
		 * (the port of an allocated endpoint is kept: std_port 0). */
		json_object_set_new(doc, "DBProxyEndpointName", json_string(rename));
		if (ep_dns(call, doc, 0, err) < 0)
			goto out;
	}
	if (json_is_array(json_object_get(in, "VpcSecurityGroupIds")))
		json_object_set_new(doc, "VpcSecurityGroupIds", str_list(in, "VpcSecurityGroupIds"));
	rc = ep_save(call, doc, err);
	if (rc == 0) {
		rds_changed();
		*out = json_pack("{s:o}", "DBProxyEndpoint", shown(doc));
	}
out:
	json_decref(doc);
	return rc;
}

static int delete_ep_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	json_t *doc = NULL;
	if (ep_load(call, in, "deleted", &doc, err) < 0)
		return -1;
	int rc = rds_exec(call->store,
	                 RDS_PREP(call->store, "DELETE FROM rds_proxy_endpoints WHERE arn = ?1",
	                      in_str(doc, "DBProxyEndpointArn")),
	                 err);
	if (rc == 0)
		rc = rds_endpoint_free(call->store, RDS_EP_KIND_PROXY_ENDPOINT, call->account, call->region, ep_rid(doc), err);
	if (rc == 0) {
		rds_changed();
		json_object_set_new(doc, "Status", json_string("deleting"));
		*out = json_pack("{s:o}", "DBProxyEndpoint", shown(doc));
	}
	json_decref(doc);
	return rc;
}

int rds_proxy_arn(struct store *s, const char *account, const char *region, const char *name, char out[256])
{
	sqlite3_stmt *st = RDS_PREP(s, "SELECT arn FROM rds_proxies WHERE account = ?1 AND region = ?2 AND "
	                           "lower(name) = lower(?3)",
	                        account, region, name);
	if (!st)
		return -1;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		snprintf(out, 256, "%s", store_col_text(st, 0) ? store_col_text(st, 0) : "");
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

RDS_TX_OP(rds_create_db_proxy, create_proxy_impl)
RDS_TX_OP(rds_describe_db_proxies, describe_proxies_impl)
RDS_TX_OP(rds_modify_db_proxy, modify_proxy_impl)
RDS_TX_OP(rds_delete_db_proxy, delete_proxy_impl)
RDS_TX_OP(rds_register_db_proxy_targets, register_impl)
RDS_TX_OP(rds_deregister_db_proxy_targets, deregister_impl)
RDS_TX_OP(rds_describe_db_proxy_targets, describe_targets_impl)
RDS_TX_OP(rds_describe_db_proxy_target_groups, describe_tgs_impl)
RDS_TX_OP(rds_modify_db_proxy_target_group, modify_tg_impl)
RDS_TX_OP(rds_create_db_proxy_endpoint, create_ep_impl)
RDS_TX_OP(rds_describe_db_proxy_endpoints, describe_eps_impl)
RDS_TX_OP(rds_modify_db_proxy_endpoint, modify_ep_impl)
RDS_TX_OP(rds_delete_db_proxy_endpoint, delete_ep_impl)
