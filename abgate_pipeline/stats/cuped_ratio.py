"""CUPED for ratio metrics: regression adjustment with the pre-period ratio (gbstats
`RegressionAdjustedRatioStatistic`), 4-dimensional delta method; `cuped` holds the means'
version and the relative-lift helpers both share.

A ratio R = sum(m) / sum(d) over units is adjusted with the same units' pre-period ratio
Rp = sum(mp) / sum(dp): R - theta Rp. Per arm the unit means (m̄, d̄, m̄p, d̄p) have covariance
L / n, with L the 4x4 covariance of (m, d, mp, dp) from the `RatioStats` sums, and the delta
method gives n Var(R - theta Rp) = g' L g with g = (1/d̄, -R/d̄, -theta/d̄p, theta Rp/d̄p), i.e.
V - 2 theta C + theta^2 P, where V, P and C are the per-unit variances and covariance of the
linearised ratios (m - R d)/d̄ and (mp - Rp dp)/d̄p. Conventions:

- **theta** minimises the estimated variance of the adjusted difference,
  sum over arms of (V - 2 theta C + theta^2 P) / n: theta = (C_c/n_c + C_t/n_t) /
  (P_c/n_c + P_t/n_t). gbstats (`compute_theta_regression_adjusted_ratio`) uses
  (C_c + C_t) / (P_c + P_t), the same at equal arm sizes; at unequal sizes (90/10) it weights the
  arms equally, so its estimated variance is never below ours and is above it when the arms'
  C/P differ (pass its theta as `theta=` to reproduce its numbers). Means keep the ANCOVA slope
  above (arms weighted by n); the three rules coincide at equal arm sizes or equal per-arm
  moments.
- **Adjusted ratios** are centred at the control's pre-period ratio, as for means:
  adjusted_ratio = R - theta (Rp - control Rp). `control_value` is the observed control ratio,
  `treatment_value` the treatment ratio adjusted to the control's pre-period ratio, `abs_diff`
  = (R_t - R_c) - theta (Rp_t - Rp_c) (gbstats' absolute effect; gbstats reports each arm as the
  uncentred R - theta Rp, which is not on the metric's scale) and `rel_lift` = abs_diff / R_c
  (gbstats' relative effect; gbstats divides by |R_c|, here R_c <= 0 leaves rel_* NaN, as in
  every comparison).
- **Moments**: ddof=1 for every entry of L, as `frequentist.compare_ratios`, so that theta = 0
  reproduces it exactly. gbstats uses ddof=0 for a binomial (0/1) numerator or denominator
  column and for the covariance of two binomial columns, a factor (n-1)/n on those entries;
  `RatioStats` does not say which columns are binary, and at n in the hundreds the difference
  is below 1 %. theta is treated as known, as for means.
- **Test**: Welch t on the adjusted ratios (`frequentist.compare_estimates`, dof from the adjusted
  per-arm variances, as gbstats); the relative lift's standard error is the delta method over
  both arms' four means, keeping the covariance of the control ratio with its pre-period ratio
  (gbstats `frequentist_variance_relative_cuped_ratio`, evaluated at the adjusted treatment
  ratio as there).
- **No adjustment** (theta = 0, a note, and otherwise exactly `compare_ratios`): pre-period
  fields missing in either arm, an arm with n < 2 or with a zero denominator sum (no test
  anyway), a pre-period denominator summing to 0 in either arm (no pre-period ratio; gbstats
  then sets that arm's mean to 0 and returns no result, ZERO_NEGATIVE_VARIANCE), or a pre-period
  ratio without variance (P_c/n_c + P_t/n_t within rounding of 0; gbstats reverts when
  |theta| < 1e-8).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from .cuped import relative_se, with_cuped_relative_lift
from .frequentist import (
    ArmEstimate,
    _sample_variance,
    compare_estimates,
    compare_ratios,
)
from .settings import DEFAULT_ALPHA, DEFAULT_ALTERNATIVE, FLOAT_REL_TOL, MIN_UNITS_PER_ARM
from .types import Comparison, RatioStats

RATIO_METHOD = "cuped_delta_method_ratio_welch_t"

#: `RatioStats` fields of the pre-period covariate; a ratio is adjusted only if both arms have all.
PRE_RATIO_FIELDS = (
    "pre_sum",
    "pre_sum_sq",
    "pre_den_sum",
    "pre_den_sum_sq",
    "pre_num_den_sum",
    "pre_cross_sum",
    "den_pre_den_sum",
    "num_pre_den_sum",
    "den_pre_num_sum",
)


@dataclass(frozen=True)
class CupedRatioArm:
    """One arm of a CUPED ratio comparison.

    `ratio` = sum(num)/sum(den), `pre_ratio` the same over the pre-period, `adjusted_ratio`
    = ratio - theta (pre_ratio - control pre_ratio). The variances and the covariance are per
    unit (n times the variance of the arm's estimate, as in `CupedArm`): of the linearised ratios
    (m - R d)/d̄ and (mp - Rp dp)/d̄p, by the delta method. NaN where undefined (n < 2, a zero
    denominator sum, no pre-period fields).
    """

    n: int
    ratio: float
    pre_ratio: float
    adjusted_ratio: float
    variance: float
    adjusted_variance: float
    pre_variance: float
    covariance: float


@dataclass(frozen=True)
class CupedRatioResult:
    """Both arms of a ratio metric adjusted with one theta (see the module docstring).

    `variance_reduction` = 1 - Var(adjusted difference) / Var(raw difference) of the estimated
    treatment - control difference (0 when nothing was adjusted).
    """

    control: CupedRatioArm
    treatment: CupedRatioArm
    theta: float
    variance_reduction: float
    notes: tuple[str, ...] = ()


def cuped_adjust_ratio(
    control: RatioStats, treatment: RatioStats, *, theta: float | None = None
) -> CupedRatioResult:
    """Adjust both arms' ratios with their pre-period ratios (gbstats
    `RegressionAdjustedRatioStatistic`), theta chosen to minimise the variance of the difference.

    `theta` fixes the coefficient instead (e.g. gbstats' equal-weight pooling, or a theta from an
    earlier analysis); it is still not applied when the pre-period ratio is undefined.
    """
    if theta is not None and not math.isfinite(theta):
        raise ValueError(f"theta must be a finite number, got {theta!r}")
    named = (("control", control), ("treatment", treatment))
    moments = [_RatioMoments.of(name, arm) for name, arm in named]
    notes: list[str] = []
    reason = _no_ratio_adjustment_reason(named)
    if reason is None and theta is None:
        theta, reason = _pooled_ratio_theta(*moments)
    if reason is not None:
        notes.append(f"{reason}: CUPED not applied (theta = 0)")
    theta = theta if reason is None and theta is not None else 0.0
    control_pre_ratio = moments[0].pre_ratio
    arms = tuple(m.adjusted(theta, control_pre_ratio) for m in moments)
    reduction = 0.0
    if theta:
        raw = sum(arm.variance / arm.n for arm in arms)
        adjusted = sum(arm.adjusted_variance / arm.n for arm in arms)
        reduction = 1.0 - adjusted / raw if raw > 0 and math.isfinite(raw) else 0.0
    return CupedRatioResult(arms[0], arms[1], theta, reduction, tuple(notes))


def compare_ratios_cuped(
    control: RatioStats,
    treatment: RatioStats,
    *,
    alpha: float = DEFAULT_ALPHA,
    alternative: str = DEFAULT_ALTERNATIVE,
    theta: float | None = None,
) -> Comparison:
    """Welch comparison of regression-adjusted ratios (see the module docstring).

    `control_value` is the observed control ratio, `treatment_value` the treatment ratio adjusted
    to the control's pre-period ratio, so abs_diff and rel_lift are the adjusted effects; `notes`
    give theta and the variance reduction. Without an adjustment (theta = 0, with a note saying
    why) the result is `frequentist.compare_ratios`'s, with this method name. `theta` fixes the
    coefficient (see `cuped_adjust_ratio`).
    """
    result = cuped_adjust_ratio(control, treatment, theta=theta)
    if result.theta == 0.0:
        plain = compare_ratios(control, treatment, alpha=alpha, alternative=alternative)
        return dataclasses.replace(plain, method=RATIO_METHOD, notes=result.notes + plain.notes)
    notes = [
        *result.notes,
        f"CUPED for a ratio (gbstats RegressionAdjustedRatioStatistic): theta = "
        f"{result.theta:.6g}; variance of the difference reduced by "
        f"{result.variance_reduction:.1%}",
        "treatment_value is the treatment ratio adjusted to the control's pre-period ratio",
    ]
    arms = [
        ArmEstimate(name, arm.n, arm.adjusted_ratio, arm.adjusted_variance / arm.n)
        for name, arm in (("control", result.control), ("treatment", result.treatment))
    ]
    comparison = compare_estimates(
        RATIO_METHOD, *arms, alpha=alpha, alternative=alternative, notes=notes
    )
    c, t = result.control, result.treatment
    rel_se = partial(
        relative_se,
        c.ratio,
        c.n,
        c.variance,
        c.pre_variance,
        c.covariance,
        t.adjusted_ratio,
        t.n,
        t.adjusted_variance,
        result.theta,
    )
    return with_cuped_relative_lift(comparison, rel_se)


def _has_pre_ratio(arm: RatioStats) -> bool:
    return all(getattr(arm, field) is not None for field in PRE_RATIO_FIELDS)


def ratio_covariate_active(arm: RatioStats) -> bool:
    """Whether an arm of a ratio metric had pre-period activity to adjust with: the pre-period
    fields, a pre-period denominator that is not all 0, and >= 2 units (a ratio without
    pre-period data is compared plainly, without a note)."""
    return _has_pre_ratio(arm) and arm.pre_den_sum > 0 and arm.n >= MIN_UNITS_PER_ARM


def _no_ratio_adjustment_reason(named: tuple[tuple[str, RatioStats], ...]) -> str | None:
    """Why the ratio cannot be adjusted whatever theta is, or None."""

    def which(test: Callable[[RatioStats], bool]) -> str:
        return " and ".join(name for name, arm in named if test(arm))

    if names := which(lambda arm: not _has_pre_ratio(arm)):
        return f"{names}: no pre-period ratio (RatioStats pre-period fields missing)"
    if names := which(lambda arm: arm.n < MIN_UNITS_PER_ARM):
        return f"{names}: fewer than {MIN_UNITS_PER_ARM} units, no variance to reduce"
    if names := which(lambda arm: arm.den_sum == 0):
        return f"{names}: the denominator sums to 0, so the ratio is undefined"
    if names := which(lambda arm: arm.pre_den_sum == 0):
        return (
            f"{names}: the pre-period denominator sums to 0, so the pre-period ratio is undefined"
        )
    return None


def _pooled_ratio_theta(
    control: _RatioMoments, treatment: _RatioMoments
) -> tuple[float, str | None]:
    """theta = (C_c/n_c + C_t/n_t) / (P_c/n_c + P_t/n_t), or (0, reason) without pre variance.

    The denominator is zero up to rounding when it is below FLOAT_REL_TOL times the scale of the
    uncentred second moments it was computed from (their cancellation error).
    """
    arms = (control, treatment)
    pre_var = sum(arm.pre_variance / arm.n for arm in arms)
    scale = sum(arm.pre_rounding_scale / arm.n for arm in arms)
    if not pre_var > FLOAT_REL_TOL * scale:
        return 0.0, "the pre-period ratio has no variance"
    theta = sum(arm.covariance / arm.n for arm in arms) / pre_var
    if not math.isfinite(theta):
        return 0.0, "theta is not finite (non-finite sums?)"
    return theta, None


@dataclass(frozen=True)
class _RatioMoments:
    """Unit means of (m, d, mp, dp), the blocks of their 4x4 covariance L and the per-unit
    delta-method moments V, P, C of the linearised post and pre ratios (NaN where undefined)."""

    n: int
    ratio: float
    pre_ratio: float
    variance: float  # V = gp' L_post gp, gp = (1/d̄, -R/d̄)
    pre_variance: float  # P = gq' L_pre gq, gq = (1/d̄p, -Rp/d̄p)
    covariance: float  # C = gp' L_post,pre gq
    pre_rounding_scale: float  # P with uncentred moments and |.|: its cancellation scale

    @classmethod
    def of(cls, name: str, arm: RatioStats) -> _RatioMoments:
        n = arm.n
        if n < 0:
            raise ValueError(f"{name}: n must be >= 0, got {n}")
        nan = math.nan
        ratio = arm.num_sum / arm.den_sum if n and arm.den_sum != 0 else nan
        has_pre = _has_pre_ratio(arm)
        pre_ratio = arm.pre_sum / arm.pre_den_sum if has_pre and n and arm.pre_den_sum else nan
        if n < MIN_UNITS_PER_ARM:
            return cls(n, ratio, pre_ratio, nan, nan, nan, nan)

        def var(total: float, total_sq: float) -> float:
            return _sample_variance(name, n, total, total_sq)

        def cov(total_a: float, total_b: float, cross: float) -> float:
            return (cross - total_a * total_b / n) / (n - 1)

        mean_d = arm.den_sum / n
        post = (
            (var(arm.num_sum, arm.num_sum_sq), cov(arm.num_sum, arm.den_sum, arm.cross_sum)),
            (cov(arm.num_sum, arm.den_sum, arm.cross_sum), var(arm.den_sum, arm.den_sum_sq)),
        )
        grad_post = (1.0 / mean_d, -ratio / mean_d) if mean_d else (nan, nan)
        variance = max(_bilinear(grad_post, post, grad_post), 0.0)
        if not has_pre:
            return cls(n, ratio, pre_ratio, variance, nan, nan, nan)

        mean_dp = arm.pre_den_sum / n
        pre = (
            (
                var(arm.pre_sum, arm.pre_sum_sq),
                cov(arm.pre_sum, arm.pre_den_sum, arm.pre_num_den_sum),
            ),
            (
                cov(arm.pre_sum, arm.pre_den_sum, arm.pre_num_den_sum),
                var(arm.pre_den_sum, arm.pre_den_sum_sq),
            ),
        )
        post_pre = (
            (
                cov(arm.num_sum, arm.pre_sum, arm.pre_cross_sum),
                cov(arm.num_sum, arm.pre_den_sum, arm.num_pre_den_sum),
            ),
            (
                cov(arm.den_sum, arm.pre_sum, arm.den_pre_num_sum),
                cov(arm.den_sum, arm.pre_den_sum, arm.den_pre_den_sum),
            ),
        )
        grad_pre = (1.0 / mean_dp, -pre_ratio / mean_dp) if mean_dp else (nan, nan)
        pre_variance = max(_bilinear(grad_pre, pre, grad_pre), 0.0)
        covariance = _bilinear(grad_post, post_pre, grad_pre)
        uncentred = (
            (abs(arm.pre_sum_sq), abs(arm.pre_num_den_sum)),
            (abs(arm.pre_num_den_sum), abs(arm.pre_den_sum_sq)),
        )
        abs_grad = tuple(abs(g) for g in grad_pre)
        scale = _bilinear(abs_grad, uncentred, abs_grad) / (n - 1)
        return cls(n, ratio, pre_ratio, variance, pre_variance, covariance, scale)

    def adjusted(self, theta: float, control_pre_ratio: float) -> CupedRatioArm:
        """The arm's `CupedRatioArm` for this theta (unadjusted values when theta = 0)."""
        if theta == 0.0:
            adjusted_ratio, adjusted_variance = self.ratio, self.variance
        else:
            adjusted_ratio = self.ratio - theta * (self.pre_ratio - control_pre_ratio)
            adjusted_variance = max(
                self.variance - 2.0 * theta * self.covariance + theta**2 * self.pre_variance,
                0.0,
            )
        return CupedRatioArm(
            n=self.n,
            ratio=self.ratio,
            pre_ratio=self.pre_ratio,
            adjusted_ratio=adjusted_ratio,
            variance=self.variance,
            adjusted_variance=adjusted_variance,
            pre_variance=self.pre_variance,
            covariance=self.covariance,
        )


def _bilinear(
    a: tuple[float, float], matrix: tuple[tuple[float, float], ...], b: tuple[float, float]
) -> float:
    """a' M b for a 2x2 block M of the 4x4 covariance matrix."""
    return sum(a[i] * matrix[i][j] * b[j] for i in range(2) for j in range(2))
