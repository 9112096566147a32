"""The report page: the template's view of a decision record, and its rendering.

Every string in the page that came from data goes through Jinja2 autoescaping: experiment ids,
metric names, variants and reasons are user-controlled and the page is opened in a browser.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from abgate_pipeline.decision.verdict import (
    VERDICT_RULE_APPROVAL,
    VERDICT_RULE_INTRO,
    VERDICT_RULES,
)
from abgate_pipeline.report.formatting import (
    DASH,
    NBSP,
    finite,
    fmt_bool,
    fmt_ci,
    fmt_days,
    fmt_diff,
    fmt_margin,
    fmt_number,
    fmt_p,
    fmt_pct,
    fmt_probability,
    fmt_share,
    fmt_text,
    fmt_value,
)
from abgate_pipeline.report.jsonable import jsonable
from abgate_pipeline.report.plots import forest_plot

METRIC_FIELDS = (
    "name",
    "role",
    "kind",
    "variant",
    "better",
    "segment",
    "value",
    "n_control",
    "n_treatment",
    "control_value",
    "treatment_value",
    "abs_diff",
    "rel_lift",
    "ci_low",
    "ci_high",
    "ci_of",
    "p_value",
    "p_value_adjusted",
    "significant",
    "method",
    "chance_to_beat",
    "cuped_variance_reduction",
    "margin",
    "margin_type",
    "non_inferior",
    "confidently_worse",
)

VERDICT_SUMMARIES = {
    "promote": "The challenger earned the next rollout step.",
    "continue": "Not enough evidence yet; keep the current split and keep collecting data.",
    "rollback": "The challenger hurts a metric that matters; send all traffic back to the champion.",
    "invalid": "The data cannot be trusted for a decision; nothing is promoted.",
}


def _metric_row(metric: Mapping[str, Any]) -> dict[str, Any]:
    """A metric (or segment) row with every field the template reads, missing ones as None, so
    the template can stay strict about undefined names without crashing on optional fields."""
    row = {field: metric.get(field) for field in METRIC_FIELDS}
    row["forest"] = forest_plot(row)
    return row


def _as_list(value: Any) -> list[Any]:
    """A JSON array field as a list; anything else (missing, null, scalar) as an empty list or a
    one-element list, so a malformed optional field degrades instead of crashing the page."""
    if value is None:
        return []
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(value)
    return [value]


def _as_mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def rollout_move(verdict: Any, rollout: Mapping[str, Any]) -> str:
    """What happens to the flag: '10 % → 50 %', '… needs approval', '→ 0 % (rollback)' or 'stays'."""
    current = fmt_share(rollout.get("current_pct"))
    if verdict == "rollback":
        return f"{current} → 0{NBSP}% (rollback)"
    if verdict == "promote" and finite(rollout.get("next_pct")) is not None:
        move = f"{current} → {fmt_share(rollout.get('next_pct'))}"
        return f"{move}, needs approval" if rollout.get("requires_approval") else move
    return f"stays at {current}"


def _srm_rows(srm: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Observed vs expected counts per variant; expected counts from the intended split."""
    observed = _as_mapping(srm.get("observed"))
    shares = _as_mapping(srm.get("expected_share"))
    total = sum(finite(v) or 0.0 for v in observed.values())
    share_total = sum(finite(v) or 0.0 for v in shares.values())
    rows = []
    for variant in dict.fromkeys([*observed, *shares]):
        count, share = finite(observed.get(variant)), finite(shares.get(variant))
        expected_share = share / share_total if share is not None and share_total else None
        rows.append(
            {
                "variant": variant,
                "observed": count,
                "observed_share": count / total if count is not None and total else None,
                "expected_share": expected_share,
                "expected": None if expected_share is None else expected_share * total,
            }
        )
    return rows


