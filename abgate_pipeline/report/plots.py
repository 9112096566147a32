"""The inline SVG forest plot of a metric row: its interval around the estimate, against zero
(and a guardrail's margin), drawn by the template from this geometry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from abgate_pipeline.report.formatting import ci_is_relative, finite, fmt_ci, fmt_margin, fmt_text


@dataclass(frozen=True)
class ForestPlot:
    """Geometry of one row's inline SVG: the CI bar around the estimate against the zero line (and
    a guardrail's margin line). Each plot is scaled to its own row, symmetric around zero, so the
    side of zero the bar sits on is always readable."""

    width: int
    height: int
    x_zero: float
    x_low: float
    x_high: float
    x_estimate: float | None
    x_margin: float | None
    tone: str  # "better" | "worse" | "unclear": which side of zero the whole CI lies on
    label: str


PLOT_WIDTH, PLOT_HEIGHT, PLOT_PAD = 130, 22, 6


def _margin_on_ci_scale(row: Mapping[str, Any]) -> float | None:
    """The guardrail margin as a point on the CI's axis, on the harmful side of zero, converting
    between absolute and relative units through the champion's value when they differ."""
    margin = finite(row.get("margin"))
    harm_sign = {"lower": 1.0, "higher": -1.0}.get(row.get("better"))
    if margin is None or harm_sign is None:
        return None
    margin_absolute = row.get("margin_type") == "absolute"
    ci_relative = ci_is_relative(row)
    if margin_absolute != ci_relative:
        return harm_sign * abs(margin)
    control = finite(row.get("control_value"))
    if not control:
        return None
    converted = abs(margin) / abs(control) if margin_absolute else abs(margin) * abs(control)
    return harm_sign * converted


def _tone(low: float, high: float, better: Any) -> str:
    """Whether the whole CI is on the good or the bad side of zero for this metric's direction."""
    sign = {"higher": 1.0, "lower": -1.0}.get(better)
    if sign is None or low <= 0 <= high:
        return "unclear"
    return "better" if sign * low > 0 else "worse"


def forest_plot(row: Mapping[str, Any]) -> ForestPlot | None:
    """The forest-plot geometry for a metric row, or None when it has no finite CI to draw."""
    low, high = finite(row.get("ci_low")), finite(row.get("ci_high"))
    if low is None or high is None:
        return None
    relative = ci_is_relative(row)
    estimate = finite(row.get("rel_lift" if relative else "abs_diff"))
    margin = _margin_on_ci_scale(row)
    points = [v for v in (low, high, estimate, margin) if v is not None]
    extent = max(abs(v) for v in points) * 1.15 or 1.0

    def x(value: float) -> float:
        return round(PLOT_PAD + (value + extent) / (2 * extent) * (PLOT_WIDTH - 2 * PLOT_PAD), 2)

    what = "relative lift" if relative else "difference"
    label = f"{what} {fmt_text(row.get('name'))}: CI {fmt_ci(row)}"
    if margin is not None:
        label += f", margin {fmt_margin(row)}"
    return ForestPlot(
        width=PLOT_WIDTH,
        height=PLOT_HEIGHT,
        x_zero=x(0.0),
        x_low=x(low),
        x_high=x(high),
        x_estimate=None if estimate is None else x(estimate),
        x_margin=None if margin is None else x(margin),
        tone=_tone(low, high, row.get("better")),
        label=label,
    )
