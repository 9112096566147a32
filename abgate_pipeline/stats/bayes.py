"""Bayesian chance to beat control, beside the frequentist verdict (it never gates on its own).

The model is GrowthBook's (gbstats `EffectBayesianABTest`): the likelihood of the lift is Gaussian,
N(estimate, std_err^2), with the estimate and its delta-method standard error on the relative
scale (Deng, Knoblich & Lu 2018), and the prior is Gaussian on the same scale — improper flat by
default, or N(prior_mean, prior_std^2). The posterior is the usual precision-weighted normal
(e.g. Gelman et al., "Bayesian Data Analysis", §2.5), from which everything is closed form:

- chance to win = P(lift > 0 | data) (P(lift < 0) when lower is better);
- expected loss (risk) of shipping an arm = the lift given up if the other arm is in fact better:
  control: E[max(lift, 0)], treatment: E[max(-lift, 0)] (swapped when lower is better), with
  E[max(X, 0)] = mu Phi(mu/sigma) + sigma phi(mu/sigma) for X ~ N(mu, sigma^2);
- the equal-tailed 1 - alpha credible interval.

A flat prior reproduces the frequentist z interval; a proper prior (GrowthBook's UI suggests
sd 0.3 on the relative lift) shrinks small, noisy experiments towards prior_mean. Matched to
gbstats to 1e-6 in reference case B01.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as sps

from .settings import DEFAULT_ALPHA

BETTER = ("higher", "lower")


@dataclass(frozen=True)
class BayesResult:
    """Posterior summary of the lift (treatment vs control) on the scale it was given."""

    chance_to_win: float
    expected_loss_control: float
    expected_loss_treatment: float
    posterior_mean: float
    posterior_std: float
    ci_low: float
    ci_high: float
    notes: tuple[str, ...] = ()


def chance_to_beat(
    estimate: float,
    std_err: float,
    *,
    prior_mean: float = 0.0,
    prior_std: float | None = None,
    better: str = "higher",
    alpha: float = DEFAULT_ALPHA,
) -> BayesResult:
    """Posterior chance that the treatment beats control, expected losses and credible interval.

    `estimate`/`std_err`: the observed lift and its standard error (e.g. relative lift, delta
    method). `prior_std=None` is the improper flat prior. `better="lower"` for metrics where a
    decrease is good (latency, cost). A zero (or non-finite) standard error means the data carry
    no usable information: the posterior is the prior, or, with a flat prior, nothing is known
    (chance 0.5, infinite spread and losses), and a note says so. Raises ValueError for a
    non-finite estimate or invalid options.
    """
    _check_inputs(estimate, prior_mean, prior_std, better, alpha)
    notes: list[str] = []
    informative = math.isfinite(std_err) and std_err > 0
    if not informative:
        notes.append(
            f"std_err={std_err!r}: the data carry no usable information, so the posterior is "
            "the prior"
        )
    mean, std = _posterior(estimate, std_err if informative else math.inf, prior_mean, prior_std)
    if math.isinf(std):
        notes.append("flat prior and no data: nothing is known (chance 0.5, infinite interval)")
        return BayesResult(0.5, math.inf, math.inf, mean, std, -math.inf, math.inf, tuple(notes))
    chance_higher = float(sps.norm.sf(0.0, loc=mean, scale=std)) if std > 0 else _step(mean)
    gain, loss = _expected_positive_part(mean, std), _expected_positive_part(-mean, std)
    half = float(sps.norm.isf(alpha / 2.0)) * std
    if better == "higher":
        chance, loss_control, loss_treatment = chance_higher, gain, loss
    else:
        chance, loss_control, loss_treatment = 1.0 - chance_higher, loss, gain
    return BayesResult(
        chance_to_win=chance,
        expected_loss_control=loss_control,
        expected_loss_treatment=loss_treatment,
        posterior_mean=mean,
        posterior_std=std,
        ci_low=mean - half,
        ci_high=mean + half,
        notes=tuple(notes),
    )


def _posterior(
    estimate: float, std_err: float, prior_mean: float, prior_std: float | None
) -> tuple[float, float]:
    """Normal-normal update by precisions; an infinite std_err (no data) returns the prior."""
    data_precision = 0.0 if math.isinf(std_err) else 1.0 / std_err**2
    if prior_std is None:
        if data_precision == 0.0:
            return prior_mean, math.inf
        return estimate, std_err
    if prior_std == 0:
        return prior_mean, 0.0
    prior_precision = 1.0 / prior_std**2
    precision = data_precision + prior_precision
    mean = (data_precision * estimate + prior_precision * prior_mean) / precision
    return mean, math.sqrt(1.0 / precision)


def _expected_positive_part(mu: float, sigma: float) -> float:
    """E[max(X, 0)] for X ~ N(mu, sigma^2): mu Phi(mu/sigma) + sigma phi(mu/sigma)."""
    if sigma == 0:
        return max(mu, 0.0)
    ratio = mu / sigma
    return float(mu * sps.norm.cdf(ratio) + sigma * sps.norm.pdf(ratio))


def _step(mean: float) -> float:
    """P(lift > 0) for a point-mass posterior: certain either way, a coin flip at exactly 0."""
    return 1.0 if mean > 0 else 0.0 if mean < 0 else 0.5


def _check_inputs(
    estimate: float, prior_mean: float, prior_std: float | None, better: str, alpha: float
) -> None:
    if not math.isfinite(estimate):
        raise ValueError(f"estimate must be finite, got {estimate!r}")
    if not math.isfinite(prior_mean):
        raise ValueError(f"prior_mean must be finite, got {prior_mean!r}")
    if prior_std is not None and not (math.isfinite(prior_std) and prior_std >= 0):
        raise ValueError(
            f"prior_std must be None (flat) or a finite number >= 0, got {prior_std!r}"
        )
    if better not in BETTER:
        raise ValueError(f"better must be one of {BETTER}, got {better!r}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
