/*
 * rds.c owns the RDS DB instance control plane: the rds_instances rows
 * (one JSON document per instance, the API's DBInstance shape, plus the
 * master password kept out of the document), identifiers, ARNs, endpoint
 * names, the instance state machine without servers, tags of instances.
 * May call: emu/store, emu/engines, emu/util, emu/err, emu/clock-free
 * call->now; the server supervisor only through the hooks of rds.h;
 * emu/rds_cluster.c for the cluster membership of Aurora instances.
 * Invariants: identifiers are stored in lower case; the document's
 * DBInstanceIdentifier equals the row's id; every operation runs in one
 * savepoint and leaves nothing behind on failure; hooks run after the
 * domain's checks, inside the savepoint (a failing start rolls back).
 */
#include "emu/rds.h"

#include "emu/engines.h"
#include "emu/rds_common.h"
#include "emu/rds_endpoint.h"
#include "emu/secrets.h"
#include "emu/rds_int.h"
#include "emu/store.h"
#include "emu/util.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <strings.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static struct rds_instance_hooks hooks;
static bool hooks_set;

void rds_set_instance_hooks(const struct rds_instance_hooks *h)
{
	if (h) {
		hooks = *h;
		hooks_set = true;
	} else {
		memset(&hooks, 0, sizeof hooks);
		hooks_set = false;
	}
}

#define in_str rds_in_str
#define in_bool rds_in_bool
#define in_has rds_in_has
#define check_identifier rds_check_identifier

/* A DBInstanceIdentifier given as an identifier or an instance ARN of this
 * account and region; lower-cased.  Not found-looking ARNs -> not found. */
static int resolve_id(struct emu_call *call, const char *v, char out[RDS_ID_MAX + 1], struct emu_err *err)
{
	if (v && util_has_prefix(v, "arn:")) {
		char prefix[RDS_ARN_MAX];
		snprintf(prefix, sizeof prefix, "arn:aws:rds:%s:%s:db:", call->region, call->account);
		if (!util_has_prefix(v, prefix) || strlen(v + strlen(prefix)) > RDS_ID_MAX)
			return emu_err_set(err, ERR_RDS_DB_INSTANCE_NOT_FOUND, "DBInstance %.300s not found.", v);
		v += strlen(prefix);
	}
	return check_identifier("DBInstanceIdentifier", v, out, err);
}

/* ---- identifiers ---------------------------------------------------------- */

static void instance_arn(struct emu_call *call, const char *id, char out[RDS_ARN_MAX])
{
	snprintf(out, RDS_ARN_MAX, "arn:aws:rds:%s:%s:db:%s", call->region, call->account, id);
}

/* ---- rows ------------------------------------------------------------------ */

/* 1 found (*doc new reference), 0 absent, -1 error. */
static int load(struct store *s, const char *account, const char *region, const char *id, json_t **doc,
                struct emu_err *err)
{
	return rds_row_doc(s, RDS_PREP(s, "SELECT id, doc FROM rds_instances WHERE account = ?1 AND region = ?2 AND id = ?3",
	                               account, region, id),
	                   NULL, 0, doc, err);
}

static int load_required(struct emu_call *call, const char *id, json_t **doc, struct emu_err *err)
{
	int rc = load(call->store, call->account, call->region, id, doc, err);
	if (rc == 0)
		return emu_err_set(err, ERR_RDS_DB_INSTANCE_NOT_FOUND, "DBInstance %s not found.", id);
	return rc < 0 ? -1 : 0;
}

static int save(struct store *s, const char *account, const char *region, const char *id, json_t *doc,
                double created, const char *password, bool insert, struct emu_err *err)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	if (!text)
		return emu_err_set(err, ERR_INTERNAL, "out of memory");
	sqlite3_stmt *st;
	if (insert)
		st = store_prep(s, "INSERT INTO rds_instances(account, region, id, created, doc, master_password, arn) "
		                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, json_extract(?5, '$.DBInstanceArn'))");
	else
		st = store_prep(s, "UPDATE rds_instances SET doc = ?5, master_password = coalesce(?6, master_password) "
		                   "WHERE account = ?1 AND region = ?2 AND id = ?3 AND ?4 IS NOT NULL");
	if (!st) {
		free(text);
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	}
	store_bind_text(st, 1, account);
	store_bind_text(st, 2, region);
	store_bind_text(st, 3, id);
	sqlite3_bind_double(st, 4, created);
	store_bind_text(st, 5, text);
	store_bind_text(st, 6, password);
	int rc = sqlite3_step(st);
	free(text);
	if (rc != SQLITE_DONE)
		return store_fail(s, err);
	sqlite3_reset(st);
	return 0;
}


