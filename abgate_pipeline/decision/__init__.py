"""The decision (DESIGN.md §3): metric frames and integrity facts -> the decision record.

Pure: no Dagster, no I/O. The Dagster asset `gate_decision` reads the frames from the warehouse
and hands them here; what comes back is exactly what `decision.json` holds. Its rooms:

- `frames`: metric-frame rows -> the statistics library's types, and the fixed-horizon comparison
- `checks`: the integrity checks (also the experiment stage's asset checks) and the warnings
- `metrics`: each metric x challenger measured and corrected (`results.MetricResult`)
- `sample`: units, power so far, days remaining
- `verdict`: the rule (its wording too) and the rollout move
- `record`: `decide`, which puts them together
"""

from abgate_pipeline.decision.checks import CheckOutcome, integrity_checks
from abgate_pipeline.decision.frames import compare_frame_rows, statistics_problem
from abgate_pipeline.decision.record import GateInputs, decide
from abgate_pipeline.decision.results import MetricResult
from abgate_pipeline.decision.verdict import DECISIONS, VERDICT_RULE, VERDICT_RULES

__all__ = [
    "DECISIONS",
    "VERDICT_RULE",
    "VERDICT_RULES",
    "CheckOutcome",
    "GateInputs",
    "MetricResult",
    "compare_frame_rows",
    "decide",
    "integrity_checks",
    "statistics_problem",
]
