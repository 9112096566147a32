"""`abgate bench`: what the full gate costs next to the query a user would otherwise write.

`abgate bench --events N` simulates N inference events of the demo's support-bot experiment
(`demo/experiments.yaml`; ~0.3 outcome events per request) into Parquet landing files, one file
per day and dataset, then measures, each in its own child process so that its wall time and peak
resident memory are its own:

1. `graph`: the full graph through Dagster (in-process executor) on a fresh warehouse and
   instance: ingest every landing day, then analyse the final as-of day up to `decision.json`.
   That is what the daily schedule does over a period (each landing day ingested once, one as-of
   analysed per run), so it is the like-for-like of one query over all the files.
2. `duckdb`: one hand-written DuckDB query from the same Parquet files to the per-variant
   sufficient statistics (n, sum, sum of squares) of the primary metric and a guardrail, with
   the same attribution-window semantics.
3. `pandas`: `read_parquet` + merge + groupby computing the same (only for N <= 10M).

and, reported on their own lines and not in the ratio:
- `store`: the floor under ingest. Every landing file copied as it is into a fresh DuckDB file
  (a transaction per day and dataset, as ingest commits them), with nothing else: no
  validation, redaction, quarantine or analysis. What storing the rows alone costs, next to
  the query that only reads them.
- `backfill`: `abgate run --from --to` on a fresh warehouse, which recomputes the experiment
  table once per as-of day.

With `--reuse-landing` a kept workdir's landing files are measured again (every contender from
scratch) instead of generated anew: generating 100M events takes minutes.

The per-variant statistics of every contender must agree or the benchmark fails. The last line
is machine-readable: `ratio_vs_duckdb=<graph / duckdb wall time> peak_rss_mb=<graph> events=<N>`.

Choices that shape the numbers:
- Prompts and responses are absent (as when a team logs metadata only): redaction then costs
  only the engine-side RE2 pre-filter over the segment attribute, never the Python UDF.
- The hand-written query and the store floor run under the warehouse's DuckDB settings
  (`warehouse.connection_config`: memory limit, no vacuum tasks), so all spill alike.
- Peak memory is VmHWM of the child's own address space, not `ru_maxrss` (which inherits the
  parent's peak across vfork + exec, see `peak_rss_mb`).
- Heavy libraries are imported inside the contender that uses them, so no child pays for
  another's imports in its time or memory.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from abgate_pipeline.config import DEMO_EXPERIMENTS, ExperimentSpec, load_experiments

EXPERIMENT_ID = "support-bot-model-upgrade"
CHECKED_METRICS = ("resolution_rate", "refusal_rate")  # the primary metric and a guardrail
PANDAS_MAX_EVENTS = 10_000_000
REL_TOL = 1e-9
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000

# Traffic shape (the rest comes from the demo simulator's support scenario).
KEYS_PER_UNIT = 1.6  # tickets per user
CSAT_RATE = 0.06  # surveyed tickets; with resolutions this gives ~0.3 outcome events per request
KEYS_PER_CHUNK = 2_000_000  # ~3.5M requests per generation chunk: bounded memory at any N
MAX_CONVERSATION_MS = 29 * MINUTE_MS  # requests of one ticket stay within half an hour

# The graph's first run ingests these; its second analyses the final as-of day.
INGEST_ASSETS = ("raw_inference_logs", "outcome_extracts")
CONTENDERS = ("generate", "duckdb", "store", "graph", "pandas", "backfill")
LABELS = {
    "graph": "(1) full graph: ingest all days + analyse the final as-of",
    "duckdb": "(2) DuckDB: one hand-written query",
    "pandas": "(3) pandas: read_parquet + merge + groupby",
    "store": "    store floor: landing rows stored as is, not in the ratio",
    "backfill": "    backfill: every as-of day (abgate run), not in the ratio",
}


class ContenderFailed(RuntimeError):
    """A child process exited with an error; the message ends with its log's tail."""


class LandingNotReusable(RuntimeError):
    """`--reuse-landing` found no landing files generated for this workload."""


@dataclass(frozen=True)
class Workload:
    """What is simulated and analysed: N events over `days` days of one experiment."""

    workdir: Path
    events: int
    days: int
    seed: int

    @property
    def landing(self) -> Path:
        return self.workdir / "landing"

    @property
    def experiments_file(self) -> Path:
        return self.workdir / "experiments.yaml"

    @property
    def results(self) -> Path:
        return self.workdir / "results"

    def experiment(self) -> ExperimentSpec:
        return next(e for e in load_experiments(self.experiments_file) if e.id == EXPERIMENT_ID)

    def as_of(self, exp: ExperimentSpec) -> date:
        """The final as-of day: the last simulated day."""
        return exp.start + timedelta(days=self.days - 1)


# --- measuring ---------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's own peak resident memory in MB.

    VmHWM belongs to the current address space. `ru_maxrss` does not: Linux carries the parent's
    peak over into the child's across vfork + exec (measured here: a child of a 1.5 GB parent
    reports 1.5 GB while using 10 MB), so it is only the fallback where /proc is missing.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


