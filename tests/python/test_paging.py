"""Listing at scale (issue 9), as the clients walk it: following `next` page by page while other
clients write.

* Paging in every documented order returns every image that exists for the whole walk exactly
  once, in exactly that order (ties within one second of `created_at` and equal names included),
  while writers create and delete images during the walk; as an admin (sees all) and as a project
  member (own + public, never another project's); and with a `tag` filter while writers add and
  remove that tag on other images.
* The tag index loses nothing under concurrent tag writers: eight threads add and remove `hot` on
  their own images hundreds of times (enough appends for many compactions of a log that compacts
  every few dozen) while another thread keeps listing `tag=hot`; every listing shows every image
  that carried `hot` all along, and the final listing is exactly the images whose record carries
  it.

Each test runs on whichever server IMAGE_TAGS_SERVER names, against a server of its own (a fresh
store), so the expected listings are known exactly."""

import functools
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from conftest import ADMIN, ALICE, BOB, Host, tokens_variable

LIMIT = 7
NAMES = [f"img-{c}" for c in "abcdefghi"]  # few names: many images share one
TAG = "paged"
SORT_KEYS = ["name", "created_at", "updated_at", "id", "status", "visibility"]
# (query, [(key, ascending)]) for every documented order. Ties go by id in the last key's
# direction, as the service orders them. (Glance's database layer puts created_at before id,
# in the default direction, when created_at is not a key: glance/db/sqlalchemy/api.py.)
ORDERS = (
    [("", [("created_at", False)])]
    + [(f"sort_key={k}&sort_dir={d}", [(k, d == "asc")]) for k in SORT_KEYS for d in ("asc", "desc")]
    + [("sort_key=updated_at", [("updated_at", False)]),  # sort_dir defaults to desc
       ("sort=name:asc,created_at:desc", [("name", True), ("created_at", False)]),
       ("sort=visibility:asc,updated_at:desc", [("visibility", True), ("updated_at", False)]),
       ("sort=status:asc,name:desc", [("status", True), ("name", False)])]
)
DEFAULT_ORDER = ORDERS[0]
BY_NAME = ("sort_key=name&sort_dir=asc", [("name", True)])  # python-glanceclient's order

_local = threading.local()


def call(method, url, token, **kw):
    """One request on this thread's keep-alive session."""
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session.request(method, url, headers={"X-Auth-Token": token}, timeout=60, **kw)


