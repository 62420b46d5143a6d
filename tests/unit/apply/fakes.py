"""Fake handlers for unit tests of the applier's executor (not acceptance tests: no server involved)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from featrix_iac.client import FeatrixClient
from featrix_iac.plan.model import Action, ActionType, Plan
from featrix_iac.resources.base import (
    Change,
    FieldRule,
    Handler,
    Operation,
    Probe,
    Progress,
    StepResult,
)
from featrix_iac.state import LockEntry, Lockfile, StateStore

KEY = bytes(range(32))


class Log:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def add(self, what: str, address: str) -> None:
        with self._lock:
            self.calls.append((what, address))

    def index(self, what: str, address: str) -> int:
        return self.calls.index((what, address))


class FakeHandler(Handler):
    """Records calls; behaviour per address is set with the `on_*` dicts (a callable run inside the call)."""

    rules = (
        FieldRule("size", Change.REPLACE),
        FieldRule("deletion_protection", Change.IN_PLACE, route="protect"),
        FieldRule("secret", Change.IN_PLACE, write_only=True, sensitive=True, route="protect"),
    )

    def __init__(
        self, kind: str, log: Log, *, trains: bool = False, deletable: bool = True, owns_recorded: bool = False
    ) -> None:
        self.kind = kind  # type: ignore[misc]
        self.owns_recorded = owns_recorded  # type: ignore[misc]
        if owns_recorded:
            self.id_field = "session_id"  # type: ignore[misc]
        self.trains = trains  # type: ignore[misc]
        self.deletable = deletable  # type: ignore[misc]
        self.log = log
        self.on_create: dict[str, Callable[[Operation], Any]] = {}
        self.on_poll: dict[str, Callable[[], Progress]] = {}
        self.found: dict[str, Any] = {}
        self.store_path: Path | None = None
        self.seen_on_disk: dict[str, Any] = {}

    def create(self, client: FeatrixClient, op: Operation) -> StepResult:
        self.log.add("create", op.address)
        if self.store_path is not None:
            self.seen_on_disk[op.address] = json.loads(self.store_path.read_text())["resources"].get(op.address)
        hook = self.on_create.get(op.address)
        if hook is not None:
            out = hook(op)
            if isinstance(out, StepResult):
                return out
        return StepResult(
            ids={"id": f"id-{op.address}"}, secrets={"api_key": "fx_secret_" + op.key}, outputs={"url": "u"}
        )

    def poll(self, client: FeatrixClient, ids: dict[str, str]) -> Progress:
        self.log.add("poll", ids.get("id", ""))
        hook = self.on_poll.get(ids.get("id", ""))
        return hook() if hook is not None else Progress("ready", 1.0, "done")

    def find_existing(self, client: FeatrixClient, probe: Probe) -> Any:
        address = probe.address
        self.log.add("find", address)
        value = self.found.get(address)
        if isinstance(value, BaseException):
            raise value
        return value

    def followups(self, desired: dict[str, Any]) -> list[str]:
        return ["protect"] if desired.get("deletion_protection") else []

    def update_steps(self, fields: list[str], desired: dict[str, Any], applied: dict[str, Any]) -> list[str]:
        return ["protect"] if "deletion_protection" in fields or "secret" in fields else []

    def update(self, client: FeatrixClient, op: Operation, step: str) -> StepResult:
        self.log.add(step, op.address)
        return StepResult()

    def delete_steps(self, entry: LockEntry) -> list[str]:
        return (["unprotect"] if entry.protected else []) + (["delete"] if self.deletable else [])

    def delete(self, client: FeatrixClient, op: Operation, step: str) -> None:
        self.log.add(step, op.address)
        self.log.add(f"{step}-id", op.ids.get("id", ""))


def handlers(log: Log, **kw: Any) -> dict[str, FakeHandler]:
    return {
        "foundational_model": FakeHandler("foundational_model", log, trains=True, owns_recorded=True),
        "predictor": FakeHandler("predictor", log, trains=True, deletable=False),
        "endpoint": FakeHandler("endpoint", log),
        "vector_database": FakeHandler("vector_database", log),
    }


def action(address: str, kind_action: ActionType = ActionType.CREATE, deps: tuple[str, ...] = (), **kw: Any) -> Action:
    kind = address.split(".", 1)[0]
    # as the planner decides: a predictor (which the API cannot delete) is created before its old one is retired
    kw.setdefault("create_before_destroy", kind_action is ActionType.REPLACE and kind == "predictor")
    return Action(
        address=address,
        kind=kind,
        action=kind_action,
        desired=kw.pop("desired", {"size": 1}),
        depends_on=list(deps),
        **kw,
    )


def plan(*actions: Action) -> Plan:
    return Plan(
        tool_version="t",
        project="p",
        environment="default",
        server_url="local",
        lineage="l",
        serial=0,
        actions=list(actions),
    )


def store_and_lock(root: Path) -> tuple[StateStore, Lockfile]:
    store = StateStore(root, "default", lock_key=KEY, project="p")
    return store, store.load()
