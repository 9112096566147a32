"""Bayesian chance to beat control: GrowthBook's Gaussian model (B01) and its edge cases."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from scipy import stats as sps

from abgate_pipeline.stats.bayes import chance_to_beat

REFERENCE_FILE = Path(__file__).resolve().parents[3] / "shared/reference/stats_reference_cases.json"
REL_TOL = 1e-6


def _b01(engine: str, scale: str) -> dict:
    cases = json.loads(REFERENCE_FILE.read_text())["cases"]
    case = next(case for case in cases if case["case_id"].startswith("B01"))
    return case["engines"][engine][f"bayesian_{scale}"]


class TestReferenceB01:
    """gbstats, flat prior, on P01 data (10 % vs 11 %, 10k per arm)."""

    @pytest.mark.parametrize("scale", ["relative", "absolute"])
    @pytest.mark.parametrize(
        "engine", ["gbstats@github:8f1db44 (2026-08-21)", "gbstats==0.8.0 (PyPI, 2024-06)"]
    )
    def test_matches_gbstats(self, engine, scale):
        expected = _b01(engine, scale)
        result = chance_to_beat(expected["expected"], expected["uplift_stddev"])
        assert result.chance_to_win == pytest.approx(expected["chance_to_win"], rel=REL_TOL)
        assert result.expected_loss_control == pytest.approx(expected["risk"][0], rel=REL_TOL)
        assert result.expected_loss_treatment == pytest.approx(expected["risk"][1], rel=REL_TOL)
        assert result.ci_low == pytest.approx(expected["ci_lower"], rel=REL_TOL)
        assert result.ci_high == pytest.approx(expected["ci_upper"], rel=REL_TOL)
        assert result.posterior_mean == pytest.approx(expected["uplift_mean"], rel=REL_TOL)
        assert result.posterior_std == pytest.approx(expected["uplift_stddev"], rel=REL_TOL)


class TestChanceToBeat:
    def test_is_one_half_at_zero_effect(self):
        result = chance_to_beat(0.0, 0.05)
        assert result.chance_to_win == 0.5
        assert result.expected_loss_control == pytest.approx(result.expected_loss_treatment)

    def test_lower_is_better_flips_the_chance_and_swaps_the_losses(self):
        higher = chance_to_beat(0.04, 0.03)
        lower = chance_to_beat(0.04, 0.03, better="lower")
        assert lower.chance_to_win == pytest.approx(1 - higher.chance_to_win)
        assert lower.expected_loss_control == higher.expected_loss_treatment
        assert lower.expected_loss_treatment == higher.expected_loss_control

    def test_proper_prior_is_a_precision_weighted_update(self):
        result = chance_to_beat(0.10, 0.05, prior_mean=0.0, prior_std=0.1)
        weight = (1 / 0.05**2) / (1 / 0.05**2 + 1 / 0.1**2)
        assert result.posterior_mean == pytest.approx(0.10 * weight)
        assert result.posterior_std == pytest.approx(math.sqrt(1 / (1 / 0.05**2 + 1 / 0.1**2)))
        assert result.chance_to_win == pytest.approx(
            sps.norm.sf(0, result.posterior_mean, result.posterior_std)
        )

    def test_expected_loss_is_the_mean_of_the_positive_part(self):
        result = chance_to_beat(0.02, 0.03)
        draws = sps.norm(0.02, 0.03).expect(lambda x: max(x, 0.0))
        assert result.expected_loss_control == pytest.approx(draws, rel=1e-6)


class TestEdgeCases:
    def test_zero_standard_error_with_flat_prior_is_uninformative_not_nan(self):
        result = chance_to_beat(0.1, 0.0)
        assert result.chance_to_win == 0.5
        assert (result.ci_low, result.ci_high) == (-math.inf, math.inf)
        assert result.notes
        assert not any(math.isnan(v) for v in (result.posterior_mean, result.posterior_std))

    def test_zero_standard_error_with_proper_prior_returns_the_prior(self):
        result = chance_to_beat(0.1, 0.0, prior_mean=0.02, prior_std=0.3)
        assert (result.posterior_mean, result.posterior_std) == (0.02, 0.3)

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"estimate": math.nan, "std_err": 0.1}, "estimate"),
            ({"estimate": 0.1, "std_err": 0.1, "better": "up"}, "better"),
            ({"estimate": 0.1, "std_err": 0.1, "prior_std": -1.0}, "prior_std"),
        ],
    )
    def test_invalid_input_raises(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            chance_to_beat(**kwargs)
