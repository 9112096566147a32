"""Where the full graph's time goes: every warehouse SQL statement it runs, timed.

Runs contender (1) of `abgate bench` (ingest every landing day, then analyse the final as-of day
through Dagster) on the landing files of a kept bench workdir, with `warehouse.run` wrapped so
that each statement of each `sql/*.sql` file is timed where the assets really run it, and the
Great Expectations validation timed too. Prints the statements by total time, then the steps.

    .venv/bin/abgate bench --events 10000000 --workdir /tmp/bench-10m --keep
    .venv/bin/python benchmarks/profile_graph.py /tmp/bench-10m
    .venv/bin/python benchmarks/profile_graph.py /tmp/bench-10m --duckdb memory_limit=1GB

`--duckdb NAME=VALUE` sets a DuckDB option on every warehouse connection (what-if runs, e.g. a
memory limit). Each run uses a fresh warehouse and Dagster home in `<workdir>/profile-<n>/`.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from collections import defaultdict
from pathlib import Path

LANDING_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def fresh_folder(workdir: Path) -> Path:
    """`<workdir>/profile-<n>/` with the first unused n, so earlier profiles stay comparable."""
    n = 1
    while (workdir / f"profile-{n}").exists():
        n += 1
    return workdir / f"profile-{n}"


def point_environment(workdir: Path, own: Path) -> None:
    """The ABGATE_* variables a bench graph child gets; must happen before importing Dagster
    definitions (the partitions are read from the experiments file at import)."""
    os.environ.update(
        {
            "ABGATE_LANDING_DIR": str(workdir / "landing"),
            "ABGATE_EXPERIMENTS": str(workdir / "experiments.yaml"),
            "ABGATE_WAREHOUSE": str(own / "warehouse.duckdb"),
            "ABGATE_REPORTS_DIR": str(own / "reports"),
            "ABGATE_FLAGS_FILE": str(own / "flags" / "flags.flagd.json"),
            "DAGSTER_HOME": str(own / "dagster_home"),
        }
    )
    os.environ.setdefault("ABGATE_REDACTION_KEY", "abgate-bench-key-not-a-secret")


def instrument(timings: dict[str, list[float]], settings: list[str]) -> None:
    """Wrap `warehouse.run` (statement by statement) and the GX validation with timers, and
    apply the `--duckdb` options to every warehouse connection."""
    from abgate_pipeline import warehouse
    from abgate_pipeline.defs import metrics

    def run(con, name, **params):
        result = None
        for i, sql in enumerate(warehouse.statements(name)):
            used = {key: params[key] for key in warehouse.parameters(sql)}
            started = time.perf_counter()
            cursor = con.execute(sql, used) if used else con.execute(sql)
            result = cursor.df() if cursor.description else None
            timings[f"{name}.sql #{i + 1}: {_headline(sql)}"].append(time.perf_counter() - started)
        return result

    ensure_schema = warehouse.ensure_schema

    def ensure_schema_with_settings(con):
        for setting in settings:
            key, value = setting.split("=", 1)
            con.execute(f"SET {key} = '{value}'")
        ensure_schema(con)

    validate = metrics.validate_metric_frames

    def timed_validate(frame, experiments):
        started = time.perf_counter()
        result = validate(frame, experiments)
        timings["Great Expectations validation (Python)"].append(time.perf_counter() - started)
        return result

    warehouse.run = run
    warehouse.ensure_schema = ensure_schema_with_settings
    metrics.validate_metric_frames = timed_validate


def _headline(sql: str) -> str:
    """The statement's first words after its comments, to name it in the table."""
    code = " ".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    return " ".join(code.split())[:70]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workdir", type=Path, help="a kept `abgate bench` workdir")
    parser.add_argument("--duckdb", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    own = fresh_folder(workdir)
    point_environment(workdir, own)

    from abgate_pipeline.bench import Workload, graph_stats, peak_rss_mb

    days = len([p for p in (workdir / "landing" / "inference_logs").iterdir()
                if LANDING_DAY.fullmatch(p.name)])  # fmt: skip
    timings: dict[str, list[float]] = defaultdict(list)
    instrument(timings, args.duckdb)
    started = time.perf_counter()
    _, detail = graph_stats(Workload(workdir, events=0, days=days, seed=0))
    total = time.perf_counter() - started
    print(f"graph: {total:.1f} s, peak RSS {peak_rss_mb():,.0f} MB, options {args.duckdb or '-'}")
    print(f"{'seconds':>8} {'calls':>5}  statement")
    for name, seconds in sorted(timings.items(), key=lambda item: -sum(item[1])):
        print(f"{sum(seconds):8.2f} {len(seconds):5d}  {name}")
    in_sql = sum(sum(s) for s in timings.values())
    print(f"{in_sql:8.2f}        all of the above; steps: {detail['steps']}")


if __name__ == "__main__":
    main()
