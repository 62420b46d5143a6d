"""Wire conformance: every request the engine sends must be one the official client sends for the same operation.

Both drive the same local server (test hooks on: its request log records each request's shape: route template,
auth, x-featrix-* headers, query keys, JSON keys and value types, multipart field names; see
featrix_iac/server/http/wirelog.py). The engine runs as the real `featrix` CLI (apply, plan, predict, an in-place
update, a data change behind an endpoint, key rotation and revocation, destroy); the vendored featrixsphere
2.0.13460 client performs the same operations. The only tolerated differences are the entries of
wire_allowlist.yaml, each with its reason; an entry that no longer matches anything fails too, so the list
stays short.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from featrix_iac.server.embedded import LocalServer, start_local_server

pd = pytest.importorskip("pandas")
httpx = pytest.importorskip("httpx")

HERE = Path(__file__).resolve().parent
PENGUINS = HERE.parents[1] / "examples" / "quickstart" / "data" / "penguins.csv"
ALLOWLIST = HERE / "wire_allowlist.yaml"
RECORD = {"island": "Biscoe", "bill_length_mm": 47.5, "bill_depth_mm": 15.0, "flipper_length_mm": 218.0}
HOOK = "http://127.0.0.1:9/hook"
SECRET = "wire-webhook-secret"
Shape = dict[str, Any]
MUST_COVER = {  # what the engine's scenario must exercise, or the comparison proves little
    "POST /compute/upload_with_new_session/",
    "POST /compute/create-embedding-space",
    "POST /compute/session/{sid}/train_predictor",
    "POST /compute/session/{sid}/publish",
    "GET /compute/session/{sid}/publish_job/{job_id}",
    "POST /compute/session/{sid}/unpublish",
    "POST /compute/session/{sid}/deprecate",
    "POST /compute/session/{sid}/deletion_protection",
    "POST /compute/session/{sid}/predictor/{pid}/deletion_protection",
    "PUT /compute/session/{sid}/predictor/{pid}/value_meaning",
    "DELETE /compute/session/{sid}/predictor/{pid}/value_meaning/{label}",
    "POST /compute/session/{sid}/configure_webhooks",
    "POST /compute/session/{sid}/disable_webhook",
    "POST /compute/session/{sid}/mark_for_deletion",
    "POST /compute/session/{sid}/vector_databases",
    "POST /compute/session/{sid}/vector_databases/{name}/records",
    "DELETE /compute/session/{sid}/vector_databases/{name}",
    "POST /compute/session/{sid}/predict",
    "POST /endpoints",
    "POST /endpoints/{eid}/shadow",
    "POST /endpoints/{eid}/promote",
    "POST /endpoints/{eid}/stop_shadowing",
    "GET /compute/session/{sid}/predictor/{pid}/value_meaning",
    "GET /compute/session/{sid}/predictor/{pid}/classification_metrics",
    "GET /compute/session/{sid}/webhooks",
    "POST /endpoints/{eid}/regenerate_key",
    "POST /endpoints/{eid}/revoke_key",
    "DELETE /endpoints/{eid}",
    "POST /endpoint/{eid}/predict",
    "GET /compute/session/{sid}",
    "GET /compute/sessions-for-org",
    "GET /endpoints",
    "GET /endpoints/{eid}",
    "GET /compute/session/{sid}/vector_databases",
}


# -- the recorder ------------------------------------------------------------------------------------------


class Wire:
    """Reads (and clears) the server's request log; keeps every request's shape."""

    def __init__(self, server: LocalServer) -> None:
        self.http = httpx.Client(base_url=server.url, headers={"X-Api-Key": server.api_key}, timeout=30)
        self.shapes: list[Shape] = []

    def collect(self) -> None:
        log = self.http.get("/__test__/requests").json()["requests"]
        self.http.delete("/__test__/requests")
        self.shapes += [{"method": r["method"], **r["wire"]} for r in log if r.get("wire")]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with start_local_server(tmp_path_factory.mktemp("wire-server"), test_hooks=True) as srv:
        yield srv


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wire-data")
    shutil.copy(PENGUINS, root / "penguins.csv")
    lines = PENGUINS.read_text().splitlines()
    (root / "penguins-v2.csv").write_text("\n".join(lines[:-5]) + "\n")
    (root / "records.csv").write_text(
        "island,bill_length_mm,bill_depth_mm,flipper_length_mm,sex\nDream,39.5,17.4,186,female\nBiscoe,,15.0,,\n"
    )
    return root


# -- the engine: the real CLI ------------------------------------------------------------------------------


def manifest(url: str, data: Path, *, stage: int) -> str:
    """stage 1: create everything; 2: in-place updates; 3: new data behind the endpoint; 4: revoke the key."""
    protected = "true" if stage < 3 else "false"
    published = "true" if stage == 1 else "{name: penguins-v2}"  # a new published name: unpublish, publish
    meaning = "{Adelie: small penguin}" if stage == 1 else "{Gentoo: big penguin}"
    hooks = f"training_finished: {HOOK}" if stage == 1 else f"training_started: {HOOK}"
    extra_record = "      - {island: Torgersen, bill_length_mm: 40.1, bill_depth_mm: 18.0}\n" if stage > 1 else ""
    api_key = "    api_key: {rotation: 1, revoked: true}\n" if stage == 4 else "    api_key: {rotation: 1}\n"
    return f"""\
