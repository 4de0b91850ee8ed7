#!/usr/bin/env bash
# GetSecretValue throughput and latency, rdsemu vs moto_server, same run,
# same client (wrk replaying one botocore-signed request; rdsemu verifies the
# SigV4 signature on every request), plus rdsemu's start-up time.
# Targets (issue 2): >= 50x moto's throughput, p99 < 2 ms, start-up < 50 ms.
# Usage: bench/secrets_bench.sh [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
rdsemu_deps bench
PY=$(rdsemu_python)
DUR=${1:-10}
BUILD=build-bench
[ -f $BUILD/build.ninja ] || meson setup $BUILD --buildtype=release -Dintegration=false >/dev/null
ninja -C $BUILD rdsemu >/dev/null
OUT=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$OUT"; }
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # url
	for _ in $(seq 1 200); do curl -fs -o /dev/null "$1" && return 0; sleep 0.05; done
	echo "server at $1 did not come up" >&2; return 1
}
create_secret() { # endpoint
	AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test "$PY" - "$1" <<'PY'
import sys, boto3
c = boto3.client("secretsmanager", endpoint_url=sys.argv[1], region_name="us-east-1")
c.create_secret(Name="bench/db", SecretString='{"username":"app","password":"' + "p" * 24 + '"}')
PY
}
run_wrk() { # name endpoint conns
	"$PY" bench/wrk_request.py "$2" bench/db "$OUT/$1.lua"
	wrk -t1 -c"$3" -d"${DUR}s" --latency -s "$OUT/$1.lua" "$2/" >"$OUT/$1.txt" 2>&1
	"$PY" - "$1" "$OUT/$1.txt" <<'PY'
import re, sys
name, path = sys.argv[1], sys.argv[2]
t = open(path).read()
def ms(v, u): return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[u]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p = {k: ms(v, u) for k, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)", t, re.M)}
bad = int(re.search(r"NON200 (\d+)", t).group(1))
errs = re.search(r"Socket errors: (.*)", t)
print("%-12s %10.0f req/s  p50 %7.3f ms  p99 %7.3f ms  non-200 %d%s" % (name, rps, p["50"], p["99"], bad,
      ("  socket errors: " + errs.group(1)) if errs else ""))
open(path + ".csv", "w").write("%f,%f,%f,%d\n" % (rps, p["50"], p["99"], bad))
PY
}

# moto_server
MP=$(free_port)
moto_server -H 127.0.0.1 -p "$MP" >"$OUT/moto.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$MP/moto-api/"
create_secret "http://127.0.0.1:$MP"

# rdsemu (enforce mode: every request's signature is verified)
RP=$(free_port)
$BUILD/rdsemu serve --ephemeral --port "$RP" --log-level warn >"$OUT/rdsemu.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$RP/_rdsemu/health"
create_secret "http://127.0.0.1:$RP"

echo "GetSecretValue, ${DUR}s per run, wrk 1 thread, 2 cores shared by client and server;" \
	"load average before: $(cut -d' ' -f1-3 /proc/loadavg) (anything else running skews the p99)"
echo "(targets judged on the same 8 connections for both; the 64-connection run shows queueing under load)"
run_wrk moto "http://127.0.0.1:$MP" 8
run_wrk rdsemu "http://127.0.0.1:$RP" 8
run_wrk rdsemu-c64 "http://127.0.0.1:$RP" 64
RSS=$(awk '/VmHWM/ {print $2}' /proc/"${PIDS[1]}"/status)
echo "rdsemu peak RSS ${RSS} KiB"
SP=$(free_port)
"$PY" bench/startup_time.py "$BUILD/rdsemu" "$SP" 9 | tee "$OUT/startup.txt"
"$PY" - "$OUT" <<'PY'
import sys
d = sys.argv[1]
m = [float(x) for x in open(d + "/moto.txt.csv").read().split(",")]
r = [float(x) for x in open(d + "/rdsemu.txt.csv").read().split(",")]
st = float(open(d + "/startup.txt").read().split()[1])
ratio = r[0] / m[0]
print("ratio rdsemu/moto throughput %.1fx (target >= 50x: %s)" % (ratio, "met" if ratio >= 50 else "MISSED"))
print("rdsemu p99 %.3f ms (target < 2 ms: %s); moto p50 %.1f ms" % (r[2], "met" if r[2] < 2 else "MISSED", m[1]))
print("start-up to healthy %.1f ms (target < 50 ms: %s)" % (st, "met" if st < 50 else "MISSED"))
if r[3] or m[3]:
    print("WARNING: non-200 answers seen (rdsemu %d, moto %d): numbers are not valid" % (r[3], m[3]))
PY
