"""More of the RDS Proxy data plane for PostgreSQL (aws-behaviour.md 3.5-3.9), driven by psycopg2,
pgbench and a small raw-protocol client: every pinning rule of wire/pinning.c observed through the
backend a second client gets, pgbench in every query mode, a backend that dies under a query, a client
that vanishes mid-transaction, CancelRequest, READ_ONLY proxy endpoints, requests that wait through
a failover, MaxIdleConnectionsPercent and the 24-hour backend lifetime, and DebugLogging."""
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid

import pytest

import helpers as H
from test_proxy_pg import _psycopg2, aurora_doc, fixture_doc

pg = _psycopg2()
pytestmark = pytest.mark.skipif(pg is None, reason="needs psycopg2 (python3-psycopg2)")
if pg is not None:
    import psycopg2.errors  # noqa: F401  (QueryCanceled)

PGBENCH = shutil.which("pgbench")
APP_PW = "app-pw-1"

# Objects the pinning cases use, made by the master at instance creation (InitSQL runs in appdb).
PIN_INIT_SQL = ["CREATE SEQUENCE pin_seq",
                "GRANT USAGE, SELECT, UPDATE ON SEQUENCE pin_seq TO app_user",
                "CREATE TABLE pin_t(x int)",
                "GRANT ALL ON TABLE pin_t TO app_user"]


# ---------------------------------------------------------------------------------------------
# helpers


def _doc(extra_init=(), client_auth="POSTGRES_SCRAM_SHA_256"):
    doc = fixture_doc(client_auth=client_auth)
    doc["rds"]["instances"][0]["InitSQL"] = doc["rds"]["instances"][0]["InitSQL"] + list(extra_init)
    return doc


def _load_instance_proxy(endpoint, extra_init=()):
    H.load_fixtures(endpoint, _doc(extra_init))
    rds = H.make_client(endpoint, service="rds")
    rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier="pxdb",
                                                 WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    p = rds.describe_db_proxies(DBProxyName="px")["DBProxies"][0]
    inst = rds.describe_db_instances(DBInstanceIdentifier="pxdb")["DBInstances"][0]
    return {"host": p["Endpoint"], "port": 5432, "rds": rds, "instance": inst["Endpoint"], "endpoint": endpoint}


@pytest.fixture
def px(endpoint):
    return _load_instance_proxy(endpoint)


def _dsn(host, port=5432, user="app_user", password=APP_PW, sslmode="disable"):
    return (f"host={host} port={port} user={user} password={password} dbname=appdb sslmode={sslmode} "
            f"connect_timeout=10 application_name=pytest client_encoding=UTF8")


def _connect(host, sslmode="disable", autocommit=True, **kw):
    c = pg.connect(_dsn(host, sslmode=sslmode, **kw))
    c.autocommit = autocommit
    return c


