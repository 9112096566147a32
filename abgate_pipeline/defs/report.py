"""Stage 5: the HTML decision report and decision.json per experiment and as-of day."""

import json
from datetime import date
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    asset,
)

from abgate_pipeline import warehouse
from abgate_pipeline.defs.decision import gate_decision
from abgate_pipeline.defs.partitions import daily_partitions
from abgate_pipeline.defs.resources import AbgateSettings, Warehouse
from abgate_pipeline.report import write_report


@asset(
    deps=[gate_decision],
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    group_name="decision",
    kinds={"html", "jinja"},
    owners=["team:abgate"],
    pool="warehouse",
)
def decision_report(
    context: AssetExecutionContext, settings: AbgateSettings, warehouse_db: Warehouse
) -> MaterializeResult:
    """The stakeholder report: `$ABGATE_REPORTS_DIR/<experiment>/<day>/report.html` with
    `decision.json` beside it and `<experiment>/latest.html`. Rendered with Jinja2, autoescaped;
    written atomically so a failed run never leaves a half-written report."""
    written = {}
    with warehouse_db.get_connection() as con:
        records = [
            json.loads(row.record)
            for day in context.partition_keys
            for row in warehouse.run(
                con, "decisions_for_day", as_of=date.fromisoformat(day)
            ).itertuples()
        ]
    for record in records:
        paths = write_report(record, Path(settings.reports_dir))
        written[record["experiment_id"]] = (record["as_of"], record["decision"], paths)
    return MaterializeResult(
        metadata={
            "reports": len(records),
            **{
                f"{exp_id}": MetadataValue.path(str(paths.html))
                for exp_id, (_, _, paths) in written.items()
            },
            "latest": MetadataValue.md(
                "\n".join(
                    f"- **{exp_id}** {as_of}: `{decision}` — [report](file://{paths.latest_html})"
                    for exp_id, (as_of, decision, paths) in written.items()
                )
            ),
        }
    )
