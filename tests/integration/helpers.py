"""Shared helpers for the rdsemu integration suite.

What lives here: starting and stopping rdsemu server processes (bounded waits, SIGTERM then
SIGKILL), calls to the admin endpoints, boto3 client factories, an AWS CLI runner, raw SigV4
signing (botocore's own signer, so requests can be tampered with before they are sent), and
assertion helpers for AWS errors.  Expected codes, statuses and messages come from
/work/shared/docs/aws-behaviour.md (sections 1 and 5), never from another emulator.
"""

import datetime
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import boto3
import botocore
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("RDSEMU_BIN", str(REPO / "build" / "rdsemu")))
EXTERNAL_ENDPOINT = os.environ.get("RDSEMU_TEST_ENDPOINT", "").rstrip("/")
# Only for shaking out the tests against another emulator (moto_server has no /_rdsemu/reset).
RESET_PATH = os.environ.get("RDSEMU_TEST_RESET_PATH", "/_rdsemu/reset")

ACCOUNT = "000000000000"
REGION = "us-east-1"
OTHER_REGION = "us-west-2"
ADMIN_KEY = "test"
ADMIN_SECRET = "test"

ARN_RE = re.compile(
    r"^arn:aws:secretsmanager:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):secret:(?P<name>.+)-(?P<suffix>[A-Za-z0-9]{6})$"
)
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# Texts from aws-behaviour.md section 5.10 / 5.6 / 5.7 / 1.5.
MSG_NOT_FOUND = "Secrets Manager can't find the specified secret."
MSG_MARKED_FOR_DELETION = "You can't perform this operation on the secret because it was marked for deletion."
MSG_NO_LAMBDA = (
    "You tried to enable rotation on a secret that doesn't already have a Lambda function ARN "
    "configured and you didn't include such an ARN as a parameter in this call."
)
MSG_BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)
MSG_UNKNOWN_KEY = "The security token included in the request is invalid."
MSG_MISSING_AUTH = "Request is missing Authentication Token"
MSG_REPLICA_WRITE = "Operation not permitted on a replica secret. Call must be made in primary secret's region."
MSG_INVALID_NAME = (
    "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!"
)


def msg_no_value_stage(stage):
    return f"Secrets Manager can't find the specified secret value for staging label: {stage}"


def msg_no_value_version(version_id):
    return f"Secrets Manager can't find the specified secret value for VersionId: {version_id}"


def msg_exists(name):
    return f"The operation failed because the secret {name} already exists."


def msg_token_in_use(token, arn):
    return f"You can't use ClientRequestToken {token} because that value is already in use for a version of secret {arn}."


# ---------------------------------------------------------------------------------------------
# processes


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=2.0):
    """GET url; returns (status, body bytes) or raises OSError when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def http_post(url, body=None, timeout=10.0, headers=None):
    data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method="POST", headers=headers or {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def clean_env(extra=None):
    """The caller's environment without AWS_* / RDSEMU_* settings that could leak into a test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RDSEMU_"))}
    if extra:
        env.update(extra)
    return env


class Server:
    """One rdsemu process bound to 127.0.0.1.  Always stop() it (the fixtures do)."""

    def __init__(self, args=(), env=None, port=None, log_dir=None, name="rdsemu", pass_port_flag=True,
                 ephemeral=True):
        self.port = port or free_port()
        self.args = list(args)
        self.env = env
        self.name = name
        self.pass_port_flag = pass_port_flag
        self.ephemeral = ephemeral
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="rdsemu-it-"))
        self.log_path = self.log_dir / f"{name}-{self.port}.log"
        self.proc = None
        self._log = None

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def command(self):
        cmd = [str(BIN), "serve"]
        if self.pass_port_flag:
            cmd += ["--listen", "127.0.0.1", "--port", str(self.port)]
        if self.ephemeral and not any(a == "--state-dir" or a.startswith("--state-dir=") for a in self.args):
            cmd.append("--ephemeral")
        return cmd + self.args

    def start(self, timeout=10.0):
        if not BIN.exists():
            raise RuntimeError(f"rdsemu binary not found at {BIN} (set RDSEMU_BIN)")
        self._log = open(self.log_path, "ab")
        env = clean_env() if self.env is None else self.env
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, env=env, cwd=str(REPO))
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rdsemu exited with {self.proc.returncode} before it was healthy; log:\n{self.log_text()}")
            try:
                status, _ = http_get(self.endpoint + "/_rdsemu/health", timeout=1.0)
                if status == 200:
                    return
                last = f"HTTP {status}"
            except OSError as e:
                last = repr(e)
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"rdsemu not healthy within {timeout}s (last: {last}); log:\n{self.log_text()}")

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        """Returns the exit code (None if it had to be SIGKILLed after the bound)."""
        rc = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                rc = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
                rc = None
        elif self.proc is not None:
            rc = self.proc.returncode
        if self._log:
            self._log.close()
            self._log = None
        return rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        if self._log:
            self._log.close()
            self._log = None

    def sanitizer_reports(self):
        """Lines of ASan/UBSan/LSan reports in the log (the CI build runs with sanitizers)."""
        text = self.log_text(limit=2_000_000)
        return [l for l in text.splitlines()
                if "ERROR: AddressSanitizer" in l or "ERROR: LeakSanitizer" in l or "runtime error:" in l]

    def stop_checked(self, timeout=10.0):
        """Stops a running server with SIGTERM and asserts a clean exit (status 0, no sanitizer
        report in its log)."""
        was_running = self.alive()
        rc = self.stop(timeout=timeout)
        problems = []
        if was_running and rc != 0:
            problems.append(f"exit status {rc} after SIGTERM (None = had to be SIGKILLed)")
        reports = self.sanitizer_reports()
        if reports:
            problems.append("sanitizer reports: " + "; ".join(reports[:5]))
        assert not problems, f"rdsemu ({self.name}): " + ", ".join(problems) + f"\nlog tail:\n{self.log_text(6000)}"
        return rc

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self, limit=20000):
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return "(no log)"
        return data[-limit:].decode("utf-8", "replace")


