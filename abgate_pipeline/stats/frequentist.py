"""Two-sample frequentist comparisons over per-arm sufficient statistics.

Every metric kind reduces to the same shape: per arm a point estimate, the variance *of that
estimate* and a unit count (`ArmEstimate`). `compare_estimates` then does the test once for all
kinds, so proportions, means, ratios and quantiles share one set of conventions and edge cases.

Conventions, chosen where the reference engines in `shared/reference/stats_reference_cases.json`
disagree (the engine we match to 1e-6 is named):

- **Unpooled (Welch) test with a Welch-Satterthwaite t**, never a pooled variance: pooled tests
  are miscalibrated at 90/10 splits with unequal variances (reference case M04: pooled Student
  p = 0.025 vs Welch p = 0.104). Matches gbstats `TwoSidedTTest`, spotify `StudentsTTest`,
  `scipy.stats.ttest_ind_from_stats(equal_var=False)` and pingouin's Welch test.
- **Proportions use the same Welch t**, with the Bernoulli variance p(1-p) (ddof=0) per arm: the
  gbstats convention (cases P01-P07). Not the pooled z / chi-square of statsmodels
  `proportions_ztest` (pooled variance), not the unpooled z of spotify `ZTest`: at the sample sizes
  a gate acts on they agree to ~1e-5 in p, and one test for all metric kinds keeps the verdict
  rule simple. Non-binary per-unit proportions (a unit's refusal share over its requests, so
  `sum_sq != sum`) fall back to the sample variance, with a note.
- **Means** use the sample variance (sum_sq - sum²/n) / (n - 1) (gbstats, scipy).
- **Relative lift** t/c - 1 uses the delta method (Deng, Knoblich & Lu 2018, "Applying the delta
  method in metric analytics", KDD): Var = Var(t̄)/c̄² + t̄²·Var(c̄)/c̄⁴. Its interval uses the t
  quantile with the dof of the *absolute* difference, as gbstats does. Not spotify's "relative"
  (absolute CI divided by the control mean), which treats the control mean as known and is too
  narrow.
- **Two p-values**: `p_value` is the Welch test of the absolute difference (the test all engines
  agree on); `rel_p_value` tests the same null on the relative scale and is consistent with
  `rel_ci_*` (gbstats' relative p-value). Both test "no difference"; near alpha they can disagree,
  so a report should pair `p_value` with `abs_ci_*`, or `rel_p_value` with `rel_ci_*`.
- **One-sided alternatives** ("greater": treatment > control; "less": treatment < control) give a
  one-sided interval at level 1 - alpha, with an infinite end (gbstats `OneSided*TTest`).
- p-values use the survival function (`t.sf`), not 1 - cdf, so they stay accurate below 1e-16
  (gbstats returns exactly 0 there; it is matched to 1e-6 elsewhere).

Edge cases never raise and never return a silent NaN; each adds a sentence to `notes`:

- an arm with n < 2 (including n = 0, no traffic): no variance, no test. p = 1, standard errors
  are inf, intervals are (-inf, inf); a value that does not exist (the mean of an empty arm, the
  lift against it) is NaN and the note says why.
- zero variance in both arms (e.g. no conversions anywhere): the difference is deterministic;
  se = 0, the interval is the point, p = 1 if the arms are equal and 0 otherwise.
- zero variance in one arm (e.g. 0 conversions in the treatment): computed as usual, with a note
  that the Wald interval ignores that arm's sampling noise and is too narrow.
- control value <= 0: relative lift is undefined (division by zero) or sign-flipped (negative
  baseline), so every `rel_*` field is NaN, with a note; use the absolute difference.

Invalid inputs (negative n, more conversions than units, a negative variance beyond rounding,
an unknown alternative, alpha outside (0, 1)) raise `ValueError`: they are bugs upstream, not data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as sps

from .settings import (
    ALTERNATIVES,
    DEFAULT_ALPHA,
    DEFAULT_ALTERNATIVE,
    FLOAT_REL_TOL,
    MIN_UNITS_PER_ARM,
)
from .types import Comparison, RatioStats, SampleStats

INF = math.inf
NAN = math.nan


@dataclass(frozen=True)
class ArmEstimate:
    """One arm's point estimate, the variance *of the estimate* (not of a unit) and its unit count.

    `name` is used only in notes ("control" / "treatment").
    """

    name: str
    n: int
    value: float
    var_of_value: float


# --------------------------------------------------------------------------------------------
# Public comparisons
# --------------------------------------------------------------------------------------------


def compare_means(
    control: SampleStats,
    treatment: SampleStats,
    *,
    alpha: float = DEFAULT_ALPHA,
    alternative: str = DEFAULT_ALTERNATIVE,
) -> Comparison:
    """Welch t-test of treatment vs control means from n, sum, sum_sq (see module docstring)."""
    arms = (_mean_arm("control", control), _mean_arm("treatment", treatment))
    return compare_estimates("welch_t", *arms, alpha=alpha, alternative=alternative)


def compare_proportions(
    control: SampleStats,
    treatment: SampleStats,
    *,
    alpha: float = DEFAULT_ALPHA,
    alternative: str = DEFAULT_ALTERNATIVE,
) -> Comparison:
    """Unpooled Welch t-test of two proportions with Bernoulli variance p(1-p) (gbstats).

    A binary metric has `sum_sq == sum`. When per-unit values are fractions in [0, 1] instead
    (a unit's share of refused requests), the Bernoulli variance would overstate the noise, so the
    sample variance is used, as for a mean, and a note says so.
    """
    notes: list[str] = []
    arms = []
    for name, arm in (("control", control), ("treatment", treatment)):
        _check_proportion(name, arm)
        if _is_binary(arm):
            arms.append(_bernoulli_arm(name, arm))
        else:
            notes.append(
                f"{name}: per-unit values are not binary (sum_sq != sum); used the sample "
                "variance as for a mean metric"
            )
            arms.append(_mean_arm(name, arm))
    return compare_estimates(
        "welch_t_proportion", *arms, alpha=alpha, alternative=alternative, notes=notes
    )


def compare_ratios(
    control: RatioStats,
    treatment: RatioStats,
    *,
    alpha: float = DEFAULT_ALPHA,
    alternative: str = DEFAULT_ALTERNATIVE,
) -> Comparison:
    """Welch t-test of the ratio metric sum(num)/sum(den), delta-method variance per arm.

    Randomisation is by unit and a unit contributes to both sums, so numerator and denominator are
    correlated; the delta method (Deng et al. 2018) gives, per arm with unit means m_N, m_D:
    Var(R) = (Var(N) - 2·R·Cov(N, D) + R²·Var(D)) / (n · m_D²), with ddof=1 moments.
    """
    notes: list[str] = []
    arms = []
    for name, arm in (("control", control), ("treatment", treatment)):
        estimate, note = _ratio_arm(name, arm)
        arms.append(estimate)
        if note:
            notes.append(note)
    return compare_estimates(
        "delta_method_ratio_welch_t", *arms, alpha=alpha, alternative=alternative, notes=notes
    )


def compare_estimates(
    method: str,
    control: ArmEstimate,
    treatment: ArmEstimate,
    *,
    alpha: float = DEFAULT_ALPHA,
    alternative: str = DEFAULT_ALTERNATIVE,
    use_t: bool = True,
    notes: list[str] | tuple[str, ...] = (),
) -> Comparison:
    """Compare two arm estimates: absolute difference and delta-method relative lift.

    The shared core of every comparison (means, proportions, ratios, quantiles, and any adjusted
    estimate such as CUPED). `use_t=False` uses the normal distribution (e.g. quantiles, whose
    standard error is not a sample variance and has no dof).
    """
    check_alpha(alpha)
    check_alternative(alternative)
    notes = list(notes)
    short = [arm for arm in (control, treatment) if not _has_variance(arm)]
    if short:
        notes.extend(_short_arm_note(arm) for arm in short)
        return _untestable(method, control, treatment, alpha, alternative, notes)

    abs_diff = treatment.value - control.value
    abs_se = math.sqrt(control.var_of_value + treatment.var_of_value)
    dof = _welch_dof(control, treatment) if use_t and abs_se > 0 else None
    notes.extend(_zero_variance_notes(control, treatment))
    p_value, abs_lo, abs_hi = _test(abs_diff, abs_se, alpha, alternative, dof)

    relative = _relative_lift(control, treatment)
    if relative is None:
        notes.append(_undefined_relative_note(control, treatment))
        rel_lift = rel_se = rel_lo = rel_hi = rel_p = NAN
    else:
        rel_lift, rel_se = relative
        rel_p, rel_lo, rel_hi = _test(rel_lift, rel_se, alpha, alternative, dof)

    return Comparison(
        method=method,
        control_value=control.value,
        treatment_value=treatment.value,
        abs_diff=abs_diff,
        abs_se=abs_se,
        abs_ci_low=abs_lo,
        abs_ci_high=abs_hi,
        rel_lift=rel_lift,
        rel_se=rel_se,
        rel_ci_low=rel_lo,
        rel_ci_high=rel_hi,
        p_value=p_value,
        alpha=alpha,
        alternative=alternative,
        dof=dof,
        notes=tuple(notes),
        rel_p_value=rel_p,
    )


# --------------------------------------------------------------------------------------------
# Shared helpers for tests and intervals (also used by non-inferiority)
# --------------------------------------------------------------------------------------------


def check_alpha(alpha: float) -> None:
    """Reject an alpha that cannot be a type-I error rate."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")


