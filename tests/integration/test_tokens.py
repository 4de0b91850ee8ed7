"""RDS IAM auth tokens made by unmodified clients (the AWS CLI, boto3, the
SDK v3 signer from npm, `rdsemu token`) verified by rdsemu, every rejection
reason, and rds-db:connect evaluated on the token's principal.  Uses the
admin explain endpoint; the database front-ends use the same verifier."""
import datetime
import json
import shutil
import subprocess
from unittest import mock

import boto3
import pytest

import helpers as H

HOST = "mydb.abcdefghij.us-east-1.rds.amazonaws.com"
PROXY_ID = "prx-0123456789abcdef0"


def explain(endpoint, token, user="app", hosts=(HOST,), port=5432, region=None, resource_id=None):
    body = {"token": token, "user": user, "hosts": list(hosts), "port": port}
    if region:
        body["region"] = region
    if resource_id:
        body["resource_id"] = resource_id
    status, out = H.http_post(endpoint + "/_rdsemu/token/explain", json.dumps(body).encode())
    assert status == 200, out
    return json.loads(out)


def boto3_token(key=H.ADMIN_KEY, secret=H.ADMIN_SECRET, token=None, host=HOST, port=5432, user="app",
                region=H.REGION, at=None):
    rds = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token,
                                region_name=region).client("rds")
    if at is None:
        return rds.generate_db_auth_token(host, port, user)
    with frozen_signing_clock(at):
        return rds.generate_db_auth_token(host, port, user)


