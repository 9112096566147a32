"""Putting a report on disk: the page, its `decision.json` and `latest.html`, all or nothing, in
folders named only by a safe experiment id and a real date."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from abgate_pipeline.config import EXPERIMENT_ID, EXPERIMENT_ID_RULE
from abgate_pipeline.files import write_atomically
from abgate_pipeline.report.jsonable import decision_json
from abgate_pipeline.report.page import render_report

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class ReportPaths:
    """Where one run's report landed."""

    html: Path
    decision_json: Path
    latest_html: Path


def _experiment_dir_name(experiment_id: Any) -> str:
    """The experiment id as a directory name, refusing anything that could leave reports_dir."""
    if not isinstance(experiment_id, str) or not EXPERIMENT_ID.fullmatch(experiment_id):
        raise ValueError(
            f"experiment_id {experiment_id!r} cannot be used as a report directory: "
            f"{EXPERIMENT_ID_RULE}"
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
        write_atomically(files)
    except BaseException:
        for directory in reversed(new_dirs):
            with suppress(OSError):
                directory.rmdir()
        raise
    return paths
