"""API endpoints: create / list / get / stats, keyed predict, key rotation and revocation, shadow / promote, delete."""

from __future__ import annotations

import time

import requests

RECORD = {
    "island": "Dream",
    "bill_length_mm": 49.0,
    "bill_depth_mm": 18.5,
    "flipper_length_mm": 195.0,
    "body_mass_g": 3700.0,
    "sex": "female",
}


def _predict(server, eid: str, key: str | None) -> requests.Response:
    headers = {"X-API-Key": key} if key else {}
    return requests.post(
        f"{server.url}/endpoint/{eid}/predict", json={"query_record": RECORD}, headers=headers, timeout=10
    )


def test_endpoint_lifecycle(api, server, trained) -> None:
    sid, pid = trained["sid"], trained["pids"]["species"]
    created = api.ok(
        "post",
        "/endpoints",
        json={
            "name": "species-api",
            "predictor_id": pid,
            "session_id": sid,
            "description": "d",
        },
    )
    eid, key = created["id"], created["api_key"]
    assert key.startswith("fx_ep_") and created["has_api_key"] is True
    assert created["predict_url"] == f"{server.url}/endpoint/{eid}/predict"
    assert created["serving_predictor_id"] == pid
    # the endpoint object of the contract (api_endpoint.py:APIEndpoint.from_response) has no user_metadata
    assert "user_metadata" not in created
    for field in ("created_at", "api_key_created_at"):
        assert created[field].endswith("+00:00") and "Z" not in created[field]
    got = api.ok("get", f"/endpoints/{eid}")
    assert "api_key" not in got and got["has_api_key"] is True and "user_metadata" not in got
    assert eid in [e["id"] for e in api.ok("get", "/endpoints")["endpoints"]]
    assert key not in api.get("/endpoints").text

    first = _predict(server, eid, key)
    assert first.status_code == 200 and first.json()["predicted_class"] in ("Adelie", "Chinstrap", "Gentoo")
    assert _predict(server, eid, None).status_code == 401
    assert _predict(server, eid, server.api_key).status_code == 401  # the account key is not the endpoint key
    stats = api.ok("get", f"/endpoints/{eid}/stats")
    assert stats["usage_count"] == 1 and stats["last_used_at"].endswith("+00:00")

    new_key = api.ok("post", f"/endpoints/{eid}/regenerate_key", json={})["api_key"]
    assert new_key != key
    assert _predict(server, eid, key).status_code == 401
    assert _predict(server, eid, new_key).status_code == 200
    api.ok("post", f"/endpoints/{eid}/revoke_key", json={})
    refused = _predict(server, eid, new_key)
    assert refused.status_code == 403 and "revoked" in refused.json()["error"]
    assert api.ok("get", f"/endpoints/{eid}")["has_api_key"] is False
    newest = api.ok("post", f"/endpoints/{eid}/regenerate_key", json={})["api_key"]
    assert _predict(server, eid, newest).status_code == 200

    assert api.ok("delete", f"/endpoints/{eid}")["deleted"] is True
    assert api.get(f"/endpoints/{eid}").status_code == 404
    assert _predict(server, eid, newest).status_code == 404


