#!/usr/bin/env python3
"""Generate SigV4 test vectors for rdsemu with botocore as the oracle.

botocore signs a set of requests with a frozen clock; for each case this
script writes fixtures/sigv4/<name>.json holding the request as a server
would receive it (method, raw path, raw query, header list, body, and for
RDS IAM tokens the signed host), the credentials and time, and botocore's
own canonical request, string to sign and signature (captured from
SigV4Auth.canonical_request / string_to_sign / signature while it signs).
It also seeds the fuzz corpus fixtures/fuzz/sigv4/ in the input format of
tests/fuzz/fuzz_sigv4.c.

Usage: python3 scripts/gen_sigv4_vectors.py   (from anywhere; writes into
the repository this script lives in).  Needs botocore, no network.
"""

import base64
import datetime
import hashlib
import json
import os
import sys
from urllib.parse import urlsplit

import botocore
import botocore.auth
import botocore.session
from botocore.auth import SigV4Auth, SigV4QueryAuth, _host_from_url
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.utils import percent_encode_sequence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "sigv4")
FUZZ = os.path.join(ROOT, "fixtures", "fuzz", "sigv4")

AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TEMP_AKID = "ASIAIOSFODNN7EXAMPLE"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE/TOKEN+WITH=special/chars"
# A long, realistic-looking session token (base64 of fixed bytes) for the
# session-token cases: real STS tokens are 700-1200+ characters.
LONG_TOKEN = "IQoJb3JpZ2luX2Vj" + base64.b64encode(hashlib.sha512(b"rdsemu").digest() * 12).decode()

FROZEN = datetime.datetime(2024, 1, 1, 0, 0, 0)


class Recorder:
    """Wraps SigV4Auth's stage methods to keep what botocore computed."""

    def __init__(self):
        self.reset()
        rec = self
        orig_cr = SigV4Auth.canonical_request
        orig_sts = SigV4Auth.string_to_sign
        orig_sig = SigV4Auth.signature

        def canonical_request(self, request):
            v = orig_cr(self, request)
            rec.canonical_request = v
            return v

        def string_to_sign(self, request, canonical_request):
            v = orig_sts(self, request, canonical_request)
            rec.string_to_sign = v
            return v

        def signature(self, string_to_sign, request):
            v = orig_sig(self, string_to_sign, request)
            rec.signature = v
            return v

        SigV4Auth.canonical_request = canonical_request
        SigV4Auth.string_to_sign = string_to_sign
        SigV4Auth.signature = signature

    def reset(self):
        self.canonical_request = None
        self.string_to_sign = None
        self.signature = None


def freeze(dt):
    botocore.auth.get_current_datetime = lambda *a, **k: dt


class Captured(Exception):
    def __init__(self, request):
        super().__init__("captured")
        self.request = request


def text(v):
    if v is None:
        return ""
    if isinstance(v, bytes):
        return v.decode("utf-8")
    return str(v)


def request_record(req, add_host=True):
    """The request as the emulator's HTTP layer would receive it."""
    parts = urlsplit(req.url)
    headers = [[text(k), text(v)] for k, v in req.headers.items()]
    # Unsigned headers that change from run to run (a random invocation id,
    # the host's kernel in User-Agent) get fixed values, so the vectors are
    # reproducible; they are not signed, so no signature changes.
    signed = ""
    for k, v in headers:
        if k.lower() == "authorization" and "SignedHeaders=" in v:
            signed = v.split("SignedHeaders=")[1].split(",")[0]
    stable = {"amz-sdk-invocation-id": "00000000-0000-4000-8000-000000000000",
              "user-agent": f"Botocore/{botocore.__version__} (normalised by gen_sigv4_vectors.py)"}
    for h in headers:
        if h[0].lower() in stable:
            assert h[0].lower() not in signed.split(";"), h[0]
            h[1] = stable[h[0].lower()]
    if add_host and not any(k.lower() == "host" for k, _ in headers):
        # urllib3 adds Host when it sends; botocore signs the same value.
        headers.insert(0, ["Host", _host_from_url(req.url)])
    body = req.body
    if body is None:
        body = b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    return {
        "method": req.method,
        "path": parts.path or "/",
        "query": parts.query,
        "headers": headers,
        "body": body.decode("utf-8"),
    }


