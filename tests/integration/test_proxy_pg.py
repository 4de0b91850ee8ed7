"""The RDS Proxy data plane for PostgreSQL, with psql: secret logins (SCRAM and MD5 challenges
against the secret's password), IAM token logins over TLS (tokens from boto3 and the AWS CLI,
rds-db:connect evaluated), RequireTLS, TLS verify-full against rdsemu's CA, the start-up checks and
errors of aws-behaviour.md 3.4/3.9, transaction-level pooling (many clients, few backends),
pinning, and the borrow timeout."""
import json
import os
import shutil
import subprocess
import threading
import time

import pytest

import helpers as H

PSQL = shutil.which("psql")
pytestmark = pytest.mark.skipif(not PSQL, reason="needs psql")

ACCT = H.ACCOUNT


def fixture_doc(require_tls=False, client_auth="POSTGRES_SCRAM_SHA_256"):
    role_policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
         "Resource": "arn:aws:secretsmanager:us-east-1:%s:secret:px/*" % ACCT}]}
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "rds.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    return {
        "iam": {"roles": [{"RoleName": "px-role", "AssumeRolePolicyDocument": trust,
                           "Policies": [{"PolicyName": "read", "PolicyDocument": role_policy}]}]},
        "secrets": [
            {"Name": "px/app", "SecretString": '{"username":"app_user","password":"app-pw-1"}'},
            {"Name": "px/iam", "SecretString": '{"username":"iam_user","password":"iam-db-pw-1"}'},
            {"Name": "other/unreadable", "SecretString": '{"username":"ghost","password":"ghost-pw-1"}'},
        ],
        "rds": {
            "instances": [{"DBInstanceIdentifier": "pxdb", "Engine": "postgres", "DBInstanceClass": "db.t3.micro",
                           "MasterUsername": "master", "MasterUserPassword": "master-pw-1", "DBName": "appdb",
                           "InitSQL": ["CREATE USER app_user PASSWORD 'app-pw-1'",
                                       "CREATE USER iam_user PASSWORD 'iam-db-pw-1'",
                                       "CREATE USER ghost PASSWORD 'ghost-pw-1'",
                                       "GRANT ALL ON DATABASE appdb TO app_user, iam_user",
                                       "GRANT ALL ON SCHEMA public TO app_user"]}],
            "proxies": [{"DBProxyName": "px", "EngineFamily": "POSTGRESQL",
                         "RoleArn": "arn:aws:iam::%s:role/px-role" % ACCT,
                         "VpcSubnetIds": ["subnet-a", "subnet-b"], "RequireTLS": require_tls,
                         "Auth": [{"AuthScheme": "SECRETS", "SecretArn": "px/app", "IAMAuth": "DISABLED",
                                   "ClientPasswordAuthType": client_auth},
                                  {"AuthScheme": "SECRETS", "SecretArn": "px/iam", "IAMAuth": "REQUIRED"},
                                  {"AuthScheme": "SECRETS", "SecretArn": "other/unreadable", "IAMAuth": "DISABLED"}],
                         "Targets": {"DBInstanceIdentifiers": ["pxdb"]}}]},
    }


def aurora_doc():
    """fixture_doc's proxy in front of an Aurora PostgreSQL cluster "aur" with instances aur-1 (writer)
    and aur-2."""
    doc = fixture_doc()
    doc["rds"] = {
        "clusters": [{"DBClusterIdentifier": "aur", "Engine": "aurora-postgresql", "MasterUsername": "master",
                      "MasterUserPassword": "master-pw-1", "DatabaseName": "appdb"}],
        "instances": [{"DBInstanceIdentifier": "aur-1", "DBClusterIdentifier": "aur", "Engine": "aurora-postgresql",
                       "DBInstanceClass": "db.r6g.large",
                       "InitSQL": ["CREATE USER app_user PASSWORD 'app-pw-1'",
                                   "GRANT ALL ON SCHEMA public TO app_user"]},
                      {"DBInstanceIdentifier": "aur-2", "DBClusterIdentifier": "aur", "Engine": "aurora-postgresql",
                       "DBInstanceClass": "db.r6g.large"}],
        "proxies": [dict(doc["rds"]["proxies"][0], Targets={"DBClusterIdentifiers": ["aur"]})],
    }
    return doc


@pytest.fixture
def proxy(endpoint):
    H.load_fixtures(endpoint, fixture_doc())
    rds = H.make_client(endpoint, service="rds")
    rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier="pxdb",
                                                 WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    p = rds.describe_db_proxies(DBProxyName="px")["DBProxies"][0]
    inst = rds.describe_db_instances(DBInstanceIdentifier="pxdb")["DBInstances"][0]
    return {"host": p["Endpoint"], "port": 5432, "rds": rds, "instance": inst["Endpoint"]}


