"""`featrix import ADDRESS ID`: adopt an existing server object into the lockfile after checking the manifest."""

from __future__ import annotations

import click

from featrix_iac.cli.cmd_state import ENV_OPTION, _root
from featrix_iac.cli.output import err, out

ID_HELP = """\b
ID forms:
  foundational_model.X   SESSION_ID
  predictor.X            SESSION_ID/PREDICTOR_ID, or PREDICTOR_ID
  endpoint.X             ENDPOINT_ID
  vector_database.X      SESSION_ID/NAME, or NAME
"""


@click.command("import", epilog=ID_HELP)
@ENV_OPTION
@click.argument("address")
@click.argument("object_id", metavar="ID")
def import_cmd(env: str | None, address: str, object_id: str) -> None:
    """Adopt the server object ID as ADDRESS (declared in the manifests) into the lockfile.

    The object is read from the server and must match the manifest on every field the server
    reports; otherwise nothing is recorded and the differences are listed. Predictors, endpoints
    and vector databases need what they refer to in the lockfile first (import the foundational
    model, then its predictors, then endpoints). An imported endpoint has no API key in the
    lockfile until it is rotated (raise api_key.rotation and apply).
    """
    from featrix_iac import operations

    result = operations.import_resource(_root(), env, address, object_id)
    ids = ", ".join(f"{k} {v}" for k, v in sorted(result.ids.items()))
    out(f"Imported {result.address} ({ids}).")
    if result.unverified:
        out(
            "Recorded from the manifest, unchecked (the server does not report them): "
            + ", ".join(result.unverified)
            + "."
        )
    for note in result.notes:
        err(f"Note: {note}.")
    out("Run `featrix plan` to see that it matches: it should plan no change.")
