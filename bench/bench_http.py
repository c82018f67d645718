"""What bench/page_walk.py and bench/tag_churn.py share (imported, not run).

Stdlib only: a keep-alive client for one identity, concurrent POSTs,
percentiles, the `name: value unit` output lines, and CPU accounting that
tells how much of the machine other processes took while a figure was
measured (this VM's two cores are shared with other work).
"""
import http.client
import json
import os
import threading
import time
import urllib.parse


def out(name, value, unit=""):
    """One result line, `name: value unit`, flushed so a long run shows progress."""
    print(("%s: %s %s" % (name, value, unit)).rstrip(), flush=True)


def pct(values, q):
    """Nearest-rank percentile q (0-100) of values."""
    s = sorted(values)
    if not s:
        return float("nan")
    rank = max(1, -(-len(s) * q // 100))  # ceil(len * q / 100)
    return s[int(rank) - 1]


class Client:
    """One keep-alive connection, one identity (an X-Auth-Token of the
    `tokens` table). Reconnects once when the server dropped the connection."""

    def __init__(self, url, token):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.headers = {"X-Auth-Token": token, "Accept": "application/json"}
        self.conn = None

    def _connect(self):
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)

    def request(self, method, path, body=None):
        """(status, body bytes, seconds from sending to the last byte read)."""
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            if self.conn is None:
                self._connect()
            try:
                started = time.perf_counter()
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                raw = r.read()
                took = time.perf_counter() - started
                if r.getheader("Connection", "").lower() == "close":
                    self.close()
                return r.status, raw, took
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def get_json(self, path):
        """(parsed body, seconds); an answer other than 200 raises."""
        status, raw, took = self.request("GET", path)
        if status != 200:
            raise RuntimeError("GET %s answered %s: %s" % (path, status, raw[:300]))
        return json.loads(raw), took

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def post_all(url, token, bodies, concurrency):
    """POST every body to /v2/images over `concurrency` keep-alive
    connections. Returns (seconds, failures as (index, status))."""
    lock = threading.Lock()
    state = {"next": 0, "failed": []}

    def worker():
        c = Client(url, token)
        while True:
            with lock:
                i = state["next"]
                state["next"] += 1
            if i >= len(bodies):
                break
            try:
                status, raw, _ = c.request("POST", "/v2/images", bodies[i])
            except (OSError, http.client.HTTPException) as e:
                status, raw = "connection: %s" % e, b""
            if status != 201:
                with lock:
                    state["failed"].append((i, status, raw[:200]))
        c.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.monotonic() - started, state["failed"]


def _stat_fields(pid):
    """Fields of /proc/PID/stat after the command name (which may hold spaces)."""
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()


def _descendants(pids):
    """The given pids and all their descendants (`spin up` runs its trigger as a child)."""
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                ppid = int(_stat_fields(int(name))[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(name))
    seen, todo = set(), list(pids)
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.add(p)
            todo.extend(children.get(p, []))
    return seen


def _ticks_of(pids):
    total = 0
    for p in pids:
        try:
            f = _stat_fields(p)
            total += int(f[11]) + int(f[12])  # utime + stime
        except (OSError, IndexError, ValueError):
            pass
    return total


def _ticks_busy():
    with open("/proc/stat") as f:
        cpu = f.readline().split()
    return int(cpu[1]) + int(cpu[2]) + int(cpu[3]) + int(cpu[8])  # user nice system steal


class CpuWatch:
    """Share of all cores that processes other than the servers and this
    client used between start() and others_pct()."""

    def __init__(self, server_pids):
        self.server_pids = list(server_pids)
        self.hz = os.sysconf("SC_CLK_TCK")
        self.start()

    def _sample(self):
        pids = _descendants(self.server_pids)
        me = os.times()
        return _ticks_busy(), _ticks_of(pids), (me.user + me.system) * self.hz, time.monotonic()

    def start(self):
        self.t0 = self._sample()

    def others_pct(self):
        b0, s0, m0, w0 = self.t0
        b1, s1, m1, w1 = self._sample()
        wall = max(w1 - w0, 1e-6) * self.hz * (os.cpu_count() or 1)
        return max(0.0, 100.0 * ((b1 - b0) - (s1 - s0) - (m1 - m0)) / wall)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])
