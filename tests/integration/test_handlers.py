"""Handlers and the applier against the REAL local server: create / read / update / delete / wait_ready per kind.

The one invariant checked for every kind: right after an apply, `handler.desired()` equals `read().fields`
(no perpetual diff from server defaults or normalisation).
"""

from __future__ import annotations

import dataclasses
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from featrix_iac.addresses import Address
from featrix_iac.apply import Interrupt, RecordingObserver, apply_plan
from featrix_iac.client import FeatrixClient
from featrix_iac.config import LoadedProject, load_project
from featrix_iac.plan.model import Action, ActionType, FieldChange, Plan
from featrix_iac.plan.refresh import probe_of
from featrix_iac.plan.steps import decided
from featrix_iac.resources.base import DesiredContext
from featrix_iac.resources.registry import HANDLERS
from featrix_iac.state import StateStore

REPO = Path(__file__).resolve().parents[2]
PENGUINS = REPO / "examples" / "quickstart" / "data" / "penguins.csv"
LOCK_KEY = bytes(range(32))

MANIFEST = """
version: 1
project: itest
server: {url: local}
foundational_models:
  fm:
    data: data.csv
    ignore_columns: [year]
    epochs: 3
    published: true
    deletion_protection: true
predictors:
  species:
    foundational_model: fm
    type: multi_classifier
    target_column: species
    epochs: 3
    deletion_protection: true
    value_meaning: {Adelie: small penguin}
    webhooks:
      training_finished: http://127.0.0.1:9/hook
      webhook_secret: s3cret-s3cret
  sex:
    foundational_model: fm
    type: binary_classifier
    target_column: sex
    rare_label_value: female
    epochs: 3
endpoints:
  api:
    predictor: species
    description: species endpoint
vector_databases:
  vdb:
    foundational_model: fm
    auto_populate: false
    records:
      - {species: Adelie, island: Torgersen, bill_length_mm: 39.1}
      - {species: Gentoo, island: Biscoe, bill_length_mm: 47.5}
  vdb_file:
    foundational_model: fm
    auto_populate: false
    records_file: records.csv
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    try:
        from featrix_iac.server.embedded import start_local_server
    except ImportError as exc:  # pragma: no cover - the server package is always there once it landed
        pytest.skip(f"the local server is not available yet: {exc}")
    srv = start_local_server(tmp_path_factory.mktemp("server"), test_hooks=True)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server: Any) -> Iterator[FeatrixClient]:
    with FeatrixClient(server.url, server.api_key, sleep=lambda s: None) as c:
        yield c


def make_project(root: Path, manifest: str = MANIFEST) -> Any:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(PENGUINS, root / "data.csv")
    (root / "records.csv").write_text("".join(PENGUINS.read_text().splitlines(keepends=True)[:4]))
    (root / "featrix.yaml").write_text(textwrap.dedent(manifest))
    return load_project(root)


def refs_of(kind: str, desired: dict[str, Any]) -> list[str]:
    out = [f"foundational_model.{desired['foundational_model']}"] if "foundational_model" in desired else []
    if kind == "endpoint":
        out.append(f"predictor.{desired['predictor']}")
    return out


def desired_of(loaded: LoadedProject, store: StateStore) -> dict[str, tuple[str, dict[str, Any]]]:
    ctx = DesiredContext(loaded.project.project, loaded.environment, loaded.root, store.fingerprint)
    return {
        str(addr): (addr.kind, HANDLERS[addr.kind].desired(addr.key, res, ctx))
        for addr, res in loaded.project.resources()
    }


def plan_of(loaded: LoadedProject, lock: Any, actions: list[Action]) -> Plan:
    """A plan of hand-made actions, with the decisions the planner makes (create_before_destroy, steps)."""
    return decided(
        Plan(
            tool_version="test",
            project=loaded.project.project,
            environment=loaded.environment,
            server_url="local",
            lineage=lock.lineage,
            serial=lock.serial,
            actions=actions,
        ),
        lock,
    )


def create_actions(loaded: LoadedProject, store: StateStore) -> list[Action]:
    return [
        Action(address=a, kind=k, action=ActionType.CREATE, desired=d, depends_on=refs_of(k, d))
        for a, (k, d) in desired_of(loaded, store).items()
    ]


def present(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields that have a value: a rule's field the manifest leaves out (e.g. lifecycle.retire) reads back as
    None, which the planner takes as equal to absent."""
    return {k: v for k, v in fields.items() if v is not None}


