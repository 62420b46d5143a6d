"""The training quota (FEATRIX_LOCAL_TRAINING_QUOTA): past N unfinished trainings, 429 quota_exceeded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests
from fxserver_helpers import Api

from featrix_iac.server.embedded import start_local_server


def _train(api: Api, sid: str, target: str) -> requests.Response:
    body = {"target_column": target, "target_column_type": "set", "epochs": 2, "name": target}
    return api.post(f"/compute/session/{sid}/train_predictor", json=body)


def _upload(api: Api, df: Any, name: str) -> requests.Response:
    files = {"file": ("data.csv", df.to_csv(index=False).encode())}
    return api.post("/compute/upload_with_new_session/", files=files, data={"name": name, "epochs": json.dumps(2)})


def _refused(resp: requests.Response) -> None:
    assert resp.status_code == 429, resp.text
    body = resp.json()
    # the shape the official client waits out (featrixsphere/api/http_client.py, _quota_exceeded_info)
    assert body["quota_exceeded"] is True and body["queue_limit"] == 2 and body["pending_count"] == 2
    assert float(resp.headers["Retry-After"]) > 0


def test_trainings_past_the_quota_are_refused_and_create_nothing(tmp_path: Path, penguins: Any) -> None:
    env = {"FEATRIX_LOCAL_TRAINING_QUOTA": "2", "FEATRIX_LOCAL_WORKERS": "2"}
    with start_local_server(tmp_path / "data", test_hooks=True, env=env) as srv:
        api = Api(srv.url, srv.api_key)
        sid = api.upload(penguins, "quota", epochs=30)  # unfinished training 1: the foundational model
        assert _train(api, sid, "species").status_code == 200  # 2: a predictor waiting for it
        _refused(_train(api, sid, "island"))
        _refused(_upload(api, penguins, "quota-2"))
        doc = api.wait(sid)
        assert [j.get("target_column") for j in doc["jobs"].values() if j.get("target_column")] == ["species"]
        sessions = api.ok("get", "/compute/sessions-for-org")
        assert [s["name"] for s in sessions["sessions"]] == ["quota"]
        assert _train(api, sid, "island").status_code == 200  # both trainings finished: room again
