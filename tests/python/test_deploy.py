"""deploy/: the SpinKube manifests, checked against spin-operator's CRD schema and run on the real Spin.

* Every YAML document under deploy/ validates against the JSON Schema of its kind
  (spinkube_schema.py: our transcription of spin-operator's CRDs at a pinned commit), and the
  schema is shown to reject what the CRD rejects.
* Across files, what the operator and Spin need and do not check at apply time: the executor
  exists, every secretKeyRef names a Secret and key of deploy/, every variable is one spin.toml
  declares, the store label is one spin.toml grants, the probes hit the component's health routes.
* The runtime config each SpinApp carries is rendered as the operator renders it (TOML from
  runtimeConfig.keyValueStores with Secret values, or a loadFromSecret Secret's
  runtime-config.toml; variables as SPIN_VARIABLE_*) and handed to the real Spin serving the
  built component: on Redis (a redis-server of the test's own on a free port) GET /healthcheck
  answers 200 through that Redis. These run in the spin passes on Redis (IMAGE_TAGS_SERVER=spin
  IMAGE_TAGS_KV=redis), once per Spin: tests/run runs them on Spin 4.1 and on Spin 3.6.3, the
  Spin inside SpinKube's containerd-shim-spin.
"""

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import tomllib
from pathlib import Path

import jsonschema
import pytest
import requests
import yaml

from conftest import KV, REPO, WASM, free_port, on_spin, spin_bin
from spinkube_schema import SCHEMAS

DEPLOY = REPO / "deploy"
SPIN_TOML = tomllib.loads((REPO / "spin.toml").read_text())
COMPONENT = SPIN_TOML["component"]["image-tags"]


def load_documents():
    docs = []
    for path in sorted(DEPLOY.rglob("*.y*ml")):
        for n, doc in enumerate(yaml.safe_load_all(path.read_text())):
            if doc is not None:
                docs.append((f"{path.relative_to(REPO)}#{n}", doc))
    return docs


DOCS = load_documents()


def of_kind(kind):
    return [(name, doc) for name, doc in DOCS if doc.get("kind") == kind]


def secret_data(secret):
    data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    data.update(secret.get("stringData") or {})  # stringData wins, as in the API server
    return data


SECRETS = {doc["metadata"]["name"]: secret_data(doc) for _, doc in of_kind("Secret")}
APPS = dict(of_kind("SpinApp"))


def schema_errors(doc):
    schema = SCHEMAS.get((doc.get("apiVersion"), doc.get("kind")))
    if schema is None:
        return [f"no schema for {doc.get('apiVersion')} {doc.get('kind')}: deploy/ holds only kinds the test knows"]
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(doc)]


# ----- the schema --------------------------------------------------------------------------


def test_deploy_holds_the_manifests_issue_19_names():
    kinds = sorted(doc["kind"] for _, doc in DOCS)
    assert kinds.count("SpinApp") == 2, kinds  # Redis and DynamoDB
    assert kinds.count("SpinAppExecutor") == 1, kinds
    assert {"image-tags-auth", "image-tags-redis", "image-tags-runtime-config"} <= set(SECRETS), SECRETS.keys()


@pytest.mark.parametrize("name,doc", DOCS, ids=[n for n, _ in DOCS])
def test_every_manifest_matches_its_schema(name, doc):
    assert schema_errors(doc) == [], name


def mutated(doc, path, value):
    """A deep copy of doc with the value at path (a list of keys) replaced; None deletes it."""
    doc = json.loads(json.dumps(doc))
    *parents, last = path
    node = doc
    for key in parents:
        node = node[key]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return doc


@pytest.mark.parametrize("path,value,expected", [
    (["spec", "image"], None, "'image' is a required property"),
    (["spec", "replicas"], "2", "is not of type 'integer'"),
    (["spec", "replicas"], 2**31, "is greater than the maximum"),
    (["spec", "checks", "readiness", "httpGet", "path"], None, "'path' is a required property"),
    (["spec", "checks", "liveness", "periodSecond"], 10, "Additional properties are not allowed"),
    (["spec", "variables", 0, "valueFrom"], {"secretKeyRef": {"name": "x"}}, "'key' is a required property"),
    (["spec", "resources", "limits", "memory"], "256 MB", "is not valid under any of the given schemas"),
    (["spec", "runtimeConfig", "keyValueStores", 0, "type"], None, "'type' is a required property"),
    (["apiVersion"], "spinoperator.dev/v1alpha1", "no schema for spinoperator.dev/v1alpha1 SpinApp"),
    (["kind"], "SpinAppp", "no schema for core.spinkube.dev/v1alpha1 SpinAppp"),
    (["metadata", "name"], "Image_Tags", "does not match"),
])
def test_the_schema_rejects_what_the_crd_rejects(path, value, expected):
    doc = mutated(APPS["deploy/redis/spinapp.yaml#0"], path, value)
    errors = schema_errors(doc)
    assert any(expected in e for e in errors), errors


# ----- across files: what apply-time validation does not see ----------------------------