def psql(host, port, user, password, sql, sslmode="disable", extra_env=None, db="appdb", extra_conn=""):
    env = dict(os.environ, PGPASSWORD=password, PGCONNECT_TIMEOUT="10", PGAPPNAME="pytest")
    env.pop("PGOPTIONS", None)
    env.update(extra_env or {})
    conn = f"host={host} port={port} user={user} dbname={db} sslmode={sslmode} {extra_conn}"
    return subprocess.run([PSQL, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", conn, "-c", sql], env=env,
                          capture_output=True, text=True, timeout=60)


def test_secret_login_scram(proxy):
    r = psql(proxy["host"], 5432, "app_user", "app-pw-1", "select current_user, 40 + 2")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "app_user|42"


def test_secret_login_errors(proxy):
    r = psql(proxy["host"], 5432, "app_user", "wrong-pw", "select 1")
    assert r.returncode != 0
    assert "The password that was provided for the role app_user is wrong." in r.stderr
    r = psql(proxy["host"], 5432, "nobody", "x", "select 1")
    assert "This RDS proxy has no credentials for the role nobody." in r.stderr
    # a secret the proxy's role may not read is as good as no secret
    r = psql(proxy["host"], 5432, "ghost", "ghost-pw-1", "select 1")
    assert "This RDS proxy has no credentials for the role ghost." in r.stderr
    r = psql(proxy["host"], 5432, "app_user", "app-pw-1", "select 1", extra_env={"PGOPTIONS": "-c work_mem=1MB"})
    assert "RDS Proxy currently doesn\u2019t support command-line options." in r.stderr


def test_iam_token_login(proxy, endpoint):
    rds = proxy["rds"]
    token = rds.generate_db_auth_token(DBHostname=proxy["host"], Port=5432, DBUsername="iam_user",
                                       Region="us-east-1")
    r = psql(proxy["host"], 5432, "iam_user", token, "select current_user", sslmode="require")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "iam_user"
    # without TLS the proxy refuses to take a token at all
    r = psql(proxy["host"], 5432, "iam_user", token, "select 1", sslmode="disable")
    assert "IAM authentication is allowed only with SSL connections." in r.stderr
    # a token for another user, or the database password, fails as AWS says
    other = rds.generate_db_auth_token(DBHostname=proxy["host"], Port=5432, DBUsername="app_user",
                                       Region="us-east-1")
    for bad in (other, "iam-db-pw-1"):
        r = psql(proxy["host"], 5432, "iam_user", bad, "select 1", sslmode="require")
        assert ("The IAM authentication failed for the role iam_user. Check the IAM token for this role and "
                "try again.") in r.stderr
    # the AWS CLI's token works too
    cli = H.run_cli(endpoint, ["rds", "generate-db-auth-token", "--hostname", proxy["host"], "--port", "5432",
                               "--username", "iam_user"], ) if H.aws_cli_command() else None
    if cli is not None:
        assert cli.rc == 0, cli
        r = psql(proxy["host"], 5432, "iam_user", cli.stdout.strip(), "select 1", sslmode="require")
        assert r.returncode == 0, r.stderr


def test_require_tls_and_verify_full(proxy, endpoint, tmp_path):
    rds = proxy["rds"]
    rds.modify_db_proxy(DBProxyName="px", RequireTLS=True)
    r = psql(proxy["host"], 5432, "app_user", "app-pw-1", "select 1", sslmode="disable")
    assert "This RDS Proxy requires TLS connections" in r.stderr
    status, body = H.http_get(endpoint + "/_rdsemu/ca.pem")
    assert status == 200 and b"BEGIN CERTIFICATE" in body
    ca = tmp_path / "ca.pem"
    ca.write_bytes(body)
    r = psql(proxy["host"], 5432, "app_user", "app-pw-1", "select ssl from pg_stat_ssl where pid = pg_backend_pid()",
             sslmode="verify-full", extra_conn=f"sslrootcert={ca}")
    assert r.returncode == 0, r.stderr


def test_lambda_in_node_patterns_a_and_b(proxy, endpoint, tmp_path):
    """What a Node.js Lambda does, with unmodified npm packages: pattern A (a token from
    @aws-sdk/rds-signer) and pattern B (the password from @aws-sdk/client-secrets-manager), then pg
    (its own SCRAM, the extended protocol) to the proxy over TLS verified against rdsemu's CA."""
    node = shutil.which("node")
    example = H.REPO / "examples" / "sdk-v3"
    if not node or not (example / "node_modules" / "pg").exists():
        pytest.fail("node and examples/sdk-v3/node_modules are needed (scripts/test installs them)")
    status, body = H.http_get(endpoint + "/_rdsemu/ca.pem")
    assert status == 200
    ca = tmp_path / "ca.pem"
    ca.write_bytes(body)
    env = H.clean_env({"AWS_ACCESS_KEY_ID": H.ADMIN_KEY, "AWS_SECRET_ACCESS_KEY": H.ADMIN_SECRET,
                       "AWS_REGION": H.REGION, "AWS_ENDPOINT_URL": endpoint})

    def lambda_run(*args):
        p = subprocess.run([node, "--no-warnings", "lambda-proxy.mjs", *args], cwd=example, env=env,
                           capture_output=True, text=True, timeout=60)
        lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
        assert lines, (p.returncode, p.stdout, p.stderr)
        return p.returncode, json.loads(lines[-1])

    rc, out = lambda_run("iam", proxy["host"], "5432", "iam_user", "appdb", str(ca))
    assert rc == 0 and out == {"user": "iam_user", "sum": 42, "tls": True, "rows": 3}, out
    rc, out = lambda_run("secret", proxy["host"], "5432", "px/app", "appdb", str(ca))
    assert rc == 0 and out == {"user": "app_user", "sum": 42, "tls": True, "rows": 3}, out
    # a token for another user is refused with AWS's text, through the same code path
    rc, out = lambda_run("iam", proxy["host"], "5432", "nobody", "appdb", str(ca))
    assert rc == 1 and "This RDS proxy has no credentials for the role nobody." in out["error"], out


def test_pooling_many_clients_few_backends(proxy):
    # 30 clients one after the other, each one transaction: the proxy reuses one backend login
    for i in range(30):
        r = psql(proxy["host"], 5432, "app_user", "app-pw-1", f"select {i}")
        assert r.returncode == 0 and r.stdout.strip() == str(i), r.stderr
    inst = proxy["instance"]
    r = psql(inst["Address"], inst["Port"], "master", "master-pw-1",
             "select count(*) from pg_stat_activity where usename = 'app_user'")
    assert r.returncode == 0, r.stderr
    assert int(r.stdout.strip()) <= 2


def test_pinning_is_logged(proxy, server):
    r = psql(proxy["host"], 5432, "app_user", "app-pw-1", "SET work_mem = '8MB'; SHOW work_mem")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "8MB"
    deadline = time.time() + 5
    while "The client session was pinned" not in server.log_text(300000) and time.time() < deadline:
        time.sleep(0.2)
    assert "Reason: SQL changed session settings that the proxy doesn't track." in server.log_text(300000)


def test_borrow_timeout(proxy):
    rds = proxy["rds"]
    # db.t3.micro: max_connections 112, 1% -> one backend; a second client waits 1 s, then fails
    rds.modify_db_proxy_target_group(DBProxyName="px", TargetGroupName="default",
                                     ConnectionPoolConfig={"MaxConnectionsPercent": 1,
                                                           "MaxIdleConnectionsPercent": 1,
                                                           "ConnectionBorrowTimeout": 1})
    holder = threading.Thread(target=psql, args=(proxy["host"], 5432, "app_user", "app-pw-1",
                                                 "begin; select pg_sleep(4); commit"))
    holder.start()
    time.sleep(1.5)
    r = psql(proxy["host"], 5432, "app_user", "app-pw-1", "select 1")
    holder.join()
    assert r.returncode != 0
    assert "Timed-out waiting to acquire database connection." in r.stderr


def _psycopg2():
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        import sys
        sys.path.append("/usr/lib/python3/dist-packages")  # Debian's python3-psycopg2
    try:
        import psycopg2
        return psycopg2
    except ImportError:
        return None


def test_psycopg2_transactions_copy_and_vanishing_client(proxy):
    pg = _psycopg2()
    if pg is None:
        pytest.skip("needs psycopg2 (python3-psycopg2)")
    dsn = f"host={proxy['host']} port=5432 user=app_user password=app-pw-1 dbname=appdb sslmode=require"
    a = pg.connect(dsn)
    cur = a.cursor()
    cur.execute("create table if not exists t(x int)")
    a.commit()
    # COPY in both directions through the proxy
    import io
    cur.copy_expert("copy t from stdin", io.StringIO("".join(f"{i}\n" for i in range(1000))))
    a.commit()
    out = io.StringIO()
    cur.copy_expert("copy (select sum(x) from t) to stdout", out)
    assert out.getvalue().strip() == str(sum(range(1000)))
    # a transaction left open by a client that vanishes is rolled back, never handed to another
    b = pg.connect(dsn)
    bc = b.cursor()
    bc.execute("insert into t values (-1)")  # psycopg2 opened a transaction: not committed
    b.close()
    cur.execute("select count(*) from t where x = -1")
    assert cur.fetchone()[0] == 0
    cur.execute("select txid_current_if_assigned() is null")  # a clean backend: no transaction of another client
    a.rollback()
    # errors inside a transaction stay with this client; the session recovers
    try:
        cur.execute("select 1/0")
    except pg.Error as e:
        assert e.pgcode == "22012"
    a.rollback()
    cur.execute("select 42")
    assert cur.fetchone()[0] == 42
    a.close()


def test_bad_input_is_refused_cleanly(proxy):
    import socket
    import struct
    host = proxy["host"]
    # a start-up packet over the limit, before any authentication: closed, nothing read beyond
    s = socket.create_connection((host, 5432), timeout=5)
    s.sendall(struct.pack("!ii", 20000, 196608) + b"x" * 100)
    assert s.recv(100) == b""
    s.close()
    # protocol 2.0 and unknown start-up options get AWS's texts
    s = socket.create_connection((host, 5432), timeout=5)
    s.sendall(struct.pack("!ii", 8, 2 << 16))
    reply = s.recv(1000)
    assert reply[:1] == b"E" and b"supports only version 3.0" in reply
    s.close()
    body = b"user\0app_user\0database\0appdb\0geqo\0on\0\0"
    s = socket.create_connection((host, 5432), timeout=5)
    s.sendall(struct.pack("!ii", 8 + len(body), 196608) + body)
    reply = s.recv(1000)
    assert b"RDS Proxy currently doesn't support the option geqo." in reply
    s.close()
    body = b"database\0appdb\0\0"
    s = socket.create_connection((host, 5432), timeout=5)
    s.sendall(struct.pack("!ii", 8 + len(body), 196608) + body)
    assert b"A user name is missing from the connection startup packet." in s.recv(1000)
    s.close()
    # truncated messages and a vanishing client: nothing breaks
    for junk in (b"\0\0", struct.pack("!ii", 100, 196608) + b"user\0", b"Q\0\0\0\x10sel"):
        s = socket.create_connection((host, 5432), timeout=5)
        s.sendall(junk)
        s.close()
    # a 64 KiB "token" is refused as a token, not a crash
    r = psql(host, 5432, "iam_user", "a" * 65536, "select 1", sslmode="require")
    assert "The IAM authentication failed for the role iam_user." in r.stderr
    r = psql(host, 5432, "app_user", "app-pw-1", "select 'still serving'")
    assert r.returncode == 0 and r.stdout.strip() == "still serving", r.stderr


def test_startup_refusals_replication_and_sasl_mechanism(proxy):
    import socket
    import struct
    host = proxy["host"]
    body = b"user\0app_user\0database\0appdb\0replication\0database\0\0"
    s = socket.create_connection((host, 5432), timeout=5)
    s.sendall(struct.pack("!ii", 8 + len(body), 196608) + body)
    reply = s.recv(1000)
    assert b"0A000" in reply and b"RDS Proxy currently doesn't support streaming replication mode." in reply
    s.close()
    # a SASL mechanism other than SCRAM-SHA-256 (channel binding's -PLUS included)
    body = b"user\0app_user\0database\0appdb\0\0"
    s = socket.create_connection((host, 5432), timeout=5)
    s.sendall(struct.pack("!ii", 8 + len(body), 196608) + body)
    reply = s.recv(1000)
    assert reply[:1] == b"R" and b"SCRAM-SHA-256" in reply
    mech = b"SCRAM-SHA-256-PLUS\0"
    data = b"p=tls-server-end-point,,n=,r=abcdef"
    payload = mech + struct.pack("!i", len(data)) + data
    s.sendall(b"p" + struct.pack("!i", 4 + len(payload)) + payload)
    reply = s.recv(1000)
    assert b"28000" in reply and b"RDS Proxy supports only IAM, MD5, or SCRAM authentication." in reply
    s.close()


def test_client_connection_and_rate_limits(proxy):
    """The proxy's limits (AWS does not publish them; rdsemu takes them from the proxy's tags) refuse
    with AWS's texts, SQLSTATE 53300, and count again once a connection closes or a second passes."""
    pg = _psycopg2()
    rds = proxy["rds"]
    arn = rds.describe_db_proxies(DBProxyName="px")["DBProxies"][0]["DBProxyArn"]
    dsn = dict(host=proxy["host"], port=5432, dbname="appdb", user="app_user", password="app-pw-1",
               sslmode="disable", connect_timeout=10)
    rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "rdsemu:MaxClientConnections", "Value": "2"}])
    held = [pg.connect(**dsn) for _ in range(2)]
    try:
        with pytest.raises(pg.OperationalError) as ei:
            pg.connect(**dsn)
        assert "The maximum number of client connections to the proxy exceeded 2." in str(ei.value)
        held.pop().close()
        c = pg.connect(**dsn)
        held.append(c)
        with c.cursor() as cur:
            cur.execute("select 7")
            assert cur.fetchone()[0] == 7
    finally:
        for c in held:
            c.close()
    rds.remove_tags_from_resource(ResourceName=arn, TagKeys=["rdsemu:MaxClientConnections"])
    rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "rdsemu:MaxConnectionRate", "Value": "3"}])
    def refusals(n, **conn):  # the errors of n logins in a row
        out = []
        for _ in range(n):
            try:
                pg.connect(**conn).close()
            except pg.OperationalError as e:
                out.append(str(e))
        return out

    refused = refusals(8, **dsn)
    assert refused and all("Rate of connection to proxy exceeded 3." in e for e in refused), refused
    time.sleep(1.1)
    pg.connect(**dsn).close()
    rds.remove_tags_from_resource(ResourceName=arn, TagKeys=["rdsemu:MaxConnectionRate"])
    rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "rdsemu:MaxIAMAuthRate", "Value": "1"}])
    token = rds.generate_db_auth_token(DBHostname=proxy["host"], Port=5432, DBUsername="iam_user",
                                       Region="us-east-1")
    iam = dict(dsn, user="iam_user", password=token, sslmode="require")
    refused = refusals(4, **iam)
    assert refused and all("The IAM authentication failed because of too many competing requests." in e
                           for e in refused), refused
    rds.remove_tags_from_resource(ResourceName=arn, TagKeys=["rdsemu:MaxIAMAuthRate"])
    for _ in range(3):
        pg.connect(**iam).close()


