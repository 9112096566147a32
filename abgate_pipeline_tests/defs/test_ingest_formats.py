"""Every landing format lands the same warehouse rows as JSONL, through the Dagster ingest assets.

One small dataset is written as JSONL, CSV, Parquet, OTLP/JSON traces (several encodings and
generations of the OTel GenAI conventions) and Phoenix span exports, one landing day per format,
each with a few malformed records; one run ingests every day. Traces are built the way their
producers write them: OTLP/JSON `ExportTraceServiceRequest` (resourceSpans -> scopeSpans -> spans,
attributes as `{key, value: AnyValue}`), and Phoenix's `get_spans_dataframe()` columns
(`context.span_id`, `attributes.llm.model_name`, ..., `attributes.metadata`).
"""

from __future__ import annotations

import base64
import csv
import json
import re
import shutil
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from dagster import DagsterInstance, materialize
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from abgate_pipeline.config import DEMO_EXPERIMENTS, ConfigError
from abgate_pipeline.defs.ingest import outcome_extracts, raw_inference_logs
from abgate_pipeline.defs.resources import AbgateSettings, Warehouse
from abgate_pipeline.formats import detect_format, load_column_mapping, parse_column_mapping
from abgate_pipeline_tests.conftest import make_settings

SUPPORT, SALES = "support-bot-model-upgrade", "sales-assistant-cheaper-model"
EMAIL, PHONE = "jane.doe@example.com", "+44 20 7946 0958"
FIRST_DAY = date(2026, 11, 3)

# The inference logs every format carries: (seconds into the day, fields).
REQUESTS = [
    (
        36_000.125,
        {
            "request_id": "a1b2c3d4e5f60001", "experiment_id": SUPPORT, "variant": "champion",
            "unit_id": "cust-1", "correlation_key": "ZD-1",
            "trace_id": "0af7651916cd43dd8448eb211c80319c", "model": "helix-m-2026-06",
            "prompt_version": "support-v7", "input_tokens": 788, "output_tokens": 289,
            "cost_usd": 0.0008275, "latency_ms": 724.0, "finish_reason": "stop", "status": "ok",
            "fallback": False, "refusal": False, "schema_valid": True,
            "prompt": f"I am {EMAIL}, my calendar sync fails", "response": "Reconnect it.",
            "query_type": "technical",
        },
    ),
    (
        36_060.5,
        {
            "request_id": "a1b2c3d4e5f60002", "experiment_id": SUPPORT, "variant": "challenger",
            "unit_id": "cust-2", "correlation_key": "ZD-2",
            "trace_id": "1af7651916cd43dd8448eb211c80319c", "model": "helix-l-2026-10",
            "prompt_version": "support-v7", "input_tokens": 512, "output_tokens": 100,
            "cost_usd": 0.0012, "latency_ms": 1310.5, "finish_reason": "length",
            "status": "error", "fallback": True, "refusal": False, "schema_valid": False,
            "prompt": f"Call me on {PHONE}", "response": "Sure.", "query_type": "billing",
        },
    ),
    (
        40_000.0,
        {
            "request_id": "a1b2c3d4e5f60003", "experiment_id": SALES, "variant": "champion",
            "unit_id": "prospect-1", "correlation_key": "lead-1",
            "trace_id": "2af7651916cd43dd8448eb211c80319c", "model": "helix-m-2026-06",
            "prompt_version": "sales-v3", "input_tokens": 300, "output_tokens": 50,
            "cost_usd": 0.0003, "latency_ms": 901.0, "finish_reason": "stop", "status": "ok",
            "fallback": False, "refusal": True, "schema_valid": True,
            "prompt": "Is there a free trial?", "response": "Yes.", "channel": "web",
        },
    ),
    (
        80_000.25,
        {
            "request_id": "a1b2c3d4e5f60004", "experiment_id": SALES, "variant": "challenger",
            "unit_id": "prospect-2", "correlation_key": "lead-2",
            "trace_id": "3af7651916cd43dd8448eb211c80319c", "model": "helix-s-2026-10",
            "prompt_version": "sales-v3", "input_tokens": 310, "output_tokens": 61,
            "cost_usd": 0.0001, "latency_ms": 1500.0, "finish_reason": "stop", "status": "ok",
            "fallback": False, "refusal": False, "schema_valid": True,
            "prompt": "What does SSO cost?", "response": "It is included.", "channel": "email",
        },
    ),
]  # fmt: skip
SEGMENTS = ("query_type", "channel")

OUTCOMES = [
    (50_000.0, {"event_id": "evt-1", "correlation_key": "ZD-1", "outcome": "ticket_resolved",
                "value": 1, "source": "zendesk"}),
    (51_000.5, {"event_id": "evt-2", "correlation_key": "ZD-2", "outcome": "csat", "value": 4,
                "source": "survey", "unit_id": "cust-2"}),
    (52_000.0, {"event_id": "evt-3", "correlation_key": "lead-1", "outcome": "lead_qualified",
                "value": 0, "source": "crm"}),
]  # fmt: skip


