"""Secrets Manager through the AWS CLI (`aws --endpoint-url ... secretsmanager ...`): at least one
success and one error case per operation, asserting the JSON output and the CLI's error line
("An error occurred (Code) when calling the Op operation: message", exit status 254/255).
A CLI start costs about a second, so set-up and cross-checks go through boto3."""

import base64
import json
import sys

import pytest

import helpers as H

pytestmark = pytest.mark.usefixtures("cli")


def _readable(client, sid):
    try:
        client.get_secret_value(SecretId=sid)
        return True
    except H.ClientError:
        return False


def ok(res):
    assert res.rc == 0, res
    return res.json


def err(res, code, op, message=None):
    assert res.rc in (254, 255), res
    assert res.error_code == code, res
    assert res.error_op == op, res
    if message is not None:
        assert res.error_message == message, res
    return res


def test_cli_create_and_get(cli):
    c = ok(cli("secretsmanager", "create-secret", "--name", "app/db", "--secret-string", '{"u":"a"}',
               "--description", "cli made"))
    assert H.ARN_RE.match(c["ARN"]) and c["Name"] == "app/db" and H.UUID_RE.match(c["VersionId"])
    g = ok(cli("secretsmanager", "get-secret-value", "--secret-id", "app/db"))
    assert g["SecretString"] == '{"u":"a"}' and g["VersionId"] == c["VersionId"] and g["ARN"] == c["ARN"]
    assert g["VersionStages"] == ["AWSCURRENT"]
    # CLI v1 prints JSON-protocol timestamps as epoch numbers, v2 as ISO 8601 text
    assert isinstance(g["CreatedDate"], (int, float, str)) and not isinstance(g["CreatedDate"], bool)
    q = cli("secretsmanager", "get-secret-value", "--secret-id", c["ARN"], "--query", "SecretString", "--output", "text")
    assert q.rc == 0 and q.stdout.strip() == '{"u":"a"}', q


def test_cli_create_and_get_errors(cli, sm):
    sm.create_secret(Name="app/db", SecretString="x")
    err(cli("secretsmanager", "create-secret", "--name", "app/db", "--secret-string", "y"),
        "ResourceExistsException", "CreateSecret", H.msg_exists("app/db"))
    err(cli("secretsmanager", "create-secret", "--name", "bad name", "--secret-string", "y"),
        "ValidationException", "CreateSecret", H.MSG_INVALID_NAME)
    err(cli("secretsmanager", "get-secret-value", "--secret-id", "nope"),
        "ResourceNotFoundException", "GetSecretValue", H.MSG_NOT_FOUND)


def test_cli_put_and_versions(cli, sm):
    v1 = sm.create_secret(Name="app/db", SecretString="one")["VersionId"]
    p = ok(cli("secretsmanager", "put-secret-value", "--secret-id", "app/db", "--secret-string", "two"))
    assert p["VersionStages"] == ["AWSCURRENT"] and p["Name"] == "app/db"
    l = ok(cli("secretsmanager", "list-secret-version-ids", "--secret-id", "app/db"))
    assert {v["VersionId"]: v["VersionStages"] for v in l["Versions"]} == {v1: ["AWSPREVIOUS"], p["VersionId"]: ["AWSCURRENT"]}
    err(cli("secretsmanager", "put-secret-value", "--secret-id", "app/db"),
        "InvalidRequestException", "PutSecretValue", "You must provide either SecretString or SecretBinary.")
    err(cli("secretsmanager", "list-secret-version-ids", "--secret-id", "nope"),
        "ResourceNotFoundException", "ListSecretVersionIds", H.MSG_NOT_FOUND)


def test_cli_binary_secret(cli, tmp_path):
    blob = bytes(range(200))
    f = tmp_path / "blob.bin"
    f.write_bytes(blob)
    ok(cli("secretsmanager", "create-secret", "--name", "bin", "--secret-binary", f"fileb://{f}"))
    g = ok(cli("secretsmanager", "get-secret-value", "--secret-id", "bin"))
    assert base64.b64decode(g["SecretBinary"]) == blob


def test_cli_describe_and_update(cli, sm):
    sm.create_secret(Name="app/db", SecretString="x")
    u = ok(cli("secretsmanager", "update-secret", "--secret-id", "app/db", "--description", "changed"))
    assert "VersionId" not in u and u["Name"] == "app/db"
    d = ok(cli("secretsmanager", "describe-secret", "--secret-id", "app/db"))
    assert d["Description"] == "changed" and len(d["VersionIdsToStages"]) == 1
    err(cli("secretsmanager", "describe-secret", "--secret-id", "nope"),
        "ResourceNotFoundException", "DescribeSecret", H.MSG_NOT_FOUND)
    err(cli("secretsmanager", "update-secret", "--secret-id", "nope", "--description", "x"),
        "ResourceNotFoundException", "UpdateSecret", H.MSG_NOT_FOUND)


