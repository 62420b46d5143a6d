"""Development mode (`environments.<env>.mode: development`): train cheaply, never promote.

Applied to the manifest data after the overlay, so every later stage sees the result: each local data file is
replaced by a deterministic sample of its rows (written once under `.featrix/samples/`, named by the source's
fingerprint, so its own fingerprint is what the plan and the lockfile record), every `epochs` is capped, and every
`name` gets a prefix (the user's login by default), so developers sharing a server do not collide.
"""

from __future__ import annotations

import csv
import getpass
import hashlib
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from featrix_iac.config.yaml_source import SourceMap
from featrix_iac.diagnostics import Diagnostics
from featrix_iac.model.base import is_url

DEFAULT_SAMPLE = 0.1
DEFAULT_MAX_EPOCHS = 5
SAMPLE_DIR = Path(".featrix") / "samples"
SAMPLE_SEED = 0  # the same file and sample always give the same rows
DELIMITERS = {".csv": ",", ".tsv": "\t"}


@dataclass(frozen=True)
class Development:
    """The settings of a development environment (defaults filled in)."""

    sample: float
    max_epochs: int
    name_prefix: str


def development_of(data: dict[str, Any], env: str) -> Development | None:
    """The development settings of environment `env` in the raw manifest, None when it is not in development mode
    (wrong values are left to validation, which reports them with their positions)."""
    envs = data.get("environments")
    body = envs.get(env) if isinstance(envs, dict) else None
    if not isinstance(body, dict) or body.get("mode") != "development":
        return None
    sample, epochs, prefix = body.get("sample"), body.get("max_epochs"), body.get("name_prefix")
    ok_sample = isinstance(sample, (int, float)) and not isinstance(sample, bool) and sample > 0
    ok_epochs = isinstance(epochs, int) and not isinstance(epochs, bool) and epochs >= 1
    return Development(
        sample=float(sample) if ok_sample else DEFAULT_SAMPLE,  # type: ignore[arg-type]
        max_epochs=int(epochs) if ok_epochs else DEFAULT_MAX_EPOCHS,  # type: ignore[arg-type]
        name_prefix=prefix if isinstance(prefix, str) else _login() + "-",
    )


def recorded(project: Any, env: str) -> dict[str, Any]:
    """What a training's provenance records of a development environment ({} for any other)."""
    declared = project.environments.get(env)
    if declared is None or declared.mode != "development":
        return {}
    sample = declared.sample if declared.sample is not None else DEFAULT_SAMPLE
    return {"sample": sample, "max_epochs": declared.max_epochs or DEFAULT_MAX_EPOCHS}


def _login() -> str:
    try:
        return getpass.getuser() or "dev"
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        return "dev"


def apply_development(data: dict[str, Any], env: str, root: Path, sources: SourceMap, diags: Diagnostics) -> None:
    """Sample the data files, cap the epochs and prefix the names of every resource, in place."""
    from featrix_iac.kinds import FACTS

    dev = development_of(data, env)
    if dev is None:
        return
    for facts in FACTS.values():
        items = data.get(facts.section)
        if not isinstance(items, dict):
            continue
        fields = facts.model.model_fields
        for key, body in items.items():
            if not isinstance(body, dict):
                continue
            if "name" in fields:
                body["name"] = dev.name_prefix + str(body.get("name") or key)
            if "epochs" in fields:
                epochs = body.get("epochs")
                capped = isinstance(epochs, int) and not isinstance(epochs, bool) and epochs <= dev.max_epochs
                body["epochs"] = epochs if capped else dev.max_epochs
            for name in facts.data_fields:
                path = body.get(name)
                if not isinstance(path, str) or is_url(path) or not (root / path).is_file():
                    continue  # a URL is trained on as it is; a missing file is reported by the loader
                where = sources.value((facts.section, key, name))
                suffix = Path(path).suffix.lower()
                if suffix not in DELIMITERS:
                    diags.error(
                        f"development mode cannot sample {path}",
                        f"sample reads CSV and TSV files only, not {suffix or 'files without a suffix'}; use a "
                        "smaller file in this environment's overlay",
                        address=f"{facts.name}.{key}",
                        source=where,
                    )
                    continue
                body[name] = sample_file(root, path, dev.sample)


def sample_file(root: Path, path: str, sample: float) -> str:
    """A deterministic sample of the rows of `path` (a fraction below 1, else a row count), written once under
    .featrix/samples/ and named by the source's content; returns its path relative to `root`."""
    source = root / path
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    spec = f"{sample:g}".replace(".", "_")
    target = SAMPLE_DIR / f"{Path(path).stem}.sample-{spec}.{digest}{Path(path).suffix.lower()}"
    if (root / target).is_file():
        return target.as_posix()
    delimiter = DELIMITERS[Path(path).suffix.lower()]
    with source.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh, delimiter=delimiter))
    header, body = rows[:1], rows[1:]
    count = max(1, round(len(body) * sample)) if sample < 1 else int(sample)
    chosen = sorted(random.Random(SAMPLE_SEED).sample(range(len(body)), min(count, len(body))))
    (root / target).parent.mkdir(parents=True, exist_ok=True)
    partial = (root / target).with_suffix(".partial")
    with partial.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, delimiter=delimiter, lineterminator="\n").writerows([*header, *(body[i] for i in chosen)])
    partial.replace(root / target)
    return target.as_posix()
