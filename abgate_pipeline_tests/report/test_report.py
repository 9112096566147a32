"""The decision report: content, escaping of every data string, missing and non-finite values,
the on-disk layout, latest.html ordering, all-or-nothing writes and path-traversal refusal."""

from __future__ import annotations

import copy
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from markupsafe import escape

from abgate_pipeline.decision import VERDICT_RULE, VERDICT_RULES
from abgate_pipeline.report import ReportPaths, formatting, plots, render_report, write_report

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_ATTR = '"><img src=x onerror=alert(1)>'
TEMPLATE_INJECTION = "{{ 7*7 }}"
PAYLOADS = (XSS_SCRIPT, XSS_ATTR, TEMPLATE_INJECTION)


def _metric(name: str, role: str, kind: str, **overrides: Any) -> dict[str, Any]:
    """A metric-by-challenger row as the gate writes it, with plausible defaults."""
    row = {
        "name": name,
        "role": role,
        "kind": kind,
        "variant": "challenger",
        "better": "higher",
        "n_control": 44870,
        "n_treatment": 5011,
        "control_value": 0.451,
        "treatment_value": 0.482,
        "abs_diff": 0.031,
        "rel_lift": 0.068,
        "ci_low": 0.03,
        "ci_high": 0.11,
        "ci_of": "relative lift",
        "p_value": 0.0004,
        "p_value_adjusted": 0.0004,
        "significant": True,
        "method": "welch+alpha_spending_obf",
        "chance_to_beat": 0.999,
        "cuped_variance_reduction": None,
        "margin": None,
        "margin_type": None,
        "non_inferior": None,
        "confidently_worse": None,
    }
    row.update(overrides)
    return row


def sample_decision() -> dict[str, Any]:
    """A full decision record like the demo's support-bot experiment produces."""
    guardrail = {"better": "lower", "significant": False, "p_value_adjusted": None}
    return {
        "experiment_id": "support-bot-model-upgrade",
        "as_of": "2026-11-14",
        "decision": "promote",
        "reasons": [
            "resolution_rate: challenger +3.1 points (p=0.0004, alpha-spending boundary crossed)",
            "every guardrail passes non-inferiority",
        ],
        "generated_at": "2026-11-25T12:00:00Z",
        "config_hash": "sha256:0f3a9c",
        "code_version": "0.1.0+git.abc123",
        "input_partitions": {
            "inference_logs": [f"2026-11-{day:02d}" for day in range(1, 15)],
            "outcomes": [f"2026-11-{day:02d}" for day in range(1, 15)],
        },
        "flag_key": "support-bot-llm",
        "champion": "champion",
        "challengers": ["challenger"],
        "srm": {
            "p_value": 0.42,
            "passed": True,
            "chi2": 0.65,
            "observed": {"champion": 44870, "challenger": 5011},
            "expected_share": {"champion": 0.9, "challenger": 0.1},
        },
        "checks": [
            {
                "name": "variants_known",
                "passed": True,
                "description": "every variant is configured",
            },
            {"name": "outcomes_joined", "passed": True, "description": "97 % of units joined"},
        ],
        "rollout": {
            "current_pct": 10,
            "next_pct": 50,
            "requires_approval": False,
            "steps": [10, 50, 100],
            "approval_above": 50,
        },
        "sample": {
            "units": 49881,
            "units_immature": 12003,
            "planned_n_per_arm": 31000,
            "power_so_far": 0.93,
            "days_remaining": 0.0,
        },
        "metrics": [
            _metric("resolution_rate", "primary", "proportion"),
            _metric(
                "csat",
                "secondary",
                "mean",
                control_value=4.21,
                treatment_value=4.25,
                abs_diff=0.04,
                rel_lift=0.0095,
                ci_low=-0.004,
                ci_high=0.023,
                p_value=0.19,
                p_value_adjusted=0.38,
                significant=False,
                chance_to_beat=0.9,
                cuped_variance_reduction=0.21,
            ),
            _metric(
                "p95_latency_ms",
                "guardrail",
                "quantile",
                control_value=1830.0,
                treatment_value=1868.5,
                abs_diff=38.5,
                rel_lift=0.021,
                ci_low=-0.01,
                ci_high=0.052,
                p_value=0.2,
                method="quantile_ci",
                margin=0.10,
                margin_type="relative",
                non_inferior=True,
                confidently_worse=False,
                **guardrail,
            ),
            _metric(
                "refusal_rate",
                "guardrail",
                "proportion",
                control_value=0.004,
                treatment_value=0.0043,
                abs_diff=0.0003,
                rel_lift=0.075,
                ci_low=-0.0012,
                ci_high=0.0018,
                ci_of="absolute difference",
                p_value=0.7,
                margin=0.005,
                margin_type="absolute",
                non_inferior=True,
                confidently_worse=False,
                **guardrail,
            ),
        ],
        "segments": [
            {
                "segment": "query_type",
                "value": "billing",
                **_metric("resolution_rate", "primary", "proportion"),
            },
            {
                "segment": "query_type",
                "value": "technical",
                **_metric(
                    "resolution_rate",
                    "primary",
                    "proportion",
                    ci_low=-0.02,
                    ci_high=0.07,
                    p_value=0.3,
                    p_value_adjusted=None,
                    significant=False,
                ),
            },
        ],
    }


