"""Fixed-body routes refuse unknown keys and wrong types (422); typed fields keep their types; the wire log."""

from __future__ import annotations

import json
from typing import Any

import pytest

from featrix_iac.server.http.bodies import BODIES, Body, problems
from featrix_iac.server.http.wirelog import body_shape, json_shape


def test_every_contract_cites_the_official_client() -> None:
    for (method, route), body in BODIES.items():
        assert method in ("POST", "PUT") and route.startswith("/")
        assert body.cite.startswith("api/") and ".py:" in body.cite, route


def test_problems_name_unknown_keys_and_wrong_types() -> None:
    spec = Body({"name": (str,), "epochs": (int,), "protected": (bool,)}, "api/x.py:f")
    assert problems({"name": "a", "epochs": 3, "protected": False}, spec) == []
    assert problems({"name": "a", "user_metadata": {}}, spec) == [
        "unknown field(s) user_metadata: this route takes epochs, name, protected"
    ]
    assert problems({"epochs": "3"}, spec) == ["epochs must be a JSON integer, got str"]
    assert problems({"epochs": True}, spec) == ["epochs must be a JSON integer, got bool"]
    assert problems({"protected": "true"}, spec) == ["protected must be a JSON boolean, got str"]
    open_spec = Body({"epochs": (int,)}, "api/x.py:f", fixed=False)
    assert problems({"epochs": 3, "anything": 1}, open_spec) == []


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("{session}/deprecate", {"warning_message": "x", "expiration_date": "2031-01-01T00:00:00Z", "why": 1}, "why"),
        ("{session}/deletion_protection", {"protected": True, "user_metadata": {}}, "user_metadata"),
        ("{session}/unpublish", {"force": True}, "force"),
        ("{session}/mark_for_deletion", {"force": True}, "force"),
        ("{session}/publish", {"name": "n", "org_id": "o"}, "org_id"),
        ("{session}/vector_databases", {"name": "v9", "auto_populate": False, "tags": []}, "tags"),
        ("{session}/configure_webhooks", {"webhooks": {}, "predictor_id": "{pid}", "secret": "s"}, "secret"),
        ("/endpoints/{eid}/regenerate_key", {"length": 40}, "length"),
        ("/endpoints/{eid}/promote", {"neural_function_id": "{pid}", "now": True}, "now"),
        ("/endpoints", {"name": "tagged", "predictor_id": "{pid}", "user_metadata": {"a": 1}}, "user_metadata"),
        ("{session}/encode_records", {"records": [{"island": "Dream"}], "columns": ["island"]}, "columns"),
        ("{session}/publish_partial_foundation", {"name": "cp", "publish": False, "epochs": 1}, "epochs"),
    ],
)
def test_unknown_keys_on_fixed_routes_get_422(
    api: Any, trained: dict[str, Any], route: str, body: dict, field: str
) -> None:
    sid, pid = trained["sid"], trained["pids"]["species"]
    eid = api.ok("post", "/endpoints", json={"name": f"bodies-{field}", "predictor_id": pid})["id"]
    fill = {"session": f"/compute/session/{sid}", "pid": pid, "eid": eid}
    body = {k: v.format(**fill) if isinstance(v, str) else v for k, v in body.items()}
    resp = api.post(route.format(**fill), json=body)
    assert resp.status_code == 422, resp.text
    assert field in resp.json()["detail"] and "official client" in resp.json()["detail"]