# --- the event generator -----------------------------------------------------------------------


def write_experiments(workload: Workload) -> None:
    """The demo config reduced to the support-bot experiment (the only one with traffic here)."""
    document = yaml.safe_load(DEMO_EXPERIMENTS.read_text())
    document["experiments"] = [e for e in document["experiments"] if e["id"] == EXPERIMENT_ID]
    workload.experiments_file.write_text(yaml.safe_dump(document, sort_keys=False))


def generate(workload: Workload) -> dict:
    """Write the landing files chunk by chunk, so memory is bounded whatever N is."""
    import numpy as np

    exp = workload.experiment()
    rng = np.random.default_rng(workload.seed)
    traffic = _Traffic.for_experiment(exp, workload.events)
    unit_variant = rng.choice(len(exp.variants), size=traffic.units, p=traffic.shares)
    counts = {"requests": 0, "keys": 0, "outcome_events": 0}
    with _DayWriters(workload.landing, exp.start, workload.days) as writers:
        while counts["requests"] < workload.events:
            keys = _draw_keys(rng, traffic, workload, exp.start, counts["requests"])
            keys["variant"] = unit_variant[keys["unit"]]
            keys["first_index"] = counts["keys"]
            requests = _draw_requests(rng, traffic, keys, counts["requests"])
            outcomes = _draw_outcomes(rng, traffic, keys, requests, writers.end_ms)
            writers.write(
                "inference_logs", _request_table(exp, traffic, keys, requests), requests["ts"]
            )
            writers.write(
                "outcomes", _outcome_table(traffic, keys, outcomes, counts), outcomes["ts"]
            )
            counts["requests"] += len(requests["ts"])
            counts["keys"] += len(keys["ts"])
            counts["outcome_events"] += len(outcomes["ts"])
    files = sorted(workload.landing.rglob("*.parquet"))
    return {
        "workload": {"events": workload.events, "days": workload.days, "seed": workload.seed},
        **counts,
        "units": traffic.units,
        "files": len(files),
        "parquet_mb": round(sum(f.stat().st_size for f in files) / 2**20, 1),
    }


@dataclass(frozen=True)
class _Traffic:
    """Per-variant parameters, from the demo simulator's support scenario."""

    variants: tuple[str, ...]
    shares: tuple[float, ...]
    units: int
    scenario: Any  # simulate.Scenario
    requests_per_key_p: tuple[float, ...]
    hourly_weights: Any
    weekend_weight: float

    @classmethod
    def for_experiment(cls, exp: ExperimentSpec, events: int) -> _Traffic:
        from abgate_pipeline import simulate

        p = simulate.REQUESTS_PER_KEY_P
        mean_requests_per_key = sum((i + 1) * share for i, share in enumerate(p))
        return cls(
            variants=exp.variants,
            shares=tuple(exp.expected_shares()[v] for v in exp.variants),
            units=max(1, round(events / mean_requests_per_key / KEYS_PER_UNIT)),
            scenario=simulate.SUPPORT,
            requests_per_key_p=p,
            hourly_weights=simulate.HOURLY_WEIGHTS,
            weekend_weight=simulate.WEEKEND_WEIGHT,
        )

    def per_variant(self, attribute: str):
        """An arm attribute as an array indexed by variant number."""
        import numpy as np

        return np.array([getattr(self.scenario.arms[v], attribute) for v in self.variants])


def _epoch_ms(day: date) -> int:
    return (day - date(1970, 1, 1)).days * DAY_MS


def _draw_keys(rng, traffic: _Traffic, workload: Workload, start: date, done: int) -> dict:
    """Tickets: a random user each, opened at a weekday/office-hours weighted time, with 1-5
    requests; the last chunk is cut so that exactly `workload.events` requests are written."""
    import numpy as np

    p = traffic.requests_per_key_p
    per_key = rng.choice(len(p), size=KEYS_PER_CHUNK, p=p) + 1
    before = np.cumsum(per_key) - per_key
    keep = before < workload.events - done
    per_key = per_key[keep]
    per_key[-1] = min(per_key[-1], workload.events - done - before[keep][-1])
    n = len(per_key)
    day_weights = np.array(
        [
            traffic.weekend_weight if (start + timedelta(days=d)).weekday() >= 5 else 1.0
            for d in range(workload.days)
        ]
    )
    hours = traffic.hourly_weights
    day = rng.choice(workload.days, size=n, p=day_weights / day_weights.sum())
    hour = rng.choice(24, size=n, p=hours / hours.sum())
    segments = traffic.scenario.segment_weights
    return {
        "unit": rng.integers(0, traffic.units, size=n),
        "ts": _epoch_ms(start) + day * DAY_MS + hour * HOUR_MS + rng.integers(0, HOUR_MS, size=n),
        "per_key": per_key,
        "segment": rng.choice(len(segments), size=n, p=list(segments.values())),
    }


