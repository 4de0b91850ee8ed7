"""STS over the Query protocol: GetCallerIdentity through boto3 and the CLI,
Query-protocol errors in STS's XML shape."""
import pytest

import helpers as H


def test_get_caller_identity_boto3(endpoint):
    sts = H.make_client(endpoint, service="sts")
    who = sts.get_caller_identity()
    assert who["Account"] == H.ACCOUNT
    assert who["Arn"] == "arn:aws:iam::%s:root" % H.ACCOUNT
    assert who["UserId"] == H.ACCOUNT
    assert H.UUID_RE.match(who["ResponseMetadata"]["RequestId"])


def test_get_caller_identity_cli(cli):
    r = cli("sts", "get-caller-identity")
    assert r.rc == 0, r.stderr
    assert r.json["Account"] == H.ACCOUNT


def test_sts_errors_are_query_shaped(endpoint):
    bad = H.make_client(endpoint, service="sts", secret="wrong")
    with pytest.raises(Exception) as ei:
        bad.get_caller_identity()
    err = ei.value.response
    assert err["Error"]["Code"] == "SignatureDoesNotMatch"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 403
    unknown = H.make_client(endpoint, service="sts", key="AKIAUNKNOWN000000000")
    with pytest.raises(Exception) as ei:
        unknown.get_caller_identity()
    assert ei.value.response["Error"]["Code"] == "InvalidClientTokenId"
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
