"""One spec per kind: a toy kind registered by this test alone is loaded, planned and applied; kind names stay
out of the engine (counted)."""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field

from featrix_iac.client import NotFoundError
from featrix_iac.kinds import FACTS, KindFacts
from featrix_iac.model.resources import Resource
from featrix_iac.resources import registry
from featrix_iac.resources.base import (
    Change,
    FieldRule,
    Handler,
    Lister,
    LiveObject,
    Operation,
    Probe,
    StepResult,
    get_confirmed,
    has_list,
    one_of,
    tag_matches,
)
from featrix_iac.resources.spec import KindSpec, RefIds
from featrix_iac.state import LockEntry

PKG = Path(__file__).resolve().parents[2] / "featrix_iac"

# --- the toy kind: its model and its resources module, nothing else ---------------------------------------


class Widget(Resource):
    """A toy resource: a label (replaced when it changes), a colour (changed in place), a gadget it names."""

    label: str = Field(description="Replaced when it changes.")
    color: str = Field("red", description="Changed in place.")
    gadget: str | None = Field(None, description="Key of a gadget (another toy kind) it refers to.")


class Gadget(Resource):
    """A second toy kind, which widgets refer to by key."""

    size: int = Field(1, description="Replaced when it changes.")


class ToyHandler(Handler):
    """One API call per step against the fake server below; ids name the object and what it refers to."""

    def __init__(self, kind: str, rules: tuple[FieldRule, ...], refers_to: str = "") -> None:
        self.kind = kind  # type: ignore[misc]
        self.rules = rules  # type: ignore[misc]
        self.id_field = f"{kind}_id"  # type: ignore[misc]
        self.refers_to = refers_to  # the reference field (named like the kind it names)

    def desired(self, key: str, resource: Any, ctx: Any) -> dict[str, Any]:
        return {r.name: getattr(resource, r.name) for r in self.rules}

    def read(self, client: Any, entry: LockEntry) -> LiveObject | None:
        doc = get_confirmed(client, f"/toys/{entry.ids[self.id_field]}", delays=())
        if doc is None:
            return None
        return LiveObject(ids=dict(entry.ids), fields=self.merge_live(entry, doc["fields"]))

    def find_in(self, get: Lister, probe: Probe) -> dict[str, str] | None:
        """Its identity: the creation tag, among the objects GET /toys lists."""
        listed = get("/toys", has_list("toys"))["toys"]
        matches = [
            (d["id"], {self.id_field: d["id"], **probe.refs}) for d in listed if tag_matches(d["tag"], probe.tag)
        ]
        return one_of(probe, self.kind, matches)

    def create(self, client: Any, op: Operation) -> StepResult:
        refs = op.ref_ids(f"{self.refers_to}.{op.desired[self.refers_to]}") if self.refers_to else {}
        answer = client.post("/toys", {"kind": self.kind, "fields": dict(op.desired), "tag": op.tag})
        return StepResult(ids={self.id_field: answer["id"], **refs}, outputs={"id": answer["id"]})

    def update_steps(self, fields: list[str], desired: dict[str, Any], applied: dict[str, Any]) -> list[str]:
        return ["paint"] if "color" in fields else []

    def update(self, client: Any, op: Operation, step: str) -> StepResult:
        client.post(f"/toys/{op.ids[self.id_field]}/paint", {"color": op.desired["color"]})
        return StepResult()

    def delete(self, client: Any, op: Operation, step: str) -> None:
        client.delete(f"/toys/{op.ids[self.id_field]}")


def _gadget_ids(object_id: str, ref: RefIds) -> dict[str, str]:
    return {"gadget_id": object_id}


def _widget_ids(object_id: str, ref: RefIds) -> dict[str, str]:
    return {"widget_id": object_id, **ref("gadget")[1]}


GADGET = KindSpec(
    facts=KindFacts("gadget", "gadgets", Gadget),
    handler=ToyHandler("gadget", (FieldRule("size", Change.REPLACE),)),
    identity=("gadget_id",),
    import_ids=_gadget_ids,
    reference_id="gadget_id",
)
WIDGET = KindSpec(
    facts=KindFacts("widget", "widgets", Widget, (("gadget", "gadget"),)),
    handler=ToyHandler(
        "widget",
        (
            FieldRule("label", Change.REPLACE),
            FieldRule("color", Change.IN_PLACE, route="paint"),
            FieldRule("gadget", Change.REPLACE),
        ),
        refers_to="gadget",
    ),
    identity=("widget_id",),
    import_ids=_widget_ids,
)


class ToyServer:
    """An in-process fake of the server for the toy kinds (the client interface the handlers use)."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []
        self.request_count = 0
        self._ids = itertools.count(1)

    def get(self, path: str, **kwargs: Any) -> Any:
        self.request_count += 1
        self.calls.append(f"GET {path}")
        if path == "/auth/whoami":
            return {"user": "toy"}
        if path == "/toys":
            return {"toys": list(self.objects.values())}
        doc = self.objects.get(path.rsplit("/", 1)[1])
        if doc is None:
            raise NotFoundError(f"GET {path}: HTTP 404", status=404)
        return doc

    def post(self, path: str, body: dict[str, Any], **kwargs: Any) -> Any:
        self.request_count += 1
        self.calls.append(f"POST {path}")
        if path == "/toys":
            toy_id = f"toy-{next(self._ids)}"
            self.objects[toy_id] = {
                "id": toy_id,
                "kind": body["kind"],
                "fields": dict(body["fields"]),
                "tag": body["tag"],
            }
            return {"id": toy_id}
        self.objects[path.split("/")[2]]["fields"]["color"] = body["color"]
        return {}

    def delete(self, path: str, **kwargs: Any) -> Any:
        self.request_count += 1
        self.calls.append(f"DELETE {path}")
        del self.objects[path.rsplit("/", 1)[1]]
        return {}


@pytest.fixture
def toy_kinds() -> Iterator[None]:
    registry.register(GADGET)
    registry.register(WIDGET)
    try:
        yield
    finally:
        registry.unregister("widget")
        registry.unregister("gadget")


MANIFEST = """\
version: 1
project: toys
server: {{url: "https://toys.example.com"}}
gadgets:
  g: {{size: {size}}}
