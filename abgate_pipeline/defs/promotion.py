"""Stage 6: move the feature flag one rollout step (or back to the champion), with an audit log."""

import json
from datetime import date

from dagster import (
    AssetExecutionContext,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from abgate_pipeline import warehouse
from abgate_pipeline.defs.decision import current_challenger_pct, gate_decision
from abgate_pipeline.defs.resources import AbgateSettings, Warehouse
from abgate_pipeline.flags import weights_for_rollout


class PromotionConfig(Config):
    """Which decision to apply. The sensor fills it in; a person fills `approved_by` to approve a
    step above the experiment's `approval_above` (launch `promotion_job` from the Launchpad)."""

    experiment_id: str
    as_of: str = Field(description="The as-of day (YYYY-MM-DD) of the decision to apply.")
    action: str = Field(description="promote | rollback")
    approved_by: str = Field(default="", description="Who approved a step above approval_above.")


@asset(
    deps=[gate_decision],
    group_name="promotion",
    kinds={"openfeature", "json"},
    owners=["team:abgate"],
    pool="warehouse",
)
def feature_flag_promotion(
    context: AssetExecutionContext,
    config: PromotionConfig,
    settings: AbgateSettings,
    warehouse_db: Warehouse,
) -> MaterializeResult:
    """Applies a `promote` or `rollback` verdict to the experiment's flag in the flagd flag file
    (`$ABGATE_FLAGS_FILE`): promote moves the challenger to the next rollout step, rollback sends
    everyone to the champion. It re-checks that the decision is the newest for the experiment,
    that its blocking checks passed and that a step above `approval_above` was approved; writes
    the file atomically and appends to `decision_log`. Applying the same decision twice is a
    no-op."""
    exp = settings.experiment(config.experiment_id)
    if config.action not in ("promote", "rollback"):
        raise Failure(f"action must be promote or rollback, got {config.action!r}")
    as_of = date.fromisoformat(config.as_of)
    with warehouse_db.get_connection() as con:
        latest = warehouse.run(con, "latest_decision", experiment_id=exp.id)
        if latest is None or latest.empty:
            raise Failure(f"no decision stored for {exp.id}")
        row = latest.iloc[0]
        if row["as_of"].date() != as_of:
            raise Failure(
                f"stale decision: {exp.id} {as_of} is not the newest ({row['as_of'].date()})"
            )
        if row["decision"] != config.action:
            raise Failure(
                f"{exp.id} {as_of}: decision is {row['decision']!r}, not {config.action!r}"
            )
        if not row["checks_passed"]:
            raise Failure(f"{exp.id} {as_of}: a blocking data-quality check failed")
        applied = warehouse.run(
            con, "flag_change_applied", experiment_id=exp.id, as_of=as_of, action=config.action
        )
        if int(applied["n"][0]) > 0:
            context.log.info(f"{exp.id} {as_of} {config.action} was already applied")
            return MaterializeResult(metadata={"changed": False, "reason": "already applied"})
        record = json.loads(row["record"])
        current = current_challenger_pct(settings, exp)
        if config.action == "promote":
            target = exp.rollout.next_step(current)
            if target is None:
                return MaterializeResult(metadata={"changed": False, "reason": "fully rolled out"})
            if exp.rollout.requires_approval(target) and not config.approved_by.strip():
                raise Failure(
                    f"{exp.id}: moving to {target}% needs approval (above "
                    f"{exp.rollout.approval_above}%); launch promotion_job with approved_by set"
                )
            variants = record.get("promote_variants") or list(exp.challengers)
        else:
            target, variants = 0, list(exp.challengers)
        weights = weights_for_rollout(exp.champion, variants, target)
        weights.update({v: 0 for v in exp.challengers if v not in weights})
        state = settings.flag_backend().set_weights(
            exp.flag_key,
            weights,
            default_variant=exp.champion,
            metadata={
                "experiment_id": exp.id,
                "decision": config.action,
                "as_of": config.as_of,
                "approved_by": config.approved_by,
            },
        )
        warehouse.run(
            con,
            "log_flag_change",
            experiment_id=exp.id,
            as_of=as_of,
            action=config.action,
            flag_key=exp.flag_key,
            from_pct=current,
            to_pct=target,
            flag_version=state.version,
            approved_by=config.approved_by or None,
            run_id=context.run_id,
            weights=json.dumps(state.weights),
        )
    return MaterializeResult(
        metadata={
            "changed": True,
            "experiment_id": exp.id,
            "action": config.action,
            "from_pct": current,
            "to_pct": target,
            "weights": MetadataValue.json(state.weights),
            "flag_version": state.version,
            "flags_file": MetadataValue.path(settings.flags_file),
        }
    )
