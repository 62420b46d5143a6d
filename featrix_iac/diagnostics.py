"""Positioned diagnostics: every user-facing problem, collected and reported together."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Source:
    """A position in a manifest file (1-based line and column)."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.col}" if self.col > 0 else f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    summary: str
    detail: str = ""
    address: str = ""
    source: Source | None = None

    def sort_key(self) -> tuple[str, int, int, str]:
        s = self.source
        return (s.file if s else "~", s.line if s else 0, s.col if s else 0, self.summary)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"severity": self.severity.value, "summary": self.summary}
        if self.detail:
            out["detail"] = self.detail
        if self.address:
            out["address"] = self.address
        if self.source:
            out["range"] = {"file": self.source.file, "line": self.source.line, "col": self.source.col}
        return out


@dataclass
class Diagnostics:
    """An ordered collection of diagnostics; `has_errors` decides the exit code."""

    items: list[Diagnostic] = field(default_factory=list)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def add(self, d: Diagnostic) -> None:
        if d not in self.items:
            self.items.append(d)

    def extend(self, ds: Iterable[Diagnostic]) -> None:
        for d in ds:
            self.add(d)

    def error(self, summary: str, detail: str = "", address: str = "", source: Source | None = None) -> None:
        self.add(Diagnostic(Severity.ERROR, summary, detail, address, source))

    def warning(self, summary: str, detail: str = "", address: str = "", source: Source | None = None) -> None:
        self.add(Diagnostic(Severity.WARNING, summary, detail, address, source))

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        return sorted(self.items, key=Diagnostic.sort_key)


class DiagnosticsError(Exception):
    """Raised by the core when diagnostics contain errors; the CLI renders them."""

    def __init__(self, diagnostics: Diagnostics | Iterable[Diagnostic]):
        if not isinstance(diagnostics, Diagnostics):
            diagnostics = Diagnostics(list(diagnostics))
        self.diagnostics = diagnostics
        first = next(iter(diagnostics), None)
        super().__init__(first.summary if first else "error")


def fail(summary: str, detail: str = "", address: str = "", source: Source | None = None) -> DiagnosticsError:
    """Build a one-diagnostic error to raise: `raise fail("...", detail=...)`."""
    ds = Diagnostics()
    ds.error(summary, detail, address, source)
    return DiagnosticsError(ds)
