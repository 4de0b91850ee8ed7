#!/usr/bin/env python3
"""Hold N idle, logged-in PostgreSQL client connections (for the idle-client
memory figure of bench/proxy_bench.sh).

Each connection logs in, runs `select 1` in autocommit mode (so a pooler in
transaction mode gives its backend back at once) and then stays idle.  When
all are open, "connected=N failed=F" is written to the --ready file (and
printed); the helper then waits until the --stop file exists (or --timeout
seconds pass, or SIGTERM), closes every connection and exits.

Usage: idle_clients.py --port P --user U --password PW [--host H] [--dbname D]
       [--sslmode disable|require] [--n 1000] [--threads 4]
       --ready FILE --stop FILE [--timeout 300]
"""
import argparse
import os
import signal
import sys
import threading
import time

try:
    import psycopg2
except ImportError:  # Debian's python3-psycopg2 under another interpreter
    sys.path.append("/usr/lib/python3/dist-packages")
    import psycopg2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--dbname", default="bench")
    ap.add_argument("--sslmode", default="disable")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--stop", required=True)
    ap.add_argument("--timeout", type=float, default=300)
    a = ap.parse_args()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    conns = []
    errors = []
    lock = threading.Lock()
    todo = iter(range(a.n))

    def worker():
        while not stop.is_set():
            with lock:
                i = next(todo, None)
            if i is None:
                return
            try:
                c = psycopg2.connect(host=a.host, port=a.port, user=a.user, password=a.password,
                                     dbname=a.dbname, sslmode=a.sslmode, connect_timeout=30)
                c.autocommit = True
                with c.cursor() as cur:
                    cur.execute("select 1")
                    cur.fetchall()
                with lock:
                    conns.append(c)
            except Exception as e:  # counted and reported, the rest go on
                with lock:
                    errors.append(str(e).strip().splitlines()[0] if str(e).strip() else repr(e))

    t0 = time.monotonic()
    ts = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, a.threads))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    line = "connected=%d failed=%d seconds=%.1f" % (len(conns), len(errors), time.monotonic() - t0)
    if errors:
        line += " first_error=%r" % errors[0]
    print(line, flush=True)
    tmp = a.ready + ".tmp"
    with open(tmp, "w") as f:
        f.write(line + "\n")
    os.rename(tmp, a.ready)

    deadline = time.monotonic() + a.timeout
    while not stop.is_set() and not os.path.exists(a.stop) and time.monotonic() < deadline:
        time.sleep(0.05)
    for c in conns:
        try:
            c.close()
        except Exception:
            pass
    return 0 if conns else 1


if __name__ == "__main__":
    sys.exit(main())