def _one(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def _master(proxy):
    inst = proxy["instance"]
    return _connect(inst["Address"], port=inst["Port"], user="master", password="master-pw-1")


def _app_backends(master, state=None):
    sql = "select count(*) from pg_stat_activity where usename = 'app_user'"
    if state:
        sql += " and state = '%s'" % state
    return _one(master, sql)


def _metrics(endpoint, name="px"):
    status, body = H.http_get(endpoint + "/_rdsemu/proxy/metrics")
    assert status == 200, body
    return {p["ProxyName"]: p for p in json.loads(body)["Proxies"]}.get(name, {})


def _wait(cond, timeout, what):
    """Polls cond() until it returns something true (helpers.poll); returns that value."""
    return H.poll(cond, timeout, desc=what)


def _log_mark(server):
    if not getattr(server, "log_path", None):
        pytest.skip("needs the server's log (not available with RDSEMU_TEST_ENDPOINT)")
    try:
        return server.log_path.stat().st_size
    except OSError:
        return 0


def _log_since(server, mark):
    with open(server.log_path, "rb") as f:
        f.seek(mark)
        return f.read().decode("utf-8", "replace")


def _join_all(threads, timeout):
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return [t for t in threads if t.is_alive()]


class RawPg:
    """A minimal PostgreSQL protocol-3 client (no TLS): SCRAM-SHA-256 or MD5 login, simple queries,
    and Parse/Bind/Execute/Sync with a named or the unnamed statement."""

    def __init__(self, host, port, user, password, db="appdb", timeout=10):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        # the start-up parameters libpq sends for _dsn(): the proxy pools by them
        params = ((b"user", user), (b"database", db), (b"application_name", "pytest"), (b"client_encoding", "UTF8"))
        body = b"".join(k + b"\0" + v.encode() + b"\0" for k, v in params) + b"\0"
        self.s.sendall(struct.pack("!ii", 8 + len(body), 196608) + body)
        first_bare = server_first = final_wo = None
        while True:
            t, m = self.read()
            if t == b"E":
                raise RuntimeError("login failed: %r" % m)
            if t == b"Z":
                break
            if t != b"R":
                continue
            code = struct.unpack("!i", m[:4])[0]
            if code == 5:  # MD5
                inner = hashlib.md5((password + user).encode()).hexdigest()
                self.send(b"p", b"md5" + hashlib.md5(inner.encode() + m[4:8]).hexdigest().encode() + b"\0")
            elif code == 10:  # SASL: SCRAM-SHA-256 without channel binding
                first_bare = "n=,r=" + base64.b64encode(os.urandom(18)).decode()
                cf = ("n,," + first_bare).encode()
                self.send(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(cf)) + cf)
            elif code == 11:
                server_first = m[4:].decode()
                attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
                salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs["s"]),
                                             int(attrs["i"]))
                ck = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
                sk = hashlib.sha256(ck).digest()
                final_wo = "c=biws,r=" + attrs["r"]
                auth = f"{first_bare},{server_first},{final_wo}".encode()
                sig = hmac.new(sk, auth, hashlib.sha256).digest()
                proof = base64.b64encode(bytes(a ^ b for a, b in zip(ck, sig))).decode()
                self.send(b"p", f"{final_wo},p={proof}".encode())
            elif code not in (0, 12):
                raise RuntimeError("unsupported auth request %d" % code)

    def _recv(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("connection closed")
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read(self):
        hdr = self._recv(5)
        return hdr[:1], self._recv(struct.unpack("!i", hdr[1:])[0] - 4)

    def send(self, t, body=b""):
        self.s.sendall(t + struct.pack("!i", len(body) + 4) + body)

    def until_ready(self):
        """(rows as lists of text, error message or None, transaction status byte)."""
        rows, err = [], None
        while True:
            t, m = self.read()
            if t == b"D":
                n, off, row = struct.unpack("!h", m[:2])[0], 2, []
                for _ in range(n):
                    ln = struct.unpack("!i", m[off:off + 4])[0]
                    off += 4
                    row.append(None if ln < 0 else m[off:off + ln].decode())
                    off += max(ln, 0)
                rows.append(row)
            elif t == b"E":
                fields = dict((f[:1], f[1:].decode("utf-8", "replace")) for f in m.split(b"\0") if f)
                err = fields.get(b"M", "?")
            elif t == b"Z":
                return rows, err, m[:1]

    def query(self, sql):
        self.send(b"Q", sql.encode() + b"\0")
        return self.until_ready()

    def extended(self, sql, name=""):
        n = name.encode()
        self.send(b"P", n + b"\0" + sql.encode() + b"\0" + struct.pack("!h", 0))
        self.send(b"B", b"\0" + n + b"\0" + struct.pack("!hhh", 0, 0, 0))
        self.send(b"E", b"\0" + struct.pack("!i", 0))
        self.send(b"S")
        return self.until_ready()

    def close(self):
        try:
            self.send(b"X")
        except OSError:
            pass
        self.s.close()


# ---------------------------------------------------------------------------------------------
# 1. every pinning rule, behaviourally

SESSION_TEXT = ("SQL changed session settings that the proxy doesn't track. Consider moving session configuration "
                "to the proxy's initialization query. Digest: \"%s\".")
LONG_TEXT = "The connection ran a SQL query which exceeded the 16384 byte limit."
PARSE_TEXT = "A parse message was detected."
AT_LIMIT = "SELECT 1 /*" + "x" * (16384 - len("SELECT 1 /*") - 2) + "*/"  # exactly 16384 bytes
OVER_LIMIT = "SELECT 1 /*" + "x" * (16385 - len("SELECT 1 /*") - 2) + "*/"  # 16385 bytes
assert len(AT_LIMIT) == 16384 and len(OVER_LIMIT) == 16385

# (id, how A sends it: "sql" = psycopg2 simple query, "parse" / "unnamed" = raw Parse/Bind/Execute/Sync,
#  the statement, the expected pin reason text or None for "must not pin")
PIN_CASES = [
    ("set", "sql", "SET work_mem='8MB'", SESSION_TEXT % "set work_mem=$1"),
    ("reset", "sql", "RESET work_mem", SESSION_TEXT % "reset work_mem"),
    ("set_config", "sql", "SELECT set_config('work_mem','8MB',false)", SESSION_TEXT % "select set_config($1,$2,$3)"),
    ("prepare", "sql", "PREPARE p AS SELECT 1", SESSION_TEXT % "prepare p as select $1"),
    ("deallocate", "sql", "DEALLOCATE ALL", SESSION_TEXT % "deallocate all"),
    ("discard", "sql", "DISCARD ALL", SESSION_TEXT % "discard all"),
    ("temp_table", "sql", "CREATE TEMP TABLE tt(x int)", SESSION_TEXT % "create temp table tt(x int)"),
    ("pg_temp_table", "sql", "CREATE TABLE pg_temp.tt2(x int)", SESSION_TEXT % "create table pg_temp.tt2(x int)"),
    ("select_into_temp", "sql", "SELECT 1 AS x INTO TEMP tt3", SESSION_TEXT % "select $1 as x into temp tt3"),
    ("declare_cursor", "sql", "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
     SESSION_TEXT % "declare c cursor with hold for select $1"),
    ("listen", "sql", "LISTEN ch", SESSION_TEXT % "listen ch"),
    ("load", "sql", "LOAD 'auto_explain'", SESSION_TEXT % "load $1"),
    ("nextval", "sql", "SELECT nextval('pin_seq')", SESSION_TEXT % "select nextval($1)"),
    ("setval", "sql", "SELECT setval('pin_seq', 5)", SESSION_TEXT % "select setval($1, $2)"),
    ("advisory_lock", "sql", "SELECT pg_advisory_lock(1)", SESSION_TEXT % "select pg_advisory_lock($1)"),
    ("advisory_unlock_all", "sql", "SELECT pg_advisory_unlock_all()", SESSION_TEXT % "select pg_advisory_unlock_all()"),
    ("too_long", "sql", OVER_LIMIT, LONG_TEXT),
    ("named_parse", "parse", "SELECT 1", PARSE_TEXT),
    # must not pin
    ("select", "sql", "SELECT 1", None),
    ("transaction", "sql", "BEGIN; INSERT INTO pin_t VALUES (1); COMMIT", None),
    ("update_set", "sql", "UPDATE pin_t SET x = 2 WHERE x = -1", None),
    ("xact_advisory_lock", "sql", "SELECT pg_advisory_xact_lock(1)", None),
    ("notify_unlisten", "sql", "NOTIFY ch; UNLISTEN *", None),
    ("words_in_strings", "sql", "SELECT 'SET work_mem', 'nextval(1)' AS nextval_count", None),
    ("create_function", "sql",
     "CREATE OR REPLACE FUNCTION pin_f() RETURNS bigint LANGUAGE sql AS $$SELECT nextval('pin_seq')$$", None),
    ("at_length_limit", "sql", AT_LIMIT, None),
    ("unnamed_parse", "unnamed", "SELECT 1", None),
]

PIN_LINE = re.compile(r"default \[clientConnection=\d+\] The client session was pinned to the database connection "
                      r"\[dbConnection=-?\d+\] for the remainder of the session\. The proxy can't reuse this "
                      r"connection until the session ends\. Reason: (.*)$", re.M)


class _PinEnv:
    """One instance and proxy shared by the pinning cases (an instance takes seconds to start).

    It is made lazily from inside the first case, through request.getfixturevalue("server"): a test
    that names `server`/`endpoint` is reset by conftest's _fresh_state before it runs, which would stop
    the instance; this way the cases run back to back on the same instance, and each one starts
    from a pool with no backend at all (see clean())."""

    def __init__(self):
        self.server = self.proxy = self.master = None

    def ensure(self, request):
        if self.server is None:
            self.server = request.getfixturevalue("server")
        ep = self.server.endpoint
        try:
            alive = self.proxy is not None and H.make_client(ep, service="rds").describe_db_proxies(
                DBProxyName="px")["DBProxies"]
        except Exception:
            alive = False
        if not alive:  # first case, or something reset the server in between
            if self.master is not None:
                self.master.close()
                self.master = None
            self.proxy = _load_instance_proxy(ep, PIN_INIT_SQL)
        if self.master is None or self.master.closed:
            self.master = _master(self.proxy)
        return self

    def clean(self):
        """No app_user backend left, in the server or in the proxy's pool."""
        m = self.master
        with m.cursor() as cur:
            cur.execute("select pg_terminate_backend(pid) from pg_stat_activity where usename = 'app_user'")
        ep = self.proxy["endpoint"]
        _wait(lambda: _app_backends(m) == 0 and _metrics(ep).get("DatabaseConnections", 0) == 0, 10,
              "no app_user backends")

    def close(self):
        if self.master is not None:
            self.master.close()
            self.master = None


@pytest.fixture(scope="module")
def pin_env():
    env = _PinEnv()
    yield env
    env.close()
    if env.server is not None and H.healthy(env.server.endpoint):
        H.reset(env.server.endpoint)


@pytest.mark.parametrize("how,stmt,reason", [c[1:] for c in PIN_CASES], ids=[c[0] for c in PIN_CASES])
def test_pinning_rules(pin_env, request, how, stmt, reason):
    env = pin_env.ensure(request)
    proxy, server, master = env.proxy, env.server, env.master
    env.clean()
    mark = _log_mark(server)
    a = b = None
    try:
        # client A sends the statement, then stays connected and idle
        if how == "sql":
            a = _connect(proxy["host"])
            try:
                with a.cursor() as cur:
                    cur.execute(stmt)
            except pg.Error as e:
                # LOAD of a library as a non-superuser fails in the server; the pin decision came first
                assert how == "sql" and stmt.startswith("LOAD"), f"{stmt[:80]!r} failed: {e}"
            a_pid = lambda: _one(a, "select pg_backend_pid()")  # noqa: E731
        else:
            a = RawPg(proxy["host"], 5432, "app_user", APP_PW)
            rows, err, _ = a.extended(stmt, name="s1" if how == "parse" else "")
            assert err is None and rows == [["1"]], (rows, err)

            def a_pid():
                rows, err, _ = a.query("select pg_backend_pid()")
                assert err is None, err
                return int(rows[0][0])
        # exactly one backend exists so far (the pool opened one for A)
        assert _app_backends(master) == 1
        assert _metrics(proxy["endpoint"])["DatabaseConnections"] == 1
        # client B: the idle backend if A let it go, a new one if A is pinned to it
        b = _connect(proxy["host"])
        pid_b = _one(b, "select pg_backend_pid()")
        pid_a = a_pid()
        if reason is None:
            assert pid_a == pid_b, f"{stmt[:60]!r} must not pin, but B got another backend than A"
            assert _app_backends(master) == 1
        else:
            assert pid_a != pid_b, f"{stmt[:60]!r} must pin, but B got A's backend {pid_a}"
            assert _app_backends(master) == 2
            m = _metrics(proxy["endpoint"])
            assert m["DatabaseConnectionsCurrentlySessionPinned"] == 1, m
        # the log says so, once, with AWS's reason text
        if reason is None:
            time.sleep(0.2)
            assert not PIN_LINE.findall(_log_since(server, mark)), _log_since(server, mark)[-2000:]
        else:
            found = _wait(lambda: PIN_LINE.findall(_log_since(server, mark)), 5, "the pin log line")
            assert found == [reason], found
    finally:
        for c in (a, b):
            if c is not None:
                c.close()
    if reason is not None:
        # a pinned backend leaves with its client: its session state reaches nobody else
        _wait(lambda: _app_backends(master) == 1 and _metrics(proxy["endpoint"])["DatabaseConnections"] == 1, 5,
              "the pinned backend to close with its client")


# ---------------------------------------------------------------------------------------------
# 2. pgbench


def _pgbench(host, port, user, password, args, sslmode="disable"):
    env = dict(os.environ, PGPASSWORD=password, PGSSLMODE=sslmode, PGCONNECT_TIMEOUT="10")
    env.pop("PGOPTIONS", None)
    return subprocess.Popen([PGBENCH, "-h", host, "-p", str(port), "-U", user] + args + ["appdb"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _pgbench_ok(name, proc, timeout=60):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"pgbench {name} did not finish in {timeout}s: {out[-1000:]} {err[-1000:]}")
    what = f"pgbench {name} (exit {proc.returncode}): stderr: {err[-1500:]}\nstdout: {out[-800:]}"
    assert proc.returncode == 0, what
    assert "number of failed transactions: 0 " in out, what
    tps = re.search(r"^tps = ([0-9.]+)", out, re.M)
    assert tps and float(tps.group(1)) > 0, what
    return out


@pytest.mark.skipif(not PGBENCH, reason="needs pgbench")
def test_pgbench_through_proxy_and_instance(px):
    host = px["host"]
    init = _pgbench(host, 5432, "app_user", APP_PW, ["-i", "-s", "1", "-q"])
    try:
        out, err = init.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        init.kill()
        init.communicate()
        raise
    assert init.returncode == 0, f"pgbench -i through the proxy: {out[-1500:]} {err[-1500:]}"
    runs = {}
    try:
        for mode in ("simple", "extended", "prepared"):
            for ssl in ("require", "disable"):
                runs[f"-M {mode} sslmode={ssl}"] = _pgbench(
                    host, 5432, "app_user", APP_PW, ["-n", "-S", "-T", "2", "-c", "4", "-j", "2", "-M", mode], ssl)
        runs["-C (a connection per transaction)"] = _pgbench(
            host, 5432, "app_user", APP_PW, ["-n", "-S", "-T", "2", "-c", "4", "-j", "2", "-C"], "require")
        inst = px["instance"]
        runs["instance endpoint"] = _pgbench(
            inst["Address"], inst["Port"], "app_user", APP_PW, ["-n", "-S", "-T", "2", "-c", "2", "-j", "2"])
        for name, proc in list(runs.items()):
            _pgbench_ok(name, proc)
    finally:
        for proc in runs.values():
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


# ---------------------------------------------------------------------------------------------
# 3. a backend that dies under a query


def test_backend_killed_mid_query(px):
    master = _master(px)
    result = {}

    def sleeper():
        c = _connect(px["host"], sslmode="require")
        try:
            with c.cursor() as cur:
                cur.execute("select pg_sleep(30)")
            result["ok"] = True
        except pg.Error as e:
            result["error"] = e
            result["at"] = time.monotonic()
        finally:
            c.close()

    t = threading.Thread(target=sleeper)
    t.start()
    try:
        _wait(lambda: _one(master, "select count(*) from pg_stat_activity where usename = 'app_user' "
                                   "and query like '%pg_sleep%' and state = 'active'"), 10, "the sleeping query")
        killed_at = time.monotonic()
        assert _one(master, "select count(pg_terminate_backend(pid)) from pg_stat_activity "
                            "where usename = 'app_user' and query like '%pg_sleep%'") == 1
        t.join(10)
        assert not t.is_alive(), "the client of the killed backend is still waiting"
        assert "error" in result, result
        assert result["at"] - killed_at < 5, "the client learnt of the dead backend only after %.1fs" % (
            result["at"] - killed_at)
        # another client through the proxy works
        c = _connect(px["host"])
        assert _one(c, "select 41 + 1") == 42
        c.close()
        # and the proxy's books agree with the server once everything is closed
        ep = px["endpoint"]

        def agree():
            m = _metrics(ep)
            n = _app_backends(master)
            return (m.get("DatabaseConnections") == n and m.get("DatabaseConnectionsCurrentlyBorrowed") == 0
                    and m.get("ClientConnections") == 0) and (m, n)
        _wait(agree, 5, "metrics to agree with pg_stat_activity")
    finally:
        if t.is_alive():
            with master.cursor() as cur:
                cur.execute("select pg_terminate_backend(pid) from pg_stat_activity where usename = 'app_user'")
            t.join(10)
        master.close()


# ---------------------------------------------------------------------------------------------
# 4. a client that vanishes mid-transaction

VANISH = r"""
import os, sys
sys.path.append("/usr/lib/python3/dist-packages")
import psycopg2
c = psycopg2.connect(sys.argv[1])
cur = c.cursor()
cur.execute("insert into vanish_t values (42)")  # psycopg2 opened a transaction: not committed
cur.execute("select pg_backend_pid()")
print(cur.fetchone()[0], flush=True)
sys.stdin.readline()
os._exit(0)  # no Terminate, no ROLLBACK: the socket just closes
"""


@pytest.mark.parametrize("sslmode", ["disable", "require"])
def test_client_vanishes_mid_transaction(px, sslmode):
    master = _master(px)
    a = _connect(px["host"])
    with a.cursor() as cur:
        cur.execute("create table vanish_t(x int)")
    a.close()
    proc = subprocess.Popen([sys.executable, "-c", VANISH, _dsn(px["host"], sslmode=sslmode)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip().isdigit(), (line, proc.stderr.read() if proc.poll() is not None else "")
        dead_pid = int(line)
        # the scenario: the vanishing client's backend is inside its transaction
        assert _one(master, f"select state from pg_stat_activity where pid = {dead_pid}") == "idle in transaction"
        proc.stdin.write("go\n")
        proc.stdin.flush()
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)
    try:
        _wait(lambda: _app_backends(master, "idle in transaction") == 0, 5, "no app_user backend idle in transaction")
    except AssertionError as e:
        with master.cursor() as cur:
            cur.execute("select pid, state, backend_xid from pg_stat_activity where usename = 'app_user'")
            rows = cur.fetchall()
        m = _metrics(px["endpoint"])
        raise AssertionError(f"{e}: the vanished client's backend (pid {dead_pid}) is still inside its "
                             f"transaction: {rows}; proxy: DatabaseConnections={m.get('DatabaseConnections')} "
                             f"borrowed={m.get('DatabaseConnectionsCurrentlyBorrowed')}") from None
    # the next client's transaction is its own, not the dead one's
    b = _connect(px["host"], sslmode=sslmode, autocommit=False)
    with b.cursor() as cur:
        cur.execute("select txid_current_if_assigned() is null, (select count(*) from vanish_t where x = 42)")
        assert cur.fetchone() == (True, 0)
        cur.execute("insert into vanish_t values (7)")
    b.commit()
    b.close()
    assert _one(master, "select count(*) from vanish_t where x = 7") == 1
    assert _one(master, "select count(*) from vanish_t where x = 42") == 0
    assert _app_backends(master, "idle in transaction") == 0
    master.close()


# ---------------------------------------------------------------------------------------------
# 5. CancelRequest


@pytest.mark.parametrize("sslmode", ["require", "disable"])
def test_cancel_request(px, sslmode):
    conn = _connect(px["host"], sslmode=sslmode)
    master = _master(px)
    result = {}

    def sleeper():
        try:
            with conn.cursor() as cur:
                cur.execute("select pg_sleep(20)")
            result["ok"] = True
        except pg.Error as e:
            result["error"] = e
        result["at"] = time.monotonic()

    t = threading.Thread(target=sleeper)
    try:
        assert conn.get_backend_pid() != 0, "the proxy sent no BackendKeyData"
        t.start()
        time.sleep(1)
        cancelled_at = time.monotonic()
        conn.cancel()
        t.join(5)
        assert not t.is_alive(), "the query was not cancelled within 5 s of the CancelRequest"
        assert isinstance(result.get("error"), pg.errors.QueryCanceled), result
        assert result["error"].pgcode == "57014"
        assert result["at"] - cancelled_at < 5
        assert _one(conn, "select 1") == 1
    finally:
        if t.is_alive():
            with master.cursor() as cur:
                cur.execute("select pg_terminate_backend(pid) from pg_stat_activity where usename = 'app_user' "
                            "and query like '%pg_sleep%'")
            t.join(25)
        conn.close()
        master.close()


# ---------------------------------------------------------------------------------------------
# Aurora PostgreSQL: two instances, a proxy on the cluster


def _aurora(endpoint):
    H.load_fixtures(endpoint, aurora_doc())
    rds = H.make_client(endpoint, service="rds")
    insts = {}
    for i in ("aur-1", "aur-2"):
        rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=i,
                                                     WaiterConfig={"Delay": 1, "MaxAttempts": 90})
        insts[i] = {"instance": rds.describe_db_instances(DBInstanceIdentifier=i)["DBInstances"][0]["Endpoint"]}
    host = rds.describe_db_proxies(DBProxyName="px")["DBProxies"][0]["Endpoint"]
    return rds, host, insts


def _server_identity(conn):
    """Which PostgreSQL server a session is on: its postmaster's start time (the servers share port
    5432 on different addresses, and the proxy may reach them through Unix sockets)."""
    return _one(conn, "select pg_postmaster_start_time()::text")


# 6. READ_ONLY proxy endpoints


def test_read_only_endpoint_goes_to_readers(endpoint):
    rds, host, insts = _aurora(endpoint)
    reader = _master(insts["aur-2"])
    reader_id = _server_identity(reader)
    reader.close()
    w = _connect(host, sslmode="require")
    with w.cursor() as cur:
        cur.execute("create table ro_t(x int); insert into ro_t values (1)")
    assert _one(w, "select pg_is_in_recovery()") is False
    ep = rds.create_db_proxy_endpoint(DBProxyName="px", DBProxyEndpointName="ro", VpcSubnetIds=["subnet-a", "subnet-b"],
                                      TargetRole="READ_ONLY")["DBProxyEndpoint"]
    assert ep["TargetRole"] == "READ_ONLY"
    e = _wait(lambda: [x for x in rds.describe_db_proxy_endpoints(DBProxyEndpointName="ro")["DBProxyEndpoints"]
                       if x["Status"] == "available"], 30, "the endpoint to be available")[0]
    ro = _connect(e["Endpoint"], sslmode="require")
    try:
        assert _one(ro, "select pg_is_in_recovery()") is True
        assert _server_identity(ro) == reader_id
        # the reader has the writer's table (replication), and refuses to write to it
        _wait(lambda: _one(ro, "select count(*) from pg_class where relname = 'ro_t'") == 1, 10,
              "ro_t on the reader")
        with pytest.raises(pg.Error) as ei:
            with ro.cursor() as cur:
                cur.execute("insert into ro_t values (2)")
        assert "cannot execute INSERT in a read-only transaction" in str(ei.value)
        assert _one(ro, "select 1") == 1  # the session goes on
        # the default endpoint still writes
        assert _one(w, "select pg_is_in_recovery()") is False
        with w.cursor() as cur:
            cur.execute("insert into ro_t values (3)")
        assert _one(w, "select count(*) from ro_t") == 2
    finally:
        ro.close()
        w.close()


# 7. new requests wait through a failover

ATTEMPT_LIMIT = 25  # s; the emulator's failover takes well under a second, so a request waits far less


class _Attempt:
    """One new client through the proxy that runs one insert, in a thread.  finish() waits for it up
    to a deadline, past which the client's socket is shut down (so the thread ends) and the attempt
    counts as failed.  result: (pg_is_in_recovery, the server's start time) or an error text."""

    def __init__(self, host, i):
        self.i, self.host, self.box = i, host, {}
        self.t = threading.Thread(target=self._run)
        self.started = time.monotonic()
        self.t.start()

    def _run(self):
        try:
            c = pg.connect(_dsn(self.host))
            self.box["conn"] = c
            c.autocommit = True
            try:
                with c.cursor() as cur:
                    cur.execute(f"insert into fo_t values ({self.i}) returning pg_is_in_recovery(), "
                                f"pg_postmaster_start_time()::text")
                    self.box["row"] = cur.fetchone()
            finally:
                c.close()
        except pg.Error as e:
            self.box["error"] = "%s (after %.1fs)" % (str(e).strip(), time.monotonic() - self.started)

    def finish(self, deadline):
        self.t.join(max(0.0, deadline - time.monotonic()))
        if self.t.is_alive():
            c = self.box.get("conn")
            if c is not None and not c.closed:
                s = socket.socket(fileno=os.dup(c.fileno()))
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self.t.join(15)
            self.box["error"] = f"no answer within {ATTEMPT_LIMIT}s"
        return tuple(self.box["row"]) if "row" in self.box else self.box.get("error", "?")


def test_failover_new_requests_wait(endpoint):
    rds, host, insts = _aurora(endpoint)
    rds.modify_db_proxy_target_group(DBProxyName="px", TargetGroupName="default",
                                     ConnectionPoolConfig={"ConnectionBorrowTimeout": 60})
    c = _connect(host)
    with c.cursor() as cur:
        cur.execute("create table fo_t(x int)")
    c.close()
    rds.failover_db_cluster(DBClusterIdentifier="aur", TargetDBInstanceIdentifier="aur-2")
    # a new client every 0.1 s from the moment the failover starts, for 3 s and until the cluster is
    # available again (and 3 more after that)
    started, attempts, available_at = time.monotonic(), [], None
    try:
        while available_at is None or len(attempts) < available_at + 3 or time.monotonic() - started < 3:
            if time.monotonic() - started > 45:
                raise AssertionError("the failover did not finish within 45 s")
            attempts.append(_Attempt(host, len(attempts) + 1))
            time.sleep(0.1)
            if available_at is None and \
                    rds.describe_db_clusters(DBClusterIdentifier="aur")["DBClusters"][0]["Status"] == "available":
                available_at = len(attempts)
    finally:
        results = [(a.i, a.finish(a.started + ATTEMPT_LIMIT)) for a in attempts]
    done = [(i,) + r for i, r in results if isinstance(r, tuple)]
    failures = [(i, r) for i, r in results if not isinstance(r, tuple)]
    assert not failures, f"{len(failures)} of {len(results)} requests failed during the failover: {failures[:3]}"
    assert all(rec is False for _, rec, _ in done), done
    # the new writer is aur-2 (promoted in place: the same server as before), and every insert that
    # succeeded is there: none went to a server that stopped being the writer
    w = _master(insts["aur-2"])
    try:
        assert _one(w, "select pg_is_in_recovery()") is False
        assert done[-1][2] == _server_identity(w), "the last insert did not run on aur-2"
        with w.cursor() as cur:
            cur.execute("select x from fo_t order by x")
            rows = [r[0] for r in cur.fetchall()]
        assert rows == sorted(n for n, _, _ in done)
    finally:
        w.close()
    c = _connect(host)
    try:
        assert _one(c, "select count(*) from fo_t") == len(done)
    finally:
        c.close()


# ---------------------------------------------------------------------------------------------
# 8. MaxIdleConnectionsPercent and the 24-hour backend lifetime


def test_idle_backends_trimmed_and_old_ones_closed(px):
    ep = px["endpoint"]
    px["rds"].modify_db_proxy_target_group(DBProxyName="px", TargetGroupName="default",
                                           ConnectionPoolConfig={"MaxConnectionsPercent": 100,
                                                                 "MaxIdleConnectionsPercent": 2})
    master = _master(px)
    conns = [_connect(px["host"]) for _ in range(8)]
    try:
        barrier = threading.Barrier(8)
        errors = []

        def work(c):
            try:
                barrier.wait(10)
                with c.cursor() as cur:
                    cur.execute("select pg_sleep(1)")
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=work, args=(c,)) for c in conns]
        for t in threads:
            t.start()
        assert not _join_all(threads, 20), "workers still running"
        assert not errors, errors
    finally:
        for c in conns:
            c.close()
    try:
        n = _app_backends(master)
        assert n >= 3, f"only {n} backends for 8 concurrent transactions"
        # idle for 5 minutes: only floor(112 * 2 / 100) = 2 idle backends are kept
        H.set_clock(ep, 301)
        _wait(lambda: _app_backends(master) == 2, 5, "the idle backends to be trimmed to 2")
        time.sleep(1.5)  # more than a sweep: the 2 stay
        assert _app_backends(master) == 2
        assert _metrics(ep)["DatabaseConnections"] == 2
        # older than 24 hours: closed when idle
        H.set_clock(ep, 86400 + 400)
        _wait(lambda: _app_backends(master) == 0, 5, "backends older than 24 h to be closed")
        assert _metrics(ep)["DatabaseConnections"] == 0
        c = _connect(px["host"])
        assert _one(c, "select 5") == 5
        c.close()
    finally:
        H.set_clock(ep, 0)
        master.close()


