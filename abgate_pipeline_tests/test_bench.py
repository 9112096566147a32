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
    assert set(results) == {"generate", "graph", "duckdb", "store", "pandas", "backfill"}
    generated = results.pop("generate")["detail"]
    assert generated["requests"] == EVENTS
    assert 0.2 < generated["outcome_events"] / EVENTS < 0.4
    stored = results.pop("store")
    assert stored["detail"]["rows"] == {  # the floor stores every landing row, no statistics
        "inference_logs": EVENTS,
        "outcomes": generated["outcome_events"],
    }
    assert any(line.startswith("store floor: ") and " x the query" in line for line in lines)
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


def test_reuse_landing_measures_the_kept_files_again(tmp_path, capsys):
    """A second run on a kept workdir measures the same landing files with every contender
    afresh; a workdir generated for another workload is refused."""
    workdir = tmp_path / "bench"
    argv = ["--events", "5000", "--days", "5", "--workdir", str(workdir), "--skip-pandas"]
    assert main([*argv, "--skip-backfill", "--keep"]) == 0
    landing = {p: p.stat().st_mtime_ns for p in (workdir / "landing").rglob("*.parquet")}
    generated = (workdir / "results" / "generate.json").read_text()
    first_graph = json.loads((workdir / "results" / "graph.json").read_text())
    capsys.readouterr()

    (workdir / "results" / "pandas.json").write_text("{}")  # a contender not run again
    assert main([*argv, "--skip-backfill", "--reuse-landing"]) == 0
    out = capsys.readouterr().out
    assert "reusing the earlier run's 5,000 inference events" in out
    assert re.search(r"^ratio_vs_duckdb=\d+\.\d\d peak_rss_mb=\d+ events=5000$", out, re.M)
    assert {p: p.stat().st_mtime_ns for p in (workdir / "landing").rglob("*.parquet")} == landing
    assert (workdir / "results" / "generate.json").read_text() == generated
    second_graph = json.loads((workdir / "results" / "graph.json").read_text())
    assert second_graph["stats"]["resolution_rate"]  # same files, same statistics
    assert disagreements({"graph": first_graph, "rerun": second_graph}) == []
    assert workdir.exists()  # --reuse-landing keeps the workdir
    assert not (workdir / "results" / "pandas.json").exists()  # no stale results beside new ones

    assert main(["--events", "6000", "--days", "5", "--workdir", str(workdir), "--reuse-landing"]) == 1  # fmt: skip
    assert "not for {'events': 6000" in capsys.readouterr().err
    assert main(["--events", "5000", "--workdir", str(tmp_path / "none"), "--reuse-landing"]) == 1
