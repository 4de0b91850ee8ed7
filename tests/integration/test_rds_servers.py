"""Real database servers behind RDS instances and clusters: created with boto3 / the AWS CLI,
reached with psql and the mariadb client at the endpoint Describe* reports, Multi-AZ forced
failover and FailoverDBCluster promoting a real PostgreSQL standby, an instance bound to an
existing server, and deletion stopping the server and closing the endpoint."""
import json
import os
import shutil
import socket
import subprocess
import time

import pytest

import helpers as H

PSQL = shutil.which("psql")
MARIADB = shutil.which("mariadb") or shutil.which("mysql")

pytestmark = pytest.mark.skipif(not PSQL, reason="needs psql")


@pytest.fixture
def rds(endpoint):
    return H.make_client(endpoint, service="rds")


def wait_available(rds, ident, attempts=90):
    rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=ident,
                                                 WaiterConfig={"Delay": 1, "MaxAttempts": attempts})
    return rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]


def psql(host, port, user, password, db, sql, check=True):
    env = dict(os.environ, PGPASSWORD=password, PGCONNECT_TIMEOUT="5")
    r = subprocess.run([PSQL, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", str(port), "-U", user,
                        "-d", db, "-c", sql], env=env, capture_output=True, text=True, timeout=30)
    if check:
        assert r.returncode == 0, f"psql failed: {r.stderr}"
    return r


