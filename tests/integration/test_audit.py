"""The audit trail: every authentication and authorization decision, read
back through the admin endpoint, CloudTrail's LookupEvents (boto3), and the
JSON-lines file in the state dir.  Secret values never appear in any of them.
"""
import json
import time

import botocore.exceptions
import pytest

import helpers as H

SECRET_VALUE = "audit-never-shows-this-9f3c"


def audit_lines(endpoint):
    status, body = H.http_get(endpoint + "/_rdsemu/audit")
    assert status == 200
    return [json.loads(l) for l in body.decode().splitlines() if l.strip()]


def make_traffic(endpoint, sm):
    arn = sm.create_secret(Name="audit/db", SecretString=SECRET_VALUE)["ARN"]
    sm.get_secret_value(SecretId="audit/db")
    bad = H.make_client(endpoint, secret="wrong-secret")
    with pytest.raises(botocore.exceptions.ClientError):
        bad.get_secret_value(SecretId="audit/db")
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.get_secret_value(SecretId="audit/missing")
    return arn


def test_admin_endpoint_records_every_decision(endpoint, sm):
    arn = make_traffic(endpoint, sm)
    events = audit_lines(endpoint)
    names = [(e["eventName"], e["rdsemu"]["decision"], e.get("errorCode")) for e in events]
    assert ("CreateSecret", "Allow", None) in names
    assert ("GetSecretValue", "Allow", None) in names
    assert ("GetSecretValue", "Unauthenticated", "InvalidSignatureException") in names
    assert ("GetSecretValue", "Allow", "ResourceNotFoundException") in names
    ok = next(e for e in events if e["eventName"] == "GetSecretValue" and "errorCode" not in e)
    assert ok["resources"][0]["ARN"] == arn
    assert ok["userIdentity"]["type"] == "Root"
    assert ok["userIdentity"]["accessKeyId"] == "test"
    assert ok["eventSource"] == "secretsmanager.amazonaws.com"
    assert ok["awsRegion"] == H.REGION
    assert ok["sourceIPAddress"] == "127.0.0.1"
    assert ok["readOnly"] is True
    assert next(e for e in events if e["eventName"] == "CreateSecret")["readOnly"] is False
    # Newest first.
    times = [e["eventTime"] for e in events]
    assert times == sorted(times, reverse=True)


def test_no_secret_value_in_the_trail(endpoint, sm):
    make_traffic(endpoint, sm)
    status, body = H.http_get(endpoint + "/_rdsemu/audit")
    assert SECRET_VALUE not in body.decode()


def test_cloudtrail_lookup_events(endpoint, sm):
    arn = make_traffic(endpoint, sm)
    ct = H.make_client(endpoint, service="cloudtrail")
    got = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetSecretValue"}])
    evs = got["Events"]
    assert len(evs) == 3
    assert all(e["EventName"] == "GetSecretValue" for e in evs)
    assert all(e["EventSource"] == "secretsmanager.amazonaws.com" for e in evs)
    rec = json.loads(evs[-1]["CloudTrailEvent"])  # oldest: the successful read
    assert rec["eventName"] == "GetSecretValue" and rec["rdsemu"]["decision"] == "Allow"
    assert evs[-1]["Resources"][0]["ResourceName"] == arn
    assert evs[-1]["EventTime"].year >= 2024
    by_res = ct.lookup_events(LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": arn}])
    assert {e["EventName"] for e in by_res["Events"]} == {"CreateSecret", "GetSecretValue"}
    ro = ct.lookup_events(LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "false"}])
    assert {e["EventName"] for e in ro["Events"]} == {"CreateSecret"}


def test_cloudtrail_pagination_and_errors(endpoint, sm):
    for i in range(5):
        sm.create_secret(Name="audit/p%d" % i, SecretString="v")
    ct = H.make_client(endpoint, service="cloudtrail")
    seen, token, pages = [], None, 0
    while pages < 10:
        kw = {"MaxResults": 2, "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "CreateSecret"}]}
        if token:
            kw["NextToken"] = token
        page = ct.lookup_events(**kw)
        seen += [e["EventId"] for e in page["Events"]]
        pages += 1
        token = page.get("NextToken")
        if not token:
            break
    assert len(seen) == 5 and len(set(seen)) == 5 and pages == 3
    # The model caps MaxResults at 50: rejected by model validation, as the service's front end does.
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        H.make_client(endpoint, service="cloudtrail", validate=False).lookup_events(MaxResults=51)
    assert ei.value.response["Error"]["Code"] == "ValidationException"
    assert "Member must have value less than or equal to 50" in ei.value.response["Error"]["Message"]
    with pytest.raises(ct.exceptions.InvalidLookupAttributesException):
        ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "A"},
                                           {"AttributeKey": "Username", "AttributeValue": "B"}])
    with pytest.raises(ct.exceptions.InvalidTimeRangeException):
        ct.lookup_events(StartTime=time.time(), EndTime=time.time() - 3600)
    with pytest.raises(ct.exceptions.InvalidNextTokenException):
        ct.lookup_events(NextToken="garbage")


def test_audit_jsonl_file_in_state_dir(server_factory, tmp_path):
    srv = server_factory(args=["--state-dir", str(tmp_path / "state")])
    sm = H.make_client(srv.endpoint)
    sm.create_secret(Name="audit/file", SecretString=SECRET_VALUE)
    with pytest.raises(botocore.exceptions.ClientError):
        H.make_client(srv.endpoint, key="AKIAUNKNOWNKEY000000").list_secrets()
    assert srv.stop() == 0
    text = (tmp_path / "state" / "audit.jsonl").read_text()
    lines = [json.loads(l) for l in text.splitlines()]
    assert [l["eventName"] for l in lines] == ["CreateSecret", "ListSecrets"]
    assert lines[1]["errorCode"] == "UnrecognizedClientException"
    assert lines[1]["rdsemu"]["decision"] == "Unauthenticated"
    assert SECRET_VALUE not in text