def check_alternative(alternative: str) -> None:
    """Reject an alternative other than those in `settings.ALTERNATIVES`."""
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")


def critical_value(level: float, dof: float | None) -> float:
    """Quantile of the reference distribution: Student t with `dof`, or normal when None."""
    return float(sps.norm.ppf(level) if dof is None else sps.t.ppf(level, dof))


def upper_tail(statistic: float, dof: float | None) -> float:
    """P(T >= statistic) via the survival function (accurate for tiny p-values)."""
    return float(sps.norm.sf(statistic) if dof is None else sps.t.sf(statistic, dof))


def standardize(estimate: float, se: float) -> float:
    """estimate / se, with se = 0 read as certainty: 0 if the estimate is 0, else ±inf."""
    if se > 0:
        return estimate / se
    return 0.0 if estimate == 0 else math.copysign(INF, estimate)


def _test(
    estimate: float, se: float, alpha: float, alternative: str, dof: float | None
) -> tuple[float, float, float]:
    """(p-value, ci_low, ci_high) for H0: true value 0, at level 1 - alpha for `alternative`."""
    stat = standardize(estimate, se)
    if alternative == "two-sided":
        p = min(1.0, 2.0 * upper_tail(abs(stat), dof))
        half = critical_value(1.0 - alpha / 2.0, dof) * se
        return p, estimate - half, estimate + half
    half = critical_value(1.0 - alpha, dof) * se
    if alternative == "greater":
        return upper_tail(stat, dof), estimate - half, INF
    return upper_tail(-stat, dof), -INF, estimate + half


