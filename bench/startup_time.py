#!/usr/bin/env python3
"""Measures the time from exec of `rdsemu serve` to the first 200 from
/_rdsemu/health, N times; prints the median and max in milliseconds.
Usage: startup_time.py RDSEMU_BIN PORT [N] [extra serve args...]
"""
import http.client
import statistics
import subprocess
import sys
import time

binary, port = sys.argv[1], int(sys.argv[2])
n = int(sys.argv[3]) if len(sys.argv) > 3 else 7
extra = sys.argv[4:]
samples = []
for _ in range(n):
    t0 = time.perf_counter()
    p = subprocess.Popen([binary, "serve", "--ephemeral", "--port", str(port), "--log-level", "warn"] + extra,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ok = False
    deadline = t0 + 5
    while time.perf_counter() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/_rdsemu/health")
            if c.getresponse().status == 200:
                ok = True
                break
        except OSError:
            time.sleep(0.0005)
    dt = (time.perf_counter() - t0) * 1000
    p.terminate()
    p.wait(5)
    if not ok:
        print("startup: server did not become healthy within 5 s")
        sys.exit(1)
    samples.append(dt)
print("startup_ms_median %.1f max %.1f (n=%d)" % (statistics.median(samples), max(samples), n))