def at(day: date, seconds: float) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=seconds)


def iso(ts: datetime) -> str:
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def records(day: date, rows=REQUESTS) -> list[dict]:
    """The dataset on `day`, each record with its ISO timestamp, in contract order."""
    return [{"timestamp": iso(at(day, s)), **fields} for s, fields in rows]


def unix_nanos(ts: datetime) -> str:
    return str(round(ts.timestamp() * 1e6) * 1000)


# --- table formats ---------------------------------------------------------------------------


def write_jsonl(path: Path, rows: list[dict], broken_line: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r) for r in rows] + ([broken_line] if broken_line else [])
    path.write_text("\n".join(lines) + "\n")


def write_csv(path: Path, rows: list[dict], broken_line: str | None = None) -> None:
    """A header row with every field, booleans as true/false, missing values empty; a
    `broken_line` goes right after the first record (line 3)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for i, row in enumerate(rows):
            if i == 1 and broken_line is not None:
                handle.write(broken_line + "\n")
            writer.writerow(
                [str(v).lower() if isinstance(v, bool) else v for v in map(row.get, header)]
            )


def write_parquet(path: Path, rows: list[dict], types: dict[str, pa.DataType]) -> None:
    """Typed columns, as a warehouse export writes them: timestamps as UTC timestamps."""
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(dict.fromkeys(k for r in rows for k in r))
    columns = {}
    for name in names:
        kind = types.get(name, pa.string())
        values = [r.get(name) for r in rows]
        if pa.types.is_timestamp(kind):
            values = [pd.Timestamp(v) if v else None for v in values]
        elif kind == pa.string():
            values = [None if v is None else str(v) for v in values]
        columns[name] = pa.array(values, type=kind)
    pq.write_table(pa.table(columns), path)


INFERENCE_TYPES = {
    "timestamp": pa.timestamp("us", tz="UTC"),
    "input_tokens": pa.string(),  # some exports write counts as text; "lots" is a bad value
    "output_tokens": pa.int64(),
    "cost_usd": pa.float64(),
    "latency_ms": pa.float64(),
    "fallback": pa.bool_(),
    "refusal": pa.bool_(),
    "schema_valid": pa.bool_(),
}
OUTCOME_TYPES = {"timestamp": pa.timestamp("us", tz="UTC"), "value": pa.float64()}


def bad_table_rows(day: date) -> list[dict]:
    """Two malformed inference records: a count that is not a number, a missing unit."""
    lots = {**records(day)[0], "request_id": "bad0000000000001", "input_tokens": "lots"}
    no_unit = {**records(day)[1], "request_id": "bad0000000000002", "unit_id": None}
    return [lots, no_unit]


# --- OTLP/JSON traces ------------------------------------------------------------------------


def any_value(value) -> dict:
    """An OTLP/JSON AnyValue (64-bit integers as decimal strings, per the OTLP/JSON mapping)."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    return {"stringValue": value}


def attributes(pairs: dict) -> list[dict]:
    return [{"key": k, "value": any_value(v)} for k, v in pairs.items() if v is not None]


@dataclass(frozen=True)
class OtlpStyle:
    """How an instrumentation writes a GenAI span."""

    ids: str = "hex"  # "hex" (OTLP/JSON) or "base64" (generic protobuf-JSON serializers)
    tokens: str = "current"  # gen_ai.usage.input_tokens or the deprecated prompt_tokens
    variant: str = "event"  # feature_flag.evaluation event, or a span attribute
    flag_event: str = "feature_flag.evaluation"  # the older span convention named it feature_flag
    text: str = "attributes"  # gen_ai.prompt/completion attributes or gen_ai.content.* events


def encode_id(hex_id: str, style: OtlpStyle) -> str:
    if style.ids == "base64":
        return base64.b64encode(bytes.fromhex(hex_id)).decode()
    return hex_id


