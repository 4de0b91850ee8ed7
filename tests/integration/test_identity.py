"""Identity end to end with boto3: IAM users and roles created through the
IAM API, STS sessions, and every Secrets Manager call authorized against
identity and resource policies as AWS does (issue 3's scenarios)."""
import json

import botocore.exceptions
import pytest

import helpers as H

ACCT = H.ACCOUNT
OTHER = "111111111111"
OTHER_KEY, OTHER_SECRET = "AKIAOTHERACCOUNT0001", "other-account-secret"


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*", **extra):
    return dict({"Effect": "Allow", "Action": action, "Resource": resource}, **extra)


def client_for(endpoint, creds, service="secretsmanager"):
    return H.make_client(endpoint, service=service, key=creds["AccessKeyId"], secret=creds["SecretAccessKey"],
                         token=creds.get("SessionToken"))


def code_msg(excinfo):
    e = excinfo.value.response["Error"]
    return e["Code"], e["Message"]


@pytest.fixture
def admin(endpoint):
    return {s: H.make_client(endpoint, service=s) for s in ("iam", "sts", "secretsmanager")}


@pytest.fixture
def two_secrets(admin):
    sm = admin["secretsmanager"]
    return (sm.create_secret(Name="app/db", SecretString="app-secret")["ARN"],
            sm.create_secret(Name="other/db", SecretString="other-secret")["ARN"])


def lambda_role(admin, name="lambda-exec", policy=None, trust_principal=None):
    trust = doc({"Effect": "Allow", "Principal": trust_principal or {"AWS": "arn:aws:iam::%s:root" % ACCT},
                 "Action": "sts:AssumeRole"})
    role = admin["iam"].create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]
    if policy:
        admin["iam"].put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=policy)
    return role


def test_least_privilege_role_reads_only_its_secret(endpoint, admin, two_secrets):
    app_arn, other_arn = two_secrets
    role = lambda_role(admin, policy=doc(allow("secretsmanager:GetSecretValue",
                                               "arn:aws:secretsmanager:*:*:secret:app/*")))
    got = admin["sts"].assume_role(RoleArn=role["Arn"], RoleSessionName="fn-1")
    assert got["Credentials"]["AccessKeyId"].startswith("ASIA")
    assert got["AssumedRoleUser"]["Arn"] == "arn:aws:sts::%s:assumed-role/lambda-exec/fn-1" % ACCT
    assert got["AssumedRoleUser"]["AssumedRoleId"] == role["RoleId"] + ":fn-1"
    sm = client_for(endpoint, got["Credentials"])
    assert sm.get_secret_value(SecretId="app/db")["SecretString"] == "app-secret"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sm.get_secret_value(SecretId="other/db")
    assert code_msg(ei) == ("AccessDeniedException",
                            "User: arn:aws:sts::%s:assumed-role/lambda-exec/fn-1 is not authorized to perform: "
                            "secretsmanager:GetSecretValue on resource: %s because no identity-based policy allows "
                            "the secretsmanager:GetSecretValue action" % (ACCT, other_arn))
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sm.put_secret_value(SecretId="app/db", SecretString="x")
    assert code_msg(ei)[0] == "AccessDeniedException"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sm.list_secrets()
    assert "secretsmanager:ListSecrets because no identity-based policy allows" in code_msg(ei)[1]
    who = client_for(endpoint, got["Credentials"], "sts").get_caller_identity()
    assert who["Arn"] == got["AssumedRoleUser"]["Arn"]


