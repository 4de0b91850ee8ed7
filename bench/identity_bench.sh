#!/usr/bin/env bash
# Identity costs (issue 3), one run, release build:
#  1. RDS IAM token verification (parse + canonical request + signature) per second,
#     and policy evaluations per second for a realistic Lambda role: the two halves
#     of a database login's IAM check (target: both together under 20 us on one core);
#  2. API requests per second with policy evaluation on every request: GetSecretValue
#     signed by an assumed-role session whose role policy is evaluated (not the root
#     fast path), against the same call by root, same server, same wrk settings.
# Usage: bench/identity_bench.sh [seconds per wrk run, default 8]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
rdsemu_deps bench
PY=$(rdsemu_python)
DUR=${1:-8}
BUILD=build-bench
[ -f $BUILD/build.ninja ] || meson setup $BUILD --buildtype=release -Dintegration=false >/dev/null
ninja -C $BUILD rdsemu tests/test_token tests/test_iam_policy >/dev/null
OUT=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$OUT"; }
trap cleanup EXIT
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== token verification and policy evaluation (one core)"
$BUILD/tests/test_token --bench 2 | grep -iE "verif|/s" | tee "$OUT/token.txt"
$BUILD/tests/test_iam_policy --bench | grep -iE "eval|/s" | tee "$OUT/policy.txt"
"$PY" - "$OUT" <<'PY'
import re, sys
d = sys.argv[1]
def us(path):
    # the slowest case each tool prints: "N us each" / "N ns each"
    vals = [float(v) * (0.001 if u == "ns" else 1.0) for v, u in re.findall(r"([\d.]+) (us|ns) each", open(path).read())]
    return max(vals)
tok, pol = us(d + "/token.txt"), us(d + "/policy.txt")
tot = tok + pol
print("slowest token verification + slowest policy evaluation: %.2f + %.2f = %.2f us (target < 20 us: %s)" % (tok, pol, tot, "met" if tot < 20 else "MISSED"))
PY
echo "== API requests with policy evaluation"
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
$BUILD/rdsemu serve --ephemeral --port "$PORT" --log-level warn >"$OUT/rdsemu.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/_rdsemu/health" && break; sleep 0.05; done
CREDS=$("$PY" - "http://127.0.0.1:$PORT" <<'PY'
import json, sys, boto3
e = sys.argv[1]
kw = dict(endpoint_url=e, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
boto3.client("secretsmanager", **kw).create_secret(Name="bench/db", SecretString='{"password":"x"}')
iam = boto3.client("iam", **kw)
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"}, "Action": "sts:AssumeRole"}]}
iam.create_role(RoleName="bench-fn", AssumeRolePolicyDocument=json.dumps(trust))
iam.put_role_policy(RoleName="bench-fn", PolicyName="read", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], "Resource": "arn:aws:secretsmanager:*:*:secret:bench/*"},
    {"Effect": "Deny", "Action": "secretsmanager:DeleteSecret", "Resource": "*"},
    {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalAccount": "000000000000"}}}]}))
c = boto3.client("sts", **kw).assume_role(RoleArn="arn:aws:iam::000000000000:role/bench-fn", RoleSessionName="bench")["Credentials"]
print(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
PY
)
read -r AK SK ST <<<"$CREDS"
"$PY" bench/wrk_request.py "http://127.0.0.1:$PORT" bench/db "$OUT/root.lua"
AWS_SESSION_TOKEN="$ST" "$PY" bench/wrk_request.py "http://127.0.0.1:$PORT" bench/db "$OUT/role.lua" "$AK" "$SK" us-east-1
for who in root role; do
	wrk -t1 -c8 -d"${DUR}s" --latency -s "$OUT/$who.lua" "http://127.0.0.1:$PORT/" >"$OUT/$who.txt" 2>&1
	printf '%-5s %s req/s  p50 %s  p99 %s  non-200 %s\n' "$who" \
		"$(awk '/Requests\/sec/ {print $2}' "$OUT/$who.txt")" "$(awk '$1=="50%" {print $2}' "$OUT/$who.txt")" \
		"$(awk '$1=="99%" {print $2}' "$OUT/$who.txt")" "$(awk '/NON200/ {print $2}' "$OUT/$who.txt")"
done
