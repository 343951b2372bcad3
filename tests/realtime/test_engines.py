"""The CPU engines on their real bundled models: Silero VAD, Whisper tiny.en, Piper "joe".

Speech for the VAD and STT tests is synthesized by Piper, so no audio files are needed. Each
model is loaded once for the module (the engines share process-wide models by design).
"""

from __future__ import annotations

import asyncio
import difflib
import re
from contextlib import aclosing

import numpy as np
import pytest
import soxr

from realtime.audio import decode_inbound, optimize_for_twilio
from realtime.engines.base import Audio, AudioChunk
from realtime.engines.piper_tts import PiperEngine, PiperModel, split_for_speech
from realtime.engines.silero_vad import SileroModel, SileroVAD, shared_silero_model
from realtime.engines.whisper_stt import WhisperRunner, WhisperSTT

BOOKING = "I would like to book a cleaning on Tuesday at three thirty."
LONG_REPLY = (
    "Thanks for calling the clinic. We are open Monday to Friday. Cleanings take about an hour. "
    "Please arrive ten minutes early. Bring your insurance card. Parking is free behind the "
    "building. We look forward to seeing you."
)


@pytest.fixture(scope="module")
def piper() -> PiperEngine:
    return PiperEngine()


@pytest.fixture(scope="module")
def whisper() -> WhisperSTT:
    return WhisperSTT()


@pytest.fixture(scope="module")
def silero() -> SileroModel:
    return shared_silero_model()


@pytest.fixture(scope="module")
def booking_speech(piper: PiperEngine) -> Audio:
    """The booking sentence spoken by Piper, at Piper's 22.05 kHz."""
    return piper.model.synthesize_blocking(BOOKING, piper.length_scale)


def resample(audio: Audio, from_rate: int, to_rate: int) -> Audio:
    return np.asarray(soxr.resample(audio, from_rate, to_rate), dtype=np.float32)


def probabilities(vad: SileroVAD, audio: Audio) -> np.ndarray:
    n = vad.frame_samples
    return np.array(
        [vad.speech_probability(audio[i : i + n]) for i in range(0, len(audio) - n + 1, n)]
    )


def words(text: str) -> list[str]:
    """Lower-case words and digit runs: "3.30" and "3:30" both become ["3", "30"]."""
    return re.findall(r"[a-z]+|\d+", text.lower())


def spoken_words(text: str) -> list[str]:
    """`words`, with each digit its own word, as a number is read out: Whisper writes the same
    speech as "555-123-4567" or "5 5 5 1 2 3 4 5 6 7", and that is not a word of difference."""
    return re.findall(r"[a-z]+|\d", text.lower())


def assert_booking_words(text: str) -> None:
    said = words(text)
    for word in ("book", "cleaning", "tuesday"):
        assert word in said, text
    joined = " ".join(said)
    assert "three thirty" in joined or "3 30" in joined or "330" in said, text


# --- Silero VAD ---------------------------------------------------------------------------


def test_silero_is_quiet_on_silence_and_noise(silero: SileroModel) -> None:
    vad = SileroVAD(16000, model=silero)
    silence = np.zeros(16000, dtype=np.float32)
    noise = (np.random.default_rng(7).standard_normal(16000) * 0.05).astype(np.float32)
    for audio in (silence, noise):
        vad.reset()
        p = probabilities(vad, audio)
        assert p.max() < 0.3
        assert p.mean() < 0.1


@pytest.mark.parametrize("rate", [16000, 8000])
def test_silero_hears_speech(silero: SileroModel, booking_speech: Audio, rate: int) -> None:
    vad = SileroVAD(rate, model=silero)
    p = probabilities(vad, resample(booking_speech, 22050, rate))
    assert p.max() > 0.9
    # The utterance is speech almost throughout; allow for its pauses and edges.
    assert (p > 0.5).mean() > 0.6


def test_silero_calls_keep_their_own_state(silero: SileroModel, booking_speech: Audio) -> None:
    """Two calls interleaving frames on one shared session each get what they'd get alone."""
    speech = resample(booking_speech, 22050, 16000)
    noise = (np.random.default_rng(3).standard_normal(len(speech)) * 0.05).astype(np.float32)
    alone_speech = probabilities(SileroVAD(model=silero), speech)
    alone_noise = probabilities(SileroVAD(model=silero), noise)

    a, b = SileroVAD(model=silero), SileroVAD(model=silero)
    n = a.frame_samples
    mixed_a, mixed_b = [], []
    for i in range(0, len(speech) - n + 1, n):
        mixed_a.append(a.speech_probability(speech[i : i + n]))
        mixed_b.append(b.speech_probability(noise[i : i + n]))
    np.testing.assert_allclose(mixed_a, alone_speech, atol=1e-6)
    np.testing.assert_allclose(mixed_b, alone_noise, atol=1e-6)

    # reset() makes an instance behave like a fresh one.
    a.reset()
    np.testing.assert_allclose(probabilities(a, speech), alone_speech, atol=1e-6)


