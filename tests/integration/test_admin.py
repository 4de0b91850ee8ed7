"""Admin endpoints: /_rdsemu/health, /_rdsemu/reset (and the moto / LocalStack reset paths),
/_rdsemu/fixtures (secrets, accounts with access keys), /_rdsemu/clock; fixtures given at start
and reloaded on reset."""

import json

import pytest

import helpers as H
from helpers import expect_error


def test_health(endpoint):
    status, body = H.http_get(endpoint + "/_rdsemu/health")
    assert status == 200


@pytest.mark.parametrize("path", ["/_rdsemu/reset", "/moto-api/reset", "/_localstack/state/reset"])
def test_reset_paths_wipe_state(endpoint, sm, sm_west, path):
    sm.create_secret(Name="a", SecretString="x")
    sm_west.create_secret(Name="b", SecretString="y")
    status, body = H.http_post(endpoint + path)
    assert status == 200, body
    assert sm.list_secrets()["SecretList"] == []
    assert sm_west.list_secrets()["SecretList"] == []
    sm.create_secret(Name="a", SecretString="again")  # the name is free again
    assert H.healthy(endpoint)


def test_fixture_secret_readable(endpoint, sm):
    pol = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
                                                   "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}
    H.load_fixtures(endpoint, {"secrets": [
        {"account": H.ACCOUNT, "region": "us-east-1", "Name": "fx/db",
         "SecretString": json.dumps({"username": "app", "password": "pw"}),
         "Description": "from a fixture", "Tags": [{"Key": "src", "Value": "fixture"}],
         "ResourcePolicy": json.dumps(pol)},
        {"account": H.ACCOUNT, "region": "us-west-2", "Name": "fx/west", "SecretString": "w"},
    ]})
    g = sm.get_secret_value(SecretId="fx/db")
    assert json.loads(g["SecretString"]) == {"username": "app", "password": "pw"}
    assert g["VersionStages"] == ["AWSCURRENT"]
    d = sm.describe_secret(SecretId="fx/db")
    assert d["Description"] == "from a fixture"
    assert d["Tags"] == [{"Key": "src", "Value": "fixture"}]
    assert H.ARN_RE.match(d["ARN"])["account"] == H.ACCOUNT
    assert json.loads(sm.get_resource_policy(SecretId="fx/db")["ResourcePolicy"]) == pol
    assert H.make_client(endpoint, region="us-west-2").get_secret_value(SecretId="fx/west")["SecretString"] == "w"
    expect_error(sm.get_secret_value, "ResourceNotFoundException", H.MSG_NOT_FOUND, SecretId="fx/west")


def test_fixture_then_reset_forgets_posted_fixture(endpoint, sm):
    H.load_fixtures(endpoint, {"secrets": [{"account": H.ACCOUNT, "region": "us-east-1", "Name": "fx/tmp",
                                            "SecretString": "x"}]})
    assert sm.get_secret_value(SecretId="fx/tmp")["SecretString"] == "x"
    H.reset(endpoint)
    expect_error(sm.get_secret_value, "ResourceNotFoundException", H.MSG_NOT_FOUND, SecretId="fx/tmp")


def test_fixture_account_with_access_key(endpoint, sm):
    H.load_fixtures(endpoint, {"accounts": [{"id": "111111111111", "access_keys": [
        {"access_key_id": "AKIAFIXTUREKEY000001", "secret_access_key": "fixture-secret"}]}]})
    other = H.make_client(endpoint, key="AKIAFIXTUREKEY000001", secret="fixture-secret")
    arn = other.create_secret(Name="mine", SecretString="x")["ARN"]
    assert H.ARN_RE.match(arn)["account"] == "111111111111"
    assert [s["Name"] for s in other.list_secrets()["SecretList"]] == ["mine"]
    assert sm.list_secrets()["SecretList"] == []  # default account does not see it
    expect_error(sm.get_secret_value, "ResourceNotFoundException", SecretId="mine")
    wrong = H.make_client(endpoint, key="AKIAFIXTUREKEY000001", secret="not-it")
    expect_error(wrong.list_secrets, "InvalidSignatureException", H.MSG_BAD_SIGNATURE)


@pytest.mark.parametrize("body", [b"{not json", b'{"secrets": "nope"}',
                                  b'{"secrets": [{"account": "000000000000", "region": "us-east-1"}]}'])
def test_bad_fixture_rejected(endpoint, sm, body):
    sm.create_secret(Name="keep", SecretString="x")
    status, _ = H.http_post(endpoint + "/_rdsemu/fixtures", body)
    assert 400 <= status < 500, status
    assert [s["Name"] for s in sm.list_secrets()["SecretList"]] == ["keep"]
    assert H.healthy(endpoint)


def test_clock_bad_body(endpoint):
    status, _ = H.http_post(endpoint + "/_rdsemu/clock", b"{nope")
    assert 400 <= status < 500
    status, _ = H.http_post(endpoint + "/_rdsemu/clock", {"offset_seconds": "soon"})
    assert 400 <= status < 500


def test_unknown_admin_path(endpoint):
    status, _ = H.http_post(endpoint + "/_rdsemu/no-such-thing")
    assert status == 404


def test_fixtures_file_at_start_reloaded_on_reset(server_factory, tmp_path):
    fx = tmp_path / "fx.json"
    fx.write_text(json.dumps({"secrets": [{"account": H.ACCOUNT, "region": "us-east-1", "Name": "start/db",
                                           "SecretString": "from-file"}]}))
    srv = server_factory(["--fixtures", str(fx)])
    c = H.make_client(srv.endpoint)
    assert c.get_secret_value(SecretId="start/db")["SecretString"] == "from-file"
    c.delete_secret(SecretId="start/db", ForceDeleteWithoutRecovery=True)
    c.create_secret(Name="extra", SecretString="x")
    H.reset(srv.endpoint)
    assert c.get_secret_value(SecretId="start/db")["SecretString"] == "from-file"
    assert [s["Name"] for s in c.list_secrets()["SecretList"]] == ["start/db"]
    assert H.ARN_RE.match(c.describe_secret(SecretId="start/db")["ARN"])["name"] == "start/db"


def test_bad_fixtures_file_fails_start(server_factory, tmp_path):
    fx = tmp_path / "bad.json"
    fx.write_text("{nope")
    srv = server_factory(["--fixtures", str(fx)], start=False)
    with pytest.raises(RuntimeError, match="exited"):
        srv.start(timeout=10)
    assert srv.proc.returncode != 0
