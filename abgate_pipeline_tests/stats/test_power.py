"""Sample size, achieved power and days remaining."""

from __future__ import annotations

import math

import pytest

from abgate_pipeline.stats import achieved_power, days_remaining, required_sample_size_per_arm

PROPORTION = {"kind": "proportion", "baseline": 0.10, "mde": 0.10}
MEAN = {"kind": "mean", "baseline": 20.0, "mde": 0.05, "variance": 2500.0}


class TestRequiredSampleSize:
    def test_reference_values(self):
        size = required_sample_size_per_arm(**PROPORTION)
        assert (size.control, size.treatment, size.total) == (14_749, 14_749, 29_498)
        assert required_sample_size_per_arm(**MEAN).treatment == 39_245

    def test_absolute_mde_equals_relative_times_baseline(self):
        relative = required_sample_size_per_arm(**PROPORTION)
        absolute = required_sample_size_per_arm(
            kind="proportion", baseline=0.10, mde=0.01, mde_type="absolute"
        )
        assert (absolute.control, absolute.treatment) == (relative.control, relative.treatment)
        assert absolute.treatment_exact == pytest.approx(relative.treatment_exact, rel=1e-12)

    def test_unequal_allocation_needs_more_units_in_total(self):
        even = required_sample_size_per_arm(**PROPORTION)
        skewed = required_sample_size_per_arm(**PROPORTION, allocation=(90, 10))
        assert skewed.total > even.total
        assert skewed.control_exact == pytest.approx(9 * skewed.treatment_exact)
        # the small arm alone must carry more than half the variance budget
        assert skewed.treatment < even.treatment

    def test_one_sided_needs_fewer_units(self):
        two = required_sample_size_per_arm(**MEAN)
        one = required_sample_size_per_arm(**MEAN, alternative="greater")
        assert one.total < two.total

    def test_decrease_uses_treatment_variance_below_baseline(self):
        up = required_sample_size_per_arm(kind="proportion", baseline=0.5, mde=0.1)
        down = required_sample_size_per_arm(kind="proportion", baseline=0.5, mde=-0.1)
        assert up.treatment_exact == pytest.approx(down.treatment_exact)  # p(1-p) symmetric at 0.5

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"kind": "mean", "baseline": 1.0, "mde": 0.1}, "variance"),
            ({"kind": "proportion", "baseline": 0.1, "mde": 0.0}, "non-zero"),
            ({"kind": "proportion", "baseline": 1.2, "mde": 0.1}, "baseline"),
            ({"kind": "proportion", "baseline": 0.95, "mde": 0.1}, "baseline"),
            ({"kind": "proportion", "baseline": 0.1, "mde": 0.1, "variance": 0.09}, "variance"),
            ({"kind": "count", "baseline": 0.1, "mde": 0.1}, "kind"),
            ({**PROPORTION, "mde_type": "percent"}, "mde_type"),
            ({**PROPORTION, "power": 1.0}, "power"),
            ({**PROPORTION, "allocation": (1, 0)}, "allocation"),
            ({**PROPORTION, "allocation": (1, 1, 1)}, "allocation"),
        ],
    )
    def test_invalid_inputs_raise(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            required_sample_size_per_arm(**kwargs)


class TestAchievedPower:
    def test_planned_sample_reaches_target_power(self):
        size = required_sample_size_per_arm(**PROPORTION, power=0.9, allocation=(3, 1))
        reached = achieved_power(size.control_exact, size.treatment_exact, **PROPORTION)
        assert reached == pytest.approx(0.9, rel=1e-9)

    def test_half_the_sample_is_underpowered(self):
        size = required_sample_size_per_arm(**MEAN)
        assert 0.4 < achieved_power(size.control // 2, size.treatment // 2, **MEAN) < 0.6

    def test_no_units_means_no_power(self):
        assert achieved_power(0, 1000, **MEAN) == 0.0

    def test_negative_units_raise(self):
        with pytest.raises(ValueError, match=">= 0"):
            achieved_power(-1, 10, **MEAN)


class TestDaysRemaining:
    @pytest.mark.parametrize(
        ("planned", "current", "daily", "expected"),
        [
            (1000, 400, 100, 6.0),
            (1000, 1000, 0, 0.0),
            (1000, 1500, 10, 0.0),
            (1000, 400, 0, math.inf),
            (1000, 999, 3, 1 / 3),
        ],
    )
    def test_days(self, planned, current, daily, expected):
        assert days_remaining(planned, current, daily) == pytest.approx(expected)

    def test_negative_inputs_raise(self):
        with pytest.raises(ValueError):
            days_remaining(1000, 10, -5)
