"""RDS control plane for DB instances (a server started with --databases off): create/describe/modify/
reboot/delete through boto3 and the AWS CLI, tags, RDS error codes and
statuses, pagination, and botocore's db_instance_available waiter."""
import pytest

import helpers as H

PG = dict(DBInstanceClass="db.t3.micro", Engine="postgres", MasterUsername="admin1",
          MasterUserPassword="secret123")


@pytest.fixture(scope="module")
def nodb(tmp_path_factory):
    """A server of its own without database servers: these tests are about the API."""
    if not H.BIN.exists():
        pytest.skip(f"needs the rdsemu binary ({H.BIN})")
    srv = H.Server(args=["--databases", "off"], log_dir=tmp_path_factory.mktemp("nodb"), name="nodb")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop_checked()


@pytest.fixture
def rds(nodb):
    H.reset(nodb.endpoint)
    return H.make_client(nodb.endpoint, service="rds")


def err(ei):
    return ei.value.response["Error"]["Code"], ei.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_create_describe_waiter(rds):
    r = rds.create_db_instance(DBInstanceIdentifier="MyDb", EnableIAMDatabaseAuthentication=True,
                               Tags=[{"Key": "env", "Value": "dev"}], **PG)["DBInstance"]
    assert r["DBInstanceIdentifier"] == "mydb"
    assert r["DBInstanceArn"] == "arn:aws:rds:us-east-1:%s:db:mydb" % H.ACCOUNT
    assert r["Endpoint"]["Port"] == 5432
    assert r["Endpoint"]["Address"].startswith("127.")  # a loopback address of its own
    assert r["DbiResourceId"].startswith("db-") and len(r["DbiResourceId"]) == 29
    assert r["IAMDatabaseAuthenticationEnabled"] is True
    assert r["TagList"] == [{"Key": "env", "Value": "dev"}]
    rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier="mydb",
                                                 WaiterConfig={"Delay": 1, "MaxAttempts": 3})
    d = rds.describe_db_instances(DBInstanceIdentifier="MYDB")["DBInstances"]
    assert len(d) == 1 and d[0]["DBInstanceStatus"] == "available"
    assert d[0]["InstanceCreateTime"].year >= 2020
    f = rds.describe_db_instances(Filters=[{"Name": "db-instance-id", "Values": ["mydb"]}])["DBInstances"]
    assert [x["DBInstanceIdentifier"] for x in f] == ["mydb"]


def test_errors(rds):
    rds.create_db_instance(DBInstanceIdentifier="db1", **PG)
    with pytest.raises(Exception) as ei:
        rds.create_db_instance(DBInstanceIdentifier="db1", **PG)
    assert err(ei) == ("DBInstanceAlreadyExists", 400)
    with pytest.raises(rds.exceptions.DBInstanceNotFoundFault) as ei:
        rds.describe_db_instances(DBInstanceIdentifier="nope")
    assert err(ei) == ("DBInstanceNotFound", 404)
    with pytest.raises(Exception) as ei:
        rds.create_db_instance(DBInstanceIdentifier="a--b", **PG)
    assert err(ei) == ("InvalidParameterValue", 400)
    with pytest.raises(Exception) as ei:
        rds.create_db_instance(DBInstanceIdentifier="cx", DBInstanceClass="db.m5.large", Engine="custom-oracle-ee",
                               MasterUsername="a", MasterUserPassword="secret123",
                               EnableIAMDatabaseAuthentication=True)
    assert err(ei) == ("InvalidParameterCombination", 400)
    with pytest.raises(Exception) as ei:
        rds.describe_db_instances(MaxRecords=10)
    assert err(ei) == ("InvalidParameterValue", 400)
    with pytest.raises(Exception) as ei:
        rds.reboot_db_instance(DBInstanceIdentifier="db1", ForceFailover=True)
    assert err(ei) == ("InvalidDBInstanceState", 400)
    with pytest.raises(Exception) as ei:
        rds.delete_db_instance(DBInstanceIdentifier="db1")
    assert err(ei) == ("InvalidParameterCombination", 400)
    with pytest.raises(Exception) as ei:
        rds.create_db_instance(DBInstanceIdentifier="db2", DBInstanceClass="db.t3.micro", Engine="postgres")
    assert err(ei)[1] == 400


