"""The AWS SDK for JavaScript v3 (from npm, unmodified) against rdsemu.

The JS SDK signs differently from botocore (it adds and signs
x-amz-content-sha256, orders and encodes on its own), so this is an
independent check of the SigV4 verifier and of the JSON wire shapes: the
SDK's own deserialisers parse timestamps, maps and errors. scripts/test runs
`npm ci` in examples/sdk-v3 first.
"""
import json
import os
import shutil
import subprocess

import pytest

import helpers as H

EXAMPLE = H.REPO / "examples" / "sdk-v3"


def run_node(endpoint, secret_id, key=H.ADMIN_KEY, secret=H.ADMIN_SECRET, use_service_var=False):
    node = shutil.which("node")
    if not node:
        pytest.fail("node is not installed (scripts/test installs nodejs)")
    if not (EXAMPLE / "node_modules" / "@aws-sdk" / "client-secrets-manager").exists():
        pytest.fail("examples/sdk-v3/node_modules missing: run `npm ci` there (scripts/test does)")
    env = H.clean_env({"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": H.REGION})
    env.pop("AWS_ENDPOINT_URL", None)
    if use_service_var:
        env["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = endpoint
    else:
        env["AWS_ENDPOINT_URL"] = endpoint
    p = subprocess.run([node, "get-secret.mjs", secret_id], cwd=EXAMPLE, env=env, capture_output=True,
                       text=True, timeout=60)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    assert lines, "no JSON from node (rc %d): %s %s" % (p.returncode, p.stdout, p.stderr)
    return p.returncode, json.loads(lines[-1])


def test_sdk_v3_reads_secret_and_stages(endpoint, sm):
    created = sm.create_secret(Name="sdkv3/db", SecretString=json.dumps({"username": "u", "password": "p"}))
    put = sm.put_secret_value(SecretId="sdkv3/db", SecretString=json.dumps({"username": "u", "password": "p2"}))
    rc, out = run_node(endpoint, "sdkv3/db")
    assert rc == 0, out
    assert out["ARN"] == created["ARN"]
    assert out["Name"] == "sdkv3/db"
    assert out["VersionId"] == put["VersionId"]
    assert out["VersionStages"] == ["AWSCURRENT"]
    assert out["SecretKeys"] == ["username", "password"]
    assert out["VersionIdsToStages"] == {created["VersionId"]: ["AWSPREVIOUS"], put["VersionId"]: ["AWSCURRENT"]}
    # CreatedDate went through the SDK's epoch-seconds deserialiser.
    assert out["CreatedDate"].startswith("20")


def test_sdk_v3_service_specific_endpoint_variable(endpoint, sm):
    sm.create_secret(Name="sdkv3/svcvar", SecretString="{\"k\": 1}")
    rc, out = run_node(endpoint, "sdkv3/svcvar", use_service_var=True)
    assert rc == 0, out
    assert out["Name"] == "sdkv3/svcvar"


def test_sdk_v3_errors_are_modelled_exceptions(endpoint):
    rc, out = run_node(endpoint, "sdkv3/does-not-exist")
    assert rc == 3
    assert out["error"] == "ResourceNotFoundException"
    assert out["message"] == H.MSG_NOT_FOUND
    assert out["status"] == 400


def test_sdk_v3_wrong_secret_key_is_refused(endpoint, sm):
    sm.create_secret(Name="sdkv3/sig", SecretString="x")
    rc, out = run_node(endpoint, "sdkv3/sig", secret="not-the-secret")
    assert rc == 3
    assert out["error"] == "InvalidSignatureException"
    assert out["status"] == 400
