"""Secrets Manager through boto3: DeleteSecret / RestoreSecret (recovery windows, forced deletion,
permanent deletion when the domain clock passes the window), ListSecrets (filters, sorting,
pagination) and BatchGetSecretValue (aws-behaviour.md 5.2, 5.6)."""

import datetime
import time

import pytest

import helpers as H
from helpers import expect_error

DAY = 86400


def names(resp):
    return [s["Name"] for s in resp["SecretList"]]


def list_all(sm, **kw):
    out = []
    for page in sm.get_paginator("list_secrets").paginate(**kw):
        out += page["SecretList"]
    return out


# ------------------------------------------------------------------ DeleteSecret / RestoreSecret


def test_delete_default_window_and_describe(sm):
    arn = sm.create_secret(Name="app/db", SecretString="x")["ARN"]
    before = H.now_utc()
    r = sm.delete_secret(SecretId="app/db")
    assert r["ARN"] == arn and r["Name"] == "app/db"
    assert H.is_aware_datetime(r["DeletionDate"])
    expected = before + datetime.timedelta(days=30)
    assert abs((r["DeletionDate"] - expected).total_seconds()) < 120, r["DeletionDate"]
    d = sm.describe_secret(SecretId="app/db")  # still works (5.6)
    assert H.is_aware_datetime(d["DeletedDate"])
    assert abs((d["DeletedDate"] - r["DeletionDate"]).total_seconds()) < 2


def test_delete_custom_window(sm):
    sm.create_secret(Name="app/db", SecretString="x")
    r = sm.delete_secret(SecretId="app/db", RecoveryWindowInDays=7)
    expected = H.now_utc() + datetime.timedelta(days=7)
    assert abs((r["DeletionDate"] - expected).total_seconds()) < 120


def test_deleted_secret_refuses_value_access_and_updates(sm):
    sm.create_secret(Name="app/db", SecretString="x")
    sm.delete_secret(SecretId="app/db", RecoveryWindowInDays=7)
    m = H.MSG_MARKED_FOR_DELETION
    expect_error(sm.get_secret_value, "InvalidRequestException", m, SecretId="app/db")
    expect_error(sm.put_secret_value, "InvalidRequestException", m, SecretId="app/db", SecretString="y")
    expect_error(sm.update_secret, "InvalidRequestException", m, SecretId="app/db", Description="y")
    expect_error(sm.delete_secret, "InvalidRequestException", SecretId="app/db")


def test_deleted_secret_hidden_from_list(sm):
    H.require_model("ListSecrets", input_member="IncludePlannedDeletion")
    sm.create_secret(Name="keep", SecretString="x")
    sm.create_secret(Name="gone", SecretString="x")
    sm.delete_secret(SecretId="gone", RecoveryWindowInDays=7)
    assert names(sm.list_secrets()) == ["keep"]
    entries = {s["Name"]: s for s in sm.list_secrets(IncludePlannedDeletion=True)["SecretList"]}
    assert set(entries) == {"keep", "gone"}
    assert H.is_aware_datetime(entries["gone"]["DeletedDate"])
    assert "DeletedDate" not in entries["keep"]


def test_delete_window_out_of_range(sm):
    sm.create_secret(Name="app/db", SecretString="x")
    for days in (6, 31):
        expect_error(sm.delete_secret, "InvalidParameterException",
                     "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).",
                     SecretId="app/db", RecoveryWindowInDays=days)
    assert "DeletedDate" not in sm.describe_secret(SecretId="app/db")


def test_delete_force_and_window_exclusive(sm):
    sm.create_secret(Name="app/db", SecretString="x")
    expect_error(sm.delete_secret, "InvalidParameterException",
                 "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
                 SecretId="app/db", RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True)
    assert sm.get_secret_value(SecretId="app/db")["SecretString"] == "x"


def test_create_while_scheduled_for_deletion(sm):
    sm.create_secret(Name="app/db", SecretString="x")
    sm.delete_secret(SecretId="app/db")
    expect_error(sm.create_secret, "InvalidRequestException", Name="app/db", SecretString="y")


def test_restore(sm):
    arn = sm.create_secret(Name="app/db", SecretString="x")["ARN"]
    sm.delete_secret(SecretId="app/db")
    r = sm.restore_secret(SecretId="app/db")
    assert r["ARN"] == arn and r["Name"] == "app/db"
    assert "DeletedDate" not in sm.describe_secret(SecretId="app/db")
    assert sm.get_secret_value(SecretId="app/db")["SecretString"] == "x"
    assert names(sm.list_secrets()) == ["app/db"]
    sm.put_secret_value(SecretId="app/db", SecretString="y")


