"""CUPED: variance reduction with a pre-period covariate (Deng, Xu, Kohavi & Walker 2013,
"Improving the sensitivity of online controlled experiments by utilizing pre-experiment data",
WSDM).

For each unit, y is the metric during the experiment and x the same metric (or any quantity the
treatment cannot affect) before exposure. Randomisation makes x balanced across arms, so
y - theta * x has the same treatment effect as y for any fixed theta, and its variance
Var(y) - 2 theta Cov(x, y) + theta^2 Var(x) is smallest at theta = Cov(x, y) / Var(x), where it is
Var(y) (1 - rho^2). The variance of the estimated difference shrinks by ~rho^2, rho = corr(x, y).

Conventions (where the reference engines differ, the choice is named):

- **theta** is pooled over both arms from within-arm centred cross sums, i.e. the slope on x in
  the regression y ~ arm + x (Deng et al. §3.3 pool the arms; this is the ANCOVA slope of
  Lin 2013). gbstats pools the raw sums of both arms instead; the two differ by a term of order
  (mean difference in y) x (mean difference in x), which randomisation makes negligible.
- **Adjusted means** are centred at the control's pre-period mean:
  adjusted_mean = mean - theta (pre_mean - control pre_mean). The control's adjusted mean is its
  observed mean, and the treatment's is what it would have been with the control's pre-period,
  so `abs_diff` is the adjusted difference (ybar_t - ybar_c) - theta (xbar_t - xbar_c) and
  `rel_lift` is that over the observed control mean — gbstats' CUPED relative lift.
- **Variances**: per arm, Var(y - theta x) from the sums; binary values (sum_sq == sum) use
  ddof=0 (p(1-p), as `frequentist.compare_proportions` and gbstats), others ddof=1; the
  covariance uses ddof=0 only when both x and y are binary (gbstats `compute_covariance`).
  theta is treated as known (its estimation error is O(1/n), Deng et al. §3.2).
- **Test**: Welch t on the adjusted means (via `frequentist.compare_estimates`, so every edge
  case behaves as in `compare_means`); the relative lift's standard error is the delta method
  over (ybar_t, xbar_t, ybar_c, xbar_c), which keeps the covariance of the control mean with its
  own pre-period mean — gbstats `frequentist_variance_relative_cuped`, evaluated at the adjusted
  (not raw) treatment mean.

Missing pre-period sums, or a pre-period without variance, mean no adjustment (theta = 0): the
result is then the plain Welch comparison, with a note.

Ratio metrics are adjusted by `cuped_ratio`, with the same conventions where they apply.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from .frequentist import (
    ArmEstimate,
    compare_estimates,
    critical_value,
    standardize,
    upper_tail,
)
from .settings import DEFAULT_ALPHA, DEFAULT_ALTERNATIVE, FLOAT_REL_TOL, MIN_UNITS_PER_ARM
from .types import Comparison, SampleStats


@dataclass(frozen=True)
class CupedArm:
    """One arm's raw and CUPED-adjusted moments (per unit, not per mean)."""

    n: int
    mean: float
    pre_mean: float
    adjusted_mean: float
    variance: float
    adjusted_variance: float
    pre_variance: float
    covariance: float


@dataclass(frozen=True)
class CupedResult:
    """Both arms adjusted with one pooled theta.

    `variance_reduction` = 1 - Var(adjusted difference) / Var(raw difference) of the estimated
    treatment - control difference (≈ rho^2; 0 when nothing was adjusted).
    """

    control: CupedArm
    treatment: CupedArm
    theta: float
    variance_reduction: float
    notes: tuple[str, ...] = ()


def cuped_adjust(control: SampleStats, treatment: SampleStats) -> CupedResult:
    """Pool theta over both arms and adjust each arm's mean and variance (Deng et al. 2013)."""
    notes: list[str] = []
    theta = _pooled_theta(control, treatment, notes)
    control_pre_mean = _pre_mean(control)
    arms = tuple(_adjusted_arm(arm, theta, control_pre_mean) for arm in (control, treatment))
    raw = sum(arm.variance / arm.n for arm in arms if arm.n)
    adjusted = sum(arm.adjusted_variance / arm.n for arm in arms if arm.n)
    reduction = 1.0 - adjusted / raw if raw > 0 and math.isfinite(raw) else 0.0
    return CupedResult(arms[0], arms[1], theta, reduction, tuple(notes))


