"""Secrets Manager through boto3: CreateSecret, GetSecretValue, PutSecretValue, UpdateSecret,
DescribeSecret, ListSecretVersionIds, UpdateSecretVersionStage; ARNs and SecretId lookup; version
stages (aws-behaviour.md 5.4) and ClientRequestToken idempotency (5.5)."""

import base64
import time

import pytest

import helpers as H
from helpers import expect_error


def create(sm, name="app/db", value="s3cr3t", **kw):
    return sm.create_secret(Name=name, SecretString=value, **kw)


# ------------------------------------------------------------------ CreateSecret


def test_create_secret_response_and_arn_format(sm):
    tok = H.token()
    r = sm.create_secret(Name="app/db", SecretString='{"password":"x"}', ClientRequestToken=tok)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    m = H.ARN_RE.match(r["ARN"])
    assert m, r["ARN"]
    assert (m["region"], m["account"], m["name"]) == ("us-east-1", H.ACCOUNT, "app/db")
    assert r["Name"] == "app/db"
    assert r["VersionId"] == tok
    assert not r.get("ReplicationStatus")


def test_create_secret_generated_version_id_is_uuid(sm):
    r = create(sm)  # boto3 fills in a UUIDv4 ClientRequestToken (5.1)
    assert H.UUID_RE.match(r["VersionId"]), r["VersionId"]
    got = sm.get_secret_value(SecretId="app/db")
    assert got["VersionId"] == r["VersionId"]


def test_arn_suffix_is_random_per_secret(sm):
    suffixes = [H.ARN_RE.match(create(sm, f"s{i}")["ARN"])["suffix"] for i in range(6)]
    assert len(set(suffixes)) > 1, suffixes


def test_recreated_name_gets_new_arn(sm):
    a = create(sm)["ARN"]
    sm.delete_secret(SecretId="app/db", ForceDeleteWithoutRecovery=True)
    b = create(sm)["ARN"]
    assert a != b and H.ARN_RE.match(b)["name"] == "app/db"


def test_create_without_value_has_no_version(sm):
    r = sm.create_secret(Name="empty", Description="no value yet")
    assert "VersionId" not in r
    d = sm.describe_secret(SecretId="empty")
    assert not d.get("VersionIdsToStages")
    expect_error(sm.get_secret_value, "ResourceNotFoundException", H.msg_no_value_stage("AWSCURRENT"),
                 SecretId="empty")


def test_create_binary_secret_roundtrip(sm):
    blob = bytes(range(256))
    sm.create_secret(Name="bin", SecretBinary=blob)
    g = sm.get_secret_value(SecretId="bin")
    assert g["SecretBinary"] == blob
    assert "SecretString" not in g


def test_create_duplicate_name(sm):
    create(sm)
    expect_error(sm.create_secret, "ResourceExistsException", H.msg_exists("app/db"),
                 Name="app/db", SecretString="other")


def test_create_same_token_same_value_is_idempotent(sm):
    tok = H.token()
    a = sm.create_secret(Name="app/db", SecretString="v", ClientRequestToken=tok)
    b = sm.create_secret(Name="app/db", SecretString="v", ClientRequestToken=tok)
    assert (a["ARN"], a["Name"], a["VersionId"]) == (b["ARN"], b["Name"], b["VersionId"])
    assert len(sm.list_secrets()["SecretList"]) == 1
    assert len(sm.list_secret_version_ids(SecretId="app/db")["Versions"]) == 1


def test_create_same_token_different_value(sm):
    tok = H.token()
    a = sm.create_secret(Name="app/db", SecretString="v", ClientRequestToken=tok)
    expect_error(sm.create_secret, "ResourceExistsException", H.msg_token_in_use(tok, a["ARN"]),
                 Name="app/db", SecretString="different", ClientRequestToken=tok)
    assert sm.get_secret_value(SecretId="app/db")["SecretString"] == "v"


@pytest.mark.parametrize("name", ["has space", "bad#name", "semi;colon", "quote'"])
def test_create_invalid_name(sm, name):
    expect_error(sm.create_secret, "ValidationException", H.MSG_INVALID_NAME, Name=name, SecretString="x")
    assert sm.list_secrets()["SecretList"] == []