def test_silero_rejects_wrong_frames(silero: SileroModel) -> None:
    with pytest.raises(ValueError, match="512"):
        SileroVAD(16000, model=silero).speech_probability(np.zeros(320, dtype=np.float32))
    with pytest.raises(ValueError, match="Hz"):
        SileroVAD(44100, model=silero)


# --- Whisper STT --------------------------------------------------------------------------


async def test_whisper_transcribes_a_booking(whisper: WhisperSTT, booking_speech: Audio) -> None:
    transcript = await whisper.transcribe(resample(booking_speech, 22050, 16000))
    assert_booking_words(transcript.text)
    assert transcript.confidence is not None and 0 < transcript.confidence <= 1


async def test_whisper_handles_concurrent_calls(whisper: WhisperSTT, piper: PiperEngine) -> None:
    other = piper.model.synthesize_blocking("Can I move it to Wednesday morning?", 1.0)
    first, second = await asyncio.gather(
        whisper.transcribe(resample(piper.model.synthesize_blocking(BOOKING, 1.0), 22050, 16000)),
        WhisperSTT().transcribe(resample(other, 22050, 16000)),
    )
    assert_booking_words(first.text)
    assert {"move", "wednesday", "morning"} <= set(words(second.text)), second.text


PHONE_LINES = (
    "I think Thursday the third would work.",
    "Sure, at ten in the morning.",
    "My name is Jane Smith.",
    "No, Wednesday.",
    "Yes.",
    "My phone number is five five five, one two three, four five six seven.",
)


async def test_whisper_short_context_hears_what_the_full_window_hears(
    whisper: WhisperSTT, piper: PiperEngine
) -> None:
    # The default encodes a 10 s window instead of 30 s; over the phone path it must lose no
    # words (and must not fall into repeating itself on a one-word answer).
    # Tiny.en itself wavers on a word now and then ("at ten" / "attend"; Piper's audio differs
    # run to run), so the bar is the word difference from the full window over all lines:
    # measured ≈ 5 % over 36 utterances (digits counted one by one), allowed 20 % here.
    full = WhisperSTT(audio_context_s=30.0)
    assert whisper.runner.audio_context_s < 30.0 and full.runner is not whisper.runner
    errors = total = 0
    for line in PHONE_LINES:
        speech = piper.model.synthesize_blocking(line, 1.0)
        phone = decode_inbound(b"".join(optimize_for_twilio(speech, 22050)), 16000)
        short, reference = await whisper.transcribe(phone), await full.transcribe(phone)
        heard, expected = spoken_words(short.text), spoken_words(reference.text)
        matcher = difflib.SequenceMatcher(a=expected, b=heard)
        errors += max(len(expected), len(heard)) - sum(
            b.size for b in matcher.get_matching_blocks()
        )
        total += len(expected)
        assert len(heard) <= len(expected) + 1, (short.text, reference.text)  # no repeat loops
        assert short.confidence is not None and 0 < short.confidence <= 1
    assert errors / total <= 0.2, (errors, total)


async def test_whisper_empty_audio_is_empty_text(whisper: WhisperSTT) -> None:
    assert (await whisper.transcribe(np.zeros(0, dtype=np.float32))).text == ""


# --- Piper TTS ----------------------------------------------------------------------------


def test_split_for_speech() -> None:
    assert split_for_speech("I can help you with that, what day works? We open at nine.") == [
        "I can help you with that,",
        "what day works?",
        "We open at nine.",
    ]
    # A long sentence (a read-back) is spoken clause by clause, none under three words.
    assert split_for_speech(
        "Got it. Let me confirm: name Jane Smith, phone number 555-123-4567, preferred date "
        "Tuesday, December 1st, and service type a teeth cleaning. Is that right?"
    ) == [
        "Got it.",
        "Let me confirm: name Jane Smith,",
        "phone number 555-123-4567,",
        "preferred date Tuesday,",
        "December 1st, and service type a teeth cleaning.",
        "Is that right?",
    ]
    # A short opener stays with its sentence; only the first sentence is split.
    assert split_for_speech("Sure, Tuesday works. Then, at nine, we start.") == [
        "Sure, Tuesday works.",
        "Then, at nine, we start.",
    ]
    # Abbreviations and thousands separators are not boundaries.
    assert split_for_speech("Dr. Smith charges 1,500 dollars at Main St. today.") == [
        "Dr. Smith charges 1,500 dollars at Main St. today."
    ]


async def test_piper_streams_first_clause_first(piper: PiperEngine, whisper: WhisperSTT) -> None:
    text = "I can help you with that, what day works best for you? We are open Monday to Friday."
    chunks = [chunk async for chunk in piper.synthesize(text)]
    assert [c.text for c in chunks] == [
        "I can help you with that,",
        "what day works best for you?",
        "We are open Monday to Friday.",
    ]
    for chunk in chunks:
        assert chunk.sample_rate == 22050
        assert chunk.samples.dtype == np.float32
        assert 0 < np.abs(chunk.samples).max() <= 1.0
    # The first chunk really speaks the first clause, and only that.
    heard = await whisper.transcribe(resample(chunks[0].samples, 22050, 16000))
    assert words(heard.text)[:6] == ["i", "can", "help", "you", "with", "that"], heard.text
    assert "day" not in words(heard.text)


