"""RDS DB clusters (Aurora) through boto3 and the AWS CLI: CreateDBCluster, aurora-postgresql
instances as the cluster's writer and reader, DescribeDBClusters members, FailoverDBCluster,
ModifyDBCluster (IAM auth, rename), DeleteDBCluster, and the RDS error codes and HTTP statuses.
Each instance may cost a real PostgreSQL server once the runtime runs them, so a test makes at
most one cluster with two instances."""
import time

import pytest

import helpers as H

CL = dict(Engine="aurora-postgresql", MasterUsername="admin1", MasterUserPassword="secret123")


@pytest.fixture
def rds(endpoint):
    return H.make_client(endpoint, service="rds")


def err(ei):
    return ei.value.response["Error"]["Code"], ei.value.response["ResponseMetadata"]["HTTPStatusCode"]


def add_instance(rds, iid, cluster, **kw):
    return rds.create_db_instance(DBInstanceIdentifier=iid, DBInstanceClass="db.r6g.large",
                                  Engine="aurora-postgresql", DBClusterIdentifier=cluster, **kw)["DBInstance"]


def wait_available(rds, *ids):
    for iid in ids:
        rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=iid,
                                                     WaiterConfig={"Delay": 1, "MaxAttempts": 90})


def describe(rds, cid):
    return rds.describe_db_clusters(DBClusterIdentifier=cid)["DBClusters"][0]


def roles(rds, cid):
    """{instance: is writer} of the cluster's DBClusterMembers."""
    return {m["DBInstanceIdentifier"]: m["IsClusterWriter"] for m in describe(rds, cid)["DBClusterMembers"]}


def test_cluster_members_failover_delete(rds):
    c = rds.create_db_cluster(DBClusterIdentifier="Aurora1", DatabaseName="app", EnableIAMDatabaseAuthentication=True,
                              Tags=[{"Key": "env", "Value": "dev"}], **CL)["DBCluster"]
    assert c["DBClusterIdentifier"] == "aurora1"
    assert c["DBClusterArn"] == "arn:aws:rds:us-east-1:%s:cluster:aurora1" % H.ACCOUNT
    assert c["Status"] == "available" and c["Engine"] == "aurora-postgresql" and c["EngineMode"] == "provisioned"
    assert c["Port"] == 5432 and c["MasterUsername"] == "admin1" and c["DatabaseName"] == "app"
    assert c["Endpoint"] and c["ReaderEndpoint"] and c["Endpoint"] != c["ReaderEndpoint"]
    assert c["DbClusterResourceId"].startswith("cluster-") and len(c["DbClusterResourceId"]) == 34
    assert c["DBClusterParameterGroup"] == "default.aurora-postgresql16"
    assert c["IAMDatabaseAuthenticationEnabled"] is True
    assert c["DBClusterMembers"] == [] and c["TagList"] == [{"Key": "env", "Value": "dev"}]
    assert c["ClusterCreateTime"].year >= 2020
    assert c["AvailabilityZones"] == ["us-east-1a", "us-east-1b", "us-east-1c"]

    w = add_instance(rds, "a1-writer", "aurora1")
    assert w["DBClusterIdentifier"] == "aurora1" and w["MasterUsername"] == "admin1"
    assert w["IAMDatabaseAuthenticationEnabled"] is True and w["Endpoint"]["Port"] == 5432
    add_instance(rds, "a1-reader", "AURORA1", PromotionTier=2)
    wait_available(rds, "a1-writer", "a1-reader")
    c = describe(rds, "aurora1")
    assert roles(rds, "aurora1") == {"a1-writer": True, "a1-reader": False}
    assert {m["PromotionTier"] for m in c["DBClusterMembers"]} == {1, 2}
    assert all(m["DBClusterParameterGroupStatus"] == "in-sync" for m in c["DBClusterMembers"])
    ids = [d["DBInstanceIdentifier"] for d in rds.describe_db_instances(
        Filters=[{"Name": "db-cluster-id", "Values": ["aurora1"]}])["DBInstances"]]
    assert sorted(ids) == ["a1-reader", "a1-writer"]

    f = rds.failover_db_cluster(DBClusterIdentifier="aurora1")["DBCluster"]
    assert f["Status"] == "failing-over"
    assert {m["DBInstanceIdentifier"]: m["IsClusterWriter"] for m in f["DBClusterMembers"]} == \
        {"a1-writer": False, "a1-reader": True}
    assert roles(rds, "aurora1") == {"a1-writer": False, "a1-reader": True}
    deadline = time.time() + 60
    status = describe(rds, "aurora1")["Status"]
    while status != "available" and time.time() < deadline:
        time.sleep(1)
        status = describe(rds, "aurora1")["Status"]
    # the runtime promoted the reader's PostgreSQL standby, then set the cluster available
    assert status == "available"

    with pytest.raises(Exception) as ei:
        rds.delete_db_cluster(DBClusterIdentifier="aurora1", SkipFinalSnapshot=True)
    assert err(ei) == ("InvalidDBClusterStateFault", 400)
    rds.delete_db_instance(DBInstanceIdentifier="a1-reader", SkipFinalSnapshot=True)
    assert roles(rds, "aurora1") == {"a1-writer": True}  # the writer's deletion hands over to the reader
    rds.delete_db_instance(DBInstanceIdentifier="a1-writer", SkipFinalSnapshot=True)
    assert roles(rds, "aurora1") == {}
    d = rds.delete_db_cluster(DBClusterIdentifier="aurora1", SkipFinalSnapshot=True)["DBCluster"]
    assert d["Status"] == "deleting"
    with pytest.raises(rds.exceptions.DBClusterNotFoundFault) as ei:
        rds.describe_db_clusters(DBClusterIdentifier="aurora1")
    assert err(ei) == ("DBClusterNotFoundFault", 404)


