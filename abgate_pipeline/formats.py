"""Landing-file formats and the column mapping: which reader reads a file, and under which names
the contract's fields appear in it.

Every format is read by DuckDB into the same relation (`landed`: one row per record, every
contract field as text), and one validation (`sql/stage_*.sql`) types and checks it, whatever the
format. This module only decides which SQL files read a landing file and which names they look
up; it never touches a row.

Formats, by file name (case-insensitive; the first rule that matches wins):

- `*.otlp.json`, `*.otlp.jsonl`: OpenTelemetry traces in OTLP/JSON (inference logs only).
- `*.phoenix.parquet`, `trace_dataset-*.parquet`: an Arize Phoenix span export (inference logs
  only; `trace_dataset-<id>.parquet` is the name `px.TraceDataset.save()` writes).
- `*.parquet`: one row per record, the contract's column names.
- `*.csv`: RFC 4180 (comma-separated, `"` quotes) with a header row, the contract's column names.
- `*.jsonl`, `*.ndjson`, `*.json`: one JSON object per line.

Other files (`_SUCCESS`, `.crc`, ...) are ignored.
"""

from __future__ import annotations

import csv
import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from abgate_pipeline.config import ConfigError, read_yaml

INFERENCE_LOGS, OUTCOMES = "inference_logs", "outcomes"

# The contract's fields per landing dataset, in contract order (DESIGN.md §2).
CONTRACT_FIELDS: dict[str, tuple[str, ...]] = {
    INFERENCE_LOGS: (
        "request_id", "timestamp", "experiment_id", "variant", "unit_id", "correlation_key",
        "trace_id", "model", "prompt_version", "rag_index_version", "input_tokens",
        "output_tokens", "cost_usd", "latency_ms", "finish_reason", "status", "fallback",
        "refusal", "schema_valid", "prompt", "response",
    ),
    OUTCOMES: (
        "event_id", "correlation_key", "outcome", "value", "timestamp", "source", "unit_id",
    ),
}  # fmt: skip

# Span fields that come from the span itself (its ids and start/end times), never an attribute.
SPAN_OWN_FIELDS = ("timestamp", "latency_ms", "trace_id")

# Span attributes tried in order for a contract field, after `abgate.<field>` and `<field>` in the
# OpenInference `metadata` JSON: OTel GenAI semantic conventions (current names first, then the
# deprecated ones still emitted by older SDKs) and OpenInference names (Phoenix).
SPAN_CONVENTIONS: dict[str, tuple[str, ...]] = {
    "variant": ("feature_flag.result.variant", "feature_flag.variant"),
    "unit_id": ("user.id", "enduser.id"),
    "correlation_key": ("session.id", "gen_ai.conversation.id"),
    "model": (
        "gen_ai.response.model", "gen_ai.request.model",
        "llm.response.model_name", "llm.model_name", "llm.request.model_name",
    ),
    "prompt_version": ("llm.prompt_template.version",),
    "input_tokens": (
        "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt",
    ),
    "output_tokens": (
        "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens",
        "llm.token_count.completion",
    ),
    "cost_usd": ("gen_ai.usage.cost", "llm.cost.total"),
    "finish_reason": ("gen_ai.response.finish_reasons", "llm.finish_reason"),
    "prompt": ("gen_ai.input.messages", "gen_ai.prompt", "input.value"),
    "response": ("gen_ai.output.messages", "gen_ai.completion", "output.value"),
}  # fmt: skip

# Columns the table readers add to every source row (see sql/source_*.sql); never segments.
SOURCE_HELPER_COLUMNS = (
    "_abgate_source_file",
    "_abgate_line_number",
    "_abgate_raw",
    "_abgate_problem",
    "_abgate_no_segment",
)


class LandingError(ValueError):
    """A landing file cannot be read as the dataset its folder says it holds."""


@dataclass(frozen=True)
class LandingFormat:
    """One landing-file format: the file names it is recognised by and, per dataset it can hold,
    the SQL files that turn a batch of its files into the `landed` view."""

    name: str
    patterns: tuple[str, ...]  # lowercase file-name globs
    steps: Mapping[str, tuple[str, ...]]
    # Traces: only spans that are experiment requests become records; the rest are counted.
    is_traces: bool = False
    # DuckDB cannot keep rejected CSV lines (`store_rejects`) while merging headers across files
    # (`union_by_name`), so CSV files are read one at a time.
    one_file_per_batch: bool = False
    # The validation reads the day's records more than once. Columnar files and CSV (which its
    # reader loads into a table) are cheap to read again, so a day that is one such batch is
    # validated straight from its reader; the others (JSON parsing, span attribute lookups) are
    # landed in a table first.
    cheap_to_reread: bool = False
    # The reader is told the file's columns, read from its header line (csv_columns).
    named_by_header: bool = False

    def matches(self, file_name: str) -> bool:
        return any(fnmatch.fnmatchcase(file_name.lower(), p) for p in self.patterns)


