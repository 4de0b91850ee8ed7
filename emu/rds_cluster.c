/*
 * rds_cluster.c owns the RDS DB cluster control plane (Aurora clusters):
 * the rds_clusters rows (one JSON document per cluster, the API's DBCluster
 * shape plus TagList; the master password kept out of it), the cluster's
 * writer and reader endpoints, and the membership of instances
 * (DBClusterMembers: one writer, the others readers).  A cluster needs no
 * server of its own (its storage is AWS's), so it is `available` at once;
 * FailoverDBCluster swaps the writer and leaves "failing-over" until the
 * runtime reports back through rds_cluster_set_status().
 * May call: emu/store, emu/engines, emu/rds_common, emu/rds_endpoint,
 * emu/util, emu/err; the runtime only through rds_changed().
 * Invariants: identifiers are stored in lower case; the document's
 * DBClusterIdentifier and DBClusterArn equal the row's id and arn; an
 * instance is in DBClusterMembers exactly when its document names the
 * cluster in DBClusterIdentifier, and a cluster with members has exactly
 * one writer; every operation runs in one savepoint and leaves nothing
 * behind on failure.
 */
#include "emu/rds.h"
#include "emu/rds_int.h"

#include "emu/engines.h"
#include "emu/rds_common.h"
#include "emu/rds_endpoint.h"
#include "emu/store.h"
#include "emu/util.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define in_str rds_in_str
#define in_bool rds_in_bool
#define in_has rds_in_has

/* ---- identifiers and endpoints -------------------------------------------- */

static void cluster_arn(const char *account, const char *region, const char *id, char out[RDS_ARN_MAX])
{
	snprintf(out, RDS_ARN_MAX, "arn:aws:rds:%s:%s:cluster:%s", region, account, id);
}

/* A DBClusterIdentifier given as an identifier or a cluster ARN of this
 * account and region; lower-cased.  Foreign ARNs -> not found. */
static int resolve_id(struct emu_call *call, const char *v, char out[RDS_ID_MAX + 1], struct emu_err *err)
{
	if (v && util_has_prefix(v, "arn:")) {
		char prefix[RDS_ARN_MAX];
		snprintf(prefix, sizeof prefix, "arn:aws:rds:%s:%s:cluster:", call->region, call->account);
		if (!util_has_prefix(v, prefix) || strlen(v + strlen(prefix)) > RDS_ID_MAX)
			return emu_err_set(err, ERR_RDS_DB_CLUSTER_NOT_FOUND, "DBCluster %.300s not found.", v);
		v += strlen(prefix);
	}
	return rds_check_identifier("DBClusterIdentifier", v, out, err);
}

/* Allocates the writer and reader endpoints of cluster id (or renames
 * those it has) and puts what Describe shows in doc: Endpoint,
 * ReaderEndpoint, Port (the writer's; the same as the reader's unless
 * every endpoint shares one host). */
static int endpoints_alloc(struct emu_call *call, const char *id, int port, json_t *doc, struct emu_err *err)
{
	char dns[13], name[RDS_ARN_MAX], addr[RDS_ADDR_MAX];
	int wport = 0, rport = 0;
	rds_dns_part(call->account, call->region, dns);
	snprintf(name, sizeof name, "%s.cluster-%s.%s.rds.amazonaws.com", id, dns, call->region);
	if (rds_endpoint_alloc(call->store, RDS_EP_KIND_CLUSTER, call->account, call->region, id, name, port, addr,
	                       &wport, err) < 0)
		return -1;
	json_object_set_new(doc, "Endpoint", json_string(addr));
	json_object_set_new(doc, "Port", json_integer(wport));
	snprintf(name, sizeof name, "%s.cluster-ro-%s.%s.rds.amazonaws.com", id, dns, call->region);
	if (rds_endpoint_alloc(call->store, RDS_EP_KIND_CLUSTER_RO, call->account, call->region, id, name, port,
	                       addr, &rport, err) < 0)
		return -1;
	json_object_set_new(doc, "ReaderEndpoint", json_string(addr));
	return 0;
}

static int endpoints_free(struct emu_call *call, const char *id, struct emu_err *err)
{
	if (rds_endpoint_free(call->store, RDS_EP_KIND_CLUSTER, call->account, call->region, id, err) < 0)
		return -1;
	return rds_endpoint_free(call->store, RDS_EP_KIND_CLUSTER_RO, call->account, call->region, id, err);
}

/* ---- rows -------------------------------------------------------------------- */

