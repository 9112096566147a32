"""The gate sensor: acts on new gate decisions by requesting flag promotions or rollbacks."""

import json

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from abgate_pipeline.defs.jobs import promotion_job

GATE_DECISION = AssetKey("gate_decision")
BATCH = 500


def actionable(
    decisions_by_day: dict[str, dict[str, dict]], newest_seen: dict[str, str]
) -> dict[str, tuple[str, dict]]:
    """The newest as-of decision per experiment that is not older than one already seen: only
    the freshest verdict may move a flag (a re-run of an old day must not)."""
    newest: dict[str, tuple[str, dict]] = {}
    for day in sorted(decisions_by_day):
        for exp_id, summary in decisions_by_day[day].items():
            if day >= newest_seen.get(exp_id, ""):
                newest[exp_id] = (day, summary)
    return newest


def _read_cursor(cursor: str | None) -> tuple[int, dict[str, str]]:
    """The last storage id read and the newest as-of day seen per experiment."""
    if not cursor:
        return 0, {}
    state = json.loads(cursor)
    if isinstance(state, int):  # cursors written before the newest-day map existed
        return state, {}
    return int(state["storage_id"]), dict(state["newest"])


def _skip_reason(exp_id: str, day: str, summary: dict) -> str | None:
    """Why a promote/rollback verdict must not launch a run now, or None when it may."""
    verdict = summary["decision"]
    if not summary["checks_passed"]:
        return f"{exp_id} {day}: blocking checks failed"
    if summary["next_pct"] == summary["current_pct"]:
        return f"{exp_id} {day}: {verdict} leaves the flag at {summary['current_pct']}%"
    if verdict == "promote" and summary["requires_approval"]:
        return (
            f"{exp_id} {day}: {summary['next_pct']}% needs approval; launch promotion_job "
            "with approved_by"
        )
    return None


@sensor(
    job=promotion_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Watches gate_decision materializations with its own cursor (an @asset_sensor "
    "would drop partitions landing between ticks). On `promote` it requests the next rollout "
    "step, unless that step needs a person's approval; on `rollback` it requests the rollback. "
    "Nothing happens on `continue` or `invalid`, when the decision's blocking checks failed, or "
    "for a decision older than one it has already seen.",
)
def gate_sensor(context: SensorEvaluationContext):
    after, newest_seen = _read_cursor(context.cursor)
    result = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=GATE_DECISION, after_storage_id=after),
        limit=BATCH,
        ascending=True,
    )
    if not result.records:
        return SkipReason("no new gate decisions")
    decisions: dict[str, dict[str, dict]] = {}
    for record in result.records:
        materialization = record.asset_materialization
        day = materialization.partition if materialization else None
        entry = materialization.metadata.get("decisions") if materialization else None
        if day and entry is not None and day in entry.value:
            decisions[day] = entry.value[day]
    requests, skipped = [], []
    fresh = actionable(decisions, newest_seen)
    for exp_id, (day, summary) in sorted(fresh.items()):
        newest_seen[exp_id] = day
        verdict = summary["decision"]
        if verdict not in ("promote", "rollback"):
            continue
        reason = _skip_reason(exp_id, day, summary)
        if reason:
            skipped.append(reason)
            context.log.info(reason)
            continue
        requests.append(
            RunRequest(
                run_key=f"{exp_id}:{day}:{verdict}:{summary['next_pct']}",
                run_config={
                    "ops": {
                        "feature_flag_promotion": {
                            "config": {"experiment_id": exp_id, "as_of": day, "action": verdict}
                        }
                    }
                },
                tags={"abgate/experiment": exp_id, "abgate/as_of": day, "abgate/action": verdict},
            )
        )
    cursor = json.dumps({"storage_id": result.records[-1].storage_id, "newest": newest_seen})
    return SensorResult(
        run_requests=requests,
        cursor=cursor,
        skip_reason=None if requests else ("; ".join(skipped) or "no promote/rollback verdict"),
    )
