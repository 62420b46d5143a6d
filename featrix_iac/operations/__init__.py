"""The one place that wires config → graph → state → client (or the embedded server) → refresh → planner → apply.

Every command of the CLI goes through here (cli/ imports only operations, diagnostics and, for
`featrix server`, server). Nothing here prints: progress goes to the observer the CLI passes, results
come back as data, failures are DiagnosticsError. Each name is imported when first
asked for (PEP 562), and what only apply needs (applying, saved, views) by its own module name, so that a
command imports only what it uses.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import featrix_iac.model  # noqa: F401  # registers the built-in kinds: no text is an address before that

if TYPE_CHECKING:  # `X as X`: re-exported, for the type checker; at run time __getattr__ imports them
    from featrix_iac.addresses import is_address as is_address
    from featrix_iac.client import RetryEvent as RetryEvent
    from featrix_iac.config import LoadedProject as LoadedProject
    from featrix_iac.config import find_project_root as find_project_root
    from featrix_iac.model.secrets import REDACTED as REDACTED
    from featrix_iac.operations.batch import BatchResult as BatchResult
    from featrix_iac.operations.batch import predict_csv as predict_csv
    from featrix_iac.operations.checks import CheckResult as CheckResult
    from featrix_iac.operations.checks import run_checks as run_checks
    from featrix_iac.operations.planning import PlanOptions as PlanOptions
    from featrix_iac.operations.planning import PlanResult as PlanResult
    from featrix_iac.operations.planning import desired_of as desired_of
    from featrix_iac.operations.planning import fingerprints_of as fingerprints_of
    from featrix_iac.operations.planning import make_plan_with as make_plan_with
    from featrix_iac.operations.planning import plan as plan
    from featrix_iac.operations.quality import QualityResult as QualityResult
    from featrix_iac.operations.quality import assess_quality as assess_quality
    from featrix_iac.operations.reading import OutputValue as OutputValue
    from featrix_iac.operations.reading import example_record as example_record
    from featrix_iac.operations.reading import output as output
    from featrix_iac.operations.reading import outputs as outputs
    from featrix_iac.operations.reading import predict as predict
    from featrix_iac.operations.reading import retired_note as retired_note
    from featrix_iac.operations.reading import state_list as state_list
    from featrix_iac.operations.reading import state_show as state_show
    from featrix_iac.operations.session import LOCAL as LOCAL
    from featrix_iac.operations.session import Session as Session
    from featrix_iac.operations.session import connect as connect
    from featrix_iac.operations.session import load as load
    from featrix_iac.operations.session import open_session as open_session
    from featrix_iac.operations.surgery import ImportResult as ImportResult
    from featrix_iac.operations.surgery import import_resource as import_resource
    from featrix_iac.operations.surgery import state_mv as state_mv
    from featrix_iac.operations.surgery import state_rm as state_rm
    from featrix_iac.operations.surgery import unlock as unlock
    from featrix_iac.operations.team_state import state_history as state_history
    from featrix_iac.operations.team_state import state_migrate as state_migrate
    from featrix_iac.operations.team_state import state_pull as state_pull
    from featrix_iac.operations.team_state import state_push as state_push
    from featrix_iac.operations.why import why as why
    from featrix_iac.resources.gates import details as gate_details

_HOME = {  # name -> its module (`module:attribute` when it is known here by another name)
    "BatchResult": "featrix_iac.operations.batch",
    "CheckResult": "featrix_iac.operations.checks",
    "ImportResult": "featrix_iac.operations.surgery",
    "LOCAL": "featrix_iac.operations.session",
    "LoadedProject": "featrix_iac.config",
    "OutputValue": "featrix_iac.operations.reading",
    "PlanOptions": "featrix_iac.operations.planning",
    "PlanResult": "featrix_iac.operations.planning",
    "QualityResult": "featrix_iac.operations.quality",
    "REDACTED": "featrix_iac.model.secrets",
    "RetryEvent": "featrix_iac.client",
    "Session": "featrix_iac.operations.session",
    "assess_quality": "featrix_iac.operations.quality",
    "connect": "featrix_iac.operations.session",
    "desired_of": "featrix_iac.operations.planning",
    "example_record": "featrix_iac.operations.reading",
    "find_project_root": "featrix_iac.config",
    "fingerprints_of": "featrix_iac.operations.planning",
    "gate_details": "featrix_iac.resources.gates:details",
    "import_resource": "featrix_iac.operations.surgery",
    "is_address": "featrix_iac.addresses",
    "load": "featrix_iac.operations.session",
    "make_plan_with": "featrix_iac.operations.planning",
    "open_session": "featrix_iac.operations.session",
    "output": "featrix_iac.operations.reading",
    "outputs": "featrix_iac.operations.reading",
    "plan": "featrix_iac.operations.planning",
    "predict": "featrix_iac.operations.reading",
    "predict_csv": "featrix_iac.operations.batch",
    "retired_note": "featrix_iac.operations.reading",
    "run_checks": "featrix_iac.operations.checks",
    "state_history": "featrix_iac.operations.team_state",
    "state_list": "featrix_iac.operations.reading",
    "state_migrate": "featrix_iac.operations.team_state",
    "state_mv": "featrix_iac.operations.surgery",
    "state_pull": "featrix_iac.operations.team_state",
    "state_push": "featrix_iac.operations.team_state",
    "state_rm": "featrix_iac.operations.surgery",
    "state_show": "featrix_iac.operations.reading",
    "unlock": "featrix_iac.operations.surgery",
    "why": "featrix_iac.operations.why",
}
__all__ = [
    "BatchResult",
    "CheckResult",
    "ImportResult",
    "LOCAL",
    "LoadedProject",
    "OutputValue",
    "PlanOptions",
    "PlanResult",
    "QualityResult",
    "REDACTED",
    "Session",
    "assess_quality",
    "connect",
    "desired_of",
    "example_record",
    "find_project_root",
    "fingerprints_of",
    "gate_details",
    "import_resource",
    "is_address",
    "load",
    "make_plan_with",
    "open_session",
    "output",
    "outputs",
    "plan",
    "predict",
    "predict_csv",
    "retired_note",
    "run_checks",
    "state_history",
    "state_list",
    "state_migrate",
    "state_mv",
    "state_pull",
    "state_push",
    "state_rm",
    "state_show",
    "unlock",
    "why",
]


def lazy_attributes(name: str, homes: dict[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """Module `name`'s PEP 562 `__getattr__`: imports an attribute from its home ("module", or "module:attribute"
    when it is named otherwise there) when first asked for, and keeps it in `namespace` (the module's globals)."""

    def attribute_of(attribute: str) -> Any:
        home = homes.get(attribute)
        if home is None:  # a submodule (operations.applying) is then imported by the import system
            raise AttributeError(f"module {name!r} has no attribute {attribute!r}")
        module, _, there = home.partition(":")
        value = getattr(importlib.import_module(module), there or attribute)
        namespace[attribute] = value
        return value

    return attribute_of


__getattr__ = lazy_attributes(__name__, _HOME, globals())
