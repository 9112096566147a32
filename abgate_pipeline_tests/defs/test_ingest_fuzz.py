"""A seeded corpus of hostile landing files (ingest_corpus.py) through the ingest assets, twice.

Four days of both datasets in JSONL, CSV, Parquet and OTLP, valid records mixed with every kind
of damage. Nothing crashes; per file and day, records read = stored + quarantined; every valid
record is stored exactly once, every invalid one is quarantined with its reason; files that
cannot be read are recorded; no planted e-mail address is stored; a re-run of the same days
stores the same rows. `pytest -s` prints the corpus totals.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import pytest

from abgate_pipeline_tests.conftest import make_settings
from abgate_pipeline_tests.defs.ingest_corpus import EMAIL_DOMAIN, Corpus, write_corpus
from abgate_pipeline_tests.defs.test_ingest_formats import Landed, day_of, ingest

DAYS = [day_of(i) for i in range(4)]
SEED = 20261103
DATASETS = {"inference_logs": "inference_logs", "outcomes": "outcome_events"}
MARKER = r"(?:log|evt|dup|obj|bad|quote)-\d{5}"

# Everything the ingest leaves in the warehouse, to compare a re-run with the first run.
SNAPSHOT = {
    "inference_logs": "SELECT * EXCLUDE (attributes), attributes::VARCHAR FROM inference_logs",
    "outcome_events": "SELECT * FROM outcome_events",
    "quarantine": "SELECT * FROM quarantine",
    "quarantined_files": "SELECT * EXCLUDE (quarantined_at) FROM quarantined_files",
}


@dataclass
class Fuzzed:
    corpus: Corpus
    runs: list[Landed]
    snapshots: list[dict[str, list[tuple]]]

    @property
    def landed(self) -> Landed:
        return self.runs[-1]


def snapshot(landed: Landed) -> dict[str, list[tuple]]:
    return {name: sorted(landed.query(sql), key=repr) for name, sql in SNAPSHOT.items()}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory) -> Fuzzed:
    settings = make_settings(tmp_path_factory.mktemp("fuzz"))
    corpus = write_corpus(settings.landing_dir, DAYS, SEED)
    runs, snapshots = [], []
    for _ in range(2):  # the second run re-ingests the same days
        landed = Landed(settings, ingest(settings, DAYS[0], DAYS[-1]))
        runs.append(landed)
        snapshots.append(snapshot(landed) if landed.result.success else {})
    return Fuzzed(corpus, runs, snapshots)


def stored_markers(landed: Landed, dataset: str) -> Counter[str]:
    """The record marker of every stored row (a log's fuzz_id segment, an event's id)."""
    sql = {
        "inference_logs": "SELECT attributes['fuzz_id'] FROM inference_logs",
        "outcomes": "SELECT event_id FROM outcome_events",
    }[dataset]
    return Counter(row[0] for row in landed.query(sql))


def quarantined_markers(landed: Landed, dataset: str) -> dict[str, str]:
    """Marker -> reason of every quarantined record: the marker after `fuzz_id` in its raw text,
    else (a CSV line as written, a JSON array) the first marker in it."""
    found = {}
    for reason, raw in landed.query(
        "SELECT reason, raw FROM quarantine WHERE dataset = ?", dataset
    ):
        match = re.search(rf"fuzz_id.{{0,40}}?({MARKER})", raw) or re.search(f"({MARKER})", raw)
        assert match is not None, raw[:200]
        assert match.group(1) not in found, match.group(1)
        found[match.group(1)] = reason
    return found


def expected_quarantine(corpus: Corpus, dataset: str) -> dict[str, str]:
    return {
        r.marker: r.reason
        for r in corpus.records
        if r.dataset == dataset and r.reason is not None and r.marker not in corpus.swallowed
    }


def totals(fuzzed: Fuzzed) -> dict[str, int]:
    """The corpus in numbers: records written, stored, quarantined, lost, doubled, crashes."""
    corpus, landed = fuzzed.corpus, fuzzed.landed
    stored = {ds: stored_markers(landed, ds) for ds in DATASETS}
    held = {ds: quarantined_markers(landed, ds) for ds in DATASETS}
    lost = sum(
        len(corpus.valid(ds) - set(stored[ds]))
        + len(set(expected_quarantine(corpus, ds)) - set(held[ds]))
        for ds in DATASETS
    )
    in_files = [r for r in corpus.records if r.file in corpus.unreadable_files]
    return {
        "records written": len(corpus.records),
        "valid": sum(r.reason is None for r in corpus.records),
        "invalid": sum(r.reason is not None for r in corpus.records),
        "stored": sum(sum(c.values()) for c in stored.values()),
        "quarantined": sum(len(h) for h in held.values()),
        "swallowed by a broken CSV quote (inside its quarantined record)": len(corpus.swallowed),
        "in unreadable files (file quarantined)": len(in_files),
        "files quarantined": len(landed.query("SELECT * FROM quarantined_files")),
        "lost": lost,
        "doubled": sum(n - 1 for c in stored.values() for n in c.values() if n > 1),
        "crashes": sum(not run.result.success for run in fuzzed.runs),
    }


def test_no_run_crashes_and_nothing_is_lost_or_doubled(fuzzed):
    numbers = totals(fuzzed)
    print("\nfuzz corpus totals:", numbers)
    assert numbers["records written"] > 2000
    assert (numbers["lost"], numbers["doubled"], numbers["crashes"]) == (0, 0, 0)


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_valid_record_is_stored_exactly_once(fuzzed, dataset):
    stored = stored_markers(fuzzed.landed, dataset)
    assert set(stored) == fuzzed.corpus.valid(dataset)  # and no invalid record
    assert set(stored.values()) == {1}


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_invalid_record_is_quarantined_with_its_reason(fuzzed, dataset):
    assert quarantined_markers(fuzzed.landed, dataset) == expected_quarantine(
        fuzzed.corpus, dataset
    )


def test_lines_a_broken_quote_swallows_are_inside_its_record(fuzzed):
    raws = " ".join(
        raw
        for (raw,) in fuzzed.landed.query(
            "SELECT raw FROM quarantine WHERE reason LIKE 'malformed CSV row: unquoted value (lines %'"
        )
    )
    assert fuzzed.corpus.swallowed and all(m in raws for m in fuzzed.corpus.swallowed)


def test_records_read_are_stored_plus_quarantined_per_file_and_day(fuzzed):
    landed = fuzzed.landed
    per_file = Counter()
    for table in (*DATASETS.values(), "quarantine"):
        for file, n in landed.query(f"SELECT source_file, count(*) FROM {table} GROUP BY 1"):
            per_file[file] += n
    expected = {f: n for f, n in fuzzed.corpus.file_records.items() if n}
    assert dict(per_file) == expected
    for asset in ("raw_inference_logs", "outcome_extracts"):
        meta = landed.metadata(asset)
        assert meta["reconciles"].value is True
        for day in DAYS:  # the per-day table: records read = stored + quarantined
            row = next(r for r in meta["per_day"].value.splitlines() if r.startswith(f"| {day}"))
            _, _, read, stored, held, *_ = (cell.strip() for cell in row.split("|")[1:])
            assert int(read) == int(stored) + int(held), row


def test_unreadable_files_are_recorded_and_their_days_incomplete(fuzzed):
    landed = fuzzed.landed
    recorded = {
        (dataset, day): sorted(files)
        for dataset, day, files in landed.query(
            "SELECT dataset, partition_date, list(source_file) FROM quarantined_files GROUP BY ALL"
        )
    }
    assert recorded == {key: sorted(files) for key, files in fuzzed.corpus.unreadable.items()}
    for dataset, asset in (
        ("inference_logs", "raw_inference_logs"),
        ("outcomes", "outcome_extracts"),
    ):
        incomplete = landed.metadata(asset)["incomplete_days"].value
        assert set(incomplete) == {
            d.isoformat() for ds, d in fuzzed.corpus.unreadable if ds == dataset
        }


def test_blank_lines_and_spans_that_are_not_requests_are_counted_not_records(fuzzed):
    logs, events = (fuzzed.landed.metadata(a) for a in ("raw_inference_logs", "outcome_extracts"))
    assert logs["blank_lines"].value == fuzzed.corpus.blank_lines["inference_logs"]
    assert events["blank_lines"].value == fuzzed.corpus.blank_lines["outcomes"]
    assert logs["spans_skipped"].value == fuzzed.corpus.spans_skipped


def test_no_planted_pii_is_stored(fuzzed):
    for sql in (
        "SELECT prompt, response, attributes::VARCHAR FROM inference_logs",
        "SELECT raw FROM quarantine",
        "SELECT error FROM quarantined_files",
    ):
        assert not any(
            EMAIL_DOMAIN in (cell or "") for row in fuzzed.landed.query(sql) for cell in row
        )
    assert any(
        "[EMAIL:" in (raw or "") for (raw,) in fuzzed.landed.query("SELECT raw FROM quarantine")
    )


def test_a_rerun_of_the_same_days_stores_the_same_rows(fuzzed):
    first, second = fuzzed.snapshots
    assert first and first == second
    assert len(first["inference_logs"]) == len(set(first["inference_logs"]))
