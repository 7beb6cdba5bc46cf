"""A real headless Chromium for the dashboard's browser tests (Playwright, the system's browser).

Playwright drives the Chromium Debian installs (`apt-get install chromium`, /usr/bin/chromium), or the
binary CIVICBOT_CHROMIUM names; `playwright install` (a download) is never needed. Without either,
or without the `playwright` package, the tests that ask for a browser skip and say why.

Screenshots go to test-output/screenshots/ (kept after the run, ignored by git).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page, Route, ViewportSize

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "test-output" / "screenshots"
CANDIDATES = ("chromium", "chromium-browser", "/usr/bin/chromium", "/usr/lib/chromium/chromium")
PHONE: ViewportSize = {"width": 360, "height": 740}
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})


def chromium_path() -> str | None:
    """CIVICBOT_CHROMIUM if set (and there), else Debian's chromium on the PATH."""
    wanted = os.environ.get("CIVICBOT_CHROMIUM")
    if wanted:
        return wanted if Path(wanted).is_file() and os.access(wanted, os.X_OK) else None
    for candidate in CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def chromium_or_skip() -> str:
    """The browser's path, or skip the test with the reason and the remedy."""
    pytest.importorskip(
        "playwright.async_api", reason="playwright is not installed: pip install -e '.[test]'"
    )
    path = chromium_path()
    if path is None:
        wanted = os.environ.get("CIVICBOT_CHROMIUM")
        if wanted:
            pytest.skip(f"CIVICBOT_CHROMIUM={wanted} is not an executable file")
        pytest.skip(
            "no chromium found: install Debian's (apt-get install chromium) or set CIVICBOT_CHROMIUM "
            "to a Chromium binary; `playwright install` is not used"
        )
    return path


async def offline(context: BrowserContext) -> None:
    """Only this machine answers the browser: map tiles and anything else beyond it fail at once, as
    they would on an offline desk."""

    async def route(handler: Route) -> None:
        host = urlsplit(handler.request.url).hostname or ""
        if host in LOCAL_HOSTS or handler.request.url.startswith(("data:", "blob:")):
            await handler.continue_()
        else:
            await handler.abort("internetdisconnected")

    await context.route("**/*", route)


async def screenshot(page: Page, name: str) -> Path:
    """The whole page, as test output: test-output/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def horizontal_overflow(page: Page) -> int:
    """How many pixels the page is wider than the viewport (0: no sideways scrolling of the page)."""
    return int(
        await page.evaluate(
            "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
            " - document.documentElement.clientWidth"
        )
    )