def test_md5_client_auth(endpoint):
    H.load_fixtures(endpoint, fixture_doc(client_auth="POSTGRES_MD5"))
    rds = H.make_client(endpoint, service="rds")
    rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier="pxdb",
                                                 WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    host = rds.describe_db_proxies(DBProxyName="px")["DBProxies"][0]["Endpoint"]
    r = psql(host, 5432, "app_user", "app-pw-1", "select current_user")
    assert r.returncode == 0 and r.stdout.strip() == "app_user", r.stderr
    r = psql(host, 5432, "app_user", "nope-nope", "select 1")
    assert "The password that was provided for the role app_user is wrong." in r.stderr


def test_secret_rotation_is_picked_up(proxy, endpoint):
    sm = H.make_client(endpoint)
    # the application user's password changes in the database and in the secret
    inst = proxy["instance"]
    r = psql(inst["Address"], inst["Port"], "master", "master-pw-1", "alter user app_user password 'app-pw-2'")
    assert r.returncode == 0, r.stderr
    sm.put_secret_value(SecretId="px/app", SecretString='{"username":"app_user","password":"app-pw-2"}')
    r = psql(proxy["host"], 5432, "app_user", "app-pw-2", "select 2")
    assert r.returncode == 0 and r.stdout.strip() == "2", r.stderr
    r = psql(proxy["host"], 5432, "app_user", "app-pw-1", "select 1")
    assert "The password that was provided for the role app_user is wrong." in r.stderr


