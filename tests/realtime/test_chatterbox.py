"""ChatterboxEngine through its interface, with a stand-in for the model (no weights, no GPU here).

`StandInChatterbox` implements what the engine uses of `ChatterboxTTS` 0.1.7: `sr`, `conds`,
`generate(...)` returning a float32 tensor (1, N), `prepare_conditionals(path)` setting `conds`,
and 0.1.7's crash on `cfg_weight=0.0`. Its audio is deterministic: a sine whose length is
proportional to the text, so each chunk can be matched to the sentence it speaks. A gate lets a
test hold the "GPU" on one sentence while it lines up other work.

The last test loads real weights; it runs only where a CUDA GPU and CHATTERBOX_MODEL_PATH exist.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from core.agents.spec import EMOTIONS
from core.settings import Settings
from realtime.engines.base import AudioChunk
from realtime.engines.chatterbox_tts import (
    EMOTION_STYLES,
    MIN_CFG_WEIGHT,
    ORIGINAL_FILES,
    TURBO_FILES,
    ChatterboxEngine,
    ChatterboxError,
    ChatterboxTimeoutError,
    ChatterboxWeightsError,
    EmotionStyle,
    VoiceConditionalsCache,
    detect_variant,
    load_chatterbox,
    missing_weight_files,
    split_for_speech,
    style_for,
)

SR = 24_000
SAMPLES_PER_CHAR = 120
GATE_TIMEOUT_S = 5.0


class StandInChatterbox:
    """The interface of chatterbox.tts.ChatterboxTTS (0.1.7), deterministic and instant."""

    def __init__(self, *, gated: bool = False, prepare_delay_s: float = 0.0) -> None:
        self.sr = SR
        self.conds: Any = "builtin"
        self.calls: list[dict[str, Any]] = []
        self.prepared: list[str] = []
        self.threads: set[str] = set()
        self.prepare_delay_s = prepare_delay_s
        self.fail_on: str | None = None
        # When gated, every generate waits for a permit: the test decides when the GPU moves.
        self.gated = gated
        self.permits = threading.Semaphore(0)
        self.entered = threading.Event()

    def generate(
        self,
        text: str,
        repetition_penalty: float = 1.2,
        min_p: float = 0.05,
        top_p: float = 1.0,
        audio_prompt_path: str | None = None,
        exaggeration: float = 0.5,
        cfg_weight: float = 0.5,
        temperature: float = 0.8,
    ) -> torch.Tensor:
        self.threads.add(threading.current_thread().name)
        self.calls.append(
            {
                "text": text,
                "conds": self.conds,
                "exaggeration": exaggeration,
                "cfg_weight": cfg_weight,
                "temperature": temperature,
                "audio_prompt_path": audio_prompt_path,
            }
        )
        self.entered.set()
        if self.gated and not self.permits.acquire(timeout=GATE_TIMEOUT_S):
            raise RuntimeError("test gate never opened")
        if cfg_weight == 0.0:
            # What 0.1.7 does: its CFG path expects two batch rows.
            raise IndexError("index 1 is out of bounds for dimension 0 with size 1")
        if text == self.fail_on:
            raise RuntimeError("CUDA error: device-side assert triggered")
        n = SAMPLES_PER_CHAR * len(text)
        t = torch.arange(n, dtype=torch.float32) / SR
        return (0.3 * torch.sin(2 * torch.pi * 440.0 * t)).unsqueeze(0)

    def prepare_conditionals(self, wav_fpath: str, exaggeration: float = 0.5) -> None:
        time.sleep(self.prepare_delay_s)
        self.prepared.append(Path(wav_fpath).name)
        self.conds = f"conds:{Path(wav_fpath).stem}"

    def texts(self) -> list[str]:
        return [call["text"] for call in self.calls]


async def collect(chunks: AsyncIterator[AudioChunk]) -> list[AudioChunk]:
    return [chunk async for chunk in chunks]


async def wait_until(predicate: Any, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


@pytest.fixture
def model() -> StandInChatterbox:
    return StandInChatterbox()


@pytest.fixture
async def engine(model: StandInChatterbox) -> AsyncIterator[ChatterboxEngine]:
    engine = ChatterboxEngine(model)
    yield engine
    await engine.aclose()


GREETING = (
    "Thanks for calling Bright Smile Dental, this is Ana speaking. "
    "How can I help you today? We are open until six."
)
GREETING_PIECES = [
    "Thanks for calling Bright Smile Dental,",
    "this is Ana speaking.",
    "How can I help you today?",
    "We are open until six.",
]


# -- text into pieces --------------------------------------------------------------------------


def test_first_clause_is_split_off_and_abbreviations_do_not_end_sentences() -> None:
    assert split_for_speech(GREETING) == GREETING_PIECES
    # "Sure," is too short to stand alone; "Dr." does not end a sentence; 1,500 is a number.
    assert split_for_speech("Sure, Dr. Lee can see you. It costs 1,500 dollars.") == [
        "Sure, Dr. Lee can see you.",
        "It costs 1,500 dollars.",
    ]
    assert split_for_speech("   ") == []


# -- streaming ---------------------------------------------------------------------------------


async def test_chunks_stream_in_order_first_clause_first(
    engine: ChatterboxEngine, model: StandInChatterbox
) -> None:
    chunks = await collect(engine.synthesize(GREETING))

    assert [c.text for c in chunks] == GREETING_PIECES
    assert model.texts() == GREETING_PIECES
    for chunk in chunks:
        assert chunk.sample_rate == SR
        assert chunk.samples.dtype == np.float32
        assert chunk.samples.ndim == 1
        assert chunk.samples.size == SAMPLES_PER_CHAR * len(chunk.text)
    # The built-in voice, never a reference path per sentence (that would re-clone every time).
    assert {call["conds"] for call in model.calls} == {"builtin"}
    assert {call["audio_prompt_path"] for call in model.calls} == {None}
    # One thread owns the model.
    assert len(model.threads) == 1
    stats = engine.last_stats
    assert stats is not None and stats.chunks == 4
    assert stats.first_chunk_seconds is not None
    assert stats.audio_seconds == pytest.approx(sum(c.samples.size for c in chunks) / SR, rel=1e-6)


async def test_token_streaming_puts_the_text_on_the_first_piece_only() -> None:
    class Streaming(StandInChatterbox):
        def generate_stream(self, text: str, *, chunk_size: int, **kwargs: Any) -> Any:
            audio = self.generate(text, **kwargs)
            for start in range(0, audio.shape[-1], chunk_size * 40):
                yield audio[:, start : start + chunk_size * 40], {"chunk": start}

    model = Streaming()
    engine = ChatterboxEngine(model, streaming="tokens", token_chunk_size=25)
    try:
        chunks = await collect(engine.synthesize("Hello there. Goodbye now."))
    finally:
        await engine.aclose()
    spoken = [c.text for c in chunks if c.text]
    assert spoken == ["Hello there.", "Goodbye now."]
    assert len(chunks) > 2
    total = sum(c.samples.size for c in chunks)
    assert total == SAMPLES_PER_CHAR * (len("Hello there.") + len("Goodbye now."))

    with pytest.raises(ValueError, match="generate_stream"):
        ChatterboxEngine(StandInChatterbox(), streaming="tokens")


# -- emotions ----------------------------------------------------------------------------------


def test_every_platform_emotion_has_a_style_and_none_sends_cfg_zero() -> None:
    assert set(EMOTION_STYLES) == set(EMOTIONS)
    for style in EMOTION_STYLES.values():
        assert style.cfg_weight >= MIN_CFG_WEIGHT
    assert EmotionStyle(exaggeration=0.5, cfg_weight=0.0, temperature=0.8).cfg_weight == (
        MIN_CFG_WEIGHT
    )
    assert style_for("Enthusiastic") == EMOTION_STYLES["enthusiastic"]
    assert style_for("furious") == style_for(None) == EMOTION_STYLES["neutral"]
    with pytest.raises(ValueError):
        EmotionStyle(exaggeration=3.0, cfg_weight=0.5, temperature=0.8)


@pytest.mark.parametrize("emotion", EMOTIONS)
async def test_emotion_values_reach_generate(
    engine: ChatterboxEngine, model: StandInChatterbox, emotion: str
) -> None:
    await collect(engine.synthesize("Hello there.", emotion=emotion))

    style = EMOTION_STYLES[emotion]
    (call,) = model.calls
    assert call["exaggeration"] == style.exaggeration
    assert call["cfg_weight"] == style.cfg_weight > 0.0
    assert call["temperature"] == style.temperature


async def test_enthusiastic_speech_is_livelier_than_calm(
    engine: ChatterboxEngine, model: StandInChatterbox
) -> None:
    await collect(engine.synthesize("Great news.", emotion="enthusiastic"))
    await collect(engine.synthesize("Great news.", emotion="calm"))
    enthusiastic, calm = model.calls
    assert enthusiastic["exaggeration"] > calm["exaggeration"]
    assert enthusiastic["cfg_weight"] < calm["cfg_weight"]


async def test_turbo_gets_only_temperature() -> None:
    # Turbo ignores exaggeration and CFG and warns when they are set: they are not sent.
    model = StandInChatterbox()
    engine = ChatterboxEngine(model, variant="turbo")
    try:
        await collect(engine.synthesize("Hello.", emotion="calm"))
    finally:
        await engine.aclose()
    (call,) = model.calls
    assert call["temperature"] == EMOTION_STYLES["calm"].temperature
    assert (call["exaggeration"], call["cfg_weight"]) == (0.5, 0.5)  # the stand-in's defaults


# -- voice conditionals ------------------------------------------------------------------------


async def test_each_voice_is_prepared_once_and_least_recently_used_is_evicted(
    model: StandInChatterbox, tmp_path: Path
) -> None:
    voices = {name: tmp_path / f"{name}.wav" for name in ("ana", "ben", "cy")}
    engine = ChatterboxEngine(model, voices=voices, voice_cache_size=2)
    try:
        for voice in ("ana", "ana", "ben", "ana"):
            await collect(engine.synthesize("Hi.", voice=voice))
        assert model.prepared == ["ana.wav", "ben.wav"]
        assert [c["conds"] for c in model.calls] == [
            "conds:ana",
            "conds:ana",
            "conds:ben",
            "conds:ana",
        ]
        # ana was used after ben, so cy pushes ben out, not ana.
        await collect(engine.synthesize("Hi.", voice="cy"))
        assert engine.voice_cache.keys() == ["ana", "cy"]
        await collect(engine.synthesize("Hi.", voice="ana"))
        assert model.prepared == ["ana.wav", "ben.wav", "cy.wav"]
        await collect(engine.synthesize("Hi.", voice="ben"))
        assert model.prepared == ["ana.wav", "ben.wav", "cy.wav", "ben.wav"]
        assert engine.voice_cache.evictions == 2

        # No voice, or a profile without a clip: the built-in voice, and the call goes on.
        await collect(engine.synthesize("Hi."))
        await collect(engine.synthesize("Hi.", voice="nobody"))
        assert [c["conds"] for c in model.calls[-2:]] == ["builtin", "builtin"]

        # A profile whose clip changed is prepared again.
        engine.register_voice("ana", tmp_path / "ana-v2.wav")
        await collect(engine.synthesize("Hi.", voice="ana"))
        assert model.prepared[-1] == "ana-v2.wav"
    finally:
        await engine.aclose()


async def test_no_builtin_voice_and_no_profile_fails_clearly() -> None:
    model = StandInChatterbox()
    model.conds = None  # a checkpoint without conds.pt
    engine = ChatterboxEngine(model)
    try:
        with pytest.raises(ChatterboxError, match="no built-in voice"):
            await collect(engine.synthesize("Hello."))
    finally:
        await engine.aclose()


def test_cache_is_single_flight_under_concurrency() -> None:
    cache = VoiceConditionalsCache(capacity=4)
    computed: list[str] = []
    barrier = threading.Barrier(8)
    results: list[Any] = []

    def compute() -> str:
        computed.append("ana")
        time.sleep(0.1)  # long enough for every thread to arrive while it runs
        return "conds:ana"

    def request() -> None:
        barrier.wait()
        results.append(cache.get("ana", compute, timeout=GATE_TIMEOUT_S))

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert computed == ["ana"]
    assert results == ["conds:ana"] * 8
    assert cache.misses == 1


def test_cache_shares_a_failure_but_does_not_keep_it() -> None:
    cache = VoiceConditionalsCache(capacity=2)

    def broken() -> str:
        raise OSError("reference clip unreadable")

    with pytest.raises(OSError):
        cache.get("ana", broken)
    assert len(cache) == 0
    assert cache.get("ana", lambda: "conds:ana") == "conds:ana"
    with pytest.raises(ValueError):
        VoiceConditionalsCache(capacity=0)


# -- the GPU queue -----------------------------------------------------------------------------


async def test_a_new_calls_first_chunk_goes_before_another_calls_later_chunks() -> None:
    model = StandInChatterbox(gated=True)
    engine = ChatterboxEngine(model)
    try:
        call_a = asyncio.create_task(collect(engine.synthesize("A one. A two. A three.")))
        await wait_until(model.entered.is_set)  # A's first sentence holds the GPU
        call_b = asyncio.create_task(collect(engine.synthesize("B one. B two.")))
        # Queued now: A two, A three, B one, B two.
        await wait_until(lambda: engine.scheduler.pending() == 4)
        model.permits.release(5)
        chunks_a, chunks_b = await asyncio.gather(call_a, call_b)
    finally:
        await engine.aclose()

    assert model.texts() == ["A one.", "B one.", "A two.", "A three.", "B two."]
    assert [c.text for c in chunks_a] == ["A one.", "A two.", "A three."]
    assert [c.text for c in chunks_b] == ["B one.", "B two."]


async def test_cancelling_a_synthesis_drops_its_queued_sentences_promptly() -> None:
    model = StandInChatterbox(gated=True)
    engine = ChatterboxEngine(model)
    try:
        text = "One is here. Two is here. Three is here. Four is here."
        barged_in = asyncio.create_task(collect(engine.synthesize(text)))
        await wait_until(model.entered.is_set)
        assert engine.scheduler.pending() == 3

        started = time.monotonic()
        barged_in.cancel()
        with pytest.raises(asyncio.CancelledError):
            await barged_in
        # The GPU is still busy with sentence one, yet cancelling waited for nothing.
        assert time.monotonic() - started < 0.5
        assert engine.scheduler.pending() == 0

        # The next call is served right after the sentence already on the GPU.
        model.permits.release(2)
        chunks = await collect(engine.synthesize("Next caller."))
        assert [c.text for c in chunks] == ["Next caller."]
        assert model.texts() == ["One is here.", "Next caller."]
    finally:
        await engine.aclose()


async def test_closing_the_iteration_after_the_first_chunk_stops_the_rest() -> None:
    model = StandInChatterbox()
    engine = ChatterboxEngine(model)
    try:
        model.gated = True
        chunks = engine.synthesize("One is here. Two is here. Three is here. Four is here.")
        model.permits.release(1)
        first = await anext(chunks)
        assert first.text == "One is here."
        await chunks.aclose()  # barge-in
        assert engine.scheduler.pending() == 0
        model.permits.release(3)
        await asyncio.sleep(0.1)
        # Sentence two may already have been on the GPU; three and four never are.
        assert model.texts()[:1] == ["One is here."]
        assert "Three is here." not in model.texts()
        assert "Four is here." not in model.texts()
    finally:
        await engine.aclose()


async def test_a_sentence_over_its_time_limit_fails_only_that_synthesis() -> None:
    model = StandInChatterbox(gated=True)
    engine = ChatterboxEngine(model, job_timeout_s=0.2)
    try:
        started = time.monotonic()
        with pytest.raises(ChatterboxTimeoutError):
            await collect(engine.synthesize("Stuck here. Never said."))
        assert time.monotonic() - started < 1.5
        assert engine.scheduler.pending() == 0
        model.permits.release(2)
        chunks = await collect(engine.synthesize("Still alive."))
        assert [c.text for c in chunks] == ["Still alive."]
        assert "Never said." not in model.texts()
    finally:
        await engine.aclose()


async def test_a_failing_sentence_fails_its_synthesis_not_the_worker(
    engine: ChatterboxEngine, model: StandInChatterbox
) -> None:
    model.fail_on = "Broken one."
    with pytest.raises(ChatterboxError, match="device-side assert"):
        await collect(engine.synthesize("Broken one. Never said."))
    chunks = await collect(engine.synthesize("Still alive."))
    assert [c.text for c in chunks] == ["Still alive."]
    assert "Never said." not in model.texts()


async def test_warm_up_runs_one_background_generation(
    engine: ChatterboxEngine, model: StandInChatterbox
) -> None:
    await engine.warm_up()
    assert len(model.calls) == 1
    assert model.calls[0]["conds"] == "builtin"


async def test_closing_the_engine_fails_queued_work_instead_of_hanging() -> None:
    model = StandInChatterbox(gated=True)
    engine = ChatterboxEngine(model)
    waiting = asyncio.create_task(collect(engine.synthesize("First one. Second one.")))
    await wait_until(model.entered.is_set)
    # The first sentence is stuck on the GPU: closing waits for it only as long as it is told.
    started = time.monotonic()
    await engine.aclose(wait_s=0.2)
    assert time.monotonic() - started < 1.0
    with pytest.raises(ChatterboxError, match="closed"):
        await waiting
    model.permits.release(1)


# -- the phone audio path ----------------------------------------------------------------------


async def test_chunks_become_twilio_frames(engine: ChatterboxEngine) -> None:
    audio = pytest.importorskip(
        "realtime.audio", reason="realtime.audio (optimize_for_twilio) is not available"
    )
    chunks = await collect(engine.synthesize(GREETING))

    frames = [f for c in chunks for f in audio.optimize_for_twilio(c.samples, c.sample_rate)]
    assert frames and all(len(f) == 160 for f in frames)
    seconds = sum(c.samples.size for c in chunks) / SR
    assert abs(len(frames) - seconds * 50) <= len(chunks)  # at most one padded frame a chunk

    encoder = audio.TwilioAudioEncoder()
    streamed = [f for c in chunks for f in encoder.push(c.samples, c.sample_rate)]
    streamed += encoder.flush()
    assert all(len(f) == 160 for f in streamed)
    assert abs(len(streamed) - seconds * 50) <= 1


# -- loading -----------------------------------------------------------------------------------


def touch(directory: Path, *names: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_bytes(b"")
    return directory


def test_an_empty_directory_lists_every_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ChatterboxWeightsError) as raised:
        load_chatterbox(tmp_path, "cpu")
    assert raised.value.missing == list(ORIGINAL_FILES)
    for name in ORIGINAL_FILES:
        assert name in str(raised.value)


def test_a_partial_checkpoint_names_what_is_missing(tmp_path: Path) -> None:
    touch(tmp_path, "ve.safetensors", "tokenizer.json", "conds.pt")
    with pytest.raises(ChatterboxWeightsError, match="t3_cfg.safetensors, s3gen.safetensors"):
        load_chatterbox(tmp_path, "cpu")
    with pytest.raises(ChatterboxWeightsError, match="s3gen_meanflow"):
        load_chatterbox(tmp_path, "cpu", "turbo")
    assert missing_weight_files(tmp_path / "nowhere", "original") == [
        f"{tmp_path / 'nowhere'} (not a directory)"
    ]


def test_turbo_is_detected_by_its_files(tmp_path: Path) -> None:
    original = touch(tmp_path / "original", *ORIGINAL_FILES)
    turbo = touch(tmp_path / "turbo", *TURBO_FILES, "vocab.json", "merges.txt")
    assert detect_variant(original) == "original"
    assert detect_variant(turbo) == "turbo"
    assert missing_weight_files(turbo, "turbo") == []
    (turbo / "merges.txt").unlink()
    assert missing_weight_files(turbo, "turbo") == ["tokenizer.json (or vocab.json + merges.txt)"]


def test_settings_name_the_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(ChatterboxError, match="CHATTERBOX_MODEL_PATH"):
        ChatterboxEngine.from_settings(Settings(CHATTERBOX_MODEL_PATH=None), device="cpu")
    with pytest.raises(ChatterboxWeightsError):
        ChatterboxEngine.from_settings(Settings(CHATTERBOX_MODEL_PATH=tmp_path), device="cpu")


@pytest.mark.skipif(
    importlib.util.find_spec("chatterbox") is not None, reason="chatterbox-tts is installed"
)
def test_a_complete_directory_without_the_package_says_how_to_install(tmp_path: Path) -> None:
    touch(tmp_path, *ORIGINAL_FILES)
    with pytest.raises(ImportError, match=r"'gpu' extra.*--no-deps chatterbox-tts"):
        load_chatterbox(tmp_path, "cpu")


# -- real weights ------------------------------------------------------------------------------


@pytest.mark.skipif(
    not (torch.cuda.is_available() and os.environ.get("CHATTERBOX_MODEL_PATH")),
    reason=(
        "needs a CUDA GPU and CHATTERBOX_MODEL_PATH pointing at Chatterbox weights "
        "(none can be downloaded here)"
    ),
)
async def test_real_chatterbox_streams_two_sentences(record_property: Any) -> None:
    path = Path(os.environ["CHATTERBOX_MODEL_PATH"])
    loaded = load_chatterbox(path, "cuda")
    assert loaded.model.sr == SR
    engine = ChatterboxEngine(loaded.model, variant=loaded.variant)
    try:
        await engine.warm_up()
        chunks = await collect(
            engine.synthesize("Thanks for calling. How can I help you?", emotion="friendly")
        )
    finally:
        await engine.aclose()
    assert [c.text for c in chunks] == ["Thanks for calling.", "How can I help you?"]
    for chunk in chunks:
        assert chunk.sample_rate == SR
        assert chunk.samples.dtype == np.float32
        assert 0.3 < chunk.samples.size / SR < 10.0  # a short sentence, spoken
    stats = engine.last_stats
    assert stats is not None and stats.first_chunk_seconds is not None
    record_property("first_chunk_seconds", stats.first_chunk_seconds)
    print(f"Chatterbox {loaded.variant}: first chunk in {stats.first_chunk_seconds:.3f} s")  # noqa: T201
