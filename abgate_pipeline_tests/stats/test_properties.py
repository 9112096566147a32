"""Property-based tests (hypothesis): invariants that must hold for any input, not just examples."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from abgate_pipeline.stats import (
    Comparison,
    QuantileStats,
    RatioStats,
    SampleStats,
    achieved_power,
    benjamini_hochberg,
    compare_means,
    compare_proportions,
    compare_quantiles,
    compare_ratios,
    holm,
    non_inferiority,
    order_statistic_ranks,
    required_sample_size_per_arm,
    srm_test,
)

# Applied per test, not as a global profile, so other test modules keep their own settings.
fast = settings(deadline=None, max_examples=60)

ALTERNATIVES = ("two-sided", "greater", "less")


@st.composite
def mean_arm(draw, min_n: int = 2, allow_zero_sd: bool = True) -> SampleStats:
    """Sufficient statistics of a sample with a given n, mean and sd."""
    n = draw(st.integers(min_n, 200_000))
    mean = draw(st.floats(-100, 100))
    sd = draw(st.floats(0.1, 100) | (st.just(0.0) if allow_zero_sd else st.nothing()))
    return SampleStats(n=n, sum=n * mean, sum_sq=(n - 1) * sd**2 + n * mean**2)


@st.composite
def binary_arm(draw, min_n: int = 0) -> SampleStats:
    n = draw(st.integers(min_n, 10**7))
    conversions = draw(st.integers(0, n))
    return SampleStats(n=n, sum=conversions, sum_sq=conversions)


@st.composite
def ratio_arm(draw) -> RatioStats:
    units = draw(st.lists(st.tuples(st.floats(0, 50), st.integers(0, 5)), min_size=0, max_size=30))
    return RatioStats(
        n=len(units),
        num_sum=sum(num for num, _ in units),
        num_sum_sq=sum(num**2 for num, _ in units),
        den_sum=sum(den for _, den in units),
        den_sum_sq=sum(den**2 for _, den in units),
        cross_sum=sum(num * den for num, den in units),
    )


@st.composite
def quantile_arm(draw) -> QuantileStats:
    return QuantileStats(
        n=draw(st.integers(0, 10**6)),
        q=0.95,
        estimate=draw(st.floats(1, 10_000)),
        std_err=draw(st.floats(0, 500)),
    )


def two_sample_comparisons():
    """(compare function, arm strategy) pairs covering every metric kind."""
    return st.one_of(
        st.tuples(st.just(compare_means), mean_arm(min_n=0), mean_arm(min_n=0)),
        st.tuples(st.just(compare_proportions), binary_arm(), binary_arm()),
        st.tuples(st.just(compare_ratios), ratio_arm(), ratio_arm()),
        st.tuples(st.just(compare_quantiles), quantile_arm(), quantile_arm()),
    )


def assert_well_formed(result: Comparison) -> None:
    assert 0.0 <= result.p_value <= 1.0
    assert math.isnan(result.rel_p_value) or 0.0 <= result.rel_p_value <= 1.0
    assert result.abs_ci_low <= result.abs_ci_high
    for name in ("control_value", "treatment_value", "abs_diff", "abs_se", "rel_lift", "rel_se"):
        assert not math.isnan(getattr(result, name)) or result.notes, f"silent NaN in {name}"


# --------------------------------------------------------------------------------------------
# Comparisons
# --------------------------------------------------------------------------------------------


@fast
@given(two_sample_comparisons(), st.sampled_from(ALTERNATIVES), st.floats(0.001, 0.5))
def test_p_values_in_unit_interval_and_no_silent_nan(case, alternative, alpha):
    compare, control, treatment = case
    assert_well_formed(compare(control, treatment, alpha=alpha, alternative=alternative))


@fast
@given(two_sample_comparisons())
def test_swapping_arms_negates_difference_and_keeps_two_sided_p(case):
    compare, control, treatment = case
    forward, backward = compare(control, treatment), compare(treatment, control)
    if math.isnan(forward.abs_diff):
        assert math.isnan(backward.abs_diff)
    else:
        assert backward.abs_diff == -forward.abs_diff
        assert backward.abs_se == pytest.approx(forward.abs_se)
    assert backward.p_value == pytest.approx(forward.p_value, rel=1e-9, abs=1e-300)


@fast
@given(two_sample_comparisons(), st.floats(0.01, 0.3), st.floats(0.1, 0.9))
def test_intervals_nest_as_alpha_shrinks(case, alpha, shrink):
    compare, control, treatment = case
    wide = compare(control, treatment, alpha=alpha * shrink)
    narrow = compare(control, treatment, alpha=alpha)
    for scale in ("abs", "rel"):
        lo_w, hi_w = getattr(wide, f"{scale}_ci_low"), getattr(wide, f"{scale}_ci_high")
        lo_n, hi_n = getattr(narrow, f"{scale}_ci_low"), getattr(narrow, f"{scale}_ci_high")
        if not math.isnan(lo_n):
            assert lo_w <= lo_n <= hi_n <= hi_w


@fast
@given(two_sample_comparisons())
def test_one_sided_p_values_are_complementary(case):
    compare, control, treatment = case
    two = compare(control, treatment)
    assume(0 < two.abs_se < math.inf)
    greater = compare(control, treatment, alternative="greater")
    less = compare(control, treatment, alternative="less")
    assert greater.p_value + less.p_value == pytest.approx(1.0)
    assert min(greater.p_value, less.p_value) * 2 == pytest.approx(two.p_value, abs=1e-12)


@fast
@given(mean_arm(allow_zero_sd=False), mean_arm(allow_zero_sd=False))
def test_means_match_scipy_welch(control, treatment):
    result = compare_means(control, treatment)

    def moments(arm):
        mean = arm.sum / arm.n
        return mean, math.sqrt(max(arm.sum_sq - arm.sum * mean, 0.0) / (arm.n - 1)), arm.n

    expected = sps.ttest_ind_from_stats(*moments(treatment), *moments(control), equal_var=False)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-12)


# --------------------------------------------------------------------------------------------
# Non-inferiority, quantiles, corrections, power, SRM
# --------------------------------------------------------------------------------------------


@fast
@given(
    binary_arm(min_n=2),
    binary_arm(min_n=2),
    st.floats(0, 0.5),
    st.sampled_from(("relative", "absolute")),
    st.sampled_from(("higher", "lower")),
)
def test_non_inferiority_is_consistent(control, treatment, margin, margin_type, better):
    comparison = compare_proportions(control, treatment)
    result = non_inferiority(comparison, margin=margin, margin_type=margin_type, better=better)
    assert not (result.passed and result.confidently_worse)
    assert 0.0 <= result.p_value <= 1.0
    se = comparison.rel_se if margin_type == "relative" else comparison.abs_se
    if 0 < se < math.inf and abs(result.p_value - comparison.alpha) > 1e-9:
        assert result.passed == (result.p_value < comparison.alpha)


@fast
@given(st.integers(1, 10**7), st.floats(0.01, 0.99), st.floats(0.001, 0.5))
def test_order_statistic_ranks_bracket_the_quantile(n, q, alpha):
    lo, hi = order_statistic_ranks(n, q, alpha)
    assert 1 <= lo <= hi <= n
    assert lo <= max(1, math.ceil(n * q)) <= hi


p_value_lists = st.lists(st.floats(0, 1), min_size=1, max_size=20)


@fast
@given(p_value_lists)
def test_corrections_match_statsmodels(p_values):
    assert holm(p_values) == pytest.approx(list(multipletests(p_values, method="holm")[1]))
    assert benjamini_hochberg(p_values) == pytest.approx(
        list(multipletests(p_values, method="fdr_bh")[1])
    )


@fast
@given(p_value_lists)
def test_corrections_order(p_values):
    for raw, bh, fwer in zip(p_values, benjamini_hochberg(p_values), holm(p_values), strict=True):
        assert raw <= bh + 1e-15 and bh <= fwer + 1e-15 and fwer <= 1.0


@fast
@given(
    st.sampled_from(("proportion", "mean")),
    st.floats(0.02, 0.5),
    st.floats(0.6, 0.95),
    st.floats(0.05, 0.95),
)
def test_planned_sample_reaches_power_and_power_grows_with_n(kind, mde, power, split):
    metric = {"kind": kind, "baseline": 0.2, "mde": mde}
    if kind == "mean":
        metric["variance"] = 4.0
    size = required_sample_size_per_arm(**metric, power=power, allocation=(1 - split, split))
    reached = achieved_power(size.control_exact, size.treatment_exact, **metric)
    assert reached == pytest.approx(power, rel=1e-9)
    assert achieved_power(size.control, size.treatment, **metric) >= power
    assert achieved_power(size.control // 2, size.treatment // 2, **metric) < power


@fast
@given(st.lists(st.integers(0, 10**6), min_size=2, max_size=6), st.integers(1, 1000))
def test_srm_p_value_in_unit_interval_and_exact_split_passes(counts, scale):
    arms = {f"arm{i}": c for i, c in enumerate(counts)}
    weights = {f"arm{i}": 1.0 for i in range(len(counts))}
    assert 0.0 <= srm_test(arms, weights).p_value <= 1.0
    exact = srm_test({name: scale for name in arms}, weights)
    assert exact.passed and exact.chi2 == pytest.approx(0.0, abs=1e-9)
