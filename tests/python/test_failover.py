"""A Redis failover under writers, on the real Spin: a primary and a replica promoted by Sentinel,
behind one haproxy address that routes only to the instance reporting role:master
(tests/services/redis-failover). Writers PUT tags and POST images through Spin while the
primary is killed with SIGKILL; then every acknowledged write is read back. Two runs:

* ``async``: Redis's default asynchronous replication (knobs of start.sh pass through, e.g.
  FAILOVER_REPLICAS=2 FAILOVER_MIN_REPLICAS=1 to measure that topology);
* ``min-replicas``: min-replicas-to-write 1 with one replica. After the failover the new primary
  has no replica and refuses every write (NOREPLICAS) while it still serves reads, until the
  killed node rejoins as its replica (rejoin.sh): the case where readiness must fail.

Runs when IMAGE_TAGS_FAILOVER=1 (tests/run's `failover` step), with the Spin CLI of
IMAGE_TAGS_SPIN_BIN (or `spin` on PATH). start.sh installs redis-sentinel and haproxy when they
are missing and it may (root or sudo -n).

The figures, one line per run (grep `failover:`), are printed whether the assertions hold or not.
"""

import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from conftest import ALICE, REPO, SpinHost, free_port, spin_bin, tokens_variable

pytestmark = pytest.mark.skipif(os.environ.get("IMAGE_TAGS_FAILOVER") != "1",
                                reason="the Redis failover run: set IMAGE_TAGS_FAILOVER=1 (tests/run's failover step)")

SCRIPTS = REPO / "tests/services/redis-failover"
WRITERS = 6
CLIENT_TIMEOUT = 10  # seconds: a write not answered by then is a hang
BEFORE_KILL = 3.0  # seconds of writes before the primary is killed
AFTER_RECOVERY = 3.0  # seconds of writes after the first success that follows the failure
MAX_AFTER_KILL = 40.0  # stop writing then, recovered or not
REFUSING = 4.0  # min-replicas run: seconds after the promotion before the killed node rejoins
REPLICATION_WINDOW = 1.0  # seconds before the kill whose acknowledged writes async replication may lose
READY = "/healthcheck/ready"


@dataclass
class Op:
    kind: str  # "post" or "put"
    image: str | None
    tag: str | None
    t0: float  # monotonic, request sent
    t1: float  # monotonic, answer (or error) received
    status: int | str  # HTTP status, "hang" (client timeout) or "error:<exception>"
    retry_after: str | None = None

    @property
    def ok(self):
        return isinstance(self.status, int) and 200 <= self.status < 300

    @property
    def unavailable(self):
        return self.status == 503 and (self.retry_after or "").isdigit()


def call(session, method, url, **kw):
    """(status, Retry-After, response) of one request; a client timeout is "hang", a transport error
    "error:<exception>" (with no response)."""
    try:
        r = session.request(method, url, headers={"X-Auth-Token": ALICE}, timeout=CLIENT_TIMEOUT, **kw)
        return r.status_code, r.headers.get("retry-after"), r
    except requests.Timeout:
        return "hang", None, None
    except requests.RequestException as e:
        return f"error:{type(e).__name__}", None, None


def writer(url, n, stop, ops):
    """POST an image, then PUT tags on it; a new image after 5 tags or after a failed POST."""
    session = requests.Session()
    image, k = None, 0
    while not stop.is_set():
        t0 = time.monotonic()
        if image is None or k % 6 == 0:
            status, retry, r = call(session, "POST", f"{url}/v2/images", json={"name": f"failover-{n}"})
            op = Op("post", None, None, t0, time.monotonic(), status, retry)
            image = op.image = r.json()["id"] if op.ok else None
            k = 1
        else:
            tag = f"w{n}-{k}"
            status, retry, _ = call(session, "PUT", f"{url}/v2/images/{image}/tags/{tag}")
            op = Op("put", image, tag, t0, time.monotonic(), status, retry)
            k += 1
        ops.append(op)
        if not op.ok:
            time.sleep(0.05)  # a client that got a 503 waits a little (Retry-After says 1 s)


def prober(url, stop, probes):
    """GET /healthcheck/ready every 100 ms, as a Kubernetes readiness probe would, only faster."""
    session = requests.Session()
    while not stop.is_set():
        t0 = time.monotonic()
        status, retry, _ = call(session, "GET", url + READY)
        probes.append(Op("ready", None, None, t0, time.monotonic(), status, retry))
        time.sleep(0.1)


def read_env(path):
    env = {}
    for line in Path(path).read_text().splitlines():
        key, _, value = line.partition("=")
        env[key] = value.strip('"')
    return env


