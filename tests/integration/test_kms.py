"""KMS (JSON 1.1, TrentService) end to end with boto3, and Secrets Manager's values encrypted at rest:
a secret under a customer key, DisableKey / ScheduleKeyDeletion turning GetSecretValue into
DecryptionFailure, the AWS managed aws/secretsmanager key, and a state directory that holds no
plaintext secret in any file (database, WAL, shared memory, audit log)."""

import base64
import json
import os
import stat

import pytest

import helpers as H


def kms_client(endpoint, **kw):
    return H.make_client(endpoint, service="kms", **kw)


@pytest.fixture
def kms(endpoint):
    return kms_client(endpoint)


def key_arn(key_id, region=H.REGION):
    return f"arn:aws:kms:{region}:{H.ACCOUNT}:key/{key_id}"


# ---------------------------------------------------------------------------------------------
# keys, aliases, tags, policies


def test_create_and_describe_key(kms):
    md = kms.create_key(Description="app key", Tags=[{"TagKey": "env", "TagValue": "dev"}])["KeyMetadata"]
    kid = md["KeyId"]
    assert H.UUID_RE.match(kid)
    assert md["Arn"] == key_arn(kid)
    assert md["AWSAccountId"] == H.ACCOUNT
    assert md["Enabled"] is True and md["KeyState"] == "Enabled"
    assert md["KeyManager"] == "CUSTOMER" and md["Origin"] == "AWS_KMS"
    assert md["KeySpec"] == "SYMMETRIC_DEFAULT" and md["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert md["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert md["Description"] == "app key"
    assert H.is_aware_datetime(md["CreationDate"])
    kms.create_alias(AliasName="alias/app", TargetKeyId=kid)
    for ident in (kid, key_arn(kid), "alias/app", f"arn:aws:kms:{H.REGION}:{H.ACCOUNT}:alias/app"):
        assert kms.describe_key(KeyId=ident)["KeyMetadata"]["KeyId"] == kid
    assert kms.list_resource_tags(KeyId=kid)["Tags"] == [{"TagKey": "env", "TagValue": "dev"}]
    assert kid in [k["KeyId"] for k in kms.list_keys()["Keys"]]


def test_key_errors(kms):
    H.expect_error(kms.describe_key, "NotFoundException",
                   f"Key '{key_arn('00000000-0000-4000-8000-000000000000')}' does not exist",
                   KeyId="00000000-0000-4000-8000-000000000000")
    H.expect_error(kms.describe_key, "NotFoundException",
                   f"Alias arn:aws:kms:{H.REGION}:{H.ACCOUNT}:alias/missing is not found.", KeyId="alias/missing")
    H.expect_error(kms.create_key, "UnsupportedOperationException", KeyUsage="SIGN_VERIFY", KeySpec="RSA_2048")
    H.expect_error(kms.create_key, "ValidationException", Description="x" * 8193)  # coral, from the model


def test_aliases(kms):
    a = kms.create_key()["KeyMetadata"]["KeyId"]
    b = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/one", TargetKeyId=a)
    H.expect_error(kms.create_alias, "AlreadyExistsException",
                   f"An alias with the name arn:aws:kms:{H.REGION}:{H.ACCOUNT}:alias/one already exists",
                   AliasName="alias/one", TargetKeyId=b)
    H.expect_error(kms.create_alias, "ValidationException", match=r'^Alias must start with the prefix "alias/"',
                   AliasName="one", TargetKeyId=b)
    H.expect_error(kms.create_alias, "InvalidAliasNameException", AliasName="alias/aws/mine", TargetKeyId=b)
    kms.update_alias(AliasName="alias/one", TargetKeyId=b)
    entry = [x for x in kms.list_aliases()["Aliases"] if x["AliasName"] == "alias/one"][0]
    assert entry["TargetKeyId"] == b
    assert entry["AliasArn"] == f"arn:aws:kms:{H.REGION}:{H.ACCOUNT}:alias/one"
    assert [x["AliasName"] for x in kms.list_aliases(KeyId=a)["Aliases"]] == []
    kms.delete_alias(AliasName="alias/one")
    H.expect_error(kms.describe_key, "NotFoundException", KeyId="alias/one")


def test_pagination(kms):
    ids = [kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(5)]
    seen = []
    for page in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2}):
        seen += [k["KeyId"] for k in page["Keys"]]
    assert seen == ids
    first = kms.list_keys(Limit=2)
    assert first["Truncated"] is True and first["NextMarker"]
    H.expect_error(kms.list_keys, "InvalidMarkerException", Marker="nonsense")