def test_modify_reboot_delete_tags(rds):
    arn = rds.create_db_instance(DBInstanceIdentifier="db1", EnableIAMDatabaseAuthentication=True,
                                 **PG)["DBInstance"]["DBInstanceArn"]
    m = rds.modify_db_instance(DBInstanceIdentifier="db1", EnableIAMDatabaseAuthentication=False,
                               ApplyImmediately=True, MasterUserPassword="another123")["DBInstance"]
    assert m["IAMDatabaseAuthenticationEnabled"] is False
    assert m["PendingModifiedValues"]["MasterUserPassword"] == "****"
    r = rds.reboot_db_instance(DBInstanceIdentifier="db1")["DBInstance"]
    assert r["DBInstanceStatus"] == "rebooting"
    rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    rds.remove_tags_from_resource(ResourceName=arn, TagKeys=["a"])
    assert rds.list_tags_for_resource(ResourceName=arn)["TagList"] == [{"Key": "b", "Value": "2"}]
    d = rds.delete_db_instance(DBInstanceIdentifier="db1", SkipFinalSnapshot=True)["DBInstance"]
    assert d["DBInstanceStatus"] == "deleting"
    rds.get_waiter("db_instance_deleted").wait(DBInstanceIdentifier="db1", WaiterConfig={"Delay": 1, "MaxAttempts": 3})


def test_pagination(rds):
    for i in range(25):
        rds.create_db_instance(DBInstanceIdentifier="p%02d" % i, **PG)
    page = rds.describe_db_instances(MaxRecords=20)
    assert len(page["DBInstances"]) == 20 and "Marker" in page
    page2 = rds.describe_db_instances(MaxRecords=20, Marker=page["Marker"])
    assert len(page2["DBInstances"]) == 5 and "Marker" not in page2
    ids = [d["DBInstanceIdentifier"] for p in rds.get_paginator("describe_db_instances").paginate(
        PaginationConfig={"PageSize": 20}) for d in p["DBInstances"]]
    assert ids == ["p%02d" % i for i in range(25)]


def test_cli(cli):
    r = cli("rds", "create-db-instance", "--db-instance-identifier", "clidb", "--db-instance-class", "db.t3.micro",
            "--engine", "mysql", "--master-username", "admin1", "--master-user-password", "secret123",
            "--enable-iam-database-authentication", "--tags", "Key=k,Value=v")
    assert r.rc == 0, r.stderr
    assert r.json["DBInstance"]["Endpoint"]["Port"] == 3306
    r = cli("rds", "describe-db-instances", "--db-instance-identifier", "clidb")
    assert r.rc == 0, r.stderr
    assert r.json["DBInstances"][0]["Engine"] == "mysql"
    r = cli("rds", "delete-db-instance", "--db-instance-identifier", "clidb", "--skip-final-snapshot")
    assert r.rc == 0, r.stderr
    r = cli("rds", "describe-db-instances", "--db-instance-identifier", "clidb")
    assert r.rc != 0 and "DBInstanceNotFound" in r.stderr


def test_engine_matrix(rds):
    r = rds.create_db_instance(DBInstanceIdentifier="ss", DBInstanceClass="db.m5.large", Engine="sqlserver-se",
                               MasterUsername="admin1", MasterUserPassword="secret123")["DBInstance"]
    assert r["Endpoint"]["Port"] == 1433 and r["Engine"] == "sqlserver-se"
    with pytest.raises(Exception) as ei:
        rds.modify_db_instance(DBInstanceIdentifier="ss", EnableIAMDatabaseAuthentication=True, ApplyImmediately=True)
    assert err(ei) == ("InvalidParameterCombination", 400)
    r = rds.create_db_instance(DBInstanceIdentifier="mdb", DBInstanceClass="db.t3.micro", Engine="mariadb",
                               MasterUsername="admin1", MasterUserPassword="secret123",
                               EnableIAMDatabaseAuthentication=True)["DBInstance"]
    assert r["IAMDatabaseAuthenticationEnabled"] is True and r["Endpoint"]["Port"] == 3306
    with pytest.raises(Exception) as ei:
        rds.create_db_instance(DBInstanceIdentifier="x", DBInstanceClass="db.t3.micro", Engine="nosuchdb",
                               MasterUsername="admin1", MasterUserPassword="secret123")
    assert err(ei) == ("InvalidParameterValue", 400)
