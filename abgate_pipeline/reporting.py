"""The stakeholder decision report: one self-contained HTML page plus `decision.json` per run.

Rendering is pure (`render_report` turns the decision record into a string); `write_report` puts
the page, the record and `latest.html` on disk as one all-or-nothing step, so a reader never sees
a half-written report or a page that disagrees with the `decision.json` beside it.

Every string in the page that came from data goes through Jinja2 autoescaping: experiment ids,
metric names, variants and reasons are user-controlled and the page is opened in a browser.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

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

DASH = "—"
MINUS = "\u2212"
NBSP = "\u00a0"

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

_SAFE_EXPERIMENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


# --- number formatting ------------------------------------------------------------------------


def finite(value: Any) -> float | None:
    """The value as a float when it is a real, finite number; None for null, NaN, inf, bools and
    non-numbers, so every formatter shows the same dash for "no value"."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _decimals(value: float, significant: int, minimum: int) -> int:
    """Decimal places that keep `significant` digits of a small number without padding big ones."""
    if value == 0:
        return minimum
    magnitude = math.floor(math.log10(abs(value)))
    return min(6, max(minimum, significant - 1 - magnitude))


def _with_sign(text: str, value: float) -> str:
    """A leading + or a true minus sign, so increases and decreases read at a glance."""
    if text.startswith("-"):
        return MINUS + text[1:]
    return text if value == 0 else "+" + text


def fmt_number(value: Any, signed: bool = False) -> str:
    """A plain number: integers with thousands separators, others with 3 significant digits."""
    number = finite(value)
    if number is None:
        return DASH
    if (number.is_integer() and abs(number) >= 1) or abs(number) >= 1000:
        text = f"{number:,.0f}"
    else:
        text = f"{number:,.{_decimals(number, 3, 0)}f}"
        text = text.rstrip("0").rstrip(".") if "." in text else text
    return _with_sign(text, number) if signed else text.replace("-", MINUS)


def fmt_pct(value: Any, signed: bool = False, unit: str = "%") -> str:
    """A fraction as a percentage (0.068 -> 6.8 %); `unit="pp"` for percentage points."""
    number = finite(value)
    if number is None:
        return DASH
    scaled = number * 100
    text = f"{scaled:.{_decimals(scaled, 2, 1)}f}"
    text = _with_sign(text, scaled) if signed else text.replace("-", MINUS)
    return f"{text}{NBSP}{unit}"


def fmt_share(value: Any) -> str:
    """A number that is already a percentage of traffic (10 -> 10 %)."""
    number = finite(value)
    return DASH if number is None else f"{fmt_number(number)}{NBSP}%"


def fmt_p(value: Any) -> str:
    """A p-value with the precision a reader can use; tiny ones as '< 0.0001'."""
    number = finite(value)
    if number is None:
        return DASH
    if number < 0.0001:
        return "< 0.0001"
    if number < 0.001:
        return f"{number:.4f}"
    if number > 0.999:
        return "> 0.999"
    return f"{number:.3f}"


def fmt_probability(value: Any) -> str:
    """A probability (chance to beat, power) as a percentage that never rounds to a false 100 %."""
    number = finite(value)
    if number is None:
        return DASH
    if number > 0.999:
        return f">{NBSP}99.9{NBSP}%"
    if number < 0.001:
        return f"<{NBSP}0.1{NBSP}%"
    return f"{number * 100:.1f}{NBSP}%"


def fmt_days(value: Any) -> str:
    """Days still needed, to one decimal; a dash when unknown or unreachable (non-finite)."""
    number = finite(value)
    return DASH if number is None else f"{number:.1f} days"


def fmt_bool(value: Any, yes: str = "yes", no: str = "no") -> str:
    """True/False as words (the page must not rely on color); anything else as a dash."""
    if value is True:
        return yes
    if value is False:
        return no
    return DASH