def test_tags_and_policy(kms):
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.tag_resource(KeyId=kid, Tags=[{"TagKey": "a", "TagValue": "1"}, {"TagKey": "b", "TagValue": "2"}])
    kms.untag_resource(KeyId=kid, TagKeys=["a"])
    assert kms.list_resource_tags(KeyId=kid)["Tags"] == [{"TagKey": "b", "TagValue": "2"}]
    pol = json.loads(kms.get_key_policy(KeyId=kid, PolicyName="default")["Policy"])
    assert pol["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{H.ACCOUNT}:root"}
    assert pol["Statement"][0]["Action"] == "kms:*"
    mine = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*"}]})
    kms.put_key_policy(KeyId=kid, PolicyName="default", Policy=mine)
    assert kms.get_key_policy(KeyId=kid, PolicyName="default")["Policy"] == mine
    H.expect_error(kms.put_key_policy, "MalformedPolicyDocumentException", KeyId=kid, PolicyName="default",
                   Policy="{not json")


# ---------------------------------------------------------------------------------------------
# cryptography


def test_encrypt_decrypt_context(kms):
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    ctx = {"tenant": "a", "purpose": "test"}
    enc = kms.encrypt(KeyId=kid, Plaintext=b"\x00attack at dawn\xff", EncryptionContext=ctx)
    assert enc["KeyId"] == key_arn(kid) and enc["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    blob = enc["CiphertextBlob"]
    dec = kms.decrypt(CiphertextBlob=blob, EncryptionContext=dict(reversed(list(ctx.items()))))
    assert dec["Plaintext"] == b"\x00attack at dawn\xff" and dec["KeyId"] == key_arn(kid)
    H.expect_error(kms.decrypt, "InvalidCiphertextException", CiphertextBlob=blob)
    H.expect_error(kms.decrypt, "InvalidCiphertextException", CiphertextBlob=blob,
                   EncryptionContext={"tenant": "b", "purpose": "test"})
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    H.expect_error(kms.decrypt, "InvalidCiphertextException", CiphertextBlob=bytes(tampered), EncryptionContext=ctx)
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    H.expect_error(kms.decrypt, "IncorrectKeyException", CiphertextBlob=blob, EncryptionContext=ctx, KeyId=other)
    re = kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext=ctx, DestinationKeyId=other)
    assert re["SourceKeyId"] == key_arn(kid) and re["KeyId"] == key_arn(other)
    assert kms.decrypt(CiphertextBlob=re["CiphertextBlob"])["Plaintext"] == b"\x00attack at dawn\xff"


def test_generate_data_key(kms):
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    dk = kms.generate_data_key(KeyId=kid, KeySpec="AES_256")
    assert len(dk["Plaintext"]) == 32 and dk["KeyId"] == key_arn(kid)
    assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
    assert len(kms.generate_data_key(KeyId=kid, NumberOfBytes=64)["Plaintext"]) == 64
    np = kms.generate_data_key_without_plaintext(KeyId=kid, KeySpec="AES_128")
    assert "Plaintext" not in np and len(kms.decrypt(CiphertextBlob=np["CiphertextBlob"])["Plaintext"]) == 16
    H.expect_error(kms.generate_data_key, "ValidationException", KeyId=kid)
    assert len(kms.generate_random(NumberOfBytes=10)["Plaintext"]) == 10