/* 1 found (*doc new reference), 0 absent, -1 error. */
static int load(struct store *s, const char *account, const char *region, const char *id, json_t **doc,
                struct emu_err *err)
{
	return rds_row_doc(s, RDS_PREP(s, "SELECT id, doc FROM rds_clusters WHERE account = ?1 AND region = ?2 AND id = ?3",
	                               account, region, id),
	                   NULL, 0, doc, err);
}

static int load_required(struct emu_call *call, const char *id, json_t **doc, struct emu_err *err)
{
	int rc = load(call->store, call->account, call->region, id, doc, err);
	if (rc == 0)
		return emu_err_set(err, ERR_RDS_DB_CLUSTER_NOT_FOUND, "DBCluster %s not found.", id);
	return rc < 0 ? -1 : 0;
}

/* Writes doc to the row of id; the row takes doc's identifier and ARN (a
 * rename).  password NULL keeps the stored one. */
static int save(struct store *s, const char *account, const char *region, const char *id, json_t *doc,
                const char *password, struct emu_err *err)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	sqlite3_stmt *st = text ? store_prep(s, "UPDATE rds_clusters SET id = json_extract(?4, '$.DBClusterIdentifier'), "
	                                        "arn = json_extract(?4, '$.DBClusterArn'), doc = ?4, "
	                                        "master_password = coalesce(?5, master_password) "
	                                        "WHERE account = ?1 AND region = ?2 AND id = ?3")
	                        : NULL;
	if (!st) {
		free(text);
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	}
	store_bind_text(st, 1, account);
	store_bind_text(st, 2, region);
	store_bind_text(st, 3, id);
	store_bind_text(st, 4, text);
	store_bind_text(st, 5, password);
	int rc = sqlite3_step(st);
	free(text);
	if (rc != SQLITE_DONE)
		return store_fail(s, err);
	sqlite3_reset(st);
	return 0;
}

static int insert(struct emu_call *call, const char *id, json_t *doc, const char *password, struct emu_err *err)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	sqlite3_stmt *st = text ? store_prep(call->store, "INSERT INTO rds_clusters(account, region, id, arn, created, "
	                                                  "doc, master_password) VALUES (?1, ?2, ?3, "
	                                                  "json_extract(?5, '$.DBClusterArn'), ?4, ?5, ?6)")
	                        : NULL;
	if (!st) {
		free(text);
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	}
	store_bind_text(st, 1, call->account);
	store_bind_text(st, 2, call->region);
	store_bind_text(st, 3, id);
	sqlite3_bind_double(st, 4, call->now);
	store_bind_text(st, 5, text);
	store_bind_text(st, 6, password);
	int rc = sqlite3_step(st);
	free(text);
	if (rc != SQLITE_DONE)
		return store_fail(call->store, err);
	sqlite3_reset(st);
	return 0;
}

/* Sets path to the JSON text value in the documents of every member
 * instance of cluster id (facts members share with their cluster). */
static int members_set(struct emu_call *call, const char *id, const char *path, const char *value,
                       struct emu_err *err)
{
	return rds_exec(call->store,
	                RDS_PREP(call->store, "UPDATE rds_instances SET doc = json_set(doc, ?4, json(?5)) "
	                                      "WHERE account = ?1 AND region = ?2 "
	                                      "AND json_extract(doc, '$.DBClusterIdentifier') = ?3",
	                         call->account, call->region, id, path, value),
	                err);
}

