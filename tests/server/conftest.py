"""One local server (test hooks on) per test session, an HTTP helper, a trained penguins model, a webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fxserver_helpers import Api, Receiver

from featrix_iac.server.embedded import LocalServer, start_local_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with start_local_server(tmp_path_factory.mktemp("server"), test_hooks=True) as srv:
        yield srv


@pytest.fixture(scope="session")
def api(server: LocalServer) -> Api:
    return Api(server.url, server.api_key)


@pytest.fixture(scope="session")
def penguins() -> Any:
    import palmerpenguins

    return palmerpenguins.load_penguins()


@pytest.fixture(scope="session")
def trained(api: Api, penguins: Any) -> dict[str, Any]:
    """The quickstart: a penguins foundational model and three predictors, trained (few epochs)."""
    sid = api.upload(penguins, "quickstart", epochs=6, user_metadata={"owner": "tests"})
    pids = {}
    for target, ttype in (("species", "set"), ("sex", "set"), ("body_mass_g", "scalar")):
        body = {"target_column": target, "target_column_type": ttype, "epochs": 12, "name": target}
        pids[target] = api.ok("post", f"/compute/session/{sid}/train_predictor", json=body)["predictor_id"]
    doc = api.wait(sid)
    assert doc["session"]["status"] == "done", doc
    return {"sid": sid, "pids": pids, "doc": doc}


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.httpd.shutdown()


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"