def test_modify_rename_tags(rds):
    rds.create_db_cluster(DBClusterIdentifier="aurora2", EnableIAMDatabaseAuthentication=True, **CL)
    add_instance(rds, "a2-writer", "aurora2")
    wait_available(rds, "a2-writer")
    m = rds.modify_db_cluster(DBClusterIdentifier="aurora2", EnableIAMDatabaseAuthentication=False,
                              MasterUserPassword="another123", DeletionProtection=True,
                              ApplyImmediately=True)["DBCluster"]
    assert m["IAMDatabaseAuthenticationEnabled"] is False and m["DeletionProtection"] is True
    assert m["PendingModifiedValues"]["MasterUserPassword"] == "****"
    inst = rds.describe_db_instances(DBInstanceIdentifier="a2-writer")["DBInstances"][0]
    assert inst["IAMDatabaseAuthenticationEnabled"] is False

    rid = m["DbClusterResourceId"]
    r = rds.modify_db_cluster(DBClusterIdentifier="aurora2", NewDBClusterIdentifier="Renamed2",
                              ApplyImmediately=True)["DBCluster"]
    assert r["DBClusterIdentifier"] == "renamed2" and r["DbClusterResourceId"] == rid
    assert r["DBClusterArn"].endswith(":cluster:renamed2")
    inst = rds.describe_db_instances(DBInstanceIdentifier="a2-writer")["DBInstances"][0]
    assert inst["DBClusterIdentifier"] == "renamed2"
    assert roles(rds, "renamed2") == {"a2-writer": True}

    arn = r["DBClusterArn"]
    rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    rds.remove_tags_from_resource(ResourceName=arn, TagKeys=["a"])
    assert rds.list_tags_for_resource(ResourceName=arn)["TagList"] == [{"Key": "b", "Value": "2"}]

    rds.delete_db_instance(DBInstanceIdentifier="a2-writer", SkipFinalSnapshot=True)
    with pytest.raises(Exception) as ei:
        rds.delete_db_cluster(DBClusterIdentifier="renamed2", SkipFinalSnapshot=True)
    assert err(ei) == ("InvalidParameterCombination", 400)
    rds.modify_db_cluster(DBClusterIdentifier="renamed2", DeletionProtection=False)
    rds.delete_db_cluster(DBClusterIdentifier="renamed2", SkipFinalSnapshot=True)


