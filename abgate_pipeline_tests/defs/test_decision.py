"""The gate re-reads the blocking upstream checks from the instance."""

from dagster import AssetCheckEvaluation, AssetKey, DagsterInstance

from abgate_pipeline.defs.decision import upstream_check_outcomes


def test_a_failed_upstream_check_reaches_the_gate():
    instance = DagsterInstance.ephemeral()
    assert upstream_check_outcomes(instance) == []  # nothing evaluated yet: nothing to report
    instance.report_runless_asset_event(
        AssetCheckEvaluation(
            asset_key=AssetKey("metric_frames"),
            check_name="metric_frames_expectations",
            passed=False,
            description="expect_column_values_to_be_between failed on n",
        )
    )
    instance.report_runless_asset_event(
        AssetCheckEvaluation(
            asset_key=AssetKey("raw_inference_logs"),
            check_name="required_columns_and_types",
            passed=True,
        )
    )
    outcomes = {o.name: o for o in upstream_check_outcomes(instance)}
    assert outcomes["metric_frames.metric_frames_expectations"].passed is False
    assert "n" in outcomes["metric_frames.metric_frames_expectations"].description
    assert outcomes["raw_inference_logs.required_columns_and_types"].passed is True
    assert "outcome_extracts.required_columns_and_types" not in outcomes  # never evaluated
