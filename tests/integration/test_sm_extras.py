"""Secrets Manager through boto3: GetRandomPassword, TagResource/UntagResource, resource policies
(Put/Get/Delete/Validate), replication (ReplicateSecretToRegions, RemoveRegionsFromReplication,
StopReplicationToReplica) — aws-behaviour.md 5.2, 5.6."""

import json
import string

import pytest

import helpers as H
from helpers import expect_error

PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
DEFAULT_SET = set(string.ascii_letters + string.digits + PUNCT)


# ------------------------------------------------------------------ GetRandomPassword


def test_random_password_default(sm):
    r = sm.get_random_password()
    pw = r["RandomPassword"]
    assert isinstance(pw, str) and len(pw) == 32
    assert set(pw) <= DEFAULT_SET, set(pw) - DEFAULT_SET
    assert " " not in pw
    # RequireEachIncludedType defaults to true
    assert any(c.isupper() for c in pw) and any(c.islower() for c in pw)
    assert any(c.isdigit() for c in pw) and any(c in PUNCT for c in pw)
    assert sm.get_random_password()["RandomPassword"] != pw


def test_random_password_options(sm):
    pw = sm.get_random_password(PasswordLength=200, ExcludeCharacters="abcXYZ019", ExcludePunctuation=True)["RandomPassword"]
    assert len(pw) == 200 and not set(pw) & set("abcXYZ019" + PUNCT)
    pw = sm.get_random_password(PasswordLength=100, ExcludeNumbers=True, ExcludeUppercase=True)["RandomPassword"]
    assert not any(c.isdigit() or c.isupper() for c in pw)
    pw = sm.get_random_password(PasswordLength=100, ExcludeLowercase=True, ExcludeUppercase=True,
                                ExcludePunctuation=True)["RandomPassword"]
    assert set(pw) <= set(string.digits)
    pw = sm.get_random_password(PasswordLength=200, ExcludeUppercase=True, ExcludeNumbers=True,
                                ExcludePunctuation=True, IncludeSpace=True)["RandomPassword"]
    assert set(pw) <= set(string.ascii_lowercase + " ") and " " in pw
    pw = sm.get_random_password(PasswordLength=1, ExcludeUppercase=True, ExcludeNumbers=True,
                                ExcludePunctuation=True)["RandomPassword"]
    assert len(pw) == 1 and pw.islower()


def test_random_password_require_each_type(sm):
    for _ in range(30):
        pw = sm.get_random_password(PasswordLength=4)["RandomPassword"]
        assert len(pw) == 4
        assert any(c.isupper() for c in pw) and any(c.islower() for c in pw)
        assert any(c.isdigit() for c in pw) and any(c in PUNCT for c in pw), pw
    pw = sm.get_random_password(PasswordLength=3, RequireEachIncludedType=False)["RandomPassword"]
    assert len(pw) == 3


def test_random_password_too_short_for_required_types(sm):
    expect_error(sm.get_random_password, "InvalidParameterException",
                 "Password length is too short based on the required types.", PasswordLength=3)


def test_random_password_too_long(sm):
    expect_error(sm.get_random_password, "ValidationException",
                 "1 validation error detected: Value '5000' at 'passwordLength' failed to satisfy constraint: "
                 "Member must have value less than or equal to 4096", PasswordLength=5000)


def test_random_password_max_length(sm):
    assert len(sm.get_random_password(PasswordLength=4096)["RandomPassword"]) == 4096


# ------------------------------------------------------------------ tags


def tags_of(sm, sid):
    return sorted((t["Key"], t["Value"]) for t in sm.describe_secret(SecretId=sid).get("Tags", []))


