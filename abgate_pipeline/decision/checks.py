"""The checks that make a verdict `invalid`, and the warnings that do not.

`integrity_checks` is called by the experiment stage (its Dagster asset checks) and by the
decision alike, always with the split the experiment's current phase serves, so that the check
shown in the UI and the verdict agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from abgate_pipeline.config import ExperimentSpec, MetricSpec, ratio_part_source
from abgate_pipeline.stats import srm_test

SRM_THRESHOLD = 0.001


@dataclass(frozen=True)
class CheckOutcome:
    """One blocking data-quality check for one experiment and as-of day."""

    name: str
    passed: bool
    description: str


def served_shares(
    experiment: ExperimentSpec, served: Mapping[str, float] | None
) -> dict[str, float]:
    """Each variant's share of traffic: the split the flag serves in this phase (`served`,
    variant -> percent, from the decision log), else the configured allocation, normalised."""
    if not served:
        return experiment.expected_shares()
    total = sum(served.get(v, 0) for v in experiment.variants)
    return {v: served.get(v, 0) / total for v in experiment.variants}


def integrity_checks(
    experiment: ExperimentSpec,
    unit_facts: pd.DataFrame,
    served: Mapping[str, float] | None = None,
) -> tuple[list[CheckOutcome], dict[str, Any]]:
    """The experiment-table checks that block promotion, and the SRM detail for the report.

    `unit_facts` are `sql/experiment_checks.sql` rows of the experiment; `served` is the split of
    the current phase (None: nothing changed the flag yet, the configured allocation).
    """
    shares = served_shares(experiment, served)
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


def statistics_check(problems: Sequence[str]) -> CheckOutcome:
    """Every metric's sufficient statistics could be compared (`frames.statistics_problem`)."""
    unique = sorted(set(problems))
    return CheckOutcome(
        "finite_statistics",
        not unique,
        "every metric's statistics are finite and consistent" if not unique else "; ".join(unique),
    )


def config_warnings(
    experiment: ExperimentSpec,
    served: Mapping[str, float] | None,
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
    if not served and abs(total - 100.0) > 1e-9:
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
