"""Sufficient statistics and result records shared by every method in `abgate_pipeline.stats`.

Everything here is per arm and additive: the warehouse computes these sums in SQL, Python never
sees a row. A binary metric is a mean metric whose `sum_sq == sum`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SampleStats:
    """Per-arm sufficient statistics of a per-unit value (proportion, mean, count).

    `pre_*` are the optional CUPED pre-period covariate: per unit x = pre-period value,
    `pre_sum` = sum(x), `pre_sum_sq` = sum(x²), `pre_cross_sum` = sum(y * x).
    """

    n: int
    sum: float
    sum_sq: float
    pre_sum: float | None = None
    pre_sum_sq: float | None = None
    pre_cross_sum: float | None = None


@dataclass(frozen=True)
class RatioStats:
    """Per-arm sufficient statistics of a ratio metric sum(num) / sum(den) over units.

    Per unit (the randomisation unit, e.g. a user): m = experiment-period numerator, d =
    experiment-period denominator; every sum runs over the arm's n units.

    - `num_sum`, `num_sum_sq`: sum(m), sum(m²)
    - `den_sum`, `den_sum_sq`: sum(d), sum(d²)
    - `cross_sum`: sum(m·d)

    The nine optional fields below are the CUPED pre-period covariate of
    `cuped.compare_ratios_cuped` (gbstats `RegressionAdjustedRatioStatistic`): per unit, mp and dp
    are the same numerator and denominator measured over a window before the unit's exposure
    (which the treatment cannot affect), for the same n units. A unit without pre-period activity
    counts with mp = dp = 0; it is not dropped. Either all nine are given (in both arms), or the
    ratio is compared without adjustment:

    - `pre_sum`, `pre_sum_sq`: sum(mp), sum(mp²)
    - `pre_den_sum`, `pre_den_sum_sq`: sum(dp), sum(dp²)
    - `pre_num_den_sum`: sum(mp·dp)  (gbstats `m_pre_d_pre_sum_of_products`)
    - `pre_cross_sum`: sum(m·mp)  (gbstats `m_post_m_pre_sum_of_products`)
    - `den_pre_den_sum`: sum(d·dp)  (gbstats `d_post_d_pre_sum_of_products`)
    - `num_pre_den_sum`: sum(m·dp)  (gbstats `m_post_d_pre_sum_of_products`)
    - `den_pre_num_sum`: sum(d·mp)  (gbstats `m_pre_d_post_sum_of_products`)

    With `cross_sum` these give every entry of the 4x4 covariance matrix of (m, d, mp, dp).
    """

    n: int
    num_sum: float
    num_sum_sq: float
    den_sum: float
    den_sum_sq: float
    cross_sum: float  # sum(num * den) over units
    pre_sum: float | None = None
    pre_sum_sq: float | None = None
    pre_den_sum: float | None = None
    pre_den_sum_sq: float | None = None
    pre_num_den_sum: float | None = None
    pre_cross_sum: float | None = None
    den_pre_den_sum: float | None = None
    num_pre_den_sum: float | None = None
    den_pre_num_sum: float | None = None


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
