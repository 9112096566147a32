"""The gate sensor: acts on new gate decisions by requesting flag promotions or rollbacks."""

import json

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from abgate_pipeline.defs.jobs import daily_gate_job, promotion_job

GATE_DECISION = AssetKey("gate_decision")
LANDING_ASSETS = (AssetKey("raw_inference_logs"), AssetKey("outcome_extracts"))
EXPERIMENT_TABLE = AssetKey("experiment_table")
ANALYSIS_ASSETS = [
    EXPERIMENT_TABLE,
    AssetKey("metric_frames"),
    AssetKey("gate_decision"),
    AssetKey("decision_report"),
]
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


def stale_as_of_days(landed: dict[str, int], analysed: dict[str, int]) -> list[str]:
    """As-of days whose experiment table predates a landing day at or before them.

    `landed` maps a landing day to the storage id of its newest materialization, `analysed` an
    as-of day to its experiment table's; a day is stale when some landing day <= it was
    (re)materialized after the day was analysed.
    """
    return sorted(
        day
        for day, analysed_at in analysed.items()
        if any(landed_day <= day and at > analysed_at for landed_day, at in landed.items())
    )


@sensor(
    job=daily_gate_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Late data: when a landing day (an outcome extract arriving late, or logs "
    "re-delivered) is materialized after as-of days that read it were analysed, request one "
    "run that re-materializes the experiment table, metrics, decisions and reports for exactly "
    "those days (a single-run backfill).",
)
def late_data_sensor(context: SensorEvaluationContext):
    after = int(context.cursor) if context.cursor else 0
    landed: dict[str, int] = {}
    newest = after
    for key in LANDING_ASSETS:
        for day, storage_id in context.instance.get_latest_storage_id_by_partition(
            key, DagsterEventType.ASSET_MATERIALIZATION, after_cursor=after
        ).items():
            landed[day] = max(landed.get(day, 0), storage_id)
            newest = max(newest, storage_id)
    if not landed:
        return SkipReason("no landing day materialized since the last tick")
    analysed = context.instance.get_latest_storage_id_by_partition(
        EXPERIMENT_TABLE, DagsterEventType.ASSET_MATERIALIZATION
    )
    stale = stale_as_of_days(landed, dict(analysed))
    if not stale:
        return SensorResult(cursor=str(newest), skip_reason="no analysed day is stale")
    first, last = stale[0], stale[-1]
    return SensorResult(
        run_requests=[
            RunRequest(
                run_key=f"late:{first}:{last}:{newest}",
                asset_selection=ANALYSIS_ASSETS,
                tags={
                    ASSET_PARTITION_RANGE_START_TAG: first,
                    ASSET_PARTITION_RANGE_END_TAG: last,
                    "abgate/reason": "late-data",
                },
            )
        ],
        cursor=str(newest),
    )