def client(service, region="us-east-1", endpoint=None, token=None, akid=AKID):
    session = botocore.session.Session()
    return session.create_client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=akid,
        aws_secret_access_key=SECRET,
        aws_session_token=token,
        config=Config(retries={"max_attempts": 1}),
    )


def call(rec, c, op, params):
    def before_send(request, **kwargs):
        raise Captured(request)

    c.meta.events.register("before-send", before_send)
    rec.reset()
    try:
        getattr(c, op)(**params)
    except Captured as e:
        return e.request
    raise RuntimeError("request was not captured")


def case(name, description, mode, service, region, request, rec, creds, extra=None):
    d = {
        "name": name,
        "description": description,
        "generator": f"botocore {botocore.__version__}",
        "mode": mode,
        "credentials": {
            "access_key_id": creds[0],
            "secret_access_key": SECRET,
            "session_token": creds[1],
        },
        "region": region,
        "service": service,
        "time": FROZEN.strftime("%Y%m%dT%H%M%SZ"),
        "epoch": int(FROZEN.replace(tzinfo=datetime.timezone.utc).timestamp()),
        "request": request,
        "expected": {
            "canonical_request": rec.canonical_request,
            "string_to_sign": rec.string_to_sign,
            "signature": rec.signature,
        },
    }
    if extra:
        d.update(extra)
    return d


def header_value(request, name):
    for k, v in request["headers"]:
        if k.lower() == name.lower():
            return v
    return None


