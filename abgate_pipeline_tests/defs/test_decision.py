"""The gate re-reads the blocking upstream checks from the instance, and records the days it
reads that lack landing files."""

import json
from datetime import timedelta

from dagster import AssetCheckEvaluation, AssetKey, DagsterInstance

from abgate_pipeline.defs.decision import upstream_check_outcomes
from abgate_pipeline_tests.conftest import DEMO_START, simulate_and_run

SUPPORT = "support-bot-model-upgrade"


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


def test_days_lacking_an_unreadable_file_are_named_in_the_decision_and_the_report(tmp_path):
    """A landing file that cannot be read costs itself, not the run; the decision records the
    days it leaves incomplete (from the experiment's first day to the as-of day) and the report
    warns with them."""
    broken_day = DEMO_START + timedelta(days=1)

    def truncate_a_delivery(landing):
        where = landing / "outcomes" / broken_day.isoformat()
        (where / "late-delivery.parquet").write_bytes(b"PAR1")  # cut off after its magic bytes

    run = simulate_and_run(tmp_path, scale=0.05, days=3, tamper=truncate_a_delivery)
    assert run.summary["success"], run.summary
    folder = run.settings.reports_dir / SUPPORT
    before = json.loads((folder / DEMO_START.isoformat() / "decision.json").read_text())
    assert before["incomplete_days"] == []  # the as-of day before the broken one reads none
    record = json.loads((folder / run.end.isoformat() / "decision.json").read_text())
    ((item,),) = [record["incomplete_days"]]
    assert (item["dataset"], item["day"]) == ("outcomes", broken_day.isoformat())
    assert item["file"].endswith("late-delivery.parquet") and item["error"]
    report = (folder / run.end.isoformat() / "report.html").read_text()
    assert f"Day <strong>{broken_day.isoformat()}</strong> is incomplete (outcomes)" in report