def test_disabled_and_pending_deletion(kms, clock):
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=kid, Plaintext=b"x")["CiphertextBlob"]
    kms.disable_key(KeyId=kid)
    md = kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert md["KeyState"] == "Disabled" and md["Enabled"] is False
    H.expect_error(kms.encrypt, "DisabledException", f"{key_arn(kid)} is disabled.", KeyId=kid, Plaintext=b"x")
    H.expect_error(kms.decrypt, "DisabledException", f"{key_arn(kid)} is disabled.", CiphertextBlob=blob)
    kms.enable_key(KeyId=kid)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"

    H.expect_error(kms.schedule_key_deletion, "ValidationException", KeyId=kid, PendingWindowInDays=6)
    r = kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    assert r["KeyId"] == key_arn(kid) and r["KeyState"] == "PendingDeletion" and r["PendingWindowInDays"] == 7
    assert H.is_aware_datetime(r["DeletionDate"])
    md = kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert md["KeyState"] == "PendingDeletion" and md["DeletionDate"] == r["DeletionDate"]
    pending = f"{key_arn(kid)} is pending deletion."
    H.expect_error(kms.decrypt, "KMSInvalidStateException", pending, CiphertextBlob=blob)
    H.expect_error(kms.enable_key, "KMSInvalidStateException", pending, KeyId=kid)
    assert kms.cancel_key_deletion(KeyId=kid)["KeyId"] == key_arn(kid)
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Disabled"

    kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    clock(7 * 86400 + 60)  # the waiting period ends
    H.expect_error(kms.describe_key, "NotFoundException", KeyId=kid)
    assert kid not in [k["KeyId"] for k in kms.list_keys()["Keys"]]


def test_keys_are_per_region(endpoint, kms):
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    west = kms_client(endpoint, region=H.OTHER_REGION)
    H.expect_error(west.describe_key, "NotFoundException", KeyId=kid)
    assert kid not in [k["KeyId"] for k in west.list_keys()["Keys"]]


# ---------------------------------------------------------------------------------------------
# Secrets Manager and KMS


def test_aws_managed_key(sm, kms):
    sm.create_secret(Name="plain", SecretString="v")
    md = kms.describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]
    assert md["KeyManager"] == "AWS" and md["KeyState"] == "Enabled"
    assert md["Description"] == "Default key that protects my Secrets Manager data when no other key is defined"
    assert "KmsKeyId" not in sm.describe_secret(SecretId="plain")
    versions = sm.list_secret_version_ids(SecretId="plain")["Versions"]
    assert versions[0]["KmsKeyIds"] == ["DefaultEncryptionKey"]
    H.expect_error(kms.disable_key, "AccessDeniedException", match="is not authorized to perform: kms:DisableKey",
                   KeyId=md["KeyId"])
    H.expect_error(kms.schedule_key_deletion, "AccessDeniedException", KeyId=md["KeyId"])
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    assert aliases.get("alias/aws/secretsmanager") == md["KeyId"]