/* DBInstanceStatus of instance id into status: 1 found, 0 absent, -1 error. */
static int instance_status(struct emu_call *call, const char *id, char status[32], struct emu_err *err)
{
	sqlite3_stmt *st = store_prep(call->store, "SELECT json_extract(doc, '$.DBInstanceStatus') FROM rds_instances "
	                                           "WHERE account = ?1 AND region = ?2 AND id = ?3");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	store_bind_text(st, 1, call->account);
	store_bind_text(st, 2, call->region);
	store_bind_text(st, 3, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		snprintf(status, 32, "%s", store_col_text(st, 0) ? store_col_text(st, 0) : "");
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_fail(call->store, err);
	return rc == SQLITE_ROW;
}

/* ---- members ------------------------------------------------------------------- */

static json_t *members_of(json_t *doc)
{
	json_t *m = json_object_get(doc, "DBClusterMembers");
	if (!json_is_array(m)) {
		m = json_array();
		json_object_set_new(doc, "DBClusterMembers", m);
	}
	return m;
}

static json_t *member_find(json_t *doc, const char *instance, size_t *at)
{
	size_t i;
	json_t *m;
	json_array_foreach(members_of(doc), i, m) {
		const char *have = in_str(m, "DBInstanceIdentifier");
		if (have && strcmp(have, instance) == 0) {
			if (at)
				*at = i;
			return m;
		}
	}
	return NULL;
}

/* Does reader a come before b for promotion (lower tier, then name)? */
static bool promote_before(json_t *a, json_t *b)
{
	json_int_t ta = json_integer_value(json_object_get(a, "PromotionTier"));
	json_int_t tb = json_integer_value(json_object_get(b, "PromotionTier"));
	const char *na = in_str(a, "DBInstanceIdentifier"), *nb = in_str(b, "DBInstanceIdentifier");
	return ta != tb ? ta < tb : strcmp(na ? na : "", nb ? nb : "") < 0;
}

/* The reader to promote, or NULL; with need_available only readers whose
 * instance is available (a failover needs a running replica).  0, -1. */
static int best_reader(struct emu_call *call, json_t *doc, bool need_available, json_t **best,
                       struct emu_err *err)
{
	*best = NULL;
	size_t i;
	json_t *m;
	json_array_foreach(members_of(doc), i, m) {
		if (json_is_true(json_object_get(m, "IsClusterWriter")) || (*best && !promote_before(m, *best)))
			continue;
		if (need_available) {
			char status[32] = "";
			const char *id = in_str(m, "DBInstanceIdentifier");
			int rc = instance_status(call, id ? id : "", status, err);
			if (rc < 0)
				return -1;
			if (strcmp(status, "available") != 0)
				continue;
		}
		*best = m;
	}
	return 0;
}

static void set_writer(json_t *doc, json_t *writer)
{
	size_t i;
	json_t *m;
	json_array_foreach(members_of(doc), i, m) json_object_set_new(m, "IsClusterWriter", json_boolean(m == writer));
	/* rdsemu has no AZs to spread over: Multi-AZ means "has a reader". */
	json_object_set_new(doc, "MultiAZ", json_boolean(json_array_size(members_of(doc)) > 1));
}

static int check_engine(json_t *doc, const char *engine, struct emu_err *err)
{
	const char *have = in_str(doc, "Engine");
	if (!engine || !have || strcmp(engine, have) != 0)
		return emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		                   "The engine name requested for your DB instance (%.64s) doesn't match the engine name "
		                   "of your DB cluster (%s).",
		                   engine ? engine : "", have ? have : "");
	return 0;
}

int rds_cluster_member_check(struct emu_call *call, const char *cluster, const char *engine, int *port,
                             struct emu_err *err)
{
	char id[RDS_ID_MAX + 1];
	json_t *doc = NULL;
	if (resolve_id(call, cluster, id, err) < 0 || load_required(call, id, &doc, err) < 0)
		return -1;
	int rc = check_engine(doc, engine, err);
	*port = (int)json_integer_value(json_object_get(doc, "Port"));
	json_decref(doc);
	return rc;
}

int rds_cluster_add_member(struct emu_call *call, const char *cluster, const char *instance, long long tier,
                           json_t *inst_doc, struct emu_err *err)
{
	if (tier < 0 || tier > 15)
		return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "PromotionTier must be between 0 and 15.");
	char id[RDS_ID_MAX + 1];
	json_t *doc = NULL;
	if (resolve_id(call, cluster, id, err) < 0 || load_required(call, id, &doc, err) < 0)
		return -1;
	int rc = check_engine(doc, in_str(inst_doc, "Engine"), err);
	if (rc == 0 && !member_find(doc, instance, NULL)) {
		json_t *members = members_of(doc);
		json_t *writer = NULL, *w;
		size_t i;
		json_array_foreach(members, i, w) if (json_is_true(json_object_get(w, "IsClusterWriter"))) writer = w;
		json_t *m = json_pack("{s:s, s:b, s:s, s:I}", "DBInstanceIdentifier", instance, "IsClusterWriter", 0,
		                      "DBClusterParameterGroupStatus", "in-sync", "PromotionTier", (json_int_t)tier);
		json_array_append_new(members, m);
		set_writer(doc, writer ? writer : m); /* the first member writes */
		rc = save(call->store, call->account, call->region, id, doc, NULL, err);
	}
	if (rc == 0) {
		static const char *const shared[] = {"MasterUsername", "EngineVersion", "IAMDatabaseAuthenticationEnabled",
		                                     "StorageEncrypted", "StorageType", "AllocatedStorage"};
		for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++)
			json_object_set(inst_doc, shared[i], json_object_get(doc, shared[i]));
		json_object_set_new(inst_doc, "DBClusterIdentifier", json_string(id));
		json_object_set_new(inst_doc, "PromotionTier", json_integer(tier));
		if (in_str(doc, "DatabaseName"))
			json_object_set(inst_doc, "DBName", json_object_get(doc, "DatabaseName"));
		else
			json_object_del(inst_doc, "DBName");
		rds_changed();
	}
	json_decref(doc);
	return rc;
}