def test_cli_list_with_filters(cli, sm):
    for n in ("app/a", "app/b", "svc/c"):
        sm.create_secret(Name=n, SecretString="x")
    l = ok(cli("secretsmanager", "list-secrets", "--filters", "Key=name,Values=app/"))
    assert sorted(s["Name"] for s in l["SecretList"]) == ["app/a", "app/b"]
    l = ok(cli("secretsmanager", "list-secrets", "--filters", "Key=name,Values=!app/"))
    assert [s["Name"] for s in l["SecretList"]] == ["svc/c"]
    # the CLI paginates on its own: a tiny page size must still return everything
    l = ok(cli("secretsmanager", "list-secrets", "--page-size", "1"))
    assert sorted(s["Name"] for s in l["SecretList"]) == ["app/a", "app/b", "svc/c"]
    err(cli("secretsmanager", "list-secrets", "--next-token", "bogus"),
        "InvalidNextTokenException", "ListSecrets")


def test_cli_delete_and_restore(cli, sm):
    sm.create_secret(Name="app/db", SecretString="x")
    d = ok(cli("secretsmanager", "delete-secret", "--secret-id", "app/db", "--recovery-window-in-days", "7"))
    assert d["Name"] == "app/db" and isinstance(d["DeletionDate"], (int, float, str))
    err(cli("secretsmanager", "get-secret-value", "--secret-id", "app/db"),
        "InvalidRequestException", "GetSecretValue", H.MSG_MARKED_FOR_DELETION)
    r = ok(cli("secretsmanager", "restore-secret", "--secret-id", "app/db"))
    assert r["Name"] == "app/db"
    assert sm.get_secret_value(SecretId="app/db")["SecretString"] == "x"
    err(cli("secretsmanager", "delete-secret", "--secret-id", "app/db", "--recovery-window-in-days", "3"),
        "InvalidParameterException", "DeleteSecret",
        "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
    err(cli("secretsmanager", "restore-secret", "--secret-id", "nope"),
        "ResourceNotFoundException", "RestoreSecret", H.MSG_NOT_FOUND)
    ok(cli("secretsmanager", "delete-secret", "--secret-id", "nope", "--force-delete-without-recovery"))


def test_cli_tags(cli, sm):
    sm.create_secret(Name="app/db", SecretString="x")
    t = cli("secretsmanager", "tag-resource", "--secret-id", "app/db", "--tags", "Key=env,Value=prod", "Key=team,Value=a")
    assert t.rc == 0 and t.stdout.strip() == "", t  # empty response prints nothing
    d = sm.describe_secret(SecretId="app/db")
    assert sorted((x["Key"], x["Value"]) for x in d["Tags"]) == [("env", "prod"), ("team", "a")]
    u = cli("secretsmanager", "untag-resource", "--secret-id", "app/db", "--tag-keys", "team")
    assert u.rc == 0, u
    d = sm.describe_secret(SecretId="app/db")
    assert [(x["Key"], x["Value"]) for x in d["Tags"]] == [("env", "prod")]
    err(cli("secretsmanager", "tag-resource", "--secret-id", "nope", "--tags", "Key=a,Value=b"),
        "ResourceNotFoundException", "TagResource", H.MSG_NOT_FOUND)
    err(cli("secretsmanager", "untag-resource", "--secret-id", "nope", "--tag-keys", "a"),
        "ResourceNotFoundException", "UntagResource", H.MSG_NOT_FOUND)


def test_cli_resource_policies(cli, sm, tmp_path):
    sm.create_secret(Name="app/db", SecretString="x")
    pol = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
                                                   "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}
    f = tmp_path / "policy.json"
    f.write_text(json.dumps(pol))
    p = ok(cli("secretsmanager", "put-resource-policy", "--secret-id", "app/db", "--resource-policy", f"file://{f}",
               "--block-public-policy"))
    assert p["Name"] == "app/db"
    g = ok(cli("secretsmanager", "get-resource-policy", "--secret-id", "app/db"))
    assert json.loads(g["ResourcePolicy"]) == pol
    v = ok(cli("secretsmanager", "validate-resource-policy", "--resource-policy", f"file://{f}"))
    assert v["PolicyValidationPassed"] is True
    ok(cli("secretsmanager", "delete-resource-policy", "--secret-id", "app/db"))
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId="app/db")
    public = dict(pol, Statement=[dict(pol["Statement"][0], Principal="*")])
    f.write_text(json.dumps(public))
    err(cli("secretsmanager", "put-resource-policy", "--secret-id", "app/db", "--resource-policy", f"file://{f}",
            "--block-public-policy"), "PublicPolicyException", "PutResourcePolicy")
    err(cli("secretsmanager", "validate-resource-policy", "--resource-policy", "{nope"),
        "MalformedPolicyDocumentException", "ValidateResourcePolicy")
    err(cli("secretsmanager", "get-resource-policy", "--secret-id", "nope"),
        "ResourceNotFoundException", "GetResourcePolicy", H.MSG_NOT_FOUND)
    err(cli("secretsmanager", "delete-resource-policy", "--secret-id", "nope"),
        "ResourceNotFoundException", "DeleteResourcePolicy", H.MSG_NOT_FOUND)


