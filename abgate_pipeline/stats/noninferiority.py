"""Non-inferiority of a guardrail: is the challenger no worse than the margin allows?

Guardrails are tested for non-inferiority with a margin, not for a difference (Schultzberg,
Ankargren & Frånberg 2024, "Risk-aware product decisions in A/B tests with multiple metrics",
Spotify). With `better="higher"` and margin m the hypotheses are H0: lift <= -m vs H1: lift > -m
(mirrored for `better="lower"`), one-sided at alpha, **not** alpha/2 (spotify NIM, gbstats
one-sided tests). Equivalently: the one-sided 1 - alpha bound of the lift (`bound`) must lie on the
good side of -m (for "higher") or +m (for "lower").

Convention where engines disagree (reference case N02): a **relative** margin is tested on the
relative lift with its delta-method standard error and the comparison's Welch dof (gbstats with
`test_value`, matched to 1e-6). Spotify instead turns it into an absolute null m·control_mean,
treating the control mean as known; that ignores the control's noise and is slightly
anti-conservative. An **absolute** margin is tested on the absolute difference (matches spotify's
`StudentsTTest` NIM and statsmodels' Wald test with `value=-m`).

`confidently_worse` is the mirror test: the one-sided 1 - alpha interval lies entirely beyond the
margin in the harmful direction, i.e. H0: lift >= -m is rejected at alpha. It drives `rollback`
(DESIGN.md §3). `passed` and `confidently_worse` are never both true; both are false while the
data cannot tell (the `continue` zone).

A comparison with no test (an empty or 1-unit arm) or an undefined relative lift (control <= 0)
yields passed=False, confidently_worse=False, p=1, with a note.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from .frequentist import check_alpha, critical_value, standardize, upper_tail
from .settings import DEFAULT_ALPHA
from .types import Comparison

MARGIN_TYPES = ("relative", "absolute")
DIRECTIONS = ("higher", "lower")


@dataclass(frozen=True)
class NonInferiorityResult:
    """`bound` is the one-sided 1 - alpha bound compared with the margin, on the margin's scale
    (lower bound when higher is better, upper bound when lower is better); `p_value` is for
    H0: worse than the margin."""

    passed: bool
    p_value: float
    bound: float
    margin: float
    margin_type: str
    confidently_worse: bool
    better: str = "higher"
    alpha: float = DEFAULT_ALPHA
    notes: tuple[str, ...] = field(default_factory=tuple)


def non_inferiority(
    comparison: Comparison,
    *,
    margin: float,
    margin_type: str = "relative",
    better: str = "higher",
    alpha: float | None = None,
) -> NonInferiorityResult:
    """One-sided non-inferiority test of `comparison` against a margin (a non-negative size).

    `alpha` defaults to the comparison's alpha; whatever it is, the test is one-sided at alpha.
    """
    alpha = comparison.alpha if alpha is None else alpha
    _check(margin, margin_type, better, alpha)
    estimate, se = _scale(comparison, margin_type)
    sign = 1.0 if better == "higher" else -1.0
    untested = NonInferiorityResult(
        passed=False,
        p_value=1.0,
        bound=-sign * math.inf,
        margin=margin,
        margin_type=margin_type,
        confidently_worse=False,
        better=better,
        alpha=alpha,
    )
    if not (math.isfinite(estimate) and math.isfinite(se)):
        return replace(untested, notes=(_untestable_note(comparison, margin_type),))

    # On the "improvement" scale x = sign·lift the harmful threshold is -margin for both directions.
    improvement = sign * estimate
    half_width = critical_value(1.0 - alpha, comparison.dof) * se
    return replace(
        untested,
        passed=improvement - half_width > -margin,
        p_value=upper_tail(standardize(improvement + margin, se), comparison.dof),
        bound=sign * (improvement - half_width),
        confidently_worse=improvement + half_width < -margin,
    )


def _scale(comparison: Comparison, margin_type: str) -> tuple[float, float]:
    if margin_type == "relative":
        return comparison.rel_lift, comparison.rel_se
    return comparison.abs_diff, comparison.abs_se


def _untestable_note(comparison: Comparison, margin_type: str) -> str:
    if margin_type == "relative" and math.isnan(comparison.rel_lift):
        return (
            "non-inferiority not tested: a relative margin needs a relative lift, which is "
            "undefined here; use margin_type='absolute'"
        )
    return "non-inferiority not tested: the comparison has no finite estimate or standard error"


def _check(margin: float, margin_type: str, better: str, alpha: float) -> None:
    if not (math.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin must be a finite size >= 0, got {margin!r}")
    if margin_type not in MARGIN_TYPES:
        raise ValueError(f"margin_type must be one of {MARGIN_TYPES}, got {margin_type!r}")
    if better not in DIRECTIONS:
        raise ValueError(f"better must be one of {DIRECTIONS}, got {better!r}")
    check_alpha(alpha)
