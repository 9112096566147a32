"""A real browser for the report tests: Debian's chromium (installed by the project's setup),
driven by Playwright, over a local HTTP server, with the network to everything else cut off."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags chromium tries Google's hosts at every start.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@contextmanager
def served(root: Path) -> Iterator[str]:
    """`root` on http://127.0.0.1:<port>/ for the duration (the Dagster UI links reports the same
    way: file:// links are rewritten by the UI)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Visit:
    """What a page did while it was open: console errors, requests, dialogs, page errors."""

    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)


@contextmanager
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        try:
            yield instance
        finally:
            instance.close()


@contextmanager
def visit(instance, url: str, *, width: int = 1280, height: int = 900) -> Iterator[tuple]:
    """Open `url` at a viewport width; every request leaving the page's origin is aborted and
    recorded, as are console errors, dialogs (alert() from an injected payload) and page errors."""
    context = instance.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    seen = Visit()
    origin = url.split("/", 3)[:3]

    def route(request_route) -> None:
        request_url = request_route.request.url
        seen.requests.append(request_url)
        if request_url.split("/", 3)[:3] != origin:
            request_route.abort()
        else:
            request_route.continue_()

    page.route("**/*", route)
    page.on("console", lambda m: m.type == "error" and seen.console_errors.append(m.text))
    page.on("pageerror", lambda e: seen.page_errors.append(str(e)))

    def on_dialog(dialog) -> None:
        seen.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    try:
        page.goto(url, wait_until="load")
        yield page, seen
    finally:
        context.close()
