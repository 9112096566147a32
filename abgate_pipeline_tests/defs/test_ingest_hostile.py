"""Hostile landing files cost the records they spoil, never the day, through the ingest assets.

Each test lands a small day of valid records (the dataset of test_ingest_formats) beside one kind
of damage: bytes that are not UTF-8, NUL bytes, a byte-order mark, blank and CRLF lines, a huge
line, an empty file. The run succeeds, the valid records are stored, the damaged ones are
quarantined with their reason, and records read = stored + quarantined.
"""

from __future__ import annotations

import json

from abgate_pipeline_tests.conftest import make_settings
from abgate_pipeline_tests.defs.test_ingest_formats import (
    EMAIL,
    REQUESTS,
    SUPPORT,
    Landed,
    OtlpStyle,
    day_of,
    folder,
    ingest,
    otlp_document,
    otlp_span,
    quarantined,
    records,
    stored_logs,
    write_csv,
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
