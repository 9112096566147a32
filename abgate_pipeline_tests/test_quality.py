"""The Great Expectations suite over metric frames catches frames that cannot be right."""

import pandas as pd
import pytest

from abgate_pipeline.config import DEMO_EXPERIMENTS, load_experiments
from abgate_pipeline.quality import validate_metric_frames

EXPERIMENTS = load_experiments(DEMO_EXPERIMENTS)
SUPPORT = "support-bot-model-upgrade"


def frame(**overrides) -> pd.DataFrame:
    """Two good rows (a mean metric and a quantile metric), with column overrides on row 0."""
    rows = [
        {
            "as_of": pd.Timestamp("2026-11-10"), "experiment_id": SUPPORT, "metric": "csat",
            "kind": "mean", "variant": "champion", "segment": "__all__",
            "segment_value": "__all__", "n": 100, "sum": 320.0, "sum_sq": 1100.0,
            "den_sum": None, "den_sum_sq": None, "cross_sum": None, "q": None,
            "q_estimate": None, "q_lo": None, "q_hi": None,
        },
        {
            "as_of": pd.Timestamp("2026-11-10"), "experiment_id": SUPPORT,
            "metric": "p95_latency_ms", "kind": "quantile", "variant": "challenger",
            "segment": "__all__", "segment_value": "__all__", "n": 500, "sum": None,
            "sum_sq": None, "den_sum": None, "den_sum_sq": None, "cross_sum": None, "q": 0.95,
            "q_estimate": 2200.0, "q_lo": 2100.0, "q_hi": 2350.0,
        },
    ]  # fmt: skip
    rows[0].update(overrides)
    return pd.DataFrame(rows)


def test_good_frames_pass():
    result = validate_metric_frames(frame(), EXPERIMENTS)
    assert result.success and result.evaluated > 10 and result.failures == []


@pytest.mark.parametrize(
    ("overrides", "expectation"),
    [
        ({"n": -1}, "expect_column_values_to_be_between"),
        ({"sum_sq": -5.0}, "expect_column_values_to_be_between"),
        ({"variant": "challenger-2"}, "expect_column_values_to_be_in_set"),
        ({"kind": "median"}, "expect_column_values_to_be_in_set"),
        ({"metric": "unknown_metric"}, "expect_column_values_to_be_in_set"),
        ({"experiment_id": None}, "expect_column_values_to_not_be_null"),
        (
            {"kind": "quantile", "q": 0.5, "q_estimate": 10.0, "q_lo": 12.0, "q_hi": 15.0},
            "expect_column_pair_values_a_to_be_greater_than_b",
        ),
    ],
)
def test_bad_frames_fail_with_the_expectation_named(overrides, expectation):
    result = validate_metric_frames(frame(**overrides), EXPERIMENTS)
    assert not result.success
    assert expectation in {f["expectation"] for f in result.failures}


def test_duplicate_rows_fail():
    doubled = pd.concat([frame(), frame()], ignore_index=True)
    result = validate_metric_frames(doubled, EXPERIMENTS)
    assert "expect_compound_columns_to_be_unique" in {f["expectation"] for f in result.failures}