def otlp_span(record: dict, style: OtlpStyle, **overrides) -> dict:
    """One GenAI client span for a contract record, as an OTel SDK exports it."""
    start = datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00"))
    end = start + timedelta(milliseconds=record["latency_ms"])
    usage = (
        ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens")
        if style.tokens == "current"
        else ("gen_ai.usage.prompt_tokens", "gen_ai.usage.completion_tokens")
    )
    segment = {f"abgate.{s}": record[s] for s in SEGMENTS if s in record}
    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "helix",
        "gen_ai.request.model": record["model"].rsplit("-", 2)[0],
        "gen_ai.response.model": record["model"],
        usage[0]: record["input_tokens"],
        usage[1]: record["output_tokens"],
        "gen_ai.response.finish_reasons": [record["finish_reason"]],
        "gen_ai.usage.cost": record["cost_usd"],
        "abgate.experiment_id": record["experiment_id"],
        "enduser.id": record["unit_id"],
        "session.id": record["correlation_key"],
        "abgate.prompt_version": record["prompt_version"],
        "abgate.fallback": record["fallback"],
        "abgate.refusal": record["refusal"],
        "abgate.schema_valid": record["schema_valid"],
        **segment,
    }
    events = []
    if style.variant == "event":
        key = (
            "feature_flag.result.variant"
            if style.flag_event != "feature_flag"
            else "feature_flag.variant"
        )
        flag = {SUPPORT: "support-bot-llm", SALES: "sales-assistant-llm"}[record["experiment_id"]]
        events += [
            # another flag evaluated in the same request: its variant is not the experiment's
            {
                "timeUnixNano": unix_nanos(start),
                "name": style.flag_event,
                "attributes": attributes({"feature_flag.key": "dark-mode", key: "on"}),
            },
            {
                "timeUnixNano": unix_nanos(start),
                "name": style.flag_event,
                "attributes": attributes(
                    {
                        "feature_flag.key": flag,
                        key: record["variant"],
                        "feature_flag.provider.name": "flagd",
                    }
                ),
            },
        ]
    else:
        attrs["feature_flag.result.variant"] = record["variant"]
    if style.text == "attributes":
        attrs |= {"gen_ai.prompt": record["prompt"], "gen_ai.completion": record["response"]}
    else:
        events += [
            {
                "timeUnixNano": unix_nanos(start),
                "name": "gen_ai.content.prompt",
                "attributes": attributes({"gen_ai.prompt": record["prompt"]}),
            },
            {
                "timeUnixNano": unix_nanos(end),
                "name": "gen_ai.content.completion",
                "attributes": attributes({"gen_ai.completion": record["response"]}),
            },
        ]
    attrs |= overrides
    return {
        "traceId": encode_id(record["trace_id"], style),
        "spanId": encode_id(record["request_id"], style),
        "parentSpanId": "",
        "name": f"chat {record['model']}",
        "kind": 3,
        "startTimeUnixNano": unix_nanos(start),
        "endTimeUnixNano": unix_nanos(end),
        "attributes": attributes(attrs),
        "events": events,
        "status": {"code": 1 if record["status"] == "ok" else 2},
    }


def plain_span(trace_hex: str, span_hex: str, name: str, when: datetime) -> dict:
    """A span that is not an experiment request (an HTTP handler, a vector search)."""
    return {
        "traceId": trace_hex,
        "spanId": span_hex,
        "name": name,
        "kind": 2,
        "startTimeUnixNano": unix_nanos(when),
        "endTimeUnixNano": unix_nanos(when + timedelta(milliseconds=5)),
        "attributes": attributes({"http.request.method": "POST", "gen_ai.system": "helix"}),
        "status": {},
    }


def otlp_document(spans: list[dict], service: str) -> dict:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": attributes({"service.name": service})},
                "scopeSpans": [
                    {
                        "scope": {"name": "opentelemetry.instrumentation.helix", "version": "0.1"},
                        "spans": spans,
                    },
                ],
            }
        ]
    }


