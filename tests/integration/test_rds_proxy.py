"""RDS Proxy control plane through boto3 and the AWS CLI: proxies, the default
target group, instance targets and their TargetHealth, custom and default
endpoints, tags by ARN, pagination, and the proxy error codes with their
HTTP statuses (aws-behaviour.md 4.3 and 4.4).  Creates one PostgreSQL
instance (a real server once the supervisor is wired), waited for with
db_instance_available before it is registered."""
import json
import re

import pytest

import helpers as H

SUBNETS = ["subnet-a", "subnet-b"]
ROLE = "arn:aws:iam::%s:role/ProxyRole" % H.ACCOUNT
SECRET = "arn:aws:secretsmanager:us-east-1:%s:secret:db-creds-AbCdEf" % H.ACCOUNT
AUTH = [{"AuthScheme": "SECRETS", "SecretArn": SECRET, "IAMAuth": "DISABLED"}]
PROXY_ARN_RE = re.compile(r"^arn:aws:rds:us-east-1:%s:db-proxy:prx-[0-9a-f]{17}$" % H.ACCOUNT)
TG_ARN_RE = re.compile(r"^arn:aws:rds:us-east-1:%s:target-group:prx-tg-[0-9a-f]{17}$" % H.ACCOUNT)
EP_ARN_RE = re.compile(r"^arn:aws:rds:us-east-1:%s:db-proxy-endpoint:prx-endpoint-[0-9a-f]{17}$" % H.ACCOUNT)
# A loopback listen address by default; the AWS-style DNS name in DNS mode.
ADDR_RE = re.compile(r"^(127\.\d+\.\d+\.\d+|[A-Za-z0-9-]+\.(endpoint\.)?proxy-[a-z0-9]{12}\.us-east-1\.rds\.amazonaws\.com)$")


@pytest.fixture
def rds(endpoint):
    return H.make_client(endpoint, service="rds")


def err(ei):
    return ei.value.response["Error"]["Code"], ei.value.response["ResponseMetadata"]["HTTPStatusCode"]


def make_proxy(rds, name, family="POSTGRESQL", **kw):
    args = dict(DBProxyName=name, EngineFamily=family, RoleArn=ROLE, VpcSubnetIds=SUBNETS, Auth=AUTH)
    args.update(kw)
    return rds.create_db_proxy(**args)["DBProxy"]


def test_create_describe_modify_delete(rds):
    p = make_proxy(rds, "Proxy1", Tags=[{"Key": "env", "Value": "dev"}], IdleClientTimeout=600)
    assert p["DBProxyName"] == "Proxy1" and PROXY_ARN_RE.match(p["DBProxyArn"])
    assert p["Status"] == "available" and p["EngineFamily"] == "POSTGRESQL"
    assert ADDR_RE.match(p["Endpoint"]), p["Endpoint"]
    assert p["IdleClientTimeout"] == 600 and p["RequireTLS"] is False and p["DebugLogging"] is False
    assert p["VpcSubnetIds"] == SUBNETS and p["VpcId"].startswith("vpc-")
    assert p["Auth"] == [{"AuthScheme": "SECRETS", "SecretArn": SECRET, "IAMAuth": "DISABLED",
                          "ClientPasswordAuthType": "POSTGRES_SCRAM_SHA_256"}]
    assert p["CreatedDate"].year >= 2020 and "TagList" not in p
    d = rds.describe_db_proxies(DBProxyName="proxy1")["DBProxies"]
    assert [x["DBProxyArn"] for x in d] == [p["DBProxyArn"]]
    m = rds.modify_db_proxy(DBProxyName="Proxy1", NewDBProxyName="proxy2", RequireTLS=True,
                            SecurityGroups=["sg-1"], DefaultAuthScheme="IAM_AUTH")["DBProxy"]
    assert m["DBProxyName"] == "proxy2" and m["DBProxyArn"] == p["DBProxyArn"] and m["RequireTLS"] is True
    assert m["VpcSecurityGroupIds"] == ["sg-1"] and m["DefaultAuthScheme"] == "IAM_AUTH"
    tags = rds.list_tags_for_resource(ResourceName=p["DBProxyArn"])["TagList"]
    assert tags == [{"Key": "env", "Value": "dev"}]
    x = rds.delete_db_proxy(DBProxyName="proxy2")["DBProxy"]
    assert x["Status"] == "deleting"
    assert rds.describe_db_proxies()["DBProxies"] == []


