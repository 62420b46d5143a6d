"""Handlers' pure logic: desired normal forms, field rules, step selection, tags, confirmed reads, waits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from featrix_iac.client import NotFoundError, ServerError
from featrix_iac.model.resources import Endpoint, FoundationalModel, Predictor, VectorDatabase
from featrix_iac.resources import retirement, webhooks
from featrix_iac.resources.base import (
    Change,
    DesiredContext,
    Progress,
    TrainingFailed,
    WaitTimeout,
    get_confirmed,
    make_tag,
    tag_matches,
    tag_of,
)
from featrix_iac.resources.common import job_progress, record_digest
from featrix_iac.resources.registry import HANDLERS, handler_for
from featrix_iac.state import LockEntry

CTX = DesiredContext("proj", "default", Path("/root"), lambda p: f"sha256:{p.name}")
FM_H, P_H, EP_H, VDB_H = (HANDLERS[k] for k in ("foundational_model", "predictor", "endpoint", "vector_database"))


def fm(**kw: Any) -> FoundationalModel:
    return FoundationalModel(data="data/t.csv", **kw)


def pred(**kw: Any) -> Predictor:
    return Predictor(**{"foundational_model": "fm", "type": "multi_classifier", "target_column": "y", **kw})


SAMPLES = {
    "foundational_model": fm(),
    "predictor": pred(),
    "endpoint": Endpoint(predictor="p"),
    "vector_database": VectorDatabase(foundational_model="fm"),
}


@pytest.mark.parametrize("kind", sorted(HANDLERS))
def test_desired_has_exactly_the_rule_fields(kind: str) -> None:
    h = handler_for(kind)
    desired = h.desired("k", SAMPLES[kind], CTX)
    optional = {retirement.FIELD, "shadow_gates"}  # the retire policy and shadow gates only when declared
    assert set(desired) == {r.name for r in h.rules} - optional
    assert len({r.name for r in h.rules}) == len(h.rules)
    for r in h.rules:
        assert not (r.change is Change.IN_PLACE and not r.route), f"{kind}.{r.name}: in-place field without route"


def test_foundational_model_desired_defaults_and_normal_forms() -> None:
    d = FM_H.desired(
        "penguins",
        fm(
            ignore_columns=["b", "a", "a"],
            published={"name": "pub"},
            deprecation={"warning_message": "old", "expiration_date": "2030-01-02"},
        ),
        CTX,
    )
    assert d["data"] == "sha256:t.csv" and d["name"] == "penguins" and d["session_name_prefix"] == "penguins"
    assert d["ignore_columns"] == ["a", "b"]
    assert d["published"] is True and d["published_name"] == "pub"
    assert d["deprecation"] == {
        "warning_message": "old",
        "expiration_date": "2030-01-02T00:00:00Z",
    }  # as the client sends it
    url = FM_H.desired("x", FoundationalModel(data="https://example.com/t.csv"), CTX)
    assert url["data"] == "url:https://example.com/t.csv"
    assert FM_H.desired("x", fm(published=True), CTX)["published_name"] == "x"


def test_foundational_model_steps() -> None:
    d = FM_H.desired("x", fm(published=True), CTX)
    # publish turns protection on: a model that must stay unprotected gets it switched off again
    assert FM_H.followups(d) == ["publish", "deletion_protection"]
    assert FM_H.followups(FM_H.desired("x", fm(), CTX)) == []
    applied = {"published": True, "published_name": "x", "deletion_protection": True}
    renamed = {**applied, "published_name": "y"}
    assert FM_H.update_steps(["published_name"], renamed, applied) == ["unpublish", "publish"]
    off = {"published": False, "published_name": None, "deletion_protection": True}
    assert FM_H.update_steps(["published", "published_name"], off, applied) == ["unpublish"]
    assert FM_H.step_fields("unpublish") == ["published", "published_name"]
    entry = LockEntry(kind="foundational_model", status="ready", ids={"session_id": "s"}, protected=True)
    assert FM_H.delete_steps(entry) == ["unprotect", "mark_for_deletion"]
    assert FM_H.delete_steps(entry.model_copy(update={"protected": False})) == ["mark_for_deletion"]


def test_predictor_webhooks_are_a_field_group_with_a_hashed_secret() -> None:
    hooks = {"training_finished": "https://h/f", "webhook_secret": "s3cret"}
    d = P_H.desired("sp", pred(webhooks=hooks), CTX)
    assert d["webhooks"] == {"training_finished": "https://h/f"}
    assert d["webhook_secret"].startswith("sha256:") and "s3cret" not in str(d)
    assert P_H.rule("webhook_secret").write_only and P_H.rule("webhook_secret").sensitive
    assert webhooks.address_of("sp") == "webhooks.sp"
    applied = {
        "webhooks": {"training_finished": "https://h/f", "alert_drift": "https://h/d"},
        "webhook_secret": d["webhook_secret"],
    }
    assert P_H.update_steps(["webhooks"], d, applied) == ["disable_webhook:alert_drift"]
    changed = {**d, "webhooks": {"training_finished": "https://h/other"}}
    assert P_H.update_steps(["webhooks"], changed, applied) == ["disable_webhook:alert_drift", "configure_webhooks"]
    rotated = {**d, "webhook_secret": "sha256:new"}
    assert P_H.update_steps(["webhook_secret"], rotated, d) == ["configure_webhooks"]
    assert P_H.step_fields("disable_webhook:alert_drift") == ["webhooks", "webhook_secret"]


def test_predictor_in_place_steps_and_retire() -> None:
    d = P_H.desired("sp", pred(value_meaning={"a": "A"}, deletion_protection=True), CTX)
    assert P_H.followups(d) == ["value_meaning", "deletion_protection"]
    assert P_H.update_steps(["value_meaning"], {"value_meaning": {}}, {"value_meaning": {"a": "A", "b/c": "B"}}) == [
        "value_meaning_clear:a",
        "value_meaning_clear:b/c",
    ]
    assert not P_H.deletable
    entry = LockEntry(kind="predictor", status="ready", protected=True)
    assert P_H.delete_steps(entry) == ["unprotect"]
    assert P_H.delete_steps(entry.model_copy(update={"protected": False})) == []


def test_endpoint_steps() -> None:
    d = EP_H.desired("api", Endpoint(predictor="p2"), CTX)
    assert d == {"predictor": "p2", "name": "api", "description": None, "api_key.rotation": 0, "api_key.revoked": False}
    applied = {**d, "predictor": "p1"}
    assert EP_H.update_steps(["predictor"], d, applied) == ["shadow", "promote", "stop_shadowing"]
    assert EP_H.update_steps(["api_key.rotation"], {**d, "api_key.rotation": 1}, d) == ["regenerate_key"]
    revoked = {**d, "api_key.revoked": True}
    assert EP_H.update_steps(["api_key.revoked"], revoked, d) == ["revoke_key"]
    assert EP_H.update_steps(["api_key.revoked"], d, revoked) == ["regenerate_key"]
    assert EP_H.followups(revoked) == ["revoke_key"]
    assert EP_H.rule("name").change is Change.REPLACE and EP_H.rule("description").change is Change.REPLACE


def test_vector_database_records_are_append_only_digests() -> None:
    recs = [{"a": 1}, {"a": 2}]
    d = VDB_H.desired("v", VectorDatabase(foundational_model="fm", records=recs), CTX)
    assert d["records"] == [record_digest({"a": 1}), record_digest({"a": 2})]
    assert record_digest({"a": 1, "b": 2}) == record_digest({"b": 2, "a": 1})
    assert VDB_H.rule("records").append_only
    big = {"records": ["x"] * 1200}
    assert VDB_H.update_steps(["records"], big, {"records": ["x"] * 100}) == [
        "add_records:100",
        "add_records:600",
        "add_records:1100",
    ]


def test_tags() -> None:
    tag = make_tag("p", "dev", "endpoint.api", "tok")
    assert tag_matches({"featrix_iac": tag["featrix_iac"], "other": 1}, tag)
    assert tag_matches(
        '{"featrix_iac": {"project": "p", "environment": "dev", "address": "endpoint.api", "token": "tok"}}', tag
    )
    assert not tag_matches({"featrix_iac": {**tag["featrix_iac"], "environment": "prod"}}, tag)
    assert not tag_matches({}, tag) and tag_of("not json") == {}


class FakeClient:
    """Answers GETs from a script: each item is a dict to return or an exception to raise."""

    def __init__(self, script: list[Any]) -> None:
        self.script, self.calls = list(script), 0

    def get(self, path: str, **kw: Any) -> Any:
        self.calls += 1
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item


def test_a_404_counts_only_when_confirmed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("featrix_iac.resources.base.time.sleep", lambda s: None)
    nf = NotFoundError("gone", status=404)
    assert get_confirmed(FakeClient([nf, {"ok": 1}]), "/x") == {"ok": 1}  # type: ignore[arg-type]
    c = FakeClient([nf, nf, nf, nf])
    assert get_confirmed(c, "/x") is None and c.calls == 4  # type: ignore[arg-type]
    with pytest.raises(ServerError):
        get_confirmed(FakeClient([nf, ServerError("boom", status=503)]), "/x")  # type: ignore[arg-type]


class ScriptedHandler(type(FM_H)):  # type: ignore[misc]
    def __init__(self, polls: list[Any]) -> None:
        self.polls = polls

    def poll(self, client: Any, ids: dict[str, str]) -> Progress:
        item = self.polls.pop(0) if len(self.polls) > 1 else self.polls[0]
        if isinstance(item, BaseException):
            raise item
        return item


def test_wait_ready_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("featrix_iac.resources.base.time.sleep", lambda s: None)
    failed = Progress("failed", None, "diverged")
    seen: list[Progress] = []
    h = ScriptedHandler(
        [Progress("training", 0.5, "e1"), failed, Progress("training", 0.6, "e2"), Progress("ready", 1.0)]
    )
    assert h.wait_ready(None, {}, timeout=60, on_progress=seen.append).state == "ready"  # one failed read is not enough
    assert [p.message for p in seen] == ["e1", "diverged", "e2"]
    with pytest.raises(TrainingFailed, match="diverged"):
        ScriptedHandler([failed]).wait_ready(None, {}, timeout=60)
    monkeypatch.setattr("featrix_iac.resources.base.GONE_SECONDS", 0.0)
    with pytest.raises(TrainingFailed, match="disappeared"):
        ScriptedHandler([NotFoundError("x", status=404)]).wait_ready(None, {}, timeout=60)
    nf_then_ready = ScriptedHandler([NotFoundError("x", status=404)] * 4 + [Progress("ready")])
    assert nf_then_ready.wait_ready(None, {}, timeout=60).state == "ready"
    with pytest.raises(WaitTimeout):
        ScriptedHandler([Progress("training", 0.1, "slow")]).wait_ready(None, {}, timeout=0.0)
    stop = ScriptedHandler([Progress("training", 0.1, "slow")]).wait_ready(None, {}, timeout=60, stop=lambda: True)
    assert stop.state == "training"


@pytest.mark.parametrize("status", ["ready", "queued"])
def test_a_job_waiting_for_a_worker_reads_queued_without_an_epoch(status: str) -> None:
    """The job status `ready` means queued for a worker: "training ready epoch 0/40" read as done."""
    p = job_progress({"status": status, "current_epoch": 0, "total_epochs": 40}, "training")
    assert p.state == "training" and p.message == "training queued", p
    running = job_progress({"status": "running", "current_epoch": 3, "total_epochs": 40}, "training")
    assert running.message == "training running epoch 3/40"


def test_job_progress_folds_statuses() -> None:
    assert job_progress({"status": "running", "current_epoch": 2, "total_epochs": 4}, "training").fraction == 0.5
    assert job_progress({"status": "done"}, "t").state == "ready"
    p = job_progress({"status": "failed", "error": "nan loss"}, "training")
    assert p.state == "failed" and "nan loss" in p.message
    assert job_progress({"status": "ready", "progress": 50}, "t").fraction == 0.5


def test_a_shadow_besides_the_serving_predictor_reads_as_drift_of_the_endpoint_predictor() -> None:
    entry = LockEntry(
        kind="endpoint", status="ready", ids={"endpoint_id": "e1", "predictor_id": "p-new"}, applied={"predictor": "p"}
    )
    doc = {"id": "e1", "serving_predictor_id": "p-new", "has_api_key": True, "plan": {"shadows": []}}
    assert EP_H._live(doc, entry).fields["predictor"] == "p"
    doc["plan"] = {"shadows": [{"neural_function_id": "p-old", "name": "rollback-p-old"}]}
    assert EP_H._live(doc, entry).fields["predictor"] == "p (still shadowing p-old)"