version: 1
project: wire
server: {{url: {url}}}
foundational_models:
  penguins:
    data: {data / ("penguins-v2.csv" if stage >= 3 else "penguins.csv")}
    ignore_columns: [year]
    epochs: 2
    priority: low
    published: {published}
    deprecation: {{warning_message: superseded, expiration_date: 2030-01-01}}
    deletion_protection: {protected}
  remote:
    data: file://{data / "penguins.csv"}
    epochs: 2
    d_model: 8
    foundation_mode: false
    compute_cluster: local
predictors:
  species:
    foundational_model: penguins
    type: multi_classifier
    target_column: species
    epochs: 2
    priority: low
    deletion_protection: {protected}
    value_meaning: {meaning}
    gates: {{min_accuracy: 0.0, min_f1: 0.0}}
    webhooks:
      {hooks}
      webhook_secret: {SECRET}
  sex:
    foundational_model: penguins
    type: binary_classifier
    target_column: sex
    rare_label_value: female
    cost_false_positive: 1.5
    cost_false_negative: 5.0
    epochs: 2
endpoints:
  species_api:
    predictor: species
    description: Penguin species
{api_key if stage > 1 else ""}
vector_databases:
  catalog:
    foundational_model: penguins
    auto_populate: false
    records_file: {data / "records.csv"}
    records:
      - {{island: Dream, bill_length_mm: 39.5, bill_depth_mm: 17.4, flipper_length_mm: 186}}
{extra_record}"""


def featrix(project: Path, key: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEATRIX_")}
    env.update(FEATRIX_API_KEY=key, FEATRIX_LOCK_KEY="wire-lock-key", NO_COLOR="1")
    cmd = [sys.executable, "-m", "featrix_iac", "-C", str(project), *args]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, f"featrix {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r.stdout


def run_engine(server: LocalServer, data: Path, project: Path, wire: Wire) -> None:
    def stage(n: int, *commands: tuple[str, ...]) -> None:
        (project / "featrix.yaml").write_text(manifest(server.url, data, stage=n))
        for command in commands:
            featrix(project, server.api_key, *command)
        wire.collect()

    apply = ("apply", "--auto-approve")
    record = json.dumps(RECORD)
    stage(1, apply, ("plan",))
    stage(2, apply, ("predict", "endpoint.species_api", record), ("predict", "predictor.sex", record))
    stage(3, apply)
    stage(4, apply, ("destroy", "--auto-approve"))


# -- the official client: the same operations --------------------------------------------------------------


def run_official(fs: ModuleType, server: LocalServer, data: Path, wire: Wire) -> None:
    fx = fs.FeatrixSphere(api_key=server.api_key, base_url=server.url)
    fx.whoami()
    fx.health_check()  # the server's version, which the engine records in each training's provenance
    fm = _trained_fm(fx, data / "penguins.csv")
    fx.list_sessions(name_prefix="penguins")
    fx.list_sessions()
    fx.foundational_model(fm.id)
    # the URL create (the official client routes only s3:// and https:// there; the local server reads file://)
    fx.set_compute_cluster("local")  # X-Featrix-Node, as compute_cluster in a manifest
    remote = fx._create_foundational_model_s3(
        name="remote", s3_url=f"file://{data / 'penguins.csv'}", epochs=2, foundation_mode=False,
        session_name_prefix="remote", user_metadata={"owner": "wire"}, d_model=8,
    )  # fmt: skip
    fx.set_compute_cluster(None)
    fm.publish(name="penguins", poll_interval=0.2)
    fm.deprecate(warning_message="superseded", expiration_date="2030-01-01T00:00:00Z")
    fm.set_deletion_protection(True)
    species, sex = _predictors(fm, {"training_finished": HOOK, "webhook_secret": SECRET})
    species.set_value_meaning({"Adelie": "small penguin"})
    species.set_deletion_protection(True)
    endpoint = species.create_api_endpoint(name="species_api", description="Penguin species")
    vdb = fm.create_vector_database("catalog", auto_populate=False)
    vdb.add_records(pd.read_csv(data / "records.csv"))
    vdb.add_records([{"island": "Dream", "bill_length_mm": 39.5, "bill_depth_mm": 17.4, "flipper_length_mm": 186}])
    remote.wait_for_training(poll_interval=0.2, show_progress=False)
    wire.collect()
    # reads, in-place updates, predictions
    fx.list_api_endpoints()
    fx.api_endpoint(endpoint.id)
    fm.list_vector_databases()
    fx.vector_database(fm.id, "catalog")
    species.get_value_meaning()
    species.get_classification_metrics()  # what the engine reads to check the predictor's gates
    species.get_webhooks()
    endpoint.regenerate_api_key()
    species.set_value_meaning({"Gentoo": "big penguin"})
    species.clear_value_meaning("Adelie")
    species.configure_webhooks(training_started=HOOK, webhook_secret=SECRET)
    species.disable_webhook("training_finished")
    vdb.add_records([{"island": "Torgersen", "bill_length_mm": 40.1, "bill_depth_mm": 18.0}])
    endpoint.predict(RECORD)
    sex.predict(RECORD)
    wire.collect()
    # new data behind the endpoint: shadow, promote, the old model goes
    fm2 = _trained_fm(fx, data / "penguins-v2.csv")
    fm2.publish(name="penguins", poll_interval=0.2)
    fm2.deprecate(warning_message="superseded", expiration_date="2030-01-01T00:00:00Z")
    species2, _ = _predictors(fm2, {"training_started": HOOK, "webhook_secret": SECRET})
    species2.set_value_meaning({"Gentoo": "big penguin"})
    endpoint.shadow(species2.id, session_id=species2.session_id)
    _wait_shadow(endpoint, species2.id)
    endpoint.promote(species2.id)
    endpoint.stop_shadowing(species.id)  # promote kept the old one as a rollback shadow; its model goes next
    vdb2 = fm2.create_vector_database("catalog", auto_populate=False)
    vdb2.add_records(pd.read_csv(data / "records.csv"))
    fm.set_deletion_protection(False)
    species.set_deletion_protection(False)
    fm.unpublish()
    fm.delete()
    wire.collect()
    # revoke, then destroy everything
    endpoint.revoke_api_key()
    endpoint.delete()
    vdb2.delete()
    fm2.set_deletion_protection(False)  # a publish protects the model
    for model in (fm2, remote):
        model.delete()
    wire.collect()


def _wait_shadow(endpoint: Any, predictor_id: str, timeout: float = 120.0) -> None:
    """The shadow publishes like a model (a job): promote once the endpoint names it (APIEndpoint.refresh)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shadows = endpoint.refresh().shadows
        if any(s.get("neural_function_id") == predictor_id and s.get("name") for s in shadows):
            return
        time.sleep(0.2)
    raise AssertionError(f"the shadow {predictor_id} was not published within {timeout:.0f}s")


