"""Rotation (aws-behaviour.md 5.7): RotateSecret with no Lambda, an unknown Lambda, a local
rotation executable registered by fixture (tests/integration/lambdas/rotate.py, and the sample
examples/rotation/lambda_function.py through scripts/lambda_shim.py), RotateImmediately=false,
scheduled rotation when the domain clock passes NextRotationDate, failed rotations and
CancelRotateSecret."""

import datetime
import json
import sys
import time

import pytest

import helpers as H
from helpers import expect_error

LAMBDA_ARN = "arn:aws:lambda:us-east-1:000000000000:function:it-rotate"
HANDLER = H.REPO / "tests" / "integration" / "lambdas" / "rotate.py"
SHIM = H.REPO / "scripts" / "lambda_shim.py"
SAMPLE = H.REPO / "examples" / "rotation" / "lambda_function.py"
ROTATION_TIMEOUT = 20  # seconds a whole rotation may take before the test fails


def register_lambda(endpoint, arn, command, env=None, timeout=30):
    H.load_fixtures(endpoint, {"lambdas": [{
        "arn": arn, "account": H.ACCOUNT, "region": H.REGION, "command": [str(c) for c in command],
        "env": env or {}, "timeout": timeout}]})


@pytest.fixture
def rotator(endpoint, tmp_path):
    """Registers rotate.py under a Lambda ARN; returns (arn, read_events)."""
    log = tmp_path / "rotation-events.jsonl"

    def setup(arn=LAMBDA_ARN, fail_step=None):
        env = {
            "ROTATION_LOG": str(log),
            "SECRETS_MANAGER_ENDPOINT": endpoint,
            "AWS_ACCESS_KEY_ID": H.ADMIN_KEY,
            "AWS_SECRET_ACCESS_KEY": H.ADMIN_SECRET,
            "AWS_REGION": H.REGION,
        }
        if fail_step:
            env["ROTATION_FAIL_STEP"] = fail_step
        register_lambda(endpoint, arn, [sys.executable, HANDLER], env)
        return arn

    def events():
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]

    setup.events = events
    return setup


def db_secret(sm, name="app/db"):
    value = {"engine": "postgres", "host": "127.0.0.1", "username": "app", "password": "old-password",
             "dbname": "postgres", "port": 5432}
    return sm.create_secret(Name=name, SecretString=json.dumps(value))


def wait_rotated(sm, sid, new_version):
    def done():
        st = H.stages_of(sm, sid)
        return H.version_with(st, "AWSCURRENT") == new_version and st
    return H.poll(done, timeout=ROTATION_TIMEOUT, interval=0.2, desc=f"AWSCURRENT on {new_version}")


def test_rotate_without_lambda(sm):
    db_secret(sm)
    expect_error(sm.rotate_secret, "InvalidRequestException", H.MSG_NO_LAMBDA, SecretId="app/db")
    assert "RotationEnabled" not in sm.describe_secret(SecretId="app/db")


def test_rotate_unknown_lambda(sm):
    db_secret(sm)
    expect_error(sm.rotate_secret, "AccessDeniedException", SecretId="app/db",
                 RotationLambdaARN="arn:aws:lambda:us-east-1:000000000000:function:does-not-exist")
    assert not sm.describe_secret(SecretId="app/db").get("RotationEnabled")


def test_rotate_unknown_secret(sm, rotator):
    arn = rotator()
    expect_error(sm.rotate_secret, "ResourceNotFoundException", H.MSG_NOT_FOUND, SecretId="nope",
                 RotationLambdaARN=arn)


