"""The verdict rule (DESIGN.md §3), in one place: its wording for the report and the README, and
the code that applies it to the checks and metric results, then the rollout move it implies."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from abgate_pipeline.config import ExperimentSpec
from abgate_pipeline.decision.checks import CheckOutcome
from abgate_pipeline.decision.results import MetricResult, finite

DECISIONS = ("promote", "continue", "rollback", "invalid")

VERDICT_RULES = (
    (
        "invalid",
        "a blocking data-quality check failed, or the traffic split shows a sample-ratio mismatch "
        "(chi-square p < 0.001). Nothing is promoted; the report says why.",
    ),
    (
        "rollback",
        "the primary metric is significantly worse, or a guardrail is confidently worse than its "
        "margin.",
    ),
    (
        "promote",
        "to the next rollout step, when the primary metric is significantly better after correction "
        "across challengers, every guardrail passes non-inferiority, and the minimum sample is "
        "reached.",
    ),
    (
        "continue",
        "otherwise; the report gives the power reached so far and the estimated days still needed.",
    ),
)
VERDICT_RULE_INTRO = "The rules are applied in this order; the first one that holds is the verdict."
VERDICT_RULE_APPROVAL = (
    "Above the experiment's approval_above percentage a person must approve in Dagster before the "
    "flag moves."
)
VERDICT_RULE = "\n".join(
    [
        VERDICT_RULE_INTRO,
        *(f"- {verdict}: {rule}" for verdict, rule in VERDICT_RULES),
        VERDICT_RULE_APPROVAL,
    ]
)


def verdict(
    exp: ExperimentSpec,
    checks: Sequence[CheckOutcome],
    results: Sequence[MetricResult],
    sample: dict[str, Any],
) -> tuple[str, list[str], list[str]]:
    """The decision, the reasons in words, and the challengers to promote (VERDICT_RULES).

    `invalid` reads the checks (ingest, integrity, SRM, finite statistics); `rollback` a primary
    metric significantly worse after correction, or a guardrail whose one-sided interval lies
    beyond its margin; `promote` a primary significantly better with every guardrail
    non-inferior and the minimum sample reached (`min_units_per_arm` for sequential designs,
    which may stop early; the planned sample otherwise).
    """
    failed = [c for c in checks if not c.passed]
    if failed:
        return "invalid", [f"{c.name} failed: {c.description}" for c in failed], []

    primary = {r.variant: r for r in results if r.role == "primary"}
    guardrails = [r for r in results if r.role == "guardrail"]
    harmed = [
        f"{r.name} ({r.variant}) is significantly worse: {describe(r)}"
        for r in primary.values()
        if r.significant and r.harmful()
    ]
    harmed += [
        f"guardrail {r.name} ({r.variant}) is confidently worse than its "
        f"{margin_text(r)} margin: {describe(r)}"
        for r in guardrails
        if r.guardrail.confidently_worse
    ]
    if harmed:
        return "rollback", harmed, []

    winners, reasons = [], []
    minimum = exp.min_units_per_arm
    for variant, r in primary.items():
        better = r.significant and not r.harmful()
        failing = [g for g in guardrails if g.variant == variant and not g.guardrail.non_inferior]
        planned = r.planned_n_per_arm if not exp.sequential else None
        needed = planned or {"control": minimum, "treatment": minimum}
        enough = r.n_control >= needed["control"] and r.n_treatment >= needed["treatment"]
        if better and not failing and enough:
            winners.append(variant)
            reasons.append(f"{r.name} ({variant}) is significantly better: {describe(r)}")
            reasons += [
                f"guardrail {g.name} ({variant}) holds within its {margin_text(g)} margin"
                for g in guardrails
                if g.variant == variant
            ]
            continue
        if not better:
            reasons.append(f"{r.name} ({variant}) is not yet significant: {describe(r)}")
        for g in failing:
            reasons.append(
                f"guardrail {g.name} ({variant}) has not shown non-inferiority within its "
                f"{margin_text(g)} margin: {describe(g)}"
            )
        if not enough:
            reasons.append(
                f"{variant}: minimum sample not reached ({r.n_control} / {r.n_treatment} "
                f"units, {needed['control']} / {needed['treatment']} needed)"
            )
    if winners:
        return "promote", reasons, winners
    if sample.get("power_so_far") is not None:
        reasons.append(f"power reached so far: {sample['power_so_far']:.0%}")
    days = sample.get("days_remaining")
    if days is not None and days > 0:
        reasons.append(
            "the planned sample is reached in about "
            + (f"{math.ceil(days)} more days" if math.isfinite(days) else "never (no new traffic)")
            + " at the traffic seen so far"
        )
    return "continue", reasons, []


def margin_text(result: MetricResult) -> str:
    g = result.guardrail
    if g is None or g.margin is None:
        return ""
    return f"{g.margin:g}" if g.margin_type == "absolute" else f"{g.margin:.0%}"


def describe(result: MetricResult) -> str:
    """A short human summary: values, lift and interval, p-value."""

    def fmt(x: Any) -> str:
        return f"{x:.4g}" if finite(x) else "n/a"

    lift = result.rel_lift
    lift_text = f"{lift:+.2%}" if finite(lift) else "n/a"
    ci_low, ci_high = result.ci_low, result.ci_high
    if result.ci_of == "relative lift":
        ci = f"[{ci_low:+.2%}, {ci_high:+.2%}]" if finite(ci_low) and finite(ci_high) else "[n/a]"
    else:
        ci = f"[{fmt(ci_low)}, {fmt(ci_high)}]"
    return (
        f"{fmt(result.control_value)} -> {fmt(result.treatment_value)} "
        f"({lift_text}, CI {ci}, p = {fmt(result.p_value)})"
    )


def rollout(exp: ExperimentSpec, decision: str, current_pct: int) -> dict[str, Any]:
    """Where the flag goes on this decision: the next step on promote, 0 on rollback."""
    if decision == "promote":
        target = exp.rollout.next_step(current_pct)
        next_pct = current_pct if target is None else target
    elif decision == "rollback":
        next_pct = 0
    else:
        next_pct = current_pct
    return {
        "current_pct": current_pct,
        "next_pct": next_pct,
        "requires_approval": decision == "promote"
        and next_pct != current_pct
        and exp.rollout.requires_approval(next_pct),
        "steps": list(exp.rollout.steps),
        "approval_above": exp.rollout.approval_above,
    }