def write_otlp(folder: Path, day: date, style: OtlpStyle) -> None:
    """Two files: a pretty-printed export of the support-bot service, and a collector file
    export (one JSON document per line) of the sales service with a broken line in it."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = records(day)
    bad = records(day)[0]
    support = [otlp_span(r, style) for r in rows if r["experiment_id"] == SUPPORT]
    support += [
        plain_span(rows[0]["trace_id"], "00000000000000a1", "POST /chat", at(day, 36_000)),
        # experiment spans without a unit, without a served variant: requests, quarantined
        otlp_span({**bad, "request_id": "bad0000000000003"}, style, **{"enduser.id": None}),
        otlp_span(
            {**bad, "request_id": "bad0000000000006"},
            OtlpStyle(variant="attribute"),
            **{"feature_flag.result.variant": None},
        ),
    ]
    (folder / "support.otlp.json").write_text(
        json.dumps(otlp_document(support, "support-bot"), indent=2)
    )
    sales = [otlp_span(r, style) for r in rows if r["experiment_id"] == SALES]
    lines = [json.dumps(otlp_document([span], "sales-assistant")) for span in sales]
    lines.insert(1, '{"resourceSpans": [{"scopeSpans": [{"spans": [')  # a truncated write
    lines.append(
        json.dumps(otlp_document([plain_span("ab" * 16, "cd" * 8, "GET /", at(day, 9))], "web"))
    )
    (folder / "sales.otlp.jsonl").write_text("\n".join(lines) + "\n")


# --- Phoenix span exports --------------------------------------------------------------------


def phoenix_rows(record: dict, metadata_as: str) -> list[dict]:
    """The LLM span of a request and the CHAIN span around it, as `get_spans_dataframe()` has
    them. `using_metadata(...)` puts the experiment metadata on both."""
    start = pd.Timestamp(record["timestamp"])
    end = start + pd.Timedelta(milliseconds=record["latency_ms"])
    metadata = {
        "experiment_id": record["experiment_id"],
        "variant": record["variant"],
        "correlation_key": record["correlation_key"],
        "cost_usd": record["cost_usd"],
        "fallback": record["fallback"],
        "refusal": record["refusal"],
        "schema_valid": record["schema_valid"],
        **{s: record[s] for s in SEGMENTS if s in record},
    }
    encoded = json.dumps(metadata) if metadata_as == "json" else metadata
    chain_id = "c" + record["request_id"][1:]
    common = {
        "status_message": "",
        "events": [],
        "context.trace_id": record["trace_id"],
        "attributes.metadata": encoded,
        "attributes.user.id": record["unit_id"],
    }
    llm = {
        "name": "ChatCompletion",
        "span_kind": "LLM",
        "parent_id": chain_id,
        "start_time": start,
        "end_time": end,
        "status_code": record["status"].upper(),
        "context.span_id": record["request_id"],
        "attributes.openinference.span.kind": "LLM",
        "attributes.llm.model_name": record["model"],
        "attributes.llm.token_count.prompt": float(record["input_tokens"]),
        "attributes.llm.token_count.completion": float(record["output_tokens"]),
        "attributes.llm.token_count.total": float(record["input_tokens"] + record["output_tokens"]),
        "attributes.llm.finish_reason": record["finish_reason"],
        "attributes.llm.prompt_template.version": record["prompt_version"],
        "attributes.input.value": record["prompt"],
        "attributes.input.mime_type": "text/plain",
        "attributes.output.value": record["response"],
        "attributes.llm.input_messages": [
            {"message.role": "user", "message.content": record["prompt"]}
        ],
        **common,
    }
    chain = {
        "name": "support_turn",
        "span_kind": "CHAIN",
        "parent_id": None,
        "start_time": start - pd.Timedelta(milliseconds=3),
        "end_time": end + pd.Timedelta(milliseconds=2),
        "status_code": "OK",
        "context.span_id": chain_id,
        "attributes.openinference.span.kind": "CHAIN",
        "attributes.input.value": record["prompt"],
        **common,
    }
    return [chain, llm]


def write_phoenix(path: Path, day: date, metadata_as: str) -> None:
    """A Phoenix span export: requests (with their CHAIN spans), a retriever span outside the
    experiment, an LLM span without a correlation key and one whose metadata is not JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [row for record in records(day) for row in phoenix_rows(record, metadata_as)]
    retriever = {
        **rows[0],
        "span_kind": "RETRIEVER",
        "context.span_id": "0000000000000ee1",
        "attributes.openinference.span.kind": "RETRIEVER",
        "attributes.metadata": None,
    }
    no_key = phoenix_rows({**records(day)[0], "request_id": "bad0000000000004"}, metadata_as)[1]
    metadata = (
        json.loads(no_key["attributes.metadata"])
        if metadata_as == "json"
        else dict(no_key["attributes.metadata"])
    )
    metadata.pop("correlation_key")
    no_key["attributes.metadata"] = json.dumps(metadata) if metadata_as == "json" else metadata
    frame = pd.DataFrame([*rows, retriever, no_key])
    if metadata_as == "json":
        broken = {**rows[1], "context.span_id": "bad0000000000005", "attributes.metadata": "{oops"}
        frame = pd.concat([frame, pd.DataFrame([broken])], ignore_index=True)
    frame.to_parquet(path, index=False)


# --- the landing folder and the run ----------------------------------------------------------

# One landing day per format; each must store exactly the JSONL day's rows.
INFERENCE_DAYS = {
    "jsonl": 0,
    "csv": 1,
    "parquet": 2,
    "otlp hex, current names, flag event": 3,
    "otlp base64, deprecated names, variant attribute": 4,
    "otlp deprecated flag event, content events": 5,
    "phoenix, metadata as JSON string": 6,
    "phoenix, metadata as object": 7,
}
OTLP_STYLES = {
    3: OtlpStyle(),
    4: OtlpStyle(ids="base64", tokens="deprecated", variant="attribute"),
    5: OtlpStyle(flag_event="feature_flag", text="events"),
}
OUTCOME_DAYS = {"jsonl": 0, "csv": 1, "parquet": 2}


def day_of(offset: int) -> date:
    return FIRST_DAY + timedelta(days=offset)


def folder(landing: Path, dataset: str, offset: int) -> Path:
    return landing / dataset / day_of(offset).isoformat()


def write_inference_days(landing: Path) -> None:
    for offset in range(len(INFERENCE_DAYS)):
        day, where = day_of(offset), folder(landing, "inference_logs", offset)
        bad = bad_table_rows(day)
        if offset == 0:
            write_jsonl(where / "part-0.jsonl", records(day) + bad[1:], '{"request_id": "x", ')
        elif offset == 1:
            too_many = "bad0000000000009,2026-11-04T00:00:00Z," + "x," * 30
            write_csv(where / "part-0.csv", [*records(day), *bad], broken_line=too_many)
        elif offset == 2:
            write_parquet(where / "part-0.parquet", [*records(day), *bad], INFERENCE_TYPES)
        elif offset in OTLP_STYLES:
            write_otlp(where, day, OTLP_STYLES[offset])
        else:
            write_phoenix(where / "spans.phoenix.parquet", day, "json" if offset == 6 else "object")


