"""`abgate bench` at a toy size: the contenders compute the same statistics, and the output keeps
its machine-readable last line. Not a timing test."""

from __future__ import annotations

import json
import math
import re

from abgate_pipeline.bench import CHECKED_METRICS, disagreements, main

EVENTS = 20_000
LAST_LINE = re.compile(rf"^ratio_vs_duckdb=\d+\.\d\d peak_rss_mb=\d+ events={EVENTS}$")


def test_contenders_agree_on_the_primary_metric_and_print_the_last_line(tmp_path, capsys):
    workdir = tmp_path / "bench"
    argv = ["--events", str(EVENTS), "--days", "5", "--workdir", str(workdir), "--keep"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert LAST_LINE.match(lines[-1]), lines[-1]
    assert any(line.startswith("agreement:") and "agree" in line for line in lines)

    results = {
        path.stem: json.loads(path.read_text()) for path in (workdir / "results").glob("*.json")
    }
    assert set(results) == {"generate", "graph", "duckdb", "pandas", "backfill"}
    generated = results.pop("generate")["detail"]
    assert generated["requests"] == EVENTS
    assert 0.2 < generated["outcome_events"] / EVENTS < 0.4
    assert len(list((workdir / "landing").rglob("*.parquet"))) == 2 * 5  # one per day and dataset
    graph = results["graph"]["stats"]["resolution_rate"]
    assert set(graph) == {"champion", "challenger"}
    for name, result in results.items():
        for variant, (n, total, total_sq) in graph.items():
            n2, total2, total_sq2 = result["stats"]["resolution_rate"][variant]
            assert n2 == n > 0, name
            assert math.isclose(total2, total, rel_tol=1e-9), name
            assert math.isclose(total_sq2, total_sq, rel_tol=1e-9), name
    assert results["graph"]["detail"]["decision"] in ("promote", "continue", "rollback", "invalid")


def test_disagreement_is_reported():
    stats = {m: {"champion": [10, 4.0, 3.0]} for m in CHECKED_METRICS}
    off = {m: {"champion": [10, 4.0 + 1e-6, 3.0]} for m in CHECKED_METRICS}
    results = {"graph": {"stats": stats}, "pandas": {"stats": off}}
    assert len(disagreements(results)) == len(CHECKED_METRICS)
    assert disagreements({"graph": {"stats": stats}, "duckdb": {"stats": stats}}) == []
