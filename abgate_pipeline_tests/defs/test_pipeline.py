"""The whole gate, end to end on simulated demo traffic: landing files -> Dagster assets ->
verdict -> report -> sensor -> flag file. Built once per session (see conftest.gate_run)."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from dagster import build_sensor_context

from abgate_pipeline.cli import run_gate
from abgate_pipeline.definitions import build_definitions
from abgate_pipeline.defs.resources import Warehouse
from abgate_pipeline.flags import FlagdFileBackend
from abgate_pipeline_tests.conftest import DEMO_START

SUPPORT, SALES = "support-bot-model-upgrade", "sales-assistant-cheaper-model"
METRIC_KEYS = {
    "name", "role", "kind", "variant", "n_control", "n_treatment", "control_value",
    "treatment_value", "abs_diff", "rel_lift", "ci_low", "ci_high", "ci_of", "p_value",
    "significant",
}  # fmt: skip


def decision(run, experiment_id, day=None):
    day = (day or run.end).isoformat()
    return json.loads(
        (run.settings.reports_dir / experiment_id / day / "decision.json").read_text()
    )


def read_only(run):
    """A warehouse connection as the pipeline opens it (same DuckDB config, same lock)."""
    return Warehouse(database=str(run.settings.warehouse)).get_connection()


def test_demo_experiments_get_their_true_verdicts(gate_run):
    assert decision(gate_run, SUPPORT)["decision"] == "promote"
    assert decision(gate_run, SALES)["decision"] == "rollback"


def test_decision_json_holds_the_contract(gate_run):
    record = decision(gate_run, SUPPORT)
    for key in ("experiment_id", "as_of", "decision", "reasons", "srm", "metrics", "rollout"):
        assert key in record
    assert record["as_of"] == gate_run.end.isoformat()
    assert set(record["srm"]) >= {"p_value", "passed"}
    assert record["rollout"]["current_pct"] == 10 and record["rollout"]["next_pct"] == 50
    names = {m["name"] for m in record["metrics"]}
    assert names == {
        "resolution_rate", "csat", "p95_latency_ms", "cost_per_resolution", "refusal_rate",
        "schema_valid_rate",
    }  # fmt: skip
    for metric in record["metrics"]:
        assert set(metric) >= METRIC_KEYS, metric["name"]
        if metric["role"] == "guardrail":
            assert metric["margin"] is not None and metric["non_inferior"] is True
    primary = next(m for m in record["metrics"] if m["role"] == "primary")
    assert primary["significant"] and primary["ci_low"] > 0
    assert record["reasons"] and all(isinstance(r, str) for r in record["reasons"])


def test_rollback_names_the_harmed_guardrails(gate_run):
    record = decision(gate_run, SALES)
    harmed = {m["name"] for m in record["metrics"] if m.get("confidently_worse")}
    assert harmed == {"p95_latency_ms", "refusal_rate"}
    latency = next(m for m in record["metrics"] if m["name"] == "p95_latency_ms")
    assert 0.15 < latency["rel_lift"] < 0.35  # the simulator planted +25 %
    assert record["rollout"]["next_pct"] == 0


def test_reports_are_written_per_day_with_latest(gate_run):
    for exp in (SUPPORT, SALES):
        folder = gate_run.settings.reports_dir / exp
        days = sorted(p.name for p in folder.iterdir() if p.is_dir())
        assert days[0] == DEMO_START.isoformat() and days[-1] == gate_run.end.isoformat()
        latest = (folder / "latest.html").read_text()
        assert latest == (folder / gate_run.end.isoformat() / "report.html").read_text()
        assert "<script" not in latest.lower()


def test_flag_file_holds_promoted_and_rolled_back_weights(gate_run):
    flags = FlagdFileBackend(gate_run.settings.flags_file)
    assert flags.get("support-bot-llm").weights == {"champion": 50, "challenger": 50}
    assert flags.get("sales-assistant-llm").weights == {"champion": 100, "challenger": 0}
    assert all(p["success"] for p in gate_run.summary["promotions"])
    with read_only(gate_run) as con:
        log = con.execute(
            "SELECT experiment_id, action, from_pct, to_pct FROM decision_log ORDER BY 1"
        ).fetchall()
    assert log == [(SALES, "rollback", 50, 0), (SUPPORT, "promote", 10, 50)]


def test_flagd_provider_serves_the_written_split(gate_run):
    from openfeature import api
    from openfeature.contrib.provider.flagd import FlagdProvider
    from openfeature.contrib.provider.flagd.config import ResolverType
    from openfeature.evaluation_context import EvaluationContext

    provider = FlagdProvider(
        resolver_type=ResolverType.FILE,
        offline_flag_source_path=str(gate_run.settings.flags_file),
    )
    api.set_provider_and_wait(provider)
    try:
        client = api.get_client()
        served = [
            client.get_string_value("support-bot-llm", "fallback", EvaluationContext(f"user-{i}"))
            for i in range(10_000)
        ]
        share = served.count("challenger") / len(served)
        assert abs(share - 0.50) <= 0.015
        rolled_back = {
            client.get_string_value("sales-assistant-llm", "fallback", EvaluationContext(f"u{i}"))
            for i in range(500)
        }
        assert rolled_back == {"champion"}
    finally:
        api.shutdown()


def _non_blank_lines(folder: Path) -> dict[str, int]:
    counts = {}
    for day in sorted(p for p in folder.iterdir() if p.is_dir()):
        counts[day.name] = sum(
            1 for f in day.glob("*.jsonl") for line in f.read_text().splitlines() if line.strip()
        )
    return counts


@pytest.mark.parametrize(
    ("folder", "table", "dataset"),
    [
        ("inference_logs", "inference_logs", "inference_logs"),
        ("outcomes", "outcome_events", "outcomes"),
    ],
)
def test_counts_reconcile_with_quarantine(gate_run, folder, table, dataset):
    lines = _non_blank_lines(gate_run.settings.landing_dir / folder)
    with read_only(gate_run) as con:
        stored = dict(
            con.execute(
                f"SELECT strftime(partition_date, '%Y-%m-%d'), count(*) FROM {table} GROUP BY 1"
            ).fetchall()
        )
        quarantined = dict(
            con.execute(
                "SELECT strftime(partition_date, '%Y-%m-%d'), count(*) FROM quarantine "
                "WHERE dataset = ? GROUP BY 1",
                [dataset],
            ).fetchall()
        )
        reasons = {r for (r,) in con.execute("SELECT DISTINCT reason FROM quarantine").fetchall()}
    for day, n in lines.items():
        assert n == stored.get(day, 0) + quarantined.get(day, 0), day
    planted = sum(
        d[f"{'inference' if folder == 'inference_logs' else 'outcome'}_malformed"]
        for d in gate_run.simulation["day_counts"]
    )
    assert sum(quarantined.values()) == planted
    assert "invalid JSON" in reasons


def test_planted_pii_is_nowhere_persisted(gate_run):
    planted = gate_run.simulation["planted_pii"]
    assert planted, "the simulator should plant PII"
    blobs = [p.read_bytes() for p in gate_run.settings.reports_dir.rglob("*") if p.is_file()]
    with read_only(gate_run) as con:
        for table in ("inference_logs", "quarantine"):
            blobs.append(repr(con.execute(f"SELECT * FROM {table}").fetchall()).encode())
    blobs += [p.read_bytes() for p in gate_run.settings.warehouse.parent.glob("warehouse.duckdb*")]
    records = gate_run.instance.get_records_for_run(gate_run.summary["run_id"]).records
    blobs.append(repr([r.event_log_entry for r in records]).encode())
    for value in planted:
        for blob in blobs:
            assert value.encode() not in blob, value


def test_sensor_requests_exactly_the_promote_and_rollback(gate_run):
    defs = build_definitions(gate_run.settings)
    sensor = defs.resolve_sensor_def("gate_sensor")
    with build_sensor_context(instance=gate_run.instance, definitions=defs) as context:
        result = sensor(context)
    configs = sorted(
        r.run_config["ops"]["feature_flag_promotion"]["config"]["experiment_id"]
        + ":"
        + r.run_config["ops"]["feature_flag_promotion"]["config"]["action"]
        for r in result.run_requests
    )
    assert configs == [f"{SALES}:rollback", f"{SUPPORT}:promote"]
    assert all(
        r.run_config["ops"]["feature_flag_promotion"]["config"]["as_of"] == gate_run.end.isoformat()
        for r in result.run_requests
    )
    # A second tick from the returned cursor sees nothing new.
    with build_sensor_context(
        instance=gate_run.instance, definitions=defs, cursor=result.cursor
    ) as context:
        again = sensor(context)
    assert not getattr(again, "run_requests", None)


def test_applying_a_decision_twice_changes_nothing(gate_run):
    defs = build_definitions(gate_run.settings)
    before = FlagdFileBackend(gate_run.settings.flags_file).get("support-bot-llm")
    result = defs.resolve_job_def("promotion_job").execute_in_process(
        instance=gate_run.instance,
        run_config={
            "ops": {
                "feature_flag_promotion": {
                    "config": {
                        "experiment_id": SUPPORT,
                        "as_of": gate_run.end.isoformat(),
                        "action": "promote",
                    }
                }
            }
        },
    )
    assert result.success
    assert FlagdFileBackend(gate_run.settings.flags_file).get("support-bot-llm") == before


def test_stale_decision_is_refused(gate_run):
    defs = build_definitions(gate_run.settings)
    stale = (gate_run.end - timedelta(days=1)).isoformat()
    result = defs.resolve_job_def("promotion_job").execute_in_process(
        instance=gate_run.instance,
        raise_on_error=False,
        run_config={
            "ops": {
                "feature_flag_promotion": {
                    "config": {"experiment_id": SALES, "as_of": stale, "action": "rollback"}
                }
            }
        },
    )
    assert not result.success


def test_rerunning_a_day_replaces_it(gate_run):
    day = DEMO_START + timedelta(days=2)
    query = (
        "SELECT (SELECT count(*) FROM inference_logs), (SELECT count(*) FROM outcome_events), "
        "(SELECT count(*) FROM quarantine), (SELECT count(*) FROM experiment_units), "
        "(SELECT count(*) FROM metric_frames), (SELECT count(*) FROM gate_decisions)"
    )
    with read_only(gate_run) as con:
        before = con.execute(query).fetchone()
    summary = run_gate(
        day, day, settings=gate_run.settings, instance=gate_run.instance, promote=False
    )
    assert summary["success"]
    with read_only(gate_run) as con:
        assert con.execute(query).fetchone() == before