def write_outcome_days(landing: Path) -> None:
    for offset in OUTCOME_DAYS.values():
        day, where = day_of(offset), folder(landing, "outcomes", offset)
        rows = records(day, OUTCOMES)
        bad = {**rows[0], "event_id": "evt-bad", "value": "yes"}
        if offset == 0:
            write_jsonl(where / "events.jsonl", [*rows, bad])
        elif offset == 1:
            write_csv(where / "events.csv", [*rows, bad])
        else:
            write_parquet(where / "events.parquet", rows, OUTCOME_TYPES)
            write_jsonl(where / "late.jsonl", [bad])


def ingest(settings, first: date, last: date, instance=None):
    """Materialize the two ingest assets for [first, last] in one run, as the schedule would."""
    return materialize(
        [raw_inference_logs, outcome_extracts],
        instance=instance or DagsterInstance.ephemeral(),
        resources={
            "settings": AbgateSettings.from_settings(settings),
            "warehouse_db": Warehouse(database=str(settings.warehouse)),
        },
        tags={
            ASSET_PARTITION_RANGE_START_TAG: first.isoformat(),
            ASSET_PARTITION_RANGE_END_TAG: last.isoformat(),
        },
        raise_on_error=False,
    )


@dataclass
class Landed:
    settings: object
    result: object

    def query(self, sql: str, *params):
        with Warehouse(database=str(self.settings.warehouse)).get_connection() as con:
            return con.execute(sql, list(params)).fetchall()

    def metadata(self, asset: str) -> dict:
        """The run's materialization metadata (one event per day, the same metadata)."""
        events = [
            e
            for e in self.result.get_asset_materialization_events()
            if e.asset_key.to_user_string() == asset
        ]
        return events[0].materialization.metadata


def failure_messages(result) -> list[str]:
    """The messages of every step failure, with the errors that caused them."""
    messages = []
    for event in result.get_step_failure_events():
        error = event.event_specific_data.error
        while error is not None:
            messages.append(error.message)
            error = error.cause
    return messages


@pytest.fixture(scope="module")
def landed(tmp_path_factory) -> Landed:
    settings = make_settings(tmp_path_factory.mktemp("formats"))
    write_inference_days(settings.landing_dir)
    write_outcome_days(settings.landing_dir)
    result = ingest(settings, day_of(0), day_of(len(INFERENCE_DAYS) - 1))
    assert result.success
    return Landed(settings, result)


STORED_LOGS = """
SELECT request_id, strftime(ts, '%H:%M:%S.%f'), experiment_id, variant, unit_id, correlation_key,
       trace_id, model, prompt_version, rag_index_version, input_tokens, output_tokens, cost_usd,
       latency_ms, finish_reason, status, fallback, refusal, schema_valid, prompt, response,
       attributes
FROM inference_logs WHERE partition_date = ? ORDER BY request_id
"""


def stored_logs(landed: Landed, offset: int) -> list[tuple]:
    return landed.query(STORED_LOGS, day_of(offset))


def quarantined(landed: Landed, dataset: str, offset: int) -> list[tuple]:
    return landed.query(
        "SELECT reason, line_number, raw FROM quarantine WHERE dataset = ? AND partition_date = ? "
        "ORDER BY line_number",
        dataset,
        day_of(offset),
    )


@pytest.mark.parametrize("name", [n for n in INFERENCE_DAYS if n != "jsonl"])
def test_every_format_stores_the_rows_jsonl_stores(landed, name):
    reference = stored_logs(landed, 0)
    assert len(reference) == len(REQUESTS)
    assert stored_logs(landed, INFERENCE_DAYS[name]) == reference


def test_the_reference_rows_are_the_dataset(landed):
    (first, *_) = stored_logs(landed, 0)
    fields = REQUESTS[0][1]
    assert first[0] == fields["request_id"] and first[1] == "10:00:00.125000"
    assert first[10:14] == (788, 289, 0.0008275, 724.0)
    assert first[16:19] == (False, False, True)
    assert first[21] == {"query_type": "technical"}
    assert EMAIL not in first[19] and "[EMAIL:" in first[19]


@pytest.mark.parametrize("name", ["csv", "parquet"])
def test_outcome_formats_store_the_rows_jsonl_stores(landed, name):
    sql = (
        "SELECT event_id, correlation_key, outcome, value, strftime(ts, '%H:%M:%S.%f'), source, "
        "unit_id FROM outcome_events WHERE partition_date = ? ORDER BY event_id"
    )
    reference = landed.query(sql, day_of(0))
    assert [r[0] for r in reference] == ["evt-1", "evt-2", "evt-3"]
    assert reference[1][-1] == "cust-2" and reference[0][-1] is None
    assert landed.query(sql, day_of(OUTCOME_DAYS[name])) == reference


