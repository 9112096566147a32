"""The abgate code location (loaded by `dg dev` / `dagster dev` via workspace.yaml)."""

from __future__ import annotations

from dagster import Definitions, in_process_executor

from abgate_pipeline.config import Settings
from abgate_pipeline.defs.decision import gate_decision
from abgate_pipeline.defs.experiment import experiment_table
from abgate_pipeline.defs.ingest import outcome_extracts, raw_inference_logs
from abgate_pipeline.defs.jobs import daily_gate_job, promotion_job
from abgate_pipeline.defs.metrics import metric_frames
from abgate_pipeline.defs.promotion import feature_flag_promotion
from abgate_pipeline.defs.report import decision_report
from abgate_pipeline.defs.resources import AbgateSettings, Warehouse
from abgate_pipeline.defs.schedules import daily_gate_schedule
from abgate_pipeline.defs.sensors import gate_sensor, late_data_sensor


def build_definitions(settings: Settings | None = None) -> Definitions:
    """The Definitions for the given settings (default: the ABGATE_* environment)."""
    settings = settings or Settings.from_env()
    return Definitions(
        assets=[
            raw_inference_logs,
            outcome_extracts,
            experiment_table,
            metric_frames,
            gate_decision,
            decision_report,
            feature_flag_promotion,
        ],
        jobs=[daily_gate_job, promotion_job],
        schedules=[daily_gate_schedule],
        sensors=[gate_sensor, late_data_sensor],
        resources={
            "settings": AbgateSettings.from_settings(settings),
            "warehouse_db": Warehouse(database=str(settings.warehouse)),
        },
        # Steps share one DuckDB writer and run one after another anyway; running them in the
        # run's own process avoids re-importing the stack for every step.
        executor=in_process_executor,
    )


defs = build_definitions()