def _poisoned_decision() -> dict[str, Any]:
    """The sample with attack payloads in every free-text field that is not a path component."""
    decision = sample_decision()
    joined = " ".join(PAYLOADS)
    decision["reasons"] = list(PAYLOADS)
    decision["champion"] = XSS_ATTR
    decision["metrics"][0]["name"] = joined
    decision["metrics"][0]["variant"] = joined
    decision["metrics"][0]["method"] = joined
    decision["segments"][0]["value"] = joined
    decision["segments"][0]["segment"] = joined
    decision["checks"][0]["description"] = joined
    decision["checks"][0]["name"] = joined
    decision["warnings"] = [joined]
    decision["srm"]["observed"] = {joined: 44870, "challenger": 5011}
    decision["input_partitions"] = {joined: [joined]}
    decision["sample"][joined] = joined
    decision["config_hash"] = joined
    decision["incomplete_days"] = [
        {"dataset": joined, "day": joined, "file": joined, "error": joined}
    ]
    return decision


def _strict_json(text: str) -> Any:
    """json.loads that fails on NaN/Infinity, which Python's json would otherwise accept."""

    def refuse(constant: str) -> None:
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def _files_under(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


class TestRenderContent:
    def test_headline_rule_and_every_metric(self) -> None:
        decision = sample_decision()
        html = render_report(decision)
        assert "Verdict: PROMOTE" in html
        assert "support-bot-model-upgrade" in html
        assert "2026-11-14" in html
        assert "10\u00a0% → 50\u00a0%" in html
        for verdict, rule in VERDICT_RULES:
            assert verdict in VERDICT_RULE
            assert str(escape(rule)) in html
        for row in decision["metrics"]:
            assert row["name"] in html
        for reason in decision["reasons"]:
            assert reason in html
        assert "sha256:0f3a9c" in html
        assert "0.1.0+git.abc123" in html
        assert "14 partitions, 2026-11-01 to 2026-11-14" in html
        assert "exploratory" in html

    def test_numbers_are_formatted_for_readers(self) -> None:
        html = render_report(sample_decision())
        assert "&lt; 0.0001" not in html  # 0.0004 is shown as a number
        assert "0.0004" in html
        assert "45.1\u00a0%" in html  # champion resolution rate
        assert "+3.1\u00a0pp" in html  # absolute difference of a proportion
        assert "[+3.0\u00a0%, +11.0\u00a0%]" in html  # CI of the relative lift
        assert "relative lift" in html
        assert "99.9\u00a0%" in html  # chance to beat
        assert "10.0\u00a0% relative" in html  # guardrail margin
        assert "0.50\u00a0pp absolute" in html

    def test_warnings_have_their_own_section(self) -> None:
        decision = sample_decision()
        assert 'id="warnings"' not in render_report(decision)
        decision["warnings"] = ["no events named `csat` have landed: metric csat has no data"]
        html = render_report(decision)
        assert 'id="warnings"' in html
        assert "<li>no events named `csat` have landed: metric csat has no data</li>" in html

    def test_is_self_contained(self) -> None:
        html = render_report(sample_decision())
        assert "<script" not in html
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
        assert "<svg" in html

    def test_tables_are_accessible(self) -> None:
        html = render_report(sample_decision())
        assert '<th scope="col">' in html
        assert '<th scope="row">' in html

    @pytest.mark.parametrize(
        ("decision", "move", "badge"),
        [
            ("rollback", "10\u00a0% → 0\u00a0% (rollback)", "ROLLBACK"),
            ("continue", "stays at 10\u00a0%", "CONTINUE"),
            ("invalid", "stays at 10\u00a0%", "INVALID"),
        ],
    )
    def test_rollout_move_follows_the_verdict(self, decision: str, move: str, badge: str) -> None:
        record = sample_decision()
        record["decision"] = decision
        html = render_report(record)
        assert move in html
        assert f"Verdict: {badge}" in html
        assert f"verdict-{decision}" in html

    def test_promotion_above_the_approval_threshold_says_so(self) -> None:
        record = sample_decision()
        record["rollout"].update(current_pct=50, next_pct=100, requires_approval=True)
        assert "50\u00a0% → 100\u00a0%, needs approval" in render_report(record)

    def test_p_values_below_the_display_floor(self) -> None:
        record = sample_decision()
        record["metrics"][0]["p_value"] = 1e-9
        assert "&lt; 0.0001" in render_report(record)

    def test_guardrail_plot_draws_the_margin_on_the_harmful_side(self) -> None:
        row = sample_decision()["metrics"][2]  # p95 latency, lower is better, 10 % margin
        plot = plots.forest_plot(row)
        assert plot is not None
        assert plot.x_margin is not None and plot.x_margin > plot.x_zero
        assert plot.x_low < plot.x_zero < plot.x_high
        assert plot.tone == "unclear"

    def test_absolute_margin_is_converted_for_a_relative_ci(self) -> None:
        row = _metric(
            "refusal_rate", "guardrail", "proportion", better="lower", control_value=0.004,
            ci_low=0.5, ci_high=1.5, rel_lift=1.0, margin=0.002, margin_type="absolute",
        )  # fmt: skip
        plot = plots.forest_plot(row)
        assert plot is not None and plot.tone == "worse"
        # 0.002 absolute on a 0.004 base is a +50 % relative margin: exactly the CI's low end.
        assert plot.x_margin == pytest.approx(plot.x_low)


class TestEscaping:
    def test_no_payload_survives_unescaped(self) -> None:
        html = render_report(_poisoned_decision())
        assert XSS_SCRIPT not in html
        assert XSS_ATTR not in html
        assert "<img" not in html
        assert "<script" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html

    def test_every_poisoned_field_shows_the_escaped_text(self) -> None:
        html = render_report(_poisoned_decision())
        escaped = str(escape(" ".join(PAYLOADS)))
        # metric name, variant, method, segment, segment value, check name and description,
        # SRM variant, partition asset, sample key and value, config hash, warning,
        # incomplete day (4)
        assert html.count(escaped) >= 17

    def test_template_syntax_in_data_is_not_evaluated(self) -> None:
        html = render_report(_poisoned_decision())
        assert f"<li>{TEMPLATE_INJECTION}</li>" in html
        assert "<li>49</li>" not in html

    def test_experiment_id_is_escaped_in_the_page(self) -> None:
        record = sample_decision()
        record["experiment_id"] = XSS_SCRIPT
        html = render_report(record)
        assert XSS_SCRIPT not in html
        assert "&lt;script&gt;" in html


class TestMissingAndNonFinite:
    def test_nulls_nan_and_inf_render_as_dashes(self) -> None:
        record = sample_decision()
        record["metrics"][0].update(
            p_value=float("nan"),
            p_value_adjusted=None,
            ci_high=float("inf"),
            rel_lift=float("-inf"),
            chance_to_beat=None,
            control_value=float("nan"),
            significant=None,
        )
        record["srm"]["p_value"] = float("nan")
        record["sample"]["power_so_far"] = float("inf")
        record["sample"]["days_remaining"] = None
        html = render_report(record)
        cells = re.findall(r">([^<>]*)<", html)
        shown = {cell.strip().lower() for cell in cells}
        assert not shown & {"nan", "inf", "-inf", "infinity", "none", "null"}
        assert "—" in html

    def test_incomplete_days_are_a_warning_naming_day_file_and_error(self) -> None:
        record = sample_decision()
        assert "Incomplete data" not in render_report(record)
        record["incomplete_days"] = [
            {
                "dataset": "inference_logs",
                "day": "2026-11-03",
                "file": "/landing/inference_logs/2026-11-03/part-1.parquet",
                "error": "Invalid Input Error: File too small to be a Parquet file",
            }
        ]
        html = render_report(record)
        assert 'role="alert"' in html
        assert (
            "Day <strong>2026-11-03</strong> is incomplete (inference_logs): file "
            "<code>/landing/inference_logs/2026-11-03/part-1.parquet</code> unreadable "
            "(Invalid Input Error: File too small to be a Parquet file)"
        ) in html

    def test_minimal_record_renders(self) -> None:
        html = render_report({"experiment_id": "x", "as_of": "2026-11-14", "decision": "continue"})
        assert "Verdict: CONTINUE" in html
        assert "No primary or secondary metric results" in html

    def test_unknown_verdict_and_malformed_optional_fields_degrade(self) -> None:
        record = sample_decision()
        record.update(decision="maybe", reasons="one reason", metrics=None, rollout={}, srm=None)
        html = render_report(record)
        assert "Verdict: MAYBE" in html
        assert "one reason" in html

    def test_decision_json_is_strict_json(self, tmp_path: Path) -> None:
        record = sample_decision()
        record["metrics"][0]["p_value"] = float("nan")
        record["metrics"][0]["ci_high"] = float("inf")
        paths = write_report(record, tmp_path)
        text = paths.decision_json.read_text(encoding="utf-8")
        loaded = _strict_json(text)
        assert loaded["metrics"][0]["p_value"] is None
        assert loaded["metrics"][0]["ci_high"] is None
        assert text == json.dumps(loaded, indent=2, sort_keys=True) + "\n"
        assert math.isnan(record["metrics"][0]["p_value"])  # the caller's record is untouched

    def test_numpy_values_are_plain_json(self, tmp_path: Path) -> None:
        record = sample_decision()
        record["sample"]["units"] = np.int64(49881)
        record["metrics"][0]["p_value"] = np.float64("nan")
        record["metrics"][0]["significant"] = np.bool_(True)
        record["srm"]["observed"] = {"champion": np.int64(44870), "challenger": np.int64(5011)}
        loaded = _strict_json(write_report(record, tmp_path).decision_json.read_text())
        assert loaded["sample"]["units"] == 49881
        assert loaded["metrics"][0]["p_value"] is None
        assert loaded["metrics"][0]["significant"] is True
        html = render_report(record)
        assert "49,881" in html
        assert '<td class="flag-yes">yes</td>' in html  # the numpy bool still reads as "yes"

    def test_unserialisable_values_fail_before_anything_is_written(self, tmp_path: Path) -> None:
        record = sample_decision()
        record["sample"]["units"] = object()
        with pytest.raises(TypeError, match="not JSON"):
            write_report(record, tmp_path)
        assert _files_under(tmp_path) == set()


class TestWriteReport:
    def test_layout(self, tmp_path: Path) -> None:
        paths = write_report(sample_decision(), tmp_path)
        experiment = tmp_path / "support-bot-model-upgrade"
        assert paths == ReportPaths(
            html=experiment / "2026-11-14" / "report.html",
            decision_json=experiment / "2026-11-14" / "decision.json",
            latest_html=experiment / "latest.html",
        )
        assert _files_under(tmp_path) == {
            "support-bot-model-upgrade",
            "support-bot-model-upgrade/latest.html",
            "support-bot-model-upgrade/latest.json",
            "support-bot-model-upgrade/2026-11-14",
            "support-bot-model-upgrade/2026-11-14/report.html",
            "support-bot-model-upgrade/2026-11-14/decision.json",
        }
        assert paths.latest_html.read_bytes() == paths.html.read_bytes()
        assert _strict_json(paths.decision_json.read_text())["decision"] == "promote"

    def test_latest_only_moves_forward(self, tmp_path: Path) -> None:
        newer, older, same_day_rerun = sample_decision(), sample_decision(), sample_decision()
        newer["as_of"] = "2026-11-15"
        older["as_of"] = "2026-11-10"
        older["decision"] = "continue"
        same_day_rerun["decision"] = "rollback"
        same_day_rerun["as_of"] = "2026-11-15"

        paths = write_report(newer, tmp_path)
        write_report(older, tmp_path)  # a backfill of an earlier day
        latest = paths.latest_html.read_text(encoding="utf-8")
        assert "Verdict: PROMOTE" in latest
        assert (tmp_path / "support-bot-model-upgrade" / "2026-11-10" / "report.html").exists()

        write_report(same_day_rerun, tmp_path)
        assert "Verdict: ROLLBACK" in paths.latest_html.read_text(encoding="utf-8")
        pointer = json.loads((paths.latest_html.parent / "latest.json").read_text())
        assert pointer["as_of"] == "2026-11-15"

    def test_failed_write_changes_nothing(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        first = write_report(sample_decision(), tmp_path)
        before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}

        real_replace = os.replace
        calls = {"n": 0}

        def replace_failing_second_time(src: Any, dst: Any) -> None:
            calls["n"] += 1
            if calls["n"] == 2:
                raise OSError("disk went away")
            real_replace(src, dst)

        monkeypatch.setattr(os, "replace", replace_failing_second_time)
        rerun, next_day = copy.deepcopy(sample_decision()), sample_decision()
        rerun["decision"] = "rollback"
        next_day["as_of"] = "2026-11-15"
        for record in (rerun, next_day):
            calls["n"] = 0
            with pytest.raises(OSError, match="disk went away"):
                write_report(record, tmp_path)
            after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
            assert after == before  # no temp files, no half-updated report, latest untouched
            assert not (tmp_path / "support-bot-model-upgrade" / "2026-11-15").exists()
        assert "Verdict: PROMOTE" in first.latest_html.read_text(encoding="utf-8")

    @pytest.mark.parametrize(
        "experiment_id",
        ["..", "../escape", "a/b", "/tmp/abs", "a\\b", ".hidden", "", "a\x00b", None, 7],
    )
    def test_experiment_id_traversal_is_rejected(self, tmp_path: Path, experiment_id: Any) -> None:
        record = sample_decision()
        record["experiment_id"] = experiment_id
        with pytest.raises(ValueError, match="experiment_id"):
            write_report(record, tmp_path / "reports")
        assert not (tmp_path / "reports").exists()

    @pytest.mark.parametrize(
        "as_of", ["..", "../2026-11-14", "2026-11-14/..", "/2026-11-14", "2026-13-40", "", None]
    )
    def test_as_of_traversal_is_rejected(self, tmp_path: Path, as_of: Any) -> None:
        record = sample_decision()
        record["as_of"] = as_of
        with pytest.raises(ValueError, match="as_of"):
            write_report(record, tmp_path / "reports")
        assert not (tmp_path / "reports").exists()


class TestFormatting:
    @pytest.mark.parametrize(
        ("value", "text"),
        [(0.04, "0.040"), (0.00004, "< 0.0001"), (0.0004, "0.0004"), (0.9999, "> 0.999"),
         (None, "—"), (float("nan"), "—"), ("0.1", "—"), (True, "—")],
    )  # fmt: skip
    def test_p_values(self, value: Any, text: str) -> None:
        assert formatting.fmt_p(value) == text

    @pytest.mark.parametrize(
        ("value", "signed", "text"),
        [(49881, False, "49,881"), (4.21, False, "4.21"), (0.0123, False, "0.0123"),
         (-38.5, True, "\u221238.5"), (38.5, True, "+38.5"), (0, True, "0"), (120.4, False, "120"), (0.04, True, "+0.04"), (float("inf"), False, "—")],
    )  # fmt: skip
    def test_numbers(self, value: Any, signed: bool, text: str) -> None:
        assert formatting.fmt_number(value, signed=signed) == text

    def test_probabilities_never_round_to_certainty(self) -> None:
        assert formatting.fmt_probability(0.99996) == ">\u00a099.9\u00a0%"
        assert formatting.fmt_probability(0.00001) == "<\u00a00.1\u00a0%"
        assert formatting.fmt_probability(0.93) == "93.0\u00a0%"