def _draw_requests(rng, traffic: _Traffic, keys: dict, first_index: int) -> dict:
    """Per request: time (a minute or two after the previous one of its ticket), tokens, cost,
    latency and flags, per arm as in the demo simulator. Times stay inside the last day."""
    import numpy as np

    from abgate_pipeline import simulate as sim

    per_key = keys["per_key"]
    key_index = np.repeat(np.arange(len(per_key)), per_key)
    group_start = np.repeat(np.cumsum(per_key) - per_key, per_key)
    position = np.arange(len(key_index)) - group_start
    gap = np.where(position == 0, 0, 20_000 + rng.exponential(90_000, len(key_index)))
    elapsed = np.cumsum(gap)
    offset = np.minimum(elapsed - elapsed[group_start], MAX_CONVERSATION_MS).astype(np.int64)
    variant = keys["variant"][key_index]
    n = len(key_index)
    scenario = traffic.scenario
    price = np.array([traffic.scenario.arms[v].price_per_mtok for v in traffic.variants])
    input_tokens = (
        np.round(scenario.input_tokens_median * np.exp(sim.INPUT_TOKENS_SIGMA * rng.normal(size=n)))
        + sim.HISTORY_TOKENS_PER_TURN * position
    )
    wanted_output = np.round(
        scenario.output_tokens_median
        * traffic.per_variant("output_token_factor")[variant]
        * np.exp(sim.OUTPUT_TOKENS_SIGMA * rng.normal(size=n))
    )
    error = rng.random(n) < sim.ERROR_RATE
    output_tokens = np.where(error, 0, np.minimum(wanted_output, sim.MAX_OUTPUT_TOKENS))
    cost = (input_tokens * price[variant, 0] + output_tokens * price[variant, 1]) / 1e6
    latency = traffic.per_variant("latency_median_ms")[variant] * np.exp(
        sim.LATENCY_SIGMA * rng.normal(size=n)
    )
    return {
        "index": first_index + np.arange(n),
        "key_index": key_index,
        "ts": keys["ts"][key_index] + offset,
        "variant": variant,
        "input_tokens": input_tokens.astype(np.int64),
        "output_tokens": output_tokens.astype(np.int64),
        "cost_usd": np.where(error, 0.0, np.round(cost, 7)),
        "latency_ms": np.maximum(1.0, np.round(latency)),
        "fallback": error,
        "refusal": (rng.random(n) < traffic.per_variant("refusal_rate")[variant]) & ~error,
        "schema_valid": rng.random(n) < sim.SCHEMA_VALID_RATE,
    }


def _draw_outcomes(rng, traffic: _Traffic, keys: dict, requests: dict, end_ms: int) -> dict:
    """Resolutions (per arm, some after the attribution window) and CSAT answers for a share of
    tickets; never before the ticket's last request, dropped past the simulated period."""
    import numpy as np

    scenario = traffic.scenario
    n = len(keys["ts"])
    last_request = requests["ts"][np.cumsum(keys["per_key"]) - 1]
    p_resolved = np.array([scenario.outcome_probability(v) for v in traffic.variants])
    resolved = rng.random(n) < p_resolved[keys["variant"]]
    delay = (scenario.outcome_delay.sample(rng, n) * HOUR_MS).astype(np.int64)
    resolved_ts = np.maximum(keys["ts"] + delay, last_request + 5 * MINUTE_MS)
    surveyed = rng.random(n) < CSAT_RATE
    closed = np.where(resolved, resolved_ts, last_request)
    csat_ts = closed + (rng.uniform(0.5, 24.0, n) * HOUR_MS).astype(np.int64)
    score = (
        np.where(
            resolved,
            rng.choice(5, size=n, p=[0.03, 0.05, 0.12, 0.35, 0.45]),
            rng.choice(5, size=n, p=[0.25, 0.25, 0.25, 0.15, 0.10]),
        )
        + 1.0
    )
    resolved &= resolved_ts < end_ms
    surveyed &= csat_ts < end_ms
    key = np.concatenate([np.flatnonzero(resolved), np.flatnonzero(surveyed)])
    return {
        "key_index": key,
        "ts": np.concatenate([resolved_ts[resolved], csat_ts[surveyed]]),
        "is_csat": np.arange(len(key)) >= resolved.sum(),
        "value": np.concatenate([np.ones(resolved.sum()), score[surveyed]]),
    }