def gen_header_cases(rec):
    out = []

    # Section 1.8 of aws-behaviour.md: the reference vector.
    c = client("secretsmanager")
    r = call(rec, c, "get_secret_value", {"SecretId": "prod/db"})
    out.append(case("sm_get_secret_value", "aws-behaviour.md 1.8: GetSecretValue, default endpoint",
                    "header", "secretsmanager", "us-east-1", request_record(r), rec, (AKID, None)))

    c = client("secretsmanager")
    r = call(rec, c, "create_secret", {
        "Name": "app/db-credentials",
        "ClientRequestToken": "11111111-2222-3333-4444-555555555555",
        "SecretString": json.dumps({"username": "app", "password": "p@ss w0rd/+=&?\u00e9\u2603"}),
        "Description": "d\u00e9j\u00e0 vu \u2014 \"quoted\" \\ backslash",
        "Tags": [{"Key": "env", "Value": "dev"}],
    })
    out.append(case("sm_create_secret_unicode", "CreateSecret with a UTF-8 JSON body",
                     "header", "secretsmanager", "us-east-1", request_record(r), rec, (AKID, None)))

    c = client("secretsmanager")
    r = call(rec, c, "list_secrets", {})
    out.append(case("sm_list_secrets_empty", "ListSecrets with the smallest JSON body ({})",
                     "header", "secretsmanager", "us-east-1", request_record(r), rec, (AKID, None)))

    c = client("secretsmanager", region="eu-west-3", endpoint="http://localhost:4566")
    r = call(rec, c, "describe_secret", {"SecretId": "arn:aws:secretsmanager:eu-west-3:000000000000:secret:x-AbCdEf"})
    out.append(case("sm_local_endpoint_port", "DescribeSecret to http://localhost:4566 (host keeps the port)",
                     "header", "secretsmanager", "eu-west-3", request_record(r), rec, (AKID, None)))

    c = client("secretsmanager", token=LONG_TOKEN, akid=TEMP_AKID)
    r = call(rec, c, "get_secret_value", {"SecretId": "prod/db", "VersionStage": "AWSCURRENT"})
    out.append(case("sm_session_token", "GetSecretValue with temporary credentials (signed x-amz-security-token)",
                     "header", "secretsmanager", "us-east-1", request_record(r), rec, (TEMP_AKID, LONG_TOKEN)))

    # Section 1.8, second vector: RDS Query POST.
    c = client("rds")
    r = call(rec, c, "describe_db_proxies", {"DBProxyName": "my-proxy"})
    out.append(case("rds_describe_db_proxies", "aws-behaviour.md 1.8: RDS Query POST (form body)",
                     "header", "rds", "us-east-1", request_record(r), rec, (AKID, None)))

    c = client("sts", token=TOKEN, akid=TEMP_AKID)
    r = call(rec, c, "get_caller_identity", {})
    out.append(case("sts_get_caller_identity_token", "STS Query POST with a session token",
                     "header", "sts", "us-east-1", request_record(r), rec, (TEMP_AKID, TOKEN)))

    # Hand-built requests signed by SigV4Auth directly.
    creds = Credentials(AKID, SECRET)

    req = AWSRequest(method="POST", url="https://secretsmanager.us-east-1.amazonaws.com/",
                     data=b'{"SecretId":"x"}')
    req.headers["Content-Type"] = "application/x-amz-json-1.1"
    req.headers["X-Amz-Target"] = "secretsmanager.GetSecretValue"
    req.headers["X-Custom-Spaces"] = "   leading and    inner   runs   "
    req.headers["X-Custom-Tabs"] = "a\t\tb \t c"
    req.headers["X-Dup"] = "first  value"
    req.headers["x-dup"] = " second"
    req.headers["X-DUP"] = "third,already,commas"
    req.headers["User-Agent"] = "not-signed/1.0"
    rec.reset()
    SigV4Auth(creds, "secretsmanager", "us-east-1").add_auth(req)
    out.append(case("hdr_whitespace_duplicates", "odd whitespace, tabs, three duplicate headers in mixed case",
                     "header", "secretsmanager", "us-east-1", request_record(req), rec, (AKID, None)))

    params = [
        ("Action", "DescribeDBInstances"),
        ("Version", "2014-10-31"),
        ("Filters.Filter.1.Name", "db-instance-id"),
        ("Filters.Filter.1.Values.Value.1", "a/b c+d=e&f?g"),
        ("Filters.Filter.1.Values.Value.2", "\u00fcml\u00e4ut \u2603"),
        ("Marker", ""),
        ("a", "2"),
        ("a", "10"),
        ("a", "1"),
        ("a-b", "x"),
        ("a_b", "y"),
        ("~tilde", "!*'()"),
        ("Z", "upper"),
    ]
    url = "https://rds.us-east-1.amazonaws.com/?" + percent_encode_sequence(params)
    req = AWSRequest(method="GET", url=url)
    rec.reset()
    SigV4Auth(creds, "rds", "us-east-1").add_auth(req)
    out.append(case("query_reserved_repeated", "GET with reserved characters, UTF-8, repeated keys, empty value",
                     "header", "rds", "us-east-1", request_record(req), rec, (AKID, None)))

    req = AWSRequest(method="GET", url="https://example.us-east-1.amazonaws.com/a%20b/./c//d/../e%2Ff/~x/")
    rec.reset()
    SigV4Auth(creds, "execute-api", "us-east-1").add_auth(req)
    out.append(case("path_normalised", "path with an escape, dot segments and double slashes (non-S3 rules)",
                     "header", "execute-api", "us-east-1", request_record(req), rec, (AKID, None)))

    req = AWSRequest(method="POST", url="https://sts.amazonaws.com/",
                     data=b"Action=GetCallerIdentity&Version=2011-06-15")
    req.headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    req.headers["Date"] = "placeholder"
    rec.reset()
    SigV4Auth(creds, "sts", "us-east-1").add_auth(req)
    out.append(case("date_header", "request dated by a Date header instead of X-Amz-Date",
                     "header", "sts", "us-east-1", request_record(req), rec, (AKID, None)))

    req = AWSRequest(method="POST", url="https://secretsmanager.us-east-1.amazonaws.com/",
                     data=b'{"SecretId":"unsigned"}')
    req.headers["Content-Type"] = "application/x-amz-json-1.1"
    req.headers["X-Amz-Target"] = "secretsmanager.GetSecretValue"
    req.context["payload_signing_enabled"] = False
    rec.reset()
    SigV4Auth(creds, "secretsmanager", "us-east-1").add_auth(req)
    out.append(case("unsigned_payload", "X-Amz-Content-SHA256: UNSIGNED-PAYLOAD (botocore over https)",
                     "header", "secretsmanager", "us-east-1", request_record(req), rec, (AKID, None)))

    body = b'{"SecretId":"js-style"}'
    req = AWSRequest(method="POST", url="https://secretsmanager.us-east-1.amazonaws.com/", data=body)
    req.headers["Content-Type"] = "application/x-amz-json-1.1"
    req.headers["X-Amz-Target"] = "secretsmanager.GetSecretValue"
    req.headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()
    rec.reset()
    SigV4Auth(creds, "secretsmanager", "us-east-1").add_auth(req)
    out.append(case("content_sha256_header", "payload hash taken from X-Amz-Content-SHA256 (as the JS SDK sends)",
                     "header", "secretsmanager", "us-east-1", request_record(req), rec, (AKID, None)))

    for d in out:
        d["expected"]["authorization"] = header_value(d["request"], "Authorization")
    return out