def _welch_dof(control: ArmEstimate, treatment: ArmEstimate) -> float:
    """Welch-Satterthwaite degrees of freedom of the difference of two estimates.

    (a + b)² / (a²/(n_c - 1) + b²/(n_t - 1)), written with the shares a/(a+b) and b/(a+b) so that
    tiny variances cannot underflow to 0/0.
    """
    total = control.var_of_value + treatment.var_of_value
    share_c, share_t = control.var_of_value / total, treatment.var_of_value / total
    return 1.0 / (share_c**2 / (control.n - 1) + share_t**2 / (treatment.n - 1))


def _relative_lift(control: ArmEstimate, treatment: ArmEstimate) -> tuple[float, float] | None:
    """(t/c - 1, delta-method se) per Deng et al. (2018); None when the lift is undefined."""
    ratio = _ratio(control, treatment)
    if ratio is None:
        return None
    # sqrt(Var(t)/c² + t²·Var(c)/c⁴), term by term so that c² cannot underflow to 0.
    c, t = control.value, treatment.value
    se_t, se_c = math.sqrt(treatment.var_of_value), math.sqrt(control.var_of_value)
    return ratio - 1.0, math.hypot(se_t / c, se_c * abs(t) / c / c)


def _ratio(control: ArmEstimate, treatment: ArmEstimate) -> float | None:
    """t/c when it is a meaningful finite number: c > 0 and the division does not overflow."""
    if not control.value > 0:
        return None
    ratio = treatment.value / control.value
    return ratio if math.isfinite(ratio) else None


