"""Hostile landing files cost the records they spoil, never the day, through the ingest assets.

Each test lands a small day of valid records (the dataset of test_ingest_formats) beside one kind
of damage: bytes that are not UTF-8, NUL bytes, a byte-order mark, blank and CRLF lines, a huge
line, an empty file. The run succeeds, the valid records are stored, the damaged ones are
quarantined with their reason, and records read = stored + quarantined.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from abgate_pipeline.formats import csv_columns
from abgate_pipeline_tests.conftest import make_settings
from abgate_pipeline_tests.defs.test_ingest_formats import (
    EMAIL,
    INFERENCE_TYPES,
    OUTCOME_TYPES,
    OUTCOMES,
    REQUESTS,
    SUPPORT,
    Landed,
    OtlpStyle,
    day_of,
    folder,
    ingest,
    otlp_document,
    otlp_span,
    phoenix_rows,
    quarantined,
    records,
    stored_logs,
    write_csv,
    write_jsonl,
    write_parquet,
)

VALID_IDS = [f["request_id"] for _, f in REQUESTS]


def lines_of(rows: list[dict]) -> list[bytes]:
    return [json.dumps(r).encode() for r in rows]


def land(tmp_path, files: dict[str, bytes]) -> Landed:
    """Write `files` (name -> bytes) into the first inference-log day and ingest that day."""
    settings = make_settings(tmp_path)
    where = folder(settings.landing_dir, "inference_logs", 0)
    where.mkdir(parents=True)
    for name, content in files.items():
        (where / name).write_bytes(content)
    result = ingest(settings, day_of(0), day_of(0))
    assert result.success
    return Landed(settings, result)


def stored_ids(landed: Landed) -> list[str]:
    return [r[0] for r in stored_logs(landed, 0)]


def reconciles(landed: Landed) -> bool:
    meta = landed.metadata("raw_inference_logs")
    stored = landed.query("SELECT count(*) FROM inference_logs")[0][0]
    held = landed.query("SELECT count(*) FROM quarantine")[0][0]
    return meta["reconciles"].value and meta["rows_read"].value == stored + held


def test_a_line_that_is_not_utf8_is_one_quarantined_record(tmp_path):
    rows = records(day_of(0))
    bad = json.dumps({**rows[0], "request_id": "bad-utf8", "prompt": f"I am {EMAIL}"}).encode()
    bad = bad.replace(b"I am", b"I \xff\xfeam caf\xc3\xa9")  # two stray bytes beside a valid one
    landed = land(
        tmp_path, {"a.jsonl": b"\n".join([*lines_of(rows[:2]), bad, *lines_of(rows[2:])])}
    )
    assert stored_ids(landed) == VALID_IDS
    ((reason, line, raw),) = quarantined(landed, "inference_logs", 0)
    assert (reason, line) == ("invalid UTF-8", 3)
    # the bytes as written, escaped (\xHH; a backslash as \\), and redacted like every raw line
    assert "I \\xFF\\xFEam caf\\xC3\\xA9" in raw and '"request_id": "bad-utf8"' in raw
    assert EMAIL not in raw and "[EMAIL:" in raw
    assert reconciles(landed)


def test_nul_bytes_and_huge_lines_are_records_like_any_other(tmp_path):
    """A NUL byte is text (in a CSV value, or `\\u0000` in JSON) but no JSON token; a 5 MB line
    is one record in JSONL and in CSV alike."""
    rows = records(day_of(0))
    nul = json.dumps({**rows[0], "request_id": "bad-nul"}).encode().replace(b"cust-1", b"cu\0st")
    huge = {**rows[1], "request_id": "huge-jsonl", "prompt": "x" * 5_000_000}
    jsonl = b"\n".join([*lines_of(rows), nul, json.dumps(huge).encode()]) + b"\n"
    csv_rows = [
        {**rows[2], "request_id": "huge-csv", "prompt": "y" * 5_000_000},
        {**rows[3], "request_id": "nul-csv", "prompt": "a\0b"},
    ]
    settings = make_settings(tmp_path)
    where = folder(settings.landing_dir, "inference_logs", 0)
    write_csv(where / "b.csv", csv_rows)
    (where / "a.jsonl").write_bytes(jsonl)
    result = ingest(settings, day_of(0), day_of(0))
    assert result.success
    landed = Landed(settings, result)
    assert stored_ids(landed) == sorted([*VALID_IDS, "huge-jsonl", "huge-csv", "nul-csv"])
    assert landed.query(
        "SELECT request_id, length(prompt) FROM inference_logs WHERE length(prompt) >= 3 "
        "AND (request_id LIKE 'huge%' OR request_id = 'nul-csv') ORDER BY 1"
    ) == [("huge-csv", 5_000_000), ("huge-jsonl", 5_000_000), ("nul-csv", 3)]
    ((reason, line, raw),) = quarantined(landed, "inference_logs", 0)
    assert (reason, line) == ("invalid JSON", 5) and "cu\0st" in raw


def test_a_byte_order_mark_blank_lines_and_crlf_are_not_records(tmp_path):
    rows = records(day_of(0))
    crlf = b"\r\n".join(lines_of(rows[:2])) + b"\r\n"
    content = (
        b"\xef\xbb\xbf" + crlf + b"\r\n  \t\r\n\n" + b"\r\n".join(lines_of(rows[2:])) + b"\r\n"
    )
    landed = land(tmp_path, {"a.jsonl": content, "b.jsonl": b""})  # b.jsonl is empty
    assert stored_ids(landed) == VALID_IDS
    assert quarantined(landed, "inference_logs", 0) == []
    meta = landed.metadata("raw_inference_logs")
    assert meta["rows_read"].value == len(REQUESTS) and meta["blank_lines"].value == 3
    assert "| 2 | 4 | 4 | 0 | 0 | 3 |" in meta["per_day"].value
    # line numbers count every line of the file, blank ones too
    assert landed.query("SELECT line_number FROM inference_logs ORDER BY 1") == [
        (1,),
        (2,),
        (6,),
        (7,),
    ]


def test_otlp_lines_that_are_not_utf8_cost_their_line(tmp_path):
    rows = records(day_of(0))
    docs = [json.dumps(otlp_document([otlp_span(r, OtlpStyle())], "svc")).encode() for r in rows]
    docs[1] = docs[1].replace(b"Call me", b"Call\xc0 me")
    content = b"\xef\xbb\xbf" + b"\n".join(docs) + b"\n\n"
    landed = land(tmp_path, {"spans.otlp.jsonl": content})
    assert stored_ids(landed) == [VALID_IDS[0], *VALID_IDS[2:]]
    ((reason, line, raw),) = quarantined(landed, "inference_logs", 0)
    assert (reason, line) == ("invalid UTF-8", 2) and "Call\\xC0 me" in raw
    assert landed.metadata("raw_inference_logs")["blank_lines"].value == 1


def test_a_csv_row_that_is_not_utf8_is_one_quarantined_record(tmp_path):
    settings = make_settings(tmp_path)
    where = folder(settings.landing_dir, "inference_logs", 0)
    rows = records(day_of(0))
    rows[1] = {**rows[1], "prompt": "Call \u00e9 me"}
    write_csv(where / "a.csv", rows)
    path = where / "a.csv"
    path.write_bytes(path.read_bytes().replace("Call \u00e9 me".encode(), b"Call \xe9 me"))
    result = ingest(settings, day_of(0), day_of(0))
    assert result.success
    landed = Landed(settings, result)
    assert stored_ids(landed) == [VALID_IDS[0], *VALID_IDS[2:]]
    ((reason, line, raw),) = quarantined(landed, "inference_logs", 0)
    assert (reason, line) == ("invalid UTF-8", 3)
    assert f",{VALID_IDS[1]}," in raw and ",Call \\xE9 me,Sure.," in raw  # the record's bytes


def test_an_unterminated_csv_quote_costs_the_lines_it_swallows_only(tmp_path):
    """RFC 4180, fixed: a broken quote runs on to the next `"`; those lines are one rejected
    record whose reason names them, and every other record, quoted commas and all, is stored."""
    settings = make_settings(tmp_path)
    day = records(day_of(0))
    rows = [
        {
            **day[i % 4],
            "request_id": f"csv-{i:02d}",
            "prompt": f"hi, row {i}" if i % 5 < 2 else "hi",
        }
        for i in range(36)
    ]
    assert sum("," in r["prompt"] for r in rows) == 15
    path = folder(settings.landing_dir, "inference_logs", 0) / "a.csv"
    write_csv(path, rows)
    lines = path.read_text().splitlines()
    broken = f'"csv-bad,{day[0]["timestamp"]},{SUPPORT},champion,cust-1,ZD-1'
    lines.insert(13, broken)  # line 14: after csv-11 (line 13); the next quote is csv-15's
    path.write_text("\n".join(lines) + "\n")
    result = ingest(settings, day_of(0), day_of(0))
    assert result.success
    landed = Landed(settings, result)
    swallowed = [f"csv-{i:02d}" for i in (12, 13, 14, 15)]
    assert stored_ids(landed) == [r["request_id"] for r in rows if r["request_id"] not in swallowed]
    ((reason, line, raw),) = quarantined(landed, "inference_logs", 0)
    assert (reason, line) == ("malformed CSV row: unquoted value (lines 14-18)", 14)
    assert raw.startswith('"csv-bad,') and all(f",{i}," in raw for i in swallowed)
    assert reconciles(landed)


@pytest.mark.parametrize(
    ("header", "names"),
    [
        (b'\xef\xbb\xbf"request_id","pro""mpt",x\r\nr1,a,b\r\n', ["request_id", 'pro"mpt', "x"]),
        (b"a,A,,a,b\n1,2,3,4,5\n", ["a", "A_1", "column2", "a_2", "b"]),  # as DuckDB names them
        (b"", ["column0"]),  # an empty file: one column, no rows
    ],
)
def test_csv_columns_are_the_header_lines_names(tmp_path, header, names):
    (tmp_path / "a.csv").write_bytes(header)
    assert list(csv_columns(tmp_path / "a.csv")) == names


# --- values: what a valid number or id is, the same in every format ------------------------

# (field, value as written, the reason, or None for a valid value). Counts, costs and durations
# are finite, non-negative and at most 1e12; counts are whole numbers (2.0 is one).
LOG_VALUES = [
    ("cost_usd", "NaN", "bad type: cost_usd"),  # the string
    ("cost_usd", math.inf, "bad type: cost_usd"),  # JSON's Infinity
    ("latency_ms", math.nan, "bad type: latency_ms"),  # JSON's NaN
    ("latency_ms", -5.0, "out of range: latency_ms"),
    ("latency_ms", 2e12, "out of range: latency_ms"),
    ("input_tokens", -1, "out of range: input_tokens"),
    ("input_tokens", 1.5, "bad type: input_tokens"),
    ("input_tokens", 2.0, None),
    ("output_tokens", 10**13, "out of range: output_tokens"),
    ("cost_usd", 1e308, "out of range: cost_usd"),
    ("cost_usd", -0.01, "out of range: cost_usd"),
]
# Spans carry the latency as end - start: it cannot be NaN.
SPAN_VALUES = [v for v in LOG_VALUES if not (v[0] == "latency_ms" and math.isnan(v[1]))]
VALUE_TYPES = {**INFERENCE_TYPES, "input_tokens": pa.float64()}


def value_records(cases) -> list[dict]:
    """The four valid requests, then one request per case with its value."""
    base = records(day_of(0))[0]
    return [
        *records(day_of(0)),
        *(
            {**base, "request_id": f"val-{i:02d}", field: value}
            for i, (field, value, _) in enumerate(cases)
        ),
    ]


def write_values(where: Path, name: str) -> list[tuple]:
    """The value cases as `name` writes them into `where`; returns the cases it can express."""
    where.mkdir(parents=True, exist_ok=True)
    if name == "jsonl":
        write_jsonl(where / "a.jsonl", value_records(LOG_VALUES))
    elif name == "csv":
        write_csv(where / "a.csv", value_records(LOG_VALUES))
    elif name == "parquet":
        rows = [
            {k: float(v) if k == "cost_usd" else v for k, v in r.items()}
            for r in value_records(LOG_VALUES)
        ]
        write_parquet(where / "a.parquet", rows, VALUE_TYPES)
    elif name == "otlp":
        spans = [otlp_span(r, OtlpStyle()) for r in value_records(SPAN_VALUES)]
        (where / "a.otlp.json").write_text(json.dumps(otlp_document(spans, "svc")))
    else:
        rows = [row for r in value_records(SPAN_VALUES) for row in phoenix_rows(r, "json")]
        pd.DataFrame(rows).to_parquet(where / "a.phoenix.parquet", index=False)
    return SPAN_VALUES if name in ("otlp", "phoenix") else LOG_VALUES


@pytest.mark.parametrize("name", ["jsonl", "csv", "parquet", "otlp", "phoenix"])
def test_numbers_that_are_not_finite_counts_or_amounts_are_quarantined(tmp_path, name):
    settings = make_settings(tmp_path)
    cases = write_values(folder(settings.landing_dir, "inference_logs", 0), name)
    result = ingest(settings, day_of(0), day_of(0))
    assert result.success
    landed = Landed(settings, result)
    ids = [f"val-{i:02d}" for i in range(len(cases))]
    valid = [i for i, (_, _, reason) in zip(ids, cases, strict=True) if reason is None]
    assert stored_ids(landed) == sorted([*VALID_IDS, *valid])
    assert landed.query(
        "SELECT input_tokens FROM inference_logs WHERE request_id = ?", valid[0]
    ) == [(2,)]
    # each record is quarantined for its own value (its raw text names it)
    got = {
        next(i for i in ids if i in raw): reason
        for reason, _, raw in quarantined(landed, "inference_logs", 0)
    }
    assert got == {i: reason for i, (_, _, reason) in zip(ids, cases, strict=True) if reason}
    assert reconciles(landed)


def test_ids_and_labels_written_as_objects_or_arrays_are_bad_types(tmp_path):
    """An id or label is a JSON string (or a number, stored as its text); an object or array is
    `bad type` in every format that can write one. Prompts and responses may be message lists."""
    settings = make_settings(tmp_path)
    day = records(day_of(0))
    base = day[0]
    jsonl = [
        {**base, "request_id": {"id": 1}},
        {**base, "request_id": "obj-unit", "unit_id": ["cust-1"]},
        {**base, "request_id": "obj-model", "model": {"$numberLong": "5"}},
        {**base, "request_id": 12345},
        {**base, "request_id": "msg-list", "prompt": [{"role": "user", "content": "hi"}]},
    ]
    write_jsonl(folder(settings.landing_dir, "inference_logs", 0) / "a.jsonl", jsonl)
    parquet = folder(settings.landing_dir, "inference_logs", 1) / "a.parquet"
    write_parquet(parquet, records(day_of(1))[:2], INFERENCE_TYPES)
    table = pq.read_table(parquet)
    units = pa.array([{"id": u} for u in table["unit_id"].to_pylist()])
    pq.write_table(
        table.set_column(table.schema.get_field_index("unit_id"), "unit_id", units), parquet
    )
    otlp = [
        otlp_span(records(day_of(2))[0], OtlpStyle(), **{"enduser.id": None, "user.id": None}),
        otlp_span(records(day_of(2))[1], OtlpStyle()),
    ]
    otlp[0]["attributes"].append({"key": "enduser.id", "value": {"kvlistValue": {"values": []}}})
    otlp[1]["attributes"] = [
        {"key": "session.id", "value": {"arrayValue": {"values": [{"stringValue": "ZD-2"}]}}}
        if a["key"] == "session.id"
        else a
        for a in otlp[1]["attributes"]
    ]
    where = folder(settings.landing_dir, "inference_logs", 2)
    where.mkdir(parents=True)
    (where / "a.otlp.json").write_text(json.dumps(otlp_document(otlp, "svc")))
    chain, llm = phoenix_rows(records(day_of(3))[0], "json")
    metadata = json.loads(llm["attributes.metadata"])
    llm["attributes.metadata"] = json.dumps({**metadata, "correlation_key": {"id": "ZD-1"}})
    where = folder(settings.landing_dir, "inference_logs", 3)
    where.mkdir(parents=True)
    pd.DataFrame([chain, llm]).to_parquet(where / "a.phoenix.parquet", index=False)
    result = ingest(settings, day_of(0), day_of(3))
    assert result.success
    landed = Landed(settings, result)
    stored = {r[0]: r[19] for r in stored_logs(landed, 0)}
    assert sorted(stored) == ["12345", "msg-list"]
    assert json.loads(stored["msg-list"]) == [{"role": "user", "content": "hi"}]
    expected = {
        0: ["bad type: model", "bad type: request_id", "bad type: unit_id"],
        1: ["bad type: unit_id", "bad type: unit_id"],
        2: ["bad type: correlation_key", "bad type: unit_id"],
        3: ["bad type: correlation_key"],
    }
    for offset, reasons in expected.items():
        assert sorted(r[0] for r in quarantined(landed, "inference_logs", offset)) == reasons


# (outcome, value, reason or None): |value| <= 1e12, and 0 or 1 for an outcome a proportion
# metric reads (the demo's ticket_resolved); other outcomes (csat) may be negative.
OUTCOME_VALUES = [
    ("ticket_resolved", -1, "out of range: value"),
    ("ticket_resolved", 2, "out of range: value"),
    ("ticket_resolved", 1.0, None),
    ("csat", -1, None),
    ("csat", 1e308, "out of range: value"),
    ("csat", math.nan, "bad type: value"),
    ("csat", "Infinity", "bad type: value"),
]


@pytest.mark.parametrize("name", ["jsonl", "csv", "parquet"])
def test_outcome_values_outside_their_range_are_quarantined(tmp_path, name):
    settings = make_settings(tmp_path)
    base = records(day_of(0), OUTCOMES)[0]
    rows = [
        {**base, "event_id": f"ev-{i}", "outcome": outcome, "value": value}
        for i, (outcome, value, _) in enumerate(OUTCOME_VALUES)
    ]
    where = folder(settings.landing_dir, "outcomes", 0)
    if name == "jsonl":
        write_jsonl(where / "a.jsonl", [*rows, {**base, "event_id": {"id": 7}}])
    elif name == "csv":
        write_csv(where / "a.csv", rows)
    else:
        write_parquet(
            where / "a.parquet", [{**r, "value": float(r["value"])} for r in rows], OUTCOME_TYPES
        )
    result = ingest(settings, day_of(0), day_of(0))
    assert result.success
    landed = Landed(settings, result)
    stored = landed.query("SELECT event_id, value FROM outcome_events ORDER BY event_id")
    assert stored == [("ev-2", 1.0), ("ev-3", -1.0)]
    got = {
        next(f"ev-{i}" for i in range(len(rows)) if f"ev-{i}" in raw): reason
        for reason, _, raw in quarantined(landed, "outcomes", 0)
        if "ev-" in raw
    }
    assert got == {f"ev-{i}": r for i, (_, _, r) in enumerate(OUTCOME_VALUES) if r}
    if name == "jsonl":
        assert [r[0] for r in quarantined(landed, "outcomes", 0)][-1] == "bad type: event_id"


# --- files that cannot be read at all ------------------------------------------------------

QUARANTINED_FILES = (
    "SELECT dataset, partition_date, regexp_extract(source_file, '[^/]+$'), error "
    "FROM quarantined_files ORDER BY ALL"
)


def corrupt_parquet(path: Path, rows: list[dict]) -> None:
    """A Parquet file cut off halfway, as an interrupted upload leaves it."""
    write_parquet(path, rows, INFERENCE_TYPES)
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])


def test_an_unreadable_file_costs_itself_and_a_good_delivery_completes_the_day(tmp_path):
    settings = make_settings(tmp_path)
    rows = {offset: records(day_of(offset)) for offset in (0, 1)}
    day0 = folder(settings.landing_dir, "inference_logs", 0)
    write_jsonl(day0 / "a.jsonl", rows[0][:2])
    write_parquet(day0 / "b.parquet", rows[0][2:3], INFERENCE_TYPES)
    corrupt_parquet(day0 / "c.parquet", rows[0][3:])  # one bad file among good Parquet files
    (day0 / "d.parquet").write_bytes(b"")  # zero bytes
    write_parquet(
        folder(settings.landing_dir, "inference_logs", 1) / "a.parquet", rows[1], INFERENCE_TYPES
    )
    events = folder(settings.landing_dir, "outcomes", 1)
    write_jsonl(events / "a.jsonl", records(day_of(1), OUTCOMES))
    (events / "b.parquet").write_bytes(b"PAR1 not really")
    result = ingest(settings, day_of(0), day_of(1))
    assert result.success
    landed = Landed(settings, result)
    # the rest of each day is stored; nothing of the bad files
    assert stored_ids(landed) == VALID_IDS[:3]
    assert [r[0] for r in stored_logs(landed, 1)] == VALID_IDS
    assert landed.query("SELECT count(*) FROM outcome_events")[0][0] == len(OUTCOMES)
    bad = landed.query(QUARANTINED_FILES)
    assert [row[:3] for row in bad] == [
        ("inference_logs", day_of(0), "c.parquet"),
        ("inference_logs", day_of(0), "d.parquet"),
        ("outcomes", day_of(1), "b.parquet"),
    ]
    assert all(row[3] for row in bad)  # the reader's error
    meta = landed.metadata("raw_inference_logs")
    incomplete = meta["incomplete_days"].value
    assert list(incomplete) == [day_of(0).isoformat()]
    assert [f["file"].rsplit("/", 1)[-1] for f in incomplete[day_of(0).isoformat()]] == [
        "c.parquet",
        "d.parquet",
    ]
    assert meta["reconciles"].value is True
    # files read, records read, stored, quarantined, spans skipped, blank lines, files unreadable
    assert f"| {day_of(0).isoformat()} | 2 | 3 | 3 | 0 | 0 | 0 | 2 |" in meta["per_day"].value
    assert landed.metadata("outcome_extracts")["incomplete_days"].value.keys() == {
        day_of(1).isoformat()
    }
    # the file is delivered again, whole: re-running the day completes it
    write_parquet(day0 / "c.parquet", rows[0][3:], INFERENCE_TYPES)
    (day0 / "d.parquet").unlink()
    rerun = Landed(settings, ingest(settings, day_of(0), day_of(0)))
    assert rerun.result.success
    assert stored_ids(rerun) == VALID_IDS
    assert [row[:3] for row in rerun.query(QUARANTINED_FILES)] == [
        ("outcomes", day_of(1), "b.parquet")
    ]
    assert rerun.metadata("raw_inference_logs")["incomplete_days"].value == {}


def test_a_csv_file_whose_header_is_not_utf8_is_an_unreadable_file(tmp_path):
    settings = make_settings(tmp_path)
    where = folder(settings.landing_dir, "inference_logs", 0)
    write_csv(where / "a.csv", records(day_of(0))[:2])
    write_csv(where / "b.csv", records(day_of(0))[2:])
    (where / "b.csv").write_bytes(b"\xff" + (where / "b.csv").read_bytes())
    result = ingest(settings, day_of(0), day_of(0))
    assert result.success
    landed = Landed(settings, result)
    assert stored_ids(landed) == VALID_IDS[:2]
    ((_, _, name, error),) = landed.query(QUARANTINED_FILES)
    assert name == "b.csv" and "not UTF-8" in error
