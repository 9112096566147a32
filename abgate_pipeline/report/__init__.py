"""The stakeholder decision report: one self-contained HTML page plus `decision.json` per run.

Rendering is pure (`render_report` turns the decision record into a string); `write_report` puts
the page, the record and `latest.html` on disk as one all-or-nothing step, so a reader never sees
a half-written report or a page that disagrees with the `decision.json` beside it. Rooms:
`formatting` (numbers for readers), `plots` (forest-plot geometry), `page` (the template's
context and rendering), `jsonable` (decision.json), `writer` (the files).
"""

from abgate_pipeline.report.jsonable import decision_json
from abgate_pipeline.report.page import render_report
from abgate_pipeline.report.writer import ReportPaths, write_report

__all__ = ["ReportPaths", "decision_json", "render_report", "write_report"]
