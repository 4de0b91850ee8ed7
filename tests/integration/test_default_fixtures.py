"""The state `scripts/start` serves (fixtures/default.json) loads, and does
what the README shows: the pattern secrets exist and the pattern B role
reads only its own secret."""
import json

import botocore.exceptions
import pytest

import helpers as H


def test_default_fixtures(server_factory):
    srv = server_factory(args=["--fixtures", str(H.REPO / "fixtures" / "default.json")])
    sm = H.make_client(srv.endpoint)
    names = {s["Name"] for s in sm.list_secrets()["SecretList"]}
    assert {"rdsemu/patternB/app", "rdsemu/patternC/app", "rdsemu/patternD/mariadb",
            "rdsemu/example/rotating"} <= names
    creds = json.loads(sm.get_secret_value(SecretId="rdsemu/patternB/app")["SecretString"])
    assert {"engine", "host", "port", "username", "password", "dbname"} <= set(creds)
    assert sm.describe_secret(SecretId="rdsemu/example/rotating")["RotationEnabled"] is True
    sts = H.make_client(srv.endpoint, service="sts")
    c = sts.assume_role(RoleArn="arn:aws:iam::%s:role/rdsemu-lambda-patternB" % H.ACCOUNT,
                        RoleSessionName="readme")["Credentials"]
    role_sm = H.make_client(srv.endpoint, key=c["AccessKeyId"], secret=c["SecretAccessKey"], token=c["SessionToken"])
    assert role_sm.get_secret_value(SecretId="rdsemu/patternB/app")["Name"] == "rdsemu/patternB/app"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        role_sm.get_secret_value(SecretId="rdsemu/patternD/mariadb")
    assert ei.value.response["Error"]["Code"] == "AccessDeniedException"
