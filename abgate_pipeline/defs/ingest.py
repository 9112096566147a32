"""Stage 1: landing files -> typed, redacted warehouse rows; bad rows go to quarantine."""

from collections import Counter
from datetime import date
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    BackfillPolicy,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from abgate_pipeline import warehouse
from abgate_pipeline.defs.partitions import daily_partitions
from abgate_pipeline.defs.resources import AbgateSettings, Warehouse

LANDING_PATTERNS = ("*.jsonl", "*.ndjson", "*.json")

# What the later stages rely on: warehouse column -> DuckDB type.
REQUIRED_COLUMNS = {
    "inference_logs": {
        "partition_date": "DATE",
        "request_id": "VARCHAR",
        "ts": "TIMESTAMP",
        "experiment_id": "VARCHAR",
        "variant": "VARCHAR",
        "unit_id": "VARCHAR",
        "correlation_key": "VARCHAR",
        "input_tokens": "BIGINT",
        "output_tokens": "BIGINT",
        "cost_usd": "DOUBLE",
        "latency_ms": "DOUBLE",
        "fallback": "BOOLEAN",
        "refusal": "BOOLEAN",
        "schema_valid": "BOOLEAN",
    },
    "outcome_events": {
        "partition_date": "DATE",
        "event_id": "VARCHAR",
        "correlation_key": "VARCHAR",
        "outcome": "VARCHAR",
        "value": "DOUBLE",
        "ts": "TIMESTAMP",
    },
}
CHECK_NAME = "required_columns_and_types"


def landing_files(landing_dir: Path, dataset: str, day: str) -> list[str]:
    """One dataset's landing files for one day, sorted so line numbers are reproducible."""
    folder = landing_dir / dataset / day
    return sorted({str(p) for pattern in LANDING_PATTERNS for p in folder.glob(pattern)})


def _ingest(
    context: AssetExecutionContext,
    settings: AbgateSettings,
    db: Warehouse,
    *,
    folder: str,
    table: str,
    script: str,
):
    """Stage every day of the run's partitions, each replacing that day's rows atomically."""
    fates: Counter[str] = Counter()
    stored = quarantined = empty_keys = 0
    per_day: list[str] = []
    with db.get_connection() as con:
        settings.register_redaction(con)
        warehouse.sync_config(con, settings.experiments())
        for day in context.partition_keys:
            files = landing_files(Path(settings.landing_dir), folder, day)
            partition_date = date.fromisoformat(day)
            con.execute("BEGIN TRANSACTION")
            try:
                warehouse.run(con, script, files=files, partition_date=partition_date)
                counts = warehouse.run(con, "staged_counts")
                facts = warehouse.run(con, "partition_facts", partition_date=partition_date)
                day_fates = dict(zip(counts["fate"], counts["n"].astype(int), strict=True))
                day_stored = int(facts[f"{folder}_rows"][0])
                day_quarantined = int(facts[f"{folder}_quarantined"][0])
                if sum(day_fates.values()) != day_stored + day_quarantined:
                    raise Failure(
                        f"{table} {day}: read {sum(day_fates.values())} rows but stored "
                        f"{day_stored} + quarantined {day_quarantined}; nothing was written"
                    )
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
            fates.update(day_fates)
            stored, quarantined = stored + day_stored, quarantined + day_quarantined
            empty_keys += int(facts[f"{folder}_empty_keys"][0])
            per_day.append(
                f"| {day} | {len(files)} | {sum(day_fates.values())} | {day_stored} "
                f"| {day_quarantined} |"
            )
            context.log.info(f"{table} {day}: {len(files)} files, {day_fates}")
        schema = warehouse.run(con, "table_schema")

    read = sum(fates.values())
    reasons = {k: v for k, v in fates.items() if k != "accepted"}
    yield MaterializeResult(
        metadata={
            "rows_read": read,
            "rows_accepted": stored,
            "rows_quarantined": quarantined,
            "reconciles": read == stored + quarantined,
            "quarantine_reasons": MetadataValue.json(reasons),
            "per_day": MetadataValue.md(
                "| day | files | lines read | stored | quarantined |\n|---|---|---|---|---|\n"
                + "\n".join(per_day)
            ),
            "warehouse_table": table,
        }
    )
    yield _required_columns_check(table, schema, empty_keys)


def _required_columns_check(table: str, schema, empty_keys: int) -> AssetCheckResult:
    """The warehouse table has the columns and types later stages read, and no empty keys."""
    actual = {
        row.column_name: row.data_type for row in schema.itertuples() if row.table_name == table
    }
    wrong = {
        col: f"expected {typ}, found {actual.get(col, 'missing')}"
        for col, typ in REQUIRED_COLUMNS[table].items()
        if actual.get(col) != typ
    }
    return AssetCheckResult(
        check_name=CHECK_NAME,
        passed=not wrong and empty_keys == 0,
        metadata={
            "wrong_columns": MetadataValue.json(wrong),
            "rows_with_empty_keys": empty_keys,
        },
        description=(
            "columns and types as the contract requires"
            if not wrong and empty_keys == 0
            else f"{len(wrong)} wrong columns, {empty_keys} rows with empty keys"
        ),
    )


def _check_spec(asset_name: str) -> AssetCheckSpec:
    return AssetCheckSpec(
        name=CHECK_NAME,
        asset=asset_name,
        blocking=True,
        description="Required columns with the contract's types and no empty key fields; "
        "blocks everything downstream when it fails.",
    )


COMMON = {
    "partitions_def": daily_partitions,
    "backfill_policy": BackfillPolicy.single_run(),
    "group_name": "ingest",
    "owners": ["team:abgate"],
    "pool": "warehouse",
}


@asset(kinds={"duckdb", "json"}, check_specs=[_check_spec("raw_inference_logs")], **COMMON)
def raw_inference_logs(
    context: AssetExecutionContext, settings: AbgateSettings, warehouse_db: Warehouse
):
    """LLM inference logs of one landing day (`$ABGATE_LANDING_DIR/inference_logs/<day>/`), parsed
    in DuckDB into the `inference_logs` table: typed, prompts and responses redacted, one row per
    request. Malformed lines (bad JSON, missing keys, wrong types, unknown variants, timestamps
    outside the day, duplicate request_ids) go to `quarantine` with the reason; rows read = rows
    accepted + rows quarantined. Re-running a day replaces that day."""
    yield from _ingest(
        context,
        settings,
        warehouse_db,
        folder="inference_logs",
        table="inference_logs",
        script="stage_inference_logs",
    )


@asset(kinds={"duckdb", "json"}, check_specs=[_check_spec("outcome_extracts")], **COMMON)
def outcome_extracts(
    context: AssetExecutionContext, settings: AbgateSettings, warehouse_db: Warehouse
):
    """Business outcome events that arrived on one day (`$ABGATE_LANDING_DIR/outcomes/<day>/`), e.g.
    ticket resolved, lead qualified, CSAT; parsed in DuckDB into `outcome_events`. Malformed rows
    and duplicate event_ids go to `quarantine` with the reason. Re-running a day replaces it."""
    yield from _ingest(
        context,
        settings,
        warehouse_db,
        folder="outcomes",
        table="outcome_events",
        script="stage_outcomes",
    )