def _partition_summary(partitions: Any) -> list[dict[str, Any]]:
    """Each input asset's partitions as a count and a first-to-last range; the full list is in
    the embedded decision record."""
    summary = []
    for asset, keys in _as_mapping(partitions).items():
        names = sorted(str(key) for key in _as_list(keys))
        summary.append(
            {
                "asset": asset,
                "count": len(names),
                "first": names[0] if names else None,
                "last": names[-1] if names else None,
            }
        )
    return summary


def _bar_width(probability: Any) -> float | None:
    """A probability as a CSS width percentage, clamped to the bar; None when there is none."""
    number = finite(probability)
    return None if number is None else round(min(max(number, 0.0), 1.0) * 100, 1)


def context(decision: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the template reads, with optional parts defaulted."""
    verdict = decision.get("decision")
    known = isinstance(verdict, str) and verdict in VERDICT_SUMMARIES
    rollout = _as_mapping(decision.get("rollout"))
    srm = _as_mapping(decision.get("srm"))
    metrics = [_metric_row(_as_mapping(m)) for m in _as_list(decision.get("metrics"))]
    checks = [_as_mapping(c) for c in _as_list(decision.get("checks"))]
    sample = _as_mapping(decision.get("sample"))
    return {
        "d": {
            key: decision.get(key)
            for key in (
                "experiment_id",
                "as_of",
                "flag_key",
                "champion",
                "generated_at",
                "config_hash",
                "code_version",
            )
        },
        "verdict": verdict,
        "verdict_class": verdict if known else "unknown",
        "verdict_summary": VERDICT_SUMMARIES[verdict] if known else "Unrecognised verdict.",
        "challengers": _as_list(decision.get("challengers")),
        "reasons": _as_list(decision.get("reasons")),
        "warnings": _as_list(decision.get("warnings")),
        "rule_intro": VERDICT_RULE_INTRO,
        "rule_items": VERDICT_RULES,
        "rule_outro": VERDICT_RULE_APPROVAL,
        "rollout": {
            "move": rollout_move(verdict, rollout) if rollout else DASH,
            "steps": _as_list(rollout.get("steps")),
            "current_pct": rollout.get("current_pct"),
            "approval_above": rollout.get("approval_above"),
        },
        "main_metrics": [m for m in metrics if m["role"] != "guardrail"],
        "guardrails": [m for m in metrics if m["role"] == "guardrail"],
        "srm": {
            "present": bool(srm),
            "p_value": srm.get("p_value"),
            "chi2": srm.get("chi2"),
            "passed": srm.get("passed"),
            "rows": _srm_rows(srm),
        },
        "checks": checks,
        "checks_have_blocking": any("blocking" in c for c in checks),
        "incomplete_days": [_as_mapping(d) for d in _as_list(decision.get("incomplete_days"))],
        "sample": sample,
        "power_bar_pct": _bar_width(sample.get("power_so_far")),
        "segments": [_metric_row(_as_mapping(s)) for s in _as_list(decision.get("segments"))],
        "partitions": _partition_summary(decision.get("input_partitions")),
        "record_json": json.dumps(decision, indent=2, sort_keys=True, allow_nan=False),
    }


@cache
def _environment() -> Environment:
    """The Jinja2 environment. Autoescape is forced on: `select_autoescape` would not match the
    template's `.html.j2` name and would silently leave the page unescaped."""
    env = Environment(
        loader=PackageLoader("abgate_pipeline", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        number=fmt_number,
        pct=fmt_pct,
        share=fmt_share,
        p=fmt_p,
        prob=fmt_probability,
        days=fmt_days,
        yesno=fmt_bool,
        text=fmt_text,
        value=fmt_value,
        diff=fmt_diff,
    )
    env.globals.update(fmt_ci=fmt_ci, fmt_margin=fmt_margin)
    return env


def render_report(decision: Mapping[str, Any]) -> str:
    """The decision report as one self-contained HTML page (inline CSS and SVG, no scripts).

    The page is rendered from the record as decision.json stores it (numpy values as plain
    numbers, NaN as null), so the page and the file beside it always show the same values."""
    plain = jsonable(decision)
    return _environment().get_template("report.html.j2").render(context(plain))