# ---------------------------------------------------------------------------------------------
# admin endpoints


def reset(endpoint):
    status, body = http_post(endpoint + RESET_PATH)
    assert status == 200, f"reset via {RESET_PATH} answered {status}: {body[:300]!r}"


def set_clock(endpoint, offset_seconds):
    status, body = http_post(endpoint + "/_rdsemu/clock", {"offset_seconds": offset_seconds})
    assert status == 200, f"/_rdsemu/clock answered {status}: {body[:300]!r}"


def load_fixtures(endpoint, fixture):
    status, body = http_post(endpoint + "/_rdsemu/fixtures", fixture)
    assert status == 200, f"/_rdsemu/fixtures answered {status}: {body[:500]!r}"
    return body


def healthy(endpoint):
    try:
        return http_get(endpoint + "/_rdsemu/health", timeout=2.0)[0] == 200
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------
# boto3


def client_config(**kw):
    opts = dict(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30)
    opts.update(kw)
    return Config(**opts)


def make_client(endpoint, service="secretsmanager", region=REGION, key=ADMIN_KEY, secret=ADMIN_SECRET,
                token=None, validate=True):
    session = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret,
                                    aws_session_token=token, region_name=region)
    return session.client(service, endpoint_url=endpoint,
                          config=client_config(parameter_validation=validate))


def botocore_version():
    return tuple(int(x) for x in re.findall(r"\d+", botocore.__version__)[:3])


# The 23 operations of aws-behaviour.md 5.2 (older botocore models lack some of them).
SM_OPERATIONS = [
    "BatchGetSecretValue", "CancelRotateSecret", "CreateSecret", "DeleteResourcePolicy", "DeleteSecret",
    "DescribeSecret", "GetRandomPassword", "GetResourcePolicy", "GetSecretValue", "ListSecretVersionIds",
    "ListSecrets", "PutResourcePolicy", "PutSecretValue", "RemoveRegionsFromReplication",
    "ReplicateSecretToRegions", "RestoreSecret", "RotateSecret", "StopReplicationToReplica", "TagResource",
    "UntagResource", "UpdateSecret", "UpdateSecretVersionStage", "ValidateResourcePolicy",
]


def sm_model():
    import botocore.session
    return botocore.session.get_session().get_service_model("secretsmanager")


def model_has(op, input_member=None, output_member=None):
    """Whether the installed botocore knows this operation (and member).  Debian 12's
    python3-botocore (1.29) predates BatchGetSecretValue, ListSecrets SortBy/IncludePlannedDeletion
    and DescribeSecret NextRotationDate."""
    m = sm_model()
    if op not in m.operation_names:
        return False
    om = m.operation_model(op)
    if input_member and input_member not in om.input_shape.members:
        return False
    if output_member and (om.output_shape is None or output_member not in om.output_shape.members):
        return False
    return True


def require_model(op, input_member=None, output_member=None):
    import pytest
    if not model_has(op, input_member, output_member):
        what = op + (f".{input_member}" if input_member else "") + (f" -> {output_member}" if output_member else "")
        pytest.skip(f"botocore {botocore.__version__} has no {what} in its Secrets Manager model")


