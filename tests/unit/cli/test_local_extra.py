"""Without the `local` extra, `server.url: local` and `featrix server` say what to install (not "internal error")."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from test_project_cmds import featrix


@pytest.fixture
def no_uvicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name.split(".")[0] == "uvicorn" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


@pytest.mark.usefixtures("no_uvicorn")
def test_server_url_local_without_the_local_extra(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "featrix.yaml").write_text("version: 1\nproject: p\nserver:\n  url: local\n")
    code, _, err = featrix(capsys, "-C", str(tmp_path), "plan")
    assert code == 1 and err.startswith("Error: "), err
    assert "in featrix.yaml:4:8" in err and "featrix-iac[local]" in err and "uvicorn" in err, err
    assert "internal error" not in err and not (tmp_path / ".featrix" / "local").exists()


@pytest.mark.usefixtures("no_uvicorn")
def test_featrix_server_without_the_local_extra(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = featrix(capsys, "server", "--port", "0", "--data-dir", str(tmp_path / "d"))
    assert code == 1 and err.startswith("Error: "), err
    assert "featrix-iac[local]" in err and "uvicorn" in err and "internal error" not in err, err