def test_create_allowed_name_characters(sm):
    name = "aZ09/_+=.@-x"
    r = create(sm, name)
    assert r["Name"] == name
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "s3cr3t"


def test_create_with_description_and_tags(sm):
    sm.create_secret(Name="app/db", SecretString="x", Description="the db",
                     Tags=[{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": ""}])
    d = sm.describe_secret(SecretId="app/db")
    assert d["Description"] == "the db"
    assert sorted((t["Key"], t["Value"]) for t in d["Tags"]) == [("env", "prod"), ("team", "")]


def test_token_length_checked_by_server(sm_factory):
    raw = sm_factory(validate=False)
    try:
        raw.create_secret(Name="app/db", SecretString="x", ClientRequestToken="short")
    except H.ClientError as e:
        assert e.response["Error"]["Code"] in ("ValidationException", "InvalidParameterException")
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    else:
        raise AssertionError("a 5-character ClientRequestToken was accepted")
    assert raw.list_secrets()["SecretList"] == []


# ------------------------------------------------------------------ GetSecretValue


def test_get_secret_value_members_and_types(sm):
    c = create(sm, value="hello")
    g = sm.get_secret_value(SecretId="app/db")
    assert g["ARN"] == c["ARN"] and g["Name"] == "app/db" and g["VersionId"] == c["VersionId"]
    assert g["SecretString"] == "hello"
    assert g["VersionStages"] == ["AWSCURRENT"]
    assert H.is_aware_datetime(g["CreatedDate"])
    assert abs((H.now_utc() - g["CreatedDate"]).total_seconds()) < 120
    assert "SecretBinary" not in g


def test_lookup_by_name_full_arn_and_partial_arn(sm):
    arn = create(sm, "app/db", "v1")["ARN"]
    partial = arn[:-7]
    for sid in ("app/db", arn, partial):
        g = sm.get_secret_value(SecretId=sid)
        assert g["ARN"] == arn and g["SecretString"] == "v1", sid
        assert sm.describe_secret(SecretId=sid)["ARN"] == arn


def test_lookup_wrong_suffix_or_region_not_found(sm):
    arn = create(sm)["ARN"]
    wrong_suffix = arn[:-6] + ("zzzzzz" if not arn.endswith("zzzzzz") else "yyyyyy")
    expect_error(sm.get_secret_value, "ResourceNotFoundException", H.MSG_NOT_FOUND, SecretId=wrong_suffix)
    other_region = arn.replace(":us-east-1:", ":eu-west-1:")
    expect_error(sm.get_secret_value, "ResourceNotFoundException", H.MSG_NOT_FOUND, SecretId=other_region)


def test_get_unknown_secret(sm):
    expect_error(sm.get_secret_value, "ResourceNotFoundException", H.MSG_NOT_FOUND, SecretId="nope")


def test_get_by_version_id_and_stage(sm):
    v1 = create(sm, value="one")["VersionId"]
    v2 = sm.put_secret_value(SecretId="app/db", SecretString="two")["VersionId"]
    assert sm.get_secret_value(SecretId="app/db", VersionId=v1)["SecretString"] == "one"
    prev = sm.get_secret_value(SecretId="app/db", VersionStage="AWSPREVIOUS")
    assert prev["VersionId"] == v1 and prev["VersionStages"] == ["AWSPREVIOUS"]
    both = sm.get_secret_value(SecretId="app/db", VersionId=v2, VersionStage="AWSCURRENT")
    assert both["SecretString"] == "two"


def test_get_version_stage_mismatch(sm):
    v1 = create(sm, value="one")["VersionId"]
    sm.put_secret_value(SecretId="app/db", SecretString="two")
    expect_error(sm.get_secret_value, "InvalidRequestException",
                 "You provided a VersionStage that is not associated to the provided VersionId.",
                 SecretId="app/db", VersionId=v1, VersionStage="AWSCURRENT")


def test_get_unknown_version_and_stage(sm):
    create(sm)
    vid = H.token()
    expect_error(sm.get_secret_value, "ResourceNotFoundException", H.msg_no_value_version(vid),
                 SecretId="app/db", VersionId=vid)
    expect_error(sm.get_secret_value, "ResourceNotFoundException", H.msg_no_value_stage("NOPE"),
                 SecretId="app/db", VersionStage="NOPE")


def test_last_accessed_date_has_day_resolution(sm):
    create(sm)
    assert "LastAccessedDate" not in sm.describe_secret(SecretId="app/db")
    sm.get_secret_value(SecretId="app/db")
    d = sm.describe_secret(SecretId="app/db")["LastAccessedDate"]
    assert H.is_aware_datetime(d)
    assert (d.hour, d.minute, d.second, d.microsecond) == (0, 0, 0, 0)
    assert d.date() == H.now_utc().date()


# ------------------------------------------------------------------ PutSecretValue and stages


def test_put_moves_current_and_previous(sm):
    v1 = create(sm, value="one")["VersionId"]
    r = sm.put_secret_value(SecretId="app/db", SecretString="two")
    v2 = r["VersionId"]
    assert r["ARN"] and r["Name"] == "app/db"
    assert r["VersionStages"] == ["AWSCURRENT"]
    assert H.stages_of(sm, "app/db") == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"]}
    v3 = sm.put_secret_value(SecretId="app/db", SecretString="three")["VersionId"]
    # v1 is now deprecated (no labels): absent from VersionIdsToStages
    assert H.stages_of(sm, "app/db") == {v2: ["AWSPREVIOUS"], v3: ["AWSCURRENT"]}
    assert sm.get_secret_value(SecretId="app/db")["SecretString"] == "three"


def test_list_secret_version_ids_deprecated(sm):
    v1 = create(sm, value="one")["VersionId"]
    v2 = sm.put_secret_value(SecretId="app/db", SecretString="two")["VersionId"]
    v3 = sm.put_secret_value(SecretId="app/db", SecretString="three")["VersionId"]
    r = sm.list_secret_version_ids(SecretId="app/db")
    assert r["Name"] == "app/db" and H.ARN_RE.match(r["ARN"])
    got = {v["VersionId"]: v.get("VersionStages") for v in r["Versions"]}
    assert got == {v2: ["AWSPREVIOUS"], v3: ["AWSCURRENT"]}
    for v in r["Versions"]:
        assert H.is_aware_datetime(v["CreatedDate"])
    r = sm.list_secret_version_ids(SecretId="app/db", IncludeDeprecated=True)
    got = {v["VersionId"]: v for v in r["Versions"]}
    assert set(got) == {v1, v2, v3}
    assert "VersionStages" not in got[v1]  # deprecated: no member at all (5.4 rule 5)
    # deprecated versions stay readable by id
    assert sm.get_secret_value(SecretId="app/db", VersionId=v1)["SecretString"] == "one"


def test_list_secret_version_ids_pagination(sm):
    create(sm, value="v0")
    for i in range(1, 5):
        sm.put_secret_value(SecretId="app/db", SecretString=f"v{i}")
    seen, kw, pages = [], {}, 0
    while True:
        r = sm.list_secret_version_ids(SecretId="app/db", IncludeDeprecated=True, MaxResults=2, **kw)
        assert len(r["Versions"]) <= 2
        seen += [v["VersionId"] for v in r["Versions"]]
        pages += 1
        assert pages <= 10
        if not r.get("NextToken"):
            break
        kw = {"NextToken": r["NextToken"]}
    assert len(seen) == 5 and len(set(seen)) == 5 and pages >= 3


def test_list_secret_version_ids_bad_token(sm):
    create(sm)
    expect_error(sm.list_secret_version_ids, "InvalidNextTokenException", SecretId="app/db",
                 NextToken="garbage-token")


def test_put_with_custom_stages(sm):
    v1 = create(sm, value="one")["VersionId"]
    r = sm.put_secret_value(SecretId="app/db", SecretString="pending", VersionStages=["AWSPENDING"])
    assert r["VersionStages"] == ["AWSPENDING"]
    assert H.stages_of(sm, "app/db") == {v1: ["AWSCURRENT"], r["VersionId"]: ["AWSPENDING"]}
    assert sm.get_secret_value(SecretId="app/db")["SecretString"] == "one"
    assert sm.get_secret_value(SecretId="app/db", VersionStage="AWSPENDING")["SecretString"] == "pending"
    # a label is on at most one version: it moves
    r2 = sm.put_secret_value(SecretId="app/db", SecretString="pending2", VersionStages=["AWSPENDING", "blue"])
    st = H.stages_of(sm, "app/db")
    assert st[v1] == ["AWSCURRENT"]
    assert sorted(st[r2["VersionId"]]) == ["AWSPENDING", "blue"]
    assert r["VersionId"] not in st


def test_put_with_current_in_stages_moves_previous(sm):
    v1 = create(sm, value="one")["VersionId"]
    r = sm.put_secret_value(SecretId="app/db", SecretString="two", VersionStages=["AWSCURRENT", "green"])
    st = H.stages_of(sm, "app/db")
    assert sorted(st[r["VersionId"]]) == ["AWSCURRENT", "green"]
    assert st[v1] == ["AWSPREVIOUS"]


def test_last_changed_date_moves_on_writes_only(sm):
    create(sm)
    t0 = sm.describe_secret(SecretId="app/db")["LastChangedDate"]
    time.sleep(0.05)
    sm.get_secret_value(SecretId="app/db")
    assert sm.describe_secret(SecretId="app/db")["LastChangedDate"] == t0
    sm.put_secret_value(SecretId="app/db", SecretString="new")
    t1 = sm.describe_secret(SecretId="app/db")["LastChangedDate"]
    assert t1 > t0
    time.sleep(0.05)
    sm.tag_resource(SecretId="app/db", Tags=[{"Key": "k", "Value": "v"}])
    assert sm.describe_secret(SecretId="app/db")["LastChangedDate"] > t1


def test_put_first_version_always_current(sm):
    sm.create_secret(Name="empty")
    r = sm.put_secret_value(SecretId="empty", SecretString="x", VersionStages=["custom"])
    st = H.stages_of(sm, "empty")
    assert sorted(st[r["VersionId"]]) == ["AWSCURRENT", "custom"]
    assert sm.get_secret_value(SecretId="empty")["SecretString"] == "x"


def test_put_idempotent_same_token_same_value(sm):
    create(sm)
    tok = H.token()
    a = sm.put_secret_value(SecretId="app/db", SecretString="two", ClientRequestToken=tok)
    b = sm.put_secret_value(SecretId="app/db", SecretString="two", ClientRequestToken=tok)
    assert a["VersionId"] == b["VersionId"] == tok
    assert len(sm.list_secret_version_ids(SecretId="app/db", IncludeDeprecated=True)["Versions"]) == 2
    st = H.stages_of(sm, "app/db")
    assert st[tok] == ["AWSCURRENT"]


def test_put_same_token_different_value(sm):
    arn = create(sm)["ARN"]
    tok = H.token()
    sm.put_secret_value(SecretId="app/db", SecretString="two", ClientRequestToken=tok)
    expect_error(sm.put_secret_value, "ResourceExistsException", H.msg_token_in_use(tok, arn),
                 SecretId="app/db", SecretString="three", ClientRequestToken=tok)
    assert sm.get_secret_value(SecretId="app/db")["SecretString"] == "two"


def test_put_same_token_binary_vs_string_differs(sm):
    create(sm)
    tok = H.token()
    sm.put_secret_value(SecretId="app/db", SecretString="abc", ClientRequestToken=tok)
    expect_error(sm.put_secret_value, "ResourceExistsException", SecretId="app/db", SecretBinary=b"abc",
                 ClientRequestToken=tok)


def test_put_requires_a_value(sm):
    create(sm)
    expect_error(sm.put_secret_value, "InvalidRequestException", "You must provide either SecretString or SecretBinary.",
                 SecretId="app/db")


def test_put_both_values(sm):
    create(sm)
    expect_error(sm.put_secret_value, "InvalidParameterException", SecretId="app/db", SecretString="a",
                 SecretBinary=b"b")
    assert len(sm.list_secret_version_ids(SecretId="app/db", IncludeDeprecated=True)["Versions"]) == 1


def test_put_unknown_secret(sm):
    expect_error(sm.put_secret_value, "ResourceNotFoundException", H.MSG_NOT_FOUND, SecretId="nope", SecretString="x")


def test_put_binary_base64_on_the_wire(endpoint):
    H.raw_call(endpoint, "CreateSecret", {"Name": "b64", "ClientRequestToken": H.token()})
    blob = b"\x00\xffbinary\n"
    r = H.raw_call(endpoint, "PutSecretValue", {"SecretId": "b64", "SecretBinary": base64.b64encode(blob).decode(),
                                                 "ClientRequestToken": H.token()})
    assert r.status == 200, r
    g = H.raw_call(endpoint, "GetSecretValue", {"SecretId": "b64"})
    assert g.status == 200 and g.header("Content-Type").startswith("application/x-amz-json-1.1")
    assert base64.b64decode(g.json["SecretBinary"]) == blob
    assert isinstance(g.json["CreatedDate"], (int, float))  # epoch seconds, a JSON number (5.1)
    assert None not in g.json.values()  # no nulls: absent members are omitted


# ------------------------------------------------------------------ UpdateSecret


def test_update_description_only_creates_no_version(sm):
    v1 = create(sm)["VersionId"]
    before = sm.describe_secret(SecretId="app/db")
    time.sleep(0.01)
    r = sm.update_secret(SecretId="app/db", Description="new text")  # SDK still sends a token (5.1)
    assert "VersionId" not in r
    assert r["Name"] == "app/db" and r["ARN"] == before["ARN"]
    d = sm.describe_secret(SecretId="app/db")
    assert d["Description"] == "new text"
    assert d["VersionIdsToStages"] == {v1: ["AWSCURRENT"]}
    assert d["LastChangedDate"] >= before["LastChangedDate"]


def test_update_with_value_creates_version(sm):
    v1 = create(sm, value="one")["VersionId"]
    tok = H.token()
    r = sm.update_secret(SecretId="app/db", SecretString="two", ClientRequestToken=tok)
    assert r["VersionId"] == tok
    assert H.stages_of(sm, "app/db") == {v1: ["AWSPREVIOUS"], tok: ["AWSCURRENT"]}
    assert sm.get_secret_value(SecretId="app/db")["SecretString"] == "two"


def test_update_with_existing_version_token_fails(sm):
    v1 = create(sm, value="one")["VersionId"]
    expect_error(sm.update_secret, "ResourceExistsException", SecretId="app/db", SecretString="two",
                 ClientRequestToken=v1)
    assert H.stages_of(sm, "app/db") == {v1: ["AWSCURRENT"]}


def test_update_unknown_secret(sm):
    expect_error(sm.update_secret, "ResourceNotFoundException", H.MSG_NOT_FOUND, SecretId="nope", Description="x")


# ------------------------------------------------------------------ DescribeSecret


def test_describe_secret_members(sm):
    arn = sm.create_secret(Name="app/db", SecretString="x", Description="d")["ARN"]
    d = sm.describe_secret(SecretId=arn)
    assert d["ARN"] == arn and d["Name"] == "app/db" and d["Description"] == "d"
    for k in ("CreatedDate", "LastChangedDate"):
        assert H.is_aware_datetime(d[k]), k
    for k in ("RotationEnabled", "RotationLambdaARN", "RotationRules", "DeletedDate", "KmsKeyId",
              "LastRotatedDate", "NextRotationDate", "OwningService", "Tags"):
        assert k not in d, f"{k} should be omitted: {d.get(k)!r}"
    assert isinstance(d["VersionIdsToStages"], dict) and len(d["VersionIdsToStages"]) == 1


def test_describe_unknown(sm):
    expect_error(sm.describe_secret, "ResourceNotFoundException", H.MSG_NOT_FOUND, SecretId="nope")


def test_caching_library_pattern(sm):
    """aws-secretsmanager-caching: DescribeSecret -> VersionIdsToStages -> GetSecretValue(VersionId)."""
    create(sm, value="first")
    sm.put_secret_value(SecretId="app/db", SecretString="second")

    def cached_fetch(stage):
        stages = sm.describe_secret(SecretId="app/db")["VersionIdsToStages"]
        vid = next(v for v, labels in stages.items() if stage in labels)
        return sm.get_secret_value(SecretId="app/db", VersionId=vid)

    cur = cached_fetch("AWSCURRENT")
    assert cur["SecretString"] == "second" and "AWSCURRENT" in cur["VersionStages"]
    assert cached_fetch("AWSPREVIOUS")["SecretString"] == "first"


# ------------------------------------------------------------------ UpdateSecretVersionStage


def _three_versions(sm):
    v1 = create(sm, value="one")["VersionId"]
    v2 = sm.put_secret_value(SecretId="app/db", SecretString="two")["VersionId"]
    v3 = sm.put_secret_value(SecretId="app/db", SecretString="three", VersionStages=["AWSPENDING"])["VersionId"]
    assert H.stages_of(sm, "app/db") == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"], v3: ["AWSPENDING"]}
    return v1, v2, v3


def test_stage_move_current_requires_remove_from(sm):
    v1, v2, v3 = _three_versions(sm)
    expect_error(sm.update_secret_version_stage, "InvalidParameterException",
                 "The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently "
                 f"attached to version {v2}, so you must explicitly reference that version in RemoveFromVersionId.",
                 SecretId="app/db", VersionStage="AWSCURRENT", MoveToVersionId=v3)
    expect_error(sm.update_secret_version_stage, "InvalidParameterException",
                 SecretId="app/db", VersionStage="AWSCURRENT", MoveToVersionId=v3, RemoveFromVersionId=v1)
    assert H.stages_of(sm, "app/db") == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"], v3: ["AWSPENDING"]}


def test_stage_move_current_moves_previous(sm):
    v1, v2, v3 = _three_versions(sm)
    r = sm.update_secret_version_stage(SecretId="app/db", VersionStage="AWSCURRENT", MoveToVersionId=v3,
                                       RemoveFromVersionId=v2)
    assert r["Name"] == "app/db" and H.ARN_RE.match(r["ARN"])
    assert set(r) - {"ResponseMetadata"} == {"ARN", "Name"}
    st = H.stages_of(sm, "app/db")
    assert sorted(st[v3]) == ["AWSCURRENT", "AWSPENDING"]  # labels are added to the existing ones
    assert st[v2] == ["AWSPREVIOUS"]
    assert v1 not in st
    assert sm.get_secret_value(SecretId="app/db")["SecretString"] == "three"


def test_stage_custom_label_add_move_remove(sm):
    v1, v2, v3 = _three_versions(sm)
    sm.update_secret_version_stage(SecretId="app/db", VersionStage="blue", MoveToVersionId=v1)
    assert sorted(H.stages_of(sm, "app/db")[v1]) == ["AWSPREVIOUS", "blue"]
    expect_error(sm.update_secret_version_stage, "InvalidParameterException",
                 SecretId="app/db", VersionStage="blue", MoveToVersionId=v3)
    sm.update_secret_version_stage(SecretId="app/db", VersionStage="blue", MoveToVersionId=v3, RemoveFromVersionId=v1)
    st = H.stages_of(sm, "app/db")
    assert st[v1] == ["AWSPREVIOUS"] and sorted(st[v3]) == ["AWSPENDING", "blue"]
    sm.update_secret_version_stage(SecretId="app/db", VersionStage="blue", RemoveFromVersionId=v3)
    assert H.stages_of(sm, "app/db")[v3] == ["AWSPENDING"]
    # AWSCURRENT did not move: AWSPREVIOUS untouched
    assert H.version_with(H.stages_of(sm, "app/db"), "AWSCURRENT") == v2


def test_stage_remove_label_not_on_version(sm):
    v1, v2, v3 = _three_versions(sm)
    expect_error(sm.update_secret_version_stage, "InvalidParameterException",
                 SecretId="app/db", VersionStage="AWSPENDING", RemoveFromVersionId=v1)


def test_stage_unknown_version(sm):
    v1, v2, v3 = _three_versions(sm)
    bogus = H.token()
    expect_error(sm.update_secret_version_stage, "InvalidParameterException", f"Not a valid version: {bogus}",
                 SecretId="app/db", VersionStage="blue", MoveToVersionId=bogus)


def test_stage_cannot_remove_current_without_moving(sm):
    v1, v2, v3 = _three_versions(sm)
    with pytest.raises(H.ClientError) as ei:
        sm.update_secret_version_stage(SecretId="app/db", VersionStage="AWSCURRENT", RemoveFromVersionId=v2)
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert H.version_with(H.stages_of(sm, "app/db"), "AWSCURRENT") == v2


def test_stage_unknown_secret(sm):
    expect_error(sm.update_secret_version_stage, "ResourceNotFoundException", H.MSG_NOT_FOUND,
                 SecretId="nope", VersionStage="x", MoveToVersionId=H.token())
