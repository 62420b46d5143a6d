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
@click.option("--csv", "csv_file", metavar="FILE", help="Predict every row of a CSV file (a batch; see -o).")
@click.option(
    "-o", "--output", "output", metavar="FILE", help="With --csv: write the rows with prediction columns to FILE."
)
def predict_cmd(
    env: str | None,
    address: str,
    record: str | None,
    file: str | None,
    as_json: bool,
    csv_file: str | None,
    output: str | None,
) -> None:
    """Predict through endpoint.KEY (with its API key from the lockfile) or predictor.KEY.

    With --csv FILE, every row of FILE is predicted (progress on stderr) and written with prediction,
    confidence and error columns to -o FILE, or to stdout; rows the server refuses are reported and
    the others go on (exit 1 if any failed)."""
    from featrix_iac import operations

    root = operations.find_project_root()
    if csv_file is not None:
        if record is not None or file is not None or as_json:
            raise click.UsageError("--csv excludes RECORD_JSON, --file and --json")
        _batch(root, env, address, Path(csv_file), Path(output) if output else None)
        return
    if output is not None:
        raise click.UsageError("-o/--output goes with --csv")
    records = _records(record, file, lambda: operations.example_record(root, env, address))
    results = operations.predict(root, env, address, records)
    for n, (rec, result) in enumerate(zip(records, results, strict=True)):
        _warn_ignored(rec, result, f"record {n + 1}: " if len(records) > 1 else "")
    if as_json:
        out(json.dumps(results if len(results) > 1 else results[0], indent=2, sort_keys=True))
        return
    for result in results:
        out(_line(result))


def _batch(root: Path, env: str | None, address: str, source: Path, output: Path | None) -> None:
    from featrix_iac import operations
    from featrix_iac.cli.errors import EXIT_ERROR, CommandExit

    result = operations.predict_csv(root, env, address, source, output, on_row=_progress())
    if result.csv_text is not None:
        out(result.csv_text, nl=False)
    for row, why in result.failed[:10]:
        err(f"Warning: row {row} failed: {why}")
    if len(result.failed) > 10:
        err(f"Warning: ... and {len(result.failed) - 10} more rows failed (see the error column)")
    done = result.rows - len(result.failed)
    where = f" into {output}" if output else ""
    err(f"Predicted {done} of {result.rows} rows{where}; {len(result.failed)} failed.")
    if result.failed:
        raise CommandExit(EXIT_ERROR)


def _progress() -> Callable[[int, int], None]:
    """Progress on stderr: a line every 10 % (and the last row), so CI logs stay short."""
    shown = [-1]

    def on_row(done: int, total: int) -> None:
        tenth = done * 10 // max(total, 1)
        if tenth != shown[0] or done == total:
            shown[0] = tenth
            err(f"predict: {done}/{total} rows")

    return on_row
