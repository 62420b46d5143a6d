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
    data: data/penguins.csv
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
    epochs: 5
"""
    if endpoint:
        text += """
endpoints:
  species_api:
    predictor: species
    description: Penguin species from measurements
"""
    return text
