"""Sequential inference: GrowthBook's confidence sequence (Q01), and Lan-DeMets alpha spending
checked against published boundaries and an independent multivariate-normal computation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as sps

from abgate_pipeline.stats.sequential import (
    Look,
    confidence_sequence_halfwidth,
    confidence_sequence_p_value,
    confidence_sequence_rho,
    sequential_test,
    spending_boundaries,
    spending_function,
)

REFERENCE_FILE = Path(__file__).resolve().parents[3] / "shared/reference/stats_reference_cases.json"
GBSTATS = "gbstats@github:8f1db44 (2026-08-21)"
REL_TOL = 1e-6


def _reference_case(prefix: str) -> dict:
    cases = json.loads(REFERENCE_FILE.read_text())["cases"]
    return next(case for case in cases if case["case_id"].startswith(prefix))


def _crossing_probabilities(info: list[float], bounds: tuple[float, ...], two_sided: bool):
    """P(some |Z_j| >= c_j, j <= k) for each k from the multivariate normal CDF (Genz)."""
    info_arr = np.asarray(info)
    cov = np.sqrt(np.minimum.outer(info_arr, info_arr) / np.maximum.outer(info_arr, info_arr))
    out = []
    for k in range(1, len(info) + 1):
        mvn = sps.multivariate_normal(np.zeros(k), cov[:k, :k], abseps=1e-7, releps=1e-6, seed=7)
        upper = np.asarray(bounds[:k])
        lower = -upper if two_sided else np.full(k, -np.inf)
        out.append(1.0 - mvn.cdf(upper, lower_limit=lower))
    return out


class TestConfidenceSequenceReference:
    """Q01: gbstats always-valid CI and p-value on P01 data, N* = 5000, one look at n = 20000."""

    @pytest.mark.parametrize("scale", ["relative", "absolute"])
    @pytest.mark.parametrize("engine", [GBSTATS, "gbstats==0.8.0 (PyPI, 2024-06)"])
    def test_matches_gbstats(self, scale, engine):
        expected = _reference_case("Q01")["engines"][engine][f"seq_two_sided_{scale}_N5000"]
        look = Look(n=20000, estimate=expected["expected"], std_err=expected["uplift_stddev"])
        result = sequential_test(
            [look], planned_n=None, method="confidence_sequence", tuning_n=5000
        )
        assert result.ci_low == pytest.approx(expected["ci_lower"], rel=REL_TOL)
        assert result.ci_high == pytest.approx(expected["ci_upper"], rel=REL_TOL)
        assert result.p_value == pytest.approx(expected["p_value"], rel=REL_TOL)
        assert not result.rejected
        assert result.method_used == "confidence_sequence"

    def test_mixing_parameter_matches_gbstats(self):
        expected = _reference_case("Q01")["engines"][GBSTATS]["seq_two_sided_relative_N5000"]
        assert confidence_sequence_rho(0.05, 5000) == pytest.approx(expected["rho"], rel=REL_TOL)


class TestConfidenceSequence:
    def test_p_value_below_alpha_exactly_when_interval_excludes_zero(self):
        n = np.array([2000.0, 8000.0, 20000.0, 20000.0, 20000.0])
        z = np.array([4.5, 3.2, 3.13, 3.12, -3.5])
        for alternative in ("two-sided", "greater", "less"):
            radius = confidence_sequence_halfwidth(n, 1.0, tuning_n=5000, alternative=alternative)
            p = confidence_sequence_p_value(n, z, tuning_n=5000, alternative=alternative)
            if alternative == "two-sided":
                excludes = np.abs(z) > radius
            else:
                excludes = (z if alternative == "greater" else -z) > radius
            np.testing.assert_array_equal(p < 0.05, excludes)

    def test_one_sided_p_value_is_one_when_the_effect_points_the_other_way(self):
        assert confidence_sequence_p_value(1000.0, -2.0, alternative="greater") == 1.0

    def test_running_minimum_keeps_an_earlier_crossing(self):
        looks = [Look(4000, 0.5, 0.1), Look(8000, 0.01, 0.07)]
        result = sequential_test(looks, planned_n=None, method="confidence_sequence")
        assert result.rejected and result.crossed_at_n == 4000
        assert result.p_value < 0.05

    def test_defaults_to_tuning_at_the_planned_sample_size(self):
        look = Look(20000, 0.1, 0.045)
        tuned = sequential_test([look], planned_n=20000, method="confidence_sequence")
        explicit = sequential_test(
            [look], planned_n=20000, method="confidence_sequence", tuning_n=20000
        )
        assert tuned == explicit


class TestSpendingFunction:
    @pytest.mark.parametrize("spending", ["obf", "power"])
    @pytest.mark.parametrize("alternative", ["two-sided", "greater"])
    def test_spends_all_alpha_at_the_horizon_and_nothing_at_zero(self, spending, alternative):
        kwargs = {"alpha": 0.05, "spending": spending, "alternative": alternative}
        assert spending_function(1.0, **kwargs) == pytest.approx(0.05, rel=1e-12)
        assert spending_function(3.0, **kwargs) == pytest.approx(0.05, rel=1e-12)
        assert spending_function(0.0, **kwargs) == 0.0

    def test_power_family(self):
        assert spending_function(0.5, alpha=0.05, spending="power", rho=2.0) == pytest.approx(
            0.0125
        )


class TestBoundaries:
    @pytest.mark.parametrize("alternative", ["two-sided", "greater"])
    def test_single_look_at_the_horizon_is_the_fixed_test(self, alternative):
        (bound,) = spending_boundaries([1.0], alpha=0.05, alternative=alternative)
        level = 0.975 if alternative == "two-sided" else 0.95
        assert bound == pytest.approx(sps.norm.ppf(level), rel=1e-9)

    def test_matches_published_obrien_fleming_type_boundaries(self):
        # gsDesign sfLDOF / ldbounds, K = 5 equally spaced, two-sided 0.05 (0.025 per side).
        published = [4.8769, 3.3569, 2.6803, 2.2898, 2.0310]
        bounds = spending_boundaries([0.2, 0.4, 0.6, 0.8, 1.0], alpha=0.05)
        assert bounds == pytest.approx(published, abs=2e-4)

    @pytest.mark.parametrize("spending", ["obf", "power"])
    @pytest.mark.parametrize("alternative", ["two-sided", "greater"])
    def test_cumulative_crossing_probability_equals_the_spending_function(
        self, spending, alternative
    ):
        info = [0.1, 0.35, 0.5, 1.0]  # irregular looks
        kwargs = {"alpha": 0.05, "spending": spending, "alternative": alternative}
        bounds = spending_boundaries(info, **kwargs)
        crossed = _crossing_probabilities(info, bounds, alternative == "two-sided")
        spent = [spending_function(t, **kwargs) for t in info]
        assert crossed == pytest.approx(spent, rel=1e-4, abs=1e-9)

    def test_a_look_with_little_new_information_spends_its_share(self):
        # Looks at t = 0.3 and 0.301: the kernel of the increment is very narrow; check the
        # second look's exit probability by adaptive quadrature.
        bounds = spending_boundaries([0.3, 0.301], alpha=0.05)
        b1, b2, step_sd = bounds[0] * math.sqrt(0.3), bounds[1] * math.sqrt(0.301), math.sqrt(1e-3)

        def integrand(s):
            tails = sps.norm.sf((b2 - s) / step_sd) + sps.norm.sf((b2 + s) / step_sd)
            return sps.norm.pdf(s, scale=math.sqrt(0.3)) * tails

        exit_2, _ = integrate.quad(integrand, -b1, b1, points=[-b1 + 0.01, b1 - 0.01], limit=200)
        spent = spending_function(0.301) - spending_function(0.3)
        assert exit_2 == pytest.approx(spent, rel=1e-3)

    def test_second_look_past_the_horizon_spends_nothing(self):
        assert spending_boundaries([0.5, 1.2, 1.5])[-1] == math.inf

    def test_rejects_non_increasing_information(self):
        with pytest.raises(ValueError, match="increasing"):
            spending_boundaries([0.5, 0.5])


def _daily_looks(z_path: list[float], per_day: float = 2000.0, se_day_one: float = 0.1):
    return [
        Look(per_day * day, z * se_day_one / math.sqrt(day), se_day_one / math.sqrt(day))
        for day, z in enumerate(z_path, start=1)
    ]


class TestAlphaSpending:
    def test_single_look_at_the_horizon_reproduces_the_fixed_test(self):
        result = sequential_test([Look(1000, 0.3, 0.1)], planned_n=1000)
        assert result.rejected
        assert result.p_value == pytest.approx(2 * sps.norm.sf(3.0), rel=1e-8)
        assert result.ci_low == pytest.approx(0.3 - 0.1 * sps.norm.ppf(0.975), rel=1e-9)
        assert result.nominal_alpha == pytest.approx(0.05, rel=1e-9)
        assert result.info_fraction == 1.0
        assert result.method_used == "alpha_spending_obf"

    @pytest.mark.parametrize("spending", ["obf", "power"])
    @pytest.mark.parametrize(
        ("alternative", "fixed_p"),
        [
            ("greater", sps.norm.sf(2.0)),
            ("less", sps.norm.cdf(2.0)),
            ("two-sided", 2 * sps.norm.sf(2.0)),
        ],
    )
    def test_single_look_p_value_is_the_fixed_p_value(self, spending, alternative, fixed_p):
        result = sequential_test(
            [Look(1000, 0.2, 0.1)], planned_n=1000, spending=spending, alternative=alternative
        )
        assert result.p_value == pytest.approx(fixed_p, rel=1e-8)

    def test_early_look_needs_a_much_larger_z(self):
        result = sequential_test(_daily_looks([2.5]), planned_n=28000)  # t = 1/14
        assert not result.rejected
        assert result.critical_z > 8
        assert result.p_value > 0.05

    def test_p_value_is_consistent_with_the_decision_and_never_increases(self):
        path = [0.5, 1.2, 2.0, 2.9, 3.4, 2.2, 1.0]
        previous = 1.0
        for k in range(1, len(path) + 1):
            result = sequential_test(_daily_looks(path[:k]), planned_n=14000)
            assert (result.p_value <= 0.05) == result.rejected
            assert result.p_value <= previous + 1e-12
            previous = result.p_value

    def test_a_crossed_boundary_stays_crossed(self):
        looks = _daily_looks([0.5, 1.2, 2.0, 2.9, 3.4, 2.2, 1.0])
        crossing = next(
            look.n
            for k, look in enumerate(looks, 1)
            if sequential_test(looks[:k], planned_n=14000).crossed_at_n is not None
        )
        result = sequential_test(looks, planned_n=14000)
        assert result.rejected and result.crossed_at_n == crossing
        assert result.ci_low < 0  # today's repeated CI alone would not reject

    def test_spending_power_family_is_selectable(self):
        result = sequential_test(_daily_looks([1.0, 2.0]), planned_n=14000, spending="power")
        assert result.method_used == "alpha_spending_power"

    @pytest.mark.parametrize("alternative", ["greater", "less"])
    def test_one_sided_interval_has_an_infinite_end(self, alternative):
        result = sequential_test([Look(1000, 0.3, 0.1)], planned_n=1000, alternative=alternative)
        if alternative == "greater":
            assert result.rejected and result.ci_high == math.inf
        else:
            assert not result.rejected and result.ci_low == -math.inf

    def test_same_n_is_one_look_rerun(self):
        rerun = [*_daily_looks([1.0, 2.0]), Look(4000, 0.0, 0.1)]
        assert sequential_test(rerun, planned_n=14000) == sequential_test(
            [*_daily_looks([1.0]), Look(4000, 0.0, 0.1)], planned_n=14000
        )


class TestFallbacks:
    def test_without_planned_n_uses_the_confidence_sequence(self):
        result = sequential_test(_daily_looks([1.0, 2.0]), planned_n=None)
        assert result.method_used == "confidence_sequence"
        assert result.info_fraction is None
        assert any("no planned sample size" in note for note in result.notes)

    def test_looks_past_the_horizon_use_the_confidence_sequence(self):
        looks = _daily_looks([1.0, 1.5, 1.8, 1.9])
        at_horizon = sequential_test(looks[:3], planned_n=6000)
        past = sequential_test(looks, planned_n=6000)
        assert at_horizon.method_used == "alpha_spending_obf"
        assert past.method_used == "confidence_sequence"
        assert past.info_fraction == pytest.approx(8000 / 6000)
        assert any("past the planned horizon" in note for note in past.notes)

    def test_a_rejection_before_the_horizon_survives_the_fallback(self):
        looks = [Look(6000, 0.35, 0.1), Look(7000, 0.0, 0.09)]
        result = sequential_test(looks, planned_n=6000)
        assert result.method_used == "confidence_sequence"
        assert result.rejected and result.crossed_at_n == 6000
        assert result.p_value <= 0.05


class TestEdgeCases:
    def test_zero_standard_error_is_skipped_with_a_note(self):
        looks = [Look(1000, 0.0, 0.0), *_daily_looks([1.0])]
        result = sequential_test(looks, planned_n=14000)
        assert result.p_value == pytest.approx(1.0)
        assert any("skipped" in note for note in result.notes)

    def test_no_usable_look_gives_no_information_not_nan(self):
        result = sequential_test([Look(1000, 0.1, 0.0)], planned_n=14000)
        assert not result.rejected and result.p_value == 1.0
        assert (result.ci_low, result.ci_high) == (-math.inf, math.inf)
        values = [result.p_value, result.ci_low, result.ci_high, result.nominal_alpha]
        assert not any(math.isnan(v) for v in values)

    def test_one_look_before_the_horizon(self):
        result = sequential_test([Look(7000, 0.1, 0.05)], planned_n=14000)
        assert result.info_fraction == 0.5
        expected = sps.norm.isf(spending_function(0.5) / 2)  # one look: the tail it may spend
        assert result.critical_z == pytest.approx(expected, rel=1e-9)
        assert not math.isnan(result.p_value)

    @pytest.mark.parametrize(
        ("looks", "kwargs", "message"),
        [
            ([], {"planned_n": 100}, "at least one look"),
            ([Look(200, 0, 1), Look(100, 0, 1)], {"planned_n": 100}, "non-decreasing"),
            ([Look(100, 0, 1)], {"planned_n": 0}, "planned_n"),
            ([Look(100, 0, 1)], {"planned_n": 100, "method": "bayes"}, "method"),
            ([Look(100, 0, 1)], {"planned_n": 100, "alpha": 1.5}, "alpha"),
        ],
    )
    def test_invalid_input_raises_a_clear_error(self, looks, kwargs, message):
        with pytest.raises(ValueError, match=message):
            sequential_test(looks, **kwargs)