EXPECTED_QUARANTINE = {
    "jsonl": ["missing required field: unit_id", "invalid JSON"],
    "csv": ["malformed CSV row: too many columns", "bad type: input_tokens",
            "missing required field: unit_id"],
    "parquet": ["bad type: input_tokens", "missing required field: unit_id"],
    **{name: ["missing required field: unit_id", "missing required field: variant",
              "invalid JSON"]
       for name in INFERENCE_DAYS if name.startswith("otlp")},
    "phoenix, metadata as JSON string": [
        "missing required field: correlation_key", "span attribute metadata is not a JSON object"],
    "phoenix, metadata as object": ["missing required field: correlation_key"],
}  # fmt: skip


@pytest.mark.parametrize("name", INFERENCE_DAYS)
def test_malformed_records_are_quarantined_with_their_reason(landed, name):
    rows = quarantined(landed, "inference_logs", INFERENCE_DAYS[name])
    assert sorted(r[0] for r in rows) == sorted(EXPECTED_QUARANTINE[name])


def test_counts_reconcile_per_day_and_skipped_spans_are_counted(landed):
    meta = landed.metadata("raw_inference_logs")
    read = meta["rows_read"].value
    assert meta["reconciles"].value is True
    stored = landed.query("SELECT count(*) FROM inference_logs")[0][0]
    held = landed.query("SELECT count(*) FROM quarantine WHERE dataset = 'inference_logs'")[0][0]
    assert (
        read == stored + held == sum(len(REQUESTS) + len(q) for q in EXPECTED_QUARANTINE.values())
    )
    # OTLP: one HTTP span per file (3 days x 2); Phoenix: four CHAIN spans and a retriever (x 2)
    assert meta["spans_skipped"].value == 3 * 2 + 2 * 5
    assert meta["files_by_format"].value == {
        "jsonl": 1,
        "csv": 1,
        "parquet": 1,
        "otlp": 6,
        "phoenix": 2,
    }
    per_day = meta["per_day"].value
    assert f"| {day_of(3).isoformat()} | 2 | 7 | 4 | 3 | 2 |" in per_day


def test_quarantined_rows_keep_where_they_came_from(landed):
    csv_rows = quarantined(landed, "inference_logs", INFERENCE_DAYS["csv"])
    by_reason = {reason: (line, raw) for reason, line, raw in csv_rows}
    line, raw = by_reason["malformed CSV row: too many columns"]
    assert line == 3 and raw.startswith("bad0000000000009,")  # the header is line 1
    assert by_reason["bad type: input_tokens"][0] == 7  # after the rejected line
    lots = json.loads(by_reason["bad type: input_tokens"][1])
    assert lots["input_tokens"] == "lots" and EMAIL not in by_reason["bad type: input_tokens"][1]
    parquet_rows = quarantined(landed, "inference_logs", INFERENCE_DAYS["parquet"])
    assert [line for _, line, _ in parquet_rows] == [5, 6]


def test_quarantined_parquet_records_keep_their_fields_as_text(landed):
    """Typed Parquet columns reach the quarantine as the text of their values, like every format's
    fields: the record as JSON of strings."""
    (_, _, raw), _ = quarantined(landed, "inference_logs", INFERENCE_DAYS["parquet"])
    lots = json.loads(raw)
    assert lots["input_tokens"] == "lots" and lots["output_tokens"] == "289"
    assert lots["timestamp"] == f"{day_of(INFERENCE_DAYS['parquet'])} 10:00:00.125+00"
    assert (lots["cost_usd"], lots["latency_ms"]) == ("0.0008275", "724.0")
    assert (lots["fallback"], lots["schema_valid"]) == ("false", "true")


# Other types than the contract's, as other exporters write them: each is read as its text.
ODD_INFERENCE_TYPES = {
    "timestamp": pa.timestamp("ns"),  # no time zone: UTC
    "input_tokens": pa.float64(),
    "output_tokens": pa.int32(),
    "cost_usd": pa.float32(),
    "latency_ms": pa.float32(),
    "fallback": pa.string(),
    "refusal": pa.int8(),
    "schema_valid": pa.bool_(),
}