def read_fields(client: FeatrixClient, lock: Any, address: str) -> dict[str, Any]:
    entry = lock.entry(address)
    live = HANDLERS[entry.kind].read(client, entry)
    assert live is not None, f"{address} not found on the server"
    return present(live.fields)


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory, client: FeatrixClient) -> dict[str, Any]:
    """The whole test manifest applied once (shared by the tests below, which then change it)."""
    root = tmp_path_factory.mktemp("project")
    loaded = make_project(root)
    store = StateStore(root, loaded.environment, lock_key=LOCK_KEY, project="itest")
    lock = store.load()
    obs = RecordingObserver()
    result = apply_plan(
        plan_of(loaded, lock, create_actions(loaded, store)),
        loaded=loaded,
        client=client,
        store=store,
        lockfile=lock,
        observer=obs,
        training_timeout=120,
    )
    assert result.failed == {} and result.skipped == {}, (result.failed, result.skipped)
    return {"root": root, "loaded": loaded, "store": store, "lock": lock, "observer": obs, "result": result}


def test_create_then_read_equals_desired_for_every_kind(applied: dict[str, Any], client: FeatrixClient) -> None:
    lock, store, loaded = applied["lock"], applied["store"], applied["loaded"]
    for address, (_kind, desired) in desired_of(loaded, store).items():
        assert lock.entry(address).status == "ready"
        assert read_fields(client, lock, address) == present(desired), address


def test_read_all_matches_read(applied: dict[str, Any], client: FeatrixClient) -> None:
    lock = applied["lock"]
    for kind, h in HANDLERS.items():
        entries = {a: lock.entry(a) for a in lock.addresses(kind)}
        batch = h.read_all(client, entries)
        assert set(batch) == set(entries)
        for address, live in batch.items():
            assert live is not None and live.fields == h.read(client, entries[address]).fields, address


def test_read_all_is_batched(applied: dict[str, Any], client: FeatrixClient) -> None:
    """One list (or session) request per kind here, however many objects: refresh stays cheap. Predictors
    add the read-back routes of what was applied: one webhooks GET per session that has webhooks, and one
    value_meaning GET per predictor that sets value_meaning (the API has no batch read of either)."""
    lock = applied["lock"]
    for kind, h in HANDLERS.items():
        entries = {a: lock.entry(a) for a in lock.addresses(kind)}
        expected = 1
        if kind == "predictor":
            hooked = {e.ids["session_id"] for e in entries.values() if e.applied.get("webhooks")}
            expected += len(hooked) + sum(1 for e in entries.values() if e.applied.get("value_meaning"))
            assert expected == 3, "the fixture applies webhooks and value_meaning on one predictor"
        before = client.request_count
        h.read_all(client, entries)
        assert client.request_count - before == expected, kind


def test_lockfile_records_ids_tags_and_encrypted_key(applied: dict[str, Any], client: FeatrixClient) -> None:
    lock, store = applied["lock"], applied["store"]
    ep = lock.entry("endpoint.api")
    key = store.decrypt("endpoint.api", ep.secrets["api_key"])
    assert key.startswith("fx_") and key not in store.path.read_text()
    assert "s3cret-s3cret" not in store.path.read_text()
    assert lock.entry("predictor.species").hashes["webhook_secret"].startswith("sha256:")
    sp = lock.entry("predictor.species").ids
    vf = lock.entry("vector_database.vdb_file")
    assert vf.hashes["records_file"].startswith("sha256:")
    assert client.get(f"/session/{vf.ids['session_id']}/vector_databases/vdb_file/size")["size"] == 3
    meaning = client.get(f"/session/{sp['session_id']}/predictor/{sp['predictor_id']}/value_meaning")
    assert meaning["value_meaning"] == {"Adelie": "small penguin"}  # set by a follow-up step after training
    assert lock.entry("foundational_model.fm").hashes["data"].startswith("sha256:")
    doc = client.get(f"/endpoints/{ep.ids['endpoint_id']}")
    assert "user_metadata" not in doc  # POST /endpoints takes a fixed body: no tag is sent or echoed
    record = {"species": None, "island": "Biscoe", "bill_length_mm": 46.0, "bill_depth_mm": 15.0}
    resp = FeatrixClient(client.base_url, key).post(
        f"/endpoint/{ep.ids['endpoint_id']}/predict", {"query_record": record}
    )
    assert resp.get("prediction") or resp.get("predicted_class")


