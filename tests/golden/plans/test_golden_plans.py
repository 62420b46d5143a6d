"""Golden planner tests: each folder is manifest + lockfile.json + live.json → expected.txt (the rendered plan).

They run the pure planner with the real handlers' desired() and field rules; no server. Data files are
fingerprinted by name ("sha256:<file name>") so a case changes its data by naming another file.

    UPDATE_GOLDEN=1 pytest tests/golden/plans        # rewrite expected.txt after an intended change
    python tests/golden/plans/test_golden_plans.py gen CASE   # lockfile.json from CASE/applied.yaml
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from featrix_iac.config import LoadedProject, load_project
from featrix_iac.diagnostics import DiagnosticsError
from featrix_iac.graph import build_graph
from featrix_iac.plan.planner import make_plan
from featrix_iac.plan.render import render_text
from featrix_iac.resources.base import DesiredContext, LiveObject
from featrix_iac.resources.desired import Desired, desired_state
from featrix_iac.resources.registry import handler_for
from featrix_iac.state import LockEntry, Lockfile

HERE = Path(__file__).resolve().parent
CASES = sorted(p.name for p in HERE.iterdir() if (p / "expected.txt").is_file() or (p / "featrix.yaml").is_file())
UPDATE = os.environ.get("UPDATE_GOLDEN", "") not in ("", "0")
LINEAGE = "00000000-0000-4000-8000-000000000000"
PLAN_ID = re.compile(r"\bplan-[0-9a-f]{16}\b")


def fake_fingerprint(path: Path) -> str:
    return f"sha256:{path.name}"


def desired_of(root: Path) -> tuple[LoadedProject, dict[str, Desired]]:
    loaded = load_project(root)
    project = loaded.project
    ctx = DesiredContext(project.project, loaded.environment, loaded.root, fake_fingerprint)
    return loaded, desired_state(project, ctx)


def _ids(address: str, desired: dict[str, Any]) -> dict[str, str]:
    kind, key = address.split(".", 1)
    if kind == "foundational_model":
        return {"session_id": f"sess-{key}"}
    if kind == "predictor":
        return {"session_id": f"sess-{desired['foundational_model']}", "predictor_id": f"pred-{key}"}
    if kind == "endpoint":
        return {"endpoint_id": f"ep-{key}", "predictor_id": f"pred-{desired['predictor']}"}
    return {"session_id": f"sess-{desired['foundational_model']}", "name": desired["name"]}


def lockfile_from(manifest: Path) -> Lockfile:
    """The lockfile an apply of `manifest` would leave (every entry ready, synthetic ids)."""
    tmp = HERE / "_tmp"
    tmp.mkdir(exist_ok=True)
    try:
        shutil.copy(manifest, tmp / "featrix.yaml")
        loaded, desired = desired_of(tmp)
        graph = build_graph(loaded.project)
    finally:
        shutil.rmtree(tmp)
    lock = Lockfile(lineage=LINEAGE, serial=3, project=loaded.project.project, environment="default")
    for address, declared in desired.items():
        d = declared.fields
        applied, hashes = handler_for(address.split(".")[0]).split_applied(d)
        lock.resources[address] = LockEntry(
            kind=address.split(".")[0],
            status="ready",
            ids=_ids(address, d),
            creation_token=f"tok-{address}",
            applied=applied,
            hashes=hashes,
            depends_on=sorted(graph.dependencies(address)),
            protected=bool(d.get("deletion_protection") or declared.resource.lifecycle.prevent_destroy),
        )
    return lock


def live_of(case: Path, lock: Lockfile) -> dict[str, LiveObject | None]:
    """Every ready entry reads back as applied, except what live.json says (null = confirmed gone)."""
    given = json.loads((case / "live.json").read_text()) if (case / "live.json").exists() else {}
    out: dict[str, LiveObject | None] = {}
    for address, entry in lock.resources.items():
        if entry.status in ("creating", "retired") or not entry.ids:
            continue
        handler = handler_for(entry.kind)
        spec = given.get(address, {})
        if spec is None:
            out[address] = None
            continue
        fields = handler.merge_live(entry, spec.get("fields", {}))
        out[address] = LiveObject(ids=dict(entry.ids), fields=fields, status=spec.get("status", "ready"))
    return out


def render_case(case: Path) -> str:
    args = json.loads((case / "args.json").read_text()) if (case / "args.json").exists() else {}
    found = args.pop("found", {})
    loaded, desired = desired_of(case)
    lock = Lockfile.model_validate(json.loads((case / "lockfile.json").read_text()))
    try:
        plan = make_plan(
            desired,
            lock,
            live_of(case, lock),
            build_graph(loaded.project),
            server_url="http://127.0.0.1:8000",
            found=found,
            source_of=lambda address, path: _source(loaded, address, path),
            **args,
        )
    except DiagnosticsError as exc:
        return "REFUSED\n\n" + "\n\n".join(_diag(d) for d in exc.diagnostics.sorted()) + "\n"
    # the plan's id hashes all of the plan (tool version included): shown as a placeholder, so that a change to
    # the plan's form does not rewrite every case
    return PLAN_ID.sub("<plan-id>", render_text(plan)) + _trailer(plan)


def _source(loaded: LoadedProject, address: str, path: tuple[str, ...]) -> Any:
    from featrix_iac.addresses import SECTION_OF_KIND

    kind, key = address.split(".", 1)
    return loaded.source(SECTION_OF_KIND[kind], key, *path)


def _diag(d: Any) -> str:
    lines = [f"Error: {d.summary}"]
    if d.address:
        lines.append(f"  at {d.address}")
    if d.source:
        lines.append(f"  in {d.source}")
    lines.extend(f"  {line}" for line in d.detail.splitlines())
    return "\n".join(lines)


def _trailer(plan: Any) -> str:
    """What the applier relies on beyond the text: ordering, create_before_destroy, each phase's steps."""
    lines = []
    for a in plan.actions:
        extra = []
        if a.depends_on:
            extra.append("needs " + ", ".join(a.depends_on))
        if a.create_before_destroy:
            extra.append("create_before_destroy")
        if a.delete_replaced:
            extra.append("delete_replaced")
        if a.prior_ids and a.action.value in ("adopt", "replace", "delete", "retire"):
            extra.append("ids " + ", ".join(f"{k}={v}" for k, v in sorted(a.prior_ids.items())))
        lines.append(f"{a.action.value:>7} {a.address}" + (f" ({'; '.join(extra)})" if extra else ""))
        for phase in a.phases():
            calls = [s.call + (f"({s.target})" if s.target else "") for s in a.steps if s.phase is phase]
            lines.append(f"          {phase.value}: {' → '.join(calls)}")
    return "\n--- actions ---\n" + "\n".join(lines) + "\n"


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("name", CASES)
def test_plan_golden(name: str) -> None:
    case = HERE / name
    got = render_case(case)
    expected = case / "expected.txt"
    if UPDATE:
        expected.write_text(got, encoding="utf-8")
    if not expected.exists():
        expected.write_text(got, encoding="utf-8")
        pytest.fail(f"{name}: no expected.txt yet; wrote one, review it")
    assert got == expected.read_text(encoding="utf-8")


def _gen(case: Path) -> None:
    applied = case / "applied.yaml"
    lock = lockfile_from(applied) if applied.exists() else Lockfile(lineage=LINEAGE, project="golden")
    patch_file = case / "lockfile.patch.json"
    patch = json.loads(patch_file.read_text()) if patch_file.exists() else {}
    for address, change in patch.items():
        if change is None:
            lock.resources.pop(address, None)
        elif address in lock.resources:
            lock.resources[address] = lock.resources[address].model_copy(update=change)
        else:
            lock.resources[address] = LockEntry.model_validate(change)
    from featrix_iac.state import dumps

    (case / "lockfile.json").write_text(dumps(lock), encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover - authoring helper
    if len(sys.argv) >= 3 and sys.argv[1] == "gen":
        for name in sys.argv[2:]:
            _gen(HERE / name)
    else:
        print(__doc__)
