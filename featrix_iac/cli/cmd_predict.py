"""`featrix predict`: a prediction through an endpoint (with its key) or a predictor that apply created."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from featrix_iac.cli.output import out
from featrix_iac.diagnostics import fail


def _records(record: str | None, file: str | None) -> list[dict[str, Any]]:
    where = "the RECORD argument"
    if file:
        where = file
        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        except OSError as exc:
            raise fail(f"cannot read {file}", exc.strerror or str(exc)) from None
    elif record is not None:
        text = record
    else:
        raise click.UsageError("give a record as JSON, e.g. '{\"bill_length_mm\": 39.1}', or --file FILE")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(f"invalid JSON in {where}", f"line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    rows = data if isinstance(data, list) else [data]
    if not rows or not all(isinstance(r, dict) for r in rows):
        raise fail(f"invalid record in {where}", "expected a JSON object, or a list of objects")
    return rows


def _line(result: dict[str, Any]) -> str:
    if result.get("predicted_class") is not None:
        conf = result.get("confidence")
        tail = f" (confidence {conf:.2f})" if isinstance(conf, (int, float)) else ""
        return f"{result['predicted_class']}{tail}"
    if result.get("prediction") is not None:
        return str(result["prediction"])
    status = result.get("status") or (result.get("training_status") or {}).get("status")
    return f"no prediction yet: {status or 'unknown status'}"


@click.command("predict")
@click.option("-e", "--env", "env", metavar="ENV", help="Environment overlay (default: none).")
@click.argument("address", metavar="ADDRESS")
@click.argument("record", required=False, metavar="[RECORD_JSON]")
@click.option("--file", "file", metavar="FILE", help="Read a JSON record or list of records from FILE ('-' for stdin).")
@click.option("--json", "as_json", is_flag=True, help="Print the server's full answers as JSON.")
def predict_cmd(env: str | None, address: str, record: str | None, file: str | None, as_json: bool) -> None:
    """Predict through endpoint.KEY (with its API key from the lockfile) or predictor.KEY."""
    from featrix_iac import operations
    from featrix_iac.config import find_project_root

    results = operations.predict(find_project_root(), env, address, _records(record, file))
    if as_json:
        out(json.dumps(results if len(results) > 1 else results[0], indent=2, sort_keys=True))
        return
    for result in results:
        out(_line(result))