def _trained_fm(fx: Any, path: Path) -> Any:
    fm = fx.create_foundational_model(
        name="penguins", data_file=str(path), ignore_columns=["year"], epochs=2, user_metadata={"owner": "wire"},
        priority="low",
    )  # fmt: skip
    fm.wait_for_training(poll_interval=0.2, show_progress=False)
    return fm


def _predictors(fm: Any, hooks: dict[str, str]) -> tuple[Any, Any]:
    species = fm.create_multi_classifier(
        target_column="species", name="species", epochs=2, webhooks=hooks, priority="low"
    )
    sex = fm.create_binary_classifier(
        target_column="sex", name="sex", epochs=2, rare_label_value="female",
        cost_false_positive=1.5, cost_false_negative=5.0,
    )  # fmt: skip
    for predictor in (species, sex):
        predictor.wait_for_training(poll_interval=0.2, show_progress=False)
    return species, sex


# -- the comparison ----------------------------------------------------------------------------------------


def _key(shape: Shape) -> str:
    return f"{shape['method']} {shape['route']}"


def _without(shape: Shape, keys: set[str]) -> Shape:
    out = dict(shape)
    if isinstance(out.get("json"), dict):
        out["json"] = {k: v for k, v in out["json"].items() if k not in keys}
    if "form" in out:
        out["form"] = [k for k in out["form"] if k not in keys]
    return out


