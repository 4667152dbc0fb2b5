"""The speaker stage says each answer in Piper's voice, stops at the wake word (barge-in), and
the listener does not take Pippin's own voice for a request. Real audio throughout: Piper makes
the WAV, Whisper hears it back, and the stage runs over real sockets (tests/harness.py); with
no sound card here, the `file:` sink writes the WAV and takes as long as the audio lasts."""

from __future__ import annotations

import asyncio
import io
import wave
from pathlib import Path

import numpy as np
import pytest

from services.speaker.__main__ import SpeakerService
from services.speaker.voice import spoken_text, wav_seconds
from shared import wire
from tests.harness import StageHarness

SHORT = "Reminder 'Call the bank' added to Reminders."
LONG = ("Created 'Quarterly planning' on Work, from ten to eleven tomorrow. Sent the agenda to Sarah Kim and "
        "Sid Jha. Added a reminder to book the room on Friday, and a note with the list of topics.")


def result_news(answer: str, rid: str = "r1") -> wire.Message:
    return wire.Result(rid, "q", "1. join()", [], answer, [], {"total": 0.1}).event(rid, sender="listener")


def stage(tmp_path: Path) -> StageHarness:
    return StageHarness(SpeakerService, tmp_path, settings={"speaker": {"engine": "piper",
                                                                        "sink": f"file:{tmp_path / 'said'}"}},
                        topics=(b"speaking",))


def pcm16k(wav: bytes) -> bytes:
    """Piper's 22.05 kHz WAV as the listener's 16 kHz mono int16 PCM."""
    with wave.open(io.BytesIO(wav), "rb") as w:
        rate, samples = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    t = np.arange(int(len(samples) * 16000 / rate)) * rate / 16000
    return np.interp(t, np.arange(len(samples)), samples.astype(np.float32)).astype(np.int16).tobytes()


@pytest.mark.slow
def test_an_answer_is_spoken_in_pippins_voice(tmp_path: Path) -> None:
    async def go() -> Path:
        async with stage(tmp_path) as speaker:
            await speaker.publish(b"result", result_news(SHORT))
            started = wire.Speaking.from_event(await speaker.news(b"speaking", timeout_s=30))
            assert started.active and started.text == SHORT
            ended = wire.Speaking.from_event(await speaker.news(b"speaking", timeout_s=30))
            assert not ended.active and not ended.interrupted
            assert speaker.service.stats["spoken"] == 1
        return next((tmp_path / "said").glob("*.wav"))

    wav = asyncio.run(go()).read_bytes()
    assert 1.5 < wav_seconds(wav) < 8
    with wave.open(io.BytesIO(wav), "rb") as w:
        level = np.abs(np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32)).mean()
    assert level > 300  # speech, not silence


@pytest.mark.slow
def test_the_wake_word_stops_pippin_mid_sentence(tmp_path: Path) -> None:
    async def go() -> None:
        async with stage(tmp_path) as speaker:
            await speaker.publish(b"result", result_news(LONG))
            assert wire.Speaking.from_event(await speaker.news(b"speaking", timeout_s=30)).active
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            await asyncio.sleep(0.5)
            await speaker.publish(b"wake", wire.Wake(12.3).event(sender="listener"))
            ended = wire.Speaking.from_event(await speaker.news(b"speaking", timeout_s=5))
            assert not ended.active and ended.interrupted
            wav = next((tmp_path / "said").glob("*.wav")).read_bytes()
            assert loop.time() - t0 < wav_seconds(wav) - 2  # stopped long before the end
            assert speaker.service.stats["interrupted"] == 1 and speaker.service.stats["spoken"] == 0

    asyncio.run(go())


@pytest.mark.slow
def test_pippins_own_voice_is_heard_as_itself_and_never_as_a_request(tmp_path: Path) -> None:
    from services.executor.simmac import SimulatedMac
    from services.listener.listener import ListenerSettings, Voice
    from services.speaker.voice import PiperSynth
    from shared import paths
    from tests.test_voice import run_listen

    wav = PiperSynth().wav(LONG)
    voice = Voice(ListenerSettings())
    heard = voice.transcriber.decode(pcm16k(wav)).text.lower()
    # Real speech: Whisper hears the answer's words (Piper's voice varies from run to run, and so do
    # the names as Whisper hears them: "Sarah Kim" came back as "Sarah Keman").
    assert "quarterly planning" in heard and "reminder" in heard and "friday" in heard

    class NoPlanner:  # never called: Pippin's voice asks nothing
        name = "none"

        def stream(self, request):
            raise AssertionError("Pippin's own answer was taken for a request")

    mac = SimulatedMac(":memory:", paths.default_world())
    report = run_listen(pcm16k(wav) + b"\0\0" * 16000, voice, NoPlanner(), mac)
    assert not [e for e in report.events if e.kind == "wake"] and report.turns == []
    assert mac.effects() == []


def test_a_long_answer_is_cut_at_a_sentence() -> None:
    long = "One thing done. " * 60
    said = spoken_text(long)
    assert len(said) <= 400 and said.endswith(".")
    assert spoken_text("  two\nlines ") == "two lines"
