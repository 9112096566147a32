"""Welch comparisons from sufficient statistics agree with pingouin run on the raw data.

pingouin 0.7 names its columns `p_val` and `CI95` and rounds CI95 to 2 decimals unless the option
is turned off (DESIGN.md §5); the check turns it off and compares to 1e-9.
"""

import numpy as np
import pingouin as pg
import pytest

from abgate_pipeline.stats import SampleStats, compare_means


def stats_of(values: np.ndarray) -> SampleStats:
    return SampleStats(n=len(values), sum=float(values.sum()), sum_sq=float((values**2).sum()))


@pytest.mark.parametrize(
    ("n_c", "n_t", "shift", "sd_t"), [(900, 100, 0.3, 2.0), (500, 520, 0.0, 1.0)]
)
def test_welch_matches_pingouin_on_raw_data(n_c, n_t, shift, sd_t):
    rng = np.random.default_rng(11)
    control = rng.normal(10.0, 1.0, n_c)
    treatment = rng.normal(10.0 + shift, sd_t, n_t)
    saved = dict(pg.options)
    pg.options["round.column.CI95"] = None
    try:
        expected = pg.ttest(treatment, control, correction=True).iloc[0]
    finally:
        pg.options.clear()
        pg.options.update(saved)
    got = compare_means(stats_of(control), stats_of(treatment), alpha=0.05)
    assert got.p_value == pytest.approx(expected["p_val"], rel=1e-9)
    assert got.dof == pytest.approx(expected["dof"], rel=1e-9)
    assert (got.abs_ci_low, got.abs_ci_high) == pytest.approx(tuple(expected["CI95"]), rel=1e-9)
