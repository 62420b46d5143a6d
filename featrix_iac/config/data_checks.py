"""Checks of the manifest against its data files' profiles: columns exist, types fit targets, labels are values."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from featrix_iac.addresses import SECTIONS
from featrix_iac.config.data_profile import DataProfile, UnreadableData, data_format, profile_file
from featrix_iac.config.overlay import did_you_mean
from featrix_iac.config.yaml_source import Path_, SourceMap
from featrix_iac.diagnostics import Diagnostics, Source
from featrix_iac.model import Project
from featrix_iac.model.base import is_url
from featrix_iac.model.resources import FOUNDATIONAL_MODEL, PREDICTOR, VECTOR_DATABASE

MAX_CLASSES = 50  # a multi classifier whose target has more distinct values than this gets a warning
# the sections these checks read (each kind's facts): the checks are about those kinds' own fields
FM, PRED, VDB = FOUNDATIONAL_MODEL.section, PREDICTOR.section, VECTOR_DATABASE.section


@dataclass
class _Checker:
    project: Project
    root: Path
    sources: SourceMap
    diags: Diagnostics
    cache_dir: Path | None

    def error(self, path: Path_, summary: str, detail: str) -> None:
        self.diags.error(summary, detail, address=f"{_kind(path[0])}.{path[1]}", source=self._where(path))

    def warning(self, path: Path_, summary: str, detail: str) -> None:
        self.diags.warning(summary, detail, address=f"{_kind(path[0])}.{path[1]}", source=self._where(path))

    def _where(self, path: Path_) -> Source | None:
        """A mapping key's own position for labels and column names used as keys, else the value's."""
        keyed = len(path) > 3 and isinstance(path[-1], str)
        return (self.sources.key(path) if keyed else None) or self.sources.value(path)

    def profile(self, path: Path_, value: str) -> DataProfile | None:
        """The profile of a local data file, or None (a URL, or unreadable: then a warning says so)."""
        if is_url(value) or data_format(value) is None and not (self.root / value).is_file():
            return None
        try:
            profile = profile_file(self.root / value, self.cache_dir)
        except UnreadableData as exc:
            self.warning(path, "Cannot read the data file's columns", f'"{value}": {exc}. Data checks are skipped.')
            return None
        except OSError:
            return None  # reported as "Data file not found" by the loader
        if profile.duplicates:
            names = ", ".join(f'"{n}"' for n in profile.duplicates)
            self.error(path, "Duplicate column names in the data file", f'"{value}" has {names} more than once.')
        return profile

    def column(self, path: Path_, name: str, profile: DataProfile, data: str, what: str) -> bool:
        if profile.column(name) is not None:
            return True
        self.error(
            path, f'Unknown column "{name}"', f'{what} "{name}" is not a column of {data}.{_hint(name, profile)}'
        )
        return False


def check_data(project: Project, root: Path, sources: SourceMap, diags: Diagnostics, cache_dir: Path | None) -> None:
    """Add a positioned diagnostic for every way the manifest contradicts its data files."""
    checker = _Checker(project, root, sources, diags, cache_dir)
    profiles: dict[str, DataProfile] = {}
    by_file: dict[str, DataProfile | None] = {}  # models often share a data file: profiled (or warned) once
    for key, fm in project.foundational_models.items():
        if fm.data not in by_file:
            by_file[fm.data] = checker.profile((FM, key, "data"), fm.data)
        profile = by_file[fm.data]
        if profile is not None:
            profiles[key] = profile
            _check_foundational_model(checker, key, profile)
    for key, pred in project.predictors.items():
        fm_profile = profiles.get(pred.foundational_model)
        if fm_profile is not None:
            _check_predictor(checker, key, fm_profile)
    for key, vdb in project.vector_databases.items():
        fm_profile = profiles.get(vdb.foundational_model)
        if fm_profile is not None:
            _check_vector_database(checker, key, fm_profile)


def _check_foundational_model(c: _Checker, key: str, profile: DataProfile) -> None:
    fm = c.project.foundational_models[key]
    for i, name in enumerate(fm.ignore_columns):
        c.column((FM, key, "ignore_columns", i), name, profile, fm.data, "ignore_columns entry")
    for name in fm.column_overrides:
        c.column((FM, key, "column_overrides", name), name, profile, fm.data, "column_overrides key")
    for field in ("time_column", "sequential_timestamp_col", "sequential_entity_id_col"):
        name = getattr(fm, field)
        if name:
            c.column((FM, key, field), name, profile, fm.data, field)


def _check_predictor(c: _Checker, key: str, profile: DataProfile) -> None:
    pred = c.project.predictors[key]
    data = c.project.foundational_models[pred.foundational_model].data
    if pred.group_column:
        c.column((PRED, key, "group_column"), pred.group_column, profile, data, "group_column")
    if not c.column((PRED, key, "target_column"), pred.target_column, profile, data, "target_column"):
        return
    target = profile.column(pred.target_column)
    assert target is not None
    _check_type(c, key, profile, data)
    labels = target.distinct
    if pred.type.value == "regressor" or labels is None:
        return
    named: list[tuple[Path_, str, str]] = []
    if pred.rare_label_value is not None:
        named.append(((PRED, key, "rare_label_value"), pred.rare_label_value, "rare_label_value"))
    for field in ("class_imbalance", "label_mapping", "value_meaning"):
        for label in getattr(pred, field) or {}:
            named.append(((PRED, key, field, label), label, f"{field} label"))
    for path, label, what in named:
        _check_label(c, path, label, what, labels, profile, pred.target_column)


def _check_type(c: _Checker, key: str, profile: DataProfile, data: str) -> None:
    pred = c.project.predictors[key]
    target = profile.column(pred.target_column)
    assert target is not None
    path: Path_ = (PRED, key, "type")
    where = f'column "{target.name}" of {data}'
    kind = pred.type.value
    if kind == "regressor":
        if not target.numeric and target.dtype != "empty":
            c.error(
                path, "A regressor needs a numeric target", f"{where} holds {target.dtype} values{_sample(target)}."
            )
        return
    labels = target.distinct
    if labels is None:
        if kind == "binary_classifier":
            c.error(
                path, "A binary classifier needs exactly two classes", f"{where} has more than two distinct values."
            )
        else:
            c.warning(path, "Many classes", f"{where} has more than {MAX_CLASSES} distinct values.")
        return
    n, seen = len(labels), _seen(profile)
    if kind == "binary_classifier" and (n > 2 or (n < 2 and profile.complete)):
        c.error(path, "A binary classifier needs exactly two classes", f"{where} has {n} {seen}: {_few(labels)}.")
    elif kind == "multi_classifier" and n < 2 and profile.complete:
        c.error(path, "A multi classifier needs at least two classes", f"{where} has {n} {seen}: {_few(labels)}.")
    elif kind == "multi_classifier" and n > MAX_CLASSES:
        c.warning(path, "Many classes", f"{where} has {n} {seen} (more than {MAX_CLASSES}).")
    elif n < 2:
        c.warning(path, "Too few classes in the sample", f"{where} has {n} {seen}: {_few(labels)}.")


def _check_label(
    c: _Checker, path: Path_, label: str, what: str, labels: set[str], profile: DataProfile, column: str
) -> None:
    if label in labels:
        return
    hint = did_you_mean(label, labels)
    detail = f'{what} "{label}" is not a value of column "{column}" ({_few(labels)}).{hint}'
    if profile.complete:
        c.error(path, f'Unknown label "{label}"', detail)
    else:
        c.warning(path, f'Label "{label}" not seen in the data\'s first {profile.sample_rows} rows', detail)


def _check_vector_database(c: _Checker, key: str, fm_profile: DataProfile) -> None:
    vdb = c.project.vector_databases[key]
    data = c.project.foundational_models[vdb.foundational_model].data
    for i, record in enumerate(vdb.records):
        for name in record:
            c.column((VDB, key, "records", i, name), name, fm_profile, data, "record field")
    if not vdb.records_file:
        return
    profile = c.profile((VDB, key, "records_file"), vdb.records_file)
    if profile is None:
        return
    path: Path_ = (VDB, key, "records_file")
    for col in profile.columns:
        if not c.column(path, col.name, fm_profile, data, f"{vdb.records_file} column"):
            continue
        want = fm_profile.column(col.name)
        assert want is not None
        if _family(col.dtype) != _family(want.dtype) and "empty" not in (col.dtype, want.dtype):
            c.error(
                path,
                f'Column "{col.name}" has another type than in the foundational model\'s data',
                f"{vdb.records_file} holds {col.dtype} values in it, {data} holds {want.dtype}.",
            )


def _family(dtype: str) -> str:
    return "number" if dtype in ("int", "float") else dtype


def _kind(section: str | int) -> str:
    return SECTIONS[str(section)]


def _hint(name: str, profile: DataProfile) -> str:
    hint = did_you_mean(name, profile.names)
    return hint or f" Columns: {_few(profile.names)}."


def _seen(profile: DataProfile) -> str:
    return "distinct values" if profile.complete else f"distinct values in its first {profile.sample_rows} rows"


def _sample(column: object) -> str:
    values = getattr(column, "values", None)
    return f" (e.g. {_few(values, 3)})" if values else ""


def _few(values: Iterable[str], n: int = 8) -> str:
    items = sorted(values)
    shown = ", ".join(f'"{v}"' for v in items[:n])
    return shown + (f", … ({len(items)} in all)" if len(items) > n else "")