def new_image(url, token, **body):
    r = call("POST", f"{url}/v2/images", token, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def sort_key_of(keys):
    """The documented order as a Python sort key over image JSON, ties broken as Glance's
    database layer does: `created_at`, then `id`, each unless already a key, in the one
    direction given when exactly one was given, else descending."""
    default_asc = keys[0][1] if len(keys) == 1 else False
    given = {k for k, _ in keys}
    ties = [(k, default_asc) for k in ("created_at", "id") if k not in given]

    def cmp(a, b):
        for key, asc in keys + ties:
            if a[key] != b[key]:
                return (-1 if a[key] < b[key] else 1) * (1 if asc else -1)
        return 0

    return functools.cmp_to_key(cmp)


def listing(url, token, query):
    """One request for the whole listing (fewer than 1000 images): {id: image JSON}."""
    r = call("GET", f"{url}/v2/images?{query}&limit=1000" if query else f"{url}/v2/images?limit=1000", token)
    assert r.status_code == 200, r.text
    assert "next" not in r.json()
    images = r.json()["images"]
    assert len({i["id"] for i in images}) == len(images)
    return {i["id"]: i for i in images}


def walk(url, token, query, limit, before_page=lambda: None, after_page=lambda body: True):
    """Every page of a listing, following `next` as openstacksdk does. `after_page(body)` may
    refuse a page (False): it is fetched again from the same marker."""
    pages, refused = [], 0
    path = f"/v2/images?{query}&limit={limit}" if query else f"/v2/images?limit={limit}"
    while path:
        before_page()
        for _ in range(100):
            r = call("GET", url + path, token)
            assert r.status_code == 200, (path, r.status_code, r.text)
            body = r.json()
            if after_page(body):
                break
            refused += 1
            time.sleep(0.02)
        else:
            pytest.fail(f"page {path} refused 100 times")
        images, nxt = body["images"], body.get("next")
        if nxt:
            assert len(images) == limit, f"`next` on a page of {len(images)} of {limit}: {path}"
            link = parse_qs(urlsplit(nxt).query)
            assert urlsplit(nxt).path == "/v2/images"
            assert link.pop("marker") == [images[-1]["id"]], nxt
            assert link == {k: v for k, v in parse_qs(urlsplit(path).query).items() if k != "marker"}, nxt
        pages.append(images)
        path = nxt
    return pages, refused


# ----- the population and the writers -----------------------------------------------------------


class Population:
    """Every image this module made, who owns it, its visibility and whether it carries TAG.
    `stable` ones are never written to during a walk; `churned` ones get TAG added and removed
    by writers; `doomed` ones (and those writers create) are deleted by writers."""

    def __init__(self, url):
        self.url = url
        self.lock = threading.Lock()
        self.images = {}  # id -> {"token", "visibility", "tagged"}
        self.stable, self.churned, self.doomed = set(), set(), set()

    def add(self, token, visibility, tagged, into, name):
        body = {"name": name, "visibility": visibility}
        if tagged:
            body["tags"] = [TAG]
        image = new_image(self.url, token, **body)
        with self.lock:
            self.images[image["id"]] = {"token": token, "visibility": visibility, "tagged": tagged}
            into.add(image["id"])
        return image["id"]

    def visible(self, token, image_id):
        image = self.images[image_id]
        return token == ADMIN or image["token"] == token or image["visibility"] == "public"


@pytest.fixture(scope="module")
def population(_first_host, logdir):
    server = Host("paging", logdir, {"auth_mode": "tokens", "auth_tokens": tokens_variable()})
    pop = Population(server.url)
    rng = random.Random(9)
    # (token, visibility, into): alice's own images, public and non-public ones of the admin,
    # bob's (another project: never in alice's listings).
    plan = ([(ALICE, rng.choice(["shared", "private"]), pop.stable) for _ in range(64)]
            + [(ADMIN, "public", pop.stable) for _ in range(24)]
            + [(ADMIN, rng.choice(["shared", "private"]), pop.stable) for _ in range(12)]
            + [(BOB, rng.choice(["shared", "private"]), pop.stable) for _ in range(16)]
            + [(ALICE, "shared", pop.churned) for _ in range(8)] + [(ADMIN, "public", pop.churned)] * 4
            + [(rng.choice([ALICE, ADMIN, BOB]), "shared", pop.doomed) for _ in range(12)]
            + [(ADMIN, "public", pop.doomed)] * 4)
    jobs = [(token, vis, rng.random() < 0.4, into, rng.choice(NAMES)) for token, vis, into in plan]
    # Eight at once: many images share their created_at second.
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda job: pop.add(*job), jobs))
    # A later write moves some updated_at away from created_at, so the two orders differ.
    time.sleep(1.1)
    touched = rng.sample(sorted(pop.stable), 30)
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda i: call("PUT", f"{server.url}/v2/images/{i}/tags/touched", ADMIN)
                                 .status_code, touched))
    assert statuses == [204] * len(touched)
    yield pop
    server.stop()