int rds_instance_set_status(struct store *s, const char *account, const char *region, const char *id,
                            const char *status, struct emu_err *err)
{
	if (store_begin(s) < 0)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	json_t *doc = NULL;
	int rc = load(s, account, region, id, &doc, err);
	if (rc == 0)
		rc = emu_err_set(err, ERR_RDS_DB_INSTANCE_NOT_FOUND, "DBInstance %s not found.", id);
	if (rc > 0) {
		json_object_set_new(doc, "DBInstanceStatus", json_string(status));
		rc = save(s, account, region, id, doc, 0, NULL, false, err);
	}
	json_decref(doc);
	json_t *none = NULL;
	return store_finish_json(s, rc < 0 ? -1 : 0, &none, err);
}

int rds_instance_set_init_sql(struct store *s, const char *account, const char *region, const char *id,
                              json_t *statements, struct emu_err *err)
{
	size_t i;
	json_t *v;
	json_array_foreach(statements, i, v) if (!json_is_string(v))
		return emu_err_set(err, ERR_VALIDATION, "InitSQL must be a list of strings");
	char *text = json_dumps(statements, JSON_COMPACT);
	int rc = text ? rds_exec(s, RDS_PREP(s, "UPDATE rds_instances SET init_sql = ?4 WHERE account = ?1 AND region = ?2 "
	                                        "AND id = ?3", account, region, id, text), err)
	              : emu_err_set(err, ERR_INTERNAL, "out of memory");
	free(text);
	return rc;
}

/* ---- create ------------------------------------------------------------------- */

/* ---- the RDS-managed master password (ManageMasterUserPassword) ---------------- */

#define MANAGED_PW_LEN 28

/* A password RDS could generate: printable ASCII without / @ " and space. */
static void managed_password(char out[MANAGED_PW_LEN + 1])
{
	util_random_from(out, MANAGED_PW_LEN,
	                 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%^&*()_+-=[]{}:;,.<>?~");
	out[MANAGED_PW_LEN] = '\0';
}

static char *managed_value(const char *user, const char *pw)
{
	json_t *v = json_pack("{s:s, s:s}", "username", user, "password", pw);
	char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
	json_decref(v);
	return text;
}

/* Creates the rds!db-<uuid> secret (owned by RDS) with the master user and
 * password, and records it in doc's MasterUserSecret. */
static int managed_secret_create(struct emu_call *call, json_t *doc, const char *user, const char *pw,
                                 const char *kms, struct emu_err *err)
{
	char name[64] = "rds!db-", arn[2048];
	util_uuid(name + 7);
	char *value = managed_value(user, pw);
	if (!value)
		return emu_err_set(err, ERR_INTERNAL, "out of memory");
	int rc = secrets_service_create(call, name, "rds", value, kms, arn, sizeof arn, err);
	OPENSSL_cleanse(value, strlen(value));
	free(value);
	if (rc < 0)
		return -1;
	json_t *mus = json_pack("{s:s, s:s}", "SecretArn", arn, "SecretStatus", "active");
	if (kms)
		json_object_set_new(mus, "KmsKeyId", json_string(kms));
	json_object_set_new(doc, "MasterUserSecret", mus);
	return 0;
}

static const char *managed_arn(json_t *doc)
{
	return json_string_value(json_object_get(json_object_get(doc, "MasterUserSecret"), "SecretArn"));
}

/* ManageMasterUserPassword / RotateMasterUserPassword of ModifyDBInstance:
 * may set *pw to a new generated password (in genpw). */
static int managed_modify(struct emu_call *call, json_t *in, json_t *doc, const char **pw,
                          char genpw[MANAGED_PW_LEN + 1], struct emu_err *err)
{
	bool has = in_has(in, "ManageMasterUserPassword");
	bool manage = in_bool(in, "ManageMasterUserPassword", false);
	bool rotate = in_bool(in, "RotateMasterUserPassword", false);
	const char *arn = managed_arn(doc);
	const char *user = in_str(doc, "MasterUsername");
	if (*pw && (manage || (arn && !(has && !manage))))
		return emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		                   "You can't specify MasterUserPassword for an instance with ManageMasterUserPassword "
		                   "enabled.");
	if (rotate && !(arn && (!has || manage)))
		return emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		                   "You can't specify RotateMasterUserPassword when ManageMasterUserPassword isn't enabled.");
	if (rotate && !in_bool(in, "ApplyImmediately", false))
		return emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		                   "You must specify ApplyImmediately when rotating the master user password.");
	if (has && manage && !arn) { /* turn on: a new password in a new secret */
		managed_password(genpw);
		*pw = genpw;
		return managed_secret_create(call, doc, user ? user : "", genpw, in_str(in, "MasterUserSecretKmsKeyId"), err);
	}
	if (has && !manage && arn) { /* turn off: the secret goes, a password must be given */
		if (!*pw)
			return emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
			                   "You must specify MasterUserPassword when you turn off ManageMasterUserPassword.");
		if (secrets_service_delete(call, arn, err) < 0)
			return -1;
		json_object_del(doc, "MasterUserSecret");
		return 0;
	}
	if (rotate) {
		managed_password(genpw);
		*pw = genpw;
		char *value = managed_value(user ? user : "", genpw);
		int rc = value ? secrets_service_put(call, arn, value, err) : emu_err_set(err, ERR_INTERNAL, "out of memory");
		if (value) {
			OPENSSL_cleanse(value, strlen(value));
			free(value);
		}
		return rc;
	}
	return 0;
}

