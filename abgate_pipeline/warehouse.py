"""The warehouse SQL: loads the named `.sql` files and runs them on a DuckDB connection.

All heavy lifting (parsing, joins, per-unit aggregation) is in `sql/*.sql`, in DuckDB's dialect, so
it can be transpiled to another engine later. This module only binds parameters, and mirrors the
experiment config into `cfg_*` tables the SQL joins on.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, time
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from abgate_pipeline.config import ExperimentSpec, ratio_part_source

SQL_DIR = Path(__file__).resolve().parent / "sql"
_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")
_COMMENT = re.compile(r"--[^\n]*")


@cache
def statements(name: str) -> tuple[str, ...]:
    """The statements of `sql/<name>.sql`, split at semicolons that end a line."""
    text = (SQL_DIR / f"{name}.sql").read_text()
    parts = (part.strip() for part in re.split(r";[ \t]*(?:\n|$)", text))
    return tuple(part for part in parts if part and not _only_comments(part))


def _only_comments(sql: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in sql.splitlines())


def run(con: duckdb.DuckDBPyConnection, name: str, **params: Any) -> pd.DataFrame | None:
    """Run every statement of `sql/<name>.sql`; return the last one's rows if it yields any.

    Each statement gets only the `$params` it mentions (DuckDB rejects unused ones).
    """
    result = None
    for sql in statements(name):
        used = {key: params[key] for key in parameters(sql)}
        cursor = con.execute(sql, used) if used else con.execute(sql)
        result = cursor.df() if cursor.description else None
    return result


def parameters(sql: str) -> list[str]:
    """The `$params` a statement uses; a `$name` in a comment is prose, not a parameter."""
    return _PARAM.findall(_COMMENT.sub("", sql))


def connection_config() -> dict[str, Any]:
    """The warehouse connection's DuckDB settings (the benchmark's query runs under them too).

    A memory cap, beyond which DuckDB spills to disk: ABGATE_DUCKDB_MEMORY_LIMIT, default 1GB.
    DuckDB's own default is 80 % of RAM, which lets one run take the whole machine.

    No vacuum tasks at checkpoints: every table here is written a slice at a time (a partition,
    an as-of day) and a re-run deletes that whole slice, so there is little to compact, and the
    vacuum made checkpoints slow and the file larger; re-ingested days still reuse the freed
    blocks (measurements in docs/benchmarks.md).
    """
    return {
        "memory_limit": os.environ.get("ABGATE_DUCKDB_MEMORY_LIMIT", "").strip() or "1GB",
        "max_vacuum_tasks": 0,
    }


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the tables (idempotent) and pin the session to UTC, the contract's time zone."""
    con.execute("SET TimeZone = 'UTC'")
    run(con, "schema")


def sync_config(con: duckdb.DuckDBPyConnection, experiments: Sequence[ExperimentSpec]) -> None:
    """Replace the `cfg_*` tables with the current experiment config, in one transaction."""
    frames = config_frames(experiments)
    con.execute("BEGIN TRANSACTION")
    try:
        for table, frame in frames.items():
            con.execute(f"DELETE FROM {table}")
            if not frame.empty:
                con.register("_cfg_frame", frame)
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _cfg_frame")
                con.unregister("_cfg_frame")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def config_frames(experiments: Iterable[ExperimentSpec]) -> dict[str, pd.DataFrame]:
    """The experiment config as the rows of the `cfg_*` tables."""
    rows: dict[str, list[dict[str, Any]]] = {
        "cfg_experiments": [],
        "cfg_variants": [],
        "cfg_segments": [],
        "cfg_metrics": [],
    }
    for exp in experiments:
        rows["cfg_experiments"].append(
            {
                "experiment_id": exp.id,
                "start_ts": datetime.combine(exp.start, time()),
                "window_hours": exp.attribution_window_hours,
                "pre_period_days": exp.pre_period_days,
            }
        )
        rows["cfg_variants"] += [{"experiment_id": exp.id, "variant": v} for v in exp.variants]
        rows["cfg_segments"] += [{"experiment_id": exp.id, "segment": s} for s in exp.segments]
        for m in exp.metrics:
            if m.kind == "ratio":
                num = (ratio_part_source(m.numerator), m.numerator)
                den = (ratio_part_source(m.denominator), m.denominator)
            else:
                num, den = (m.source, m.source_name), (None, None)
            rows["cfg_metrics"].append(
                {
                    "experiment_id": exp.id,
                    "metric": m.name,
                    "kind": m.kind,
                    "num_source": num[0],
                    "num_name": num[1],
                    "den_source": den[0],
                    "den_name": den[1],
                    "missing": m.missing,
                    "q": m.q,
                    "winsorize": m.winsorize,
                    "cuped": exp.cuped,
                }
            )
    columns = {
        "cfg_experiments": ["experiment_id", "start_ts", "window_hours", "pre_period_days"],
        "cfg_variants": ["experiment_id", "variant"],
        "cfg_segments": ["experiment_id", "segment"],
        "cfg_metrics": [
            "experiment_id",
            "metric",
            "kind",
            "num_source",
            "num_name",
            "den_source",
            "den_name",
            "missing",
            "q",
            "winsorize",
            "cuped",
        ],
    }
    return {t: pd.DataFrame(r, columns=columns[t]) for t, r in rows.items()}
