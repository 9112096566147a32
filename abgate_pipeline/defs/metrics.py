"""Stage 3: metric frames (sufficient statistics), validated by a Great Expectations suite."""

import math
from datetime import date

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    asset,
)

from abgate_pipeline import warehouse
from abgate_pipeline.defs.experiment import experiment_table
from abgate_pipeline.defs.partitions import daily_partitions
from abgate_pipeline.defs.resources import AbgateSettings, Warehouse
from abgate_pipeline.quality import validate_metric_frames
from abgate_pipeline.stats import order_statistic_ranks

GX_CHECK = "metric_frames_expectations"


# Cells with fewer values are sorted whole (instantly); above it the 1 % sample holds enough
# values that its quantile, TAIL_MARGIN below the lowest wanted rank, is almost always below it.
TAIL_MIN_N = 100_000
TAIL_MARGIN = 0.02


def tail_threshold(n: int, first_rank: int, probs, sample_quantiles) -> float | None:
    """The value from which step 2 sorts a cell: the sample quantile at the largest grid
    probability at least TAIL_MARGIN below `first_rank / n`; None (sort the whole cell) for a
    small cell, an empty sample or no such probability. A wrong guess costs time, not accuracy
    (quantile_values.sql sorts the whole cell when too many values fall below it)."""
    if n < TAIL_MIN_N or sample_quantiles is None:
        return None
    limit = first_rank / n - TAIL_MARGIN
    below = [value for p, value in zip(probs, sample_quantiles, strict=True) if p <= limit]
    return float(below[-1]) if below else None


def quantile_ranks(counts: pd.DataFrame, alpha_by_experiment: dict[str, float]) -> pd.DataFrame:
    """The order-statistic ranks to fetch for each quantile group (estimate, CI low and high),
    and the threshold from which to sort."""
    rows = []
    for row in counts.itertuples(index=False):
        n = int(row.n)
        lo, hi = order_statistic_ranks(n, float(row.q), alpha_by_experiment[row.experiment_id])
        est = min(max(1, math.ceil(n * row.q)), n)
        threshold = tail_threshold(n, min(lo, est), row.sample_probs, row.sample_quantiles)
        rows.append(
            {
                **row._asdict(),
                "est_rank": est,
                "lo_rank": lo,
                "hi_rank": hi,
                "threshold": threshold,
            }
        )
    columns = ["experiment_id", "metric", "variant", "segment", "segment_value", "n", "q"]
    return pd.DataFrame(rows, columns=[*columns, "est_rank", "lo_rank", "hi_rank", "threshold"])


@asset(
    deps=[experiment_table],
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    check_specs=[
        AssetCheckSpec(
            name=GX_CHECK,
            asset="metric_frames",
            blocking=True,
            description="The Great Expectations suite over the metric frames (counts "
            "non-negative, sums of squares non-negative, known variants and kinds, quantile "
            "bounds ordered). Blocks the decision when it fails.",
        )
    ],
    group_name="metrics",
    kinds={"duckdb", "pandas", "great_expectations"},
    owners=["team:abgate"],
    pool="warehouse",
)
def metric_frames(
    context: AssetExecutionContext, settings: AbgateSettings, warehouse_db: Warehouse
):
    """Sufficient statistics per experiment x metric x variant x segment (n, sum, sum of squares,
    and the cross-products ratio metrics need; order statistics for quantiles), computed in
    DuckDB from the experiment table and stored in `metric_frames`. Python only ever sees
    these small frames."""
    experiments = settings.experiments()
    alphas = {e.id: e.alpha for e in experiments}
    frames = []
    with warehouse_db.get_connection() as con:
        warehouse.sync_config(con, experiments)
        for day in context.partition_keys:
            as_of = date.fromisoformat(day)
            sums = warehouse.run(con, "metric_frames", as_of=as_of)
            counts = warehouse.run(con, "quantile_counts", as_of=as_of)
            con.register("quantile_ranks", quantile_ranks(counts, alphas))
            quantiles = warehouse.run(con, "quantile_values", as_of=as_of)
            con.unregister("quantile_ranks")
            day_frame = pd.concat([sums, quantiles], ignore_index=True) if len(quantiles) else sums
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute("DELETE FROM metric_frames WHERE as_of = ?", [as_of])
                con.register("day_frame", day_frame)
                con.execute("INSERT INTO metric_frames BY NAME SELECT * FROM day_frame")
                con.unregister("day_frame")
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
            frames.append(day_frame)
    frame = pd.concat(frames, ignore_index=True)
    validation = validate_metric_frames(frame, experiments)
    overall = frame[frame["segment"] == "__all__"]
    yield MaterializeResult(
        metadata={
            "rows": len(frame),
            "metrics": int(overall["metric"].nunique()),
            "latest_overall": MetadataValue.md(
                overall[overall["as_of"] == overall["as_of"].max()]
                .drop(columns=["segment", "segment_value"])
                .to_markdown(index=False)
            ),
        }
    )
    yield AssetCheckResult(
        check_name=GX_CHECK,
        passed=validation.success,
        metadata={
            "expectations": validation.evaluated,
            "failed": MetadataValue.json(validation.failures),
        },
    )
