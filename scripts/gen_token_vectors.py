#!/usr/bin/env python3
"""Generate RDS IAM auth token vectors for rdsemu (fixtures/tokens/).

One set of cases (hosts, ports 5432/3306/443, users with special and
non-ASCII characters, regions, with and without session tokens) is turned
into tokens by three independent signers, each with a frozen clock:

  botocore.json   botocore's RDS client generate_db_auth_token
  aws_cli.json    `aws rds generate-db-auth-token`: the AWS CLI's own driver
                  (awscli.clidriver), run in this process so botocore's clock
                  can be frozen (there is no faketime here).  As a check that
                  the in-process run is the real thing, the `aws` program is
                  also run as a child with the real clock, and its token must
                  equal botocore's for the X-Amz-Date it carries.
  sdk_js_v3.json  @aws-sdk/rds-signer via scripts/token-vectors-js/gen.mjs
                  (needs node and `npm ci` there; kept as is otherwise)

Each vector holds the inputs (host, port, user, region, access key id,
secret, session token, time) and the token.  The fuzz seed corpus
fixtures/fuzz/token/ (raw tokens, for tests/fuzz/fuzz_token.c) is seeded
from all three, with truncations and a few malformed variants; libFuzzer's
additions there are left alone.

Usage: python3 scripts/gen_token_vectors.py   (no network; writes into the
repository this script lives in).
"""

import base64
import contextlib
import datetime
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import botocore
import botocore.auth
import botocore.session

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "tokens")
FUZZ = os.path.join(ROOT, "fixtures", "fuzz", "token")
JSDIR = os.path.join(ROOT, "scripts", "token-vectors-js")

AKID = "AKIAIOSFODNN7EXAMPLE"
TEMP_AKID = "ASIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE/TOKEN+WITH=special/chars"
# Real STS session tokens are 700-1200+ characters of base64.
LONG_TOKEN = "IQoJb3JpZ2luX2Vj" + base64.b64encode(hashlib.sha512(b"rdsemu").digest() * 12).decode()

T0 = datetime.datetime(2024, 1, 1, 0, 0, 0)
T1 = datetime.datetime(2025, 6, 30, 23, 59, 59)

# name, description, host, port, user, region, akid, session token, time
CASES = [
    ("basic_5432", "aws-behaviour.md 2.6 TOKEN1", "mydb.c0abcdefghij.us-east-1.rds.amazonaws.com", 5432,
     "jane_doe", "us-east-1", AKID, None, T0),
    ("proxy_3306_session", "aws-behaviour.md 2.6 TOKEN2: proxy, session token, user with @",
     "myproxy.proxy-c0abcdefghij.us-east-1.rds.amazonaws.com", 3306, "app@user", "us-east-1", AKID, TOKEN, T0),
    ("localhost_443", "aws-behaviour.md 2.6 TOKEN3: port 443 (botocore leaves it out of the signed host, JS keeps it)",
     "localhost", 443, "u", "us-east-1", AKID, None, T0),
    ("long_session_temp", "temporary key with a realistic 1 KB session token, user with space and +",
     "db.cluster-c0abcdefghij.eu-west-1.rds.amazonaws.com", 5432, "iam user+1", "eu-west-1", TEMP_AKID, LONG_TOKEN, T0),
    ("plus_at_user", "user app+user@x", "mydb.c1xyzxyzxyzx.ap-southeast-2.rds.amazonaws.com", 5432, "app+user@x",
     "ap-southeast-2", AKID, None, T1),
    ("mixed_case_host", "host in mixed case (botocore signs it in lower case, JS as given)",
     "MyDB.C0ABCDEFGHIJ.US-EAST-1.rds.amazonaws.com", 5432, "jane_doe", "us-east-1", AKID, None, T0),
    ("mixed_case_443_session", "mixed case, port 443 and a session token together", "MyProxy.Example.COM", 443,
     "Admin", "us-west-2", TEMP_AKID, TOKEN, T1),
    ("ip_3306", "IPv4 address as the host, MySQL port", "127.0.0.1", 3306, "root", "eu-central-1", AKID, None, T0),
    ("unicode_user", "non-ASCII user name (UTF-8, percent-encoded)", "pg.c0abcdefghij.us-east-2.rds.amazonaws.com",
     5432, "\u00fcser_\u00f1", "us-east-2", AKID, None, T0),
    ("reserved_user", "user with characters JS and botocore both encode: space / = & ! * ' ( )",
     "pg.c0abcdefghij.us-east-2.rds.amazonaws.com", 5432, "a b/c=d&e!*'()", "us-east-2", AKID, None, T1),
    ("govcloud", "AWS GovCloud region", "db.c0abcdefghij.us-gov-west-1.rds.amazonaws.com", 5432, "gov_user",
     "us-gov-west-1", TEMP_AKID, LONG_TOKEN, T1),
]


