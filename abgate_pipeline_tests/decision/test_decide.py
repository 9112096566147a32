"""The verdict (DESIGN.md §3): `gate.decide` on hand-built metric frames and unit facts.

Every branch of the rule is exercised with a decision AND the reason that explains it. Expected
numbers are recomputed here from the same sufficient statistics with scipy (Welch t on the
Bernoulli variance, delta-method relative lift, Pearson chi-square, Holm by hand, the closed-form
sample size and the one-look O'Brien-Fleming boundary), never read back from the code under test.
"""

from __future__ import annotations

import json
import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats as sps

from abgate_pipeline.config import load_experiments
from abgate_pipeline.decision import CheckOutcome, GateInputs, compare_frame_rows, decide
from abgate_pipeline.report import decision_json
from abgate_pipeline.stats import RatioStats, compare_ratios, compare_ratios_cuped

AS_OF = date(2026, 11, 10)
FRAME_COLUMNS = [
    "as_of", "experiment_id", "metric", "kind", "variant", "segment", "segment_value", "n",
    "sum", "sum_sq", "den_sum", "den_sum_sq", "cross_sum", "q", "q_estimate", "q_lo", "q_hi",
]  # fmt: skip
FACT_COLUMNS = ["experiment_id", "variant", "multi_variant", "units", "immature_units"]
METRIC_KEYS = {
    "name", "role", "kind", "variant", "n_control", "n_treatment", "control_value",
    "treatment_value", "abs_diff", "rel_lift", "ci_low", "ci_high", "p_value", "significant",
}  # fmt: skip
GUARDRAIL_KEYS = {"margin", "non_inferior"}

PRIMARY = {
    "name": "conversion",
    "role": "primary",
    "kind": "proportion",
    "outcome": "converted",
    "better": "higher",
}
REFUSALS = {
    "name": "refusal_rate",
    "role": "guardrail",
    "kind": "proportion",
    "column": "refusal",
    "better": "lower",
    "margin": 0.005,
    "margin_type": "absolute",
}


# ---------------------------------------------------------------------------------------------
# Builders
# ---------------------------------------------------------------------------------------------


def experiment(tmp_path, **overrides):
    """One experiment loaded through `load_experiments` (fixed horizon, 50/50, 3 rollout steps)."""
    raw = {
        "id": "exp-a",
        "flag_key": "exp-a-flag",
        "champion": "champion",
        "challengers": ["challenger"],
        "start": "2026-11-01",
        "alpha": 0.05,
        "sequential": False,
        "metrics": [PRIMARY, REFUSALS],
        "allocation": {"champion": 50, "challenger": 50},
        "rollout": {"steps": [10, 50, 100], "approval_above": 50},
        **overrides,
    }
    path = tmp_path / "experiments.yaml"
    path.write_text(yaml.safe_dump({"experiments": [raw]}))
    (spec,) = load_experiments(path)
    return spec


def row(metric, variant, n, *, kind="proportion", as_of=AS_OF, segment=None, **stats):
    base = dict.fromkeys(FRAME_COLUMNS)
    base.update(
        as_of=pd.Timestamp(as_of),
        experiment_id="exp-a",
        metric=metric,
        kind=kind,
        variant=variant,
        segment=segment[0] if segment else "__all__",
        segment_value=segment[1] if segment else "__all__",
        n=n,
    )
    base.update(stats)
    return base


def binary(metric, variant, n, successes, **kw):
    """A 0/1 per-unit metric: sum = sum_sq = number of units with the outcome."""
    return row(metric, variant, n, sum=float(successes), sum_sq=float(successes), **kw)


def mean(metric, variant, n, mu, sd, **kw):
    """A mean metric with sample mean `mu` and sample sd `sd` (ddof=1)."""
    total = n * mu
    return row(metric, variant, n, kind="mean", sum=total, sum_sq=(n - 1) * sd**2 + n * mu**2, **kw)


def frames(*rows):
    return pd.DataFrame(list(rows), columns=FRAME_COLUMNS)


def facts(units, *, multi=None, experiment_id="exp-a"):
    """Unit facts: units per logged variant, plus units seen in more than one variant."""
    rows = [(experiment_id, v, False, n, 0) for v, n in units.items()]
    rows += [(experiment_id, v, True, n, 0) for v, n in (multi or {}).items()]
    return pd.DataFrame(rows, columns=FACT_COLUMNS)


def arms(metric, control, treatment, n=20_000, variant="challenger", **kw):
    """Control and one challenger of a 0/1 metric, `n` units each, success counts given."""
    return [
        binary(metric, "champion", n, control, **kw),
        binary(metric, variant, n, treatment, **kw),
    ]


