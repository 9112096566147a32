"""Quantile metrics (p95 / p99 latency) from order statistics, compared by a normal approximation.

Deng, Knoblich & Lu (2018), "Applying the delta method in metric analytics" (KDD): for iid
observations the number of them below the true q-quantile is Binomial(n, q), so the order
statistics X_(r) and X_(s) with

    r = floor(n·q - z·sqrt(n·q·(1-q))),   s = ceil(n·q + z·sqrt(n·q·(1-q))),   z = z_{1-alpha/2}

bracket the quantile with probability ~ 1 - alpha (the "outer" interval: ranks rounded outwards).
Because the sample quantile is asymptotically normal, the interval's half-width over z is its
standard error: se = (X_(s) - X_(r)) / (2·z). The warehouse fetches just those two order
statistics (`order_statistic_ranks` says which), so Python never sees a row.

**Assumption: requests are iid.** The quantile is over requests, but randomisation is by unit, and
requests of one unit are correlated (a heavy user's slow prompts). The binomial argument then
understates the standard error. Deng et al. correct this by replacing q(1-q) with the
delta-method variance of the unit-clustered indicator mean; this module does not, so treat
quantile p-values as optimistic when a few units make most requests. Guardrail margins on latency
are usually wide enough for this to be tolerable.
"""

from __future__ import annotations

import math

from .frequentist import ArmEstimate, check_alpha, compare_estimates, critical_value
from .settings import DEFAULT_ALPHA, DEFAULT_ALTERNATIVE, QUANTILE_MIN_TAIL_COUNT
from .types import Comparison, QuantileStats


def order_statistic_ranks(n: int, q: float, alpha: float = DEFAULT_ALPHA) -> tuple[int, int]:
    """1-based ranks (lo, hi) of the order statistics bounding the q-quantile's 1-alpha interval.

    Ranks are clipped to [1, n]; when clipping happens (tiny n, extreme q) the interval, and so
    the standard error, is too short, which `compare_quantiles` flags from n and q.
    """
    if n < 1:
        raise ValueError(f"order statistics need n >= 1, got {n}")
    _check_q(q)
    z = _z(alpha)
    centre = n * q
    spread = z * math.sqrt(n * q * (1.0 - q))
    lo = max(1, math.floor(centre - spread))
    hi = min(n, math.ceil(centre + spread))
    return lo, hi


def quantile_stats(
    n: int,
    q: float,
    estimate: float,
    lo_value: float,
    hi_value: float,
    alpha: float = DEFAULT_ALPHA,
) -> QuantileStats:
    """QuantileStats with se = (hi_value - lo_value) / (2·z_{1-alpha/2}) (Deng et al. 2018).

    `lo_value` / `hi_value` are the order statistics at `order_statistic_ranks(n, q, alpha)`; use
    the same alpha for both calls. An arm with no requests (n = 0) has no quantile: the estimate
    is NaN and the standard error inf, which `compare_quantiles` reports as "no test".
    """
    _check_q(q)
    if n < 1:
        return QuantileStats(n=0, q=q, estimate=math.nan, std_err=math.inf)
    if hi_value < lo_value:
        raise ValueError(f"hi_value {hi_value} < lo_value {lo_value}: ranks swapped?")
    return QuantileStats(
        n=n, q=q, estimate=estimate, std_err=(hi_value - lo_value) / (2 * _z(alpha))
    )


def compare_quantiles(
    control: QuantileStats,
    treatment: QuantileStats,
    *,
    alpha: float = DEFAULT_ALPHA,
    alternative: str = DEFAULT_ALTERNATIVE,
) -> Comparison:
    """z-test of the quantile difference; relative lift by the delta method.

    Normal, not t: the standard error comes from order statistics, not from a sample variance, so
    there are no degrees of freedom. The arms' quantiles are independent (disjoint units), so
    Var(diff) = se_c² + se_t² and Var(t/c - 1) = se_t²/c² + t²·se_c²/c⁴.
    """
    if control.q != treatment.q:
        raise ValueError(f"cannot compare different quantiles: {control.q} vs {treatment.q}")
    arms = [_arm("control", control), _arm("treatment", treatment)]
    notes = [
        note
        for name, stats in (("control", control), ("treatment", treatment))
        if (note := _thin_tail_note(name, stats))
    ]
    return compare_estimates(
        f"quantile_z_q{control.q:g}",
        *arms,
        alpha=alpha,
        alternative=alternative,
        use_t=False,
        notes=notes,
    )


def _arm(name: str, stats: QuantileStats) -> ArmEstimate:
    var = stats.std_err**2 if math.isfinite(stats.std_err) else math.nan
    return ArmEstimate(name=name, n=stats.n, value=stats.estimate, var_of_value=var)


def _thin_tail_note(name: str, stats: QuantileStats) -> str | None:
    tail = stats.n * min(stats.q, 1.0 - stats.q)
    if stats.n == 0 or tail >= QUANTILE_MIN_TAIL_COUNT:
        return None
    return (
        f"{name}: n={stats.n} gives only {tail:.1f} expected observations beyond q={stats.q:g}: the "
        "order-statistic interval is truncated and the standard error unreliable"
    )


def _z(alpha: float) -> float:
    check_alpha(alpha)
    return critical_value(1.0 - alpha / 2.0, None)


def _check_q(q: float) -> None:
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must be in (0, 1), got {q!r}")