static int check_iam_auth(const struct engine_info *eng, struct emu_err *err)
{
	if (!eng->iam_auth)
		return emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		                   "IAM Database Authentication is not supported for this configuration: engine %s.",
		                   eng->name);
	return 0;
}

static int create_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	char id[RDS_ID_MAX + 1];
	if (check_identifier("DBInstanceIdentifier", in_str(in, "DBInstanceIdentifier"), id, err) < 0)
		return -1;
	const char *engine_in = in_str(in, "Engine");
	char engine[64];
	size_t el = engine_in ? strlen(engine_in) : 0;
	if (el >= sizeof engine)
		el = sizeof engine - 1;
	for (size_t i = 0; i < el; i++)
		engine[i] = (char)tolower((unsigned char)engine_in[i]);
	engine[el] = '\0';
	const struct engine_info *eng = engines_find(engine);
	if (!eng)
		return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "Invalid DB engine: %.64s",
		                   engine_in ? engine_in : "");
	const char *cls = in_str(in, "DBInstanceClass");
	if (!cls || !util_has_prefix(cls, "db."))
		return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "Invalid DB Instance class: %.64s", cls ? cls : "");
	/* An Aurora instance is a member of its cluster and takes the cluster's
	 * master user, password and port (emu/rds_cluster.c). */
	const char *cluster = in_str(in, "DBClusterIdentifier");
	const char *user = in_str(in, "MasterUsername");
	const char *pw = in_str(in, "MasterUserPassword");
	bool manage = in_bool(in, "ManageMasterUserPassword", false);
	int cport = 0;
	if (eng->aurora && !cluster)
		return emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		                   "The requested DB Instance will be a member of a DB Cluster. "
		                   "Set DBClusterIdentifier.");
	if (eng->aurora && (user || pw || manage))
		return emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		                   "The requested DB Instance will be a member of a DB Cluster. "
		                   "You don't need to set the master user name or password.");
	if (eng->aurora && rds_cluster_member_check(call, cluster, eng->name, &cport, err) < 0)
		return -1;
	if (!eng->aurora && in_has(in, "DBClusterIdentifier"))
		return emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		                   "The requested DB instance engine %s cannot be a member of a DB cluster.", eng->name);
	if (!eng->aurora && rds_check_master_username(user, err) < 0)
		return -1;
	if (manage && pw)
		return emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		                   "You can't specify MasterUserPassword and ManageMasterUserPassword together.");
	char genpw[MANAGED_PW_LEN + 1];
	if (manage && !eng->aurora) {
		managed_password(genpw);
		pw = genpw;
	}
	if (!pw && !eng->aurora)
		return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE,
		                   "The parameter MasterUserPassword must be provided and must not be blank.");
	if (pw && rds_check_password(pw, eng, err) < 0)
		return -1;
	bool iam = in_bool(in, "EnableIAMDatabaseAuthentication", false);
	if (iam && check_iam_auth(eng, err) < 0)
		return -1;
	bool multi = in_bool(in, "MultiAZ", false);
	if (multi && !eng->multi_az)
		return emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		                   "Requested DB Instance engine %s does not support Multi-AZ.", eng->name);
	if (multi && in_has(in, "AvailabilityZone"))
		return emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		                   "Requesting a specific availability zone is not valid for Multi-AZ instances.");
	json_t *portv = json_object_get(in, "Port");
	long long port = eng->aurora ? cport : json_is_integer(portv) ? json_integer_value(portv) : eng->port;
	if (port < 1150 || port > 65535)
		return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "Invalid port %lld: must be 1150-65535.", port);

	json_t *doc = NULL;
	int rc = load(call->store, call->account, call->region, id, &doc, err);
	json_decref(doc);
	if (rc < 0)
		return -1;
	if (rc > 0)
		return emu_err_set(err, ERR_RDS_DB_INSTANCE_EXISTS, "DB instance already exists");

	char arn[RDS_ARN_MAX], dns[13], name[RDS_ARN_MAX], addr[RDS_ADDR_MAX], resid[30] = "db-", az[80];
	instance_arn(call, id, arn);
	rds_dns_part(call->account, call->region, dns);
	snprintf(name, sizeof name, "%s.%s.%s.rds.amazonaws.com", id, dns, call->region);
	int eport = 0;
	if (rds_endpoint_alloc(call->store, RDS_EP_KIND_INSTANCE, call->account, call->region, id, name, (int)port,
	                       addr, &eport, err) < 0)
		return -1;
	util_random_from(resid + 3, 26, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
	const char *azin = in_str(in, "AvailabilityZone");
	snprintf(az, sizeof az, "%.70s", azin ? azin : "");
	if (!azin)
		snprintf(az, sizeof az, "%.70sa", call->region);
	const char *ver = in_str(in, "EngineVersion");
	json_t *allocv = json_object_get(in, "AllocatedStorage");
	bool aws_managed_start = hooks_set && hooks.start && eng->server != ENGINE_SERVER_NONE;

	doc = json_object();
	json_object_set_new(doc, "DBInstanceIdentifier", json_string(id));
	json_object_set_new(doc, "DBInstanceClass", json_string(cls));
	json_object_set_new(doc, "Engine", json_string(eng->name));
	json_object_set_new(doc, "DBInstanceStatus", json_string(aws_managed_start ? "creating" : "available"));
	json_object_set_new(doc, "MasterUsername", json_string(user));
	if (in_str(in, "DBName"))
		json_object_set_new(doc, "DBName", json_string(in_str(in, "DBName")));
	json_object_set_new(doc, "Endpoint", json_pack("{s:s, s:i, s:s}", "Address", addr, "Port", eport,
	                                               "HostedZoneId", "Z2R2ITUGPM61AM"));
	json_object_set_new(doc, "AllocatedStorage",
	                    json_integer(json_is_integer(allocv) ? json_integer_value(allocv) : 20));
	json_object_set_new(doc, "InstanceCreateTime", json_real(call->now));
	json_object_set_new(doc, "PreferredBackupWindow", json_string("03:00-03:30"));
	json_object_set_new(doc, "BackupRetentionPeriod", json_integer(1));
	json_object_set_new(doc, "DBSecurityGroups", json_array());
	json_object_set_new(doc, "VpcSecurityGroups", json_array());
	json_object_set_new(doc, "AvailabilityZone", json_string(az));
	if (multi)
		json_object_set_new(doc, "SecondaryAvailabilityZone", json_pack("s+", call->region, "b"));
	json_object_set_new(doc, "PreferredMaintenanceWindow", json_string("sun:05:00-sun:05:30"));
	json_object_set_new(doc, "PendingModifiedValues", json_object());
	json_object_set_new(doc, "MultiAZ", json_boolean(multi));
	json_object_set_new(doc, "EngineVersion", json_string(ver ? ver : eng->default_version));
	json_object_set_new(doc, "AutoMinorVersionUpgrade", json_true());
	json_object_set_new(doc, "ReadReplicaDBInstanceIdentifiers", json_array());
	json_object_set_new(doc, "PubliclyAccessible", json_boolean(in_bool(in, "PubliclyAccessible", false)));
	json_object_set_new(doc, "StorageType", json_string("gp2"));
	json_object_set_new(doc, "DbInstancePort", json_integer(0));
	json_object_set_new(doc, "StorageEncrypted", json_boolean(in_bool(in, "StorageEncrypted", false)));
	json_object_set_new(doc, "DbiResourceId", json_string(resid));
	json_object_set_new(doc, "CACertificateIdentifier", json_string("rds-ca-rsa2048-g1"));
	json_object_set_new(doc, "CopyTagsToSnapshot", json_false());
	json_object_set_new(doc, "DBInstanceArn", json_string(arn));
	json_object_set_new(doc, "IAMDatabaseAuthenticationEnabled", json_boolean(iam));
	json_object_set_new(doc, "DeletionProtection", json_false());
	json_object_set_new(doc, "TagList", json_array());
	json_t *tags = json_object_get(in, "Tags");
	rc = json_is_array(tags) ? rds_merge_tags(doc, tags, err) : 0;
	if (rc == 0 && manage && !eng->aurora)
		rc = managed_secret_create(call, doc, user, pw, in_str(in, "MasterUserSecretKmsKeyId"), err);
	json_t *tier = json_object_get(in, "PromotionTier");
	if (rc == 0 && eng->aurora)
		rc = rds_cluster_add_member(call, cluster, id, json_is_integer(tier) ? json_integer_value(tier) : 1, doc,
		                            err);
	if (rc == 0)
		rc = save(call->store, call->account, call->region, id, doc, call->now, pw, true, err);
	if (rc == 0 && aws_managed_start)
		rc = hooks.start(hooks.ctx, call->account, call->region, doc, pw, err);
	if (rc < 0) {
		json_decref(doc);
		return -1;
	}
	rds_changed();
	*out = json_pack("{s:o}", "DBInstance", doc);
	return 0;
}

