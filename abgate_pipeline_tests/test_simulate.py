"""Tests for `abgate_pipeline.simulate`: the demo landing files and the truth planted in them.

Everything here re-reads the written files with its own parser and validator (not the
simulator's helpers), so a bug in the simulator cannot hide behind itself. Structural tests run
on a small scale; the effect-size tests need the default volume and share one run.
"""

from __future__ import annotations

import io
import json
import math
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from abgate_pipeline.simulate import SUMMARY_FILE, SimulationSummary, simulate

CONFIG_PATH = Path(__file__).parents[1] / "abgate_pipeline" / "demo" / "experiments.yaml"
SUPPORT = "support-bot-model-upgrade"
SALES = "sales-assistant-cheaper-model"
SMALL_SCALE = 0.03
START = date(2026, 11, 1)
DAYS = 14
PRE_DAYS = 14  # the support experiment's pre-period (CUPED history before the start)
END = pd.Timestamp(START + timedelta(days=DAYS), tz="UTC")
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
SEGMENTS = {
    SUPPORT: ("query_type", {"billing", "technical", "account", "other"}),
    SALES: ("channel", {"web", "email", "chat"}),
}
STR, INT, NUM, BOOL = "str", "int", "num", "bool"
REQUEST_TYPES = {
    "request_id": STR,
    "timestamp": STR,
    "experiment_id": STR,
    "variant": STR,
    "unit_id": STR,
    "correlation_key": STR,
    "trace_id": STR,
    "model": STR,
    "prompt_version": STR,
    "input_tokens": INT,
    "output_tokens": INT,
    "cost_usd": NUM,
    "latency_ms": NUM,
    "finish_reason": STR,
    "status": STR,
    "fallback": BOOL,
    "refusal": BOOL,
    "schema_valid": BOOL,
    "prompt": STR,
    "response": STR,
}
# Requests before the start only feed CUPED's covariate: numbers, no trace and no text.
PRE_REQUEST_TYPES = {
    name: kind
    for name, kind in REQUEST_TYPES.items()
    if name not in ("trace_id", "prompt", "response")
}
OUTCOME_TYPES = {
    "event_id": STR,
    "correlation_key": STR,
    "outcome": STR,
    "value": NUM,
    "timestamp": STR,
    "source": STR,
}


# --- an independent reader -------------------------------------------------------------------


def _config() -> dict[str, dict]:
    return {e["id"]: e for e in yaml.safe_load(CONFIG_PATH.read_text())["experiments"]}


def _has_type(value: object, kind: str) -> bool:
    if kind == BOOL:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == INT:
        return isinstance(value, int)
    if kind == NUM:
        return isinstance(value, int | float) and math.isfinite(value)
    return isinstance(value, str) and value != ""


def _in_folder_day(timestamp: str, folder: str) -> bool:
    return bool(TIMESTAMP_RE.match(timestamp)) and timestamp[:10] == folder


def _valid_request(row: object, folder: str, config: dict[str, dict]) -> bool:
    """The contract of DESIGN.md §2 plus the demo config: what an ingester should accept."""
    if not isinstance(row, dict) or row.get("experiment_id") not in config:
        return False
    experiment = config[row["experiment_id"]]
    segment, values = SEGMENTS[row["experiment_id"]]
    pre_period = folder < START.isoformat()
    types = PRE_REQUEST_TYPES if pre_period else REQUEST_TYPES
    return (
        all(name in row and _has_type(row[name], kind) for name, kind in types.items())
        and row["variant"] in [experiment["champion"], *experiment["challengers"]]
        and _in_folder_day(row["timestamp"], folder)
        and (pre_period or re.fullmatch(r"[0-9a-f]{32}", row["trace_id"]) is not None)
        and row.get(segment) in values
    )


def _valid_outcome(row: object, folder: str) -> bool:
    return (
        isinstance(row, dict)
        and all(name in row and _has_type(row[name], kind) for name, kind in OUTCOME_TYPES.items())
        and _in_folder_day(row["timestamp"], folder)
    )


@dataclass
class Landing:
    """Valid rows as frames (with their folder), malformed line counts per (kind, day).
    `requests` are the experiment's; the pre-period's are apart, in `pre_requests`."""

    requests: pd.DataFrame
    outcomes: pd.DataFrame
    malformed: dict[tuple[str, str], int]
    pre_requests: pd.DataFrame


