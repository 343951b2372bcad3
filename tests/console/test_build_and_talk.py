"""The console as an admin uses it, in Chromium, against the whole platform: build the plan's
Appointment Scheduler from nothing, give it the sample dental domain, then book an appointment
with it, once by typing and once by voice through Chromium's fake microphone. Every page is
checked with axe-core and photographed (build/console-screenshots/)."""

from __future__ import annotations

import re
import wave
from pathlib import Path

import numpy as np
import pytest
from playwright.async_api import Page, expect

from realtime.audio import resample, ulaw_decode
from tests.console.conftest import SCREENSHOTS, Launch, look
from tests.scenarios.conftest import Platform, PlatformFactory
from workers.caller.voice import CallerVoice

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DENTAL_KNOWLEDGE = ROOT / "examples" / "knowledge" / "dental_clinic.json"
SCENARIOS = ROOT / "tests" / "eval" / "scenarios" / "appointment_scheduler"
# Time for one spoken or typed turn to be heard, answered and shown (2 CPU cores, Whisper).
TURN_S = 60


async def sign_in(page: Page, world: Platform, key: str) -> None:
    await page.goto(f"{world.api_url}/console/")
    await page.get_by_label("API key").fill(key)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("navigation", name="Main")).to_be_visible()


async def build_the_appointment_scheduler(page: Page, world: Platform, *, name: str) -> str:
    """The plan's example, made through the builder with the dental domain; the agent's id."""
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="New agent").click()
    await page.get_by_label("Start from an example").select_option(label="Appointment scheduler")
    await page.get_by_label("Agent name").fill(name)
    await page.get_by_label("Webhook URLs").fill(f"{world.receiver.url}/call")
    await page.get_by_label("Completion webhook").fill(f"{world.receiver.url}/goal")

    domain = f"Bright Smile Dental ({name})"
    await page.get_by_label("New domain name").fill(domain)
    await page.get_by_role("button", name="Create domain").click()
    await expect(page.get_by_role("checkbox", name=domain)).to_be_checked()
    await page.get_by_label("Knowledge file").set_input_files(str(DENTAL_KNOWLEDGE))
    await page.get_by_role("button", name="Import file").click()
    await expect(page.get_by_text(re.compile(r"All \d+ items are searchable"))).to_be_visible(
        timeout=120_000
    )
    await page.get_by_role("searchbox", name="Caller's question").fill("are you open on saturdays?")
    await page.get_by_role("button", name="Search").click()
    results = page.get_by_role("list", name="Search results")
    await expect(results).to_contain_text("Saturday")

    prompt = page.get_by_test_id("compiled-prompt")
    await expect(prompt).to_contain_text(name)
    await expect(prompt).to_contain_text("Don't discuss pricing")
    await expect(page.get_by_text("Valid: ready to create.")).to_be_visible()
    await look(page, "builder")
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=str(SCREENSHOTS / "builder-top.png"))  # as a person first sees it
    await page.get_by_role("button", name="Create agent").click()
    await page.wait_for_url(re.compile(r"/console/agents/\d+/test$"))
    match = re.search(r"/agents/(\d+)/test", page.url)
    assert match is not None
    return match.group(1)


async def expect_booked(page: Page) -> None:
    """The goal shows complete, and the goal.completed webhook it sent is on the page."""
    goals = page.get_by_role("region", name="Goals")
    await expect(goals.get_by_text(re.compile(r"^(complete|met)$")).first).to_be_visible(
        timeout=TURN_S * 1000
    )
    webhook = page.get_by_role("article", name=re.compile(r"^Webhook goal\.completed"))
    await expect(webhook).to_be_visible(timeout=TURN_S * 1000)
    await expect(webhook).to_contain_text("delivered", timeout=TURN_S * 1000)