def test_errors(rds, endpoint):
    make_proxy(rds, "p1")
    with pytest.raises(rds.exceptions.DBProxyAlreadyExistsFault) as ei:
        make_proxy(rds, "P1")
    assert err(ei) == ("DBProxyAlreadyExistsFault", 400)
    with pytest.raises(rds.exceptions.DBProxyNotFoundFault) as ei:
        rds.describe_db_proxies(DBProxyName="nope")
    assert err(ei) == ("DBProxyNotFoundFault", 404)
    with pytest.raises(rds.exceptions.DBProxyNotFoundFault):
        rds.delete_db_proxy(DBProxyName="nope")
    with pytest.raises(Exception) as ei:
        make_proxy(rds, "p2", IdleClientTimeout=28801)
    assert err(ei) == ("InvalidParameterValue", 400)
    with pytest.raises(Exception) as ei:
        make_proxy(rds, "p--2")
    assert err(ei)[1] == 400  # the model's pattern: the api layer's ValidationError
    with pytest.raises(Exception) as ei:
        make_proxy(rds, "p2", VpcSubnetIds=["net-1"])
    assert err(ei) == ("InvalidSubnet", 400)
    with pytest.raises(Exception) as ei:
        rds.create_db_proxy(DBProxyName="p2", EngineFamily="POSTGRESQL", RoleArn=ROLE, VpcSubnetIds=SUBNETS)
    assert err(ei) == ("InvalidParameterCombination", 400)
    with pytest.raises(Exception) as ei:
        make_proxy(rds, "p2", Auth=[dict(AUTH[0], IAMAuth="ENABLED")])
    assert err(ei) == ("InvalidParameterValue", 400)
    with pytest.raises(rds.exceptions.DBProxyTargetGroupNotFoundFault) as ei:
        rds.describe_db_proxy_target_groups(DBProxyName="p1", TargetGroupName="other")
    assert err(ei) == ("DBProxyTargetGroupNotFoundFault", 404)
    with pytest.raises(rds.exceptions.DBInstanceNotFoundFault) as ei:
        rds.register_db_proxy_targets(DBProxyName="p1", DBInstanceIdentifiers=["nope"])
    assert err(ei) == ("DBInstanceNotFound", 404)
    with pytest.raises(rds.exceptions.DBClusterNotFoundFault) as ei:
        rds.register_db_proxy_targets(DBProxyName="p1", DBClusterIdentifiers=["nope"])
    assert err(ei) == ("DBClusterNotFoundFault", 404)
    with pytest.raises(rds.exceptions.DBProxyTargetNotFoundFault) as ei:
        rds.deregister_db_proxy_targets(DBProxyName="p1", DBInstanceIdentifiers=["nope"])
    assert err(ei) == ("DBProxyTargetNotFoundFault", 404)
    with pytest.raises(rds.exceptions.DBProxyEndpointNotFoundFault) as ei:
        rds.describe_db_proxy_endpoints(DBProxyEndpointName="nope")
    assert err(ei) == ("DBProxyEndpointNotFoundFault", 404)
    with pytest.raises(rds.exceptions.InvalidDBProxyEndpointStateFault) as ei:
        rds.delete_db_proxy_endpoint(DBProxyEndpointName="default")
    assert err(ei) == ("InvalidDBProxyEndpointStateFault", 400)
    raw = H.make_client(endpoint, service="rds", validate=False)
    with pytest.raises(Exception) as ei:
        raw.describe_db_proxies(MaxRecords=10)
    assert err(ei)[1] == 400  # the model's range: the api layer answers first
    with pytest.raises(Exception) as ei:
        raw.describe_db_proxy_endpoints(Marker="not-a-marker")
    assert err(ei) == ("InvalidParameterValue", 400)