int rds_cluster_remove_member(struct emu_call *call, const char *cluster, const char *instance,
                              struct emu_err *err)
{
	json_t *doc = NULL;
	int rc = load(call->store, call->account, call->region, cluster, &doc, err);
	size_t at;
	json_t *m = rc > 0 ? member_find(doc, instance, &at) : NULL;
	if (m) {
		bool was_writer = json_is_true(json_object_get(m, "IsClusterWriter"));
		json_array_remove(members_of(doc), at);
		json_t *writer = NULL;
		rc = was_writer ? best_reader(call, doc, false, &writer, err) : 0;
		if (rc == 0 && writer)
			set_writer(doc, writer);
		else if (rc == 0)
			json_object_set_new(doc, "MultiAZ", json_boolean(json_array_size(members_of(doc)) > 1));
		if (rc == 0)
			rc = save(call->store, call->account, call->region, cluster, doc, NULL, err);
		if (rc == 0)
			rds_changed();
	}
	json_decref(doc);
	return rc < 0 ? -1 : 0;
}

/* ---- runtime callbacks ------------------------------------------------------------ */

int rds_cluster_set_status(struct store *s, const char *account, const char *region, const char *id,
                           const char *status, struct emu_err *err)
{
	if (store_begin(s) < 0)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	json_t *doc = NULL;
	int rc = load(s, account, region, id, &doc, err);
	if (rc == 0)
		rc = emu_err_set(err, ERR_RDS_DB_CLUSTER_NOT_FOUND, "DBCluster %s not found.", id);
	if (rc > 0) {
		json_object_set_new(doc, "Status", json_string(status));
		rc = save(s, account, region, id, doc, NULL, err);
	}
	json_decref(doc);
	json_t *none = NULL;
	return store_finish_json(s, rc < 0 ? -1 : 0, &none, err);
}

int rds_cluster_writer(struct store *s, const char *account, const char *region, const char *cluster,
                       char out[64])
{
	struct emu_err err;
	emu_err_clear(&err);
	json_t *doc = NULL;
	int rc = load(s, account, region, cluster, &doc, &err);
	if (rc <= 0)
		return rc;
	rc = 0;
	size_t i;
	json_t *m;
	json_array_foreach(members_of(doc), i, m) {
		const char *id = in_str(m, "DBInstanceIdentifier");
		if (id && json_is_true(json_object_get(m, "IsClusterWriter"))) {
			snprintf(out, 64, "%s", id);
			rc = 1;
		}
	}
	json_decref(doc);
	return rc;
}

/* ---- create --------------------------------------------------------------------------- */

/* The engine of a new cluster, named in any case: Aurora only. */
static const struct engine_info *cluster_engine(const char *name, struct emu_err *err)
{
	char low[32] = "";
	if (name && strlen(name) < sizeof low)
		for (size_t i = 0; name[i]; i++)
			low[i] = (char)tolower((unsigned char)name[i]);
	const struct engine_info *eng = engines_find(low);
	if (eng && eng->aurora)
		return eng;
	if (eng && (strcmp(eng->name, "postgres") == 0 || strcmp(eng->name, "mysql") == 0))
		emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		            "Multi-AZ DB clusters (engine %s) are not supported by rdsemu.", eng->name);
	else
		emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "Invalid DB engine: %.64s", name ? name : "");
	return NULL;
}

static int check_iam_auth(const struct engine_info *eng, struct emu_err *err)
{
	if (!eng->iam_auth)
		return emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		                   "IAM Database Authentication is not supported for this configuration: engine %s.",
		                   eng->name);
	return 0;
}

static int backup_period(json_t *in, long long dflt, long long *out, struct emu_err *err)
{
	json_t *v = json_object_get(in, "BackupRetentionPeriod");
	*out = json_is_integer(v) ? json_integer_value(v) : dflt;
	if (*out < 1 || *out > 35)
		return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE,
		                   "Invalid backup retention period: %lld. Valid values are 1 to 35.", *out);
	return 0;
}