def secret_ref(value_from, where):
    ref = (value_from or {}).get("secretKeyRef")
    if ref is None:
        return None
    assert ref["name"] in SECRETS, f"{where}: Secret {ref['name']} is not in deploy/"
    assert ref["key"] in SECRETS[ref["name"]], f"{where}: Secret {ref['name']} has no key {ref['key']}"
    return SECRETS[ref["name"]][ref["key"]]


@pytest.mark.parametrize("name", APPS)
def test_the_app_references_resolve(name):
    spec = APPS[name]["spec"]
    executors = {doc["metadata"]["name"] for _, doc in of_kind("SpinAppExecutor")}
    assert spec["executor"] in executors  # the operator's webhook: it must exist in the namespace
    assert spec.get("enableAutoscaling") or spec["replicas"] >= 1  # the webhook again
    declared = set(SPIN_TOML["variables"])
    for var in spec.get("variables", []):
        # Spin ignores a SPIN_VARIABLE_ that spin.toml does not declare: a typo would go unnoticed
        assert var["name"] in declared, f"{name}: variable {var['name']} is not declared in spin.toml"
        assert ("value" in var) != ("valueFrom" in var), var
        secret_ref(var.get("valueFrom"), f"{name} variable {var['name']}")
    rc = spec["runtimeConfig"]
    # the operator ignores keyValueStores when loadFromSecret is set: never both
    assert ("loadFromSecret" in rc) != ("keyValueStores" in rc), rc
    if "loadFromSecret" in rc:
        assert "runtime-config.toml" in SECRETS[rc["loadFromSecret"]], rc
    labels = set(rendered(name)[0].get("key_value_store", {}))
    kv_store = {v["name"]: v.get("value") for v in spec["variables"]}.get("kv_store", "default")
    assert kv_store in labels, f"{name}: kv_store {kv_store} has no store in the runtime config ({labels})"
    assert kv_store in COMPONENT["key_value_stores"], "spin.toml grants the component only " + str(
        COMPONENT["key_value_stores"])
    checks = spec["checks"]
    assert checks["liveness"]["httpGet"]["path"] == "/healthcheck"
    assert checks["readiness"]["httpGet"]["path"] == "/healthcheck/ready"


# ----- what the operator hands Spin ---------------------------------------------------------


def toml_value(value):
    return json.dumps(value)  # a TOML basic string: JSON's escapes are TOML's


def rendered(name, overrides=None):
    """(runtime config as a dict, its TOML text, the SPIN_VARIABLE_* environment) that the operator
    gives the pod of this SpinApp (internal/runtimeconfig and internal/controller/deployment.go at
    the pinned commit). `overrides` replaces Secret values: {(secret, key): value}."""
    overrides = overrides or {}
    spec = APPS[name]["spec"]

    def value_of(item, where):
        if "value" in item:
            return item["value"]
        ref = item["valueFrom"]["secretKeyRef"]
        return overrides.get((ref["name"], ref["key"]), secret_ref(item["valueFrom"], where))

    rc = spec["runtimeConfig"]
    if "loadFromSecret" in rc:
        text = SECRETS[rc["loadFromSecret"]]["runtime-config.toml"]
    else:
        # every option a string, `type` first; and the env variables provider the operator adds
        lines = ['[[config_provider]]', 'type = "env"', 'prefix = "SPIN_VARIABLE_"', ""]
        for store in rc.get("keyValueStores", []):
            lines.append(f"[key_value_store.{store['name']}]")
            lines.append(f"type = {toml_value(store['type'])}")
            for opt in store.get("options", []):
                lines.append(f"{opt['name']} = {toml_value(value_of(opt, store['name']))}")
            lines.append("")
        text = "\n".join(lines)
    env = {f"SPIN_VARIABLE_{v['name'].upper()}": value_of(v, v["name"]) for v in spec.get("variables", [])}
    return tomllib.loads(text), text, env


def test_the_redis_app_renders_a_redis_store_from_its_secret():
    config, _, env = rendered("deploy/redis/spinapp.yaml#0")
    store = config["key_value_store"]["default"]
    assert store == {"type": "redis", "url": SECRETS["image-tags-redis"]["url"]}
    assert env["SPIN_VARIABLE_AUTH_TOKENS"] == SECRETS["image-tags-auth"]["auth_tokens"]


def test_the_dynamodb_app_asks_for_consistent_reads():
    config, _, _ = rendered("deploy/dynamodb/spinapp.yaml#0")
    store = config["key_value_store"]["default"]
    assert store["type"] == "aws_dynamo"
    assert store["consistent_read"] is True  # a boolean: read-your-writes for the strong build
    assert {"region", "table"} <= set(store)


# ----- the real Spin on what the operator renders --------------------------------------------

needs_spin_on_redis = pytest.mark.skipif(
    not (on_spin() and KV == "redis"),
    reason="starts the real Spin: runs in the spin passes on Redis (IMAGE_TAGS_SERVER=spin IMAGE_TAGS_KV=redis)")