def test_target_group(rds):
    make_proxy(rds, "p1")
    tgs = rds.describe_db_proxy_target_groups(DBProxyName="p1")["TargetGroups"]
    assert len(tgs) == 1
    tg = tgs[0]
    assert tg["TargetGroupName"] == "default" and tg["IsDefault"] is True and tg["Status"] == "available"
    assert TG_ARN_RE.match(tg["TargetGroupArn"]) and tg["DBProxyName"] == "p1"
    assert tg["ConnectionPoolConfig"]["MaxConnectionsPercent"] == 100
    assert tg["ConnectionPoolConfig"]["MaxIdleConnectionsPercent"] == 50
    assert tg["ConnectionPoolConfig"]["ConnectionBorrowTimeout"] == 120
    m = rds.modify_db_proxy_target_group(
        DBProxyName="p1", TargetGroupName="default",
        ConnectionPoolConfig={"MaxConnectionsPercent": 90, "ConnectionBorrowTimeout": 30, "InitQuery": "SET x=1"},
    )["DBProxyTargetGroup"]
    pool = m["ConnectionPoolConfig"]
    assert (pool["MaxConnectionsPercent"], pool["MaxIdleConnectionsPercent"], pool["ConnectionBorrowTimeout"]) == \
        (90, 45, 30)
    assert pool["InitQuery"] == "SET x=1"
    with pytest.raises(Exception) as ei:
        rds.modify_db_proxy_target_group(DBProxyName="p1", TargetGroupName="default", NewName="other")
    assert err(ei) == ("InvalidParameterValue", 400)
    with pytest.raises(Exception) as ei:
        rds.modify_db_proxy_target_group(DBProxyName="p1", TargetGroupName="default",
                                         ConnectionPoolConfig={"MaxConnectionsPercent": 20,
                                                               "MaxIdleConnectionsPercent": 30})
    assert err(ei) == ("InvalidParameterValue", 400)
    with pytest.raises(Exception) as ei:
        rds.modify_db_proxy_target_group(DBProxyName="p1", TargetGroupName="default",
                                         ConnectionPoolConfig={"SessionPinningFilters": ["EXCLUDE_VARIABLE_SETS"]})
    assert err(ei) == ("InvalidParameterCombination", 400)
    rds.add_tags_to_resource(ResourceName=tg["TargetGroupArn"], Tags=[{"Key": "a", "Value": "1"}])
    assert rds.list_tags_for_resource(ResourceName=tg["TargetGroupArn"])["TagList"] == [{"Key": "a", "Value": "1"}]


def test_instance_target(rds, endpoint):
    inst = rds.create_db_instance(DBInstanceIdentifier="pdb", DBInstanceClass="db.t3.micro", Engine="postgres",
                                  MasterUsername="admin1", MasterUserPassword="secret123")["DBInstance"]
    make_proxy(rds, "p1")
    assert rds.describe_db_proxy_targets(DBProxyName="p1")["Targets"] == []
    rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier="pdb",
                                                 WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    r = rds.register_db_proxy_targets(DBProxyName="p1", DBInstanceIdentifiers=["pdb"])["DBProxyTargets"]
    assert len(r) == 1
    t = r[0]
    assert t["Type"] == "RDS_INSTANCE" and t["RdsResourceId"] == "pdb" and t["Role"] == "READ_WRITE"
    assert t["TargetArn"] == inst["DBInstanceArn"] and t["Port"] == inst["Endpoint"]["Port"]
    assert t["Endpoint"] == inst["Endpoint"]["Address"] and t["TargetHealth"]["State"] == "REGISTERING"
    d = rds.describe_db_proxy_targets(DBProxyName="p1", TargetGroupName="default")["Targets"]
    assert [x["RdsResourceId"] for x in d] == ["pdb"]
    # ProxyRole does not exist: the proxy can read none of its secrets
    assert d[0]["TargetHealth"] == {
        "State": "UNAVAILABLE", "Reason": "AUTH_FAILURE",
        "Description": "Proxy can't read its credentials from Secrets Manager: "
                       "The role with name ProxyRole cannot be found."}, d[0]["TargetHealth"]
    # with the role (trusting rds.amazonaws.com, allowed to read) and a real secret it is AVAILABLE
    iam = H.make_client(endpoint, service="iam")
    iam.create_role(RoleName="ProxyRole", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "rds.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))
    iam.put_role_policy(RoleName="ProxyRole", PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                                                "Resource": "*"}]}))
    sec = H.make_client(endpoint).create_secret(Name="db-creds", SecretString='{"username":"u","password":"p"}')
    rds.modify_db_proxy(DBProxyName="p1", Auth=[dict(AUTH[0], SecretArn=sec["ARN"])])
    d = rds.describe_db_proxy_targets(DBProxyName="p1", TargetGroupName="default")["Targets"]
    assert d[0]["TargetHealth"] == {"State": "AVAILABLE"}, d[0]["TargetHealth"]
    with pytest.raises(rds.exceptions.DBProxyTargetAlreadyRegisteredFault) as ei:
        rds.register_db_proxy_targets(DBProxyName="p1", DBInstanceIdentifiers=["pdb"])
    assert err(ei) == ("DBProxyTargetAlreadyRegisteredFault", 400)
    make_proxy(rds, "m1", family="MYSQL")
    with pytest.raises(Exception) as ei:
        rds.register_db_proxy_targets(DBProxyName="m1", DBInstanceIdentifiers=["pdb"])
    assert err(ei) == ("InvalidParameterCombination", 400)
    # An empty Auth list clears the credentials: the target cannot log in.
    rds.modify_db_proxy(DBProxyName="p1", Auth=[])
    h = rds.describe_db_proxy_targets(DBProxyName="p1")["Targets"][0]["TargetHealth"]
    assert h == {"State": "UNAVAILABLE", "Reason": "AUTH_FAILURE",
                 "Description": "Proxy does not have any registered credentials"}
    rds.deregister_db_proxy_targets(DBProxyName="p1", DBInstanceIdentifiers=["pdb"])
    assert rds.describe_db_proxy_targets(DBProxyName="p1")["Targets"] == []


