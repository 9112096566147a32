"""Jobs: the daily gate over every dated asset, and the flag promotion the sensor launches."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

from abgate_pipeline.defs.partitions import daily_partitions

daily_gate_job = define_asset_job(
    "daily_gate_job",
    selection=AssetSelection.groups("ingest", "experiment", "metrics", "decision"),
    partitions_def=daily_partitions,
    description="Ingest, join, metrics, verdict and report for the selected days (one run "
    "covers a range of days: the assets use single-run backfills).",
)

promotion_job = define_asset_job(
    "promotion_job",
    selection=AssetSelection.assets("feature_flag_promotion"),
    description="Apply a promote/rollback verdict to the experiment's feature flag.",
)
