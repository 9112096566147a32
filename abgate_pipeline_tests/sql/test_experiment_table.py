"""The attribution-window join (`sql/experiment_table.sql`) on hand-made edge cases."""

import json
from datetime import date, datetime, timedelta

import duckdb
import pandas as pd
import pytest
import yaml

from abgate_pipeline import warehouse
from abgate_pipeline.config import load_experiments

START = datetime(2026, 11, 1)
AS_OF = date(2026, 11, 5)  # visible: everything before 2026-11-06 00:00
H = timedelta(hours=1)
CONFIG = {
    "experiments": [
        {
            "id": "exp", "flag_key": "f", "champion": "a", "challengers": ["b"],
            "start": "2026-11-01", "attribution_window_hours": 24, "pre_period_days": 3,
            "metrics": [
                {"name": "resolved", "role": "primary", "kind": "proportion", "outcome": "resolved"},
                {"name": "latency", "role": "guardrail", "kind": "mean", "column": "latency_ms",
                 "better": "lower", "margin": 0.1},
                {"name": "cost_per_resolved", "role": "guardrail", "kind": "ratio",
                 "numerator": "cost_usd", "denominator": "resolved", "better": "lower",
                 "margin": 0.1},
            ],
        }
    ]
}  # fmt: skip


def log(request_id, unit, key, ts, variant="a", partition=None, cost=0.01):
    return {
        "partition_date": partition or ts.date(), "request_id": request_id, "ts": ts,
        "experiment_id": "exp", "variant": variant, "unit_id": unit, "correlation_key": key,
        "latency_ms": 100.0, "cost_usd": cost, "source_file": "f", "line_number": 1,
    }  # fmt: skip


def event(event_id, key, ts, value=1.0, unit=None, outcome="resolved"):
    return {
        "partition_date": ts.date(), "event_id": event_id, "correlation_key": key,
        "outcome": outcome, "value": value, "ts": ts, "source_file": "f", "line_number": 1,
        "unit_id": unit,
    }  # fmt: skip


LOGS = [
    log("r1", "u1", "k1", START + 10 * H),  # k1: window 11-01 10:00 .. 11-02 10:00
    log("r2", "u1", "k1", START + 12 * H),
    log("r2", "u1", "k1", START + 12 * H, partition=date(2026, 11, 2)),  # re-delivered copy
    log("r3", "u2", "k2", START + 20 * H),  # k2: event exactly at the window end: not counted
    log("r4", "u3", "k3", START + 30 * H),  # k3: event before its first request: not counted
    log("r5", "u4", "k4", datetime(2026, 11, 5, 12)),  # k4: window still open at the as-of end
    log("r6", "u5", "k5", START + 40 * H),  # u5 is served both variants
    log("r7", "u5", "k6", START + 41 * H, variant="b"),
    log("r8", "u6", "k7", datetime(2026, 11, 6, 1)),  # after the as-of day: invisible
    log("r0", "u7", "k8", START - 5 * H),  # before the start: not the experiment's
    log("q1", "u1", "kq", START - 30 * H, cost=0.25),  # u1's pre-period requests: CUPED's x
    log("q2", "u1", "kq", START - 29 * H, cost=0.5),
    log("q2", "u1", "kq", START - 29 * H, cost=0.5, partition=date(2026, 11, 1)),  # a copy
    log("q3", "u1", "kq", START - 100 * H, cost=9.0),  # before the 3-day pre-period
]
EVENTS = [
    event("e1", "k1", START + 20 * H),
    event("e1", "k1", START + 20 * H),  # duplicate event id: once
    event("e2", "k1", START + 11 * H, value=2.0),
    event("e3", "k2", START + 44 * H),  # == first request + 24 h
    event("e4", "k3", START + 29 * H),
    event("e5", "k4", datetime(2026, 11, 5, 20)),
    event("p1", "x", START - 30 * H, unit="u1"),  # pre-period, names the unit
    event("p2", "y", START - 100 * H, unit="u1"),  # before the 3-day pre-period
]


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "experiments.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    con = duckdb.connect()
    warehouse.ensure_schema(con)
    warehouse.sync_config(con, load_experiments(path))
    for table, rows in (("inference_logs", LOGS), ("outcome_events", EVENTS)):
        con.register("rows", pd.DataFrame(rows))
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM rows")
        con.unregister("rows")
    warehouse.run(con, "experiment_table", as_of=AS_OF)
    return con


def units(con) -> pd.DataFrame:
    return con.execute("SELECT * FROM experiment_units ORDER BY unit_id").df().set_index("unit_id")


