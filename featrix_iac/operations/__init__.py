"""The one place that wires config → graph → state → client (or the embedded server) → refresh → planner → apply.

Every command of the CLI goes through here (cli/ imports only operations, diagnostics and, for
`featrix server`, server). Nothing here prints: progress goes to the observer the CLI passes, results
come back as data, failures are DiagnosticsError. What only apply needs (applying, saved, views) is
imported by its own module name, so that commands which do not apply start fast.
"""

from typing import TYPE_CHECKING

from featrix_iac.addresses import is_address
from featrix_iac.config import LoadedProject, find_project_root
from featrix_iac.model.secrets import REDACTED
from featrix_iac.operations.batch import BatchResult, predict_csv
from featrix_iac.operations.checks import CheckResult, run_checks
from featrix_iac.operations.planning import (
    PlanResult,
    desired_of,
    fingerprints_of,
    make_plan_with,
    plan,
)
from featrix_iac.operations.quality import QualityResult, assess_quality
from featrix_iac.operations.reading import (
    OutputValue,
    example_record,
    output,
    outputs,
    predict,
    retired_note,
    state_list,
    state_show,
)
from featrix_iac.operations.session import LOCAL, Session, connect, load, open_session

if TYPE_CHECKING:  # the client (httpx) is imported only by the commands that talk to a server
    from featrix_iac.client import RetryEvent as RetryEvent
from featrix_iac.operations.surgery import ImportResult, import_resource, state_mv, state_rm, unlock
from featrix_iac.operations.team_state import state_history, state_migrate, state_pull, state_push
from featrix_iac.operations.why import why
from featrix_iac.resources.gates import details as gate_details

__all__ = [
    "LOCAL",
    "REDACTED",
    "BatchResult",
    "CheckResult",
    "ImportResult",
    "LoadedProject",
    "OutputValue",
    "PlanResult",
    "QualityResult",
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
    "state_pull",
    "state_push",
    "state_mv",
    "state_rm",
    "state_show",
    "unlock",
    "why",
]