def test_proxy_role_must_trust_rds(proxy, endpoint, server):
    """The service assumes the proxy's role: a trust policy without rds.amazonaws.com (a common
    misconfiguration: the Lambda trust policy copied) leaves the proxy without credentials, and so
    does a RoleArn naming no role."""
    iam = H.make_client(endpoint, service="iam")
    lambda_trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    rds_trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "rds.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    ok = psql(proxy["host"], 5432, "app_user", "app-pw-1", "select 1")
    assert ok.returncode == 0, ok.stderr
    iam.update_assume_role_policy(RoleName="px-role", PolicyDocument=json.dumps(lambda_trust))
    r = psql(proxy["host"], 5432, "app_user", "app-pw-1", "select 1")
    assert r.returncode != 0
    assert "This RDS proxy has no credentials for the role app_user." in r.stderr
    H.poll(lambda: "sts:AssumeRole" in server.log_text(300000), timeout=5)
    assert "rds.amazonaws.com is not authorized to perform: sts:AssumeRole" in server.log_text(300000)
    h = proxy["rds"].describe_db_proxy_targets(DBProxyName="px")["Targets"][0]["TargetHealth"]
    assert h["State"] == "UNAVAILABLE" and h["Reason"] == "AUTH_FAILURE", h
    assert h["Description"].startswith("Proxy can't read its credentials from Secrets Manager: User: "
                                       "rds.amazonaws.com is not authorized to perform: sts:AssumeRole"), h
    assert h["Description"].endswith(" allows the sts:AssumeRole action"), h
    iam.update_assume_role_policy(RoleName="px-role", PolicyDocument=json.dumps(rds_trust))
    r = psql(proxy["host"], 5432, "app_user", "app-pw-1", "select 1")
    assert r.returncode == 0 and r.stdout.strip() == "1", r.stderr
    h = proxy["rds"].describe_db_proxy_targets(DBProxyName="px")["Targets"][0]["TargetHealth"]
    assert h == {"State": "AVAILABLE"}, h
    proxy["rds"].modify_db_proxy(DBProxyName="px", RoleArn="arn:aws:iam::%s:role/no-such-role" % ACCT)
    r = psql(proxy["host"], 5432, "app_user", "app-pw-1", "select 1")
    assert "This RDS proxy has no credentials for the role app_user." in r.stderr