def sentinel_primary(env):
    """The primary the sentinels agree on now: "host:port"."""
    for port in env["FAILOVER_SENTINEL_PORTS"].split():
        r = subprocess.run(["redis-cli", "-p", port, "sentinel", "get-master-addr-by-name",
                            env["FAILOVER_MASTER_NAME"]], capture_output=True, text=True, timeout=5)
        if r.returncode == 0 and r.stdout.strip():
            return ":".join(r.stdout.split())
    return "?"


@dataclass
class Run:
    name: str
    ops: list
    probes: list
    kill: float
    readback: dict  # image id -> tags (None: image missing)
    primary_before: str
    primary_after: str
    min_replicas: str
    rejoin: float | None = None  # when the killed node was back as a replica

    def first_failure(self):
        return min((o for o in self.ops if not o.ok), key=lambda o: o.t0, default=None)

    def recovery(self):
        """The first write to be acknowledged among those sent after the kill and after the first
        failure was answered (None: no such write). The killed primary cannot have taken it."""
        fail = self.first_failure()
        after = max(self.kill, fail.t1 if fail else self.kill)
        return min((o for o in self.ops if o.ok and o.t0 > after), key=lambda o: o.t1, default=None)

    def recovery_s(self):
        rec = self.recovery()
        return None if rec is None else rec.t1 - self.kill

    def lost(self):
        """Acknowledged writes missing afterwards: an image not found, or a tag not on its image."""
        missing = []
        for o in self.ops:
            if not o.ok:
                continue
            tags = self.readback.get(o.image)
            if tags is None or (o.kind == "put" and o.tag not in tags):
                missing.append(o)
        return missing

    def acked_in_window(self):
        """Writes acknowledged that were sent in the last REPLICATION_WINDOW before the kill."""
        return [o for o in self.ops if o.ok and self.kill - REPLICATION_WINDOW <= o.t0 <= self.kill]

    def failing(self, margin=0.0):
        """(from, to): after the kill, from the first failed write to the recovery, shrunk by
        `margin` on each side; None when writes did not fail for a while."""
        fails = [o for o in self.ops if not o.ok and o.t1 > self.kill]
        rec = self.recovery()
        if not fails or rec is None:
            return None
        lo, hi = min(o.t0 for o in fails) + margin, rec.t1 - margin
        return (lo, hi) if lo < hi else None

    def probes_within(self, span):
        return [] if span is None else [p for p in self.probes if span[0] <= p.t0 and p.t1 <= span[1]]

    def summary(self):
        ops, rec, fail = self.ops, self.recovery_s(), self.first_failure()
        during = self.probes_within(self.failing())
        fmt = lambda v: "none" if v is None else f"{v:.2f}"  # noqa: E731
        return ("failover: writes={} ok={} 503={} other={} hangs={} recovery_s={} lost={} run={} "
                "first_fail_s={} rejoin_s={} max_latency_s={:.2f} acked_last_{}s={} probes={} "
                "probes_503={} probes_during_failure={} probes_503_during_failure={} "
                "primary={}->{} min_replicas_to_write={}").format(
            len(ops), sum(o.ok for o in ops), sum(o.status == 503 for o in ops),
            sum(not o.ok and o.status not in (503, "hang") for o in ops), sum(o.status == "hang" for o in ops),
            fmt(rec), len(self.lost()), self.name, fmt(fail and fail.t0 - self.kill),
            fmt(self.rejoin and self.rejoin - self.kill), max(o.t1 - o.t0 for o in ops),
            REPLICATION_WINDOW, len(self.acked_in_window()), len(self.probes),
            sum(p.status == 503 for p in self.probes), len(during), sum(p.status == 503 for p in during),
            self.primary_before, self.primary_after, self.min_replicas)


def scenario(logdir, name, overrides, rejoin):
    """Start the setup (start.sh with `overrides`) and a Spin on it; write, kill the primary,
    optionally bring it back as a replica after REFUSING seconds of failed writes, write on
    until the writes have succeeded again for AFTER_RECOVERY, read every acknowledged write back."""
    home = Path(tempfile.mkdtemp(prefix=f"redis-failover-{name}-", dir=logdir))
    env = dict(os.environ, FAILOVER_HOME=str(home), **overrides)
    r = subprocess.run(["bash", str(SCRIPTS / "start.sh")], env=env, capture_output=True, text=True, timeout=180)
    spin = None
    try:
        if r.returncode != 0:
            pytest.fail(f"the failover setup did not start:\n{r.stdout}{r.stderr}", pytrace=False)
        setup = read_env(r.stdout.strip().splitlines()[-1])
        spin = SpinHost(f"failover-{name}", logdir, {"auth_mode": "tokens", "auth_tokens": tokens_variable()},
                        redis_url=setup["FAILOVER_REDIS_URL"])
        return drive(spin.url, setup, name, rejoin)
    finally:
        if spin:
            spin.stop()
        subprocess.run(["bash", str(SCRIPTS / "stop.sh"), str(home)], capture_output=True, timeout=60)


