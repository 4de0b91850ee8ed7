"""Configuration (flags, RDSEMU_* environment, --config JSON file; flags win over the environment,
which wins over the file) and pointing unmodified clients at the emulator with AWS_ENDPOINT_URL."""

import json

import boto3
import pytest

import helpers as H


def test_port_from_environment(server_factory):
    port = H.free_port()
    env = H.clean_env({"RDSEMU_PORT": str(port), "RDSEMU_LISTEN": "127.0.0.1", "RDSEMU_EPHEMERAL": "1"})
    srv = server_factory(env=env, port=port, pass_port_flag=False, ephemeral=False)
    assert srv.endpoint.endswith(f":{port}")
    c = H.make_client(srv.endpoint)
    c.create_secret(Name="env-port", SecretString="x")
    assert c.get_secret_value(SecretId="env-port")["SecretString"] == "x"


def test_flag_wins_over_environment(server_factory):
    port = H.free_port()
    env_port = H.free_port()
    env = H.clean_env({"RDSEMU_PORT": str(env_port), "RDSEMU_AUTH": "permissive"})
    srv = server_factory(["--auth", "enforce"], env=env, port=port)
    assert H.healthy(srv.endpoint)
    with pytest.raises(OSError):
        H.http_get(f"http://127.0.0.1:{env_port}/_rdsemu/health", timeout=1)
    c = H.make_client(srv.endpoint, key="AKIAANYKEY0000000000", secret="x")
    H.expect_error(c.list_secrets, "UnrecognizedClientException", H.MSG_UNKNOWN_KEY)


def test_account_region_auth_from_environment(server_factory):
    env = H.clean_env({"RDSEMU_ACCOUNT_ID": "123456789012", "RDSEMU_AUTH": "permissive", "RDSEMU_REGION": "eu-west-1"})
    srv = server_factory(env=env)
    c = H.make_client(srv.endpoint, key="AKIAWHATEVER00000000", secret="anything")
    arn = c.create_secret(Name="acct", SecretString="x")["ARN"]
    m = H.ARN_RE.match(arn)
    assert m["account"] == "123456789012"
    assert m["region"] == "us-east-1"  # requests use the region of their credential scope


def test_account_id_flag(server_factory):
    srv = server_factory(["--account-id", "222222222222"])
    arn = H.make_client(srv.endpoint).create_secret(Name="acct", SecretString="x")["ARN"]
    assert H.ARN_RE.match(arn)["account"] == "222222222222"


def test_config_file(server_factory, tmp_path):
    port = H.free_port()
    cfg = tmp_path / "rdsemu.json"
    cfg.write_text(json.dumps({"port": port, "listen": "127.0.0.1", "auth": "permissive", "ephemeral": True,
                               "account-id": "333333333333"}))
    srv = server_factory(["--config", str(cfg)], port=port, pass_port_flag=False, ephemeral=False)
    c = H.make_client(srv.endpoint, key="AKIAFROMCONFIG000000", secret="zzz")
    arn = c.create_secret(Name="cfg", SecretString="x")["ARN"]
    assert H.ARN_RE.match(arn)["account"] == "333333333333"


def test_environment_wins_over_config_file(server_factory, tmp_path):
    port = H.free_port()
    cfg = tmp_path / "rdsemu.json"
    cfg.write_text(json.dumps({"port": H.free_port(), "auth": "permissive", "ephemeral": True}))
    env = H.clean_env({"RDSEMU_PORT": str(port), "RDSEMU_AUTH": "enforce", "RDSEMU_LISTEN": "127.0.0.1"})
    srv = server_factory(["--config", str(cfg)], env=env, port=port, pass_port_flag=False, ephemeral=False)
    c = H.make_client(srv.endpoint, key="AKIAANYKEY0000000000", secret="x")
    H.expect_error(c.list_secrets, "UnrecognizedClientException", H.MSG_UNKNOWN_KEY)


@pytest.mark.parametrize("args", [["--port", "notaport"], ["--auth", "sometimes"], ["--account-id", "12"],
                                  ["--no-such-flag"]])
def test_bad_settings_fail_start(server_factory, args):
    srv = server_factory(args, start=False)
    with pytest.raises(RuntimeError, match="exited"):
        srv.start(timeout=10)
    assert srv.proc.returncode != 0


def test_boto3_with_aws_endpoint_url_only(endpoint, monkeypatch):
    """Unmodified code: no endpoint_url in the program, only AWS_ENDPOINT_URL in the environment."""
    if H.botocore_version() < (1, 31, 0):
        pytest.skip(f"botocore {H.botocore_version()} < 1.31 has no AWS_ENDPOINT_URL support")
    for k in list(__import__("os").environ):
        if k.startswith("AWS_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/rdsemu-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/rdsemu-credentials")
    c = boto3.session.Session().client("secretsmanager", config=H.client_config())
    assert c.meta.endpoint_url.rstrip("/") == endpoint
    c.create_secret(Name="from-env", SecretString="v")
    assert H.make_client(endpoint).get_secret_value(SecretId="from-env")["SecretString"] == "v"
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint)
    c2 = boto3.session.Session().client("secretsmanager", config=H.client_config())
    assert c2.meta.endpoint_url.rstrip("/") == endpoint
    assert c2.get_secret_value(SecretId="from-env")["SecretString"] == "v"
