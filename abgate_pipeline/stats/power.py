"""Sample size, power reached so far, and days still needed.

Closed-form normal approximation for an unpooled two-sample test (the test `frequentist` runs),
with any allocation between the two arms (90/10 included). With weights w_c + w_t = 1, total N,
effect d and per-unit variances var_c, var_t:

    Var(diff) = var_c/(w_c·N) + var_t/(w_t·N),    N = (z_{1-alpha/2} + z_{power})² · (var_c/w_c + var_t/w_t) / d²

and n_arm = ceil(w_arm · N). For one-sided tests z_{1-alpha} replaces z_{1-alpha/2}.

Conventions, chosen where engines disagree (reference cases PW01, PW02):
- Matches spotify-confidence's `SampleSizeCalculator` (per arm 14,749 and 39,245) and the
  closed form to 1e-9 before rounding up.
- Proportions are unpooled: var_c = p(1-p) at the baseline, var_t = (p+d)(1-p-d) at the alternative
  (spotify SampleSizeCalculator), not the baseline variance in both arms (spotify legacy), the
  pooled null variance (Fleiss) or Cohen's h (statsmodels NormalIndPower).
- Means use the baseline variance in both arms (no information about the treatment's variance).
- The effect is absolute on the metric's scale: a relative MDE is d = mde · baseline. GrowthBook's
  power.ts instead sizes a test of the *relative* lift (delta-method variance), which asks for
  ~(1+(1+d)²)/2 times more units; our gate's significance test is the absolute-difference
  p-value, so this is the consistent choice.
- The opposite rejection tail of a two-sided test is ignored (it adds < 1e-5 of power for any
  target power >= 0.8), so `achieved_power` at the planned n returns exactly the target power.

Why not pingouin's `power_ttest` / `power_ttest2n` or statsmodels' `TTestIndPower`: they take one
pooled effect size (Cohen's d, equal variances), so they cannot express unpooled binary variances,
and their noncentral-t answer rounds to 39,246 where the reference says 39,245 (PW02).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.stats import norm

from .frequentist import check_alpha, check_alternative, critical_value
from .settings import DEFAULT_ALPHA, DEFAULT_ALTERNATIVE, DEFAULT_POWER

METRIC_KINDS = ("proportion", "mean")
MDE_TYPES = ("relative", "absolute")


@dataclass(frozen=True)
class SampleSize:
    """Units needed per arm (rounded up) and the unrounded values they come from."""

    control: int
    treatment: int
    control_exact: float
    treatment_exact: float

    @property
    def total(self) -> int:
        return self.control + self.treatment


def required_sample_size_per_arm(
    *,
    kind: str,
    baseline: float,
    mde: float,
    mde_type: str = "relative",
    variance: float | None = None,
    alpha: float = DEFAULT_ALPHA,
    power: float = DEFAULT_POWER,
    alternative: str = DEFAULT_ALTERNATIVE,
    allocation: Sequence[float] = (0.5, 0.5),
) -> SampleSize:
    """Units per arm for a test of control vs one treatment to detect `mde` with `power`.

    `kind` is "proportion" (baseline is the rate; the variance follows) or "mean" (pass the
    per-unit `variance`). `mde` is relative to the baseline (0.05 = 5 %) unless
    `mde_type="absolute"`; its sign is the direction of the effect (it matters for a proportion's
    treatment variance). `allocation` is (control, treatment) in any units, e.g. (90, 10); with
    several challengers, size each control-vs-challenger pair.
    """
    delta, var_c, var_t = _effect(kind, baseline, mde, mde_type, variance)
    _check_power(power)
    w_c, w_t = _weights(allocation)
    z = _z_alpha(alpha, alternative) + critical_value(power, None)
    total = z**2 * (var_c / w_c + var_t / w_t) / delta**2
    return SampleSize(
        control=math.ceil(w_c * total),
        treatment=math.ceil(w_t * total),
        control_exact=w_c * total,
        treatment_exact=w_t * total,
    )


def achieved_power(
    n_control: int,
    n_treatment: int,
    *,
    kind: str,
    baseline: float,
    mde: float,
    mde_type: str = "relative",
    variance: float | None = None,
    alpha: float = DEFAULT_ALPHA,
    alternative: str = DEFAULT_ALTERNATIVE,
) -> float:
    """Power to detect `mde` with the units observed so far: Φ(|d|/se - z_alpha) (same model as
    `required_sample_size_per_arm`). An arm with no units gives power 0."""
    delta, var_c, var_t = _effect(kind, baseline, mde, mde_type, variance)
    if n_control < 0 or n_treatment < 0:
        raise ValueError(f"unit counts must be >= 0, got {n_control}, {n_treatment}")
    if n_control == 0 or n_treatment == 0:
        return 0.0
    se = math.sqrt(var_c / n_control + var_t / n_treatment)
    return float(norm.cdf(abs(delta) / se - _z_alpha(alpha, alternative)))


def days_remaining(planned_n: float, current_n: float, daily_traffic: float) -> float:
    """Days until `planned_n` units at `daily_traffic` units/day: 0 if reached, inf if no traffic.

    Call it per arm (with that arm's planned n and traffic) and take the maximum.
    """
    if min(planned_n, current_n, daily_traffic) < 0:
        raise ValueError("planned_n, current_n and daily_traffic must be >= 0")
    missing = planned_n - current_n
    if missing <= 0:
        return 0.0
    if daily_traffic == 0:
        return math.inf
    return missing / daily_traffic


def _effect(
    kind: str, baseline: float, mde: float, mde_type: str, variance: float | None
) -> tuple[float, float, float]:
    """(d, var_c, var_t) on the metric's absolute scale."""
    if mde_type not in MDE_TYPES:
        raise ValueError(f"mde_type must be one of {MDE_TYPES}, got {mde_type!r}")
    delta = mde * baseline if mde_type == "relative" else mde
    if not (math.isfinite(delta) and delta != 0):
        raise ValueError(f"the effect to detect must be finite and non-zero, got {delta!r}")
    if kind == "proportion":
        return delta, *_binary_variances(baseline, delta, variance)
    if kind == "mean":
        if variance is None or not variance > 0:
            raise ValueError(f"a mean metric needs a per-unit variance > 0, got {variance!r}")
        return delta, variance, variance
    raise ValueError(f"kind must be one of {METRIC_KINDS}, got {kind!r}")


def _binary_variances(p: float, delta: float, variance: float | None) -> tuple[float, float]:
    if variance is not None:
        raise ValueError("a proportion's variance follows from its rate; do not pass `variance`")
    if not (0 < p < 1 and 0 <= p + delta <= 1):
        raise ValueError(f"need 0 < baseline < 1 and 0 <= baseline + effect <= 1: {p}, {delta}")
    return p * (1 - p), (p + delta) * (1 - p - delta)


def _weights(allocation: Sequence[float]) -> tuple[float, float]:
    if len(allocation) != 2 or not all(w > 0 and math.isfinite(w) for w in allocation):
        raise ValueError(
            f"allocation must be two positive weights (control, treatment): {allocation}"
        )
    w_c, w_t = allocation
    return w_c / (w_c + w_t), w_t / (w_c + w_t)


def _z_alpha(alpha: float, alternative: str) -> float:
    check_alpha(alpha)
    check_alternative(alternative)
    level = 1.0 - alpha / 2.0 if alternative == "two-sided" else 1.0 - alpha
    return critical_value(level, None)


def _check_power(power: float) -> None:
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be in (0, 1), got {power!r}")
