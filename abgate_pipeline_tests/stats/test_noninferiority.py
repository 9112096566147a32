"""Non-inferiority of guardrails and the "confidently worse" rollback signal."""

from __future__ import annotations

import math

import pytest
from scipy import stats as sps

from abgate_pipeline.stats import (
    QuantileStats,
    SampleStats,
    compare_proportions,
    compare_quantiles,
    non_inferiority,
)


def binary(n: int, conversions: int) -> SampleStats:
    return SampleStats(n=n, sum=conversions, sum_sq=conversions)


SUCCESS = compare_proportions(binary(10_000, 8_000), binary(10_000, 7_920))  # -1 % relative


class TestHigherIsBetter:
    def test_not_yet_non_inferior(self):
        result = non_inferiority(SUCCESS, margin=0.02)
        assert not result.passed and not result.confidently_worse
        assert result.p_value == pytest.approx(0.07916008986915457, rel=1e-9)
        assert result.bound == pytest.approx(-0.02165958251719369, rel=1e-9)
        assert (result.margin, result.margin_type, result.better) == (0.02, "relative", "higher")

    def test_wide_margin_passes(self):
        result = non_inferiority(SUCCESS, margin=0.05)
        assert result.passed and result.p_value < 0.05 and result.bound > -0.05

    def test_clear_drop_is_confidently_worse(self):
        drop = compare_proportions(binary(10_000, 8_000), binary(10_000, 7_600))  # -5 %
        result = non_inferiority(drop, margin=0.02)
        assert result.confidently_worse and not result.passed
        assert result.p_value > 0.95

    def test_absolute_margin_uses_absolute_difference(self):
        result = non_inferiority(SUCCESS, margin=0.016, margin_type="absolute")
        stat = (SUCCESS.abs_diff + 0.016) / SUCCESS.abs_se
        assert result.p_value == pytest.approx(sps.t.sf(stat, SUCCESS.dof))


class TestLowerIsBetter:
    def test_mirror_of_higher(self):
        latency = compare_quantiles(
            QuantileStats(5000, 0.95, 1000.0, 15.0), QuantileStats(5000, 0.95, 1030.0, 15.0)
        )
        result = non_inferiority(latency, margin=0.10, better="lower")
        assert result.passed and not result.confidently_worse
        z = (0.10 - latency.rel_lift) / latency.rel_se
        assert result.p_value == pytest.approx(sps.norm.sf(z))
        assert result.bound == pytest.approx(latency.rel_lift + sps.norm.ppf(0.95) * latency.rel_se)

    def test_big_slowdown_is_confidently_worse(self):
        latency = compare_quantiles(
            QuantileStats(5000, 0.95, 1000.0, 15.0), QuantileStats(5000, 0.95, 1300.0, 15.0)
        )
        result = non_inferiority(latency, margin=0.10, better="lower")
        assert result.confidently_worse and not result.passed

    def test_absolute_refusal_rate_margin(self):
        refusals = compare_proportions(binary(90_000, 900), binary(10_000, 104))
        result = non_inferiority(refusals, margin=0.005, margin_type="absolute", better="lower")
        assert result.passed
        assert result.bound < 0.005


class TestAlpha:
    def test_defaults_to_the_comparisons_alpha(self):
        strict = compare_proportions(binary(10_000, 8_000), binary(10_000, 7_920), alpha=0.01)
        assert non_inferiority(strict, margin=0.02).alpha == 0.01

    def test_override_is_one_sided(self):
        result = non_inferiority(SUCCESS, margin=0.02, alpha=0.10)
        expected = SUCCESS.rel_lift - sps.t.ppf(0.90, SUCCESS.dof) * SUCCESS.rel_se
        assert result.bound == pytest.approx(expected)
        assert result.passed  # p = 0.079 < 0.10


class TestUntestable:
    def test_relative_margin_without_relative_lift(self):
        comparison = compare_proportions(binary(1000, 0), binary(1000, 3))
        result = non_inferiority(comparison, margin=0.1, better="lower")
        assert not result.passed and not result.confidently_worse and result.p_value == 1.0
        assert result.bound == math.inf
        assert "margin_type='absolute'" in result.notes[0]
        assert non_inferiority(
            comparison, margin=0.01, margin_type="absolute", better="lower"
        ).passed

    def test_arm_without_traffic(self):
        comparison = compare_proportions(binary(1000, 800), binary(0, 0))
        result = non_inferiority(comparison, margin=0.02)
        assert not result.passed and not result.confidently_worse
        assert result.bound == -math.inf and result.notes

    def test_deterministic_comparison(self):
        comparison = compare_proportions(binary(1000, 1000), binary(1000, 1000))
        assert non_inferiority(comparison, margin=0.01, margin_type="absolute").passed
        assert not non_inferiority(comparison, margin=0.0, margin_type="absolute").passed


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"margin": -0.1}, "margin"),
        ({"margin": math.nan}, "margin"),
        ({"margin": 0.1, "margin_type": "percent"}, "margin_type"),
        ({"margin": 0.1, "better": "up"}, "better"),
        ({"margin": 0.1, "alpha": 0.0}, "alpha"),
    ],
)
def test_invalid_inputs_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        non_inferiority(SUCCESS, **kwargs)
