"""Sample-ratio mismatch: are units split across arms as the allocation says?

Pearson chi-square goodness of fit, dof = arms - 1, no continuity correction (Fabijan et al. 2019,
"Diagnosing sample ratio mismatch in online controlled experiments", KDD). All reference engines
agree (gbstats `check_srm`, spotify `sample_ratio_test`, `scipy.stats.chisquare`; cases S01-S04);
p comes from the chi-square survival function, not 1 - cdf, so tiny p-values keep precision.

Conventions:
- SRM is flagged (`passed=False`) when p < threshold (default 0.001, as GrowthBook and DESIGN.md).
- Weights need not sum to 1 (90/10 works); they are normalised.
- An arm with weight 0 is left out of the test when it has no units; if it has units the split is
  broken by definition: chi2 = inf, p = 0, a note says which arm.
- No traffic at all, or a single arm with a positive weight: nothing to test, p = 1, passed, with
  a note.
- An expected count below `SRM_MIN_EXPECTED_COUNT` adds a note (chi-square approximation rough).
  Unlike GrowthBook we do not skip the check for tiny arms: at p < 0.001 small counts rarely fire.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from scipy import stats as sps

from .settings import DEFAULT_SRM_THRESHOLD, SRM_MIN_EXPECTED_COUNT


@dataclass(frozen=True)
class SrmResult:
    """Outcome of the SRM test; `expected` are expected unit counts under the allocation."""

    chi2: float
    dof: int
    p_value: float
    passed: bool
    observed: dict[str, int]
    expected: dict[str, float]
    threshold: float = DEFAULT_SRM_THRESHOLD
    notes: tuple[str, ...] = field(default_factory=tuple)


def srm_test(
    observed: Mapping[str, int],
    expected_weights: Mapping[str, float],
    *,
    threshold: float = DEFAULT_SRM_THRESHOLD,
) -> SrmResult:
    """Chi-square goodness-of-fit test of observed unit counts against allocation weights."""
    _check_inputs(observed, expected_weights)
    obs = {arm: int(observed[arm]) for arm in expected_weights}
    total = sum(obs.values())
    weight_sum = sum(expected_weights.values())
    expected = {arm: total * w / weight_sum for arm, w in expected_weights.items()}
    chi2, dof, p_value, notes = _goodness_of_fit(obs, expected, expected_weights)
    return SrmResult(
        chi2=chi2,
        dof=dof,
        p_value=p_value,
        passed=p_value >= threshold,
        observed=obs,
        expected=expected,
        threshold=threshold,
        notes=tuple(notes),
    )


def _goodness_of_fit(
    obs: dict[str, int], expected: dict[str, float], weights: Mapping[str, float]
) -> tuple[float, int, float, list[str]]:
    """(chi2, dof, p, notes) over the arms with a positive weight, edge cases first."""
    if sum(obs.values()) == 0:
        return 0.0, len(obs) - 1, 1.0, ["no units observed yet: nothing to test"]
    leaked = [arm for arm in obs if weights[arm] == 0 and obs[arm] > 0]
    if leaked:
        return math.inf, len(obs) - 1, 0.0, [f"units in arm(s) allocated 0: {', '.join(leaked)}"]
    tested = [arm for arm in obs if weights[arm] > 0]
    if len(tested) < 2:
        return 0.0, 0, 1.0, ["only one arm is allocated traffic: nothing to test"]
    chi2, p_value = sps.chisquare([obs[a] for a in tested], [expected[a] for a in tested])
    notes = [
        f"{arm}: expected count {expected[arm]:.1f} < {SRM_MIN_EXPECTED_COUNT:g}; the chi-square "
        "approximation is rough"
        for arm in tested
        if expected[arm] < SRM_MIN_EXPECTED_COUNT
    ]
    return float(chi2), len(tested) - 1, float(p_value), notes


def _check_inputs(observed: Mapping[str, int], weights: Mapping[str, float]) -> None:
    if set(observed) != set(weights):
        raise ValueError(f"arms differ: observed {sorted(observed)} vs weights {sorted(weights)}")
    if len(weights) < 2:
        raise ValueError("an SRM test needs at least 2 arms")
    if any(count < 0 for count in observed.values()):
        raise ValueError(f"unit counts must be >= 0: {dict(observed)}")
    if any(w < 0 or not math.isfinite(w) for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError(f"weights must be finite, >= 0 and not all 0: {dict(weights)}")