class Writers:
    """Background threads that create images, delete doomed ones and, with `toggle_tag`, add and
    remove TAG on the churned images. They never delete the image a walk's next page starts
    after (Glance answers an unknown marker with 400 too). Paced by the walk: `tick()` before
    each page lets PER_PAGE more writes go, concurrently with that page's request. Unpaced, they
    write thousands of tombstones, and a listing that still reads every record slows down until
    a request times out."""

    PER_PAGE = 2

    def __init__(self, pop, threads=3, toggle_tag=False):
        self.pop, self.n = pop, threads
        self.kinds = ["create", "delete"] + (["toggle", "toggle"] if toggle_tag else [])
        self.stop_event = threading.Event()
        self.permits = threading.Semaphore(0)
        self.progress = threading.Condition()
        self.ops = Counter()  # writes done, by kind
        self.released = self.started = self.finished = 0  # permits given, taken, used
        self.errors = []
        self.marker = None  # the walk's current marker: not to be deleted
        self.deleting, self.deleted, self.toggling = set(), set(), set()
        self.threads = []

    def __enter__(self):
        self.threads = [threading.Thread(target=self._run, args=(w,), daemon=True) for w in range(self.n)]
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        for t in self.threads:
            t.join(60)

    def total(self):
        with self.progress:
            return sum(self.ops.values())

    def tick(self):
        """Wait (up to 10 s) for the writes let go before the last page, then let PER_PAGE more go."""
        with self.progress:
            self.progress.wait_for(lambda: self.finished >= self.released or self.errors, timeout=10)
            self.released += self.PER_PAGE
        self.permits.release(self.PER_PAGE)

    def _run(self, w):
        rng = random.Random(w)
        pop, url = self.pop, self.pop.url
        try:
            while not self.stop_event.is_set():
                if not self.permits.acquire(timeout=0.1):
                    continue
                with self.progress:
                    kind = self.kinds[self.started % len(self.kinds)]
                    self.started += 1
                wrote = getattr(self, "_" + kind)(rng, url)
                with self.progress:
                    self.ops[kind] += wrote
                    self.finished += 1
                    self.progress.notify_all()
        except BaseException as e:  # reported by the test
            self.errors.append(repr(e))
            with self.progress:
                self.progress.notify_all()

    def _create(self, rng, url):
        token = rng.choice([ALICE, ALICE, ADMIN, BOB])
        visibility = "public" if token == ADMIN and rng.random() < 0.5 else rng.choice(["shared", "private"])
        tagged = "toggle" in self.kinds and rng.random() < 0.5
        self.pop.add(token, visibility, tagged, self.pop.doomed, rng.choice(NAMES))
        return True

    def _delete(self, rng, url):
        pop = self.pop
        with pop.lock:
            choices = sorted(pop.doomed - {self.marker})
            if not choices:
                return False
            victim = rng.choice(choices)
            pop.doomed.discard(victim)
            self.deleting.add(victim)
        r = call("DELETE", f"{url}/v2/images/{victim}", ADMIN)
        assert r.status_code == 204, r.text
        with pop.lock:
            self.deleting.discard(victim)
            self.deleted.add(victim)
        return True

    def _toggle(self, rng, url):
        pop = self.pop
        image_id = rng.choice(sorted(pop.churned))
        with pop.lock:
            if image_id in self.toggling:  # another thread is at it
                return False
            self.toggling.add(image_id)
            tagged = pop.images[image_id]["tagged"]
        r = call("DELETE" if tagged else "PUT", f"{url}/v2/images/{image_id}/tags/{TAG}", ADMIN)
        assert r.status_code == 204, r.text
        with pop.lock:
            pop.images[image_id]["tagged"] = not tagged
            self.toggling.discard(image_id)
        return True

    def claim_marker(self, body):
        """Accept a page unless the image its `next` starts after is being (or was) deleted;
        else keep that image from the deleters until the next page is read."""
        last = body["images"][-1]["id"] if body.get("next") else None
        with self.pop.lock:
            if last in self.deleting or last in self.deleted:
                return False
            self.marker = last
            return True


# ----- paging ---------------------------------------------------------------------------------------


