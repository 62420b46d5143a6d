"""Shared pieces of the acceptance tests: the fixture project's manifest and the canary secrets."""

from __future__ import annotations

LOCK_KEY = "acceptance-lock-key-5d1f0c"
WEBHOOK_SECRET = "acceptance-webhook-secret-c4n4ry"


def manifest(
    url: str,
    *,
    published: bool = True,
    species_epochs: int = 5,
    endpoint: bool = True,
    prevent_destroy: bool = False,
    fm_epochs: int = 3,
    vector_database: bool = True,
    vdb_records: int = 1,
    data: str = "data/penguins.csv",
    rotation: int = 0,
    sex_epochs: int = 5,
) -> str:
    """A small project: one foundational model (few epochs), two predictors, one endpoint."""
    lifecycle = "    lifecycle:\n      prevent_destroy: true\n" if prevent_destroy else ""
    text = f"""\
version: 1
project: acceptance
server:
  url: {url}

foundational_models:
  penguins:
    data: {data}
    ignore_columns: [year]
    epochs: {fm_epochs}
    published: {"true" if published else "false"}
{lifecycle}
predictors:
  species:
    foundational_model: penguins
    type: multi_classifier
    target_column: species
    epochs: {species_epochs}
    webhooks:
      training_finished: http://127.0.0.1:9/hook
      webhook_secret: "{{{{ env_var('FEATRIX_WEBHOOK_SECRET') }}}}"
  sex:
    foundational_model: penguins
    type: binary_classifier
    target_column: sex
    rare_label_value: female
    epochs: {sex_epochs}
"""
    if endpoint:
        text += """
endpoints:
  species_api:
    predictor: species
    description: Penguin species from measurements
"""
    if endpoint and rotation:
        text += f"""    api_key:
      rotation: {rotation}
"""
    if vector_database:
        text += """
vector_databases:
  catalog:
    foundational_model: penguins
    records:
"""
        for i in range(vdb_records):
            text += (
                f"      - {{bill_length_mm: {40 + i}.0, bill_depth_mm: 18.0, flipper_length_mm: 190, island: Biscoe}}\n"
            )
    return text
