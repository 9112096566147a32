"""The decision record of one experiment and as-of day: what `decision.json` holds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from abgate_pipeline.config import ExperimentSpec
from abgate_pipeline.decision.checks import (
    CheckOutcome,
    config_warnings,
    integrity_checks,
    served_shares,
    statistics_check,
)
from abgate_pipeline.decision.frames import ALL
from abgate_pipeline.decision.metrics import metric_results, segment_rows
from abgate_pipeline.decision.sample import sample_summary
from abgate_pipeline.decision.verdict import rollout, verdict


@dataclass(frozen=True)
class GateInputs:
    """Everything the verdict is computed from (and recorded with, for reproducibility)."""

    experiment: ExperimentSpec
    as_of: date
    frames: pd.DataFrame  # metric_frames rows of this experiment for every as_of of the phase
    unit_facts: pd.DataFrame  # experiment_checks.sql rows of this experiment at as_of
    current_pct: int  # the challengers' share of traffic the decision is made at
    ingest_checks: Sequence[CheckOutcome] = ()
    provenance: Mapping[str, Any] | None = None
    # The split the flag has served since the last change (None: the configured allocation),
    # and when that phase began: the SRM null, and the start of the looks.
    allocation: Mapping[str, float] | None = None
    phase_start: str | None = None
    # Outcome names that have landed by the end of the as-of day (None: not looked up).
    landed_outcomes: frozenset[str] | None = None


def decide(inputs: GateInputs) -> dict[str, Any]:
    """The full decision record for one experiment and as-of day (the `decision.json` body)."""
    exp = inputs.experiment
    checks, srm = integrity_checks(exp, inputs.unit_facts, inputs.allocation)
    frames = inputs.frames
    latest = frames[(frames["as_of"] == pd.Timestamp(inputs.as_of)) & (frames["segment"] == ALL)]
    shares = served_shares(exp, inputs.allocation)
    results = metric_results(exp, latest, frames, shares)
    all_checks = [
        *inputs.ingest_checks,
        *checks,
        statistics_check([r.statistics_problem for r in results if r.statistics_problem]),
    ]
    sample = sample_summary(exp, results, inputs.unit_facts, frames)
    decision, reasons, winners = verdict(exp, all_checks, results, sample)
    return {
        "experiment_id": exp.id,
        "as_of": inputs.as_of.isoformat(),
        "decision": decision,
        "reasons": reasons,
        "promote_variants": winners,
        "flag_key": exp.flag_key,
        "champion": exp.champion,
        "challengers": list(exp.challengers),
        "sequential": exp.sequential,
        "alpha": exp.alpha,
        "correction": exp.correction,
        "srm": srm,
        "phase_start": inputs.phase_start,
        "warnings": config_warnings(exp, inputs.allocation, inputs.landed_outcomes),
        "checks": [c.__dict__ for c in all_checks],
        "checks_passed": all(c.passed for c in all_checks),
        "rollout": rollout(exp, decision, inputs.current_pct),
        "sample": sample,
        "metrics": [r.record() for r in results],
        "segments": segment_rows(exp, frames, inputs.as_of),
        "config_hash": exp.config_hash(),
        **dict(inputs.provenance or {}),
    }