/* ---- describe ------------------------------------------------------------------ */

/* Does doc pass every filter?  Unknown filter names -> InvalidParameterValue. */
static int filters_check(json_t *filters, struct emu_err *err)
{
	static const char *const names[] = {"db-cluster-id", "db-instance-id", "dbi-resource-id", "domain", "engine"};
	size_t i;
	json_t *f;
	json_array_foreach(filters, i, f) {
		const char *n = in_str(f, "Name");
		bool known = false;
		for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
			known = known || (n && strcmp(n, names[k]) == 0);
		if (!known)
			return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "Unrecognized filter name: %.128s.",
			                   n ? n : "");
		if (!json_is_array(json_object_get(f, "Values")) || json_array_size(json_object_get(f, "Values")) == 0)
			return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "Filter %s must have at least one value.", n);
	}
	return 0;
}

static bool filters_match(json_t *filters, json_t *doc)
{
	size_t i;
	json_t *f;
	json_array_foreach(filters, i, f) {
		const char *n = in_str(f, "Name");
		const char *have = NULL;
		const char *arn = in_str(doc, "DBInstanceArn");
		if (strcmp(n, "db-instance-id") == 0)
			have = in_str(doc, "DBInstanceIdentifier");
		else if (strcmp(n, "db-cluster-id") == 0)
			have = in_str(doc, "DBClusterIdentifier");
		else if (strcmp(n, "dbi-resource-id") == 0)
			have = in_str(doc, "DbiResourceId");
		else if (strcmp(n, "engine") == 0)
			have = in_str(doc, "Engine");
		bool any = false;
		size_t j;
		json_t *v;
		json_array_foreach(json_object_get(f, "Values"), j, v) {
			const char *w = json_string_value(v);
			if (!w || !have)
				continue;
			if (strcmp(n, "db-instance-id") == 0 ? (strcasecmp(w, have) == 0 || (arn && strcmp(w, arn) == 0))
			                                     : strcmp(w, have) == 0)
				any = true;
		}
		if (!any)
			return false;
	}
	return true;
}