async def test_piper_cancelling_stops_synthesis() -> None:
    engine = PiperEngine()  # its own counter; the model is the shared one
    async with aclosing(engine.synthesize(LONG_REPLY)) as stream:
        first = await anext(stream)
    assert first.text == "Thanks for calling the clinic."
    await asyncio.sleep(0.5)
    # The first piece and the one prefetched behind it, of seven.
    assert engine.pieces_started <= 2

    engine = PiperEngine()
    got_first = asyncio.Event()

    async def consume() -> list[AudioChunk]:
        chunks = []
        async for chunk in engine.synthesize(LONG_REPLY):
            chunks.append(chunk)
            got_first.set()
        return chunks

    task = asyncio.create_task(consume())
    await got_first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.5)
    # At most one piece beyond the one in flight when the cancel landed, of seven.
    assert engine.pieces_started <= 3


async def test_piper_speed_shortens_speech() -> None:
    normal = [c async for c in PiperEngine().synthesize("We are open Monday to Friday.")]
    fast = [c async for c in PiperEngine(speed=1.5).synthesize("We are open Monday to Friday.")]
    assert len(fast[0].samples) < 0.8 * len(normal[0].samples)


async def test_piper_warm_up(piper: PiperEngine) -> None:
    await piper.warm_up()


# --- One model per process ----------------------------------------------------------------


def test_engines_share_loaded_models(
    piper: PiperEngine, whisper: WhisperSTT, silero: SileroModel
) -> None:
    loads = (SileroModel.loads, WhisperRunner.loads, PiperModel.loads)
    assert SileroVAD().model is silero
    assert SileroVAD(8000).model is silero
    assert WhisperSTT().runner is whisper.runner
    assert PiperEngine(speed=1.2).model is piper.model
    # Paths given explicitly (as settings would) reach the same cached model.
    onnx = piper.model.model_path
    assert PiperEngine(onnx, onnx.with_name(onnx.name + ".json")).model is piper.model
    assert (SileroModel.loads, WhisperRunner.loads, PiperModel.loads) == loads


def test_a_looping_decode_is_cut_where_it_starts_repeating() -> None:
    from realtime.engines.whisper_stt import _before_repeat

    assert _before_repeat("Yes, that's right. Yes, that's right. Yes. Yes. Yes") == (
        "Yes, that's right."
    )
    assert _before_repeat("No. Wednesday. Wednesday.") == "No. Wednesday."
    assert _before_repeat("Five five five. One two three.") == "Five five five. One two three."


SEATING_QUESTION = "Would you like to sit indoors, on the patio, or at the bar?"


@pytest.mark.parametrize("window_s", [10.0, 30.0])
async def test_whisper_context_biases_towards_the_question_without_echoing_it(
    piper: PiperEngine, window_s: float
) -> None:
    # The question just asked goes to Whisper as the text before the utterance: the answer's
    # words come back, and the question itself never leaks into the transcript.
    stt = WhisperSTT(audio_context_s=window_s)
    for line, option in (("The patio, please.", "patio"), ("At the bar.", "bar")):
        speech = piper.model.synthesize_blocking(line, 1.0)
        phone = decode_inbound(b"".join(optimize_for_twilio(speech, 22050)), 16000)
        heard = (await stt.transcribe(phone, context=SEATING_QUESTION)).text
        assert option in words(heard), heard
        assert "indoors" not in words(heard) and "would" not in words(heard), heard


def test_a_decode_cut_short_while_repeating_keeps_the_first_sentence() -> None:
    from realtime.engines.whisper_stt import _before_repeat

    assert _before_repeat("Yes, that's right. Yes, that") == "Yes, that's right."
    assert _before_repeat("Yes. Yes. Yes") == "Yes."
    assert _before_repeat("I said yes. Yes.") == "I said yes. Yes."


async def test_whisper_hears_a_one_word_answer_under_a_long_context(
    whisper: WhisperSTT, piper: PiperEngine
) -> None:
    # The context counts in the decoder's length bound: a short answer under a long read-back
    # once raised "maximum decoding length must be > 0", and the caller's turn was lost.
    read_back = (
        "Let me read that back: Friday, December 4th at 3 PM, party size 4, seating patio, "
        "name Maria Lopez, and phone number 2 1 2, 5 5 5, 0 1 8 7. Is that all correct?"
    )
    speech = piper.model.synthesize_blocking("Yes.", 1.0)
    phone = decode_inbound(b"".join(optimize_for_twilio(speech, 22050)), 16000)
    heard = await whisper.transcribe(phone, context=read_back)
    assert words(heard.text) == ["yes"], heard.text
