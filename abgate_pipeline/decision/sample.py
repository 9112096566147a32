"""How far the experiment is: units, units not yet mature, the planned sample, the power
reached so far and the days still needed at the traffic seen."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from abgate_pipeline.config import ExperimentSpec
from abgate_pipeline.decision.frames import ALL
from abgate_pipeline.decision.results import MetricResult
from abgate_pipeline.stats import achieved_power, days_remaining


def sample_summary(
    exp: ExperimentSpec,
    results: Sequence[MetricResult],
    unit_facts: pd.DataFrame,
    frames: pd.DataFrame,
) -> dict[str, Any]:
    primary = [r for r in results if r.role == "primary"]
    planned = [r.planned_n_per_arm for r in primary if r.planned_n_per_arm]
    power = [p for r in primary if (p := _power_so_far(exp, r)) is not None]
    return {
        "days_remaining": _days_remaining(exp, frames, primary),
        "units": int(unit_facts["units"].sum()) if len(unit_facts) else 0,
        "units_immature": int(unit_facts["immature_units"].sum()) if len(unit_facts) else 0,
        "planned_n_per_arm": planned[0] if planned else None,
        "power_so_far": min(power) if power else None,
        "n_per_arm": {
            exp.champion: primary[0].n_control if primary else 0,
            **{r.variant: r.n_treatment for r in primary},
        },
    }


def _power_so_far(exp: ExperimentSpec, result: MetricResult) -> float | None:
    """Power for the primary metric's MDE at the units reached (proportion metrics)."""
    metric = exp.primary
    baseline = result.control_value
    if metric.mde is None or metric.kind != "proportion":
        return None
    if not (isinstance(baseline, float) and 0 < baseline < 1):
        return None
    if min(result.n_control, result.n_treatment) < 2:
        return None
    try:
        return achieved_power(
            result.n_control,
            result.n_treatment,
            kind="proportion",
            baseline=baseline,
            mde=metric.mde,
            mde_type=metric.mde_type,
            alpha=exp.alpha,
        )
    except ValueError:
        return None


def _days_remaining(
    exp: ExperimentSpec, frames: pd.DataFrame, primary: Sequence[MetricResult]
) -> float | None:
    """Days until every arm reaches its planned sample, at the average daily growth so far."""
    overall = frames[(frames["segment"] == ALL) & (frames["metric"] == exp.primary.name)]
    per_day = overall.pivot_table(index="as_of", columns="variant", values="n", aggfunc="sum")
    if len(per_day) < 2:
        return None
    span = (per_day.index[-1] - per_day.index[0]).days
    growth = (per_day.iloc[-1] - per_day.iloc[0]) / span
    remaining = []
    for r in primary:
        planned = r.planned_n_per_arm
        if not planned:
            continue
        for arm, variant in (("control", exp.champion), ("treatment", r.variant)):
            if variant in per_day.columns:
                remaining.append(
                    days_remaining(
                        planned[arm],
                        float(per_day[variant].iloc[-1]),
                        max(float(growth[variant]), 0.0),
                    )
                )
    return max(remaining) if remaining else None
