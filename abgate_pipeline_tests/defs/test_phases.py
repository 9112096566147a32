"""After a ramp the experiment table's SRM check and the decision test the same split: the one
the flag serves in the new phase, not the configured allocation."""

import json
from datetime import datetime, time, timedelta

from dagster import AssetCheckKey, AssetKey, DagsterInstance

from abgate_pipeline.cli import run_gate
from abgate_pipeline.defs.resources import Warehouse
from abgate_pipeline.simulate import simulate
from abgate_pipeline_tests.conftest import DEMO_START, make_settings

SUPPORT = "support-bot-model-upgrade"  # configured 90/10, and the simulated service serves 90/10
SRM_CHECK = AssetCheckKey(AssetKey("experiment_table"), "sample_ratio_mismatch")


def test_a_ramped_phase_is_tested_against_its_split_in_the_check_and_the_decision(tmp_path):
    settings = make_settings(tmp_path)
    simulate(settings.landing_dir, start=DEMO_START, days=4, scale=0.05)
    instance = DagsterInstance.ephemeral()
    end = DEMO_START + timedelta(days=3)
    assert run_gate(DEMO_START, end, settings=settings, instance=instance, promote=False)["success"]

    # The flag moved to 50/50 at the start of day 3 (the promotion's audit entry); the service
    # kept serving 90/10, so in the new phase the split no longer matches what the flag says.
    ramp = datetime.combine(DEMO_START + timedelta(days=2), time())
    with Warehouse(database=str(settings.warehouse)).get_connection() as con:
        con.execute(
            "INSERT INTO decision_log (changed_at, experiment_id, as_of, action, flag_key, "
            "from_pct, to_pct, flag_version, approved_by, run_id, weights) "
            "VALUES (?, ?, ?, 'promote', 'support-bot-llm', 10, 50, 2, NULL, 'test', ?)",
            [
                ramp,
                SUPPORT,
                DEMO_START + timedelta(days=1),
                json.dumps({"champion": 50, "challenger": 50}),
            ],
        )
    assert run_gate(end, end, settings=settings, instance=instance, promote=False)["success"]

    record = json.loads(
        (settings.reports_dir / SUPPORT / end.isoformat() / "decision.json").read_text()
    )
    assert record["phase_start"].startswith(ramp.date().isoformat())
    assert record["srm"]["expected_share"] == {"champion": 0.5, "challenger": 0.5}
    assert record["srm"]["passed"] is False and record["decision"] == "invalid"

    execution = instance.event_log_storage.get_latest_asset_check_execution_by_key([SRM_CHECK])
    check = execution[SRM_CHECK].evaluation
    assert check.passed is False
    assert f"{end.isoformat()} {SUPPORT}: sample-ratio mismatch" in check.description
    assert "'champion': 0.5, 'challenger': 0.5" in check.description