def outcome(con, unit) -> tuple:
    return con.execute(
        "SELECT mature_sum, mature_any, mature_present FROM experiment_unit_values "
        "WHERE unit_id = ? AND source = 'outcome' AND name = 'resolved'",
        [unit],
    ).fetchone()


def test_only_the_experiments_visible_requests_count_once(con):
    u = units(con)
    assert list(u.index) == ["u1", "u2", "u3", "u4", "u5"]  # not u6 (later), not u7 (before)
    assert u.loc["u1", "requests"] == 2  # the re-delivered copy of r2 counts once


def test_outcomes_inside_the_window_count_and_duplicates_once(con):
    assert outcome(con, "u1") == (3.0, 1, 1)  # e1 once + e2 (value 2) on one mature key


def test_window_end_and_events_before_exposure_do_not_count(con):
    assert outcome(con, "u2") is None  # at exactly first request + window: outside
    assert outcome(con, "u3") is None  # before the key's first request


def test_a_key_whose_window_is_open_is_not_mature(con):
    u = units(con)
    assert u.loc["u4", "n_mature_keys"] == 0 and u.loc["u4", "n_keys"] == 1
    assert outcome(con, "u4") == (None, 0, 0)  # seen, but not counted as a failure yet


def test_a_unit_in_two_variants_is_flagged(con):
    assert units(con).loc["u5", "n_variants"] == 2


def test_pre_period_covariate_comes_from_unit_tagged_events_in_the_pre_period(con):
    rows = con.execute(
        "SELECT unit_id, outcome, pre_value FROM experiment_unit_pre WHERE source = 'outcome'"
    ).fetchall()
    assert rows == [("u1", "resolved", 1.0)]  # p1 only; p2 is before the 3-day pre-period


def test_a_ratios_log_column_covariate_comes_from_pre_period_requests(con):
    """cost_usd / resolved with CUPED: the numerator's pre-period value is the unit's cost over
    its requests before the start (each request once), for every experiment unit."""
    rows = con.execute(
        "SELECT unit_id, outcome, pre_value FROM experiment_unit_pre WHERE source = 'column' "
        "ORDER BY unit_id"
    ).fetchall()
    assert rows[0] == ("u1", "cost_usd", 0.75)  # q1 + q2 once; q3 is before the pre-period
    assert [unit for unit, _, _ in rows] == ["u1"]  # units without pre-period requests: none


def test_a_flag_change_starts_a_new_phase(tmp_path):
    """After a ramp at 11-02 11:00 only later requests are analysed, against the new split."""
    path = tmp_path / "experiments.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    con = duckdb.connect()
    warehouse.ensure_schema(con)
    warehouse.sync_config(con, load_experiments(path))
    con.register("rows", pd.DataFrame(LOGS))
    con.execute("INSERT INTO inference_logs BY NAME SELECT * FROM rows")
    change = START + 35 * H
    con.execute(
        "INSERT INTO decision_log (changed_at, experiment_id, as_of, action, flag_key, from_pct, "
        "to_pct, flag_version, weights) VALUES (?, 'exp', ?, 'promote', 'f', 10, 50, 2, ?)",
        [change, change.date(), '{"a": 50, "b": 50}'],
    )
    before = warehouse.run(con, "experiment_phase", as_of=date(2026, 11, 1)).iloc[0]
    assert before["phase_start"] == START and before["weights"] is None
    phase = warehouse.run(con, "experiment_phase", as_of=AS_OF).iloc[0]
    assert phase["phase_start"] == change and json.loads(phase["weights"]) == {"a": 50, "b": 50}
    warehouse.run(con, "experiment_table", as_of=AS_OF)
    assert list(units(con).index) == ["u4", "u5"]  # requests after the change only


def test_log_columns_count_every_visible_request_mature_or_not(con):
    rows = con.execute(
        "SELECT unit_id, latency_ms_sum, latency_ms_count, latency_ms_mature_sum "
        "FROM experiment_units ORDER BY unit_id"
    ).fetchall()
    assert rows == [
        ("u1", 200.0, 2, 200.0),
        ("u2", 100.0, 1, 100.0),
        ("u3", 100.0, 1, 100.0),
        ("u4", 100.0, 1, None),  # its key's window is still open: not mature, still counted
        ("u5", 200.0, 2, 200.0),
    ]


def test_only_the_log_columns_metrics_read_are_summed(con):
    """Summing every log column for millions of units would not fit the memory budget."""
    assert units(con)["output_tokens_sum"].isna().all() and units(con)["cost_usd_sum"].notna().all()