static int create_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	char id[RDS_ID_MAX + 1];
	if (rds_check_identifier("DBClusterIdentifier", in_str(in, "DBClusterIdentifier"), id, err) < 0)
		return -1;
	const struct engine_info *eng = cluster_engine(in_str(in, "Engine"), err);
	if (!eng)
		return -1;
	const char *mode = in_str(in, "EngineMode");
	if (mode && strcmp(mode, "provisioned") != 0)
		return emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION, "EngineMode %.32s is not supported by rdsemu.",
		                   mode);
	const char *user = in_str(in, "MasterUsername");
	const char *pw = in_str(in, "MasterUserPassword");
	bool manage = in_bool(in, "ManageMasterUserPassword", false);
	if (rds_check_master_username(user, err) < 0)
		return -1;
	if (manage && pw)
		return emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		                   "You can't specify MasterUserPassword and ManageMasterUserPassword together.");
	if (manage)
		return emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		                   "ManageMasterUserPassword is not supported by this emulator yet.");
	if (!pw)
		return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE,
		                   "The parameter MasterUserPassword must be provided and must not be blank.");
	if (rds_check_password(pw, eng, err) < 0)
		return -1;
	bool iam = in_bool(in, "EnableIAMDatabaseAuthentication", false);
	if (iam && check_iam_auth(eng, err) < 0)
		return -1;
	json_t *portv = json_object_get(in, "Port");
	long long port = json_is_integer(portv) ? json_integer_value(portv) : eng->port;
	if (port < 1150 || port > 65535)
		return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "Invalid port %lld: must be 1150-65535.", port);
	long long backup;
	if (backup_period(in, 1, &backup, err) < 0)
		return -1;

	json_t *doc = NULL;
	int rc = load(call->store, call->account, call->region, id, &doc, err);
	json_decref(doc);
	if (rc < 0)
		return -1;
	if (rc > 0)
		return emu_err_set(err, ERR_RDS_DB_CLUSTER_EXISTS, "DB Cluster already exists");

	char arn[RDS_ARN_MAX], resid[35] = "cluster-", group[96];
	cluster_arn(call->account, call->region, id, arn);
	util_random_from(resid + 8, 26, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
	const char *ver = in_str(in, "EngineVersion") ? in_str(in, "EngineVersion") : eng->default_version;
	/* default.aurora-postgresql16, default.aurora-mysql8.0: the major version */
	size_t major = strcspn(ver, ".");
	if (eng->family == ENGINE_FAMILY_MYSQL && ver[major] == '.')
		major += 1 + strcspn(ver + major + 1, ".");
	snprintf(group, sizeof group, "default.%s%.*s", eng->name, (int)(major < 32 ? major : 32), ver);
	json_t *zones = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(in, "AvailabilityZones"), i, v) if (json_is_string(v))
		json_array_append(zones, v);
	if (json_array_size(zones) == 0)
		for (const char *z = "abc"; *z; z++)
			json_array_append_new(zones, json_sprintf("%s%c", call->region, *z));
	const char *bw = in_str(in, "PreferredBackupWindow");
	const char *mw = in_str(in, "PreferredMaintenanceWindow");

	doc = json_object();
	json_object_set_new(doc, "AllocatedStorage", json_integer(1));
	json_object_set_new(doc, "AvailabilityZones", zones);
	json_object_set_new(doc, "BackupRetentionPeriod", json_integer(backup));
	if (in_str(in, "DatabaseName"))
		json_object_set_new(doc, "DatabaseName", json_string(in_str(in, "DatabaseName")));
	json_object_set_new(doc, "DBClusterIdentifier", json_string(id));
	json_object_set_new(doc, "DBClusterParameterGroup", json_string(group));
	json_object_set_new(doc, "Status", json_string("available"));
	json_object_set_new(doc, "MultiAZ", json_false());
	json_object_set_new(doc, "Engine", json_string(eng->name));
	json_object_set_new(doc, "EngineVersion", json_string(ver));
	json_object_set_new(doc, "MasterUsername", json_string(user));
	json_object_set_new(doc, "PreferredBackupWindow", json_string(bw ? bw : "03:00-03:30"));
	json_object_set_new(doc, "PreferredMaintenanceWindow", json_string(mw ? mw : "sun:05:00-sun:05:30"));
	json_object_set_new(doc, "ReadReplicaIdentifiers", json_array());
	json_object_set_new(doc, "DBClusterMembers", json_array());
	json_object_set_new(doc, "VpcSecurityGroups", json_array());
	json_object_set_new(doc, "HostedZoneId", json_string("Z2R2ITUGPM61AM"));
	json_object_set_new(doc, "StorageEncrypted", json_boolean(in_bool(in, "StorageEncrypted", false)));
	json_object_set_new(doc, "DbClusterResourceId", json_string(resid));
	json_object_set_new(doc, "DBClusterArn", json_string(arn));
	json_object_set_new(doc, "AssociatedRoles", json_array());
	json_object_set_new(doc, "IAMDatabaseAuthenticationEnabled", json_boolean(iam));
	json_object_set_new(doc, "ClusterCreateTime", json_real(call->now));
	json_object_set_new(doc, "EngineMode", json_string("provisioned"));
	json_object_set_new(doc, "DeletionProtection", json_boolean(in_bool(in, "DeletionProtection", false)));
	json_object_set_new(doc, "HttpEndpointEnabled", json_false());
	json_object_set_new(doc, "CopyTagsToSnapshot", json_boolean(in_bool(in, "CopyTagsToSnapshot", false)));
	json_object_set_new(doc, "CrossAccountClone", json_false());
	json_object_set_new(doc, "DomainMemberships", json_array());
	json_object_set_new(doc, "StorageType", json_string("aurora"));
	json_object_set_new(doc, "AutoMinorVersionUpgrade", json_boolean(in_bool(in, "AutoMinorVersionUpgrade", true)));
	json_object_set_new(doc, "NetworkType", json_string("IPV4"));
	json_object_set_new(doc, "TagList", json_array());
	json_t *tags = json_object_get(in, "Tags");
	rc = json_is_array(tags) ? rds_merge_tags(doc, tags, err) : 0;
	if (rc == 0)
		rc = endpoints_alloc(call, id, (int)port, doc, err);
	if (rc == 0)
		rc = insert(call, id, doc, pw, err);
	if (rc < 0) {
		json_decref(doc);
		return -1;
	}
	rds_changed();
	*out = json_pack("{s:o}", "DBCluster", doc);
	return 0;
}