def _ids(prefix: str, numbers, width: int):
    """`prefix` + zero-padded numbers as an Arrow string array, built in C++ (fast at 100M)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    digits = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _pick(values, index):
    """A plain (not dictionary-typed) string column from a few values, so that every reader
    sees ordinary strings."""
    import pyarrow as pa

    return pa.array(list(values), pa.string()).take(pa.array(index))


def _timestamps(ms):
    import pyarrow as pa

    return pa.array(ms * 1000, pa.timestamp("us", tz="UTC"))


def _request_table(exp: ExperimentSpec, traffic: _Traffic, keys: dict, requests: dict):
    """The inference-log contract's columns (DESIGN.md §2) plus the `query_type` segment."""
    import numpy as np
    import pyarrow as pa

    key_index = requests["key_index"]
    variant = requests["variant"]
    return pa.table(
        {
            "request_id": _ids("req-", requests["index"], 11),
            "timestamp": _timestamps(requests["ts"]),
            "experiment_id": _pick([exp.id], np.zeros(len(variant), dtype=np.int8)),
            "variant": _pick(traffic.variants, variant),
            "unit_id": _ids("cust-", keys["unit"][key_index], 9),
            "correlation_key": _ids("ZD-", keys["first_index"] + key_index, 10),
            "model": _pick([traffic.scenario.arms[v].model for v in traffic.variants], variant),
            "input_tokens": requests["input_tokens"],
            "output_tokens": requests["output_tokens"],
            "cost_usd": requests["cost_usd"],
            "latency_ms": requests["latency_ms"],
            "fallback": requests["fallback"],
            "refusal": requests["refusal"],
            "schema_valid": requests["schema_valid"],
            "query_type": _pick(traffic.scenario.segment_weights, keys["segment"][key_index]),
        }
    )


def _outcome_table(traffic: _Traffic, keys: dict, outcomes: dict, counts: dict):
    """The outcome-event contract's columns; event ids continue across chunks."""
    import numpy as np
    import pyarrow as pa

    n = len(outcomes["ts"])
    scenario = traffic.scenario
    return pa.table(
        {
            "event_id": _ids("ev-", counts["outcome_events"] + np.arange(n), 11),
            "correlation_key": _ids("ZD-", keys["first_index"] + outcomes["key_index"], 10),
            "outcome": _pick([scenario.outcome, "csat"], outcomes["is_csat"].astype(np.int8)),
            "value": outcomes["value"],
            "timestamp": _timestamps(outcomes["ts"]),
            "source": _pick([scenario.outcome_source], np.zeros(n, dtype=np.int8)),
        }
    )


class _DayWriters:
    """One Parquet file per landing day and dataset; every chunk appends a row group to each."""

    def __init__(self, landing: Path, start: date, days: int):
        self.landing, self.start, self.days = landing, start, days
        self.start_ms = _epoch_ms(start)
        self.end_ms = self.start_ms + days * DAY_MS
        self.writers: dict[tuple[str, int], Any] = {}

    def __enter__(self) -> _DayWriters:
        return self

    def __exit__(self, *exc) -> None:
        for writer in self.writers.values():
            writer.close()

    def write(self, dataset: str, table, ms) -> None:
        """Split `table` by the UTC day of its times `ms` and append each part to its day."""
        import numpy as np
        import pyarrow.parquet as pq

        day = (ms - self.start_ms) // DAY_MS
        order = np.argsort(day, kind="stable")
        bounds = np.searchsorted(day[order], np.arange(self.days + 1))
        table = table.take(order)
        for d in range(self.days):
            if (dataset, d) not in self.writers:
                folder = self.landing / dataset / (self.start + timedelta(days=d)).isoformat()
                folder.mkdir(parents=True, exist_ok=True)
                self.writers[dataset, d] = pq.ParquetWriter(
                    folder / "part-0000.parquet", table.schema
                )
            self.writers[dataset, d].write_table(table.slice(bounds[d], bounds[d + 1] - bounds[d]))


# --- contender (2): one hand-written DuckDB query ------------------------------------------------

DUCKDB_QUERY = """
-- Per-variant n, sum and sum of squares of the per-user resolution rate (share of the user's
-- tickets, among those whose attribution window has closed, resolved inside the window) and of
-- the per-user refusal rate, as of the end of the final day.
WITH logs AS (
    SELECT unit_id, variant, correlation_key, "timestamp" AS ts, refusal
    FROM read_parquet($inference_logs)
    WHERE experiment_id = $experiment_id AND "timestamp" >= $start AND "timestamp" < $end
),
tickets AS (
    SELECT unit_id, correlation_key, min(ts) AS opened,
           min(ts) + to_microseconds(CAST($window_hours * 3600e6 AS BIGINT)) AS window_end
    FROM logs
    GROUP BY unit_id, correlation_key
),
resolutions AS (
    SELECT correlation_key, "timestamp" AS ts, value
    FROM read_parquet($outcomes)
    WHERE outcome = $outcome AND "timestamp" < $end
),
ticket_outcomes AS (
    SELECT t.unit_id, t.window_end <= $end AS mature, coalesce(sum(r.value), 0) > 0 AS resolved
    FROM tickets t
    LEFT JOIN resolutions r
      ON r.correlation_key = t.correlation_key AND r.ts >= t.opened AND r.ts < t.window_end
    GROUP BY t.unit_id, t.correlation_key, t.window_end
),
users AS (
    SELECT unit_id, min(variant) AS variant, count(DISTINCT variant) AS n_variants,
           avg(CAST(refusal AS DOUBLE)) AS refusal_rate
    FROM logs
    GROUP BY unit_id
),
user_resolution AS (
    SELECT unit_id,
           count(*) FILTER (WHERE mature AND resolved)
               / nullif(count(*) FILTER (WHERE mature), 0) AS resolution_rate
    FROM ticket_outcomes
    GROUP BY unit_id
)
SELECT u.variant,
       count(r.resolution_rate), sum(r.resolution_rate), sum(r.resolution_rate ** 2),
       count(u.refusal_rate), sum(u.refusal_rate), sum(u.refusal_rate ** 2)
FROM users u JOIN user_resolution r USING (unit_id)
WHERE u.n_variants = 1
GROUP BY u.variant
ORDER BY u.variant
"""