def test_endpoints(rds):
    p = make_proxy(rds, "p1")
    make_proxy(rds, "p2")
    e = rds.create_db_proxy_endpoint(DBProxyName="p1", DBProxyEndpointName="ep1", VpcSubnetIds=SUBNETS,
                                     Tags=[{"Key": "t", "Value": "1"}])["DBProxyEndpoint"]
    assert EP_ARN_RE.match(e["DBProxyEndpointArn"]) and e["DBProxyName"] == "p1" and e["IsDefault"] is False
    assert e["Status"] == "available" and e["TargetRole"] == "READ_WRITE" and "TagList" not in e
    assert ADDR_RE.match(e["Endpoint"]) and e["Endpoint"] != p["Endpoint"]
    d = rds.describe_db_proxy_endpoints(DBProxyName="p1")["DBProxyEndpoints"]
    assert [x["DBProxyEndpointName"] for x in d] == ["ep1"]
    dflt = rds.describe_db_proxy_endpoints(DBProxyName="p1", DBProxyEndpointName="default")["DBProxyEndpoints"]
    assert len(dflt) == 1 and dflt[0]["IsDefault"] is True and dflt[0]["Endpoint"] == p["Endpoint"]
    with pytest.raises(rds.exceptions.DBProxyEndpointAlreadyExistsFault) as ei:
        rds.create_db_proxy_endpoint(DBProxyName="p2", DBProxyEndpointName="EP1", VpcSubnetIds=SUBNETS)
    assert err(ei) == ("DBProxyEndpointAlreadyExistsFault", 400)
    with pytest.raises(Exception) as ei:
        rds.create_db_proxy_endpoint(DBProxyName="p1", DBProxyEndpointName="ro", VpcSubnetIds=SUBNETS,
                                     TargetRole="READ_ONLY")
    assert err(ei) == ("InvalidParameterCombination", 400)
    m = rds.modify_db_proxy_endpoint(DBProxyEndpointName="ep1", NewDBProxyEndpointName="ep-one",
                                     VpcSecurityGroupIds=["sg-2"])["DBProxyEndpoint"]
    assert m["DBProxyEndpointName"] == "ep-one" and m["VpcSecurityGroupIds"] == ["sg-2"]
    assert m["Endpoint"] == e["Endpoint"] or not e["Endpoint"].startswith("127.")
    assert rds.list_tags_for_resource(ResourceName=e["DBProxyEndpointArn"])["TagList"] == [{"Key": "t", "Value": "1"}]
    rds.remove_tags_from_resource(ResourceName=e["DBProxyEndpointArn"], TagKeys=["t"])
    assert rds.list_tags_for_resource(ResourceName=e["DBProxyEndpointArn"])["TagList"] == []
    with pytest.raises(rds.exceptions.InvalidDBProxyEndpointStateFault):
        rds.modify_db_proxy_endpoint(DBProxyEndpointName="default", NewDBProxyEndpointName="x")
    x = rds.delete_db_proxy_endpoint(DBProxyEndpointName="ep-one")["DBProxyEndpoint"]
    assert x["Status"] == "deleting"
    with pytest.raises(rds.exceptions.DBProxyEndpointNotFoundFault):
        rds.delete_db_proxy_endpoint(DBProxyEndpointName="ep-one")
    with pytest.raises(rds.exceptions.DBProxyEndpointNotFoundFault) as ei:
        rds.list_tags_for_resource(ResourceName=e["DBProxyEndpointArn"])
    assert err(ei) == ("DBProxyEndpointNotFoundFault", 404)


