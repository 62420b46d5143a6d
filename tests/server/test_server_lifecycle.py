"""Lifecycle routes: publish (+ publish_job), unpublish, deprecate, protection, delete, clone, checkpoint publish."""

from __future__ import annotations

import time

import pytest


@pytest.fixture()
def fm(api, penguins) -> str:
    sid = api.upload(penguins.sample(120, random_state=3), "life", epochs=3)
    api.ok(
        "post",
        f"/compute/session/{sid}/train_predictor",
        json={"target_column": "species", "target_column_type": "set", "epochs": 3},
    )
    api.wait(sid)
    return sid


def _session(api, sid: str) -> dict:
    return api.ok("get", f"/compute/session/{sid}")["session"]


def _publish(api, sid: str, name: str | None = None) -> dict:
    """Publish and poll the job until it completes, as the official client does."""
    pub = api.ok("post", f"/compute/session/{sid}/publish", json={"name": name} if name else {})
    deadline = time.monotonic() + 30
    while True:
        job = api.ok("get", f"/compute/session/{sid}/publish_job/{pub['job_id']}")
        if job["status"] in ("completed", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def test_publish_is_a_job_with_progress(api, fm) -> None:
    pub = api.ok("post", f"/compute/session/{fm}/publish", json={"name": "life-published"})
    assert pub["job_id"] and pub["status"] == "queued"
    first = api.ok("get", f"/compute/session/{fm}/publish_job/{pub['job_id']}")
    assert first["status"] == "running" and {"step", "message", "bytes_copied", "files_copied"} <= set(first)
    assert 0 <= first["progress_pct"] < 100 and first["eta_minutes"] is not None
    s = _session(api, fm)
    assert s["published"] is False and s["deletion_protection"] is False  # only once the job completes
    again = api.ok("post", f"/compute/session/{fm}/publish", json={"name": "life-published"})
    assert again["job_id"] == pub["job_id"]  # a publish already going answers the same job
    late = api.post(
        f"/compute/session/{fm}/deprecate", json={"warning_message": "x", "expiration_date": "2031-01-01T00:00:00Z"}
    )
    assert late.status_code == 409  # deprecate applies to a published model
    job = _publish(api, fm, "life-published")
    assert job["status"] == "completed" and job["published_path"] == "local/life-published"
    assert job["progress_pct"] == 100
    s = _session(api, fm)
    assert s["published"] is True and s["published_name"] == "life-published"
    assert s["deletion_protection"] is True  # a completed publish turns protection on
    assert api.ok("post", f"/compute/session/{fm}/publish", json={})["status"] == "already_published"
    api.ok("post", f"/compute/session/{fm}/unpublish", json={})
    s = _session(api, fm)
    assert s["published"] is False and s["deletion_protection"] is True  # unpublish leaves it on
    assert api.get(f"/compute/session/{fm}/publish_job/pub_nope").status_code == 404


def test_publish_lands_without_polling(api, fm) -> None:
    api.ok("post", f"/compute/session/{fm}/publish", json={"name": "life-unpolled"})
    deadline = time.monotonic() + 30
    while not _session(api, fm)["published"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _session(api, fm)["published_name"] == "life-unpolled"


def test_deprecate(api, fm) -> None:
    assert _publish(api, fm)["status"] == "completed"
    api.ok(
        "post",
        f"/compute/session/{fm}/deprecate",
        json={"warning_message": "old", "expiration_date": "2031-01-01T00:00:00Z"},
    )
    dep = _session(api, fm)["deprecation"]
    assert dep["warning_message"] == "old" and dep["expiration_date"] == "2031-01-01T00:00:00Z"
    assert (
        api.post(
            f"/compute/session/{fm}/deprecate", json={"warning_message": "x", "expiration_date": "soon"}
        ).status_code
        == 400
    )
    assert api.post(f"/compute/session/{fm}/deprecate", json={"expiration_date": "2031-01-01"}).status_code == 400
    pid = _session(api, fm)["job_plan"][1]["predictor_id"]
    pred = api.ok(
        "post", f"/compute/session/{fm}/predict", json={"query_record": {"island": "Dream"}, "predictor_id": pid}
    )
    assert pred["model_expiration"] == "2031-01-01T00:00:00Z"


def test_mark_for_deletion_refused_while_protected(api, fm) -> None:
    pid = _session(api, fm)["job_plan"][1]["predictor_id"]
    api.ok("post", f"/compute/session/{fm}/deletion_protection", json={"protected": True})
    refused = api.post(f"/compute/session/{fm}/mark_for_deletion", json={})
    assert refused.status_code == 409 and refused.json()["detail"].startswith("deletion protected")
    api.ok("post", f"/compute/session/{fm}/deletion_protection", json={"protected": False})
    api.ok("post", f"/compute/session/{fm}/predictor/{pid}/deletion_protection", json={"protected": True})
    refused = api.post(f"/compute/session/{fm}/mark_for_deletion", json={})
    assert refused.status_code == 409 and pid in refused.json()["detail"]
    api.ok("post", f"/compute/session/{fm}/predictor/{pid}/deletion_protection", json={"protected": False})
    assert api.ok("post", f"/compute/session/{fm}/mark_for_deletion", json={})["marked_for_deletion"] is True
    assert api.get(f"/compute/session/{fm}").status_code == 404
    assert fm not in [s["session_id"] for s in api.ok("get", "/compute/sessions-for-org")["sessions"]]
    assert api.post(f"/compute/session/{fm}/predict", json={"query_record": {}, "predictor_id": pid}).status_code == 404


def test_clone_into_another_cluster_namespace(api, fm) -> None:
    clone = api.ok(
        "post",
        f"/compute/session/{fm}/clone_embedding_space",
        json={"to_compute": "churro", "new_session_name": "life-clone"},
    )
    new = clone["new_session_id"]
    assert new != fm and clone["compute_cluster"] == "churro"
    s = _session(api, new)
    assert s["status"] == "done" and s["compute_cluster"] == "churro" and s["name"] == "life-clone"
    assert s["es_architecture"]["d_model"] == 16 and s["job_plan"][0]["status"] == "completed"
    curve = api.ok("get", f"/compute/session/{fm}/training_metrics")["data"]["train_loss"]
    assert len(curve) == 3 and api.ok("get", f"/compute/session/{new}/training_metrics")["data"]["train_loss"] == curve
    churro = api.ok("get", "/compute/sessions-for-org", headers={"X-Featrix-Node": "churro"})["sessions"]
    assert [x["session_id"] for x in churro] == [new]
    local_ids = [
        x["session_id"]
        for x in api.ok("get", "/compute/sessions-for-org", headers={"X-Featrix-Node": "local"})["sessions"]
    ]
    assert fm in local_ids and new not in local_ids
    by_header = api.ok(
        "post", f"/compute/session/{fm}/clone_embedding_space", json={}, headers={"X-Featrix-Node": "burrito"}
    )
    assert _session(api, by_header["new_session_id"])["compute_cluster"] == "burrito"
    pid = api.ok(
        "post",
        f"/compute/session/{new}/train_predictor",
        json={"target_column": "island", "target_column_type": "set", "epochs": 3},
    )["predictor_id"]
    api.wait(new)
    assert api.ok(
        "post", f"/compute/session/{new}/predict", json={"query_record": {"species": "Gentoo"}, "predictor_id": pid}
    )["predicted_class"]


def test_publish_partial_foundation(api, fm) -> None:
    out = api.ok(
        "post",
        f"/compute/session/{fm}/publish_partial_foundation",
        json={"name": "life-ckpt", "publish": True, "org_id": "local"},
    )
    assert out["checkpoint_epoch"] == 3  # the latest by default
    s = _session(api, out["foundation_session_id"])
    assert s["name"] == "life-ckpt" and s["published"] is True and s["status"] == "done"
    early = api.ok(
        "post", f"/compute/session/{fm}/publish_partial_foundation", json={"name": "life-e1", "checkpoint_epoch": 1}
    )
    sid1 = early["foundation_session_id"]
    assert early["checkpoint_epoch"] == 1
    assert api.ok("get", f"/compute/session/{sid1}/training_metrics")["data"]["epochs"] == [1]
    full = api.ok("get", f"/compute/session/{fm}/training_metrics")["data"]
    record = {"island": "Dream", "bill_length_mm": 40.0}
    e1 = api.ok("post", f"/compute/session/{sid1}/encode_records", json={"records": [record]})["results"][0]
    e3 = api.ok("post", f"/compute/session/{fm}/encode_records", json={"records": [record]})["results"][0]
    assert full["epochs"] == [1, 2, 3] and e1["embedding_long"] != e3["embedding_long"]  # really the epoch-1 weights
    pid = api.ok(
        "post",
        f"/compute/session/{sid1}/train_predictor",
        json={"target_column": "species", "target_column_type": "set", "epochs": 3},
    )["predictor_id"]
    api.wait(sid1)
    assert api.ok("post", f"/compute/session/{sid1}/predict", json={"query_record": record, "predictor_id": pid})[
        "predicted_class"
    ]
    bad = api.post(f"/compute/session/{fm}/publish_partial_foundation", json={"name": "x", "checkpoint_epoch": 9})
    assert bad.status_code == 400 and "1..3" in bad.json()["detail"]


def test_checkpoint_of_a_model_still_training(api, penguins) -> None:
    import time

    sid = api.upload(penguins, "ckpt-running", epochs=600)
    while (
        not api.ok("get", f"/compute/session/{sid}")["jobs"]
        or next(iter(api.ok("get", f"/compute/session/{sid}")["jobs"].values()))["current_epoch"] < 2
    ):
        time.sleep(0.05)
    out = api.ok(
        "post", f"/compute/session/{sid}/publish_partial_foundation", json={"name": "mid-run", "checkpoint_epoch": 2}
    )
    assert out["checkpoint_epoch"] == 2 and _session(api, out["foundation_session_id"])["status"] == "done"
    api.ok("post", f"/compute/session/{sid}/cancel", json={})
    assert api.wait(sid)["session"]["status"] == "cancelled"


def test_deleting_a_session_while_it_trains_stops_its_jobs(api, server, penguins) -> None:
    import time

    sid = api.upload(penguins, "doomed", epochs=600)
    api.ok(
        "post",
        f"/compute/session/{sid}/train_predictor",
        json={"target_column": "species", "target_column_type": "set", "epochs": 3},
    )
    while api.ok("get", f"/compute/session/{sid}")["session"]["status"] != "running":
        time.sleep(0.05)
    assert api.ok("post", f"/compute/session/{sid}/mark_for_deletion", json={})["marked_for_deletion"] is True
    assert api.get(f"/compute/session/{sid}").status_code == 404
    folder = server.data_dir / "artifacts" / sid
    deadline = time.monotonic() + 10
    while folder.exists() and time.monotonic() < deadline:  # the worker stops at its next epoch and cleans up
        time.sleep(0.05)
    assert not folder.exists()
    other = api.upload(penguins.sample(50, random_state=9), "after-doomed", epochs=2)
    assert api.wait(other)["session"]["status"] == "done"  # the worker is free again