static int describe_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	json_t *mr = json_object_get(in, "MaxRecords");
	long long max = RDS_PAGE_DEFAULT;
	if (mr && !json_is_null(mr)) {
		max = json_integer_value(mr);
		if (!json_is_integer(mr) || max < 20 || max > 100)
			return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE,
			                   "Invalid value %lld for MaxRecords. Must be between 20 and 100", max);
	}
	json_t *filters = json_object_get(in, "Filters");
	if (json_is_array(filters) && filters_check(filters, err) < 0)
		return -1;
	const char *want = in_str(in, "DBInstanceIdentifier");
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
		*out = json_pack("{s:o}", "DBInstances", list);
		return 0;
	}
	return rds_page(call->store,
	                RDS_PREP(call->store, "SELECT id, doc FROM rds_instances WHERE account = ?1 AND region = ?2 "
	                                      "AND id > coalesce(?3, '') ORDER BY id",
	                         call->account, call->region, in_str(in, "Marker")),
	                json_is_array(filters) ? filters_match : NULL, filters, max, "DBInstances", list, out, err);
}

/* ---- modify / reboot / delete ----------------------------------------------------- */

static bool status_is(json_t *doc, const char *s)
{
	const char *have = in_str(doc, "DBInstanceStatus");
	return have && strcmp(have, s) == 0;
}