def describe_full(client, secret_id):
    """DescribeSecret as boto3 parses it, plus any member the installed botocore model does not know
    (read from the raw JSON response; *Date members become aware datetimes)."""
    d = client.describe_secret(SecretId=secret_id)
    creds = client._request_signer._credentials
    r = raw_call(client.meta.endpoint_url.rstrip("/"), "DescribeSecret", {"SecretId": secret_id},
                 region=client.meta.region_name, key=creds.access_key, secret=creds.secret_key)
    if r.status == 200 and isinstance(r.json, dict):
        for k, v in r.json.items():
            if k not in d:
                if k.endswith("Date") and isinstance(v, (int, float)):
                    v = datetime.datetime.fromtimestamp(v, datetime.timezone.utc)
                d[k] = v
    return d


def expect_error(fn, code, message=None, match=None, status=400, **kwargs):
    """Calls fn(**kwargs); asserts a ClientError with this code, HTTP status and (optionally) message
    (exact) or match (regex, searched).  Returns the ClientError's response dict."""
    try:
        resp = fn(**kwargs)
    except ClientError as e:
        err = e.response.get("Error", {})
        got_status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        assert err.get("Code") == code, f"expected {code}, got {err.get('Code')}: {err.get('Message')!r}"
        assert got_status == status, f"expected HTTP {status} for {code}, got {got_status}"
        assert e.response.get("ResponseMetadata", {}).get("RequestId"), "error without x-amzn-RequestId"
        if message is not None:
            assert err.get("Message") == message, f"message mismatch:\n  expected {message!r}\n  got      {err.get('Message')!r}"
        if match is not None:
            assert re.search(match, err.get("Message") or ""), f"message {err.get('Message')!r} !~ {match!r}"
        return e.response
    raise AssertionError(f"expected {code}, call succeeded: {resp!r}")


def is_aware_datetime(v):
    return isinstance(v, datetime.datetime) and v.tzinfo is not None


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def poll(fn, timeout=10.0, interval=0.1, desc="condition"):
    """Calls fn until it returns a truthy value; returns it.  Fails after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {desc}; last value: {last!r}")
        time.sleep(interval)


def stages_of(client, secret_id):
    return client.describe_secret(SecretId=secret_id).get("VersionIdsToStages", {})


def version_with(stages_map, label):
    hits = [v for v, labels in stages_map.items() if label in labels]
    assert len(hits) <= 1, f"label {label} on several versions: {stages_map}"
    return hits[0] if hits else None


def token(n=None):
    import uuid
    return str(uuid.uuid4()) if n is None else ("%032x" % n)


# ---------------------------------------------------------------------------------------------
# AWS CLI

CLI_ERROR_RE = re.compile(r"An error occurred \((?P<code>[^)]+)\) when calling the (?P<op>\w+) operation(?: \([^)]*\))?: (?P<message>.*)", re.S)


class CliResult:
    def __init__(self, args, rc, stdout, stderr):
        self.args, self.rc, self.stdout, self.stderr = args, rc, stdout, stderr
        self.json = None
        if rc == 0 and stdout.strip():
            try:
                self.json = json.loads(stdout)
            except ValueError:
                pass
        m = CLI_ERROR_RE.search(stderr)
        self.error_code = m.group("code") if m else None
        self.error_op = m.group("op") if m else None
        self.error_message = m.group("message").strip() if m else None

    def __repr__(self):
        return f"CliResult(rc={self.rc}, stdout={self.stdout[:500]!r}, stderr={self.stderr[:500]!r})"


_CLI_CMD = []


def aws_cli_command():
    """The AWS CLI to run: $RDSEMU_TEST_AWS_CLI, else `aws` on PATH (a pyenv shim is resolved to
    the real script once, which saves a shell start per call)."""
    if _CLI_CMD:
        return _CLI_CMD[0]
    override = os.environ.get("RDSEMU_TEST_AWS_CLI")
    cmd = None
    if override:
        cmd = override.split()
    else:
        exe = shutil.which("aws")
        if exe and "/shims/" in exe and shutil.which("pyenv"):
            try:
                p = subprocess.run(["pyenv", "which", "aws"], capture_output=True, text=True, timeout=20)
                real = p.stdout.strip()
                if p.returncode == 0 and real and os.access(real, os.X_OK):
                    exe = real
            except (OSError, subprocess.TimeoutExpired):
                pass
        cmd = [exe] if exe else None
    _CLI_CMD.append(cmd)
    return cmd


_CLI_BOTOCORE = []


def cli_botocore_version():
    """botocore version the installed CLI uses (from `aws --version`), or None if unknown."""
    if not _CLI_BOTOCORE:
        cmd = aws_cli_command()
        ver = None
        if cmd:
            try:
                p = subprocess.run(cmd + ["--version"], capture_output=True, text=True, timeout=30)
                m = re.search(r"botocore/(\d+)\.(\d+)\.(\d+)", p.stdout + p.stderr)
                ver = tuple(int(x) for x in m.groups()) if m else None
            except (OSError, subprocess.TimeoutExpired):
                pass
        _CLI_BOTOCORE.append(ver)
    return _CLI_BOTOCORE[0]


def run_cli(endpoint, args, region=REGION, key=ADMIN_KEY, secret=ADMIN_SECRET, env_extra=None,
            use_endpoint_flag=True, timeout=60):
    cmd = aws_cli_command()
    if cmd is None:
        raise RuntimeError("aws CLI not found")
    home = tempfile.mkdtemp(prefix="rdsemu-cli-")
    env = clean_env({
        "AWS_ACCESS_KEY_ID": key,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": region,
        "AWS_CONFIG_FILE": os.path.join(home, "config"),
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "credentials"),
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_RETRY_MODE": "standard",
        "AWS_PAGER": "",
    })
    if env_extra:
        env.update(env_extra)
    full = list(cmd)
    if use_endpoint_flag:
        full += ["--endpoint-url", endpoint]
    full += ["--output", "json"] + list(args)
    try:
        p = subprocess.run(full, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return CliResult(full, p.returncode, p.stdout, p.stderr)


# ---------------------------------------------------------------------------------------------
# raw SigV4 requests


class FixedTimeSigV4Auth(SigV4Auth):
    """botocore's SigV4Auth with a caller-chosen X-Amz-Date (for clock-skew tests)."""

    def __init__(self, credentials, service, region, when):
        super().__init__(credentials, service, region)
        self._when = when

    def add_auth(self, request):
        request.context["timestamp"] = self._when.strftime("%Y%m%dT%H%M%SZ")
        self._modify_request_before_signing(request)
        canonical_request = self.canonical_request(request)
        string_to_sign = self.string_to_sign(request, canonical_request)
        signature = self.signature(string_to_sign, request)
        self._inject_signature_to_request(request, signature)


