"""The console in a real browser: Debian's Chromium, driven by Playwright, against the whole
platform (tests/scenarios/conftest.py: the API on a real socket serving console/dist, a worker,
the realtime server with the CPU engines, a webhook receiver).

Without Chromium or the console's build these tests skip here, saying what to run; in CI
(CI=true) they fail instead, so a missing install step cannot pass unseen."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.scenarios.conftest import engines, platform  # noqa: F401  (fixtures used here)

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
AXE = ROOT / "console" / "node_modules" / "axe-core" / "axe.min.js"
BUILT = ROOT / "console" / "dist" / "index.html"
SCREENSHOTS = Path(os.environ.get("CONSOLE_SCREENSHOTS", ROOT / "build" / "console-screenshots"))

# As root, in a closed network: no sandbox, and no background calls to Google's hosts (the
# machine refuses them, many at a time); see the env notes on Chromium.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # Audio plays with no sound card, and starts without a click on the page.
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(autouse=True)
def _browser_ready() -> None:
    missing = [
        what
        for what, path in (
            (f"Chromium at {CHROMIUM} (make browser)", CHROMIUM),
            ("the console's build (make install)", BUILT),
            ("axe-core (make install)", AXE),
        )
        if not path.exists()
    ]
    if missing:
        message = "missing: " + ", ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


Launch = Callable[..., Awaitable[Browser]]


@pytest.fixture
async def launch() -> AsyncIterator[Launch]:
    """`await launch(*extra_args)`: a headless Chromium; all close after the test."""
    async with async_playwright() as driver:
        browsers: list[Browser] = []

        async def start(*extra: str) -> Browser:
            browser = await driver.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=[*CHROMIUM_ARGS, *extra]
            )
            browsers.append(browser)
            return browser

        yield start
        for browser in browsers:
            await browser.close()


async def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    await page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = await page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
            .filter((v) => v.impact === "serious" || v.impact === "critical")
            .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                          nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" "))}))"""
    )
    return found


async def look(page: Page, name: str) -> None:
    """A screenshot of the whole page (build/console-screenshots/NAME.png) and its axe check."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    violations = await serious_violations(page)
    assert violations == [], f"{name}: {violations}"