def presign_record(url, method, host=None):
    parts = urlsplit(url)
    r = {"method": method, "path": parts.path or "/", "query": parts.query, "headers": [], "body": ""}
    if host is None:
        r["headers"].append(["Host", _host_from_url(url)])
    else:
        r["host"] = host
    return r


def gen_presigned_cases(rec):
    out = []

    c = client("sts")
    rec.reset()
    url = c.generate_presigned_url("get_caller_identity", ExpiresIn=900, HttpMethod="GET")
    d = case("sts_presign_get_caller_identity", "STS GetCallerIdentity presigned GET (EKS-token style)",
             "presigned", "sts", "us-east-1", presign_record(url, "GET"), rec, (AKID, None))
    d["presign"] = {"url_host": urlsplit(url).netloc, "signed_host": _host_from_url(url), "path": "/",
                    "expires": 900, "method": "GET",
                    "params": [["Action", "GetCallerIdentity"], ["Version", "2011-06-15"]]}
    d["expected"]["url"] = url[len("https://"):]
    out.append(d)

    c = client("sts", token=TOKEN, akid=TEMP_AKID)
    rec.reset()
    url = c.generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod="GET")
    d = case("sts_presign_session_token", "STS presigned GET with a session token in the canonical query",
             "presigned", "sts", "us-east-1", presign_record(url, "GET"), rec, (TEMP_AKID, TOKEN))
    d["presign"] = {"url_host": urlsplit(url).netloc, "signed_host": _host_from_url(url), "path": "/",
                    "expires": 60, "method": "GET",
                    "params": [["Action", "GetCallerIdentity"], ["Version", "2011-06-15"]]}
    d["expected"]["url"] = url[len("https://"):]
    out.append(d)

    creds = Credentials(AKID, SECRET)
    req = AWSRequest(method="GET", url="https://rds.eu-central-1.amazonaws.com/",
                     params={"Action": "DescribeDBProxies", "Version": "2014-10-31", "DBProxyName": "p x/y"})
    req.url = req.prepare().url
    req.params = {}
    rec.reset()
    SigV4QueryAuth(creds, "rds", "eu-central-1", expires=3600).add_auth(req)
    d = case("rds_presign_describe", "RDS Query GET presigned by SigV4QueryAuth (X-Amz-Expires=3600)",
             "presigned", "rds", "eu-central-1", presign_record(req.url, "GET"), rec, (AKID, None))
    d["presign"] = {"url_host": urlsplit(req.url).netloc, "signed_host": _host_from_url(req.url), "path": "/",
                    "expires": 3600, "method": "GET",
                    "params": [["Action", "DescribeDBProxies"], ["Version", "2014-10-31"],
                               ["DBProxyName", "p x/y"]]}
    d["expected"]["url"] = req.url[len("https://"):]
    out.append(d)

    tokens = [
        ("rds_token_1", "aws-behaviour.md 2.6 TOKEN1", "mydb.c0abcdefghij.us-east-1.rds.amazonaws.com", 5432,
         "jane_doe", AKID, None),
        ("rds_token_2_session", "aws-behaviour.md 2.6 TOKEN2 (proxy, session token, user with @)",
         "myproxy.proxy-c0abcdefghij.us-east-1.rds.amazonaws.com", 3306, "app@user", AKID, TOKEN),
        ("rds_token_3_port443", "aws-behaviour.md 2.6 TOKEN3: port 443 is left out of the signed host",
         "localhost", 443, "u", AKID, None),
        ("rds_token_long_session", "RDS token with a long session token and a temporary key",
         "db.cluster-c0abcdefghij.eu-west-1.rds.amazonaws.com", 5432, "iam user+1", TEMP_AKID, LONG_TOKEN),
    ]
    for name, desc, host, port, user, akid, token in tokens:
        region = "eu-west-1" if "eu-west-1" in host else "us-east-1"
        c = client("rds", region=region, token=token, akid=akid)
        rec.reset()
        tok = c.generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user)
        prefix, _, query = tok.partition("/?")
        signed_host = _host_from_url(f"https://{host}:{port}")
        req = {"method": "GET", "path": "/", "query": query, "headers": [], "body": "", "host": signed_host}
        d = case(name, desc, "presigned", "rds-db", region, req, rec, (akid, token))
        d["presign"] = {"url_host": prefix, "signed_host": signed_host, "path": "/", "expires": 900,
                        "method": "GET", "params": [["Action", "connect"], ["DBUser", user]]}
        d["expected"]["url"] = tok
        d["expected"]["token"] = tok
        out.append(d)
    return out


