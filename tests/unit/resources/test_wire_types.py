"""The engine sends values typed as the official client types them (issue 8 problem 5, issue 11 item 4)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from featrix_iac.model.resources import FoundationalModel
from featrix_iac.resources.base import Operation
from featrix_iac.resources.records import read_records
from featrix_iac.resources.registry import HANDLERS

FM_H = HANDLERS["foundational_model"]
CSV = "island,bill_length_mm,flipper_length_mm,sex\nBiscoe,47.5,218,male\nDream,,190,\n"


class PostRecorder:
    """Keeps what a create POSTs (path, JSON body, multipart form) and answers with a session id."""

    def __init__(self, compute_cluster: str | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.compute_cluster = compute_cluster  # the environment's server.compute_cluster (X-Featrix-Node)

    def post(self, path: str, json: Any = None, **kw: Any) -> dict[str, Any]:
        self.calls.append({"path": path, "json": json, "data": kw.get("data")})
        return {"session_id": "s1"}


def _create(tmp_path: Path, **fields: Any) -> dict[str, Any]:
    (tmp_path / "t.csv").write_text(CSV)
    resource = FoundationalModel(**fields)
    desired = FM_H.desired("fm", resource, _ctx(tmp_path))
    client = PostRecorder()
    FM_H.create(client, Operation("foundational_model.fm", "fm", resource, desired, None, root=tmp_path))  # type: ignore[arg-type]
    return client.calls[0]


def _ctx(root: Path) -> Any:
    from featrix_iac.resources.base import DesiredContext

    return DesiredContext("p", "default", root, lambda p: "sha256:x")


def test_a_create_records_the_cluster_asked_when_the_server_names_none(tmp_path: Path) -> None:
    """A promotion compares it with prod's cluster (plan/promote.py): without it, every promotion would clone."""
    (tmp_path / "t.csv").write_text(CSV)
    resource = FoundationalModel(data="t.csv")
    desired = FM_H.desired("fm", resource, _ctx(tmp_path))
    op = Operation("foundational_model.fm", "fm", resource, desired, None, root=tmp_path)
    res = FM_H.create(PostRecorder("gpu-a"), op)  # type: ignore[arg-type]
    assert res.outputs == {"session_id": "s1", "compute_cluster": "gpu-a"}


def test_records_file_values_keep_their_types(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text(CSV)
    rows = read_records(tmp_path / "r.csv")
    assert rows[0] == {"island": "Biscoe", "bill_length_mm": 47.5, "flipper_length_mm": 218, "sex": "male"}
    assert type(rows[0]["flipper_length_mm"]) is int and type(rows[0]["bill_length_mm"]) is float
    assert rows[1] == {"island": "Dream", "bill_length_mm": None, "flipper_length_mm": 190, "sex": None}
    json.dumps(rows, allow_nan=False)  # plain JSON: no numpy scalars, no NaN


def test_records_from_json_jsonl_and_gzip(tmp_path: Path) -> None:
    records = [{"a": 1, "b": "x", "c": 2.5}, {"a": 2, "b": "y", "c": None}]
    (tmp_path / "r.json").write_text(json.dumps(records))
    (tmp_path / "r.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    (tmp_path / "r.csv.gz").write_bytes(gzip.compress(b"a,b,c\n1,x,2.5\n2,y,\n"))
    for name in ("r.json", "r.jsonl", "r.csv.gz"):
        assert read_records(tmp_path / name) == records, name


def test_records_from_parquet_keep_their_types(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    pd.DataFrame({"a": [1, 2], "b": ["x", None], "c": [2.5, float("nan")]}).to_parquet(tmp_path / "r.parquet")
    assert read_records(tmp_path / "r.parquet") == [{"a": 1, "b": "x", "c": 2.5}, {"a": 2, "b": None, "c": None}]


def test_the_url_create_sends_typed_json(tmp_path: Path) -> None:
    call = _create(tmp_path, data="https://example.com/t.csv", epochs=8, d_model=32, foundation_mode=True)
    body = call["json"]
    assert call["path"] == "/compute/create-embedding-space"
    assert body["epochs"] == 8 and body["d_model"] == 32 and body["foundation_mode"] is True
    assert isinstance(body["user_metadata"], str)  # json.dumps, as the official client sends it


def test_the_upload_sends_strings_as_the_official_form(tmp_path: Path) -> None:
    call = _create(
        tmp_path, data="t.csv", epochs=8, foundation_mode=False, sequential_timestamp_col="ts", time_column="ts"
    )
    form = call["data"]
    assert form["epochs"] == "8" and form["foundation_mode"] == "false" and form["time_column"] == "ts"
    assert form["sequential_window_units"] == "days" and form["sequential_window_interval"] == "3"


def test_upload_only_fields_with_a_url_are_refused() -> None:
    with pytest.raises(ValidationError, match="time_column needs a local data file"):
        FoundationalModel(data="https://example.com/t.csv", time_column="ts")
    with pytest.raises(ValidationError, match="sequential_timestamp_col needs a local data file"):
        FoundationalModel(data="s3://bucket/t.csv", sequential_timestamp_col="ts")
