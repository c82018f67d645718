"""Several Spin instances on one real Redis, as SpinKube runs replicas: writers spread across
them lose nothing, any instance lists every acknowledged write, and instances killed with
SIGKILL in the middle of a load leave the index and the records agreeing. Runs when
IMAGE_TAGS_SERVER=spin IMAGE_TAGS_KV=redis (tests/run's third pass)."""

import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import ALICE, KV, SpinHost, on_spin, redis_db_url, tokens_variable

pytestmark = pytest.mark.skipif(not (on_spin() and KV == "redis"),
                                reason="several real Spin instances on one real Redis")
INSTANCES = 3


def auth(token=ALICE):
    return {"X-Auth-Token": token}


@pytest.fixture(scope="module")
def fleet(logdir):
    url = redis_db_url()
    servers = [SpinHost(f"replica{n}", logdir, {"auth_mode": "tokens", "auth_tokens": tokens_variable()},
                        redis_url=url) for n in range(INSTANCES)]
    yield servers
    for s in servers:
        s.stop()


def new_image(url, **body):
    body.setdefault("name", "fleet")
    r = requests.post(f"{url}/v2/images", json=body, headers=auth(), timeout=60)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def listed(url, query):
    """Every image of a listing, following `next` as the clients do."""
    out, path = [], f"/v2/images?{query}"
    while path:
        r = requests.get(url + path, headers=auth(), timeout=60)
        assert r.status_code == 200, r.text
        body = r.json()
        out += body["images"]
        path = body.get("next")
    return out


def put_tags_at_once(fleet, jobs):
    """PUT every (image, tag) of `jobs` at once, job n through instance n % INSTANCES: the statuses."""
    def put(n):
        image_id, tag = jobs[n]
        url = f"{fleet[n % INSTANCES].url}/v2/images/{image_id}/tags/{tag}"
        return requests.put(url, headers=auth(), timeout=120).status_code

    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(put, range(len(jobs))))


def test_fifty_writers_across_instances_on_one_image(fleet):
    image_id = new_image(fleet[0].url)
    tags = [f"one{n}" for n in range(50)]
    assert put_tags_at_once(fleet, [(image_id, tag) for tag in tags]) == [204] * 50
    for server in fleet:
        r = requests.get(f"{server.url}/v2/images/{image_id}", headers=auth(), timeout=60)
        assert sorted(r.json()["tags"]) == sorted(tags)
        assert [i["id"] for i in listed(server.url, "tag=one7&tag=one49&limit=1")] == [image_id]


def test_fifty_writers_across_instances_on_many_images(fleet):
    images = [new_image(fleet[n % INSTANCES].url) for n in range(10)]
    jobs = [(images[n % 10], f"many{n // 10}") for n in range(50)]
    assert put_tags_at_once(fleet, jobs) == [204] * 50
    for server in fleet:
        for k in range(5):
            assert sorted(i["id"] for i in listed(server.url, f"tag=many{k}&limit=3")) == sorted(images)
        # one hot tag on every image, added from every instance at once: shown by each
        assert len(listed(server.url, "tag=many0&tag=many4&limit=4")) == 10


def test_instances_killed_mid_write_leave_index_and_records_agreeing(fleet):
    """Writers add and remove tags through every instance while instances are SIGKILLed and
    restarted. Afterwards every image carrying a tag is listed under it, from every instance, and
    every acknowledged add that was not removed later is on its image."""
    images = [new_image(fleet[0].url) for _ in range(8)]
    acked = {}  # operation -> {(image, tag)} acknowledged
    lock = threading.Lock()
    stop = threading.Event()
    rng = random.Random(7)

    def writer(w):
        r = random.Random(w)
        while not stop.is_set():
            image, k = r.choice(images), r.randrange(6)
            # k0..k2 are only ever added; k3..k5 are added and removed
            op = "PUT" if k < 3 else r.choice(["PUT", "DELETE"])
            tag = f"k{k}"
            server = fleet[r.randrange(INSTANCES)]
            try:
                resp = requests.request(op, f"{server.url}/v2/images/{image}/tags/{tag}", headers=auth(),
                                        timeout=30)
            except requests.RequestException:
                continue  # the instance was killed under us: not acknowledged
            if resp.status_code in (204, 404):
                with lock:
                    acked.setdefault(op, set()).add((image, tag))

    attempted = []  # ids creators tried to create; some may be deleted

    def creator(w):
        # Images made and deleted through any instance, killed or not: the logs every
        # listing walks must end up naming exactly the ones that live.
        r = random.Random(100 + w)
        while not stop.is_set():
            image = str(uuid.UUID(int=r.getrandbits(128), version=4))
            with lock:
                attempted.append(image)
            try:
                server = fleet[r.randrange(INSTANCES)]
                resp = requests.post(f"{server.url}/v2/images", headers=auth(), timeout=30,
                                     json={"id": image, "name": "born", "tags": ["born"]})
                if resp.status_code == 201 and r.random() < 0.4:
                    server = fleet[r.randrange(INSTANCES)]
                    requests.delete(f"{server.url}/v2/images/{image}", headers=auth(), timeout=30)
            except requests.RequestException:
                continue

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(12)]
    threads += [threading.Thread(target=creator, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    # Four kills, each after the writers have had a while on every instance.
    for _ in range(4):
        time.sleep(rng.uniform(0.5, 1.5))
        victim = fleet[rng.randrange(INSTANCES)]
        victim.kill()
        time.sleep(0.2)
        victim.start()
    time.sleep(1)
    stop.set()
    for t in threads:
        t.join()
    assert len(acked.get("PUT", ())) > 20 and acked.get("DELETE")
    truth = {}
    for server in fleet:
        for image in images:
            r = requests.get(f"{server.url}/v2/images/{image}", headers=auth(), timeout=60)
            assert r.status_code == 200, r.text
            tags = set(r.json()["tags"])
            assert truth.setdefault(image, tags) == tags, "every instance reads the same record"
    for server in fleet:
        for k in range(6):
            carrying = {i for i, tags in truth.items() if f"k{k}" in tags}
            assert {i["id"] for i in listed(server.url, f"tag=k{k}&limit=2")} == carrying, f"tag k{k}"
    # Every acknowledged add of a tag that is never removed stands.
    for image, tag in acked["PUT"]:
        if tag in ("k0", "k1", "k2"):
            assert tag in truth[image], (image, tag)
    # The images the creators made and did not delete, by their records, are exactly those
    # every instance lists: by their tag, and among everything in the default order, once each.
    live = {i for i in attempted
            if requests.get(f"{fleet[0].url}/v2/images/{i}", headers=auth(), timeout=60).status_code == 200}
    assert len(live) > 10 and len(live) < len(attempted), (len(live), len(attempted))
    for server in fleet:
        by_tag = [i["id"] for i in listed(server.url, "tag=born&limit=5")]
        assert len(by_tag) == len(set(by_tag)) and set(by_tag) == live
        everything = [i["id"] for i in listed(server.url, "limit=9")]
        assert len(everything) == len(set(everything))
        assert set(everything) & set(attempted) == live