FORMATS: tuple[LandingFormat, ...] = (
    LandingFormat(
        "otlp",
        ("*.otlp.json", "*.otlp.jsonl"),
        {INFERENCE_LOGS: ("text_files", "source_otlp", "landing_spans")},
        is_traces=True,
    ),
    LandingFormat(
        "phoenix",
        ("*.phoenix.parquet", "trace_dataset-*.parquet"),
        {INFERENCE_LOGS: ("source_phoenix", "landing_spans")},
        is_traces=True,
    ),
    LandingFormat(
        "parquet",
        ("*.parquet",),
        {ds: ("source_parquet", f"landing_table_{ds}") for ds in CONTRACT_FIELDS},
        cheap_to_reread=True,
    ),
    LandingFormat(
        "csv",
        ("*.csv",),
        {ds: ("source_csv", f"landing_table_{ds}") for ds in CONTRACT_FIELDS},
        one_file_per_batch=True,
        cheap_to_reread=True,
        named_by_header=True,
    ),
    LandingFormat(
        "jsonl",
        ("*.jsonl", "*.ndjson", "*.json"),
        {ds: ("text_files", "landing_jsonl_docs", f"landing_jsonl_{ds}") for ds in CONTRACT_FIELDS},
    ),
)


def detect_format(path: Path) -> LandingFormat | None:
    """The format a landing file is read as, by its name; None for files that are not data."""
    return next((fmt for fmt in FORMATS if fmt.matches(path.name)), None)


@dataclass(frozen=True)
class LandingBatch:
    """Files of one format that one pass of the readers turns into `landed`."""

    format: LandingFormat
    files: tuple[str, ...]


def landing_batches(folder: Path, dataset: str) -> list[LandingBatch]:
    """The day's landing files grouped into reader batches, in format order, files sorted so that
    row numbers (and which copy of a duplicate id wins) are reproducible."""
    by_format: dict[str, list[str]] = {}
    for path in sorted(p for p in folder.glob("*") if p.is_file()):
        fmt = detect_format(path)
        if fmt is None:
            continue
        if dataset not in fmt.steps:
            raise LandingError(
                f"{path}: {fmt.name} files hold inference logs only; "
                f"move it to the inference_logs/ landing folder"
            )
        by_format.setdefault(fmt.name, []).append(str(path))
    batches = []
    for fmt in FORMATS:
        files = by_format.get(fmt.name, [])
        if fmt.one_file_per_batch:
            batches += [LandingBatch(fmt, (f,)) for f in files]
        elif files:
            batches.append(LandingBatch(fmt, tuple(files)))
    return batches


@dataclass(frozen=True)
class ColumnMapping:
    """Where each contract field is found when a team's names differ (YAML `column_mapping:`).

    `columns[dataset]` maps a field to the column (Parquet, CSV) or key (JSONL) holding it;
    `span_attributes[format]` maps a field to the span attribute keys tried in order (OTLP,
    Phoenix). Fields not mentioned keep their defaults.
    """

    columns: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    span_attributes: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)

    def column_names(self, dataset: str) -> dict[str, str]:
        """Every contract field of the dataset -> the column or JSON key it is read from."""
        mapped = self.columns.get(dataset, {})
        return {f: mapped.get(f, f) for f in CONTRACT_FIELDS[dataset]}

    def attribute_keys(self, format_name: str) -> dict[str, tuple[str, ...]]:
        """Every attribute-borne contract field -> the span attribute keys tried, in order."""
        mapped = self.span_attributes.get(format_name, {})
        return {
            f: mapped.get(f, default_attribute_keys(f))
            for f in CONTRACT_FIELDS[INFERENCE_LOGS]
            if f not in SPAN_OWN_FIELDS
        }

    def reader_inputs(
        self, batch: LandingBatch, dataset: str, flag_keys: Mapping[str, str]
    ) -> dict[str, Any]:
        """The `$params` of sql/landing_inputs.sql and the format's readers for one batch."""
        columns = self.column_names(dataset)
        attributes = self.attribute_keys(batch.format.name)
        known_attributes = {k for f in attributes for k in default_attribute_keys(f)}
        header = (
            {"csv_columns": csv_columns(Path(batch.files[0]))}
            if batch.format.named_by_header
            else {}
        )
        return {
            **header,
            "files": list(batch.files),
            "columns": columns,
            "column_fields": [{"field": f, "column": c} for f, c in columns.items()],
            "expected_columns": dict.fromkeys(columns.values()),
            "consumed_columns": sorted(
                {c.lower() for c in columns.values()} | set(SOURCE_HELPER_COLUMNS)
            ),
            "attribute_keys": {f: list(keys) for f, keys in attributes.items()},
            "attribute_fields": [
                {"field": f, "keys": list(keys)} for f, keys in attributes.items()
            ],
            "consumed_attributes": sorted(
                {"metadata", *known_attributes, *(k for ks in attributes.values() for k in ks)}
            ),
            "flag_keys": [{"key": exp, "value": flag} for exp, flag in flag_keys.items()],
        }


# The longest CSV record the reader parses (sql/source_csv.sql: max_line_size); longer ones are
# quarantined, and a longer header line makes the file unreadable.
MAX_CSV_LINE_BYTES = 16 * 2**20


