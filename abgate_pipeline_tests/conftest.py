"""Shared fixtures: a simulated landing folder run through the whole gate, once per session."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

# Redaction needs a key; tests use a fixed one (real deployments set their own secret).
os.environ.setdefault("ABGATE_REDACTION_KEY", "abgate-test-key")

DEMO_START = date(2026, 11, 1)
# Smallest traffic at which the demo's true effects still give promote / rollback reliably.
E2E_SCALE = 0.4
E2E_DAYS = 14


@dataclass
class GateRun:
    settings: object
    instance: object
    summary: dict
    simulation: dict
    end: date


def make_settings(root: Path):
    from abgate_pipeline.config import DEMO_EXPERIMENTS, Settings

    return Settings(
        landing_dir=root / "landing",
        experiments_file=DEMO_EXPERIMENTS,
        warehouse=root / "warehouse.duckdb",
        reports_dir=root / "reports",
        flags_file=root / "flags" / "flags.flagd.json",
    )


def simulate_and_run(root: Path, *, scale: float, days: int, tamper=None) -> GateRun:
    """Simulate demo traffic into `root`, optionally tamper with it, run the gate end to end."""
    from dagster import DagsterInstance

    from abgate_pipeline.cli import run_gate
    from abgate_pipeline.config import load_experiments
    from abgate_pipeline.simulate import simulate

    settings = make_settings(root)
    simulation = simulate(settings.landing_dir, start=DEMO_START, days=days, scale=scale)
    if tamper is not None:
        tamper(settings.landing_dir)
    instance = DagsterInstance.ephemeral()
    end = DEMO_START + timedelta(days=days - 1)
    first = min(e.first_day for e in load_experiments(settings.experiments_file))
    summary = run_gate(first, end, settings=settings, instance=instance)
    return GateRun(settings, instance, summary, simulation.to_dict(), end)


@pytest.fixture(scope="session")
def gate_run(tmp_path_factory) -> GateRun:
    """The two demo experiments, 14 days at reduced volume, through every asset and the sensor."""
    run = simulate_and_run(tmp_path_factory.mktemp("gate"), scale=E2E_SCALE, days=E2E_DAYS)
    assert run.summary["success"], run.summary
    return run