def test_events_report_progress_and_done(applied: dict[str, Any]) -> None:
    obs = applied["observer"]
    assert obs.names("foundational_model.fm")[0] == "start"
    assert obs.names("foundational_model.fm")[-1] == "done"
    assert "progress" in obs.names("predictor.species")
    assert sorted(applied["result"].done) == sorted(applied["lock"].addresses())


def test_find_existing_by_identity(applied: dict[str, Any], client: FeatrixClient) -> None:
    """Each kind finds what apply created from documented fields alone, once the lockfile forgot it."""
    lock = applied["lock"]
    for address in ("foundational_model.fm", "predictor.species", "endpoint.api"):
        entry = lock.entry(address)
        h = HANDLERS[entry.kind]
        forgot = lock.model_copy(update={"resources": {a: e for a, e in lock.resources.items() if a != address}})
        desired = {**entry.applied, "foundational_model": "fm", "predictor": "species"}
        probe = probe_of(forgot, address, desired, {}, HANDLERS, "itest", "default")
        found = h.find_existing(client, probe)
        assert found is not None and all(found[k] == entry.ids[k] for k in found), address
        assert h.find_existing(client, probe_of(lock, address, desired, {}, HANDLERS, "itest", "default")) is None


def test_read_of_unknown_ids_is_none_after_confirmation(applied: dict[str, Any], client: FeatrixClient) -> None:
    entry = applied["lock"].entry("endpoint.api").model_copy(update={"ids": {"endpoint_id": "ep_nope"}})
    assert HANDLERS["endpoint"].read(client, entry) is None


def _update(applied: dict[str, Any], client: FeatrixClient, manifest: str, address: str, fields: list[str]) -> Any:
    root = applied["root"]
    loaded = make_project(root, manifest)
    store, lock = applied["store"], applied["lock"]
    kind, desired = desired_of(loaded, store)[address]
    changes = [FieldChange(field=f, old=lock.entry(address).applied.get(f), new=desired.get(f)) for f in fields]
    action = Action(
        address=address,
        kind=kind,
        action=ActionType.UPDATE,
        desired=desired,
        changes=changes,
        prior_ids=lock.entry(address).ids,
        depends_on=refs_of(kind, desired),
    )
    result = apply_plan(plan_of(loaded, lock, [action]), loaded=loaded, client=client, store=store, lockfile=lock)
    assert result.failed == {}, result.failed
    assert read_fields(client, lock, address) == present(desired)
    return loaded


def test_in_place_updates(applied: dict[str, Any], client: FeatrixClient) -> None:
    lock = applied["lock"]
    m = MANIFEST.replace(
        "    published: true\n    deletion_protection: true\n",
        "    published: true\n    deprecation: {warning_message: retrain soon, expiration_date: 2030-01-31}\n",
    )  # the service deprecates published models only
    fields = ["deletion_protection", "deprecation"]
    _update(applied, client, m, "foundational_model.fm", fields)
    sid = lock.entry("foundational_model.fm").ids["session_id"]
    assert client.get(f"/compute/session/{sid}")["session"]["deletion_protection"] is False

    m = m.replace(
        "      training_finished: http://127.0.0.1:9/hook\n", "      training_started: http://127.0.0.1:9/start\n"
    )
    m = m.replace("    value_meaning: {Adelie: small penguin}\n", "    value_meaning: {Gentoo: big penguin}\n")
    _update(applied, client, m, "predictor.species", ["webhooks", "value_meaning"])
    pid = lock.entry("predictor.species").ids["predictor_id"]
    meaning = client.get(f"/session/{sid}/predictor/{pid}/value_meaning")["value_meaning"]
    assert meaning == {"Gentoo": "big penguin"}
    hooks = client.get(f"/compute/session/{sid}/webhooks", params={"predictor_id": pid})["webhooks"]
    assert hooks == {"training_started": "http://127.0.0.1:9/start"}

    old_key_blob = lock.entry("endpoint.api").secrets["api_key"]
    m = m.replace(
        "    description: species endpoint\n", "    description: species endpoint\n    api_key: {rotation: 1}\n"
    )
    _update(applied, client, m, "endpoint.api", ["api_key.rotation"])
    store = applied["store"]
    assert store.decrypt("endpoint.api", lock.entry("endpoint.api").secrets["api_key"]) != store.decrypt(
        "endpoint.api", old_key_blob
    )
    m = m.replace(
        "      - {species: Gentoo, island: Biscoe, bill_length_mm: 47.5}\n",
        "      - {species: Gentoo, island: Biscoe, bill_length_mm: 47.5}\n      - {species: Chinstrap, island: Dream}\n",
    )
    _update(applied, client, m, "vector_database.vdb", ["records"])
    vdb = lock.entry("vector_database.vdb").ids
    assert client.get(f"/session/{vdb['session_id']}/vector_databases/{vdb['name']}/size")["size"] == 3
    applied["manifest"] = m