def test_restore_not_deleted_is_noop(sm):
    arn = sm.create_secret(Name="app/db", SecretString="x")["ARN"]
    assert sm.restore_secret(SecretId="app/db")["ARN"] == arn
    assert sm.get_secret_value(SecretId="app/db")["SecretString"] == "x"


def test_restore_unknown(sm):
    expect_error(sm.restore_secret, "ResourceNotFoundException", H.MSG_NOT_FOUND, SecretId="nope")


def test_force_delete(sm):
    old = sm.create_secret(Name="app/db", SecretString="x")["ARN"]
    r = sm.delete_secret(SecretId="app/db", ForceDeleteWithoutRecovery=True)
    assert r["ARN"] == old and r["Name"] == "app/db"
    assert H.is_aware_datetime(r["DeletionDate"])
    expect_error(sm.describe_secret, "ResourceNotFoundException", H.MSG_NOT_FOUND, SecretId="app/db")
    expect_error(sm.restore_secret, "ResourceNotFoundException", H.MSG_NOT_FOUND, SecretId="app/db")
    if H.model_has("ListSecrets", input_member="IncludePlannedDeletion"):
        assert sm.list_secrets(IncludePlannedDeletion=True)["SecretList"] == []
    new = sm.create_secret(Name="app/db", SecretString="y")["ARN"]
    assert new != old
    expect_error(sm.get_secret_value, "ResourceNotFoundException", H.MSG_NOT_FOUND, SecretId=old)


def test_force_delete_unknown_secret_succeeds(sm):
    r = sm.delete_secret(SecretId="never-existed", ForceDeleteWithoutRecovery=True)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_delete_unknown_without_force(sm):
    expect_error(sm.delete_secret, "ResourceNotFoundException", H.MSG_NOT_FOUND, SecretId="nope")


def test_force_delete_of_scheduled_secret(sm):
    sm.create_secret(Name="app/db", SecretString="x")
    sm.delete_secret(SecretId="app/db")
    sm.delete_secret(SecretId="app/db", ForceDeleteWithoutRecovery=True)
    expect_error(sm.describe_secret, "ResourceNotFoundException", H.MSG_NOT_FOUND, SecretId="app/db")


def test_permanent_deletion_after_window(sm, clock):
    sm.create_secret(Name="app/db", SecretString="x")
    sm.create_secret(Name="other", SecretString="x")
    sm.delete_secret(SecretId="app/db", RecoveryWindowInDays=7)
    sm.delete_secret(SecretId="other", RecoveryWindowInDays=30)
    clock(6 * DAY)
    time.sleep(0.3)
    assert "DeletedDate" in sm.describe_secret(SecretId="app/db")  # not yet
    clock(7 * DAY + 3600)

    def gone():
        try:
            sm.describe_secret(SecretId="app/db")
            return False
        except H.ClientError as e:
            return e.response["Error"]["Code"] == "ResourceNotFoundException"

    H.poll(gone, timeout=10, desc="secret purged after its 7-day window")
    assert "DeletedDate" in sm.describe_secret(SecretId="other")  # 30-day window not over
    sm.create_secret(Name="app/db", SecretString="new")  # the name is free again
    assert sm.get_secret_value(SecretId="app/db")["SecretString"] == "new"


# ------------------------------------------------------------------ ListSecrets


@pytest.fixture
def catalogue(sm):
    """A handful of secrets created in a known order (distinct CreatedDate)."""
    spec = [
        ("app/db", "Production database", [{"Key": "env", "Value": "prod"}, {"Key": "Team", "Value": "alpha"}]),
        ("app/cache", "cache credentials", [{"Key": "env", "Value": "dev"}]),
        ("svc/api", "API key for the edge", [{"Key": "owner", "Value": "beta"}]),
        ("App/upper", "Mixed case name", []),
        ("gamma", "standalone", [{"Key": "env", "Value": "prodlike"}]),
    ]
    for name, desc, tags in spec:
        kw = {"Tags": tags} if tags else {}
        sm.create_secret(Name=name, SecretString="v", Description=desc, **kw)
        time.sleep(0.02)
    return [s[0] for s in spec]


def flt(sm, *filters, **kw):
    return sorted(s["Name"] for s in list_all(sm, Filters=[{"Key": k, "Values": v} for k, v in filters], **kw))


