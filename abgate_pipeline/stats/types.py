"""Sufficient statistics and result records shared by every method in `abgate_pipeline.stats`.

Everything here is per arm and additive: the warehouse computes these sums in SQL, Python never
sees a row. A binary metric is a mean metric whose `sum_sq == sum`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SampleStats:
    """Per-arm sufficient statistics of a per-unit value (proportion, mean, count).

    `pre_*` / `cross_sum` are the optional CUPED pre-period covariate: per unit x = pre-period
    value, `cross_sum` = sum(y * x).
    """

    n: int
    sum: float
    sum_sq: float
    pre_sum: float | None = None
    pre_sum_sq: float | None = None
    cross_sum: float | None = None


@dataclass(frozen=True)
class RatioStats:
    """Per-arm sufficient statistics of a ratio metric sum(num) / sum(den) over units."""

    n: int
    num_sum: float
    num_sum_sq: float
    den_sum: float
    den_sum_sq: float
    cross_sum: float  # sum(num * den) over units


@dataclass(frozen=True)
class QuantileStats:
    """Per-arm quantile estimate with its standard error (see `stats.quantile`)."""

    n: int
    q: float
    estimate: float
    std_err: float


@dataclass(frozen=True)
class Comparison:
    """Treatment vs control for one metric. Differences are treatment - control; relative lift is
    treatment / control - 1. `p_value` is for the null of no difference, with `alternative`."""

    method: str
    control_value: float
    treatment_value: float
    abs_diff: float
    abs_se: float
    abs_ci_low: float
    abs_ci_high: float
    rel_lift: float
    rel_se: float
    rel_ci_low: float
    rel_ci_high: float
    p_value: float
    alpha: float
    alternative: str = "two-sided"
    dof: float | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    # p-value of the same null on the relative scale (delta method); consistent with rel_ci_*.
    rel_p_value: float | None = None