def test_endpoint_moves_to_another_predictor_keeping_id_and_key(applied: dict[str, Any], client: FeatrixClient) -> None:
    lock, store = applied["lock"], applied["store"]
    m = applied.get("manifest", MANIFEST).replace("    predictor: species\n", "    predictor: sex\n")
    before = lock.entry("endpoint.api").model_copy(deep=True)
    _update(applied, client, m, "endpoint.api", ["predictor"])
    after = lock.entry("endpoint.api")
    assert after.ids["endpoint_id"] == before.ids["endpoint_id"]
    assert after.ids["predictor_id"] == lock.entry("predictor.sex").ids["predictor_id"]
    assert store.decrypt("endpoint.api", after.secrets["api_key"]) == store.decrypt(
        "endpoint.api", before.secrets["api_key"]
    )
    doc = client.get(f"/endpoints/{after.ids['endpoint_id']}")
    assert doc["serving_predictor_id"] == lock.entry("predictor.sex").ids["predictor_id"]
    applied["manifest"] = m


def test_delete_retire_and_destroy_order(applied: dict[str, Any], client: FeatrixClient) -> None:
    """Removing everything: endpoint and vdb deleted, predictors retired (unprotected), then the FM deleted."""
    lock, store, loaded = applied["lock"], applied["store"], applied["loaded"]
    prior = {a: lock.entry(a).model_copy(deep=True) for a in lock.addresses()}
    actions = [
        Action(
            address=a,
            kind=e.kind,
            action=ActionType.RETIRE if e.kind == "predictor" else ActionType.DELETE,
            prior_ids=e.ids,
            depends_on=list(e.depends_on),
        )
        for a, e in prior.items()
    ]
    result = apply_plan(plan_of(loaded, lock, actions), loaded=loaded, client=client, store=store, lockfile=lock)
    assert result.failed == {} and result.skipped == {}, (result.failed, result.skipped)
    assert lock.resources == {}
    sid = prior["foundational_model.fm"].ids["session_id"]
    for address, entry in prior.items():
        if entry.kind != "predictor":
            assert HANDLERS[entry.kind].read(client, entry) is None, address
    assert FeatrixClient(client.base_url, client._api_key).get("/compute/sessions-for-org")["sessions"] is not None
    assert all(s["session_id"] != sid for s in client.get("/compute/sessions-for-org")["sessions"])


def test_interrupt_before_start_skips_everything(tmp_path: Path, client: FeatrixClient) -> None:
    loaded = make_project(tmp_path / "p")
    store = StateStore(loaded.root, loaded.environment, lock_key=LOCK_KEY, project="itest")
    lock = store.load()
    stop = Interrupt()
    stop.set()
    result = apply_plan(
        plan_of(loaded, lock, create_actions(loaded, store)),
        loaded=loaded,
        client=client,
        store=store,
        lockfile=lock,
        interrupt=stop,
    )
    assert result.done == [] and result.failed == {}
    assert set(result.skipped) == {str(a) for a, _ in loaded.project.resources()}
    assert lock.resources == {}


def test_address_kinds_have_handlers() -> None:
    for kind in ("foundational_model", "predictor", "endpoint", "vector_database"):
        assert HANDLERS[kind].kind == kind
        assert Address(kind, "x")


