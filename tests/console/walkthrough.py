"""Time the README's console path at a person's pace, against a running `callwright dev`.

    .venv/bin/python -m tests.console.walkthrough [--data-dir .callwright]

A person who follows the README signs in, starts from the plan's Appointment Scheduler, names
the agent, creates a domain and imports the sample dental knowledge, checks a question, creates
the agent, and books an appointment in the TestConsole by typing. This drives Chromium through
exactly those steps, with a person's pace put in: `--read-s` seconds to read before each step
(default 4) and typing at `--chars-per-s` (default 4, about 45 words a minute). It prints each
step's time and the total. It is a model of a person who already knows what to click, not a
person: BENCHMARKS.md says so next to its figures.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from pathlib import Path

from playwright.async_api import Page, async_playwright, expect

from tests.console.conftest import CHROMIUM, CHROMIUM_ARGS
from workers.stack import dev_key, local_settings, stack_api_url

ROOT = Path(__file__).resolve().parents[2]
DENTAL = ROOT / "examples" / "knowledge" / "dental_clinic.json"
WAIT_MS = 120_000


class Person:
    """Reads before each step and types at a person's speed; keeps the time of each step."""

    def __init__(self, page: Page, read_s: float, chars_per_s: float) -> None:
        self.page = page
        self.read_s = read_s
        self.delay_ms = 1000 / chars_per_s
        self.started = time.perf_counter()
        self.last = self.started
        self.steps: list[tuple[str, float]] = []

    async def read(self) -> None:
        await asyncio.sleep(self.read_s)

    async def type_into(self, label: str, text: str, *, role: str | None = None) -> None:
        await self.read()
        field = (
            self.page.get_by_role(role, name=label)  # type: ignore[arg-type]
            if role
            else self.page.get_by_label(label)
        )
        await field.fill("")
        await field.press_sequentially(text, delay=self.delay_ms)

    async def click(self, name: str, role: str = "button") -> None:
        await self.read()
        await self.page.get_by_role(role, name=name).click()  # type: ignore[arg-type]

    def done(self, step: str) -> None:
        now = time.perf_counter()
        self.steps.append((step, now - self.last))
        self.last = now
        sys.stdout.write(f"{now - self.started:7.1f} s  {step} ({self.steps[-1][1]:.1f} s)\n")
        sys.stdout.flush()


async def walk(api_url: str, key: str, read_s: float, chars_per_s: float) -> float:
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        person = Person(page, read_s, chars_per_s)
        await page.goto(f"{api_url}/console/")
        await person.read()
        await page.get_by_label("API key").fill(key)  # pasted from the terminal
        await person.click("Sign in")
        await expect(page.get_by_role("navigation", name="Main")).to_be_visible()
        person.done("signed in")

        await person.read()
        await (
            page.get_by_role("navigation", name="Main")
            .get_by_role("link", name="New agent")
            .click()
        )
        await person.read()
        await page.get_by_label("Start from an example").select_option(
            label="Appointment scheduler"
        )
        name = f"Front desk {int(time.time()) % 10_000}"
        await person.type_into("Agent name", name)
        person.done("started from the plan's Appointment Scheduler, named it")

        await person.type_into("New domain name", f"Bright Smile Dental {name[-4:]}")
        await person.click("Create domain")
        await person.read()  # finding the file in the chooser
        await page.get_by_label("Knowledge file").set_input_files(str(DENTAL))
        await person.click("Import file")
        await expect(page.get_by_text(re.compile(r"All \d+ items are searchable"))).to_be_visible(
            timeout=WAIT_MS
        )
        await person.type_into("Caller's question", "are you open on saturdays?", role="searchbox")
        await person.click("Search")
        await expect(page.get_by_role("list", name="Search results")).to_contain_text("Saturday")
        person.done("created the domain, imported the dental knowledge, checked a question")

        await person.read()  # a look at the compiled prompt
        await expect(page.get_by_text("Valid: ready to create.")).to_be_visible(timeout=WAIT_MS)
        await person.click("Create agent")
        await page.wait_for_url(re.compile(r"/console/agents/\d+/test$"), timeout=WAIT_MS)
        person.done("created the agent")

        await person.click("Start test call")
        status = page.get_by_test_id("call-status")
        await expect(status).to_have_attribute("data-phase", "live", timeout=WAIT_MS)
        turns = page.get_by_role("list", name="Transcript").get_by_role("listitem")
        await expect(turns).to_have_count(1, timeout=WAIT_MS)  # the greeting
        await person.type_into(
            "Say as the caller", "Hi, I'd like to book a cleaning next Tuesday at three pm."
        )
        await page.get_by_role("button", name="Say").click()
        await expect(turns).to_have_count(3, timeout=WAIT_MS)  # the agent reads it back
        await person.type_into("Say as the caller", "Yes, that's right.")
        await page.get_by_role("button", name="Say").click()
        await expect(status).to_have_attribute("data-phase", "ended", timeout=WAIT_MS)
        goals = page.get_by_role("region", name="Goals")
        await expect(goals.get_by_text(re.compile(r"^(complete|met)$")).first).to_be_visible(
            timeout=WAIT_MS
        )
        person.done("booked an appointment in the TestConsole; the goal shows complete")
        await browser.close()
        return time.perf_counter() - person.started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="the dev stack's data dir")
    parser.add_argument("--read-s", type=float, default=4.0, help="reading time before a step")
    parser.add_argument("--chars-per-s", type=float, default=4.0, help="typing speed")
    args = parser.parse_args()
    settings = local_settings()
    data_dir = args.data_dir or Path(settings.data_dir)
    key = dev_key(data_dir)
    if key is None:
        raise SystemExit(f"no dev key in {data_dir}: is `callwright dev` running there?")
    total = asyncio.run(walk(stack_api_url(settings, data_dir), key, args.read_s, args.chars_per_s))
    sys.stdout.write(f"total {total:.0f} s ({total / 60:.1f} min)\n")


if __name__ == "__main__":
    main()