def cuped_variance_reduction(control: SampleStats, treatment: SampleStats) -> float:
    """1 - Var(adjusted difference) / Var(raw difference): the share of variance CUPED removes."""
    return cuped_adjust(control, treatment).variance_reduction


def compare_means_cuped(
    control: SampleStats,
    treatment: SampleStats,
    *,
    alpha: float = DEFAULT_ALPHA,
    alternative: str = DEFAULT_ALTERNATIVE,
) -> Comparison:
    """Welch comparison of CUPED-adjusted means; proportions and means alike (see module doc).

    `control_value` is the observed control mean, `treatment_value` the treatment mean adjusted
    to the control's pre-period, so abs_diff and rel_lift are the adjusted effects; `notes` give
    theta and the variance reduction.
    """
    result = cuped_adjust(control, treatment)
    notes = list(result.notes)
    if result.theta:
        notes += [
            f"CUPED (Deng et al. 2013): theta = {result.theta:.6g}, pooled over both arms; "
            f"variance of the difference reduced by {result.variance_reduction:.1%}",
            "treatment_value is the treatment mean adjusted to the control's pre-period mean",
        ]
    arms = [
        ArmEstimate(name, arm.n, arm.adjusted_mean, _variance_of_mean(arm))
        for name, arm in (("control", result.control), ("treatment", result.treatment))
    ]
    comparison = compare_estimates(
        "cuped_welch_t", *arms, alpha=alpha, alternative=alternative, notes=notes
    )
    return with_cuped_relative_lift(comparison, partial(_cuped_relative_se, result))


# --------------------------------------------------------------------------------------------
# Per-arm moments and theta
# --------------------------------------------------------------------------------------------


def _has_covariate(arm: SampleStats) -> bool:
    return None not in (arm.pre_sum, arm.pre_sum_sq, arm.pre_cross_sum)


def covariate_varies(arm: SampleStats) -> bool:
    """Whether an arm carries a pre-period covariate that varies across its (>= 2) units: the
    condition under which CUPED can reduce anything, so a caller adjusts only then."""
    if not _has_covariate(arm) or arm.n < MIN_UNITS_PER_ARM:
        return False
    centred = _centred(arm.n, arm.pre_sum, arm.pre_sum, arm.pre_sum_sq)
    return centred > FLOAT_REL_TOL * max(arm.pre_sum_sq, 1.0)


def _pre_mean(arm: SampleStats) -> float:
    if not _has_covariate(arm) or arm.n == 0:
        return math.nan
    return arm.pre_sum / arm.n


def _is_binary(total: float, total_sq: float) -> bool:
    return math.isclose(total_sq, total, rel_tol=FLOAT_REL_TOL, abs_tol=FLOAT_REL_TOL)


def _centred(n: int, total_a: float, total_b: float, cross: float) -> float:
    """sum((a - mean_a)(b - mean_b)) from sums; rounding noise below zero stays tiny."""
    return cross - total_a * total_b / n


def _moment(n: int, centred: float, ddof0: bool) -> float:
    """Variance or covariance from a centred sum: ddof=0 for binary values, else ddof=1."""
    if n < MIN_UNITS_PER_ARM:
        return math.nan
    return centred / (n if ddof0 else n - 1)


def _pooled_theta(control: SampleStats, treatment: SampleStats, notes: list[str]) -> float:
    """theta = sum of within-arm centred cross products / sum of centred pre-period squares."""
    arms = (control, treatment)
    if not all(_has_covariate(arm) for arm in arms):
        notes.append("no pre-period covariate in both arms: CUPED not applied (theta = 0)")
        return 0.0
    cross = sum(_centred(arm.n, arm.sum, arm.pre_sum, arm.pre_cross_sum) for arm in arms if arm.n)
    pre_squares = sum(
        _centred(arm.n, arm.pre_sum, arm.pre_sum, arm.pre_sum_sq) for arm in arms if arm.n
    )
    if not pre_squares > FLOAT_REL_TOL * max(1.0, sum(abs(arm.pre_sum_sq) for arm in arms)):
        notes.append("the pre-period covariate has no variance: CUPED not applied (theta = 0)")
        return 0.0
    return cross / pre_squares


