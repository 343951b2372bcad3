"""Signing in to the console, in Chromium, against the API on a real socket."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import expect
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from core.settings import Settings
from tests.console.conftest import Launch, look
from tests.local_server import serve

pytestmark = pytest.mark.slow


@pytest.fixture
async def api_url(settings: Settings, engine: AsyncEngine) -> AsyncIterator[str]:
    async with serve(create_app(settings, engine=engine)) as url:
        yield url


async def test_a_wrong_key_is_refused_next_to_the_field_and_a_good_one_signs_in(
    launch: Launch, api_url: str, api_key: str
) -> None:
    browser = await launch()
    page = await browser.new_page()
    await page.goto(f"{api_url}/")  # the API's address lands in the console
    await expect(page.get_by_role("heading", name="Callwright console")).to_be_visible()
    await look(page, "sign-in")

    key = page.get_by_label("API key")
    await key.fill("cw_not-a-real-key")
    await page.get_by_role("button", name="Sign in").click()
    error = page.locator("[data-field=key]")
    await expect(error).to_contain_text("unknown, revoked or expired API key")
    await expect(key).to_have_attribute("aria-invalid", "true")

    await key.fill(api_key)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    assert api_key not in page.url
    stored = await page.evaluate("sessionStorage.getItem('callwright.apiKey')")
    assert stored == api_key
    # A reload keeps the tab signed in (session storage), on the same console route.
    await page.reload()
    await expect(page.get_by_role("navigation", name="Main")).to_be_visible()