# ---------------------------------------------------------------------------------------------
# 9. DebugLogging


def test_debug_logging(px, server):
    rds = px["rds"]
    on, off = "dbg-marker-" + uuid.uuid4().hex[:12], "dbg-quiet-" + uuid.uuid4().hex[:12]
    mark = _log_mark(server)
    rds.modify_db_proxy(DBProxyName="px", DebugLogging=True)
    assert rds.describe_db_proxies(DBProxyName="px")["DBProxies"][0]["DebugLogging"] is True
    c = _connect(px["host"])
    assert _one(c, f"select '{on}'") == on
    c.close()
    _wait(lambda: on in _log_since(server, mark), 5, "the query text in the log")
    rds.modify_db_proxy(DBProxyName="px", DebugLogging=False)
    c = _connect(px["host"])
    assert _one(c, f"select '{off}'") == off
    c.close()
    time.sleep(0.5)
    assert off not in _log_since(server, mark)
    # a session that logged in before DebugLogging was turned on logs its next statement, and
    # stops when it is turned off again
    early = _connect(px["host"])
    try:
        assert _one(early, "select 1") == 1
        late_on, late_off = "dbg-late-" + uuid.uuid4().hex[:12], "dbg-late-quiet-" + uuid.uuid4().hex[:12]
        rds.modify_db_proxy(DBProxyName="px", DebugLogging=True)
        assert _one(early, f"select '{late_on}'") == late_on
        _wait(lambda: late_on in _log_since(server, mark), 5, "the open session's query text in the log")
        rds.modify_db_proxy(DBProxyName="px", DebugLogging=False)
        assert _one(early, f"select '{late_off}'") == late_off
        time.sleep(0.5)
        assert late_off not in _log_since(server, mark)
    finally:
        early.close()
