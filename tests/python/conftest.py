"""Fixtures for the real-client compatibility tests of image-tags.

The compiled component (target/wasm32-wasip2/release/image_tags.wasm) is
served on free 127.0.0.1 ports by the server IMAGE_TAGS_SERVER names:

* ``host`` (default): the wasmtime test host binary (tests/host), with the
  store behaviour IMAGE_TAGS_KV names (sqlite or redis);
* ``spin``: the real Spin (``spin up`` on spin.toml), with Spin's SQLite store
  in a temporary --state-dir (IMAGE_TAGS_KV=sqlite), a real Redis through a
  runtime config (IMAGE_TAGS_KV=redis, IMAGE_TAGS_REDIS_URL; one database per
  server, flushed when it starts), or Spin's `aws_dynamo` store on the local
  DynamoDB emulator (IMAGE_TAGS_KV=dynamodb, IMAGE_TAGS_DYNAMODB_ENV; one new
  table per server).

The servers the tests use:

* ``host``         auth_mode=tokens, default quota (128)
* ``quota_host``   auth_mode=tokens, image_tag_quota=QUOTA_SMALL
* ``headers_host`` auth_mode=headers, image_tag_quota=DIFF_QUOTA (differential)
* ``aksk_host``    auth_mode=tokens,aksk: the token table and the AK/SK table AKSK
* ``glance``       the real Glance oracle (tests/services/glance) with the same
                   quota, in a private home on a free port (the shared instance
                   on :9292 is left alone)

Environment knobs:
  IMAGE_TAGS_HOST_BIN        host binary (default: newest of target/{release,debug}/image-tags-host)
  IMAGE_TAGS_WASM            component (default target/wasm32-wasip2/release/image_tags.wasm)
  IMAGE_TAGS_MANIFEST        the manifest, relative to the repository (default spin.toml; spin-edge.toml)
  IMAGE_TAGS_EDGE            =1: the edge build; strong-build guarantees skip, naming their edge test
  IMAGE_TAGS_SERVER          host (default) or spin
  IMAGE_TAGS_KV              sqlite (default), redis, or dynamodb (Spin only): the store (behaviour)
  IMAGE_TAGS_SPIN_BIN        the Spin CLI (default: `spin` on PATH)
  IMAGE_TAGS_REDIS_URL       a real Redis for IMAGE_TAGS_SERVER=spin IMAGE_TAGS_KV=redis
                             (default redis://127.0.0.1:6379); databases 1.. are used and flushed
  IMAGE_TAGS_DYNAMODB_ENV    the env file tests/services/dynamodb/start.sh wrote, for
                             IMAGE_TAGS_KV=dynamodb (default /tmp/dynamodb-emulator/dynamodb.env)
  IMAGE_TAGS_HOST_CACHE_DIR  compiled-component cache (default /tmp/image-tags-pytest-cwasm)
  GLANCE_ORACLE_HOME         installed oracle (default /tmp/glance-oracle; tests/services/glance/setup.sh installs it)
  IMAGE_TAGS_REQUIRE_ORACLE  =1: fail instead of skipping when the oracle is not installed
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ORACLE_SCRIPTS = REPO / "tests/services/glance"
WASM = Path(os.environ.get("IMAGE_TAGS_WASM", REPO / "target/wasm32-wasip2/release/image_tags.wasm"))
# The manifest Spin serves: spin-edge.toml for the edge build (IMAGE_TAGS_EDGE=1).
MANIFEST = REPO / os.environ.get("IMAGE_TAGS_MANIFEST", "spin.toml")
EDGE = os.environ.get("IMAGE_TAGS_EDGE") == "1"


def strong_only(edge_test):
    """A test of a strong-build guarantee (compare-and-swap, the listing logs): on the edge build
    it is skipped, naming the test of what the edge build promises instead (README, "Edge build")."""
    if EDGE:
        pytest.skip(f"a strong-build guarantee; on the edge build: {edge_test}")
BUILD_WASM = "cargo build --target wasm32-wasip2 --release -p image-tags"
BUILD_HOST = "cargo build -p image-tags-host"

# token -> (project, roles)
TOKENS = {
    "admin-token": ("admin-proj", "admin+member+reader"),
    "alice-token": ("proj-a", "member+reader"),
    "rita-token": ("proj-a", "reader"),
    "bob-token": ("proj-b", "member+reader"),
}
ADMIN, ALICE, RITA, BOB = "admin-token", "alice-token", "rita-token", "bob-token"
# access key -> (secret key, project, roles): the aksk_credentials of aksk_host
AKSK = {
    "AKALICE0000000000001": ("alice-secret-key-00000000000000000000001", "proj-a", "member+reader"),
    "AKRITA00000000000001": ("rita-secret-key-000000000000000000000001", "proj-a", "reader"),
    "AKBOB000000000000001": ("bob-secret-key-0000000000000000000000001", "proj-b", "member+reader"),
}
AK_ALICE, AK_RITA, AK_BOB = "AKALICE0000000000001", "AKRITA00000000000001", "AKBOB000000000000001"
QUOTA_SMALL = 3  # quota_host
DIFF_QUOTA = 8  # headers_host and the Glance oracle
START_TIMEOUT = 300  # first start compiles the component (~45 s with a debug host)


# host logs and the oracle's home; kept (and named) when a test fails
_LOGDIR = tempfile.mkdtemp(prefix="image-tags-pytest-")

# ----- per-test timeout (no pytest-timeout in the pinned set) --------------------


def pytest_addoption(parser):
    parser.addini("image_tags_timeout", "seconds one test's call phase may take (0: off)", default="60")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    seconds = int(item.config.getini("image_tags_timeout") or 0)
    marker = item.get_closest_marker("timeout")
    if marker:
        seconds = int(marker.args[0])
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        return (yield)

    def expire(signum, frame):
        raise TimeoutError(f"test took longer than {seconds} s (image_tags_timeout)")

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        return (yield)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def pytest_configure(config):
    config.addinivalue_line("markers", "timeout(seconds): override image_tags_timeout for one test")


# ----- the host ----------------------------------------------------------------


def host_bin():
    env = os.environ.get("IMAGE_TAGS_HOST_BIN")
    if env:
        return Path(env)
    found = [p for p in (REPO / "target/release/image-tags-host", REPO / "target/debug/image-tags-host") if p.exists()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else REPO / "target/debug/image-tags-host"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVER = os.environ.get("IMAGE_TAGS_SERVER", "host")
KV = os.environ.get("IMAGE_TAGS_KV", "sqlite")


def on_spin():
    return SERVER == "spin"


class TestHost:
    """One image-tags-host process serving the component."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, name, logdir, variables):
        binary = host_bin()
        if not WASM.exists():
            pytest.fail(f"{WASM} is missing: build it with `{BUILD_WASM}` (in {REPO})", pytrace=False)
        if not binary.exists():
            pytest.fail(
                f"{binary} is missing: build it with `{BUILD_HOST}` (in {REPO}), or set IMAGE_TAGS_HOST_BIN",
                pytrace=False,
            )
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPIN_VARIABLE_")}
        env.setdefault("IMAGE_TAGS_HOST_CACHE_DIR", "/tmp/image-tags-pytest-cwasm")
        for key, value in variables.items():
            env["SPIN_VARIABLE_" + key.upper()] = str(value)
        self.name = name
        self.log = Path(logdir) / f"host-{name}.log"
        self._logf = open(self.log, "wb")
        cmd = [str(binary), "--listen", "127.0.0.1:0", "--manifest", str(MANIFEST),
               "--wasm", str(WASM), "--kv", KV]
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self._logf)
        line = self._first_line(START_TIMEOUT)
        if not line.startswith("listening on "):
            self.stop()
            pytest.fail(f"host {name} did not start (first line {line!r}); log {self.log}:\n"
                        + self.log.read_text(errors="replace")[-3000:], pytrace=False)
        self.url = line.split("listening on ", 1)[1].strip()

    def _first_line(self, timeout):
        out = []
        reader = threading.Thread(target=lambda: out.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        return out[0].decode(errors="replace") if out else f"<nothing within {timeout} s>"

    def component_log(self):
        """Where the component's stderr (the access log) goes."""
        return self.log

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._logf.close()


def spin_bin():
    found = os.environ.get("IMAGE_TAGS_SPIN_BIN") or shutil.which("spin")
    if not found:
        pytest.fail("IMAGE_TAGS_SERVER=spin needs the Spin CLI: set IMAGE_TAGS_SPIN_BIN or put `spin` on PATH "
                    "(tests/run finds or installs one)", pytrace=False)
    return found


_redis_db = iter(range(1, 1000))


def redis_cli(url, *args):
    """One command on the real Redis, through Debian's redis-cli."""
    r = subprocess.run(["redis-cli", "-u", url, *args], capture_output=True, text=True, timeout=30)
    if r.returncode != 0 or r.stdout.startswith("ERR") or "Could not connect" in r.stdout + r.stderr:
        pytest.fail(f"redis-cli {args} on {url}: {r.stdout}{r.stderr}", pytrace=False)
    return r.stdout


def redis_db_url():
    """A database of its own on the real Redis, emptied first."""
    base = os.environ.get("IMAGE_TAGS_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")
    url = f"{base}/{next(_redis_db)}"
    redis_cli(url, "FLUSHDB")
    return url


_dynamodb_tables = iter(range(1, 100000))


def dynamodb_env():
    """The emulator's AWS_* variables (endpoint, region, dummy credentials) from start.sh's env file."""
    path = Path(os.environ.get("IMAGE_TAGS_DYNAMODB_ENV", "/tmp/dynamodb-emulator/dynamodb.env"))
    if not path.exists():
        pytest.fail(f"IMAGE_TAGS_KV=dynamodb needs the emulator: no {path} (run tests/services/dynamodb/"
                    "install.sh and start.sh, or set IMAGE_TAGS_DYNAMODB_ENV)", pytrace=False)
    lines = [line.split("=", 1) for line in path.read_text().splitlines() if "=" in line]
    return {k.strip(): v.strip() for k, v in lines if not k.startswith("#")}


def dynamodb_table(aws, name):
    """A new, empty table on the emulator, with the key schema Spin's store expects."""
    table = f"image-tags-{name}-{next(_dynamodb_tables)}-{uuid.uuid4().hex[:6]}"
    r = subprocess.run([aws["DYNAMODB_PYTHON"], aws["DYNAMODB_TABLE_SCRIPT"], aws["DYNAMODB_ENDPOINT"], table,
                        "--fresh"], env={**os.environ, **aws}, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        pytest.fail(f"could not create DynamoDB table {table}: {r.stdout}{r.stderr}", pytrace=False)
    return table


class SpinHost:
    """`spin up` on the repository's spin.toml: the real Spin serving the component."""

    def __init__(self, name, logdir, variables, redis_url=None, store_dir=None):
        """`store_dir`: keep the SQLite store there instead of in the state dir (the component
        logs stay in the state dir: Spin opens them on every request)."""
        if not WASM.exists():
            pytest.fail(f"{WASM} is missing: build it with `{BUILD_WASM}` (in {REPO})", pytrace=False)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPIN_VARIABLE_")}
        for key, value in variables.items():
            env["SPIN_VARIABLE_" + key.upper()] = str(value)
        self.name = name
        self.state_dir = Path(tempfile.mkdtemp(prefix=f"spin-{name}-", dir=logdir))
        self.log = Path(logdir) / f"spin-{name}.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [spin_bin(), "up", "--from", str(MANIFEST), "--listen", f"127.0.0.1:{self.port}",
               "--state-dir", str(self.state_dir)]
        self.redis_url = None
        if KV == "redis" or redis_url:
            self.redis_url = redis_url or redis_db_url()
            config = self.state_dir / "runtime-config.toml"
            config.write_text(f'[key_value_store.default]\ntype = "redis"\nurl = "{self.redis_url}"\n')
            cmd += ["--runtime-config-file", str(config)]
        elif KV == "dynamodb":
            aws = dynamodb_env()
            env.update(aws)  # Spin's AWS SDK reads the endpoint from AWS_ENDPOINT_URL_DYNAMODB
            self.dynamodb_table = dynamodb_table(aws, name)
            config = self.state_dir / "runtime-config.toml"
            config.write_text(f'[key_value_store.default]\ntype = "aws_dynamo"\nregion = "{aws["AWS_REGION"]}"\n'
                              f'table = "{self.dynamodb_table}"\nconsistent_read = true\n')
            cmd += ["--runtime-config-file", str(config)]
        elif store_dir:
            self.store_dir = Path(store_dir)
            self.store_dir.mkdir(parents=True, exist_ok=True)
            config = self.state_dir / "runtime-config.toml"
            config.write_text(f'[key_value_store.default]\ntype = "spin"\n'
                              f'path = "{self.store_dir / "sqlite_key_value.db"}"\n')
            cmd += ["--runtime-config-file", str(config)]
        self.cmd, self.env = cmd, env
        self._logf = open(self.log, "ab")
        self.start()

    def start(self):
        """(Re)start Spin on the same port, state and store."""
        self.proc = subprocess.Popen(self.cmd, cwd=REPO, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=self._logf, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"spin {self.name} exited with {self.proc.returncode}; log {self.log}:\n"
                            + self.log.read_text(errors="replace")[-3000:], pytrace=False)
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as c:
                    c.sendall(b"GET /healthcheck HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if c.recv(12).startswith(b"HTTP/1.1"):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"spin {self.name} did not answer within {START_TIMEOUT} s; log {self.log}", pytrace=False)

    def component_log(self):
        return self.state_dir / "logs" / "image-tags_stderr.txt"

    def kill(self):
        """SIGKILL, as a crashed instance."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        if not self._logf.closed:
            self._logf.close()


def Host(name, logdir, variables):
    """The component served as IMAGE_TAGS_SERVER says, with these Spin variables."""
    return SpinHost(name, logdir, variables) if on_spin() else TestHost(name, logdir, variables)


def tokens_variable():
    return ",".join(f"{t}:{p}:{r}" for t, (p, r) in TOKENS.items())


def aksk_variable():
    return ",".join(f"{ak}:{sk}:{p}:{r}" for ak, (sk, p, r) in AKSK.items())


@pytest.fixture(scope="session")
def logdir():
    return _LOGDIR


@pytest.fixture(scope="session")
def _first_host(logdir):
    # Started first and on its own: the test host compiles (and caches) the
    # component, so the other hosts load the cached code in milliseconds.
    h = Host("tokens", logdir, {"auth_mode": "tokens", "auth_tokens": tokens_variable()})
    yield h
    h.stop()


@pytest.fixture(scope="session")
def host(_first_host):
    """Base URL of image-tags in tokens mode with the default quota."""
    return _first_host.url


@pytest.fixture(scope="session")
def quota_host(_first_host, logdir):
    h = Host("tokens-quota", logdir, {"auth_mode": "tokens", "auth_tokens": tokens_variable(),
                                      "image_tag_quota": QUOTA_SMALL})
    yield h.url
    h.stop()


@pytest.fixture(scope="session")
def headers_host(_first_host, logdir):
    h = Host("headers", logdir, {"auth_mode": "headers", "image_tag_quota": DIFF_QUOTA})
    yield h.url
    h.stop()


@pytest.fixture(scope="session")
def aksk_host(_first_host, logdir):
    """Base URL of image-tags taking both X-Auth-Token (TOKENS) and AK/SK signatures (AKSK)."""
    h = Host("tokens-aksk", logdir, {"auth_mode": "tokens,aksk", "auth_tokens": tokens_variable(),
                                     "aksk_credentials": aksk_variable()})
    yield h.url
    h.stop()


# ----- the Glance oracle ---------------------------------------------------------


class Oracle:
    """Real Glance 33 in a private home (venv linked from the installed oracle) on a free port."""

    def __init__(self):
        self.installed = Path(os.environ.get("GLANCE_ORACLE_HOME", "/tmp/glance-oracle"))
        self.url = self.error = self.env = None
        self.thread = None

    def available(self):
        return (self.installed / "venv/bin/uwsgi").exists() and (self.installed / "glance-api-paste.ini").exists()

    def start_in_background(self, parent):
        self.thread = threading.Thread(target=self._start, args=(parent,), daemon=True)
        self.thread.start()

    def _start(self, parent):
        try:
            home = Path(tempfile.mkdtemp(prefix="glance-oracle-", dir=parent))
            (home / "venv").symlink_to((self.installed / "venv").resolve())
            paste = (self.installed / "glance-api-paste.ini").read_text().replace(str(self.installed), str(home))
            (home / "glance-api-paste.ini").write_text(paste)
            port = free_port()
            self.env = dict(os.environ, GLANCE_ORACLE_HOME=str(home), GLANCE_PORT=str(port),
                            GLANCE_TAG_QUOTA=str(DIFF_QUOTA), GLANCE_FLAVOR="noauth-headers")
            self.env.pop("GLANCE_KEEP_DB", None)
            r = subprocess.run(["bash", str(ORACLE_SCRIPTS / "start.sh")], env=self.env, capture_output=True,
                               text=True, timeout=150)
            if r.returncode != 0:
                self.error = f"Glance oracle did not start: {r.stdout}{r.stderr}"
            else:
                self.url = f"http://127.0.0.1:{port}"
        except Exception as e:  # reported by the fixture
            self.error = f"Glance oracle did not start: {e!r}"

    def stop(self):
        if self.thread:
            self.thread.join()
        if self.env:
            subprocess.run(["bash", str(ORACLE_SCRIPTS / "stop.sh")], env=self.env, capture_output=True, timeout=60)


_ORACLE = Oracle()


def pytest_collection_modifyitems(session, config, items):
    # Glance takes ~10 s to start: the tests that use it run last, and it
    # starts in the background while the others run.
    uses_oracle = [i for i in items if "glance" in getattr(i, "fixturenames", ())]
    items[:] = [i for i in items if i not in uses_oracle] + uses_oracle
    if uses_oracle and _ORACLE.available() and not config.option.collectonly:
        _ORACLE.start_in_background(_LOGDIR)


def pytest_sessionfinish(session, exitstatus):
    _ORACLE.stop()
    if session.testsfailed and any(Path(_LOGDIR).iterdir()):
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter:
            reporter.write_line(f"image-tags host and Glance oracle logs kept in {_LOGDIR}")
    else:
        shutil.rmtree(_LOGDIR, ignore_errors=True)


@pytest.fixture(scope="session")
def glance():
    """Base URL of a real Glance 33 (headers identity, quota DIFF_QUOTA), private to this session."""
    if not _ORACLE.available():
        msg = f"Glance oracle not installed in {_ORACLE.installed}: run {ORACLE_SCRIPTS}/setup.sh"
        if os.environ.get("IMAGE_TAGS_REQUIRE_ORACLE") == "1":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    if _ORACLE.thread is None:
        _ORACLE.start_in_background(_LOGDIR)
    _ORACLE.thread.join()
    if _ORACLE.error:
        pytest.fail(_ORACLE.error, pytrace=False)
    return _ORACLE.url


# ----- small helpers -------------------------------------------------------------


@pytest.fixture
def unique():
    """A short unique suffix for names and tags."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def cli_env(tmp_path):
    """Environment for CLI runs: a fresh HOME (glance caches schemas there) and no OS_* leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["HOME"] = str(tmp_path)
    return env
