#!/usr/bin/env bash
# pgbench through the RDS Proxy data plane against the same PostgreSQL server
# reached directly (unix socket) and through PgBouncer (Debian package,
# transaction mode, the same pool size), in one run: select-only and TPC-B at
# 1, 10 and 50 clients in simple, extended and prepared modes, and a storm of
# new connections per transaction (-C, 200 clients in two pgbench processes,
# a SCRAM login each; then the same with MD5 logins).
# Beside TPS it measures, in the same run:
#   - the floor: pgbench select c10 through a byte relay with no logic
#     (bench/relay.c), whose CPU per transaction no epoll pooler goes below;
#   - one TCP loopback round trip (bench/rtt.c, TCP_NODELAY ping-pong);
#   - the latency a pooler adds to a single client's select (pgbench -c 1 -S);
#   - each pooler's own CPU per transaction (utime+stime of its process from
#     /proc/PID/stat around every pgbench run / transactions processed), and
#     per login during the storm;
#   - each pooler's memory per idle client (VmRSS growth while a set of 1000
#     logged-in idle clients of bench/idle_clients.py opens; the mean of two
#     plaintext sets), rdsemu also TLS;
#   - IAM+TLS and SCRAM+TLS logins per second through the proxy (pgbench -C).
# and ends with one "targets" line per target of issue 5: met / NOT met.
# The pooler paths use plaintext TCP on loopback (sslmode=disable) unless a
# line says TLS, so the comparison is of the poolers, not of TLS.
# Usage: bench/proxy_bench.sh [seconds per run, default 10] [--quick]
#   --quick: only select c1/c10 simple on the three paths, the storm, the
#            idle-client memory and the login figures.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
rdsemu_deps bench
DUR=10
QUICK=
for a in "$@"; do
	case "$a" in
	--quick) QUICK=1 ;;
	[0-9]*) DUR=$a ;;
	*) echo "usage: $0 [seconds per run] [--quick]" >&2; exit 2 ;;
	esac
done
PY=$(rdsemu_python)
# the idle-client helper needs psycopg2: Debian's, for Debian's python3
rdsemu_apt_install python3-psycopg2
SYSPY=/usr/bin/python3
[ -x "$SYSPY" ] || SYSPY=$PY
NIDLE=1000
LOGIN_T=$((DUR < 5 ? DUR : 5)) # seconds of each login-rate run
LAT_T=$((DUR < 3 ? DUR : 3))   # seconds of each extra single-client latency round
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"
BUILD=build-bench
[ -f $BUILD/build.ninja ] || meson setup $BUILD --buildtype=release -Dintegration=false >/dev/null
# wire/pgproxy.c may be mid-edit by someone else: retry the build a few times
for try in 1 2 3 4; do
	if ninja -C $BUILD rdsemu >/tmp/proxy_bench_build.$$ 2>&1; then break; fi
	if [ $try = 4 ]; then tail -30 /tmp/proxy_bench_build.$$; rm -f /tmp/proxy_bench_build.$$; exit 1; fi
	echo "build failed, retrying in 60 s" >&2
	sleep 60
