"""The gate sensor: acts on new gate decisions by requesting flag promotions or rollbacks."""

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


def actionable(decisions_by_day: dict[str, dict[str, dict]]) -> dict[str, tuple[str, dict]]:
    """The newest as-of decision per experiment: only the freshest verdict may move a flag."""
    newest: dict[str, tuple[str, dict]] = {}
    for day in sorted(decisions_by_day):
        for exp_id, summary in decisions_by_day[day].items():
            newest[exp_id] = (day, summary)
    return newest


@sensor(
    job=promotion_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Watches gate_decision materializations with its own cursor (an @asset_sensor "
    "would drop partitions landing between ticks). On `promote` it requests the next rollout "
    "step, unless that step needs a person's approval; on `rollback` it requests the rollback. "
    "Nothing happens on `continue` or `invalid`, or when the decision's blocking checks failed.",
)
def gate_sensor(context: SensorEvaluationContext):
    cursor = int(context.cursor) if context.cursor else 0
    result = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=GATE_DECISION, after_storage_id=cursor),
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
    for exp_id, (day, summary) in sorted(actionable(decisions).items()):
        verdict = summary["decision"]
        if verdict not in ("promote", "rollback"):
            continue
        if not summary["checks_passed"]:
            skipped.append(f"{exp_id} {day}: blocking checks failed")
            continue
        if verdict == "promote" and summary["next_pct"] == summary["current_pct"]:
            skipped.append(f"{exp_id} {day}: already at the last rollout step")
            continue
        if verdict == "promote" and summary["requires_approval"]:
            skipped.append(
                f"{exp_id} {day}: {summary['next_pct']}% needs approval; launch promotion_job "
                "with approved_by"
            )
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
    for message in skipped:
        context.log.info(message)
    return SensorResult(run_requests=requests, cursor=str(result.records[-1].storage_id))