/* ---- describe ------------------------------------------------------------------------- */

static const char *const filter_names[] = {"clone-group-id", "db-cluster-id", "db-cluster-resource-id", "domain",
                                           "engine"};

/* Unknown filter names or empty Values -> InvalidParameterValue. */
static int filters_check(json_t *filters, struct emu_err *err)
{
	size_t i;
	json_t *f;
	json_array_foreach(filters, i, f) {
		const char *n = in_str(f, "Name");
		bool known = false;
		for (size_t k = 0; k < sizeof filter_names / sizeof filter_names[0]; k++)
			known = known || (n && strcmp(n, filter_names[k]) == 0);
		if (!known)
			return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "Unrecognized filter name: %.128s.",
			                   n ? n : "");
		json_t *vals = json_object_get(f, "Values");
		if (!json_is_array(vals) || json_array_size(vals) == 0)
			return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "Filter %s must have at least one value.", n);
	}
	return 0;
}

/* Does doc pass every filter?  Clusters have no clone group nor domain. */
static bool filters_match(json_t *filters, json_t *doc)
{
	size_t i;
	json_t *f;
	json_array_foreach(filters, i, f) {
		const char *n = in_str(f, "Name");
		bool by_id = strcmp(n, "db-cluster-id") == 0;
		const char *have = by_id                                     ? in_str(doc, "DBClusterIdentifier")
		                   : strcmp(n, "db-cluster-resource-id") == 0 ? in_str(doc, "DbClusterResourceId")
		                   : strcmp(n, "engine") == 0                 ? in_str(doc, "Engine")
		                                                              : NULL;
		const char *arn = in_str(doc, "DBClusterArn");
		bool any = false;
		size_t j;
		json_t *v;
		json_array_foreach(json_object_get(f, "Values"), j, v) {
			const char *w = json_string_value(v);
			if (w && have &&
			    (by_id ? strcasecmp(w, have) == 0 || (arn && strcmp(w, arn) == 0) : strcmp(w, have) == 0))
				any = true;
		}
		if (!any)
			return false;
	}
	return true;
}

static int describe_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	long long max;
	if (rds_max_records(in, &max, err) < 0)
		return -1;
	json_t *filters = json_object_get(in, "Filters");
	if (json_is_array(filters) && filters_check(filters, err) < 0)
		return -1;
	const char *want = in_str(in, "DBClusterIdentifier");
	json_t *list = json_array();
	if (want) {
		char id[RDS_ID_MAX + 1];
		json_t *doc = NULL;
		if (resolve_id(call, want, id, err) < 0 || load_required(call, id, &doc, err) < 0) {
			json_decref(list);
			return -1;
		}
		if (!json_is_array(filters) || filters_match(filters, doc))
			json_array_append(list, doc);
		json_decref(doc);
		*out = json_pack("{s:o}", "DBClusters", list);
		return 0;
	}
	return rds_page(call->store,
	                RDS_PREP(call->store, "SELECT id, doc FROM rds_clusters WHERE account = ?1 AND region = ?2 "
	                                      "AND id > coalesce(?3, '') ORDER BY id",
	                         call->account, call->region, in_str(in, "Marker")),
	                json_is_array(filters) ? filters_match : NULL, filters, max, "DBClusters", list, out, err);
}

/* ---- modify / failover / delete ---------------------------------------------------------- */