def check_walk(pop, token, query, keys, tagged=False):
    """Walk while writers run (with `tagged`, a walk of `tag=TAG` while a writer also adds and
    removes TAG on the churned images); assert the walk against the images stable throughout."""
    url = pop.url
    query = "&".join(p for p in [f"tag={TAG}" if tagged else "", query] if p)
    before = listing(url, token, query)
    with pop.lock:
        expected = {i for i in pop.stable | pop.churned | pop.doomed
                    if pop.visible(token, i) and (pop.images[i]["tagged"] or not tagged)}
        stable = set(before) - pop.doomed - pop.churned  # neither deleted nor retagged by the writers
    assert set(before) == expected, "the listing before the walk is what this caller may see"
    with Writers(pop, toggle_tag=tagged) as writers:
        pages, refused = walk(url, token, query, LIMIT, before_page=writers.tick,
                              after_page=writers.claim_marker)
    assert not writers.errors, writers.errors
    assert writers.finished >= Writers.PER_PAGE * (len(pages) - 1), "writes during every page"
    assert writers.total() >= len(pages) - 1
    assert writers.ops["create"] and writers.ops["delete"] and (writers.ops["toggle"] or not tagged)

    walked = [image for page in pages for image in page]
    ids = [i["id"] for i in walked]
    twice = [i for i, n in Counter(ids).items() if n > 1]
    assert not twice, f"listed twice: {twice}"
    missing = stable - set(ids)
    assert not missing, f"{len(missing)} images present all along were not listed: {sorted(missing)[:5]}"
    # (the writers have stopped: every image they created is in pop.images)
    foreign = {i for i in ids if i not in pop.images or not pop.visible(token, i)}
    assert not foreign, f"listed but not the caller's to see: {foreign}"
    if tagged:
        untagged = [i["id"] for i in walked if TAG not in i["tags"]]
        assert not untagged, f"listed under tag={TAG} without it: {untagged}"

    key = sort_key_of(keys)
    assert [i["id"] for i in sorted(before.values(), key=key) if i["id"] in stable] == \
        [i for i in ids if i in stable], "the stable images come in exactly the requested order"
    # Images created or deleted during the walk have fixed sort values too: the whole walk is in order.
    for a, b in zip(walked, walked[1:]):
        assert key(a) < key(b), f"{a['id']} then {b['id']} is out of order for {query!r}"
    # Ties in the first key (equal names, one created_at second, one status) decide much of each
    # order: the stable images must have them, or the tie-break goes untested.
    if keys[0][0] != "id":
        values = Counter(before[i][keys[0][0]] for i in stable)
        assert max(values.values()) >= 3, f"no ties in {keys[0][0]}: {values}"
    return pages, refused


WHO = {"admin": ADMIN, "member": ALICE}


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("query,keys", ORDERS, ids=[q or "default" for q, _ in ORDERS])
def test_walk_in_every_order_lists_each_stable_image_once_in_order(population, who, query, keys):
    pages, _ = check_walk(population, WHO[who], query, keys)
    assert len(pages) >= 8


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("query,keys", [DEFAULT_ORDER, BY_NAME], ids=["default", "name"])
def test_walk_with_a_tag_filter_lists_each_stable_tagged_image_once(population, who, query, keys):
    pages, _ = check_walk(population, WHO[who], query, keys, tagged=True)
    assert len(pages) >= 3


def test_population_has_ties_within_one_second(population):
    """The default order (created_at desc, then id desc, as Glance) is exact only if seconds that
    hold several images are ordered by id: the walks above see many such seconds."""
    per_second = Counter(i["created_at"] for i in listing(population.url, ADMIN, "").values())
    assert sum(n for n in per_second.values() if n > 1) >= 20 and max(per_second.values()) >= 5, per_second


# ----- compaction under concurrent tag writers ------------------------------------------------------

HOT = "hot"
WRITERS = 8
OPS_PER_WRITER = 60
MIN_SAMPLES = 8  # the writers go on past OPS_PER_WRITER until this many listings were sampled


@pytest.fixture
def fresh_server(_first_host, logdir):
    server = Host("tag-churn", logdir, {"auth_mode": "tokens", "auth_tokens": tokens_variable()})
    yield server.url
    server.stop()


