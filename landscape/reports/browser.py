"""Look at a report the way a reader does: headless Chromium driven by Playwright.

Playwright's own browser download is not needed: :func:`find_chromium` finds a
system Chromium (Debian's ``chromium`` package, which ``make setup`` installs when
run as root), or the one named by ``$LANDSCAPE_CHROMIUM``. Used by the browser
tests and by ``studies/report_screenshots.py`` (the README's screenshots).
"""
from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

__all__ = ["find_chromium", "browser_page", "screenshot"]

_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The path of a Chromium executable, or None.

    ``$LANDSCAPE_CHROMIUM`` when set (None if that file does not exist), else the first of ``chromium``,
    ``chromium-browser``, ``google-chrome`` and ``google-chrome-stable`` found on ``PATH``.

    Returns:
        The executable's path, or None when none is found.
    """
    named = os.environ.get("LANDSCAPE_CHROMIUM")
    if named:
        return named if Path(named).exists() else None
    for name in _NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


@contextlib.contextmanager
def browser_page(html, width: int = 1400, height: int = 900):
    """Open ``html`` (a file) in headless Chromium; yields ``(page, errors)``.

    ``errors`` collects JavaScript console errors and uncaught exceptions as they happen, and
    ``page.requests`` every URL the page asked for other than ``data:`` URLs (a self-contained page asks
    only for itself). A context manager; the browser is closed on exit.

    Args:
        html: path of the HTML file to open.
        width: the viewport's width in pixels (default 1400).
        height: the viewport's height in pixels (default 900).

    Yields:
        ``(page, errors)``: the Playwright page, after its ``load`` event, and the list of errors.

    Raises:
        MissingDependency: if Playwright is not installed.
        RuntimeError: if no Chromium is found (see :func:`find_chromium`).
    """
    from ..optional import require
    sync_api = require("playwright.sync_api", "the report's browser check")
    executable = find_chromium()
    if executable is None:
        raise RuntimeError("no Chromium found (apt-get install chromium, or set LANDSCAPE_CHROMIUM)")
    errors: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.requests = []
            page.on("request", lambda request: None if request.url.startswith("data:")
                    else page.requests.append(request.url))
            page.goto(Path(html).resolve().as_uri())
            page.wait_for_load_state("load")
            yield page, errors
        finally:
            browser.close()


def screenshot(html, png, open_run: int | None = None, full_page: bool = False, width: int = 1400,
               height: int = 900, clip_height: int | None = None) -> list[str]:
    """Save a screenshot of ``html`` to ``png``, optionally after opening a run's section.

    With ``open_run``, the page jumps to ``#run-<open_run>`` and waits until its curves are drawn.

    Args:
        html: path of the report's HTML file.
        png: path of the PNG to write (missing folders are created).
        open_run: the number of the run section to open and scroll to, or ``None`` (the default).
        full_page: capture the whole page instead of the viewport (default False).
        width: the viewport's width in pixels (default 1400).
        height: the viewport's height in pixels (default 900).
        clip_height: capture only this many pixels from the current scroll position, over the full
            ``width`` (default ``None``: no clip).

    Returns:
        The JavaScript console errors and uncaught exceptions seen.

    Raises:
        MissingDependency: if Playwright is not installed.
        RuntimeError: if no Chromium is found.
    """
    with browser_page(html, width, height) as (page, errors):
        if open_run is not None:
            page.evaluate(f"location.hash = '#run-{open_run}'")
            page.wait_for_selector(f"#run-{open_run} .curves .plot .main-svg")
            page.wait_for_timeout(300)
        Path(png).parent.mkdir(parents=True, exist_ok=True)
        options = {"path": str(png), "full_page": full_page}
        if clip_height is not None:
            options["clip"] = {"x": 0, "y": page.evaluate("window.scrollY"), "width": width, "height": clip_height}
            options["full_page"] = True
        page.screenshot(**options)
        return errors