def test_cli_random_password(cli):
    r = ok(cli("secretsmanager", "get-random-password", "--password-length", "20", "--exclude-punctuation"))
    pw = r["RandomPassword"]
    assert len(pw) == 20 and pw.isalnum()
    err(cli("secretsmanager", "get-random-password", "--password-length", "5000"),
        "ValidationException", "GetRandomPassword",
        "1 validation error detected: Value '5000' at 'passwordLength' failed to satisfy constraint: "
        "Member must have value less than or equal to 4096")
    err(cli("secretsmanager", "get-random-password", "--password-length", "2"),
        "InvalidParameterException", "GetRandomPassword", "Password length is too short based on the required types.")


def test_cli_rotate(cli, sm, endpoint, tmp_path):
    sm.create_secret(Name="app/db", SecretString=json.dumps({"username": "app", "password": "old"}))
    err(cli("secretsmanager", "rotate-secret", "--secret-id", "app/db"),
        "InvalidRequestException", "RotateSecret", H.MSG_NO_LAMBDA)
    err(cli("secretsmanager", "cancel-rotate-secret", "--secret-id", "app/db"),
        "InvalidRequestException", "CancelRotateSecret")
    lam = "arn:aws:lambda:us-east-1:000000000000:function:cli-rotate"
    H.load_fixtures(endpoint, {"lambdas": [{
        "arn": lam, "account": H.ACCOUNT, "region": H.REGION, "timeout": 30,
        "command": [sys.executable, str(H.REPO / "tests" / "integration" / "lambdas" / "rotate.py")],
        "env": {"SECRETS_MANAGER_ENDPOINT": endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_REGION": "us-east-1", "ROTATION_LOG": str(tmp_path / "ev.jsonl")}}]})
    r = ok(cli("secretsmanager", "rotate-secret", "--secret-id", "app/db", "--rotation-lambda-arn", lam,
               "--rotation-rules", "AutomaticallyAfterDays=30"))
    assert r["Name"] == "app/db" and r["VersionId"]
    H.poll(lambda: H.version_with(H.stages_of(sm, "app/db"), "AWSCURRENT") == r["VersionId"], timeout=20,
           interval=0.2, desc="rotation via CLI finished")
    c = ok(cli("secretsmanager", "cancel-rotate-secret", "--secret-id", "app/db"))
    assert c["Name"] == "app/db"
    assert sm.describe_secret(SecretId="app/db")["RotationEnabled"] is False


def test_cli_update_secret_version_stage(cli, sm):
    v1 = sm.create_secret(Name="app/db", SecretString="one")["VersionId"]
    v2 = sm.put_secret_value(SecretId="app/db", SecretString="two")["VersionId"]
    e = err(cli("secretsmanager", "update-secret-version-stage", "--secret-id", "app/db", "--version-stage", "AWSCURRENT",
                "--move-to-version-id", v1), "InvalidParameterException", "UpdateSecretVersionStage")
    assert v2 in e.error_message
    r = ok(cli("secretsmanager", "update-secret-version-stage", "--secret-id", "app/db", "--version-stage", "AWSCURRENT",
               "--move-to-version-id", v1, "--remove-from-version-id", v2))
    assert r["Name"] == "app/db"
    assert sm.describe_secret(SecretId="app/db")["VersionIdsToStages"] == {v1: ["AWSCURRENT"], v2: ["AWSPREVIOUS"]}
    assert sm.get_secret_value(SecretId="app/db")["SecretString"] == "one"


def test_cli_batch_get(cli, sm):
    sm.create_secret(Name="a", SecretString="va")
    sm.create_secret(Name="b", SecretString="vb")
    res = cli("secretsmanager", "batch-get-secret-value", "--secret-id-list", "a", "b", "missing")
    if res.rc != 0 and "Invalid choice" in res.stderr:
        pytest.skip("this AWS CLI predates batch-get-secret-value")
    r = ok(res)
    assert sorted((v["Name"], v["SecretString"]) for v in r["SecretValues"]) == [("a", "va"), ("b", "vb")]
    assert [(e["SecretId"], e["ErrorCode"]) for e in r["Errors"]] == [("missing", "ResourceNotFoundException")]
    r = ok(cli("secretsmanager", "batch-get-secret-value", "--filters", "Key=name,Values=a"))
    assert [v["Name"] for v in r["SecretValues"]] == ["a"]
    err(cli("secretsmanager", "batch-get-secret-value", "--secret-id-list", "a", "--filters", "Key=name,Values=a"),
        "InvalidParameterException", "BatchGetSecretValue")


def test_cli_replicate(cli, sm):
    arn = sm.create_secret(Name="app/db", SecretString="v")["ARN"]
    r = ok(cli("secretsmanager", "replicate-secret-to-regions", "--secret-id", "app/db",
               "--add-replica-regions", "Region=us-west-2"))
    assert r["ARN"] == arn and r["ReplicationStatus"][0]["Region"] == "us-west-2"
    sm_west = H.make_client(cli.endpoint, region="us-west-2")
    H.poll(lambda: _readable(sm_west, "app/db"), timeout=10, desc="replica readable")
    g = ok(cli("secretsmanager", "get-secret-value", "--secret-id", "app/db", region="us-west-2"))
    assert g["SecretString"] == "v" and ":us-west-2:" in g["ARN"]
    err(cli("secretsmanager", "put-secret-value", "--secret-id", "app/db", "--secret-string", "w", region="us-west-2"),
        "InvalidParameterException", "PutSecretValue", H.MSG_REPLICA_WRITE)
    rm = ok(cli("secretsmanager", "remove-regions-from-replication", "--secret-id", "app/db",
                "--remove-replica-regions", "us-west-2"))
    assert rm["ARN"] == arn
    err(cli("secretsmanager", "replicate-secret-to-regions", "--secret-id", "nope",
            "--add-replica-regions", "Region=us-west-2"), "ResourceNotFoundException", "ReplicateSecretToRegions",
        H.MSG_NOT_FOUND)
    err(cli("secretsmanager", "remove-regions-from-replication", "--secret-id", "nope",
            "--remove-replica-regions", "us-west-2"), "ResourceNotFoundException", "RemoveRegionsFromReplication",
        H.MSG_NOT_FOUND)


def test_cli_stop_replication(cli, sm):
    sm.create_secret(Name="app/db", SecretString="v", AddReplicaRegions=[{"Region": "us-west-2"}])
    sm_west = H.make_client(cli.endpoint, region="us-west-2")
    H.poll(lambda: _readable(sm_west, "app/db"), timeout=10, desc="replica readable")
    r = ok(cli("secretsmanager", "stop-replication-to-replica", "--secret-id", "app/db", region="us-west-2"))
    assert ":us-west-2:" in r["ARN"], r
    sm_west.put_secret_value(SecretId="app/db", SecretString="own")  # a standalone primary now
    err(cli("secretsmanager", "stop-replication-to-replica", "--secret-id", "nope"),
        "ResourceNotFoundException", "StopReplicationToReplica", H.MSG_NOT_FOUND)


def test_cli_endpoint_from_environment(endpoint):
    """AWS_ENDPOINT_URL alone (no --endpoint-url) points the CLI at the emulator (1.2)."""
    ver = H.cli_botocore_version()
    if ver is not None and ver < (1, 31, 0):
        pytest.skip(f"the CLI's botocore {ver} predates AWS_ENDPOINT_URL support (1.31)")
    res = H.run_cli(endpoint, ["secretsmanager", "create-secret", "--name", "env/cli", "--secret-string", "x"],
                    use_endpoint_flag=False, env_extra={"AWS_ENDPOINT_URL": endpoint})
    assert res.rc == 0, f"CLI with only AWS_ENDPOINT_URL failed: {res}"
    assert H.make_client(endpoint).get_secret_value(SecretId="env/cli")["SecretString"] == "x"