static bool status_is(json_t *doc, const char *s)
{
	const char *have = in_str(doc, "Status");
	return have && strcmp(have, s) == 0;
}

static int not_available(json_t *doc, const char *id, struct emu_err *err)
{
	return emu_err_set(err, ERR_RDS_INVALID_DB_CLUSTER_STATE, "DB cluster %s is not in available state (%s).", id,
	                   in_str(doc, "Status") ? in_str(doc, "Status") : "?");
}

/* NewDBClusterIdentifier: the row, its ARN, its endpoints' names and its
 * members' DBClusterIdentifier follow; DbClusterResourceId stays. */
static int rename_cluster(struct emu_call *call, const char *id, const char *newid, json_t *doc,
                          struct emu_err *err)
{
	json_t *other = NULL;
	int rc = load(call->store, call->account, call->region, newid, &other, err);
	json_decref(other);
	if (rc != 0)
		return rc < 0 ? -1 : emu_err_set(err, ERR_RDS_DB_CLUSTER_EXISTS, "DB Cluster already exists");
	char arn[RDS_ARN_MAX], quoted[RDS_ID_MAX + 3];
	cluster_arn(call->account, call->region, newid, arn);
	snprintf(quoted, sizeof quoted, "\"%s\"", newid); /* identifiers need no JSON escapes */
	json_object_set_new(doc, "DBClusterIdentifier", json_string(newid));
	json_object_set_new(doc, "DBClusterArn", json_string(arn));
	if (endpoints_free(call, id, err) < 0 ||
	    endpoints_alloc(call, newid, (int)json_integer_value(json_object_get(doc, "Port")), doc, err) < 0)
		return -1;
	return members_set(call, id, "$.DBClusterIdentifier", quoted, err);
}

/* Modifications take effect at once whatever ApplyImmediately says:
 * rdsemu has no maintenance window to wait for. */
static int modify_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	char id[RDS_ID_MAX + 1], newid[RDS_ID_MAX + 1] = "";
	json_t *doc = NULL;
	if (resolve_id(call, in_str(in, "DBClusterIdentifier"), id, err) < 0 || load_required(call, id, &doc, err) < 0)
		return -1;
	int rc = -1;
	const struct engine_info *eng = engines_find(in_str(doc, "Engine"));
	const char *pw = in_str(in, "MasterUserPassword");
	json_t *portv = json_object_get(in, "Port");
	long long backup;
	if (!status_is(doc, "available")) {
		not_available(doc, id, err);
		goto out;
	}
	if (!eng) {
		emu_err_set(err, ERR_INTERNAL, "unknown engine of a stored cluster");
		goto out;
	}
	if (in_bool(in, "ManageMasterUserPassword", false) || in_bool(in, "RotateMasterUserPassword", false)) {
		emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		            "ManageMasterUserPassword is not supported by this emulator yet.");
		goto out;
	}
	if (pw && rds_check_password(pw, eng, err) < 0)
		goto out;
	if (in_has(in, "NewDBClusterIdentifier") &&
	    rds_check_identifier("NewDBClusterIdentifier", in_str(in, "NewDBClusterIdentifier"), newid, err) < 0)
		goto out;
	/* Members' servers and endpoints listen on the cluster's port. */
	if (json_is_integer(portv) && json_integer_value(portv) != json_integer_value(json_object_get(doc, "Port"))) {
		emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		            "Changing the port of a DB cluster is not supported by rdsemu.");
		goto out;
	}
	if (backup_period(in, json_integer_value(json_object_get(doc, "BackupRetentionPeriod")), &backup, err) < 0)
		goto out;
	json_object_set_new(doc, "BackupRetentionPeriod", json_integer(backup));
	if (in_has(in, "EnableIAMDatabaseAuthentication")) {
		bool iam = in_bool(in, "EnableIAMDatabaseAuthentication", false);
		if (iam && check_iam_auth(eng, err) < 0)
			goto out;
		json_object_set_new(doc, "IAMDatabaseAuthenticationEnabled", json_boolean(iam));
		if (members_set(call, id, "$.IAMDatabaseAuthenticationEnabled", iam ? "true" : "false", err) < 0)
			goto out;
	}
	if (in_has(in, "DeletionProtection"))
		json_object_set_new(doc, "DeletionProtection", json_boolean(in_bool(in, "DeletionProtection", false)));
	if (*newid && strcmp(newid, id) != 0 && rename_cluster(call, id, newid, doc, err) < 0)
		goto out;
	rc = save(call->store, call->account, call->region, id, doc, pw, err);
	if (rc == 0) {
		rds_changed();
		json_t *shown = json_deep_copy(doc);
		if (pw)
			json_object_set_new(shown, "PendingModifiedValues", json_pack("{s:s}", "MasterUserPassword", "****"));
		*out = json_pack("{s:o}", "DBCluster", shown);
	}
