"""The state `scripts/start` serves (fixtures/default.json) loads, and does
what the README shows: the pattern secrets exist and the pattern B role
reads only its own secret."""
import json

import botocore.exceptions
import pytest

import helpers as H


def test_default_fixtures(server_factory):
    srv = server_factory(args=["--fixtures", str(H.REPO / "fixtures" / "default.json")])
    sm = H.make_client(srv.endpoint)
    names = {s["Name"] for s in sm.list_secrets()["SecretList"]}
    assert {"rdsemu/patternB/app", "rdsemu/patternC/app", "rdsemu/patternD/mariadb",
            "rdsemu/example/rotating"} <= names
    creds = json.loads(sm.get_secret_value(SecretId="rdsemu/patternB/app")["SecretString"])
    assert {"engine", "host", "port", "username", "password", "dbname"} <= set(creds)
    assert sm.describe_secret(SecretId="rdsemu/example/rotating")["RotationEnabled"] is True
    sts = H.make_client(srv.endpoint, service="sts")
    c = sts.assume_role(RoleArn="arn:aws:iam::%s:role/rdsemu-lambda-patternB" % H.ACCOUNT,
                        RoleSessionName="readme")["Credentials"]
    role_sm = H.make_client(srv.endpoint, key=c["AccessKeyId"], secret=c["SecretAccessKey"], token=c["SessionToken"])
    assert role_sm.get_secret_value(SecretId="rdsemu/patternB/app")["Name"] == "rdsemu/patternB/app"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        role_sm.get_secret_value(SecretId="rdsemu/patternD/mariadb")
    assert ei.value.response["Error"]["Code"] == "AccessDeniedException"


def _password(sm, sid):
    return json.loads(sm.get_secret_value(SecretId=sid)["SecretString"])


def test_default_fixtures_databases(server_factory):
    """The four patterns' resources: instances that come up with their application users, the
    proxy with its two auth entries and target, and the secrets pointing at the endpoints."""
    import shutil
    import subprocess
    import time
    srv = server_factory(args=["--fixtures", str(H.REPO / "fixtures" / "default.json")])
    rds = H.make_client(srv.endpoint, service="rds")
    sm = H.make_client(srv.endpoint)
    for ident in ("rdsemu-pg", "rdsemu-mariadb"):
        rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=ident,
                                                     WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    pg = rds.describe_db_instances(DBInstanceIdentifier="rdsemu-pg")["DBInstances"][0]
    maria = rds.describe_db_instances(DBInstanceIdentifier="rdsemu-mariadb")["DBInstances"][0]
    assert pg["IAMDatabaseAuthenticationEnabled"] is True
    proxy = rds.describe_db_proxies(DBProxyName="rdsemu-proxy")["DBProxies"][0]
    assert proxy["RequireTLS"] is True and proxy["EngineFamily"] == "POSTGRESQL"
    assert [a["IAMAuth"] for a in proxy["Auth"]] == ["REQUIRED", "DISABLED"]
    targets = rds.describe_db_proxy_targets(DBProxyName="rdsemu-proxy")["Targets"]
    assert [t["RdsResourceId"] for t in targets] == ["rdsemu-pg"]
    # each pattern's secret names the endpoint it is for
    c = _password(sm, "rdsemu/patternC/app")
    d = _password(sm, "rdsemu/patternD/mariadb")
    b = _password(sm, "rdsemu/patternB/app")
    assert (c["host"], c["port"]) == (pg["Endpoint"]["Address"], pg["Endpoint"]["Port"])
    assert (d["host"], d["port"]) == (maria["Endpoint"]["Address"], maria["Endpoint"]["Port"])
    assert b["host"] == proxy["Endpoint"]
    # pattern C with the secret, pattern D with the secret: real logins
    psql = shutil.which("psql")
    if psql:
        r = subprocess.run([psql, "-X", "-At", "-h", c["host"], "-p", str(c["port"]), "-U", c["username"], "-d",
                            c["dbname"], "-c", "select current_user"], env=dict(H.clean_env(), PGPASSWORD=c["password"]),
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and r.stdout.strip() == "app_user", r.stderr
    mariadb = shutil.which("mariadb")
    if mariadb:
        r = subprocess.run([mariadb, "--protocol=TCP", "-h", d["host"], "-P", str(d["port"]), "-u", d["username"],
                            "-p" + d["password"], "-N", "-B", "-e", "select current_user()", d["dbname"]],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and r.stdout.strip().startswith("app_user@"), r.stderr
    # pattern B: the secret's password through the proxy (TLS required); pattern A: an IAM token
    # made with the pattern A Lambda role's credentials, through the proxy over TLS
    if psql:
        r = subprocess.run([psql, "-X", "-At", f"host={b['host']} port={b['port']} user={b['username']} "
                            f"dbname={b['dbname']} sslmode=require", "-c", "select current_user"],
                           env=dict(H.clean_env(), PGPASSWORD=b["password"]), capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 0 and r.stdout.strip() == "app_user", r.stderr
        sts = H.make_client(srv.endpoint, service="sts")
        cr = sts.assume_role(RoleArn="arn:aws:iam::%s:role/rdsemu-lambda-patternA" % H.ACCOUNT,
                             RoleSessionName="fn")["Credentials"]
        role_rds = H.make_client(srv.endpoint, service="rds", key=cr["AccessKeyId"], secret=cr["SecretAccessKey"],
                                 token=cr["SessionToken"])
        tok = role_rds.generate_db_auth_token(DBHostname=proxy["Endpoint"], Port=5432, DBUsername="lambda_iam",
                                              Region="us-east-1")
        r = subprocess.run([psql, "-X", "-At", f"host={proxy['Endpoint']} port=5432 user=lambda_iam dbname=appdb "
                            "sslmode=require", "-c", "select current_user"],
                           env=dict(H.clean_env(), PGPASSWORD=tok), capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and r.stdout.strip() == "lambda_iam", r.stderr
        # the same role may not log in as another user
        tok = role_rds.generate_db_auth_token(DBHostname=proxy["Endpoint"], Port=5432, DBUsername="app_user",
                                              Region="us-east-1")
        r = subprocess.run([psql, "-X", "-At", f"host={proxy['Endpoint']} port=5432 user=app_user dbname=appdb "
                            "sslmode=require", "-c", "select 1"],
                           env=dict(H.clean_env(), PGPASSWORD=tok), capture_output=True, text=True, timeout=30)
        assert r.returncode != 0
    # pattern C with an IAM token: the pattern C role's token for lambda_direct (an rds_iam member)
    if psql:
        cr = sts.assume_role(RoleArn="arn:aws:iam::%s:role/rdsemu-lambda-patternC" % H.ACCOUNT,
                             RoleSessionName="fn")["Credentials"]
        role_rds = H.make_client(srv.endpoint, service="rds", key=cr["AccessKeyId"], secret=cr["SecretAccessKey"],
                                 token=cr["SessionToken"])
        tok = role_rds.generate_db_auth_token(DBHostname=c["host"], Port=5432, DBUsername="lambda_direct",
                                              Region="us-east-1")
        r = subprocess.run([psql, "-X", "-At", f"host={c['host']} port=5432 user=lambda_direct dbname=appdb "
                            "sslmode=require", "-c", "select current_user"],
                           env=dict(H.clean_env(), PGPASSWORD=tok), capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and r.stdout.strip() == "lambda_direct", r.stderr
    # the connect notes are printed once everything is up
    deadline = time.time() + 10
    while "How to connect" not in srv.log_text() and time.time() < deadline:
        time.sleep(0.2)
    assert "How to connect" in srv.log_text() and "DB instances available in" in srv.log_text()
