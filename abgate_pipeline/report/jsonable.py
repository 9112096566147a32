"""The decision record as strict JSON: what `decision.json` holds and the page is rendered from."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from typing import Any


def jsonable(value: Any) -> Any:
    """The record as plain JSON values: non-finite floats become null (JSON has no NaN), numpy
    scalars and arrays become Python numbers and lists, dates become ISO strings."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(item) for item in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    for converter in ("tolist", "item"):  # numpy arrays / scalars, without importing numpy
        if hasattr(value, converter):
            return jsonable(getattr(value, converter)())
    raise TypeError(f"decision record holds a {type(value).__name__}, which is not JSON: {value!r}")


def decision_json(decision: Mapping[str, Any]) -> str:
    """The decision record as strict JSON text (indent 2, sorted keys, never NaN)."""
    return json.dumps(jsonable(decision), indent=2, sort_keys=True, allow_nan=False) + "\n"