class JsonPresignAuth(SigV4QueryAuth):
    """SigV4QueryAuth for a JSON-protocol request: botocore's presigner moves a (Query protocol)
    body into the query string; here the JSON body stays the body (and is hashed as the payload),
    and only the X-Amz-* authentication parameters go into the URL."""

    def _modify_request_before_signing(self, request):
        data = request.data
        request.data = b""
        super()._modify_request_before_signing(request)
        request.data = data


class RawResponse:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    @property
    def error_type(self):
        if not isinstance(self.json, dict):
            return None
        t = self.json.get("__type")
        return t.split("#")[-1] if t else None

    @property
    def error_message(self):
        if not isinstance(self.json, dict):
            return None
        return self.json.get("message", self.json.get("Message"))

    def __repr__(self):
        return f"RawResponse({self.status}, {self.body[:400]!r})"


def sm_request(endpoint, operation, body, region=REGION, key=ADMIN_KEY, secret=ADMIN_SECRET, sign=True,
               when=None, presign=False, extra_headers=None, target=None):
    """Builds a Secrets Manager request signed by botocore; returns an AWSPreparedRequest whose
    headers/body may be changed before send()."""
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    if isinstance(data, str):
        data = data.encode()
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": target if target is not None else f"secretsmanager.{operation}",
    }
    if extra_headers:
        headers.update(extra_headers)
    req = AWSRequest(method="POST", url=endpoint + "/", data=data, headers=headers)
    if sign:
        creds = Credentials(key, secret)
        if presign:
            JsonPresignAuth(creds, "secretsmanager", region, expires=300).add_auth(req)
        elif when is not None:
            FixedTimeSigV4Auth(creds, "secretsmanager", region, when).add_auth(req)
        else:
            SigV4Auth(creds, "secretsmanager", region).add_auth(req)
    return req.prepare()


def send(endpoint, prepared=None, method="POST", path="/", headers=None, body=b"", timeout=15):
    """Sends a prepared request (or raw pieces) with http.client; returns RawResponse."""
    u = urllib.parse.urlsplit(endpoint)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        if prepared is not None:
            pu = urllib.parse.urlsplit(prepared.url)
            path = pu.path + (("?" + pu.query) if pu.query else "")
            method = prepared.method
            headers = dict(prepared.headers.items())
            body = prepared.body or b""
            if isinstance(body, str):
                body = body.encode()
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return RawResponse(r.status, r.getheaders(), r.read())
    finally:
        conn.close()


def raw_call(endpoint, operation, body, **kw):
    return send(endpoint, sm_request(endpoint, operation, body, **kw))
