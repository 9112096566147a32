"""Outcomes that land late re-materialize exactly the as-of days that read them, in one run."""

import json
from datetime import timedelta

from dagster import DagsterInstance, SkipReason, build_sensor_context, materialize
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from abgate_pipeline.cli import run_gate
from abgate_pipeline.definitions import build_definitions
from abgate_pipeline.defs.ingest import outcome_extracts
from abgate_pipeline.defs.resources import Warehouse
from abgate_pipeline.defs.sensors import stale_as_of_days
from abgate_pipeline.simulate import simulate
from abgate_pipeline_tests.conftest import DEMO_START, make_settings

RESOLVED = (
    "SELECT coalesce(sum(mature_sum), 0) FROM experiment_unit_values "
    "WHERE as_of = ? AND source = 'outcome' AND name = 'ticket_resolved'"
)


def test_stale_days_are_those_analysed_before_an_earlier_landing_day():
    analysed = {"2026-11-01": 10, "2026-11-02": 11, "2026-11-03": 12}
    assert stale_as_of_days({"2026-11-02": 20}, analysed) == ["2026-11-02", "2026-11-03"]
    assert stale_as_of_days({"2026-11-02": 5}, analysed) == []  # analysed after it landed
    assert stale_as_of_days({"2026-11-04": 20}, analysed) == []  # no as-of day reads it


def _late_resolutions(landing, day) -> int:
    """Append resolutions, arriving on `day`, for tickets opened that day that had none."""
    logs = landing / "inference_logs" / day.isoformat() / "part-0000.jsonl"
    outcomes = landing / "outcomes" / day.isoformat() / "part-0000.jsonl"
    opened = {}
    for line in logs.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and row.get("experiment_id") == "support-bot-model-upgrade":
            opened.setdefault(row.get("correlation_key"), row.get("timestamp"))
    resolved = set()
    for line in outcomes.read_text().splitlines():
        try:
            resolved.add(json.loads(line).get("correlation_key"))
        except (json.JSONDecodeError, AttributeError):
            continue
    late = [
        {
            "event_id": f"late-{i}",
            "correlation_key": key,
            "outcome": "ticket_resolved",
            "value": 1,
            "timestamp": f"{day.isoformat()}T23:59:59Z",
            "source": "zendesk",
        }
        for i, key in enumerate(sorted(k for k in opened if k and k not in resolved))
    ]
    with outcomes.open("a") as handle:
        handle.writelines(json.dumps(event) + "\n" for event in late)
    return len(late)


def test_a_late_outcome_day_rematerializes_the_days_after_it(tmp_path):
    settings = make_settings(tmp_path)
    simulate(settings.landing_dir, start=DEMO_START, days=4, scale=0.03)
    instance = DagsterInstance.ephemeral()
    end = DEMO_START + timedelta(days=3)
    assert run_gate(DEMO_START, end, settings=settings, instance=instance, promote=False)["success"]
    defs = build_definitions(settings)
    sensor = defs.resolve_sensor_def("late_data_sensor")
    with build_sensor_context(instance=instance, definitions=defs) as context:
        first = sensor(context)
    assert not first.run_requests  # everything analysed after it landed

    late_day = DEMO_START + timedelta(days=1)
    assert _late_resolutions(settings.landing_dir, late_day) > 0
    with Warehouse(database=str(settings.warehouse)).get_connection() as con:
        before = con.execute(RESOLVED, [end]).fetchone()[0]
    resources = {
        "settings": defs.resources["settings"],
        "warehouse_db": defs.resources["warehouse_db"],
    }
    assert materialize(
        [outcome_extracts],
        instance=instance,
        partition_key=late_day.isoformat(),
        resources=resources,
    ).success

    with build_sensor_context(instance=instance, definitions=defs, cursor=first.cursor) as context:
        second = sensor(context)
    (request,) = second.run_requests
    assert request.tags[ASSET_PARTITION_RANGE_START_TAG] == late_day.isoformat()
    assert request.tags[ASSET_PARTITION_RANGE_END_TAG] == end.isoformat()
    result = defs.resolve_job_def("daily_gate_job").execute_in_process(
        instance=instance, tags=request.tags, asset_selection=request.asset_selection
    )
    assert result.success
    with Warehouse(database=str(settings.warehouse)).get_connection() as con:
        assert con.execute(RESOLVED, [end]).fetchone()[0] > before

    with build_sensor_context(instance=instance, definitions=defs, cursor=second.cursor) as context:
        assert isinstance(sensor(context), SkipReason)  # no landing day since


def test_a_headless_run_of_a_redelivered_day_refreshes_the_days_after_it(tmp_path):
    """`abgate run` for a re-delivered day alone also re-runs the later as-of days it feeds, so
    `latest` never shows data that has been replaced."""
    settings = make_settings(tmp_path)
    simulate(settings.landing_dir, start=DEMO_START, days=4, scale=0.03)
    instance = DagsterInstance.ephemeral()
    end = DEMO_START + timedelta(days=3)
    first = run_gate(DEMO_START, end, settings=settings, instance=instance, promote=False)
    assert first["success"] and first["refreshed"] == []
    latest = settings.reports_dir / "support-bot-model-upgrade" / end.isoformat() / "decision.json"
    before_record = json.loads(latest.read_text())
    with Warehouse(database=str(settings.warehouse)).get_connection() as con:
        before = con.execute(RESOLVED, [end]).fetchone()[0]

    redelivered = DEMO_START + timedelta(days=1)
    assert _late_resolutions(settings.landing_dir, redelivered) > 0
    summary = run_gate(
        redelivered, redelivered, settings=settings, instance=instance, promote=False
    )

    assert summary["success"]
    (refresh,) = summary["refreshed"]
    assert (refresh["from"], refresh["to"]) == (
        (redelivered + timedelta(days=1)).isoformat(),
        end.isoformat(),
    )
    with Warehouse(database=str(settings.warehouse)).get_connection() as con:
        assert con.execute(RESOLVED, [end]).fetchone()[0] > before
    after_record = json.loads(latest.read_text())
    assert after_record["run_id"] == refresh["run_id"] != before_record["run_id"]
    # Nothing stale is left: a third run of the same day refreshes only what it replaces again.
    again = run_gate(end, end, settings=settings, instance=instance, promote=False)
    assert again["success"] and again["refreshed"] == []
