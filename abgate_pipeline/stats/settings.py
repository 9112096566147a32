"""Defaults of the statistics library, gathered in one place (as GrowthBook's gbstats does).

Callers pass their experiment's values explicitly; these are only what a function uses when the
caller says nothing. Change a default here, never inline in a function signature.
"""

from __future__ import annotations

from typing import Final

#: Two-sided type-I error rate of every test and the coverage (1 - alpha) of every interval.
DEFAULT_ALPHA: Final = 0.05

#: Target power for sample-size planning.
DEFAULT_POWER: Final = 0.80

#: Alternatives accepted by the comparison functions; "greater" means treatment > control.
ALTERNATIVES: Final = ("two-sided", "greater", "less")
DEFAULT_ALTERNATIVE: Final = "two-sided"

#: An arm needs at least this many units for a sample variance (ddof=1) and a Welch dof to exist.
MIN_UNITS_PER_ARM: Final = 2

#: SRM is flagged when the chi-square p-value is below this (GrowthBook, Statsig and DESIGN.md §3).
DEFAULT_SRM_THRESHOLD: Final = 0.001

#: Below this expected count per arm the chi-square approximation of the SRM test is rough
#: (the textbook "expected count >= 5" rule); the result says so in its notes.
SRM_MIN_EXPECTED_COUNT: Final = 5.0

#: Multiple-testing corrections accepted by `adjust_p_values`.
CORRECTION_METHODS: Final = ("holm", "bh", "none")
DEFAULT_CORRECTION: Final = "holm"

#: Quantile CIs from order statistics need observations beyond the quantile on both sides; with
#: fewer than this many expected in the thinner tail (n*q or n*(1-q)) the normal approximation of
#: the quantile's sampling distribution is poor and the comparison says so in its notes.
QUANTILE_MIN_TAIL_COUNT: Final = 5.0

#: Two values closer than this (relative) are treated as equal, e.g. `sum_sq == sum` for binary
#: metrics that went through floating-point SQL aggregation.
FLOAT_REL_TOL: Final = 1e-9
