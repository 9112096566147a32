"""The Great Expectations suite over metric frames.

GX 1.x cannot validate a DuckDB table directly (upstream bug, DESIGN.md §5), so the frames are
validated as pandas frames read from DuckDB, in an ephemeral GX context (no files written).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from abgate_pipeline.config import METRIC_KINDS, ExperimentSpec

SUITE_NAME = "metric_frames"


@dataclass(frozen=True)
class ValidationSummary:
    success: bool
    evaluated: int
    failures: list[dict]


def build_suite(experiments: Sequence[ExperimentSpec]):
    """The expectations every metric frame must meet, whatever the experiment."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    variants = sorted({v for e in experiments for v in e.variants})
    metrics = sorted({m.name for e in experiments for m in e.metrics})
    suite = gx.ExpectationSuite(name=SUITE_NAME)
    for column in ("as_of", "experiment_id", "metric", "kind", "variant", "segment", "n"):
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=column))
    suite.add_expectation(gxe.ExpectColumnValuesToBeInSet(column="variant", value_set=variants))
    suite.add_expectation(gxe.ExpectColumnValuesToBeInSet(column="metric", value_set=metrics))
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(column="kind", value_set=list(METRIC_KINDS))
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="experiment_id", value_set=[e.id for e in experiments]
        )
    )
    suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(column="n", min_value=0))
    for column in ("sum_sq", "den_sum_sq"):
        suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0))
    suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(column="q", min_value=0, max_value=1))
    for high, low in (("q_estimate", "q_lo"), ("q_hi", "q_estimate")):
        suite.add_expectation(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=high, column_B=low, or_equal=True, ignore_row_if="either_value_is_missing"
            )
        )
    suite.add_expectation(
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["as_of", "experiment_id", "metric", "variant", "segment", "segment_value"]
        )
    )
    return suite


def validate_metric_frames(
    frame: pd.DataFrame, experiments: Sequence[ExperimentSpec]
) -> ValidationSummary:
    """Validate the frames; return which expectations failed, with a sample of bad values."""
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = (
        context.data_sources.add_pandas("warehouse")
        .add_dataframe_asset(SUITE_NAME)
        .add_batch_definition_whole_dataframe("all")
    )
    suite = context.suites.add(build_suite(experiments))
    result = batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(
        suite, result_format="SUMMARY"
    )
    failures = [
        {
            "expectation": r.expectation_config.type,
            "kwargs": {
                k: str(v) for k, v in r.expectation_config.kwargs.items() if k != "batch_id"
            },
            "unexpected_count": r.result.get("unexpected_count"),
            "sample": [str(v) for v in (r.result.get("partial_unexpected_list") or [])[:5]],
        }
        for r in result.results
        if not r.success
    ]
    return ValidationSummary(bool(result.success), len(result.results), failures)