def epoch(dt):
    return int(dt.replace(tzinfo=datetime.timezone.utc).timestamp())


def freeze(dt):
    botocore.auth.get_current_datetime = lambda *a, **k: dt


def case_inputs(c):
    name, desc, host, port, user, region, akid, token, when = c
    return {
        "name": name,
        "description": desc,
        "host": host,
        "port": port,
        "user": user,
        "region": region,
        "access_key_id": akid,
        "secret_access_key": SECRET,
        "session_token": token,
        "time": when.strftime("%Y%m%dT%H%M%SZ"),
        "epoch": epoch(when),
    }


def botocore_token(host, port, user, region, akid, token, when):
    freeze(when)
    session = botocore.session.Session()
    client = session.create_client("rds", region_name=region, aws_access_key_id=akid,
                                   aws_secret_access_key=SECRET, aws_session_token=token)
    return client.generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user, Region=region)


@contextlib.contextmanager
def cli_env(akid, token):
    keep = dict(os.environ)
    for k in list(os.environ):
        if k.startswith("AWS_") and k != "AWS_DATA_PATH":  # awscli points this at its own data
            del os.environ[k]
    os.environ.update({"AWS_ACCESS_KEY_ID": akid, "AWS_SECRET_ACCESS_KEY": SECRET,
                       "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
    if token:
        os.environ["AWS_SESSION_TOKEN"] = token
    try:
        yield dict(os.environ)
    finally:
        os.environ.clear()
        os.environ.update(keep)


def cli_args(host, port, user, region):
    return ["rds", "generate-db-auth-token", "--hostname", host, "--port", str(port), "--username", user,
            "--region", region]


def cli_token(host, port, user, region, akid, token, when):
    from awscli.clidriver import create_clidriver

    freeze(when)
    with cli_env(akid, token):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = create_clidriver().main(cli_args(host, port, user, region))
    if rc != 0:
        raise SystemExit(f"aws rds generate-db-auth-token failed ({rc})")
    return out.getvalue().strip()


def live_cli_check():
    """The installed `aws` program, real clock: its token must be botocore's
    token for the X-Amz-Date it carries."""
    aws = shutil.which("aws")
    if not aws:
        print("warning: no `aws` on PATH; live CLI check skipped", file=sys.stderr)
        return
    c = CASES[1]
    _, _, host, port, user, region, akid, token, _ = c
    with cli_env(akid, token) as env:
        tok = subprocess.run([aws] + cli_args(host, port, user, region), env=env, check=True,
                             capture_output=True, text=True).stdout.strip()
    amz = parse_qs(urlsplit("https://" + tok).query)["X-Amz-Date"][0]
    when = datetime.datetime.strptime(amz, "%Y%m%dT%H%M%SZ")
    want = botocore_token(host, port, user, region, akid, token, when)
    if tok != want:
        raise SystemExit(f"live `aws` token differs from botocore's for {amz}")
    print(f"live `aws` token at {amz} equals botocore's", file=sys.stderr)


def js_vectors(cases):
    node = shutil.which("node")
    if not node or not os.path.isdir(os.path.join(JSDIR, "node_modules", "@aws-sdk", "rds-signer")):
        print("warning: node or scripts/token-vectors-js/node_modules missing (run `npm ci` there); "
              "sdk_js_v3.json kept as it is", file=sys.stderr)
        return None
    r = subprocess.run([node, "gen.mjs"], cwd=JSDIR, input=json.dumps(cases), capture_output=True, text=True,
                       check=True)
    return json.loads(r.stdout)


def write_json(name, obj):
    with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def fuzz_corpus(sets):
    # Seeds are (over)written by name; inputs that libFuzzer added to the
    # directory (named by their SHA-1) are kept.
    os.makedirs(FUZZ, exist_ok=True)
    seeds = {}
    for src, vectors in sets.items():
        for v in vectors:
            seeds[f"{src}_{v['name']}"] = v["token"].encode()
    t1 = seeds["botocore_basic_5432"]
    q = t1.index(b"?")
    for i, cut in enumerate(sorted({0, 1, q - 5, q, q + 1, q + 20, len(t1) // 2, len(t1) - 64, len(t1) - 1})):
        seeds[f"trunc_{i:02d}"] = t1[:cut]
    seeds["dup_action"] = t1 + b"&Action=connect"
    seeds["dup_encoded_key"] = t1 + b"&%41ction=connect"
    seeds["bad_escape"] = t1.replace(b"jane_doe", b"jane%zzdoe")
    seeds["trailing_pct"] = t1 + b"&x=%4"
    seeds["newline"] = t1 + b"\n"
    seeds["scheme"] = b"https://" + t1
    seeds["no_port"] = t1.replace(b":5432/", b"/")
    seeds["v6_host"] = t1.replace(b"mydb.c0abcdefghij.us-east-1.rds.amazonaws.com:5432", b"[::1]:5432")
    seeds["bad_v6"] = t1.replace(b"mydb.c0abcdefghij.us-east-1.rds.amazonaws.com:5432", b"[::1:5432")
    seeds["empty_segments"] = t1.replace(b"&", b"&&")
    seeds["many_params"] = t1 + b"".join(b"&p%d=%d" % (i, i) for i in range(40))
    seeds["over_limit"] = t1.replace(b"jane_doe", b"j" * 33000)
    seeds["expires_big"] = t1.replace(b"X-Amz-Expires=900", b"X-Amz-Expires=99999999999999999999")
    seeds["cred_parts"] = t1.replace(b"%2Faws4_request", b"%2Faws4_request%2Fx")
    for name, data in seeds.items():
        with open(os.path.join(FUZZ, name), "wb") as f:
            f.write(data)
    return len(seeds)


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = [case_inputs(c) for c in CASES]
    boto = []
    cli = []
    for c, inp in zip(CASES, cases):
        _, _, host, port, user, region, akid, token, when = c
        boto.append({**inp, "token": botocore_token(host, port, user, region, akid, token, when)})
        cli.append({**inp, "token": cli_token(host, port, user, region, akid, token, when)})
    import awscli

    write_json("botocore.json", {"generator": f"botocore {botocore.__version__} generate_db_auth_token",
                                 "vectors": boto})
    write_json("aws_cli.json", {"generator": f"aws-cli {awscli.__version__} (botocore {botocore.__version__}) "
                                             "rds generate-db-auth-token, in-process driver, frozen clock",
                                "vectors": cli})
    live_cli_check()
    js = js_vectors(cases)
    if js is not None:
        write_json("sdk_js_v3.json", js)
    else:
        with open(os.path.join(OUT, "sdk_js_v3.json"), encoding="utf-8") as f:
            js = json.load(f)
    n = fuzz_corpus({"botocore": boto, "cli": cli, "js": js["vectors"]})
    print(f"{len(cases)} cases x 3 signers in {os.path.relpath(OUT, ROOT)}; {n} fuzz seeds", file=sys.stderr)


if __name__ == "__main__":
    main()
