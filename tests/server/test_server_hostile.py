"""Hostile input: bombs, traversal, unbounded epochs, deep JSON, short keys, duplicate columns, file modes."""

from __future__ import annotations

import gzip
import io
import stat
from pathlib import Path
from typing import Any

import pytest

from featrix_iac.server import limits


def _upload(api: Any, raw: bytes, filename: str, **data: str) -> Any:
    return api.post("/compute/upload_with_new_session/", files={"file": (filename, raw)}, data={"epochs": "2", **data})


def _gzip_of_repeats(block: bytes, total: int) -> bytes:
    """A gzip stream inflating to `total` bytes of `block` repeats, built without holding them in memory."""
    out = io.BytesIO()
    chunk = block * max(1, (1024 * 1024) // len(block))
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as gz:
        for _ in range(total // len(chunk)):
            gz.write(chunk)
    return out.getvalue()


@pytest.fixture(scope="module")
def small(api: Any, penguins: Any) -> str:
    sid: str = api.upload(penguins.sample(80, random_state=3), "hostile", epochs=2)
    api.wait(sid)
    return sid


def test_a_gzip_bomb_is_refused_while_inflating(api: Any) -> None:
    bomb = _gzip_of_repeats(b"1,2\n", 64 * 1024 * 1024)
    assert len(bomb) < 1024 * 1024
    resp = _upload(api, bomb, "bomb.csv.gz")
    assert resp.status_code == 400, resp.text[:300]
    assert str(limits.MAX_CELLS) in resp.json()["detail"]


def test_decompressed_bytes_are_bounded_while_streaming(monkeypatch: pytest.MonkeyPatch) -> None:
    from featrix_iac.server.ml import tables

    monkeypatch.setattr(tables, "MAX_DECOMPRESSED_BYTES", 64 * 1024)
    wide = b"a,b\n" + b"x" * (256 * 1024) + b",1\n"
    with pytest.raises(tables.BadTable, match="65536"):
        tables.read_table("wide.csv.gz", gzip.compress(wide))
    with pytest.raises(tables.BadTable, match="65536"):
        tables.read_table("wide.csv", wide)


def test_a_parquet_that_inflates_past_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    from featrix_iac.server.ml import tables

    raw = io.BytesIO()
    pd.DataFrame({"a": [f"{i}" + "y" * 1000 for i in range(200)], "b": range(200)}).to_parquet(raw, compression="gzip")
    monkeypatch.setattr(tables, "MAX_DECOMPRESSED_BYTES", 100_000)
    assert len(raw.getvalue()) < 100_000
    with pytest.raises(tables.BadTable, match="100000"):
        tables.read_table("inflating.parquet", raw.getvalue())


@pytest.mark.parametrize("url", ["https://169.254.169.254/latest/x.csv", "https://metadata.google.internal/d.csv"])
def test_data_urls_never_reach_metadata_addresses(url: str) -> None:
    from featrix_iac.server.ml import tables

    with pytest.raises(tables.BadTable, match="metadata"):
        tables.read_location(url)


def test_duplicate_column_names_are_refused(api: Any) -> None:
    resp = _upload(api, b"a,b,a,c\n1,2,3,4\n5,6,7,8\n", "dupes.csv")
    assert resp.status_code == 400, resp.text
    assert "'a'" in resp.json()["detail"] and "duplicate" in resp.json()["detail"]


@pytest.mark.parametrize("route", ["/endpoints", "/compute/create-embedding-space"])
def test_over_deep_json_is_a_400(api: Any, route: str) -> None:
    import requests

    def post(body: str) -> Any:  # a fresh connection: never a keep-alive one the server is closing
        headers = api.headers({"Content-Type": "application/json", "Connection": "close"})
        return requests.post(api.url + route, data=body, headers=headers, timeout=30)

    resp = post("[" * 100_000 + "]" * 100_000)
    assert resp.status_code == 400, resp.text[:300]
    nested = '{"a": ' * 50_000 + "1" + "}" * 50_000
    resp = post('{"user_metadata": ' + repr(nested).replace("'", '"') + "}")
    assert resp.status_code == 400, resp.text[:300]


def test_predictor_epochs_are_bounded(api: Any, small: str) -> None:
    route = f"/compute/session/{small}/train_predictor"
    for epochs in (10**9, limits.MAX_EPOCHS + 1):
        resp = api.post(route, json={"target_column": "species", "target_column_type": "set", "epochs": epochs})
        assert resp.status_code == 400, resp.text
        assert str(limits.MAX_EPOCHS) in resp.json()["detail"]
    huge = api.post(route, json={"target_column": "species", "target_column_type": "set", "epochs": 1e9})
    assert huge.status_code == 422 and "epochs" in huge.json()["detail"]  # a float: the official client sends an int
    body = {"target_column": "sex", "target_column_type": "set", "epochs": 2}
    api.ok("post", route, json=body)
    api.wait(small)
    more = api.post(f"/compute/session/{small}/train_predictor_more", json={"target_column": "sex", "epochs": 10**9})
    assert more.status_code == 400, more.text
    fm = _upload(api, b"a,b\n1,2\n3,4\n", "fm.csv", epochs=str(limits.MAX_EPOCHS + 1))
    assert fm.status_code == 400, fm.text


def test_a_short_endpoint_key_is_refused(api: Any, trained: dict[str, Any]) -> None:
    body = {"name": "short", "predictor_id": trained["pids"]["sex"], "api_key": "fx_abc"}
    resp = api.post("/endpoints", json=body)
    assert resp.status_code == 400, resp.text
    assert str(limits.MIN_ENDPOINT_KEY_LENGTH) in resp.json()["detail"]


@pytest.mark.parametrize("name", ["../../escaped", "..", ".hidden", "a/b", "x" * 200, "nul\x00"])
def test_vector_database_names_cannot_reach_the_file_system(api: Any, server: Any, small: str, name: str) -> None:
    resp = api.post(f"/compute/session/{small}/vector_databases", json={"name": name, "auto_populate": True})
    assert resp.status_code == 400, resp.text
    data_dir = Path(server.data_dir)
    assert not list(data_dir.parent.rglob("escaped*"))


def test_vector_databases_are_stored_under_server_ids(api: Any, server: Any, small: str) -> None:
    base = f"/compute/session/{small}/vector_databases"
    made = api.ok("post", base, json={"name": "my db-1.v2", "auto_populate": True})
    assert made["name"] == "my db-1.v2" and "vdb_id" not in made
    stored = [p.name for p in (Path(server.data_dir) / "artifacts" / small / "vdb").iterdir()]
    assert stored and not any("my db" in p for p in stored)
    assert api.ok("post", f"{base}/my db-1.v2/search", json={"query_record": {"sex": "male"}, "k": 2})["results"]
    api.ok("delete", f"{base}/my db-1.v2")
    assert not list((Path(server.data_dir) / "artifacts" / small / "vdb").iterdir())


def test_data_files_and_folders_are_private(server: Any, small: str) -> None:
    data_dir = Path(server.data_dir)
    db = data_dir / "featrix.sqlite3"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    for folder in (data_dir, data_dir / "artifacts", data_dir / "artifacts" / small):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for path in (data_dir / "artifacts" / small).rglob("*"):
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def _chunks(raw: bytes, size: int = 256 * 1024) -> Any:
    for start in range(0, len(raw), size):
        yield raw[start : start + size]


def test_a_chunked_upload_is_read_through_a_spool(api: Any, penguins: Any) -> None:
    import pandas as pd
    from urllib3 import encode_multipart_formdata

    csv = pd.concat([penguins] * 80).to_csv(index=False).encode()  # past the in-memory part of the spool
    assert len(csv) > 1024 * 1024
    body, ctype = encode_multipart_formdata({"file": ("d.csv", csv), "epochs": "1", "name": "chunked"})
    resp = api.post("/compute/upload_with_new_session/", data=_chunks(body), headers={"Content-Type": ctype})
    assert resp.status_code == 200, resp.text
    sid = resp.json()["session_id"]
    assert api.ok("get", f"/compute/session/{sid}/columns")["num_columns"] == penguins.shape[1]
    api.ok("post", f"/compute/session/{sid}/mark_for_deletion")


def test_a_chunked_body_over_the_limit_is_a_413(api: Any) -> None:
    from featrix_iac.server.http.app import MAX_JSON_BYTES

    raw = b'{"name": "' + b"x" * (MAX_JSON_BYTES + 1) + b'"}'
    resp = api.post("/endpoints", data=_chunks(raw), headers={"Content-Type": "application/json"})
    assert resp.status_code == 413, resp.text[:200]
