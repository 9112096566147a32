"""A re-run of the same days on the same data writes the same decision.json bytes, and a past
decision keeps the rollout state it was made in, even after the flag moved because of it.

Only the run's own facts differ between runs (`run_id`, `generated_at`); everything else,
every float digit included, must be byte-identical: DuckDB adds DOUBLEs in parallel in an order
that varies run to run, which is why the warehouse sums are exact (schema.sql `exact_sum`).
"""

import json
import os
from datetime import timedelta

import pytest
from dagster import DagsterInstance

from abgate_pipeline.cli import run_gate
from abgate_pipeline.config import load_experiments
from abgate_pipeline.files import new_file_mode
from abgate_pipeline.flags import FlagdFileBackend
from abgate_pipeline.simulate import simulate
from abgate_pipeline_tests.conftest import DEMO_START, make_settings

DAYS = 8
RUN_FACTS = ("run_id", "generated_at")


def _decisions(reports_dir):
    """Every decision.json as its bytes, with the run's own facts blanked out."""
    out = {}
    for path in sorted(reports_dir.rglob("decision.json")):
        text = path.read_text()
        record = json.loads(text)
        for key in RUN_FACTS:
            text = text.replace(json.dumps(record[key]), '"<run fact>"')
        out[str(path.relative_to(reports_dir))] = text
    return out


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("repro"))
    simulate(settings.landing_dir, start=DEMO_START, days=DAYS, scale=0.25)
    first_day = min(e.first_day for e in load_experiments(settings.experiments_file))
    end = DEMO_START + timedelta(days=DAYS - 1)
    instance = DagsterInstance.ephemeral()
    first = run_gate(first_day, end, settings=settings, instance=instance)
    assert first["success"] and first["promotions"], first
    before = _decisions(settings.reports_dir)
    second = run_gate(first_day, end, settings=settings, instance=instance, promote=False)
    assert second["success"]
    return settings, before, _decisions(settings.reports_dir)


def test_a_rerun_writes_byte_identical_decisions(two_runs):
    _, before, after = two_runs
    assert len(before) == 2 * DAYS
    differing = [name for name in before if before[name] != after[name]]
    assert differing == []


def test_past_decisions_keep_the_rollout_state_they_were_made_in(two_runs):
    settings, _, after = two_runs
    flags = FlagdFileBackend(settings.flags_file)
    configured, moved = {}, {}
    for exp in load_experiments(settings.experiments_file):
        shares = exp.expected_shares()
        configured[exp.id] = round(100 * sum(shares[v] for v in exp.challengers))
        state = flags.get(exp.flag_key)
        if state is not None:
            moved[exp.id] = sum(state.weights[v] for v in exp.challengers)
    assert any(moved[e] != configured[e] for e in moved)  # the first run moved a flag
    for name, text in after.items():
        record = json.loads(text)
        # the split the decision was first made at, not the flag's value now
        assert record["rollout"]["current_pct"] == configured[record["experiment_id"]], name


def test_reports_get_the_mode_the_umask_gives_like_the_flag_file(two_runs):
    settings, _, _ = two_runs
    expected = new_file_mode()
    assert expected == 0o666 & ~_umask()
    for path in settings.reports_dir.rglob("*"):
        if path.is_file():
            assert path.stat().st_mode & 0o777 == expected, path


def _umask() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return umask