@pytest.fixture(scope="module")
def redis_url(logdir):
    """A redis-server of this module's own on a free port (the pod's Redis, here)."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is missing (apt-get install redis-server)", pytrace=False)
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="deploy-redis-", dir=logdir)
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", workdir],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while subprocess.run(["redis-cli", "-u", url, "PING"], capture_output=True, text=True).stdout.strip() != "PONG":
        assert time.monotonic() < deadline and proc.poll() is None, "redis-server did not start"
        time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(10)


class Pod:
    """`spin up` as the shim runs an app: the pushed spin.toml and component, the rendered
    /runtime-config.toml, and the SPIN_VARIABLE_* environment."""

    def __init__(self, logdir, config_text, env):
        if not WASM.exists():
            pytest.fail(f"{WASM} is missing: build it first (cargo build --target wasm32-wasip2 --release)",
                        pytrace=False)
        self.dir = Path(tempfile.mkdtemp(prefix="deploy-pod-", dir=logdir))
        manifest = (REPO / "spin.toml").read_text().replace(
            f'source = "{COMPONENT["source"]}"', f"source = {toml_value(str(WASM.resolve()))}")
        (self.dir / "spin.toml").write_text(manifest)
        (self.dir / "runtime-config.toml").write_text(config_text)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.dir / "spin.log"
        base = {k: v for k, v in os.environ.items() if not k.startswith(("SPIN_VARIABLE_", "AWS_"))}
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [spin_bin(), "up", "--from", str(self.dir / "spin.toml"), "--listen", f"127.0.0.1:{self.port}",
                 "--runtime-config-file", str(self.dir / "runtime-config.toml"),
                 "--state-dir", str(self.dir / "state")],
                cwd=self.dir, env={**base, **env}, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)

    def wait_listening(self, timeout=240):
        """True once Spin takes connections; False if it exited first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                requests.get(self.url + "/versions", timeout=1)
                return True
            except requests.RequestException:
                time.sleep(0.1)
        raise AssertionError(f"spin did not listen within {timeout} s; log {self.log}")

    def output(self):
        return self.log.read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture
def pods(logdir):
    started = []

    def start(config_text, env):
        pod = Pod(logdir, config_text, env)
        started.append(pod)
        return pod

    yield start
    for pod in started:
        pod.stop()


def redis_calls(url, command):
    stats = subprocess.run(["redis-cli", "-u", url, "INFO", "commandstats"], capture_output=True, text=True).stdout
    for line in stats.splitlines():
        if line.startswith(f"cmdstat_{command}:"):
            return int(line.split("calls=", 1)[1].split(",", 1)[0])
    return 0


@needs_spin_on_redis
@pytest.mark.timeout(300)
def test_spin_serves_the_redis_app_through_its_rendered_runtime_config(pods, redis_url):
    _, text, env = rendered("deploy/redis/spinapp.yaml#0", {("image-tags-redis", "url"): redis_url})
    before = redis_calls(redis_url, "exists")
    pod = pods(text, env)
    assert pod.wait_listening(), pod.output()[-3000:]
    r = requests.get(pod.url + "/healthcheck", timeout=30)
    assert r.status_code == 200, (r.status_code, r.text, pod.output()[-3000:])
    assert redis_calls(redis_url, "exists") > before, "the health check did not reach the Redis of the Secret"


@needs_spin_on_redis
@pytest.mark.timeout(300)
def test_the_readiness_probe_passes_on_the_redis_app(pods, redis_url):
    _, text, env = rendered("deploy/redis/spinapp.yaml#0", {("image-tags-redis", "url"): redis_url})
    pod = pods(text, env)
    assert pod.wait_listening(), pod.output()[-3000:]
    path = APPS["deploy/redis/spinapp.yaml#0"]["spec"]["checks"]["readiness"]["httpGet"]["path"]
    ready = requests.get(pod.url + path, timeout=30)
    assert ready.status_code == 200, (ready.status_code, ready.text, pod.output()[-3000:])


@needs_spin_on_redis
@pytest.mark.timeout(300)
def test_spin_starts_on_the_dynamodb_runtime_config(pods):
    # No DynamoDB here: Spin checks the config at start and opens the client on first use, so
    # this shows the Secret's runtime-config.toml is one Spin takes (types and keys).
    _, text, env = rendered("deploy/dynamodb/spinapp.yaml#0")
    pod = pods(text, env)
    assert pod.wait_listening(), pod.output()[-3000:]


@needs_spin_on_redis
@pytest.mark.timeout(300)
def test_spin_refuses_consistent_read_as_the_operator_would_render_it(pods):
    # Why dynamodb/ uses loadFromSecret: through runtimeConfig.keyValueStores every option is a
    # string, and `consistent_read = "true"` stops Spin at start.
    config, _, env = rendered("deploy/dynamodb/spinapp.yaml#0")
    store = config["key_value_store"]["default"]
    text = "[key_value_store.default]\n" + "".join(f"{k} = {toml_value(str(v).lower() if isinstance(v, bool) else v)}\n"
                                                   for k, v in store.items())
    assert 'consistent_read = "true"' in text
    pod = pods(text, env)
    assert not pod.wait_listening(), "Spin started with consistent_read as a string"
    assert pod.proc.returncode != 0
    assert "consistent_read" in pod.output() or "boolean" in pod.output(), pod.output()[-3000:]