# -- crash and fault resilience (test hooks of the local server) --------------------------------------

BASE = """
version: 1
project: faults
server: {url: local}
foundational_models:
  fm: {data: data.csv, ignore_columns: [year], epochs: 2}
predictors:
  species: {foundational_model: fm, type: multi_classifier, target_column: species, epochs: 2}
endpoints:
  api: {predictor: species}
"""


def _faults(client: FeatrixClient, *rules: dict[str, Any]) -> None:
    client.delete("/__test__/faults")
    if rules:
        client.post("/__test__/faults", {"faults": list(rules)})


@pytest.fixture()
def faulty(tmp_path: Path, client: FeatrixClient) -> Iterator[dict[str, Any]]:
    loaded = make_project(tmp_path / "p", BASE)
    store = StateStore(loaded.root, loaded.environment, lock_key=LOCK_KEY, project="faults")
    yield {"loaded": loaded, "store": store, "lock": store.load()}
    _faults(client)
    client.post("/__test__/consistency", {"first_get_404": False, "stale_list_seconds": 0})


def _apply(ctx: dict[str, Any], client: FeatrixClient, only: set[str] | None = None) -> Any:
    loaded, store, lock = ctx["loaded"], ctx["store"], ctx["lock"]
    actions = [a for a in create_actions(loaded, store) if only is None or a.address in only]
    return apply_plan(plan_of(loaded, lock, actions), loaded=loaded, client=client, store=store, lockfile=lock)


def _tagged(docs: list[dict[str, Any]], address: str, token: str) -> list[dict[str, Any]]:
    """Sessions carrying this creation tag (the session's user_metadata, which the contract shows)."""
    return [
        d
        for d in docs
        if (d.get("user_metadata") or {}).get("featrix_iac", {}).get("address") == address
        and d["user_metadata"]["featrix_iac"].get("project") == "faults"
        and d["user_metadata"]["featrix_iac"].get("token") == token
    ]


def test_upload_dropped_after_commit_makes_one_session(faulty: dict[str, Any], client: FeatrixClient) -> None:
    _faults(client, {"route": "POST /compute/upload_with_new_session", "drop_connection": True, "when": "after"})
    result = _apply(faulty, client, {"foundational_model.fm"})
    assert result.failed == {}, result.failed
    entry = faulty["lock"].entry("foundational_model.fm")
    sessions = client.get("/compute/sessions-for-org")["sessions"]
    assert len(_tagged(sessions, "foundational_model.fm", entry.creation_token)) == 1  # the retry was folded


def test_endpoint_create_failing_after_commit_is_adopted_not_duplicated(
    faulty: dict[str, Any], client: FeatrixClient
) -> None:
    assert _apply(faulty, client, {"foundational_model.fm", "predictor.species"}).failed == {}
    _faults(client, {"route": "POST /endpoints$", "status": 500, "when": "after"})
    result = _apply(faulty, client, {"endpoint.api"})
    assert result.failed == {}, result.failed
    entry = faulty["lock"].entry("endpoint.api")
    pid = faulty["lock"].entry("predictor.species").ids["predictor_id"]
    found = [e for e in client.get("/endpoints")["endpoints"] if e.get("serving_predictor_id") == pid]
    assert [d["id"] for d in found] == [entry.ids["endpoint_id"]]
    assert entry.status == "ready" and "api_key" in entry.secrets  # the lost key was rotated on adoption


def test_endpoint_create_refused_before_commit_leaves_nothing(faulty: dict[str, Any], client: FeatrixClient) -> None:
    assert _apply(faulty, client, {"foundational_model.fm", "predictor.species"}).failed == {}
    _faults(client, {"route": "POST /endpoints$", "status": 400, "body": {"detail": "injected refusal"}})
    result = _apply(faulty, client, {"endpoint.api"})
    assert "injected refusal" in result.failed["endpoint.api"]
    assert faulty["lock"].entry("endpoint.api") is None
    _faults(client)
    assert _apply(faulty, client, {"endpoint.api"}).failed == {}