def test_list_entry_members(sm, catalogue):
    e = {s["Name"]: s for s in sm.list_secrets()["SecretList"]}["app/db"]
    assert H.ARN_RE.match(e["ARN"])
    assert e["Description"] == "Production database"
    assert H.is_aware_datetime(e["CreatedDate"]) and H.is_aware_datetime(e["LastChangedDate"])
    assert isinstance(e["SecretVersionsToStages"], dict)
    assert list(e["SecretVersionsToStages"].values()) == [["AWSCURRENT"]]
    assert "VersionIdsToStages" not in e
    assert sorted((t["Key"], t["Value"]) for t in e["Tags"]) == [("Team", "alpha"), ("env", "prod")]


def test_list_filter_name_prefix_case_sensitive(sm, catalogue):
    assert flt(sm, ("name", ["app/"])) == ["app/cache", "app/db"]
    assert flt(sm, ("name", ["App/"])) == ["App/upper"]
    assert flt(sm, ("name", ["db"])) == []  # prefix, not substring


def test_list_filter_name_negation(sm, catalogue):
    assert flt(sm, ("name", ["!app/"])) == ["App/upper", "gamma", "svc/api"]


def test_list_filter_or_within_and_across(sm, catalogue):
    assert flt(sm, ("name", ["app/", "svc/"])) == ["app/cache", "app/db", "svc/api"]  # OR
    assert flt(sm, ("name", ["app/"]), ("tag-value", ["prod"])) == ["app/db"]  # AND


def test_list_filter_tag_key_and_value(sm, catalogue):
    assert flt(sm, ("tag-key", ["env"])) == ["app/cache", "app/db", "gamma"]
    assert flt(sm, ("tag-key", ["team"])) == []  # case-sensitive
    assert flt(sm, ("tag-key", ["Team"])) == ["app/db"]
    assert flt(sm, ("tag-value", ["prod"])) == ["app/db", "gamma"]  # prefix: prod, prodlike
    assert flt(sm, ("tag-value", ["beta"])) == ["svc/api"]


def test_list_filter_description(sm, catalogue):
    assert flt(sm, ("description", ["production"])) == ["app/db"]  # case-insensitive
    assert flt(sm, ("description", ["CACHE"])) == ["app/cache"]


def test_list_filter_primary_region_and_owning_service(sm, catalogue):
    assert flt(sm, ("primary-region", ["us-east-1"])) == sorted(catalogue)
    assert flt(sm, ("primary-region", ["eu-west-1"])) == []
    assert flt(sm, ("owning-service", ["rds"])) == []


def test_list_filter_all(sm, catalogue):
    assert flt(sm, ("all", ["ALPHA"])) == ["app/db"]  # tag value, case-insensitive
    assert flt(sm, ("all", ["gamma"])) == ["gamma"]  # name
    assert flt(sm, ("all", ["standalone"])) == ["gamma"]  # description
    assert flt(sm, ("all", ["beta"])) == ["svc/api"]


def test_list_sort(sm, catalogue):
    H.require_model("ListSecrets", input_member="SortBy")
    assert names(sm.list_secrets(SortBy="name", SortOrder="asc")) == sorted(catalogue)
    assert names(sm.list_secrets(SortBy="name", SortOrder="desc")) == sorted(catalogue, reverse=True)
    assert names(sm.list_secrets(SortBy="created-date", SortOrder="asc")) == catalogue
    assert names(sm.list_secrets(SortBy="created-date", SortOrder="desc")) == catalogue[::-1]


def test_list_sort_by_last_changed_and_last_accessed(sm, catalogue):
    H.require_model("ListSecrets", input_member="SortBy")
    time.sleep(0.02)
    sm.update_secret(SecretId="app/cache", Description="touched last")
    got = names(sm.list_secrets(SortBy="last-changed-date", SortOrder="desc"))
    assert got[0] == "app/cache" and sorted(got) == sorted(catalogue)
    got = names(sm.list_secrets(SortBy="last-changed-date", SortOrder="asc"))
    assert got[-1] == "app/cache"
    sm.get_secret_value(SecretId="gamma")
    got = names(sm.list_secrets(SortBy="last-accessed-date", SortOrder="desc"))
    assert sorted(got) == sorted(catalogue)


def test_list_default_order_newest_first(sm, catalogue):
    # aws-behaviour.md 5.6: default direction undocumented; the emulator's choice is newest first.
    assert names(sm.list_secrets()) == catalogue[::-1]


def test_list_pagination_with_paginator(sm):
    want = [f"p/{i:02d}" for i in range(7)]
    for n in want:
        sm.create_secret(Name=n, SecretString="v")
    pages = list(sm.get_paginator("list_secrets").paginate(PaginationConfig={"PageSize": 3}))
    got = [s["Name"] for p in pages for s in p["SecretList"]]
    assert sorted(got) == want and len(got) == len(set(got))
    assert all(len(p["SecretList"]) <= 3 for p in pages)
    assert len(pages) >= 3
    assert "NextToken" not in pages[-1] or not pages[-1]["NextToken"]
    assert pages[0].get("NextToken")