def test_tag_log_compaction_loses_nothing_under_concurrent_writers(fresh_server):
    """WRITERS threads each add and remove HOT on their own two images (and add and remove `warm`
    on images that keep HOT throughout); a sampler walks `tag=HOT` all the while. Every sample
    lists every image known to carry HOT for the whole sample and none known to lack it, and the
    final listing is exactly the images whose record carries HOT."""
    url = fresh_server
    keepers = [new_image(url, ALICE, name="keeper", tags=[HOT])["id"] for _ in range(6)]
    keepers += [new_image(url, ADMIN, name="keeper", tags=[HOT], visibility="public")["id"] for _ in range(2)]
    others = [new_image(url, ALICE, name="bystander", tags=["cold"])["id"] for _ in range(4)]
    owned = [[new_image(url, ALICE, name=f"churn{w}")["id"] for _ in range(2)] for w in range(WRITERS)]
    late_keepers = {}  # id -> when its creation (with HOT) was acknowledged
    ops = {i: [] for mine in owned for i in mine}  # id -> [(issued, acknowledged, has HOT after)]
    samples = []  # (started, finished, [ids], [images listed without HOT])
    errors = []
    done = threading.Event()

    def writer(w):
        rng = random.Random(100 + w)
        state = {i: False for i in owned[w]}
        try:
            n, deadline = 0, time.monotonic() + 20
            while n < OPS_PER_WRITER or (len(samples) < MIN_SAMPLES and time.monotonic() < deadline):
                image_id = rng.choice(owned[w])
                issued = time.monotonic()
                r = call("DELETE" if state[image_id] else "PUT", f"{url}/v2/images/{image_id}/tags/{HOT}", ALICE)
                assert r.status_code == 204, r.text
                state[image_id] = not state[image_id]
                ops[image_id].append((issued, time.monotonic(), state[image_id]))
                if n % 4 == 3:  # a keeper's record changes while it keeps HOT
                    keeper = keepers[w % 6]
                    verb = "PUT" if n % 8 == 3 else "DELETE"
                    assert call(verb, f"{url}/v2/images/{keeper}/tags/warm{w}", ALICE).status_code == 204
                if n == OPS_PER_WRITER // 2 and w < 4:
                    image_id = new_image(url, ALICE, name="late", tags=[HOT])["id"]
                    late_keepers[image_id] = time.monotonic()  # acknowledged by now
                n += 1
        except BaseException as e:
            errors.append(repr(e))

    def sampler():
        token = [ALICE, ADMIN]
        try:
            while not done.is_set():
                started = time.monotonic()
                pages, _ = walk(url, token[len(samples) % 2], f"tag={HOT}", 4)
                samples.append((started, time.monotonic(), [i["id"] for p in pages for i in p],
                                [i for p in pages for i in p if HOT not in i["tags"]]))
        except BaseException as e:
            errors.append(repr(e))

    t0 = time.monotonic()
    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(WRITERS)]
    for t in threads:
        t.start()
    watcher = threading.Thread(target=sampler, daemon=True)
    watcher.start()
    for t in threads:
        t.join(120)
    done.set()
    watcher.join(60)
    churn_seconds = time.monotonic() - t0
    assert not errors, errors
    assert sum(len(v) for v in ops.values()) >= WRITERS * OPS_PER_WRITER
    assert len(samples) >= MIN_SAMPLES, f"only {len(samples)} listings sampled in {churn_seconds:.1f} s"

    for started, finished, ids, without in samples:
        assert not without, f"listed under {HOT} without it: {without}"
        assert len(ids) == len(set(ids)), "listed twice within one listing"
        assert set(ids) <= set(keepers) | set(late_keepers) | set(ops), "only images that had HOT"
        assert set(keepers) <= set(ids), f"a keeper missing from a listing: {set(keepers) - set(ids)}"
        assert not set(others) & set(ids)
        for image_id, acked in late_keepers.items():
            assert acked > started or image_id in ids, "a keeper created before the listing began"
        for image_id, history in ops.items():
            if any(issued < finished and acked > started for issued, acked, _ in history):
                continue  # written during this listing: either answer is right
            prior = [has for _, acked, has in history if acked <= started]
            assert (image_id in ids) == (prior[-1] if prior else False), \
                f"{image_id}: listed={image_id in ids}, its record {'has' if prior and prior[-1] else 'lacks'} {HOT}"

    truth = set()
    for image_id in keepers + list(late_keepers) + others + list(ops):
        r = call("GET", f"{url}/v2/images/{image_id}", ADMIN)
        assert r.status_code == 200, r.text
        if HOT in r.json()["tags"]:
            truth.add(image_id)
    assert truth >= set(keepers) | set(late_keepers)
    assert truth - set(keepers) - set(late_keepers) == {i for i, h in ops.items() if h and h[-1][2]}
    for limit in (3, 1000):
        pages, _ = walk(url, ADMIN, f"tag={HOT}", limit)
        ids = [i["id"] for p in pages for i in p]
        assert len(ids) == len(set(ids)) and set(ids) == truth, f"limit={limit}"