def test_predictor_create_lost_after_commit_is_adopted_not_duplicated(
    faulty: dict[str, Any], client: FeatrixClient
) -> None:
    """The orphan is found by target column, type and training start in the session's job_plan."""
    assert _apply(faulty, client, {"foundational_model.fm"}).failed == {}
    _faults(client, {"route": "POST .*/train_predictor$", "status": 500, "when": "after"})
    result = _apply(faulty, client, {"predictor.species"})
    assert result.failed == {}, result.failed
    sid = faulty["lock"].entry("foundational_model.fm").ids["session_id"]
    plan = [e for e in client.get(f"/compute/session/{sid}")["session"]["job_plan"] if e.get("predictor_id")]
    assert [e["predictor_id"] for e in plan] == [faulty["lock"].entry("predictor.species").ids["predictor_id"]]


def test_reads_ride_out_eventual_consistency(faulty: dict[str, Any], client: FeatrixClient) -> None:
    client.post("/__test__/consistency", {"first_get_404": True, "stale_list_seconds": 30})
    result = _apply(faulty, client)
    assert result.failed == {}, result.failed
    lock = faulty["lock"]
    for kind, h in HANDLERS.items():
        entries = {a: lock.entry(a) for a in lock.addresses(kind)}
        assert all(v is not None for v in h.read_all(client, entries).values()), kind


CASCADE = """
version: 1
project: cascade
server: {url: local}
foundational_models:
  fm: {data: data.csv, ignore_columns: [year], epochs: 2, published: true}
predictors:
  species: {foundational_model: fm, type: multi_classifier, target_column: species, epochs: 2, deletion_protection: true}
endpoints:
  api: {predictor: species}
"""


def test_replacing_the_fm_cascades_and_the_endpoint_keeps_id_url_and_key(tmp_path: Path, client: FeatrixClient) -> None:
    """New data: a new FM and predictor are created first, the endpoint moves by shadow → promote, then the
    old predictor is retired (unprotected) and the old, published FM deleted."""
    loaded = make_project(tmp_path / "p", CASCADE)
    store = StateStore(loaded.root, loaded.environment, lock_key=LOCK_KEY, project="cascade")
    lock = store.load()
    first = apply_plan(
        plan_of(loaded, lock, create_actions(loaded, store)), loaded=loaded, client=client, store=store, lockfile=lock
    )
    assert first.failed == {}, first.failed
    before = {a: lock.entry(a).model_copy(deep=True) for a in lock.addresses()}
    with open(loaded.root / "data.csv", "a") as fh:
        fh.write("Adelie,Dream,40.0,18.0,190,3700,male,2009\n")
    desired = desired_of(loaded, store)
    actions = []
    for address, kind, verb, fields in (
        ("foundational_model.fm", "foundational_model", ActionType.REPLACE, ["data"]),
        ("predictor.species", "predictor", ActionType.REPLACE, []),
        ("endpoint.api", "endpoint", ActionType.UPDATE, ["predictor"]),
    ):
        d = desired[address][1]
        actions.append(
            Action(
                address=address,
                kind=kind,
                action=verb,
                desired=d,
                prior_ids=before[address].ids,
                changes=[FieldChange(field=f) for f in fields],
                depends_on=refs_of(kind, d),
                # as the planner decides: the predictor (never deleted) is created first, so its model is too
                create_before_destroy=verb is ActionType.REPLACE,
            )
        )
    obs = RecordingObserver()
    result = apply_plan(
        plan_of(loaded, lock, actions), loaded=loaded, client=client, store=store, lockfile=lock, observer=obs
    )
    assert result.failed == {} and result.skipped == {}, (result.failed, result.skipped)
    old_sid, new_sid = (
        before["foundational_model.fm"].ids["session_id"],
        lock.entry("foundational_model.fm").ids["session_id"],
    )
    assert old_sid != new_sid
    assert HANDLERS["foundational_model"].read(client, before["foundational_model.fm"]) is None  # old FM deleted
    ep_before, ep_after = before["endpoint.api"], lock.entry("endpoint.api")
    assert ep_after.ids["endpoint_id"] == ep_before.ids["endpoint_id"]
    assert (
        ep_after.ids["predictor_id"]
        == lock.entry("predictor.species").ids["predictor_id"]
        != ep_before.ids["predictor_id"]
    )
    assert store.decrypt("endpoint.api", ep_after.secrets["api_key"]) == store.decrypt(
        "endpoint.api", ep_before.secrets["api_key"]
    )
    assert lock.entry("predictor.species").retired == []  # the replaced predictor went with the deleted old FM
    shadows = (client.get(f"/endpoints/{ep_after.ids['endpoint_id']}").get("plan") or {}).get("shadows") or []
    assert [s["neural_function_id"] for s in shadows] == []  # no shadow on a predictor of the deleted FM
    assert lock.entry("foundational_model.fm").retired == []  # the pending delete of the old FM is done
    for address in desired:
        assert read_fields(client, lock, address) == present(desired[address][1]), address
    order = [a for name, a, _ in obs.events if name == "done"]
    # an action is done when all its halves are: the old predictor is retired only after the endpoint moved,
    # and the old FM deleted last
    assert order == ["endpoint.api", "predictor.species", "foundational_model.fm"]