def test_iam_user_with_access_key(endpoint, admin, two_secrets):
    iam = admin["iam"]
    iam.create_user(UserName="ci-bot")
    pol = iam.create_policy(PolicyName="read-app", PolicyDocument=doc(allow(
        ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], "arn:aws:secretsmanager:*:*:secret:app/*")))
    iam.attach_user_policy(UserName="ci-bot", PolicyArn=pol["Policy"]["Arn"])
    key = iam.create_access_key(UserName="ci-bot")["AccessKey"]
    sm = client_for(endpoint, key)
    assert sm.describe_secret(SecretId="app/db")["Name"] == "app/db"
    with pytest.raises(botocore.exceptions.ClientError):
        sm.get_secret_value(SecretId="other/db")
    iam.detach_user_policy(UserName="ci-bot", PolicyArn=pol["Policy"]["Arn"])
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sm.get_secret_value(SecretId="app/db")
    assert code_msg(ei)[0] == "AccessDeniedException"
    iam.update_access_key(UserName="ci-bot", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sm.get_secret_value(SecretId="app/db")
    assert code_msg(ei)[0] == "UnrecognizedClientException"


def test_resource_policy_explicit_deny_wins(endpoint, admin, two_secrets):
    role = lambda_role(admin, policy=doc(allow("secretsmanager:*")))
    creds = admin["sts"].assume_role(RoleArn=role["Arn"], RoleSessionName="fn")["Credentials"]
    sm = client_for(endpoint, creds)
    assert sm.get_secret_value(SecretId="app/db")["SecretString"] == "app-secret"
    admin["secretsmanager"].put_resource_policy(SecretId="app/db", ResourcePolicy=doc(
        {"Effect": "Deny", "Principal": {"AWS": role["Arn"]}, "Action": "secretsmanager:GetSecretValue", "Resource": "*"}))
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sm.get_secret_value(SecretId="app/db")
    code, msg = code_msg(ei)
    assert code == "AccessDeniedException" and msg.endswith("with an explicit deny in a resource-based policy")
    # Another role is unaffected: the Deny names one principal.
    other = lambda_role(admin, name="other-role", policy=doc(allow("secretsmanager:*")))
    c2 = admin["sts"].assume_role(RoleArn=other["Arn"], RoleSessionName="fn")["Credentials"]
    assert client_for(endpoint, c2).get_secret_value(SecretId="app/db")["SecretString"] == "app-secret"


def test_cross_account_role(endpoint, admin, two_secrets):
    H.http_post(endpoint + "/_rdsemu/fixtures", json.dumps({"accounts": [{"id": OTHER, "access_keys": [
        {"access_key_id": OTHER_KEY, "secret_access_key": OTHER_SECRET}]}]}).encode())
    other_sts = H.make_client(endpoint, service="sts", key=OTHER_KEY, secret=OTHER_SECRET)
    assert other_sts.get_caller_identity()["Account"] == OTHER
    role = lambda_role(admin, name="shared-reader", policy=doc(allow("secretsmanager:GetSecretValue")),
                       trust_principal={"AWS": "arn:aws:iam::%s:root" % OTHER})
    creds = other_sts.assume_role(RoleArn=role["Arn"], RoleSessionName="partner")["Credentials"]
    sm = client_for(endpoint, creds)
    assert sm.get_secret_value(SecretId="app/db")["SecretString"] == "app-secret"
    # The default account's own root is not in that trust policy.
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        admin["sts"].assume_role(RoleArn=role["Arn"], RoleSessionName="me")
    assert code_msg(ei)[0] == "AccessDenied"
    assert "sts:AssumeRole" in code_msg(ei)[1]


def test_untrusted_and_missing_roles_are_denied(endpoint, admin):
    lambda_role(admin, name="rds-only", trust_principal={"Service": "rds.amazonaws.com"})
    for arn in ("arn:aws:iam::%s:role/rds-only" % ACCT, "arn:aws:iam::%s:role/no-such-role" % ACCT):
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            admin["sts"].assume_role(RoleArn=arn, RoleSessionName="s1")
        err = ei.value.response
        assert err["Error"]["Code"] == "AccessDenied"
        assert err["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_session_policy_narrows_the_role(endpoint, admin, two_secrets):
    role = lambda_role(admin, policy=doc(allow("secretsmanager:*")))
    creds = admin["sts"].assume_role(RoleArn=role["Arn"], RoleSessionName="narrow",
                                     Policy=doc(allow("secretsmanager:DescribeSecret")))["Credentials"]
    sm = client_for(endpoint, creds)
    assert sm.describe_secret(SecretId="app/db")["Name"] == "app/db"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sm.get_secret_value(SecretId="app/db")
    assert "because no session policy allows" in code_msg(ei)[1]


def test_expired_session(endpoint, admin, two_secrets, clock):
    role = lambda_role(admin, policy=doc(allow("secretsmanager:GetSecretValue")))
    creds = admin["sts"].assume_role(RoleArn=role["Arn"], RoleSessionName="short", DurationSeconds=900)["Credentials"]
    sm = client_for(endpoint, creds)
    assert sm.get_secret_value(SecretId="app/db")["SecretString"] == "app-secret"
    clock(901)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sm.get_secret_value(SecretId="app/db")
    assert code_msg(ei) == ("ExpiredTokenException", "The security token included in the request is expired")
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        client_for(endpoint, creds, "sts").get_caller_identity()
    assert ei.value.response["Error"]["Code"] == "ExpiredToken"
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_wrong_session_token_and_duration_limits(endpoint, admin):
    role = lambda_role(admin)
    creds = admin["sts"].assume_role(RoleArn=role["Arn"], RoleSessionName="s1")["Credentials"]
    bad = dict(creds, SessionToken=creds["SessionToken"][:-4] + "AAAA")
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        client_for(endpoint, bad, "sts").get_caller_identity()
    assert ei.value.response["Error"]["Code"] == "InvalidClientTokenId"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        admin["sts"].assume_role(RoleArn=role["Arn"], RoleSessionName="s2", DurationSeconds=7200)
    assert code_msg(ei) == ("ValidationError",
                            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")


def test_get_session_token(endpoint, admin):
    admin["iam"].create_user(UserName="u1")
    key = admin["iam"].create_access_key(UserName="u1")["AccessKey"]
    creds = client_for(endpoint, key, "sts").get_session_token(DurationSeconds=900)["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert client_for(endpoint, creds, "sts").get_caller_identity()["Arn"] == "arn:aws:iam::%s:user/u1" % ACCT


def test_missing_kms_decrypt(endpoint, admin):
    kms = H.make_client(endpoint, service="kms")
    key = kms.create_key(Description="app key")["KeyMetadata"]
    admin["secretsmanager"].create_secret(Name="app/kms", SecretString="under-cmk", KmsKeyId=key["KeyId"])
    read_only = doc(allow("secretsmanager:GetSecretValue"))
    role = lambda_role(admin, name="no-kms", policy=read_only)
    creds = admin["sts"].assume_role(RoleArn=role["Arn"], RoleSessionName="fn")["Credentials"]
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        client_for(endpoint, creds).get_secret_value(SecretId="app/kms")
    assert code_msg(ei) == ("AccessDeniedException", "Access to KMS is not allowed")
    # The same role with kms:Decrypt on that key reads it; the AWS managed key needs nothing.
    admin["iam"].put_role_policy(RoleName="no-kms", PolicyName="kms", PolicyDocument=doc(allow("kms:Decrypt", key["Arn"])))
    assert client_for(endpoint, creds).get_secret_value(SecretId="app/kms")["SecretString"] == "under-cmk"
    admin["secretsmanager"].create_secret(Name="app/default-key", SecretString="v")
    assert client_for(endpoint, creds).get_secret_value(SecretId="app/default-key")["SecretString"] == "v"


def test_resource_and_request_tag_conditions(endpoint, admin):
    sm = admin["secretsmanager"]
    sm.create_secret(Name="t/pay", SecretString="p", Tags=[{"Key": "team", "Value": "payments"}])
    sm.create_secret(Name="t/ops", SecretString="o", Tags=[{"Key": "team", "Value": "ops"}])
    policy = doc(allow("secretsmanager:GetSecretValue", Condition={"StringEquals": {"aws:ResourceTag/team": "payments"}}),
                 allow("secretsmanager:CreateSecret", Condition={"StringEquals": {"aws:RequestTag/team": "payments"},
                                                                "ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}))
    role = lambda_role(admin, name="payments", policy=policy)
    c = client_for(endpoint, admin["sts"].assume_role(RoleArn=role["Arn"], RoleSessionName="fn")["Credentials"])
    assert c.get_secret_value(SecretId="t/pay")["SecretString"] == "p"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.get_secret_value(SecretId="t/ops")
    assert code_msg(ei)[0] == "AccessDeniedException"
    c.create_secret(Name="t/new", SecretString="n", Tags=[{"Key": "team", "Value": "payments"}])
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.create_secret(Name="t/bad", SecretString="n", Tags=[{"Key": "team", "Value": "ops"}])
    assert code_msg(ei)[0] == "AccessDeniedException"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.create_secret(Name="t/bad2", SecretString="n", Tags=[{"Key": "team", "Value": "payments"},
                                                                {"Key": "owner", "Value": "x"}])
    assert code_msg(ei)[0] == "AccessDeniedException"


def test_cross_account_through_resource_policy(endpoint, admin):
    H.http_post(endpoint + "/_rdsemu/fixtures", json.dumps({"accounts": [{"id": OTHER, "access_keys": [
        {"access_key_id": OTHER_KEY, "secret_access_key": OTHER_SECRET}]}]}).encode())
    kms = H.make_client(endpoint, service="kms")
    key = kms.create_key(Description="shared")["KeyMetadata"]
    arn = admin["secretsmanager"].create_secret(Name="shared/db", SecretString="shared", KmsKeyId=key["Arn"])["ARN"]
    iam_b = H.make_client(endpoint, service="iam", key=OTHER_KEY, secret=OTHER_SECRET)
    iam_b.create_user(UserName="partner")
    iam_b.put_user_policy(UserName="partner", PolicyName="p", PolicyDocument=doc(
        allow("secretsmanager:GetSecretValue", arn), allow("kms:Decrypt", key["Arn"])))
    k = iam_b.create_access_key(UserName="partner")["AccessKey"]
    sm_b = client_for(endpoint, k)
    # Identity policy alone is not enough across accounts: the secret's owner must agree.
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sm_b.get_secret_value(SecretId=arn)
    assert code_msg(ei)[0] == "AccessDeniedException"
    assert "because no resource-based policy allows" in code_msg(ei)[1]
    admin["secretsmanager"].put_resource_policy(SecretId=arn, ResourcePolicy=doc(
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:user/partner" % OTHER},
         "Action": "secretsmanager:GetSecretValue", "Resource": "*"}))
    # The secret now allows the partner, but the KMS key's policy does not name the other account.
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sm_b.get_secret_value(SecretId=arn)
    assert code_msg(ei) == ("AccessDeniedException", "Access to KMS is not allowed")
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=doc(
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:root" % ACCT}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:root" % OTHER}, "Action": "kms:Decrypt",
         "Resource": "*"}))
    assert sm_b.get_secret_value(SecretId=arn)["SecretString"] == "shared"
    # By name it is not found: other accounts' secrets are addressed by ARN only.
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sm_b.get_secret_value(SecretId="shared/db")
    assert code_msg(ei)[0] in ("ResourceNotFoundException", "AccessDeniedException")


def test_rds_operations_are_authorized_per_resource(endpoint, admin):
    # a role that may describe everything but change only the proxy named ops-proxy and the
    # cluster named ops-cluster: proxies are authorized on their prx-... ARN, clusters on theirs
    rds = H.make_client(endpoint, service="rds")
    p = rds.create_db_proxy(DBProxyName="ops-proxy", EngineFamily="POSTGRESQL", RoleArn="arn:aws:iam::%s:role/x" % ACCT,
                            VpcSubnetIds=["subnet-a", "subnet-b"], DefaultAuthScheme="IAM_AUTH")["DBProxy"]
    rds.create_db_proxy(DBProxyName="other-proxy", EngineFamily="POSTGRESQL", RoleArn="arn:aws:iam::%s:role/x" % ACCT,
                        VpcSubnetIds=["subnet-a", "subnet-b"], DefaultAuthScheme="IAM_AUTH")
    role = lambda_role(admin, name="rds-operator", policy=doc(
        allow(["rds:Describe*"]),
        allow("rds:ModifyDBProxy", p["DBProxyArn"]),
        allow(["rds:CreateDBCluster", "rds:ModifyDBCluster"], "arn:aws:rds:*:*:cluster:ops-cluster")))
    creds = admin["sts"].assume_role(RoleArn=role["Arn"], RoleSessionName="ops")["Credentials"]
    ops = client_for(endpoint, creds, service="rds")
    assert len(ops.describe_db_proxies()["DBProxies"]) == 2
    assert ops.modify_db_proxy(DBProxyName="ops-proxy", DebugLogging=True)["DBProxy"]["DebugLogging"] is True
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        ops.modify_db_proxy(DBProxyName="other-proxy", DebugLogging=True)
    assert ei.value.response["Error"]["Code"] == "AccessDenied"
    ops.create_db_cluster(DBClusterIdentifier="ops-cluster", Engine="aurora-postgresql", MasterUsername="a",
                          MasterUserPassword="secret123")
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        ops.create_db_cluster(DBClusterIdentifier="elsewhere", Engine="aurora-postgresql", MasterUsername="a",
                              MasterUserPassword="secret123")
    assert ei.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        ops.delete_db_proxy(DBProxyName="ops-proxy")
    assert ei.value.response["Error"]["Code"] == "AccessDenied"
