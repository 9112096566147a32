"""A sample-ratio mismatch injected into the landing files makes the gate say `invalid`, and the
flag does not move."""

import json
import zlib
from pathlib import Path

import pytest

from abgate_pipeline.flags import FlagdFileBackend
from abgate_pipeline_tests.conftest import simulate_and_run

SUPPORT = "support-bot-model-upgrade"


def drop_challenger_users(landing: Path) -> None:
    """Lose the logs of ~40 % of support-bot challenger users (a logging bug in one arm)."""
    for path in (landing / "inference_logs").rglob("*.jsonl"):
        kept = []
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                kept.append(line)
                continue
            lost = (
                isinstance(row, dict)
                and row.get("experiment_id") == SUPPORT
                and row.get("variant") == "challenger"
                and zlib.crc32(str(row.get("unit_id")).encode()) % 10 < 4
            )
            if not lost:
                kept.append(line)
        path.write_text("\n".join(kept) + "\n")


@pytest.fixture(scope="module")
def srm_run(tmp_path_factory):
    return simulate_and_run(
        tmp_path_factory.mktemp("srm"), scale=0.2, days=6, tamper=drop_challenger_users
    )


def test_srm_yields_invalid_and_no_flag_change(srm_run):
    record = json.loads(
        (
            srm_run.settings.reports_dir / SUPPORT / srm_run.end.isoformat() / "decision.json"
        ).read_text()
    )
    assert record["decision"] == "invalid"
    assert record["srm"]["passed"] is False and record["srm"]["p_value"] < 0.001
    assert any("sample_ratio_mismatch" in reason for reason in record["reasons"])
    assert record["checks_passed"] is False
    assert FlagdFileBackend(srm_run.settings.flags_file).get("support-bot-llm") is None
    assert all(p["run_key"].split(":")[0] != SUPPORT for p in srm_run.summary["promotions"])
    report = (srm_run.settings.reports_dir / SUPPORT / "latest.html").read_text()
    assert "sample" in report.lower() and "invalid" in report.lower()


def test_srm_check_fails_in_dagster(srm_run):
    from dagster import AssetCheckKey, AssetKey

    evaluation = srm_run.instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [AssetCheckKey(AssetKey("experiment_table"), "sample_ratio_mismatch")]
    )
    execution = next(iter(evaluation.values()))
    assert execution.evaluation.passed is False