widgets:
  w:
    label: first
    color: {color}
    gadget: g
"""


def _write(root: Path, size: int = 1, color: str = "red") -> None:
    (root / "featrix.yaml").write_text(MANIFEST.format(size=size, color=color), encoding="utf-8")


def _plan_and_apply(root: Path, server: ToyServer) -> tuple[Any, Any]:
    from featrix_iac.apply import apply_plan
    from featrix_iac.operations.planning import make_plan_with
    from featrix_iac.operations.session import open_session

    session = open_session(root)
    lock = session.store.load()
    planned = make_plan_with(session, server, "https://toys.example.com", lock)  # type: ignore[arg-type]
    result = apply_plan(planned.plan, loaded=session.loaded, client=server, store=session.store, lockfile=lock)  # type: ignore[arg-type]
    return planned.plan, result


def _summary(plan: Any) -> dict[str, str]:
    return {a.address: a.action.value for a in plan.actions}


def test_a_toy_kind_registered_by_its_own_modules_is_loaded_planned_and_applied(
    toy_kinds: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEATRIX_LOCK_KEY", "00" * 32)
    server = ToyServer()
    _write(tmp_path)
    plan, result = _plan_and_apply(tmp_path, server)
    assert _summary(plan) == {"gadget.g": "create", "widget.w": "create"}
    assert not result.failed and sorted(result.done) == ["gadget.g", "widget.w"]
    assert server.calls.index("POST /toys") < len(server.calls) - 1  # the gadget first: the widget refers to it
    gadget_id = next(i for i, o in server.objects.items() if o["kind"] == "gadget")
    assert [o["kind"] for o in server.objects.values()] == ["gadget", "widget"]

    plan, _ = _plan_and_apply(tmp_path, server)  # converged: apply then plan is empty
    assert set(_summary(plan).values()) <= {"no-op"}

    _write(tmp_path, color="blue")  # in place, by the kind's route
    plan, _ = _plan_and_apply(tmp_path, server)
    assert _summary(plan)["widget.w"] == "update"
    assert [o["fields"]["color"] for o in server.objects.values() if o["kind"] == "widget"] == ["blue"]

    _write(tmp_path, size=2, color="blue")  # a new gadget: the widget that refers to it follows (cascade)
    plan, result = _plan_and_apply(tmp_path, server)
    assert _summary(plan) == {"gadget.g": "replace", "widget.w": "replace"}
    assert not result.failed and gadget_id not in server.objects and len(server.objects) == 2


def test_a_toy_kind_needs_no_edit_elsewhere(toy_kinds: None) -> None:
    from featrix_iac.addresses import Address
    from featrix_iac.graph import reference_fields

    assert Address.parse("widget.w") == Address("widget", "w")
    assert reference_fields("widget") == (("gadget", "gadget"),)
    assert FACTS["widget"].section == "widgets"


def test_a_toy_kind_has_its_section_in_the_manifest_schema(toy_kinds: None) -> None:
    from featrix_iac.config.schema import build_include_schema, build_schema

    schema = build_schema()
    assert {"gadgets", "widgets", "predictors"} <= set(schema["properties"])
    assert "widgets" in schema["$defs"]["Environment"]["properties"]
    assert set(build_include_schema()["properties"]) >= {"gadgets", "widgets"}


def test_unregistering_a_kind_forgets_it(toy_kinds: None) -> None:
    registry.unregister("widget")
    with pytest.raises(ValueError):
        from featrix_iac.addresses import Address

        Address.parse("widget.w")
    registry.register(WIDGET)


# --- kind names stay in resources/, model/ and server/ -----------------------------------------------------

# the places outside resources/, model/ and server/ allowed to name a kind (a handful: what only one kind has)
ALLOWED = 5


def _docstrings(tree: ast.AST) -> set[int]:
    out: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            if isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def kind_literals() -> list[str]:
    """Every string literal (f-string parts included, docstrings not) that is a kind or section name, or an
    address of a kind (`predictor.`), in the package outside resources/, model/ and server/."""
    names = {n for f in FACTS.values() for n in (f.name, f.section)}
    found: list[str] = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG)
        if rel.parts[0] in ("resources", "model", "server"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                if node.value in names or any(node.value.startswith(f"{n}.") for n in names):
                    found.append(f"{rel}:{node.lineno}: {node.value!r}")
    return sorted(found)


def test_kind_names_stay_out_of_the_engine() -> None:
    found = kind_literals()
    assert len(found) <= ALLOWED, "kind names outside resources/, model/, server/:\n" + "\n".join(found)