def _read_landing(root: Path) -> Landing:
    """Validate every line; parse the valid ones into frames with pandas' JSON-lines reader."""
    config = _config()
    valid: dict[str, list[str]] = {"inference_logs": [], "outcomes": []}
    folders: dict[str, list[str]] = {"inference_logs": [], "outcomes": []}
    malformed: dict[tuple[str, str], int] = {}
    for kind in valid:
        for path in sorted((root / kind).glob("*/*")):
            folder = path.parent.name
            lines = path.read_text(encoding="utf-8").splitlines()
            good = [line for line in lines if _line_ok(line, kind, folder, config)]
            valid[kind] += good
            folders[kind] += [folder] * len(good)
            malformed[(kind, folder)] = len(lines) - len(good)
    requests, outcomes = (
        pd.read_json(
            io.StringIO("\n".join(valid[kind])), lines=True, dtype=False, convert_dates=False
        ).assign(folder=folders[kind])
        for kind in ("inference_logs", "outcomes")
    )
    for frame in (requests, outcomes):
        frame["ts"] = pd.to_datetime(frame["timestamp"], utc=True)
    before = requests["folder"] < START.isoformat()
    return Landing(
        requests[~before].reset_index(drop=True),
        outcomes,
        malformed,
        requests[before].reset_index(drop=True),
    )


def _line_ok(line: str, kind: str, folder: str, config: dict[str, dict]) -> bool:
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        return False
    if kind == "inference_logs":
        return _valid_request(row, folder, config)
    return _valid_outcome(row, folder)


def _mature_keys(landing: Landing, experiment_id: str, outcome: str, as_of_end: pd.Timestamp):
    """Keys whose attribution window closed by `as_of_end`, with their in-window indicator."""
    window = pd.Timedelta(hours=_config()[experiment_id]["attribution_window_hours"])
    logs = landing.requests[landing.requests["experiment_id"] == experiment_id]
    keys = (
        logs.groupby("correlation_key")
        .agg(unit_id=("unit_id", "first"), variant=("variant", "first"), first=("ts", "min"))
        .reset_index()
    )
    keys = keys[keys["first"] + window <= as_of_end].copy()
    events = landing.outcomes[landing.outcomes["outcome"] == outcome]
    happened = events.merge(keys[["correlation_key", "first"]], on="correlation_key")
    in_window = happened[
        (happened["ts"] >= happened["first"]) & (happened["ts"] <= happened["first"] + window)
    ]
    keys["hit"] = keys["correlation_key"].isin(in_window["correlation_key"]).astype(float)
    return keys


def _p95_ratio(requests: pd.DataFrame, experiment_id: str) -> float:
    latency = requests[requests["experiment_id"] == experiment_id].groupby("variant")["latency_ms"]
    p95 = latency.quantile(0.95)
    return p95["challenger"] / p95["champion"]


def _rate(requests: pd.DataFrame, experiment_id: str, column: str) -> pd.Series:
    return requests[requests["experiment_id"] == experiment_id].groupby("variant")[column].mean()


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[SimulationSummary, Landing, Path]:
    root = tmp_path_factory.mktemp("small")
    summary = simulate(root, scale=SMALL_SCALE)
    return summary, _read_landing(root), root


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> tuple[SimulationSummary, Landing]:
    """The default demo volume and seed, as `abgate demo` writes it."""
    root = tmp_path_factory.mktemp("full")
    summary = simulate(root)
    return summary, _read_landing(root)


# --- determinism and re-runs -----------------------------------------------------------------


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path):
    simulate(tmp_path / "a", scale=0.01, seed=7)
    simulate(tmp_path / "b", scale=0.01, seed=7)
    simulate(tmp_path / "c", scale=0.01, seed=8)
    a, b, c = (_tree_bytes(tmp_path / name) for name in "abc")
    assert a == b
    assert a.keys() == c.keys()
    assert all(a[path] != c[path] for path in a if path.endswith(".jsonl"))


def test_rerun_replaces_previous_files_and_keeps_foreign_ones(tmp_path):
    simulate(tmp_path, scale=0.01, seed=1, days=5)
    foreign = tmp_path / "inference_logs" / "2026-11-02" / "export-from-prod.jsonl"
    foreign.write_text("")
    summary = simulate(tmp_path, scale=0.01, seed=2, days=3)

    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.jsonl"))
    assert written == sorted([*summary.paths, foreign.relative_to(tmp_path).as_posix()])
    assert not (tmp_path / "outcomes" / "2026-11-05").exists()
    landing = _read_landing(tmp_path)
    assert landing.requests["request_id"].is_unique
    assert landing.outcomes["event_id"].is_unique
    stored = len(landing.requests) + len(landing.pre_requests)
    assert stored == sum(d.inference_valid for d in summary.day_counts)


