"""Helpers for config tests: write a small project into a temporary folder."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

# a small table with the columns the config tests name (the loader checks targets and labels against it)
DATA = "a,b,species,island,sex,year,x,y\n1,2,Adelie,Dream,male,2007,0.5,0\n3,4,Gentoo,Biscoe,female,2008,1.5,1\n"

FM = """\
version: 1
project: demo
foundational_models:
  penguins:
    data: data.csv
"""


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """write({"featrix.yaml": "...", "models/a.yaml": "..."}) → the project folder; data.csv is created."""

    def _write(files: dict[str, str], data: tuple[str, ...] = ("data.csv",)) -> Path:
        for name in data:
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(DATA, encoding="utf-8")
        for name, text in files.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text), encoding="utf-8")
        return tmp_path

    return _write
