"""The code location loads, with every asset, check, job, schedule and sensor wired."""

from dagster import AssetKey

from abgate_pipeline.definitions import defs

ASSETS = {
    "raw_inference_logs",
    "outcome_extracts",
    "experiment_table",
    "metric_frames",
    "gate_decision",
    "decision_report",
    "feature_flag_promotion",
}


def test_definitions_load_with_all_assets():
    repo = defs.get_repository_def()
    repo.load_all_definitions()
    assert {k.to_user_string() for k in defs.resolve_all_asset_keys()} == ASSETS


def test_checks_are_declared_and_ingest_checks_block():
    graph = defs.resolve_asset_graph()
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert ("experiment_table", "sample_ratio_mismatch") in checks
    assert ("experiment_table", "one_variant_per_unit") in checks
    assert ("experiment_table", "known_variants_only") in checks
    assert ("raw_inference_logs", "required_columns_and_types") in checks
    assert ("metric_frames", "metric_frames_expectations") in checks
    blocking = {
        (spec.asset_key.to_user_string(), spec.name)
        for assets_def in graph.assets_defs
        for spec in assets_def.check_specs
        if spec.blocking
    }
    assert ("raw_inference_logs", "required_columns_and_types") in blocking
    assert ("metric_frames", "metric_frames_expectations") in blocking


def test_jobs_schedule_and_sensor():
    assert defs.resolve_job_def("daily_gate_job").partitions_def is not None
    assert defs.resolve_job_def("promotion_job")
    assert defs.resolve_schedule_def("daily_gate_schedule").job_name == "daily_gate_job"
    assert defs.resolve_sensor_def("gate_sensor").job_name == "promotion_job"
    assert defs.resolve_sensor_def("late_data_sensor").job_name == "daily_gate_job"


def test_dated_assets_share_daily_partitions():
    graph = defs.resolve_asset_graph()
    for name in ASSETS - {"feature_flag_promotion"}:
        node = graph.get(AssetKey(name))
        assert node.partitions_def is not None, name
        # The support experiment starts 2026-11-01 and reads a 14-day pre-period before it.
        assert node.partitions_def.get_first_partition_key() == "2026-10-18"