def safe_refusals(n=20_000, variant="challenger"):
    """2 % refusals in both arms: non-inferior within 0.5 points at 20k/arm."""
    return arms("refusal_rate", n // 50, n // 50, n=n, variant=variant)


def gate(spec, frame, unit_facts=None, *, current_pct=10, ingest_checks=()):
    units = (
        unit_facts if unit_facts is not None else facts({"champion": 20_000, "challenger": 20_000})
    )
    return decide(
        GateInputs(
            experiment=spec,
            as_of=AS_OF,
            frames=frame,
            unit_facts=units,
            current_pct=current_pct,
            ingest_checks=ingest_checks,
        )
    )


def metric(record, name, variant="challenger"):
    return next(m for m in record["metrics"] if m["name"] == name and m["variant"] == variant)


def reasons(record):
    return "\n".join(record["reasons"])


# ---------------------------------------------------------------------------------------------
# Independent statistics (scipy on the same sufficient statistics)
# ---------------------------------------------------------------------------------------------


def welch_bernoulli(n_c, x_c, n_t, x_t, alpha=0.05):
    """Welch t on the Bernoulli variance, as `decision.json` should report it.

    `p_value_abs` is the test of the absolute difference (scipy's Welch test); `p_value` tests
    the relative lift with its delta-method standard error and the same Welch dof, so that it
    agrees with the relative-lift interval `ci_low`/`ci_high` the record reports beside it.
    """
    p_c, p_t = x_c / n_c, x_t / n_t
    v_c, v_t = p_c * (1 - p_c) / n_c, p_t * (1 - p_t) / n_t
    test = sps.ttest_ind_from_stats(
        p_t, math.sqrt(p_t * (1 - p_t)), n_t, p_c, math.sqrt(p_c * (1 - p_c)), n_c, equal_var=False
    )
    dof = (v_c + v_t) ** 2 / (v_c**2 / (n_c - 1) + v_t**2 / (n_t - 1))
    rel = p_t / p_c - 1
    rel_se = math.sqrt(v_t / p_c**2 + p_t**2 * v_c / p_c**4)
    half = sps.t.ppf(1 - alpha / 2, dof) * rel_se
    return {
        "p_value": float(2 * sps.t.sf(abs(rel) / rel_se, dof)),
        "p_value_abs": float(test.pvalue),
        "rel_lift": rel,
        "ci_low": rel - half,
        "ci_high": rel + half,
        "abs_diff": p_t - p_c,
        "abs_se": math.sqrt(v_c + v_t),
        "dof": dof,
        "rel_se": rel_se,
    }


def holm(p_values):
    order = sorted(range(len(p_values)), key=p_values.__getitem__)
    adjusted, running = [0.0] * len(p_values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


# ---------------------------------------------------------------------------------------------
# invalid
# ---------------------------------------------------------------------------------------------


WINNING = [*arms("conversion", 10_000, 10_400), *safe_refusals()]  # 0.50 -> 0.52, promote


class TestInvalid:
    def test_the_winning_frames_promote_when_integrity_holds(self, tmp_path):
        assert gate(experiment(tmp_path), frames(*WINNING))["decision"] == "promote"

    def test_sample_ratio_mismatch_at_50_50(self, tmp_path):
        record = gate(
            experiment(tmp_path), frames(*WINNING), facts({"champion": 5000, "challenger": 4000})
        )
        expected = sps.chisquare([5000, 4000], [4500, 4500]).pvalue
        assert record["decision"] == "invalid"
        assert record["srm"]["passed"] is False
        assert record["srm"]["p_value"] == pytest.approx(expected, rel=1e-9)
        assert record["srm"]["observed"] == {"champion": 5000, "challenger": 4000}
        assert record["checks_passed"] is False
        assert record["promote_variants"] == []
        assert any(r.startswith("sample_ratio_mismatch failed") for r in record["reasons"])
        assert record["rollout"]["next_pct"] == record["rollout"]["current_pct"] == 10

    def test_split_within_chance_is_no_srm(self, tmp_path):
        record = gate(
            experiment(tmp_path),
            frames(*WINNING),
            facts({"champion": 20_000, "challenger": 20_150}),
        )
        assert record["srm"]["passed"] is True
        assert record["srm"]["p_value"] == pytest.approx(
            sps.chisquare([20_000, 20_150], [20_075, 20_075]).pvalue, rel=1e-9
        )
        assert record["decision"] == "promote"

    def test_srm_is_tested_against_a_90_10_allocation(self, tmp_path):
        spec = experiment(tmp_path, allocation={"champion": 90, "challenger": 10})
        at_plan = gate(spec, frames(*WINNING), facts({"champion": 18_000, "challenger": 2_000}))
        at_half = gate(spec, frames(*WINNING), facts({"champion": 10_000, "challenger": 10_000}))
        assert at_plan["srm"]["passed"] is True
        assert at_half["decision"] == "invalid" and at_half["srm"]["passed"] is False

    def test_a_unit_in_two_variants(self, tmp_path):
        units = facts({"champion": 20_000, "challenger": 20_000}, multi={"champion": 3})
        record = gate(experiment(tmp_path), frames(*WINNING), units)
        assert record["decision"] == "invalid"
        assert (
            "one_variant_per_unit failed: 3 units were served more than one variant"
            in (record["reasons"])
        )

    def test_an_unknown_variant(self, tmp_path):
        units = facts({"champion": 20_000, "challenger": 20_000, "challenger-v2": 50})
        record = gate(experiment(tmp_path), frames(*WINNING), units)
        assert record["decision"] == "invalid"
        assert any(
            r.startswith("known_variants_only failed") and "challenger-v2" in r
            for r in record["reasons"]
        )

    def test_a_failed_ingest_check(self, tmp_path):
        failed = CheckOutcome("required_columns_and_types", False, "column `variant` is missing")
        record = gate(experiment(tmp_path), frames(*WINNING), ingest_checks=[failed])
        assert record["decision"] == "invalid"
        assert record["reasons"] == [
            "required_columns_and_types failed: column `variant` is missing"
        ]
        assert {"name": "required_columns_and_types", "passed": False}.items() <= (
            record["checks"][0].items()
        )

    def test_a_passed_ingest_check_does_not_block(self, tmp_path):
        passed = CheckOutcome("required_columns_and_types", True, "all columns present")
        record = gate(experiment(tmp_path), frames(*WINNING), ingest_checks=[passed])
        assert record["decision"] == "promote" and record["checks_passed"] is True

    def test_invalid_wins_over_rollback(self, tmp_path):
        losing = [*arms("conversion", 10_000, 9_000), *safe_refusals()]
        record = gate(
            experiment(tmp_path), frames(*losing), facts({"champion": 5000, "challenger": 4000})
        )
        assert record["decision"] == "invalid"
        assert record["rollout"]["next_pct"] == 10


class TestStatisticsThatCannotBeCompared:
    """Values that slipped past ingest (NaN, inf, numbers whose squares overflow) never crash
    the gate: the metric is reported as not computable and the verdict is invalid."""

    def _full(self, tmp_path, name, variant, **stats):
        spec = full_spec(tmp_path)
        frame = full_frames()
        where = (frame["metric"] == name) & (frame["variant"] == variant)
        where &= frame["segment"] == "__all__"
        for column, value in stats.items():
            frame.loc[where, column] = value
        return gate(spec, frame)

    @pytest.mark.parametrize(
        ("name", "stats", "why"),
        [
            ("conversion", {"sum": math.nan}, "the control's sum is nan"),
            ("csat", {"sum_sq": math.inf}, "the control's sum_sq is inf"),
            ("cost_per_resolution", {"den_sum": -math.inf}, "the control's den_sum is -inf"),
            ("p95_latency_ms", {"q_hi": math.nan}, "the control's q_hi is nan"),
            ("p95_latency_ms", {"q_hi": 0.0}, "the control's order statistics are out of order"),
            # 1e308 per unit: its square overflows a Python float
            ("cost_per_resolution", {"den_sum": 1e308}, "cannot be computed"),
        ],
    )
    def test_is_invalid_and_names_the_metric(self, tmp_path, name, stats, why):
        record = self._full(tmp_path, name, "champion", **stats)
        row = metric(record, name)
        assert record["decision"] == "invalid"
        assert why in row["statistics_problem"] and row["statistics_problem"].startswith(name)
        assert row["significant"] is False and row["p_value"] is not None
        assert row["n_control"] == 20_000 or row["n_control"] == 8_000
        check = next(c for c in record["checks"] if c["name"] == "finite_statistics")
        assert check["passed"] is False and why in check["description"]
        assert any(r.startswith("finite_statistics failed") for r in record["reasons"])
        json.loads(decision_json(record))  # still a valid record

    def test_finite_statistics_pass_and_say_so(self, tmp_path):
        record = gate(full_spec(tmp_path), full_frames())
        check = next(c for c in record["checks"] if c["name"] == "finite_statistics")
        assert check["passed"] is True
        assert all(m.get("statistics_problem") is None for m in record["metrics"])

    def test_a_bad_segment_cell_is_left_out_of_the_segments(self, tmp_path):
        frame = full_frames()
        segment = (frame["segment"] == "channel") & (frame["variant"] == "challenger")
        frame.loc[segment, "sum"] = math.inf
        record = gate(full_spec(tmp_path), frame)
        assert record["segments"] == []
        assert record["decision"] == "promote"


# ---------------------------------------------------------------------------------------------
# rollback
# ---------------------------------------------------------------------------------------------


class TestRollback:
    def test_primary_significantly_worse(self, tmp_path):
        record = gate(
            experiment(tmp_path), frames(*arms("conversion", 10_000, 9_000), *safe_refusals())
        )
        expected = welch_bernoulli(20_000, 10_000, 20_000, 9_000)
        primary = metric(record, "conversion")
        assert record["decision"] == "rollback"
        assert record["reasons"][0].startswith("conversion (challenger) is significantly worse")
        assert primary["significant"] is True
        assert primary["control_value"] == pytest.approx(0.50)
        assert primary["treatment_value"] == pytest.approx(0.45)
        assert primary["abs_diff"] == pytest.approx(-0.05)
        for key in ("p_value", "rel_lift", "ci_low", "ci_high"):
            assert primary[key] == pytest.approx(expected[key], rel=1e-9, abs=1e-300), key
        assert primary["ci_of"] == "relative lift"
        assert primary["ci_high"] < 0
        assert record["rollout"]["next_pct"] == 0
        assert record["rollout"]["requires_approval"] is False
        assert record["promote_variants"] == []

    def test_primary_lower_is_better_and_it_went_up(self, tmp_path):
        lower = {**PRIMARY, "name": "escalation_rate", "better": "lower"}
        spec = experiment(tmp_path, metrics=[lower, REFUSALS])
        record = gate(spec, frames(*arms("escalation_rate", 4_000, 4_600), *safe_refusals()))
        assert record["decision"] == "rollback"
        assert "escalation_rate (challenger) is significantly worse" in reasons(record)

    def test_guardrail_confidently_worse_while_primary_improves(self, tmp_path):
        harmful = arms("refusal_rate", 400, 1_000)  # 2 % -> 5 % refusals, margin 0.5 points
        record = gate(experiment(tmp_path), frames(*arms("conversion", 10_000, 10_400), *harmful))
        guard = metric(record, "refusal_rate")
        primary = metric(record, "conversion")
        # Independently: the one-sided 95 % lower bound of the increase is beyond the margin.
        ref = welch_bernoulli(20_000, 400, 20_000, 1_000)
        lower_bound = ref["abs_diff"] - sps.t.ppf(0.95, ref["dof"]) * ref["abs_se"]
        assert lower_bound > 0.005
        assert primary["significant"] and primary["rel_lift"] > 0
        assert guard["confidently_worse"] is True and guard["non_inferior"] is False
        assert record["decision"] == "rollback"
        assert record["reasons"] == [
            r for r in record["reasons"] if r.startswith("guardrail refusal_rate (challenger)")
        ]
        assert "is confidently worse than its 0.005 margin" in record["reasons"][0]
        assert record["rollout"]["next_pct"] == 0

    def test_guardrail_worse_but_not_beyond_margin_is_no_rollback(self, tmp_path):
        # +0.3 points of refusals: significantly worse than control, but not beyond 0.5 points.
        mild = arms("refusal_rate", 400, 460)
        record = gate(experiment(tmp_path), frames(*arms("conversion", 10_000, 10_400), *mild))
        guard = metric(record, "refusal_rate")
        assert guard["confidently_worse"] is False
        assert record["decision"] != "rollback"


# ---------------------------------------------------------------------------------------------
# promote
# ---------------------------------------------------------------------------------------------


class TestPromote:
    def test_primary_better_and_guardrails_non_inferior(self, tmp_path):
        record = gate(experiment(tmp_path), frames(*WINNING), current_pct=10)
        expected = welch_bernoulli(20_000, 10_000, 20_000, 10_400)
        primary, guard = metric(record, "conversion"), metric(record, "refusal_rate")
        assert record["decision"] == "promote"
        assert record["promote_variants"] == ["challenger"]
        assert record["reasons"][0].startswith("conversion (challenger) is significantly better")
        assert (
            "guardrail refusal_rate (challenger) holds within its 0.005 margin"
            in (record["reasons"])
        )
        assert primary["p_value"] == pytest.approx(expected["p_value"], rel=1e-9)
        assert primary["rel_lift"] == pytest.approx(0.04)
        assert guard["non_inferior"] is True and guard["confidently_worse"] is False
        ref = welch_bernoulli(20_000, 400, 20_000, 400)
        assert guard["ni_bound"] == pytest.approx(
            ref["abs_diff"] + sps.t.ppf(0.95, ref["dof"]) * ref["abs_se"], rel=1e-9
        )
        assert record["rollout"] == {
            "current_pct": 10,
            "next_pct": 50,
            "requires_approval": False,
            "steps": [10, 50, 100],
            "approval_above": 50,
        }

    def test_step_above_approval_needs_a_person(self, tmp_path):
        record = gate(experiment(tmp_path), frames(*WINNING), current_pct=50)
        assert record["decision"] == "promote"
        assert record["rollout"]["next_pct"] == 100
        assert record["rollout"]["requires_approval"] is True

    def test_next_step_is_the_first_above_the_current_share(self, tmp_path):
        record = gate(experiment(tmp_path), frames(*WINNING), current_pct=25)
        assert record["rollout"]["next_pct"] == 50

    def test_at_the_last_step_the_share_stays(self, tmp_path):
        record = gate(experiment(tmp_path), frames(*WINNING), current_pct=100)
        assert record["decision"] == "promote"
        assert record["rollout"]["next_pct"] == 100

    def test_at_the_last_step_no_approval_is_asked(self, tmp_path):
        record = gate(experiment(tmp_path), frames(*WINNING), current_pct=100)
        assert record["rollout"]["requires_approval"] is False

    def test_primary_lower_is_better_and_it_went_down(self, tmp_path):
        lower = {**PRIMARY, "name": "escalation_rate", "better": "lower"}
        spec = experiment(tmp_path, metrics=[lower, REFUSALS])
        record = gate(spec, frames(*arms("escalation_rate", 4_600, 4_000), *safe_refusals()))
        assert record["decision"] == "promote"
        assert "escalation_rate (challenger) is significantly better" in reasons(record)


# ---------------------------------------------------------------------------------------------
# continue
# ---------------------------------------------------------------------------------------------


class TestContinue:
    def test_flat_primary(self, tmp_path):
        record = gate(
            experiment(tmp_path), frames(*arms("conversion", 10_000, 10_050), *safe_refusals())
        )
        expected = welch_bernoulli(20_000, 10_000, 20_000, 10_050)
        primary = metric(record, "conversion")
        assert expected["p_value"] > 0.05
        assert primary["p_value"] == pytest.approx(expected["p_value"], rel=1e-9)
        assert primary["significant"] is False
        assert record["decision"] == "continue"
        assert record["reasons"][0].startswith("conversion (challenger) is not yet significant")
        assert record["rollout"]["next_pct"] == 10 and record["promote_variants"] == []

    def test_flat_primary_reports_power_so_far(self, tmp_path):
        spec = experiment(tmp_path, metrics=[{**PRIMARY, "mde": 0.02}, REFUSALS])
        record = gate(spec, frames(*arms("conversion", 10_000, 10_050), *safe_refusals()))
        # Power to detect +2 % of 0.5 (0.01 absolute) at 20k/arm, unpooled normal approximation.
        se = math.sqrt(0.25 / 20_000 + 0.51 * 0.49 / 20_000)
        power = sps.norm.cdf(0.01 / se - sps.norm.ppf(0.975))
        assert record["decision"] == "continue"
        assert record["sample"]["power_so_far"] == pytest.approx(power, rel=1e-9)
        assert record["reasons"][-1] == f"power reached so far: {power:.0%}"

    def test_guardrail_merely_inconclusive_with_small_n(self, tmp_path):
        # The refusal guardrail is measured on 300 units per arm: its interval spans the margin.
        small = arms("refusal_rate", 6, 7, n=300)
        record = gate(experiment(tmp_path), frames(*arms("conversion", 10_000, 10_400), *small))
        guard = metric(record, "refusal_rate")
        assert guard["non_inferior"] is False and guard["confidently_worse"] is False
        assert metric(record, "conversion")["significant"] is True
        assert record["decision"] == "continue"
        assert (
            "guardrail refusal_rate (challenger) has not shown non-inferiority within its 0.005 "
            "margin"
        ) in reasons(record)

    def test_minimum_sample_not_reached(self, tmp_path):
        spec = experiment(tmp_path, min_units_per_arm=5_000)
        small = [*arms("conversion", 600, 800, n=2_000), *arms("refusal_rate", 2, 2, n=2_000)]
        record = gate(spec, frames(*small), facts({"champion": 2_000, "challenger": 2_000}))
        assert metric(record, "conversion")["significant"] is True
        assert metric(record, "refusal_rate")["non_inferior"] is True
        assert record["decision"] == "continue"
        assert (
            "challenger: minimum sample not reached (2000 / 2000 units, 5000 / 5000 needed)"
            in record["reasons"]
        )

    def test_minimum_sample_reached_promotes(self, tmp_path):
        spec = experiment(tmp_path, min_units_per_arm=2_000)
        small = [*arms("conversion", 600, 800, n=2_000), *arms("refusal_rate", 2, 2, n=2_000)]
        record = gate(spec, frames(*small), facts({"champion": 2_000, "challenger": 2_000}))
        assert record["decision"] == "promote"

    def test_fixed_horizon_waits_for_the_planned_sample(self, tmp_path):
        spec = experiment(tmp_path, metrics=[{**PRIMARY, "mde": 0.02}, REFUSALS])
        planned = planned_per_arm(0.5, 0.02, (0.5, 0.5))
        assert planned[0] > 20_000
        record = gate(spec, frames(*WINNING))
        assert metric(record, "conversion")["significant"] is True
        assert record["decision"] == "continue"
        assert (
            "challenger: minimum sample not reached "
            f"(20000 / 20000 units, {planned[0]} / {planned[1]} needed)" in record["reasons"]
        )
        assert record["sample"]["planned_n_per_arm"] == {
            "control": planned[0],
            "treatment": planned[1],
        }

    def test_fixed_horizon_90_10_promotes_once_each_arm_reaches_its_plan(self, tmp_path):
        """Each arm is held to its own plan: at 90/10 the small arm is planned ~1/9 of the big
        one, so comparing the smaller arm with the larger plan would never promote."""
        spec = experiment(
            tmp_path,
            metrics=[{**PRIMARY, "mde": 0.05}, REFUSALS],
            allocation={"champion": 90, "challenger": 10},
        )
        planned_c, planned_t = planned_per_arm(0.5, 0.05, (0.9, 0.1))
        n_c, n_t = planned_c + 700, planned_t + 120
        data = [
            binary("conversion", "champion", n_c, n_c // 2),
            binary("conversion", "challenger", n_t, round(0.55 * n_t)),
            binary("refusal_rate", "champion", n_c, n_c // 1000),
            binary("refusal_rate", "challenger", n_t, n_t // 1000),
        ]
        record = gate(spec, frames(*data), facts({"champion": n_c, "challenger": n_t}))
        assert record["srm"]["passed"] is True
        assert metric(record, "conversion")["significant"] is True
        assert metric(record, "refusal_rate")["non_inferior"] is True
        assert record["decision"] == "promote", record["reasons"]


def planned_per_arm(baseline, mde, shares, alpha=0.05, power=0.8):
    """Closed-form units per arm for an unpooled two-sample test of a relative MDE."""
    d = mde * baseline
    var_c, var_t = baseline * (1 - baseline), (baseline + d) * (1 - baseline - d)
    w_c, w_t = shares
    z = sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power)
    total = z**2 * (var_c / w_c + var_t / w_t) / d**2
    return math.ceil(w_c * total), math.ceil(w_t * total)


# ---------------------------------------------------------------------------------------------
# Several challengers: correction across them
# ---------------------------------------------------------------------------------------------


def three_arms(tmp_path, correction="holm"):
    return experiment(
        tmp_path,
        champion="a",
        challengers=["b", "c"],
        allocation={"a": 1, "b": 1, "c": 1},
        metrics=[PRIMARY],
        correction=correction,
    )


def three_arm_frames(b_successes, c_successes, n=10_000):
    return frames(
        binary("conversion", "a", n, 1_000),
        binary("conversion", "b", n, b_successes),
        binary("conversion", "c", n, c_successes),
    )


THREE_UNITS = facts({"a": 10_000, "b": 10_000, "c": 10_000})
# Successes out of 10,000 against the champion's 1,000: raw p ~ 0.03, ~ 0.04, ~ 0.012, ~ 0.18.
B_03, C_04, B_01, FLAT = 1_097, 1_092, 1_115, 1_060


class TestSeveralChallengers:
    def test_raw_p_03_and_04_are_not_both_significant_under_holm(self, tmp_path):
        p_b = welch_bernoulli(10_000, 1_000, 10_000, B_03)["p_value"]
        p_c = welch_bernoulli(10_000, 1_000, 10_000, C_04)["p_value"]
        assert 0.025 < p_b < 0.035 and 0.035 < p_c < 0.045
        record = gate(three_arms(tmp_path), three_arm_frames(B_03, C_04), THREE_UNITS)
        b, c = metric(record, "conversion", "b"), metric(record, "conversion", "c")
        assert [b["p_value"], c["p_value"]] == pytest.approx([p_b, p_c], rel=1e-9)
        assert [b["p_value_adjusted"], c["p_value_adjusted"]] == pytest.approx(
            holm([p_b, p_c]), rel=1e-9
        )
        assert b["significant"] is False and c["significant"] is False
        assert record["decision"] == "continue"
        assert "conversion (b) is not yet significant" in reasons(record)
        assert "conversion (c) is not yet significant" in reasons(record)

    def test_same_p_values_uncorrected_promote_both(self, tmp_path):
        record = gate(three_arms(tmp_path, "none"), three_arm_frames(B_03, C_04), THREE_UNITS)
        assert record["decision"] == "promote"
        assert record["promote_variants"] == ["b", "c"]

    def test_same_p_values_under_benjamini_hochberg_promote_both(self, tmp_path):
        record = gate(three_arms(tmp_path, "bh"), three_arm_frames(B_03, C_04), THREE_UNITS)
        p_c = welch_bernoulli(10_000, 1_000, 10_000, C_04)["p_value"]
        # BH: the larger p stays p (2 * p / 2), the smaller is capped by it.
        assert metric(record, "conversion", "b")["p_value_adjusted"] == pytest.approx(p_c)
        assert record["decision"] == "promote" and record["promote_variants"] == ["b", "c"]

    def test_holm_removes_a_lone_winner_that_raw_p_would_promote(self, tmp_path):
        p_b = welch_bernoulli(10_000, 1_000, 10_000, B_03)["p_value"]
        assert p_b < 0.05 < 2 * p_b
        held = gate(three_arms(tmp_path), three_arm_frames(B_03, FLAT), THREE_UNITS)
        raw = gate(three_arms(tmp_path, "none"), three_arm_frames(B_03, FLAT), THREE_UNITS)
        assert held["decision"] == "continue" and held["promote_variants"] == []
        assert raw["decision"] == "promote" and raw["promote_variants"] == ["b"]

    def test_promote_variants_lists_only_the_winners(self, tmp_path):
        p_b = welch_bernoulli(10_000, 1_000, 10_000, B_01)["p_value"]
        p_c = welch_bernoulli(10_000, 1_000, 10_000, FLAT)["p_value"]
        assert holm([p_b, p_c])[0] < 0.05 < holm([p_b, p_c])[1]
        record = gate(three_arms(tmp_path), three_arm_frames(B_01, FLAT), THREE_UNITS)
        assert record["decision"] == "promote"
        assert record["promote_variants"] == ["b"]
        assert "conversion (b) is significantly better" in reasons(record)
        assert "conversion (c) is not yet significant" in reasons(record)

    def test_one_challenger_significantly_worse_rolls_back(self, tmp_path):
        record = gate(three_arms(tmp_path), three_arm_frames(B_01, 880), THREE_UNITS)
        assert record["decision"] == "rollback"
        assert record["reasons"][0].startswith("conversion (c) is significantly worse")


# ---------------------------------------------------------------------------------------------
# Sequential (alpha spending, O'Brien-Fleming type)
# ---------------------------------------------------------------------------------------------


class TestSequential:
    # 5,000 units per arm, 0.50 -> 0.5258: fixed-horizon p ~ 0.01.
    DATA = (*arms("conversion", 2_500, 2_629, n=5_000), *safe_refusals(n=5_000))
    UNITS = facts({"champion": 5_000, "challenger": 5_000})

    def spec(self, tmp_path, mde):
        return experiment(tmp_path, sequential=True, metrics=[{**PRIMARY, "mde": mde}, REFUSALS])

    def test_early_look_at_fixed_p_001_is_not_significant(self, tmp_path):
        record = gate(self.spec(tmp_path, mde=0.02), frames(*self.DATA), self.UNITS)
        primary = metric(record, "conversion")
        ref = welch_bernoulli(5_000, 2_500, 5_000, 2_629)
        planned = planned_per_arm(0.5, 0.02, (0.5, 0.5))
        t = 10_000 / sum(planned)
        boundary = sps.norm.ppf(0.975) / math.sqrt(t)  # one look: alpha(t) = 2 - 2 Phi(z/sqrt t)
        z = ref["rel_lift"] / ref["rel_se"]
        assert 0.008 < ref["p_value"] < 0.013 and t < 0.2 and z < boundary
        assert primary["p_value_fixed"] == pytest.approx(ref["p_value"], rel=1e-9)
        assert primary["info_fraction"] == pytest.approx(t, rel=1e-9)
        assert primary["planned_n_per_arm"] == {"control": planned[0], "treatment": planned[1]}
        assert primary["sequential_method"] == "alpha_spending_obf"
        assert primary["p_value"] > 0.05
        assert primary["significant"] is False
        assert record["decision"] == "continue"
        assert "conversion (challenger) is not yet significant" in reasons(record)

    def test_same_result_at_the_planned_horizon_is_significant(self, tmp_path):
        record = gate(self.spec(tmp_path, mde=0.10), frames(*self.DATA), self.UNITS)
        primary = metric(record, "conversion")
        planned = planned_per_arm(0.5, 0.10, (0.5, 0.5))
        ref = welch_bernoulli(5_000, 2_500, 5_000, 2_629)
        assert sum(planned) <= 10_000  # the first look at t >= 1 is the final analysis
        assert ref["rel_lift"] / ref["rel_se"] > sps.norm.ppf(0.975)  # its boundary is 1.96
        assert primary["p_value_fixed"] == pytest.approx(ref["p_value"], rel=1e-9)
        assert primary["info_fraction"] >= 1
        assert primary["sequential_rejected"] is True
        assert primary["p_value"] < 0.05
        assert primary["significant"] is True
        assert record["decision"] == "promote"
        assert record["reasons"][0].startswith("conversion (challenger) is significantly better")

    def test_every_daily_as_of_is_a_look(self, tmp_path):
        days = [date(2026, 11, 8), date(2026, 11, 9), AS_OF]
        data = [
            r
            for i, day in enumerate(days, start=1)
            for r in arms("conversion", 500 * i, 526 * i, n=1_000 * i, as_of=day)
        ]
        record = gate(self.spec(tmp_path, mde=0.02), frames(*data, *safe_refusals(3_000)))
        primary = metric(record, "conversion")
        assert primary["looks"] == 3
        assert primary["n_control"] == primary["n_treatment"] == 3_000
        # 1,000 more units per arm per day; each arm needs its planned sample.
        planned = planned_per_arm(0.5, 0.02, (0.5, 0.5))
        assert record["sample"]["days_remaining"] == pytest.approx((planned[0] - 3_000) / 1_000)
        assert record["sample"]["planned_n_per_arm"] == {
            "control": planned[0],
            "treatment": planned[1],
        }


# ---------------------------------------------------------------------------------------------
# The decision.json contract
# ---------------------------------------------------------------------------------------------


def full_spec(tmp_path):
    return experiment(
        tmp_path,
        sequential=True,
        segments=["channel"],
        metrics=[
            {**PRIMARY, "mde": 0.05},
            {"name": "csat", "role": "secondary", "kind": "mean", "outcome": "csat"},
            {"name": "tokens", "role": "secondary", "kind": "count", "column": "output_tokens"},
            {
                "name": "p95_latency_ms",
                "role": "guardrail",
                "kind": "quantile",
                "column": "latency_ms",
                "q": 0.95,
                "better": "lower",
                "margin": 0.10,
            },
            {
                "name": "cost_per_resolution",
                "role": "guardrail",
                "kind": "ratio",
                "numerator": "cost_usd",
                "denominator": "ticket_resolved",
                "better": "lower",
                "margin": 0.15,
            },
            REFUSALS,
        ],
    )


def full_frames():
    def quantile(variant, est):
        return row("p95_latency_ms", variant, 20_000, kind="quantile", q=0.95, q_estimate=est,
                   q_lo=est - 20.0, q_hi=est + 20.0)  # fmt: skip

    def ratio(variant, cost):
        # per unit: numerator cost ~ cost, denominator resolved ~ 0.5
        n = 20_000
        return row("cost_per_resolution", variant, n, kind="ratio", sum=n * cost,
                   sum_sq=n * (cost**2 + 0.0001), den_sum=n * 0.5, den_sum_sq=n * 0.5,
                   cross_sum=n * 0.5 * cost)  # fmt: skip

    return frames(
        *WINNING,
        mean("csat", "champion", 8_000, 4.1, 0.9),
        mean("csat", "challenger", 8_000, 4.15, 0.9),
        # no `tokens` row for the challenger at all: an empty arm, no test
        row("tokens", "champion", 20_000, kind="count", sum=2e6, sum_sq=2.2e8),
        quantile("champion", 1_000.0),
        quantile("challenger", 1_010.0),
        ratio("champion", 0.02),
        ratio("challenger", 0.019),
        binary("conversion", "champion", 1, 1, segment=("channel", "email")),
        binary("conversion", "challenger", 9_000, 4_700, segment=("channel", "email")),
    )


class TestDecisionRecord:
    def test_top_level_contract(self, tmp_path):
        record = gate(full_spec(tmp_path), full_frames())
        for key in (
            "experiment_id", "as_of", "decision", "reasons", "srm", "checks", "checks_passed",
            "rollout", "sample", "metrics", "promote_variants", "config_hash",
        ):  # fmt: skip
            assert key in record, key
        assert record["experiment_id"] == "exp-a" and record["as_of"] == "2026-11-10"
        assert record["decision"] in ("promote", "continue", "rollback", "invalid")
        assert set(record["srm"]) >= {"p_value", "passed"}
        assert set(record["rollout"]) >= {"current_pct", "next_pct", "requires_approval"}
        assert record["reasons"] and all(isinstance(r, str) for r in record["reasons"])

    def test_every_metric_row_holds_the_contract_keys(self, tmp_path):
        spec = full_spec(tmp_path)
        record = gate(spec, full_frames())
        assert [(m["name"], m["variant"]) for m in record["metrics"]] == [
            (m.name, "challenger") for m in spec.metrics
        ]
        for m in record["metrics"]:
            assert set(m) >= METRIC_KEYS, m["name"]
            assert isinstance(m["significant"], bool), m["name"]
            if m["role"] == "guardrail":
                assert set(m) >= GUARDRAIL_KEYS, m["name"]
                assert isinstance(m["non_inferior"], bool), m["name"]

    def test_guardrail_rows_state_margin_and_non_inferiority(self, tmp_path):
        record = gate(full_spec(tmp_path), full_frames())
        latency = metric(record, "p95_latency_ms")
        assert (latency["margin"], latency["margin_type"]) == (0.10, "relative")
        assert latency["rel_lift"] == pytest.approx(0.01)
        assert latency["non_inferior"] is True
        assert metric(record, "cost_per_resolution")["rel_lift"] == pytest.approx(-0.05)
        assert metric(record, "refusal_rate")["margin_type"] == "absolute"

    def test_a_metric_with_an_empty_arm_is_reported_not_tested(self, tmp_path):
        tokens = metric(gate(full_spec(tmp_path), full_frames()), "tokens")
        assert tokens["n_treatment"] == 0 and tokens["p_value"] == 1.0
        assert tokens["significant"] is False

    @pytest.mark.parametrize("treatment", [10_050, 10_180, 10_200, 10_400, 9_820, 9_600])
    def test_p_value_agrees_with_the_interval_beside_it(self, tmp_path, treatment):
        record = gate(experiment(tmp_path), frames(*arms("conversion", 10_000, treatment)))
        primary = metric(record, "conversion")
        expected = welch_bernoulli(20_000, 10_000, 20_000, treatment)
        assert primary["p_value"] == pytest.approx(expected["p_value"], rel=1e-9)
        excludes_zero = not primary["ci_low"] <= 0 <= primary["ci_high"]
        assert (primary["p_value"] < 0.05) == excludes_zero

    def test_record_is_strict_json(self, tmp_path):
        record = gate(full_spec(tmp_path), full_frames())
        text = decision_json(record)

        def no_constants(name):
            raise AssertionError(f"decision.json holds {name}")

        parsed = json.loads(text, parse_constant=no_constants)
        assert parsed["decision"] == record["decision"]
        assert len(parsed["metrics"]) == len(record["metrics"])
        assert parsed["segments"]  # the exploratory per-segment rows survive too

    def test_segments_are_exploratory_and_never_change_the_verdict(self, tmp_path):
        spec = full_spec(tmp_path)
        with_segments = gate(spec, full_frames())
        overall_only = gate(spec, full_frames().query("segment == '__all__'"))
        assert with_segments["decision"] == overall_only["decision"]
        (segment,) = [s for s in with_segments["segments"] if s["name"] == "conversion"]
        assert (segment["segment"], segment["value"]) == ("channel", "email")

    def test_config_hash_is_recorded(self, tmp_path):
        spec = full_spec(tmp_path)
        assert gate(spec, full_frames())["config_hash"] == spec.config_hash()


def test_no_data_yet_is_continue(tmp_path):
    """The first day of an experiment with nothing logged: no crash, nothing moves."""
    record = gate(
        experiment(tmp_path),
        frames(),
        pd.DataFrame(columns=FACT_COLUMNS).astype({"multi_variant": bool, "units": int}),
    )
    assert record["decision"] == "continue"
    assert record["srm"]["passed"] is True
    assert record["rollout"]["next_pct"] == 10


def test_continue_says_how_many_days_the_planned_sample_needs(tmp_path):
    """Fixed horizon, planned ~39k/arm at a 2 % MDE; 10k/arm yesterday and 12k/arm today
    -> 2k/arm/day -> (39,237 - 12,000) / 2,000 = 13.6 -> about 14 more days."""
    spec = experiment(tmp_path, metrics=[{**PRIMARY, "mde": 0.02}, REFUSALS])
    yesterday = AS_OF - timedelta(days=1)
    history = [
        *arms("conversion", 5_000, 5_100, n=10_000, as_of=yesterday),
        *arms("refusal_rate", 200, 200, n=10_000, as_of=yesterday),
        *arms("conversion", 6_000, 6_120, n=12_000),
        *arms("refusal_rate", 240, 240, n=12_000),
    ]
    record = gate(spec, frames(*history))
    planned = planned_per_arm(0.5, 0.02, (0.5, 0.5))
    expected = (planned[0] - 12_000) / 2_000
    assert record["decision"] == "continue"
    assert record["sample"]["days_remaining"] == pytest.approx(expected)
    assert (
        f"the planned sample is reached in about {math.ceil(expected)} more days at the traffic "
        "seen so far" in record["reasons"]
    )


def test_a_proper_prior_shrinks_the_chance_to_beat(tmp_path):
    """N(0, 0.01) on the relative lift pulls a +4 % estimate towards 0 (conjugate normal)."""
    flat = gate(experiment(tmp_path), frames(*WINNING))
    shrunk = gate(experiment(tmp_path, bayes_prior_std=0.01), frames(*WINNING))
    row = metric(flat, "conversion")
    estimate, se = row["rel_lift"], (row["ci_high"] - row["ci_low"]) / (2 * 1.96)
    post_var = 1 / (1 / se**2 + 1 / 0.01**2)
    post_mean = post_var * estimate / se**2
    expected = sps.norm.cdf(post_mean / math.sqrt(post_var))
    assert metric(shrunk, "conversion")["chance_to_beat"] == pytest.approx(expected, rel=2e-3)
    assert metric(shrunk, "conversion")["chance_to_beat"] < row["chance_to_beat"]


class TestPhases:
    """After a ramp the SRM null is the split the flag serves, not the configured allocation."""

    def test_the_served_split_replaces_the_configured_one(self, tmp_path):
        spec = experiment(tmp_path)  # configured 50/50
        units = facts({"champion": 9_000, "challenger": 1_000})
        inputs = GateInputs(
            experiment=spec,
            as_of=AS_OF,
            frames=frames(*WINNING),
            unit_facts=units,
            current_pct=10,
            allocation={"champion": 90, "challenger": 10},
            phase_start="2026-11-03T10:00:00",
        )
        record = decide(inputs)
        assert record["srm"]["passed"] is True
        assert record["srm"]["expected_share"] == {"champion": 0.9, "challenger": 0.1}
        assert record["phase_start"] == "2026-11-03T10:00:00"
        assert gate(spec, frames(*WINNING), units)["decision"] == "invalid"  # against 50/50

    def test_units_in_an_arm_the_split_turned_off_are_a_mismatch(self, tmp_path):
        record = decide(
            GateInputs(
                experiment=experiment(tmp_path),
                as_of=AS_OF,
                frames=frames(*WINNING),
                unit_facts=facts({"champion": 9_000, "challenger": 40}),
                current_pct=0,
                allocation={"champion": 100, "challenger": 0},
            )
        )
        assert record["decision"] == "invalid"
        assert any("gives them 0 %" in r for r in record["reasons"])


# ---------------------------------------------------------------------------------------------
# CUPED for a ratio metric: the frame's pre-period columns reach the regression adjustment
# ---------------------------------------------------------------------------------------------


COST_PER_RESOLUTION = {
    "name": "cost_per_resolution", "role": "guardrail", "kind": "ratio",
    "numerator": "cost_usd", "denominator": "ticket_resolved", "better": "lower", "margin": 0.1,
}  # fmt: skip


class TestCupedRatio:
    """The metric-frame columns map onto `RatioStats`' pre-period fields one to one (a swapped
    column would change theta), and a ratio without pre-period activity is compared plainly."""

    @staticmethod
    def units(seed, n):
        rng = np.random.default_rng(seed)
        activity = rng.gamma(2.0, 1.0, n)  # tickets a user opens, before and during
        cost = rng.lognormal(np.log(0.02), 0.5, n)  # the user's own cost per resolution
        d = rng.poisson(activity) + 1.0
        xd = rng.poisson(activity) + 1.0
        return {
            "y": d * cost * rng.lognormal(0, 0.2, n),
            "d": d,
            "x": xd * cost * rng.lognormal(0, 0.2, n),
            "xd": xd,
        }

    @staticmethod
    def frame_row(variant, u, with_pre=True):
        """The sums `sql/metric_frames.sql` writes for a ratio, from per-unit arrays."""
        y, d, x, xd = u["y"], u["d"], u["x"], u["xd"]
        sums = {
            "sum": y.sum(), "sum_sq": (y * y).sum(), "den_sum": d.sum(),
            "den_sum_sq": (d * d).sum(), "cross_sum": (y * d).sum(),
        }  # fmt: skip
        if with_pre:
            sums |= {
                "pre_sum": x.sum(), "pre_sum_sq": (x * x).sum(), "pre_cross_sum": (y * x).sum(),
                "pre_den_sum": xd.sum(), "pre_den_sum_sq": (xd * xd).sum(),
                "pre_num_den_sum": (x * xd).sum(), "den_pre_den_sum": (d * xd).sum(),
                "num_pre_den_sum": (y * xd).sum(), "den_pre_num_sum": (d * x).sum(),
            }  # fmt: skip
        return pd.Series({"variant": variant, "n": len(y), **sums})

    @staticmethod
    def ratio_stats(u):
        y, d, x, xd = u["y"], u["d"], u["x"], u["xd"]
        return RatioStats(
            n=len(y), num_sum=y.sum(), num_sum_sq=(y * y).sum(), den_sum=d.sum(),
            den_sum_sq=(d * d).sum(), cross_sum=(y * d).sum(),
            pre_sum=x.sum(), pre_sum_sq=(x * x).sum(), pre_den_sum=xd.sum(),
            pre_den_sum_sq=(xd * xd).sum(), pre_num_den_sum=(x * xd).sum(),
            pre_cross_sum=(y * x).sum(), den_pre_den_sum=(d * xd).sum(),
            num_pre_den_sum=(y * xd).sum(), den_pre_num_sum=(d * x).sum(),
        )  # fmt: skip

    def test_pre_period_sums_adjust_the_ratio(self, tmp_path):
        spec = experiment(tmp_path, metrics=[PRIMARY, COST_PER_RESOLUTION])
        metric_spec = next(m for m in spec.metrics if m.name == "cost_per_resolution")
        control, treatment = self.units(1, 4000), self.units(2, 3000)
        cmp, reduction = compare_frame_rows(
            metric_spec,
            self.frame_row("champion", control),
            self.frame_row("challenger", treatment),
            0.05,
            cuped=True,
        )
        expected = compare_ratios_cuped(self.ratio_stats(control), self.ratio_stats(treatment))
        assert cmp.method == "cuped_delta_method_ratio_welch_t"
        assert cmp.abs_diff == pytest.approx(expected.abs_diff, rel=1e-12)
        assert cmp.abs_se == pytest.approx(expected.abs_se, rel=1e-12)
        assert 0.05 < reduction < 0.9  # the users' activity carries over from the pre-period
        plain = compare_ratios(self.ratio_stats(control), self.ratio_stats(treatment))
        assert cmp.abs_se < plain.abs_se

    def test_without_pre_period_activity_the_ratio_is_compared_plainly(self, tmp_path):
        spec = experiment(tmp_path, metrics=[PRIMARY, COST_PER_RESOLUTION])
        metric_spec = next(m for m in spec.metrics if m.name == "cost_per_resolution")
        control, treatment = self.units(1, 500), self.units(2, 500)
        for arm in (control, treatment):
            arm["x"], arm["xd"] = np.zeros(500), np.zeros(500)
        for with_pre in (True, False):
            cmp, reduction = compare_frame_rows(
                metric_spec,
                self.frame_row("champion", control, with_pre),
                self.frame_row("challenger", treatment, with_pre),
                0.05,
                cuped=True,
            )
            assert cmp.method == "delta_method_ratio_welch_t" and reduction is None


class TestConfigWarnings:
    def _decide(self, spec, landed):
        return decide(
            GateInputs(
                experiment=spec,
                as_of=AS_OF,
                frames=frames(*WINNING),
                unit_facts=facts({"champion": 20_000, "challenger": 20_000}),
                current_pct=10,
                landed_outcomes=landed,
            )
        )

    def test_an_outcome_no_event_names_is_a_warning(self, tmp_path):
        spec = experiment(tmp_path)
        record = self._decide(spec, frozenset({"ticket_resolved"}))
        assert record["warnings"] == [
            "no events named `converted` have landed: metric conversion has no outcome data "
            "(check the outcome name in the YAML against the extracts)"
        ]
        assert self._decide(spec, frozenset({"converted"}))["warnings"] == []

    def test_a_ratio_names_its_outcome_parts_only(self, tmp_path):
        spec = full_spec(tmp_path)
        record = self._decide(spec, frozenset({"converted"}))
        missing = [w.split("`")[1] for w in record["warnings"]]
        assert missing == ["csat", "ticket_resolved"]  # cost_usd is a log column

    def test_an_allocation_that_does_not_sum_to_100_is_a_warning(self, tmp_path):
        spec = experiment(tmp_path, allocation={"champion": 60, "challenger": 20})
        (warning,) = self._decide(spec, None)["warnings"]
        assert "sums to 80, not 100" in warning
        assert "champion 75.0%, challenger 25.0%" in warning

    def test_no_warning_for_an_allocation_of_100(self, tmp_path):
        assert self._decide(experiment(tmp_path), None)["warnings"] == []