out:
	json_decref(doc);
	return rc;
}

static int failover_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	char id[RDS_ID_MAX + 1], target[RDS_ID_MAX + 1];
	json_t *doc = NULL;
	if (resolve_id(call, in_str(in, "DBClusterIdentifier"), id, err) < 0 || load_required(call, id, &doc, err) < 0)
		return -1;
	int rc = -1;
	const char *tin = in_str(in, "TargetDBInstanceIdentifier");
	json_t *next = NULL;
	char status[32] = "";
	if (!status_is(doc, "available")) {
		not_available(doc, id, err);
		goto out;
	}
	if (!tin) {
		if (best_reader(call, doc, true, &next, err) < 0)
			goto out;
		if (!next) {
			emu_err_set(err, ERR_RDS_INVALID_DB_CLUSTER_STATE,
			            "DB cluster %s has no available reader instance to fail over to.", id);
			goto out;
		}
	} else {
		if (rds_check_identifier("TargetDBInstanceIdentifier", tin, target, err) < 0)
			goto out;
		next = member_find(doc, target, NULL);
		int found = instance_status(call, target, status, err);
		if (found < 0)
			goto out;
		if (!found) {
			emu_err_set(err, ERR_RDS_DB_INSTANCE_NOT_FOUND, "DBInstance %s not found.", target);
			goto out;
		}
		if (!next || json_is_true(json_object_get(next, "IsClusterWriter"))) {
			emu_err_set(err, ERR_RDS_INVALID_DB_INSTANCE_STATE, "DB instance %s is not a reader of DB cluster %s.",
			            target, id);
			goto out;
		}
		if (strcmp(status, "available") != 0) {
			emu_err_set(err, ERR_RDS_INVALID_DB_INSTANCE_STATE, "DB instance %s is not in available state (%s).",
			            target, status);
			goto out;
		}
	}
	set_writer(doc, next);
	json_object_set_new(doc, "Status", json_string("failing-over"));
	rc = save(call->store, call->account, call->region, id, doc, NULL, err);
	if (rc == 0) {
		rds_changed();
		*out = json_pack("{s:O}", "DBCluster", doc);
	}
out:
	json_decref(doc);
	return rc;
}

static int delete_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	char id[RDS_ID_MAX + 1], snapid[RDS_ID_MAX + 1];
	json_t *doc = NULL;
	if (resolve_id(call, in_str(in, "DBClusterIdentifier"), id, err) < 0)
		return -1;
	bool skip = in_bool(in, "SkipFinalSnapshot", false);
	const char *snap = in_str(in, "FinalDBSnapshotIdentifier");
	if (skip && snap)
		return emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		                   "Cannot specify a final snapshot identifier when SkipFinalSnapshot is true.");
	if (!skip && !snap)
		return emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		                   "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.");
	if (snap && rds_check_identifier("FinalDBSnapshotIdentifier", snap, snapid, err) < 0)
		return -1;
	if (load_required(call, id, &doc, err) < 0)
		return -1;
	int rc = -1;
	if (json_is_true(json_object_get(doc, "DeletionProtection"))) {
		emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		            "Cannot delete protected Cluster, please disable deletion protection and try again.");
		goto out;
	}
	if (json_array_size(members_of(doc)) > 0) {
		emu_err_set(err, ERR_RDS_INVALID_DB_CLUSTER_STATE,
		            "Cluster cannot be deleted, it still contains DB instances in non-deleting state.");
		goto out;
	}
	sqlite3_stmt *st =
		store_prep(call->store, "DELETE FROM rds_clusters WHERE account = ?1 AND region = ?2 AND id = ?3");
	if (!st) {
		emu_err_set(err, ERR_INTERNAL, "internal storage error");
		goto out;
	}
	store_bind_text(st, 1, call->account);
	store_bind_text(st, 2, call->region);
	store_bind_text(st, 3, id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		store_fail(call->store, err);
		goto out;
	}
	sqlite3_reset(st);
	if (endpoints_free(call, id, err) < 0)
		goto out;
	rds_changed();
	json_object_set_new(doc, "Status", json_string("deleting"));
	*out = json_pack("{s:O}", "DBCluster", doc);
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

RDS_TX_OP(rds_create_db_cluster, create_impl)
RDS_TX_OP(rds_describe_db_clusters, describe_impl)
RDS_TX_OP(rds_modify_db_cluster, modify_impl)
RDS_TX_OP(rds_delete_db_cluster, delete_impl)
RDS_TX_OP(rds_failover_db_cluster, failover_impl)