def test_summary_file_matches_returned_summary(small):
    summary, _, root = small
    assert json.loads((root / SUMMARY_FILE).read_text()) == summary.to_dict()
    pre = tuple(
        f"{kind}/{START - timedelta(days=back)}/part-0000.jsonl"
        for back in range(PRE_DAYS, 0, -1)
        for kind in ("inference_logs", "outcomes")
    )
    assert summary.paths == pre + tuple(
        f"{kind}/{START + timedelta(days=d)}/part-0000.jsonl"
        for d in range(DAYS)
        for kind in ("inference_logs", "outcomes")
    )


# --- the contract ------------------------------------------------------------------------------


def test_valid_and_malformed_counts_match_the_summary(small):
    summary, landing, _ = small
    for day in summary.day_counts:
        planted = 3 if date.fromisoformat(day.date) >= START else 0  # none in the pre-period
        assert landing.malformed.get(("inference_logs", day.date), 0) == day.inference_malformed
        assert day.inference_malformed == planted
        assert landing.malformed[("outcomes", day.date)] == day.outcome_malformed == planted
        requests = pd.concat([landing.pre_requests, landing.requests])
        assert (requests["folder"] == day.date).sum() == day.inference_valid
        assert (landing.outcomes["folder"] == day.date).sum() == day.outcome_valid


def test_malformed_lines_cover_every_kind(small):
    """Across the days every kind of breakage the brief lists shows up at least once."""
    _, _, root = small
    lines = [
        line for path in sorted(root.rglob("*.jsonl")) for line in path.read_text().splitlines()
    ]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            parsed.append(None)
    dicts = [row for row in parsed if isinstance(row, dict)]
    assert any(row is None for row in parsed)  # truncated
    assert any(isinstance(row, list) for row in parsed)  # not an object
    assert any("request_id" in row and "unit_id" not in row for row in dicts)
    assert any(row.get("latency_ms") == "fast" for row in dicts)
    assert any(row.get("variant") == "challenger-2" for row in dicts)
    assert any("event_id" in row and isinstance(row.get("value"), str) for row in dicts)
    assert any("event_id" in row and "correlation_key" not in row for row in dicts)


def test_ids_are_unique_and_timestamps_inside_the_period(small):
    _, landing, _ = small
    assert landing.requests["request_id"].is_unique
    assert landing.outcomes["event_id"].is_unique
    in_experiment = landing.outcomes[landing.outcomes["unit_id"].isna()]
    for frame in (landing.requests, in_experiment):
        assert frame["ts"].min() >= pd.Timestamp(START, tz="UTC")
        assert frame["ts"].max() < END


def test_request_shapes_are_plausible(small):
    _, landing, _ = small
    r = landing.requests
    assert set(r["status"]) == {"ok", "error"}
    assert (r["fallback"] == (r["status"] == "error")).all()
    assert set(r["finish_reason"]) == {"stop", "length", "error"}
    assert (r["finish_reason"] == "stop").mean() > 0.95
    assert (r["input_tokens"] > 0).all() and (r["output_tokens"] >= 0).all()
    assert (r["cost_usd"] >= 0).all() and (r["latency_ms"] > 0).all()
    assert 1_000 < r["latency_ms"].quantile(0.95) < 5_000
    per_key = r.groupby("correlation_key").size()
    assert per_key.between(1, 5).all()


def test_users_never_switch_variant_or_experiment(small):
    _, landing, _ = small
    per_user = landing.requests.groupby("unit_id")[["variant", "experiment_id"]].nunique()
    assert (per_user == 1).all().all()
    per_key = landing.requests.groupby("correlation_key")[["unit_id", "variant"]].nunique()
    assert (per_key == 1).all().all()


def test_pre_period_events_name_support_users_before_the_start(small):
    _, landing, _ = small
    pre = landing.outcomes[landing.outcomes["unit_id"].notna()]
    assert len(pre) > 0
    assert (pre["ts"] < pd.Timestamp(START, tz="UTC")).all()
    assert (pre["ts"] >= pd.Timestamp(START - timedelta(days=PRE_DAYS), tz="UTC")).all()
    assert set(pre["outcome"]) == {"ticket_resolved"}
    assert pre["unit_id"].str.startswith("cust-").all()
    support_users = set(
        landing.requests.loc[landing.requests["experiment_id"] == SUPPORT, "unit_id"]
    )
    assert len(set(pre["unit_id"]) & support_users) > 0.5 * pre["unit_id"].nunique()


