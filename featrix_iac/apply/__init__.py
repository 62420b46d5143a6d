"""apply: executes a Plan — parallel DAG walk, training waits, lockfile after every step, events to an observer."""

from __future__ import annotations

from featrix_iac.apply.applier import ApplyError, apply_plan
from featrix_iac.apply.events import Interrupt, NullObserver, Observer, RecordingObserver
from featrix_iac.apply.tracking import ApplyResult

__all__ = ["ApplyError", "ApplyResult", "Interrupt", "NullObserver", "Observer", "RecordingObserver", "apply_plan"]
