"""Persistence with --state-dir: state survives a clean stop (SIGTERM) and every acknowledged write
survives a SIGKILL in the middle of a stream of writes."""

import json
import signal
import threading
import time

import helpers as H


def snapshot(c, names):
    """Everything observable about the named secrets of one region (by name, so that secrets
    scheduled for deletion are included without ListSecrets IncludePlannedDeletion)."""
    out = {}
    listed = sorted(x["Name"] for x in c.list_secrets()["SecretList"])
    out["_listed"] = listed
    for name in names:
        d = H.describe_full(c, name)
        s = {"ARN": d["ARN"], "Name": name}
        d.pop("ResponseMetadata")
        d.pop("LastAccessedDate", None)
        versions = {}
        kw = {}
        while True:
            r = c.list_secret_version_ids(SecretId=s["ARN"], IncludeDeprecated=True, **kw)
            for v in r["Versions"]:
                versions[v["VersionId"]] = (sorted(v.get("VersionStages", [])), v["CreatedDate"])
            if not r.get("NextToken"):
                break
            kw = {"NextToken": r["NextToken"]}
        values = {}
        if "DeletedDate" not in d:
            for vid in versions:
                try:
                    g = c.get_secret_value(SecretId=s["ARN"], VersionId=vid)
                    values[vid] = g.get("SecretString", g.get("SecretBinary"))
                except H.ClientError as e:
                    values[vid] = e.response["Error"]["Code"]
        pol = c.get_resource_policy(SecretId=s["ARN"]).get("ResourcePolicy")
        out[s["Name"]] = {"describe": d, "versions": versions, "values": values, "policy": pol}
    return out


def test_state_survives_restart(server_factory, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    srv = server_factory(["--state-dir", str(state)])
    c = H.make_client(srv.endpoint)
    west = H.make_client(srv.endpoint, region="us-west-2")
    c.create_secret(Name="app/db", SecretString=json.dumps({"password": "p1"}), Description="d",
                    Tags=[{"Key": "env", "Value": "prod"}])
    c.put_secret_value(SecretId="app/db", SecretString=json.dumps({"password": "p2"}))
    c.put_secret_value(SecretId="app/db", SecretString="pending", VersionStages=["AWSPENDING"])
    c.put_secret_value(SecretId="app/db", SecretString=json.dumps({"password": "p3"}))
    c.create_secret(Name="bin", SecretBinary=b"\x00\x01\x02")
    c.create_secret(Name="doomed", SecretString="x")
    c.delete_secret(SecretId="doomed", RecoveryWindowInDays=7)
    c.create_secret(Name="empty")
    c.put_resource_policy(SecretId="bin", ResourcePolicy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
         "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}))
    west.create_secret(Name="west", SecretString="w")
    c.get_secret_value(SecretId="app/db")
    names = ["app/db", "bin", "doomed", "empty"]
    before, before_west = snapshot(c, names), snapshot(west, ["west"])
    assert before["_listed"] == ["app/db", "bin", "empty"]

    rc = srv.stop(signal.SIGTERM, timeout=10)
    assert rc == 0, f"rdsemu exited with {rc} on SIGTERM; log:\n{srv.log_text()}"

    srv2 = server_factory(["--state-dir", str(state)])
    c2 = H.make_client(srv2.endpoint)
    after, after_west = snapshot(c2, names), snapshot(H.make_client(srv2.endpoint, region="us-west-2"), ["west"])
    assert after == before
    assert after_west == before_west
    assert H.is_aware_datetime(c2.describe_secret(SecretId="app/db")["LastAccessedDate"])
    # and it is still writable, continuing the same version chain
    cur = H.version_with(H.stages_of(c2, "app/db"), "AWSCURRENT")
    new = c2.put_secret_value(SecretId="app/db", SecretString="p4")["VersionId"]
    st = H.stages_of(c2, "app/db")
    assert st[new] == ["AWSCURRENT"] and st[cur] == ["AWSPREVIOUS"]


def test_ephemeral_leaves_nothing_behind(server_factory, tmp_path):
    srv = server_factory()
    H.make_client(srv.endpoint).create_secret(Name="x", SecretString="y")
    srv.stop()
    srv2 = server_factory()
    assert H.make_client(srv2.endpoint).list_secrets()["SecretList"] == []


def test_acknowledged_writes_survive_sigkill(server_factory, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    srv = server_factory(["--state-dir", str(state)])
    c = H.make_client(srv.endpoint)
    c.create_secret(Name="stream", SecretString="v0")
    acked, errors = [], []
    stop = threading.Event()

    def writer():
        wc = H.make_client(srv.endpoint)
        i = 0
        deadline = time.monotonic() + 3.0
        while not stop.is_set() and time.monotonic() < deadline:
            i += 1
            tok = H.token()
            try:
                r = wc.put_secret_value(SecretId="stream", SecretString=f"v{i}", ClientRequestToken=tok)
            except Exception as e:  # the kill ends the stream
                errors.append(repr(e))
                return
            assert r["VersionId"] == tok
            acked.append((tok, f"v{i}"))

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    H.poll(lambda: len(acked) >= 20, timeout=5, interval=0.01, desc="20 acknowledged writes")
    time.sleep(0.2)
    srv.kill()  # SIGKILL mid-stream
    stop.set()
    t.join(timeout=10)
    assert not t.is_alive()
    assert acked, "no write was acknowledged"

    srv2 = server_factory(["--state-dir", str(state)])
    c2 = H.make_client(srv2.endpoint)
    present, kw, rounds = set(), {}, 0
    while True:
        r = c2.list_secret_version_ids(SecretId="stream", IncludeDeprecated=True, MaxResults=100, **kw)
        present |= {v["VersionId"] for v in r["Versions"]}
        rounds += 1
        assert rounds < 1000
        if not r.get("NextToken"):
            break
        kw = {"NextToken": r["NextToken"]}
    missing = [tok for tok, _ in acked if tok not in present]
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged versions lost, e.g. {missing[:3]}"
    # the last acknowledged value (or a later, unacknowledged one) is current
    cur = c2.get_secret_value(SecretId="stream")
    last_tok, last_val = acked[-1]
    if cur["VersionId"] == last_tok:
        assert cur["SecretString"] == last_val
    else:
        assert cur["VersionId"] not in {tok for tok, _ in acked[:-1]}, "AWSCURRENT went backwards"
    for tok, val in acked[-5:]:
        assert c2.get_secret_value(SecretId="stream", VersionId=tok)["SecretString"] == val