def drive(url, setup, name, rejoin):
    status, _, _ = call(requests, "POST", f"{url}/v2/images", json={"name": "warm-up"})
    assert status == 201, f"no write through the failover endpoint before the kill: {status}"
    before = sentinel_primary(setup)
    stop, ops, probes = threading.Event(), [], []
    threads = [threading.Thread(target=writer, args=(url, n, stop, ops), daemon=True) for n in range(WRITERS)]
    threads.append(threading.Thread(target=prober, args=(url, stop, probes), daemon=True))
    for t in threads:
        t.start()
    rejoined = switched = None
    try:
        time.sleep(BEFORE_KILL)
        os.kill(int(Path(setup["FAILOVER_PRIMARY_PIDFILE"]).read_text()), signal.SIGKILL)
        kill = time.monotonic()
        while time.monotonic() - kill < MAX_AFTER_KILL:
            time.sleep(0.2)
            run = Run(name, list(ops), [], kill, {}, "", "", "")
            if rejoin and switched is None and sentinel_primary(setup) != before:
                switched = time.monotonic()
            if rejoin and rejoined is None and switched and time.monotonic() - switched >= REFUSING:
                r = subprocess.run(["bash", str(SCRIPTS / "rejoin.sh"), setup["FAILOVER_HOME"], "0"],
                                   capture_output=True, text=True, timeout=60)
                assert r.returncode == 0, f"rejoin.sh: {r.stdout}{r.stderr}"
                rejoined = time.monotonic()
            rec = run.recovery()
            if rec is not None and time.monotonic() - rec.t1 >= AFTER_RECOVERY:
                break
    finally:
        stop.set()
        for t in threads:
            t.join(CLIENT_TIMEOUT + 5)
    readback = {}
    session = requests.Session()
    for image in {o.image for o in ops if o.ok}:
        status, _, r = call(session, "GET", f"{url}/v2/images/{image}")
        assert status in (200, 404), f"reading back {image}: {status}"
        readback[image] = set(r.json()["tags"]) if status == 200 else None
    result = Run(name, ops, probes, kill, readback, before, sentinel_primary(setup), setup["FAILOVER_MIN_REPLICAS"],
                 rejoined)
    # Every write and probe, times relative to the kill: kept with the logs when a test fails.
    rows = [dict(vars(o), t0=round(o.t0 - kill, 3), t1=round(o.t1 - kill, 3)) for o in ops + probes]
    (Path(setup["FAILOVER_HOME"]) / "ops.json").write_text(json.dumps(rows, indent=0))
    print(result.summary())
    return result


_RUNS = {}


@pytest.fixture(scope="module", params=["async", "min-replicas"])
def run(request, logdir):
    """One failover run per parameter, printed outside pytest's capture (tests/run keeps the line)."""
    name = request.param
    if name not in _RUNS:
        if name == "async":
            _RUNS[name] = scenario(logdir, name, {}, rejoin=False)
        else:
            _RUNS[name] = scenario(logdir, name, {"FAILOVER_REPLICAS": "1", "FAILOVER_MIN_REPLICAS": "1"},
                                   rejoin=True)
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled():
            print("\n" + _RUNS[name].summary(), flush=True)
    return _RUNS[name]


def test_sentinel_promoted_the_replica(run):
    assert run.primary_after != run.primary_before, "Sentinel did not promote the replica"


def test_every_write_is_2xx_or_503_with_retry_after(run):
    hangs = [o for o in run.ops if o.status == "hang"]
    assert not hangs, f"{len(hangs)} writes not answered within {CLIENT_TIMEOUT} s"
    other = [o for o in run.ops if not (o.ok or o.unavailable)]
    assert not other, f"{len(other)} writes answered neither 2xx nor 503 with Retry-After: " \
                      f"{sorted({str(o.status) for o in other})}"


def test_writes_succeed_again_after_the_failover(run):
    rec = run.recovery_s()
    assert rec is not None, f"no write succeeded in the {MAX_AFTER_KILL} s after the kill"
    # async: Sentinel's down-after (1 s) + election + haproxy's rise (2 x 250 ms), measured ~3 s;
    # min-replicas: until the killed node is back as a replica (REFUSING s of refused writes first).
    limit = 10 if run.rejoin is None else run.rejoin - run.kill + 5
    assert rec < limit, f"writes took {rec:.1f} s to succeed again"
    late = [o for o in run.ops if o.t0 > run.recovery().t1 + 1.0 and not o.ok]
    assert not late, f"{len(late)} writes failed more than 1 s after the recovery"


