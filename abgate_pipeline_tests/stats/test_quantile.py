"""Quantile CIs from order statistics (Deng, Knoblich & Lu 2018) and their comparison."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from abgate_pipeline.stats import (
    QuantileStats,
    compare_quantiles,
    order_statistic_ranks,
    quantile_stats,
)


def from_sample(values: np.ndarray, q: float, alpha: float = 0.05) -> QuantileStats:
    """What the warehouse does: sort, fetch the point estimate and the two order statistics."""
    ordered = np.sort(values)
    lo_rank, hi_rank = order_statistic_ranks(ordered.size, q, alpha)
    estimate = float(np.quantile(ordered, q))
    return quantile_stats(
        ordered.size, q, estimate, ordered[lo_rank - 1], ordered[hi_rank - 1], alpha
    )


class TestOrderStatisticRanks:
    def test_known_ranks(self):
        # n q = 950, z sqrt(n q (1-q)) = 1.959964 * sqrt(47.5) = 13.508
        assert order_statistic_ranks(1000, 0.95) == (936, 964)
        assert order_statistic_ranks(100, 0.5) == (40, 60)

    def test_ranks_are_clipped_to_the_sample(self):
        assert order_statistic_ranks(10, 0.99) == (9, 10)
        assert order_statistic_ranks(1, 0.5) == (1, 1)

    def test_smaller_alpha_widens(self):
        lo_95, hi_95 = order_statistic_ranks(5000, 0.95, 0.05)
        lo_99, hi_99 = order_statistic_ranks(5000, 0.95, 0.01)
        assert lo_99 < lo_95 and hi_95 < hi_99

    @pytest.mark.parametrize(("n", "q"), [(0, 0.5), (10, 0.0), (10, 1.0)])
    def test_invalid_inputs_raise(self, n, q):
        with pytest.raises(ValueError):
            order_statistic_ranks(n, q)


class TestQuantileStats:
    def test_std_err_is_half_width_over_z(self):
        stats = quantile_stats(1000, 0.95, 500.0, 480.0, 540.0)
        assert stats == QuantileStats(1000, 0.95, 500.0, 60.0 / (2 * sps.norm.ppf(0.975)))

    def test_std_err_matches_asymptotic_theory(self):
        """se of the sample q-quantile -> sqrt(q(1-q)/n) / f(x_q) for iid data."""
        rng = np.random.default_rng(11)
        n, q = 20_000, 0.95
        stats = from_sample(rng.exponential(1.0, n), q)
        x_q = -math.log(1 - q)
        theory = math.sqrt(q * (1 - q) / n) / math.exp(-x_q)
        assert stats.std_err == pytest.approx(theory, rel=0.15)

    def test_interval_covers_at_nominal_rate(self):
        rng = np.random.default_rng(5)
        q, true_p95, reps = 0.95, -math.log(0.05), 400
        hits = 0
        for _ in range(reps):
            values = np.sort(rng.exponential(1.0, 1000))
            lo, hi = order_statistic_ranks(values.size, q)
            hits += values[lo - 1] <= true_p95 <= values[hi - 1]
        assert 0.92 <= hits / reps <= 0.99

    def test_empty_arm_has_no_quantile(self):
        stats = quantile_stats(0, 0.95, 0.0, 0.0, 0.0)
        assert stats.n == 0 and math.isnan(stats.estimate) and stats.std_err == math.inf

    def test_swapped_values_raise(self):
        with pytest.raises(ValueError, match="swapped"):
            quantile_stats(100, 0.5, 1.0, 2.0, 1.0)


class TestCompareQuantiles:
    def test_z_test_of_the_difference(self):
        control = QuantileStats(5000, 0.95, 1000.0, 20.0)
        treatment = QuantileStats(5000, 0.95, 1100.0, 30.0)
        result = compare_quantiles(control, treatment)
        se = math.sqrt(20.0**2 + 30.0**2)
        assert result.abs_diff == 100.0 and result.abs_se == pytest.approx(se)
        assert result.p_value == pytest.approx(2 * sps.norm.sf(100.0 / se))
        assert result.dof is None
        assert result.rel_lift == pytest.approx(0.1)
        assert result.rel_se == pytest.approx(
            math.sqrt(30.0**2 / 1000.0**2 + 1100.0**2 * 20.0**2 / 1000.0**4)
        )
        assert result.method == "quantile_z_q0.95"

    def test_simulated_slowdown_is_detected(self):
        rng = np.random.default_rng(2)
        control = from_sample(rng.lognormal(6.0, 0.5, 20_000), 0.95)
        treatment = from_sample(rng.lognormal(6.0, 0.5, 20_000) * 1.15, 0.95)
        result = compare_quantiles(control, treatment, alternative="greater")
        assert result.p_value < 0.001
        assert result.rel_ci_low < 0.15

    def test_different_quantiles_raise(self):
        with pytest.raises(ValueError, match="different quantiles"):
            compare_quantiles(QuantileStats(10, 0.95, 1, 1), QuantileStats(10, 0.99, 1, 1))

    def test_thin_tail_is_flagged(self):
        result = compare_quantiles(
            QuantileStats(50, 0.99, 900.0, 50.0), QuantileStats(5000, 0.99, 950.0, 10.0)
        )
        assert any(note.startswith("control: n=50") for note in result.notes)
        assert not any(note.startswith("treatment") for note in result.notes)

    def test_arm_without_traffic(self):
        empty = quantile_stats(0, 0.95, 0.0, 0.0, 0.0)
        result = compare_quantiles(empty, QuantileStats(5000, 0.95, 950.0, 10.0))
        assert result.p_value == 1.0
        assert any("no units (n=0)" in note for note in result.notes)