def test_rotate_immediately_full_cycle(sm, rotator):
    lam = rotator()
    created = db_secret(sm)
    old = created["VersionId"]
    tok = H.token()
    r = sm.rotate_secret(SecretId="app/db", RotationLambdaARN=lam, ClientRequestToken=tok,
                         RotationRules={"AutomaticallyAfterDays": 30})
    assert r["ARN"] == created["ARN"] and r["Name"] == "app/db"
    assert r["VersionId"] == tok
    st = wait_rotated(sm, "app/db", tok)
    assert st[old] == ["AWSPREVIOUS"]
    assert set(st[tok]) <= {"AWSCURRENT", "AWSPENDING"}  # AWSPENDING removed or left on AWSCURRENT
    assert H.version_with(st, "AWSPENDING") in (None, tok)
    d = sm.describe_secret(SecretId="app/db")
    assert d["RotationEnabled"] is True
    assert d["RotationLambdaARN"] == lam
    assert d["RotationRules"]["AutomaticallyAfterDays"] == 30
    H.poll(lambda: "LastRotatedDate" in sm.describe_secret(SecretId="app/db"), timeout=5,
           desc="LastRotatedDate set")
    d = H.describe_full(sm, "app/db")
    assert H.is_aware_datetime(d["LastRotatedDate"])
    assert abs((H.now_utc() - d["LastRotatedDate"]).total_seconds()) < 120
    assert H.is_aware_datetime(d["NextRotationDate"]) and d["NextRotationDate"] > H.now_utc()
    new_value = json.loads(sm.get_secret_value(SecretId="app/db")["SecretString"])
    assert new_value["password"] != "old-password" and new_value["username"] == "app"
    prev = json.loads(sm.get_secret_value(SecretId="app/db", VersionStage="AWSPREVIOUS")["SecretString"])
    assert prev["password"] == "old-password"
    ev = rotator.events()
    assert [e["Step"] for e in ev] == ["createSecret", "setSecret", "testSecret", "finishSecret"]
    assert all(e["SecretId"] == created["ARN"] and e["ClientRequestToken"] == tok for e in ev)


def test_rotate_again_uses_stored_lambda(sm, rotator):
    lam = rotator()
    db_secret(sm)
    v1 = sm.rotate_secret(SecretId="app/db", RotationLambdaARN=lam)["VersionId"]
    wait_rotated(sm, "app/db", v1)
    v2 = sm.rotate_secret(SecretId="app/db")["VersionId"]  # Lambda ARN already configured
    assert v2 != v1
    st = wait_rotated(sm, "app/db", v2)
    assert st[v1] == ["AWSPREVIOUS"]


def test_rotate_immediately_false_runs_only_test_step(sm, rotator):
    lam = rotator()
    old = db_secret(sm)["VersionId"]
    r = sm.rotate_secret(SecretId="app/db", RotationLambdaARN=lam, RotateImmediately=False,
                         RotationRules={"AutomaticallyAfterDays": 7})
    assert r["ARN"] and r["Name"] == "app/db"
    H.poll(lambda: rotator.events(), timeout=ROTATION_TIMEOUT, desc="testSecret invocation")
    H.poll(lambda: H.version_with(H.stages_of(sm, "app/db"), "AWSPENDING") is None, timeout=ROTATION_TIMEOUT,
           desc="AWSPENDING removed after the configuration test")
    time.sleep(0.3)
    assert [e["Step"] for e in rotator.events()] == ["testSecret"]
    st = H.stages_of(sm, "app/db")
    assert H.version_with(st, "AWSCURRENT") == old
    d = H.describe_full(sm, "app/db")
    assert d["RotationEnabled"] is True and "LastRotatedDate" not in d
    assert H.is_aware_datetime(d["NextRotationDate"])
    assert json.loads(sm.get_secret_value(SecretId="app/db")["SecretString"])["password"] == "old-password"