def differences(engine: list[Shape], official: list[Shape], allow: list[dict[str, Any]]) -> tuple[list[str], set[int]]:
    """Engine requests with no identical official request on the same route; and the allow-list entries used."""
    by_route: dict[str, list[Shape]] = {}
    for shape in official:
        by_route.setdefault(_key(shape), []).append(shape)
    used: set[int] = set()
    problems: dict[str, str] = {}
    for shape in engine:
        key = _key(shape)
        rules = [(i, a) for i, a in enumerate(allow) if a["request"] == key]
        if any(a.get("engine_only") for _, a in rules):
            used.update(i for i, a in rules if a.get("engine_only"))
            continue
        ignored = {k for _, a in rules for k in a.get("ignore_keys", [])}
        candidates = by_route.get(key)
        if not candidates:
            problems.setdefault(key, f"{key}: the official client never calls this route")
            continue
        if shape in candidates:
            continue
        mine = _without(shape, ignored)
        if ignored and any(_without(c, ignored) == mine for c in candidates):
            used.update(i for i, a in rules if a.get("ignore_keys"))
            continue
        closest = min(candidates, key=lambda c: len(json.dumps(_diff(mine, _without(c, ignored)))))
        detail = json.dumps(_diff(mine, _without(closest, ignored)), sort_keys=True)
        problems.setdefault(f"{key} {detail}", f"{key}: engine vs official client: {detail}")
    return sorted(problems.values()), used


def _diff(engine: Shape, official: Shape) -> dict[str, Any]:
    return {
        k: {"engine": engine.get(k), "official": official.get(k)}
        for k in sorted({*engine, *official})
        if engine.get(k) != official.get(k)
    }


def test_the_allowlist_is_short_and_justified() -> None:
    allow = yaml.safe_load(ALLOWLIST.read_text()) or []
    assert len(allow) <= 8, "the allow-list grows: make the engine send what the official client sends instead"
    for entry in allow:
        assert set(entry) <= {"request", "ignore_keys", "engine_only", "reason"}, entry
        assert entry["request"].split(" ", 1)[0] in ("GET", "POST", "PUT", "DELETE"), entry
        assert len(entry.get("reason", "")) > 40, f"{entry['request']}: say why this difference is right"
        assert entry.get("ignore_keys") or entry.get("engine_only"), entry


def test_the_engine_sends_what_the_official_client_sends(
    featrixsphere: ModuleType, server: LocalServer, data: Path, tmp_path: Path
) -> None:
    engine, official = Wire(server), Wire(server)
    engine.collect()  # drop the server's own start-up traffic
    engine.shapes.clear()
    run_engine(server, data, tmp_path, engine)
    run_official(featrixsphere, server, data, official)
    allow = yaml.safe_load(ALLOWLIST.read_text()) or []
    found, used = differences(engine.shapes, official.shapes, allow)
    assert not found, "the engine's traffic differs from the official client's:\n" + "\n".join(found)
    stale = [a["request"] for i, a in enumerate(allow) if i not in used]
    assert not stale, f"allow-list entries that match nothing any more (remove them): {stale}"
    missing = MUST_COVER - {_key(s) for s in engine.shapes}
    assert not missing, f"the scenario no longer exercises: {sorted(missing)}"
    assert any(s["headers"] == ["x-featrix-node"] for s in engine.shapes), "compute_cluster: no X-Featrix-Node sent"
    assert any("priority" in s.get("form", []) for s in engine.shapes), "no upload carried a priority"
    assert any("priority" in (s.get("json") or {}) for s in engine.shapes if "train_predictor" in s["route"])


def test_the_comparison_catches_each_kind_of_difference() -> None:
    official = [
        {"method": "POST", "route": "/r", "auth": "account", "headers": [], "query": [], "content": "json",
         "json": {"epochs": "integer", "name": "string"}},
        {"method": "POST", "route": "/u", "auth": "account", "headers": ["x-featrix-idempotency-key"],
         "query": [], "content": "multipart", "form": ["name"], "files": ["file"]},
    ]  # fmt: skip
    same = [dict(official[0]), dict(official[1])]
    assert differences(same, official, []) == ([], set())
    typed = {**official[0], "json": {"epochs": "string", "name": "string"}}
    extra = {**official[0], "json": {"epochs": "integer", "name": "string", "tag": "object"}}
    header = {**official[1], "headers": []}
    form = {**official[1], "form": ["name", "time_column"]}
    auth = {**official[0], "auth": "other"}
    elsewhere = {**official[0], "route": "/elsewhere"}
    for shape in (typed, extra, header, form, auth, elsewhere):
        found, _ = differences([shape], official, [])
        assert len(found) == 1, shape
    allow = [{"request": "POST /r", "ignore_keys": ["tag"], "reason": "x"}]
    assert differences([extra], official, allow) == ([], {0})
    assert differences([typed], official, allow)[0]  # an ignored key does not hide another difference
    assert differences([elsewhere], official, [{"request": "POST /elsewhere", "engine_only": True}]) == ([], {0})