static int not_available(json_t *doc, const char *id, struct emu_err *err)
{
	return emu_err_set(err, ERR_RDS_INVALID_DB_INSTANCE_STATE, "Instance %s is not in available state. (%s)", id,
	                   in_str(doc, "DBInstanceStatus") ? in_str(doc, "DBInstanceStatus") : "?");
}

static int modify_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	char id[RDS_ID_MAX + 1];
	json_t *doc = NULL;
	if (resolve_id(call, in_str(in, "DBInstanceIdentifier"), id, err) < 0 || load_required(call, id, &doc, err) < 0)
		return -1;
	int rc = -1;
	const struct engine_info *eng = engines_find(in_str(doc, "Engine"));
	bool now = in_bool(in, "ApplyImmediately", false);
	json_t *pending = json_object_get(doc, "PendingModifiedValues");
	if (!json_is_object(pending)) {
		pending = json_object();
		json_object_set_new(doc, "PendingModifiedValues", pending);
	}
	const char *pw = in_str(in, "MasterUserPassword");
	if (!status_is(doc, "available")) {
		not_available(doc, id, err);
		goto out;
	}
	if (!eng) {
		emu_err_set(err, ERR_INTERNAL, "unknown engine of a stored instance");
		goto out;
	}
	if (pw && rds_check_password(pw, eng, err) < 0)
		goto out;
	char genpw[MANAGED_PW_LEN + 1];
	if (managed_modify(call, in, doc, &pw, genpw, err) < 0)
		goto out;
	if (in_has(in, "EnableIAMDatabaseAuthentication")) {
		bool iam = in_bool(in, "EnableIAMDatabaseAuthentication", false);
		if (iam && check_iam_auth(eng, err) < 0)
			goto out;
		/* AWS applies this at the next maintenance window unless ApplyImmediately;
		 * rdsemu's pending values are applied by the next reboot. */
		if (now)
			json_object_set_new(doc, "IAMDatabaseAuthenticationEnabled", json_boolean(iam));
		else
			json_object_set_new(pending, "IAMDatabaseAuthenticationEnabled", json_boolean(iam));
	}
	if (in_str(in, "DBInstanceClass")) {
		const char *cls = in_str(in, "DBInstanceClass");
		if (!util_has_prefix(cls, "db.")) {
			emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "Invalid DB Instance class: %.64s", cls);
			goto out;
		}
		json_object_set_new(now ? doc : pending, "DBInstanceClass", json_string(cls));
	}
	if (in_has(in, "DeletionProtection"))
		json_object_set_new(doc, "DeletionProtection", json_boolean(in_bool(in, "DeletionProtection", false)));
	if (in_has(in, "MultiAZ")) {
		bool multi = in_bool(in, "MultiAZ", false);
		if (multi && !eng->multi_az) {
			emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
			            "Requested DB Instance engine %s does not support Multi-AZ.", eng->name);
			goto out;
		}
		json_object_set_new(now ? doc : pending, "MultiAZ", json_boolean(multi));
	}
	/* The master password is applied at once whatever ApplyImmediately says. */
	rc = save(call->store, call->account, call->region, id, doc, 0, pw, false, err);
	if (rc == 0) {
		rds_changed();
		json_t *shown = json_deep_copy(doc);
		if (pw)
			json_object_set_new(json_object_get(shown, "PendingModifiedValues"), "MasterUserPassword",
			                    json_string("****"));
		*out = json_pack("{s:o}", "DBInstance", shown);
	}
out:
	json_decref(doc);
	return rc;
}