def test_failover_idle_clients_survive(endpoint):
    """A proxy in front of an Aurora PostgreSQL cluster: an idle client keeps its connection through
    FailoverDBCluster, and its next transaction runs on the promoted writer."""
    pg = _psycopg2()
    if pg is None:
        pytest.skip("needs psycopg2 (python3-psycopg2)")
    H.load_fixtures(endpoint, aurora_doc())
    rds = H.make_client(endpoint, service="rds")
    for i in ("aur-1", "aur-2"):
        rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=i, WaiterConfig={"Delay": 1, "MaxAttempts": 90})
    host = rds.describe_db_proxies(DBProxyName="px")["DBProxies"][0]["Endpoint"]
    conn = pg.connect(f"host={host} port=5432 user=app_user password=app-pw-1 dbname=appdb sslmode=require")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("create table t(x int); insert into t values (1)")
    cur.execute("select inet_server_port(), pg_is_in_recovery(), (select count(*) from t)")
    assert cur.fetchone()[1:] == (False, 1)
    rds.failover_db_cluster(DBClusterIdentifier="aur", TargetDBInstanceIdentifier="aur-2")
    deadline = time.time() + 60
    while rds.describe_db_clusters(DBClusterIdentifier="aur")["DBClusters"][0]["Status"] != "available":
        assert time.time() < deadline
        time.sleep(0.5)
    # the same client connection, idle through the failover: its next transactions write on aur-2
    deadline = time.time() + 30
    while True:
        try:
            cur.execute("insert into t values (2) returning pg_is_in_recovery()")
            assert cur.fetchone()[0] is False
            break
        except pg.Error:
            assert time.time() < deadline, "writes never came back through the proxy"
            time.sleep(0.5)
    cur.execute("select count(*) from t")
    assert cur.fetchone()[0] == 2
    targets = rds.describe_db_proxy_targets(DBProxyName="px")["Targets"]
    roles = {t["RdsResourceId"]: t.get("Role") for t in targets if t["Type"] == "RDS_INSTANCE"}
    assert roles == {"aur-1": "READ_ONLY", "aur-2": "READ_WRITE"}
    conn.close()


