"""Stage 4: the gate decision per experiment and as-of day (tests, SRM, guardrails, verdict)."""

import json
from datetime import UTC, date, datetime, timedelta

from dagster import (
    AssetCheckKey,
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    asset,
)

from abgate_pipeline import __version__, warehouse
from abgate_pipeline.config import ExperimentSpec
from abgate_pipeline.decision import CheckOutcome, GateInputs, decide
from abgate_pipeline.defs.experiment import experiment_phases, experiment_table
from abgate_pipeline.defs.ingest import CHECK_NAME
from abgate_pipeline.defs.metrics import GX_CHECK, metric_frames
from abgate_pipeline.defs.partitions import daily_partitions, up_to_as_of
from abgate_pipeline.defs.resources import AbgateSettings, Warehouse
from abgate_pipeline.report import decision_json


def current_challenger_pct(settings: AbgateSettings, exp: ExperimentSpec) -> int:
    """The challengers' share of traffic now: from the flag file, else the configured allocation."""
    state = settings.flag_backend().get(exp.flag_key)
    if state is not None:
        return sum(state.weights.get(v, 0) for v in exp.challengers)
    shares = exp.expected_shares()
    return round(100 * sum(shares[v] for v in exp.challengers))


# Blocking checks upstream of the gate. Inside one run a failure stops the gate from running at
# all; these are re-read so that a gate run on its own (or a later day) still sees them.
UPSTREAM_CHECKS = (
    AssetCheckKey(AssetKey("raw_inference_logs"), CHECK_NAME),
    AssetCheckKey(AssetKey("outcome_extracts"), CHECK_NAME),
    AssetCheckKey(AssetKey("metric_frames"), GX_CHECK),
)


def upstream_check_outcomes(instance) -> list[CheckOutcome]:
    """The latest evaluation of each blocking upstream check, as gate check outcomes."""
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        list(UPSTREAM_CHECKS)
    )
    outcomes = []
    for key in UPSTREAM_CHECKS:
        record = latest.get(key)
        evaluation = record.evaluation if record is not None else None
        if evaluation is None:
            continue
        name = f"{key.asset_key.to_user_string()}.{key.name}"
        outcomes.append(
            CheckOutcome(
                name,
                bool(evaluation.passed),
                evaluation.description or ("passed" if evaluation.passed else "failed"),
            )
        )
    return outcomes


def incomplete_days(con, exp: ExperimentSpec, as_of: date) -> list[dict]:
    """The days the experiment reads up to `as_of` that lack landing files which could not be
    read: [{dataset, day, file, error}] (sql/incomplete_days.sql)."""
    rows = warehouse.run(con, "incomplete_days", first_day=exp.first_day, as_of=as_of)
    return rows.to_dict("records")


def provenance(exp: ExperimentSpec, as_of: date, run_id: str) -> dict:
    """What makes the verdict reproducible, besides the sufficient statistics it records."""
    days = [
        (exp.start + timedelta(days=i)).isoformat() for i in range((as_of - exp.start).days + 1)
    ]
    return {
        "code_version": __version__,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "run_id": run_id,
        "input_partitions": {"inference_logs": days, "outcomes": days},
    }


@asset(
    deps=[experiment_table, AssetDep(metric_frames, partition_mapping=up_to_as_of)],
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    group_name="decision",
    kinds={"python", "scipy"},
    owners=["team:abgate"],
    pool="warehouse",
)
def gate_decision(
    context: AssetExecutionContext, settings: AbgateSettings, warehouse_db: Warehouse
) -> MaterializeResult:
    """The verdict per experiment and as-of day: `promote`, `continue`, `rollback` or `invalid`,
    with reasons in words (rule in the README and the report). Every daily as-of up to the day is
    a look of the sequential test. Stored in `gate_decisions` with the config hash, code version,
    input partitions and the sufficient statistics it was computed from."""
    experiments = settings.experiments()
    upstream = upstream_check_outcomes(context.instance)
    decisions: dict[str, dict[str, dict]] = {}
    with warehouse_db.get_connection() as con:
        for day in context.partition_keys:
            as_of = date.fromisoformat(day)
            frames = warehouse.run(con, "gate_inputs", as_of=as_of)
            facts = warehouse.run(con, "experiment_checks", as_of=as_of)
            phases = experiment_phases(con, as_of)
            landed = frozenset(warehouse.run(con, "outcome_names", as_of=as_of)["outcome"])
            made_at = warehouse.run(con, "stored_rollout", as_of=as_of).set_index("experiment_id")
            for exp in experiments:
                if as_of < exp.start:
                    continue
                phase = phases[exp.id]
                # Looks from an earlier phase (before the last flag change) saw another split.
                exp_frames = frames[
                    (frames["experiment_id"] == exp.id)
                    & (frames["as_of"] >= phase.start.normalize())
                ]
                record = decide(
                    GateInputs(
                        experiment=exp,
                        as_of=as_of,
                        frames=exp_frames,
                        allocation=phase.served,
                        phase_start=phase.start.isoformat(),
                        unit_facts=facts[facts["experiment_id"] == exp.id],
                        current_pct=int(made_at.loc[exp.id, "current_pct"])
                        if exp.id in made_at.index
                        else current_challenger_pct(settings, exp),
                        ingest_checks=upstream,
                        landed_outcomes=landed,
                        provenance=provenance(exp, as_of, context.run_id),
                    )
                )
                record["sufficient_statistics"] = (
                    json.loads(
                        exp_frames[exp_frames["as_of"] == exp_frames["as_of"].max()].to_json(
                            orient="records", date_format="iso"
                        )
                    )
                    if len(exp_frames)
                    else []
                )
                record["incomplete_days"] = incomplete_days(con, exp, as_of)
                warehouse.run(
                    con,
                    "store_decision",
                    as_of=as_of,
                    experiment_id=exp.id,
                    decision=record["decision"],
                    checks_passed=record["checks_passed"],
                    record=decision_json(record),
                )
                decisions.setdefault(day, {})[exp.id] = summary(record)
    latest = decisions[max(decisions)] if decisions else {}
    return MaterializeResult(
        metadata={
            "decisions": MetadataValue.json(decisions),
            "verdicts": MetadataValue.md(
                "| experiment | decision | rollout | primary lift | p |\n|---|---|---|---|---|\n"
                + "\n".join(
                    f"| {exp_id} | **{d['decision']}** | {d['current_pct']}% → {d['next_pct']}% "
                    f"| {d['primary_lift']} | {d['primary_p']} |"
                    for exp_id, d in latest.items()
                )
            ),
        }
    )


def summary(record: dict) -> dict:
    """The part of a decision the sensor acts on (and the UI shows)."""
    primary = next((m for m in record["metrics"] if m["role"] == "primary"), {})
    lift, p = primary.get("rel_lift"), primary.get("p_value")
    return {
        "decision": record["decision"],
        "checks_passed": record["checks_passed"],
        "current_pct": record["rollout"]["current_pct"],
        "next_pct": record["rollout"]["next_pct"],
        "requires_approval": record["rollout"]["requires_approval"],
        "promote_variants": record["promote_variants"],
        "primary_lift": f"{lift:+.2%}" if isinstance(lift, float) and lift == lift else "n/a",
        "primary_p": f"{p:.3g}" if isinstance(p, float) and p == p else "n/a",
    }
