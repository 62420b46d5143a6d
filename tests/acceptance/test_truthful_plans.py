"""Plans that tell the truth, end to end (the `featrix` CLI against one local server, steps in order).

Drift the API can read back is seen and converged (value_meaning labels, webhooks, a deprecation); what
the API cannot set back (a deprecation, a webhook secret) is a positioned refusal, never "updated"; an
un-revoked key warns; deletion protection blocking a data refresh states its way out, and following it
works; replaced predictors are "retired" in the same words everywhere and leave the lockfile with their
model; an endpoint that moved to a retrained predictor shadows nothing of the deleted model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from acceptance_helpers import Cli

from featrix_iac.state import RETIRED_NOTE

DEPRECATION = {"warning_message": "use penguins-v2", "expiration_date": "2030-01-01T00:00:00Z"}


def manifest(
    url: str,
    *,
    data: str = "data/penguins.csv",
    deprecated: bool = False,
    secret: bool = True,
    species_epochs: int = 3,
    protected: bool = False,
    revoked: bool = False,
) -> str:
    fm_extra = ""
    if deprecated:
        fm_extra = (
            "    deprecation:\n"
            f"      warning_message: {DEPRECATION['warning_message']}\n"
            f"      expiration_date: {DEPRECATION['expiration_date'][:10]}\n"
        )
    secret_line = "      webhook_secret: \"{{ env_var('FEATRIX_WEBHOOK_SECRET') }}\"\n" if secret else ""
    return f"""\
version: 1
project: truthful
server:
  url: {url}

foundational_models:
  penguins:
    data: {data}
    ignore_columns: [year]
    epochs: 3
    published: true
{fm_extra}
predictors:
  species:
    foundational_model: penguins
    type: multi_classifier
    target_column: species
    epochs: {species_epochs}
    deletion_protection: {"true" if protected else "false"}
    value_meaning:
      Adelie: small penguin
      Gentoo: big penguin
    webhooks:
      training_finished: http://127.0.0.1:9/hook
{secret_line}
endpoints:
  species_api:
    predictor: species
    api_key:
      revoked: {"true" if revoked else "false"}