def test_metrics(proxy, endpoint):
    import json as _json
    for i in range(3):
        assert psql(proxy["host"], 5432, "app_user", "app-pw-1", "select 1").returncode == 0
    assert psql(proxy["host"], 5432, "app_user", "bad-pw", "select 1").returncode != 0
    status, body = H.http_get(endpoint + "/_rdsemu/proxy/metrics")
    assert status == 200
    m = {p["ProxyName"]: p for p in _json.loads(body)["Proxies"]}["px"]
    assert m["ClientConnectionsSetupSucceeded"] >= 3 and m["ClientConnectionsSetupFailedAuth"] >= 1
    assert m["QueryRequests"] >= 3 and m["ClientConnections"] == 0
    assert m["DatabaseConnections"] >= 1 and m["DatabaseConnectionsCurrentlyBorrowed"] == 0
    assert m["MaxDatabaseConnectionsAllowed"] == 112  # 100% of db.t3.micro's 112
    status, text = H.http_get(endpoint + "/_rdsemu/metrics")
    assert status == 200 and b'rds_proxy_ClientConnectionsSetupSucceeded{ProxyName="px"}' in text


def test_target_health_reflects_backend_logins(proxy):
    rds = proxy["rds"]
    t = rds.describe_db_proxy_targets(DBProxyName="px")["Targets"][0]
    assert t["TargetHealth"]["State"] == "AVAILABLE"
    # the database password no longer matches the secret: the client's login to the proxy works,
    # the proxy's login to the database does not, and the target says so
    inst = proxy["instance"]
    assert psql(inst["Address"], inst["Port"], "master", "master-pw-1",
                "alter user app_user password 'changed-behind-the-proxy'").returncode == 0
    r = psql(proxy["host"], 5432, "app_user", "app-pw-1", "select 1")
    assert r.returncode != 0 and "Request returned an error:" in r.stderr
    h = rds.describe_db_proxy_targets(DBProxyName="px")["Targets"][0]["TargetHealth"]
    assert h["State"] == "UNAVAILABLE" and h["Reason"] == "AUTH_FAILURE", h
    assert psql(inst["Address"], inst["Port"], "master", "master-pw-1",
                "alter user app_user password 'app-pw-1'").returncode == 0
    assert psql(proxy["host"], 5432, "app_user", "app-pw-1", "select 1").returncode == 0
    assert rds.describe_db_proxy_targets(DBProxyName="px")["Targets"][0]["TargetHealth"]["State"] == "AVAILABLE"


def test_idle_client_timeout(proxy):
    pg = _psycopg2()
    if pg is None:
        pytest.skip("needs psycopg2 (python3-psycopg2)")
    proxy["rds"].modify_db_proxy(DBProxyName="px", IdleClientTimeout=1)
    conn = pg.connect(f"host={proxy['host']} port=5432 user=app_user password=app-pw-1 dbname=appdb")
    conn.autocommit = True
    conn.cursor().execute("select 1")
    time.sleep(2.5)  # idle longer than IdleClientTimeout: the proxy closes the connection
    with pytest.raises(pg.Error):
        conn.cursor().execute("select 1")
    busy = pg.connect(f"host={proxy['host']} port=5432 user=app_user password=app-pw-1 dbname=appdb")
    busy.autocommit = True
    for _ in range(4):  # a client that keeps working is not idle
        busy.cursor().execute("select pg_sleep(0.5)")
    busy.cursor().execute("select 1")
    busy.close()


