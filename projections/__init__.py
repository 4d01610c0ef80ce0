"""Read models in PostgreSQL, each a function of the event stream (docs/projections.md).

One module per read model with its SQL and its queries beside it; `engine` defines them and
their versions (a new one is rebuilt beside the live one), `runner` applies them in batches,
exactly once.
"""

from projections.audit_trail import AUDIT_TRAIL
from projections.caseload import CASELOAD
from projections.early_warning import EARLY_WARNING, FlagEvaluator
from projections.engine import EventSource, Projection, Target
from projections.reading import NotCaughtUp, ReadModels
from projections.runner import Runner

CORE = (CASELOAD, AUDIT_TRAIL, EARLY_WARNING)

__all__ = [
    "AUDIT_TRAIL",
    "CASELOAD",
    "CORE",
    "EARLY_WARNING",
    "EventSource",
    "FlagEvaluator",
    "NotCaughtUp",
    "Projection",
    "ReadModels",
    "Runner",
    "Target",
]