# --- fuzz corpus -----------------------------------------------------------
# Input format of tests/fuzz/fuzz_sigv4.c, lines separated by '\n':
#   line 1: method and raw path, e.g. "POST /"
#   line 2: raw query string (may be empty)
#   line 3: host override for presigned tokens (empty = use the Host header)
#   then header lines "Name: value" up to an empty line; the rest is the body.

def fuzz_input(d):
    r = d["request"]
    lines = [f'{r["method"]} {r["path"]}', r["query"], r.get("host", "")]
    for k, v in r["headers"]:
        lines.append(f"{k}: {v}")
    return ("\n".join(lines) + "\n\n").encode("utf-8") + r["body"].encode("utf-8")


def write_fuzz(cases):
    # Files named lf_* are libFuzzer finds (merged by coverage); keep them.
    os.makedirs(FUZZ, exist_ok=True)
    for f in os.listdir(FUZZ):
        if not f.startswith("lf_"):
            os.remove(os.path.join(FUZZ, f))
    n = 0

    def put(name, data):
        nonlocal n
        with open(os.path.join(FUZZ, name), "wb") as f:
            f.write(data)
        n += 1

    byname = {d["name"]: d for d in cases}
    for d in cases:
        put(f'valid_{d["name"]}', fuzz_input(d))

    # Every truncation of the Authorization value of the 1.8 vector and of
    # the query string of TOKEN2 (a presigned token with a session token).
    d = byname["sm_get_secret_value"]
    auth = d["expected"]["authorization"]
    for i in range(len(auth)):
        dd = json.loads(json.dumps(d))
        dd["request"]["headers"] = [[k, auth[:i] if k == "Authorization" else v]
                                    for k, v in dd["request"]["headers"]]
        put(f"trunc_auth_{i:03d}", fuzz_input(dd))
    for name, tag in (("rds_token_2_session", "token"),):
        d = byname[name]
        q = d["request"]["query"]
        for i in range(len(q)):
            dd = json.loads(json.dumps(d))
            dd["request"]["query"] = q[:i]
            put(f"trunc_{tag}_{i:03d}", fuzz_input(dd))

    # Hand-made broken inputs.
    base = byname["sm_get_secret_value"]
    def with_auth(value):
        dd = json.loads(json.dumps(base))
        dd["request"]["headers"] = [[k, value if k == "Authorization" else v] for k, v in dd["request"]["headers"]]
        return fuzz_input(dd)
    broken = {
        "no_equals": "AWS4-HMAC-SHA256 Credential= AKID/20240101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=00",
        "basic": "Basic dXNlcjpwYXNz",
        "bad_alg": "AWS4-HMAC-SHA512 Credential=AKID/20240101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
        "four_parts": "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
        "six_parts": "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/x/y/aws4_request, SignedHeaders=host, Signature=00",
        "no_host": "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/secretsmanager/aws4_request, SignedHeaders=x-amz-date, Signature=00",
        "missing_header": "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host;x-absent;x-amz-date, Signature=" + "0" * 64,
        "empty_signed": "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/secretsmanager/aws4_request, SignedHeaders=, Signature=00",
        "many_signed": "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/secretsmanager/aws4_request, SignedHeaders=" + ";".join(["host"] * 100) + ", Signature=00",
        "long_sig": "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + "a" * 500,
        "huge": "AWS4-HMAC-SHA256 Credential=" + "A" * 9000,
        "commas_only": "AWS4-HMAC-SHA256 ,,,,, , ,",
        "wrong_term": "AWS4-HMAC-SHA256 Credential=AKID/20231231/us-east-1/secretsmanager/aws5_request, SignedHeaders=host, Signature=00",
    }
    for k, v in broken.items():
        put(f"broken_auth_{k}", with_auth(v))

    tok = byname["rds_token_1"]
    def with_query(q, host="db:5432"):
        dd = json.loads(json.dumps(tok))
        dd["request"]["query"] = q
        dd["request"]["host"] = host
        return fuzz_input(dd)
    brokenq = {
        "pct_trailing": tok["request"]["query"] + "%",
        "pct_bad_hex": tok["request"]["query"].replace("connect", "con%zzect"),
        "plus_space": tok["request"]["query"].replace("jane_doe", "jane+doe"),
        "lower_hex": tok["request"]["query"].replace("%2F", "%2f"),
        "no_alg_value": "X-Amz-Algorithm=&X-Amz-Credential=a",
        "expires_neg": tok["request"]["query"].replace("X-Amz-Expires=900", "X-Amz-Expires=-5"),
        "expires_text": tok["request"]["query"].replace("X-Amz-Expires=900", "X-Amz-Expires=9e9"),
        "expires_big": tok["request"]["query"].replace("X-Amz-Expires=900", "X-Amz-Expires=99999999999999999999999"),
        "many_params": "&".join(f"k{i}=v" for i in range(300)) + "&X-Amz-Algorithm=AWS4-HMAC-SHA256",
        "dup_alg": tok["request"]["query"] + "&X-Amz-Algorithm=AWS4-HMAC-SHA1",
        "amps": "&&&&=&=&==&X-Amz-Algorithm=AWS4-HMAC-SHA256&&",
        "date_bad": tok["request"]["query"].replace("20240101T000000Z", "20241301T000000Z"),
    }
    for k, v in brokenq.items():
        put(f"broken_query_{k}", with_query(v))
    put("empty", b"")
    put("only_newlines", b"\n\n\n\n\n")
    put("no_auth", b"POST /\n\n\nHost: x\nX-Amz-Date: 20240101T000000Z\n\n{}")
    put("both", fuzz_input(base).replace(b"POST /\n\n", b"POST /\nX-Amz-Algorithm=AWS4-HMAC-SHA256\n", 1))
    return n