def test_tag_untag(sm):
    sm.create_secret(Name="app/db", SecretString="x", Tags=[{"Key": "env", "Value": "dev"}])
    r = sm.tag_resource(SecretId="app/db", Tags=[{"Key": "env", "Value": "prod"}, {"Key": "Owner", "Value": "me"}])
    assert set(r) == {"ResponseMetadata"}
    assert tags_of(sm, "app/db") == [("Owner", "me"), ("env", "prod")]
    sm.tag_resource(SecretId="app/db", Tags=[{"Key": "owner", "Value": "lower"}])  # keys are case-sensitive
    assert tags_of(sm, "app/db") == [("Owner", "me"), ("env", "prod"), ("owner", "lower")]
    r = sm.untag_resource(SecretId="app/db", TagKeys=["owner", "does-not-exist"])
    assert set(r) == {"ResponseMetadata"}
    assert tags_of(sm, "app/db") == [("Owner", "me"), ("env", "prod")]
    sm.untag_resource(SecretId="app/db", TagKeys=["Owner", "env"])
    assert "Tags" not in sm.describe_secret(SecretId="app/db") or tags_of(sm, "app/db") == []
    listed = sm.list_secrets()["SecretList"][0]
    assert not listed.get("Tags")


def test_tag_by_arn_and_list_shows_tags(sm):
    arn = sm.create_secret(Name="app/db", SecretString="x")["ARN"]
    sm.tag_resource(SecretId=arn, Tags=[{"Key": "k", "Value": "v"}])
    assert sm.list_secrets()["SecretList"][0]["Tags"] == [{"Key": "k", "Value": "v"}]


def test_tag_unknown_secret(sm):
    expect_error(sm.tag_resource, "ResourceNotFoundException", H.MSG_NOT_FOUND, SecretId="nope",
                 Tags=[{"Key": "k", "Value": "v"}])
    expect_error(sm.untag_resource, "ResourceNotFoundException", H.MSG_NOT_FOUND, SecretId="nope", TagKeys=["k"])


# ------------------------------------------------------------------ resource policies


def policy(principal, action="secretsmanager:GetSecretValue"):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": "*"}]})


PRIVATE = policy({"AWS": "arn:aws:iam::000000000000:root"})
PUBLIC = policy("*")


def test_resource_policy_put_get_delete(sm):
    arn = sm.create_secret(Name="app/db", SecretString="x")["ARN"]
    g = sm.get_resource_policy(SecretId="app/db")
    assert g["ARN"] == arn and g["Name"] == "app/db" and "ResourcePolicy" not in g
    r = sm.put_resource_policy(SecretId="app/db", ResourcePolicy=PRIVATE)
    assert r["ARN"] == arn and r["Name"] == "app/db"
    g = sm.get_resource_policy(SecretId=arn)
    assert json.loads(g["ResourcePolicy"]) == json.loads(PRIVATE)
    r = sm.delete_resource_policy(SecretId="app/db")
    assert r["ARN"] == arn and r["Name"] == "app/db"
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId="app/db")


def test_resource_policy_block_public(sm):
    sm.create_secret(Name="app/db", SecretString="x")
    expect_error(sm.put_resource_policy, "PublicPolicyException", SecretId="app/db", ResourcePolicy=PUBLIC,
                 BlockPublicPolicy=True)
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId="app/db")
    sm.put_resource_policy(SecretId="app/db", ResourcePolicy=PRIVATE, BlockPublicPolicy=True)
    sm.put_resource_policy(SecretId="app/db", ResourcePolicy=PUBLIC)  # allowed without the block
    assert json.loads(sm.get_resource_policy(SecretId="app/db")["ResourcePolicy"]) == json.loads(PUBLIC)


@pytest.mark.parametrize("doc", ["{not json", "[]", '{"Version": "2012-10-17"}'])
def test_resource_policy_malformed(sm, doc):
    sm.create_secret(Name="app/db", SecretString="x")
    expect_error(sm.put_resource_policy, "MalformedPolicyDocumentException", SecretId="app/db", ResourcePolicy=doc)
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId="app/db")