def test_secret_under_customer_key(sm, kms):
    kid = kms.create_key(Description="secrets")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/secrets", TargetKeyId=kid)
    sm.create_secret(Name="db", SecretString='{"password":"hunter2"}', KmsKeyId="alias/secrets")
    assert sm.get_secret_value(SecretId="db")["SecretString"] == '{"password":"hunter2"}'
    assert sm.describe_secret(SecretId="db")["KmsKeyId"] == "alias/secrets"
    assert sm.list_secret_version_ids(SecretId="db")["Versions"][0]["KmsKeyIds"] == ["alias/secrets"]

    kms.disable_key(KeyId=kid)
    resp = H.expect_error(sm.get_secret_value, "DecryptionFailure", SecretId="db")
    msg = resp["Error"]["Message"]
    assert msg.startswith("Secrets Manager can't decrypt the protected secret text using the provided KMS key.")
    assert f"{key_arn(kid)} is disabled." in msg
    H.expect_error(sm.put_secret_value, "EncryptionFailure", match="can't encrypt", SecretId="db", SecretString="n")
    kms.enable_key(KeyId=kid)
    assert sm.get_secret_value(SecretId="db")["SecretString"] == '{"password":"hunter2"}'

    kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    H.expect_error(sm.get_secret_value, "DecryptionFailure", match="is pending deletion", SecretId="db")
    if H.model_has("BatchGetSecretValue"):  # not in older botocore models (Debian 12's 1.29)
        batch = sm.batch_get_secret_value(SecretIdList=["db"])
        assert batch["SecretValues"] == [] and batch["Errors"][0]["ErrorCode"] == "DecryptionFailure"
    kms.cancel_key_deletion(KeyId=kid)
    kms.enable_key(KeyId=kid)
    assert sm.get_secret_value(SecretId="db")["SecretString"] == '{"password":"hunter2"}'
    H.expect_error(sm.create_secret, "EncryptionFailure", Name="x", SecretString="y", KmsKeyId="alias/nope")


def test_update_secret_kms_key(sm, kms):
    old = kms.create_key()["KeyMetadata"]["KeyId"]
    new = kms.create_key()["KeyMetadata"]["KeyId"]
    sm.create_secret(Name="moving", SecretString="one", KmsKeyId=old)
    sm.put_secret_value(SecretId="moving", SecretString="two")
    sm.update_secret(SecretId="moving", KmsKeyId=key_arn(new))
    cur = [v for v in sm.list_secret_version_ids(SecretId="moving")["Versions"] if "AWSCURRENT" in v["VersionStages"]][0]
    assert cur["KmsKeyIds"] == [old, key_arn(new)]
    kms.disable_key(KeyId=old)  # AWSCURRENT and AWSPREVIOUS were re-encrypted under the new key
    assert sm.get_secret_value(SecretId="moving")["SecretString"] == "two"
    assert sm.get_secret_value(SecretId="moving", VersionStage="AWSPREVIOUS")["SecretString"] == "one"
    sm.put_secret_value(SecretId="moving", SecretString="three")
    assert sm.get_secret_value(SecretId="moving")["SecretString"] == "three"


def test_replica_uses_its_region_key(sm, endpoint):
    sm.create_secret(Name="rep", SecretString="r1", AddReplicaRegions=[{"Region": H.OTHER_REGION}])
    west_sm = H.make_client(endpoint, region=H.OTHER_REGION)
    assert west_sm.get_secret_value(SecretId="rep")["SecretString"] == "r1"
    west_kms = kms_client(endpoint, region=H.OTHER_REGION)
    assert west_kms.describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]["Arn"].startswith(
        f"arn:aws:kms:{H.OTHER_REGION}:")
    r = sm.replicate_secret_to_regions(SecretId="rep", AddReplicaRegions=[{"Region": "eu-west-1",
                                                                          "KmsKeyId": "alias/absent"}])
    st = {x["Region"]: x for x in r["ReplicationStatus"]}
    assert st["eu-west-1"]["Status"] == "Failed" and "can't encrypt" in st["eu-west-1"]["StatusMessage"]
    assert st[H.OTHER_REGION]["Status"] == "InSync"


# ---------------------------------------------------------------------------------------------
# nothing in plaintext on disk


def _scan(state, needles):
    """{file name: [needle labels found]} over every file under the state dir."""
    found = {}
    for path in sorted(p for p in state.rglob("*") if p.is_file()):
        data = path.read_bytes()
        hits = [label for label, b in needles.items() if b in data]
        if hits:
            found[path.name] = hits
    return found


