"""Multiple-testing corrections across challengers and secondary metrics (DESIGN.md §4).

Adjusted p-values, so a caller compares each to its own alpha. Holm (1979) controls the
family-wise error rate under any dependence and is uniformly more powerful than Bonferroni;
Benjamini-Hochberg (1995) controls the false discovery rate. Both match statsmodels
`multipletests(method="holm" / "fdr_bh")` and GrowthBook's TypeScript (reference case T01).
Guardrails are not corrected (Schultzberg et al. 2024): they are non-inferiority tests where a
false "pass" is the error that matters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .settings import CORRECTION_METHODS, DEFAULT_CORRECTION


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down: sorted ascending, adj_(i) = max_{j<=i} min(1, (m - j)·p_(j)), 0-based j."""
    ps = _checked(p_values)
    m = len(ps)
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(sorted(range(m), key=ps.__getitem__)):
        running = max(running, min(1.0, (m - rank) * ps[index]))
        adjusted[index] = running
    return adjusted


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """BH step-up: sorted ascending, adj_(i) = min_{j>=i} min(1, m·p_(j)/(j + 1)), 0-based j."""
    ps = _checked(p_values)
    m = len(ps)
    adjusted = [0.0] * m
    running = 1.0
    order = sorted(range(m), key=ps.__getitem__)
    for rank in range(m - 1, -1, -1):
        index = order[rank]
        running = min(running, m * ps[index] / (rank + 1))
        adjusted[index] = running
    return adjusted


def adjust_p_values(p_values: Sequence[float], method: str = DEFAULT_CORRECTION) -> list[float]:
    """Adjusted p-values by "holm", "bh" (Benjamini-Hochberg) or "none", in input order."""
    if method == "holm":
        return holm(p_values)
    if method == "bh":
        return benjamini_hochberg(p_values)
    if method == "none":
        return _checked(p_values)
    raise ValueError(f"method must be one of {CORRECTION_METHODS}, got {method!r}")


def _checked(p_values: Sequence[float]) -> list[float]:
    ps = [float(p) for p in p_values]
    bad = [p for p in ps if math.isnan(p) or not 0.0 <= p <= 1.0]
    if bad:
        raise ValueError(f"p-values must be in [0, 1]: {bad}")
    return ps
