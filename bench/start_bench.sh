#!/usr/bin/env bash
# Start-up of the default fixtures (fixtures/default.json: a PostgreSQL
# instance, a MariaDB instance, a proxy, the roles and secrets of the four
# patterns), from exec to "every DB instance available" (first initialisation
# of both servers included: --ephemeral gives fresh data each time), and the
# clean stop of everything afterwards.  Target (issue 4): under 10 s on the
# project's 2-core machine.  Baseline measured in the same run: initdb +
# first start of a bare PostgreSQL server alone, the floor of any emulator
# that runs real servers.
# Usage: bench/start_bench.sh [runs, default 5]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
rdsemu_deps bench
PY=$(rdsemu_python)
RUNS=${1:-5}
BUILD=build-bench
[ -f $BUILD/build.ninja ] || meson setup $BUILD --buildtype=release -Dintegration=false >/dev/null
ninja -C $BUILD rdsemu >/dev/null
OUT=$(mktemp -d)
chmod 755 "$OUT"
cleanup() { pkill -f "rdsemu serve --ephemeral --port $PORT" 2>/dev/null || true; rm -rf "$OUT"; }
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
trap cleanup EXIT
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

starts=() stops=()
for i in $(seq 1 "$RUNS"); do
	log="$OUT/run$i.log"
	t0=$(now_ms)
	$BUILD/rdsemu serve --ephemeral --port "$PORT" --fixtures fixtures/default.json >"$log" 2>&1 &
	pid=$!
	ok=
	for _ in $(seq 1 1500); do
		if grep -q "DB instances available in" "$log"; then ok=1; break; fi
		kill -0 $pid 2>/dev/null || break
		sleep 0.02
	done
	t1=$(now_ms)
	[ -n "$ok" ] || { echo "run $i: instances never became available"; tail -20 "$log"; exit 1; }
	kill -TERM $pid
	wait $pid || { echo "run $i: unclean exit"; tail -20 "$log"; exit 1; }
	t2=$(now_ms)
	starts+=($((t1 - t0))) stops+=($((t2 - t1)))
	echo "run $i: all DB instances available after $((t1 - t0)) ms, stopped in $((t2 - t1)) ms"
done

# baseline: initdb + first start of one bare PostgreSQL server
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
RUNAS=()
[ "$(id -u)" = 0 ] && RUNAS=(runuser -u rdsemu --)
base=()
for i in $(seq 1 "$RUNS"); do
	d="$OUT/pg$i"
	mkdir "$d" && chown "$( [ "$(id -u)" = 0 ] && echo rdsemu || id -un)" "$d"
	t0=$(now_ms)
	"${RUNAS[@]}" "$PGBIN/initdb" -D "$d/data" -U postgres --auth=trust >/dev/null
	"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$d/data" -o "-c listen_addresses='' -c unix_socket_directories=$d" -w -l "$d/log" start >/dev/null
	t1=$(now_ms)
	"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$d/data" -m fast -w stop >/dev/null
	base+=($((t1 - t0)))
done

"$PY" - "${starts[*]}" "${stops[*]}" "${base[*]}" <<'PY'
import statistics, sys
s, st, b = ([int(x) for x in a.split()] for a in sys.argv[1:4])
ms, mb = statistics.median(s), statistics.median(b)
print("default fixtures ready: median %d ms, max %d ms (n=%d); stop median %d ms" % (ms, max(s), len(s), statistics.median(st)))
print("baseline initdb + start of one bare PostgreSQL: median %d ms" % mb)
print("ratio default fixtures / bare PostgreSQL: %.2fx" % (ms / mb))
print("start-up of the default fixtures %.1f s (target < 10 s: %s)" % (ms / 1000, "met" if max(s) < 10000 else "NOT met"))
PY