def test_state_dir_holds_no_plaintext(server_factory, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    tag = os.urandom(6).hex()
    text = f"S3cr3t-string-{tag}-p@ss"
    blob = b"\x00\xffbin-" + tag.encode() + b"-\x01\x02\x03\xfe"
    needles = {
        "string": text.encode(),
        "binary": blob,
        "string-b64": base64.b64encode(text.encode()),
        "binary-b64": base64.b64encode(blob),
        "string-json": json.dumps(text).encode(),
    }
    srv = server_factory(["--state-dir", str(state)])
    sm = H.make_client(srv.endpoint)
    kms = kms_client(srv.endpoint)
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    sm.create_secret(Name="s-default", SecretString=text)
    sm.create_secret(Name="b-default", SecretBinary=blob)
    sm.create_secret(Name="s-customer", SecretString=text, KmsKeyId=kid)
    sm.create_secret(Name="b-customer", SecretBinary=blob, KmsKeyId=kid)
    sm.put_secret_value(SecretId="s-default", SecretString=text + "-v2")
    sm.update_secret(SecretId="s-customer", SecretString=text + "-v3")
    sm.create_secret(Name="replicated", SecretString=text, AddReplicaRegions=[{"Region": H.OTHER_REGION}])
    assert sm.get_secret_value(SecretId="b-customer")["SecretBinary"] == blob
    assert _scan(state, needles) == {}, "plaintext while running (database, WAL, shared memory, logs)"
    assert srv.stop() == 0

    files = {p.name for p in state.iterdir()}
    assert "rdsemu.db" in files and "master.key" in files
    mk = state / "master.key"
    assert stat.S_IMODE(mk.stat().st_mode) == 0o600 and mk.stat().st_size == 32
    assert _scan(state, needles) == {}, "plaintext after shutdown"

    # The same state dir (same master key) reads everything back.
    srv2 = server_factory(["--state-dir", str(state)])
    sm2 = H.make_client(srv2.endpoint)
    assert sm2.get_secret_value(SecretId="s-default", VersionStage="AWSPREVIOUS")["SecretString"] == text
    assert sm2.get_secret_value(SecretId="s-default")["SecretString"] == text + "-v2"
    assert sm2.get_secret_value(SecretId="b-default")["SecretBinary"] == blob
    assert sm2.get_secret_value(SecretId="s-customer")["SecretString"] == text + "-v3"
    assert H.make_client(srv2.endpoint, region=H.OTHER_REGION).get_secret_value(
        SecretId="replicated")["SecretString"] == text
    assert kms_client(srv2.endpoint).describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Enabled"
    assert srv2.stop() == 0
    assert _scan(state, needles) == {}


def test_missing_master_key_is_refused(server_factory, tmp_path):
    """Keys sealed under a master key that is gone: rdsemu refuses (at start when main.c calls
    kms_init, else on the first use) rather than create a new master key that opens nothing."""
    state = tmp_path / "state"
    state.mkdir()
    srv = server_factory(["--state-dir", str(state)])
    H.make_client(srv.endpoint).create_secret(Name="x", SecretString="y")
    assert srv.stop() == 0
    (state / "master.key").unlink()
    srv2 = server_factory(["--state-dir", str(state)], start=False)
    try:
        srv2.start(timeout=5)
    except RuntimeError as e:
        assert "master.key" in str(e)
    else:
        H.expect_error(H.make_client(srv2.endpoint).get_secret_value, "InternalServiceError", status=500,
                       SecretId="x")
        assert "refusing to create a new master key" in srv2.log_text()
    assert not (state / "master.key").exists()


def test_kms_with_the_cli(cli, tmp_path):
    r = cli("kms", "create-key", "--description", "from the CLI")
    assert r.rc == 0, r.stderr
    kid = r.json["KeyMetadata"]["KeyId"]
    (tmp_path / "pt").write_bytes(b"cli")
    r = cli("kms", "encrypt", "--key-id", kid, "--plaintext", f"fileb://{tmp_path / 'pt'}")
    assert r.rc == 0, r.stderr
    (tmp_path / "ct").write_bytes(base64.b64decode(r.json["CiphertextBlob"]))
    r = cli("kms", "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'ct'}")
    assert r.rc == 0, r.stderr
    assert base64.b64decode(r.json["Plaintext"]) == b"cli"
