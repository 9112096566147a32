"""The daily partitions every dated asset shares, and how a day maps onto the days before it."""

from __future__ import annotations

import os

from dagster import DailyPartitionsDefinition, TimeWindowPartitionMapping

from abgate_pipeline.config import Settings, load_experiments

HISTORY_DAYS = 366


def _first_day() -> str:
    """The earliest day any experiment reads (its start less its pre-period), or
    ABGATE_PARTITIONS_START, as YYYY-MM-DD."""
    override = os.environ.get("ABGATE_PARTITIONS_START", "").strip()
    if override:
        return override
    experiments = load_experiments(Settings.from_env().experiments_file)
    return min(e.first_day for e in experiments).isoformat()


daily_partitions = DailyPartitionsDefinition(start_date=_first_day(), timezone="UTC")

# An as-of day reads every landing day up to and including itself (and none after): a late
# partition upstream makes exactly the as-of days from it onwards stale.
up_to_as_of = TimeWindowPartitionMapping(
    start_offset=-HISTORY_DAYS, end_offset=0, allow_nonexistent_upstream_partitions=True
)