static int reboot_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	char id[RDS_ID_MAX + 1];
	json_t *doc = NULL;
	if (resolve_id(call, in_str(in, "DBInstanceIdentifier"), id, err) < 0 || load_required(call, id, &doc, err) < 0)
		return -1;
	int rc = -1;
	if (!status_is(doc, "available")) {
		not_available(doc, id, err);
		goto out;
	}
	if (in_bool(in, "ForceFailover", false) && !json_is_true(json_object_get(doc, "MultiAZ"))) {
		emu_err_set(err, ERR_RDS_INVALID_DB_INSTANCE_STATE,
		            "Cannot force a failover on a DB instance that is not configured for Multi-AZ.");
		goto out;
	}
	/* Pending modifications take effect. */
	json_t *pending = json_object_get(doc, "PendingModifiedValues");
	const char *k;
	json_t *v;
	json_object_foreach(pending, k, v) json_object_set(doc, k, v);
	json_object_set_new(doc, "PendingModifiedValues", json_object());
	bool hooked = hooks_set && hooks.start;
	const struct engine_info *eng = engines_find(in_str(doc, "Engine"));
	hooked = hooked && eng && eng->server != ENGINE_SERVER_NONE;
	json_object_set_new(doc, "DBInstanceStatus", json_string(hooked ? "rebooting" : "available"));
	rc = save(call->store, call->account, call->region, id, doc, 0, NULL, false, err);
	if (rc == 0 && hooked && hooks.reboot) {
		hooks.reboot(hooks.ctx, call->account, call->region, id, in_bool(in, "ForceFailover", false));
	} else if (rc == 0 && hooked) {
		if (hooks.stop)
			hooks.stop(hooks.ctx, call->account, call->region, id);
		rc = hooks.start(hooks.ctx, call->account, call->region, doc, NULL, err);
	}
	if (rc == 0) {
		rds_changed();
		json_object_set_new(doc, "DBInstanceStatus", json_string("rebooting"));
		*out = json_pack("{s:O}", "DBInstance", doc);
	}
out:
	json_decref(doc);
	return rc;
}

static int delete_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	char id[RDS_ID_MAX + 1];
	json_t *doc = NULL;
	if (resolve_id(call, in_str(in, "DBInstanceIdentifier"), id, err) < 0)
		return -1;
	bool skip = in_bool(in, "SkipFinalSnapshot", false);
	const char *snap = in_str(in, "FinalDBSnapshotIdentifier");
	if (skip && snap)
		return emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		                   "Cannot specify a final snapshot identifier when SkipFinalSnapshot is true.");
	if (!skip && !snap)
		return emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		                   "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.");
	char snapid[RDS_ID_MAX + 1];
	if (snap && check_identifier("FinalDBSnapshotIdentifier", snap, snapid, err) < 0)
		return -1;
	if (load_required(call, id, &doc, err) < 0)
		return -1;
	int rc = -1;
	if (json_is_true(json_object_get(doc, "DeletionProtection"))) {
		emu_err_set(err, ERR_INVALID_PARAMETER_COMBINATION,
		            "Cannot delete protected DB Instance, please disable deletion protection and try again.");
		goto out;
	}
	if (status_is(doc, "deleting")) {
		not_available(doc, id, err);
		goto out;
	}
	sqlite3_stmt *st =
		store_prep(call->store, "DELETE FROM rds_instances WHERE account = ?1 AND region = ?2 AND id = ?3");
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
	if (rds_endpoint_free(call->store, RDS_EP_KIND_INSTANCE, call->account, call->region, id, err) < 0)
		goto out;
	if (managed_arn(doc) && secrets_service_delete(call, managed_arn(doc), err) < 0)
		goto out;
	if (in_str(doc, "DBClusterIdentifier") &&
	    rds_cluster_remove_member(call, in_str(doc, "DBClusterIdentifier"), id, err) < 0)
		goto out;
	rds_changed();
	if (hooks_set && hooks.stop)
		hooks.stop(hooks.ctx, call->account, call->region, id);
	json_object_set_new(doc, "DBInstanceStatus", json_string("deleting"));
	*out = json_pack("{s:O}", "DBInstance", doc);
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

RDS_TX_OP(rds_create_db_instance, create_impl)
RDS_TX_OP(rds_describe_db_instances, describe_impl)
RDS_TX_OP(rds_modify_db_instance, modify_impl)
RDS_TX_OP(rds_delete_db_instance, delete_impl)
RDS_TX_OP(rds_reboot_db_instance, reboot_impl)
