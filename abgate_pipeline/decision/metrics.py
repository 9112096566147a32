"""Each metric x challenger measured: the fixed-horizon comparison, the sequential test of the
primary metric, the planned sample, non-inferiority of guardrails, the chance to beat, and the
correction across each family of tests."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from datetime import date

import pandas as pd

from abgate_pipeline.config import ExperimentSpec, MetricSpec
from abgate_pipeline.decision.frames import (
    ALL,
    arm_row,
    compare_frame_rows,
    sample_stats,
    statistics_problem,
    units,
)
from abgate_pipeline.decision.results import (
    MetricResult,
    NonInferiorityOutcome,
    SequentialOutcome,
    finite,
)
from abgate_pipeline.stats import (
    Look,
    adjust_p_values,
    chance_to_beat,
    non_inferiority,
    required_sample_size_per_arm,
    sequential_test,
    unit_variance,
)

RELATIVE, ABSOLUTE = "relative lift", "absolute difference"
# Families whose p-values are adjusted together (across challengers; secondary also across
# metrics). Guardrails are tested uncorrected, for non-inferiority.
CORRECTED_ROLES = ("primary", "secondary")


def metric_results(
    exp: ExperimentSpec,
    latest: pd.DataFrame,
    frames: pd.DataFrame,
    shares: Mapping[str, float],
) -> list[MetricResult]:
    """Every metric x challenger, corrected across its family. `latest` holds the as-of day's
    overall frame rows, `frames` every look of the phase (for the sequential test)."""
    measured = [
        measure(exp, metric, variant, latest, frames, shares)
        for metric in exp.metrics
        for variant in exp.challengers
    ]
    return corrected(exp, measured)


def measure(
    exp: ExperimentSpec,
    metric: MetricSpec,
    variant: str,
    latest: pd.DataFrame,
    frames: pd.DataFrame,
    shares: Mapping[str, float],
) -> MetricResult:
    """One metric x challenger before correction.

    A metric whose statistics are not finite, or whose computation fails on them, is reported
    as not computable (`statistics_problem` says why; every estimate is empty), never a crash.
    """
    frame = latest[latest["metric"] == metric.name]
    control, treatment = arm_row(frame, exp.champion), arm_row(frame, variant)
    problem = statistics_problem(metric, "control", control) or statistics_problem(
        metric, "treatment", treatment
    )
    if problem is None:
        try:
            return _measured(exp, metric, variant, control, treatment, frames, shares)
        except (ArithmeticError, ValueError) as error:
            problem = f"{metric.name}: the statistics cannot be computed ({error})"
    empty = _measured(exp, metric, variant, None, None, frames.iloc[0:0], shares)
    return dataclasses.replace(
        empty,
        n_control=units(control),
        n_treatment=units(treatment),
        statistics_problem=problem,
        notes=(problem,),
    )


def _measured(
    exp: ExperimentSpec,
    metric: MetricSpec,
    variant: str,
    control: pd.Series | None,
    treatment: pd.Series | None,
    frames: pd.DataFrame,
    shares: Mapping[str, float],
) -> MetricResult:
    cmp, reduction = compare_frame_rows(metric, control, treatment, exp.alpha, cuped=exp.cuped)
    relative = math.isfinite(cmp.rel_lift) and math.isfinite(cmp.rel_se)
    bayes = (
        chance_to_beat(
            cmp.rel_lift, cmp.rel_se, prior_std=exp.bayes_prior_std, better=metric.better
        )
        if relative
        else None
    )
    simple_kind = metric.kind in ("proportion", "mean", "count")
    result = MetricResult(
        name=metric.name,
        role=metric.role,
        kind=metric.kind,
        variant=variant,
        better=metric.better,
        n_control=units(control),
        n_treatment=units(treatment),
        control_value=cmp.control_value,
        treatment_value=cmp.treatment_value,
        abs_diff=cmp.abs_diff,
        abs_ci_low=cmp.abs_ci_low,
        abs_ci_high=cmp.abs_ci_high,
        rel_lift=cmp.rel_lift,
        ci_of=RELATIVE if relative else ABSOLUTE,
        # the p-value of the test on the scale of the interval it is reported beside
        p_fixed=cmp.rel_p_value if relative and cmp.rel_p_value is not None else cmp.p_value,
        p_fixed_abs=cmp.p_value,
        ci_low_fixed=cmp.rel_ci_low if relative else cmp.abs_ci_low,
        ci_high_fixed=cmp.rel_ci_high if relative else cmp.abs_ci_high,
        method=cmp.method,
        notes=tuple(cmp.notes),
        cuped_variance_reduction=reduction,
        control_variance=unit_variance(sample_stats(control)) if simple_kind else None,
        chance_to_beat=bayes.chance_to_win if bayes else None,
        expected_loss=bayes.expected_loss_treatment if bayes else None,
    )
    if metric.role == "primary":
        planned = planned_sample(exp, metric, variant, result, shares)
        result = dataclasses.replace(result, planned_n_per_arm=planned)
        if exp.sequential:
            looks = _looks(exp, metric, variant, frames, relative)
            result = dataclasses.replace(
                result, sequential=_sequential(exp, looks, planned, relative)
            )
    if metric.role == "guardrail":
        ni = non_inferiority(
            cmp,
            margin=float(metric.margin),
            margin_type=metric.margin_type,
            better=metric.better,
            alpha=exp.alpha,
        )
        result = dataclasses.replace(
            result,
            guardrail=NonInferiorityOutcome(
                margin=metric.margin,
                margin_type=metric.margin_type,
                non_inferior=ni.passed,
                p_value=ni.p_value,
                bound=ni.bound,
                confidently_worse=ni.confidently_worse,
            ),
        )
    return result


def _looks(
    exp: ExperimentSpec, metric: MetricSpec, variant: str, frames: pd.DataFrame, relative: bool
) -> list[Look]:
    """Every daily as-of of the phase with a usable estimate is a look of the sequential test."""
    looks = []
    overall = frames[(frames["segment"] == ALL) & (frames["metric"] == metric.name)]
    for _, day in overall.groupby("as_of", sort=True):
        c, t = arm_row(day, exp.champion), arm_row(day, variant)
        if c is None or t is None:
            continue
        cmp, _ = compare_frame_rows(metric, c, t, exp.alpha, cuped=exp.cuped)
        estimate, se = (cmp.rel_lift, cmp.rel_se) if relative else (cmp.abs_diff, cmp.abs_se)
        if math.isfinite(estimate) and math.isfinite(se) and se > 0:
            looks.append(Look(n=float(c["n"] + t["n"]), estimate=estimate, std_err=se))
    return looks


def _sequential(
    exp: ExperimentSpec, looks: Sequence[Look], planned: Mapping[str, int] | None, relative: bool
) -> SequentialOutcome:
    """The sequential test over the looks; the information fraction is n / planned n, the plan
    coming from the power analysis for the metric's MDE at the current control baseline."""
    if not looks:
        return SequentialOutcome(method=None)
    result = sequential_test(
        looks, planned_n=float(sum(planned.values())) if planned else None, alpha=exp.alpha
    )
    return SequentialOutcome(
        method=result.method_used,
        p_value=result.p_value,
        ci_low=result.ci_low if relative else None,
        ci_high=result.ci_high if relative else None,
        rejected=result.rejected,
        info_fraction=result.info_fraction,
        looks=len(looks),
        notes=tuple(result.notes),
    )


