"""`featrix predict`: a prediction through an endpoint (with its key) or a predictor that apply created."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from featrix_iac.cli.output import err, out
from featrix_iac.diagnostics import fail


def _records(record: str | None, file: str | None, example: Callable[[], dict[str, Any]]) -> list[dict[str, Any]]:
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
        sample = json.dumps(example() or {"COLUMN": "value"})
        raise click.UsageError(f"give a record as JSON, e.g. '{sample}', or --file FILE")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(f"invalid JSON in {where}", f"line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    rows = data if isinstance(data, list) else [data]
    if not rows or not all(isinstance(r, dict) for r in rows):
        raise fail(f"invalid record in {where}", "expected a JSON object, or a list of objects")
    return rows


def _warn_ignored(record: dict[str, Any], result: dict[str, Any], prefix: str) -> None:
    """The columns the model did not use (`ignored_query_columns`, featrixsphere prediction_result.py
    PredictionResult.from_response); every one of them ignored means the prediction used none of the input."""
    ignored = [c for c in result.get("ignored_query_columns") or [] if c in record]
    if not ignored:
        return
    known = ", ".join(str(c) for c in result.get("available_query_columns") or []) or "unknown"
    if len(ignored) == len(record):
        err(
            f"Warning: {prefix}the model knows none of the given columns ({', '.join(ignored)}); the prediction "
            f"used no input. Its columns: {known}."
        )
    else:
        err(f"Warning: {prefix}columns the model does not know were ignored: {', '.join(ignored)}.")


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

    root = find_project_root()
    records = _records(record, file, lambda: operations.example_record(root, env, address))
    results = operations.predict(root, env, address, records)
    for n, (rec, result) in enumerate(zip(records, results, strict=True)):
        _warn_ignored(rec, result, f"record {n + 1}: " if len(records) > 1 else "")
    if as_json:
        out(json.dumps(results if len(results) > 1 else results[0], indent=2, sort_keys=True))
        return
    for result in results:
        out(_line(result))