def test_endpoint_quota_and_paging(rds):
    make_proxy(rds, "p1")
    make_proxy(rds, "p2")
    for i in range(20):
        rds.create_db_proxy_endpoint(DBProxyName="p1", DBProxyEndpointName="a%02d" % i, VpcSubnetIds=SUBNETS)
    with pytest.raises(rds.exceptions.DBProxyEndpointQuotaExceededFault) as ei:
        rds.create_db_proxy_endpoint(DBProxyName="p1", DBProxyEndpointName="a20", VpcSubnetIds=SUBNETS)
    assert err(ei) == ("DBProxyEndpointQuotaExceededFault", 400)
    for i in range(5):
        rds.create_db_proxy_endpoint(DBProxyName="p2", DBProxyEndpointName="b%02d" % i, VpcSubnetIds=SUBNETS)
    first = rds.describe_db_proxy_endpoints(MaxRecords=20)
    assert len(first["DBProxyEndpoints"]) == 20 and "Marker" in first
    names = [e["DBProxyEndpointName"] for page in rds.get_paginator("describe_db_proxy_endpoints").paginate(
        PaginationConfig={"PageSize": 20}) for e in page["DBProxyEndpoints"]]
    assert names == ["a%02d" % i for i in range(20)] + ["b%02d" % i for i in range(5)]
    addrs = {e["Endpoint"] for e in rds.describe_db_proxy_endpoints()["DBProxyEndpoints"]}
    assert len(addrs) == 25
    rds.delete_db_proxy(DBProxyName="p1")
    assert len(rds.describe_db_proxy_endpoints()["DBProxyEndpoints"]) == 5


def test_quota(rds):
    for i in range(20):
        make_proxy(rds, "q%02d" % i)
    with pytest.raises(rds.exceptions.DBProxyQuotaExceededFault) as ei:
        make_proxy(rds, "q20")
    assert err(ei) == ("DBProxyQuotaExceededFault", 400)


def test_cli(cli, rds):
    r = cli("rds", "create-db-proxy", "--db-proxy-name", "cliproxy", "--engine-family", "MYSQL",
            "--role-arn", ROLE, "--vpc-subnet-ids", "subnet-a", "subnet-b",
            "--auth", "AuthScheme=SECRETS,SecretArn=%s,IAMAuth=REQUIRED" % SECRET,
            "--tags", "Key=k,Value=v")
    assert r.rc == 0, r.stderr
    p = r.json["DBProxy"]
    assert p["DBProxyName"] == "cliproxy" and p["Auth"][0]["IAMAuth"] == "REQUIRED"
    assert p["Auth"][0]["ClientPasswordAuthType"] == "MYSQL_CACHING_SHA2_PASSWORD"
    r = cli("rds", "describe-db-proxy-target-groups", "--db-proxy-name", "cliproxy")
    assert r.rc == 0, r.stderr
    assert r.json["TargetGroups"][0]["TargetGroupName"] == "default"
    r = cli("rds", "modify-db-proxy-target-group", "--db-proxy-name", "cliproxy", "--target-group-name", "default",
            "--connection-pool-config", "MaxConnectionsPercent=50,SessionPinningFilters=EXCLUDE_VARIABLE_SETS")
    assert r.rc == 0, r.stderr
    pool = r.json["DBProxyTargetGroup"]["ConnectionPoolConfig"]
    assert pool["MaxConnectionsPercent"] == 50 and pool["SessionPinningFilters"] == ["EXCLUDE_VARIABLE_SETS"]
    r = cli("rds", "describe-db-proxies", "--db-proxy-name", "cliproxy")
    assert r.rc == 0, r.stderr
    assert r.json["DBProxies"][0]["DBProxyArn"] == p["DBProxyArn"]
    r = cli("rds", "delete-db-proxy", "--db-proxy-name", "cliproxy")
    assert r.rc == 0, r.stderr
    r = cli("rds", "describe-db-proxies", "--db-proxy-name", "cliproxy")
    assert r.rc != 0 and "DBProxyNotFoundFault" in r.stderr
