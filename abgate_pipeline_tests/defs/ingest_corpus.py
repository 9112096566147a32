"""A seeded corpus of hostile landing files, with the truth about every record in it.

`write_corpus` writes a few days of both landing datasets in JSONL, CSV, Parquet and OTLP, valid
records mixed with every kind of damage the ingest must survive (bytes that are not UTF-8, NUL
bytes, byte-order marks, CRLF and blank lines, a huge line, empty files, broken JSON, JSON that
is not an object, NaN / infinite / negative / fractional / absurd numbers, ids written as
objects or lists, unterminated CSV quotes, too many CSV fields, corrupt Parquet files, truncated
OTLP documents, duplicates), and returns what it planted: each record's marker, the reason it must
be quarantined with (None for a valid record), how many records each file holds as its reader
counts them, the files that cannot be read at all, and the blank lines and non-request spans.

Every record carries its marker in a `fuzz_id` field (a segment of stored logs, and part of every
quarantined record's raw text), so the test can tell each stored or quarantined row's record.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SUPPORT, SALES = "support-bot-model-upgrade", "sales-assistant-cheaper-model"
VARIANTS = {SUPPORT: ("champion", "challenger"), SALES: ("champion", "challenger")}
EMAIL_DOMAIN = "@example.com"  # planted PII; none of it may be stored
HUGE_PROMPT_CHARS = 5_000_000

LOG_TYPES = {
    "timestamp": pa.timestamp("us", tz="UTC"),
    "input_tokens": pa.float64(),  # a float column: 2.0 is a count, 2.5 is not
    "output_tokens": pa.int64(),
    "cost_usd": pa.float64(),
    "latency_ms": pa.float64(),
    "fallback": pa.bool_(),
    "refusal": pa.bool_(),
    "schema_valid": pa.bool_(),
}
OUTCOME_TYPES = {"timestamp": pa.timestamp("us", tz="UTC"), "value": pa.float64()}

# Damage to one inference-log record: kind -> (fields to set, reason). `None` removes a field.
LOG_DAMAGE = {
    "no unit": ({"unit_id": None}, "missing required field: unit_id"),
    "unknown variant": ({"variant": "treatment-x"}, "unknown variant"),
    "cost NaN text": ({"cost_usd": "NaN"}, "bad type: cost_usd"),
    "cost infinite": ({"cost_usd": math.inf}, "bad type: cost_usd"),
    "cost 1e308": ({"cost_usd": 1e308}, "out of range: cost_usd"),
    "cost negative": ({"cost_usd": -0.5}, "out of range: cost_usd"),
    "latency NaN": ({"latency_ms": math.nan}, "bad type: latency_ms"),
    "latency negative": ({"latency_ms": -3.0}, "out of range: latency_ms"),
    "tokens fractional": ({"input_tokens": 2.5}, "bad type: input_tokens"),
    "tokens negative": ({"input_tokens": -4}, "out of range: input_tokens"),
    "tokens absurd": ({"output_tokens": 10**13}, "out of range: output_tokens"),
    "fallback not boolean": ({"fallback": "maybe"}, "bad type: fallback"),
}
# Kinds a format cannot write: Parquet's typed cost column holds no text, a span's latency is
# end - start, and a span's fallback attribute is a JSON boolean.
NOT_IN = {
    "parquet": {"cost NaN text", "fallback not boolean"},
    "otlp": {"latency NaN", "fallback not boolean"},
}
OUTCOME_DAMAGE = {
    "proportion outcome -1": ({"outcome": "ticket_resolved", "value": -1}, "out of range: value"),
    "proportion outcome 2": ({"outcome": "ticket_resolved", "value": 2}, "out of range: value"),
    "value 1e308": ({"outcome": "csat", "value": 1e308}, "out of range: value"),
    "value NaN": ({"outcome": "csat", "value": math.nan}, "bad type: value"),
    "no key": ({"correlation_key": None}, "missing required field: correlation_key"),
}


@dataclass
class Planted:
    """One record as written: its marker, dataset, day and file, and the reason it must be
    quarantined with (None when it is valid and must be stored exactly once)."""

    marker: str
    dataset: str
    day: date
    file: str
    reason: str | None


@dataclass
class Corpus:
    """What write_corpus planted."""

    records: list[Planted] = field(default_factory=list)
    # file path -> records its reader reads (a CSV record a broken quote swallowed is no record)
    file_records: Counter[str] = field(default_factory=Counter)
    # (dataset, day) -> files that cannot be read at all; their records are never read
    unreadable: dict[tuple[str, date], list[str]] = field(default_factory=dict)
    # valid records swallowed by a broken CSV quote: inside that quarantined record, not stored
    swallowed: set[str] = field(default_factory=set)
    blank_lines: Counter[str] = field(default_factory=Counter)  # dataset -> blank lines
    spans_skipped: int = 0

    def valid(self, dataset: str) -> set[str]:
        """Markers of the valid records of `dataset` that its files let the reader read."""
        return {
            r.marker
            for r in self.records
            if r.dataset == dataset
            and r.reason is None
            and r.marker not in self.swallowed
            and r.file not in self.unreadable_files
        }

    @property
    def unreadable_files(self) -> set[str]:
        return {f for files in self.unreadable.values() for f in files}


class _Writer:
    """Builds the records of one corpus from one seeded random generator."""

    def __init__(self, landing: Path, seed: int):
        self.landing = landing
        self.rng = random.Random(seed)
        self.corpus = Corpus()
        self.n = 0

    def marker(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}-{self.n:05d}"

    def folder(self, dataset: str, day: date) -> Path:
        where = self.landing / dataset / day.isoformat()
        where.mkdir(parents=True, exist_ok=True)
        return where

    def when(self, day: date) -> str:
        ts = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
            seconds=self.rng.uniform(0, 86_399)
        )
        return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def prompt(self, i: int) -> str:
        words = ["refund", "login", "billing", "export", "sync", "invoice", "reset"]
        text = " ".join(self.rng.choices(words, k=self.rng.randint(2, 8)))
        if self.rng.random() < 0.3:
            text += f", reach me at user{i}{EMAIL_DOMAIN}"  # a comma: quoted in CSV
        return text

    def log(self, day: date) -> dict:
        experiment = self.rng.choice([SUPPORT, SALES])
        marker = self.marker("log")
        return {
            "request_id": marker,
            "timestamp": self.when(day),
            "experiment_id": experiment,
            "variant": self.rng.choice(VARIANTS[experiment]),
            "unit_id": f"u-{self.rng.randrange(400)}",
            "correlation_key": f"k-{self.rng.randrange(900)}",
            "model": "helix-m",
            "input_tokens": self.rng.choice([self.rng.randint(1, 4000), 3.0]),
            "output_tokens": self.rng.randint(0, 900),
            "cost_usd": round(self.rng.uniform(0, 0.01), 6),
            "latency_ms": round(self.rng.uniform(50, 4000), 1),
            "fallback": self.rng.random() < 0.1,
            "refusal": self.rng.random() < 0.05,
            "schema_valid": self.rng.random() < 0.95,
            "prompt": self.prompt(self.n),
            "response": "done",
            "fuzz_id": marker,
        }

    def event(self, day: date) -> dict:
        marker = self.marker("evt")
        outcome = self.rng.choice(["ticket_resolved", "csat", "lead_qualified"])
        value = self.rng.choice([0, 1]) if outcome != "csat" else self.rng.choice([1, 3, 5, -1])
        return {
            "event_id": marker,
            "correlation_key": f"k-{self.rng.randrange(900)}",
            "outcome": outcome,
            "value": value,
            "timestamp": self.when(day),
            "source": self.rng.choice(["crm", "zendesk, eu"]),  # a comma: quoted in CSV
            "fuzz_id": marker,
        }

    def make(self, dataset: str, day: date) -> dict:
        return self.log(day) if dataset == "inference_logs" else self.event(day)

    def plant(self, dataset, day, path: Path, record: dict, reason: str | None) -> None:
        self.corpus.records.append(Planted(record["fuzz_id"], dataset, day, str(path), reason))

    def mixed(self, dataset: str, day: date, path: Path, fmt: str, n_valid: int):
        """`n_valid` valid records and one of each damage the format can write, shuffled, with
        their reasons (None for valid records)."""
        damage = LOG_DAMAGE if dataset == "inference_logs" else OUTCOME_DAMAGE
        rows = [(self.make(dataset, day), None) for _ in range(n_valid)]
        for kind, (changes, reason) in damage.items():
            if kind in NOT_IN.get(fmt, ()):
                continue
            record = self.make(dataset, day)
            for key, value in changes.items():
                if value is None:
                    record.pop(key)
                else:
                    record[key] = value
            rows.append((record, reason))
        late = self.make(dataset, day)  # the next day's record in this day's folder
        late["timestamp"] = self.when(day + timedelta(days=1))
        rows.append((late, "timestamp outside partition"))
        self.rng.shuffle(rows)
        return rows

    # --- writers per format ------------------------------------------------------------------

    def jsonl(self, dataset: str, day: date, name: str, n_valid: int, *, huge: bool = False):
        path = self.folder(dataset, day) / name
        rows = self.mixed(dataset, day, path, "jsonl", n_valid)
        id_field = "request_id" if dataset == "inference_logs" else "event_id"
        label = "unit_id" if dataset == "inference_logs" else "source"
        first = next(r for r, reason in rows if reason is None)
        for changes, reason in [
            ({id_field: {"id": 1}}, f"bad type: {id_field}"),  # an id written as an object
            ({label: ["a", "b"]}, f"bad type: {label}"),  # a label written as a list
        ]:
            marker = self.marker("obj")
            rows.append(({**first, id_field: marker, **changes, "fuzz_id": marker}, reason))
        if huge:
            rows.append(({**self.make(dataset, day), "prompt": "z" * HUGE_PROMPT_CHARS}, None))
        lines: list[bytes] = []
        for record, reason in rows:
            self.plant(dataset, day, path, record, reason)
            lines.append(json.dumps(record).encode())
        for broken, reason in [
            (b'{"fuzz_id": "%s", "request_id": "x", ', "invalid JSON"),  # cut off
            (b'["%s", 1, 2]', "not a JSON object"),
            (b'{"fuzz_id": "%s", "prompt": "a\0b"}', "invalid JSON"),  # a raw NUL byte
            (b'{"fuzz_id": "%s", "prompt": "caf\xe9 \xff"}', "invalid UTF-8"),
        ]:
            marker = self.marker("bad")
            self.corpus.records.append(Planted(marker, dataset, day, str(path), reason))
            lines.append(broken % marker.encode())
        self.rng.shuffle(lines)
        # a second copy of a valid record's id, after it: a duplicate
        copy = {**first, "fuzz_id": self.marker("dup")}
        self.plant(dataset, day, path, copy, f"duplicate {id_field}")
        lines.append(json.dumps(copy).encode())
        self.corpus.file_records[str(path)] = len(lines)
        blanks = self.rng.randint(1, 4)
        for _ in range(blanks):
            lines.insert(self.rng.randrange(len(lines) + 1), self.rng.choice([b"", b"  ", b"\r"]))
        self.corpus.blank_lines[dataset] += blanks
        newline = b"\r\n" if self.rng.random() < 0.5 else b"\n"
        bom = b"\xef\xbb\xbf" if self.rng.random() < 0.5 else b""
        path.write_bytes(bom + newline.join(lines) + newline)

    def csv(self, dataset: str, day: date, name: str, n_valid: int, *, quote_at: str):
        """A CSV file with a record whose quote is never closed, in the middle (`quote_at` =
        "middle": it swallows the lines up to the next line with a `"`) or as the last line."""
        path = self.folder(dataset, day) / name
        rows = self.mixed(dataset, day, path, "csv", n_valid)
        header = list(dict.fromkeys(k for r, _ in rows for k in r))
        # (line, marker, reason); line 1 of the file is the header
        body = [
            (_csv_line([_csv_text(r.get(k)) for k in header]), r["fuzz_id"], reason)
            for r, reason in rows
        ]
        at = (
            self.rng.randrange(len(body) // 3, 2 * len(body) // 3)
            if quote_at == "middle"
            else len(body)
        )
        quoted = self.marker("quote")
        body.insert(at, ('"' + quoted + ",x,x,x", quoted, None))
        end = next((j for j in range(at + 1, len(body)) if '"' in body[j][0]), len(body) - 1)
        self.corpus.swallowed |= {marker for _, marker, _ in body[at + 1 : end + 1]}
        for broken, reason in [
            (lambda m: ",".join([m] * (len(header) + 3)), "malformed CSV row: too many columns"),
            (lambda m: m + ",caf\udce9", "invalid UTF-8"),  # a lone byte 0xE9
        ]:
            marker = self.marker("bad")
            body.insert(self.rng.randrange(at + 1), (broken(marker), marker, reason))  # before it
            at, end = at + 1, end + 1
        span = f" (lines {at + 2}-{end + 2})" if end > at else ""  # line 1 is the header
        body[at] = (*body[at][:2], "malformed CSV row: unquoted value" + span)
        for _, marker, reason in body:
            self.corpus.records.append(Planted(marker, dataset, day, str(path), reason))
        self.corpus.file_records[str(path)] = len(body) - (end - at)
        text = "\n".join([_csv_line(header), *(line for line, _, _ in body)]) + "\n"
        path.write_bytes(text.encode("utf-8", errors="surrogateescape"))

    def parquet(self, dataset: str, day: date, name: str, n_valid: int):
        path = self.folder(dataset, day) / name
        rows = self.mixed(dataset, day, path, "parquet", n_valid)
        for record, reason in rows:
            self.plant(dataset, day, path, record, reason)
        types = LOG_TYPES if dataset == "inference_logs" else OUTCOME_TYPES
        _write_parquet(path, [r for r, _ in rows], types)
        self.corpus.file_records[str(path)] = len(rows)

    def broken_parquet(self, dataset: str, day: date, name: str, n_valid: int, *, empty: bool):
        """A Parquet file of valid records cut off halfway (an interrupted upload), or of zero
        bytes: it cannot be read, so none of its records is."""
        path = self.folder(dataset, day) / name
        rows = [self.make(dataset, day) for _ in range(n_valid)]
        for record in rows:
            self.plant(dataset, day, path, record, None)
        types = LOG_TYPES if dataset == "inference_logs" else OUTCOME_TYPES
        _write_parquet(path, rows, types)
        content = path.read_bytes()
        path.write_bytes(b"" if empty else content[: len(content) // 2])
        self.corpus.unreadable.setdefault((dataset, day), []).append(str(path))

    def otlp(self, day: date, name: str, n_valid: int):
        """Collector file export: one OTLP/JSON document per line, a span each, with spans that
        are not requests, a truncated line, a line that is not UTF-8, blank lines."""
        path = self.folder("inference_logs", day) / name
        rows = self.mixed("inference_logs", day, path, "otlp", n_valid)
        lines: list[bytes] = []
        for record, reason in rows:
            self.plant("inference_logs", day, path, record, reason)
            lines.append(json.dumps(_otlp_document(_span(record))).encode())
        for attribute, reason in [
            ("abgate.request_id", "bad type: request_id"),
            ("enduser.id", "bad type: unit_id"),
        ]:
            record = self.log(day)
            span = _span(record, drop={attribute})
            span["attributes"].append(
                {"key": attribute, "value": {"kvlistValue": {"values": []}}}
                if attribute == "abgate.request_id"
                else {"key": attribute, "value": {"arrayValue": {"values": [{"stringValue": "a"}]}}}
            )
            self.plant("inference_logs", day, path, record, reason)
            lines.append(json.dumps(_otlp_document(span)).encode())
        truncated = self.log(day)
        self.plant("inference_logs", day, path, truncated, "invalid JSON")
        document = json.dumps(_otlp_document(_span(truncated))).encode()
        lines.append(document[: document.index(truncated["fuzz_id"].encode()) + 20])
        undecodable = self.log(day)
        self.plant("inference_logs", day, path, undecodable, "invalid UTF-8")
        lines.append(
            json.dumps(_otlp_document(_span(undecodable)))
            .encode()
            .replace(b"done", b"d\xc3one\xc3")
        )
        skipped = self.rng.randint(1, 3)
        for _ in range(skipped):
            lines.append(json.dumps(_otlp_document(_plain_span(self.when(day)))).encode())
        self.corpus.spans_skipped += skipped
        self.rng.shuffle(lines)
        self.corpus.file_records[str(path)] = len(lines) - skipped
        lines.insert(self.rng.randrange(len(lines)), b"")
        self.corpus.blank_lines["inference_logs"] += 1
        path.write_bytes(b"\n".join(lines) + b"\n")

    def truncated_otlp_document(self, day: date, name: str, n_spans: int):
        """An OTLP/JSON export (one document on one line) cut off: one unreadable record."""
        path = self.folder("inference_logs", day) / name
        records = [self.log(day) for _ in range(n_spans)]
        document = json.dumps({"resourceSpans": [
            {"scopeSpans": [{"spans": [_span(r) for r in records]}]}
        ]}).encode()  # fmt: skip
        path.write_bytes(document[: len(document) // 2])
        # the one record is the cut-off document, whose text starts with the first span's marker
        self.plant("inference_logs", day, path, records[0], "invalid JSON")
        self.corpus.file_records[str(path)] = 1

    def empty(self, dataset: str, day: date, name: str):
        path = self.folder(dataset, day) / name
        path.write_bytes(b"")
        self.corpus.file_records[str(path)] = 0


def write_corpus(landing: Path, days: list[date], seed: int) -> Corpus:
    """Write the corpus for `days` under `landing` (ABGATE_LANDING_DIR layout)."""
    w = _Writer(landing, seed)
    for i, day in enumerate(days):
        w.jsonl("inference_logs", day, "a.jsonl", 120, huge=i == 0)
        w.csv("inference_logs", day, "b.csv", 80, quote_at="middle")
        w.csv("inference_logs", day, "c.csv", 20, quote_at="end")
        w.parquet("inference_logs", day, "d.parquet", 100)
        w.otlp(day, "e.otlp.jsonl", 60)
        w.jsonl("outcomes", day, "a.jsonl", 80)
        w.csv("outcomes", day, "b.csv", 50, quote_at="middle")
        w.parquet("outcomes", day, "c.parquet", 60)
        if i % 2 == 0:
            w.broken_parquet("inference_logs", day, "x.parquet", 30, empty=i == 2)
            w.empty("inference_logs", day, "z.jsonl")
        else:
            w.broken_parquet("outcomes", day, "x.parquet", 20, empty=False)
            w.empty("outcomes", day, "z.csv")
            w.truncated_otlp_document(day, "t.otlp.json", 5)
    return w.corpus


def _csv_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _csv_line(values: list[str]) -> str:
    """One RFC 4180 record (values with commas quoted), without its line end."""
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(values)
    return out.getvalue()


def _write_parquet(path: Path, rows: list[dict], types: dict[str, pa.DataType]) -> None:
    names = list(dict.fromkeys(k for r in rows for k in r))
    columns = {}
    for name in names:
        kind = types.get(name, pa.string())
        values = [r.get(name) for r in rows]
        if pa.types.is_timestamp(kind):
            values = [datetime.fromisoformat(v.replace("Z", "+00:00")) for v in values]
        elif kind == pa.string():
            values = [None if v is None else str(v) for v in values]
        columns[name] = pa.array(values, type=kind)
    pq.write_table(pa.table(columns), path)


def _any_value(value) -> dict:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}


def _nanos(iso: str) -> int:
    ts = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return round(ts.timestamp() * 1e6) * 1000


def _span(record: dict, drop: set[str] = frozenset()) -> dict:
    """A GenAI client span carrying a record (OTel GenAI and abgate.* attributes)."""
    start = _nanos(record["timestamp"])
    attributes = {
        "abgate.request_id": record["request_id"],
        "abgate.experiment_id": record["experiment_id"],
        "feature_flag.result.variant": record.get("variant"),
        "enduser.id": record.get("unit_id"),
        "session.id": record.get("correlation_key"),
        "gen_ai.response.model": record["model"],
        "gen_ai.usage.input_tokens": record["input_tokens"],
        "gen_ai.usage.output_tokens": record["output_tokens"],
        "gen_ai.usage.cost": record["cost_usd"],
        "abgate.fallback": record["fallback"],
        "abgate.refusal": record["refusal"],
        "abgate.schema_valid": record["schema_valid"],
        "gen_ai.prompt": record["prompt"],
        "gen_ai.completion": record["response"],
        "abgate.fuzz_id": record["fuzz_id"],
    }
    return {
        "traceId": f"{random.Random(record['fuzz_id']).getrandbits(128):032x}",
        "spanId": f"{random.Random(record['fuzz_id'] + 's').getrandbits(64):016x}",
        "name": "chat",
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + round(record["latency_ms"] * 1e6)),
        "attributes": [
            {"key": k, "value": _any_value(v)}
            for k, v in attributes.items()
            if v is not None and k not in drop
        ],
        "status": {"code": 1},
    }


def _plain_span(when: str) -> dict:
    """A span that is not an experiment request (an HTTP handler)."""
    start = _nanos(when)
    return {
        "traceId": "ab" * 16,
        "spanId": "cd" * 8,
        "name": "POST /chat",
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 5_000_000),
        "attributes": [{"key": "http.request.method", "value": {"stringValue": "POST"}}],
    }


def _otlp_document(span: dict) -> dict:
    return {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
