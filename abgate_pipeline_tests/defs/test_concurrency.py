"""Two runs started at once against one DuckDB file both finish, and leave what one run leaves.

DuckDB allows one writing process. dagster-duckdb retries a locked connect for ~100 s in all;
the warehouse resource's exclusive file lock makes the second writer wait for as long as the
first needs (a real run's steps can take longer than that). Each run here is its own process
with its own Dagster instance, the way two `abgate run` commands (or a scheduled run and a
manual one) would be."""

import json
import subprocess
import sys
import textwrap
from datetime import timedelta

from abgate_pipeline.defs.resources import Warehouse
from abgate_pipeline.simulate import simulate
from abgate_pipeline_tests.conftest import DEMO_START, make_settings

DAYS = 3
RUN = textwrap.dedent(
    """
    import json, sys
    from datetime import date
    from pathlib import Path
    from dagster import DagsterInstance
    from abgate_pipeline.cli import run_gate
    from abgate_pipeline_tests.conftest import make_settings

    root, start, end = Path(sys.argv[1]), date.fromisoformat(sys.argv[2]), date.fromisoformat(sys.argv[3])
    summary = run_gate(start, end, settings=make_settings(root), instance=DagsterInstance.ephemeral())
    print(json.dumps({"success": summary["success"]}))
    """
)
COUNTS = (
    "SELECT (SELECT count(*) FROM inference_logs), (SELECT count(*) FROM outcome_events), "
    "(SELECT count(*) FROM quarantine), (SELECT count(*) FROM experiment_units), "
    "(SELECT count(*) FROM metric_frames), (SELECT count(*) FROM gate_decisions)"
)


def _start_run(root, start, end):
    return subprocess.Popen(
        [sys.executable, "-c", RUN, str(root), start.isoformat(), end.isoformat()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_simultaneous_runs_both_succeed_without_duplicates(tmp_path):
    settings = make_settings(tmp_path)
    simulate(settings.landing_dir, start=DEMO_START, days=DAYS, scale=0.03)
    start, end = DEMO_START, DEMO_START + timedelta(days=DAYS - 1)

    runs = [_start_run(tmp_path, start, end) for _ in range(2)]
    outputs = [run.communicate(timeout=600) for run in runs]
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err[-3000:]
        assert json.loads(out.strip().splitlines()[-1]) == {"success": True}
        assert "Could not set lock" not in err

    with Warehouse(database=str(settings.warehouse)).get_connection() as con:
        after_both = con.execute(COUNTS).fetchone()
    # A third run, alone, re-materializes the same days: nothing changes.
    alone = _start_run(tmp_path, start, end)
    out, err = alone.communicate(timeout=600)
    assert alone.returncode == 0, err[-3000:]
    with Warehouse(database=str(settings.warehouse)).get_connection() as con:
        assert con.execute(COUNTS).fetchone() == after_both
        assert after_both[0] > 0 and after_both[5] > 0
