"""The `abgate` command as a user meets it: a configuration mistake is one clear message and a
non-zero exit, before any run starts (no traceback, no run in the instance)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from abgate_pipeline.config import DEMO_EXPERIMENTS


def _abgate(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "dagster"),
        "ABGATE_LANDING_DIR": str(tmp_path / "landing"),
        "ABGATE_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
        "ABGATE_REPORTS_DIR": str(tmp_path / "reports"),
        "ABGATE_FLAGS_FILE": str(tmp_path / "flags.json"),
        **env,
    }
    environ = {k: v for k, v in environ.items() if v is not None and v != "<unset>"}
    return subprocess.run(
        [sys.executable, "-m", "abgate_pipeline.cli", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _bad_id_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "experiments.yaml"
    path.write_text(
        DEMO_EXPERIMENTS.read_text().replace("id: support-bot-model-upgrade", "id: ../../escape", 1)
    )
    return path


@pytest.mark.parametrize(
    "command", [["run", "--from", "2026-11-01", "--to", "2026-11-02"], ["demo"]]
)
def test_a_config_error_is_one_message_and_exit_2(tmp_path, command):
    done = _abgate(tmp_path, *command, ABGATE_EXPERIMENTS=str(_bad_id_yaml(tmp_path)))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    assert done.stderr.startswith("abgate: ")
    assert "`id` '../../escape' is not a valid experiment id" in done.stderr
    assert not (tmp_path / "warehouse.duckdb").exists()  # nothing ran
    assert not (tmp_path / "landing").exists()  # the demo did not simulate either


def test_a_missing_redaction_key_is_caught_before_the_run(tmp_path):
    done = _abgate(
        tmp_path, "run", "--from", "2026-11-01", "--to", "2026-11-02",
        ABGATE_REDACTION_KEY="<unset>",
    )  # fmt: skip
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "ABGATE_REDACTION_KEY is not set" in done.stderr
    assert not (tmp_path / "warehouse.duckdb").exists()