# --------------------------------------------------------------------------------------------
# Per-arm estimates from sufficient statistics
# --------------------------------------------------------------------------------------------


def _mean_arm(name: str, arm: SampleStats) -> ArmEstimate:
    """Mean and Var(mean) = s²/n with the ddof=1 sample variance."""
    _check_n(name, arm.n)
    if arm.n == 0:
        return ArmEstimate(name, 0, NAN, NAN)
    mean = arm.sum / arm.n
    if arm.n < MIN_UNITS_PER_ARM:
        return ArmEstimate(name, arm.n, mean, NAN)
    var = _sample_variance(name, arm.n, arm.sum, arm.sum_sq)
    return ArmEstimate(name, arm.n, mean, var / arm.n)


def _bernoulli_arm(name: str, arm: SampleStats) -> ArmEstimate:
    """Proportion p and Var(p) = p(1-p)/n (ddof=0, as gbstats does for binomial metrics)."""
    if arm.n == 0:
        return ArmEstimate(name, 0, NAN, NAN)
    p = arm.sum / arm.n
    return ArmEstimate(name, arm.n, p, p * (1.0 - p) / arm.n)


def _ratio_arm(name: str, arm: RatioStats) -> tuple[ArmEstimate, str | None]:
    """sum(num)/sum(den) and its delta-method variance; NaN ratio (with a note) if sum(den) = 0."""
    _check_n(name, arm.n)
    if arm.n == 0:
        return ArmEstimate(name, 0, NAN, NAN), None
    if arm.den_sum == 0:
        note = f"{name}: the denominator sums to 0, so the ratio is undefined"
        return ArmEstimate(name, arm.n, NAN, NAN), note
    ratio = arm.num_sum / arm.den_sum
    if arm.n < MIN_UNITS_PER_ARM:
        return ArmEstimate(name, arm.n, ratio, NAN), None
    n = arm.n
    var_num = _sample_variance(name, n, arm.num_sum, arm.num_sum_sq)
    var_den = _sample_variance(name, n, arm.den_sum, arm.den_sum_sq)
    cov = (arm.cross_sum - arm.num_sum * arm.den_sum / n) / (n - 1)
    mean_den = arm.den_sum / n
    unit_var = var_num - 2.0 * ratio * cov + ratio**2 * var_den
    return ArmEstimate(name, n, ratio, max(unit_var, 0.0) / (n * mean_den**2)), None


def unit_variance(arm: SampleStats) -> float | None:
    """The ddof=1 variance of the per-unit values (the input of a sample-size plan); None below
    2 units."""
    if arm.n < MIN_UNITS_PER_ARM:
        return None
    return _sample_variance("arm", arm.n, arm.sum, arm.sum_sq)