def test_list_pagination_keeps_sort_and_filters(sm):
    H.require_model("ListSecrets", input_member="SortBy")
    for i in range(6):
        sm.create_secret(Name=f"x/{i}", SecretString="v")
        sm.create_secret(Name=f"y/{i}", SecretString="v")
    got = [s["Name"] for s in list_all(sm, Filters=[{"Key": "name", "Values": ["x/"]}], SortBy="name",
                                       SortOrder="desc", PaginationConfig={"PageSize": 4})]
    assert got == [f"x/{i}" for i in range(5, -1, -1)]


def test_list_bad_next_token(sm):
    sm.create_secret(Name="a", SecretString="v")
    expect_error(sm.list_secrets, "InvalidNextTokenException", NextToken="not-a-token")


def test_list_empty(sm):
    r = sm.list_secrets()
    assert r["SecretList"] == [] and not r.get("NextToken")


# ------------------------------------------------------------------ BatchGetSecretValue


@pytest.fixture(autouse=True)
def _batch_needs_model(request):
    if request.node.name.startswith("test_batch_get"):
        H.require_model("BatchGetSecretValue")


def test_batch_get_by_ids_with_errors(sm):
    a = sm.create_secret(Name="a", SecretString="va")
    b_arn = sm.create_secret(Name="b", SecretString="vb")["ARN"]
    r = sm.batch_get_secret_value(SecretIdList=["a", b_arn, "missing"])
    vals = {v["Name"]: v for v in r["SecretValues"]}
    assert set(vals) == {"a", "b"}
    assert vals["a"]["SecretString"] == "va" and vals["a"]["ARN"] == a["ARN"]
    assert vals["a"]["VersionId"] == a["VersionId"]
    assert vals["a"]["VersionStages"] == ["AWSCURRENT"]
    assert H.is_aware_datetime(vals["a"]["CreatedDate"])
    assert vals["b"]["SecretString"] == "vb" and vals["b"]["ARN"] == b_arn
    assert len(r["Errors"]) == 1
    err = r["Errors"][0]
    assert err["SecretId"] == "missing" and err["ErrorCode"] == "ResourceNotFoundException"
    assert err.get("Message")


def test_batch_get_deleted_secret_reported(sm):
    sm.create_secret(Name="a", SecretString="va")
    sm.create_secret(Name="d", SecretString="vd")
    sm.delete_secret(SecretId="d", RecoveryWindowInDays=7)
    r = sm.batch_get_secret_value(SecretIdList=["a", "d"])
    assert [v["Name"] for v in r["SecretValues"]] == ["a"]
    assert [(e["SecretId"], e["ErrorCode"]) for e in r["Errors"]] == [("d", "InvalidRequestException")]


def test_batch_get_by_filters_paginated(sm):
    for i in range(5):
        sm.create_secret(Name=f"batch/{i}", SecretString=f"v{i}")
    sm.create_secret(Name="other", SecretString="o")
    got, kw, rounds = {}, {}, 0
    while True:
        r = sm.batch_get_secret_value(Filters=[{"Key": "name", "Values": ["batch/"]}], MaxResults=2, **kw)
        assert len(r["SecretValues"]) <= 2
        got.update({v["Name"]: v["SecretString"] for v in r["SecretValues"]})
        rounds += 1
        assert rounds <= 10
        if not r.get("NextToken"):
            break
        kw = {"NextToken": r["NextToken"]}
    assert got == {f"batch/{i}": f"v{i}" for i in range(5)}
    assert rounds >= 3


def test_batch_get_ids_and_filters_exclusive(sm):
    sm.create_secret(Name="a", SecretString="va")
    expect_error(sm.batch_get_secret_value, "InvalidParameterException", SecretIdList=["a"],
                 Filters=[{"Key": "name", "Values": ["a"]}])


def test_batch_get_max_results_only_with_filters(sm):
    sm.create_secret(Name="a", SecretString="va")
    expect_error(sm.batch_get_secret_value, "InvalidParameterException", SecretIdList=["a"], MaxResults=5)


def test_batch_get_updates_last_accessed(sm):
    sm.create_secret(Name="a", SecretString="va")
    sm.batch_get_secret_value(SecretIdList=["a"])
    assert H.is_aware_datetime(sm.describe_secret(SecretId="a")["LastAccessedDate"])
