"""Foundational-model routes: uploads in every format, idempotency, URL creation, the session document, lists."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest


def _upload(api, raw: bytes, filename: str, **data: str):
    return api.post("/compute/upload_with_new_session/", files={"file": (filename, raw)}, data={"epochs": "2", **data})


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "parquet", "json"])
def test_upload_formats(api, penguins, fmt: str) -> None:
    df = penguins.head(40)
    if fmt == "csv":
        raw = df.to_csv(index=False).encode()
    elif fmt == "csv.gz":
        raw = gzip.compress(df.to_csv(index=False).encode())
    elif fmt == "parquet":
        buf = io.BytesIO()
        df.to_parquet(buf)
        raw = buf.getvalue()
    else:
        raw = df.to_json(orient="records").encode()
    resp = _upload(api, raw, f"data.{fmt}", name=f"fmt-{fmt}")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["session_id"].startswith(f"fmt-{fmt}-") and body["queued"] is False
    cols = api.ok("get", f"/compute/session/{body['session_id']}/columns")
    assert cols["column_names"] == list(df.columns) == cols["columns"]


def test_idempotency_key_folds_retries_into_one_session(api, penguins) -> None:
    raw = penguins.head(30).to_csv(index=False).encode()
    headers = {"X-Featrix-Idempotency-Key": "idem-test-1"}
    first = api.post(
        "/compute/upload_with_new_session/",
        headers=headers,
        files={"file": ("d.csv", raw)},
        data={"name": "idem", "epochs": "2"},
    )
    again = api.post(
        "/compute/upload_with_new_session/",
        headers=headers,
        files={"file": ("d.csv", raw)},
        data={"name": "idem", "epochs": "2"},
    )
    other = api.post(
        "/compute/upload_with_new_session/",
        headers={"X-Featrix-Idempotency-Key": "idem-test-2"},
        files={"file": ("d.csv", raw)},
        data={"name": "idem", "epochs": "2"},
    )
    assert first.json()["session_id"] == again.json()["session_id"] != other.json()["session_id"]
    listed = [s for s in api.ok("get", "/compute/sessions-for-org", params={"name_prefix": "idem"})["sessions"]]
    assert len(listed) == 2


@pytest.mark.parametrize(
    ("raw", "filename", "needle"),
    [
        (b"", "empty.csv", "empty"),
        (b"just_one_column\n1\n2\n", "one.csv", "at least 2 columns"),
        (b"\x1f\x8b\x08garbage", "bad.csv.gz", "gzip"),
        (b"PAR1 not really parquet", "x.parquet", "not a readable table"),
        (b"[1, 2, 3]", "x.json", "list of objects"),
        (b"a,b\n", "header-only.csv", "no rows"),
    ],
)
def test_bad_uploads_are_400_with_a_clear_detail(api, raw: bytes, filename: str, needle: str) -> None:
    resp = _upload(api, raw, filename)
    assert resp.status_code == 400, resp.text
    assert needle in resp.json()["detail"]


def test_bad_upload_requests_are_400(api, penguins) -> None:
    assert api.post("/compute/upload_with_new_session/", json={"name": "x"}).status_code == 400
    no_file = api.post("/compute/upload_with_new_session/", files={"other": ("a.csv", b"a,b\n1,2\n")})
    assert no_file.status_code == 400 and "file" in no_file.json()["detail"]
    raw = penguins.head(10).to_csv(index=False).encode()
    bad_meta = _upload(api, raw, "d.csv", user_metadata="{not json")
    assert bad_meta.status_code == 422 and "user_metadata" in bad_meta.json()["detail"]  # bodies.UPLOAD_FORM
    bad_epochs = _upload(api, raw, "d.csv", epochs="many")
    assert bad_epochs.status_code == 422 and "epochs" in bad_epochs.json()["detail"]


def test_create_embedding_space_from_file_url_and_path(api, penguins, tmp_path: Path) -> None:
    path = tmp_path / "penguins.csv"
    penguins.head(50).to_csv(path, index=False)
    meta = json.dumps({"from": "url"})
    by_url = api.ok(
        "post",
        "/compute/create-embedding-space",
        json={
            "name": "fromurl",
            "s3_file_data_set_training": path.as_uri(),
            "user_metadata": meta,
            "epochs": 2,
            "team": "ml",
        },
    )
    by_path = api.ok(
        "post",
        "/compute/create-embedding-space",
        json={"name": "frompath", "s3_file_data_set_training": str(path), "epochs": 2},
    )
    doc = api.wait(by_url["session_id"])
    assert doc["session"]["user_metadata"] == {"from": "url"}
    assert "team" not in doc["session"]  # pass-through kwargs are accepted, never echoed (contract §2.3)
    assert api.wait(by_path["session_id"])["session"]["status"] == "done"
    missing = api.post(
        "/compute/create-embedding-space", json={"name": "x", "s3_file_data_set_training": str(tmp_path / "nope.csv")}
    )
    assert missing.status_code == 400 and "no such file" in missing.json()["detail"]
    for url, needle in (
        ("http://example.com/d.csv", "https://"),
        ("s3://bucket/d.csv", "presigned"),
        ("https://127.0.0.1:1/d.csv", "cannot download"),
    ):
        refused = api.post("/compute/create-embedding-space", json={"name": "x", "s3_file_data_set_training": url})
        assert refused.status_code == 400 and needle in refused.json()["detail"]


def test_session_document_shape(api, trained) -> None:
    doc = api.ok("get", f"/compute/session/{trained['sid']}")
    s = doc["session"]
    assert s["status"] == "done" and s["es_status"] == "done" and s["sp_status"] == "done"
    assert s["es_architecture"]["d_model"] == 16
    assert s["user_metadata"] == {"owner": "tests"}
    assert s["deletion_protection"] is False
    assert set(trained["pids"].values()) <= set(s["predictor_deletion_protection"])
    assert doc["job_plan"] == s["job_plan"]
    sp_entries = [e for e in s["job_plan"] if e["job_type"] == "train_single_predictor"]
    assert {e["spec"]["target_column"] for e in sp_entries} >= {"species", "sex", "body_mass_g"}
    assert all(e["status"] == "completed" for e in s["job_plan"][:4])
    assert len(s["single_predictors"]) == len(sp_entries) and all(s["single_predictors"][:3])
    assert {"published", "published_name", "deprecation"} <= set(s)
    es_job = next(j for j in doc["jobs"].values() if j["job_type"] == "train_es")
    assert es_job["current_epoch"] == es_job["total_epochs"] == 6


def test_unknown_session_is_404(api) -> None:
    assert api.get("/compute/session/nope").status_code == 404
    assert api.get("/compute/session/nope/columns").status_code == 404


def test_lists_filter_by_name_prefix_and_carry_metadata(api, trained) -> None:
    sessions = api.ok("get", "/compute/sessions-for-org", params={"name_prefix": "quickstart"})["sessions"]
    assert [s["session_id"] for s in sessions] == [trained["sid"]]
    assert sessions[0]["user_metadata"] == {"owner": "tests"} and sessions[0]["d_model"] == 16
    models = api.ok("get", "/compute/foundational-models", params={"name_prefix": "quick"})["models"]
    assert [m["session_id"] for m in models] == [trained["sid"]]
    assert api.ok("get", "/compute/foundational-models", params={"name_prefix": "zzz-none"})["models"] == []


def test_per_epoch_records_are_kept_apart_from_the_jobs(server, api, trained) -> None:
    """Every read of a session lists its jobs: a finished job's per-epoch records live apart from it, and the
    training_metrics route still serves them."""
    import sqlite3

    assert server.data_dir is not None
    with sqlite3.connect(server.data_dir / "featrix.sqlite3") as db:
        rows = db.execute("SELECT data FROM docs WHERE kind='job' AND parent=?", (trained["sid"],)).fetchall()
    done = [job for job in (json.loads(r[0]) for r in rows) if job["status"] == "done"]  # other tests add jobs
    assert len(done) >= 4
    assert not [j["job_id"] for j in done if {"history", "training_info"} & set(j)]
    sid = trained["sid"]
    assert len(api.ok("get", f"/compute/session/{sid}/training_metrics")["data"]["train_loss"]) == 6
    sex = api.ok("get", f"/compute/session/{sid}/training_metrics", params={"target_column": "sex"})
    assert [row["epoch_idx"] for row in sex["training_metrics"]["training_info"][:-1]] == list(range(12))


def test_training_metrics_model_card_and_columns(api, trained) -> None:
    sid = trained["sid"]
    tm = api.ok("get", f"/compute/session/{sid}/training_metrics")
    assert tm["source"] == "embedding_space_training"
    data = tm["data"]
    assert data["epochs"] == [1, 2, 3, 4, 5, 6] and len(data["train_loss"]) == 6 and data["d_model"] == 16
    assert data["val_loss"][-1] < data["val_loss"][0]
    species = api.ok("get", f"/compute/session/{sid}/training_metrics", params={"target_column": "species"})
    assert species["training_metrics"]["final_metrics"]["accuracy"] > 0.8
    card = api.ok("get", f"/compute/session/{sid}/model_card")
    assert {c["name"] for c in card["columns"]} >= {"species", "island"} and card["training_config"]["epochs"] == 6
    cols = api.ok("get", f"/compute/session/{sid}/columns")
    assert cols["column_types"]["island"] == "set" and cols["column_types"]["body_mass_g"] == "scalar"
    pcols = api.ok("get", f"/compute/predictor/{trained['pids']['species']}/columns")
    assert "species" not in [c["name"] for c in pcols["columns"]] and pcols["target_column"] == "species"