def duckdb_stats(workload: Workload) -> dict:
    """Contender (2): the query above over the landing files, nothing else."""
    import duckdb

    from abgate_pipeline import warehouse

    exp = workload.experiment()
    start, end = _window(workload, exp)
    con = duckdb.connect(config=warehouse.connection_config())
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET temp_directory = ?", [str(workload.workdir / "duckdb-spill")])
    rows = con.execute(
        DUCKDB_QUERY,
        {
            "inference_logs": str(workload.landing / "inference_logs" / "*" / "*.parquet"),
            "outcomes": str(workload.landing / "outcomes" / "*" / "*.parquet"),
            "experiment_id": exp.id,
            "start": start,
            "end": end,
            "window_hours": exp.attribution_window_hours,
            "outcome": exp.primary.outcome,
        },
    ).fetchall()
    return {
        metric: {row[0]: list(row[1 + 3 * i : 4 + 3 * i]) for row in rows}
        for i, metric in enumerate(CHECKED_METRICS)
    }


def _window(workload: Workload, exp: ExperimentSpec) -> tuple[datetime, datetime]:
    """The analysed period: from the experiment's start to the end of the final as-of day."""
    start = datetime.combine(exp.start, datetime.min.time(), UTC)
    end = datetime.combine(workload.as_of(exp) + timedelta(days=1), datetime.min.time(), UTC)
    return start, end


# --- the store floor -----------------------------------------------------------------------------


def store_floor(workload: Workload) -> dict:
    """The landing files stored in a fresh DuckDB file exactly as they are: one table per dataset,
    one transaction per landing day, then a checkpoint (as closing the graph's connection
    makes). Ingest does this and more (validation, redaction, quarantine), so its time is a floor
    under the graph's ingest steps; returns the rows stored per dataset."""
    import duckdb

    from abgate_pipeline import warehouse

    path = workload.workdir / "store" / "store.duckdb"
    path.parent.mkdir(parents=True, exist_ok=True)
    source = "SELECT * FROM read_parquet($files, filename = true, file_row_number = true)"
    rows = {}
    with duckdb.connect(str(path), config=warehouse.connection_config()) as con:
        con.execute("SET TimeZone = 'UTC'")
        for dataset in ("inference_logs", "outcomes"):
            days = sorted(p for p in (workload.landing / dataset).iterdir() if p.is_dir())
            for i, day in enumerate(days):
                files = [str(f) for f in sorted(day.glob("*.parquet"))]
                con.execute("BEGIN TRANSACTION")
                if i == 0:
                    con.execute(f"CREATE TABLE {dataset} AS {source} LIMIT 0", {"files": files})
                con.execute(f"INSERT INTO {dataset} {source}", {"files": files})
                con.execute("COMMIT")
            rows[dataset] = con.execute(f"SELECT count(*) FROM {dataset}").fetchone()[0]
        con.execute("CHECKPOINT")
    return {"rows": rows}


# --- contender (3): pandas ------------------------------------------------------------------------


def pandas_stats(workload: Workload) -> dict:
    """Contender (3): the merge + groupby a user would write in a notebook, same semantics."""
    import pandas as pd

    exp = workload.experiment()
    start, end = (pd.Timestamp(t) for t in _window(workload, exp))
    window = pd.Timedelta(hours=exp.attribution_window_hours)
    logs = pd.read_parquet(
        workload.landing / "inference_logs",
        columns=["experiment_id", "variant", "unit_id", "correlation_key", "timestamp", "refusal"],
    )
    logs = logs[(logs.experiment_id == exp.id) & (logs.timestamp >= start) & (logs.timestamp < end)]
    outcomes = pd.read_parquet(
        workload.landing / "outcomes", columns=["correlation_key", "outcome", "value", "timestamp"]
    )
    resolutions = outcomes[(outcomes.outcome == exp.primary.outcome) & (outcomes.timestamp < end)]

    tickets = logs.groupby(["unit_id", "correlation_key"], as_index=False).agg(
        opened=("timestamp", "min")
    )
    joined = tickets.merge(resolutions, on="correlation_key", how="left")
    in_window = (joined.timestamp >= joined.opened) & (joined.timestamp < joined.opened + window)
    joined["in_window"] = joined.value.where(in_window, 0.0)
    per_ticket = joined.groupby(["unit_id", "correlation_key"], as_index=False).agg(
        opened=("opened", "first"), value=("in_window", "sum")
    )
    per_ticket["mature"] = per_ticket.opened + window <= end
    per_ticket["resolved"] = per_ticket.mature & (per_ticket.value > 0)
    per_user = per_ticket.groupby("unit_id").agg(
        mature=("mature", "sum"), resolved=("resolved", "sum")
    )
    users = logs.groupby("unit_id").agg(
        variant=("variant", "min"),
        n_variants=("variant", "nunique"),
        refusal_rate=("refusal", "mean"),
    )
    users["resolution_rate"] = per_user.resolved / per_user.mature.where(per_user.mature > 0)
    users = users[users.n_variants == 1]
    return {
        metric: {
            variant: [int(y.count()), float(y.sum()), float((y**2).sum())]
            for variant, y in users.groupby("variant")[metric]
        }
        for metric in CHECKED_METRICS
    }


