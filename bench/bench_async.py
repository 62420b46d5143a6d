"""Apply overhead over the server's own job durations, with realistic asynchronous semantics on (issue 8).

Run: python bench/bench_async.py [--publish-seconds 60] [--shadow-seconds 30] [--fm-epochs 8]
A local server with `--realism` semantics (trainings queue when every worker is busy and the session then
404s for 20 s; publish and shadow are jobs of the given durations) serves two applies of the quickstart
(through the real CLI): the first creates everything (upload, training, publish, three predictors, the
endpoint); the second follows a data change (new foundational model, publish, predictors retrained, the
endpoint moved by shadow -> promote, the old model deleted). For each apply it prints the wall time, the
server's busy span (first job created -> last job finished, from the server's own records: trainings and
publish jobs) and their difference and ratio: what waiting, polling and the engine's own work add. It
asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "examples" / "quickstart"


def _ts(value: object) -> float | None:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return None


def server_span(data_dir: Path, since: float) -> tuple[float, int]:
    """(seconds from the first job created after `since` to the last one finished, number of jobs)."""
    db = sqlite3.connect(f"file:{data_dir / 'featrix.sqlite3'}?mode=ro", uri=True)
    rows = db.execute("SELECT data FROM docs WHERE kind IN ('job', 'publish_job')").fetchall()
    db.close()
    starts, ends = [], []
    for (raw,) in rows:
        doc = json.loads(raw)
        created, finished = _ts(doc.get("created_at")), _ts(doc.get("finished_at"))
        if created is None or created < since or finished is None:
            continue
        starts.append(created)
        ends.append(finished)
    return (max(ends) - min(starts) if starts else float("nan")), len(starts)


def run_apply(root: Path, env: dict[str, str], data_dir: Path, label: str) -> None:
    since = time.time()
    start = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "featrix_iac", "-C", str(root), "apply", "--auto-approve"],
        capture_output=True,
        text=True,
        env=env,
    )
    wall = time.perf_counter() - start
    if r.returncode != 0:
        print(f"{label}: apply failed ({r.returncode})\n{r.stdout}\n{r.stderr}")
        raise SystemExit(1)
    time.sleep(0.5)  # the last job's finish is written just after the engine sees it
    span, jobs = server_span(data_dir, since)
    print(
        f"{label:<34} apply {wall:7.1f} s   server busy {span:7.1f} s ({jobs} jobs)   "
        f"overhead {wall - span:6.1f} s   ratio {wall / span:5.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--publish-seconds", type=float, default=60.0)
    parser.add_argument("--shadow-seconds", type=float, default=30.0)
    parser.add_argument("--fm-epochs", type=int, default=8)
    args = parser.parse_args()

    from featrix_iac.server.embedded import start_local_server

    work = Path(tempfile.mkdtemp(prefix="bench-async-"))
    data_dir = work / "server"
    server_env = {
        "FEATRIX_LOCAL_REALISM": "1",
        "FEATRIX_LOCAL_PUBLISH_SECONDS": str(args.publish_seconds),
        "FEATRIX_LOCAL_SHADOW_SECONDS": str(args.shadow_seconds),
    }
    print(f"realistic semantics: publish {args.publish_seconds:.0f} s, shadow {args.shadow_seconds:.0f} s, queued 404s")
    try:
        with start_local_server(data_dir, env=server_env) as srv:
            root = work / "project"
            shutil.copytree(QUICKSTART, root)
            manifest = root / "featrix.yaml"
            text = manifest.read_text(encoding="utf-8").replace("url: local", f"url: {srv.url}")
            manifest.write_text(text.replace("fm_epochs: 8", f"fm_epochs: {args.fm_epochs}"), encoding="utf-8")
            env = {k: v for k, v in os.environ.items() if not k.startswith("FEATRIX_")}
            env.update(
                FEATRIX_API_KEY=srv.api_key,
                NO_COLOR="1",
                FEATRIX_LOCK_KEY="YmVuY2gtYXN5bmMtbG9jay1rZXktMzItYnl0ZXMhISE=",
            )
            run_apply(root, env, data_dir, "create (train, publish, endpoint)")
            data = root / "data" / "penguins.csv"
            lines = data.read_text(encoding="utf-8").splitlines(keepends=True)
            data.write_text("".join(lines[:-7]), encoding="utf-8")
            run_apply(root, env, data_dir, "data change (replace, shadow)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
