"""Group-sequential boundaries by recursive numerical integration (Armitage, McPherson & Rowe
1969; Jennison & Turnbull 2000, "Group Sequential Methods with Applications to Clinical Trials",
ch. 19): the critical z of each look such that the probability of a first crossing there, under
the null, is the alpha spent since the previous look. Used by `sequential.spending_boundaries`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np
from scipy import optimize, special

# Jennison & Turnbull grid parameter r (gsDesign uses 18): ~6r points per look. It is raised
# when the next look adds little information, so the grid resolves the narrow increment kernel.
_GRID_R = 18
_GRID_R_MAX = 400
# Where the integration grid ends for an open (one-sided) continuation region, in z units.
_Z_FLOOR = -8.0


# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def boundaries(
    info: tuple[float, ...], cumulative: tuple[float, ...], two_sided: bool
) -> tuple[float, ...]:
    """Boundaries c_k with P(first crossing at k) = cumulative[k] - cumulative[k-1] under H0.

    Works on the score scale S_k = Z_k sqrt(I_k), whose increments are independent
    N(0, I_k - I_{k-1}). `points`/`mass` carry the sub-density of S_k on the continuation region
    times the Simpson weights; it starts as a point mass at 0.
    """
    points, mass = np.zeros(1), np.ones(1)
    bounds: list[float] = []
    previous_info = previous_spend = 0.0
    for k, (info_k, spend_k) in enumerate(zip(info, cumulative, strict=True)):
        step_sd = math.sqrt(info_k - previous_info)
        scale = math.sqrt(info_k)
        exit_probability = functools.partial(
            _exit_probability, points, mass, step_sd, scale, two_sided
        )
        critical = _solve_boundary(exit_probability, spend_k - previous_spend, two_sided)
        bounds.append(critical)
        if k + 1 < len(info):
            next_sd = math.sqrt(info[k + 1] - info_k)
            lower = -critical if two_sided else -math.inf
            grid_z, weights_z = _grid(lower, critical, _grid_r(step_sd=next_sd, scale=scale))
            new_points = grid_z * scale
            density = _normal_pdf(new_points[:, None] - points[None, :], step_sd) @ mass
            points, mass = new_points, weights_z * scale * density
        previous_info, previous_spend = info_k, spend_k
    return tuple(bounds)


def _exit_probability(
    points: np.ndarray,
    mass: np.ndarray,
    step_sd: float,
    scale: float,
    two_sided: bool,
    critical_z: float,
) -> float:
    """P(Z_k >= c (or |Z_k| >= c), no earlier crossing) from the carried sub-density of S_k."""
    bound = critical_z * scale
    upper = special.ndtr((points - bound) / step_sd)  # normal sf without scipy.stats overhead
    if two_sided:
        upper = upper + special.ndtr((-bound - points) / step_sd)
    return float(mass @ upper)


def _solve_boundary(
    exit_probability: Callable[[float], float], spend: float, two_sided: bool
) -> float:
    """The z whose exit probability equals `spend` (inf if nothing is spent at this look)."""
    if spend <= 0:
        return math.inf
    low = 0.0 if two_sided else _Z_FLOOR
    if exit_probability(low) <= spend:
        return low
    # No boundary is below the one that alone would spend `spend` with no earlier looks.
    high = -float(special.ndtri(spend / 2.0 if two_sided else spend)) + 1.0
    while exit_probability(high) > spend:
        high += 1.0
    return optimize.brentq(lambda c: exit_probability(c) - spend, low, high, xtol=1e-12)


def _grid_r(*, step_sd: float, scale: float) -> int:
    """Grid density so the central spacing 3/(2r) (z units) is <= half the next step's sd."""
    needed = math.ceil(3.0 * scale / step_sd)
    return min(max(_GRID_R, needed), _GRID_R_MAX)


def _grid(lower: float, upper: float, r: int) -> tuple[np.ndarray, np.ndarray]:
    """Jennison & Turnbull (2000, §19.2.1) points on (lower, upper) in z units, Simpson weights.

    Dense in the centre, log-spaced in the tails out to ~ +-(3 + 4 ln r); the region's ends are
    nodes, and panel midpoints are added so Simpson's rule applies on every panel.
    """
    i = np.arange(1, 6 * r)
    offsets = np.where(
        i < r,
        -3.0 - 4.0 * np.log(r / i),
        np.where(i <= 5 * r, -3.0 + 3.0 * (i - r) / (2.0 * r), 3.0 + 4.0 * np.log(r / (6 * r - i))),
    )
    lower = max(lower, float(offsets[0]))
    upper = min(upper, float(offsets[-1]))
    if upper <= lower:
        return np.zeros(1), np.zeros(1)
    nodes = np.concatenate(([lower], offsets[(offsets > lower) & (offsets < upper)], [upper]))
    widths = np.diff(nodes)
    points = np.empty(2 * nodes.size - 1)
    points[0::2] = nodes
    points[1::2] = nodes[:-1] + widths / 2.0
    weights = np.zeros_like(points)
    weights[0:-1:2] += widths / 6.0
    weights[2::2] += widths / 6.0
    weights[1::2] = 4.0 * widths / 6.0
    return points, weights


def _normal_pdf(x: np.ndarray, sd: float) -> np.ndarray:
    return np.exp(-0.5 * (x / sd) ** 2) / (sd * math.sqrt(2.0 * math.pi))
