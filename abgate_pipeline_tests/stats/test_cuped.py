"""CUPED (Deng et al. 2013): theta, variance reduction and the adjusted comparison."""

from __future__ import annotations

import math

import numpy as np
import pytest

from abgate_pipeline.stats.cuped import (
    compare_means_cuped,
    cuped_adjust,
    cuped_variance_reduction,
)
from abgate_pipeline.stats.frequentist import compare_means, compare_proportions
from abgate_pipeline.stats.types import SampleStats


def _constructed(n: int, mean_y: float, sd_y: float, mean_x: float, sd_x: float, rho: float):
    """Sums whose ddof=1 moments are exactly the given means, sds and correlation."""
    return SampleStats(
        n=n,
        sum=n * mean_y,
        sum_sq=(n - 1) * sd_y**2 + n * mean_y**2,
        pre_sum=n * mean_x,
        pre_sum_sq=(n - 1) * sd_x**2 + n * mean_x**2,
        pre_cross_sum=(n - 1) * rho * sd_y * sd_x + n * mean_x * mean_y,
    )


def _from_units(y: np.ndarray, x: np.ndarray) -> SampleStats:
    return SampleStats(
        n=len(y),
        sum=float(y.sum()),
        sum_sq=float(y @ y),
        pre_sum=float(x.sum()),
        pre_sum_sq=float(x @ x),
        pre_cross_sum=float(x @ y),
    )


class TestVarianceReduction:
    def test_uncorrelated_covariate_removes_nothing(self):
        control = _constructed(1000, 10.0, 2.0, 5.0, 1.0, rho=0.0)
        treatment = _constructed(1000, 10.5, 2.0, 5.0, 1.0, rho=0.0)
        assert cuped_adjust(control, treatment).theta == pytest.approx(0.0, abs=1e-9)
        assert cuped_variance_reduction(control, treatment) == pytest.approx(0.0, abs=1e-9)

    def test_correlation_0_8_removes_0_64(self):
        control = _constructed(1000, 10.0, 2.0, 5.0, 1.0, rho=0.8)
        treatment = _constructed(1200, 10.5, 2.0, 5.1, 1.0, rho=0.8)
        result = cuped_adjust(control, treatment)
        assert result.theta == pytest.approx(0.8 * 2.0 / 1.0, rel=1e-9)
        assert result.variance_reduction == pytest.approx(0.64, rel=1e-9)
        assert result.control.adjusted_variance == pytest.approx(4.0 * (1 - 0.64), rel=1e-9)
        assert any("64.0%" in note for note in compare_means_cuped(control, treatment).notes)


class TestAgainstRegression:
    """CUPED with a pooled theta is the OLS fit y ~ 1 + arm + x (Deng et al. 2013 §3.3)."""

    @pytest.fixture(scope="class")
    def units(self):
        rng = np.random.default_rng(2013)
        x = rng.gamma(2.0, 3.0, size=(2, 400))
        y = 2.0 + 0.7 * x + rng.normal(0.0, 2.0, size=(2, 400))
        y[1] += 0.8
        return x, y

    def test_theta_and_difference_match_ols(self, units):
        x, y = units
        design = np.column_stack(
            [np.ones(800), np.repeat([0.0, 1.0], 400), np.concatenate([x[0], x[1]])]
        )
        _, arm_effect, slope = np.linalg.lstsq(design, np.concatenate([y[0], y[1]]), rcond=None)[0]
        control, treatment = _from_units(y[0], x[0]), _from_units(y[1], x[1])
        comparison = compare_means_cuped(control, treatment)
        assert cuped_adjust(control, treatment).theta == pytest.approx(slope, rel=1e-9)
        assert comparison.abs_diff == pytest.approx(arm_effect, rel=1e-9)
        assert comparison.control_value == pytest.approx(y[0].mean(), rel=1e-12)

    def test_relative_se_is_the_delta_method_over_both_arms_moments(self, units):
        x, y = units
        control, treatment = _from_units(y[0], x[0]), _from_units(y[1], x[1])
        theta = cuped_adjust(control, treatment).theta
        cov_c, cov_t = np.cov(y[0], x[0]) / 400, np.cov(y[1], x[1]) / 400
        c, adjusted_t = y[0].mean(), y[1].mean() - theta * (x[1].mean() - x[0].mean())
        grad_t = np.array([1.0, -theta]) / c
        grad_c = np.array([-adjusted_t / c, theta]) / c
        expected = math.sqrt(grad_t @ cov_t @ grad_t + grad_c @ cov_c @ grad_c)
        assert compare_means_cuped(control, treatment).rel_se == pytest.approx(expected, rel=1e-9)

    def test_adjusted_interval_is_narrower_than_the_raw_one(self, units):
        x, y = units
        control, treatment = _from_units(y[0], x[0]), _from_units(y[1], x[1])
        adjusted, raw = compare_means_cuped(control, treatment), compare_means(control, treatment)
        assert adjusted.abs_se < raw.abs_se
        assert adjusted.rel_se < raw.rel_se


class TestProportions:
    def test_binary_metric_with_binary_pre_period(self):
        rng = np.random.default_rng(7)
        x = (rng.random((2, 5000)) < 0.2).astype(float)
        y = np.where(x == 1, rng.random((2, 5000)) < 0.4, rng.random((2, 5000)) < 0.05)
        control, treatment = _from_units(y[0].astype(float), x[0]), _from_units(y[1] * 1.0, x[1])
        comparison = compare_means_cuped(control, treatment)
        phi_squared = np.corrcoef(np.concatenate(x), np.concatenate(y))[0, 1] ** 2
        assert cuped_variance_reduction(control, treatment) == pytest.approx(phi_squared, rel=0.05)
        assert 0.0 < comparison.p_value < 1.0
        assert comparison.abs_se < compare_proportions(control, treatment).abs_se


class TestWithoutAdjustment:
    def test_missing_covariate_falls_back_to_the_plain_welch_test(self):
        control, treatment = SampleStats(500, 1000.0, 9000.0), SampleStats(480, 1010.0, 9500.0)
        adjusted, raw = compare_means_cuped(control, treatment), compare_means(control, treatment)
        for field in ("abs_diff", "abs_se", "p_value", "rel_lift", "rel_se", "rel_ci_low"):
            assert getattr(adjusted, field) == pytest.approx(getattr(raw, field), rel=1e-12)
        assert any("CUPED not applied" in note for note in adjusted.notes)

    def test_constant_pre_period_gives_theta_zero_with_a_note(self):
        control = SampleStats(100, 50.0, 30.0, 100.0, 100.0, 50.0)
        treatment = SampleStats(100, 55.0, 33.0, 100.0, 100.0, 55.0)
        result = cuped_adjust(control, treatment)
        assert result.theta == 0.0 and result.variance_reduction == 0.0
        assert any("no variance" in note for note in result.notes)

    def test_empty_arm_gives_no_test_not_a_crash(self):
        comparison = compare_means_cuped(
            SampleStats(0, 0.0, 0.0, 0.0, 0.0, 0.0), SampleStats(10, 4.0, 4.0, 3.0, 3.0, 2.0)
        )
        assert comparison.p_value == 1.0
        assert any("no units" in note for note in comparison.notes)