def test_tls_to_a_backend_that_offers_it(endpoint, server):
    """A proxy whose target is reached over TCP (an instance bound to an existing server with the
    rdsemu:backend tag) asks that server for TLS first and uses it when offered: here the existing
    server is another instance's endpoint, whose front-end takes SSLRequest."""
    doc = fixture_doc()
    doc["rds"]["instances"][0]["DBInstanceIdentifier"] = "realdb"
    H.load_fixtures(endpoint, doc | {"rds": {"instances": doc["rds"]["instances"]}})
    rds = H.make_client(endpoint, service="rds")
    rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier="realdb",
                                                 WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    real = rds.describe_db_instances(DBInstanceIdentifier="realdb")["DBInstances"][0]["Endpoint"]
    rds.create_db_instance(DBInstanceIdentifier="pxdb", Engine="postgres", DBInstanceClass="db.t3.micro",
                           MasterUsername="master", MasterUserPassword="master-pw-1",
                           Tags=[{"Key": "rdsemu:backend", "Value": f"{real['Address']}:{real['Port']}"}])
    rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier="pxdb",
                                                 WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    p = doc["rds"]["proxies"][0]
    arn = H.make_client(endpoint).describe_secret(SecretId="px/app")["ARN"]
    rds.create_db_proxy(DBProxyName="px", EngineFamily="POSTGRESQL", RoleArn=p["RoleArn"],
                        VpcSubnetIds=p["VpcSubnetIds"], Auth=[dict(p["Auth"][0], SecretArn=arn)])
    rds.register_db_proxy_targets(DBProxyName="px", DBInstanceIdentifiers=["pxdb"])
    host = rds.describe_db_proxies(DBProxyName="px")["DBProxies"][0]["Endpoint"]
    deadline = time.time() + 30
    while True:
        r = psql(host, 5432, "app_user", "app-pw-1", "select current_user, 6 * 7")
        if r.returncode == 0 or time.time() > deadline:
            break
        time.sleep(0.3)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "app_user|42"
    deadline = time.time() + 5
    while "new database connection" not in server.log_text(300000) and time.time() < deadline:
        time.sleep(0.2)
    lines = [ln for ln in server.log_text(300000).splitlines() if "new database connection" in ln and "app_user" in ln]
    assert lines and lines[-1].endswith("to pxdb (TLS)"), lines[-3:]


def test_debug_logging_turns_itself_off_after_24_hours(proxy, endpoint, server):
    pg = _psycopg2()
    if pg is None:
        pytest.skip("needs psycopg2 (python3-psycopg2)")
    rds = proxy["rds"]
    rds.modify_db_proxy(DBProxyName="px", DebugLogging=True)
    conn = pg.connect(f"host={proxy['host']} port=5432 user=app_user password=app-pw-1 dbname=appdb")
    conn.autocommit = True
    try:
        conn.cursor().execute("select 'dbg-before-7431'")
        deadline = time.time() + 5
        while "dbg-before-7431" not in server.log_text(300000) and time.time() < deadline:
            time.sleep(0.2)
        assert "dbg-before-7431" in server.log_text(300000)
        H.set_clock(endpoint, 86400 + 60)
        assert rds.describe_db_proxies(DBProxyName="px")["DBProxies"][0]["DebugLogging"] is False
        conn.cursor().execute("select 'dbg-after-7431'")  # the same session stops logging SQL
        other = pg.connect(f"host={proxy['host']} port=5432 user=app_user password=app-pw-1 dbname=appdb")
        other.autocommit = True
        other.cursor().execute("select 'dbg-new-session-7431'")
        other.close()
        time.sleep(0.5)
        log = server.log_text(300000)
        assert "dbg-after-7431" not in log and "dbg-new-session-7431" not in log
        # turned on again, it logs again for another 24 hours
        rds.modify_db_proxy(DBProxyName="px", DebugLogging=True)
        assert rds.describe_db_proxies(DBProxyName="px")["DBProxies"][0]["DebugLogging"] is True
    finally:
        conn.close()
        H.set_clock(endpoint, 0)


