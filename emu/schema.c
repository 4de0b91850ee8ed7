/*
 * schema.c owns the schema migrations: an ordered list of SQL scripts.
 * PRAGMA user_version records how many have been applied; store_open
 * applies the rest in one transaction.  Never edit a released migration:
 * append a new one.  (Before the first release, migration 1 may still grow.)
 */
#include "emu/schema.h"

#include "emu/util.h"

static const char *const migrations[] = {
	/* 1: accounts, access keys, lambdas (rotation functions), Secrets Manager */
	"CREATE TABLE accounts ("
	"  id TEXT PRIMARY KEY,"
	"  alias TEXT,"
	"  created REAL NOT NULL"
	");"
	"CREATE TABLE access_keys ("
	"  access_key_id TEXT PRIMARY KEY,"
	"  secret_access_key TEXT NOT NULL,"
	"  account TEXT NOT NULL,"
	"  principal_arn TEXT NOT NULL,"   /* arn:aws:iam::ACCT:root, user/..., assumed-role/... */
	"  user_id TEXT NOT NULL,"         /* AIDA..., AROA...:session, or the account id for root */
	"  session_token TEXT,"            /* set for temporary (ASIA) keys */
	"  expires REAL,"                  /* temporary keys only */
	"  status TEXT NOT NULL DEFAULT 'Active',"
	"  created REAL NOT NULL"
	");"
	"CREATE TABLE lambdas ("
	"  account TEXT NOT NULL,"
	"  region TEXT NOT NULL,"
	"  arn TEXT PRIMARY KEY,"
	"  command TEXT NOT NULL,"         /* JSON array: argv */
	"  env TEXT,"                      /* JSON object */
	"  timeout_s INTEGER NOT NULL DEFAULT 30"
	");"
	/* Secrets Manager (emu/secrets*.c owns these tables). */
	"CREATE TABLE secrets ("
	"  id INTEGER PRIMARY KEY,"
	"  account TEXT NOT NULL,"
	"  region TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  arn TEXT NOT NULL UNIQUE,"
	"  description TEXT,"
	"  kms_key_id TEXT,"               /* NULL = aws/secretsmanager */
	"  type TEXT,"
	"  owning_service TEXT,"
	"  created REAL NOT NULL,"
	"  last_changed REAL,"
	"  last_accessed REAL,"            /* midnight UTC of the last read (day resolution) */
	"  deleted_date REAL,"             /* scheduled permanent deletion time */
	"  rotation_enabled INTEGER,"      /* NULL = never configured */
	"  rotation_lambda TEXT,"
	"  rotation_rules TEXT,"           /* JSON object as given (RotationRules) */
	"  last_rotated REAL,"
	"  next_rotation REAL,"
	"  resource_policy TEXT,"
	"  primary_region TEXT,"           /* set on primaries with replicas and on replicas */
	"  replica_of TEXT,"               /* primary ARN when this row is a replica */
	"  create_token TEXT,"             /* CreateSecret's ClientRequestToken (idempotent retries) */
	"  ext_rotation_metadata TEXT,"    /* JSON array: ExternalSecretRotationMetadata */
	"  ext_rotation_role TEXT,"        /* ExternalSecretRotationRoleArn */
	"  UNIQUE(account, region, name)"
	");"
	"CREATE TABLE secret_versions ("
	"  secret_id INTEGER NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,"
	"  version_id TEXT NOT NULL,"
	"  kind INTEGER NOT NULL,"         /* 0 none (rotation placeholder), 1 string, 2 binary */
	"  value BLOB,"
	"  created REAL NOT NULL,"
	"  last_accessed REAL,"
	"  kms_key_ids TEXT,"              /* JSON array */
	"  PRIMARY KEY(secret_id, version_id)"
	");"
	"CREATE TABLE secret_stages ("
	"  secret_id INTEGER NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,"
	"  stage TEXT NOT NULL,"
	"  version_id TEXT NOT NULL,"
	"  PRIMARY KEY(secret_id, stage)"
	");"
	"CREATE INDEX secret_stages_by_version ON secret_stages(secret_id, version_id);"
	"CREATE TABLE secret_tags ("
	"  secret_id INTEGER NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,"
	"  key TEXT NOT NULL,"
	"  value TEXT NOT NULL,"
	"  ord INTEGER NOT NULL,"
	"  PRIMARY KEY(secret_id, key)"
	");"
	"CREATE TABLE secret_replicas ("     /* rows of a primary: one per replica region */
	"  secret_id INTEGER NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,"
	"  region TEXT NOT NULL,"
	"  kms_key_id TEXT,"
	"  status TEXT NOT NULL,"          /* InSync | Failed | InProgress */
	"  status_message TEXT,"
	"  PRIMARY KEY(secret_id, region)"
	");"
	"CREATE TABLE secret_rotations ("    /* pending rotation work; survives restarts */
	"  secret_id INTEGER PRIMARY KEY REFERENCES secrets(id) ON DELETE CASCADE,"
	"  version_id TEXT NOT NULL,"      /* the AWSPENDING version (ClientRequestToken) */
	"  rotation_token TEXT NOT NULL,"  /* RotationToken sent in every event */
	"  lambda_arn TEXT NOT NULL,"
	"  test_only INTEGER NOT NULL,"    /* 1: RotateImmediately=false, only testSecret */
	"  step INTEGER NOT NULL,"         /* next step: 0 create, 1 set, 2 test, 3 finish */
	"  attempts INTEGER NOT NULL,"     /* failed attempts so far */
	"  not_before REAL NOT NULL,"      /* domain time the next step may start */
	"  created REAL NOT NULL"
	");",
	/* 2: the audit trail (emu/audit.c) */
	"CREATE TABLE audit_events ("
	"  id INTEGER PRIMARY KEY,"
	"  event_id TEXT NOT NULL,"
	"  time REAL NOT NULL,"
	"  account TEXT NOT NULL,"
	"  region TEXT NOT NULL,"
	"  event_source TEXT,"
	"  event_name TEXT,"
	"  principal_arn TEXT,"
	"  user_name TEXT,"
	"  access_key_id TEXT,"
	"  resource_type TEXT,"
	"  resource TEXT,"
	"  request_id TEXT,"
	"  source_ip TEXT,"
	"  user_agent TEXT,"
	"  read_only INTEGER NOT NULL DEFAULT 0,"
	"  decision TEXT,"
	"  error_code TEXT,"
	"  reason TEXT"
	");"
	"CREATE INDEX audit_by_account_time ON audit_events(account, region, time);",
	/* 3: IAM (emu/iam*.c owns these tables; long-term keys live in access_keys,
	 * AWS managed policies are static data in emu/iam_managed.c) */
	"CREATE TABLE iam_principals ("      /* users and roles */
	"  id INTEGER PRIMARY KEY,"
	"  kind INTEGER NOT NULL,"           /* 1 user, 2 role */
	"  account TEXT NOT NULL,"
	"  name TEXT NOT NULL COLLATE NOCASE," /* unique per kind whatever the case */
	"  path TEXT NOT NULL,"
	"  unique_id TEXT NOT NULL UNIQUE,"  /* AIDA... / AROA... */
	"  arn TEXT NOT NULL UNIQUE,"
	"  created REAL NOT NULL,"
	"  boundary TEXT,"                   /* PermissionsBoundary policy ARN */
	"  trust_policy TEXT,"               /* roles: AssumeRolePolicyDocument */
	"  description TEXT,"                /* roles */
	"  max_session INTEGER,"             /* roles: MaxSessionDuration */
	"  last_used REAL,"                  /* roles: RoleLastUsed */
	"  last_used_region TEXT,"
	"  UNIQUE(account, kind, name)"
	");"
	"CREATE TABLE iam_policies ("        /* customer managed policies */
	"  id INTEGER PRIMARY KEY,"
	"  account TEXT NOT NULL,"
	"  name TEXT NOT NULL COLLATE NOCASE,"
	"  path TEXT NOT NULL,"
	"  unique_id TEXT NOT NULL UNIQUE,"  /* ANPA... */
	"  arn TEXT NOT NULL UNIQUE,"
	"  description TEXT,"
	"  created REAL NOT NULL,"
	"  updated REAL NOT NULL,"
	"  default_version TEXT NOT NULL,"
	"  next_version INTEGER NOT NULL,"   /* version ids are never reused */
	"  UNIQUE(account, name)"
	");"
	"CREATE TABLE iam_policy_versions ("
	"  policy INTEGER NOT NULL REFERENCES iam_policies(id) ON DELETE CASCADE,"
	"  version TEXT NOT NULL,"           /* v1, v2, ... */
	"  document TEXT NOT NULL,"
	"  created REAL NOT NULL,"
	"  PRIMARY KEY(policy, version)"
	");"
	"CREATE TABLE iam_inline ("          /* inline policies of users and roles */
	"  principal INTEGER NOT NULL REFERENCES iam_principals(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  document TEXT NOT NULL,"
	"  PRIMARY KEY(principal, name)"
	");"
	"CREATE TABLE iam_attached ("        /* managed policies attached to users and roles */
	"  id INTEGER PRIMARY KEY,"          /* attachment order */
	"  principal INTEGER NOT NULL REFERENCES iam_principals(id) ON DELETE CASCADE,"
	"  account TEXT NOT NULL,"
	"  policy_arn TEXT NOT NULL,"        /* customer (iam_policies.arn) or AWS managed */
	"  UNIQUE(principal, policy_arn)"
	");"
	"CREATE INDEX iam_attached_by_policy ON iam_attached(policy_arn, account);"
	"CREATE TABLE iam_tags ("
	"  kind INTEGER NOT NULL,"           /* 1 user, 2 role (iam_principals), 3 policy (iam_policies) */
	"  owner INTEGER NOT NULL,"
	"  norm TEXT NOT NULL,"              /* the key, case-folded for users and roles */
	"  key TEXT NOT NULL,"
	"  value TEXT NOT NULL,"
	"  ord INTEGER NOT NULL,"
	"  PRIMARY KEY(kind, owner, norm)"
	");"
	"CREATE TABLE iam_key_usage ("       /* GetAccessKeyLastUsed */
	"  access_key_id TEXT PRIMARY KEY,"
	"  last_used REAL NOT NULL,"
	"  service TEXT NOT NULL,"
	"  region TEXT NOT NULL"
	");",
	/* 4: temporary credentials of STS sessions (emu/sts.c) */
	"ALTER TABLE access_keys ADD COLUMN session_policy TEXT;"   /* AssumeRole's inline Policy */
	"ALTER TABLE access_keys ADD COLUMN role_arn TEXT;",        /* role of an assumed-role session */
	/* 5: KMS (emu/kms*.c owns these tables; key material is sealed under the
	 * master key, which is never stored here), and secret values encrypted at
	 * rest: secret_versions.value becomes nonce|ciphertext|tag under a data key */
	"CREATE TABLE kms_keys ("
	"  id TEXT PRIMARY KEY,"             /* uuid (globally unique: blobs name it) */
	"  account TEXT NOT NULL,"
	"  region TEXT NOT NULL,"
	"  arn TEXT NOT NULL UNIQUE,"
	"  description TEXT NOT NULL,"
	"  manager INTEGER NOT NULL,"        /* 0 CUSTOMER, 1 AWS */
	"  state INTEGER NOT NULL,"          /* 0 Enabled, 1 Disabled, 2 PendingDeletion */
	"  created REAL NOT NULL,"
	"  deletion_date REAL,"              /* PendingDeletion: when the key goes */
	"  pending_days INTEGER,"
	"  policy TEXT NOT NULL,"            /* the key policy ("default"), as given */
	"  material BLOB NOT NULL"           /* nonce|AES-256-GCM(master key, 32 bytes)|tag, AAD = key id */
	");"
	"CREATE INDEX kms_keys_by_owner ON kms_keys(account, region);"
	"CREATE INDEX kms_keys_due ON kms_keys(deletion_date) WHERE deletion_date IS NOT NULL;"
	"CREATE TABLE kms_aliases ("
	"  account TEXT NOT NULL,"
	"  region TEXT NOT NULL,"
	"  name TEXT NOT NULL,"              /* alias/... */
	"  key_id TEXT NOT NULL REFERENCES kms_keys(id) ON DELETE CASCADE,"
	"  created REAL NOT NULL,"
	"  updated REAL NOT NULL,"
	"  PRIMARY KEY(account, region, name)"
	");"
	"CREATE INDEX kms_aliases_by_key ON kms_aliases(key_id);"
	"CREATE TABLE kms_tags ("
	"  key_id TEXT NOT NULL REFERENCES kms_keys(id) ON DELETE CASCADE,"
	"  tag_key TEXT NOT NULL,"
	"  tag_value TEXT NOT NULL,"
	"  ord INTEGER NOT NULL,"
	"  PRIMARY KEY(key_id, tag_key)"
	");"
	/* The version's data key as KMS ciphertext, once per KMS key that can open
	 * it, each with that key's ARN (format: emu/secrets_enc.c); NULL with a
	 * value = a plaintext value written before this migration. */
	"ALTER TABLE secret_versions ADD COLUMN data_keys BLOB;",
	/* RDS DB instances (emu/rds.c): the DBInstance document as the API
	 * returns it; the master password stays out of the document. */
	"CREATE TABLE rds_instances ("
	"  account TEXT NOT NULL,"
	"  region TEXT NOT NULL,"
	"  id TEXT NOT NULL,"                /* DBInstanceIdentifier, lower case */
	"  created REAL NOT NULL,"
	"  doc TEXT NOT NULL,"               /* DBInstance JSON (TagList included) */
	"  master_password TEXT,"
	"  PRIMARY KEY(account, region, id)"
	");",
	/* RDS clusters, proxies and endpoints (emu/rds_cluster.c, emu/rds_proxy.c,
	 * emu/rds_endpoint.c).  Every taggable resource has its ARN as a unique
	 * column, so tagging finds a resource by ARN alone.  A proxy's children
	 * hang off its resource id (prx-...), which survives renames. */
	"ALTER TABLE rds_instances ADD COLUMN arn TEXT;"
	"UPDATE rds_instances SET arn = json_extract(doc, '$.DBInstanceArn');"
	"CREATE UNIQUE INDEX rds_instances_arn ON rds_instances(arn);"
	"CREATE TABLE rds_clusters ("
	"  account TEXT NOT NULL,"
	"  region TEXT NOT NULL,"
	"  id TEXT NOT NULL,"                /* DBClusterIdentifier, lower case */
	"  arn TEXT NOT NULL UNIQUE,"
	"  created REAL NOT NULL,"
	"  doc TEXT NOT NULL,"               /* DBCluster JSON (TagList included) */
	"  master_password TEXT,"
	"  PRIMARY KEY(account, region, id)"
	");"
	"CREATE TABLE rds_proxies ("
	"  account TEXT NOT NULL,"
	"  region TEXT NOT NULL,"
	"  name TEXT NOT NULL,"              /* DBProxyName as given (unique case-insensitively) */
	"  proxy_id TEXT NOT NULL UNIQUE,"   /* prx-<17 hex> */
	"  arn TEXT NOT NULL UNIQUE,"
	"  created REAL NOT NULL,"
	"  doc TEXT NOT NULL,"               /* DBProxy JSON (+ TagList) */
	"  PRIMARY KEY(account, region, name)"
	");"
	"CREATE TABLE rds_proxy_target_groups ("
	"  proxy_id TEXT NOT NULL REFERENCES rds_proxies(proxy_id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  arn TEXT NOT NULL UNIQUE,"
	"  created REAL NOT NULL,"
	"  doc TEXT NOT NULL,"               /* DBProxyTargetGroup JSON (+ TagList) */
	"  PRIMARY KEY(proxy_id, name)"
	");"
	"CREATE TABLE rds_proxy_targets ("
	"  proxy_id TEXT NOT NULL REFERENCES rds_proxies(proxy_id) ON DELETE CASCADE,"
	"  target_group TEXT NOT NULL,"
	"  type TEXT NOT NULL,"              /* RDS_INSTANCE | TRACKED_CLUSTER */
	"  rds_id TEXT NOT NULL,"            /* instance or cluster identifier */
	"  doc TEXT NOT NULL,"               /* DBProxyTarget JSON */
	"  PRIMARY KEY(proxy_id, target_group, type, rds_id)"
	");"
	"CREATE TABLE rds_proxy_endpoints ("
	"  account TEXT NOT NULL,"
	"  region TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  proxy_id TEXT NOT NULL REFERENCES rds_proxies(proxy_id) ON DELETE CASCADE,"
	"  arn TEXT NOT NULL UNIQUE,"
	"  created REAL NOT NULL,"
	"  doc TEXT NOT NULL,"               /* DBProxyEndpoint JSON (+ TagList) */
	"  PRIMARY KEY(account, region, name)"
	");"
	/* Where each endpoint listens: kind instance | cluster | cluster-ro |
	 * proxy | proxy-endpoint; owner = identifier or proxy/endpoint id. */
	"CREATE TABLE rds_endpoints ("
	"  kind TEXT NOT NULL,"
	"  account TEXT NOT NULL,"
	"  region TEXT NOT NULL,"
	"  owner TEXT NOT NULL,"
	"  addr TEXT NOT NULL,"
	"  port INTEGER NOT NULL,"
	"  dns TEXT NOT NULL,"               /* the AWS-style DNS name */
	"  PRIMARY KEY(kind, account, region, owner),"
	"  UNIQUE(addr, port)"
	");",
	/* SQL a fixture asks to run once as the master user when the instance's
	 * server is first created (users, databases, grants); NULL once run. */
	"ALTER TABLE rds_instances ADD COLUMN init_sql TEXT;",
};

int schema_count(void) { return (int)ARRAY_LEN(migrations); }

const char *schema_migration(int i)
{
	if (i < 0 || i >= schema_count())
		return NULL;
	return migrations[i];
}
