"""Wall time of cold `featrix --help`, `featrix validate` of the quickstart, and of a 500-resource project.

Run: python bench/bench_validate.py [--runs N]. Prints figures; targets (2-core machine): quickstart < 0.4 s,
500 resources < 2 s. Not a test: numbers vary with the machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "examples" / "quickstart"


def featrix_cmd() -> list[str]:
    script = Path(sys.executable).parent / "featrix"
    return [str(script)] if script.exists() else [sys.executable, "-m", "featrix_iac"]


def wall(args: list[str], cwd: Path, runs: int) -> tuple[float, float]:
    """(best, median) wall seconds of `args` run `runs` times as fresh processes."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        r = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed:\n{r.stderr}")
    return min(times), statistics.median(times)


def generate(folder: Path, fms: int = 100, predictors: int = 300, endpoints: int = 80, vdbs: int = 20) -> int:
    """A project of fms + predictors + endpoints + vdbs resources over ten included files, with templates."""
    (folder / "data").mkdir(parents=True)
    shutil.copy(QUICKSTART / "data" / "penguins.csv", folder / "data" / "penguins.csv")
    (folder / "models").mkdir()
    root = [
        "version: 1",
        "project: bench-{{ environment }}",
        "variables: {epochs: 5, webhook: 'http://127.0.0.1:9/hook'}",
        "environments:",
        "  prod: {variables: {epochs: 50}}",
        "include: [models/*.yaml]",
    ]
    (folder / "featrix.yaml").write_text("\n".join(root) + "\n", encoding="utf-8")
    types = ["multi_classifier", "binary_classifier", "regressor"]
    targets = ["species", "sex", "body_mass_g"]
    for part in range(10):
        lines = ["foundational_models:"]
        lines += [
            f"  fm{i}:\n    data: ../data/penguins.csv\n    epochs: \"{{{{ var('epochs') }}}}\"\n    ignore_columns: [year]"
            for i in range(part, fms, 10)
        ]
        lines.append("predictors:")
        for i in range(part, predictors, 10):
            t = i % 3
            lines.append(
                f"  p{i}:\n    foundational_model: fm{i % fms}\n    type: {types[t]}\n    target_column: {targets[t]}\n"
                f"    webhooks: {{training_finished: \"{{{{ var('webhook') }}}}\"}}"
            )
        lines.append("endpoints:")
        lines += [f"  e{i}:\n    predictor: p{i}\n    description: endpoint {i}" for i in range(part, endpoints, 10)]
        lines.append("vector_databases:")
        lines += [
            f"  v{i}:\n    foundational_model: fm{i}\n    depends_on: [predictor.p{i}]" for i in range(part, vdbs, 10)
        ]
        (folder / "models" / f"part{part}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return fms + predictors + endpoints + vdbs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    cmd = featrix_cmd()
    print(f"featrix: {' '.join(cmd)}   python {sys.version.split()[0]}   cpus {os.cpu_count()}   runs {runs}")
    best, med = wall([*cmd, "--help"], ROOT, runs)
    print(f"cold featrix --help                    best {best:.3f} s   median {med:.3f} s")
    best, med = wall([*cmd, "validate"], QUICKSTART, runs)
    print(f"cold featrix validate (quickstart)     best {best:.3f} s   median {med:.3f} s   target < 0.4 s")
    with tempfile.TemporaryDirectory() as tmp:
        n = generate(Path(tmp) / "big")
        best, med = wall([*cmd, "validate", "-e", "prod"], Path(tmp) / "big", runs)
        print(f"cold featrix validate ({n} resources)  best {best:.3f} s   median {med:.3f} s   target < 2 s")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    print(f"(bare python start-up: {time.perf_counter() - start:.3f} s)")


if __name__ == "__main__":
    main()