def test_scheduled_rotation_comes_due(sm, rotator, clock):
    lam = rotator()
    old = db_secret(sm)["VersionId"]
    sm.rotate_secret(SecretId="app/db", RotationLambdaARN=lam, RotateImmediately=False,
                     RotationRules={"AutomaticallyAfterDays": 1})
    H.poll(lambda: rotator.events() and H.version_with(H.stages_of(sm, "app/db"), "AWSPENDING") is None,
           timeout=ROTATION_TIMEOUT, desc="configuration test finished")
    due = H.describe_full(sm, "app/db")["NextRotationDate"]
    assert due > H.now_utc()
    time.sleep(0.5)
    assert H.version_with(H.stages_of(sm, "app/db"), "AWSCURRENT") == old  # nothing before it is due
    clock(int((due - H.now_utc()).total_seconds()) + 2 * 86400)

    def rotated():
        st = H.stages_of(sm, "app/db")
        cur = H.version_with(st, "AWSCURRENT")
        return cur != old and st
    st = H.poll(rotated, timeout=ROTATION_TIMEOUT, interval=0.2, desc="scheduled rotation")
    assert st[old] == ["AWSPREVIOUS"]
    steps = [e["Step"] for e in rotator.events()]
    assert steps[:1] == ["testSecret"] and steps[1:5] == ["createSecret", "setSecret", "testSecret", "finishSecret"]


def test_failed_rotation_leaves_pending_and_blocks_next(sm, rotator):
    lam = rotator(fail_step="setSecret")
    old = db_secret(sm)["VersionId"]
    v = sm.rotate_secret(SecretId="app/db", RotationLambdaARN=lam)["VersionId"]
    H.poll(lambda: any(e["Step"] == "setSecret" for e in rotator.events()), timeout=ROTATION_TIMEOUT,
           desc="setSecret attempted")
    time.sleep(0.5)
    st = H.stages_of(sm, "app/db")
    assert H.version_with(st, "AWSCURRENT") == old
    assert H.version_with(st, "AWSPENDING") == v
    assert "finishSecret" not in [e["Step"] for e in rotator.events()]
    expect_error(sm.rotate_secret, "InvalidRequestException", SecretId="app/db")
    assert "LastRotatedDate" not in sm.describe_secret(SecretId="app/db")


def test_pending_placeholder_has_no_value_until_put(sm, rotator):
    lam = rotator(fail_step="createSecret")
    old = db_secret(sm)["VersionId"]
    v = sm.rotate_secret(SecretId="app/db", RotationLambdaARN=lam)["VersionId"]
    H.poll(lambda: rotator.events(), timeout=ROTATION_TIMEOUT, desc="createSecret attempted")
    st = H.stages_of(sm, "app/db")
    assert st[v] == ["AWSPENDING"] and H.version_with(st, "AWSCURRENT") == old
    expect_error(sm.get_secret_value, "ResourceNotFoundException", H.msg_no_value_stage("AWSPENDING"),
                 SecretId="app/db", VersionStage="AWSPENDING")
    expect_error(sm.get_secret_value, "ResourceNotFoundException", H.msg_no_value_version(v),
                 SecretId="app/db", VersionId=v)
    # rule 9: PutSecretValue accepts the token of the value-less version and fills it in
    r = sm.put_secret_value(SecretId="app/db", ClientRequestToken=v, SecretString='{"password": "new"}',
                            VersionStages=["AWSPENDING"])
    assert r["VersionId"] == v
    assert sm.get_secret_value(SecretId="app/db", VersionStage="AWSPENDING")["SecretString"] == '{"password": "new"}'
    assert H.version_with(H.stages_of(sm, "app/db"), "AWSCURRENT") == old
    sm.cancel_rotate_secret(SecretId="app/db")


def test_cancel_rotate_secret(sm, rotator):
    lam = rotator()
    arn = db_secret(sm)["ARN"]
    sm.rotate_secret(SecretId="app/db", RotationLambdaARN=lam, RotateImmediately=False,
                     RotationRules={"AutomaticallyAfterDays": 10})
    H.poll(lambda: rotator.events(), timeout=ROTATION_TIMEOUT, desc="configuration test")
    r = sm.cancel_rotate_secret(SecretId="app/db")
    assert r["ARN"] == arn and r["Name"] == "app/db"
    d = sm.describe_secret(SecretId="app/db")
    assert d["RotationEnabled"] is False
    assert d["RotationRules"]["AutomaticallyAfterDays"] == 10  # rules are kept


