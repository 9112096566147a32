"""Stage 1: landing files -> typed, redacted warehouse rows; bad rows go to quarantine."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
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
from abgate_pipeline.formats import ColumnMapping, landing_batches, load_column_mapping

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


@dataclass
class _DayLanded:
    """What one landing day's readers saw: files per format, spans that were not requests and blank
    lines, none of which are records."""

    files_by_format: Counter[str] = field(default_factory=Counter)
    spans_skipped: int = 0
    blank_lines: int = 0


def _land_day(
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    dataset: str,
    mapping: ColumnMapping,
    flag_keys: dict[str, str],
) -> _DayLanded:
    """Run the readers of every batch of the day's landing files, making `landed_rows`.

    Each format's SQL defines the `landed` view over its files (formats.py says which files and
    SQL), with the same columns whatever the format, so one validation (stage_*.sql) serves them
    all. Batches are collected in a table; a lone batch of a format that is cheap to read again
    (Parquet, CSV) is validated straight from its reader, which saves copying every record once.
    """
    landed = _DayLanded()
    batches = landing_batches(folder, dataset)
    direct = len(batches) == 1 and batches[0].format.cheap_to_reread
    if not direct:
        warehouse.run(con, f"landed_{dataset}")
    for batch in batches:
        inputs = mapping.reader_inputs(batch, dataset, flag_keys)
        warehouse.run(con, "landing_inputs", **inputs)
        for step in batch.format.steps[dataset]:
            warehouse.run(con, step, **inputs)
        warehouse.run(con, "landing_direct" if direct else "landing_append")
        landed.files_by_format[batch.format.name] += len(batch.files)
        if batch.format.is_traces:
            landed.spans_skipped += int(warehouse.run(con, "span_counts")["spans_skipped"][0])
    if not direct:
        landed.blank_lines = int(warehouse.run(con, "blank_lines")["blank_lines"][0])
    return landed


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
    formats: Counter[str] = Counter()
    stored = quarantined = empty_keys = skipped = blank = 0
    per_day: list[str] = []
    experiments = settings.experiments()
    mapping = load_column_mapping(Path(settings.experiments_file))
    flag_keys = {exp.id: exp.flag_key for exp in experiments}
    with db.get_connection() as con:
        settings.register_redaction(con)
        warehouse.sync_config(con, experiments)
        warehouse.run(con, "landing_macros")
        for day in context.partition_keys:
            partition_date = date.fromisoformat(day)
            con.execute("BEGIN TRANSACTION")
            try:
                landed = _land_day(
                    con, Path(settings.landing_dir) / folder / day, folder, mapping, flag_keys
                )
                warehouse.run(con, script, partition_date=partition_date)
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
            formats.update(landed.files_by_format)
            stored, quarantined = stored + day_stored, quarantined + day_quarantined
            skipped += landed.spans_skipped
            blank += landed.blank_lines
            empty_keys += int(facts[f"{folder}_empty_keys"][0])
            day_files = sum(landed.files_by_format.values())
            per_day.append(
                f"| {day} | {day_files} | {sum(day_fates.values())} | {day_stored} "
                f"| {day_quarantined} | {landed.spans_skipped} | {landed.blank_lines} |"
            )
            context.log.info(
                f"{table} {day}: {dict(landed.files_by_format)} files, {day_fates}, "
                f"{landed.spans_skipped} spans skipped, {landed.blank_lines} blank lines"
            )
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
            "files_by_format": MetadataValue.json(dict(formats)),
            "spans_skipped": skipped,
            "blank_lines": blank,
            "per_day": MetadataValue.md(
                "| day | files | records read | stored | quarantined | spans skipped | blank lines |\n"
                "|---|---|---|---|---|---|---|\n" + "\n".join(per_day)
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
    """LLM inference logs of one landing day (`$ABGATE_LANDING_DIR/inference_logs/<day>/`: JSONL,
    CSV, Parquet, OTLP/JSON traces, Phoenix span exports), parsed in DuckDB into the
    `inference_logs` table: typed, prompts and responses redacted, one row per request. Malformed
    records (bad JSON or CSV, missing keys, wrong types, unknown variants, timestamps outside the
    day, duplicate request_ids) go to `quarantine` with the reason; records read = accepted +
    quarantined. Trace spans that are not experiment requests are only counted (spans_skipped).
    Re-running a day replaces that day."""
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
    """Business outcome events that arrived on one day (`$ABGATE_LANDING_DIR/outcomes/<day>/`:
    JSONL, CSV, Parquet), e.g. ticket resolved, lead qualified, CSAT; parsed in DuckDB into
    `outcome_events`. Malformed records and duplicate event_ids go to `quarantine` with the
    reason. Re-running a day replaces it."""
    yield from _ingest(
        context,
        settings,
        warehouse_db,
        folder="outcomes",
        table="outcome_events",
        script="stage_outcomes",
    )