def test_pre_period_requests_are_the_champions_and_end_before_the_start(small):
    """The tickets users opened before the experiment, served by the champion: what CUPED uses
    for a ratio such as cost per resolution. They never enter the analysis (before the start)."""
    _, landing, _ = small
    pre = landing.pre_requests
    assert len(pre) > 0
    assert (pre["experiment_id"] == SUPPORT).all() and (pre["variant"] == "champion").all()
    assert (pre["ts"] < pd.Timestamp(START, tz="UTC")).all()
    assert (pre["ts"] >= pd.Timestamp(START - timedelta(days=PRE_DAYS), tz="UTC")).all()
    assert pre["request_id"].str.startswith("req-pre-").all() and pre["request_id"].is_unique
    assert pre[["prompt", "response", "trace_id"]].isna().all().all()
    resolved = landing.outcomes[landing.outcomes["unit_id"].notna()]
    assert set(resolved["correlation_key"]) <= set(pre["correlation_key"])


def test_outcomes_follow_their_first_request(small):
    _, landing, _ = small
    outcomes = landing.outcomes[landing.outcomes["unit_id"].isna()]
    first = landing.requests.groupby("correlation_key")["ts"].min()
    started = outcomes["correlation_key"].map(first)
    assert started.notna().all()
    assert (outcomes["ts"] > started).all()
    assert set(outcomes["outcome"]) == {"ticket_resolved", "csat", "lead_qualified"}
    csat = outcomes[outcomes["outcome"] == "csat"]["value"]
    assert set(csat) <= {1, 2, 3, 4, 5}
    sources = outcomes.groupby("outcome")["source"].unique().map(list).to_dict()
    assert sources == {
        "ticket_resolved": ["zendesk"],
        "csat": ["survey"],
        "lead_qualified": ["crm"],
    }


def test_realised_counts_in_summary_match_the_files(small):
    summary, landing, _ = small
    for experiment_id, truth in summary.true_effects.items():
        logs = landing.requests[landing.requests["experiment_id"] == experiment_id]
        for variant, stats in truth["variants"].items():
            arm = logs[logs["variant"] == variant]
            assert arm["unit_id"].nunique() == stats["users"]
            assert arm["correlation_key"].nunique() == stats["keys"]
            assert len(arm) == stats["requests"]


def test_scenarios_agree_with_the_demo_config(small):
    summary, _, _ = small
    config = _config()
    assert set(summary.true_effects) == set(config)
    for experiment_id, truth in summary.true_effects.items():
        experiment = config[experiment_id]
        allocation = experiment["allocation"]
        assert truth["challenger_share"] * 100 == pytest.approx(
            allocation["challenger"] / sum(allocation.values()) * 100
        )
        assert truth["attribution_window_hours"] == experiment["attribution_window_hours"]
        assert experiment["segments"] == [truth["segment"]]
        primary = next(m for m in experiment["metrics"] if m["role"] == "primary")
        assert f"{primary['outcome']}_rate" in truth["variants"]["champion"]


# --- planted PII -------------------------------------------------------------------------------


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _iban_ok(iban: str) -> bool:
    compact = iban.replace(" ", "")
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def test_planted_pii_is_in_the_texts_and_well_formed(small):
    summary, landing, _ = small
    texts = "\n".join(landing.requests["prompt"]) + "\n".join(landing.requests["response"])
    assert summary.planted_pii
    assert all(pii in texts for pii in summary.planted_pii)
    kinds = {
        "email": [p for p in summary.planted_pii if "@" in p],
        "api_key": [p for p in summary.planted_pii if p.startswith("sk-")],
        "card": [p for p in summary.planted_pii if re.fullmatch(r"4\d{3}([ -]?\d{4}){3}", p)],
        "iban": [p for p in summary.planted_pii if re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9 ]+", p)],
        "phone": [p for p in summary.planted_pii if re.fullmatch(r"[+(][\d ()-]+", p)],
    }
    assert all(kinds.values()), kinds
    assert all(_luhn_ok(re.sub(r"\D", "", card)) for card in kinds["card"])
    assert all(_iban_ok(iban) for iban in kinds["iban"])
    with_pii = landing.requests["prompt"].map(lambda t: any(p in t for p in summary.planted_pii))
    assert 0.003 < with_pii.mean() < 0.03