def test_resource_policy_unknown_secret(sm):
    for fn, kw in ((sm.get_resource_policy, {}), (sm.delete_resource_policy, {}),
                   (sm.put_resource_policy, {"ResourcePolicy": PRIVATE})):
        expect_error(fn, "ResourceNotFoundException", H.MSG_NOT_FOUND, SecretId="nope", **kw)


def test_validate_resource_policy(sm):
    r = sm.validate_resource_policy(ResourcePolicy=PRIVATE)
    assert r["PolicyValidationPassed"] is True
    assert r.get("ValidationErrors", []) == []
    sm.create_secret(Name="app/db", SecretString="x")
    r = sm.validate_resource_policy(SecretId="app/db", ResourcePolicy=PRIVATE)
    assert r["PolicyValidationPassed"] is True
    expect_error(sm.validate_resource_policy, "MalformedPolicyDocumentException", ResourcePolicy="{not json")


# ------------------------------------------------------------------ replication


def replica_status(sm, sid, region):
    for s in sm.describe_secret(SecretId=sid).get("ReplicationStatus", []):
        if s["Region"] == region:
            return s
    return None


def wait_in_sync(sm, sid, region):
    return H.poll(lambda: (replica_status(sm, sid, region) or {}).get("Status") == "InSync" and
                  replica_status(sm, sid, region), timeout=10, desc=f"replica in {region} InSync")


def test_replicate_and_read_in_replica_region(sm, sm_west):
    arn = sm.create_secret(Name="app/db", SecretString="v1")["ARN"]
    r = sm.replicate_secret_to_regions(SecretId="app/db", AddReplicaRegions=[{"Region": "us-west-2"}])
    assert r["ARN"] == arn
    assert [s["Region"] for s in r["ReplicationStatus"]] == ["us-west-2"]
    assert r["ReplicationStatus"][0]["Status"] in ("InSync", "InProgress")
    wait_in_sync(sm, "app/db", "us-west-2")
    g = sm_west.get_secret_value(SecretId="app/db")
    assert g["SecretString"] == "v1"
    assert g["ARN"] == arn.replace(":us-east-1:", ":us-west-2:")  # same name and suffix
    d = sm_west.describe_secret(SecretId="app/db")
    assert d["PrimaryRegion"] == "us-east-1"
    assert sm.describe_secret(SecretId="app/db")["PrimaryRegion"] == "us-east-1"
    # writes to the primary reach the replica
    sm.put_secret_value(SecretId="app/db", SecretString="v2")
    H.poll(lambda: sm_west.get_secret_value(SecretId="app/db")["SecretString"] == "v2", timeout=10,
           desc="new value replicated")


def test_replica_is_read_only(sm, sm_west):
    sm.create_secret(Name="app/db", SecretString="v1")
    sm.replicate_secret_to_regions(SecretId="app/db", AddReplicaRegions=[{"Region": "us-west-2"}])
    wait_in_sync(sm, "app/db", "us-west-2")
    expect_error(sm_west.put_secret_value, "InvalidParameterException", H.MSG_REPLICA_WRITE,
                 SecretId="app/db", SecretString="nope")
    expect_error(sm_west.update_secret, "InvalidParameterException", H.MSG_REPLICA_WRITE,
                 SecretId="app/db", Description="nope")
    assert sm_west.get_secret_value(SecretId="app/db")["SecretString"] == "v1"


def test_create_with_replica_regions(sm, sm_west):
    r = sm.create_secret(Name="app/db", SecretString="v1", AddReplicaRegions=[{"Region": "us-west-2"}])
    assert [s["Region"] for s in r["ReplicationStatus"]] == ["us-west-2"]
    wait_in_sync(sm, "app/db", "us-west-2")
    assert sm_west.get_secret_value(SecretId="app/db")["SecretString"] == "v1"