def test_parquet_columns_of_other_types_store_what_csv_stores(tmp_path):
    settings = make_settings(tmp_path)
    rows = {offset: records(day_of(offset)) for offset in (0, 1)}
    for offset, day_rows in rows.items():
        day_rows[0]["input_tokens"] = 788.0  # a float, and a count: 788 from either format
        day_rows[1]["fallback"] = "maybe"  # bad type: fallback
        day_rows[2]["timestamp"] = iso(at(day_of(offset), 86_400 + 5))  # the next day
        for row in day_rows:
            row["refusal"] = int(row["refusal"])  # 0/1 read as booleans
    where = folder(settings.landing_dir, "inference_logs", 0)
    write_csv(where / "a.csv", rows[0])
    where = folder(settings.landing_dir, "inference_logs", 1)
    write_parquet(where / "a.parquet", rows[1], ODD_INFERENCE_TYPES)
    result = ingest(settings, day_of(0), day_of(1))
    assert result.success
    landed = Landed(settings, result)
    csv_rows, parquet_rows = stored_logs(landed, 0), stored_logs(landed, 1)
    assert len(csv_rows) == 2 and parquet_rows == csv_rows
    assert csv_rows[0][10] == 788
    reasons = [[r[0] for r in quarantined(landed, "inference_logs", d)] for d in (0, 1)]
    assert reasons[0] == reasons[1] == ["bad type: fallback", "timestamp outside partition"]


def test_parquet_without_segment_columns_stores_no_attributes(tmp_path):
    settings = make_settings(tmp_path)
    rows = [{k: v for k, v in r.items() if k not in SEGMENTS} for r in records(day_of(0))]
    write_parquet(
        folder(settings.landing_dir, "inference_logs", 0) / "a.parquet", rows, INFERENCE_TYPES
    )
    result = ingest(settings, day_of(0), day_of(0))
    assert result.success
    assert [r[21] for r in stored_logs(Landed(settings, result), 0)] == [{}] * len(REQUESTS)


def test_trace_ids_normalize_from_hex_and_base64(landed):
    for name in (
        "otlp hex, current names, flag event",
        "otlp base64, deprecated names, variant attribute",
    ):
        ids = [(r[0], r[6]) for r in stored_logs(landed, INFERENCE_DAYS[name])]
        assert ids == [(f["request_id"], f["trace_id"]) for _, f in REQUESTS]


def test_the_served_variant_is_the_experiment_flags_not_another_flags(landed):
    variants = [
        r[3] for r in stored_logs(landed, INFERENCE_DAYS["otlp hex, current names, flag event"])
    ]
    assert variants == [f["variant"] for _, f in REQUESTS]  # not the dark-mode flag's "on"


def test_pii_in_trace_prompts_is_redacted_before_it_lands(landed):
    everything = repr(landed.query("SELECT * FROM inference_logs")) + repr(
        landed.query("SELECT * FROM quarantine")
    )
    assert EMAIL not in everything and PHONE not in everything
    assert "[EMAIL:" in everything and "[PHONE:" in everything
    for name in ("otlp hex, current names, flag event", "phoenix, metadata as object"):
        raws = [raw for _, _, raw in quarantined(landed, "inference_logs", INFERENCE_DAYS[name])]
        assert any("[EMAIL:" in raw for raw in raws), name  # the span as written, redacted


def test_phoenix_metadata_is_unpacked_into_fields_and_segments(landed):
    rows = stored_logs(landed, INFERENCE_DAYS["phoenix, metadata as object"])
    assert [r[2:6] for r in rows] == [
        (f["experiment_id"], f["variant"], f["unit_id"], f["correlation_key"]) for _, f in REQUESTS
    ]
    assert rows[2][21] == {"channel": "web"}


# --- detection, mapping, mixing --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("part-0.jsonl", "jsonl"), ("x.NDJSON", "jsonl"), ("x.json", "jsonl"),
        ("x.csv", "csv"), ("x.parquet", "parquet"), ("spans.otlp.json", "otlp"),
        ("spans.otlp.jsonl", "otlp"), ("spans.phoenix.parquet", "phoenix"),
        ("trace_dataset-1b2c.parquet", "phoenix"), ("_SUCCESS", None), ("x.csv.crc", None),
    ],
)  # fmt: skip
def test_format_detection_by_file_name(name, fmt):
    found = detect_format(Path(name))
    assert (found.name if found else None) == fmt


MAPPED_YAML = {
    "column_mapping": {
        "inference_logs": {"request_id": "req_id", "unit_id": "user_id", "timestamp": "ts"},
        "outcomes": {"event_id": "id"},
        "otlp": {"experiment_id": "my.attr.exp", "unit_id": ["app.user", "enduser.id"]},
        "phoenix": {"correlation_key": "metadata.ticket"},
    }
}


def with_experiments(root: Path, extra: dict):
    """Settings whose experiments YAML is the demo's plus `extra` top-level keys."""
    path = root / "experiments.yaml"
    path.write_text(yaml.safe_dump(yaml.safe_load(DEMO_EXPERIMENTS.read_text()) | extra))
    return replace(make_settings(root), experiments_file=path)


def renamed(row: dict, names: dict[str, str]) -> dict:
    return {names.get(k, k): v for k, v in row.items()}