def test_shadow_promote_stop_shadowing_keep_id_and_key(api, server, trained, penguins) -> None:
    sid = trained["sid"]
    old_pid = trained["pids"]["species"]
    new_pid = api.ok(
        "post",
        f"/compute/session/{sid}/train_predictor",
        json={"target_column": "species", "target_column_type": "set", "epochs": 5, "name": "species-v2"},
    )["predictor_id"]
    api.wait(sid)
    ep = api.ok("post", "/endpoints", json={"name": "rollout", "predictor_id": old_pid, "session_id": sid})
    eid, key = ep["id"], ep["api_key"]
    shadow = api.ok("post", f"/endpoints/{eid}/shadow", json={"predictor_id": new_pid, "session_id": sid})
    assert shadow["publish_name"] and shadow["job_id"]
    shadows = api.ok("get", f"/endpoints/{eid}")["plan"]["shadows"]
    assert [s["neural_function_id"] for s in shadows] == [new_pid] and not shadows[0].get("name")  # publishing
    early = api.post(f"/endpoints/{eid}/promote", json={"neural_function_id": new_pid})
    assert early.status_code == 409  # not before the shadow's publish lands
    job_path = f"/compute/session/{sid}/publish_job/{shadow['job_id']}"
    deadline = time.monotonic() + 30
    while api.ok("get", job_path)["status"] != "completed" and time.monotonic() < deadline:
        time.sleep(0.1)
    shadows = api.ok("get", f"/endpoints/{eid}")["plan"]["shadows"]
    assert shadows[0]["name"] == shadow["publish_name"]
    assert api.post(f"/endpoints/{eid}/promote", json={"neural_function_id": "pred_unknown"}).status_code == 409
    promoted = api.ok("post", f"/endpoints/{eid}/promote", json={"neural_function_id": new_pid})
    assert promoted["id"] == eid and promoted["serving_predictor_id"] == new_pid
    assert [s["neural_function_id"] for s in promoted["plan"]["shadows"]] == [old_pid]  # rollback guard
    answer = _predict(server, eid, key)
    assert answer.status_code == 200 and answer.json()["predictor_id"] == new_pid
    stopped = api.ok("post", f"/endpoints/{eid}/stop_shadowing", json={"neural_function_id": old_pid})
    assert stopped["plan"]["shadows"] == []
    assert {m["neural_function_id"]: m["role"] for m in stopped["models"]} == {new_pid: "serving", old_pid: "retired"}
    assert api.post(f"/endpoints/{eid}/stop_shadowing", json={"neural_function_id": old_pid}).status_code == 404


def test_endpoint_create_validates(api, trained) -> None:
    assert api.post("/endpoints", json={"name": "x"}).status_code == 400
    assert api.post("/endpoints", json={"name": "x", "predictor_id": "pred_nope"}).status_code == 404
    chosen = api.ok(
        "post",
        "/endpoints",
        json={
            "name": "chosen",
            "predictor_id": trained["pids"]["sex"],
            "api_key": "fx_ep_chosen_by_the_caller_0123456789",
        },
    )
    assert chosen["api_key"] == "fx_ep_chosen_by_the_caller_0123456789"
    assert (
        api.post(
            "/endpoints", json={"name": "x", "predictor_id": trained["pids"]["sex"], "api_key": "plain"}
        ).status_code
        == 400
    )
    assert api.get("/endpoints/ep_nope/stats").status_code == 404


def test_shadow_comparisons_scored_with_ground_truth(api, server, trained, penguins) -> None:
    import json

    sid, serving, wrong = trained["sid"], trained["pids"]["species"], trained["pids"]["sex"]
    ep = api.ok("post", "/endpoints", json={"name": "gated", "predictor_id": serving, "session_id": sid})
    api.ok("post", f"/endpoints/{ep['id']}/shadow", json={"predictor_id": wrong})  # answers male/female: always wrong
    rows = json.loads(penguins.sample(25, random_state=2).to_json(orient="records"))
    for row in rows:
        truth = row.pop("species")
        answer = _post_record(server, ep["id"], ep["api_key"], row)
        api.ok(
            "post", f"/compute/session/{sid}/predict/{answer['prediction_uuid']}/feedback", json={"ground_truth": truth}
        )
    comp = api.ok("get", f"/endpoints/{ep['id']}")["comparisons"]
    assert len(comp) == 1 and comp[0]["shadow_neural_function_id"] == wrong
    assert comp[0]["paired_with_ground_truth"] == 25 and comp[0]["verdict"] == "shadow_worse"
    assert comp[0]["serving"]["accuracy_rate"] > 0.8 and comp[0]["shadow"]["accuracy_rate"] == 0.0
    lo, hi = comp[0]["delta_ci95"]
    assert lo <= comp[0]["delta_mean"] <= hi < 0
    assert api.post(f"/compute/session/{sid}/predict/nope/feedback", json={"ground_truth": "x"}).status_code == 404
    assert api.post(f"/compute/session/{sid}/predict/{answer['prediction_uuid']}/feedback", json={}).status_code == 400
    relabel = api.ok(
        "post",
        f"/compute/prediction/{answer['prediction_uuid']}/update_label",
        json={"prediction_id": answer["prediction_uuid"], "user_label": "Adelie"},
    )
    assert relabel["recorded"] is True


def _post_record(server, eid: str, key: str, record: dict) -> dict:
    resp = requests.post(
        f"{server.url}/endpoint/{eid}/predict", json={"query_record": record}, headers={"X-API-Key": key}, timeout=10
    )
    assert resp.status_code == 200, resp.text
    return resp.json()