"""


def lock(project: Path) -> dict[str, Any]:
    return json.loads((project / "featrix.lock").read_text(encoding="utf-8"))


def ids(project: Path, address: str) -> dict[str, str]:
    return dict(lock(project)["resources"][address]["ids"])


def api(server: Any) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"X-Api-Key": server.api_key}, timeout=30)


def refused(cli: Cli, *args: str) -> str:
    r = cli(*args)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    return r.stderr


def test_apply(cli: Cli, server: Any) -> None:
    cli.write(manifest(server.url))
    cli.ok("apply", "--auto-approve")
    assert cli("plan", "--detailed-exitcode").returncode == 0


def test_cleared_label_and_disabled_webhook_are_drift_and_converge(cli: Cli, server: Any, project: Path) -> None:
    p = ids(project, "predictor.species")
    sid, base = p["session_id"], f"/compute/session/{p['session_id']}/predictor/{p['predictor_id']}"
    with api(server) as http:
        assert http.delete(f"{base}/value_meaning/Gentoo").status_code == 200
        body = {"event_type": "training_finished", "predictor_id": p["predictor_id"]}
        assert http.post(f"/compute/session/{sid}/disable_webhook", json=body).status_code == 200
    r = cli("plan", "--detailed-exitcode")
    assert r.returncode == 2, r.stdout + r.stderr
    drift = r.stdout.split("featrix will perform")[0]
    assert "Objects changed outside featrix (drift)" in drift
    assert "~ value_meaning" in drift and "~ webhooks" in drift
    assert "value_meaning, webhooks changed outside featrix" in r.stdout
    cli.ok("apply", "--auto-approve")
    with api(server) as http:
        assert http.get(f"{base}/value_meaning").json()["value_meaning"]["Gentoo"] == "big penguin"
        hooks = http.get(f"/compute/session/{sid}/webhooks").json()["webhooks"]
    assert hooks.get("training_finished") == "http://127.0.0.1:9/hook"
    assert cli("plan", "--detailed-exitcode").returncode == 0


def test_a_deprecation_made_outside_is_refused_then_accepted(cli: Cli, server: Any, project: Path) -> None:
    sid = ids(project, "foundational_model.penguins")["session_id"]
    with api(server) as http:
        assert http.post(f"/compute/session/{sid}/deprecate", json=DEPRECATION).status_code == 200
    err = refused(cli, "plan")
    assert "Error: foundational_model.penguins: deprecation was set outside featrix" in err
    assert "in featrix.yaml:" in err and "lifecycle.ignore_changes" in err
    cli.write(manifest(server.url, deprecated=True))  # accept it: the manifest now says what the server has
    r = cli("plan", "--detailed-exitcode")
    assert r.returncode == 2 and "apply records it in the lockfile (no call to the server)" in r.stdout
    cli.ok("apply", "--auto-approve")
    assert lock(project)["resources"]["foundational_model.penguins"]["applied"]["deprecation"] == DEPRECATION
    assert cli("plan", "--detailed-exitcode").returncode == 0


@pytest.mark.parametrize(
    ("change", "words", "line"),
    [
        ({"deprecated": False}, "cannot remove deprecation from foundational_model.penguins", 8),
        ({"secret": False}, "cannot remove webhook_secret from predictor.species", 27),
    ],
)
def test_clearing_what_the_api_cannot_clear_is_refused_at_its_position(
    cli: Cli, server: Any, project: Path, change: dict[str, bool], words: str, line: int
) -> None:
    before = (project / "featrix.lock").read_text()
    cli.write(manifest(server.url, **{"deprecated": True, **change}))
    for command in (("plan",), ("apply", "--auto-approve")):
        err = refused(cli, *command)
        assert f"Error: {words}: the Featrix API cannot clear it" in err
        assert f"in featrix.yaml:{line}:" in err
        assert "updated" not in err
    assert (project / "featrix.lock").read_text() == before
    cli.write(manifest(server.url, deprecated=True))
    assert cli("plan", "--detailed-exitcode").returncode == 0


def test_un_revoking_a_key_warns_that_callers_old_key_fails(cli: Cli, server: Any) -> None:
    cli.write(manifest(server.url, deprecated=True, revoked=True))
    cli.ok("apply", "--auto-approve")
    cli.write(manifest(server.url, deprecated=True))
    r = cli("plan", "--detailed-exitcode")
    assert r.returncode == 2
    assert "re-enable the API key (a new key is generated)" in r.stdout
    assert "callers holding the old key will fail" in r.stdout
    cli.ok("apply", "--auto-approve")


def test_a_replaced_predictor_is_retired_in_the_same_words_everywhere(cli: Cli, server: Any, project: Path) -> None:
    old = ids(project, "predictor.species")
    cli.write(manifest(server.url, deprecated=True, species_epochs=4))
    r = cli("plan", "--detailed-exitcode")
    assert r.returncode == 2 and RETIRED_NOTE in r.stdout
    cli.ok("apply", "--auto-approve")
    listed = cli.ok("state", "list").stdout
    assert old["predictor_id"] in listed and RETIRED_NOTE in listed
    shown = cli.ok("state", "show", "predictor.species").stdout
    assert old["predictor_id"] in shown and "reason = replaced" in shown


def test_a_shadow_left_on_an_endpoint_is_drift_that_apply_stops(cli: Cli, server: Any, project: Path) -> None:
    """An endpoint featrix manages shadows nothing once an apply is done (e.g. one stopped between promote
    and stop_shadowing, or a shadow added by hand): refresh sees the shadow and apply stops it."""
    old = lock(project)["resources"]["predictor.species"]["retired"][0]
    eid = ids(project, "endpoint.species_api")["endpoint_id"]
    with api(server) as http:
        body = {"predictor_id": old["predictor_id"], "session_id": old["session_id"]}
        assert http.post(f"/endpoints/{eid}/shadow", json=body).status_code == 200
    r = cli("plan", "--detailed-exitcode")
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"(still shadowing {old['predictor_id']})" in r.stdout
    cli.ok("apply", "--auto-approve")
    with api(server) as http:
        shadows = (http.get(f"/endpoints/{eid}").json().get("plan") or {}).get("shadows") or []
    assert shadows == []
    assert cli("plan", "--detailed-exitcode").returncode == 0


def test_protection_blocking_a_data_refresh_states_the_way_out_and_it_works(
    cli: Cli, server: Any, project: Path
) -> None:
    lines = (project / "data" / "penguins.csv").read_text().splitlines()
    (project / "data" / "penguins-v2.csv").write_text("\n".join(lines[:-7]) + "\n")
    cli.write(manifest(server.url, deprecated=True, species_epochs=4, protected=True))
    cli.ok("apply", "--auto-approve")
    old_sid = ids(project, "foundational_model.penguins")["session_id"]
    old_pids = {ids(project, "predictor.species")["predictor_id"]}
    old_pids |= {r["predictor_id"] for r in lock(project)["resources"]["predictor.species"]["retired"]}
    new_data = {"data": "data/penguins-v2.csv", "species_epochs": 4}
    cli.write(manifest(server.url, protected=True, **new_data))  # a data refresh (new model: undeprecated)
    err = refused(cli, "plan")
    assert "cannot replace predictor.species: the lockfile records deletion protection" in err
    assert "1. set deletion_protection: false on predictor.species" in err
    assert "2. featrix apply" in err and "3. set deletion_protection: true again" in err
    cli.write(manifest(server.url, protected=False, **new_data))  # step 1
    cli.ok("apply", "--auto-approve")  # step 2
    cli.write(manifest(server.url, protected=True, **new_data))  # step 3
    cli.ok("apply", "--auto-approve")
    assert cli("plan", "--detailed-exitcode").returncode == 0

    text = (project / "featrix.lock").read_text()
    assert old_sid not in text and not any(pid in text for pid in old_pids)  # retired ones left with their model
    assert not any(pid in cli.ok("state", "list").stdout for pid in old_pids)
    with api(server) as http:
        endpoint = http.get(f"/endpoints/{ids(project, 'endpoint.species_api')['endpoint_id']}").json()
        session = http.get(f"/compute/session/{ids(project, 'foundational_model.penguins')['session_id']}").json()
    shadows = [s.get("neural_function_id") for s in (endpoint.get("plan") or {}).get("shadows") or []]
    assert not set(shadows) & old_pids, shadows  # no shadow on a predictor of the deleted model
    assert endpoint["serving_predictor_id"] == ids(project, "predictor.species")["predictor_id"]
    assert session["session"]["predictor_deletion_protection"][endpoint["serving_predictor_id"]] is True
