#!/usr/bin/env bash
# pgbench through the RDS Proxy data plane against the same PostgreSQL server
# reached directly and through PgBouncer (Debian package, transaction mode,
# the same pool size), in one run: select-only and TPC-B at 1, 10 and 50
# clients in simple, extended and prepared modes, and a storm of new
# connections per transaction (-C).  Prints TPS and ratios; targets from
# issue 5 are printed beside them.  All three paths use plaintext TCP on
# loopback (sslmode=disable) so the comparison is of the poolers, not of TLS.
# Usage: bench/proxy_bench.sh [seconds per run, default 10]
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
chmod 755 "$OUT"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$OUT"; }
trap cleanup EXIT
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

API=$(free_port)
BASE=$(free_port)
# one proxy in front of one instance, every endpoint on 127.0.0.1 from BASE
cat >"$OUT/fx.json" <<EOF
{"iam": {"roles": [{"RoleName": "bench-proxy", "AssumeRolePolicyDocument": {"Version": "2012-10-17",
   "Statement": [{"Effect": "Allow", "Principal": {"Service": "rds.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
   "Policies": [{"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
   "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}}]}]},
 "secrets": [{"Name": "bench/app", "SecretString": "{\"username\":\"bench\",\"password\":\"bench-pw-1\"}"}],
 "rds": {"instances": [{"DBInstanceIdentifier": "benchdb", "Engine": "postgres", "DBInstanceClass": "db.r5.large",
   "MasterUsername": "master", "MasterUserPassword": "master-pw-1", "DBName": "bench",
   "InitSQL": ["CREATE USER bench PASSWORD 'bench-pw-1'", "ALTER DATABASE bench OWNER TO bench",
               "GRANT ALL ON SCHEMA public TO bench"]}],
  "proxies": [{"DBProxyName": "benchproxy", "EngineFamily": "POSTGRESQL",
   "RoleArn": "arn:aws:iam::000000000000:role/bench-proxy", "VpcSubnetIds": ["subnet-a", "subnet-b"],
   "Auth": [{"AuthScheme": "SECRETS", "SecretArn": "bench/app", "IAMAuth": "DISABLED"}],
   "Targets": {"DBInstanceIdentifiers": ["benchdb"]}}]}}
EOF
$BUILD/rdsemu serve --ephemeral --port "$API" --log-level warn --endpoint-host 127.0.0.1 --endpoint-port-base "$BASE" \
	--fixtures "$OUT/fx.json" >"$OUT/rdsemu.log" 2>&1 &
RPID=$!
PIDS+=($RPID)
PROXY_PORT=$((BASE + 1)) # instance endpoint BASE, proxy BASE+1 (allocation order)
ok=
for _ in $(seq 1 300); do
	if PGPASSWORD=bench-pw-1 PGCONNECT_TIMEOUT=2 psql "host=127.0.0.1 port=$PROXY_PORT user=bench dbname=bench sslmode=disable" \
		-Atc "select 1" >/dev/null 2>&1; then ok=1; break; fi
	sleep 0.1
done
[ -n "$ok" ] || { echo "the proxy never answered"; tail "$OUT/rdsemu.log"; exit 1; }
SOCKDIR=$(ls -d /tmp/rdsemu-db-*/s* 2>/dev/null | grep -v '\.' | while read -r d; do
	[ -S "$d/.s.PGSQL.5432" ] && [ "$(stat -c %Y "$d")" -ge "$(stat -c %Y "$OUT")" ] && echo "$d"; done | head -1)
[ -n "$SOCKDIR" ] || { echo "cannot find the server's socket"; exit 1; }
MAXCONN=$(PGPASSWORD=master-pw-1 psql -h "$SOCKDIR" -U master -d bench -Atc "show max_connections")

# PgBouncer in transaction mode, pool as large as the proxy's (100% of max_connections)
BP=$(free_port)
RUNAS=()
[ "$(id -u)" = 0 ] && RUNAS=(runuser -u rdsemu --)
mkdir -p "$OUT/pgb" && chown "$([ "$(id -u)" = 0 ] && echo rdsemu || id -un)" "$OUT/pgb"
cat >"$OUT/pgb/pgbouncer.ini" <<EOF
[databases]
bench = host=$SOCKDIR port=5432 dbname=bench
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BP
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $OUT/pgb/users.txt
pool_mode = transaction
default_pool_size = $MAXCONN
max_client_conn = 1000
logfile = $OUT/pgb/pgbouncer.log
pidfile = $OUT/pgb/pgbouncer.pid
EOF
echo '"bench" "bench-pw-1"' >"$OUT/pgb/users.txt"
chown -R "$([ "$(id -u)" = 0 ] && echo rdsemu || id -un)" "$OUT/pgb"
"${RUNAS[@]}" pgbouncer "$OUT/pgb/pgbouncer.ini" >/dev/null 2>&1 &
PIDS+=($!)
sleep 0.5

export PGPASSWORD=bench-pw-1 PGSSLMODE=disable
pgbench -i -q -s 10 -h 127.0.0.1 -p "$BASE" -U bench bench >/dev/null 2>&1
run() { # name host port extra-args...
	local name=$1 host=$2 port=$3
	shift 3
	local out
	out=$(pgbench -h "$host" -p "$port" -U bench -T "$DUR" "$@" bench 2>&1 || true)
	local tps fail
	tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | head -1)
	fail=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out" | head -1)
	printf '%-34s %10s tps  failed %s\n' "$name" "${tps:-ERR}" "${fail:-?}"
	echo "${tps:-0}" >"$OUT/$(tr ' /' '__' <<<"$name")"
}
for script in select tpcb; do
	for c in 1 10 50; do
		for mode in simple extended prepared; do
			args=(-c "$c" -j 2 -M "$mode")
			[ "$script" = select ] && args+=(-S)
			run "direct $script c$c $mode" "$SOCKDIR" 5432 "${args[@]}"
			run "pgbouncer $script c$c $mode" 127.0.0.1 "$BP" "${args[@]}"
			run "rdsemu $script c$c $mode" 127.0.0.1 "$PROXY_PORT" "${args[@]}"
		done
	done
done
run "direct storm c200 -C" "$SOCKDIR" 5432 -c 200 -j 2 -S -C
run "pgbouncer storm c200 -C" 127.0.0.1 "$BP" -c 200 -j 2 -S -C
run "rdsemu storm c200 -C" 127.0.0.1 "$PROXY_PORT" -c 200 -j 2 -S -C

"$PY" - "$OUT" <<'PY'
import os, sys
out = sys.argv[1]
def v(name):
    try:
        return float(open(os.path.join(out, name.replace(" ", "_").replace("/", "_"))).read() or 0)
    except OSError:
        return 0.0
r10 = v("rdsemu select c10 simple") / max(v("pgbouncer select c10 simple"), 1e-9)
print("ratio rdsemu/pgbouncer select-only c10 simple: %.2fx (target >= 1.2x: %s)" % (r10, "met" if r10 >= 1.2 else "NOT met"))
rs = v("rdsemu storm c200 -C") / max(v("pgbouncer storm c200 -C"), 1e-9)
print("ratio rdsemu/pgbouncer storm: %.2fx (target >= 2x: %s)" % (rs, "met" if rs >= 2 else "NOT met"))
print("prepared mode through rdsemu: %s" % ("working" if v("rdsemu select c10 prepared") > 0 else "BROKEN"))
PY