def fmt_text(value: Any) -> str:
    """Any value as display text; missing and non-finite values as a dash."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return DASH
    return str(value)


def _is_proportion(row: Mapping[str, Any]) -> bool:
    return row.get("kind") == "proportion"


def ci_is_relative(row: Mapping[str, Any]) -> bool:
    """Whether the row's CI is of the relative lift (the headline lift unless `ci_of` says
    absolute), which decides both its formatting and which estimate the forest plot centers on."""
    ci_of = row.get("ci_of")
    return not (isinstance(ci_of, str) and "abs" in ci_of.lower())


def fmt_value(value: Any, row: Mapping[str, Any]) -> str:
    """A metric value in its natural unit: proportions as percentages, others as numbers."""
    return fmt_pct(value) if _is_proportion(row) else fmt_number(value)


def fmt_diff(value: Any, row: Mapping[str, Any]) -> str:
    """An absolute difference: percentage points for proportions, signed numbers otherwise."""
    if _is_proportion(row):
        return fmt_pct(value, signed=True, unit="pp")
    return fmt_number(value, signed=True)


def fmt_ci(row: Mapping[str, Any]) -> str:
    """The CI as '[low, high]' in the unit of what it is a CI of."""
    low, high = finite(row.get("ci_low")), finite(row.get("ci_high"))
    if low is None or high is None:
        return DASH
    if ci_is_relative(row):
        return f"[{fmt_pct(low, signed=True)}, {fmt_pct(high, signed=True)}]"
    return f"[{fmt_diff(low, row)}, {fmt_diff(high, row)}]"


def fmt_margin(row: Mapping[str, Any]) -> str:
    """A guardrail margin in its own unit (relative to the champion unless `margin_type` says
    absolute), so it can be compared with the CI beside it."""
    margin = finite(row.get("margin"))
    if margin is None:
        return DASH
    if row.get("margin_type") == "absolute":
        text = fmt_pct(abs(margin), unit="pp") if _is_proportion(row) else fmt_number(abs(margin))
        return f"{text} absolute"
    return f"{fmt_pct(abs(margin))} relative"


# --- forest plot --------------------------------------------------------------------------------


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


# --- the page's view of the decision record ------------------------------------------------------


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


def _context(decision: Mapping[str, Any]) -> dict[str, Any]:
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
    plain = _jsonable(decision)
    return _environment().get_template("report.html.j2").render(_context(plain))


# --- decision.json ------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    """The record as plain JSON values: non-finite floats become null (JSON has no NaN), numpy
    scalars and arrays become Python numbers and lists, dates become ISO strings."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(item) for item in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    for converter in ("tolist", "item"):  # numpy arrays / scalars, without importing numpy
        if hasattr(value, converter):
            return _jsonable(getattr(value, converter)())
    raise TypeError(f"decision record holds a {type(value).__name__}, which is not JSON: {value!r}")


def decision_json(decision: Mapping[str, Any]) -> str:
    """The decision record as strict JSON text (indent 2, sorted keys, never NaN)."""
    return json.dumps(_jsonable(decision), indent=2, sort_keys=True, allow_nan=False) + "\n"


# --- writing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportPaths:
    """Where one run's report landed."""

    html: Path
    decision_json: Path
    latest_html: Path


def _experiment_dir_name(experiment_id: Any) -> str:
    """The experiment id as a directory name, refusing anything that could leave reports_dir."""
    if not isinstance(experiment_id, str) or not _SAFE_EXPERIMENT_ID.fullmatch(experiment_id):
        raise ValueError(
            f"experiment_id {experiment_id!r} cannot be used as a report directory: use letters, "
            "digits, '.', '_' and '-', starting with a letter or digit (no '/', '..' or absolute "
            "paths)"
        )
    return experiment_id


