"""Sample-ratio mismatch by chi-square goodness of fit (Fabijan et al. 2019)."""

from __future__ import annotations

import math

import pytest
from scipy import stats as sps

from abgate_pipeline.stats import srm_test


class TestSrmTest:
    def test_balanced_split_passes(self):
        result = srm_test(
            {"champion": 50_123, "challenger": 49_877}, {"champion": 1, "challenger": 1}
        )
        assert result.passed and result.dof == 1
        assert result.chi2 == pytest.approx(0.60516)
        assert result.expected == {"champion": 50_000.0, "challenger": 50_000.0}
        assert result.notes == ()

    def test_unequal_allocation_uses_weights(self):
        observed = {"champion": 90_400, "challenger": 9_600}
        result = srm_test(observed, {"champion": 90, "challenger": 10})
        expected = sps.chisquare([90_400, 9_600], [90_000, 10_000])
        assert result.p_value == pytest.approx(expected.pvalue)
        assert not result.passed  # 9.6 % instead of 10 % on 100k units is a real mismatch

    def test_threshold_is_strict_lower_bound(self):
        observed, weights = {"a": 50_000, "b": 48_500}, {"a": 0.5, "b": 0.5}
        p_value = srm_test(observed, weights).p_value
        assert srm_test(observed, weights, threshold=p_value).passed
        assert not srm_test(observed, weights, threshold=p_value * 1.0001).passed

    def test_three_arms(self):
        result = srm_test({"a": 34_000, "b": 33_000, "c": 33_000}, {"a": 1, "b": 1, "c": 1})
        assert result.dof == 2 and result.chi2 == pytest.approx(20.0)
        assert not result.passed

    def test_no_traffic_yet(self):
        result = srm_test({"a": 0, "b": 0}, {"a": 0.5, "b": 0.5})
        assert result.passed and result.p_value == 1.0
        assert result.notes == ("no units observed yet: nothing to test",)

    def test_units_in_an_arm_allocated_zero_fail(self):
        result = srm_test({"a": 100, "b": 3}, {"a": 1.0, "b": 0.0})
        assert not result.passed and result.p_value == 0.0 and result.chi2 == math.inf
        assert "b" in result.notes[0]

    def test_empty_arm_allocated_zero_is_left_out(self):
        result = srm_test({"a": 510, "b": 490, "c": 0}, {"a": 1, "b": 1, "c": 0})
        assert result.dof == 1
        assert result.p_value == pytest.approx(sps.chisquare([510, 490]).pvalue)

    def test_single_allocated_arm_has_nothing_to_test(self):
        result = srm_test({"a": 10, "b": 0}, {"a": 1, "b": 0})
        assert result.passed and result.dof == 0

    def test_small_counts_are_flagged(self):
        result = srm_test({"a": 3, "b": 1}, {"a": 1, "b": 1})
        assert len(result.notes) == 2 and "rough" in result.notes[0]

    @pytest.mark.parametrize(
        ("observed", "weights", "match"),
        [
            ({"a": 1, "b": 1}, {"a": 1, "c": 1}, "arms differ"),
            ({"a": 1}, {"a": 1}, "at least 2"),
            ({"a": -1, "b": 1}, {"a": 1, "b": 1}, ">= 0"),
            ({"a": 1, "b": 1}, {"a": 0, "b": 0}, "weights"),
            ({"a": 1, "b": 1}, {"a": -1, "b": 2}, "weights"),
        ],
    )
    def test_invalid_inputs_raise(self, observed, weights, match):
        with pytest.raises(ValueError, match=match):
            srm_test(observed, weights)