def test_cancel_in_progress_rotation_returns_pending_version(sm, rotator):
    lam = rotator(fail_step="testSecret")
    db_secret(sm)
    v = sm.rotate_secret(SecretId="app/db", RotationLambdaARN=lam)["VersionId"]
    H.poll(lambda: any(e["Step"] == "testSecret" for e in rotator.events()), timeout=ROTATION_TIMEOUT,
           desc="testSecret attempted")
    r = sm.cancel_rotate_secret(SecretId="app/db")
    assert r.get("VersionId") == v
    assert sm.describe_secret(SecretId="app/db")["RotationEnabled"] is False
    # the caller cleans up the half-built version, then manual writes work as usual
    sm.update_secret_version_stage(SecretId="app/db", VersionStage="AWSPENDING", RemoveFromVersionId=v)
    assert H.version_with(H.stages_of(sm, "app/db"), "AWSPENDING") is None


def test_cancel_without_rotation_configured(sm):
    db_secret(sm)
    expect_error(sm.cancel_rotate_secret, "InvalidRequestException", SecretId="app/db")


def test_cancel_unknown_secret(sm):
    expect_error(sm.cancel_rotate_secret, "ResourceNotFoundException", H.MSG_NOT_FOUND, SecretId="nope")


@pytest.mark.parametrize("rules", [
    {"AutomaticallyAfterDays": 5, "ScheduleExpression": "rate(5 days)"},
    {"ScheduleExpression": "rate(1 hours)"},
    {"ScheduleExpression": "every tuesday"},
])
def test_rotation_rules_rejected(sm, rotator, rules):
    lam = rotator()
    db_secret(sm)
    with pytest.raises(H.ClientError) as ei:
        sm.rotate_secret(SecretId="app/db", RotationLambdaARN=lam, RotationRules=rules, RotateImmediately=False)
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert ei.value.response["Error"]["Code"] in ("InvalidParameterException", "InvalidRequestException",
                                                  "ValidationException")
    assert not sm.describe_secret(SecretId="app/db").get("RotationEnabled")


def test_rotation_rules_schedule_expression_accepted(sm, rotator):
    lam = rotator()
    db_secret(sm)
    sm.rotate_secret(SecretId="app/db", RotationLambdaARN=lam, RotateImmediately=False,
                     RotationRules={"ScheduleExpression": "rate(4 hours)", "Duration": "2h"})
    d = H.describe_full(sm, "app/db")
    assert d["RotationRules"]["ScheduleExpression"] == "rate(4 hours)"
    assert d["RotationRules"]["Duration"] == "2h"
    nrd = d["NextRotationDate"]
    assert H.now_utc() < nrd <= H.now_utc() + datetime.timedelta(hours=5)


def test_sample_rotation_lambda_through_shim(sm, endpoint):
    if not (SHIM.exists() and SAMPLE.exists()):
        pytest.skip(f"needs {SHIM} and {SAMPLE}")
    arn = "arn:aws:lambda:us-east-1:000000000000:function:rotate"
    # no env: the emulator itself must give the child its endpoint and credentials, as Lambda does
    register_lambda(endpoint, arn, [sys.executable, SHIM, SAMPLE], {})
    created = db_secret(sm)
    v = sm.rotate_secret(SecretId="app/db", RotationLambdaARN=arn)["VersionId"]
    st = wait_rotated(sm, "app/db", v)
    assert st[created["VersionId"]] == ["AWSPREVIOUS"]
    H.poll(lambda: "LastRotatedDate" in sm.describe_secret(SecretId="app/db"), timeout=5, desc="LastRotatedDate")
    assert json.loads(sm.get_secret_value(SecretId="app/db")["SecretString"])["password"] != "old-password"
