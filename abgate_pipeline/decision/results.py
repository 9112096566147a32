"""The per-metric result of a decision: one frozen record per metric x challenger.

Every number is in its own field: the fixed-horizon test, the sequential one (primary metric of
a sequential experiment), the p-value adjusted across the family, and which of them the verdict
used. `record()` is the metric's entry in `decision.json`, whose keys stay as they were
(`p_value`, `ci_low`, `ci_high` are the ones the verdict used) with the explicit ones added.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

FIXED, SEQUENTIAL = "fixed-horizon", "sequential"


@dataclass(frozen=True)
class SequentialOutcome:
    """The sequential test of a primary metric over the phase's daily looks (`method` None: no
    look had a usable estimate yet). The interval is None when the looks are on the absolute
    scale (no relative lift), where the fixed-horizon interval is reported."""

    method: str | None
    p_value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    rejected: bool = False
    info_fraction: float | None = None
    looks: int = 0
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class NonInferiorityOutcome:
    """A guardrail's one-sided test against its margin (`stats.non_inferiority`)."""

    margin: float
    margin_type: str
    non_inferior: bool
    p_value: float
    bound: float
    confidently_worse: bool


@dataclass(frozen=True)
class MetricResult:
    """One metric x challenger. Values and differences are challenger vs champion; `ci_of` says
    whether the intervals and `p_fixed` are on the relative-lift or the absolute scale."""

    name: str
    role: str
    kind: str
    variant: str
    better: str
    n_control: int
    n_treatment: int
    control_value: float
    treatment_value: float
    abs_diff: float
    abs_ci_low: float
    abs_ci_high: float
    rel_lift: float
    ci_of: str
    p_fixed: float
    p_fixed_abs: float
    ci_low_fixed: float
    ci_high_fixed: float
    method: str
    notes: tuple[str, ...] = ()
    cuped_variance_reduction: float | None = None
    control_variance: float | None = None
    chance_to_beat: float | None = None
    expected_loss: float | None = None
    planned_n_per_arm: dict[str, int] | None = None
    sequential: SequentialOutcome | None = None
    guardrail: NonInferiorityOutcome | None = None
    statistics_problem: str | None = None
    p_adjusted: float | None = None
    significant: bool = False

    @property
    def verdict_uses(self) -> str:
        """Which test the verdict reads: the sequential one once it has a look, else the
        fixed-horizon one."""
        seq = self.sequential
        return SEQUENTIAL if seq is not None and seq.method is not None else FIXED

    @property
    def p_value(self) -> float:
        if self.verdict_uses == SEQUENTIAL:
            return self.sequential.p_value
        return self.p_fixed

    @property
    def ci_low(self) -> float:
        seq = self.sequential
        if self.verdict_uses == SEQUENTIAL and seq.ci_low is not None:
            return seq.ci_low
        return self.ci_low_fixed

    @property
    def ci_high(self) -> float:
        seq = self.sequential
        if self.verdict_uses == SEQUENTIAL and seq.ci_high is not None:
            return seq.ci_high
        return self.ci_high_fixed

    def with_adjustment(self, p_adjusted: float | None, alpha: float) -> MetricResult:
        """The result with its family-adjusted p-value and what it makes significant.

        Primary and secondary metrics: adjusted p < alpha, and for a sequential test also its
        boundary crossed. Guardrails are tested uncorrected (p < alpha); the verdict reads their
        non-inferiority, not this flag.
        """
        if self.role == "guardrail":
            p = self.p_value
            return dataclasses.replace(
                self, p_adjusted=None, significant=bool(p is not None and p < alpha)
            )
        significant = p_adjusted is not None and p_adjusted < alpha
        if self.verdict_uses == SEQUENTIAL and not self.sequential.rejected:
            significant = False
        return dataclasses.replace(self, p_adjusted=p_adjusted, significant=significant)

    def harmful(self) -> bool:
        """Whether the difference points the harmful way for this metric."""
        return self.abs_diff < 0 if self.better == "higher" else self.abs_diff > 0

    def record(self) -> dict[str, Any]:
        """The metric's entry in decision.json."""
        seq = self.sequential
        method = self.method
        notes = list(self.notes)
        if self.verdict_uses == SEQUENTIAL:
            method = f"{method}+{seq.method}"
            notes += list(seq.notes)
        out: dict[str, Any] = {
            "name": self.name,
            "role": self.role,
            "kind": self.kind,
            "variant": self.variant,
            "better": self.better,
            "n_control": self.n_control,
            "n_treatment": self.n_treatment,
            "control_value": self.control_value,
            "treatment_value": self.treatment_value,
            "abs_diff": self.abs_diff,
            "abs_ci_low": self.abs_ci_low,
            "abs_ci_high": self.abs_ci_high,
            "rel_lift": self.rel_lift,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "ci_of": self.ci_of,
            "p_value": self.p_value,
            "p_value_abs": self.p_fixed_abs,
            "p_value_fixed": self.p_fixed,
            "ci_low_fixed": self.ci_low_fixed,
            "ci_high_fixed": self.ci_high_fixed,
            "p_value_sequential": seq.p_value if seq else None,
            "ci_low_sequential": seq.ci_low if seq else None,
            "ci_high_sequential": seq.ci_high if seq else None,
            "verdict_uses": self.verdict_uses,
            "p_value_adjusted": self.p_adjusted,
            "significant": self.significant,
            "method": method,
            "cuped_variance_reduction": self.cuped_variance_reduction,
            "notes": notes,
            "control_variance": self.control_variance,
            "chance_to_beat": self.chance_to_beat,
            "expected_loss": self.expected_loss,
        }
        if self.role == "primary":
            out["planned_n_per_arm"] = self.planned_n_per_arm
        if seq is not None:
            out["sequential_method"] = seq.method
            if seq.method is not None:
                out.update(
                    sequential_rejected=seq.rejected,
                    info_fraction=seq.info_fraction,
                    looks=seq.looks,
                )
        if self.guardrail is not None:
            g = self.guardrail
            out.update(
                margin=g.margin,
                margin_type=g.margin_type,
                non_inferior=g.non_inferior,
                ni_p_value=g.p_value,
                ni_bound=g.bound,
                confidently_worse=g.confidently_worse,
            )
        if self.statistics_problem is not None:
            out["statistics_problem"] = self.statistics_problem
        return out


def finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