def test_errors(rds):
    rds.create_db_cluster(DBClusterIdentifier="c1", **CL)
    with pytest.raises(Exception) as ei:
        rds.create_db_cluster(DBClusterIdentifier="C1", **CL)
    assert err(ei) == ("DBClusterAlreadyExistsFault", 400)
    with pytest.raises(Exception) as ei:
        rds.create_db_cluster(DBClusterIdentifier="c--2", **CL)
    assert err(ei) == ("InvalidParameterValue", 400)
    with pytest.raises(Exception) as ei:
        rds.create_db_cluster(DBClusterIdentifier="c2", Engine="postgres", MasterUsername="a",
                              MasterUserPassword="secret123")
    assert err(ei) == ("InvalidParameterCombination", 400)
    with pytest.raises(Exception) as ei:
        rds.create_db_cluster(DBClusterIdentifier="c2", Engine="aurora-postgresql", MasterUsername="a",
                              MasterUserPassword="short")
    assert err(ei) == ("InvalidParameterValue", 400)
    if "ManageMasterUserPassword" in rds.meta.service_model.operation_model("CreateDBCluster").input_shape.members:
        with pytest.raises(Exception) as ei:  # Debian's botocore 1.29 predates the member
            rds.create_db_cluster(DBClusterIdentifier="c2", Engine="aurora-postgresql", MasterUsername="a",
                                  ManageMasterUserPassword=True)
        assert err(ei) == ("InvalidParameterCombination", 400)
    with pytest.raises(Exception) as ei:
        rds.describe_db_clusters(Filters=[{"Name": "bogus", "Values": ["x"]}])
    assert err(ei) == ("InvalidParameterValue", 400)
    with pytest.raises(Exception) as ei:
        rds.describe_db_clusters(MaxRecords=10)
    assert err(ei) == ("InvalidParameterValue", 400)
    with pytest.raises(rds.exceptions.DBClusterNotFoundFault) as ei:
        rds.failover_db_cluster(DBClusterIdentifier="nope")
    assert err(ei) == ("DBClusterNotFoundFault", 404)
    with pytest.raises(Exception) as ei:
        rds.failover_db_cluster(DBClusterIdentifier="c1")  # no reader
    assert err(ei) == ("InvalidDBClusterStateFault", 400)
    with pytest.raises(Exception) as ei:
        rds.failover_db_cluster(DBClusterIdentifier="c1", TargetDBInstanceIdentifier="ghost")
    assert err(ei) == ("DBInstanceNotFound", 404)
    with pytest.raises(Exception) as ei:
        rds.delete_db_cluster(DBClusterIdentifier="c1")
    assert err(ei) == ("InvalidParameterCombination", 400)
    with pytest.raises(Exception) as ei:
        add_instance(rds, "x1", "nope")
    assert err(ei) == ("DBClusterNotFoundFault", 404)
    with pytest.raises(Exception) as ei:
        add_instance(rds, "x1", "c1", MasterUsername="a", MasterUserPassword="secret123")
    assert err(ei) == ("InvalidParameterCombination", 400)
    with pytest.raises(Exception) as ei:
        rds.create_db_instance(DBInstanceIdentifier="x1", DBInstanceClass="db.r6g.large", Engine="aurora-mysql",
                               DBClusterIdentifier="c1")
    assert err(ei) == ("InvalidParameterCombination", 400)
    assert rds.describe_db_instances()["DBInstances"] == []
    page = rds.get_paginator("describe_db_clusters").paginate(PaginationConfig={"PageSize": 20})
    assert [c["DBClusterIdentifier"] for p in page for c in p["DBClusters"]] == ["c1"]


def test_cli(cli):
    r = cli("rds", "create-db-cluster", "--db-cluster-identifier", "clicluster", "--engine", "aurora-mysql",
            "--master-username", "admin1", "--master-user-password", "secret123",
            "--enable-iam-database-authentication", "--tags", "Key=k,Value=v")
    assert r.rc == 0, r.stderr
    assert r.json["DBCluster"]["Port"] == 3306 and r.json["DBCluster"]["Engine"] == "aurora-mysql"
    r = cli("rds", "describe-db-clusters", "--db-cluster-identifier", "clicluster")
    assert r.rc == 0, r.stderr
    assert r.json["DBClusters"][0]["IAMDatabaseAuthenticationEnabled"] is True
    r = cli("rds", "failover-db-cluster", "--db-cluster-identifier", "clicluster")
    assert r.rc != 0 and "InvalidDBClusterStateFault" in r.stderr
    r = cli("rds", "delete-db-cluster", "--db-cluster-identifier", "clicluster", "--skip-final-snapshot")
    assert r.rc == 0, r.stderr
    assert r.json["DBCluster"]["Status"] == "deleting"
    r = cli("rds", "describe-db-clusters", "--db-cluster-identifier", "clicluster")
    assert r.rc != 0 and "DBClusterNotFoundFault" in r.stderr
