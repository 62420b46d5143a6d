"""The example projects validate clean in every environment and are canonically formatted."""

from __future__ import annotations

from pathlib import Path

import pytest

from featrix_iac.config import load_project
from featrix_iac.config.fmt import format_text

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SCHEMA_COMMENT = "# yaml-language-server: $schema="


def test_quickstart_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FEATRIX_WEBHOOK_SECRET", raising=False)
    p = load_project(EXAMPLES / "quickstart").project
    assert {pr.type.value for pr in p.predictors.values()} == {"multi_classifier", "binary_classifier", "regressor"}
    assert p.predictors["species"].webhooks is not None
    assert p.predictors["species"].webhooks.webhook_secret == "dev-only-secret"
    assert p.foundational_models["penguins"].published is True
    assert p.endpoints["species_api"].predictor == "species"
    assert p.server.url == "local"
    assert (EXAMPLES / "quickstart" / p.foundational_models["penguins"].data).is_file()


@pytest.mark.parametrize("env", [None, "dev", "staging", "prod"])
def test_multi_env_validates_in_every_environment(env: str | None) -> None:
    p = load_project(EXAMPLES / "multi-env", env).project
    assert p.project == f"penguins-{env or 'default'}"
    assert p.vector_databases["similar_penguins"].records_file == "data/new_penguins.csv"


def test_multi_env_prod_overlay() -> None:
    p = load_project(EXAMPLES / "multi-env", "prod").project
    assert p.server.url == "https://sphere-api.featrix.com"
    assert p.foundational_models["penguins"].epochs == 100
    assert p.foundational_models["penguins"].lifecycle.prevent_destroy is True


MANIFESTS = sorted([*(EXAMPLES / "quickstart").rglob("*.yaml"), *(EXAMPLES / "multi-env").rglob("*.yaml")])


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_examples_point_at_the_schema_and_are_formatted(path: Path) -> None:
    assert len(MANIFESTS) == 4
    text = path.read_text(encoding="utf-8")
    first = text.splitlines()[0]
    assert first.startswith(SCHEMA_COMMENT)
    schema = (path.parent / first.removeprefix(SCHEMA_COMMENT)).resolve()
    expected = "featrix.schema.json" if path.name == "featrix.yaml" else "featrix.include.schema.json"
    assert schema.name == expected and schema.is_file()  # an included file has no `project` to be asked for
    assert format_text(text) == text
