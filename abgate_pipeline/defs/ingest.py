"""Stage 1: landing files -> typed, redacted warehouse rows; bad rows go to quarantine."""

from collections import Counter
from collections.abc import Collection
from contextlib import contextmanager
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
from abgate_pipeline.formats import (
    ColumnMapping,
    LandingBatch,
    LandingError,
    landing_batches,
    load_column_mapping,
)

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
# How much of a reader's error is kept for a file that cannot be read (its first line).
MAX_ERROR_CHARS = 500


@dataclass
class _DayLanded:
    """What one landing day's readers saw: files per format, spans that were not requests and blank
    lines, none of which are records; and the batch validated straight from its reader, if any."""

    files_by_format: Counter[str] = field(default_factory=Counter)
    spans_skipped: int = 0
    blank_lines: int = 0
    direct_batch: LandingBatch | None = None


class _UnreadableBatch(Exception):
    """Reading a batch of landing files failed; which of its files cannot be read is found by
    reading each on its own (_unreadable_files)."""

    def __init__(self, batch: LandingBatch):
        super().__init__(f"cannot read {len(batch.files)} {batch.format.name} files")
        self.batch = batch


@contextmanager
def _reading(batch: LandingBatch | None):
    """A reader's failure (DuckDB's, or a CSV header's) while `batch` is read, as _UnreadableBatch.
    With no batch (the day's records are already landed), errors pass as they are."""
    try:
        yield
    except (duckdb.Error, LandingError) as err:
        if batch is None:
            raise
        raise _UnreadableBatch(batch) from err


def _land_day(
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    dataset: str,
    mapping: ColumnMapping,
    flag_keys: dict[str, str],
    unreadable: Collection[str] = (),
) -> _DayLanded:
    """Run the readers of every batch of the day's landing files, making `landed_rows`; files in
    `unreadable` are left out.

    Each format's SQL defines the `landed` view over its files (formats.py says which files and
    SQL), with the same columns whatever the format, so one validation (stage_*.sql) serves them
    all. Batches are collected in a table; a lone batch of a format that is cheap to read again
    (Parquet, CSV) is validated straight from its reader, which saves copying every record once:
    that batch is read while the day is validated (`direct_batch`).
    """
    landed = _DayLanded()
    batches = [
        LandingBatch(b.format, files)
        for b in landing_batches(folder, dataset)
        if (files := tuple(f for f in b.files if f not in unreadable))
    ]
    direct = len(batches) == 1 and batches[0].format.cheap_to_reread
    if not direct:
        warehouse.run(con, f"landed_{dataset}")
    for batch in batches:
        with _reading(batch):
            _read_batch(con, batch, dataset, mapping, flag_keys, direct)
            if batch.format.is_traces:
                landed.spans_skipped += int(warehouse.run(con, "span_counts")["spans_skipped"][0])
        landed.files_by_format[batch.format.name] += len(batch.files)
    if direct:
        landed.direct_batch = batches[0]
    else:
        landed.blank_lines = int(warehouse.run(con, "blank_lines")["blank_lines"][0])
    return landed


def _read_batch(
    con: duckdb.DuckDBPyConnection,
    batch: LandingBatch,
    dataset: str,
    mapping: ColumnMapping,
    flag_keys: dict[str, str],
    direct: bool,
) -> None:
    """The readers of one batch: its `landed` view, then landed_rows (direct) or landed_batches."""
    inputs = mapping.reader_inputs(batch, dataset, flag_keys)
    warehouse.run(con, "landing_inputs", **inputs)
    for step in batch.format.steps[dataset]:
        warehouse.run(con, step, **inputs)
    warehouse.run(con, "landing_direct" if direct else "landing_append")


def _unreadable_files(
    con: duckdb.DuckDBPyConnection,
    batch: LandingBatch,
    dataset: str,
    mapping: ColumnMapping,
    flag_keys: dict[str, str],
) -> dict[str, str]:
    """The files of a batch that failed to read which fail when read on their own, with the first
    line of the reader's error. Each is read in full (landed into a table) in a transaction that
    is rolled back, so nothing of it stays."""
    failed = {}
    for path in batch.files:
        con.execute("BEGIN TRANSACTION")
        try:
            warehouse.run(con, f"landed_{dataset}")
            _read_batch(
                con, LandingBatch(batch.format, (path,)), dataset, mapping, flag_keys, False
            )
        except (duckdb.Error, LandingError) as err:
            failed[path] = str(err).strip().splitlines()[0][:MAX_ERROR_CHARS]
        finally:
            con.execute("ROLLBACK")
    return failed


@dataclass
class _DayStored:
    """What staging one landing day wrote: the fate of every record read, the rows stored and
    quarantined, and the files that could not be read (their errors redacted, as stored)."""

    landed: _DayLanded
    fates: dict[str, int]
    stored: int
    quarantined: int
    empty_keys: int
    unreadable: list[dict[str, str]]