def csv_columns(path: Path) -> dict[str, str]:
    """The columns of a CSV landing file, from its header line, each read as text.

    DuckDB's CSV sniffer cannot be used for them: it gives up on a file with one unterminated
    quote (or guesses a dialect without quoting), so sql/source_csv.sql is told the dialect and
    these columns. The header is one line, parsed as RFC 4180 by the csv module (a UTF-8
    byte-order mark is dropped); names are deduplicated as DuckDB's sniffer does (`x`, `x_1`,
    ignoring case), and an empty one is `column<i>`. An empty file has one column and no rows.
    """
    with path.open("rb") as handle:
        line = handle.readline(MAX_CSV_LINE_BYTES + 1)
    if len(line) > MAX_CSV_LINE_BYTES:
        raise LandingError(f"{path}: the CSV header line is longer than {MAX_CSV_LINE_BYTES} bytes")
    try:
        text = line.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise LandingError(f"{path}: the CSV header line is not UTF-8 ({err})") from err
    names = next(csv.reader([text]), None) or [""]
    columns: dict[str, str] = {}
    for i, name in enumerate(names):
        unique, n = name or f"column{i}", 0
        while unique.lower() in {c.lower() for c in columns}:
            n += 1
            unique = f"{name or f'column{i}'}_{n}"
        columns[unique] = "VARCHAR"
    return columns


def default_attribute_keys(field_name: str) -> tuple[str, ...]:
    """`abgate.<field>`, then `metadata.<field>` (a key of the OpenInference `metadata` JSON),
    then the semantic conventions for the field."""
    return (
        f"abgate.{field_name}",
        f"metadata.{field_name}",
        *SPAN_CONVENTIONS.get(field_name, ()),
    )


_COLUMN_SECTIONS = (INFERENCE_LOGS, OUTCOMES)
_SPAN_SECTIONS = ("otlp", "phoenix")


def load_column_mapping(experiments_file: Path) -> ColumnMapping:
    """The `column_mapping:` section of the experiments YAML, validated; defaults when absent.

    Read here rather than by `config.load_experiments` (which ignores unknown top-level keys) so
    that a mapping mistake fails with the key that is wrong, before any file is read.
    """
    document = read_yaml(Path(experiments_file))
    raw = document.get("column_mapping") if isinstance(document, dict) else None
    return parse_column_mapping(raw, where=f"{experiments_file}: column_mapping")


def parse_column_mapping(raw: Any, where: str = "column_mapping") -> ColumnMapping:
    """Validate a `column_mapping` value (None means no mapping)."""
    if raw is None:
        return ColumnMapping()
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of sections, got {raw!r}")
    unknown = set(raw) - {*_COLUMN_SECTIONS, *_SPAN_SECTIONS}
    if unknown:
        raise ConfigError(
            f"{where}: unknown sections {sorted(unknown)}; "
            f"expected {[*_COLUMN_SECTIONS, *_SPAN_SECTIONS]}"
        )
    columns = {
        section: _column_section(raw[section], section, f"{where}.{section}")
        for section in _COLUMN_SECTIONS
        if raw.get(section) is not None
    }
    spans = {
        section: _span_section(raw[section], f"{where}.{section}")
        for section in _SPAN_SECTIONS
        if raw.get(section) is not None
    }
    return ColumnMapping(columns, spans)


def _section(raw: Any, fields: Iterable[str], where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected `field: name` pairs, got {raw!r}")
    allowed = tuple(fields)
    for key in raw:
        if key not in allowed:
            raise ConfigError(
                f"{where}.{key}: not a contract field here; expected one of {allowed}"
            )
    return raw


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected a non-empty name, got {value!r}")
    return value


def _column_section(raw: Any, dataset: str, where: str) -> dict[str, str]:
    """Field -> column; two fields may not read the same column (names compare like DuckDB's,
    ignoring case)."""
    section = {
        f: _name(v, f"{where}.{f}")
        for f, v in _section(raw, CONTRACT_FIELDS[dataset], where).items()
    }
    readers: dict[str, str] = {}
    for f in CONTRACT_FIELDS[dataset]:
        column = section.get(f, f).lower()
        if column in readers:
            raise ConfigError(
                f"{where}.{f}: column `{section.get(f, f)}` is already read as "
                f"`{readers[column]}`; map one of them to another column"
            )
        readers[column] = f
    return section


def _span_section(raw: Any, where: str) -> dict[str, tuple[str, ...]]:
    """Field -> attribute keys (one name or a list tried in order)."""
    for own in SPAN_OWN_FIELDS:
        if isinstance(raw, dict) and own in raw:
            raise ConfigError(
                f"{where}.{own}: comes from the span itself (its trace id, start and end "
                "times), not from an attribute"
            )
    section = {}
    for f, value in _section(raw, CONTRACT_FIELDS[INFERENCE_LOGS], where).items():
        names: Sequence[Any] = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names:
            raise ConfigError(f"{where}.{f}: expected an attribute key or a list of keys")
        section[f] = tuple(_name(n, f"{where}.{f}") for n in names)
    return section