def test_remove_regions_from_replication(sm, sm_west):
    arn = sm.create_secret(Name="app/db", SecretString="v1")["ARN"]
    sm.replicate_secret_to_regions(SecretId="app/db", AddReplicaRegions=[{"Region": "us-west-2"}])
    wait_in_sync(sm, "app/db", "us-west-2")
    expect_error(sm.delete_secret, "InvalidParameterException", SecretId="app/db")  # primary with replicas
    r = sm.remove_regions_from_replication(SecretId="app/db", RemoveReplicaRegions=["us-west-2"])
    assert r["ARN"] == arn
    assert not [s for s in r.get("ReplicationStatus", []) if s["Region"] == "us-west-2"]
    H.poll(lambda: replica_status(sm, "app/db", "us-west-2") is None, timeout=10, desc="replica removed")
    expect_error(sm_west.get_secret_value, "ResourceNotFoundException", H.MSG_NOT_FOUND, SecretId="app/db")
    sm.delete_secret(SecretId="app/db", ForceDeleteWithoutRecovery=True)


def test_stop_replication_promotes_replica(sm, sm_west):
    sm.create_secret(Name="app/db", SecretString="v1")
    sm.replicate_secret_to_regions(SecretId="app/db", AddReplicaRegions=[{"Region": "us-west-2"}])
    wait_in_sync(sm, "app/db", "us-west-2")
    r = sm_west.stop_replication_to_replica(SecretId="app/db")
    assert ":us-west-2:" in r["ARN"]
    d = sm_west.describe_secret(SecretId="app/db")
    assert d.get("PrimaryRegion", "us-west-2") == "us-west-2"
    sm_west.put_secret_value(SecretId="app/db", SecretString="standalone")
    assert sm_west.get_secret_value(SecretId="app/db")["SecretString"] == "standalone"
    assert sm.get_secret_value(SecretId="app/db")["SecretString"] == "v1"
    H.poll(lambda: replica_status(sm, "app/db", "us-west-2") is None, timeout=10,
           desc="primary no longer lists the promoted replica")


def test_replicate_conflict_and_force_overwrite(sm, sm_west):
    sm_west.create_secret(Name="app/db", SecretString="west-own")
    sm.create_secret(Name="app/db", SecretString="primary")
    r = sm.replicate_secret_to_regions(SecretId="app/db", AddReplicaRegions=[{"Region": "us-west-2"}])
    st = r["ReplicationStatus"][0]
    if st["Status"] != "Failed":
        st = H.poll(lambda: (replica_status(sm, "app/db", "us-west-2") or {}).get("Status") == "Failed" and
                    replica_status(sm, "app/db", "us-west-2"), timeout=10, desc="replication Failed")
    assert "already exists" in st.get("StatusMessage", ""), st
    assert sm_west.get_secret_value(SecretId="app/db")["SecretString"] == "west-own"
    sm.remove_regions_from_replication(SecretId="app/db", RemoveReplicaRegions=["us-west-2"])
    sm.replicate_secret_to_regions(SecretId="app/db", AddReplicaRegions=[{"Region": "us-west-2"}],
                                   ForceOverwriteReplicaSecret=True)
    wait_in_sync(sm, "app/db", "us-west-2")
    assert sm_west.get_secret_value(SecretId="app/db")["SecretString"] == "primary"


def test_replicate_unknown_secret(sm):
    expect_error(sm.replicate_secret_to_regions, "ResourceNotFoundException", H.MSG_NOT_FOUND,
                 SecretId="nope", AddReplicaRegions=[{"Region": "us-west-2"}])


def test_region_isolation(sm, sm_west):
    sm_west.create_secret(Name="west-only", SecretString="w")
    expect_error(sm.get_secret_value, "ResourceNotFoundException", H.MSG_NOT_FOUND, SecretId="west-only")
    assert sm.list_secrets()["SecretList"] == []
    assert [s["Name"] for s in sm_west.list_secrets()["SecretList"]] == ["west-only"]
    assert ":us-west-2:" in sm_west.describe_secret(SecretId="west-only")["ARN"]