def _adjusted_arm(arm: SampleStats, theta: float, control_pre_mean: float) -> CupedArm:
    """Raw and adjusted moments of one arm; moments of an arm with n < 2 (or of a missing
    covariate) are NaN, as in `frequentist.compare_means`, whose notes then say why."""
    n = arm.n
    y_binary = _is_binary(arm.sum, arm.sum_sq)
    mean = arm.sum / n if n else math.nan
    variance = _moment(n, _centred(n, arm.sum, arm.sum, arm.sum_sq), y_binary) if n else math.nan
    if not _has_covariate(arm) or n == 0:
        return CupedArm(n, mean, math.nan, mean, variance, variance, math.nan, math.nan)
    pre_mean = arm.pre_sum / n
    x_binary = _is_binary(arm.pre_sum, arm.pre_sum_sq)
    pre_var = _moment(n, _centred(n, arm.pre_sum, arm.pre_sum, arm.pre_sum_sq), x_binary)
    cov = _moment(n, _centred(n, arm.sum, arm.pre_sum, arm.pre_cross_sum), x_binary and y_binary)
    if theta == 0.0:
        return CupedArm(n, mean, pre_mean, mean, variance, variance, pre_var, cov)
    adjusted_var = variance - 2.0 * theta * cov + theta**2 * pre_var
    adjusted_mean = mean - theta * (pre_mean - control_pre_mean)
    return CupedArm(
        n, mean, pre_mean, adjusted_mean, variance, max(adjusted_var, 0.0), pre_var, cov
    )


def _variance_of_mean(arm: CupedArm) -> float:
    return arm.adjusted_variance / arm.n if arm.n else math.nan


# --------------------------------------------------------------------------------------------
# Relative lift with the covariance of the control mean and its pre-period (delta method)
# --------------------------------------------------------------------------------------------


def _cuped_relative_se(result: CupedResult) -> float:
    """Delta-method se of ((ybar_t - theta xbar_t) - (ybar_c - theta xbar_c)) / ybar_c.

    Gradient over (ybar_t, xbar_t, ybar_c, xbar_c): (1, -theta, -A/c, theta) / c with
    c = ybar_c and A the adjusted treatment mean; arms are independent (gbstats
    `frequentist_variance_relative_cuped`, which uses the raw treatment mean for A).
    """
    c, t = result.control, result.treatment
    return relative_se(
        c.mean,
        c.n,
        c.variance,
        c.pre_variance,
        c.covariance,
        t.adjusted_mean,
        t.n,
        t.adjusted_variance,
        result.theta,
    )


def relative_se(
    control_value: float,
    control_n: int,
    control_variance: float,
    control_pre_variance: float,
    control_covariance: float,
    treatment_value: float,
    treatment_n: int,
    treatment_variance: float,
    theta: float,
) -> float:
    """se of (A - c) / c, A = adjusted treatment value, c = control value (means or ratios).

    The variances and the covariance are per unit: of y and x for means, of the linearised
    ratios for ratios; `treatment_variance` is the treatment's adjusted variance.
    """
    c = control_value
    ratio = treatment_value / c
    treatment_part = treatment_variance / (treatment_n * c**2)
    control_var = control_variance * ratio**2
    if theta:
        control_var += theta**2 * control_pre_variance - 2.0 * theta * ratio * control_covariance
    return math.sqrt(treatment_part + max(control_var, 0.0) / (control_n * c**2))


def with_cuped_relative_lift(comparison: Comparison, rel_se: Callable[[], float]) -> Comparison:
    """Replace the generic relative se (which ignores Cov(ybar_c, xbar_c)) with CUPED's."""
    testable = math.isfinite(comparison.abs_se) and math.isfinite(comparison.rel_lift)
    if not testable:
        return comparison
    se = rel_se()
    p_value, low, high = _normal_or_t_test(
        comparison.rel_lift, se, comparison.alpha, comparison.alternative, comparison.dof
    )
    return dataclasses.replace(
        comparison, rel_se=se, rel_ci_low=low, rel_ci_high=high, rel_p_value=p_value
    )


def _normal_or_t_test(
    estimate: float, se: float, alpha: float, alternative: str, dof: float | None
) -> tuple[float, float, float]:
    """(p, ci_low, ci_high) for H0: 0, with the same t reference as the absolute difference."""
    stat = standardize(estimate, se)
    if alternative == "two-sided":
        half = critical_value(1.0 - alpha / 2.0, dof) * se
        return min(1.0, 2.0 * upper_tail(abs(stat), dof)), estimate - half, estimate + half
    half = critical_value(1.0 - alpha, dof) * se
    if alternative == "greater":
        return upper_tail(stat, dof), estimate - half, math.inf
    return upper_tail(-stat, dof), -math.inf, estimate + half
