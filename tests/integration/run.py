#!/usr/bin/env python3
"""Runs the rdsemu integration suite with whatever pytest is available.

pytest is taken from the running interpreter if it has one, else from Debian's python3-pytest
(/usr/lib/python3/dist-packages), appended at the END of sys.path so that the interpreter's own
boto3/botocore win.  Usage:

    python3 tests/integration/run.py [pytest args...]        # e.g. -k rotation -x -q

Environment: RDSEMU_BIN (default <repo>/build/rdsemu), RDSEMU_TEST_ENDPOINT (use a running
server instead of starting one), RDSEMU_TEST_TIMEOUT (per-test alarm, seconds, default 90).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

try:
    import pytest  # noqa: F401
except ImportError:
    for extra in ("/usr/lib/python3/dist-packages", "/usr/share/python3/dist-packages"):
        if os.path.isdir(extra) and extra not in sys.path:
            sys.path.append(extra)
    import pytest

if __name__ == "__main__":
    args = ["-c", os.path.join(HERE, "pytest.ini"), "--rootdir", HERE]
    user = sys.argv[1:]
    if not any(not a.startswith("-") and os.path.exists(a.split("::")[0]) for a in user):
        args.append(HERE)
    sys.exit(pytest.main(args + user))