# --- contender (1): the full graph through Dagster -----------------------------------------------


def graph_stats(workload: Workload) -> tuple[dict, dict]:
    """Contender (1): ingest every landing day in one run, then analyse the final as-of day in a
    second, on a fresh warehouse and Dagster instance; returns the statistics it stored."""
    from dagster import AssetKey
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    from abgate_pipeline.config import Settings
    from abgate_pipeline.definitions import build_definitions

    exp = workload.experiment()
    as_of = workload.as_of(exp).isoformat()
    settings = Settings.from_env()
    job = build_definitions(settings).resolve_job_def("daily_gate_job")
    with _instance() as instance:
        ingest = job.execute_in_process(
            instance=instance,
            tags={
                ASSET_PARTITION_RANGE_START_TAG: exp.start.isoformat(),
                ASSET_PARTITION_RANGE_END_TAG: as_of,
            },
            asset_selection=[AssetKey(name) for name in INGEST_ASSETS],
        )
        analyse = job.execute_in_process(
            instance=instance,
            partition_key=as_of,
            asset_selection=[
                AssetKey(name)
                for name in (
                    "experiment_table",
                    "metric_frames",
                    "gate_decision",
                    "decision_report",
                )
            ],
        )
        steps = _step_seconds(instance, ingest.run_id) | _step_seconds(instance, analyse.run_id)
    return _stored_stats(settings, exp, as_of), {"steps": steps, **_decision(settings, exp, as_of)}


def backfill_stats(workload: Workload) -> tuple[dict, dict]:
    """The separate honesty line: `abgate run --from --to --no-promote` on a fresh warehouse,
    i.e. one single-run backfill that computes the experiment table for every as-of day."""
    from abgate_pipeline.cli import run_gate
    from abgate_pipeline.config import Settings

    exp = workload.experiment()
    as_of = workload.as_of(exp)
    settings = Settings.from_env()
    with _instance() as instance:
        summary = run_gate(exp.start, as_of, promote=False, settings=settings, instance=instance)
        if not summary["success"]:
            raise RuntimeError(f"backfill run {summary['run_id']} failed")
        steps = _step_seconds(instance, summary["run_id"])
    detail = {"steps": steps, **_decision(settings, exp, as_of.isoformat())}
    return _stored_stats(settings, exp, as_of.isoformat()), detail


@contextmanager
def _instance() -> Iterator[Any]:
    """A fresh on-disk Dagster instance (SQLite run and event storage) under $DAGSTER_HOME, so
    the event-log writes a real deployment pays are part of the measurement."""
    from dagster import DagsterInstance

    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    with DagsterInstance.local_temp(str(home), {"telemetry": {"enabled": False}}) as instance:
        yield instance


def _step_seconds(instance, run_id: str) -> dict[str, float]:
    """Wall time of every step (asset) of a run, from the instance's event log."""
    return {
        s.step_key: round(s.end_time - s.start_time, 2)
        for s in instance.get_run_step_stats(run_id)
        if s.start_time and s.end_time
    }


def _stored_stats(settings, exp: ExperimentSpec, as_of: str) -> dict:
    """The overall (unsegmented) sufficient statistics the graph stored for the final as-of."""
    import duckdb

    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        rows = con.execute(
            "SELECT metric, variant, n, sum, sum_sq FROM metric_frames "
            "WHERE as_of = ? AND experiment_id = ? AND segment = '__all__' AND metric IN ?",
            [as_of, exp.id, list(CHECKED_METRICS)],
        ).fetchall()
    stats: dict = {metric: {} for metric in CHECKED_METRICS}
    for metric, variant, n, total, total_sq in rows:
        stats[metric][variant] = [n, total, total_sq]
    return stats


def _decision(settings, exp: ExperimentSpec, as_of: str) -> dict:
    """The verdict in the `decision.json` the graph wrote (which must exist)."""
    record = json.loads((settings.reports_dir / exp.id / as_of / "decision.json").read_text())
    return {"decision": record["decision"]}


# --- child processes ----------------------------------------------------------------------------