def _sample_variance(name: str, n: int, total: float, total_sq: float) -> float:
    """ddof=1 variance from sums; rounding noise below zero is clipped, real negatives raise."""
    centered = total_sq - total * total / n
    if centered < 0:
        if -centered > FLOAT_REL_TOL * max(abs(total_sq), 1.0):
            raise ValueError(f"{name}: sum_sq={total_sq} < sum²/n; not sufficient statistics")
        centered = 0.0
    return centered / (n - 1)


def _check_n(name: str, n: int) -> None:
    if n < 0:
        raise ValueError(f"{name}: n must be >= 0, got {n}")


def _check_proportion(name: str, arm: SampleStats) -> None:
    _check_n(name, arm.n)
    if not 0 <= arm.sum <= arm.n:
        raise ValueError(f"{name}: a proportion needs 0 <= sum <= n, got sum={arm.sum}, n={arm.n}")


def _is_binary(arm: SampleStats) -> bool:
    return math.isclose(arm.sum_sq, arm.sum, rel_tol=FLOAT_REL_TOL, abs_tol=FLOAT_REL_TOL)


# --------------------------------------------------------------------------------------------
# Edge cases
# --------------------------------------------------------------------------------------------


def _has_variance(arm: ArmEstimate) -> bool:
    return arm.n >= MIN_UNITS_PER_ARM and math.isfinite(arm.value) and arm.var_of_value >= 0


def _short_arm_note(arm: ArmEstimate) -> str:
    if arm.n == 0:
        return f"{arm.name} has no units (n=0): no estimate and no test"
    if arm.n < MIN_UNITS_PER_ARM:
        return (
            f"{arm.name} has n={arm.n} < {MIN_UNITS_PER_ARM} units: no variance estimate, "
            "so no test (p=1, infinite intervals)"
        )
    return f"{arm.name} has no finite estimate: no test (p=1, infinite intervals)"


def _zero_variance_notes(control: ArmEstimate, treatment: ArmEstimate) -> list[str]:
    zero = [arm.name for arm in (control, treatment) if arm.var_of_value == 0]
    if len(zero) == 2:
        return [
            "zero variance in both arms: the difference is deterministic "
            "(se=0, interval = point, p=1 if equal else 0)"
        ]
    return [
        f"{name} has zero sample variance (e.g. no conversions): the interval ignores its "
        "sampling noise and is too narrow"
        for name in zero
    ]


def _undefined_relative_note(control: ArmEstimate, treatment: ArmEstimate) -> str:
    missing = [arm.name for arm in (control, treatment) if not math.isfinite(arm.value)]
    if missing:
        reason = f"no finite value for {' and '.join(missing)}"
    elif control.value == 0:
        reason = "control value is 0"
    elif control.value < 0:
        reason = f"control value {control.value:g} is negative (the sign would flip)"
    else:
        reason = f"control value {control.value:g} is too close to 0 for a finite ratio"
    return f"relative lift undefined: {reason}; rel_* fields are NaN (use abs_diff)"


def _untestable(
    method: str,
    control: ArmEstimate,
    treatment: ArmEstimate,
    alpha: float,
    alternative: str,
    notes: list[str],
) -> Comparison:
    """No-information result: point estimates where they exist, p=1, infinite intervals."""
    ratio = _ratio(control, treatment)
    relative = ratio is not None
    if not relative:
        notes.append(_undefined_relative_note(control, treatment))
    return Comparison(
        method=method,
        control_value=control.value,
        treatment_value=treatment.value,
        abs_diff=treatment.value - control.value,
        abs_se=INF,
        abs_ci_low=-INF,
        abs_ci_high=INF,
        rel_lift=ratio - 1.0 if relative else NAN,
        rel_se=INF if relative else NAN,
        rel_ci_low=-INF if relative else NAN,
        rel_ci_high=INF if relative else NAN,
        p_value=1.0,
        alpha=alpha,
        alternative=alternative,
        dof=None,
        notes=tuple(notes),
        rel_p_value=1.0 if relative else NAN,
    )
