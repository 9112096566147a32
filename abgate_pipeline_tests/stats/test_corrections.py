"""Holm and Benjamini-Hochberg adjusted p-values."""

from __future__ import annotations

import pytest

from abgate_pipeline.stats import adjust_p_values, benjamini_hochberg, holm


class TestHolm:
    def test_hand_computed(self):
        # sorted 0.01, 0.02, 0.04 -> 3*0.01, max(0.03, 2*0.02), max(0.04, 1*0.04)
        assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])

    def test_capped_at_one(self):
        assert holm([0.6, 0.7]) == [1.0, 1.0]


class TestBenjaminiHochberg:
    def test_hand_computed(self):
        # sorted 0.01, 0.02, 0.04 -> min over the tail of 3p/rank: 0.03, 0.03, 0.04
        assert benjamini_hochberg([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.03])

    def test_ties_keep_equal_values(self):
        assert benjamini_hochberg([0.02, 0.02]) == pytest.approx([0.02, 0.02])


class TestAdjustPValues:
    def test_dispatches_by_method(self):
        ps = [0.001, 0.03, 0.2]
        assert adjust_p_values(ps, "holm") == holm(ps)
        assert adjust_p_values(ps, "bh") == benjamini_hochberg(ps)
        assert adjust_p_values(ps, "none") == ps
        assert adjust_p_values(ps) == holm(ps)

    def test_single_and_empty(self):
        assert adjust_p_values([0.03], "holm") == [0.03]
        assert adjust_p_values([], "bh") == []

    def test_unknown_method_raises(self):
        with pytest.raises(ValueError, match="method"):
            adjust_p_values([0.1], "bonferroni")

    @pytest.mark.parametrize("bad", [float("nan"), -0.1, 1.2])
    def test_invalid_p_values_raise(self, bad):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            adjust_p_values([0.1, bad])