def test_types_the_official_client_never_sends_get_422(api: Any, trained: dict[str, Any]) -> None:
    sid, pid = trained["sid"], trained["pids"]["species"]
    session = f"/compute/session/{sid}"
    assert api.post(f"{session}/deletion_protection", json={"protected": "true"}).status_code == 422
    body = {"target_column": "species", "target_column_type": "set", "epochs": "5"}
    assert api.post(f"{session}/train_predictor", json=body).status_code == 422
    url = {"s3_file_data_set_training": "file:///nonexistent.csv", "epochs": "8"}
    assert api.post("/compute/create-embedding-space", json=url).status_code == 422
    url = {"s3_file_data_set_training": "file:///nonexistent.csv", "foundation_mode": "true"}
    assert api.post("/compute/create-embedding-space", json=url).status_code == 422
    url = {"s3_file_data_set_training": "file:///nonexistent.csv", "time_column": "ts"}
    assert "time_column" in api.post("/compute/create-embedding-space", json=url).json()["detail"]
    body = {"target_column": "sex", "target_column_type": "set", "cost_false_positive": "1"}
    assert api.post(f"{session}/train_predictor", json=body).status_code == 422
    dep = {"warning_message": "old", "expiration_date": "2031-01-01"}
    assert api.post(f"{session}/deprecate", json=dep).status_code == 422
    assert api.ok("post", f"{session}/predictor/{pid}/deletion_protection", json={"protected": False})


def test_vector_records_with_numbers_as_strings_get_422(api: Any, trained: dict[str, Any]) -> None:
    base = f"/compute/session/{trained['sid']}/vector_databases"
    api.ok("post", base, json={"name": "typed", "auto_populate": False})
    record = {"island": "Biscoe", "bill_length_mm": 47.5, "body_mass_g": 5200}
    assert api.ok("post", f"{base}/typed/records", json={"records": [record]})["records_added"] == 1
    resp = api.post(f"{base}/typed/records", json={"records": [{**record, "bill_length_mm": "47.5"}]})
    assert resp.status_code == 422 and "bill_length_mm" in resp.json()["detail"]
    api.ok("delete", f"{base}/typed")


def test_the_wire_log_records_shapes_not_values(api: Any, trained: dict[str, Any]) -> None:
    sid, pid = trained["sid"], trained["pids"]["sex"]
    api.ok("delete", "/__test__/requests")
    api.ok("post", f"/compute/session/{sid}/predictor/{pid}/deletion_protection", json={"protected": False})
    api.ok("get", "/compute/sessions-for-org", params={"name_prefix": "quick"})
    log = [r["wire"] for r in api.ok("get", "/__test__/requests")["requests"] if "wire" in r]
    protect, listing = log[0], log[1]
    assert protect["route"] == "/compute/session/{sid}/predictor/{pid}/deletion_protection"
    assert protect["auth"] == "account" and protect["content"] == "json"
    assert protect["json"] == {"protected": "boolean"}
    assert listing == {
        "route": "/compute/sessions-for-org",
        "auth": "account",
        "headers": [],
        "query": ["name_prefix"],
        "content": "empty",
    }
    assert sid not in str(log)


def test_json_shape_merges_list_items() -> None:
    shape = json_shape({"records": [{"a": 1, "b": "x"}, {"a": None, "c": True}], "k": 2.5})
    assert shape == {"k": "number", "records": [{"a": "integer|null", "b": "string", "c": "boolean"}]}


def test_the_wire_shape_of_a_hostile_body_is_bounded() -> None:
    deep: Any = 1
    for _ in range(5000):
        deep = {"a": deep}
    assert "object" in json.dumps(json_shape(deep))  # cut at MAX_DEPTH, no RecursionError
    nested = ('{"a": ' * 50_000 + "1" + "}" * 50_000).encode()
    assert body_shape("application/json", nested, False) == {"content": "other"}


def test_upload_fields_written_otherwise_than_the_official_client_get_422(api: Any, penguins: Any) -> None:
    csv = penguins.head(30).to_csv(index=False).encode()
    for field, value in (("foundation_mode", "True"), ("epochs", "8.0"), ("ignore_columns", "year")):
        resp = api.post(
            "/compute/upload_with_new_session/",
            files={"file": ("p.csv", csv)},
            data={"name": "formcheck", field: value},
        )
        assert resp.status_code == 422 and field in resp.json()["detail"], resp.text