def test_acknowledged_writes_are_kept(run):
    """Redis replicates asynchronously: a write the primary acknowledged in the moment before it
    died may not have reached the replica. That is the only loss allowed: at most the writes
    acknowledged in the last REPLICATION_WINDOW before the kill (on loopback, 0 was measured)."""
    lost, window = run.lost(), run.acked_in_window()
    assert len(lost) <= len(window), f"{len(lost)} acknowledged writes lost, more than the " \
                                     f"{len(window)} acknowledged in the last {REPLICATION_WINDOW} s"
    outside = [o for o in lost if not run.kill - REPLICATION_WINDOW <= o.t0 <= run.kill]
    assert not outside, f"acknowledged writes lost outside the replication window: {outside[:3]}"


def test_min_replicas_refuses_writes_until_a_replica_is_back(run):
    if run.name != "min-replicas":
        pytest.skip("the min-replicas run only")
    span = run.failing()
    assert span and span[1] - span[0] >= REFUSING - 1, f"writes did not fail for a while after the kill: {span}"


def test_readiness_fails_while_writes_fail(run):
    assert all(p.status == 200 or p.unavailable for p in run.probes), \
        f"readiness answered otherwise than 200 or 503 with Retry-After: {sorted({str(p.status) for p in run.probes})}"
    before = [p for p in run.probes if p.t1 < run.kill]
    assert before and all(p.status == 200 for p in before), "readiness failed before the kill"
    rec = run.recovery()
    after = [p for p in run.probes if rec and p.t0 > rec.t1 + 1.0]
    assert after and all(p.status == 200 for p in after), "readiness did not come back after the failover"
    if run.name == "min-replicas":
        # Writes were refused for seconds while reads worked: readiness must say so, every time
        # (0.5 s from the edges, where a probe and a write can race, left out).
        core = run.probes_within(run.failing(margin=0.5))
        assert core, "no readiness probe while writes were failing"
        assert all(p.unavailable for p in core), \
            f"readiness said 200 while writes failed: {sum(p.status == 200 for p in core)} of {len(core)} probes"


# ----- what does not work: measured, so the README's table stays true ------------------


def test_a_sentinel_url_does_not_start_spin(tmp_path):
    """Spin's redis-rs build has no Sentinel support: such a URL fails `spin up` at once."""
    config = tmp_path / "runtime-config.toml"
    config.write_text('[key_value_store.default]\ntype = "redis"\nurl = "redis+sentinel://127.0.0.1:1/image-tags"\n')

    r = subprocess.run([spin_bin(), "up", "--from", str(REPO / "spin.toml"), "--listen", f"127.0.0.1:{free_port()}",
                        "--state-dir", str(tmp_path / "state"), "--runtime-config-file", str(config)],
                       cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "Invalid Redis URL" in r.stderr + r.stdout, r.stderr + r.stdout


@pytest.mark.timeout(120)
def test_a_cluster_answers_moved_as_503(tmp_path, logdir):
    """Spin's Redis store talks to one node: keys of another node's slots answer MOVED, which
    the component reports as 503 with Retry-After (and retrying does not help)."""

    ports = [free_port() for _ in range(6)]  # 3 nodes, 3 cluster bus ports (port + 10000 may not exist)
    nodes = []
    try:
        for port, bus in zip(ports[:3], ports[3:]):
            (tmp_path / str(port)).mkdir()
            nodes.append(subprocess.Popen(
                ["redis-server", "--port", str(port), "--cluster-port", str(bus), "--bind", "127.0.0.1",
                 "--cluster-enabled", "yes", "--save", "", "--appendonly", "no", "--dir", str(tmp_path / str(port)),
                 "--logfile", str(tmp_path / str(port) / "redis.log")], stdin=subprocess.DEVNULL))
        for port in ports[:3]:
            wait_until(lambda p=port: cli(p, "ping") == "PONG", "a cluster node answering")
        r = subprocess.run(["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in ports[:3]],
                            "--cluster-replicas", "0", "--cluster-yes"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        wait_until(lambda: "cluster_state:ok" in cli(ports[0], "cluster", "info"), "the cluster being ok")
        spin = SpinHost("cluster", logdir, {"auth_mode": "tokens", "auth_tokens": tokens_variable()},
                        redis_url=f"redis://127.0.0.1:{ports[0]}")
        try:
            statuses = [call(requests, "POST", f"{spin.url}/v2/images", json={"name": "c"})[:2] for _ in range(10)]
            log = spin.component_log().read_text()
        finally:
            spin.stop()
    finally:
        for node in nodes:
            node.terminate()
            node.wait(10)
    print(f"cluster: POSTs {[s for s, _ in statuses]}")
    assert all(s == 201 or (s == 503 and (ra or "").isdigit()) for s, ra in statuses), statuses
    assert any(s == 503 for s, _ in statuses) and "Moved" in log, statuses


def cli(port, *args):
    r = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=10)
    return r.stdout.strip()


def wait_until(check, what, seconds=20):
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"no {what} within {seconds} s"
        time.sleep(0.1)