def _as_of_dir_name(as_of: Any) -> str:
    """The as-of date as a directory name; only YYYY-MM-DD, which also makes string order equal
    date order for the latest.html comparison."""
    if isinstance(as_of, dt.date) and not isinstance(as_of, dt.datetime):
        as_of = as_of.isoformat()
    if not isinstance(as_of, str) or not _ISO_DATE.fullmatch(as_of):
        raise ValueError(f"as_of {as_of!r} is not a YYYY-MM-DD date; refusing to use it as a path")
    try:
        dt.date.fromisoformat(as_of)
    except ValueError as error:
        raise ValueError(f"as_of {as_of!r} is not a valid calendar date") from error
    return as_of


def _latest_as_of(latest_json: Path) -> str | None:
    """The as_of latest.html currently shows; None if there is none or its pointer is unreadable
    (then this run takes over latest.html)."""
    try:
        pointer = json.loads(latest_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    as_of = pointer.get("as_of") if isinstance(pointer, dict) else None
    return as_of if isinstance(as_of, str) and _ISO_DATE.fullmatch(as_of) else None


def _fsync_directory(directory: Path) -> None:
    """Make renames in `directory` durable (POSIX only; elsewhere the rename is the best we get)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _stage(target: Path, content: bytes) -> Path:
    """Write `content` to a fsync'ed temp file beside `target` (same filesystem, so the later
    os.replace is atomic) and return its path."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def _write_all_or_nothing(files: Mapping[Path, bytes]) -> None:
    """Replace every target with its content, or leave every target as it was.

    All contents are staged as temp files first (where disk-full and permission errors happen),
    then swapped in with os.replace. If a swap fails, the targets already swapped get their old
    bytes back and the new ones are removed, so the report and its decision.json never disagree.
    """
    previous = {path: path.read_bytes() if path.exists() else None for path in files}
    staged: dict[Path, Path] = {}
    replaced: list[Path] = []
    try:
        for path, content in files.items():
            staged[path] = _stage(path, content)
        for path, temp in staged.items():
            os.replace(temp, path)
            replaced.append(path)
    except BaseException:
        for temp in staged.values():
            temp.unlink(missing_ok=True)
        for path in reversed(replaced):
            _restore(path, previous[path])
        raise
    for directory in {path.parent for path in files}:
        _fsync_directory(directory)


def _restore(path: Path, old: bytes | None) -> None:
    """Put a target back as it was before this run: its old bytes, or no file at all."""
    if old is None:
        path.unlink(missing_ok=True)
        return
    os.replace(_stage(path, old), path)


def write_report(decision: Mapping[str, Any], reports_dir: Path) -> ReportPaths:
    """Write `<experiment_id>/<as_of>/report.html`, `decision.json` beside it, and move
    `<experiment_id>/latest.html` to this report unless it already shows a later as_of
    (a backfill must not replace the newest report). Everything is rendered before anything is
    written, and the files are replaced together or not at all."""
    experiment_dir = Path(reports_dir) / _experiment_dir_name(decision.get("experiment_id"))
    as_of = _as_of_dir_name(decision.get("as_of"))
    run_dir = experiment_dir / as_of
    paths = ReportPaths(
        html=run_dir / "report.html",
        decision_json=run_dir / "decision.json",
        latest_html=experiment_dir / "latest.html",
    )
    html = render_report(decision).encode("utf-8")
    files = {paths.html: html, paths.decision_json: decision_json(decision).encode("utf-8")}

    latest_json = experiment_dir / "latest.json"
    current_latest = _latest_as_of(latest_json)
    if current_latest is None or as_of >= current_latest:
        files[paths.latest_html] = html
        pointer = {"as_of": as_of, "report": f"{as_of}/report.html"}
        files[latest_json] = (json.dumps(pointer, indent=2, sort_keys=True) + "\n").encode("utf-8")

    new_dirs = [directory for directory in (experiment_dir, run_dir) if not directory.exists()]
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        _write_all_or_nothing(files)
    except BaseException:
        for directory in reversed(new_dirs):
            with suppress(OSError):
                directory.rmdir()
        raise
    return paths