def test_startup_parameters_are_session_state(proxy):
    """application_name and client_encoding given at start-up reach the session: backends log in
    with them, and a LATIN1 client never shares a UTF8 client's backend."""
    r = psql(proxy["host"], 5432, "app_user", "app-pw-1", "show client_encoding; show application_name",
             extra_env={"PGCLIENTENCODING": "LATIN1", "PGAPPNAME": "latin-app"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["LATIN1", "latin-app"]
    r = psql(proxy["host"], 5432, "app_user", "app-pw-1", "select convert_to(chr(233), 'LATIN1')",
             extra_env={"PGCLIENTENCODING": "LATIN1"})
    assert r.returncode == 0 and r.stdout.strip() == "\\xe9", r.stderr
    r = psql(proxy["host"], 5432, "app_user", "app-pw-1", "show client_encoding; show application_name",
             extra_env={"PGCLIENTENCODING": "UTF8", "PGAPPNAME": "utf-app"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["UTF8", "utf-app"]
    # libpq sends PGTZ and PGDATESTYLE as "timezone" and "datestyle": parameter names ignore case
    r = psql(proxy["host"], 5432, "app_user", "app-pw-1", "show timezone; show datestyle",
             extra_env={"PGTZ": "Asia/Tokyo", "PGDATESTYLE": "SQL, DMY"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines() == ["Asia/Tokyo", "SQL, DMY"]


def test_end_to_end_iam(endpoint):
    """DefaultAuthScheme IAM_AUTH: clients log in with IAM tokens and the proxy logs in to the database
    with IAM as its own role (no secret): the role needs rds-db:connect on the database user, the user
    must be an IAM user of the database (rds_iam), and IAM authentication must be on."""
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "rds.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    connect = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "rds-db:connect",
         "Resource": ["arn:aws:rds-db:us-east-1:%s:dbuser:db-*/e2e_user" % ACCT,
                      "arn:aws:rds-db:us-east-1:%s:dbuser:db-*/pw_user" % ACCT]}]}
    H.load_fixtures(endpoint, {
        "iam": {"roles": [{"RoleName": "e2e-role", "AssumeRolePolicyDocument": trust,
                           "Policies": [{"PolicyName": "connect", "PolicyDocument": connect}]}]},
        "rds": {
            "instances": [{"DBInstanceIdentifier": "e2edb", "Engine": "postgres", "DBInstanceClass": "db.t3.micro",
                           "MasterUsername": "master", "MasterUserPassword": "master-pw-1", "DBName": "appdb",
                           "EnableIAMDatabaseAuthentication": True,
                           "InitSQL": ["CREATE USER e2e_user", "GRANT rds_iam TO e2e_user",
                                       "CREATE USER e2e_other", "GRANT rds_iam TO e2e_other",
                                       "CREATE USER pw_user PASSWORD 'pw-user-1'",
                                       "GRANT ALL ON DATABASE appdb TO e2e_user, e2e_other, pw_user"]}],
            "proxies": [{"DBProxyName": "e2e", "EngineFamily": "POSTGRESQL", "DefaultAuthScheme": "IAM_AUTH",
                         "RoleArn": "arn:aws:iam::%s:role/e2e-role" % ACCT, "VpcSubnetIds": ["subnet-a", "subnet-b"],
                         "Targets": {"DBInstanceIdentifiers": ["e2edb"]}}]}})
    rds = H.make_client(endpoint, service="rds")
    rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier="e2edb",
                                                 WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    host = rds.describe_db_proxies(DBProxyName="e2e")["DBProxies"][0]["Endpoint"]

    def token(user):
        return rds.generate_db_auth_token(DBHostname=host, Port=5432, DBUsername=user, Region="us-east-1")

    r = psql(host, 5432, "e2e_user", token("e2e_user"), "select current_user", sslmode="require")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "e2e_user"
    # a token is still needed from the client, over TLS
    r = psql(host, 5432, "e2e_user", token("e2e_user"), "select 1", sslmode="disable")
    assert "IAM authentication is allowed only with SSL connections." in r.stderr
    r = psql(host, 5432, "e2e_user", "not-a-token", "select 1", sslmode="require")
    assert "The IAM authentication failed for the role e2e_user." in r.stderr
    # the proxy's role may not connect as e2e_other; it may as pw_user, who is no IAM user of the database
    for user in ("e2e_other", "pw_user"):
        r = psql(host, 5432, user, token(user), "select 1", sslmode="require")
        assert r.returncode != 0
        assert f'PAM authentication failed for user "{user}"' in r.stderr, r.stderr


def test_notify_reaches_a_listening_session(proxy):
    """LISTEN pins the session, so notifications sent by other clients (through the proxy, on other
    backends) reach it while it is idle."""
    pg = _psycopg2()
    if pg is None:
        pytest.skip("needs psycopg2 (python3-psycopg2)")
    import select
    dsn = f"host={proxy['host']} port=5432 user=app_user password=app-pw-1 dbname=appdb"
    listener = pg.connect(dsn)
    listener.autocommit = True
    try:
        listener.cursor().execute("LISTEN jobs")
        sender = pg.connect(dsn)
        sender.autocommit = True
        sender.cursor().execute("NOTIFY jobs, 'job-17'")
        sender.close()
        got = []
        deadline = time.time() + 10
        while not got and time.time() < deadline:
            if select.select([listener], [], [], 0.5)[0]:
                listener.poll()
                got += [n.payload for n in listener.notifies]
        assert got == ["job-17"]
    finally:
        listener.close()


def test_large_copy_both_ways_over_tls(proxy):
    """Megabytes through a TLS client connection in both directions (COPY FROM STDIN, COPY TO STDOUT):
    bytes OpenSSL has decrypted but the proxy has not yet read raise no epoll event, and must not be
    forgotten when the stream pauses on back-pressure."""
    pg = _psycopg2()
    if pg is None:
        pytest.skip("needs psycopg2 (python3-psycopg2)")
    import io
    conn = pg.connect(f"host={proxy['host']} port=5432 user=app_user password=app-pw-1 dbname=appdb "
                      "sslmode=require")
    try:
        cur = conn.cursor()
        cur.execute("create table big(n int, pad text)")
        rows = 200000
        data = "".join(f"{i}\t{'x' * 40}\n" for i in range(rows))
        cur.copy_expert("copy big from stdin", io.StringIO(data))
        conn.commit()
        out = io.StringIO()
        cur.copy_expert("copy big to stdout", out)
        conn.commit()
        assert out.getvalue() == data
        cur.execute("select count(*), sum(n) from big")
        assert cur.fetchone() == (rows, rows * (rows - 1) // 2)
    finally:
        conn.close()
