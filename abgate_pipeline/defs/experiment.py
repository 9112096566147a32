"""Stage 2: the experiment table, joined and aggregated to the randomization unit in DuckDB."""

import json
from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetDep,
    AssetExecutionContext,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    asset,
)

from abgate_pipeline import warehouse
from abgate_pipeline.decision import integrity_checks
from abgate_pipeline.defs.ingest import outcome_extracts, raw_inference_logs
from abgate_pipeline.defs.partitions import daily_partitions, up_to_as_of
from abgate_pipeline.defs.resources import AbgateSettings, Warehouse

INTEGRITY_CHECKS = {
    "known_variants_only": "Every variant in the experiment table is configured.",
    "one_variant_per_unit": "Each randomization unit was served exactly one variant.",
    "sample_ratio_mismatch": "Units per variant match the split the flag serves in the current "
    "phase, the configured allocation until the flag first changes (chi-square goodness of fit, "
    "fails at p < 0.001).",
}
BLOCKS = (
    " A failure blocks promotion: the gate marks the experiment `invalid` (the report says why) "
    "and the sensor refuses to move its flag."
)


@dataclass(frozen=True)
class Phase:
    """An experiment's analysis phase at an as-of day: when it began (the experiment start or
    the last flag change) and the split the flag has served since (None: the configured
    allocation, nothing has changed the flag yet)."""

    start: pd.Timestamp
    served: dict[str, float] | None


def experiment_phases(con: duckdb.DuckDBPyConnection, as_of: date) -> dict[str, Phase]:
    """Every configured experiment's phase as of the end of `as_of` (`sql/experiment_phase.sql`),
    read the same way by the integrity checks here and by the decision."""
    rows = warehouse.run(con, "experiment_phase", as_of=as_of)
    return {
        row.experiment_id: Phase(row.phase_start, json.loads(row.weights) if row.weights else None)
        for row in rows.itertuples()
    }


@asset(
    deps=[
        AssetDep(raw_inference_logs, partition_mapping=up_to_as_of),
        AssetDep(outcome_extracts, partition_mapping=up_to_as_of),
    ],
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    check_specs=[
        AssetCheckSpec(name=name, asset="experiment_table", description=text + BLOCKS)
        for name, text in INTEGRITY_CHECKS.items()
    ],
    group_name="experiment",
    kinds={"duckdb", "sql"},
    owners=["team:abgate"],
    pool="warehouse",
)
def experiment_table(
    context: AssetExecutionContext, settings: AbgateSettings, warehouse_db: Warehouse
):
    """Every configured experiment as of the end of the partition day: requests from the
    experiment's start joined to outcome events by `correlation_key` inside the attribution
    window (`sql/experiment_table.sql`), aggregated to the randomization unit in
    `experiment_units` and `experiment_unit_values`. A correlation key whose window has not
    closed yet is left out of outcome metrics rather than counted as a failure."""
    experiments = settings.experiments()
    summary, failures = [], {name: [] for name in INTEGRITY_CHECKS}
    with warehouse_db.get_connection() as con:
        warehouse.sync_config(con, experiments)
        for day in context.partition_keys:
            as_of = date.fromisoformat(day)
            con.execute("BEGIN TRANSACTION")
            try:
                warehouse.run(con, "experiment_table", as_of=as_of)
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
            facts = warehouse.run(con, "experiment_checks", as_of=as_of)
            phases = experiment_phases(con, as_of)
            for exp in experiments:
                exp_facts = facts[facts["experiment_id"] == exp.id]
                checks, _ = integrity_checks(exp, exp_facts, phases[exp.id].served)
                for check in checks:
                    if not check.passed:
                        failures[check.name].append(f"{day} {exp.id}: {check.description}")
                units = exp_facts.groupby("variant")["units"].sum().to_dict()
                summary.append(
                    f"| {day} | {exp.id} | {units} | {int(exp_facts['immature_units'].sum())} |"
                )
    yield MaterializeResult(
        metadata={
            "units": MetadataValue.md(
                "| as of | experiment | units per variant | units not yet mature |\n"
                "|---|---|---|---|\n" + "\n".join(summary)
            ),
            "experiments": len(experiments),
        }
    )
    for name, failed in failures.items():
        yield AssetCheckResult(
            check_name=name,
            passed=not failed,
            severity=AssetCheckSeverity.ERROR,
            description="; ".join(failed[:5]) if failed else INTEGRITY_CHECKS[name],
            metadata={"failures": MetadataValue.json(failed)},
        )
