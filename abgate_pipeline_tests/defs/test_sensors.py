"""The gate sensor against a real ephemeral instance: it reads every new `gate_decision`
materialization with its own cursor and acts only on the freshest verdict per experiment.

Materializations are reported runless, shaped exactly as `defs/decision.py::gate_decision` writes
them: partition = the as-of day, metadata `decisions` = {day: {experiment_id: summary(record)}}
(a single-run backfill writes every day of the run into each partition's event)."""

from __future__ import annotations

import json
import logging

import pytest
from dagster import (
    AssetMaterialization,
    DagsterInstance,
    MetadataValue,
    SensorResult,
    SkipReason,
    build_sensor_context,
    validate_run_config,
)

from abgate_pipeline.definitions import build_definitions
from abgate_pipeline.defs.decision import summary
from abgate_pipeline.defs.sensors import gate_sensor
from abgate_pipeline_tests.conftest import make_settings

SUPPORT, SALES = "support-bot-model-upgrade", "sales-assistant-cheaper-model"
DAY, NEXT_DAY = "2026-11-05", "2026-11-06"


# ---------------------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def instance():
    with DagsterInstance.ephemeral() as instance:
        yield instance


@pytest.fixture
def definitions(tmp_path):
    return build_definitions(make_settings(tmp_path))


def decision(
    verdict: str,
    *,
    checks_passed: bool = True,
    current: int = 10,
    next_pct: int | None = None,
    requires_approval: bool = False,
) -> dict:
    """What gate_decision stores in its metadata for one experiment: `summary(record)`."""
    if next_pct is None:
        next_pct = {"promote": 50, "rollback": 0}.get(verdict, current)
    record = {
        "decision": verdict,
        "checks_passed": checks_passed,
        "rollout": {
            "current_pct": current,
            "next_pct": next_pct,
            "requires_approval": requires_approval,
        },
        "promote_variants": ["challenger"] if verdict == "promote" else [],
        "metrics": [{"role": "primary", "rel_lift": 0.05, "p_value": 0.001}],
    }
    return summary(record)


def materialize(instance, day: str, by_day: dict[str, dict[str, dict]]) -> None:
    """One runless gate_decision materialization of partition `day`."""
    instance.report_runless_asset_event(
        AssetMaterialization(
            asset_key="gate_decision",
            partition=day,
            metadata={"decisions": MetadataValue.json(by_day)},
        )
    )


def decide(instance, day: str, decisions: dict[str, dict]) -> None:
    """Materialize one day (as a one-day run does) with {experiment_id: summary}."""
    materialize(instance, day, {day: decisions})


class Tick:
    """One sensor evaluation: its run requests, cursor, skip reason and info log lines."""

    def __init__(self, instance, definitions, cursor: str | None = None):
        context = build_sensor_context(instance=instance, definitions=definitions, cursor=cursor)
        records: list[logging.LogRecord] = []
        handler = logging.Handler(level=logging.DEBUG)
        handler.emit = records.append
        context.log.addHandler(handler)
        result = gate_sensor(context)
        self.logs = [r.getMessage() for r in records]
        if isinstance(result, SkipReason):
            self.requests, self.cursor, self.skip = [], None, result.skip_message
        else:
            assert isinstance(result, SensorResult)
            self.requests = list(result.run_requests or [])
            self.cursor = result.cursor
            self.skip = result.skip_reason.skip_message if result.skip_reason else None

    @property
    def actions(self) -> list[tuple[str, str, str]]:
        return [
            (r.tags["abgate/experiment"], r.tags["abgate/as_of"], r.tags["abgate/action"])
            for r in self.requests
        ]

    def explains(self, *fragments: str) -> bool:
        text = "\n".join([*self.logs, self.skip or ""])
        return all(fragment in text for fragment in fragments)


# ---------------------------------------------------------------------------------------------
# What each verdict does
# ---------------------------------------------------------------------------------------------


def test_promote_requests_one_promotion_run(instance, definitions):
    decide(instance, DAY, {SUPPORT: decision("promote")})
    tick = Tick(instance, definitions)
    (request,) = tick.requests
    assert request.run_key == f"{SUPPORT}:{DAY}:promote:50"
    assert request.run_config == {
        "ops": {
            "feature_flag_promotion": {
                "config": {"experiment_id": SUPPORT, "as_of": DAY, "action": "promote"}
            }
        }
    }
    assert tick.actions == [(SUPPORT, DAY, "promote")]
    assert request.job_name in (None, "promotion_job")


def test_requested_run_config_is_valid_for_promotion_job(instance, definitions):
    decide(instance, DAY, {SUPPORT: decision("promote")})
    (request,) = Tick(instance, definitions).requests
    validate_run_config(definitions.resolve_job_def("promotion_job"), request.run_config)


def test_rollback_requests_one_rollback_run(instance, definitions):
    decide(instance, DAY, {SALES: decision("rollback", current=50)})
    (request,) = Tick(instance, definitions).requests
    assert request.run_key == f"{SALES}:{DAY}:rollback:0"
    config = request.run_config["ops"]["feature_flag_promotion"]["config"]
    assert config == {"experiment_id": SALES, "as_of": DAY, "action": "rollback"}


@pytest.mark.parametrize("verdict", ["continue", "invalid"])
def test_continue_and_invalid_request_nothing(instance, definitions, verdict):
    checks = verdict != "invalid"
    decide(instance, DAY, {SUPPORT: decision(verdict, checks_passed=checks)})
    tick = Tick(instance, definitions)
    assert tick.requests == []
    assert tick.cursor is not None  # the event is consumed all the same