# --- the true effects at the default volume ----------------------------------------------------


def test_default_volume_is_moderate(full):
    summary, landing = full
    assert 200_000 <= len(landing.requests) <= 300_000
    assert len(landing.pre_requests) <= len(landing.requests)
    stored = len(landing.requests) + len(landing.pre_requests)
    assert stored == summary.totals["inference_valid"]
    assert len(landing.outcomes) == summary.totals["outcome_valid"]


def test_allocation_matches_the_config(full):
    _, landing = full
    for experiment_id, experiment in _config().items():
        users = landing.requests[landing.requests["experiment_id"] == experiment_id]
        variants = users.groupby("unit_id")["variant"].first()
        expected = experiment["allocation"]["challenger"] / sum(experiment["allocation"].values())
        share = (variants == "challenger").mean()
        assert abs(share - expected) < 4 * math.sqrt(expected * (1 - expected) / len(variants))


def test_support_challenger_resolves_three_points_more(full):
    _, landing = full
    keys = _mature_keys(landing, SUPPORT, "ticket_resolved", END)
    rate = keys.groupby("variant")["hit"].mean()
    assert rate["champion"] == pytest.approx(0.45, abs=0.01)
    assert rate["challenger"] - rate["champion"] == pytest.approx(0.03, abs=0.012)


def test_some_resolutions_arrive_after_the_window(full):
    _, landing = full
    first = landing.requests.groupby("correlation_key")["ts"].min()
    resolved = landing.outcomes[landing.outcomes["outcome"] == "ticket_resolved"]
    delay = resolved["ts"] - resolved["correlation_key"].map(first)
    late = (delay > pd.Timedelta(hours=72)).mean()
    assert 0.005 < late < 0.05
    assert delay.median() < pd.Timedelta(hours=24)


def test_support_guardrails_are_unharmed(full):
    _, landing = full
    assert _p95_ratio(landing.requests, SUPPORT) == pytest.approx(1.0, abs=0.04)
    refusal = _rate(landing.requests, SUPPORT, "refusal")
    assert refusal["champion"] == pytest.approx(0.01, abs=0.002)
    assert refusal["challenger"] - refusal["champion"] == pytest.approx(0.0, abs=0.003)
    schema = _rate(landing.requests, SUPPORT, "schema_valid")
    assert schema["challenger"] - schema["champion"] == pytest.approx(0.0, abs=0.004)
    cost = _rate(landing.requests, SUPPORT, "cost_usd")
    assert 1.0 < cost["challenger"] / cost["champion"] <= 1.05


def test_sales_challenger_is_cheaper_slower_and_refuses_more(full):
    _, landing = full
    assert _p95_ratio(landing.requests, SALES) == pytest.approx(1.25, abs=0.06)
    median = (
        landing.requests[landing.requests["experiment_id"] == SALES]
        .groupby("variant")["latency_ms"]
        .median()
    )
    assert median["challenger"] / median["champion"] == pytest.approx(1.25, abs=0.03)
    refusal = _rate(landing.requests, SALES, "refusal")
    assert refusal["champion"] == pytest.approx(0.01, abs=0.003)
    assert refusal["challenger"] == pytest.approx(0.03, abs=0.005)
    cost = _rate(landing.requests, SALES, "cost_usd")
    assert cost["challenger"] / cost["champion"] == pytest.approx(0.65, abs=0.02)
    leads = _mature_keys(landing, SALES, "lead_qualified", END).groupby("variant")["hit"].mean()
    assert leads["challenger"] - leads["champion"] == pytest.approx(0.0, abs=0.025)
    assert leads["champion"] == pytest.approx(0.22, abs=0.02)


def test_support_primary_z_at_the_final_look_clears_the_sequential_bar(full):
    """Per-user resolution rate over keys whose 72 h window closed by the end of day 14."""
    _, landing = full
    keys = _mature_keys(landing, SUPPORT, "ticket_resolved", END)
    per_user = keys.groupby(["unit_id", "variant"])["hit"].mean().groupby("variant")
    n, mean, var = per_user.size(), per_user.mean(), per_user.var()
    z = (mean["challenger"] - mean["champion"]) / np.sqrt((var / n).sum())
    assert z >= 4.5
