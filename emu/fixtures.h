/*
 * Declarative starting state.  A fixture document is a JSON object:
 *
 *   {"accounts": [{"id": "111111111111", "alias": "prod",
 *                  "access_keys": [{"access_key_id": "AKIA...", "secret_access_key": "..."}]}],
 *    "iam":      {"users": [...], "roles": [...], "policies": [...]}   (the default account;
 *                 accounts[].iam for others; format in emu/iam.h, iam_fixture_load)
 *    "lambdas":  [{"arn": "arn:aws:lambda:us-east-1:000000000000:function:rotate",
 *                  "command": ["python3", "scripts/lambda_shim.py", "examples/rotation/lambda_function.py"],
 *                  "env": {"K": "V"}, "timeout": 30}],
 *    "secrets":  [{"account": "000000000000", "region": "us-east-1",
 *                  <any CreateSecret member: Name, SecretString, SecretBinary, Description, KmsKeyId, Tags>,
 *                  "ResourcePolicy": "<policy JSON string or object>",
 *                  "Rotation": {<RotateSecret members except SecretId>}}],
 *    "rds":      {"clusters":  [<CreateDBCluster members>],
 *                 "instances": [<CreateDBInstance members>, "InitSQL": ["SQL run once as the
 *                               master user when the server is first created", ...]],
 *                 "proxies":   [<CreateDBProxy members; Auth SecretArn may be a secret name>,
 *                               "Targets": {<RegisterDBProxyTargets members but DBProxyName>},
 *                               "Endpoints": [<CreateDBProxyEndpoint members but DBProxyName>]]},
 *    "connect":  ["lines printed once every DB instance is available: how to connect"]}
 *
 * account/region default to the process's --account-id/--region.  Every
 * entry goes through the same domain functions as the API (secrets through
 * sm_create_secret etc., after the same model validation), so a fixture and
 * an API call can never disagree.  A document loads in one transaction: on
 * any error nothing of it is kept.
 */
#ifndef EMU_FIXTURES_H
#define EMU_FIXTURES_H

#include "emu/err.h"

#include <jansson.h>

struct store;

struct fixture_defaults {
	const char *account;
	const char *region;
};

int fixtures_load_doc(struct store *s, const struct fixture_defaults *d, json_t *doc, struct emu_err *err);
int fixtures_load_file(struct store *s, const struct fixture_defaults *d, const char *path, struct emu_err *err);
/* The "connect" lines of every document loaded so far (a JSON array owned
 * by this module; never NULL). */
json_t *fixtures_connect_notes(void);

#endif
