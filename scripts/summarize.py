#!/usr/bin/env python3
"""Prints one closing line for a test run: 'N passed, N failed, N skipped'.

Counts every check, not every executable: TAP lines of the C unit tests,
the pytest cases of the integration suite (its JUnit XML), and the other
meson tests (fuzz corpus replays) one each. Reads <build>/meson-logs/testlog.json.
"""
import json
import os
import re
import sys
import xml.etree.ElementTree as ET

build = sys.argv[1] if len(sys.argv) > 1 else "build"
log = os.path.join(build, "meson-logs", "testlog.json")
passed = failed = skipped = 0
if not os.path.exists(log):
    print("0 passed, 1 failed (no test log: the build or the test run did not start)")
    sys.exit(1)
for line in open(log):
    t = json.loads(line)
    name, result, out = t.get("name", ""), t.get("result", ""), t.get("stdout") or ""
    junit = os.path.join(build, "meson-logs", "pytest-%s.xml" % re.split(r"[:/ ]+", name)[-1])
    if "integration" in name and os.path.exists(junit):
        root = ET.parse(junit).getroot()
        suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
        for s in suites:
            n, f, e, sk = (int(s.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
            passed += n - f - e - sk
            failed += f + e
            skipped += sk
        if result not in ("OK", "EXPECTEDFAIL", "SKIP") and not any(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites):
            failed += 1  # the runner itself failed (server crash, leak at exit)
        continue
    oks = len(re.findall(r"^ok \d+", out, re.M))
    noks = len(re.findall(r"^not ok \d+", out, re.M))
    if oks or noks:
        passed += oks
        failed += noks
        if result not in ("OK", "EXPECTEDFAIL") and noks == 0:
            failed += 1  # crashed or leaked after its checks
    elif result in ("OK", "EXPECTEDFAIL"):
        passed += 1
    elif result == "SKIP":
        skipped += 1
    else:
        failed += 1
print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
sys.exit(1 if failed else 0)