def planned_sample(
    exp: ExperimentSpec,
    metric: MetricSpec,
    variant: str,
    result: MetricResult,
    shares: Mapping[str, float],
) -> dict[str, int] | None:
    """Units per arm needed to detect the metric's MDE with the configured power."""
    baseline = result.control_value
    if metric.mde is None or not finite(baseline):
        return None
    kind = "proportion" if metric.kind == "proportion" else "mean"
    variance = None if kind == "proportion" else result.control_variance
    if kind == "proportion" and not 0 < baseline < 1:
        return None
    if kind == "mean" and not variance:
        return None
    if not (shares[exp.champion] > 0 and shares[variant] > 0):
        return None
    try:
        size = required_sample_size_per_arm(
            kind=kind,
            baseline=baseline,
            mde=metric.mde,
            mde_type=metric.mde_type,
            variance=variance,
            alpha=exp.alpha,
            power=exp.power,
            allocation=(shares[exp.champion], shares[variant]),
        )
    except ValueError:
        return None
    return {"control": size.control, "treatment": size.treatment}


def corrected(exp: ExperimentSpec, results: Sequence[MetricResult]) -> list[MetricResult]:
    """Adjust p-values within each family (primary across challengers; secondary metrics across
    challengers and metrics) with the experiment's correction; guardrails stay uncorrected."""
    adjusted: dict[int, float] = {}
    for role in CORRECTED_ROLES:
        family = [i for i, r in enumerate(results) if r.role == role and finite(r.p_value)]
        values = adjust_p_values([results[i].p_value for i in family], method=exp.correction)
        adjusted.update(zip(family, values, strict=True))
    return [r.with_adjustment(adjusted.get(i), exp.alpha) for i, r in enumerate(results)]


def segment_rows(exp: ExperimentSpec, frames: pd.DataFrame, as_of: date) -> list[dict]:
    """Fixed-horizon comparisons per segment value: exploratory, never used for the verdict.
    A cell whose statistics cannot be compared is left out (the overall row reports it)."""
    latest = frames[(frames["as_of"] == pd.Timestamp(as_of)) & (frames["segment"] != ALL)]
    out = []
    for (segment, value, name), group in latest.groupby(["segment", "segment_value", "metric"]):
        metric = next((m for m in exp.metrics if m.name == name), None)
        if metric is None:
            continue
        for variant in exp.challengers:
            control, treatment = arm_row(group, exp.champion), arm_row(group, variant)
            if statistics_problem(metric, "control", control) or statistics_problem(
                metric, "treatment", treatment
            ):
                continue
            try:
                cmp, _ = compare_frame_rows(metric, control, treatment, exp.alpha)
            except (ArithmeticError, ValueError):
                continue
            out.append(
                {
                    "segment": segment,
                    "value": value,
                    "name": name,
                    "role": metric.role,
                    "variant": variant,
                    "n_control": units(control),
                    "n_treatment": units(treatment),
                    "control_value": cmp.control_value,
                    "treatment_value": cmp.treatment_value,
                    "rel_lift": cmp.rel_lift,
                    "ci_low": cmp.rel_ci_low,
                    "ci_high": cmp.rel_ci_high,
                    "p_value": cmp.p_value,
                }
            )
    return out
