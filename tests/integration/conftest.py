"""pytest fixtures for the rdsemu integration suite.

One rdsemu server per session (`--ephemeral`, a free port on 127.0.0.1), or an already running
server when RDSEMU_TEST_ENDPOINT is set.  Every test starts from a reset server.  Tests that need a
server of their own (permissive auth, persistence, configuration) start it through `server_factory`,
which stops whatever it started.  On failure the tail of every involved server's log is attached to
the report.  A per-test alarm (RDSEMU_TEST_TIMEOUT, default 90 s) stops a test that hangs.
"""

import os
import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import helpers as H  # noqa: E402

_LIVE_SERVERS = []  # servers whose logs are attached to a failing test's report
TEST_TIMEOUT = int(os.environ.get("RDSEMU_TEST_TIMEOUT", "90"))


class _External:
    """Stands in for a Server when the suite runs against RDSEMU_TEST_ENDPOINT."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.log_path = None

    def log_text(self, limit=0):
        return "(external server; no log)"

    def alive(self):
        return H.healthy(self.endpoint)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    if H.EXTERNAL_ENDPOINT:
        yield _External(H.EXTERNAL_ENDPOINT)
        return
    if not H.BIN.exists():
        pytest.exit(f"rdsemu binary not found at {H.BIN}; build it or set RDSEMU_BIN / RDSEMU_TEST_ENDPOINT", 2)
    srv = H.Server(log_dir=tmp_path_factory.mktemp("logs"), name="main")
    srv.start()
    _LIVE_SERVERS.append(srv)
    try:
        yield srv
    finally:
        _LIVE_SERVERS.remove(srv)
        srv.stop_checked()


@pytest.fixture(scope="session")
def endpoint(server):
    return server.endpoint


@pytest.fixture(autouse=True)
def _fresh_state(request):
    """Reset the shared server before each test (only if the test uses it)."""
    ep = None
    if "endpoint" in request.fixturenames or "server" in request.fixturenames:
        ep = request.getfixturevalue("endpoint")
        H.reset(ep)
    yield
    if ep is not None:
        # and after: database servers and endpoint listeners a test created are wound
        # down before the next test, which may start an emulator that wants the same addresses
        try:
            H.reset(ep)
        except Exception:
            pass


@pytest.fixture
def need_binary():
    if not H.BIN.exists():
        pytest.skip(f"needs the rdsemu binary ({H.BIN}); this test starts its own server")


@pytest.fixture
def server_factory(tmp_path, need_binary):
    """server_factory(args=[...], env=None, ...) -> started Server; all are stopped at teardown."""
    started = []

    def make(args=(), env=None, start=True, **kw):
        srv = H.Server(args=args, env=env, log_dir=tmp_path, name=f"srv{len(started)}", **kw)
        started.append(srv)
        _LIVE_SERVERS.append(srv)
        if start:
            srv.start()
        return srv

    yield make
    problems = []
    for srv in started:
        try:
            srv.stop_checked(timeout=30)
        except AssertionError as e:
            problems.append(str(e))
        finally:
            if srv in _LIVE_SERVERS:
                _LIVE_SERVERS.remove(srv)
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def permissive_server(tmp_path_factory):
    if not H.BIN.exists():
        pytest.skip(f"needs the rdsemu binary ({H.BIN})")
    srv = H.Server(args=["--auth", "permissive"], log_dir=tmp_path_factory.mktemp("perm"), name="permissive")
    srv.start()
    _LIVE_SERVERS.append(srv)
    try:
        yield srv
    finally:
        _LIVE_SERVERS.remove(srv)
        srv.stop_checked()


@pytest.fixture
def sm(endpoint):
    return H.make_client(endpoint)


@pytest.fixture
def sm_west(endpoint):
    return H.make_client(endpoint, region=H.OTHER_REGION)


@pytest.fixture
def sm_factory(endpoint):
    def make(**kw):
        return H.make_client(endpoint, **kw)
    return make


@pytest.fixture
def clock(endpoint):
    """clock(seconds) moves the server's domain clock to real time + seconds; undone at teardown."""
    moved = []

    def move(seconds):
        H.set_clock(endpoint, seconds)
        moved.append(seconds)

    yield move
    if moved:
        H.set_clock(endpoint, 0)


@pytest.fixture
def cli(endpoint):
    if H.aws_cli_command() is None:
        pytest.skip("aws CLI not installed")

    def run(*args, **kw):
        return H.run_cli(endpoint, list(args), **kw)
    run.endpoint = endpoint
    return run


# -------------------------------------------------------------------------------------------
# hooks: per-test alarm, server logs on failure


def _alarm(signum, frame):
    raise TimeoutError(f"test exceeded {TEST_TIMEOUT}s (RDSEMU_TEST_TIMEOUT)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    item._rdsemu_log_offsets = {}
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    for srv in _LIVE_SERVERS:
        try:
            item._rdsemu_log_offsets[id(srv)] = srv.log_path.stat().st_size if srv.log_path else 0
        except OSError:
            item._rdsemu_log_offsets[id(srv)] = 0
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TEST_TIMEOUT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        offsets = getattr(item, "_rdsemu_log_offsets", {})
        for srv in list(_LIVE_SERVERS):
            if not getattr(srv, "log_path", None):
                continue
            try:
                data = srv.log_path.read_bytes()[offsets.get(id(srv), 0):]
            except OSError:
                continue
            text = data[-6000:].decode("utf-8", "replace")
            state = "alive" if srv.alive() else "NOT RUNNING"
            report.sections.append((f"rdsemu log ({srv.name}, {state}, {srv.log_path})", text or "(empty)"))