def _store_day(
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    dataset: str,
    script: str,
    partition_date: date,
    mapping: ColumnMapping,
    flag_keys: dict[str, str],
    unreadable: dict[str, str],
) -> _DayStored:
    """Land, validate and store one day, inside the caller's transaction, leaving out (and
    recording in quarantined_files) the files in `unreadable`."""
    landed = _land_day(con, folder, dataset, mapping, flag_keys, unreadable)
    with _reading(landed.direct_batch):
        warehouse.run(con, script, partition_date=partition_date)
    files = warehouse.run(
        con,
        "store_quarantined_files",
        dataset=dataset,
        partition_date=partition_date,
        files=[{"source_file": f, "error": e} for f, e in sorted(unreadable.items())],
    )
    counts = warehouse.run(con, "staged_counts")
    facts = warehouse.run(con, "partition_facts", partition_date=partition_date)
    day = _DayStored(
        landed=landed,
        fates=dict(zip(counts["fate"], counts["n"].astype(int), strict=True)),
        stored=int(facts[f"{dataset}_rows"][0]),
        quarantined=int(facts[f"{dataset}_quarantined"][0]),
        empty_keys=int(facts[f"{dataset}_empty_keys"][0]),
        unreadable=files.to_dict("records"),
    )
    if sum(day.fates.values()) != day.stored + day.quarantined:
        raise Failure(
            f"{dataset} {partition_date}: read {sum(day.fates.values())} rows but stored "
            f"{day.stored} + quarantined {day.quarantined}; nothing was written"
        )
    return day


def _ingest_day(
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    dataset: str,
    script: str,
    partition_date: date,
    mapping: ColumnMapping,
    flag_keys: dict[str, str],
) -> _DayStored:
    """Store one landing day in one transaction. When a batch of its files fails to read, the day
    is rolled back, each file of that batch is read on its own, and the day is stored again
    without the files that fail alone: a corrupt file costs itself, not the day. A failure that
    no single file explains fails the day, and nothing of it is written."""
    unreadable: dict[str, str] = {}
    while True:
        con.execute("BEGIN TRANSACTION")
        try:
            day = _store_day(
                con, folder, dataset, script, partition_date, mapping, flag_keys, unreadable
            )
            con.execute("COMMIT")
            return day
        except _UnreadableBatch as err:
            con.execute("ROLLBACK")
            failed = _unreadable_files(con, err.batch, dataset, mapping, flag_keys)
            if not failed:
                raise err.__cause__ from None
            unreadable |= failed
        except BaseException:
            con.execute("ROLLBACK")
            raise


def _ingest(
    context: AssetExecutionContext,
    settings: AbgateSettings,
    db: Warehouse,
    *,
    folder: str,
    table: str,
    script: str,
):
    """Stage every day of the run's partitions, each replacing that day's rows atomically. A day
    with files that could not be read is stored without them and reported incomplete."""
    fates: Counter[str] = Counter()
    formats: Counter[str] = Counter()
    stored = quarantined = empty_keys = skipped = blank = 0
    per_day: list[str] = []
    incomplete: dict[str, list[dict[str, str]]] = {}
    experiments = settings.experiments()
    mapping = load_column_mapping(Path(settings.experiments_file))
    flag_keys = {exp.id: exp.flag_key for exp in experiments}
    with db.get_connection() as con:
        settings.register_redaction(con)
        warehouse.sync_config(con, experiments)
        warehouse.run(con, "landing_macros")
        for day in context.partition_keys:
            done = _ingest_day(
                con,
                Path(settings.landing_dir) / folder / day,
                folder,
                script,
                date.fromisoformat(day),
                mapping,
                flag_keys,
            )
            landed = done.landed
            fates.update(done.fates)
            formats.update(landed.files_by_format)
            stored, quarantined = stored + done.stored, quarantined + done.quarantined
            skipped += landed.spans_skipped
            blank += landed.blank_lines
            empty_keys += done.empty_keys
            if done.unreadable:
                incomplete[day] = [
                    {"file": f["source_file"], "error": f["error"]} for f in done.unreadable
                ]
                context.log.warning(
                    f"{table} {day} is incomplete: {len(done.unreadable)} files could not be "
                    f"read: {incomplete[day]}"
                )
            day_files = sum(landed.files_by_format.values())
            per_day.append(
                f"| {day} | {day_files} | {sum(done.fates.values())} | {done.stored} "
                f"| {done.quarantined} | {landed.spans_skipped} | {landed.blank_lines} "
                f"| {len(done.unreadable)} |"
            )
            context.log.info(
                f"{table} {day}: {dict(landed.files_by_format)} files, {done.fates}, "
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
            # days stored without files that could not be read: {day: [{file, error}]}
            "incomplete_days": MetadataValue.json(incomplete),
            "per_day": MetadataValue.md(
                "| day | files read | records read | stored | quarantined | spans skipped "
                "| blank lines | files unreadable |\n"
                "|---|---|---|---|---|---|---|---|\n" + "\n".join(per_day)
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
    records (bad JSON or CSV, bytes that are not UTF-8, missing keys, wrong types, values out of
    range, unknown variants, timestamps outside the day, duplicate request_ids) go to `quarantine`
    with the reason; records read = accepted + quarantined. Trace spans that are not experiment
    requests and blank lines are only counted (spans_skipped, blank_lines). A file that cannot be
    read at all goes to `quarantined_files` and its day is stored without it, marked incomplete
    (incomplete_days). Re-running a day replaces that day."""
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
    `outcome_events`. Malformed records, values out of range and duplicate event_ids go to
    `quarantine` with the reason; unreadable files to `quarantined_files` (the day is marked
    incomplete). Re-running a day replaces it."""
    yield from _ingest(
        context,
        settings,
        warehouse_db,
        folder="outcomes",
        table="outcome_events",
        script="stage_outcomes",
    )