def run_contender(name: str, workload: Workload) -> dict:
    """Run one contender in this (child) process, timing it from before its imports, and write
    its time, peak memory and statistics to `results/<name>.json`."""
    started = time.perf_counter()
    if name == "generate":
        stats, detail = {}, generate(workload)
    elif name == "store":
        stats, detail = {}, store_floor(workload)
    elif name in ("graph", "backfill"):
        stats, detail = (graph_stats if name == "graph" else backfill_stats)(workload)
    else:
        stats, detail = (duckdb_stats if name == "duckdb" else pandas_stats)(workload), {}
    result = {
        "contender": name,
        "seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "stats": stats,
        "detail": detail,
    }
    workload.results.mkdir(parents=True, exist_ok=True)
    (workload.results / f"{name}.json").write_text(json.dumps(result, indent=2))
    return result


def spawn(name: str, workload: Workload) -> dict:
    """Run a contender in a fresh interpreter, its output in `<workdir>/logs/<name>.log` (Dagster
    logs every event); graph contenders get their own warehouse, reports, flag file and Dagster
    home under `<workdir>/<name>/`."""
    own = workload.workdir / name
    shutil.rmtree(own, ignore_errors=True)  # a re-run on reused landing files starts afresh
    env = {
        **os.environ,
        "ABGATE_LANDING_DIR": str(workload.landing),
        "ABGATE_EXPERIMENTS": str(workload.experiments_file),
        "ABGATE_WAREHOUSE": str(own / "warehouse.duckdb"),
        "ABGATE_REPORTS_DIR": str(own / "reports"),
        "ABGATE_FLAGS_FILE": str(own / "flags" / "flags.flagd.json"),
        "DAGSTER_HOME": str(own / "dagster_home"),
    }
    env.setdefault("ABGATE_REDACTION_KEY", "abgate-bench-key-not-a-secret")
    command = [
        sys.executable,
        "-m",
        "abgate_pipeline.bench",
        *("--contender", name),
        *("--workdir", str(workload.workdir)),
        *("--events", str(workload.events)),
        *("--days", str(workload.days)),
        *("--seed", str(workload.seed)),
    ]
    log = workload.workdir / "logs" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    with log.open("w") as out:
        finished = subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    if finished.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-30:])
        raise ContenderFailed(f"contender {name} failed (log: {log}):\n{tail}")
    result = json.loads((workload.results / f"{name}.json").read_text())
    result["load_before"] = round(load, 2)
    return result


# --- the harness --------------------------------------------------------------------------------


def disagreements(results: dict[str, dict]) -> list[str]:
    """Where a contender's per-variant statistics differ from the graph's (counts exactly, sums
    to a relative 1e-9: the engines add floating-point numbers in different orders). The store
    floor computes no statistics."""
    reference = results["graph"]["stats"]
    problems = []
    for name, result in _with_statistics(results).items():
        for metric in CHECKED_METRICS:
            ours, theirs = reference.get(metric, {}), result["stats"].get(metric, {})
            if set(ours) != set(theirs):
                problems.append(f"{name} {metric}: variants {sorted(theirs)} != {sorted(ours)}")
                continue
            for variant, (n, total, total_sq) in ours.items():
                n2, total2, total_sq2 = theirs[variant]
                if n != n2 or not all(
                    math.isclose(a, b, rel_tol=REL_TOL, abs_tol=REL_TOL)
                    for a, b in ((total, total2), (total_sq, total_sq2))
                ):
                    problems.append(
                        f"{name} {metric} {variant}: {[n2, total2, total_sq2]} != "
                        f"graph {[n, total, total_sq]}"
                    )
    return problems


def _with_statistics(results: dict[str, dict]) -> dict[str, dict]:
    return {name: result for name, result in results.items() if name != "store"}


def contenders(workload: Workload, skip_pandas: bool, skip_backfill: bool) -> list[str]:
    """The contenders to run, cheapest first."""
    names = ["duckdb", "store", "graph"]
    if not skip_pandas and workload.events <= PANDAS_MAX_EVENTS:
        names.append("pandas")
    if not skip_backfill:
        names.append("backfill")
    return names


def report(workload: Workload, results: dict[str, dict]) -> list[str]:
    """The human-readable table, then the machine-readable last line."""
    from abgate_pipeline import warehouse

    graph, duck = results["graph"], results["duckdb"]
    lines = [
        f"DuckDB settings {warehouse.connection_config()} for the graph, the query and the "
        "store floor (memory_limit from $ABGATE_DUCKDB_MEMORY_LIMIT); load = 1-minute load "
        "average before each run",
        f"{'contender':<62} {'wall s':>9} {'peak RSS MB':>12} {'load':>5}",
        *(
            f"{LABELS[name]:<62} {r['seconds']:>9.2f} {r['peak_rss_mb']:>12,.0f} "
            f"{r['load_before']:>5.2f}"
            for name, r in results.items()
        ),
    ]
    for name in ("graph", "backfill"):
        if name in results:
            steps = results[name]["detail"]["steps"]
            in_steps = sum(steps.values())
            lines.append(
                f"{name} steps: "
                + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items())
                + f"; outside steps (imports, Dagster runs) {results[name]['seconds'] - in_steps:.1f} s"
                + f"; decision {results[name]['detail']['decision']}"
            )
    if "store" in results:
        store = results["store"]["seconds"]
        ingest = sum(graph["detail"]["steps"].get(step, 0.0) for step in INGEST_ASSETS)
        lines.append(
            f"store floor: storing the landing files as they are took {store:.2f} s = "
            f"{store / duck['seconds']:.2f} x the query; the graph's ingest steps took "
            f"{ingest:.2f} s = {ingest / duck['seconds']:.2f} x"
        )
    lines.append(
        f"agreement: {', '.join(CHECKED_METRICS)} per variant (n, sum, sum of squares) agree "
        f"across {', '.join(_with_statistics(results))} (relative tolerance {REL_TOL:g})"
    )
    ratio = graph["seconds"] / duck["seconds"]
    lines.append(
        f"ratio_vs_duckdb={ratio:.2f} peak_rss_mb={graph['peak_rss_mb']:.0f} "
        f"events={workload.events}"
    )
    return lines


