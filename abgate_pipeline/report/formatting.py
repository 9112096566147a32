"""Numbers as a report reader reads them: percentages for proportions, percentage points for
their differences, true minus signs, a dash for every missing or non-finite value."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

DASH = "—"
MINUS = "\u2212"
NBSP = "\u00a0"


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