done
rm -f /tmp/proxy_bench_build.$$
OUT=$(mktemp -d)
chmod 755 "$OUT"
mkdir -p "$OUT/logs"
PIDS=()
PGB_PID=
RELAY_PID=
cleanup() {
	local p
	[ -n "${OUT:-}" ] && touch "$OUT"/idle.{plain1,plain2,tls,pgb1,pgb2}.stop 2>/dev/null || true
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -n "$PGB_PID" ] && kill "$PGB_PID" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ticks() { # utime+stime of a process (clock ticks), 0 if none
	local s
	if [ -n "${1:-}" ] && s=$(cat "/proc/$1/stat" 2>/dev/null); then
		s=${s##*) }
		awk '{print $12 + $13}' <<<"$s"
	else
		echo 0
	fi
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
HZ=$(getconf CLK_TCK)
RES=$OUT/results.tsv # name tps latency_ms failed transactions aborted rdsemu_ticks pgbouncer_ticks pgbench_cpu_s relay_ticks
: >"$RES"
KV=$OUT/figures.tsv # key value
: >"$KV"
kv() { printf '%s\t%s\n' "$1" "$2" >>"$KV"; }

# one loopback round trip, before anything else loads the machine
cc -O2 -o "$OUT/rtt" bench/rtt.c
RTT_LINE=$("$OUT/rtt" 20000 64)
RTT=$(sed -n 's/.*median=\([0-9.]*\).*/\1/p' <<<"$RTT_LINE")
echo "loopback TCP round trip (TCP_NODELAY, 64 B, 20000 trips): $RTT_LINE"
echo "$(nproc) cores; load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every figure)"
kv rtt_us "$RTT"

API=$(free_port)
# BASE, BASE+1, ... are taken in order by the endpoints (each skips a port in
# use): pick BASE below the ephemeral range so that no client socket holds
# BASE+1 by chance, with the next four ports free
BASE=$("$PY" - <<'PY'
import random, socket
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(200):
    base = random.randrange(20000, lo - 8)
    try:
        for p in range(base, base + 4):
            s = socket.socket()
            s.bind(("127.0.0.1", p))
            s.close()
    except OSError:
        continue
    print(base)
    break
PY
)
# one proxy in front of one instance, every endpoint on 127.0.0.1 from BASE;
# bench logs in with SCRAM, bench_md5 with MD5, iam_bench with an IAM token (TLS only)
cat >"$OUT/fx.json" <<EOF
{"iam": {"roles": [{"RoleName": "bench-proxy", "AssumeRolePolicyDocument": {"Version": "2012-10-17",
   "Statement": [{"Effect": "Allow", "Principal": {"Service": "rds.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
   "Policies": [{"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
   "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}}]}]},
 "secrets": [{"Name": "bench/app", "SecretString": "{\"username\":\"bench\",\"password\":\"bench-pw-1\"}"},
             {"Name": "bench/iam", "SecretString": "{\"username\":\"iam_bench\",\"password\":\"iam-pw-1\"}"},
             {"Name": "bench/md5", "SecretString": "{\"username\":\"bench_md5\",\"password\":\"md5-pw-1\"}"}],
 "rds": {"instances": [{"DBInstanceIdentifier": "benchdb", "Engine": "postgres", "DBInstanceClass": "db.r5.large",
   "MasterUsername": "master", "MasterUserPassword": "master-pw-1", "DBName": "bench",
   "InitSQL": ["CREATE USER bench PASSWORD 'bench-pw-1'", "ALTER DATABASE bench OWNER TO bench",
               "GRANT ALL ON SCHEMA public TO bench", "CREATE USER iam_bench PASSWORD 'iam-pw-1'",
               "CREATE USER bench_md5 PASSWORD 'md5-pw-1'"]}],
  "proxies": [{"DBProxyName": "benchproxy", "EngineFamily": "POSTGRESQL",
   "RoleArn": "arn:aws:iam::000000000000:role/bench-proxy", "VpcSubnetIds": ["subnet-a", "subnet-b"],
   "Auth": [{"AuthScheme": "SECRETS", "SecretArn": "bench/app", "IAMAuth": "DISABLED",
             "ClientPasswordAuthType": "POSTGRES_SCRAM_SHA_256"},
            {"AuthScheme": "SECRETS", "SecretArn": "bench/iam", "IAMAuth": "REQUIRED"},
            {"AuthScheme": "SECRETS", "SecretArn": "bench/md5", "IAMAuth": "DISABLED",
             "ClientPasswordAuthType": "POSTGRES_MD5"}],
   "Targets": {"DBInstanceIdentifiers": ["benchdb"]}}]}}
EOF
$BUILD/rdsemu serve --ephemeral --port "$API" --log-level warn --endpoint-host 127.0.0.1 --endpoint-port-base "$BASE" \
	--fixtures "$OUT/fx.json" >"$OUT/rdsemu.log" 2>&1 &
RPID=$!
PIDS+=($RPID)
PROXY_PORT=$((BASE + 1)) # instance endpoint BASE, proxy BASE+1 (allocation order)
ok=
t0=$SECONDS
while [ $((SECONDS - t0)) -lt 180 ]; do # initdb is slow on a busy machine
	if PGPASSWORD=bench-pw-1 PGCONNECT_TIMEOUT=5 psql "host=127.0.0.1 port=$PROXY_PORT user=bench dbname=bench sslmode=disable" \
		-Atc "select 1" >/dev/null 2>&1; then ok=1; break; fi
	kill -0 "$RPID" 2>/dev/null || break
	sleep 0.2
done
if [ -z "$ok" ]; then
	echo "the proxy never answered on $PROXY_PORT ($((SECONDS - t0)) s); rdsemu listens on:"
	ss -ltnpH 2>/dev/null | grep "pid=$RPID," | awk '{print "    " $4}' || true
	tail "$OUT/rdsemu.log"
	exit 1
fi
echo "the proxy answered after $((SECONDS - t0)) s"
# the server's unix socket: from the command line of rdsemu's postgres child
# (other rdsemu instances may be running on this machine)
SOCKDIR=
for p in $(pgrep -P "$RPID" || true); do
	d=$(tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | sed -n 's/^unix_socket_directories=//p' | head -1 || true)
	if [ -n "$d" ] && [ -S "$d/.s.PGSQL.5432" ]; then SOCKDIR=$d; break; fi
done
[ -n "$SOCKDIR" ] || { echo "cannot find the server's socket"; exit 1; }
MAXCONN=$(PGPASSWORD=master-pw-1 psql -h "$SOCKDIR" -U master -d bench -Atc "show max_connections")

# IAM: a token naming the address the client connects to; one login must work
# before anything is measured
iam_token() {
	"$PY" - "$PROXY_PORT" <<'PY'
import sys, boto3
print(boto3.client("rds", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
      .generate_db_auth_token(DBHostname="127.0.0.1", Port=int(sys.argv[1]), DBUsername="iam_bench", Region="us-east-1"))
PY
}
IAM_TOKEN=$(iam_token)
if ! who=$(PGPASSWORD=$IAM_TOKEN PGSSLMODE=require PGCONNECT_TIMEOUT=10 psql \
	"host=127.0.0.1 port=$PROXY_PORT user=iam_bench dbname=bench" -Atc "select current_user" 2>&1) || [ "$who" != iam_bench ]; then
	echo "!!! IAM+TLS login through the proxy FAILED (user iam_bench, Auth entry bench/iam, IAMAuth REQUIRED):" >&2
	echo "$who" >&2
	echo "--- rdsemu.log tail:" >&2
	tail -20 "$OUT/rdsemu.log" >&2
	exit 1
fi
echo "IAM+TLS login through the proxy: ok ($who)"

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
auth_type = hba
auth_hba_file = $OUT/pgb/hba.conf
auth_file = $OUT/pgb/users.txt
pool_mode = transaction
default_pool_size = $MAXCONN
max_client_conn = 3000
logfile = $OUT/pgb/pgbouncer.log
pidfile = $OUT/pgb/pgbouncer.pid
EOF
printf '"bench" "bench-pw-1"\n"bench_md5" "md5-pw-1"\n' >"$OUT/pgb/users.txt"
# SCRAM for bench, MD5 for bench_md5: as the proxy's Auth entries say
printf 'host all bench_md5 127.0.0.1/32 md5\nhost all all 127.0.0.1/32 scram-sha-256\n' >"$OUT/pgb/hba.conf"
chown -R "$([ "$(id -u)" = 0 ] && echo rdsemu || id -un)" "$OUT/pgb"
# (runuser's PAM session resets the open-files limit: raise it again inside)
"${RUNAS[@]}" sh -c 'ulimit -n "$1" 2>/dev/null; exec pgbouncer "$2"' sh "$(ulimit -n)" "$OUT/pgb/pgbouncer.ini" \
	>"$OUT/pgb/stdout.log" 2>&1 &
PIDS+=($!)
# the real pgbouncer process (runuser is its parent when root): from its pidfile
for _ in $(seq 1 100); do
	PGB_PID=$(cat "$OUT/pgb/pgbouncer.pid" 2>/dev/null || true)
	[ -n "$PGB_PID" ] && [ -d "/proc/$PGB_PID" ] && break
	PGB_PID=
	sleep 0.05
done
[ -n "$PGB_PID" ] || { echo "PgBouncer did not start"; cat "$OUT/pgb/stdout.log" "$OUT/pgb/pgbouncer.log" 2>/dev/null | tail; exit 1; }
ok=
for _ in $(seq 1 100); do
	if PGPASSWORD=bench-pw-1 psql "host=127.0.0.1 port=$BP user=bench dbname=bench sslmode=disable" -Atc "select 1" >/dev/null 2>&1; then ok=1; break; fi
	sleep 0.05
done
[ -n "$ok" ] || { echo "PgBouncer never answered"; tail "$OUT/pgb/pgbouncer.log"; exit 1; }
PGB_NOFILE=$(awk '/Max open files/ {print $4}' "/proc/$PGB_PID/limits")
# the floor: a byte relay with no logic (bench/relay.c), one server connection per client
cc -O2 -o "$OUT/relay" bench/relay.c
RL=$(free_port)
"$OUT/relay" "$RL" "$SOCKDIR/.s.PGSQL.5432" &
RELAY_PID=$!
PIDS+=($RELAY_PID)
echo "rdsemu pid $RPID, pgbouncer pid $PGB_PID (open files limit $PGB_NOFILE), server max_connections $MAXCONN, CLK_TCK $HZ"

export PGPASSWORD=bench-pw-1 PGSSLMODE=disable
pgbench -i -q -s 10 -h 127.0.0.1 -p "$BASE" -U bench bench >/dev/null 2>&1
psql -h 127.0.0.1 -p "$BASE" -U bench -d bench -qc "GRANT SELECT ON ALL TABLES IN SCHEMA public TO iam_bench, bench_md5" >/dev/null

# run name host port pgbench-args...: one pgbench run, its TPS, latency,
# failures, aborted clients and the CPU both poolers spent meanwhile.
# RUN_USER and RUN_T override the user and the seconds; RUN_PROCS=N runs N
# pgbench processes side by side (the arguments are each one's share: the
# figures are summed, latency averaged).
#
# Why the storms use two processes of 100 clients (-j 1) rather than one of
# 200 (-j 2): libpq computes SCRAM's 4096 HMAC rounds through OpenSSL 3, whose
# HMAC_Init_ex looks the digest up under a process-wide lock on every round;
# two pgbench threads computing at once spend about half their CPU waiting on
# that lock (perf: pthread_rwlock_rdlock 33%, unlock 14% of pgbench), so one
# pgbench process caps a SCRAM storm by itself once the pooler is fast enough
# to let both threads compute together. Two processes share no lock.
run() {
	local name=$1 host=$2 port=$3
	shift 3
	local out r0 p0 x0 r1 p1 x1 tps lat fail ntx abrt dr dp dx cpu log ccpu i
	log="$OUT/logs/$(tr ' /' '__' <<<"$name").log"
	r0=$(ticks "$RPID")
	p0=$(ticks "$PGB_PID")
	x0=$(ticks "$RELAY_PID")
	# `times` adds the pgbench processes' own user and system CPU as the last line
	out=$({
		for i in $(seq 2 "${RUN_PROCS:-1}"); do
			pgbench -h "$host" -p "$port" -U "${RUN_USER:-bench}" -T "${RUN_T:-$DUR}" "$@" bench >"$log.$i" 2>&1 &
		done
		pgbench -h "$host" -p "$port" -U "${RUN_USER:-bench}" -T "${RUN_T:-$DUR}" "$@" bench 2>&1 || true
		wait
		for i in $(seq 2 "${RUN_PROCS:-1}"); do cat "$log.$i"; rm -f "$log.$i"; done
	}; times)
	r1=$(ticks "$RPID")
	p1=$(ticks "$PGB_PID")
	x1=$(ticks "$RELAY_PID")
	ccpu=$(tail -1 <<<"$out" | awk '{t = 0; for (i = 1; i <= 2; i++) {split($i, a, "m"); t += a[1] * 60 + a[2]}; print t}')
	out=$(head -n -2 <<<"$out")
	printf '%s\n' "$out" >"$log"
	tps=$(awk '/^tps = / {s += $3; n++} END {if (n) printf "%.6f", s}' <<<"$out")
	lat=$(awk '/^latency average = / {s += $4; n++} END {if (n) printf "%.3f", s / n}' <<<"$out")
	fail=$(awk '/^number of failed transactions: / {s += $5; n++} END {if (n) print s}' <<<"$out")
	ntx=$(awk '/^number of transactions actually processed: / {split($6, a, "/"); s += a[1]; n++} END {if (n) print s}' <<<"$out")
	# "client 3 aborted in command ...", "client 3 script 0 aborted in command ...",
	# "client 3 aborted while establishing connection"
	abrt=$(grep -cE 'client [0-9]+ (script [0-9]+ )?aborted' <<<"$out" || true)
	dr=$((r1 - r0))
	dp=$((p1 - p0))
	dx=$((x1 - x0))
	cpu=-
	if [ "${ntx:-0}" -gt 0 ]; then
		case "$name" in
		rdsemu*) cpu=$(awk -v t="$dr" -v hz="$HZ" -v n="$ntx" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}') ;;
		pgbouncer*) cpu=$(awk -v t="$dp" -v hz="$HZ" -v n="$ntx" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}') ;;
		relay*) cpu=$(awk -v t="$dx" -v hz="$HZ" -v n="$ntx" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}') ;;
		esac
	fi
	printf '%-34s %9.1f tps  lat %8s ms  failed %s  aborted %s  cpu %s us/tx  (pgbench %s us/tx)\n' "$name" "${tps:-0}" \
		"${lat:--}" "${fail:-?}" "$abrt" "$cpu" \
		"$(awk -v c="$ccpu" -v n="${ntx:-0}" 'BEGIN {if (n > 0) printf "%.1f", c * 1e6 / n; else print "-"}')"
	if [ -z "$tps" ] || [ "$abrt" -gt 0 ]; then
		grep -m1 -E 'error|ERROR|FATAL|aborted' <<<"$out" | cut -c1-200 | sed 's/^/    first error: /' || true
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "${tps:-0}" "${lat:-0}" "${fail:--1}" "${ntx:-0}" "$abrt" "$dr" "$dp" \
		"${ccpu:-0}" "$dx" >>"$RES"
}

echo
echo "== pgbench ($DUR s per run; direct = unix socket, poolers = TCP loopback; cpu = the pooler's own CPU per transaction)"
if [ -n "$QUICK" ]; then
	for c in 1 10; do
		args=(-c "$c" -j 2 -M simple -S)
		run "direct select c$c simple" "$SOCKDIR" 5432 "${args[@]}"
		run "pgbouncer select c$c simple" 127.0.0.1 "$BP" "${args[@]}"
		run "rdsemu select c$c simple" 127.0.0.1 "$PROXY_PORT" "${args[@]}"
		[ "$c" = 10 ] && run "relay select c$c simple" 127.0.0.1 "$RL" "${args[@]}"
	done
else
	for script in select tpcb; do
		for c in 1 10 50; do
			for mode in simple extended prepared; do
				args=(-c "$c" -j 2 -M "$mode")
				[ "$script" = select ] && args+=(-S)
				run "direct $script c$c $mode" "$SOCKDIR" 5432 "${args[@]}"
				run "pgbouncer $script c$c $mode" 127.0.0.1 "$BP" "${args[@]}"
				run "rdsemu $script c$c $mode" 127.0.0.1 "$PROXY_PORT" "${args[@]}"
				if [ "$script $c $mode" = "select 10 simple" ]; then
					run "relay $script c$c $mode" 127.0.0.1 "$RL" "${args[@]}"
				fi
			done
		done
	done
fi
echo
echo "== single-client latency, four more rounds of select c1 simple ($LAT_T s), interleaved; what counts is"
echo "   the median over the rounds of each pooler's latency minus direct's in the same round"
for r in 2 3 4 5; do
	RUN_T=$LAT_T run "direct select c1 simple #$r" "$SOCKDIR" 5432 -c 1 -M simple -S
	RUN_T=$LAT_T run "pgbouncer select c1 simple #$r" 127.0.0.1 "$BP" -c 1 -M simple -S
	RUN_T=$LAT_T run "rdsemu select c1 simple #$r" 127.0.0.1 "$PROXY_PORT" -c 1 -M simple -S
done
echo
# warm host port user password: a 1 s storm first, not measured, so each pooler's pool for that
# user is filled before the measured run (steady state, for both alike)
warm() { PGPASSWORD=$4 pgbench -h "$1" -p "$2" -U "$3" -T 1 -c 200 -j 2 -S -C bench >/dev/null 2>&1 || true; }
# storm tag user password: the poolers in the order A B B A (a storm leaves thousands of TIME_WAIT
# sockets that slow the next one's connects: each pooler runs once first and once second); the
# summary merges "NAME" and "NAME #2"
storm() {
	local tag=$1 user=$2 pw=$3
	warm 127.0.0.1 "$BP" "$user" "$pw"
	PGPASSWORD=$pw RUN_USER=$user RUN_PROCS=2 run "pgbouncer storm${tag} c200 -C" 127.0.0.1 "$BP" -c 100 -j 1 -S -C
	warm 127.0.0.1 "$PROXY_PORT" "$user" "$pw"
	PGPASSWORD=$pw RUN_USER=$user RUN_PROCS=2 run "rdsemu storm${tag} c200 -C" 127.0.0.1 "$PROXY_PORT" -c 100 -j 1 -S -C
	warm 127.0.0.1 "$PROXY_PORT" "$user" "$pw"
	PGPASSWORD=$pw RUN_USER=$user RUN_PROCS=2 run "rdsemu storm${tag} c200 -C #2" 127.0.0.1 "$PROXY_PORT" -c 100 -j 1 -S -C
	warm 127.0.0.1 "$BP" "$user" "$pw"
	PGPASSWORD=$pw RUN_USER=$user RUN_PROCS=2 run "pgbouncer storm${tag} c200 -C #2" 127.0.0.1 "$BP" -c 100 -j 1 -S -C
}
echo "== storm: 200 clients (two pgbench processes of 100), a new connection (SCRAM login) per transaction;"
echo "   cpu = the pooler's CPU per login"
echo "   (each measured storm follows an unmeasured 1 s one; poolers in the order A B B A)"
RUN_PROCS=2 run "direct storm c200 -C" "$SOCKDIR" 5432 -c 100 -j 1 -S -C
storm "" bench bench-pw-1
echo "== the same storm with MD5 logins (bench_md5): pgbench's own SCRAM work no longer dominates"
storm " md5" bench_md5 md5-pw-1

echo
echo "== logins per second through the proxy (two pgbench -C -S -n -c 5, TLS, $LOGIN_T s)"
IAM_TOKEN=$(iam_token) # a fresh one: the first may be near its 15 minutes
PGSSLMODE=require RUN_T=$LOGIN_T RUN_PROCS=2 run "rdsemu login scram+tls c10 -C" 127.0.0.1 "$PROXY_PORT" -c 5 -j 1 -S -n -C
PGSSLMODE=require PGPASSWORD=$IAM_TOKEN RUN_USER=iam_bench RUN_T=$LOGIN_T RUN_PROCS=2 \
	run "rdsemu login iam+tls c10 -C" 127.0.0.1 "$PROXY_PORT" -c 5 -j 1 -S -n -C

# Idle clients: bench/idle_clients.py holds NIDLE logged-in idle clients until
# told to stop.  idle_start tag port sslmode starts one; idle_ready tag waits
# until its clients are all open; idle_stop tag closes them.
declare -A IDLE_PIDS
idle_start() {
	rm -f "$OUT/idle.$1.ready" "$OUT/idle.$1.stop"
	"$SYSPY" bench/idle_clients.py --host 127.0.0.1 --port "$2" --user bench --password bench-pw-1 --sslmode "$3" \
		--n "$NIDLE" --ready "$OUT/idle.$1.ready" --stop "$OUT/idle.$1.stop" --timeout 600 >"$OUT/idle.$1.log" 2>&1 &
	IDLE_PIDS[$1]=$!
	PIDS+=($!)
}
idle_ready() { # prints the helper's line, or nothing if it failed
	local _
	for _ in $(seq 1 3000); do
		[ -f "$OUT/idle.$1.ready" ] && break
		kill -0 "${IDLE_PIDS[$1]}" 2>/dev/null || break
		sleep 0.1
	done
	cat "$OUT/idle.$1.ready" 2>/dev/null || tail -3 "$OUT/idle.$1.log" | sed 's/^/    helper: /' >&2
}
idle_stop() {
	touch "$OUT/idle.$1.stop"
	wait "${IDLE_PIDS[$1]}" 2>/dev/null || true
}
bench_backends() {
	PGPASSWORD=master-pw-1 psql -h "$SOCKDIR" -U master -d bench -Atc \
		"select count(*) from pg_stat_activity where usename = 'bench'" 2>/dev/null || echo '?'
}
# idle_report label line rss_before rss_with key: the KB per client figure
idle_report() {
	local n kb
	n=$(sed -n 's/^connected=\([0-9]*\).*/\1/p' <<<"$2")
	kb=$(awk -v a="$3" -v b="$4" -v n="${n:-0}" 'BEGIN {if (n > 0) printf "%.2f", (b - a) / n; else print "-"}')
	printf '%-21s %4s idle clients: VmRSS %6d -> %6d KB = %6s KB per client  (opened in %s s)\n' "$1" "${n:-0}" "$3" "$4" \
		"$kb" "$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$2")"
	case "$2" in *failed=0*) ;; *) echo "    ${2:-the helper failed}" ;; esac
	kv "$5" "$kb"
}
echo
echo "== idle clients: each logged in, ran 'select 1' (autocommit), then idle; sets of $NIDLE opened one after"
echo "   the other and held together (no freed memory is reused); the per-client figure is the mean of the two"
echo "   plaintext sets (the 1st carries one-off growth, the 2nd may fill pages the 1st left half used)"
# idle_set tag pid port sslmode label key: open a set, report VmRSS growth
idle_set() {
	local m0 m1 l
	m0=$(rss_kb "$2")
	idle_start "$1" "$3" "$4"
	l=$(idle_ready "$1")
	sleep 1
	m1=$(rss_kb "$2")
	idle_report "$5" "$l" "$m0" "$m1" "$6"
}
sleep 0.5
b0=$(bench_backends)
idle_set plain1 "$RPID" "$PROXY_PORT" disable "rdsemu plain, 1st" mem_rdsemu_plain1
idle_set plain2 "$RPID" "$PROXY_PORT" disable "rdsemu plain, 2nd" mem_rdsemu_plain2
idle_set tls "$RPID" "$PROXY_PORT" require "rdsemu TLS" mem_rdsemu_tls
echo "   server backends of user bench: $b0 before, $(bench_backends) with all these clients idle"
idle_stop plain1
idle_stop plain2
idle_stop tls
sleep 0.5
echo "   rdsemu VmRSS after they closed: $(rss_kb "$RPID") KB"
idle_set pgb1 "$PGB_PID" "$BP" disable "pgbouncer plain, 1st" mem_pgbouncer_plain1
idle_set pgb2 "$PGB_PID" "$BP" disable "pgbouncer plain, 2nd" mem_pgbouncer_plain2
idle_stop pgb1
idle_stop pgb2

echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" - "$RES" "$KV" "$HZ" "$QUICK" <<'PY'
import sys
res_path, kv_path, hz, quick = sys.argv[1], sys.argv[2], float(sys.argv[3]), bool(sys.argv[4])
R = {}
for line in open(res_path):
    name, tps, lat, fail, ntx, abrt, dr, dp, cc, dx = line.rstrip("\n").split("\t")
    R[name] = dict(tps=float(tps), lat=float(lat), fail=int(fail), ntx=int(ntx), abrt=int(abrt), dr=int(dr), dp=int(dp),
                   cc=float(cc), dx=int(dx))
# "NAME #2" runs of the storms (A B B A order) merge into NAME: mean rates, summed counts, so CPU
# per transaction is over both runs
for name in [n for n in R if n.endswith(" -C #2")]:
    a, b = R.get(name[:-3]), R.pop(name)
    if a:
        R[name[:-3]] = dict(tps=(a["tps"] + b["tps"]) / 2, lat=(a["lat"] + b["lat"]) / 2,
                           fail=(a["fail"] + b["fail"]) if min(a["fail"], b["fail"]) >= 0 else -1,
                           ntx=a["ntx"] + b["ntx"], abrt=a["abrt"] + b["abrt"], dr=a["dr"] + b["dr"],
                           dp=a["dp"] + b["dp"], cc=a["cc"] + b["cc"], dx=a["dx"] + b["dx"])
K = dict(l.rstrip("\n").split("\t", 1) for l in open(kv_path))

def f(key, default=None):
    try:
        return float(K[key])
    except (KeyError, ValueError):
        return default

def tps(name):
    return R.get(name, {}).get("tps", 0.0)

def cpu_us(name, who):  # the pooler's CPU per transaction, µs
    r = R.get(name)
    if not r or r["ntx"] <= 0:
        return None
    return r[{"rdsemu": "dr", "pgbouncer": "dp", "relay": "dx"}[who]] / hz * 1e6 / r["ntx"]

def bad(name):  # failed transactions + aborted clients (-1: no figure)
    r = R.get(name)
    if not r:
        return None
    return max(r["fail"], 0) + r["abrt"] + (1 if r["tps"] <= 0 else 0)

def ok(cond):
    return "met" if cond else "NOT met"

def fmt(x, spec="%.1f"):
    return "n/a" if x is None else spec % x

# kept from before
r10 = tps("rdsemu select c10 simple") / max(tps("pgbouncer select c10 simple"), 1e-9)
print("ratio rdsemu/pgbouncer select-only c10 simple: %.2fx (target >= 1.2x: %s)" % (r10, ok(r10 >= 1.2)))
rs = tps("rdsemu storm c200 -C") / max(tps("pgbouncer storm c200 -C"), 1e-9)
print("ratio rdsemu/pgbouncer storm: %.2fx (target >= 2x: %s)" % (rs, ok(rs >= 2)))
if not quick:
    print("prepared mode through rdsemu: %s" % ("working" if tps("rdsemu select c10 prepared") > 0 else "BROKEN"))

rtt = f("rtt_us")
def lat(path, rnd):  # ms, None when that run has no figure
    r = R.get("%s select c1 simple%s" % (path, "" if rnd == 1 else " #%d" % rnd))
    return r["lat"] if r and r["lat"] > 0 else None

def median(v):
    v = sorted(v)
    return None if not v else v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2

def added(path):  # µs: the median over the interleaved rounds of (pooler - direct) in the same round
    return median([(lat(path, k) - lat("direct", k)) * 1000 for k in range(1, 6)
                   if lat(path, k) is not None and lat("direct", k) is not None])
add_p, add_e = added("pgbouncer"), added("rdsemu")
d1 = median([lat("direct", k) for k in range(1, 6) if lat("direct", k) is not None])
print()
print("figures (PgBouncer | rdsemu):")
print("  added single-client select latency (median of 5 paired rounds): %s | %s us (direct %s us, loopback RTT %s us)"
      % (fmt(add_p), fmt(add_e), fmt(d1 * 1000 if d1 else None), fmt(rtt)))
for n in ("select c1 simple", "select c10 simple"):
    print("  pooler CPU per transaction, %s: %s | %s us"
          % (n, fmt(cpu_us("pgbouncer " + n, "pgbouncer")), fmt(cpu_us("rdsemu " + n, "rdsemu"))))
fl = cpu_us("relay select c10 simple", "relay")
print("  the floor, a byte relay with no logic (bench/relay.c), select c10 simple: %s us of CPU per transaction,"
      " %.0f tps" % (fmt(fl), tps("relay select c10 simple")))
print("  TPS select c10 simple: %.0f | %.0f (direct %.0f; %.2fx | %.2fx of direct)"
      % (tps("pgbouncer select c10 simple"), tps("rdsemu select c10 simple"), tps("direct select c10 simple"),
         tps("pgbouncer select c10 simple") / max(tps("direct select c10 simple"), 1e-9),
         tps("rdsemu select c10 simple") / max(tps("direct select c10 simple"), 1e-9)))
for p in ("direct", "pgbouncer", "rdsemu"):
    r = R.get(p + " storm c200 -C")
    if r:
        print("  storm %-9s %.0f tps, failed %d, aborted clients %d" % (p + ":", r["tps"], max(r["fail"], 0), r["abrt"]))
sp = cpu_us("pgbouncer storm c200 -C", "pgbouncer")
se = cpu_us("rdsemu storm c200 -C", "rdsemu")
print("  CPU per SCRAM login (storm): %s | %s ms" % (fmt(sp / 1000 if sp else None, "%.3f"), fmt(se / 1000 if se else None, "%.3f")))
# pgbench's own SCRAM client work runs on the same cores (about 3.5 ms per login here)
rp, re_ = R.get("pgbouncer storm c200 -C"), R.get("rdsemu storm c200 -C")
if rp and re_ and rp["ntx"] > 0 and re_["ntx"] > 0:
    print("  pgbench's own CPU per login (storm): %.3f | %.3f ms"
          % (rp["cc"] * 1e3 / rp["ntx"], re_["cc"] * 1e3 / re_["ntx"]))
rm5 = R.get("rdsemu storm md5 c200 -C")
pm5 = R.get("pgbouncer storm md5 c200 -C")
if rm5 and pm5:
    print("  storm with MD5 logins: %.0f | %.0f tps (%.2fx), failed %d | %d, aborted %d | %d; CPU per login %s | %s ms"
          % (pm5["tps"], rm5["tps"], rm5["tps"] / max(pm5["tps"], 1e-9), max(pm5["fail"], 0), max(rm5["fail"], 0),
             pm5["abrt"], rm5["abrt"],
             fmt(cpu_us("pgbouncer storm md5 c200 -C", "pgbouncer") / 1000
                 if cpu_us("pgbouncer storm md5 c200 -C", "pgbouncer") else None, "%.3f"),
             fmt(cpu_us("rdsemu storm md5 c200 -C", "rdsemu") / 1000
                 if cpu_us("rdsemu storm md5 c200 -C", "rdsemu") else None, "%.3f")))
def mean2(a, b):
    return None if a is None or b is None else (a + b) / 2
mp = mean2(f("mem_pgbouncer_plain1"), f("mem_pgbouncer_plain2"))
me = mean2(f("mem_rdsemu_plain1"), f("mem_rdsemu_plain2"))
mt = f("mem_rdsemu_tls")
print("  memory per idle client (mean of 2 sets): %s | %s KB (sets: %s, %s | %s, %s KB; rdsemu TLS: %s KB)"
      % (fmt(mp, "%.2f"), fmt(me, "%.2f"), fmt(f("mem_pgbouncer_plain1"), "%.2f"), fmt(f("mem_pgbouncer_plain2"), "%.2f"),
         fmt(f("mem_rdsemu_plain1"), "%.2f"), fmt(f("mem_rdsemu_plain2"), "%.2f"), fmt(mt, "%.2f")))
if not quick:
    for m in ("extended", "prepared"):
        print("  select c10 %s: %.0f | %.0f tps (failed %s | %s, aborted %s | %s)"
              % (m, tps("pgbouncer select c10 " + m), tps("rdsemu select c10 " + m),
                 R.get("pgbouncer select c10 " + m, {}).get("fail"), R.get("rdsemu select c10 " + m, {}).get("fail"),
                 R.get("pgbouncer select c10 " + m, {}).get("abrt"), R.get("rdsemu select c10 " + m, {}).get("abrt")))

print()
print("targets (rdsemu, this run):")
T = []
if add_e is not None and rtt is not None:
    T.append(("added single-client latency <= RTT + 10 us", "%.1f us (limit %.1f)" % (add_e, rtt + 10), add_e <= rtt + 10))
else:
    T.append(("added single-client latency <= RTT + 10 us", "no figure", False))
c = cpu_us("rdsemu select c10 simple", "rdsemu")
T.append(("proxy CPU per simple transaction (select c10) <= 15 us", fmt(c) + " us (no-logic relay: %s)" % fmt(fl),
          c is not None and c <= 15))
T.append(("TPS select c10 simple >= 1.2x PgBouncer", "%.2fx (no-logic relay: %.2fx)"
          % (r10, tps("relay select c10 simple") / max(tps("pgbouncer select c10 simple"), 1e-9)), r10 >= 1.2))
sb = bad("rdsemu storm c200 -C")
T.append(("storm >= 2x PgBouncer, zero failures", "%.2fx, %s failed/aborted" % (rs, "?" if sb is None else sb),
          rs >= 2 and sb == 0))
if quick:
    T.append(("-M prepared working", "not run (--quick)", None))
else:
    pb = [bad("rdsemu %s c%d prepared" % (s, n)) for s in ("select", "tpcb") for n in (1, 10, 50)]
    T.append(("-M prepared working", "%d of 6 prepared runs clean" % sum(1 for b in pb if b == 0),
              all(b == 0 for b in pb)))
T.append(("memory per idle plaintext client <= 1 KB", "%s KB (TLS %s KB, PgBouncer %s KB)" % (fmt(me, "%.2f"), fmt(mt, "%.2f"), fmt(mp, "%.2f")),
          me is not None and me <= 1.0))
if sp and se:
    T.append(("SCRAM login CPU <= 1/10 of PgBouncer's", "%.3f ms vs %.3f ms (%.2f of it)" % (se / 1000, sp / 1000, se / sp), se <= sp / 10))
else:
    T.append(("SCRAM login CPU <= 1/10 of PgBouncer's", "no figure", False))
il, sl = R.get("rdsemu login iam+tls c10 -C"), R.get("rdsemu login scram+tls c10 -C")
T.append(("IAM+TLS logins per second (printed)", "%s /s (SCRAM+TLS %s /s)%s"
          % (fmt(il and il["tps"], "%.0f"), fmt(sl and sl["tps"], "%.0f"),
             "" if il and bad("rdsemu login iam+tls c10 -C") == 0 else ", with failures"),
          bool(il and il["tps"] > 0 and bad("rdsemu login iam+tls c10 -C") == 0)))
for label, fig, good in T:
    print("  %-56s %-44s %s" % (label, fig, "-" if good is None else ok(good)))
PY

# the proxy's complaints, kept in the output (the log goes with $OUT): each
# kind of line once, with its count (numbers masked), then the last 5 lines
if [ -s "$OUT/rdsemu.log" ]; then
	echo
	echo "rdsemu.log: $(wc -l <"$OUT/rdsemu.log") lines (log level warn); by kind:"
	sed -E 's/^[0-9T:.-]+Z //; s/[0-9]+/N/g' "$OUT/rdsemu.log" | cut -c1-240 | sort | uniq -c | sort -rn | head -12 |
		sed 's/^/    /'
	echo "  last 5:"
	tail -5 "$OUT/rdsemu.log" | cut -c1-300 | sed 's/^/    /'
fi