def reused_landing(workload: Workload) -> dict:
    """The result of the generation that wrote `workload`'s landing files, if it was for the same
    events, days and seed (measuring other files would mislabel the results)."""
    path = workload.results / "generate.json"
    if not path.exists() or not workload.experiments_file.exists():
        raise LandingNotReusable(f"{workload.workdir} holds no kept landing files")
    generated = json.loads(path.read_text())
    wanted = {"events": workload.events, "days": workload.days, "seed": workload.seed}
    found = generated["detail"].get("workload")
    if found != wanted:
        raise LandingNotReusable(
            f"{workload.workdir} holds landing files for {found}, not for {wanted}"
        )
    return generated


def run_bench(
    workload: Workload, *, skip_pandas: bool, skip_backfill: bool, reuse_landing: bool = False
) -> int:
    """Generate (or reuse the landing files), run every contender in its own process, check
    agreement, print the report."""
    if reuse_landing:
        generated = reused_landing(workload)
        for stale in workload.results.glob("*.json"):  # the earlier run's contenders
            if stale.stem != "generate":
                stale.unlink()
    else:
        workload.workdir.mkdir(parents=True, exist_ok=True)
        write_experiments(workload)
        generated = spawn("generate", workload)
    gen = generated["detail"]
    verb = "reusing the earlier run's" if reuse_landing else "generated"
    print(
        f"{verb} {gen['requests']:,} inference events and {gen['outcome_events']:,} outcome "
        f"events ({gen['outcome_events'] / gen['requests']:.2f} per request; {gen['units']:,} "
        f"users, {gen['keys']:,} tickets) over {workload.days} days: {gen['files']} Parquet "
        f"files, {gen['parquet_mb']:,} MB, {'generated ' if reuse_landing else ''}in "
        f"{generated['seconds']:.1f} s",
        flush=True,
    )
    results = {}
    for name in contenders(workload, skip_pandas, skip_backfill):
        results[name] = spawn(name, workload)
        print(
            f"  {name}: {results[name]['seconds']:.2f} s, "
            f"{results[name]['peak_rss_mb']:,.0f} MB peak RSS",
            flush=True,
        )
    problems = disagreements(results)
    if problems:
        print("agreement: FAILED\n  " + "\n  ".join(problems))
        return 1
    print("\n".join(report(workload, results)))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="abgate bench", description=__doc__.split("\n\n")[0].strip("`")
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="inference events (N)")
    parser.add_argument("--days", type=int, default=14, help="landing days (as-of = the last)")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="empty or new folder for the files (default: a temp folder); with --reuse-landing, "
        "the folder of a kept run",
    )
    parser.add_argument("--keep", action="store_true", help="keep the workdir afterwards")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--skip-pandas", action="store_true", help="do not run contender (3)")
    parser.add_argument(
        "--skip-backfill", action="store_true", help="do not run the every-as-of backfill"
    )
    parser.add_argument(
        "--reuse-landing",
        action="store_true",
        help="measure the landing files a kept run left in --workdir (same --events, --days, "
        "--seed) instead of generating them; implies --keep",
    )
    parser.add_argument("--contender", choices=CONTENDERS, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.events < 1 or args.days < 1:
        parser.error("--events and --days must be positive")
    if args.contender:
        run_contender(args.contender, Workload(args.workdir, args.events, args.days, args.seed))
        return 0
    if args.reuse_landing and not args.workdir:
        parser.error("--reuse-landing needs the --workdir of a kept run")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="abgate-bench-"))
    if not args.reuse_landing and workdir.exists() and any(workdir.iterdir()):
        parser.error(f"--workdir {workdir} is not empty (the benchmark needs a fresh warehouse)")
    keep = args.keep or args.reuse_landing
    workload = Workload(workdir.resolve(), args.events, args.days, args.seed)
    print(f"workdir {workload.workdir} ({'kept' if keep else 'removed'} afterwards)")
    try:
        return run_bench(
            workload,
            skip_pandas=args.skip_pandas,
            skip_backfill=args.skip_backfill,
            reuse_landing=args.reuse_landing,
        )
    except (ContenderFailed, LandingNotReusable) as failure:
        print(failure, file=sys.stderr)
        return 1
    finally:
        if not keep:
            shutil.rmtree(workload.workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
