"""Sequential inference: a daily schedule peeks every day, so each look must keep the error honest.

A fixed-horizon test read after each of 14 daily looks rejects a true null ~20 % of the time at
alpha = 0.05 (Armitage, McPherson & Rowe 1969; measured in `benchmarks/calibration.py`). Two
remedies are implemented, over looks given as (total units n, estimate, standard error):

**Group-sequential alpha spending (the default).** Lan & DeMets (1983), "Discrete sequential
boundaries for clinical trials", Biometrika 70(3). The information fraction of a look is
t = n / planned_n, and the cumulative type-I error allowed by time t is a spending function:

- ``"obf"`` (O'Brien-Fleming type): alpha(t) = 2 - 2 Phi(z_{1-alpha/2} / sqrt(t)). Spends almost
  nothing early, so the final boundary is close to the fixed-horizon one and power is kept.
- ``"power"``: alpha(t) = alpha * t^rho (Kim & DeMets 1987; rho = 2 by default, rho = 1 is
  Pocock-like). Spends more early, so early stopping is likelier and the last boundary higher.

Boundaries are solved for the looks that actually happened, one look at a time: boundary k is
the z such that P(first crossing at look k | H0) = alpha(t_k) - alpha(t_{k-1}), where the joint
law of the z-statistics is that of Brownian motion observed at information n_k
(corr(Z_i, Z_j) = sqrt(n_i / n_j)). The probability is computed by the recursive numerical
integration of Armitage, McPherson & Rowe (1969) on the grid of Jennison & Turnbull (2000),
"Group Sequential Methods with Applications to Clinical Trials", ch. 19 — deterministic and a few
milliseconds for 30 looks. Because the spending function, not a fixed number of looks, defines
the boundaries, a skipped day, an extra look, or irregular spacing just changes where alpha is
spent; looks with the same n are one look re-run (the latest data wins).

The first look with t >= 1 is the final analysis and spends what is left. Every later look
(past the horizon) falls back to the always-valid confidence sequence below, as does every look
when there is no planned sample size.

**Always-valid confidence sequences (the option).** The asymptotic confidence sequence of
Waudby-Smith, Arnold, Wu, Ramdas & Xu (2023), "Time-uniform central limit theory and asymptotic
confidence sequences", arXiv 2103.06476, eq. 9 (two-sided) / eq. 134 (one-sided), with the
mixing parameter from eq. 161 tuned to be tightest at N* total units — what GrowthBook's gbstats
calls sequential testing. Its p-value is 1 / e-value of the same normal mixture (the mSPRT of
Johari, Koomen, Pekelis & Walsh 2017 with mixing variance rho^2 * N * se^2). Valid at every n,
with no planned horizon, at the price of power (see `docs/statistics.md`).

Conventions: `estimate / std_err` is a z-statistic for the null "true value 0" (normal, no dof:
sequential theory is asymptotic); n is the total number of units in both arms at the look.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special
from scipy import stats as sps

from .boundaries import boundaries
from .settings import ALTERNATIVES, DEFAULT_ALPHA, DEFAULT_ALTERNATIVE

METHODS = ("alpha_spending", "confidence_sequence")
DEFAULT_METHOD = "alpha_spending"
SPENDING_FUNCTIONS = ("obf", "power")
DEFAULT_SPENDING = "obf"
#: Exponent of the power spending function alpha * t^rho.
DEFAULT_SPENDING_RHO = 2.0
#: GrowthBook's default tuning N* of the confidence sequence, used only without a planned_n
#: (with one, the sequence is tuned to be tightest at the planned sample size).
DEFAULT_TUNING_N = 5000.0

# Repeated p-values are not resolved below this; smaller ones are reported as this value.
_P_FLOOR = 1e-300


@dataclass(frozen=True)
class Look:
    """One analysis: n = total units (both arms) so far; estimate and its standard error on the
    scale being tested (e.g. relative lift and its delta-method se)."""

    n: float
    estimate: float
    std_err: float


@dataclass(frozen=True)
class SequentialResult:
    """Sequentially valid inference as of the latest look.

    `rejected` is True once any look crossed its boundary (a crossed boundary stays crossed) and
    `p_value <= nominal level alpha` exactly when `rejected`. `ci_low`/`ci_high` are the repeated
    confidence interval (alpha spending) or the confidence sequence at the latest look.
    `nominal_alpha` is the fixed-horizon level that the latest look's boundary corresponds to.
    `info_fraction` is n / planned_n (None without a planned sample size).
    """

    method_used: str
    rejected: bool
    p_value: float
    ci_low: float
    ci_high: float
    info_fraction: float | None
    nominal_alpha: float
    critical_z: float
    crossed_at_n: float | None
    notes: tuple[str, ...]


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def sequential_test(
    looks: Sequence[Look],
    *,
    planned_n: float | None,
    alpha: float = DEFAULT_ALPHA,
    method: str = DEFAULT_METHOD,
    spending: str = DEFAULT_SPENDING,
    rho: float = DEFAULT_SPENDING_RHO,
    alternative: str = DEFAULT_ALTERNATIVE,
    tuning_n: float | None = None,
) -> SequentialResult:
    """Test "true value = 0" sequentially over `looks` (oldest first) at overall level `alpha`.

    `method="alpha_spending"` uses Lan-DeMets boundaries over `planned_n` (total units) with the
    `spending` function ("obf" or "power" with exponent `rho`); looks past the horizon, or all
    looks when `planned_n` is None, use the confidence sequence, which `method=
    "confidence_sequence"` selects outright. `tuning_n` is its N* (default: `planned_n`, else
    `DEFAULT_TUNING_N`). Looks with no usable standard error are skipped with a note; looks with
    the same n are one look re-run. Raises ValueError on invalid options or decreasing n.
    """
    _check_options(alpha, method, spending, rho, alternative, planned_n, tuning_n)
    history, notes = _usable_history(looks)
    if not history:
        return _no_information(notes)
    tuning = tuning_n or planned_n or DEFAULT_TUNING_N
    if method == "confidence_sequence" or planned_n is None:
        if planned_n is None and method == "alpha_spending":
            notes.append("no planned sample size: used the always-valid confidence sequence")
        return _confidence_sequence_result(
            history, planned_n, alpha, alternative, tuning, None, notes
        )
    spending_phase, past_horizon = _split_at_horizon(history, planned_n)
    group_sequential = _alpha_spending_result(
        spending_phase, planned_n, alpha, spending, rho, alternative, notes
    )
    if not past_horizon:
        return group_sequential
    notes.append(
        f"past the planned horizon (t = {past_horizon[-1].n / planned_n:.3g} > 1): the spending "
        "function is exhausted, so this look uses the always-valid confidence sequence "
        f"(N* = {tuning:g}); crossings before the horizon still count"
    )
    return _confidence_sequence_result(
        past_horizon, planned_n, alpha, alternative, tuning, group_sequential, notes
    )


def spending_function(
    t: float,
    *,
    alpha: float = DEFAULT_ALPHA,
    spending: str = DEFAULT_SPENDING,
    rho: float = DEFAULT_SPENDING_RHO,
    alternative: str = DEFAULT_ALTERNATIVE,
) -> float:
    """Cumulative type-I error allowed by information fraction t (Lan & DeMets 1983).

    Per side, at one-sided level a: "obf" spends 2 - 2 Phi(z_{1-a/2} / sqrt(t)) (O'Brien-Fleming
    type), "power" spends a * t^rho (Kim & DeMets 1987). A two-sided test at level alpha is two
    one-sided tests at a = alpha/2 with symmetric boundaries (as gsDesign's sfLDOF and ldbounds
    do); the total returned is both sides. t is clipped to [0, 1]: all of alpha is spent at t = 1.
    """
    t = min(max(t, 0.0), 1.0)
    sides = 2.0 if alternative == "two-sided" else 1.0
    per_side = alpha / sides
    if t == 0.0:
        return 0.0
    if spending == "obf":
        critical = -special.ndtri(per_side / 2.0)
        return sides * 2.0 * float(special.ndtr(-critical / math.sqrt(t)))
    if spending == "power":
        return alpha * t**rho
    raise ValueError(f"spending must be one of {SPENDING_FUNCTIONS}, got {spending!r}")


def spending_boundaries(
    info_fractions: Sequence[float],
    *,
    alpha: float = DEFAULT_ALPHA,
    spending: str = DEFAULT_SPENDING,
    rho: float = DEFAULT_SPENDING_RHO,
    alternative: str = DEFAULT_ALTERNATIVE,
) -> tuple[float, ...]:
    """Critical z-values c_k for looks at increasing information fractions t_k = n_k / planned_n.

    Reject at look k when |Z_k| >= c_k (two-sided), Z_k >= c_k ("greater") or -Z_k >= c_k
    ("less"); the probability of a first crossing at look k under H0 is the alpha spent between
    t_{k-1} and t_k. Fractions above 1 keep their real information for the correlations but
    spend nothing more: a second look past t = 1 gets c = inf. Cached, so a schedule is solved once.
    """
    info = tuple(float(t) for t in info_fractions)
    if not info or info[0] <= 0 or any(b <= a for a, b in itertools.pairwise(info)):
        raise ValueError(f"information fractions must be positive and increasing, got {info}")
    cumulative = tuple(
        spending_function(t, alpha=alpha, spending=spending, rho=rho, alternative=alternative)
        for t in info
    )
    return boundaries(info, cumulative, alternative == "two-sided")


def confidence_sequence_rho(alpha: float, tuning_n: float, *, two_sided: bool = True) -> float:
    """Mixing parameter of the normal-mixture confidence sequence that is tightest at N* units.

    Waudby-Smith et al. (2023) eq. 161: rho = sqrt((-2 ln a + ln(1 - 2 ln a)) / N*), with
    a = alpha (two-sided) or 2 alpha (one-sided), as gbstats `sequential_rho`.
    """
    a = alpha if two_sided else 2.0 * alpha
    log_a = math.log(a)
    return math.sqrt((-2.0 * log_a + math.log(1.0 - 2.0 * log_a)) / tuning_n)


def confidence_sequence_halfwidth(
    n: float | np.ndarray,
    std_err: float | np.ndarray,
    *,
    alpha: float = DEFAULT_ALPHA,
    tuning_n: float = DEFAULT_TUNING_N,
    alternative: str = DEFAULT_ALTERNATIVE,
) -> float | np.ndarray:
    """Radius of the asymptotic confidence sequence at n total units (numpy-vectorised).

    Waudby-Smith et al. (2023) eq. 9 (two-sided) and eq. 134 (one-sided) with per-unit variance
    s^2 = se^2 * n: radius = se * sqrt(2 (n rho^2 + 1) / (n rho^2) * ln(sqrt(n rho^2 + 1) / alpha))
    (one-sided: ln(1 + sqrt(n rho^2 + 1) / (2 alpha))). Matches gbstats to rounding (case Q01).
    """
    two_sided = alternative == "two-sided"
    nr2 = (
        np.asarray(n, dtype=float)
        * confidence_sequence_rho(alpha, tuning_n, two_sided=two_sided) ** 2
    )
    root = np.sqrt(nr2 + 1.0)
    log_term = np.log(root / alpha) if two_sided else np.log1p(root / (2.0 * alpha))
    return np.asarray(std_err, dtype=float) * np.sqrt(2.0 * (nr2 + 1.0) / nr2 * log_term)


def confidence_sequence_p_value(
    n: float | np.ndarray,
    z: float | np.ndarray,
    *,
    alpha: float = DEFAULT_ALPHA,
    tuning_n: float = DEFAULT_TUNING_N,
    alternative: str = DEFAULT_ALTERNATIVE,
) -> float | np.ndarray:
    """Always-valid p-value of one look from its z = estimate / se (numpy-vectorised).

    Two-sided: 1 / e-value of the normal mixture, sqrt(n rho^2 + 1) exp(-n rho^2 z^2 /
    (2 (n rho^2 + 1))) (gbstats, eq. 155 of Waudby-Smith et al.). One-sided: the smallest level
    at which the eq.-134 sequence excludes 0, in closed form. rho is fixed by `alpha`, so
    p <= alpha exactly when the level-alpha sequence excludes 0. Take the running minimum over
    looks for the p-value "by now".
    """
    two_sided = alternative == "two-sided"
    nr2 = (
        np.asarray(n, dtype=float)
        * confidence_sequence_rho(alpha, tuning_n, two_sided=two_sided) ** 2
    )
    z = np.asarray(z, dtype=float)
    exponent = nr2 * z**2 / (2.0 * (nr2 + 1.0))
    root = np.sqrt(nr2 + 1.0)
    if two_sided:
        return np.minimum(1.0, root * np.exp(-exponent))
    oriented = z if alternative == "greater" else -z
    with np.errstate(divide="ignore", over="ignore"):
        p = root / (2.0 * np.expm1(exponent))
    return np.where(oriented > 0, np.minimum(1.0, p), 1.0)


# --------------------------------------------------------------------------------------------
# Looks: validation and the split at the planned horizon
# --------------------------------------------------------------------------------------------


def _check_options(
    alpha: float,
    method: str,
    spending: str,
    rho: float,
    alternative: str,
    planned_n: float | None,
    tuning_n: float | None,
) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if spending not in SPENDING_FUNCTIONS:
        raise ValueError(f"spending must be one of {SPENDING_FUNCTIONS}, got {spending!r}")
    if not rho > 0:
        raise ValueError(f"rho must be > 0, got {rho!r}")
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")
    for name, value in (("planned_n", planned_n), ("tuning_n", tuning_n)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number or None, got {value!r}")


def _usable_history(looks: Sequence[Look]) -> tuple[list[Look], list[str]]:
    """Looks that can be tested, oldest first; a re-run (same n) replaces the earlier look.

    A look without a positive, finite standard error carries no testable information (e.g. no
    variance yet); it is skipped, with a note, rather than turned into an infinite z.
    """
    if not looks:
        raise ValueError("sequential_test needs at least one look")
    notes: list[str] = []
    history: list[Look] = []
    for look in looks:
        if not (math.isfinite(look.n) and look.n > 0):
            raise ValueError(f"every look needs a positive, finite n, got {look.n!r}")
        if history and look.n < history[-1].n:
            raise ValueError(
                f"looks must be in order of non-decreasing n: {look.n:g} after {history[-1].n:g}"
            )
        if not (math.isfinite(look.estimate) and math.isfinite(look.std_err) and look.std_err > 0):
            notes.append(
                f"look at n={look.n:g} skipped: no usable standard error "
                f"(estimate={look.estimate!r}, std_err={look.std_err!r})"
            )
            continue
        if history and look.n == history[-1].n:
            history[-1] = look
        else:
            history.append(look)
    return history, notes


def _split_at_horizon(history: list[Look], planned_n: float) -> tuple[list[Look], list[Look]]:
    """Looks up to and including the first with t >= 1 (the final analysis), and the rest."""
    for index, look in enumerate(history):
        if look.n >= planned_n:
            return history[: index + 1], history[index + 1 :]
    return history, []


def _oriented_z(look: Look, alternative: str) -> float:
    """The statistic compared with the boundary: |z|, z ("greater") or -z ("less")."""
    z = look.estimate / look.std_err
    return {"two-sided": abs(z), "greater": z, "less": -z}[alternative]


def _interval(estimate: float, radius: float, alternative: str) -> tuple[float, float]:
    if alternative == "greater":
        return estimate - radius, math.inf
    if alternative == "less":
        return -math.inf, estimate + radius
    return estimate - radius, estimate + radius


def _nominal_alpha(critical_z: float, alternative: str) -> float:
    tail = float(sps.norm.sf(critical_z))
    return min(1.0, 2.0 * tail) if alternative == "two-sided" else tail


# --------------------------------------------------------------------------------------------
# Alpha spending result
# --------------------------------------------------------------------------------------------


def _alpha_spending_result(
    history: list[Look],
    planned_n: float,
    alpha: float,
    spending: str,
    rho: float,
    alternative: str,
    notes: list[str],
) -> SequentialResult:
    info = tuple(look.n / planned_n for look in history)
    z = [_oriented_z(look, alternative) for look in history]
    bounds = spending_boundaries(
        info, alpha=alpha, spending=spending, rho=rho, alternative=alternative
    )
    crossed = [look.n for look, zk, ck in zip(history, z, bounds, strict=True) if zk >= ck]
    rejected = bool(crossed)
    p_value = _repeated_p_value(z, info, spending, rho, alternative)
    p_value = _consistent_p(p_value, rejected, alpha)
    latest, critical = history[-1], bounds[-1]
    nominal = _nominal_alpha(critical, alternative)
    ci_low, ci_high = _interval(latest.estimate, critical * latest.std_err, alternative)
    label = "O'Brien-Fleming-type" if spending == "obf" else f"alpha*t^{rho:g}"
    notes = [
        *notes,
        f"look {len(history)} at t = {info[-1]:.3g} ({label} spending): boundary z = "
        f"{critical:.4g}, nominal alpha {nominal:.3g}",
    ]
    if crossed and crossed[0] != latest.n:
        notes.append(
            f"boundary first crossed at n={crossed[0]:g}; a crossed boundary stays crossed"
        )
    return SequentialResult(
        method_used=f"alpha_spending_{spending}",
        rejected=rejected,
        p_value=p_value,
        ci_low=ci_low,
        ci_high=ci_high,
        info_fraction=info[-1],
        nominal_alpha=nominal,
        critical_z=critical,
        crossed_at_n=crossed[0] if crossed else None,
        notes=tuple(notes),
    )


def _repeated_p_value(
    z: Sequence[float], info: tuple[float, ...], spending: str, rho: float, alternative: str
) -> float:
    """Smallest overall alpha at which some look so far would have crossed its boundary.

    The repeated p-value of Jennison & Turnbull (2000, §9.5): rejecting when it is <= alpha is
    exactly the level-alpha sequential test, so it is valid under any stopping rule. Found by
    root-finding on log alpha'; boundaries fall as alpha' grows. Bracketed below by the smallest
    fixed-horizon p-value, since no boundary at level alpha' is below z_{1-alpha'/2}.
    """

    two_sided = alternative == "two-sided"

    def fixed_p(zk: float) -> float:
        return float(2.0 * sps.norm.sf(zk) if two_sided else sps.norm.sf(zk))

    def margin(log_alpha: float) -> float:
        bounds = spending_boundaries(
            info, alpha=math.exp(log_alpha), spending=spending, rho=rho, alternative=alternative
        )
        return max(zk - ck for zk, ck in zip(z, bounds, strict=True))

    lowest = min(fixed_p(zk) for zk in z)
    if lowest < _P_FLOOR:
        return _P_FLOOR
    low, high = math.log(min(lowest, 0.5)), math.log1p(-1e-9)
    if margin(low) >= 0:
        return math.exp(low)
    if margin(high) < 0:
        return 1.0
    return math.exp(optimize.brentq(margin, low, high, xtol=1e-10, rtol=1e-12))


def _consistent_p(p_value: float, rejected: bool, alpha: float) -> float:
    """Keep `p <= alpha` equivalent to `rejected` when the root lies within solver tolerance."""
    if rejected:
        return min(p_value, alpha)
    return p_value if p_value > alpha else math.nextafter(alpha, 1.0)


# --------------------------------------------------------------------------------------------
# Confidence sequence result (the option, and the fallback past the horizon)
# --------------------------------------------------------------------------------------------


def _confidence_sequence_result(
    history: list[Look],
    planned_n: float | None,
    alpha: float,
    alternative: str,
    tuning_n: float,
    before_horizon: SequentialResult | None,
    notes: list[str],
) -> SequentialResult:
    """CS over `history`; `before_horizon` carries a spending-phase result into the fallback."""
    n = np.array([look.n for look in history])
    z = np.array([look.estimate / look.std_err for look in history])
    p_each = confidence_sequence_p_value(
        n, z, alpha=alpha, tuning_n=tuning_n, alternative=alternative
    )
    crossed = [look.n for look, p in zip(history, p_each, strict=True) if p < alpha]
    p_value = float(np.min(p_each))
    crossed_at = crossed[0] if crossed else None
    if before_horizon is not None:
        p_value = min(p_value, before_horizon.p_value)
        if before_horizon.rejected:
            crossed_at = before_horizon.crossed_at_n
    latest = history[-1]
    radius = float(
        confidence_sequence_halfwidth(
            latest.n, latest.std_err, alpha=alpha, tuning_n=tuning_n, alternative=alternative
        )
    )
    critical = radius / latest.std_err
    ci_low, ci_high = _interval(latest.estimate, radius, alternative)
    return SequentialResult(
        method_used="confidence_sequence",
        rejected=crossed_at is not None,
        p_value=p_value,
        ci_low=ci_low,
        ci_high=ci_high,
        info_fraction=latest.n / planned_n if planned_n else None,
        nominal_alpha=_nominal_alpha(critical, alternative),
        critical_z=critical,
        crossed_at_n=crossed_at,
        notes=tuple(notes),
    )


def _no_information(notes: list[str]) -> SequentialResult:
    """No look has a usable standard error: nothing can be rejected, nothing is known."""
    return SequentialResult(
        method_used="none",
        rejected=False,
        p_value=1.0,
        ci_low=-math.inf,
        ci_high=math.inf,
        info_fraction=None,
        nominal_alpha=0.0,
        critical_z=math.inf,
        crossed_at_n=None,
        notes=(*notes, "no look has a usable standard error: no test (p = 1, infinite interval)"),
    )
