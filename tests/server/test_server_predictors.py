"""Predictor routes: training, validation, predictions, metrics, train more, protection, encode, webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json

from fxserver_helpers import Api

from featrix_iac.server.embedded import start_local_server

RECORD = {
    "island": "Biscoe",
    "bill_length_mm": 47.5,
    "bill_depth_mm": 15.0,
    "flipper_length_mm": 218.0,
    "body_mass_g": 5200.0,
    "sex": "male",
}


def test_train_predictor_validates_its_body(api, trained) -> None:
    sid = trained["sid"]
    numeric = api.post(
        f"/compute/session/{sid}/train_predictor",
        json={"target_column": "body_mass_g", "target_column_type": "numeric"},
    )
    assert numeric.status_code == 400 and "scalar" in numeric.json()["detail"]
    unknown = api.post(
        f"/compute/session/{sid}/train_predictor", json={"target_column": "wingspan", "target_column_type": "set"}
    )
    assert unknown.status_code == 400 and "wingspan" in unknown.json()["detail"]
    missing = api.post(f"/compute/session/{sid}/train_predictor", json={"target_column_type": "set"})
    assert missing.status_code == 400
    not_json = api.post(
        f"/compute/session/{sid}/train_predictor", data=b"{oops", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 400


def test_train_predictor_uses_pass_through_fields_without_echoing_them(api, trained) -> None:
    """Pass-through kwargs are accepted (foundational_model.py:_create_predictor) but never echoed: the client
    reads predictor_id / queued back, and nothing shows the real service returning user_metadata."""
    sid = trained["sid"]
    body = {
        "target_column": "island",
        "target_column_type": "set",
        "epochs": 3,
        "name": "island-clf",
        "user_metadata": {"k": "v"},
        "intent": "balanced",
        "keep_duplicates": True,
    }
    resp = api.ok("post", f"/compute/session/{sid}/train_predictor", json=body)
    assert resp["predictor_id"] and resp["name"] == "island-clf"
    assert not {"user_metadata", "intent", "keep_duplicates"} & set(resp)
    doc = api.wait(sid)
    entry = next(e for e in doc["session"]["job_plan"] if e.get("predictor_id") == resp["predictor_id"])
    assert entry["name"] == "island-clf" and entry["status"] == "completed" and "user_metadata" not in entry
    job = next(j for j in doc["jobs"].values() if j.get("predictor_id") == resp["predictor_id"])
    assert "user_metadata" not in job


def test_predict_classifier_and_regressor(api, trained) -> None:
    sid, pids = trained["sid"], trained["pids"]
    multi = api.ok(
        "post", f"/compute/session/{sid}/predict", json={"query_record": RECORD, "predictor_id": pids["species"]}
    )
    assert multi["predicted_class"] == multi["prediction"] == "Gentoo"
    assert abs(sum(multi["probabilities"].values()) - 1) < 1e-3 and 0 <= multi["confidence"] <= 1
    assert multi["prediction_uuid"] and multi["predictor_id"] == pids["species"]
    binary = api.ok(
        "post", f"/compute/session/{sid}/predict", json={"query_record": RECORD, "predictor_id": pids["sex"]}
    )
    assert binary["predicted_class"] in ("male", "female") and binary["threshold"] == 0.5 and binary["pos_label"]
    record = {k: v for k, v in RECORD.items() if k != "body_mass_g"}
    reg = api.ok(
        "post", f"/compute/session/{sid}/predict", json={"query_record": record, "predictor_id": pids["body_mass_g"]}
    )
    assert isinstance(reg["prediction"], float) and reg["interval_low"] < reg["prediction"] < reg["interval_high"]
    assert reg["ignored_query_columns"] == []
    alias = api.ok("post", f"/session/{sid}/predict", json={"query_record": RECORD, "predictor_id": pids["species"]})
    assert alias["predicted_class"] == "Gentoo"


def test_predict_needs_a_predictor_id_when_ambiguous_and_a_record(api, trained) -> None:
    sid = trained["sid"]
    assert api.post(f"/compute/session/{sid}/predict", json={"query_record": RECORD}).status_code == 404
    assert (
        api.post(
            f"/compute/session/{sid}/predict", json={"query_record": "x", "predictor_id": trained["pids"]["sex"]}
        ).status_code
        == 422  # bodies.BODIES: query_record is an object
    )
    assert (
        api.post(
            f"/compute/session/{sid}/predict", json={"query_record": RECORD, "predictor_id": "pred_nope"}
        ).status_code
        == 404
    )


def test_predict_table_keeps_input_order(api, trained, penguins) -> None:
    sid = trained["sid"]
    rows = penguins.drop(columns=["species"]).head(20)
    records = json.loads(rows.to_json(orient="records"))
    out = api.ok(
        "post",
        f"/compute/session/{sid}/predict_table",
        json={"records": records, "predictor_id": trained["pids"]["species"]},
    )["predictions"]
    assert len(out) == 20
    expected = penguins["species"].head(20).tolist()
    assert sum(p["predicted_class"] == e for p, e in zip(out, expected, strict=True)) >= 16
    single = api.ok(
        "post",
        f"/compute/session/{sid}/predict",
        json={"query_record": records[3], "predictor_id": trained["pids"]["species"]},
    )
    assert single["probabilities"] == out[3]["probabilities"]
    assert api.post(f"/compute/session/{sid}/predict_table", json={"records": "x"}).status_code == 422


def test_classification_and_regression_metrics(api, trained) -> None:
    sid, pids = trained["sid"], trained["pids"]
    cls = api.ok("get", f"/compute/session/{sid}/predictor/{pids['species']}/classification_metrics")
    m = cls["classification_metrics"]
    assert m["accuracy"] > 0.8 and m["auc"] > 0.9 and 0 < m["f1"] <= 1 and "macro_f1" in m
    assert cls["confusion_matrix"]["labels"] == ["Adelie", "Chinstrap", "Gentoo"]
    reg = api.ok("get", f"/compute/session/{sid}/predictor/{pids['body_mass_g']}/classification_metrics")
    assert (
        reg["regression_metrics"]["r2"] > 0.5
        and reg["regression_metrics"]["rmse"] > 0
        and reg["regression_metrics"]["mae"] > 0
    )


def test_train_predictor_more_adds_epochs(api, penguins) -> None:
    sid = api.upload(penguins.sample(80, random_state=0), "more", epochs=3)
    pid = api.ok(
        "post",
        f"/compute/session/{sid}/train_predictor",
        json={"target_column": "species", "target_column_type": "set", "epochs": 4},
    )["predictor_id"]
    api.wait(sid)
    resp = api.ok(
        "post", f"/compute/session/{sid}/train_predictor_more", json={"target_column": "species", "epochs": 5}
    )
    assert resp["predictor_id"] == pid and resp["epochs"] == 9
    doc = api.wait(sid)
    jobs = [j for j in doc["jobs"].values() if j.get("predictor_id") == pid]
    assert [j["total_epochs"] for j in jobs] == [4, 9] and jobs[-1]["status"] == "done"
    assert len([e for e in doc["session"]["job_plan"] if e.get("predictor_id") == pid]) == 1
    assert api.post(f"/compute/session/{sid}/train_predictor_more", json={"target_column": "nope"}).status_code == 404


def test_predictor_deletion_protection(api, trained) -> None:
    sid, pid = trained["sid"], trained["pids"]["sex"]
    api.ok("post", f"/compute/session/{sid}/predictor/{pid}/deletion_protection", json={"protected": True})
    assert api.ok("get", f"/compute/session/{sid}")["session"]["predictor_deletion_protection"][pid] is True
    api.ok("post", f"/compute/session/{sid}/predictor/{pid}/deletion_protection", json={"protected": False})
    assert api.ok("get", f"/compute/session/{sid}")["session"]["predictor_deletion_protection"][pid] is False
    assert (
        api.post(f"/compute/session/{sid}/predictor/{pid}/deletion_protection", json={"protected": "maybe"}).status_code
        == 422
    )


def test_encode_records(api, trained) -> None:
    out = api.ok(
        "post", f"/compute/session/{trained['sid']}/encode_records", json={"records": [RECORD, {"island": "Dream"}]}
    )["results"]
    assert len(out) == 2 and len(out[0]["embedding"]) == 3 and len(out[0]["embedding_long"]) == 16
    assert out[0]["embedding_long"] != out[1]["embedding_long"]
    again = api.ok("post", f"/compute/session/{trained['sid']}/encode_records", json={"records": [RECORD]})["results"]
    assert again[0]["embedding_long"] == out[0]["embedding_long"]


def test_webhooks_configure_read_disable_and_signed_delivery(api, penguins, receiver) -> None:
    sid = api.upload(
        penguins.sample(60, random_state=1), "hooks", epochs=2, webhooks={"training_finished": receiver.url + "/fm"}
    )
    hooks = {
        "training_started": receiver.url + "/sp",
        "training_finished": receiver.url + "/sp",
        "webhook_secret": "s3cret",
    }
    receiver.fail_first = 1  # the first delivery fails: it must be retried
    pid = api.ok(
        "post",
        f"/compute/session/{sid}/train_predictor",
        json={"target_column": "species", "target_column_type": "set", "epochs": 3, "webhooks": hooks},
    )["predictor_id"]
    api.wait(sid)
    finished = receiver.delivered("/sp", "training_finished")
    started = receiver.delivered("/sp", "training_started")
    assert finished and started
    assert any(c["failed"] for c in receiver.calls)  # the first attempt failed and was retried
    raw = finished[0]["raw"]
    assert b": " not in raw and b", " not in raw  # compact JSON
    assert (
        finished[0]["headers"]["X-Featrix-Signature"]
        == "sha256=" + hmac.new(b"s3cret", raw, hashlib.sha256).hexdigest()
    )
    body = json.loads(raw)
    assert (
        body["foundational_model_id"] == sid and body["predictor_id"] == pid and body["data"]["status"] == "succeeded"
    )
    assert "timestamp" in body and body["data"]["metrics"]["accuracy"] > 0
    fm_hits = receiver.delivered("/fm", "training_finished")
    assert fm_hits and "X-Featrix-Signature" not in fm_hits[0]["headers"]
    resp = api.ok(
        "post",
        f"/compute/session/{sid}/configure_webhooks",
        json={"webhooks": {"alert_drift": "https://h.example/d", "webhook_secret": "new"}, "predictor_id": pid},
    )
    assert resp["webhooks"]["alert_drift"] == "https://h.example/d" and "webhook_secret" not in resp["webhooks"]
    read = api.ok("get", f"/compute/session/{sid}/webhooks")
    assert read["webhooks"]["alert_drift"] == "https://h.example/d" and "webhook_secret" not in json.dumps(read)
    api.ok("post", f"/compute/session/{sid}/disable_webhook", json={"event_type": "alert_drift", "predictor_id": pid})
    assert "alert_drift" not in api.ok("get", f"/compute/session/{sid}/webhooks")["webhooks"]
    bad = api.post(f"/compute/session/{sid}/configure_webhooks", json={"webhooks": {"not_an_event": "https://x"}})
    assert bad.status_code == 400


def test_soft_503_until_trained_then_cancel(api, penguins) -> None:
    sid = api.upload(penguins, "slow", epochs=600)
    pid = api.ok(
        "post",
        f"/compute/session/{sid}/train_predictor",
        json={"target_column": "species", "target_column_type": "set", "epochs": 3},
    )["predictor_id"]
    resp = api.post(f"/compute/session/{sid}/predict", json={"query_record": RECORD, "predictor_id": pid})
    assert resp.status_code == 503 and resp.json()["status"] in (
        "training_not_started",
        "training_in_progress_no_checkpoint",
    )
    assert resp.json()["training_info"]["is_training"] is False
    first = api.ok(
        "post", f"/compute/session/{sid}/cancel", json={"reason": "test"}
    )  # the newest job: the queued predictor
    assert first == {"cancelled": True, "status": "cancelled", "job_id": first["job_id"]}
    second = api.ok("post", f"/compute/session/{sid}/cancel", json={})  # then the running foundational model
    assert second["cancelled"] is True
    doc = api.wait(sid)
    es = next(j for j in doc["jobs"].values() if j["job_type"] == "train_es")
    sp = next(j for j in doc["jobs"].values() if j["job_type"] == "train_single_predictor")
    assert es["status"] == "cancelled" and doc["session"]["status"] == "cancelled" and es["current_epoch"] < 600
    assert sp["status"] == "cancelled"
    after = api.post(f"/compute/session/{sid}/predict", json={"query_record": RECORD, "predictor_id": pid})
    assert after.status_code == 409
    assert api.ok("post", f"/compute/session/{sid}/cancel", json={})["cancelled"] is False


def test_customer_metadata_header_is_checked(api, trained) -> None:
    sid, pid = trained["sid"], trained["pids"]["species"]
    body = {"query_record": RECORD, "predictor_id": pid}
    ok = api.post(
        f"/compute/session/{sid}/predict", json=body, headers={"X-Featrix-Customer-Metadata": '{"order": 42}'}
    )
    assert ok.status_code == 200
    for bad in ("[1]", "{nope", json.dumps({"x": "y" * 20000})):
        resp = api.post(f"/compute/session/{sid}/predict", json=body, headers={"X-Featrix-Customer-Metadata": bad})
        assert resp.status_code == 400 and "Customer-Metadata" in resp.json()["detail"]


def test_value_meaning_set_read_clear(api, trained) -> None:
    sid, pid = trained["sid"], trained["pids"]["species"]
    base = f"/compute/session/{sid}/predictor/{pid}/value_meaning"
    put = api.http.put(
        api.url + base, json={"Gentoo": "a Gentoo penguin", "Adelie": "an Adelie"}, headers=api.headers(), timeout=10
    )
    assert put.status_code == 200 and put.json()["value_meaning"]["Gentoo"] == "a Gentoo penguin"
    assert api.ok("get", base)["value_meaning"] == {"Gentoo": "a Gentoo penguin", "Adelie": "an Adelie"}
    pred = api.ok("post", f"/compute/session/{sid}/predict", json={"query_record": RECORD, "predictor_id": pid})
    assert pred["value_meaning"] == "a Gentoo penguin"
    assert api.ok("delete", f"{base}/Adelie")["value_meaning"] == {"Gentoo": "a Gentoo penguin"}
    api.ok("delete", f"{base}/Gentoo")
    assert api.ok("get", base)["value_meaning"] == {}
    assert api.http.put(api.url + base, json={}, headers=api.headers(), timeout=10).status_code == 400


def test_trainings_queue_without_an_id_when_every_worker_is_busy(tmp_path, penguins) -> None:
    """foundational_model.py `_create_predictor`: {queued: true} without predictor_id; the session 404s for a
    moment; the id appears on the train_single_predictor job once a worker picks it up. One worker and a wide
    404 window, so the queue and the window hold however fast or loaded the machine is."""
    env = {"FEATRIX_LOCAL_WORKERS": "1", "FEATRIX_LOCAL_QUEUED_404_SECONDS": "3"}
    with start_local_server(tmp_path / "data", test_hooks=True, env=env) as srv:
        api = Api(srv.url, srv.api_key)
        sid = api.upload(penguins.sample(100, random_state=5), "queued", epochs=3)
        answers = [
            api.post(
                f"/compute/session/{sid}/train_predictor",
                json={"target_column": target, "target_column_type": "set", "epochs": 200},  # the worker stays busy
            )
            for target in ("species", "island", "sex")
        ]
        assert all(a.status_code == 200 for a in answers)
        queued = [a.json() for a in answers if a.json().get("queued")]
        assert queued and all(not q.get("predictor_id") for q in queued), [a.json() for a in answers]
        assert api.get(f"/compute/session/{sid}").status_code == 404  # on no node yet
        pid = api.dequeued(sid, queued[-1]["target_column"])
        plan = api.wait(sid)["session"]["job_plan"]
        assert pid in {e.get("predictor_id") for e in plan}


def test_workers_are_busy_once_each_holds_a_named_training(tmp_path) -> None:
    """Trainings queued without an id (waiting for a worker) do not count; queued or running named ones do."""
    from featrix_iac.server.jobs.worker import Worker
    from featrix_iac.server.service import Service

    worker = Worker(Service(tmp_path / "data", "fx_" + "k" * 40), n_threads=2)  # not started: nothing is claimed
    worker.submit("job-fm")
    worker.submit("job-unnamed", unnamed=True)
    assert not worker.busy()
    worker.submit("job-named")
    assert worker.busy()
    worker.cancel("job-named")
    assert not worker.busy()