def test_column_mapping_reads_renamed_columns_in_every_format(tmp_path):
    settings = with_experiments(tmp_path, MAPPED_YAML)
    names = MAPPED_YAML["column_mapping"]["inference_logs"]
    day = day_of(0)
    rows = [renamed(r, names) for r in records(day)]
    write_csv(folder(settings.landing_dir, "inference_logs", 0) / "a.csv", rows[:2])
    write_parquet(
        folder(settings.landing_dir, "inference_logs", 0) / "b.parquet",
        rows[2:],
        {names.get(k, k): t for k, t in INFERENCE_TYPES.items()},
    )
    write_jsonl(
        folder(settings.landing_dir, "outcomes", 0) / "o.jsonl",
        [renamed(r, {"event_id": "id"}) for r in records(day, OUTCOMES)],
    )
    renamed_attributes = {"abgate.experiment_id": None, "enduser.id": None}
    spans = [
        otlp_span(
            r,
            OtlpStyle(),
            **renamed_attributes,
            **{"my.attr.exp": r["experiment_id"], "app.user": r["unit_id"]},
        )
        for r in records(day_of(1))
    ]
    where = folder(settings.landing_dir, "inference_logs", 1)
    where.mkdir(parents=True)
    (where / "t.otlp.json").write_text(json.dumps(otlp_document(spans, "svc")))
    phoenix = folder(settings.landing_dir, "inference_logs", 2) / "p.phoenix.parquet"
    write_phoenix(phoenix, day_of(2), "object")
    frame = pd.read_parquet(phoenix)
    frame["attributes.metadata"] = [
        json.dumps({("ticket" if k == "correlation_key" else k): v for k, v in m.items()})
        if m is not None
        else None
        for m in frame["attributes.metadata"]
    ]
    frame.to_parquet(phoenix, index=False)
    result = ingest(settings, day_of(0), day_of(2))
    assert result.success
    landed = Landed(settings, result)
    expected = [(f["request_id"], f["unit_id"]) for _, f in REQUESTS]
    for offset in range(3):
        assert [(r[0], r[4]) for r in stored_logs(landed, offset)] == expected, offset
    assert landed.query("SELECT event_id FROM outcome_events ORDER BY 1") == [
        ("evt-1",),
        ("evt-2",),
        ("evt-3",),
    ]
    assert stored_logs(landed, 0)[0][21] == {"query_type": "technical"}


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"inference_log": {}}, "unknown sections ['inference_log']"),
        ({"inference_logs": {"request_idd": "x"}}, "column_mapping.inference_logs.request_idd"),
        ({"outcomes": {"value": ""}}, "column_mapping.outcomes.value: expected a non-empty name"),
        ({"inference_logs": {"unit_id": "Request_ID"}},
         "column_mapping.inference_logs.unit_id: column `Request_ID` is already read as `request_id`"),
        ({"otlp": {"timestamp": "x"}}, "column_mapping.otlp.timestamp: comes from the span"),
        ({"phoenix": {"variant": []}}, "column_mapping.phoenix.variant: expected an attribute key"),
        ({"otlp": ["experiment_id"]}, "column_mapping.otlp: expected `field: name` pairs"),
    ],
)  # fmt: skip
def test_a_bad_column_mapping_names_the_key(mapping, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_column_mapping(mapping)


def test_a_bad_column_mapping_fails_the_ingest_run_before_reading(tmp_path):
    settings = with_experiments(
        tmp_path, {"column_mapping": {"inference_logs": {"unit": "user_id"}}}
    )
    with pytest.raises(ConfigError, match=re.escape("column_mapping.inference_logs.unit")):
        load_column_mapping(settings.experiments_file)
    result = ingest(settings, day_of(0), day_of(0))
    assert not result.success
    assert any("column_mapping.inference_logs.unit" in m for m in failure_messages(result))


def test_formats_mix_in_one_day_and_a_copy_in_another_format_is_a_duplicate(tmp_path):
    settings = make_settings(tmp_path)
    day = day_of(0)
    where = folder(settings.landing_dir, "inference_logs", 0)
    rows = records(day)
    write_jsonl(where / "a.jsonl", rows[:2])
    write_parquet(where / "b.parquet", rows[1:], INFERENCE_TYPES)  # rows[1] again
    result = ingest(settings, day, day)
    assert result.success
    landed = Landed(settings, result)
    assert [r[0] for r in stored_logs(landed, 0)] == [f["request_id"] for _, f in REQUESTS]
    ((reason, file),) = landed.query(
        "SELECT reason, source_file FROM quarantine WHERE dataset = 'inference_logs'"
    )
    assert reason == "duplicate request_id" and file.endswith("b.parquet")


def test_trace_files_in_the_outcomes_folder_fail_with_the_file_name(tmp_path):
    settings = make_settings(tmp_path)
    where = folder(settings.landing_dir, "outcomes", 0)
    where.mkdir(parents=True)
    shutil.copy(DEMO_EXPERIMENTS, where / "wrong.otlp.json")
    result = ingest(settings, day_of(0), day_of(0))
    assert not result.success
    assert any("wrong.otlp.json" in m and "inference_logs" in m for m in failure_messages(result))
