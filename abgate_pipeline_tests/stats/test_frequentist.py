"""compare_means / compare_proportions / compare_ratios: values, one-sided tests and edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from abgate_pipeline.stats import (
    ArmEstimate,
    Comparison,
    RatioStats,
    SampleStats,
    compare_estimates,
    compare_means,
    compare_proportions,
    compare_ratios,
)

FLOAT_FIELDS = (
    "control_value",
    "treatment_value",
    "abs_diff",
    "abs_se",
    "abs_ci_low",
    "abs_ci_high",
    "rel_lift",
    "rel_se",
    "rel_ci_low",
    "rel_ci_high",
    "p_value",
    "rel_p_value",
)


def assert_no_silent_nan(result: Comparison) -> None:
    """A NaN anywhere must come with a note, and p-values are never NaN when a test ran."""
    nan_fields = [f for f in FLOAT_FIELDS if math.isnan(getattr(result, f))]
    assert not nan_fields or result.notes, f"NaN in {nan_fields} without a note"
    assert 0.0 <= result.p_value <= 1.0


def sample(values: list[float]) -> SampleStats:
    arr = np.asarray(values, dtype=float)
    return SampleStats(n=arr.size, sum=float(arr.sum()), sum_sq=float((arr**2).sum()))


def binary(n: int, conversions: int) -> SampleStats:
    return SampleStats(n=n, sum=conversions, sum_sq=conversions)


class TestCompareMeans:
    def test_matches_scipy_welch_on_raw_values(self):
        control, treatment = [3, 5, 4, 6, 2], [6, 7, 5, 9, 8, 7]
        result = compare_means(sample(control), sample(treatment))
        scipy_result = sps.ttest_ind(treatment, control, equal_var=False)
        assert result.p_value == pytest.approx(scipy_result.pvalue, rel=1e-9)
        assert result.abs_diff / result.abs_se == pytest.approx(scipy_result.statistic, rel=1e-9)
        assert result.dof == pytest.approx(scipy_result.df, rel=1e-9)
        ci = scipy_result.confidence_interval(0.95)
        assert (result.abs_ci_low, result.abs_ci_high) == pytest.approx((ci.low, ci.high))

    def test_relative_lift_is_delta_method(self):
        # Deng et al. (2018): Var(t/c) = Var(t)/c^2 + t^2 Var(c)/c^4.
        c, t = SampleStats(1000, 10_000.0, 200_000.0), SampleStats(1000, 11_000.0, 250_000.0)
        result = compare_means(c, t)
        var_c = (200_000.0 - 10_000.0**2 / 1000) / 999 / 1000
        var_t = (250_000.0 - 11_000.0**2 / 1000) / 999 / 1000
        expected = math.sqrt(var_t / 10.0**2 + var_c * 11.0**2 / 10.0**4)
        assert result.rel_lift == pytest.approx(0.1)
        assert result.rel_se == pytest.approx(expected, rel=1e-12)
        assert result.method == "welch_t"

    def test_alpha_sets_interval_level(self):
        c, t = sample([1, 2, 3, 4, 5] * 10), sample([2, 3, 4, 5, 6] * 10)
        wide, narrow = compare_means(c, t, alpha=0.01), compare_means(c, t, alpha=0.2)
        assert wide.abs_ci_low < narrow.abs_ci_low < narrow.abs_ci_high < wide.abs_ci_high
        assert wide.p_value == narrow.p_value
        assert wide.alpha == 0.01

    def test_huge_n_is_stable(self):
        # n = 10^7 per arm: sums of squares ~1e10, still exact enough in float64.
        n = 10**7
        c = SampleStats(n, 12.0 * n, (30.0**2 * (n - 1) + 12.0**2 * n))
        t = SampleStats(n, 12.05 * n, (30.0**2 * (n - 1) + 12.05**2 * n))
        result = compare_means(c, t)
        expected = sps.ttest_ind_from_stats(12.05, 30.0, n, 12.0, 30.0, n, equal_var=False)
        assert result.p_value == pytest.approx(expected.pvalue, rel=1e-6)
        assert result.abs_se == pytest.approx(30.0 * math.sqrt(2 / n), rel=1e-9)
        assert result.notes == ()

    def test_invalid_sufficient_statistics_raise(self):
        with pytest.raises(ValueError, match="sum_sq"):
            compare_means(SampleStats(10, 100.0, 10.0), SampleStats(10, 1.0, 1.0))
        with pytest.raises(ValueError, match="n must be"):
            compare_means(SampleStats(-1, 0.0, 0.0), SampleStats(10, 1.0, 1.0))

    @pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, 1.5])
    def test_invalid_alpha_raises(self, alpha):
        with pytest.raises(ValueError, match="alpha"):
            compare_means(sample([1, 2]), sample([1, 2]), alpha=alpha)

    def test_invalid_alternative_raises(self):
        with pytest.raises(ValueError, match="alternative"):
            compare_means(sample([1, 2]), sample([1, 2]), alternative="two_sided")


class TestCompareProportions:
    def test_bernoulli_variance_and_welch_dof(self):
        result = compare_proportions(binary(10_000, 1_000), binary(10_000, 1_100))
        assert result.abs_se == pytest.approx(math.sqrt(0.09 / 10_000 + 0.0979 / 10_000))
        assert result.dof == pytest.approx(19962.712558123232)
        assert result.method == "welch_t_proportion"

    def test_non_binary_unit_values_fall_back_to_sample_variance(self):
        # Per-unit refusal shares (fractions), not 0/1: sum_sq != sum.
        control = sample([0.0, 0.5, 0.25, 0.0, 0.1] * 20)
        treatment = sample([0.0, 0.4, 0.3, 0.2, 0.1] * 20)
        result = compare_proportions(control, treatment)
        assert result.abs_se == pytest.approx(compare_means(control, treatment).abs_se)
        assert any("not binary" in note for note in result.notes)

    def test_more_conversions_than_units_raises(self):
        with pytest.raises(ValueError, match="0 <= sum <= n"):
            compare_proportions(binary(10, 11), binary(10, 1))


class TestCompareRatios:
    @staticmethod
    def ratio_stats(num: np.ndarray, den: np.ndarray) -> RatioStats:
        return RatioStats(
            n=num.size,
            num_sum=float(num.sum()),
            num_sum_sq=float((num**2).sum()),
            den_sum=float(den.sum()),
            den_sum_sq=float((den**2).sum()),
            cross_sum=float((num * den).sum()),
        )

    def test_delta_method_equals_linearised_residuals(self):
        """Var(R) = Var(num - R·den) / (n · mean_den²): the linearisation in Deng et al. (2018)."""
        rng = np.random.default_rng(7)
        arms = []
        for cost in (1.0, 1.1):
            den = rng.poisson(3, 2000).astype(float)
            num = cost * den + rng.normal(0, 1, 2000) + 0.5
            arms.append((num, den))
        result = compare_ratios(*(self.ratio_stats(num, den) for num, den in arms))

        def var_of_ratio(num, den):
            ratio = num.sum() / den.sum()
            return np.var(num - ratio * den, ddof=1) / (num.size * den.mean() ** 2)

        expected_se = math.sqrt(sum(var_of_ratio(num, den) for num, den in arms))
        assert result.abs_se == pytest.approx(expected_se, rel=1e-9)
        assert result.control_value == pytest.approx(arms[0][0].sum() / arms[0][1].sum())
        assert result.method == "delta_method_ratio_welch_t"

    def test_unit_denominators_reduce_to_means(self):
        rng = np.random.default_rng(3)
        c, t = rng.normal(5, 2, 500), rng.normal(5.3, 2, 400)
        ones_c, ones_t = np.ones_like(c), np.ones_like(t)
        ratio = compare_ratios(self.ratio_stats(c, ones_c), self.ratio_stats(t, ones_t))
        mean = compare_means(sample(list(c)), sample(list(t)))
        for field in ("abs_diff", "abs_se", "p_value", "rel_lift", "rel_se", "dof"):
            assert getattr(ratio, field) == pytest.approx(getattr(mean, field), rel=1e-9)

    def test_zero_denominator_is_untestable_with_note(self):
        empty = RatioStats(
            n=50, num_sum=0.0, num_sum_sq=0.0, den_sum=0.0, den_sum_sq=0.0, cross_sum=0.0
        )
        other = RatioStats(
            n=50, num_sum=10.0, num_sum_sq=4.0, den_sum=5.0, den_sum_sq=5.0, cross_sum=2.0
        )
        result = compare_ratios(empty, other)
        assert result.p_value == 1.0
        assert math.isnan(result.control_value)
        assert any("denominator sums to 0" in note for note in result.notes)
        assert_no_silent_nan(result)


class TestOneSided:
    def test_one_sided_p_values_split_the_two_sided_one(self):
        c, t = binary(5000, 500), binary(5000, 560)
        two = compare_proportions(c, t)
        greater = compare_proportions(c, t, alternative="greater")
        less = compare_proportions(c, t, alternative="less")
        assert greater.p_value == pytest.approx(two.p_value / 2)
        assert greater.p_value + less.p_value == pytest.approx(1.0)
        assert greater.rel_p_value + less.rel_p_value == pytest.approx(1.0)

    def test_one_sided_intervals_have_an_infinite_end(self):
        c, t = binary(5000, 500), binary(5000, 560)
        greater = compare_proportions(c, t, alternative="greater")
        less = compare_proportions(c, t, alternative="less")
        two_at_double_alpha = compare_proportions(c, t, alpha=0.10)
        assert greater.abs_ci_high == math.inf and less.abs_ci_low == -math.inf
        assert greater.abs_ci_low == pytest.approx(two_at_double_alpha.abs_ci_low)
        assert less.rel_ci_high == pytest.approx(two_at_double_alpha.rel_ci_high)


class TestEdgeCases:
    def test_zero_conversions_in_control(self):
        result = compare_proportions(binary(1000, 0), binary(1000, 5))
        assert result.abs_diff == pytest.approx(0.005)
        assert 0.0 < result.p_value < 1.0
        assert math.isnan(result.rel_lift) and math.isnan(result.rel_ci_low)
        assert any("control value is 0" in note for note in result.notes)
        assert_no_silent_nan(result)

    def test_zero_conversions_in_treatment(self):
        result = compare_proportions(binary(1000, 5), binary(1000, 0))
        assert result.rel_lift == -1.0
        assert result.dof == pytest.approx(999)  # only the control carries variance
        assert any("treatment has zero sample variance" in note for note in result.notes)
        assert_no_silent_nan(result)

    def test_zero_variance_in_both_arms_and_equal(self):
        result = compare_proportions(binary(500, 0), binary(800, 0))
        assert (result.abs_diff, result.abs_se, result.p_value) == (0.0, 0.0, 1.0)
        assert (result.abs_ci_low, result.abs_ci_high) == (0.0, 0.0)
        assert result.dof is None
        assert any("zero variance in both arms" in note for note in result.notes)
        assert_no_silent_nan(result)

    def test_zero_variance_in_both_arms_and_different(self):
        result = compare_means(SampleStats(10, 20.0, 40.0), SampleStats(10, 30.0, 90.0))
        assert (result.abs_diff, result.abs_se, result.p_value) == (1.0, 0.0, 0.0)
        assert (result.rel_lift, result.rel_se, result.rel_p_value) == (0.5, 0.0, 0.0)
        assert compare_means(
            SampleStats(10, 20.0, 40.0), SampleStats(10, 30.0, 90.0), alternative="less"
        ).p_value == pytest.approx(1.0)

    def test_negative_baseline_has_no_relative_lift(self):
        control, treatment = sample([-3, -2, -4, -1, -5]), sample([-1, -2, 0, -1, -3])
        result = compare_means(control, treatment)
        assert result.abs_diff == pytest.approx(1.6)
        assert math.isfinite(result.p_value)
        for field in ("rel_lift", "rel_se", "rel_ci_low", "rel_ci_high", "rel_p_value"):
            assert math.isnan(getattr(result, field))
        assert any("negative" in note for note in result.notes)
        assert_no_silent_nan(result)

    @pytest.mark.parametrize("compare", [compare_means, compare_proportions])
    def test_single_unit_arm_is_untestable(self, compare):
        result = compare(binary(1, 1), binary(100, 30))
        assert result.p_value == 1.0 and result.rel_p_value == 1.0
        assert (result.abs_ci_low, result.abs_ci_high) == (-math.inf, math.inf)
        assert result.abs_se == math.inf
        assert result.abs_diff == pytest.approx(-0.7)
        assert any("n=1 < 2" in note for note in result.notes)
        assert_no_silent_nan(result)

    @pytest.mark.parametrize("compare", [compare_means, compare_proportions])
    def test_arm_without_traffic_is_untestable(self, compare):
        result = compare(binary(100, 30), binary(0, 0))
        assert result.p_value == 1.0
        assert math.isnan(result.treatment_value) and math.isnan(result.abs_diff)
        assert math.isnan(result.rel_lift)
        assert any("no units (n=0)" in note for note in result.notes)
        assert_no_silent_nan(result)

    def test_both_arms_without_traffic(self):
        result = compare_proportions(binary(0, 0), binary(0, 0))
        assert result.p_value == 1.0
        assert sum("no units" in note for note in result.notes) == 2
        assert_no_silent_nan(result)

    def test_huge_n_proportions(self):
        result = compare_proportions(binary(10**7, 500_000), binary(10**7, 502_000))
        assert 0.0 < result.p_value < 0.05
        assert result.notes == ()


class TestCompareEstimates:
    def test_normal_reference_distribution_without_dof(self):
        control = ArmEstimate("control", 100, 10.0, 0.25)
        treatment = ArmEstimate("treatment", 100, 11.0, 0.25)
        result = compare_estimates("custom", control, treatment, use_t=False)
        z = 1.0 / math.sqrt(0.5)
        assert result.dof is None
        assert result.p_value == pytest.approx(2 * sps.norm.sf(z))
        assert result.abs_ci_high - result.abs_diff == pytest.approx(
            sps.norm.ppf(0.975) * math.sqrt(0.5)
        )
