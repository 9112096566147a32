"""Metric-frame rows (the warehouse's sufficient statistics, `sql/metric_frames.sql`) as the
statistics library's types, and the fixed-horizon comparison of two arms.

This is the one place a frame column becomes a stats field. The names are the same on both
sides (a frame's `pre_cross_sum` is `SampleStats.pre_cross_sum` and `RatioStats.pre_cross_sum`,
sum(y·x)), except that a ratio's numerator sums are `sum`/`sum_sq` in the frame and
`num_sum`/`num_sum_sq` in `RatioStats`.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from abgate_pipeline.config import MetricSpec
from abgate_pipeline.stats import (
    Comparison,
    QuantileStats,
    RatioStats,
    SampleStats,
    compare_means,
    compare_means_cuped,
    compare_proportions,
    compare_quantiles,
    compare_ratios,
    compare_ratios_cuped,
    covariate_varies,
    cuped_adjust_ratio,
    cuped_variance_reduction,
    quantile_stats,
    ratio_covariate_active,
)
from abgate_pipeline.stats.cuped_ratio import PRE_RATIO_FIELDS

ALL = "__all__"  # the segment value of a frame row over all units

# Frame columns that must hold a finite number in an arm with units, per metric kind; the CUPED
# pre-period sums may be absent (NULL) but, when present, must not be infinite.
_REQUIRED = {
    "quantile": ("q_estimate", "q_lo", "q_hi"),
    "ratio": ("sum", "sum_sq", "den_sum", "den_sum_sq", "cross_sum"),
}
_REQUIRED_DEFAULT = ("sum", "sum_sq")
_OPTIONAL = ("pre_sum", "pre_sum_sq", "pre_cross_sum", *PRE_RATIO_FIELDS)


def arm_row(frame: pd.DataFrame, variant: str) -> pd.Series | None:
    """The frame row of one variant, or None when the variant has no row (no units)."""
    rows = frame[frame["variant"] == variant]
    return rows.iloc[0] if len(rows) else None


def number(value: Any) -> float:
    """A frame value as a float; NULL (None / NaN from DuckDB) is 0."""
    return float(value) if value is not None and not pd.isna(value) else 0.0


def units(row: pd.Series | None) -> int:
    return int(number(row["n"])) if row is not None else 0


def _present(row: pd.Series, column: str) -> bool:
    return column in row.index and not pd.isna(row[column])


def sample_stats(row: pd.Series | None) -> SampleStats:
    """A proportion, mean or count metric's row (a missing row is an empty arm)."""
    if row is None:
        return SampleStats(n=0, sum=0.0, sum_sq=0.0)
    pre_fields = ("pre_sum", "pre_sum_sq", "pre_cross_sum") if _present(row, "pre_sum") else ()
    return SampleStats(
        n=units(row),
        sum=number(row["sum"]),
        sum_sq=number(row["sum_sq"]),
        **{c: number(row.get(c)) for c in pre_fields},
    )


def ratio_stats(row: pd.Series | None) -> RatioStats:
    """A ratio metric's row, with the pre-period sums when the row has all of them."""
    if row is None:
        return RatioStats(0, 0.0, 0.0, 0.0, 0.0, 0.0)
    has_pre = all(_present(row, c) for c in PRE_RATIO_FIELDS)
    return RatioStats(
        n=units(row),
        num_sum=number(row["sum"]),
        num_sum_sq=number(row["sum_sq"]),
        den_sum=number(row["den_sum"]),
        den_sum_sq=number(row["den_sum_sq"]),
        cross_sum=number(row["cross_sum"]),
        **({c: number(row[c]) for c in PRE_RATIO_FIELDS} if has_pre else {}),
    )


def quantile_arm(row: pd.Series | None, q: float, alpha: float) -> QuantileStats:
    """A quantile metric's row: its estimate and the order statistics bracketing it."""
    if row is None or number(row["n"]) <= 0:
        return QuantileStats(0, q, math.nan, math.inf)
    return quantile_stats(
        units(row), q, number(row["q_estimate"]), number(row["q_lo"]), number(row["q_hi"]), alpha
    )


def statistics_problem(metric: MetricSpec, arm: str, row: pd.Series | None) -> str | None:
    """Why one arm's row cannot be compared, or None when it can.

    Ingest keeps non-finite and absurd values out, so this only fires on data that got past it
    (or a bug): a NaN or infinite sum, order statistics out of order. The decision then reports
    the metric as not computable and the verdict as invalid, instead of crashing or testing
    garbage.
    """
    if row is None or number(row["n"]) <= 0:
        return None
    for column in _REQUIRED.get(metric.kind, _REQUIRED_DEFAULT):
        value = row.get(column)
        if value is None or not math.isfinite(float(value)):
            return f"{metric.name}: the {arm}'s {column} is {_text(value)}, not a finite number"
    for column in _OPTIONAL:
        value = row.get(column)
        if value is not None and math.isinf(float(value)):
            return f"{metric.name}: the {arm}'s {column} is {_text(value)}, not a finite number"
    if metric.kind == "quantile" and not row["q_lo"] <= row["q_estimate"] <= row["q_hi"]:
        return (
            f"{metric.name}: the {arm}'s order statistics are out of order "
            f"({row['q_lo']} <= {row['q_estimate']} <= {row['q_hi']} does not hold)"
        )
    return None


def _text(value: Any) -> str:
    return "missing" if value is None else str(float(value))


def compare_frame_rows(
    metric: MetricSpec,
    control: pd.Series | None,
    treatment: pd.Series | None,
    alpha: float,
    *,
    cuped: bool = False,
) -> tuple[Comparison, float | None]:
    """Fixed-horizon comparison of one metric from two frame rows (a missing row = n 0), and the
    CUPED variance reduction when the pre-period covariate was used (else None)."""
    if metric.kind == "quantile":
        q = float(metric.q)
        arms = (quantile_arm(control, q, alpha), quantile_arm(treatment, q, alpha))
        return compare_quantiles(*arms, alpha=alpha), None
    if metric.kind == "ratio":
        c, t = ratio_stats(control), ratio_stats(treatment)
        if cuped and ratio_covariate_active(c) and ratio_covariate_active(t):
            adjusted = cuped_adjust_ratio(c, t)
            if adjusted.theta:
                return compare_ratios_cuped(c, t, alpha=alpha), adjusted.variance_reduction
        return compare_ratios(c, t, alpha=alpha), None
    c, t = sample_stats(control), sample_stats(treatment)
    if cuped and covariate_varies(c) and covariate_varies(t):
        return compare_means_cuped(c, t, alpha=alpha), cuped_variance_reduction(c, t)
    compare = compare_proportions if metric.kind == "proportion" else compare_means
    return compare(c, t, alpha=alpha), None