def main():
    rec = Recorder()
    freeze(FROZEN)
    cases = gen_header_cases(rec) + gen_presigned_cases(rec)

    # Cross-checks against the published vectors in aws-behaviour.md.
    byname = {d["name"]: d for d in cases}
    checks = {
        "sm_get_secret_value": "bc1775bac6cb9b2b64e136d4c44f772d72b4546d86410a972bc685767ed3375a",
        "rds_describe_db_proxies": "ab2f9d487082a8386d085571e16a61c8f900983c2fea7b0c27d6e7065fd1e09e",
        "rds_token_1": "f44cea86a7726c1892ecb6e03522cba6404989d9a5dc13fffb9782c48c49a3e8",
        "rds_token_2_session": "22c7efaf609ac56eb4c280f6c03627c64cdda0327bdbf586d1e3fa6e60551caa",
        "rds_token_3_port443": "bf4a1b578239cbb452c1b52bf4b1346bb84c74375146061afa6248a8c40ca061",
    }
    for name, sig in checks.items():
        got = byname[name]["expected"]["signature"]
        if got != sig:
            sys.exit(f"{name}: botocore gave {got}, aws-behaviour.md says {sig}")
    for d in cases:
        for k in ("canonical_request", "string_to_sign", "signature"):
            if not d["expected"][k]:
                sys.exit(f'{d["name"]}: no {k} captured')

    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".json"):
            os.remove(os.path.join(OUT, f))
    for d in cases:
        with open(os.path.join(OUT, d["name"] + ".json"), "w", encoding="utf-8") as f:
            json.dump(d, f, indent=2, ensure_ascii=False)
            f.write("\n")
    n = write_fuzz(cases)
    print(f"wrote {len(cases)} vectors to {os.path.relpath(OUT, ROOT)} and {n} corpus files to "
          f"{os.path.relpath(FUZZ, ROOT)}")


if __name__ == "__main__":
    main()