def test_converges_under_faults_without_duplicates(faulty: dict[str, Any], client: FeatrixClient) -> None:
    """Retryable refusals, lost answers after commit and a dropped upload: re-applying converges, 0 duplicates."""
    _faults(
        client,
        {"route": "POST /compute/upload_with_new_session", "drop_connection": True, "when": "after"},
        {"route": "GET /compute/session/", "status": 503, "count": 3},
        {"route": "POST .*/train_predictor$", "status": 409, "body": {"detail": "stalled-node-busy"}},
        {"route": "POST .*/train_predictor$", "status": 500, "when": "after"},
        {"route": "POST /endpoints$", "status": 500, "when": "after"},
        {"route": "POST /endpoints/.*/regenerate_key$", "status": 502},
    )
    results = [_apply(faulty, client) for _ in range(3)]
    assert all(f["hits"] >= 1 for f in client.get("/__test__/faults")["faults"])  # every fault did strike
    lock = faulty["lock"]
    assert results[-1].failed == {}, [r.failed for r in results]
    assert all(lock.entry(a).status == "ready" for a in lock.addresses())
    fm, ep = lock.entry("foundational_model.fm"), lock.entry("endpoint.api")
    assert (
        len(_tagged(client.get("/compute/sessions-for-org")["sessions"], "foundational_model.fm", fm.creation_token))
        == 1
    )
    serving = [
        e["id"] for e in client.get("/endpoints")["endpoints"] if e["serving_predictor_id"] == ep.ids["predictor_id"]
    ]
    assert serving == [ep.ids["endpoint_id"]]  # endpoints carry no tag: one per predictor it was made for
    plan = [e for e in client.get(f"/compute/session/{fm.ids['session_id']}")["job_plan"] if e.get("predictor_id")]
    assert [e["predictor_id"] for e in plan] == [lock.entry("predictor.species").ids["predictor_id"]]
    key = faulty["store"].decrypt("endpoint.api", ep.secrets["api_key"])
    record = {"island": "Biscoe", "bill_length_mm": 46.0}
    assert FeatrixClient(client.base_url, key).post(
        f"/endpoint/{ep.ids['endpoint_id']}/predict", {"query_record": record}
    )


def test_drift_outside_the_tool_is_read_and_converged(faulty: dict[str, Any], client: FeatrixClient) -> None:
    """A key revoked and a predictor protected through the API: read shows both, an update converges them."""
    assert _apply(faulty, client).failed == {}
    lock, store, loaded = faulty["lock"], faulty["store"], faulty["loaded"]
    ep, sp = lock.entry("endpoint.api"), lock.entry("predictor.species")
    client.post(f"/endpoints/{ep.ids['endpoint_id']}/revoke_key", {})
    client.post(
        f"/session/{sp.ids['session_id']}/predictor/{sp.ids['predictor_id']}/deletion_protection", {"protected": True}
    )
    desired = desired_of(loaded, store)
    actions = []
    for address in ("endpoint.api", "predictor.species"):
        kind, d = desired[address]
        live = read_fields(client, lock, address)
        drifted = [f for f in d if live.get(f) != d[f]]
        assert drifted == {"endpoint.api": ["api_key.revoked"], "predictor.species": ["deletion_protection"]}[address]
        actions.append(
            Action(
                address=address,
                kind=kind,
                action=ActionType.UPDATE,
                desired=d,
                prior_ids=lock.entry(address).ids,
                changes=[FieldChange(field=f, old=live[f], new=d[f]) for f in drifted],
                depends_on=refs_of(kind, d),
            )
        )
    result = apply_plan(plan_of(loaded, lock, actions), loaded=loaded, client=client, store=store, lockfile=lock)
    assert result.failed == {}, result.failed
    for address in ("endpoint.api", "predictor.species"):
        assert read_fields(client, lock, address) == present(desired[address][1])
    key = store.decrypt("endpoint.api", lock.entry("endpoint.api").secrets["api_key"])
    resp = FeatrixClient(client.base_url, key).post(
        f"/endpoint/{ep.ids['endpoint_id']}/predict", {"query_record": {"island": "Dream"}}
    )
    assert resp.get("prediction") or resp.get("predicted_class")