@pytest.mark.parametrize("verdict", ["promote", "rollback"])
def test_failed_blocking_checks_request_nothing(instance, definitions, verdict):
    decide(instance, DAY, {SUPPORT: decision(verdict, checks_passed=False)})
    tick = Tick(instance, definitions)
    assert tick.requests == []
    assert tick.explains(SUPPORT, DAY, "blocking checks failed")


def test_promote_needing_approval_requests_nothing_and_says_why(instance, definitions):
    decide(
        instance,
        DAY,
        {SUPPORT: decision("promote", current=50, next_pct=100, requires_approval=True)},
    )
    tick = Tick(instance, definitions)
    assert tick.requests == []
    assert tick.explains(SUPPORT, DAY, "100% needs approval", "approved_by")


def test_promote_at_the_last_step_requests_nothing(instance, definitions):
    decide(instance, DAY, {SUPPORT: decision("promote", current=100, next_pct=100)})
    tick = Tick(instance, definitions)
    assert tick.requests == []
    assert tick.explains(SUPPORT, "leaves the flag at 100%")


def test_each_experiment_gets_its_own_request(instance, definitions):
    decide(
        instance,
        DAY,
        {SUPPORT: decision("promote"), SALES: decision("rollback", current=50)},
    )
    tick = Tick(instance, definitions)
    assert sorted(tick.actions) == [(SALES, DAY, "rollback"), (SUPPORT, DAY, "promote")]


# ---------------------------------------------------------------------------------------------
# The cursor: every materialization since the last tick is seen, the freshest day acts
# ---------------------------------------------------------------------------------------------


def test_two_days_between_ticks_only_the_newest_acts(instance, definitions):
    decide(instance, DAY, {SUPPORT: decision("promote")})
    decide(instance, NEXT_DAY, {SUPPORT: decision("promote")})
    tick = Tick(instance, definitions)
    assert tick.actions == [(SUPPORT, NEXT_DAY, "promote")]
    assert tick.requests[0].run_key == f"{SUPPORT}:{NEXT_DAY}:promote:50"


def test_a_newer_continue_overrides_an_older_promote(instance, definitions):
    decide(instance, DAY, {SUPPORT: decision("promote")})
    decide(instance, NEXT_DAY, {SUPPORT: decision("continue")})
    assert Tick(instance, definitions).requests == []


def test_a_newer_rollback_overrides_an_older_continue(instance, definitions):
    decide(instance, DAY, {SUPPORT: decision("continue")})
    decide(instance, NEXT_DAY, {SUPPORT: decision("rollback")})
    assert Tick(instance, definitions).actions == [(SUPPORT, NEXT_DAY, "rollback")]


def test_freshest_is_by_day_not_by_arrival(instance, definitions):
    # A newer day lands first, then an older day is (re)materialized in the same interval.
    decide(instance, NEXT_DAY, {SUPPORT: decision("continue")})
    decide(instance, DAY, {SUPPORT: decision("promote")})
    assert Tick(instance, definitions).requests == []


def test_freshest_is_per_experiment(instance, definitions):
    decide(instance, DAY, {SALES: decision("rollback")})
    decide(instance, NEXT_DAY, {SUPPORT: decision("promote")})
    assert sorted(Tick(instance, definitions).actions) == [
        (SALES, DAY, "rollback"),
        (SUPPORT, NEXT_DAY, "promote"),
    ]


def test_single_run_backfill_shape_acts_on_the_newest_day(instance, definitions):
    # gate_decision over several days writes every day's decisions into each partition's event.
    by_day = {DAY: {SUPPORT: decision("rollback")}, NEXT_DAY: {SUPPORT: decision("promote")}}
    materialize(instance, DAY, by_day)
    materialize(instance, NEXT_DAY, by_day)
    assert Tick(instance, definitions).actions == [(SUPPORT, NEXT_DAY, "promote")]


def test_second_tick_with_the_returned_cursor_does_nothing(instance, definitions):
    decide(instance, DAY, {SUPPORT: decision("promote")})
    first = Tick(instance, definitions)
    assert len(first.requests) == 1
    second = Tick(instance, definitions, cursor=first.cursor)
    assert second.requests == []
    assert second.skip == "no new gate decisions"


def test_a_later_tick_sees_only_new_days(instance, definitions):
    decide(instance, DAY, {SUPPORT: decision("continue")})
    first = Tick(instance, definitions)
    decide(instance, NEXT_DAY, {SUPPORT: decision("promote")})
    second = Tick(instance, definitions, cursor=first.cursor)
    assert second.actions == [(SUPPORT, NEXT_DAY, "promote")]
    assert json.loads(second.cursor)["storage_id"] > json.loads(first.cursor)["storage_id"]


def test_no_materializations_skip(instance, definitions):
    tick = Tick(instance, definitions)
    assert tick.requests == [] and tick.skip == "no new gate decisions"


def test_other_assets_are_ignored(instance, definitions):
    instance.report_runless_asset_event(
        AssetMaterialization(asset_key="metric_frames", partition=DAY)
    )
    assert Tick(instance, definitions).skip == "no new gate decisions"


def test_a_day_with_no_experiment_decided_is_consumed(instance, definitions):
    materialize(instance, DAY, {})  # no experiment had started yet
    tick = Tick(instance, definitions)
    assert tick.requests == [] and tick.cursor is not None


def test_an_older_day_rematerialized_after_a_newer_one_does_not_act(instance, definitions):
    decide(instance, NEXT_DAY, {SUPPORT: decision("continue")})
    first = Tick(instance, definitions)
    decide(instance, DAY, {SUPPORT: decision("promote")})  # e.g. a re-run of an old day
    second = Tick(instance, definitions, cursor=first.cursor)
    assert second.requests == []