def frozen_signing_clock(at):
    """Freezes botocore's signing clock: newer botocore reads get_current_datetime(), older
    releases (Debian 12's 1.29) call datetime.datetime.utcnow() inside botocore.auth."""
    import botocore.auth
    if hasattr(botocore.auth, "get_current_datetime"):
        return mock.patch("botocore.auth.get_current_datetime", return_value=at)

    class FrozenDatetime(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return at.replace(tzinfo=None)

    shim = mock.Mock(wraps=datetime)
    shim.datetime = FrozenDatetime
    return mock.patch("botocore.auth.datetime", shim)


def env():
    return H.clean_env({"AWS_ACCESS_KEY_ID": H.ADMIN_KEY, "AWS_SECRET_ACCESS_KEY": H.ADMIN_SECRET,
                        "AWS_DEFAULT_REGION": H.REGION, "AWS_REGION": H.REGION})


def test_tokens_from_every_client_verify(endpoint):
    cli = subprocess.run(H.aws_cli_command() + ["rds", "generate-db-auth-token", "--hostname", HOST, "--port", "5432",
                          "--username", "app"], capture_output=True, text=True, env=env(), timeout=60)
    assert cli.returncode == 0, cli.stderr
    own = subprocess.run([str(H.BIN), "token", "--host", HOST, "--user", "app"], capture_output=True, text=True,
                         env=env(), timeout=10)
    assert own.returncode == 0, own.stderr
    tokens = {"aws cli": cli.stdout.strip(), "boto3": boto3_token(), "rdsemu token": own.stdout.strip()}
    node = shutil.which("node")
    assert node, "node is needed for the SDK v3 signer (scripts/test installs it)"
    js = subprocess.run([node, "--no-warnings", "auth-token.mjs", HOST, "5432", "app"],
                        cwd=H.REPO / "examples" / "sdk-v3", capture_output=True, text=True, env=env(), timeout=60)
    assert js.returncode == 0, js.stderr
    tokens["sdk v3"] = js.stdout.strip()
    for who, tok in tokens.items():
        r = explain(endpoint, tok)
        assert r["accepted"], (who, r)
        assert r["principal"] == "arn:aws:iam::%s:root" % H.ACCOUNT
        assert tok not in json.dumps(r), "the token must never be echoed"


def test_port_443_quirk_js_signs_host_with_port(endpoint):
    node = shutil.which("node")
    js = subprocess.run([node, "--no-warnings", "auth-token.mjs", HOST, "443", "app"],
                        cwd=H.REPO / "examples" / "sdk-v3", capture_output=True, text=True, env=env(), timeout=60)
    assert js.returncode == 0, js.stderr
    assert explain(endpoint, js.stdout.strip(), port=443)["accepted"]
    assert explain(endpoint, boto3_token(port=443), port=443)["accepted"]


@pytest.mark.parametrize("case", ["tampered", "expired", "future", "wrong-user", "user-case", "wrong-region",
                                  "wrong-service", "wrong-host", "unknown-key", "garbage"])
def test_rejections_with_reasons(endpoint, case):
    now = datetime.datetime.now(datetime.timezone.utc)
    tok, kw, check = boto3_token(), {}, None
    if case == "tampered":
        i = tok.index("X-Amz-Signature=") + 20
        tok = tok[:i] + ("0" if tok[i] != "0" else "1") + tok[i + 1:]
        check = "signature"
    elif case == "expired":
        tok, check = boto3_token(at=now - datetime.timedelta(seconds=901)), "time"
    elif case == "future":
        tok, check = boto3_token(at=now + datetime.timedelta(minutes=10)), "time"
    elif case == "wrong-user":
        kw, check = {"user": "admin"}, "dbuser"
    elif case == "user-case":
        kw, check = {"user": "App"}, "dbuser"
    elif case == "wrong-region":
        tok, check = boto3_token(region="eu-west-1"), "region"
    elif case == "wrong-service":
        tok, check = tok.replace("%2Frds-db%2F", "%2Frds%2F"), "service"
    elif case == "wrong-host":
        kw, check = {"hosts": ["other.abcdefghij.us-east-1.rds.amazonaws.com"]}, "host"
    elif case == "unknown-key":
        tok, check = boto3_token(key="AKIAUNKNOWNKEY000000"), "key"
    elif case == "garbage":
        tok, check = "not a token at all", "shape"
    r = explain(endpoint, tok, **kw)
    assert not r["accepted"]
    failed = [c["check"] for c in r["checks"] if not c["passed"]]
    assert failed and failed[0] == check, (case, r)
    assert r["reason"]


def test_expired_session_token(endpoint, clock):
    iam, sts = H.make_client(endpoint, service="iam"), H.make_client(endpoint, service="sts")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:root" % H.ACCOUNT}, "Action": "sts:AssumeRole"}]})
    role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument=trust)["Role"]
    c = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", DurationSeconds=900)["Credentials"]
    tok = boto3_token(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    assert explain(endpoint, tok)["accepted"]
    no_session = boto3_token(c["AccessKeyId"], c["SecretAccessKey"])
    r = explain(endpoint, no_session)
    assert not r["accepted"] and [c["check"] for c in r["checks"] if not c["passed"]][0] == "session"
    clock(901)
    r = explain(endpoint, tok)
    assert not r["accepted"] and [c["check"] for c in r["checks"] if not c["passed"]][0] == "session"


def test_rds_db_connect_policy(endpoint):
    iam = H.make_client(endpoint, service="iam")
    iam.create_user(UserName="lambda-fn")
    iam.put_user_policy(UserName="lambda-fn", PolicyName="connect", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "rds-db:connect",
                                                "Resource": "arn:aws:rds-db:us-east-1:%s:dbuser:%s/app" % (H.ACCOUNT, PROXY_ID)}]}))
    k = iam.create_access_key(UserName="lambda-fn")["AccessKey"]
    tok = boto3_token(k["AccessKeyId"], k["SecretAccessKey"])
    ok = explain(endpoint, tok, resource_id=PROXY_ID)
    assert ok["accepted"] and ok["authorization"]["decision"] == "Allow"
    assert ok["resource"] == "arn:aws:rds-db:us-east-1:%s:dbuser:%s/app" % (H.ACCOUNT, PROXY_ID)
    no = explain(endpoint, tok, resource_id="db-ABCDEFGHIJKLMNOPQRSTUVWXY")
    assert not no["accepted"]
    assert no["authorization"]["message"] == (
        "User: arn:aws:iam::%s:user/lambda-fn is not authorized to perform: rds-db:connect on resource: "
        "arn:aws:rds-db:us-east-1:%s:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXY/app because no identity-based policy "
        "allows the rds-db:connect action" % (H.ACCOUNT, H.ACCOUNT))


def test_rdsemu_token_command_errors():
    r = subprocess.run([str(H.BIN), "token", "--host", HOST], capture_output=True, text=True, env=env(), timeout=10)
    assert r.returncode == 2 and "--user" in r.stderr
    r = subprocess.run([str(H.BIN), "token", "--host", HOST, "--user", "app"], capture_output=True, text=True,
                       env=H.clean_env(), timeout=10)
    assert r.returncode == 2 and "no credentials" in r.stderr