class _InterruptOnWait(RecordingObserver):
    """Sets the interrupt (as the CLI does on the first Ctrl-C) when a training wait starts."""

    def __init__(self, interrupt: Interrupt, address: str) -> None:
        super().__init__()
        self.interrupt, self.address = interrupt, address

    def on_progress(self, address: str, message: str, fraction: float | None) -> None:
        super().on_progress(address, message, fraction)
        if address == self.address:
            self.interrupt.set()


def test_interrupt_during_training_then_reapply_reattaches(tmp_path: Path, client: FeatrixClient) -> None:
    loaded = make_project(
        tmp_path / "p", BASE.replace("target_column: species, epochs: 2", "target_column: species, epochs: 300")
    )
    store = StateStore(loaded.root, loaded.environment, lock_key=LOCK_KEY, project="faults")
    lock = store.load()
    stop = Interrupt()
    actions = create_actions(loaded, store)
    first = apply_plan(
        plan_of(loaded, lock, actions),
        loaded=loaded,
        client=client,
        store=store,
        lockfile=lock,
        interrupt=stop,
        observer=_InterruptOnWait(stop, "predictor.species"),
    )
    assert "interrupted while waiting for training" in first.skipped["predictor.species"]
    assert first.skipped["endpoint.api"].startswith("interrupted")
    entry = lock.entry("predictor.species")
    assert entry.status == "creating" and entry.ids["predictor_id"]  # the job id is recorded
    second = apply_plan(
        plan_of(loaded, lock, [a for a in actions if a.address != "foundational_model.fm"]),
        loaded=loaded,
        client=client,
        store=store,
        lockfile=lock,
        training_timeout=120,
    )
    assert second.failed == {} and second.skipped == {}, (second.failed, second.skipped)
    assert lock.entry("predictor.species").ids["predictor_id"] == entry.ids["predictor_id"]
    sid = lock.entry("foundational_model.fm").ids["session_id"]
    plan = [e for e in client.get(f"/compute/session/{sid}")["job_plan"] if e.get("predictor_id")]
    assert len(plan) == 1  # re-attached, not trained again


def test_a_training_that_fails_marks_the_entry_tainted(tmp_path: Path, client: FeatrixClient) -> None:
    manifest = BASE.replace(
        "target_column: species, epochs: 2}",
        "target_column: species, epochs: 2}\n  bad: {foundational_model: fm, type: binary_classifier, "
        "target_column: sex, rare_label_value: female, epochs: 2}",
    )
    loaded = make_project(tmp_path / "p", manifest)
    # a label the data checks could not see (beyond their sample of a large file): only the server finds out
    project = loaded.project
    bad = project.predictors["bad"].model_copy(update={"rare_label_value": "unicorn"})
    loaded = dataclasses.replace(
        loaded, project=project.model_copy(update={"predictors": {**project.predictors, "bad": bad}})
    )
    store = StateStore(loaded.root, loaded.environment, lock_key=LOCK_KEY, project="faults")
    lock = store.load()
    result = apply_plan(
        plan_of(loaded, lock, create_actions(loaded, store)), loaded=loaded, client=client, store=store, lockfile=lock
    )
    message = result.failed["predictor.bad"]
    assert message.startswith("training failed") and "unicorn" in message and "tainted" in message
    assert lock.entry("predictor.bad").status == "tainted" and lock.entry("predictor.bad").ids["predictor_id"]
    assert sorted(result.done) == ["endpoint.api", "foundational_model.fm", "predictor.species"]  # contained
