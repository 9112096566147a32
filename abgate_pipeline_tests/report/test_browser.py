"""The decision reports in a real browser (chromium): they render with no console errors and
no network requests, are not blank, pass axe-core without serious violations, show the record
they were rendered from, and planted script payloads execute nothing."""

from __future__ import annotations

import json
from io import BytesIO

import pytest

from abgate_pipeline.report import write_report
from abgate_pipeline_tests.report.browser import browser, served, visit
from abgate_pipeline_tests.report.test_report import _poisoned_decision

SUPPORT, SALES = "support-bot-model-upgrade", "sales-assistant-cheaper-model"
SERIOUS = ("serious", "critical")


@pytest.fixture(scope="module")
def chromium():
    with browser() as instance:
        yield instance


@pytest.fixture(scope="module")
def reports(gate_run):
    with served(gate_run.settings.reports_dir) as url:
        yield gate_run, url


def _pages(run) -> list[str]:
    """Every experiment's latest report and its first day's (the early, data-poor one)."""
    first = min(p.name for p in (run.settings.reports_dir / SUPPORT).iterdir() if p.is_dir())
    return [f"{SUPPORT}/latest.html", f"{SALES}/latest.html", f"{SUPPORT}/{first}/report.html"]


def test_reports_render_with_no_errors_and_no_network(chromium, reports):
    run, url = reports
    for path in _pages(run):
        with visit(chromium, url + path) as (page, seen):
            assert page.title().startswith(("PROMOTE", "ROLLBACK", "CONTINUE", "INVALID")), path
            assert seen.console_errors == [] and seen.page_errors == [], path
            assert seen.requests == [url + path], path  # the page itself, nothing else
            assert seen.dialogs == []


def test_a_report_is_not_blank(chromium, reports):
    from PIL import Image

    _, url = reports
    with visit(chromium, url + f"{SUPPORT}/latest.html") as (page, _):
        shot = Image.open(BytesIO(page.screenshot(full_page=True))).convert("L")
    histogram = shot.histogram()
    assert shot.size[0] == 1280 and shot.size[1] > 900
    assert max(histogram) < 0.97 * sum(histogram)  # not one flat colour


def test_axe_finds_no_serious_violations_at_desktop_width(chromium, reports):
    from axe_playwright_python.sync_playwright import Axe

    run, url = reports
    for path in _pages(run):
        with visit(chromium, url + path) as (page, _):
            violations = Axe().run(page).response["violations"]
        serious = [(v["id"], v["impact"]) for v in violations if v["impact"] in SERIOUS]
        assert serious == [], (path, serious)


def test_the_page_embeds_exactly_its_decision_json(chromium, reports):
    run, url = reports
    for experiment in (SUPPORT, SALES):
        folder = run.settings.reports_dir / experiment
        as_of = json.loads((folder / "latest.json").read_text())["as_of"]
        record = json.loads((folder / as_of / "decision.json").read_text())
        with visit(chromium, url + f"{experiment}/latest.html") as (page, _):
            embedded = page.locator("details pre").first.text_content()
            verdict = page.get_by_role("status").inner_text()
        assert json.loads(embedded) == record
        assert verdict == f"Verdict: {record['decision'].upper()}"


def test_planted_payloads_execute_nothing(chromium, tmp_path):
    decision = _poisoned_decision()
    decision["reasons"].append('<img src=x onerror="window.__pwned=1">')
    decision["warnings"] = ["javascript:window.__pwned=2", "<svg onload=alert(3)>"]
    paths = write_report(decision, tmp_path)
    with served(tmp_path) as url:
        target = url + str(paths.html.relative_to(tmp_path))
        with visit(chromium, target) as (page, seen):
            assert page.evaluate("window.__pwned") is None
            assert seen.dialogs == [] and seen.page_errors == []
            assert seen.requests == [target]  # the payload's <img src=x> was never fetched
            assert page.locator("script").count() == 0
            assert "<script>alert(1)</script>" in page.locator("body").inner_text()
