"""The verdict (DESIGN.md §3): metric frames + integrity facts -> the decision record.

Pure: no Dagster, no I/O. The Dagster asset `gate_decision` reads the frames from the warehouse
and hands them here; what comes back is exactly what `decision.json` holds.

The rule, applied per experiment and as-of day:

1. `invalid` when a blocking data-quality check failed: an ingest check (required columns and
   types), a unit seen in more than one variant, a variant that is not configured, a metric
   whose statistics are not finite numbers, or a sample-ratio mismatch (chi-square p < 0.001).
   Nothing else is looked at.
2. `rollback` when the primary metric is significantly worse for a challenger (after correction
   across challengers), or a guardrail is confidently worse than its margin (its whole confidence
   interval lies beyond the margin on the harmful side).
3. `promote` when, for at least one challenger, the primary metric is significantly better after
   correction, every guardrail passes non-inferiority, and the minimum sample is reached.
4. `continue` otherwise, with the power reached so far and the estimated days still needed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from abgate_pipeline.config import ExperimentSpec, MetricSpec, ratio_part_source
from abgate_pipeline.stats import (
    Comparison,
    Look,
    QuantileStats,
    RatioStats,
    SampleStats,
    achieved_power,
    adjust_p_values,
    chance_to_beat,
    compare_means,
    compare_means_cuped,
    compare_proportions,
    compare_quantiles,
    compare_ratios,
    compare_ratios_cuped,
    cuped_adjust_ratio,
    cuped_variance_reduction,
    days_remaining,
    non_inferiority,
    quantile_stats,
    required_sample_size_per_arm,
    sequential_test,
    srm_test,
)

SRM_THRESHOLD = 0.001
ALL = "__all__"
DECISIONS = ("promote", "continue", "rollback", "invalid")


@dataclass(frozen=True)
class CheckOutcome:
    """One blocking data-quality check for one experiment and as-of day."""

    name: str
    passed: bool
    description: str


@dataclass(frozen=True)
class GateInputs:
    """Everything the verdict is computed from (and recorded with, for reproducibility)."""

    experiment: ExperimentSpec
    as_of: date
    frames: pd.DataFrame  # metric_frames rows of this experiment for every as_of <= as_of
    unit_facts: pd.DataFrame  # experiment_checks.sql rows of this experiment at as_of
    current_pct: int  # the challengers' current share of traffic (from the flag)
    ingest_checks: Sequence[CheckOutcome] = ()
    provenance: Mapping[str, Any] | None = None
    # The split the flag has served since the last change (None: the configured allocation),
    # and when that phase began: the SRM null, and the start of the looks.
    allocation: Mapping[str, float] | None = None
    phase_start: str | None = None
    # Outcome names that have landed by the end of the as-of day (None: not looked up).
    landed_outcomes: frozenset[str] | None = None


def integrity_checks(
    experiment: ExperimentSpec,
    unit_facts: pd.DataFrame,
    allocation: Mapping[str, float] | None = None,
) -> tuple[list[CheckOutcome], dict[str, Any]]:
    """The experiment-table checks that block promotion, and the SRM detail for the report.

    `allocation` is the split actually served (after a ramp); default: the configured one.
    """
    shares = _shares(experiment, allocation)
    logged = set(unit_facts["variant"])
    unknown = sorted(logged - set(experiment.variants))
    multi = int(unit_facts.loc[unit_facts["multi_variant"], "units"].sum())
    single = unit_facts[~unit_facts["multi_variant"]].groupby("variant")["units"].sum()
    observed = {v: int(single.get(v, 0)) for v in experiment.variants}
    checks = [
        CheckOutcome(
            "known_variants_only",
            not unknown,
            "every logged variant is configured"
            if not unknown
            else f"variants not in the config: {', '.join(unknown)}",
        ),
        CheckOutcome(
            "one_variant_per_unit",
            multi == 0,
            "every unit saw exactly one variant"
            if multi == 0
            else f"{multi} units were served more than one variant",
        ),
    ]
    srm: dict[str, Any] = {"observed": observed, "expected_share": shares}
    checks.append(_srm_check(observed, shares, srm))
    return checks, srm


def config_warnings(
    experiment: ExperimentSpec,
    allocation: Mapping[str, float] | None,
    landed_outcomes: frozenset[str] | None,
) -> list[str]:
    """What in the configuration does not match the data, in words (not blocking): outcomes
    that no landed event names, and a configured allocation that had to be normalised."""
    warnings = []
    if landed_outcomes is not None:
        for metric in experiment.metrics:
            for name in metric_outcomes(metric):
                if name not in landed_outcomes:
                    warnings.append(
                        f"no events named `{name}` have landed: metric {metric.name} has no "
                        "outcome data (check the outcome name in the YAML against the extracts)"
                    )
    total = sum(experiment.allocation.values())
    if not allocation and not math.isclose(total, 100.0):
        shares = ", ".join(f"{v} {share:.1%}" for v, share in experiment.expected_shares().items())
        warnings.append(
            f"the configured allocation sums to {total:g}, not 100: the sample-ratio test uses "
            f"it normalised ({shares})"
        )
    return warnings


def metric_outcomes(metric: MetricSpec) -> tuple[str, ...]:
    """The outcome names a metric reads (a ratio's parts that are not log columns)."""
    if metric.kind == "ratio":
        parts = (metric.numerator, metric.denominator)
        return tuple(p for p in parts if p and ratio_part_source(p) == "outcome")
    return (metric.outcome,) if metric.outcome else ()


def _statistics_check(rows: Sequence[Mapping[str, Any]]) -> CheckOutcome:
    """Every metric's sufficient statistics could be compared (see `statistics_problem`)."""
    problems = sorted({r["statistics_problem"] for r in rows if r.get("statistics_problem")})
    return CheckOutcome(
        "finite_statistics",
        not problems,
        "every metric's statistics are finite and consistent"
        if not problems
        else "; ".join(problems),
    )


def _srm_check(observed: dict[str, int], shares: dict[str, float], srm: dict) -> CheckOutcome:
    """Chi-square goodness of fit of units per variant against the served split (fills `srm`).

    Arms the split gives 0 % are left out of the test; units in such an arm are a mismatch.
    """
    stray = [v for v, w in shares.items() if w == 0 and observed[v] > 0]
    live = [v for v, w in shares.items() if w > 0]
    if stray:
        srm.update(p_value=0.0, chi2=None, passed=False)
        return CheckOutcome(
            "sample_ratio_mismatch",
            False,
            f"sample-ratio mismatch: units in {', '.join(stray)} although the split gives them 0 %",
        )
    if len(live) < 2 or sum(observed.values()) == 0:
        srm.update(p_value=None, chi2=None, passed=True)
        return CheckOutcome("sample_ratio_mismatch", True, "not testable: no units or one arm")
    result = srm_test(
        {v: observed[v] for v in live}, {v: shares[v] for v in live}, threshold=SRM_THRESHOLD
    )
    srm.update(p_value=result.p_value, chi2=result.chi2, passed=result.passed)
    if result.passed:
        description = (
            f"units per variant {observed} match the split (chi-square p = {result.p_value:.3g})"
        )
    else:
        description = (
            f"sample-ratio mismatch: units per variant {observed} vs expected shares {shares} "
            f"(chi-square p = {result.p_value:.3g} < {SRM_THRESHOLD})"
        )
    return CheckOutcome("sample_ratio_mismatch", result.passed, description)


def _shares(experiment: ExperimentSpec, allocation: Mapping[str, float] | None) -> dict[str, float]:
    if not allocation:
        return experiment.expected_shares()
    total = sum(allocation.get(v, 0) for v in experiment.variants)
    return {v: allocation.get(v, 0) / total for v in experiment.variants}


def decide(inputs: GateInputs) -> dict[str, Any]:
    """The full decision record for one experiment and as-of day (the `decision.json` body)."""
    exp = inputs.experiment
    checks, srm = integrity_checks(exp, inputs.unit_facts, inputs.allocation)
    all_checks = [*inputs.ingest_checks, *checks]
    frames = inputs.frames
    latest = frames[(frames["as_of"] == pd.Timestamp(inputs.as_of)) & (frames["segment"] == ALL)]
    shares = _shares(exp, inputs.allocation)
    rows = [
        _metric_row(exp, metric, variant, latest, frames, shares)
        for metric in exp.metrics
        for variant in exp.challengers
    ]
    _apply_corrections(exp, rows)
    all_checks.append(_statistics_check(rows))
    segments = _segment_rows(exp, frames, inputs.as_of)
    sample = _sample_summary(exp, rows, inputs.unit_facts, frames)

    decision, reasons, winners = _verdict(exp, all_checks, rows, sample)
    rollout = _rollout(exp, decision, inputs.current_pct)
    return {
        "experiment_id": exp.id,
        "as_of": inputs.as_of.isoformat(),
        "decision": decision,
        "reasons": reasons,
        "promote_variants": winners,
        "flag_key": exp.flag_key,
        "champion": exp.champion,
        "challengers": list(exp.challengers),
        "sequential": exp.sequential,
        "alpha": exp.alpha,
        "correction": exp.correction,
        "srm": srm,
        "phase_start": inputs.phase_start,
        "warnings": config_warnings(exp, inputs.allocation, inputs.landed_outcomes),
        "checks": [c.__dict__ for c in all_checks],
        "checks_passed": all(c.passed for c in all_checks),
        "rollout": rollout,
        "sample": sample,
        "metrics": rows,
        "segments": segments,
        "config_hash": exp.config_hash(),
        **dict(inputs.provenance or {}),
    }


# ---------------------------------------------------------------------------------------------
# Per metric
# ---------------------------------------------------------------------------------------------


def _arm(frame: pd.DataFrame, variant: str) -> pd.Series | None:
    rows = frame[frame["variant"] == variant]
    return rows.iloc[0] if len(rows) else None


def _num(value: Any) -> float:
    return float(value) if value is not None and not pd.isna(value) else 0.0


def compare_frame_rows(
    metric: MetricSpec,
    control: pd.Series | None,
    treatment: pd.Series | None,
    alpha: float,
    *,
    cuped: bool = False,
) -> tuple[Comparison, float | None]:
    """Fixed-horizon comparison of one metric from two metric-frame rows (a missing row = n 0),
    and the CUPED variance reduction when the pre-period covariate was used (else None)."""
    if metric.kind == "quantile":
        q = float(metric.q)
        arms = [
            quantile_stats(
                int(_num(r["n"])),
                q,
                _num(r["q_estimate"]),
                _num(r["q_lo"]),
                _num(r["q_hi"]),
                alpha,
            )
            if r is not None and _num(r["n"]) > 0
            else QuantileStats(0, q, math.nan, math.inf)
            for r in (control, treatment)
        ]
        return compare_quantiles(*arms, alpha=alpha), None
    if metric.kind == "ratio":
        c, t = (_ratio_stats(r) for r in (control, treatment))
        if cuped and _has_ratio_covariate(c) and _has_ratio_covariate(t):
            adjusted = cuped_adjust_ratio(c, t)
            if adjusted.theta:
                return compare_ratios_cuped(c, t, alpha=alpha), adjusted.variance_reduction
        return compare_ratios(c, t, alpha=alpha), None
    c, t = (_sample_stats(r) for r in (control, treatment))
    if cuped and _has_covariate(c) and _has_covariate(t):
        return compare_means_cuped(c, t, alpha=alpha), cuped_variance_reduction(c, t)
    compare = compare_proportions if metric.kind == "proportion" else compare_means
    return compare(c, t, alpha=alpha), None


def _sample_stats(row: pd.Series | None) -> SampleStats:
    if row is None:
        return SampleStats(n=0, sum=0.0, sum_sq=0.0)
    pre = row.get("pre_sum")
    has_pre = pre is not None and not pd.isna(pre)
    return SampleStats(
        n=int(_num(row["n"])),
        sum=_num(row["sum"]),
        sum_sq=_num(row["sum_sq"]),
        pre_sum=_num(pre) if has_pre else None,
        pre_sum_sq=_num(row.get("pre_sum_sq")) if has_pre else None,
        cross_sum=_num(row.get("pre_cross_sum")) if has_pre else None,
    )


# metric_frames column -> RatioStats field of the ratio's CUPED pre-period sums
_PRE_RATIO_COLUMNS = {
    "pre_sum": "pre_num_sum",
    "pre_sum_sq": "pre_num_sum_sq",
    "pre_den_sum": "pre_den_sum",
    "pre_den_sum_sq": "pre_den_sum_sq",
    "pre_num_den_sum": "pre_cross_sum",
    "pre_cross_sum": "num_pre_num_sum",
    "den_pre_den_sum": "den_pre_den_sum",
    "num_pre_den_sum": "num_pre_den_sum",
    "den_pre_num_sum": "den_pre_num_sum",
}


def _ratio_stats(row: pd.Series | None) -> RatioStats:
    """A ratio metric's frame row as RatioStats, with the pre-period sums when it has them."""
    if row is None:
        return RatioStats(0, 0.0, 0.0, 0.0, 0.0, 0.0)
    has_pre = all(column in row.index and not pd.isna(row[column]) for column in _PRE_RATIO_COLUMNS)
    pre = {f: _num(row[c]) for c, f in _PRE_RATIO_COLUMNS.items()} if has_pre else {}
    return RatioStats(
        n=int(_num(row["n"])),
        num_sum=_num(row["sum"]),
        num_sum_sq=_num(row["sum_sq"]),
        den_sum=_num(row["den_sum"]),
        den_sum_sq=_num(row["den_sum_sq"]),
        cross_sum=_num(row["cross_sum"]),
        **pre,
    )


def _has_ratio_covariate(arm: RatioStats) -> bool:
    """CUPED for a ratio needs pre-period activity: a pre-period denominator that is not all 0
    (an experiment without pre-period data is compared plainly, without a note on every ratio)."""
    return arm.pre_den_sum is not None and arm.pre_den_sum > 0 and arm.n >= 2


def _has_covariate(arm: SampleStats) -> bool:
    """CUPED needs a pre-period covariate that varies across the arm's units."""
    if arm.pre_sum is None or arm.n < 2:
        return False
    return arm.pre_sum_sq - arm.pre_sum**2 / arm.n > 1e-12 * max(arm.pre_sum_sq, 1.0)


def _sample_variance(row: pd.Series | None) -> float | None:
    if row is None or _num(row["n"]) < 2:
        return None
    n, total, total_sq = _num(row["n"]), _num(row["sum"]), _num(row["sum_sq"])
    return max(total_sq - total * total / n, 0.0) / (n - 1)


def _harmful(metric: MetricSpec, diff: float) -> bool:
    return diff < 0 if metric.better == "higher" else diff > 0


# Frame columns that must hold a finite number in an arm with units, per metric kind; the CUPED
# pre-period sums may be absent (NULL) but, when present, must be finite too.
_REQUIRED_STATISTICS = {
    "quantile": ("q_estimate", "q_lo", "q_hi"),
    "ratio": ("sum", "sum_sq", "den_sum", "den_sum_sq", "cross_sum"),
}
_DEFAULT_STATISTICS = ("sum", "sum_sq")
_OPTIONAL_STATISTICS = ("pre_sum", "pre_sum_sq", *_PRE_RATIO_COLUMNS)


def statistics_problem(metric: MetricSpec, arm: str, row: pd.Series | None) -> str | None:
    """Why one arm's metric-frame row cannot be compared, or None when it can.

    Ingest keeps non-finite and absurd values out, so this only fires on data that got past it
    (or a bug): a NaN or infinite sum, order statistics out of order. The gate then reports the
    metric as not computable and the verdict as invalid instead of crashing or testing garbage.
    """
    if row is None or _num(row["n"]) <= 0:
        return None
    required = _REQUIRED_STATISTICS.get(metric.kind, _DEFAULT_STATISTICS)
    for column in required:
        value = row.get(column)
        if value is None or not math.isfinite(float(value)):
            return f"{metric.name}: the {arm}'s {column} is {_text(value)}, not a finite number"
    for column in _OPTIONAL_STATISTICS:
        value = row.get(column)
        if value is not None and math.isinf(float(value)):
            return f"{metric.name}: the {arm}'s {column} is {_text(value)}, not a finite number"
    if metric.kind == "quantile" and not row["q_lo"] <= row["q_estimate"] <= row["q_hi"]:
        return (
            f"{metric.name}: the {arm}'s order statistics are out of order "
            f"({row['q_lo']} <= {row['q_estimate']} <= {row['q_hi']} does not hold)"
        )
    return None


def _text(value: Any) -> str:
    return "missing" if value is None else str(float(value))


def _metric_row(
    exp: ExperimentSpec,
    metric: MetricSpec,
    variant: str,
    latest: pd.DataFrame,
    frames: pd.DataFrame,
    shares: Mapping[str, float],
) -> dict[str, Any]:
    """Everything decision.json reports for one metric x challenger.

    A metric whose statistics are not finite, or whose computation fails on them, is reported
    as not computable (`statistics_problem` says why; every estimate is empty), never a crash.
    """
    frame = latest[latest["metric"] == metric.name]
    control, treatment = _arm(frame, exp.champion), _arm(frame, variant)
    problem = statistics_problem(metric, "control", control) or statistics_problem(
        metric, "treatment", treatment
    )
    if problem is None:
        try:
            return _compared_row(exp, metric, variant, control, treatment, frames, shares)
        except (ArithmeticError, ValueError) as error:
            problem = f"{metric.name}: the statistics cannot be computed ({error})"
    row = _compared_row(exp, metric, variant, None, None, frames.iloc[0:0], shares)
    row.update(
        n_control=int(_num(control["n"])) if control is not None else 0,
        n_treatment=int(_num(treatment["n"])) if treatment is not None else 0,
        statistics_problem=problem,
        notes=[problem],
    )
    return row


def _compared_row(
    exp: ExperimentSpec,
    metric: MetricSpec,
    variant: str,
    control: pd.Series | None,
    treatment: pd.Series | None,
    frames: pd.DataFrame,
    shares: Mapping[str, float],
) -> dict[str, Any]:
    """The metric row of `_metric_row` from the two arms' frame rows."""
    cmp, reduction = compare_frame_rows(metric, control, treatment, exp.alpha, cuped=exp.cuped)
    relative_ok = math.isfinite(cmp.rel_lift) and math.isfinite(cmp.rel_se)
    row: dict[str, Any] = {
        "name": metric.name,
        "role": metric.role,
        "kind": metric.kind,
        "variant": variant,
        "better": metric.better,
        "n_control": int(_num(control["n"])) if control is not None else 0,
        "n_treatment": int(_num(treatment["n"])) if treatment is not None else 0,
        "control_value": cmp.control_value,
        "treatment_value": cmp.treatment_value,
        "abs_diff": cmp.abs_diff,
        "abs_ci_low": cmp.abs_ci_low,
        "abs_ci_high": cmp.abs_ci_high,
        "rel_lift": cmp.rel_lift,
        "ci_low": cmp.rel_ci_low if relative_ok else cmp.abs_ci_low,
        "ci_high": cmp.rel_ci_high if relative_ok else cmp.abs_ci_high,
        "ci_of": "relative lift" if relative_ok else "absolute difference",
        # Pair the p-value with the interval it is reported beside (the relative lift's, when
        # the control value allows one); the absolute-difference test is kept as p_value_abs.
        "p_value": cmp.rel_p_value if relative_ok and cmp.rel_p_value is not None else cmp.p_value,
        "p_value_abs": cmp.p_value,
        "method": cmp.method,
        "cuped_variance_reduction": reduction,
        "notes": list(cmp.notes),
        "control_variance": _sample_variance(control)
        if metric.kind in ("proportion", "mean", "count")
        else None,
    }
    if relative_ok:
        bayes = chance_to_beat(
            cmp.rel_lift, cmp.rel_se, prior_std=exp.bayes_prior_std, better=metric.better
        )
        row["chance_to_beat"] = bayes.chance_to_win
        row["expected_loss"] = bayes.expected_loss_treatment
    else:
        row["chance_to_beat"] = None
        row["expected_loss"] = None
    if metric.role == "primary":
        row["planned_n_per_arm"] = _planned_sample(exp, metric, variant, row, shares)
        if exp.sequential:
            _sequential(exp, metric, variant, frames, row, relative_ok)
    if metric.role == "guardrail":
        ni = non_inferiority(
            cmp,
            margin=float(metric.margin),
            margin_type=metric.margin_type,
            better=metric.better,
            alpha=exp.alpha,
        )
        row.update(
            margin=metric.margin,
            margin_type=metric.margin_type,
            non_inferior=ni.passed,
            ni_p_value=ni.p_value,
            ni_bound=ni.bound,
            confidently_worse=ni.confidently_worse,
        )
    return row


def _sequential(
    exp: ExperimentSpec,
    metric: MetricSpec,
    variant: str,
    frames: pd.DataFrame,
    row: dict[str, Any],
    relative: bool,
) -> None:
    """Replace the fixed-horizon p-value/CI of the primary metric by the sequential ones.

    Every daily as-of up to now is a look; the information fraction is n / planned n, the plan
    coming from the power analysis for the metric's MDE at the current control baseline.
    """
    looks = []
    overall = frames[(frames["segment"] == ALL) & (frames["metric"] == metric.name)]
    for _, day in overall.groupby("as_of", sort=True):
        c, t = _arm(day, exp.champion), _arm(day, variant)
        if c is None or t is None:
            continue
        cmp, _ = compare_frame_rows(metric, c, t, exp.alpha, cuped=exp.cuped)
        estimate, se = (cmp.rel_lift, cmp.rel_se) if relative else (cmp.abs_diff, cmp.abs_se)
        if math.isfinite(estimate) and math.isfinite(se) and se > 0:
            looks.append(Look(n=float(c["n"] + t["n"]), estimate=estimate, std_err=se))
    planned = row["planned_n_per_arm"]
    if not looks:
        row["sequential_method"] = None
        return
    result = sequential_test(
        looks,
        planned_n=float(sum(planned.values())) if planned else None,
        alpha=exp.alpha,
    )
    row.update(
        p_value_fixed=row["p_value"],
        p_value=result.p_value,
        ci_low=result.ci_low if relative else row["ci_low"],
        ci_high=result.ci_high if relative else row["ci_high"],
        method=f"{row['method']}+{result.method_used}",
        sequential_method=result.method_used,
        sequential_rejected=result.rejected,
        info_fraction=result.info_fraction,
        looks=len(looks),
    )
    row["notes"] = [*row["notes"], *result.notes]


def _planned_sample(
    exp: ExperimentSpec,
    metric: MetricSpec,
    variant: str,
    row: dict[str, Any],
    shares: Mapping[str, float],
) -> dict[str, int] | None:
    """Units per arm needed to detect the metric's MDE with the configured power."""
    baseline = row["control_value"]
    if metric.mde is None or not (isinstance(baseline, float) and math.isfinite(baseline)):
        return None
    kind = "proportion" if metric.kind == "proportion" else "mean"
    variance = None if kind == "proportion" else row.get("control_variance")
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


def _apply_corrections(exp: ExperimentSpec, rows: list[dict[str, Any]]) -> None:
    """Adjust p-values within each family (primary across challengers; secondary metrics across
    challengers and metrics); guardrails are tested uncorrected, for non-inferiority."""
    for role in ("primary", "secondary"):
        family = [r for r in rows if r["role"] == role]
        finite = [r for r in family if r["p_value"] is not None and math.isfinite(r["p_value"])]
        adjusted = adjust_p_values([r["p_value"] for r in finite], method=exp.correction)
        for r, p in zip(finite, adjusted, strict=True):
            r["p_value_adjusted"] = p
        for r in family:
            r.setdefault("p_value_adjusted", None)
            p = r["p_value_adjusted"]
            r["significant"] = p is not None and p < exp.alpha
            if r.get("sequential_method") and not r.get("sequential_rejected"):
                r["significant"] = False
    for r in rows:
        if r["role"] == "guardrail":
            r["p_value_adjusted"] = None
            r["significant"] = bool(r["p_value"] is not None and r["p_value"] < exp.alpha)


def _segment_rows(exp: ExperimentSpec, frames: pd.DataFrame, as_of: date) -> list[dict[str, Any]]:
    """Fixed-horizon comparisons per segment value: exploratory, never used for the verdict."""
    latest = frames[(frames["as_of"] == pd.Timestamp(as_of)) & (frames["segment"] != ALL)]
    out = []
    for (segment, value, name), group in latest.groupby(["segment", "segment_value", "metric"]):
        metric = next((m for m in exp.metrics if m.name == name), None)
        if metric is None:
            continue
        for variant in exp.challengers:
            control, treatment = _arm(group, exp.champion), _arm(group, variant)
            try:
                if statistics_problem(metric, "control", control) or statistics_problem(
                    metric, "treatment", treatment
                ):
                    continue
                cmp, _ = compare_frame_rows(metric, control, treatment, exp.alpha)
            except (ArithmeticError, ValueError):
                continue  # exploratory only; the overall row already reports the problem
            out.append(
                {
                    "segment": segment,
                    "value": value,
                    "name": name,
                    "role": metric.role,
                    "variant": variant,
                    "n_control": int(_num(control["n"])) if control is not None else 0,
                    "n_treatment": int(_num(treatment["n"])) if treatment is not None else 0,
                    "control_value": cmp.control_value,
                    "treatment_value": cmp.treatment_value,
                    "rel_lift": cmp.rel_lift,
                    "ci_low": cmp.rel_ci_low,
                    "ci_high": cmp.rel_ci_high,
                    "p_value": cmp.p_value,
                }
            )
    return out


# ---------------------------------------------------------------------------------------------
# Sample, verdict, rollout
# ---------------------------------------------------------------------------------------------


def _sample_summary(
    exp: ExperimentSpec,
    rows: list[dict[str, Any]],
    unit_facts: pd.DataFrame,
    frames: pd.DataFrame,
) -> dict[str, Any]:
    primary = [r for r in rows if r["role"] == "primary"]
    planned = [r.get("planned_n_per_arm") for r in primary if r.get("planned_n_per_arm")]
    power = []
    for r in primary:
        metric = exp.primary
        if metric.mde is None or metric.kind != "proportion":
            continue
        baseline = r["control_value"]
        if (
            not (isinstance(baseline, float) and 0 < baseline < 1)
            or min(r["n_control"], r["n_treatment"]) < 2
        ):
            continue
        try:
            power.append(
                achieved_power(
                    r["n_control"],
                    r["n_treatment"],
                    kind="proportion",
                    baseline=baseline,
                    mde=metric.mde,
                    mde_type=metric.mde_type,
                    alpha=exp.alpha,
                )
            )
        except ValueError:
            continue
    return {
        "days_remaining": _days_remaining(exp, frames, primary),
        "units": int(unit_facts["units"].sum()) if len(unit_facts) else 0,
        "units_immature": int(unit_facts["immature_units"].sum()) if len(unit_facts) else 0,
        "planned_n_per_arm": planned[0] if planned else None,
        "power_so_far": min(power) if power else None,
        "n_per_arm": {
            exp.champion: primary[0]["n_control"] if primary else 0,
            **{r["variant"]: r["n_treatment"] for r in primary},
        },
    }


def _days_remaining(
    exp: ExperimentSpec, frames: pd.DataFrame, primary: list[dict[str, Any]]
) -> float | None:
    """Days until every arm reaches its planned sample, at the average daily growth so far."""
    overall = frames[(frames["segment"] == ALL) & (frames["metric"] == exp.primary.name)]
    per_day = overall.pivot_table(index="as_of", columns="variant", values="n", aggfunc="sum")
    if len(per_day) < 2:
        return None
    span = (per_day.index[-1] - per_day.index[0]).days
    growth = (per_day.iloc[-1] - per_day.iloc[0]) / span
    remaining = []
    for r in primary:
        planned = r.get("planned_n_per_arm")
        if not planned:
            continue
        for arm, variant in (("control", exp.champion), ("treatment", r["variant"])):
            if variant in per_day.columns:
                remaining.append(
                    days_remaining(
                        planned[arm],
                        float(per_day[variant].iloc[-1]),
                        max(float(growth[variant]), 0.0),
                    )
                )
    return max(remaining) if remaining else None


def _verdict(
    exp: ExperimentSpec,
    checks: Sequence[CheckOutcome],
    rows: list[dict[str, Any]],
    sample: dict[str, Any],
) -> tuple[str, list[str], list[str]]:
    failed = [c for c in checks if not c.passed]
    if failed:
        return "invalid", [f"{c.name} failed: {c.description}" for c in failed], []

    primary = {r["variant"]: r for r in rows if r["role"] == "primary"}
    guardrails = [r for r in rows if r["role"] == "guardrail"]
    harmed = [
        f"{r['name']} ({r['variant']}) is significantly worse: {_describe(r)}"
        for r in primary.values()
        if r["significant"] and _harmful(exp.primary, r["abs_diff"])
    ]
    harmed += [
        f"guardrail {r['name']} ({r['variant']}) is confidently worse than its "
        f"{_margin_text(r)} margin: {_describe(r)}"
        for r in guardrails
        if r["confidently_worse"]
    ]
    if harmed:
        return "rollback", harmed, []

    winners, reasons = [], []
    minimum = exp.min_units_per_arm
    for variant, r in primary.items():
        better = r["significant"] and not _harmful(exp.primary, r["abs_diff"])
        failing = [g for g in guardrails if g["variant"] == variant and not g["non_inferior"]]
        # Sequential designs may stop early once the boundary is crossed; a fixed-horizon test
        # is only valid at its planned sample (each arm against its own plan, e.g. 90/10).
        planned = r.get("planned_n_per_arm") if not exp.sequential else None
        needed = planned or {"control": minimum, "treatment": minimum}
        enough = r["n_control"] >= needed["control"] and r["n_treatment"] >= needed["treatment"]
        if better and not failing and enough:
            winners.append(variant)
            reasons.append(f"{r['name']} ({variant}) is significantly better: {_describe(r)}")
            reasons += [
                f"guardrail {g['name']} ({variant}) holds within its {_margin_text(g)} margin"
                for g in guardrails
                if g["variant"] == variant
            ]
            continue
        if not better:
            reasons.append(f"{r['name']} ({variant}) is not yet significant: {_describe(r)}")
        for g in failing:
            reasons.append(
                f"guardrail {g['name']} ({variant}) has not shown non-inferiority within its "
                f"{_margin_text(g)} margin: {_describe(g)}"
            )
        if not enough:
            reasons.append(
                f"{variant}: minimum sample not reached ({r['n_control']} / {r['n_treatment']} "
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


def _margin_text(row: dict[str, Any]) -> str:
    margin = row.get("margin")
    if margin is None:
        return ""
    return f"{margin:g}" if row.get("margin_type") == "absolute" else f"{margin:.0%}"


def _describe(row: dict[str, Any]) -> str:
    """A short human summary: values, lift and interval, p-value."""

    def fmt(x: Any) -> str:
        return f"{x:.4g}" if isinstance(x, int | float) and math.isfinite(x) else "n/a"

    lift = row.get("rel_lift")
    lift_text = f"{lift:+.2%}" if isinstance(lift, float) and math.isfinite(lift) else "n/a"
    ci_low, ci_high = row.get("ci_low"), row.get("ci_high")
    scale = "%" if row.get("ci_of") == "relative lift" else ""
    if scale:
        ci = f"[{ci_low:+.2%}, {ci_high:+.2%}]" if _finite(ci_low, ci_high) else "[n/a]"
    else:
        ci = f"[{fmt(ci_low)}, {fmt(ci_high)}]"
    return (
        f"{fmt(row.get('control_value'))} -> {fmt(row.get('treatment_value'))} "
        f"({lift_text}, CI {ci}, p = {fmt(row.get('p_value'))})"
    )


def _finite(*values: Any) -> bool:
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)


def _rollout(exp: ExperimentSpec, decision: str, current_pct: int) -> dict[str, Any]:
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