async def test_build_the_plans_scheduler_and_book_by_typing(
    launch: Launch, platform: PlatformFactory, api_key: str
) -> None:
    world = await platform()
    browser = await launch()
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await sign_in(page, world, api_key)
    await look(page, "agents")

    agent_id = await build_the_appointment_scheduler(page, world, name="Appointment Scheduler")
    await expect(page.get_by_role("heading", name="Test Appointment Scheduler")).to_be_visible()
    await look(page, "test-console-idle")

    await page.get_by_role("button", name="Start test call").click()
    status = page.get_by_test_id("call-status")
    await expect(status).to_have_attribute("data-phase", "live", timeout=TURN_S * 1000)
    call_sid = await page.get_by_test_id("call-sid").inner_text()
    transcript = page.get_by_role("region", name="Transcript")
    await expect(transcript).to_contain_text("Agent", timeout=TURN_S * 1000)  # the greeting

    line = page.get_by_label("Say as the caller")
    await line.fill("Hi, I'd like to book a cleaning next Tuesday at three in the afternoon.")
    await page.get_by_role("button", name="Say").click()
    await expect(transcript).to_contain_text("a cleaning next Tuesday", timeout=TURN_S * 1000)
    goals = page.get_by_role("region", name="Goals")
    await expect(goals.get_by_text("complete", exact=True).first).to_be_visible(
        timeout=TURN_S * 1000
    )
    # The agent reads the booking back; the caller answers once it has finished.
    turns = page.get_by_role("list", name="Transcript").get_by_role("listitem")
    await expect(turns).to_have_count(3, timeout=TURN_S * 1000)
    await expect(turns.nth(2)).to_contain_text("Tuesday")
    await line.fill("Yes, that's right.")
    await page.get_by_role("button", name="Say").click()
    await expect(status).to_have_attribute("data-phase", "ended", timeout=TURN_S * 1000)
    await expect_booked(page)
    heard = float(await page.get_by_test_id("agent-audio").get_attribute("data-seconds") or 0)
    assert heard > 1.0  # the agent's voice reached the page
    call_webhook = page.get_by_role("article", name=re.compile(r"^Webhook call\.completed"))
    await expect(call_webhook).to_contain_text("delivered", timeout=TURN_S * 1000)
    await look(page, "test-console-booked")

    # The agent's eval scenarios, run from the page against the agent as saved.
    scenario = (SCENARIOS / "appt-three-facts-at-once.yaml").read_text()
    await page.get_by_label("Or write scenarios (YAML, separated by ---)").fill(scenario)
    await page.get_by_role("button", name="Run scenarios").click()
    summary = page.get_by_test_id("eval-summary")
    await expect(summary).to_contain_text("1 passed, 0 failed", timeout=TURN_S * 1000)
    await expect(
        page.get_by_role("cell", name=re.compile("appt-three-facts-at-once"))
    ).to_be_visible()
    await look(page, "test-console-scenarios")

    # The call is in the calls list and its page.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Calls").click()
    await page.wait_for_url(re.compile(r"/console/calls$"))
    await expect(page.get_by_role("link", name=call_sid)).to_be_visible()
    await look(page, "calls")
    await page.get_by_role("link", name=call_sid).click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text(call_sid)
    await expect(page.get_by_text("goal.completed").first).to_be_visible()
    await look(page, "call")
    await page.goto(f"{world.api_url}/console/agents/{agent_id}/test")  # reload-safe route
    await expect(page.get_by_role("heading", name="Test Appointment Scheduler")).to_be_visible()


async def test_a_wrong_value_shows_the_apis_message_next_to_its_field(
    launch: Launch, platform: PlatformFactory, api_key: str
) -> None:
    world = await platform()
    browser = await launch()
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await sign_in(page, world, api_key)
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="New agent").click()
    await page.get_by_label("Start from an example").select_option(label="Appointment scheduler")
    speed = page.get_by_label("Speed")
    await speed.fill("9")
    message = page.locator("[data-field='voice.speed']")
    await expect(message).to_be_visible()
    await expect(message).to_contain_text("between 0.5 and 2.0")
    await expect(speed).to_have_attribute("aria-invalid", "true")
    await look(page, "builder-error")
    # The voice at its settings, as a caller hears it, from a realtime node.
    await speed.fill("1.2")
    await page.get_by_role("button", name="Play test phrase").click()
    await expect(page.get_by_text("Playing, as a caller hears it.")).to_be_visible(timeout=30_000)
    await speed.fill("9")
    # Saving anyway is refused by the API, with its message at the same place.
    await page.get_by_role("button", name="Create agent").click()
    await expect(page.get_by_text("Please fix the fields marked below.")).to_be_visible()
    await expect(message).to_be_visible()
    assert "/agents/new" in page.url

    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    await expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    await look(page, "settings")


async def caller_recording(path: Path, lines: list[tuple[float, str]], tail_s: float) -> None:
    """A WAV for Chromium's fake microphone: each line after its seconds of silence, in the
    simulated caller's Piper voice, through the phone-audio path (as a caller would sound)."""
    voice = CallerVoice()
    rate = 48_000
    parts: list[np.ndarray] = []
    for pause_s, text in lines:
        spoken = await voice.utterance(text)
        parts.append(np.zeros(int(pause_s * rate), dtype=np.int16))
        parts.append(resample(ulaw_decode(b"".join(spoken.frames)), 8000, rate))
    parts.append(np.zeros(int(tail_s * rate), dtype=np.int16))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.concatenate(parts).astype(np.int16).tobytes())


async def test_book_by_voice_through_the_browser_microphone(
    launch: Launch, platform: PlatformFactory, api_key: str, tmp_path: Path
) -> None:
    world = await platform()
    recording = tmp_path / "caller.wav"
    # The greeting plays first; the booking; the agent reads it back; the caller confirms.
    await caller_recording(
        recording,
        [
            (7.0, "Hi, I'd like to book a cleaning next Tuesday at three in the afternoon."),
            (14.0, "Yes, that's right."),
        ],
        20.0,
    )
    browser = await launch(
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={recording}%noloop",
    )
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    await context.grant_permissions(["microphone"], origin=world.api_url)
    page = await context.new_page()
    await sign_in(page, world, api_key)
    await build_the_appointment_scheduler(page, world, name="Voice Scheduler")

    await page.get_by_role("button", name="Start with microphone").click()
    status = page.get_by_test_id("call-status")
    await expect(status).to_have_attribute("data-phase", "live", timeout=TURN_S * 1000)
    await expect(status).to_contain_text("microphone on")
    transcript = page.get_by_role("region", name="Transcript")
    # The caller's spoken words, as the platform's Whisper heard them, and the agent's replies.
    await expect(transcript).to_contain_text(
        re.compile(r"cleaning", re.IGNORECASE), timeout=TURN_S * 1000
    )
    await expect(status).to_have_attribute("data-phase", "ended", timeout=TURN_S * 2000)
    await expect_booked(page)
    heard = float(await page.get_by_test_id("agent-audio").get_attribute("data-seconds") or 0)
    assert heard > 3.0
    await look(page, "test-console-voice")
