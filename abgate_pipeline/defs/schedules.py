"""The daily schedule: yesterday's partition of the whole gate, every morning (UTC)."""

from __future__ import annotations

from dagster import DefaultScheduleStatus, build_schedule_from_partitioned_job

from abgate_pipeline.defs.jobs import daily_gate_job

daily_gate_schedule = build_schedule_from_partitioned_job(
    daily_gate_job,
    name="daily_gate_schedule",
    hour_of_day=6,
    minute_of_hour=0,
    default_status=DefaultScheduleStatus.RUNNING,
    description="At 06:00 UTC, run the gate for the day that just ended.",
)