def mariadb(host, port, user, password, db, sql):
    r = subprocess.run([MARIADB, "--protocol=TCP", "-h", host, "-P", str(port), "-u", user, f"-p{password}",
                        "-D", db, "-N", "-B", "-e", sql], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"mariadb failed: {r.stderr}"
    return r.stdout


def refused(host, port):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect((host, port))
        # a listener may accept and close at once when it has no backend
        s.settimeout(2)
        return s.recv(1) == b""
    except OSError:
        return True
    finally:
        s.close()


PG = dict(DBInstanceClass="db.t3.micro", Engine="postgres", MasterUsername="admin1",
          MasterUserPassword="secret-pw-1", DBName="appdb")


def test_postgres_instance_psql(rds):
    r = rds.create_db_instance(DBInstanceIdentifier="pg1", **PG)["DBInstance"]
    assert r["DBInstanceStatus"] == "creating"
    d = wait_available(rds, "pg1")
    host, port = d["Endpoint"]["Address"], d["Endpoint"]["Port"]
    assert host.startswith("127.") and port == 5432
    out = psql(host, port, "admin1", "secret-pw-1", "appdb",
               "create table t(x int); insert into t values (41),(1); select sum(x) from t")
    assert out.stdout.strip().splitlines()[-1] == "42"
    bad = psql(host, port, "admin1", "wrong-password", "appdb", "select 1", check=False)
    assert bad.returncode != 0 and "password authentication failed" in bad.stderr
    # max_connections follows the instance class (db.t3.micro: 1 GiB / 9531392 = 112)
    assert psql(host, port, "admin1", "secret-pw-1", "appdb", "show max_connections").stdout.strip() == "112"
    # reboot restarts the server; data survives
    assert rds.reboot_db_instance(DBInstanceIdentifier="pg1")["DBInstance"]["DBInstanceStatus"] == "rebooting"
    wait_available(rds, "pg1")
    assert psql(host, port, "admin1", "secret-pw-1", "appdb", "select count(*) from t").stdout.strip() == "2"
    rds.delete_db_instance(DBInstanceIdentifier="pg1", SkipFinalSnapshot=True)
    deadline = time.time() + 10
    while time.time() < deadline and not refused(host, port):
        time.sleep(0.2)
    assert refused(host, port), "the endpoint still answers after DeleteDBInstance"


@pytest.mark.skipif(not MARIADB, reason="needs the mariadb client")
def test_mariadb_instance_client(rds):
    rds.create_db_instance(DBInstanceIdentifier="maria1", DBInstanceClass="db.t3.micro", Engine="mariadb",
                           MasterUsername="admin", MasterUserPassword="maria-pw-123", DBName="shop")
    d = wait_available(rds, "maria1")
    host, port = d["Endpoint"]["Address"], d["Endpoint"]["Port"]
    assert port == 3306
    out = mariadb(host, port, "admin", "maria-pw-123", "shop",
                  "create table t(x int); insert into t values (7); select x * 6 from t")
    assert out.strip() == "42"


def test_cli_create_and_psql(endpoint, rds):
    if H.aws_cli_command() is None:
        pytest.skip("needs the AWS CLI")
    r = H.run_cli(endpoint, ["rds", "create-db-instance", "--db-instance-identifier", "clidb", "--engine", "postgres",
                             "--db-instance-class", "db.t3.micro", "--master-username", "boss",
                             "--master-user-password", "cli-password-1", "--db-name", "clidb"])
    assert r.rc == 0, r
    assert r.json["DBInstance"]["DBInstanceStatus"] == "creating"
    d = wait_available(rds, "clidb")
    assert psql(d["Endpoint"]["Address"], d["Endpoint"]["Port"], "boss", "cli-password-1", "clidb",
                "select current_user").stdout.strip() == "boss"


def timeline(host, port, user, pw, db):
    return int(psql(host, port, user, pw, db, "select timeline_id from pg_control_checkpoint()").stdout.strip())


def test_multi_az_forced_failover(rds):
    rds.create_db_instance(DBInstanceIdentifier="maz", MultiAZ=True, **PG)
    d = wait_available(rds, "maz")
    host, port = d["Endpoint"]["Address"], d["Endpoint"]["Port"]
    psql(host, port, "admin1", "secret-pw-1", "appdb", "create table t(x int); insert into t values (1)")
    tl = timeline(host, port, "admin1", "secret-pw-1", "appdb")
    # the standby must have caught up before a failover keeps every committed row (asynchronous
    # replication, as RDS's own is not: wait until it has replayed the primary's WAL)
    deadline = time.time() + 30
    while psql(host, port, "admin1", "secret-pw-1", "appdb",
               "select count(*) from pg_stat_replication where replay_lsn >= pg_current_wal_lsn()",
               check=False).stdout.strip() != "1":
        assert time.time() < deadline, "the standby never caught up"
        time.sleep(0.2)
    r = rds.reboot_db_instance(DBInstanceIdentifier="maz", ForceFailover=True)["DBInstance"]
    assert r["DBInstanceStatus"] == "rebooting"
    wait_available(rds, "maz")
    deadline = time.time() + 30
    while True:
        r = psql(host, port, "admin1", "secret-pw-1", "appdb", "insert into t values (2)", check=False)
        if r.returncode == 0 or time.time() > deadline:
            break
        time.sleep(0.5)
    assert r.returncode == 0, r.stderr
    assert timeline(host, port, "admin1", "secret-pw-1", "appdb") > tl, "the standby was not promoted"
    assert psql(host, port, "admin1", "secret-pw-1", "appdb", "select count(*) from t").stdout.strip() == "2"


def test_cluster_failover_keeps_rows(rds):
    c = rds.create_db_cluster(DBClusterIdentifier="aur", Engine="aurora-postgresql", MasterUsername="admin1",
                              MasterUserPassword="secret-pw-1", DatabaseName="appdb")["DBCluster"]
    for name in ("aur-1", "aur-2"):
        rds.create_db_instance(DBInstanceIdentifier=name, DBClusterIdentifier="aur", Engine="aurora-postgresql",
                               DBInstanceClass="db.r6g.large")
    wait_available(rds, "aur-1")
    wait_available(rds, "aur-2")
    c = rds.describe_db_clusters(DBClusterIdentifier="aur")["DBClusters"][0]
    writer = [m["DBInstanceIdentifier"] for m in c["DBClusterMembers"] if m["IsClusterWriter"]]
    assert writer == ["aur-1"]
    host, port = c["Endpoint"], c["Port"]
    ro_host = c["ReaderEndpoint"]
    psql(host, port, "admin1", "secret-pw-1", "appdb", "create table t(x int); create user fn2; grant rds_iam to fn2")
    # an rds_iam member gets no login through the cluster writer endpoint without IAM authentication on
    r = psql(host, port, "fn2", "anything", "appdb", "select 1", check=False)
    assert 'PAM authentication failed for user "fn2"' in r.stderr, r.stderr
    committed = 0
    for i in range(20):
        psql(host, port, "admin1", "secret-pw-1", "appdb", f"insert into t values ({i})")
        committed += 1
    # the reader endpoint reaches a read-only standby that has the rows
    deadline = time.time() + 10
    while time.time() < deadline:
        r = psql(ro_host, port, "admin1", "secret-pw-1", "appdb", "select count(*) from t", check=False)
        if r.returncode == 0 and r.stdout.strip() == str(committed):
            break
        time.sleep(0.3)
    assert r.stdout.strip() == str(committed)
    ro = psql(ro_host, port, "admin1", "secret-pw-1", "appdb", "insert into t values (-1)", check=False)
    assert ro.returncode != 0 and "read-only" in ro.stderr

    f = rds.failover_db_cluster(DBClusterIdentifier="aur", TargetDBInstanceIdentifier="aur-2")["DBCluster"]
    assert {m["DBInstanceIdentifier"]: m["IsClusterWriter"] for m in f["DBClusterMembers"]} == \
        {"aur-1": False, "aur-2": True}
    # writes succeed again through the same endpoint, on the promoted server
    deadline = time.time() + 60
    while True:
        r = psql(host, port, "admin1", "secret-pw-1", "appdb", "insert into t values (100)", check=False)
        if r.returncode == 0 or time.time() > deadline:
            break
        time.sleep(0.5)
    assert r.returncode == 0, r.stderr
    committed += 1
    assert psql(host, port, "admin1", "secret-pw-1", "appdb", "select count(*) from t").stdout.strip() == str(committed)
    deadline = time.time() + 60
    while rds.describe_db_clusters(DBClusterIdentifier="aur")["DBClusters"][0]["Status"] != "available":
        assert time.time() < deadline, "cluster never left failing-over"
        time.sleep(0.5)
    # the old writer comes back as a reader of the new one
    deadline = time.time() + 60
    while time.time() < deadline:
        r = psql(ro_host, port, "admin1", "secret-pw-1", "appdb", "select count(*), pg_is_in_recovery() from t",
                 check=False)
        if r.returncode == 0 and r.stdout.strip() == f"{committed}|t":
            break
        time.sleep(0.5)
    assert r.stdout.strip() == f"{committed}|t"


def test_bound_to_existing_server(rds):
    rds.create_db_instance(DBInstanceIdentifier="real", **PG)
    d = wait_available(rds, "real")
    target = f'{d["Endpoint"]["Address"]}:{d["Endpoint"]["Port"]}'
    # an instance bound to an existing server runs none of its own: its endpoint relays there
    b = rds.create_db_instance(DBInstanceIdentifier="bound", Tags=[{"Key": "rdsemu:backend", "Value": target}],
                               **PG)["DBInstance"]
    d2 = wait_available(rds, "bound", attempts=10)
    assert d2["Endpoint"]["Address"] != d["Endpoint"]["Address"]
    assert psql(d2["Endpoint"]["Address"], d2["Endpoint"]["Port"], "admin1", "secret-pw-1", "appdb",
                "select 40 + 2").stdout.strip() == "42"
    del b


def poll_login(host, port, user, pw, db, timeout=20):
    deadline = time.time() + timeout
    while True:
        r = psql(host, port, user, pw, db, "select 1", check=False)
        if r.returncode == 0 or time.time() > deadline:
            return r
        time.sleep(0.3)


def test_master_password_change_reaches_the_server(rds):
    rds.create_db_instance(DBInstanceIdentifier="pw1", **PG)
    d = wait_available(rds, "pw1")
    host, port = d["Endpoint"]["Address"], d["Endpoint"]["Port"]
    rds.modify_db_instance(DBInstanceIdentifier="pw1", MasterUserPassword="second-pw-2", ApplyImmediately=True)
    assert poll_login(host, port, "admin1", "second-pw-2", "appdb").returncode == 0
    assert psql(host, port, "admin1", "secret-pw-1", "appdb", "select 1", check=False).returncode != 0


def test_managed_master_password(endpoint, rds):
    sm = H.make_client(endpoint)
    d = rds.create_db_instance(DBInstanceIdentifier="managed", DBInstanceClass="db.t3.micro", Engine="postgres",
                               MasterUsername="admin1", ManageMasterUserPassword=True, DBName="appdb")["DBInstance"]
    arn = d["MasterUserSecret"]["SecretArn"]
    assert d["MasterUserSecret"]["SecretStatus"] == "active"
    desc = sm.describe_secret(SecretId=arn)
    assert desc["Name"].startswith("rds!db-") and desc["OwningService"] == "rds"
    creds = json.loads(sm.get_secret_value(SecretId=arn)["SecretString"])
    assert creds["username"] == "admin1" and len(creds["password"]) >= 8
    d = wait_available(rds, "managed")
    host, port = d["Endpoint"]["Address"], d["Endpoint"]["Port"]
    assert psql(host, port, "admin1", creds["password"], "appdb", "select 1").returncode == 0
    # users cannot change an RDS-owned secret
    with pytest.raises(sm.exceptions.InvalidRequestException):
        sm.put_secret_value(SecretId=arn, SecretString="{}")
    # RotateMasterUserPassword: a new value in the secret, and on the server
    rds.modify_db_instance(DBInstanceIdentifier="managed", RotateMasterUserPassword=True, ApplyImmediately=True)
    new = json.loads(sm.get_secret_value(SecretId=arn)["SecretString"])["password"]
    assert new != creds["password"]
    assert poll_login(host, port, "admin1", new, "appdb").returncode == 0
    # MasterUserPassword cannot be set while RDS manages it
    with pytest.raises(Exception) as ei:
        rds.modify_db_instance(DBInstanceIdentifier="managed", MasterUserPassword="mine-12345", ApplyImmediately=True)
    assert ei.value.response["Error"]["Code"] == "InvalidParameterCombination"
    rds.delete_db_instance(DBInstanceIdentifier="managed", SkipFinalSnapshot=True)
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.describe_secret(SecretId=arn)


def test_restart_keeps_databases(server_factory, tmp_path):
    state = tmp_path / "state"
    srv = server_factory(args=["--state-dir", str(state)])
    rds = H.make_client(srv.endpoint, service="rds")
    rds.create_db_instance(DBInstanceIdentifier="keep", **PG)
    d = wait_available(rds, "keep")
    host, port = d["Endpoint"]["Address"], d["Endpoint"]["Port"]
    psql(host, port, "admin1", "secret-pw-1", "appdb", "create table t(x int); insert into t values (7)")
    srv.stop_checked(timeout=30)  # stops the database server cleanly
    assert refused(host, port)
    srv2 = server_factory(args=["--state-dir", str(state)])
    rds = H.make_client(srv2.endpoint, service="rds")
    wait_available(rds, "keep")
    assert poll_login(host, port, "admin1", "secret-pw-1", "appdb").returncode == 0
    assert psql(host, port, "admin1", "secret-pw-1", "appdb", "select x from t").stdout.strip() == "7"
    # killed without a chance to stop its servers: the next start adopts the running server
    srv2.proc.kill()
    srv2.proc.wait(timeout=10)
    srv3 = server_factory(args=["--state-dir", str(state)])
    rds = H.make_client(srv3.endpoint, service="rds")
    wait_available(rds, "keep")
    assert poll_login(host, port, "admin1", "secret-pw-1", "appdb").returncode == 0
    assert "reattached" in srv3.log_text()


def test_server_that_cannot_start_is_failed(server, endpoint, rds):
    # a fixture's setup SQL that the server rejects makes the first start fail, as a broken
    # parameter group would in AWS: the instance is "failed", the server's error in rdsemu's log
    H.load_fixtures(endpoint, {"rds": {"instances": [dict(PG, DBInstanceIdentifier="broken",
                                                           InitSQL=["this is not sql"])]}})
    deadline = time.time() + 60
    status = None
    while time.time() < deadline:
        status = rds.describe_db_instances(DBInstanceIdentifier="broken")["DBInstances"][0]["DBInstanceStatus"]
        if status != "creating":
            break
        time.sleep(0.5)
    assert status == "failed"
    assert "syntax error" in server.log_text(200000), "the server's own error is in rdsemu's log"
    with pytest.raises(Exception) as ei:
        rds.modify_db_instance(DBInstanceIdentifier="broken", DeletionProtection=True)
    assert ei.value.response["Error"]["Code"] == "InvalidDBInstanceState"
    rds.delete_db_instance(DBInstanceIdentifier="broken", SkipFinalSnapshot=True)


def test_databases_off_binds_by_host_name(server_factory):
    # one emulator runs a real PostgreSQL on 127.0.0.1 (fixed host mode); a second with
    # --databases off (as in docker/compose.yaml) binds an instance to it by host name
    base1, base2 = H.free_port(), H.free_port()
    while abs(base2 - base1) < 4:
        base2 = H.free_port()
    first = server_factory(args=["--endpoint-host", "127.0.0.1", "--endpoint-port-base", str(base1)])
    rds1 = H.make_client(first.endpoint, service="rds")
    rds1.create_db_instance(DBInstanceIdentifier="real2", **PG)
    d = wait_available(rds1, "real2")
    assert (d["Endpoint"]["Address"], d["Endpoint"]["Port"]) == ("127.0.0.1", base1)
    other = server_factory(args=["--databases", "off", "--endpoint-host", "127.0.0.1",
                                 "--endpoint-port-base", str(base2)])
    rds2 = H.make_client(other.endpoint, service="rds")
    tag = {"Key": "rdsemu:backend", "Value": f"localhost:{base1}"}
    e = rds2.create_db_instance(DBInstanceIdentifier="bound2", Tags=[tag], **PG)["DBInstance"]
    assert (e["Endpoint"]["Address"], e["Endpoint"]["Port"]) == ("127.0.0.1", base2)
    assert e["DBInstanceStatus"] == "available"  # nothing to start
    r = poll_login("127.0.0.1", base2, "admin1", "secret-pw-1", "appdb")
    assert r.returncode == 0, r.stderr
    # an instance of its own is control plane only: its endpoint accepts nothing
    o = rds2.create_db_instance(DBInstanceIdentifier="plain", **PG)["DBInstance"]
    assert o["DBInstanceStatus"] == "available"
    assert refused("127.0.0.1", o["Endpoint"]["Port"])


def test_instance_endpoint_iam_login(endpoint, rds):
    # pattern C: a PostgreSQL instance with IAM database authentication; rds_iam members log in
    # with a token checked by the endpoint (verification + rds-db:connect on db-.../user)
    H.load_fixtures(endpoint, {"rds": {"instances": [dict(PG, DBInstanceIdentifier="iamdb",
                                                          EnableIAMDatabaseAuthentication=True,
                                                          InitSQL=["CREATE USER fn_user",
                                                                   "GRANT rds_iam TO fn_user"])]}})
    d = wait_available(rds, "iamdb")
    host, port = d["Endpoint"]["Address"], d["Endpoint"]["Port"]
    token = rds.generate_db_auth_token(DBHostname=host, Port=port, DBUsername="fn_user", Region="us-east-1")
    for mode in ("require", "disable"):
        env = dict(os.environ, PGPASSWORD=token, PGCONNECT_TIMEOUT="5")
        r = subprocess.run([PSQL, "-X", "-At", f"host={host} port={port} user=fn_user dbname=appdb sslmode={mode}",
                            "-c", "select current_user"], env=env, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and r.stdout.strip() == "fn_user", r.stderr
    bad = psql(host, port, "fn_user", "not-a-token", "appdb", "select 1", check=False)
    assert 'PAM authentication failed for user "fn_user"' in bad.stderr
    # the master user still logs in with its password (the server's own SCRAM)
    assert psql(host, port, "admin1", "secret-pw-1", "appdb", "select 1").stdout.strip() == "1"
    # IAM authentication switched off: rds_iam members cannot log in at all
    rds.modify_db_instance(DBInstanceIdentifier="iamdb", EnableIAMDatabaseAuthentication=False, ApplyImmediately=True)
    r = psql(host, port, "fn_user", token, "appdb", "select 1", check=False)
    assert 'PAM authentication failed for user "fn_user"' in r.stderr
